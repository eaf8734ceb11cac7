//! `--share`: the Markdown report made safe to paste into a ticket.
//!
//! - **In**: the rendered Markdown report and the [`Diagnosis`] it came from.
//! - **Out**: the same report with host names, node names and client addresses replaced by
//!   consistent pseudonyms (`host-1`, `node-1`, `client-1`), or the reasons it cannot be shared.
//! - **Never**: print a report in which anything still decodes to `id:secret` or looks like a
//!   credential: the final check scans the finished text, whatever the renderers did.
//!
//! Credentials are already replaced by their key id in every report (see
//! [`crate::secret`]); sharing adds the pseudonyms and the refusal.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::diagnosis::Diagnosis;
use crate::secret as credential;

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?-u:\b)")
        .expect("ipv4 regex")
});
static URL_HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?-u:\b)(?:https?|wss?)://(?:[^\s/@]+@)?(\[[0-9a-f:]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)",
    )
    .expect("url host regex")
});
static HOST_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:(?-u:\b)host\s*[:=\[]\s*\[?"?|"host(?:\.name)?"\s*:\s*")([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)"#)
        .expect("host field regex")
});

/// Names kept as they are: they say nothing about anyone's network.
const KEEP: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "0.0.0.0",
    "::1",
    "elastic.co",
    "www.elastic.co",
];

/// The report with pseudonyms, or why it cannot be shared.
pub fn share(markdown: &str, d: &Diagnosis) -> Result<String, Vec<String>> {
    let text = pseudonymise(markdown, d);
    let header =
        "> Shared with `keydoctor --share`: credentials appear only as their key id; host \
                  names, node names and client addresses are pseudonyms (`host-1`, `node-1`, \
                  `client-1`), the same one for the same name throughout this report.\n\n";
    let text = match text.split_once('\n') {
        Some((title, rest)) => format!("{title}\n\n{header}{}", rest.trim_start_matches('\n')),
        None => format!("{header}{text}"),
    };
    checked(text)
}

/// The HTML page with pseudonyms and the banner that says so, or why it cannot be shared.
pub fn share_html(html: &str, d: &Diagnosis) -> Result<String, Vec<String>> {
    let text = pseudonymise(html, d);
    let banner = "<p class=\"banner\">Shared with <code>keydoctor --share</code>: credentials \
                  appear only as their key id; host names, node names and client addresses are \
                  pseudonyms (<code>host-1</code>, <code>node-1</code>, <code>client-1</code>), \
                  the same one for the same name throughout this page.</p>";
    checked(text.replacen(super::html::SHARE_BANNER_AT, banner, 1))
}

fn checked(text: String) -> Result<String, Vec<String>> {
    let problems = check(&text);
    if problems.is_empty() {
        Ok(text)
    } else {
        Err(problems)
    }
}

/// `text` with every host name, node name and client address it holds (or the diagnosis
/// knows) replaced by its pseudonym.
fn pseudonymise(markdown: &str, d: &Diagnosis) -> String {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut counters: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut name = |value: &str, kind: &'static str, names: &mut BTreeMap<String, String>| {
        let value = value.trim_matches(['[', ']']).to_string();
        if value.is_empty() || KEEP.contains(&value.as_str()) || names.contains_key(&value) {
            return;
        }
        let n = counters.entry(kind).or_default();
        *n += 1;
        names.insert(value, format!("{kind}-{n}"));
    };
    // Order of first appearance decides the numbers: nodes and clients the diagnosis knows,
    // then what the text names.
    for f in &d.findings {
        for node in &f.observed.nodes {
            name(node, "node", &mut names);
        }
        for client in &f.observed.client_addresses {
            name(client, "client", &mut names);
        }
    }
    for m in URL_HOST.captures_iter(markdown) {
        let host = &m[1];
        if IPV4.is_match(host) {
            name(host, "client", &mut names);
        } else if !host.ends_with("elastic.co") {
            name(host, "host", &mut names);
        }
    }
    for m in HOST_FIELD.captures_iter(markdown) {
        name(&m[1], "host", &mut names);
    }
    for m in IPV4.find_iter(markdown) {
        name(m.as_str(), "client", &mut names);
    }
    // Longest first, so that `es-node-10` is not replaced as `es-node-1` + `0`.
    let mut order: Vec<(&String, &String)> = names.iter().collect();
    order.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(b.0)));
    let mut text = markdown.to_string();
    for (real, pseudonym) in order {
        text = replace_whole(&text, real, pseudonym);
    }
    text
}

/// Replace `real` where it stands as a whole name (not inside a longer name or number).
fn replace_whole(text: &str, real: &str, pseudonym: &str) -> String {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(real) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + real.len()..].chars().next();
        // A dot after the name is a sentence end or a longer host (`es01.corp`): only the
        // latter continues the name.
        let continues = after.is_some_and(part)
            || (after == Some('.')
                && rest[at + real.len() + 1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric()));
        let whole = !before.is_some_and(|c| part(c) || c == '.') && !continues;
        out.push_str(&rest[..at]);
        out.push_str(if whole { pseudonym } else { real });
        rest = &rest[at + real.len()..];
    }
    out.push_str(rest);
    out
}

/// What in `text` still looks like a secret: anything the credential scanner would replace
/// (an `Authorization` value, an `encoded` or `api_key` field, a password, a token that decodes
/// to `<key id>:<secret>`), and, independently of that scanner, what [`suspicious`] finds by
/// entropy and decoded shape. One line per problem, with its line number.
pub fn check(text: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter_map(|(n, line)| {
            if credential::scan(line).text != line {
                Some(format!(
                    "line {}: a credential, or a value that decodes to id:secret, survived redaction",
                    n + 1
                ))
            } else {
                suspicious(line).map(|why| format!("line {}: {why}", n + 1))
            }
        })
        .collect()
}

