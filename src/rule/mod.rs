//! Stage 3: the rule engine. Rules are data (`rules/<class>/<id>.toml`); this is the code that
//! loads, validates, compiles and matches them.
//!
//! - **In**: rule files (embedded at build time, plus `--rules DIR`) and [`crate::event::Document`]s.
//! - **Out**: a compiled [`RuleSet`]; per document, [`RuleMatch`]es with captures as spans of the
//!   normalized record text.
//! - **Never**: discover a bad rule at match time (every check is at load time), run every regex
//!   over every record, or panic on a rule file.
//!
//! ## Matching as a set
//! Every `any` pattern implies literals (extracted with `regex-syntax`, or given as `literals`).
//! One Aho-Corasick automaton over all of them finds, per record, the rules that could match;
//! only those run their full regexes with captures. Rules without a usable literal are run on
//! every record, and `keydoctor rules lint` warns about them.
//!
//! ## Resolution inside a record
//! Matches are taken by priority (higher first); a match whose span overlaps an accepted one is
//! dropped, so that the most specific reading of a message wins. A `fallback` rule (the generic
//! 401, a bare status) survives only when nothing else matched the record, and a note about a
//! look-alike only when no finding did.

pub mod atlas;
pub mod check;
pub mod clients;
pub mod compile;
mod embedded;
pub mod prefilter;
pub(crate) mod schema;
pub mod selftest;
pub mod show;
pub mod template;

use std::collections::BTreeMap;
use std::ops::Range;

use aho_corasick::AhoCorasick;
use regex::Regex;

use crate::event::Document;
use crate::model::{CandidateKind, RuleClass, Severity, Version};
pub use compile::{load, RuleProblem, RuleSetError};
use template::Template;

/// The data files beside the rules in `rules/` that are not rules (build.rs keeps the same
/// list): step snippets, cross-cluster symptom pairs, products' keys, facts' sentences, clients.
pub const DATA_FILES: &[&str] = &[
    "snippets.toml",
    "pairs.toml",
    "products.toml",
    "facts.toml",
    "clients.toml",
];

/// How many rules and doctor checks are embedded in this binary (`--version` says it).
pub fn embedded_counts() -> (usize, usize) {
    let checks = embedded::EMBEDDED_RULES
        .iter()
        .filter(|(rel, _)| rel.starts_with("checks/"))
        .count();
    (embedded::EMBEDDED_RULES.len() - checks, checks)
}

/// The capture names a pattern may define (rules/README.md documents each).
pub const CAPTURE_VOCABULARY: &[&str] = &[
    "key_id",
    "key_name",
    "user",
    "realm",
    "action",
    "index",
    "restricted_index",
    "privilege",
    "privilege_kind",
    "remote",
    "node",
    "status",
    "client_ip",
    "why",
    "expected_type",
    "actual_type",
    "uri",
    "hex",
    "feature",
    "principal",
    "roles",
    "port",
    "profile",
    "doc_type",
    "version",
];

/// Template variables the engine derives for a finding, beyond the captures.
pub const DERIVED_VARIABLES: &[&str] = &[
    "least_privilege",
    "privilege_list",
    "index_list",
    "role_descriptors",
    "suggested_role_descriptors",
    "first_seen",
    "access",
    "client",
    "deploy",
    "new_key_expiration",
    "new_key_metadata",
];

/// Where `all` and `not` patterns are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The record the `any` pattern matched in (default).
    Record,
    /// The whole input (e.g. a header shown by `curl -v` lines above the body).
    Input,
}

/// A compiled, validated rule.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub class: RuleClass,
    pub severity: Severity,
    pub priority: i64,
    pub title: Template,
    pub summary: String,
    pub fallback: bool,
    /// The rule whose texts a finding takes when metadata, not a message, decides its class.
    pub is_canonical: bool,
    pub implies_version: Option<Version>,
    pub seen_in: Vec<String>,
    pub any: Vec<Regex>,
    pub all: Vec<Regex>,
    pub not: Vec<Regex>,
    pub scope: Scope,
    pub tags_any: Vec<String>,
    pub tags_none: Vec<String>,
    /// Prefilter literals (lower case); empty = run on every record.
    pub literals: Vec<String>,
    /// Phrases that decide the class on their own (lower case): a record that holds one, where
    /// no rule matched whole (the message was cut or reworded), still yields this rule's
    /// finding, with the captures it lacks left unknown.
    pub decisive: Vec<String>,
    pub labels: Vec<(String, Template)>,
    pub explain: Template,
    pub remediation: Vec<Step>,
    pub candidates: Vec<Candidate>,
    pub references: Vec<Reference>,
    /// Fixes that look right and do not work, shown with every finding of the rule.
    pub dead_ends: Vec<String>,
    /// The causes the message leaves open, which the differential weighs.
    pub differential: Option<crate::model::OpenCauses>,
    pub examples: Vec<Example>,
    /// Where it came from: `rules/expired/x.toml (embedded)` or a path.
    pub source: String,
    /// The rule file's text, for diagnostics found after loading (a shadowed example).
    pub source_text: std::sync::Arc<str>,
}

