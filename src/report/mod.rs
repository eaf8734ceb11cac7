//! Stage 5: rendering. Pure functions of `&Diagnosis` to a `&mut dyn Write`.
//!
//! - **In**: a [`Diagnosis`] and [`RenderOptions`].
//! - **Out**: bytes on the writer: human (owo-colors + a miette snippet of the evidence), JSON
//!   (stable wire types in [`json`]), or Markdown for a ticket.
//! - **Never**: probe the terminal, re-derive facts, or redact field by field: what it is given
//!   was redacted when read, and the one writer ([`redacting`]) redacts every line on the way
//!   out (wrapped prose is redacted before it is wrapped, in `fill`).

pub mod atomic;
pub mod can;
pub mod doctor;
pub mod ecs;
pub mod expiring;
pub mod html;
pub mod human;
pub mod impact;
pub mod json;
pub mod key;
pub mod markdown;
pub mod monitor;
pub mod redacting;
pub mod replay;
pub mod rotate;
pub mod share;
pub mod suggest;
pub mod terminal;

use std::io::{self, Write};

use crate::diagnosis::Diagnosis;
use crate::model::RunAs;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Markdown,
}

/// The formats of a findings report (`explain`, `scan`): the document formats every report
/// has, the self-contained HTML page and ECS documents for Elasticsearch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingsFormat {
    Document(Format),
    Html,
    Ecs,
}

/// How to render.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// ANSI colours (decided once, at startup).
    pub color: bool,
    /// Wrap width for prose and snippets.
    pub width: usize,
    /// Show each request in `curl` form too.
    pub curl: bool,
    /// The whole human report of each finding (`--full`), not the one screen to act on.
    pub full: bool,
    /// Where the `curl` forms send their requests.
    pub target: CurlTarget,
    /// When the report is made (the analysis' "now", `--now`): ECS's `event.created`, the HTML
    /// page's date.
    pub generated_ms: Option<i64>,
}

/// The cluster the `curl` forms address: the URL and CA file the user gave (`--es-url`,
/// `--ca-cert`), else `$ELASTICSEARCH_URL`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurlTarget {
    /// The cluster's URL, without userinfo.
    pub url: Option<String>,
    /// The CA file to verify the cluster with.
    pub ca_cert: Option<String>,
}

/// Render `diagnosis` in `format`.
pub fn render(
    diagnosis: &Diagnosis,
    format: FindingsFormat,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        FindingsFormat::Document(Format::Human) => human::render_human(diagnosis, opts, out),
        FindingsFormat::Document(Format::Json) => json::render_json(diagnosis, opts, out),
        FindingsFormat::Document(Format::Markdown) => {
            markdown::render_markdown(diagnosis, opts, out)
        }
        FindingsFormat::Html => html::render_html(diagnosis, opts, out),
        FindingsFormat::Ecs => ecs::render_ecs(diagnosis, opts, out),
    }
}

/// The `curl` form of a Dev Tools request (`METHOD /path` plus an optional JSON body), sent to
/// `target`, authenticated as `run_as` requires: a user's password (`$ES_USERNAME`,
/// `$ES_PASSWORD`) for what only a user may do (creating and updating keys among it), the new
/// key (`$NEW_API_KEY`) for a check that it works, the client's own key (`$CLIENT_API_KEY`)
/// for a check of what the client sends. `None` when it is not an HTTP request.
pub fn curl_form(request: &str, run_as: RunAs, target: &CurlTarget) -> Option<String> {
    let mut lines = request.lines();
    let first = lines.next()?.trim();
    let (method, path) = first.split_once(' ')?;
    if !matches!(method, "GET" | "POST" | "PUT" | "DELETE" | "HEAD") || !path.starts_with('/') {
        return None;
    }
    let body: String = lines.collect::<Vec<_>>().join("\n");
    // A URL the user gave is quoted so that the shell expands nothing in it.
    let url = match &target.url {
        Some(url) => format!("'{}{path}'", url.trim_end_matches('/').replace('\'', "%27")),
        None => format!("\"$ELASTICSEARCH_URL{path}\""),
    };
    let auth = match run_as {
        RunAs::User | RunAs::Owner | RunAs::Admin => "-u \"$ES_USERNAME:$ES_PASSWORD\"",
        RunAs::NewKey => "-H \"Authorization: ApiKey $NEW_API_KEY\"",
        RunAs::ClientKey => "-H \"Authorization: ApiKey $CLIENT_API_KEY\"",
    };
    let mut out = format!("curl -sS -X {method} {url} \\\n  {auth}");
    if let Some(ca) = &target.ca_cert {
        out.push_str(&format!(" \\\n  --cacert '{}'", ca.replace('\'', "'\\''")));
    }
    if !body.trim().is_empty() {
        let compact = serde_json::from_str::<serde_json::Value>(body.trim())
            .ok()
            .and_then(|v| serde_json::to_string(&v).ok())
            .unwrap_or_else(|| body.trim().to_string());
        out.push_str(" \\\n  -H 'Content-Type: application/json' \\\n  -d '");
        out.push_str(&compact.replace('\'', "'\\''"));
        out.push('\'');
    }
    Some(out)
}

