//! The privilege atlas (`atlas/privileges.toml`): every named cluster and index privilege, the
//! action patterns it grants in each version, and the order Elasticsearch lists them in a
//! denial's "this action is granted by the … privileges [...]".
//!
//! Patterns are Elasticsearch's `Automatons.patterns` subset the atlas needs: an exact action
//! name, or a prefix followed by `*`. Because every pattern is one of those two, "is set A a
//! subset of set B" (what `sortByAccessLevel` asks of two privileges' automata) is decided
//! pattern by pattern, without building automata.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::model::{PrivilegeKind, Version};

static SOURCE: &str = include_str!("../../atlas/privileges.toml");

/// The newest version line the atlas describes; versions above it read as it.
pub const NEWEST: Version = Version(9, 4, 0);

/// Which part of a data stream a privilege reaches (`IndexComponentSelectorPredicate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// The data (every privilege before 8.19/9.1 and most after).
    #[default]
    Data,
    /// Only the failure store, through the `::failures` selector.
    Failures,
    /// Both, as one grant (`manage`, `manage_data_stream_lifecycle`).
    DataAndFailures,
    /// Everything (`all`).
    All,
}

impl Component {
    pub fn reaches_data(self) -> bool {
        !matches!(self, Self::Failures)
    }

    pub fn reaches_failures(self) -> bool {
        !matches!(self, Self::Data)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdded {
    since: String,
    actions: Vec<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default = "yes")]
    verified: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrivilege {
    name: String,
    kind: String,
    since: String,
    actions: Vec<String>,
    #[serde(default)]
    excludes: Vec<String>,
    #[serde(default)]
    component: Component,
    #[serde(default = "yes")]
    serverless: bool,
    #[serde(default)]
    depends_on_request: bool,
    #[serde(default)]
    internal: bool,
    #[serde(default = "yes")]
    suggest: bool,
    #[serde(default = "yes")]
    verified: bool,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    added: Vec<RawAdded>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRestricted {
    since: String,
    indices: Vec<String>,
    source: String,
    #[serde(default = "yes")]
    verified: bool,
}

/// Index names a pattern never matches without `allow_restricted_indices`, from a version on.
#[derive(Debug, Clone)]
pub struct Restricted {
    pub since: Since,
    pub indices: Vec<String>,
    pub source: String,
    pub verified: bool,
}

/// A "granted by" list seen in a corpus that the atlas does not reproduce, with why.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disagreement {
    pub action: String,
    pub seen: Vec<String>,
    pub version: String,
    pub case: String,
    pub why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAtlas {
    privilege: Vec<RawPrivilege>,
    restricted: Vec<RawRestricted>,
    #[serde(default)]
    disagreement: Vec<Disagreement>,
}

/// The first version of each major line that has something: `"8.19, 9.1"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Since(Vec<Version>);

impl Since {
    fn parse(text: &str) -> Option<Self> {
        let mut lines = text
            .split(',')
            .map(|p| Version::parse(p.trim()))
            .collect::<Option<Vec<_>>>()?;
        lines.sort();
        (!lines.is_empty()).then_some(Self(lines))
    }

    /// Whether version `v` has it: the entry of `v`'s major line decides; a major line newer
    /// than every entry has it, an older one does not.
    pub fn holds(&self, v: Version) -> bool {
        match self.0.iter().find(|s| s.0 == v.0) {
            Some(first) => v >= *first,
            None => self.0.iter().all(|s| s.0 < v.0),
        }
    }

    /// The earliest version named, for messages (`8.19`).
    pub fn first(&self) -> Version {
        self.0[0]
    }
}

impl std::fmt::Display for Since {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(", "))
    }
}

/// Patterns a later version adds to a privilege.
#[derive(Debug, Clone)]
pub struct Added {
    pub since: Since,
    pub actions: Vec<String>,
    pub source: Option<String>,
    pub verified: bool,
}

/// One named privilege.
#[derive(Debug, Clone)]
pub struct Privilege {
    pub name: String,
    pub kind: PrivilegeKind,
    pub since: Since,
    pub actions: Vec<String>,
    pub excludes: Vec<String>,
    pub component: Component,
    pub serverless: bool,
    pub depends_on_request: bool,
    pub internal: bool,
    /// Whether keydoctor may propose it as the privilege to add (not internal, and not
    /// narrower only because it serves another feature).
    pub suggest: bool,
    pub verified: bool,
    pub source: Option<String>,
    pub added: Vec<Added>,
}

