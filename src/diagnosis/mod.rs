//! Stage 4: classification and correlation.
//!
//! - **In**: [`crate::event::Document`]s and the [`crate::rule::RuleMatch`]es found in them.
//! - **Out**: a [`Diagnosis`]: findings (exactly one class each, duplicates merged and counted,
//!   evidence as spans of the input), notes about neighbouring problems, skipped inputs.
//! - **Never**: print, guess a class the text does not decide (that is
//!   `authentication_unresolved`), or carry a secret.

pub mod activity;
pub mod atlas;
pub mod classify;
pub mod correlate;
pub mod differential;
pub mod fact;
pub mod owner_roles;
pub mod privileges;
pub mod products;
pub mod suppress;
pub mod timeline;
pub mod two_sided;

use serde_json::Value;

use crate::event::key_metadata::KeyMetadata;
use crate::model::{CandidateKind, Class, Severity};
use crate::source::Skipped;
pub use classify::{diagnose, GroupKey, Grouping, Options};

/// Everything a report renders.
#[derive(Debug, Default)]
pub struct Diagnosis {
    pub findings: Vec<Finding>,
    pub notes: Vec<Note>,
    pub skipped: Vec<Skipped>,
    /// How many inputs were read.
    pub inputs: usize,
    /// For a scan: what each file was and how much of it was read.
    pub files: Vec<FileRead>,
    /// Findings left out by `--key` / `--class`.
    pub filtered_out: usize,
    /// Findings a suppression (`.keydoctor.toml`) left out, with its reason.
    pub suppressed: Vec<suppress::Suppressed>,
    /// `scan --remote-logs`: the symptom pairs matched across the two clusters.
    pub two_sided: Option<two_sided::TwoSided>,
    /// `--es-url` reaches another cluster than the inputs come from: why its answers were not
    /// used (shown first in every format).
    pub cluster_mismatch: Option<String>,
    /// The findings beyond `--max-findings`, counted by class and not built in full.
    pub omitted: Option<Omitted>,
}

/// What the cap on findings left out: how many findings (distinct failures) and how many
/// failing records, in all and per class, most first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Omitted {
    /// The cap that applied (`--max-findings`).
    pub cap: usize,
    pub findings: usize,
    pub failures: usize,
    /// (class, findings, failures), most findings first.
    pub by_class: Vec<(Class, usize, usize)>,
    /// Of `findings`, those a scan counted without following them: first seen after it was
    /// already following its cap of distinct failures ([`Omitted::tracking_cap`]).
    pub untracked: usize,
    /// The untracked failures that repeat most: (class, key id, failures), most first.
    pub untracked_top: Vec<(Class, String, usize)>,
    /// The groups left out (their failures are counted here, not given to a finding shown).
    pub groups: Vec<GroupKey>,
}

impl Omitted {
    /// How many distinct failures a scan follows in full before it only counts new ones: ten
    /// times `--max-findings`, at least 10,000 (memory stays bounded whatever the number of
    /// distinct keys a log holds).
    pub fn tracking_cap(max_findings: usize) -> usize {
        max_findings.saturating_mul(10).max(10_000)
    }
}

/// One file a scan read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRead {
    pub name: String,
    /// What the content looked like (`elasticsearch audit log`, …).
    pub format: crate::model::LogFormat,
    pub gzip: bool,
    /// Decompressed bytes read.
    pub bytes: u64,
    /// Records the prefilter hit and the rules were run on.
    pub records: usize,
}

/// One distinct failure.
#[derive(Debug, Clone)]
pub struct Finding {
    pub class: Class,
    pub severity: Severity,
    pub rule_id: String,
    /// The API key id, when known.
    pub key_id: Option<String>,
    /// Where the key id came from.
    pub key_id_source: Option<crate::model::KeyIdSource>,
    /// A placeholder written where the id was elided (`<key-id>`, `xxxxxxx`).
    pub key_id_placeholder: Option<String>,
    pub summary: String,
    pub explanation: String,
    pub remediation: Vec<RenderedStep>,
    pub candidates: Vec<RenderedCandidate>,
    pub references: Vec<(String, String)>,
    pub evidence: Vec<Evidence>,
    /// How many records showed this failure.
    pub count: usize,
    /// What was denied (a denial's action, indices and privileges).
    pub denial: Denial,
    /// What was seen of the failure, and where.
    pub observed: Observed,
    /// The key, as the inputs describe it.
    pub key: KeyFacts,
    /// The key's story, oldest first (creation, last success, invalidation, failures), when the
    /// inputs tell it (`scan` with audit logs or metadata).
    pub timeline: Vec<TimelineEntry>,
    /// The failures over time per node and client, when their lines carry a time (the HTML
    /// report's incident timeline).
    pub activity: Option<activity::Activity>,
    /// The groups of matches this finding was built from (for a streaming scan's tallies).
    pub groups: Vec<GroupKey>,
    /// The competing causes considered, with the evidence for and against each, and the one
    /// check that separates those left (e.g. `missing`: purged, mistyped, another cluster).
    pub differential: Option<differential::Differential>,
    /// Fixes that look right and do not work (the rule's `dead_ends`).
    pub dead_ends: Vec<String>,
    /// The client that sent the key, recognised in what it logged (`rules/clients.toml`).
    pub client: Option<crate::model::Client>,
    /// What the passes established about this failure, in the order they stated it (a later
    /// fact of a kind is the current one: see [`Finding::limit`]).
    pub facts: Vec<fact::Stated>,
}

