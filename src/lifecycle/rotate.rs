//! A rotation plan for one key (`keydoctor rotate`): create the replacement first, deploy it,
//! verify it, and only then invalidate the old key.
//!
//! - **In**: the key's metadata, a lifetime, optional privilege additions.
//! - **Out**: a [`Plan`]: numbered steps with exact requests, and the descriptor change as a
//!   before/after pair when privileges were added.
//! - **Never**: invalidate before the replacement is verified, or drop privileges silently (the
//!   old descriptors are copied whole; additions only add).

use serde_json::{json, Map, Value};

use super::key::State;
use crate::diagnosis::classify::writable_descriptor;
use crate::diagnosis::privileges::format_json;
use crate::event::key_metadata::KeyMetadata;
use crate::model::format_ms;
use crate::model::human_duration;
use crate::model::RunAs;

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStep {
    pub title: String,
    pub text: String,
    pub request: Option<String>,
    /// Who authenticates the request.
    pub run_as: crate::model::RunAs,
}

/// A rotation plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub name: Option<String>,
    pub state: State,
    pub steps: Vec<PlanStep>,
    /// The descriptors before and after `--add-index-privilege`, pretty JSON.
    pub descriptors_change: Option<(String, String)>,
    /// Things to know before running it.
    pub warnings: Vec<String>,
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

