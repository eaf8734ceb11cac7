//! `--audit-index PATTERN`: audit events shipped into Elasticsearch (Filebeat, Elastic Agent,
//! or the raw JSON lines), read back with a point in time and `search_after`, a time range and
//! only the fields the correlation needs, and written out as audit log lines so the audit
//! parser reads them as it reads `*_audit.json`.

use std::io::Write;

use serde_json::{json, Map, Value};

use super::client::{Client, ClusterError};
use crate::model::Version;

/// The audit actions the correlation reads; `access_granted` only for API keys.
const ACTIONS: &[&str] = &[
    "access_denied",
    "authentication_failed",
    "anonymous_access_denied",
    "create_apikey",
    "change_apikey",
    "change_apikeys",
    "invalidate_apikeys",
];

/// The fields asked for: the audit line's own names, the same under `elasticsearch.audit.`
/// (the Elasticsearch integration's mapping), and the original line when it was kept.
const FIELDS: &[&str] = &[
    "@timestamp",
    "timestamp",
    "type",
    "event.*",
    "user.*",
    "apikey.*",
    "authentication.*",
    "origin.*",
    "source.ip",
    "source.port",
    "node.*",
    "action",
    "request.*",
    "indices",
    "create.*",
    "change.*",
    "invalidate.*",
    "elasticsearch.audit.*",
    "message",
];

/// Keys of an audit line whose value stays an object (the request bodies of
/// `security_config_change` events); everything else is written with dotted names.
const NESTED: &[&str] = &["create", "change", "invalidate", "put", "delete"];

/// Events per page, and the most read in one run.
const PAGE: usize = 1000;
pub const MAX_EVENTS: usize = 2_000_000;

/// What was read.
#[derive(Debug, Clone, Default)]
pub struct AuditFetch {
    pub events: usize,
    pub pages: usize,
    /// `MAX_EVENTS` was reached: later events were not read.
    pub truncated: bool,
}

/// Read the audit events of `pattern` between `since_ms` and `until_ms` (epoch ms) into `out`,
/// one audit log line each, oldest first.
pub fn fetch(
    client: &Client,
    version: Option<Version>,
    pattern: &str,
    since_ms: i64,
    until_ms: Option<i64>,
    out: &mut dyn Write,
) -> Result<AuditFetch, ClusterError> {
    if let Some(v) = version.filter(|v| *v < Version(7, 10, 0)) {
        return Err(ClusterError::Unexpected {
            call: format!("POST /{pattern}/_pit"),
            status: 0,
            content_type: String::new(),
            head: format!("a point in time needs Elasticsearch 7.10 or later; this cluster runs {v}: export the audit events to files and scan those"),
        });
    }
    let opened = client.post(
        &format!("{}/_pit?keep_alive=2m", path_part(pattern)),
        &json!({}),
    )?;
    let mut pit = opened
        .body
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ClusterError::missing_field(
                &format!("POST /{pattern}/_pit"),
                opened.status,
                &format!("no point-in-time id in the answer (does `{pattern}` match an index?)"),
                &opened.body,
            )
        })?
        .to_string();
    let result = pages(client, &mut pit, since_ms, until_ms, out);
    // Release the point in time whatever happened; a failure here only costs the cluster a
    // context until keep_alive ends.
    let _ = client.delete("_pit", &json!({ "id": pit }));
    result
}

fn pages(
    client: &Client,
    pit: &mut String,
    since_ms: i64,
    until_ms: Option<i64>,
    out: &mut dyn Write,
) -> Result<AuditFetch, ClusterError> {
    let mut range = Map::new();
    range.insert("gte".into(), json!(since_ms));
    if let Some(u) = until_ms {
        range.insert("lte".into(), json!(u));
    }
    range.insert("format".into(), json!("epoch_millis"));
    let query = json!({"bool": {"filter": [
        {"range": {"@timestamp": range}},
        {"bool": {"minimum_should_match": 1, "should": [
            {"terms": {"event.action": ACTIONS}},
            {"bool": {"filter": [
                {"term": {"event.action": "access_granted"}},
                {"bool": {"minimum_should_match": 1, "should": [
                    {"exists": {"field": "apikey.id"}},
                    {"exists": {"field": "elasticsearch.audit.apikey.id"}}
                ]}}
            ]}}
        ]}}
    ]}});
    let mut fetch = AuditFetch::default();
    let mut after: Option<Value> = None;
    loop {
        let mut body = json!({
            "size": PAGE,
            "pit": {"id": pit.as_str(), "keep_alive": "2m"},
            "sort": [{"@timestamp": {"order": "asc", "unmapped_type": "date"}}],
            "query": query,
            "_source": FIELDS,
            "track_total_hits": false,
        });
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let answer = client.post("_search", &body)?;
        if let Some(id) = answer.body.get("pit_id").and_then(Value::as_str) {
            *pit = id.to_string();
        }
        let hits = answer
            .body
            .pointer("/hits/hits")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ClusterError::missing_field(
                    "POST /_search",
                    answer.status,
                    "no hits.hits in the answer",
                    &answer.body,
                )
            })?;
        fetch.pages += 1;
        for hit in hits {
            if fetch.events >= MAX_EVENTS {
                fetch.truncated = true;
                return Ok(fetch);
            }
            if let Some(source) = hit.get("_source") {
                let line = audit_line(source);
                out.write_all(line.as_bytes())
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(|e| ClusterError::Unexpected {
                        call: "writing the audit events read".into(),
                        status: 0,
                        content_type: String::new(),
                        head: e.to_string(),
                    })?;
                fetch.events += 1;
            }
        }
        if hits.len() < PAGE {
            return Ok(fetch);
        }
        after = hits.last().and_then(|h| h.get("sort")).cloned();
        if after.is_none() {
            return Ok(fetch);
        }
    }
}

