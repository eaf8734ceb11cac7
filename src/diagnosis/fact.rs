//! Typed facts: what a pass established about a finding (where its limit comes from, the
//! clients a join named, what the live cluster shows), each with a stable code and its sentence
//! from `rules/facts.toml`.
//!
//! - **In**: a pass's typed [`Fact`]; the embedded `rules/facts.toml` (one template per code).
//! - **Out**: a [`Stated`] fact (the fact and its sentence) that [`super::Finding::state`] adds.
//! - **Never**: hold a sentence in Rust, or let a pass overwrite another pass's fact: passes add
//!   facts, and a reader takes the one it needs (the last of a kind, see [`super::Finding`]).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::model::{KeyState, PrivilegeKind};
use crate::rule::template::Template;

const FACTS_TOML: &str = include_str!("../../rules/facts.toml");

/// A fact and its sentence, filled from its template when the fact was stated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stated {
    pub fact: Fact,
    pub text: String,
}

impl Stated {
    /// The fact's stable code (`limit.owner_lacks`).
    pub fn code(&self) -> &'static str {
        self.fact.code()
    }
}

/// Something a pass established about a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// Where an `under_privileged` limit comes from, or what metadata says of a missing key.
    Limit(Limit),
    /// The denied index against the key's index patterns.
    IndexMatch {
        index: String,
        patterns: Vec<String>,
        /// The patterns that match the index (without a granting privilege).
        matching: Vec<String>,
    },
    /// The clients named by joining the server's failures with audit denials by node and time.
    ClientJoin(ClientJoin),
    /// What the audit logs cannot say about who invalidated the key, and why.
    AuditGap(AuditGap),
    /// How a finding whose message names no key was tied to one (or why it was not).
    KeyInference(KeyInference),
    /// What the live cluster shows of the key.
    Cluster(ClusterSays),
    /// What the key under study (`--with-key-env`) did on the live cluster.
    Probe(ProbeSays),
    /// What the other cluster's logs say (`scan --remote-logs`): a pair's verdict, already
    /// filled from `rules/pairs.toml`.
    OtherSide { pair: String, verdict: String },
}

/// Where a limit comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// Metadata shows the key a cluster no longer finds was created: it was deleted since.
    DeletedSince {
        seen_in: String,
        key_id: String,
        created: Option<String>,
    },
    /// Pasted metadata lists the key the cluster says is missing: another cluster.
    ListedElsewhere { key_id: String, state: KeyState },
    /// The key's own role descriptors do not grant it.
    RoleDescriptors,
    /// The key's descriptors allow it; its owner's `limited_by` snapshot does not.
    LimitedBy,
    /// The key's descriptors allow it (or it has none); no `limited_by` to check the owner.
    LimitedByUnverified,
    /// The metadata has no role descriptors (before 8.5).
    NoDescriptors,
    /// A bundle does not know the key's owner.
    OwnerUnknown { owner: String, bundle: String },
    /// A bundle's users, role mappings and roles, against the denied privilege.
    Owner(OwnerLimit),
    /// A denied cross-cluster search: the key's access against the caller's `remote_indices`.
    EffectiveAccess(EffectiveAccess),
}

/// What a bundle says of a denied key's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerLimit {
    pub verdict: OwnerVerdict,
    pub owner: String,
    pub bundle: String,
    pub key_id: String,
    /// The owner's roles the bundle knows.
    pub roles: Vec<String>,
    /// Where they come from (`the user`, `role mapping x`).
    pub via: Vec<String>,
    pub denied: Denied,
    /// Role mappings whose rules the bundle cannot decide.
    pub undecided_mappings: Vec<String>,
    /// The roles those mappings would add, when known and none grants it.
    pub undecided_not_granting: Option<Vec<String>>,
    /// The owner's roles that the bundle does not define.
    pub undefined_roles: Vec<String>,
}

/// The bundle's answer about the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerVerdict {
    /// The owner's roles grant it today.
    Grants,
    /// They do not, but role mappings the bundle cannot decide might.
    Undecided,
    /// They do not: the owner is the limit.
    Lacks,
}

/// The denied privilege, as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub privilege: Option<String>,
    pub index: Option<String>,
    pub kind: PrivilegeKind,
}

impl Denied {
    /// What was denied, in words (`` `write` on `logs-x` ``).
    pub fn text(&self) -> String {
        texts().what(self)
    }
}

/// The effective access of a denied cross-cluster search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveAccess {
    /// The caller (`None`: not named).
    pub who: Option<String>,
    pub alias: String,
    /// The cross-cluster key named in the message (`None`: the roles only).
    pub key_id: Option<String>,
    pub access_kind: AccessKind,
    /// The key's access names (`None`: no metadata for the key).
    pub key_access: Option<Vec<String>>,
    pub roles: Vec<String>,
    /// The roles' `remote_indices` names for the alias (`None`: the roles were not given).
    pub user_access: Option<Vec<String>>,
    /// The patterns both grant.
    pub effective: Vec<String>,
    pub indices: Vec<IndexAccess>,
}