/// The independent detector: it shares no pattern with the credential scanner, so that what
/// the scanner cannot see is still caught before a report is shared. A token that decodes
/// (base64, standard or URL-safe, once or twice) to `name:secret`; a high-entropy token of
/// secret length near a word that says key, token, secret, password or auth.
pub fn suspicious(line: &str) -> Option<&'static str> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine;
    let decode = |t: &str| -> Option<String> {
        [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|e| e.decode(t.as_bytes()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|s| s.chars().all(|c| !c.is_control() || c == '\n'))
    };
    let pair = |s: &str| {
        s.split_once(':').is_some_and(|(a, b)| {
            (1..=128).contains(&a.len())
                && b.trim_end().len() >= 6
                && !a.contains(char::is_whitespace)
        })
    };
    let lower = line.to_ascii_lowercase();
    let words = [
        "key",
        "token",
        "secret",
        "pass",
        "pwd",
        "credential",
        "auth",
        "bearer",
    ];
    static TOKEN: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"[A-Za-z0-9+/_-]+=*").expect("token regex"));
    // Tokens of the base64 alphabets, `=` only as padding at a token's end.
    for m in TOKEN.find_iter(line) {
        let (start, token) = (m.start(), m.as_str());
        if token.len() < 16 {
            continue;
        }
        // What the scanner already replaced stands as `<id>…redacted…`: the id is meant to show.
        if line[m.end()..].starts_with(credential::REDACTED) {
            continue;
        }
        if let Some(once) = decode(token) {
            if pair(&once) || decode(once.trim()).is_some_and(|twice| pair(&twice)) {
                return Some("a value that decodes to name:secret would be shared");
            }
            if once.contains("\"key\"") && once.contains(':') {
                return Some("an encoded token that carries a key would be shared");
            }
        }
        let mut from = start.saturating_sub(32);
        while !lower.is_char_boundary(from) {
            from -= 1;
        }
        let near = lower[from..start]
            .split_whitespace()
            .any(|w| words.iter().any(|k| w.contains(k)));
        // Random secrets mix digits with both cases; names and paths (`invalidate-api-key`,
        // `logs-secret-2026`) do not.
        let mixed = token.chars().any(|c| c.is_ascii_digit())
            && token.chars().any(|c| c.is_ascii_lowercase())
            && token.chars().any(|c| c.is_ascii_uppercase());
        if near && mixed && token.len() >= 20 && token.len() != 20 && entropy(token) >= 3.5 {
            return Some("a high-entropy token next to a word that says secret would be shared");
        }
    }
    None
}

/// Shannon entropy in bits per character.
fn entropy(text: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in text.bytes() {
        counts[b as usize] += 1;
    }
    let n = text.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_replaced_whole_and_consistently() {
        let d = Diagnosis::default();
        let md = "# keydoctor report\n\n10.0.0.7 and 10.0.0.70 hit https://es01.corp.example:9200/_bulk; es01.corp.example again, 10.0.0.7:5000.\n";
        let shared = share(md, &d).unwrap();
        assert!(
            shared.contains(
                "client-1 and client-2 hit https://host-1:9200/_bulk; host-1 again, client-1:5000."
            ),
            "{shared}"
        );
        assert!(shared.starts_with("# keydoctor report\n\n> Shared with `keydoctor --share`"));
    }

    #[test]
    fn the_final_check_refuses_anything_that_decodes_to_id_secret() {
        let encoded = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==";
        let problem = "a credential, or a value that decodes to id:secret, survived redaction";
        assert_eq!(
            check(&format!("fine\n{encoded}\n")),
            [format!("line 2: {problem}")]
        );
        assert_eq!(
            check("x\n\n`Authorization: ApiKey VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw`\n"),
            [format!("line 3: {problem}")]
        );
        assert_eq!(
            check("password: hunter22hunter"),
            [format!("line 1: {problem}")]
        );
        assert!(check("VuaCfGcBCdbkQm-e5aOx…redacted… and Illegal base64 character 3a").is_empty());
    }

    #[test]
    fn the_independent_detector_sees_what_the_scanner_does_not() {
        use base64::Engine;
        // Shapes the credential scanner leaves alone, each caught by decoded shape or entropy.
        let basic = base64::engine::general_purpose::STANDARD.encode("elastic:changeme123");
        assert_eq!(
            credential::scan(&basic).text,
            basic,
            "the scanner misses it"
        );
        assert!(suspicious(&format!("sent {basic} as is")).is_some());
        let cookie = "session auth cookie q8Zr2LmX0vB7nT4kW9yP3sJ6";
        assert_eq!(
            credential::scan(cookie).text,
            cookie,
            "the scanner misses it"
        );
        assert!(suspicious(cookie).is_some());
        assert_eq!(
            check(cookie),
            ["line 1: a high-entropy token next to a word that says secret would be shared"]
        );
        // What a shared report holds and must keep: key ids, cluster uuids, redacted values.
        for fine in [
            "API key VuaCfGcBCdbkQm-e5aOx has been invalidated",
            "key VuaCfGcBCdbkQm-e5aOx…redacted… sent by client-1",
            "cluster uuid Zx8H2xAcR3yKXk5DkT0lUA on node-1",
            "GET /_security/api_key?id=VuaCfGcBCdbkQm-e5aOx&with_limited_by=true",
            "the key's owner ingest_owner (native1) created it",
        ] {
            assert_eq!(suspicious(fine), None, "{fine}");
        }
    }
}
