//! `keydoctor suggest`'s answer in the three formats.
//!
//! JSON contract (fields are only ever added): `{"schema_version", "id", "name", "version",
//! "version_given", "complete", "events", "distinct", "window_start", "window_end",
//! "role_descriptors", "uncovered", "unused", "partial", "notes", "prove"}`.

use std::io::{self, Write};
use std::path::PathBuf;

use owo_colors::OwoColorize;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{Format, RenderOptions};
use crate::diagnosis::privileges::format_json;
use crate::lifecycle::suggest::{Suggestion, Unused};
use crate::model::format_ms;

/// The version of `keydoctor suggest --format json` (1: the first).
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON Schema of `keydoctor suggest --format json`.
pub(crate) fn schema() -> schemars::Schema {
    super::output_schema::<SuggestOut<'static>>()
}

#[derive(Serialize, JsonSchema)]
struct UnusedOut<'a> {
    entry: &'a str,
    names: &'a [String],
    privilege: &'a str,
}

#[derive(Serialize, JsonSchema)]
struct SuggestOut<'a> {
    schema_version: u32,
    id: &'a str,
    name: Option<&'a str>,
    version: String,
    version_given: bool,
    /// The logs could show the key's use, and every observed request is allowed.
    complete: bool,
    events: usize,
    distinct: usize,
    window_start: Option<String>,
    window_end: Option<String>,
    /// Ready for a create or update request's `role_descriptors`.
    role_descriptors: &'a Value,
    uncovered: &'a [String],
    unused: Vec<UnusedOut<'a>>,
    partial: &'a [String],
    notes: &'a [String],
    /// The command that proves the descriptors against the same logs before they ship.
    prove: String,
}

fn unused_line(u: &Unused) -> String {
    if u.names.is_empty() {
        format!("{}: {}", u.entry, u.privilege)
    } else {
        format!("{} [{}]: {}", u.entry, u.names.join(", "), u.privilege)
    }
}

/// The `rotate --replay` command that proves a saved suggestion against `logs`.
/// The key's metadata comes from the same place as this run's: the files given, else the
/// cluster (`$ELASTICSEARCH_URL`, credentials from the environment).
fn prove_command(s: &Suggestion, logs: &[PathBuf], metadata: &[PathBuf]) -> String {
    let word = |flag: &str, p: &PathBuf| format!("{flag} {}", shell_word(&p.display().to_string()));
    let mut args: Vec<String> = logs.iter().map(|p| word("--replay", p)).collect();
    if metadata.is_empty() {
        args.push("--es-url \"$ELASTICSEARCH_URL\"".into());
    } else {
        args.extend(metadata.iter().map(|p| word("--metadata", p)));
    }
    format!(
        "keydoctor rotate {} --role-descriptors least.json {} --es-version {}",
        s.key_id,
        args.join(" "),
        s.version
    )
}

/// `word` as one shell word: as it is when it is plain, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Render a suggestion.
pub fn render_suggestion(
    s: &Suggestion,
    logs: &[PathBuf],
    metadata: &[PathBuf],
    format: Format,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let complete = s.partial.is_empty() && s.uncovered.is_empty();
    let prove = prove_command(s, logs, metadata);
    match format {
        Format::Json => {
            let doc = SuggestOut {
                schema_version: SCHEMA_VERSION,
                id: &s.key_id,
                name: s.key_name.as_deref(),
                version: s.version.to_string(),
                version_given: s.version_given,
                complete,
                events: s.events,
                distinct: s.distinct,
                window_start: s.window.map(|w| format_ms(w.0)),
                window_end: s.window.map(|w| format_ms(w.1)),
                role_descriptors: &s.role_descriptors,
                uncovered: &s.uncovered,
                unused: s
                    .unused
                    .iter()
                    .map(|u| UnusedOut {
                        entry: &u.entry,
                        names: &u.names,
                        privilege: &u.privilege,
                    })
                    .collect(),
                partial: &s.partial,
                notes: &s.notes,
                prove,
            };
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        Format::Markdown => {
            let md = super::markdown::md_inline;
            writeln!(
                out,
                "## Least privilege for API key `{}` from its observed use (Elasticsearch {})\n",
                s.key_id, s.version
            )?;
            for p in &s.partial {
                writeln!(out, "> **incomplete:** {}\n", md(p))?;
            }
            for n in &s.notes {
                writeln!(out, "> {}\n", md(n))?;
            }
            writeln!(out, "```json\n{}\n```\n", format_json(&s.role_descriptors))?;
            if !s.uncovered.is_empty() {
                writeln!(out, "Not covered:\n")?;
                for u in &s.uncovered {
                    writeln!(out, "- {}", md(u))?;
                }
                writeln!(out)?;
            }
            if !s.unused.is_empty() {
                writeln!(out, "Held but never used in that window:\n")?;
                for u in &s.unused {
                    writeln!(out, "- `{}`", unused_line(u))?;
                }
                writeln!(out)?;
            }
            writeln!(
                out,
                "Save the descriptors as `least.json` and prove them before they ship:\n\n```sh\n{prove}\n```"
            )
        }
        Format::Human => {
            let width = opts.width.max(40);
            let wrap = |text: &str, first: &str, rest: &str| {
                super::fill(
                    text,
                    super::wrap_options(width)
                        .initial_indent(first)
                        .subsequent_indent(rest),
                )
            };
            let name = s
                .key_name
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            let assumed = if s.version_given { "" } else { " (assumed)" };
            let head = format!(
                "Least privilege for API key {}{name} from its observed use · Elasticsearch {}{assumed}",
                s.key_id, s.version
            );
            let head = if opts.color {
                head.bold().to_string()
            } else {
                head
            };
            writeln!(out, "{}", wrap(&head, "", "  "))?;
            for n in &s.notes {
                writeln!(out, "{}", wrap(n, "  ", "  "))?;
            }
            for p in &s.partial {
                let text = format!("incomplete: {p}");
                let text = if opts.color {
                    text.yellow().to_string()
                } else {
                    text
                };
                writeln!(out, "{}", wrap(&text, "  ", "              "))?;
            }
            writeln!(out, "\n  role_descriptors:")?;
            for line in format_json(&s.role_descriptors).lines() {
                writeln!(out, "    {line}")?;
            }
            if !s.uncovered.is_empty() {
                writeln!(out, "\n  not covered:")?;
                for u in &s.uncovered {
                    writeln!(out, "{}", wrap(u, "    - ", "      "))?;
                }
            }
            if !s.unused.is_empty() {
                writeln!(out, "\n  held but never used in that window:")?;
                for u in &s.unused {
                    writeln!(out, "{}", wrap(&unused_line(u), "    - ", "      "))?;
                }
            }
            let save = "Save the descriptors as least.json (--format json: .role_descriptors) and prove them against the same logs before they ship:";
            writeln!(out, "\n{}", wrap(save, "  ", "  "))?;
            writeln!(out, "    {prove}")
        }
    }
}
