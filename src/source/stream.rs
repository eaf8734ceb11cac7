//! Opening a file as a byte stream: plain, or gzip (rotated logs) recognised by its magic bytes,
//! whatever its name.
//!
//! - **In**: a path.
//! - **Out**: a reader of the decompressed bytes; whether it was gzip.
//! - **Never**: read the whole file into memory, or trust the file name over the content.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::bufread::MultiGzDecoder;

use super::{io_reason, SkipReason};

/// An opened input.
pub struct Opened {
    /// The decompressed bytes.
    pub reader: Box<dyn Read + Send>,
    /// Whether the file was gzip.
    pub gzip: bool,
    /// Bytes read from disk so far.
    pub read: Arc<AtomicU64>,
}

/// Open `path`; `progress` (if any) counts the bytes read from disk. With `limit`, reading
/// stops there: a file that grows while it is read (a live log) is read as it was when the
/// walk saw it, so a scan always ends.
pub fn open(
    path: &Path,
    progress: Option<Arc<AtomicU64>>,
    limit: Option<u64>,
) -> Result<Opened, SkipReason> {
    // A file the walk listed as regular (it has a size) is opened without blocking and
    // checked: one swapped for a FIFO since must not hang the scan. A stream named on the
    // command line (`<(kubectl logs …)`, no size) is opened as it is and read as it comes.
    let file = if limit.is_some() {
        let (file, meta) = super::open_checked(path)?;
        if !meta.is_file() {
            return Err(SkipReason::NotRegular {
                kind: super::walk::special_kind(&meta.file_type()),
            });
        }
        file
    } else {
        File::open(path).map_err(|e| SkipReason::Unreadable(io_reason(&e)))?
    };
    let read = Arc::new(AtomicU64::new(0));
    let counted = Counting {
        inner: file,
        progress,
        read: Arc::clone(&read),
        remaining: limit.unwrap_or(u64::MAX),
    };
    let mut buffered = BufReader::with_capacity(64 * 1024, counted);
    let head = buffered
        .fill_buf()
        .map_err(|e| SkipReason::Unreadable(io_reason(&e)))?;
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read + Send> = if gzip {
        // Rotated logs can hold several gzip members (logrotate with `delaycompress`, `cat a.gz b.gz`).
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    Ok(Opened { reader, gzip, read })
}

/// Counts bytes read from the underlying file (for the progress bar and the shrink check) and
/// stops at the limit.
struct Counting<R> {
    inner: R,
    progress: Option<Arc<AtomicU64>>,
    read: Arc<AtomicU64>,
    remaining: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let room = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if room == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..room])?;
        self.remaining -= n as u64;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(p) = &self.progress {
            p.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_is_recognised_by_content_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.log");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"hello\n").unwrap();
        std::fs::write(&path, enc.finish().unwrap()).unwrap();
        let mut opened = open(&path, None, None).unwrap();
        assert!(opened.gzip);
        let mut text = String::new();
        opened.reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello\n");
    }
}
