//! `keydoctor can ID REQUEST`: may this key make this request? An offline evaluation of the
//! key's `role_descriptors` ∩ its owner's snapshot (`limited_by`) with the privilege atlas for
//! the cluster's version, as Elasticsearch's RBAC engine decides it.
//!
//! - **In**: one key's [`KeyMetadata`], a [`Request`] (a REST call or an action and targets),
//!   the version.
//! - **Out**: a [`CanReport`]: the verdict, the entry that decided, the evaluation trace, the
//!   smallest patch that would allow the request, and what decides an undecidable one.
//! - **Never**: call a cluster, or say "allowed" when a fact it needs is missing.
//!
//! The semantics (reference sections 3 and 7, `RBACEngine`, `IndicesPermission`): a key may do
//! what both its own descriptors and `limited_by` grant; a key without descriptors of its own has
//! `limited_by` alone; a cross-cluster key has no `limited_by`. An index entry grants an action on
//! a target when one of its `names` patterns matches the target (or the data stream a backing
//! index belongs to), the target is not restricted or the entry sets
//! `allow_restricted_indices`, and one of its privileges covers the action for the component the
//! target names (`::failures` from 8.19/9.1). A remote target (`alias:index`) is granted by a
//! `remote_indices` entry whose `clusters` match the alias.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::diagnosis::atlas::{atlas, effective, pattern_covers_action, Atlas};
use crate::diagnosis::privileges::{descriptors_diff, format_json, pattern_matches};
use crate::event::key_metadata::KeyMetadata;
use crate::model::{KeyType, PrivilegeKind, RunAs, Version};

/// The sentences this command says, with their fields (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[
    ("can.verdict.allowed", &["action", "on"]),
    ("can.verdict.denied_descriptors", &["action", "on"]),
    ("can.verdict.denied_owner", &["action", "on"]),
    ("can.verdict.denied_remote", &["action", "on", "cluster"]),
    ("can.verdict.undecidable", &["action", "on"]),
    ("can.why.no_limited_by", &["key_id"]),
    ("can.why.inherits_unknown", &["key_id"]),
    ("can.why.dls", &["target"]),
    ("can.why.remote_model", &["cluster"]),
    ("can.why.restricted", &["target", "where"]),
    ("can.why.selector_unsupported", &["version"]),
    ("can.why.wildcard", &["target"]),
    ("can.why.own_keys", &["privilege"]),
    ("can.why.owner_too", &[]),
    ("can.note.owner_role", &["role", "name", "owner"]),
    ("can.why.no_descriptors", &[]),
    ("can.note.filtered", &["target"]),
    ("can.note.dls_patch", &["id", "target"]),
    ("can.patch.only_if_hidden", &[]),
    ("can.check_again", &["key_id", "request"]),
    ("can.note.version_assumed", &["version"]),
    ("can.note.update_refreshes", &[]),
    ("can.note.no_update_api", &["version"]),
    ("can.note.cross_cluster_key", &[]),
    (
        "can.trace.granted",
        &["where", "names", "privileges", "target"],
    ),
    ("can.trace.names_miss", &["where", "names", "target"]),
    ("can.trace.restricted", &["where", "names", "target"]),
    (
        "can.trace.privileges_miss",
        &["where", "privileges", "action"],
    ),
    (
        "can.trace.component_miss",
        &["where", "privileges", "target"],
    ),
    (
        "can.trace.unknown_privilege",
        &["where", "privilege", "version"],
    ),
    (
        "can.trace.cluster_granted",
        &["where", "privileges", "action"],
    ),
    ("can.trace.cluster_miss", &["where", "privileges", "action"]),
    ("can.trace.side_empty", &["side"]),
    (
        "can.trace.any_index_granted",
        &["where", "privileges", "action"],
    ),
    (
        "can.trace.any_index_miss",
        &["where", "privileges", "action"],
    ),
    ("can.on.any_index", &[]),
    ("can.confirm.granted", &["var", "action", "on"]),
    ("can.confirm.denied", &["var", "action", "on"]),
    ("can.confirm.granted_against", &["var", "action", "on"]),
    ("can.confirm.denied_against", &["var", "action", "on"]),
    ("can.trace.backing", &["target", "stream"]),
];

fn say(code: &str, fields: &[(&'static str, String)]) -> String {
    crate::diagnosis::fact::say_in(WORDS, code, fields)
}

// ---------------------------------------------------------------------------------------------
// The request
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    method: String,
    path: String,
    action: String,
    #[serde(default)]
    doc: bool,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawEndpoints {
    endpoint: Vec<RawEndpoint>,
}

fn endpoints() -> &'static [RawEndpoint] {
    static TABLE: OnceLock<Vec<RawEndpoint>> = OnceLock::new();
    TABLE.get_or_init(|| {
        match toml::from_str::<RawEndpoints>(include_str!("../../atlas/endpoints.toml")) {
            Ok(t) => t.endpoint,
            Err(e) => panic!("the embedded endpoint table is invalid: {e}"),
        }
    })
}

/// One target of an index request, as written and as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// As the request names it (`remote:logs-*`, `logs-app::failures`).
    pub written: String,
    /// The remote cluster alias, for `alias:index`.
    pub cluster: Option<String>,
    /// The index, alias or data stream name (or pattern), without alias and selector.
    pub name: String,
    /// Whether it names the failure store (`::failures`, or a `.fs-` backing index).
    pub failures: bool,
    /// The data stream a backing index (`.ds-NAME-DATE-NNNNNN`, `.fs-…`) belongs to.
    pub stream: Option<String>,
}

impl Target {
    pub fn parse(written: &str) -> Self {
        let mut rest = written.trim();
        let mut failures = false;
        if let Some((name, selector)) = rest.rsplit_once("::") {
            failures = selector == "failures";
            rest = name;
        }
        let (cluster, name) = match rest.split_once(':') {
            Some((c, n)) if !c.is_empty() && !n.is_empty() => (Some(c.to_string()), n),
            _ => (None, rest),
        };
        let stream = backing_stream(name);
        if name.starts_with(".fs-") {
            failures = true;
        }
        Self {
            written: written.trim().to_string(),
            cluster,
            name: name.to_string(),
            failures,
            stream,
        }
    }

    fn is_wildcard(&self) -> bool {
        self.name.contains('*') || self.name.starts_with('-')
    }
}

