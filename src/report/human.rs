//! The human report: a headline per finding, the evidence as a miette snippet with labelled
//! spans, what it means, numbered remediation, references; notes and skipped inputs last.

use std::fmt;
use std::io::{self, Write};

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan};
use owo_colors::OwoColorize;

use super::{curl_form, detail_lines, summary_line, RenderOptions};
use crate::diagnosis::{Diagnosis, Evidence, Finding, RenderedStep, Severity};
use crate::event::credential::redact;

const INDENT: &str = "  ";

/// Render the human report.
pub fn render_human(d: &Diagnosis, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    // Several findings: say up front what is coming, one line each.
    if d.findings.len() > 1 {
        writeln!(
            out,
            "{}",
            paint(opts, &summary_line(d), |s| s.bold().to_string())
        )?;
        let class_width = d
            .findings
            .iter()
            .map(|f| f.class.as_str().len())
            .max()
            .unwrap_or(0);
        for (i, f) in d.findings.iter().enumerate() {
            let key = f.key_id.as_deref().unwrap_or("(id not shown)");
            // A scan's index also says how often and when: enough to triage from the top.
            let seen = if d.files.is_empty() {
                String::new()
            } else {
                format!(
                    "  {:>5}×  {}",
                    f.count,
                    compact_span(
                        f.details.first_seen.as_deref(),
                        f.details.last_seen.as_deref()
                    )
                )
            };
            let line = format!(
                "  {}. {:<class_width$}  {key:<20}{seen}",
                i + 1,
                f.class.as_str()
            );
            writeln!(out, "{}", line.trim_end())?;
        }
        writeln!(out)?;
    }
    for (idx, finding) in d.findings.iter().enumerate() {
        if idx > 0 {
            writeln!(out)?;
        }
        render_finding(finding, opts, out)?;
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
        note_line(
            &format!("{}{count}{place}", redact(&note.message)),
            opts,
            out,
        )?;
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
        writeln!(
            out,
            "{head} {}: {}",
            skipped.source,
            redact(&skipped.reason.to_string())
        )?;
    }
    if !d.findings.is_empty() || !d.notes.is_empty() || !d.skipped.is_empty() {
        writeln!(out)?;
    }
    if let Some(files) = super::files_line(d) {
        writeln!(out, "{}", textwrap::fill(&files, opts.width.max(40)))?;
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
    writeln!(
        out,
        "{}",
        paint(opts, &summary_line(d), |s| s.bold().to_string())
    )
}

/// `2026-11-20T09:14:10Z` … `2026-11-20T09:14:45Z` → `2026-11-20 09:14:10–09:14:45`.
fn compact_span(first: Option<&str>, last: Option<&str>) -> String {
    let split = |t: &str| -> (String, String) {
        let t = t.trim_end_matches('Z');
        match t.split_once('T') {
            Some((d, h)) => (d.to_string(), h.to_string()),
            None => (String::new(), t.to_string()),
        }
    };
    match (first, last) {
        (Some(a), Some(b)) if a != b => {
            let ((da, ha), (db, hb)) = (split(a), split(b));
            if da == db {
                format!("{da} {ha}–{hb}")
            } else {
                format!("{da} {ha} – {db} {hb}")
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
        paint(opts, &redact(&f.summary), |s| s.bold().to_string())
    )?;
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
            let wrapped = textwrap::fill(
                &redact(&value),
                textwrap::Options::new(opts.width.max(40))
                    .initial_indent(&first_indent)
                    .subsequent_indent(&rest_indent)
                    .word_splitter(textwrap::WordSplitter::NoHyphenation),
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
            let wrapped = textwrap::fill(
                &redact(&text),
                textwrap::Options::new(opts.width.max(40))
                    .initial_indent(&head)
                    .subsequent_indent(&rest)
                    .word_splitter(textwrap::WordSplitter::NoHyphenation),
            );
            writeln!(out, "{wrapped}")?;
        }
    }

    heading(opts, out, "What it means")?;
    prose(
        out,
        &redact(&f.explanation),
        opts.width,
        &format!("{INDENT}{INDENT}"),
    )?;

    if !f.candidates.is_empty() {
        heading(opts, out, "Possible causes")?;
        for c in &f.candidates {
            let head = format!("{INDENT}{INDENT}• {}: ", c.class.as_str());
            let rest = " ".repeat(6);
            let wrapped = textwrap::fill(
                &redact(&c.why),
                textwrap::Options::new(opts.width.max(40))
                    .initial_indent(&head)
                    .subsequent_indent(&rest),
            );
            writeln!(out, "{}", paint(opts, &wrapped, |s| s.to_string()))?;
        }
    }

    if let Some(diff) = &f.differential {
        heading(opts, out, "Causes considered")?;
        let wrap = |text: &str, head: &str, rest: usize| {
            textwrap::fill(
                &redact(text),
                textwrap::Options::new(opts.width.max(40))
                    .initial_indent(head)
                    .subsequent_indent(&" ".repeat(rest))
                    .word_splitter(textwrap::WordSplitter::NoHyphenation),
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
            writeln!(out, "{INDENT}{INDENT}{verdict} {}", c.cause)?;
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
            let wrapped = textwrap::fill(
                &redact(d),
                textwrap::Options::new(opts.width.max(40))
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
    for (i, step) in steps.iter().enumerate() {
        let number = format!("{INDENT}{INDENT}{}. ", i + 1);
        let pad = " ".repeat(number.len());
        let wrapped = textwrap::fill(
            &redact(&step.title),
            textwrap::Options::new(opts.width.max(40))
                .initial_indent(&number)
                .subsequent_indent(&pad),
        );
        writeln!(out, "{}", paint(opts, &wrapped, |s| s.bold().to_string()))?;
        if let Some(text) = &step.text {
            prose(out, &redact(text), opts.width, &pad)?;
        }
        if let Some(diff) = &step.diff {
            for line in redact(diff).lines() {
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
            for line in redact(request).lines() {
                writeln!(
                    out,
                    "{pad}  {}",
                    paint(opts, line, |s| s.green().to_string())
                )?;
            }
            if opts.curl {
                if let Some(curl) = curl_form(request, step.run_as, &opts.target) {
                    writeln!(
                        out,
                        "{pad}  {}",
                        paint(opts, "# or with curl:", |s| s.dimmed().to_string())
                    )?;
                    for line in redact(&curl).lines() {
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
        paint(opts, &textwrap::fill(&redact(&head), width), |s| s
            .bold()
            .to_string())
    )?;
    for (i, b) in blocks.iter().enumerate() {
        writeln!(
            out,
            "  {}. {}",
            i + 1,
            paint(opts, &redact(&b.heading), |s| s.bold().to_string())
        )?;
        for (label, text) in &b.lines {
            let first = format!("     {label:>10}  ");
            let wrapped = textwrap::fill(
                &redact(text),
                textwrap::Options::new(width)
                    .initial_indent(&first)
                    .subsequent_indent("                 "),
            );
            writeln!(out, "{wrapped}")?;
        }
    }
    for n in &view.notes {
        note_line(&redact(n), opts, out)?;
    }
    Ok(())
}

pub(super) fn note_line(text: &str, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let text = format!("note: {text}");
    let wrapped = textwrap::fill(
        &text,
        textwrap::Options::new(opts.width.max(40)).subsequent_indent("      "),
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
            textwrap::Options::new(width.max(40))
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
                writeln!(out, "{}", textwrap::fill(line, options(width, pad, &hang)))?;
            }
        } else {
            writeln!(
                out,
                "{}",
                textwrap::fill(&lines.join(" "), options(width, pad, pad))
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

fn render_snippet(ev: &Evidence, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let redacted = redact(&ev.text);
    // Spans are byte offsets of the excerpt; they stay valid only if nothing was redacted here
    // (the input was redacted at load, so normally nothing is).
    let spans = if redacted == ev.text {
        ev.spans.clone()
    } else {
        Vec::new()
    };
    let room = opts.width.saturating_sub(12).max(30);
    let (text, spans) = window(&redacted, &spans, room);
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
