//! Verification of every rule's embedded examples, shared by `cargo test` and
//! `keydoctor rules test` (ast-grep's `verify`, oxc's pass/fail cases).
//!
//! - **In**: a compiled [`RuleSet`].
//! - **Out**: one [`CaseResult`] per example, with what was expected and what happened.
//! - **Never**: stop at the first failure: every case is reported.
//!
//! A `match` example passes when the rule, alone, matches the example with the expected captures
//! **and** the rule still wins when the whole set runs (otherwise another rule shadows it). A
//! `no-match` example passes when the rule, alone, does not match.

use std::collections::BTreeMap;

use super::RuleSet;
use crate::event::parse_input;
use crate::source::Input;

/// The outcome of one example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Expected a match, got none.
    Missing,
    /// Expected no match, got one.
    Noisy {
        captures: BTreeMap<String, String>,
    },
    /// Matched, but with other captures than expected.
    WrongCaptures {
        expected: BTreeMap<String, String>,
        actual: BTreeMap<String, String>,
    },
    /// Matched alone, but the full set gives the record to another rule.
    Shadowed {
        by: Vec<String>,
    },
    /// A check rule came out with another severity than its example expects.
    WrongStatus {
        expected: String,
        actual: String,
    },
    /// The example itself cannot be run (a `within` that is not a time value).
    Unrunnable {
        why: String,
    },
}

/// One example's result.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub rule: String,
    pub source: String,
    pub example: String,
    pub outcome: Outcome,
}

/// Run every example of every rule in `set`.
pub fn run(set: &RuleSet) -> Vec<CaseResult> {
    let mut results = Vec::new();
    for (idx, rule) in set.rules.iter().enumerate() {
        for example in &rule.examples {
            let doc = parse_input(&Input {
                name: "example".into(),
                text: example.input.clone(),
            });
            let alone = set.match_rule(&doc, idx);
            let outcome = if example.expect_match {
                let best = alone.iter().find(|m| {
                    example
                        .captures
                        .iter()
                        .all(|(k, v)| m.capture(k) == Some(v.as_str()))
                });
                match (alone.first(), best) {
                    (None, _) => Outcome::Missing,
                    (Some(first), None) => Outcome::WrongCaptures {
                        expected: example.captures.clone(),
                        actual: first
                            .captures
                            .iter()
                            .map(|(k, v, _)| (k.clone(), v.clone()))
                            .collect(),
                    },
                    (Some(_), Some(_)) => {
                        let full = set.match_document(&doc);
                        if full.iter().any(|m| m.rule == idx) {
                            Outcome::Ok
                        } else {
                            let mut by: Vec<String> =
                                full.iter().map(|m| set.rules[m.rule].id.clone()).collect();
                            by.dedup();
                            Outcome::Shadowed { by }
                        }
                    }
                }
            } else {
                match alone.first() {
                    None => Outcome::Ok,
                    Some(m) => Outcome::Noisy {
                        captures: m
                            .captures
                            .iter()
                            .map(|(k, v, _)| (k.clone(), v.clone()))
                            .collect(),
                    },
                }
            };
            results.push(CaseResult {
                rule: rule.id.clone(),
                source: rule.source.clone(),
                example: example.name.clone(),
                outcome,
            });
        }
    }
    // Each client's examples must name that client (and not an entry tried before it).
    for spec in &set.clients {
        for (i, example) in spec.examples.iter().enumerate() {
            let outcome = match set.client_in(example, "example") {
                Some(c) if c.id == spec.id => Outcome::Ok,
                Some(c) => Outcome::Shadowed { by: vec![c.id] },
                None => Outcome::Missing,
            };
            results.push(CaseResult {
                rule: format!("client {}", spec.id),
                source: "clients.toml".into(),
                example: format!("example {}", i + 1),
                outcome,
            });
        }
    }
    results
}

/// A `match` example that another rule wins is a lint error: the rule can never report it.
pub fn shadowing_problems(set: &RuleSet, results: &[CaseResult]) -> Vec<super::RuleProblem> {
    results
        .iter()
        .filter_map(|r| {
            let Outcome::Shadowed { by } = &r.outcome else {
                return None;
            };
            let rule = set.get(&r.rule)?;
            let example = rule.examples.iter().find(|e| e.name == r.example)?;
            let winners: Vec<String> = by
                .iter()
                .map(|id| match set.get(id) {
                    Some(w) => format!("`{id}` ({}, {})", w.class.as_str(), w.source),
                    None => format!("`{id}`"),
                })
                .collect();
            Some(super::RuleProblem {
                code: "shadowed-rule",
                message: format!(
                    "rule `{}` is shadowed: its example \"{}\" is won by {}",
                    rule.id,
                    example.name,
                    winners.join(", ")
                ),
                help: Some(
                    "raise this rule's `priority`, or add a `not` pattern to the rule that wins"
                        .into(),
                ),
                label: "another rule wins this example".into(),
                span: Some(example.span.clone().into()),
                file: rule.source.clone(),
                src: miette::NamedSource::new(rule.source.clone(), rule.source_text.to_string()),
                warning: false,
            })
        })
        .collect()
}
