//! Both ends of an API-key remote cluster (`scan PATH… --remote-logs PATH…`).
//!
//! - **In**: the findings of both scans (each marked with its side), what each scan saw of every
//!   rule (by rule, alias and key, with when and where), the time each side's logs cover, key
//!   metadata, the querying cluster's `_remote/info` and roles when given, and the symptom pairs
//!   of `rules/pairs.toml` (shared/reference section 4.4).
//! - **Out**: per symptom, what each side showed, which side is silent and whether that silence
//!   is expected, what it means and the one check that confirms it; a refused handshake decided
//!   by the fulfilling cluster's reason; a denied cross-cluster search explained as the
//!   cross-cluster key's `access` intersected with the caller's `remote_indices`.
//! - **Never**: call a side silent when its logs do not cover the time of the failure, or pair
//!   a signal with a remote alias other than the fulfilling cluster's.

use super::fact::say;
use crate::model::{RemoteMode, Side};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::correlate::{Signal, SignalKey};
pub use super::fact::IndexAccess;
use super::fact::{AccessKind, EffectiveAccess, Fact, KeyInference, Limit};
use super::privileges::{format_json, granting, pattern_matches, strings_at};
use crate::diagnosis::{Diagnosis, Finding, Options, RenderedStep};
use crate::event::key_metadata::KeyMetadata;
use crate::model::format_ms;
use crate::rule::RuleSet;

/// The sentences this pass says, with their fields (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[
    ("said.two_sided.alias_by_key", &["key_id", "alias"]),
    ("said.two_sided.alias_configured", &[]),
    ("said.two_sided.alias_seen", &[]),
    ("said.two_sided.alias_unknown", &[]),
    ("said.two_sided.querying_not_covered", &["span"]),
    ("said.two_sided.left_out", &["alias", "given"]),
    ("said.two_sided.fulfilling_not_covered", &["span", "window"]),
    (
        "said.two_sided.remote_info",
        &["alias", "mode", "addresses", "credentials"],
    ),
    ("part.two_sided.credentials", &[]),
    ("part.two_sided.no_credentials", &[]),
    ("said.two_sided.port_9300", &[]),
    ("said.two_sided.sniff", &[]),
    (
        "said.two_sided.both",
        &["nodes", "to", "key_id", "window", "explanation"],
    ),
    ("part.two_sided.to", &["alias"]),
    ("step.remote_access.title", &["pattern", "kind"]),
    ("step.remote_access.text", &[]),
    ("step.remote_indices.title", &["pattern", "alias", "role"]),
    ("step.remote_indices.text", &[]),
];

/// Clock skew allowed between the two clusters' logs.
const SKEW_MS: i64 = 120_000;

const PAIRS_TOML: &str = include_str!("../../rules/pairs.toml");

/// One symptom pair of `rules/pairs.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    pub id: String,
    pub title: String,
    pub querying: Vec<String>,
    pub fulfilling: Vec<String>,
    pub join: Join,
    pub decides: bool,
    /// The side expected to say nothing (`""` in the file: neither).
    #[serde(deserialize_with = "silent_side")]
    pub silent: Option<Side>,
    pub both: String,
    pub fulfilling_silent: String,
    pub querying_silent: String,
    pub check: String,
    /// Add what the querying cluster's `_remote/info` says about the alias.
    #[serde(default)]
    pub remote_info: bool,
    /// Work out the effective access of a denied search: `key_and_roles` (the cross-cluster
    /// key named in the message ∩ the roles' `remote_indices`) or `roles` (the roles only).
    #[serde(default)]
    pub effective_access: Option<AccessRule>,
}

/// How a pair works out the effective access of a denied cross-cluster search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessRule {
    /// The cross-cluster key named in the message ∩ the roles' `remote_indices`.
    KeyAndRoles,
    /// The roles' `remote_indices` only.
    Roles,
}

/// `silent = ""`, `"querying"` or `"fulfilling"`.
fn silent_side<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Side>, D::Error> {
    match String::deserialize(d)?.as_str() {
        "" => Ok(None),
        "querying" => Ok(Some(Side::Querying)),
        "fulfilling" => Ok(Some(Side::Fulfilling)),
        other => Err(serde::de::Error::custom(format!(
            "silent = `{other}` (expected \"\", \"querying\" or \"fulfilling\")"
        ))),
    }
}

/// How a fulfilling signal joins a querying one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Join {
    /// The same key id; a fulfilling line without an id joins by time.
    Key,
    /// Any match within the querying window.
    Time,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PairsFile {
    pair: Vec<Pair>,
}

