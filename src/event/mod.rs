//! Stage 2: normalize an input into records, one per error, log line or audit entry.
//!
//! - **In**: [`crate::source::Input`].
//! - **Out**: a [`Document`]: the redacted text, its [`Record`]s (each with a normalized text and
//!   an [`OffsetMap`] back into the input), the credentials found, key metadata and audit events.
//! - **Never**: panic on any text, keep a secret (see [`credential`]), or decide a class.
//!
//! ## Records
//! A record is the unit in which a rule's `all` and `not` patterns are checked and findings are
//! counted. It is a line plus its continuation lines: indented lines (pretty-printed JSON, the JS
//! client's `Root causes:`, stack frames), closing brackets, `Caused by:` and exception heads such
//! as `org.elasticsearch.transport.RemoteTransportException: …`. A blank line ends a record.
//! This groups a pretty-printed error body, a Java stack trace and a multi-line client exception
//! each into one record, without knowing which of them it is.
//!
//! ## Normalization
//! Error bodies reach us escaped once (`\"` inside a Beats or Logstash log line) or twice (JSON in
//! a JSON `message`). Rules are written against the unescaped text, so each record is unescaped
//! (any run of backslashes before `"`, `n`, `t`, `/`, `'`, `u0022`…) and the [`OffsetMap`] maps
//! every position of the normalized text back to the input, so that evidence labels land on the
//! key id as the user pasted it.

pub mod audit;
/// Credentials in a paste are read by the bottom module `secret` (shared with the output guard).
pub use crate::secret as credential;
pub mod excerpt;
pub mod key_metadata;
mod paste;

use std::borrow::Cow;
use std::ops::Range;
use std::sync::{LazyLock, OnceLock};

use regex::Regex;

use crate::source::{Input, SkipReason, Skipped, LINE_CAP};
use audit::AuditEvent;
use credential::Credential;
use key_metadata::KeyMetadata;

