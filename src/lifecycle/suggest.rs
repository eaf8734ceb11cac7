//! `keydoctor suggest KEY --logs AUDIT`: least privilege from observed use (audit2rbac for API
//! keys). The key's granted requests in the audit logs' window become the smallest role
//! descriptors that allow every one of them, and the privileges the key holds but never used
//! there are listed.
//!
//! - **In**: what the logs show of the key's granted requests ([`Observed`]), the key's
//!   metadata when known, the version to judge for.
//! - **Out**: a [`Suggestion`]: role descriptors naming exactly the indices, data streams and
//!   patterns the requests named (a backing index by its stream, a remote index by its cluster),
//!   each with the least privilege the atlas gives for its actions; every observed request
//!   checked against them with `can`; the unused privileges of the current descriptors.
//! - **Never**: widen a name into a pattern it did not use, or call the result complete over
//!   logs that cannot show the key's use (no audit log, no granted event, requests beyond the
//!   cap): the answer says so.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::can::{evaluate, patch_privileges, Request, Target, Verdict};
use super::replay::Observed;
use crate::diagnosis::atlas::{atlas, effective};
use crate::event::key_metadata::KeyMetadata;
use crate::model::{format_ms, PrivilegeKind, Version};

/// The sentences this command says, with their fields (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[
    ("suggest.window", &["events", "distinct", "first", "last"]),
    ("suggest.no_least", &["request"]),
    ("suggest.not_allowed", &["request", "why"]),
    ("suggest.dated", &["names"]),
    ("suggest.rolled", &["names"]),
    ("suggest.composite", &["request"]),
];

fn say(code: &str, fields: &[(&'static str, String)]) -> String {
    crate::diagnosis::fact::say_in(WORDS, code, fields)
}

/// The role name the suggested descriptors use.
pub const ROLE: &str = "observed";

/// A privilege the key holds that no observed request needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unused {
    /// `role_descriptors.ingest.indices[1]`, `role_descriptors.ingest.cluster`.
    pub entry: String,
    /// The entry's names, for an index entry.
    pub names: Vec<String>,
    pub privilege: String,
}

/// Least privilege from observed use.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub key_id: String,
    pub key_name: Option<String>,
    pub version: Version,
    pub version_given: bool,
    pub events: usize,
    pub distinct: usize,
    pub window: Option<(i64, i64)>,
    /// `{"observed": {"cluster": [...], "indices": [...], "remote_indices": [...]}}`.
    pub role_descriptors: Value,
    /// Observed requests the suggestion does not allow, with why (an action the atlas does
    /// not know, say).
    pub uncovered: Vec<String>,
    /// Privileges of the key's current descriptors that no observed request needed (empty
    /// without metadata).
    pub unused: Vec<Unused>,
    pub partial: Vec<String>,
    pub notes: Vec<String>,
}

/// What an index entry is keyed by: the remote cluster (none: local) and the privileges.
type EntryKey = (Option<String>, BTreeSet<String>);

/// A key that has `descriptors` and an owner who may do anything: `can` then judges the
/// descriptors alone.
fn judged_alone(id: &str, descriptors: Value) -> KeyMetadata {
    KeyMetadata {
        id: id.to_string(),
        role_descriptors: Some(descriptors),
        limited_by: Some(json!([{
            "unbounded": {
                "cluster": ["all"],
                "indices": [{"names": ["*"], "privileges": ["all"], "allow_restricted_indices": true}],
                "remote_indices": [{"clusters": ["*"], "names": ["*"], "privileges": ["all"], "allow_restricted_indices": true}]
            }
        }])),
        ..KeyMetadata::default()
    }
}

/// The name an entry grants `target` by: a backing index by its data stream (what the
/// request's writer named), anything else as named.
fn entry_name(target: &Target) -> String {
    target.stream.clone().unwrap_or_else(|| target.name.clone())
}

/// Whether `name` ends in a date (`logs-2026.11.20`, `app-20261120`, `logs-2026.11`): an index
/// a day (or month) makes, that the next one's name will not match. A rollover counter
/// (`-000001`) is not a date; see [`rolled`].
fn dated(name: &str) -> bool {
    let tail: String = name
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let groups: Vec<&str> = tail
        .split(['.', '-', '_'])
        .filter(|g| !g.is_empty())
        .collect();
    let year = |g: &str| g.len() == 4 && (g.starts_with("19") || g.starts_with("20"));
    let in_range =
        |g: &str, hi: u32| g.len() == 2 && g.parse::<u32>().is_ok_and(|n| (1..=hi).contains(&n));
    // The date may be followed by a rollover counter (`2026.11.20-000001`).
    (0..groups.len()).any(|i| match &groups[i..] {
        [y, m, d, ..] if year(y) && in_range(m, 12) && in_range(d, 31) => true,
        [y, m, ..] if year(y) && in_range(m, 12) => true,
        [ymd, ..] if ymd.len() == 8 => {
            year(&ymd[..4]) && in_range(&ymd[4..6], 12) && in_range(&ymd[6..], 31)
        }
        _ => false,
    })
}

