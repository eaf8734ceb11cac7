//! `keydoctor key`'s report in the three formats.
//!
//! JSON contract (documented in the README; fields are only ever added): `{"id", "name",
//! "state", "type", "creation", "expiration", "invalidation", "owner", "realm", "realm_type",
//! "profile_uid", "age", "time_left", "inherits_owner", "metadata", "role_descriptors",
//! "limited_by", "access", "privileges": [..], "derived_from", "sources"}`, `state` one of
//! `active`, `expired`, `invalidated`, `missing`.

use std::io::{self, Write};

use owo_colors::OwoColorize;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{table, Format, RenderOptions};
use crate::lifecycle::key::{KeyReport, State};
use crate::model::format_ms;
use crate::model::human_duration;

/// Render a key report.
pub fn render_key(
    r: &KeyReport,
    format: Format,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &key_json(r))?;
            writeln!(out)
        }
        Format::Markdown => key_markdown(r, out),
        Format::Human => key_human(r, opts, out),
    }
}

/// The version of `keydoctor key --format json` (1: the first with a version and a schema).
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON Schema of `keydoctor key --format json`.
pub(crate) fn schema() -> schemars::Schema {
    super::output_schema::<KeyOut<'static>>()
}

/// `keydoctor key --format json`, field for field (the order is the contract's).
#[derive(Serialize, JsonSchema)]
struct KeyOut<'a> {
    schema_version: u32,
    id: &'a str,
    name: Option<&'a str>,
    state: &'static str,
    #[serde(rename = "type")]
    key_type: Option<&'static str>,
    creation: Option<String>,
    expiration: Option<String>,
    invalidation: Option<String>,
    owner: Option<&'a str>,
    realm: Option<&'a str>,
    realm_type: Option<&'a str>,
    profile_uid: Option<&'a str>,
    age: Option<String>,
    time_left: Option<String>,
    inherits_owner: bool,
    metadata: Option<&'a Value>,
    role_descriptors: Option<&'a Value>,
    limited_by: Option<&'a Value>,
    access: Option<&'a Value>,
    privileges: Vec<PrivilegeOut<'a>>,
    derived_from: Option<&'a str>,
    sources: &'a [String],
    notes: &'a [String],
}

/// One row of a key's privileges.
#[derive(Serialize, JsonSchema)]
struct PrivilegeOut<'a> {
    source: &'static str,
    role: &'a str,
    kind: &'static str,
    on: &'a [String],
    privileges: &'a [String],
    restrictions: &'a [String],
}

fn key_json(r: &KeyReport) -> KeyOut<'_> {
    let k = r.key.as_ref();
    let ms = |v: Option<i64>| v.map(format_ms);
    KeyOut {
        schema_version: SCHEMA_VERSION,
        id: &r.id,
        name: k.and_then(|k| k.name.as_deref()),
        state: r.state.as_str(),
        key_type: k.and_then(|k| k.key_type).map(|t| t.as_str()),
        creation: ms(k.and_then(|k| k.creation_ms)),
        expiration: ms(k.and_then(|k| k.expiration_ms)),
        invalidation: ms(k.and_then(|k| k.invalidation_ms)),
        owner: k.and_then(|k| k.username.as_deref()),
        realm: k.and_then(|k| k.realm.as_deref()),
        realm_type: k.and_then(|k| k.realm_type.as_deref()),
        profile_uid: k.and_then(|k| k.profile_uid.as_deref()),
        age: r.age_ms.map(human_duration),
        time_left: r.time_left_ms.filter(|t| *t > 0).map(human_duration),
        inherits_owner: r.inherits_owner,
        metadata: k.and_then(|k| k.metadata.as_ref()),
        role_descriptors: k.and_then(|k| k.role_descriptors.as_ref()),
        limited_by: k.and_then(|k| k.limited_by.as_ref()),
        access: k.and_then(|k| k.access.as_ref()),
        privileges: r
            .privileges
            .iter()
            .map(|p| PrivilegeOut {
                source: p.source.as_str(),
                role: &p.role,
                kind: p.kind.as_str(),
                on: &p.on,
                privileges: &p.privileges,
                restrictions: &p.restrictions,
            })
            .collect(),
        derived_from: k.and_then(|k| k.derived_from.as_deref()),
        sources: &r.sources,
        notes: &r.notes,
    }
}

