//! Two-cluster incidents (`scan QUERYING --remote-logs FULFILLING`): symptom pairs of reference
//! section 4.4 matched across the clusters, which side is silent, a refused handshake decided by
//! the fulfilling cluster, effective access of a denied cross-cluster search.

use std::path::Path;

use serde_json::Value;

use crate::support::{fixture, keydoctor, NOW};

const OLD: &str = "Xb4tQ5IBcF9aHj2kLm0N";
const NEW: &str = "r7PzQ5IBcF9aHj2kXq1s";

fn scan(querying: &Path, remote: &Path, extra: &[&str]) -> (u8, Value, String) {
    let mut args = vec![
        "scan",
        querying.to_str().unwrap(),
        "--remote-logs",
        remote.to_str().unwrap(),
        "--format",
        "json",
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    let out = keydoctor(&args, "");
    assert!(out.code < 2, "{}", out.stderr);
    (
        out.code,
        serde_json::from_str(&out.stdout).unwrap(),
        out.stderr,
    )
}

fn finding<'a>(r: &'a Value, key: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key_id"] == key)
        .unwrap_or_else(|| panic!("no finding for {key}: {r:#}"))
}

fn pair<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["two_sided"]["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pair"] == id)
        .unwrap_or_else(|| panic!("no pair {id}: {:#}", r["two_sided"]))
}

