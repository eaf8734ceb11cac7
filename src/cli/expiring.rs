//! `keydoctor expiring`: the keys that expire within a window (and those that never do), for
//! people and for alerting (the exit status).

use std::io::Write as _;

use super::resolve::{load_metadata, now as parse_now, source_of, Source};
use super::ExpiringArgs;
use super::{CmdResult, Io};
use crate::cluster::api;
use crate::diagnosis::timeline::parse_time_value;
use crate::error::{Error, Outcome};
use crate::lifecycle::expiring::expiring as sort_expiring;
use crate::pipeline::scan::scan_paths;
use crate::report::expiring::render_expiring;
use crate::secret::redact;

pub(super) fn run(args: ExpiringArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
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
    let opts = super::render_options(&args.output, &args.source.cluster, color, io);
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
