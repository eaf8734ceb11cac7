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

/// The differential's sentences (`evidence.*` for or against a cause, `check.*` the step that
/// decides, `part.*` their pieces), with the fields each may use: what `rules/facts.toml` is
/// checked against.
pub const WORDS: &[(&str, &[&str])] = &[
    ("evidence.expired.said", &[]),
    (
        "evidence.expired.before_failure",
        &["expiration", "gap", "first"],
    ),
    ("evidence.expired.had_expired", &["gap"]),
    ("evidence.expired.after_failure", &["expiration", "first"]),
    ("evidence.expired.clock_ahead", &["gap"]),
    ("evidence.expired.no_metadata", &[]),
    ("evidence.key.inferred", &["how"]),
    ("evidence.key.candidates", &["keys"]),
    ("evidence.key.named", &[]),
    ("evidence.key.unnamed", &[]),
    ("check.expired.clock", &["key_id"]),
    ("check.expired", &["key_id"]),
    (
        "evidence.invalidated.audit",
        &["user", "at", "source", "line"],
    ),
    ("evidence.invalidated.no_audit", &[]),
    ("evidence.invalidated.product", &["product", "depends"]),
    (
        "evidence.invalidated.product_retires",
        &["product", "depends", "retires"],
    ),
    ("evidence.invalidated.managed", &["by"]),
    ("part.managed.unnamed", &[]),
    ("evidence.invalidated.not_managed", &[]),
    ("evidence.invalidated.no_metadata", &[]),
    ("evidence.invalidated.used", &[]),
    ("evidence.invalidated.rotation", &[]),
    ("check.invalidated.product", &["product", "step"]),
    ("check.invalidated.by_name", &["name"]),
    ("check.invalidated.ask", &[]),
    ("check.invalidated.audit", &[]),
    ("evidence.denied.owner_grants_today", &[]),
    ("evidence.denied.own_refuse", &[]),
    ("evidence.denied.own_allow", &[]),
    ("evidence.denied.owner_lacks", &[]),
    ("evidence.denied.no_metadata", &[]),
    ("evidence.denied.no_limited_by", &[]),
    ("evidence.denied.no_index", &[]),
    ("evidence.denied.cluster_action", &[]),
    ("check.denied", &["key_id", "privilege"]),
    ("check.denied.unnamed", &["key_id"]),
    ("evidence.secret.rotation", &[]),
    ("evidence.secret.no_credential", &[]),
    ("evidence.secret.credential", &["formats"]),
    ("evidence.secret.ids_random", &[]),
    ("check.secret", &[]),
    ("evidence.service.one_node", &["node"]),
    ("evidence.service.nodes", &["nodes"]),
    ("evidence.service.api", &[]),
    ("check.service", &[]),
    ("evidence.remote.same_message", &[]),
    ("check.remote.rejected", &["key_id"]),
    ("evidence.remote.caller_covers", &[]),
    ("evidence.remote.key_covers", &[]),
    ("evidence.remote.both_remain", &[]),
    ("check.remote.denied", &["key_id"]),
    ("part.when.span", &["from", "to"]),
    ("part.when.at", &["at"]),
    ("part.source", &["source"]),
    ("part.missing.was_already", &["class", "at"]),
    ("part.missing.was", &["event", "at"]),
    ("evidence.missing.failed_as", &["class", "when", "count"]),
    ("evidence.missing.created", &["at", "source"]),
    ("evidence.missing.updated", &["at", "source"]),
    ("evidence.missing.authenticated", &["at", "source"]),
    ("evidence.missing.ended", &["event", "at", "source"]),
    ("evidence.missing.described", &["described_by", "state"]),
    ("evidence.missing.listed", &["state"]),
    ("evidence.missing.never_here", &[]),
    (
        "evidence.missing.purged",
        &["what", "first", "gap", "retention"],
    ),
    (
        "evidence.missing.still_stored",
        &["what", "gap", "retention"],
    ),
    ("evidence.missing.will_purge", &["what", "retention"]),
    ("evidence.missing.not_ended", &[]),
    ("evidence.missing.id_length", &["id", "length"]),
    ("evidence.missing.id_shape", &["id"]),
    ("evidence.missing.id_known", &[]),
    ("evidence.missing.never_used", &[]),
    ("evidence.missing.no_before", &[]),
    ("evidence.missing.same_logs", &[]),
    ("evidence.missing.purge_explains", &["what"]),
    ("evidence.missing.restored", &["at"]),
    ("check.missing.typo", &["key_id"]),
    ("check.missing.cluster", &["key_id"]),
    ("check.missing.deleted", &["key_id"]),
];

