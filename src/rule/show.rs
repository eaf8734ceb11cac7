//! The rule set shown to the people who write rules: `keydoctor rules list`, `show` and
//! `test`'s lines and JUnit file. A rule's words are its own data, shown as written, so this
//! presentation lives with the rules (the report stage never reads a rule).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::selftest::{self, CaseResult};
use super::RuleSet;

/// The version of `rules list --format json`'s shape.
pub const LIST_SCHEMA_VERSION: u32 = 1;

/// `rules list --format json`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Listing<'a> {
    pub schema_version: u32,
    pub rules: Vec<Listed<'a>>,
}

/// One rule of the listing: a message rule or one of doctor's checks.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Listed<'a> {
    pub id: &'a str,
    pub class: &'a str,
    pub severity: &'a str,
    pub summary: &'a str,
    pub source: &'a str,
    pub kind: ListedKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<&'a str>,
}

/// Whether a listed rule reads messages or decides a cluster check.
#[derive(Serialize, schemars::JsonSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ListedKind {
    Message,
    Check,
}

/// The JSON Schema of `rules list --format json` (`schemas/rules-list.schema.json`).
pub fn list_schema() -> serde_json::Value {
    schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Listing<'static>>()
        .to_value()
}

/// The rule set as `rules list --format json` gives it: message rules, then doctor's checks.
pub fn listing(set: &RuleSet) -> Listing<'_> {
    let mut rules: Vec<Listed<'_>> = set
        .rules
        .iter()
        .map(|r| Listed {
            id: &r.id,
            class: r.class.as_str(),
            severity: r.severity.as_str(),
            summary: &r.summary,
            source: &r.source,
            kind: ListedKind::Message,
            decision: None,
        })
        .collect();
    rules.extend(set.checks.iter().map(|r| Listed {
        id: &r.id,
        class: r.class.as_str(),
        severity: r.severity.as_str(),
        summary: &r.summary,
        source: &r.source,
        kind: ListedKind::Check,
        decision: Some(r.decision.code),
    }));
    Listing {
        schema_version: LIST_SCHEMA_VERSION,
        rules,
    }
}

/// `rules list`: a line per rule, columns aligned; a check's summary says "doctor:".
pub fn list_text(set: &RuleSet) -> String {
    let rows: Vec<(&str, &str, &str, String)> = listing(set)
        .rules
        .into_iter()
        .map(|r| {
            let summary = match r.kind {
                ListedKind::Message => r.summary.to_string(),
                ListedKind::Check => format!("doctor: {}", r.summary),
            };
            (r.id, r.class, r.severity, summary)
        })
        .collect();
    let id_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let class_w = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (id, class, severity, summary) in rows {
        let _ = writeln!(out, "{id:id_w$}  {class:class_w$}  {severity:7}  {summary}");
    }
    out
}

/// `rules test`'s lines: `ok` per rule (or client) whose examples all pass, `FAIL` with each
/// failing example, and the count; with the number of failed examples.
pub fn test_text(set: &RuleSet, results: &[CaseResult]) -> (String, usize) {
    let mut out = String::new();
    let mut failed = 0;
    let mut rules = 0;
    let mut clients = 0;
    for chunk in results.chunk_by(|a, b| a.rule == b.rule) {
        if chunk[0].rule.starts_with("client ") {
            clients += 1;
        } else {
            rules += 1;
        }
        let bad: Vec<_> = chunk
            .iter()
            .filter(|r| r.outcome != selftest::Outcome::Ok)
            .collect();
        failed += bad.len();
        if bad.is_empty() {
            let _ = writeln!(out, "ok    {} ({} examples)", chunk[0].rule, chunk.len());
            continue;
        }
        let _ = writeln!(out, "FAIL  {} ({})", chunk[0].rule, chunk[0].source);
        for f in bad {
            let _ = writeln!(out, "      example \"{}\": {}", f.example, describe(set, f));
        }
    }
    let of = match clients {
        0 => format!("{rules} rules"),
        n => format!("{rules} rules and {n} clients"),
    };
    let _ = writeln!(
        out,
        "{} examples of {of}: {} passed, {failed} failed",
        results.len(),
        results.len() - failed,
    );
    (out, failed)
}

