//! A command's resolved request in, a [`Diagnosis`] out: the pass order, written once.
//!
//! [`explain::run`] reads and diagnoses the pastes, [`scan::run`] walks and scans a tree (and a
//! fulfilling cluster's, for a two-sided scan); both then ask the live cluster
//! ([`cluster::ask`], after [`cluster::same_cluster`] and [`cluster::audit_from_index`]) and run
//! [`finish`], in this order:
//! 1. the checks of each support-diagnostics bundle among the paths (its API answers as `doctor`
//!    reads them, what a bundle cannot show);
//! 2. the differential (the causes ruled in and out across findings);
//! 3. the filter: plans pruned of steps whose facts are now known, `--key`/`--class` and
//!    suppressions.
//!
//! `scan --follow` runs the same [`finish`] on every poll's diagnosis, so a followed tree gets
//! the bundle checks and the differential that a scan of it gets. Nothing here prints: the
//! messages are [`Ran::warnings`].

pub mod cluster;
pub mod explain;
pub mod keys;
pub mod scan;

use crate::diagnosis::differential::Retention;
use crate::diagnosis::Diagnosis;
use crate::model::Class;
use crate::source::bundle::Bundle;

/// The sentences the bundle checks say, with their fields (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[
    ("bundle.label", &["label", "version", "cluster"]),
    ("bundle.keys.none", &[]),
    ("bundle.not_checked", &["title", "text"]),
    ("bundle.keys.how", &[]),
    ("bundle.audit.none", &["then"]),
    ("bundle.audit.off", &[]),
    ("bundle.audit.where", &["cluster"]),
    ("bundle.read", &["files"]),
];

