//! `keydoctor can ID REQUEST`: may this key make this request, from its metadata (saved, or
//! the cluster's) and the privilege atlas.

use super::resolve::{load_metadata, source_of, version as parse_version, Source};
use super::CanArgs;
use super::{CmdResult, Io};
use crate::cluster::api;
use crate::error::{Error, Outcome};
use crate::lifecycle::can::{evaluate, Request, Verdict};
use crate::pipeline::keys::key_id_of;
use crate::report::can::render_can;

pub(super) fn run(args: CanArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let id = key_id_of(&args.key)?;
    let request = Request::parse(&args.request, None).map_err(|e| Error::Usage(e.0))?;
    let mut version = parse_version(args.es_version.as_deref())?;
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
    let report = evaluate(key, request, version);
    let opts = super::render_options(&args.output, &args.source.cluster, color, io);
    render_can(
        &report,
        args.output.format.document()?,
        args.explain,
        &opts,
        &mut io.stdout,
    )?;
    Ok(match report.verdict {
        Verdict::Allowed => Outcome::Clean,
        Verdict::Undecidable => Outcome::Undecided,
        _ => Outcome::Found,
    })
}