/// The bundled symptom pairs, and those of `DIR/pairs.toml` when a rules directory has one
/// (a pair of the same id replaces the bundled one).
pub fn pairs(custom: Option<&std::path::Path>) -> Result<Vec<Pair>, String> {
    let mut out = toml::from_str::<PairsFile>(PAIRS_TOML)
        .map(|f| f.pair)
        .map_err(|e| format!("rules/pairs.toml: {e}"))?;
    if let Some(path) = custom.map(|d| d.join("pairs.toml")).filter(|p| p.is_file()) {
        let text = crate::source::read_small_text(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let more =
            toml::from_str::<PairsFile>(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for p in more.pair {
            out.retain(|o| o.id != p.id);
            out.push(p);
        }
    }
    Ok(out)
}

const PLACEHOLDERS: &[&str] = &[
    "alias",
    "key_id",
    "fulfilling_nodes",
    "fulfilling_span",
    "querying_span",
    "fulfilling_said",
];

/// What is wrong with `pairs` against `rules`: unknown rule ids, a `silent` that names no
/// side, unknown placeholders, a verdict missing for a side that can be silent.
pub fn check_pairs(pairs: &[Pair], rules: &RuleSet) -> Vec<String> {
    static PLACEHOLDER: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\{([a-z_]+)\}").expect("placeholder regex"));
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for p in pairs {
        if !ids.insert(p.id.as_str()) {
            problems.push(format!("pair `{}` is defined twice", p.id));
        }
        for id in p.querying.iter().chain(&p.fulfilling) {
            if rules.get(id).is_none() {
                problems.push(format!("pair `{}` names no rule `{id}`", p.id));
            }
        }
        if p.querying.is_empty() {
            problems.push(format!("pair `{}` has no querying rule", p.id));
        }
        if p.fulfilling_silent.trim().is_empty() {
            problems.push(format!(
                "pair `{}` says nothing for a silent fulfilling side",
                p.id
            ));
        }
        let one_sided = p.querying.iter().any(|r| p.fulfilling.contains(r));
        if one_sided && p.querying_silent.trim().is_empty() {
            problems.push(format!(
                "pair `{}` says nothing for a silent querying side, yet a rule is on both",
                p.id
            ));
        }
        if !p.fulfilling.is_empty() && p.both.trim().is_empty() {
            problems.push(format!(
                "pair `{}` says nothing when both sides speak",
                p.id
            ));
        }
        for text in [&p.both, &p.fulfilling_silent, &p.querying_silent, &p.check] {
            for c in PLACEHOLDER.captures_iter(text) {
                if !PLACEHOLDERS.contains(&&c[1]) {
                    problems.push(format!(
                        "pair `{}`: unknown placeholder {{{}}}",
                        p.id, &c[1]
                    ));
                }
            }
        }
    }
    problems
}

/// One cluster's side.
pub struct SideView<'a> {
    /// How the report names it (the paths given).
    pub label: String,
    pub signals: &'a BTreeMap<SignalKey, Signal>,
    /// The first and last time its logs carry.
    pub span: Option<(i64, i64)>,
    pub keys: &'a [KeyMetadata],
    /// `GET /_remote/info` (querying side).
    pub remote_info: Option<&'a Value>,
    /// `GET /_security/role` (querying side).
    pub roles: Option<&'a Value>,
}

/// The two-sided view a report shows.
#[derive(Debug, Clone, Default)]
pub struct TwoSided {
    pub querying: String,
    pub fulfilling: String,
    pub querying_span: Option<(i64, i64)>,
    pub fulfilling_span: Option<(i64, i64)>,
    /// The fulfilling cluster's alias on the querying cluster, and how it is known.
    pub alias: Option<String>,
    pub alias_source: Option<String>,
    pub matches: Vec<PairMatch>,
    /// What could not be paired, and why.
    pub notes: Vec<String>,
}

/// One symptom seen on one side or both.
#[derive(Debug, Clone)]
pub struct PairMatch {
    pub pair_id: String,
    pub title: String,
    pub alias: Option<String>,
    pub key_id: Option<String>,
    pub querying: Option<Seen>,
    pub fulfilling: Option<Seen>,
    /// `querying` or `fulfilling`: the side whose logs cover the time and say nothing.
    pub silent: Option<Side>,
    /// Whether that silence is what this symptom looks like (not a gap in the logs).
    pub expected_silence: bool,
    /// What the match means, in words (the pair's template, filled): the report's "meaning".
    pub meaning: String,
    pub check: String,
    pub effective: Option<Effective>,
}

/// What one side's logs showed of a symptom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub count: usize,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub rules: Vec<String>,
    /// `path:line` of the first record.
    pub at: String,
    pub nodes: Vec<String>,
}

impl Seen {
    fn add(&mut self, key: &SignalKey, s: &Signal) {
        if self.count == 0 || s.first_ms < self.first_ms {
            self.at = format!("{}:{}", s.source, s.line);
        }
        self.count += s.count;
        for ms in [s.first_ms, s.last_ms].into_iter().flatten() {
            super::correlate::widen(&mut self.first_ms, &mut self.last_ms, ms);
        }
        if !self.rules.contains(&key.rule_id) {
            self.rules.push(key.rule_id.clone());
        }
        for n in &s.nodes {
            if !self.nodes.contains(n) {
                self.nodes.push(n.clone());
            }
        }
    }

    /// `294× 2026-11-20T09:00:31Z … 2026-11-20T10:13:31Z`.
    pub fn window(&self) -> String {
        match (self.first_ms, self.last_ms) {
            (Some(a), Some(b)) if a == b => format!("{}× at {}", self.count, format_ms(a)),
            (Some(a), Some(b)) => format!("{}× {} … {}", self.count, format_ms(a), format_ms(b)),
            _ => format!("{}× (no time)", self.count),
        }
    }
}

