//! Every corpus case, pasted the way people paste: hard-wrapped at 80 columns, re-flowed at 72,
//! inside a Terraform diagnostic box, quoted in a mail reply, with CRLF, behind `kubectl logs`
//! CRI heads (lines split by the runtime), HTML-escaped. Each must keep the class the case has
//! as printed.

use serde_json::Value;

use crate::support::{explain_json, root};

fn hard_wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let chars: Vec<char> = line.chars().collect();
        if chars.is_empty() {
            out.push('\n');
        }
        for chunk in chars.chunks(width) {
            out.extend(chunk);
            out.push('\n');
        }
    }
    out
}

fn reflow(text: &str, width: usize) -> String {
    text.lines()
        .map(|l| {
            // Mail clients break at spaces only, never inside a word or at a hyphen.
            let opts = textwrap::Options::new(width)
                .break_words(false)
                .word_separator(textwrap::WordSeparator::AsciiSpace)
                .wrap_algorithm(textwrap::WrapAlgorithm::FirstFit)
                .word_splitter(textwrap::WordSplitter::NoHyphenation);
            textwrap::fill(l, opts)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn prefixed(text: &str, prefix: &str) -> String {
    text.lines().map(|l| format!("{prefix}{l}\n")).collect()
}

/// A way of pasting: the text as it arrives.
type Transform = fn(&str) -> String;

const TRANSFORMS: &[(&str, Transform)] = &[
    ("hard-wrapped at 80", |t| hard_wrap(t, 80)),
    ("re-flowed at 72", |t| reflow(t, 72)),
    ("in a Terraform box", |t| {
        format!(
            "╷\n{}│ \n│   with elasticstack_elasticsearch_index.logs,\n╵\n",
            prefixed(&hard_wrap(&format!("Error: {t}"), 76), "│ ")
        )
    }),
    ("quoted in a reply", |t| prefixed(&reflow(t, 72), "> ")),
    ("with CRLF", |t| t.replace('\n', "\r\n")),
    ("behind CRI heads", |t| {
        let mut out = String::new();
        for line in t.lines() {
            let chars: Vec<char> = line.chars().collect();
            let chunks: Vec<String> = chars.chunks(120).map(|c| c.iter().collect()).collect();
            for (i, c) in chunks.iter().enumerate() {
                let tag = if i + 1 == chunks.len() { 'F' } else { 'P' };
                out.push_str(&format!(
                    "2026-11-20T09:14:10.123456789Z stdout {tag} {c}\n"
                ));
            }
        }
        out
    }),
    ("HTML-escaped", |t| {
        t.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }),
];

fn classes(report: &Value) -> Vec<String> {
    let mut c: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["class"].as_str().unwrap().to_string())
        .collect();
    c.sort();
    c.dedup();
    c
}

#[test]
fn corpus_cases_keep_their_class_when_pasted_as_people_paste() {
    let shared = root().join("../shared/corpus/dev");
    if !shared.is_dir() {
        assert!(std::env::var("CI").is_err(), "corpus missing under CI");
    }
    // The shared dev cases and the repository's own (corpus/own).
    let mut files: Vec<_> = [shared, root().join("corpus/own")]
        .iter()
        .filter(|d| d.is_dir())
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let (mut tried, mut kept) = (0usize, 0usize);
    let mut misses = Vec::new();
    for p in &files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let input = case["input"].as_str().unwrap();
        let want = classes(&explain_json(input));
        if want.is_empty() {
            continue;
        }
        for (name, transform) in TRANSFORMS {
            tried += 1;
            let got = classes(&explain_json(&transform(input)));
            if got == want {
                kept += 1;
            } else {
                misses.push(format!(
                    "{} {name}: {want:?} became {got:?}",
                    p.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    assert_kept(kept, tried, 100, &misses);
}

#[test]
fn atlas_messages_keep_their_class_when_pasted_as_people_paste() {
    let (mut tried, mut kept) = (0usize, 0usize);
    let mut misses = Vec::new();
    for entry in keydoctor::rule::atlas::entries() {
        if matches!(entry.class.as_str(), "none" | "note") {
            continue;
        }
        for envelope in &entry.envelopes {
            let input = keydoctor::rule::atlas::render(&entry, envelope);
            for (name, transform) in TRANSFORMS {
                tried += 1;
                let got = classes(&explain_json(&transform(&input)));
                if got.first().map(String::as_str) == Some(entry.class.as_str()) {
                    kept += 1;
                } else {
                    misses.push(format!(
                        "{} in {envelope}, {name}: became {got:?}",
                        entry.id
                    ));
                }
            }
        }
    }
    assert_kept(kept, tried, 400, &misses);
}

/// At least 95% of `tried` (itself at least `least`) kept their class; the misses say which.
fn assert_kept(kept: usize, tried: usize, least: usize, misses: &[String]) {
    assert!(tried >= least, "only {tried} pastes tried");
    let rate = kept as f64 / tried as f64;
    assert!(
        rate >= 0.95,
        "{kept} of {tried} kept their class ({:.0}%):\n{}",
        rate * 100.0,
        misses.join("\n")
    );
}
