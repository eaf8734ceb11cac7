//! The JSON report: wire types separate from the domain (ripgrep's `jsont`), stable field order,
//! additive changes only. `schema_version` is 2 (2 added the typed plan step, the client and the facts).
//! The README documents every field.

use std::io::{self, Write};

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{curl_form, RenderOptions};
use crate::diagnosis::{Diagnosis, Finding, RenderedStep};
use crate::model::format_ms;

/// The JSON report's version: 2 added each step's `who`, `where`, `path`, `later` and `http`,
/// each finding's `client`, and its `facts` (the `details` sentences they replace are kept,
/// deprecated, for one version more).
pub const SCHEMA_VERSION: u32 = 2;

/// The report; `X` is what a command adds at its end (`doctor`'s cluster and checks).
#[derive(Serialize, JsonSchema)]
pub(super) struct Report<X: Serialize = ()> {
    schema_version: u32,
    pub(super) summary: Summary,
    findings: Vec<FindingOut>,
    notes: Vec<NoteOut>,
    skipped: Vec<SkippedOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<FileOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressed: Vec<SuppressedOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    two_sided: Option<TwoSidedOut>,
    /// `--es-url` reaches another cluster than the inputs come from: why nothing it answered
    /// was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_mismatch: Option<String>,
    /// The findings beyond `--max-findings`: counted by class, not listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    omitted: Option<OmittedOut>,
    #[serde(flatten)]
    pub(super) extra: Option<X>,
}

#[derive(Serialize, JsonSchema)]
struct OmittedOut {
    max_findings: usize,
    findings: usize,
    failures: usize,
    by_class: Vec<OmittedClassOut>,
    /// Of `findings`, those a scan only counted: first seen after it was following
    /// `tracking_cap` distinct failures in full (memory stays bounded).
    #[serde(skip_serializing_if = "is_zero")]
    untracked_findings: usize,
    #[serde(skip_serializing_if = "is_zero")]
    tracking_cap: usize,
    /// Of the untracked, the keys that fail most (seen more than once), most first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    untracked_most_frequent: Vec<UntrackedKeyOut>,
}

#[derive(Serialize, JsonSchema)]
struct UntrackedKeyOut {
    class: &'static str,
    key_id: String,
    failures: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Serialize, JsonSchema)]
struct OmittedClassOut {
    class: &'static str,
    findings: usize,
    failures: usize,
}

#[derive(Serialize, JsonSchema)]
struct SuppressedOut {
    class: &'static str,
    rule_id: String,
    key_id: Option<String>,
    count: usize,
    reason: String,
    by: String,
}

#[derive(Serialize, JsonSchema)]
struct FileOut {
    source: String,
    format: &'static str,
    gzip: bool,
    bytes: u64,
    records: usize,
}

#[derive(Serialize, JsonSchema)]
struct TimelineOut {
    at: String,
    event: &'static str,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub(super) enum Summary {
    /// `explain` and `scan`: the inputs read, the findings, the line.
    Inputs {
        inputs: usize,
        findings: usize,
        text: String,
    },
    /// `doctor`: the checks' headline and the findings.
    Checks { text: String, findings: usize },
}

#[derive(Serialize, JsonSchema)]
struct FindingOut {
    class: &'static str,
    severity: &'static str,
    rule_id: String,
    key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id_source: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id_placeholder: Option<String>,
    summary: String,
    explanation: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    candidates: Vec<CandidateOut>,
    remediation: Vec<StepOut>,
    evidence: Vec<EvidenceOut>,
    details: DetailsOut,
    /// What the passes established, each with its stable code.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    facts: Vec<FactOut>,
    references: Vec<ReferenceOut>,
    count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    timeline: Vec<TimelineOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    differential: Option<DifferentialOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dead_ends: Vec<String>,
    /// The client that sent the key, as recognised in what it logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<ClientOut>,
}

#[derive(Serialize, JsonSchema)]
struct FactOut {
    code: &'static str,
    text: String,
    fields: FieldsOut,
}

