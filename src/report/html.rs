//! `--format html`: the incident as one self-contained page, to attach to a ticket or open on
//! an air-gapped machine.
//!
//! - **In**: a [`Diagnosis`] and [`RenderOptions`].
//! - **Out**: one HTML document with its CSS inline and every drawing as inline SVG: the
//!   summary, then each finding with its key's timeline (the key's life with its created,
//!   updated, last-success, invalidated and expiry markers; the failures per node and client
//!   over the incident), its evidence with the decisive words marked, what it means, the causes
//!   weighed and the plan.
//! - **Never**: load anything: no script, no font, no image, no link to a style sheet; the
//!   page's Content-Security-Policy (`default-src 'none'`) forbids every request a browser could
//!   make for it. Every text from the input is escaped, control characters included.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{curl_form, detail_lines, summary_line, RenderOptions};
use crate::diagnosis::activity::Activity;
use crate::diagnosis::{Diagnosis, Evidence, Finding, RenderedStep, TimelineEntry};
use crate::model::{format_ms, Severity, TimelineEvent};

/// Where `--share` puts its banner (see [`crate::report::share`]).
pub const SHARE_BANNER_AT: &str = "<!-- keydoctor:share-banner -->";

/// Render the HTML report.
pub fn render_html(d: &Diagnosis, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(page(d, opts).as_bytes())
}

fn page(d: &Diagnosis, opts: &RenderOptions) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let summary = summary_line(d);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"keydoctor {}\">\n\
         <title>keydoctor: {}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n{SHARE_BANNER_AT}\n",
        env!("CARGO_PKG_VERSION"),
        esc(&summary)
    );
    h.push_str("<header>\n<h1>keydoctor report</h1>\n");
    let _ = writeln!(h, "<p class=\"summary\">{}</p>", inline(&summary));
    if let Some(ms) = opts.generated_ms {
        let _ = writeln!(
            h,
            "<p class=\"generated\">Made <time datetime=\"{0}\">{0}</time> by keydoctor {1}.</p>",
            esc(&format_ms(ms)),
            env!("CARGO_PKG_VERSION")
        );
    }
    if let Some(line) = super::files_line(d) {
        let _ = writeln!(h, "<p class=\"files\">{}</p>", inline(&line));
    }
    if let Some(why) = &d.cluster_mismatch {
        let _ = writeln!(
            h,
            "<p class=\"warning\"><strong>Another cluster:</strong> {}</p>",
            inline(why)
        );
    }
    if !d.findings.is_empty() {
        h.push_str("<nav aria-label=\"Findings\">\n<ol class=\"contents\">\n");
        for (i, f) in d.findings.iter().enumerate() {
            let _ = writeln!(
                h,
                "<li><a href=\"#finding-{}\"><span class=\"badge {}\">{}</span> {}</a></li>",
                i + 1,
                severity_class(f.severity),
                esc(f.class.as_str()),
                inline(&f.summary)
            );
        }
        h.push_str("</ol>\n</nav>\n");
    }
    h.push_str("</header>\n<main>\n");
    for (i, f) in d.findings.iter().enumerate() {
        finding(&mut h, i + 1, f, opts);
    }
    notes(&mut h, d);
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

