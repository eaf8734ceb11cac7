//! The monitoring formats, parsed by their contracts: `--format nagios` (the Nagios plugin
//! guidelines: first line `STATE: text | perfdata`, exit 0 OK, 1 WARNING, 2 CRITICAL,
//! 3 UNKNOWN, keydoctor's own failure UNKNOWN) and `--format openmetrics` (OpenMetrics text:
//! families with TYPE before their samples, escaped label values, `# EOF` last).

use std::collections::{BTreeMap, BTreeSet};

use crate::cluster::SECRET_KEY;
use crate::support::replay::Replay;
use crate::support::{keydoctor, keydoctor_env, root, Output};

/// A plugin's output as its contract reads it.
#[derive(Debug)]
struct Plugin {
    state: String,
    text: String,
    perf: BTreeMap<String, (f64, String, Vec<String>)>,
    long: Vec<String>,
}

/// Parse by the guidelines: `STATE: text` then, after one `|`, `label=value[uom];warn;crit;min;max`
/// items separated by spaces. Panics on anything the contract does not allow.
fn plugin(out: &Output) -> Plugin {
    let mut lines = out.stdout.lines();
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no output; stderr: {}", out.stderr));
    assert!(
        first.matches('|').count() <= 1,
        "more than one | in {first:?}"
    );
    let (head, perfdata) = first.split_once(" | ").unwrap_or((first, ""));
    let (state, text) = head.split_once(": ").unwrap_or_else(|| panic!("{first:?}"));
    assert!(
        ["OK", "WARNING", "CRITICAL", "UNKNOWN"].contains(&state),
        "{first:?}"
    );
    let want = match state {
        "OK" => 0,
        "WARNING" => 1,
        "CRITICAL" => 2,
        _ => 3,
    };
    assert_eq!(
        out.code, want,
        "exit status of {first:?}; stderr: {}",
        out.stderr
    );
    let mut perf = BTreeMap::new();
    for item in perfdata.split_whitespace() {
        let (label, rest) = item.split_once('=').unwrap_or_else(|| panic!("{item:?}"));
        assert!(
            !label.is_empty() && !label.contains(['\'', '=']),
            "{item:?}"
        );
        let mut fields = rest.split(';');
        let value = fields.next().unwrap();
        let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%');
        let unit = &value[digits.len()..];
        assert!(
            ["", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c"].contains(&unit),
            "{item:?}"
        );
        let number: f64 = digits.parse().unwrap_or_else(|_| panic!("{item:?}"));
        let rest: Vec<String> = fields.map(str::to_string).collect();
        assert!(rest.len() <= 4, "{item:?}");
        for range in &rest {
            // A threshold range: [@][start:][end], start may be ~.
            let r = range.trim_start_matches('@');
            assert!(
                r.chars().all(|c| c.is_ascii_digit() || ":~.-".contains(c)),
                "{item:?}"
            );
        }
        assert!(
            perf.insert(label.to_string(), (number, unit.to_string(), rest))
                .is_none(),
            "{item:?} twice"
        );
    }
    let long: Vec<String> = lines.map(str::to_string).collect();
    for line in &long {
        assert!(
            !line.contains('|'),
            "a | in long output starts perfdata: {line:?}"
        );
    }
    Plugin {
        state: state.to_string(),
        text: text.to_string(),
        perf,
        long,
    }
}

/// One sample of an OpenMetrics exposition.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parse OpenMetrics text strictly (the ABNF of the OpenMetrics spec, as far as keydoctor uses
/// it): metadata lines, samples after their family's TYPE, label values with only `\\`, `\"`
/// and `\n` escapes, names of `[a-zA-Z_:][a-zA-Z0-9_:]*`, `# EOF` last and once.
fn openmetrics(text: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
    let name_ok = |n: &str| {
        let mut cs = n.chars();
        cs.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    assert!(text.ends_with("# EOF\n"), "no # EOF at the end");
    let mut types = BTreeMap::new();
    let mut helped = BTreeSet::new();
    let mut samples = Vec::new();
    let mut current: Option<String> = None;
    let mut closed = BTreeSet::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if *line == "# EOF" {
            assert_eq!(i, lines.len() - 1, "# EOF before the end");
            continue;
        }
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (kind, name, rest) = (
                parts.next().unwrap(),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            assert!(name_ok(name), "{line:?}");
            if current.as_deref() != Some(name) {
                if let Some(prev) = current.replace(name.to_string()) {
                    closed.insert(prev);
                }
                assert!(
                    !closed.contains(name),
                    "family {name} interleaved: {line:?}"
                );
            }
            match kind {
                "TYPE" => {
                    assert!(
                        ["gauge", "counter", "stateset", "info", "unknown"].contains(&rest),
                        "{line:?}"
                    );
                    assert!(
                        types.insert(name.to_string(), rest.to_string()).is_none(),
                        "TYPE twice: {line:?}"
                    );
                }
                "UNIT" => assert!(
                    name.ends_with(&format!("_{rest}")),
                    "unit not the name's suffix: {line:?}"
                ),
                "HELP" => assert!(helped.insert(name.to_string()), "HELP twice: {line:?}"),
                _ => panic!("unknown metadata {line:?}"),
            }
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(at) => line.split_at(at),
            None => panic!("{line:?}"),
        };
        assert!(name_ok(name), "{line:?}");
        assert_eq!(
            current.as_deref(),
            Some(name),
            "a sample outside its family: {line:?}"
        );
        let mut labels = BTreeMap::new();
        let mut rest = rest;
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices().peekable();
            let end;
            loop {
                let start = chars.peek().map(|(i, _)| *i).unwrap();
                if inner[start..].starts_with('}') {
                    end = Some(start + 1);
                    break;
                }
                let eq = inner[start..]
                    .find("=\"")
                    .map(|e| start + e)
                    .unwrap_or_else(|| panic!("{line:?}"));
                let label = &inner[start..eq];
                assert!(name_ok(label), "{line:?}");
                let mut value = String::new();
                let mut j = eq + 2;
                let bytes: Vec<char> = inner[j..].chars().collect();
                let mut k = 0;
                loop {
                    let c = *bytes
                        .get(k)
                        .unwrap_or_else(|| panic!("unterminated label in {line:?}"));
                    match c {
                        '\\' => {
                            let next = bytes[k + 1];
                            value.push(match next {
                                '\\' => '\\',
                                '"' => '"',
                                'n' => '\n',
                                other => panic!("escape \\{other} in {line:?}"),
                            });
                            k += 2;
                        }
                        '"' => {
                            k += 1;
                            break;
                        }
                        c => {
                            assert!(!c.is_control(), "control character in {line:?}");
                            value.push(c);
                            k += 1;
                        }
                    }
                }
                j += bytes[..k].iter().map(|c| c.len_utf8()).sum::<usize>();
                assert!(
                    labels.insert(label.to_string(), value).is_none(),
                    "{line:?}"
                );
                while chars.peek().is_some_and(|(i, _)| *i < j) {
                    chars.next();
                }
                if inner[j..].starts_with(',') {
                    chars.next();
                }
            }
            rest = &inner[end.unwrap()..];
        }
        let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("{line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value of {line:?}"));
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    (types, samples)
}

