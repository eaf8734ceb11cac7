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

use super::fact::{Limit, OwnerLimit, OwnerVerdict};
use super::timeline::parse_ts;
use crate::diagnosis::{Diagnosis, FactKind, Finding};
use crate::event::credential::looks_like_key_id;
use crate::model::format_ms;
use crate::model::Class;
use crate::model::OpenCauses;
use crate::model::TimelineEvent;

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

/// The causes a differential weighs; each has a stable code and its words in
/// `rules/facts.toml` (`cause.<code>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CauseKind {
    ExpirationPassed,
    ClockAhead,
    AnotherKey,
    InvalidatedByPerson,
    RetiredByProduct,
    LeftBehindInRotation,
    OwnDescriptorsLack,
    OwnerLacks,
    OtherIndices,
    MixedKeys,
    AlteredOnTheWay,
    RecreatedElsewhere,
    ServiceOff,
    ServiceOffOnSomeNodes,
    RemoteKeyExpired,
    RemoteKeyInvalidated,
    RemoteKeyUnknown,
    RemoteSecretWrong,
    RemoteAccessLacks,
    CallerRemoteIndicesLack,
    Purged,
    MistypedId,
    AnotherCluster,
    SecurityRestored,
}

impl CauseKind {
    /// Every cause, for the check that each has its words.
    pub const ALL: &'static [CauseKind] = &[
        Self::ExpirationPassed,
        Self::ClockAhead,
        Self::AnotherKey,
        Self::InvalidatedByPerson,
        Self::RetiredByProduct,
        Self::LeftBehindInRotation,
        Self::OwnDescriptorsLack,
        Self::OwnerLacks,
        Self::OtherIndices,
        Self::MixedKeys,
        Self::AlteredOnTheWay,
        Self::RecreatedElsewhere,
        Self::ServiceOff,
        Self::ServiceOffOnSomeNodes,
        Self::RemoteKeyExpired,
        Self::RemoteKeyInvalidated,
        Self::RemoteKeyUnknown,
        Self::RemoteSecretWrong,
        Self::RemoteAccessLacks,
        Self::CallerRemoteIndicesLack,
        Self::Purged,
        Self::MistypedId,
        Self::AnotherCluster,
        Self::SecurityRestored,
    ];

    /// The stable code (`purged`), the JSON report's `cause_code`.
    pub fn code(self) -> &'static str {
        match self {
            Self::ExpirationPassed => "expiration_passed",
            Self::ClockAhead => "clock_ahead",
            Self::AnotherKey => "another_key",
            Self::InvalidatedByPerson => "invalidated_by_person",
            Self::RetiredByProduct => "retired_by_product",
            Self::LeftBehindInRotation => "left_behind_in_rotation",
            Self::OwnDescriptorsLack => "own_descriptors_lack",
            Self::OwnerLacks => "owner_lacks",
            Self::OtherIndices => "other_indices",
            Self::MixedKeys => "mixed_keys",
            Self::AlteredOnTheWay => "altered_on_the_way",
            Self::RecreatedElsewhere => "recreated_elsewhere",
            Self::ServiceOff => "service_off",
            Self::ServiceOffOnSomeNodes => "service_off_on_some_nodes",
            Self::RemoteKeyExpired => "remote_key_expired",
            Self::RemoteKeyInvalidated => "remote_key_invalidated",
            Self::RemoteKeyUnknown => "remote_key_unknown",
            Self::RemoteSecretWrong => "remote_secret_wrong",
            Self::RemoteAccessLacks => "remote_access_lacks",
            Self::CallerRemoteIndicesLack => "caller_remote_indices_lack",
            Self::Purged => "purged",
            Self::MistypedId => "mistyped_id",
            Self::AnotherCluster => "another_cluster",
            Self::SecurityRestored => "security_restored",
        }
    }

    /// Its words, from `rules/facts.toml`.
    pub fn text(self) -> String {
        super::fact::texts().cause(self.code())
    }
}

