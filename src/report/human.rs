//! The human report: a headline per finding, the evidence as a miette snippet with labelled
//! spans, what it means, numbered remediation, references; notes and skipped inputs last.

use std::fmt;
use std::io::{self, Write};

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan};
use owo_colors::OwoColorize;

use super::{curl_form, detail_lines, summary_line, RenderOptions};
use crate::diagnosis::{Diagnosis, Evidence, Finding, RenderedStep};
use crate::model::Severity;

const INDENT: &str = "  ";

/// Render the human report.
pub fn render_human(d: &Diagnosis, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    // Another cluster behind --es-url: said before anything else, since nothing of it was used.
    if let Some(why) = &d.cluster_mismatch {
        let head = paint(opts, "warning:", |s| s.yellow().bold().to_string());
        let text = super::fill(
            &format!("warning: {why}"),
            super::wrap_options(opts.width.max(40)).subsequent_indent("         "),
        );
        let body = text.strip_prefix("warning:").unwrap_or(&text);
        writeln!(out, "{head}{body}")?;
        writeln!(out)?;
    }
    // Several findings: say up front what is coming, one line each.
    if d.findings.len() > 1 {
        let line = super::fill(&summary_line(d), super::wrap_options(opts.width.max(40)));
        writeln!(out, "{}", paint(opts, &line, |s| s.bold().to_string()))?;
        for line in summary_table(d, opts.width) {
            writeln!(out, "{}", line.trim_end())?;
        }
        writeln!(out)?;
    }
    for (idx, finding) in d.findings.iter().enumerate() {
        if idx > 0 {
            writeln!(out)?;
        }
        if opts.full {
            render_finding(finding, opts, out)?;
        } else {
            render_finding_short(finding, opts, out)?;
        }
    }
    if let Some(view) = &d.two_sided {
        two_sided_human(view, opts, out)?;
    }
    if !d.findings.is_empty() && (!d.notes.is_empty() || !d.skipped.is_empty()) {
        writeln!(out)?;
    }
    for note in &d.notes {
        let place = match (&note.source, note.line) {
            (Some(s), Some(l)) => format!(" ({s}:{l})"),
            _ => String::new(),
        };
        let count = if note.count > 1 {
            format!(" [×{}]", note.count)
        } else {
            String::new()
        };
        note_line(&format!("{}{count}{place}", note.message), opts, out)?;
    }
    if d.skipped.len() > 1 {
        let partial = d.skipped.iter().filter(|s| s.reason.is_partial()).count();
        let line = format!(
            "Skipped or partly read: {} skipped, {partial} partly read (what could be read was used).",
            d.skipped.len() - partial
        );
        writeln!(out, "{}", paint(opts, &line, |s| s.yellow().to_string()))?;
    }
    for skipped in &d.skipped {
        let head = paint(opts, "warning:", |s| s.yellow().bold().to_string());
        writeln!(out, "{head} {}: {}", skipped.source, skipped.reason)?;
    }
    if !d.findings.is_empty() || !d.notes.is_empty() || !d.skipped.is_empty() {
        writeln!(out)?;
    }
    if !opts.full && !d.findings.is_empty() {
        let hint = "--full adds what each finding means, every detail, the causes considered, the timeline, dead ends and references.";
        writeln!(
            out,
            "{}",
            paint(
                opts,
                &super::fill(hint, super::wrap_options(opts.width.max(40))),
                |s| s.dimmed().to_string()
            )
        )?;
    }
    if let Some(files) = super::files_line(d) {
        writeln!(
            out,
            "{}",
            super::fill(&files, super::wrap_options(opts.width.max(40)))
        )?;
    }
    if let Some(line) = super::omitted_line(d) {
        writeln!(
            out,
            "{}",
            super::fill(&line, super::wrap_options(opts.width.max(40)))
        )?;
    }
    if d.filtered_out > 0 {
        writeln!(
            out,
            "{} left out by --key/--class.",
            super::plural(d.filtered_out, "finding")
        )?;
    }
    for line in super::suppressed_lines(d) {
        let head = paint(opts, "suppressed:", |s| s.dimmed().to_string());
        writeln!(out, "{head} {line}")?;
    }
    let line = super::fill(&summary_line(d), super::wrap_options(opts.width.max(40)));
    writeln!(out, "{}", paint(opts, &line, |s| s.bold().to_string()))
}

