//! `keydoctor scan`: the pipeline run over a log tree, streaming, one file per task.
//!
//! - **In**: paths (files and directories) and a compiled [`RuleSet`].
//! - **Out**: a [`ScanReport`]: the diagnosis (one finding per class and key, with full counts,
//!   correlations and timelines), what each file was, and what was skipped.
//! - **Never**: hold a whole file in memory, run a regex on a line the prefilter did not hit,
//!   abort on one bad file, or lose a failure it matched (records beyond the evidence kept are
//!   tallied, not dropped).
//!
//! Per file, on a rayon pool: open (gzip by magic bytes) → sniff the format → read in chunks cut
//! at record starts → the line prefilter over the rules' literals plus the audit actions
//! correlation needs ([`LinePrefilter`]: a packed SIMD search for a few anchors over a lower-cased
//! copy of the chunk, the literals' automaton only on the lines an anchor hits; in an audit log,
//! whose lines nearly all hit, the lines one by one) → only hit lines become records. Audit lines
//! that only feed correlation (`access_granted`, `anonymous_access_denied`, the
//! `security_config_change` events) are read by a one-pass field scan or parsed directly, never
//! matched against rules. A line that is a record on its own and differs from one already
//! analysed only in its leading timestamp takes that analysis (`memo.rs`: the dense path, where
//! a retrying client writes the same failure a thousand times), unless a record near it could
//! change its verdict. Rule
//! matches are grouped per (class, key); the first few records of each group are kept as
//! evidence, the rest only counted ([`Facts`]). Results merge in path order, so the output does
//! not depend on scheduling. The kept records are then diagnosed like `explain` input and the
//! facts correlated ([`crate::diagnosis::correlate::enrich`]).

pub mod follow;
mod memo;
mod ordered;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, LazyLock};

use crate::rule::prefilter::LinePrefilter;
use memchr::{memchr_iter, memmem};
use rayon::prelude::*;
use regex::Regex;

use crate::diagnosis::correlate::{self, Denial, Facts, NodeRef, Point, Successes};
use crate::diagnosis::timeline::parse_ts;
use crate::diagnosis::{diagnose, Diagnosis, GroupKey, Options};
use crate::event::excerpt::{self, Excerpt};
use crate::event::{audit, parse_input, Document};
use crate::model::RuleClass;
use crate::model::{AuditAction, FastMap, FastSet};
use crate::rule::RuleSet;
use crate::source::sniff::{sniff, LogFormat};
use crate::source::walk::FileEntry;
use crate::source::{stream, Input, SkipReason, Skipped, BINARY_SNIFF};

/// How much blank head is held to find where the text starts; past it the file is read on as
/// text (never called empty before its end).
const BLANK_HEAD_CAP: usize = 1 << 20;

/// Records kept as evidence per (file, group); the rest are tallied.
const KEEP_PER_GROUP: usize = 4;
/// Files up to this size that do not look like a log are read whole, like `explain` input (a
/// pasted curl output needs its status line and headers, not only the lines that hit).
const SMALL_FILE: u64 = 256 * 1024;
/// Key metadata files are read whole up to this size.
const METADATA_CAP: usize = 64 << 20;

/// Literals correlation needs besides the rules' own: audit actions, the node name ↔ id line.
const CORRELATION_LITERALS: &[&str] = &[
    "access_granted",
    "authentication_success",
    "anonymous_access_denied",
    "authentication_failed",
    "create_apikey",
    "change_apikey",
    "invalidate_apikeys",
    "node id [",
    "version[",
    "version determined",
];

/// What one file was (the diagnosis lists them as they are).
pub use crate::diagnosis::FileRead as FileSummary;

/// The result of a scan.
#[derive(Debug)]
pub struct ScanReport {
    /// `diagnosis.files` lists the files read.
    pub diagnosis: Diagnosis,
    /// Per key id: when, how often and from where it authenticated (audit logs).
    pub successes: BTreeMap<String, Successes>,
    /// The first and last audit event read, when any audit log was.
    pub audit_span: Option<(i64, i64)>,
    /// Every rule match by rule, alias and key, with when and where (for two-cluster joins).
    pub signals: BTreeMap<correlate::SignalKey, correlate::Signal>,
    /// The first and last time any log line read carries.
    pub span: Option<(i64, i64)>,
    /// The key metadata read (files, `--metadata`, audit create events).
    pub keys: Vec<crate::event::key_metadata::KeyMetadata>,
}

/// One key's successful authentications in one file, as the hot path counts them.
#[derive(Debug, Clone)]
struct Use {
    first: i64,
    last: i64,
    count: usize,
    line: usize,
    clients: BTreeSet<String>,
    users: BTreeSet<String>,
    /// `apikey.name`, as the first event with one gave it.
    name: Option<String>,
    /// The distinct granted requests, for a key the scanner keeps them of.
    requests: HashMap<(String, String), correlate::RequestUse>,
    requests_dropped: usize,
}

/// Everything a scan needs besides the paths.
pub struct Scanner {
    rules: Arc<RuleSet>,
    opts: Options,
    /// `None` when a rule has no literal: then every line is a candidate.
    prefilter: Option<LinePrefilter>,
    /// Whether `"event.action":` is a literal, so that an audit line holding it is a hit.
    audit_action_is_literal: bool,
    literals: Vec<String>,
    progress: Option<Arc<AtomicU64>>,
    /// The distinct failures followed in full, across every file, up to `tracking_cap`; one
    /// first seen after that is only counted ([`correlate::Untracked`]).
    tracked: std::sync::Mutex<FastSet<GroupKey>>,
    tracking_cap: Option<usize>,
    /// Bytes read per chunk, excerpt bytes parsed per batch, and whether lines apart only in
    /// time are analysed once (`memo.rs`); tests make the first two small.
    chunk: usize,
    batch: usize,
    memo: bool,
    /// Lines a template stood for, over every file (for tests and benchmarks).
    memo_lines: AtomicU64,
    /// The keys whose granted requests (`access_granted`: action and indices) are kept, for
    /// `rotate --replay`; empty: none (a scan keeps only counts).
    requests_of: BTreeSet<String>,
}

/// Files scanned ahead of the one the fold waits for, at most (see [`ordered::map_in_order`]).
const FOLD_WINDOW: usize = 256;

/// The files' results folded so far, in path order.
#[derive(Debug, Default)]
pub struct Folded {
    facts: Facts,
    docs: Vec<Document>,
    files: Vec<FileSummary>,
    skipped: Vec<Skipped>,
}

impl Folded {
    /// Nothing folded yet; `skipped` is what was skipped before any file was read.
    pub fn new(skipped: Vec<Skipped>) -> Self {
        Self {
            skipped,
            ..Self::default()
        }
    }

    /// Fold in the next file's result.
    pub fn add(&mut self, r: FileResult) {
        self.skipped.extend(r.skipped);
        self.files.extend(r.summary);
        self.docs.extend(r.doc);
        self.facts.merge(r.facts);
    }
}

/// One file's contribution, merged in path order.
#[derive(Debug, Default)]
pub struct FileResult {
    pub summary: Option<FileSummary>,
    pub doc: Option<Document>,
    pub facts: Facts,
    pub skipped: Vec<Skipped>,
}

impl Scanner {
    /// A scanner for `rules`; `opts.grouping` is forced to per-key.
    pub fn new(rules: Arc<RuleSet>, mut opts: Options) -> Self {
        opts.grouping = crate::diagnosis::Grouping::PerKey;
        let tracking_cap = opts
            .max_findings
            .map(crate::diagnosis::Omitted::tracking_cap);
        let mut literals: Vec<String> = rules
            .rules
            .iter()
            .flat_map(|r| r.literals.iter().cloned())
            .chain(CORRELATION_LITERALS.iter().map(|s| s.to_string()))
            .collect();
        literals.sort();
        literals.dedup();
        let every_rule_filtered = rules.rules.iter().all(|r| !r.literals.is_empty());
        let prefilter = every_rule_filtered
            .then(|| LinePrefilter::new(&literals))
            .flatten();
        Self {
            rules,
            opts,
            prefilter,
            audit_action_is_literal: literals.iter().any(|l| l.as_bytes() == AUDIT_ACTION),
            tracked: std::sync::Mutex::new(FastSet::default()),
            tracking_cap,
            literals,
            progress: None,
            chunk: excerpt::CHUNK,
            batch: BATCH_BYTES,
            memo: true,
            memo_lines: AtomicU64::new(0),
            requests_of: BTreeSet::new(),
        }
    }

    /// The same scanner keeping, for each of `ids`, the distinct requests the audit logs show
    /// it was granted (at most [`correlate::MAX_USE_REQUESTS`] each, the rest counted).
    pub fn keeping_requests_of(mut self, ids: &[String]) -> Self {
        self.requests_of = ids.iter().cloned().collect();
        self
    }

    /// The same scanner reading `chunk` bytes at a time, parsing excerpts in batches of `batch`
    /// bytes, with or without the dense path's memo (tests compare the two paths on inputs
    /// that span many chunks without being megabytes long).
    #[cfg(test)]
    fn tuned(mut self, chunk: usize, batch: usize, memo: bool) -> Self {
        self.chunk = chunk;
        self.batch = batch;
        self.memo = memo;
        self
    }

    /// Whether the scan follows failure group `g` in full: it does while it follows fewer than
    /// its cap of groups (always without `--max-findings`), ever after for those it took, and
    /// always for a key `--key` asks for.
    fn follows(&self, g: &GroupKey) -> bool {
        let Some(cap) = self.tracking_cap else {
            return true;
        };
        let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        if tracked.contains(g) {
            return true;
        }
        // A key asked for by `--key` is followed whatever came before it (the keys asked for
        // are few).
        if !self.opts.focus_keys.is_empty() && g.in_focus(&self.opts) {
            tracked.insert(g.clone());
            return true;
        }
        if tracked.len() < cap {
            tracked.insert(g.clone());
            return true;
        }
        false
    }

    /// The rules in use.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Count bytes read from disk into `counter` (for a progress bar).
    pub fn with_progress(mut self, counter: Arc<AtomicU64>) -> Self {
        self.progress = Some(counter);
        self
    }

    /// The literals the prefilter searches for (lower case, matched case-insensitively).
    pub fn literals(&self) -> &[String] {
        &self.literals
    }

