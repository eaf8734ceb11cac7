//! From rule matches to findings: one finding per distinct failure, exactly one class each.
//!
//! The steps, in order:
//! 1. every document is matched as a set ([`RuleSet::match_document`]);
//! 2. note rules become [`Note`]s, merged by rule;
//! 3. finding matches are grouped by (rule, key id, action, index, remote, key types): a failure
//!    seen in ten log lines, or twice in one body (`root_cause` and top level), is one finding
//!    counted by record;
//! 4. a generic 401 (`authentication_unresolved`) is folded into a decisive authentication
//!    finding of the same input and key: a client's "unable to authenticate" next to the server's
//!    "api key \[X\] has been invalidated" is one failure, and the server log says why; a
//!    generic denial that is not a 401 folds the same way into an authorization finding (a
//!    client's `AuthorizationException` under the body that names the denied action);
//! 5. pasted key metadata and audit events are joined by key id: metadata can decide an
//!    unresolved 401 (the key is invalidated or expired), confirm or contradict a finding, and
//!    say whether a denial comes from the key's own descriptors or from its owner (`limited_by`);
//!    an `invalidate_apikeys` audit event names who invalidated a key and when.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use crate::model::format_ms;
use crate::model::AuditAction;
use crate::model::KeyIdSource;
use serde_json::{Map, Value};

use super::fact::{Fact, Limit};
use super::privileges::{self, PrivilegeKind};
use crate::diagnosis::{
    Denial, Diagnosis, Evidence, Finding, InvalidatedBy, KeyFacts, Note, Observed,
    RenderedCandidate, RenderedStep, Span,
};
use crate::event::credential::{CredentialFormat, Scheme};
use crate::event::key_metadata::{KeyMetadata, KeyState};
use crate::event::Document;
use crate::model::StepCondition;
use crate::model::{CandidateKind, Class, KnownVersion, RuleClass, Version};
use crate::rule::{Rule, RuleMatch, RuleSet};
use crate::source::Skipped;

/// The sentences this pass says, with their fields (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[
    ("said.metadata.idle", &["key_id", "name", "state", "since"]),
    ("part.since", &["at"]),
    ("decided.metadata", &["key_id", "state", "when"]),
    ("part.decided.expiration", &["at"]),
    ("part.decided.invalidated", &["at"]),
    ("decided.prefix", &["because", "explanation"]),
];

/// At most this many evidence excerpts per finding.
const MAX_EVIDENCE: usize = 3;
/// Excerpts longer than this are windowed around the match.
const MAX_EXCERPT: usize = 360;

/// Knobs of a diagnosis.
#[derive(Debug, Clone)]
pub struct Options {
    /// The cluster's version, when the user gave it (`--es-version`).
    pub version: Option<Version>,
    /// "Now", for expiry checks (epoch milliseconds).
    pub now_ms: i64,
    /// What makes two matches one finding.
    pub grouping: Grouping,
    /// Only records at or after this instant (epoch ms); records without a time are kept.
    pub since_ms: Option<i64>,
    /// Only records at or before this instant (epoch ms).
    pub until_ms: Option<i64>,
    /// The credential the user gave outside the text (`--with-key-env`), judged as a pasted
    /// `Authorization: ApiKey` value is: its tags are in force for every record, so a raw
    /// `id:secret`, a double-encoded or newline-ended value decides a 401 as it would pasted;
    /// the key id it names is the key of every failure whose text names none.
    pub given_credential: Option<crate::secret::Credential>,
    /// At most this many findings are built in full (`--max-findings`); the rest are counted
    /// by class in [`super::Omitted`], so that memory and time stay bounded in the number of
    /// distinct keys. `None`: no cap.
    pub max_findings: Option<usize>,
    /// `--key` / `--class`, applied before the cap so that a finding asked for is never the
    /// one left out (the filter runs again on what was built).
    pub focus_keys: Vec<String>,
    pub focus_classes: Vec<Class>,
    /// The groups a scan followed in full, when it stopped taking new ones on
    /// ([`super::Omitted::tracking_cap`]): the others are counted as untracked, and a record
    /// kept for a followed group that also matches one of them does not make it a finding.
    /// `None`: every group.
    pub followed: Option<std::sync::Arc<crate::model::FastSet<GroupKey>>>,
    /// Failures a scan counted per group beyond the records it kept as evidence: with them,
    /// the groups beyond `max_findings` are ranked by how often they failed and their failures
    /// are counted whole (the kept records alone are a few per group).
    pub tallied: Option<std::sync::Arc<std::collections::HashMap<GroupKey, usize>>>,
}

impl Options {
    /// The tags of [`Options::given_credential`], in force for every record.
    pub fn given_tags(&self) -> Vec<String> {
        self.given_credential
            .as_ref()
            .map(crate::secret::Credential::tags)
            .unwrap_or_default()
    }

    /// Options for a diagnosis at `now_ms`, everything else default.
    pub fn new(version: Option<Version>, now_ms: i64) -> Self {
        Self {
            version,
            now_ms,
            grouping: Grouping::PerFailure,
            since_ms: None,
            until_ms: None,
            given_credential: None,
            max_findings: None,
            focus_keys: Vec::new(),
            focus_classes: Vec::new(),
            followed: None,
            tallied: None,
        }
    }

    /// Whether a record with this timestamp is inside `--since` / `--until`.
    pub fn in_window(&self, timestamp: Option<&str>) -> bool {
        if self.since_ms.is_none() && self.until_ms.is_none() {
            return true;
        }
        let Some(ms) = timestamp.and_then(super::timeline::parse_ts) else {
            return true;
        };
        self.since_ms.is_none_or(|s| ms >= s) && self.until_ms.is_none_or(|u| ms <= u)
    }
}

/// What makes two matches one finding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Grouping {
    /// One finding per distinct failure: rule, key, action, index, remote (`explain`).
    #[default]
    PerFailure,
    /// One finding per (class, key id) when the key is known, else per failure (`scan`).
    PerKey,
}

/// The version remediation can rely on: given (`--es-version`), named in the input
/// (`"number"`), or else a lower bound implied by the message shapes.
fn known_version(
    opts: &Options,
    docs: &[Document],
    implied: Option<Version>,
) -> Option<KnownVersion> {
    let exact = opts.version.or_else(|| {
        docs.iter()
            .find_map(|d| d.version.as_deref().and_then(Version::parse))
    });
    match (exact, implied) {
        (Some(v), _) => Some(KnownVersion::Exact(v)),
        (None, Some(v)) => Some(KnownVersion::AtLeast(v)),
        (None, None) => None,
    }
}

struct Occurrence {
    doc: usize,
    m: RuleMatch,
}

/// How far apart (in lines) an unresolved denial and a finding that reads its cause are read as
/// one failure printed twice (a client's exception type a few lines from the body that says why).
const SAME_FAILURE_LINES: usize = 12;

