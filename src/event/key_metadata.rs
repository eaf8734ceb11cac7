//! API key metadata pasted into the input: responses of `GET /_security/api_key`,
//! `POST /_security/_query/api_key`, and single key objects.
//!
//! - **In**: records whose text holds such a JSON document.
//! - **Out**: [`KeyMetadata`], one per key.
//! - **Never**: fail on a truncated or odd document: what cannot be parsed is ignored.
//!
//! Shapes per version (shared/reference section 6.2): `type` and `access` from 8.10,
//! `invalidation` from 8.12, `role_descriptors` and `limited_by` from 8.5, `realm_type` and
//! `profile_uid` from 8.14. Times are epoch milliseconds.

use serde_json::Value;

use super::Record;

/// What the cluster said about one key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyMetadata {
    pub id: String,
    pub name: Option<String>,
    /// `rest` or `cross_cluster` (8.10+); `None` on older versions, which only have REST keys.
    pub key_type: Option<crate::model::KeyType>,
    pub creation_ms: Option<i64>,
    pub expiration_ms: Option<i64>,
    pub invalidated: bool,
    pub invalidation_ms: Option<i64>,
    pub username: Option<String>,
    pub realm: Option<String>,
    /// The owner realm's type (8.14+).
    pub realm_type: Option<String>,
    /// The owner's user profile (8.14+, with `with_profile_uid=true`).
    pub profile_uid: Option<String>,
    /// The key's own role descriptors; `{}` means the key inherits its owner's privileges.
    pub role_descriptors: Option<Value>,
    pub limited_by: Option<Value>,
    pub access: Option<Value>,
    pub metadata: Option<Value>,
    /// 1-based line of the record it came from.
    pub line: usize,
    /// Not from the cluster's answer but pieced together from audit events (`path:line` of the
    /// `create_apikey` event): creation, name, owner, expiration, descriptors as sent.
    pub derived_from: Option<String>,
}

/// Every key found in the records of one input (`text` is the input the records index).
pub fn parse_all(text: &str, records: &[Record]) -> Vec<KeyMetadata> {
    let mut keys = Vec::new();
    // Where the last document read past its record ended: a pretty-printed response longer
    // than a record (MAX_RECORD_LINES) is read whole from its first record, and the records it
    // spans are not read again.
    let mut covered_to = 0;
    for record in records {
        if record.range.start < covered_to {
            continue;
        }
        let norm = &record.norm;
        let create_response = norm.contains("\"encoded\"")
            || (norm.contains("\"api_key\"") && norm.contains("\"name\""));
        if !(norm.contains("\"api_keys\"")
            || (norm.contains("\"creation\"") && norm.contains("\"invalidated\""))
            || create_response)
        {
            continue;
        }
        // The record as written first: the normalised view unescapes `\n` and `\"` (for JSON
        // quoted inside a log line), which breaks a document whose own strings hold them (a
        // key name with a newline or a quote). The view is the fallback, for the quoted case.
        let raw = text.get(record.range.clone()).unwrap_or_default();
        let whole = || {
            let rest = text.get(record.range.start..)?;
            let (value, end) = first_document_at(rest)?;
            covered_to = record.range.start + end;
            Some(value)
        };
        let Some(value) = first_document(raw)
            .or_else(|| first_document(norm))
            .or_else(whole)
        else {
            continue;
        };
        match value.get("api_keys").and_then(Value::as_array) {
            Some(list) => keys.extend(list.iter().filter_map(|v| parse_key(v, record.line))),
            None if value.get("creation").is_some() => keys.extend(parse_key(&value, record.line)),
            None => keys.extend(parse_create_response(&value, record.line)),
        }
    }
    keys
}

/// The first JSON document from the first `{` of `text`, and the byte offset where it ends.
fn first_document_at(text: &str) -> Option<(Value, usize)> {
    let start = text.find('{')?;
    let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
    let value = stream.next()?.ok()?;
    Some((value, start + stream.byte_offset()))
}

/// The first JSON document from the first `{` of `text`.
fn first_document(text: &str) -> Option<Value> {
    let start = text.find('{')?;
    serde_json::Deserializer::from_str(&text[start..])
        .into_iter::<Value>()
        .next()?
        .ok()
}

fn parse_key(value: &Value, line: usize) -> Option<KeyMetadata> {
    let id = value.get("id")?.as_str()?.to_string();
    let s = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    let n = |key: &str| value.get(key).and_then(Value::as_i64);
    let v = |key: &str| value.get(key).filter(|v| !v.is_null()).cloned();
    Some(KeyMetadata {
        id,
        name: s("name"),
        key_type: s("type").as_deref().and_then(crate::model::KeyType::parse),
        creation_ms: n("creation"),
        expiration_ms: n("expiration"),
        invalidated: value
            .get("invalidated")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        invalidation_ms: n("invalidation"),
        username: s("username"),
        realm: s("realm"),
        realm_type: s("realm_type"),
        profile_uid: s("profile_uid"),
        role_descriptors: v("role_descriptors"),
        limited_by: v("limited_by"),
        access: v("access"),
        metadata: v("metadata"),
        line,
        derived_from: None,
    })
}