impl Privilege {
    /// Whether version `v` has this privilege.
    pub fn exists_in(&self, v: Version) -> bool {
        self.since.holds(v)
    }

    /// The patterns it grants in version `v`.
    pub fn patterns_at(&self, v: Version) -> Vec<&str> {
        let mut out: Vec<&str> = self.actions.iter().map(String::as_str).collect();
        for added in &self.added {
            if added.since.holds(v) {
                out.extend(added.actions.iter().map(String::as_str));
            }
        }
        out
    }

    /// Whether it grants `action` in version `v` (the action's own shard suffix included:
    /// `indices:data/write/bulk[s]` is matched whole, as Elasticsearch matches it).
    pub fn grants(&self, action: &str, v: Version) -> bool {
        self.exists_in(v)
            && self
                .patterns_at(v)
                .iter()
                .any(|p| pattern_covers_action(p, action))
            && !self
                .excludes
                .iter()
                .any(|e| pattern_covers_action(e, action))
    }

    /// Whether everything it grants in `v` is granted by `other` in `v` (`Operations.subsetOf`).
    fn subset_of(&self, other: &Privilege, v: Version) -> bool {
        self.patterns_at(v).iter().all(|p| {
            other
                .patterns_at(v)
                .iter()
                .any(|q| pattern_covers_pattern(q, p))
                && !other
                    .excludes
                    .iter()
                    .any(|e| patterns_meet(e, p) && !self.carves(e))
        })
    }

    /// Whether this privilege itself carves out everything `e` names (so `other`'s exclusion
    /// of `e` takes nothing from it).
    fn carves(&self, e: &str) -> bool {
        self.excludes
            .iter()
            .any(|own| pattern_covers_pattern(own, e))
    }
}

/// The atlas, parsed once.
pub struct Atlas {
    pub privileges: Vec<Privilege>,
    pub restricted: Vec<Restricted>,
    pub disagreements: Vec<Disagreement>,
}

/// A problem in `atlas/privileges.toml` (found by `cargo test` and at first use).
#[derive(Debug)]
pub struct AtlasError(pub String);

fn compile(source: &str) -> Result<Atlas, AtlasError> {
    let raw: RawAtlas =
        toml::from_str(source).map_err(|e| AtlasError(format!("atlas/privileges.toml: {e}")))?;
    let mut privileges = Vec::new();
    for p in raw.privilege {
        let kind = match p.kind.as_str() {
            "index" => PrivilegeKind::Index,
            "cluster" => PrivilegeKind::Cluster,
            other => {
                return Err(AtlasError(format!(
                    "privilege `{}`: kind `{other}` is neither index nor cluster",
                    p.name
                )))
            }
        };
        let since = Since::parse(&p.since).ok_or_else(|| {
            AtlasError(format!(
                "privilege `{}`: since `{}` is not a version list",
                p.name, p.since
            ))
        })?;
        let mut added = Vec::new();
        for a in p.added {
            let s = Since::parse(&a.since).ok_or_else(|| {
                AtlasError(format!(
                    "privilege `{}`: added since `{}` is not a version list",
                    p.name, a.since
                ))
            })?;
            added.push(Added {
                since: s,
                actions: a.actions,
                source: a.source,
                verified: a.verified,
            });
        }
        for pattern in p
            .actions
            .iter()
            .chain(&p.excludes)
            .chain(added.iter().flat_map(|a| &a.actions))
        {
            if pattern.is_empty() || pattern[..pattern.len() - 1].contains(['*', '?']) {
                return Err(AtlasError(format!(
                    "privilege `{}`: pattern `{pattern}` is neither an action nor a prefix ending in *",
                    p.name
                )));
            }
        }
        privileges.push(Privilege {
            name: p.name,
            kind,
            since,
            actions: p.actions,
            excludes: p.excludes,
            component: p.component,
            serverless: p.serverless,
            depends_on_request: p.depends_on_request,
            internal: p.internal,
            suggest: p.suggest && !p.internal,
            verified: p.verified,
            source: p.source,
            added,
        });
    }
    let mut restricted = Vec::new();
    for r in raw.restricted {
        let since = Since::parse(&r.since).ok_or_else(|| {
            AtlasError(format!(
                "restricted: since `{}` is not a version list",
                r.since
            ))
        })?;
        restricted.push(Restricted {
            since,
            indices: r.indices,
            source: r.source,
            verified: r.verified,
        });
    }
    Ok(Atlas {
        privileges,
        restricted,
        disagreements: raw.disagreement,
    })
}

