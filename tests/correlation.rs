//! Joins across records of one input: audit events, key metadata, client errors and server logs.

use crate::support::{explain_json, fixture};

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("explain/{name}"))).unwrap()
}

#[test]
fn an_invalidated_key_names_who_invalidated_it_from_the_audit_log() {
    let report = explain_json(&fixture_text("agent-invalidated.log"));
    let f = &report["findings"][0];
    assert_eq!(f["class"], "invalidated");
    assert_eq!(f["count"], 2, "two agent lines, one failure");
    let by = &f["details"]["invalidated_by"];
    assert_eq!(by["user"], "jdoe");
    assert_eq!(by["realm"], "corp_ldap");
    assert_eq!(by["origin"], "10.20.3.44:51522");
}

#[test]
fn a_client_401_is_folded_into_the_servers_reason() {
    let input = "elasticsearch.AuthenticationException: AuthenticationException(401, 'security_exception', 'unable to authenticate with provided credentials and anonymous access is not allowed for this request')\n\n[2026-11-22T10:00:01,000][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-1] Authentication using apikey failed - api key [4qVxOY8BovXTWRJMh7gg] has been invalidated\n";
    let report = explain_json(input);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["class"], "invalidated");
    assert_eq!(
        findings[0]["evidence"].as_array().unwrap().len(),
        2,
        "both texts are evidence"
    );
}

#[test]
fn a_client_authorization_exception_is_folded_into_the_denial_it_prints() {
    // elastic/elasticsearch-py#2059: the denied action on the first line, the client's exception
    // type two lines below it, the status on the line after.
    let input = "delete_by_query authentication error: Action [indices:data/write/bulk[s]] is unauthorized for API key id of user [ ]\n\nelasticsearch7.exceptions.AuthorizationException: \nAuthorizationException(\n  403, '\n  {\"took\":2,\n";
    let report = explain_json(input);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["class"], "under_privileged");
    assert!(
        findings[0]["evidence"].as_array().unwrap().len() >= 2,
        "the client's lines are evidence too: {report}"
    );
}

#[test]
fn a_denial_far_from_an_unrelated_security_exception_stays_apart() {
    let mut input = String::from("action [indices:data/write/bulk[s]] is unauthorized for API key id [VuaCfGcBCdbkQm-e5aOx] of user [svc], this action is granted by the index privileges [create_doc,create,index,write,all]\n");
    for i in 0..40 {
        input.push_str(&format!("INFO unrelated line {i}\n"));
    }
    input.push_str("elasticsearch.exceptions.AuthorizationException: something else entirely\n");
    let report = explain_json(&input);
    let mut classes = crate::support::classes(&report);
    classes.sort();
    assert_eq!(
        classes,
        ["authentication_unresolved", "under_privileged"],
        "{report}"
    );
}

#[test]
fn metadata_decides_a_hidden_401() {
    let report = explain_json(&fixture_text("python-401-with-metadata.txt"));
    let f = &report["findings"][0];
    assert_eq!(f["class"], "expired");
    assert_eq!(f["key_id"], "ovGbFYoBcWZW9sdEPoVE");
    assert_eq!(f["key_id_source"], "credential in the input");
    assert!(f.get("candidates").is_none());
    assert!(f["explanation"]
        .as_str()
        .unwrap()
        .contains("pasted key metadata does"));
}

