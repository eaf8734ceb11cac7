//! The scan's line prefilter: which lines of a chunk hold one of the rules' literals.
//!
//! One case-insensitive Aho-Corasick automaton over every literal is exact but runs at well under
//! 1 GB/s per core: with case folding and a hundred-odd patterns it gets no SIMD path. So the
//! literals are first covered by at most [`MAX_ANCHORS`] short *anchors* (every literal contains
//! at least one), chosen when the rule set is compiled, and searched with the packed (Teddy)
//! searcher over a lower-cased copy of the chunk. Only a line an anchor hits is read by the full
//! automaton. The lines found are exactly those the automaton alone finds: a literal never spans a
//! newline (checked here), and a line holding a literal holds that literal's anchor.
//!
//! The anchors are a weighted set cover: each costs its expected rate in log text (how often it
//! occurs in `NOISE`, lines that hold no literal, plus the product of its bytes' frequencies,
//! `BYTE_FREQ`) and a fixed price per anchor; the greedy pick takes
//! the anchor with the lowest cost per literal it newly covers. When the literals need more than
//! [`MAX_ANCHORS`] anchors, or the CPU has no packed searcher, the automaton runs alone.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use aho_corasick::packed;
use aho_corasick::AhoCorasick;
use memchr::{memchr, memrchr};

/// The most anchors the packed searcher takes.
pub const MAX_ANCHORS: usize = 64;

/// Anchor lengths tried: at least 3 bytes (Teddy's fingerprint), at most 8.
const ANCHOR_LENGTHS: std::ops::RangeInclusive<usize> = 3..=8;

/// The fixed price of one more anchor, in the units of an anchor's expected rate per byte: more
/// anchors make the packed searcher's buckets fuller.
const ANCHOR_PRICE: f64 = 2e-7;

/// How often each byte occurs in lower-cased logs, per million bytes (measured over the
/// fixtures and corpus texts; a byte never seen counts as 50).
const BYTE_FREQ: [(u8, u32); 60] = [
    (b'e', 89287),
    (b'"', 70962),
    (b't', 64731),
    (b'a', 58910),
    (b's', 48714),
    (b'r', 48405),
    (b' ', 46309),
    (b'n', 41879),
    (b'i', 41478),
    (b'c', 41329),
    (b'o', 32769),
    (b'.', 32699),
    (b':', 27391),
    (b'u', 27215),
    (b'l', 24738),
    (b'0', 20894),
    (b'h', 20005),
    (b'd', 19597),
    (b',', 18327),
    (b'p', 18113),
    (b'1', 15582),
    (b'2', 14335),
    (b'm', 12999),
    (b'y', 12693),
    (b'g', 10986),
    (b'-', 10743),
    (b'k', 10646),
    (b'v', 8010),
    (b'[', 7973),
    (b']', 7968),
    (b'x', 7685),
    (b'b', 6930),
    (b'_', 6241),
    (b'\n', 5959),
    (b'w', 5823),
    (b'q', 5492),
    (b'f', 4767),
    (b'4', 4688),
    (b'5', 4375),
    (b'3', 4106),
    (b'/', 3988),
    (b'\\', 3819),
    (b'9', 3557),
    (b'7', 3243),
    (b'8', 3004),
    (b'j', 2718),
    (b'6', 2611),
    (b'z', 2297),
    (b'{', 1926),
    (b'}', 1907),
    (b'?', 1496),
    (b'(', 1073),
    (b')', 1069),
    (b'\t', 765),
    (b'~', 763),
    (b'=', 751),
    (b'+', 724),
    (b'\'', 496),
    (b'#', 452),
    (b'@', 451),
];

/// Lines of log text that hold no literal: Elasticsearch server logs (plain, JSON of 7.x, ECS of
/// 8.x), slow and deprecation logs, Kibana, Beats, Elastic Agent, Fleet Server, Logstash, GC,
/// access and system logs, as their products write them. A window frequent here is a poor anchor
/// (`cluster` is in every ECS server line).
const NOISE: &str = include_str!("noise.txt");

/// The expected rate of `s` at a position of log text, bytes taken as independent.
fn byte_rate(s: &[u8]) -> f64 {
    s.iter()
        .map(|b| {
            let per_million = BYTE_FREQ
                .iter()
                .find(|(c, _)| *c == b.to_ascii_lowercase())
                .map_or(50, |(_, f)| *f);
            f64::from(per_million) / 1e6
        })
        .product()
}

