//! `keydoctor rules list|show|test|lint`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use miette::{GraphicalReportHandler, GraphicalTheme};
use serde_json::json;

use super::{CmdResult, Io, ListFormat, RulesCommand};
use crate::error::{Error, Outcome};
use crate::rule::{self, selftest};

/// The sentence tables of the modules above stage 4 (the commands', the pipeline's), which
/// `rules/facts.toml` is checked against beside the passes' own (`fact::SAID`).
pub(crate) const ABOVE: &[crate::diagnosis::fact::Words] = &[
    crate::lifecycle::key::WORDS,
    crate::lifecycle::rotate::WORDS,
    crate::lifecycle::impact::WORDS,
    crate::pipeline::WORDS,
    crate::pipeline::scan::WORDS,
    crate::pipeline::keys::WORDS,
    crate::checks::doctor::WORDS,
];

pub(super) fn run(cmd: RulesCommand, color: bool, io: &mut Io<'_>) -> CmdResult {
    match cmd {
        RulesCommand::List { rules, format } => {
            let (set, _) = rule::load(rules.as_deref())?;
            match format {
                ListFormat::Json => {
                    let mut list: Vec<_> = set
                        .rules
                        .iter()
                        .map(|r| json!({"id": r.id, "class": r.class.as_str(), "severity": r.severity.as_str(), "summary": r.summary, "source": r.source, "kind": "message"}))
                        .collect();
                    list.extend(set.checks.iter().map(|r| json!({"id": r.id, "class": r.class.as_str(), "severity": r.severity.as_str(), "summary": r.summary, "source": r.source, "kind": "check", "decision": r.decision.code})));
                    serde_json::to_writer_pretty(&mut io.stdout, &json!({"rules": list}))
                        .map_err(std::io::Error::from)?;
                    writeln!(io.stdout)?;
                }
                ListFormat::Human => {
                    // Message rules, then doctor's checks (a check's summary says "doctor:").
                    let rows: Vec<(&str, &str, &str, String)> = set
                        .rules
                        .iter()
                        .map(|r| {
                            (
                                r.id.as_str(),
                                r.class.as_str(),
                                r.severity.as_str(),
                                r.summary.clone(),
                            )
                        })
                        .chain(set.checks.iter().map(|r| {
                            (
                                r.id.as_str(),
                                r.class.as_str(),
                                r.severity.as_str(),
                                format!("doctor: {}", r.summary),
                            )
                        }))
                        .collect();
                    let id_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
                    let class_w = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
                    for (id, class, severity, summary) in rows {
                        writeln!(
                            io.stdout,
                            "{id:id_w$}  {class:class_w$}  {severity:7}  {summary}"
                        )?;
                    }
                }
            }
            Ok(Outcome::Clean)
        }
        RulesCommand::Show { id, rules } => {
            let (set, _) = rule::load(rules.as_deref())?;
            let text = match (set.get(&id), set.check(&id)) {
                (Some(r), _) => show(r),
                (None, Some(c)) => show_check(c),
                (None, None) => {
                    return Err(Error::Usage(format!(
                        "no rule `{id}`; `keydoctor rules list` shows them"
                    )))
                }
            };
            io.stdout.write_all(text.as_bytes())?;
            Ok(Outcome::Clean)
        }
        RulesCommand::Test { dir, filter, junit } => {
            let (set, _) = rule::load(dir.as_deref())?;
            let filter = filter
                .as_deref()
                .map(regex::Regex::new)
                .transpose()
                .map_err(|e| Error::Usage(format!("--filter: {e}")))?;
            let results: Vec<_> = selftest::run(&set)
                .into_iter()
                .chain(crate::checks::doctor::run_examples(&set))
                .filter(|r| filter.as_ref().is_none_or(|f| f.is_match(&r.rule)))
                .collect();
            if results.is_empty() {
                return Err(Error::Usage("--filter matches no rule".into()));
            }
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
                    writeln!(
                        io.stdout,
                        "ok    {} ({} examples)",
                        chunk[0].rule,
                        chunk.len()
                    )?;
                    continue;
                }
                writeln!(io.stdout, "FAIL  {} ({})", chunk[0].rule, chunk[0].source)?;
                for f in bad {
                    writeln!(
                        io.stdout,
                        "      example \"{}\": {}",
                        f.example,
                        describe(&set, f)
                    )?;
                }
            }
            let of = match clients {
                0 => format!("{rules} rules"),
                n => format!("{rules} rules and {n} clients"),
            };
            writeln!(
                io.stdout,
                "{} examples of {of}: {} passed, {failed} failed",
                results.len(),
                results.len() - failed,
            )?;
            if let Some(path) = junit {
                // A file is an output too: it passes the same redacting writer as stdout (a
                // custom rule's example may hold a pasted credential).
                let written = std::fs::File::create(&path).and_then(|file| {
                    let mut w = crate::report::redacting::Redacting::new(file);
                    std::io::Write::write_all(&mut w, junit_xml(&set, &results).as_bytes())?;
                    std::io::Write::flush(&mut w)
                });
                written.map_err(|e| {
                    Error::Usage(format!(
                        "--junit {}: {}",
                        path.display(),
                        crate::source::io_reason(&e)
                    ))
                })?;
            }
            Ok(if failed == 0 {
                Outcome::Clean
            } else {
                Outcome::Found
            })
        }
        RulesCommand::Literals { rules } => {
            let (set, _) = rule::load(rules.as_deref())?;
            let scanner = crate::scan::Scanner::new(set, crate::diagnosis::Options::new(None, 0));
            for literal in scanner.literals() {
                writeln!(io.stdout, "{literal}")?;
            }
            Ok(Outcome::Clean)
        }
        RulesCommand::Lint { dir } => {
            let (set, mut problems) = rule::load(dir.as_deref())?;
            let shadowed = selftest::shadowing_problems(&set, &selftest::run(&set));
            let data = data_file_problems(dir.as_deref(), &set);
            let errors = shadowed.len() + data.len();
            problems.extend(shadowed);
            problems.extend(data);
            if errors > 0 {
                return Err(rule::RuleSetError { problems }.into());
            }
            let theme = if color {
                GraphicalTheme::unicode()
            } else {
                GraphicalTheme::unicode_nocolor()
            };
            let handler = GraphicalReportHandler::new_themed(theme).with_links(false);
            for w in &problems {
                let mut text = String::new();
                let _ = handler.render_report(&mut text, w);
                io.stderr.write_all(text.as_bytes())?;
            }
            let rules = set.rules.len() + set.checks.len();
            let scanner = crate::scan::Scanner::new(set, crate::diagnosis::Options::new(None, 0));
            let mut warnings = problems.len();
            if scanner.is_prefiltered() && scanner.anchors().is_empty() {
                warnings += 1;
                writeln!(
                    io.stderr,
                    "warning: the rules' {} literals need more than {} anchors (or this CPU has no packed searcher): scans read every byte with the slower automaton; share words between literals or drop near-duplicates",
                    scanner.literals().len(),
                    crate::rule::prefilter::MAX_ANCHORS
                )?;
            }
            writeln!(
                io.stdout,
                "{rules} rules, 0 errors, {warnings} warnings; scans search {} literals through {} anchors",
                scanner.literals().len(),
                scanner.anchors().len()
            )?;
            Ok(Outcome::Clean)
        }
    }
}