/// A fact's fields, as an object in the order its code lists them.
struct FieldsOut(Vec<(&'static str, String)>);

impl JsonSchema for FieldsOut {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FactFields".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <std::collections::BTreeMap<String, String>>::json_schema(generator)
    }
}

impl Serialize for FieldsOut {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[derive(Serialize, JsonSchema)]
struct DifferentialOut {
    causes: Vec<CauseOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct CauseOut {
    cause: String,
    verdict: &'static str,
    #[serde(rename = "for")]
    evidence_for: Vec<String>,
    against: Vec<String>,
    /// The cause's stable code (`purged`, `another_cluster`).
    code: &'static str,
}

#[derive(Serialize, JsonSchema)]
struct CandidateOut {
    class: &'static str,
    why: String,
}

#[derive(Serialize, JsonSchema)]
pub(super) struct StepOut {
    step: usize,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    curl: Option<String>,
    /// Who authenticates the request: `user` (a password; keys are created and updated only
    /// so) or `new_key` (a check that the replacement works).
    #[serde(skip_serializing_if = "Option::is_none")]
    run_as: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
    /// Who carries it out: `user`, `owner`, `admin` (each with a password), `new_key`,
    /// `client_key`, or `nobody` (no request: a change on a host or in a configuration).
    who: &'static str,
    /// Where: `cluster`, `querying_cluster`, `fulfilling_cluster`, `kibana`, `client`.
    #[serde(rename = "where")]
    runs_on: &'static str,
    /// The way of fixing the key it belongs to (`update` or `rotate`), when a plan could take
    /// either (it prints one).
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'static str>,
    /// A step for after the incident (prevention).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    later: bool,
    /// The request, typed: method, path (with its query) and body (JSON when it parses).
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<HttpOut>,
}

#[derive(Serialize, JsonSchema)]
struct HttpOut {
    method: String,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Value>,
}

#[derive(Serialize, JsonSchema)]
struct ClientOut {
    id: String,
    name: String,
    takes: &'static str,
    fleet: &'static str,
    seen_in: String,
}

/// `METHOD /path` and an optional JSON body, as the rule files write requests; `None` for
/// anything else (a command line).
fn http_of(request: &str) -> Option<HttpOut> {
    let (first, rest) = request.split_once('\n').unwrap_or((request, ""));
    let (method, path) = first.trim().split_once(' ')?;
    if !matches!(method, "GET" | "POST" | "PUT" | "DELETE" | "HEAD")
        || !(path.starts_with('/') || path.starts_with("kbn:/"))
    {
        return None;
    }
    let body = rest.trim();
    Some(HttpOut {
        method: method.to_string(),
        path: path.trim().to_string(),
        body: (!body.is_empty()).then(|| {
            serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()))
        }),
    })
}

#[derive(Serialize, JsonSchema)]
struct EvidenceOut {
    source: String,
    line: usize,
    kind: &'static str,
    text: String,
    spans: Vec<SpanOut>,
}

#[derive(Serialize, JsonSchema)]
struct SpanOut {
    start: usize,
    end: usize,
    label: String,
}

#[derive(Serialize, JsonSchema)]
struct ReferenceOut {
    title: String,
    url: String,
}

#[derive(Serialize, JsonSchema)]
struct NoteOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_id: Option<String>,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    count: usize,
}

#[derive(Serialize, JsonSchema)]
struct SkippedOut {
    source: String,
    reason: String,
    partial: bool,
}

/// Render the JSON report (one document, then a newline).
pub fn render_json(d: &Diagnosis, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let report: Report = report(d, opts);
    serde_json::to_writer_pretty(&mut *out, &report)?;
    out.write_all(b"\n")
}