/// One line per finding: number, class, key, who owns the key and which client sent it, and
/// as much as fits `width` of how often and when (a scan): the richest layout in which every row
/// fits; at the narrowest, the last column is cut with `…`.
fn summary_table(d: &Diagnosis, width: usize) -> Vec<String> {
    let class_width = d
        .findings
        .iter()
        .map(|f| f.class.as_str().len())
        .max()
        .unwrap_or(0);
    let key_width = d
        .findings
        .iter()
        .map(|f| {
            f.key_id
                .as_deref()
                .unwrap_or("(id not shown)")
                .chars()
                .count()
        })
        .max()
        .unwrap_or(0);
    let number_width = d.findings.len().to_string().len();
    let count_width = d
        .findings
        .iter()
        .map(|f| f.count.to_string().len() + 1)
        .max()
        .unwrap_or(0);
    struct Row {
        head: String,
        count: String,
        long: String,
        short: String,
        time: String,
        who: String,
    }
    let rows: Vec<Row> = d
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let key = f.key_id.as_deref().unwrap_or("(id not shown)");
            let (first, last) = (
                f.observed.first_seen.as_deref(),
                f.observed.last_seen.as_deref(),
            );
            Row {
                head: format!(
                    "  {:>number_width$}. {:<class_width$}  {key:<key_width$}",
                    i + 1,
                    f.class.as_str()
                ),
                count: format!("{:>count_width$}", format!("{}×", f.count)),
                long: compact_span(first, last),
                short: short_span(first, last),
                time: short_span(first, last)
                    .split_once(' ')
                    .map(|(_, t)| t.to_string())
                    .unwrap_or_default(),
                who: who_and_client(f),
            }
        })
        .collect();
    // A scan's index also says how often and when: enough to triage from the top.
    let scan = !d.files.is_empty();
    let pad = |cells: &[&str], widths: &[usize]| -> String {
        cells
            .iter()
            .zip(widths)
            .filter(|(c, _)| !c.is_empty())
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    let widest = |pick: &dyn Fn(&Row) -> &str| {
        rows.iter()
            .map(|r| pick(r).chars().count())
            .max()
            .unwrap_or(0)
    };
    // Times without the date only when every failure was on one day (the findings say which).
    let one_day = {
        let mut days = d.findings.iter().flat_map(|f| {
            [&f.observed.first_seen, &f.observed.last_seen]
                .into_iter()
                .flatten()
                .map(|t| t.get(..10).unwrap_or(t))
        });
        let first = days.next();
        first.is_some() && days.all(|day| Some(day) == first)
    };
    // Span: 2 the date and seconds, 1 the month, day and minutes, 0 the minutes.
    let layouts: [(bool, Option<u8>); 6] = [
        (true, Some(2)),
        (true, Some(1)),
        (true, Some(0)),
        (false, Some(1)),
        (false, Some(0)),
        (false, None),
    ];
    for (with_count, span) in layouts {
        if !scan && (with_count || span.is_some()) || (span == Some(0) && !one_day) {
            continue;
        }
        let cells = |r: &Row| -> Vec<String> {
            let mut out = vec![r.head.clone()];
            if with_count {
                out.push(r.count.clone());
            }
            match span {
                Some(2) => out.push(r.long.clone()),
                Some(1) => out.push(r.short.clone()),
                Some(_) => out.push(r.time.clone()),
                None => {}
            }
            out
        };
        let mut widths = vec![widest(&|r| r.head.as_str())];
        if with_count {
            widths.push(count_width);
        }
        match span {
            Some(2) => widths.push(widest(&|r| r.long.as_str())),
            Some(1) => widths.push(widest(&|r| r.short.as_str())),
            Some(_) => widths.push(widest(&|r| r.time.as_str())),
            None => {}
        }
        let lines: Vec<String> = rows
            .iter()
            .map(|r| {
                let mut c = cells(r);
                c.push(r.who.clone());
                let mut w = widths.clone();
                w.push(0);
                let refs: Vec<&str> = c.iter().map(String::as_str).collect();
                pad(&refs, &w).trim_end().to_string()
            })
            .collect();
        if lines.iter().all(|l| l.chars().count() <= width) {
            return lines;
        }
    }
    rows.iter()
        .map(|r| {
            let head_len = r.head.chars().count();
            let room = width.saturating_sub(head_len + 2);
            if r.who.is_empty() || room < 4 {
                r.head.trim_end().to_string()
            } else {
                format!("{}  {}", r.head, cut(&r.who, room))
            }
        })
        .collect()
}

/// `2026-11-20T09:14:10Z` … `2026-11-20T09:14:45Z` → `11-20 09:14–09:14` (or `11-20 09:14–11-21
/// 10:03` across days).
fn short_span(first: Option<&str>, last: Option<&str>) -> String {
    span_text(first, last, false)
}