/// The JSON Schema of every JSON output, by its file name under `schemas/` (committed; a test
/// checks that they are current and that real outputs validate against them).
pub fn json_schemas() -> Vec<(&'static str, serde_json::Value)> {
    [
        ("report.schema.json", json::schema()),
        ("follow-event.schema.json", json::follow_schema()),
        ("error.schema.json", json::error_schema()),
        ("doctor.schema.json", doctor::schema()),
        ("key.schema.json", key::schema()),
        ("can.schema.json", can::schema()),
        ("suggest.schema.json", suggest::schema()),
        ("expiring.schema.json", expiring::schema()),
        ("rotate.schema.json", rotate::schema()),
        ("impact.schema.json", impact::schema()),
        ("ecs.schema.json", ecs::schema()),
    ]
    .into_iter()
    .map(|(name, schema)| (name, schema.to_value()))
    .collect()
}

/// The schema of what `T` serializes to (a field skipped when empty is not required).
fn output_schema<T: schemars::JsonSchema>() -> schemars::Schema {
    schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
}

/// Wrapping that never breaks a word: ids, paths, flags and requests stay whole (a word wider
/// than the line overflows it), and hyphenated names (`es-node-2`, key ids) are not split.
pub(crate) fn wrap_options(width: usize) -> textwrap::Options<'static> {
    textwrap::Options::new(width)
        .break_words(false)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
}

/// `textwrap::fill`, keeping what is quoted in backticks on one line (`GET /_security/api_key`,
/// a setting with its value): its spaces do not break.
///
/// Wrapping can put a credential's name and its value on two lines, where the redacting writer,
/// which reads one line at a time, would see neither whole: what is filled is redacted first.
/// It is the one place in `report/` that redacts; everything else a renderer writes reaches
/// the writer with its lines as they are.
pub(crate) fn fill<'a>(text: &str, options: impl Into<textwrap::Options<'a>>) -> String {
    const KEEP: char = '\u{a0}';
    let text = crate::secret::redact(text);
    let mut quoted = false;
    let protected: String = text
        .chars()
        .map(|c| {
            if c == '`' {
                quoted = !quoted;
            }
            if quoted && c == ' ' {
                KEEP
            } else {
                c
            }
        })
        .collect();
    textwrap::fill(&protected, options).replace(KEEP, " ")
}

/// "1 finding" / "3 findings".
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The one-line summary every format ends with.
pub(crate) fn summary_line(d: &Diagnosis) -> String {
    let line = summary_of_findings(d);
    match d.suppressed.len() {
        0 => line,
        n => format!("{} ({n} suppressed).", line.trim_end_matches('.')),
    }
}

/// One line per suppressed finding: what, and the suppression's reason and place.
pub(crate) fn suppressed_lines(d: &Diagnosis) -> Vec<String> {
    d.suppressed
        .iter()
        .map(|s| {
            format!(
                "{} {} ({}, {}×): {} [{}]",
                s.class.as_str(),
                s.key_id.as_deref().unwrap_or("(id not shown)"),
                s.rule_id,
                s.count,
                s.reason,
                s.by
            )
        })
        .collect()
}

