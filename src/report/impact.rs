//! `keydoctor impact`'s report in the three formats.

use std::io::{self, Write};

use owo_colors::OwoColorize;
use schemars::JsonSchema;
use serde::Serialize;

use super::{table, Format, RenderOptions};
use crate::model::format_ms;

/// The version of `keydoctor impact --format json` (1: the first with a version and a schema).
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON Schema of `keydoctor impact --format json`.
pub(crate) fn schema() -> schemars::Schema {
    super::output_schema::<ImpactOut<'static>>()
}

/// `keydoctor impact --format json` (the order is the contract's).
#[derive(Serialize, JsonSchema)]
struct ImpactOut<'a> {
    schema_version: u32,
    id: &'a str,
    name: Option<&'a str>,
    owner: Option<&'a str>,
    state: &'static str,
    managed_by: Option<&'a str>,
    breaks: bool,
    verdict: &'a str,
    partial: bool,
    skipped: Vec<SkippedOut<'a>>,
    used_by: Option<UsedByOut<'a>>,
    related_keys: Vec<RelatedOut<'a>>,
    related_query: Option<&'a str>,
    usage: Option<UsageOut<'a>>,
    failures: Vec<FailureOut<'a>>,
    audit_span: Option<[String; 2]>,
    steps: &'a [String],
    /// `--role-descriptors`: the key's granted requests replayed against the replacement.
    #[serde(skip_serializing_if = "Option::is_none")]
    replay: Option<super::replay::ReplayOut<'a>>,
}

#[derive(Serialize, JsonSchema)]
struct SkippedOut<'a> {
    source: &'a str,
    reason: &'a str,
}

/// The product that uses the key.
#[derive(Serialize, JsonSchema)]
struct UsedByOut<'a> {
    product_id: &'a str,
    product: &'a str,
    depends: &'a str,
    breaks: &'a str,
    retires: Option<&'a str>,
    sources: &'a [String],
    related: Option<FieldValue<'a>>,
}

#[derive(Serialize, JsonSchema)]
struct FieldValue<'a> {
    field: &'a str,
    value: &'a str,
}

#[derive(Serialize, JsonSchema)]
struct RelatedOut<'a> {
    id: &'a str,
    name: Option<&'a str>,
    state: &'static str,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
struct UsageOut<'a> {
    last_used: String,
    uses: usize,
    clients: &'a [String],
    used_as: &'a [String],
    last_used_at: &'a str,
}

#[derive(Serialize, JsonSchema)]
struct FailureOut<'a> {
    class: &'static str,
    count: usize,
    last_seen: Option<&'a str>,
    clients: &'a [String],
}

fn impact_out(r: &crate::lifecycle::impact::Impact) -> ImpactOut<'_> {
    use crate::model::KeyState;
    ImpactOut {
        schema_version: SCHEMA_VERSION,
        id: &r.id,
        name: r.name.as_deref(),
        owner: r.owner.as_deref(),
        state: KeyState::or_unknown(r.state),
        managed_by: r.managed_by.as_deref(),
        breaks: r.breaks,
        verdict: &r.conclusion,
        partial: r.partial,
        skipped: r
            .skipped
            .iter()
            .map(|(source, reason)| SkippedOut { source, reason })
            .collect(),
        used_by: r.dependent.as_ref().map(|d| UsedByOut {
            product_id: &d.id,
            product: &d.product,
            depends: &d.depends,
            breaks: &d.breaks,
            retires: d.retires.as_deref(),
            sources: &d.sources,
            related: d
                .related
                .as_ref()
                .map(|(field, value)| FieldValue { field, value }),
        }),
        related_keys: r
            .related
            .iter()
            .map(|k| RelatedOut {
                id: &k.id,
                name: k.name.as_deref(),
                state: KeyState::or_unknown(k.state),
                kind: k.kind.as_deref(),
            })
            .collect(),
        related_query: r.related_query.as_deref(),
        usage: r.usage.as_ref().map(|u| UsageOut {
            last_used: format_ms(u.last_ms),
            uses: u.count,
            clients: &u.clients,
            used_as: &u.users,
            last_used_at: &u.source,
        }),
        failures: r
            .failures
            .iter()
            .map(|f| FailureOut {
                class: f.class.as_str(),
                count: f.count,
                last_seen: f.last_seen.as_deref(),
                clients: &f.clients,
            })
            .collect(),
        audit_span: r.audit_span.map(|(a, b)| [format_ms(a), format_ms(b)]),
        steps: &r.steps,
        replay: r.replay.as_ref().map(super::replay::replay_out),
    }
}

