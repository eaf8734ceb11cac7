//! `keydoctor impact` on keys that a product uses (fixtures/products): a Kibana alerting rule's
//! key known only by its name in the audit log, Fleet agents' keys known by their metadata, the
//! other keys of the same agent asked of a live cluster (8.x query API, 7.x list), and an
//! enrollment token.

use serde_json::Value;

use crate::cluster::{root_7, root_8, SECRET_KEY};
use crate::support::replay::{Replay, Route};
use crate::support::{fixture, keydoctor, keydoctor_env, NOW};

const ALERT: &str = "Qm7rV5IBcF9aHj2kAl01";
const ACCESS: &str = "Fa1cQ5IBcF9aHj2kAc01";
const OUTPUT: &str = "Fo1cQ5IBcF9aHj2kOu01";
const ENROLL: &str = "En1cQ5IBcF9aHj2kEr01";
const AGENT: &str = "4b1c5f0e-6a3d-4e9b-9c2f-0d7e8a1b2c3d";

fn path(rel: &str) -> String {
    fixture(&format!("products/{rel}")).display().to_string()
}

fn impact(args: &[&str]) -> (u8, Value) {
    let logs = path("es01");
    let mut argv = vec!["impact"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--logs", &logs, "--now", NOW, "--format", "json"]);
    let out = keydoctor(&argv, "");
    let v = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    (out.code, v)
}

/// `impact ID --es-url REPLAY --format json`, expected to exit 1.
fn impact_live(id: &str, replay: &Replay) -> Value {
    let logs = path("es01");
    let out = keydoctor_env(
        &[
            "impact",
            id,
            "--logs",
            &logs,
            "--es-url",
            &replay.url,
            "--now",
            NOW,
            "--format",
            "json",
        ],
        &[("ES_API_KEY", SECRET_KEY)],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// The fixture's keys, picked by id, as a `GET /_security/api_key` or query answer.
fn keys_answer(ids: &[&str]) -> String {
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(path("api_keys.json")).unwrap()).unwrap();
    let keys: Vec<Value> = all["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| ids.contains(&k["id"].as_str().unwrap()))
        .cloned()
        .collect();
    serde_json::json!({"total": keys.len(), "count": keys.len(), "api_keys": keys}).to_string()
}

#[test]
fn an_alerting_rules_key_is_known_by_its_audited_name_alone() {
    // No metadata: the audit log's apikey.name says whose it is.
    let (code, r) = impact(&[ALERT]);
    assert_eq!(code, 1, "the rule breaks");
    assert_eq!(r["state"], "unknown");
    assert_eq!(r["name"], "Alerting: .es-query/CPU over 90% on prod");
    assert_eq!(r["used_by"]["product_id"], "kibana-alerting-rule");
    let depends = r["used_by"]["depends"].as_str().unwrap();
    assert!(
        depends.contains("rule `CPU over 90% on prod` (rule type `.es-query`)")
            && depends.contains("`alice`"),
        "{depends}"
    );
    let steps: Vec<&str> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(steps[0].ends_with("search=%22CPU%20over%2090%25%20on%20prod%22"));
    assert!(steps[1].ends_with("POST kbn:/api/alerting/rule/<rule id>/_update_api_key"));
    // The product re-keys it: no keydoctor rotation, no DELETE of the key.
    assert!(
        steps
            .iter()
            .all(|s| !s.contains("keydoctor rotate") && !s.contains("DELETE /_security")),
        "{steps:?}"
    );
    let verdict = r["verdict"].as_str().unwrap();
    assert!(
        verdict.contains("20 events of its successful use, the last at 2026-11-20T09:45:00Z"),
        "{verdict}"
    );
}

#[test]
fn a_fleet_output_key_names_its_agent_and_how_to_list_the_agents_other_keys() {
    let meta = path("api_keys.json");
    let (code, r) = impact(&[OUTPUT, "--metadata", &meta]);
    assert_eq!(code, 1);
    assert_eq!(r["state"], "active");
    assert_eq!(r["used_by"]["product_id"], "fleet-agent-output");
    assert!(r["used_by"]["depends"].as_str().unwrap().contains(&format!(
        "Elastic Agent `{AGENT}`, which ships its data to the output `default`"
    )));
    assert_eq!(r["used_by"]["related"]["value"], AGENT);
    // Offline, the request that lists the agent's other keys.
    let q = r["related_query"].as_str().unwrap();
    assert!(q.starts_with("POST /_security/_query/api_key\n"), "{q}");
    assert!(
        q.contains(&format!("\"metadata.agent_id\": \"{AGENT}\"")),
        "{q}"
    );
    assert!(r["steps"][1].as_str().unwrap().contains(&format!(
        "POST kbn:/api/fleet/agents/{AGENT}/unenroll\n{{\n  \"revoke\": true\n}}"
    )));
    // Human and Markdown say the same.
    let logs = path("es01");
    for format in ["human", "markdown"] {
        let out = keydoctor(
            &[
                "impact",
                OUTPUT,
                "--logs",
                &logs,
                "--metadata",
                &meta,
                "--now",
                NOW,
                "--format",
                format,
            ],
            "",
        );
        assert!(
            out.stdout.contains("Fleet (Elastic Agent) uses this key"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("metadata.agent_id"), "{}", out.stdout);
    }
}

#[test]
fn a_live_cluster_lists_the_agents_other_keys() {
    // 8.x: the query API, by metadata.agent_id.
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        Route::json(
            "GET",
            &format!("/_security/api_key?id={ACCESS}&with_limited_by=true"),
            200,
            &keys_answer(&[ACCESS]),
        ),
        Route::json(
            "POST",
            "/_security/_query/api_key",
            200,
            &keys_answer(&[ACCESS, OUTPUT]),
        ),
    ]);
    let r = impact_live(ACCESS, &replay);
    assert_eq!(r["used_by"]["product_id"], "fleet-agent-access");
    assert_eq!(
        r["related_keys"],
        serde_json::json!([{"id": OUTPUT, "name": format!("{AGENT}:default"), "state": "active", "type": "output"}])
    );
    assert!(r["related_query"].is_null());
    let seen = replay.requests();
    let query = seen.iter().find(|s| s.method == "POST").expect("the query");
    let body: Value = serde_json::from_str(&query.body).unwrap();
    assert_eq!(
        body["query"]["bool"]["filter"][0]["term"]["metadata.agent_id"],
        AGENT
    );
    // 7.x before 7.15 has no query API: every key is listed and filtered here.
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_7().replace("7.17.10", "7.14.2")),
        Route::json(
            "GET",
            &format!("/_security/api_key?id={ACCESS}"),
            200,
            &keys_answer(&[ACCESS]),
        ),
        Route::json(
            "GET",
            "/_security/api_key",
            200,
            &keys_answer(&[ALERT, ACCESS, OUTPUT, ENROLL]),
        ),
    ]);
    let r = impact_live(ACCESS, &replay);
    let ids: Vec<&str> = r["related_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [OUTPUT]);
    assert!(replay.requests().iter().all(|s| s.method == "GET"));
}

