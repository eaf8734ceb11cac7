//! The read-only calls keydoctor makes, typed, version-aware (shared/reference section 6).

use serde_json::{json, Value};

use super::client::{Client, ClusterError};
use crate::event::key_metadata::{from_response, KeyMetadata};
use crate::model::Version;

/// `GET /`: who answered.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    pub version: Option<Version>,
    pub version_text: String,
    pub cluster_name: Option<String>,
    pub cluster_uuid: Option<String>,
}

/// `GET /`. Every node from 7.14 on sends `X-elastic-product: Elasticsearch`; an answer
/// without it is accepted only from an older node (its `tagline` and `version.number` say so),
/// as Elastic's own clients do. Anything else (OpenSearch, a proxy's page, a stub) is refused.
pub fn info(client: &Client) -> Result<ClusterInfo, ClusterError> {
    let answer = client.get("")?;
    product_check(client, &answer)?;
    let number = answer
        .body
        .pointer("/version/number")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ClusterError::missing_field(
                "GET /",
                answer.status,
                "no version.number in the answer",
                &answer.body,
            )
        })?;
    Ok(ClusterInfo {
        version: Version::parse(number),
        version_text: number.to_string(),
        cluster_name: answer
            .body
            .get("cluster_name")
            .and_then(Value::as_str)
            .map(str::to_string),
        cluster_uuid: answer
            .body
            .get("cluster_uuid")
            .and_then(Value::as_str)
            .filter(|u| *u != "_na_")
            .map(str::to_string),
    })
}

fn product_check(client: &Client, answer: &super::client::Answer) -> Result<(), ClusterError> {
    let body = &answer.body;
    let number = body.pointer("/version/number").and_then(Value::as_str);
    let refuse = |why: String| {
        Err(ClusterError::NotElasticsearch {
            url: client.url().to_string(),
            why,
        })
    };
    match answer.product.as_deref() {
        Some("Elasticsearch") => return Ok(()),
        Some(other) => return refuse(format!("its X-elastic-product header says `{other}`")),
        None => {}
    }
    if body
        .pointer("/version/distribution")
        .and_then(Value::as_str)
        == Some("opensearch")
    {
        return refuse(format!(
            "it is OpenSearch {} (`version.distribution`); its security plugin has other APIs and messages",
            number.unwrap_or("(no version)")
        ));
    }
    let tagline = body.get("tagline").and_then(Value::as_str);
    match number.and_then(Version::parse) {
        Some(v) if v < Version(7, 14, 0) && tagline == Some("You Know, for Search") => Ok(()),
        Some(v) => refuse(format!(
            "GET / answers like Elasticsearch {v} but without the X-elastic-product header every Elasticsearch node sends from 7.14 on (a proxy that strips headers, or something imitating Elasticsearch)"
        )),
        None => refuse(format!(
            "GET / answered HTTP {} without the X-elastic-product header and without version.number: {}",
            answer.status,
            crate::event::credential::redact(&body.to_string().chars().take(200).collect::<String>())
        )),
    }
}

/// What a lookup found, and what it could not see.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub keys: Vec<KeyMetadata>,
    /// Limits of the answer (e.g. `limited_by` not visible with `manage_own_api_key`).
    pub notes: Vec<String>,
}

/// `GET /_security/api_key?id=…`, with `limited_by` from 8.5 when the credentials may see it;
/// with only `manage_own_api_key`, the caller's own keys (`owner=true`).
pub fn key_by_id(
    client: &Client,
    id: &str,
    version: Option<Version>,
) -> Result<Lookup, ClusterError> {
    let id_q = urlencode(id);
    let limited_by = version.is_none_or(|v| v >= Version(8, 5, 0));
    let mut lookup = Lookup::default();
    if limited_by {
        match client.get(&format!("_security/api_key?id={id_q}&with_limited_by=true")) {
            Ok(a) => {
                lookup.keys = from_response(&a.body);
                return Ok(lookup);
            }
            Err(ClusterError::Forbidden { .. }) => {
                lookup.notes.push(
                    "limited_by is not visible to these credentials (it needs manage_api_key); the owner's privileges are not shown".into(),
                );
            }
            Err(e) => return Err(e),
        }
    }
    match client.get(&format!("_security/api_key?id={id_q}")) {
        Ok(a) => lookup.keys = from_response(&a.body),
        Err(ClusterError::Forbidden { .. }) => {
            let a = client.get(&format!("_security/api_key?id={id_q}&owner=true"))?;
            lookup.keys = from_response(&a.body);
            lookup.notes.push(
                "these credentials see only their own keys (manage_own_api_key): a key of another user shows as missing".into(),
            );
        }
        Err(e) => return Err(e),
    }
    Ok(lookup)
}

/// Keys that are not invalidated: the query API from 7.15 (pages of 1,000, at most 10,000, the
/// default result window), else every key from `GET /_security/api_key`.
pub fn active_keys(client: &Client, version: Option<Version>) -> Result<Lookup, ClusterError> {
    let mut lookup = Lookup::default();
    if version.is_some_and(|v| v < Version(7, 15, 0)) {
        let a = client.get("_security/api_key")?;
        lookup.keys = from_response(&a.body)
            .into_iter()
            .filter(|k| !k.invalidated)
            .collect();
        return Ok(lookup);
    }
    const PAGE: usize = 1000;
    const WINDOW: usize = 10_000;
    let mut from = 0;
    loop {
        let body = json!({
            "from": from,
            "size": PAGE,
            "query": {"bool": {"filter": [{"term": {"invalidated": false}}]}},
            "sort": [{"expiration": {"order": "asc"}}, {"creation": {"order": "asc"}}],
        });
        let a = client.post("_security/_query/api_key", &body)?;
        let page = from_response(&a.body);
        let total = a.body.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
        let n = page.len();
        lookup.keys.extend(page);
        from += n;
        if n < PAGE || from >= total {
            break;
        }
        if from >= WINDOW {
            lookup.notes.push(format!(
                "the cluster has {total} active keys; the first {WINDOW} by expiration were read (the query API's result window)"
            ));
            break;
        }
    }
    Ok(lookup)
}