/// A cross-cluster search's access (the cross-cluster key's `access` ∩ the caller's
/// `remote_indices` for the alias), as the denied finding states it, with its sentence.
#[derive(Debug, Clone)]
pub struct Effective {
    pub access: EffectiveAccess,
    pub text: String,
}

/// One group of querying (or fulfilling-only) signals.
#[derive(Debug, Default)]
struct Group {
    alias: Option<String>,
    key_id: Option<String>,
    seen: Seen,
}

fn overlaps(a: &Seen, s: &Signal) -> bool {
    match (a.first_ms, a.last_ms, s.first_ms, s.last_ms) {
        (Some(af), Some(al), Some(sf), Some(sl)) => sf <= al + SKEW_MS && sl >= af - SKEW_MS,
        _ => false,
    }
}

fn span_text(span: Option<(i64, i64)>) -> String {
    match span {
        Some((a, b)) => format!("{} … {}", format_ms(a), format_ms(b)),
        None => "no timestamped line".into(),
    }
}

fn covers(span: Option<(i64, i64)>, seen: &Seen) -> bool {
    match (span, seen.first_ms, seen.last_ms) {
        (Some((a, b)), Some(f), Some(l)) => a <= f && b >= l,
        _ => false,
    }
}

/// The fulfilling cluster's alias: given, or the alias of a querying failure whose key the
/// fulfilling side knows, or the only alias the querying side has.
fn resolve_alias(
    given: Option<&str>,
    q: &SideView<'_>,
    f: &SideView<'_>,
) -> (Option<String>, Option<String>) {
    if let Some(a) = given {
        return (Some(a.to_string()), Some("--remote-alias".into()));
    }
    let f_keys: BTreeSet<&str> = f
        .signals
        .keys()
        .filter_map(|k| k.key_id.as_deref())
        .chain(f.keys.iter().map(|k| k.id.as_str()))
        .collect();
    let by_key: BTreeSet<(&str, &str)> = q
        .signals
        .keys()
        .filter_map(|k| Some((k.remote.as_deref()?, k.key_id.as_deref()?)))
        .filter(|(_, key)| f_keys.contains(key))
        .collect();
    let aliases: BTreeSet<&str> = by_key.iter().map(|(a, _)| *a).collect();
    if aliases.len() == 1 {
        let (alias, key) = by_key.iter().next().copied().unwrap_or_default();
        return (
            Some(alias.to_string()),
            Some(say(
                "said.two_sided.alias_by_key",
                &[("key_id", key.to_string()), ("alias", alias.to_string())],
            )),
        );
    }
    let configured: Vec<&String> = q
        .remote_info
        .and_then(Value::as_object)
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    if configured.len() == 1 {
        return (
            Some(configured[0].clone()),
            Some(say("said.two_sided.alias_configured", &[])),
        );
    }
    let seen: BTreeSet<&str> = q
        .signals
        .keys()
        .filter_map(|k| k.remote.as_deref())
        .collect();
    if seen.len() == 1 {
        let alias = seen.iter().next().copied().unwrap_or_default();
        return (
            Some(alias.to_string()),
            Some(say("said.two_sided.alias_seen", &[])),
        );
    }
    (None, None)
}