fn metadata() -> String {
    root()
        .join("fixtures/scan/incident/api_keys.json")
        .display()
        .to_string()
}

fn expiring(args: &[&str]) -> Output {
    let meta = metadata();
    let mut argv = vec!["expiring", "--metadata", &meta];
    argv.extend_from_slice(args);
    keydoctor(&argv, "")
}

#[test]
fn expiring_as_a_plugin_is_ok_warning_or_critical_by_its_thresholds() {
    // The incident's keys: one expires 2026-11-20T08:00, one 2027-02-08T08:10 (and one is
    // invalidated).
    let ok = plugin(&expiring(&[
        "--format",
        "nagios",
        "--now",
        "2026-11-01T00:00:00Z",
    ]));
    assert_eq!(ok.state, "OK");
    assert!(ok.text.contains("no API key expires within 14d"), "{ok:?}");
    assert_eq!(ok.perf["expired"].0, 0.0);
    assert_eq!(ok.perf["keys"].0, 2.0);
    assert!(ok.long.is_empty(), "{ok:?}");

    let warning = plugin(&expiring(&[
        "--format",
        "nagios",
        "--now",
        "2026-11-10T00:00:00Z",
    ]));
    assert_eq!(warning.state, "WARNING", "{warning:?}");
    assert_eq!(warning.perf["warning"].0, 1.0);
    let soonest = &warning.perf["soonest_expiry"];
    assert_eq!(soonest.1, "s");
    assert_eq!(soonest.0, 10.0 * 86_400.0 + 8.0 * 3600.0);
    assert_eq!(
        soonest.2[..2],
        ["1209600:".to_string(), "259200:".to_string()]
    );
    assert!(
        warning.long[0].starts_with("WARNING key zcwN3YEBBmnjw-K-hW5_"),
        "{warning:?}"
    );

    let critical = plugin(&expiring(&[
        "--format",
        "nagios",
        "--now",
        "2026-11-19T00:00:00Z",
    ]));
    assert_eq!(critical.state, "CRITICAL", "{critical:?}");
    assert_eq!(critical.perf["critical"].0, 1.0);
    // A narrower --crit makes the same key a WARNING.
    let narrower = plugin(&expiring(&[
        "--format",
        "nagios",
        "--now",
        "2026-11-19T00:00:00Z",
        "--crit",
        "12h",
    ]));
    assert_eq!(narrower.state, "WARNING", "{narrower:?}");

    // Expired: CRITICAL whatever the thresholds (it fails now).
    let expired = plugin(&expiring(&[
        "--format",
        "nagios",
        "--now",
        "2026-11-23T00:00:00Z",
        "--crit",
        "1m",
    ]));
    assert_eq!(expired.state, "CRITICAL");
    assert!(expired.text.starts_with("1 API key expired"), "{expired:?}");
    assert!(
        expired.long[0].contains("expired 2d 15h ago"),
        "{expired:?}"
    );
}