/// Diagnose `docs` with `rules`.
pub fn diagnose(
    docs: &[Document],
    rules: &RuleSet,
    mut skipped: Vec<Skipped>,
    opts: &Options,
) -> Diagnosis {
    let mut groups: BTreeMap<GroupKey, Vec<Occurrence>> = BTreeMap::new();
    let mut notes: BTreeMap<String, Note> = BTreeMap::new();
    // Notes count records, like findings: (rule id, document, record) seen.
    let mut noted: std::collections::BTreeSet<(String, usize, usize)> = Default::default();
    for (doc_idx, doc) in docs.iter().enumerate() {
        skipped.extend(doc.skipped.iter().cloned());
        let matches = rules.match_given(doc, &opts.given_tags());
        // A fallback note ("a 401 without a body") says the text cannot tell: not true of an
        // input that has a finding elsewhere (curl prints the status line apart from the body).
        let has_finding = matches
            .iter()
            .any(|m| rules.rules[m.rule].class != RuleClass::Note);
        // Group keys per record: a record counts once per group, and a keyless twin of a keyed
        // match of the same class is dropped.
        let mut record_groups: BTreeMap<usize, Vec<GroupKey>> = BTreeMap::new();
        for m in &matches {
            if let RuleClass::Finding(class) = rules.rules[m.rule].class {
                let list = record_groups.entry(m.record).or_default();
                let g = GroupKey::new(class, &rules.rules[m.rule], m, doc, opts);
                if !list.contains(&g) {
                    list.push(g);
                }
            }
        }
        for list in record_groups.values_mut() {
            drop_keyless_twins(list, |g| g);
        }
        let mut counted: std::collections::BTreeSet<(usize, GroupKey)> = Default::default();
        for m in matches {
            let rule = &rules.rules[m.rule];
            if !opts.in_window(doc.records[m.record].fields().timestamp.as_deref()) {
                continue;
            }
            if let RuleClass::Finding(class) = rule.class {
                let g = GroupKey::new(class, rule, &m, doc, opts);
                let kept = record_groups
                    .get(&m.record)
                    .is_some_and(|list| list.contains(&g));
                if !kept || !counted.insert((m.record, g)) {
                    continue;
                }
            }
            match rule.class {
                RuleClass::Note if rule.fallback && has_finding => {}
                RuleClass::Note => {
                    if !noted.insert((rule.id.clone(), doc_idx, m.record)) {
                        continue;
                    }
                    let record = &doc.records[m.record];
                    let vars = |name: &str| m.capture(name).map(str::to_string);
                    notes
                        .entry(rule.id.clone())
                        .and_modify(|n| n.count += 1)
                        .or_insert_with(|| Note {
                            rule_id: Some(rule.id.clone()),
                            message: rule.title.render(&vars),
                            source: Some(doc.name.clone()),
                            line: Some(record.line),
                            count: 1,
                        });
                }
                RuleClass::Finding(class) => {
                    let key = GroupKey::new(class, rule, &m, doc, opts);
                    groups
                        .entry(key)
                        .or_default()
                        .push(Occurrence { doc: doc_idx, m });
                }
            }
        }
    }
    if let Some(followed) = &opts.followed {
        groups.retain(|key, _| {
            followed.contains(key) || (!opts.focus_keys.is_empty() && key.in_focus(opts))
        });
    }
    let (groups, focused_out, omitted) = cap_groups(groups, opts);
    let metadata: BTreeMap<&str, &KeyMetadata> = docs
        .iter()
        .flat_map(|d| d.keys.iter())
        .map(|k| (k.id.as_str(), k))
        .collect();

    // What each input's head and name say of the client, read once per input, not once per
    // finding: a log with many distinct keys has as many findings.
    let clients = ClientsSeen::new(docs.len());
    let mut built: Vec<(Finding, Vec<usize>)> = groups
        .into_iter()
        .map(|(key, occurrences)| {
            let docs_seen: Vec<usize> = occurrences.iter().map(|o| o.doc).collect();
            let mut finding = build_finding(&occurrences, docs, rules, opts, &metadata, &clients);
            finding.groups.push(key);
            (finding, docs_seen)
        })
        .collect();
    fold_unresolved(&mut built);
    let mut findings: Vec<Finding> = built.into_iter().map(|(f, _)| f).collect();
    for finding in &mut findings {
        correlate_metadata(finding, &metadata, rules, docs, opts);
        correlate_audit(finding, docs);
    }
    // Metadata alone can show a key that cannot work, even when no error was pasted. A scan
    // (whose metadata may list hundreds of retired keys) says it once, with a count.
    let idle: Vec<&KeyMetadata> = metadata
        .values()
        .copied()
        .filter(|key| key.derived_from.is_none())
        .filter(|key| key.state(opts.now_ms) != KeyState::Active)
        .filter(|key| {
            !findings
                .iter()
                .any(|f| f.key_id.as_deref() == Some(&key.id))
        })
        .collect();
    if opts.grouping == Grouping::PerKey && !idle.is_empty() {
        notes.insert(
            "metadata-idle".into(),
            Note {
                rule_id: None,
                message: format!(
                    "{} in the key metadata {} expired or invalidated, and no failure in the logs names {}: {}",
                    if idle.len() == 1 { "1 key".to_string() } else { format!("{} keys", idle.len()) },
                    if idle.len() == 1 { "is" } else { "are" },
                    if idle.len() == 1 { "it" } else { "them" },
                    idle.iter().take(10).map(|k| k.id.as_str()).collect::<Vec<_>>().join(", ")
                        + if idle.len() > 10 { ", …" } else { "" }
                ),
                source: None,
                line: None,
                count: 1,
            },
        );
    }
    for key in idle
        .iter()
        .filter(|_| opts.grouping == Grouping::PerFailure)
    {
        let state = key.state(opts.now_ms);
        {
            notes.insert(
                format!("metadata-{}", key.id),
                Note {
                    rule_id: None,
                    message: {
                        let since = match state {
                            KeyState::Expired => key.expiration_ms,
                            _ => key.invalidation_ms,
                        }
                        .map(|ms| super::fact::say("part.since", &[("at", format_ms(ms))]))
                        .unwrap_or_default();
                        let mut fields = vec![
                            ("key_id", key.id.clone()),
                            ("state", state.as_str().to_string()),
                            ("since", since),
                        ];
                        if let Some(name) = &key.name {
                            fields.push(("name", name.clone()));
                        }
                        super::fact::say("said.metadata.idle", &fields)
                    },
                    source: None,
                    line: Some(key.line),
                    count: 1,
                },
            );
        }
    }
    for note in &rules.notes {
        notes.insert(
            note.clone(),
            Note {
                rule_id: None,
                message: note.clone(),
                source: None,
                line: None,
                count: 1,
            },
        );
    }
    sort_findings(&mut findings);
    let mut notes: Vec<Note> = notes.into_values().collect();
    notes.sort_by(|a, b| (&a.source, a.line, &a.message).cmp(&(&b.source, b.line, &b.message)));
    Diagnosis {
        findings,
        notes,
        skipped,
        inputs: docs.len(),
        files: Vec::new(),
        filtered_out: focused_out,
        suppressed: Vec::new(),
        two_sided: None,
        cluster_mismatch: None,
        omitted,
    }
}

/// The groups to build in full: those `--key` / `--class` ask for, and of them at most
/// `max_findings`, the most frequent first (then in key order, so the choice is stable). Returns
/// them, how many groups the focus left out, and what the cap left out, counted by class.
fn cap_groups(
    groups: BTreeMap<GroupKey, Vec<Occurrence>>,
    opts: &Options,
) -> (
    BTreeMap<GroupKey, Vec<Occurrence>>,
    usize,
    Option<super::Omitted>,
) {
    let total = groups.len();
    let focused: BTreeMap<GroupKey, Vec<Occurrence>> = groups
        .into_iter()
        .filter(|(key, _)| key.in_focus(opts))
        .collect();
    let focused_out = total - focused.len();
    let Some(cap) = opts.max_findings.filter(|cap| focused.len() > *cap) else {
        return (focused, focused_out, None);
    };
    // A group's failures: its records, and what a scan tallied beyond those it kept.
    let failures = |key: &GroupKey, occurrences: &[Occurrence]| {
        occurrences.len()
            + opts
                .tallied
                .as_ref()
                .and_then(|t| t.get(key))
                .copied()
                .unwrap_or(0)
    };
    let mut ranked: Vec<(GroupKey, Vec<Occurrence>)> = focused.into_iter().collect();
    // Stable: equal counts keep the groups' key order.
    ranked.sort_by_key(|(key, occurrences)| std::cmp::Reverse(failures(key, occurrences)));
    let rest = ranked.split_off(cap);
    let mut by_class: BTreeMap<Class, (usize, usize)> = BTreeMap::new();
    for (key, occurrences) in &rest {
        let entry = by_class.entry(key.class).or_default();
        entry.0 += 1;
        entry.1 += failures(key, occurrences);
    }
    let mut by_class: Vec<(Class, usize, usize)> =
        by_class.into_iter().map(|(c, (n, f))| (c, n, f)).collect();
    by_class.sort_by_key(|(_, n, _)| std::cmp::Reverse(*n));
    let omitted = super::Omitted {
        cap,
        findings: rest.len(),
        failures: rest.iter().map(|(k, o)| failures(k, o)).sum(),
        by_class,
        untracked: 0,
        untracked_top: Vec::new(),
        groups: rest.into_iter().map(|(k, _)| k).collect(),
    };
    (ranked.into_iter().collect(), focused_out, Some(omitted))
}

