//! Correlation across a whole log tree (`keydoctor scan`): what one log cannot say, another can.
//!
//! - **In**: a [`Diagnosis`] built from the records a scan kept, and the [`Facts`] the scan
//!   gathered while streaming (tallies of the records it did not keep, failure times per node,
//!   audit events, successes, key metadata).
//! - **Out**: the same findings with their full counts, first and last failure, the client that
//!   keeps failing, who invalidated the key, which key an id-less `api key is expired` is about,
//!   and a per-key timeline.
//! - **Never**: state an inference as a fact: every joined value says how it was joined.
//!
//! What each log can and cannot say (shared/reference sections 5 and 8): the server's
//! `Authentication using apikey failed - …` WARN names the key and the node but never the
//! client; a key rejected on REST is audited as `anonymous_access_denied`, with the client's
//! address but without the key. Joined by node and time, the two name the client.

use super::fact::say;
use std::collections::{BTreeMap, BTreeSet};

use super::fact::{
    AuditGap, Bounded, ClientJoin, ClusterSays, ClusterVerdict, Fact, KeyInference, Limit,
    ProbeSays, ProbeVerdict,
};
use super::timeline::{parse_time_value, parse_ts};
use crate::diagnosis::{Diagnosis, Finding, GroupKey, InvalidatedBy, Options, TimelineEntry};
use crate::event::audit::AuditEvent;
use crate::event::key_metadata::{KeyMetadata, KeyState};
use crate::model::format_ms;
use crate::model::AuditAction;
use crate::model::Class;
use crate::model::KeyType;
use crate::model::TimelineEvent;
use crate::model::{FastMap, FastSet};
use crate::rule::RuleSet;

/// How far apart (ms) a server WARN and an audit denial may be and still be one request.
const JOIN_WINDOW_MS: i64 = 1000;
/// Failure times kept per group for the client join (first and last are always exact): memory
/// stays bounded however long the incident.
pub const MAX_POINTS: usize = 100_000;
/// `anonymous_access_denied` events kept for the client join.
pub const MAX_DENIALS: usize = 100_000;

/// A node as a log line names it, and the directory of the file (one node's logs usually share
/// a directory in a support bundle).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeRef {
    pub name: Option<String>,
    pub id: Option<String>,
    pub dir: String,
}

/// One failure, when and where (node interned in [`Facts::nodes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub node: u32,
    /// The client's address interned in [`Facts::clients`], [`Point::NO_CLIENT`] when the line
    /// carries none.
    pub client: u32,
    pub ms: i64,
}

impl Point {
    pub const NO_CLIENT: u32 = u32::MAX;
}

/// An `anonymous_access_denied` audit event: a rejected request, with its client, without a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub node: u32,
    pub ms: i64,
    pub origin: String,
}

/// What the records a scan did not keep add to a group.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub count: usize,
    pub nodes: BTreeSet<String>,
    pub clients: BTreeSet<String>,
    pub actions: BTreeSet<String>,
    pub indices: BTreeSet<String>,
    pub statuses: BTreeSet<u16>,
}

/// Per group of matches: the tally of unkept records and the time of the failures.
#[derive(Debug, Clone, Default)]
pub struct GroupFacts {
    pub tally: Tally,
    /// The first [`MAX_POINTS`] failure times, in path order.
    pub points: Vec<Point>,
    /// Failure times not kept beyond [`MAX_POINTS`].
    pub points_dropped: usize,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

impl GroupFacts {
    /// Record one failure at `p`.
    pub fn add_point(&mut self, p: Point) {
        widen(&mut self.first_ms, &mut self.last_ms, p.ms);
        if self.points.len() < MAX_POINTS {
            self.points.push(p);
        } else {
            self.points_dropped += 1;
        }
    }
}

/// Successful uses of a key (`access_granted` / `authentication_success` with `apikey.id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Successes {
    pub first_ms: i64,
    pub last_ms: i64,
    pub count: usize,
    /// `path:line` of the last one.
    pub last_source: String,
    /// Client hosts seen authenticating with the key (at most [`MAX_USE_CLIENTS`]).
    pub clients: BTreeSet<String>,
    /// Whom the key authenticated as (its owner; a run-as user too).
    pub users: BTreeSet<String>,
    /// The key's name (`apikey.name`), when an event gave it.
    pub name: Option<String>,
    /// The distinct requests it was granted (`access_granted`: action, and `indices` as the raw
    /// JSON array written, or empty), kept only for keys a command asked about.
    pub requests: BTreeMap<(String, String), RequestUse>,
    /// Distinct requests beyond [`MAX_USE_REQUESTS`], counted and not kept.
    pub requests_dropped: usize,
}

/// How often one distinct granted request was seen, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUse {
    pub count: usize,
    pub first_ms: i64,
    pub last_ms: i64,
    /// The line of the last one.
    pub line: usize,
}

impl RequestUse {
    pub fn saw(&mut self, ms: i64, line: usize) {
        self.count += 1;
        self.first_ms = self.first_ms.min(ms);
        if ms >= self.last_ms {
            self.last_ms = ms;
            self.line = line;
        }
    }

    fn merge(&mut self, other: RequestUse) {
        self.count += other.count;
        self.first_ms = self.first_ms.min(other.first_ms);
        if other.last_ms >= self.last_ms {
            self.last_ms = other.last_ms;
            self.line = other.line;
        }
    }
}

/// Distinct granted requests kept per key asked about: a key that serves a few clients makes
/// tens; one that searches names it makes up (dated indices) is bounded here.
pub const MAX_USE_REQUESTS: usize = 4096;

/// Distinct client hosts kept per key: enough to name who depends on it, bounded in memory.
pub const MAX_USE_CLIENTS: usize = 16;

/// What the audit logs in the input cover.
#[derive(Debug, Clone, Default)]
pub struct AuditCoverage {
    pub files: BTreeSet<String>,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub nodes: BTreeSet<String>,
    /// How many `security_config_change` events were seen.
    pub config_events: usize,
}

impl AuditCoverage {
    /// Widen the covered time range by `ms`.
    pub fn saw(&mut self, ms: i64) {
        widen(&mut self.first_ms, &mut self.last_ms, ms);
    }
}

