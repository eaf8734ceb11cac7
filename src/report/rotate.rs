//! `keydoctor rotate`'s plan in the three formats.

use std::io::{self, Write};

use owo_colors::OwoColorize;
use schemars::JsonSchema;
use serde::Serialize;

use super::{Format, RenderOptions};
use crate::lifecycle::replay::{Replay, Replayed};
use crate::lifecycle::rotate::Plan;
use crate::model::format_ms;

/// The version of `keydoctor rotate --format json` (1: the first with a version and a schema;
/// 2: the steps are the report's steps, filled from the `rotate-key` snippet: `text` and
/// `request` absent rather than null, `curl`, `who`, `where`, `version_note` and `http` as a
/// finding's remediation has them; 3: `replay`, the old key's requests replayed against the
/// replacement, with `--replay`).
pub const SCHEMA_VERSION: u32 = 3;

/// The JSON Schema of `keydoctor rotate --format json`.
pub(crate) fn schema() -> schemars::Schema {
    super::output_schema::<PlanOut<'static>>()
}

/// `keydoctor rotate --format json` (the order is the contract's).
#[derive(Serialize, JsonSchema)]
struct PlanOut<'a> {
    schema_version: u32,
    id: &'a str,
    name: Option<&'a str>,
    state: &'static str,
    warnings: &'a [String],
    steps: Vec<super::json::StepOut>,
    descriptors_diff: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replay: Option<ReplayOut<'a>>,
}

/// `--replay`: the old key's granted requests judged for the replacement.
#[derive(Serialize, JsonSchema)]
struct ReplayOut<'a> {
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

fn replay_out(r: &Replay) -> ReplayOut<'_> {
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

/// The unified diff of a plan's descriptor change.
fn plan_diff(plan: &Plan) -> Option<String> {
    let (before, after) = plan.descriptors_change.as_ref()?;
    let diff = similar::TextDiff::from_lines(before.as_str(), after.as_str());
    Some(
        diff.unified_diff()
            .context_radius(3)
            .header("role_descriptors (old key)", "role_descriptors (new key)")
            .to_string(),
    )
}

/// Render a rotation plan: its steps as a finding's plan renders them.
pub fn render_plan(
    plan: &Plan,
    format: Format,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let diff = plan_diff(plan);
    let name = plan
        .name
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    match format {
        Format::Json => {
            let doc = PlanOut {
                schema_version: SCHEMA_VERSION,
                id: &plan.id,
                name: plan.name.as_deref(),
                state: plan.state.as_str(),
                warnings: &plan.warnings,
                steps: super::json::steps_out(&plan.steps, &opts.target),
                descriptors_diff: diff.as_deref(),
                replay: plan.replay.as_ref().map(replay_out),
            };
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        Format::Markdown => {
            writeln!(
                out,
                "## Rotation plan for API key `{}`{name}: {}\n",
                plan.id,
                plan.state.as_str()
            )?;
            for w in &plan.warnings {
                writeln!(out, "> **note:** {}\n", super::markdown::md_inline(w))?;
            }
            if let Some(r) = &plan.replay {
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
            }
            super::markdown::steps_markdown(&plan.steps, opts, out)?;
            if let Some(d) = diff {
                writeln!(out, "### Change to the role descriptors\n\n```diff\n{d}```")?;
            }
            Ok(())
        }
        Format::Human => {
            let head = format!(
                "Rotation plan for key {}{name}, now {}",
                plan.id,
                plan.state.as_str()
            );
            let head = if opts.color {
                head.bold().to_string()
            } else {
                head
            };
            writeln!(out, "{head}")?;
            for w in &plan.warnings {
                let text = super::fill(
                    &format!("note: {w}"),
                    super::wrap_options(opts.width.max(40))
                        .initial_indent("  ")
                        .subsequent_indent("        "),
                );
                writeln!(out, "{text}")?;
            }
            if let Some(r) = &plan.replay {
                render_replay_human(r, opts, out)?;
            }
            writeln!(out)?;
            super::human::render_steps(&plan.steps, opts, out)?;
            if let Some(d) = diff {
                writeln!(out, "\n  Change to the role descriptors:")?;
                for line in d.lines() {
                    let painted = match (opts.color, line.chars().next()) {
                        (true, Some('+')) if !line.starts_with("+++") => line.green().to_string(),
                        (true, Some('-')) if !line.starts_with("---") => line.red().to_string(),
                        _ => line.to_string(),
                    };
                    writeln!(out, "    {painted}")?;
                }
            }
            Ok(())
        }
    }
}

/// The replay, in the human report: before the steps, so that what would break is read before
/// anything ships.
fn render_replay_human(r: &Replay, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
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
