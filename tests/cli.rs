//! The command line as a user meets it: stdin, files, `-`, formats, exit codes, colours, hints.

use assert_cmd::Command;
use predicates::prelude::*;

use crate::support::{fixture, keydoctor, keydoctor_with, root, NOW};

const EXPIRED: &str = r#"{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":"API key: api key is expired"}]},"status":401}"#;

fn bin() -> Command {
    let mut cmd = Command::cargo_bin("keydoctor").unwrap();
    cmd.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("KEYDOCTOR_TEST_TTY")
        .env("COLUMNS", "80");
    cmd
}

#[test]
fn stdin_with_a_finding_exits_1() {
    bin()
        .args(["explain"])
        .write_stdin(EXPIRED)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[expired]"));
}

#[test]
fn input_without_a_failure_exits_0_and_says_so() {
    bin()
        .args(["explain"])
        .write_stdin("[2026-11-22T10:00:00,000][INFO ][o.e.n.Node] [node-1] started\n")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "No API-key failure found in 1 input.",
        ));
}

#[test]
fn files_and_dash_are_read_in_order() {
    let file = fixture("explain/server-7x.log");
    let out = bin()
        .args(["explain", "--format", "json", file.to_str().unwrap(), "-"])
        .write_stdin(EXPIRED)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).expect("JSON alone on stdout");
    assert_eq!(report["summary"]["inputs"], 2);
    let sources: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            f["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["source"].as_str().unwrap())
        })
        .collect();
    assert!(sources.contains(&"stdin"));
    assert!(sources.iter().any(|s| s.ends_with("server-7x.log")));
}

