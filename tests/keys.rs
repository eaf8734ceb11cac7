//! `keydoctor key` and `keydoctor expiring` on saved key metadata, and `--metadata` for
//! `explain` and `scan`.

use base64::Engine as _;
use serde_json::Value;

use crate::support::{fixture, keydoctor, NOW};

const META: &str = "fixtures/scan/incident/api_keys.json";

fn json_of(args: &[&str]) -> (u8, Value) {
    let out = keydoctor(args, "");
    assert!(out.code < 2, "exit {}: {}", out.code, out.stderr);
    (
        out.code,
        serde_json::from_str(&out.stdout).expect("one JSON document"),
    )
}

/// `keydoctor ARGS --metadata META --now NOW --format json`.
fn with_meta(args: &[&str]) -> (u8, Value) {
    let mut argv = args.to_vec();
    argv.extend_from_slice(&["--metadata", META, "--now", NOW, "--format", "json"]);
    json_of(&argv)
}

/// `keydoctor key ID --metadata META --format json`.
fn key_report(id: &str) -> (u8, Value) {
    with_meta(&["key", id])
}

/// `keydoctor expiring [extra] --metadata FILE --format json`.
fn expiring_report(metadata: &str, extra: &[&str]) -> (u8, Value) {
    let mut args = vec![
        "expiring",
        "--metadata",
        metadata,
        "--now",
        NOW,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    json_of(&args)
}

#[test]
fn key_reports_state_dates_owner_and_privileges() {
    let (code, k) = key_report("VuaCfGcBCdbkQm-e5aOx");
    assert_eq!(code, 1, "not active");
    assert_eq!(k["state"], "invalidated");
    assert_eq!(k["name"], "filebeat-prod");
    assert_eq!(k["owner"], "ingest_owner");
    assert_eq!(k["realm"], "native1");
    assert_eq!(k["type"], "rest");
    assert_eq!(k["creation"], "2026-11-10T08:05:00Z");
    assert_eq!(k["invalidation"], "2026-11-20T09:14:03Z");
    assert_eq!(k["expiration"], Value::Null);
    assert_eq!(k["age"], "12d 15h");
    let rows = k["privileges"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["kind"], "cluster");
    assert_eq!(rows[1]["on"], serde_json::json!(["filebeat-*", "logs-*"]));
    assert_eq!(
        rows[1]["privileges"],
        serde_json::json!(["create_doc", "view_index_metadata"])
    );
    assert_eq!(k["sources"], serde_json::json!([META]));
}

#[test]
fn key_takes_an_encoded_credential_and_never_shows_the_secret() {
    let secret = "Hq2vN8sKbZ3xWmT5yRa1Lc";
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("zcwN3YEBBmnjw-K-hW5_:{secret}"));
    for format in ["human", "json", "markdown"] {
        let out = keydoctor(
            &[
                "key",
                &encoded,
                "--metadata",
                META,
                "--now",
                NOW,
                "--format",
                format,
            ],
            "",
        );
        assert_eq!(out.code, 1);
        assert!(
            !out.stdout.contains(secret) && !out.stdout.contains(&encoded),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("zcwN3YEBBmnjw-K-hW5_"));
        assert!(out.stdout.contains("expired"));
    }
    let out = keydoctor(&["key", "not a key at all!", "--metadata", META], "");
    assert_eq!(out.code, 2);
    assert!(
        !out.stderr.contains("not a key at all"),
        "the argument could be a secret"
    );
}