impl EffectiveAccess {
    /// Some denied index the key's access does not cover.
    pub fn key_lacks(&self) -> bool {
        self.indices.iter().any(|i| i.by_key == Some(false))
    }
    /// Some denied index the caller's `remote_indices` do not cover.
    pub fn caller_lacks(&self) -> bool {
        self.indices.iter().any(|i| i.by_user == Some(false))
    }
    /// Some denied index neither covers.
    pub fn neither(&self) -> bool {
        self.indices
            .iter()
            .any(|i| i.by_key == Some(false) && i.by_user == Some(false))
    }
}

/// Which access of a cross-cluster key a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKind {
    Search,
    Replication,
}

impl AccessKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Search => "search",
            Self::Replication => "replication",
        }
    }
}

/// One denied index against the key's access and the caller's `remote_indices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexAccess {
    pub index: String,
    pub by_key: Option<bool>,
    pub by_user: Option<bool>,
}

/// The clients a join named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientJoin {
    /// (client address, failures joined to it), most first.
    pub clients: Vec<(String, usize)>,
    /// The failures logged by nodes that were tried.
    pub logged: usize,
    pub window_s: i64,
    /// What was counted but not kept, when memory bounded the join.
    pub bounded: Option<Bounded>,
}

/// What a bounded join kept and dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounded {
    pub points: usize,
    pub denials: usize,
    pub points_dropped: usize,
    pub denials_dropped: usize,
}

/// Why no audit event says who invalidated the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditGap {
    NoAuditLog,
    NoConfigEvents {
        files: usize,
        nodes: Vec<String>,
    },
    NotNamed {
        nodes: Vec<String>,
        /// The audit logs' first and last event.
        window: Option<(String, String)>,
    },
}

/// How a key was tied to a finding whose message names none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyInference {
    /// No known key had expired by the first failure.
    NoneExpired { first_failure: Option<String> },
    /// One known key had: it is taken as the one.
    OnlyExpired {
        key_id: String,
        first_failure: Option<String>,
        expiration: String,
        source: String,
    },
    /// Several had; they are the candidates.
    ManyExpired {
        count: usize,
        first_failure: Option<String>,
    },
    /// The querying cluster's refused handshakes at the same times named it.
    QueryingHandshake { window: String },
}

/// What the live cluster shows of the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSays {
    pub verdict: ClusterVerdict,
    /// `the cluster at …`.
    pub label: String,
    pub key_id: String,
    /// The key's state there (`None` when it has no such key).
    pub state: Option<KeyState>,
}

/// The cluster's view against the finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterVerdict {
    /// No such key: a hidden 401 is `missing`.
    DecidedAbsent,
    ConfirmedAbsent,
    /// No such key any more: deleted after the retention period.
    Deleted,
    /// No such key, yet the failure shows it authenticated.
    AbsentYetAuthenticated,
    ContradictsMissing,
    Confirmed,
    ContradictsState,
    /// Active and of type `cross_cluster`: a hidden 401 is `wrong_key_type`.
    DecidedCrossCluster,
    /// What it shows, neither confirming nor contradicting.
    Shows,
}

/// What the key under study did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSays {
    pub verdict: ProbeVerdict,
    /// The environment variable the key came from.
    pub var: String,
    pub label: String,
    pub key_id: String,
}

/// A probe's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeVerdict {
    /// Active, yet rejected: the secret is wrong.
    DecidedWrongSecret,
    Rejected {
        reason: String,
    },
    /// It authenticates now, against a finding that says it does not.
    ContradictsFailure,
    Authenticates,
    /// `_has_privileges`: it holds the denied privilege now.
    Holds {
        privilege: String,
        index: Option<String>,
    },
    /// `_has_privileges`: it lacks it.
    Lacks {
        privilege: String,
        index: Option<String>,
    },
}

/// A table of sentence codes, each with the fields its template may use.
pub type Words = &'static [(&'static str, &'static [&'static str])];

/// The other sentences the passes say, by module: each a table of codes with their fields
/// (`differential::WORDS`, …), rendered with [`Texts::say`] and checked like the facts.
pub const SAID: &[Words] = &[
    super::differential::WORDS,
    super::correlate::WORDS,
    super::classify::WORDS,
    super::owner_roles::WORDS,
    super::two_sided::WORDS,
];