/// The wire form of `d`, with nothing added at its end yet.
pub(super) fn report<X: Serialize>(d: &Diagnosis, opts: &RenderOptions) -> Report<X> {
    Report {
        schema_version: SCHEMA_VERSION,
        summary: Summary::Inputs {
            inputs: d.inputs,
            findings: d.findings.len(),
            text: super::summary_line(d),
        },
        findings: d
            .findings
            .iter()
            .map(|f| finding_out(f, &opts.target))
            .collect(),
        notes: d
            .notes
            .iter()
            .map(|n| NoteOut {
                rule_id: n.rule_id.clone(),
                message: n.message.to_string(),
                source: n.source.clone(),
                line: n.line,
                count: n.count,
            })
            .collect(),
        skipped: d
            .skipped
            .iter()
            .map(|s| SkippedOut {
                source: s.source.clone(),
                reason: s.reason.to_string(),
                partial: s.reason.is_partial(),
            })
            .collect(),
        files: d
            .files
            .iter()
            .map(|f| FileOut {
                source: f.name.clone(),
                format: f.format.as_str(),
                gzip: f.gzip,
                bytes: f.bytes,
                records: f.records,
            })
            .collect(),
        suppressed: d
            .suppressed
            .iter()
            .map(|s| SuppressedOut {
                class: s.class.as_str(),
                rule_id: s.rule_id.clone(),
                key_id: s.key_id.clone(),
                count: s.count,
                reason: s.reason.to_string(),
                by: s.by.clone(),
            })
            .collect(),
        two_sided: d.two_sided.as_ref().map(two_sided_out),
        omitted: d.omitted.as_ref().map(|o| OmittedOut {
            max_findings: o.cap,
            findings: o.findings,
            failures: o.failures,
            by_class: o
                .by_class
                .iter()
                .map(|(c, findings, failures)| OmittedClassOut {
                    class: c.as_str(),
                    findings: *findings,
                    failures: *failures,
                })
                .collect(),
            untracked_findings: o.untracked,
            untracked_most_frequent: o
                .untracked_top
                .iter()
                .map(|(c, key_id, failures)| UntrackedKeyOut {
                    class: c.as_str(),
                    key_id: key_id.clone(),
                    failures: *failures,
                })
                .collect(),
            tracking_cap: if o.untracked > 0 {
                crate::diagnosis::Omitted::tracking_cap(o.cap)
            } else {
                0
            },
        }),
        cluster_mismatch: d.cluster_mismatch.as_deref().map(str::to_string),
        extra: None,
    }
}

/// The symptom pairs of `scan --remote-logs`.
#[derive(Serialize, JsonSchema)]
struct TwoSidedOut {
    querying: SideOut,
    fulfilling: SideOut,
    alias: Option<String>,
    alias_source: Option<String>,
    pairs: Vec<PairOut>,
    notes: Vec<String>,
}

/// One side's logs: where, and the time they cover.
#[derive(Serialize, JsonSchema)]
struct SideOut {
    paths: String,
    span: Option<[String; 2]>,
}

#[derive(Serialize, JsonSchema)]
struct PairOut {
    pair: String,
    title: String,
    alias: Option<String>,
    key_id: Option<String>,
    querying: Option<SeenOut>,
    fulfilling: Option<SeenOut>,
    silent: Option<&'static str>,
    expected_silence: bool,
    meaning: String,
    check: String,
    effective_access: Option<EffectiveOut>,
}

/// What one side's logs showed of a symptom.
#[derive(Serialize, JsonSchema)]
struct SeenOut {
    count: usize,
    first: Option<String>,
    last: Option<String>,
    rules: Vec<String>,
    at: String,
    nodes: Vec<String>,
}

/// A cross-cluster search's effective access: the key's ∩ the caller's `remote_indices`.
#[derive(Serialize, JsonSchema)]
struct EffectiveOut {
    alias: String,
    user: Option<String>,
    roles: Vec<String>,
    /// `""` when the message names no key.
    key_id: String,
    key_access: Option<Vec<String>>,
    user_remote_indices: Option<Vec<String>>,
    effective: Vec<String>,
    indices: Vec<IndexOut>,
    text: String,
}

#[derive(Serialize, JsonSchema)]
struct IndexOut {
    index: String,
    by_key: Option<bool>,
    by_user: Option<bool>,
}