#[test]
fn active_metadata_rules_out_expired_and_invalidated() {
    let input =
        fixture_text("python-401-with-metadata.txt").replace("1763000000000", "1893456000000");
    let report = explain_json(&input);
    let f = &report["findings"][0];
    assert_eq!(f["class"], "authentication_unresolved");
    let candidates: Vec<&str> = f["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["class"].as_str().unwrap())
        .collect();
    assert_eq!(candidates, ["missing", "malformed_credentials"]);
}

#[test]
fn an_anonymous_expiry_is_attributed_to_the_only_expired_key_and_says_so() {
    let input = r#"[2021-06-14T11:02:33,118][WARN ][o.e.x.s.a.AuthenticationService] [es-data-2] Authentication using apikey failed - api key is expired

{"api_keys":[{"id":"ovGbFYoBcWZW9sdEPoVE","name":"nightly","creation":1600000000000,"expiration":1623000000000,"invalidated":false,"username":"svc","realm":"native1"},{"id":"aaaaFYoBcWZW9sdEPoVE","name":"other","creation":1600000000000,"invalidated":false,"username":"svc","realm":"native1"}]}"#;
    let f = &explain_json(input)["findings"][0];
    assert_eq!(f["class"], "expired");
    assert_eq!(f["key_id"], "ovGbFYoBcWZW9sdEPoVE");
    assert!(f["key_id_source"]
        .as_str()
        .unwrap()
        .starts_with("pasted metadata"));
    // Two expired keys: no guess.
    let two = input.replace(
        r#""name":"other","creation":1600000000000,"#,
        r#""name":"other","creation":1600000000000,"expiration":1623000000000,"#,
    );
    assert!(explain_json(&two)["findings"][0]["key_id"].is_null());
}

#[test]
fn a_missing_key_that_the_metadata_lists_points_at_another_cluster() {
    let input = r#"Authentication using apikey failed - unable to find apikey with id ovGbFYoBcWZW9sdEPoVE

{"api_keys":[{"id":"ovGbFYoBcWZW9sdEPoVE","name":"nightly","creation":1600000000000,"invalidated":false,"username":"svc","realm":"native1"}]}"#;
    let f = &explain_json(input)["findings"][0];
    assert_eq!(f["class"], "missing");
    assert!(f["details"]["limit_source"]
        .as_str()
        .unwrap()
        .contains("different cluster"));
}

#[test]
fn the_denied_index_is_shown_against_the_keys_patterns() {
    let f = &explain_json(&fixture_text("bulk-403-with-metadata.txt"))["findings"][0];
    assert_eq!(f["details"]["least_privilege"], "create_doc");
    assert_eq!(
        f["details"]["index_match"],
        "logs-payments-default matches none of the key's index patterns (logs-app-*)"
    );
    assert!(f["details"]["limit_source"]
        .as_str()
        .unwrap()
        .starts_with("role_descriptors"));
}

#[test]
fn the_fix_for_a_denial_is_a_diff_against_the_real_descriptors_or_the_owners_role() {
    // The key has no descriptors of its own: its owner's role (as limited_by captured it) is
    // the limit, and a regex pattern there does not cover the index.
    let input = r#"{"error":{"root_cause":[{"type":"security_exception","reason":"action [indices:data/read/search] is unauthorized for API key id [Ab3dEfGhIjKlMnOpQrSt] of user [analyst] on indices [billing-2026.11], this action is granted by the index privileges [read,all]"}],"type":"security_exception","reason":"action [indices:data/read/search] is unauthorized for API key id [Ab3dEfGhIjKlMnOpQrSt] of user [analyst] on indices [billing-2026.11], this action is granted by the index privileges [read,all]"},"status":403}

{"api_keys":[{"id":"Ab3dEfGhIjKlMnOpQrSt","name":"dashboards","type":"rest","creation":1790000000000,"invalidated":false,"username":"analyst","realm":"native1","metadata":{},"role_descriptors":{},"limited_by":[{"analyst_role":{"cluster":["monitor"],"indices":[{"names":["/(logs|metrics)-.*/"],"privileges":["read","view_index_metadata"],"allow_restricted_indices":false}],"applications":[],"run_as":[],"metadata":{},"transient_metadata":{"enabled":true}}}]}]}
"#;
    let report = explain_json(input);
    let f = &report["findings"][0];
    assert_eq!(f["class"], "under_privileged", "{f:#}");
    let step = &f["remediation"][0];
    assert_eq!(
        step["title"],
        "The smallest change: add `read` on `billing-2026.11` to the owner's role `analyst_role`"
    );
    let request = step["request"].as_str().unwrap();
    assert!(
        request.starts_with("PUT /_security/role/analyst_role\n"),
        "{request}"
    );
    let body: serde_json::Value =
        serde_json::from_str(request.split_once('\n').unwrap().1).unwrap();
    assert_eq!(
        body["indices"],
        serde_json::json!([
            {"names": ["/(logs|metrics)-.*/"], "privileges": ["read", "view_index_metadata"]},
            {"names": ["billing-2026.11"], "privileges": ["read"]}
        ])
    );
    let diff = step["diff"].as_str().unwrap();
    assert!(diff.contains("+++ role analyst_role (fixed)"), "{diff}");
    assert!(
        diff.contains("+        \"names\": [\"billing-2026.11\"],"),
        "{diff}"
    );
    assert!(!diff.contains("-    "), "only additions: {diff}");
    assert!(f["details"]["limit_source"]
        .as_str()
        .unwrap()
        .starts_with("limited_by"));

    // The same denial on an index the regex does cover is not the owner's limit.
    let covered = input.replace("billing-2026.11", "metrics-2026.11");
    let report = explain_json(&covered);
    let f = &report["findings"][0];
    let titles: Vec<&str> = f["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert!(
        !titles.iter().any(|t| t.starts_with("The smallest change")),
        "{titles:?}"
    );
}
