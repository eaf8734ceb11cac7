//! Mutated inputs through the whole `explain` pipeline: byte flips, truncation anywhere (also
//! inside a multi-byte character), CRLF line ends, doubled escaping. Never a panic; the JSON
//! report is always one valid document. Deterministic: a fixed xorshift seed.

use crate::support::{fixture, keydoctor_with, root};

fn inputs() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fixture("explain")).unwrap() {
        out.push(std::fs::read(entry.unwrap().path()).unwrap());
    }
    if let Ok(dir) = std::fs::read_dir(root().join("../shared/corpus/dev")) {
        for entry in dir {
            let case: serde_json::Value =
                serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
            out.push(case["input"].as_str().unwrap().as_bytes().to_vec());
        }
    }
    out
}

fn mutate(input: &[u8], rng: &mut impl FnMut() -> u64) -> Vec<u8> {
    let mut bytes = input.to_vec();
    match rng() % 6 {
        0 => {
            for _ in 0..=(rng() % 8) {
                if !bytes.is_empty() {
                    let at = (rng() as usize) % bytes.len();
                    bytes[at] ^= 1 << (rng() % 8);
                }
            }
        }
        1 => {
            let cut = (rng() as usize) % (bytes.len() + 1);
            bytes.truncate(cut);
        }
        2 => {
            bytes = String::from_utf8_lossy(&bytes)
                .replace('\n', "\r\n")
                .into_bytes();
        }
        3 => {
            bytes = String::from_utf8_lossy(&bytes)
                .replace('"', "\\\"")
                .into_bytes();
        }
        4 => {
            let at = (rng() as usize) % (bytes.len() + 1);
            bytes.splice(at..at, "…\u{0}]}[{\\".bytes());
        }
        _ => {
            let at = (rng() as usize) % (bytes.len() + 1);
            let tail = bytes.split_off(at);
            bytes.extend_from_slice(&tail.repeat(2));
        }
    }
    bytes
}

/// A deterministic generator: the same cases every run.
fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// `KEYDOCTOR_MUTATION_ROUNDS` (default 4) rounds per input.
fn rounds() -> usize {
    std::env::var("KEYDOCTOR_MUTATION_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(4)
}

#[test]
fn mutated_inputs_never_panic_and_json_stays_valid() {
    let mut rng = xorshift(0x2545_F491_4F6C_DD1D);
    let rounds = rounds();
    for input in inputs() {
        for _ in 0..rounds {
            let bytes = mutate(&input, &mut rng);
            let out = keydoctor_with(&["explain", "--format", "json"], bytes.clone(), false);
            assert!(out.code <= 2, "exit {}", out.code);
            if out.code < 2 {
                let parsed: Result<serde_json::Value, _> = serde_json::from_str(&out.stdout);
                assert!(
                    parsed.is_ok(),
                    "invalid JSON for input {:?}",
                    String::from_utf8_lossy(&bytes)
                );
            } else {
                assert!(out.stdout.is_empty());
                assert!(!out.stderr.is_empty());
            }
            for format in ["human", "markdown"] {
                let out = keydoctor_with(&["explain", "--format", format], bytes.clone(), false);
                assert!(out.code <= 2);
            }
        }
    }
}

/// The same mutations applied to every file of the incident bundle (gzip bytes included, which
/// makes corrupt gzip), scanned as a tree: never a panic, always one valid JSON document.
#[test]
fn mutated_log_trees_never_panic_and_json_stays_valid() {
    let mut rng = xorshift(0x9E37_79B9_7F4A_7C15);
    let rounds = rounds();
    let bundle = fixture("scan/incident");
    let files: Vec<_> = walkdir::WalkDir::new(&bundle)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(&bundle).unwrap().to_path_buf())
        .collect();
    for _ in 0..rounds {
        let dir = tempfile::tempdir().unwrap();
        for rel in &files {
            let bytes = std::fs::read(bundle.join(rel)).unwrap();
            let target = dir.path().join(rel);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, mutate(&bytes, &mut rng)).unwrap();
        }
        let path = dir.path().to_str().unwrap();
        let out = keydoctor_with(&["scan", "--format", "json", path], Vec::new(), false);
        assert!(out.code <= 2, "exit {}: {}", out.code, out.stderr);
        if out.code < 2 {
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&out.stdout);
            assert!(parsed.is_ok(), "invalid JSON: {}", out.stdout);
        }
        let out = keydoctor_with(&["scan", path], Vec::new(), false);
        assert!(out.code <= 2);
    }
}