fn say(code: &str, fields: &[(&'static str, String)]) -> String {
    crate::diagnosis::fact::say_in(WORDS, code, fields)
}

/// What a run of the pipeline gives: the diagnosis, and the lines the face prints on stderr
/// (what was read from an audit index, a probe that failed).
pub struct Ran {
    pub diagnosis: Diagnosis,
    pub warnings: Vec<String>,
}

/// What the passes after a scan need.
pub struct Finish<'a> {
    /// The support-diagnostics bundles among the paths.
    pub bundles: &'a [Bundle],
    /// When deleted keys are gone for good (the differential).
    pub retention: &'a Retention,
    /// What the report leaves out.
    pub filter: &'a Filter,
    /// The analysis' "now", epoch milliseconds.
    pub now_ms: i64,
    /// The rule set: its check rules say what a bundle's answers mean.
    pub rules: &'a crate::rule::RuleSet,
}

/// What the live cluster's passes need, and what already failed on the way (the audit index).
pub(crate) struct Live<'a> {
    pub client: Option<&'a crate::cluster::Client>,
    pub studied: Option<&'a cluster::StudiedKey>,
    pub rules: &'a crate::rule::RuleSet,
    pub options: &'a crate::diagnosis::Options,
    pub unavailable: Vec<(&'static str, crate::error::Error)>,
}

/// The passes after the diagnosis, for `explain` and `scan` alike: the live cluster's view (a
/// failure of it is a note; the offline findings stand), then [`finish`].
pub(crate) fn last_passes(
    d: &mut Diagnosis,
    mut live: Live<'_>,
    with: &Finish<'_>,
    warnings: &mut Vec<String>,
) {
    if let Err(e) = cluster::ask(
        live.client,
        live.studied,
        d,
        live.rules,
        live.options,
        warnings,
    ) {
        live.unavailable.push(("cluster view", e));
    }
    for (what, e) in &live.unavailable {
        cluster::unavailable(d, what, e);
    }
    finish(d, with);
}

/// Bundle checks, differential, filter: the passes after a scan, in their one order.
pub fn finish(d: &mut Diagnosis, with: &Finish<'_>) {
    for b in with.bundles {
        bundle_checks(b, d, with.now_ms, with.rules);
    }
    crate::diagnosis::differential::analyse(d, with.retention, with.rules);
    with.filter.apply(d);
}

/// What a bundle's API answers show, as `doctor` checks them, and what the bundle cannot show,
/// with the request or log that would.
pub fn bundle_checks(
    b: &crate::source::bundle::Bundle,
    d: &mut Diagnosis,
    now_ms: i64,
    rules: &crate::rule::RuleSet,
) {
    use crate::checks::doctor::{examine, ClusterFacts, Status};
    let cluster = b.cluster.clone().unwrap_or_else(|| "<cluster>".into());
    let facts = ClusterFacts {
        label: say(
            "bundle.label",
            &[
                ("label", b.label.clone()),
                (
                    "version",
                    b.version_text.clone().unwrap_or_else(|| "?".into()),
                ),
                ("cluster", cluster.clone()),
            ],
        ),
        // Whether clients reach the nodes over https is not in the bundle; the usage's own
        // `ssl.http` is what the TLS check reads.
        https: false,
        version: b.version,
        whoami: None,
        security: b
            .security
            .clone()
            .map(|s| ("GET /_xpack/usage".to_string(), s)),
        keys: Err(say("bundle.keys.none", &[])),
        remote_info: b.remote_info.clone(),
        settings: b.settings.clone(),
        now_ms,
        within: "14d".into(),
        within_ms: 14 * 86_400_000,
    };
    let report = examine(&facts, rules);
    // The evidence names the bundle file that holds each answer, not the request.
    let file_of = |call: &str| {
        [
            ("GET /_xpack/usage", "commercial/xpack.json"),
            ("GET /_remote/info", "remote_cluster_info.json"),
            ("GET /_cluster/settings", "cluster_settings.json"),
        ]
        .iter()
        .find(|(c, _)| call.starts_with(c))
        .map(|(c, file)| format!("{}/{file} ({c})", b.label))
    };
    for mut f in report.diagnosis.findings {
        for e in &mut f.evidence {
            if let Some(file) = file_of(&e.source) {
                e.source = file;
            }
        }
        d.findings.push(f);
    }
    // A denied key's owner, per the bundle's users, role mappings and roles.
    if let Ok(roles) = &b.roles {
        let sec = crate::diagnosis::owner_roles::Security {
            label: &b.label,
            users: b.users.as_ref().ok(),
            mappings: b.role_mappings.as_ref().ok(),
            roles,
        };
        for f in &mut d.findings {
            crate::diagnosis::owner_roles::explain(f, &sec);
        }
    }
    d.notes.extend(report.diagnosis.notes);
    let note = |message: String| crate::diagnosis::Note {
        rule_id: None,
        message,
        source: Some(b.label.clone()),
        line: None,
        count: 1,
    };
    for c in report.checks.iter().filter(|c| c.status == Status::Unknown) {
        if c.id != "key_expiration" && c.id != "keys_expiring" {
            d.notes.push(note(say(
                "bundle.not_checked",
                &[("title", c.title.clone()), ("text", c.text.clone())],
            )));
        }
    }
    d.notes.push(note(say("bundle.keys.how", &[])));
    if !d
        .files
        .iter()
        .any(|f| f.format == crate::model::LogFormat::Audit)
    {
        let off = b
            .security
            .as_ref()
            .ok()
            .and_then(|s| s.pointer("/audit/enabled"))
            .and_then(serde_json::Value::as_bool)
            == Some(false);
        let then = if off {
            say("bundle.audit.off", &[])
        } else {
            say("bundle.audit.where", &[("cluster", cluster.clone())])
        };
        d.notes
            .push(note(say("bundle.audit.none", &[("then", then)])));
    }
    d.notes
        .push(note(say("bundle.read", &[("files", b.read.join(", "))])));
}

/// What the report leaves out: `--key`, `--class` (counted), and suppressions (listed).
pub struct Filter {
    pub keys: Vec<String>,
    pub classes: Vec<Class>,
    pub suppressions: Option<crate::diagnosis::suppress::Suppressions>,
    pub now_ms: i64,
}

impl Filter {
    pub fn apply(&self, d: &mut Diagnosis) {
        crate::diagnosis::classify::prune_plans(d);
        let before = d.findings.len();
        d.findings.retain(|f| {
            (self.keys.is_empty() || f.key_id.as_ref().is_some_and(|k| self.keys.contains(k)))
                && (self.classes.is_empty() || self.classes.contains(&f.class))
        });
        d.filtered_out += before - d.findings.len();
        if let Some(s) = &self.suppressions {
            crate::diagnosis::suppress::apply(d, s, self.now_ms);
        }
    }
}
