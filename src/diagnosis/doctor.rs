//! `keydoctor doctor`: cluster-wide checks, each failed one a finding with remediation.
//!
//! - **In**: [`ClusterFacts`]: what the cluster answered (`GET /`, `_xpack/usage`, the active
//!   keys, `_remote/info`, `_cluster/settings`), each part possibly missing with the reason.
//! - **Out**: a [`DoctorReport`]: one [`Check`] per aspect (passed ones too) and a
//!   [`Diagnosis`] whose findings use the `explain` schema, evidence being the answer's JSON.
//! - **Never**: call the cluster (the caller did), or flag what works: a certificate-based
//!   remote in sniff mode is fine.
//!
//! Facts: shared/reference section 4 (remote clusters, `_remote/info`), 2.4 and 6.6 (the API key
//! service setting), 6.5 (the update API and `expiration`).

use serde_json::{json, Map, Value};

use super::keys::human_duration;
use super::privileges::format_json;
use crate::diagnosis::{Diagnosis, Evidence, Finding, Note, RenderedStep, Span};
use crate::event::key_metadata::{KeyMetadata, KeyState};
use crate::model::format_ms;
use crate::model::{Class, Severity, Version};

const REF_CONNECTION_MODES: (&str, &str) = (
    "Remote cluster connection modes (sniff and proxy)",
    "https://www.elastic.co/docs/deploy-manage/remote-clusters/connection-modes",
);
const REF_API_KEY_REMOTES: (&str, &str) = (
    "Add remote clusters using API key authentication",
    "https://www.elastic.co/docs/deploy-manage/remote-clusters/remote-clusters-api-key",
);
const REF_UPDATE_KEY: (&str, &str) = (
    "Update API key API",
    "https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-security-update-api-key",
);
const REF_API_KEY_SETTINGS: (&str, &str) = (
    "API key service settings",
    "https://www.elastic.co/guide/en/elasticsearch/reference/current/security-settings.html#api-key-service-settings",
);

/// Everything the cluster answered; each part `Err(why)` when it could not be read.
#[derive(Debug, Clone)]
pub struct ClusterFacts {
    /// `https://… (Elasticsearch 8.15.1, cluster prod)`.
    pub label: String,
    /// Whether keydoctor reached the cluster over `https://`.
    pub https: bool,
    pub version: Option<Version>,
    /// Who keydoctor is on the cluster (`user elastic, realm reserved`).
    pub whoami: Option<String>,
    /// The call that answered and its `security` object.
    pub security: Result<(String, Value), String>,
    /// Keys not invalidated, and what the listing could not show.
    pub keys: Result<(Vec<KeyMetadata>, Vec<String>), String>,
    /// `GET /_remote/info`.
    pub remote_info: Result<Value, String>,
    /// `GET /_cluster/settings` (flat or nested).
    pub settings: Result<Value, String>,
    pub now_ms: i64,
    /// The expiring-soon window: as given (`14d`) and in milliseconds.
    pub within: String,
    pub within_ms: i64,
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Error,
    Warning,
    /// Not checked: the answer was not available.
    Unknown,
    Ok,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Unknown => "unknown",
        }
    }
}

/// One aspect checked, passed or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `security`, `tls_http`, `api_key_service`, `audit`, `key_expiration`, `keys_expiring`,
    /// `remote:<alias>`.
    pub id: String,
    /// What was checked, for people (`remote cluster eu-logs`).
    pub title: String,
    pub status: Status,
    /// The outcome in a few words.
    pub text: String,
}

/// What `doctor` found.
#[derive(Debug, Default)]
pub struct DoctorReport {
    pub cluster: String,
    pub version: Option<String>,
    pub whoami: Option<String>,
    pub checks: Vec<Check>,
    pub diagnosis: Diagnosis,
}

/// Run every check on `facts`.
pub fn examine(facts: &ClusterFacts) -> DoctorReport {
    let mut report = DoctorReport {
        cluster: facts.label.clone(),
        version: facts.version.map(|v| v.to_string()),
        whoami: facts.whoami.clone(),
        ..Default::default()
    };
    security_checks(facts, &mut report);
    key_checks(facts, &mut report);
    remote_checks(facts, &mut report);
    report.diagnosis.inputs = 1;
    let order = |c: Class| {
        Class::ALL
            .iter()
            .position(|x| *x == c)
            .unwrap_or(usize::MAX)
    };
    report
        .diagnosis
        .findings
        .sort_by_key(|f| (f.severity, order(f.class)));
    report
}

fn check(report: &mut DoctorReport, id: &str, title: &str, status: Status, text: String) {
    report.checks.push(Check {
        id: id.to_string(),
        title: title.to_string(),
        status,
        text,
    });
}

fn note(report: &mut DoctorReport, message: String) {
    report.diagnosis.notes.push(Note {
        rule_id: None,
        message,
        source: None,
        line: None,
        count: 1,
    });
}

/// A finding with the fields doctor does not use left empty.
fn finding(
    class: Class,
    severity: Severity,
    rule_id: &str,
    summary: String,
    explanation: String,
) -> Finding {
    Finding {
        class,
        severity,
        rule_id: rule_id.to_string(),
        key_id: None,
        key_id_source: None,
        key_id_placeholder: None,
        summary,
        explanation,
        remediation: Vec::new(),
        candidates: Vec::new(),
        references: Vec::new(),
        evidence: Vec::new(),
        count: 1,
        denial: Default::default(),
        observed: Default::default(),
        key: Default::default(),
        client: None,
        facts: Vec::new(),
        timeline: Vec::new(),
        groups: Vec::new(),
        differential: None,
        dead_ends: Vec::new(),
    }
}

