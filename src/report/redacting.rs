//! The one redacting writer: every byte keydoctor writes to stdout and stderr goes through it,
//! whatever printed it (a renderer, an error, a warning, the progress line), so that a secret
//! that reached a renderer is still replaced. Renderers do not redact field by field: what they
//! are given was redacted when it was read (records at load, in `event/`), and this writer is
//! the guard on the way out, for the cluster's answers, config and paths too. The one other
//! place is `report::fill`: wrapping could put a credential's name and value on two lines.
//!
//! It holds a line until its end (`\n`, or the progress line's `\r`), redacts it whole with
//! [`crate::secret::redact`], and writes it on; `flush` lets out what is held. A
//! line longer than [`MAX_LINE`] is redacted and written in pieces at whitespace, so memory stays
//! bounded.

use std::io::{self, Write};

use crate::secret::redact;

/// The longest line held whole.
pub const MAX_LINE: usize = 1 << 20;

/// A writer that redacts each line before passing it on.
pub struct Redacting<W: Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> Redacting<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            line: Vec::new(),
        }
    }

    /// Redact `text` (whole lines, or a piece of an over-long one) into `out`.
    fn redact_into(text: &[u8], out: &mut Vec<u8>) {
        let text = String::from_utf8_lossy(text);
        out.extend_from_slice(redact(&text).as_bytes());
    }
}

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Each line is redacted on its own, as it always was; what one call completes is written
        // on in one piece, and only the unfinished tail is held (no copy per line).
        let mut out = Vec::new();
        let mut rest = buf;
        if !self.line.is_empty() {
            match rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
                Some(end) => {
                    self.line.extend_from_slice(&rest[..=end]);
                    rest = &rest[end + 1..];
                    let line = std::mem::take(&mut self.line);
                    Self::redact_into(&line, &mut out);
                }
                None => {
                    self.line.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
        if self.line.is_empty() {
            while let Some(end) = rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
                Self::redact_into(&rest[..=end], &mut out);
                rest = &rest[end + 1..];
            }
            self.line.extend_from_slice(rest);
        }
        while self.line.len() > MAX_LINE {
            // Cut at the last whitespace before the cap (or at the cap), on a char boundary.
            let cut = self.line[..MAX_LINE]
                .iter()
                .rposition(|b| b.is_ascii_whitespace())
                .map_or(MAX_LINE, |i| i + 1);
            let cut = (1..=cut)
                .rev()
                .find(|&i| std::str::from_utf8(&self.line[..i]).is_ok())
                .unwrap_or(cut);
            Self::redact_into(&self.line[..cut], &mut out);
            self.line.drain(..cut);
        }
        if !out.is_empty() {
            self.inner.write_all(&out)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            let mut out = Vec::new();
            Self::redact_into(&line, &mut out);
            self.inner.write_all(&out)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for Redacting<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_split_across_writes_is_redacted_whole() {
        let mut out = Vec::new();
        {
            let mut w = Redacting::new(&mut out);
            w.write_all(b"note: Authorization: ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWky")
                .unwrap();
            w.write_all(b"bHAyYXhUTm1zeWFrdzl0dk5udw==\nnext line, fine\r")
                .unwrap();
            w.write_all(b"tail without newline password: hunter22hunter")
                .unwrap();
            w.flush().unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("ApiKey VuaCfGcBCdbkQm-e5aOx…redacted…\n"),
            "{text}"
        );
        assert!(text.contains("next line, fine\r"), "{text}");
        assert!(!text.contains("hunter22hunter"), "{text}");
        assert!(!text.contains("dWky"), "{text}");
    }

    #[test]
    fn plain_text_passes_byte_for_byte() {
        let mut out = Vec::new();
        let text = "3 findings (1 invalidated) in 8 files.\n  ╭─[x:1]\n\x1b[1mbold\x1b[0m\n";
        Redacting::new(&mut out).write_all(text.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), text);
    }

    /// However the text is cut into writes (one write, line by line, odd sizes, byte by byte),
    /// the output is the same: each line redacted on its own.
    #[test]
    fn the_output_does_not_depend_on_how_writes_are_cut() {
        let mut text = String::new();
        for i in 0..300 {
            text.push_str(&format!(
                "line {i}: Authorization: ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw== ok\r\n"
            ));
            text.push_str("password: hunter22hunter and more\n");
        }
        text.push_str("a tail");
        let run = |sizes: &dyn Fn(usize) -> usize| {
            let mut out = Vec::new();
            {
                let mut w = Redacting::new(&mut out);
                let mut rest = text.as_bytes();
                let mut i = 0;
                while !rest.is_empty() {
                    let n = sizes(i).clamp(1, rest.len());
                    w.write_all(&rest[..n]).unwrap();
                    rest = &rest[n..];
                    i += 1;
                }
                w.flush().unwrap();
            }
            String::from_utf8(out).unwrap()
        };
        let whole = run(&|_| usize::MAX);
        assert!(
            !whole.contains("hunter22hunter") && !whole.contains("dWky"),
            "{whole}"
        );
        assert_eq!(whole.matches("…redacted…").count(), 600, "{whole}");
        assert_eq!(run(&|_| 1), whole);
        assert_eq!(run(&|i| 7 + i % 113), whole);
        let per_line: String = {
            let mut out = Vec::new();
            {
                let mut w = Redacting::new(&mut out);
                for line in text.split_inclusive(['\n', '\r']) {
                    w.write_all(line.as_bytes()).unwrap();
                }
            }
            String::from_utf8(out).unwrap()
        };
        assert_eq!(per_line, whole);
    }
}