    /// The anchors the prefilter searches for first (none: its automaton runs alone).
    pub fn anchors(&self) -> &[String] {
        self.prefilter.as_ref().map_or(&[], LinePrefilter::anchors)
    }

    /// Whether every rule has prefilter literals (else every line is read as a record).
    pub fn is_prefiltered(&self) -> bool {
        self.prefilter.is_some()
    }

    /// Diagnose what the files gave, correlate, and sort.
    pub fn finish(&self, results: Vec<FileResult>, skipped: Vec<Skipped>) -> ScanReport {
        let mut folded = Folded::new(skipped);
        results.into_iter().for_each(|r| folded.add(r));
        self.finish_folded(folded)
    }

    /// Scan `files` on every core, folding each file's result in path order as it is done (so
    /// that memory does not grow with the number of files), then `metadata` (read whole).
    pub fn scan_files(
        &self,
        files: &[FileEntry],
        metadata: &[FileEntry],
        skipped: Vec<Skipped>,
    ) -> ScanReport {
        let mut folded = Folded::new(skipped);
        folded.files.reserve_exact(files.len() + metadata.len());
        ordered::map_in_order(
            files,
            rayon::current_num_threads(),
            FOLD_WINDOW,
            |f| self.scan_file(f),
            |r| folded.add(r),
        );
        for f in metadata {
            folded.add(self.scan_metadata_file(f));
        }
        self.finish_folded(folded)
    }

    /// [`Scanner::finish`] over results already folded.
    pub fn finish_folded(&self, folded: Folded) -> ScanReport {
        let Folded {
            facts,
            mut docs,
            files,
            skipped,
        } = folded;
        let mut opts = self.opts.clone();
        if opts.version.is_none() {
            opts.version = facts.version;
        }
        // Keys the audit log saw created, for which the tree holds no metadata.
        let listed: Vec<_> = docs.iter().flat_map(|d| d.keys.iter().cloned()).collect();
        let derived = correlate::metadata_from_audit(&facts, &listed);
        if !derived.is_empty() {
            docs.push(Document {
                name: "audit create_apikey events".into(),
                text: String::new(),
                records: Vec::new(),
                credentials: Vec::new(),
                keys: derived,
                audit: Vec::new(),
                version: None,
                skipped: Vec::new(),
            });
        }
        // A record kept for a followed group (or a note) may also match a group the scan only
        // counted: that group is in the untracked counts already, so it is no finding too.
        if self.tracking_cap.is_some() {
            let tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
            opts.followed = Some(std::sync::Arc::new(tracked.clone()));
        }
        // The failures tallied beyond the kept records, for the groups beyond --max-findings.
        if opts.max_findings.is_some() {
            let tallied: HashMap<GroupKey, usize> = facts
                .groups
                .iter()
                .filter(|(_, g)| g.tally.count > 0)
                .map(|(k, g)| (k.clone(), g.tally.count))
                .collect();
            opts.tallied = Some(Arc::new(tallied));
        }
        let mut diagnosis = diagnose(&docs, &self.rules, skipped, &opts);
        diagnosis.inputs = files.len();
        diagnosis.files = files;
        let keys: Vec<_> = docs.iter().flat_map(|d| d.keys.iter().cloned()).collect();
        correlate::enrich(&mut diagnosis, &facts, &keys, &self.rules, &opts);
        if let Some(cap) = opts.max_findings {
            count_untracked(&mut diagnosis, &facts.untracked, cap);
        }
        ScanReport {
            diagnosis,
            audit_span: facts.audit.first_ms.zip(facts.audit.last_ms),
            successes: facts.successes,
            signals: facts.signals,
            span: facts.span,
            keys,
        }
    }

    /// Scan one file.
    pub fn scan_file(&self, entry: &FileEntry) -> FileResult {
        self.scan_file_as(entry, false)
    }

    /// Scan a file named as key metadata (`--metadata`): read whole, whatever it looks like.
    pub fn scan_metadata_file(&self, entry: &FileEntry) -> FileResult {
        self.scan_file_as(entry, true)
    }

    fn scan_file_as(&self, entry: &FileEntry, whole: bool) -> FileResult {
        let name = entry.name();
        let mut state = FileState::new(self, name.clone(), entry_dir(entry));
        let mut skipped = Vec::new();
        let summary = self
            .scan_into(entry, &mut state, &mut skipped, whole)
            .map(|(s, _)| s);
        let (doc, facts) = state.snapshot();
        FileResult {
            summary,
            doc,
            facts,
            skipped,
        }
    }

    /// Read `entry` from the start into `state`. Returns what the file was and whether it can
    /// be followed by offset (plain text read in chunks), or `None` when it was skipped whole.
    fn scan_into(
        &self,
        entry: &FileEntry,
        state: &mut FileState<'_>,
        skipped: &mut Vec<Skipped>,
        force_whole: bool,
    ) -> Option<(FileSummary, bool)> {
        let name = entry.name();
        let problems = std::cell::Cell::new(0usize);
        let mut skip = |reason| {
            problems.set(problems.get() + 1);
            skipped.push(Skipped {
                source: name.clone(),
                reason,
            });
        };
        let limit = (entry.size > 0).then_some(entry.size);
        let opened = match stream::open(&entry.path, self.progress.clone(), limit) {
            Ok(o) => o,
            Err(reason) => {
                skip(reason);
                return None;
            }
        };
        let gzip = opened.gzip;
        let read_from_disk = opened.read;
        let mut reader = opened.reader;
        // The head decides what the file is, but a head of NULs (a log rotated with
        // copytruncate) or of blank lines decides nothing: read on until text starts.
        let mut head = Vec::with_capacity(BINARY_SNIFF);
        let mut nuls = 0u64;
        // `head[..blank_upto]` is known to be white space: each block is looked at once.
        let mut blank_upto = 0;
        let mut at_end = false;
        loop {
            let want = BINARY_SNIFF as u64;
            let before = head.len();
            if let Err(e) = (&mut reader).take(want).read_to_end(&mut head) {
                skip(read_error(gzip, head.len() as u64, &e));
                if head.is_empty() {
                    return None;
                }
                break;
            }
            at_end = head.len() - before < want as usize;
            // NULs lead only while everything before them was NUL too (the head is empty).
            let n = crate::source::leading_nuls(&head);
            if n > 0 {
                nuls += n as u64;
                head.drain(..n);
                blank_upto = 0;
                // A file's leading NULs end with the file; a device's (`/dev/zero`) never do.
                if limit.is_none() && nuls > crate::source::MAX_SPECIAL {
                    skip(SkipReason::NulStream { read: nuls });
                    return None;
                }
            }
            let blank = head[blank_upto..].iter().all(u8::is_ascii_whitespace);
            if blank {
                blank_upto = head.len();
            }
            if at_end || (n == 0 && !blank) || head.len() >= BLANK_HEAD_CAP {
                break;
            }
        }
        if nuls > 0 {
            skip(SkipReason::LeadingNul { bytes: nuls });
        }
        if at_end && head.iter().all(u8::is_ascii_whitespace) {
            skip(SkipReason::Empty);
            return None;
        }
        let text_start = head
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(0);
        let block = &head[text_start..head.len().min(text_start + BINARY_SNIFF)];
        if crate::source::looks_binary(block) {
            skip(SkipReason::Binary);
            return None;
        }
        let format = sniff(&head);
        if format == LogFormat::Audit {
            state.facts.audit.files.insert(name.clone());
            state.audit_file = true;
        }
        let mut reader = head.as_slice().chain(reader);
        let whole = force_whole
            || format == LogFormat::KeyMetadata
            || (format == LogFormat::Text && !gzip && entry.size <= SMALL_FILE);
        let stats = if whole {
            // Read whole and parse like `explain` input.
            let mut bytes = Vec::new();
            let res = (&mut reader)
                .take(METADATA_CAP as u64 + 1)
                .read_to_end(&mut bytes);
            if bytes.len() > METADATA_CAP {
                bytes.truncate(METADATA_CAP);
                skip(SkipReason::Unreadable(format!(
                    "only the first {} were read",
                    crate::model::human_bytes(METADATA_CAP)
                )));
            }
            let stats = excerpt::StreamStats {
                bytes: bytes.len() as u64,
                ..Default::default()
            };
            let loaded = crate::source::decode(&name, bytes);
            for s in loaded.skipped {
                skip(s.reason);
            }
            if let Some(input) = loaded.input {
                state.take_whole(input);
            }
            res.map(|_| stats.clone()).map_err(|e| (stats, e))
        } else {
            let stats = excerpt::chunks_of(&mut reader, self.chunk, |region, first_line| {
                state.region(region, first_line);
            });
            state.flush();
            self.memo_lines
                .fetch_add(state.memo_used as u64, std::sync::atomic::Ordering::Relaxed);
            stats
        };
        let stats = match stats {
            Ok(stats) => stats,
            Err((stats, e)) => {
                skip(read_error(gzip, stats.bytes, &e));
                stats
            }
        };
        if let Some((line, bytes)) = stats.long_line {
            skip(SkipReason::LongLine { line, bytes });
        }
        let read = read_from_disk.load(std::sync::atomic::Ordering::Relaxed);
        if read < entry.size && problems.get() == 0 {
            skip(SkipReason::Shrank {
                listed: entry.size,
                read,
            });
        }
        if stats.invalid_utf8 > 0 {
            skip(SkipReason::InvalidUtf8 {
                replaced: stats.invalid_utf8,
            });
        }
        dedup_skipped(skipped);
        state.bytes = stats.bytes;
        state.lines = stats.lines;
        Some((
            FileSummary {
                name,
                format,
                gzip,
                bytes: stats.bytes,
                records: state.records,
            },
            !whole && !gzip,
        ))
    }
}

