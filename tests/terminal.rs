//! The commands as a person runs them: in a real pseudo-terminal, not in-memory streams.

use std::path::Path;
use std::time::Duration;

use crate::support::pty::run_in_pty;
use crate::support::NOW;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Run `args` in an 80-column pty; it must exit with `code` and show `expected`.
fn finishes(args: &[&str], secs: u64, code: i32, expected: &str) {
    let s = run_in_pty(args, repo(), 80, &[], Duration::from_secs(secs));
    assert_eq!(
        s.code,
        Some(code),
        "hung or failed; the terminal showed:\n{}",
        s.text
    );
    assert!(s.text.contains(expected), "{}", s.text);
}

#[test]
fn scan_of_the_bundled_incident_finishes_in_a_terminal() {
    finishes(
        &["scan", "fixtures/scan/incident", "--now", NOW],
        60,
        1,
        "3 findings (1 invalidated, 1 expired, 1 under_privileged) in 8 files.",
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
    finishes(
        &["scan", dir.path().to_str().unwrap(), "--now", NOW],
        120,
        1,
        "1 finding (1 invalidated)",
    );
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
    finishes(
        &["explain", paste.to_str().unwrap(), "--now", NOW],
        60,
        1,
        "invalidated",
    );
}

#[test]
fn the_width_is_the_terminals_own() {
    // A 120-column terminal and COLUMNS saying 60: the terminal wins, and the one-screen view
    // fills it (the summary table takes its widest layout).
    let strip = |s: &str| {
        let re = regex::Regex::new("\x1b\\[[0-9;]*[A-Za-z]").unwrap();
        re.replace_all(s, "").replace('\r', "")
    };
    let wide = run_in_pty(
        &[
            "scan",
            "fixtures/scan/incident",
            "--now",
            "2026-11-23T00:00:00Z",
        ],
        repo(),
        120,
        &[("COLUMNS", "60")],
        Duration::from_secs(60),
    );
    assert_eq!(wide.code, Some(1), "{}", wide.text);
    let text = strip(&wide.text);
    assert!(
        text.contains("16×  2026-11-20 09:14:10–09:14:45  ingest_owner, filebeat"),
        "{text}"
    );
    let narrow = run_in_pty(
        &[
            "scan",
            "fixtures/scan/incident",
            "--now",
            "2026-11-23T00:00:00Z",
        ],
        repo(),
        70,
        &[],
        Duration::from_secs(60),
    );
    let text = strip(&narrow.text);
    assert!(
        !text.contains("09:14–09:14  ingest_owner"),
        "a 70-column terminal drops the time column:\n{text}"
    );
    assert!(
        text.contains("VuaCfGcBCdbkQm-e5aOx  ingest_owner, filebeat"),
        "{text}"
    );
}
