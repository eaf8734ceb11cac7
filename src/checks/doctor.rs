//! `keydoctor doctor`: cluster-wide checks, each failed one a finding with remediation.
//!
//! - **In**: [`ClusterFacts`]: what the cluster answered (`GET /`, `_xpack/usage`, the active
//!   keys, `_remote/info`, `_cluster/settings`), each part possibly missing with the reason; and
//!   the rule set, whose check rules (`rules/checks/`) hold what each decision means.
//! - **Out**: a [`DoctorReport`]: one [`Check`] per aspect (passed ones too) and a
//!   [`Diagnosis`] whose findings use the `explain` schema, evidence being the answer's JSON.
//! - **Never**: call the cluster (the caller did), say in Rust what a decision means (that is its
//!   rule's words), or flag what works: a certificate-based remote in sniff mode is fine.
//!
//! Each outcome that is not "ok" is a decision of [`crate::rule::check::DECISIONS`] with its
//! values; the rule bound to it gives the check line, the finding (or note) and its plan.
//!
//! Facts: shared/reference section 4 (remote clusters, `_remote/info`), 2.4 and 6.6 (the API key
//! service setting), 6.5 (the update API and `expiration`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::diagnosis::privileges::format_json;
use crate::diagnosis::{Diagnosis, Evidence, Finding, Note, RenderedStep, Span};
use crate::event::key_metadata::{KeyMetadata, KeyState};
use crate::model::{format_ms, human_duration};
use crate::model::{Class, RemoteMode, RuleClass, Severity, Version};
use crate::rule::check::CheckRule;
use crate::rule::RuleSet;

/// The words of the check lines that are not a decision's (an aspect that passed, a count, a
/// remote's shape), with their fields (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[
    ("doctor.aspect.enabled", &[]),
    ("doctor.aspect.security_off", &[]),
    ("doctor.aspect.unsaid", &["call"]),
    ("doctor.aspect.service_unsaid", &["call"]),
    ("doctor.keys.expiration", &["active", "never", "managed"]),
    ("doctor.part.managed", &["count"]),
    ("doctor.keys.expiring", &["count", "within"]),
    ("doctor.part.owner.realm", &["user", "realm"]),
    ("doctor.part.owner.unknown", &[]),
    ("doctor.remotes.none", &[]),
    (
        "doctor.remote.shape",
        &["model", "mode", "connection", "skip"],
    ),
    ("doctor.part.model.api_key", &[]),
    ("doctor.part.model.certificate", &[]),
    ("doctor.part.connected", &[]),
    ("doctor.part.not_connected", &[]),
    ("doctor.part.connection_unknown", &[]),
    ("doctor.part.skip_unavailable", &["value"]),
];