/// `keydoctor impact`: the verdict, who uses the key, who fails with it, and the steps.
pub fn render_impact(
    r: &crate::lifecycle::impact::Impact,
    format: Format,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    // The other keys of the same agent (say), or the request that lists them.
    let related_text = || -> Option<(String, Vec<[String; 4]>)> {
        let (field, value) = r.dependent.as_ref()?.related.clone()?;
        if let Some(q) = &r.related_query {
            return Some((
                format!("The other keys of {field} `{value}` (ask the cluster):\n{q}"),
                Vec::new(),
            ));
        }
        let title = if r.related.is_empty() {
            format!("No other key has {field} `{value}`.")
        } else {
            format!("The other keys of {field} `{value}`:")
        };
        let rows = r
            .related
            .iter()
            .map(|k| {
                [
                    k.id.clone(),
                    k.name.clone().unwrap_or_else(|| "-".into()),
                    k.kind.clone().unwrap_or_else(|| "-".into()),
                    crate::model::KeyState::or_unknown(k.state).to_string(),
                ]
            })
            .collect();
        Some((title, rows))
    };
    match format {
        Format::Json => {
            let doc = impact_out(r);
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        Format::Markdown => {
            writeln!(out, "## Impact of invalidating `{}`\n", r.id)?;
            writeln!(out, "{}\n", r.conclusion)?;
            for (source, why) in &r.skipped {
                writeln!(out, "> **warning:** {source}: {why}\n")?;
            }
            if let Some((title, rows)) = related_text() {
                let (head, request) = title.split_once('\n').unwrap_or((&title, ""));
                writeln!(out, "{head}\n")?;
                if !request.is_empty() {
                    writeln!(out, "```\n{request}\n```\n")?;
                }
                if !rows.is_empty() {
                    writeln!(out, "| key | name | type | state |\n|---|---|---|---|")?;
                    for [id, name, kind, state] in &rows {
                        writeln!(out, "| `{id}` | {name} | {kind} | {state} |")?;
                    }
                    writeln!(out)?;
                }
            }
            if !r.failures.is_empty() {
                writeln!(
                    out,
                    "| failing as | count | last seen | clients |\n|---|---|---|---|"
                )?;
                for f in &r.failures {
                    writeln!(
                        out,
                        "| {} | {} | {} | {} |",
                        f.class.as_str(),
                        f.count,
                        f.last_seen.as_deref().unwrap_or("-"),
                        f.clients.join(", ")
                    )?;
                }
                writeln!(out)?;
            }
            if let Some(replay) = &r.replay {
                super::replay::render_markdown(replay, out)?;
            }
            for (n, step) in r.steps.iter().enumerate() {
                let (title, request) = step.split_once('\n').unwrap_or((step, ""));
                writeln!(out, "{}. {}", n + 1, title)?;
                if !request.is_empty() {
                    writeln!(
                        out,
                        "\n   ```\n{}\n   ```",
                        super::markdown::indent(request, "   ")
                    )?;
                }
            }
            Ok(())
        }
        Format::Human => {
            let head = format!(
                "{}{}: {}",
                r.id,
                r.name
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
                crate::model::KeyState::or_unknown(r.state)
            );
            writeln!(
                out,
                "{}",
                if opts.color {
                    head.bold().to_string()
                } else {
                    head
                }
            )?;
            let wrapped = super::fill(&r.conclusion, super::wrap_options(opts.width.max(40)));
            writeln!(out, "{wrapped}")?;
            for (source, why) in &r.skipped {
                let head = if opts.color {
                    "warning:".yellow().bold().to_string()
                } else {
                    "warning:".to_string()
                };
                writeln!(out, "{head} {source}: {why}")?;
            }
            if let Some((title, rows)) = related_text() {
                let (head, request) = title.split_once('\n').unwrap_or((&title, ""));
                writeln!(out)?;
                writeln!(
                    out,
                    "{}",
                    super::fill(head, super::wrap_options(opts.width.max(40)))
                )?;
                for line in request.lines() {
                    writeln!(out, "  {line}")?;
                }
                if !rows.is_empty() {
                    table(out, &["key", "name", "type", "state"], &rows)?;
                }
            }
            if !r.failures.is_empty() {
                writeln!(out)?;
                let rows: Vec<[String; 4]> = r
                    .failures
                    .iter()
                    .map(|f| {
                        [
                            f.class.as_str().to_string(),
                            f.count.to_string(),
                            f.last_seen.clone().unwrap_or_else(|| "-".into()),
                            if f.clients.is_empty() {
                                "-".into()
                            } else {
                                f.clients.join(", ")
                            },
                        ]
                    })
                    .collect();
                table(out, &["failing as", "count", "last seen", "clients"], &rows)?;
            }
            if let Some(replay) = &r.replay {
                super::replay::render_human(replay, opts, out)?;
            }
            writeln!(out)?;
            for (n, step) in r.steps.iter().enumerate() {
                let (title, request) = step.split_once('\n').unwrap_or((step, ""));
                let pad = "   ";
                writeln!(
                    out,
                    "{}",
                    super::fill(
                        title,
                        super::wrap_options(opts.width.max(40))
                            .initial_indent(&format!("{}. ", n + 1))
                            .subsequent_indent(pad)
                    )
                )?;
                for line in request.lines() {
                    writeln!(out, "{pad}  {line}")?;
                }
            }
            Ok(())
        }
    }
}
