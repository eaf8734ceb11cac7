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