/// One cause considered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Which cause.
    pub cause: CauseKind,
    /// Its words, from `rules/facts.toml`.
    pub text: String,
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
pub fn analyse(d: &mut Diagnosis, retention: &Retention, rules: &crate::rule::RuleSet) {
    // Every finding's key, class and span: the other failures of a key show it existed.
    let others: Vec<(Option<String>, Earlier)> = d
        .findings
        .iter()
        .map(|f| {
            (
                f.key_id.clone(),
                Earlier {
                    class: f.class,
                    first: f.observed.first_seen.clone(),
                    last: f.observed.last_seen.clone(),
                    count: f.count,
                },
            )
        })
        .collect();
    for f in &mut d.findings {
        if f.differential.is_some() {
            continue;
        }
        let open = rules.get(&f.rule_id).and_then(|r| r.differential);
        f.differential = match f.class {
            Class::Missing => {
                let earlier: Vec<&Earlier> = others
                    .iter()
                    .filter(|(k, e)| e.class != Class::Missing && k.is_some() && *k == f.key_id)
                    .map(|(_, e)| e)
                    .collect();
                Some(missing(f, &earlier, retention))
            }
            Class::Expired => Some(expired(f)),
            Class::Invalidated => Some(invalidated(f)),
            Class::UnderPrivileged => Some(under_privileged(f)),
            Class::MalformedCredentials if open == Some(OpenCauses::WrongSecret) => {
                Some(wrong_secret(f))
            }
            Class::ApiKeyServiceDisabled => Some(service_disabled(f)),
            Class::CrossClusterMisconfig => cross_cluster(f, open),
            // The other classes name one cause from the text itself (a credential's format, a
            // key's type): there is nothing to weigh.
            _ => None,
        };
    }
}

fn cause(kind: CauseKind, verdict: Verdict) -> Cause {
    Cause {
        cause: kind,
        text: kind.text(),
        verdict,
        evidence_for: Vec::new(),
        evidence_against: Vec::new(),
    }
}

/// Most likely first, keeping the order given among equals.
fn ranked(mut causes: Vec<Cause>, check: String) -> Differential {
    causes.sort_by_key(|c| c.verdict);
    Differential {
        causes,
        check: Some(check),
    }
}

fn key_or(f: &Finding) -> String {
    f.key_id.clone().unwrap_or_else(|| "<key id>".into())
}

/// `api key is expired`: the expiration passed, a node's clock is ahead, or the message is about
/// another key than the one it was joined with.
fn expired(f: &Finding) -> Differential {
    let first = f.observed.first_seen.as_deref().and_then(parse_ts);
    let expiration = f.key.metadata.as_ref().and_then(|m| m.expiration_ms);
    let mut passed = cause(CauseKind::ExpirationPassed, Verdict::Likely);
    passed
        .evidence_for
        .push("Elasticsearch said `api key is expired`: it compared the key's expiration with its own clock".into());
    let mut clock = cause(CauseKind::ClockAhead, Verdict::Unlikely);
    match (expiration, first) {
        (Some(exp), Some(first)) if first >= exp => {
            passed.evidence_for.push(format!(
                "the metadata's expiration {} is {} before the first failure ({})",
                format_ms(exp),
                duration(first - exp),
                format_ms(first)
            ));
            clock.evidence_against.push(format!(
                "the key had expired {} before the first failure",
                duration(first - exp)
            ));
        }
        (Some(exp), Some(first)) => {
            passed.verdict = Verdict::Possible;
            passed.evidence_against.push(format!(
                "the metadata's expiration {} is after the first failure ({}) by the reader's clock",
                format_ms(exp),
                format_ms(first)
            ));
            clock.verdict = Verdict::Likely;
            clock.evidence_for.push(format!(
                "the node called the key expired {} before its expiration: its clock (or the log's) is ahead by at least that",
                duration(exp - first)
            ));
        }
        _ => clock
            .evidence_against
            .push("no key metadata to compare the expiration with the failures".into()),
    }
    let mut other = cause(CauseKind::AnotherKey, Verdict::Unlikely);
    match f.key_inference().map(|(_, text)| text) {
        Some(how) => {
            other.verdict = Verdict::Possible;
            other
                .evidence_for
                .push(format!("the message names no key: {how}"));
            if !f.key.key_candidates.is_empty() {
                other.evidence_for.push(format!(
                    "keys that could be the one: {}",
                    f.key.key_candidates.join(", ")
                ));
            }
        }
        None if f.key_id.is_some() => other.evidence_against.push("the text names the key".into()),
        None => {
            other.verdict = Verdict::Possible;
            other
                .evidence_for
                .push("the message names no key and nothing joined one to it".into());
        }
    }
    let check = if clock.verdict == Verdict::Likely {
        format!(
            "Compare `date -u` on the Elasticsearch nodes with the key's `expiration`: GET /_security/api_key?id={}",
            key_or(f)
        )
    } else {
        format!(
            "GET /_security/api_key?id={}: `expiration` (epoch ms) against the time of the failures",
            key_or(f)
        )
    };
    ranked(vec![passed, clock, other], check)
}

