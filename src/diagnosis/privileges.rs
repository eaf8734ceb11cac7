//! What grants an action, and the smallest role descriptor that adds it.
//!
//! Elasticsearch lists the granting privileges from least to most privileged, so the first one
//! named in a denial is the least privilege. When a message has no such list (before 7.12, cut,
//! or dropped by a client), the privilege atlas (`atlas.rs`) supplies it for the version known.

use serde_json::{json, Map, Value};

use crate::model::KnownVersion;
pub use crate::model::PrivilegeKind;

/// The privileges that grant `action`, least first, as Elasticsearch of version `known` lists
/// them after "this action is granted by the … privileges" (the privilege atlas,
/// `atlas/privileges.toml`). A lower bound (`8.10+`) is read as that version: what it has, every
/// later one has too. Empty for an action no privilege grants.
pub fn granting(action: &str, known: Option<KnownVersion>) -> Vec<String> {
    let version = known.map(|k| match k {
        KnownVersion::Exact(v) | KnownVersion::AtLeast(v) => v,
    });
    super::atlas::atlas()
        .granting(action, super::atlas::effective(version))
        .into_iter()
        .map(|p| p.name.clone())
        .collect()
}

/// Split a privilege list as printed (`create_doc,create,delete`) into names.
pub fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(|p| {
            p.trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .trim()
                .to_string()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// Split an index list as printed (`logs-a,logs-b`) into names.
pub fn split_indices(list: &str) -> Vec<String> {
    split_list(list)
}

/// The role descriptor that adds exactly `privilege` for `action` on `indices` (and restricted
/// `restricted` indices), named `name`.
pub fn role_descriptor(
    name: &str,
    kind: PrivilegeKind,
    privilege: &str,
    indices: &[String],
    restricted: &[String],
) -> Value {
    let mut descriptor = Map::new();
    match kind {
        PrivilegeKind::Cluster => {
            descriptor.insert("cluster".into(), json!([privilege]));
        }
        PrivilegeKind::Index => {
            let mut entries = Vec::new();
            if !indices.is_empty() {
                entries.push(json!({"names": indices, "privileges": [privilege]}));
            }
            if !restricted.is_empty() {
                entries.push(json!({"names": restricted, "privileges": [privilege], "allow_restricted_indices": true}));
            }
            if entries.is_empty() {
                entries.push(json!({"names": ["<index or pattern>"], "privileges": [privilege]}));
            }
            descriptor.insert("indices".into(), Value::Array(entries));
        }
    }
    let mut outer = Map::new();
    outer.insert(name.into(), Value::Object(descriptor));
    Value::Object(outer)
}

/// The strings of array `field` of a role's entry (`names`, `privileges`, a user's `roles`).
pub fn strings_at(entry: &Value, field: &str) -> Vec<String> {
    entry
        .get(field)
        .and_then(Value::as_array)
        .map(|n| {
            n.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `descriptors` (a key's `role_descriptors` or `limited_by` entry) grant `privilege`
/// (or a broader one from `granting`) on `index` / for the cluster. `None` when unknown.
pub fn descriptors_grant(
    descriptors: &Value,
    kind: PrivilegeKind,
    granting: &[String],
    index: Option<&str>,
) -> bool {
    let objects: Vec<&Value> = match descriptors {
        Value::Object(map) => map.values().collect(),
        Value::Array(list) => list
            .iter()
            .flat_map(|v| {
                v.as_object()
                    .map(|m| m.values().collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .collect(),
        _ => Vec::new(),
    };
    objects.iter().any(|rd| match kind {
        PrivilegeKind::Cluster => rd
            .get("cluster")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter()
                    .filter_map(Value::as_str)
                    .any(|p| granting.iter().any(|g| g == p))
            }),
        PrivilegeKind::Index => {
            rd.get("indices")
                .and_then(Value::as_array)
                .is_some_and(|entries| {
                    entries.iter().any(|entry| {
                        let names_match = match index {
                            None => true,
                            Some(index) => entry
                                .get("names")
                                .and_then(|n| match n {
                                    Value::Array(a) => Some(
                                        a.iter()
                                            .filter_map(Value::as_str)
                                            .map(str::to_string)
                                            .collect::<Vec<_>>(),
                                    ),
                                    Value::String(s) => Some(vec![s.clone()]),
                                    _ => None,
                                })
                                .is_some_and(|names| {
                                    names.iter().any(|p| pattern_matches(p, index))
                                }),
                        };
                        let privs_match = entry
                            .get("privileges")
                            .and_then(Value::as_array)
                            .is_some_and(|p| {
                                p.iter()
                                    .filter_map(Value::as_str)
                                    .any(|p| granting.iter().any(|g| g == p))
                            });
                        names_match && privs_match
                    })
                })
        }
    })
}

/// Request-body JSON as people write it in Dev Tools: objects one key per line, arrays of
/// scalars on one line.
pub fn format_json(value: &Value) -> String {
    fn scalar(v: &Value) -> String {
        serde_json::to_string(v).unwrap_or_default()
    }
    fn go(v: &Value, indent: usize, out: &mut String) {
        let pad = "  ".repeat(indent + 1);
        match v {
            Value::Object(map) if !map.is_empty() => {
                out.push_str("{\n");
                for (i, (k, v)) in map.iter().enumerate() {
                    out.push_str(&pad);
                    out.push_str(&scalar(&Value::String(k.clone())));
                    out.push_str(": ");
                    go(v, indent + 1, out);
                    if i + 1 < map.len() {
                        out.push(',');
                    }
                    out.push('\n');
                }
                out.push_str(&"  ".repeat(indent));
                out.push('}');
            }
            Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&pad);
                    go(item, indent + 1, out);
                    if i + 1 < items.len() {
                        out.push(',');
                    }
                    out.push('\n');
                }
                out.push_str(&"  ".repeat(indent));
                out.push(']');
            }
            Value::Array(items) => {
                let inner: Vec<String> = items.iter().map(scalar).collect();
                out.push('[');
                out.push_str(&inner.join(", "));
                out.push(']');
            }
            other => out.push_str(&scalar(other)),
        }
    }
    let mut out = String::new();
    go(value, 0, &mut out);
    out
}

/// Every index pattern named in `descriptors` (a key's `role_descriptors`), in order.
pub fn index_patterns(descriptors: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Value::Object(map) = descriptors {
        for rd in map.values() {
            for entry in rd
                .get("indices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match entry.get("names") {
                    Some(Value::Array(names)) => {
                        out.extend(names.iter().filter_map(Value::as_str).map(str::to_string));
                    }
                    Some(Value::String(name)) => out.push(name.clone()),
                    _ => {}
                }
            }
        }
    }
    out.dedup();
    out
}

/// Whether index privilege pattern `pattern` covers index `name`, as Elasticsearch's
/// `Automatons.patterns` decides: `*` and `?` wildcards, or a Lucene regular expression between
/// slashes (`/logs-(app|web)-.*/`), anchored at both ends. Regex features Rust's engine cannot
/// express (`&` intersection, `~` complement, `<1-9>` intervals) count as no match.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let source = if pattern.len() >= 2 && pattern.starts_with('/') && pattern.ends_with('/') {
        match lucene_regex(&pattern[1..pattern.len() - 1]) {
            Some(r) => r,
            None => return false,
        }
    } else {
        let mut r = String::with_capacity(pattern.len() + 8);
        for c in pattern.chars() {
            match c {
                '*' => r.push_str(".*"),
                '?' => r.push('.'),
                c => r.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
            }
        }
        r
    };
    regex::Regex::new(&format!("^(?:{source})$")).is_ok_and(|re| re.is_match(name))
}

/// A Lucene `RegExp` (the subset Rust's engine shares) as a Rust regex: `@` is any string,
/// `"…"` a literal, `\x` the character x; `.` `*` `+` `?` `{n,m}` `[…]` `(…|…)` as usual.
fn lucene_regex(source: &str) -> Option<String> {
    let mut out = String::with_capacity(source.len() + 8);
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next()?;
                out.push_str(&regex::escape(next.encode_utf8(&mut [0; 4])));
            }
            '"' => {
                let mut literal = String::new();
                loop {
                    match chars.next()? {
                        '"' => break,
                        c => literal.push(c),
                    }
                }
                out.push_str(&regex::escape(&literal));
            }
            '@' => out.push_str(".*"),
            '&' | '~' | '<' | '>' | '#' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// A unified diff of two descriptor sets as Dev Tools shows them.
pub fn descriptors_diff(before: &Value, after: &Value, old: &str, new: &str) -> String {
    let (a, b) = (
        format!("{}\n", format_json(before)),
        format!("{}\n", format_json(after)),
    );
    similar::TextDiff::from_lines(a.as_str(), b.as_str())
        .unified_diff()
        .context_radius(3)
        .header(old, new)
        .to_string()
}

/// `role` (one role descriptor) with `privilege` added on `index` (or for the cluster) the
/// smallest way: a new entry naming exactly the index, so nothing else widens.
pub fn role_with(role: &Value, kind: PrivilegeKind, privilege: &str, index: Option<&str>) -> Value {
    let mut role = match role {
        Value::Object(m) => Value::Object(m.clone()),
        _ => json!({}),
    };
    match kind {
        PrivilegeKind::Cluster => {
            let list = role
                .as_object_mut()
                .map(|m| m.entry("cluster").or_insert_with(|| json!([])));
            if let Some(Value::Array(list)) = list {
                if !list.iter().any(|p| p == privilege) {
                    list.push(json!(privilege));
                }
            }
        }
        PrivilegeKind::Index => {
            let list = role
                .as_object_mut()
                .map(|m| m.entry("indices").or_insert_with(|| json!([])));
            if let Some(Value::Array(list)) = list {
                list.push(
                    json!({"names": [index.unwrap_or("<index>")], "privileges": [privilege]}),
                );
            }
        }
    }
    role
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_atlas_answers_messages_without_a_list() {
        assert_eq!(granting("cluster:monitor/main", None)[0], "monitor");
        assert_eq!(
            granting("indices:data/write/bulk[s]", None)[0],
            "create_doc"
        );
        assert_eq!(
            granting("indices:admin/auto_create", None)[0],
            "auto_configure"
        );
        // Version-aware: the failure store's privileges exist from 9.1, not in 9.0.
        let v = |s| {
            Some(KnownVersion::Exact(
                crate::model::Version::parse(s).unwrap(),
            ))
        };
        assert_eq!(
            granting("indices:admin/data_stream/lifecycle/put", v("8.10")),
            ["manage", "all"]
        );
        assert_eq!(
            granting("indices:admin/data_stream/lifecycle/put", v("8.11"))[0],
            "manage_data_stream_lifecycle"
        );
        assert!(granting("frob:nothing", None).is_empty());
        assert_eq!(
            PrivilegeKind::of_action("indices:admin/index_template/put"),
            PrivilegeKind::Cluster
        );
    }

    #[test]
    fn request_json_is_compact_and_valid() {
        let v = json!({"a": {"indices": [{"names": ["x-*"], "privileges": ["read"]}]}, "b": {}});
        let text = format_json(&v);
        assert!(text.contains(r#""names": ["x-*"]"#), "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }

    #[test]
    fn descriptors_are_checked_against_index_patterns() {
        let rd = json!({"r": {"cluster": [], "indices": [{"names": ["logs-*"], "privileges": ["read"]}]}});
        let read = vec!["read".to_string(), "all".to_string()];
        assert!(descriptors_grant(
            &rd,
            PrivilegeKind::Index,
            &read,
            Some("logs-app")
        ));
        assert!(!descriptors_grant(
            &rd,
            PrivilegeKind::Index,
            &read,
            Some("metrics-app")
        ));
        assert!(pattern_matches("logs-*-default", "logs-x-default"));
        assert!(!pattern_matches("logs-*-default", "logs-x-prod"));
        assert!(pattern_matches("logs-?", "logs-a"));
        assert!(!pattern_matches("logs-?", "logs-ab"));
        assert!(pattern_matches("a.b", "a.b") && !pattern_matches("a.b", "axb"));
    }

    #[test]
    fn lucene_regex_patterns_are_anchored() {
        assert!(pattern_matches("/logs-(app|web)-.*/", "logs-web-1"));
        assert!(!pattern_matches("/logs-(app|web)-.*/", "xlogs-web-1"));
        assert!(!pattern_matches("/logs-(app|web)/", "logs-app-1"));
        assert!(pattern_matches("/@-prod/", "billing-prod"));
        assert!(pattern_matches(r#"/"a.b"[0-9]+/"#, "a.b42"));
        assert!(!pattern_matches(r#"/"a.b"[0-9]+/"#, "axb42"));
        // Beyond Rust's engine: never a match, never a panic.
        assert!(!pattern_matches("/logs-<1-9>/", "logs-3"));
        assert!(!pattern_matches("/(unclosed/", "x"));
    }

    #[test]
    fn a_fix_adds_one_entry_naming_the_index() {
        let role = json!({"cluster": ["monitor"], "indices": [{"names": ["logs-*"], "privileges": ["read"]}]});
        let after = role_with(&role, PrivilegeKind::Index, "create_doc", Some("logs-a"));
        assert_eq!(
            after["indices"][1],
            json!({"names": ["logs-a"], "privileges": ["create_doc"]})
        );
        assert_eq!(after["indices"][0], role["indices"][0]);
        let diff = descriptors_diff(&json!({"r": role}), &json!({"r": after}), "old", "new");
        assert!(diff.contains("+        \"names\": [\"logs-a\"],"), "{diff}");
        let after = role_with(&role, PrivilegeKind::Cluster, "monitor", None);
        assert_eq!(after["cluster"], json!(["monitor"]));
    }
}
