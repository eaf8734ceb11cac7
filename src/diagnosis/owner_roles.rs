//! A denied REST key's owner, per a support bundle's users, role mappings and roles: do the
//! owner's roles grant what the key was denied? If not, no change to the key can add it
//! (`limited_by`); if so, the key's own descriptors, or a snapshot older than the grant, are the
//! limit.
//!
//! - **In**: an `under_privileged` finding (a key id, its owner from `of user [U]`, the
//!   privileges that would grant the action) without key metadata, and the bundle's
//!   `GET /_security/user`, `GET /_security/role_mapping` and `GET /_security/role` answers.
//! - **Out**: the finding's `limit_source`, and a first remediation step that adds the least
//!   privilege to an owner's role (the whole role, one entry added) when the owner lacks it.
//! - **Never**: decide from a role mapping whose rules depend on what the bundle cannot show
//!   (groups, DN, realm, metadata, templates): those mappings are named, undecided.

use serde_json::Value;

use super::classify::writable_descriptor;
use super::fact::{Denied, Fact, Limit, OwnerLimit, OwnerVerdict};
use super::privileges::{self, descriptors_grant, pattern_matches, strings_at, PrivilegeKind};
use crate::diagnosis::{Finding, RenderedStep};
use crate::model::Class;

/// The sentences this pass says, with their fields (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[
    ("said.owner.native_user", &[]),
    ("step.owner_role.title", &["what", "role"]),
    (
        "step.owner_role.text",
        &["role", "bundle", "owner", "key_id"],
    ),
];

/// The bundle's security answers.
pub struct Security<'a> {
    /// How the report names the bundle.
    pub label: &'a str,
    pub users: Option<&'a Value>,
    pub mappings: Option<&'a Value>,
    pub roles: &'a Value,
}

/// The owner's roles as the bundle shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRoles {
    pub roles: Vec<String>,
    /// Where they come from (`commercial/security_users.json`, `role mapping \`m\``).
    pub via: Vec<String>,
    /// Enabled role mappings that may apply, but on facts the bundle lacks.
    pub undecided: Vec<String>,
    /// The roles those mappings would add (`None`: a template, which no bundle can resolve).
    pub undecided_roles: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Unknown,
}

/// A role mapping's `rules` for a user known only by name.
fn rule_matches(rule: &Value, username: &str) -> Tri {
    let all = |list: &Value, want_all: bool| {
        let results: Vec<Tri> = list
            .as_array()
            .map(|l| l.iter().map(|r| rule_matches(r, username)).collect())
            .unwrap_or_default();
        let (decisive, other) = if want_all {
            (Tri::No, Tri::Yes)
        } else {
            (Tri::Yes, Tri::No)
        };
        if results.contains(&decisive) {
            decisive
        } else if results.contains(&Tri::Unknown) {
            Tri::Unknown
        } else {
            other
        }
    };
    if let Some(list) = rule.get("any") {
        return all(list, false);
    }
    if let Some(list) = rule.get("all") {
        return all(list, true);
    }
    if let Some(inner) = rule.get("except") {
        return match rule_matches(inner, username) {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            Tri::Unknown => Tri::Unknown,
        };
    }
    let Some(field) = rule.get("field").and_then(Value::as_object) else {
        return Tri::Unknown;
    };
    let Some(want) = field.get("username") else {
        // groups, dn, realm.name, metadata.*: not in the bundle.
        return Tri::Unknown;
    };
    let values: Vec<&Value> = match want {
        Value::Array(l) => l.iter().collect(),
        v => vec![v],
    };
    let mut unknown = false;
    for v in values {
        match v.as_str() {
            Some(p) if p.starts_with('/') => unknown = true,
            Some(p) if pattern_matches(p, username) => return Tri::Yes,
            Some(_) => {}
            None => unknown = true,
        }
    }
    if unknown {
        Tri::Unknown
    } else {
        Tri::No
    }
}

