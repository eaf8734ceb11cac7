//! Every request keydoctor prints must be safe to paste as it stands. Over the dev corpus,
//! `fixtures/explain` and the scan fixtures (JSON with `--curl`), each plan step is checked:
//! - no create body that would give the new key all of its creator's privileges (empty or
//!   absent `role_descriptors`);
//! - no invalidation of a key already invalidated, expired or missing;
//! - without the key's metadata, no key update that would run as pasted (it would replace
//!   descriptors keydoctor has not seen);
//! - no create or update `curl` authenticating with an API key (Elasticsearch refuses both);
//! - no step asking who invalidated a key when the report already names who;
//! - no "verify" step that authenticates with anything but the new key (or, for a corrected
//!   credential, the client's own key).

use serde_json::Value;

use crate::support::{fixture, keydoctor, root, NOW};

/// Every report to check: (what it is, the JSON report).
fn reports() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let json = |args: &[&str], stdin: &str| -> Value {
        let r = keydoctor(args, stdin);
        assert!(r.code < 2, "{args:?}: exit {}: {}", r.code, r.stderr);
        serde_json::from_str(&r.stdout).expect("one JSON document")
    };
    let corpus = root().join("../shared/corpus/dev");
    if corpus.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(&corpus)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for p in files {
            let case: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let input = case["input"].as_str().unwrap();
            let args = ["explain", "--format", "json", "--curl", "--now", NOW];
            out.push((p.display().to_string(), json(&args, input)));
        }
    } else {
        assert!(std::env::var("CI").is_err(), "corpus missing under CI");
    }
    let mut pastes: Vec<_> = std::fs::read_dir(fixture("explain"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    pastes.sort();
    for p in pastes {
        let path = p.to_str().unwrap();
        let args = ["explain", path, "--format", "json", "--curl", "--now", NOW];
        out.push((path.to_string(), json(&args, "")));
    }
    for tree in ["scan/incident", "bundle", "purged"] {
        let path = fixture(tree);
        let path = path.to_str().unwrap();
        let args = ["scan", path, "--format", "json", "--curl", "--now", NOW];
        out.push((path.to_string(), json(&args, "")));
    }
    let q = fixture("two-cluster/search-prod");
    let f = fixture("two-cluster/logs-eu");
    let args = [
        "scan",
        q.to_str().unwrap(),
        "--remote-logs",
        f.to_str().unwrap(),
        "--format",
        "json",
        "--curl",
        "--now",
        NOW,
    ];
    out.push(("two-cluster".into(), json(&args, "")));
    out
}

/// `METHOD path` and the body, if it parses as JSON.
fn parts(request: &str) -> (String, String, Option<Value>) {
    let (first, body) = request.split_once('\n').unwrap_or((request, ""));
    let (method, path) = first.trim().split_once(' ').unwrap_or((first, ""));
    let path = path.split('?').next().unwrap_or("").to_string();
    (
        method.to_string(),
        path,
        serde_json::from_str(body.trim()).ok(),
    )
}

fn is_create(method: &str, path: &str) -> bool {
    method == "POST"
        && matches!(
            path,
            "/_security/api_key" | "/_security/cross_cluster/api_key"
        )
}

fn is_update(method: &str, path: &str) -> bool {
    (method == "PUT"
        && (path.starts_with("/_security/api_key/")
            || path.starts_with("/_security/cross_cluster/api_key/")))
        || (method == "POST" && path == "/_security/api_key/_bulk_update")
}

/// A body that Elasticsearch would take: every descriptor an object.
fn runs_as_pasted(descriptors: &Value) -> bool {
    descriptors
        .as_object()
        .is_some_and(|m| m.values().all(Value::is_object))
}

fn problems_of(name: &str, report: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    for f in &findings {
        let class = f["class"].as_str().unwrap_or("");
        let key = f["key_id"].as_str();
        let state = f["details"]["metadata"]["state"].as_str();
        let inactive = matches!(class, "invalidated" | "expired" | "missing")
            || matches!(state, Some("invalidated" | "expired"));
        let has_metadata = f["details"]["metadata"].is_object();
        let invalidator_known = f["details"]["invalidated_by"].is_object();
        for s in f["remediation"].as_array().cloned().unwrap_or_default() {
            let title = s["title"].as_str().unwrap_or("");
            if invalidator_known && title.starts_with("Find who invalidated") {
                problems.push(format!(
                    "{name}: {class} {key:?}: asks who invalidated the key, which the report says"
                ));
            }
            let Some(request) = s["request"].as_str() else {
                continue;
            };
            let at = format!("{name}: {class} {key:?}: step `{title}`");
            let (method, path, body) = parts(request);
            let curl = s["curl"].as_str().unwrap_or("");
            if is_create(&method, &path) && path == "/_security/api_key" {
                if let Some(b) = &body {
                    match b.get("role_descriptors") {
                        None => problems.push(format!("{at}: create without role_descriptors")),
                        Some(v) if v.as_object().is_some_and(|m| m.is_empty()) => {
                            problems.push(format!("{at}: create with empty role_descriptors"));
                        }
                        _ => {}
                    }
                }
            }
            if method == "DELETE" && path == "/_security/api_key" && inactive {
                let names_it = body
                    .as_ref()
                    .and_then(|b| b["ids"].as_array())
                    .is_some_and(|ids| ids.iter().any(|i| i.as_str() == key))
                    || key.is_none();
                if names_it {
                    problems.push(format!("{at}: invalidates a key already {class}"));
                }
            }
            if is_update(&method, &path) && !has_metadata {
                if let Some(b) = &body {
                    let field = b.get("role_descriptors").or_else(|| b.get("access"));
                    if field.is_some_and(runs_as_pasted) {
                        problems.push(format!(
                            "{at}: an update that runs as pasted, over descriptors never seen"
                        ));
                    }
                }
            }
            if (is_create(&method, &path) || is_update(&method, &path)) && curl.contains("ApiKey") {
                problems.push(format!(
                    "{at}: create/update curl authenticates with an API key"
                ));
            }
            if (is_create(&method, &path) || is_update(&method, &path))
                && !curl.is_empty()
                && !curl.contains("-u \"$ES_USERNAME:$ES_PASSWORD\"")
            {
                problems.push(format!("{at}: create/update curl without user credentials"));
            }
            let verifies = title.to_lowercase().starts_with("verify");
            if verifies && path != "/_remote/info" {
                // The new key, or the client's own corrected credential: never the caller's.
                if s["run_as"] != "new_key" && s["run_as"] != "client_key" {
                    problems.push(format!("{at}: verify step not run as the new key"));
                }
                if !curl.is_empty()
                    && (!(curl.contains("$NEW_API_KEY") || curl.contains("$CLIENT_API_KEY"))
                        || curl.contains("$ES_API_KEY")
                        || curl.contains("$ES_PASSWORD"))
                {
                    problems.push(format!("{at}: verify curl uses another credential"));
                }
            }
            if !curl.is_empty() && s["run_as"].as_str().is_none() {
                problems.push(format!("{at}: a request without run_as"));
            }
        }
    }
    problems
}

#[test]
fn every_printed_request_is_safe_to_paste() {
    let reports = reports();
    let steps: usize = reports
        .iter()
        .flat_map(|(_, r)| r["findings"].as_array().cloned().unwrap_or_default())
        .map(|f| f["remediation"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(
        steps > 100,
        "only {steps} steps: the check would prove little"
    );
    let problems: Vec<String> = reports
        .iter()
        .flat_map(|(name, r)| problems_of(name, r))
        .collect();
    assert!(
        problems.is_empty(),
        "{} unsafe requests:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_checker_catches_each_unsafe_shape() {
    let step = |title: &str, request: &str, curl: &str, run_as: Option<&str>| {
        let mut s = serde_json::json!({"title": title, "request": request, "curl": curl});
        if let Some(r) = run_as {
            s["run_as"] = r.into();
        }
        s
    };
    let user = "curl -u \"$ES_USERNAME:$ES_PASSWORD\"";
    let report = serde_json::json!({"findings": [
        {"class": "invalidated", "key_id": "K1", "details": {}, "remediation": [
            step("Create", "POST /_security/api_key\n{\"name\":\"x\",\"role_descriptors\":{}}", user, Some("user")),
            step("Only then invalidate", "DELETE /_security/api_key\n{\"ids\":[\"K1\"]}", user, Some("user")),
            step("Verify the new key", "GET /_security/_authenticate", "curl -H \"Authorization: ApiKey $ES_API_KEY\"", Some("user")),
        ]},
        {"class": "invalidated", "key_id": "K3", "details": {"invalidated_by": {"user": "jdoe"}}, "remediation": [
            step("Find who invalidated it, and when", "GET /_security/api_key?id=K3", user, Some("user")),
        ]},
        {"class": "under_privileged", "key_id": "K2", "details": {}, "remediation": [
            step("Add it", "PUT /_security/api_key/K2\n{\"role_descriptors\":{\"a\":{\"cluster\":[\"monitor\"]}}}", "curl -H \"Authorization: ApiKey $ES_API_KEY\"", None),
        ]},
    ]});
    let problems = problems_of("planted", &report);
    for expected in [
        "create with empty role_descriptors",
        "invalidates a key already invalidated",
        "verify step not run as the new key",
        "verify curl uses another credential",
        "an update that runs as pasted",
        "create/update curl authenticates with an API key",
        "create/update curl without user credentials",
        "a request without run_as",
        "asks who invalidated the key",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "missed `{expected}`: {problems:#?}"
        );
    }
}

#[test]
fn every_step_is_typed_and_each_plan_takes_one_path() {
    let reports = reports();
    let mut steps_seen = 0;
    for (name, report) in &reports {
        for f in report["findings"].as_array().unwrap() {
            let steps = f["remediation"].as_array().unwrap();
            let paths: std::collections::BTreeSet<&str> =
                steps.iter().filter_map(|s| s["path"].as_str()).collect();
            assert!(
                paths.len() <= 1,
                "{name}: a plan with both an update and a rotation: {paths:?}"
            );
            for s in steps {
                steps_seen += 1;
                let who = s["who"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: no who: {s}"));
                let place = s["where"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: no where: {s}"));
                assert!(
                    [
                        "cluster",
                        "querying_cluster",
                        "fulfilling_cluster",
                        "kibana",
                        "client"
                    ]
                    .contains(&place),
                    "{name}: {place}"
                );
                match s["request"].as_str() {
                    Some(request) => {
                        assert_eq!(Some(who), s["run_as"].as_str(), "{name}: {s}");
                        let (method, path, body) = parts(request);
                        if let Some(http) = s.get("http") {
                            assert_eq!(http["method"], method.as_str(), "{name}: {s}");
                            let typed = http["path"].as_str().unwrap();
                            assert_eq!(typed.split('?').next(), Some(path.as_str()), "{name}: {s}");
                            assert!(
                                request.lines().next().unwrap().ends_with(typed),
                                "{name}: {s}"
                            );
                            if let Some(body) = body {
                                assert_eq!(http["body"], body, "{name}: {s}");
                            }
                        } else {
                            // Only a command line (the keystore) has no typed request.
                            assert!(!request.starts_with(['G', 'P', 'D']), "{name}: {s}");
                        }
                    }
                    None => assert_eq!(who, "nobody", "{name}: {s}"),
                }
            }
        }
    }
    assert!(steps_seen > 100, "{steps_seen}");
}

#[test]
fn fleet_steps_and_the_deploy_step_follow_the_client() {
    let titles_and_texts = |input: &str| -> Vec<String> {
        let r = crate::support::explain_json(input);
        r["findings"][0]["remediation"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{} | {}",
                    s["title"].as_str().unwrap(),
                    s["text"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    let fleet_step = |steps: &[String]| {
        steps
            .iter()
            .any(|s| s.starts_with("If the client is a Fleet-managed"))
    };
    let body = r#"401 Unauthorized: {"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":"API key: api key [4qVxOY8BovXTWRJMh7gg] has been invalidated"}]},"status":401}"#;
    // A standalone Filebeat: no Fleet step, the deploy step says what Filebeat takes.
    let beat = format!(
        r#"{{"log.level":"error","message":"Failed to connect to backoff(elasticsearch(https://es:9200)): {}","service.name":"filebeat"}}"#,
        body.replace('"', "\\\"")
    );
    let steps = titles_and_texts(&beat);
    assert!(!fleet_step(&steps), "{steps:#?}");
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("Deploy the new key to filebeat") && s.contains("id:api_key")),
        "{steps:#?}"
    );
    // An Elastic Agent component (managed or not): the Fleet step stays, beside the agent's deploy.
    let agent = beat.replace(r#""service.name":"filebeat""#, r#""component":{"binary":"filebeat","dataset":"elastic_agent.filebeat","id":"filestream-default"}"#);
    let steps = titles_and_texts(&agent);
    assert!(fleet_step(&steps), "{steps:#?}");
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("Deploy the new key to Elastic Agent")),
        "{steps:#?}"
    );
    // A Fleet-managed agent (its Fleet check-in logger): the deploy step is the re-enrolment,
    // so no second Fleet step.
    let managed = beat.replace(
        r#""service.name":"filebeat""#,
        r#""log.logger":"fleet_gateway""#,
    );
    let steps = titles_and_texts(&managed);
    assert!(!fleet_step(&steps), "{steps:#?}");
    assert!(
        steps
            .iter()
            .any(|s| s.contains("enrol it again with a current enrollment token")),
        "{steps:#?}"
    );
    // Unknown client: the Fleet step stays and the deploy step names every form.
    let steps = titles_and_texts(body);
    assert!(fleet_step(&steps), "{steps:#?}");
    assert!(
        steps
            .iter()
            .any(|s| s.contains("for Beats, Elastic Agent standalone, Logstash and APM Server")),
        "{steps:#?}"
    );
}
