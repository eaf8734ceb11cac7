//! `--format ecs`: one Elastic Common Schema document per finding, one per line (NDJSON), for
//! Filebeat's `ndjson` parser or the `_bulk` API to put back into Elasticsearch.
//!
//! - **In**: a [`Diagnosis`] and the time the report is made ([`RenderOptions::generated_ms`]).
//! - **Out**: ECS 8.11 fields (`@timestamp`, `event.*`, `error.*`, `rule.*`, `observer.*`,
//!   `related.*`, `user.name`) and keydoctor's own under `keydoctor.*` (a custom field set, as
//!   ECS asks), nothing else at the top level.
//! - **Never**: put a value in an ECS field of another type (`related.ip` holds addresses
//!   only), or invent a time: `@timestamp` is the last failure, else the report's time.

use std::io::{self, Write};

use schemars::JsonSchema;
use serde::Serialize;

use super::RenderOptions;
use crate::diagnosis::{Diagnosis, Finding};
use crate::model::{format_ms, Class, Severity};

/// The ECS version whose field names and allowed values these documents use.
pub const ECS_VERSION: &str = "8.11.0";

/// The version of keydoctor's own fields (`keydoctor.schema_version`).
pub const SCHEMA_VERSION: u32 = 1;

/// Every finding of `d` as one ECS document per line.
pub fn render_ecs(d: &Diagnosis, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    for f in &d.findings {
        out.write_all(finding_line(f, opts).as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// One finding as an ECS document on one line (no newline).
pub fn finding_line(f: &Finding, opts: &RenderOptions) -> String {
    serde_json::to_string(&document(f, opts)).unwrap_or_default()
}

/// The JSON Schema of one line of `--format ecs`.
pub(crate) fn schema() -> schemars::Schema {
    super::output_schema::<EcsDocument>()
}

/// One finding in ECS (field sets as ECS names them; keydoctor's own under `keydoctor`).
#[derive(Serialize, JsonSchema)]
struct EcsDocument {
    /// The last failure, else when the report was made.
    #[serde(rename = "@timestamp", skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    message: String,
    ecs: EcsVersion,
    event: EcsEvent,
    error: EcsError,
    rule: EcsRule,
    observer: EcsObserver,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<EcsUser>,
    #[serde(skip_serializing_if = "EcsRelated::is_empty")]
    related: EcsRelated,
    keydoctor: KeydoctorFields,
}

#[derive(Serialize, JsonSchema)]
struct EcsVersion {
    version: &'static str,
}

#[derive(Serialize, JsonSchema)]
struct EcsEvent {
    kind: &'static str,
    category: &'static [&'static str],
    #[serde(rename = "type")]
    kind_of: &'static [&'static str],
    outcome: &'static str,
    reason: String,
    code: String,
    /// Stable for the same finding: use it as the document's `_id`.
    id: String,
    dataset: &'static str,
    module: &'static str,
    severity: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct EcsError {
    /// The class (`invalidated`, `under_privileged`, …).
    code: &'static str,
    #[serde(rename = "type")]
    kind_of: &'static str,
    /// What the product said (the first evidence line, secrets replaced).
    message: String,
}

#[derive(Serialize, JsonSchema)]
struct EcsRule {
    id: String,
    name: String,
    ruleset: &'static str,
    category: &'static str,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct EcsObserver {
    product: &'static str,
    vendor: &'static str,
    version: &'static str,
}

#[derive(Serialize, JsonSchema)]
struct EcsUser {
    name: String,
}

#[derive(Serialize, JsonSchema)]
struct EcsRelated {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ip: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    user: Vec<String>,
}

impl EcsRelated {
    fn is_empty(&self) -> bool {
        self.ip.is_empty() && self.hosts.is_empty() && self.user.is_empty()
    }
}

/// keydoctor's own fields: what the finding says beyond ECS.
#[derive(Serialize, JsonSchema)]
struct KeydoctorFields {
    schema_version: u32,
    class: &'static str,
    severity: &'static str,
    count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    realm: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    nodes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    clients: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<String>,
    explanation: String,
    evidence: Vec<EcsEvidence>,
    plan: Vec<EcsStep>,
}

#[derive(Serialize, JsonSchema)]
struct EcsEvidence {
    source: String,
    line: usize,
    text: String,
}

#[derive(Serialize, JsonSchema)]
struct EcsStep {
    step: usize,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<String>,
}

fn document(f: &Finding, opts: &RenderOptions) -> EcsDocument {
    let generated = opts.generated_ms.map(format_ms);
    // Times as ECS dates (RFC 3339, UTC), whatever shape the log wrote them in.
    let date = |t: &Option<String>| {
        t.as_deref()
            .and_then(crate::diagnosis::timeline::parse_ts)
            .map(format_ms)
    };
    let (first, last) = (date(&f.observed.first_seen), date(&f.observed.last_seen));
    let (category, kind_of) = categories(f.class);
    let reference = f.references.first().map(|(_, url)| url.clone());
    EcsDocument {
        timestamp: last.clone().or_else(|| generated.clone()),
        message: f.summary.clone(),
        ecs: EcsVersion {
            version: ECS_VERSION,
        },
        event: EcsEvent {
            kind: "alert",
            category,
            kind_of,
            outcome: "failure",
            reason: f.summary.clone(),
            code: f.rule_id.clone(),
            id: event_id(f),
            dataset: "keydoctor.finding",
            module: "keydoctor",
            severity: severity_number(f.severity),
            start: first,
            end: last,
            created: generated,
            reference: reference.clone(),
        },
        error: EcsError {
            code: f.class.as_str(),
            kind_of: "api_key_failure",
            message: f
                .evidence
                .first()
                .map_or_else(|| f.summary.clone(), |e| e.text.clone()),
        },
        rule: EcsRule {
            id: f.rule_id.clone(),
            name: f.rule_id.clone(),
            ruleset: "keydoctor",
            category: f.class.as_str(),
            description: f.summary.clone(),
            reference,
        },
        observer: EcsObserver {
            product: "keydoctor",
            vendor: "keydoctor",
            version: env!("CARGO_PKG_VERSION"),
        },
        user: f.key.user.clone().map(|name| EcsUser { name }),
        related: EcsRelated {
            ip: f
                .observed
                .client_addresses
                .iter()
                .filter_map(|c| ip_of(c))
                .collect(),
            hosts: f.observed.nodes.clone(),
            user: f.key.user.iter().cloned().collect(),
        },
        keydoctor: KeydoctorFields {
            schema_version: SCHEMA_VERSION,
            class: f.class.as_str(),
            severity: f.severity.as_str(),
            count: f.count,
            key_id: f.key_id.clone(),
            key_name: f.key.key_name.clone(),
            realm: f.key.realm.clone(),
            nodes: f.observed.nodes.clone(),
            clients: f.observed.client_addresses.clone(),
            client: f.client.as_ref().map(|c| c.name.clone()),
            explanation: f.explanation.clone(),
            evidence: f
                .evidence
                .iter()
                .map(|e| EcsEvidence {
                    source: e.source.clone(),
                    line: e.line,
                    text: e.text.clone(),
                })
                .collect(),
            plan: f
                .remediation
                .iter()
                .enumerate()
                .map(|(n, s)| EcsStep {
                    step: n + 1,
                    title: s.title.clone(),
                    request: s.request.clone(),
                })
                .collect(),
        },
    }
}

/// `event.category` and `event.type` for a class: each type is one ECS expects for one of the
/// categories (`authentication`: info; `api`: denied; `network`/`configuration`: info).
fn categories(class: Class) -> (&'static [&'static str], &'static [&'static str]) {
    match class {
        Class::UnderPrivileged => (&["api"], &["denied"]),
        Class::CrossClusterMisconfig => (&["configuration", "network"], &["info"]),
        Class::NoExpiration | Class::ExpiringSoon => (&["configuration"], &["info"]),
        _ => (&["authentication", "api"], &["info", "denied"]),
    }
}