/// Add the failures counted without following them to what the report leaves out.
fn count_untracked(d: &mut crate::diagnosis::Diagnosis, u: &correlate::Untracked, cap: usize) {
    if u.is_empty() {
        return;
    }
    let o = d.omitted.get_or_insert_with(|| crate::diagnosis::Omitted {
        cap,
        findings: 0,
        failures: 0,
        by_class: Vec::new(),
        untracked: 0,
        untracked_top: Vec::new(),
        groups: Vec::new(),
    });
    o.untracked_top = u.most_frequent(5);
    for (class, groups) in &u.groups {
        let failures = u.failures.get(class).copied().unwrap_or(0);
        o.findings += groups.len();
        o.failures += failures;
        o.untracked += groups.len();
        match o.by_class.iter_mut().find(|(c, _, _)| c == class) {
            Some((_, n, f)) => {
                *n += groups.len();
                *f += failures;
            }
            None => o.by_class.push((*class, groups.len(), failures)),
        }
    }
    o.by_class.sort_by_key(|(_, n, _)| std::cmp::Reverse(*n));
}

fn entry_dir(entry: &FileEntry) -> String {
    entry
        .path
        .parent()
        .unwrap_or(Path::new(""))
        .display()
        .to_string()
}

fn read_error(gzip: bool, after: u64, e: &std::io::Error) -> SkipReason {
    if gzip {
        SkipReason::CorruptGzip {
            after,
            why: e.to_string(),
        }
    } else {
        SkipReason::Unreadable(format!("read error after {after} bytes: {e}"))
    }
}