/// One remediation step.
#[derive(Debug, Clone)]
pub struct Step {
    pub title: Template,
    pub text: Option<Template>,
    pub request: Option<Template>,
    pub min_version: Option<Version>,
    pub fallback: Option<Template>,
    /// `Some(CrossCluster)`: only for a key metadata shows is a cross-cluster key;
    /// `Some(Rest)`: for any other key (also when the type is not known).
    pub key_type: Option<crate::model::KeyType>,
    /// Who authenticates the request.
    pub run_as: crate::model::RunAs,
    /// Facts the step needs to be printed (all must hold).
    pub when: Vec<crate::model::StepCondition>,
    /// The way of fixing the key the step belongs to, when a plan could take either.
    pub path: Option<crate::model::PlanPath>,
    /// Where it is carried out.
    pub on: crate::model::RunsOn,
    /// A step for after the incident (prevention).
    pub later: bool,
}

/// A candidate cause of an `authentication_unresolved` finding.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub kind: CandidateKind,
    pub why: Template,
}

/// A reference link.
#[derive(Debug, Clone)]
pub struct Reference {
    pub title: String,
    pub url: String,
}

/// An embedded example.
#[derive(Debug, Clone)]
pub struct Example {
    pub name: String,
    /// Where the example's `name` is in its rule file, for diagnostics.
    pub span: Range<usize>,
    pub expect_match: bool,
    pub captures: BTreeMap<String, String>,
    pub input: String,
}

/// One match of one rule in one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch {
    /// Index into [`RuleSet::rules`].
    pub rule: usize,
    /// Index into [`Document::records`].
    pub record: usize,
    /// The whole match, in the record's normalized text.
    pub span: Range<usize>,
    /// Named captures that participated: (name, value, span in the normalized text).
    pub captures: Vec<(String, String, Range<usize>)>,
    /// Only the rule's decisive phrase was found (`span` is the phrase): the rest of the
    /// message was cut or reworded, so the captures are missing.
    pub partial: bool,
}

impl RuleMatch {
    /// The value of capture `name`, if it participated.
    pub fn capture(&self, name: &str) -> Option<&str> {
        self.captures
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v.as_str())
    }
}

/// A compiled rule set with its prefilter.
#[derive(Debug)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    prefilter: Option<AhoCorasick>,
    /// For each prefilter pattern, the rules it admits.
    literal_rules: Vec<Vec<usize>>,
    /// Rules without literals: candidates on every record.
    unfiltered: Vec<usize>,
    /// Load-time notes (overridden rules).
    pub notes: Vec<String>,
    /// The clients that send keys (`rules/clients.toml`), in the order they are tried.
    pub clients: Vec<clients::ClientSpec>,
    /// `doctor`'s checks (`rules/checks/`), one per decision.
    pub checks: Vec<check::CheckRule>,
    /// The named step lists of `rules/snippets.toml` (and `--rules DIR`'s), by id.
    snippets: BTreeMap<String, Vec<Step>>,
}

