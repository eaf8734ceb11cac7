//! The paste view: text as people paste it, put back the way the product printed it.
//!
//! Before records are split, a pasted input gets a normalised view with an [`OffsetMap`] back to
//! the text, so that rules match the product's own wording while evidence still points at what
//! the user pasted:
//! - line prefixes tools add: Terraform/HCL diagnostic boxes (`╷`, `│ `, `╵`), Markdown and
//!   e-mail quotes (`> `, `> > `), `kubectl logs` CRI heads (`<time> stdout F `, where `P`
//!   marks a line the runtime split), docker compose (`service-1  | `), `kubectl --prefix`
//!   (`[pod/x/c] `), GitHub Actions annotations (`::error::`, `##[error]`), numbered gutters
//!   (`12 | `) and shell prompts (`$ `);
//! - soft wraps: a line cut at a fixed column mid-word (joined as it was), and a text re-flowed
//!   at word boundaries (the break becomes the space it replaced). A line that starts a record
//!   (a timestamp, a level, `{`, `[2026-…`, an exception) is never joined to the one above;
//! - HTML entities (`&quot;`, `&#39;`, `&#x22;`, `&gt;`, …), typographic quotes, non-breaking and
//!   zero-width spaces, carriage returns, and runs of spaces inside a line (one space).
//!
//! It is for pastes (`explain`), not for log files: a log line is never wrapped by a mail client,
//! and joining two log lines would merge two records.

use std::sync::LazyLock;

use regex::Regex;

use super::OffsetMap;

/// The normalised view of a text and its map back (view offset → text offset).
#[derive(Debug)]
pub(crate) struct View {
    pub(crate) text: String,
    pub(crate) map: OffsetMap,
}

/// Prefixes stripped from a line's start (each alternative anchored; repeated quotes too), up to
/// three deep: a quoted Terraform box (`> │ `), kubectl's CRI head before a quote, and so on.
static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^(?:(?:
            (?:[│┃]\x20?)+                                                              # HCL box
          | (?:>\x20?)+                                                               # quotes
          | \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)\x20(?:stdout|stderr)\x20[FP]\x20  # CRI
          | [A-Za-z0-9][\w.-]*\s+\|\x20                                               # compose
          | \[pod/[^\]\s]+\]\x20                                                       # kubectl --prefix
          | ::(?:error|warning|notice)(?:\x20[^:]*)?::                                 # GH annotation
          | \#\#\[(?:error|warning|notice|debug)\]                                    # GH log
          | \x20{0,6}\d{1,6}\x20?[│|]\x20                                              # gutter
          | \$\x20                                                                     # prompt
        )){1,3}",
    )
    .expect("prefix regex")
});

/// A line that is only a box's top or bottom.
static BOX_EDGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*[╷╵┌└╭╰][─━]*\s*$").expect("box edge regex"));

/// A line that starts a record of its own: never joined to the line above.
static RECORD_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^(?:
            \d{4}-\d\d-\d\d[T\x20]\d\d:\d\d
          | \[\d{4}-\d\d-\d\d
          | \[?\d\d:\d\d:\d\d
          | [A-Z][a-z]{2}\x20[\x20\d]\d\x20\d\d:\d\d
          | (?:ERROR|WARN|WARNING|INFO|DEBUG|TRACE|FATAL|Error|Warning)(?-u:\b)
          | [{}\]]
          | (?:[a-z][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)(?-u:\b)
          | Caused\x20by
          | at\x20
          | HTTP/
          | [<*]\x20
        )",
    )
    .expect("record start regex")
});

/// One line of the input after its prefix is taken off.
struct Line<'a> {
    /// Offset of the content in the text (after the prefix).
    start: usize,
    content: &'a str,
    /// Whether anything before or after the content (a prefix, a `\r`) is left out.
    trimmed: bool,
    /// A CRI `P` line: the runtime split it; the next line continues it directly.
    partial: bool,
    /// A tool's prefix was taken off this line.
    prefixed: bool,
    /// The line's width as the terminal or ticket saw it, prefix included (in characters).
    raw_width: usize,
    /// Offset of the newline after it, if any.
    newline: Option<usize>,
}