fn dedup_skipped(list: &mut Vec<Skipped>) {
    let mut seen = Vec::new();
    list.retain(|s| {
        let key = (s.source.clone(), std::mem::discriminant(&s.reason));
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
}

/// Per-file accumulation while streaming.
struct FileState<'a> {
    scanner: &'a Scanner,
    name: String,
    dir: String,
    facts: Facts,
    /// Decompressed bytes and lines read so far.
    bytes: u64,
    lines: usize,
    /// Each followed group's failures so far, and how many of its records are kept (the facts'
    /// groups, ordered when the file is done: a lookup per failure in a map of thousands of keys
    /// is a hash, not a walk of string comparisons). A group here is followed for good, so the
    /// scanner's shared set is asked only about groups new to this file.
    groups: FastMap<GroupKey, (correlate::GroupFacts, usize)>,
    /// Every rule match by rule, alias and key so far (the facts' signals, likewise).
    signals: FastMap<correlate::SignalKey, correlate::Signal>,
    kept_notes: HashMap<String, usize>,
    /// Kept records' raw bytes, by their first line in the file (each block once, in order).
    kept: BTreeMap<usize, Vec<u8>>,
    /// Records cut but not yet analysed (see [`FileState::flush`]).
    pending: Vec<Pending>,
    pending_bytes: usize,
    /// Successes per key: (first ms, last ms, count, line of the last).
    successes: FastMap<String, Use>,
    /// An input read whole (metadata, small files): kept as it is.
    whole: Option<Input>,
    records: usize,
    /// The lower-cased copy of the chunk the prefilter searches (reused).
    lowered: Vec<u8>,
    /// An audit log: nearly every line is a hit, so lines are taken one by one (see
    /// [`audit_hit_lines`]).
    audit_file: bool,
    /// The dense path (`memo.rs`): the analysis of a line that is a record on its own, without
    /// its line and time, by the line without its timestamp; how many such templates were
    /// made and how often one stood for a line (a log of one-off failures stops making them).
    memo: FastMap<Vec<u8>, Arc<Template>>,
    memo_made: usize,
    memo_used: usize,
}

impl<'a> FileState<'a> {
    fn new(scanner: &'a Scanner, name: String, dir: String) -> Self {
        Self {
            scanner,
            name,
            dir,
            facts: Facts::default(),
            bytes: 0,
            lines: 0,
            groups: FastMap::default(),
            signals: FastMap::default(),
            kept_notes: HashMap::new(),
            kept: BTreeMap::new(),
            pending: Vec::new(),
            pending_bytes: 0,
            successes: FastMap::default(),
            whole: None,
            records: 0,
            lowered: Vec::new(),
            audit_file: false,
            memo: FastMap::default(),
            memo_made: 0,
            memo_used: 0,
        }
    }

    /// Whether the lines analysed next may become templates: the memo is on, not full, and
    /// the templates made so far are being used (distinct one-off failures make none).
    fn memo_open(&self) -> bool {
        self.scanner.memo
            && self.memo.len() < MEMO_CAP
            && (self.memo_made < MEMO_TRIAL || self.memo_used >= self.memo_made)
    }

    /// One chunk of whole records; `first_line` is the line number of its first line.
    fn region(&mut self, region: &[u8], first_line: usize) {
        self.span_of(region);
        let hits = match &self.scanner.prefilter {
            Some(p) if self.audit_file => {
                audit_hit_lines(region, p, self.scanner.audit_action_is_literal)
            }
            Some(p) => p.hit_lines(region, &mut self.lowered),
            None => all_lines(region),
        };
        if hits.is_empty() {
            return;
        }
        let mut cursor = (0usize, first_line);
        let mut line_at = |at: usize| -> usize {
            let (pos, line) = cursor;
            let l = if at >= pos {
                line + memchr_iter(b'\n', &region[pos..at]).count()
            } else {
                line - memchr_iter(b'\n', &region[at..pos]).count()
            };
            cursor = (at, l);
            l
        };
        let mut blocks: Vec<Block> = Vec::new();
        let mut last_end = 0usize;
        for hit in hits {
            let line = &region[hit.clone()];
            if is_audit_line(line) {
                let number = line_at(hit.start);
                if self.audit_fast_path(line, number) {
                    continue;
                }
            } else if let Some((id, name)) = node_name_and_id(line) {
                self.facts.node_aliases.insert((id, name));
                continue;
            } else if let Some(version) = server_version(line) {
                self.facts.version = self.facts.version.max(Some(version));
                continue;
            }
            let rec = excerpt::record_around(region, hit.clone());
            if rec.start < last_end && !blocks.is_empty() {
                continue;
            }
            last_end = rec.end;
            blocks.push(Block {
                line: line_at(rec.start),
                single: rec == hit,
                raw: region[rec].to_vec(),
            });
        }
        if blocks.is_empty() {
            return;
        }
        self.pending_bytes += blocks.iter().map(|b| b.raw.len()).sum::<usize>();
        self.pending.push(Pending { blocks });
        if self.pending_bytes >= self.scanner.batch {
            self.flush();
        }
    }

    /// Widen the time span read with the region's first and last timestamped lines.
    fn span_of(&mut self, region: &[u8]) {
        let stamp = |line: &[u8]| -> Option<i64> {
            let head = &line[..line.len().min(512)];
            let text = std::str::from_utf8(head).ok()?;
            crate::event::line_timestamp(text).and_then(|t| parse_ts(&t))
        };
        let mut lines = region.split(|b| *b == b'\n');
        if let Some(ms) = lines.by_ref().take(64).find_map(stamp) {
            self.facts.widen_span(ms);
        }
        if let Some(ms) = region.rsplit(|b| *b == b'\n').take(64).find_map(stamp) {
            self.facts.widen_span(ms);
        }
    }

    /// Analyse the pending records on the pool (the costly part when failures are dense): the
    /// lines a template stands for are looked up, the rest parsed and matched. Then fold them
    /// in file order.
    fn flush(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let (name, rules, opts) = (&self.name, &self.scanner.rules, &self.scanner.opts);
        let offer = self.memo_open();
        let memo = &self.memo;
        let analysed: Vec<Analysed> = pending
            .into_par_iter()
            .map(|p| analyse_pending(p, name, rules, opts, offer, memo))
            .collect();
        for Analysed {
            analysis,
            raw,
            templates,
            memo_used,
        } in analysed
        {
            self.memo_used += memo_used;
            let keep = self.apply(analysis, false);
            for line in keep {
                // The block whose first line is at or before the kept record's line.
                let idx = raw.partition_point(|(l, _)| *l <= line).saturating_sub(1);
                if let Some((l, bytes)) = raw.get(idx) {
                    self.kept.entry(*l).or_insert_with(|| bytes.clone());
                }
            }
            for (key, template) in templates {
                if self.memo.len() >= MEMO_CAP {
                    break;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = self.memo.entry(key) {
                    e.insert(Arc::new(template));
                    self.memo_made += 1;
                }
            }
        }
    }

    /// An input read whole: matched for the facts, kept as it is.
    /// A file that says nothing (no record matched, no key, credential, version or problem in
    /// it) is not kept: a tree of a hundred thousand small logs would be held whole to the end.
    fn take_whole(&mut self, input: Input) {
        let doc = parse_input(&input);
        let kept = self.take_document(&doc, true);
        let tells = !kept.is_empty()
            || !doc.keys.is_empty()
            || !doc.credentials.is_empty()
            || doc.version.is_some()
            || !doc.skipped.is_empty();
        if tells {
            self.whole = Some(input);
        }
    }

    /// Match a document; tally what is not kept. Returns the lines of the records to keep.
    fn take_document(&mut self, doc: &Document, keep_all: bool) -> Vec<usize> {
        let analysis = analyze(doc, &self.scanner.rules, &self.scanner.opts);
        self.apply(analysis, keep_all)
    }

    /// Fold one analysed document into the file's state, in file order: the first few records
    /// of each group are kept, the rest tallied. Returns the lines of the records to keep.
    fn apply(&mut self, analysis: Analysis, keep_all: bool) -> Vec<usize> {
        self.records += analysis.records;
        let mut keep_lines = Vec::new();
        for r in analysis.matched {
            if let (Some(id), Some(name)) = (&r.node_id, &r.node) {
                self.facts.node_aliases.insert((id.clone(), name.clone()));
            }
            // A group first seen once the scan follows its cap of them is counted, not followed:
            // no record kept, no tally, no timeline, no signal (memory stays bounded).
            let mut groups = Vec::with_capacity(r.groups.len());
            let mut untracked = false;
            let mut room = false;
            for (g, c) in r.groups {
                let kept = match self.groups.get(&g) {
                    Some((_, kept)) => *kept,
                    None if self.scanner.follows(&g) => 0,
                    None => {
                        if g.in_focus(&self.scanner.opts) {
                            self.facts.untracked.saw(&g);
                        }
                        untracked = true;
                        continue;
                    }
                };
                room |= kept < KEEP_PER_GROUP;
                groups.push((g, c));
            }
            if groups.is_empty() && untracked && r.notes.is_empty() {
                continue;
            }
            let keep = keep_all
                || room
                || r.notes
                    .iter()
                    .any(|n| self.kept_notes.get(n).copied().unwrap_or(0) < 1);
            let node = r.ms.map(|_| {
                self.facts.intern(NodeRef {
                    name: r.node.clone(),
                    id: r.node_id.clone(),
                    dir: self.dir.clone(),
                })
            });
            for key in r.signals {
                let sig = self
                    .signals
                    .entry(key)
                    .or_insert_with(|| correlate::Signal {
                        source: self.name.clone(),
                        line: r.line,
                        ..Default::default()
                    });
                sig.saw(r.ms, r.node.as_deref());
            }
            for (g, c) in groups {
                let client = match r.ms {
                    Some(_) => self.facts.intern_client(c.client.as_deref()),
                    None => Point::NO_CLIENT,
                };
                let (entry, kept) = match self.groups.get_mut(&g) {
                    Some(entry) => entry,
                    None => self.groups.entry(g).or_default(),
                };
                *kept += usize::from(keep);
                if let (Some(ms), Some(node)) = (r.ms, node) {
                    entry.add_point(Point { node, client, ms });
                }
                if !keep {
                    let t = &mut entry.tally;
                    t.count += 1;
                    // A string is copied only when it is new to the set (nearly every tallied
                    // failure names the node, client and action a hundred before it named).
                    let add = |set: &mut BTreeSet<String>, v: &String| {
                        if !set.contains(v) {
                            set.insert(v.clone());
                        }
                    };
                    c.node.iter().for_each(|v| add(&mut t.nodes, v));
                    c.client.iter().for_each(|v| add(&mut t.clients, v));
                    c.action.iter().for_each(|v| add(&mut t.actions, v));
                    c.indices.iter().for_each(|v| add(&mut t.indices, v));
                    t.statuses.extend(c.status);
                }
            }
            if keep {
                for n in r.notes {
                    *self.kept_notes.entry(n).or_default() += 1;
                }
                keep_lines.push(r.line);
            } else {
                for n in r.notes {
                    *self.facts.note_counts.entry(n).or_default() += 1;
                }
            }
        }
        // Audit events in materialised records: the lifecycle ones feed correlation.
        for event in analysis.audit {
            self.audit_event(event);
        }
        keep_lines
    }

    fn audit_event(&mut self, event: audit::AuditEvent) {
        let ms = event.timestamp.as_deref().and_then(parse_ts);
        if let Some(ms) = ms {
            self.facts.audit.saw(ms);
        }
        self.facts.audit.files.insert(self.name.clone());
        if let Some(node) = event.node.clone() {
            self.facts.audit.nodes.insert(node);
        }
        if let (Some(id), Some(name)) = (&event.node_id, &event.node) {
            if id != name {
                self.facts.node_aliases.insert((id.clone(), name.clone()));
            }
        }
        if event.action.changes_api_keys() {
            self.facts.audit.config_events += 1;
            self.facts.config_events.push((self.name.clone(), event));
        } else if event.action.changes_security_config() {
            self.facts.audit.config_events += 1;
        }
    }

    /// Audit lines that only feed correlation: handled here, without a record. Returns whether
    /// the line was consumed.
    fn audit_fast_path(&mut self, line: &[u8], number: usize) -> bool {
        let fields = AuditFields::of(line);
        let Some(action) = fields.get(b"event.action") else {
            return false;
        };
        let ts = fields.get(b"timestamp");
        let ms = ts.and_then(parse_ts);
        match AuditAction::known(action) {
            Some(
                AuditAction::AccessGranted
                | AuditAction::AuthenticationSuccess
                | AuditAction::RunAsGranted,
            ) => {
                self.audit_seen(&fields, ms);
                if let (Some(id), Some(ms)) = (fields.get(b"apikey.id"), ms) {
                    // The hot path of an audit log: no allocation unless the key or its client
                    // is new.
                    let client = fields.get(b"origin.address").map(correlate::host_of);
                    let user = fields.get(b"user.name");
                    let s = match self.successes.get_mut(id) {
                        Some(s) => s,
                        None => self.successes.entry(id.to_string()).or_insert(Use {
                            first: ms,
                            last: ms,
                            count: 0,
                            line: number,
                            clients: BTreeSet::new(),
                            users: BTreeSet::new(),
                            name: None,
                            requests: HashMap::new(),
                            requests_dropped: 0,
                        }),
                    };
                    if action == "access_granted" && self.scanner.requests_of.contains(id) {
                        keep_request(s, &fields, ms, number);
                    }
                    s.first = s.first.min(ms);
                    if ms >= s.last {
                        s.last = ms;
                        s.line = number;
                    }
                    s.count += 1;
                    if let Some(c) = client {
                        if s.clients.len() < crate::diagnosis::correlate::MAX_USE_CLIENTS
                            && !s.clients.contains(c)
                        {
                            s.clients.insert(c.to_string());
                        }
                    }
                    if let Some(u) = user {
                        if !s.users.contains(u) {
                            s.users.insert(u.to_string());
                        }
                    }
                    if s.name.is_none() {
                        s.name = fields.get(b"apikey.name").map(str::to_string);
                    }
                }
                true
            }
            Some(AuditAction::AnonymousAccessDenied) => {
                self.audit_seen(&fields, ms);
                if let (Some(ms), Some(origin)) = (ms, fields.get(b"origin.address")) {
                    let node = self.facts.intern(NodeRef {
                        name: fields.get(b"node.name").map(str::to_string),
                        id: fields.get(b"node.id").map(str::to_string),
                        dir: self.dir.clone(),
                    });
                    self.facts.add_denial(Denial {
                        node,
                        ms,
                        origin: origin.to_string(),
                    });
                }
                true
            }
            Some(action) if action.changes_api_keys() => {
                let text = String::from_utf8_lossy(line);
                if let Some(mut event) = audit::parse_line(&text, number) {
                    event.line = number;
                    self.audit_event(event);
                }
                true
            }
            _ => {
                self.audit_seen(&fields, ms);
                false
            }
        }
    }

    fn audit_seen(&mut self, fields: &AuditFields<'_>, ms: Option<i64>) {
        if let Some(ms) = ms {
            self.facts.audit.saw(ms);
        }
        if !self.facts.audit.files.contains(&self.name) {
            self.facts.audit.files.insert(self.name.clone());
        }
        if let Some(node) = fields.get(b"node.name").or_else(|| fields.get(b"node.id")) {
            if !self.facts.audit.nodes.contains(node) {
                self.facts.audit.nodes.insert(node.to_string());
            }
        }
    }

    /// The facts so far, with the successes folded in.
    fn facts(&self) -> Facts {
        let mut facts = self.facts.clone();
        facts
            .groups
            .extend(self.groups.iter().map(|(g, (f, _))| (g.clone(), f.clone())));
        facts
            .signals
            .extend(self.signals.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (id, u) in &self.successes {
            facts.add_success(
                id,
                Successes {
                    first_ms: u.first,
                    last_ms: u.last,
                    count: u.count,
                    last_source: format!("{}:{}", self.name, u.line),
                    clients: u.clients.clone(),
                    users: u.users.clone(),
                    name: u.name.clone(),
                    requests: u
                        .requests
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    requests_dropped: u.requests_dropped,
                },
            );
        }
        facts
    }

    /// The kept records as one document, and the facts so far.
    fn snapshot(&self) -> (Option<Document>, Facts) {
        if let Some(input) = &self.whole {
            let mut doc = parse_input(input);
            doc.audit.clear();
            return (Some(doc), self.facts());
        }
        if self.kept.is_empty() {
            return (None, self.facts());
        }
        let mut excerpt = Excerpt::new();
        for (line, bytes) in &self.kept {
            excerpt.push(bytes, *line);
        }
        let (text, map) = excerpt.finish();
        let mut doc = parse_input(&Input {
            name: self.name.clone(),
            text,
        });
        doc.remap_lines(&map);
        // Lifecycle audit events were already taken while streaming, and an over-long line was
        // reported by the stream with its whole length (the excerpt holds only what was kept).
        doc.audit.clear();
        doc.skipped
            .retain(|s| !matches!(s.reason, SkipReason::LongLine { .. }));
        (Some(doc), self.facts())
    }
}

/// Pending excerpt text is parsed in batches of about this many bytes.
const BATCH_BYTES: usize = 1 << 20;

/// Each block's first line in the file and its raw bytes (kept records are copied from here).
type RawBlocks = Vec<(usize, Vec<u8>)>;

/// Records cut out of one chunk, waiting to be analysed.
struct Pending {
    blocks: Vec<Block>,
}

/// One record cut out of a chunk: its first line in the file, whether it is a line on its own
/// (which a template may stand for), and its bytes.
struct Block {
    line: usize,
    single: bool,
    raw: Vec<u8>,
}

/// The template standing for `line` (a record on its own, at file line `number`), if one does:
/// the line is then not parsed. On a miss the bytes are handed back, to be parsed.
fn memo_hit(
    memo: &FastMap<Vec<u8>, Arc<Template>>,
    rules: &RuleSet,
    line: Vec<u8>,
    number: usize,
    key_buf: &mut Vec<u8>,
    candidates_buf: &mut Vec<usize>,
) -> Result<Fast, Vec<u8>> {
    if memo.is_empty() || line.len() > MEMO_LINE_CAP || line.contains(&b'\\') {
        return Err(line);
    }
    let Some(ts) = memo::ts_span(&line) else {
        return Err(line);
    };
    let runs = memo::id_runs(&line, ts.end);
    memo::key_into(key_buf, &line, &ts, &runs);
    let Some(template) = memo.get(key_buf.as_slice()) else {
        return Err(line);
    };
    let Ok(text) = std::str::from_utf8(&line) else {
        return Err(line);
    };
    if !template.fits(&line, &runs) {
        return Err(line);
    }
    // The same rules are tried: a literal in this line's own time or ids (`…,401]`) would make a
    // rule a candidate here that was none for the template.
    rules.candidates_into(text, candidates_buf);
    if *candidates_buf != template.candidates {
        return Err(line);
    }
    Ok(Fast {
        line: number,
        template: template.clone(),
        raw: line,
        ts,
        runs,
    })
}

/// A line a template stands for: where it is, its bytes (kept as evidence if its group wants
/// them), its timestamp's span and its id runs.
struct Fast {
    line: usize,
    raw: Vec<u8>,
    ts: Range<usize>,
    runs: Vec<Range<usize>>,
    template: Arc<Template>,
}

/// What a line's analysis is, for every line apart from it only in time and named ids.
#[derive(Debug)]
struct Template {
    /// The analysis, without line and time; none for a line no rule matches (a prefilter hit
    /// that is no failure, which a log may repeat as often as one).
    record: Option<MatchedRecord>,
    /// Each id run of the line: the key id it is (named in the analysis, which takes another
    /// line's id in its place), or bytes it must be again.
    runs: Vec<Run>,
    /// The rules that were candidates for the line.
    candidates: Vec<usize>,
}

#[derive(Debug)]
enum Run {
    Id(String),
    Fixed(Vec<u8>),
}

impl Template {
    /// Whether `line`, with these id runs, is one this template stands for: its fixed runs are
    /// the same, its ids are no placeholders and repeat where the template's repeat.
    fn fits(&self, line: &[u8], runs: &[Range<usize>]) -> bool {
        if runs.len() != self.runs.len() {
            return false;
        }
        let ids: Vec<(&str, &[u8])> = self
            .runs
            .iter()
            .zip(runs)
            .filter_map(|(run, r)| match run {
                Run::Id(old) => Some((old.as_str(), &line[r.clone()])),
                Run::Fixed(_) => None,
            })
            .collect();
        let fixed_same = self.runs.iter().zip(runs).all(|(run, r)| match run {
            Run::Fixed(bytes) => bytes[..] == line[r.clone()],
            Run::Id(_) => true,
        });
        fixed_same
            && ids.iter().all(|(_, new)| {
                std::str::from_utf8(new)
                    .is_ok_and(|id| !crate::diagnosis::classify::is_placeholder_id(id))
            })
            && ids.iter().enumerate().all(|(i, (old_i, new_i))| {
                ids[i + 1..]
                    .iter()
                    .all(|(old_j, new_j)| (old_i == old_j) == (new_i == new_j))
            })
    }

    /// The analysis of `line` (which [fits](Template::fits)): the template's, with each of its
    /// ids replaced by the line's at the same run.
    fn instantiate(&self, line: &[u8], runs: &[Range<usize>]) -> Option<MatchedRecord> {
        let pairs: Vec<(&str, &str)> = self
            .runs
            .iter()
            .zip(runs)
            .filter_map(|(run, r)| match run {
                Run::Id(old) => Some((old.as_str(), std::str::from_utf8(&line[r.clone()]).ok()?)),
                Run::Fixed(_) => None,
            })
            .collect();
        let mut record = self.record.clone()?;
        if pairs.iter().all(|(old, new)| old == new) {
            return Some(record);
        }
        for (g, _) in &mut record.groups {
            if let Some(&(old, new)) = pairs.iter().find(|(old, _)| g.key() == Some(*old)) {
                g.replace_key(old, new);
            }
        }
        for sig in &mut record.signals {
            if let Some(&(_, new)) = pairs
                .iter()
                .find(|(old, _)| sig.key_id.as_deref() == Some(*old))
            {
                sig.key_id = Some(new.to_string());
            }
        }
        Some(record)
    }
}

/// Templates remembered per file, at most.
const MEMO_CAP: usize = 4096;
/// Templates made before the memo must show it is used (as many uses as templates).
const MEMO_TRIAL: usize = 256;
/// Templates offered per batch of excerpts, at most.
const MEMO_OFFERS: usize = 64;
/// Lines longer than this are never templates.
const MEMO_LINE_CAP: usize = 4096;

/// A pending excerpt analysed: what it adds, every block's bytes in line order (the parsed and
/// the memo's), and the templates it offers.
struct Analysed {
    analysis: Analysis,
    raw: RawBlocks,
    templates: Vec<(Vec<u8>, Template)>,
    /// Lines a template stood for.
    memo_used: usize,
}

/// Parse and match one pending excerpt; fill in the lines templates stand for.
///
/// A template stands for a line only where the line's verdict cannot depend on the records
/// around it, so the parsed records of the same chunk are looked at first: when they hold a
/// credential or key metadata (whose tags and key id reach other records), an HTTP status line
/// (inherited below it), or a record for which a rule reading context is a candidate, the whole
/// chunk is parsed again as if there were no memo. Otherwise (`offer`), each matched record that
/// is a timestamped line on its own, in a chunk like that, becomes a template when the same line
/// at another time, read alone, gives the same analysis.
fn analyse_pending(
    p: Pending,
    name: &str,
    rules: &RuleSet,
    opts: &Options,
    offer: bool,
    memo: &FastMap<Vec<u8>, Arc<Template>>,
) -> Analysed {
    // The lines a template stands for are looked up here, on the pool: the rest is parsed.
    let (mut key_buf, mut candidates_buf) = (Vec::new(), Vec::new());
    let mut excerpt = Excerpt::new();
    let mut raw: RawBlocks = Vec::new();
    let mut fast: Vec<Fast> = Vec::new();
    for Block {
        line,
        single,
        raw: bytes,
    } in p.blocks
    {
        let bytes = if single {
            match memo_hit(memo, rules, bytes, line, &mut key_buf, &mut candidates_buf) {
                Ok(f) => {
                    fast.push(f);
                    continue;
                }
                Err(bytes) => bytes,
            }
        } else {
            bytes
        };
        excerpt.push(&bytes, line);
        raw.push((line, bytes));
    }
    let memo_used = fast.len();
    let (text, map) = excerpt.finish();
    let parse = |text: String, map: &excerpt::LineMap| {
        let mut doc = parse_input(&Input {
            name: name.to_string(),
            text,
        });
        doc.remap_lines(map);
        doc
    };
    let doc = (!text.is_empty()).then(|| parse(text, &map));
    let needs_context = |doc: &Document| {
        !doc.credentials.is_empty()
            || !doc.keys.is_empty()
            || doc
                .records
                .iter()
                .any(|r| crate::event::is_http_status_line(&r.norm) || rules.reads_context(&r.norm))
    };
    let alone = match &doc {
        Some(d) if offer || !fast.is_empty() => !needs_context(d),
        _ => true,
    };
    if !fast.is_empty() && !alone {
        let mut all = raw;
        all.extend(fast.into_iter().map(|f| (f.line, f.raw)));
        all.sort_by_key(|(line, _)| *line);
        let mut excerpt = Excerpt::new();
        for (line, bytes) in &all {
            excerpt.push(bytes, *line);
        }
        let (text, map) = excerpt.finish();
        let doc = parse(text, &map);
        return Analysed {
            analysis: analyze(&doc, rules, opts),
            raw: all,
            templates: Vec::new(),
            memo_used,
        };
    }
    let mut analysis = match &doc {
        Some(d) => analyze(d, rules, opts),
        None => Analysis::default(),
    };
    let templates = if offer && alone {
        offer_templates(&analysis, &raw, rules, opts)
    } else {
        Vec::new()
    };
    let mut all = raw;
    if !fast.is_empty() {
        for f in fast {
            analysis.records += 1;
            // ASCII by the span's grammar.
            let ts = std::str::from_utf8(&f.raw[f.ts.clone()]).unwrap_or_default();
            if opts.in_window(Some(ts)) {
                if let Some(mut r) = f.template.instantiate(&f.raw, &f.runs) {
                    r.line = f.line;
                    r.ms = parse_ts(ts);
                    analysis.matched.push(r);
                }
            }
            all.push((f.line, f.raw));
        }
        analysis.matched.sort_by_key(|r| r.line);
        all.sort_by_key(|(line, _)| *line);
    }
    Analysed {
        analysis,
        raw: all,
        templates,
        memo_used,
    }
}

/// The templates a chunk read alone offers: its matched records that are timestamped lines on
/// their own, each proved by a witness (the same line at another time and naming other ids,
/// read alone, analysed alike, time and ids apart).
fn offer_templates(
    analysis: &Analysis,
    raw: &RawBlocks,
    rules: &RuleSet,
    opts: &Options,
) -> Vec<(Vec<u8>, Template)> {
    let mut out: Vec<(Vec<u8>, Template)> = Vec::new();
    let mut timeless = opts.clone();
    timeless.since_ms = None;
    timeless.until_ms = None;
    // Each single-line block: the record matched there, or none when its line was read (in the
    // window) and matched nothing.
    let mut matched = analysis.matched.iter().peekable();
    for (number, line) in raw {
        if out.len() >= MEMO_OFFERS {
            break;
        }
        while matched.next_if(|r| r.line < *number).is_some() {}
        let r = matched.next_if(|r| r.line == *number);
        if line.len() > MEMO_LINE_CAP || line.contains(&b'\n') || line.contains(&b'\\') {
            continue;
        }
        let (Some(ts), Ok(text)) = (memo::ts_span(line), std::str::from_utf8(line)) else {
            continue;
        };
        if r.is_none() && !opts.in_window(Some(&text[ts.clone()])) {
            continue;
        }
        let runs = memo::id_runs(line, ts.end);
        let key = memo::key(line, &ts, &runs);
        if out.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let Some(template) = template_of(r, line, text, &ts, &runs, rules, &timeless) else {
            continue;
        };
        out.push((key, template));
    }
    out
}

/// The template of the record at `line` (`r`: its match, none when it matched nothing), when
/// its witness proves it.
fn template_of(
    r: Option<&MatchedRecord>,
    line: &[u8],
    text: &str,
    ts: &Range<usize>,
    runs: &[Range<usize>],
    rules: &RuleSet,
    timeless: &Options,
) -> Option<Template> {
    // The ids the analysis names: a run that is one of them is a parameter of the template.
    // Of a line that matched nothing, every run is (its witness names other ids everywhere).
    let named: Vec<&str> = r.map_or_else(Vec::new, |r| {
        r.groups
            .iter()
            .filter_map(|(g, _)| g.key())
            .chain(r.signals.iter().filter_map(|s| s.key_id.as_deref()))
            .collect()
    });
    let kinds: Vec<Run> = runs
        .iter()
        .map(|range| {
            let run = &text[range.clone()];
            if r.is_none() || named.contains(&run) {
                Run::Id(run.to_string())
            } else {
                Run::Fixed(run.as_bytes().to_vec())
            }
        })
        .collect();
    let ids: Vec<&str> = kinds
        .iter()
        .filter_map(|k| match k {
            Run::Id(id) => Some(id.as_str()),
            Run::Fixed(_) => None,
        })
        .collect();
    // Each id once, and nowhere in the analysis but where a key id goes.
    let distinct = ids
        .iter()
        .enumerate()
        .all(|(i, id)| !ids[i + 1..].contains(id));
    let elsewhere = |id: &str| {
        let Some(r) = r else {
            return false;
        };
        r.node.as_deref().is_some_and(|v| v.contains(id))
            || r.node_id.as_deref().is_some_and(|v| v.contains(id))
            || r.notes.iter().any(|n| n.contains(id))
            || r.signals.iter().any(|s| {
                s.rule_id.contains(id) || s.remote.as_deref().is_some_and(|v| v.contains(id))
            })
            || r.groups.iter().any(|(g, c)| {
                g.parts_hold(id)
                    || [&c.node, &c.client, &c.action]
                        .iter()
                        .any(|v| v.as_deref().is_some_and(|v| v.contains(id)))
                    || c.indices.iter().any(|v| v.contains(id))
            })
    };
    if !distinct || ids.iter().any(|id| elsewhere(id)) {
        return None;
    }
    let id_runs: Vec<Range<usize>> = runs
        .iter()
        .zip(&kinds)
        .filter(|(_, k)| matches!(k, Run::Id(_)))
        .map(|(r, _)| r.clone())
        .collect();
    let witness = String::from_utf8(memo::witness(line, ts, &id_runs)).ok()?;
    let doc = parse_input(&Input {
        name: String::new(),
        text: witness,
    });
    if doc.records.len() != 1
        || !doc.credentials.is_empty()
        || !doc.keys.is_empty()
        || !doc.audit.is_empty()
        || crate::event::is_http_status_line(&doc.records[0].norm)
        || rules.reads_context(&doc.records[0].norm)
    {
        return None;
    }
    let alone = analyze(&doc, rules, timeless);
    let witnessed = match alone.matched.as_slice() {
        [] => None,
        [w] => Some(MatchedRecord {
            line: 0,
            ms: None,
            ..w.clone()
        }),
        _ => return None,
    };
    let template = Template {
        record: r.map(|r| MatchedRecord {
            line: 0,
            ms: None,
            ..r.clone()
        }),
        runs: kinds,
        candidates: rules.candidates(text),
    };
    let w_ts = memo::ts_span(doc.text.as_bytes())?;
    let w_runs = memo::id_runs(doc.text.as_bytes(), w_ts.end);
    let expected = template.instantiate(doc.text.as_bytes(), &w_runs);
    (w_runs.len() == runs.len() && expected == witnessed).then_some(template)
}

/// What one document's matches add, computed without touching the file's state (so documents
/// can be analysed in parallel and folded in order).
#[derive(Default)]
struct Analysis {
    records: usize,
    matched: Vec<MatchedRecord>,
    audit: Vec<audit::AuditEvent>,
}

/// A record that matched: where and when, its groups (with what each adds to a tally) and notes.
#[derive(Debug, Clone, PartialEq)]
struct MatchedRecord {
    line: usize,
    ms: Option<i64>,
    node: Option<String>,
    node_id: Option<String>,
    groups: Vec<(GroupKey, Contribution)>,
    notes: Vec<String>,
    signals: Vec<correlate::SignalKey>,
}

/// What one match adds to its group's tally when its record is not kept.
#[derive(Debug, Clone, PartialEq)]
struct Contribution {
    node: Option<String>,
    client: Option<String>,
    action: Option<String>,
    indices: Vec<String>,
    status: Option<u16>,
}

/// Match `doc` and reduce every matched record (inside `--since`/`--until`) to what the fold needs.
fn analyze(doc: &Document, rules: &RuleSet, opts: &Options) -> Analysis {
    let matches = rules.match_given(doc, &opts.given_tags());
    let mut by_record: BTreeMap<usize, Vec<&crate::rule::RuleMatch>> = BTreeMap::new();
    for m in &matches {
        by_record.entry(m.record).or_default().push(m);
    }
    let mut matched = Vec::with_capacity(by_record.len());
    for (record_idx, ms) in by_record {
        let record = &doc.records[record_idx];
        let fields = record.fields();
        if !opts.in_window(fields.timestamp.as_deref()) {
            continue;
        }
        let mut groups: Vec<(GroupKey, &crate::rule::RuleMatch)> = Vec::new();
        let mut notes = Vec::new();
        let mut signals = Vec::new();
        let has_finding = ms
            .iter()
            .any(|m| matches!(rules.rules[m.rule].class, RuleClass::Finding(_)));
        for m in &ms {
            let rule = &rules.rules[m.rule];
            // Beside a finding, a note of the same record is context, not a symptom of its own
            // ("failed to open any proxy connections" over a refused handshake).
            if !(has_finding && rule.class == RuleClass::Note) {
                let signal = correlate::SignalKey {
                    rule_id: rule.id.clone(),
                    remote: m
                        .capture("remote")
                        .map(str::to_string)
                        .or_else(|| fields.remote.clone()),
                    key_id: m.capture("key_id").map(str::to_string),
                };
                if !signals.contains(&signal) {
                    signals.push(signal);
                }
            }
            match rule.class {
                RuleClass::Note => notes.push(rule.id.clone()),
                RuleClass::Finding(class) => {
                    let g = GroupKey::new(class, rule, m, doc, opts);
                    if !groups.iter().any(|(k, _)| *k == g) {
                        groups.push((g, m));
                    }
                }
            }
        }
        crate::diagnosis::classify::drop_keyless_twins(&mut groups, |(g, _)| g);
        let groups = groups
            .into_iter()
            .map(|(g, m)| {
                let c = Contribution {
                    node: m
                        .capture("node")
                        .map(str::to_string)
                        .or_else(|| fields.node.clone()),
                    client: m
                        .capture("client_ip")
                        .map(str::to_string)
                        .or_else(|| fields.client_ip.clone()),
                    action: m.capture("action").map(str::to_string),
                    indices: m
                        .capture("index")
                        .map(crate::diagnosis::privileges::split_indices)
                        .unwrap_or_default(),
                    status: m
                        .capture("status")
                        .and_then(|s| s.parse().ok())
                        .or(fields.status),
                };
                (g, c)
            })
            .collect();
        matched.push(MatchedRecord {
            line: record.line,
            ms: fields.timestamp.as_deref().and_then(parse_ts),
            node: fields.node.clone(),
            node_id: node_id_of(&record.norm),
            groups,
            notes,
            signals,
        });
    }
    Analysis {
        records: doc.records.len(),
        matched,
        audit: doc.audit.clone(),
    }
}

/// The prefilter's literal every audit line of Elasticsearch holds.
const AUDIT_ACTION: &[u8] = b"\"event.action\":";
static AUDIT_ACTION_FINDER: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(AUDIT_ACTION));
static AUDIT_TYPE: LazyLock<[memmem::Finder<'static>; 2]> = LazyLock::new(|| {
    [
        memmem::Finder::new(b"\"type\":\"audit\""),
        memmem::Finder::new(b"\"type\": \"audit\""),
    ]
});

/// The lines of an audit log's `region` that the prefilter would find, without its search: an
/// audit line holding `"event.action":` holds that literal (when the rules have it); any other
/// line is tested by the prefilter's automaton.
fn audit_hit_lines(region: &[u8], p: &LinePrefilter, sure: bool) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < region.len() {
        let end = memchr::memchr(b'\n', &region[start..]).map_or(region.len(), |i| start + i);
        let line = &region[start..end];
        if (sure && is_audit_line(line) && AUDIT_ACTION_FINDER.find(line).is_some())
            || p.is_hit(line)
        {
            out.push(start..end);
        }
        start = end + 1;
    }
    out
}

