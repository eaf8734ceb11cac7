//! `keydoctor impact ID`: what breaks if this key goes away, who uses it, and the safe order
//! of the change.

use std::io::Write as _;

use super::resolve::{
    cluster_client, load_metadata, now as parse_now, read_descriptors, version as parse_version,
};
use super::{CmdResult, Io};
use crate::cluster::api;
use crate::error::{Error, Outcome};
use crate::pipeline::keys::key_id_of;
use crate::pipeline::scan::scan_paths_keeping;

pub(super) fn run(args: super::ImpactArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let now_ms = parse_now(args.source.now.as_deref())?;
    let id = key_id_of(&args.key)?;
    use crate::lifecycle::impact::{related_query, RelatedKey};
    let products =
        crate::diagnosis::products::products(args.rules.as_deref()).map_err(Error::Usage)?;
    let problems = crate::diagnosis::products::check_products(&products);
    if !problems.is_empty() {
        return Err(Error::Usage(format!(
            "products.toml: {}",
            problems.join("; ")
        )));
    }
    let replacement = args
        .role_descriptors
        .as_deref()
        .map(read_descriptors)
        .transpose()?;
    let mut version = parse_version(args.es_version.as_deref())?;
    // Metadata is optional here: the logs answer the question; metadata adds state and owner.
    let mut live = None;
    let keys = if !args.source.metadata.is_empty() {
        load_metadata(&args.source.metadata, io)?.0
    } else if let Some(client) = cluster_client(&args.source.cluster, io)? {
        let info = api::info(&client)?;
        version = version.or(info.version);
        let keys = api::key_by_id(&client, &id, info.version)?.keys;
        live = Some((client, info.version));
        keys
    } else {
        Vec::new()
    };
    let keep = if replacement.is_some() {
        vec![id.clone()]
    } else {
        Vec::new()
    };
    let scanned = scan_paths_keeping(&args.logs, args.rules.as_deref(), now_ms, &keep)?;
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
    let mut report = crate::lifecycle::impact::assess(
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
    if let Some(descriptors) = &replacement {
        let observed = super::resolve::observed_in(&scanned, &id);
        report.replay = Some(crate::lifecycle::replay::replay(
            &id,
            key,
            descriptors,
            &observed,
            version,
        ));
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
    let opts = super::render_options(&args.output, &args.source.cluster, color, io);
    crate::report::impact::render_impact(
        &report,
        args.output.format.document()?,
        &opts,
        &mut io.stdout,
    )?;
    // Not safe to invalidate: it breaks a client, or the logs were read only in part.
    let replay_unproven = report.replay.as_ref().is_some_and(|r| !r.proven());
    Ok(if report.breaks || report.partial || replay_unproven {
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