/// The strings of a JSON array (other items and non-arrays give nothing).
pub(crate) fn json_strings(v: Option<&serde_json::Value>) -> Vec<String> {
    v.and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Records longer than this many lines are cut, so that one odd paste cannot become one record.
pub(crate) const MAX_RECORD_LINES: usize = 400;

/// One input after normalization.
#[derive(Debug)]
pub struct Document {
    /// The input's name (`stdin` or a path).
    pub name: String,
    /// The input text with every secret replaced (see [`credential::scan`]).
    pub text: String,
    /// Records in input order.
    pub records: Vec<Record>,
    /// Credentials found anywhere in the input.
    pub credentials: Vec<Credential>,
    /// API key metadata pasted in the input (`GET /_security/api_key` and friends).
    pub keys: Vec<KeyMetadata>,
    /// Audit log events in the input.
    pub audit: Vec<AuditEvent>,
    /// An Elasticsearch version named by the input (`"number" : "8.12.2"`), if any.
    pub version: Option<String>,
    /// Partial-read warnings for this input.
    pub skipped: Vec<Skipped>,
}

impl Document {
    /// Give records, audit events and key metadata the line numbers of the file an
    /// [`excerpt::Excerpt`] was cut from.
    pub fn remap_lines(&mut self, map: &excerpt::LineMap) {
        for record in &mut self.records {
            record.line = map.to_file(record.line);
        }
        for event in &mut self.audit {
            event.line = map.to_file(event.line);
        }
        for key in &mut self.keys {
            key.line = map.to_file(key.line);
        }
        for skip in &mut self.skipped {
            if let SkipReason::LongLine { line, .. } = &mut skip.reason {
                *line = map.to_file(*line);
            }
        }
    }

    /// The tags that rules can require (`tags_any` / `tags_none`) in force for each record:
    /// `metadata:present` when the input holds key metadata, and the tags of the credentials
    /// that belong to the record. A credential belongs to the record on its own lines;
    /// one on a line that is no failure of its own (a `curl -v` request header, a client's
    /// settings above its traceback) goes with the records below it, up to 30 lines and the
    /// first failure among them, or else with the failure above it (30 lines, as a ticket
    /// pastes the error first and the client's configuration after it). So in a log of many
    /// requests one client's Bearer token does not speak for another's 401.
    pub fn tag_scope(&self) -> TagScope {
        self.tag_scope_with(&[])
    }

    /// [`Document::tag_scope`] with `given` tags in force for every record (a credential given
    /// outside the text).
    pub fn tag_scope_with(&self, given: &[String]) -> TagScope {
        let mut shared = given.to_vec();
        if !self.keys.is_empty() {
            shared.push("metadata:present".to_string());
        }
        if self.credentials.is_empty() {
            return TagScope {
                shared,
                per_record: None,
            };
        }
        let newlines: Vec<usize> = memchr::memchr_iter(b'\n', self.text.as_bytes()).collect();
        let line_of = |offset: usize| newlines.partition_point(|&at| at < offset) + 1;
        // Each record's first and last line in this text, and whether it is a failure.
        let spans: Vec<(usize, usize)> = self
            .records
            .iter()
            .map(|r| {
                let (start, end) = (r.range.start, r.range.end.max(r.range.start + 1));
                (line_of(start), line_of(end - 1))
            })
            .collect();
        let failure: Vec<bool> = self
            .records
            .iter()
            .map(|r| FAILURE_WORDS.is_match(&r.norm))
            .collect();
        let mut by_line: Vec<(usize, usize)> = self
            .credentials
            .iter()
            .enumerate()
            .map(|(i, c)| (c.line, i))
            .collect();
        by_line.sort_unstable();
        // The record holding line `line`, or the first one after it.
        let record_at = |line: usize| spans.partition_point(|&(_, last)| last < line);
        let mut per_record = vec![Vec::new(); self.records.len()];
        for (r, &(first, last)) in spans.iter().enumerate() {
            let from = by_line.partition_point(|&(l, _)| l < first);
            let to = by_line.partition_point(|&(l, _)| l <= last);
            let own = &by_line[from..to];
            let chosen: Vec<usize> = if !own.is_empty() {
                own.iter().map(|&(_, i)| i).collect()
            } else {
                let before = by_line[..from]
                    .last()
                    .copied()
                    .filter(|&(l, _)| first - l <= 30 && !(record_at(l)..r).any(|k| failure[k]));
                let after = by_line.get(to).copied().filter(|&(l, _)| {
                    l - last <= 30 && failure[r] && !(r + 1..=record_at(l)).any(|k| failure[k])
                });
                match before.or(after) {
                    // Every credential of that line: a binary search, not a walk of them all
                    // for each record (a paste of many headers has as many credentials).
                    Some((line, _)) => {
                        let from = by_line.partition_point(|&(l, _)| l < line);
                        let to = by_line.partition_point(|&(l, _)| l <= line);
                        by_line[from..to].iter().map(|&(_, i)| i).collect()
                    }
                    None => Vec::new(),
                }
            };
            if chosen.is_empty() {
                continue;
            }
            let mut tags: Vec<String> = shared.clone();
            tags.extend(chosen.into_iter().flat_map(|i| self.credentials[i].tags()));
            tags.sort();
            tags.dedup();
            per_record[r] = tags;
        }
        TagScope {
            shared,
            per_record: Some(per_record),
        }
    }
}

/// Words of a record that reports a failure itself (an error body, an exception, a log's
/// ERROR line): a credential above it stops at it.
static FAILURE_WORDS: LazyLock<regex::Regex> = LazyLock::new(|| {
    // An error as a program writes it (`Error:`, `[ERROR]`, `level=error`, `"error":`,
    // `ResponseError`, `…Exception`), not the word in the prose around a paste ("I get the
    // error below when running …").
    regex::Regex::new(
        r#"(?i:(?-u:\b)error(?-u:\b)\s*[:=\]"(]|\[error|level=error|"error"|[a-z]\w*(?:exception|error)(?-u:\b))|(?-u:\b)ERROR(?-u:\b)|(?-u:\b)Exception(?-u:\b)"#,
    )
    .expect("failure words regex")
});

/// The tags each record of a [`Document`] matches with (see [`Document::tag_scope`]).
#[derive(Debug)]
pub struct TagScope {
    shared: Vec<String>,
    per_record: Option<Vec<Vec<String>>>,
}

impl TagScope {
    /// The tags in force for record `idx`.
    pub fn for_record(&self, idx: usize) -> &[String] {
        match &self.per_record {
            Some(per) if !per[idx].is_empty() => &per[idx],
            _ => &self.shared,
        }
    }
}

/// One error, log line or audit entry.
#[derive(Debug)]
pub struct Record {
    /// 1-based line of the record's first line in the input.
    pub line: usize,
    /// Byte range of the record in [`Document::text`].
    pub range: Range<usize>,
    /// The unescaped text rules match against.
    pub norm: String,
    /// Maps offsets in `norm` back to offsets in [`Document::text`].
    pub map: OffsetMap,
    /// A status seen on a `curl -i` status line just above the record, if any.
    inherited_status: Option<u16>,
    /// Computed on first use: only records that matched a rule ever need them.
    fields: OnceLock<RecordFields>,
    kind: OnceLock<RecordKind>,
}

impl Record {
    /// Fields every record may carry, found by the generic extractors below.
    pub fn fields(&self) -> &RecordFields {
        self.fields.get_or_init(|| {
            let mut fields = extract_fields(&self.norm);
            if fields.status.is_none() {
                fields.status = self.inherited_status;
            }
            fields
        })
    }

    /// What the record looks like.
    pub fn kind(&self) -> RecordKind {
        *self.kind.get_or_init(|| classify_kind(&self.norm))
    }
}

pub use crate::model::RecordKind;

/// Fields found in a record regardless of which rule matched it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFields {
    pub status: Option<u16>,
    pub timestamp: Option<String>,
    pub node: Option<String>,
    pub client_ip: Option<String>,
    /// A remote cluster alias named in the record (`cluster [eu-logs]`).
    pub remote: Option<String>,
}