fn step(title: &str, text: Option<String>, request: Option<String>) -> RenderedStep {
    RenderedStep {
        when: Vec::new(),
        path: None,
        on: crate::model::RunsOn::Cluster,
        later: false,
        run_as: crate::model::RunAs::User,
        title: title.to_string(),
        text,
        request,
        version_note: None,
        diff: None,
    }
}

fn reference(r: (&str, &str)) -> (String, String) {
    (r.0.to_string(), r.1.to_string())
}

/// Evidence: `value` as Dev Tools shows it, with `labels` (anchor, needle after it, label) pointed at.
fn evidence(call: &str, value: &Value, labels: &[(&str, &str, String)]) -> Evidence {
    let text = format_json(value);
    let mut spans = Vec::new();
    for (anchor, needle, label) in labels {
        let Some(at) = text.find(anchor) else {
            continue;
        };
        let from = if needle.is_empty() {
            at
        } else {
            at + anchor.len()
        };
        let (start, len) = if needle.is_empty() {
            (at, anchor.len())
        } else {
            match text[from..].find(needle) {
                Some(off) => (from + off, needle.len()),
                None => continue,
            }
        };
        spans.push(Span {
            start,
            end: start + len,
            label: label.clone(),
        });
    }
    spans.sort_by_key(|s| s.start);
    Evidence {
        source: call.to_string(),
        line: 1,
        kind: crate::model::RecordKind::ClusterApi,
        text,
        spans,
    }
}

fn flag(security: &Value, pointer: &str) -> Option<bool> {
    security.pointer(pointer).and_then(Value::as_bool)
}

fn security_checks(facts: &ClusterFacts, report: &mut DoctorReport) {
    let (call, security) = match &facts.security {
        Ok((call, security)) => (call.as_str(), security),
        Err(why) => {
            for (id, title) in [
                ("security", "security"),
                ("tls_http", "TLS on HTTP"),
                ("api_key_service", "API key service"),
            ] {
                check(report, id, title, Status::Unknown, why.clone());
            }
            return;
        }
    };
    let v7 = facts.version.is_some_and(|v| v.0 < 8);
    if flag(security, "/enabled") == Some(false) {
        check(
            report,
            "security",
            "security",
            Status::Error,
            "disabled (xpack.security.enabled: false)".into(),
        );
        let mut f = finding(
            Class::ApiKeyServiceDisabled,
            Severity::Error,
            "doctor-security-disabled",
            "Security is disabled: this cluster neither creates nor checks API keys".into(),
            format!(
                "{call} reports `security.enabled: false`. Without security the cluster authenticates nobody: API keys cannot be created, and an `Authorization: ApiKey …` header proves nothing. Every client that relies on a key is either talking to another cluster or not protected at all."
            ),
        );
        f.remediation = vec![
            step(
                "Enable security on every node",
                Some("Set `xpack.security.enabled: true` in elasticsearch.yml on every node (on 8.x it is on by default: someone turned it off), configure TLS for the transport layer (required with security on a multi-node cluster), and restart the nodes.".into()),
                None,
            ),
            step(
                "Set passwords, then create the keys",
                Some("Reset the built-in `elastic` password (`bin/elasticsearch-reset-password -u elastic`), then create the clients' API keys with an expiration.".into()),
                Some("POST /_security/api_key\n{\n  \"name\": \"<client>\",\n  \"expiration\": \"90d\"\n}".into()),
            ),
        ];
        f.references = vec![reference(REF_API_KEY_SETTINGS)];
        f.evidence = vec![evidence(
            call,
            &json!({"security": {"enabled": false}}),
            &[("\"enabled\": ", "false", "security is off".into())],
        )];
        report.diagnosis.findings.push(f);
        for (id, title) in [
            ("tls_http", "TLS on HTTP"),
            ("api_key_service", "API key service"),
        ] {
            check(
                report,
                id,
                title,
                Status::Unknown,
                "not applicable: security is off".into(),
            );
        }
        return;
    }
    check(report, "security", "security", Status::Ok, "enabled".into());

    let http_tls = flag(security, "/ssl/http/enabled");
    let service = flag(security, "/api_key_service/enabled");
    match http_tls {
        Some(true) => check(
            report,
            "tls_http",
            "TLS on HTTP",
            Status::Ok,
            "enabled".into(),
        ),
        Some(false) => {
            let text = if facts.https {
                "off on the nodes; keydoctor reached them over https, so a proxy or load balancer terminates TLS in front and the hop to the nodes is plain"
            } else {
                "off: API keys travel in clear text on every request"
            };
            check(
                report,
                "tls_http",
                "TLS on HTTP",
                Status::Warning,
                text.into(),
            );
            if service != Some(false) {
                note(report, format!(
                    "TLS is off on the nodes' HTTP layer (xpack.security.http.ssl.enabled: false): an API key is a bearer credential sent with every request, so anyone who can read the traffic{} can replay it. Enable xpack.security.http.ssl on every node.",
                    if facts.https { " between the TLS-terminating proxy and the nodes" } else { "" }
                ));
            }
        }
        None => check(
            report,
            "tls_http",
            "TLS on HTTP",
            Status::Unknown,
            format!("{call} does not say"),
        ),
    }
    match service {
        Some(true) => check(
            report,
            "api_key_service",
            "API key service",
            Status::Ok,
            "enabled".into(),
        ),
        None => check(
            report,
            "api_key_service",
            "API key service",
            Status::Unknown,
            format!("{call} does not say (GET /_xpack/usage, with the monitor privilege, does)"),
        ),
        Some(false) => {
            let tls_off = http_tls == Some(false);
            check(
                report,
                "api_key_service",
                "API key service",
                Status::Error,
                "disabled: every API key is rejected".into(),
            );
            let why = if tls_off && v7 {
                " On 7.x `xpack.security.authc.api_key.enabled` defaults to the value of `xpack.security.http.ssl.enabled` in early releases, and TLS is off on HTTP here: the service may be off only because TLS is."
            } else {
                ""
            };
            let mut f = finding(
                Class::ApiKeyServiceDisabled,
                Severity::Error,
                "doctor-api-key-service-disabled",
                "The API key service is disabled on this cluster".into(),
                format!(
                    "{call} reports `security.api_key_service.enabled: false`. With the service off, every request authenticated by an API key fails, and the key APIs answer `api keys are not enabled`.{why}"
                ),
            );
            let mut steps = Vec::new();
            if tls_off {
                steps.push(step(
                    "Enable TLS on the HTTP layer (recommended)",
                    Some("Configure `xpack.security.http.ssl.enabled: true` with a certificate on every node (`bin/elasticsearch-certutil http` generates one). API keys are bearer credentials: sent over plain HTTP, anyone on the path can replay them.".into()),
                    None,
                ));
            }
            steps.push(step(
                "Enable the API key service on every node",
                Some("Set `xpack.security.authc.api_key.enabled: true` in elasticsearch.yml on every node and restart them one at a time (the setting is static).".into()),
                None,
            ));
            steps.push(step(
                "Verify",
                Some(
                    "`security.api_key_service.enabled` is now true, and the key APIs answer."
                        .into(),
                ),
                Some("GET /_xpack/usage?filter_path=security.api_key_service,security.ssl".into()),
            ));
            f.remediation = steps;
            f.references = vec![reference(REF_API_KEY_SETTINGS)];
            let mut shown = json!({"security": {"api_key_service": {"enabled": false}}});
            let mut labels = vec![(
                "\"api_key_service\": ",
                "false",
                "API keys are rejected".to_string(),
            )];
            if tls_off {
                shown["security"]["ssl"] = json!({"http": {"enabled": false}});
                labels.push(("\"http\": ", "false", "no TLS on HTTP".to_string()));
            }
            f.evidence = vec![evidence(call, &shown, &labels)];
            report.diagnosis.findings.push(f);
        }
    }
    match flag(security, "/audit/enabled") {
        Some(false) => {
            check(
                report,
                "audit",
                "audit log",
                Status::Warning,
                "off: who invalidated or changed a key cannot be found later".into(),
            );
            note(report, "The audit log is off (xpack.security.audit.enabled: false): when a key is invalidated or changed, nothing records who did it. Enable it on every node (static setting, restart) and add security_config_change to xpack.security.audit.logfile.events.include (dynamic).".into());
        }
        Some(true) => check(report, "audit", "audit log", Status::Ok, "enabled".into()),
        None => {}
    }
}