/// Every line of `region` (when a rule has no literal to prefilter on).
fn all_lines(region: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for nl in memchr_iter(b'\n', region) {
        if nl > start {
            out.push(start..nl);
        }
        start = nl + 1;
    }
    if start < region.len() {
        out.push(start..region.len());
    }
    out
}

fn is_audit_line(line: &[u8]) -> bool {
    let head = &line[..line.len().min(64)];
    AUDIT_TYPE.iter().any(|f| f.find(head).is_some())
}

/// One granted request of a key the scanner keeps them of: its action and its `indices` (the
/// raw JSON array as written, or empty), counted with when it was last seen.
fn keep_request(s: &mut Use, fields: &AuditFields<'_>, ms: i64, number: usize) {
    let Some(action) = fields.get(b"action") else {
        return;
    };
    let indices = fields.get(b"indices").unwrap_or("");
    let key = (action.to_string(), indices.to_string());
    let full = s.requests.len() >= correlate::MAX_USE_REQUESTS;
    match s.requests.get_mut(&key) {
        Some(r) => r.saw(ms, number),
        None if full => s.requests_dropped += 1,
        None => {
            s.requests.insert(
                key,
                correlate::RequestUse {
                    count: 1,
                    first_ms: ms,
                    last_ms: ms,
                    line: number,
                },
            );
        }
    }
}