/// Whether `name` ends in a rollover counter (`-000001`, six digits): the index behind an
/// alias or stream that the next rollover replaces.
fn rolled(name: &str) -> bool {
    name.rsplit_once('-')
        .is_some_and(|(_, n)| n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Suggest descriptors for `key_id` from what was `observed` of it.
pub fn suggest(
    key_id: &str,
    key: Option<&KeyMetadata>,
    observed: &Observed,
    version: Option<Version>,
) -> Suggestion {
    let v = effective(version);
    let a = atlas();
    let requests: Vec<(Request, usize)> = observed
        .requests
        .iter()
        .map(|(r, n, _)| (r.clone(), *n))
        .collect();
    let mut notes = Vec::new();
    // The least privilege each request needs, on each name it named.
    let nobody = judged_alone(key_id, json!({ ROLE: {} }));
    let mut cluster: BTreeSet<String> = BTreeSet::new();
    let mut per_name: BTreeMap<(Option<String>, String), BTreeSet<String>> = BTreeMap::new();
    let mut restricted: BTreeSet<String> = BTreeSet::new();
    let mut composite: Vec<(Request, String)> = Vec::new();
    let mut uncovered = Vec::new();
    for (request, _) in &requests {
        let least = evaluate(&nobody, request.clone(), Some(v)).least;
        let Some(least) = least else {
            uncovered.push(say(
                "suggest.no_least",
                &[("request", request.written.clone())],
            ));
            continue;
        };
        let privileges = patch_privileges(request, Some(&least));
        match request.kind() {
            PrivilegeKind::Cluster => cluster.extend(privileges),
            PrivilegeKind::Index if request.targets.is_empty() => {
                composite.push((request.clone(), least));
            }
            PrivilegeKind::Index => {
                for t in &request.targets {
                    let name = entry_name(t);
                    if a.is_restricted(&t.name, v) {
                        restricted.insert(name.clone());
                    }
                    per_name
                        .entry((t.cluster.clone(), name))
                        .or_default()
                        .extend(privileges.iter().cloned());
                }
            }
        }
    }
    // Names that need the same privileges share an entry.
    let mut entries: BTreeMap<EntryKey, Vec<String>> = BTreeMap::new();
    for ((cluster_alias, name), privileges) in per_name {
        entries
            .entry((cluster_alias, privileges))
            .or_default()
            .push(name);
    }
    let entry_json = |names: &[String], privileges: &BTreeSet<String>, remote: Option<&str>| {
        let mut e = Map::new();
        if let Some(c) = remote {
            e.insert("clusters".into(), json!([c]));
        }
        e.insert("names".into(), json!(names));
        e.insert("privileges".into(), json!(privileges));
        if names.iter().any(|n| restricted.contains(n)) {
            e.insert("allow_restricted_indices".into(), json!(true));
        }
        Value::Object(e)
    };
    let mut indices = Vec::new();
    let mut remote = Vec::new();
    for ((alias, privileges), names) in &entries {
        match alias {
            None => indices.push(entry_json(names, privileges, None)),
            Some(c) => remote.push(entry_json(names, privileges, Some(c))),
        }
    }
    let mut role = Map::new();
    if !cluster.is_empty() {
        role.insert("cluster".into(), json!(cluster));
    }
    role.insert("indices".into(), Value::Array(indices));
    if !remote.is_empty() {
        role.insert("remote_indices".into(), Value::Array(remote));
    }
    let mut descriptors = json!({ ROLE: Value::Object(role) });

    // A top-level bulk, mget or msearch is granted by any index entry that grants its action:
    // the items' own entries usually do; when none does (only the top-level call was audited),
    // say so rather than invent a name.
    for (request, least) in composite {
        let granted = evaluate(
            &judged_alone(key_id, descriptors.clone()),
            request.clone(),
            Some(v),
        )
        .verdict
            == Verdict::Allowed;
        if !granted {
            uncovered.push(say(
                "suggest.composite",
                &[("request", format!("{} ({least})", request.written))],
            ));
        }
    }
    // Every observed request, checked against the suggestion as `can` checks it.
    let candidate = judged_alone(key_id, descriptors.clone());
    for (request, _) in &requests {
        if request.kind() == PrivilegeKind::Index && request.targets.is_empty() {
            continue;
        }
        let answer = evaluate(&candidate, request.clone(), Some(v));
        if answer.verdict != Verdict::Allowed {
            uncovered.push(say(
                "suggest.not_allowed",
                &[
                    ("request", request.written.clone()),
                    (
                        "why",
                        answer.reasons.first().cloned().unwrap_or(answer.summary),
                    ),
                ],
            ));
        }
    }
    let dated_names: Vec<String> = entries
        .values()
        .flatten()
        .filter(|n| dated(n) && !n.contains('*'))
        .cloned()
        .collect();
    if !dated_names.is_empty() {
        notes.push(say("suggest.dated", &[("names", dated_names.join(", "))]));
    }
    let rolled_names: Vec<String> = entries
        .values()
        .flatten()
        .filter(|n| rolled(n) && !dated(n) && !n.contains('*'))
        .cloned()
        .collect();
    if !rolled_names.is_empty() {
        notes.push(say("suggest.rolled", &[("names", rolled_names.join(", "))]));
    }
    if descriptors[ROLE]["indices"]
        .as_array()
        .is_some_and(Vec::is_empty)
    {
        if let Some(role) = descriptors[ROLE].as_object_mut() {
            role.remove("indices");
        }
    }

    let unused = key
        .and_then(|k| k.role_descriptors.as_ref())
        .map(|d| unused_privileges(key_id, d, &requests, v))
        .unwrap_or_default();
    let (events, distinct) = (observed.events(), observed.distinct);
    if let Some((first, last)) = observed.window {
        let (events, distinct) = super::replay::counts(events, distinct);
        notes.insert(
            0,
            say(
                "suggest.window",
                &[
                    ("events", events),
                    ("distinct", distinct),
                    ("first", format_ms(first)),
                    ("last", format_ms(last)),
                ],
            ),
        );
    }
    Suggestion {
        key_id: key_id.to_string(),
        key_name: key.and_then(|k| k.name.clone()),
        version: v,
        version_given: version.is_some(),
        events,
        distinct,
        window: observed.window,
        role_descriptors: descriptors,
        uncovered,
        unused,
        partial: observed.partial.clone(),
        notes,
    }
}

/// Each privilege of `descriptors` that allows none of `requests` on its own (in its entry,
/// with its names).
fn unused_privileges(
    key_id: &str,
    descriptors: &Value,
    requests: &[(Request, usize)],
    v: Version,
) -> Vec<Unused> {
    let allows_any = |single: Value| {
        let k = judged_alone(key_id, single);
        requests
            .iter()
            .any(|(r, _)| evaluate(&k, r.clone(), Some(v)).verdict == Verdict::Allowed)
    };
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    let Some(roles) = descriptors.as_object() else {
        return out;
    };
    for (role, rd) in roles {
        for p in strings(rd.get("cluster")) {
            if !allows_any(json!({ role: {"cluster": [p]} })) {
                out.push(Unused {
                    entry: format!("role_descriptors.{role}.cluster"),
                    names: Vec::new(),
                    privilege: p,
                });
            }
        }
        for field in ["indices", "remote_indices"] {
            let entries = rd.get(field).and_then(Value::as_array).cloned();
            for (i, e) in entries.into_iter().flatten().enumerate() {
                for p in strings(e.get("privileges")) {
                    let mut single = e.clone();
                    single["privileges"] = json!([p]);
                    if !allows_any(json!({ role: { field: [single] } })) {
                        out.push(Unused {
                            entry: format!("role_descriptors.{role}.{field}[{i}]"),
                            names: strings(e.get("names")),
                            privilege: p,
                        });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_names_are_told_apart_from_streams() {
        assert!(dated("logs-2026.11.20"));
        assert!(dated("app-20261120"));
        assert!(!dated("logs-app-default"));
        assert!(!dated("metrics-v2"));
        assert!(dated("logs-2026.11"));
        assert!(dated("filebeat-8.15.0-2026.11.20-000001"));
        // A rollover counter, a version or a port is not a date.
        assert!(!dated("logs-000001") && rolled("logs-000001"));
        assert!(!dated("app-8.15.0") && !rolled("app-8.15.0"));
        assert!(!dated("shard-123456") && rolled("shard-123456"));
        assert!(!dated("app-20261399"));
    }
}