/// `api key [id] has been invalidated`: by a person or script, by the product that manages the
/// key, or a client left holding a key that was rotated.
fn invalidated(f: &Finding) -> Differential {
    let meta = f.key.metadata.as_ref();
    let managed = meta.and_then(|m| m.metadata.as_ref()).and_then(|m| {
        m.get("managed_by")
            .and_then(|v| v.as_str().map(str::to_string))
            .or_else(|| {
                (m.get("managed").and_then(serde_json::Value::as_bool) == Some(true))
                    .then(|| "a product (`managed: true`)".to_string())
            })
    });
    let mut person = cause(CauseKind::InvalidatedByPerson, Verdict::Possible);
    let mut product = cause(CauseKind::RetiredByProduct, Verdict::Unlikely);
    let mut rotated = cause(CauseKind::LeftBehindInRotation, Verdict::Possible);
    match &f.key.invalidated_by {
        Some(by) => {
            person.verdict = Verdict::Likely;
            person.evidence_for.push(format!(
                "the audit log shows {} invalidating it at {} ({}:{})",
                by.user.as_deref().unwrap_or("someone"),
                by.timestamp.as_deref().unwrap_or("?"),
                by.source,
                by.line
            ));
        }
        None => person
            .evidence_against
            .push(f.fact_text(FactKind::AuditGap).map_or_else(
                || "no audit event in the inputs says who invalidated it".into(),
                str::to_string,
            )),
    }
    let name = f
        .key
        .key_name
        .clone()
        .or_else(|| meta.and_then(|m| m.name.clone()));
    let known = f.key_id.as_deref().and_then(|id| {
        super::products::recognise(
            super::products::bundled(),
            id,
            name.as_deref(),
            meta.and_then(|m| m.metadata.as_ref()),
            f.key.user.as_deref(),
        )
    });
    match (&known, &managed) {
        (Some(p), _) => {
            product.verdict = Verdict::Likely;
            product.evidence_for.push(format!(
                "its name and metadata make it {}'s key ({}){}",
                p.product,
                p.depends,
                p.retires
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ));
        }
        (None, Some(by)) => {
            product.verdict = Verdict::Likely;
            product.evidence_for.push(format!(
                "the key's metadata says it is managed by {by}: that product invalidates its keys itself (unenrolment, policy or output changes)"
            ));
        }
        (None, None) if meta.is_some() => product
            .evidence_against
            .push("the key's metadata has no `managed`/`managed_by`".into()),
        (None, None) => {
            product.verdict = Verdict::Possible;
            product.evidence_for.push(
                "no key metadata to tell (Fleet and Kibana mark their keys `managed`)".into(),
            );
        }
    }
    let successes = f
        .timeline
        .iter()
        .filter(|t| t.event == crate::model::TimelineEvent::LastSuccess)
        .count();
    if successes > 0 {
        rotated.evidence_for.push(
            "the key authenticated before it was invalidated: clients used it and one still does"
                .into(),
        );
    }
    rotated.evidence_for.push(
        "keys are invalidated once their replacement is deployed; a client missed in that deployment keeps sending the old one"
            .into(),
    );
    let check = match (&known, name) {
        (Some(p), _) => format!(
            "{} re-keys or retires its own keys: {}",
            p.product,
            p.steps.first().map(|s| s.replace('\n', ": ")).unwrap_or_default()
        ),
        (None, Some(n)) => format!(
            "GET /_security/api_key?name={n}: a newer key of that name is the replacement the failing client lacks; the audit log's `invalidate_apikeys` event names who retired the old one"
        ),
        (None, None) if f.key.invalidated_by.is_some() => "Ask whoever invalidated it what replaced it, and find the client still sending the old key: the audit log's authentication failures at the same times carry its address (`scan` joins them)".into(),
        (None, None) => "The audit log's `invalidate_apikeys` event for the key (who, when, from where)".into(),
    };
    ranked(vec![person, product, rotated], check)
}