/// Build the plan for `key`; `lifetime` (a time value) for the replacement, `grants` to add.
pub fn plan(key: &KeyMetadata, lifetime: Option<&str>, grants: &[IndexGrant], now_ms: i64) -> Plan {
    let state: State = key.state(now_ms).into();
    let cross = key.key_type == Some(crate::model::KeyType::CrossCluster);
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
    let name = key
        .name
        .clone()
        .unwrap_or_else(|| format!("rotated-{}", key.id));
    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    body.insert("expiration".into(), json!(expiration));
    let mut descriptors_change = None;
    if cross {
        match &key.access {
            Some(access) => {
                body.insert("access".into(), writable_descriptor(access));
            }
            None => warnings.push(
                "the metadata has no `access` for this cross-cluster key: copy it from the old key before creating the new one".into(),
            ),
        }
    } else {
        let before = key
            .role_descriptors
            .as_ref()
            .map(writable_descriptor)
            .unwrap_or_else(|| json!({}));
        let mut after = before.clone();
        if !grants.is_empty() {
            let added = json!({
                "indices": grants.iter().map(|g| json!({"names": g.names, "privileges": g.privileges})).collect::<Vec<_>>()
            });
            if let Some(map) = after.as_object_mut() {
                if map.is_empty() {
                    warnings.push("the old key has no role descriptors (it had all of its owner's privileges); with a descriptor added, the new key has only what the descriptors grant".into());
                }
                map.insert("added-privileges".into(), added);
            }
            descriptors_change = Some((
                format!("{}\n", format_json(&before)),
                format!("{}\n", format_json(&after)),
            ));
        }
        // Never `{}` (or none): a key created so gets all of its creator's privileges, a
        // superuser key when run as `elastic`. Descriptors not seen become placeholders that
        // Elasticsearch rejects, so the create cannot run until someone fills them in.
        if key.role_descriptors.is_none() {
            warnings.push("the metadata shows no role descriptors (before 8.5 they are not returned): the create request below has a placeholder Elasticsearch rejects; fill in the old key's descriptors (from where it was created), or the privileges its clients need".into());
            after = crate::diagnosis::classify::placeholder_descriptors(
                Some(&key.id),
                false,
                None,
                false,
            );
        } else if after.as_object().is_some_and(|m| m.is_empty()) {
            warnings.push("the old key has no role descriptors: it carries all of its owner's privileges, and a copy made with `{}` would carry all of its creator's; the create request below has a placeholder Elasticsearch rejects: name only what its clients need".into());
            after = crate::diagnosis::classify::placeholder_descriptors(
                Some(&key.id),
                true,
                None,
                false,
            );
        }
        body.insert("role_descriptors".into(), after);
    }
    let mut metadata = key
        .metadata
        .clone()
        .and_then(|m| m.as_object().cloned())
        .unwrap_or_default();
    metadata.insert("rotated_from".into(), json!(key.id));
    body.insert("metadata".into(), Value::Object(metadata));
    let owner = key
        .username
        .as_ref()
        .map(|u| match &key.realm {
            Some(r) => format!("`{u}` (realm {r})"),
            None => format!("`{u}`"),
        })
        .unwrap_or_else(|| "the old key's owner".into());
    let endpoint = if cross {
        "POST /_security/cross_cluster/api_key"
    } else {
        "POST /_security/api_key"
    };
    let mut steps = vec![
        PlanStep {
            title: "Create the replacement key".into(),
            text: format!(
                "Authenticate as {owner} (a key's privileges are limited by its creator's), with a user, not an API key{}. The response's `encoded` value is the credential clients send; it cannot be read back later, so store it now. The new key expires in {expiration}: put the next rotation in the calendar.",
                if cross { ", and with manage_security (cross-cluster keys, 8.10+)" } else { "" }
            ),
            request: Some(format!("{endpoint}\n{}", format_json(&Value::Object(body)))),
            run_as: RunAs::User,
        },
        PlanStep {
            title: "Deploy the new key to every client that uses the old one".into(),
            text: if cross {
                "On the local (querying) cluster: `bin/elasticsearch-keystore add cluster.remote.<alias>.credentials` on every node with the new `encoded` value, then reload secure settings.".into()
            } else {
                "Put the `encoded` value where each client reads it (a keystore, a secret, `api_key` in the output settings) and reload or restart the client.".into()
            },
            request: cross.then(|| "POST /_nodes/reload_secure_settings".to_string()),
            run_as: RunAs::User,
        },
        PlanStep {
            title: "Verify the new key before touching the old one".into(),
            text: "With the new key, authenticate and check that `api_key.id` is the new id; then check that the clients' requests succeed (their logs, or `keydoctor scan` on them).".into(),
            request: (!cross).then(|| "GET /_security/_authenticate".to_string()),
            run_as: RunAs::NewKey,
        },
    ];
    steps.push(match state {
        State::Active => PlanStep {
            title: "Only then invalidate the old key".into(),
            text: "Invalidating first would turn a rotation into an outage. Keep the old key until no client uses it (the audit log's `access_granted` events with its `apikey.id` stop).".into(),
            request: Some(format!(
                "DELETE /_security/api_key\n{}",
                format_json(&json!({"ids": [key.id]}))
            )),
            run_as: RunAs::User,
        },
        other => PlanStep {
            title: "Nothing to invalidate".into(),
            text: format!(
                "The old key is already {}: it is deleted after the retention period (7 days by default).",
                other.as_str()
            ),
            request: None,
            run_as: RunAs::User,
        },
    });
    if let (State::Active, Some(e)) = (state, key.expiration_ms) {
        warnings.push(format!(
            "the old key expires {} (in {}): deploy the new one before then",
            format_ms(e),
            human_duration(e - now_ms)
        ));
    }
    Plan {
        id: key.id.clone(),
        name: key.name.clone(),
        state,
        steps,
        descriptors_change,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let p = plan(&k, None, &[], 1000);
        assert_eq!(p.steps.len(), 4);
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
        let p = plan(&k, Some("90d"), &[grant], 1000);
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
            let p = plan(&k, None, &[], 1000);
            let create = p.steps[0].request.as_deref().unwrap();
            let body: Value = serde_json::from_str(create.split_once('\n').unwrap().1).unwrap();
            let rd = body["role_descriptors"].as_object().unwrap();
            assert!(!rd.is_empty(), "{create}");
            assert!(
                rd.values().any(Value::is_string),
                "a placeholder ES rejects: {create}"
            );
            assert_eq!(p.steps[0].run_as, RunAs::User);
            assert_eq!(p.steps[2].run_as, RunAs::NewKey, "verify with the new key");
            assert!(!p.warnings.is_empty());
        }
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