/// The embedded atlas. It is checked by `cargo test`; a broken one is a build defect.
pub fn atlas() -> &'static Atlas {
    static ATLAS: OnceLock<Atlas> = OnceLock::new();
    ATLAS.get_or_init(|| match compile(SOURCE) {
        Ok(a) => a,
        Err(e) => panic!("the embedded privilege atlas is invalid: {}", e.0),
    })
}

/// The oldest version line the atlas describes; older versions read as it.
pub const OLDEST: Version = Version(7, 17, 0);

/// The version an answer is computed for: the given one within the lines the atlas describes
/// (older ones read as 7.17, newer as the newest), or the newest when none is known.
pub fn effective(version: Option<Version>) -> Version {
    match version {
        Some(v) if v > NEWEST => NEWEST,
        Some(v) if v < OLDEST => OLDEST,
        Some(v) => v,
        None => NEWEST,
    }
}

impl Atlas {
    /// The privilege named `name` of `kind`, in any version.
    pub fn named(&self, kind: PrivilegeKind, name: &str) -> Option<&Privilege> {
        let name = name.to_ascii_lowercase();
        self.privileges
            .iter()
            .find(|p| p.kind == kind && p.name == name)
    }

    /// Whether `action` is an index action (`IndexPrivilege.ACTION_MATCHER`, `all`'s patterns)
    /// rather than a cluster one. Templates are cluster actions despite their prefix.
    pub fn is_index_action(&self, action: &str) -> bool {
        let cluster = self
            .named(PrivilegeKind::Cluster, "all")
            .is_some_and(|all| all.grants(action, NEWEST));
        !cluster
            && self
                .named(PrivilegeKind::Index, "all")
                .is_some_and(|all| all.grants(action, NEWEST))
    }

    /// The kind of privilege that governs `action`.
    pub fn kind_of(&self, action: &str) -> PrivilegeKind {
        if self.is_index_action(action) {
            PrivilegeKind::Index
        } else {
            PrivilegeKind::Cluster
        }
    }

    /// The privileges of `kind` version `v` has, in the order Elasticsearch sorts them
    /// (`sortByAccessLevel`): index privileges by how many others they are a subset of, most
    /// first; cluster privileges by how many others they imply, fewest first; then by name. From
    /// 8.19/9.1 the failure-store privileges are a group of their own, listed first.
    pub fn sorted(&self, kind: PrivilegeKind, v: Version) -> Vec<&Privilege> {
        let present: Vec<&Privilege> = self
            .privileges
            .iter()
            .filter(|p| p.kind == kind && p.exists_in(v))
            .collect();
        let group = |failures: bool| -> Vec<&Privilege> {
            let members: Vec<&Privilege> = present
                .iter()
                .copied()
                .filter(|p| (p.component == Component::Failures) == failures)
                .collect();
            let mut keyed: Vec<(i64, &str, &Privilege)> = members
                .iter()
                .map(|p| {
                    let key = match kind {
                        PrivilegeKind::Index => {
                            -(members
                                .iter()
                                .filter(|o| o.name != p.name && p.subset_of(o, v))
                                .count() as i64)
                        }
                        PrivilegeKind::Cluster => members
                            .iter()
                            .filter(|o| o.name != p.name && implies(p, o, v))
                            .count() as i64,
                    };
                    (key, p.name.as_str(), *p)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)));
            keyed.into_iter().map(|(_, _, p)| p).collect()
        };
        let mut out = group(true);
        out.extend(group(false));
        out
    }

    /// What Elasticsearch `v` lists after "this action is granted by the … privileges" for
    /// `action`, least privileged first: data-access privileges only, and (cluster) only those
    /// whose grant does not depend on the request, save a key's own creation and update.
    pub fn granting(&self, action: &str, v: Version) -> Vec<&Privilege> {
        let kind = self.kind_of(action);
        self.sorted(kind, v)
            .into_iter()
            .filter(|p| p.grants(action, v))
            .filter(|p| kind == PrivilegeKind::Cluster || p.component.reaches_data())
            .filter(|p| !p.depends_on_request || own_key_action(action))
            .collect()
    }

    /// The privileges that grant `action` on a data stream's failure store (`::failures`).
    pub fn granting_failures(&self, action: &str, v: Version) -> Vec<&Privilege> {
        self.sorted(PrivilegeKind::Index, v)
            .into_iter()
            .filter(|p| p.component.reaches_failures() && p.grants(action, v))
            .collect()
    }

    /// Whether `index` is a restricted index in version `v` (never matched by a pattern
    /// without `allow_restricted_indices`).
    pub fn is_restricted(&self, index: &str, v: Version) -> bool {
        self.restricted
            .iter()
            .filter(|r| r.since.holds(v))
            .flat_map(|r| &r.indices)
            .any(|p| pattern_covers_action(p, index))
    }
}