#[test]
fn a_plugin_that_cannot_tell_is_unknown_never_critical() {
    for args in [
        vec![
            "expiring",
            "--format",
            "nagios",
            "--metadata",
            "/nonexistent/keys.json",
        ],
        // An unreachable cluster.
        vec![
            "expiring",
            "--format",
            "nagios",
            "--es-url",
            "http://127.0.0.1:1",
            "--timeout",
            "2",
        ],
        vec![
            "doctor",
            "--format",
            "nagios",
            "--es-url",
            "http://127.0.0.1:1",
            "--timeout",
            "2",
        ],
        // Flags that cannot be honoured.
        vec![
            "expiring",
            "--format",
            "nagios",
            "--metadata",
            "x.json",
            "--crit",
            "20d",
            "--warn",
            "14d",
        ],
        vec![
            "expiring",
            "--format",
            "nagios",
            "--metadata",
            "x.json",
            "--crit",
            "soon",
        ],
        vec![
            "expiring",
            "--format",
            "nagios",
            "--metadata",
            "x.json",
            "--output",
            "/nonexistent/dir/x",
        ],
    ] {
        let out = keydoctor_env(&args, &[("ES_API_KEY", SECRET_KEY)]);
        let p = plugin(&out);
        assert_eq!(p.state, "UNKNOWN", "{args:?}: {p:?}");
        assert!(
            !out.stderr.is_empty(),
            "{args:?}: the error is on stderr too"
        );
    }
}

