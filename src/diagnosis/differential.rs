//! Differential diagnosis: the competing causes behind a finding, the evidence for and against
//! each, and the cheapest safe check that separates those left.
//!
//! - **In**: a [`Diagnosis`] after correlation (timelines, metadata, other findings of the same
//!   key), and the API-key retention period.
//! - **Out**: [`Finding::differential`] filled where the class has several real causes.
//! - **Never**: call a cause certain: a verdict is `likely`, `possible` or `unlikely`, each with
//!   the evidence that made it so.
//!
//! `unable to find apikey with id X` is the case that needs it most (shared/reference 2.1, 6.6):
//! the id can be mistyped, belong to another cluster, or name a key that expired or was
//! invalidated and then deleted once `xpack.security.authc.api_key.delete.retention_period`
//! (7 days by default) had passed; a `.security` restored from an older snapshot forgets keys
//! too. Earlier failures of the same id, audit events and metadata tell them apart.

use super::classify::format_ms;
use super::timeline::parse_ts;
use super::{Class, Diagnosis, Finding};
use crate::event::credential::looks_like_key_id;

/// How much the evidence supports a cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Likely,
    Possible,
    Unlikely,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Likely => "likely",
            Self::Possible => "possible",
            Self::Unlikely => "unlikely",
        }
    }
}

/// One cause considered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Short name: `purged after the retention period`.
    pub cause: &'static str,
    pub verdict: Verdict,
    pub evidence_for: Vec<String>,
    pub evidence_against: Vec<String>,
}

/// The causes of one finding, most likely first, and the check that separates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Differential {
    pub causes: Vec<Cause>,
    pub check: Option<String>,
}

/// How long Elasticsearch keeps an expired or invalidated key before deleting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub ms: i64,
    /// `7d (the default)`, `3d (--retention-period)`.
    pub text: String,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            ms: 7 * 86_400_000,
            text: "7d (the default)".into(),
        }
    }
}

/// Fill the differential of every finding whose class has several causes.
pub fn analyse(d: &mut Diagnosis, retention: &Retention) {
    // Every finding's key, class and span: the other failures of a key show it existed.
    let others: Vec<(Option<String>, Earlier)> = d
        .findings
        .iter()
        .map(|f| {
            (
                f.key_id.clone(),
                Earlier {
                    class: f.class,
                    first: f.details.first_seen.clone(),
                    last: f.details.last_seen.clone(),
                    count: f.count,
                },
            )
        })
        .collect();
    for f in &mut d.findings {
        if f.class == Class::Missing {
            let earlier: Vec<&Earlier> = others
                .iter()
                .filter(|(k, e)| e.class != Class::Missing && k.is_some() && *k == f.key_id)
                .map(|(_, e)| e)
                .collect();
            f.differential = Some(missing(f, &earlier, retention));
        }
    }
}

/// Another finding of the same key: it existed when that failure happened.
struct Earlier {
    class: Class,
    first: Option<String>,
    last: Option<String>,
    count: usize,
}