/// In one record, a match that names no key next to one of the same class that does is the same
/// failure said twice (a WARN line naming the key, its stack trace not): keep the one with the key.
pub(crate) fn drop_keyless_twins<T>(items: &mut Vec<T>, key: impl Fn(&T) -> &GroupKey) {
    let keyed: Vec<Class> = items
        .iter()
        .map(&key)
        .filter(|g| g.key.is_some())
        .map(|g| g.class)
        .collect();
    items.retain(|item| {
        let g = key(item);
        g.key.is_some() || !keyed.contains(&g.class)
    });
}

/// What makes two matches the same failure.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    class: Class,
    rule: String,
    key: Option<String>,
    parts: Vec<Option<String>>,
}

impl GroupKey {
    /// Whether `--key` / `--class` ask for this group (all do when neither is given).
    pub fn in_focus(&self, opts: &Options) -> bool {
        (opts.focus_keys.is_empty()
            || self
                .key
                .as_ref()
                .is_some_and(|k| opts.focus_keys.contains(k)))
            && (opts.focus_classes.is_empty() || opts.focus_classes.contains(&self.class))
    }

    /// The class of the group.
    pub fn class(&self) -> Class {
        self.class
    }

    /// A keyless group of `class` (unit tests elsewhere in the crate).
    #[cfg(test)]
    pub(crate) fn for_tests(class: Class) -> Self {
        Self {
            class,
            rule: String::new(),
            key: None,
            parts: Vec::new(),
        }
    }

    /// The same group for another key: a key `old` becomes `new` (for the dense path, whose
    /// templates stand for lines apart only in their time and key ids).
    pub(crate) fn replace_key(&mut self, old: &str, new: &str) {
        if self.key.as_deref() == Some(old) {
            self.key = Some(new.to_string());
        }
    }

    /// Whether anything but the key holds `text`.
    pub(crate) fn parts_hold(&self, text: &str) -> bool {
        self.rule.contains(text) || self.parts.iter().flatten().any(|p| p.contains(text))
    }

    /// The key id of the group (or `<placeholder …>`), if any.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The group of finding match `m` (of `rule`, whose class is `class`) in `doc`.
    pub fn new(class: Class, rule: &Rule, m: &RuleMatch, doc: &Document, opts: &Options) -> Self {
        let grouping = opts.grouping;
        let key = match resolve_key_id(m, doc, opts) {
            KeyRef::Id(id, _) => Some(id),
            KeyRef::Placeholder(p) => Some(format!("<placeholder {p}>")),
            KeyRef::None => None,
        };
        // Per key; a message that names no key is about the key's state whatever its wording
        // (a server WARN and a client's body saying "api key is expired" are one failure).
        if grouping == Grouping::PerKey
            && (key.is_some()
                || matches!(class, Class::Expired | Class::Invalidated | Class::Missing))
        {
            return Self {
                class,
                rule: String::new(),
                key,
                parts: Vec::new(),
            };
        }
        let parts = [
            "action",
            "index",
            "restricted_index",
            "remote",
            "expected_type",
            "actual_type",
            "hex",
        ]
        .iter()
        .map(|name| {
            m.capture(name)
                .map(|v| v.split('[').next().unwrap_or(v).to_string())
        })
        .collect();
        Self {
            class,
            rule: rule.id.clone(),
            key,
            parts,
        }
    }
}

enum KeyRef {
    Id(String, KeyIdSource),
    Placeholder(String),
    None,
}

fn resolve_key_id(m: &RuleMatch, doc: &Document, opts: &Options) -> KeyRef {
    if let Some(id) = m.capture("key_id") {
        return if is_placeholder_id(id) {
            KeyRef::Placeholder(id.to_string())
        } else {
            KeyRef::Id(id.to_string(), KeyIdSource::Message)
        };
    }
    let mut ids: Vec<&str> = doc
        .credentials
        .iter()
        .filter_map(|c| c.key_id.as_deref())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() == 1 {
        return KeyRef::Id(ids[0].to_string(), KeyIdSource::Credential);
    }
    if let Some(id) = opts
        .given_credential
        .as_ref()
        .and_then(|c| c.key_id.as_ref())
    {
        return KeyRef::Id(id.clone(), KeyIdSource::StudiedKey);
    }
    KeyRef::None
}

/// Ids that users write in place of the real one.
pub(crate) fn is_placeholder_id(id: &str) -> bool {
    // Words users write in place of an id, found without lower-casing a copy of every id (a
    // scan asks this of each distinct key it meets).
    static WORDS: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build([
                "…",
                "...",
                "redact",
                "snip",
                "mask",
                "hidden",
                "removed",
                "omitted",
                "example",
                "your",
                "placeholder",
            ])
            .expect("placeholder words")
    });
    let id = id.trim();
    id.is_empty()
        || id.starts_with(['<', '{', '$'])
        || id
            .chars()
            .all(|c| matches!(c, 'x' | 'X' | '*' | '.' | '…' | '#' | '-' | '_'))
        || WORDS.is_match(id)
        || [
            "id", "key", "key-id", "key_id", "apikey", "api_key", "api-key", "keyid",
        ]
        .iter()
        .any(|w| id.eq_ignore_ascii_case(w))
}

