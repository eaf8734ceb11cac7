//! `keydoctor rules list|show|test|lint`.

use std::fmt::Write as _;

use miette::{GraphicalReportHandler, GraphicalTheme};
use serde_json::json;

use super::{CmdResult, Io, ListFormat, RulesCommand};
use crate::error::{Error, Outcome};
use crate::rule::{self, selftest};

pub(super) fn run(cmd: RulesCommand, color: bool, io: &mut Io<'_>) -> CmdResult {
    match cmd {
        RulesCommand::List { rules, format } => {
            let (set, _) = rule::load(rules.as_deref())?;
            match format {
                ListFormat::Json => {
                    let list: Vec<_> = set
                        .rules
                        .iter()
                        .map(|r| json!({"id": r.id, "class": r.class.as_str(), "severity": r.severity.as_str(), "summary": r.summary, "source": r.source}))
                        .collect();
                    serde_json::to_writer_pretty(&mut io.stdout, &json!({"rules": list}))
                        .map_err(std::io::Error::from)?;
                    writeln!(io.stdout)?;
                }
                ListFormat::Human => {
                    let id_w = set.rules.iter().map(|r| r.id.len()).max().unwrap_or(0);
                    let class_w = set
                        .rules
                        .iter()
                        .map(|r| r.class.as_str().len())
                        .max()
                        .unwrap_or(0);
                    for r in &set.rules {
                        writeln!(
                            io.stdout,
                            "{:id_w$}  {:class_w$}  {:7}  {}",
                            r.id,
                            r.class.as_str(),
                            r.severity.as_str(),
                            r.summary
                        )?;
                    }
                }
            }
            Ok(Outcome::Clean)
        }
        RulesCommand::Show { id, rules } => {
            let (set, _) = rule::load(rules.as_deref())?;
            let Some(r) = set.get(&id) else {
                return Err(Error::Usage(format!(
                    "no rule `{id}`; `keydoctor rules list` shows them"
                )));
            };
            let mut text = String::new();
            let _ = writeln!(
                text,
                "{} ({}, {}, priority {}{})",
                r.id,
                r.class.as_str(),
                r.severity.as_str(),
                r.priority,
                if r.fallback { ", fallback" } else { "" }
            );
            let _ = writeln!(text, "source: {}", r.source);
            let _ = writeln!(text, "summary: {}", r.summary);
            for re in &r.any {
                let _ = writeln!(text, "any: {}", re.as_str());
            }
            for re in &r.all {
                let _ = writeln!(text, "all: {}", re.as_str());
            }
            for re in &r.not {
                let _ = writeln!(text, "not: {}", re.as_str());
            }
            let _ = writeln!(text, "literals: {}", r.literals.join(" | "));
            for ex in &r.examples {
                let _ = writeln!(
                    text,
                    "example ({}): {}",
                    if ex.expect_match { "match" } else { "no-match" },
                    ex.name
                );
            }
            io.stdout.write_all(text.as_bytes())?;
            Ok(Outcome::Clean)
        }
        RulesCommand::Test { dir } => {
            let (set, _) = rule::load(dir.as_deref())?;
            let results = selftest::run(&set);
            let failed: Vec<_> = results
                .iter()
                .filter(|r| r.outcome != selftest::Outcome::Ok)
                .collect();
            for f in &failed {
                writeln!(io.stdout, "FAIL {} / {} ({})", f.rule, f.example, f.source)?;
                writeln!(io.stdout, "     {}", describe(&f.outcome))?;
            }
            writeln!(
                io.stdout,
                "{} passed, {} failed",
                results.len() - failed.len(),
                failed.len()
            )?;
            Ok(if failed.is_empty() {
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
        RulesCommand::Lint { dir } => match rule::load(dir.as_deref()) {
            Ok((set, warnings)) => {
                let theme = if color {
                    GraphicalTheme::unicode()
                } else {
                    GraphicalTheme::unicode_nocolor()
                };
                let handler = GraphicalReportHandler::new_themed(theme).with_links(false);
                for w in &warnings {
                    let mut text = String::new();
                    let _ = handler.render_report(&mut text, w);
                    io.stderr.write_all(text.as_bytes())?;
                }
                writeln!(
                    io.stdout,
                    "{} rules, 0 errors, {} warnings",
                    set.rules.len(),
                    warnings.len()
                )?;
                Ok(Outcome::Clean)
            }
            Err(err) => Err(err.into()),
        },
    }
}

/// One line on what went wrong with an example.
pub(crate) fn describe(outcome: &selftest::Outcome) -> String {
    match outcome {
        selftest::Outcome::Ok => "ok".into(),
        selftest::Outcome::Missing => "expected a match, got none".into(),
        selftest::Outcome::Noisy { captures } => {
            format!("expected no match, got one with {captures:?}")
        }
        selftest::Outcome::WrongCaptures { expected, actual } => {
            let expected = format!("{expected:#?}");
            let actual = format!("{actual:#?}");
            let mut diff = String::from("captures differ (- expected, + actual):\n");
            for line in expected.lines() {
                if !actual.contains(line) {
                    let _ = writeln!(diff, "       - {line}");
                }
            }
            for line in actual.lines() {
                if !expected.contains(line) {
                    let _ = writeln!(diff, "       + {line}");
                }
            }
            diff.trim_end().to_string()
        }
        selftest::Outcome::Shadowed { by } => format!(
            "matches alone, but the full rule set gives it to {}",
            by.join(", ")
        ),
    }
}
