//! `keydoctor key`: what key metadata says about one key.
//!
//! - **In**: [`KeyMetadata`] (from files, a bundle or the live cluster) and "now".
//! - **Out**: a [`KeyReport`] (state, dates, privileges as rows).
//! - **Never**: invent a state: a key the metadata does not list is `missing` from *that*
//!   metadata, and the report says which metadata was read.

use serde_json::Value;

use crate::event::json_strings;
use crate::event::key_metadata::{KeyMetadata, KeyState};
use crate::model::{format_ms, human_duration, DescriptorSource, GrantKind};

/// The sentences this command says, with their fields (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[
    ("key.type.unstated", &[]),
    ("key.expiration.never", &[]),
    ("key.invalidated.untimed", &[]),
    ("key.privileges.inherited", &[]),
    ("key.privileges.unseen", &[]),
    ("key.meaning.active", &[]),
    ("key.meaning.expired", &[]),
    ("key.meaning.invalidated", &[]),
    ("key.meaning.missing", &["sources"]),
];

fn say(code: &str, fields: &[(&'static str, String)]) -> String {
    crate::diagnosis::fact::say_in(WORDS, code, fields)
}

/// A key's state, including "not in the metadata read".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Active,
    Expired,
    Invalidated,
    Missing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Invalidated => "invalidated",
            Self::Missing => "missing",
        }
    }
}

impl From<KeyState> for State {
    fn from(s: KeyState) -> Self {
        match s {
            KeyState::Active => Self::Active,
            KeyState::Expired => Self::Expired,
            KeyState::Invalidated => Self::Invalidated,
        }
    }
}

/// One row of a key's privileges: which descriptor, what kind, on what, which privileges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivilegeRow {
    /// `role_descriptors`, `limited_by` or `access`.
    pub source: DescriptorSource,
    /// The role name inside the descriptors (`limited_by` roles are unnamed: `owner`).
    pub role: String,
    /// `cluster`, `index`, `remote_index`, `search`, `replication`, `run_as`, `application`.
    pub kind: GrantKind,
    /// Index patterns, remote cluster aliases (`alias:pattern`), run-as users; empty for cluster.
    pub on: Vec<String>,
    pub privileges: Vec<String>,
    /// Document or field level security, restricted indices.
    pub restrictions: Vec<String>,
}

/// Everything `keydoctor key` says about one key.
#[derive(Debug, Clone)]
pub struct KeyReport {
    /// The id asked about (decoded from an `encoded` credential when one was given).
    pub id: String,
    pub state: State,
    pub key: Option<KeyMetadata>,
    /// Milliseconds since creation, until expiration (negative once expired).
    pub age_ms: Option<i64>,
    pub time_left_ms: Option<i64>,
    /// `role_descriptors` `{}`: the key has the owner's privileges (as of creation or update).
    pub inherits_owner: bool,
    pub privileges: Vec<PrivilegeRow>,
    /// Where the metadata came from (file names, the cluster), for "missing from what".
    pub sources: Vec<String>,
    /// What the source could not show (e.g. `limited_by` without `manage_api_key`).
    pub notes: Vec<String>,
}

/// Describe key `id` from `keys` (several entries for one id: the last read wins).
pub fn describe(id: &str, keys: &[KeyMetadata], sources: Vec<String>, now_ms: i64) -> KeyReport {
    let Some(key) = keys.iter().rev().find(|k| k.id == id).cloned() else {
        return KeyReport {
            id: id.to_string(),
            state: State::Missing,
            key: None,
            age_ms: None,
            time_left_ms: None,
            inherits_owner: false,
            privileges: Vec::new(),
            sources,
            notes: Vec::new(),
        };
    };
    let mut privileges = Vec::new();
    if let Some(rd) = &key.role_descriptors {
        privileges.extend(rows(rd, DescriptorSource::RoleDescriptors));
    }
    if let Some(lb) = &key.limited_by {
        privileges.extend(rows(lb, DescriptorSource::LimitedBy));
    }
    if let Some(access) = &key.access {
        privileges.extend(access_rows(access));
    }
    KeyReport {
        id: id.to_string(),
        state: key.state(now_ms).into(),
        age_ms: key.creation_ms.map(|c| now_ms - c),
        time_left_ms: key.expiration_ms.map(|e| e - now_ms),
        inherits_owner: key
            .role_descriptors
            .as_ref()
            .is_some_and(|rd| rd.as_object().is_some_and(|m| m.is_empty())),
        privileges,
        key: Some(key),
        sources,
        notes: Vec::new(),
    }
}

/// The lines every format shows, as (label, value).
pub fn lines(r: &KeyReport) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let Some(k) = &r.key else {
        return out;
    };
    if let Some(n) = &k.name {
        out.push(("name", n.clone()));
    }
    out.push((
        "type",
        k.key_type
            .map_or_else(|| say("key.type.unstated", &[]), |t| t.as_str().to_string()),
    ));
    if let Some(u) = &k.username {
        let realm = match (&k.realm, &k.realm_type) {
            (Some(r), Some(t)) => format!(" (realm {r}, {t})"),
            (Some(r), None) => format!(" (realm {r})"),
            _ => String::new(),
        };
        out.push(("owner", format!("{u}{realm}")));
    }
    if let Some(c) = k.creation_ms {
        let age = r
            .age_ms
            .map(|a| format!(" ({} ago)", human_duration(a)))
            .unwrap_or_default();
        out.push(("created", format!("{}{age}", format_ms(c))));
    }
    out.push((
        "expiration",
        match (k.expiration_ms, r.time_left_ms) {
            (Some(e), Some(left)) if left > 0 => {
                format!("{} (in {})", format_ms(e), human_duration(left))
            }
            (Some(e), Some(left)) => format!("{} ({} ago)", format_ms(e), human_duration(-left)),
            (Some(e), None) => format_ms(e),
            (None, _) if k.invalidated => "never".into(),
            (None, _) => say("key.expiration.never", &[]),
        },
    ));
    if k.invalidated {
        out.push((
            "invalidated",
            k.invalidation_ms
                .map(format_ms)
                .unwrap_or_else(|| say("key.invalidated.untimed", &[])),
        ));
    }
    if let Some(p) = &k.profile_uid {
        out.push(("profile", p.clone()));
    }
    if let Some(m) = k
        .metadata
        .as_ref()
        .filter(|m| m.as_object().is_some_and(|o| !o.is_empty()))
    {
        out.push(("metadata", m.to_string()));
    }
    if r.inherits_owner {
        out.push(("privileges", say("key.privileges.inherited", &[])));
    } else if k.role_descriptors.is_none() && k.access.is_none() {
        out.push(("privileges", say("key.privileges.unseen", &[])));
    }
    if let Some(d) = &k.derived_from {
        out.push(("pieced from", d.clone()));
    }
    out
}

