//! Stage 1: bytes in, nothing interpreted.
//!
//! - **In**: paths, `-` or standard input.
//! - **Out**: [`Input`] (a name and its text, read lossily) or a [`Skipped`] entry with a reason.
//! - **Never**: abort the run for one bad input, print anything, or interpret the text.
//!
//! Limits live here so that every later stage can rely on them: binary data is recognised by a
//! NUL byte in the first block (ripgrep's sniff), invalid UTF-8 is replaced lossily and counted,
//! and lines longer than [`LINE_CAP`] are read in pieces by the event stage.

pub mod answers;
pub mod bundle;
pub mod identity;
pub mod inputs;
pub mod sniff;
pub mod stream;
pub mod walk;

use crate::model::human_bytes;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// Lines longer than this are read in pieces of this size (a counted, reported limit).
pub const LINE_CAP: usize = 1 << 20;

/// How many leading bytes are sniffed for a NUL byte.
pub(crate) const BINARY_SNIFF: usize = 8 * 1024;

/// One input, decoded to text.
#[derive(Debug, Clone)]
pub struct Input {
    /// What the user called it: a path as given, or `stdin`.
    pub name: String,
    /// The text, with invalid UTF-8 replaced by U+FFFD.
    pub text: String,
}

/// An input (or part of one) that was not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The input's name.
    pub source: String,
    /// Why it was skipped or only partly read.
    pub reason: SkipReason,
}

/// Why an input was skipped or only partly read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// NUL or control bytes in the first block of text: not text.
    Binary,
    /// NUL bytes at the start, dropped: what a rotation with `copytruncate` leaves when the
    /// writer keeps its offset. The rest was read.
    LeadingNul { bytes: u64 },
    /// The file could not be opened or read.
    Unreadable(String),
    /// Invalid UTF-8 sequences were replaced; the rest was read.
    InvalidUtf8 { replaced: usize },
    /// A line over [`LINE_CAP`] was read in pieces; a message cut at a piece boundary can be missed.
    LongLine { line: usize, bytes: usize },
    /// The input held nothing but white space.
    Empty,
    /// A gzip stream ended in an error after this many decompressed bytes; those were read.
    CorruptGzip { after: u64, why: String },
    /// A symbolic link was not followed (`--follow-links` follows them).
    SymlinkNotFollowed,
    /// Following links led back to a directory already being walked.
    SymlinkLoop { ancestor: String },
    /// Not a regular file (a FIFO, socket or device) inside a directory: reading it could
    /// block forever. Named on the command line, it is read.
    NotRegular { kind: &'static str },
    /// The file was shorter when read than when the walk listed it (truncated or rotated
    /// with `copytruncate` meanwhile); what was there was read.
    Shrank { listed: u64, read: u64 },
    /// Nothing but NUL bytes, more of them than a device stream is read for (`/dev/zero`):
    /// skipped.
    NulStream { read: u64 },
    /// More than `cap` bytes (an endless device such as `/dev/zero`, or a file larger than
    /// keydoctor reads whole): the first `cap` were read.
    Capped { cap: u64 },
}

impl SkipReason {
    /// Whether the input was still read (a warning) rather than skipped whole.
    pub fn is_partial(&self) -> bool {
        matches!(
            self,
            Self::InvalidUtf8 { .. }
                | Self::LongLine { .. }
                | Self::CorruptGzip { .. }
                | Self::Shrank { .. }
                | Self::LeadingNul { .. }
                | Self::Capped { .. }
        )
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Binary => f.write_str(
                "binary data (NUL or control bytes in the first 8 KiB of text); skipped",
            ),
            Self::LeadingNul { bytes } => write!(
                f,
                "{} of NUL bytes at the start (left by a rotation with copytruncate?) were passed over; the rest was read",
                human_bytes(usize::try_from(*bytes).unwrap_or(usize::MAX))
            ),
            Self::Unreadable(why) => write!(f, "could not be read: {why}"),
            Self::InvalidUtf8 { replaced } => write!(
                f,
                "invalid UTF-8: {replaced} byte sequence(s) replaced with U+FFFD; the rest was read"
            ),
            Self::LongLine { line, bytes } => write!(
                f,
                "line {line} is {} long; it was read in {} pieces, and a message cut at a piece boundary can be missed",
                human_bytes(*bytes),
                human_bytes(LINE_CAP)
            ),
            Self::Empty => f.write_str("empty input: nothing to explain"),
            Self::CorruptGzip { after, why } => write!(
                f,
                "corrupt gzip ({why}): the first {} decompressed were read, the rest is lost",
                human_bytes(usize::try_from(*after).unwrap_or(usize::MAX))
            ),
            Self::SymlinkNotFollowed => {
                f.write_str("symbolic link, not followed (pass --follow-links to follow links)")
            }
            Self::SymlinkLoop { ancestor } => {
                write!(f, "symbolic link loop back to {ancestor}; not followed again")
            }
            Self::NotRegular { kind } => write!(
                f,
                "{kind}, not a regular file: not read inside a directory, where it could block the scan (name it on the command line to read it)"
            ),
            Self::NulStream { read } => write!(
                f,
                "{} of NUL bytes and no text (a device such as /dev/zero); skipped",
                human_bytes(usize::try_from(*read).unwrap_or(usize::MAX))
            ),
            Self::Capped { cap } => write!(
                f,
                "more than {}: only the first {} were read (for a larger log, use `scan`, which streams)",
                human_bytes(usize::try_from(*cap).unwrap_or(usize::MAX)),
                human_bytes(usize::try_from(*cap).unwrap_or(usize::MAX))
            ),
            Self::Shrank { listed, read } => write!(
                f,
                "truncated while read: {} when listed, {} read (rotated with copytruncate?); scan again for the rest",
                human_bytes(usize::try_from(*listed).unwrap_or(usize::MAX)),
                human_bytes(usize::try_from(*read).unwrap_or(usize::MAX))
            ),
        }
    }
}