/// The lines every format shows, as (label, value).
fn key_facts(r: &KeyReport) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let Some(k) = &r.key else {
        return out;
    };
    if let Some(n) = &k.name {
        out.push(("name", n.clone()));
    }
    out.push((
        "type",
        k.key_type.map_or_else(
            || "rest (no `type` field: before 8.10 every key is a REST key)".into(),
            |t| t.as_str().to_string(),
        ),
    ));
    if let Some(u) = &k.username {
        let realm = match (&k.realm, &k.realm_type) {
            (Some(r), Some(t)) => format!(" (realm {r}, {t})"),
            (Some(r), None) => format!(" (realm {r})"),
            _ => String::new(),
        };
        out.push(("owner", format!("{u}{realm}")));
    }
    if let Some(c) = k.creation_ms {
        let age = r
            .age_ms
            .map(|a| format!(" ({} ago)", human_duration(a)))
            .unwrap_or_default();
        out.push(("created", format!("{}{age}", format_ms(c))));
    }
    out.push((
        "expiration",
        match (k.expiration_ms, r.time_left_ms) {
            (Some(e), Some(left)) if left > 0 => {
                format!("{} (in {})", format_ms(e), human_duration(left))
            }
            (Some(e), Some(left)) => format!("{} ({} ago)", format_ms(e), human_duration(-left)),
            (Some(e), None) => format_ms(e),
            (None, _) if k.invalidated => "never".into(),
            (None, _) => "never (nothing makes this key rotate)".into(),
        },
    ));
    if k.invalidated {
        out.push((
            "invalidated",
            k.invalidation_ms
                .map(format_ms)
                .unwrap_or_else(|| "yes (the time is shown from 8.12)".into()),
        ));
    }
    if let Some(p) = &k.profile_uid {
        out.push(("profile", p.clone()));
    }
    if let Some(m) = k
        .metadata
        .as_ref()
        .filter(|m| m.as_object().is_some_and(|o| !o.is_empty()))
    {
        out.push(("metadata", m.to_string()));
    }
    if r.inherits_owner {
        out.push((
            "privileges",
            "no role descriptors of its own: the owner's privileges as of creation or last update (limited_by)".into(),
        ));
    } else if k.role_descriptors.is_none() && k.access.is_none() {
        out.push((
            "privileges",
            "not in this metadata (role_descriptors are returned from 8.5; limited_by only with with_limited_by=true)".into(),
        ));
    }
    if let Some(d) = &k.derived_from {
        out.push(("pieced from", d.clone()));
    }
    out
}

/// What the state means, and the next step.
fn key_meaning(r: &KeyReport) -> String {
    match r.state {
        State::Active => "The key is active: it authenticates if the secret sent with it is right and the client talks to this cluster.".into(),
        State::Expired => "The key has expired and cannot be renewed or updated: create a replacement with the same role descriptors, deploy it, verify it, then invalidate this one.".into(),
        State::Invalidated => "The key was invalidated and can never be used again: create a replacement, deploy it and verify it; the audit log's `invalidate_apikeys` event says who invalidated this one.".into(),
        State::Missing => format!(
            "No key with this id is in the metadata read ({}). If that metadata is the cluster's full answer, the key does not exist there: another cluster, deleted after the retention period, or `.security` restored from an older snapshot.",
            if r.sources.is_empty() { "none".to_string() } else { r.sources.join(", ") }
        ),
    }
}

fn key_human(r: &KeyReport, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let state = r.state.as_str();
    let state = if opts.color {
        match r.state {
            State::Active => state.green().bold().to_string(),
            _ => state.red().bold().to_string(),
        }
    } else {
        state.to_string()
    };
    writeln!(out, "key {}  {state}", r.id)?;
    let facts = key_facts(r);
    let width = facts.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (label, value) in &facts {
        let first = format!("  {label:>width$}  ");
        let rest = " ".repeat(first.chars().count());
        let wrapped = super::fill(
            value,
            super::wrap_options(opts.width.max(40))
                .initial_indent(&first)
                .subsequent_indent(&rest),
        );
        writeln!(out, "{wrapped}")?;
    }
    if !r.privileges.is_empty() {
        writeln!(out)?;
        let header = ["source", "role", "kind", "on", "privileges"];
        let rows: Vec<[String; 5]> = r
            .privileges
            .iter()
            .map(|p| {
                let mut privileges = p.privileges.join(", ");
                if !p.restrictions.is_empty() {
                    privileges.push_str(&format!(" [{}]", p.restrictions.join("; ")));
                }
                [
                    p.source.to_string(),
                    p.role.clone(),
                    p.kind.to_string(),
                    p.on.join(", "),
                    privileges,
                ]
            })
            .collect();
        table(out, &header, &rows)?;
    }
    writeln!(out)?;
    for note in &r.notes {
        writeln!(out, "  note: {note}")?;
    }
    let meaning = super::fill(
        &key_meaning(r),
        super::wrap_options(opts.width.max(40))
            .initial_indent("  ")
            .subsequent_indent("  "),
    );
    writeln!(out, "{meaning}")
}

fn key_markdown(r: &KeyReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## API key `{}`: {}\n", r.id, r.state.as_str())?;
    let facts = key_facts(r);
    if !facts.is_empty() {
        writeln!(out, "| | |\n|---|---|")?;
        for (label, value) in facts {
            writeln!(out, "| {label} | {} |", value.replace('|', "\\|"))?;
        }
        writeln!(out)?;
    }
    if !r.privileges.is_empty() {
        writeln!(
            out,
            "| source | role | kind | on | privileges |\n|---|---|---|---|---|"
        )?;
        for p in &r.privileges {
            writeln!(
                out,
                "| {} | {} | {} | `{}` | {}{} |",
                p.source,
                p.role,
                p.kind,
                p.on.join("`, `"),
                p.privileges.join(", "),
                if p.restrictions.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", p.restrictions.join("; "))
                }
            )?;
        }
        writeln!(out)?;
    }
    for note in &r.notes {
        writeln!(out, "> note: {note}\n")?;
    }
    writeln!(out, "{}", key_meaning(r))
}