/// The data stream of a backing index: `.ds-<stream>-<yyyy.MM.dd>-<generation>` (and `.fs-` for
/// failure store indices, 8.19/9.1+).
fn backing_stream(name: &str) -> Option<String> {
    let rest = name
        .strip_prefix(".ds-")
        .or_else(|| name.strip_prefix(".fs-"))?;
    let (head, generation) = rest.rsplit_once('-')?;
    if generation.len() < 6 || !generation.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (stream, date) = head.rsplit_once('-')?;
    let date_ok = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'.'
            } else {
                b.is_ascii_digit()
            }
        });
    (date_ok && !stream.is_empty()).then(|| stream.to_string())
}

/// What is asked: an action on targets (none for a cluster action).
#[derive(Debug, Clone)]
pub struct Request {
    /// As the user wrote it.
    pub written: String,
    pub action: String,
    pub targets: Vec<Target>,
    /// The request reads or writes one document by id.
    pub doc: bool,
    /// That document's id, when the path names it.
    pub doc_id: Option<String>,
    /// What else the request may need (from the endpoint table).
    pub note: Option<String>,
}

/// Why a request could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError(pub String);

impl Request {
    /// `METHOD /path[?query]`, or `ACTION [TARGET[,TARGET]]`.
    pub fn parse(text: &str, index: Option<&str>) -> Result<Self, RequestError> {
        let written = text.trim().to_string();
        let mut words = written.split_whitespace();
        let first = words.next().unwrap_or("");
        let second = words.next();
        if words.next().is_some() {
            return Err(RequestError(format!(
                "`{written}`: expected `METHOD /path` or `ACTION [INDEX]`; quote the request as one argument"
            )));
        }
        let method = first.to_ascii_uppercase();
        let is_method = matches!(
            method.as_str(),
            "GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "PATCH"
        );
        if is_method {
            let path = second.unwrap_or("/");
            return Self::from_rest(&written, &method, path);
        }
        if first.starts_with('/') && second.is_none() {
            return Self::from_rest(&written, "GET", first);
        }
        if !(first.starts_with("indices:")
            || first.starts_with("cluster:")
            || first.starts_with("internal:"))
        {
            return Err(RequestError(format!(
                "`{written}`: neither a REST call (`POST /logs-app/_bulk`) nor an action name (`indices:data/write/bulk logs-app`)"
            )));
        }
        let targets = second
            .or(index)
            .map(|t| {
                t.split(',')
                    .filter(|s| !s.is_empty())
                    .map(Target::parse)
                    .collect()
            })
            .unwrap_or_default();
        let action = first.to_string();
        Ok(Self {
            written,
            action,
            targets,
            doc: false,
            doc_id: None,
            note: None,
        })
    }

    fn from_rest(written: &str, method: &str, path: &str) -> Result<Self, RequestError> {
        let path = path.split(['?', '#']).next().unwrap_or("/");
        let given: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        for e in endpoints() {
            if !e.method.split('|').any(|m| m == method) {
                continue;
            }
            let want: Vec<&str> = e.path.split('/').filter(|s| !s.is_empty()).collect();
            if want.len() != given.len() {
                continue;
            }
            let mut targets = Vec::new();
            let mut doc_id = None;
            let fits = want.iter().zip(&given).all(|(w, g)| match *w {
                "{index}" if !g.starts_with('_') => {
                    targets = percent_decode(g)
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(Target::parse)
                        .collect();
                    true
                }
                "{index}" => false,
                "{id}" => {
                    doc_id = Some(percent_decode(g));
                    true
                }
                lit => lit == *g,
            });
            if fits {
                return Ok(Self {
                    written: written.to_string(),
                    action: e.action.clone(),
                    targets,
                    doc: e.doc,
                    doc_id,
                    note: e.note.clone(),
                });
            }
        }
        Err(RequestError(format!(
            "`{method} {path}` is not in keydoctor's endpoint table (atlas/endpoints.toml): name the action instead, e.g. `indices:data/read/search logs-*` (the audit log's `action` field, or the denial's `action [...]`)"
        )))
    }

    pub fn kind(&self) -> PrivilegeKind {
        atlas().kind_of(&self.action)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// The answer
// ---------------------------------------------------------------------------------------------

/// Which set of descriptors an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescriptorSide {
    /// The key's own `role_descriptors`.
    Key,
    /// The owner's snapshot, `limited_by`.
    Owner,
}

impl DescriptorSide {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Key => "role_descriptors",
            Self::Owner => "limited_by",
        }
    }
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    DeniedByDescriptors,
    DeniedByOwner,
    DeniedByRemoteIndices,
    Undecidable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::DeniedByDescriptors => "denied_by_descriptors",
            Self::DeniedByOwner => "denied_by_owner",
            Self::DeniedByRemoteIndices => "denied_by_remote_indices",
            Self::Undecidable => "undecidable",
        }
    }

    pub fn is_denied(self) -> bool {
        matches!(
            self,
            Self::DeniedByDescriptors | Self::DeniedByOwner | Self::DeniedByRemoteIndices
        )
    }
}

/// A descriptor entry, as the answer points at it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub side: DescriptorSide,
    pub role: String,
    /// `indices[0]`, `remote_indices[1]`, `cluster`.
    pub field: String,
    pub value: Value,
}

impl Entry {
    pub fn path(&self) -> String {
        format!("{}.{}.{}", self.side.as_str(), self.role, self.field)
    }
}

/// The smallest change that would allow the request.
#[derive(Debug, Clone)]
pub struct Patch {
    pub side: DescriptorSide,
    /// The descriptors before and after (the whole set of that side).
    pub before: Value,
    pub after: Value,
    pub diff: String,
    /// The privileges the patch adds (the least of the atlas's list for this version).
    pub privilege: String,
    /// The requests that apply it, in order, as Dev Tools takes them, with who runs each.
    pub requests: Vec<(RunAs, String)>,
    /// What must hold before it is applied (the deciding step's answer), when anything must.
    pub only_if: Option<String>,
}

/// The evaluation of one request.
#[derive(Debug, Clone)]
pub struct CanReport {
    pub key_id: String,
    pub key_name: Option<String>,
    pub version: Version,
    pub version_given: bool,
    pub request: Request,
    pub verdict: Verdict,
    /// One sentence: the verdict in words.
    pub summary: String,
    /// What would decide an undecidable answer, or why a denial is certain.
    pub reasons: Vec<String>,
    /// The entry that decided (the grant for "allowed", the nearest miss for a denial).
    pub deciding: Option<Entry>,
    /// Every entry looked at, in order.
    pub trace: Vec<String>,
    /// One patch per side that denies (both when the owner's snapshot lacks it too).
    pub patches: Vec<Patch>,
    /// The least privilege that grants the action in this version (the atlas's first).
    pub least: Option<String>,
    /// The privileges that grant the action, least first.
    pub granted_by: Vec<String>,
    pub notes: Vec<String>,
    /// How to see that the patch worked, once applied.
    pub check: Option<String>,
    /// A request that fetches what is missing, when something is, and who runs it.
    pub fetch: Option<(RunAs, String)>,
    /// What the cluster said when asked with the key itself (`--with-key-env`): one answer
    /// per local target (one for a cluster action).
    pub confirmations: Vec<Confirmation>,
}

