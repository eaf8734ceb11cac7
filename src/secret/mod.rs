//! Credentials found in pasted text: `Authorization` header values, `encoded` and `api_key`
//! fields, `id:api_key` pairs in configs, passwords.
//!
//! - **In**: the raw text of one input.
//! - **Out**: [`Credential`]s (key id, scheme, format verdict; never the secret) and the
//!   redacted text that every later stage works on.
//! - **Never**: keep a secret. A secret is judged (its format, a trailing newline) and dropped on
//!   the spot: no type after this module holds one, so none can leak through `{:?}` either.
//!
//! It sits at the bottom of the house, beside `model/`, and names no other module: the event
//! stage reads credentials with it (as `event::credential`), and every output goes through
//! `report::redacting`, which redacts with it, so no renderer needs the event stage.
//!
//! Redacting at load time, before any matching, is what makes "no secret in any output" a
//! property of the pipeline rather than of each renderer: nothing after this module ever sees a
//! secret. [`redact`] is the one function every output path uses as a second line of defence.
//!
//! Facts (shared/reference section 1.1): the header is `ApiKey base64(id:api_key)`, the scheme is
//! matched case-insensitively, decoding uses the standard (not URL-safe) alphabet and splits at
//! the first `:`. Ids created by Elasticsearch are 20 characters, secrets 22.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use regex::Regex;

/// The text that replaces every secret.
pub const REDACTED: &str = "…redacted…";

/// Where in the text a credential was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSite {
    /// `Authorization: ApiKey …`, `Bearer …` or `Basic …`.
    Header(Scheme),
    /// An `encoded` field (create-key response).
    EncodedField,
    /// An `api_key` setting or field.
    ApiKeySetting,
}

/// The authorization scheme a header used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    ApiKey,
    Bearer,
    Basic,
}

/// What the credential's value turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialFormat {
    /// base64 of `id:api_key`: what Elasticsearch expects.
    Encoded,
    /// `id:api_key` not base64-encoded (`Illegal base64 character 3a`).
    RawIdSecret,
    /// No space between the scheme and the value (`ApiKeyVnVh…`): not recognised as a header.
    NoSpace,
    /// base64 that decodes to text without a colon: only the secret, or the id, was encoded.
    NoColon,
    /// The `encoded` value base64-encoded once more.
    DoubleEncoded,
    /// base64 of `id:api_key\n`: made with `echo` without `-n`.
    TrailingNewline,
    /// URL-safe base64 alphabet (`-`, `_`): Elasticsearch uses the standard one.
    UrlSafe,
    /// An App Search / Enterprise Search key (`private-…`, `search-…`).
    AppSearchKey,
    /// An Elastic Cloud organization API key (`essu_…`), for the Cloud API, not Elasticsearch.
    CloudApiKey,
    /// Not base64 and nothing else recognisable.
    NotBase64,
    /// A bare secret (an `api_key` field next to an `id`): nothing to decode.
    SecretOnly,
    /// A Basic or Bearer value that is not an API key (a user's password, a token).
    NotAnApiKey,
    /// The id and the secret given apart to a client that encodes them itself (Python's
    /// `api_key=("id", "secret")`, the JavaScript client's `apiKey: { id, api_key }`).
    IdSecretPair,
}

fn is_site_tag(name: &str) -> bool {
    CredentialSite::ALL.iter().any(|s| s.tag() == name)
}

fn is_format_tag(name: &str) -> bool {
    CredentialFormat::ALL.iter().any(|f| f.tag() == name)
}

impl CredentialSite {
    /// Every site.
    pub const ALL: [Self; 5] = [
        Self::Header(Scheme::ApiKey),
        Self::Header(Scheme::Bearer),
        Self::Header(Scheme::Basic),
        Self::EncodedField,
        Self::ApiKeySetting,
    ];

    /// The tag name of the site, as in `credential:<site>:<format>`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Header(Scheme::ApiKey) => "apikey-header",
            Self::Header(Scheme::Bearer) => "bearer-header",
            Self::Header(Scheme::Basic) => "basic-header",
            Self::EncodedField => "encoded-field",
            Self::ApiKeySetting => "api-key-setting",
        }
    }
}

/// Whether `value` (after `credential:`) is one of keydoctor's own tag names
/// (`apikey-header:no-space`, `cloud-api-key`), which rule listings print: a name, not a secret.
fn is_tag_name(value: &str) -> bool {
    match value.split_once(':') {
        Some((site, format)) => is_site_tag(site) && is_format_tag(format),
        None => is_site_tag(value) || is_format_tag(value),
    }
}

impl CredentialFormat {
    /// Every format.
    pub const ALL: [Self; 13] = [
        Self::Encoded,
        Self::RawIdSecret,
        Self::NoSpace,
        Self::NoColon,
        Self::DoubleEncoded,
        Self::TrailingNewline,
        Self::UrlSafe,
        Self::AppSearchKey,
        Self::CloudApiKey,
        Self::NotBase64,
        Self::SecretOnly,
        Self::NotAnApiKey,
        Self::IdSecretPair,
    ];

    /// The tag name rules use in `tags_any` / `tags_none` (see rules/README.md).
    pub fn tag(self) -> &'static str {
        match self {
            Self::Encoded => "encoded",
            Self::RawIdSecret => "raw-id-secret",
            Self::NoSpace => "no-space",
            Self::NoColon => "no-colon",
            Self::DoubleEncoded => "double-encoded",
            Self::TrailingNewline => "trailing-newline",
            Self::UrlSafe => "url-safe",
            Self::AppSearchKey => "app-search-key",
            Self::CloudApiKey => "cloud-api-key",
            Self::NotBase64 => "not-base64",
            Self::SecretOnly => "secret-only",
            Self::NotAnApiKey => "not-an-api-key",
            Self::IdSecretPair => "id-secret-pair",
        }
    }
}

/// One credential seen in the input. The secret itself is gone.
#[derive(Debug, Clone)]
pub struct Credential {
    /// Where it was found.
    pub site: CredentialSite,
    /// What it turned out to be.
    pub format: CredentialFormat,
    /// The API key id, when the value carried one.
    pub key_id: Option<String>,
    /// 1-based line where it was found.
    pub line: usize,
}

impl Credential {
    /// Input-scoped tags that rules can require: `credential:<scheme>:<format>` and
    /// `credential:<format>`.
    pub fn tags(&self) -> Vec<String> {
        let site = self.site.tag();
        vec![
            format!("credential:{site}"),
            format!("credential:{}", self.format.tag()),
            format!("credential:{site}:{}", self.format.tag()),
        ]
    }

    /// A credential the user gave outside the text (an environment variable), judged as the
    /// value of an `Authorization: ApiKey` header: what the client sends.
    pub fn given(value: &str) -> Self {
        let (format, key_id) = judge(value, Some(Scheme::ApiKey));
        Self {
            site: CredentialSite::Header(Scheme::ApiKey),
            format,
            key_id,
            line: 0,
        }
    }
}

/// The result of [`scan`].
#[derive(Debug)]
pub struct Scanned {
    /// The text with every secret replaced.
    pub text: String,
    /// The credentials found, in order.
    pub credentials: Vec<Credential>,
}