/// `event.severity`: the numbers Elastic's detection rules give their severities.
fn severity_number(s: Severity) -> u8 {
    match s {
        Severity::Error => 73,
        Severity::Warning => 47,
        Severity::Note => 21,
    }
}

/// The address part of a client (`10.0.0.7`, `10.0.0.7:5044`, `[::1]:9200`), if it is an IP.
fn ip_of(client: &str) -> Option<String> {
    let text = client.trim();
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Some(ip.to_string());
    }
    text.parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| s.ip().to_string())
}

/// A stable id for the finding (FNV-1a over class, rule, key and first failure): the same
/// finding exported twice is the same document, so `_bulk` with it as `_id` does not duplicate.
fn event_id(f: &Finding) -> String {
    stable_id([
        f.class.as_str(),
        f.rule_id.as_str(),
        f.key_id.as_deref().unwrap_or(""),
        f.observed.first_seen.as_deref().unwrap_or(""),
    ])
}

fn stable_id(parts: [&str; 4]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_go_to_related_ip() {
        assert_eq!(ip_of("10.0.0.7").as_deref(), Some("10.0.0.7"));
        assert_eq!(ip_of("10.0.0.7:5044").as_deref(), Some("10.0.0.7"));
        assert_eq!(ip_of("[::1]:9200").as_deref(), Some("::1"));
        assert_eq!(ip_of("filebeat-7d9f"), None);
    }

    #[test]
    fn the_id_is_stable_and_tells_findings_apart() {
        let a = stable_id(["expired", "api-key-expired", "k1", "2026-11-20T08:00:05Z"]);
        assert_eq!(
            a,
            stable_id(["expired", "api-key-expired", "k1", "2026-11-20T08:00:05Z"])
        );
        assert_eq!(a.len(), 16);
        assert_ne!(
            a,
            stable_id(["expired", "api-key-expired", "k2", "2026-11-20T08:00:05Z"])
        );
        // Parts are separated: moving a character between them is another id.
        assert_ne!(
            stable_id(["ab", "c", "", ""]),
            stable_id(["a", "bc", "", ""])
        );
    }
}
