//! `scan`: walk the opened paths, scan every file (the caller shows the progress), then the
//! passes in their one order: the other cluster's side, the live cluster, [`super::finish`].

use std::path::{Path, PathBuf};

use super::cluster::{self, StudiedKey};
use super::{Filter, Finish, Ran};
use crate::cluster::{api, Client};
use crate::diagnosis::differential::Retention;
use crate::diagnosis::Diagnosis;
use crate::error::Error;
pub use crate::scan::ScanReport;
use crate::scan::Scanner;
use crate::source::inputs::Inputs;
use crate::source::walk::{walk, FileEntry};

/// The sentences a two-sided scan says about the querying cluster's answers (`rules/facts.toml`).
pub const WORDS: &[(&str, &[&str])] = &[
    ("two_sided.answer.read", &["what", "file"]),
    ("two_sided.answer.missing", &["what", "request"]),
];

fn say(code: &str, fields: &[(&'static str, String)]) -> String {
    crate::diagnosis::fact::say_in(WORDS, code, fields)
}

/// A scan, resolved: nothing in it is a flag still to read.
pub struct Request<'a> {
    /// The paths as given (for messages and the querying side's name).
    pub paths: &'a [PathBuf],
    /// What the paths opened to: archives unpacked, bundles recognised.
    pub inputs: &'a Inputs,
    /// Saved key metadata, read as metadata whatever its name.
    pub metadata: &'a [PathBuf],
    pub follow_links: bool,
    /// The fulfilling cluster's paths and its alias, for a two-sided scan.
    pub remote_logs: &'a [PathBuf],
    pub remote_alias: Option<&'a str>,
    /// `--rules DIR`, where `pairs.toml` may be overridden.
    pub rules_dir: Option<&'a Path>,
    /// The cluster given, already checked, and the key to test with.
    pub cluster: Option<(Client, api::ClusterInfo)>,
    pub studied: Option<&'a StudiedKey>,
    pub audit_index: &'a [String],
    pub retention: &'a Retention,
    pub filter: &'a Filter,
}

/// Runs the scanning of all files, given the bytes to read; the face draws progress meanwhile.
pub type Runner<'r> = &'r mut dyn FnMut(u64, &mut (dyn FnMut() + Send));

/// Scan the tree, then run the passes.
pub fn run(mut req: Request<'_>, scanner: &Scanner, progress: Runner<'_>) -> Result<Ran, Error> {
    let mut warnings = Vec::new();
    let inputs = req.inputs;
    let (mut files, walk_skipped) = walk(&inputs.paths, req.follow_links);
    // The cluster's answers (and its audit index) count only if it is the cluster the files
    // come from.
    let (client, cluster_mismatch) = if req.cluster.is_some() {
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
        cluster::same_cluster(req.cluster.take(), &seen)
    } else {
        (None, None)
    };
    let mut unavailable: Vec<(&str, Error)> = Vec::new();
    let opts = scanner.options();
    let fetched = cluster::audit_from_index(
        req.audit_index,
        client.as_ref(),
        opts.since_ms,
        opts.until_ms,
        opts.now_ms,
        &mut warnings,
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
    let (metadata, metadata_skipped) = walk(req.metadata, false);
    let walk_skipped: Vec<_> = walk_skipped.into_iter().chain(metadata_skipped).collect();
    if files.is_empty() {
        return Err(no_input(&walk_skipped, req.paths));
    }
    let total: u64 = files.iter().map(|f| f.size).sum();
    let mut scanned = None;
    let mut skipped = Some(walk_skipped);
    progress(total, &mut || {
        scanned = Some(scan_all(scanner, &files, &metadata, skipped.take()));
    });
    // A runner that did not run the work: the scan runs here, without progress.
    let mut report = scanned.unwrap_or_else(|| scan_all(scanner, &files, &metadata, skipped));
    let mut diagnosis = std::mem::take(&mut report.diagnosis);
    // Every file skipped whole (binary, a device of NULs, unreadable): there is no verdict to
    // give, as for explain.
    if diagnosis.inputs == 0 && diagnosis.findings.is_empty() && !diagnosis.skipped.is_empty() {
        return Err(no_input(&diagnosis.skipped, req.paths));
    }
    diagnosis.cluster_mismatch = cluster_mismatch;
    if !req.remote_logs.is_empty() {
        two_sided(&req, scanner, &mut diagnosis, (&report, &files))?;
    }
    super::last_passes(
        &mut diagnosis,
        super::Live {
            client: client.as_ref(),
            studied: req.studied,
            rules: scanner.rules(),
            options: opts,
            unavailable,
        },
        &Finish {
            bundles: &inputs.bundles,
            retention: req.retention,
            filter: req.filter,
            now_ms: opts.now_ms,
            rules: scanner.rules(),
        },
        &mut warnings,
    );
    Ok(Ran {
        diagnosis,
        warnings,
    })
}

/// Scan every file, in parallel, then the metadata files.
fn scan_all(
    scanner: &Scanner,
    files: &[FileEntry],
    metadata: &[FileEntry],
    skipped: Option<Vec<crate::source::Skipped>>,
) -> ScanReport {
    scanner.scan_files(files, metadata, skipped.unwrap_or_default())
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One cluster's side of a two-sided scan: its report and the API answers among its files.
fn side<'a>(
    label: String,
    report: &'a ScanReport,
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

/// `_remote/info` and roles: saved answers among the files the scan took for plain text (not
/// logs, which are never read twice), else a bundle's.
fn answers_of(
    inputs: &Inputs,
    files: &[FileEntry],
    read: &[crate::diagnosis::FileRead],
) -> crate::source::answers::Answers {
    let plain: std::collections::HashSet<&str> = read
        .iter()
        .filter(|s| s.format == crate::source::sniff::LogFormat::Text)
        .map(|s| s.name.as_str())
        .collect();
    let text: Vec<FileEntry> = files
        .iter()
        .filter(|f| plain.contains(f.name().as_str()))
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
    req: &Request<'_>,
    scanner: &Scanner,
    diagnosis: &mut Diagnosis,
    mine: (&ScanReport, &[FileEntry]),
) -> Result<(), Error> {
    use crate::diagnosis::two_sided::{analyse, check_pairs, pairs};
    let (q_report, q_files) = mine;
    let pairs = pairs(req.rules_dir).map_err(Error::Usage)?;
    let problems = check_pairs(&pairs, scanner.rules());
    if !problems.is_empty() {
        return Err(Error::Usage(format!("pairs.toml: {}", problems.join("; "))));
    }
    let inputs = Inputs::open(req.remote_logs);
    let (files, mut remote) = scan_tree(scanner, &inputs, req.remote_logs, req.follow_links)?;
    // Each side's saved API answers, among the files each side read (before the merge).
    let q_answers = answers_of(req.inputs, q_files, &diagnosis.files);
    let f_answers = answers_of(&inputs, &files, &remote.diagnosis.files);
    let mut theirs = std::mem::take(&mut remote.diagnosis);
    for b in &inputs.bundles {
        super::bundle_checks(b, &mut theirs, scanner.options().now_ms, scanner.rules());
    }
    for f in &mut diagnosis.findings {
        f.observed.side = Some(crate::model::Side::Querying);
    }
    for mut f in theirs.findings {
        f.observed.side = Some(crate::model::Side::Fulfilling);
        diagnosis.findings.push(f);
    }
    diagnosis.notes.extend(theirs.notes);
    diagnosis.skipped.extend(theirs.skipped);
    diagnosis.files.extend(theirs.files);
    diagnosis.inputs += theirs.inputs;
    let q = side(join_paths(req.paths), q_report, &q_answers);
    let f = side(join_paths(req.remote_logs), &remote, &f_answers);
    analyse(
        diagnosis,
        &q,
        &f,
        req.remote_alias,
        &pairs,
        scanner.rules(),
        scanner.options(),
    );
    if let Some(view) = &mut diagnosis.two_sided {
        for (what, request, found) in [
            ("_remote/info", "_remote/info", &q_answers.remote_info),
            ("roles", "_security/role", &q_answers.roles),
        ] {
            view.notes.push(match found {
                Some((file, _)) => say(
                    "two_sided.answer.read",
                    &[("what", what.to_string()), ("file", file.clone())],
                ),
                None => say(
                    "two_sided.answer.missing",
                    &[("what", what.to_string()), ("request", request.to_string())],
                ),
            });
        }
    }
    Ok(())
}

/// No file to scan: why, per path.
pub fn no_input(skipped: &[crate::source::Skipped], paths: &[PathBuf]) -> Error {
    let reasons = if skipped.is_empty() {
        format!("no files under {}", join_paths(paths))
    } else {
        crate::source::skip_reasons(skipped)
    };
    Error::NoFiles { reasons }
}

/// Scan `paths` with the bundled rules (no filters, no progress): for what other commands
/// learn from logs, such as the keys' use for `expiring --logs`.
pub fn scan_paths(
    paths: &[PathBuf],
    rules: Option<&Path>,
    now_ms: i64,
) -> Result<ScanReport, Error> {
    scan_paths_keeping(paths, rules, now_ms, &[])
}

/// [`scan_paths`], keeping the distinct requests the audit logs show each key of `ids` was
/// granted (`Successes::requests`), for a replay.
pub fn scan_paths_keeping(
    paths: &[PathBuf],
    rules: Option<&Path>,
    now_ms: i64,
    ids: &[String],
) -> Result<ScanReport, Error> {
    let (rules, _) = crate::rule::load(rules)?;
    let scanner =
        Scanner::new(rules, crate::diagnosis::Options::new(None, now_ms)).keeping_requests_of(ids);
    let inputs = Inputs::open(paths);
    scan_tree(&scanner, &inputs, paths, false).map(|(_, report)| report)
}

/// Walk what `inputs` opened (archives unpacked) and scan every file, without a progress bar.
fn scan_tree(
    scanner: &Scanner,
    inputs: &Inputs,
    given: &[PathBuf],
    follow_links: bool,
) -> Result<(Vec<FileEntry>, ScanReport), Error> {
    let (mut files, skipped) = walk(&inputs.paths, follow_links);
    let skipped: Vec<_> = inputs.skipped.iter().cloned().chain(skipped).collect();
    inputs.label(&mut files);
    if files.is_empty() {
        return Err(no_input(&skipped, given));
    }
    let report = scanner.scan_files(&files, &[], skipped);
    Ok((files, report))
}