/// `POST /_security/user/_has_privileges` sent with the key: whether it holds the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// The index asked about; `None` for a cluster action.
    pub target: Option<String>,
    pub granted: bool,
    /// The environment variable the key came from.
    pub var: String,
}

impl CanReport {
    /// The cluster's answer over every target asked: `None` when it was not asked.
    pub fn cluster_grants(&self) -> Option<bool> {
        (!self.confirmations.is_empty()).then(|| self.confirmations.iter().all(|c| c.granted))
    }

    /// Whether the cluster's answer differs from the atlas's (the cluster's wins).
    pub fn cluster_disagrees(&self) -> bool {
        match self.cluster_grants() {
            Some(granted) => granted != (self.verdict == Verdict::Allowed),
            None => false,
        }
    }

    /// What the cluster said, one sentence per target asked.
    pub fn cluster_said(&self) -> Vec<String> {
        let disagrees = self.cluster_disagrees();
        self.confirmations
            .iter()
            .map(|c| {
                let code = match (c.granted, disagrees) {
                    (true, false) => "can.confirm.granted",
                    (false, false) => "can.confirm.denied",
                    (true, true) => "can.confirm.granted_against",
                    (false, true) => "can.confirm.denied_against",
                };
                let on = c
                    .target
                    .as_ref()
                    .map(|t| format!(" on [{t}]"))
                    .unwrap_or_default();
                say(
                    code,
                    &[
                        ("var", c.var.clone()),
                        ("action", self.request.action.clone()),
                        ("on", on),
                    ],
                )
            })
            .collect()
    }
}

/// What one side answers for one target.
#[derive(Debug, Clone)]
enum SideAnswer {
    Granted {
        entry: Entry,
        dls: bool,
        fls: bool,
    },
    /// Granted only for the caller's own keys (`manage_own_api_key`).
    OwnOnly {
        entry: Entry,
    },
    Denied {
        near: Option<Entry>,
    },
}

/// The roles of one side: a map of role name → descriptor, or `limited_by`'s array of them.
fn roles_of(value: &Value) -> Vec<(String, &Value)> {
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v)))
            .collect(),
        _ => Vec::new(),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Whether `privilege` (a name or a raw action pattern) covers `action` for the component
/// `failures` names, in version `v`. `Err(name)` for a name version `v` does not know.
fn privilege_covers(
    a: &Atlas,
    kind: PrivilegeKind,
    privilege: &str,
    action: &str,
    failures: bool,
    v: Version,
) -> Result<bool, String> {
    let lower = privilege.to_ascii_lowercase();
    let raw_action = match kind {
        PrivilegeKind::Index => lower.starts_with("indices:") || lower.starts_with("internal:"),
        PrivilegeKind::Cluster => {
            lower.starts_with("cluster:")
                || lower.starts_with("indices:admin/template")
                || lower.starts_with("indices:admin/index_template")
        }
    };
    if raw_action {
        // A raw action in a role is that action followed by anything (actionToPattern), and
        // grants data access only.
        let pattern = if lower.ends_with('*') {
            lower
        } else {
            format!("{lower}*")
        };
        return Ok(!failures && pattern_covers_action(&pattern, action));
    }
    match a.named(kind, &lower) {
        Some(p) if p.exists_in(v) => {
            let component_fits = if failures {
                p.component.reaches_failures()
            } else {
                p.component.reaches_data()
            };
            Ok(component_fits && p.grants(action, v))
        }
        _ => Err(lower),
    }
}

struct Eval<'a> {
    atlas: &'a Atlas,
    action: &'a str,
    version: Version,
    /// The document the request reads or writes by id, when it names one.
    doc_id: Option<&'a str>,
    trace: Vec<String>,
}

