//! The HTTP client: settings, one retry on a transient failure, and errors that say whose fault
//! a failure is.

use std::path::PathBuf;
use std::time::Duration;

use miette::Diagnostic;
use reqwest::blocking::{Client as Http, RequestBuilder};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use thiserror::Error;

use super::auth::Auth;

/// How to reach the cluster.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub auth: Auth,
    /// A PEM file with the CA that signed the cluster's HTTP certificate.
    pub ca_cert: Option<PathBuf>,
    /// Skip certificate verification (a loud warning is the caller's job).
    pub insecure: bool,
    /// Allow credentials over `http://` to a host that is not this machine.
    pub allow_plain_http: bool,
    /// Per request, connection included.
    pub timeout: Duration,
}

/// `https://user:pass@host:9200/x` → `https://host:9200/x`: a URL as it may be printed.
pub fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if scheme.is_empty() {
        format!("{host}{tail}")
    } else {
        format!("{scheme}://{host}{tail}")
    }
}

/// Why talking to the cluster failed.
#[derive(Debug, Error, Diagnostic)]
pub enum ClusterError {
    #[error("`{url}` is not a usable Elasticsearch URL: {why}")]
    #[diagnostic(
        code(keydoctor::cluster::url),
        help(
            "give the HTTP endpoint, e.g. https://localhost:9200 (--es-url or ELASTICSEARCH_URL)"
        )
    )]
    BadUrl { url: String, why: String },

    #[error("`{url}` carries credentials in the URL; keydoctor does not take them there")]
    #[diagnostic(
        code(keydoctor::cluster::userinfo),
        help("remove `user:password@` from the URL, and set ES_API_KEY, or ES_USERNAME and ES_PASSWORD, in the environment instead (a URL ends up in shell history, process lists and logs)")
    )]
    Userinfo { url: String },

    #[error("refusing to send {what} over plain http to {host}")]
    #[diagnostic(
        code(keydoctor::cluster::plain_http),
        help("use https://, or pass --allow-plain-http if the network path is trusted")
    )]
    PlainHttp { host: String, what: String },

    #[error("cannot read the CA certificate {path}: {why}")]
    #[diagnostic(code(keydoctor::cluster::ca_cert))]
    CaCert { path: String, why: String },

    #[error("cannot connect to {url}: {why}")]
    #[diagnostic(
        code(keydoctor::cluster::connect),
        help("check the URL and port (9200 by default; 443 or 9243 on Elastic Cloud) and that this machine can reach it")
    )]
    Connect { url: String, why: String },

    #[error("TLS with {url} failed: {why}")]
    #[diagnostic(
        code(keydoctor::cluster::tls),
        help("pass the CA that signed the cluster's HTTP certificate with --ca-cert FILE (on 8.x: config/certs/http_ca.crt), or check the host name; --insecure skips verification (credentials are then exposed to anyone on the path)")
    )]
    Tls { url: String, why: String },

    #[error("{url} did not answer within {secs} s ({detail})")]
    #[diagnostic(
        code(keydoctor::cluster::timeout),
        help("the cluster may be overloaded; --timeout SECS waits longer")
    )]
    Timeout {
        url: String,
        secs: u64,
        /// `tried twice`, or what had arrived.
        detail: String,
    },

    #[error("the cluster rejected keydoctor's own credentials ({who}), not the key under study: {reason}")]
    #[diagnostic(
        code(keydoctor::cluster::unauthorized),
        help("set ES_API_KEY to an encoded API key, or ES_USERNAME and ES_PASSWORD, for a user allowed to read API keys")
    )]
    Unauthorized { who: String, reason: String },

    #[error("keydoctor's credentials ({who}) may not {call}: {reason}")]
    #[diagnostic(
        code(keydoctor::cluster::forbidden),
        help("reading any key needs the manage_api_key (or manage_security) cluster privilege; manage_own_api_key shows only the caller's own keys (owner=true) and never limited_by")
    )]
    Forbidden {
        who: String,
        call: String,
        reason: String,
    },

    #[error("the answer to {call} was cut off after {received} bytes: {why}")]
    #[diagnostic(
        code(keydoctor::cluster::cut_off),
        help("the node or a proxy closed the connection mid-answer; try again, and check the proxy's body size and time limits")
    )]
    CutOff {
        call: String,
        received: usize,
        why: String,
    },

    #[error("the answer to {call} is larger than {cap_mib} MiB, the most keydoctor reads of one answer; it stopped reading")]
    #[diagnostic(
        code(keydoctor::cluster::too_large),
        help("narrow the request (a key id, --since for --audit-index), or point --es-url at Elasticsearch itself rather than a proxy that answers without end")
    )]
    TooLarge { call: String, cap_mib: u64 },

    #[error("{url} is not Elasticsearch: {why}")]
    #[diagnostic(
        code(keydoctor::cluster::not_elasticsearch),
        help("point --es-url at an Elasticsearch HTTP endpoint (port 9200 by default; on Elastic Cloud the Elasticsearch endpoint, not Kibana's)")
    )]
    NotElasticsearch { url: String, why: String },

    #[error("unexpected answer to {call}: HTTP {status}{content_type}\n{head}")]
    #[diagnostic(
        code(keydoctor::cluster::unexpected),
        help("is the URL an Elasticsearch HTTP endpoint (not Kibana, not a proxy's error page)?")
    )]
    Unexpected {
        call: String,
        status: u16,
        content_type: String,
        head: String,
    },
}

