//! Elasticsearch API answers saved as JSON files among the inputs, told apart by their shape:
//! `GET /_remote/info` and `GET /_security/role` (the querying cluster's side of a cross-cluster
//! diagnosis). Support-diagnostics bundles name theirs (see [`super::bundle`]).

use std::path::Path;

use serde_json::Value;

use super::walk::FileEntry;

/// Largest answer file read.
const MAX_ANSWER: u64 = 16 << 20;

/// The answers found, each with the file it came from.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    pub remote_info: Option<(String, Value)>,
    pub roles: Option<(String, Value)>,
}

/// What a JSON document answers, by shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    RemoteInfo,
    Roles,
}

/// `GET /_remote/info`: every value an object with `mode` (7.6+) or `seeds`, and `connected`.
/// `GET /_security/role`: every value a role descriptor (`cluster`, `indices`, `run_as`, …).
pub fn shape(v: &Value) -> Option<Shape> {
    let map = v.as_object().filter(|m| !m.is_empty())?;
    let all = |f: &dyn Fn(&serde_json::Map<String, Value>) -> bool| {
        map.values().all(|e| e.as_object().is_some_and(f))
    };
    if all(&|e| e.contains_key("connected") && (e.contains_key("mode") || e.contains_key("seeds")))
    {
        return Some(Shape::RemoteInfo);
    }
    if all(&|e| {
        !e.contains_key("connected")
            && [
                "cluster",
                "indices",
                "remote_indices",
                "run_as",
                "applications",
            ]
            .iter()
            .any(|k| e.contains_key(*k))
    }) {
        return Some(Shape::Roles);
    }
    None
}

/// Read the JSON files among `files` (small ones, ending `.json`) and keep the answers.
pub fn find(files: &[FileEntry]) -> Answers {
    let mut out = Answers::default();
    for f in files {
        if f.size > MAX_ANSWER || !is_json_name(&f.path) {
            continue;
        }
        let Ok(text) = super::read_small_text(&f.path) else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let slot = match shape(&value) {
            Some(Shape::RemoteInfo) => &mut out.remote_info,
            Some(Shape::Roles) => &mut out.roles,
            None => continue,
        };
        match slot {
            // Several role files: one set of roles.
            Some((_, Value::Object(have))) if value.is_object() => {
                if let Value::Object(more) = value {
                    have.extend(more);
                }
            }
            Some(_) => {}
            None => *slot = Some((f.name(), value)),
        }
    }
    out
}

fn is_json_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_told_by_shape() {
        let info = json!({"eu": {"connected": true, "mode": "proxy", "proxy_address": "x:9443"}});
        assert_eq!(shape(&info), Some(Shape::RemoteInfo));
        let old =
            json!({"eu": {"connected": false, "seeds": ["x:9300"], "num_nodes_connected": 0}});
        assert_eq!(shape(&old), Some(Shape::RemoteInfo));
        let roles = json!({"r": {"cluster": [], "indices": [], "remote_indices": []}});
        assert_eq!(shape(&roles), Some(Shape::Roles));
        assert_eq!(shape(&json!({"api_keys": []})), None);
        assert_eq!(shape(&json!({})), None);
        assert_eq!(shape(&json!({"a": {"cluster": []}, "b": 1})), None);
    }
}
