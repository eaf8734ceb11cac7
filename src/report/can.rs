//! `keydoctor can`'s answer in the three formats.
//!
//! JSON contract (documented in the README; fields are only ever added): `{"schema_version",
//! "id", "name", "request", "action", "targets", "version", "version_given", "verdict",
//! "summary", "reasons", "deciding", "least_privilege", "granted_by", "patches", "fetch",
//! "check", "notes", "trace"}`, `verdict` one of `allowed`, `denied_by_descriptors`,
//! `denied_by_owner`, `denied_by_remote_indices`, `undecidable`.

use std::io::{self, Write};

use owo_colors::OwoColorize;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{curl_form, Format, RenderOptions};
use crate::diagnosis::privileges::format_json;
use crate::lifecycle::can::{CanReport, Patch, Verdict};
use crate::model::RunAs;

/// The version of `keydoctor can --format json` (1: the first).
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON Schema of `keydoctor can --format json`.
pub(crate) fn schema() -> schemars::Schema {
    super::output_schema::<CanOut<'static>>()
}

#[derive(Serialize, JsonSchema)]
struct TargetOut<'a> {
    written: &'a str,
    cluster: Option<&'a str>,
    name: &'a str,
    failures: bool,
    data_stream: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
struct EntryOut<'a> {
    path: String,
    side: &'static str,
    role: &'a str,
    value: &'a Value,
}

#[derive(Serialize, JsonSchema)]
struct RequestOut {
    run_as: &'static str,
    request: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    curl: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct PatchOut<'a> {
    side: &'static str,
    privilege: &'a str,
    before: &'a Value,
    after: &'a Value,
    diff: &'a str,
    requests: Vec<RequestOut>,
    /// What must hold before the patch is applied (the deciding step's answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    only_if: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
struct CanOut<'a> {
    schema_version: u32,
    id: &'a str,
    name: Option<&'a str>,
    request: &'a str,
    action: &'a str,
    targets: Vec<TargetOut<'a>>,
    version: String,
    version_given: bool,
    verdict: &'static str,
    summary: &'a str,
    reasons: &'a [String],
    deciding: Option<EntryOut<'a>>,
    least_privilege: Option<&'a str>,
    granted_by: &'a [String],
    patches: Vec<PatchOut<'a>>,
    fetch: Option<RequestOut>,
    check: Option<&'a str>,
    notes: &'a [String],
    trace: &'a [String],
    /// `--with-key-env`: the cluster's `_has_privileges` answers, which decide the exit status.
    confirmations: Vec<ConfirmationOut<'a>>,
    cluster_grants: Option<bool>,
    cluster_said: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
struct ConfirmationOut<'a> {
    target: Option<&'a str>,
    granted: bool,
    var: &'a str,
}

fn who(run_as: RunAs) -> &'static str {
    match run_as {
        RunAs::Owner => "as the key's owner (a user with a password)",
        RunAs::Admin => "as a user with manage_security (a password, not an API key)",
        RunAs::User => "as a user with a password",
        RunAs::NewKey => "with the new key",
        RunAs::ClientKey => "with the client's key",
    }
}

/// Who gets a missing fact: a user who may read the index counts a document under a DLS
/// query; the key itself answers for a templated one.
fn fetch_who(run_as: RunAs) -> &'static str {
    match run_as {
        RunAs::User => "as a user with a password who may read the index (count 1: the key sees the document; 0: it does not)",
        RunAs::ClientKey => "with the key itself (found: the key sees the document; not found: its query hides it or it does not exist)",
        other => who(other),
    }
}

fn requests_out(p: &Patch, opts: &RenderOptions) -> Vec<RequestOut> {
    p.requests
        .iter()
        .map(|(run_as, request)| RequestOut {
            run_as: run_as.as_str(),
            request: request.clone(),
            curl: opts
                .curl
                .then(|| curl_form(request, *run_as, &opts.target))
                .flatten(),
        })
        .collect()
}

fn fetch_out(r: &CanReport, opts: &RenderOptions) -> Option<RequestOut> {
    r.fetch.as_ref().map(|(run_as, f)| RequestOut {
        run_as: run_as.as_str(),
        request: f.clone(),
        curl: opts
            .curl
            .then(|| curl_form(f, *run_as, &opts.target))
            .flatten(),
    })
}

