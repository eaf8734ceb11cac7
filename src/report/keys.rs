//! Reports of `keydoctor key`, `keydoctor expiring` and `keydoctor rotate`, in the three formats.
//!
//! JSON contracts (documented in the README; fields are only ever added):
//! - key: `{"id", "name", "state", "type", "creation", "expiration", "invalidation", "owner",
//!   "realm", "realm_type", "profile_uid", "age", "time_left", "inherits_owner", "metadata",
//!   "role_descriptors", "limited_by", "access", "privileges": [..], "derived_from", "sources"}`,
//!   `state` one of `active`, `expired`, `invalidated`, `missing`;
//! - expiring: `{"within", "keys": [..], "expired": [..], "no_expiration"?: [..], "total",
//!   "invalidated"}`, each key `{"id", "name", "owner", "type", "expiration", "expires_in",
//!   "expires_in_ms"}`.

use std::io::{self, Write};

use owo_colors::OwoColorize;
use serde_json::{json, Value};

use super::{Format, RenderOptions};
use crate::diagnosis::keys::{human_duration, ExpiringKey, ExpiringReport, KeyReport, State};
use crate::diagnosis::rotate::Plan;
use crate::model::format_ms;
use crate::secret::redact;

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

fn key_json(r: &KeyReport) -> Value {
    let k = r.key.as_ref();
    let ms = |v: Option<i64>| v.map(format_ms);
    json!({
        "id": r.id,
        "name": k.and_then(|k| k.name.clone()),
        "state": r.state.as_str(),
        "type": k.and_then(|k| k.key_type).map(|t| t.as_str()),
        "creation": ms(k.and_then(|k| k.creation_ms)),
        "expiration": ms(k.and_then(|k| k.expiration_ms)),
        "invalidation": ms(k.and_then(|k| k.invalidation_ms)),
        "owner": k.and_then(|k| k.username.clone()),
        "realm": k.and_then(|k| k.realm.clone()),
        "realm_type": k.and_then(|k| k.realm_type.clone()),
        "profile_uid": k.and_then(|k| k.profile_uid.clone()),
        "age": r.age_ms.map(human_duration),
        "time_left": r.time_left_ms.filter(|t| *t > 0).map(human_duration),
        "inherits_owner": r.inherits_owner,
        "metadata": k.and_then(|k| k.metadata.clone()),
        "role_descriptors": k.and_then(|k| k.role_descriptors.clone()),
        "limited_by": k.and_then(|k| k.limited_by.clone()),
        "access": k.and_then(|k| k.access.clone()),
        "privileges": r.privileges.iter().map(|p| json!({
            "source": p.source.as_str(), "role": p.role, "kind": p.kind.as_str(), "on": p.on,
            "privileges": p.privileges, "restrictions": p.restrictions,
        })).collect::<Vec<_>>(),
        "derived_from": k.and_then(|k| k.derived_from.clone()),
        "sources": r.sources,
        "notes": r.notes,
    })
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

/// Left-aligned columns, two spaces apart, indented.
fn table<const N: usize>(
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

/// Render an expiry report; `include_no_expiry` lists the keys that never expire.
pub fn render_expiring(
    r: &ExpiringReport,
    include_no_expiry: bool,
    format: Format,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let key_json = |k: &ExpiringKey| {
        let mut v = json!({
            "id": k.id, "name": k.name, "owner": k.owner, "type": k.key_type.map(|t| t.as_str()),
            "expiration": k.expiration_ms.map(format_ms),
            "expires_in": k.expires_in_ms.map(human_duration),
            "expires_in_ms": k.expires_in_ms,
        });
        if r.usage_scanned {
            v["last_used"] = json!(k.usage.as_ref().map(|u| format_ms(u.last_ms)));
            v["uses"] = json!(k.usage.as_ref().map_or(0, |u| u.count));
            v["clients"] = json!(k
                .usage
                .as_ref()
                .map(|u| u.clients.clone())
                .unwrap_or_default());
            v["used_as"] = json!(k
                .usage
                .as_ref()
                .map(|u| u.users.clone())
                .unwrap_or_default());
            v["last_used_at"] = json!(k.usage.as_ref().map(|u| u.source.clone()));
        }
        v
    };
    let headline = expiring_headline(r, include_no_expiry);
    match format {
        Format::Json => {
            let mut doc = json!({
                "within": r.within,
                "keys": r.keys.iter().map(key_json).collect::<Vec<_>>(),
                "expired": r.expired.iter().map(key_json).collect::<Vec<_>>(),
                "total": r.total,
                "invalidated": r.invalidated,
                "summary": headline,
                "notes": r.notes,
            });
            if include_no_expiry {
                doc["no_expiration"] = r.no_expiration.iter().map(key_json).collect();
            }
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

/// The unified diff of a plan's descriptor change.
fn plan_diff(plan: &Plan) -> Option<String> {
    let (before, after) = plan.descriptors_change.as_ref()?;
    let diff = similar::TextDiff::from_lines(before.as_str(), after.as_str());
    Some(
        diff.unified_diff()
            .context_radius(3)
            .header("role_descriptors (old key)", "role_descriptors (new key)")
            .to_string(),
    )
}

/// Render a rotation plan.
pub fn render_plan(
    plan: &Plan,
    format: Format,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let diff = plan_diff(plan);
    let name = plan
        .name
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    match format {
        Format::Json => {
            let doc = json!({
                "id": plan.id,
                "name": plan.name,
                "state": plan.state.as_str(),
                "warnings": plan.warnings,
                "steps": plan.steps.iter().enumerate().map(|(i, s)| {
                    let mut v = json!({"step": i + 1, "title": s.title, "text": s.text, "request": s.request});
                    if s.request.is_some() {
                        v["run_as"] = json!(s.run_as.as_str());
                    }
                    if opts.curl {
                        if let Some(c) = s.request.as_deref().and_then(|r| super::curl_form(r, s.run_as, &opts.target)) {
                            v["curl"] = json!(c);
                        }
                    }
                    v
                }).collect::<Vec<_>>(),
                "descriptors_diff": diff,
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        Format::Markdown => {
            writeln!(
                out,
                "## Rotation plan for API key `{}`{name}: {}\n",
                plan.id,
                plan.state.as_str()
            )?;
            for w in &plan.warnings {
                writeln!(out, "> **note:** {w}\n")?;
            }
            for (i, s) in plan.steps.iter().enumerate() {
                writeln!(out, "{}. **{}**\n\n   {}\n", i + 1, s.title, s.text)?;
                if let Some(r) = &s.request {
                    writeln!(
                        out,
                        "   ```\n{}\n   ```\n",
                        super::markdown::indent(r, "   ")
                    )?;
                }
            }
            if let Some(d) = diff {
                writeln!(out, "### Change to the role descriptors\n\n```diff\n{d}```")?;
            }
            Ok(())
        }
        Format::Human => {
            let head = format!(
                "Rotation plan for key {}{name}, now {}",
                plan.id,
                plan.state.as_str()
            );
            let head = if opts.color {
                head.bold().to_string()
            } else {
                head
            };
            writeln!(out, "{head}")?;
            for w in &plan.warnings {
                let text = super::fill(
                    &format!("note: {w}"),
                    super::wrap_options(opts.width.max(40)).subsequent_indent("      "),
                );
                writeln!(out, "{text}")?;
            }
            for (i, s) in plan.steps.iter().enumerate() {
                writeln!(out)?;
                let number = format!("  {}. ", i + 1);
                let pad = " ".repeat(number.len());
                let title = format!("{number}{}", s.title);
                let title = if opts.color {
                    title.bold().to_string()
                } else {
                    title
                };
                writeln!(out, "{title}")?;
                let text = super::fill(
                    &s.text,
                    super::wrap_options(opts.width.max(40))
                        .initial_indent(&pad)
                        .subsequent_indent(&pad),
                );
                writeln!(out, "{text}")?;
                if let Some(r) = &s.request {
                    for line in r.lines() {
                        let line = if opts.color {
                            line.green().to_string()
                        } else {
                            line.to_string()
                        };
                        writeln!(out, "{pad}  {line}")?;
                    }
                    if opts.curl {
                        if let Some(c) = super::curl_form(r, s.run_as, &opts.target) {
                            writeln!(out, "{pad}  # or with curl:")?;
                            for line in c.lines() {
                                writeln!(out, "{pad}  {line}")?;
                            }
                        }
                    }
                }
            }
            if let Some(d) = diff {
                writeln!(out, "\n  Change to the role descriptors:")?;
                for line in d.lines() {
                    let painted = match (opts.color, line.chars().next()) {
                        (true, Some('+')) if !line.starts_with("+++") => line.green().to_string(),
                        (true, Some('-')) if !line.starts_with("---") => line.red().to_string(),
                        _ => line.to_string(),
                    };
                    writeln!(out, "    {painted}")?;
                }
            }
            Ok(())
        }
    }
}

/// `keydoctor impact`: the verdict, who uses the key, who fails with it, and the steps.
pub fn render_impact(
    r: &crate::diagnosis::impact::Impact,
    format: Format,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let usage = r.usage.as_ref().map(|u| {
        json!({"last_used": format_ms(u.last_ms), "uses": u.count, "clients": u.clients,
               "used_as": u.users, "last_used_at": u.source})
    });
    let failures: Vec<Value> = r
        .failures
        .iter()
        .map(|f| json!({"class": f.class.as_str(), "count": f.count, "last_seen": f.last_seen, "clients": f.clients}))
        .collect();
    let related: Vec<Value> = r
        .related
        .iter()
        .map(|k| json!({"id": k.id, "name": k.name, "state": crate::model::KeyState::or_unknown(k.state), "type": k.kind}))
        .collect();
    // The other keys of the same agent (say), or the request that lists them.
    let related_text = || -> Option<(String, Vec<[String; 4]>)> {
        let (field, value) = r.dependent.as_ref()?.related.clone()?;
        if let Some(q) = &r.related_query {
            return Some((
                format!("The other keys of {field} `{value}` (ask the cluster):\n{q}"),
                Vec::new(),
            ));
        }
        let title = if r.related.is_empty() {
            format!("No other key has {field} `{value}`.")
        } else {
            format!("The other keys of {field} `{value}`:")
        };
        let rows = r
            .related
            .iter()
            .map(|k| {
                [
                    k.id.clone(),
                    k.name.clone().unwrap_or_else(|| "-".into()),
                    k.kind.clone().unwrap_or_else(|| "-".into()),
                    crate::model::KeyState::or_unknown(k.state).to_string(),
                ]
            })
            .collect();
        Some((title, rows))
    };
    match format {
        Format::Json => {
            let doc = json!({
                "id": r.id, "name": r.name, "owner": r.owner, "state": crate::model::KeyState::or_unknown(r.state),
                "managed_by": r.managed_by, "breaks": r.breaks, "verdict": redact(&r.conclusion),
                "partial": r.partial,
                "skipped": r.skipped.iter().map(|(s, why)| json!({"source": s, "reason": redact(why)})).collect::<Vec<_>>(),
                "used_by": r.dependent.as_ref().map(|d| json!({
                    "product_id": d.id, "product": d.product, "depends": d.depends,
                    "breaks": d.breaks, "retires": d.retires, "sources": d.sources,
                    "related": d.related.as_ref().map(|(f, v)| json!({"field": f, "value": v})),
                })),
                "related_keys": related,
                "related_query": r.related_query,
                "usage": usage, "failures": failures,
                "audit_span": r.audit_span.map(|(a, b)| json!([format_ms(a), format_ms(b)])),
                "steps": r.steps,
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        Format::Markdown => {
            writeln!(out, "## Impact of invalidating `{}`\n", r.id)?;
            writeln!(out, "{}\n", redact(&r.conclusion))?;
            for (source, why) in &r.skipped {
                writeln!(out, "> **warning:** {source}: {}\n", redact(why))?;
            }
            if let Some((title, rows)) = related_text() {
                let (head, request) = title.split_once('\n').unwrap_or((&title, ""));
                writeln!(out, "{}\n", redact(head))?;
                if !request.is_empty() {
                    writeln!(out, "```\n{request}\n```\n")?;
                }
                if !rows.is_empty() {
                    writeln!(out, "| key | name | type | state |\n|---|---|---|---|")?;
                    for [id, name, kind, state] in &rows {
                        writeln!(out, "| `{id}` | {} | {kind} | {state} |", redact(name))?;
                    }
                    writeln!(out)?;
                }
            }
            if !r.failures.is_empty() {
                writeln!(
                    out,
                    "| failing as | count | last seen | clients |\n|---|---|---|---|"
                )?;
                for f in &r.failures {
                    writeln!(
                        out,
                        "| {} | {} | {} | {} |",
                        f.class.as_str(),
                        f.count,
                        f.last_seen.as_deref().unwrap_or("-"),
                        f.clients.join(", ")
                    )?;
                }
                writeln!(out)?;
            }
            for (n, step) in r.steps.iter().enumerate() {
                let (title, request) = step.split_once('\n').unwrap_or((step, ""));
                writeln!(out, "{}. {}", n + 1, redact(title))?;
                if !request.is_empty() {
                    writeln!(
                        out,
                        "\n   ```\n{}\n   ```",
                        super::markdown::indent(request, "   ")
                    )?;
                }
            }
            Ok(())
        }
        Format::Human => {
            let head = format!(
                "{}{}: {}",
                r.id,
                r.name
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
                crate::model::KeyState::or_unknown(r.state)
            );
            writeln!(
                out,
                "{}",
                if opts.color {
                    head.bold().to_string()
                } else {
                    head
                }
            )?;
            let wrapped = super::fill(
                &redact(&r.conclusion),
                super::wrap_options(opts.width.max(40)),
            );
            writeln!(out, "{wrapped}")?;
            for (source, why) in &r.skipped {
                let head = if opts.color {
                    "warning:".yellow().bold().to_string()
                } else {
                    "warning:".to_string()
                };
                writeln!(out, "{head} {source}: {}", redact(why))?;
            }
            if let Some((title, rows)) = related_text() {
                let (head, request) = title.split_once('\n').unwrap_or((&title, ""));
                writeln!(out)?;
                writeln!(
                    out,
                    "{}",
                    super::fill(&redact(head), super::wrap_options(opts.width.max(40)))
                )?;
                for line in request.lines() {
                    writeln!(out, "  {line}")?;
                }
                if !rows.is_empty() {
                    table(out, &["key", "name", "type", "state"], &rows)?;
                }
            }
            if !r.failures.is_empty() {
                writeln!(out)?;
                let rows: Vec<[String; 4]> = r
                    .failures
                    .iter()
                    .map(|f| {
                        [
                            f.class.as_str().to_string(),
                            f.count.to_string(),
                            f.last_seen.clone().unwrap_or_else(|| "-".into()),
                            if f.clients.is_empty() {
                                "-".into()
                            } else {
                                f.clients.join(", ")
                            },
                        ]
                    })
                    .collect();
                table(out, &["failing as", "count", "last seen", "clients"], &rows)?;
            }
            writeln!(out)?;
            for (n, step) in r.steps.iter().enumerate() {
                let (title, request) = step.split_once('\n').unwrap_or((step, ""));
                let pad = "   ";
                writeln!(
                    out,
                    "{}",
                    super::fill(
                        &redact(title),
                        super::wrap_options(opts.width.max(40))
                            .initial_indent(&format!("{}. ", n + 1))
                            .subsequent_indent(pad)
                    )
                )?;
                for line in request.lines() {
                    writeln!(out, "{pad}  {line}")?;
                }
            }
            Ok(())
        }
    }
}
