//! Property tests (proptest): arbitrary bytes and mutated real inputs (byte flips, truncation
//! anywhere, also inside a multi-byte character, CRLF line ends, escaped and double-escaped JSON,
//! inserted junk, repeated tails, 2 MiB lines, binary) through every parser, the rule loader and
//! the whole `explain` and `scan` pipelines. Never a panic; spans stay inside the text they point
//! at; the JSON report is always one valid document.
//!
//! `PROPTEST_CASES=N` runs more cases than the defaults chosen here for a 2-core CI; a failure
//! prints the shrunk input that caused it.

use std::sync::OnceLock;

use keydoctor::event::{self, audit, credential, key_metadata};
use keydoctor::rule::{self, compile::RuleSource, template::Template};
use keydoctor::source::{sniff, Input};
use proptest::prelude::*;

use crate::support::{fixture, keydoctor_with, root};

/// Real inputs: the explain fixtures, the corpus and the hostile seeds of the fuzz targets.
fn inputs() -> &'static [Vec<u8>] {
    static INPUTS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    INPUTS.get_or_init(|| {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(fixture("explain")).unwrap() {
            out.push(std::fs::read(entry.unwrap().path()).unwrap());
        }
        for (_, path) in fuzz_seeds() {
            out.push(std::fs::read(path).unwrap());
        }
        if let Ok(dir) = std::fs::read_dir(root().join("../shared/corpus/dev")) {
            for entry in dir {
                let case: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
                out.push(case["input"].as_str().unwrap().as_bytes().to_vec());
            }
        }
        out.sort();
        out
    })
}

/// One way of damaging an input, with its parameters.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit { at: usize, bit: u8 },
    Truncate { at: usize },
    Crlf,
    EscapeQuotes,
    DoubleEscape,
    Insert { at: usize, junk: Vec<u8> },
    RepeatTail { at: usize },
    LongLine { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let junk = prop_oneof![
        Just(b"\\u0022".to_vec()),
        Just("…\u{0}]}[{\\".as_bytes().to_vec()),
        Just(b"\xff\xfe\x00\x01".to_vec()),
        Just(b"\\\\\\\"".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        prop::collection::vec(any::<u8>(), 1..32),
    ];
    prop_oneof![
        4 => (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        3 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        1 => Just(Mutation::Crlf),
        1 => Just(Mutation::EscapeQuotes),
        1 => Just(Mutation::DoubleEscape),
        3 => (any::<usize>(), junk).prop_map(|(at, junk)| Mutation::Insert { at, junk }),
        1 => any::<usize>().prop_map(|at| Mutation::RepeatTail { at }),
    ]
}

fn apply(input: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for m in mutations {
        let at = |at: usize, len: usize| at % (len + 1);
        match m {
            Mutation::FlipBit { at: a, bit } => {
                if !bytes.is_empty() {
                    let i = a % bytes.len();
                    bytes[i] ^= 1 << bit;
                }
            }
            Mutation::Truncate { at: a } => bytes.truncate(at(*a, bytes.len())),
            Mutation::Crlf => {
                bytes = String::from_utf8_lossy(&bytes)
                    .replace('\n', "\r\n")
                    .into_bytes();
            }
            Mutation::EscapeQuotes => {
                bytes = String::from_utf8_lossy(&bytes)
                    .replace('"', "\\\"")
                    .into_bytes();
            }
            Mutation::DoubleEscape => {
                bytes = String::from_utf8_lossy(&bytes)
                    .replace('\\', "\\\\")
                    .replace('"', "\\\\\\\"")
                    .into_bytes();
            }
            Mutation::Insert { at: a, junk } => {
                let i = at(*a, bytes.len());
                bytes.splice(i..i, junk.iter().copied());
            }
            Mutation::RepeatTail { at: a } => {
                let i = at(*a, bytes.len());
                let tail = bytes.split_off(i);
                bytes.extend_from_slice(&tail.repeat(2));
            }
            Mutation::LongLine { at: a } => {
                let i = at(*a, bytes.len());
                bytes.splice(i..i, std::iter::repeat_n(b'x', 2 << 20));
            }
        }
    }
    bytes
}

/// A real input, damaged by up to four mutations.
fn mutated_input() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(inputs()),
        prop::collection::vec(mutation(), 0..4),
    )
        .prop_map(|(input, mutations)| apply(&input, &mutations))
}

/// Mutated real inputs, or arbitrary bytes, or arbitrary text.
fn any_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => mutated_input(),
        1 => prop::collection::vec(any::<u8>(), 0..2048),
        1 => ".{0,512}".prop_map(String::into_bytes),
    ]
}

fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

