//! `keydoctor doctor`'s report: the checks (passed ones too), then the findings in the
//! `explain` schema. Per-key findings (`no_expiration`, `expiring_soon`) of one kind are shown
//! as one table with the advice once, not one section per key.

use std::io::{self, Write};

use owo_colors::OwoColorize;
use schemars::JsonSchema;
use serde::Serialize;

use super::human::{heading, note_line, paint, render_finding, render_steps};
use super::markdown::{finding_markdown, md_inline, notes_markdown, steps_markdown};
use super::{plural, Format, RenderOptions};
use crate::checks::doctor::{DoctorReport, Status};
use crate::diagnosis::{Finding, RenderedStep};
use crate::model::format_ms;
use crate::model::human_duration;
use crate::model::Class;

/// Render `report` in `format`; `now_ms` for ages and time left.
pub fn render_doctor(
    report: &DoctorReport,
    now_ms: i64,
    format: Format,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => doctor_json(report, opts, out),
        Format::Human => doctor_human(report, now_ms, opts, out),
        Format::Markdown => doctor_markdown(report, now_ms, opts, out),
    }
}

/// The JSON Schema of `keydoctor doctor --format json`: the report, with the cluster and the
/// checks at its end.
pub(crate) fn schema() -> schemars::Schema {
    super::output_schema::<super::json::Report<DoctorOut<'static>>>()
}

/// What `doctor --format json` adds to the report: the cluster asked, and every check.
#[derive(Serialize, JsonSchema)]
struct DoctorOut<'a> {
    cluster: ClusterOut<'a>,
    checks: Vec<CheckOut<'a>>,
}

#[derive(Serialize, JsonSchema)]
struct ClusterOut<'a> {
    label: &'a str,
    version: Option<&'a str>,
    #[serde(rename = "as")]
    whoami: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
struct CheckOut<'a> {
    id: &'a str,
    title: &'a str,
    status: &'static str,
    text: &'a str,
}