impl Finding {
    /// Add a fact, with its sentence.
    pub fn state(&mut self, fact: fact::Fact) {
        self.facts.push(fact.stated());
    }

    /// The last fact `pick` takes, with its sentence.
    pub fn last_fact<'a, T>(
        &'a self,
        pick: impl Fn(&'a fact::Fact) -> Option<T>,
    ) -> Option<(T, &'a str)> {
        self.facts
            .iter()
            .rev()
            .find_map(|s| pick(&s.fact).map(|t| (t, s.text.as_str())))
    }

    /// Where the limit comes from (the last pass that said).
    pub fn limit(&self) -> Option<(&fact::Limit, &str)> {
        self.last_fact(|f| match f {
            fact::Fact::Limit(l) => Some(l),
            _ => None,
        })
    }

    /// How a key was tied to a finding whose message names none.
    pub fn key_inference(&self) -> Option<(&fact::KeyInference, &str)> {
        self.last_fact(|f| match f {
            fact::Fact::KeyInference(k) => Some(k),
            _ => None,
        })
    }

    /// The sentence of the last fact of the kind `kind` names (the JSON report's old
    /// `details` fields, and the report's lines).
    pub fn fact_text(&self, kind: FactKind) -> Option<&str> {
        self.last_fact(|f| (FactKind::of(f) == kind).then_some(()))
            .map(|(_, t)| t)
    }

    /// The live cluster's view and the probe's answers, joined (`; `), in the order stated.
    pub fn cluster_view(&self) -> Option<String> {
        let said: Vec<&str> = self
            .facts
            .iter()
            .filter(|s| matches!(s.fact, fact::Fact::Cluster(_) | fact::Fact::Probe(_)))
            .map(|s| s.text.as_str())
            .collect();
        (!said.is_empty()).then(|| said.join("; "))
    }
}

/// The kinds of fact a finding shows one of (the last stated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    Limit,
    IndexMatch,
    ClientJoin,
    AuditGap,
    KeyInference,
    Cluster,
    OtherSide,
}

impl FactKind {
    fn of(f: &fact::Fact) -> Self {
        use fact::Fact as F;
        match f {
            F::Limit(_) => Self::Limit,
            F::IndexMatch { .. } => Self::IndexMatch,
            F::ClientJoin(_) => Self::ClientJoin,
            F::AuditGap(_) => Self::AuditGap,
            F::KeyInference(_) => Self::KeyInference,
            F::Cluster(_) | F::Probe(_) => Self::Cluster,
            F::OtherSide { .. } => Self::OtherSide,
        }
    }
}

/// One moment in a key's story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// RFC 3339, UTC.
    pub at: String,
    /// Epoch milliseconds, for ordering.
    pub ms: i64,
    /// `created`, `updated`, `last_success`, `invalidated`, `expired`, `first_failure`, `last_failure`.
    pub event: crate::model::TimelineEvent,
    /// What happened, in words.
    pub text: String,
    /// Where it was read: `path:line`, or `metadata`.
    pub source: Option<String>,
}

/// A remediation step with its templates filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedStep {
    pub title: String,
    pub text: Option<String>,
    pub request: Option<String>,
    /// Why the step is shown as it is: e.g. "from 8.4; on older versions: …".
    pub version_note: Option<String>,
    /// A unified diff the step makes (descriptors before and after).
    pub diff: Option<String>,
    /// Who authenticates the request (the `curl` form follows it).
    pub run_as: crate::model::RunAs,
    /// Facts the step needs (checked when texts are filled, and again once every pass has
    /// added what it knows: see [`classify::prune_plans`]).
    pub when: Vec<crate::model::StepCondition>,
    /// The way of fixing the key the step belongs to (a plan keeps one, the update when it can run).
    pub path: Option<crate::model::PlanPath>,
    /// Where it is carried out.
    pub on: crate::model::RunsOn,
    /// A step for after the incident (prevention): the one-screen view only names it.
    pub later: bool,
}