/// Every skipped input with its reason, `; `-separated: what an error says when nothing could
/// be read.
pub(crate) fn skip_reasons(skipped: &[Skipped]) -> String {
    skipped
        .iter()
        .map(|s| format!("{}: {}", s.source, s.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The result of reading one input: the text (if any) and what went wrong on the way.
#[derive(Debug)]
pub struct Loaded {
    /// The decoded input, unless it was skipped whole.
    pub input: Option<Input>,
    /// Skipped or partial-read entries for this input.
    pub skipped: Vec<Skipped>,
}

/// The most `explain` reads of one input (a file, standard input): larger logs are `scan`'s.
pub const MAX_INPUT: u64 = 2 << 30;
/// The most read from a device, FIFO or socket named on the command line (`/dev/zero` never
/// ends).
pub const MAX_SPECIAL: u64 = 64 << 20;
/// The most read of a small file keydoctor needs whole: a configuration, a CA certificate.
pub const MAX_SMALL: u64 = 16 << 20;

/// Open `path` for reading without blocking (a FIFO with no writer would hang `open`), and say
/// what it is: an error for a directory.
pub fn open_checked(path: &Path) -> Result<(std::fs::File, std::fs::Metadata), SkipReason> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        const O_NONBLOCK: i32 = 0o4000;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        const O_NONBLOCK: i32 = 0x0004;
        options.custom_flags(O_NONBLOCK);
    }
    let file = options
        .open(path)
        .map_err(|e| SkipReason::Unreadable(io_reason(&e)))?;
    let meta = file
        .metadata()
        .map_err(|e| SkipReason::Unreadable(io_reason(&e)))?;
    if meta.is_dir() {
        return Err(SkipReason::Unreadable("it is a directory".into()));
    }
    Ok((file, meta))
}

/// At most `cap` bytes of `path` (less for a device, FIFO or socket: [`MAX_SPECIAL`]), and
/// whether there was more.
pub fn read_capped(path: &Path, cap: u64) -> Result<(Vec<u8>, Option<u64>), SkipReason> {
    let (file, meta) = open_checked(path)?;
    let cap = if meta.is_file() {
        cap
    } else {
        cap.min(MAX_SPECIAL)
    };
    let (bytes, more) =
        read_all_capped(file, cap).map_err(|e| SkipReason::Unreadable(io_reason(&e)))?;
    Ok((bytes, more.then_some(cap)))
}

/// A small file read whole as text ([`MAX_SMALL`] at most): a configuration, a rules data
/// file. Its error says why (the caller names the file).
pub fn read_small_text(path: &Path) -> Result<String, String> {
    match read_capped(path, MAX_SMALL) {
        Ok((_, Some(cap))) => Err(format!(
            "larger than {} (not a file keydoctor reads whole)",
            human_bytes(usize::try_from(cap).unwrap_or(usize::MAX))
        )),
        Ok((bytes, None)) => String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string()),
        Err(reason) => Err(reason.to_string()),
    }
}