fn requests(f: &Value) -> Vec<String> {
    f["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["request"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_fulfilling_cluster_decides_a_refused_handshake() {
    let (code, r, _) = scan(
        &fixture("two-cluster/search-prod"),
        &fixture("two-cluster/logs-eu"),
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(r["two_sided"]["alias"], "eu");
    assert!(r["two_sided"]["alias_source"]
        .as_str()
        .unwrap()
        .contains(OLD));
    // One finding for the expired cross-cluster key, not a handshake finding beside an expiry.
    let old: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["key_id"] == OLD)
        .collect();
    assert_eq!(old.len(), 1, "{r:#}");
    let f = old[0];
    assert_eq!(f["class"], "expired");
    assert_eq!(f["details"]["remote"], "eu");
    assert!(f["details"].get("side").is_none(), "seen on both sides");
    // Evidence from both clusters, the querying side's first.
    let sources: Vec<&str> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    assert!(sources[0].contains("search-prod"), "{sources:?}");
    assert!(sources.iter().any(|s| s.contains("logs-eu")), "{sources:?}");
    // A cross-cluster key is replaced through the cross-cluster API, with its access, and stored
    // in the querying cluster's keystore: never a REST key.
    let reqs = requests(f);
    assert!(
        reqs.iter()
            .any(|q| q.starts_with("POST /_security/cross_cluster/api_key")
                && q.contains("logs-eu-*"))
    );
    assert!(reqs
        .iter()
        .any(|q| q == "POST /_nodes/reload_secure_settings"));
    assert!(
        !reqs
            .iter()
            .any(|q| q.starts_with("POST /_security/api_key\n")),
        "{reqs:#?}"
    );
    let p = pair(&r, "remote-rejects-key");
    assert_eq!(p["key_id"], OLD);
    assert!(p["silent"].is_null());
    assert!(p["fulfilling"]["rules"]
        .as_array()
        .unwrap()
        .contains(&Value::from("api-key-expired")));
    assert!(p["meaning"].as_str().unwrap().contains("has expired"));
}

#[test]
fn a_denied_cross_cluster_search_is_key_access_intersected_with_remote_indices() {
    let (_, r, _) = scan(
        &fixture("two-cluster/search-prod"),
        &fixture("two-cluster/logs-eu"),
        &[],
    );
    let f = finding(&r, NEW);
    assert_eq!(f["rule_id"], "remote-access-denied");
    assert_eq!(f["details"]["side"], "querying");
    assert!(f["summary"].as_str().unwrap().contains("remote cluster eu"));
    assert_eq!(f["details"]["principal"], "analyst");
    assert_eq!(f["details"]["roles"], serde_json::json!(["eu-analyst"]));
    let p = pair(&r, "remote-access-denied");
    assert_eq!(p["silent"], "fulfilling");
    assert_eq!(p["expected_silence"], true);
    let e = &p["effective_access"];
    assert_eq!(e["user"], "analyst");
    assert_eq!(e["roles"], serde_json::json!(["eu-analyst"]));
    assert_eq!(e["key_access"], serde_json::json!(["logs-eu-*"]));
    assert_eq!(
        e["user_remote_indices"],
        serde_json::json!(["logs-eu-*", "audit-eu-*"])
    );
    assert_eq!(e["effective"], serde_json::json!(["logs-eu-*"]));
    assert_eq!(
        e["indices"],
        serde_json::json!([{"index": "audit-eu-2026.11", "by_key": false, "by_user": true}])
    );
    // The fix is on the fulfilling side, keeps what the key grants, and nothing tells the user
    // to replace the key's access with the one index or to touch the role that already grants it.
    let reqs = requests(f);
    let first = &reqs[0];
    assert!(first.starts_with(&format!("PUT /_security/cross_cluster/api_key/{NEW}")));
    assert!(
        first.contains("logs-eu-*") && first.contains("audit-eu-*"),
        "{first}"
    );
    assert_eq!(
        reqs.iter()
            .filter(|q| q.starts_with("PUT /_security/cross_cluster/api_key/"))
            .count(),
        1,
        "{reqs:#?}"
    );
    assert!(
        !reqs.iter().any(|q| q.starts_with("PUT /_security/role/")),
        "{reqs:#?}"
    );
}

#[test]
fn silence_is_claimed_only_where_the_other_side_s_logs_cover_the_time() {
    let (_, r, _) = scan(
        &fixture("two-cluster/search-prod"),
        &fixture("two-cluster/logs-eu"),
        &[],
    );
    let p = pair(&r, "unreachable");
    assert_eq!(p["silent"], "fulfilling");
    assert_eq!(p["expected_silence"], false);
    assert_eq!(p["querying"]["count"], 28);
    assert!(p["meaning"].as_str().unwrap().contains("never reached"));
    assert!(p["meaning"].as_str().unwrap().contains("proxy mode"));

    // The fulfilling cluster's log cut off on 20 November cannot speak for the 22nd.
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::read_to_string(fixture("two-cluster/logs-eu/es-eu-1/logs-eu_server.json"))
        .unwrap();
    let short: String = log
        .lines()
        .filter(|l| l.contains("\"2026-11-20T"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join("logs-eu_server.json"), short).unwrap();
    let (_, r, _) = scan(&fixture("two-cluster/search-prod"), dir.path(), &[]);
    let p = pair(&r, "unreachable");
    assert!(p["silent"].is_null(), "{p:#}");
    assert!(p["meaning"].as_str().unwrap().contains("cannot say"));
    // Without the fulfilling side's metadata or audit, the refused handshake is still decided
    // by its WARN lines, joined by time.
    let f = finding(&r, OLD);
    assert_eq!(f["class"], "expired");
    assert!(f["details"]["key_inference"]
        .as_str()
        .unwrap()
        .contains("refused handshakes"));
}

#[test]
fn without_the_fulfilling_side_the_handshake_stays_undecided() {
    let out = keydoctor(
        &[
            "scan",
            fixture("two-cluster/search-prod").to_str().unwrap(),
            "--format",
            "json",
            "--now",
            NOW,
        ],
        "",
    );
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let f = finding(&r, OLD);
    assert_eq!(f["class"], "cross_cluster_misconfig");
    assert_eq!(f["rule_id"], "remote-key-rejected");
    assert!(r.get("two_sided").is_none());
}

/// Two small logs in a temporary tree: (querying dir, fulfilling dir).
fn pair_of_logs(querying: &str, fulfilling: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (sub, text) in [("q", querying), ("f", fulfilling)] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        std::fs::write(dir.path().join(sub).join("node.log"), text).unwrap();
    }
    dir
}

#[test]
fn tls_distrust_logged_by_both_clusters_is_one_symptom() {
    let dir = pair_of_logs(
        "[2026-11-21T10:00:01,100][INFO ][o.e.n.Node               ] [q-1] started\n\
         [2026-11-21T10:05:02,311][WARN ][o.e.c.s.DiagnosticTrustManager] [q-1] failed to establish trust with server at [10.2.0.10]; the server provided a certificate with subject name [CN=eu-proxy]\n\
         [2026-11-21T10:05:32,311][WARN ][o.e.c.s.DiagnosticTrustManager] [q-1] failed to establish trust with server at [10.2.0.10]; the server provided a certificate with subject name [CN=eu-proxy]\n\
         [2026-11-21T11:00:00,000][INFO ][o.e.n.Node               ] [q-1] still here\n",
        "[2026-11-21T09:00:00,000][INFO ][o.e.n.Node               ] [f-1] started\n\
         [2026-11-21T10:05:02,309][WARN ][o.e.x.c.s.t.n.SecurityNetty4Transport] [f-1] client did not trust this server's certificate, closing connection Netty4TcpChannel{localAddress=/10.2.0.11:9443, remoteAddress=/10.1.0.21:50722, profile=_remote_cluster}\n\
         [2026-11-21T12:00:00,000][INFO ][o.e.n.Node               ] [f-1] still here\n",
    );
    let (_, r, _) = scan(&dir.path().join("q"), &dir.path().join("f"), &[]);
    let p = pair(&r, "tls-trust");
    assert!(p["silent"].is_null());
    assert_eq!(p["querying"]["count"], 2);
    assert_eq!(p["fulfilling"]["count"], 1);
    assert!(p["meaning"]
        .as_str()
        .unwrap()
        .contains("remote_cluster_client.ssl.certificate_authorities"));
}

#[test]
fn a_rest_key_in_the_keystore_is_expected_to_leave_the_remote_silent() {
    let dir = pair_of_logs(
        "[2026-11-21T10:00:01,100][INFO ][o.e.n.Node               ] [q-1] started\n\
         [2026-11-21T10:05:02,311][WARN ][o.e.t.SniffConnectionStrategy] [q-1] fetching nodes from external cluster [eu] failed\n\
         org.elasticsearch.ElasticsearchSecurityException: authentication expected API key type of [cross_cluster], but API key [agZXJocBmA2beJfq2yKu] has type [rest]\n\
         [2026-11-21T11:00:00,000][INFO ][o.e.n.Node               ] [q-1] still here\n",
        "[2026-11-21T09:00:00,000][INFO ][o.e.n.Node               ] [f-1] started\n\
         [2026-11-21T12:00:00,000][INFO ][o.e.n.Node               ] [f-1] still here\n",
    );
    let (_, r, _) = scan(&dir.path().join("q"), &dir.path().join("f"), &[]);
    let p = pair(&r, "rest-key-in-keystore");
    assert_eq!(p["silent"], "fulfilling");
    assert_eq!(p["expected_silence"], true);
    assert_eq!(p["alias"], "eu");
    // A connection failure explained by a finding in the same record is not "unreachable".
    assert!(r["two_sided"]["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["pair"] != "unreachable"));
}

#[test]
fn failures_towards_another_alias_are_left_out_and_said_so() {
    let dir = pair_of_logs(
        "[2026-11-21T10:00:01,100][INFO ][o.e.n.Node               ] [q-1] started\n\
         [2026-11-21T10:05:02,311][WARN ][o.e.t.ProxyConnectionStrategy] [q-1] failed to open any proxy connections to cluster [apac]\n\
         org.elasticsearch.transport.ConnectTransportException: [][10.9.0.10:9443] connect_exception\n\
         [2026-11-21T11:00:00,000][INFO ][o.e.n.Node               ] [q-1] still here\n",
        "[2026-11-21T09:00:00,000][INFO ][o.e.n.Node               ] [f-1] started\n\
         [2026-11-21T12:00:00,000][INFO ][o.e.n.Node               ] [f-1] still here\n",
    );
    let (_, r, _) = scan(
        &dir.path().join("q"),
        &dir.path().join("f"),
        &["--remote-alias", "eu"],
    );
    assert_eq!(r["two_sided"]["alias"], "eu");
    assert!(r["two_sided"]["pairs"].as_array().unwrap().is_empty());
    assert!(r["two_sided"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("`apac`")));
}

#[test]
fn every_format_shows_both_sides_and_follow_refuses() {
    let q = fixture("two-cluster/search-prod");
    let f = fixture("two-cluster/logs-eu");
    for (format, heading) in [
        ("human", "Both clusters:"),
        ("markdown", "## Both clusters"),
    ] {
        let out = keydoctor(
            &[
                "scan",
                q.to_str().unwrap(),
                "--remote-logs",
                f.to_str().unwrap(),
                "--format",
                format,
                "--now",
                NOW,
                "--color",
                "never",
            ],
            "",
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stdout.contains(heading), "{format}");
        assert!(
            out.stdout.contains("silent, as this symptom is"),
            "{format}"
        );
        assert!(
            out.stdout
                .contains("silent, though its logs cover the time"),
            "{format}"
        );
    }
    let out = keydoctor(
        &[
            "scan",
            q.to_str().unwrap(),
            "--remote-logs",
            f.to_str().unwrap(),
            "--follow",
        ],
        "",
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--remote-logs"));
}