/// A sentence of `WORDS` with its fields, from `rules/facts.toml`.
fn say(code: &str, fields: &[(&'static str, String)]) -> String {
    super::fact::texts().say(code, fields)
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
    passed.evidence_for.push(say("evidence.expired.said", &[]));
    let mut clock = cause(CauseKind::ClockAhead, Verdict::Unlikely);
    match (expiration, first) {
        (Some(exp), Some(first)) if first >= exp => {
            passed.evidence_for.push(say(
                "evidence.expired.before_failure",
                &[
                    ("expiration", format_ms(exp)),
                    ("gap", duration(first - exp)),
                    ("first", format_ms(first)),
                ],
            ));
            clock.evidence_against.push(say(
                "evidence.expired.had_expired",
                &[("gap", duration(first - exp))],
            ));
        }
        (Some(exp), Some(first)) => {
            passed.verdict = Verdict::Possible;
            passed.evidence_against.push(say(
                "evidence.expired.after_failure",
                &[("expiration", format_ms(exp)), ("first", format_ms(first))],
            ));
            clock.verdict = Verdict::Likely;
            clock.evidence_for.push(say(
                "evidence.expired.clock_ahead",
                &[("gap", duration(exp - first))],
            ));
        }
        _ => clock
            .evidence_against
            .push(say("evidence.expired.no_metadata", &[])),
    }
    let mut other = cause(CauseKind::AnotherKey, Verdict::Unlikely);
    match f.key_inference().map(|(_, text)| text) {
        Some(how) => {
            other.verdict = Verdict::Possible;
            other
                .evidence_for
                .push(say("evidence.key.inferred", &[("how", how.to_string())]));
            if !f.key.key_candidates.is_empty() {
                other.evidence_for.push(say(
                    "evidence.key.candidates",
                    &[("keys", f.key.key_candidates.join(", "))],
                ));
            }
        }
        None if f.key_id.is_some() => other.evidence_against.push(say("evidence.key.named", &[])),
        None => {
            other.verdict = Verdict::Possible;
            other.evidence_for.push(say("evidence.key.unnamed", &[]));
        }
    }
    let check = if clock.verdict == Verdict::Likely {
        say("check.expired.clock", &[("key_id", key_or(f))])
    } else {
        say("check.expired", &[("key_id", key_or(f))])
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
                    .then(|| say("part.managed.unnamed", &[]))
            })
    });
    let mut person = cause(CauseKind::InvalidatedByPerson, Verdict::Possible);
    let mut product = cause(CauseKind::RetiredByProduct, Verdict::Unlikely);
    let mut rotated = cause(CauseKind::LeftBehindInRotation, Verdict::Possible);
    match &f.key.invalidated_by {
        Some(by) => {
            person.verdict = Verdict::Likely;
            let mut fields = vec![("source", by.source.clone()), ("line", by.line.to_string())];
            if let Some(user) = &by.user {
                fields.push(("user", user.clone()));
            }
            if let Some(at) = &by.timestamp {
                fields.push(("at", at.clone()));
            }
            person
                .evidence_for
                .push(say("evidence.invalidated.audit", &fields));
        }
        None => person.evidence_against.push(
            f.fact_text(FactKind::AuditGap)
                .map_or_else(|| say("evidence.invalidated.no_audit", &[]), str::to_string),
        ),
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
            let mut fields = vec![
                ("product", p.product.clone()),
                ("depends", p.depends.clone()),
            ];
            let code = match &p.retires {
                Some(r) => {
                    fields.push(("retires", r.clone()));
                    "evidence.invalidated.product_retires"
                }
                None => "evidence.invalidated.product",
            };
            product.evidence_for.push(say(code, &fields));
        }
        (None, Some(by)) => {
            product.verdict = Verdict::Likely;
            product
                .evidence_for
                .push(say("evidence.invalidated.managed", &[("by", by.clone())]));
        }
        (None, None) if meta.is_some() => product
            .evidence_against
            .push(say("evidence.invalidated.not_managed", &[])),
        (None, None) => {
            product.verdict = Verdict::Possible;
            product
                .evidence_for
                .push(say("evidence.invalidated.no_metadata", &[]));
        }
    }
    let successes = f
        .timeline
        .iter()
        .filter(|t| t.event == crate::model::TimelineEvent::LastSuccess)
        .count();
    if successes > 0 {
        rotated
            .evidence_for
            .push(say("evidence.invalidated.used", &[]));
    }
    rotated
        .evidence_for
        .push(say("evidence.invalidated.rotation", &[]));
    let check = match (&known, name) {
        (Some(p), _) => say(
            "check.invalidated.product",
            &[
                ("product", p.product.clone()),
                (
                    "step",
                    p.steps
                        .first()
                        .map(|s| s.replace('\n', ": "))
                        .unwrap_or_default(),
                ),
            ],
        ),
        (None, Some(n)) => say("check.invalidated.by_name", &[("name", n)]),
        (None, None) if f.key.invalidated_by.is_some() => say("check.invalidated.ask", &[]),
        (None, None) => say("check.invalidated.audit", &[]),
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
            owner
                .evidence_against
                .push(say("evidence.denied.owner_grants_today", &[]));
        }
        Some((Limit::RoleDescriptors, text)) => {
            own.verdict = Verdict::Likely;
            own.evidence_for.push(text.to_string());
            owner.verdict = Verdict::Unlikely;
            owner
                .evidence_against
                .push(say("evidence.denied.own_refuse", &[]));
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
                say("evidence.denied.own_allow", &[])
            } else {
                say("evidence.denied.owner_lacks", &[])
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
                .push(say("evidence.denied.no_metadata", &[]));
            owner
                .evidence_for
                .push(say("evidence.denied.no_limited_by", &[]));
        }
        _ => {}
    }
    match f.fact_text(FactKind::IndexMatch) {
        Some(m) => name.evidence_for.push(m.to_string()),
        None if f.denial.indices.is_empty() && f.denial.actions.is_empty() => {
            name.evidence_against
                .push(say("evidence.denied.no_index", &[]));
        }
        None if f.denial.indices.is_empty() => {
            name.verdict = Verdict::Unlikely;
            name.evidence_against
                .push(say("evidence.denied.cluster_action", &[]));
        }
        None => {}
    }
    let check = match f.denial.least_privilege.as_deref() {
        Some(p) => say(
            "check.denied",
            &[("key_id", key_or(f)), ("privilege", p.to_string())],
        ),
        None => say("check.denied.unnamed", &[("key_id", key_or(f))]),
    };
    ranked(vec![own, owner, name], check)
}

