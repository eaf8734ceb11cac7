//! `doctor`'s checks as data: `rules/checks/<id>.toml`, one file per outcome of a check.
//!
//! - **In**: check rule files (embedded, plus `--rules DIR` under `checks/`).
//! - **Out**: [`CheckRule`]s, each bound to one [`Decision`] that `checks::doctor` makes from a
//!   cluster's answers; its words (title, explanation, the check line, steps, evidence labels)
//!   are templates over that decision's fields, checked here when the file is read.
//! - **Never**: decide anything: whether a remote is in sniff mode, whether a key expires within
//!   the window, is the decision's; the file says what that means and what to do.
//!
//! A file's examples are cluster answers (`GET /_xpack/usage`, `GET /_remote/info`, …) and the
//! status the rule must come out with; `keydoctor rules test` runs them through `doctor`'s
//! decisions.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::compile::{
    parse_run_as, parse_severity, parse_toml, parse_version, problem, unsafe_request, RuleProblem,
    RuleSource,
};
use super::schema::ReferenceFile;

/// A check rule's `[explain]`: `text` for one finding; `group` for several of one rule, said
/// once.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckExplainFile {
    text: Spanned<String>,
    #[serde(default)]
    group: Option<String>,
}
use super::template::Template;
use crate::model::{Class, RuleClass, Severity, Version};

/// One outcome `doctor` can decide, with the names its rule's templates may use.
#[derive(Debug, PartialEq, Eq)]
pub struct Decision {
    /// Stable; a rule file binds to it with `decision = "…"`.
    pub code: &'static str,
    /// Values always set when the decision is made.
    pub fields: &'static [&'static str],
    /// Values set only sometimes: outside a part they need a fallback (`{version|}`).
    pub optional: &'static [&'static str],
    /// Clauses the decision turns on when they apply; their text is the rule's `[parts]`, and
    /// templates take them with a fallback (`{in_yml|}`).
    pub parts: &'static [&'static str],
    /// Conditions a remediation step may require (`if = "can_update"`).
    pub flags: &'static [&'static str],
    /// What the evidence points at; each one's words are the rule's `[labels]`.
    pub labels: &'static [&'static str],
    /// Whether the decision may raise the severity to `error` (a key expiring within a day, a
    /// sniffing remote that is not connected).
    pub escalates: bool,
}

/// Every decision `doctor` makes that is not "ok". A decision without a rule, or with two, is a
/// load error.
pub const DECISIONS: &[Decision] = &[
    Decision {
        code: "security.disabled",
        fields: &["call"],
        optional: &[],
        parts: &[],
        flags: &[],
        labels: &["off"],
        escalates: false,
    },
    Decision {
        code: "api_key_service.disabled",
        fields: &["call"],
        optional: &[],
        parts: &["service_follows_tls"],
        flags: &["tls_off"],
        labels: &["service", "http"],
        escalates: false,
    },
    Decision {
        code: "tls_http.off",
        fields: &[],
        optional: &[],
        parts: &["behind_proxy", "between_proxy"],
        flags: &[],
        labels: &[],
        escalates: false,
    },
    Decision {
        code: "audit.off",
        fields: &[],
        optional: &[],
        parts: &[],
        flags: &[],
        labels: &[],
        escalates: false,
    },
    Decision {
        code: "key.no_expiration",
        fields: &["key_id", "key", "owner"],
        optional: &["ago", "created", "version"],
        parts: &["created_ago", "this_cluster", "too_old"],
        flags: &["can_update"],
        labels: &["key", "decisive"],
        escalates: false,
    },
    Decision {
        code: "key.expiring_soon",
        fields: &["key_id", "key", "owner", "when", "left"],
        optional: &["version"],
        parts: &["this_cluster", "too_old"],
        flags: &["can_update"],
        labels: &["key", "decisive"],
        escalates: true,
    },
    Decision {
        code: "remote.api_key_on_transport_port",
        fields: &["alias", "address", "proxy_request"],
        optional: &[],
        parts: &["in_yml"],
        flags: &[],
        labels: &["port", "credentials"],
        escalates: false,
    },
    Decision {
        code: "remote.port_without_credentials",
        fields: &["alias", "address"],
        optional: &[],
        parts: &[],
        flags: &[],
        labels: &["port"],
        escalates: false,
    },
    Decision {
        code: "remote.api_key_sniff",
        fields: &["alias", "proxy_request"],
        optional: &[],
        parts: &["disconnected", "not_connected", "in_yml", "sniff_in_yml"],
        flags: &[],
        labels: &["credentials", "mode", "connection"],
        escalates: true,
    },
    Decision {
        code: "remote.api_key_not_connected",
        fields: &["alias"],
        optional: &["address"],
        parts: &["via"],
        flags: &[],
        labels: &["credentials", "connection"],
        escalates: false,
    },
    Decision {
        code: "remote.not_in_info",
        fields: &["alias", "scope"],
        optional: &[],
        parts: &[],
        flags: &[],
        labels: &[],
        escalates: false,
    },
    Decision {
        code: "remote.certificate_not_connected",
        fields: &["alias"],
        optional: &[],
        parts: &[],
        flags: &[],
        labels: &[],
        escalates: false,
    },
];