/// Render the answer.
pub fn render_can(
    r: &CanReport,
    format: Format,
    explain: bool,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => {
            let doc = CanOut {
                schema_version: SCHEMA_VERSION,
                id: &r.key_id,
                name: r.key_name.as_deref(),
                request: &r.request.written,
                action: &r.request.action,
                targets: r
                    .request
                    .targets
                    .iter()
                    .map(|t| TargetOut {
                        written: &t.written,
                        cluster: t.cluster.as_deref(),
                        name: &t.name,
                        failures: t.failures,
                        data_stream: t.stream.as_deref(),
                    })
                    .collect(),
                version: r.version.to_string(),
                version_given: r.version_given,
                verdict: r.verdict.as_str(),
                summary: &r.summary,
                reasons: &r.reasons,
                deciding: r.deciding.as_ref().map(|e| EntryOut {
                    path: e.path(),
                    side: e.side.as_str(),
                    role: &e.role,
                    value: &e.value,
                }),
                least_privilege: r.least.as_deref(),
                granted_by: &r.granted_by,
                patches: r
                    .patches
                    .iter()
                    .map(|p| PatchOut {
                        side: p.side.as_str(),
                        privilege: &p.privilege,
                        before: &p.before,
                        after: &p.after,
                        diff: &p.diff,
                        requests: requests_out(p, opts),
                        only_if: p.only_if.as_deref(),
                    })
                    .collect(),
                fetch: fetch_out(r, opts),
                check: r.check.as_deref(),
                notes: &r.notes,
                trace: &r.trace,
                confirmations: r
                    .confirmations
                    .iter()
                    .map(|c| ConfirmationOut {
                        target: c.target.as_deref(),
                        granted: c.granted,
                        var: &c.var,
                    })
                    .collect(),
                cluster_grants: r.cluster_grants(),
                cluster_said: r.cluster_said(),
            };
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        Format::Markdown => markdown(r, explain, opts, out),
        Format::Human => human(r, explain, opts, out),
    }
}

fn headline(r: &CanReport) -> &'static str {
    match r.verdict {
        Verdict::Allowed => "ALLOWED",
        Verdict::DeniedByDescriptors => "DENIED (the key's role descriptors)",
        Verdict::DeniedByOwner => "DENIED (the owner's snapshot, limited_by)",
        Verdict::DeniedByRemoteIndices => "DENIED (remote_indices on the querying cluster)",
        Verdict::Undecidable => "UNDECIDABLE",
    }
}