/// The view of `text`, or `None` when it would be the text itself.
pub(crate) fn view(text: &str) -> Option<View> {
    let lines = lines(text);
    let joins = joins(&lines);
    // Most pastes need nothing: decide that before copying anything.
    if !joins.iter().any(|j| *j != Join::None)
        && !lines.iter().any(|l| l.trimmed || needs_change(l.content))
    {
        return None;
    }
    let mut b = Builder::default();
    let mut changed = false;
    for (i, line) in lines.iter().enumerate() {
        changed |= line.trimmed;
        changed |= b.push_content(text, line.start, line.content);
        let Some(nl) = line.newline else {
            continue;
        };
        match joins[i] {
            Join::None => b.copy(text, nl, nl + 1),
            Join::Direct => changed = true,
            Join::Space => {
                b.replace(" ", nl);
                changed = true;
            }
        }
    }
    changed.then_some(View {
        text: b.out,
        map: OffsetMap { runs: b.runs },
    })
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut offset = 0;
    for full in text.split_inclusive('\n') {
        let start = offset;
        offset += full.len();
        let newline = full.ends_with('\n').then(|| start + full.len() - 1);
        let line = full.strip_suffix('\n').unwrap_or(full);
        let body = line.strip_suffix('\r').unwrap_or(line);
        let cr = body.len() != line.len();
        if body.trim_start().as_bytes().first() == Some(&0xE2) && BOX_EDGE.is_match(body) {
            out.push(Line {
                start: start + body.len(),
                content: "",
                trimmed: true,
                partial: false,
                prefixed: true,
                raw_width: body.chars().count(),
                newline,
            });
            continue;
        }
        let cut = if may_have_prefix(body) {
            PREFIX.find(body).map_or(0, |m| m.end())
        } else {
            0
        };
        let head = &body[..cut];
        let partial =
            head.ends_with(" P ") && (head.contains(" stdout ") || head.contains(" stderr "));
        out.push(Line {
            start: start + cut,
            content: &body[cut..],
            trimmed: cut > 0 || cr,
            partial,
            prefixed: cut > 0,
            raw_width: body.chars().count(),
            newline,
        });
    }
    out
}

