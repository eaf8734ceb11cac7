//! The last guard between keydoctor and a terminal: control characters that came from the input
//! (a log line, a file or archive entry name, a key name anyone with `manage_own_api_key` can
//! set, a cluster's answer) are written as visible escapes (`\e`, `\x07`, `\u009b`), never as
//! the bytes a terminal would obey (a window title, a cleared screen, a hyperlink, a clipboard
//! write, text that hides itself). Only the sequences keydoctor itself writes pass: colours
//! (`ESC [ … m`) when colours are on, and on stderr the progress line's `\r` and `ESC [ K`.
//!
//! It works on bytes as they are written, so a sequence split across two writes is held until
//! it is whole. JSON output has no raw control characters (JSON escapes them), so it passes
//! unchanged.

use std::io::{self, Write};

/// What a stream may carry besides text, newlines and tabs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allow {
    /// Colour sequences (`ESC [ digits;… m`).
    pub sgr: bool,
    /// `\r` and `ESC [ K` (the progress line).
    pub progress: bool,
}

/// A writer that escapes every control sequence `allow` does not name.
pub struct ControlGuard<W: Write> {
    inner: W,
    allow: Allow,
    /// Bytes of a sequence not yet whole.
    pending: Vec<u8>,
}

impl<W: Write> ControlGuard<W> {
    pub fn new(inner: W, allow: Allow) -> Self {
        Self {
            inner,
            allow,
            pending: Vec::new(),
        }
    }
}

impl<W: Write> Write for ControlGuard<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pending.is_empty() && !buf.iter().any(|b| needs_look(*b)) {
            self.inner.write_all(buf)?;
            return Ok(buf.len());
        }
        let out = if self.pending.is_empty() {
            let (out, keep) = filter(buf, self.allow, false);
            self.pending.extend_from_slice(&buf[keep..]);
            out
        } else {
            self.pending.extend_from_slice(buf);
            let (out, keep) = filter(&self.pending, self.allow, false);
            self.pending.drain(..keep);
            out
        };
        self.inner.write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let (out, _) = filter(&self.pending, self.allow, true);
            self.pending.clear();
            self.inner.write_all(&out)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for ControlGuard<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Escape what `allow` does not name. Returns the output and how much of `buf` was consumed
/// (the rest starts a sequence that may still be completed; with `last`, everything is).
fn filter(buf: &[u8], allow: Allow, last: bool) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(buf.len());
    let mut i = 0;
    let mut plain = 0;
    while i < buf.len() {
        let b = buf[i];
        if !needs_look(b) {
            i += 1;
            continue;
        }
        out.extend_from_slice(&buf[plain..i]);
        match look(&buf[i..], allow) {
            Look::Incomplete if !last => return (out, i),
            Look::Incomplete => {
                escape_byte(buf[i], &mut out);
                i += 1;
            }
            Look::Pass(n) => {
                out.extend_from_slice(&buf[i..i + n]);
                i += n;
            }
            Look::Text(n) => {
                out.extend_from_slice(&buf[i..i + n]);
                i += n;
            }
            Look::Escape(n, code) => {
                match code {
                    // `\u009b`: readable, and a valid escape inside a JSON string too (the
                    // only place a JSON report can hold such a character).
                    Some(cp) => out.extend_from_slice(format!("\\u{cp:04x}").as_bytes()),
                    None => escape_byte(buf[i], &mut out),
                }
                i += n;
            }
        }
        plain = i;
    }
    out.extend_from_slice(&buf[plain..]);
    (out, buf.len())
}