/// Whether a key is managed by another product (Fleet sets `metadata.managed: true`): its
/// lifecycle is that product's job.
pub fn managed_by(key: &KeyMetadata) -> Option<String> {
    let meta = key.metadata.as_ref()?;
    if meta.get("managed").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    Some(
        meta.get("managed_by")
            .and_then(Value::as_str)
            .unwrap_or("another product")
            .to_string(),
    )
}

fn owner(key: &KeyMetadata) -> String {
    match (&key.username, &key.realm) {
        (Some(u), Some(r)) => format!("{u} (realm {r})"),
        (Some(u), None) => u.clone(),
        _ => "an unknown owner".into(),
    }
}

/// The key as `GET /_security/api_key` lists it (the fields that matter here).
fn key_value(key: &KeyMetadata) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(key.id));
    if let Some(n) = &key.name {
        m.insert("name".into(), json!(n));
    }
    if let Some(t) = key.key_type {
        m.insert("type".into(), json!(t.as_str()));
    }
    if let Some(c) = key.creation_ms {
        m.insert("creation".into(), json!(c));
    }
    if let Some(e) = key.expiration_ms {
        m.insert("expiration".into(), json!(e));
    }
    m.insert("invalidated".into(), json!(key.invalidated));
    if let Some(u) = &key.username {
        m.insert("username".into(), json!(u));
    }
    if let Some(r) = &key.realm {
        m.insert("realm".into(), json!(r));
    }
    Value::Object(m)
}

