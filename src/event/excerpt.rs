//! Reading a big log as a stream, and cutting out only the records a prefilter hits.
//!
//! - **In**: a byte stream (a log file, decompressed) and a literal prefilter.
//! - **Out**: regions of whole records ([`chunks`]), the lines a prefilter hits in a region
//!   ([`hit_lines`]), the record around a hit ([`record_around`]) and an [`Excerpt`]: the hit
//!   records joined into one text, with a [`LineMap`] back to the file's own line numbers.
//! - **Never**: hold more than two chunks of a file, allocate per line, or cut a record in two
//!   (except one longer than a chunk, which the reader reports as a long line).
//!
//! A record is what [`super::parse_input`] calls one: a line and its continuation lines. Chunks
//! end where a record starts, so that a stack trace or a pretty-printed body is never split
//! between two chunks.

use std::io::Read;
use std::ops::Range;

use aho_corasick::{AhoCorasick, Input as AcInput};
use memchr::{memchr, memchr_iter, memrchr};

use super::{is_continuation, MAX_RECORD_LINES};
use crate::source::LINE_CAP;

/// Bytes read per chunk; the carried tail of a record is added to it.
pub const CHUNK: usize = 2 << 20;

/// What reading a stream saw, beyond the regions.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StreamStats {
    /// Decompressed bytes read.
    pub bytes: u64,
    /// Lines read.
    pub lines: usize,
    /// The first line over [`LINE_CAP`]: (line, bytes).
    pub long_line: Option<(usize, usize)>,
    /// Invalid UTF-8 sequences seen.
    pub invalid_utf8: usize,
}

/// Read `reader` in chunks that end at a record start and call `f(region, first_line)` for
/// each; `first_line` is the 1-based line number of the region's first line. On a read error
/// the bytes read so far are still handed to `f`, then the error is returned with the stats.
pub fn chunks(
    reader: &mut dyn Read,
    f: impl FnMut(&[u8], usize),
) -> Result<StreamStats, (StreamStats, std::io::Error)> {
    chunks_of(reader, CHUNK, f)
}

/// [`chunks`], reading `chunk` bytes at a time (at least one).
pub fn chunks_of(
    reader: &mut dyn Read,
    chunk: usize,
    mut f: impl FnMut(&[u8], usize),
) -> Result<StreamStats, (StreamStats, std::io::Error)> {
    let chunk = chunk.max(1);
    let mut stats = StreamStats::default();
    // Grown as bytes arrive (read_to_end fills spare capacity without zeroing it): a tiny file
    // costs a tiny buffer, which matters in a tree of a hundred thousand of them.
    let mut buf: Vec<u8> = Vec::new();
    let mut line = 1usize;
    let mut line_len = 0usize; // length so far of the line being read
    let mut eof = false;
    let mut error = None;
    loop {
        if buf.len() < chunk && !eof {
            let start = buf.len();
            let want = (chunk - start) as u64;
            let res = (&mut *reader).take(want).read_to_end(&mut buf);
            let n = buf.len() - start;
            stats.bytes += n as u64;
            match res {
                // Fewer bytes than asked for: the reader is at its end.
                Ok(_) if (n as u64) < want => eof = true,
                Ok(_) => {}
                Err(e) => {
                    eof = true;
                    error = Some(e);
                }
            }
        }
        if buf.is_empty() {
            break;
        }
        let cut = if eof {
            buf.len()
        } else {
            memrchr(b'\n', &buf).map_or(buf.len(), |i| i + 1)
        };
        let end = if eof || cut == buf.len() {
            cut
        } else {
            match last_record_start(&buf[..cut]) {
                0 => cut,
                s => s,
            }
        };
        let region = &buf[..end];
        f(region, line);
        // Count lines, watch for over-long ones, check the encoding.
        let mut prev = 0;
        for nl in memchr_iter(b'\n', region) {
            line_len += nl - prev;
            note_long_line(&mut stats.long_line, line, line_len);
            line += 1;
            line_len = 0;
            prev = nl + 1;
        }
        // A line that goes on past the region (or the last line, without a newline) is noted as
        // far as it has been read: at the end of input, whatever the length, it is whole.
        line_len += region.len() - prev;
        note_long_line(&mut stats.long_line, line, line_len);
        if std::str::from_utf8(region).is_err() {
            stats.invalid_utf8 += region
                .utf8_chunks()
                .filter(|c| !c.invalid().is_empty())
                .count();
        }
        buf.drain(..end);
        if eof && buf.is_empty() {
            break;
        }
    }
    stats.lines = line - usize::from(line_len == 0);
    match error {
        Some(e) => Err((stats, e)),
        None => Ok(stats),
    }
}