fn finding(h: &mut String, number: usize, f: &Finding, opts: &RenderOptions) {
    let _ = writeln!(
        h,
        "<section class=\"finding {sev}\" id=\"finding-{number}\" data-class=\"{class}\" data-key=\"{key}\" data-count=\"{count}\" data-timed=\"{timed}\">",
        timed = u8::from(!f.timeline.is_empty() || f.activity.is_some()),
        sev = severity_class(f.severity),
        class = esc(f.class.as_str()),
        key = esc(f.key_id.as_deref().unwrap_or("")),
        count = f.count,
    );
    let _ = writeln!(
        h,
        "<h2><span class=\"number\">{number}.</span> <span class=\"badge {}\">{}</span> {}</h2>",
        severity_class(f.severity),
        esc(f.class.as_str()),
        inline(&f.summary)
    );
    let seen = if f.count > 1 {
        format!(" · seen {}×", f.count)
    } else {
        String::new()
    };
    let _ = writeln!(
        h,
        "<p class=\"meta\">Severity <strong>{}</strong> · rule <code>{}</code>{seen}</p>",
        esc(f.severity.as_str()),
        esc(&f.rule_id)
    );
    let details = detail_lines(f);
    if !details.is_empty() {
        h.push_str("<dl class=\"details\">\n");
        for (label, value) in details {
            let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", esc(label), inline(&value));
        }
        h.push_str("</dl>\n");
    }
    if !f.timeline.is_empty() || f.activity.is_some() {
        h.push_str("<h3>Timeline</h3>\n");
        h.push_str(&timeline_svg(f));
        if !f.timeline.is_empty() {
            h.push_str("<ol class=\"events\">\n");
            for t in &f.timeline {
                let source = t
                    .source
                    .as_deref()
                    .map(|s| format!(" <span class=\"source\">{}</span>", esc(s)))
                    .unwrap_or_default();
                let _ = writeln!(
                    h,
                    "<li data-event=\"{}\"><time datetime=\"{1}\">{1}</time> {2}{source}</li>",
                    t.event.as_str(),
                    esc(&t.at),
                    inline(&t.text)
                );
            }
            h.push_str("</ol>\n");
        }
    }
    if !f.evidence.is_empty() {
        h.push_str("<h3>Evidence</h3>\n");
        for ev in &f.evidence {
            evidence(h, ev);
        }
    }
    let _ = writeln!(h, "<h3>What it means</h3>\n{}", paragraphs(&f.explanation));
    if !f.candidates.is_empty() {
        h.push_str("<h3>Possible causes</h3>\n<ul>\n");
        for c in &f.candidates {
            let _ = writeln!(
                h,
                "<li><strong>{}</strong>: {}</li>",
                esc(c.class.as_str()),
                inline(&c.why)
            );
        }
        h.push_str("</ul>\n");
    }
    if let Some(diff) = &f.differential {
        h.push_str("<h3>Causes considered</h3>\n<table class=\"causes\">\n<thead><tr><th>cause</th><th>verdict</th><th>for</th><th>against</th></tr></thead>\n<tbody>\n");
        let list = |items: &[String]| {
            items
                .iter()
                .map(|e| inline(e))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        for c in &diff.causes {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"verdict {1}\">{1}</td><td>{2}</td><td>{3}</td></tr>",
                inline(&c.text),
                esc(c.verdict.as_str()),
                list(&c.evidence_for),
                list(&c.evidence_against)
            );
        }
        h.push_str("</tbody>\n</table>\n");
        if let Some(check) = &diff.check {
            let _ = writeln!(h, "<p><strong>Check:</strong> {}</p>", inline(check));
        }
    }
    if !f.remediation.is_empty() {
        h.push_str("<h3>What to do</h3>\n");
        steps(h, &f.remediation, opts);
    }
    if !f.dead_ends.is_empty() {
        h.push_str("<h3>Dead ends</h3>\n<ul>\n");
        for d in &f.dead_ends {
            let _ = writeln!(h, "<li>{}</li>", inline(d));
        }
        h.push_str("</ul>\n");
    }
    if !f.references.is_empty() {
        h.push_str("<h3>References</h3>\n<ul class=\"references\">\n");
        for (title, url) in &f.references {
            // Links are followed only when clicked; the page itself requests nothing.
            let _ = writeln!(
                h,
                "<li><a href=\"{}\" rel=\"noreferrer noopener\">{}</a></li>",
                esc(url),
                esc(title)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");
}

fn evidence(h: &mut String, ev: &Evidence) {
    let _ = writeln!(
        h,
        "<figure class=\"evidence\">\n<figcaption><code>{}:{}</code> ({})</figcaption>",
        esc(&ev.source),
        ev.line,
        esc(ev.kind.as_str())
    );
    h.push_str("<pre>");
    let mut spans: Vec<_> = ev
        .spans
        .iter()
        .filter(|s| s.start < s.end && ev.text.get(s.start..s.end).is_some())
        .collect();
    spans.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut at = 0;
    for s in spans {
        if s.start < at {
            continue; // overlaps the span before: that one is marked
        }
        h.push_str(&esc(&ev.text[at..s.start]));
        let _ = write!(
            h,
            "<mark title=\"{}\">{}</mark>",
            esc(&s.label),
            esc(&ev.text[s.start..s.end])
        );
        at = s.end;
    }
    h.push_str(&esc(&ev.text[at..]));
    h.push_str("</pre>\n");
    if !ev.spans.is_empty() {
        h.push_str("<ul class=\"spans\">\n");
        for s in &ev.spans {
            let piece = ev.text.get(s.start..s.end).unwrap_or("");
            let _ = writeln!(
                h,
                "<li><mark>{}</mark> {}</li>",
                esc(piece),
                inline(&s.label)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</figure>\n");
}

fn steps(h: &mut String, steps: &[RenderedStep], opts: &RenderOptions) {
    h.push_str("<ol class=\"plan\">\n");
    for step in steps {
        let later = if step.later { " later" } else { "" };
        let _ = writeln!(
            h,
            "<li class=\"step{later}\"><p class=\"title\"><strong>{}</strong></p>",
            inline(&step.title)
        );
        if let Some(text) = &step.text {
            h.push_str(&paragraphs(text));
        }
        if let Some(diff) = &step.diff {
            h.push_str("<pre class=\"diff\">");
            for line in diff.lines() {
                let class = match line.chars().next() {
                    Some('+') if !line.starts_with("+++") => "add",
                    Some('-') if !line.starts_with("---") => "del",
                    _ => "ctx",
                };
                let _ = writeln!(h, "<span class=\"{class}\">{}</span>", esc(line));
            }
            h.push_str("</pre>\n");
        }
        if let Some(request) = &step.request {
            let _ = writeln!(h, "<pre class=\"request\">{}</pre>", esc(request));
            if opts.curl {
                if let Some(curl) = curl_form(request, step.run_as, &opts.target) {
                    let _ = writeln!(h, "<pre class=\"curl\">{}</pre>", esc(&curl));
                }
            }
        }
        if let Some(note) = &step.version_note {
            let _ = writeln!(h, "<p class=\"version-note\">{}</p>", inline(note));
        }
        h.push_str("</li>\n");
    }
    h.push_str("</ol>\n");
}

fn notes(h: &mut String, d: &Diagnosis) {
    if !d.notes.is_empty() {
        h.push_str("<section class=\"notes\">\n<h2>Notes</h2>\n<ul>\n");
        for n in &d.notes {
            let place = match (&n.source, n.line) {
                (Some(s), Some(l)) => {
                    format!(" <span class=\"source\">{}:{l}</span>", esc(s))
                }
                _ => String::new(),
            };
            let count = if n.count > 1 {
                format!(" ×{}", n.count)
            } else {
                String::new()
            };
            let _ = writeln!(h, "<li>{}{count}{place}</li>", inline(&n.message));
        }
        h.push_str("</ul>\n</section>\n");
    }
    if let Some(line) = super::omitted_line(d) {
        let _ = writeln!(
            h,
            "<section class=\"omitted\">\n<h2>Not shown in full</h2>\n<p>{}</p>\n</section>",
            inline(&line)
        );
    }
    let suppressed = super::suppressed_lines(d);
    if !suppressed.is_empty() {
        h.push_str("<section class=\"suppressed\">\n<h2>Suppressed</h2>\n<ul>\n");
        for line in suppressed {
            let _ = writeln!(h, "<li>{}</li>", inline(&line));
        }
        h.push_str("</ul>\n</section>\n");
    }
    if !d.skipped.is_empty() {
        h.push_str("<section class=\"skipped\">\n<h2>Skipped or partly read</h2>\n<ul>\n");
        for s in &d.skipped {
            let _ = writeln!(
                h,
                "<li><code>{}</code>: {}</li>",
                esc(&s.source),
                inline(&s.reason.to_string())
            );
        }
        h.push_str("</ul>\n</section>\n");
    }
}

// ---------------------------------------------------------------------------------------------
// The timeline drawing.

/// The drawing's width in SVG units (it scales to the page).
const WIDTH: f64 = 960.0;
/// Where the plot starts (lane labels to its left) and how much is left for totals.
const LEFT: f64 = 210.0;
const RIGHT: f64 = 70.0;
const LANE_HEIGHT: f64 = 20.0;

/// The key's timeline as SVG: its life with every marker, then its failures per node and
/// client over the incident.
fn timeline_svg(f: &Finding) -> String {
    let markers: Vec<&TimelineEntry> = f
        .timeline
        .iter()
        .filter(|t| !t.event.is_failure())
        .collect();
    let activity = f.activity.as_ref();
    let failure_span = activity
        .map(|a| (a.start_ms, a.end_ms))
        .or_else(|| span_of_failures(&f.timeline));
    let mut svg = String::new();
    let mut y = 0.0;
    let mut body = String::new();
    if !markers.is_empty() {
        y = lifetime(&mut body, &markers, failure_span);
    }
    if let Some(a) = activity {
        y = incident(&mut body, a, &markers, y);
    }
    let drawn = activity.map_or(0, Activity::drawn);
    let _ = writeln!(
        svg,
        "<svg class=\"timeline\" role=\"img\" viewBox=\"0 0 {WIDTH} {height}\" data-failures=\"{drawn}\" data-undrawn=\"{undrawn}\" data-untimed=\"{untimed}\" data-markers=\"{markers}\" aria-label=\"{label}\" xmlns=\"http://www.w3.org/2000/svg\">",
        height = y + 6.0,
        undrawn = activity.map_or(0, |a| a.undrawn),
        untimed = activity.map_or(0, |a| a.untimed),
        markers = markers.len(),
        label = esc(&format!(
            "Timeline of {}: {} failures drawn, {} events",
            f.key_id.as_deref().unwrap_or("this failure"),
            drawn,
            markers.len()
        )),
    );
    svg.push_str(&body);
    svg.push_str("</svg>\n");
    if let Some(a) = activity {
        let mut notes = Vec::new();
        if a.undrawn > 0 {
            notes.push(format!(
                "{} more failures were counted but their times not kept",
                a.undrawn
            ));
        }
        if a.untimed > 0 {
            notes.push(format!("{} failures carry no time", a.untimed));
        }
        if !notes.is_empty() {
            let _ = writeln!(svg, "<p class=\"caption\">{}.</p>", esc(&notes.join("; ")));
        }
    }
    svg
}

fn span_of_failures(timeline: &[TimelineEntry]) -> Option<(i64, i64)> {
    let times: Vec<i64> = timeline
        .iter()
        .filter(|t| t.event.is_failure())
        .map(|t| t.ms)
        .collect();
    Some((*times.iter().min()?, *times.iter().max()?))
}

/// A linear scale from `[t0, t1]` onto the plot's width.
struct Scale {
    t0: i64,
    t1: i64,
}

impl Scale {
    fn new(t0: i64, t1: i64) -> Scale {
        if t1 > t0 {
            Scale { t0, t1 }
        } else {
            // One instant: a minute either side.
            Scale {
                t0: t0 - 60_000,
                t1: t0 + 60_000,
            }
        }
    }

    fn x(&self, ms: i64) -> f64 {
        let frac = (ms - self.t0) as f64 / (self.t1 - self.t0) as f64;
        LEFT + frac.clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
    }

    /// Tick labels: times of day within a day, dates with times beyond.
    fn label(&self, ms: i64) -> String {
        let text = format_ms(ms);
        let span = self.t1 - self.t0;
        if span < 86_400_000 {
            text.get(11..19).unwrap_or(&text).to_string()
        } else if span < 30 * 86_400_000 {
            text.get(5..16).unwrap_or(&text).replace('T', " ")
        } else {
            text.get(..10).unwrap_or(&text).to_string()
        }
    }

    fn ticks(&self, out: &mut String, y: f64) {
        for i in 0..=4 {
            let ms = self.t0 + (self.t1 - self.t0) * i / 4;
            let x = self.x(ms);
            let anchor = match i {
                0 => "start",
                4 => "end",
                _ => "middle",
            };
            let _ = writeln!(
                out,
                "<text class=\"tick\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{}</text>",
                esc(&self.label(ms))
            );
        }
    }
}

/// The key's life: a line from its first to its last known moment, the failures as a band,
/// each marker with its label (labels that would collide go on the next row).
fn lifetime(out: &mut String, markers: &[&TimelineEntry], failures: Option<(i64, i64)>) -> f64 {
    let mut t0 = markers.iter().map(|t| t.ms).min().unwrap_or(0);
    let mut t1 = markers.iter().map(|t| t.ms).max().unwrap_or(0);
    if let Some((a, b)) = failures {
        t0 = t0.min(a);
        t1 = t1.max(b);
    }
    let scale = Scale::new(t0, t1);
    let top = 18.0;
    let _ = writeln!(
        out,
        "<text class=\"panel\" x=\"0\" y=\"{top}\">The key's life</text>\n<line class=\"axis\" x1=\"{LEFT}\" y1=\"{top}\" x2=\"{:.1}\" y2=\"{top}\"/>",
        WIDTH - RIGHT
    );
    if let Some((a, b)) = failures {
        let (x0, x1) = (scale.x(a), scale.x(b));
        let _ = writeln!(
            out,
            "<rect class=\"failing\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\"><title>failing from {} to {}</title></rect>",
            top - 6.0,
            (x1 - x0).max(3.0),
            esc(&format_ms(a)),
            esc(&format_ms(b))
        );
    }
    let (placed, rows) = place_labels(markers.iter().copied(), &scale);
    for Placed {
        entry: t,
        x,
        label_x: start,
        row,
    } in placed
    {
        let label = marker_label(t.event);
        let ly = top + 22.0 + row as f64 * 14.0;
        let _ = writeln!(
            out,
            "<g class=\"marker {class}\" data-event=\"{event}\"><title>{at}: {text}</title><line x1=\"{x:.1}\" y1=\"{y0:.1}\" x2=\"{x:.1}\" y2=\"{y1:.1}\"/><circle cx=\"{x:.1}\" cy=\"{top}\" r=\"4\"/><text x=\"{start:.1}\" y=\"{ly:.1}\">{label}</text></g>",
            class = marker_class(t.event),
            event = t.event.as_str(),
            at = esc(&t.at),
            text = esc(&t.text),
            y0 = top - 8.0,
            y1 = ly - 10.0,
            label = esc(label),
        );
    }
    let bottom = top + 22.0 + rows.max(1) as f64 * 14.0;
    scale.ticks(out, bottom + 4.0);
    bottom + 18.0
}

/// The failures over the incident, one lane per node and client, and the markers that fall in
/// (or just before) it.
fn incident(out: &mut String, a: &Activity, markers: &[&TimelineEntry], top: f64) -> f64 {
    let end = a.end_ms + a.bin_ms;
    // A marker shortly before the first failure belongs to the incident (the last success,
    // the invalidation): shortly is four times the incident's length, at least 15 minutes.
    let reach = ((end - a.start_ms) * 4).max(15 * 60_000);
    let start = markers
        .iter()
        .map(|t| t.ms)
        .filter(|ms| *ms < a.start_ms && a.start_ms - ms <= reach)
        .min()
        .unwrap_or(a.start_ms);
    let scale = Scale::new(start, end);
    let title_y = top + 18.0;
    let _ = writeln!(
        out,
        "<text class=\"panel\" x=\"0\" y=\"{title_y:.1}\">Failures per node and client</text>"
    );
    // The markers in the window, labelled above the lanes (rows as in the key's life).
    let (placed, rows) = place_labels(
        markers
            .iter()
            .copied()
            .filter(|t| t.ms >= start && t.ms <= end),
        &scale,
    );
    let lanes_top = title_y + 10.0 + rows as f64 * 13.0;
    let lanes_bottom = lanes_top + a.lanes.len() as f64 * LANE_HEIGHT;
    for Placed {
        entry: t,
        x,
        label_x,
        row,
    } in placed
    {
        let ly = title_y + 12.0 + row as f64 * 13.0;
        let _ = writeln!(
            out,
            "<g class=\"marker {}\" data-event=\"{}\" data-panel=\"incident\"><title>{}: {}</title><line class=\"dashed\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{lanes_bottom:.1}\"/><text x=\"{label_x:.1}\" y=\"{ly:.1}\">{}</text></g>",
            marker_class(t.event),
            t.event.as_str(),
            esc(&t.at),
            esc(&t.text),
            ly + 2.0,
            esc(marker_label(t.event)),
        );
    }
    let peak = f64::from(a.peak().max(1));
    for (i, lane) in a.lanes.iter().enumerate() {
        let y = lanes_top + i as f64 * LANE_HEIGHT;
        let label = match &lane.client {
            Some(c) => format!("{} · {c}", lane.node),
            None => lane.node.clone(),
        };
        let short = shorten(&label, 32);
        let _ = writeln!(
            out,
            "<g class=\"lane\" data-node=\"{}\" data-client=\"{}\" data-total=\"{}\"><title>{}: {} failures</title><text class=\"lane-label\" x=\"0\" y=\"{:.1}\">{}</text><line class=\"lane-base\" x1=\"{LEFT}\" y1=\"{base:.1}\" x2=\"{:.1}\" y2=\"{base:.1}\"/>",
            esc(&lane.node),
            esc(lane.client.as_deref().unwrap_or("")),
            lane.total,
            esc(&label),
            lane.total,
            y + 13.0,
            esc(&short),
            WIDTH - RIGHT,
            base = y + LANE_HEIGHT - 3.0,
        );
        for (bin, count) in lane.counts.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            let b0 = a.start_ms + a.bin_ms * bin as i64;
            let x0 = scale.x(b0);
            let x1 = scale.x(b0 + a.bin_ms);
            let height = 3.0 + 13.0 * f64::from(*count) / peak;
            let _ = writeln!(
                out,
                "<rect class=\"bin\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{height:.1}\" data-count=\"{count}\"><title>{count} from {}</title></rect>",
                y + LANE_HEIGHT - 3.0 - height,
                (x1 - x0 - 0.6).max(1.2),
                esc(&format_ms(b0)),
            );
        }
        let _ = writeln!(
            out,
            "<text class=\"total\" x=\"{WIDTH}\" y=\"{:.1}\" text-anchor=\"end\">{}</text></g>",
            y + 13.0,
            lane.total
        );
    }
    scale.ticks(out, lanes_bottom + 14.0);
    lanes_bottom + 20.0
}

/// A marker placed on a scale: where it stands, where its label starts, and on which row of
/// labels (a label that would run into the one before it goes on the next row).
struct Placed<'a> {
    entry: &'a TimelineEntry,
    x: f64,
    label_x: f64,
    row: usize,
}

/// `markers` placed in time order, and how many rows of labels they take.
fn place_labels<'a>(
    markers: impl Iterator<Item = &'a TimelineEntry>,
    scale: &Scale,
) -> (Vec<Placed<'a>>, usize) {
    let mut sorted: Vec<&TimelineEntry> = markers.collect();
    sorted.sort_by_key(|t| t.ms);
    // Each row remembers where its last label ends.
    let mut rows: Vec<f64> = Vec::new();
    let placed = sorted
        .into_iter()
        .map(|entry| {
            let x = scale.x(entry.ms);
            let width = marker_label(entry.event).chars().count() as f64 * 6.4 + 8.0;
            let label_x = (x - 4.0).min(WIDTH - width);
            let row = rows
                .iter()
                .position(|end| *end <= label_x)
                .unwrap_or(rows.len());
            if row == rows.len() {
                rows.push(0.0);
            }
            rows[row] = label_x + width;
            Placed {
                entry,
                x,
                label_x,
                row,
            }
        })
        .collect();
    (placed, rows.len())
}

fn marker_label(event: TimelineEvent) -> &'static str {
    match event {
        TimelineEvent::Created => "created",
        TimelineEvent::Updated => "updated",
        TimelineEvent::LastSuccess => "last success",
        TimelineEvent::Invalidated => "invalidated",
        TimelineEvent::Expired => "expired",
        TimelineEvent::Expires => "expires",
        TimelineEvent::FirstFailure => "first failure",
        TimelineEvent::LastFailure => "last failure",
    }
}

fn marker_class(event: TimelineEvent) -> &'static str {
    match event {
        TimelineEvent::Created | TimelineEvent::Updated => "m-life",
        TimelineEvent::LastSuccess => "m-ok",
        TimelineEvent::Invalidated | TimelineEvent::Expired => "m-end",
        TimelineEvent::Expires => "m-future",
        TimelineEvent::FirstFailure | TimelineEvent::LastFailure => "m-fail",
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

// ---------------------------------------------------------------------------------------------
// Text.

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Error => "sev-error",
        Severity::Warning => "sev-warning",
        Severity::Note => "sev-note",
    }
}

/// `text` escaped for HTML text and attribute values; control characters (an ESC from a log
/// line, a NUL) and bidirectional overrides are written as visible escapes, so nothing in the
/// page is other than what it shows.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            // Written as the visible escapes the terminal guard writes (`\e`, `\x07`, `\u009b`),
            // bidirectional overrides and isolates too: they would reorder what the page shows.
            '\u{1b}' => out.push_str("\\e"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Prose with `code` in backticks, escaped (a backtick without a partner stays one).
fn inline(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    let ticks = parts.len() - 1;
    let paired = ticks - ticks % 2;
    let mut out = String::with_capacity(text.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        if i > paired {
            out.push('`');
        }
        if i % 2 == 1 && i <= paired {
            out.push_str("<code>");
            out.push_str(&esc(part));
            out.push_str("</code>");
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

/// Paragraphs separated by blank lines; a line starting `- ` in one makes a list.
fn paragraphs(text: &str) -> String {
    let mut out = String::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let lines: Vec<&str> = para.lines().collect();
        if lines.iter().all(|l| l.trim_start().starts_with("- ")) {
            out.push_str("<ul>\n");
            for l in lines {
                let _ = writeln!(
                    out,
                    "<li>{}</li>",
                    inline(l.trim_start().trim_start_matches("- "))
                );
            }
            out.push_str("</ul>\n");
        } else {
            let _ = writeln!(out, "<p>{}</p>", inline(&lines.join("\n")));
        }
    }
    out
}

const CSS: &str = r#":root { color-scheme: light dark; --fg: #1d232a; --muted: #5c6670; --bg: #ffffff;
  --panel: #f5f7f9; --line: #d3dae0; --error: #bd271e; --warning: #b0620a; --note: #0b64dd;
  --ok: #00745d; --mark: #fff1a8; }
@media (prefers-color-scheme: dark) { :root { --fg: #e3e8ec; --muted: #9aa5ae; --bg: #14181c;
  --panel: #1d2328; --line: #39424a; --error: #f4726a; --warning: #f0a94a; --note: #6aa8ff;
  --ok: #4fc3a1; --mark: #5a4a00; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1.5rem; color: var(--fg); background: var(--bg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 0 0 .5rem; }
h3 { font-size: 1rem; margin: 1.25rem 0 .4rem; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  font-size: .86rem; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: .6rem .8rem;
  overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
.summary { font-size: 1.1rem; font-weight: 600; }
.generated, .files, .meta, .source, .caption, .version-note { color: var(--muted); }
.source { font-size: .85rem; margin-left: .4rem; }
.warning { border-left: 4px solid var(--warning); padding: .4rem .8rem; background: var(--panel); }
.contents { padding-left: 1.4rem; }
.contents a { color: inherit; }
.finding { border: 1px solid var(--line); border-left: 6px solid var(--line); border-radius: 6px;
  padding: 1rem 1.25rem; margin: 1.25rem 0; }
.finding.sev-error { border-left-color: var(--error); }
.finding.sev-warning { border-left-color: var(--warning); }
.finding.sev-note { border-left-color: var(--note); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 3px; color: #fff; font-size: .85rem;
  font-weight: 600; vertical-align: .1rem; font-family: ui-monospace, monospace; }
.badge.sev-error { background: var(--error); } .badge.sev-warning { background: var(--warning); }
.badge.sev-note { background: var(--note); }
.number { color: var(--muted); }
dl.details { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .5rem 0; }
dl.details dt { color: var(--muted); } dl.details dd { margin: 0; overflow-wrap: anywhere; }
mark { background: var(--mark); color: inherit; border-radius: 2px; }
figure.evidence { margin: .5rem 0 1rem; }
figure.evidence figcaption { font-size: .85rem; color: var(--muted); }
ul.spans { margin: .2rem 0; padding-left: 1.2rem; font-size: .9rem; }
ol.events { font-size: .9rem; padding-left: 1.4rem; }
ol.plan > li { margin-bottom: .8rem; } ol.plan .title { margin: 0; }
ol.plan li.later { opacity: .8; }
pre.diff .add { color: var(--ok); } pre.diff .del { color: var(--error); }
table.causes { border-collapse: collapse; width: 100%; font-size: .9rem; }
table.causes th, table.causes td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left;
  vertical-align: top; }
td.verdict.likely { color: var(--error); font-weight: 600; }
svg.timeline { width: 100%; height: auto; background: var(--panel); border: 1px solid var(--line);
  border-radius: 4px; font-family: system-ui, sans-serif; }
svg.timeline text { fill: var(--fg); font-size: 11px; }
svg.timeline text.panel { font-weight: 600; font-size: 12px; }
svg.timeline text.tick, svg.timeline text.total { fill: var(--muted); }
svg.timeline .axis, svg.timeline .lane-base { stroke: var(--line); stroke-width: 1; }
svg.timeline rect.failing { fill: var(--error); opacity: .35; }
svg.timeline rect.bin { fill: var(--error); }
svg.timeline .marker line { stroke-width: 1.2; } svg.timeline .marker line.dashed { stroke-dasharray: 3 3; }
svg.timeline .m-life line, svg.timeline .m-life circle { stroke: var(--note); fill: var(--note); }
svg.timeline .m-ok line, svg.timeline .m-ok circle { stroke: var(--ok); fill: var(--ok); }
svg.timeline .m-end line, svg.timeline .m-end circle { stroke: var(--error); fill: var(--error); }
svg.timeline .m-future line, svg.timeline .m-future circle { stroke: var(--warning); fill: var(--warning); }
svg.timeline .m-fail line, svg.timeline .m-fail circle { stroke: var(--error); fill: var(--error); }
.banner { border: 1px solid var(--note); background: var(--panel); padding: .5rem .8rem; border-radius: 4px; }
@media print { .finding { break-inside: avoid-page; } a { color: inherit; text-decoration: none; } }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup_and_no_control_character() {
        let hostile = "<script>alert('x')</script> & \"q\" \u{1b}]8;;http://evil\u{7}";
        let out = esc(hostile);
        assert!(!out.contains('<') && !out.contains('>') && !out.contains('"'));
        assert!(!out
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'));
        assert!(out.contains("&lt;script&gt;"));
    }

    #[test]
    fn backticks_are_code_and_an_odd_one_stays() {
        assert_eq!(
            inline("run `GET /_security/_authenticate` now"),
            "run <code>GET /_security/_authenticate</code> now"
        );
        assert_eq!(inline("a ` b"), "a ` b");
        assert_eq!(inline("`<b>`"), "<code>&lt;b&gt;</code>");
    }

    #[test]
    fn a_scale_of_one_instant_still_has_a_width() {
        let s = Scale::new(1_000, 1_000);
        assert!(s.x(1_000) > LEFT && s.x(1_000) < WIDTH - RIGHT);
        let s = Scale::new(0, 1_000);
        assert_eq!(s.x(-5), LEFT);
        assert_eq!(s.x(5_000), WIDTH - RIGHT);
    }
}