/// Maps positions in a normalized text back to the input. Each entry `(norm, raw)` starts a run
/// in which both advance together.
#[derive(Debug, Clone, Default)]
pub struct OffsetMap {
    runs: Vec<(usize, usize)>,
}

impl OffsetMap {
    /// The input offset of normalized offset `at`.
    pub fn to_raw(&self, at: usize) -> usize {
        let idx = self.runs.partition_point(|(norm, _)| *norm <= at);
        match idx.checked_sub(1).map(|i| self.runs[i]) {
            Some((norm, raw)) => raw + (at - norm),
            None => at,
        }
    }

    /// This map followed by `outer` (which maps this map's targets on): `self` covers targets
    /// up to `end`.
    fn through(&self, outer: &OffsetMap, end: usize) -> OffsetMap {
        let mut runs = Vec::with_capacity(self.runs.len());
        for (i, &(n, v)) in self.runs.iter().enumerate() {
            let v_end = self
                .runs
                .get(i + 1)
                .map_or(end, |&(n2, _)| v + n2.saturating_sub(n));
            runs.push((n, outer.to_raw(v)));
            let from = outer.runs.partition_point(|(ov, _)| *ov <= v);
            for &(ov, ot) in &outer.runs[from..] {
                if ov >= v_end {
                    break;
                }
                runs.push((n + (ov - v), ot));
            }
        }
        OffsetMap { runs }
    }
}

/// Normalize one input: redact, split into records, unescape, extract fields, metadata, audit.
pub fn parse_input(input: &Input) -> Document {
    parse(input, false)
}