impl Eval<'_> {
    /// A privilege name this version does not have: it grants nothing, and the trace says so.
    fn unknown_privilege(&mut self, entry: &Entry, name: String) {
        self.trace.push(say(
            "can.trace.unknown_privilege",
            &[
                ("where", entry.path()),
                ("privilege", name),
                ("version", self.version.to_string()),
            ],
        ));
    }

    /// The first of `privileges` (an entry's list) that grants the action on the data
    /// component, each unknown one said in the trace.
    fn first_granting(
        &mut self,
        kind: PrivilegeKind,
        privileges: &[String],
        entry: &Entry,
    ) -> Option<String> {
        for p in privileges {
            match privilege_covers(self.atlas, kind, p, self.action, false, self.version) {
                Ok(true) => return Some(p.clone()),
                Ok(false) => {}
                Err(name) => self.unknown_privilege(entry, name),
            }
        }
        None
    }

    fn side_cluster(&mut self, side: DescriptorSide, value: &Value) -> SideAnswer {
        let mut near = None;
        for (role, rd) in roles_of(value) {
            let privileges = strings(rd.get("cluster"));
            let entry = Entry {
                side,
                role: role.clone(),
                field: "cluster".into(),
                value: json!(privileges),
            };
            let granted_by = self.first_granting(PrivilegeKind::Cluster, &privileges, &entry);
            let list = privileges.join(", ");
            match granted_by {
                Some(p) => {
                    self.trace.push(say(
                        "can.trace.cluster_granted",
                        &[
                            ("where", entry.path()),
                            ("privileges", list),
                            ("action", self.action.to_string()),
                        ],
                    ));
                    let own = self
                        .atlas
                        .named(PrivilegeKind::Cluster, &p)
                        .is_some_and(|x| x.depends_on_request)
                        && !matches!(
                            self.action,
                            "cluster:admin/xpack/security/api_key/create"
                                | "cluster:admin/xpack/security/api_key/update"
                                | "cluster:admin/xpack/security/api_key/bulk_update"
                        );
                    if own {
                        return SideAnswer::OwnOnly { entry };
                    }
                    return SideAnswer::Granted {
                        entry,
                        dls: false,
                        fls: false,
                    };
                }
                None => {
                    self.trace.push(say(
                        "can.trace.cluster_miss",
                        &[
                            ("where", entry.path()),
                            (
                                "privileges",
                                if list.is_empty() { "none".into() } else { list },
                            ),
                            ("action", self.action.to_string()),
                        ],
                    ));
                    near.get_or_insert(entry);
                }
            }
        }
        SideAnswer::Denied { near }
    }

    /// An index action named without indices (the top-level action of a bulk, mget or
    /// msearch, whose items are checked one by one after it): Elasticsearch grants it when any
    /// index entry's privileges grant the action, whatever its names.
    fn side_any_index(&mut self, side: DescriptorSide, value: &Value) -> SideAnswer {
        let mut near = None;
        for (role, rd) in roles_of(value) {
            let entries = rd
                .get("indices")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, e) in entries.iter().enumerate() {
                let entry = Entry {
                    side,
                    role: role.clone(),
                    field: format!("indices[{i}]"),
                    value: e.clone(),
                };
                let privileges = strings(e.get("privileges"));
                let grants = self
                    .first_granting(PrivilegeKind::Index, &privileges, &entry)
                    .is_some();
                let list = privileges.join(", ");
                if grants {
                    self.trace.push(say(
                        "can.trace.any_index_granted",
                        &[
                            ("where", entry.path()),
                            ("privileges", list),
                            ("action", self.action.to_string()),
                        ],
                    ));
                    return SideAnswer::Granted {
                        entry,
                        dls: false,
                        fls: false,
                    };
                }
                self.trace.push(say(
                    "can.trace.any_index_miss",
                    &[
                        ("where", entry.path()),
                        ("privileges", list),
                        ("action", self.action.to_string()),
                    ],
                ));
                near.get_or_insert(entry);
            }
        }
        SideAnswer::Denied { near }
    }

    fn side_index(&mut self, side: DescriptorSide, value: &Value, target: &Target) -> SideAnswer {
        let field = if target.cluster.is_some() {
            "remote_indices"
        } else {
            "indices"
        };
        let restricted = self.atlas.is_restricted(&target.name, self.version);
        let mut near: Option<(u8, Entry)> = None;
        // Elasticsearch unites a side's entries for one index: a document query applies only
        // when every entry that grants the action has one (the queries are then OR'ed), and
        // field security likewise. So a grant with a query does not end the scan; the entries
        // after it are judged quietly (their misses are not the answer).
        let mut found: Option<Grant> = None;
        let mut quiet_from: Option<usize> = None;
        for (role, rd) in roles_of(value) {
            let entries = rd
                .get(field)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, e) in entries.iter().enumerate() {
                if let Some(mark) = quiet_from {
                    self.trace.truncate(mark);
                }
                let entry = Entry {
                    side,
                    role: role.clone(),
                    field: format!("{field}[{i}]"),
                    value: e.clone(),
                };
                if let Some(alias) = &target.cluster {
                    let clusters = strings(e.get("clusters"));
                    if !clusters.iter().any(|c| pattern_matches(c, alias)) {
                        continue;
                    }
                }
                let names = strings(e.get("names"));
                let privileges = strings(e.get("privileges"));
                let allow_restricted = e
                    .get("allow_restricted_indices")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let matches_name = |n: &str| {
                    names.iter().any(|p| {
                        if target.is_wildcard() {
                            wildcard_within(p, n)
                        } else {
                            pattern_matches(p, n)
                        }
                    })
                };
                let by_name = matches_name(&target.name);
                let by_stream = !by_name && target.stream.as_deref().is_some_and(matches_name);
                if by_stream {
                    self.trace.push(say(
                        "can.trace.backing",
                        &[
                            ("target", target.name.clone()),
                            ("stream", target.stream.clone().unwrap_or_default()),
                        ],
                    ));
                }
                let names_text = names.join(", ");
                if !(by_name || by_stream) {
                    self.trace.push(say(
                        "can.trace.names_miss",
                        &[
                            ("where", entry.path()),
                            ("names", names_text),
                            ("target", target.written.clone()),
                        ],
                    ));
                    continue;
                }
                if restricted && !allow_restricted {
                    self.trace.push(say(
                        "can.trace.restricted",
                        &[
                            ("where", entry.path()),
                            ("names", names_text),
                            ("target", target.name.clone()),
                        ],
                    ));
                    if near.as_ref().is_none_or(|(rank, _)| *rank < 2) {
                        near = Some((2, entry));
                    }
                    continue;
                }
                let mut grants = false;
                let mut wrong_component = false;
                for p in &privileges {
                    match privilege_covers(
                        self.atlas,
                        PrivilegeKind::Index,
                        p,
                        self.action,
                        target.failures,
                        self.version,
                    ) {
                        Ok(true) => {
                            grants = true;
                            break;
                        }
                        Ok(false) => {
                            // Would it grant with the other component?
                            if privilege_covers(
                                self.atlas,
                                PrivilegeKind::Index,
                                p,
                                self.action,
                                !target.failures,
                                self.version,
                            ) == Ok(true)
                            {
                                wrong_component = true;
                            }
                        }
                        Err(name) => self.unknown_privilege(&entry, name),
                    }
                }
                let privileges_text = privileges.join(", ");
                if grants {
                    self.trace.push(say(
                        "can.trace.granted",
                        &[
                            ("where", entry.path()),
                            ("names", names_text),
                            ("privileges", privileges_text),
                            ("target", target.written.clone()),
                        ],
                    ));
                    let dls = e.get("query").is_some_and(|q| !q.is_null());
                    let fls = e.get("field_security").is_some_and(|q| !q.is_null());
                    let names_doc = self
                        .doc_id
                        .is_some_and(|id| e.get("query").is_some_and(|q| ids_query_names(q, id)));
                    let grant = found.get_or_insert_with(|| Grant {
                        entry: entry.clone(),
                        dls: true,
                        fls: true,
                    });
                    if !dls || names_doc {
                        // The entry that settles the document is the one to name.
                        if grant.dls {
                            grant.entry = entry;
                        }
                        grant.dls = false;
                    }
                    grant.fls &= fls;
                    let settled = !grant.dls && !grant.fls;
                    if settled {
                        if let Some(grant) = found.take() {
                            return grant.into_answer();
                        }
                    }
                    quiet_from = Some(self.trace.len());
                    continue;
                }
                if wrong_component {
                    self.trace.push(say(
                        "can.trace.component_miss",
                        &[
                            ("where", entry.path()),
                            ("privileges", privileges_text),
                            ("target", target.written.clone()),
                        ],
                    ));
                } else {
                    self.trace.push(say(
                        "can.trace.privileges_miss",
                        &[
                            ("where", entry.path()),
                            ("privileges", privileges_text),
                            ("action", self.action.to_string()),
                        ],
                    ));
                }
                if near.as_ref().is_none_or(|(rank, _)| *rank < 3) {
                    near = Some((3, entry));
                }
            }
        }
        if let Some(mark) = quiet_from {
            self.trace.truncate(mark);
        }
        match found {
            Some(grant) => grant.into_answer(),
            None => SideAnswer::Denied {
                near: near.map(|(_, e)| e),
            },
        }
    }
}

