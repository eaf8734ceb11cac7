//! `keydoctor explain`: resolve the flags, run the pipeline, render.

use std::path::Path;

use super::{resolve, width, CmdResult, ExplainArgs, Io};
use crate::diagnosis::Options;
use crate::pipeline::{explain, Filter};
use crate::report::RenderOptions;
use crate::rule;

const PASTE_HINT: &str =
    "Paste the error output, then press Ctrl-D on an empty line (Ctrl-Z then Enter on Windows).\n";

pub(super) fn run(args: ExplainArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let d = &args.diagnosis;
    let mut opts = Options::new(
        resolve::version(d.es_version.as_deref())?,
        resolve::now(d.now.as_deref())?,
    );
    let (rules, _warnings) = rule::load(d.rules.as_deref())?;
    // The cluster is checked before anything is read: a wrong URL or password is said at once.
    let cluster = resolve::checked_cluster(&d.cluster, &d.audit_index, io)?;
    let studied = resolve::given_key(d.with_key_env.as_deref(), &mut opts, io)?;
    opts.max_findings = (d.max_findings > 0).then_some(d.max_findings);
    let retention = super::retention(d)?;
    let filter = Filter {
        keys: Vec::new(),
        classes: Vec::new(),
        suppressions: super::load_suppressions(d)?,
        now_ms: opts.now_ms,
    };
    let mut files = args.files.clone();
    if files.is_empty() {
        files.push("-".into());
    }
    if io.stdin_is_terminal && files.iter().any(|p| p == Path::new("-")) {
        io.stderr.write_all(PASTE_HINT.as_bytes())?;
        io.stderr.flush()?;
    }
    let ran = explain::run(
        explain::Request {
            files: &files,
            metadata: &d.metadata,
            rules: &rules,
            options: &opts,
            cluster,
            studied: studied.as_ref(),
            audit_index: &d.audit_index,
            retention: &retention,
            filter: &filter,
        },
        &mut io.stdin,
    )?;
    resolve::print_warnings(&ran.warnings, io)?;
    let render = RenderOptions {
        color,
        width: width(io, args.output.width),
        curl: args.output.curl,
        full: args.output.full,
        target: super::curl_target(&d.cluster),
        generated_ms: Some(opts.now_ms),
    };
    super::output(
        &ran.diagnosis,
        d.share,
        args.output.format.findings()?,
        &render,
        io,
    )?;
    Ok(d.exit.outcome(&ran.diagnosis))
}
