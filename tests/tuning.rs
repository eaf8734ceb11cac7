//! Local tuning for CI and cron: suppressions (`.keydoctor.toml`, `--config`), `--fail-on`,
//! `--exit-zero`, and `rules test --junit`.

use assert_cmd::Command;
use serde_json::Value;

use crate::support::{fixture, keydoctor, root, NOW};

fn config(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

fn scan_with(config: &str, extra: &[&str]) -> (u8, Value) {
    let file = self::config(config);
    let incident = fixture("scan/incident");
    let mut args = vec![
        "scan",
        incident.to_str().unwrap(),
        "--format",
        "json",
        "--now",
        NOW,
        "--config",
        file.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = keydoctor(&args, "");
    assert!(out.code < 2, "{}", out.stderr);
    (out.code, serde_json::from_str(&out.stdout).unwrap())
}

fn keys(report: &Value, field: &str) -> Vec<String> {
    report[field]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["key_id"].as_str().unwrap_or("-").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn suppressions_move_findings_aside_with_their_reason() {
    let (code, r) = scan_with(
        r#"
[[suppress]]
key = "VuaCfGcBCdbkQm-e5aOx"
reason = "decommissioned Filebeat, invalidated on purpose (CHG-1234)"

[[suppress]]
client = "10.0.1.0/24"
class = "expired"
reason = "the staging Logstash"

[[suppress]]
rule = "api-keys-not-enabled"
reason = "not this cluster"
"#,
        &[],
    );
    assert_eq!(code, 1, "one finding is left");
    assert_eq!(keys(&r, "findings"), ["j7c0WYIBqecB5CbVR6Oq"]);
    assert_eq!(
        keys(&r, "suppressed"),
        ["VuaCfGcBCdbkQm-e5aOx", "zcwN3YEBBmnjw-K-hW5_"]
    );
    let first = &r["suppressed"][0];
    assert_eq!(first["class"], "invalidated");
    assert_eq!(first["rule_id"], "api-key-invalidated");
    assert_eq!(first["count"], 16);
    assert_eq!(
        first["reason"],
        "decommissioned Filebeat, invalidated on purpose (CHG-1234)"
    );
    assert!(
        first["by"].as_str().unwrap().ends_with(".toml:2"),
        "{first}"
    );
    assert!(
        r["summary"]["text"]
            .as_str()
            .unwrap()
            .ends_with("(2 suppressed)."),
        "{}",
        r["summary"]["text"]
    );
    let notes: Vec<&str> = r["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["message"].as_str().unwrap())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains(".toml:11 matched nothing")),
        "{notes:?}"
    );

    // Everything suppressed: a clean exit, and the human and Markdown reports list them.
    let everything = config(
        "[[suppress]]\nclass = \"invalidated\"\nreason = \"a\"\n[[suppress]]\nclass = \"expired\"\nreason = \"b\"\n[[suppress]]\nclass = \"under_privileged\"\nreason = \"c\"\n",
    );
    let incident = fixture("scan/incident");
    for (format, marker) in [
        (
            "human",
            "suppressed: invalidated VuaCfGcBCdbkQm-e5aOx (api-key-invalidated, 16×): a [",
        ),
        (
            "markdown",
            "## Suppressed\n\n- invalidated VuaCfGcBCdbkQm-e5aOx",
        ),
    ] {
        let out = keydoctor(
            &[
                "scan",
                incident.to_str().unwrap(),
                "--format",
                format,
                "--config",
                everything.path().to_str().unwrap(),
            ],
            "",
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains(marker), "{format}:\n{}", out.stdout);
        assert!(out.stdout.contains("(3 suppressed)."), "{}", out.stdout);
    }
}

#[test]
fn a_client_suppression_needs_every_client_of_the_finding() {
    // 10.0.0.7 is the only client of the invalidated key: silenced. A /32 elsewhere is not.
    let (_, r) = scan_with(
        "[[suppress]]\nclient = \"10.0.0.7\"\nreason = \"load test\"\n",
        &[],
    );
    assert_eq!(keys(&r, "suppressed"), ["VuaCfGcBCdbkQm-e5aOx"]);
    let (_, r) = scan_with(
        "[[suppress]]\nclient = \"10.9.0.0/16\"\nreason = \"elsewhere\"\n",
        &[],
    );
    assert!(keys(&r, "suppressed").is_empty());
}

#[test]
fn a_lapsed_suppression_reports_again_and_says_so() {
    let (_, r) = scan_with(
        "[[suppress]]\nkey = \"VuaCfGcBCdbkQm-e5aOx\"\nreason = \"until the change window\"\nuntil = \"2026-11-01\"\n",
        &[],
    );
    assert!(keys(&r, "findings").contains(&"VuaCfGcBCdbkQm-e5aOx".to_string()));
    assert!(keys(&r, "suppressed").is_empty());
    let notes = r["notes"].to_string();
    assert!(notes.contains("lapsed on 2026-11-01"), "{notes}");
}

#[test]
fn a_broken_config_is_an_error_naming_file_line_and_field() {
    let file = config("[[suppress]]\nclass = \"expird\"\nreason = \"x\"\n\n[[suppress]]\nrule = \"generic-401\"\n");
    let out = keydoctor(
        &["explain", "--config", file.path().to_str().unwrap()],
        "api key is expired",
    );
    assert_eq!(out.code, 2);
    let err = crate::support::flat(&out.stderr);
    assert!(err.contains("keydoctor::config"), "{err}");
    assert!(
        err.contains("line 2: `class`: unknown class `expird`"),
        "{err}"
    );
    assert!(err.contains("line 5: `reason`"), "{err}");
}

#[test]
fn the_config_in_the_working_directory_is_found_and_can_be_ignored() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".keydoctor.toml"),
        "[[suppress]]\nclass = \"expired\"\nreason = \"known\"\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::cargo_bin("keydoctor")
            .unwrap()
            .current_dir(dir.path())
            .args(["explain", "--format", "json"])
            .args(extra)
            .write_stdin("api key is expired")
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["suppressed"][0]["by"], ".keydoctor.toml:1");
    let out = run(&["--no-config"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn fail_on_and_exit_zero_decide_the_exit_status() {
    // The JavaScript client's bare `ResponseError: security_exception` is a warning.
    let warning = "ResponseError: security_exception\n";
    let error = "api key is expired\n";
    let code = |input: &str, extra: &[&str]| {
        let mut args = vec!["explain", "--format", "json"];
        args.extend_from_slice(extra);
        keydoctor(&args, input).code
    };
    assert_eq!(code(warning, &[]), 1);
    assert_eq!(code(warning, &["--fail-on", "warning"]), 1);
    assert_eq!(code(warning, &["--fail-on", "error"]), 0);
    assert_eq!(code(error, &["--fail-on", "error"]), 1);
    assert_eq!(code(error, &["--exit-zero"]), 0);
    assert_eq!(
        code("", &["--exit-zero"]),
        2,
        "an input error is still an error"
    );
    assert_eq!(code(error, &["--fail-on", "fatal"]), 2);
}

#[test]
fn rules_test_writes_junit_for_ci() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("rules.xml");
    let out = keydoctor(&["rules", "test", "--junit", junit.to_str().unwrap()], "");
    assert_eq!(out.code, 0, "{}", out.stdout);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let cases = xml.matches("<testcase ").count();
    assert!(cases >= 80, "{cases}");
    assert!(
        xml.contains(&format!(
            "<testsuites name=\"keydoctor rules\" tests=\"{cases}\" failures=\"0\">"
        )),
        "{xml}"
    );
    assert!(!xml.contains("<failure"));
    // A failing custom example becomes a <failure> with the diff, escaped.
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(rules.join("expired")).unwrap();
    let rule = std::fs::read_to_string(root().join("rules/expired/api-key-expired.toml"))
        .unwrap()
        .replace("g_PqP4IBcBaEQdwM5-WI\" }", "g_PqP4IBcBaEQdwM5-XX\" }");
    std::fs::write(rules.join("expired/api-key-expired.toml"), rule).unwrap();
    let out = keydoctor(
        &[
            "rules",
            "test",
            rules.to_str().unwrap(),
            "--filter",
            "^api-key-expired$",
            "--junit",
            junit.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.code, 1);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"4\" failures=\"1\""), "{xml}");
    assert!(
        xml.contains("<failure message=\"expected (-) and actual (+):\">"),
        "{xml}"
    );
    assert!(
        xml.contains("- key_id = &quot;g_PqP4IBcBaEQdwM5-XX&quot;"),
        "{xml}"
    );
}

#[test]
fn the_junit_file_passes_the_redacting_writer_too() {
    // A site's rule whose example was named after a pasted header: the file holds no secret.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("expired")).unwrap();
    let bundled =
        std::fs::read_to_string(crate::support::root().join("rules/expired/api-key-expired.toml"))
            .unwrap();
    let encoded = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==";
    let renamed = bundled.replacen(
        "name = \"",
        &format!("name = \"Authorization: ApiKey {encoded} — "),
        1,
    );
    std::fs::write(dir.path().join("expired/api-key-expired.toml"), renamed).unwrap();
    let junit = dir.path().join("rules.xml");
    let out = keydoctor(
        &[
            "rules",
            "test",
            dir.path().to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("Authorization: ApiKey"), "{xml}");
    assert!(!xml.contains(encoded), "{xml}");
}