#[test]
fn key_active_missing_and_human_table() {
    let (code, k) = key_report("j7c0WYIBqecB5CbVR6Oq");
    assert_eq!(code, 0);
    assert_eq!(k["state"], "active");
    assert_eq!(k["time_left"], "77d 8h");
    let (code, k) = key_report("AAAAAAAAAAAAAAAAAAAA");
    assert_eq!(code, 1);
    assert_eq!(k["state"], "missing");
    let out = keydoctor(
        &[
            "key",
            "j7c0WYIBqecB5CbVR6Oq",
            "--metadata",
            META,
            "--now",
            NOW,
            "--width",
            "100",
        ],
        "",
    );
    for want in [
        "key j7c0WYIBqecB5CbVR6Oq  active",
        "expiration  2027-02-08T08:10:00Z (in 77d 8h)",
        "  source            role          kind   on         privileges",
        "  role_descriptors  metrics_read  index  metrics-*  read",
    ] {
        assert!(
            out.stdout.contains(want),
            "missing {want:?} in\n{}",
            out.stdout
        );
    }
}

#[test]
fn expiring_lists_the_window_apart_from_expired_and_never_expiring() {
    let (code, r) = expiring_report(META, &["--within", "100d"]);
    assert_eq!(code, 1);
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&r["keys"]), vec!["j7c0WYIBqecB5CbVR6Oq"]);
    assert_eq!(r["keys"][0]["expires_in"], "77d 8h");
    assert_eq!(ids(&r["expired"]), vec!["zcwN3YEBBmnjw-K-hW5_"]);
    assert_eq!(r["invalidated"], 1);
    assert!(r.get("no_expiration").is_none());
    let (code, r) = expiring_report(META, &["--within", "14d"]);
    // Not an expiring key, but one that fails now: for cron and alerting it counts (exit 1).
    assert_eq!(code, 1, "an already expired key is listed and alerts");
    assert_eq!(ids(&r["keys"]), Vec::<String>::new());
    assert_eq!(ids(&r["expired"]), vec!["zcwN3YEBBmnjw-K-hW5_"]);
    let out = keydoctor(
        &["expiring", "--within", "two weeks", "--metadata", META],
        "",
    );
    assert_eq!(out.code, 2);
}

#[test]
fn never_expiring_keys_count_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    std::fs::write(
        &path,
        r#"{"total":2,"count":2,"api_keys":[{"id":"NoExpiryKeyAAAAAAAAA","name":"forever","creation":1763000000000,"invalidated":false,"username":"u","realm":"r","_sort":[1]},{"id":"SoonKeyAAAAAAAAAAAAA","name":"soon","creation":1763000000000,"expiration":1795564800000,"invalidated":false,"username":"u","realm":"r","_sort":[2]}],"aggregations":{"types":{"buckets":[]}}}"#,
    )
    .unwrap();
    let p = path.to_str().unwrap();
    // The other key expires in 3 days: outside a 1-day window, not expired.
    let (code, r) = expiring_report(p, &["--within", "1d"]);
    assert_eq!(code, 0);
    assert_eq!(r["expired"].as_array().unwrap().len(), 0);
    let (code, r) = expiring_report(p, &["--within", "1d", "--include-no-expiry"]);
    assert_eq!(code, 1);
    assert_eq!(r["no_expiration"][0]["id"], "NoExpiryKeyAAAAAAAAA");
    let out = keydoctor(
        &[
            "expiring",
            "--include-no-expiry",
            "--metadata",
            p,
            "--now",
            NOW,
        ],
        "",
    );
    assert!(
        out.stdout
            .contains("Never expire (nothing makes them rotate):"),
        "{}",
        out.stdout
    );
}

#[test]
fn explain_and_scan_join_metadata_given_with_a_flag() {
    // The incident's Logstash lines alone name no key; with the metadata, the expired key is
    // found (scan) and a hidden 401 is decided (explain).
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("scan/incident/logstash/logstash-plain.log"),
        dir.path().join("logstash-plain.log"),
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let (_, r) = with_meta(&["scan", d]);
    let f = &r["findings"][0];
    assert_eq!(f["class"], "expired");
    assert_eq!(f["key_id"], "zcwN3YEBBmnjw-K-hW5_");
    let body = r#"{"error":{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request"},"status":401}"#;
    let log = dir.path().join("client.log");
    std::fs::write(
        &log,
        format!(
            "Authorization: ApiKey {}\n{body}\n",
            base64::engine::general_purpose::STANDARD
                .encode("VuaCfGcBCdbkQm-e5aOx:s3cr3tS3cr3tS3cr3tAB")
        ),
    )
    .unwrap();
    let (_, r) = with_meta(&["explain", log.to_str().unwrap()]);
    assert_eq!(r["findings"][0]["class"], "invalidated", "{r:#}");
}