/// A cheap test that rules out most lines before the prefix regex runs.
fn may_have_prefix(line: &str) -> bool {
    let b = line.as_bytes();
    let head = &b[..b.len().min(64)];
    match b.first() {
        None => false,
        Some(0xE2 | b'>' | b'[' | b':' | b'#' | b'$' | b' ') => true,
        Some(c) if c.is_ascii_alphanumeric() => {
            memchr::memchr(b'|', head).is_some()
                || (c.is_ascii_digit()
                    && (memchr::memmem::find(head, b" stdout ").is_some()
                        || memchr::memmem::find(head, b" stderr ").is_some()))
        }
        Some(_) => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    /// Keep the line break.
    None,
    /// The break was inserted mid-word: drop it.
    Direct,
    /// The break replaced a space: put the space back.
    Space,
}

/// For each line, how it joins the next.
fn joins(lines: &[Line<'_>]) -> Vec<Join> {
    let width = |l: &Line<'_>| l.content.chars().count();
    let widths: Vec<usize> = lines.iter().map(width).collect();
    let max = widths.iter().copied().max().unwrap_or(0);
    let at_max = widths.iter().filter(|w| **w == max).count();
    // Cut at a fixed column: at least two lines exactly as wide as the widest, or one at a
    // width terminals, tickets and boxes cut at.
    let common = matches!(max, 72 | 76 | 78 | 79 | 80 | 100 | 120 | 132);
    // One line at a common width is a cut only if the text ends with the line after it (one
    // message cut once); with more lines after it, narrower, it is a re-flowed text whose longest
    // line happens to be that wide.
    let lone_cut = || {
        let first = widths.iter().position(|w| *w == max).unwrap_or(0);
        // Then a blank line or the end, or only a pretty-printed body's closing brackets
        // (`}`, `]`, `},`).
        widths.get(first + 2).is_none_or(|w| *w == 0)
            || lines.get(first + 2..).is_none_or(|rest| {
                rest.iter().all(|l| {
                    l.content
                        .trim()
                        .trim_end_matches(',')
                        .chars()
                        .all(|c| "{}[]".contains(c))
                })
            })
    };
    let hard = (40..=300).contains(&max) && (at_max >= 2 || (common && lone_cut()));
    // Re-flowed at word boundaries: a narrow text whose lines end near the widest, or near a
    // common width that only unbreakable words (a JSON body without spaces) go past.
    let reflow_at = reflow_width(lines, &widths, max);
    let reflowed = reflow_at.is_some();
    // A short text (one message wrapped into a few lines) has too few lines to show its width:
    // take the narrowest common one it fits.
    let few = lines.len() <= 6 && !reflowed;
    let guess = [72, 76, 78, 80]
        .into_iter()
        .find(|w| *w >= max)
        .unwrap_or(max);
    // Inside a JSON string at the end of the line before (a one-line body wrapped at spaces
    // leaves its strings open across lines).
    let mut in_string = false;
    let mut out = vec![Join::None; lines.len()];
    // The line a lost-prefix tail (below) was cut from: the tail then joins onwards as that
    // line, whole, would.
    let mut tail_of: Option<usize> = None;
    for i in 0..lines.len().saturating_sub(1) {
        let merged: String;
        let merged_line: Line<'_>;
        let merged_now = tail_of.is_some();
        let (here, wi) = match tail_of.take() {
            Some(c) => {
                merged = format!("{}{}", lines[c].content, lines[i].content);
                merged_line = Line {
                    start: lines[c].start,
                    content: &merged,
                    trimmed: true,
                    partial: false,
                    prefixed: true,
                    raw_width: lines[c].raw_width,
                    newline: None,
                };
                (&merged_line, widths[c])
            }
            None => (&lines[i], widths[i]),
        };
        let next = &lines[i + 1];
        let in_string_before = in_string;
        let json_like = in_string || here.content.trim_start().starts_with(['{', '[', '"']);
        let open_after = json_like && (in_string ^ odd_quotes(here.content));
        in_string = false;
        if here.partial {
            out[i] = Join::Direct;
            continue;
        }
        if here.content.trim().is_empty() || next.content.trim().is_empty() {
            continue;
        }
        // A prefixed block cut again at a terminal's width: the cut line is as wide as the
        // terminal, prefix included, and its tail lands on a line of its own without the prefix
        // (the tool drew it before the cut), between lines that have it.
        let lost_prefix_tail = here.prefixed
            && !next.prefixed
            && matches!(here.raw_width, 72 | 76 | 78 | 79 | 80 | 100 | 120 | 132)
            && next.content.chars().count() < here.raw_width
            && lines.get(i + 2).is_none_or(|after| after.prefixed);
        if lost_prefix_tail {
            out[i] = if between_words(here.content, next.content) {
                Join::Space
            } else {
                Join::Direct
            };
            tail_of = Some(i);
            in_string = in_string_before;
            continue;
        }
        // The regexes run only where a join is in question.
        let starts_record = || RECORD_START.is_match(next.content.trim_start());
        // A cut at the widest line's end, unless the break falls between two words: a cut at
        // a word boundary leaves its space at one side, so two words meeting with none between
        // them were re-flowed (the space became the break), not cut.
        // (A tail put back on its line is judged only by its strings: its width is no cut's.)
        if hard && wi == max && !merged_now {
            if !starts_record() {
                out[i] = if reflowed && between_words(here.content, next.content) {
                    Join::Space
                } else {
                    Join::Direct
                };
            }
            continue;
        }
        let first_word = || {
            next.content
                .split_whitespace()
                .next()
                .map_or(0, |w| w.chars().count())
        };
        // A line that ends inside a JSON string continues on the next one: directly when its
        // space is already there, or when it was cut at a cutting width inside a word.
        let open_string = || (40..=300).contains(&wi) && (open_after || open_quote(here.content));
        if open_string() && !starts_record() {
            let spaced = here.content.ends_with(char::is_whitespace)
                || next.content.starts_with(char::is_whitespace);
            let cut_word = matches!(wi, 72 | 76 | 78 | 79 | 80 | 100 | 120 | 132)
                && !between_words(here.content, next.content);
            if spaced || cut_word {
                out[i] = Join::Direct;
                in_string = open_after;
                continue;
            }
        }
        let short_wrap = || !merged_now && few && wi >= 50 && wi + 1 + first_word() > guess;
        if !next.content.starts_with(char::is_whitespace)
            && !here.content.ends_with(char::is_whitespace)
            && (reflow_at.is_some_and(|at| wi + 1 + first_word() > at)
                || open_string()
                || short_wrap())
            && !starts_record()
        {
            out[i] = Join::Space;
            in_string = open_after;
        }
    }
    out
}

/// Whether the last word of `here` and the first of `next` are two words rather than the two
/// halves of one cut: both words messages use (`unauthorized` + `for`, `authentication` +
/// `expected`), or both long enough that, glued, they would be no word (`sche` + `me` is
/// `scheme` cut).
fn between_words(here: &str, next: &str) -> bool {
    let tail: String = here
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let head: String = next
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    if tail.is_empty() || head.is_empty() {
        // A word against a bracket or punctuation (`[my]` + `is`, `id` + `[abc]`): English
        // puts a space there, and a cut at a space leaves it at one side.
        let (a, b) = (here.chars().next_back(), next.chars().next());
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        let stop = |c: Option<char>| c.is_some_and(|c| "[]().,;".contains(c));
        return (stop(a) && word(b) && a != Some('[') && a != Some('('))
            || (word(a) && matches!(b, Some('[' | '(')));
    }
    let known = |w: &str| {
        MESSAGE_WORDS
            .binary_search(&w.to_ascii_lowercase().as_str())
            .is_ok()
    };
    let word = |w: &str| (5..=20).contains(&w.len());
    (known(&tail) && known(&head)) || (word(&tail) && word(&head) && tail.len() + head.len() >= 13)
}

/// Words of the products' failure messages and of the English around them (sorted): a line
/// ending in one and the next starting with one met at a space.
const MESSAGE_WORDS: &[&str] = &[
    "a",
    "access",
    "action",
    "actions",
    "after",
    "all",
    "allowed",
    "an",
    "and",
    "anonymous",
    "any",
    "api",
    "apikey",
    "are",
    "as",
    "at",
    "authenticate",
    "authentication",
    "authorization",
    "be",
    "been",
    "but",
    "by",
    "cannot",
    "cluster",
    "could",
    "create",
    "credentials",
    "denied",
    "does",
    "error",
    "exception",
    "expected",
    "expired",
    "failed",
    "find",
    "for",
    "found",
    "from",
    "granted",
    "granting",
    "has",
    "have",
    "header",
    "id",
    "in",
    "index",
    "indices",
    "invalid",
    "invalidated",
    "is",
    "it",
    "key",
    "keys",
    "missing",
    "not",
    "of",
    "on",
    "or",
    "privilege",
    "privileges",
    "provided",
    "remote",
    "request",
    "required",
    "rest",
    "security",
    "than",
    "that",
    "the",
    "this",
    "to",
    "token",
    "type",
    "unable",
    "unauthorized",
    "user",
    "using",
    "was",
    "when",
    "which",
    "while",
    "with",
    "without",
];

/// The width a text was re-flowed at, if it looks re-flowed: at least two lines end within 12
/// columns of it, and every line wider than it is one word (a re-flow cannot break those).
fn reflow_width(lines: &[Line<'_>], widths: &[usize], max: usize) -> Option<usize> {
    let near = |at: usize| {
        widths
            .iter()
            .filter(|w| **w + 12 >= at && **w <= at && **w > 0)
            .count()
    };
    if (40..=120).contains(&max) && near(max) >= 2 {
        return Some(max);
    }
    [72, 76, 78, 80, 100, 120].into_iter().find(|&at| {
        at < max
            && near(at) >= 2
            && lines
                .iter()
                .zip(widths)
                .all(|(l, w)| *w <= at || !l.content.trim().contains(char::is_whitespace))
    })
}

/// Whether a line holds an odd number of unescaped `"`.
fn odd_quotes(line: &str) -> bool {
    let mut odd = false;
    let mut escaped = false;
    for b in line.bytes() {
        match (escaped, b) {
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'"') => odd = !odd,
            _ => {}
        }
    }
    odd
}

/// Whether a line leaves a JSON string open: an odd number of unescaped `"` (pretty-printed
/// JSON has one or two strings a line, each closed on it).
fn open_quote(line: &str) -> bool {
    let trimmed = line.trim_start();
    if !trimmed.starts_with('"') {
        return false;
    }
    let mut quotes = 0;
    let mut escaped = false;
    for b in trimmed.bytes() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' => escaped = true,
            b'"' => quotes += 1,
            _ => {}
        }
    }
    quotes % 2 == 1
}

