//! `keydoctor can ID REQUEST`: may this key make this request, from its metadata (saved, or
//! the cluster's) and the privilege atlas.

use super::resolve::{
    cluster_client, load_metadata, source_of, studied_key, version as parse_version, Source,
};
use super::CanArgs;
use super::{CmdResult, Io};
use crate::cluster::api;
use crate::cluster::auth::Auth;
use crate::error::{Error, Outcome};
use crate::lifecycle::can::{evaluate, Confirmation, Request, Verdict};
use crate::pipeline::keys::key_id_of;
use crate::report::can::render_can;

pub(super) fn run(args: CanArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let id = key_id_of(&args.key)?;
    let request = Request::parse(&args.request, None).map_err(|e| Error::Usage(e.0))?;
    let mut version = parse_version(args.es_version.as_deref())?;
    let studied = studied_key(args.with_key_env.as_deref(), io)?;
    if let Some(k) = studied.as_ref().filter(|k| k.id != id) {
        return Err(Error::Usage(format!(
            "--with-key-env {}: that variable holds key {}, not {id}: _has_privileges answers for the key that sends it",
            k.var, k.id
        )));
    }
    let keys = match source_of(&args.source, io)? {
        Source::Files(paths) => load_metadata(&paths, io)?.0,
        Source::Cluster(client) => {
            let info = api::info(&client)?;
            version = version.or(info.version);
            api::key_by_id(&client, &id, info.version)?.keys
        }
    };
    let Some(key) = keys.iter().rev().find(|k| k.id == id) else {
        return Err(Error::Usage(format!(
            "no key with id {id} in the metadata read: `can` evaluates a key's own descriptors, so it needs that key's metadata (GET /_security/api_key?id={id}&with_limited_by=true)"
        )));
    };
    let client = match &studied {
        Some(_) => Some(cluster_client(&args.source.cluster, io)?.ok_or_else(|| {
            Error::Usage(
                "--with-key-env asks the cluster: give --es-url URL (or ELASTICSEARCH_URL)".into(),
            )
        })?),
        None => None,
    };
    let mut report = evaluate(key, request, version);
    if let (Some(k), Some(client)) = (&studied, &client) {
        let as_key = client.with_auth(Auth::StudiedKey {
            var: k.var.clone(),
            key: k.secret.clone(),
        })?;
        let cluster_action = report.request.kind() == crate::model::PrivilegeKind::Cluster;
        let mut asked = Vec::new();
        if cluster_action {
            asked.push(None);
        }
        for t in &report.request.targets {
            // `_has_privileges` answers for local names, and for a pattern as a pattern: a
            // remote or wildcard target is judged offline only.
            if t.cluster.is_none() && !t.written.contains('*') {
                asked.push(Some(t.written.clone()));
            }
        }
        for target in asked {
            let (granted, _) = api::key_has_privilege(
                &as_key,
                cluster_action,
                &report.request.action,
                target.as_deref(),
            )?;
            report.confirmations.push(Confirmation {
                target,
                granted,
                var: k.var.clone(),
            });
        }
    }
    let opts = super::render_options(&args.output, &args.source.cluster, color, io);
    render_can(
        &report,
        args.output.format.document()?,
        args.explain,
        &opts,
        &mut io.stdout,
    )?;
    // The cluster's own answer, when asked, decides.
    Ok(match (report.cluster_grants(), report.verdict) {
        (Some(true), _) | (None, Verdict::Allowed) => Outcome::Clean,
        (None, Verdict::Undecidable) => Outcome::Undecided,
        _ => Outcome::Found,
    })
}
