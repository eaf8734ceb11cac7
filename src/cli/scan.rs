//! `keydoctor scan`: resolve the flags, run the pipeline (with a progress line), render;
//! `--follow` keeps watching and runs the same passes on every poll.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use super::{resolve, CmdResult, Io, ScanArgs};
use crate::diagnosis::{Diagnosis, Options};
use crate::error::Error;
use crate::model::Class;
use crate::pipeline::scan::no_input;
use crate::pipeline::{finish, Filter, Finish};
use crate::report::{render, FindingsFormat, Format, RenderOptions};
use crate::rule;
use crate::scan::follow::Follower;
use crate::scan::Scanner;
use crate::source::inputs::Inputs;

pub(super) fn run(args: ScanArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let d = &args.diagnosis;
    let mut opts = Options::new(
        resolve::version(d.es_version.as_deref())?,
        resolve::now(d.now.as_deref())?,
    );
    let studied = resolve::given_key(d.with_key_env.as_deref(), &mut opts, io)?;
    opts.since_ms = resolve::time_arg("--since", args.since.as_deref(), opts.now_ms)?;
    opts.until_ms = resolve::time_arg("--until", args.until.as_deref(), opts.now_ms)?;
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
    opts.max_findings = (d.max_findings > 0).then_some(d.max_findings);
    opts.focus_keys.clone_from(&args.keys);
    opts.focus_classes.clone_from(&classes);
    let (rules, _warnings) = rule::load(d.rules.as_deref())?;
    if args.follow && d.share {
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
    // The cluster is checked before anything is read: a wrong URL or password is said at once,
    // not after a long scan.
    let cluster = resolve::checked_cluster(&d.cluster, &d.audit_index, io)?;
    // Archives are unpacked; support-diagnostics bundles among the paths are recognised, and
    // their version makes the remediation version-aware when --es-version does not.
    let inputs = Inputs::open(&args.paths);
    if opts.version.is_none() {
        opts.version = inputs.bundles.iter().find_map(|b| b.version);
    }
    let mut render_opts = super::render_options(&args.output, &d.cluster, color, io);
    render_opts.generated_ms = Some(opts.now_ms);
    let format = args.output.format.findings()?;
    let retention = super::retention(d)?;
    let filter = Filter {
        keys: args.keys.clone(),
        classes,
        suppressions: super::load_suppressions(d)?,
        now_ms: opts.now_ms,
    };

    let counter = Arc::new(AtomicU64::new(0));
    let scanner = Scanner::new(rules, opts).with_progress(counter.clone());
    if !scanner.is_prefiltered() {
        writeln!(
            io.stderr,
            "keydoctor: a rule has no literal to prefilter on (see `keydoctor rules lint`): every line is read as a record, which is slow"
        )?;
    }
    if args.follow {
        let passes = Finish {
            bundles: &inputs.bundles,
            retention: &retention,
            filter: &filter,
            now_ms: scanner.options().now_ms,
            rules: scanner.rules(),
        };
        return follow(&args, &scanner, &passes, format, &render_opts, io);
    }
    let show_progress = io.stderr_is_terminal && !args.quiet;
    let request = crate::pipeline::scan::Request {
        paths: &args.paths,
        inputs: &inputs,
        metadata: &d.metadata,
        follow_links: args.follow_links,
        remote_logs: &args.remote_logs,
        remote_alias: args.remote_alias.as_deref(),
        rules_dir: d.rules.as_deref(),
        cluster,
        studied: studied.as_ref(),
        audit_index: &d.audit_index,
        retention: &retention,
        filter: &filter,
    };
    let ran = crate::pipeline::scan::run(request, &scanner, &mut |total, work| {
        super::progress::with_progress(io, show_progress, total, &counter, work);
    })?;
    resolve::print_warnings(&ran.warnings, io)?;
    super::output(&ran.diagnosis, d.share, format, &render_opts, io)?;
    Ok(d.exit.outcome(&ran.diagnosis))
}

/// `--follow`: the full report once, then what changes, poll after poll.
fn follow(
    args: &ScanArgs,
    scanner: &Scanner,
    passes: &Finish<'_>,
    format: FindingsFormat,
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
                        FindingsFormat::Document(Format::Json) => {
                            crate::report::json::count_event(f, *old)
                        }
                        // An ECS document again, with the same `event.id` and the new count.
                        FindingsFormat::Ecs => crate::report::ecs::finding_line(f, render_opts),
                        _ => format!(
                            "· {} {}: {} → {} failures{}",
                            f.class.as_str(),
                            f.key_id.as_deref().unwrap_or("(no key id)"),
                            old,
                            f.count,
                            f.observed
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
                FindingsFormat::Document(Format::Json) => {
                    for f in &fresh.findings {
                        writeln!(
                            io.stdout,
                            "{}",
                            crate::report::json::finding_event(f, &render_opts.target)
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
