//! Differential diagnosis: for "unable to find apikey with id", purged versus mistyped versus
//! another cluster versus a restored `.security`, with the evidence for and against each; and the
//! dead ends rules name.

use serde_json::Value;

use crate::support::{keydoctor, NOW};

const ID: &str = "VuaCfGcBCdbkQm-e5aOx";

fn explain(input: &str, extra: &[&str]) -> Value {
    let mut args = vec!["explain", "--format", "json", "--now", NOW];
    args.extend_from_slice(extra);
    let out = keydoctor(&args, input);
    assert_eq!(out.code, 1, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// `scan PATH --format json` plus `extra`, expected to exit 1.
fn scan(path: &std::path::Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "scan",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    let out = keydoctor(&args, "");
    assert_eq!(out.code, 1, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// The `missing` finding's causes as (cause, verdict).
fn causes(report: &Value) -> Vec<(String, String)> {
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["class"] == "missing")
        .expect("a missing finding");
    f["differential"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["cause"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn missing_finding(report: &Value) -> &Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["class"] == "missing")
        .unwrap()
}

fn server_line(ts: &str, what: &str) -> String {
    format!("[{ts},000][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-1] Authentication using apikey failed - {what}\n")
}

#[test]
fn a_key_invalidated_before_the_retention_period_is_purged() {
    let input = server_line(
        "2026-11-01T08:00:00",
        &format!("api key [{ID}] has been invalidated"),
    ) + &server_line(
        "2026-11-15T08:00:00",
        &format!("unable to find apikey with id {ID}"),
    );
    let r = explain(&input, &[]);
    let c = causes(&r);
    assert_eq!(
        c[0],
        (
            "purged after the retention period".to_string(),
            "likely".to_string()
        )
    );
    assert!(c[1..].iter().all(|(_, v)| v == "unlikely"), "{c:?}");
    let f = missing_finding(&r);
    let purged = &f["differential"]["causes"][0];
    let reasons = purged["for"].to_string();
    assert!(
        reasons.contains("14 d 0 h later: past the retention period of 7d (the default)"),
        "{reasons}"
    );
    assert!(f["differential"]["check"]
        .as_str()
        .unwrap()
        .starts_with("Nothing brings a deleted key back"));
    assert!(!f["dead_ends"].as_array().unwrap().is_empty());

    // The same story under a 30-day retention: the key was still stored, a purge cannot be it.
    let r = explain(&input, &["--retention-period", "30d"]);
    let c = causes(&r);
    let purged = c.iter().find(|(n, _)| n.starts_with("purged")).unwrap();
    assert_eq!(purged.1, "unlikely");
    let against = missing_finding(&r)["differential"]["causes"].to_string();
    assert!(
        against.contains("inside the retention period of 30d (--retention-period)"),
        "{against}"
    );
    let out = keydoctor(&["explain", "--retention-period", "soon"], &input);
    assert_eq!(out.code, 2);
}

#[test]
fn a_short_id_is_a_typo_and_an_unknown_one_points_at_another_cluster() {
    let r = explain(
        &server_line(
            "2026-11-15T08:00:00",
            "unable to find apikey with id HBjhbh",
        ),
        &[],
    );
    let c = causes(&r);
    assert_eq!(
        c[0],
        (
            "a mistyped or truncated id".to_string(),
            "likely".to_string()
        )
    );
    let f = missing_finding(&r);
    assert!(
        f["differential"]["check"]
            .as_str()
            .unwrap()
            .starts_with("Compare `HBjhbh`"),
        "{}",
        f["differential"]
    );

    let r = explain(
        &server_line(
            "2026-11-15T08:00:00",
            &format!("unable to find apikey with id {ID}"),
        ),
        &[],
    );
    let c = causes(&r);
    let verdict = |name: &str| {
        c.iter()
            .find(|(n, _)| n.starts_with(name))
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(verdict("the client talks to another cluster"), "possible");
    assert_eq!(verdict("a mistyped"), "unlikely");
    assert_eq!(verdict("`.security` restored"), "unlikely");
    let check = missing_finding(&r)["differential"]["check"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(check.contains("`cluster_uuid`"), "{check}");
}

#[test]
fn an_active_key_that_vanished_points_at_a_restore() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prod_audit.json"),
        format!(r#"{{"type":"audit", "timestamp":"2026-11-10T08:05:00,000+0000", "cluster.uuid":"Zx8H2xAcR3yKXk5DkT0lUA", "node.id":"0RMNyghkQYCc_gVd1G6tZQ", "event.type":"security_config_change", "event.action":"create_apikey", "user.name":"ingest_owner", "user.realm":"native1", "origin.type":"rest", "origin.address":"10.0.3.15:50002", "request.id":"c2", "create":{{"apikey":{{"id":"{ID}","name":"filebeat-prod","type":"rest","expiration":null,"role_descriptors":[]}}}}}}
"#),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("elasticsearch.log"),
        server_line(
            "2026-11-20T09:00:00",
            &format!("unable to find apikey with id {ID}"),
        ),
    )
    .unwrap();
    let r = scan(dir.path(), &[]);
    let c = causes(&r);
    assert_eq!(
        c[0],
        (
            "`.security` restored from a snapshot older than the key".to_string(),
            "likely".to_string()
        ),
        "{c:?}"
    );
    let f = missing_finding(&r);
    assert!(
        f["differential"]
            .to_string()
            .contains("created at 2026-11-10T08:05:00Z"),
        "{}",
        f["differential"]
    );
    // The human and Markdown reports show the same considerations.
    let out = keydoctor(
        &["scan", "--full", dir.path().to_str().unwrap(), "--now", NOW],
        "",
    );
    assert!(out.stdout.contains("Causes considered"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("likely   `.security` restored from a snapshot older than the key"),
        "{}",
        out.stdout
    );
    let out = keydoctor(
        &[
            "scan",
            dir.path().to_str().unwrap(),
            "--now",
            NOW,
            "--format",
            "markdown",
        ],
        "",
    );
    assert!(
        out.stdout
            .contains("### Causes considered\n\n| cause | verdict | for | against |"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("### Dead ends"), "{}", out.stdout);
}

#[test]
fn dead_ends_are_shown_with_the_finding() {
    let r = explain("api key is expired\n", &[]);
    let dead: Vec<&str> = r["findings"][0]["dead_ends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(
        dead.iter()
            .any(|d| d.contains("xpack.security.authc.token.timeout")),
        "{dead:?}"
    );
    let out = keydoctor(&["rules", "show", "api-key-expired"], "");
    assert!(
        out.stdout
            .contains("dead ends\n  ✗ Raising `xpack.security.authc.token.timeout`"),
        "{}",
        out.stdout
    );
}

/// (cause, verdict) of the first finding of `class`.
fn causes_of(report: &Value, class: &str) -> Vec<(String, String)> {
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["class"] == class)
        .unwrap_or_else(|| panic!("no {class} finding"));
    f["differential"]["causes"]
        .as_array()
        .unwrap_or_else(|| panic!("{class}: no differential"))
        .iter()
        .map(|c| {
            (
                c["cause"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn an_invalidated_key_a_product_manages_points_at_the_product() {
    let metadata = serde_json::json!({"api_keys": [{
        "id": ID, "name": "elastic-agent-output", "type": "rest",
        "creation": 1_790_000_000_000_i64, "invalidated": true, "invalidation": 1_795_100_000_000_i64,
        "username": "elastic/fleet-server", "realm": "_service_account",
        "metadata": {"managed_by": "fleet", "managed": true, "type": "output"},
        "role_descriptors": {}
    }]});
    let input = format!(
        "{{\"error\":{{\"root_cause\":[{{\"type\":\"security_exception\",\"reason\":\"unable to authenticate with provided credentials and anonymous access is not allowed for this request\",\"additional_unsuccessful_credentials\":\"API key: api key [{ID}] has been invalidated\"}}],\"type\":\"security_exception\",\"reason\":\"unable to authenticate with provided credentials and anonymous access is not allowed for this request\",\"additional_unsuccessful_credentials\":\"API key: api key [{ID}] has been invalidated\"}},\"status\":401}}\n{metadata}\n"
    );
    let r = explain(&input, &[]);
    let got = causes_of(&r, "invalidated");
    assert_eq!(
        got[0],
        (
            "retired by the product that manages the key".to_string(),
            "likely".to_string()
        ),
        "{got:?}"
    );
    let f = &r["findings"][0];
    assert!(f["differential"]["check"]
        .as_str()
        .unwrap()
        .contains("name=elastic-agent-output"));
}

#[test]
fn an_invalidated_alerting_rules_key_points_at_kibana() {
    // No `managed` in the metadata: the name alone says it is a Kibana alerting rule's key.
    let metadata = serde_json::json!({"api_keys": [{
        "id": ID, "name": "Alerting: .index-threshold/Disk above 85%", "type": "rest",
        "creation": 1_790_000_000_000_i64, "invalidated": true, "invalidation": 1_795_100_000_000_i64,
        "username": "alice", "realm": "native1", "metadata": {}, "role_descriptors": {}
    }]});
    let input = server_line(
        "2026-11-20T09:00:00",
        &format!("api key [{ID}] has been invalidated"),
    ) + &metadata.to_string()
        + "\n";
    let r = explain(&input, &[]);
    let got = causes_of(&r, "invalidated");
    assert_eq!(
        got[0],
        (
            "retired by the product that manages the key".to_string(),
            "likely".to_string()
        ),
        "{got:?}"
    );
    let d = &r["findings"][0]["differential"];
    let evidence = d["causes"][0]["for"][0].as_str().unwrap();
    assert!(
        evidence.contains("Kibana alerting's key (the Kibana alerting rule `Disk above 85%`")
            && evidence.contains("whenever the rule is edited, disabled and enabled"),
        "{evidence}"
    );
    let check = d["check"].as_str().unwrap();
    assert!(
        check.starts_with("Kibana alerting re-keys or retires its own keys: Find the rule")
            && check.contains("search=%22Disk%20above%2085%25%22"),
        "{check}"
    );
}

#[test]
fn an_expired_cross_cluster_key_and_a_denied_remote_search_weigh_their_causes() {
    let out = keydoctor(
        &[
            "scan",
            crate::support::fixture("two-cluster/search-prod")
                .to_str()
                .unwrap(),
            "--remote-logs",
            crate::support::fixture("two-cluster/logs-eu")
                .to_str()
                .unwrap(),
            "--format",
            "json",
            "--now",
            NOW,
        ],
        "",
    );
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let expired = causes_of(&r, "expired");
    assert_eq!(expired[0].0, "its expiration passed");
    assert_eq!(expired[0].1, "likely");
    assert!(expired
        .iter()
        .any(|(c, v)| c == "the rejecting node's clock runs ahead" && v == "unlikely"));
    let denied = causes_of(&r, "cross_cluster_misconfig");
    assert_eq!(
        denied,
        vec![
            (
                "the cross-cluster key's access lacks the index (fulfilling side)".to_string(),
                "likely".to_string()
            ),
            (
                "the caller's remote_indices lack it (querying side)".to_string(),
                "unlikely".to_string()
            ),
        ]
    );
}

#[test]
fn a_failure_the_text_decides_alone_weighs_nothing() {
    let r = explain(
        "org.elasticsearch.ElasticsearchSecurityException: authentication expected API key type of [cross_cluster], but API key [agZXJocBmA2beJfq2yKu] has type [rest]",
        &[],
    );
    assert_eq!(r["findings"][0]["class"], "wrong_key_type");
    assert!(r["findings"][0].get("differential").is_none());
}

#[test]
fn a_purged_key_from_its_audit_trail_and_rotated_logs() {
    // fixtures/purged: created and invalidated per the audit log, failing as invalidated in the
    // rotated log, "not found" today, 14 days after the invalidation.
    let dir = crate::support::fixture("purged");
    let r = scan(&dir, &[]);
    let f = missing_finding(&r);
    assert_eq!(f["key_id"], "Pq3mT5IBcF9aHj2kPg07");
    let purged = &f["differential"]["causes"][0];
    assert_eq!(purged["cause"], "purged after the retention period");
    assert_eq!(purged["verdict"], "likely");
    let reasons = purged["for"].to_string();
    for want in [
        "failed as `invalidated` from 2026-11-06T08:00:00Z",
        "invalidated at 2026-11-05T16:40:09Z (",
        "prod-logs_audit.json:2)",
        "14 d 16 h later: past the retention period of 7d",
        "the audit log's create_apikey event (",
    ] {
        assert!(reasons.contains(want), "{want}: {reasons}");
    }
    assert!(!reasons.contains("pasted"), "{reasons}");
    // The invalidation names who did it, from the audit log.
    let inv = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["class"] == "invalidated")
        .unwrap();
    assert_eq!(inv["details"]["invalidated_by"]["user"], "ops-admin");
    // With a longer retention period, the key would not have been purged yet.
    let r = scan(&dir, &["--retention-period", "30d"]);
    let purged = missing_finding(&r)["differential"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cause"] == "purged after the retention period")
        .unwrap()
        .clone();
    assert_ne!(purged["verdict"], "likely", "{purged}");
}