fn key_checks(facts: &ClusterFacts, report: &mut DoctorReport) {
    let (keys, notes) = match &facts.keys {
        Ok(k) => k,
        Err(why) => {
            check(
                report,
                "key_expiration",
                "key expiration",
                Status::Unknown,
                why.clone(),
            );
            check(
                report,
                "keys_expiring",
                "keys expiring",
                Status::Unknown,
                why.clone(),
            );
            return;
        }
    };
    for n in notes {
        note(report, n.clone());
    }
    let now = facts.now_ms;
    let active: Vec<&KeyMetadata> = keys
        .iter()
        .filter(|k| k.state(now) == KeyState::Active)
        .collect();
    let mut managed = 0;
    let mut never = Vec::new();
    let mut soon = Vec::new();
    for key in &active {
        match key.expiration_ms {
            None if managed_by(key).is_some() => managed += 1,
            None => never.push(*key),
            Some(e) if e - now <= facts.within_ms => soon.push(*key),
            Some(_) => {}
        }
    }
    let managed_text = if managed > 0 {
        format!(
            "; {managed} managed by Fleet or another product (metadata.managed) not counted: their rotation is that product's job"
        )
    } else {
        String::new()
    };
    check(
        report,
        "key_expiration",
        "key expiration",
        if never.is_empty() {
            Status::Ok
        } else {
            Status::Warning
        },
        format!(
            "{} active, {} without expiration{managed_text}",
            active.len(),
            never.len()
        ),
    );
    check(
        report,
        "keys_expiring",
        "keys expiring",
        if soon.is_empty() {
            Status::Ok
        } else {
            Status::Warning
        },
        format!("{} expiring within {}", soon.len(), facts.within),
    );
    let update_from = Version(8, 13, 0);
    let can_update = facts.version.is_none_or(|v| v >= update_from);
    for key in never {
        let label = key_label(key);
        let age = key
            .creation_ms
            .map(|c| {
                format!(
                    ", created {} ago ({})",
                    human_duration(now - c),
                    format_ms(c)
                )
            })
            .unwrap_or_default();
        let f = key_finding(
            finding(
                Class::NoExpiration,
                Severity::Warning,
                "doctor-key-without-expiration",
                format!("Key {label} never expires"),
                format!(
                    "Key {label} of {}{age} has no expiration. It stays valid until someone invalidates it: a copy leaked in a config file, a CI log or a laptop keeps working, and nothing forces the rotation that would retire it.",
                    owner(key)
                ),
            ),
            key,
            expiration_steps(key, can_update, facts.version),
            ("\"invalidated\": ", "false".into(), "active, and no \"expiration\" field: it never expires".into()),
        );
        report.diagnosis.findings.push(f);
    }
    for key in soon {
        let label = key_label(key);
        let expiration = key.expiration_ms.unwrap_or_default();
        let left = expiration - now;
        let severity = if left <= 86_400_000 {
            Severity::Error
        } else {
            Severity::Warning
        };
        let when = format!("{} (in {})", format_ms(expiration), human_duration(left));
        let f = key_finding(
            finding(
                Class::ExpiringSoon,
                severity,
                "doctor-key-expiring-soon",
                format!("Key {label} expires in {}", human_duration(left)),
                format!(
                    "Key {label} of {} expires at {when}. From then on every request with it fails with `api key is expired` (or, with most clients, a bare 401). Rotate it before then: create the replacement, deploy it, verify, then let the old one expire or invalidate it.",
                    owner(key)
                ),
            ),
            key,
            expiration_steps(key, can_update, facts.version),
            ("\"expiration\": ", expiration.to_string(), when),
        );
        report.diagnosis.findings.push(f);
    }
}

/// A per-key finding: the key's facts, its listing as evidence with the id and `decisive`
/// (anchor, value after it, label) pointed at.
fn key_finding(
    mut f: Finding,
    key: &KeyMetadata,
    steps: Vec<RenderedStep>,
    decisive: (&str, String, String),
) -> Finding {
    f.key_id = Some(key.id.clone());
    f.key_id_source = Some(crate::model::KeyIdSource::ClusterListing);
    f.key.key_name = key.name.clone();
    f.key.user = key.username.clone();
    f.key.realm = key.realm.clone();
    f.key.metadata = Some(key.clone());
    f.key.metadata_state = Some(crate::model::KeyState::Active);
    f.remediation = steps;
    f.references = vec![reference(REF_UPDATE_KEY)];
    let (anchor, value, label) = decisive;
    f.evidence = vec![evidence(
        "GET /_security/api_key",
        &key_value(key),
        &[
            (
                "\"id\": ",
                &format!("\"{}\"", key.id),
                "this key".to_string(),
            ),
            (anchor, &value, label),
        ],
    )];
    f
}

fn key_label(key: &KeyMetadata) -> String {
    match &key.name {
        Some(n) => format!("{n} ({})", key.id),
        None => key.id.clone(),
    }
}

/// Rotate (always possible), or set an expiration in place (owner, 8.13+, REST keys).
fn expiration_steps(
    key: &KeyMetadata,
    can_update: bool,
    version: Option<Version>,
) -> Vec<RenderedStep> {
    let mut steps = vec![step(
        "Rotate the key: replacement first, old key last",
        Some(format!(
            "`keydoctor rotate {}` prints the full plan: the create request copying this key's role descriptors and metadata with an expiration, then deploy it to the client, verify the client works with it, and only then invalidate the old key.",
            key.id
        )),
        None,
    )];
    let cross = key.key_type == Some(crate::model::KeyType::CrossCluster);
    if !cross {
        let mut s = step(
            "Or give this key an expiration in place (no redeploy)",
            Some("Run as the key's owner user (not with an API key). Note that any update also refreshes the key's snapshot of its owner's privileges (limited_by).".into()),
            Some(format!("PUT /_security/api_key/{}\n{{\n  \"expiration\": \"90d\"\n}}", key.id)),
        );
        s.version_note = Some(match (can_update, version) {
            (true, Some(v)) => {
                format!("expiration in the update API: 8.13+; this cluster runs {v}")
            }
            (true, None) => "expiration in the update API: 8.13+".into(),
            (false, Some(v)) => {
                format!("not on {v}: the update API takes an expiration from 8.13; rotate instead")
            }
            (false, None) => "8.13+".into(),
        });
        if can_update {
            steps.push(s);
        } else {
            steps[0].version_note = s.version_note;
        }
    }
    steps
}

/// One remote cluster as `_remote/info` and the settings describe it.
#[derive(Debug, Clone, Default)]
struct Remote {
    alias: String,
    mode: String,
    connected: Option<bool>,
    credentials: bool,
    addresses: Vec<String>,
    server_name: Option<String>,
    skip_unavailable: Option<bool>,
    /// The alias's `_remote/info` entry (or its settings when it is not there).
    entry: Value,
    /// `persistent` / `transient` when the alias is configured through the settings API.
    scope: Option<&'static str>,
    in_info: bool,
    /// Settings of the alias that belong to sniff mode (to clear when switching to proxy).
    sniff_settings: Vec<String>,
}

