//! `keydoctor impact ID`: before invalidating a key, what depends on it.
//!
//! - **In**: the key's metadata (when known), and what scanned logs say about it: successful
//!   authentications in the audit logs (when, how often, from which hosts, as whom) and the
//!   failures keydoctor found for it.
//! - **Out**: an [`Impact`]: who would break, how sure that is (the audit logs' time span), and
//!   the safe order of steps.
//! - **Never**: say "nothing uses it" when the inputs cannot see use: without audit logs the
//!   answer is "unknown", and the window the logs cover is always stated.

use super::expiring::Usage;
use crate::diagnosis::correlate::Successes;
use crate::diagnosis::products::Recognised;
use crate::diagnosis::Diagnosis;
use crate::event::key_metadata::{KeyMetadata, KeyState};
use crate::model::format_ms;
use crate::model::Class;

/// A failure of the key that the logs show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: Class,
    pub count: usize,
    pub last_seen: Option<String>,
    pub clients: Vec<String>,
}

/// Another key of the same product instance (the same agent, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedKey {
    pub id: String,
    pub name: Option<String>,
    /// `None`: no metadata, the state is unknown.
    pub state: Option<KeyState>,
    /// Its `metadata.type` (`access`, `output`…).
    pub kind: Option<String>,
}

impl RelatedKey {
    pub fn of(key: &KeyMetadata, now_ms: i64) -> Self {
        RelatedKey {
            id: key.id.clone(),
            name: key.name.clone(),
            state: Some(key.state(now_ms)),
            kind: key
                .metadata
                .as_ref()
                .and_then(|m| m.get("type"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
        }
    }
}

/// `POST /_security/_query/api_key` for the keys whose `metadata.<field>` is `value`.
pub fn related_query(field: &str, value: &str) -> serde_json::Value {
    serde_json::json!({
        "query": {"bool": {"filter": [{"term": {format!("metadata.{field}"): value}}]}},
        "sort": [{"creation": {"order": "asc"}}],
        "size": 100,
    })
}

/// What invalidating a key would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impact {
    pub id: String,
    pub name: Option<String>,
    pub owner: Option<String>,
    /// `active`, `expired`, `invalidated`, or `unknown` without metadata.
    /// `None`: no metadata, the state is unknown.
    pub state: Option<KeyState>,
    /// The product that manages the key (`metadata.managed: true`), e.g. Fleet.
    pub managed_by: Option<String>,
    pub usage: Option<Usage>,
    pub failures: Vec<Failure>,
    /// The audit logs' span (first, last event), when any were read.
    pub audit_span: Option<(i64, i64)>,
    /// The product that uses the key (a Kibana alerting rule, a Fleet agent…), recognised from
    /// its name and metadata.
    pub dependent: Option<Recognised>,
    /// The other keys sharing the product's `related` metadata value (the live cluster's
    /// answer), e.g. an agent's access and output keys.
    pub related: Vec<RelatedKey>,
    /// The request that lists them, when no live cluster was asked (or it could not answer).
    pub related_query: Option<String>,
    /// Whether invalidating it would break a client the logs show, or the product that uses it.
    pub breaks: bool,
    /// Whether the logs were read only in part (or some not at all), so that "no client uses
    /// it" cannot be said: the verdict is then unknown.
    pub partial: bool,
    /// The logs skipped or read only in part, with why (shown in every format).
    pub skipped: Vec<(String, String)>,
    /// What invalidating it would do, in words (the JSON report's `verdict`).
    pub conclusion: String,
    pub steps: Vec<String>,
}

/// Weigh what the metadata and the logs say about key `id`.
pub fn assess(
    id: &str,
    key: Option<&KeyMetadata>,
    successes: Option<&Successes>,
    diagnosis: &Diagnosis,
    audit_span: Option<(i64, i64)>,
    now_ms: i64,
    dependent: Option<Recognised>,
) -> Impact {
    let state = key.map(|k| k.state(now_ms));
    let usage = successes.map(|s| Usage {
        last_ms: s.last_ms,
        count: s.count,
        clients: s.clients.iter().cloned().collect(),
        users: s.users.iter().cloned().collect(),
        source: s.last_source.clone(),
    });
    let failures: Vec<Failure> = diagnosis
        .findings
        .iter()
        .filter(|f| f.key_id.as_deref() == Some(id))
        .map(|f| Failure {
            class: f.class,
            count: f.count,
            last_seen: f.observed.last_seen.clone(),
            clients: f.observed.client_addresses.clone(),
        })
        .collect();
    let span = |(a, b): (i64, i64)| format!("{} to {}", format_ms(a), format_ms(b));
    let unusable = key.is_some_and(|k| k.state(now_ms) != KeyState::Active);
    let skipped: Vec<(String, String)> = diagnosis
        .skipped
        .iter()
        .map(|s| (s.source.clone(), s.reason.to_string()))
        .collect();
    // A log read in part, or one not read at all, may hold the use that is not seen.
    let incomplete = diagnosis
        .skipped
        .first()
        .map(|s| format!("{} was read only in part ({})", s.source, s.reason))
        .map(|first| match diagnosis.skipped.len() {
            1 => first,
            2 => format!("{first}, and 1 more input"),
            n => format!("{first}, and {} more inputs", n - 1),
        });
    let (breaks, verdict) = match (&usage, audit_span) {
        _ if unusable => (
            false,
            format!(
                "the key is already {}: invalidating it changes nothing for any client{}",
                KeyState::or_unknown(state),
                match &dependent {
                    Some(d) => format!(
                        "; but {} may still hold it: {}. If so, {} (below: how it gets a new key)",
                        d.product, d.depends, d.breaks
                    ),
                    None if failures.is_empty() => String::new(),
                    None => "; the clients still failing with it need a new key (below)".into(),
                }
            ),
        ),
        _ if dependent.is_some() => {
            let d = dependent.as_ref().expect("checked");
            let seen = match (&usage, audit_span) {
                (Some(u), Some(_)) => format!(
                    "; the audit logs show {} event{} of its successful use, the last at {}",
                    u.count,
                    if u.count == 1 { "" } else { "s" },
                    format_ms(u.last_ms)
                ),
                (None, Some(s)) => format!(
                    "; the audit logs from {} show no use of it (a disabled rule or an idle agent uses no key, yet needs it again when it resumes)",
                    span(s)
                ),
                (_, None) => String::new(),
            };
            (
                true,
                format!(
                    "{} uses this key: {}. Invalidating it: {}{seen}",
                    d.product, d.depends, d.breaks
                ),
            )
        }
        (Some(u), Some(s)) => (
            true,
            format!(
                "invalidating it now breaks what uses it: {} audit event{} of successful use from {} (as {}), the last at {}, in the audit logs from {}",
                u.count,
                if u.count == 1 { "" } else { "s" },
                if u.clients.is_empty() { "unnamed clients".to_string() } else { u.clients.join(", ") },
                if u.users.is_empty() { "-".to_string() } else { u.users.join(", ") },
                format_ms(u.last_ms),
                span(s)
            ),
        ),
        (None, Some(s)) if incomplete.is_some() => (
            false,
            format!(
                "unknown: {}; the part read (audit logs from {}) shows no successful use, but what was not read may; read those logs whole before invalidating",
                incomplete.as_deref().unwrap_or_default(),
                span(s)
            ),
        ),
        (None, Some(s)) => (
            false,
            format!(
                "no successful use in the audit logs from {}: no client those logs show depends on it; a client that used it only before that, or through nodes whose audit logs were not read, is not covered",
                span(s)
            ),
        ),
        (_, None) => (
            false,
            "unknown: no audit log was read, and only the audit log shows a key's successful use (access_granted, authentication_success); scan the nodes' `<cluster>_audit.json` with --logs".into(),
        ),
    };
    let mut steps = Vec::new();
    if let Some(d) = &dependent {
        // The product made the key and retires it: its own way, not `rotate` and DELETE.
        steps.extend(d.steps.iter().cloned());
    } else if let Some(product) = key.and_then(KeyMetadata::managed_by) {
        steps.push(format!(
            "The key is managed by {product} (metadata.managed: true): retire it there (for Fleet, the agent, policy or output that owns it), not with the API, or {product} will not know"
        ));
    }
    if dependent.is_none() && (breaks || !failures.is_empty()) {
        steps.push(format!(
            "Give every client above a replacement first: `keydoctor rotate {id}` plans it (create, deploy, verify, then invalidate)"
        ));
    }
    if !unusable && dependent.is_none() {
        steps.push(format!(
            "Invalidate only once the clients use the replacement and the audit log shows no more use of {id}:\nDELETE /_security/api_key\n{{\n  \"ids\": [\"{id}\"]\n}}"
        ));
    }
    Impact {
        id: id.to_string(),
        name: key.and_then(|k| k.name.clone()),
        owner: key.and_then(|k| k.username.clone()),
        state,
        managed_by: key.and_then(KeyMetadata::managed_by),
        usage,
        failures,
        audit_span,
        dependent,
        related: Vec::new(),
        related_query: None,
        breaks,
        partial: incomplete.is_some() && !breaks && !unusable,
        skipped,
        conclusion: verdict,
        steps,
    }
}