/// The keys whose `metadata.<field>` is `value`: the query API from 7.15 (`body` is the query),
/// else every key from `GET /_security/api_key`, filtered here.
pub fn keys_with_metadata(
    client: &Client,
    body: &Value,
    (field, value): (&str, &str),
    version: Option<Version>,
) -> Result<Vec<KeyMetadata>, ClusterError> {
    if version.is_some_and(|v| v < Version(7, 15, 0)) {
        let a = client.get("_security/api_key")?;
        return Ok(from_response(&a.body)
            .into_iter()
            .filter(|k| {
                k.metadata
                    .as_ref()
                    .and_then(|m| m.get(field))
                    .and_then(Value::as_str)
                    == Some(value)
            })
            .collect());
    }
    let a = client.post("_security/_query/api_key", body)?;
    Ok(from_response(&a.body))
}

/// Percent-encode a query value (key ids are URL-safe base64, but be exact).
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /_security/_authenticate`: who keydoctor is on this cluster (`None` when the call is
/// refused or security is off).
pub fn authenticate(client: &Client) -> Option<Value> {
    client
        .get("_security/_authenticate")
        .ok()
        .filter(|a| a.status == 200)
        .map(|a| a.body)
}

/// The security feature's state as `GET /_xpack/usage` reports it (`security.enabled`,
/// `security.ssl.http.enabled`, `security.api_key_service.enabled`, `security.audit.enabled`),
/// or as much as `GET /_xpack` tells (`features.security.enabled`) when usage is refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecurityUsage {
    /// The call that answered (`GET /_xpack/usage` or `GET /_xpack`).
    pub call: &'static str,
    /// The `security` object of the answer, for evidence.
    pub security: Value,
}

/// `GET /_xpack/usage`, else `GET /_xpack` (both need the `monitor` cluster privilege).
pub fn security_usage(client: &Client) -> Result<SecurityUsage, ClusterError> {
    let usage = client.get("_xpack/usage");
    match usage {
        Ok(a) if a.status == 200 && a.body.get("security").is_some() => {
            return Ok(SecurityUsage {
                call: "GET /_xpack/usage",
                security: a.body["security"].clone(),
            })
        }
        Ok(_) | Err(ClusterError::Forbidden { .. }) | Err(ClusterError::Unexpected { .. }) => {}
        Err(e) => return Err(e),
    }
    let info = client.get("_xpack")?;
    match info.body.pointer("/features/security") {
        Some(security) if info.status == 200 => Ok(SecurityUsage {
            call: "GET /_xpack",
            security: security.clone(),
        }),
        _ => Err(ClusterError::Unexpected {
            call: "GET /_xpack".into(),
            status: info.status,
            content_type: String::new(),
            head: "no features.security in the answer".into(),
        }),
    }
}

/// `GET /_remote/info`: one object per remote cluster alias.
pub fn remote_info(client: &Client) -> Result<Value, ClusterError> {
    Ok(client.get("_remote/info")?.body)
}

/// `GET /_cluster/settings?include_defaults=false&flat_settings=true`: persistent and transient
/// settings, flat (`cluster.remote.ALIAS.mode`).
pub fn cluster_settings(client: &Client) -> Result<Value, ClusterError> {
    Ok(client
        .get("_cluster/settings?include_defaults=false&flat_settings=true")?
        .body)
}

/// `GET /_security/_authenticate` sent with the key under study: `Ok(body)` when the cluster
/// accepts it, `Err(reason)` when it answers 401 (the reason as the cluster gave it).
pub fn authenticate_as_key(client: &Client) -> Result<Result<Value, String>, ClusterError> {
    match client.get("_security/_authenticate") {
        Ok(a) => Ok(Ok(a.body)),
        Err(ClusterError::Unauthorized { reason, .. }) => Ok(Err(reason)),
        Err(e) => Err(e),
    }
}

/// `POST /_security/user/_has_privileges` sent with the key under study: whether it holds
/// `privilege` (on `index` for an index privilege), and the answer.
pub fn key_has_privilege(
    client: &Client,
    cluster_privilege: bool,
    privilege: &str,
    index: Option<&str>,
) -> Result<(bool, Value), ClusterError> {
    let body = if cluster_privilege {
        json!({"cluster": [privilege]})
    } else {
        json!({"index": [{"names": [index.unwrap_or("*")], "privileges": [privilege]}]})
    };
    let a = client.post("_security/user/_has_privileges", &body)?;
    let granted = a
        .body
        .get("has_all_requested")
        .and_then(Value::as_bool)
        .ok_or_else(|| {
            ClusterError::missing_field(
                "POST /_security/user/_has_privileges",
                a.status,
                "no has_all_requested in the answer",
                &a.body,
            )
        })?;
    Ok((granted, a.body))
}