/// `text` in at most `room` characters, cut with `…`.
fn cut(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut out: String = text.chars().take(room.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Who owns the key (or is denied with it) and which client sent it, shortly: `ingest_owner,
/// filebeat`.
fn who_and_client(f: &Finding) -> String {
    let who = f
        .key
        .user
        .clone()
        .or_else(|| f.key.metadata.as_ref().and_then(|m| m.username.clone()))
        .or_else(|| f.denial.principal.clone());
    // The name a sign read (`filebeat`) says more than the entry it belongs to (`beats`).
    let client = f.client.as_ref().map(|c| {
        if c.named_by_sign {
            c.name.clone()
        } else {
            c.id.clone()
        }
    });
    [who, client]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one screen to act on: the headline, the decisive evidence, who, when and which client,
/// and the plan's steps with their requests (texts only where the step is only words). Past
/// [`ONE_SCREEN`] lines, request bodies go on one line each.
fn render_finding_short(f: &Finding, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let mut spread = Vec::new();
    short_finding(f, opts, &mut spread, false)?;
    if spread.iter().filter(|b| **b == b'\n').count() <= ONE_SCREEN {
        return out.write_all(&spread);
    }
    short_finding(f, opts, out, true)
}

fn short_finding(
    f: &Finding,
    opts: &RenderOptions,
    out: &mut dyn Write,
    one_line_bodies: bool,
) -> io::Result<()> {
    headline(f, opts, out)?;
    // The decisive evidence: the first excerpt with labelled words.
    if let Some(ev) = f
        .evidence
        .iter()
        .find(|e| !e.spans.is_empty())
        .or_else(|| f.evidence.first())
    {
        // How many more records showed it is in the headline (`seen 16×`); `--full` says where.
        render_snippet_compact(ev, opts, out)?;
    }
    let facts = short_facts(f);
    if !facts.is_empty() {
        writeln!(out)?;
        let label_width = facts.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        for (label, value) in facts {
            let first = format!("{INDENT}{label:>label_width$}  ");
            let rest = " ".repeat(first.chars().count());
            let wrapped = super::fill(
                &value,
                super::wrap_options(opts.width.max(40))
                    .initial_indent(&first)
                    .subsequent_indent(&rest),
            );
            writeln!(out, "{wrapped}")?;
        }
    }
    let (now, later): (Vec<RenderedStep>, Vec<RenderedStep>) =
        f.remediation.iter().cloned().partition(|s| !s.later);
    if !now.is_empty() {
        heading(opts, out, "What to do")?;
        render_steps_with(&now, opts, out, false, one_line_bodies)?;
    }
    // After the incident: the title and the request, its body on one line (Dev Tools and
    // `curl` take it so); `--full` shows it spread out, with its text.
    for step in &later {
        writeln!(out)?;
        let title = format!("{INDENT}Later: {}{}", step.title, run_as_tag(step));
        let wrapped = super::fill(
            &title,
            super::wrap_options(opts.width.max(40)).subsequent_indent("         "),
        );
        writeln!(out, "{}", paint(opts, &wrapped, |s| s.bold().to_string()))?;
        if let Some(request) = &step.request {
            let (head, body) = request.split_once('\n').unwrap_or((request.as_str(), ""));
            writeln!(
                out,
                "         {}",
                paint(opts, head, |s| s.green().to_string())
            )?;
            if !body.trim().is_empty() {
                let compact = one_line_json(body);
                writeln!(
                    out,
                    "         {}",
                    paint(opts, &compact, |s| s.green().to_string())
                )?;
            }
        }
    }
    Ok(())
}

/// Who, when and which client, in a few words each (the full view has every detail).
fn short_facts(f: &Finding) -> Vec<(&'static str, String)> {
    use crate::model::format_ms;
    let mut out = Vec::new();
    // The key, when the headline does not name it.
    if let Some(id) = f
        .key_id
        .as_ref()
        .filter(|id| !f.summary.contains(id.as_str()))
    {
        out.push(("key", id.clone()));
    }
    let mut who = Vec::new();
    let owner = f
        .key
        .user
        .clone()
        .or_else(|| f.key.metadata.as_ref().and_then(|m| m.username.clone()));
    let realm = f
        .key
        .realm
        .clone()
        .or_else(|| f.key.metadata.as_ref().and_then(|m| m.realm.clone()));
    if let Some(owner) = &owner {
        who.push(match &realm {
            Some(r) => format!("owner {owner} ({r})"),
            None => format!("owner {owner}"),
        });
    }
    if let Some(p) = f
        .denial
        .principal
        .as_ref()
        .filter(|p| Some(*p) != owner.as_ref())
    {
        who.push(format!("caller {p}"));
    }
    if let Some(by) = &f.key.invalidated_by {
        let mut text = format!(
            "invalidated by {}",
            by.user.as_deref().unwrap_or("(user not recorded)")
        );
        if let Some(r) = &by.realm {
            text.push_str(&format!(" ({r})"));
        }
        if let Some(at) = &by.timestamp {
            text.push_str(&format!(" at {at}"));
        }
        if let Some(origin) = &by.origin {
            text.push_str(&format!(" from {origin}"));
        }
        who.push(text);
    } else if let Some(ms) = f.key.metadata.as_ref().and_then(|m| m.invalidation_ms) {
        who.push(format!("invalidated {}", format_ms(ms)));
    }
    if !who.is_empty() {
        out.push(("who", who.join("; ")));
    }
    let mut when = compact_span(
        f.observed.first_seen.as_deref(),
        f.observed.last_seen.as_deref(),
    );
    if f.count > 1 {
        if when.is_empty() {
            when = format!("{}×", f.count);
        } else {
            when.push_str(&format!(" UTC, {}×", f.count));
        }
    } else if !when.is_empty() {
        when.push_str(" UTC");
    }
    if !f.observed.nodes.is_empty() {
        let nodes = format!("on {}", f.observed.nodes.join(", "));
        when = if when.is_empty() {
            nodes
        } else {
            format!("{when} {nodes}")
        };
    }
    if let Some(ms) = f.key.metadata.as_ref().and_then(|m| m.expiration_ms) {
        if f.class == crate::model::Class::Expired {
            when.push_str(&format!(
                "{}expired {}",
                if when.is_empty() { "" } else { "; " },
                format_ms(ms)
            ));
        }
    }
    if !when.is_empty() {
        out.push(("when", when));
    }
    let addresses = match f.observed.client_addresses.len() {
        0 => String::new(),
        1..=3 => f.observed.client_addresses.join(", "),
        n => format!(
            "{} and {} more",
            f.observed.client_addresses[..3].join(", "),
            n - 3
        ),
    };
    match (&f.client, addresses.is_empty()) {
        (Some(c), true) => out.push(("client", c.name.clone())),
        (Some(c), false) => out.push(("client", format!("{} at {addresses}", c.name))),
        (None, false) => out.push(("client", addresses)),
        (None, true) => {}
    }
    if let Some(view) = f.cluster_view() {
        out.push(("cluster", view));
    }
    // A 401 that hides its reason: the candidates by name (`--full` says why each).
    if !f.candidates.is_empty() {
        let names: Vec<&str> = f
            .candidates
            .iter()
            .map(|c| match c.class {
                crate::model::CandidateKind::NotSent => "no credential sent",
                crate::model::CandidateKind::Class(class) => class.as_str(),
            })
            .collect();
        out.push(("could be", names.join(", ")));
    }
    out
}

/// The headline: level, class, summary, count.
fn headline(f: &Finding, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let level = match f.severity {
        Severity::Error => paint(opts, "error", |s| s.red().bold().to_string()),
        Severity::Warning => paint(opts, "warning", |s| s.yellow().bold().to_string()),
        Severity::Note => paint(opts, "note", |s| s.cyan().bold().to_string()),
    };
    let class = paint(opts, &format!("[{}]", f.class.as_str()), |s| {
        s.bold().to_string()
    });
    let count = if f.count > 1 {
        format!("  (seen {}×)", f.count)
    } else {
        String::new()
    };
    writeln!(
        out,
        "{level}{class}: {}{count}",
        paint(opts, &f.summary, |s| s.bold().to_string())
    )
}

/// `2026-11-20T09:14:10Z` … `2026-11-20T09:14:45Z` → `2026-11-20 09:14:10–09:14:45`.
fn compact_span(first: Option<&str>, last: Option<&str>) -> String {
    span_text(first, last, true)
}

/// A span of two RFC 3339 times in few characters: `long` keeps the year and the seconds.
fn span_text(first: Option<&str>, last: Option<&str>, long: bool) -> String {
    let split = |t: &str| -> (String, String) {
        let t = t.trim_end_matches('Z');
        match t.split_once('T') {
            Some((d, h)) if long => (d.to_string(), h.to_string()),
            Some((d, h)) => (
                d.get(5..).unwrap_or(d).to_string(),
                h.get(..5).unwrap_or(h).to_string(),
            ),
            None => (String::new(), t.to_string()),
        }
    };
    let across = if long { " – " } else { "–" };
    match (first, last) {
        (Some(a), Some(b)) if a != b => {
            let ((da, ha), (db, hb)) = (split(a), split(b));
            if da == db {
                format!("{da} {ha}–{hb}")
            } else {
                format!("{da} {ha}{across}{db} {hb}")
            }
        }
        (Some(a), _) => {
            let (d, h) = split(a);
            format!("{d} {h}")
        }
        _ => String::new(),
    }
}

pub(super) fn paint(opts: &RenderOptions, text: &str, style: impl Fn(&str) -> String) -> String {
    if opts.color {
        style(text)
    } else {
        text.to_string()
    }
}

pub(super) fn render_finding(
    f: &Finding,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    headline(f, opts, out)?;
    writeln!(
        out,
        "{INDENT}{}",
        paint(opts, &format!("rule {}", f.rule_id), |s| s
            .dimmed()
            .to_string())
    )?;

    heading(opts, out, "Evidence")?;
    let mut shown: Vec<Vec<&str>> = Vec::new();
    let mut also = Vec::new();
    for ev in &f.evidence {
        // The same labelled words again (a repeated log line) is a location, not a new snippet.
        let words: Vec<&str> = ev
            .spans
            .iter()
            .filter_map(|s| ev.text.get(s.start..s.end))
            .collect();
        if shown.contains(&words) {
            also.push(format!("{}:{}", ev.source, ev.line));
            continue;
        }
        shown.push(words);
        render_snippet(ev, opts, out)?;
    }
    if !also.is_empty() {
        let more = f.count.saturating_sub(shown.len() + also.len());
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        writeln!(out, "{INDENT}{INDENT}also at {}{tail}", also.join(", "))?;
    }

    let details = detail_lines(f);
    if !details.is_empty() {
        heading(opts, out, "Details")?;
        let label_width = details.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        for (label, value) in details {
            let first_indent = format!("{INDENT}{INDENT}{label:>label_width$}  ");
            let rest_indent = " ".repeat(first_indent.chars().count());
            let wrapped = super::fill(
                &value,
                super::wrap_options(opts.width.max(40))
                    .initial_indent(&first_indent)
                    .subsequent_indent(&rest_indent),
            );
            writeln!(out, "{wrapped}")?;
        }
    }

    if !f.timeline.is_empty() {
        heading(opts, out, "Timeline")?;
        for t in &f.timeline {
            let head = format!("{INDENT}{INDENT}{}  ", t.at);
            let rest = " ".repeat(head.chars().count());
            let text = match &t.source {
                Some(src) => format!("{} ({src})", t.text),
                None => t.text.clone(),
            };
            let wrapped = super::fill(
                &text,
                super::wrap_options(opts.width.max(40))
                    .initial_indent(&head)
                    .subsequent_indent(&rest),
            );
            writeln!(out, "{wrapped}")?;
        }
    }

    heading(opts, out, "What it means")?;
    prose(
        out,
        &f.explanation,
        opts.width,
        &format!("{INDENT}{INDENT}"),
    )?;

    if !f.candidates.is_empty() {
        heading(opts, out, "Possible causes")?;
        for c in &f.candidates {
            let head = format!("{INDENT}{INDENT}• {}: ", c.class.as_str());
            let rest = " ".repeat(6);
            let wrapped = super::fill(
                &c.why,
                super::wrap_options(opts.width.max(40))
                    .initial_indent(&head)
                    .subsequent_indent(&rest),
            );
            writeln!(out, "{}", paint(opts, &wrapped, |s| s.to_string()))?;
        }
    }

    if let Some(diff) = &f.differential {
        heading(opts, out, "Causes considered")?;
        let wrap = |text: &str, head: &str, rest: usize| {
            super::fill(
                text,
                super::wrap_options(opts.width.max(40))
                    .initial_indent(head)
                    .subsequent_indent(&" ".repeat(rest)),
            )
        };
        for c in &diff.causes {
            let verdict = format!("{:<8}", c.verdict.as_str());
            let verdict = match c.verdict {
                crate::diagnosis::differential::Verdict::Likely => {
                    paint(opts, &verdict, |s| s.bold().to_string())
                }
                _ => paint(opts, &verdict, |s| s.dimmed().to_string()),
            };
            writeln!(out, "{INDENT}{INDENT}{verdict} {}", c.text)?;
            let marked = c
                .evidence_for
                .iter()
                .map(|e| ('+', e))
                .chain(c.evidence_against.iter().map(|e| ('−', e)));
            for (mark, e) in marked {
                let head = format!("{INDENT}{INDENT}{}  {mark} ", " ".repeat(8));
                writeln!(out, "{}", wrap(e, &head, 16))?;
            }
        }
        if let Some(check) = &diff.check {
            writeln!(
                out,
                "{}",
                wrap(check, &format!("{INDENT}{INDENT}check: "), 11)
            )?;
        }
    }

    heading(opts, out, "What to do")?;
    render_steps(&f.remediation, opts, out)?;

    if !f.dead_ends.is_empty() {
        heading(opts, out, "Dead ends")?;
        for d in &f.dead_ends {
            let wrapped = super::fill(
                d,
                super::wrap_options(opts.width.max(40))
                    .initial_indent(&format!("{INDENT}{INDENT}✗ "))
                    .subsequent_indent(&" ".repeat(6)),
            );
            writeln!(out, "{wrapped}")?;
        }
    }

    if !f.references.is_empty() {
        heading(opts, out, "References")?;
        for (title, url) in &f.references {
            writeln!(out, "{INDENT}{INDENT}• {title}")?;
            writeln!(
                out,
                "{INDENT}{INDENT}  {}",
                paint(opts, url, |s| s.blue().to_string())
            )?;
        }
    }
    Ok(())
}

/// Numbered remediation steps, requests in green (and in curl form with `--curl`).
pub(super) fn render_steps(
    steps: &[RenderedStep],
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    render_steps_with(steps, opts, out, true, false)
}

/// The most lines the one-screen view gives a finding at any width; past it, request bodies
/// are printed on one line each (they may overflow the width, never break).
const ONE_SCREEN: usize = 40;

/// `body` (JSON) on one line, `"a": 1, "b": [2, 3]` spaced as people write it.
fn one_line_json(body: &str) -> String {
    fn write(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push_str(": ");
                    write(v, out);
                }
                out.push('}');
            }
            serde_json::Value::Array(list) => {
                out.push('[');
                for (i, v) in list.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(v, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    match serde_json::from_str::<serde_json::Value>(body.trim()) {
        Ok(v) => {
            let mut out = String::new();
            write(&v, &mut out);
            out
        }
        Err(_) => body.trim().to_string(),
    }
}

/// Who a step's request runs as, and where it runs when that is not the key's own cluster
/// (unless the title says so), in words after its title: `  [as an admin, on the remote
/// (fulfilling) cluster]`.
fn run_as_tag(step: &RenderedStep) -> String {
    use crate::model::{RunAs, RunsOn};
    let who = match (step.request.is_some(), step.run_as) {
        (false, _) => None,
        (true, RunAs::User) => Some("as a user"),
        (true, RunAs::Owner) => Some("as the key's owner"),
        (true, RunAs::Admin) => Some("as an admin"),
        (true, RunAs::NewKey) => Some("as the new key"),
        (true, RunAs::ClientKey) => Some("as the client's key"),
    };
    let titled = step.title.starts_with("On ") || step.title.starts_with("In ");
    let place = match step.on {
        RunsOn::Querying if !titled => Some("on the querying cluster"),
        RunsOn::Fulfilling if !titled => Some("on the remote (fulfilling) cluster"),
        RunsOn::Kibana if !titled && step.request.is_some() => Some("in Kibana"),
        _ => None,
    };
    let parts: Vec<&str> = [who, place].into_iter().flatten().collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("  [{}]", parts.join(", "))
    }
}

/// The steps; `texts` says whether each step's explanation and diff are shown (the one-screen
/// view shows a step's text only when the step has no request: then the text is the action).
fn render_steps_with(
    steps: &[RenderedStep],
    opts: &RenderOptions,
    out: &mut dyn Write,
    texts: bool,
    one_line_bodies: bool,
) -> io::Result<()> {
    for (i, step) in steps.iter().enumerate() {
        let number = format!("{INDENT}{INDENT}{}. ", i + 1);
        let pad = " ".repeat(number.len());
        let wrapped = super::fill(
            &format!("{}{}", step.title, run_as_tag(step)),
            super::wrap_options(opts.width.max(40))
                .initial_indent(&number)
                .subsequent_indent(&pad),
        );
        writeln!(out, "{}", paint(opts, &wrapped, |s| s.bold().to_string()))?;
        if let Some(text) = step
            .text
            .as_ref()
            .filter(|_| texts || (step.request.is_none() && step.diff.is_none()))
        {
            prose(out, text, opts.width, &pad)?;
        }
        if let Some(diff) = step.diff.as_ref().filter(|_| texts) {
            for line in diff.lines() {
                let painted = match line.chars().next() {
                    Some('+') if !line.starts_with("+++") => {
                        paint(opts, line, |s| s.green().to_string())
                    }
                    Some('-') if !line.starts_with("---") => {
                        paint(opts, line, |s| s.red().to_string())
                    }
                    Some('@') => paint(opts, line, |s| s.cyan().to_string()),
                    _ => line.to_string(),
                };
                writeln!(out, "{pad}  {painted}")?;
            }
        }
        if let Some(request) = &step.request {
            let request = request.to_string();
            let request = match request.split_once('\n') {
                Some((head, body)) if one_line_bodies && !body.trim().is_empty() => {
                    format!("{head}\n{}", one_line_json(body))
                }
                _ => request,
            };
            for line in request.lines() {
                writeln!(
                    out,
                    "{pad}  {}",
                    paint(opts, line, |s| s.green().to_string())
                )?;
            }
            if opts.curl {
                if let Some(curl) = curl_form(&request, step.run_as, &opts.target) {
                    writeln!(
                        out,
                        "{pad}  {}",
                        paint(opts, "# or with curl:", |s| s.dimmed().to_string())
                    )?;
                    for line in curl.lines() {
                        writeln!(
                            out,
                            "{pad}  {}",
                            paint(opts, line, |s| s.green().to_string())
                        )?;
                    }
                }
            }
        }
        if let Some(note) = &step.version_note {
            let note = format!("({note})");
            prose(
                out,
                &paint(opts, &note, |s| s.italic().to_string()),
                opts.width,
                &pad,
            )?;
        }
    }
    Ok(())
}

/// `note: text`, wrapped under itself, the label in cyan.
/// The symptom pairs across the two clusters.
fn two_sided_human(
    view: &crate::diagnosis::two_sided::TwoSided,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let (head, blocks) = super::two_sided_blocks(view);
    let width = opts.width.max(40);
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        paint(opts, &super::fill(&head, super::wrap_options(width)), |s| s
            .bold()
            .to_string())
    )?;
    for (i, b) in blocks.iter().enumerate() {
        writeln!(
            out,
            "  {}. {}",
            i + 1,
            paint(opts, &b.heading, |s| s.bold().to_string())
        )?;
        for (label, text) in &b.lines {
            let first = format!("     {label:>10}  ");
            let wrapped = super::fill(
                text,
                super::wrap_options(width)
                    .initial_indent(&first)
                    .subsequent_indent("                 "),
            );
            writeln!(out, "{wrapped}")?;
        }
    }
    for n in &view.notes {
        note_line(n, opts, out)?;
    }
    Ok(())
}

pub(super) fn note_line(text: &str, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let text = format!("note: {text}");
    let wrapped = super::fill(
        &text,
        super::wrap_options(opts.width.max(40)).subsequent_indent("      "),
    );
    let body = wrapped.strip_prefix("note:").unwrap_or(&wrapped);
    writeln!(
        out,
        "{}{body}",
        paint(opts, "note:", |s| s.cyan().bold().to_string())
    )
}

pub(super) fn heading(opts: &RenderOptions, out: &mut dyn Write, title: &str) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "{INDENT}{}",
        paint(opts, title, |s| s.bold().underline().to_string())
    )
}