/// At most `cap` bytes of `reader`, and whether there was more.
fn read_all_capped(reader: impl Read, cap: u64) -> std::io::Result<(Vec<u8>, bool)> {
    let mut bytes = Vec::new();
    let mut limited = reader.take(cap + 1);
    loop {
        match limited.read_to_end(&mut bytes) {
            Ok(_) => break,
            // A FIFO opened without blocking, with a writer that has not written yet.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let more = bytes.len() as u64 > cap;
    bytes.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
    Ok((bytes, more))
}

/// Read a file (or `-` for `stdin`), up to [`MAX_INPUT`] bytes ([`MAX_SPECIAL`] for a device
/// or FIFO); what was cut is a partial-read warning.
pub fn load_path(path: &Path, stdin: &mut dyn Read) -> Loaded {
    let name = path.display().to_string();
    if name == "-" {
        return load_reader("stdin", stdin);
    }
    match read_capped(path, MAX_INPUT) {
        Ok((bytes, cut)) => with_cap(decode(&name, bytes), &name, cut),
        Err(reason) => skipped(&name, reason),
    }
}

/// Read `reader` up to [`MAX_INPUT`] bytes and decode it.
pub fn load_reader(name: &str, reader: &mut dyn Read) -> Loaded {
    match read_all_capped(reader, MAX_INPUT) {
        Ok((bytes, more)) => with_cap(decode(name, bytes), name, more.then_some(MAX_INPUT)),
        Err(err) => skipped(name, SkipReason::Unreadable(io_reason(&err))),
    }
}

fn with_cap(mut loaded: Loaded, name: &str, cut: Option<u64>) -> Loaded {
    if let Some(cap) = cut {
        loaded.skipped.push(Skipped {
            source: name.to_string(),
            reason: SkipReason::Capped { cap },
        });
    }
    loaded
}

fn skipped(name: &str, reason: SkipReason) -> Loaded {
    Loaded {
        input: None,
        skipped: vec![Skipped {
            source: name.to_string(),
            reason,
        }],
    }
}

pub(crate) fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}

/// How many NUL bytes `bytes` starts with.
pub(crate) fn leading_nuls(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| **b == 0).count()
}

/// Whether a block of input is binary rather than text with a stray byte: NUL bytes more than
/// one in 64, or control bytes (other than tab, newline, CR, form feed and ESC) more than one
/// in 10. Leading NULs are passed over before this is asked.
pub(crate) fn looks_binary(block: &[u8]) -> bool {
    let nul = block.iter().filter(|b| **b == 0).count();
    let control = block
        .iter()
        .filter(|b| **b < 0x20 && !matches!(**b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
        .count();
    nul * 64 > block.len() || control * 10 > block.len()
}

/// Decode bytes to text: sniff for binary data, replace invalid UTF-8 and count it.
pub fn decode(name: &str, mut bytes: Vec<u8>) -> Loaded {
    let mut out = Vec::new();
    let nuls = leading_nuls(&bytes);
    if nuls > 0 {
        bytes.drain(..nuls);
        out.push(Skipped {
            source: name.to_string(),
            reason: SkipReason::LeadingNul { bytes: nuls as u64 },
        });
    }
    let head = &bytes[..bytes.len().min(BINARY_SNIFF)];
    if looks_binary(head) {
        return skipped(name, SkipReason::Binary);
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let bytes = err.into_bytes();
            let replaced = bytes
                .utf8_chunks()
                .filter(|chunk| !chunk.invalid().is_empty())
                .count();
            out.push(Skipped {
                source: name.to_string(),
                reason: SkipReason::InvalidUtf8 { replaced },
            });
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };
    if text.trim().is_empty() {
        out.push(Skipped {
            source: name.to_string(),
            reason: SkipReason::Empty,
        });
        return Loaded {
            input: None,
            skipped: out,
        };
    }
    Loaded {
        input: Some(Input {
            name: name.to_string(),
            text,
        }),
        skipped: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_is_what_is_really_binary() {
        let loaded = decode("x", b"abc\0def\0\0\x01\x02".to_vec());
        assert!(loaded.input.is_none());
        assert_eq!(loaded.skipped[0].reason, SkipReason::Binary);
        // A stray NUL in a long text is not binary.
        let mut text = b"api key is expired\n".repeat(100);
        text.push(0);
        assert!(decode("x", text).input.is_some());
        // Leading NULs (copytruncate) are passed over, and said.
        let mut rotated = vec![0u8; 20_000];
        rotated.extend_from_slice(b"api key is expired\n");
        let loaded = decode("x", rotated);
        assert_eq!(loaded.input.unwrap().text, "api key is expired\n");
        assert_eq!(
            loaded.skipped[0].reason,
            SkipReason::LeadingNul { bytes: 20_000 }
        );
    }

    #[test]
    fn invalid_utf8_is_read_lossily_and_counted() {
        let loaded = decode("x", b"api key is expired \xff\xfe and \xc3".to_vec());
        let input = loaded.input.unwrap();
        assert!(input.text.contains("api key is expired"));
        assert_eq!(
            loaded.skipped[0].reason,
            SkipReason::InvalidUtf8 { replaced: 3 }
        );
    }

    #[test]
    fn blank_input_is_empty() {
        let loaded = decode("x", b"  \n\n".to_vec());
        assert!(loaded.input.is_none());
        assert_eq!(loaded.skipped[0].reason, SkipReason::Empty);
    }

    #[test]
    fn human_bytes_reads_well() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(LINE_CAP), "1.0 MiB");
    }
}
