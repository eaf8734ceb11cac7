//! Never silent: a sign of an API-key failure is always heard, even when keydoctor cannot read
//! the whole message.

use crate::support::{classes, explain_json, keydoctor, NOW};

#[test]
fn a_message_cut_after_its_decisive_phrase_keeps_its_class() {
    let cut = "elasticsearch.AuthorizationException: AuthorizationException(403, 'security_exception', 'action [cluster:monitor/main] is unauthorized for API key id\n";
    let report = explain_json(cut);
    assert_eq!(classes(&report), ["under_privileged"]);
    let labels: Vec<&str> = report["findings"][0]["evidence"][0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert!(
        labels
            .iter()
            .any(|l| l.contains("the rest of the message is cut")),
        "{labels:?}"
    );
    // Cut one clause later: the captures it has are kept.
    let later = "action [indices:data/read/search] is unauthorized for API key id [Hx1cN2oBqZ-3kLmPr7sT] of user";
    let report = explain_json(later);
    assert_eq!(report["findings"][0]["key_id"], "Hx1cN2oBqZ-3kLmPr7sT");
    assert_eq!(classes(&report), ["under_privileged"]);
    // ... and the evidence says where the message stops, here and inside an open bracket, but
    // not on a whole message.
    let stops = |text: &str| {
        explain_json(text)["findings"][0]["evidence"][0]["spans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| {
                s["label"]
                    .as_str()
                    .unwrap()
                    .starts_with("the message stops here")
            })
    };
    assert!(stops(later));
    assert!(stops("action [indices:data/read/search] is unauthorized for API key id [Hx1cN2oBqZ-3kLmPr7sT] of user [bob] on indices [logs"));
    assert!(!stops("action [indices:data/read/search] is unauthorized for API key id [Hx1cN2oBqZ-3kLmPr7sT] of user [bob] on indices [logs], this action is granted by the index privileges [read,all]"));
}

#[test]
fn a_security_exception_no_rule_explains_is_a_finding_with_the_step_that_decides() {
    for text in [
        r#"{"error":{"type":"security_exception","reason":"a reason no rule has seen"},"status":403}"#,
        "elasticsearch.AuthenticationException: AuthenticationException(401, 'security_exception')",
    ] {
        let out = keydoctor(&["explain", "--format", "json", "--now", NOW], text);
        assert_eq!(out.code, 1, "{text}: {}", out.stdout);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(classes(&report), ["authentication_unresolved"], "{text}");
        let f = &report["findings"][0];
        assert!(f["candidates"].as_array().unwrap().len() >= 4);
        assert_eq!(f["remediation"][0]["run_as"], "client_key");
    }
}

#[test]
fn neighbours_stay_notes_and_only_then_nothing_is_found() {
    let basic = r#"{"error":{"type":"security_exception","reason":"unable to authenticate user [elastic] for REST request [/_security/_authenticate]"},"status":401}"#;
    let out = keydoctor(&["explain", "--now", NOW, "--color", "never"], basic);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("No API-key failure found"),
        "{}",
        out.stdout
    );
}

#[test]
fn scan_hears_a_cut_line_in_a_log_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("logstash-plain.log"),
        "[2026-11-20T10:00:12,001][WARN ][logstash.outputs.elasticsearch][main] Could not index event: action [indices:data/write/bulk[s]] is unauthorized for API key id\n",
    )
    .unwrap();
    let out = keydoctor(
        &[
            "scan",
            dir.path().to_str().unwrap(),
            "--format",
            "json",
            "--now",
            NOW,
        ],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(classes(&report), ["under_privileged"]);
}