/// A sentence of one of the [`SAID`] tables, from `rules/facts.toml`.
pub fn say(code: &str, fields: &[(&'static str, String)]) -> String {
    texts().say(code, fields)
}

/// A sentence of `table`, the `WORDS` of a module above stage 4 (a command's, the pipeline's),
/// from `rules/facts.toml`; `rules lint` checks those tables with [`check`].
pub fn say_in(table: Words, code: &str, fields: &[(&'static str, String)]) -> String {
    debug_assert!(
        declares(table, code, fields),
        "`{code}` said with fields its table does not declare"
    );
    texts().fill(code, fields)
}

/// Whether `table` lists `code` with every field given.
fn declares(table: Words, code: &str, fields: &[(&'static str, String)]) -> bool {
    table
        .iter()
        .any(|(c, f)| *c == code && fields.iter().all(|(name, _)| f.contains(name)))
}

/// Every template code with the fields it may use: what `rules/facts.toml` is checked against.
pub const CODES: &[(&str, &[&str])] = &[
    (
        "limit.deleted_since",
        &["seen_in", "key_id", "created"] as &[&str],
    ),
    ("limit.deleted_since.undated", &["seen_in", "key_id"]),
    ("limit.listed_elsewhere", &["key_id", "state"]),
    ("limit.role_descriptors", &[]),
    ("limit.limited_by", &[]),
    ("limit.limited_by.unverified", &[]),
    ("limit.no_descriptors", &[]),
    ("limit.owner_unknown", &["owner", "bundle"]),
    (
        "limit.owner_grants",
        &[
            "owner", "roles", "bundle", "via", "what", "caveat", "key_id",
        ],
    ),
    (
        "limit.owner_undecided",
        &[
            "owner", "roles", "bundle", "via", "what", "caveat", "key_id",
        ],
    ),
    (
        "limit.owner_lacks",
        &[
            "owner", "roles", "bundle", "via", "what", "caveat", "key_id",
        ],
    ),
    ("part.roles.none", &[]),
    ("part.roles.some", &["roles"]),
    ("part.what.on_index", &["privilege", "index"]),
    ("part.what.privilege", &["privilege"]),
    ("part.what.unknown", &[]),
    ("part.caveats", &["caveats"]),
    ("part.caveat.undecided.one", &["mappings", "not_granting"]),
    ("part.caveat.undecided.many", &["mappings", "not_granting"]),
    ("part.caveat.not_granting", &["roles"]),
    ("part.caveat.undefined.one", &["roles"]),
    ("part.caveat.undefined.many", &["roles"]),
    (
        "limit.effective_access",
        &[
            "who",
            "alias",
            "key_id",
            "access_kind",
            "key_access",
            "roles",
            "user_access",
            "effective",
            "indices",
        ],
    ),
    (
        "limit.remote_indices",
        &["who", "alias", "roles", "user_access", "indices"],
    ),
    ("part.access.roles.caller", &[]),
    ("part.access.roles.named", &["roles"]),
    ("part.access.own_roles.caller", &[]),
    ("part.access.own_roles.named", &["roles"]),
    ("part.access.list", &["names"]),
    ("part.access.nothing", &[]),
    ("part.access.key_unknown", &[]),
    ("part.access.roles_unknown", &[]),
    ("part.access.not_computable", &[]),
    ("part.access.index.neither", &["index"]),
    ("part.access.index.key", &["index"]),
    ("part.access.index.caller", &["index"]),
    ("part.access.index.both", &["index"]),
    ("index_match.none", &["index", "patterns"]),
    ("index_match.without_privilege", &["index", "matching"]),
    ("client_join", &["clients", "window_s", "bounded"]),
    ("part.client_join.client", &["client", "failures", "logged"]),
    (
        "part.client_join.bounded",
        &["points", "denials", "points_dropped", "denials_dropped"],
    ),
    ("audit_gap.no_audit_log", &[]),
    ("audit_gap.no_config_events", &["files", "nodes"]),
    ("audit_gap.not_named", &["nodes", "window"]),
    ("part.audit_gap.window", &["first", "last"]),
    ("part.nodes.unnamed", &[]),
    ("key_inference.none_expired", &["when"]),
    (
        "key_inference.only_expired",
        &["key_id", "when", "expiration", "source"],
    ),
    ("key_inference.many_expired", &["count", "when"]),
    ("key_inference.querying_handshake", &["window"]),
    ("part.when.before_first", &["at"]),
    ("part.when.by_now", &[]),
    ("cluster.decided_absent", &["label", "key_id"]),
    ("cluster.confirmed_absent", &["label", "key_id"]),
    ("cluster.deleted", &["label", "key_id"]),
    ("cluster.absent_yet_authenticated", &["label", "key_id"]),
    ("cluster.contradicts_missing", &["label", "key_id", "state"]),
    ("cluster.confirmed", &["label", "key_id", "state"]),
    ("cluster.contradicts_state", &["label", "key_id", "state"]),
    (
        "cluster.decided_cross_cluster",
        &["label", "key_id", "state"],
    ),
    ("cluster.shows", &["label", "key_id", "state"]),
    ("probe.decided_wrong_secret", &["var", "label", "key_id"]),
    ("probe.rejected", &["var", "label", "key_id", "reason"]),
    ("probe.contradicts_failure", &["var", "label", "key_id"]),
    ("probe.authenticates", &["var", "label", "key_id"]),
    ("probe.holds", &["var", "label", "key_id", "what"]),
    ("probe.lacks", &["var", "label", "key_id", "what"]),
    ("part.probe.on_index", &["privilege", "index"]),
    ("part.probe.cluster", &["privilege"]),
    ("other_side", &["verdict", "pair"]),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FactsFile {
    text: BTreeMap<String, String>,
}

/// The compiled templates, by code.
pub struct Texts {
    templates: BTreeMap<String, Template>,
}

/// The bundled `rules/facts.toml`, compiled once. A broken bundled file is a build defect that
/// the tests and `rules lint` report; at run time its facts render as their code.
pub fn texts() -> &'static Texts {
    static TEXTS: OnceLock<Texts> = OnceLock::new();
    TEXTS.get_or_init(|| {
        compile(FACTS_TOML).unwrap_or_else(|_| Texts {
            templates: BTreeMap::new(),
        })
    })
}

/// What is wrong with the bundled `rules/facts.toml`: unparsable, a code without a template,
/// a template for no code, a placeholder that is not one of its code's fields. `above` are the
/// `WORDS` of the modules above stage 4 (commands, the pipeline), which this one cannot name.
pub fn check(above: &[Words]) -> Vec<String> {
    check_text(FACTS_TOML, above)
}

fn check_text(text: &str, above: &[Words]) -> Vec<String> {
    let file = match toml::from_str::<FactsFile>(text) {
        Ok(f) => f,
        Err(e) => return vec![format!("rules/facts.toml: {e}")],
    };
    let mut out = Vec::new();
    for (code, _) in CODES {
        if !file.text.contains_key(*code) {
            out.push(format!(
                "rules/facts.toml: no template for the fact `{code}`"
            ));
        }
    }
    for (code, _) in SAID.iter().chain(above).flat_map(|t| t.iter()) {
        if !file.text.contains_key(*code) {
            out.push(format!("rules/facts.toml: no words for `{code}`"));
        }
    }
    let causes: Vec<String> = super::differential::CauseKind::ALL
        .iter()
        .map(|c| format!("cause.{}", c.code()))
        .collect();
    for code in &causes {
        if !file.text.contains_key(code) {
            out.push(format!("rules/facts.toml: no words for the cause `{code}`"));
        }
    }
    for (code, text) in &file.text {
        let no_fields: &[&str] = &[];
        let fields = if causes.contains(code) {
            Some(no_fields)
        } else {
            CODES
                .iter()
                .chain(SAID.iter().chain(above).flat_map(|t| t.iter()))
                .find(|(c, _)| c == code)
                .map(|(_, f)| *f)
        };
        let Some(fields) = fields else {
            out.push(format!(
                "rules/facts.toml: `{code}` is no fact keydoctor states"
            ));
            continue;
        };
        match Template::parse(text) {
            Err(e) => out.push(format!("rules/facts.toml: `{code}`: {}", e.message)),
            Ok((_, placeholders)) => {
                for p in placeholders {
                    if !fields.contains(&p.name.as_str()) {
                        out.push(format!(
                            "rules/facts.toml: `{code}` uses `{{{}}}`, which is not one of its fields ({})",
                            p.name,
                            fields.join(", ")
                        ));
                    }
                }
            }
        }
    }
    out
}

fn compile(text: &str) -> Result<Texts, String> {
    let file = toml::from_str::<FactsFile>(text).map_err(|e| e.to_string())?;
    let mut templates = BTreeMap::new();
    for (code, text) in file.text {
        let (t, _) = Template::parse(&text).map_err(|e| e.message)?;
        templates.insert(code, t);
    }
    Ok(Texts { templates })
}

type Fields = Vec<(&'static str, String)>;

impl Texts {
    /// `code`'s template filled with `fields`.
    fn render(&self, code: &str, fields: &[(&'static str, String)]) -> String {
        debug_assert!(
            declares(CODES, code, fields),
            "fact `{code}` rendered with fields it does not declare"
        );
        self.fill(code, fields)
    }

    /// `code`'s template with `fields`; a code without a template renders as itself.
    fn fill(&self, code: &str, fields: &[(&'static str, String)]) -> String {
        match self.templates.get(code) {
            Some(t) => t.render(&|name: &str| {
                fields
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            }),
            None => code.to_string(),
        }
    }

    /// A differential cause's words (`cause.<code>`).
    pub(crate) fn cause(&self, code: &str) -> String {
        match self.templates.get(&format!("cause.{code}")) {
            Some(t) => t.render(&|_| None),
            None => code.to_string(),
        }
    }

    fn part(&self, code: &str) -> String {
        self.render(code, &[])
    }

    /// A sentence of one of the [`SAID`] tables (the differential's `evidence.*` and `check.*`,
    /// a decided 401's `decided.*`, a pass's `said.*` and `step.*`), with its fields.
    pub fn say(&self, code: &str, fields: &[(&'static str, String)]) -> String {
        debug_assert!(
            SAID.iter().any(|t| declares(t, code, fields)),
            "`{code}` said with fields it does not declare"
        );
        self.fill(code, fields)
    }

    /// The sentence of `fact`.
    pub fn sentence(&self, fact: &Fact) -> String {
        let (code, fields) = self.code_and_fields(fact);
        self.render(code, &fields)
    }

    fn code_and_fields(&self, fact: &Fact) -> (&'static str, Fields) {
        let code = fact.code();
        let fields: Fields = match fact {
            Fact::Limit(limit) => return (code, self.limit_fields(limit)),
            Fact::IndexMatch {
                index,
                patterns,
                matching,
            } => {
                if matching.is_empty() {
                    vec![("index", index.clone()), ("patterns", patterns.join(", "))]
                } else {
                    vec![("index", index.clone()), ("matching", matching.join(", "))]
                }
            }
            Fact::ClientJoin(j) => {
                let clients = j
                    .clients
                    .iter()
                    .map(|(c, n)| {
                        self.render(
                            "part.client_join.client",
                            &[
                                ("client", c.clone()),
                                ("failures", n.to_string()),
                                ("logged", j.logged.to_string()),
                            ],
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let bounded = j.bounded.as_ref().map_or_else(String::new, |b| {
                    self.render(
                        "part.client_join.bounded",
                        &[
                            ("points", b.points.to_string()),
                            ("denials", b.denials.to_string()),
                            ("points_dropped", b.points_dropped.to_string()),
                            ("denials_dropped", b.denials_dropped.to_string()),
                        ],
                    )
                });
                vec![
                    ("clients", clients),
                    ("window_s", j.window_s.to_string()),
                    ("bounded", bounded),
                ]
            }
            Fact::AuditGap(AuditGap::NoAuditLog) => Vec::new(),
            Fact::AuditGap(AuditGap::NoConfigEvents { files, nodes }) => {
                vec![("files", files.to_string()), ("nodes", self.nodes(nodes))]
            }
            Fact::AuditGap(AuditGap::NotNamed { nodes, window }) => vec![
                ("nodes", self.nodes(nodes)),
                (
                    "window",
                    window.as_ref().map_or_else(String::new, |(first, last)| {
                        self.render(
                            "part.audit_gap.window",
                            &[("first", first.clone()), ("last", last.clone())],
                        )
                    }),
                ),
            ],
            Fact::KeyInference(k) => match k {
                KeyInference::NoneExpired { first_failure } => {
                    vec![("when", self.when(first_failure))]
                }
                KeyInference::OnlyExpired {
                    key_id,
                    first_failure,
                    expiration,
                    source,
                } => vec![
                    ("key_id", key_id.clone()),
                    ("when", self.when(first_failure)),
                    ("expiration", expiration.clone()),
                    ("source", source.clone()),
                ],
                KeyInference::ManyExpired {
                    count,
                    first_failure,
                } => vec![
                    ("count", count.to_string()),
                    ("when", self.when(first_failure)),
                ],
                KeyInference::QueryingHandshake { window } => vec![("window", window.clone())],
            },
            Fact::Cluster(c) => {
                let mut v = vec![("label", c.label.clone()), ("key_id", c.key_id.clone())];
                if let Some(state) = c.state {
                    v.push(("state", state.as_str().to_string()));
                }
                v
            }
            Fact::Probe(p) => {
                let mut v = vec![
                    ("var", p.var.clone()),
                    ("label", p.label.clone()),
                    ("key_id", p.key_id.clone()),
                ];
                match &p.verdict {
                    ProbeVerdict::Rejected { reason } => v.push(("reason", reason.clone())),
                    ProbeVerdict::Holds { privilege, index }
                    | ProbeVerdict::Lacks { privilege, index } => {
                        let what = match index {
                            Some(i) => self.render(
                                "part.probe.on_index",
                                &[("privilege", privilege.clone()), ("index", i.clone())],
                            ),
                            None => self
                                .render("part.probe.cluster", &[("privilege", privilege.clone())]),
                        };
                        v.push(("what", what));
                    }
                    _ => {}
                }
                v
            }
            Fact::OtherSide { pair, verdict } => {
                vec![("verdict", verdict.clone()), ("pair", pair.clone())]
            }
        };
        (code, fields)
    }

    fn nodes(&self, nodes: &[String]) -> String {
        if nodes.is_empty() {
            self.part("part.nodes.unnamed")
        } else {
            nodes.join(", ")
        }
    }

    fn when(&self, first_failure: &Option<String>) -> String {
        match first_failure {
            Some(at) => self.render("part.when.before_first", &[("at", at.clone())]),
            None => self.part("part.when.by_now"),
        }
    }

    fn limit_fields(&self, limit: &Limit) -> Fields {
        match limit {
            Limit::DeletedSince {
                seen_in,
                key_id,
                created,
            } => {
                let mut v = vec![("seen_in", seen_in.clone()), ("key_id", key_id.clone())];
                if let Some(c) = created {
                    v.push(("created", c.clone()));
                }
                v
            }
            Limit::ListedElsewhere { key_id, state } => vec![
                ("key_id", key_id.clone()),
                ("state", state.as_str().to_string()),
            ],
            Limit::RoleDescriptors
            | Limit::LimitedBy
            | Limit::LimitedByUnverified
            | Limit::NoDescriptors => Vec::new(),
            Limit::OwnerUnknown { owner, bundle } => {
                vec![("owner", owner.clone()), ("bundle", bundle.clone())]
            }
            Limit::Owner(o) => self.owner_fields(o),
            Limit::EffectiveAccess(e) => self.effective_fields(e),
        }
    }

    fn what(&self, d: &Denied) -> String {
        match (&d.privilege, &d.index, d.kind) {
            (Some(p), Some(i), PrivilegeKind::Index) => self.render(
                "part.what.on_index",
                &[("privilege", p.clone()), ("index", i.clone())],
            ),
            (Some(p), _, _) => self.render("part.what.privilege", &[("privilege", p.clone())]),
            _ => self.part("part.what.unknown"),
        }
    }

    fn owner_fields(&self, o: &OwnerLimit) -> Fields {
        let roles = if o.roles.is_empty() {
            self.part("part.roles.none")
        } else {
            self.render("part.roles.some", &[("roles", o.roles.join(", "))])
        };
        let what = self.what(&o.denied);
        let ticked = |names: &[String]| {
            names
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut caveats = Vec::new();
        if !o.undecided_mappings.is_empty() {
            let not_granting = o
                .undecided_not_granting
                .as_ref()
                .map_or_else(String::new, |r| {
                    self.render("part.caveat.not_granting", &[("roles", r.join(", "))])
                });
            caveats.push(self.render(
                if o.undecided_mappings.len() == 1 {
                    "part.caveat.undecided.one"
                } else {
                    "part.caveat.undecided.many"
                },
                &[
                    ("mappings", ticked(&o.undecided_mappings)),
                    ("not_granting", not_granting),
                ],
            ));
        }
        if !o.undefined_roles.is_empty() {
            caveats.push(self.render(
                if o.undefined_roles.len() == 1 {
                    "part.caveat.undefined.one"
                } else {
                    "part.caveat.undefined.many"
                },
                &[("roles", ticked(&o.undefined_roles))],
            ));
        }
        let caveat = if caveats.is_empty() {
            String::new()
        } else {
            self.render("part.caveats", &[("caveats", caveats.join("; "))])
        };
        let mut v = vec![
            ("owner", o.owner.clone()),
            ("roles", roles),
            ("bundle", o.bundle.clone()),
            ("what", what),
            ("caveat", caveat),
            ("key_id", o.key_id.clone()),
        ];
        // The owner's lack names where its roles come from, or falls back to its mappings.
        if !(o.via.is_empty() && o.verdict == OwnerVerdict::Lacks) {
            v.push(("via", o.via.join(" and ")));
        }
        v
    }

    fn effective_fields(&self, e: &EffectiveAccess) -> Fields {
        let list = |v: &Option<Vec<String>>, unknown: &str| match v {
            Some(v) if v.is_empty() => self.part("part.access.nothing"),
            Some(v) => self.render("part.access.list", &[("names", v.join(", "))]),
            None => self.part(unknown),
        };
        let indices: String = e
            .indices
            .iter()
            .filter_map(|ia| {
                let code = match (ia.by_key, ia.by_user) {
                    (Some(false), Some(false)) => "part.access.index.neither",
                    (Some(false), _) => "part.access.index.key",
                    (_, Some(false)) => "part.access.index.caller",
                    (Some(true), Some(true)) => "part.access.index.both",
                    _ => return None,
                };
                Some(self.render(code, &[("index", ia.index.clone())]))
            })
            .collect();
        let named = |caller: &str, named: &str| {
            if e.roles.is_empty() {
                self.part(caller)
            } else {
                self.render(named, &[("roles", e.roles.join(", "))])
            }
        };
        let mut v: Fields = Vec::new();
        if let Some(who) = &e.who {
            v.push(("who", who.clone()));
        }
        v.push(("alias", e.alias.clone()));
        v.push((
            "user_access",
            list(&e.user_access, "part.access.roles_unknown"),
        ));
        v.push(("indices", indices));
        match &e.key_id {
            Some(k) => {
                v.push(("key_id", k.clone()));
                v.push(("access_kind", e.access_kind.as_str().to_string()));
                v.push(("key_access", list(&e.key_access, "part.access.key_unknown")));
                v.push((
                    "roles",
                    named("part.access.roles.caller", "part.access.roles.named"),
                ));
                v.push((
                    "effective",
                    if e.key_access.is_some() && e.user_access.is_some() {
                        self.render("part.access.list", &[("names", e.effective.join(", "))])
                    } else {
                        self.part("part.access.not_computable")
                    },
                ));
            }
            None => v.push((
                "roles",
                named(
                    "part.access.own_roles.caller",
                    "part.access.own_roles.named",
                ),
            )),
        }
        v
    }
}

impl Fact {
    /// The stable code of the fact, and of its template.
    pub fn code(&self) -> &'static str {
        match self {
            Fact::Limit(l) => match l {
                Limit::DeletedSince {
                    created: Some(_), ..
                } => "limit.deleted_since",
                Limit::DeletedSince { created: None, .. } => "limit.deleted_since.undated",
                Limit::ListedElsewhere { .. } => "limit.listed_elsewhere",
                Limit::RoleDescriptors => "limit.role_descriptors",
                Limit::LimitedBy => "limit.limited_by",
                Limit::LimitedByUnverified => "limit.limited_by.unverified",
                Limit::NoDescriptors => "limit.no_descriptors",
                Limit::OwnerUnknown { .. } => "limit.owner_unknown",
                Limit::Owner(o) => match o.verdict {
                    OwnerVerdict::Grants => "limit.owner_grants",
                    OwnerVerdict::Undecided => "limit.owner_undecided",
                    OwnerVerdict::Lacks => "limit.owner_lacks",
                },
                Limit::EffectiveAccess(e) if e.key_id.is_some() => "limit.effective_access",
                Limit::EffectiveAccess(_) => "limit.remote_indices",
            },
            Fact::IndexMatch { matching, .. } if matching.is_empty() => "index_match.none",
            Fact::IndexMatch { .. } => "index_match.without_privilege",
            Fact::ClientJoin(_) => "client_join",
            Fact::AuditGap(AuditGap::NoAuditLog) => "audit_gap.no_audit_log",
            Fact::AuditGap(AuditGap::NoConfigEvents { .. }) => "audit_gap.no_config_events",
            Fact::AuditGap(AuditGap::NotNamed { .. }) => "audit_gap.not_named",
            Fact::KeyInference(k) => match k {
                KeyInference::NoneExpired { .. } => "key_inference.none_expired",
                KeyInference::OnlyExpired { .. } => "key_inference.only_expired",
                KeyInference::ManyExpired { .. } => "key_inference.many_expired",
                KeyInference::QueryingHandshake { .. } => "key_inference.querying_handshake",
            },
            Fact::Cluster(c) => match c.verdict {
                ClusterVerdict::DecidedAbsent => "cluster.decided_absent",
                ClusterVerdict::ConfirmedAbsent => "cluster.confirmed_absent",
                ClusterVerdict::Deleted => "cluster.deleted",
                ClusterVerdict::AbsentYetAuthenticated => "cluster.absent_yet_authenticated",
                ClusterVerdict::ContradictsMissing => "cluster.contradicts_missing",
                ClusterVerdict::Confirmed => "cluster.confirmed",
                ClusterVerdict::ContradictsState => "cluster.contradicts_state",
                ClusterVerdict::DecidedCrossCluster => "cluster.decided_cross_cluster",
                ClusterVerdict::Shows => "cluster.shows",
            },
            Fact::Probe(p) => match p.verdict {
                ProbeVerdict::DecidedWrongSecret => "probe.decided_wrong_secret",
                ProbeVerdict::Rejected { .. } => "probe.rejected",
                ProbeVerdict::ContradictsFailure => "probe.contradicts_failure",
                ProbeVerdict::Authenticates => "probe.authenticates",
                ProbeVerdict::Holds { .. } => "probe.holds",
                ProbeVerdict::Lacks { .. } => "probe.lacks",
            },
            Fact::OtherSide { .. } => "other_side",
        }
    }

    /// The fact's fields as its template sees them (the JSON report's `fields`).
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        texts().code_and_fields(self).1
    }

    /// State the fact: its sentence from `rules/facts.toml`.
    pub fn stated(self) -> Stated {
        let text = texts().sentence(&self);
        Stated { fact: self, text }
    }
}

/// Each module's source says only codes its table lists, and every code of its table: a code
/// is a quoted string that starts with one of the table's first segments (`key.`,
/// `evidence.`…) or a pass's usual ones.
#[cfg(test)]
pub(crate) fn assert_said_as_listed(modules: &[(&str, Words)]) {
    for (source, table) in modules {
        let (unknown, unused) = unlisted_and_unsaid(source, table);
        assert!(unknown.is_empty(), "said but not in its WORDS: {unknown:?}");
        assert!(unused.is_empty(), "in WORDS but never said: {unused:?}");
    }
}

#[cfg(test)]
fn unlisted_and_unsaid(source: &str, table: Words) -> (Vec<String>, Vec<String>) {
    use std::collections::BTreeSet;
    let mut heads: BTreeSet<&str> = ["evidence", "check", "part", "decided", "said", "step"]
        .into_iter()
        .collect();
    heads.extend(table.iter().filter_map(|(c, _)| c.split('.').next()));
    let heads: Vec<&str> = heads.into_iter().collect();
    let re = regex::Regex::new(&format!(r#""((?:{})\.[a-z0-9_.]+)""#, heads.join("|"))).unwrap();
    // The code before its tests module (an item-level `#[cfg(test)]` is not it).
    let code = source.split("\n#[cfg(test)]\nmod tests").next().unwrap();
    let start = code.find("pub const WORDS").unwrap();
    // The table ends at its first `];` (on its own line, or the table's one line).
    let end = start + code[start..].find("];\n").unwrap();
    let body = format!("{}{}", &code[..start], &code[end..]);
    let said: BTreeSet<String> = re
        .captures_iter(&body)
        .map(|c| c.get(1).unwrap().as_str().to_string())
        .collect();
    let known: BTreeSet<String> = table.iter().map(|(c, _)| c.to_string()).collect();
    (
        said.difference(&known).cloned().collect(),
        known.difference(&said).cloned().collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sentence_a_pass_says_is_in_its_table_and_every_entry_is_said() {
        let modules: [(&str, Words); 5] = [
            (
                include_str!("differential.rs"),
                super::super::differential::WORDS,
            ),
            (include_str!("correlate.rs"), super::super::correlate::WORDS),
            (include_str!("classify.rs"), super::super::classify::WORDS),
            (
                include_str!("owner_roles.rs"),
                super::super::owner_roles::WORDS,
            ),
            (include_str!("two_sided.rs"), super::super::two_sided::WORDS),
        ];
        assert_said_as_listed(&modules);
    }

    #[test]
    fn a_stray_field_an_unknown_code_and_a_missing_template_are_reported() {
        let problems = check_text(
            "[text]\n\"limit.owner_unknown\" = \"{owner} and {nonsense}\"\n\"limit.made_up\" = \"x\"\n",
            &[],
        );
        assert!(problems
            .iter()
            .any(|p| p.contains("`limit.owner_unknown` uses `{nonsense}`")));
        assert!(problems
            .iter()
            .any(|p| p.contains("`limit.made_up` is no fact")));
        assert!(problems
            .iter()
            .any(|p| p.contains("no template for the fact `cluster.shows`")));
    }

    #[test]
    fn an_owner_lack_without_a_source_falls_back_to_its_mappings() {
        let fact = Fact::Limit(Limit::Owner(OwnerLimit {
            verdict: OwnerVerdict::Lacks,
            owner: "ingest".into(),
            bundle: "diag-1".into(),
            key_id: "k1".into(),
            roles: vec![],
            via: vec![],
            denied: Denied {
                privilege: Some("write".into()),
                index: Some("logs-x".into()),
                kind: PrivilegeKind::Index,
            },
            undecided_mappings: vec![],
            undecided_not_granting: None,
            undefined_roles: vec!["a".into(), "b".into()],
        }));
        let s = fact.stated();
        assert_eq!(s.code(), "limit.owner_lacks");
        assert_eq!(
            s.text,
            "limited_by: the owner `ingest`'s no roles in bundle diag-1 (from its role mappings) do not grant `write` on `logs-x` (roles `a`, `b` are not in commercial/security_roles.json): a key never has more than its owner, so no change to the key's role descriptors can add it"
        );
    }

    #[test]
    fn effective_access_names_each_index_and_which_side_lacks_it() {
        let e = EffectiveAccess {
            who: None,
            alias: "eu".into(),
            key_id: Some("ck".into()),
            access_kind: AccessKind::Search,
            key_access: Some(vec!["logs-*".into()]),
            roles: vec![],
            user_access: None,
            effective: vec![],
            indices: vec![IndexAccess {
                index: "metrics-1".into(),
                by_key: Some(false),
                by_user: None,
            }],
        };
        assert!(e.key_lacks() && !e.caller_lacks() && !e.neither());
        let s = Fact::Limit(Limit::EffectiveAccess(e)).stated();
        assert_eq!(
            s.text,
            "Effective access of the caller on `eu` = the cross-cluster key ck's search access [logs-*] ∩ the caller's roles' `remote_indices` for `eu` (unknown: give the querying cluster's GET /_security/role answer) = not computable. `metrics-1`: the cross-cluster key's access does not cover it (the fulfilling side)."
        );
    }
}