/// Everything a rule says, as written: `keydoctor rules show ID`.
pub fn show(r: &super::Rule) -> String {
    let mut text = String::new();
    let mut line = |s: String| {
        text.push_str(&s);
        text.push('\n');
    };
    line(format!(
        "{}  ({}, {}, priority {}{}{})",
        r.id,
        r.class.as_str(),
        r.severity.as_str(),
        r.priority,
        if r.fallback { ", fallback" } else { "" },
        if r.is_canonical { ", canonical" } else { "" },
    ));
    line(format!("source: {}", r.source));
    if !r.summary.is_empty() {
        line(format!("summary: {}", r.summary));
    }
    if !r.seen_in.is_empty() {
        line(format!("seen in: {}", r.seen_in.join(", ")));
    }
    if let Some(open) = r.differential {
        line(format!("differential: {}", open.as_str()));
    }
    if let Some(v) = r.implies_version {
        line(format!("implies Elasticsearch {v} or later"));
    }
    line(format!("title: {}", r.title.as_written()));
    line(String::new());
    line("match".into());
    for (kind, list) in [("any", &r.any), ("all", &r.all), ("not", &r.not)] {
        for re in list.iter() {
            line(format!("  {kind:<4} {}", re.as_str()));
        }
    }
    if !r.all.is_empty() || !r.not.is_empty() {
        line(format!(
            "  scope {}",
            match r.scope {
                super::Scope::Record => "record",
                super::Scope::Input => "input",
            }
        ));
    }
    for (kind, tags) in [("tags_any", &r.tags_any), ("tags_none", &r.tags_none)] {
        if !tags.is_empty() {
            line(format!("  {kind} {}", tags.join(", ")));
        }
    }
    line(format!(
        "  literals {}",
        if r.literals.is_empty() {
            "(none: runs on every record)".to_string()
        } else {
            r.literals.join(" | ")
        }
    ));
    if !r.labels.is_empty() {
        line(String::new());
        line("labels".into());
        for (capture, label) in &r.labels {
            line(format!("  {capture}: {}", label.as_written()));
        }
    }
    line(String::new());
    line("explain".into());
    line(wrap(&r.explain.as_written(), "  "));
    for c in &r.candidates {
        line(format!(
            "candidate {}: {}",
            c.kind.as_str(),
            c.why.as_written().trim_end()
        ));
    }
    if !r.remediation.is_empty() {
        line(String::new());
        line("remediation".into());
    }
    for (n, step) in r.remediation.iter().enumerate() {
        let since = step
            .min_version
            .map(|v| format!("  (from {v})"))
            .unwrap_or_default();
        let only = match step.key_type {
            Some(crate::model::KeyType::CrossCluster) => "  (cross-cluster keys only)",
            Some(crate::model::KeyType::Rest) => "  (not for cross-cluster keys)",
            None => "",
        };
        line(format!(
            "  {}. {}{since}{only}",
            n + 1,
            step.title.as_written()
        ));
        if let Some(t) = &step.text {
            line(wrap(&t.as_written(), "     "));
        }
        if !step.when.is_empty() {
            let when: Vec<_> = step.when.iter().map(|c| c.as_str()).collect();
            line(format!("     only when: {}", when.join(", ")));
        }
        if let Some(request) = &step.request {
            for l in request.as_written().trim_end().lines() {
                line(format!("     {l}"));
            }
            line(format!("     run as: {}", step.run_as.as_str()));
        }
        if let Some(f) = &step.fallback {
            line(format!(
                "     before {}: {}",
                step.min_version.map(|v| v.to_string()).unwrap_or_default(),
                f.as_written().trim_end()
            ));
        }
    }
    if !r.dead_ends.is_empty() {
        line(String::new());
        line("dead ends".into());
        for d in &r.dead_ends {
            line(wrap(d, "  ✗ "));
        }
    }
    if !r.references.is_empty() {
        line(String::new());
        line("references".into());
        for reference in &r.references {
            line(format!("  {}  {}", reference.title, reference.url));
        }
    }
    line(String::new());
    line(format!("examples ({})", r.examples.len()));
    for ex in &r.examples {
        let captures = if ex.captures.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = ex
                .captures
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("  captures {}", list.join(" "))
        };
        line(format!(
            "  [{}] {}{captures}",
            if ex.expect_match { "match" } else { "no-match" },
            ex.name
        ));
        for l in ex.input.trim_end().lines() {
            line(format!("      | {l}"));
        }
    }
    text
}

