//! Every JSON output has a committed JSON Schema (`schemas/`), generated from the wire structs
//! that write it: the committed files are current, and real outputs validate against them.
//! After a deliberate change to an output, `KEYDOCTOR_BLESS=1 cargo test schemas` rewrites them
//! (review the diff: fields are only ever added).

use serde_json::Value;

use crate::support::{keydoctor, root, NOW};

fn committed(name: &str) -> Value {
    let path = root().join("schemas").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_committed_schemas_are_the_wire_structs() {
    let bless = std::env::var_os("KEYDOCTOR_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, schema) in keydoctor::json_schemas() {
        let path = root().join("schemas").join(name);
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "schemas/ differs from the wire structs for {stale:?}: KEYDOCTOR_BLESS=1 cargo test schemas, then review the diff"
    );
}

/// `value` is valid against `schemas/<name>`.
pub(crate) fn assert_valid(name: &str, value: &Value) {
    let schema = committed(name);
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}");
}

fn json_of(args: &[&str]) -> Value {
    let out = keydoctor(args, "");
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}\n{}\n{}", out.stdout, out.stderr))
}

/// `keydoctor COMMAND --format json --now NOW --no-config ARGS…`, parsed.
fn report_of(command: &str, args: &[&str]) -> Value {
    let mut argv = vec![command, "--format", "json", "--now", NOW, "--no-config"];
    argv.extend_from_slice(args);
    json_of(&argv)
}

#[test]
fn the_reports_of_explain_and_scan_validate_and_carry_their_version() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("fixtures/explain")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let report = report_of("explain", &[path.to_str().unwrap()]);
        assert_valid("report.schema.json", &report);
        assert_eq!(report["schema_version"], 2);
        n += 1;
    }
    assert!(n >= 5, "{n}");
    for tree in [
        "fixtures/scan/incident",
        "fixtures/scan/bundle",
        "fixtures/matrix",
    ] {
        let path = root().join(tree);
        if !path.exists() {
            continue;
        }
        let report = report_of("scan", &[path.to_str().unwrap()]);
        assert_valid("report.schema.json", &report);
    }
    let two = report_of(
        "scan",
        &[
            root()
                .join("fixtures/two-cluster/search-prod")
                .to_str()
                .unwrap(),
            "--remote-logs",
            root()
                .join("fixtures/two-cluster/logs-eu")
                .to_str()
                .unwrap(),
        ],
    );
    assert!(two.get("two_sided").is_some());
    assert_valid("report.schema.json", &two);
}

#[test]
fn the_key_commands_outputs_validate_and_carry_their_version() {
    let meta = root().join("fixtures/scan/incident/api_keys.json");
    let meta = meta.to_str().unwrap();
    let logs = root().join("fixtures/scan/incident");
    let logs = logs.to_str().unwrap();
    let id = "VuaCfGcBCdbkQm-e5aOx";
    let base = ["--metadata", meta, "--now", NOW, "--format", "json"];
    for (name, args) in [
        ("key.schema.json", vec!["key", id]),
        ("key.schema.json", vec!["key", "AAAAAAAAAAAAAAAAAAAA"]),
        (
            "rotate.schema.json",
            vec![
                "rotate",
                id,
                "--curl",
                "--add-index-privilege",
                "logs-*:read",
            ],
        ),
        ("impact.schema.json", vec!["impact", id, "--logs", logs]),
        (
            "expiring.schema.json",
            vec![
                "expiring",
                "--within",
                "3650d",
                "--include-no-expiry",
                "--logs",
                logs,
            ],
        ),
        ("expiring.schema.json", vec!["expiring"]),
    ] {
        let mut argv = args.clone();
        argv.extend(base);
        let out = keydoctor(&argv, "");
        let value: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{argv:?}: {e}\n{}\n{}", out.stdout, out.stderr));
        assert_valid(name, &value);
        // rotate's steps became the report's steps (version 2), and it gained `replay` (3).
        let version = if name == "rotate.schema.json" { 3 } else { 1 };
        assert_eq!(value["schema_version"], version, "{argv:?}");
    }
    // The privilege commands, on their own fixtures.
    let fixture = |p: &str| root().join("fixtures").join(p).display().to_string();
    let (keys, audit, narrower, can_keys) = (
        fixture("replay/api_keys.json"),
        fixture("replay/audit"),
        fixture("replay/narrower.json"),
        fixture("can/api_keys.json"),
    );
    let replayed = "Lg5HsK8pQw2eRt7yUi4o";
    for (name, version, argv) in [
        (
            "rotate.schema.json",
            3,
            vec![
                "rotate",
                replayed,
                "--metadata",
                &keys,
                "--replay",
                &audit,
                "--role-descriptors",
                &narrower,
            ],
        ),
        (
            "suggest.schema.json",
            1,
            vec!["suggest", replayed, "--metadata", &keys, "--logs", &audit],
        ),
        (
            "can.schema.json",
            1,
            vec![
                "can",
                "Yh6JkL9mNq2rSt5vWx8z",
                "GET /tenant-a-logs/_doc/1",
                "--metadata",
                &can_keys,
                "--curl",
            ],
        ),
        (
            "can.schema.json",
            1,
            vec![
                "can",
                "Yh6JkL9mNq2rSt5vWx8z",
                "GET /logs-shared/_doc/42",
                "--metadata",
                &can_keys,
            ],
        ),
    ] {
        let mut argv = argv.clone();
        argv.extend(["--now", NOW, "--format", "json"]);
        let out = keydoctor(&argv, "");
        let value: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{argv:?}: {e}\n{}\n{}", out.stdout, out.stderr));
        assert_valid(name, &value);
        assert_eq!(value["schema_version"], version, "{argv:?}");
    }
}

