//! Snapshots of the three renderers: human (no colour, width 80), JSON and Markdown.
//! `cargo insta review` (or INSTA_UPDATE=always) after an intended change.

use crate::support::{fixture, keydoctor, root, NOW};

fn run(format: &str, name: &str) -> String {
    // On stdin, so that nothing in the output (wrapping included) depends on where the
    // repository is checked out.
    let input = std::fs::read_to_string(fixture(&format!("explain/{name}"))).unwrap();
    let out = keydoctor(
        &[
            "explain", "--color", "never", "--width", "80", "--format", format, "--now", NOW,
        ],
        &input,
    );
    assert!(out.code < 2, "{}", out.stderr);
    out.stdout
}

#[test]
fn human_report_invalidated_with_audit() {
    insta::assert_snapshot!(run("human", "agent-invalidated.log"));
}

#[test]
fn human_report_unresolved_401() {
    insta::assert_snapshot!(run("human", "python-generic-401.txt"));
}

#[test]
fn human_report_under_privileged_with_metadata() {
    insta::assert_snapshot!(run("human", "bulk-403-with-metadata.txt"));
}

#[test]
fn human_report_look_alikes_are_notes() {
    insta::assert_snapshot!(run("human", "not-api-key.txt"));
}

#[test]
fn json_report_mixed_paste() {
    let value: serde_json::Value = serde_json::from_str(&run("json", "mixed-paste.txt")).unwrap();
    insta::assert_json_snapshot!(value);
}

#[test]
fn json_report_metadata_decides_a_hidden_401() {
    let value: serde_json::Value =
        serde_json::from_str(&run("json", "python-401-with-metadata.txt")).unwrap();
    assert_eq!(value["findings"][0]["class"], "expired");
    insta::assert_json_snapshot!(value);
}

#[test]
fn markdown_report_remote_cluster() {
    insta::assert_snapshot!(run("markdown", "remote-cluster.log"));
}

#[test]
fn readme_example_is_what_keydoctor_prints() {
    // The README shows the report of its first set-up command; keep them in step.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- example-output -->")
        .expect("README example marker");
    let block = &readme[start..];
    let body_start = block.find("```text\n").expect("fenced block") + "```text\n".len();
    let body_end = block[body_start..].find("\n```").expect("fence end") + body_start;
    let shown = &block[body_start..body_end];
    // The example may stop early with a `[… …]` line: then it must be the start of the output.
    let (shown, prefix_only) = match shown.rfind("\n[…") {
        Some(at) => (&shown[..at], true),
        None => (shown, false),
    };
    // Run it exactly as the README says, from the repository root, with a relative path.
    let out = assert_cmd::Command::cargo_bin("keydoctor")
        .unwrap()
        .current_dir(root())
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .env_remove("KEYDOCTOR_TEST_TTY")
        .args(["scan", "--now", NOW, "fixtures/scan/incident"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let actual = String::from_utf8(out.stdout).unwrap();
    let actual = if prefix_only {
        actual.get(..shown.len()).unwrap_or(&actual)
    } else {
        &actual
    };
    assert_eq!(
        shown.trim_end(),
        actual.trim_end(),
        "README example is stale: update it from `keydoctor scan fixtures/scan/incident`"
    );
}

/// The body of the `## title` section of a Markdown file (up to the next `## `).
fn section<'a>(doc: &'a str, title: &str) -> &'a str {
    let start = doc
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("no section {title}"));
    let body = &doc[start + title.len() + 5..];
    &body[..body.find("\n## ").unwrap_or(body.len())]
}

/// The lines of the first ```sh block in `text`.
fn sh_block(text: &str) -> Vec<&str> {
    let start = text.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let end = text[start..].find("\n```").expect("fence end") + start;
    text[start..end].lines().collect()
}

#[test]
fn the_readme_sets_up_with_two_commands_and_starts_with_a_paste() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    // Exactly two set-up commands, near the top: the main job on the bundled fixtures, then the
    // test command (the one .ci/run runs).
    assert!(
        readme.find("## Set up").unwrap() < 1500,
        "Set up is not near the top"
    );
    assert_eq!(
        sh_block(section(&readme, "Set up")),
        [
            "cargo run --release -- scan fixtures/scan/incident",
            "cargo test --locked"
        ]
    );
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(
        ci.contains("\ncargo test --locked\n"),
        ".ci/run runs the README's test command"
    );
    // The quick start: at most 10 lines, a paste first, then the bundled incident; each of its
    // commands on the bundled fixtures does what its comment says.
    let quick = section(&readme, "Quick start");
    assert!(
        quick.lines().filter(|l| !l.trim().is_empty()).count() <= 10,
        "quick start over 10 lines:\n{quick}"
    );
    let commands = sh_block(quick);
    assert!(
        commands[0].starts_with("keydoctor explain "),
        "{}",
        commands[0]
    );
    assert!(commands
        .iter()
        .any(|c| c.starts_with("keydoctor scan fixtures/scan/incident ")));
    let dir = tempfile::tempdir().unwrap();
    let paste = std::fs::read_to_string(fixture("explain/agent-invalidated.log")).unwrap();
    for line in commands {
        let command = line.split(" # ").next().unwrap().trim();
        let args: Vec<String> = command
            .split_whitespace()
            .skip(1)
            .map(|a| {
                if a.ends_with(".html") {
                    dir.path().join(a).display().to_string()
                } else {
                    a.to_string()
                }
            })
            .collect();
        if args.iter().any(|a| a.starts_with("/var/")) {
            continue; // the reader's own logs
        }
        let out = assert_cmd::Command::cargo_bin("keydoctor")
            .unwrap()
            .current_dir(root())
            .args(&args)
            .write_stdin(paste.clone())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{command}: a finding, exit 1");
        if let Some(page) = args.iter().find(|a| a.ends_with(".html")) {
            let html = std::fs::read_to_string(page).unwrap();
            assert!(
                html.starts_with("<!DOCTYPE html>") && html.contains("<svg class=\"timeline\"")
            );
        } else {
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("invalidated"),
                "{command}"
            );
        }
    }
}

#[test]
fn the_readme_and_contributing_link_to_what_exists() {
    let slug = |heading: &str| -> String {
        heading
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect()
    };
    let anchors = |doc: &str| -> Vec<String> {
        let mut out: Vec<String> = doc
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(|l| slug(l.trim_start_matches('#')))
            .collect();
        out.extend(
            doc.match_indices("<a id=\"")
                .map(|(at, _)| doc[at + 7..].split('"').next().unwrap().to_string()),
        );
        out
    };
    for name in ["README.md", "CONTRIBUTING.md"] {
        let doc = std::fs::read_to_string(root().join(name)).unwrap();
        for (at, _) in doc.match_indices("](") {
            let target = doc[at + 2..].split(')').next().unwrap();
            if target.starts_with("http") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
            let file = if path.is_empty() {
                doc.clone()
            } else {
                let p = root().join(path);
                assert!(p.exists(), "{name} links to {target}, which does not exist");
                if p.is_dir() {
                    continue;
                }
                std::fs::read_to_string(p).unwrap()
            };
            if !anchor.is_empty() {
                assert!(
                    anchors(&file).iter().any(|a| a == anchor),
                    "{name} links to {target}: no such anchor"
                );
            }
        }
    }
    // Developer material lives in CONTRIBUTING.md, not in the users' README.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for dev in [
        "cargo +nightly fuzz",
        "INSTA_UPDATE",
        "scripts/make-incident.py",
        "## Development",
    ] {
        assert!(!readme.contains(dev), "{dev} in the README");
    }
}
