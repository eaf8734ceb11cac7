//! `keydoctor rotate ID`: the rotation plan for one key: create the replacement, deploy,
//! verify, only then invalidate the old key.

use std::io::Write as _;

use super::resolve::{
    load_metadata, now as parse_now, source_of, version as parse_version, Source,
};
use super::RotateArgs;
use super::{CmdResult, Io};
use crate::cluster::api;
use crate::diagnosis::timeline::parse_time_value;
use crate::error::{Error, Outcome};
use crate::lifecycle::rotate::{plan, IndexGrant, Replacement, SNIPPET};
use crate::model::KnownVersion;
use crate::pipeline::cluster::label as cluster_label;
use crate::pipeline::keys::key_id_of;
use crate::report::rotate::render_plan;
use crate::secret::redact;

pub(super) fn run(args: RotateArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
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
    let (rules, _) = crate::rule::load(args.rules.as_deref())?;
    let Some(steps) = rules.snippet(SNIPPET) else {
        return Err(Error::Usage(format!(
            "the rules read have no `{SNIPPET}` snippet (rules/snippets.toml): a plan is made of its steps"
        )));
    };
    let descriptors = args
        .role_descriptors
        .as_deref()
        .map(super::resolve::read_descriptors)
        .transpose()?;
    let mut version = parse_version(args.es_version.as_deref())?;
    let mut known = version.map(KnownVersion::Exact);
    let (keys, sources) = match source_of(&args.source, io)? {
        Source::Files(paths) => load_metadata(&paths, io)?,
        Source::Cluster(client) => {
            let info = api::info(&client)?;
            version = version.or(info.version);
            known = version.map(KnownVersion::Exact);
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
    let replacement = Replacement {
        lifetime: args.expiration.as_deref(),
        descriptors: descriptors.as_ref(),
        grants: &grants,
    };
    let mut plan = plan(key, steps, &replacement, known, now_ms);
    if !args.replay.is_empty() {
        if key.key_type == Some(crate::model::KeyType::CrossCluster) {
            return Err(Error::Usage(
                "--replay judges a REST key's role descriptors; a cross-cluster key's access is checked on the remote cluster".into(),
            ));
        }
        let observed = super::resolve::observe(&args.replay, args.rules.as_deref(), now_ms, &id)?;
        plan.replay = Some(crate::lifecycle::replay::replay(
            &id,
            Some(key),
            &replacement.descriptors_for(key),
            &observed,
            version,
        ));
    }
    let opts = super::render_options(&args.output, &args.source.cluster, color, io);
    render_plan(&plan, args.output.format.document()?, &opts, &mut io.stdout)?;
    // Not proven: a request would break, cannot be judged, or the logs could not show use.
    Ok(match &plan.replay {
        Some(r) if !r.proven() => Outcome::Found,
        _ => Outcome::Clean,
    })
}