/// The fields of an audit line that the fast path reads.
const AUDIT_KEYS: [&[u8]; 10] = [
    b"event.action",
    b"timestamp",
    b"apikey.id",
    b"apikey.name",
    b"origin.address",
    b"user.name",
    b"node.name",
    b"node.id",
    b"action",
    b"indices",
];

/// The one field of [`AUDIT_KEYS`] whose value is an array: it is returned as written.
const AUDIT_ARRAY_KEY: &[u8] = b"indices";

/// The string values of [`AUDIT_KEYS`] in a flat JSON line, found in one pass without parsing
/// the line (audit lines are one object with string fields; values with escapes are returned as
/// written). A key's first occurrence counts: when its value is not a string (or not UTF-8), the
/// field is `None`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct AuditFields<'l> {
    values: [Option<&'l str>; AUDIT_KEYS.len()],
}

impl<'l> AuditFields<'l> {
    fn of(line: &'l [u8]) -> Self {
        let mut out = Self::default();
        let mut seen = 0u16;
        let all = (1u16 << AUDIT_KEYS.len()) - 1;
        let mut i = 0;
        while seen != all {
            let Some(q) = memchr::memchr(b'"', &line[i.min(line.len())..]) else {
                break;
            };
            let key_start = i + q + 1;
            let key_end = string_end(line, key_start);
            let mut j = key_end + 1;
            while line.get(j) == Some(&b' ') {
                j += 1;
            }
            if line.get(j) != Some(&b':') {
                // A value, not a key.
                i = key_end + 1;
                continue;
            }
            j += 1;
            while line.get(j) == Some(&b' ') {
                j += 1;
            }
            let key = &line[key_start..key_end.min(line.len())];
            let slot = AUDIT_KEYS.iter().position(|k| *k == key);
            if line.get(j) == Some(&b'"') {
                let value_end = string_end(line, j + 1);
                if let Some(k) = slot.filter(|k| seen & (1 << k) == 0) {
                    seen |= 1 << k;
                    out.values[k] = line
                        .get(j + 1..value_end.min(line.len()))
                        .and_then(|v| std::str::from_utf8(v).ok());
                }
                i = value_end + 1;
            } else if line.get(j) == Some(&b'[') && key == AUDIT_ARRAY_KEY {
                let end = array_end(line, j + 1);
                if let Some(k) = slot.filter(|k| seen & (1 << k) == 0) {
                    seen |= 1 << k;
                    out.values[k] = line
                        .get(j..(end + 1).min(line.len()))
                        .and_then(|v| std::str::from_utf8(v).ok());
                }
                i = end + 1;
            } else {
                if let Some(k) = slot {
                    seen |= 1 << k;
                }
                i = j;
            }
        }
        out
    }