// Values are matched generously (any non-space run) and judged by `judge`; the optional
// backslashes let the patterns see through one or two levels of JSON string escaping.
static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?-u:\b)(?:authorization|auth)\\*["']?\s*(?:[:=]|=>)\s*\\*["']?\s*(apikey|bearer|basic)([ ]*)([^\s"'\\,;}\])>]{4,})"#,
    )
    .expect("header regex")
});
static ENCODED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\\*"encoded\\*"\s*:\s*\\*"([^"\\\s]{8,})"#).expect("encoded regex")
});
static API_KEY_SETTING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        // Any variable prefix (`ES_`, `ELASTIC_APM_`, `OUTPUT_ELASTICSEARCH_`) before the name.
        r#"(?i)(?-u:\b)(?:[a-z0-9]+_)*api[_-]?key\\*["']?\s*(?:[:=]|=>|%3[ad])\s*\\*["']?([A-Za-z0-9+/=_\-:.]{8,})(?:[ \t]+([A-Za-z0-9_-]{22})(?:[^A-Za-z0-9_-]|$))?"#,
    )
    .expect("api_key regex")
});
// The id and the secret given apart: `api_key=("id", "secret")` (Python), `basic_auth=("u", "p")`,
// `apiKey: { id: "…", api_key: "…" }` (JavaScript). Group 1: api or basic; 2: id or user; 3: secret.
static PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?-u:\b)(?:(api)[_-]?key|(?:(?:basic|http|cloud)[_-]?)?auth)\\*["']?\s*(?:[:=]|=>)\s*[(\[]\s*\\*["']([^"'\\\s]+)\\*["']\s*,\s*\\*["']([^"'\\]+)\\*["']\s*[)\]]"#,
    )
    .expect("pair regex")
});
static PAIR_OBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?-u:\b)api[_-]?key\\*["']?\s*:\s*\{\s*\\*["']?id\\*["']?\s*:\s*\\*["']([^"'\\\s]+)\\*["']\s*,\s*\\*["']?api[_-]?key\\*["']?\s*:\s*\\*["']([^"'\\]+)\\*["']"#,
    )
    .expect("pair object regex")
});
static PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?-u:\b)(?:password|passwd|ES_PASSWORD|ELASTIC_PASSWORD)\\*["']?\s*(?:[:=]|=>|%3[ad])\s*\\*["']?([^\s"'\\,;}&%]{1,})"#,
    )
    .expect("password regex")
});
// userinfo in a URL: https://user:secret@host
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)https?://[^\s:/@]+:([^\s@/]+)@").expect("userinfo regex")
});
// curl -u user:password
static CURL_USER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|\s)(?:-u|--user)(?:\s+|=)["']?[^\s:"']+:([^\s"']+)"#).expect("curl -u regex")
});
// A base64 run standing alone (`echo VnVh… | base64 -d`, a value pasted into prose): redacted
// when it decodes to `<key id>:<secret>`.
static BARE_BASE64: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/_-]{24,}={0,2}").expect("bare base64 regex"));
static KEY_ID_SHAPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_\-]{6,64}$").expect("id regex"));
// A value in a credential position, by the name before it, whatever its prefix, case or
// separator (`MYAPP_ES_PASSWORD=…`, `"access_token":"…"`, `client_secret: …`, `\u0026token=…`):
// the name holds a secret word; a quoted value is taken whole (spaces included).
static NAMED_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)((?:passw(?:or)?d|passphrase|pwd|secret|token|credentials?|pass|auth)[A-Za-z0-9_.-]*)\\*["']?\s*(?:[:=]|=>|%3[ad])\s*(?:\\*"([^"\\\n]+)\\*"|'([^'\n]+)'|([^\s"'\\,;}\])&<>%]{3,}))"#,
    )
    .expect("named secret regex")
});
// A name that says what a secret is about rather than holding one (`token_type`,
// `api_key.id`, `password_hash`, `credentials_count`).
static NOT_A_SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:[._-](?:id|ids|name|names|type|realm|owner|user|username|count|status|length|size|hash|enabled|mode|path|file|service|source|expiration|expires?|created|invalidated|url)|^(?:authentication|auth)|tokens?_?(?:type|service|name)|_in|unsuccessful_credentials)$")
        .expect("not-a-secret regex")
});
// A secret given as a command-line flag: `--password X`, `--api-key=X`, `--enrollment-token X`,
// also a value broken by a stray space (`--enrollment-token=N 21QNVFvc0J…==`): a long run of the
// base64 alphabet right after the value goes with it.
static FLAG_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?:^|\s)--?(?:[a-z]+-)*(?:password|passwd|pass|api-?key|token|secret)(?:=|\s+)["']?([^\s"']+(?: [A-Za-z0-9+_-][A-Za-z0-9+/_-]{23,}={0,2})?)"#,
    )
    .expect("flag secret regex")
});
// userinfo with or without a scheme, also with JSON-escaped slashes: `elastic:secret@host`,
// `https:\/\/elastic:secret@host`.
static USERINFO_ANYWHERE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?:^|[\s"'(=,\[/])[A-Za-z0-9._%+-]+:([^\s@/"'\\]+)@[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9](?::\d+)?"#,
    )
    .expect("userinfo anywhere regex")
});
/// The secret's span when the `:` at `at` joins an ES-created `id:secret` standing alone (20 and
/// 22 URL-safe characters, nothing of that alphabet around them).
fn raw_pair_secret(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let url_safe = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let (start, end) = (at.checked_sub(20)?, at + 23);
    if end > bytes.len()
        || !bytes[start..at].iter().all(|b| url_safe(*b))
        || !bytes[at + 1..end].iter().all(|b| url_safe(*b))
        || start.checked_sub(1).is_some_and(|i| url_safe(bytes[i]))
        || bytes.get(end).is_some_and(|b| url_safe(*b))
    {
        return None;
    }
    Some((at + 1, end))
}
// A credentials object built from literals: `new UsernamePasswordCredentials("elastic", "…")`,
// `BasicCredentials("u", "…")`, `login("u", "…")`, `new ApiKeyAuthentication("id", "…")`,
// `->setApiKey('id', '…')`, `Credentials::ApiKey("id".into(), "….into())`: the second
// argument goes (group 1). Or a secret as the one argument of a call or tuple named for it:
// `new ApiKey("…")`, `bearer_auth=("…")`, `ApiKeyAuthenticationCredentials("…")` (group 2).
static CREDENTIALS_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?:credential|passw(?:or)?d|basicauth|login|api_?key|auth|secret|token)[A-Za-z0-9_]*\s*\(\s*\\*["'][^"'\\]*\\*["'](?:\.\w+\(\))?\s*,\s*\\*["']([^"'\\]+)\\*["']|(?:api_?key|token|secret|passw(?:or)?d|bearer_?auth|credential)[A-Za-z0-9_]*\s*(?:=\s*)?\(\s*\\*["']([^"'\\\s]{8,})\\*["'](?:\.\w+\(\))?\s*,?\s*\)"#,
    )
    .expect("credentials call regex")
});
// A secret set by name in a list of variables, the name and the value apart:
// Kubernetes' `- name: ES_PASSWORD` / `value: …`, ECS's `{"name":"ES_API_KEY","value":"…"}`.
static NAMED_VARIABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?-u:\b)name\\*["']?[ \t]*:[ \t]*\\*["']?[A-Za-z0-9_.-]*(?:pass|pwd|secret|token|api[_-]?key|credential)[A-Za-z0-9_.-]*\\*["']?\s*,?\s*\\*["']?value\\*["']?\s*:\s*(?:\\*"([^"\\\n]+)\\*"|'([^'\n]+)'|([^\s"'\\,}]+))"#,
    )
    .expect("named variable regex")
});
// `elasticsearch-reset-password` prints the new password after this.
static NEW_VALUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)(?-u:\b)New value:\s*(\S+)").expect("new value regex"));

/// Find every credential in `text`, decode what can be decoded, and replace every secret.
pub fn scan(text: &str) -> Scanned {
    scan_from(text, PARALLEL_FROM)
}

/// [`scan`], searching on two cores from `parallel_from` bytes of text.
fn scan_from(text: &str, parallel_from: usize) -> Scanned {
    // start -> (end, replacement) in `text`, by start: an overlap check is a lookup, not a walk
    // over every edit, and the output is written in order (of two that overlap, the first).
    let mut edits: Edits = Edits::new();
    let mut credentials = Vec::new();
    // Newline offsets: a line is a binary search.
    let nl: Vec<usize> = memchr::memchr_iter(b'\n', text.as_bytes()).collect();
    let line_of = |offset: usize| nl.partition_point(|&at| at < offset) + 1;
    // Every pattern's matches first, on two cores when the text is large (they are independent
    // of each other), then judged in one fixed order below, so that of two overlapping
    // replacements the same one wins whatever ran first.
    // The structural passes read only the lines where their words occur (see `pass_windows`):
    // most log text has none of them, these patterns are large, and one such word anywhere
    // must not make them read the whole text.
    let lower = text.to_ascii_lowercase();
    let whole = vec![(0, text.len())];
    let mut jobs: Vec<(&Regex, Vec<(usize, usize)>)> = vec![
        (&*HEADER, whole.clone()),
        (&*ENCODED, whole.clone()),
        (&*PAIR, whole.clone()),
        (&*PAIR_OBJECT, whole.clone()),
        (&*API_KEY_SETTING, whole.clone()),
        (&*BARE_BASE64, whole),
    ];
    jobs.extend(pass_windows(text, &lower, &nl));
    let mut found = find_all(&jobs, text, parallel_from).into_iter();
    let mut next = || found.next().expect("one result per pass");

    for caps in next().iter(text) {
        let value = caps.get(3).expect("value group");
        let spaced = !caps[2].is_empty();
        let scheme = match caps[1].to_ascii_lowercase().as_str() {
            "apikey" => Scheme::ApiKey,
            "bearer" => Scheme::Bearer,
            _ => Scheme::Basic,
        };
        // Logstash and friends already mask values; keep a masked value as it is.
        if is_masked(value.as_str()) {
            continue;
        }
        let (format, key_id) = match judge(value.as_str(), Some(scheme)) {
            // `ApiKeyVnVh…`: Elasticsearch needs the scheme, one space, then the value.
            (_, key_id) if !spaced => (CredentialFormat::NoSpace, key_id),
            judged => judged,
        };
        push_edit(
            &mut edits,
            (value.start(), value.end(), replacement(key_id.as_deref())),
        );
        credentials.push(Credential {
            site: CredentialSite::Header(scheme),
            format,
            key_id,
            line: line_of(value.start()),
        });
    }
    for caps in next().iter(text) {
        let value = caps.get(1).expect("value group");
        if is_masked(value.as_str()) {
            continue;
        }
        let (format, key_id) = judge(value.as_str(), Some(Scheme::ApiKey));
        push_edit(
            &mut edits,
            (value.start(), value.end(), replacement(key_id.as_deref())),
        );
        credentials.push(Credential {
            site: CredentialSite::EncodedField,
            format,
            key_id,
            line: line_of(value.start()),
        });
    }
    for caps in next().iter(text) {
        let (id, secret) = (
            caps.get(2).expect("id group"),
            caps.get(3).expect("secret group"),
        );
        if is_masked(secret.as_str()) {
            continue;
        }
        push_edit(
            &mut edits,
            (secret.start(), secret.end(), REDACTED.to_string()),
        );
        if caps.get(1).is_some() {
            let key_id = looks_like_key_id(id.as_str()).then(|| id.as_str().to_string());
            credentials.push(Credential {
                site: CredentialSite::ApiKeySetting,
                format: CredentialFormat::IdSecretPair,
                key_id,
                line: line_of(id.start()),
            });
        }
    }
    for caps in next().iter(text) {
        let (id, secret) = (
            caps.get(1).expect("id group"),
            caps.get(2).expect("secret group"),
        );
        if is_masked(secret.as_str()) || overlaps(&edits, secret.start(), secret.end()) {
            continue;
        }
        push_edit(
            &mut edits,
            (secret.start(), secret.end(), REDACTED.to_string()),
        );
        credentials.push(Credential {
            site: CredentialSite::ApiKeySetting,
            format: CredentialFormat::IdSecretPair,
            key_id: looks_like_key_id(id.as_str()).then(|| id.as_str().to_string()),
            line: line_of(id.start()),
        });
    }
    for caps in next().iter(text) {
        let value = caps.get(1).expect("value group");
        if is_masked(value.as_str()) || overlaps(&edits, value.start(), value.end()) {
            continue;
        }
        // The id and the secret with a space between (`apikey: <id> <secret>`, as some
        // clients' settings take them): the secret goes too.
        if let Some(secret) = caps.get(2) {
            push_edit(
                &mut edits,
                (secret.start(), secret.end(), REDACTED.to_string()),
            );
        }
        let (format, key_id) = match judge(value.as_str(), Some(Scheme::ApiKey)) {
            // A 22-character value that is not base64 of anything: the bare secret of a
            // create response (`"api_key":"ui2lp2axTNmsyakw9tvNnw"`).
            (CredentialFormat::NotBase64 | CredentialFormat::NoColon, _)
                if !value.as_str().contains(':') =>
            {
                (CredentialFormat::SecretOnly, None)
            }
            other => other,
        };
        push_edit(
            &mut edits,
            (value.start(), value.end(), replacement(key_id.as_deref())),
        );
        credentials.push(Credential {
            site: CredentialSite::ApiKeySetting,
            format,
            key_id,
            line: line_of(value.start()),
        });
    }
    for caps in next().iter(text) {
        let m = caps.get(0).expect("the match");
        if overlaps(&edits, m.start(), m.end()) {
            continue;
        }
        if let Some(id) = decodes_to_id_secret(m.as_str()) {
            push_edit(&mut edits, (m.start(), m.end(), replacement(Some(&id))));
            continue;
        }
        // The run may hold more than the value: a path before it (`vault/VnVh…`), a
        // percent-escape (`%20VnVh…`). Try what follows each `/` and an escape's two digits.
        let run = m.as_str();
        let escaped = m.start() > 0 && text.as_bytes()[m.start() - 1] == b'%';
        let starts = run
            .match_indices('/')
            .map(|(i, _)| i + 1)
            .chain(escaped.then_some(2));
        for from in starts {
            let Some(part) = run.get(from..) else {
                continue;
            };
            let part = part.split('/').next().unwrap_or(part);
            if part.len() >= 24 {
                if let Some(id) = decodes_to_id_secret(part) {
                    let start = m.start() + from;
                    push_edit(
                        &mut edits,
                        (start, start + part.len(), replacement(Some(&id))),
                    );
                    break;
                }
            }
        }
    }
    {
        for caps in next().iter(text) {
            // The pattern starts at the secret word (so that it has a literal to search for);
            // the name is that word with what precedes it (`MYAPP_ES_` of `MYAPP_ES_PASSWORD`).
            let word = caps.get(1).expect("name group");
            let word_start = word.start();
            let name_start = text[..word_start]
                .char_indices()
                .rev()
                .find(|(_, c)| !(c.is_ascii_alphanumeric() || "_.-".contains(*c)))
                .map_or(0, |(i, c)| i + c.len_utf8());
            let name = &text[name_start..word.end()];
            let Some(value) = caps.get(2).or_else(|| caps.get(3)).or_else(|| caps.get(4)) else {
                continue;
            };
            let (value_start, value_end) = (value.start(), value.end());
            // Unquoted after a bare `token:` or `credentials:` in prose (`oauth2 token: token
            // expired`), a lowercase word is the message going on, not a value; a password is
            // redacted whatever it looks like.
            let n = name.to_ascii_lowercase();
            // `pass` and `auth` are secret names only as a name's last part (`ES_PASS`,
            // `http.auth.pass`, `cloud.auth`), not inside a word (`bypass`, `authorization`).
            let last_part = n.rsplit(['_', '.', '-']).next().unwrap_or(&n);
            // A bare `auth:` is a secret's name when a `user:secret` follows it.
            let short_name = matches!(last_part, "pass" | "auth")
                && (n != "auth" || value.as_str().contains(':'));
            let password_name = n.contains("passw")
                || n.contains("pwd")
                || n.contains("secret")
                || n.contains("passphrase")
                || last_part == "pass";
            if !(short_name || password_name || n.contains("token") || n.contains("credential")) {
                continue;
            }
            let prose_word = caps.get(4).is_some()
                && !password_name
                && value
                    .as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c == '_');
            if (NOT_A_SECRET_NAME.is_match(name) && !(n == "auth" && short_name))
                || prose_word
                || is_masked(value.as_str())
                || (n == "credential" && is_tag_name(value.as_str()))
                || overlaps(&edits, value_start, value_end)
                || matches!(
                    value.as_str().to_ascii_lowercase().as_str(),
                    "null" | "none" | "true" | "false" | "bearer" | "basic" | "apikey"
                )
            {
                continue;
            }
            push_edit(&mut edits, (value_start, value_end, REDACTED.to_string()));
        }
    }
    // An ES-shaped `id:secret` standing alone: found from each `:` (a byte search), not by a
    // pattern that would have to try every position of the text.
    for at in memchr::memchr_iter(b':', text.as_bytes()) {
        if let Some((start, end)) = raw_pair_secret(text.as_bytes(), at) {
            if !overlaps(&edits, start, end) {
                push_edit(&mut edits, (start, end, REDACTED.to_string()));
            }
        }
    }
    for structural in found {
        for caps in structural.iter(text) {
            // The value's group: the first that took part (a pattern may offer a quoted and a
            // bare form).
            let value = caps.iter().skip(1).flatten().next().expect("value group");
            let (value_start, value_end) = (value.start(), value.end());
            if is_masked(value.as_str()) || overlaps(&edits, value_start, value_end) {
                continue;
            }
            push_edit(&mut edits, (value_start, value_end, REDACTED.to_string()));
        }
    }

    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, (end, replacement)) in edits {
        if start < at {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(&replacement);
        at = end;
    }
    out.push_str(&text[at..]);
    Scanned {
        text: out,
        credentials,
    }
}