/// Whether a line's characters need normalising (a few fast scans; most lines need nothing).
fn needs_change(content: &str) -> bool {
    !content.is_ascii()
        || memchr::memchr2(b'&', b'\r', content.as_bytes()).is_some()
        || memchr::memmem::find(content.trim_start_matches([' ', '\t']).as_bytes(), b"  ").is_some()
}

/// The view being written, with its runs back to the text.
#[derive(Default)]
struct Builder {
    out: String,
    runs: Vec<(usize, usize)>,
}

impl Builder {
    /// Start a run at the current end of the view that maps to `at` in the text, unless the
    /// last run already continues there.
    fn mark(&mut self, at: usize) {
        match self.runs.last() {
            Some(&(v, t)) if self.out.len() - v == at.saturating_sub(t) && at >= t => {}
            _ => self.runs.push((self.out.len(), at)),
        }
    }

    fn copy(&mut self, text: &str, from: usize, to: usize) {
        if from < to {
            self.mark(from);
            self.out.push_str(&text[from..to]);
        }
    }

    fn replace(&mut self, with: &str, at: usize) {
        self.runs.push((self.out.len(), at));
        self.out.push_str(with);
    }

    /// Copy a line's content with its characters normalised; whether anything changed.
    fn push_content(&mut self, text: &str, start: usize, content: &str) -> bool {
        if !needs_change(content) {
            self.copy(text, start, start + content.len());
            return false;
        }
        let mut changed = false;
        let mut plain = 0;
        let mut i = 0;
        let bytes = content.as_bytes();
        let leading = content.len() - content.trim_start_matches([' ', '\t']).len();
        while i < content.len() {
            let rest = &content[i..];
            let c = rest.chars().next().unwrap_or(' ');
            let (with, len): (Option<&str>, usize) = match c {
                '&' => match entity(rest) {
                    Some((s, n)) => (Some(s), n),
                    None => (None, 0),
                },
                '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' => (Some("'"), c.len_utf8()),
                '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' => (Some("\""), c.len_utf8()),
                '\u{00A0}' | '\u{2007}' | '\u{202F}' => (Some(" "), c.len_utf8()),
                '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' => {
                    (Some(""), c.len_utf8())
                }
                '\r' => (Some(""), 1),
                ' ' if i >= leading && bytes.get(i + 1) == Some(&b' ') => {
                    let run = rest.len() - rest.trim_start_matches(' ').len();
                    (Some(" "), run)
                }
                _ => (None, 0),
            };
            match with {
                Some(s) => {
                    self.copy(text, start + plain, start + i);
                    self.replace(s, start + i);
                    i += len;
                    plain = i;
                    changed = true;
                }
                None => i += c.len_utf8(),
            }
        }
        self.copy(text, start + plain, start + content.len());
        changed
    }
}