fn build_finding(
    occurrences: &[Occurrence],
    docs: &[Document],
    rules: &RuleSet,
    opts: &Options,
    metadata: &BTreeMap<&str, &KeyMetadata>,
    clients_seen: &ClientsSeen,
) -> Finding {
    let first = &occurrences[0];
    let rule = &rules.rules[first.m.rule];
    let RuleClass::Finding(class) = rule.class else {
        unreachable!("notes are not grouped")
    };
    let first_doc = &docs[first.doc];
    let (key_id, key_id_source, key_id_placeholder) =
        match resolve_key_id(&first.m, first_doc, opts) {
            KeyRef::Id(id, source) => (Some(id), Some(source), None),
            KeyRef::Placeholder(p) => (None, None, Some(p)),
            KeyRef::None => (None, None, None),
        };

    // Captures: the first value of each name across occurrences.
    let mut captures: BTreeMap<String, String> = BTreeMap::new();
    for occ in occurrences {
        for (name, value, _) in &occ.m.captures {
            captures
                .entry(name.clone())
                .or_insert_with(|| value.clone());
        }
    }
    let mut denial = Denial::default();
    let mut observed = Observed::default();
    let mut key = KeyFacts::default();
    let mut statuses = Vec::new();
    let mut nodes = Vec::new();
    let mut clients = Vec::new();
    let mut times = Vec::new();
    let mut failures = Vec::new();
    let mut untimed = 0;
    for occ in occurrences {
        let record = &docs[occ.doc].records[occ.m.record];
        let node = occ
            .m
            .capture("node")
            .map(str::to_string)
            .or_else(|| record.fields().node.clone());
        let client = occ
            .m
            .capture("client_ip")
            .map(str::to_string)
            .or_else(|| record.fields().client_ip.clone());
        match record
            .fields()
            .timestamp
            .as_deref()
            .and_then(super::timeline::parse_ts)
        {
            Some(ms) => failures.push((
                node.clone().unwrap_or_else(|| docs[occ.doc].name.clone()),
                client.clone(),
                ms,
            )),
            None => untimed += 1,
        }
        statuses.extend(
            occ.m
                .capture("status")
                .and_then(|s| s.parse().ok())
                .or(record.fields().status),
        );
        nodes.extend(node);
        clients.extend(client);
        times.extend(record.fields().timestamp.clone());
        if let Some(action) = occ.m.capture("action") {
            push_unique(&mut denial.actions, action.to_string());
        }
        if let Some(list) = occ.m.capture("index") {
            for index in privileges::split_indices(list) {
                push_unique(&mut denial.indices, index);
            }
        }
        if let Some(list) = occ.m.capture("restricted_index") {
            for index in privileges::split_indices(list) {
                push_unique(&mut denial.restricted_indices, index);
            }
        }
    }
    statuses.sort_unstable();
    statuses.dedup();
    nodes.sort();
    nodes.dedup();
    clients.sort();
    clients.dedup();
    times.sort();
    observed.statuses = statuses;
    observed.nodes = nodes;
    observed.client_addresses = clients;
    observed.first_seen = times.first().cloned();
    observed.last_seen = times.last().cloned();
    key.user = captures
        .get("user")
        .filter(|u| !is_placeholder_id(u))
        .cloned();
    key.realm = captures.get("realm").cloned();
    key.key_name = captures.get("key_name").cloned();
    observed.remote = captures.get("remote").cloned().or_else(|| {
        occurrences
            .iter()
            .find_map(|o| docs[o.doc].records[o.m.record].fields().remote.clone())
    });
    denial.principal = captures.get("principal").cloned();
    if let Some(list) = captures.get("roles") {
        denial.roles = privileges::split_list(list);
    }
    key.expected_type = captures
        .get("expected_type")
        .and_then(|t| crate::model::KeyType::parse(t));
    key.actual_type = captures
        .get("actual_type")
        .and_then(|t| crate::model::KeyType::parse(t));
    observed.uri = captures.get("uri").cloned();
    observed.why = captures.get("why").cloned();
    if let Some(list) = captures.get("privilege") {
        denial.privileges = privileges::split_list(list);
    }
    // The version: given, named in the input, or implied by the message shape.
    let implied = occurrences
        .iter()
        .filter_map(|o| rules.rules[o.m.rule].implies_version)
        .max();
    let known = known_version(opts, docs, implied);
    observed.version = known;
    if let Some(action) = denial.actions.first() {
        let kind = match captures.get("privilege_kind").map(String::as_str) {
            Some("cluster") => PrivilegeKind::Cluster,
            Some("index") => PrivilegeKind::Index,
            _ => PrivilegeKind::of_action(action),
        };
        denial.privilege_kind = Some(kind);
        if denial.privileges.is_empty() {
            // The message has no "granted by" list (before 7.12, cut, or a client dropped it):
            // the atlas's, for the version the finding knows.
            denial.privileges = privileges::granting(action, known);
        }
        denial.least_privilege = super::atlas::atlas()
            .least_to_suggest(kind, &denial.privileges)
            .cloned();
        if let (Some(least), Class::UnderPrivileged) = (&denial.least_privilege, class) {
            let name = format!("grant-{least}");
            denial.suggested_role_descriptors = Some(privileges::role_descriptor(
                &name,
                kind,
                least,
                &denial.indices,
                &denial.restricted_indices,
            ));
        }
    }
    for doc_idx in occurrences.iter().map(|o| o.doc) {
        for cred in docs[doc_idx]
            .credentials
            .iter()
            .chain(opts.given_credential.as_ref())
        {
            let odd_scheme = matches!(
                cred.site,
                crate::event::credential::CredentialSite::Header(Scheme::Bearer | Scheme::Basic)
            );
            if (!matches!(
                cred.format,
                CredentialFormat::Encoded | CredentialFormat::SecretOnly
            ) || odd_scheme)
                && !observed.credential_formats.contains(&cred.format)
            {
                observed.credential_formats.push(cred.format);
            }
        }
    }

    let mut finding = Finding {
        class,
        severity: rule.severity,
        rule_id: rule.id.clone(),
        key_id,
        key_id_source,
        key_id_placeholder,
        summary: String::new(),
        explanation: String::new(),
        remediation: Vec::new(),
        candidates: Vec::new(),
        references: Vec::new(),
        evidence: Vec::new(),
        count: occurrences.len(),
        denial,
        observed,
        key,
        timeline: Vec::new(),
        activity: super::activity::Activity::build(failures, 0, untimed),
        groups: Vec::new(),
        differential: None,
        dead_ends: Vec::new(),
        client: recognise_client(rules, docs, occurrences, clients_seen),
        facts: Vec::new(),
    };
    if let Some(id) = finding.key_id.clone() {
        if let Some(meta) = metadata.get(id.as_str()) {
            attach_metadata(&mut finding, meta, opts);
        }
    }
    render_rule_texts(&mut finding, rule, &captures, known);
    let mut seen_texts = Vec::new();
    // One excerpt per input first (the server log, the client's log, the audit log each say
    // something), then more from the same inputs. Repeated identical lines would never fill the
    // list: look at a bounded number of them.
    let mut docs_shown = Vec::new();
    for first_pass in [true, false] {
        for occ in occurrences.iter().take(MAX_EVIDENCE * 16) {
            if finding.evidence.len() >= MAX_EVIDENCE {
                break;
            }
            if first_pass && docs_shown.contains(&occ.doc) {
                continue;
            }
            let ev = evidence(&docs[occ.doc], &occ.m, rule, class);
            if !seen_texts.contains(&ev.text) {
                seen_texts.push(ev.text.clone());
                docs_shown.push(occ.doc);
                finding.evidence.push(ev);
            }
        }
    }
    finding
        .evidence
        .sort_by(|a, b| (&a.source, a.line).cmp(&(&b.source, b.line)));
    finding
}

/// How much of an input's text is searched for a client's signs when the failing records name
/// none (a paste with the client's stack trace around the error; not a whole log file).
const CLIENT_CONTEXT: usize = 256 * 1024;

/// The client that sent the key: the one most failing records name; else one named elsewhere in
/// their inputs (a stack trace around a pasted error); else one their paths name (`filebeat/`).
/// Per input, the client its head names and the one its name names, each read at most once.
struct ClientsSeen {
    head: Vec<std::cell::OnceCell<Option<crate::model::Client>>>,
    name: Vec<std::cell::OnceCell<Option<crate::model::Client>>>,
}

impl ClientsSeen {
    fn new(inputs: usize) -> Self {
        Self {
            head: (0..inputs).map(|_| std::cell::OnceCell::new()).collect(),
            name: (0..inputs).map(|_| std::cell::OnceCell::new()).collect(),
        }
    }
}

fn recognise_client(
    rules: &RuleSet,
    docs: &[Document],
    occurrences: &[Occurrence],
    seen: &ClientsSeen,
) -> Option<crate::model::Client> {
    let mut tally: Vec<(crate::model::Client, usize)> = Vec::new();
    for occ in occurrences.iter().take(MAX_EVIDENCE * 64) {
        let doc = &docs[occ.doc];
        let Some(record) = doc.records.get(occ.m.record) else {
            continue;
        };
        // Where it was seen is written only for a record that names a client.
        if let Some(mut c) = rules.client_in(&record.norm, "") {
            c.seen_in = format!("{}:{}", doc.name, record.line);
            match tally
                .iter_mut()
                .find(|(t, _)| t.id == c.id && t.name == c.name)
            {
                Some((_, n)) => *n += 1,
                None => tally.push((c, 1)),
            }
        }
    }
    if let Some((c, _)) = tally.iter().max_by_key(|(_, n)| *n) {
        return Some(c.clone());
    }
    let mut inputs: Vec<usize> = occurrences.iter().map(|o| o.doc).collect();
    inputs.sort_unstable();
    inputs.dedup();

    inputs
        .iter()
        .find_map(|&d| {
            seen.head[d]
                .get_or_init(|| rules.client_in(text_head(&docs[d].text), &docs[d].name))
                .clone()
        })
        .or_else(|| {
            inputs.iter().find_map(|&d| {
                seen.name[d]
                    .get_or_init(|| rules.client_in(&docs[d].name, &docs[d].name))
                    .clone()
            })
        })
}

