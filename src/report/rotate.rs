//! `keydoctor rotate`'s plan in the three formats.

use std::io::{self, Write};

use owo_colors::OwoColorize;
use schemars::JsonSchema;
use serde::Serialize;

use super::{Format, RenderOptions};
use crate::lifecycle::rotate::Plan;

/// The version of `keydoctor rotate --format json` (1: the first with a version and a schema).
pub const SCHEMA_VERSION: u32 = 1;

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
    steps: Vec<StepOut<'a>>,
    descriptors_diff: Option<&'a str>,
}

/// One step; who runs it only with a request, its curl form only with `--curl`.
#[derive(Serialize, JsonSchema)]
struct StepOut<'a> {
    step: usize,
    title: &'a str,
    text: &'a str,
    request: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_as: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    curl: Option<String>,
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

/// Render a rotation plan.
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
                steps: plan
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| StepOut {
                        step: i + 1,
                        title: &s.title,
                        text: &s.text,
                        request: s.request.as_deref(),
                        run_as: s.request.as_ref().map(|_| s.run_as.as_str()),
                        curl: s
                            .request
                            .as_deref()
                            .filter(|_| opts.curl)
                            .and_then(|r| super::curl_form(r, s.run_as, &opts.target)),
                    })
                    .collect(),
                descriptors_diff: diff.as_deref(),
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
                writeln!(out, "> **note:** {w}\n")?;
            }
            for (i, s) in plan.steps.iter().enumerate() {
                writeln!(out, "{}. **{}**\n\n   {}\n", i + 1, s.title, s.text)?;
                if let Some(r) = &s.request {
                    writeln!(
                        out,
                        "   ```\n{}\n   ```\n",
                        super::markdown::indent(r, "   ")
                    )?;
                }
            }
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
                    super::wrap_options(opts.width.max(40)).subsequent_indent("      "),
                );
                writeln!(out, "{text}")?;
            }
            for (i, s) in plan.steps.iter().enumerate() {
                writeln!(out)?;
                let number = format!("  {}. ", i + 1);
                let pad = " ".repeat(number.len());
                let title = format!("{number}{}", s.title);
                let title = if opts.color {
                    title.bold().to_string()
                } else {
                    title
                };
                writeln!(out, "{title}")?;
                let text = super::fill(
                    &s.text,
                    super::wrap_options(opts.width.max(40))
                        .initial_indent(&pad)
                        .subsequent_indent(&pad),
                );
                writeln!(out, "{text}")?;
                if let Some(r) = &s.request {
                    for line in r.lines() {
                        let line = if opts.color {
                            line.green().to_string()
                        } else {
                            line.to_string()
                        };
                        writeln!(out, "{pad}  {line}")?;
                    }
                    if opts.curl {
                        if let Some(c) = super::curl_form(r, s.run_as, &opts.target) {
                            writeln!(out, "{pad}  # or with curl:")?;
                            for line in c.lines() {
                                writeln!(out, "{pad}  {line}")?;
                            }
                        }
                    }
                }
            }
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
