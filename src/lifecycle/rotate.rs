//! A rotation plan for one key (`keydoctor rotate`): create the replacement first, deploy it,
//! verify it, and only then invalidate the old key.
//!
//! - **In**: the key's metadata, a lifetime, optional privilege additions, and the steps of the
//!   `rotate-key` snippet (`rules/snippets.toml`): the same steps, in the same words, as a
//!   finding's rotation plan.
//! - **Out**: a [`Plan`]: the snippet's steps for this key's type and state, filled from its
//!   metadata, and the descriptor change as a before/after pair when privileges were added.
//! - **Never**: invalidate before the replacement is verified, or drop privileges silently (the
//!   old descriptors are copied whole; additions only add); never send descriptors not seen
//!   (they become a placeholder Elasticsearch rejects, and the plan reads them first).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::key::State;
use crate::diagnosis::classify::{fill_steps, placeholder_descriptors, writable_descriptor};
use crate::diagnosis::privileges::format_json;
use crate::diagnosis::RenderedStep;
use crate::event::key_metadata::KeyMetadata;
use crate::model::{format_ms, human_duration, KeyType, KnownVersion, StepCondition};
use crate::rule::Step;

/// The snippet of `rules/snippets.toml` a rotation plan is made of.
pub const SNIPPET: &str = "rotate-key";

/// The sentences this command says, with their fields (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[
    ("rotate.managed", &["by"]),
    ("rotate.grant.narrows", &[]),
    ("rotate.descriptors.inherited", &[]),
    ("rotate.old.expires", &["expires", "left"]),
    ("rotate.old.gone", &["state"]),
];

fn say(code: &str, fields: &[(&'static str, String)]) -> String {
    crate::diagnosis::fact::say_in(WORDS, code, fields)
}

/// A rotation plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub name: Option<String>,
    pub state: State,
    pub steps: Vec<RenderedStep>,
    /// The descriptors before and after `--add-index-privilege`, pretty JSON.
    pub descriptors_change: Option<(String, String)>,
    /// Things to know before running it.
    pub warnings: Vec<String>,
    /// The old key's requests replayed against the replacement (`--replay`).
    pub replay: Option<super::replay::Replay>,
}

/// An index privilege to add: `PATTERN:PRIV[,PRIV…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexGrant {
    pub names: Vec<String>,
    pub privileges: Vec<String>,
}

impl IndexGrant {
    /// Parse `logs-*:read,view_index_metadata` (several patterns with `|`).
    pub fn parse(text: &str) -> Option<Self> {
        let (names, privileges) = text.rsplit_once(':')?;
        let names: Vec<String> = names
            .split('|')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let privileges: Vec<String> = privileges
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        (!names.is_empty() && !privileges.is_empty()).then_some(Self { names, privileges })
    }
}

/// What the replacement differs in: its lifetime (a time value), its role descriptors when
/// they are not the old key's (`--role-descriptors`), and index privileges to add.
#[derive(Debug, Clone, Default)]
pub struct Replacement<'a> {
    pub lifetime: Option<&'a str>,
    pub descriptors: Option<&'a Value>,
    pub grants: &'a [IndexGrant],
}

impl Replacement<'_> {
    /// The replacement's role descriptors for `key`, as the create request sends them (before
    /// any placeholder): the given ones, else the old key's, with the grants added.
    pub fn descriptors_for(&self, key: &KeyMetadata) -> Value {
        let mut after = self
            .descriptors
            .or(key.role_descriptors.as_ref())
            .map(writable_descriptor)
            .unwrap_or_else(|| json!({}));
        if !self.grants.is_empty() {
            let added = json!({
                "indices": self.grants.iter().map(|g| json!({"names": g.names, "privileges": g.privileges})).collect::<Vec<_>>()
            });
            if let Some(map) = after.as_object_mut() {
                map.insert("added-privileges".into(), added);
            }
        }
        after
    }
}

