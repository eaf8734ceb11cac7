//! The JSON report: wire types separate from the domain (ripgrep's `jsont`), stable field order,
//! additive changes only. `schema_version` is 2 (2 added the typed plan step, the client and the facts).
//! The README documents every field.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{curl_form, RenderOptions};
use crate::diagnosis::{Diagnosis, Finding};
use crate::model::format_ms;

/// The JSON report's version: 2 added each step's `who`, `where`, `path`, `later` and `http`,
/// each finding's `client`, and its `facts` (the `details` sentences they replace are kept,
/// deprecated, for one version more).
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Serialize)]
struct Report {
    schema_version: u32,
    summary: Summary,
    findings: Vec<FindingOut>,
    notes: Vec<NoteOut>,
    skipped: Vec<SkippedOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<FileOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressed: Vec<SuppressedOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    two_sided: Option<Value>,
    /// `--es-url` reaches another cluster than the inputs come from: why nothing it answered
    /// was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_mismatch: Option<String>,
    /// The findings beyond `--max-findings`: counted by class, not listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    omitted: Option<OmittedOut>,
}

#[derive(Serialize)]
struct OmittedOut {
    max_findings: usize,
    findings: usize,
    failures: usize,
    by_class: Vec<OmittedClassOut>,
}

#[derive(Serialize)]
struct OmittedClassOut {
    class: &'static str,
    findings: usize,
    failures: usize,
}

#[derive(Serialize)]
struct SuppressedOut {
    class: &'static str,
    rule_id: String,
    key_id: Option<String>,
    count: usize,
    reason: String,
    by: String,
}

#[derive(Serialize)]
struct FileOut {
    source: String,
    format: &'static str,
    gzip: bool,
    bytes: u64,
    records: usize,
}

