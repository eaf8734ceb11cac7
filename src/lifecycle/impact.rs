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

/// The sentences this command says, with their fields (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[
    ("impact.events.one", &[]),
    ("impact.events.many", &["count"]),
    ("impact.part.read_in_part", &["source", "reason"]),
    ("impact.part.one_more", &[]),
    ("impact.part.more", &["count"]),
    (
        "impact.part.product_may_hold",
        &["product", "depends", "breaks"],
    ),
    ("impact.part.still_failing", &[]),
    ("impact.part.used.one", &["last"]),
    ("impact.part.used", &["count", "last"]),
    ("impact.part.unused", &["span"]),
    ("impact.verdict.unusable", &["state", "then"]),
    (
        "impact.verdict.product",
        &["product", "depends", "breaks", "seen"],
    ),
    (
        "impact.verdict.breaks",
        &["events", "clients", "users", "last", "span"],
    ),
    ("impact.verdict.partial", &["incomplete", "span"]),
    ("impact.verdict.unused", &["span"]),
    ("impact.verdict.no_audit", &[]),
    ("impact.step.managed", &["product"]),
    ("impact.step.replace", &["key_id"]),
    ("impact.step.invalidate", &["key_id"]),
];

fn say(code: &str, fields: &[(&'static str, String)]) -> String {
    crate::diagnosis::fact::say_in(WORDS, code, fields)
}

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
    /// The key's granted requests replayed against a replacement (`--role-descriptors`).
    pub replay: Option<super::replay::Replay>,
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
    let events = |count: usize| match count {
        1 => say("impact.events.one", &[]),
        n => say("impact.events.many", &[("count", n.to_string())]),
    };
    let unusable = key.is_some_and(|k| k.state(now_ms) != KeyState::Active);
    let skipped: Vec<(String, String)> = diagnosis
        .skipped
        .iter()
        .map(|s| (s.source.clone(), s.reason.to_string()))
        .collect();
    // A log read in part, or one not read at all, may hold the use that is not seen.
    let incomplete = diagnosis.skipped.first().map(|s| {
        let first = say(
            "impact.part.read_in_part",
            &[
                ("source", s.source.clone()),
                ("reason", s.reason.to_string()),
            ],
        );
        match diagnosis.skipped.len() {
            1 => first,
            2 => first + &say("impact.part.one_more", &[]),
            n => first + &say("impact.part.more", &[("count", (n - 1).to_string())]),
        }
    });
    let (breaks, verdict) = match (&usage, audit_span) {
        _ if unusable => {
            let then = match &dependent {
                Some(d) => say(
                    "impact.part.product_may_hold",
                    &[
                        ("product", d.product.clone()),
                        ("depends", d.depends.clone()),
                        ("breaks", d.breaks.clone()),
                    ],
                ),
                None if failures.is_empty() => String::new(),
                None => say("impact.part.still_failing", &[]),
            };
            (
                false,
                say(
                    "impact.verdict.unusable",
                    &[
                        ("state", KeyState::or_unknown(state).to_string()),
                        ("then", then),
                    ],
                ),
            )
        }
        _ if dependent.is_some() => {
            let d = dependent.as_ref().expect("checked");
            let seen = match (&usage, audit_span) {
                (Some(u), Some(_)) if u.count == 1 => {
                    say("impact.part.used.one", &[("last", format_ms(u.last_ms))])
                }
                (Some(u), Some(_)) => say(
                    "impact.part.used",
                    &[
                        ("count", u.count.to_string()),
                        ("last", format_ms(u.last_ms)),
                    ],
                ),
                (None, Some(s)) => say("impact.part.unused", &[("span", span(s))]),
                (_, None) => String::new(),
            };
            (
                true,
                say(
                    "impact.verdict.product",
                    &[
                        ("product", d.product.clone()),
                        ("depends", d.depends.clone()),
                        ("breaks", d.breaks.clone()),
                        ("seen", seen),
                    ],
                ),
            )
        }
        (Some(u), Some(s)) => {
            let mut fields = vec![
                ("events", events(u.count)),
                ("last", format_ms(u.last_ms)),
                ("span", span(s)),
            ];
            if !u.clients.is_empty() {
                fields.push(("clients", u.clients.join(", ")));
            }
            if !u.users.is_empty() {
                fields.push(("users", u.users.join(", ")));
            }
            (true, say("impact.verdict.breaks", &fields))
        }
        (None, Some(s)) if incomplete.is_some() => (
            false,
            say(
                "impact.verdict.partial",
                &[
                    ("incomplete", incomplete.clone().unwrap_or_default()),
                    ("span", span(s)),
                ],
            ),
        ),
        (None, Some(s)) => (false, say("impact.verdict.unused", &[("span", span(s))])),
        (_, None) => (false, say("impact.verdict.no_audit", &[])),
    };
    let mut steps = Vec::new();
    if let Some(d) = &dependent {
        // The product made the key and retires it: its own way, not `rotate` and DELETE.
        steps.extend(d.steps.iter().cloned());
    } else if let Some(product) = key.and_then(KeyMetadata::managed_by) {
        steps.push(say("impact.step.managed", &[("product", product)]));
    }
    if dependent.is_none() && (breaks || !failures.is_empty()) {
        steps.push(say("impact.step.replace", &[("key_id", id.to_string())]));
    }
    if !unusable && dependent.is_none() {
        steps.push(say("impact.step.invalidate", &[("key_id", id.to_string())]));
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
        replay: None,
        breaks,
        partial: incomplete.is_some() && !breaks && !unusable,
        skipped,
        conclusion: verdict,
        steps,
    }
}