fn two_sided_out(v: &crate::diagnosis::two_sided::TwoSided) -> TwoSidedOut {
    use crate::diagnosis::two_sided::Seen;
    let span = |s: Option<(i64, i64)>| s.map(|(a, b)| [format_ms(a), format_ms(b)]);
    let seen = |s: &Option<Seen>| {
        s.as_ref().map(|s| SeenOut {
            count: s.count,
            first: s.first_ms.map(format_ms),
            last: s.last_ms.map(format_ms),
            rules: s.rules.clone(),
            at: s.at.clone(),
            nodes: s.nodes.clone(),
        })
    };
    TwoSidedOut {
        querying: SideOut {
            paths: v.querying.clone(),
            span: span(v.querying_span),
        },
        fulfilling: SideOut {
            paths: v.fulfilling.clone(),
            span: span(v.fulfilling_span),
        },
        alias: v.alias.clone(),
        alias_source: v.alias_source.clone(),
        pairs: v
            .matches
            .iter()
            .map(|m| PairOut {
                pair: m.pair_id.clone(),
                title: m.title.clone(),
                alias: m.alias.clone(),
                key_id: m.key_id.clone(),
                querying: seen(&m.querying),
                fulfilling: seen(&m.fulfilling),
                silent: m.silent.map(|s| s.as_str()),
                expected_silence: m.expected_silence,
                meaning: m.meaning.clone(),
                check: m.check.clone(),
                effective_access: m.effective.as_ref().map(
                    |crate::diagnosis::two_sided::Effective { access: e, text }| EffectiveOut {
                        alias: e.alias.clone(),
                        user: e.who.clone(),
                        roles: e.roles.clone(),
                        key_id: e.key_id.clone().unwrap_or_default(),
                        key_access: e.key_access.clone(),
                        user_remote_indices: e.user_access.clone(),
                        effective: e.effective.clone(),
                        indices: e
                            .indices
                            .iter()
                            .map(|i| IndexOut {
                                index: i.index.clone(),
                                by_key: i.by_key,
                                by_user: i.by_user,
                            })
                            .collect(),
                        text: text.clone(),
                    },
                ),
            })
            .collect(),
        notes: v.notes.clone(),
    }
}

/// What a command under `--format json` writes on stdout when it fails.
#[derive(Serialize, JsonSchema)]
struct ErrorDocument {
    /// 1: the first version.
    schema_version: u32,
    error: ErrorOut,
}

#[derive(Serialize, JsonSchema)]
struct ErrorOut {
    /// `keydoctor::usage`, `keydoctor::cluster::unreachable`, … (stable).
    code: Option<String>,
    message: String,
    help: Option<String>,
    /// The problems it collects (every problem of a rules directory, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<String>,
}

/// The JSON document of an error: its code, message, help and the problems it collects.
pub fn error_document(
    code: Option<String>,
    message: String,
    help: Option<String>,
    problems: Vec<String>,
) -> String {
    serde_json::to_string_pretty(&ErrorDocument {
        schema_version: 1,
        error: ErrorOut {
            code,
            message,
            help,
            problems,
        },
    })
    .unwrap_or_default()
}

/// The JSON Schema of what a command under `--format json` writes when it fails.
pub(crate) fn error_schema() -> schemars::Schema {
    super::output_schema::<ErrorDocument>()
}

/// The JSON Schema of the report of `explain` and `scan --format json`.
pub(crate) fn schema() -> schemars::Schema {
    super::output_schema::<Report>()
}

/// The JSON Schema of a line of `scan --follow --format json`: a new finding, or a count.
pub(crate) fn follow_schema() -> schemars::Schema {
    super::output_schema::<FollowEvent<'static>>()
}

/// A line of `scan --follow --format json` (for its schema).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)]
enum FollowEvent<'a> {
    Finding(FindingEvent),
    Count(CountEvent<'a>),
}

/// `scan --follow --format json`'s line for a finding seen again: its count grew.
#[derive(Serialize, JsonSchema)]
struct CountEvent<'a> {
    event: &'static str,
    class: &'static str,
    key_id: Option<&'a str>,
    rule_id: &'a str,
    count: usize,
    previous_count: usize,
    last_seen: Option<&'a str>,
}

/// `scan --follow --format json`'s line for a new finding, as the report writes it.
#[derive(Serialize, JsonSchema)]
struct FindingEvent {
    event: &'static str,
    finding: FindingOut,
}

/// One line (no newline) saying that `f` was seen again: `previous` failures before, now
/// `f.count`.
pub fn count_event(f: &Finding, previous: usize) -> String {
    serde_json::to_string(&CountEvent {
        event: "count",
        class: f.class.as_str(),
        key_id: f.key_id.as_deref(),
        rule_id: &f.rule_id,
        count: f.count,
        previous_count: previous,
        last_seen: f.observed.last_seen.as_deref(),
    })
    .unwrap_or_default()
}