/// What every parser must hold for one input.
fn check_parsers(bytes: &[u8]) -> Result<(), TestCaseError> {
    let _ = sniff::sniff(bytes);
    let text = String::from_utf8_lossy(bytes).into_owned();
    let doc = event::parse_input(&Input {
        name: "prop".into(),
        text,
    });
    let (set, _) = rule::load(None).unwrap();
    let scope = doc.tag_scope();
    for (idx, record) in doc.records.iter().enumerate() {
        prop_assert!(record.range.end <= doc.text.len());
        prop_assert!(doc.text.is_char_boundary(record.range.start));
        prop_assert!(doc.text.is_char_boundary(record.range.end));
        let _ = (record.fields(), record.kind(), scope.for_record(idx));
        let end = record.map.to_raw(record.norm.len());
        prop_assert!(end <= doc.text.len(), "{end} > {}", doc.text.len());
        if audit::looks_like_audit(&record.norm) {
            let _ = audit::parse_line(&record.norm, record.line);
        }
    }
    for m in set.match_document(&doc) {
        let record = &doc.records[m.record];
        let (start, end) = (
            record.map.to_raw(m.span.start),
            record.map.to_raw(m.span.end),
        );
        prop_assert!(start <= end && end <= doc.text.len(), "{start}..{end}");
        for (_, _, span) in &m.captures {
            prop_assert!(span.end <= record.norm.len());
            prop_assert!(record.norm.is_char_boundary(span.start));
        }
    }
    let _ = key_metadata::parse_all(&doc.text, &doc.records);
    let _ = credential::scan(&doc.text);
    Ok(())
}

/// Arbitrary JSON, shaped like the answers keydoctor reads.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-zA-Z0-9_:.*-]{0,24}".prop_map(serde_json::Value::from),
    ];
    let key = prop_oneof![
        Just("api_keys".to_string()),
        Just("id".to_string()),
        Just("name".to_string()),
        Just("creation".to_string()),
        Just("expiration".to_string()),
        Just("invalidated".to_string()),
        Just("role_descriptors".to_string()),
        Just("limited_by".to_string()),
        Just("metadata".to_string()),
        Just("type".to_string()),
        Just("access".to_string()),
        "[a-z_]{1,12}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn every_parser_takes_any_input(bytes in any_input()) {
        check_parsers(&bytes)?;
    }

    #[test]
    fn audit_lines_survive_damage(line in mutated_audit_line()) {
        let _ = audit::looks_like_audit(&line);
        let _ = audit::parse_line(&line, 1);
    }

    #[test]
    fn key_metadata_from_any_json(value in json_value()) {
        let _ = key_metadata::from_response(&value);
        let _ = key_metadata::from_response(&serde_json::json!({"api_keys": [value.clone()]}));
        let _ = key_metadata::from_response(&serde_json::json!({"api_keys": [{"id": "VuaCfGcBCdbkQm-e5aOx", "role_descriptors": value.clone(), "limited_by": [value]}]}));
    }

    #[test]
    fn templates_parse_or_fail_cleanly(text in ".{0,200}") {
        if let Ok((template, placeholders)) = Template::parse(&text) {
            for p in placeholders {
                prop_assert!(p.span.end <= text.len());
            }
            let _ = template.render(&|_| None);
            prop_assert_eq!(Template::parse(&template.as_written()).map(|(t, _)| t).ok(), Some(template));
        }
    }
}

/// A real audit line, damaged.
fn mutated_audit_line() -> impl Strategy<Value = String> {
    const LINE: &str = r#"{"type":"audit", "timestamp":"2026-11-20T09:14:10,123+0000", "cluster.name":"prod", "node.name":"es-node-1", "event.type":"transport", "event.action":"access_denied", "authentication.type":"API_KEY", "user.name":"ingest_owner", "user.realm":"_es_api_key", "user.run_by.name":"ingest_owner", "apikey.id":"j7c0WYIBqecB5CbVR6Oq", "apikey.name":"logs-writer", "origin.type":"rest", "origin.address":"10.0.0.9:53422", "action":"indices:data/write/bulk[s]", "request.name":"BulkShardRequest", "indices":["logs-prod-2026.11.20"], "opaque_id":"x", "request.id":"Q3-AAAAAAAAAAAAAAAAA"}"#;
    prop::collection::vec(mutation(), 0..4)
        .prop_map(|m| String::from_utf8_lossy(&apply(LINE.as_bytes(), &m)).into_owned())
}

proptest! {
    #![proptest_config(config(64))]

    /// A damaged rule file is loaded or rejected with problems whose spans are inside it.
    #[test]
    fn the_rule_loader_takes_damaged_rule_files(mutations in prop::collection::vec(mutation(), 1..4)) {
        let original = std::fs::read(root().join("rules/under_privileged/api-key-action-unauthorized.toml")).unwrap();
        let text = String::from_utf8_lossy(&apply(&original, &mutations)).into_owned();
        let source = RuleSource {
            label: "prop.toml".into(),
            relative: "under_privileged/api-key-action-unauthorized.toml".into(),
            text: text.clone(),
        };
        let problems = match rule::compile::compile_sources(&[source], 0, &[], Vec::new()) {
            Ok((_, warnings)) => warnings,
            Err(err) => err.problems,
        };
        for p in problems {
            if let Some(span) = p.span {
                prop_assert!(span.offset() + span.len() <= text.len(), "{} {:?}", p.message, span);
            }
        }
    }

    /// The whole pipeline, every format: exit 0, 1 or 2; JSON always one valid document; an
    /// input error says so on stderr, and under `--format json` is one JSON error on stdout.
    #[test]
    fn explain_survives_any_input(bytes in any_input()) {
        let out = keydoctor_with(&["explain", "--format", "json"], bytes.clone(), false);
        prop_assert!(out.code <= 2, "exit {}", out.code);
        if out.code < 2 {
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&out.stdout);
            prop_assert!(parsed.is_ok(), "invalid JSON: {}", out.stdout);
        } else {
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&out.stdout);
            prop_assert!(
                parsed.as_ref().is_ok_and(|v| v["error"]["message"].is_string()),
                "not a JSON error: {}",
                out.stdout
            );
            prop_assert!(!out.stderr.is_empty());
        }
        for format in ["human", "markdown", "html", "ecs"] {
            let out = keydoctor_with(&["explain", "--format", format], bytes.clone(), false);
            prop_assert!(out.code <= 2);
        }
    }
}

