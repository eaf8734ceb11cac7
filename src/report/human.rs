//! The human report: a headline per finding, the evidence as a miette snippet with labelled
//! spans, what it means, numbered remediation, references; notes and skipped inputs last.

use std::fmt;
use std::io::{self, Write};

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use owo_colors::OwoColorize;

use super::{curl_form, detail_lines, summary_line, RenderOptions};
use crate::diagnosis::{Diagnosis, Evidence, Finding, Severity};
use crate::event::credential::redact;

const INDENT: &str = "  ";

/// Render the human report.
pub fn render_human(d: &Diagnosis, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    for (idx, finding) in d.findings.iter().enumerate() {
        if idx > 0 {
            writeln!(out)?;
        }
        render_finding(finding, opts, out)?;
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
        let head = paint(opts, "note:", |s| s.cyan().bold().to_string());
        writeln!(out, "{head} {}{count}{place}", redact(&note.message))?;
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
    writeln!(
        out,
        "{}",
        paint(opts, &summary_line(d), |s| s.bold().to_string())
    )
}

fn paint(opts: &RenderOptions, text: &str, style: impl Fn(&str) -> String) -> String {
    if opts.color {
        style(text)
    } else {
        text.to_string()
    }
}

fn render_finding(f: &Finding, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
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
    for ev in &f.evidence {
        render_snippet(ev, opts, out)?;
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
                    .subsequent_indent(&rest_indent),
            );
            writeln!(out, "{wrapped}")?;
        }
    }

    heading(opts, out, "What it means")?;
    prose(out, &redact(&f.explanation), opts.width, 2)?;

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

    heading(opts, out, "What to do")?;
    for (i, step) in f.remediation.iter().enumerate() {
        let number = format!("{INDENT}{INDENT}{}. ", i + 1);
        let rest = " ".repeat(number.len());
        let wrapped = textwrap::fill(
            &redact(&step.title),
            textwrap::Options::new(opts.width.max(40))
                .initial_indent(&number)
                .subsequent_indent(&rest),
        );
        writeln!(out, "{}", paint(opts, &wrapped, |s| s.bold().to_string()))?;
        if let Some(text) = &step.text {
            prose(out, &redact(text), opts.width, 4 + number.len() / 2 - 2)?;
        }
        if let Some(note) = &step.version_note {
            prose(
                out,
                &format!("({note})"),
                opts.width,
                4 + number.len() / 2 - 2,
            )?;
        }
        if let Some(request) = &step.request {
            for line in redact(request).lines() {
                writeln!(
                    out,
                    "{rest}  {}",
                    paint(opts, line, |s| s.green().to_string())
                )?;
            }
            if opts.curl {
                if let Some(curl) = curl_form(request) {
                    writeln!(
                        out,
                        "{rest}  {}",
                        paint(opts, "# or with curl:", |s| s.dimmed().to_string())
                    )?;
                    for line in redact(&curl).lines() {
                        writeln!(
                            out,
                            "{rest}  {}",
                            paint(opts, line, |s| s.green().to_string())
                        )?;
                    }
                }
            }
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

fn heading(opts: &RenderOptions, out: &mut dyn Write, title: &str) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "{INDENT}{}",
        paint(opts, title, |s| s.bold().underline().to_string())
    )
}

fn prose(out: &mut dyn Write, text: &str, width: usize, indent: usize) -> io::Result<()> {
    let pad = " ".repeat(indent * 2);
    for (i, paragraph) in text.split("\n\n").enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let joined = paragraph.lines().map(str::trim_end).collect::<Vec<_>>();
        // Keep list items and indented lines as they are; fill running prose.
        if joined
            .iter()
            .any(|l| l.starts_with("- ") || l.starts_with("  ") || l.starts_with("* "))
        {
            for line in joined {
                let wrapped = textwrap::fill(
                    line,
                    textwrap::Options::new(width.max(40))
                        .initial_indent(&pad)
                        .subsequent_indent(&format!("{pad}  ")),
                );
                writeln!(out, "{wrapped}")?;
            }
        } else {
            let wrapped = textwrap::fill(
                &joined.join(" "),
                textwrap::Options::new(width.max(40))
                    .initial_indent(&pad)
                    .subsequent_indent(&pad),
            );
            writeln!(out, "{wrapped}")?;
        }
    }
    Ok(())
}

/// A miette diagnostic that is only a labelled snippet.
#[derive(Debug)]
struct Snippet {
    src: NamedSource<String>,
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

fn render_snippet(ev: &Evidence, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    // Line numbers in the snippet are the input's: pad with the lines before the excerpt so that
    // miette counts from the right place, and show only the excerpt's lines.
    let text = redact(&ev.text).replace('\t', "    ");
    let shifted_spans = if text == ev.text {
        ev.spans.clone()
    } else {
        Vec::new()
    };
    let snippet = Snippet {
        src: NamedSource::new(format!("{}:{}", ev.source, ev.line), text.clone()),
        labels: shifted_spans
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
    if handler.render_report(&mut rendered, &snippet).is_err() {
        writeln!(out, "{INDENT}{INDENT}{}:{}", ev.source, ev.line)?;
        for line in text.lines() {
            writeln!(out, "{INDENT}{INDENT}│ {line}")?;
        }
        return Ok(());
    }
    // Drop miette's own headline (`× evidence`) and keep the snippet.
    let body: Vec<&str> = rendered
        .lines()
        .skip_while(|l| !l.contains('╭') && !l.contains(",-["))
        .collect();
    for line in body {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        writeln!(out, "{INDENT}{line}")?;
    }
    Ok(())
}