    fn get(&self, key: &[u8]) -> Option<&'l str> {
        AUDIT_KEYS
            .iter()
            .position(|k| *k == key)
            .and_then(|k| self.values[k])
    }
}

/// Where the array whose first element starts at `from` ends: its closing bracket (past the
/// strings and arrays in it), or the line's end.
fn array_end(line: &[u8], from: usize) -> usize {
    let mut j = from;
    let mut depth = 0usize;
    while j < line.len() {
        match memchr::memchr3(b'"', b'[', b']', &line[j..]) {
            None => return line.len(),
            Some(at) => match line[j + at] {
                b']' if depth == 0 => return j + at,
                b']' => {
                    depth -= 1;
                    j += at + 1;
                }
                b'[' => {
                    depth += 1;
                    j += at + 1;
                }
                _ => j = string_end(line, j + at + 1) + 1,
            },
        }
    }
    line.len()
}

/// Where the string that starts at `from` ends: its closing quote (past a backslash's byte), or
/// the line's end.
fn string_end(line: &[u8], from: usize) -> usize {
    let mut j = from;
    while j < line.len() {
        match memchr::memchr2(b'"', b'\\', &line[j..]) {
            None => return line.len(),
            Some(at) if line[j + at] == b'"' => return j + at,
            Some(at) => j += at + 2,
        }
    }
    line.len()
}

static NODE_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""(?:elasticsearch\.)?node\.id"\s*:\s*"([^"]+)""#).expect("node id regex")
});
static NODE_NAME_AND_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"node name \[([^\]]+)\], node ID \[([^\]]+)\]").expect("node alias regex")
});

static SERVER_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)version\[(\d+\.\d+\.\d+)[^\]]*\], pid\[|Elasticsearch version determined \((\d+\.\d+\.\d+)\)")
        .expect("version regex")
});

/// The version a node logs at start-up (`version[8.12.2], pid[7]`), or Logstash finds.
fn server_version(line: &[u8]) -> Option<crate::model::Version> {
    if memmem::find(line, b"version[").is_none()
        && memmem::find(line, b"version determined").is_none()
    {
        return None;
    }
    let text = String::from_utf8_lossy(line);
    let c = SERVER_VERSION.captures(&text)?;
    let v = c.get(1).or_else(|| c.get(2))?;
    crate::model::Version::parse(v.as_str())
}

fn node_id_of(norm: &str) -> Option<String> {
    if !norm.contains("node.id") {
        return None;
    }
    NODE_ID.captures(norm).map(|c| c[1].to_string())
}