/// [`parse_input`] for a paste: records are split and matched on the paste view (prefixes that
/// tools add taken off, soft wraps joined, entities and odd spaces made plain; see
/// the `paste` module), and evidence still points at the text as pasted.
pub fn parse_paste(input: &Input) -> Document {
    parse(input, true)
}

fn parse(input: &Input, paste: bool) -> Document {
    let scanned = credential::scan(&input.text);
    let text = scanned.text;
    let view = if paste { paste::view(&text) } else { None };
    let basis: &str = view.as_ref().map_or(text.as_str(), |v| v.text.as_str());
    // Line starts of the text, to number records split on the view as the paste is numbered.
    let line_starts: Vec<usize> = match &view {
        Some(_) => std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
            .collect(),
        None => Vec::new(),
    };
    let mut skipped = Vec::new();
    let ranges = split_records(basis, &input.name, &mut skipped);
    let mut records = Vec::with_capacity(ranges.len());
    let mut last_http_status: Option<(usize, u16)> = None;
    for (line, range) in ranges {
        let raw = &basis[range.clone()];
        let (norm, runs) = unescape(raw);
        let mut map = OffsetMap { runs };
        for run in &mut map.runs {
            run.1 += range.start;
        }
        if map.runs.is_empty() || map.runs[0].0 != 0 {
            map.runs.insert(0, (0, range.start));
        }
        let (line, range, map) = match &view {
            Some(v) => {
                let map = map.through(&v.map, range.end);
                let start = v.map.to_raw(range.start).min(text.len());
                let end = v.map.to_raw(range.end).clamp(start, text.len());
                let line = line_starts.partition_point(|s| *s <= start);
                (line, start..end, map)
            }
            None => (line, range, map),
        };
        let norm = norm.into_owned();
        // curl -i prints the status line, headers, a blank line, then the body: the body's
        // record inherits the status line seen just before it.
        let mut inherited_status = None;
        match http_status_line(&norm) {
            Some(status) => last_http_status = Some((line, status)),
            None => {
                if let Some((seen_at, status)) = last_http_status {
                    if line.saturating_sub(seen_at) <= 40 {
                        inherited_status = Some(status);
                    }
                }
            }
        }
        records.push(Record {
            line,
            range,
            norm,
            map,
            inherited_status,
            fields: OnceLock::new(),
            kind: OnceLock::new(),
        });
    }
    let keys = key_metadata::parse_all(&text, &records);
    let audit = records
        .iter()
        .filter(|r| audit::looks_like_audit(&r.norm))
        .filter_map(|r| audit::parse_line(&r.norm, r.line))
        .collect();
    let version = records.iter().find_map(|r| detect_version(&r.norm));
    Document {
        name: input.name.clone(),
        text,
        records,
        credentials: scanned.credentials,
        keys,
        audit,
        version,
        skipped,
    }
}

/// Split text into record ranges (with their 1-based first line), cutting over-long lines.
fn split_records(text: &str, name: &str, skipped: &mut Vec<Skipped>) -> Vec<(usize, Range<usize>)> {
    let mut out: Vec<(usize, Range<usize>)> = Vec::new();
    let mut current: Option<(usize, Range<usize>, usize)> = None; // (line, range, line count)
    let mut offset = 0;
    for (idx, full_line) in text.split_inclusive('\n').enumerate() {
        let line_no = idx + 1;
        let line_start = offset;
        offset += full_line.len();
        let content = full_line.trim_end_matches(['\n', '\r']);
        if content.len() > LINE_CAP {
            skipped.push(Skipped {
                source: name.to_string(),
                reason: SkipReason::LongLine {
                    line: line_no,
                    bytes: content.len(),
                },
            });
            if let Some((l, r, _)) = current.take() {
                out.push((l, r));
            }
            let mut piece_start = line_start;
            let end = line_start + content.len();
            while piece_start < end {
                let mut piece_end = (piece_start + LINE_CAP).min(end);
                while !text.is_char_boundary(piece_end) {
                    piece_end -= 1;
                }
                out.push((line_no, piece_start..piece_end));
                piece_start = piece_end;
            }
            continue;
        }
        if content.trim().is_empty() {
            if let Some((l, r, _)) = current.take() {
                out.push((l, r));
            }
            continue;
        }
        let end = line_start + content.len();
        match current.as_mut() {
            Some((_, range, count)) if *count < MAX_RECORD_LINES && is_continuation(content) => {
                range.end = end;
                *count += 1;
            }
            _ => {
                if let Some((l, r, _)) = current.take() {
                    out.push((l, r));
                }
                current = Some((line_no, line_start..end, 1));
            }
        }
    }
    if let Some((l, r, _)) = current {
        out.push((l, r));
    }
    out
}

