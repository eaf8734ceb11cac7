//! `keydoctor expiring`: the keys that expire within a window (and those that never do), for
//! people and for alerting (the exit status).

use std::io::Write as _;

use super::resolve::{load_metadata, now as parse_now, source_of, Source};
use super::{CmdResult, Io};
use super::{ExpiringArgs, FormatArg};
use crate::cluster::api;
use crate::diagnosis::timeline::parse_time_value;
use crate::error::{Error, Outcome};
use crate::lifecycle::expiring::expiring as sort_expiring;
use crate::pipeline::scan::scan_paths;
use crate::report::expiring::render_expiring;
use crate::report::monitor::{expiring_nagios, expiring_openmetrics, Thresholds};
use crate::secret::redact;

/// A time value flag, or a usage error naming it.
fn time_value(flag: &str, text: &str) -> Result<i64, Error> {
    parse_time_value(text).ok_or_else(|| {
        Error::Usage(format!(
            "{flag} `{text}` is not a time value (expected e.g. 14d, 36h, 90m)"
        ))
    })
}

/// `--warn` and `--crit` for `--format nagios` (refused with any other format: a threshold
/// that changes nothing would mislead).
fn thresholds(args: &ExpiringArgs) -> Result<Option<Thresholds>, Error> {
    if args.output.format != FormatArg::Nagios {
        if args.warn.is_some() || args.crit.is_some() {
            return Err(Error::Usage(
                "--warn and --crit are for --format nagios (the other formats list what --within holds)".into(),
            ));
        }
        return Ok(None);
    }
    let warn = args.warn.clone().unwrap_or_else(|| args.within.clone());
    let crit = args.crit.clone().unwrap_or_else(|| "3d".into());
    let (warn_ms, crit_ms) = (time_value("--warn", &warn)?, time_value("--crit", &crit)?);
    if crit_ms > warn_ms {
        return Err(Error::Usage(format!(
            "--crit {crit} is longer than --warn {warn}: CRITICAL must be the nearer expiry"
        )));
    }
    Ok(Some(Thresholds {
        warn_ms,
        warn,
        crit_ms,
        crit,
    }))
}

pub(super) fn run(args: ExpiringArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let now_ms = parse_now(args.source.now.as_deref())?;
    let thresholds = thresholds(&args)?;
    // A plugin's window is its WARNING threshold.
    let (within, within_ms) = match &thresholds {
        Some(t) => (t.warn.clone(), t.warn_ms),
        None => (args.within.clone(), time_value("--within", &args.within)?),
    };
    let (keys, notes) = match source_of(&args.source, io)? {
        Source::Files(paths) => (load_metadata(&paths, io)?.0, Vec::new()),
        Source::Cluster(client) => {
            let info = api::info(&client)?;
            let lookup = api::active_keys(&client, info.version)?;
            (lookup.keys, lookup.notes)
        }
    };
    let mut report = sort_expiring(&keys, &within, within_ms, now_ms);
    report.notes = notes;
    if !args.logs.is_empty() {
        let scanned = scan_paths(&args.logs, None, now_ms)?;
        for s in &scanned.diagnosis.skipped {
            let line = format!("warning: {}: {}", s.source, s.reason);
            writeln!(io.stderr, "{}", redact(&line))?;
        }
        if scanned
            .diagnosis
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
    match (args.output.format, &thresholds) {
        (FormatArg::Nagios, Some(t)) => {
            let state = expiring_nagios(&report, args.include_no_expiry, t, &mut io.stdout)?;
            return Ok(Outcome::Monitor(state));
        }
        (FormatArg::Openmetrics, _) => {
            expiring_openmetrics(&report, now_ms, &mut io.stdout)?;
            return Ok(Outcome::Clean);
        }
        _ => {}
    }
    let opts = super::render_options(&args.output, &args.source.cluster, color, io);
    render_expiring(
        &report,
        args.include_no_expiry,
        args.output.format.document()?,
        &opts,
        &mut io.stdout,
    )?;
    // An already expired key fails now: worse than one about to, so it counts as much.
    let any = !report.keys.is_empty()
        || !report.expired.is_empty()
        || (args.include_no_expiry && !report.no_expiration.is_empty());
    Ok(if any { Outcome::Found } else { Outcome::Clean })
}