/// The decision of `code`.
pub fn decision(code: &str) -> Option<&'static Decision> {
    DECISIONS.iter().find(|d| d.code == code)
}

/// The answers a check example may give, as the calls `doctor` makes.
pub const ANSWERS: &[&str] = &[
    "GET /_xpack/usage",
    "GET /_xpack",
    "GET /_security/api_key",
    "GET /_remote/info",
    "GET /_cluster/settings",
];

/// A compiled check rule.
#[derive(Debug)]
pub struct CheckRule {
    pub id: String,
    /// A finding's class, or `note` (a remark in the report's notes).
    pub class: RuleClass,
    /// The severity when the decision does not escalate it.
    pub severity: Severity,
    pub decision: &'static Decision,
    pub summary: String,
    /// The finding's headline, or the whole note.
    pub title: Template,
    pub explain: Option<Template>,
    /// What the rule's findings mean together, said once above a group of them (`doctor`
    /// groups the keys that expire soon, or never): plain words, no fields.
    pub explain_group: Option<String>,
    /// The check line's words for this outcome.
    pub check: Option<Template>,
    pub parts: BTreeMap<String, Template>,
    pub labels: BTreeMap<String, Template>,
    pub remediation: Vec<CheckStep>,
    pub references: Vec<super::Reference>,
    /// A note left out when a finding of one of these rules is in the same report (it says the
    /// same, with a plan).
    pub superseded_by: Vec<String>,
    pub examples: Vec<CheckExample>,
    pub source: String,
    pub source_text: std::sync::Arc<str>,
}

/// One remediation step of a check rule.
#[derive(Debug, Clone)]
pub struct CheckStep {
    pub title: Template,
    pub text: Option<Template>,
    pub request: Option<Template>,
    /// A flag of the decision the step needs.
    pub only_if: Option<String>,
    /// Shown beside the step (a version it needs).
    pub note: Option<Template>,
    pub run_as: crate::model::RunAs,
}

/// One example: the cluster's answers and what the rule must come out as.
#[derive(Debug, Clone)]
pub struct CheckExample {
    pub name: String,
    pub span: Range<usize>,
    /// `Some(severity)`: the rule fires with it (`note` for a note); `None`: it does not.
    pub expect: Option<Severity>,
    pub version: Option<Version>,
    /// Epoch milliseconds of the example's `now` (RFC 3339); by default 2026-01-01.
    pub now_ms: Option<i64>,
    pub within: Option<String>,
    /// Call → its answer's JSON.
    pub answers: BTreeMap<String, serde_json::Value>,
    /// Fields the decision must have made, a subset.
    pub fields: BTreeMap<String, String>,
}

