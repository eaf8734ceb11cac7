//! `keydoctor doctor` against a replay server answering as Elasticsearch 8.15 and 7.17 do
//! (bodies in fixtures/cluster/).

use serde_json::Value;

use crate::cluster::{forbidden, root_7, root_8, SECRET_KEY};
use crate::support::replay::{Replay, Route};
use crate::support::{keydoctor_env, Output, NOW};

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cluster")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cluster_8() -> Vec<Route> {
    cluster_at("8.15.3")
}

/// The 8.15 answers, `GET /` saying `version` (9.x keeps these shapes).
pub(crate) fn cluster_at(version: &str) -> Vec<Route> {
    vec![
        Route::json("GET", "/", 200, &root_8().replace("8.12.2", version)),
        Route::json(
            "GET",
            "/_security/_authenticate",
            200,
            &fixture("authenticate-8.15.json"),
        ),
        Route::json("GET", "/_xpack/usage", 200, &fixture("usage-8.15.json")),
        Route::json(
            "POST",
            "/_security/_query/api_key",
            200,
            &fixture("query-api-key-8.15.json"),
        ),
        Route::json(
            "GET",
            "/_remote/info",
            200,
            &fixture("remote-info-8.15.json"),
        ),
        Route::json(
            "GET",
            "/_cluster/settings",
            200,
            &fixture("cluster-settings-8.15.json"),
        ),
    ]
}

fn doctor(replay: &Replay, args: &[&str]) -> Output {
    let mut argv = vec!["doctor", "--es-url", &replay.url, "--now", NOW];
    argv.extend_from_slice(args);
    keydoctor_env(&argv, &[("ES_API_KEY", SECRET_KEY), ("COLUMNS", "100")])
}

/// The report, checked against `schemas/doctor.schema.json`.
fn json(out: &Output) -> Value {
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", out.stdout, out.stderr));
    crate::schemas::assert_valid("doctor.schema.json", &report);
    report
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}: {}", report["checks"]))
}

#[test]
fn an_8x_cluster_with_a_sniffing_api_key_remote_and_keys_to_rotate() {
    let replay = Replay::start(cluster_8());
    let out = doctor(&replay, &["--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out);
    let findings: Vec<(String, String, Option<String>)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["class"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["key_id"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| f["details"]["remote"].as_str().map(str::to_string)),
            )
        })
        .collect();
    assert_eq!(
        findings,
        vec![
            (
                "cross_cluster_misconfig".into(),
                "error".into(),
                Some("eu-logs".into())
            ),
            (
                "expiring_soon".into(),
                "warning".into(),
                Some("sLgTb5oBcW1YpFq2Xk3e".into())
            ),
            (
                "no_expiration".into(),
                "warning".into(),
                Some("Hq3vR5kBfE7nM2pLx9aZ".into())
            ),
        ],
        "{}",
        out.stdout
    );
    // The proxy remote with credentials and the certificate-based sniff remote are fine.
    assert_eq!(check(&report, "remote:us-metrics")["status"], "ok");
    assert_eq!(check(&report, "remote:legacy")["status"], "ok");
    assert_eq!(check(&report, "remote:eu-logs")["status"], "error");
    assert_eq!(check(&report, "security")["status"], "ok");
    assert_eq!(check(&report, "api_key_service")["status"], "ok");
    // Fleet's key never expires by design: counted apart, not flagged.
    let exp = check(&report, "key_expiration")["text"].as_str().unwrap();
    assert!(
        exp.contains("4 active, 1 without expiration; 1 managed"),
        "{exp}"
    );
    // The fix keeps the alias's scope and clears the sniff settings.
    let fix = report["findings"][0]["remediation"][0]["request"]
        .as_str()
        .unwrap();
    assert!(
        fix.starts_with("PUT /_cluster/settings\n{\n  \"persistent\": {"),
        "{fix}"
    );
    assert!(
        fix.contains("\"cluster.remote.eu-logs.seeds\": null"),
        "{fix}"
    );
    assert!(
        fix.contains("\"cluster.remote.eu-logs.proxy_address\": \"eu-logs.internal.example:9443\""),
        "{fix}"
    );
    assert_eq!(
        report["cluster"]["as"],
        "API key ToolKeyIdAAAAAAAAAAA (keydoctor) of user ops"
    );
    // 8.15 takes an expiration in the update API.
    let steps = report["findings"][2]["remediation"].as_array().unwrap();
    assert!(steps[1]["request"]
        .as_str()
        .unwrap()
        .starts_with("PUT /_security/api_key/Hq3vR5kBfE7nM2pLx9aZ"));
    // Only read-only calls, every one authenticated with the tool's key.
    for r in replay.requests() {
        assert!(
            r.method == "GET" || r.target == "/_security/_query/api_key",
            "{} {}",
            r.method,
            r.target
        );
        assert!(r
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("ApiKey ")));
    }
    assert!(!out.stdout.contains("tool-secret") && !out.stdout.contains(SECRET_KEY));
}