/// Match every pair across the two sides, mark and merge the findings, and attach the view.
pub fn analyse(
    d: &mut Diagnosis,
    q: &SideView<'_>,
    f: &SideView<'_>,
    given_alias: Option<&str>,
    pairs: &[Pair],
    rules: &RuleSet,
    opts: &Options,
) {
    let (alias, alias_source) = resolve_alias(given_alias, q, f);
    let mut view = TwoSided {
        querying: q.label.clone(),
        fulfilling: f.label.clone(),
        querying_span: q.span,
        fulfilling_span: f.span,
        alias: alias.clone(),
        alias_source,
        ..TwoSided::default()
    };
    if alias.is_none() {
        view.notes.push(say("said.two_sided.alias_unknown", &[]));
    }
    let other_alias = |k: &SignalKey| match (&alias, &k.remote) {
        (Some(a), Some(r)) => a != r,
        _ => false,
    };
    let mut skipped_aliases = BTreeSet::new();
    for pair in pairs {
        // The querying side's signals, grouped.
        let mut groups: Vec<Group> = Vec::new();
        for (k, s) in q.signals {
            if !pair.querying.contains(&k.rule_id) {
                continue;
            }
            if other_alias(k) {
                skipped_aliases.insert(k.remote.clone().unwrap_or_default());
                continue;
            }
            let key_id = match pair.join {
                Join::Key => k.key_id.clone(),
                Join::Time => None,
            };
            let g_alias = k.remote.clone().or_else(|| alias.clone());
            let g = match groups
                .iter_mut()
                .find(|g| g.key_id == key_id && g.alias == g_alias)
            {
                Some(g) => g,
                None => {
                    groups.push(Group {
                        alias: g_alias,
                        key_id,
                        ..Group::default()
                    });
                    groups.last_mut().expect("just pushed")
                }
            };
            g.seen.add(k, s);
        }
        let mut used: BTreeSet<&SignalKey> = BTreeSet::new();
        for g in &groups {
            let mut seen_f = Seen::default();
            for (k, s) in f.signals {
                if !pair.fulfilling.contains(&k.rule_id) {
                    continue;
                }
                let joins = match (pair.join, &g.key_id, &k.key_id) {
                    (Join::Key, Some(a), Some(b)) => a == b,
                    (Join::Key, _, None) | (Join::Time, _, _) => overlaps(&g.seen, s),
                    (Join::Key, None, Some(_)) => false,
                };
                if joins {
                    seen_f.add(k, s);
                    used.insert(k);
                }
            }
            let m = judge(pair, g, (seen_f.count > 0).then_some(seen_f), q, f, d);
            view.matches.push(m);
        }
        // What only the fulfilling side shows, for rules that belong to both sides.
        let mut alone: Vec<Group> = Vec::new();
        for (k, s) in f.signals {
            if used.contains(k) || !pair.querying.contains(&k.rule_id) {
                continue;
            }
            if !pair.fulfilling.contains(&k.rule_id) || pair.querying_silent.trim().is_empty() {
                continue;
            }
            let key_id = (pair.join == Join::Key).then(|| k.key_id.clone()).flatten();
            let g = match alone.iter_mut().find(|g| g.key_id == key_id) {
                Some(g) => g,
                None => {
                    alone.push(Group {
                        alias: alias.clone(),
                        key_id,
                        ..Group::default()
                    });
                    alone.last_mut().expect("just pushed")
                }
            };
            g.seen.add(k, s);
        }
        for g in alone {
            let covered = covers(q.span, &g.seen);
            let vars = Vars::new(&g, q, f, "");
            view.matches.push(PairMatch {
                pair_id: pair.id.clone(),
                title: pair.title.clone(),
                alias: g.alias.clone(),
                key_id: g.key_id.clone(),
                querying: None,
                fulfilling: Some(g.seen.clone()),
                silent: covered.then_some(Side::Querying),
                expected_silence: pair.silent == Some(Side::Querying),
                meaning: if covered {
                    vars.fill(&pair.querying_silent)
                } else {
                    say(
                        "said.two_sided.querying_not_covered",
                        &[("span", span_text(q.span))],
                    )
                },
                check: vars.fill(&pair.check),
                effective: None,
            });
        }
    }
    for a in skipped_aliases {
        let mut fields = vec![("alias", a.to_string())];
        if let Some(given) = &alias {
            fields.push(("given", given.clone()));
        }
        view.notes.push(say("said.two_sided.left_out", &fields));
    }
    decide_and_mark(d, &mut view, pairs, q, f, rules, opts);
    view.matches.sort_by_key(|m| {
        m.querying
            .as_ref()
            .or(m.fulfilling.as_ref())
            .and_then(|s| s.first_ms)
    });
    d.two_sided = Some(view);
}

/// The placeholder values of a verdict.
struct Vars {
    values: Vec<(&'static str, String)>,
}

impl Vars {
    fn new(g: &Group, q: &SideView<'_>, f: &SideView<'_>, said: &str) -> Self {
        let nodes: BTreeSet<&String> = f.signals.values().flat_map(|s| s.nodes.iter()).collect();
        Self {
            values: vec![
                ("alias", g.alias.clone().unwrap_or_else(|| "<alias>".into())),
                (
                    "key_id",
                    g.key_id.clone().unwrap_or_else(|| "<key id>".into()),
                ),
                (
                    "fulfilling_nodes",
                    if nodes.is_empty() {
                        "none named".into()
                    } else {
                        nodes.into_iter().cloned().collect::<Vec<_>>().join(", ")
                    },
                ),
                ("fulfilling_span", span_text(f.span)),
                ("querying_span", span_text(q.span)),
                ("fulfilling_said", said.to_string()),
            ],
        }
    }