fn doctor_json(report: &DoctorReport, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let mut doc = super::json::report(&report.diagnosis, opts);
    doc.summary = super::json::Summary::Checks {
        text: headline(report),
        findings: report.diagnosis.findings.len(),
    };
    doc.extra = Some(DoctorOut {
        cluster: ClusterOut {
            label: &report.cluster,
            version: report.version.as_deref(),
            whoami: report.whoami.as_deref(),
        },
        checks: report
            .checks
            .iter()
            .map(|c| CheckOut {
                id: &c.id,
                title: &c.title,
                status: c.status.as_str(),
                text: &c.text,
            })
            .collect(),
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

/// "2 errors, 1 warning: 5 findings" / "all 8 checks passed".
fn headline(report: &DoctorReport) -> String {
    let count = |s: Status| report.checks.iter().filter(|c| c.status == s).count();
    let (errors, warnings, unknown) = (
        count(Status::Error),
        count(Status::Warning),
        count(Status::Unknown),
    );
    let unchecked = if unknown > 0 {
        format!(", {unknown} not checked")
    } else {
        String::new()
    };
    if errors + warnings == 0 {
        return format!(
            "{} passed{unchecked}",
            plural(report.checks.len() - unknown, "check")
        );
    }
    format!(
        "{} checks: {} failed, {} with a warning{unchecked}; {}",
        report.checks.len(),
        errors,
        warnings,
        plural(report.diagnosis.findings.len(), "finding")
    )
}

fn symbol(status: Status) -> &'static str {
    match status {
        Status::Ok => "✓",
        Status::Warning => "!",
        Status::Error => "✗",
        Status::Unknown => "?",
    }
}

/// Findings in report order, the per-key classes gathered (first index kept).
fn sections(report: &DoctorReport) -> Vec<Vec<&Finding>> {
    let mut out: Vec<Vec<&Finding>> = Vec::new();
    for f in &report.diagnosis.findings {
        let grouped = matches!(f.class, Class::NoExpiration | Class::ExpiringSoon);
        match out
            .iter_mut()
            .find(|s| grouped && s[0].class == f.class && s[0].rule_id == f.rule_id)
        {
            Some(s) => s.push(f),
            None => out.push(vec![f]),
        }
    }
    out
}

/// The shared advice of a group of per-key findings: the first one's steps, its id made `<id>`.
fn shared_steps(group: &[&Finding]) -> Vec<RenderedStep> {
    let first = group[0];
    let id = first.key_id.as_deref().unwrap_or("<id>");
    first
        .remediation
        .iter()
        .map(|s| RenderedStep {
            when: s.when.clone(),
            path: s.path,
            on: s.on,
            later: s.later,
            run_as: s.run_as,
            title: s.title.replace(id, "<id>"),
            text: s.text.as_ref().map(|t| t.replace(id, "<id>")),
            request: s.request.as_ref().map(|t| t.replace(id, "<id>")),
            version_note: s.version_note.clone(),
            diff: s.diff.clone(),
        })
        .collect()
}

fn key_rows(group: &[&Finding], now_ms: i64) -> (String, Vec<[String; 4]>) {
    let soon = group[0].class == Class::ExpiringSoon;
    let rows = group
        .iter()
        .map(|f| {
            let meta = f.key.metadata.as_ref();
            let owner = match (&f.key.user, &f.key.realm) {
                (Some(u), Some(r)) => format!("{u}@{r}"),
                (Some(u), None) => u.clone(),
                _ => "-".into(),
            };
            let when = if soon {
                meta.and_then(|m| m.expiration_ms)
                    .map(|e| format!("{} (in {})", format_ms(e), human_duration(e - now_ms)))
            } else {
                meta.and_then(|m| m.creation_ms)
                    .map(|c| format!("{} ({} ago)", format_ms(c), human_duration(now_ms - c)))
            };
            [
                f.key_id.clone().unwrap_or_default(),
                f.key.key_name.clone().unwrap_or_else(|| "-".into()),
                owner,
                when.unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    (if soon { "expires" } else { "created" }.to_string(), rows)
}

fn group_title(group: &[&Finding]) -> String {
    let when = match group[0].class {
        Class::ExpiringSoon => "soon",
        _ => "never",
    };
    match group.len() {
        1 => format!("1 key expires {when}"),
        n => format!("{n} keys expire {when}"),
    }
}

fn columns<const N: usize>(header: &[&str; N], rows: &[[String; N]], pad: &str) -> Vec<String> {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = pad.to_string();
        for (i, cell) in cells.iter().enumerate() {
            let w = widths[i] + 2 - cell.chars().count().min(widths[i] + 2);
            s.push_str(cell);
            if i + 1 < N {
                s.push_str(&" ".repeat(w));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out
}

fn doctor_human(
    report: &DoctorReport,
    now_ms: i64,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "{} {}",
        paint(opts, "Cluster", |s| s.bold().to_string()),
        report.cluster
    )?;
    if let Some(who) = &report.whoami {
        writeln!(
            out,
            "{} {who}",
            paint(opts, "As     ", |s| s.bold().to_string())
        )?;
    }
    writeln!(out)?;
    let title_width = report
        .checks
        .iter()
        .map(|c| c.title.chars().count())
        .max()
        .unwrap_or(0);
    for c in &report.checks {
        let mark = symbol(c.status);
        let mark = match c.status {
            Status::Ok => paint(opts, mark, |s| s.green().bold().to_string()),
            Status::Warning => paint(opts, mark, |s| s.yellow().bold().to_string()),
            Status::Error => paint(opts, mark, |s| s.red().bold().to_string()),
            Status::Unknown => paint(opts, mark, |s| s.dimmed().to_string()),
        };
        let head = format!("  {mark} {:<title_width$}  ", c.title);
        let pad = " ".repeat(title_width + 6);
        let wrapped = super::fill(
            &c.text,
            super::wrap_options(opts.width.max(40).saturating_sub(title_width + 6).max(20)),
        );
        for (i, line) in wrapped.lines().enumerate() {
            if i == 0 {
                writeln!(out, "{head}{line}")?;
            } else {
                writeln!(out, "{pad}{line}")?;
            }
        }
    }
    for group in sections(report) {
        writeln!(out)?;
        if group.len() == 1 {
            render_finding(group[0], opts, out)?;
            continue;
        }
        let level = match group.iter().map(|f| f.severity).min() {
            Some(crate::model::Severity::Error) => {
                paint(opts, "error", |s| s.red().bold().to_string())
            }
            _ => paint(opts, "warning", |s| s.yellow().bold().to_string()),
        };
        writeln!(
            out,
            "{level}{}: {}",
            paint(opts, &format!("[{}]", group[0].class.as_str()), |s| s
                .bold()
                .to_string()),
            paint(opts, &group_title(&group), |s| s.bold().to_string())
        )?;
        let (when, rows) = key_rows(&group, now_ms);
        heading(opts, out, "Keys")?;
        for line in columns(&["id", "name", "owner", when.as_str()], &rows, "    ") {
            writeln!(out, "{line}")?;
        }
        // A rule without group words says its first finding's meaning.
        let meaning = report
            .meanings
            .get(&group[0].rule_id)
            .unwrap_or(&group[0].explanation);
        heading(opts, out, "What it means")?;
        super::human::prose(out, meaning, opts.width, "    ")?;
        heading(opts, out, "What to do, for each key")?;
        render_steps(&shared_steps(&group), opts, out)?;
    }
    if !report.diagnosis.notes.is_empty() {
        writeln!(out)?;
    }
    for n in &report.diagnosis.notes {
        note_line(&n.message, opts, out)?;
    }
    for line in super::suppressed_lines(&report.diagnosis) {
        let head = paint(opts, "suppressed:", |s| s.dimmed().to_string());
        writeln!(out, "{head} {line}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        paint(opts, &headline(report), |s| s.bold().to_string())
    )
}

fn doctor_markdown(
    report: &DoctorReport,
    now_ms: i64,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "# keydoctor doctor\n")?;
    writeln!(out, "Cluster: {}  ", md_inline(&report.cluster))?;
    if let Some(who) = &report.whoami {
        writeln!(out, "As: {}  ", md_inline(who))?;
    }
    writeln!(out, "{}\n", headline(report))?;
    writeln!(out, "| | check | result |\n|---|---|---|")?;
    for c in &report.checks {
        writeln!(
            out,
            "| {} | {} | {} |",
            symbol(c.status),
            md_inline(&c.title),
            md_inline(&c.text).replace('|', "\\|")
        )?;
    }
    writeln!(out)?;
    for (i, group) in sections(report).into_iter().enumerate() {
        let number = format!("{}.", i + 1);
        if group.len() == 1 {
            finding_markdown(&number, group[0], opts, out)?;
            continue;
        }
        writeln!(
            out,
            "## {number} `{}`: {}\n",
            group[0].class.as_str(),
            group_title(&group)
        )?;
        let (when, rows) = key_rows(&group, now_ms);
        writeln!(out, "| id | name | owner | {when} |\n|---|---|---|---|")?;
        for r in rows {
            writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                r[0],
                md_inline(&r[1]).replace('|', "\\|"),
                md_inline(&r[2]),
                r[3]
            )?;
        }
        let meaning = report
            .meanings
            .get(&group[0].rule_id)
            .unwrap_or(&group[0].explanation);
        writeln!(out, "\n### What it means\n\n{}", md_inline(meaning))?;
        writeln!(out, "\n### What to do, for each key\n")?;
        steps_markdown(&shared_steps(&group), opts, out)?;
    }
    notes_markdown(&report.diagnosis, out)
}