/// A side's grant of an index action, gathered over its entries.
#[derive(Debug, Clone)]
struct Grant {
    entry: Entry,
    dls: bool,
    fls: bool,
}

impl Grant {
    fn into_answer(self) -> SideAnswer {
        SideAnswer::Granted {
            entry: self.entry,
            dls: self.dls,
            fls: self.fls,
        }
    }
}

/// Whether a role's document query is an `ids` query (or a `term`/`terms` on `_id`) that names
/// document `id`: that entry makes the document visible whatever the other queries say.
fn ids_query_names(query: &Value, id: &str) -> bool {
    let Some(q) = role_query(query) else {
        return false;
    };
    let listed = |v: Option<&Value>| match v {
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(id)),
        Some(Value::String(s)) => s == id,
        _ => false,
    };
    listed(q.pointer("/ids/values"))
        || listed(q.pointer("/term/_id"))
        || listed(q.pointer("/term/_id/value"))
        || listed(q.pointer("/terms/_id"))
}

/// A role entry's document query as JSON (roles store it as a string or an object), or `None`
/// for a templated one (`{{_user.username}}`, `{"template": …}`), resolved per user, or one that
/// does not parse.
fn role_query(query: &Value) -> Option<Value> {
    match query {
        Value::String(s) if !s.contains("{{") => serde_json::from_str(s).ok(),
        Value::Object(o) if !o.contains_key("template") => Some(query.clone()),
        _ => None,
    }
}

/// Whether the request's wildcard `request` (`logs-app-*`) lies wholly inside the role's
/// pattern `role` (`logs-*`): every name the request can expand to is granted.
fn wildcard_within(role: &str, request: &str) -> bool {
    if role == "*" {
        return true;
    }
    match (role.strip_suffix('*'), request.strip_suffix('*')) {
        (Some(r), Some(q)) if !r.contains(['*', '?']) && !q.contains(['*', '?']) => {
            q.starts_with(r)
        }
        _ => role == request,
    }
}

/// The key's descriptor sides: (own descriptors, owner's snapshot), as the engine uses them.
struct Sides<'a> {
    /// `None` when the key has no descriptors of its own (it has the owner's privileges).
    own: Option<&'a Value>,
    /// `None` when the metadata does not hold `limited_by`.
    owner: Option<&'a Value>,
    cross_cluster: bool,
}

fn sides_of(key: &KeyMetadata) -> Sides<'_> {
    let own = key
        .role_descriptors
        .as_ref()
        .filter(|v| !roles_of(v).is_empty());
    Sides {
        own,
        owner: key.limited_by.as_ref(),
        cross_cluster: key.key_type == Some(KeyType::CrossCluster),
    }
}

