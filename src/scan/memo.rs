//! The dense path: a failure line that differs from one already analysed only in its timestamp
//! is not parsed and matched again.
//!
//! - **In**: a log line that is a record on its own.
//! - **Out**: its template key (the line with its leading timestamp taken out) and the
//!   timestamp; a witness line (the same line at another time) to prove a template by.
//! - **Never**: take a line whose timestamp the record's fields would read differently: the
//!   span is exactly what the timestamp extractor reads at the start of a plain log line
//!   (`[2026-11-20T10:00:00,123]`, also with `T` as a space, `.` for `,`, `Z` or an offset).
//!
//! Server logs carry most failures a scan sees, and a retrying client writes the same line again
//! and again: `[ts][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [node] Authentication using apikey
//! failed - api key [id] has been invalidated`. Whether a template may stand for a line is
//! decided where the template is made (see `analyse_pending` in `mod.rs`): only a line whose verdict
//! cannot depend on the records around it, proved with a witness, is remembered.

use std::ops::Range;

/// The byte span of a line's timestamp, as the timestamp extractor reads it: the one that opens
/// a plain log line (`[` + timestamp + `]`), or, in a JSON line, the value of the first
/// `"@timestamp"` or `"timestamp"` key; in both cases only when the whole of it is a timestamp
/// in the extractor's grammar,
/// `\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d([.,]\d+)?(Z|[+-]\d\d:?\d\d)?`.
pub(super) fn ts_span(line: &[u8]) -> Option<Range<usize>> {
    match line.first()? {
        b'[' => {
            let end = timestamp_end(line, 1)?;
            // The extractor stops where its grammar does: anything but `]` here would be
            // read in part.
            (line.get(end) == Some(&b']')).then_some(1..end)
        }
        // ASCII only: the extractor's `\s` is Unicode's, this reader's white space ASCII's.
        b'{' if line.is_ascii() => {
            let start = json_timestamp_value(line)?;
            let end = timestamp_end(line, start)?;
            (line.get(end) == Some(&b'"')).then_some(start..end)
        }
        _ => None,
    }
}

/// Where the value of the first `"@timestamp"` or `"timestamp"` key followed by `:` and a
/// string starts (the extractor's `"(?:@timestamp|timestamp)"\s*:\s*"([^"]+)"`, leftmost).
fn json_timestamp_value(line: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&line[from..], b"timestamp\"").map(|i| from + i) {
        from = at + 1;
        let opens = match at.checked_sub(1).map(|i| line[i]) {
            Some(b'"') => Some(at - 1),
            Some(b'@') if at >= 2 && line[at - 2] == b'"' => Some(at - 2),
            _ => None,
        };
        if opens.is_none() {
            continue;
        }
        let mut p = at + "timestamp\"".len();
        while line.get(p).is_some_and(u8::is_ascii_whitespace) {
            p += 1;
        }
        if line.get(p) != Some(&b':') {
            continue;
        }
        p += 1;
        while line.get(p).is_some_and(u8::is_ascii_whitespace) {
            p += 1;
        }
        if line.get(p) == Some(&b'"') && line.get(p + 1).is_some_and(|b| *b != b'"') {
            return Some(p + 1);
        }
    }
    None
}

/// The end of a timestamp in the extractor's grammar starting at `at`.
fn timestamp_end(line: &[u8], at: usize) -> Option<usize> {
    let mut p = Parser { s: line, at };
    p.digits(4)?;
    p.byte(b'-')?;
    p.digits(2)?;
    p.byte(b'-')?;
    p.digits(2)?;
    p.one_of(b"T ")?;
    p.digits(2)?;
    p.byte(b':')?;
    p.digits(2)?;
    p.byte(b':')?;
    p.digits(2)?;
    if p.one_of(b".,").is_some() && p.run_of_digits() == 0 {
        return None;
    }
    if p.byte(b'Z').is_none() && p.one_of(b"+-").is_some() {
        p.digits(2)?;
        let _ = p.byte(b':');
        p.digits(2)?;
    }
    Some(p.at)
}

/// Length of an id Elasticsearch makes (an API key's, a document's): 20 URL-safe characters.
pub(super) const ID_LEN: usize = 20;

fn id_byte(b: u8) -> bool {
    // A table: this is asked of every byte of every line the dense path looks at.
    static TABLE: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            let b = i as u8;
            t[i] = b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
            i += 1;
        }
        t
    };
    TABLE[usize::from(b)]
}

