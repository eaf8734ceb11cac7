//! Audit log lines (`<cluster>_audit.json`, one JSON object per line).
//!
//! - **In**: the normalized text of one record that looks like an audit line.
//! - **Out**: an [`AuditEvent`] with the fields a diagnosis joins on.
//! - **Never**: fail the run on a malformed line: it simply yields no event.
//!
//! Field names and meanings are in shared/reference section 5: for API-key authentication
//! `user.name` is the key's owner and `apikey.id` the key; a rejected key on REST is audited as
//! `anonymous_access_denied` without its id; `invalidate_apikeys` carries the selector in
//! `invalidate.apikeys` (`ids`, `name`, `user`).

use serde_json::Value;

/// One audit event, reduced to what keydoctor uses.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub line: usize,
    pub timestamp: Option<String>,
    pub action: crate::model::AuditAction,
    pub node: Option<String>,
    pub user: Option<String>,
    pub realm: Option<String>,
    pub key_id: Option<String>,
    pub key_name: Option<String>,
    pub origin: Option<String>,
    pub request_action: Option<String>,
    pub indices: Vec<String>,
    /// For `invalidate_apikeys`: the ids named, if the request named ids.
    pub invalidated_ids: Vec<String>,
    /// For `invalidate_apikeys`: the name selector, if any.
    pub invalidated_name: Option<String>,
    /// For `invalidate_apikeys`: the owner selector `user@realm`, if any.
    pub invalidated_owner: Option<String>,
    /// For `create_apikey`: the id created.
    pub created_id: Option<String>,
    /// For `create_apikey`: the key's name.
    pub created_name: Option<String>,
    /// For `create_apikey` and `change_apikey(s)`: the expiration as a time value (`10d`).
    pub expiration: Option<String>,
    /// For `create_apikey` and `change_apikey`: the role descriptors sent.
    pub role_descriptors: Option<Value>,
    /// For `create_apikey`: `rest` or `cross_cluster`.
    pub key_type: Option<crate::model::KeyType>,
    /// For `change_apikey` and `change_apikeys`: the ids changed.
    pub changed_ids: Vec<String>,
    /// The node id (`node.id`), emitted by default; `node` prefers the name.
    pub node_id: Option<String>,
}

/// Cheap check used by record classification.
pub fn looks_like_audit(norm: &str) -> bool {
    norm.contains("\"type\":\"audit\"") || norm.contains("\"type\": \"audit\"")
}

/// Parse one audit line; `None` when it is not valid JSON or not an audit event.
pub fn parse_line(norm: &str, line: usize) -> Option<AuditEvent> {
    let start = norm.find('{')?;
    let value: Value = serde_json::Deserializer::from_str(&norm[start..])
        .into_iter::<Value>()
        .next()?
        .ok()?;
    if value.get("type")?.as_str()? != "audit" {
        return None;
    }
    let s = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    let selector = value.pointer("/invalidate/apikeys");
    let strings = super::json_strings;
    Some(AuditEvent {
        line,
        timestamp: s("timestamp").or_else(|| s("@timestamp")),
        action: crate::model::AuditAction::parse(value.get("event.action")?.as_str()?),
        node: s("node.name").or_else(|| s("node.id")),
        user: s("user.name"),
        realm: s("user.realm"),
        key_id: s("apikey.id"),
        key_name: s("apikey.name"),
        origin: s("origin.address"),
        request_action: s("action"),
        indices: strings(value.get("indices")),
        invalidated_ids: strings(selector.and_then(|a| a.get("ids"))),
        invalidated_name: selector
            .and_then(|a| a.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string),
        invalidated_owner: selector.and_then(|a| a.get("user")).map(|u| {
            let name = u.get("name").and_then(Value::as_str).unwrap_or("?");
            match u.get("realm").and_then(Value::as_str) {
                Some(realm) => format!("{name}@{realm}"),
                None => name.to_string(),
            }
        }),
        created_id: value
            .pointer("/create/apikey/id")
            .and_then(Value::as_str)
            .map(str::to_string),
        created_name: value
            .pointer("/create/apikey/name")
            .and_then(Value::as_str)
            .map(str::to_string),
        expiration: value
            .pointer("/create/apikey/expiration")
            .or_else(|| value.pointer("/change/apikey/expiration"))
            .or_else(|| value.pointer("/change/apikeys/expiration"))
            .and_then(Value::as_str)
            .map(str::to_string),
        role_descriptors: value
            .pointer("/create/apikey/role_descriptors")
            .or_else(|| value.pointer("/change/apikey/role_descriptors"))
            .cloned(),
        key_type: value
            .pointer("/create/apikey/type")
            .and_then(Value::as_str)
            .and_then(crate::model::KeyType::parse),
        changed_ids: {
            let mut ids = strings(value.pointer("/change/apikeys/ids"));
            ids.extend(
                value
                    .pointer("/change/apikey/id")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            );
            ids
        },
        node_id: s("node.id"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidate_event_keeps_its_selector() {
        let line = r#"{"type":"audit", "timestamp":"2020-12-31T00:36:30,247+0200", "node.id":"9clhpgjJRR-iKzOw20xBNQ", "event.type":"security_config_change", "event.action":"invalidate_apikeys", "request.id":"7lyIQU9QTFqSrTxD0CqnTQ", "invalidate":{"apikeys":{"ids":["VuaCfGcBCdbkQm-e5aOx"],"owned_by_authenticated_user":false,"user":{"name":"myuser","realm":"native1"}}}}"#;
        let event = parse_line(line, 3).unwrap();
        assert_eq!(event.action, crate::model::AuditAction::InvalidateApiKeys);
        assert_eq!(event.invalidated_ids, vec!["VuaCfGcBCdbkQm-e5aOx"]);
        assert_eq!(event.invalidated_owner.as_deref(), Some("myuser@native1"));
    }

    #[test]
    fn truncated_line_is_not_an_event() {
        assert!(parse_line(r#"{"type":"audit", "timestamp":"2020"#, 1).is_none());
    }
}
