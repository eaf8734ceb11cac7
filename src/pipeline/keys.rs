//! What the key commands (`key`, `expiring`, `impact`, `rotate`) read: saved key metadata, and
//! the key a user names by id or by its encoded credential.

use std::io::Read;
use std::path::PathBuf;

use crate::error::Error;
pub use crate::event::key_metadata::KeyMetadata;
use crate::event::parse_input;
use crate::secret::{judge, looks_like_key_id, redact, Scheme};
use crate::source::{self, Skipped};

/// What the key commands say about what they were given (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[("keys.file.no_key", &[]), ("keys.argument.neither", &[])];

fn say(code: &str, fields: &[(&'static str, String)]) -> String {
    crate::diagnosis::fact::say_in(WORDS, code, fields)
}

/// Read metadata files: the keys and the names of the inputs they came from, with a warning
/// (redacted) per file skipped; an error when none could be read or none holds a key.
pub fn load_metadata(
    paths: &[PathBuf],
    stdin: &mut dyn Read,
    warnings: &mut Vec<String>,
) -> Result<(Vec<KeyMetadata>, Vec<String>), Error> {
    let mut keys = Vec::new();
    let mut sources = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    for path in paths {
        let loaded = source::load_path(path, stdin);
        skipped.extend(
            loaded
                .skipped
                .iter()
                .filter(|s| !s.reason.is_partial())
                .cloned(),
        );
        if let Some(input) = loaded.input {
            let doc = parse_input(&input);
            if doc.keys.is_empty() {
                skipped.push(Skipped {
                    source: input.name.clone(),
                    reason: source::SkipReason::Unreadable(say("keys.file.no_key", &[])),
                });
            }
            keys.extend(doc.keys);
            sources.push(input.name);
        }
    }
    for s in &skipped {
        warnings.push(redact(&format!("warning: {}: {}", s.source, s.reason)));
    }
    if keys.is_empty() && !skipped.is_empty() {
        return Err(Error::NoMetadata {
            reasons: skipped
                .iter()
                .map(|s| format!("{}: {}", s.source, s.reason))
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    Ok((keys, sources))
}

/// A key id from what the user gave: an id, or an encoded credential (never echoed).
pub fn key_id_of(given: &str) -> Result<String, Error> {
    let given = given.trim();
    if looks_like_key_id(given) {
        return Ok(given.to_string());
    }
    match judge(given, Some(Scheme::ApiKey)) {
        (_, Some(id)) => Ok(id),
        _ => Err(Error::Usage(say("keys.argument.neither", &[]))),
    }
}
