//! What an input is, as reports name it.

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogFormat {
    /// Elasticsearch server log, plain text (`[ts][LEVEL][o.e.x…] [node] message`).
    ServerPlain,
    /// Elasticsearch server log, JSON (7.x `"type": "server"` or 8.x ECS).
    ServerJson,
    /// Elasticsearch audit log (`<cluster>_audit.json`).
    Audit,
    /// Logstash, plain text (`[ts][LEVEL][logstash.outputs.elasticsearch]`).
    LogstashPlain,
    /// Logstash, JSON (`log.format: json`).
    LogstashJson,
    /// Beats or Elastic Agent, ndjson.
    BeatsJson,
    /// Kibana (JSON or plain).
    Kibana,
    /// `GET /_security/api_key` or `_query/api_key` response.
    KeyMetadata,
    /// Anything else that is text.
    Text,
}

impl LogFormat {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerPlain => "elasticsearch server log",
            Self::ServerJson => "elasticsearch server log (json)",
            Self::Audit => "elasticsearch audit log",
            Self::LogstashPlain => "logstash log",
            Self::LogstashJson => "logstash log (json)",
            Self::BeatsJson => "beats / elastic agent log",
            Self::Kibana => "kibana log",
            Self::KeyMetadata => "api key metadata",
            Self::Text => "text",
        }
    }
}

/// What a record looks like, for the report; rules do not depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    EsErrorJson,
    ServerLog,
    AuditLog,
    ClientException,
    AgentLog,
    HttpResponse,
    KeyMetadata,
    Text,
    /// An answer of the cluster's API (`doctor`'s checks).
    ClusterApi,
}

impl RecordKind {
    /// The name used in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EsErrorJson => "es_error_json",
            Self::ServerLog => "es_server_log",
            Self::AuditLog => "audit_log",
            Self::ClientException => "client_exception",
            Self::AgentLog => "agent_log",
            Self::HttpResponse => "http_response",
            Self::KeyMetadata => "key_metadata",
            Self::Text => "text",
            Self::ClusterApi => "cluster_api",
        }
    }
}