/// The runs of exactly [`ID_LEN`] URL-safe characters after `from`, each standing alone (no
/// such character on either side): where a line names a key id, if it names one.
pub(super) fn id_runs(line: &[u8], from: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut at = from;
    while at < line.len() {
        if !id_byte(line[at]) {
            at += 1;
            continue;
        }
        let start = at;
        while at < line.len() && id_byte(line[at]) {
            at += 1;
        }
        if at - start == ID_LEN && (start == 0 || !id_byte(line[start - 1])) {
            out.push(start..at);
        }
    }
    out
}

/// The line with its timestamp replaced by one NUL and each id run by one SOH (neither of
/// which a log line holds there), into `out`: lines with equal keys differ only in when they
/// were written and in the ids they name.
pub(super) fn key_into(out: &mut Vec<u8>, line: &[u8], ts: &Range<usize>, runs: &[Range<usize>]) {
    out.clear();
    out.extend_from_slice(&line[..ts.start]);
    out.push(0);
    let mut at = ts.end;
    for r in runs {
        out.extend_from_slice(&line[at..r.start]);
        out.push(1);
        at = r.end;
    }
    out.extend_from_slice(&line[at..]);
}

/// [`key_into`], as a new key.
pub(super) fn key(line: &[u8], ts: &Range<usize>, runs: &[Range<usize>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    key_into(&mut out, line, ts, runs);
    out
}

/// Another id of the same shape: every character moved on in the URL-safe alphabet, so that no
/// position keeps its character (and a letter may become a digit, a digit a letter).
pub(super) fn other_id(id: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    id.iter()
        .map(|b| {
            let i = ALPHABET.iter().position(|a| a == b).unwrap_or(0);
            ALPHABET[(i + 29) % 64]
        })
        .collect()
}

/// The same line at another time, naming other ids, of the same shape: every digit of the
/// timestamp changed (the date still a date), every id run another id ([`other_id`]). A
/// template is remembered only when the line and its witness read alike, ids apart.
pub(super) fn witness(line: &[u8], span: &Range<usize>, runs: &[Range<usize>]) -> Vec<u8> {
    // 2001-02-03T04:05:06 with the fraction's digits as 7s (or 8s if they were all 7s),
    // or 2011-12-13T14:15:16 when the line was written at exactly that first time.
    let ts = &line[span.clone()];
    let pick = |date: &[u8; 19]| {
        let mut out = ts.to_vec();
        for (i, b) in date.iter().enumerate() {
            if ts[i].is_ascii_digit() {
                out[i] = *b;
            }
        }
        let frac_digit = if ts[19..].iter().any(|&b| b.is_ascii_digit() && b != b'7') {
            b'7'
        } else {
            b'8'
        };
        let mut in_fraction = false;
        for b in out.iter_mut().skip(19) {
            match *b {
                b'.' | b',' => in_fraction = true,
                d if d.is_ascii_digit() && in_fraction => *b = frac_digit,
                _ => in_fraction = false,
            }
        }
        out
    };
    let mut ts_new = pick(b"2001-02-03T04:05:06");
    if ts_new[..19] == ts[..19] {
        ts_new = pick(b"2011-12-13T14:15:16");
    }
    let mut out = Vec::with_capacity(line.len());
    out.extend_from_slice(&line[..span.start]);
    out.extend_from_slice(&ts_new);
    let mut at = span.end;
    for r in runs {
        out.extend_from_slice(&line[at..r.start]);
        out.extend_from_slice(&other_id(&line[r.clone()]));
        at = r.end;
    }
    out.extend_from_slice(&line[at..]);
    out
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn digits(&mut self, n: usize) -> Option<()> {
        let run = self.s.get(self.at..self.at + n)?;
        run.iter().all(u8::is_ascii_digit).then(|| self.at += n)
    }

    fn byte(&mut self, b: u8) -> Option<()> {
        (self.s.get(self.at) == Some(&b)).then(|| self.at += 1)
    }

    fn one_of(&mut self, set: &[u8]) -> Option<()> {
        let b = self.s.get(self.at)?;
        set.contains(b).then(|| self.at += 1)
    }

    fn run_of_digits(&mut self) -> usize {
        let n = self.s[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        self.at += n;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_span_is_what_the_timestamp_extractor_reads() {
        for (line, ts) in [
            (
                "[2026-11-20T00:00:00,000][WARN ][o.e.x] [n] x",
                Some("2026-11-20T00:00:00,000"),
            ),
            (
                "[2026-11-20 00:00:00.123456Z] x",
                Some("2026-11-20 00:00:00.123456Z"),
            ),
            (
                "[2026-11-20T00:00:00+01:00][INFO] x",
                Some("2026-11-20T00:00:00+01:00"),
            ),
            (
                "[2026-11-20T00:00:00-0100] x",
                Some("2026-11-20T00:00:00-0100"),
            ),
            ("[2026-11-20T00:00:00] x", Some("2026-11-20T00:00:00")),
            // Read in part by the extractor, or not a timestamp: no span.
            ("[2026-11-20T00:00:00,000+01][WARN] x", None),
            ("[2026-11-20T00:00:00,][WARN] x", None),
            ("[2026-11-20T00:00:00 UTC] x", None),
            ("2026-11-20T00:00:00,000 WARN x", None),
            ("[WARN ][2026-11-20T00:00:00,000] x", None),
            ("[2026-1-20T00:00:00] x", None),
            ("[", None),
            // JSON lines: the first `@timestamp` or `timestamp` key's value, whole.
            (
                r#"{"@timestamp":"2026-11-20T00:00:00.000Z", "log.level": "WARN", "message":"x"}"#,
                Some("2026-11-20T00:00:00.000Z"),
            ),
            (
                r#"{"type": "server", "timestamp": "2026-11-20T00:00:00,123+0000", "level": "WARN"}"#,
                Some("2026-11-20T00:00:00,123+0000"),
            ),
            (
                r#"{"a":"timestamp", "@timestamp" : "2026-11-20T00:00:00Z","b":1}"#,
                Some("2026-11-20T00:00:00Z"),
            ),
            (
                r#"{"@timestamp":"2026-11-20T00:00:00.000Z","timestamp":"2025-01-01T00:00:00Z"}"#,
                Some("2026-11-20T00:00:00.000Z"),
            ),
            (
                r#"{"@timestamp":"Nov 20, 2026 @ 00:00:00.000","message":"x"}"#,
                None,
            ),
            (r#"{"@timestamp":1732060800000,"message":"x"}"#, None),
            (r#"{"event_timestamp":"2026-11-20T00:00:00Z"}"#, None),
        ] {
            let got = ts_span(line.as_bytes()).map(|r| &line[r]);
            assert_eq!(got, ts, "{line}");
            if let Some(ts) = got {
                // The extractor agrees, field for field.
                let fields = crate::event::parse_input(&crate::source::Input {
                    name: "t".into(),
                    text: line.into(),
                });
                assert_eq!(
                    fields.records[0].fields().timestamp.as_deref(),
                    Some(ts),
                    "{line}"
                );
            }
        }
    }

    #[test]
    fn lines_apart_only_in_time_and_ids_share_a_key_and_a_witness_differs_in_both() {
        let a = b"[2026-11-20T00:00:00,000][WARN ][o.e.x] [n] api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated";
        let b = b"[2026-11-21T13:14:15,999][WARN ][o.e.x] [n] api key [zcwN3YEBBmnjw-K-hW5_] has been invalidated";
        let c = b"[2026-11-21T13:14:15,999][WARN ][o.e.x] [m] api key [zcwN3YEBBmnjw-K-hW5_] has been invalidated";
        let parts = |l: &[u8]| {
            let ts = ts_span(l).unwrap();
            let runs = id_runs(l, ts.end);
            (ts, runs)
        };
        let ((ta, ra), (tb, rb), (tc, rc)) = (parts(a), parts(b), parts(c));
        assert_eq!(ra.len(), 1);
        assert_eq!(&a[ra[0].clone()], b"VuaCfGcBCdbkQm-e5aOx");
        assert_eq!(key(a, &ta, &ra), key(b, &tb, &rb));
        assert_ne!(key(a, &ta, &ra), key(c, &tc, &rc));
        for (line, ts, runs) in [(&a[..], &ta, &ra), (&b[..], &tb, &rb)] {
            let w = witness(line, ts, runs);
            let (ws, wr) = parts(&w);
            assert_eq!(key(&w, &ws, &wr), key(line, ts, runs));
            assert_ne!(w[ws], line[ts.clone()]);
            let (new, old) = (&w[wr[0].clone()], &line[runs[0].clone()]);
            assert!(
                new.iter().zip(old).all(|(x, y)| x != y),
                "every character moved"
            );
        }
        // Runs of other lengths, or inside a longer word, are not ids.
        assert!(id_runs(b"a VuaCfGcBCdbkQm-e5aOxx b VuaCfGcBCdbkQm-e5a c", 0).is_empty());
        assert_eq!(id_runs(b"id:VuaCfGcBCdbkQm-e5aOx.", 0), vec![3..23]);
        let odd = b"[2001-02-03T04:05:06,777] x";
        let w = witness(odd, &ts_span(odd).unwrap(), &[]);
        assert_eq!(&w[..], b"[2011-12-13T14:15:16,888] x");
    }
}