/// Settings as dotted keys, whether the answer was flat or nested.
fn flatten(value: &Value, out: &mut Vec<(String, Value)>) {
    crate::event::flatten_json(value, "", &|_| false, &mut |k, v| {
        out.push((k.to_string(), v.clone()));
    });
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => {
            s.split(',').map(|p| p.trim().to_string()).collect()
        }
        _ => Vec::new(),
    }
}

fn remotes(info: Option<&Value>, settings: Option<&Value>) -> Vec<Remote> {
    let mut out: Vec<Remote> = Vec::new();
    if let Some(Value::Object(map)) = info {
        for (alias, entry) in map {
            let addresses =
                if let Some(p) = entry.get("proxy_address").or_else(|| entry.get("address")) {
                    strings(Some(p))
                } else {
                    strings(entry.get("seeds"))
                };
            let mode = entry
                .get("mode")
                .and_then(Value::as_str)
                .unwrap_or(if entry.get("proxy_address").is_some() {
                    "proxy"
                } else {
                    "sniff"
                })
                .to_string();
            out.push(Remote {
                alias: alias.clone(),
                mode,
                connected: entry.get("connected").and_then(Value::as_bool),
                credentials: entry.get("cluster_credentials").is_some(),
                addresses,
                server_name: entry
                    .get("server_name")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                skip_unavailable: entry.get("skip_unavailable").and_then(Value::as_bool),
                entry: json!({ alias: entry }),
                in_info: true,
                ..Default::default()
            });
        }
    }
    if let Some(settings) = settings {
        for scope in ["persistent", "transient"] {
            let mut flat = Vec::new();
            if let Some(s) = settings.get(scope) {
                flatten(s, &mut flat);
            }
            for (key, value) in flat {
                let Some(rest) = key
                    .strip_prefix("cluster.remote.")
                    .or_else(|| key.strip_prefix("search.remote."))
                else {
                    continue;
                };
                let Some((alias, setting)) = rest.split_once('.') else {
                    continue;
                };
                if value.is_null() {
                    continue;
                }
                let idx = match out.iter().position(|r| r.alias == alias) {
                    Some(i) => i,
                    None => {
                        out.push(Remote {
                            alias: alias.to_string(),
                            mode: "sniff".into(),
                            entry: json!({}),
                            ..Default::default()
                        });
                        out.len() - 1
                    }
                };
                let r = &mut out[idx];
                r.scope.get_or_insert(if scope == "persistent" {
                    "persistent"
                } else {
                    "transient"
                });
                if matches!(setting, "seeds" | "node_connections") {
                    r.sniff_settings.push(setting.to_string());
                }
                if !r.in_info {
                    r.entry[format!("cluster.remote.{alias}.{setting}")] = value.clone();
                    match setting {
                        "mode" => r.mode = value.as_str().unwrap_or("sniff").to_string(),
                        "seeds" | "proxy_address" => r.addresses = strings(Some(&value)),
                        _ => {}
                    }
                }
            }
        }
    }
    out.sort_by(|a, b| a.alias.cmp(&b.alias));
    out
}

/// `host:9443` → (`host`, Some(9443)); `[::1]:9300` → (`[::1]`, Some(9300)).
fn split_port(address: &str) -> (&str, Option<u16>) {
    match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && (!host.contains(':') || host.ends_with(']')) => {
            (host, port.parse().ok())
        }
        _ => (address, None),
    }
}

fn remote_checks(facts: &ClusterFacts, report: &mut DoctorReport) {
    let info = match &facts.remote_info {
        Ok(v) => Some(v),
        Err(why) => {
            check(
                report,
                "remotes",
                "remote clusters",
                Status::Unknown,
                why.clone(),
            );
            None
        }
    };
    let settings = facts.settings.as_ref().ok();
    let list = remotes(info, settings);
    if list.is_empty() {
        if info.is_some() {
            check(
                report,
                "remotes",
                "remote clusters",
                Status::Ok,
                "none configured".into(),
            );
        }
        return;
    }
    for r in list {
        remote_check(facts, report, &r);
    }
}