fn missing(f: &Finding, earlier: &[&Earlier], retention: &Retention) -> Differential {
    let id = f.key_id.as_deref();
    // What shows the key existed in this cluster, and when it stopped being usable.
    let mut existed = Vec::new();
    let mut ended: Option<(i64, String)> = None;
    let mut created: Option<String> = None;
    let norm = |t: &Option<String>| {
        t.as_deref()
            .map(|t| parse_ts(t).map_or_else(|| t.to_string(), format_ms))
    };
    for e in earlier {
        let when = match (&norm(&e.first), &norm(&e.last)) {
            (Some(a), Some(b)) if a != b => format!(" from {a} to {b}"),
            (Some(a), _) => format!(" at {a}"),
            _ => String::new(),
        };
        existed.push(format!(
            "the same id failed as `{}`{when} ({}×): the cluster knew the key then",
            e.class.as_str(),
            e.count
        ));
        if matches!(e.class, Class::Invalidated | Class::Expired) {
            if let Some(ms) = e.first.as_deref().and_then(parse_ts) {
                let what = format!("was already {} at {}", e.class.as_str(), format_ms(ms));
                if ended.as_ref().is_none_or(|(t, _)| ms < *t) {
                    ended = Some((ms, what));
                }
            }
        }
    }
    for t in &f.timeline {
        let at = t
            .source
            .as_ref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        match t.event {
            "created" => {
                existed.push(format!("created at {}{at}", t.at));
                created = Some(t.at.clone());
            }
            "updated" => existed.push(format!("updated at {}{at}", t.at)),
            "last_success" => existed.push(format!("authenticated at {}{at}", t.at)),
            "invalidated" | "expired" => {
                existed.push(format!("{} at {}{at}", t.event, t.at));
                if ended.as_ref().is_none_or(|(ms, _)| t.ms <= *ms) {
                    ended = Some((t.ms, format!("was {} at {}", t.event, t.at)));
                }
            }
            _ => {}
        }
    }
    if let Some(state) = f.details.metadata_state {
        existed.push(format!("the pasted key metadata lists it ({state})"));
    }
    let first_missing = f.details.first_seen.as_deref().and_then(parse_ts);

    let mut causes = Vec::new();
    // Deleted by the retention job.
    let mut purged = Cause {
        cause: "purged after the retention period",
        verdict: Verdict::Possible,
        evidence_for: existed.clone(),
        evidence_against: Vec::new(),
    };
    match (&ended, first_missing, existed.is_empty()) {
        (_, _, true) => purged
            .evidence_against
            .push("nothing in the inputs shows this id existed in this cluster".into()),
        (Some((end, what)), Some(nf), false) => {
            let gap = nf - end;
            if gap >= retention.ms {
                purged.verdict = Verdict::Likely;
                purged.evidence_for.push(format!(
                    "it {what}; \"not found\" first at {}, {} later: past the retention period of {}, when Elasticsearch deletes expired and invalidated keys",
                    format_ms(nf),
                    duration(gap),
                    retention.text
                ));
            } else if gap >= 0 {
                purged.verdict = Verdict::Unlikely;
                purged.evidence_against.push(format!(
                    "it {what}, and \"not found\" came {} later, inside the retention period of {}: the key was still stored",
                    duration(gap),
                    retention.text
                ));
            }
        }
        (Some((_, what)), None, false) => {
            purged.verdict = Verdict::Likely;
            purged.evidence_for.push(format!(
                "it {what}; once the retention period ({}) has passed Elasticsearch deletes it",
                retention.text
            ));
        }
        (None, _, false) => purged.evidence_against.push(
            "no expiry or invalidation of it in the inputs (only such keys are deleted)".into(),
        ),
    }
    causes.push(purged);

    // A mistyped or truncated id.
    let mut typo = Cause {
        cause: "a mistyped or truncated id",
        verdict: Verdict::Unlikely,
        evidence_for: Vec::new(),
        evidence_against: Vec::new(),
    };
    match id {
        Some(id) if id.len() != 20 || !looks_like_key_id(id) => {
            typo.verdict = Verdict::Likely;
            typo.evidence_for.push(format!(
                "`{id}` is {} characters; ids Elasticsearch generates are 20 URL-safe characters",
                id.chars().count()
            ));
        }
        Some(id) => typo.evidence_against.push(format!(
            "`{id}` has the shape of a generated id (20 URL-safe characters)"
        )),
        None => typo.verdict = Verdict::Possible,
    }
    if !existed.is_empty() {
        typo.verdict = Verdict::Unlikely;
        typo.evidence_against
            .push("this very id was known to the cluster (above)".into());
    }
    causes.push(typo);

    // Another cluster, or a .security restored from an older snapshot.
    let mut elsewhere = Cause {
        cause: "the client talks to another cluster",
        verdict: Verdict::Possible,
        evidence_for: Vec::new(),
        evidence_against: Vec::new(),
    };
    let mut restored = Cause {
        cause: "`.security` restored from a snapshot older than the key",
        verdict: Verdict::Possible,
        evidence_for: Vec::new(),
        evidence_against: Vec::new(),
    };
    if existed.is_empty() {
        elsewhere
            .evidence_for
            .push("nothing in the inputs shows the key was ever created or used here".into());
        restored
            .evidence_against
            .push("nothing shows the key existed here before".into());
        restored.verdict = Verdict::Unlikely;
    } else {
        elsewhere.verdict = Verdict::Unlikely;
        elsewhere.evidence_against.push(
            "the failures that show the key existed come from the same logs as this one".into(),
        );
        match (&ended, &created) {
            (Some((_, what)), _) => {
                restored.verdict = Verdict::Unlikely;
                restored.evidence_against.push(format!(
                    "it {what}: the retention purge explains its absence without a restore"
                ));
            }
            (None, Some(at)) => {
                restored.verdict = Verdict::Likely;
                restored.evidence_for.push(format!(
                    "created at {at}, never expired or invalidated in the inputs: an active key disappears only with its `.security` index (a restore, a rebuilt cluster)"
                ));
            }
            (None, None) => {}
        }
    }
    causes.push(elsewhere);
    causes.push(restored);
    causes.sort_by_key(|c| c.verdict);

    let open: Vec<&Cause> = causes
        .iter()
        .filter(|c| c.verdict != Verdict::Unlikely)
        .collect();
    let key = id.unwrap_or("<key id>");
    let check = match open.first().map(|c| c.cause) {
        Some(c) if c.starts_with("a mistyped") => Some(format!(
            "Compare `{key}` with the id in the client's configuration and with `GET /_security/api_key?name=<the key's name>`: a different id there is the answer."
        )),
        Some(_) if open.len() > 1 || open.iter().any(|c| c.cause.starts_with("the client talks")) => Some(format!(
            "Send `GET /` with the client's own URL and compare its `cluster_uuid` with this cluster's: another uuid means another cluster; the same one means the key was deleted here, and the audit log (`--audit-index`, or `*_audit.json`) has its `invalidate_apikeys` or `create_apikey` event for `{key}`."
        )),
        Some(_) => Some(format!(
            "Nothing brings a deleted key back: create a replacement (below). The audit log has who invalidated `{key}` and when, if it was invalidated."
        )),
        None => None,
    };
    Differential { causes, check }
}

/// `3 d 4 h`, `5 h 12 min`, `42 s`.
fn duration(ms: i64) -> String {
    let s = ms / 1000;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(42_000), "42 s");
        assert_eq!(duration(5 * 3_600_000 + 12 * 60_000), "5 h 12 min");
        assert_eq!(duration(9 * 86_400_000 + 3 * 3_600_000), "9 d 3 h");
    }
}