fn summary_of_findings(d: &Diagnosis) -> String {
    let unit = if d.files.is_empty() { "input" } else { "file" };
    let omitted = d.omitted.as_ref().map_or(0, |o| o.findings);
    if d.findings.is_empty() && omitted == 0 {
        return format!("No API-key failure found in {}.", plural(d.inputs, unit));
    }
    let mut by_class: Vec<(String, usize)> = Vec::new();
    let counted = d.findings.iter().map(|f| (f.class, 1)).chain(
        d.omitted
            .iter()
            .flat_map(|o| o.by_class.iter().map(|(c, n, _)| (*c, *n))),
    );
    for (class, n) in counted {
        match by_class.iter_mut().find(|(c, _)| c == class.as_str()) {
            Some((_, m)) => *m += n,
            None => by_class.push((class.as_str().to_string(), n)),
        }
    }
    let parts: Vec<String> = by_class.iter().map(|(c, n)| format!("{n} {c}")).collect();
    let shown = if omitted > 0 {
        format!(", {} shown in full", d.findings.len())
    } else {
        String::new()
    };
    format!(
        "{} ({}{shown}) in {}.",
        plural(d.findings.len() + omitted, "finding"),
        parts.join(", "),
        plural(d.inputs, unit)
    )
}

/// What `--max-findings` left out, in one sentence, when it left anything out.
pub(crate) fn omitted_line(d: &Diagnosis) -> Option<String> {
    let o = d.omitted.as_ref()?;
    let parts: Vec<String> = o
        .by_class
        .iter()
        .map(|(c, n, f)| format!("{n} {} ({})", c.as_str(), plural(*f, "failure")))
        .collect();
    let untracked = if o.untracked > 0 {
        let top: Vec<String> = o
            .untracked_top
            .iter()
            .map(|(_, key, n)| format!("key {key} ({})", plural(*n, "failure")))
            .collect();
        format!(
            " {} of them were first seen after {} distinct failures were already followed in full, so they were only counted{};",
            o.untracked,
            crate::diagnosis::Omitted::tracking_cap(o.cap),
            if top.is_empty() {
                String::new()
            } else {
                format!(" (the most frequent of them: {}; --key <id> follows one)", top.join(", "))
            }
        )
    } else {
        String::new()
    };
    Some(format!(
        "{} more {} beyond --max-findings {} are counted, not shown: {}. The most frequent {} shown;{untracked} raise --max-findings (0: no cap) or narrow with --key / --class to see others.",
        o.findings,
        if o.findings == 1 { "finding" } else { "findings" },
        o.cap,
        parts.join(", "),
        if o.untracked > 0 {
            "of those followed in full are"
        } else {
            "are"
        }
    ))
}