fn remote_check(facts: &ClusterFacts, report: &mut DoctorReport, r: &Remote) {
    let id = format!("remote:{}", r.alias);
    let title = format!("remote cluster {}", r.alias);
    let model = if r.credentials {
        "API key"
    } else {
        "certificate"
    };
    let conn = match r.connected {
        Some(true) => "connected",
        Some(false) => "not connected",
        None => "connection state unknown",
    };
    let shape = format!("{model} model, {} mode, {conn}", r.mode);
    let port_of = |p: u16| {
        r.addresses
            .iter()
            .find(|a| split_port(a).1 == Some(p))
            .cloned()
    };
    let on_9300 = port_of(9300);
    let on_9443 = port_of(9443);
    let first_host = r
        .addresses
        .first()
        .map(|a| {
            split_port(a)
                .0
                .trim_matches(|c| c == '[' || c == ']')
                .to_string()
        })
        .unwrap_or_else(|| "<remote-endpoint>".into());
    let scope = r.scope.unwrap_or("persistent");
    let alias = &r.alias;
    let call = if r.in_info {
        "GET /_remote/info"
    } else {
        "GET /_cluster/settings"
    };
    let creds_label = (
        "\"cluster_credentials\"",
        "",
        "API-key credentials in the keystore".to_string(),
    );
    let mode_label = ("\"mode\": ", "\"sniff\"", "sniff mode".to_string());
    let conn_label = ("\"connected\": ", "false", "no open connection".to_string());

    if !r.in_info {
        check(
            report,
            &id,
            &title,
            Status::Warning,
            format!("in the cluster settings ({scope}) but not in GET /_remote/info"),
        );
        note(report, format!("Remote cluster {alias} is configured in the {scope} cluster settings but GET /_remote/info does not list it: its settings may be incomplete (no seeds or proxy_address)."));
        return;
    }

    let proxy_request = |port: u16| {
        let mut settings = Map::new();
        settings.insert(format!("cluster.remote.{alias}.mode"), json!("proxy"));
        for s in ["seeds", "node_connections"] {
            if r.sniff_settings.iter().any(|x| x == s) || s == "seeds" {
                settings.insert(format!("cluster.remote.{alias}.{s}"), Value::Null);
            }
        }
        settings.insert(
            format!("cluster.remote.{alias}.proxy_address"),
            json!(format!("{first_host}:{port}")),
        );
        let server_name = r.server_name.clone().unwrap_or_else(|| first_host.clone());
        settings.insert(
            format!("cluster.remote.{alias}.server_name"),
            json!(server_name),
        );
        format!(
            "PUT /_cluster/settings\n{}",
            format_json(&json!({ scope: settings }))
        )
    };
    let verify = step(
        "Verify",
        Some(format!("The remote shows `\"connected\": true`{} and a cross-cluster search against it succeeds.", if r.credentials { " with `cluster_credentials`" } else { "" })),
        Some(format!("GET /_remote/info\nGET /_resolve/cluster/{alias}:*")),
    );
    let yml_note = if r.scope.is_none() {
        " The alias is not in the cluster settings API, so it comes from elasticsearch.yml: change it there on every node (or override it with the request below, which takes precedence).".to_string()
    } else {
        String::new()
    };
    let mut f = None;

    if r.credentials && on_9300.is_some() {
        let addr = on_9300.clone().unwrap_or_default();
        let mut x = finding(
            Class::CrossClusterMisconfig,
            Severity::Error,
            "doctor-remote-api-key-on-transport-port",
            format!("Remote cluster {alias} uses API-key credentials but points at the transport port 9300"),
            format!(
                "Remote cluster {alias} has API-key credentials in the keystore (`cluster_credentials`), so this cluster speaks the API-key protocol to it, which only the remote's remote cluster server port (9443 by default) understands. Its address {addr} is the transport port: the handshake fails with TLS errors (`bad_certificate`), `missing authentication credentials for action [cluster:internal/remote_cluster/handshake]`, or `remote cluster handshake action requires channel profile to be [_remote_cluster]`.{yml_note}"
            ),
        );
        x.remediation = vec![
            step("On the remote cluster, enable the remote cluster server", Some("`remote_cluster_server.enabled: true` in elasticsearch.yml on every remote node (with `xpack.security.remote_cluster_server.ssl.*`), then restart them; it listens on `remote_cluster.port`, 9443 by default.".into()), None),
            step("Point the alias at port 9443, in proxy mode", Some("Proxy mode needs only the one address to be reachable; sniff mode with API keys needs every remote node's 9443 publish address, which Elastic Cloud, ECE and ECK never expose.".into()), Some(proxy_request(9443))),
            verify.clone(),
        ];
        x.evidence = vec![evidence(
            call,
            &r.entry,
            &[
                ("", &addr, "transport port 9300".to_string()),
                creds_label.clone(),
            ],
        )];
        f = Some(x);
    } else if !r.credentials && on_9443.is_some() {
        let addr = on_9443.clone().unwrap_or_default();
        let mut x = finding(
            Class::CrossClusterMisconfig,
            Severity::Error,
            "doctor-remote-port-without-credentials",
            format!("Remote cluster {alias} points at the remote cluster server port 9443 without API-key credentials"),
            format!(
                "Remote cluster {alias} points at {addr}, the remote cluster server port, but this cluster has no `cluster.remote.{alias}.credentials` in its keystore (`_remote/info` shows no `cluster_credentials`). That port requires a cross-cluster API key: requests fail with `Cross cluster requests through the dedicated remote cluster server port require transport header [_cross_cluster_access_credentials] but none found`."
            ),
        );
        x.remediation = vec![
            step("On the remote cluster, create a cross-cluster API key", Some("As a user with `manage_security` (not with an API key); list the indices the local cluster may search.".into()), Some("POST /_security/cross_cluster/api_key\n{\n  \"name\": \"<local-cluster>-access\",\n  \"expiration\": \"365d\",\n  \"access\": {\n    \"search\": [{\"names\": [\"logs-*\"]}]\n  }\n}".into())),
            step("Put its `encoded` value in the keystore of every local node", Some(format!("`bin/elasticsearch-keystore add cluster.remote.{alias}.credentials` on each node, paste the `encoded` value, then reload the secure settings (or restart)."  )), Some("POST /_nodes/reload_secure_settings".into())),
            verify.clone(),
        ];
        x.references = vec![reference(REF_API_KEY_REMOTES)];
        x.evidence = vec![evidence(
            call,
            &r.entry,
            &[(
                "",
                &addr,
                "remote cluster server port, no cluster_credentials".to_string(),
            )],
        )];
        f = Some(x);
    } else if r.credentials && r.mode == "sniff" {
        let connected = r.connected == Some(true);
        let mut x = finding(
            Class::CrossClusterMisconfig,
            if connected { Severity::Warning } else { Severity::Error },
            "doctor-remote-api-key-sniff",
            if connected {
                format!("Remote cluster {alias} uses API-key credentials in sniff mode: it works now, but breaks when a remote node's address is not reachable")
            } else {
                format!("Remote cluster {alias} uses API-key credentials in sniff mode and is not connected")
            },
            format!(
                "With API-key credentials in sniff mode, this cluster asks a seed for the remote's nodes and then connects to each node's remote-cluster publish address (port 9443) directly, so every one of those addresses must be reachable from every local node. On Elastic Cloud, ECE and ECK they never are; elsewhere a firewall, NAT or a node added later breaks it. Proxy mode connects through the one address given and is the robust choice.{}{yml_note}",
                if connected { "" } else { " The remote is not connected: the local nodes' log shows `fetching nodes from external cluster [...] failed` or `Unable to open any connections to remote cluster` with the address it tried." }
            ),
        );
        x.remediation = vec![
            step("Switch the alias to proxy mode on port 9443", Some(format!("Use the remote's remote-cluster endpoint (on Elastic Cloud: the deployment's endpoint with port 9443, and `server_name` set to that host).{}", if r.mode == "sniff" && r.sniff_settings.is_empty() && r.scope.is_none() { " Remove the sniff settings from elasticsearch.yml too." } else { "" })), Some(proxy_request(9443))),
            verify.clone(),
        ];
        x.references = vec![
            reference(REF_CONNECTION_MODES),
            reference(REF_API_KEY_REMOTES),
        ];
        let mut labels = vec![creds_label.clone(), mode_label.clone()];
        if !connected {
            labels.push(conn_label.clone());
        }
        x.evidence = vec![evidence(call, &r.entry, &labels)];
        f = Some(x);
    } else if r.credentials && r.connected == Some(false) {
        let mut x = finding(
            Class::CrossClusterMisconfig,
            Severity::Error,
            "doctor-remote-api-key-not-connected",
            format!("Remote cluster {alias} (API-key credentials, proxy mode) is not connected"),
            format!(
                "Remote cluster {alias} is set up for API keys in proxy mode{} but has no open connection. The usual causes: the remote cluster server is off on the remote (`remote_cluster_server.enabled`), the address or `server_name` is wrong, the remote's certificate is not trusted (`xpack.security.remote_cluster_client.ssl.certificate_authorities`), or the cross-cluster API key in the keystore is invalidated, expired, unknown to the remote, or a REST key. The local nodes' log says which.",
                r.addresses.first().map(|a| format!(" via {a}")).unwrap_or_default()
            ),
        );
        x.remediation = vec![
            step("Read the local nodes' log for the connection error", Some("`keydoctor scan` on the local cluster's logs classifies the messages (handshake, trust, key type, invalid key).".into()), None),
            step("Check the key in the keystore on the remote", Some(format!("The id in `cluster.remote.{alias}.credentials` must be an active key of type `cross_cluster` on the remote: `keydoctor key ID --es-url REMOTE`.")), Some("GET /_security/api_key?id=<cross-cluster-key-id>".into())),
            verify.clone(),
        ];
        x.references = vec![reference(REF_API_KEY_REMOTES)];
        x.evidence = vec![evidence(
            call,
            &r.entry,
            &[creds_label.clone(), conn_label.clone()],
        )];
        f = Some(x);
    }

    let skip = r
        .skip_unavailable
        .map(|s| format!(", skip_unavailable {s}"))
        .unwrap_or_default();
    let (status, text) = match &f {
        Some(x) => (
            if x.severity == Severity::Error {
                Status::Error
            } else {
                Status::Warning
            },
            format!("{shape}{skip}: {}", short_problem(&x.rule_id)),
        ),
        None if r.connected == Some(false) => {
            note(report, format!("Remote cluster {alias} ({model} model) is not connected; with the certificate model this is outside API keys: the local nodes' log has the connection error."));
            (Status::Warning, format!("{shape}{skip}"))
        }
        None => (Status::Ok, format!("{shape}{skip}")),
    };
    check(report, &id, &title, status, text);
    if let Some(mut x) = f {
        x.observed.remote = Some(alias.clone());
        x.observed.version = facts.version.map(crate::model::KnownVersion::Exact);
        if x.references.is_empty() {
            x.references = vec![reference(REF_API_KEY_REMOTES)];
        }
        report.diagnosis.findings.push(x);
    }
}