/// An index pattern as a path segment: `*` and `,` kept, anything unusual percent-encoded.
fn path_part(pattern: &str) -> String {
    pattern
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b',' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The audit log line a shipped document came from: the original when it was kept
/// (`event.original`, or `message` holding the JSON line), else rebuilt from the fields.
pub fn audit_line(source: &Value) -> String {
    for pointer in ["/event/original", "/message"] {
        let kept = source
            .pointer(pointer)
            .or_else(|| source.get(pointer[1..].replace('/', ".")));
        if let Some(text) = kept.and_then(Value::as_str) {
            let text = text.trim();
            if text.starts_with('{') && text.contains("\"type\":\"audit\"") && !text.contains('\n')
            {
                return text.to_string();
            }
        }
    }
    let mut flat = Map::new();
    flatten(source, "", &mut flat);
    if !flat.contains_key("origin.address") {
        if let Some(ip) = flat.get("source.ip").and_then(Value::as_str) {
            let address = match flat.get("source.port") {
                Some(Value::Number(p)) => format!("{ip}:{p}"),
                Some(Value::String(p)) => format!("{ip}:{p}"),
                _ => ip.to_string(),
            };
            flat.insert("origin.address".into(), json!(address));
        }
    }
    // Audit lines carry `timestamp`; shipped documents at least `@timestamp`.
    if !flat.contains_key("timestamp") {
        if let Some(ts) = flat.get("@timestamp").cloned() {
            flat.insert("timestamp".into(), ts);
        }
    }
    flat.remove("event.original");
    flat.remove("message");
    let mut line = Map::new();
    line.insert("type".into(), json!("audit"));
    for (k, v) in flat {
        if k != "type" {
            line.insert(k, v);
        }
    }
    Value::Object(line).to_string()
}

/// Dotted names for everything but the request bodies; `elasticsearch.audit.` dropped.
fn flatten(value: &Value, prefix: &str, out: &mut Map<String, Value>) {
    let bare = |p: &str| {
        p.strip_prefix("elasticsearch.audit.")
            .unwrap_or(p)
            .to_string()
    };
    crate::event::flatten_json(
        value,
        prefix,
        &|p| NESTED.contains(&bare(p).as_str()),
        &mut |k, v| {
            // The line's own names win over the integration's copies.
            out.entry(bare(k)).or_insert_with(|| v.clone());
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::audit::parse_line;

    #[test]
    fn a_shipped_document_becomes_the_audit_line_again() {
        // The raw line decoded as ndjson: dotted names became objects.
        let doc = json!({
            "@timestamp": "2026-11-20T09:13:58.102Z",
            "type": "audit",
            "event": {"type": "security_config_change", "action": "invalidate_apikeys"},
            "user": {"name": "jdoe", "realm": "corp_ldap"},
            "origin": {"type": "rest", "address": "10.20.3.44:51522"},
            "invalidate": {"apikeys": {"ids": ["VuaCfGcBCdbkQm-e5aOx"], "owned_by_authenticated_user": false}}
        });
        let line = audit_line(&doc);
        let e = parse_line(&line, 1).unwrap();
        assert_eq!(e.action, crate::model::AuditAction::InvalidateApiKeys);
        assert_eq!(e.user.as_deref(), Some("jdoe"));
        assert_eq!(e.origin.as_deref(), Some("10.20.3.44:51522"));
        assert_eq!(e.invalidated_ids, vec!["VuaCfGcBCdbkQm-e5aOx".to_string()]);
        assert!(line.starts_with(r#"{"type":"audit""#), "{line}");
    }

    #[test]
    fn the_integration_mapping_and_kept_originals_are_read() {
        let doc = json!({
            "@timestamp": "2026-11-20T09:14:10.000Z",
            "event": {"action": "anonymous_access_denied"},
            "source": {"ip": "10.1.4.7", "port": 53312},
            "elasticsearch": {"audit": {"layer": "rest", "request": {"method": "POST"}, "url": {"path": "/_bulk"}}}
        });
        let e = parse_line(&audit_line(&doc), 1).unwrap();
        assert_eq!(e.action, crate::model::AuditAction::AnonymousAccessDenied);
        assert_eq!(e.origin.as_deref(), Some("10.1.4.7:53312"));
        let original = r#"{"type":"audit", "@timestamp":"2026-11-20T09:14:10,000+0000", "event.action":"access_granted", "apikey.id":"K1"}"#;
        let doc = json!({"@timestamp": "2026-11-20T09:14:10.000Z", "event": {"action": "access_granted", "original": original}});
        assert_eq!(audit_line(&doc), original);
    }
}