impl Atlas {
    /// The privilege to propose from `list` (a "granted by" list, least first): the first the
    /// atlas does not mark as not to suggest (an unknown name is proposed as Elasticsearch gave
    /// it). When only `manage` or `all` would be left (a cross-cluster action: what grants it is
    /// derived from a cross-cluster key's access), the list's first, not a broad grant.
    pub fn least_to_suggest<'a>(
        &self,
        kind: PrivilegeKind,
        list: &'a [String],
    ) -> Option<&'a String> {
        list.iter()
            .find(|name| self.named(kind, name).is_none_or(|p| p.suggest))
            .filter(|name| !matches!(name.as_str(), "manage" | "all") || list[0] == **name)
            .or_else(|| list.first())
    }
}

/// The API-key actions `manage_own_api_key` always grants (the key is the caller's own).
fn own_key_action(action: &str) -> bool {
    matches!(
        action,
        "cluster:admin/xpack/security/api_key/create"
            | "cluster:admin/xpack/security/api_key/update"
            | "cluster:admin/xpack/security/api_key/bulk_update"
    )
}

/// Whether cluster privilege `p` implies `o` (`ClusterPermission.implies`): `o`'s actions are a
/// subset of `p`'s. A privilege whose grant depends on the request implies only privileges that
/// grant nothing, and is implied by one whose actions cover it.
fn implies(p: &Privilege, o: &Privilege, v: Version) -> bool {
    if o.patterns_at(v).is_empty() {
        return true;
    }
    if p.depends_on_request && !o.depends_on_request {
        return false;
    }
    o.subset_of(p, v)
}

/// Whether pattern `p` (exact or `prefix*`) matches `action`.
pub fn pattern_covers_action(p: &str, action: &str) -> bool {
    match p.strip_suffix('*') {
        Some(prefix) => action.starts_with(prefix),
        None => p == action,
    }
}

/// Whether every action pattern `inner` matches is matched by `outer`.
fn pattern_covers_pattern(outer: &str, inner: &str) -> bool {
    match (outer.strip_suffix('*'), inner.strip_suffix('*')) {
        (Some(o), Some(i)) => i.starts_with(o),
        (Some(o), None) => inner.starts_with(o),
        (None, Some(_)) => false,
        (None, None) => outer == inner,
    }
}

