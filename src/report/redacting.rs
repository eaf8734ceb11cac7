//! The one redacting writer: every byte keydoctor writes to stdout and stderr goes through it,
//! whatever printed it (a renderer, an error, a warning, the progress line), so that a secret
//! a renderer let through is still replaced. Renderers redact what they print too; this is the
//! last guard, not the first.
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

    fn emit(&mut self, upto: usize) -> io::Result<()> {
        let text = String::from_utf8_lossy(&self.line[..upto]);
        let clean = redact(&text);
        self.inner.write_all(clean.as_bytes())?;
        self.line.drain(..upto);
        Ok(())
    }
}

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        while let Some(end) = self.line.iter().position(|b| *b == b'\n' || *b == b'\r') {
            self.emit(end + 1)?;
        }
        if self.line.len() > MAX_LINE {
            // Cut at the last whitespace before the cap (or at the cap), on a char boundary.
            let cut = self.line[..MAX_LINE]
                .iter()
                .rposition(|b| b.is_ascii_whitespace())
                .map_or(MAX_LINE, |i| i + 1);
            let cut = (0..=cut)
                .rev()
                .find(|&i| std::str::from_utf8(&self.line[..i]).is_ok())
                .unwrap_or(cut);
            self.emit(cut)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            let upto = self.line.len();
            self.emit(upto)?;
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
}
