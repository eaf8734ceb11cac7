//! `keydoctor expiring`'s report in the three formats.
//!
//! JSON contract (documented in the README; fields are only ever added): `{"within", "keys":
//! [..], "expired": [..], "no_expiration"?: [..], "total", "invalidated"}`, each key `{"id",
//! "name", "owner", "type", "expiration", "expires_in", "expires_in_ms"}`.

use std::io::{self, Write};

use owo_colors::OwoColorize;
use schemars::JsonSchema;
use serde::Serialize;

use super::{table, Format, RenderOptions};
use crate::lifecycle::expiring::{ExpiringKey, ExpiringReport};
use crate::model::format_ms;
use crate::model::human_duration;

/// The version of `keydoctor expiring --format json` (1: the first with a version and a
/// schema).
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON Schema of `keydoctor expiring --format json`.
pub(crate) fn schema() -> schemars::Schema {
    super::output_schema::<ExpiringOut<'static>>()
}

/// `keydoctor expiring --format json` (the order is the contract's).
#[derive(Serialize, JsonSchema)]
struct ExpiringOut<'a> {
    schema_version: u32,
    within: &'a str,
    keys: Vec<ExpiringKeyOut<'a>>,
    expired: Vec<ExpiringKeyOut<'a>>,
    total: usize,
    invalidated: usize,
    summary: &'a str,
    notes: &'a [String],
    /// With `--include-no-expiry` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    no_expiration: Option<Vec<ExpiringKeyOut<'a>>>,
}

/// One key of the report; its use in the scanned logs only when logs were scanned.
#[derive(Serialize, JsonSchema)]
struct ExpiringKeyOut<'a> {
    id: &'a str,
    name: Option<&'a str>,
    owner: Option<&'a str>,
    #[serde(rename = "type")]
    key_type: Option<&'static str>,
    expiration: Option<String>,
    expires_in: Option<String>,
    expires_in_ms: Option<i64>,
    #[serde(flatten)]
    usage: Option<UsageOut<'a>>,
}

/// When and how a key last authenticated in the scanned logs.
#[derive(Serialize, JsonSchema)]
struct UsageOut<'a> {
    last_used: Option<String>,
    uses: usize,
    clients: &'a [String],
    used_as: &'a [String],
    last_used_at: Option<&'a str>,
}

fn key_out(k: &ExpiringKey, usage_scanned: bool) -> ExpiringKeyOut<'_> {
    let u = k.usage.as_ref();
    ExpiringKeyOut {
        id: &k.id,
        name: k.name.as_deref(),
        owner: k.owner.as_deref(),
        key_type: k.key_type.map(|t| t.as_str()),
        expiration: k.expiration_ms.map(format_ms),
        expires_in: k.expires_in_ms.map(human_duration),
        expires_in_ms: k.expires_in_ms,
        usage: usage_scanned.then(|| UsageOut {
            last_used: u.map(|u| format_ms(u.last_ms)),
            uses: u.map_or(0, |u| u.count),
            clients: u.map_or(&[], |u| &u.clients),
            used_as: u.map_or(&[], |u| &u.users),
            last_used_at: u.map(|u| u.source.as_str()),
        }),
    }
}

