//! Hostile input never drives the terminal: control sequences in log text and file names are
//! shown escaped in human and Markdown output, and stay valid JSON data.

use crate::support::{keydoctor, NOW};

const LINE: &str = "[2026-11-20T09:14:10,123][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-node-1] Authentication using apikey failed - api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated \x1b]0;pwned\x07\x1b[2J\u{9b}31m \u{202e}gol.exe\n";

fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| {
            (c.is_control() && *c != '\n' && *c != '\t')
                || matches!(*c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

#[test]
fn control_sequences_in_a_paste_are_escaped_in_every_format() {
    for format in ["human", "markdown", "html"] {
        let out = keydoctor(
            &[
                "explain", "--format", format, "--color", "never", "--now", NOW,
            ],
            LINE,
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            raw_controls(&out.stdout).is_empty(),
            "{format}: {:?}",
            raw_controls(&out.stdout)
        );
        assert!(
            out.stdout.contains("\\e]0;pwned\\x07"),
            "{format}: {}",
            out.stdout
        );
    }
    let out = keydoctor(&["explain", "--format", "json", "--now", NOW], LINE);
    assert!(raw_controls(&out.stdout).is_empty());
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("still JSON");
    let text = report["findings"][0]["evidence"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        text.contains("\x1b]0;pwned\x07"),
        "the data itself is kept: {text:?}"
    );
}

#[test]
fn control_sequences_in_file_names_and_lines_are_escaped_by_scan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("es\x1b]0;x\x07.log"), LINE).unwrap();
    let out = keydoctor(
        &[
            "scan",
            dir.path().to_str().unwrap(),
            "--color",
            "never",
            "--now",
            NOW,
        ],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        raw_controls(&out.stdout).is_empty(),
        "{:?}",
        raw_controls(&out.stdout)
    );
    assert!(
        raw_controls(&out.stderr).is_empty(),
        "{:?}",
        raw_controls(&out.stderr)
    );
    assert!(out.stdout.contains("es\\e]0;x\\x07.log"), "{}", out.stdout);
}

#[test]
fn colours_keydoctor_writes_itself_still_pass() {
    let out = keydoctor(&["explain", "--color", "always", "--now", NOW], LINE);
    assert!(out.stdout.contains("\x1b["), "colours are on");
    assert!(!out.stdout.contains("\x1b]"), "but no OSC from the input");
    assert!(!out.stdout.contains('\x07'));
}