    fn fill(&self, text: &str) -> String {
        let mut out = text.trim().to_string();
        for (name, value) in &self.values {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

/// The verdict for one querying group and what the fulfilling side showed of it.
fn judge(
    pair: &Pair,
    g: &Group,
    seen_f: Option<Seen>,
    q: &SideView<'_>,
    f: &SideView<'_>,
    d: &Diagnosis,
) -> PairMatch {
    let said = seen_f
        .as_ref()
        .map(|s| said(d, pair, s, g.key_id.as_deref()))
        .unwrap_or_default();
    let vars = Vars::new(g, q, f, &said);
    let (silent, verdict) = match &seen_f {
        Some(_) => (None, vars.fill(&pair.both)),
        None if covers(f.span, &g.seen) => {
            (Some(Side::Fulfilling), vars.fill(&pair.fulfilling_silent))
        }
        None => (
            None,
            say(
                "said.two_sided.fulfilling_not_covered",
                &[("span", span_text(f.span)), ("window", g.seen.window())],
            ),
        ),
    };
    let mut verdict = verdict;
    // What the other cluster's key metadata adds.
    if let Some(id) = &g.key_id {
        if let Some(k) = f.keys.iter().find(|k| &k.id == id) {
            verdict.push_str(&format!(
                " The fulfilling cluster's key metadata shows {id}{}{}.",
                k.key_type
                    .map(|t| format!(" of type {t}"))
                    .unwrap_or_default(),
                k.expiration_ms
                    .map(|e| format!(", expiring {}", format_ms(e)))
                    .unwrap_or_default()
            ));
        } else if pair.join == Join::Key && !f.keys.is_empty() {
            verdict.push_str(&format!(
                " The fulfilling cluster's key metadata given ({} keys) has no key {id}.",
                f.keys.len()
            ));
        }
    }
    if pair.remote_info {
        if let Some(note) = remote_info_note(q.remote_info, g.alias.as_deref()) {
            verdict.push(' ');
            verdict.push_str(&note);
        }
    }
    PairMatch {
        pair_id: pair.id.clone(),
        title: pair.title.clone(),
        alias: g.alias.clone(),
        key_id: g.key_id.clone(),
        querying: Some(g.seen.clone()),
        fulfilling: seen_f,
        silent,
        expected_silence: silent.is_some() && silent == pair.silent,
        meaning: verdict,
        check: vars.fill(&pair.check),
        effective: None,
    }
}

/// What the fulfilling side said, in the words of its findings (else its rules' ids), leaving
/// out the rules that only echo the querying symptom when it said more.
fn said(d: &Diagnosis, pair: &Pair, seen: &Seen, key: Option<&str>) -> String {
    let own: Vec<&String> = seen
        .rules
        .iter()
        .filter(|r| !pair.querying.contains(r))
        .collect();
    let rules: Vec<&String> = if own.is_empty() {
        seen.rules.iter().collect()
    } else {
        own
    };
    let mut out: Vec<String> = Vec::new();
    for rule in &rules {
        let finding = d.findings.iter().find(|x| {
            x.observed.side == Some(Side::Fulfilling)
                && &&x.rule_id == rule
                && (key.is_none() || x.key_id.is_none() || x.key_id.as_deref() == key)
        });
        if let Some(x) = finding {
            if !out.contains(&x.summary) {
                out.push(x.summary.clone());
            }
        }
    }
    if out.is_empty() {
        out = rules.into_iter().cloned().collect();
    }
    out.join("; ")
}

/// What `_remote/info` says about the alias's connection, when it tells something.
fn remote_info_note(info: Option<&Value>, alias: Option<&str>) -> Option<String> {
    let entry = info?.get(alias?)?;
    let mode = entry
        .get("mode")
        .and_then(Value::as_str)
        .and_then(RemoteMode::parse)
        .unwrap_or_default();
    let addresses: Vec<String> = match mode {
        RemoteMode::Proxy => entry
            .get("proxy_address")
            .and_then(Value::as_str)
            .map(|a| vec![a.to_string()])
            .unwrap_or_default(),
        RemoteMode::Sniff => entry
            .get("seeds")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    };
    let credentials = entry.get("cluster_credentials").is_some();
    let port_9300 = addresses.iter().any(|a| a.ends_with(":9300"));
    let mut fields = vec![
        ("alias", alias?.to_string()),
        ("mode", mode.as_str().to_string()),
        (
            "credentials",
            say(
                if credentials {
                    "part.two_sided.credentials"
                } else {
                    "part.two_sided.no_credentials"
                },
                &[],
            ),
        ),
    ];
    if !addresses.is_empty() {
        fields.push(("addresses", addresses.join(", ")));
    }
    let mut parts = vec![say("said.two_sided.remote_info", &fields)];
    if credentials && port_9300 {
        parts.push(say("said.two_sided.port_9300", &[]));
    }
    if mode == RemoteMode::Sniff && credentials {
        parts.push(say("said.two_sided.sniff", &[]));
    }
    Some(format!("{}.", parts.join("; ")))
}

/// Mark each finding with what the other side says; a refused handshake the fulfilling side
/// explains takes the fulfilling finding's class, texts and evidence; denied cross-cluster
/// searches get their effective access.
fn decide_and_mark(
    d: &mut Diagnosis,
    view: &mut TwoSided,
    pairs: &[Pair],
    q: &SideView<'_>,
    f: &SideView<'_>,
    rules: &RuleSet,
    opts: &Options,
) {
    for m in &mut view.matches {
        let Some(pair) = pairs.iter().find(|p| p.id == m.pair_id) else {
            continue;
        };
        let side_text = m.meaning.clone();
        // The findings this match is about, on each side.
        let about = |x: &Finding, side: Side, seen: Option<&Seen>| {
            x.observed.side == Some(side)
                && seen.is_some_and(|s| s.rules.contains(&x.rule_id))
                && match (&m.key_id, &x.key_id) {
                    (Some(a), Some(b)) => a == b,
                    (Some(_), None) => pair.join == Join::Key,
                    (None, _) => true,
                }
        };
        for x in d.findings.iter_mut() {
            if about(x, Side::Querying, m.querying.as_ref())
                || about(x, Side::Fulfilling, m.fulfilling.as_ref())
            {
                x.state(Fact::OtherSide {
                    pair: pair.id.clone(),
                    verdict: side_text.clone(),
                });
                if x.observed.remote.is_none() && m.alias.is_some() {
                    // The alias the rule's title and steps name.
                    x.observed.remote.clone_from(&m.alias);
                    super::classify::retext(x, rules, opts);
                }
            }
        }
        if pair.decides {
            if let (Some(key), Some(seen_f)) = (&m.key_id, &m.fulfilling) {
                merge_decided(d, m, pair, key, seen_f, rules, opts);
            }
        }
        if let Some(how) = pair.effective_access {
            m.effective = effective_for(d, m, how == AccessRule::KeyAndRoles, q, f);
        }
    }
}

/// The refused handshake for `key`, explained by the fulfilling cluster: its finding (expired,
/// invalidated, …) becomes the one finding, with the querying side's evidence first.
fn merge_decided(
    d: &mut Diagnosis,
    m: &PairMatch,
    pair: &Pair,
    key: &str,
    seen_f: &Seen,
    rules: &RuleSet,
    opts: &Options,
) {
    let decisive = |x: &Finding| {
        x.observed.side == Some(Side::Fulfilling)
            && seen_f.rules.contains(&x.rule_id)
            && !pair.querying.contains(&x.rule_id)
            && (x.key_id.as_deref() == Some(key)
                || x.key_id.is_none()
                || x.key_inference().is_some())
    };
    let Some(pos) = d.findings.iter().position(decisive) else {
        return;
    };
    let mut primary = d.findings.remove(pos);
    let mut absorbed: Vec<Finding> = Vec::new();
    let mut i = 0;
    while i < d.findings.len() {
        let x = &d.findings[i];
        // The querying symptom, on either side (the remote's audit echoes it).
        if pair.querying.contains(&x.rule_id) && x.key_id.as_deref() == Some(key) {
            absorbed.push(d.findings.remove(i));
        } else {
            i += 1;
        }
    }
    let querying: Vec<&Finding> = absorbed
        .iter()
        .filter(|x| x.observed.side == Some(Side::Querying))
        .collect();
    let stated = primary.key_id.as_deref() == Some(key) && primary.key_inference().is_none();
    primary.key_id = Some(key.to_string());
    if !stated {
        primary.state(Fact::KeyInference(KeyInference::QueryingHandshake {
            window: m.querying.as_ref().map(Seen::window).unwrap_or_default(),
        }));
        primary.key_id_source = Some(crate::model::KeyIdSource::QueryingHandshake);
    }
    primary.key.cross_cluster_key = true;
    primary.observed.side = None;
    if primary.observed.remote.is_none() {
        primary.observed.remote.clone_from(&m.alias);
    }
    let mut evidence: Vec<_> = querying
        .iter()
        .flat_map(|x| x.evidence.iter().take(1).cloned())
        .collect();
    evidence.append(&mut primary.evidence);
    for x in absorbed
        .iter()
        .filter(|x| x.observed.side == Some(Side::Fulfilling))
    {
        evidence.extend(x.evidence.iter().take(1).cloned());
    }
    primary.evidence = evidence;
    for x in &absorbed {
        for n in &x.observed.nodes {
            if !primary.observed.nodes.contains(n) {
                primary.observed.nodes.push(n.clone());
            }
        }
        for t in &x.timeline {
            let mut t = t.clone();
            if t.event.is_failure() {
                t.text = format!("{} (querying cluster: handshake refused)", t.text);
            }
            if !primary
                .timeline
                .iter()
                .any(|p| p.event == t.event && p.text == t.text)
            {
                primary.timeline.push(t);
            }
        }
    }
    for t in &mut primary.timeline {
        if t.event.is_failure() && !t.text.contains("cluster:") {
            t.text = format!(
                "{} (fulfilling cluster: {})",
                t.text,
                primary.class.as_str()
            );
        }
    }
    primary.timeline.sort_by_key(|t| t.ms);
    super::classify::retext(&mut primary, rules, opts);
    let q_nodes = querying
        .iter()
        .flat_map(|x| x.observed.nodes.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(", ");
    let mut fields = vec![
        (
            "to",
            m.alias
                .as_deref()
                .map(|a| say("part.two_sided.to", &[("alias", a.to_string())]))
                .unwrap_or_default(),
        ),
        ("key_id", key.to_string()),
        (
            "window",
            m.querying.as_ref().map(Seen::window).unwrap_or_default(),
        ),
        ("explanation", std::mem::take(&mut primary.explanation)),
    ];
    if !q_nodes.is_empty() {
        fields.push(("nodes", q_nodes));
    }
    primary.explanation = say("said.two_sided.both", &fields);
    d.findings.push(primary);
}

/// The effective access of a denied cross-cluster search.
fn effective_for(
    d: &mut Diagnosis,
    m: &PairMatch,
    with_key: bool,
    q: &SideView<'_>,
    f: &SideView<'_>,
) -> Option<Effective> {
    let x = d.findings.iter_mut().find(|x| {
        x.observed.side == Some(Side::Querying)
            && m.querying
                .as_ref()
                .is_some_and(|s| s.rules.contains(&x.rule_id))
            && (m.key_id.is_none() || x.key_id == m.key_id)
    })?;
    let alias = x.observed.remote.clone().or_else(|| m.alias.clone())?;
    let (user, roles) = (x.denial.principal.clone(), x.denial.roles.clone());
    let cross_key = x.key_id.clone().filter(|_| with_key);
    let action = x
        .denial
        .actions
        .first()
        .cloned()
        .unwrap_or_else(|| "indices:data/read/search".into());
    let granted_by = granting(&action, None);
    let needed: Vec<&str> = match granted_by.as_slice() {
        [] => vec!["read", "all"],
        list => list.iter().map(String::as_str).collect(),
    };
    // The key's access (search for reads, replication otherwise).
    let access_kind =
        if action.starts_with("indices:data/read") || action.starts_with("indices:admin/") {
            AccessKind::Search
        } else {
            AccessKind::Replication
        };
    let key_meta = cross_key
        .as_ref()
        .and_then(|id| f.keys.iter().chain(q.keys.iter()).find(|k| &k.id == id));
    let key_access: Option<Vec<String>> = key_meta.and_then(|k| k.access.as_ref()).map(|a| {
        a.get(access_kind.as_str())
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .flat_map(|e| {
                        e.get("names")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                    })
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    });
    // The caller's remote_indices for the alias, from the roles it was denied with.
    let role_defs: Vec<(&String, &Value)> = q
        .roles
        .and_then(Value::as_object)
        .map(|all| {
            all.iter()
                .filter(|(name, _)| roles.contains(name))
                .collect()
        })
        .unwrap_or_default();
    let user_access: Option<Vec<String>> = (q.roles.is_some()).then(|| {
        role_defs
            .iter()
            .flat_map(|(_, r)| remote_entries(r, &alias))
            .filter(|e| {
                strings_at(e, "privileges")
                    .iter()
                    .any(|p| needed.contains(&p.as_str()))
            })
            .flat_map(|e| strings_at(&e, "names"))
            .collect()
    });
    let indices: Vec<IndexAccess> = x
        .denial
        .indices
        .iter()
        .map(|index| IndexAccess {
            index: index.clone(),
            by_key: if !with_key {
                None
            } else {
                key_access
                    .as_ref()
                    .map(|a| a.iter().any(|p| pattern_matches(p, index)))
            },
            by_user: user_access
                .as_ref()
                .map(|a| a.iter().any(|p| pattern_matches(p, index))),
        })
        .collect();
    let effective = match (&key_access, &user_access) {
        (Some(k), Some(u)) => intersect(k, u),
        _ => Vec::new(),
    };
    let mut fixes: Vec<RenderedStep> = Vec::new();
    for ia in &indices {
        if ia.by_key == Some(false) {
            if let (Some(k), Some(meta)) = (&cross_key, key_meta) {
                let pattern = user_access
                    .as_ref()
                    .and_then(|u| u.iter().find(|p| pattern_matches(p, &ia.index)).cloned())
                    .unwrap_or_else(|| ia.index.clone());
                fixes.push(widen_key(k, meta, access_kind.as_str(), &pattern));
            }
        }
        if ia.by_user == Some(false) {
            let pattern = key_access
                .as_ref()
                .and_then(|a| a.iter().find(|p| pattern_matches(p, &ia.index)).cloned())
                .unwrap_or_else(|| ia.index.clone());
            fixes.push(widen_role(&role_defs, &alias, &pattern, &needed));
        }
    }
    fixes.dedup_by(|a, b| a.request == b.request);
    if !fixes.is_empty() {
        // The rule's generic steps for a side that grants the index, or that the exact
        // requests above replace, would mislead (an `access` naming only the denied index
        // would drop what the key grants).
        let key_fine = indices.iter().all(|i| i.by_key == Some(true));
        let user_fine = indices.iter().all(|i| i.by_user == Some(true));
        let superseded = |r: &str| {
            (r.starts_with("PUT /_security/cross_cluster/api_key/")
                && (key_fine
                    || fixes.iter().any(|f| {
                        f.request
                            .as_deref()
                            .is_some_and(|q| q.lines().next() == r.lines().next())
                    })))
                || (r.starts_with("PUT /_security/role/")
                    && (user_fine
                        || fixes.iter().any(|f| {
                            f.request
                                .as_deref()
                                .is_some_and(|q| q.starts_with("PUT /_security/role/"))
                        })))
        };
        x.remediation
            .retain(|s| !s.request.as_deref().is_some_and(superseded));
        x.denial.descriptor_fix = fixes.first().cloned();
        for (i, step) in fixes.iter().enumerate() {
            x.remediation.insert(i, step.clone());
        }
    }
    let access = EffectiveAccess {
        who: user,
        alias,
        key_id: cross_key,
        access_kind,
        key_access,
        roles,
        user_access,
        effective,
        indices,
    };
    let fact = Fact::Limit(Limit::EffectiveAccess(access.clone())).stated();
    let text = fact.text.clone();
    x.facts.push(fact);
    Some(Effective { access, text })
}

/// A role's `remote_indices` entries whose `clusters` cover `alias`.
fn remote_entries(role: &Value, alias: &str) -> Vec<Value> {
    role.get("remote_indices")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter(|e| {
                    e.get("clusters")
                        .and_then(Value::as_array)
                        .is_some_and(|c| {
                            c.iter()
                                .filter_map(Value::as_str)
                                .any(|p| pattern_matches(p, alias))
                        })
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The patterns two lists both grant: where one pattern covers the other, the narrower.
pub fn intersect(a: &[String], b: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in a {
        for y in b {
            let narrower = if pattern_matches(y, x) {
                Some(x)
            } else if pattern_matches(x, y) {
                Some(y)
            } else {
                None
            };
            if let Some(n) = narrower {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
        }
    }
    out
}

/// `PUT /_security/cross_cluster/api_key/<id>` with the key's whole access plus `pattern`
/// (the update replaces `access`).
fn widen_key(id: &str, meta: &KeyMetadata, kind: &str, pattern: &str) -> RenderedStep {
    let mut access = meta.access.clone().unwrap_or_else(|| json!({}));
    if !access.is_object() {
        access = json!({});
    }
    let list = access
        .as_object_mut()
        .expect("an object")
        .entry(kind)
        .or_insert_with(|| json!([]));
    if let Some(list) = list.as_array_mut() {
        list.push(json!({"names": [pattern]}));
    }
    RenderedStep {
        when: Vec::new(),
        path: None,
        on: crate::model::RunsOn::Fulfilling,
        later: false,
        run_as: crate::model::RunAs::User,
        title: say(
            "step.remote_access.title",
            &[("pattern", pattern.to_string()), ("kind", kind.to_string())],
        ),
        text: Some(say("step.remote_access.text", &[])),
        request: Some(format!(
            "PUT /_security/cross_cluster/api_key/{id}\n{}",
            format_json(&json!({ "access": access }))
        )),
        version_note: None,
        diff: None,
    }
}

/// `PUT /_security/role/<role>` with the role's whole definition plus a `remote_indices` entry.
fn widen_role(
    roles: &[(&String, &Value)],
    alias: &str,
    pattern: &str,
    needed: &[&str],
) -> RenderedStep {
    let entry = json!({
        "clusters": [alias],
        "names": [pattern],
        "privileges": if needed.contains(&"read") { json!(["read", "read_cross_cluster", "view_index_metadata"]) } else { json!([needed.first().copied().unwrap_or("read")]) },
    });
    let (name, body) = match roles.first() {
        Some((name, role)) => {
            let mut role = super::classify::writable_descriptor(role);
            if let Some(obj) = role.as_object_mut() {
                obj.remove("transient_metadata");
                let list = obj.entry("remote_indices").or_insert_with(|| json!([]));
                if let Some(list) = list.as_array_mut() {
                    list.push(entry);
                }
            }
            ((*name).clone(), role)
        }
        None => ("<role>".to_string(), {
            let mut m = Map::new();
            m.insert("remote_indices".into(), json!([entry]));
            Value::Object(m)
        }),
    };
    RenderedStep {
        when: Vec::new(),
        path: None,
        on: crate::model::RunsOn::Querying,
        later: false,
        run_as: crate::model::RunAs::User,
        title: say(
            "step.remote_indices.title",
            &[
                ("pattern", pattern.to_string()),
                ("alias", alias.to_string()),
                ("role", name.clone()),
            ],
        ),
        text: Some(say("step.remote_indices.text", &[])),
        request: Some(format!(
            "PUT /_security/role/{name}\n{}",
            format_json(&body)
        )),
        version_note: None,
        diff: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_pairs_name_real_rules() {
        let (rules, _) = crate::rule::load(None).expect("rules");
        let pairs = pairs(None).expect("pairs.toml parses");
        assert!(pairs.len() >= 8);
        assert_eq!(check_pairs(&pairs, &rules), Vec::<String>::new());
    }

    #[test]
    fn an_unknown_way_to_work_out_access_is_refused_with_the_known_ones() {
        let bundled = toml::from_str::<PairsFile>(PAIRS_TOML).expect("bundled");
        assert!(bundled
            .pair
            .iter()
            .any(|p| p.effective_access == Some(AccessRule::KeyAndRoles)));
        let broken = PAIRS_TOML.replacen(
            "effective_access = \"key_and_roles\"",
            "effective_access = \"both\"",
            1,
        );
        assert_ne!(broken, PAIRS_TOML);
        let err = toml::from_str::<PairsFile>(&broken)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("key_and_roles") && err.contains("roles"),
            "{err}"
        );
    }

    #[test]
    fn a_broken_pair_is_reported() {
        let (rules, _) = crate::rule::load(None).expect("rules");
        let mut p = pairs(None).expect("pairs")[0].clone();
        p.querying.push("no-such-rule".into());
        p.both = "{nope}".into();
        let problems = check_pairs(&[p], &rules);
        assert_eq!(problems.len(), 2, "{problems:?}");
        // A side that is neither is refused when the file is read.
        let text = PAIRS_TOML.replacen("silent = \"\"", "silent = \"both\"", 1);
        let Err(e) = toml::from_str::<PairsFile>(&text) else {
            panic!("silent = \"both\" was accepted");
        };
        assert!(e.to_string().contains("silent = `both`"), "{e}");
    }

    #[test]
    fn intersection_keeps_the_narrower_pattern() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            intersect(&s(&["logs-*"]), &s(&["logs-eu-*", "audit-eu-*"])),
            s(&["logs-eu-*"])
        );
        assert_eq!(intersect(&s(&["a-*"]), &s(&["b-*"])), Vec::<String>::new());
        assert_eq!(intersect(&s(&["*"]), &s(&["x"])), s(&["x"]));
    }
}