pub(super) fn prose(out: &mut dyn Write, text: &str, width: usize, pad: &str) -> io::Result<()> {
    for (i, paragraph) in text.split("\n\n").enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let lines = paragraph.lines().map(str::trim_end).collect::<Vec<_>>();
        fn options<'a>(width: usize, first: &'a str, rest: &'a str) -> textwrap::Options<'a> {
            super::wrap_options(width.max(40))
                .initial_indent(first)
                .subsequent_indent(rest)
        }
        // Lists and indented lines keep their line breaks; running prose is filled.
        if lines
            .iter()
            .any(|l| l.starts_with("- ") || l.starts_with("  ") || l.starts_with("* "))
        {
            for line in lines {
                let hang = format!("{pad}  ");
                writeln!(out, "{}", super::fill(line, options(width, pad, &hang)))?;
            }
        } else {
            writeln!(
                out,
                "{}",
                super::fill(&lines.join(" "), options(width, pad, pad))
            )?;
        }
    }
    Ok(())
}

/// The excerpt as miette sees it: line numbers start at the excerpt's line in the input.
#[derive(Debug)]
struct Excerpt {
    name: String,
    text: String,
    first_line: usize,
}

impl miette::SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line - 1,
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// A miette diagnostic that is only a labelled snippet.
#[derive(Debug)]
struct Snippet {
    src: Excerpt,
    labels: Vec<LabeledSpan>,
}

impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("evidence")
    }
}

impl std::error::Error for Snippet {}

impl Diagnostic for Snippet {
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
}

/// Cut a one-line excerpt to `room` characters around its labels, so that the snippet fits the
/// terminal; the JSON report keeps the wider excerpt.
fn window(
    text: &str,
    spans: &[crate::diagnosis::Span],
    room: usize,
) -> (String, Vec<crate::diagnosis::Span>) {
    if text.contains('\n') || text.chars().count() <= room || spans.is_empty() {
        return (text.to_string(), spans.to_vec());
    }
    let width_of = |a: usize, b: usize| text[a..b].chars().count();
    // Keep the leftmost labels that fit together; the JSON report has them all.
    let mut sorted = spans.to_vec();
    sorted.sort_by_key(|s| s.start);
    let lo = sorted[0].start;
    // The first label is always kept, even when it alone is wider than the room.
    let spans: Vec<crate::diagnosis::Span> = sorted
        .into_iter()
        .enumerate()
        .take_while(|(i, s)| *i == 0 || width_of(lo, s.end.max(lo)) + 2 <= room)
        .map(|(_, s)| s)
        .collect();
    let hi = spans.iter().map(|s| s.end).max().unwrap_or(lo);
    let mut start = lo;
    let mut end = hi;
    let step_left = |at: usize| text[..at].char_indices().last().map_or(0, |(i, _)| i);
    let step_right = |at: usize| at + text[at..].chars().next().map_or(1, char::len_utf8);
    // Half the slack goes to the left context, the rest to the right, then fill what is left.
    let left_goal = room.saturating_sub(width_of(start, end) + 2) / 2;
    for _ in 0..left_goal {
        if start == 0 {
            break;
        }
        start = step_left(start);
    }
    while end < text.len() && width_of(start, end) + 2 < room {
        end = step_right(end);
    }
    while start > 0 && width_of(start, end) + 2 < room {
        start = step_left(start);
    }
    let prefix = if start > 0 { "…" } else { "" };
    let suffix = if end < text.len() { "…" } else { "" };
    let out = format!("{prefix}{}{suffix}", &text[start..end]);
    let shifted = spans
        .iter()
        .map(|s| crate::diagnosis::Span {
            start: s.start - start + prefix.len(),
            end: s.end - start + prefix.len(),
            label: s.label.clone(),
        })
        .collect();
    (out, shifted)
}

