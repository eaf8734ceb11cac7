//! What key metadata says about keys, for `keydoctor key` and `keydoctor expiring`.
//!
//! - **In**: [`KeyMetadata`] (from files now; the live cluster yields the same type) and "now".
//! - **Out**: a [`KeyReport`] for one key (state, dates, privileges as rows) or an
//!   [`ExpiringReport`] for a set of keys.
//! - **Never**: invent a state: a key the metadata does not list is `missing` from *that*
//!   metadata, and the report says which metadata was read.

use serde_json::Value;

use crate::event::json_strings;
use crate::event::key_metadata::{KeyMetadata, KeyState};
use crate::model::{DescriptorSource, GrantKind};

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

/// One key in an expiry report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiringKey {
    pub id: String,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub key_type: Option<crate::model::KeyType>,
    pub expiration_ms: Option<i64>,
    /// Until expiration (negative: since).
    pub expires_in_ms: Option<i64>,
    /// Its use as the scanned logs show it (`expiring --logs`).
    pub usage: Option<Usage>,
}

/// A key's successful authentications in the logs: the "last used" Elasticsearch does not keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub last_ms: i64,
    pub count: usize,
    pub clients: Vec<String>,
    pub users: Vec<String>,
    /// `path:line` of the last success.
    pub source: String,
}

/// `keydoctor expiring`: active keys expiring within the window, expired keys apart, keys that
/// never expire apart (a risk: nothing makes them rotate).
#[derive(Debug, Clone, Default)]
pub struct ExpiringReport {
    pub within_ms: i64,
    pub within: String,
    pub keys: Vec<ExpiringKey>,
    pub expired: Vec<ExpiringKey>,
    pub no_expiration: Vec<ExpiringKey>,
    /// Keys read, and how many were invalidated (never listed: they cannot be used).
    pub total: usize,
    pub invalidated: usize,
    /// What the source could not show.
    pub notes: Vec<String>,
    /// Whether logs were scanned for use (`--logs`): a key without [`ExpiringKey::usage`] then
    /// was not seen authenticating in them.
    pub usage_scanned: bool,
}

impl ExpiringReport {
    /// Join each listed key with its successes in the scanned logs.
    pub fn join_usage(
        &mut self,
        successes: &std::collections::BTreeMap<String, super::correlate::Successes>,
    ) {
        self.usage_scanned = true;
        for k in self
            .keys
            .iter_mut()
            .chain(self.expired.iter_mut())
            .chain(self.no_expiration.iter_mut())
        {
            k.usage = successes.get(&k.id).map(|s| Usage {
                last_ms: s.last_ms,
                count: s.count,
                clients: s.clients.iter().cloned().collect(),
                users: s.users.iter().cloned().collect(),
                source: s.last_source.clone(),
            });
        }
    }
}

/// Sort `keys` into an [`ExpiringReport`].
pub fn expiring(keys: &[KeyMetadata], within: &str, within_ms: i64, now_ms: i64) -> ExpiringReport {
    let mut report = ExpiringReport {
        within_ms,
        within: within.to_string(),
        total: keys.len(),
        ..Default::default()
    };
    let mut seen = std::collections::BTreeSet::new();
    for k in keys.iter().rev() {
        if !seen.insert(k.id.clone()) {
            continue;
        }
        if k.invalidated {
            report.invalidated += 1;
            continue;
        }
        let entry = ExpiringKey {
            id: k.id.clone(),
            name: k.name.clone(),
            owner: k.username.as_ref().map(|u| match &k.realm {
                Some(r) => format!("{u}@{r}"),
                None => u.clone(),
            }),
            key_type: k.key_type,
            expiration_ms: k.expiration_ms,
            expires_in_ms: k.expiration_ms.map(|e| e - now_ms),
            usage: None,
        };
        match k.expiration_ms {
            None => report.no_expiration.push(entry),
            Some(e) if e <= now_ms => report.expired.push(entry),
            Some(e) if e - now_ms <= within_ms => report.keys.push(entry),
            Some(_) => {}
        }
    }
    report.keys.sort_by_key(|k| (k.expiration_ms, k.id.clone()));
    report
        .expired
        .sort_by_key(|k| (std::cmp::Reverse(k.expiration_ms), k.id.clone()));
    report.no_expiration.sort_by(|a, b| a.id.cmp(&b.id));
    report
}

/// `1209600000` → `14d`, `5400000` → `1h 30m`, `-90000` → `-1m 30s`.
pub fn human_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let mut s = ms.unsigned_abs() / 1000;
    let d = s / 86_400;
    s %= 86_400;
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (sec, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .take(2)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        "0s".to_string()
    } else {
        format!("{sign}{}", parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(14 * 86_400_000), "14d");
        assert_eq!(human_duration(5_400_000), "1h 30m");
        assert_eq!(human_duration(-90_000), "-1m 30s");
        assert_eq!(human_duration(86_400_000 + 3_600_000 + 60_000), "1d 1h");
    }

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