proptest! {
    #![proptest_config(config(6))]

    /// 2 MiB lines anywhere in a real input: cut at the cap, counted, never a panic.
    #[test]
    fn long_lines_anywhere(input in prop::sample::select(inputs()), at in any::<usize>()) {
        let bytes = apply(&input, &[Mutation::LongLine { at }]);
        check_parsers(&bytes)?;
        let out = keydoctor_with(&["explain", "--format", "json"], bytes, false);
        prop_assert!(out.code <= 2);
        if out.code < 2 {
            prop_assert!(serde_json::from_str::<serde_json::Value>(&out.stdout).is_ok());
        }
    }

    /// The same damage applied to every file of the incident bundle (gzip bytes included, which
    /// makes corrupt gzip), scanned as a tree: never a panic, always one valid JSON document.
    #[test]
    fn scan_survives_a_damaged_log_tree(mutations in prop::collection::vec(prop::collection::vec(mutation(), 0..3), 16)) {
        let bundle = fixture("scan/incident");
        let files: Vec<_> = walkdir::WalkDir::new(&bundle)
            .sort_by_file_name()
            .into_iter()
            .map(Result::unwrap)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.path().strip_prefix(&bundle).unwrap().to_path_buf())
            .collect();
        let dir = tempfile::tempdir().unwrap();
        for (i, rel) in files.iter().enumerate() {
            let bytes = std::fs::read(bundle.join(rel)).unwrap();
            let target = dir.path().join(rel);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, apply(&bytes, &mutations[i % mutations.len()])).unwrap();
        }
        let path = dir.path().to_str().unwrap();
        let out = keydoctor_with(&["scan", "--format", "json", path], Vec::new(), false);
        prop_assert!(out.code <= 2, "exit {}: {}", out.code, out.stderr);
        if out.code < 2 {
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&out.stdout);
            prop_assert!(parsed.is_ok(), "invalid JSON: {}", out.stdout);
        }
        let out = keydoctor_with(&["scan", path], Vec::new(), false);
        prop_assert!(out.code <= 2);
    }
}

/// Every seed of the fuzz targets (`fuzz/seeds/<target>/`): hostile shapes the hostile review
/// found, as (target, path).
fn fuzz_seeds() -> Vec<(String, std::path::PathBuf)> {
    let mut out = Vec::new();
    for target in ["detect", "json_error", "audit_line", "credentials"] {
        for entry in std::fs::read_dir(root().join("fuzz/seeds").join(target)).unwrap() {
            out.push((target.to_string(), entry.unwrap().path()));
        }
    }
    out.sort();
    out
}

/// The fuzz targets' seeds go through what each target runs, here in the suite (the fuzzers
/// need nightly): no panic, spans inside the text, and no planted secret survives redaction.
#[test]
fn every_fuzz_seed_goes_through_its_targets_code() {
    const PLANTED: &str = "s3cr3tVALUEabcdefGHIJk";
    let (set, _) = rule::load(None).unwrap();
    let seeds = fuzz_seeds();
    assert!(seeds.len() >= 40, "only {} seeds", seeds.len());
    for (target, path) in &seeds {
        let bytes = std::fs::read(path).unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let _ = sniff::sniff(&bytes);
        let doc = event::parse_input(&Input {
            name: "seed".into(),
            text: text.clone(),
        });
        let scope = doc.tag_scope();
        for (idx, record) in doc.records.iter().enumerate() {
            assert!(record.range.end <= doc.text.len(), "{path:?}");
            assert!(
                record.map.to_raw(record.norm.len()) <= doc.text.len(),
                "{path:?}"
            );
            let _ = (record.fields(), record.kind(), scope.for_record(idx));
        }
        for m in set.match_document(&doc) {
            assert!(doc.records[m.record].map.to_raw(m.span.end) <= doc.text.len());
        }
        for line in text.lines() {
            let _ = audit::parse_line(line, 1);
        }
        if target == "credentials" {
            let redacted = credential::redact(&credential::scan(&text).text);
            assert!(!redacted.contains(PLANTED), "{path:?}: {redacted}");
            assert!(!doc.text.contains(PLANTED), "{path:?}: {}", doc.text);
        }
    }
}