/// Everything a scan learnt beyond the records it kept.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub nodes: Vec<NodeRef>,
    node_index: BTreeMap<NodeRef, u32>,
    /// Client addresses of failure points, interned.
    pub clients: Vec<String>,
    client_index: FastMap<String, u32>,
    /// By group, unordered: a scan of a million distinct keys merges as many, and ordered keys
    /// cost a string comparison per step (read them in order with a sort where order shows).
    pub groups: FastMap<GroupKey, GroupFacts>,
    /// Note matches not kept, by rule id.
    pub note_counts: BTreeMap<String, usize>,
    /// `security_config_change` events about API keys, with `path` of their file.
    pub config_events: Vec<(String, AuditEvent)>,
    pub successes: BTreeMap<String, Successes>,
    pub denials: Vec<Denial>,
    /// Denials not kept beyond [`MAX_DENIALS`].
    pub denials_dropped: usize,
    /// (node id, node name) pairs seen together.
    pub node_aliases: BTreeSet<(String, String)>,
    pub audit: AuditCoverage,
    /// The newest Elasticsearch version a node logged at start-up.
    pub version: Option<crate::model::Version>,
    /// Every rule match (finding or note) by rule, alias and key: when and where, for joining
    /// two clusters' logs (`scan --remote-logs`).
    pub signals: BTreeMap<SignalKey, Signal>,
    /// The first and last time a log line read carries (server and audit logs read in chunks).
    pub span: Option<(i64, i64)>,
    /// Failures of groups first seen after the scan was following its cap of them.
    pub untracked: Untracked,
}

/// Failures a scan counts without following them (see
/// [`crate::diagnosis::Omitted::tracking_cap`]): per class, the distinct groups by a 64-bit
/// hash of their key (8 bytes each, however long the key) and the failures; and the groups seen
/// more than once, by name and count, up to [`Untracked::MAX_NAMED`], so that a key failing
/// again and again among a flood of one-off ids is still named.
#[derive(Debug, Clone, Default)]
pub struct Untracked {
    pub groups: BTreeMap<Class, FastSet<u64>>,
    pub failures: BTreeMap<Class, usize>,
    named: FastMap<u64, (GroupKey, usize)>,
}

impl Untracked {
    /// Repeated groups kept by name, at most.
    pub const MAX_NAMED: usize = 1000;

    /// Count one match of `key`.
    pub fn saw(&mut self, key: &GroupKey) {
        // One hasher for the whole process: every file's counts must hash a key alike to be
        // merged, and the seed is still not known to whoever wrote the log.
        static HASHER: std::sync::LazyLock<foldhash::fast::RandomState> =
            std::sync::LazyLock::new(Default::default);
        use std::hash::BuildHasher;
        let h = HASHER.hash_one(key);
        *self.failures.entry(key.class()).or_default() += 1;
        if self.groups.entry(key.class()).or_default().insert(h) {
            return;
        }
        // Seen before: count it by name (its first failure and this one, when first named).
        if let Some((_, n)) = self.named.get_mut(&h) {
            *n += 1;
        } else if self.named.len() < Self::MAX_NAMED {
            self.named.insert(h, (key.clone(), 2));
        }
    }

    pub fn merge(&mut self, other: Untracked) {
        for (class, groups) in other.groups {
            self.groups.entry(class).or_default().extend(groups);
        }
        for (class, n) in other.failures {
            *self.failures.entry(class).or_default() += n;
        }
        for (h, (key, n)) in other.named {
            let room = self.named.len() < Self::MAX_NAMED;
            match self.named.get_mut(&h) {
                Some((_, m)) => *m += n,
                None if room => {
                    self.named.insert(h, (key, n));
                }
                None => {}
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.failures.is_empty()
    }

    /// The `n` named groups with the most failures: (class, key id, failures), most first.
    pub fn most_frequent(&self, n: usize) -> Vec<(Class, String, usize)> {
        let mut top: Vec<(Class, String, usize)> = self
            .named
            .values()
            .filter_map(|(key, count)| Some((key.class(), key.key()?.to_string(), *count)))
            .collect();
        top.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
        top.truncate(n);
        top
    }
}

/// Which rule matched, for which remote cluster alias and key id (each when the text names it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignalKey {
    pub rule_id: String,
    pub remote: Option<String>,
    pub key_id: Option<String>,
}

/// Widen the range `first`..`last` to take in `ms`.
pub fn widen(first: &mut Option<i64>, last: &mut Option<i64>, ms: i64) {
    *first = Some(first.map_or(ms, |f| f.min(ms)));
    *last = Some(last.map_or(ms, |l| l.max(ms)));
}

/// Nodes named per signal, at most.
const MAX_SIGNAL_NODES: usize = 16;

/// Where and when one [`SignalKey`] was seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signal {
    pub count: usize,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    /// The first record seen: file and line.
    pub source: String,
    pub line: usize,
    pub nodes: BTreeSet<String>,
}

impl Signal {
    /// Count one more match, at `ms` on `node`.
    pub fn saw(&mut self, ms: Option<i64>, node: Option<&str>) {
        self.count += 1;
        if let Some(ms) = ms {
            widen(&mut self.first_ms, &mut self.last_ms, ms);
        }
        if let Some(n) = node {
            if self.nodes.len() < MAX_SIGNAL_NODES && !self.nodes.contains(n) {
                self.nodes.insert(n.to_string());
            }
        }
    }

    fn merge(&mut self, other: Signal) {
        if self.count == 0 {
            self.source = other.source;
            self.line = other.line;
        }
        self.count += other.count;
        for ms in [other.first_ms, other.last_ms].into_iter().flatten() {
            widen(&mut self.first_ms, &mut self.last_ms, ms);
        }
        for n in other.nodes {
            if self.nodes.len() < MAX_SIGNAL_NODES {
                self.nodes.insert(n);
            }
        }
    }
}

impl Facts {
    /// The index of `node`, adding it if new.
    pub fn intern(&mut self, node: NodeRef) -> u32 {
        if let Some(idx) = self.node_index.get(&node) {
            return *idx;
        }
        let idx = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
        self.nodes.push(node.clone());
        self.node_index.insert(node, idx);
        idx
    }