fn say(code: &str, fields: &[(&'static str, String)]) -> String {
    crate::diagnosis::fact::say_in(WORDS, code, fields)
}

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

/// A decision made, as its rule came out (what `rules test` compares with an example).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub decision: &'static crate::rule::check::Decision,
    pub rule_id: String,
    /// `Note` for a rule of class `note`.
    pub severity: Severity,
    pub values: BTreeMap<String, String>,
}

/// What `doctor` found.
#[derive(Debug, Default)]
pub struct DoctorReport {
    pub cluster: String,
    pub version: Option<String>,
    pub whoami: Option<String>,
    pub checks: Vec<Check>,
    pub diagnosis: Diagnosis,
    /// Every decision, in the order made.
    pub decided: Vec<Decided>,
    /// What several findings of one rule mean together (its `[explain] group`), by rule id,
    /// for the rules that came out.
    pub meanings: BTreeMap<String, String>,
}

/// One decision with what its rule's templates need.
struct Fired {
    code: &'static str,
    values: BTreeMap<String, String>,
    parts: BTreeSet<&'static str>,
    flags: BTreeSet<&'static str>,
    /// The decision raises the severity to `error` (when its decision `escalates`).
    urgent: bool,
    /// The answer shown as evidence.
    evidence: Option<Shown>,
    key: Option<KeyMetadata>,
    remote: Option<String>,
    /// The cluster's version, for a finding about its configuration.
    version: Option<Version>,
}

/// An answer shown as evidence: the call, the JSON, and what it points at (anchor, value after
/// it, the name of its label in the rule).
struct Shown {
    call: String,
    value: Value,
    points: Vec<(String, String, &'static str)>,
}

impl Fired {
    fn new(code: &'static str) -> Self {
        Self {
            code,
            values: BTreeMap::new(),
            parts: BTreeSet::new(),
            flags: BTreeSet::new(),
            urgent: false,
            evidence: None,
            key: None,
            remote: None,
            version: None,
        }
    }

    fn value(mut self, name: &str, value: impl Into<String>) -> Self {
        self.values.insert(name.to_string(), value.into());
        self
    }

    fn part(mut self, name: &'static str, on: bool) -> Self {
        if on {
            self.parts.insert(name);
        }
        self
    }

    fn flag(mut self, name: &'static str, on: bool) -> Self {
        if on {
            self.flags.insert(name);
        }
        self
    }

    fn shows(mut self, call: &str, value: Value, labels: &[(&str, &str, &'static str)]) -> Self {
        self.evidence = Some(Shown {
            call: call.to_string(),
            value,
            points: labels
                .iter()
                .map(|(a, n, l)| (a.to_string(), n.to_string(), *l))
                .collect(),
        });
        self
    }
}

/// Run every check on `facts`, in the words of `rules`' check rules.
pub fn examine(facts: &ClusterFacts, rules: &RuleSet) -> DoctorReport {
    let mut doctor = Doctor {
        rules,
        report: DoctorReport {
            cluster: facts.label.clone(),
            version: facts.version.map(|v| v.to_string()),
            whoami: facts.whoami.clone(),
            ..Default::default()
        },
    };
    security_checks(facts, &mut doctor);
    key_checks(facts, &mut doctor);
    remote_checks(facts, &mut doctor);
    let mut report = doctor.report;
    // A note another finding says better (with a plan) is left out.
    let fired: BTreeSet<String> = report
        .diagnosis
        .findings
        .iter()
        .map(|f| f.rule_id.clone())
        .collect();
    report.diagnosis.notes.retain(|n| {
        n.rule_id
            .as_deref()
            .and_then(|id| rules.check(id))
            .is_none_or(|r| !r.superseded_by.iter().any(|s| fired.contains(s)))
    });
    report.meanings = fired
        .iter()
        .filter_map(|id| Some((id.clone(), rules.check(id)?.explain_group.clone()?)))
        .collect();
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

struct Doctor<'a> {
    rules: &'a RuleSet,
    report: DoctorReport,
}

impl Doctor<'_> {
    fn check(&mut self, id: &str, title: &str, status: Status, text: String) {
        self.report.checks.push(Check {
            id: id.to_string(),
            title: title.to_string(),
            status,
            text,
        });
    }

    fn note(&mut self, message: String) {
        self.report.diagnosis.notes.push(Note {
            rule_id: None,
            message,
            source: None,
            line: None,
            count: 1,
        });
    }

    /// Say what `fired` means in its rule's words: a finding or a note. Returns the check's
    /// status and the rule's words for the check line.
    fn fire(&mut self, fired: Fired) -> (Status, String) {
        let Some(rule) = self.rules.check_for(fired.code) else {
            // Not reachable with a loaded set (every decision has a rule), but never silent.
            self.note(format!(
                "doctor decided `{}` but no check rule says what it means",
                fired.code
            ));
            return (Status::Warning, fired.code.to_string());
        };
        let severity = match rule.class {
            RuleClass::Note => Severity::Note,
            _ if fired.urgent && rule.decision.escalates => Severity::Error,
            _ => rule.severity,
        };
        let status = if severity == Severity::Error {
            Status::Error
        } else {
            Status::Warning
        };
        let render =
            |t: &crate::rule::template::Template| rule.render(t, &fired.values, &fired.parts);
        let line = rule.check.as_ref().map(&render).unwrap_or_default();
        self.report.decided.push(Decided {
            decision: rule.decision,
            rule_id: rule.id.clone(),
            severity,
            values: fired.values.clone(),
        });
        let title = render(&rule.title);
        let RuleClass::Finding(class) = rule.class else {
            self.report.diagnosis.notes.push(Note {
                rule_id: Some(rule.id.clone()),
                message: title,
                source: None,
                line: None,
                count: 1,
            });
            return (status, line);
        };
        let mut f = finding(
            class,
            severity,
            &rule.id,
            title,
            rule.explain.as_ref().map(&render).unwrap_or_default(),
        );
        f.remediation = steps(rule, &fired, &render);
        f.references = rule
            .references
            .iter()
            .map(|r| (r.title.clone(), r.url.clone()))
            .collect();
        if let Some(Shown {
            call,
            value,
            points,
        }) = &fired.evidence
        {
            let labels: Vec<(&str, &str, String)> = points
                .iter()
                .map(|(anchor, needle, name)| {
                    let label = rule.labels.get(*name).map(&render).unwrap_or_default();
                    (anchor.as_str(), needle.as_str(), label)
                })
                .collect();
            f.evidence = vec![evidence(call, value, &labels)];
        }
        if let Some(key) = &fired.key {
            f.key_id = Some(key.id.clone());
            f.key_id_source = Some(crate::model::KeyIdSource::ClusterListing);
            f.key.key_name = key.name.clone();
            f.key.user = key.username.clone();
            f.key.realm = key.realm.clone();
            f.key.metadata = Some(key.clone());
            f.key.metadata_state = Some(crate::model::KeyState::Active);
        }
        if let Some(alias) = &fired.remote {
            f.observed.remote = Some(alias.clone());
        }
        f.observed.version = fired.version.map(crate::model::KnownVersion::Exact);
        self.report.diagnosis.findings.push(f);
        (status, line)
    }
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
        activity: None,
        groups: Vec::new(),
        differential: None,
        dead_ends: Vec::new(),
    }
}

/// The rule's steps whose flag the decision set, rendered.
fn steps(
    rule: &CheckRule,
    fired: &Fired,
    render: &dyn Fn(&crate::rule::template::Template) -> String,
) -> Vec<RenderedStep> {
    rule.remediation
        .iter()
        .filter(|s| s.only_if.as_deref().is_none_or(|f| fired.flags.contains(f)))
        .map(|s| RenderedStep {
            when: Vec::new(),
            path: None,
            on: crate::model::RunsOn::Cluster,
            later: false,
            run_as: s.run_as,
            title: render(&s.title),
            text: s.text.as_ref().map(render).filter(|t| !t.is_empty()),
            request: s.request.as_ref().map(render).filter(|t| !t.is_empty()),
            version_note: s.note.as_ref().map(render).filter(|t| !t.is_empty()),
            diff: None,
        })
        .collect()
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

fn security_checks(facts: &ClusterFacts, d: &mut Doctor<'_>) {
    let (call, security) = match &facts.security {
        Ok((call, security)) => (call.as_str(), security),
        Err(why) => {
            for (id, title) in [
                ("security", "security"),
                ("tls_http", "TLS on HTTP"),
                ("api_key_service", "API key service"),
            ] {
                d.check(id, title, Status::Unknown, why.clone());
            }
            return;
        }
    };
    let v7 = facts.version.is_some_and(|v| v.0 < 8);
    if flag(security, "/enabled") == Some(false) {
        let (status, line) = d.fire(Fired::new("security.disabled").value("call", call).shows(
            call,
            json!({"security": {"enabled": false}}),
            &[("\"enabled\": ", "false", "off")],
        ));
        d.check("security", "security", status, line);
        for (id, title) in [
            ("tls_http", "TLS on HTTP"),
            ("api_key_service", "API key service"),
        ] {
            d.check(
                id,
                title,
                Status::Unknown,
                say("doctor.aspect.security_off", &[]),
            );
        }
        return;
    }
    d.check(
        "security",
        "security",
        Status::Ok,
        say("doctor.aspect.enabled", &[]),
    );

    let http_tls = flag(security, "/ssl/http/enabled");
    let service = flag(security, "/api_key_service/enabled");
    match http_tls {
        Some(true) => d.check(
            "tls_http",
            "TLS on HTTP",
            Status::Ok,
            say("doctor.aspect.enabled", &[]),
        ),
        Some(false) => {
            let (status, line) = d.fire(
                Fired::new("tls_http.off")
                    .part("behind_proxy", facts.https)
                    .part("between_proxy", facts.https),
            );
            d.check("tls_http", "TLS on HTTP", status, line);
        }
        None => d.check(
            "tls_http",
            "TLS on HTTP",
            Status::Unknown,
            say("doctor.aspect.unsaid", &[("call", call.to_string())]),
        ),
    }
    match service {
        Some(true) => d.check(
            "api_key_service",
            "API key service",
            Status::Ok,
            say("doctor.aspect.enabled", &[]),
        ),
        None => d.check(
            "api_key_service",
            "API key service",
            Status::Unknown,
            say(
                "doctor.aspect.service_unsaid",
                &[("call", call.to_string())],
            ),
        ),
        Some(false) => {
            let tls_off = http_tls == Some(false);
            let mut shown = json!({"security": {"api_key_service": {"enabled": false}}});
            let mut labels = vec![("\"api_key_service\": ", "false", "service")];
            if tls_off {
                shown["security"]["ssl"] = json!({"http": {"enabled": false}});
                labels.push(("\"http\": ", "false", "http"));
            }
            let (status, line) = d.fire(
                Fired::new("api_key_service.disabled")
                    .value("call", call)
                    .part("service_follows_tls", tls_off && v7)
                    .flag("tls_off", tls_off)
                    .shows(call, shown, &labels),
            );
            d.check("api_key_service", "API key service", status, line);
        }
    }
    match flag(security, "/audit/enabled") {
        Some(false) => {
            let (status, line) = d.fire(Fired::new("audit.off"));
            d.check("audit", "audit log", status, line);
        }
        Some(true) => d.check(
            "audit",
            "audit log",
            Status::Ok,
            say("doctor.aspect.enabled", &[]),
        ),
        None => {}
    }
}

fn owner(key: &KeyMetadata) -> String {
    match (&key.username, &key.realm) {
        (Some(u), Some(r)) => say(
            "doctor.part.owner.realm",
            &[("user", u.clone()), ("realm", r.clone())],
        ),
        (Some(u), None) => u.clone(),
        _ => say("doctor.part.owner.unknown", &[]),
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

fn key_checks(facts: &ClusterFacts, d: &mut Doctor<'_>) {
    let (keys, notes) = match &facts.keys {
        Ok(k) => k,
        Err(why) => {
            d.check(
                "key_expiration",
                "key expiration",
                Status::Unknown,
                why.clone(),
            );
            d.check(
                "keys_expiring",
                "keys expiring",
                Status::Unknown,
                why.clone(),
            );
            return;
        }
    };
    for n in notes {
        d.note(n.clone());
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
            None if key.managed_by().is_some() => managed += 1,
            None => never.push(*key),
            Some(e) if e - now <= facts.within_ms => soon.push(*key),
            Some(_) => {}
        }
    }
    let managed_text = if managed > 0 {
        say("doctor.part.managed", &[("count", managed.to_string())])
    } else {
        String::new()
    };
    d.check(
        "key_expiration",
        "key expiration",
        if never.is_empty() {
            Status::Ok
        } else {
            Status::Warning
        },
        say(
            "doctor.keys.expiration",
            &[
                ("active", active.len().to_string()),
                ("never", never.len().to_string()),
                ("managed", managed_text),
            ],
        ),
    );
    d.check(
        "keys_expiring",
        "keys expiring",
        if soon.is_empty() {
            Status::Ok
        } else {
            Status::Warning
        },
        say(
            "doctor.keys.expiring",
            &[
                ("count", soon.len().to_string()),
                ("within", facts.within.clone()),
            ],
        ),
    );
    let can_update = facts.version.is_none_or(|v| v >= Version(8, 13, 0));
    for key in never {
        let mut fired = key_fired("key.no_expiration", key, can_update, facts.version).shows(
            "GET /_security/api_key",
            key_value(key),
            &[
                ("\"id\": ", &format!("\"{}\"", key.id), "key"),
                ("\"invalidated\": ", "false", "decisive"),
            ],
        );
        if let Some(c) = key.creation_ms {
            fired = fired
                .value("ago", human_duration(now - c))
                .value("created", format_ms(c))
                .part("created_ago", true);
        }
        d.fire(fired);
    }
    for key in soon {
        let expiration = key.expiration_ms.unwrap_or_default();
        let left = expiration - now;
        let mut fired = key_fired("key.expiring_soon", key, can_update, facts.version)
            .value("left", human_duration(left))
            .value(
                "when",
                format!("{} (in {})", format_ms(expiration), human_duration(left)),
            )
            .shows(
                "GET /_security/api_key",
                key_value(key),
                &[
                    ("\"id\": ", &format!("\"{}\"", key.id), "key"),
                    ("\"expiration\": ", &expiration.to_string(), "decisive"),
                ],
            );
        fired.urgent = left <= 86_400_000;
        d.fire(fired);
    }
}

/// A per-key decision: the key's label and owner, and whether the update API can give it an
/// expiration in place (owner, 8.13+, REST keys).
fn key_fired(
    code: &'static str,
    key: &KeyMetadata,
    can_update: bool,
    version: Option<Version>,
) -> Fired {
    let rest = key.key_type != Some(crate::model::KeyType::CrossCluster);
    let mut fired = Fired::new(code)
        .value("key_id", key.id.clone())
        .value("key", key_label(key))
        .value("owner", owner(key))
        .flag("can_update", rest && can_update)
        .part("too_old", rest && !can_update)
        .part("this_cluster", version.is_some());
    if let Some(v) = version {
        fired = fired.value("version", v.to_string());
    }
    fired.key = Some(key.clone());
    fired
}

fn key_label(key: &KeyMetadata) -> String {
    match &key.name {
        Some(n) => format!("{n} ({})", key.id),
        None => key.id.clone(),
    }
}

/// One remote cluster as `_remote/info` and the settings describe it.
#[derive(Debug, Clone, Default)]
struct Remote {
    alias: String,
    mode: RemoteMode,
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
                .and_then(RemoteMode::parse)
                .unwrap_or(if entry.get("proxy_address").is_some() {
                    RemoteMode::Proxy
                } else {
                    RemoteMode::Sniff
                });
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
                            mode: RemoteMode::Sniff,
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
                        "mode" => {
                            r.mode = value
                                .as_str()
                                .and_then(RemoteMode::parse)
                                .unwrap_or_default();
                        }
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

fn remote_checks(facts: &ClusterFacts, d: &mut Doctor<'_>) {
    let info = match &facts.remote_info {
        Ok(v) => Some(v),
        Err(why) => {
            d.check("remotes", "remote clusters", Status::Unknown, why.clone());
            None
        }
    };
    let settings = facts.settings.as_ref().ok();
    let list = remotes(info, settings);
    if list.is_empty() {
        if info.is_some() {
            d.check(
                "remotes",
                "remote clusters",
                Status::Ok,
                say("doctor.remotes.none", &[]),
            );
        }
        return;
    }
    for r in list {
        remote_check(facts, d, &r);
    }
}

fn remote_check(facts: &ClusterFacts, d: &mut Doctor<'_>, r: &Remote) {
    let id = format!("remote:{}", r.alias);
    let title = format!("remote cluster {}", r.alias);
    let model = if r.credentials {
        "doctor.part.model.api_key"
    } else {
        "doctor.part.model.certificate"
    };
    let conn = match r.connected {
        Some(true) => "doctor.part.connected",
        Some(false) => "doctor.part.not_connected",
        None => "doctor.part.connection_unknown",
    };
    let skip = r
        .skip_unavailable
        .map(|s| say("doctor.part.skip_unavailable", &[("value", s.to_string())]))
        .unwrap_or_default();
    let shape = say(
        "doctor.remote.shape",
        &[
            ("model", say(model, &[])),
            ("mode", r.mode.as_str().to_string()),
            ("connection", say(conn, &[])),
            ("skip", skip),
        ],
    );
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
    let creds = ("\"cluster_credentials\"", "", "credentials");
    let mode = ("\"mode\": ", "\"sniff\"", "mode");
    let connection = ("\"connected\": ", "false", "connection");

    if !r.in_info {
        let (status, line) = d.fire(
            Fired::new("remote.not_in_info")
                .value("alias", alias.clone())
                .value("scope", scope),
        );
        d.check(&id, &title, status, line);
        return;
    }

    let proxy_request = || {
        let mut settings = Map::new();
        settings.insert(
            format!("cluster.remote.{alias}.mode"),
            json!(RemoteMode::Proxy.as_str()),
        );
        for s in ["seeds", "node_connections"] {
            if r.sniff_settings.iter().any(|x| x == s) || s == "seeds" {
                settings.insert(format!("cluster.remote.{alias}.{s}"), Value::Null);
            }
        }
        settings.insert(
            format!("cluster.remote.{alias}.proxy_address"),
            json!(format!("{first_host}:9443")),
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
    let in_yml = r.scope.is_none();
    let fired = if let (true, Some(address)) = (r.credentials, &on_9300) {
        Some(
            Fired::new("remote.api_key_on_transport_port")
                .value("address", address.clone())
                .value("proxy_request", proxy_request())
                .part("in_yml", in_yml)
                .shows(call, r.entry.clone(), &[("", address, "port"), creds]),
        )
    } else if let (false, Some(address)) = (r.credentials, &on_9443) {
        Some(
            Fired::new("remote.port_without_credentials")
                .value("address", address.clone())
                .shows(call, r.entry.clone(), &[("", address, "port")]),
        )
    } else if r.credentials && r.mode == RemoteMode::Sniff {
        let connected = r.connected == Some(true);
        let mut labels = vec![creds, mode];
        if !connected {
            labels.push(connection);
        }
        let mut fired = Fired::new("remote.api_key_sniff")
            .value("proxy_request", proxy_request())
            .part("disconnected", !connected)
            .part("not_connected", !connected)
            .part("in_yml", in_yml)
            .part("sniff_in_yml", r.sniff_settings.is_empty() && in_yml)
            .shows(call, r.entry.clone(), &labels);
        fired.urgent = !connected;
        Some(fired)
    } else if r.credentials && r.connected == Some(false) {
        let mut fired = Fired::new("remote.api_key_not_connected")
            .part("via", !r.addresses.is_empty())
            .shows(call, r.entry.clone(), &[creds, connection]);
        if let Some(a) = r.addresses.first() {
            fired = fired.value("address", a.clone());
        }
        Some(fired)
    } else if r.connected == Some(false) {
        // The certificate model: not an API-key problem, said as a note.
        Some(Fired::new("remote.certificate_not_connected"))
    } else {
        None
    };
    let (status, text) = match fired {
        Some(mut fired) => {
            fired = fired.value("alias", alias.clone());
            fired.remote = Some(alias.clone());
            fired.version = facts.version;
            let (status, line) = d.fire(fired);
            if line.is_empty() {
                (status, shape)
            } else {
                (status, format!("{shape}: {line}"))
            }
        }
        None => (Status::Ok, shape),
    };
    d.check(&id, &title, status, text);
}

/// Run every check rule's examples through the decisions (`keydoctor rules test`): the cluster
/// answers an example gives, and the severity (or `none`) its rule must come out with.
pub fn run_examples(rules: &RuleSet) -> Vec<crate::rule::selftest::CaseResult> {
    use crate::rule::selftest::{CaseResult, Outcome};
    let mut results = Vec::new();
    for rule in &rules.checks {
        for example in &rule.examples {
            let outcome = match example_facts(example) {
                Err(why) => Outcome::Unrunnable { why },
                Ok(facts) => {
                    let report = examine(&facts, rules);
                    let mine: Vec<&Decided> = report
                        .decided
                        .iter()
                        .filter(|d| d.rule_id == rule.id)
                        .collect();
                    let fields_hold = |d: &Decided| {
                        example
                            .fields
                            .iter()
                            .all(|(k, v)| d.values.get(k) == Some(v))
                    };
                    match (example.expect, mine.first()) {
                        (None, None) => Outcome::Ok,
                        (None, Some(d)) => Outcome::Noisy {
                            captures: d.values.clone(),
                        },
                        (Some(_), None) => Outcome::Missing,
                        (Some(want), Some(first)) => {
                            if mine.iter().any(|d| d.severity == want && fields_hold(d)) {
                                Outcome::Ok
                            } else if !mine.iter().any(|d| d.severity == want) {
                                Outcome::WrongStatus {
                                    expected: want.as_str().to_string(),
                                    actual: first.severity.as_str().to_string(),
                                }
                            } else {
                                Outcome::WrongCaptures {
                                    expected: example.fields.clone(),
                                    actual: first.values.clone(),
                                }
                            }
                        }
                    }
                }
            };
            results.push(CaseResult {
                rule: rule.id.clone(),
                source: rule.source.clone(),
                example: example.name.clone(),
                outcome,
            });
        }
    }
    results
}

/// What a cluster answering as `example` says does would give doctor; a call the example does
/// not answer is "not checked".
fn example_facts(example: &crate::rule::check::CheckExample) -> Result<ClusterFacts, String> {
    let within = example.within.as_deref().unwrap_or("14d");
    let within_ms = crate::diagnosis::timeline::parse_time_value(within)
        .ok_or_else(|| format!("`within = \"{within}\"` is not a time value (14d, 36h)"))?;
    let answer = |call: &str| {
        example
            .answers
            .get(call)
            .cloned()
            .ok_or_else(|| format!("not checked: the example does not answer {call}"))
    };
    let security = match (
        example.answers.get("GET /_xpack/usage"),
        example.answers.get("GET /_xpack"),
    ) {
        (Some(usage), _) if usage.get("security").is_some() => {
            Ok(("GET /_xpack/usage".to_string(), usage["security"].clone()))
        }
        (_, Some(info)) if info.pointer("/features/security").is_some() => Ok((
            "GET /_xpack".to_string(),
            info["features"]["security"].clone(),
        )),
        _ => Err("not checked: the example does not answer GET /_xpack/usage".to_string()),
    };
    Ok(ClusterFacts {
        label: "an example cluster".into(),
        https: false,
        version: example.version,
        whoami: None,
        security,
        keys: answer("GET /_security/api_key").map(|a| {
            let keys = crate::event::key_metadata::from_response(&a)
                .into_iter()
                .filter(|k| !k.invalidated)
                .collect();
            (keys, Vec::new())
        }),
        remote_info: answer("GET /_remote/info"),
        settings: answer("GET /_cluster/settings"),
        // 2026-01-01T00:00:00Z.
        now_ms: example.now_ms.unwrap_or(1_767_225_600_000),
        within: within.to_string(),
        within_ms,
    })
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

    fn examine(facts: &ClusterFacts) -> DoctorReport {
        let (rules, _) = crate::rule::load(None).expect("the bundled rules load");
        super::examine(facts, &rules)
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
        // TLS is off too, but the service's finding says so with its plan: no second note.
        let notes: Vec<_> = r
            .diagnosis
            .notes
            .iter()
            .filter_map(|n| n.rule_id.as_deref())
            .collect();
        assert_eq!(notes, vec!["doctor-audit-off"]);
        assert_eq!(
            r.diagnosis.findings[0].remediation[0].title,
            "Enable TLS on the HTTP layer (recommended)"
        );
        let tls = r.checks.iter().find(|c| c.id == "tls_http").unwrap();
        assert_eq!(
            (tls.status, tls.text.as_str()),
            (
                Status::Warning,
                "off on the nodes; keydoctor reached them over https, so a proxy or load balancer terminates TLS in front and the hop to the nodes is plain"
            )
        );
        let mut on = facts();
        on.security = Ok((
            "GET /_xpack/usage".into(),
            json!({"enabled": true, "ssl": {"http": {"enabled": false}}, "api_key_service": {"enabled": true}}),
        ));
        let tls_only = examine(&on);
        let notes: Vec<_> = tls_only
            .diagnosis
            .notes
            .iter()
            .filter_map(|n| n.rule_id.as_deref())
            .collect();
        assert_eq!(notes, vec!["doctor-http-tls-off"]);
        assert!(tls_only.diagnosis.notes[0]
            .message
            .contains("between the TLS-terminating proxy and the nodes"));
        let exp = r.checks.iter().find(|c| c.id == "key_expiration").unwrap();
        assert!(exp.text.contains("1 managed"), "{}", exp.text);
    }
}