/// Anchors covering every one of `literals` (lower case), at most `max`; `None` when they do not
/// fit or a literal is empty.
pub fn choose_anchors(literals: &[String], max: usize) -> Option<Vec<String>> {
    if literals.is_empty() || literals.iter().any(String::is_empty) {
        return None;
    }
    let words = literals.len().div_ceil(64);
    // Every window of each literal (on character boundaries), with the literals that hold it.
    let mut cover: Windows<Vec<u64>> = Windows::default();
    for (i, lit) in literals.iter().enumerate() {
        let bytes = lit.as_bytes();
        // Windows of the anchor lengths, and the whole literal: an anchor that is a literal
        // needs no second look at its line.
        let lengths = ANCHOR_LENGTHS
            .filter(|n| *n < bytes.len())
            .chain([bytes.len()]);
        for n in lengths {
            for a in 0..=bytes.len() - n {
                if !lit.is_char_boundary(a) || !lit.is_char_boundary(a + n) {
                    continue;
                }
                let bits = cover
                    .entry(&bytes[a..a + n])
                    .or_insert_with(|| vec![0; words]);
                bits[i / 64] |= 1 << (i % 64);
            }
        }
    }
    // How often each window occurs in the noise lines.
    let noise = NOISE.to_ascii_lowercase();
    let mut seen: Windows<u32> = Windows::default();
    for n in ANCHOR_LENGTHS {
        for w in noise.as_bytes().windows(n) {
            if cover.contains_key(w) {
                *seen.entry(w).or_default() += 1;
            }
        }
    }
    let len = noise.len().max(1) as f64;
    // The order is fixed so that the choice is the same on every run.
    let mut candidates: Vec<(&[u8], Vec<u64>, f64)> = cover
        .into_iter()
        .map(|(w, bits)| {
            let rate = f64::from(seen.get(w).copied().unwrap_or(0)) / len + byte_rate(w);
            (w, bits, rate + ANCHOR_PRICE)
        })
        .collect();
    candidates.sort_by(|a, b| a.0.cmp(b.0));
    let mut uncovered: Vec<u64> = vec![0; words];
    for i in 0..literals.len() {
        uncovered[i / 64] |= 1 << (i % 64);
    }
    let newly = |bits: &[u64], uncovered: &[u64]| -> u32 {
        bits.iter()
            .zip(uncovered)
            .map(|(b, u)| (b & u).count_ones())
            .sum()
    };
    // Lazy greedy: a candidate's cost per newly covered literal only grows as literals are
    // covered, so a popped candidate whose cost, recomputed, is still the lowest is the pick.
    let mut heap: BinaryHeap<Reverse<(Cost, usize)>> = candidates
        .iter()
        .enumerate()
        .map(|(idx, (_, bits, cost))| {
            Reverse((Cost(cost / f64::from(newly(bits, &uncovered))), idx))
        })
        .collect();
    let mut anchors = Vec::new();
    while uncovered.iter().any(|w| *w != 0) {
        let Reverse((Cost(was), idx)) = heap.pop()?;
        let (w, bits, cost) = &candidates[idx];
        let n = newly(bits, &uncovered);
        if n == 0 {
            continue;
        }
        let now = cost / f64::from(n);
        if now > was {
            heap.push(Reverse((Cost(now), idx)));
            continue;
        }
        if anchors.len() == max {
            return None;
        }
        for (u, b) in uncovered.iter_mut().zip(bits) {
            *u &= !b;
        }
        anchors.push(String::from_utf8_lossy(w).into_owned());
    }
    Some(anchors)
}

/// A map keyed by windows of bytes, hashed with FNV-1a (short keys; SipHash is most of the cost
/// of choosing anchors).
type Windows<'a, V> = HashMap<&'a [u8], V, BuildHasherDefault<Fnv>>;

#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// A cost, ordered (costs are finite and positive).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cost(f64);

impl Eq for Cost {}

impl PartialOrd for Cost {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cost {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The lines of a chunk that hold a literal.
#[derive(Debug)]
pub struct LinePrefilter {
    /// Every literal, ASCII case-insensitive: the exact test of a line.
    full: AhoCorasick,
    /// The packed search for the anchors over the lower-cased chunk, when it can run.
    anchors: Option<(packed::Searcher, Vec<String>)>,
    /// Per anchor: whether it is itself a literal (its line is a hit without the automaton).
    exact: Vec<bool>,
}

impl LinePrefilter {
    /// The prefilter for `literals` (lower case); `None` when there are none or the automaton
    /// cannot be built.
    pub fn new(literals: &[String]) -> Option<Self> {
        if literals.is_empty() {
            return None;
        }
        let full = AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .ascii_case_insensitive(true)
            .build(literals)
            .ok()?;
        // A literal across lines could be found by the automaton in a line the anchors skip.
        let one_line = literals.iter().all(|l| !l.contains('\n'));
        let anchors = one_line
            .then(|| choose_anchors(literals, MAX_ANCHORS))
            .flatten()
            .and_then(|anchors| {
                let mut b = packed::Config::new().builder();
                b.extend(anchors.iter().map(String::as_bytes));
                b.build().map(|s| (s, anchors))
            });
        let exact = anchors.as_ref().map_or(Vec::new(), |(_, a)| {
            a.iter().map(|a| literals.contains(a)).collect()
        });
        Some(Self {
            full,
            anchors,
            exact,
        })
    }