/// One line (no newline) holding a new finding.
pub fn finding_event(f: &Finding, target: &super::CurlTarget) -> String {
    serde_json::to_string(&FindingEvent {
        event: "finding",
        finding: finding_out(f, target),
    })
    .unwrap_or_default()
}

/// A plan's steps on the wire (a finding's remediation, `keydoctor rotate`'s steps).
pub(super) fn steps_out(steps: &[RenderedStep], target: &super::CurlTarget) -> Vec<StepOut> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| StepOut {
            step: i + 1,
            title: s.title.to_string(),
            text: s.text.as_deref().map(str::to_string),
            request: s.request.as_deref().map(str::to_string),
            curl: s
                .request
                .as_deref()
                .and_then(|r| curl_form(r, s.run_as, target))
                .map(|c| c.to_string()),
            run_as: s.request.as_ref().map(|_| s.run_as.as_str()),
            version_note: s.version_note.clone(),
            diff: s.diff.as_deref().map(str::to_string),
            who: match &s.request {
                Some(_) => s.run_as.as_str(),
                None => "nobody",
            },
            runs_on: s.on.as_str(),
            path: s.path.map(|p| p.as_str()),
            later: s.later,
            http: s
                .request
                .as_deref()
                .map(str::to_string)
                .as_deref()
                .and_then(http_of),
        })
        .collect()
}

fn finding_out(f: &Finding, target: &super::CurlTarget) -> FindingOut {
    FindingOut {
        class: f.class.as_str(),
        severity: f.severity.as_str(),
        rule_id: f.rule_id.clone(),
        key_id: f.key_id.clone(),
        key_id_source: f.key_id_source.map(crate::model::KeyIdSource::as_str),
        key_id_placeholder: f.key_id_placeholder.clone(),
        summary: f.summary.to_string(),
        explanation: f.explanation.to_string(),
        candidates: f
            .candidates
            .iter()
            .map(|c| CandidateOut {
                class: c.class.as_str(),
                why: c.why.to_string(),
            })
            .collect(),
        remediation: steps_out(&f.remediation, target),
        evidence: f
            .evidence
            .iter()
            .map(|e| EvidenceOut {
                source: e.source.clone(),
                line: e.line,
                kind: e.kind.as_str(),
                text: e.text.clone(),
                spans: e
                    .spans
                    .iter()
                    .map(|s| SpanOut {
                        start: s.start,
                        end: s.end,
                        label: s.label.clone(),
                    })
                    .collect(),
            })
            .collect(),
        details: details_out(f),
        facts: f
            .facts
            .iter()
            .map(|s| FactOut {
                code: s.code(),
                text: s.text.to_string(),
                fields: FieldsOut(s.fact.fields()),
            })
            .collect(),
        references: f
            .references
            .iter()
            .map(|(title, url)| ReferenceOut {
                title: title.clone(),
                url: url.clone(),
            })
            .collect(),
        count: f.count,
        first_seen: f.observed.first_seen.clone(),
        last_seen: f.observed.last_seen.clone(),
        timeline: f
            .timeline
            .iter()
            .map(|t| TimelineOut {
                at: t.at.clone(),
                event: t.event.as_str(),
                text: t.text.to_string(),
                source: t.source.clone(),
            })
            .collect(),
        differential: f.differential.as_ref().map(|d| DifferentialOut {
            causes: d
                .causes
                .iter()
                .map(|c| CauseOut {
                    cause: c.text.clone(),
                    verdict: c.verdict.as_str(),
                    evidence_for: c.evidence_for.iter().map(|e| e.to_string()).collect(),
                    against: c.evidence_against.iter().map(|e| e.to_string()).collect(),
                    code: c.cause.code(),
                })
                .collect(),
            check: d.check.as_deref().map(str::to_string),
        }),
        dead_ends: f.dead_ends.iter().map(|d| d.to_string()).collect(),
        client: f.client.as_ref().map(|c| ClientOut {
            id: c.id.clone(),
            name: c.name.clone(),
            takes: c.takes.as_str(),
            fleet: c.fleet.as_str(),
            seen_in: c.seen_in.clone(),
        }),
    }
}

