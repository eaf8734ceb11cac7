//! `keydoctor suggest ID --logs AUDIT`: least privilege from the key's observed use.

use std::io::Write as _;

use super::resolve::{cluster_client, load_metadata, now as parse_now, version as parse_version};
use super::SuggestArgs;
use super::{CmdResult, Io};
use crate::cluster::api;
use crate::error::{Error, Outcome};
use crate::lifecycle::suggest::suggest;
use crate::pipeline::keys::key_id_of;
use crate::report::suggest::render_suggestion;
use crate::secret::redact;

pub(super) fn run(args: SuggestArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let now_ms = parse_now(args.source.now.as_deref())?;
    let id = key_id_of(&args.key)?;
    let mut version = parse_version(args.es_version.as_deref())?;
    // Metadata is optional: the logs answer the question; the key's descriptors add what it
    // holds and never used.
    let keys = if !args.source.metadata.is_empty() {
        load_metadata(&args.source.metadata, io)?.0
    } else if let Some(client) = cluster_client(&args.source.cluster, io)? {
        let info = api::info(&client)?;
        version = version.or(info.version);
        let lookup = api::key_by_id(&client, &id, info.version)?;
        for note in &lookup.notes {
            writeln!(io.stderr, "note: {}", redact(note))?;
        }
        lookup.keys
    } else {
        Vec::new()
    };
    let key = keys.iter().rev().find(|k| k.id == id);
    if key.is_some_and(|k| k.key_type == Some(crate::model::KeyType::CrossCluster)) {
        return Err(Error::Usage(
            "a cross-cluster key's access is checked on the remote cluster, whose audit log shows its use there: suggest works on REST keys".into(),
        ));
    }
    let observed = super::resolve::observe(&args.logs, args.rules.as_deref(), now_ms, &id)?;
    let suggestion = suggest(&id, key, &observed, version);
    let opts = super::render_options(&args.output, &args.source.cluster, color, io);
    render_suggestion(
        &suggestion,
        &args.logs,
        &args.source.metadata,
        args.output.format.document()?,
        &opts,
        &mut io.stdout,
    )?;
    Ok(if suggestion.partial.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Undecided
    })
}