/// `invalid credentials for API key [id]`: the id is known, the secret is not its.
fn wrong_secret(f: &Finding) -> Differential {
    let mut mixed = cause(CauseKind::MixedKeys, Verdict::Possible);
    mixed
        .evidence_for
        .push(say("evidence.secret.rotation", &[]));
    let mut mangled = cause(CauseKind::AlteredOnTheWay, Verdict::Possible);
    if f.observed.credential_formats.is_empty() {
        mangled
            .evidence_against
            .push(say("evidence.secret.no_credential", &[]));
    } else {
        mangled.verdict = Verdict::Likely;
        mangled.evidence_for.push(say(
            "evidence.secret.credential",
            &[("formats", f.observed.credential_tags().join(", "))],
        ));
    }
    let mut restored = cause(CauseKind::RecreatedElsewhere, Verdict::Unlikely);
    restored
        .evidence_against
        .push(say("evidence.secret.ids_random", &[]));
    ranked(vec![mixed, mangled, restored], say("check.secret", &[]))
}

/// `api keys are not enabled`: on every node, or on the one that answered.
fn service_disabled(f: &Finding) -> Differential {
    let mut all = cause(CauseKind::ServiceOff, Verdict::Possible);
    let mut some = cause(CauseKind::ServiceOffOnSomeNodes, Verdict::Possible);
    match f.observed.nodes.len() {
        0 => {}
        1 => some.evidence_for.push(say(
            "evidence.service.one_node",
            &f.observed
                .nodes
                .first()
                .map(|n| vec![("node", n.clone())])
                .unwrap_or_default(),
        )),
        n => all
            .evidence_for
            .push(say("evidence.service.nodes", &[("nodes", n.to_string())])),
    }
    if f.observed.uri.is_some() || f.observed.statuses.contains(&400) {
        all.evidence_for.push(say("evidence.service.api", &[]));
    }
    ranked(vec![all, some], say("check.service", &[]))
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
                    c.evidence_for
                        .push(say("evidence.remote.same_message", &[]));
                    c
                })
                .collect();
            Some(ranked(
                causes,
                say("check.remote.rejected", &[("key_id", key_or(f))]),
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
                    .push(say("evidence.remote.caller_covers", &[]));
            }
            if user.verdict == Verdict::Likely && !neither {
                key.verdict = Verdict::Unlikely;
                key.evidence_against
                    .push(say("evidence.remote.key_covers", &[]));
            }
            if access.is_none() {
                key.evidence_for
                    .push(say("evidence.remote.both_remain", &[]));
            }
            Some(ranked(
                vec![key, user],
                say("check.remote.denied", &[("key_id", key_or(f))]),
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
        let when = match (norm(&e.first), norm(&e.last)) {
            (Some(a), Some(b)) if a != b => say("part.when.span", &[("from", a), ("to", b)]),
            (Some(a), _) => say("part.when.at", &[("at", a)]),
            _ => String::new(),
        };
        existed.push(say(
            "evidence.missing.failed_as",
            &[
                ("class", e.class.as_str().to_string()),
                ("when", when),
                ("count", e.count.to_string()),
            ],
        ));
        if matches!(e.class, Class::Invalidated | Class::Expired) {
            if let Some(ms) = e.first.as_deref().and_then(parse_ts) {
                let what = say(
                    "part.missing.was_already",
                    &[
                        ("class", e.class.as_str().to_string()),
                        ("at", format_ms(ms)),
                    ],
                );
                if ended.as_ref().is_none_or(|(t, _)| ms < *t) {
                    ended = Some((ms, what));
                }
            }
        }
    }
    for t in &f.timeline {
        let source = t
            .source
            .as_ref()
            .map(|s| say("part.source", &[("source", s.clone())]))
            .unwrap_or_default();
        let at = || [("at", t.at.clone()), ("source", source.clone())];
        match t.event {
            TimelineEvent::Created => {
                existed.push(say("evidence.missing.created", &at()));
                created = Some(t.at.clone());
            }
            TimelineEvent::Updated => existed.push(say("evidence.missing.updated", &at())),
            TimelineEvent::LastSuccess => {
                existed.push(say("evidence.missing.authenticated", &at()));
            }
            TimelineEvent::Invalidated | TimelineEvent::Expired => {
                let [a, s] = at();
                existed.push(say(
                    "evidence.missing.ended",
                    &[("event", t.event.to_string()), a, s],
                ));
                if ended.as_ref().is_none_or(|(ms, _)| t.ms <= *ms) {
                    ended = Some((
                        t.ms,
                        say(
                            "part.missing.was",
                            &[("event", t.event.to_string()), ("at", t.at.clone())],
                        ),
                    ));
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
                Some(src) => say(
                    "evidence.missing.described",
                    &[
                        ("described_by", src.to_string()),
                        ("state", state.to_string()),
                    ],
                ),
                None => say("evidence.missing.listed", &[("state", state.to_string())]),
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
            .push(say("evidence.missing.never_here", &[])),
        (Some((end, what)), Some(nf), false) => {
            let gap = nf - end;
            if gap >= retention.ms {
                purged.verdict = Verdict::Likely;
                purged.evidence_for.push(say(
                    "evidence.missing.purged",
                    &[
                        ("what", what.clone()),
                        ("first", format_ms(nf)),
                        ("gap", duration(gap)),
                        ("retention", retention.text.clone()),
                    ],
                ));
            } else if gap >= 0 {
                purged.verdict = Verdict::Unlikely;
                purged.evidence_against.push(say(
                    "evidence.missing.still_stored",
                    &[
                        ("what", what.clone()),
                        ("gap", duration(gap)),
                        ("retention", retention.text.clone()),
                    ],
                ));
            }
        }
        (Some((_, what)), None, false) => {
            purged.verdict = Verdict::Likely;
            purged.evidence_for.push(say(
                "evidence.missing.will_purge",
                &[
                    ("what", what.clone()),
                    ("retention", retention.text.clone()),
                ],
            ));
        }
        (None, _, false) => purged
            .evidence_against
            .push(say("evidence.missing.not_ended", &[])),
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
            typo.evidence_for.push(say(
                "evidence.missing.id_length",
                &[
                    ("id", id.to_string()),
                    ("length", id.chars().count().to_string()),
                ],
            ));
        }
        Some(id) => typo
            .evidence_against
            .push(say("evidence.missing.id_shape", &[("id", id.to_string())])),
        None => typo.verdict = Verdict::Possible,
    }
    if !existed.is_empty() {
        typo.verdict = Verdict::Unlikely;
        typo.evidence_against
            .push(say("evidence.missing.id_known", &[]));
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
            .push(say("evidence.missing.never_used", &[]));
        restored
            .evidence_against
            .push(say("evidence.missing.no_before", &[]));
        restored.verdict = Verdict::Unlikely;
    } else {
        elsewhere.verdict = Verdict::Unlikely;
        elsewhere
            .evidence_against
            .push(say("evidence.missing.same_logs", &[]));
        match (&ended, &created) {
            (Some((_, what)), _) => {
                restored.verdict = Verdict::Unlikely;
                restored.evidence_against.push(say(
                    "evidence.missing.purge_explains",
                    &[("what", what.clone())],
                ));
            }
            (None, Some(at)) => {
                restored.verdict = Verdict::Likely;
                restored
                    .evidence_for
                    .push(say("evidence.missing.restored", &[("at", at.clone())]));
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
        Some(CauseKind::MistypedId) => {
            Some(say("check.missing.typo", &[("key_id", key.to_string())]))
        }
        Some(_) if open.len() > 1 || open.iter().any(|c| c.cause == CauseKind::AnotherCluster) => {
            Some(say("check.missing.cluster", &[("key_id", key.to_string())]))
        }
        Some(_) => Some(say("check.missing.deleted", &[("key_id", key.to_string())])),
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