/// Evaluate `request` for `key` in `version` (the cluster's, when known).
pub fn evaluate(key: &KeyMetadata, request: Request, version: Option<Version>) -> CanReport {
    let a = atlas();
    let v = effective(version);
    let kind = request.kind();
    let failures = request.targets.iter().any(|t| t.failures);
    let granted_by: Vec<String> = if failures {
        a.granting_failures(&request.action, v)
    } else {
        a.granting(&request.action, v)
    }
    .into_iter()
    .map(|p| p.name.clone())
    .collect();
    let least = a.least_to_suggest(kind, &granted_by).cloned();
    let action_name = request.action.clone();
    let doc_id = request.doc_id.clone();
    let mut eval = Eval {
        atlas: a,
        action: &action_name,
        version: v,
        doc_id: doc_id.as_deref(),
        trace: Vec::new(),
    };
    let sides = sides_of(key);
    let mut notes = Vec::new();
    if version.is_none() {
        notes.push(say(
            "can.note.version_assumed",
            &[("version", v.to_string())],
        ));
    }
    if sides.cross_cluster {
        notes.push(say("can.note.cross_cluster_key", &[]));
    }
    let mut reasons = Vec::new();
    let mut fetch = None;

    // One answer per target (a cluster action has one, with no target).
    let targets: Vec<Option<&Target>> =
        if kind == PrivilegeKind::Index && !request.targets.is_empty() {
            request.targets.iter().map(Some).collect()
        } else {
            vec![None]
        };
    let mut verdict = Verdict::Allowed;
    let mut deciding = None;
    let mut patch_sides: Vec<DescriptorSide> = Vec::new();
    // The sides whose document query hides or shows the document asked for, and whether
    // anything else is left undecided (then no one-document grant settles the answer).
    let mut dls_sides: Vec<DescriptorSide> = Vec::new();
    let mut undecided_otherwise = false;
    let mut remote_cluster = None;
    for target in targets {
        if let Some(t) = target {
            if t.failures
                && !a
                    .named(PrivilegeKind::Index, "read_failure_store")
                    .is_some_and(|p| p.exists_in(v))
                && !t.name.starts_with(".fs-")
            {
                reasons.push(say(
                    "can.why.selector_unsupported",
                    &[("version", v.to_string())],
                ));
                verdict = Verdict::Undecidable;
                continue;
            }
        }
        let answer = |eval: &mut Eval, side: DescriptorSide, value: &Value| match target {
            Some(t) => eval.side_index(side, value, t),
            None if kind == PrivilegeKind::Index => eval.side_any_index(side, value),
            None => eval.side_cluster(side, value),
        };
        let own = sides.own.map(|d| answer(&mut eval, DescriptorSide::Key, d));
        let owner = if sides.cross_cluster {
            None
        } else {
            sides
                .owner
                .map(|d| answer(&mut eval, DescriptorSide::Owner, d))
        };
        if sides.own.is_none() {
            eval.trace.push(say(
                "can.trace.side_empty",
                &[("side", DescriptorSide::Key.as_str().into())],
            ));
        }
        let mut by_dls = false;
        let this = match (&own, &owner) {
            (Some(SideAnswer::Denied { near }), owner_answer) => {
                let mut denying = vec![DescriptorSide::Key];
                if matches!(owner_answer, Some(SideAnswer::Denied { .. })) {
                    reasons.push(say("can.why.owner_too", &[]));
                    denying.push(DescriptorSide::Owner);
                }
                (Verdict::DeniedByDescriptors, near.clone(), denying)
            }
            (_, Some(SideAnswer::Denied { near })) => (
                Verdict::DeniedByOwner,
                near.clone(),
                vec![DescriptorSide::Owner],
            ),
            (None, None) if sides.cross_cluster => {
                reasons.push(say("can.why.no_descriptors", &[]));
                (Verdict::Undecidable, None, Vec::new())
            }
            (None, None) => {
                reasons.push(say(
                    "can.why.inherits_unknown",
                    &[("key_id", key.id.clone())],
                ));
                fetch = Some((RunAs::Admin, limited_by_fetch(&key.id)));
                (Verdict::Undecidable, None, Vec::new())
            }
            (Some(granted), None) if !sides.cross_cluster => {
                reasons.push(say("can.why.no_limited_by", &[("key_id", key.id.clone())]));
                fetch = Some((RunAs::Admin, limited_by_fetch(&key.id)));
                (Verdict::Undecidable, entry_of(granted), Vec::new())
            }
            (Some(granted), _) | (None, Some(granted)) => {
                let (g_own, g_owner) = (
                    own.as_ref().map(grant_flags),
                    owner.as_ref().map(grant_flags),
                );
                let dls = g_own.is_some_and(|f| f.0) || g_owner.is_some_and(|f| f.0);
                let fls = g_own.is_some_and(|f| f.1) || g_owner.is_some_and(|f| f.1);
                let own_only = matches!(own, Some(SideAnswer::OwnOnly { .. }))
                    || matches!(owner, Some(SideAnswer::OwnOnly { .. }));
                let t = target.map(|t| t.written.clone()).unwrap_or_default();
                if own_only {
                    reasons.push(say(
                        "can.why.own_keys",
                        &[("privilege", "manage_own_api_key".into())],
                    ));
                    (Verdict::Undecidable, entry_of(granted), Vec::new())
                } else if target.is_some_and(Target::is_wildcard) {
                    // A granted wildcard: every name it expands to is covered.
                    (Verdict::Allowed, entry_of(granted), Vec::new())
                } else if dls && request.doc {
                    reasons.push(say("can.why.dls", &[("target", t.clone())]));
                    fetch = Some(dls_decider(&request, &t, [&own, &owner]));
                    for (side, flags) in [
                        (DescriptorSide::Key, g_own),
                        (DescriptorSide::Owner, g_owner),
                    ] {
                        if flags.is_some_and(|f| f.0) && !dls_sides.contains(&side) {
                            dls_sides.push(side);
                        }
                    }
                    by_dls = true;
                    (Verdict::Undecidable, entry_of(granted), Vec::new())
                } else {
                    if dls || fls {
                        notes.push(say("can.note.filtered", &[("target", t)]));
                    }
                    (Verdict::Allowed, entry_of(granted), Vec::new())
                }
            }
        };
        // A remote target no entry of either side names: the model decides (remote_indices
        // mean nothing to a certificate-model remote).
        let (mut this_verdict, this_entry, this_sides) = this;
        if let (Some(t), Some(e)) = (target, &this_entry) {
            let allows = e
                .value
                .get("allow_restricted_indices")
                .and_then(Value::as_bool);
            if this_verdict.is_denied() && atlas().is_restricted(&t.name, v) && allows != Some(true)
            {
                reasons.push(say(
                    "can.why.restricted",
                    &[("target", t.name.clone()), ("where", e.path())],
                ));
            }
        }
        if let Some(t) = target {
            if let Some(alias) = &t.cluster {
                if this_verdict.is_denied() {
                    let any_remote = [sides.own, sides.owner].into_iter().flatten().any(|d| {
                        roles_of(d).iter().any(|(_, rd)| {
                            rd.get("remote_indices")
                                .is_some_and(|r| r.as_array().is_some_and(|a| !a.is_empty()))
                        })
                    });
                    if any_remote {
                        this_verdict = Verdict::DeniedByRemoteIndices;
                    } else {
                        reasons.push(say("can.why.remote_model", &[("cluster", alias.clone())]));
                        this_verdict = Verdict::Undecidable;
                    }
                    remote_cluster = Some(alias.clone());
                }
            }
        }
        // A local wildcard is expanded to the names the key may see: Elasticsearch does not
        // deny it for the names it may not (an empty answer is not a denial).
        if let Some(t) = target {
            if t.cluster.is_none() && t.is_wildcard() && this_verdict.is_denied() {
                reasons.push(say("can.why.wildcard", &[("target", t.written.clone())]));
                this_verdict = Verdict::Undecidable;
            }
        }
        if this_verdict == Verdict::Undecidable && !by_dls {
            undecided_otherwise = true;
        }
        if rank(this_verdict) > rank(verdict) {
            verdict = this_verdict;
            deciding = this_entry;
        } else if deciding.is_none() {
            deciding = this_entry;
        }
        if this_verdict.is_denied() {
            for side in this_sides {
                if !patch_sides.contains(&side) {
                    patch_sides.push(side);
                }
            }
        }
    }
    if verdict == Verdict::Allowed && !reasons.is_empty() {
        verdict = Verdict::Undecidable;
    }

    let on = match request.targets.as_slice() {
        [] if kind == PrivilegeKind::Index => say("can.on.any_index", &[]),
        [] => String::new(),
        ts => format!(
            " on [{}]",
            ts.iter()
                .map(|t| t.written.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let action = request.action.clone();
    let summary = match verdict {
        Verdict::Allowed => say("can.verdict.allowed", &[("action", action), ("on", on)]),
        Verdict::DeniedByDescriptors => say(
            "can.verdict.denied_descriptors",
            &[("action", action), ("on", on)],
        ),
        Verdict::DeniedByOwner => say(
            "can.verdict.denied_owner",
            &[("action", action), ("on", on)],
        ),
        Verdict::DeniedByRemoteIndices => say(
            "can.verdict.denied_remote",
            &[
                ("action", action),
                ("on", on),
                ("cluster", remote_cluster.clone().unwrap_or_default()),
            ],
        ),
        Verdict::Undecidable => say("can.verdict.undecidable", &[("action", action), ("on", on)]),
    };

    let privileges = patch_privileges(&request, least.as_deref());
    // A document a query hides is shown by one more entry that names exactly it (Elasticsearch
    // ORs a side's queries): the grant widens by that document, never by the others the query
    // keeps out, which removing the query would expose.
    let only_doc = match (&request.doc_id, verdict) {
        (Some(id), Verdict::Undecidable) if !dls_sides.is_empty() && !undecided_otherwise => {
            Some(id.clone())
        }
        _ => None,
    };
    let (patch_on, patch_privileges) = if only_doc.is_some() {
        (dls_sides.clone(), least.iter().cloned().collect())
    } else if verdict.is_denied() {
        (patch_sides.clone(), privileges)
    } else {
        (Vec::new(), Vec::new())
    };
    let patches: Vec<Patch> = if patch_privileges.is_empty() {
        Vec::new()
    } else {
        patch_on
            .iter()
            .filter_map(|side| {
                make_patch(
                    key,
                    &sides,
                    *side,
                    kind,
                    &patch_privileges,
                    &request,
                    v,
                    only_doc.as_deref(),
                    &mut notes,
                )
            })
            .collect()
    };
    let mut patches = patches;
    if let Some(id) = &only_doc {
        let condition = say("can.patch.only_if_hidden", &[]);
        for p in &mut patches {
            p.only_if = Some(condition.clone());
        }
        if !patches.is_empty() {
            notes.push(say(
                "can.note.dls_patch",
                &[
                    ("id", id.clone()),
                    (
                        "target",
                        request
                            .targets
                            .first()
                            .map(|t| t.written.clone())
                            .unwrap_or_default(),
                    ),
                ],
            ));
        }
    }
    let patches = in_run_order(patches);
    let mut seen = std::collections::HashSet::new();
    notes.retain(|n| seen.insert(n.clone()));
    let check = (!patches.is_empty()).then(|| {
        say(
            "can.check_again",
            &[
                ("key_id", key.id.clone()),
                ("request", request.written.clone()),
            ],
        )
    });
    CanReport {
        check,
        key_id: key.id.clone(),
        key_name: key.name.clone(),
        version: v,
        version_given: version.is_some(),
        request,
        verdict,
        summary,
        reasons,
        deciding,
        trace: eval.trace,
        patches,
        least,
        granted_by,
        notes,
        fetch,
        confirmations: Vec::new(),
    }
}

/// Both sides patched: the owner's new role comes first, so that the one update of the key's
/// descriptors (which takes a new snapshot of the owner) comes after it and carries the grant;
/// the owner side's own empty update is then redundant and left out.
fn in_run_order(mut patches: Vec<Patch>) -> Vec<Patch> {
    let both = patches.iter().any(|p| p.side == DescriptorSide::Key)
        && patches.iter().any(|p| p.side == DescriptorSide::Owner);
    if both {
        patches.sort_by_key(|p| p.side != DescriptorSide::Owner);
        for p in &mut patches {
            if p.side == DescriptorSide::Owner {
                p.requests.retain(|(who, _)| *who != RunAs::Owner);
            }
        }
    }
    patches
}

fn grant_flags(a: &SideAnswer) -> (bool, bool) {
    match a {
        SideAnswer::Granted { dls, fls, .. } => (*dls, *fls),
        _ => (false, false),
    }
}

fn entry_of(a: &SideAnswer) -> Option<Entry> {
    match a {
        SideAnswer::Granted { entry, .. } | SideAnswer::OwnOnly { entry } => Some(entry.clone()),
        SideAnswer::Denied { near } => near.clone(),
    }
}

fn rank(v: Verdict) -> u8 {
    match v {
        Verdict::Allowed => 0,
        Verdict::Undecidable => 1,
        Verdict::DeniedByOwner | Verdict::DeniedByRemoteIndices | Verdict::DeniedByDescriptors => 2,
    }
}

/// The one step that decides a document behind a DLS query: count that document under the
/// query (both sides' queries, when both have one), as a user who may read the index; a
/// templated query (`{{_user.username}}`, resolved per user) is decided only by the request
/// itself, sent with the key.
fn dls_decider(
    request: &Request,
    target: &str,
    answers: [&Option<SideAnswer>; 2],
) -> (RunAs, String) {
    let queries: Vec<Value> = answers
        .into_iter()
        .flatten()
        .filter_map(|a| match a {
            SideAnswer::Granted {
                entry, dls: true, ..
            } => entry.value.get("query").cloned(),
            _ => None,
        })
        .collect();
    let parsed: Option<Vec<Value>> = queries.iter().map(role_query).collect();
    match (parsed, &request.doc_id) {
        (Some(queries), Some(id)) if !queries.is_empty() => {
            let mut filter = vec![json!({"ids": {"values": [id]}})];
            filter.extend(queries);
            let body = json!({"query": {"bool": {"filter": filter}}});
            (
                RunAs::User,
                format!("GET /{target}/_count\n{}", format_json(&body)),
            )
        }
        _ => (RunAs::ClientKey, request.written.clone()),
    }
}

fn limited_by_fetch(id: &str) -> String {
    format!("GET /_security/api_key?id={id}&with_limited_by=true")
}

/// The entries `after` adds to role `role` over `before`: a role of its own holding only the
/// new grant (for an owner whose role is built in).
fn grant_only(before: &Value, after: &Value, role: &str) -> Value {
    let mut out = Map::new();
    for field in ["cluster", "indices", "remote_indices"] {
        let old = before
            .pointer(&format!("/{role}/{field}"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if let Some(new) = after
            .pointer(&format!("/{role}/{field}"))
            .and_then(Value::as_array)
        {
            let added: Vec<Value> = new.iter().skip(old).cloned().collect();
            if !added.is_empty() {
                out.insert(field.into(), Value::Array(added));
            }
        }
    }
    Value::Object(out)
}

/// What a patch grants: the least privilege; for a search of a remote cluster through the API
/// key model, `read` with `read_cross_cluster` (the remote checks the search shards action too).
pub fn patch_privileges(request: &Request, least: Option<&str>) -> Vec<String> {
    let Some(least) = least else {
        return Vec::new();
    };
    let remote_read = request.action.starts_with("indices:data/read/")
        && request.targets.iter().any(|t| t.cluster.is_some());
    if remote_read && least == "read" {
        vec!["read".into(), "read_cross_cluster".into()]
    } else {
        vec![least.to_string()]
    }
}

/// The smallest change to `side` that grants the request: one new entry naming exactly the
/// denied targets with the least privilege (or the privilege added to the cluster list).
#[allow(clippy::too_many_arguments)]
fn make_patch(
    key: &KeyMetadata,
    sides: &Sides<'_>,
    side: DescriptorSide,
    kind: PrivilegeKind,
    privileges: &[String],
    request: &Request,
    v: Version,
    only_doc: Option<&str>,
    notes: &mut Vec<String>,
) -> Option<Patch> {
    if kind == PrivilegeKind::Index && request.targets.is_empty() {
        // No index named: no entry to write (its items name them).
        return None;
    }
    let privilege = privileges.join(", ");
    let current = match side {
        DescriptorSide::Key => sides.own?,
        DescriptorSide::Owner => sides.owner?,
    };
    let before = match (side, current) {
        (DescriptorSide::Owner, Value::Array(items)) => items.first().cloned()?,
        (_, v) => v.clone(),
    };
    let Value::Object(mut roles) = before.clone() else {
        return None;
    };
    let role = roles.keys().next()?.clone();
    let descriptor = roles.get_mut(&role)?.as_object_mut()?;
    match kind {
        PrivilegeKind::Cluster => {
            let list = descriptor.entry("cluster").or_insert_with(|| json!([]));
            if let Value::Array(list) = list {
                list.extend(privileges.iter().map(|p| json!(p)));
            }
        }
        PrivilegeKind::Index => {
            for target in &request.targets {
                let mut entry = Map::new();
                if let Some(c) = &target.cluster {
                    entry.insert("clusters".into(), json!([c]));
                }
                let name = target.stream.clone().unwrap_or_else(|| target.name.clone());
                entry.insert("names".into(), json!([name]));
                entry.insert("privileges".into(), json!(privileges));
                if atlas().is_restricted(&target.name, v) {
                    entry.insert("allow_restricted_indices".into(), json!(true));
                }
                if let Some(id) = only_doc {
                    entry.insert("query".into(), json!({"ids": {"values": [id]}}));
                }
                let field = if target.cluster.is_some() {
                    "remote_indices"
                } else {
                    "indices"
                };
                let list = descriptor.entry(field).or_insert_with(|| json!([]));
                if let Value::Array(list) = list {
                    list.push(Value::Object(entry));
                }
            }
        }
    }
    let after = Value::Object(roles);
    let diff = descriptors_diff(
        &before,
        &after,
        &format!("{} (now)", side.as_str()),
        &format!("{} (patched)", side.as_str()),
    );
    let mut requests = Vec::new();
    match side {
        DescriptorSide::Key if v >= Version(8, 4, 0) => {
            requests.push((
                RunAs::Owner,
                format!(
                    "PUT /_security/api_key/{}\n{}",
                    key.id,
                    format_json(&json!({"role_descriptors": after}))
                ),
            ));
            notes.push(say("can.note.update_refreshes", &[]));
        }
        DescriptorSide::Key => {
            notes.push(say("can.note.no_update_api", &[("version", v.to_string())]));
        }
        DescriptorSide::Owner => {
            // The grant goes into a role of its own: rewriting the owner's role from the
            // snapshot would put back whatever changed in it since the key's last update, and a
            // built-in role cannot be changed. Creating a new role overwrites nothing.
            let name = format!("key-{}-grant", key.id);
            let body = grant_only(&before, &after, &role);
            notes.push(say(
                "can.note.owner_role",
                &[
                    ("role", role.clone()),
                    ("name", name.clone()),
                    (
                        "owner",
                        key.username.clone().unwrap_or_else(|| "the owner".into()),
                    ),
                ],
            ));
            requests.push((
                RunAs::Admin,
                format!("PUT /_security/role/{name}\n{}", format_json(&body)),
            ));
            let native = key.realm_type.as_deref().is_none_or(|t| t == "native");
            if let (Some(user), true) = (&key.username, native) {
                // The owner's roles as they are now, to add the new one to (never a PUT built
                // from a guess: it would replace the user's other roles).
                requests.push((RunAs::Admin, format!("GET /_security/user/{user}")));
            }
            if v >= Version(8, 4, 0) {
                requests.push((
                    RunAs::Owner,
                    format!(
                        "PUT /_security/api_key/{}\n{}",
                        key.id,
                        format_json(&json!({}))
                    ),
                ));
                notes.push(say("can.note.update_refreshes", &[]));
            } else {
                notes.push(say("can.note.no_update_api", &[("version", v.to_string())]));
            }
        }
    }
    let after_side = match side {
        DescriptorSide::Owner => Value::Array(vec![after.clone()]),
        DescriptorSide::Key => after.clone(),
    };
    Some(Patch {
        side,
        before: current.clone(),
        after: after_side,
        diff,
        privilege: privilege.to_string(),
        requests,
        only_if: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_remote_selectors_and_backing_indices() {
        let t = Target::parse("remote1:logs-*");
        assert_eq!(t.cluster.as_deref(), Some("remote1"));
        assert_eq!(t.name, "logs-*");
        let t = Target::parse("logs-app-default::failures");
        assert!(t.failures && t.cluster.is_none());
        let t = Target::parse(".ds-logs-app-default-2026.11.30-000004");
        assert_eq!(t.stream.as_deref(), Some("logs-app-default"));
        assert!(!t.failures);
        let t = Target::parse(".fs-logs-app-default-2026.11.30-000001");
        assert!(t.failures && t.stream.as_deref() == Some("logs-app-default"));
        assert_eq!(Target::parse(".ds-x-2026-11-30-000001").stream, None);
    }

    #[test]
    fn rest_calls_map_to_actions() {
        let r = Request::parse("POST /logs-app-default/_bulk", None).unwrap();
        assert_eq!(r.action, "indices:data/write/bulk[s]");
        assert_eq!(r.targets[0].name, "logs-app-default");
        let r = Request::parse("get /", None).unwrap();
        assert_eq!(r.action, "cluster:monitor/main");
        let r = Request::parse("GET /a,b/_search?q=x", None).unwrap();
        assert_eq!(r.targets.len(), 2);
        let r = Request::parse("GET /logs/_doc/1", None).unwrap();
        assert!(r.doc);
        let r = Request::parse("indices:data/read/search remote:logs-*", None).unwrap();
        assert_eq!(r.targets[0].cluster.as_deref(), Some("remote"));
        let r = Request::parse("GET /my%2Cindex/_search", None).unwrap();
        assert_eq!(r.targets.len(), 2);
        assert!(Request::parse("FROB /x", None).is_err());
        assert!(Request::parse("GET /_frobnicate/x/y/z", None).is_err());
        // Every endpoint's action is one the atlas grants somewhere.
        for e in endpoints() {
            assert!(
                !atlas()
                    .granting(&e.action, crate::diagnosis::atlas::NEWEST)
                    .is_empty(),
                "{}",
                e.action
            );
        }
    }

    #[test]
    fn wildcards_must_lie_inside_a_pattern() {
        assert!(wildcard_within("logs-*", "logs-app-*"));
        assert!(!wildcard_within("logs-app-*", "logs-*"));
        assert!(wildcard_within("*", "anything-*"));
    }
}