/// Texts at least this long are searched on two cores.
const PARALLEL_FROM: usize = 1 << 20;

/// Every match of each pattern in its spans of `text`, in the order of `jobs`: on two threads
/// when the text is large and the machine has two cores, each taking patterns until it holds
/// about half the bytes to read.
fn find_all(
    jobs: &[(&Regex, Vec<(usize, usize)>)],
    text: &str,
    parallel_from: usize,
) -> Vec<Found> {
    let cost = |spans: &[(usize, usize)]| spans.iter().map(|(s, e)| e - s).sum::<usize>();
    // Asked once: the answer reads the cgroup's files, too dear for every line a report writes.
    static CORES: LazyLock<usize> =
        LazyLock::new(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    if text.len() < parallel_from || *CORES < 2 {
        return jobs
            .iter()
            .map(|(re, spans)| find(re, text, spans))
            .collect();
    }
    // The larger jobs first, each to the lighter side.
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cost(&jobs[i].1)));
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    let (mut mine_cost, mut theirs_cost) = (0, 0);
    for i in order {
        let c = cost(&jobs[i].1);
        if mine_cost <= theirs_cost {
            mine.push(i);
            mine_cost += c;
        } else {
            theirs.push(i);
            theirs_cost += c;
        }
    }
    let mut results: Vec<Option<Found>> = (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            theirs
                .iter()
                .map(|&i| (i, find(jobs[i].0, text, &jobs[i].1)))
                .collect::<Vec<_>>()
        });
        for &i in &mine {
            results[i] = Some(find(jobs[i].0, text, &jobs[i].1));
        }
        // A panic in the other thread is a bug of the search itself: it is raised here.
        for (i, f) in other
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        {
            results[i] = Some(f);
        }
    });
    results
        .into_iter()
        .map(|f| f.expect("every pattern searched"))
        .collect()
}