#[derive(Serialize)]
struct TimelineOut {
    at: String,
    event: &'static str,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

#[derive(Serialize)]
struct Summary {
    inputs: usize,
    findings: usize,
    text: String,
}

#[derive(Serialize)]
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
    details: Map<String, Value>,
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

#[derive(Serialize)]
struct FactOut {
    code: &'static str,
    text: String,
    fields: Map<String, Value>,
}

#[derive(Serialize)]
struct DifferentialOut {
    causes: Vec<CauseOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<String>,
}

#[derive(Serialize)]
struct CauseOut {
    cause: String,
    verdict: &'static str,
    #[serde(rename = "for")]
    evidence_for: Vec<String>,
    against: Vec<String>,
    /// The cause's stable code (`purged`, `another_cluster`).
    code: &'static str,
}

#[derive(Serialize)]
struct CandidateOut {
    class: &'static str,
    why: String,
}

#[derive(Serialize)]
struct StepOut {
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

#[derive(Serialize)]
struct HttpOut {
    method: String,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Value>,
}

#[derive(Serialize)]
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

#[derive(Serialize)]
struct EvidenceOut {
    source: String,
    line: usize,
    kind: &'static str,
    text: String,
    spans: Vec<SpanOut>,
}

#[derive(Serialize)]
struct SpanOut {
    start: usize,
    end: usize,
    label: String,
}

#[derive(Serialize)]
struct ReferenceOut {
    title: String,
    url: String,
}

#[derive(Serialize)]
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

#[derive(Serialize)]
struct SkippedOut {
    source: String,
    reason: String,
    partial: bool,
}

/// Render the JSON report (one document, then a newline).
pub fn render_json(d: &Diagnosis, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let report = Report {
        schema_version: SCHEMA_VERSION,
        summary: Summary {
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
        two_sided: d.two_sided.as_ref().map(two_sided_json),
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
        }),
        cluster_mismatch: d.cluster_mismatch.as_deref().map(str::to_string),
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    out.write_all(b"\n")
}

/// The symptom pairs of `scan --remote-logs`.
fn two_sided_json(v: &crate::diagnosis::two_sided::TwoSided) -> Value {
    use crate::diagnosis::two_sided::Seen;
    use crate::model::format_ms;
    let span = |s: Option<(i64, i64)>| s.map(|(a, b)| json!([format_ms(a), format_ms(b)]));
    let seen = |s: &Option<Seen>| {
        s.as_ref().map(|s| {
            json!({
                "count": s.count,
                "first": s.first_ms.map(format_ms),
                "last": s.last_ms.map(format_ms),
                "rules": s.rules,
                "at": s.at,
                "nodes": s.nodes,
            })
        })
    };
    json!({
        "querying": {"paths": v.querying, "span": span(v.querying_span)},
        "fulfilling": {"paths": v.fulfilling, "span": span(v.fulfilling_span)},
        "alias": v.alias,
        "alias_source": v.alias_source,
        "pairs": v.matches.iter().map(|m| json!({
            "pair": m.pair_id,
            "title": m.title,
            "alias": m.alias,
            "key_id": m.key_id,
            "querying": seen(&m.querying),
            "fulfilling": seen(&m.fulfilling),
            "silent": m.silent.map(|s| s.as_str()),
            "expected_silence": m.expected_silence,
            "meaning": m.meaning.to_string(),
            "check": m.check,
            "effective_access": m.effective.as_ref().map(|crate::diagnosis::two_sided::Effective { access: e, text }| json!({
                "alias": e.alias,
                "user": e.who,
                "roles": e.roles,
                "key_id": e.key_id.clone().unwrap_or_default(),
                "key_access": e.key_access,
                "user_remote_indices": e.user_access,
                "effective": e.effective,
                "indices": e.indices.iter().map(|i| json!({"index": i.index, "by_key": i.by_key, "by_user": i.by_user})).collect::<Vec<_>>(),
                "text": text,
            })),
        })).collect::<Vec<_>>(),
        "notes": v.notes.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
    })
}

/// One finding as the JSON report writes it (for `scan --follow`'s event lines).
pub fn finding_json(f: &Finding, target: &super::CurlTarget) -> Value {
    serde_json::to_value(finding_out(f, target)).unwrap_or(Value::Null)
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
        remediation: f
            .remediation
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
            .collect(),
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
                fields: s
                    .fact
                    .fields()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                    .collect(),
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

fn details_out(f: &Finding) -> Map<String, Value> {
    use crate::diagnosis::FactKind;
    let mut m = Map::new();
    let mut opt = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), Value::String(v.to_string()));
        }
    };
    opt("user", &f.key.user);
    opt("realm", &f.key.realm);
    opt("key_name", &f.key.key_name);
    opt("remote", &f.observed.remote);
    opt(
        "expected_type",
        &f.key.expected_type.map(|t| t.as_str().to_string()),
    );
    opt(
        "actual_type",
        &f.key.actual_type.map(|t| t.as_str().to_string()),
    );
    opt("uri", &f.observed.uri);
    opt("why", &f.observed.why);
    opt("least_privilege", &f.denial.least_privilege);
    opt("first_seen", &f.observed.first_seen);
    opt("last_seen", &f.observed.last_seen);
    opt("version", &f.observed.version.map(|v| v.to_string()));
    // Deprecated: the sentences of `facts`, the last of each kind (one schema version more).
    let said = |kind| f.fact_text(kind).map(str::to_string);
    opt("limit_source", &said(FactKind::Limit));
    opt("index_match", &said(FactKind::IndexMatch));
    opt("client_join", &said(FactKind::ClientJoin));
    opt("audit_note", &said(FactKind::AuditGap));
    opt("key_inference", &said(FactKind::KeyInference));
    opt("cluster_view", &f.cluster_view());
    opt("other_side", &said(FactKind::OtherSide));
    opt("principal", &f.denial.principal);
    if let Some(side) = f.observed.side {
        m.insert("side".into(), json!(side.as_str()));
    }
    let mut list = |k: &str, v: &[String]| {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    };
    list("actions", &f.denial.actions);
    list("roles", &f.denial.roles);
    list("indices", &f.denial.indices);
    list("restricted_indices", &f.denial.restricted_indices);
    list("privileges", &f.denial.privileges);
    list("nodes", &f.observed.nodes);
    list("client_addresses", &f.observed.client_addresses);
    list("key_candidates", &f.key.key_candidates);
    if let Some(kind) = f.denial.privilege_kind {
        m.insert("privilege_kind".into(), json!(kind.as_str()));
    }
    if !f.observed.statuses.is_empty() {
        m.insert("http_status".into(), json!(f.observed.statuses));
    }
    if !f.observed.credential_formats.is_empty() {
        m.insert(
            "credential_formats".into(),
            json!(f.observed.credential_tags()),
        );
    }
    if let Some(rd) = &f.denial.suggested_role_descriptors {
        m.insert("suggested_role_descriptors".into(), rd.clone());
    }
    if let Some(meta) = &f.key.metadata {
        let mut k = Map::new();
        k.insert("id".into(), json!(meta.id));
        k.insert("name".into(), json!(meta.name));
        if let Some(t) = &meta.key_type {
            k.insert("type".into(), json!(t.as_str()));
        }
        if let Some(state) = f.key.metadata_state {
            k.insert("state".into(), json!(state.as_str()));
        }
        for (name, ms) in [
            ("creation", meta.creation_ms),
            ("expiration", meta.expiration_ms),
            ("invalidation", meta.invalidation_ms),
        ] {
            if let Some(ms) = ms {
                k.insert(name.into(), json!(format_ms(ms)));
            }
        }
        k.insert("invalidated".into(), json!(meta.invalidated));
        k.insert("username".into(), json!(meta.username));
        k.insert("realm".into(), json!(meta.realm));
        if let Some(rd) = &meta.role_descriptors {
            k.insert("role_descriptors".into(), rd.clone());
        }
        if let Some(src) = &meta.derived_from {
            k.insert("derived_from".into(), json!(src));
        }
        if let Some(lb) = &meta.limited_by {
            k.insert("limited_by".into(), lb.clone());
        }
        m.insert("metadata".into(), Value::Object(k));
    }
    if let Some(by) = &f.key.invalidated_by {
        m.insert(
            "invalidated_by".into(),
            json!({"user": by.user, "realm": by.realm, "timestamp": by.timestamp, "origin": by.origin, "node": by.node, "source": by.source, "line": by.line, "matched_by": by.matched_by}),
        );
    }
    m
}
