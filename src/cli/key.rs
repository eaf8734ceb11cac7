//! `keydoctor key ID`: what key metadata (saved, or the cluster's) says about one key: its
//! state, dates, owner and privileges.

use super::resolve::{load_metadata, now as parse_now, source_of, Source};
use super::KeyArgs;
use super::{CmdResult, Io};
use crate::cluster::api;
use crate::error::Outcome;
use crate::lifecycle::key::{describe, State};
use crate::pipeline::cluster::label as cluster_label;
use crate::pipeline::keys::key_id_of;
use crate::report::key::render_key;

pub(super) fn run(args: KeyArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
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
    let opts = super::render_options(&args.output, &args.source.cluster, color, io);
    render_key(
        &report,
        args.output.format.document()?,
        &opts,
        &mut io.stdout,
    )?;
    Ok(if report.state == State::Active {
        Outcome::Clean
    } else {
        Outcome::Found
    })
}