/// Every match of `re` in `spans` of `text` (each span starts at a line start, where `^` and
/// `\b` behave as in the whole text), with its groups as byte ranges of `text`.
fn find(re: &Regex, text: &str, spans: &[(usize, usize)]) -> Found {
    let groups = re.captures_len();
    let mut flat = Vec::new();
    for &(start, end) in spans {
        for caps in re.captures_iter(&text[start..end]) {
            flat.extend((0..groups).map(|i| {
                caps.get(i)
                    .map_or(Found::NONE, |m| (start + m.start(), start + m.end()))
            }));
        }
    }
    Found { groups, flat }
}

/// A pattern's matches: each match's groups as byte ranges of the text, `groups` entries per
/// match ([`Found::NONE`] for a group that took no part).
struct Found {
    groups: usize,
    flat: Vec<(usize, usize)>,
}

impl Found {
    const NONE: (usize, usize) = (usize::MAX, usize::MAX);

    fn iter<'a>(&'a self, text: &'a str) -> impl Iterator<Item = Caps<'a>> + 'a {
        self.flat
            .chunks(self.groups.max(1))
            .map(move |groups| Caps { text, groups })
    }
}

/// One match of a [`Found`], read as `regex::Captures` is.
struct Caps<'a> {
    text: &'a str,
    groups: &'a [(usize, usize)],
}

impl<'a> Caps<'a> {
    fn get(&self, i: usize) -> Option<Group<'a>> {
        let &(start, end) = self.groups.get(i)?;
        ((start, end) != Found::NONE).then_some(Group {
            text: self.text,
            start,
            end,
        })
    }

    fn iter(&self) -> impl Iterator<Item = Option<Group<'a>>> + '_ {
        (0..self.groups.len()).map(|i| self.get(i))
    }
}

impl std::ops::Index<usize> for Caps<'_> {
    type Output = str;

    /// The group's text ("" for a group that took no part).
    fn index(&self, i: usize) -> &str {
        self.get(i).map_or("", |g| &self.text[g.start..g.end])
    }
}

/// A group of a [`Caps`]: a byte range of the whole text.
#[derive(Clone, Copy)]
struct Group<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