#[test]
fn the_human_report_lists_every_check_and_groups_keys() {
    let mut routes = cluster_8();
    // A second key without expiration: the two share one table.
    let mut query: Value = serde_json::from_str(&fixture("query-api-key-8.15.json")).unwrap();
    let mut twin = query["api_keys"][2].clone();
    twin["id"] = "Zz9vR5kBfE7nM2pLx9aQ".into();
    twin["name"] = "logstash-ingest-dr".into();
    query["api_keys"].as_array_mut().unwrap().push(twin);
    routes[3] = Route::json("POST", "/_security/_query/api_key", 200, &query.to_string());
    let replay = Replay::start(routes);
    let out = doctor(&replay, &["--color", "never"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let text = &out.stdout;
    for line in [
        "  ✓ security                   enabled",
        "  ✗ remote cluster eu-logs     API key model, sniff mode, not connected, skip_unavailable true:",
        "  ✓ remote cluster legacy      certificate model, sniff mode, connected, skip_unavailable false",
        "warning[no_expiration]: 2 keys expire never",
        "error[cross_cluster_misconfig]: Remote cluster eu-logs uses API-key credentials in sniff mode and is not connected",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
    assert!(text.contains("PUT /_security/api_key/<id>"), "{text}");
    assert!(
        text.trim_end().ends_with("with a warning; 4 findings"),
        "{text}"
    );
    let md = doctor(&replay, &["--format", "markdown"]);
    assert!(
        md.stdout.contains("| ✗ | remote cluster eu-logs |"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout
            .contains("| `Zz9vR5kBfE7nM2pLx9aQ` | logstash-ingest-dr |"),
        "{}",
        md.stdout
    );
}

#[test]
fn a_7_17_cluster_without_tls_has_the_api_key_service_off() {
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_7()),
        Route::json("GET", "/_xpack/usage", 200, &fixture("usage-7.17.json")),
        // With the service off the key APIs answer 400 feature_not_enabled_exception.
        Route::json(
            "POST",
            "/_security/_query/api_key",
            400,
            r#"{"error":{"root_cause":[{"type":"feature_not_enabled_exception","reason":"api keys are not enabled","disabled.feature":"api_keys"}],"type":"feature_not_enabled_exception","reason":"api keys are not enabled","disabled.feature":"api_keys"},"status":400}"#,
        ),
        Route::json(
            "GET",
            "/_remote/info",
            200,
            &fixture("remote-info-7.17.json"),
        ),
        Route::json(
            "GET",
            "/_cluster/settings",
            200,
            &fixture("cluster-settings-7.17.json"),
        ),
    ]);
    let out = doctor(&replay, &["--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out);
    let f = &report["findings"][0];
    assert_eq!(f["class"], "api_key_service_disabled", "{}", out.stdout);
    assert!(f["explanation"]
        .as_str()
        .unwrap()
        .contains("only because TLS is"));
    assert_eq!(
        f["remediation"][0]["title"],
        "Enable TLS on the HTTP layer (recommended)"
    );
    assert_eq!(check(&report, "key_expiration")["status"], "unknown");
    assert!(check(&report, "key_expiration")["text"]
        .as_str()
        .unwrap()
        .contains("api keys are not enabled"));
    assert_eq!(check(&report, "remote:dr")["status"], "ok");
    assert_eq!(check(&report, "audit")["status"], "warning");
    assert_eq!(report["findings"].as_array().unwrap().len(), 1);
}

#[test]
fn credentials_without_monitor_still_get_the_checks_they_can() {
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        Route::json(
            "GET",
            "/_xpack/usage",
            403,
            &forbidden("cluster:monitor/xpack/usage"),
        ),
        Route::json(
            "GET",
            "/_xpack",
            403,
            &forbidden("cluster:monitor/xpack/info"),
        ),
        Route::json(
            "POST",
            "/_security/_query/api_key",
            200,
            r#"{"total":0,"count":0,"api_keys":[]}"#,
        ),
        Route::json(
            "GET",
            "/_remote/info",
            403,
            &forbidden("cluster:monitor/remote/info"),
        ),
        Route::json(
            "GET",
            "/_cluster/settings",
            403,
            &forbidden("cluster:monitor/state"),
        ),
    ]);
    let out = doctor(&replay, &["--format", "json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = json(&out);
    assert_eq!(check(&report, "security")["status"], "unknown");
    assert!(check(&report, "security")["text"]
        .as_str()
        .unwrap()
        .contains("monitor cluster privilege"));
    assert_eq!(check(&report, "remotes")["status"], "unknown");
    assert_eq!(check(&report, "key_expiration")["status"], "ok");
    assert!(report["summary"]["text"]
        .as_str()
        .unwrap()
        .contains("not checked"));
}

#[test]
fn doctor_needs_a_cluster() {
    let out = keydoctor_env(&["doctor"], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("doctor checks a live cluster"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_9x_cluster_gets_the_same_checks() {
    let replay = Replay::start(cluster_at("9.2.1"));
    let out = doctor(&replay, &["--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out);
    assert_eq!(report["cluster"]["version"], "9.2.1");
    let classes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["class"].as_str().unwrap())
        .collect();
    assert_eq!(
        classes,
        ["cross_cluster_misconfig", "expiring_soon", "no_expiration"]
    );
    let steps = report["findings"][2]["remediation"].as_array().unwrap();
    assert_eq!(
        steps[1]["version_note"],
        "expiration in the update API: 8.13+; this cluster runs 9.2.1"
    );
}

#[test]
fn every_rule_id_doctor_reports_is_a_rule_and_its_words_come_from_the_rule_file() {
    let list = crate::support::keydoctor(&["rules", "list", "--format", "json"], "");
    let list: Value = serde_json::from_str(&list.stdout).unwrap();
    let known: Vec<&str> = list["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut seen = Vec::new();
    for routes in [cluster_8(), cluster_at("7.17.10"), cluster_at("9.1.0")] {
        let replay = Replay::start(routes);
        let report = json(&doctor(&replay, &["--format", "json"]));
        for f in report["findings"].as_array().unwrap() {
            seen.push(f["rule_id"].as_str().unwrap().to_string());
        }
        for n in report["notes"].as_array().unwrap() {
            if let Some(id) = n["rule_id"].as_str() {
                seen.push(id.to_string());
            }
        }
    }
    assert!(seen.len() >= 3, "{seen:?}");
    for id in &seen {
        assert!(
            known.contains(&id.as_str()),
            "{id} is reported but not a rule"
        );
    }
    // A site's own wording replaces the bundled one, with the same decision.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("checks")).unwrap();
    let bundled = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("rules/checks/doctor-remote-api-key-sniff.toml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks/doctor-remote-api-key-sniff.toml"),
        bundled.replace(
            "title = \"Remote cluster {alias} uses",
            "title = \"[site runbook RC-7] Remote cluster {alias} uses",
        ),
    )
    .unwrap();
    let replay = Replay::start(cluster_8());
    let report = json(&doctor(
        &replay,
        &["--format", "json", "--rules", dir.path().to_str().unwrap()],
    ));
    let sniff = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "doctor-remote-api-key-sniff")
        .expect("the sniffing remote is a finding");
    assert!(
        sniff["summary"]
            .as_str()
            .unwrap()
            .starts_with("[site runbook RC-7] Remote cluster"),
        "{}",
        sniff["summary"]
    );
}

#[test]
fn a_suppression_leaves_a_known_key_out_of_doctor_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keydoctor.toml");
    std::fs::write(
        &config,
        "[[suppress]]\nrule = \"doctor-key-without-expiration\"\nkey = \"Hq3vR5kBfE7nM2pLx9aZ\"\nreason = \"break-glass key, kept in the vault (SEC-112)\"\n",
    )
    .unwrap();
    let replay = Replay::start(cluster_8());
    let args = ["--config", config.to_str().unwrap()];
    let report = json(&doctor(
        &replay,
        &[&args[..], &["--format", "json"]].concat(),
    ));
    let ids: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&"doctor-key-without-expiration"), "{ids:?}");
    assert_eq!(report["suppressed"][0]["key_id"], "Hq3vR5kBfE7nM2pLx9aZ");
    let human = doctor(&replay, &args);
    assert!(
        human
            .stdout
            .contains("break-glass key, kept in the vault (SEC-112)"),
        "{}",
        human.stdout
    );
}

#[test]
fn keys_of_one_rule_are_grouped_under_the_rule_s_group_words() {
    // A second key without expiration: doctor groups the two under one heading, and says
    // what they mean once, in the words of the check rule's `[explain] group`.
    let mut keys: Value = serde_json::from_str(&fixture("query-api-key-8.15.json")).unwrap();
    let list = keys["api_keys"].as_array_mut().unwrap();
    let mut twin = list
        .iter()
        .find(|k| k["id"] == "Hq3vR5kBfE7nM2pLx9aZ")
        .unwrap()
        .clone();
    twin["id"] = "Hq3vR5kBfE7nM2pLx9b2".into();
    list.push(twin);
    let mut routes = cluster_8();
    routes.retain(|r| r.path != "/_security/_query/api_key");
    routes.push(Route::json(
        "POST",
        "/_security/_query/api_key",
        200,
        &keys.to_string(),
    ));
    let replay = Replay::start(routes);
    let rule = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("rules/checks/doctor-key-without-expiration.toml"),
    )
    .unwrap();
    let group: toml::Value = toml::from_str(&rule).unwrap();
    let bundled = group["explain"]["group"]
        .as_str()
        .unwrap()
        .trim()
        .to_string();
    // The same rule with other group words, from --rules: the words are the rule's.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("checks")).unwrap();
    let custom = "Keys that never expire are a standing risk (custom words).";
    std::fs::write(
        dir.path().join("checks/doctor-key-without-expiration.toml"),
        rule.replace(&bundled, custom),
    )
    .unwrap();
    let custom_dir = dir.path().to_str().unwrap();
    for (words, rules) in [(bundled.as_str(), None), (custom, Some(custom_dir))] {
        for format in ["human", "markdown"] {
            let mut args = vec!["--format", format];
            if let Some(r) = rules {
                args.extend(["--rules", r]);
            }
            let out = doctor(&replay, &args);
            let flat = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                flat.contains("2 keys expire never"),
                "{format}: {}",
                out.stdout
            );
            assert!(
                flat.contains(&format!("What it means {words}")),
                "{format}: {}",
                out.stdout
            );
        }
    }
}
