//! `explain`: read the pastes and files given, diagnose them, then the passes in their one
//! order: the live cluster, [`super::finish`].

use std::io::Read;
use std::path::{Path, PathBuf};

use super::cluster::{self, StudiedKey};
use super::{Filter, Finish, Ran};
use crate::cluster::{api, Client};
use crate::diagnosis::differential::Retention;
use crate::diagnosis::{diagnose, Options};
use crate::error::Error;
use crate::event::parse_paste;
use crate::rule::RuleSet;
use crate::source;

/// An explain, resolved: nothing in it is a flag still to read.
pub struct Request<'a> {
    /// The files to read; `-` is stdin (read once).
    pub files: &'a [PathBuf],
    /// Saved key metadata: its keys are what it adds.
    pub metadata: &'a [PathBuf],
    pub rules: &'a RuleSet,
    pub options: &'a Options,
    /// The cluster given, already checked, and the key to test with.
    pub cluster: Option<(Client, api::ClusterInfo)>,
    pub studied: Option<&'a StudiedKey>,
    pub audit_index: &'a [String],
    pub retention: &'a Retention,
    pub filter: &'a Filter,
}

/// Read, diagnose, and run the passes.
pub fn run(req: Request<'_>, stdin: &mut dyn Read) -> Result<Ran, Error> {
    let mut warnings = Vec::new();
    let mut inputs = Vec::new();
    let mut skipped = Vec::new();
    let mut stdin_read = false;
    for path in req.files {
        if path == Path::new("-") {
            if stdin_read {
                continue;
            }
            stdin_read = true;
        }
        let loaded = source::load_path(path, stdin);
        inputs.extend(loaded.input);
        skipped.extend(loaded.skipped);
    }
    // The cluster's answers count only if it is the cluster the inputs come from (read only
    // when there is a cluster to hold them against: it is a pass over every line).
    let seen: Vec<_> = inputs
        .iter()
        .filter(|_| req.cluster.is_some())
        .flat_map(|i| {
            source::identity::in_text(&i.text, &i.name)
                .into_iter()
                .chain(source::identity::in_name(Path::new(&i.name)))
        })
        .collect();
    let (client, cluster_mismatch) = cluster::same_cluster(req.cluster, &seen);
    // Audit events from an index join as one more audit log.
    let mut unavailable: Vec<(&str, Error)> = Vec::new();
    let fetched = cluster::audit_from_index(
        req.audit_index,
        client.as_ref(),
        None,
        None,
        req.options.now_ms,
        &mut warnings,
    )
    .unwrap_or_else(|e| {
        unavailable.push(("audit index", e));
        Vec::new()
    });
    for f in &fetched {
        let loaded = source::load_path(f.file.path(), stdin);
        inputs.extend(loaded.input.map(|mut i| {
            i.name.clone_from(&f.label);
            i
        }));
        skipped.extend(loaded.skipped);
    }
    for path in req.metadata {
        let loaded = source::load_path(path, stdin);
        inputs.extend(loaded.input);
        skipped.extend(loaded.skipped);
    }
    if inputs.is_empty() {
        return Err(Error::NoInput {
            reasons: source::skip_reasons(&skipped),
        });
    }
    // An input skipped whole next to readable ones is a warning in the report, not an error.
    let docs: Vec<_> = inputs.iter().map(parse_paste).collect();
    drop(inputs);
    let mut diagnosis = diagnose(&docs, req.rules, skipped, req.options);
    diagnosis.cluster_mismatch = cluster_mismatch;
    super::last_passes(
        &mut diagnosis,
        super::Live {
            client: client.as_ref(),
            studied: req.studied,
            rules: req.rules,
            options: req.options,
            unavailable,
        },
        &Finish {
            bundles: &[],
            retention: req.retention,
            filter: req.filter,
            now_ms: req.options.now_ms,
            rules: req.rules,
        },
        &mut warnings,
    );
    Ok(Ran {
        diagnosis,
        warnings,
    })
}
