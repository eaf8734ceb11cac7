//! The commands as a person runs them: in a real pseudo-terminal, not in-memory streams.

use std::path::Path;
use std::time::Duration;

use crate::support::pty::run_in_pty;
use crate::support::NOW;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn scan_of_the_bundled_incident_finishes_in_a_terminal() {
    let s = run_in_pty(
        &["scan", "fixtures/scan/incident", "--now", NOW],
        repo(),
        80,
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(
        s.code,
        Some(1),
        "hung or failed; the terminal showed:\n{}",
        s.text
    );
    assert!(
        s.text
            .contains("3 findings (1 invalidated, 1 expired, 1 under_privileged) in 8 files."),
        "{}",
        s.text
    );
}

#[test]
fn a_slow_scan_draws_progress_and_still_finishes_in_a_terminal() {
    // Enough lines that the scan outlasts the progress line's quiet start.
    let dir = tempfile::tempdir().unwrap();
    let line = "[2026-11-20T09:14:10,123][INFO ][o.e.c.m.MetadataIndexTemplateService] [es-node-1] adding template [logs] for index patterns [logs-*] and nothing else of note here\n";
    let mut text = line.repeat(400_000);
    text.push_str("[2026-11-20T09:14:11,000][WARN ][o.e.x.s.a.ApiKeyService] [es-node-1] Authentication using apikey failed - api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated\n");
    std::fs::write(dir.path().join("elasticsearch.log"), text).unwrap();
    let s = run_in_pty(
        &["scan", dir.path().to_str().unwrap(), "--now", NOW],
        repo(),
        80,
        &[],
        Duration::from_secs(120),
    );
    assert_eq!(
        s.code,
        Some(1),
        "hung or failed; the terminal showed:\n{}",
        s.text
    );
    assert!(s.text.contains("1 finding (1 invalidated)"), "{}", s.text);
}

#[test]
fn explain_of_a_paste_finishes_in_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let paste = dir.path().join("paste.txt");
    std::fs::write(
        &paste,
        r#"{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":"API key: api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated"}],"type":"security_exception"},"status":401}"#,
    )
    .unwrap();
    let s = run_in_pty(
        &["explain", paste.to_str().unwrap(), "--now", NOW],
        repo(),
        80,
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(
        s.code,
        Some(1),
        "hung or failed; the terminal showed:\n{}",
        s.text
    );
    assert!(s.text.contains("invalidated"), "{}", s.text);
}
