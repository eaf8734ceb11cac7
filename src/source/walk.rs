//! Listing the files under the paths a user gave (`keydoctor scan DIR…`).
//!
//! - **In**: paths (files or directories) and whether to follow symbolic links.
//! - **Out**: the regular files, sorted by path and without duplicates, and a [`Skipped`] entry
//!   for everything that was not listed: unreadable directories, links not followed, loops.
//! - **Never**: follow a link unless asked, walk a loop twice, or stop at the first error.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::{io_reason, SkipReason, Skipped};

/// A file to read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileEntry {
    /// The path as walked (under the root the user gave).
    pub path: PathBuf,
    /// Size on disk in bytes (compressed size for `.gz`), for progress.
    pub size: u64,
    /// The name to show instead of the path (a temporary file standing for an index).
    pub label: Option<String>,
}

impl FileEntry {
    /// The name used in reports.
    pub fn name(&self) -> String {
        match &self.label {
            Some(label) => label.clone(),
            None => self.path.display().to_string(),
        }
    }
}

/// Walk `roots`; directories recursively.
pub fn walk(roots: &[PathBuf], follow_links: bool) -> (Vec<FileEntry>, Vec<Skipped>) {
    let mut files = BTreeSet::new();
    let mut skipped = Vec::new();
    for root in roots {
        let meta = match std::fs::metadata(root) {
            Ok(meta) => meta,
            Err(err) => {
                skipped.push(skip(root, SkipReason::Unreadable(io_reason(&err))));
                continue;
            }
        };
        // A FIFO or device named on the command line (`<(kubectl logs …)`, `/dev/stdin`) is
        // read as a stream; inside a directory it is skipped (see below).
        if !meta.is_dir() {
            files.insert(FileEntry {
                label: None,
                path: root.clone(),
                size: meta.len(),
            });
            continue;
        }
        for entry in WalkDir::new(root)
            .follow_links(follow_links)
            .sort_by_file_name()
        {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    let path = err.path().unwrap_or(root).to_path_buf();
                    let reason = match err.loop_ancestor() {
                        Some(ancestor) => SkipReason::SymlinkLoop {
                            ancestor: ancestor.display().to_string(),
                        },
                        None => SkipReason::Unreadable(
                            err.io_error()
                                .map(io_reason)
                                .unwrap_or_else(|| err.to_string()),
                        ),
                    };
                    skipped.push(skip(&path, reason));
                    continue;
                }
            };
            let kind = entry.file_type();
            if kind.is_symlink() {
                // Only reached when links are not followed (a followed link reports its target).
                skipped.push(skip(entry.path(), SkipReason::SymlinkNotFollowed));
                continue;
            }
            if !kind.is_file() {
                if !kind.is_dir() {
                    skipped.push(skip(
                        entry.path(),
                        SkipReason::NotRegular {
                            kind: special_kind(&kind),
                        },
                    ));
                }
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            files.insert(FileEntry {
                label: None,
                path: entry.into_path(),
                size,
            });
        }
    }
    (files.into_iter().collect(), skipped)
}

/// What a file that is neither regular nor a directory is.
pub(crate) fn special_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    let _ = kind;
    "a special file"
}

fn skip(path: &Path, reason: SkipReason) -> Skipped {
    Skipped {
        source: path.display().to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_sorted_and_links_are_not_followed_by_default() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("b/2.log"), "x").unwrap();
        std::fs::write(dir.path().join("a.log"), "x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path(), dir.path().join("b/loop")).unwrap();
        let (files, skipped) = walk(&[dir.path().to_path_buf()], false);
        let names: Vec<_> = files
            .iter()
            .map(|f| f.path.strip_prefix(dir.path()).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            names,
            vec![PathBuf::from("a.log"), PathBuf::from("b/2.log")]
        );
        #[cfg(unix)]
        assert_eq!(skipped[0].reason, SkipReason::SymlinkNotFollowed);
        #[cfg(unix)]
        {
            let (files, skipped) = walk(&[dir.path().to_path_buf()], true);
            assert_eq!(files.len(), 2);
            assert!(matches!(skipped[0].reason, SkipReason::SymlinkLoop { .. }));
        }
    }
}