/// Where the last record of `region` (which ends with a newline) starts; 0 when the whole
/// region is one record.
/// Notes the first line longer than [`LINE_CAP`] with its whole length: the length grows while
/// the same line goes on over several regions, whatever size they are.
fn note_long_line(long: &mut Option<(usize, usize)>, line: usize, len: usize) {
    if len <= LINE_CAP {
        return;
    }
    match long {
        None => *long = Some((line, len)),
        Some((l, n)) if *l == line => *n = (*n).max(len),
        Some(_) => {}
    }
}

fn last_record_start(region: &[u8]) -> usize {
    let mut end = region.len().saturating_sub(1); // the final newline
    let mut walked = 0;
    loop {
        let start = memrchr(b'\n', &region[..end]).map_or(0, |i| i + 1);
        let line = &region[start..end];
        if line.iter().all(u8::is_ascii_whitespace) {
            return end + 1;
        }
        if !continues(line) || start == 0 || walked >= MAX_RECORD_LINES {
            return start;
        }
        walked += 1;
        end = start - 1;
    }
}

fn continues(line: &[u8]) -> bool {
    let head = &line[..line.len().min(256)];
    match std::str::from_utf8(head) {
        Ok(s) => is_continuation(s),
        Err(e) => is_continuation(std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or("")),
    }
}

/// The lines of `region` in which `ac` finds a literal, in order, as byte ranges without the
/// newline. One search over the whole region; after a hit the search resumes on the next line.
pub fn hit_lines(region: &[u8], ac: &AhoCorasick) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < region.len() {
        let Some(m) = ac.find(AcInput::new(region).span(pos..region.len())) else {
            break;
        };
        let start = memrchr(b'\n', &region[..m.start()]).map_or(0, |i| i + 1);
        let end = memchr(b'\n', &region[m.end()..]).map_or(region.len(), |i| m.end() + i);
        out.push(start..end);
        pos = end + 1;
    }
    out
}

/// The record containing the line `hit`: back to its head, forward over its continuation lines.
/// Over-long records are clipped to [`LINE_CAP`] bytes on each side of the hit.
pub fn record_around(region: &[u8], hit: Range<usize>) -> Range<usize> {
    let mut start = hit.start;
    if continues(&region[hit.clone()]) {
        let mut walked = 0;
        while start > 0 && walked < MAX_RECORD_LINES {
            let prev = memrchr(b'\n', &region[..start - 1]).map_or(0, |i| i + 1);
            let line = &region[prev..start - 1];
            if line.iter().all(u8::is_ascii_whitespace) {
                break;
            }
            start = prev;
            walked += 1;
            if !continues(line) {
                break;
            }
        }
    }
    let mut end = hit.end;
    let mut walked = 0;
    while end < region.len() && walked < MAX_RECORD_LINES {
        let next_start = end + 1;
        if next_start >= region.len() {
            break;
        }
        let next_end =
            memchr(b'\n', &region[next_start..]).map_or(region.len(), |i| next_start + i);
        let line = &region[next_start..next_end];
        if line.iter().all(u8::is_ascii_whitespace) || !continues(line) {
            break;
        }
        end = next_end;
        walked += 1;
    }
    start = start.max(hit.start.saturating_sub(LINE_CAP));
    end = end.min(hit.end.saturating_add(LINE_CAP));
    start..end
}