/// What is wrong with the data files beside the rules: `pairs.toml` (cross-cluster symptom
/// pairs, checked against the rule set) and `products.toml` (products' keys), bundled and of
/// `dir`.
fn data_file_problems(
    dir: Option<&std::path::Path>,
    set: &rule::RuleSet,
) -> Vec<rule::RuleProblem> {
    use crate::diagnosis::{products, two_sided};
    let file = |name: &str| match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
        Some(p) => format!("rules/{name} (bundled) and {}", p.display()),
        None => format!("rules/{name} (bundled)"),
    };
    let problem = |name: &str, message: String| {
        let file = file(name);
        rule::RuleProblem {
            code: "data_file",
            message,
            help: None,
            label: String::new(),
            span: None,
            src: miette::NamedSource::new(file.clone(), String::new()),
            file,
            warning: false,
        }
    };
    let mut out = Vec::new();
    match two_sided::pairs(dir) {
        Ok(pairs) => out.extend(
            two_sided::check_pairs(&pairs, set)
                .into_iter()
                .map(|m| problem("pairs.toml", m)),
        ),
        Err(e) => out.push(problem("pairs.toml", e)),
    }
    match products::products(dir) {
        Ok(list) => out.extend(
            products::check_products(&list)
                .into_iter()
                .map(|m| problem("products.toml", m)),
        ),
        Err(e) => out.push(problem("products.toml", e)),
    }
    // The facts' sentences (bundled only): a template per code, each with its code's fields.
    out.extend(
        crate::diagnosis::fact::check(ABOVE)
            .into_iter()
            .map(|m| problem("facts.toml", m)),
    );
    // The message atlas (atlas/*.toml, embedded): its entries' fields.
    out.extend(rule::atlas::check().into_iter().map(|m| {
        let mut p = problem("products.toml", m);
        p.file = "atlas (embedded)".into();
        p.src = miette::NamedSource::new(p.file.clone(), String::new());
        p
    }));
    out
}

/// Everything a rule says, as written: `keydoctor rules show ID`.
fn show(r: &rule::Rule) -> String {
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
                rule::Scope::Record => "record",
                rule::Scope::Input => "input",
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
fn show_check(r: &rule::check::CheckRule) -> String {
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
fn junit_xml(set: &rule::RuleSet, results: &[selftest::CaseResult]) -> String {
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
pub(crate) fn describe(set: &rule::RuleSet, case: &selftest::CaseResult) -> String {
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

#[cfg(test)]
mod tests {
    use super::ABOVE;
    use crate::diagnosis::fact::{assert_said_as_listed, check, Words};

    #[test]
    fn every_sentence_a_command_says_is_in_its_table_and_every_entry_is_said() {
        let modules: &[(&str, Words)] = &[
            (
                include_str!("../lifecycle/key.rs"),
                crate::lifecycle::key::WORDS,
            ),
            (
                include_str!("../lifecycle/rotate.rs"),
                crate::lifecycle::rotate::WORDS,
            ),
            (
                include_str!("../lifecycle/impact.rs"),
                crate::lifecycle::impact::WORDS,
            ),
            (include_str!("../pipeline/mod.rs"), crate::pipeline::WORDS),
            (
                include_str!("../pipeline/scan.rs"),
                crate::pipeline::scan::WORDS,
            ),
            (
                include_str!("../pipeline/keys.rs"),
                crate::pipeline::keys::WORDS,
            ),
            (
                include_str!("../checks/doctor.rs"),
                crate::checks::doctor::WORDS,
            ),
        ];
        assert_eq!(modules.len(), ABOVE.len(), "a table of ABOVE is not tested");
        assert_said_as_listed(modules);
    }

    #[test]
    fn the_bundled_templates_cover_every_code_with_its_fields() {
        assert_eq!(check(ABOVE), Vec::<String>::new());
    }
}