/// The decisive line in three or four lines: where, the line, the labelled words underlined
/// with each label beside its words when it fits before the next, else on a line of its own.
/// A multi-line excerpt (a pretty-printed body) keeps the full snippet.
fn render_snippet_compact(
    ev: &Evidence,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    if ev.text.contains('\n') || ev.spans.is_empty() {
        return render_snippet(ev, opts, out);
    }
    let room = opts.width.saturating_sub(6).max(30);
    let (text, spans) = window(&ev.text, &ev.spans, room);
    let (text, mut spans) = expand_tabs(&text, &spans);
    spans.sort_by_key(|s| s.start);
    let col = |at: usize| text.get(..at).map_or(0, |t| t.chars().count());
    let place = format!("{INDENT}{INDENT}{}:{}", ev.source, ev.line);
    writeln!(out, "{}", paint(opts, &place, |s| s.dimmed().to_string()))?;
    writeln!(out, "{INDENT}{INDENT}│ {text}")?;
    // One line of carets under every labelled word (an overlapping one is left out), each
    // label beside its carets when it fits before the next; the others below, one per line.
    let mut line = String::new();
    let mut cursor = 0;
    let mut below = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        let start = col(span.start);
        let end = col(span.end).max(start + 1);
        if start < cursor {
            below.push((start, span.label.as_str()));
            continue;
        }
        line.push_str(&" ".repeat(start - cursor));
        line.push_str(&"^".repeat(end - start));
        cursor = end;
        let label = format!(" {}", span.label);
        let next = spans.get(i + 1).map(|n| col(n.start));
        let width = label.chars().count();
        if next.is_none_or(|n| cursor + width < n) && cursor + width <= room {
            line.push_str(&label);
            cursor += label.chars().count();
        } else {
            below.push((start, span.label.as_str()));
        }
    }
    let painted = paint(opts, &line, |s| s.magenta().to_string());
    writeln!(out, "{INDENT}{INDENT}· {painted}")?;
    for (start, label) in below {
        // Beside its word if it fits the line, else ending under it (`label ╯`).
        let width = label.chars().count();
        let text = if start + 2 + width <= room {
            format!("{}╰ {label}", " ".repeat(start))
        } else if start > width {
            format!("{}{label} ╯", " ".repeat(start - width - 1))
        } else {
            format!("╰ {label}")
        };
        writeln!(out, "{INDENT}{INDENT}· {text}")?;
    }
    Ok(())
}