impl RuleSet {
    /// Build the prefilter over the rules' literals.
    pub fn new(rules: Vec<Rule>, notes: Vec<String>) -> Self {
        let mut literal_index: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut unfiltered = Vec::new();
        for (idx, rule) in rules.iter().enumerate() {
            if rule.literals.is_empty() {
                unfiltered.push(idx);
            }
            for literal in &rule.literals {
                literal_index.entry(literal.clone()).or_default().push(idx);
            }
        }
        let (patterns, literal_rules): (Vec<String>, Vec<Vec<usize>>) =
            literal_index.into_iter().unzip();
        let prefilter = if patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .ascii_case_insensitive(true)
                .build(&patterns)
                .ok()
        };
        if prefilter.is_none() {
            unfiltered = (0..rules.len()).collect();
        }
        Self {
            rules,
            prefilter,
            literal_rules,
            unfiltered,
            notes,
            clients: embedded_clients(),
            checks: Vec::new(),
            snippets: BTreeMap::new(),
        }
    }

    /// The steps of snippet `id` (`rules/snippets.toml`), as rules include them.
    pub fn snippet(&self, id: &str) -> Option<&[Step]> {
        self.snippets.get(id).map(Vec::as_slice)
    }

    /// Name the client in `text` (see [`clients::recognise`]).
    pub fn client_in(&self, text: &str, seen_in: &str) -> Option<crate::model::Client> {
        clients::recognise(&self.clients, text, seen_in)
    }

    /// Find a rule by id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Find a check rule by id.
    pub fn check(&self, id: &str) -> Option<&check::CheckRule> {
        self.checks.iter().find(|r| r.id == id)
    }

    /// The check rule that says what decision `code` means (every decision has one: the set
    /// does not load otherwise).
    pub fn check_for(&self, code: &str) -> Option<&check::CheckRule> {
        self.checks.iter().find(|r| r.decision.code == code)
    }

    /// Every accepted match in `doc`, in record order.
    pub fn match_document(&self, doc: &Document) -> Vec<RuleMatch> {
        self.match_with(doc, None, &[])
    }

    /// Whether a rule that [reads context](Rule::reads_context) is a candidate for a record
    /// whose text is `norm` (it holds one of the rule's literals, or the rule has none).
    pub fn reads_context(&self, norm: &str) -> bool {
        let reads = |idx: &usize| self.rules[*idx].reads_context();
        if self.unfiltered.iter().any(reads) {
            return true;
        }
        self.prefilter.as_ref().is_some_and(|ac| {
            ac.find_overlapping_iter(norm)
                .any(|m| self.literal_rules[m.pattern().as_usize()].iter().any(reads))
        })
    }

    /// The rules that are candidates for a record whose text is `norm` (it holds one of their
    /// literals), in order: two texts with the same candidates are tried against the same rules.
    pub fn candidates(&self, norm: &str) -> Vec<usize> {
        let mut out = Vec::new();
        self.candidates_into(norm, &mut out);
        out
    }

    /// [`RuleSet::candidates`] into `out` (cleared first): a caller asking for every line
    /// reuses one buffer.
    pub fn candidates_into(&self, norm: &str, out: &mut Vec<usize>) {
        out.clear();
        if let Some(ac) = &self.prefilter {
            out.extend(
                ac.find_overlapping_iter(norm)
                    .flat_map(|m| self.literal_rules[m.pattern().as_usize()].iter().copied()),
            );
        }
        out.sort_unstable();
        out.dedup();
    }

    /// Like [`RuleSet::match_document`], but only rule `only` is considered (for examples).
    pub fn match_rule(&self, doc: &Document, only: usize) -> Vec<RuleMatch> {
        self.match_with(doc, Some(only), &[])
    }

    /// [`RuleSet::match_document`] with `given` tags in force for every record: a credential
    /// the user gave outside the text (`--with-key-env`).
    pub fn match_given(&self, doc: &Document, given: &[String]) -> Vec<RuleMatch> {
        self.match_with(doc, None, given)
    }

    fn match_with(&self, doc: &Document, only: Option<usize>, given: &[String]) -> Vec<RuleMatch> {
        let scope = doc.tag_scope_with(given);
        let mut input_text: Option<String> = None;
        let mut out = Vec::new();
        let mut hit = vec![false; self.rules.len()];
        for (record_idx, record) in doc.records.iter().enumerate() {
            let tags = scope.for_record(record_idx);
            hit.iter_mut().for_each(|h| *h = false);
            match only {
                Some(idx) => hit[idx] = true,
                None => {
                    for &idx in &self.unfiltered {
                        hit[idx] = true;
                    }
                    if let Some(ac) = &self.prefilter {
                        for m in ac.find_overlapping_iter(record.norm.as_str()) {
                            for &idx in &self.literal_rules[m.pattern().as_usize()] {
                                hit[idx] = true;
                            }
                        }
                    }
                }
            }
            let mut found: Vec<RuleMatch> = Vec::new();
            for (rule_idx, rule) in self.rules.iter().enumerate() {
                if !hit[rule_idx] || !rule.tags_allow(tags) {
                    continue;
                }
                let mut context_ok: Option<bool> = None;
                for re in &rule.any {
                    for caps in re.captures_iter(&record.norm) {
                        let ok = *context_ok.get_or_insert_with(|| {
                            rule.context_holds(&record.norm, doc, &mut input_text)
                        });
                        if !ok {
                            break;
                        }
                        let whole = caps.get(0).expect("group 0");
                        let captures = re
                            .capture_names()
                            .flatten()
                            .filter_map(|name| {
                                caps.name(name)
                                    .map(|m| (name.to_string(), m.as_str().to_string(), m.range()))
                            })
                            .collect();
                        found.push(RuleMatch {
                            rule: rule_idx,
                            record: record_idx,
                            span: whole.range(),
                            captures,
                            partial: false,
                        });
                    }
                }
            }
            if found.iter().all(|m| self.rules[m.rule].fallback) {
                // Never silent: a decisive phrase no rule completed still decides its class
                // (over a fallback, which only says that the text cannot tell).
                let mut lower: Option<String> = None;
                for (rule_idx, rule) in self.rules.iter().enumerate() {
                    if !hit[rule_idx] || rule.decisive.is_empty() || !rule.tags_allow(tags) {
                        continue;
                    }
                    let lower = lower.get_or_insert_with(|| record.norm.to_ascii_lowercase());
                    let Some((at, len)) = rule.decisive.iter().find_map(|p| {
                        memchr::memmem::find(lower.as_bytes(), p.as_bytes()).map(|at| (at, p.len()))
                    }) else {
                        continue;
                    };
                    if rule.context_holds(&record.norm, doc, &mut input_text) {
                        found.push(RuleMatch {
                            rule: rule_idx,
                            record: record_idx,
                            span: at..at + len,
                            captures: Vec::new(),
                            partial: true,
                        });
                    }
                }
            }
            out.extend(self.resolve(found));
        }
        out
    }

    /// Priority, overlap, fallback and duplicate resolution inside one record.
    fn resolve(&self, mut found: Vec<RuleMatch>) -> Vec<RuleMatch> {
        found.sort_by(|a, b| {
            let (ra, rb) = (&self.rules[a.rule], &self.rules[b.rule]);
            rb.priority
                .cmp(&ra.priority)
                .then(a.rule.cmp(&b.rule))
                .then(a.span.start.cmp(&b.span.start))
        });
        let mut accepted: Vec<RuleMatch> = Vec::new();
        for m in found {
            let overlaps = accepted
                .iter()
                .any(|a| m.span.start < a.span.end && a.span.start < m.span.end);
            let duplicate = accepted.iter().any(|a| {
                a.rule == m.rule
                    && a.captures
                        .iter()
                        .map(|c| (&c.0, &c.1))
                        .eq(m.captures.iter().map(|c| (&c.0, &c.1)))
            });
            if !overlaps && !duplicate {
                accepted.push(m);
            }
        }
        if accepted.iter().any(|m| !self.rules[m.rule].fallback) {
            accepted.retain(|m| !self.rules[m.rule].fallback);
        } else if let Some(best) = accepted.first().map(|m| m.rule) {
            // Only fallbacks: the highest-priority one speaks for the record.
            accepted.retain(|m| m.rule == best);
        }
        // A look-alike note says "not an API-key problem": wrong next to a finding.
        if accepted
            .iter()
            .any(|m| self.rules[m.rule].class != RuleClass::Note)
        {
            accepted.retain(|m| self.rules[m.rule].class != RuleClass::Note);
        }
        accepted.sort_by_key(|m| m.span.start);
        accepted
    }
}