/// The first [`CLIENT_CONTEXT`] bytes of `text`, cut on a character boundary.
fn text_head(text: &str) -> &str {
    let mut end = text.len().min(CLIENT_CONTEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// Fill the finding's texts from `rule`'s templates.
fn render_rule_texts(
    finding: &mut Finding,
    rule: &Rule,
    captures: &BTreeMap<String, String>,
    known: Option<KnownVersion>,
) {
    let vars = variables(finding, captures);
    let lookup = |name: &str| vars.get(name).cloned();
    finding.rule_id = rule.id.clone();
    finding.severity = rule.severity;
    finding.summary = rule.title.render(&lookup);
    finding.explanation = rule.explain.render(&lookup).trim().to_string();
    finding.dead_ends.clone_from(&rule.dead_ends);
    finding.remediation = fill_steps(
        &rule.remediation,
        is_cross_cluster(finding),
        &|c| condition_holds(c, finding),
        &lookup,
        known,
    );
    one_path(finding);
    if let Some(fix) = &finding.denial.descriptor_fix {
        finding.remediation.insert(0, fix.clone());
    }
    // A request a rule's own steps already make (e.g. reading the key) is not asked twice
    // when a snippet makes it again.
    let mut seen = BTreeSet::new();
    finding
        .remediation
        .retain(|s| s.request.as_ref().is_none_or(|r| seen.insert(r.clone())));
    finding.candidates = rule
        .candidates
        .iter()
        .map(|c| RenderedCandidate {
            class: c.kind,
            why: c.why.render(&lookup).trim().to_string(),
        })
        .collect();
    finding.references = rule
        .references
        .iter()
        .map(|r| (r.title.clone(), r.url.clone()))
        .collect();
}

/// Fill `steps` for one key: those for its type (`cross`: a cross-cluster key) whose conditions
/// all `hold`, their templates filled from `lookup`, and a request the `known` version cannot
/// run replaced by its fallback or marked with the version it needs. Rule plans and
/// `keydoctor rotate` (with the `rotate-key` snippet) fill their steps here.
pub(crate) fn fill_steps(
    steps: &[crate::rule::Step],
    cross: bool,
    holds: &dyn Fn(StepCondition) -> bool,
    lookup: &dyn Fn(&str) -> Option<String>,
    known: Option<KnownVersion>,
) -> Vec<RenderedStep> {
    steps
        .iter()
        .filter(|step| match step.key_type {
            Some(crate::model::KeyType::CrossCluster) => cross,
            Some(crate::model::KeyType::Rest) => !cross,
            None => true,
        })
        .filter(|step| step.when.iter().all(|c| holds(*c)))
        .map(|step| {
            let mut rendered = RenderedStep {
                when: step.when.clone(),
                path: step.path,
                on: step.on,
                later: step.later,
                run_as: step.run_as,
                title: step.title.render(lookup),
                text: step
                    .text
                    .as_ref()
                    .map(|t| t.render(lookup).trim().to_string()),
                request: step
                    .request
                    .as_ref()
                    .map(|t| t.render(lookup).trim().to_string()),
                version_note: None,
                diff: None,
            };
            if let Some(min) = step.min_version {
                let fallback = step
                    .fallback
                    .as_ref()
                    .map(|f| f.render(lookup).trim().to_string());
                match known {
                    Some(KnownVersion::Exact(v)) if v < min => {
                        rendered.version_note = Some(format!(
                            "this cluster runs {v}; the request needs {min} or later"
                        ));
                        rendered.request = None;
                        rendered.text = fallback.or(rendered.text);
                    }
                    Some(KnownVersion::Exact(_)) => {}
                    Some(KnownVersion::AtLeast(v)) if v >= min => {}
                    _ => {
                        rendered.version_note = Some(match fallback {
                            Some(f) => {
                                format!("needs Elasticsearch {min} or later; before {min}: {f}")
                            }
                            None => format!("needs Elasticsearch {min} or later"),
                        });
                    }
                }
            }
            rendered
        })
        .collect()
}

/// Most important first: a cluster-wide cause (the API key service off) before the per-key
/// findings it explains, then by severity, class, key id, rule and place.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        let cluster_wide = |f: &Finding| f.class != Class::ApiKeyServiceDisabled;
        cluster_wide(a)
            .cmp(&cluster_wide(b))
            .then(a.severity.cmp(&b.severity))
            .then(a.class.cmp(&b.class))
            .then(a.key_id.cmp(&b.key_id))
            .then(a.rule_id.cmp(&b.rule_id))
            .then(
                a.evidence
                    .first()
                    .map(|e| (&e.source, e.line))
                    .cmp(&b.evidence.first().map(|e| (&e.source, e.line))),
            )
    });
}

/// Drop the steps whose preconditions no longer hold, once every pass has added what it knows
/// (an audit event found later names who invalidated a key; a cluster shows its descriptors).
pub fn prune_plans(diagnosis: &mut Diagnosis) {
    for f in &mut diagnosis.findings {
        let keep: Vec<bool> = f
            .remediation
            .iter()
            .map(|s| s.when.iter().all(|c| condition_holds(*c, f)))
            .collect();
        let mut keep = keep.into_iter();
        f.remediation.retain(|_| keep.next().unwrap_or(true));
        one_path(f);
    }
    sort_findings(&mut diagnosis.findings);
}

/// A plan keeps one way of fixing a key it could update or replace: the update in place when it
/// can run (its request survived the version check, and the key is still active), else the
/// rotation. Steps of neither way stay.
pub(crate) fn one_path(finding: &mut Finding) {
    use crate::model::PlanPath;
    let has = |p: PlanPath| finding.remediation.iter().any(|s| s.path == Some(p));
    if !(has(PlanPath::Update) && has(PlanPath::Rotate)) {
        return;
    }
    let update_runs = finding
        .remediation
        .iter()
        .any(|s| s.path == Some(PlanPath::Update) && s.request.is_some())
        && condition_holds(StepCondition::KeyMayBeActive, finding);
    let drop = if update_runs {
        PlanPath::Rotate
    } else {
        PlanPath::Update
    };
    finding.remediation.retain(|s| s.path != Some(drop));
}

/// The finding is about a cross-cluster key: metadata says so, or the querying cluster used it
/// for its remote-cluster handshake.
fn is_cross_cluster(finding: &Finding) -> bool {
    finding.key.cross_cluster_key
        || finding
            .key
            .metadata
            .as_ref()
            .is_some_and(|m| m.key_type == Some(crate::model::KeyType::CrossCluster))
}

/// Whether a step's precondition holds for `finding`, from what the diagnosis knows.
fn condition_holds(condition: StepCondition, finding: &Finding) -> bool {
    let meta = finding.key.metadata.as_ref();
    match condition {
        StepCondition::DescriptorsUnknown => match meta {
            Some(m) if is_cross_cluster(finding) => m.access.is_none(),
            Some(m) => m.role_descriptors.is_none(),
            None => true,
        },
        StepCondition::KeyMayBeActive => {
            !matches!(
                finding.class,
                Class::Invalidated | Class::Expired | Class::Missing
            ) && !matches!(
                finding.key.metadata_state,
                Some(crate::model::KeyState::Invalidated | crate::model::KeyState::Expired)
            )
        }
        StepCondition::KeyMayExist => finding.class != Class::Missing,
        StepCondition::InvalidatorUnknown => finding.key.invalidated_by.is_none(),
        StepCondition::MetadataUnknown => meta.is_none(),
        // Known to be Fleet-managed, its deploy step already says to re-enrol it.
        StepCondition::ClientMayBeFleet => finding
            .client
            .as_ref()
            .is_none_or(|c| c.fleet == crate::model::FleetManaged::Maybe),
    }
}