impl CheckRule {
    /// Render `template` with the decision's `values` and the `parts` it turned on.
    pub fn render(
        &self,
        template: &Template,
        values: &BTreeMap<String, String>,
        parts: &BTreeSet<&str>,
    ) -> String {
        let lookup = |name: &str| {
            if let Some(v) = values.get(name) {
                return Some(v.clone());
            }
            if parts.contains(name) {
                let part = self.parts.get(name)?;
                return Some(part.render(&|n| values.get(n).cloned()));
            }
            None
        };
        template.render(&lookup).trim().to_string()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckFile {
    id: Spanned<String>,
    class: Spanned<String>,
    #[serde(default)]
    severity: Option<Spanned<String>>,
    decision: Spanned<String>,
    title: Spanned<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    check: Option<Spanned<String>>,
    #[serde(default)]
    explain: Option<Spanned<CheckExplainFile>>,
    #[serde(default)]
    parts: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    labels: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    remediation: Vec<Spanned<StepFile>>,
    #[serde(default)]
    reference: Vec<Spanned<ReferenceFile>>,
    #[serde(default)]
    superseded_by: Vec<Spanned<String>>,
    #[serde(default)]
    example: Vec<Spanned<ExampleFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    title: Spanned<String>,
    #[serde(default)]
    text: Option<Spanned<String>>,
    #[serde(default)]
    request: Option<Spanned<String>>,
    #[serde(default, rename = "if")]
    only_if: Option<Spanned<String>>,
    #[serde(default)]
    note: Option<Spanned<String>>,
    #[serde(default)]
    run_as: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleFile {
    name: Spanned<String>,
    expect: Spanned<String>,
    #[serde(default)]
    version: Option<Spanned<String>>,
    #[serde(default)]
    now: Option<Spanned<String>>,
    #[serde(default)]
    within: Option<Spanned<String>>,
    #[serde(default)]
    answers: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

/// Compile every check source, later ones replacing earlier ones of the same id; then every
/// decision must have exactly one rule.
pub(super) fn compile_checks(
    sources: &[RuleSource],
    problems: &mut Vec<RuleProblem>,
    notes: &mut Vec<String>,
) -> Vec<CheckRule> {
    let mut out: Vec<CheckRule> = Vec::new();
    for source in sources {
        let Some(rule) = compile_check(source, problems) else {
            continue;
        };
        if let Some(pos) = out.iter().position(|r| r.id == rule.id) {
            notes.push(format!("rule {} overridden by {}", rule.id, source.label));
            out[pos] = rule;
        } else {
            out.push(rule);
        }
    }
    if problems.iter().any(|p| !p.warning) {
        return out;
    }
    let last = sources.last();
    for r in &out {
        for other in &r.superseded_by {
            if !out.iter().any(|x| &x.id == other) {
                problems.push(problem(
                    sources
                        .iter()
                        .find(|s| s.label == r.source)
                        .unwrap_or(&sources[0]),
                    "unknown-rule",
                    format!("`superseded_by`: no check rule `{other}`"),
                    None,
                    "",
                    None,
                ));
            }
        }
    }
    for d in DECISIONS {
        let bound: Vec<&CheckRule> = out.iter().filter(|r| r.decision.code == d.code).collect();
        let message = match bound.len() {
            1 => continue,
            0 => format!(
                "no check rule has `decision = \"{}\"`: doctor would have no words for it",
                d.code
            ),
            _ => format!(
                "decision `{}` has {} rules ({}); one says what it means",
                d.code,
                bound.len(),
                bound
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        if let Some(source) = last {
            problems.push(problem(source, "unbound-decision", message, None, "", None));
        }
    }
    out
}

fn compile_check(source: &RuleSource, problems: &mut Vec<RuleProblem>) -> Option<CheckRule> {
    let before = problems.len();
    let file: CheckFile = parse_toml(
        source,
        "rules/README.md (\"Doctor's checks\") lists a check rule's fields",
        problems,
    )?;
    let mut err = |code: &'static str, message: String, span: Range<usize>, label: &str| {
        problems.push(problem(source, code, message, Some(span), label, None));
    };
    let id = file.id.get_ref().clone();
    let stem = source
        .relative
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".toml");
    if id != stem {
        err(
            "id-file-mismatch",
            format!("rule id `{id}` differs from the file name `{stem}.toml`"),
            file.id.span(),
            "must equal the file stem",
        );
    }
    let class = RuleClass::parse(file.class.get_ref());
    if class.is_none() {
        err(
            "unknown-class",
            format!("unknown class `{}`", file.class.get_ref()),
            file.class.span(),
            "a class or `note`",
        );
    }
    let decision = decision(file.decision.get_ref());
    if decision.is_none() {
        err(
            "unknown-decision",
            format!(
                "`{}` is not a decision doctor makes; known: {}",
                file.decision.get_ref(),
                DECISIONS
                    .iter()
                    .map(|d| d.code)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            file.decision.span(),
            "unknown decision",
        );
    }
    let finding = matches!(class, Some(RuleClass::Finding(_)));
    if finding && file.explain.is_none() {
        err(
            "no-explain",
            "a check rule that reports a finding needs `[explain] text`".into(),
            file.id.span(),
            "no explanation",
        );
    }
    if let Some(explain) = &file.explain {
        let group = explain.get_ref().group.as_deref().unwrap_or_default();
        if Template::parse(group).is_ok_and(|(_, placeholders)| !placeholders.is_empty()) {
            err(
                "group-with-fields",
                "`[explain] group` is said once for several findings: it takes no `{field}`".into(),
                explain.span(),
                "fields in group",
            );
        }
    }
    if !finding && (!file.remediation.is_empty() || file.explain.is_some()) {
        err(
            "note-with-plan",
            "a note is its title alone: no `[explain]` and no `[[remediation]]`".into(),
            file.id.span(),
            "a note",
        );
    }
    if let Some(RuleClass::Finding(c)) = class {
        if !Class::ALL.contains(&c) {
            err(
                "unknown-class",
                format!("unknown class `{}`", c.as_str()),
                file.class.span(),
                "unknown",
            );
        }
    }
    let default = if class == Some(RuleClass::Note) {
        Severity::Note
    } else {
        Severity::Error
    };
    let severity = parse_severity(source, file.severity.as_ref(), default, problems);
    let decision = decision?;
    let names = |d: &Decision| -> String {
        d.fields
            .iter()
            .chain(d.optional)
            .chain(d.parts)
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Templates: a field anywhere; an optional value or a part only with a fallback, except
    // that a part's own text may use optional values (the decision sets them with it).
    let template = |field: &Spanned<String>,
                    in_part: bool,
                    problems: &mut Vec<RuleProblem>|
     -> Option<Template> {
        match Template::parse(field.get_ref()) {
            Ok((t, placeholders)) => {
                let mut ok = true;
                for p in placeholders {
                    let name = p.name.as_str();
                    let problem_text = if decision.fields.contains(&name) {
                        None
                    } else if decision.optional.contains(&name) {
                        (!in_part && !p.has_fallback).then(|| {
                            format!("`{{{name}}}` is not always set: write `{{{name}|…}}`")
                        })
                    } else if decision.parts.contains(&name) && !in_part {
                        (!p.has_fallback).then(|| {
                            format!("part `{{{name}}}` is only sometimes on: write `{{{name}|}}`")
                        })
                    } else {
                        Some(format!(
                            "`{{{name}}}` is not a field of decision `{}` (it has: {})",
                            decision.code,
                            names(decision)
                        ))
                    };
                    if let Some(message) = problem_text {
                        ok = false;
                        problems.push(problem(
                            source,
                            "unknown-variable",
                            message,
                            Some(field.span()),
                            "here",
                            None,
                        ));
                    }
                }
                ok.then_some(t)
            }
            Err(e) => {
                problems.push(problem(
                    source,
                    "bad-template",
                    e.message,
                    Some(field.span()),
                    "bad placeholder",
                    None,
                ));
                None
            }
        }
    };
    let title = template(&file.title, false, problems);
    let explain = file
        .explain
        .as_ref()
        .and_then(|e| template(&e.get_ref().text, false, problems));
    let check = file
        .check
        .as_ref()
        .and_then(|c| template(c, false, problems));
    // The parts' and the labels' words: each name must be one the decision has.
    let mut named: [BTreeMap<String, Template>; 2] = Default::default();
    for (slot, (what, allowed, given, in_part)) in [
        ("part", decision.parts, &file.parts, true),
        ("label", decision.labels, &file.labels, false),
    ]
    .into_iter()
    .enumerate()
    {
        for (name, text) in given {
            if !allowed.contains(&name.as_str()) {
                problems.push(problem(
                    source,
                    if in_part {
                        "unknown-part"
                    } else {
                        "unknown-label"
                    },
                    format!(
                        "decision `{}` has no {what} `{name}` (its {what}s: {})",
                        decision.code,
                        allowed.join(", ")
                    ),
                    Some(text.span()),
                    "unknown name",
                    None,
                ));
                continue;
            }
            if let Some(t) = template(text, in_part, problems) {
                named[slot].insert(name.clone(), t);
            }
        }
    }
    let [parts, labels] = named;
    for (what, names, have) in [
        ("part", decision.parts, &file.parts),
        ("label", decision.labels, &file.labels),
    ] {
        for name in names {
            if !have.contains_key(*name) {
                problems.push(problem(
                    source,
                    "missing-text",
                    format!(
                        "decision `{}` needs the words of its {what} `{name}`",
                        decision.code
                    ),
                    Some(file.decision.span()),
                    "incomplete",
                    None,
                ));
            }
        }
    }
    let mut remediation = Vec::new();
    for step in &file.remediation {
        let s = step.get_ref();
        let Some(run_as) = parse_run_as(source, s.run_as.as_ref(), problems) else {
            continue;
        };
        if let Some(flag) = &s.only_if {
            if !decision.flags.contains(&flag.get_ref().as_str()) {
                problems.push(problem(
                    source,
                    "unknown-flag",
                    format!(
                        "decision `{}` has no flag `{}` (its flags: {})",
                        decision.code,
                        flag.get_ref(),
                        decision.flags.join(", ")
                    ),
                    Some(flag.span()),
                    "unknown flag",
                    None,
                ));
            }
        }
        if let Some(r) = &s.request {
            if let Some((code, message, label)) = unsafe_request(r.get_ref(), run_as) {
                problems.push(problem(source, code, message, Some(r.span()), label, None));
            }
        }
        let title = template(&s.title, false, problems);
        let text = s.text.as_ref().map(|t| template(t, false, problems));
        let request = s.request.as_ref().map(|t| template(t, false, problems));
        let note = s.note.as_ref().map(|t| template(t, false, problems));
        if let (Some(title), Some(text), Some(request), Some(note)) = (
            title,
            text.map_or(Some(None), |t| t.map(Some)),
            request.map_or(Some(None), |t| t.map(Some)),
            note.map_or(Some(None), |t| t.map(Some)),
        ) {
            remediation.push(CheckStep {
                title,
                text,
                request,
                only_if: s.only_if.as_ref().map(|f| f.get_ref().clone()),
                note,
                run_as,
            });
        }
    }
    let mut references = Vec::new();
    for r in &file.reference {
        let r = r.get_ref();
        if !r.url.get_ref().starts_with("https://") {
            problems.push(problem(
                source,
                "bad-url",
                "a reference's url is https".into(),
                Some(r.url.span()),
                "not https",
                None,
            ));
        }
        references.push(super::Reference {
            title: r.title.get_ref().clone(),
            url: r.url.get_ref().clone(),
        });
    }
    let mut examples = Vec::new();
    for ex in &file.example {
        let e = ex.get_ref();
        let expect = match e.expect.get_ref().as_str() {
            "none" => None,
            other => match Severity::parse(other) {
                Some(s) => Some(s),
                None => {
                    problems.push(problem(
                        source,
                        "bad-expect",
                        format!("`{other}` is not what a check comes out as"),
                        Some(e.expect.span()),
                        "error | warning | note | none",
                        None,
                    ));
                    continue;
                }
            },
        };
        let version = e
            .version
            .as_ref()
            .and_then(|v| parse_version(source, v, "8.15.1", problems));
        let now_ms =
            e.now.as_ref().and_then(
                |n| match chrono::DateTime::parse_from_rfc3339(n.get_ref()) {
                    Ok(t) => Some(t.timestamp_millis()),
                    Err(err) => {
                        problems.push(problem(
                            source,
                            "bad-now",
                            format!("`{}` is not an RFC 3339 time: {err}", n.get_ref()),
                            Some(n.span()),
                            "expected e.g. `2026-01-01T00:00:00Z`",
                            None,
                        ));
                        None
                    }
                },
            );
        let mut answers = BTreeMap::new();
        for (call, body) in &e.answers {
            if !ANSWERS.contains(&call.as_str()) {
                problems.push(problem(
                    source,
                    "unknown-answer",
                    format!(
                        "doctor does not call `{call}`; it calls: {}",
                        ANSWERS.join(", ")
                    ),
                    Some(body.span()),
                    "unknown call",
                    None,
                ));
                continue;
            }
            match serde_json::from_str(body.get_ref()) {
                Ok(v) => {
                    answers.insert(call.clone(), v);
                }
                Err(err) => problems.push(problem(
                    source,
                    "bad-answer",
                    format!("the answer to `{call}` is not JSON: {err}"),
                    Some(body.span()),
                    "not JSON",
                    None,
                )),
            }
        }
        examples.push(CheckExample {
            name: e.name.get_ref().clone(),
            span: e.name.span(),
            expect,
            version,
            now_ms,
            within: e.within.as_ref().map(|w| w.get_ref().clone()),
            answers,
            fields: e.fields.clone(),
        });
    }
    let fires = examples.iter().any(|e| e.expect.is_some());
    let quiet = examples.iter().any(|e| e.expect.is_none());
    if !fires || !quiet {
        problems.push(problem(
            source,
            "examples-incomplete",
            "a check rule needs an example where it comes out (`expect = \"error\"`, …) and one where it does not (`expect = \"none\"`)".into(),
            Some(file.id.span()),
            "examples",
            None,
        ));
    }
    if problems.len() > before {
        return None;
    }
    Some(CheckRule {
        id,
        class: class?,
        severity: severity?,
        decision,
        summary: file.summary.unwrap_or_default(),
        title: title?,
        explain,
        explain_group: file
            .explain
            .as_ref()
            .and_then(|e| e.get_ref().group.as_ref())
            .map(|g| g.trim().to_string()),
        check,
        parts,
        labels,
        remediation,
        references,
        superseded_by: file
            .superseded_by
            .iter()
            .map(|s| s.get_ref().clone())
            .collect(),
        examples,
        source: source.label.clone(),
        source_text: source.text.clone().into(),
    })
}