/// Everything a check rule says, as written: `keydoctor rules show ID` of a doctor check.
pub fn show_check(r: &super::check::CheckRule) -> String {
    let mut text = String::new();
    let mut line = |s: String| {
        text.push_str(&s);
        text.push('\n');
    };
    line(format!(
        "{}  ({}, {}, a doctor check)",
        r.id,
        r.class.as_str(),
        r.severity.as_str()
    ));
    line(format!("source: {}", r.source));
    if !r.summary.is_empty() {
        line(format!("summary: {}", r.summary));
    }
    let d = r.decision;
    line(format!(
        "decision: {}{}",
        d.code,
        if d.escalates {
            " (the decision may raise it to error)"
        } else {
            ""
        }
    ));
    let names: Vec<&str> = d.fields.iter().chain(d.optional).copied().collect();
    if !names.is_empty() {
        line(format!("  fields {}", names.join(", ")));
    }
    line(format!("title: {}", r.title.as_written()));
    if let Some(c) = &r.check {
        line(format!("check line: {}", c.as_written()));
    }
    if !r.parts.is_empty() {
        line(String::new());
        line("parts (clauses the decision turns on)".into());
        for (name, t) in &r.parts {
            line(format!("  {name}: {}", t.as_written()));
        }
    }
    if !r.labels.is_empty() {
        line(String::new());
        line("labels".into());
        for (name, t) in &r.labels {
            line(format!("  {name}: {}", t.as_written()));
        }
    }
    if let Some(e) = &r.explain {
        line(String::new());
        line("explain".into());
        line(wrap(&e.as_written(), "  "));
    }
    if !r.remediation.is_empty() {
        line(String::new());
        line("remediation".into());
    }
    for (n, step) in r.remediation.iter().enumerate() {
        let only = step
            .only_if
            .as_ref()
            .map(|f| format!("  (only when {f})"))
            .unwrap_or_default();
        line(format!("  {}. {}{only}", n + 1, step.title.as_written()));
        if let Some(t) = &step.text {
            line(wrap(&t.as_written(), "     "));
        }
        if let Some(request) = &step.request {
            for l in request.as_written().trim_end().lines() {
                line(format!("     {l}"));
            }
            line(format!("     run as: {}", step.run_as.as_str()));
        }
        if let Some(note) = &step.note {
            line(format!("     note: {}", note.as_written()));
        }
    }
    if !r.superseded_by.is_empty() {
        line(format!("left out beside: {}", r.superseded_by.join(", ")));
    }
    if !r.references.is_empty() {
        line(String::new());
        line("references".into());
        for reference in &r.references {
            line(format!("  {}  {}", reference.title, reference.url));
        }
    }
    line(String::new());
    line(format!("examples ({})", r.examples.len()));
    for ex in &r.examples {
        let expect = ex.expect.map_or("none", |s| s.as_str());
        let version = ex.version.map(|v| format!(" on {v}")).unwrap_or_default();
        line(format!("  [{expect}] {}{version}", ex.name));
        for (call, answer) in &ex.answers {
            line(format!("      {call}: {answer}"));
        }
    }
    text
}

/// The results as JUnit XML: a suite per run, a test case per example (class = rule id), a
/// `failure` carrying the same text as the terminal.
pub fn junit_xml(set: &RuleSet, results: &[CaseResult]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let failures = results
        .iter()
        .filter(|r| r.outcome != selftest::Outcome::Ok)
        .count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"keydoctor rules\" tests=\"{}\" failures=\"{failures}\">",
        results.len()
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"rule examples\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">",
        results.len()
    );
    for r in results {
        let _ = write!(
            xml,
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\"",
            esc(&r.rule),
            esc(&r.example),
            esc(&r.source)
        );
        if r.outcome == selftest::Outcome::Ok {
            xml.push_str("/>\n");
            continue;
        }
        let text = describe(set, r);
        let first = text.lines().next().unwrap_or_default();
        let _ = writeln!(
            xml,
            ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
            esc(first),
            esc(&text)
        );
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// Prose wrapped at 100 columns under `indent`, paragraphs kept.
fn wrap(text: &str, indent: &str) -> String {
    let options = textwrap::Options::new(100)
        .initial_indent(indent)
        .subsequent_indent(indent);
    text.trim_end()
        .split("\n\n")
        .map(|p| {
            textwrap::fill(
                &p.split_whitespace().collect::<Vec<_>>().join(" "),
                &options,
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// What went wrong with an example: one line, or a `similar` diff of expected against actual
/// (class and captures) when the rule matched differently.
pub fn describe(set: &RuleSet, case: &CaseResult) -> String {
    let class = set
        .get(&case.rule)
        .map(|r| r.class.as_str())
        .or_else(|| set.check(&case.rule).map(|r| r.class.as_str()))
        .unwrap_or("?");
    let render = |rule: &str, class: &str, captures: &BTreeMap<String, String>| {
        let mut out = format!("rule = {rule}\nclass = {class}\n");
        for (k, v) in captures {
            let _ = writeln!(out, "{k} = {v:?}");
        }
        out
    };
    let diff = |expected: &str, actual: &str| {
        let mut out = String::from("expected (-) and actual (+):\n");
        let diff = similar::TextDiff::from_lines(expected, actual);
        for change in diff.iter_all_changes() {
            let sign = match change.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            let _ = write!(out, "        {sign} {change}");
        }
        out.trim_end().to_string()
    };
    match &case.outcome {
        selftest::Outcome::Ok => "ok".into(),
        selftest::Outcome::Missing => "expected a match, got none".into(),
        selftest::Outcome::Noisy { captures } => {
            let list: Vec<String> = captures.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            format!("expected no match, got one with {}", list.join(" "))
        }
        selftest::Outcome::WrongCaptures { expected, actual } => diff(
            &render(&case.rule, class, expected),
            &render(&case.rule, class, actual),
        ),
        selftest::Outcome::WrongStatus { expected, actual } => {
            format!("expected the check to come out as {expected}, it came out as {actual}")
        }
        selftest::Outcome::Unrunnable { why } => format!("the example cannot run: {why}"),
        selftest::Outcome::Shadowed { by } => {
            let winner = by.first().map(String::as_str).unwrap_or("?");
            let winner_class = set.get(winner).map(|r| r.class.as_str()).unwrap_or("?");
            let empty = BTreeMap::new();
            format!(
                "matches alone, but the full rule set gives it to another rule; {}",
                diff(
                    &render(&case.rule, class, &empty),
                    &render(winner, winner_class, &empty)
                )
            )
        }
    }
}