/// An HTML entity at the start of `s`: its text and length.
fn entity(s: &str) -> Option<(&'static str, usize)> {
    const NAMED: [(&str, &str); 9] = [
        ("&quot;", "\""),
        ("&apos;", "'"),
        ("&#39;", "'"),
        ("&#34;", "\""),
        ("&#x22;", "\""),
        ("&#x27;", "'"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&amp;", "&"),
    ];
    NAMED
        .iter()
        .find(|(name, _)| {
            s.get(..name.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(name))
        })
        .map(|(name, with)| (*with, name.len()))
        .or_else(|| s.starts_with("&nbsp;").then_some((" ", 6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(text: &str) -> String {
        view(text).map_or_else(|| text.to_string(), |v| v.text)
    }

    #[test]
    fn plain_text_has_no_view() {
        assert!(view("a line\nanother line\n").is_none());
    }

    #[test]
    fn prefixes_are_taken_off_and_the_map_points_back() {
        let text =
            "╷\n│ Error: 403 Forbidden: action [x] is unauthorized\n│ for API key id [abc]\n╵\n";
        let v = view(text).unwrap();
        assert!(v.text.contains("Error: 403 Forbidden"), "{:?}", v.text);
        let at = v.text.find("Error").unwrap();
        assert_eq!(&text[v.map.to_raw(at)..v.map.to_raw(at) + 5], "Error");
        assert_eq!(
            norm("> > unable to find apikey with id\n> > abc\n"),
            "unable to find apikey with id\nabc\n"
        );
        // A boxed body cut again at 80: the tail lost the box's bar.
        assert_eq!(
            norm("│ {\"reason\":\"action [indices:data/read/get] is unauthorized for API key id [abcd\nefgh]\"}\n│ next\n"),
            "{\"reason\":\"action [indices:data/read/get] is unauthorized for API key id [abcdefgh]\"}\nnext\n"
        );
        // Layers of different tools: a quoted Terraform box, a quote in kubectl's CRI lines.
        assert_eq!(
            norm("> │ unable to find apikey with id\n> │ abc\n"),
            "unable to find apikey with id\nabc\n"
        );
        assert_eq!(
            norm("2026-11-20T09:14:10.123456789Z stdout F > api key is expired\n"),
            "api key is expired\n"
        );
        assert_eq!(
            norm("2026-11-20T09:14:10.123456789Z stdout P api key [K] has been inva\n2026-11-20T09:14:10.123456789Z stdout F lidated\n"),
            "api key [K] has been invalidated\n"
        );
        assert_eq!(
            norm("es01-1  | api key is expired\n"),
            "api key is expired\n"
        );
    }

    #[test]
    fn hard_and_soft_wraps_are_joined_but_records_are_not() {
        let long = "action [indices:data/write/bulk[s]] is unauthorized for API key id [VuaCfGcBCdbkQm-e5aOx] of user [ingest_owner]";
        let hard: Vec<String> = long
            .chars()
            .collect::<Vec<_>>()
            .chunks(40)
            .map(|c| c.iter().collect())
            .collect();
        assert_eq!(norm(&(hard.join("\n") + "\n")), format!("{long}\n"));
        let soft = textwrap::fill(long, 60);
        assert_eq!(norm(&soft), long);
        let logs = "2026-11-20T09:14:10Z WARN api key [a] has been invalidated\n2026-11-20T09:14:11Z WARN api key [b] has been invalidated\n";
        assert!(view(logs).is_none());
    }

    #[test]
    fn a_reflow_whose_longest_line_is_a_common_width_is_not_read_as_a_cut() {
        // Re-flowed at 76 (a Terraform box): the first line is exactly 76 wide, the next ones
        // narrower; the break is a space, not a cut word.
        let text = "followed by `Authentication using apikey failed - unable to find apikey with\nid` which is expected because invalidated API keys are deleted by ES 24\nhours after invalidation.";
        assert_eq!(text.lines().next().unwrap().chars().count(), 76);
        assert!(norm(text).contains("unable to find apikey with id`"));
    }

    #[test]
    fn a_reflow_around_unbreakable_words_is_still_a_reflow() {
        // A mail client re-flowed a log at 72; a JSON body without spaces stays one long word.
        let body = format!("{{\"a\":\"{}\",\"b\":1}}", "x".repeat(120));
        let text = format!("Cloud Posture findings never appear within the dashboard - unauthorized\nfor API key id [] of user [elastic/fleet-server] on indices that are\n{body}\nnothing else");
        assert!(norm(&text).contains("- unauthorized for API key id []"));
    }

    #[test]
    fn the_message_words_are_sorted() {
        assert!(MESSAGE_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn cuts_and_reflows_at_the_same_width_are_told_apart() {
        // Re-flowed at 72 with two lines exactly 72 wide: the breaks were spaces.
        let reflowed = "   security_exception: action [indices:data/read/search] is unauthorized\nfor API key id [<key-id>] of user [<my-user-id>], this action is granted\nby the index privileges [read,all]\n";
        assert!(norm(reflowed).contains("is unauthorized for API key id [<key-id>] of user"));
        assert!(norm(reflowed).contains("is granted by the index"));
        // A pretty-printed body cut at 80 inside a word, and inside a string after a space.
        let cut = "{\n    \"statusCode\": 400,\n    \"error\": \"Bad Request\",\n    \"message\": \"Error creating rule: could not create API key - Unsupported sche\nme \\\"ApiKey\\\" for granting API Key\"\n}\n";
        assert!(
            norm(cut).contains("Unsupported scheme \\\"ApiKey\\\""),
            "{}",
            norm(cut)
        );
        let spaced = "{\n    \"message\": \"Authentication using apikey failed - unable to find apikey with \nid <snipped>\",\n    \"node.id\": \"<snipped>\"\n}\n";
        assert!(
            norm(spaced).contains("unable to find apikey with id <snipped>"),
            "{}",
            norm(spaced)
        );
        // A mid-word cut of a long line stays one word.
        let long = format!("{}invalidated and more words after it", "x".repeat(70));
        let cut: Vec<String> = long
            .chars()
            .collect::<Vec<_>>()
            .chunks(72)
            .map(|c| c.iter().collect())
            .collect();
        assert_eq!(norm(&(cut.join("\n") + "\n")), format!("{long}\n"));
    }

    #[test]
    fn entities_quotes_and_odd_spaces_become_plain() {
        assert_eq!(
            norm("reason&quot;:&quot;api\u{00A0}key  is\u{200B} expired\u{201D}\r\n"),
            "reason\":\"api key is expired\"\n"
        );
    }
}