#[test]
fn an_enrollment_token_breaks_new_enrollments_only() {
    let meta = path("api_keys.json");
    let (code, r) = impact(&[ENROLL, "--metadata", &meta]);
    assert_eq!(code, 1);
    assert_eq!(r["used_by"]["product_id"], "fleet-enrollment-token");
    let depends = r["used_by"]["depends"].as_str().unwrap();
    assert!(
        depends.contains("agent policy `linux-hosts`")
            && depends.contains("`0b0c2e4a-1f2d-4c3b-8a9e-7d6c5b4a3f2e` (Default)")
            && depends.contains("agents already enrolled use keys of their own"),
        "{depends}"
    );
    assert!(r["steps"][1].as_str().unwrap().ends_with(
        "DELETE kbn:/api/fleet/enrollment_api_keys/0b0c2e4a-1f2d-4c3b-8a9e-7d6c5b4a3f2e"
    ));
    // No audit event used it: the verdict says so rather than calling it unused.
    assert!(r["verdict"].as_str().unwrap().contains("show no use of it"));
}

#[test]
fn a_products_file_in_a_rules_dir_adds_a_product() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("products.toml"),
        r#"
[[product]]
id = "ingest-team"
product = "the ingest team's shippers"
metadata = { team = "ingest", host = "*" }
depends = "the shipper on {host}"
breaks = "its events are refused"
steps = ["Ask #ingest before touching {key_id}"]
"#,
    )
    .unwrap();
    let meta = dir.path().join("keys.json");
    std::fs::write(
        &meta,
        r#"{"api_keys":[{"id":"Tm1aQ5IBcF9aHj2kTe01","name":"shipper","creation":1788220800000,"invalidated":false,"username":"ingest","realm":"native1","metadata":{"team":"ingest","host":"web-7"}}]}"#,
    )
    .unwrap();
    let rules = dir.path().display().to_string();
    let (code, r) = impact(&[
        "Tm1aQ5IBcF9aHj2kTe01",
        "--metadata",
        meta.to_str().unwrap(),
        "--rules",
        &rules,
    ]);
    assert_eq!(code, 1);
    assert_eq!(r["used_by"]["depends"], "the shipper on web-7");
    assert_eq!(
        r["steps"][0],
        "Ask #ingest before touching Tm1aQ5IBcF9aHj2kTe01"
    );
    // A broken products file is refused with the reason.
    std::fs::write(
        dir.path().join("products.toml"),
        "[[product]]\nid = \"x\"\nproduct = \"X\"\ndepends = \"{nope}\"\nbreaks = \"b\"\nsteps = [\"s\"]\n",
    )
    .unwrap();
    let out = keydoctor(
        &[
            "impact",
            "Tm1aQ5IBcF9aHj2kTe01",
            "--logs",
            &path("es01"),
            "--rules",
            &rules,
        ],
        "",
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("neither `name` nor `metadata`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("`{nope}`"), "{}", out.stderr);
}

#[test]
fn audit_logs_read_only_in_part_give_no_safety_verdict() {
    // The incident's audit log, gzip-rotated and cut off after a third: the part read shows
    // no use of the Filebeat key, which the lost part does show.
    let audit = std::fs::read(crate::support::fixture(
        "scan/incident/es-node-2/prod-logs_audit.json",
    ))
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &audit).unwrap();
    let gz = gz.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("prod-logs_audit-2026-11-20-1.json.gz");
    std::fs::write(&cut, &gz[..gz.len() / 3]).unwrap();
    for format in ["human", "json", "markdown"] {
        let out = crate::support::keydoctor(
            &[
                "impact",
                "VuaCfGcBCdbkQm-e5aOx",
                "--logs",
                cut.to_str().unwrap(),
                "--format",
                format,
                "--now",
                crate::support::NOW,
            ],
            "",
        );
        assert_eq!(out.code, 1, "{format}: not safe, so not 0:\n{}", out.stdout);
        let text = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains("unknown: "), "{format}:\n{}", out.stdout);
        assert!(
            text.contains("read only in part"),
            "{format}:\n{}",
            out.stdout
        );
        assert!(
            !out.stdout
                .contains("no client those logs show depends on it"),
            "{format}: a safety verdict over a partial read:\n{}",
            out.stdout
        );
        assert!(
            text.contains("corrupt gzip"),
            "{format}: the warning:\n{}",
            out.stdout
        );
    }
}