/// Whether two patterns match some action in common.
fn patterns_meet(a: &str, b: &str) -> bool {
    match (a.strip_suffix('*'), b.strip_suffix('*')) {
        (Some(x), Some(y)) => x.starts_with(y) || y.starts_with(x),
        (Some(x), None) => b.starts_with(x),
        (None, Some(y)) => a.starts_with(y),
        (None, None) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn names(list: Vec<&Privilege>) -> Vec<&str> {
        list.into_iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn the_embedded_atlas_compiles_and_names_each_privilege_once() {
        let a = compile(SOURCE).unwrap_or_else(|e| panic!("{}", e.0));
        let mut seen = std::collections::BTreeSet::new();
        for p in &a.privileges {
            assert!(
                seen.insert((p.kind.as_str(), p.name.clone())),
                "{} twice",
                p.name
            );
        }
        assert!(a.privileges.len() > 70, "{}", a.privileges.len());
    }

    #[test]
    fn since_reads_one_entry_per_major_line() {
        let s = Since::parse("8.19, 9.1").unwrap();
        assert!(!s.holds(v("7.17")));
        assert!(!s.holds(v("8.18")));
        assert!(s.holds(v("8.19.2")));
        assert!(!s.holds(v("9.0")));
        assert!(s.holds(v("9.1")));
        assert!(s.holds(v("10.0")));
        let s = Since::parse("8.11").unwrap();
        assert!(!s.holds(v("7.17")) && !s.holds(v("8.10")) && s.holds(v("8.11")));
        assert!(s.holds(v("9.0")));
        assert!(Since::parse("8.x").is_none());
    }

    #[test]
    fn pattern_subsets_are_decided_by_prefix() {
        assert!(pattern_covers_pattern(
            "indices:data/*",
            "indices:data/write/*"
        ));
        assert!(pattern_covers_pattern(
            "indices:data/*",
            "indices:data/write"
        ));
        assert!(!pattern_covers_pattern(
            "indices:data/write",
            "indices:data/write*"
        ));
        assert!(patterns_meet("cluster:*", "cluster:admin/xpack/security/*"));
        assert!(!patterns_meet("cluster:monitor/*", "cluster:admin/*"));
    }

    #[test]
    fn granting_lists_follow_elasticsearchs_order() {
        let a = atlas();
        let at = |action: &str, version: &str| names(a.granting(action, v(version)));
        assert_eq!(
            at("indices:data/write/bulk[s]", "9.4.1"),
            ["create_doc", "create", "delete", "index", "write", "all"]
        );
        assert_eq!(at("indices:data/read/search", "8.16"), ["read", "all"]);
        assert_eq!(
            at("cluster:monitor/main", "8.12"),
            ["monitor", "manage", "all"]
        );
        assert_eq!(
            at("cluster:admin/xpack/security/api_key/invalidate", "7.17"),
            ["manage_api_key", "manage_security", "all"]
        );
        assert_eq!(
            at("cluster:admin/xpack/security/api_key/create", "8.12"),
            [
                "manage_own_api_key",
                "manage_api_key",
                "manage_security",
                "all"
            ]
        );
        assert_eq!(
            at("indices:admin/auto_create", "8.1"),
            ["auto_configure", "create_index", "manage", "all"]
        );
        assert_eq!(
            at("cluster:internal/remote_cluster/handshake", "8.12"),
            [
                "cross_cluster_search",
                "cross_cluster_replication",
                "manage",
                "all"
            ]
        );
        assert_eq!(
            at("cluster:admin/ilm/put", "8.12"),
            ["manage_ilm", "manage", "all"]
        );
        // Templates are cluster actions despite their prefix.
        assert_eq!(
            a.kind_of("indices:admin/index_template/put"),
            PrivilegeKind::Cluster
        );
        assert_eq!(a.kind_of("indices:data/write/bulk"), PrivilegeKind::Index);
    }

    #[test]
    fn the_least_privilege_proposed_skips_other_features_privileges() {
        let a = atlas();
        let list = |action: &str| -> Vec<String> {
            a.granting(action, v("8.15"))
                .into_iter()
                .map(|p| p.name.clone())
                .collect()
        };
        let state = list("cluster:monitor/state");
        assert_eq!(state[0], "cross_cluster_replication");
        assert_eq!(
            a.least_to_suggest(PrivilegeKind::Cluster, &state)
                .map(String::as_str),
            Some("monitor")
        );
        let create = list("cluster:admin/xpack/security/api_key/create");
        assert_eq!(
            a.least_to_suggest(PrivilegeKind::Cluster, &create)
                .map(String::as_str),
            Some("manage_own_api_key")
        );
        // Only broad grants left: the list's first stands.
        let handshake = list("cluster:internal/remote_cluster/handshake");
        assert_eq!(
            a.least_to_suggest(PrivilegeKind::Cluster, &handshake),
            handshake.first()
        );
        let unknown = vec!["manage_frobs".to_string(), "all".to_string()];
        assert_eq!(
            a.least_to_suggest(PrivilegeKind::Cluster, &unknown)
                .map(String::as_str),
            Some("manage_frobs")
        );
    }

    #[test]
    fn failure_store_privileges_are_their_own_group() {
        let a = atlas();
        assert!(a
            .named(PrivilegeKind::Index, "read_failure_store")
            .is_some());
        let on_failures = names(a.granting_failures("indices:data/read/search", v("9.1")));
        assert_eq!(on_failures, ["read_failure_store", "all"]);
        assert!(a
            .granting_failures("indices:data/read/search", v("9.0"))
            .iter()
            .all(|p| p.name != "read_failure_store"));
        // The denial's list is of data privileges only.
        assert!(!names(a.granting("indices:data/read/search", v("9.1")))
            .contains(&"read_failure_store"));
    }

    #[test]
    fn restricted_indices_are_recognised() {
        let a = atlas();
        let (old, new) = (v("7.17"), v("8.12"));
        assert!(a.is_restricted(".security-7", old) && a.is_restricted(".security-7", new));
        assert!(a.is_restricted(".security", new));
        assert!(!a.is_restricted("security-logs", new));
        assert!(!a.is_restricted(".kibana_7.17.0", old));
        assert!(a.is_restricted(".kibana_8.12.0", new));
        assert!(!a.is_restricted("kibana-logs", new));
    }
}