impl<'a> Group<'a> {
    fn as_str(&self) -> &'a str {
        &self.text[self.start..self.end]
    }

    fn start(&self) -> usize {
        self.start
    }

    fn end(&self) -> usize {
        self.end
    }
}

/// The words each structural pass looks for (lower case), in the order of [`pass_windows`]:
/// every match of a pass's pattern holds one of them, on the line the match starts on.
const PASS_WORDS: [&[&str]; 7] = [
    // NAMED_SECRET
    &["pass", "pwd", "secret", "token", "credential", "auth"],
    // PASSWORD
    &["pass"],
    // CURL_USER
    &["-u"],
    // FLAG_SECRET
    &["pass", "token", "secret", "apikey", "api-key"],
    // CREDENTIALS_CALL
    &[
        "credential",
        "passw",
        "basicauth",
        "login",
        "apikey",
        "api_key",
        "auth",
        "secret",
        "token",
        "bearer",
    ],
    // NAMED_VARIABLE
    &[
        "pass",
        "pwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "api-key",
        "credential",
    ],
    // NEW_VALUE
    &["new value:"],
];

/// [`PASS_WORDS`], one automaton per pass.
static PASS_FINDERS: LazyLock<[AhoCorasick; 7]> = LazyLock::new(|| PASS_WORDS.map(finder));

/// An automaton for `words`, leftmost-first so that it searches with SIMD (Teddy) rather than
/// byte by byte: which word is found first does not matter, only that the line holds one.
fn finder(words: &[&str]) -> AhoCorasick {
    AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(words)
        .expect("pass words")
}