static EXCEPTION_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[a-z][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)(?-u:\b)")
        .expect("exception regex")
});

/// Whether a line continues the record above it.
pub(crate) fn is_continuation(line: &str) -> bool {
    let first = line.chars().next().unwrap_or(' ');
    first.is_whitespace()
        || matches!(first, '}' | ']' | ')')
        || line.starts_with("Caused by")
        || line.starts_with("Root causes")
        || line.starts_with("at ")
        || line.starts_with("...")
        || EXCEPTION_HEAD.is_match(line)
}

/// Unescape JSON-ish string escapes at any nesting depth. Returns the text and the run starts.
fn unescape(raw: &str) -> (Cow<'_, str>, Vec<(usize, usize)>) {
    if !raw.contains('\\') {
        return (Cow::Borrowed(raw), Vec::new());
    }
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut runs = vec![(0usize, 0usize)];
    let mut i = 0;
    let mut plain_from = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len() && bytes[j] == b'\\' {
            j += 1;
        }
        let (emit, consumed_to): (Option<char>, usize) = match bytes.get(j) {
            Some(b'"') => (Some('"'), j + 1),
            Some(b'\'') => (Some('\''), j + 1),
            Some(b'/') => (Some('/'), j + 1),
            Some(b'n') => (Some('\n'), j + 1),
            Some(b't') => (Some('\t'), j + 1),
            Some(b'r') => (None, j + 1),
            Some(b'u') => match raw
                .get(j + 1..j + 5)
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .and_then(char::from_u32)
            {
                Some(c) => (Some(c), j + 5),
                None => (Some('\\'), j),
            },
            _ => (Some('\\'), j),
        };
        out.push_str(&raw[plain_from..i]);
        if let Some(c) = emit {
            out.push(c);
        }
        i = consumed_to.max(i + 1);
        plain_from = i;
        runs.push((out.len(), i));
    }
    out.push_str(&raw[plain_from..]);
    (Cow::Owned(out), runs)
}

static STATUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?x)
        "status"\s*:\s*(?P<a>[45]\d\d)(?-u:\b)
      | (?-u:\b)status(?:Code)?\s*[:=]\s*(?P<b>[45]\d\d)(?-u:\b)
      | (?-u:\b)(?P<c>40[013]|50[0-3])\s+(?:Unauthorized|Forbidden|Bad\ Request|Internal\ Server\ Error|Service\ Unavailable)
      | (?-u:\b)(?:[A-Z][A-Za-z]+(?:Exception|Error))\((?P<d>[45]\d\d),
      | :code=>(?P<e>[45]\d\d)
      | response\ code\ '(?P<f>[45]\d\d)'
      | \[(?P<g>[45]\d\d)\ [A-Z][a-z]+
      | (?-u:\b)HTTP\ error\ (?P<h>[45]\d\d)(?-u:\b)
    "#,
    )
    .expect("status regex")
});
static HTTP_STATUS_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^[<*]?\s*HTTP/[\d.]+ (\d{3})(?-u:\b)").expect("http regex"));

/// Whether `norm` is an HTTP status line (`HTTP/1.1 401 Unauthorized`): the records below it
/// inherit its status.
pub fn is_http_status_line(norm: &str) -> bool {
    http_status_line(norm).is_some()
}