#[test]
fn rotate_plans_create_deploy_verify_then_invalidate() {
    let (code, p) = with_meta(&[
        "rotate",
        "j7c0WYIBqecB5CbVR6Oq",
        "--curl",
        "--add-index-privilege",
        "logs-secret-*:read",
    ]);
    assert_eq!(code, 0);
    let titles: Vec<&str> = p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        vec![
            "Create the replacement key first",
            "Deploy the new key to every client that used the old one",
            "Verify the new key before touching the old one",
            "Only then invalidate what is no longer used",
        ],
        "the steps of rules/snippets.toml's rotate-key, as a finding's rotation plan has them"
    );
    assert_eq!(p["schema_version"], 3);
    assert_eq!(p["steps"][0]["who"], "owner");
    assert_eq!(p["steps"][2]["who"], "new_key");
    let create = p["steps"][0]["request"].as_str().unwrap();
    let body: Value = serde_json::from_str(create.split_once('\n').unwrap().1).unwrap();
    assert_eq!(
        body["expiration"], "90d",
        "the old key's 90-day lifetime is kept"
    );
    assert_eq!(
        body["role_descriptors"]["metrics_read"]["indices"][0]["names"][0],
        "metrics-*"
    );
    assert_eq!(
        body["role_descriptors"]["added-privileges"]["indices"][0]["names"][0],
        "logs-secret-*"
    );
    assert_eq!(body["metadata"]["rotated_from"], "j7c0WYIBqecB5CbVR6Oq");
    assert!(p["steps"][0]["curl"].as_str().unwrap().starts_with("curl"));
    let diff = p["descriptors_diff"].as_str().unwrap();
    assert!(diff.contains("+  \"added-privileges\": {"), "{diff}");
    assert!(
        !diff
            .lines()
            .any(|l| l.starts_with('-') && !l.starts_with("---")),
        "nothing removed: {diff}"
    );
    // An invalidated key: nothing left to invalidate; a key not in the metadata: an error.
    let (_, p) = with_meta(&["rotate", "VuaCfGcBCdbkQm-e5aOx"]);
    assert_eq!(p["steps"].as_array().unwrap().len(), 3, "{p:#}");
    assert!(p["warnings"][0]
        .as_str()
        .unwrap()
        .starts_with("nothing to invalidate: the old key is already invalidated"));
    let out = keydoctor(&["rotate", "AAAAAAAAAAAAAAAAAAAA", "--metadata", META], "");
    assert_eq!(out.code, 2);
    let out = keydoctor(
        &[
            "rotate",
            "j7c0WYIBqecB5CbVR6Oq",
            "--metadata",
            META,
            "--add-index-privilege",
            "nonsense",
        ],
        "",
    );
    assert_eq!(out.code, 2);
}