    /// Whether `line` holds a literal (the automaton's test, case-insensitive).
    pub fn is_hit(&self, line: &[u8]) -> bool {
        self.full.is_match(line)
    }

    /// The anchors in use (none: the automaton runs alone).
    pub fn anchors(&self) -> &[String] {
        self.anchors.as_ref().map_or(&[], |(_, a)| a.as_slice())
    }

    /// The lines of `region` that hold a literal, in order, as byte ranges without the
    /// newline; `scratch` holds the lower-cased copy between calls.
    pub fn hit_lines(&self, region: &[u8], scratch: &mut Vec<u8>) -> Vec<Range<usize>> {
        let Some((searcher, _)) = &self.anchors else {
            return crate::event::excerpt::hit_lines(region, &self.full);
        };
        scratch.clear();
        scratch.extend_from_slice(region);
        scratch.make_ascii_lowercase();
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < region.len() {
            let Some(m) =
                searcher.find_in(&scratch[..], aho_corasick::Span::from(pos..region.len()))
            else {
                break;
            };
            let start = memrchr(b'\n', &region[pos..m.start()]).map_or(pos, |i| pos + i + 1);
            let end = memchr(b'\n', &region[m.start()..]).map_or(region.len(), |i| m.start() + i);
            if self.exact[m.pattern().as_usize()] || self.full.is_match(&region[start..end]) {
                out.push(start..end);
            }
            pos = end + 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_literal_holds_an_anchor() {
        let l = lits(&[
            "api key has expired",
            "api key is invalid",
            "unable to find apikey with id",
            "jwt:",
            "ab",
            "(status=401)",
        ]);
        let anchors = choose_anchors(&l, MAX_ANCHORS).unwrap();
        for lit in &l {
            assert!(
                anchors.iter().any(|a| lit.contains(a.as_str())),
                "{lit}: {anchors:?}"
            );
        }
        // Shared words are shared anchors: fewer anchors than literals.
        assert!(anchors.len() < l.len(), "{anchors:?}");
    }

    #[test]
    fn too_many_disjoint_literals_do_not_fit() {
        let l: Vec<String> = (0..70).map(|i| format!("{:03}", i * 13 % 1000)).collect();
        assert!(choose_anchors(&l, 8).is_none());
    }

    /// The anchored search finds the lines the automaton alone finds, over texts where anchors
    /// hit lines that hold no literal, literals at the chunk's edges, in any case, and CRLF.
    #[test]
    fn the_anchored_search_finds_what_the_automaton_finds() {
        let l = lits(&[
            "api key has expired",
            "unable to find apikey with id",
            "security_exception",
            "version[",
        ]);
        let p = LinePrefilter::new(&l).unwrap();
        if cfg!(target_arch = "x86_64") {
            assert!(
                !p.anchors().is_empty(),
                "no packed searcher: the test would compare the automaton with itself"
            );
        }
        let texts: Vec<String> = vec![
            "API KEY HAS EXPIRED".into(),
            "x\nthe api key has\nexpired api key has expired\n\n".into(),
            "Unable To Find ApiKey With Id [x]\r\nnoise\r\nsecurity_Exception\r\n".into(),
            "version 8 [\nversion[8.1]\nkey has expired api\n".into(),
            format!("{}api key has expired", "noise line\n".repeat(500)),
            "\n\n\n".into(),
            String::new(),
        ];
        let mut scratch = Vec::new();
        for t in &texts {
            let want = crate::event::excerpt::hit_lines(t.as_bytes(), &p.full);
            let got = p.hit_lines(t.as_bytes(), &mut scratch);
            assert_eq!(got, want, "{t:?} with anchors {:?}", p.anchors());
        }
    }

    #[test]
    fn a_literal_across_lines_turns_the_anchors_off() {
        let p = LinePrefilter::new(&lits(&["api key\nhas expired", "security_exception"])).unwrap();
        assert!(p.anchors().is_empty());
    }
}