/// The deprecated `details` of a finding: each field only when known (one schema version more;
/// `facts` and the typed parts replace it).
#[derive(Serialize, JsonSchema)]
struct DetailsOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    realm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    least_privilege: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index_match: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_join: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audit_note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_inference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_view: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    other_side: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    side: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    actions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    indices: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    restricted_indices: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    privileges: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    nodes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    client_addresses: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    key_candidates: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    privilege_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    http_status: Vec<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    credential_formats: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suggested_role_descriptors: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<MetadataOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invalidated_by: Option<InvalidatedByOut>,
}

/// The key's metadata as a finding's `details` shows it.
#[derive(Serialize, JsonSchema)]
struct MetadataOut {
    id: String,
    name: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    key_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    creation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invalidation: Option<String>,
    invalidated: bool,
    username: Option<String>,
    realm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_descriptors: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    derived_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limited_by: Option<Value>,
}

/// Who invalidated the key, as the audit log says.
#[derive(Serialize, JsonSchema)]
struct InvalidatedByOut {
    user: Option<String>,
    realm: Option<String>,
    timestamp: Option<String>,
    origin: Option<String>,
    node: Option<String>,
    source: String,
    line: usize,
    matched_by: Option<String>,
}

fn details_out(f: &Finding) -> DetailsOut {
    use crate::diagnosis::FactKind;
    let said = |kind| f.fact_text(kind).map(str::to_string);
    DetailsOut {
        user: f.key.user.clone(),
        realm: f.key.realm.clone(),
        key_name: f.key.key_name.clone(),
        remote: f.observed.remote.clone(),
        expected_type: f.key.expected_type.map(|t| t.as_str()),
        actual_type: f.key.actual_type.map(|t| t.as_str()),
        uri: f.observed.uri.clone(),
        why: f.observed.why.clone(),
        least_privilege: f.denial.least_privilege.clone(),
        first_seen: f.observed.first_seen.clone(),
        last_seen: f.observed.last_seen.clone(),
        version: f.observed.version.map(|v| v.to_string()),
        limit_source: said(FactKind::Limit),
        index_match: said(FactKind::IndexMatch),
        client_join: said(FactKind::ClientJoin),
        audit_note: said(FactKind::AuditGap),
        key_inference: said(FactKind::KeyInference),
        cluster_view: f.cluster_view(),
        other_side: said(FactKind::OtherSide),
        principal: f.denial.principal.clone(),
        side: f.observed.side.map(|s| s.as_str()),
        actions: f.denial.actions.clone(),
        roles: f.denial.roles.clone(),
        indices: f.denial.indices.clone(),
        restricted_indices: f.denial.restricted_indices.clone(),
        privileges: f.denial.privileges.clone(),
        nodes: f.observed.nodes.clone(),
        client_addresses: f.observed.client_addresses.clone(),
        key_candidates: f.key.key_candidates.clone(),
        privilege_kind: f.denial.privilege_kind.map(|k| k.as_str()),
        http_status: f.observed.statuses.clone(),
        credential_formats: f.observed.credential_tags(),
        suggested_role_descriptors: f.denial.suggested_role_descriptors.clone(),
        metadata: f.key.metadata.as_ref().map(|meta| MetadataOut {
            id: meta.id.clone(),
            name: meta.name.clone(),
            key_type: meta.key_type.map(|t| t.as_str()),
            state: f.key.metadata_state.map(|s| s.as_str()),
            creation: meta.creation_ms.map(format_ms),
            expiration: meta.expiration_ms.map(format_ms),
            invalidation: meta.invalidation_ms.map(format_ms),
            invalidated: meta.invalidated,
            username: meta.username.clone(),
            realm: meta.realm.clone(),
            role_descriptors: meta.role_descriptors.clone(),
            derived_from: meta.derived_from.clone(),
            limited_by: meta.limited_by.clone(),
        }),
        invalidated_by: f.key.invalidated_by.as_ref().map(|by| InvalidatedByOut {
            user: by.user.clone(),
            realm: by.realm.clone(),
            timestamp: by.timestamp.clone(),
            origin: by.origin.clone(),
            node: by.node.clone(),
            source: by.source.clone(),
            line: by.line,
            matched_by: by.matched_by.clone(),
        }),
    }
}
