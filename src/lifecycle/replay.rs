//! `rotate --replay LOGS`: prove a replacement before it ships. The old key's granted requests
//! (audit `access_granted`: action and indices) are evaluated, with the privilege atlas, against
//! the replacement's role descriptors; every request that would start failing is listed before
//! anything is invalidated.
//!
//! - **In**: the old key's metadata, the replacement's role descriptors, what the scan of the
//!   logs kept of the old key's granted requests ([`Successes`]) and which audit logs it read.
//! - **Out**: a [`Replay`]: the requests that would break, those the atlas cannot decide, how
//!   many keep working, and the window the audit logs cover.
//! - **Never**: say "nothing breaks" over logs that cannot show it: no audit log, no
//!   `access_granted` event of the key, requests beyond the cap or files read in part make the
//!   answer partial, and it says so.

use serde_json::Value;

use super::can::{evaluate, Request, Verdict};
use crate::diagnosis::correlate::Successes;
use crate::event::key_metadata::KeyMetadata;
use crate::model::{format_ms, Version};

/// The sentences this command says, with their fields (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[
    ("replay.no_audit", &[]),
    ("replay.no_grants", &["key_id"]),
    ("replay.dropped", &["count", "cap"]),
    ("replay.read_in_part", &["files"]),
    ("replay.owner_snapshot", &[]),
    ("replay.no_snapshot", &[]),
    ("replay.model_disagrees", &[]),
    ("replay.window", &["events", "distinct", "first", "last"]),
    ("replay.why.key", &["least"]),
    ("replay.why.owner", &["least"]),
    ("replay.why.remote", &["least"]),
    ("replay.least", &["privilege"]),
    ("replay.events.one", &[]),
    ("replay.events.many", &["count"]),
    ("replay.distinct.one", &[]),
    ("replay.distinct.many", &["count"]),
];

fn say(code: &str, fields: &[(&'static str, String)]) -> String {
    crate::diagnosis::fact::say_in(WORDS, code, fields)
}

/// `50 granted events`, `1 distinct request`: the two counts a window states.
pub fn counts(events: usize, distinct: usize) -> (String, String) {
    let events = match events {
        1 => say("replay.events.one", &[]),
        n => say("replay.events.many", &[("count", n.to_string())]),
    };
    let distinct = match distinct {
        1 => say("replay.distinct.one", &[]),
        n => say("replay.distinct.many", &[("count", n.to_string())]),
    };
    (events, distinct)
}

/// One distinct granted request, replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub action: String,
    pub indices: Vec<String>,
    /// How often the old key made it, and when last.
    pub count: usize,
    pub last_ms: i64,
    /// The answer for the replacement.
    pub verdict: Verdict,
    /// Why, in one sentence (the answer's summary, or what the atlas could not decide).
    pub why: String,
    /// The replacement's entry nearest to granting it, when one is.
    pub entry: Option<String>,
}

impl Replayed {
    /// `action on [indices]`, as the answers say it.
    pub fn request(&self) -> String {
        if self.indices.is_empty() {
            self.action.clone()
        } else {
            format!("{} {}", self.action, self.indices.join(","))
        }
    }
}

/// What replaying the old key's requests against the replacement shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub version: Version,
    /// The granted events of the old key read, and their distinct requests.
    pub events: usize,
    pub distinct: usize,
    /// The audit logs' span, when any were read.
    pub window: Option<(i64, i64)>,
    /// Requests the old key was granted that the replacement would be denied.
    pub breaks: Vec<Replayed>,
    /// Requests the atlas cannot decide for the replacement (or whose grant to the old key it
    /// cannot explain).
    pub unsure: Vec<Replayed>,
    /// Distinct requests the replacement is allowed too.
    pub kept: usize,
    /// Why the answer covers less than everything the key did, if it does.
    pub partial: Vec<String>,
    pub notes: Vec<String>,
}

impl Replay {
    /// Whether the replacement is proven for what the logs show: nothing breaks, nothing is
    /// unsure, and the logs could show use.
    pub fn proven(&self) -> bool {
        self.breaks.is_empty() && self.unsure.is_empty() && self.partial.is_empty()
    }
}

/// What the logs show of one key's granted requests: each distinct one parsed, with how often
/// and when last it was made, the audit logs' window, and why that may be less than everything
/// the key did.
#[derive(Debug, Clone)]
pub struct Observed {
    pub requests: Vec<(Request, usize, i64)>,
    pub distinct: usize,
    pub window: Option<(i64, i64)>,
    pub partial: Vec<String>,
}