/// The remote check's line for a finding of `rule_id`.
fn short_problem(rule_id: &str) -> &'static str {
    match rule_id {
        "doctor-remote-api-key-on-transport-port" => {
            "API-key credentials sent to the transport port 9300"
        }
        "doctor-remote-port-without-credentials" => {
            "port 9443 needs API-key credentials, none in the keystore"
        }
        "doctor-remote-api-key-sniff" => {
            "sniff mode with API keys needs every remote node's 9443 address reachable; use proxy"
        }
        "doctor-remote-api-key-not-connected" => "not connected: remote cluster server off, wrong address or server_name, untrusted certificate, or a bad key",
        _ => "see the finding",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ClusterFacts {
        ClusterFacts {
            label: "https://es:9200 (Elasticsearch 8.15.1)".into(),
            https: true,
            version: Some(Version(8, 15, 1)),
            whoami: None,
            security: Ok((
                "GET /_xpack/usage".into(),
                json!({"available": true, "enabled": true, "ssl": {"http": {"enabled": true}}, "api_key_service": {"enabled": true}, "audit": {"enabled": true}}),
            )),
            keys: Ok((Vec::new(), Vec::new())),
            remote_info: Ok(json!({})),
            settings: Ok(json!({"persistent": {}, "transient": {}})),
            now_ms: 1_795_000_000_000,
            within: "14d".into(),
            within_ms: 14 * 86_400_000,
        }
    }

    fn classes(r: &DoctorReport) -> Vec<(&'static str, &str)> {
        r.diagnosis
            .findings
            .iter()
            .map(|f| (f.class.as_str(), f.rule_id.as_str()))
            .collect()
    }

    #[test]
    fn a_healthy_cluster_passes_every_check() {
        let r = examine(&facts());
        assert!(r.diagnosis.findings.is_empty(), "{:?}", classes(&r));
        assert!(
            r.checks.iter().all(|c| c.status == Status::Ok),
            "{:?}",
            r.checks
        );
    }

    #[test]
    fn sniff_with_credentials_is_an_error_when_disconnected_and_a_warning_when_connected() {
        let mut f = facts();
        f.remote_info = Ok(json!({
            "eu": {"connected": false, "mode": "sniff", "seeds": ["eu.example:9443"], "num_nodes_connected": 0, "max_connections_per_cluster": 3, "initial_connect_timeout": "30s", "skip_unavailable": true, "cluster_credentials": "::es_redacted::"},
            "us": {"connected": true, "mode": "sniff", "seeds": ["us.example:9443"], "num_nodes_connected": 3, "max_connections_per_cluster": 3, "initial_connect_timeout": "30s", "skip_unavailable": true, "cluster_credentials": "::es_redacted::"},
            "old": {"connected": true, "mode": "sniff", "seeds": ["old.example:9300"], "num_nodes_connected": 3, "max_connections_per_cluster": 3, "initial_connect_timeout": "30s", "skip_unavailable": false}
        }));
        f.settings = Ok(
            json!({"persistent": {"cluster": {"remote": {"eu": {"seeds": ["eu.example:9443"]}}}}, "transient": {}}),
        );
        let r = examine(&f);
        let found: Vec<_> = r
            .diagnosis
            .findings
            .iter()
            .map(|x| (x.observed.remote.clone().unwrap(), x.severity))
            .collect();
        assert_eq!(
            found,
            vec![
                ("eu".to_string(), Severity::Error),
                ("us".to_string(), Severity::Warning)
            ]
        );
        let eu = &r.diagnosis.findings[0];
        let fix = eu.remediation[0].request.as_deref().unwrap();
        assert!(
            fix.contains(r#""cluster.remote.eu.mode": "proxy""#),
            "{fix}"
        );
        assert!(fix.contains(r#""cluster.remote.eu.seeds": null"#), "{fix}");
        assert!(
            fix.contains(r#""cluster.remote.eu.proxy_address": "eu.example:9443""#),
            "{fix}"
        );
        let labels: Vec<_> = eu.evidence[0]
            .spans
            .iter()
            .map(|s| &eu.evidence[0].text[s.start..s.end])
            .collect();
        assert!(labels.contains(&"\"sniff\""), "{labels:?}");
        assert!(labels.contains(&"false"), "{labels:?}");
        // The certificate-based remote in sniff mode is fine.
        let old = r.checks.iter().find(|c| c.id == "remote:old").unwrap();
        assert_eq!(old.status, Status::Ok);
    }

    #[test]
    fn ports_decide_between_models() {
        let mut f = facts();
        f.remote_info = Ok(json!({
            "a": {"connected": false, "mode": "proxy", "proxy_address": "a.example:9300", "server_name": "", "num_proxy_sockets_connected": 0, "max_proxy_socket_connections": 18, "initial_connect_timeout": "30s", "skip_unavailable": false, "cluster_credentials": "::es_redacted::"},
            "b": {"connected": false, "mode": "proxy", "proxy_address": "b.example:9443", "server_name": "", "num_proxy_sockets_connected": 0, "max_proxy_socket_connections": 18, "initial_connect_timeout": "30s", "skip_unavailable": false}
        }));
        let r = examine(&f);
        assert_eq!(
            classes(&r),
            vec![
                (
                    "cross_cluster_misconfig",
                    "doctor-remote-api-key-on-transport-port"
                ),
                (
                    "cross_cluster_misconfig",
                    "doctor-remote-port-without-credentials"
                ),
            ]
        );
    }

    #[test]
    fn service_off_and_keys_without_expiration_are_findings() {
        let mut f = facts();
        f.version = Some(Version(7, 17, 10));
        f.security = Ok((
            "GET /_xpack/usage".into(),
            json!({"available": true, "enabled": true, "ssl": {"http": {"enabled": false}}, "api_key_service": {"enabled": false}, "audit": {"enabled": false}}),
        ));
        let key = |id: &str, exp: Option<i64>, meta: Value| KeyMetadata {
            id: id.into(),
            name: Some(format!("{id}-name")),
            creation_ms: Some(1_700_000_000_000),
            expiration_ms: exp,
            metadata: Some(meta),
            ..Default::default()
        };
        f.keys = Ok((
            vec![
                key("never", None, json!({})),
                key(
                    "fleet",
                    None,
                    json!({"managed_by": "fleet", "managed": true}),
                ),
                key("soon", Some(1_795_000_000_000 + 3 * 86_400_000), json!({})),
                key(
                    "later",
                    Some(1_795_000_000_000 + 90 * 86_400_000),
                    json!({}),
                ),
            ],
            Vec::new(),
        ));
        let r = examine(&f);
        assert_eq!(
            classes(&r),
            vec![
                (
                    "api_key_service_disabled",
                    "doctor-api-key-service-disabled"
                ),
                ("expiring_soon", "doctor-key-expiring-soon"),
                ("no_expiration", "doctor-key-without-expiration"),
            ]
        );
        let never = &r.diagnosis.findings[2];
        assert_eq!(never.key_id.as_deref(), Some("never"));
        // 7.17 has no expiration in the update API: rotation only.
        assert_eq!(never.remediation.len(), 1, "{:?}", never.remediation);
        assert!(r.diagnosis.findings[0]
            .explanation
            .contains("only because TLS is"));
        assert!(r
            .diagnosis
            .notes
            .iter()
            .any(|n| n.message.contains("audit log is off")));
        let exp = r.checks.iter().find(|c| c.id == "key_expiration").unwrap();
        assert!(exp.text.contains("1 managed"), "{}", exp.text);
    }
}