/// The server's start-up line `node name [es-1], node ID [0RMN…]`.
fn node_name_and_id(line: &[u8]) -> Option<(String, String)> {
    memmem::find(line, b"node ID [")?;
    let text = String::from_utf8_lossy(line);
    let c = NODE_NAME_AND_ID.captures(&text)?;
    Some((c[2].to_string(), c[1].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log of every shape the dense path must tell apart, over many chunks: failures that
    /// repeat (the memo's case) beside credentials, status lines, bodies, stack traces, JSON
    /// lines and messages whose rules read context, in a fixed pseudo-random order.
    fn mixed_log(lines: usize, seed: u64, distinct: bool) -> String {
        let mut x = seed;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let keys = [
            "VuaCfGcBCdbkQm-e5aOx",
            "zcwN3YEBBmnjw-K-hW5_",
            "j7c0WYIBqecB5CbVR6Oq",
        ];
        let nodes = ["es-node-0", "es-node-1"];
        let mut out = String::new();
        for i in 0..lines {
            let ms = i * 137;
            // Now and then a millisecond part that is a literal of a context rule (401, 403).
            let frac = match next(100) {
                0 => 401,
                1 => 403,
                _ => (ms % 1000) as u64,
            };
            let ts = format!(
                "2026-11-{:02}T{:02}:{:02}:{:02},{frac:03}",
                20 + (ms / 86_400_000) % 8,
                (ms / 3_600_000) % 24,
                (ms / 60_000) % 60,
                (ms / 1000) % 60
            );
            // A probe of random ids writes a new one on every line.
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let random: String = (0..20)
                .map(|_| ALPHABET[next(64) as usize] as char)
                .collect();
            let key = if distinct && next(4) > 0 {
                random.as_str()
            } else {
                keys[next(3) as usize]
            };
            let node = nodes[next(2) as usize];
            // Context is rare in real logs (a credential, a status line, a body): a chunk without
            // any is the memo's case, a chunk with one must be parsed whole.
            let line = match next(1000) {
                0..=299 => format!("[{ts}][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [{node}] Authentication using apikey failed - api key [{key}] has been invalidated"),
                300..=399 => format!("[{ts}][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [{node}] Authentication using apikey failed - api key [{key}] has expired"),
                400..=449 => format!("[{ts}][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [{node}] Authentication using apikey failed - unable to find apikey with id {key}"),
                450..=454 => format!("[{ts}][WARN ][o.e.x.s.a.AuthenticationService] [{node}] unable to authenticate with provided credentials and anonymous access is not allowed for this request"),
                455..=459 => format!("[{ts}][INFO ][o.e.x.s.a.RealmsAuthenticator] [{node}] Authorization: ApiKey {}", ["VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==", "bm90LWEta2V5"][next(2) as usize]),
                460..=462 => "HTTP/1.1 401 Unauthorized".to_string(),
                463..=465 => format!("{{\"error\":{{\"type\":\"security_exception\",\"reason\":\"unable to authenticate with provided credentials and anonymous access is not allowed for this request\",\"additional_unsuccessful_credentials\":\"API key: api key [{key}] has been invalidated\"}},\"status\":401}}"),
                466..=469 => format!("[{ts}][ERROR][o.e.x.s.a.ApiKeyService] [{node}] failed to retrieve api key [{key}]\njava.lang.IllegalStateException: api key [{key}] has been invalidated\n\tat org.elasticsearch.xpack.security.authc.ApiKeyService.x(ApiKeyService.java:1)"),
                470..=479 => format!("{{\"@timestamp\":\"{ts}\",\"log.level\":\"WARN\",\"message\":\"Authentication using apikey failed - api key [{key}] has been invalidated\",\"elasticsearch.node.name\":\"{node}\"}}"),
                480..=484 => format!("[{ts}][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [{node}] Authentication using apikey failed - api key [{key}] has been invalidated \\ escaped"),
                485..=489 => format!("[{ts}][WARN ][logstash.outputs.elasticsearch][main] Attempted to send a bulk request but there are no living connections - got response code '401' contacting Elasticsearch at URL 'https://es:9200/'"),
                490..=494 => format!("{ts} ERROR  [elasticsearch] 401 Unauthorized: {{\"error\":{{\"type\":\"security_exception\",\"reason\":\"missing authentication credentials for REST request [/_bulk]\"}}}}"),
                495..=519 => format!("[{ts}][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [{node}] Authentication using apikey failed - api key [{key}] has been invalidated"),
                520..=529 => String::new(),
                // A prefilter hit that no rule matches: the memo remembers that too.
                530..=579 => format!("[{ts}][INFO ][o.e.x.s.a.ApiKeyService] [{node}] api key [{key}] was looked up for the cache"),
                _ => format!("[{ts}][INFO ][o.e.c.r.a.AllocationService] [{node}] routine line {i} with padding"),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    fn scan_text(
        dir: &Path,
        text: &str,
        memo: bool,
        window: (Option<i64>, Option<i64>),
    ) -> (String, u64) {
        let path = dir.join("es.log");
        std::fs::write(&path, text).unwrap();
        let (rules, _) = crate::rule::load(None).unwrap();
        let mut opts = Options::new(None, 1_800_000_000_000);
        opts.max_findings = Some(1000);
        (opts.since_ms, opts.until_ms) = window;
        let scanner = Scanner::new(rules, opts).tuned(4 << 10, 2 << 10, memo);
        let entry = FileEntry {
            path,
            size: text.len() as u64,
            label: None,
        };
        let report = scanner.scan_files(&[entry], &[], Vec::new());
        let used = scanner
            .memo_lines
            .load(std::sync::atomic::Ordering::Relaxed);
        (format!("{:#?}", report.diagnosis), used)
    }

    #[test]
    fn failures_beyond_max_findings_are_counted_whole_and_the_most_frequent_are_shown() {
        // 10 keys failing 20 times, 290 failing 6 times: more than the 4 records kept per
        // group, so most of each group's failures are tallied, not kept.
        let mut text = String::new();
        let mut lines = 0;
        for k in 0..300 {
            let times = if k % 30 == 7 { 20 } else { 6 };
            for t in 0..times {
                text.push_str(&format!(
                    "[2026-11-20T00:{:02}:{:02},000][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [n1] Authentication using apikey failed - api key [Key{k:04}AAAAAAAAAAAAAAA] has been invalidated\n",
                    t % 60,
                    k % 60
                ));
                lines += 1;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("es.log");
        std::fs::write(&path, &text).unwrap();
        let (rules, _) = crate::rule::load(None).unwrap();
        let mut opts = Options::new(None, 1_800_000_000_000);
        opts.max_findings = Some(10);
        let entry = FileEntry {
            path,
            size: text.len() as u64,
            label: None,
        };
        let d = Scanner::new(rules, opts)
            .scan_files(&[entry], &[], Vec::new())
            .diagnosis;
        let shown: Vec<usize> = d.findings.iter().map(|f| f.count).collect();
        let omitted = d.omitted.expect("290 findings left out");
        assert_eq!(
            shown,
            vec![20; 10],
            "the most frequent, each with its own count"
        );
        assert_eq!(omitted.findings, 290);
        assert_eq!(omitted.failures, 290 * 6);
        assert_eq!(shown.iter().sum::<usize>() + omitted.failures, lines);
    }

    #[test]
    fn the_dense_path_finds_what_parsing_every_line_finds() {
        // One half of the log only, for two of them: lines outside the window are read and
        // left out alike, also where a template stands for them, and a line left out is no
        // template of a line that matches nothing.
        let mid = parse_ts("2026-11-20T00:07:00,000");
        for (seed, window, distinct) in [
            (1, (None, None), false),
            (2, (None, None), true),
            (3, (None, mid), false),
            (4, (mid, None), true),
        ] {
            let text = mixed_log(6000, seed, distinct);
            let dir = tempfile::tempdir().unwrap();
            let (plain, none) = scan_text(dir.path(), &text, false, window);
            let (dense, used) = scan_text(dir.path(), &text, true, window);
            assert_eq!(none, 0);
            // The memo stood for a good share of the failure lines (also where each names a
            // new key id), and changed nothing.
            assert!(
                used > 1500,
                "seed {seed}: the memo stood for only {used} lines"
            );
            assert!(
                plain == dense,
                "seed {seed}: the dense path changed the diagnosis"
            );
        }
    }

    #[test]
    fn json_fields_are_read_without_parsing() {
        let line = br#"{"type":"audit", "timestamp":"2024-05-08T01:51:37,250+0000", "node.id":"0RMN", "event.action":"access_granted", "apikey.id":"VuaC", "user.name":"a\"b"}"#;
        let f = AuditFields::of(line);
        assert_eq!(f.get(b"event.action"), Some("access_granted"));
        assert_eq!(f.get(b"apikey.id"), Some("VuaC"));
        assert_eq!(f.get(b"node.id"), Some("0RMN"));
        assert_eq!(f.get(b"id"), None);
        assert_eq!(f.get(b"user.name"), Some(r#"a\"b"#));
    }

    #[test]
    fn the_indices_array_is_read_as_written_past_brackets_in_its_strings() {
        let line = br#"{"type":"audit", "event.action":"access_granted", "indices":["a]b", "c\"]"], "action":"indices:data/read/search", "apikey.id":"K"}"#;
        let f = AuditFields::of(line);
        assert_eq!(f.get(b"indices"), Some(r#"["a]b", "c\"]"]"#));
        assert_eq!(f.get(b"action"), Some("indices:data/read/search"));
        assert_eq!(f.get(b"apikey.id"), Some("K"));
        let names: Vec<String> = serde_json::from_str(f.get(b"indices").unwrap()).unwrap();
        assert_eq!(names, ["a]b", "c\"]"]);
        // Another array-valued field is skipped, not read as `indices`.
        let line = br#"{"user.roles":["x]"], "event.action":"access_granted", "apikey.id":"K"}"#;
        let f = AuditFields::of(line);
        assert_eq!((f.get(b"indices"), f.get(b"apikey.id")), (None, Some("K")));
    }

    /// With the bundled rules' literals, the anchored search, the audit path and the automaton
    /// alone find the same lines: over every fixture file and over texts made of the literals'
    /// pieces, cut, re-cased and glued to noise (a piece that is an anchor but not a literal
    /// must not make a hit; a literal in any case must).
    #[test]
    fn the_anchored_and_audit_searches_find_what_the_automaton_finds() {
        let (rules, _) = crate::rule::load(None).unwrap();
        let scanner = Scanner::new(rules, crate::diagnosis::Options::new(None, 0));
        let p = scanner.prefilter.as_ref().unwrap();
        let automaton = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(scanner.literals())
            .unwrap();
        let mut texts: Vec<Vec<u8>> = Vec::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for entry in walkdir::WalkDir::new(root).into_iter().flatten() {
            if entry.file_type().is_file() {
                if let Ok(text) = std::fs::read(entry.path()) {
                    texts.push(text);
                }
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 33) as usize % n.max(1)
        };
        for _ in 0..200 {
            let mut t = Vec::new();
            for _ in 0..40 {
                let lit = scanner.literals()[next(scanner.literals().len())].as_bytes();
                let (a, b) = match next(3) {
                    0 => (0, lit.len()),
                    _ => {
                        let a = next(lit.len());
                        (a, a + next(lit.len() - a + 1))
                    }
                };
                for &c in &lit[a..b] {
                    t.push(if next(2) == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    });
                }
                t.extend_from_slice(
                    [&b" "[..], b"\n", b"x", b"\r\n", b"\"type\":\"audit\", "][next(5)],
                );
            }
            texts.push(t);
        }
        assert!(!p.anchors().is_empty());
        assert!(
            scanner.audit_action_is_literal,
            "the audit path's shortcut is exercised"
        );
        let mut scratch = Vec::new();
        let mut hits = 0;
        for t in &texts {
            let want = excerpt::hit_lines(t, &automaton);
            hits += want.len();
            assert_eq!(
                p.hit_lines(t, &mut scratch),
                want,
                "{}",
                String::from_utf8_lossy(t)
            );
            assert_eq!(
                audit_hit_lines(t, p, scanner.audit_action_is_literal),
                want,
                "{}",
                String::from_utf8_lossy(t)
            );
        }
        assert!(
            hits > 1000,
            "{hits} hits: the texts must exercise the search"
        );
    }

    /// The field search the one-pass reader replaced: one substring search per key.
    fn json_field<'l>(line: &'l [u8], key: &[u8]) -> Option<&'l str> {
        let mut from = 0;
        while let Some(at) = memmem::find(&line[from..], key) {
            let start = from + at;
            from = start + key.len();
            if start == 0 || line[start - 1] != b'"' || line.get(from) != Some(&b'"') {
                continue;
            }
            let mut i = from + 1;
            while line.get(i).is_some_and(|b| *b == b' ') {
                i += 1;
            }
            if line.get(i) != Some(&b':') {
                continue;
            }
            i += 1;
            while line.get(i).is_some_and(|b| *b == b' ') {
                i += 1;
            }
            if line.get(i) != Some(&b'"') {
                return None;
            }
            let value_start = i + 1;
            let j = string_end(line, value_start);
            return std::str::from_utf8(line.get(value_start..j.min(line.len()))?).ok();
        }
        None
    }

    /// Over every audit line of the fixtures and shapes at the edges (non-string values, nested
    /// objects, arrays of strings, escapes, truncation, a key's name inside a value), the one
    /// pass reads what the per-key search read.
    #[test]
    fn the_one_pass_reader_reads_what_the_per_key_search_read() {
        let mut lines: Vec<Vec<u8>> = vec![
            br#"{"event.action":"access_granted","apikey.id":"a","apikey.id":"b"}"#.to_vec(),
            br#"{"node.id":7,"node.name":"n1","user.name":["x","y"],"origin.address":"1.2.3.4:5"}"#.to_vec(),
            br#"{"request.body":"{\"apikey.id\":\"no\"}","apikey.id":"yes","event.action" : "authentication_success"}"#.to_vec(),
            br#"{"user":{"name":"u"},"user.name":"flat","timestamp":"2024-05-08T01:51:37,250+0000"}"#.to_vec(),
            br#"{"event.action":"access_gran"#.to_vec(),
            br#"{"event.action":"#.to_vec(),
            br#"{"a":"x\\","apikey.name":"k\"q","node.id":"""#.to_vec(),
            b"{\"event.action\":\"access_granted\",\"user.name\":\"\xff\"}".to_vec(),
            b"not json \"timestamp\" : \"t\"".to_vec(),
            Vec::new(),
        ];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for entry in walkdir::WalkDir::new(root).into_iter().flatten() {
            if entry.file_type().is_file() {
                if let Ok(text) = std::fs::read(entry.path()) {
                    lines.extend(
                        text.split(|b| *b == b'\n')
                            .filter(|l| memmem::find(l, b"event.action").is_some())
                            .map(<[u8]>::to_vec),
                    );
                }
            }
        }
        assert!(lines.len() > 50, "the fixtures hold audit lines");
        for line in &lines {
            let f = AuditFields::of(line);
            // The array: what a JSON parser reads as `indices`, when the line is one flat
            // object (as access events are; a config change's nested body may hold `indices`
            // of its own, and the first occurrence counts, as for every field).
            let flat = |v: &serde_json::Value| {
                v.as_object()
                    .is_some_and(|m| m.values().all(|x| !x.is_object()))
            };
            if let Some(value) = serde_json::from_slice::<serde_json::Value>(line)
                .ok()
                .filter(flat)
            {
                let parsed = value.get("indices").filter(|v| v.is_array()).cloned();
                let read = f.get(AUDIT_ARRAY_KEY).map(|raw| {
                    serde_json::from_str::<serde_json::Value>(raw)
                        .unwrap_or_else(|e| panic!("{raw}: {e}"))
                });
                assert_eq!(read, parsed, "indices in {}", String::from_utf8_lossy(line));
            }
            for key in AUDIT_KEYS.into_iter().filter(|k| *k != AUDIT_ARRAY_KEY) {
                assert_eq!(
                    f.get(key),
                    json_field(line, key),
                    "{} in {}",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(line)
                );
            }
        }
    }

    #[test]
    fn startup_line_ties_node_name_to_id() {
        let line = b"[2024-05-08T00:00:00,000][INFO ][o.e.n.Node               ] [es-1] node name [es-1], node ID [0RMNyghk], cluster name [prod]";
        assert_eq!(
            node_name_and_id(line),
            Some(("0RMNyghk".to_string(), "es-1".to_string()))
        );
    }
}
