//! `keydoctor key` and `keydoctor expiring`: what key metadata says, for people and scripts.
//! The metadata comes from saved responses (`--metadata`) or the cluster (`--es-url`).

use std::io::Write as _;

use super::resolve::{cluster_client, now as parse_now, print_warnings};
use super::{width, CmdResult, ExpiringArgs, Io, KeyArgs, MetadataArgs, RotateArgs};
use crate::cluster::{api, Client};
use crate::diagnosis::keys::{describe, expiring as sort_expiring, State};
use crate::diagnosis::rotate::{plan, IndexGrant};
use crate::diagnosis::timeline::parse_time_value;
use crate::error::{Error, Outcome};
use crate::pipeline::cluster::label as cluster_label;
use crate::pipeline::keys::key_id_of;
use crate::pipeline::scan::scan_paths;
use crate::report::keys::{render_expiring, render_key, render_plan};
use crate::report::RenderOptions;
use crate::secret::redact;

/// Saved metadata, its warnings printed.
fn load_metadata(
    paths: &[std::path::PathBuf],
    io: &mut Io<'_>,
) -> Result<(Vec<crate::pipeline::keys::KeyMetadata>, Vec<String>), Error> {
    let mut warnings = Vec::new();
    let loaded = crate::pipeline::keys::load_metadata(paths, &mut io.stdin, &mut warnings);
    print_warnings(&warnings, io)?;
    loaded
}

/// Where the metadata comes from, checked once.
enum Source {
    Files(Vec<std::path::PathBuf>),
    Cluster(Client),
}

fn source_of(args: &MetadataArgs, io: &mut Io<'_>) -> Result<Source, Error> {
    if !args.metadata.is_empty() {
        return Ok(Source::Files(args.metadata.clone()));
    }
    match cluster_client(&args.cluster, io)? {
        Some(client) => Ok(Source::Cluster(client)),
        None => Err(Error::Usage(
            "key metadata is needed: --metadata FILE (a saved GET /_security/api_key response) or --es-url URL (or ELASTICSEARCH_URL), with credentials in ES_API_KEY or ES_USERNAME and ES_PASSWORD".into(),
        )),
    }
}

pub(super) fn key(args: KeyArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let now_ms = parse_now(args.source.now.as_deref())?;
    let id = key_id_of(&args.key)?;
    let (keys, sources, notes) = match source_of(&args.source, io)? {
        Source::Files(paths) => {
            let (keys, sources) = load_metadata(&paths, io)?;
            (keys, sources, Vec::new())
        }
        Source::Cluster(client) => {
            let info = api::info(&client)?;
            let lookup = api::key_by_id(&client, &id, info.version)?;
            (
                lookup.keys,
                vec![cluster_label(&client, &info)],
                lookup.notes,
            )
        }
    };
    let mut report = describe(&id, &keys, sources, now_ms);
    report.notes = notes;
    let opts = RenderOptions {
        color,
        width: width(io, args.output.width),
        curl: args.output.curl,
        full: args.output.full,
        target: super::curl_target(&args.source.cluster),
    };
    render_key(&report, args.output.format.into(), &opts, &mut io.stdout)?;
    Ok(if report.state == State::Active {
        Outcome::Clean
    } else {
        Outcome::Found
    })
}

pub(super) fn expiring(args: ExpiringArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let now_ms = parse_now(args.source.now.as_deref())?;
    let within_ms = parse_time_value(&args.within).ok_or_else(|| {
        Error::Usage(format!(
            "--within `{}` is not a time value (expected e.g. 14d, 36h, 90m)",
            args.within
        ))
    })?;
    let (keys, notes) = match source_of(&args.source, io)? {
        Source::Files(paths) => (load_metadata(&paths, io)?.0, Vec::new()),
        Source::Cluster(client) => {
            let info = api::info(&client)?;
            let lookup = api::active_keys(&client, info.version)?;
            (lookup.keys, lookup.notes)
        }
    };
    let mut report = sort_expiring(&keys, &args.within, within_ms, now_ms);
    report.notes = notes;
    if !args.logs.is_empty() {
        let scanned = scan_paths(&args.logs, None, now_ms)?;
        for s in &scanned.diagnosis.skipped {
            let line = format!("warning: {}: {}", s.source, s.reason);
            writeln!(io.stderr, "{}", redact(&line))?;
        }
        if scanned
            .files
            .iter()
            .all(|f| f.format != crate::source::sniff::LogFormat::Audit)
        {
            report.notes.push(
                "no audit log among the scanned files: only audit logs (access_granted, authentication_success) show a key's successful use".into(),
            );
        }
        report.join_usage(&scanned.successes);
    }
    let opts = RenderOptions {
        color,
        width: width(io, args.output.width),
        curl: args.output.curl,
        full: args.output.full,
        target: super::curl_target(&args.source.cluster),
    };
    render_expiring(
        &report,
        args.include_no_expiry,
        args.output.format.into(),
        &opts,
        &mut io.stdout,
    )?;
    // An already expired key fails now: worse than one about to, so it counts as much.
    let any = !report.keys.is_empty()
        || !report.expired.is_empty()
        || (args.include_no_expiry && !report.no_expiration.is_empty());
    Ok(if any { Outcome::Found } else { Outcome::Clean })
}

