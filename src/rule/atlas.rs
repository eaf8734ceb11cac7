//! The message atlas (`atlas/*.toml`): every message a failed API key makes the products print,
//! from their sources, as data: template, class, decisive words, versions, source and link,
//! and the envelopes it reaches users in (a server WARN line, a 401 body, a Python exception…).
//!
//! - **In**: the embedded atlas files.
//! - **Out**: [`Entry`]s; [`render`] puts an entry in one of its envelopes with realistic
//!   values (the test suite expects each rendering's class); [`check`] lists what is wrong.
//! - **Never**: stand in for rules: the atlas says what the products print, the rules decide.

use serde::Deserialize;

/// The atlas files, one per product.
pub const FILES: &[(&str, &str)] = &[
    (
        "atlas/elasticsearch.toml",
        include_str!("../../atlas/elasticsearch.toml"),
    ),
    ("atlas/kibana.toml", include_str!("../../atlas/kibana.toml")),
    (
        "atlas/logstash.toml",
        include_str!("../../atlas/logstash.toml"),
    ),
    ("atlas/fleet.toml", include_str!("../../atlas/fleet.toml")),
    ("atlas/apm.toml", include_str!("../../atlas/apm.toml")),
    ("atlas/beats.toml", include_str!("../../atlas/beats.toml")),
];

/// The realistic values templates are rendered with.
pub const VALUES: &[(&str, &str)] = &[
    ("key_id", "VuaCfGcBCdbkQm-e5aOx"),
    ("owner", "ingest_owner"),
    ("index", "logs-app-default"),
    ("alias", "eu-logs"),
    ("doc_type", "user"),
    ("user", "analyst"),
];

/// How a message reaches a user.
pub const ENVELOPES: &[&str] = &[
    "text",
    "server_warn",
    "unsuccessful_401",
    "reason_401",
    "reason_403",
    "reason_400",
    "reason_500",
    "python_401",
    "python_403",
    "python_400",
    "java_api",
    "js",
    "beats",
    "beats_json",
    "logstash_bulk",
    "logstash_retryable",
    "kibana_json",
    "kibana_legacy_json",
    "kibana_http_403",
    "go_esapi_401",
    "go_esapi_403",
    "go_typed_401",
    "go_typed_403",
    "dotnet_401",
    "dotnet_403",
    "ruby_401",
    "ruby_403",
    "php_401",
    "php_403",
    "rust_401",
    "rust_403",
    "terraform_403",
    "agent_cli",
    "agent_json",
    "fleet_server_json",
    "apm_401",
    "apm_403",
    "apm_server_json",
    "otel_flush_401",
    "otel_doc_403",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    product: String,
    message: Vec<Entry>,
}

/// What a message must be read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Reading {
    Finding(crate::model::Class),
    Note,
    Nothing,
}

impl Reading {
    /// As the atlas writes it: a class name, `note` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Finding(c) => c.as_str(),
            Self::Note => "note",
            Self::Nothing => "none",
        }
    }
}

impl TryFrom<String> for Reading {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        match name.as_str() {
            "none" => Ok(Self::Nothing),
            "note" => Ok(Self::Note),
            other => crate::model::Class::parse(other)
                .map(Self::Finding)
                .ok_or_else(|| format!("class `{other}` is not a class, `note` or `none`")),
        }
    }
}

impl std::fmt::Display for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    pub template: String,
    /// What keydoctor must read it as: a finding's class, `note` for a neighbouring problem said
    /// in one line (no finding), `none` for a look-alike that is no finding.
    pub class: Reading,
    pub decisive: String,
    pub envelopes: Vec<String>,
    pub versions: String,
    pub source: String,
    pub link: String,
    /// Filled from the file's `product`.
    #[serde(skip)]
    pub product: String,
    /// The file it is in.
    #[serde(skip)]
    pub file: &'static str,
}