fn http_status_line(norm: &str) -> Option<u16> {
    if !norm.contains("HTTP/") {
        return None;
    }
    HTTP_STATUS_LINE
        .captures(norm)?
        .get(1)?
        .as_str()
        .parse()
        .ok()
}
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?x)
        ^\[?(?P<a>\d{4}-\d\d-\d\d[T\ ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)
      | "(?:@timestamp|timestamp)"\s*:\s*"(?P<b>[^"]+)"
    "#,
    )
    .expect("timestamp regex")
});
static NODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?x)
        ^\[[^\]]+\]\[[A-Z]+\s*\]\[[^\]]+\]\s*\[(?P<a>[^\]]+)\]
      | "(?:elasticsearch\.)?node\.name"\s*:\s*"(?P<b>[^"]+)"
    "#,
    )
    .expect("node regex")
});
static CLIENT_IP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""(?:origin\.address|x_forwarded_for)"\s*:\s*"(?P<a>[^"]+)""#).expect("ip regex")
});
static REMOTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?x)
        (?:to\ cluster|remote\ cluster|external\ cluster)\ \[(?P<a>[^\]\s]+)\]
      | cluster\.remote\.(?P<b>[\w-]+)\.
    "#,
    )
    .expect("remote regex")
});
static VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""number"\s*:\s*"(?P<a>\d+\.\d+\.\d+)[^"]*""#).expect("version regex")
});

/// The timestamp a log line starts with (`[2026-11-20T09:00:31,204]…`) or carries as
/// `@timestamp` / `timestamp` (JSON logs), as written.
pub fn line_timestamp(line: &str) -> Option<String> {
    first_group(&TIMESTAMP, line)
}

fn first_group(re: &Regex, text: &str) -> Option<String> {
    let caps = re.captures(text)?;
    caps.iter()
        .skip(1)
        .flatten()
        .next()
        .map(|m| m.as_str().to_string())
}

fn extract_fields(norm: &str) -> RecordFields {
    RecordFields {
        status: first_group(&STATUS, norm)
            .or_else(|| http_status_line(norm).map(|s| s.to_string()))
            .and_then(|s| s.parse().ok()),
        timestamp: first_group(&TIMESTAMP, norm),
        node: first_group(&NODE, norm).filter(|_| !is_logstash_line(norm)),
        client_ip: first_group(&CLIENT_IP, norm),
        remote: first_group(&REMOTE, norm),
    }
}

/// Logstash's plain layout looks like Elasticsearch's, but its fourth bracket is a pipeline id.
fn is_logstash_line(norm: &str) -> bool {
    norm.get(..80).unwrap_or(norm).contains("][logstash.") || norm.contains("][org.logstash")
}

fn detect_version(norm: &str) -> Option<String> {
    first_group(&VERSION, norm)
}

fn classify_kind(norm: &str) -> RecordKind {
    let head = norm.trim_start();
    if head.starts_with('{') && norm.contains("\"type\"") && audit::looks_like_audit(norm) {
        RecordKind::AuditLog
    } else if norm.contains("\"api_keys\"") {
        RecordKind::KeyMetadata
    } else if norm.contains("\"log.logger\":\"org.elasticsearch")
        || norm.contains("\"type\": \"server\"")
        || norm.contains("\"type\":\"server\"")
        || norm.contains("[o.e.")
        || norm.starts_with("Authentication using apikey failed")
    {
        RecordKind::ServerLog
    } else if head.starts_with("HTTP/") || head.starts_with("< HTTP/") {
        RecordKind::HttpResponse
    } else if head.starts_with('{')
        && (norm.contains("\"root_cause\"") || norm.contains("\"reason\""))
    {
        RecordKind::EsErrorJson
    } else if norm.contains("Exception(")
        || norm.contains("ResponseError")
        || norm.contains("ElasticsearchStatusException")
        || norm.contains("ResponseException")
        || norm.contains("] failed: [")
    {
        RecordKind::ClientException
    } else if norm.contains("logstash.")
        || norm.contains("backoff(elasticsearch")
        || norm.contains("\"log.level\"")
        || norm.contains("\"tags\":[")
        || EXCEPTION_HEAD.is_match(head)
    {
        RecordKind::AgentLog
    } else {
        RecordKind::Text
    }
}