impl Rule {
    /// See [`Rule::is_canonical`].
    pub fn canonical(&self) -> bool {
        self.is_canonical
    }

    /// The rule's `all` patterns match and its `not` patterns do not, over its scope: the
    /// record, or the whole input (joined once, on first need, into `input_text`).
    fn context_holds(&self, record: &str, doc: &Document, input_text: &mut Option<String>) -> bool {
        let scope: &str = match self.scope {
            Scope::Record => record,
            Scope::Input => input_text.get_or_insert_with(|| {
                doc.records
                    .iter()
                    .map(|r| r.norm.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            }),
        };
        self.all.iter().all(|re| re.is_match(scope))
            && !self.not.iter().any(|re| re.is_match(scope))
    }

    /// Whether the rule reads beyond the record it matches: the whole input (`scope = "input"`)
    /// or the tags of the credentials around it. Its verdict on a record then depends on the
    /// records near it.
    pub fn reads_context(&self) -> bool {
        self.scope == Scope::Input || !self.tags_any.is_empty() || !self.tags_none.is_empty()
    }

    fn tags_allow(&self, tags: &[String]) -> bool {
        (self.tags_any.is_empty() || self.tags_any.iter().any(|t| tags.contains(t)))
            && !self.tags_none.iter().any(|t| tags.contains(t))
    }

    /// The label for a capture, if the rule gives one.
    pub fn label(&self, capture: &str) -> Option<&Template> {
        self.labels
            .iter()
            .find(|(name, _)| name == capture)
            .map(|(_, t)| t)
    }
}

/// The embedded clients file, compiled once (a set built without a loader still knows them).
fn embedded_clients() -> Vec<clients::ClientSpec> {
    static EMBEDDED: std::sync::LazyLock<Vec<clients::ClientSpec>> =
        std::sync::LazyLock::new(|| {
            clients::compile(embedded::EMBEDDED_CLIENTS).unwrap_or_default()
        });
    EMBEDDED.clone()
}