#[test]
fn a_schema_refuses_what_the_output_never_has() {
    // The schemas are strict where the structs are: a renamed field does not validate.
    let mut report = json_of(&[
        "key",
        "VuaCfGcBCdbkQm-e5aOx",
        "--metadata",
        root()
            .join("fixtures/scan/incident/api_keys.json")
            .to_str()
            .unwrap(),
        "--now",
        NOW,
        "--format",
        "json",
    ]);
    report["state"] = Value::from(7);
    let validator = jsonschema::validator_for(&committed("key.schema.json")).unwrap();
    assert!(validator.iter_errors(&report).next().is_some());
}

#[test]
fn the_lines_of_scan_follow_validate() {
    use keydoctor::source::Input;
    let (rules, _) = keydoctor::rule::load(None).unwrap();
    let doc = keydoctor::event::parse_paste(&Input {
        name: "x".into(),
        text: "[2026-11-21T10:00:01,000][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-1] Authentication using apikey failed - api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated\n".into(),
    });
    let d = keydoctor::diagnosis::diagnose(
        &[doc],
        &rules,
        Vec::new(),
        &keydoctor::diagnosis::Options::new(None, 0),
    );
    let f = &d.findings[0];
    let target = keydoctor::report::CurlTarget {
        url: None,
        ca_cert: None,
    };
    for line in [
        keydoctor::report::json::finding_event(f, &target),
        keydoctor::report::json::count_event(f, 1),
    ] {
        assert!(!line.contains('\n'), "{line}");
        assert_valid(
            "follow-event.schema.json",
            &serde_json::from_str(&line).unwrap(),
        );
    }
}

#[test]
fn under_format_json_an_error_is_a_json_object_on_stdout() {
    for args in [
        vec![
            "key",
            "AAAAAAAAAAAAAAAAAAAA",
            "--metadata",
            "/nonexistent/keys.json",
        ],
        vec!["doctor", "--es-url", "https://127.0.0.1:1"],
        vec!["scan", "/nonexistent/logs"],
        vec![
            "expiring",
            "--within",
            "two weeks",
            "--metadata",
            "/nonexistent/keys.json",
        ],
    ] {
        let mut argv = args.clone();
        argv.extend(["--format", "json"]);
        let out = keydoctor(&argv, "");
        assert_eq!(out.code, 2, "{argv:?}: {}", out.stderr);
        let doc: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{argv:?}: {e}\n{}", out.stdout));
        assert_valid("error.schema.json", &doc);
        assert!(
            doc["error"]["code"]
                .as_str()
                .is_some_and(|c| c.starts_with("keydoctor::")),
            "{doc}"
        );
        // People still read it on stderr.
        assert!(!out.stderr.is_empty(), "{argv:?}");
    }
    // Without --format json, stdout stays empty.
    let out = keydoctor(&["doctor", "--es-url", "https://127.0.0.1:1"], "");
    assert_eq!((out.code, out.stdout.as_str()), (2, ""));
}

#[test]
fn the_rules_listing_validates_and_carries_its_version() {
    let list = json_of(&["rules", "list", "--format", "json"]);
    assert_valid("rules-list.schema.json", &list);
    assert_eq!(list["schema_version"], 1);
    let kinds: std::collections::BTreeSet<&str> = list["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["check", "message"].into_iter().collect());
}