fn render_snippet(ev: &Evidence, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    // The excerpt was redacted when it was read (and the writer redacts every line again), so
    // its spans still point at the words they label.
    let room = opts.width.saturating_sub(12).max(30);
    let (text, spans) = window(&ev.text, &ev.spans, room);
    let (text, spans) = expand_tabs(&text, &spans);
    let snippet = Snippet {
        src: Excerpt {
            name: ev.source.clone(),
            text: text.clone(),
            first_line: ev.line,
        },
        labels: spans
            .iter()
            .map(|s| LabeledSpan::new(Some(s.label.clone()), s.start, s.end - s.start))
            .collect(),
    };
    let theme = if opts.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(opts.width)
        .with_links(false)
        .with_context_lines(text.lines().count().max(1));
    let mut rendered = String::new();
    if spans.is_empty() || handler.render_report(&mut rendered, &snippet).is_err() {
        writeln!(out, "{INDENT}{INDENT}{}:{}", ev.source, ev.line)?;
        for line in text.lines() {
            writeln!(out, "{INDENT}{INDENT}│ {line}")?;
        }
        return Ok(());
    }
    // Drop miette's own headline (`× evidence`) and keep the snippet.
    for line in rendered.lines().skip_while(|l| !l.contains('╭')) {
        let line = line.trim_end();
        if !line.is_empty() {
            writeln!(out, "{INDENT}{line}")?;
        }
    }
    Ok(())
}

/// Tabs become four spaces (miette counts columns by character), spans shifted to match.
fn expand_tabs(
    text: &str,
    spans: &[crate::diagnosis::Span],
) -> (String, Vec<crate::diagnosis::Span>) {
    if !text.contains('\t') {
        return (text.to_string(), spans.to_vec());
    }
    let shift = |at: usize| at + text[..at].matches('\t').count() * 3;
    let spans = spans
        .iter()
        .map(|s| crate::diagnosis::Span {
            start: shift(s.start),
            end: shift(s.end),
            label: s.label.clone(),
        })
        .collect();
    (text.replace('\t', "    "), spans)
}