/// An authorization denial for a key: its own descriptors, its owner's (`limited_by`), or an
/// index name its patterns do not cover.
fn under_privileged(f: &Finding) -> Differential {
    let limit = f.limit();
    let meta = f.key.metadata.as_ref();
    let mut own = cause(CauseKind::OwnDescriptorsLack, Verdict::Possible);
    let mut owner = cause(CauseKind::OwnerLacks, Verdict::Possible);
    let mut name = cause(CauseKind::OtherIndices, Verdict::Possible);
    match limit {
        Some((
            Limit::Owner(OwnerLimit {
                verdict: OwnerVerdict::Grants,
                ..
            }),
            text,
        )) => {
            // A bundle's roles: the owner holds it today; the key's side, or an old snapshot.
            own.verdict = Verdict::Likely;
            own.evidence_for.push(text.to_string());
            owner.evidence_against.push(
                "the owner's roles grant it today; only a limited_by snapshot taken before that grant would lack it".into(),
            );
        }
        Some((Limit::RoleDescriptors, text)) => {
            own.verdict = Verdict::Likely;
            own.evidence_for.push(text.to_string());
            owner.verdict = Verdict::Unlikely;
            owner
                .evidence_against
                .push("the key's own descriptors already refuse it".into());
        }
        Some((
            Limit::LimitedBy
            | Limit::LimitedByUnverified
            | Limit::Owner(OwnerLimit {
                verdict: OwnerVerdict::Lacks,
                ..
            }),
            text,
        )) => {
            owner.verdict = Verdict::Likely;
            owner.evidence_for.push(text.to_string());
            own.verdict = Verdict::Unlikely;
            own.evidence_against.push(if meta.is_some() {
                "the key's own descriptors allow it".into()
            } else {
                "whatever the key's own descriptors say, its owner lacks it: changing them alone cannot help".into()
            });
        }
        Some((
            Limit::Owner(OwnerLimit {
                verdict: OwnerVerdict::Undecided,
                ..
            }),
            text,
        )) => owner.evidence_for.push(text.to_string()),
        _ if meta.is_none() => {
            own.evidence_for
                .push("no key metadata to compare the descriptors with".into());
            owner
                .evidence_for
                .push("no key metadata (with_limited_by) to compare".into());
        }
        _ => {}
    }
    match f.fact_text(FactKind::IndexMatch) {
        Some(m) => name.evidence_for.push(m.to_string()),
        None if f.denial.indices.is_empty() && f.denial.actions.is_empty() => {
            name.evidence_against
                .push("the message names no index".into());
        }
        None if f.denial.indices.is_empty() => {
            name.verdict = Verdict::Unlikely;
            name.evidence_against
                .push("a cluster action: no index involved".into());
        }
        None => {}
    }
    let check = format!(
        "GET /_security/api_key?id={}&with_limited_by=true (8.5+): the key's role_descriptors and its owner's limited_by, against {}",
        key_or(f),
        f.denial
            .least_privilege
            .as_deref()
            .map(|p| format!("`{p}`"))
            .unwrap_or_else(|| "the privilege named in the error".into())
    );
    ranked(vec![own, owner, name], check)
}

/// `invalid credentials for API key [id]`: the id is known, the secret is not its.
fn wrong_secret(f: &Finding) -> Differential {
    let mut mixed = cause(CauseKind::MixedKeys, Verdict::Possible);
    mixed.evidence_for.push(
        "after a rotation, a configuration that updates the secret but not the id (or the reverse) sends exactly this"
            .into(),
    );
    let mut mangled = cause(CauseKind::AlteredOnTheWay, Verdict::Possible);
    if f.observed.credential_formats.is_empty() {
        mangled
            .evidence_against
            .push("no credential in the input to inspect".into());
    } else {
        mangled.verdict = Verdict::Likely;
        mangled.evidence_for.push(format!(
            "the credential in the input is {}",
            f.observed.credential_tags().join(", ")
        ));
    }
    let mut restored = cause(CauseKind::RecreatedElsewhere, Verdict::Unlikely);
    restored
        .evidence_against
        .push("ids are random: only a restore or a copy of the security index repeats one".into());
    ranked(
        vec![mixed, mangled, restored],
        "Decode what the client sends (`echo <value> | base64 -d`): it must be `<id>:<secret>` with no newline, and the id must be the one in the create response the secret came from".into(),
    )
}

/// `api keys are not enabled`: on every node, or on the one that answered.
fn service_disabled(f: &Finding) -> Differential {
    let mut all = cause(CauseKind::ServiceOff, Verdict::Possible);
    let mut some = cause(CauseKind::ServiceOffOnSomeNodes, Verdict::Possible);
    match f.observed.nodes.len() {
        0 => {}
        1 => some.evidence_for.push(format!(
            "only {} logged it",
            f.observed.nodes.first().map(String::as_str).unwrap_or("?")
        )),
        n => all.evidence_for.push(format!("{n} nodes logged it")),
    }
    if f.observed.uri.is_some() || f.observed.statuses.contains(&400) {
        all.evidence_for
            .push("the API itself answered that API keys are disabled".into());
    }
    ranked(
        vec![all, some],
        "GET /_nodes/settings?filter_path=nodes.*.name,nodes.*.settings.xpack.security.authc.api_key (a node without the setting has it on by default when security is on)".into(),
    )
}