#[test]
fn a_bare_status_beside_the_clients_key_is_that_keys_finding_in_every_format() {
    let paste = "output { elasticsearch { hosts => [\"https://es:9200\"] api_key => \"VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw\" } }\n[2026-11-20T10:00:12,001][ERROR][logstash.outputs.elasticsearch] Got response code '401' contacting Elasticsearch at URL 'https://es:9200/'\n";
    for format in ["human", "json", "markdown"] {
        let out = keydoctor(
            &[
                "explain", "--format", format, "--color", "never", "--now", NOW,
            ],
            paste,
        );
        assert_eq!(out.code, 1, "{format}: {}", out.stdout);
        assert!(
            out.stdout.contains("VuaCfGcBCdbkQm-e5aOx"),
            "{format}: {}",
            out.stdout
        );
        assert!(
            !out.stdout.contains("ui2lp2axTNmsyakw9tvNnw")
                && !out.stderr.contains("ui2lp2axTNmsyakw9tvNnw"),
            "{format} printed the secret"
        );
    }
    let report = explain_json(paste);
    assert_eq!(classes(&report), ["authentication_unresolved"]);
    assert_eq!(report["findings"][0]["key_id"], "VuaCfGcBCdbkQm-e5aOx");
}

#[test]
fn a_python_client_tuple_names_its_key_in_the_finding_and_its_requests() {
    let paste = "es = Elasticsearch(\"https://es:9200\", api_key=(\"VuaCfGcBCdbkQm-e5aOx\", \"ui2lp2axTNmsyakw9tvNnw\"))\nelasticsearch.AuthenticationException: AuthenticationException(401, 'security_exception', 'unable to authenticate with provided credentials and anonymous access is not allowed for this request')\n";
    let out = keydoctor(&["explain", "--format", "json", "--now", NOW], paste);
    assert!(!out.stdout.contains("ui2lp2axTNmsyakw9tvNnw"));
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let f = &report["findings"][0];
    assert_eq!(f["key_id"], "VuaCfGcBCdbkQm-e5aOx");
    assert!(f["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["request"].as_str())
        .any(|r| r.contains("VuaCfGcBCdbkQm-e5aOx")));
}

/// A credential speaks for its own request: in a log of many clients, one line's Bearer token
/// (a service-account token, no API key) does not silence the other clients' 401s, in `explain`
/// nor in `scan`; in a `curl -v` paste the token above the body still explains that body.
#[test]
fn one_clients_bearer_token_does_not_silence_another_clients_401s() {
    let body = r#"{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request"}]},"status":401}"#;
    // base64url of `elastic/fleet-server/token1:<secret>`: a service-account token.
    let token = "ZWxhc3RpYy9mbGVldC1zZXJ2ZXIvdG9rZW4xOnMzY3IzdFZBTFVFYWJjZGVmR0hJSms";
    let log = format!(
        "2026-11-21T10:00:01.000Z ERROR [publisher] 401 Unauthorized: {body}\n\
         2026-11-21T10:00:02.000Z WARN [fleet] request Authorization: Bearer {token} failed: {body}\n\
         2026-11-21T10:00:03.000Z ERROR [publisher] 401 Unauthorized: {body}\n\
         2026-11-21T10:00:04.000Z ERROR [publisher] 401 Unauthorized: {body}\n"
    );
    let count = |report: &serde_json::Value| -> u64 {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["count"].as_u64().unwrap_or(1))
            .sum()
    };
    let explained = explain_json(&log);
    assert_eq!(
        classes(&explained),
        ["authentication_unresolved"],
        "{explained}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.log"), &log).unwrap();
    let out = keydoctor(
        &[
            "scan",
            "--format",
            "json",
            "--now",
            NOW,
            dir.path().to_str().unwrap(),
        ],
        "",
    );
    let scanned: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(count(&scanned), 3, "{}", out.stdout);
    // The token's own line, and a `curl -v` paste of that request: no API-key failure.
    let own = explain_json(&format!(
        "request Authorization: Bearer {token} failed: {body}\n"
    ));
    assert!(classes(&own).is_empty(), "{own}");
    let curl = explain_json(&format!(
        "> POST /_bulk HTTP/1.1\n> Authorization: Bearer {token}\n>\n< HTTP/1.1 401 Unauthorized\n< content-type: application/json\n<\n{body}\n"
    ));
    assert!(classes(&curl).is_empty(), "{curl}");
}