/// Render an expiry report; `include_no_expiry` lists the keys that never expire.
pub fn render_expiring(
    r: &ExpiringReport,
    include_no_expiry: bool,
    format: Format,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let key_json = |k| key_out(k, r.usage_scanned);
    let headline = expiring_headline(r, include_no_expiry);
    match format {
        Format::Json => {
            let doc = ExpiringOut {
                schema_version: SCHEMA_VERSION,
                within: &r.within,
                keys: r.keys.iter().map(key_json).collect(),
                expired: r.expired.iter().map(key_json).collect(),
                total: r.total,
                invalidated: r.invalidated,
                summary: &headline,
                notes: &r.notes,
                no_expiration: include_no_expiry
                    .then(|| r.no_expiration.iter().map(key_json).collect()),
            };
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        Format::Markdown => {
            writeln!(
                out,
                "## API keys expiring within {}\n\n{headline}\n",
                r.within
            )?;
            let sections = [
                ("Expiring", &r.keys, true),
                ("Already expired", &r.expired, true),
                (
                    "Never expire (nothing makes them rotate)",
                    &r.no_expiration,
                    include_no_expiry,
                ),
            ];
            for (title, list, show) in sections {
                if !show || list.is_empty() {
                    continue;
                }
                if r.usage_scanned {
                    writeln!(
                        out,
                        "### {title}\n\n| id | name | owner | expiration | in | last used | clients |\n|---|---|---|---|---|---|---|"
                    )?;
                    for k in list.iter() {
                        let [id, name, owner, exp, inn, last, clients] = cells_with_usage(k);
                        writeln!(
                            out,
                            "| `{id}` | {name} | {owner} | {exp} | {inn} | {last} | {clients} |"
                        )?;
                    }
                } else {
                    writeln!(
                        out,
                        "### {title}\n\n| id | name | owner | expiration | in |\n|---|---|---|---|---|"
                    )?;
                    for k in list.iter() {
                        let [id, name, owner, exp, inn] = cells(k);
                        writeln!(out, "| `{id}` | {name} | {owner} | {exp} | {inn} |")?;
                    }
                }
                writeln!(out)?;
            }
            Ok(())
        }
        Format::Human => {
            let head = if opts.color {
                headline.bold().to_string()
            } else {
                headline.clone()
            };
            writeln!(out, "{head}")?;
            for note in &r.notes {
                writeln!(out, "note: {note}")?;
            }
            let sections = [
                ("", &r.keys, true),
                ("Already expired:", &r.expired, true),
                (
                    "Never expire (nothing makes them rotate):",
                    &r.no_expiration,
                    include_no_expiry,
                ),
            ];
            for (title, list, show) in sections {
                if !show || list.is_empty() {
                    continue;
                }
                writeln!(out)?;
                if !title.is_empty() {
                    writeln!(out, "{title}")?;
                }
                if r.usage_scanned {
                    let rows: Vec<[String; 7]> = list.iter().map(cells_with_usage).collect();
                    table(
                        out,
                        &[
                            "id",
                            "name",
                            "owner",
                            "expiration",
                            "in",
                            "last used",
                            "clients",
                        ],
                        &rows,
                    )?;
                } else {
                    let rows: Vec<[String; 5]> = list.iter().map(cells).collect();
                    table(out, &["id", "name", "owner", "expiration", "in"], &rows)?;
                }
            }
            Ok(())
        }
    }
}

fn cells(k: &ExpiringKey) -> [String; 5] {
    [
        k.id.clone(),
        k.name.clone().unwrap_or_else(|| "-".into()),
        k.owner.clone().unwrap_or_else(|| "-".into()),
        k.expiration_ms
            .map(format_ms)
            .unwrap_or_else(|| "never".into()),
        k.expires_in_ms
            .map(human_duration)
            .unwrap_or_else(|| "-".into()),
    ]
}

/// [`cells`] plus when the key last authenticated in the scanned logs and from where.
fn cells_with_usage(k: &ExpiringKey) -> [String; 7] {
    let [id, name, owner, exp, inn] = cells(k);
    let (last, clients) = match &k.usage {
        Some(u) => (
            format!("{} ({}×)", format_ms(u.last_ms), u.count),
            if u.clients.is_empty() {
                "-".into()
            } else {
                u.clients.join(", ")
            },
        ),
        None => ("not seen".into(), "-".into()),
    };
    [id, name, owner, exp, inn, last, clients]
}

fn expiring_headline(r: &ExpiringReport, include_no_expiry: bool) -> String {
    let keys = |n: usize| {
        if n == 1 {
            "1 key".to_string()
        } else {
            format!("{n} keys")
        }
    };
    let mut text = format!(
        "{} {} within {} (of {} read",
        keys(r.keys.len()),
        if r.keys.len() == 1 {
            "expires"
        } else {
            "expire"
        },
        r.within,
        r.total
    );
    if !r.expired.is_empty() {
        text.push_str(&format!("; {} already expired", r.expired.len()));
    }
    if !r.no_expiration.is_empty() {
        text.push_str(&format!(
            "; {} never {}{}",
            keys(r.no_expiration.len()),
            if r.no_expiration.len() == 1 {
                "expires"
            } else {
                "expire"
            },
            if include_no_expiry {
                ""
            } else {
                ", --include-no-expiry lists them"
            }
        ));
    }
    if r.invalidated > 0 {
        text.push_str(&format!("; {} invalidated, not listed", r.invalidated));
    }
    text.push_str(").");
    text
}
