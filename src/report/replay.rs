//! The replay of a key's granted requests against a replacement (`rotate --replay`,
//! `impact --role-descriptors`), in the three formats: one section each report embeds.

use std::io::{self, Write};

use owo_colors::OwoColorize;
use schemars::JsonSchema;
use serde::Serialize;

use super::RenderOptions;
use crate::lifecycle::replay::{Replay, Replayed};
use crate::model::format_ms;

/// `--replay`: the old key's granted requests judged for the replacement.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ReplayOut<'a> {
    /// The version the privilege atlas judged for.
    es_version: String,
    /// Nothing breaks, nothing is unsure, and the logs could show use.
    proven: bool,
    events: usize,
    distinct: usize,
    window_start: Option<String>,
    window_end: Option<String>,
    breaks: Vec<ReplayedOut<'a>>,
    unsure: Vec<ReplayedOut<'a>>,
    kept: usize,
    partial: &'a [String],
    notes: &'a [String],
}

#[derive(Serialize, JsonSchema)]
struct ReplayedOut<'a> {
    action: &'a str,
    indices: &'a [String],
    count: usize,
    last_seen: String,
    /// `denied_by_descriptors`, `denied_by_owner`, `denied_by_remote_indices`, `undecidable`.
    verdict: &'static str,
    why: &'a str,
    entry: Option<&'a str>,
}

fn replayed_out(r: &Replayed) -> ReplayedOut<'_> {
    ReplayedOut {
        action: &r.action,
        indices: &r.indices,
        count: r.count,
        last_seen: format_ms(r.last_ms),
        verdict: r.verdict.as_str(),
        why: &r.why,
        entry: r.entry.as_deref(),
    }
}

pub(crate) fn replay_out(r: &Replay) -> ReplayOut<'_> {
    ReplayOut {
        es_version: r.version.to_string(),
        proven: r.proven(),
        events: r.events,
        distinct: r.distinct,
        window_start: r.window.map(|w| format_ms(w.0)),
        window_end: r.window.map(|w| format_ms(w.1)),
        breaks: r.breaks.iter().map(replayed_out).collect(),
        unsure: r.unsure.iter().map(replayed_out).collect(),
        kept: r.kept,
        partial: &r.partial,
        notes: &r.notes,
    }
}

/// The replay's headline: what the replacement would break, before the steps that ship it.
fn replay_head(r: &Replay) -> String {
    if !r.breaks.is_empty() {
        let n = r.breaks.len();
        format!(
            "The replacement would break {n} of the {} distinct requests the old key made (Elasticsearch {}): fix its descriptors before creating it",
            r.distinct, r.version
        )
    } else if !r.unsure.is_empty() {
        format!(
            "The replacement cannot be judged for {} of the {} distinct requests the old key made (Elasticsearch {})",
            r.unsure.len(),
            r.distinct,
            r.version
        )
    } else if !r.partial.is_empty() {
        "The replacement is not proven: the logs could not show all the old key did".to_string()
    } else {
        format!(
            "The replacement allows all {} distinct requests the old key made (Elasticsearch {})",
            r.distinct, r.version
        )
    }
}

fn replay_line(r: &Replayed) -> String {
    let times = if r.count == 1 {
        "once".to_string()
    } else {
        format!("{} times", r.count)
    };
    format!(
        "{} ({times}, last {}): {}",
        r.request(),
        format_ms(r.last_ms),
        r.why
    )
}

/// The replay, in the human report: before the steps, so that what would break is read before
/// anything ships.
pub(crate) fn render_human(
    r: &Replay,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let wrap = |text: &str, first: &str, rest: &str| {
        super::fill(
            text,
            super::wrap_options(opts.width.max(40))
                .initial_indent(first)
                .subsequent_indent(rest),
        )
    };
    let head = replay_head(r);
    let head = if opts.color && !r.proven() {
        head.bold().red().to_string()
    } else if opts.color {
        head.bold().green().to_string()
    } else {
        head
    };
    writeln!(out, "\n{}", wrap(&head, "  ", "  "))?;
    for (label, list) in [("would break:", &r.breaks), ("cannot judge:", &r.unsure)] {
        if list.is_empty() {
            continue;
        }
        writeln!(out, "  {label}")?;
        for item in list {
            writeln!(out, "{}", wrap(&replay_line(item), "    - ", "      "))?;
        }
    }
    if r.kept > 0 && !(r.breaks.is_empty() && r.unsure.is_empty()) {
        writeln!(out, "  allowed as before: {} distinct requests", r.kept)?;
    }
    for p in &r.partial {
        writeln!(
            out,
            "{}",
            wrap(&format!("not proven: {p}"), "  ", "        ")
        )?;
    }
    for n in &r.notes {
        writeln!(out, "{}", wrap(&format!("note: {n}"), "  ", "        "))?;
    }
    Ok(())
}

/// The replay in Markdown: its headline, what would break, what cannot be judged.
pub(crate) fn render_markdown(r: &Replay, out: &mut dyn Write) -> io::Result<()> {
    let md = super::markdown::md_inline;
    writeln!(out, "### Replay: {}\n", md(&replay_head(r)))?;
    for (label, list) in [("Would break", &r.breaks), ("Cannot judge", &r.unsure)] {
        if !list.is_empty() {
            writeln!(out, "{label}:\n")?;
            for item in list {
                writeln!(out, "- {}", md(&replay_line(item)))?;
            }
            writeln!(out)?;
        }
    }
    for p in r.partial.iter().chain(&r.notes) {
        writeln!(out, "> {}\n", md(p))?;
    }
    Ok(())
}
