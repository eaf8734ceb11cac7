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
    let facts = crate::lifecycle::key::lines(r);
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
        &crate::lifecycle::key::meaning(r),
        super::wrap_options(opts.width.max(40))
            .initial_indent("  ")
            .subsequent_indent("  "),
    );
    writeln!(out, "{meaning}")
}

fn key_markdown(r: &KeyReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## API key `{}`: {}\n", r.id, r.state.as_str())?;
    let facts = crate::lifecycle::key::lines(r);
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
    writeln!(out, "{}", crate::lifecycle::key::meaning(r))
}