/// Every entry of every atlas file; a file that does not parse is a problem of [`check`].
pub fn entries() -> Vec<Entry> {
    FILES
        .iter()
        .filter_map(|(name, text)| {
            let file: File = toml::from_str(text).ok()?;
            Some(file.message.into_iter().map(move |mut e| {
                e.product.clone_from(&file.product);
                e.file = name;
                e
            }))
        })
        .flatten()
        .collect()
}

/// The template with its placeholders filled.
pub fn message(entry: &Entry) -> String {
    let mut out = entry.template.clone();
    for (name, value) in VALUES {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// `entry`'s message inside `envelope`, as the user would paste it.
pub fn render(entry: &Entry, envelope: &str) -> String {
    let msg = message(entry);
    let json = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let py = |s: &str| s.replace('\'', "\\'");
    let body = |status: u16, kind: &str| {
        format!(
            r#"{{"error":{{"root_cause":[{{"type":"{kind}","reason":{m}}}],"type":"{kind}","reason":{m}}},"status":{status}}}"#,
            m = json(&msg)
        )
    };
    // The 401 body that carries the message in `additional_unsuccessful_credentials`, as 8.x
    // and later send it.
    let unsuccessful = || {
        format!(
            r#"{{"error":{{"root_cause":[{{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":{u}}}],"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":{u}}},"status":401}}"#,
            u = json(&format!("API key: {msg}"))
        )
    };
    let go_typed =
        |status: u16| format!("status: {status}, failed: [security_exception], reason: {msg}");
    let dotnet = |status: u16| {
        format!(
            "Elastic.Transport.TransportException: Request failed to execute. Call: Status code {status} from: POST /logs-app-default/_doc. ServerError: Type: security_exception Reason: \"{msg}\""
        )
    };
    // An APM agent (the Python agent's transport) reporting APM Server's answer.
    let apm_agent = |status: u16| {
        format!(
            "elasticapm.transport - ERROR - Failed to submit message: 'HTTP {status}: {{\"error\":{}}}\\n'",
            json(&msg)
        )
    };
    // elasticsearch-rs: `response.exception()` is the error body as its `Exception` struct, and
    // people print it with `{:?}` (derived Debug: `Some("…")` around strings, serde_json's
    // `String("…")` for the fields it keeps as additional details).
    let rust = |status: u16, top: &str, extra: String| {
        format!(
            "Some(Exception {{ status: Some({status}), error: Error {{ caused_by: None, header: {{}}, root_cause: [Cause {{ caused_by: None, reason: Some({top:?}), stack_trace: None, ty: Some(\"security_exception\"), additional_details: {extra} }}], reason: Some({top:?}), stack_trace: None, ty: Some(\"security_exception\"), additional_details: {extra} }} }})"
        )
    };
    match envelope {
        "rust_401" => rust(
            401,
            "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
            format!(
                "{{\"additional_unsuccessful_credentials\": String({:?})}}",
                format!("API key: {msg}")
            ),
        ),
        "rust_403" => rust(403, &msg, "{}".to_string()),
        // go-elasticsearch's `esapi.Response.String()`: status, then the body as it came.
        "go_esapi_401" => format!("[401 Unauthorized] {}", unsuccessful()),
        "go_esapi_403" => format!("[403 Forbidden] {}", body(403, "security_exception")),
        // go-elasticsearch's typed API (`types.ElasticsearchError`): the root reason only.
        "go_typed_401" => go_typed(401),
        "go_typed_403" => go_typed(403),
        // Elastic.Transport (.NET client 8.x and later): the call and the server error's
        // type and reason.
        "dotnet_401" => dotnet(401),
        "dotnet_403" => dotnet(403),
        // elastic-transport-ruby: the error class of the status, `[status] body`.
        "ruby_401" => format!(
            "Elastic::Transport::Transport::Errors::Unauthorized: [401] {}",
            unsuccessful()
        ),
        "ruby_403" => format!(
            "Elastic::Transport::Transport::Errors::Forbidden: [403] {}",
            body(403, "security_exception")
        ),
        // elasticsearch-php 8.x: `status reason-phrase: body`, uncaught.
        "php_401" => format!(
            "PHP Fatal error:  Uncaught Elastic\\Elasticsearch\\Exception\\ClientResponseException: 401 Unauthorized: {} in /app/vendor/elasticsearch/elasticsearch/src/Response/Elasticsearch.php:72",
            unsuccessful()
        ),
        "php_403" => format!(
            "PHP Fatal error:  Uncaught Elastic\\Elasticsearch\\Exception\\ClientResponseException: 403 Forbidden: {} in /app/vendor/elasticsearch/elasticsearch/src/Response/Elasticsearch.php:72",
            body(403, "security_exception")
        ),
        // The elasticstack Terraform provider: the typed client's error under its summary.
        "terraform_403" => format!(
            "╷\n│ Error: Unable to create apikey\n│ \n│   with elasticstack_elasticsearch_security_api_key.ingest,\n│   on main.tf line 12, in resource \"elasticstack_elasticsearch_security_api_key\" \"ingest\":\n│   12: resource \"elasticstack_elasticsearch_security_api_key\" \"ingest\" {{\n│ \n│ {}\n╵",
            go_typed(403)
        ),
        // Elastic Agent: the enroll command's error, and its JSON log line.
        "agent_cli" => format!(
            "Error: fail to enroll: fail to execute request to fleet-server: {msg}\nError: enroll command failed with exit code: 1"
        ),
        "agent_json" => format!(
            r#"{{"log.level":"error","@timestamp":"2026-11-20T09:14:10.123Z","log.origin":{{"function":"github.com/elastic/elastic-agent/internal/pkg/agent/application/gateway/fleet.(*FleetGateway).doExecute","file.name":"fleet/fleet_gateway.go","file.line":194}},"message":"Cannot checkin in with fleet-server, retrying","log":{{"source":"elastic-agent"}},"error":{{"message":{m}}},"request_duration_ns":12034567,"failed_checkins":1,"retry_after_ns":61234567890,"ecs.version":"1.6.0"}}"#,
            m = json(&format!("fail to checkin to fleet-server: {msg}"))
        ),
        // Fleet Server's log line for an error it answers an agent with.
        "fleet_server_json" => format!(
            r#"{{"log.level":"info","@timestamp":"2026-11-20T09:14:10.123Z","message":"HTTP request error","service.name":"fleet-server","error.message":{m},"http.response.status_code":401,"error.type":"*errors.errorString","fleet.access.apikey.id":"{key}","ecs.version":"1.6.0"}}"#,
            m = json(&msg),
            key = VALUES[0].1
        ),
        // The OpenTelemetry Collector's elasticsearchexporter (zap's console encoding): a
        // failed bulk request (go-docappender's `flush failed (status): body`), and a document
        // Elasticsearch refused inside a bulk that went through.
        "otel_flush_401" => format!(
            "2026-11-20T09:14:10.123Z\terror\telasticsearchexporter@v0.139.0/bulkindexer.go:367\tbulk indexer flush error\t{{\"resource\": {{\"service.name\": \"otelcol-contrib\"}}, \"otelcol.component.id\": \"elasticsearch\", \"otelcol.component.kind\": \"exporter\", \"otelcol.signal\": \"logs\", \"error\": {e}}}",
            e = json(&format!("flush failed (401): {}", unsuccessful()))
        ),
        "otel_doc_403" => format!(
            "2026-11-20T09:14:10.123Z\terror\telasticsearchexporter@v0.139.0/bulkindexer.go:402\tfailed to index document\t{{\"resource\": {{\"service.name\": \"otelcol-contrib\"}}, \"otelcol.component.id\": \"elasticsearch\", \"otelcol.component.kind\": \"exporter\", \"otelcol.signal\": \"logs\", \"index\": \"logs-generic.otel-default\", \"error.type\": \"security_exception\", \"error.reason\": {m}}}",
            m = json(&msg)
        ),
        "apm_401" => apm_agent(401),
        "apm_403" => apm_agent(403),
        // APM Server's request log line: the answer's words are the message.
        "apm_server_json" => format!(
            r#"{{"log.level":"error","@timestamp":"2026-11-20T09:14:10.123Z","log.logger":"request","log.origin":{{"function":"github.com/elastic/apm-server/internal/beater/middleware.LogMiddleware.func1.1","file.name":"middleware/log_middleware.go","file.line":59}},"message":{m},"service.name":"apm-server","url.original":"/intake/v2/events","http.request.method":"POST","source.address":"10.0.4.17","http.response.status_code":401,"ecs.version":"1.6.0"}}"#,
            m = json(&msg)
        ),
        "server_warn" => format!(
            "[2026-11-20T09:14:10,123][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-node-1] Authentication using apikey failed - {msg}"
        ),
        "unsuccessful_401" => format!(
            r#"{{"error":{{"root_cause":[{{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":{u},"header":{{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","ApiKey"]}}}}],"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":{u}}},"status":401}}"#,
            u = json(&format!("API key: {msg}"))
        ),
        "reason_401" => body(401, "security_exception"),
        "reason_403" => body(403, "security_exception"),
        "reason_400" => body(400, "illegal_argument_exception"),
        "reason_500" => body(500, "illegal_state_exception"),
        "python_401" => format!(
            "elasticsearch.AuthenticationException: AuthenticationException(401, 'security_exception', '{}')",
            py(&msg)
        ),
        "python_403" => format!(
            "elasticsearch.AuthorizationException: AuthorizationException(403, 'security_exception', '{}')",
            py(&msg)
        ),
        "python_400" => format!(
            "elasticsearch.BadRequestError: BadRequestError(400, 'illegal_argument_exception', '{}')",
            py(&msg)
        ),
        "java_api" => format!(
            "co.elastic.clients.elasticsearch._types.ElasticsearchException: [es/search] failed: [security_exception] {msg}"
        ),
        "js" => format!(
            "ResponseError: security_exception\n\tRoot causes:\n\t\tsecurity_exception: {msg}\n    at SniffingTransport._request (/app/node_modules/@elastic/transport/lib/Transport.js:543:27)"
        ),
        "beats" => format!(
            r#"{{"log.level":"error","@timestamp":"2026-11-20T09:14:10.000Z","log.logger":"publisher_pipeline_output","message":{m},"service.name":"filebeat","ecs.version":"1.6.0"}}"#,
            m = json(&format!(
                "Failed to connect to backoff(elasticsearch(https://es:9200)): 401 Unauthorized: {}",
                body(401, "security_exception")
            ))
        ),
        // A Beat's own ECS log line (libbeat's logger; under Elastic Agent the same line gains
        // a `component` object).
        "beats_json" => format!(
            r#"{{"log.level":"warn","@timestamp":"2026-11-20T09:14:10.123Z","log.logger":"elasticsearch","log.origin":{{"function":"github.com/elastic/beats/v7/libbeat/outputs/elasticsearch.(*Client).bulkCollectPublishFails","file.name":"elasticsearch/client.go","file.line":454}},"message":{m},"service.name":"filebeat","ecs.version":"1.6.0"}}"#,
            m = json(&msg)
        ),
        "logstash_bulk" => format!(
            r#"[2026-11-20T09:14:10,120][INFO ][logstash.outputs.elasticsearch][main][a1b2] Retrying failed action {{:status=>403, :action=>["index", {{:_id=>nil, :_index=>"logs-app-default"}}, {{"message"=>"x"}}], :error=>{{"type"=>"security_exception", "reason"=>{m}}}}}"#,
            m = json(&msg)
        ),
        "logstash_retryable" => format!(
            r#"[2026-11-20T09:14:10,120][ERROR][logstash.outputs.elasticsearch][main][a1b2] Encountered a retryable error (will retry with exponential backoff) {{:code=>401, :url=>"https://es:9200/_bulk", :content_length=>1234, :body=>{b}}}"#,
            b = json(&format!(
                r#"{{"error":{{"root_cause":[{{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":"API key: {}"}}],"type":"security_exception"}},"status":401}}"#,
                msg.replace('"', "\\\"")
            ))
        ),
        "kibana_json" => format!(
            r#"{{"@timestamp":"2026-11-20T09:14:10.000+00:00","log":{{"level":"ERROR","logger":"plugins.alerting"}},"message":{m},"service":{{"name":"kibana"}}}}"#,
            m = json(&msg)
        ),
        "kibana_http_403" => format!(
            r#"{{"statusCode":403,"error":"Forbidden","message":{m}}}"#,
            m = json(&msg)
        ),
        "kibana_legacy_json" => format!(
            r#"{{"type":"log","@timestamp":"2022-10-05T14:38:17+00:00","tags":["error","plugins","fleet"],"pid":7,"message":{m}}}"#,
            m = json(&msg)
        ),
        _ => msg,
    }
}

/// Everything wrong with the atlas: unparsable files, unknown classes or envelopes, a decisive
/// phrase the template lacks, unknown placeholders, empty sources, repeated ids.
pub fn check() -> Vec<String> {
    let mut problems = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for (name, text) in FILES {
        let file: File = match toml::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        for e in &file.message {
            let at = format!("{name}: message `{}`", e.id);
            if !ids.insert(e.id.clone()) {
                problems.push(format!("{at}: the id is used twice"));
            }
            if !e
                .template
                .to_lowercase()
                .contains(&e.decisive.to_lowercase())
            {
                problems.push(format!(
                    "{at}: the decisive words `{}` are not in the template",
                    e.decisive
                ));
            }
            for env in &e.envelopes {
                if !ENVELOPES.contains(&env.as_str()) {
                    problems.push(format!(
                        "{at}: envelope `{env}` is not one of {ENVELOPES:?}"
                    ));
                }
            }
            if e.envelopes.is_empty() {
                problems.push(format!("{at}: no envelope"));
            }
            let rendered = message(e);
            if let Some(open) = rendered.find('{').filter(|i| {
                rendered[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_lowercase())
            }) {
                problems.push(format!(
                    "{at}: unknown placeholder at `{}`",
                    &rendered[open..rendered.len().min(open + 20)]
                ));
            }
            if e.source.trim().is_empty() || !e.link.starts_with("https://") {
                problems.push(format!("{at}: a source and an https link are needed"));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_atlas_is_well_formed() {
        // A class that is not one is refused when the atlas is read.
        assert!(Reading::try_from("expird".to_string()).is_err());
        assert_eq!(
            Reading::try_from("expired".to_string()),
            Ok(Reading::Finding(crate::model::Class::Expired))
        );
        assert_eq!(check(), Vec::<String>::new());
        assert!(entries().len() >= 30);
        // A broken entry is named.
        let bad = Entry {
            decisive: "not in it".into(),
            ..entries()[0].clone()
        };
        assert!(!bad.template.contains(&bad.decisive));
    }

    #[test]
    fn the_rust_clients_exception_is_rendered_as_its_derived_debug_prints_it() {
        let entry = entries()
            .into_iter()
            .find(|e| e.id == "apikey-invalidated-8x")
            .expect("entry");
        let text = render(&entry, "rust_401");
        assert!(text.starts_with("Some(Exception { status: Some(401), error: Error {"));
        assert!(text.contains(
            r#"additional_details: {"additional_unsuccessful_credentials": String("API key: "#
        ));
        assert!(text.ends_with("} })"), "{text}");
    }
}