    /// The index of a failure's client address, adding it if new ([`Point::NO_CLIENT`] for
    /// none, and past `u32` indices).
    pub fn intern_client(&mut self, client: Option<&str>) -> u32 {
        let Some(client) = client else {
            return Point::NO_CLIENT;
        };
        if let Some(idx) = self.client_index.get(client) {
            return *idx;
        }
        let Ok(idx) = u32::try_from(self.clients.len()) else {
            return Point::NO_CLIENT;
        };
        if idx == Point::NO_CLIENT {
            return idx;
        }
        self.clients.push(client.to_string());
        self.client_index.insert(client.to_string(), idx);
        idx
    }

    /// How a failure's node is shown: its name (or the name its id is known by), else its id,
    /// else the directory of its log (a client's own log names no node).
    pub fn node_label(&self, idx: u32) -> String {
        let Some(node) = self.nodes.get(idx as usize) else {
            return "unknown node".into();
        };
        if let Some(name) = &node.name {
            return name.clone();
        }
        if let Some(id) = &node.id {
            return self
                .node_aliases
                .iter()
                .find(|(i, _)| i == id)
                .map_or_else(|| id.clone(), |(_, name)| name.clone());
        }
        // The log's own directory names the client (`filebeat/`), not the path to it.
        match node.dir.trim_end_matches('/').rsplit('/').next() {
            Some(last) if !last.is_empty() => format!("{last}/"),
            _ => "the input".into(),
        }
    }

    /// Add `other` (a later file's facts) to these.
    pub fn merge(&mut self, other: Facts) {
        let remap: Vec<u32> = other.nodes.into_iter().map(|n| self.intern(n)).collect();
        let at = |i: u32| remap.get(i as usize).copied().unwrap_or(i);
        let clients: Vec<u32> = other
            .clients
            .iter()
            .map(|c| self.intern_client(Some(c)))
            .collect();
        let client_at = |i: u32| clients.get(i as usize).copied().unwrap_or(Point::NO_CLIENT);
        for (key, g) in other.groups {
            let mine = self.groups.entry(key).or_default();
            mine.tally.count += g.tally.count;
            mine.tally.nodes.extend(g.tally.nodes);
            mine.tally.clients.extend(g.tally.clients);
            mine.tally.actions.extend(g.tally.actions);
            mine.tally.indices.extend(g.tally.indices);
            mine.tally.statuses.extend(g.tally.statuses);
            for p in g.points {
                mine.add_point(Point {
                    node: at(p.node),
                    client: client_at(p.client),
                    ms: p.ms,
                });
            }
            mine.points_dropped += g.points_dropped;
            for ms in [g.first_ms, g.last_ms].into_iter().flatten() {
                widen(&mut mine.first_ms, &mut mine.last_ms, ms);
            }
        }
        for (rule, n) in other.note_counts {
            *self.note_counts.entry(rule).or_default() += n;
        }
        self.config_events.extend(other.config_events);
        for (id, s) in other.successes {
            self.add_success(&id, s);
        }
        for d in other.denials {
            self.add_denial(Denial {
                node: at(d.node),
                ..d
            });
        }
        self.denials_dropped += other.denials_dropped;
        self.node_aliases.extend(other.node_aliases);
        self.version = self.version.max(other.version);
        for (key, sig) in other.signals {
            self.signals.entry(key).or_default().merge(sig);
        }
        self.untracked.merge(other.untracked);
        if let Some((a, b)) = other.span {
            self.widen_span(a);
            self.widen_span(b);
        }
        self.audit.files.extend(other.audit.files);
        self.audit.nodes.extend(other.audit.nodes);
        self.audit.config_events += other.audit.config_events;
        for ms in [other.audit.first_ms, other.audit.last_ms]
            .into_iter()
            .flatten()
        {
            self.audit.saw(ms);
        }
    }

    /// Widen the time the logs read cover by `ms`.
    pub fn widen_span(&mut self, ms: i64) {
        self.span = Some(match self.span {
            Some((a, b)) => (a.min(ms), b.max(ms)),
            None => (ms, ms),
        });
    }

    /// Record an `anonymous_access_denied` event (the first [`MAX_DENIALS`] are kept).
    pub fn add_denial(&mut self, d: Denial) {
        if self.denials.len() < MAX_DENIALS {
            self.denials.push(d);
        } else {
            self.denials_dropped += 1;
        }
    }

    /// Record successes of key `id`.
    pub fn add_success(&mut self, id: &str, s: Successes) {
        match self.successes.get_mut(id) {
            Some(mine) => {
                mine.count += s.count;
                mine.first_ms = mine.first_ms.min(s.first_ms);
                if s.last_ms >= mine.last_ms {
                    mine.last_ms = s.last_ms;
                    mine.last_source = s.last_source;
                }
                for c in s.clients {
                    if mine.clients.len() < MAX_USE_CLIENTS {
                        mine.clients.insert(c);
                    }
                }
                mine.users.extend(s.users);
                if mine.name.is_none() {
                    mine.name = s.name;
                }
                mine.requests_dropped += s.requests_dropped;
                for (k, r) in s.requests {
                    let full = mine.requests.len() >= MAX_USE_REQUESTS;
                    match mine.requests.get_mut(&k) {
                        Some(m) => m.merge(r),
                        None if full => {
                            mine.requests_dropped += 1;
                        }
                        None => {
                            mine.requests.insert(k, r);
                        }
                    }
                }
            }
            None => {
                self.successes.insert(id.to_string(), s);
            }
        }
    }

    fn same_node(&self, a: u32, b: u32) -> bool {
        let (Some(a), Some(b)) = (self.nodes.get(a as usize), self.nodes.get(b as usize)) else {
            return false;
        };
        if let (Some(x), Some(y)) = (&a.name, &b.name) {
            return x == y;
        }
        if let (Some(x), Some(y)) = (&a.id, &b.id) {
            return x == y;
        }
        let alias = |id: &Option<String>, name: &Option<String>| match (id, name) {
            (Some(id), Some(name)) => Some(self.node_aliases.contains(&(id.clone(), name.clone()))),
            _ => None,
        };
        if let Some(known) = alias(&a.id, &b.name).or_else(|| alias(&b.id, &a.name)) {
            if known {
                return true;
            }
            // Names and ids that no line ties together: fall back to the directory.
        }
        a.dir == b.dir
    }
}

