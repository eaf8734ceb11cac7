//! `keydoctor explain`: read inputs, diagnose, render.

use std::path::Path;

use super::{width, CmdResult, ExplainArgs, Io};
use crate::diagnosis::{diagnose, Options};
use crate::model::Version;

/// `--es-version`.
pub(super) fn parse_version(given: Option<&str>) -> Result<Option<Version>, Error> {
    given
        .map(|v| {
            Version::parse(v).ok_or_else(|| {
                Error::Usage(format!(
                    "--es-version `{v}` is not a version (expected e.g. 8.3 or 7.17.10)"
                ))
            })
        })
        .transpose()
}

/// `--now`, else the clock.
pub(super) fn parse_now(given: Option<&str>) -> Result<i64, Error> {
    match given {
        Some(t) => Ok(chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| Error::Usage(format!("--now `{t}`: {e}")))?
            .timestamp_millis()),
        None => Ok(chrono::Utc::now().timestamp_millis()),
    }
}
use crate::error::Error;
use crate::event::parse_paste;
use crate::report::RenderOptions;
use crate::rule;
use crate::source;

const PASTE_HINT: &str =
    "Paste the error output, then press Ctrl-D on an empty line (Ctrl-Z then Enter on Windows).\n";

pub(super) fn run(args: ExplainArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let version = parse_version(args.diagnosis.es_version.as_deref())?;
    let now_ms = parse_now(args.diagnosis.now.as_deref())?;
    let (rules, _warnings) = rule::load(args.diagnosis.rules.as_deref())?;
    // The cluster is checked before anything is read: a wrong URL or password is said at once.
    let cluster =
        super::keys::precheck_cluster(&args.diagnosis.cluster, &args.diagnosis.audit_index, io)?;

    let mut files = args.files.clone();
    if files.is_empty() {
        files.push("-".into());
    }
    let mut inputs = Vec::new();
    let mut skipped = Vec::new();
    let mut stdin_read = false;
    for path in &files {
        if path == Path::new("-") {
            if stdin_read {
                continue;
            }
            stdin_read = true;
            if io.stdin_is_terminal {
                io.stderr.write_all(PASTE_HINT.as_bytes())?;
                io.stderr.flush()?;
            }
        }
        let loaded = source::load_path(path, &mut io.stdin);
        inputs.extend(loaded.input);
        skipped.extend(loaded.skipped);
    }
    // The cluster's answers count only if it is the cluster the inputs come from (read only
    // when there is a cluster to hold them against: it is a pass over every line).
    let seen: Vec<_> = inputs
        .iter()
        .filter(|_| cluster.is_some())
        .flat_map(|i| {
            crate::source::identity::in_text(&i.text, &i.name)
                .into_iter()
                .chain(crate::source::identity::in_name(Path::new(&i.name)))
        })
        .collect();
    let (cluster, cluster_mismatch) = super::keys::same_cluster(cluster, &seen);
    // Audit events from an index join as one more audit log.
    let mut unavailable: Vec<(&str, Error)> = Vec::new();
    let fetched = super::keys::audit_from_index(
        &args.diagnosis.audit_index,
        cluster.as_ref(),
        None,
        None,
        now_ms,
        io,
    )
    .unwrap_or_else(|e| {
        unavailable.push(("audit index", e));
        Vec::new()
    });
    for f in &fetched {
        let loaded = source::load_path(f.file.path(), &mut io.stdin);
        inputs.extend(loaded.input.map(|mut i| {
            i.name.clone_from(&f.label);
            i
        }));
        skipped.extend(loaded.skipped);
    }
    // Key metadata named with --metadata joins the inputs: its keys are what it adds.
    for path in &args.diagnosis.metadata {
        let loaded = source::load_path(path, &mut io.stdin);
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
    let mut opts = Options::new(version, now_ms);
    let studied = super::keys::key_from_env(args.diagnosis.with_key_env.as_deref(), io)?;
    opts.assumed_key = studied.as_ref().map(|k| k.id.clone());
    opts.max_findings = (args.diagnosis.max_findings > 0).then_some(args.diagnosis.max_findings);
    let mut diagnosis = diagnose(&docs, &rules, skipped, &opts);
    diagnosis.cluster_mismatch = cluster_mismatch;
    if let Err(e) = super::keys::ask_cluster(
        cluster.as_ref(),
        studied.as_ref(),
        &mut diagnosis,
        &rules,
        &opts,
        io,
    ) {
        unavailable.push(("cluster view", e));
    }
    for (what, e) in &unavailable {
        super::keys::cluster_unavailable(&mut diagnosis, what, e);
    }
    crate::diagnosis::differential::analyse(&mut diagnosis, &super::retention(&args.diagnosis)?);
    crate::diagnosis::classify::prune_plans(&mut diagnosis);
    if let Some(s) = super::load_suppressions(&args.diagnosis)? {
        crate::diagnosis::suppress::apply(&mut diagnosis, &s, now_ms);
    }
    let opts = RenderOptions {
        color,
        width: width(io, args.output.width),
        curl: args.output.curl,
        full: args.output.full,
        target: super::curl_target(&args.diagnosis.cluster),
    };
    super::output(
        &diagnosis,
        args.diagnosis.share,
        args.output.format.into(),
        &opts,
        io,
    )?;
    Ok(args.diagnosis.exit.outcome(&diagnosis))
}
