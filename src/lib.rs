//! keydoctor: why an Elasticsearch API key stopped working, and what to do now.
//!
//! ```text
//! source::Input ──▶ event::Document ──▶ rule::RuleMatch ──▶ diagnosis::Diagnosis ──▶ report::render
//!  (bytes+origin)    (records, normalized   (rule id, captures    (findings, notes,        (human | json |
//!                     text + offset map,     as spans)             skipped)                  markdown)
//!                     credentials redacted)
//! ```
//!
//! Modules, one per stage: [`source`], [`event`], [`rule`], [`diagnosis`], [`report`]; [`scan`]
//! runs stages 1–4 over a log tree, streaming, file by file in parallel; [`cluster`] is the live
//! source of key metadata (read-only HTTPS); [`cli`] is the glue and
//! [`error`] maps outcomes to exit codes.
//!
//! The library's API exists for the binary, the tests and the benches; it is not stable.

#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod checks;
pub mod cli;
pub mod cluster;
pub mod diagnosis;
pub mod error;
pub mod event;
pub mod lifecycle;
pub mod model;
pub mod pipeline;
pub mod report;
pub mod rule;
pub mod scan;
pub mod secret;
pub mod source;

/// Every JSON output's schema, by the file name it is committed under in `schemas/`: the
/// reports' (`report::json_schemas`) and `rules list`'s.
pub fn json_schemas() -> Vec<(&'static str, serde_json::Value)> {
    let mut all = report::json_schemas();
    all.push(("rules-list.schema.json", rule::show::list_schema()));
    all
}