impl ClusterError {
    /// An answer without the field a call needs: the call, the status, what is missing and
    /// the start of what came instead.
    pub fn missing_field(call: &str, status: u16, missing: &str, body: &Value) -> Self {
        Self::Unexpected {
            call: call.to_string(),
            status,
            content_type: String::new(),
            head: format!(
                "{missing}: {}",
                body.to_string().chars().take(300).collect::<String>()
            ),
        }
    }
}

/// A read-only client for one cluster.
pub struct Client {
    http: Http,
    base: Url,
    auth: Auth,
    secs: u64,
    /// Credentials may be sent: https, a loopback host, or `--allow-plain-http`.
    plain_ok: bool,
}

/// What a call returned: status and the parsed JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// The `X-elastic-product` header: `Elasticsearch` on every answer from 7.14 on.
    pub product: Option<String>,
}

impl Client {
    /// Build a client; checks the URL, the plain-HTTP rule and the CA file.
    pub fn new(settings: &Settings) -> Result<Self, ClusterError> {
        let shown = without_userinfo(settings.url.trim());
        let mut base = Url::parse(settings.url.trim()).map_err(|e| ClusterError::BadUrl {
            url: shown.clone(),
            why: e.to_string(),
        })?;
        if !base.username().is_empty() || base.password().is_some() {
            return Err(ClusterError::Userinfo { url: shown });
        }
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ClusterError::BadUrl {
                url: shown,
                why: format!("the scheme is `{}`, not http or https", base.scheme()),
            });
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let host = base.host_str().unwrap_or_default().to_string();
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let plain_ok = base.scheme() == "https" || loopback || settings.allow_plain_http;
        if settings.auth.is_some() && !plain_ok {
            return Err(ClusterError::PlainHttp {
                host,
                what: settings.auth.describe(),
            });
        }
        // reqwest is built without a default TLS provider: use ring (small, no C toolchain).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = Http::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("keydoctor/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none());
        // A proxy from the environment (HTTP_PROXY, ALL_PROXY) would see plain-HTTP requests,
        // credentials included, in clear: none is used for an http:// cluster. Over https a
        // proxy only tunnels TLS (CONNECT) and sees nothing.
        if base.scheme() == "http" {
            builder = builder.no_proxy();
        }
        if let Some(path) = &settings.ca_cert {
            let pem = crate::source::read_small_text(path)
                .map_err(|why| ClusterError::CaCert {
                    path: path.display().to_string(),
                    why,
                })?
                .into_bytes();
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ClusterError::CaCert {
                    path: path.display().to_string(),
                    why: format!("not a PEM certificate ({e})"),
                })?;
            if certs.is_empty() {
                return Err(ClusterError::CaCert {
                    path: path.display().to_string(),
                    why: "no PEM certificate in it".into(),
                });
            }
            builder = builder.tls_certs_merge(certs);
        }
        if settings.insecure {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|e| ClusterError::Connect {
            url: base.to_string(),
            why: chain(&e),
        })?;
        Ok(Self {
            http,
            base,
            auth: settings.auth.clone(),
            secs: settings.timeout.as_secs().max(1),
            plain_ok,
        })
    }

    /// The same connection settings, authenticating with `auth` instead (the key under study).
    /// The plain-HTTP rule of [`Client::new`] holds for these credentials too.
    pub fn with_auth(&self, auth: Auth) -> Result<Self, ClusterError> {
        if auth.is_some() && !self.plain_ok {
            return Err(ClusterError::PlainHttp {
                host: self.base.host_str().unwrap_or_default().to_string(),
                what: auth.describe(),
            });
        }
        Ok(Self {
            http: self.http.clone(),
            base: self.base.clone(),
            auth,
            secs: self.secs,
            plain_ok: self.plain_ok,
        })
    }

    /// The base URL.
    pub fn url(&self) -> &Url {
        &self.base
    }

    /// `GET path` (relative to the base URL, query included).
    pub fn get(&self, path: &str) -> Result<Answer, ClusterError> {
        self.call("GET", path, None)
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Answer, ClusterError> {
        self.call("POST", path, Some(body))
    }

    /// `DELETE path` with a JSON body: only ever to release a point in time keydoctor opened.
    pub fn delete(&self, path: &str, body: &Value) -> Result<Answer, ClusterError> {
        self.call("DELETE", path, Some(body))
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, ClusterError> {
        let url =
            self.base
                .join(path.trim_start_matches('/'))
                .map_err(|e| ClusterError::BadUrl {
                    url: format!("{}{path}", self.base),
                    why: e.to_string(),
                })?;
        let call = format!("{method} /{}", path.trim_start_matches('/'));
        let build = || -> RequestBuilder {
            let mut req = match method {
                "POST" => self.http.post(url.clone()),
                "DELETE" => self.http.delete(url.clone()),
                _ => self.http.get(url.clone()),
            };
            req = req.header("Accept", "application/json");
            if let Some(h) = self.auth.header() {
                req = req.header("Authorization", h);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            req
        };
        // One retry on what is likely transient: a reset or refused connection, a timeout, a
        // 502/503/504 from a proxy or a node that is restarting.
        let mut last = None;
        for attempt in 0..2 {
            // reqwest's blocking timeout bounds each read, not the whole body: a server that
            // trickles a byte at a time would never time out. This deadline does.
            let deadline = std::time::Instant::now() + Duration::from_secs(self.secs);
            match build().send() {
                Ok(resp) => {
                    let status = resp.status();
                    if attempt == 0
                        && matches!(
                            status,
                            StatusCode::BAD_GATEWAY
                                | StatusCode::SERVICE_UNAVAILABLE
                                | StatusCode::GATEWAY_TIMEOUT
                        )
                    {
                        std::thread::sleep(Duration::from_millis(300));
                        continue;
                    }
                    return self.answer(&call, resp, deadline);
                }
                Err(e) => {
                    let transient = e.is_timeout() || e.is_connect() || e.is_request();
                    let err = self.transport_error(&url, &e);
                    if attempt == 0 && transient && !matches!(err, ClusterError::Tls { .. }) {
                        last = Some(err);
                        std::thread::sleep(Duration::from_millis(300));
                        continue;
                    }
                    return Err(err);
                }
            }
        }
        Err(last.unwrap_or_else(|| ClusterError::Timeout {
            url: url.to_string(),
            secs: self.secs,
            detail: "tried twice".into(),
        }))
    }

    fn answer(
        &self,
        call: &str,
        resp: reqwest::blocking::Response,
        deadline: std::time::Instant,
    ) -> Result<Answer, ClusterError> {
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let product = resp
            .headers()
            .get("x-elastic-product")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let declared = resp.content_length();
        let text = read_body(resp, deadline).map_err(|(received, timeout, why)| {
            if why == TOO_LARGE {
                ClusterError::TooLarge {
                    call: call.to_string(),
                    cap_mib: (MAX_ANSWER >> 20) as u64,
                }
            } else if timeout {
                ClusterError::Timeout {
                    url: self.base.to_string(),
                    secs: self.secs,
                    detail: format!(
                        "the answer to {call} was still arriving after {received} bytes"
                    ),
                }
            } else {
                ClusterError::CutOff {
                    call: call.to_string(),
                    received,
                    why,
                }
            }
        })?;
        let parse = serde_json::from_str::<Value>(&text);
        // A body that stops mid-JSON, shorter than the length announced or not, was cut off
        // (a proxy's buffer, a node going away); say so rather than "unexpected answer".
        if let Err(e) = &parse {
            let json_like = content_type.contains("json") || text.trim_start().starts_with('{');
            if e.is_eof() && json_like && !text.trim().is_empty() {
                let of = declared
                    .map(|n| format!(" of the {n} announced"))
                    .unwrap_or_default();
                return Err(ClusterError::CutOff {
                    call: call.to_string(),
                    received: text.len(),
                    why: format!(
                        "the JSON ends mid-document (HTTP {status}, {} bytes{of})",
                        text.len()
                    ),
                });
            }
        }
        let parsed = parse.ok();
        let reason = parsed
            .as_ref()
            .and_then(|v| {
                v.pointer("/error/reason")
                    .or_else(|| v.pointer("/error/root_cause/0/reason"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| head(&text));
        // A 401 hides why; `additional_unsuccessful_credentials` (7.16+) says it.
        let reason = match parsed
            .as_ref()
            .and_then(|v| v.pointer("/error/additional_unsuccessful_credentials"))
            .and_then(Value::as_str)
        {
            Some(more) if status == 401 => format!("{reason} ({more})"),
            _ => reason,
        };
        match (status, parsed) {
            (401, _) => Err(ClusterError::Unauthorized {
                who: self.auth.describe(),
                reason: crate::event::credential::redact(&reason),
            }),
            (403, _) => Err(ClusterError::Forbidden {
                who: self.auth.describe(),
                call: call.to_string(),
                reason: crate::event::credential::redact(&reason),
            }),
            (200..=299 | 404, Some(body)) => Ok(Answer {
                status,
                body,
                product,
            }),
            (_, _) => Err(ClusterError::Unexpected {
                call: call.to_string(),
                status,
                content_type: if content_type.is_empty() {
                    String::new()
                } else {
                    format!(" ({content_type})")
                },
                head: crate::event::credential::redact(&head(&text)),
            }),
        }
    }

    fn transport_error(&self, url: &Url, e: &reqwest::Error) -> ClusterError {
        let text = chain(e);
        if e.is_timeout() {
            return ClusterError::Timeout {
                url: url.to_string(),
                secs: self.secs,
                detail: "tried twice".into(),
            };
        }
        if let Some(why) = tls_problem(e) {
            return ClusterError::Tls {
                url: url.to_string(),
                why,
            };
        }
        ClusterError::Connect {
            url: url.to_string(),
            why: text,
        }
    }
}

/// The most keydoctor reads of one answer: a key listing of a large cluster with
/// `limited_by`, or a page of audit events, fits many times over; an endless stream does not.
pub const MAX_ANSWER: usize = 256 << 20;
const TOO_LARGE: &str = "larger than the cap";

/// The body as text; on failure, how many bytes had arrived, whether time ran out, and why.
fn read_body(
    resp: reqwest::blocking::Response,
    deadline: std::time::Instant,
) -> Result<String, (usize, bool, String)> {
    read_body_capped(resp, deadline, MAX_ANSWER)
}

fn read_body_capped(
    mut resp: reqwest::blocking::Response,
    deadline: std::time::Instant,
    cap: usize,
) -> Result<String, (usize, bool, String)> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if std::time::Instant::now() > deadline {
            return Err((bytes.len(), true, "the answer was still arriving".into()));
        }
        match resp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                bytes.extend_from_slice(&buf[..n]);
                if bytes.len() > cap {
                    return Err((bytes.len(), false, TOO_LARGE.into()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let timeout = e.kind() == std::io::ErrorKind::TimedOut
                    || e.get_ref()
                        .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
                        .is_some_and(reqwest::Error::is_timeout);
                let mut why = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(inner) = source {
                    let text = inner.to_string();
                    if !why.contains(&text) {
                        why = format!("{why}: {text}");
                    }
                    source = inner.source();
                }
                return Err((bytes.len(), timeout, why));
            }
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The first lines of a body, for an error message.
fn head(text: &str) -> String {
    let mut out: String = text.lines().take(5).collect::<Vec<_>>().join("\n");
    if out.len() > 400 {
        let mut cut = 400;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    if out.trim().is_empty() {
        "(empty body)".into()
    } else {
        out
    }
}

/// The error and its causes, as one line, without the HTTP client's own wrapping
/// ("error sending request for url …", "client error (Connect)").
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        let text = s.to_string();
        let wrapper = text.starts_with("error sending request")
            || text.starts_with("client error")
            || text.starts_with("builder error");
        if !wrapper && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

/// Which certificate or TLS problem, in words, when the error is one.
fn tls_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return Some(describe_tls(tls));
        }
        // An io::Error hides its inner error from `source()`, and hyper wraps one io::Error in
        // another: look inside, all the way down.
        let mut io = s.downcast_ref::<std::io::Error>();
        while let Some(inner) = io.and_then(|io| io.get_ref()) {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Some(describe_tls(tls));
            }
            io = inner.downcast_ref::<std::io::Error>();
        }
        source = s.source();
    }
    let text = chain(e);
    let lower = text.to_ascii_lowercase();
    if lower.contains("invalidcontenttype") || lower.contains("corrupt message") {
        return Some("the server does not speak TLS on this port (is it http://?)".into());
    }
    if lower.contains("handshake eof") {
        return Some("the server closed the connection during the TLS handshake (does it speak TLS on this port? does it require a client certificate?)".into());
    }
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        return Some(text);
    }
    None
}

/// `1704067200` → `2024-01-01T00:00:00Z`.
fn unix_date(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::<chrono::Utc>::from_timestamp(s, 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

fn describe_tls(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "the server's certificate is signed by a CA this machine does not trust (self-signed or a private CA)".into(),
            C::ExpiredContext { not_after, .. } => format!(
                "the server's certificate has expired (not valid after {})",
                unix_date(not_after.as_secs())
            ),
            C::Expired => "the server's certificate has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => "the server's certificate is not valid yet (check the clocks)".into(),
            C::NotValidForNameContext { expected, presented } => format!(
                "the server's certificate is not valid for this host name ({}): it names {}; use one of those in the URL",
                expected.to_str(),
                presented
                    .iter()
                    .map(|p| p
                        .trim_start_matches("DnsName(")
                        .trim_start_matches("IpAddress(")
                        .trim_end_matches(')')
                        .trim_matches('"')
                        .to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            C::NotValidForName => "the server's certificate is not valid for this host name".into(),
            C::Revoked => "the server's certificate is revoked".into(),
            C::BadSignature => "the server's certificate has a bad signature".into(),
            other => format!("invalid certificate ({other:?})"),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the server does not speak TLS on this port (is it http://?)".into()
        }
        rustls::Error::AlertReceived(alert) => format!("the server refused the handshake ({alert:?})"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, auth: Auth) -> Settings {
        Settings {
            url: url.into(),
            auth,
            ca_cert: None,
            insecure: false,
            allow_plain_http: false,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn userinfo_is_refused_and_never_shown() {
        for url in [
            "https://elastic:s3cr3t@es.example:9200",
            "http://elastic:s3cr3t@127.0.0.1:9200/",
            "https://s3cr3t@es.example:9200",
        ] {
            let err = Client::new(&settings(url, Auth::None)).err().expect(url);
            assert!(matches!(err, ClusterError::Userinfo { .. }), "{url}: {err}");
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }
        let bad = Client::new(&settings("ftp://u:s3cr3t@host", Auth::None))
            .err()
            .unwrap();
        assert!(!bad.to_string().contains("s3cr3t"), "{bad}");
        assert_eq!(
            without_userinfo("https://elastic:s3cr3t@es.example:9200/base"),
            "https://es.example:9200/base"
        );
        assert_eq!(
            without_userinfo("http://u:p@w@localhost:9200"),
            "http://localhost:9200"
        );
        assert_eq!(
            without_userinfo("es.example:9200/?a=b@c"),
            "es.example:9200/?a=b@c"
        );
        assert_eq!(without_userinfo("user:pw@host:9200"), "host:9200");
    }

    #[test]
    fn plain_http_with_credentials_only_to_loopback() {
        let key = Auth::ApiKey(super::super::auth::Secret::new("x".into()));
        assert!(Client::new(&settings("http://127.0.0.1:9200", key.clone())).is_ok());
        assert!(Client::new(&settings("http://localhost:9200", key.clone())).is_ok());
        assert!(matches!(
            Client::new(&settings("http://es.example.com:9200", key.clone())),
            Err(ClusterError::PlainHttp { .. })
        ));
        assert!(Client::new(&settings("http://es.example.com:9200", Auth::None)).is_ok());
        let mut s = settings("http://es.example.com:9200", key);
        s.allow_plain_http = true;
        assert!(Client::new(&s).is_ok());
        assert!(matches!(
            Client::new(&settings("ftp://x", Auth::None)),
            Err(ClusterError::BadUrl { .. })
        ));
    }
}