/// The keys of a response body as the cluster sent it (`{"api_keys": [...]}` of get and query).
pub fn from_response(value: &Value) -> Vec<KeyMetadata> {
    value
        .get("api_keys")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|v| parse_key(v, 0)).collect())
        .unwrap_or_default()
}

/// A create-key response (`{"id", "name", "expiration"?, "api_key", "encoded"}`): the key as it
/// was at creation. The secret is not kept (the text was redacted before it got here anyway).
fn parse_create_response(value: &Value, line: usize) -> Option<KeyMetadata> {
    let id = value.get("id")?.as_str()?.to_string();
    if value.get("error").is_some()
        || (value.get("encoded").is_none() && value.get("api_key").is_none())
    {
        return None;
    }
    Some(KeyMetadata {
        id,
        name: value
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string),
        key_type: None,
        creation_ms: None,
        expiration_ms: value.get("expiration").and_then(Value::as_i64),
        invalidated: false,
        invalidation_ms: None,
        username: None,
        realm: None,
        realm_type: None,
        profile_uid: None,
        role_descriptors: None,
        limited_by: None,
        access: None,
        metadata: None,
        line,
        derived_from: Some(format!("a create-key response (line {line})")),
    })
}

impl KeyMetadata {
    /// Whether the key is managed by another product (Fleet sets `metadata.managed: true`): its
    /// lifecycle is that product's job.
    pub fn managed_by(&self) -> Option<String> {
        let meta = self.metadata.as_ref()?;
        if meta.get("managed").and_then(Value::as_bool) != Some(true) {
            return None;
        }
        Some(
            meta.get("managed_by")
                .and_then(Value::as_str)
                .unwrap_or("another product")
                .to_string(),
        )
    }

    /// The key's state at `now_ms`.
    pub fn state(&self, now_ms: i64) -> KeyState {
        if self.invalidated {
            KeyState::Invalidated
        } else if self.expiration_ms.is_some_and(|exp| exp <= now_ms) {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }
}

pub use crate::model::KeyState;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_input;
    use crate::source::Input;

    #[test]
    fn a_pretty_response_longer_than_a_record_is_read_whole_and_once() {
        // Dev Tools saves GET /_security/api_key pretty-printed: with limited_by, a key is ~60
        // lines, so a dozen keys pass the record cap (MAX_RECORD_LINES) and were lost.
        let key = |i: usize| {
            let roles: Vec<String> = (0..8)
                .map(|r| format!("      \"role-{r}\": {{\n        \"cluster\": [\"monitor\"],\n        \"indices\": [\n          {{\n            \"names\": [\"logs-{r}-*\"],\n            \"privileges\": [\"read\"]\n          }}\n        ]\n      }}"))
                .collect();
            format!(
                "    {{\n      \"id\": \"key{i:0>17}\",\n      \"name\": \"k{i}\",\n      \"creation\": 1548550550158,\n      \"invalidated\": false,\n      \"username\": \"svc\",\n      \"role_descriptors\": {{\n{}\n      }}\n    }}",
                roles.join(",\n")
            )
        };
        let keys: Vec<String> = (0..12).map(key).collect();
        let text = format!("{{\n  \"api_keys\": [\n{}\n  ]\n}}\n", keys.join(",\n"));
        assert!(text.lines().count() > crate::event::MAX_RECORD_LINES);
        let doc = parse_input(&Input {
            name: "t".into(),
            text,
        });
        let ids: Vec<&str> = doc.keys.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids.len(), 12, "{ids:?}");
        assert_eq!(ids[11], "key00000000000000011");
        assert!(doc.keys.iter().all(|k| k.role_descriptors.is_some()));
    }

    #[test]
    fn get_api_key_response_is_read() {
        let text = r#"{"api_keys":[{"id":"0GF5GXsBCXxz2eDxWwFN","name":"hadoop_myuser_key","creation":1548550550158,"expiration":1548551550158,"invalidated":false,"username":"myuser","realm":"native1","realm_type":"native","metadata":{"application":"myapp"},"role_descriptors":{"role-a":{"cluster":["monitor"],"indices":[{"names":["index-a"],"privileges":["read"],"allow_restricted_indices":false}]}}}]}"#;
        let doc = parse_input(&Input {
            name: "t".into(),
            text: text.into(),
        });
        assert_eq!(doc.keys.len(), 1);
        let key = &doc.keys[0];
        assert_eq!(key.id, "0GF5GXsBCXxz2eDxWwFN");
        assert_eq!(key.state(1548551550159), KeyState::Expired);
        assert_eq!(key.state(1548550550159), KeyState::Active);
    }
}