fn human(
    r: &CanReport,
    explain: bool,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let width = opts.width.max(40);
    let wrap = |text: &str, indent: &str| {
        super::fill(
            text,
            super::wrap_options(width)
                .initial_indent(indent)
                .subsequent_indent(&" ".repeat(indent.chars().count())),
        )
    };
    let name = r
        .key_name
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    writeln!(out, "API key {}{name}: {}", r.key_id, r.request.written)?;
    let targets = r
        .request
        .targets
        .iter()
        .map(|t| t.written.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let on = if targets.is_empty() {
        String::new()
    } else {
        format!(" on [{targets}]")
    };
    let version = if r.version_given {
        format!("Elasticsearch {}", r.version)
    } else {
        format!("Elasticsearch {} (assumed)", r.version)
    };
    writeln!(out, "  action {}{on} · {version}\n", r.request.action)?;
    let head = headline(r);
    if opts.color {
        let painted = match r.verdict {
            Verdict::Allowed => head.green().bold().to_string(),
            Verdict::Undecidable => head.yellow().bold().to_string(),
            _ => head.red().bold().to_string(),
        };
        writeln!(out, "  {painted}")?;
    } else {
        writeln!(out, "  {head}")?;
    }
    writeln!(out, "{}", wrap(&r.summary, "  "))?;
    for reason in &r.reasons {
        writeln!(out, "{}", wrap(reason, "  - "))?;
    }
    for said in r.cluster_said() {
        let said = if opts.color && r.cluster_disagrees() {
            said.yellow().bold().to_string()
        } else {
            said
        };
        writeln!(out, "{}", wrap(&said, "  * "))?;
    }
    if let Some((run_as, fetch)) = &r.fetch {
        let head = format!("Get the missing fact first, {}:", fetch_who(*run_as));
        writeln!(out, "\n{}", wrap(&head, "  "))?;
        for line in fetch.lines() {
            writeln!(out, "    {line}")?;
        }
        if let Some(curl) = opts
            .curl
            .then(|| curl_form(fetch, *run_as, &opts.target))
            .flatten()
        {
            for line in curl.lines() {
                writeln!(out, "    {line}")?;
            }
        }
    }
    if let Some(e) = &r.deciding {
        let label = if r.verdict == Verdict::Allowed {
            "granted by"
        } else if r.verdict.is_denied() {
            "nearest entry"
        } else {
            "entry"
        };
        writeln!(out, "\n  {label}: {}", e.path())?;
        let text = format_json(&e.value);
        for line in text.lines() {
            writeln!(out, "    {line}")?;
        }
    }
    if !r.granted_by.is_empty() {
        writeln!(
            out,
            "\n  least privilege: {} (granted by [{}] in {})",
            r.least.as_deref().unwrap_or("-"),
            r.granted_by.join(", "),
            r.version
        )?;
    }
    let mut step = 0;
    for p in &r.patches {
        writeln!(
            out,
            "\n  The smallest change ({}, adds {}){}:",
            p.side.as_str(),
            p.privilege,
            p.only_if
                .as_deref()
                .map(|c| format!(", {c}"))
                .unwrap_or_default()
        )?;
        for line in p.diff.lines() {
            let line = if opts.color && line.starts_with('+') && !line.starts_with("+++") {
                line.green().to_string()
            } else if opts.color && line.starts_with('-') && !line.starts_with("---") {
                line.red().to_string()
            } else {
                line.to_string()
            };
            writeln!(out, "    {line}")?;
        }
        for (run_as, request) in &p.requests {
            step += 1;
            writeln!(out, "\n  {step}. Run {}:", who(*run_as))?;
            for line in request.lines() {
                writeln!(out, "    {line}")?;
            }
            if let Some(curl) = opts
                .curl
                .then(|| curl_form(request, *run_as, &opts.target))
                .flatten()
            {
                writeln!(out)?;
                for line in curl.lines() {
                    writeln!(out, "    {line}")?;
                }
            }
        }
    }
    if let Some(check) = &r.check {
        writeln!(out, "\n{}", wrap(check, "  "))?;
    }
    if let Some(note) = &r.request.note {
        writeln!(out, "\n{}", wrap(note, "  note: "))?;
    }
    for note in &r.notes {
        writeln!(out, "{}", wrap(note, "  note: "))?;
    }
    if explain {
        writeln!(out, "\n  How it was decided:")?;
        for line in &r.trace {
            writeln!(out, "{}", wrap(line, "    - "))?;
        }
    } else if !r.trace.is_empty() {
        writeln!(
            out,
            "\n  (--explain shows each entry looked at: {})",
            r.trace.len()
        )?;
    }
    Ok(())
}

fn markdown(
    r: &CanReport,
    explain: bool,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "## Can API key `{}` do `{}`? {}\n",
        r.key_id,
        r.request.written.replace('`', "'"),
        headline(r)
    )?;
    writeln!(
        out,
        "Action `{}`, Elasticsearch {}{}.\n",
        r.request.action,
        r.version,
        if r.version_given { "" } else { " (assumed)" }
    )?;
    writeln!(out, "{}\n", r.summary)?;
    for reason in &r.reasons {
        writeln!(out, "- {reason}")?;
    }
    for said in r.cluster_said() {
        writeln!(out, "- **{said}**")?;
    }
    if !r.reasons.is_empty() || !r.confirmations.is_empty() {
        writeln!(out)?;
    }
    if let Some((run_as, fetch)) = &r.fetch {
        writeln!(
            out,
            "Get the missing fact first, {}:\n\n```\n{fetch}\n```\n",
            fetch_who(*run_as)
        )?;
    }
    if let Some(e) = &r.deciding {
        writeln!(
            out,
            "Entry `{}`:\n\n```json\n{}\n```\n",
            e.path(),
            format_json(&e.value)
        )?;
    }
    if !r.granted_by.is_empty() {
        writeln!(
            out,
            "Least privilege: `{}` (granted by `{}`).\n",
            r.least.as_deref().unwrap_or("-"),
            r.granted_by.join("`, `")
        )?;
    }
    let mut step = 0;
    for p in &r.patches {
        writeln!(
            out,
            "The smallest change (`{}`){}:\n\n```diff\n{}```\n",
            p.side.as_str(),
            p.only_if
                .as_deref()
                .map(|c| format!(", {c}"))
                .unwrap_or_default(),
            p.diff
        )?;
        for (run_as, request) in &p.requests {
            step += 1;
            writeln!(
                out,
                "{step}. Run {}:\n\n```\n{request}\n```\n",
                who(*run_as)
            )?;
            if let Some(curl) = opts
                .curl
                .then(|| curl_form(request, *run_as, &opts.target))
                .flatten()
            {
                writeln!(out, "```sh\n{curl}\n```\n")?;
            }
        }
    }
    if let Some(check) = &r.check {
        writeln!(out, "{check}\n")?;
    }
    if let Some(note) = &r.request.note {
        writeln!(out, "> note: {note}\n")?;
    }
    for note in &r.notes {
        writeln!(out, "> note: {note}\n")?;
    }
    if explain {
        writeln!(out, "How it was decided:\n")?;
        for line in &r.trace {
            writeln!(out, "- {line}")?;
        }
    }
    Ok(())
}
