//! `scan --follow`: keep reading the files as they grow, like `tail -F`.
//!
//! Each poll re-walks the paths (new files are read from their start), reads what plain files
//! appended since the last poll (whole lines only; a line still being written waits for the
//! next poll), and starts a file over when it was rotated (another inode) or truncated. Gzip
//! files and files read whole are read again only when they change. Per-file state is kept, so
//! evidence stays bounded and counts keep growing.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use memchr::{memchr_iter, memrchr};

use super::{entry_dir, FileResult, FileState, FileSummary, Scanner};
use crate::diagnosis::Diagnosis;
use crate::event::excerpt;
use crate::source::walk::{walk, FileEntry};
use crate::source::{io_reason, SkipReason, Skipped};

/// What identifies a file's content between polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

fn identity(path: &std::path::Path) -> Option<Identity> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Identity {
        inode,
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

struct Tail<'a> {
    entry: FileEntry,
    state: FileState<'a>,
    summary: Option<FileSummary>,
    skipped: Vec<Skipped>,
    identity: Option<Identity>,
    /// Plain text read in chunks: followed by offset. Otherwise read again on change.
    by_offset: bool,
    offset: u64,
    next_line: usize,
}

/// Files being followed.
pub struct Follower<'a> {
    scanner: &'a Scanner,
    paths: Vec<PathBuf>,
    follow_links: bool,
    tails: BTreeMap<PathBuf, Tail<'a>>,
    /// What rotated files showed before they were replaced.
    retired: Vec<Tail<'a>>,
    /// Files deliberately not read (rotated archives).
    ignored: Vec<Skipped>,
    walk_skipped: Vec<Skipped>,
}

impl<'a> Follower<'a> {
    /// Follow `paths`.
    pub fn new(scanner: &'a Scanner, paths: Vec<PathBuf>, follow_links: bool) -> Self {
        Self {
            scanner,
            paths,
            follow_links,
            tails: BTreeMap::new(),
            retired: Vec::new(),
            ignored: Vec::new(),
            walk_skipped: Vec::new(),
        }
    }

    /// How many files are being followed.
    pub fn file_count(&self) -> usize {
        self.tails.values().filter(|t| t.summary.is_some()).count()
    }

    /// Read what changed since the last poll; whether anything did.
    pub fn poll(&mut self) -> bool {
        let first = self.tails.is_empty() && self.retired.is_empty();
        let (files, skipped) = walk(&self.paths, self.follow_links);
        self.walk_skipped = skipped;
        let now: Vec<(FileEntry, Option<Identity>)> = files
            .into_iter()
            .map(|e| {
                let id = identity(&e.path);
                (e, id)
            })
            .collect();
        // A file renamed by rotation (same inode, new path) keeps its tail.
        for (entry, id) in &now {
            let Some(id) = id else { continue };
            if self.tails.contains_key(&entry.path) {
                continue;
            }
            let moved = self
                .tails
                .iter()
                .find(|(_, t)| t.identity.is_some_and(|old| old.inode == id.inode))
                .map(|(p, _)| p.clone());
            if let Some(old_path) = moved {
                if !now
                    .iter()
                    .any(|(e, i)| e.path == old_path && i.is_some_and(|i| i.inode == id.inode))
                {
                    let mut tail = self.tails.remove(&old_path).expect("present");
                    tail.entry = entry.clone();
                    self.tails.insert(entry.path.clone(), tail);
                }
            }
        }
        let mut changed = false;
        for (entry, id) in now {
            match self.tails.get_mut(&entry.path) {
                None => {
                    if !first && self.is_rotated_archive(&entry) {
                        self.ignored.push(Skipped {
                            source: entry.name(),
                            reason: SkipReason::Unreadable(
                                "a compressed file that appeared while following: taken for a rotated copy of a log already read, so not read again".into(),
                            ),
                        });
                        continue;
                    }
                    let tail = self.start(entry, id);
                    self.tails.insert(tail.entry.path.clone(), tail);
                    changed = true;
                }
                Some(tail) => {
                    let (Some(old), Some(new)) = (tail.identity, id) else {
                        continue;
                    };
                    if old == new {
                        continue;
                    }
                    let same_file = old.inode == new.inode && new.len >= tail.offset;
                    if tail.by_offset && same_file {
                        changed |= tail.read_more(new);
                        continue;
                    }
                    // A new file at this path (rotation), truncated, or read whole: keep what
                    // the old content showed, read the new content from its start.
                    let fresh = self.start(entry, id);
                    let old_tail = self.tails.insert(fresh.entry.path.clone(), fresh);
                    if let Some(old_tail) = old_tail {
                        if old_tail.by_offset {
                            self.retired.push(old_tail);
                        }
                    }
                    changed = true;
                }
            }
        }
        changed
    }

    fn is_rotated_archive(&self, entry: &FileEntry) -> bool {
        let mut head = [0u8; 2];
        std::fs::File::open(&entry.path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
            && head == [0x1f, 0x8b]
    }

    fn start(&self, entry: FileEntry, now: Option<Identity>) -> Tail<'a> {
        let mut state = FileState::new(self.scanner, entry.name(), entry_dir(&entry));
        let mut skipped = Vec::new();
        let scanned = self
            .scanner
            .scan_into(&entry, &mut state, &mut skipped, false);
        let by_offset = scanned.as_ref().is_some_and(|(_, b)| *b);
        let offset = state.bytes;
        let next_line = state.lines + 1;
        Tail {
            entry,
            summary: scanned.map(|(s, _)| s),
            state,
            skipped,
            identity: now,
            by_offset,
            offset,
            next_line,
        }
    }

    /// The diagnosis of everything read so far.
    pub fn diagnose(&self) -> Diagnosis {
        let results = self
            .retired
            .iter()
            .map(Tail::result)
            .chain(self.tails.values().map(Tail::result))
            .collect();
        let mut skipped = self.walk_skipped.clone();
        skipped.extend(self.ignored.iter().cloned());
        self.scanner.finish(results, skipped).diagnosis
    }
}

impl Tail<'_> {
    fn result(&self) -> FileResult {
        let (doc, facts) = self.state.snapshot();
        FileResult {
            summary: self.summary.clone(),
            doc,
            facts,
            skipped: self.skipped.clone(),
        }
    }

    /// Read the whole lines appended since `offset`.
    fn read_more(&mut self, now: Identity) -> bool {
        let mut file = match std::fs::File::open(&self.entry.path) {
            Ok(f) => f,
            Err(e) => {
                self.skipped.push(Skipped {
                    source: self.entry.name(),
                    reason: SkipReason::Unreadable(io_reason(&e)),
                });
                return false;
            }
        };
        let mut bytes = Vec::new();
        let read = file
            .seek(SeekFrom::Start(self.offset))
            .and_then(|_| file.take(now.len - self.offset).read_to_end(&mut bytes));
        if read.is_err() {
            return false;
        }
        // Whole lines only: a line still being written is read at the next poll.
        let Some(last_nl) = memrchr(b'\n', &bytes) else {
            return false;
        };
        let complete = &bytes[..=last_nl];
        let first_line = self.next_line;
        let state = &mut self.state;
        let _ = excerpt::chunks(&mut &complete[..], |region, line| {
            state.region(region, first_line + line - 1);
        });
        state.flush();
        self.offset += complete.len() as u64;
        self.next_line += memchr_iter(b'\n', complete).count();
        self.identity = Some(Identity {
            len: self.offset,
            ..now
        });
        if let Some(summary) = &mut self.summary {
            summary.bytes = self.offset;
            summary.records = self.state.records;
        }
        true
    }
}
