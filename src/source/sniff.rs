//! Which kind of log a file is, from its first lines (names lie: `elasticsearch.log.1`,
//! `messages`, `out.json`).
//!
//! - **In**: the first block of a file's (decompressed) bytes.
//! - **Out**: a [`LogFormat`].
//! - **Never**: read more than the block, or decide anything about failures.

pub use crate::model::LogFormat;

/// Sniff the format from the first block; the first lines that say something decide.
pub fn sniff(head: &[u8]) -> LogFormat {
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{')
        && (text.contains("\"api_keys\"") || text.contains("\"api_keys\" :"))
        && !text.contains("\"type\":\"audit\"")
    {
        return LogFormat::KeyMetadata;
    }
    for line in text.lines().take(50) {
        let line = line.trim_start();
        if line.is_empty() {
            continue;
        }
        if let Some(format) = sniff_line(line) {
            return format;
        }
    }
    LogFormat::Text
}

fn sniff_line(line: &str) -> Option<LogFormat> {
    let has = |s: &str| line.contains(s);
    if line.starts_with('{') {
        if has("\"type\":\"audit\"") || has("\"type\": \"audit\"") {
            return Some(LogFormat::Audit);
        }
        if has("\"log.logger\":\"org.elasticsearch")
            || has("\"event.dataset\":\"elasticsearch.")
            || has("\"type\": \"server\"")
            || has("\"type\":\"server\"")
            || has("\"type\": \"deprecation")
        {
            return Some(LogFormat::ServerJson);
        }
        if has("\"loggerName\":\"logstash") || has("\"logger_name\":\"logstash") {
            return Some(LogFormat::LogstashJson);
        }
        if has("\"service\":{\"node\"")
            || has("\"type\":\"log\"") && has("\"tags\":[")
            || has("\"service.name\":\"kibana\"")
            || has("\"log\":{\"level\"") && has("\"logger\":\"")
        {
            return Some(LogFormat::Kibana);
        }
        if has("\"log.level\"") || has("\"log.origin\"") || has("\"@timestamp\"") {
            return Some(LogFormat::BeatsJson);
        }
        return None;
    }
    if line.starts_with('[') {
        if has("][logstash.") || has("][org.logstash") {
            return Some(LogFormat::LogstashPlain);
        }
        if has("][o.e.") || has("][org.elasticsearch") {
            return Some(LogFormat::ServerPlain);
        }
        if has("][plugins.") || has("][http.server.") || has("][elasticsearch-service]") {
            return Some(LogFormat::Kibana);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_from_content() {
        for (text, want) in [
            (
                "[2023-06-28T13:24:38,744][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [n1] x",
                LogFormat::ServerPlain,
            ),
            (
                r#"{"@timestamp":"2024-03-07T14:00:20.001Z", "log.level": "WARN", "message":"x", "log.logger":"org.elasticsearch.xpack.security.authc.ApiKeyAuthenticator"}"#,
                LogFormat::ServerJson,
            ),
            (
                r#"{"type": "server", "timestamp": "2022-01-25T00:00:00,000Z", "level": "WARN"}"#,
                LogFormat::ServerJson,
            ),
            (
                r#"{"type":"audit", "timestamp":"2024-05-08T01:51:37,250+0000"}"#,
                LogFormat::Audit,
            ),
            (
                "[2024-05-08T01:51:37,250][WARN ][logstash.outputs.elasticsearch][main] x",
                LogFormat::LogstashPlain,
            ),
            (
                r#"{"level":"WARN","loggerName":"logstash.outputs.elasticsearch","timeMillis":1}"#,
                LogFormat::LogstashJson,
            ),
            (
                r#"{"log.level":"error","@timestamp":"2024-05-08T01:51:37.250Z","log.origin":{},"message":"x"}"#,
                LogFormat::BeatsJson,
            ),
            (
                r#"{"service":{"node":{"roles":["ui"]}},"ecs":{"version":"8.11.0"},"@timestamp":"x","message":"y","log":{"level":"ERROR","logger":"plugins.security"}}"#,
                LogFormat::Kibana,
            ),
            ("{\n  \"api_keys\" : [ ]\n}", LogFormat::KeyMetadata),
            ("hello", LogFormat::Text),
        ] {
            assert_eq!(sniff(text.as_bytes()), want, "{text}");
        }
    }
}