#[test]
fn json_is_alone_on_stdout_and_has_the_documented_shape() {
    let out = keydoctor(
        &[
            "explain",
            "--format",
            "json",
            "--now",
            NOW,
            fixture("explain/mixed-paste.txt").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["schema_version"], 2);
    for f in report["findings"].as_array().unwrap() {
        for field in [
            "class",
            "rule_id",
            "key_id",
            "summary",
            "explanation",
            "remediation",
            "evidence",
            "details",
            "count",
        ] {
            assert!(f.get(field).is_some(), "finding lacks {field}: {f}");
        }
        for ev in f["evidence"].as_array().unwrap() {
            let text = ev["text"].as_str().unwrap();
            for span in ev["spans"].as_array().unwrap() {
                let (s, e) = (
                    span["start"].as_u64().unwrap() as usize,
                    span["end"].as_u64().unwrap() as usize,
                );
                assert!(
                    s < e
                        && e <= text.len()
                        && text.is_char_boundary(s)
                        && text.is_char_boundary(e),
                    "{span} in {text}"
                );
            }
        }
    }
    // Most important first: errors before warnings, then by class.
    let classes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["class"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["missing", "under_privileged"]);
    assert_eq!(
        report["findings"][1]["count"], 2,
        "the two identical Logstash lines are one finding"
    );
}

#[test]
fn markdown_is_a_ticket_ready_report() {
    let out = keydoctor(
        &[
            "explain",
            "--format",
            "markdown",
            "--now",
            NOW,
            fixture("explain/agent-invalidated.log").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.code, 1);
    assert!(out.stdout.starts_with("# keydoctor report\n"));
    assert!(out.stdout.contains("## 1. `invalidated`"));
    assert!(out.stdout.contains("```text\n"));
    assert!(!out.stdout.contains('\u{1b}'), "no ANSI in Markdown");
}

#[test]
fn a_terminal_stdin_gets_a_one_line_hint_on_stderr() {
    let out = keydoctor_with(&["explain"], EXPIRED.as_bytes().to_vec(), true);
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr.lines().count(), 1);
    assert!(out.stderr.contains("Ctrl-D"));
    let piped = keydoctor_with(&["explain"], EXPIRED.as_bytes().to_vec(), false);
    assert!(piped.stderr.is_empty());
}

#[test]
fn the_test_hook_makes_the_real_binary_see_a_terminal() {
    bin()
        .args(["explain"])
        .env("KEYDOCTOR_TEST_TTY", "stdin")
        .write_stdin(EXPIRED)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Paste the error output"));
}

#[test]
fn colours_follow_the_flag_the_terminal_and_no_color() {
    let ansi = predicate::str::contains("\u{1b}[");
    bin()
        .args(["explain", "--color", "always"])
        .write_stdin(EXPIRED)
        .assert()
        .stdout(ansi.clone());
    bin()
        .args(["explain"])
        .write_stdin(EXPIRED)
        .assert()
        .stdout(ansi.clone().not());
    bin()
        .args(["explain"])
        .env("KEYDOCTOR_TEST_TTY", "stdout")
        .write_stdin(EXPIRED)
        .assert()
        .stdout(ansi.clone());
    bin()
        .args(["explain"])
        .env("KEYDOCTOR_TEST_TTY", "stdout")
        .env("NO_COLOR", "1")
        .write_stdin(EXPIRED)
        .assert()
        .stdout(ansi.not());
}

#[test]
fn usage_errors_exit_2() {
    bin().args(["explain", "--format", "yaml"]).assert().code(2);
    bin()
        .args(["explain", "--es-version", "eight"])
        .write_stdin(EXPIRED)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a version"));
    bin().args(["frobnicate"]).assert().code(2);
    // A timeout that would overflow the clock is a usage error, not a panic.
    bin()
        .args([
            "key",
            "VuaCfGcBCdbkQm-e5aOx",
            "--es-url",
            "http://127.0.0.1:9",
        ])
        .args(["--timeout", "9223372036854775807"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not in 1..=86400"));
}

#[test]
fn help_and_version_exit_0_and_document_exit_codes() {
    bin()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Exit codes"));
    bin().arg("--version").assert().code(0);
}

#[test]
fn the_version_names_the_commit_and_counts_the_embedded_rules_and_checks() {
    let out = keydoctor(&["--version"], "");
    assert_eq!(out.code, 0);
    let list: serde_json::Value =
        serde_json::from_str(&keydoctor(&["rules", "list", "--format", "json"], "").stdout)
            .unwrap();
    let rules = list["rules"].as_array().unwrap();
    let checks = rules.iter().filter(|r| r["kind"] == "check").count();
    let want = format!("{} rules, {checks} doctor checks)", rules.len() - checks);
    assert!(out.stdout.contains(&want), "{}: wants {want}", out.stdout);
    assert!(out
        .stdout
        .starts_with(concat!("keydoctor ", env!("CARGO_PKG_VERSION"), " (")));
    // Built from this checkout, the commit is the one git names (a build outside git says
    // "commit unknown" instead).
    let head = std::process::Command::new("git")
        .args(["log", "-1", "--format=%h", "--abbrev=12"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        Some(head) => assert!(out.stdout.contains(&head), "{} lacks {head}", out.stdout),
        None => assert!(out.stdout.contains("commit unknown"), "{}", out.stdout),
    }
}

#[test]
fn a_closed_stdout_is_a_quiet_exit() {
    // `keydoctor explain big.log | head -1`: the pipe closes early; no panic, no error text.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("keydoctor"))
        .args([
            "explain",
            fixture("explain/mixed-paste.txt").to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 1),
        "{:?}",
        out.status
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn es_version_makes_update_steps_version_aware() {
    let input = std::fs::read_to_string(fixture("explain/bulk-403-with-metadata.txt")).unwrap();
    let old = keydoctor(
        &["explain", "--format", "json", "--es-version", "8.3"],
        &input,
    );
    let report: serde_json::Value = serde_json::from_str(&old.stdout).unwrap();
    let steps = report["findings"][0]["remediation"].as_array().unwrap();
    let titles: Vec<&str> = steps.iter().map(|s| s["title"].as_str().unwrap()).collect();
    // Keys cannot be updated before 8.4: one path, the rotation, and no update step at all.
    assert!(
        !titles.iter().any(|t| t.contains("Add exactly")),
        "{titles:?}"
    );
    assert!(
        titles.iter().any(|t| t.contains("Create the replacement")),
        "{titles:?}"
    );
    assert!(
        steps.iter().all(|s| !s["request"]
            .as_str()
            .unwrap_or("")
            .starts_with("PUT /_security/api_key")),
        "{titles:?}"
    );

    let new = keydoctor(
        &["explain", "--format", "json", "--es-version", "8.12"],
        &input,
    );
    let report: serde_json::Value = serde_json::from_str(&new.stdout).unwrap();
    let steps = report["findings"][0]["remediation"].as_array().unwrap();
    let update = steps
        .iter()
        .find(|s| s["title"].as_str().unwrap().contains("Add exactly"))
        .unwrap();
    let request = update["request"].as_str().unwrap();
    assert!(request.starts_with("PUT /_security/api_key/VuaCfGcBCdbkQm-e5aOx"));
    // The update replaces role_descriptors: the key's current descriptor stays in the body.
    let body: serde_json::Value =
        serde_json::from_str(request.split_once('\n').unwrap().1).unwrap();
    assert!(body["role_descriptors"]["shipper"].is_object(), "{body}");
    assert_eq!(
        body["role_descriptors"]["grant-create_doc"]["indices"][0]["names"][0],
        "logs-payments-default"
    );
    assert!(update["curl"].as_str().unwrap().contains("-X PUT"));
    // From 8.4 the plan updates the key in place: no replacement key besides.
    assert!(
        !steps.iter().any(|s| s["title"]
            .as_str()
            .unwrap()
            .contains("Create the replacement")),
        "{steps:?}"
    );
}

#[test]
fn rules_test_and_lint_pass_on_the_bundled_rules() {
    bin()
        .args(["rules", "test"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(" 0 failed"));
    bin()
        .args(["rules", "lint"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("0 errors, 0 warnings"));
    let out = bin()
        .args(["rules", "list", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let list: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(list["rules"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["id"].is_string() && r["class"].is_string() && r["source"].is_string()));
}

#[test]
fn a_bad_rules_dir_exits_2_with_a_labelled_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("expired")).unwrap();
    std::fs::write(
        dir.path().join("expired/x.toml"),
        "id = \"x\"\nclass = \"expired\"\nremediaton = 1\n",
    )
    .unwrap();
    bin()
        .args(["explain", "--rules", dir.path().to_str().unwrap()])
        .write_stdin(EXPIRED)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("x.toml")
                .and(predicate::str::contains("keydoctor::rule::toml")),
        );
}

#[test]
fn output_writes_the_report_whole_to_its_file_and_a_failed_run_leaves_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("report.json");
    let t = target.to_str().unwrap();
    let incident = crate::support::root().join("fixtures/scan/incident");
    let incident = incident.to_str().unwrap();
    let direct = keydoctor(
        &[
            "scan",
            incident,
            "--format",
            "json",
            "--now",
            NOW,
            "--no-config",
        ],
        "",
    );
    let out = keydoctor(
        &[
            "scan",
            incident,
            "--format",
            "json",
            "--now",
            NOW,
            "--no-config",
            "--output",
            t,
        ],
        "",
    );
    // The same report and exit status as on stdout; stdout itself stays empty.
    assert_eq!(out.code, direct.code);
    assert_eq!(out.stdout, "");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), direct.stdout);

    // A run that fails keeps the old report and leaves no temp file; its JSON error is on stdout.
    let failed = keydoctor(
        &["scan", "/nonexistent/logs", "--format", "json", "-o", t],
        "",
    );
    assert_eq!(failed.code, 2);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), direct.stdout);
    let error: serde_json::Value = serde_json::from_str(&failed.stdout).unwrap();
    assert!(error["error"]["message"].is_string(), "{}", failed.stdout);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.json"]);

    // The file goes through the one redacting writer, like stdout.
    let key = "Authorization: ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWk2bHAyYXhUTm1zeWFrdzl0dk5udw==\n{\"error\":{\"type\":\"security_exception\",\"reason\":\"unable to authenticate with provided credentials and anonymous access is not allowed for this request\"},\"status\":401}\n";
    let md = dir.path().join("paste.md");
    let out = keydoctor(
        &[
            "explain",
            "--format",
            "markdown",
            "-o",
            md.to_str().unwrap(),
        ],
        key,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.contains("401") || text.contains("authenticate"),
        "{text}"
    );
    assert!(
        !text.contains("dWk2bHAyYXhUTm1zeWFrdzl0dk5udw")
            && !text.contains("VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6"),
        "{text}"
    );
}

#[test]
fn output_is_refused_with_follow_and_in_a_missing_directory() {
    let out = keydoctor(&["scan", ".", "--follow", "--output", "x.json"], "");
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--output with --follow"),
        "{}",
        out.stderr
    );
    let out = keydoctor(&["explain", "--output", "/nonexistent/dir/x.md"], "");
    assert_eq!(out.code, 2);
    assert!(
        crate::support::flat(&out.stderr).contains("does not exist"),
        "{}",
        out.stderr
    );
}

#[test]
fn completions_are_valid_scripts_that_know_every_command_and_flag() {
    let commands = [
        "explain",
        "scan",
        "key",
        "expiring",
        "rotate",
        "impact",
        "doctor",
        "rules",
        "completions",
        "man",
    ];
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = keydoctor(&["completions", shell], "");
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        // fish names a flag without its dashes (`-l since`).
        for word in commands
            .iter()
            .chain(&["since", "output", "max-findings", "as-of"])
        {
            assert!(out.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    // The bash script parses (bash is on every machine this runs on).
    let bash = keydoctor(&["completions", "bash"], "").stdout;
    let mut child = std::process::Command::new("bash")
        .arg("-n")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), bash.as_bytes()).unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let out = keydoctor(&["completions", "tcsh"], "");
    assert_eq!(out.code, 2);
}

#[test]
fn man_prints_the_page_and_writes_one_per_command() {
    let page = keydoctor(&["man"], "");
    assert_eq!(page.code, 0, "{}", page.stderr);
    assert!(
        page.stdout.contains(".TH keydoctor 1"),
        "{}",
        &page.stdout[..200.min(page.stdout.len())]
    );
    assert!(page.stdout.contains("Exit codes"));
    let dir = tempfile::tempdir().unwrap();
    let out = keydoctor(&["man", "--dir", dir.path().to_str().unwrap()], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    for command in [
        "explain", "scan", "key", "expiring", "rotate", "impact", "doctor", "rules",
    ] {
        let path = dir.path().join(format!("keydoctor-{command}.1"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            text.contains(&format!(".TH keydoctor-{command} 1")),
            "{command}"
        );
        // The synopsis is the command as typed, and its examples are there.
        assert!(text.contains(&format!("keydoctor {command}")), "{command}");
        assert!(out.stdout.contains(&path.display().to_string()));
    }
    let scan = std::fs::read_to_string(dir.path().join("keydoctor-scan.1")).unwrap();
    assert!(scan.contains("Examples"), "{scan}");
}

#[test]
fn as_of_is_now_and_takes_a_date() {
    let meta = crate::support::root().join("fixtures/scan/incident/api_keys.json");
    let meta = meta.to_str().unwrap();
    let run = |flag: &str, when: &str| {
        keydoctor(
            &[
                "expiring",
                "--metadata",
                meta,
                "--within",
                "30d",
                "--format",
                "json",
                flag,
                when,
            ],
            "",
        )
    };
    let now = run("--now", "2026-11-23T00:00:00Z");
    for (flag, when) in [
        ("--as-of", "2026-11-23"),
        ("--now", "2026-11-23T00:00"),
        ("--as-of", "2026-11-23T00:00:00+00:00"),
    ] {
        let other = run(flag, when);
        assert_eq!(
            (other.code, &other.stdout),
            (now.code, &now.stdout),
            "{flag} {when}: {}",
            other.stderr
        );
    }
    let bad = run("--as-of", "last tuesday");
    assert_eq!(bad.code, 2);
    assert!(
        crate::support::flat(&bad.stderr).contains("is not a time"),
        "{}",
        bad.stderr
    );
}