/// What the state means, and the next step.
pub fn meaning(r: &KeyReport) -> String {
    match r.state {
        State::Active => say("key.meaning.active", &[]),
        State::Expired => say("key.meaning.expired", &[]),
        State::Invalidated => say("key.meaning.invalidated", &[]),
        // No source read: the template's fallback says so.
        State::Missing if r.sources.is_empty() => say("key.meaning.missing", &[]),
        State::Missing => say("key.meaning.missing", &[("sources", r.sources.join(", "))]),
    }
}

/// Role descriptors (an object keyed by role name, or `limited_by`'s list of such objects) as rows.
pub fn rows(descriptors: &Value, source: DescriptorSource) -> Vec<PrivilegeRow> {
    let roles: Vec<(String, &Value)> = match descriptors {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v)))
            .collect(),
        _ => Vec::new(),
    };
    let strings = json_strings;
    let mut out = Vec::new();
    for (role, rd) in roles {
        let cluster = strings(rd.get("cluster"));
        if !cluster.is_empty() {
            out.push(PrivilegeRow {
                source,
                role: role.clone(),
                kind: GrantKind::Cluster,
                on: Vec::new(),
                privileges: cluster,
                restrictions: Vec::new(),
            });
        }
        for (field, kind) in [
            ("indices", GrantKind::Index),
            ("remote_indices", GrantKind::RemoteIndex),
        ] {
            for entry in rd
                .get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let names = strings(entry.get("names"));
                let on = match kind {
                    GrantKind::RemoteIndex => {
                        let clusters = strings(entry.get("clusters"));
                        clusters
                            .iter()
                            .flat_map(|c| names.iter().map(move |n| format!("{c}:{n}")))
                            .collect()
                    }
                    _ => names,
                };
                out.push(PrivilegeRow {
                    source,
                    role: role.clone(),
                    kind,
                    on,
                    privileges: strings(entry.get("privileges")),
                    restrictions: restrictions(entry),
                });
            }
        }
        let run_as = strings(rd.get("run_as"));
        if !run_as.is_empty() {
            out.push(PrivilegeRow {
                source,
                role: role.clone(),
                kind: GrantKind::RunAs,
                on: run_as,
                privileges: Vec::new(),
                restrictions: Vec::new(),
            });
        }
        for app in rd
            .get("applications")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(PrivilegeRow {
                source,
                role: role.clone(),
                kind: GrantKind::Application,
                on: vec![format!(
                    "{}: {}",
                    app.get("application")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    strings(app.get("resources")).join(", ")
                )],
                privileges: strings(app.get("privileges")),
                restrictions: Vec::new(),
            });
        }
    }
    out
}

fn restrictions(entry: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if entry.get("query").is_some_and(|q| !q.is_null()) {
        out.push("document-level security (query)".to_string());
    }
    if let Some(fs) = entry.get("field_security") {
        let list = |k: &str| {
            fs.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        let (grant, except) = (list("grant"), list("except"));
        let mut text = format!("fields: {grant}");
        if !except.is_empty() {
            text.push_str(&format!(" except {except}"));
        }
        out.push(text);
    }
    if entry.get("allow_restricted_indices") == Some(&Value::Bool(true)) {
        out.push("restricted indices allowed".to_string());
    }
    out
}

/// A cross-cluster key's `access` (`search`, `replication`) as rows.
fn access_rows(access: &Value) -> Vec<PrivilegeRow> {
    let mut out = Vec::new();
    for kind in [GrantKind::Search, GrantKind::Replication] {
        for entry in access
            .get(kind.as_str())
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(PrivilegeRow {
                source: DescriptorSource::Access,
                role: kind.as_str().to_string(),
                kind,
                on: json_strings(entry.get("names")),
                privileges: Vec::new(),
                restrictions: restrictions(entry),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_become_rows() {
        let rd: Value = serde_json::from_str(r#"{"r":{"cluster":["monitor"],"indices":[{"names":["logs-*"],"privileges":["read"],"field_security":{"grant":["*"],"except":["secret"]},"query":"{\"term\":{\"a\":1}}"}],"remote_indices":[{"clusters":["eu"],"names":["m-*"],"privileges":["read"]}]}}"#).unwrap();
        let r = rows(&rd, DescriptorSource::RoleDescriptors);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].kind, GrantKind::Cluster);
        assert_eq!(r[1].on, vec!["logs-*"]);
        assert_eq!(
            r[1].restrictions,
            vec!["document-level security (query)", "fields: * except secret"]
        );
        assert_eq!(r[2].on, vec!["eu:m-*"]);
    }
}
