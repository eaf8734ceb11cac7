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