/// Descriptors keydoctor has not seen, as a body Elasticsearch rejects (each placeholder is a
/// string where a role descriptor object must stand) so that nothing runs as pasted with them,
/// plus the descriptor that adds what was missing, when there is one.
pub(crate) fn placeholder_descriptors(
    key: Option<&str>,
    known_empty: bool,
    add: Option<&Value>,
    gone: bool,
) -> Value {
    let mut out = Map::new();
    let (name, value) = if known_empty {
        (
            "<the key has no role descriptors of its own: it carries all of its owner's privileges>".to_string(),
            "<name only what its clients need, as descriptor objects>".to_string(),
        )
    } else if gone {
        (
            format!(
                "<every descriptor key {} had (it is gone: take them from where it was created)>",
                key.unwrap_or("<key id>")
            ),
            "<copied whole>".to_string(),
        )
    } else {
        (
            format!(
                "<every descriptor of key {}, from the GET above>",
                key.unwrap_or("<key id>")
            ),
            "<copied whole>".to_string(),
        )
    };
    out.insert(name, Value::String(value));
    if let Some(Value::Object(add)) = add {
        for (k, v) in add {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// Template variables: captures, then what the engine derived.
fn variables(finding: &Finding, captures: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut vars = captures.clone();
    match &finding.key_id {
        Some(id) => {
            vars.insert("key_id".into(), id.clone());
        }
        None => {
            vars.remove("key_id");
        }
    }
    let mut set = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            vars.entry(name.to_string()).or_insert(value);
        }
    };
    set(
        "user",
        finding.key.user.clone().or_else(|| {
            finding
                .key
                .metadata
                .as_ref()
                .and_then(|m| m.username.clone())
        }),
    );
    set(
        "realm",
        finding
            .key
            .realm
            .clone()
            .or_else(|| finding.key.metadata.as_ref().and_then(|m| m.realm.clone())),
    );
    set(
        "key_name",
        finding
            .key
            .key_name
            .clone()
            .or_else(|| finding.key.metadata.as_ref().and_then(|m| m.name.clone())),
    );
    // Re-rendered later (`retext`), a finding has no captures: its details stand in.
    set("action", finding.denial.actions.first().cloned());
    set(
        "index",
        (!finding.denial.indices.is_empty()).then(|| finding.denial.indices.join(",")),
    );
    set("least_privilege", finding.denial.least_privilege.clone());
    set(
        "privilege_list",
        (!finding.denial.privileges.is_empty()).then(|| finding.denial.privileges.join(", ")),
    );
    set(
        "index_list",
        (!finding.denial.indices.is_empty()).then(|| finding.denial.indices.join(", ")),
    );
    set(
        "status",
        finding.observed.statuses.first().map(|s| s.to_string()),
    );
    set("node", finding.observed.nodes.first().cloned());
    set(
        "client_ip",
        finding.observed.client_addresses.first().cloned(),
    );
    set("first_seen", finding.observed.first_seen.clone());
    if let Some(client) = &finding.client {
        set("client", Some(client.name.clone()));
        set("deploy", Some(client.deploy.clone()));
    }
    set("version", finding.observed.version.map(|v| v.to_string()));
    set("remote", finding.observed.remote.clone());
    // Two bodies, never confused: `suggested_role_descriptors` is what an update sends (the
    // current descriptors when known, plus the one that adds what was missing);
    // `role_descriptors` is a key's complete set, given only when the pasted metadata shows the
    // current descriptors, so a replacement key never silently loses privileges.
    // Descriptors never seen are never sent: without them (or when the key has none, so that
    // any descriptor would narrow it to just that), both bodies are placeholders Elasticsearch
    // rejects, and the plan reads the key first.
    let own = finding
        .key
        .metadata
        .as_ref()
        .and_then(|m| m.role_descriptors.as_ref());
    let known_empty = own.is_some_and(|c| c.as_object().is_none_or(|m| m.is_empty()));
    let current = own.filter(|_| !known_empty);
    let suggested = finding.denial.suggested_role_descriptors.as_ref();
    let bodies = if current.is_some() {
        let merged = privileges::format_json(&merged_descriptors(
            finding.key.metadata.as_ref(),
            suggested,
        ));
        (merged.clone(), merged)
    } else {
        let key = finding.key_id.as_deref();
        let gone = finding.class == Class::Missing;
        (
            privileges::format_json(&placeholder_descriptors(key, known_empty, suggested, gone)),
            privileges::format_json(&placeholder_descriptors(key, known_empty, None, gone)),
        )
    };
    if suggested.is_some() {
        set("suggested_role_descriptors", Some(bodies.0.clone()));
    }
    set(
        "access",
        finding
            .key
            .metadata
            .as_ref()
            .and_then(|m| m.access.as_ref())
            .filter(|a| a.as_object().is_some_and(|m| !m.is_empty()))
            .map(privileges::format_json),
    );
    set(
        "role_descriptors",
        Some(if suggested.is_some() {
            bodies.0
        } else {
            bodies.1
        }),
    );
    vars
}

/// The key's current descriptors (when the metadata has them) plus the suggested one: the update
/// API replaces `role_descriptors` whole, so a request must carry both.
fn merged_descriptors(meta: Option<&KeyMetadata>, suggested: Option<&Value>) -> Value {
    let mut out = Map::new();
    if let Some(Value::Object(existing)) = meta.and_then(|m| m.role_descriptors.as_ref()) {
        for (k, v) in existing {
            out.insert(k.clone(), writable_descriptor(v));
        }
    }
    if let Some(Value::Object(add)) = suggested {
        for (k, v) in add {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// A role descriptor as an update request takes it: without the read-only
/// `transient_metadata` and without empty defaults.
pub(crate) fn writable_descriptor(descriptor: &Value) -> Value {
    match descriptor {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, v)| {
                    k.as_str() != "transient_metadata"
                        && !matches!(v, Value::Array(a) if a.is_empty())
                        && !matches!(v, Value::Object(o) if o.is_empty())
                        && (k.as_str() != "allow_restricted_indices" || **v != Value::Bool(false))
                })
                .map(|(k, v)| (k.clone(), writable_descriptor(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(writable_descriptor).collect()),
        other => other.clone(),
    }
}

/// The evidence excerpt for one match: the lines it spans, windowed when long, with labels.
fn evidence(doc: &Document, m: &RuleMatch, rule: &Rule, class: Class) -> Evidence {
    let record = &doc.records[m.record];
    let text = &doc.text;
    let raw_start = record.map.to_raw(m.span.start).min(text.len());
    let raw_end = record.map.to_raw(m.span.end).clamp(raw_start, text.len());
    let line_start = text[..raw_start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[raw_end..]
        .find('\n')
        .map_or(text.len(), |i| raw_end + i);
    let (mut from, mut to) = (line_start, line_end);
    if to - from > MAX_EXCERPT {
        from = floor_boundary(text, raw_start.saturating_sub(100).max(line_start));
        to = ceil_boundary(text, (raw_end + 60).min(line_end));
        if let Some(nl) = text[from..raw_start].rfind('\n') {
            from += nl + 1;
        }
        if let Some(nl) = text[raw_end..to].find('\n') {
            to = raw_end + nl;
        }
    }
    let prefix = if from > line_start && !text[line_start..from].contains('\n') {
        "…"
    } else {
        ""
    };
    let suffix = if to < line_end { "…" } else { "" };
    let excerpt = format!("{prefix}{}{suffix}", text[from..to].trim_end_matches('\r'));
    let shift = |raw: usize| raw.clamp(from, to) - from + prefix.len();
    let mut spans = Vec::new();
    for (name, _, range) in &m.captures {
        let Some(label) = rule.label(name) else {
            continue;
        };
        let start = shift(record.map.to_raw(range.start));
        let end = shift(record.map.to_raw(range.end)).max(start);
        if end > start && excerpt.is_char_boundary(start) && excerpt.is_char_boundary(end) {
            let label = label.render(&|n: &str| m.capture(n).map(str::to_string));
            spans.push(Span { start, end, label });
        }
    }
    // A message that stops mid-sentence at the end of what was pasted ("… of user", "on
    // indices [logs"): say where it stops, so nobody reads the missing part as absent.
    if !m.partial {
        if let Some(cut) = cut_at(&record.norm, m.span.clone()) {
            let start = shift(record.map.to_raw(cut.start));
            let end = shift(record.map.to_raw(cut.end)).max(start);
            if end > start && excerpt.is_char_boundary(start) && excerpt.is_char_boundary(end) {
                spans.push(Span {
                    start,
                    end,
                    label: "the message stops here: the rest of it is not in this text".into(),
                });
            }
        }
    }
    if spans
        .iter()
        .all(|s| s.label.starts_with("the message stops here"))
    {
        let (start, end) = (shift(raw_start), shift(raw_end));
        if end > start && excerpt.is_char_boundary(start) && excerpt.is_char_boundary(end) {
            spans.push(Span {
                start,
                end,
                label: if m.partial {
                    format!(
                        "{}: only this phrase was read; the rest of the message is cut or reworded",
                        class.phrase()
                    )
                } else {
                    class.phrase().to_string()
                },
            });
        }
    }
    spans.sort_by_key(|s| s.start);
    // The record knows its first line; count only the lines inside it.
    let line = record.line
        + text
            .get(record.range.start.min(from)..from)
            .map_or(0, |t| t.bytes().filter(|b| *b == b'\n').count());
    Evidence {
        source: doc.name.clone(),
        line,
        kind: record.kind(),
        text: excerpt,
        spans,
    }
}

/// Where a matched message is cut, when it is: at most a short fragment follows the match in its
/// record, and the text ends on a bracket left open or on words that always go on (`of user`, `on indices`,
/// `granted by the`). The range is the last word, for the evidence label.
fn cut_at(norm: &str, span: std::ops::Range<usize>) -> Option<std::ops::Range<usize>> {
    // What follows the match to the record's end: nothing, or a fragment the pattern's optional
    // parts did not take (" of user" with no name after it).
    let after = norm.get(span.end..)?.trim();
    if after.len() > 40 || after.contains('\n') {
        return None;
    }
    let body = norm.get(span.start..)?.trim_end();
    let open = body.matches('[').count() > body.matches(']').count();
    let dangling = [
        " of user",
        " on indices",
        " on restricted indices",
        " granted by the",
        " this action is",
        " is unauthorized for",
        " for API key id",
    ]
    .iter()
    .any(|w| body.ends_with(w));
    if !open && !dangling {
        return None;
    }
    let end = span.start + body.len();
    let start = body
        .rfind([' ', '['])
        .map_or(span.start, |i| span.start + i + 1)
        .min(end.saturating_sub(1));
    Some(start..end)
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_boundary(text: &str, mut at: usize) -> usize {
    while at < text.len() && !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// Fold generic-401 findings into a decisive authentication finding of the same input and key.
fn fold_unresolved(built: &mut Vec<(Finding, Vec<usize>)>) {
    let mut idx = 0;
    while idx < built.len() {
        let (finding, docs_seen) = &built[idx];
        if finding.class != Class::AuthenticationUnresolved {
            idx += 1;
            continue;
        }
        let same_key = |other: &Finding| {
            finding.key_id.is_none() || other.key_id.is_none() || other.key_id == finding.key_id
        };
        // A 401 folds into an authentication cause of the same input; a denial that is not a 401
        // (a 403, or a client's bare AuthorizationException) into an authorization cause that
        // says 403 too or stands a few lines from it.
        let not_401 = !finding.observed.statuses.contains(&401);
        let near = |other: &Finding| {
            finding.evidence.iter().any(|e| {
                other
                    .evidence
                    .iter()
                    .any(|o| o.source == e.source && o.line.abs_diff(e.line) <= SAME_FAILURE_LINES)
            })
        };
        let target = built.iter().position(|(other, other_docs)| {
            other_docs.iter().any(|d| docs_seen.contains(d))
                && same_key(other)
                && (other.class.explains_401()
                    || (not_401
                        && other.class.explains_403()
                        && (finding.observed.statuses.contains(&403) || near(other))))
        });
        match target {
            Some(target) => {
                let (folded, _) = built.remove(idx);
                let target = if target > idx { target - 1 } else { target };
                let finding = &mut built[target].0;
                // The same request said twice (a client's status line and the body or the
                // server's line beside it) counts once; failures elsewhere in the input are
                // failures of their own, now explained, and count.
                let apart = !folded.evidence.iter().any(|e| {
                    finding.evidence.iter().any(|o| {
                        o.source == e.source && o.line.abs_diff(e.line) <= SAME_FAILURE_LINES
                    })
                });
                if apart {
                    finding.count += folded.count;
                }
                finding.groups.extend(folded.groups);
                for ev in folded.evidence {
                    if finding.evidence.len() < MAX_EVIDENCE + 1 && !finding.evidence.contains(&ev)
                    {
                        finding.evidence.push(ev);
                    }
                }
                for status in folded.observed.statuses {
                    if !finding.observed.statuses.contains(&status) {
                        finding.observed.statuses.push(status);
                    }
                }
                if finding.key_id.is_none() && folded.key_id.is_some() {
                    finding.key_id = folded.key_id;
                    finding.key_id_source = folded.key_id_source;
                }
            }
            None => idx += 1,
        }
    }
}

/// Render a finding's texts again after correlation changed what is known about it (a key id
/// inferred from metadata): the rule's templates with the finding's own variables.
pub(crate) fn retext(finding: &mut Finding, rules: &RuleSet, opts: &Options) {
    let Some(rule) = rules.get(&finding.rule_id) else {
        return;
    };
    let known = opts
        .version
        .map(KnownVersion::Exact)
        .or(finding.observed.version);
    render_rule_texts(finding, rule, &BTreeMap::new(), known);
}

pub(crate) fn attach_metadata(finding: &mut Finding, meta: &KeyMetadata, opts: &Options) {
    finding.key.metadata = Some(meta.clone());
    finding.key.metadata_state = Some(meta.state(opts.now_ms));
    if finding.key.user.is_none() {
        finding.key.user = meta.username.clone();
    }
    if finding.key.realm.is_none() {
        finding.key.realm = meta.realm.clone();
    }
    if finding.key.key_name.is_none() {
        finding.key.key_name = meta.name.clone();
    }
}

/// Join key metadata obtained after the diagnosis (from the cluster) with its findings, as
/// pasted metadata would have been: decide, confirm or contradict, locate limits.
pub(crate) fn apply_metadata(
    findings: &mut [Finding],
    keys: &[KeyMetadata],
    rules: &RuleSet,
    opts: &Options,
) {
    let metadata: BTreeMap<&str, &KeyMetadata> = keys.iter().map(|k| (k.id.as_str(), k)).collect();
    for finding in findings {
        let Some(meta) = finding.key_id.as_deref().and_then(|id| metadata.get(id)) else {
            continue;
        };
        attach_metadata(finding, meta, opts);
        correlate_metadata(finding, &metadata, rules, &[], opts);
    }
}

/// Join pasted key metadata: decide unresolved 401s, confirm or contradict, locate limits.
fn correlate_metadata(
    finding: &mut Finding,
    metadata: &BTreeMap<&str, &KeyMetadata>,
    rules: &RuleSet,
    docs: &[Document],
    opts: &Options,
) {
    attribute_by_state(finding, metadata, opts);
    let Some(id) = finding.key_id.clone() else {
        return;
    };
    let Some(meta) = metadata.get(id.as_str()).copied() else {
        return;
    };
    let state = meta.state(opts.now_ms);
    let decided = match (finding.class, state) {
        (Class::AuthenticationUnresolved, KeyState::Invalidated) => Some(Class::Invalidated),
        (Class::AuthenticationUnresolved, KeyState::Expired) => Some(Class::Expired),
        _ => None,
    };
    if let Some(class) = decided {
        if let Some(rule) = rules
            .rules
            .iter()
            .find(|r| r.class == RuleClass::Finding(class) && r.canonical())
        {
            finding.class = class;
            let captures = BTreeMap::new();
            render_rule_texts(finding, rule, &captures, known_version(opts, docs, None));
            finding.candidates.clear();
            let when = match state {
                KeyState::Expired => meta.expiration_ms.map(|ms| ("part.decided.expiration", ms)),
                _ => meta
                    .invalidation_ms
                    .map(|ms| ("part.decided.invalidated", ms)),
            }
            .map(|(code, ms)| super::fact::say(code, &[("at", format_ms(ms))]))
            .unwrap_or_default();
            let because = super::fact::say(
                "decided.metadata",
                &[
                    ("key_id", id.to_string()),
                    ("state", state.as_str().to_string()),
                    ("when", when),
                ],
            );
            finding.explanation = super::fact::say(
                "decided.prefix",
                &[
                    ("because", because),
                    ("explanation", std::mem::take(&mut finding.explanation)),
                ],
            );
        }
    }
    if finding.class == Class::AuthenticationUnresolved && state == KeyState::Active {
        // The metadata rules out two candidates; say so, and keep the others.
        finding.candidates.retain(|c| {
            !matches!(
                c.class,
                CandidateKind::Class(Class::Expired | Class::Invalidated)
            )
        });
        finding.explanation = format!(
            "The pasted metadata shows key {id} active (not invalidated, {}), so it is neither expired nor invalidated: the secret sent with it is wrong, or the client talks to another cluster where that id is unknown.\n\n{}",
            match meta.expiration_ms {
                Some(ms) => format!("expiring {}", format_ms(ms)),
                None => "no expiration".to_string(),
            },
            finding.explanation
        );
    }
    if let (Class::Missing, Some(seen_in)) = (finding.class, &meta.derived_from) {
        let fact = Fact::Limit(Limit::DeletedSince {
            seen_in: seen_in.clone(),
            key_id: id.clone(),
            created: meta.creation_ms.map(format_ms),
        });
        finding.state(fact);
    } else if finding.class == Class::Missing {
        finding.state(Fact::Limit(Limit::ListedElsewhere {
            key_id: id.clone(),
            state,
        }));
    }
    if finding.class == Class::UnderPrivileged {
        let kind = finding
            .denial
            .privilege_kind
            .unwrap_or(PrivilegeKind::Index);
        let granting = &finding.denial.privileges.clone();
        let first_index = finding.denial.indices.first().cloned();
        let index = first_index.as_deref();
        let own = meta.role_descriptors.as_ref();
        let own_empty = own.is_none_or(|v| v.as_object().is_some_and(|m| m.is_empty()));
        let own_grants =
            own.is_some_and(|rd| privileges::descriptors_grant(rd, kind, granting, index));
        if let (Some(index), Some(rd)) = (index, own) {
            let patterns = privileges::index_patterns(rd);
            if !patterns.is_empty() {
                let matching: Vec<&str> = patterns
                    .iter()
                    .filter(|p| privileges::pattern_matches(p, index))
                    .map(String::as_str)
                    .collect();
                let fact = Fact::IndexMatch {
                    index: index.to_string(),
                    patterns: patterns.clone(),
                    matching: matching.iter().map(|m| (*m).to_string()).collect(),
                };
                finding.state(fact);
            }
        }
        let fix = descriptor_fix(finding, meta, kind, own_empty, own_grants, index);
        if let Some(old) = finding.denial.descriptor_fix.take() {
            finding.remediation.retain(|s| *s != old);
        }
        if let Some(fix) = fix {
            finding.remediation.insert(0, fix.clone());
            finding.denial.descriptor_fix = Some(fix);
        }
        let limit = if !granting.is_empty() && !own_empty && !own_grants {
            Limit::RoleDescriptors
        } else if own_grants || own_empty {
            match &meta.limited_by {
                Some(lb) if !privileges::descriptors_grant(lb, kind, granting, index) => {
                    Limit::LimitedBy
                }
                _ => Limit::LimitedByUnverified,
            }
        } else {
            Limit::NoDescriptors
        };
        finding.state(Fact::Limit(limit));
    }
}

/// The smallest change that grants the denied privilege, as a diff against what the metadata
/// shows: the key's own descriptors when they are the limit, else its owner's role as
/// `limited_by` captured it (the update that follows refreshes that snapshot).
fn descriptor_fix(
    finding: &Finding,
    meta: &KeyMetadata,
    kind: PrivilegeKind,
    own_empty: bool,
    own_grants: bool,
    index: Option<&str>,
) -> Option<RenderedStep> {
    let least = finding.denial.least_privilege.as_deref()?;
    let id = &meta.id;
    let on = match (kind, index) {
        (PrivilegeKind::Index, Some(i)) => format!("`{least}` on `{i}`"),
        (PrivilegeKind::Index, None) => return None,
        (PrivilegeKind::Cluster, _) => format!("cluster privilege `{least}`"),
    };
    let own = meta.role_descriptors.as_ref()?;
    if !own_empty && !own_grants {
        let before = writable_descriptor(own);
        let after = merged_descriptors(
            Some(meta),
            finding.denial.suggested_role_descriptors.as_ref(),
        );
        return Some(RenderedStep {
        when: Vec::new(),
        path: None,
        on: crate::model::RunsOn::Cluster,
        later: false,
        run_as: crate::model::RunAs::User,
            title: format!("The smallest change: add {on} to the key's role descriptors"),
            text: Some(format!(
                "Against key {id}'s current descriptors, one descriptor that names exactly what was denied, nothing else widened (the update request below sends the whole set: the update API replaces `role_descriptors`)."
            )),
            request: None,
            version_note: None,
            diff: Some(privileges::descriptors_diff(
                &before,
                &after,
                &format!("role_descriptors of key {id} (now)"),
                &format!("role_descriptors of key {id} (fixed)"),
            )),
        });
    }
    // The key's descriptors allow it, or it has none: the owner's snapshot is the limit.
    let lb = meta.limited_by.as_ref()?;
    if privileges::descriptors_grant(lb, kind, &finding.denial.privileges, index) {
        return None;
    }
    let (role_name, role) = match lb {
        Value::Array(list) => list.first()?.as_object()?.iter().next()?,
        Value::Object(map) => map.iter().next()?,
        _ => return None,
    };
    let before = writable_descriptor(role);
    let after = privileges::role_with(&before, kind, least, index);
    let owner = meta.username.as_deref().unwrap_or("the owner");
    Some(RenderedStep {
        when: Vec::new(),
        path: None,
        on: crate::model::RunsOn::Cluster,
        later: false,
        run_as: crate::model::RunAs::User,
        title: format!("The smallest change: add {on} to the owner's role `{role_name}`"),
        text: Some(format!(
            "Key {id}'s own descriptors {} it, but its owner `{owner}`'s privileges, captured in `limited_by` when the key was created or last updated, do not. Below is role `{role_name}` as captured, with one entry added; check the role's current definition first (`GET /_security/role/{role_name}`: it may have changed since, and a reserved or file-based role cannot be changed this way: give `{owner}` an extra role instead). Then refresh the key's snapshot as `{owner}`: `PUT /_security/api_key/{id}` with `{{}}` (8.4+), or create a new key.",
            if own_empty { "are empty (the key has its owner's privileges), so they allow" } else { "allow" }
        )),
        request: Some(format!("PUT /_security/role/{role_name}\n{}", privileges::format_json(&after))),
        version_note: None,
        diff: Some(privileges::descriptors_diff(
            &serde_json::json!({ role_name.as_str(): before }),
            &serde_json::json!({ role_name.as_str(): after }),
            &format!("role {role_name} (as captured in limited_by)"),
            &format!("role {role_name} (fixed)"),
        )),
    })
}

/// "api key is expired" names no key: when the pasted metadata holds exactly one key in that
/// state, it is the likely one; the key id source says that this is an inference.
fn attribute_by_state(
    finding: &mut Finding,
    metadata: &BTreeMap<&str, &KeyMetadata>,
    opts: &Options,
) {
    let wanted = match finding.class {
        Class::Expired => KeyState::Expired,
        Class::Invalidated => KeyState::Invalidated,
        _ => return,
    };
    if finding.key_id.is_some() || finding.key_id_placeholder.is_some() {
        return;
    }
    let matching: Vec<&KeyMetadata> = metadata
        .values()
        .copied()
        .filter(|k| k.state(opts.now_ms) == wanted)
        .collect();
    if let [only] = matching.as_slice() {
        finding.key_id = Some(only.id.clone());
        finding.key_id_source = Some(if metadata.len() == 1 {
            KeyIdSource::OnlyKeyInMetadata
        } else {
            KeyIdSource::OnlyKeyInStateInMetadata
        });
        attach_metadata(finding, only, opts);
    }
}

/// Join `invalidate_apikeys` audit events naming the key.
fn correlate_audit(finding: &mut Finding, docs: &[Document]) {
    if finding.class != Class::Invalidated {
        return;
    }
    let Some(id) = finding.key_id.as_deref() else {
        return;
    };
    for doc in docs {
        for event in &doc.audit {
            if event.action == AuditAction::InvalidateApiKeys
                && event.invalidated_ids.iter().any(|i| i == id)
            {
                finding.key.invalidated_by = Some(InvalidatedBy {
                    timestamp: event.timestamp.clone(),
                    user: event.user.clone(),
                    realm: event.realm.clone(),
                    origin: event.origin.clone(),
                    node: event.node.clone(),
                    source: doc.name.clone(),
                    line: event.line,
                    matched_by: None,
                });
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_not_key_ids() {
        for p in [
            "<key-id>",
            "xxxxxxx",
            "redacted",
            "<snipped>",
            "...",
            "your-key-id",
        ] {
            assert!(is_placeholder_id(p), "{p}");
        }
        for id in ["VuaCfGcBCdbkQm-e5aOx", "HBjhbh", "T4Lav4QBuKu_zclXw8LG"] {
            assert!(!is_placeholder_id(id), "{id}");
        }
    }
}
