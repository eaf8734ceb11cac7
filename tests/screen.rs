//! The one-screen view: the bundled scan fixtures at 80 columns give every finding in at most
//! 40 lines, a summary table within 80 columns, and every request path and key id of the JSON
//! report unbroken; `--full` keeps today's sections. Snapshots pin both views.

use crate::support::{root, NOW};

const FIXTURES: [&str; 3] = [
    "fixtures/scan/incident",
    "fixtures/bundle/api-diagnostics-20261120-101500",
    "fixtures/purged",
];

/// `keydoctor scan` from the repository root with a relative path, as a user runs it.
fn scan(args: &[&str]) -> String {
    let out = assert_cmd::Command::cargo_bin("keydoctor")
        .unwrap()
        .current_dir(root())
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .env_remove("KEYDOCTOR_TEST_TTY")
        .args(["scan", "--now", NOW, "--color", "never"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn is_headline(line: &str) -> bool {
    ["error[", "warning[", "note["]
        .iter()
        .any(|p| line.starts_with(p))
}

/// Each finding's lines: from its headline to the next headline, or to the report's own notes
/// and footer, blank lines at its end left out.
fn finding_blocks(report: &str) -> Vec<Vec<&str>> {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in report.lines() {
        if is_headline(line) {
            if let Some(b) = current.take() {
                blocks.push(b);
            }
            current = Some(vec![line]);
        } else if line.starts_with("note:")
            || line.starts_with("warning:")
            || line.starts_with("--full")
            || line.starts_with("Read ")
        {
            if let Some(b) = current.take() {
                blocks.push(b);
            }
        } else if let Some(b) = current.as_mut() {
            b.push(line);
        }
    }
    blocks.extend(current);
    for b in &mut blocks {
        while b.last().is_some_and(|l| l.trim().is_empty()) {
            b.pop();
        }
    }
    blocks
}

#[test]
fn every_finding_fits_one_screen_at_80_columns() {
    for fixture in FIXTURES {
        let report = scan(&["--width", "80", fixture]);
        let blocks = finding_blocks(&report);
        assert!(!blocks.is_empty(), "{fixture}: no finding\n{report}");
        for b in &blocks {
            assert!(
                b.len() <= 40,
                "{fixture}: a finding takes {} lines:\n{}",
                b.len(),
                b.join("\n")
            );
        }
        // The summary table: the numbered lines before the first finding.
        let table: Vec<&str> = report
            .lines()
            .take_while(|l| !is_headline(l))
            .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            .collect();
        assert!(table.len() >= 2, "{fixture}: no summary table\n{report}");
        for line in table {
            assert!(
                line.chars().count() <= 80,
                "{fixture}: summary line of {} columns: {line}",
                line.chars().count()
            );
        }
    }
}

#[test]
fn requests_and_key_ids_are_never_broken() {
    for fixture in FIXTURES {
        let json: serde_json::Value =
            serde_json::from_str(&scan(&["--format", "json", "--curl", fixture])).unwrap();
        let mut words: Vec<String> = Vec::new();
        for f in json["findings"].as_array().unwrap() {
            if let Some(id) = f["key_id"].as_str() {
                words.push(id.to_string());
            }
            for step in f["remediation"].as_array().unwrap() {
                if let Some(request) = step["request"].as_str() {
                    for line in request.lines() {
                        if line.starts_with(['G', 'P', 'D', 'H']) {
                            words.push(line.trim().to_string());
                        }
                    }
                }
            }
        }
        assert!(!words.is_empty(), "{fixture}");
        for view in [
            scan(&["--width", "80", fixture]),
            scan(&["--width", "80", "--full", fixture]),
            scan(&["--width", "40", "--full", "--curl", fixture]),
        ] {
            for w in &words {
                assert!(
                    view.contains(w.as_str()),
                    "{fixture}: `{w}` is broken or missing in\n{view}"
                );
            }
        }
    }
}

#[test]
fn full_view_keeps_every_section() {
    let short = scan(&["--width", "80", "fixtures/scan/incident"]);
    let full = scan(&["--width", "80", "--full", "fixtures/scan/incident"]);
    for section in [
        "What it means",
        "Causes considered",
        "Timeline",
        "Dead ends",
        "References",
        "Details",
    ] {
        assert!(!short.contains(section), "the short view has {section}");
        assert!(full.contains(section), "the full view lacks {section}");
    }
    assert!(short.contains("--full adds"));
    assert!(!full.contains("--full adds"));
    assert!(full.lines().count() > 2 * short.lines().count());
}

#[test]
fn cluster_wide_cause_comes_first() {
    let report = scan(&[
        "--width",
        "80",
        "fixtures/bundle/api-diagnostics-20261120-101500",
    ]);
    let first = report.lines().find(|l| is_headline(l)).unwrap();
    assert!(
        first.starts_with("error[api_key_service_disabled]"),
        "{first}"
    );
}

#[test]
fn snapshot_short_view_incident() {
    insta::assert_snapshot!(scan(&["--width", "80", "fixtures/scan/incident"]));
}

#[test]
fn snapshot_full_view_incident() {
    insta::assert_snapshot!(scan(&["--width", "80", "--full", "fixtures/scan/incident"]));
}

#[test]
fn snapshot_short_view_bundle() {
    insta::assert_snapshot!(scan(&[
        "--width",
        "80",
        "fixtures/bundle/api-diagnostics-20261120-101500"
    ]));
}

#[test]
fn snapshot_short_view_purged() {
    insta::assert_snapshot!(scan(&["--width", "80", "fixtures/purged"]));
}