/// Maps the lines of an [`Excerpt`] back to the file: one run per block, in which excerpt and
/// file lines advance together (the same piecewise map as [`super::OffsetMap`], over lines).
#[derive(Debug, Clone, Default)]
pub struct LineMap(super::OffsetMap);

impl LineMap {
    /// The file's line for excerpt line `line` (both 1-based).
    pub fn to_file(&self, line: usize) -> usize {
        self.0.to_raw(line)
    }
}

/// Records cut out of a file, joined by blank lines (which end a record, so none merges).
#[derive(Debug, Default)]
pub struct Excerpt {
    text: Vec<u8>,
    next_line: usize,
    map: LineMap,
}

impl Excerpt {
    /// An empty excerpt.
    pub fn new() -> Self {
        Self {
            text: Vec::new(),
            next_line: 1,
            map: LineMap::default(),
        }
    }

    /// Add a record whose first line is line `file_line` of the file.
    pub fn push(&mut self, record: &[u8], file_line: usize) {
        self.map.0.runs.push((self.next_line, file_line));
        self.text.extend_from_slice(record);
        self.text.extend_from_slice(b"\n\n");
        self.next_line += memchr_iter(b'\n', record).count() + 2;
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.map.0.runs.is_empty()
    }

    /// The text (read lossily) and the line map.
    pub fn finish(self) -> (String, LineMap) {
        let text = match String::from_utf8(self.text) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        (text, self.map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ac(words: &[&str]) -> AhoCorasick {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(words)
            .unwrap()
    }

    #[test]
    fn chunks_end_at_record_starts_and_count_lines() {
        let mut text = String::new();
        for i in 0..200_000 {
            text.push_str(&format!(
                "[2024-01-01T00:00:00,000][WARN ][o.e.x] line {i}\n"
            ));
            if i % 1000 == 0 {
                text.push_str(
                    "java.lang.Exception: boom\n\tat a.b(C.java:1)\n\tat d.e(F.java:2)\n",
                );
            }
        }
        let mut regions = Vec::new();
        let stats = chunks(&mut text.as_bytes(), |region, line| {
            regions.push((line, region.len()));
            let s = std::str::from_utf8(region).unwrap();
            assert!(s.starts_with('['), "a region starts with a record head");
        })
        .unwrap();
        assert!(regions.len() > 2);
        assert_eq!(regions.iter().map(|r| r.1).sum::<usize>(), text.len());
        assert_eq!(stats.lines, text.lines().count());
        assert_eq!(stats.bytes, text.len() as u64);
    }

    #[test]
    fn a_hit_in_a_stack_frame_yields_the_whole_record() {
        let region =
            b"first line\n[ts][WARN ][x] failed\nCaused by: api key is expired\n\tat x\nnext\n";
        let hits = hit_lines(region, &ac(&["API KEY IS EXPIRED"]));
        assert_eq!(hits.len(), 1);
        let rec = record_around(region, hits[0].clone());
        assert_eq!(
            &region[rec],
            b"[ts][WARN ][x] failed\nCaused by: api key is expired\n\tat x"
        );
    }

    #[test]
    fn excerpt_lines_map_back_to_the_file() {
        let mut ex = Excerpt::new();
        ex.push(b"a\n b", 10);
        ex.push(b"c", 99);
        let (text, map) = ex.finish();
        assert_eq!(text, "a\n b\n\nc\n\n");
        assert_eq!(map.to_file(1), 10);
        assert_eq!(map.to_file(2), 11);
        assert_eq!(map.to_file(4), 99);
    }

    #[test]
    fn read_errors_keep_what_was_read() {
        struct Failing(bool);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 {
                    return Err(std::io::Error::other("corrupt deflate stream"));
                }
                self.0 = true;
                buf[..6].copy_from_slice(b"hello\n");
                Ok(6)
            }
        }
        let mut seen = Vec::new();
        let err = chunks(&mut Failing(false), |r, _| seen.extend_from_slice(r)).unwrap_err();
        assert_eq!(seen, b"hello\n");
        assert_eq!(err.0.bytes, 6);
    }
}
