//! `--output FILE`: a report replaces its file whole or not at all. It is written to a temp
//! file beside the target (same directory, so same file system), synced, and renamed over the
//! target only when the command finished; a reader (a Prometheus textfile collector, a
//! dashboard, a ticket upload) never sees half a report, and a failed run leaves the old file.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// A file being written in place of `target`.
pub struct AtomicFile {
    temp: tempfile::NamedTempFile,
    target: PathBuf,
}

impl AtomicFile {
    /// Start writing a replacement for `target` (which need not exist yet; its directory must).
    pub fn create(target: &Path) -> io::Result<Self> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if target.is_dir() {
            return Err(io::Error::other("is a directory"));
        }
        if !dir.is_dir() {
            return Err(io::Error::other(format!(
                "its directory {} does not exist",
                dir.display()
            )));
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)?;
        Ok(Self {
            temp,
            target: target.to_path_buf(),
        })
    }

    /// A second handle on the temp file, to write through.
    pub fn writer(&self) -> io::Result<File> {
        self.temp.as_file().try_clone()
    }

    /// Sync and rename over the target: the report is in place, whole.
    pub fn commit(self) -> io::Result<()> {
        self.temp.as_file().sync_all()?;
        // The file mode a plain `> FILE` would give (tempfile makes it 0600), so a collector
        // running as another user can still read a report it was meant to read.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&self.target)
                .map(|m| m.permissions().mode() & 0o7777)
                .unwrap_or(0o644);
            std::fs::set_permissions(self.temp.path(), std::fs::Permissions::from_mode(mode))?;
        }
        self.temp
            .persist(&self.target)
            .map(|_| ())
            .map_err(|e| e.error)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn the_target_changes_only_at_commit_and_a_dropped_file_leaves_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("report.prom");
        std::fs::write(&target, "old\n").unwrap();
        let file = AtomicFile::create(&target).unwrap();
        let mut w = file.writer().unwrap();
        w.write_all(b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old\n");
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");

        let file = AtomicFile::create(&target).unwrap();
        file.writer().unwrap().write_all(b"half").unwrap();
        drop(file);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
        // No temp file is left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_directory_is_no_target() {
        let dir = tempfile::tempdir().unwrap();
        assert!(AtomicFile::create(dir.path()).is_err());
    }
}