pub(super) fn impact(args: super::ImpactArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let now_ms = parse_now(args.source.now.as_deref())?;
    let id = key_id_of(&args.key)?;
    use crate::diagnosis::impact::{related_query, RelatedKey};
    let products =
        crate::diagnosis::products::products(args.rules.as_deref()).map_err(Error::Usage)?;
    let problems = crate::diagnosis::products::check_products(&products);
    if !problems.is_empty() {
        return Err(Error::Usage(format!(
            "products.toml: {}",
            problems.join("; ")
        )));
    }
    // Metadata is optional here: the logs answer the question; metadata adds state and owner.
    let mut live = None;
    let keys = if !args.source.metadata.is_empty() {
        load_metadata(&args.source.metadata, io)?.0
    } else if let Some(client) = cluster_client(&args.source.cluster, io)? {
        let info = api::info(&client)?;
        let keys = api::key_by_id(&client, &id, info.version)?.keys;
        live = Some((client, info.version));
        keys
    } else {
        Vec::new()
    };
    let scanned = scan_paths(&args.logs, args.rules.as_deref(), now_ms)?;
    let key = keys.iter().find(|k| k.id == id);
    let used = scanned.successes.get(&id);
    // The name: the metadata's, else the audit log's `apikey.name`, else a failure's.
    let name = key
        .and_then(|k| k.name.clone())
        .or_else(|| used.and_then(|u| u.name.clone()))
        .or_else(|| {
            scanned
                .diagnosis
                .findings
                .iter()
                .filter(|f| f.key_id.as_deref() == Some(id.as_str()))
                .find_map(|f| f.key.key_name.clone())
        });
    let owner = key
        .and_then(|k| k.username.clone())
        .or_else(|| used.and_then(|u| u.users.iter().next().cloned()));
    let dependent = crate::diagnosis::products::recognise(
        &products,
        &id,
        name.as_deref(),
        key.and_then(|k| k.metadata.as_ref()),
        owner.as_deref(),
    );
    let mut report = crate::diagnosis::impact::assess(
        &id,
        key,
        used,
        &scanned.diagnosis,
        scanned.audit_span,
        now_ms,
        dependent,
    );
    if report.name.is_none() {
        report.name = name;
    }
    if let Some((field, value)) = report.dependent.as_ref().and_then(|d| d.related.clone()) {
        let body = related_query(&field, &value);
        match &live {
            Some((client, version)) => {
                match api::keys_with_metadata(client, &body, (&field, &value), *version) {
                    Ok(found) => {
                        report.related = found
                            .iter()
                            .filter(|k| k.id != id)
                            .map(|k| RelatedKey::of(k, now_ms))
                            .collect();
                    }
                    Err(e) => {
                        writeln!(
                            io.stderr,
                            "warning: the other keys of {field} `{value}` could not be listed: {e}"
                        )?;
                        report.related_query = Some(query_text(&body));
                    }
                }
            }
            None => report.related_query = Some(query_text(&body)),
        }
    }
    let opts = RenderOptions {
        color,
        width: width(io, args.output.width),
        curl: args.output.curl,
        full: args.output.full,
        target: super::curl_target(&args.source.cluster),
    };
    crate::report::keys::render_impact(&report, args.output.format.into(), &opts, &mut io.stdout)?;
    // Not safe to invalidate: it breaks a client, or the logs were read only in part.
    Ok(if report.breaks || report.partial {
        Outcome::Found
    } else {
        Outcome::Clean
    })
}

/// A request as Kibana's console shows it: method and path, then the pretty body.
fn query_text(body: &serde_json::Value) -> String {
    format!(
        "POST /_security/_query/api_key\n{}",
        serde_json::to_string_pretty(body).unwrap_or_default()
    )
}

pub(super) fn rotate(args: RotateArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let now_ms = parse_now(args.source.now.as_deref())?;
    let id = key_id_of(&args.key)?;
    if let Some(e) = &args.expiration {
        if parse_time_value(e).is_none() {
            return Err(Error::Usage(format!(
                "--expiration `{e}` is not a time value (expected e.g. 90d, 720h)"
            )));
        }
    }
    let grants = args
        .add_index_privilege
        .iter()
        .map(|g| {
            IndexGrant::parse(g).ok_or_else(|| {
                Error::Usage(format!(
                    "--add-index-privilege `{g}`: expected PATTERN:PRIV[,PRIV], e.g. logs-*:read"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (keys, sources) = match source_of(&args.source, io)? {
        Source::Files(paths) => load_metadata(&paths, io)?,
        Source::Cluster(client) => {
            let info = api::info(&client)?;
            let lookup = api::key_by_id(&client, &id, info.version)?;
            for note in &lookup.notes {
                writeln!(io.stderr, "note: {}", redact(note))?;
            }
            (lookup.keys, vec![cluster_label(&client, &info)])
        }
    };
    let Some(key) = keys.iter().rev().find(|k| k.id == id) else {
        return Err(Error::Usage(format!(
            "key {id} is not in the metadata read ({}): a plan needs its descriptors",
            sources.join(", ")
        )));
    };
    let plan = plan(key, args.expiration.as_deref(), &grants, now_ms);
    let opts = RenderOptions {
        color,
        width: width(io, args.output.width),
        curl: args.output.curl,
        full: args.output.full,
        target: super::curl_target(&args.source.cluster),
    };
    render_plan(&plan, args.output.format.into(), &opts, &mut io.stdout)?;
    Ok(Outcome::Clean)
}
