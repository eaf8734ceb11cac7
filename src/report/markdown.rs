//! The Markdown report, for pasting into a ticket: the same content as the human report, no
//! ANSI, fenced blocks for evidence and requests.

use std::io::{self, Write};

use super::{curl_form, detail_lines, summary_line, RenderOptions};
use crate::diagnosis::{Diagnosis, Finding, RenderedStep};

/// Render the Markdown report.
pub fn render_markdown(d: &Diagnosis, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# keydoctor report\n")?;
    if let Some(why) = &d.cluster_mismatch {
        writeln!(out, "> **Another cluster:** {}\n", md_inline(why))?;
    }
    writeln!(out, "{}\n", summary_line(d))?;
    for (i, f) in d.findings.iter().enumerate() {
        finding_markdown(&format!("{}.", i + 1), f, opts, out)?;
    }
    if let Some(view) = &d.two_sided {
        let (head, blocks) = super::two_sided_blocks(view);
        writeln!(out, "## Both clusters\n")?;
        writeln!(out, "{}\n", md_inline(&head))?;
        for (i, b) in blocks.iter().enumerate() {
            writeln!(out, "{}. **{}**", i + 1, md_inline(&b.heading))?;
            for (label, text) in &b.lines {
                writeln!(out, "   - {label}: {}", md_inline(text))?;
            }
        }
        writeln!(out)?;
        for n in &view.notes {
            writeln!(out, "- {}", md_inline(n))?;
        }
        if !view.notes.is_empty() {
            writeln!(out)?;
        }
    }
    notes_markdown(d, out)
}

/// One finding as a `##` section headed `number`.
pub(super) fn finding_markdown(
    number: &str,
    f: &Finding,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    {
        writeln!(
            out,
            "## {number} `{}`: {}\n",
            f.class.as_str(),
            md_inline(&f.summary)
        )?;
        let count = if f.count > 1 {
            format!(" · seen {}×", f.count)
        } else {
            String::new()
        };
        writeln!(
            out,
            "Severity **{}** · rule `{}`{count}\n",
            f.severity.as_str(),
            f.rule_id
        )?;
        writeln!(out, "### Evidence\n")?;
        for ev in &f.evidence {
            writeln!(out, "`{}:{}` ({})\n", ev.source, ev.line, ev.kind.as_str())?;
            writeln!(out, "```text\n{}\n```\n", fence_safe(&ev.text))?;
            for span in &ev.spans {
                let piece = ev.text.get(span.start..span.end).unwrap_or("");
                writeln!(out, "- `{}`: {}", md_code(piece), md_inline(&span.label))?;
            }
            if !ev.spans.is_empty() {
                writeln!(out)?;
            }
        }
        let details = detail_lines(f);
        if !details.is_empty() {
            writeln!(out, "### Details\n")?;
            writeln!(out, "| | |\n|---|---|")?;
            for (label, value) in details {
                writeln!(
                    out,
                    "| {label} | {} |",
                    md_inline(&value).replace('|', "\\|")
                )?;
            }
            writeln!(out)?;
        }
        if !f.timeline.is_empty() {
            writeln!(out, "### Timeline\n")?;
            for t in &f.timeline {
                let src = t
                    .source
                    .as_ref()
                    .map(|s| format!(" (`{}`)", md_code(s)))
                    .unwrap_or_default();
                writeln!(out, "- `{}` {}{src}", t.at, md_inline(&t.text))?;
            }
            writeln!(out)?;
        }
        writeln!(out, "### What it means\n\n{}\n", f.explanation)?;
        if !f.candidates.is_empty() {
            writeln!(out, "### Possible causes\n")?;
            for c in &f.candidates {
                writeln!(out, "- **{}**: {}", c.class.as_str(), c.why)?;
            }
            writeln!(out)?;
        }
        if let Some(d) = &f.differential {
            writeln!(out, "### Causes considered\n")?;
            writeln!(
                out,
                "| cause | verdict | for | against |\n| --- | --- | --- | --- |"
            )?;
            let cell = |list: &[String]| {
                list.iter()
                    .map(|e| md_inline(e).replace('|', "\\|"))
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            for c in &d.causes {
                writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    md_inline(&c.text),
                    c.verdict.as_str(),
                    cell(&c.evidence_for),
                    cell(&c.evidence_against)
                )?;
            }
            writeln!(out)?;
            if let Some(check) = &d.check {
                writeln!(out, "**Check:** {check}\n")?;
            }
        }
        writeln!(out, "### What to do\n")?;
        steps_markdown(&f.remediation, opts, out)?;
        if !f.dead_ends.is_empty() {
            writeln!(out, "### Dead ends\n")?;
            for d in &f.dead_ends {
                writeln!(out, "- {d}")?;
            }
            writeln!(out)?;
        }
        if !f.references.is_empty() {
            writeln!(out, "### References\n")?;
            for (title, url) in &f.references {
                writeln!(out, "- [{}]({url})", md_inline(title))?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// Numbered remediation steps.
pub(super) fn steps_markdown(
    steps: &[RenderedStep],
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    {
        for (n, step) in steps.iter().enumerate() {
            writeln!(out, "{}. **{}**", n + 1, md_inline(&step.title))?;
            if let Some(text) = &step.text {
                for line in text.to_string().lines() {
                    writeln!(out, "   {line}")?;
                }
            }
            if let Some(diff) = &step.diff {
                writeln!(
                    out,
                    "\n   ```diff\n{}\n   ```",
                    indent(fence_safe(diff).trim_end(), "   ")
                )?;
            }
            if let Some(request) = &step.request {
                writeln!(
                    out,
                    "\n   ```\n{}\n   ```",
                    indent(&fence_safe(request), "   ")
                )?;
                if opts.curl {
                    if let Some(curl) = curl_form(request, step.run_as, &opts.target) {
                        writeln!(out, "\n   ```sh\n{}\n   ```", indent(&curl, "   "))?;
                    }
                }
            }
            if let Some(note) = &step.version_note {
                writeln!(out, "   _({note})_")?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// The notes, suppressed findings and skipped inputs of `d`.
pub(super) fn notes_markdown(d: &Diagnosis, out: &mut dyn Write) -> io::Result<()> {
    if !d.notes.is_empty() {
        writeln!(out, "## Notes\n")?;
        for n in &d.notes {
            let place = match (&n.source, n.line) {
                (Some(s), Some(l)) => format!(" (`{s}:{l}`)"),
                _ => String::new(),
            };
            let count = if n.count > 1 {
                format!(" ×{}", n.count)
            } else {
                String::new()
            };
            writeln!(out, "- {}{count}{place}", md_inline(&n.message))?;
        }
        writeln!(out)?;
    }
    if let Some(line) = super::omitted_line(d) {
        writeln!(out, "## Not shown in full\n\n{}\n", md_inline(&line))?;
    }
    let suppressed = super::suppressed_lines(d);
    if !suppressed.is_empty() {
        writeln!(out, "## Suppressed\n")?;
        for line in suppressed {
            writeln!(out, "- {}", md_inline(&line))?;
        }
        writeln!(out)?;
    }
    if !d.skipped.is_empty() {
        writeln!(out, "## Skipped or partly read\n")?;
        for s in &d.skipped {
            writeln!(out, "- `{}`: {}", s.source, (s.reason))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Every line of `text` prefixed with `pad`.
pub(super) fn indent(text: &str, pad: &str) -> String {
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn fence_safe(text: &str) -> String {
    text.replace("```", "`\u{200b}``")
}

pub(super) fn md_code(text: &str) -> String {
    text.replace('`', "'")
}

pub(super) fn md_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '_' | '<' | '>' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