/// A key as the metadata and the audit log describe it.
#[derive(Debug, Clone, Default)]
struct KnownKey {
    name: Option<String>,
    owner: Option<String>,
    created: Option<(i64, String)>,
    expiration: Option<(i64, String)>,
    invalidated: Option<(i64, String)>,
    invalidated_flag: bool,
}

fn known_keys(keys: &[KeyMetadata], facts: &Facts) -> BTreeMap<String, KnownKey> {
    let mut out: BTreeMap<String, KnownKey> = BTreeMap::new();
    // Metadata pieced together from audit events is read from those events below, with their
    // own sources.
    for k in keys.iter().filter(|k| k.derived_from.is_none()) {
        let known = out.entry(k.id.clone()).or_default();
        known.name = known.name.take().or_else(|| k.name.clone());
        known.owner = k.username.as_ref().map(|u| match &k.realm {
            Some(r) => format!("{u}@{r}"),
            None => u.clone(),
        });
        if let Some(ms) = k.creation_ms {
            known.created = Some((ms, "key metadata".into()));
        }
        if let Some(ms) = k.expiration_ms {
            known.expiration = Some((ms, "key metadata".into()));
        }
        if let Some(ms) = k.invalidation_ms {
            known.invalidated = Some((ms, "key metadata".into()));
        }
        known.invalidated_flag |= k.invalidated;
    }
    for (file, e) in &facts.config_events {
        let Some(ms) = e.timestamp.as_deref().and_then(parse_ts) else {
            continue;
        };
        let source = format!("{file}:{}", e.line);
        if e.action == AuditAction::CreateApiKey {
            if let Some(id) = &e.created_id {
                let known = out.entry(id.clone()).or_default();
                if known.name.is_none() {
                    known.name = e.created_name.clone();
                }
                known.created.get_or_insert((ms, source.clone()));
                if let Some(exp) = e.expiration.as_deref().and_then(parse_time_value) {
                    known.expiration.get_or_insert((
                        ms + exp,
                        format!(
                            "{source} (created with expiration {})",
                            e.expiration.as_deref().unwrap_or("?")
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// What the live cluster answered about the keys of a diagnosis.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// `https://… (Elasticsearch 8.12.2, cluster prod)`.
    pub label: String,
    /// The keys it returned.
    pub keys: Vec<KeyMetadata>,
    /// Ids it does not know.
    pub absent: Vec<String>,
    /// What it could not show (privileges of keydoctor's credentials).
    pub notes: Vec<String>,
}

/// Confirm or contradict each finding with the cluster's view of its key: metadata is joined as
/// pasted metadata would be (a hidden 401 decided, limits located), a key the cluster does not
/// know decides a hidden 401 as `missing`, and every finding says what the cluster shows.
pub fn confirm(diagnosis: &mut Diagnosis, view: &ClusterView, rules: &RuleSet, opts: &Options) {
    super::classify::apply_metadata(&mut diagnosis.findings, &view.keys, rules, opts);
    let label = &view.label;
    for f in &mut diagnosis.findings {
        let Some(id) = f.key_id.clone() else {
            continue;
        };
        if view.absent.contains(&id) {
            let verdict = match f.class {
                Class::AuthenticationUnresolved => {
                    decide(
                        f,
                        Class::Missing,
                        &say(
                            "decided.absent",
                            &[("label", label.clone()), ("key_id", id.clone())],
                        ),
                        rules,
                        opts,
                    );
                    ClusterVerdict::DecidedAbsent
                }
                Class::Missing => ClusterVerdict::ConfirmedAbsent,
                Class::Invalidated | Class::Expired => ClusterVerdict::Deleted,
                _ => ClusterVerdict::AbsentYetAuthenticated,
            };
            f.state(Fact::Cluster(ClusterSays {
                verdict,
                label: label.clone(),
                key_id: id,
                state: None,
            }));
            continue;
        }
        let Some(meta) = view.keys.iter().find(|k| k.id == id) else {
            continue;
        };
        let state = meta.state(opts.now_ms);
        let cross = meta.key_type == Some(KeyType::CrossCluster);
        let verdict = match (f.class, state) {
            (Class::Missing, _) => {
                // The metadata pass just read the cluster's answer as pasted metadata; what
                // it said of a missing key is this contradiction, stated below.
                f.facts.retain(|s| {
                    !matches!(
                        s.fact,
                        Fact::Limit(Limit::ListedElsewhere { .. } | Limit::DeletedSince { .. })
                    )
                });
                ClusterVerdict::ContradictsMissing
            }
            (Class::Invalidated, KeyState::Invalidated) | (Class::Expired, KeyState::Expired) => {
                ClusterVerdict::Confirmed
            }
            (Class::Invalidated | Class::Expired, KeyState::Active) => {
                ClusterVerdict::ContradictsState
            }
            (Class::AuthenticationUnresolved, KeyState::Active) if cross => {
                decide(
                    f,
                    Class::WrongKeyType,
                    &say(
                        "decided.cross_cluster",
                        &[("label", label.clone()), ("key_id", id.clone())],
                    ),
                    rules,
                    opts,
                );
                ClusterVerdict::DecidedCrossCluster
            }
            _ => ClusterVerdict::Shows,
        };
        f.state(Fact::Cluster(ClusterSays {
            verdict,
            label: label.clone(),
            key_id: id,
            state: Some(state),
        }));
    }
    for note in &view.notes {
        if !diagnosis.notes.iter().any(|n| &n.message == note) {
            diagnosis.notes.push(super::Note {
                rule_id: None,
                message: note.clone(),
                source: None,
                line: None,
                count: 1,
            });
        }
    }
}

/// The sentences this pass says, with their fields (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[
    ("decided.prefix", &["because", "explanation"]),
    ("decided.absent", &["label", "key_id"]),
    ("decided.cross_cluster", &["label", "key_id"]),
    (
        "decided.wrong_secret",
        &["label", "key_id", "var", "reason"],
    ),
    ("said.derived_from.audit_create", &["file", "line"]),
    ("said.invalidated_by.name_selector", &["selector"]),
    ("said.invalidated_by.owner_selector", &["selector"]),
    ("said.timeline.last_success", &["count", "since"]),
];

/// Turn a hidden 401 into `class`, with that class's canonical rule's texts, saying why.
fn decide(f: &mut Finding, class: Class, because: &str, rules: &RuleSet, opts: &Options) {
    let Some(rule) = rules
        .rules
        .iter()
        .find(|r| r.class == crate::model::RuleClass::Finding(class) && r.canonical())
    else {
        return;
    };
    f.class = class;
    f.rule_id = rule.id.clone();
    f.severity = rule.severity;
    f.candidates.clear();
    super::classify::retext(f, rules, opts);
    f.explanation = say(
        "decided.prefix",
        &[
            ("because", because.to_string()),
            ("explanation", std::mem::take(&mut f.explanation)),
        ],
    );
}

/// What the key under study (`--with-key-env`) did when keydoctor used it on the cluster.
#[derive(Debug, Clone, Default)]
pub struct KeyProbe {
    pub id: String,
    /// The environment variable it came from.
    pub var: String,
    /// `the cluster at …`.
    pub label: String,
    /// `Ok(())` when `GET /_security/_authenticate` accepted it, `Err(reason)` on a 401.
    pub authenticates: Option<Result<(), String>>,
    /// `_has_privileges` answers: (privilege, index or `None` for cluster, granted).
    pub privileges: Vec<(String, Option<String>, bool)>,
}

/// Join what the key itself did with the findings about it: an active key the cluster rejects
/// has a wrong secret; a key the cluster accepts is not what fails (another key or cluster);
/// `_has_privileges` confirms or contradicts a denial.
pub fn apply_probe(diagnosis: &mut Diagnosis, probe: &KeyProbe, rules: &RuleSet, opts: &Options) {
    let (id, var, label) = (&probe.id, &probe.var, &probe.label);
    for f in &mut diagnosis.findings {
        if f.key_id.as_deref() != Some(id.as_str()) {
            continue;
        }
        let active = f.key.metadata_state == Some(crate::model::KeyState::Active);
        let says = |verdict| {
            Fact::Probe(ProbeSays {
                verdict,
                var: var.clone(),
                label: label.clone(),
                key_id: id.clone(),
            })
        };
        match (&probe.authenticates, f.class) {
            (Some(Err(reason)), Class::AuthenticationUnresolved) if active => {
                decide(
                    f,
                    Class::MalformedCredentials,
                    &say(
                        "decided.wrong_secret",
                        &[
                            ("label", label.clone()),
                            ("key_id", id.clone()),
                            ("var", var.clone()),
                            ("reason", reason.clone()),
                        ],
                    ),
                    rules,
                    opts,
                );
                f.state(says(ProbeVerdict::DecidedWrongSecret));
            }
            (Some(Err(reason)), _) => f.state(says(ProbeVerdict::Rejected {
                reason: reason.clone(),
            })),
            (
                Some(Ok(())),
                Class::AuthenticationUnresolved
                | Class::Missing
                | Class::Invalidated
                | Class::Expired
                | Class::MalformedCredentials,
            ) => f.state(says(ProbeVerdict::ContradictsFailure)),
            (Some(Ok(())), _) => f.state(says(ProbeVerdict::Authenticates)),
            (None, _) => {}
        }
        if f.class == Class::UnderPrivileged {
            let index = f.denial.indices.first().cloned();
            let cluster = f.denial.privilege_kind == Some(crate::model::PrivilegeKind::Cluster);
            if let Some((privilege, on, granted)) = probe.privileges.iter().find(|(p, on, _)| {
                Some(p) == f.denial.least_privilege.as_ref()
                    && (cluster && on.is_none() || !cluster && on == &index)
            }) {
                let (privilege, index) = (privilege.clone(), on.clone());
                f.state(says(if *granted {
                    ProbeVerdict::Holds { privilege, index }
                } else {
                    ProbeVerdict::Lacks { privilege, index }
                }));
            }
        }
    }
}

/// Key metadata pieced together from audit `create_apikey` events (and the `change_apikey` and
/// `invalidate_apikeys` events that follow), for keys the input has no metadata for. The
/// descriptors a create event records are a list without role names: they are named
/// `descriptor-1`, `descriptor-2`, ….
pub fn metadata_from_audit(facts: &Facts, known: &[KeyMetadata]) -> Vec<KeyMetadata> {
    let mut out: Vec<KeyMetadata> = Vec::new();
    let mut events: Vec<&(String, AuditEvent)> = facts.config_events.iter().collect();
    events.sort_by_key(|(_, e)| e.timestamp.as_deref().and_then(parse_ts));
    let named = |list: &serde_json::Value| -> serde_json::Value {
        match list {
            serde_json::Value::Array(items) => serde_json::Value::Object(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, rd)| (format!("descriptor-{}", i + 1), rd.clone()))
                    .collect(),
            ),
            other => other.clone(),
        }
    };
    for (file, e) in events {
        let ms = e.timestamp.as_deref().and_then(parse_ts);
        match &e.action {
            AuditAction::CreateApiKey => {
                let Some(id) = &e.created_id else { continue };
                if known.iter().any(|k| &k.id == id) || out.iter().any(|k| &k.id == id) {
                    continue;
                }
                let expiration = e.expiration.as_deref().and_then(parse_time_value);
                out.push(KeyMetadata {
                    id: id.clone(),
                    name: e.created_name.clone(),
                    key_type: e.key_type,
                    creation_ms: ms,
                    expiration_ms: ms.zip(expiration).map(|(c, x)| c + x),
                    invalidated: false,
                    invalidation_ms: None,
                    username: e.user.clone(),
                    realm: e.realm.clone(),
                    realm_type: None,
                    profile_uid: None,
                    role_descriptors: e.role_descriptors.as_ref().map(named),
                    limited_by: None,
                    access: None,
                    metadata: None,
                    line: e.line,
                    derived_from: Some(say(
                        "said.derived_from.audit_create",
                        &[("file", file.to_string()), ("line", e.line.to_string())],
                    )),
                });
            }
            AuditAction::ChangeApiKey | AuditAction::ChangeApiKeys => {
                for key in out.iter_mut().filter(|k| e.changed_ids.contains(&k.id)) {
                    if let Some(rd) = &e.role_descriptors {
                        key.role_descriptors = Some(named(rd));
                    }
                    if let Some(x) = e.expiration.as_deref().and_then(parse_time_value) {
                        key.expiration_ms = ms.map(|m| m + x);
                    }
                }
            }
            AuditAction::InvalidateApiKeys => {
                for key in out.iter_mut().filter(|k| e.invalidated_ids.contains(&k.id)) {
                    key.invalidated = true;
                    key.invalidation_ms = ms;
                }
            }
            _ => {}
        }
    }
    out
}

/// Enrich `diagnosis` with what the scan gathered.
pub fn enrich(
    diagnosis: &mut Diagnosis,
    facts: &Facts,
    keys: &[KeyMetadata],
    rules: &RuleSet,
    opts: &Options,
) {
    let now_ms = opts.now_ms;
    let known = known_keys(keys, facts);
    let mut denials: Vec<&Denial> = facts.denials.iter().collect();
    denials.sort_by_key(|d| d.ms);
    for note in &mut diagnosis.notes {
        if let Some(rule) = &note.rule_id {
            note.count += facts.note_counts.get(rule).copied().unwrap_or(0);
        }
    }
    let mut points_by_finding = Vec::new();
    for finding in &mut diagnosis.findings {
        let mut points = Vec::new();
        let mut dropped = 0;
        let mut span: Option<(i64, i64)> = None;
        for group in finding.groups.clone() {
            let Some(g) = facts.groups.get(&group) else {
                continue;
            };
            add_tally(finding, &g.tally);
            points.extend(g.points.iter().copied());
            dropped += g.points_dropped;
            if let (Some(f), Some(l)) = (g.first_ms, g.last_ms) {
                span = Some(span.map_or((f, l), |(a, b)| (a.min(f), b.max(l))));
            }
        }
        points.sort_by_key(|p| p.ms);
        if !points.is_empty() {
            let lanes = points.iter().map(|p| {
                let client = facts.clients.get(p.client as usize).cloned();
                (facts.node_label(p.node), client, p.ms)
            });
            let untimed = finding.activity.as_ref().map_or(0, |a| a.untimed);
            finding.activity = super::activity::Activity::build(lanes, dropped, untimed);
        }
        if let Some((first, last)) = span {
            finding.observed.first_seen = Some(format_ms(first));
            finding.observed.last_seen = Some(format_ms(last));
        }
        if finding.class.explains_401() && finding.observed.client_addresses.is_empty() {
            let bounded = (dropped > 0 || facts.denials_dropped > 0).then_some(Bounded {
                points: points.len(),
                denials: facts.denials.len(),
                points_dropped: dropped,
                denials_dropped: facts.denials_dropped,
            });
            join_clients(finding, &points, &denials, facts, bounded);
        }
        let before = finding.key_id.clone();
        attribute_expired(finding, span.map(|s| s.0), &known, now_ms);
        let inferred = finding
            .key_id_source
            .is_some_and(crate::model::KeyIdSource::is_inferred);
        if finding.key_id != before || inferred {
            if let Some(meta) = finding
                .key_id
                .as_deref()
                .and_then(|id| keys.iter().find(|k| k.id == id))
            {
                super::classify::attach_metadata(finding, meta, opts);
            }
            super::classify::retext(finding, rules, opts);
        }
        // Client addresses name hosts; the source port of each connection is noise here.
        let mut hosts: Vec<String> = Vec::new();
        for a in &finding.observed.client_addresses {
            let h = host_of(a).to_string();
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        finding.observed.client_addresses = hosts;
        correlate_invalidation(finding, facts, &known);
        points_by_finding.push(span);
    }
    // A group the final diagnosis regrouped (its key was resolved differently once the kept
    // records were put together) must not lose its count: give it to the finding of the same
    // class and key, else of the same class.
    // A group left out by --max-findings is counted there, whole, not given to another.
    let taken: BTreeSet<&GroupKey> = diagnosis
        .findings
        .iter()
        .flat_map(|f| f.groups.iter())
        .chain(diagnosis.omitted.iter().flat_map(|o| o.groups.iter()))
        .collect();
    let mut orphans: Vec<(&GroupKey, &super::correlate::GroupFacts)> = facts
        .groups
        .iter()
        .filter(|(k, g)| !taken.contains(k) && g.tally.count > 0)
        .collect();
    orphans.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (key, g) in orphans {
        let target = diagnosis
            .findings
            .iter()
            .position(|f| f.class == key.class() && f.key_id.as_deref() == key.key())
            .or_else(|| {
                diagnosis
                    .findings
                    .iter()
                    .position(|f| f.class == key.class())
            });
        if let Some(t) = target {
            add_tally(&mut diagnosis.findings[t], &g.tally);
        }
    }
    // Timelines: per key, across every finding of that key.
    let mut failures: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (finding, span) in diagnosis.findings.iter().zip(&points_by_finding) {
        if let (Some(id), Some((first, last))) = (&finding.key_id, span) {
            let entry = failures.entry(id.clone()).or_insert((*first, *last));
            entry.0 = entry.0.min(*first);
            entry.1 = entry.1.max(*last);
        }
    }
    for finding in &mut diagnosis.findings {
        if let Some(id) = finding.key_id.clone() {
            finding.timeline = timeline(
                &id,
                known.get(&id),
                facts,
                failures.get(&id).copied(),
                now_ms,
            );
        }
    }
}

fn add_tally(finding: &mut Finding, t: &Tally) {
    finding.count += t.count;
    let extend = |list: &mut Vec<String>, more: &BTreeSet<String>| {
        for v in more {
            if !list.contains(v) {
                list.push(v.clone());
            }
        }
    };
    extend(&mut finding.observed.nodes, &t.nodes);
    extend(&mut finding.observed.client_addresses, &t.clients);
    extend(&mut finding.denial.actions, &t.actions);
    extend(&mut finding.denial.indices, &t.indices);
    finding.observed.nodes.sort();
    finding.observed.client_addresses.sort();
    for s in &t.statuses {
        if !finding.observed.statuses.contains(s) {
            finding.observed.statuses.push(*s);
        }
    }
    finding.observed.statuses.sort_unstable();
}

/// `10.0.0.7:52434` → `10.0.0.7`; `[::1]:9200` → `::1`.
pub(crate) fn host_of(origin: &str) -> &str {
    if let Some(rest) = origin.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match origin.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => origin,
    }
}

fn join_clients(
    finding: &mut Finding,
    points: &[Point],
    denials: &[&Denial],
    facts: &Facts,
    bounded: Option<Bounded>,
) {
    if points.is_empty() || denials.is_empty() {
        return;
    }
    // Only failures logged by a node can be joined; a client's own log lines cannot.
    let points: Vec<&Point> = points
        .iter()
        .filter(|p| {
            facts
                .nodes
                .get(p.node as usize)
                .is_some_and(|n| n.name.is_some() || n.id.is_some())
        })
        .collect();
    let mut by_client: BTreeMap<&str, usize> = BTreeMap::new();
    let mut joined = 0;
    for p in &points {
        let from = denials.partition_point(|d| d.ms < p.ms - JOIN_WINDOW_MS);
        let best = denials[from..]
            .iter()
            .take_while(|d| d.ms <= p.ms + JOIN_WINDOW_MS)
            .filter(|d| facts.same_node(d.node, p.node))
            .min_by_key(|d| (d.ms - p.ms).abs());
        if let Some(d) = best {
            joined += 1;
            *by_client.entry(host_of(&d.origin)).or_default() += 1;
        }
    }
    if joined == 0 {
        return;
    }
    let mut clients: Vec<(&str, usize)> = by_client.into_iter().collect();
    clients.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    finding.state(Fact::ClientJoin(ClientJoin {
        clients: clients
            .iter()
            .map(|(c, n)| ((*c).to_string(), *n))
            .collect(),
        logged: points.len(),
        window_s: JOIN_WINDOW_MS / 1000,
        bounded,
    }));
    for (c, _) in clients {
        if !finding.observed.client_addresses.iter().any(|a| a == c) {
            finding.observed.client_addresses.push(c.to_string());
        }
    }
}

/// `api key is expired` names no key: the keys that had expired before the first failure.
fn attribute_expired(
    finding: &mut Finding,
    first: Option<i64>,
    known: &BTreeMap<String, KnownKey>,
    now_ms: i64,
) {
    if finding.class != Class::Expired || finding.key_id_placeholder.is_some() {
        return;
    }
    let inferred_before = finding
        .key_id_source
        .is_some_and(crate::model::KeyIdSource::is_pasted_metadata);
    if finding.key_id.is_some() && !inferred_before {
        return;
    }
    let limit = first.unwrap_or(now_ms) + JOIN_WINDOW_MS;
    let mut matching: Vec<(&String, &(i64, String))> = known
        .iter()
        .filter_map(|(id, k)| k.expiration.as_ref().map(|e| (id, e)))
        .filter(|(_, (ms, _))| *ms <= limit)
        .collect();
    matching.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    let first_failure = first.map(format_ms);
    match matching.as_slice() {
        [] => {
            if inferred_before {
                return;
            }
            finding.state(Fact::KeyInference(KeyInference::NoneExpired {
                first_failure,
            }));
        }
        [(id, (ms, source))] => {
            finding.key_id = Some((*id).clone());
            finding.key_id_source = Some(crate::model::KeyIdSource::Inference);
            finding.state(Fact::KeyInference(KeyInference::OnlyExpired {
                key_id: (*id).clone(),
                first_failure,
                expiration: format_ms(*ms),
                source: source.clone(),
            }));
        }
        many => {
            if inferred_before {
                finding.key_id = None;
                finding.key_id_source = None;
                finding.key.metadata = None;
                finding.key.metadata_state = None;
            }
            finding.key.key_candidates = many
                .iter()
                .map(|(id, (ms, _))| format!("{id} (expired {})", format_ms(*ms)))
                .collect();
            finding.state(Fact::KeyInference(KeyInference::ManyExpired {
                count: many.len(),
                first_failure,
            }));
        }
    }
}

fn correlate_invalidation(
    finding: &mut Finding,
    facts: &Facts,
    known: &BTreeMap<String, KnownKey>,
) {
    if finding.class != Class::Invalidated || finding.key.invalidated_by.is_some() {
        return;
    }
    let Some(id) = finding.key_id.clone() else {
        return;
    };
    let key = known.get(&id);
    let found = facts
        .config_events
        .iter()
        .filter(|(_, e)| e.action == AuditAction::InvalidateApiKeys)
        .find_map(|(file, e)| {
            if e.invalidated_ids.contains(&id) {
                return Some((file, e, None));
            }
            let k = key?;
            if let (Some(sel), Some(name)) = (&e.invalidated_name, &k.name) {
                if sel == name || sel.strip_suffix('*').is_some_and(|p| name.starts_with(p)) {
                    return Some((
                        file,
                        e,
                        Some(say(
                            "said.invalidated_by.name_selector",
                            &[("selector", sel.clone())],
                        )),
                    ));
                }
            }
            if let (Some(sel), Some(owner)) = (&e.invalidated_owner, &k.owner) {
                if sel == owner && e.invalidated_ids.is_empty() && e.invalidated_name.is_none() {
                    return Some((
                        file,
                        e,
                        Some(say(
                            "said.invalidated_by.owner_selector",
                            &[("selector", sel.clone())],
                        )),
                    ));
                }
            }
            None
        });
    if let Some((file, e, matched_by)) = found {
        finding.key.invalidated_by = Some(InvalidatedBy {
            timestamp: e.timestamp.clone(),
            user: e.user.clone(),
            realm: e.realm.clone(),
            origin: e.origin.clone(),
            node: e.node.clone(),
            source: file.clone(),
            line: e.line,
            matched_by,
        });
        return;
    }
    let a = &facts.audit;
    let gap = if a.files.is_empty() {
        AuditGap::NoAuditLog
    } else if a.config_events == 0 {
        AuditGap::NoConfigEvents {
            files: a.files.len(),
            nodes: a.nodes.iter().cloned().collect(),
        }
    } else {
        AuditGap::NotNamed {
            nodes: a.nodes.iter().cloned().collect(),
            window: match (a.first_ms, a.last_ms) {
                (Some(f), Some(l)) => Some((format_ms(f), format_ms(l))),
                _ => None,
            },
        }
    };
    finding.state(Fact::AuditGap(gap));
}

fn timeline(
    id: &str,
    key: Option<&KnownKey>,
    facts: &Facts,
    failures: Option<(i64, i64)>,
    now_ms: i64,
) -> Vec<TimelineEntry> {
    let mut out = Vec::new();
    fn push(
        out: &mut Vec<TimelineEntry>,
        ms: i64,
        event: TimelineEvent,
        text: String,
        source: Option<String>,
    ) {
        out.push(TimelineEntry {
            at: format_ms(ms),
            ms,
            event,
            text,
            source,
        });
    }
    // The audit log says who and from where: its events come first; the metadata fills in what
    // the audit log does not have.
    for (file, e) in &facts.config_events {
        let Some(ms) = e.timestamp.as_deref().and_then(parse_ts) else {
            continue;
        };
        let by = e
            .user
            .as_ref()
            .map(|u| {
                format!(
                    " by {u}{}",
                    e.realm
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default();
        let from = e
            .origin
            .as_ref()
            .map(|o| format!(" from {o}"))
            .unwrap_or_default();
        let source = Some(format!("{file}:{}", e.line));
        match &e.action {
            AuditAction::CreateApiKey if e.created_id.as_deref() == Some(id) => {
                let expiration = e
                    .expiration
                    .as_ref()
                    .map(|x| format!(", expiration {x}"))
                    .unwrap_or_else(|| ", no expiration".into());
                push(
                    &mut out,
                    ms,
                    TimelineEvent::Created,
                    format!("key created{by}{from}{expiration}"),
                    source,
                );
            }
            AuditAction::ChangeApiKey | AuditAction::ChangeApiKeys
                if e.changed_ids.iter().any(|i| i == id) =>
            {
                push(
                    &mut out,
                    ms,
                    TimelineEvent::Updated,
                    format!("key updated{by}{from}"),
                    source,
                );
            }
            AuditAction::InvalidateApiKeys if e.invalidated_ids.iter().any(|i| i == id) => {
                push(
                    &mut out,
                    ms,
                    TimelineEvent::Invalidated,
                    format!("key invalidated{by}{from}"),
                    source,
                );
            }
            _ => {}
        }
    }
    let has = |out: &[TimelineEntry], event: TimelineEvent| out.iter().any(|t| t.event == event);
    if let Some(k) = key {
        if let Some((ms, src)) = &k.created {
            if !has(&out, TimelineEvent::Created) {
                push(
                    &mut out,
                    *ms,
                    TimelineEvent::Created,
                    format!(
                        "key created{}",
                        k.owner
                            .as_ref()
                            .map(|o| format!(" for {o}"))
                            .unwrap_or_default()
                    ),
                    Some(src.clone()),
                );
            }
        }
        if let Some((ms, src)) = &k.expiration {
            let (event, verb) = if *ms <= now_ms {
                (TimelineEvent::Expired, "expired")
            } else {
                (TimelineEvent::Expires, "expires")
            };
            push(
                &mut out,
                *ms,
                event,
                format!("key {verb}"),
                Some(src.clone()),
            );
        }
        if let Some((ms, src)) = &k.invalidated {
            if !has(&out, TimelineEvent::Invalidated) {
                push(
                    &mut out,
                    *ms,
                    TimelineEvent::Invalidated,
                    "key invalidated".into(),
                    Some(src.clone()),
                );
            }
        }
    }
    if let Some(s) = facts.successes.get(id) {
        push(
            &mut out,
            s.last_ms,
            TimelineEvent::LastSuccess,
            say(
                "said.timeline.last_success",
                &[
                    ("count", s.count.to_string()),
                    ("since", format_ms(s.first_ms)),
                ],
            ),
            Some(s.last_source.clone()),
        );
    }
    if let Some((first, last)) = failures {
        push(
            &mut out,
            first,
            TimelineEvent::FirstFailure,
            "first failure".into(),
            None,
        );
        if last != first {
            push(
                &mut out,
                last,
                TimelineEvent::LastFailure,
                "last failure".into(),
                None,
            );
        }
    }
    out.sort_by_key(|t| t.ms);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_times_are_bounded_but_first_and_last_stay_exact() {
        let mut g = GroupFacts::default();
        for ms in 0..(MAX_POINTS as i64 + 10) {
            g.add_point(Point {
                node: 0,
                client: Point::NO_CLIENT,
                ms: 1_000_000 - ms,
            });
        }
        assert_eq!(g.points.len(), MAX_POINTS);
        assert_eq!(g.points_dropped, 10);
        assert_eq!(g.first_ms, Some(1_000_000 - MAX_POINTS as i64 - 9));
        assert_eq!(g.last_ms, Some(1_000_000));
        let mut f = Facts::default();
        let mut other = Facts::default();
        other.groups.insert(GroupKey::for_tests(Class::Expired), g);
        f.merge(other);
        let merged = f.groups.values().next().unwrap();
        assert_eq!(merged.points.len(), MAX_POINTS);
        assert_eq!(merged.points_dropped, 10);
        assert_eq!(merged.first_ms, Some(1_000_000 - MAX_POINTS as i64 - 9));
    }

    #[test]
    fn origins_lose_their_port() {
        assert_eq!(host_of("10.0.0.7:52434"), "10.0.0.7");
        assert_eq!(host_of("[::1]:9200"), "::1");
        assert_eq!(host_of("10.0.0.7"), "10.0.0.7");
    }

    #[test]
    fn nodes_match_by_name_id_alias_or_directory() {
        let mut f = Facts::default();
        let named = f.intern(NodeRef {
            name: Some("es-1".into()),
            id: None,
            dir: "a".into(),
        });
        let by_id = f.intern(NodeRef {
            name: None,
            id: Some("0RMN".into()),
            dir: "b".into(),
        });
        let bare = f.intern(NodeRef {
            name: None,
            id: None,
            dir: "a".into(),
        });
        assert!(!f.same_node(named, by_id));
        f.node_aliases.insert(("0RMN".into(), "es-1".into()));
        assert!(f.same_node(named, by_id));
        assert!(f.same_node(named, bare));
        assert!(!f.same_node(by_id, bare));
    }
}