/// The details worth showing to a person, as (label, value) pairs, in a fixed order.
pub(crate) fn detail_lines(f: &crate::diagnosis::Finding) -> Vec<(&'static str, String)> {
    use crate::diagnosis::FactKind;
    use crate::model::format_ms;
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let said = |kind| f.fact_text(kind).map(str::to_string);
    let key_inference = said(FactKind::KeyInference);
    if let (Some(id), Some(how)) = (&f.key_id, &key_inference) {
        out.push(("key", format!("{id} — {how}")));
    } else if let Some(id) = &f.key_id {
        let source = f
            .key_id_source
            .filter(|s| *s != crate::model::KeyIdSource::Message)
            .map(crate::model::KeyIdSource::as_str);
        out.push((
            "key",
            match source {
                Some(s) => format!("{id} (from the {s})"),
                None => id.clone(),
            },
        ));
    } else if let Some(p) = &f.key_id_placeholder {
        out.push(("key", format!("not shown (the text says `{p}`)")));
    } else if let Some(how) = &key_inference {
        out.push(("key", format!("unknown — {how}")));
    }
    if !f.key.key_candidates.is_empty() {
        out.push(("could be", f.key.key_candidates.join(", ")));
    }
    if let Some(name) = &f.key.key_name {
        out.push(("key name", name.clone()));
    }
    if let Some(user) = &f.key.user {
        out.push((
            "owner",
            match &f.key.realm {
                Some(realm) => format!("{user} (realm {realm})"),
                None => user.clone(),
            },
        ));
    }
    if let Some(p) = &f.denial.principal {
        out.push((
            "caller",
            if f.denial.roles.is_empty() {
                p.clone()
            } else {
                format!("{p} (roles {})", f.denial.roles.join(", "))
            },
        ));
    }
    if !f.denial.actions.is_empty() {
        out.push(("action", f.denial.actions.join(", ")));
    }
    if !f.denial.indices.is_empty() {
        out.push(("indices", f.denial.indices.join(", ")));
    }
    if !f.denial.restricted_indices.is_empty() {
        out.push(("restricted", f.denial.restricted_indices.join(", ")));
    }
    if !f.denial.privileges.is_empty() {
        out.push((
            "granted by",
            format!(
                "{} ({} privileges, least first)",
                f.denial.privileges.join(", "),
                f.denial.privilege_kind.map_or("index", |k| k.as_str())
            ),
        ));
    }
    if let Some(remote) = &f.observed.remote {
        out.push(("remote", remote.clone()));
    }
    if let (Some(e), Some(a)) = (&f.key.expected_type, &f.key.actual_type) {
        out.push(("key type", format!("{a}, where {e} was expected")));
    }
    if !f.observed.statuses.is_empty() {
        out.push((
            "HTTP status",
            f.observed
                .statuses
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    if !f.observed.nodes.is_empty() {
        out.push(("nodes", f.observed.nodes.join(", ")));
    }
    if let Some(c) = &f.client {
        out.push((
            "client",
            format!("{} (recognised in {})", c.name, c.seen_in),
        ));
    }
    if let Some(join) = said(FactKind::ClientJoin) {
        out.push(("clients", join));
    } else if !f.observed.client_addresses.is_empty() {
        out.push(("clients", f.observed.client_addresses.join(", ")));
    }
    match (&f.observed.first_seen, &f.observed.last_seen) {
        (Some(a), Some(b)) if a != b => out.push(("seen", format!("{a} … {b}"))),
        (Some(a), _) => out.push(("seen", a.clone())),
        _ => {}
    }
    if let Some(v) = &f.observed.version {
        out.push(("version", format!("Elasticsearch {v}")));
    }
    if !f.observed.credential_formats.is_empty() {
        out.push(("credential", f.observed.credential_tags().join(", ")));
    }
    if let Some(meta) = &f.key.metadata {
        let mut parts = vec![f.key.metadata_state.map_or("?", |s| s.as_str()).to_string()];
        if let Some(t) = &meta.key_type {
            parts.push(format!("type {t}"));
        }
        if let Some(ms) = meta.creation_ms {
            parts.push(format!("created {}", format_ms(ms)));
        }
        match meta.expiration_ms {
            Some(ms) => parts.push(format!("expires {}", format_ms(ms))),
            None => parts.push("no expiration".into()),
        }
        if let Some(ms) = meta.invalidation_ms {
            parts.push(format!("invalidated {}", format_ms(ms)));
        }
        if let Some(src) = &meta.derived_from {
            parts.push(format!("pieced together from {src}"));
        }
        out.push(("metadata", parts.join(", ")));
    }
    if let Some(limit) = said(FactKind::Limit) {
        out.push(("limit", limit));
    }
    if let Some(index_match) = said(FactKind::IndexMatch) {
        out.push(("index vs key", index_match));
    }
    if let Some(by) = &f.key.invalidated_by {
        out.push((
            "invalidated by",
            format!(
                "{}{} at {}{} ({}:{})",
                by.user.as_deref().unwrap_or("(user not audited)"),
                by.realm
                    .as_deref()
                    .map(|r| format!(" (realm {r})"))
                    .unwrap_or_default(),
                by.timestamp.as_deref().unwrap_or("?"),
                by.origin
                    .as_deref()
                    .map(|o| format!(" from {o}"))
                    .unwrap_or_default(),
                by.source,
                by.line
            ) + &by
                .matched_by
                .as_ref()
                .map(|m| format!("; matched {m}"))
                .unwrap_or_default(),
        ));
    }
    if let Some(note) = said(FactKind::AuditGap) {
        out.push(("audit", note));
    }
    if let Some(view) = f.cluster_view() {
        out.push(("cluster", view));
    }
    if let Some(side) = f.observed.side {
        out.push(("seen on", format!("the {side} cluster's logs only")));
    }
    if let Some(other) = said(FactKind::OtherSide) {
        out.push(("other side", other));
    }
    out
}

/// One symptom pair as a report shows it: a heading and labelled lines.
pub(crate) struct PairBlock {
    pub heading: String,
    pub lines: Vec<(&'static str, String)>,
}

/// The two-sided view: its heading line and one block per symptom.
pub(crate) fn two_sided_blocks(
    view: &crate::diagnosis::two_sided::TwoSided,
) -> (String, Vec<PairBlock>) {
    use crate::diagnosis::two_sided::Seen;
    use crate::model::format_ms;
    let span = |s: Option<(i64, i64)>| match s {
        Some((a, b)) => format!("logs {} … {}", format_ms(a), format_ms(b)),
        None => "no timestamped log line".into(),
    };
    let head = format!(
        "Both clusters: querying {} ({}); fulfilling {} ({}); {}.",
        view.querying,
        span(view.querying_span),
        view.fulfilling,
        span(view.fulfilling_span),
        match (&view.alias, &view.alias_source) {
            (Some(a), Some(how)) => format!("the fulfilling cluster is `{a}` ({how})"),
            (Some(a), None) => format!("the fulfilling cluster is `{a}`"),
            _ => "the fulfilling cluster's alias is not known".into(),
        }
    );
    let seen = |s: &Option<Seen>, side: &str, m: &crate::diagnosis::two_sided::PairMatch| match s {
        Some(s) => format!(
            "{}; {} ({}{})",
            s.window(),
            s.rules.join(", "),
            s.at,
            if s.nodes.is_empty() {
                String::new()
            } else {
                format!("; nodes {}", s.nodes.join(", "))
            }
        ),
        None if m.silent.map(|s| s.as_str()) == Some(side) => {
            if m.expected_silence {
                "silent, as this symptom is".into()
            } else {
                "silent, though its logs cover the time".into()
            }
        }
        None => "nothing in the logs given".into(),
    };
    let blocks = view
        .matches
        .iter()
        .map(|m| {
            let mut heading = m.title.clone();
            let mut about = Vec::new();
            if let Some(k) = &m.key_id {
                about.push(format!("key {k}"));
            }
            if let Some(a) = &m.alias {
                about.push(format!("alias `{a}`"));
            }
            if !about.is_empty() {
                heading = format!("{heading} ({})", about.join(", "));
            }
            let mut lines = vec![
                ("querying", seen(&m.querying, "querying", m)),
                ("fulfilling", seen(&m.fulfilling, "fulfilling", m)),
                ("meaning", m.meaning.clone()),
            ];
            if let Some(e) = &m.effective {
                lines.push(("access", e.text.clone()));
            }
            lines.push(("check", m.check.clone()));
            PairBlock { heading, lines }
        })
        .collect();
    (head, blocks)
}

/// What a scan read, in one line.
pub(crate) fn files_line(d: &Diagnosis) -> Option<String> {
    if d.files.is_empty() {
        return None;
    }
    let mut by_format: Vec<(&str, usize)> = Vec::new();
    for f in &d.files {
        match by_format.iter_mut().find(|(k, _)| *k == f.format.as_str()) {
            Some((_, n)) => *n += 1,
            None => by_format.push((f.format.as_str(), 1)),
        }
    }
    by_format.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let bytes: u64 = d.files.iter().map(|f| f.bytes).sum();
    let gz = d.files.iter().filter(|f| f.gzip).count();
    Some(format!(
        "Read {} ({}{}), {}: {}.",
        plural(d.files.len(), "file"),
        crate::model::human_bytes(usize::try_from(bytes).unwrap_or(usize::MAX)),
        if gz > 0 {
            format!(", {gz} gzip")
        } else {
            String::new()
        },
        plural(d.files.iter().map(|f| f.records).sum(), "record"),
        by_format
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Left-aligned columns, two spaces apart, indented.
pub(crate) fn table<const N: usize>(
    out: &mut dyn Write,
    header: &[&str; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    let mut widths = header.map(str::len);
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::from("  ");
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_form_carries_method_path_and_compact_body() {
        let env = CurlTarget::default();
        let got = curl_form(
            "PUT /_security/api_key/abc\n{\n  \"role_descriptors\": {\"a\": {}}\n}",
            RunAs::User,
            &env,
        )
        .unwrap();
        assert!(got.starts_with("curl -sS -X PUT \"$ELASTICSEARCH_URL/_security/api_key/abc\""));
        assert!(got.contains("-u \"$ES_USERNAME:$ES_PASSWORD\"") && !got.contains("ApiKey"));
        assert!(got.contains("-d '{\"role_descriptors\":{\"a\":{}}}'"));
        assert!(curl_form("bin/elasticsearch-keystore add x", RunAs::User, &env).is_none());
        let given = CurlTarget {
            url: Some("https://es.example:9200/".into()),
            ca_cert: Some("/etc/ca's.pem".into()),
        };
        let verify = curl_form("GET /_security/_authenticate", RunAs::NewKey, &given).unwrap();
        assert_eq!(
            verify,
            "curl -sS -X GET 'https://es.example:9200/_security/_authenticate' \\\n  -H \"Authorization: ApiKey $NEW_API_KEY\" \\\n  --cacert '/etc/ca'\\''s.pem'"
        );
    }
}
