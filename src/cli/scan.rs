//! `keydoctor scan`: walk, scan, correlate, filter, render; `--follow` keeps watching.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use super::explain::{parse_now, parse_version};
use super::{width, CmdResult, Io, ScanArgs};
use crate::diagnosis::timeline::parse_ts;
use crate::diagnosis::{Diagnosis, Options};
use crate::error::Error;
use crate::model::Class;
use crate::pipeline::{finish, Filter, Finish};
use crate::report::{render, Format, RenderOptions};
use crate::rule;
use crate::scan::follow::Follower;
use crate::scan::Scanner;
use crate::source::inputs::Inputs;
use crate::source::walk::{walk, FileEntry};

pub(super) fn run(args: ScanArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let mut opts = Options::new(
        parse_version(args.diagnosis.es_version.as_deref())?,
        parse_now(args.diagnosis.now.as_deref())?,
    );
    let studied = super::keys::key_from_env(args.diagnosis.with_key_env.as_deref(), io)?;
    opts.assumed_key = studied.as_ref().map(|k| k.id.clone());
    opts.since_ms = parse_time_arg("--since", args.since.as_deref())?;
    opts.until_ms = parse_time_arg("--until", args.until.as_deref())?;
    let classes = args
        .classes
        .iter()
        .map(|c| {
            Class::parse(c)
                .filter(|c| Class::FAILURES.contains(c))
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "--class `{c}` is not a class; one of: {}",
                        Class::FAILURES
                            .iter()
                            .map(|c| c.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    opts.max_findings = (args.diagnosis.max_findings > 0).then_some(args.diagnosis.max_findings);
    opts.focus_keys.clone_from(&args.keys);
    opts.focus_classes.clone_from(&classes);
    let (rules, _warnings) = rule::load(args.diagnosis.rules.as_deref())?;
    // The cluster is checked before anything is read: a wrong URL or password is said at once,
    // not after a long scan.
    let cluster =
        super::keys::precheck_cluster(&args.diagnosis.cluster, &args.diagnosis.audit_index, io)?;
    // Archives are unpacked; support-diagnostics bundles among the paths are recognised, and
    // their version makes the remediation version-aware when --es-version does not.
    if args.follow {
        if let Some(archive) = args
            .paths
            .iter()
            .find(|p| crate::source::bundle::is_archive(p))
        {
            return Err(Error::Usage(format!(
                "{} is an archive, which does not grow: scan it without --follow",
                archive.display()
            )));
        }
    }
    let inputs = Inputs::open(&args.paths);
    if opts.version.is_none() {
        opts.version = inputs.bundles.iter().find_map(|b| b.version);
    }
    let render_opts = RenderOptions {
        color,
        width: width(io, args.output.width),
        curl: args.output.curl,
        full: args.output.full,
        target: super::curl_target(&args.diagnosis.cluster),
    };
    let format: Format = args.output.format.into();
    let retention = super::retention(&args.diagnosis)?;
    let filter = Filter {
        keys: args.keys.clone(),
        classes,
        suppressions: super::load_suppressions(&args.diagnosis)?,
        now_ms: opts.now_ms,
    };

    let counter = Arc::new(AtomicU64::new(0));
    let scanner = Scanner::new(rules, opts).with_progress(counter.clone());
    let show_progress = io.stderr_is_terminal && !args.quiet;
    if !scanner.is_prefiltered() {
        writeln!(
            io.stderr,
            "keydoctor: a rule has no literal to prefilter on (see `keydoctor rules lint`): every line is read as a record, which is slow"
        )?;
    }

    if args.follow && args.diagnosis.share {
        return Err(Error::Usage(
            "--share makes one report to paste; it cannot follow files".into(),
        ));
    }
    if args.follow && !args.remote_logs.is_empty() {
        return Err(Error::Usage(
            "--remote-logs pairs two finished scans; it cannot follow files".into(),
        ));
    }
    if args.follow {
        let passes = Finish {
            bundles: &inputs.bundles,
            retention: &retention,
            filter: &filter,
            now_ms: scanner.options().now_ms,
        };
        return follow(&args, &scanner, &passes, format, &render_opts, io);
    }

    let (mut files, walk_skipped) = walk(&inputs.paths, args.follow_links);
    // The cluster's answers (and its audit index) count only if it is the cluster the files
    // come from.
    let (cluster, cluster_mismatch) = if cluster.is_some() {
        let mut seen = crate::source::identity::of_files(&files);
        seen.extend(
            inputs
                .bundles
                .iter()
                .filter(|b| b.cluster.is_some() || b.cluster_uuid.is_some())
                .map(|b| crate::source::identity::SeenCluster {
                    name: b.cluster.clone(),
                    uuid: b.cluster_uuid.clone(),
                    from: format!("{} (version.json)", b.label),
                }),
        );
        super::keys::same_cluster(cluster, &seen)
    } else {
        (None, None)
    };
    let mut unavailable: Vec<(&str, Error)> = Vec::new();
    let fetched = super::keys::audit_from_index(
        &args.diagnosis.audit_index,
        cluster.as_ref(),
        scanner.options().since_ms,
        scanner.options().until_ms,
        scanner.options().now_ms,
        io,
    )
    .unwrap_or_else(|e| {
        unavailable.push(("audit index", e));
        Vec::new()
    });
    let walk_skipped: Vec<_> = inputs.skipped.iter().cloned().chain(walk_skipped).collect();
    inputs.label(&mut files);
    files.extend(fetched.iter().map(|f| FileEntry {
        path: f.file.path().to_path_buf(),
        size: f.size,
        label: Some(f.label.clone()),
    }));
    let (metadata, metadata_skipped) = walk(&args.diagnosis.metadata, false);
    let walk_skipped: Vec<_> = walk_skipped.into_iter().chain(metadata_skipped).collect();
    if files.is_empty() {
        return Err(no_input(&walk_skipped, &args.paths));
    }
    let total: u64 = files.iter().map(|f| f.size).sum();
    let mut report = super::progress::with_progress(io, show_progress, total, &counter, || {
        let mut results: Vec<_> = {
            use rayon::prelude::*;
            files.par_iter().map(|f| scanner.scan_file(f)).collect()
        };
        results.extend(metadata.iter().map(|f| scanner.scan_metadata_file(f)));
        scanner.finish(results, walk_skipped)
    });
    let mut diagnosis = std::mem::take(&mut report.diagnosis);
    // Every file skipped whole (binary, a device of NULs, unreadable): there is no verdict to
    // give, as for explain.
    if diagnosis.inputs == 0 && diagnosis.findings.is_empty() && !diagnosis.skipped.is_empty() {
        return Err(no_input(&diagnosis.skipped, &args.paths));
    }
    diagnosis.cluster_mismatch = cluster_mismatch;
    if !args.remote_logs.is_empty() {
        two_sided(&args, &scanner, &mut diagnosis, (&report, &inputs, &files))?;
    }
    if let Err(e) = super::keys::ask_cluster(
        cluster.as_ref(),
        studied.as_ref(),
        &mut diagnosis,
        scanner.rules(),
        scanner.options(),
        io,
    ) {
        unavailable.push(("cluster view", e));
    }
    for (what, e) in &unavailable {
        super::keys::cluster_unavailable(&mut diagnosis, what, e);
    }
    finish(
        &mut diagnosis,
        &Finish {
            bundles: &inputs.bundles,
            retention: &retention,
            filter: &filter,
            now_ms: scanner.options().now_ms,
        },
    );
    super::output(&diagnosis, args.diagnosis.share, format, &render_opts, io)?;
    Ok(args.diagnosis.exit.outcome(&diagnosis))
}

fn join_paths(paths: &[std::path::PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `_remote/info` and roles: saved answers among the files the scan took for plain text (not
/// logs, which are never read twice), else a bundle's.
/// One cluster's side of a two-sided scan: its report and the API answers among its files.
fn side<'a>(
    label: String,
    report: &'a crate::scan::ScanReport,
    answers: &'a crate::source::answers::Answers,
) -> crate::diagnosis::two_sided::SideView<'a> {
    crate::diagnosis::two_sided::SideView {
        label,
        signals: &report.signals,
        span: report.span,
        keys: &report.keys,
        remote_info: answers.remote_info.as_ref().map(|(_, v)| v),
        roles: answers.roles.as_ref().map(|(_, v)| v),
    }
}

fn answers_of(
    inputs: &Inputs,
    files: &[FileEntry],
    report: &crate::scan::ScanReport,
) -> crate::source::answers::Answers {
    let text: Vec<FileEntry> = files
        .iter()
        .filter(|f| {
            report
                .files
                .iter()
                .any(|s| s.format == crate::source::sniff::LogFormat::Text && s.name == f.name())
        })
        .cloned()
        .collect();
    let mut a = crate::source::answers::find(&text);
    for b in &inputs.bundles {
        let fill = |slot: &mut Option<(String, serde_json::Value)>, answer: &Result<_, _>, file| {
            if let (None, Ok(v)) = (&slot, answer) {
                *slot = Some((format!("{}/{file}", b.label), serde_json::Value::clone(v)));
            }
        };
        fill(
            &mut a.remote_info,
            &b.remote_info,
            "remote_cluster_info.json",
        );
        fill(&mut a.roles, &b.roles, "commercial/security_roles.json");
    }
    a
}

/// Scan the fulfilling cluster's paths, merge its findings into `diagnosis` (each finding
/// marked with its side) and pair the symptoms of the two clusters.
fn two_sided(
    args: &ScanArgs,
    scanner: &Scanner,
    diagnosis: &mut Diagnosis,
    mine: (&crate::scan::ScanReport, &Inputs, &[FileEntry]),
) -> Result<(), Error> {
    use crate::diagnosis::two_sided::{analyse, check_pairs, pairs};
    let (q_report, q_inputs, q_files) = mine;
    let pairs = pairs(args.diagnosis.rules.as_deref()).map_err(Error::Usage)?;
    let problems = check_pairs(&pairs, scanner.rules());
    if !problems.is_empty() {
        return Err(Error::Usage(format!("pairs.toml: {}", problems.join("; "))));
    }
    let inputs = Inputs::open(&args.remote_logs);
    let (files, mut remote) = scan_tree(scanner, &inputs, &args.remote_logs, args.follow_links)?;
    let mut theirs = std::mem::take(&mut remote.diagnosis);
    for b in &inputs.bundles {
        crate::pipeline::bundle_checks(b, &mut theirs, scanner.options().now_ms);
    }
    for f in &mut diagnosis.findings {
        f.details.side = Some("querying");
    }
    for mut f in theirs.findings {
        f.details.side = Some("fulfilling");
        diagnosis.findings.push(f);
    }
    diagnosis.notes.extend(theirs.notes);
    diagnosis.skipped.extend(theirs.skipped);
    diagnosis.files.extend(theirs.files);
    diagnosis.inputs += theirs.inputs;
    let q_answers = answers_of(q_inputs, q_files, q_report);
    let f_answers = answers_of(&inputs, &files, &remote);
    let q = side(join_paths(&args.paths), q_report, &q_answers);
    let f = side(join_paths(&args.remote_logs), &remote, &f_answers);
    analyse(
        diagnosis,
        &q,
        &f,
        args.remote_alias.as_deref(),
        &pairs,
        scanner.rules(),
        scanner.options(),
    );
    if let Some(view) = &mut diagnosis.two_sided {
        for (what, found) in [
            ("_remote/info", &q_answers.remote_info),
            ("roles", &q_answers.roles),
        ] {
            view.notes.push(match found {
                Some((file, _)) => format!("querying cluster's {what}: read from {file}"),
                None => format!("querying cluster's {what}: not given (save `GET /{}` as JSON among the querying cluster's paths)", if what == "roles" { "_security/role" } else { "_remote/info" }),
            });
        }
    }
    Ok(())
}

fn no_input(skipped: &[crate::source::Skipped], paths: &[std::path::PathBuf]) -> Error {
    let reasons = if skipped.is_empty() {
        format!(
            "no files under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        crate::source::skip_reasons(skipped)
    };
    Error::NoFiles { reasons }
}

/// `--since` / `--until`: RFC 3339, `2026-11-20T00:00`, or a date.
fn parse_time_arg(flag: &str, given: Option<&str>) -> Result<Option<i64>, Error> {
    let Some(text) = given else {
        return Ok(None);
    };
    let t = text.trim();
    let padded = match t.len() {
        10 => format!("{t}T00:00:00"),
        16 => format!("{t}:00"),
        _ => t.to_string(),
    };
    parse_ts(&padded).map(Some).ok_or_else(|| {
        Error::Usage(format!(
            "{flag} `{text}` is not a time (expected e.g. 2026-11-20T00:00, 2026-11-20 or RFC 3339; no zone means UTC)"
        ))
    })
}

/// Scan `paths` with the bundled rules (no filters, no progress): for what other commands
/// learn from logs, such as the keys' use for `expiring --logs`.
pub(super) fn scan_paths(
    paths: &[std::path::PathBuf],
    rules: Option<&std::path::Path>,
    now_ms: i64,
) -> Result<crate::scan::ScanReport, Error> {
    let (rules, _) = rule::load(rules)?;
    let scanner = Scanner::new(rules, crate::diagnosis::Options::new(None, now_ms));
    let inputs = Inputs::open(paths);
    scan_tree(&scanner, &inputs, paths, false).map(|(_, report)| report)
}

/// Walk what `inputs` opened (archives unpacked) and scan every file, without a progress bar.
fn scan_tree(
    scanner: &Scanner,
    inputs: &Inputs,
    given: &[std::path::PathBuf],
    follow_links: bool,
) -> Result<(Vec<FileEntry>, crate::scan::ScanReport), Error> {
    let (mut files, skipped) = walk(&inputs.paths, follow_links);
    let skipped: Vec<_> = inputs.skipped.iter().cloned().chain(skipped).collect();
    inputs.label(&mut files);
    if files.is_empty() {
        return Err(no_input(&skipped, given));
    }
    let results: Vec<_> = {
        use rayon::prelude::*;
        files.par_iter().map(|f| scanner.scan_file(f)).collect()
    };
    Ok((files, scanner.finish(results, skipped)))
}

/// `--follow`: the full report once, then what changes, poll after poll.
fn follow(
    args: &ScanArgs,
    scanner: &Scanner,
    passes: &Finish<'_>,
    format: Format,
    render_opts: &RenderOptions,
    io: &mut Io<'_>,
) -> CmdResult {
    let paths = args
        .paths
        .iter()
        .chain(&args.diagnosis.metadata)
        .cloned()
        .collect();
    let mut follower = Follower::new(scanner, paths, args.follow_links);
    follower.poll();
    let mut diagnosis = follower.diagnose();
    finish(&mut diagnosis, passes);
    if follower.file_count() == 0
        && diagnosis.skipped.iter().all(|s| !s.reason.is_partial())
        && !diagnosis.skipped.is_empty()
    {
        return Err(no_input(&diagnosis.skipped, &args.paths));
    }
    render(&diagnosis, format, render_opts, &mut io.stdout)?;
    writeln!(
        io.stderr,
        "keydoctor: watching {} file(s) for new failures (Ctrl-C to stop)",
        follower.file_count()
    )?;
    io.stdout.flush()?;
    let mut seen = counts(&diagnosis);
    // The exit status follows the same rules as a scan's (--fail-on, --exit-zero), over the
    // last poll's findings.
    let mut outcome = args.diagnosis.exit.outcome(&diagnosis);
    let mut polls = 0u64;
    loop {
        if args.max_polls.is_some_and(|max| polls >= max) {
            break;
        }
        std::thread::sleep(Duration::from_millis(args.poll_ms));
        polls += 1;
        if !follower.poll() {
            continue;
        }
        let mut next = follower.diagnose();
        finish(&mut next, passes);
        outcome = args.diagnosis.exit.outcome(&next);
        let now = counts(&next);
        let mut fresh = Diagnosis {
            inputs: next.inputs,
            ..Diagnosis::default()
        };
        for (idx, f) in next.findings.iter().enumerate() {
            let key = finding_key(f);
            match seen.get(&key) {
                None => fresh.findings.push(next.findings[idx].clone()),
                Some(old) if *old != f.count => {
                    let line = match format {
                        Format::Json => serde_json::json!({
                            "event": "count",
                            "class": f.class.as_str(),
                            "key_id": f.key_id,
                            "rule_id": f.rule_id,
                            "count": f.count,
                            "previous_count": old,
                            "last_seen": f.details.last_seen,
                        })
                        .to_string(),
                        _ => format!(
                            "· {} {}: {} → {} failures{}",
                            f.class.as_str(),
                            f.key_id.as_deref().unwrap_or("(no key id)"),
                            old,
                            f.count,
                            f.details
                                .last_seen
                                .as_deref()
                                .map(|t| format!(", last {t}"))
                                .unwrap_or_default()
                        ),
                    };
                    writeln!(io.stdout, "{line}")?;
                }
                Some(_) => {}
            }
        }
        if !fresh.findings.is_empty() {
            match format {
                Format::Json => {
                    for f in &fresh.findings {
                        writeln!(
                            io.stdout,
                            "{}",
                            serde_json::json!({"event": "finding", "finding": crate::report::json::finding_json(f, &render_opts.target)})
                        )?;
                    }
                }
                _ => render(&fresh, format, render_opts, &mut io.stdout)?,
            }
        }
        io.stdout.flush()?;
        seen = now;
    }
    Ok(outcome)
}

fn finding_key(f: &crate::diagnosis::Finding) -> (Class, Option<String>, String) {
    (f.class, f.key_id.clone(), f.rule_id.clone())
}

fn counts(d: &Diagnosis) -> BTreeMap<(Class, Option<String>, String), usize> {
    d.findings
        .iter()
        .map(|f| (finding_key(f), f.count))
        .collect()
}

use std::io::Write as _;