/// A candidate cause of an unresolved 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedCandidate {
    pub class: CandidateKind,
    pub why: String,
}

/// A piece of the input that shows the failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Input name (`stdin` or a path).
    pub source: String,
    /// 1-based line of `text`'s first line in the input.
    pub line: usize,
    /// What the record looked like (`es_error_json`, `agent_log`, …).
    pub kind: crate::model::RecordKind,
    /// The excerpt, as pasted (secrets already replaced).
    pub text: String,
    /// Labelled byte ranges of `text`.
    pub spans: Vec<Span>,
}

/// A labelled byte range of an evidence excerpt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub label: String,
}

/// What was denied, when a finding is a denial: the action, the indices, the privileges that
/// would grant it, and who was refused.
#[derive(Debug, Clone, Default)]
pub struct Denial {
    pub actions: Vec<String>,
    pub indices: Vec<String>,
    pub restricted_indices: Vec<String>,
    /// The privileges that would grant the action, least first (as Elasticsearch lists them).
    pub privileges: Vec<String>,
    pub least_privilege: Option<String>,
    pub privilege_kind: Option<crate::model::PrivilegeKind>,
    /// The user a denial names (`is unauthorized for user [analyst]`), and the roles it names
    /// with it, when it is not the key's owner.
    pub principal: Option<String>,
    pub roles: Vec<String>,
    /// A role descriptor that adds exactly what was missing.
    pub suggested_role_descriptors: Option<Value>,
    /// The smallest change that grants what was denied, against the real descriptors (key
    /// metadata known): a step shown first in the remediation.
    pub descriptor_fix: Option<RenderedStep>,
}

/// What was seen of the failure, and where.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// HTTP statuses the failing records carry.
    pub statuses: Vec<u16>,
    /// The remote cluster's alias a cross-cluster failure names.
    pub remote: Option<String>,
    pub nodes: Vec<String>,
    pub client_addresses: Vec<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub uri: Option<String>,
    /// The reason a message gives, as it gives it (`why` capture).
    pub why: Option<String>,
    /// The Elasticsearch version known or implied (`8.10+`).
    pub version: Option<crate::model::KnownVersion>,
    /// Credential format problems seen in the input (`raw-id-secret`, …).
    pub credential_formats: Vec<crate::secret::CredentialFormat>,
    /// With `scan --remote-logs`: the cluster whose logs showed this finding (`None` when both
    /// did, or when one cluster was scanned).
    pub side: Option<crate::model::Side>,
}

impl Observed {
    /// The credential format problems by their tags (`raw-id-secret`, …).
    pub fn credential_tags(&self) -> Vec<&'static str> {
        self.credential_formats.iter().map(|c| c.tag()).collect()
    }
}

/// The key the finding is about, as the inputs describe it.
#[derive(Debug, Clone, Default)]
pub struct KeyFacts {
    /// The key's owner.
    pub user: Option<String>,
    pub realm: Option<String>,
    pub key_name: Option<String>,
    /// The key type a message expected and the one the key has (`wrong_key_type`).
    pub expected_type: Option<crate::model::KeyType>,
    pub actual_type: Option<crate::model::KeyType>,
    /// The key as metadata (pasted, fetched, or pieced from audit events) describes it.
    pub metadata: Option<KeyMetadata>,
    /// Its state per that metadata.
    pub metadata_state: Option<crate::model::KeyState>,
    /// Who invalidated the key, from the audit log.
    pub invalidated_by: Option<InvalidatedBy>,
    /// Keys that could be the one an id-less finding is about, when no single one is.
    pub key_candidates: Vec<String>,
    /// The key is a cross-cluster key (metadata says so, or the querying cluster used it for
    /// its remote-cluster handshake): its remediation is the cross-cluster API's.
    pub cross_cluster_key: bool,
}

/// An `invalidate_apikeys` audit event that names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidatedBy {
    pub timestamp: Option<String>,
    pub user: Option<String>,
    pub realm: Option<String>,
    pub origin: Option<String>,
    pub node: Option<String>,
    pub source: String,
    pub line: usize,
    /// How the event was tied to the key when it does not name its id (`name selector`).
    pub matched_by: Option<String>,
}

/// A one-line note about something that is not an API-key failure, or about the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub rule_id: Option<String>,
    pub message: String,
    pub source: Option<String>,
    pub line: Option<usize>,
    pub count: usize,
}

impl Diagnosis {
    /// Whether anything was found (exit status 1).
    pub fn has_findings(&self) -> bool {
        !self.findings.is_empty() || self.omitted.as_ref().is_some_and(|o| o.findings > 0)
    }
}