/// The owner's roles: a native or reserved user's own (`GET /_security/user`), else those of
/// the role mappings whose rules match the user name.
pub fn owner_roles(owner: &str, sec: &Security) -> Option<OwnerRoles> {
    let mut out = OwnerRoles {
        roles: Vec::new(),
        via: Vec::new(),
        undecided: Vec::new(),
        undecided_roles: Some(Vec::new()),
    };
    if let Some(user) = sec.users.and_then(|u| u.get(owner)) {
        // Native and reserved users get their roles from the user; role mappings serve the
        // other realms (LDAP, AD, SAML, OIDC, PKI, JWT, Kerberos).
        out.roles.extend(strings_at(user, "roles"));
        out.via
            .push(super::fact::say("said.owner.native_user", &[]));
    } else if let Some(mappings) = sec.mappings.and_then(Value::as_object) {
        for (name, m) in mappings {
            if m.get("enabled").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            let Some(rules) = m.get("rules") else {
                continue;
            };
            let templated = m.get("role_templates").is_some();
            match rule_matches(rules, owner) {
                Tri::Yes if !templated => {
                    out.roles.extend(strings_at(m, "roles"));
                    out.via.push(format!("role mapping `{name}`"));
                }
                Tri::No => {}
                _ => {
                    out.undecided.push(name.clone());
                    match (&mut out.undecided_roles, templated) {
                        (Some(r), false) => r.extend(strings_at(m, "roles")),
                        (r, _) => *r = None,
                    }
                }
            }
        }
    }
    out.roles.sort();
    out.roles.dedup();
    (!out.via.is_empty() || !out.undecided.is_empty()).then_some(out)
}

