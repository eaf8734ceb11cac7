//! `keydoctor rotate`'s plan in the three formats.

use std::io::{self, Write};

use owo_colors::OwoColorize;
use schemars::JsonSchema;
use serde::Serialize;

use super::{Format, RenderOptions};
use crate::lifecycle::rotate::Plan;

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
    replay: Option<super::replay::ReplayOut<'a>>,
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
                replay: plan.replay.as_ref().map(super::replay::replay_out),
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
                super::replay::render_markdown(r, out)?;
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
                super::replay::render_human(r, opts, out)?;
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