/// Walk `value`'s leaves with dotted names (`a.b.c`), not descending into objects whose name
/// `keep` accepts (they are visited whole).
pub fn flatten_json(
    value: &serde_json::Value,
    prefix: &str,
    keep: &dyn Fn(&str) -> bool,
    visit: &mut dyn FnMut(&str, &serde_json::Value),
) {
    match value {
        serde_json::Value::Object(map) if prefix.is_empty() || !keep(prefix) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_json(v, &key, keep, visit);
            }
        }
        other => visit(prefix, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        parse_input(&Input {
            name: "t".into(),
            text: text.into(),
        })
    }

    #[test]
    fn pretty_json_and_stack_traces_are_one_record_each() {
        let d = doc("{\n  \"error\": {\n    \"type\": \"x\"\n  },\n  \"status\": 401\n}\n[2023-06-28T13:26:53,962][WARN ][o.e.t.ProxyConnectionStrategy] [node] failed\norg.elasticsearch.transport.RemoteTransportException: [x]\nCaused by: java.lang.IllegalArgumentException: y\n\nnext\n");
        assert_eq!(d.records.len(), 3);
        assert_eq!(d.records[0].fields().status, Some(401));
        assert_eq!(d.records[1].line, 7);
        assert_eq!(d.records[1].fields().node.as_deref(), Some("node"));
        assert_eq!(d.records[2].line, 11);
    }

    #[test]
    fn escapes_at_any_depth_are_undone_and_mapped_back() {
        let raw = r#"x {\\\"reason\\\":\\\"api key [abc] has been invalidated\\\"}"#;
        let d = doc(raw);
        let rec = &d.records[0];
        assert_eq!(
            rec.norm,
            r#"x {"reason":"api key [abc] has been invalidated"}"#
        );
        let at = rec.norm.find("abc").unwrap();
        let raw_at = rec.map.to_raw(at);
        assert_eq!(&d.text[raw_at..raw_at + 3], "abc");
        let end = rec.map.to_raw(at + 3);
        assert_eq!(&d.text[raw_at..end], "abc");
    }

    #[test]
    fn unicode_escapes_are_decoded() {
        let (text, _) = unescape(r#"\u0022ApiKey\u0022 ok"#);
        assert_eq!(text, "\"ApiKey\" ok");
    }

    #[test]
    fn statuses_are_found_in_every_rendering() {
        for (text, want) in [
            (
                "AuthenticationException(401, 'security_exception', 'x')",
                401,
            ),
            ("Failed to connect: 403 Forbidden: {}", 403),
            ("{:code=>401, :url=>\"x\"}", 401),
            ("Got response code '403' contacting Elasticsearch", 403),
            ("[401 Unauthorized] {\"error\":{}}", 401),
            ("statusCode: 500", 500),
        ] {
            assert_eq!(extract_fields(text).status, Some(want), "{text}");
        }
    }

    #[test]
    fn curl_body_inherits_the_status_line() {
        let d = doc("HTTP/1.1 401 Unauthorized\nWWW-Authenticate: ApiKey\n\n{\"error\":\"x\"}\n");
        assert_eq!(d.records.last().unwrap().fields().status, Some(401));
    }

    #[test]
    fn long_lines_are_read_in_pieces_and_reported() {
        let text = format!("{}api key is expired\n", "a".repeat(LINE_CAP + 10));
        let d = doc(&text);
        assert_eq!(d.records.len(), 2);
        assert!(matches!(
            d.skipped[0].reason,
            SkipReason::LongLine { line: 1, .. }
        ));
    }
}