/// Explain an `under_privileged` finding's limit from the bundle, when no key metadata did.
pub fn explain(f: &mut Finding, sec: &Security) {
    if f.class != Class::UnderPrivileged
        || f.limit().is_some()
        || f.key.metadata.is_some()
        || f.key.cross_cluster_key
        || f.denial.privileges.is_empty()
    {
        return;
    }
    let (Some(id), Some(owner)) = (f.key_id.clone(), f.key.user.clone()) else {
        return;
    };
    let Some(owned) = owner_roles(&owner, sec) else {
        f.state(Fact::Limit(Limit::OwnerUnknown {
            owner,
            bundle: sec.label.to_string(),
        }));
        return;
    };
    let kind = f.denial.privilege_kind.unwrap_or(PrivilegeKind::Index);
    let index = f.denial.indices.first().cloned();
    let defined: serde_json::Map<String, Value> = owned
        .roles
        .iter()
        .filter_map(|r| sec.roles.get(r).map(|d| (r.clone(), d.clone())))
        .collect();
    let missing: Vec<&String> = owned
        .roles
        .iter()
        .filter(|r| !defined.contains_key(*r))
        .collect();
    let grants = descriptors_grant(
        &Value::Object(defined.clone()),
        kind,
        &f.denial.privileges,
        index.as_deref(),
    );
    // The undecided mappings matter only if their roles would grant it.
    let undecided_grant = match &owned.undecided_roles {
        None => true,
        Some(extra) => {
            let defs: Option<serde_json::Map<String, Value>> = extra
                .iter()
                .map(|r| sec.roles.get(r).map(|d| (r.clone(), d.clone())))
                .collect();
            defs.is_none_or(|d| {
                descriptors_grant(
                    &Value::Object(d),
                    kind,
                    &f.denial.privileges,
                    index.as_deref(),
                )
            })
        }
    };
    let verdict = if grants {
        OwnerVerdict::Grants
    } else if !owned.undecided.is_empty() && undecided_grant {
        OwnerVerdict::Undecided
    } else {
        OwnerVerdict::Lacks
    };
    let denied = Denied {
        privilege: f.denial.least_privilege.clone(),
        index: index.clone(),
        kind,
    };
    let what = denied.text();
    f.state(Fact::Limit(Limit::Owner(OwnerLimit {
        verdict,
        owner: owner.clone(),
        bundle: sec.label.to_string(),
        key_id: id.clone(),
        roles: owned.roles.clone(),
        via: owned.via.clone(),
        denied,
        undecided_mappings: owned.undecided.clone(),
        undecided_not_granting: match (&owned.undecided_roles, undecided_grant) {
            (Some(r), false) => Some(r.clone()),
            _ => None,
        },
        undefined_roles: missing.iter().map(|m| (*m).clone()).collect(),
    })));
    if verdict != OwnerVerdict::Lacks {
        return;
    }
    // The smallest change: one entry in the owner's first role that the bundle defines.
    let Some(least) = f.denial.least_privilege.clone() else {
        return;
    };
    let Some((role_name, role)) = defined
        .iter()
        .find(|(_, d)| d.pointer("/metadata/_reserved").and_then(Value::as_bool) != Some(true))
    else {
        return;
    };
    let before = writable_descriptor(role);
    let after = privileges::role_with(&before, kind, &least, index.as_deref());
    let step = RenderedStep {
        when: Vec::new(),
        path: None,
        on: crate::model::RunsOn::Cluster,
        later: false,
        run_as: crate::model::RunAs::User,
        title: super::fact::say(
            "step.owner_role.title",
            &[("what", what.to_string()), ("role", role_name.to_string())],
        ),
        text: Some(super::fact::say(
            "step.owner_role.text",
            &[
                ("role", role_name.to_string()),
                ("bundle", sec.label.to_string()),
                ("owner", owner.to_string()),
                ("key_id", id.to_string()),
            ],
        )),
        request: Some(format!(
            "PUT /_security/role/{role_name}\n{}",
            privileges::format_json(&after)
        )),
        version_note: None,
        diff: Some(privileges::descriptors_diff(
            &serde_json::json!({ role_name.as_str(): before }),
            &serde_json::json!({ role_name.as_str(): after }),
            &format!("role {role_name} (bundle)"),
            &format!("role {role_name} (fixed)"),
        )),
    };
    if let Some(old) = f.denial.descriptor_fix.take() {
        f.remediation.retain(|s| *s != old);
    }
    f.remediation.insert(0, step.clone());
    f.denial.descriptor_fix = Some(step);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_mapping_rules_on_a_user_name() {
        let by_name = json!({"field": {"username": ["svc-*", "bob"]}});
        assert_eq!(rule_matches(&by_name, "svc-ingest"), Tri::Yes);
        assert_eq!(rule_matches(&by_name, "alice"), Tri::No);
        let groups = json!({"field": {"groups": "cn=admins,dc=example,dc=com"}});
        assert_eq!(rule_matches(&groups, "alice"), Tri::Unknown);
        let any = json!({"any": [groups, {"field": {"username": "alice"}}]});
        assert_eq!(rule_matches(&any, "alice"), Tri::Yes);
        assert_eq!(rule_matches(&any, "carol"), Tri::Unknown);
        let all = json!({"all": [{"field": {"username": "alice"}}, {"except": {"field": {"username": "alice"}}}]});
        assert_eq!(rule_matches(&all, "alice"), Tri::No);
        let regex = json!({"field": {"username": "/al.*/"}});
        assert_eq!(rule_matches(&regex, "alice"), Tri::Unknown);
    }

    #[test]
    fn owner_roles_from_users_and_mappings() {
        let users = json!({"ingest_owner": {"username": "ingest_owner", "roles": ["ingest_role"]}});
        let mappings = json!({
            "svc": {"enabled": true, "roles": ["monitoring"], "rules": {"field": {"username": "ingest_*"}}},
            "off": {"enabled": false, "roles": ["superuser"], "rules": {"field": {"username": "*"}}},
            "ldap": {"enabled": true, "roles": ["analyst"], "rules": {"field": {"groups": "cn=x"}}},
        });
        let roles = json!({});
        let sec = Security {
            label: "b",
            users: Some(&users),
            mappings: Some(&mappings),
            roles: &roles,
        };
        // A native user: its own roles; mappings do not apply to the native realm.
        let o = owner_roles("ingest_owner", &sec).unwrap();
        assert_eq!(o.roles, ["ingest_role"]);
        assert!(o.undecided.is_empty());
        // A realm user: the mappings whose rules match, and those the bundle cannot decide.
        let o = owner_roles("ingest_svc", &sec).unwrap();
        assert_eq!(o.roles, ["monitoring"]);
        assert_eq!(o.undecided, ["ldap"]);
        assert_eq!(o.via, ["role mapping `svc`"]);
        let nobody = Security {
            label: "b",
            users: Some(&users),
            mappings: None,
            roles: &roles,
        };
        assert_eq!(owner_roles("stranger", &nobody), None);
    }
}