#[test]
fn expiring_joins_each_key_with_its_last_use_in_the_logs() {
    let incident = fixture("scan/incident");
    let (code, r) = in_root_expiring(&["--within", "3000d", "--logs", incident.to_str().unwrap()]);
    assert_eq!(code, 1);
    let metrics = &r["keys"][0];
    assert_eq!(metrics["id"], "j7c0WYIBqecB5CbVR6Oq");
    assert_eq!(metrics["last_used"], "2026-11-20T09:58:02Z");
    assert_eq!(metrics["uses"], 3);
    assert_eq!(metrics["clients"], serde_json::json!(["10.0.2.30"]));
    assert_eq!(metrics["used_as"], serde_json::json!(["metrics_owner"]));
    assert!(metrics["last_used_at"]
        .as_str()
        .unwrap()
        .ends_with("es-node-2/prod-logs_audit.json:103"));
    let logstash = &r["expired"][0];
    assert_eq!(logstash["id"], "zcwN3YEBBmnjw-K-hW5_");
    assert_eq!(
        logstash["last_used"], "2026-11-20T07:00:29Z",
        "its last success, an hour before it expired"
    );
    assert_eq!(logstash["uses"], 100);
    // Logs without an audit log cannot show use: said, and every key reads "not seen".
    let logstash_dir = incident.join("logstash");
    let (_, r) = in_root_expiring(&[
        "--within",
        "3000d",
        "--logs",
        logstash_dir.to_str().unwrap(),
    ]);
    assert_eq!(r["keys"][0]["last_used"], Value::Null);
    assert_eq!(r["keys"][0]["uses"], 0);
    assert!(
        r["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("no audit log among the scanned files"),
        "{}",
        r["notes"]
    );
    // The human table gets the two columns.
    let out = keydoctor(
        &[
            "expiring",
            "--metadata",
            &root_path(META),
            "--now",
            NOW,
            "--within",
            "3000d",
            "--logs",
            incident.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.stdout.contains("last used"), "{}", out.stdout);
    assert!(
        out.stdout.contains("2026-11-20T09:58:02Z (3×)  10.0.2.30"),
        "{}",
        out.stdout
    );
}

fn root_path(rel: &str) -> String {
    crate::support::root().join(rel).display().to_string()
}

fn in_root_expiring(extra: &[&str]) -> (u8, Value) {
    expiring_report(&root_path(META), extra)
}

#[test]
fn impact_names_who_breaks_and_says_when_it_cannot_know() {
    let incident = fixture("scan/incident");
    let logs = incident.to_str().unwrap();
    let meta = root_path(META);
    let impact = |id: &str, logs: &str| {
        json_of(&[
            "impact",
            id,
            "--logs",
            logs,
            "--metadata",
            &meta,
            "--now",
            NOW,
            "--format",
            "json",
        ])
    };
    // In use: who, how often, until when, within which audit window.
    let (code, r) = impact("j7c0WYIBqecB5CbVR6Oq", logs);
    assert_eq!(code, 1, "invalidating it would break a client");
    assert_eq!(r["state"], "active");
    assert_eq!(r["breaks"], true);
    assert_eq!(r["usage"]["clients"], serde_json::json!(["10.0.2.30"]));
    assert_eq!(r["usage"]["uses"], 3);
    assert_eq!(
        r["audit_span"],
        serde_json::json!(["2026-11-10T08:00:00Z", "2026-11-20T10:03:32Z"])
    );
    assert_eq!(r["failures"][0]["class"], "under_privileged");
    assert!(r["steps"][0]
        .as_str()
        .unwrap()
        .contains("keydoctor rotate j7c0WYIBqecB5CbVR6Oq"));
    assert!(r["steps"][1]
        .as_str()
        .unwrap()
        .contains("DELETE /_security/api_key"));
    // Already invalidated: nothing changes, but the failing clients need a new key.
    let (code, r) = impact("VuaCfGcBCdbkQm-e5aOx", logs);
    assert_eq!(code, 0);
    assert!(r["verdict"]
        .as_str()
        .unwrap()
        .starts_with("the key is already invalidated"));
    assert_eq!(r["failures"][0]["clients"], serde_json::json!(["10.0.0.7"]));
    // Without an audit log, use cannot be seen: "unknown", never "unused".
    let logstash = incident.join("logstash");
    let (code, r) = impact("j7c0WYIBqecB5CbVR6Oq", logstash.to_str().unwrap());
    assert_eq!(code, 0);
    assert!(
        r["verdict"]
            .as_str()
            .unwrap()
            .starts_with("unknown: no audit log was read"),
        "{}",
        r["verdict"]
    );
    assert_eq!(r["breaks"], false);
    // The logs are required.
    let out = keydoctor(&["impact", "j7c0WYIBqecB5CbVR6Oq"], "");
    assert_eq!(out.code, 2);
}