/// A byte that may start a control character or sequence (newline and tab never do).
fn needs_look(b: u8) -> bool {
    (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f || b == 0xC2 || b == 0xE2
}

enum Look {
    /// The bytes may still become an allowed sequence.
    Incomplete,
    /// An allowed sequence of this many bytes.
    Pass(usize),
    /// Ordinary text (a UTF-8 character that is no control) of this many bytes.
    Text(usize),
    /// Escape this many bytes: a code point, or the one control byte.
    Escape(usize, Option<u32>),
}

fn look(s: &[u8], allow: Allow) -> Look {
    match s[0] {
        0x1b => {
            if s.len() < 2 {
                return Look::Incomplete;
            }
            if s[1] != b'[' {
                return Look::Escape(1, None);
            }
            let mut j = 2;
            while j < s.len() && (s[j].is_ascii_digit() || s[j] == b';') {
                j += 1;
            }
            if j == s.len() {
                return if j < 32 {
                    Look::Incomplete
                } else {
                    Look::Escape(1, None)
                };
            }
            match s[j] {
                b'm' if allow.sgr => Look::Pass(j + 1),
                b'K' if allow.progress && j == 2 => Look::Pass(3),
                _ => Look::Escape(1, None),
            }
        }
        b'\r' if allow.progress => Look::Pass(1),
        0xC2 => match s.get(1) {
            None => Look::Incomplete,
            // C1 controls (U+0080–U+009F): some terminals obey them (U+009B is a CSI).
            Some(&c @ 0x80..=0x9F) => Look::Escape(2, Some(u32::from(c))),
            Some(_) => Look::Text(1),
        },
        0xE2 => {
            if s.len() < 3 {
                return Look::Incomplete;
            }
            // Bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069): text that
            // reads differently from what it is.
            let cp = 0x2000 + (u32::from(s[1] & 0x3f) << 6) + u32::from(s[2] & 0x3f);
            if matches!(cp, 0x202A..=0x202E | 0x2066..=0x2069) && s[1] & 0xC0 == 0x80 {
                Look::Escape(3, Some(cp))
            } else {
                Look::Text(1)
            }
        }
        _ => Look::Escape(1, None),
    }
}

fn escape_byte(b: u8, out: &mut Vec<u8>) {
    match b {
        0x1b => out.extend_from_slice(b"\\e"),
        b'\r' => out.extend_from_slice(b"\\r"),
        0 => out.extend_from_slice(b"\\0"),
        // DEL passes JSON's encoder raw: its escape must be one JSON takes too.
        0x7f => out.extend_from_slice(b"\\u007f"),
        b => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guarded(chunks: &[&[u8]], allow: Allow) -> String {
        let mut out = Vec::new();
        {
            let mut g = ControlGuard::new(&mut out, allow);
            for c in chunks {
                g.write_all(c).unwrap();
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn hostile_sequences_are_shown_not_obeyed() {
        let text =
            "title \x1b]0;pwned\x07 clear \x1b[2J bell \x07 csi \u{9b}31m rtl \u{202e}txt.exe\n";
        let got = guarded(&[text.as_bytes()], Allow::default());
        assert_eq!(
            got,
            "title \\e]0;pwned\\x07 clear \\e[2J bell \\x07 csi \\u009b31m rtl \\u202etxt.exe\n"
        );
        assert!(!got.contains('\x1b') && !got.contains('\x07'));
    }

    #[test]
    fn own_colours_and_progress_pass_when_allowed_even_split_across_writes() {
        let colours = Allow {
            sgr: true,
            progress: false,
        };
        assert_eq!(
            guarded(&[b"a \x1b[1;3", b"1mred\x1b[0m\n"], colours),
            "a \x1b[1;31mred\x1b[0m\n"
        );
        assert_eq!(
            guarded(&[b"\x1b[31mred\n"], Allow::default()),
            "\\e[31mred\n"
        );
        let progress = Allow {
            sgr: false,
            progress: true,
        };
        assert_eq!(
            guarded(&[b"\rscanning\x1b[K"], progress),
            "\rscanning\x1b[K"
        );
        assert_eq!(guarded(&[b"\rx"], Allow::default()), "\\rx");
        // Ordinary UTF-8 passes, including characters that share a lead byte with the escapes.
        assert_eq!(
            guarded(&["é – ╭─ “q” \n".as_bytes()], Allow::default()),
            "é – ╭─ “q” \n"
        );
        // DEL, which JSON leaves raw, becomes an escape JSON still parses.
        let json = guarded(&[b"{\"t\":\"a\x7fb\"}"], Allow::default());
        assert_eq!(json, "{\"t\":\"a\\u007fb\"}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap()["t"],
            "a\u{7f}b"
        );
        // A lone ESC at the end is escaped at flush.
        assert_eq!(guarded(&[b"end\x1b"], colours), "end\\e");
    }
}