#[test]
fn thresholds_are_refused_without_the_plugin_format_and_plugin_formats_elsewhere() {
    let out = expiring(&["--warn", "3d"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--format nagios"), "{}", out.stderr);
    for command in [
        vec!["explain"],
        vec!["scan", "."],
        vec!["key", "x", "--metadata", "k.json"],
    ] {
        for format in ["nagios", "openmetrics"] {
            let mut argv = command.clone();
            argv.extend(["--format", format]);
            let out = keydoctor(&argv, "");
            assert_eq!(out.code, 2, "{argv:?}");
            assert!(
                crate::support::flat(&out.stderr).contains("expiring and doctor"),
                "{argv:?}: {}",
                out.stderr
            );
        }
    }
}

/// Key metadata whose names and owners hold what breaks both formats: `|`, quotes,
/// backslashes, a newline and terminal escapes.
fn hostile_metadata(dir: &std::path::Path) -> String {
    let path = dir.join("keys.json");
    let doc = serde_json::json!({"api_keys": [
        {"id": "h0stileKeyId0000000a", "name": "a|b \"q\" back\\slash\nnext\u{1b}]0;pwned\u{7}", "type": "rest",
         "creation": 1_794_297_900_000_i64, "expiration": 1_795_161_600_000_i64, "invalidated": false,
         "username": "ev|l\"user", "realm": "native1"},
        {"id": "plainKeyId0000000000", "name": "plain", "type": "cross_cluster",
         "creation": 1_794_297_900_000_i64, "expiration": 1_900_000_000_000_i64, "invalidated": false,
         "username": "svc", "realm": "native1"},
        {"id": "neverKeyId0000000000", "name": "never", "type": "rest",
         "creation": 1_794_297_900_000_i64, "invalidated": false, "username": "svc", "realm": "native1"}
    ]});
    std::fs::write(&path, doc.to_string()).unwrap();
    path.display().to_string()
}

#[test]
fn hostile_names_break_neither_format() {
    let dir = tempfile::tempdir().unwrap();
    let meta = hostile_metadata(dir.path());
    let now = "2026-11-19T00:00:00Z";
    let out = keydoctor(
        &[
            "expiring",
            "--metadata",
            &meta,
            "--now",
            now,
            "--format",
            "nagios",
            "--include-no-expiry",
        ],
        "",
    );
    let p = plugin(&out);
    assert_eq!(p.state, "CRITICAL", "{p:?}");
    assert!(
        !out.stdout.contains('\u{1b}') && !out.stdout.contains('\u{7}'),
        "{:?}",
        out.stdout
    );
    assert!(
        p.long
            .iter()
            .any(|l| l.starts_with("WARNING key neverKeyId0000000000")
                && l.contains("never expires")),
        "{p:?}"
    );

    let out = keydoctor(
        &[
            "expiring",
            "--metadata",
            &meta,
            "--now",
            now,
            "--format",
            "openmetrics",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (types, samples) = openmetrics(&out.stdout);
    assert_eq!(types["keydoctor_api_key_expiry_timestamp_seconds"], "gauge");
    let expiry: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == "keydoctor_api_key_expiry_timestamp_seconds")
        .collect();
    // Every key with an expiration, in the window or not; none for the key that never expires.
    assert_eq!(expiry.len(), 2, "{expiry:?}");
    let hostile = expiry
        .iter()
        .find(|s| s.labels["id"] == "h0stileKeyId0000000a")
        .unwrap();
    assert_eq!(hostile.value, 1_795_161_600.0);
    assert!(
        hostile.labels["name"].starts_with("a|b \"q\" back\\slash\nnext"),
        "{:?}",
        hostile.labels
    );
    assert!(
        hostile.labels["name"].contains("\\x1b"),
        "{:?}",
        hostile.labels
    );
    assert_eq!(hostile.labels["owner"], "ev|l\"user@native1");
    assert_eq!(hostile.labels["type"], "rest");
    let plain = expiry
        .iter()
        .find(|s| s.labels["id"] == "plainKeyId0000000000")
        .unwrap();
    assert_eq!(plain.labels["type"], "cross_cluster");
    let by_state: BTreeMap<&str, f64> = samples
        .iter()
        .filter(|s| s.name == "keydoctor_api_keys")
        .map(|s| (s.labels["state"].as_str(), s.value))
        .collect();
    assert_eq!(
        by_state,
        BTreeMap::from([
            ("expired", 0.0),
            ("expiring", 1.0),
            ("later", 1.0),
            ("no_expiration", 1.0),
            ("invalidated", 0.0)
        ])
    );
    let generated = samples
        .iter()
        .find(|s| s.name == "keydoctor_generated_timestamp_seconds")
        .unwrap();
    assert_eq!(generated.value, 1_795_046_400.0);
}

#[test]
fn openmetrics_goes_to_a_textfile_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("keydoctor.prom");
    let p = prom.to_str().unwrap();
    let out = expiring(&[
        "--format",
        "openmetrics",
        "--now",
        "2026-11-23T00:00:00Z",
        "--output",
        p,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    let text = std::fs::read_to_string(&prom).unwrap();
    let (_, samples) = openmetrics(&text);
    assert!(samples.iter().any(|s| s
        .labels
        .get("id")
        .is_some_and(|i| i == "zcwN3YEBBmnjw-K-hW5_")));
}

fn doctor_cluster() -> Replay {
    Replay::start(crate::doctor::cluster_at("8.15.3"))
}

#[test]
fn doctor_as_a_plugin_and_as_metrics_says_what_its_json_says() {
    let replay = doctor_cluster();
    let run = |format: &str| {
        keydoctor_env(
            &[
                "doctor",
                "--es-url",
                &replay.url,
                "--now",
                crate::support::NOW,
                "--format",
                format,
            ],
            &[("ES_API_KEY", SECRET_KEY)],
        )
    };
    let json: serde_json::Value = serde_json::from_str(&run("json").stdout).unwrap();
    let checks = json["checks"].as_array().unwrap();
    let count = |s: &str| checks.iter().filter(|c| c["status"] == s).count() as f64;
    let p = plugin(&run("nagios"));
    let want = if count("error") > 0.0 {
        "CRITICAL"
    } else if count("warning") > 0.0 {
        "WARNING"
    } else if count("unknown") > 0.0 {
        "UNKNOWN"
    } else {
        "OK"
    };
    assert_eq!(p.state, want, "{p:?}");
    assert_ne!(want, "OK", "the 8.15 replay has checks that do not pass");
    for (label, status) in [
        ("errors", "error"),
        ("warnings", "warning"),
        ("unknown", "unknown"),
        ("ok", "ok"),
    ] {
        assert_eq!(p.perf[label].0, count(status), "{label}");
    }
    assert_eq!(p.long.len(), checks.len() - count("ok") as usize, "{p:?}");

    let out = run("openmetrics");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (_, samples) = openmetrics(&out.stdout);
    let per_check: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == "keydoctor_doctor_check")
        .collect();
    assert_eq!(per_check.len(), checks.len());
    for c in checks {
        assert!(
            per_check
                .iter()
                .any(|s| s.labels["id"] == c["id"].as_str().unwrap()
                    && s.labels["status"] == c["status"].as_str().unwrap()),
            "{c}"
        );
    }
    for status in ["ok", "warning", "error", "unknown"] {
        let n = samples
            .iter()
            .find(|s| s.name == "keydoctor_doctor_checks" && s.labels["status"] == status)
            .unwrap();
        assert_eq!(n.value, count(status), "{status}");
    }
}