/// Build the plan for `key` from `steps` (the [`SNIPPET`]'s), for `replacement`; `known` the
/// cluster's version when it was asked.
pub fn plan(
    key: &KeyMetadata,
    steps: &[Step],
    replacement: &Replacement<'_>,
    known: Option<KnownVersion>,
    now_ms: i64,
) -> Plan {
    let lifetime = replacement.lifetime;
    let grants = replacement.grants;
    let state: State = key.state(now_ms).into();
    let cross = key.key_type == Some(KeyType::CrossCluster);
    let mut warnings = Vec::new();
    // The old lifetime, when it had one: a key rotated on a schedule keeps its schedule.
    let expiration = match lifetime {
        Some(l) => l.to_string(),
        None => match (key.creation_ms, key.expiration_ms) {
            (Some(c), Some(e)) if e > c => {
                let days = ((e - c) as f64 / 86_400_000.0).round().max(1.0) as i64;
                format!("{days}d")
            }
            _ => "90d".to_string(),
        },
    };
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    vars.insert("key_id", key.id.clone());
    vars.insert(
        "key_name",
        key.name
            .clone()
            .unwrap_or_else(|| format!("rotated-{}", key.id)),
    );
    vars.insert("new_key_expiration", expiration);
    if let Some(user) = &key.username {
        vars.insert("user", user.clone());
    }
    if let Some(realm) = &key.realm {
        vars.insert("realm", realm.clone());
    }
    // A key a product made (Fleet's enrollment and agent keys) is rotated by that product: a
    // copy made by hand is one it never uses.
    if let Some(by) = key.managed_by() {
        warnings.push(say("rotate.managed", &[("by", by)]));
    }
    let mut descriptors_change = None;
    if cross {
        if let Some(access) = key
            .access
            .as_ref()
            .filter(|a| a.as_object().is_some_and(|m| !m.is_empty()))
        {
            vars.insert("access", format_json(&writable_descriptor(access)));
        }
    } else {
        let before = key
            .role_descriptors
            .as_ref()
            .map(writable_descriptor)
            .unwrap_or_else(|| json!({}));
        let mut after = replacement.descriptors_for(key);
        if !grants.is_empty() && before.as_object().is_some_and(|m| m.is_empty()) {
            warnings.push(say("rotate.grant.narrows", &[]));
        }
        if after != before {
            descriptors_change = Some((
                format!("{}\n", format_json(&before)),
                format!("{}\n", format_json(&after)),
            ));
        }
        // Never `{}` (or none): a key created so gets all of its creator's privileges, a
        // superuser key when run as `elastic`. Descriptors not seen become placeholders that
        // Elasticsearch rejects (the snippet's first step reads them), so the create cannot run
        // until someone fills them in.
        if key.role_descriptors.is_none() && replacement.descriptors.is_none() {
            after = placeholder_descriptors(Some(&key.id), false, None, false);
        } else if after.as_object().is_some_and(|m| m.is_empty()) {
            warnings.push(say("rotate.descriptors.inherited", &[]));
            after = placeholder_descriptors(Some(&key.id), true, None, false);
        }
        vars.insert("role_descriptors", format_json(&after));
    }
    let mut metadata = key
        .metadata
        .clone()
        .and_then(|m| m.as_object().cloned())
        .unwrap_or_default();
    metadata.insert("rotated_from".into(), json!(key.id));
    // A member of the create body, after the last one the snippet writes.
    vars.insert(
        "new_key_metadata",
        format!(",\n\"metadata\": {}", format_json(&Value::Object(metadata))),
    );
    let holds = |c: StepCondition| match c {
        StepCondition::DescriptorsUnknown if cross => key.access.is_none(),
        StepCondition::DescriptorsUnknown => key.role_descriptors.is_none(),
        StepCondition::KeyMayBeActive => state == State::Active,
        StepCondition::KeyMayExist => true,
        StepCondition::MetadataUnknown => false,
        // Not what a key's metadata says: the step that asks stays.
        StepCondition::InvalidatorUnknown | StepCondition::ClientMayBeFleet => true,
    };
    let lookup = |name: &str| vars.get(name).cloned();
    let steps = fill_steps(steps, cross, &holds, &lookup, known);
    match (state, key.expiration_ms) {
        (State::Active, Some(e)) => warnings.push(say(
            "rotate.old.expires",
            &[
                ("expires", format_ms(e)),
                ("left", human_duration(e - now_ms)),
            ],
        )),
        (State::Active, None) => {}
        (other, _) => warnings.push(say("rotate.old.gone", &[("state", other.as_str().into())])),
    }
    Plan {
        id: key.id.clone(),
        name: key.name.clone(),
        state,
        steps,
        descriptors_change,
        warnings,
        replay: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RunAs, Version};

    fn steps() -> Vec<Step> {
        let (rules, _) = crate::rule::load(None).expect("the bundled rules load");
        rules
            .snippet(SNIPPET)
            .expect("the rotation snippet")
            .to_vec()
    }

    fn key(json: &str) -> KeyMetadata {
        crate::event::key_metadata::from_response(&serde_json::from_str(json).unwrap())
            .pop()
            .unwrap()
    }

    #[test]
    fn plan_copies_descriptors_keeps_the_lifetime_and_invalidates_last() {
        let k = key(
            r#"{"api_keys":[{"id":"K1AAAAAAAAAAAAAAAAAA","name":"ingest","creation":0,"expiration":2592000000,"invalidated":false,"username":"u","realm":"native1","metadata":{"team":"a"},"role_descriptors":{"w":{"cluster":[],"indices":[{"names":["logs-*"],"privileges":["create_doc"],"allow_restricted_indices":false}],"applications":[],"run_as":[],"metadata":{},"transient_metadata":{"enabled":true}}}}]}"#,
        );
        let p = plan(&k, &steps(), &Replacement::default(), None, 1000);
        assert_eq!(p.steps.len(), 4, "{:#?}", p.steps);
        let create = p.steps[0].request.as_deref().unwrap();
        assert!(create.starts_with("POST /_security/api_key\n"));
        assert!(create.contains("\"expiration\": \"30d\""), "{create}");
        assert!(
            create.contains("\"rotated_from\": \"K1AAAAAAAAAAAAAAAAAA\""),
            "{create}"
        );
        assert!(create.contains("\"team\": \"a\""));
        assert!(!create.contains("transient_metadata"));
        assert!(p.steps[3]
            .request
            .as_deref()
            .unwrap()
            .starts_with("DELETE /_security/api_key"));
        let grant = IndexGrant::parse("metrics-*:read,view_index_metadata").unwrap();
        let p = plan(
            &k,
            &steps(),
            &Replacement {
                lifetime: Some("90d"),
                grants: &[grant],
                ..Default::default()
            },
            None,
            1000,
        );
        let (before, after) = p.descriptors_change.unwrap();
        assert!(!before.contains("metrics-*") && after.contains("metrics-*"));
        assert!(after.contains("logs-*"), "nothing is dropped");
    }

    #[test]
    fn descriptors_not_seen_or_empty_never_make_a_runnable_create() {
        for descriptors in [r#""#, r#","role_descriptors":{}"#] {
            let k = key(&format!(
                r#"{{"api_keys":[{{"id":"K2AAAAAAAAAAAAAAAAAA","name":"n","creation":0,"invalidated":false,"username":"u"{descriptors}}}]}}"#
            ));
            let p = plan(&k, &steps(), &Replacement::default(), None, 1000);
            let create = p
                .steps
                .iter()
                .find_map(|s| s.request.as_deref().filter(|r| r.starts_with("POST")))
                .unwrap();
            let body: Value = serde_json::from_str(create.split_once('\n').unwrap().1).unwrap();
            let rd = body["role_descriptors"].as_object().unwrap();
            assert!(!rd.is_empty(), "{create}");
            assert!(
                rd.values().any(Value::is_string),
                "a placeholder ES rejects: {create}"
            );
            let create_step = p
                .steps
                .iter()
                .position(|s| s.request.as_deref() == Some(create));
            assert_eq!(p.steps[create_step.unwrap()].run_as, RunAs::Owner);
            assert_eq!(
                p.steps.iter().rev().nth(1).map(|s| s.run_as),
                Some(RunAs::NewKey),
                "verify with the new key, just before the invalidation"
            );
            if descriptors.is_empty() {
                let read = p.steps[0].request.as_deref().unwrap();
                assert!(read.starts_with("GET /_security/api_key?id=K2AAAAAAAAAAAAAAAAAA"));
            } else {
                assert!(p.warnings.iter().any(|w| w.contains("a placeholder")));
            }
        }
    }

    #[test]
    fn the_plan_follows_the_key_s_type_state_version_and_manager() {
        // Invalidated: nothing to invalidate, and the plan says why.
        let gone = key(
            r#"{"api_keys":[{"id":"K5AAAAAAAAAAAAAAAAAA","name":"n","creation":1,"invalidated":true,"username":"u","role_descriptors":{"r":{"cluster":["monitor"]}}}]}"#,
        );
        let p = plan(&gone, &steps(), &Replacement::default(), None, 1000);
        assert!(p
            .steps
            .iter()
            .all(|s| !s.request.as_deref().unwrap_or("").starts_with("DELETE")));
        assert!(p.warnings.iter().any(|w| w.contains("already invalidated")));
        // A cross-cluster key: its own create API, the keystore on the querying side.
        let cross = key(
            r#"{"api_keys":[{"id":"K6AAAAAAAAAAAAAAAAAA","name":"c","type":"cross_cluster","creation":1,"invalidated":false,"username":"u","access":{"search":[{"names":["logs-*"]}]}}]}"#,
        );
        let p = plan(
            &cross,
            &steps(),
            &Replacement {
                lifetime: Some("30d"),
                ..Default::default()
            },
            None,
            1000,
        );
        let requests: Vec<&str> = p
            .steps
            .iter()
            .filter_map(|s| s.request.as_deref())
            .collect();
        assert!(
            requests[0].starts_with("POST /_security/cross_cluster/api_key"),
            "{requests:?}"
        );
        let body: Value = serde_json::from_str(requests[0].split_once('\n').unwrap().1).unwrap();
        assert_eq!(body["expiration"], "30d");
        assert_eq!(body["access"]["search"][0]["names"][0], "logs-*");
        assert!(requests.contains(&"POST /_nodes/reload_secure_settings"));
        // A cluster before 8.5 cannot return the descriptors: the read step says where else.
        let unseen = key(
            r#"{"api_keys":[{"id":"K7AAAAAAAAAAAAAAAAAA","name":"n","creation":1,"invalidated":false,"username":"u"}]}"#,
        );
        let old = Some(KnownVersion::Exact(Version::parse("8.4.3").unwrap()));
        let p = plan(&unseen, &steps(), &Replacement::default(), old, 1000);
        assert_eq!(p.steps[0].request, None);
        assert!(p.steps[0].version_note.as_deref().unwrap().contains("8.5"));
        // A key Fleet made is rotated by Fleet.
        let fleet = key(
            r#"{"api_keys":[{"id":"K8AAAAAAAAAAAAAAAAAA","name":"n","creation":1,"invalidated":false,"username":"u","metadata":{"managed":true,"managed_by":"fleet"},"role_descriptors":{}}]}"#,
        );
        let p = plan(&fleet, &steps(), &Replacement::default(), None, 1000);
        assert!(
            p.warnings[0].contains("managed by fleet"),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn grants_parse() {
        assert_eq!(
            IndexGrant::parse("a-*|b:read"),
            Some(IndexGrant {
                names: vec!["a-*".into(), "b".into()],
                privileges: vec!["read".into()]
            })
        );
        assert_eq!(IndexGrant::parse("nocolon"), None);
        assert_eq!(IndexGrant::parse("a:"), None);
    }
}