/// Cross-cluster: a refused handshake (four reasons only the remote knows), or a denied search
/// (the key's access or the caller's remote_indices).
fn cross_cluster(f: &Finding, open: Option<OpenCauses>) -> Option<Differential> {
    match open? {
        OpenCauses::RemoteKeyRejected => {
            let names = [
                CauseKind::RemoteKeyExpired,
                CauseKind::RemoteKeyInvalidated,
                CauseKind::RemoteKeyUnknown,
                CauseKind::RemoteSecretWrong,
            ];
            let causes = names
                .into_iter()
                .map(|n| {
                    let mut c = cause(n, Verdict::Possible);
                    c.evidence_for.push(
                        "the querying side's message is the same for all four; only the remote knows"
                            .into(),
                    );
                    c
                })
                .collect();
            Some(ranked(
                causes,
                format!(
                    "On the remote: GET /_security/api_key?id={} (absent, invalidated, or past `expiration`); or scan both clusters' logs with `scan --remote-logs`, which pairs the remote's `Authentication using apikey failed` with this",
                    key_or(f)
                ),
            ))
        }
        OpenCauses::RemoteAccessDenied => {
            let access = f.limit().and_then(|(l, text)| match l {
                Limit::EffectiveAccess(e) => Some((e, text)),
                _ => None,
            });
            let mut key = cause(CauseKind::RemoteAccessLacks, Verdict::Possible);
            let mut user = cause(CauseKind::CallerRemoteIndicesLack, Verdict::Possible);
            let neither = access.is_some_and(|(e, _)| e.neither());
            if let Some((e, text)) = access {
                if e.key_lacks() {
                    key.verdict = Verdict::Likely;
                    key.evidence_for.push(text.to_string());
                }
                if e.caller_lacks() {
                    user.verdict = Verdict::Likely;
                    user.evidence_for.push(text.to_string());
                }
            }
            if key.verdict == Verdict::Likely && !neither {
                user.verdict = Verdict::Unlikely;
                user.evidence_against
                    .push("the caller's remote_indices cover the index".into());
            }
            if user.verdict == Verdict::Likely && !neither {
                key.verdict = Verdict::Unlikely;
                key.evidence_against
                    .push("the key's access covers the index".into());
            }
            if access.is_none() {
                key.evidence_for.push(
                    "without the remote's key metadata and the local roles, both remain".into(),
                );
            }
            Some(ranked(
                vec![key, user],
                format!(
                    "On the fulfilling cluster GET /_security/api_key?id={} (`access`), on the querying cluster the caller's roles (`remote_indices` for the alias); `scan --remote-logs` with both answers computes the intersection",
                    key_or(f)
                ),
            ))
        }
        _ => None,
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
            TimelineEvent::Created => {
                existed.push(format!("created at {}{at}", t.at));
                created = Some(t.at.clone());
            }
            TimelineEvent::Updated => existed.push(format!("updated at {}{at}", t.at)),
            TimelineEvent::LastSuccess => {
                existed.push(format!("authenticated at {}{at}", t.at));
            }
            TimelineEvent::Invalidated | TimelineEvent::Expired => {
                existed.push(format!("{} at {}{at}", t.event, t.at));
                if ended.as_ref().is_none_or(|(ms, _)| t.ms <= *ms) {
                    ended = Some((t.ms, format!("was {} at {}", t.event, t.at)));
                }
            }
            _ => {}
        }
    }
    if let Some(state) = f.key.metadata_state {
        existed.push(
            match f
                .key
                .metadata
                .as_ref()
                .and_then(|m| m.derived_from.as_deref())
            {
                Some(src) => format!("{src} describes it ({state})"),
                None => format!("the pasted key metadata lists it ({state})"),
            },
        );
    }
    let first_missing = f.observed.first_seen.as_deref().and_then(parse_ts);

    let mut causes = Vec::new();
    // Deleted by the retention job.
    let mut purged = Cause {
        cause: CauseKind::Purged,
        text: CauseKind::Purged.text(),
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
        cause: CauseKind::MistypedId,
        text: CauseKind::MistypedId.text(),
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
        cause: CauseKind::AnotherCluster,
        text: CauseKind::AnotherCluster.text(),
        verdict: Verdict::Possible,
        evidence_for: Vec::new(),
        evidence_against: Vec::new(),
    };
    let mut restored = Cause {
        cause: CauseKind::SecurityRestored,
        text: CauseKind::SecurityRestored.text(),
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
        Some(CauseKind::MistypedId) => Some(format!(
            "Compare `{key}` with the id in the client's configuration and with `GET /_security/api_key?name=<the key's name>`: a different id there is the answer."
        )),
        Some(_) if open.len() > 1 || open.iter().any(|c| c.cause == CauseKind::AnotherCluster) => Some(format!(
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