impl Observed {
    /// From what a scan kept of key `id` (`used`), the audit logs' span, and the logs read
    /// in part (`source (reason)`).
    pub fn of(
        id: &str,
        used: Option<&Successes>,
        audit_span: Option<(i64, i64)>,
        read_in_part: &[String],
    ) -> Self {
        let mut partial = Vec::new();
        if audit_span.is_none() {
            partial.push(say("replay.no_audit", &[]));
        } else if used.is_none_or(|u| u.requests.is_empty()) {
            partial.push(say("replay.no_grants", &[("key_id", id.to_string())]));
        }
        if !read_in_part.is_empty() {
            partial.push(say(
                "replay.read_in_part",
                &[("files", read_in_part.join(", "))],
            ));
        }
        if let Some(u) = used.filter(|u| u.requests_dropped > 0) {
            partial.push(say(
                "replay.dropped",
                &[
                    ("count", u.requests_dropped.to_string()),
                    (
                        "cap",
                        crate::diagnosis::correlate::MAX_USE_REQUESTS.to_string(),
                    ),
                ],
            ));
        }
        let mut requests = Vec::new();
        for ((action, raw), seen) in used.map(|u| &u.requests).into_iter().flatten() {
            // Not a list of names (a hand-edited line): not a request to judge.
            let indices: Vec<String> = if raw.is_empty() {
                Vec::new()
            } else {
                match serde_json::from_str::<Vec<String>>(raw) {
                    Ok(names) => names,
                    Err(_) => continue,
                }
            };
            let written = if indices.is_empty() {
                action.clone()
            } else {
                format!("{action} {}", indices.join(","))
            };
            if let Ok(request) = Request::parse(&written, None) {
                requests.push((request, seen.count, seen.last_ms));
            }
        }
        Self {
            requests,
            distinct: used.map_or(0, |u| u.requests.len()),
            window: audit_span,
            partial,
        }
    }

    /// The granted events the requests stand for.
    pub fn events(&self) -> usize {
        self.requests.iter().map(|(_, n, _)| n).sum()
    }
}

/// Replay what was `observed` of the old key `id` against `replacement` (role descriptors,
/// the create body's `role_descriptors`), created by the same owner, for `version`. Without the
/// old key's metadata it is known by its id alone: its requests were granted, and only the
/// replacement's descriptors are judged.
pub fn replay(
    id: &str,
    old: Option<&KeyMetadata>,
    replacement: &Value,
    observed: &Observed,
    version: Option<Version>,
) -> Replay {
    let unknown = KeyMetadata {
        id: id.to_string(),
        ..KeyMetadata::default()
    };
    let old = old.unwrap_or(&unknown);
    let mut notes = Vec::new();
    // The replacement is created by the old key's owner: its snapshot is the owner's
    // privileges then, taken here as the old key's.
    let mut new_key = old.clone();
    new_key.role_descriptors = Some(replacement.clone());
    notes.push(if old.limited_by.is_some() {
        say("replay.owner_snapshot", &[])
    } else {
        say("replay.no_snapshot", &[])
    });
    let mut breaks = Vec::new();
    let mut unsure = Vec::new();
    let mut kept = 0;
    let mut v = crate::diagnosis::atlas::effective(version);
    let mut disagrees = false;
    for (request, count, last_ms) in &observed.requests {
        let (action, indices) = (
            request.action.clone(),
            request
                .targets
                .iter()
                .map(|t| t.written.clone())
                .collect::<Vec<_>>(),
        );
        let before = evaluate(old, request.clone(), version);
        let after = evaluate(&new_key, request.clone(), version);
        v = after.version;
        let item = |verdict: Verdict, why: String| Replayed {
            action: action.clone(),
            indices: indices.clone(),
            count: *count,
            last_ms: *last_ms,
            verdict,
            why,
            entry: after.deciding.as_ref().map(|e| e.path()),
        };
        match (before.verdict, after.verdict) {
            (_, Verdict::Allowed) => kept += 1,
            (Verdict::Allowed | Verdict::Undecidable, denied) if denied.is_denied() => {
                let least = after
                    .least
                    .as_ref()
                    .map(|p| say("replay.least", &[("privilege", p.clone())]))
                    .unwrap_or_default();
                let code = match denied {
                    Verdict::DeniedByOwner => "replay.why.owner",
                    Verdict::DeniedByRemoteIndices => "replay.why.remote",
                    _ => "replay.why.key",
                };
                breaks.push(item(denied, say(code, &[("least", least)])));
            }
            (old_verdict, new_verdict) => {
                // Granted in fact, denied by the model for the old key: the atlas cannot
                // explain the grant, so it cannot judge the replacement either.
                if old_verdict.is_denied() {
                    disagrees = true;
                }
                let why = after
                    .reasons
                    .first()
                    .cloned()
                    .unwrap_or_else(|| after.summary.clone());
                unsure.push(item(new_verdict, why));
            }
        }
    }
    if disagrees {
        notes.push(say("replay.model_disagrees", &[]));
    }
    let by_use = |a: &Replayed, b: &Replayed| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.request().cmp(&b.request()))
    };
    breaks.sort_by(by_use);
    unsure.sort_by(by_use);
    let (distinct, window, events) = (observed.distinct, observed.window, observed.events());
    if let Some((first, last)) = window {
        let (events, distinct) = counts(events, distinct);
        notes.insert(
            0,
            say(
                "replay.window",
                &[
                    ("events", events),
                    ("distinct", distinct),
                    ("first", format_ms(first)),
                    ("last", format_ms(last)),
                ],
            ),
        );
    }
    Replay {
        version: v,
        events,
        distinct,
        window,
        breaks,
        unsure,
        kept,
        partial: observed.partial.clone(),
        notes,
    }
}