/// The named-secret pattern and the structural ones, each with the spans of the text it has to
/// read: the lines of its words, with the lines after them that a match may run on (a value on
/// the next line, a call's arguments on their own lines). Every match of each pattern holds
/// one of its words and starts on that word's line, so these spans see every match the whole
/// text has (a test holds them to that).
fn pass_windows(
    text: &str,
    lower: &str,
    nl: &[usize],
) -> [(&'static Regex, Vec<(usize, usize)>); 9] {
    let finders = &*PASS_FINDERS;
    let near = |pass: usize, after: usize| {
        windows(
            text.len(),
            nl,
            word_lines(lower, &finders[pass]).into_iter(),
            after,
        )
    };
    [
        (&*NAMED_SECRET, near(0, 2)),
        (&*PASSWORD, near(1, 2)),
        // `http` is a literal the pattern finds fast on its own.
        (&*URL_USERINFO, vec![(0, text.len())]),
        (&*CURL_USER, near(2, 2)),
        (&*FLAG_SECRET, near(3, 2)),
        (
            &*USERINFO_ANYWHERE,
            windows(
                text.len(),
                nl,
                userinfo_hits(text.as_bytes()).into_iter(),
                0,
            ),
        ),
        (&*CREDENTIALS_CALL, near(4, 4)),
        (&*NAMED_VARIABLE, near(5, 3)),
        (&*NEW_VALUE, near(6, 1)),
    ]
}

/// The first offset of one of `words` on each line of `lower` that holds one, in order: one
/// search per such line, however many words the line holds.
fn word_lines(lower: &str, words: &AhoCorasick) -> Vec<usize> {
    let bytes = lower.as_bytes();
    let mut hits = Vec::new();
    let mut from = 0;
    while from < bytes.len() {
        let Some(m) = words.find(aho_corasick::Input::new(bytes).range(from..)) else {
            break;
        };
        hits.push(m.start());
        from = memchr::memchr(b'\n', &bytes[m.end()..]).map_or(bytes.len(), |i| m.end() + i + 1);
    }
    hits
}

/// Every `@` that ends a `user:secret` run (a `:` before it with no space, quote, slash,
/// backslash or other `@` between): the only places userinfo can be.
fn userinfo_hits(bytes: &[u8]) -> Vec<usize> {
    memchr::memchr_iter(b'@', bytes)
        .filter(|&at| {
            bytes[..at]
                .iter()
                .rev()
                .take_while(|b| !(b.is_ascii_whitespace() || b"@/\"'\\".contains(b)))
                .any(|b| *b == b':')
        })
        .collect()
}

/// The spans of `text` a pattern has to read: each line holding one of `hits` (offsets, in
/// order) through the `after` lines that follow it, touching spans merged into one, so that no
/// match is cut between two of them; `newlines` are the text's `\n` offsets. Each span starts
/// at a line start, where `^` and `\b` behave as they do in the whole text.
fn windows(
    len: usize,
    newlines: &[usize],
    hits: impl Iterator<Item = usize>,
    after: usize,
) -> Vec<(usize, usize)> {
    // Lines first (first, last), merged when they touch; then their bytes.
    let mut lines: Vec<(usize, usize)> = Vec::new();
    for hit in hits {
        let line = newlines.partition_point(|&at| at < hit);
        let last = (line + after).min(newlines.len());
        match lines.last_mut() {
            Some(span) if line <= span.1 + 1 => span.1 = span.1.max(last),
            _ => lines.push((line, last)),
        }
    }
    lines
        .into_iter()
        .map(|(first, last)| {
            let start = first.checked_sub(1).map_or(0, |k| newlines[k] + 1);
            (start, newlines.get(last).copied().unwrap_or(len))
        })
        .collect()
}

/// The replacements of [`scan`]: start -> (end, replacement).
type Edits = std::collections::BTreeMap<usize, (usize, String)>;

/// Whether `start..end` overlaps an edit already made.
fn overlaps(edits: &Edits, start: usize, end: usize) -> bool {
    edits
        .range(..end)
        .next_back()
        .is_some_and(|(_, (e, _))| *e > start)
}

/// Record an edit; at a start already edited, the first stays.
fn push_edit(edits: &mut Edits, (start, end, replacement): (usize, usize, String)) {
    edits.entry(start).or_insert((end, replacement));
}

fn replacement(key_id: Option<&str>) -> String {
    match key_id {
        Some(id) => format!("{id}{REDACTED}"),
        None => REDACTED.to_string(),
    }
}

/// A value that names what goes there instead of holding it, as documentation and keydoctor's
/// own advice write it (`api_key: id:api_key`, `api_key => "id:api_key"`): every `:`-part is
/// one of the words for the parts of a key. Elasticsearch makes ids and secrets of 20 and 22
/// random URL-safe base64 characters, never such a word.
fn is_placeholder(value: &str) -> bool {
    const WORDS: &[&str] = &[
        "id",
        "key",
        "key_id",
        "api_key",
        "api-key",
        "apikey",
        "api_key_id",
        "secret",
        "api_key_secret",
        "encoded",
        "your_api_key",
        "your-api-key",
    ];
    let v = value.trim_matches(|c| c == '"' || c == '\'');
    // What a template or an issue puts where the key goes (`REPLACE_ME_APIKEY`,
    // `<your-api-key>`, `YOUR_API_KEY_HERE`).
    let letters: String = v
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    if letters.starts_with("replaceme") || (letters.starts_with("your") && letters.contains("key"))
    {
        return true;
    }
    // `MY_API_KEY`, `my-api-key`: a short name of words, no digit (a key's random characters
    // are never only letters and separators spelling "my … key").
    let wordy = v.len() <= 40
        && v.chars()
            .all(|c| c.is_ascii_alphabetic() || c == '_' || c == '-');
    if wordy && letters.starts_with("my") && letters.contains("key") {
        return true;
    }
    !v.is_empty()
        && v.split(':')
            .all(|part| WORDS.contains(&part.to_ascii_lowercase().as_str()))
}

/// Values that a tool already masked (`xxxxxx`, `****`, `<redacted>`, `${ES_API_KEY}`), or that
/// only name what goes there ([`is_placeholder`]).
fn is_masked(value: &str) -> bool {
    let v = value.trim_matches(|c| c == '"' || c == '\'');
    is_placeholder(v)
        || v.contains(REDACTED)
        || v.starts_with("${")
        || v.starts_with('$')
        || v.starts_with('<')
        || v.chars()
            .all(|c| c == 'x' || c == 'X' || c == '*' || c == '.')
        || v.eq_ignore_ascii_case("redacted")
        || v.eq_ignore_ascii_case("::es_redacted::")
}

/// Decide what a credential value is. Returns the format and, when it carries one, the key id.
pub fn judge(value: &str, scheme: Option<Scheme>) -> (CredentialFormat, Option<String>) {
    let value = value.trim();
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("private-") || lower.starts_with("search-") {
        return (CredentialFormat::AppSearchKey, None);
    }
    if lower.starts_with("essu_") {
        return (CredentialFormat::CloudApiKey, None);
    }
    if let Some(decoded) = decode_b64(value, false) {
        if let Some((id, secret)) = decoded.split_once(':') {
            if looks_like_key_id(id) {
                if secret.ends_with('\n') || secret.ends_with("\r\n") {
                    return (CredentialFormat::TrailingNewline, Some(id.to_string()));
                }
                return match scheme {
                    Some(Scheme::Basic) | Some(Scheme::Bearer) if !looks_like_secret(secret) => {
                        (CredentialFormat::NotAnApiKey, None)
                    }
                    _ => (CredentialFormat::Encoded, Some(id.to_string())),
                };
            }
            if matches!(scheme, Some(Scheme::Basic)) {
                return (CredentialFormat::NotAnApiKey, None);
            }
        } else if let Some(inner) = decode_b64(decoded.trim(), false) {
            if let Some((id, _)) = inner.split_once(':') {
                if looks_like_key_id(id) {
                    return (CredentialFormat::DoubleEncoded, Some(id.to_string()));
                }
            }
        }
        if matches!(scheme, Some(Scheme::Basic) | Some(Scheme::Bearer)) {
            return (CredentialFormat::NotAnApiKey, None);
        }
        return (CredentialFormat::NoColon, None);
    }
    if let Some(decoded) = decode_b64(value, true) {
        if let Some((id, _)) = decoded.split_once(':') {
            if looks_like_key_id(id) {
                return (CredentialFormat::UrlSafe, Some(id.to_string()));
            }
        }
    }
    if let Some((id, secret)) = value.split_once(':') {
        if looks_like_key_id(id) && !secret.is_empty() {
            return (CredentialFormat::RawIdSecret, Some(id.to_string()));
        }
    }
    if matches!(scheme, Some(Scheme::Bearer)) {
        return (CredentialFormat::NotAnApiKey, None);
    }
    (CredentialFormat::NotBase64, None)
}

fn decode_b64(value: &str, url_safe: bool) -> Option<String> {
    let engines: [&base64::engine::GeneralPurpose; 2] = if url_safe {
        [&URL_SAFE, &URL_SAFE_NO_PAD]
    } else {
        [&STANDARD, &STANDARD_NO_PAD]
    };
    engines
        .iter()
        .find_map(|engine| engine.decode(value.as_bytes()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|text| {
            !text.is_empty()
                && text
                    .chars()
                    .all(|c| !c.is_control() || c == '\n' || c == '\r')
        })
}

/// The key id, when `value` is base64 (standard or URL-safe) of `<key id>:<secret>`.
pub fn decodes_to_id_secret(value: &str) -> Option<String> {
    let decoded = decode_b64(value, false).or_else(|| decode_b64(value, true))?;
    let (id, secret) = decoded.split_once(':')?;
    (looks_like_key_id(id) && looks_like_secret(secret)).then(|| id.to_string())
}

/// Whether `id` has the shape of an API key id (ES-created ids are 20 URL-safe characters).
pub fn looks_like_key_id(id: &str) -> bool {
    KEY_ID_SHAPE.is_match(id)
}

fn looks_like_secret(secret: &str) -> bool {
    (16..=64).contains(&secret.trim_end().len())
        && secret
            .trim_end()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The last line of defence, used by every output path: replaces anything that still looks like
/// a credential. After [`scan`] has run on the input it finds nothing; it exists so that text
/// that did not come through [`scan`] (an error message, a path) cannot leak either.
pub fn redact(text: &str) -> String {
    if !may_hold_secret(text) {
        return text.to_string();
    }
    scan(text).text
}

/// Every word one of [`scan`]'s patterns needs (any case): each pattern's matches hold one of
/// them, but three, which [`may_hold_secret`] checks apart (a base64 run, userinfo's `@`, an
/// ES-shaped `id:secret`).
static ANY_SECRET_WORD: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let mut words: Vec<&str> = PASS_WORDS.iter().flat_map(|w| w.iter().copied()).collect();
    // HEADER, ENCODED, PAIR, PAIR_OBJECT, API_KEY_SETTING, URL_USERINFO.
    words.extend(["auth", "encoded", "apikey", "api_key", "api-key", "http"]);
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(words)
        .expect("secret words")
});

/// Whether [`scan`] could replace anything in `text`: most lines a report writes hold none of
/// its words, and are then passed on without running its patterns.
fn may_hold_secret(text: &str) -> bool {
    // A base64 run may decode to `id:secret` anywhere; every other pattern needs a separator
    // and one of its words (or userinfo's `@`, or an ES-shaped `id:secret` at a `:`).
    BARE_BASE64.is_match(text)
        || (text.contains([':', '='])
            && (ANY_SECRET_WORD.is_match(text)
                || text.contains('@')
                || memchr::memchr_iter(b':', text.as_bytes())
                    .any(|at| raw_pair_secret(text.as_bytes(), at).is_some())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_a_key_are_placeholders_and_keys_are_not() {
        for p in [
            "MY_API_KEY",
            "my-api-key",
            "REPLACE_ME_APIKEY",
            "<your-api-key>",
            "id:api_key",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for k in [
            "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
            "myKeyXq7Tz9Lw2Rk5Vb8Nc3H",
            "mykeyring_token_value_abcdefghijklmnopqrstuvwxyz",
        ] {
            assert!(!is_placeholder(k), "{k}");
        }
    }

    #[test]
    fn keydoctor_s_own_tag_names_are_not_secrets() {
        // Every tag a credential can carry is listed, so a rule listing prints it as it is.
        for site in CredentialSite::ALL {
            for format in CredentialFormat::ALL {
                let c = Credential {
                    site,
                    format,
                    key_id: None,
                    line: 1,
                };
                for tag in c.tags() {
                    let line = format!("  tags_any {tag}");
                    assert_eq!(redact(&line), line);
                }
            }
        }
        // A value that is not a tag name is still a credential's secret.
        for line in [
            "credential:Zq4sfq1aQx",
            "credentials: apikey-header:s3cr3tValue",
            "credential=elastic:changeme",
            "credential:apikey-header:hunter2x",
        ] {
            assert_ne!(redact(line), line, "{line}");
        }
    }

    #[test]
    fn a_variable_with_any_prefix_before_api_key_holds_a_key() {
        for line in [
            "ELASTIC_APM_API_KEY=VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
            "OUTPUT_ELASTICSEARCH_API_KEY: VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw",
            "export ES_API_KEY=VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
        ] {
            let found = scan(line);
            assert_eq!(found.credentials.len(), 1, "{line}");
            assert_eq!(found.credentials[0].site, CredentialSite::ApiKeySetting);
            assert_eq!(
                found.credentials[0].key_id.as_deref(),
                Some("VuaCfGcBCdbkQm-e5aOx")
            );
            assert!(!found.text.contains("ui2lp2") && !found.text.contains("VnVhQ2"));
        }
        // A name that goes on after `api_key` is another setting.
        assert!(scan("ELASTIC_API_KEY_ID=VuaCfGcBCdbkQm-e5aOx")
            .credentials
            .is_empty());
    }

    #[test]
    fn what_the_quick_check_passes_on_has_nothing_to_replace() {
        // Every pattern's own example, and look-alikes the check must not let through.
        let holds = [
            "Authorization: ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
            r#""encoded": "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==""#,
            "ES_API_KEY=VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw",
            "PASSWORD=hunter2x",
            "see https://u:p@host",
            "ftp://u:Zq4sfq1aQ@host and elastic:Zq4sfq1aQ@es01",
            "VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw",
            "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
            "curl -u elastic:changeme",
            "New value: Zq4+sfq1-aQ",
            "MYAPP_TOKEN=abcdef123",
        ];
        for text in holds {
            assert!(may_hold_secret(text), "{text}");
            assert_ne!(redact(text), text, "{text}");
        }
        for text in [
            r#"  "key_id": "VuaCfGcBCdbkQm-e5aOx","#,
            r#"  "class": "invalidated","#,
            "no separator here",
        ] {
            assert!(!may_hold_secret(text), "{text}");
            assert_eq!(redact(text), scan(text).text);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Texts made of the patterns' own words, separators and credential shapes: the quick
        /// check never passes on one that the full scan would change.
        #[test]
        fn the_quick_check_never_skips_a_secret(parts in proptest::collection::vec(0usize..24, 0..14)) {
            const PIECES: [&str; 24] = [
                "Authorization", "auth", ": ", "=", "ApiKey ", "Bearer ", "pass", "word", "@",
                "https://", "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
                "x", "\"", "'", " ", "\n", "token", "SECRET", "-u ", "New value:", "api_key",
                "VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw", "(",
            ];
            let text: String = parts.iter().map(|&i| PIECES[i]).collect();
            proptest::prop_assert_eq!(redact(&text), scan(&text).text, "{:?}", text);
        }
    }

    #[test]
    fn two_cores_redact_exactly_what_one_does() {
        // Every kind of pass, many times over, past the size the search splits from.
        let lines = [
            "Authorization: ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
            r#"{"id":"VuaCfGcBCdbkQm-e5aOx","encoded":"VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="}"#,
            r#"es = Elasticsearch(hosts, api_key=("VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw"))"#,
            "  api_key: VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw",
            "echo VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw== | base64 -d",
            "MYAPP_ES_PASSWORD=hunter2-but-longer and token: 'abc def ghi'",
            "curl -u elastic:changeme https://elastic:changeme@es01:9200/",
            "- name: ES_PASSWORD\n  value: s3cr3t-value",
            r#"client = new ApiKeyAuthentication("VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw")"#,
            "elasticsearch-reset-password -u elastic\nNew value: Zq4+sfq1-aQ",
            "[WARN ][o.e.x.s.a.ApiKeyAuthenticator] Authentication using apikey failed - api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated",
        ];
        let mut text = String::new();
        let mut i = 0;
        while text.len() < 2 * PARALLEL_FROM {
            text.push_str(lines[i % lines.len()]);
            text.push('\n');
            i += 1;
        }
        let one = scan_from(&text, usize::MAX);
        let two = scan_from(&text, 0);
        assert!(one.text == two.text, "the texts differ");
        assert_eq!(one.credentials.len(), two.credentials.len());
        for (a, b) in one.credentials.iter().zip(&two.credentials) {
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        assert!(!one.text.contains("ui2lp2axTNmsyakw9tvNnw") && !one.text.contains("changeme"));
        assert!(!one.text.contains("s3cr3t-value") && !one.text.contains("hunter2"));
    }

    const ENCODED_OK: &str = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==";

    /// Every match each pass has in the whole text, as (group, start, end).
    fn matches_in(re: &Regex, text: &str, spans: &[(usize, usize)]) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for &(start, end) in spans {
            for caps in re.captures_iter(&text[start..end]) {
                for (g, m) in caps.iter().enumerate().skip(1) {
                    if let Some(m) = m {
                        out.push((g, start + m.start(), start + m.end()));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn the_passes_read_only_their_words_lines_and_miss_no_match_the_whole_text_has() {
        // Every fixture and corpus text, and shapes whose value is on a later line than the
        // word, or whose word is the last thing in the text.
        let mut texts: Vec<String> = vec![
            "password:\n  hunter2hunter\n".into(),
            "x\nnew UsernamePasswordCredentials(\n  \"elastic\",\n  \"s3cr3t-pw\")\n".into(),
            "line\ncurl -u\n elastic:changeme https://es:9200".into(),
            "token".into(),
            "a\n--enrollment-token\n  AAEAAWVsYXN0aWMvZmxlZXQtc2VydmVyL3Rva2VuLTE2".into(),
            "user elastic:pw@es01:9200 and {\"@timestamp\":\"x\"} e:f@g".into(),
            "first token: x\nsecond token=abc\nthird password='a b c'".into(),
        ];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["fixtures", "corpus", "../shared/corpus"] {
            for entry in walkdir::WalkDir::new(root.join(dir)).into_iter().flatten() {
                if let Ok(text) = std::fs::read_to_string(entry.path()) {
                    texts.push(text);
                }
            }
        }
        assert!(texts.len() > 50, "only {} texts read", texts.len());
        for text in &texts {
            let lower = text.to_ascii_lowercase();
            let nl: Vec<usize> = memchr::memchr_iter(b'\n', text.as_bytes()).collect();
            for (re, spans) in pass_windows(text, &lower, &nl) {
                let whole = matches_in(re, text, &[(0, text.len())]);
                assert_eq!(
                    matches_in(re, text, &spans),
                    whole,
                    "{re} over {spans:?} of {text:?}"
                );
            }
        }
    }

    #[test]
    fn a_flag_value_broken_by_a_space_is_redacted_whole() {
        let out = redact(
            "sudo ./elastic-agent install --url=https://x:443 --enrollment-token=N 21QNVFvc0JKOTJvbk00NWR2bjk6RUQwMUFMTjZSUW1mR0pPZENEUHZDQQ==",
        );
        assert!(!out.contains("21QNVFvc0JKOTJv"), "{out}");
        assert!(out.contains("--url=https://x:443"), "{out}");
        let one = redact("elastic-agent enroll --enrollment-token=Q --insecure");
        assert!(!one.contains("=Q "), "{one}");
        assert!(one.contains("--insecure"), "{one}");
    }

    #[test]
    fn encoded_value_is_decoded_to_its_id_and_redacted() {
        let text = format!("curl -H 'Authorization: ApiKey {ENCODED_OK}' https://es:9200/");
        let scanned = scan(&text);
        assert_eq!(scanned.credentials.len(), 1);
        let cred = &scanned.credentials[0];
        assert_eq!(cred.format, CredentialFormat::Encoded);
        assert_eq!(cred.key_id.as_deref(), Some("VuaCfGcBCdbkQm-e5aOx"));
        assert!(!scanned.text.contains(ENCODED_OK));
        assert!(scanned.text.contains("VuaCfGcBCdbkQm-e5aOx…redacted…"));
    }

    #[test]
    fn a_value_in_parentheses_or_angle_brackets_ends_before_them() {
        // Found by the planted-secrets property test: `)` was read as part of the value, which
        // made a good key look like "not base64".
        for text in [
            format!("(Authorization=ApiKey {ENCODED_OK})"),
            format!("<Authorization: ApiKey {ENCODED_OK}>"),
        ] {
            let scanned = scan(&text);
            assert_eq!(
                scanned.credentials[0].format,
                CredentialFormat::Encoded,
                "{text}"
            );
            assert_eq!(
                scanned.credentials[0].key_id.as_deref(),
                Some("VuaCfGcBCdbkQm-e5aOx")
            );
        }
    }

    #[test]
    fn a_bare_encoded_key_in_prose_is_redacted_to_its_id() {
        let text = format!("I ran echo {ENCODED_OK} | base64 -d and got nothing");
        let scanned = scan(&text);
        assert!(!scanned.text.contains(ENCODED_OK), "{}", scanned.text);
        assert!(scanned.text.contains("VuaCfGcBCdbkQm-e5aOx…redacted…"));
        // Long base64 that is not a credential stays.
        let other = "dGhpcyBpcyBqdXN0IHNvbWUgbG9uZyB0ZXh0IG5vdCBhIGtleQ==";
        assert_eq!(scan(other).text, other);
    }

    #[test]
    fn a_missing_space_after_the_scheme_is_named() {
        let scanned = scan(&format!("Authorization: ApiKey{ENCODED_OK}"));
        assert_eq!(scanned.credentials[0].format, CredentialFormat::NoSpace);
        assert_eq!(
            scanned.credentials[0].key_id.as_deref(),
            Some("VuaCfGcBCdbkQm-e5aOx")
        );
        assert!(!scanned.text.contains(ENCODED_OK));
    }

    #[test]
    fn raw_id_secret_is_named() {
        let scanned = scan("Authorization: ApiKey VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw");
        assert_eq!(scanned.credentials[0].format, CredentialFormat::RawIdSecret);
        assert!(!scanned.text.contains("ui2lp2axTNmsyakw9tvNnw"));
    }

    #[test]
    fn echo_newline_and_double_encoding_are_named() {
        let with_newline = STANDARD.encode("VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw\n");
        assert_eq!(
            judge(&with_newline, Some(Scheme::ApiKey)).0,
            CredentialFormat::TrailingNewline
        );
        let twice = STANDARD.encode(ENCODED_OK);
        assert_eq!(
            judge(&twice, Some(Scheme::ApiKey)),
            (
                CredentialFormat::DoubleEncoded,
                Some("VuaCfGcBCdbkQm-e5aOx".into())
            )
        );
    }

    #[test]
    fn non_elasticsearch_keys_are_named() {
        assert_eq!(
            judge("private-xxkd8s9d8f7g6h5j4k3l2m1n", Some(Scheme::ApiKey)).0,
            CredentialFormat::AppSearchKey
        );
        assert_eq!(
            judge("essu_YWJjZGVmZ2hpams=", Some(Scheme::ApiKey)).0,
            CredentialFormat::CloudApiKey
        );
    }

    #[test]
    fn bearer_carrying_an_api_key_keeps_the_id() {
        let scanned = scan(&format!("> Authorization: Bearer {ENCODED_OK}"));
        let cred = &scanned.credentials[0];
        assert_eq!(cred.site, CredentialSite::Header(Scheme::Bearer));
        assert_eq!(cred.format, CredentialFormat::Encoded);
    }

    #[test]
    fn escaped_json_fields_and_passwords_are_redacted() {
        let text = r#"{\"id\":\"VuaCfGcBCdbkQm-e5aOx\",\"api_key\":\"ui2lp2axTNmsyakw9tvNnw\",\"encoded\":\"VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==\"} password: hunter22 https://elastic:changeme@es:9200"#;
        let scanned = scan(text);
        for secret in ["ui2lp2axTNmsyakw9tvNnw", ENCODED_OK, "hunter22", "changeme"] {
            assert!(
                !scanned.text.contains(secret),
                "{secret} in {}",
                scanned.text
            );
        }
        assert!(scanned.text.contains("VuaCfGcBCdbkQm-e5aOx"));
    }

    #[test]
    fn masked_values_stay_as_they_are() {
        let text = "https://logstash_system:xxxxxx@es01:9200/ api_key => \"${ES_KEY}\"";
        assert_eq!(scan(text).text, text);
        // Advice that names the parts is not a credential; a real pair beside it still goes.
        let text = "Beats' `api_key: id:api_key`, Logstash's `api_key => \"id:api_key\"`";
        assert_eq!(scan(text).text, text);
        let real = "api_key: VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw";
        assert!(!scan(real).text.contains("ui2lp2axTNmsyakw9tvNnw"));
        assert!(!scan("api_key: id:ui2lp2axTNmsyakw9tvNnw")
            .text
            .contains("ui2lp2ax"));
    }

    #[test]
    fn an_id_and_secret_given_apart_name_the_key_and_hide_the_secret() {
        for text in [
            r#"es = Elasticsearch("https://es:9200", api_key=("VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw"))"#,
            "client = Elasticsearch(hosts, api_key = ('VuaCfGcBCdbkQm-e5aOx','ui2lp2axTNmsyakw9tvNnw'))",
            "new Client({ node, auth: { apiKey: { id: 'VuaCfGcBCdbkQm-e5aOx', api_key: 'ui2lp2axTNmsyakw9tvNnw' } } })",
            r#"{"auth": {"apiKey": {"id": "VuaCfGcBCdbkQm-e5aOx", "api_key": "ui2lp2axTNmsyakw9tvNnw"}}}"#,
        ] {
            let s = scan(text);
            assert!(!s.text.contains("ui2lp2axTNmsyakw9tvNnw"), "{}", s.text);
            assert_eq!(s.credentials.len(), 1, "{text}");
            assert_eq!(
                s.credentials[0].key_id.as_deref(),
                Some("VuaCfGcBCdbkQm-e5aOx"),
                "{text}"
            );
            assert_eq!(s.credentials[0].format, CredentialFormat::IdSecretPair);
        }
        let basic =
            scan(r#"Elasticsearch(hosts, basic_auth=("elastic", "correct horse battery"))"#);
        assert!(!basic.text.contains("correct horse"), "{}", basic.text);
        assert!(basic.credentials.is_empty());
    }

    #[test]
    fn a_name_after_a_multibyte_character_is_read_whole() {
        // Found by a test: the name's start was taken one byte after a `…`.
        let text = "…MYAPP_ES_PASSWORD=hunter22hunter and │ …unsuccessful_credentials\":\"API key";
        let out = scan(text).text;
        assert!(!out.contains("hunter22hunter"), "{out}");
        assert!(out.contains("unsuccessful_credentials"), "{out}");
    }
}
