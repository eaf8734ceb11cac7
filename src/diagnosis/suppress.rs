//! Local tuning without editing the bundled rules: suppressions from `.keydoctor.toml` (or
//! `--config FILE`), each silencing a rule, a key, a class or a client, with a reason.
//!
//! - **In**: the config file's text; a [`Diagnosis`].
//! - **Out**: [`Suppressions`] (or problems with file, line and field); the diagnosis with the
//!   matching findings moved to [`Diagnosis::suppressed`], where every report shows them.
//! - **Never**: drop a finding silently: a suppressed finding is listed with its reason, and a
//!   suppression that matched nothing or has lapsed is said in a note.
//!
//! ```toml
//! [[suppress]]
//! key = "VuaCfGcBCdbkQm-e5aOx"          # any of rule, key, class, client; all given must match
//! reason = "decommissioned Filebeat, invalidated on purpose (CHG-1234)"
//! until = "2027-01-31"                 # optional: after this day it no longer applies
//! ```

use std::net::IpAddr;

use serde::Deserialize;
use toml::Spanned;

use crate::diagnosis::{Diagnosis, Finding, Note};
use crate::model::Class;

/// The config file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    suppress: Vec<Spanned<SuppressFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuppressFile {
    rule: Option<String>,
    key: Option<String>,
    class: Option<Spanned<String>>,
    client: Option<Spanned<String>>,
    reason: Option<String>,
    until: Option<Spanned<String>>,
}

/// One suppression, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub rule: Option<String>,
    pub key: Option<String>,
    pub class: Option<Class>,
    pub client: Option<Client>,
    pub reason: String,
    /// Last day it applies (UTC), as epoch ms of the day's end, and as written.
    pub until: Option<(i64, String)>,
    /// `file:line`, for the report.
    pub at: String,
}

/// A client address, or a network in CIDR form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    net: IpAddr,
    prefix: u8,
    text: String,
}

impl Client {
    fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let net: IpAddr = addr.trim_matches(['[', ']']).parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then(|| Self {
            net,
            prefix,
            text: text.to_string(),
        })
    }

    /// Whether `address` (an IP, possibly with `:port`) is in this network.
    fn contains(&self, address: &str) -> bool {
        let ip = address
            .parse::<IpAddr>()
            .ok()
            .or_else(|| address.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()));
        let Some(ip) = ip else {
            return false;
        };
        let bits = |ip: IpAddr| -> u128 {
            match ip {
                IpAddr::V4(v) => u128::from(u32::from(v)) << 96,
                IpAddr::V6(v) => u128::from(v),
            }
        };
        if ip.is_ipv4() != self.net.is_ipv4() {
            return false;
        }
        // An IPv4 address sits in the top 32 of the 128 bits.
        let prefix = u32::from(self.prefix);
        if prefix == 0 {
            return true;
        }
        let mask = u128::MAX << (128 - prefix);
        (bits(ip) & mask) == (bits(self.net) & mask)
    }
}

/// Every suppression of one config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suppressions {
    pub list: Vec<Suppression>,
    /// Where they came from (shown in the report).
    pub file: String,
}

/// A finding left out by a suppression, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub rule_id: String,
    pub class: Class,
    pub key_id: Option<String>,
    pub count: usize,
    pub reason: String,
    /// The suppression's `file:line`.
    pub by: String,
}

/// A problem in the config file: where, which field, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub line: usize,
    pub message: String,
}

/// Parse a config file's text; `file` names it in the report and in problems.
pub fn parse_config(text: &str, file: &str) -> Result<Suppressions, Vec<ConfigProblem>> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let parsed: ConfigFile = toml::from_str(text).map_err(|e| {
        vec![ConfigProblem {
            line: e.span().map_or(1, |s| line_of(s.start)),
            message: e.message().to_string(),
        }]
    })?;
    let mut problems = Vec::new();
    let mut list = Vec::new();
    for entry in parsed.suppress {
        let line = line_of(entry.span().start);
        let s = entry.into_inner();
        let mut problem = |at: usize, message: String| {
            problems.push(ConfigProblem { line: at, message });
        };
        let class = match &s.class {
            Some(c) => match Class::parse(c.get_ref()) {
                Some(class) => Some(class),
                None => {
                    problem(
                        line_of(c.span().start),
                        format!("`class`: unknown class `{}`", c.get_ref()),
                    );
                    None
                }
            },
            None => None,
        };
        let client = match &s.client {
            Some(c) => match Client::parse(c.get_ref()) {
                Some(client) => Some(client),
                None => {
                    problem(
                        line_of(c.span().start),
                        format!(
                            "`client`: `{}` is not an IP address or CIDR network",
                            c.get_ref()
                        ),
                    );
                    None
                }
            },
            None => None,
        };
        let until = match &s.until {
            Some(u) => match chrono::NaiveDate::parse_from_str(u.get_ref(), "%Y-%m-%d") {
                Ok(day) => day
                    .and_hms_milli_opt(23, 59, 59, 999)
                    .map(|t| (t.and_utc().timestamp_millis(), u.get_ref().clone())),
                Err(_) => {
                    problem(
                        line_of(u.span().start),
                        format!("`until`: `{}` is not a date (YYYY-MM-DD)", u.get_ref()),
                    );
                    None
                }
            },
            None => None,
        };
        if s.rule.is_none() && s.key.is_none() && s.class.is_none() && s.client.is_none() {
            problem(
                line,
                "a suppression needs at least one of `rule`, `key`, `class`, `client`".into(),
            );
        }
        let reason = match s.reason.filter(|r| !r.trim().is_empty()) {
            Some(r) => r,
            None => {
                problem(
                    line,
                    "`reason`: say why it is suppressed (it is shown in every report)".into(),
                );
                String::new()
            }
        };
        list.push(Suppression {
            rule: s.rule,
            key: s.key,
            class,
            client,
            reason,
            until,
            at: format!("{file}:{line}"),
        });
    }
    if problems.is_empty() {
        Ok(Suppressions {
            list,
            file: file.to_string(),
        })
    } else {
        Err(problems)
    }
}

impl Suppression {
    fn matches(&self, f: &Finding) -> bool {
        self.rule.as_ref().is_none_or(|r| *r == f.rule_id)
            && self
                .key
                .as_ref()
                .is_none_or(|k| f.key_id.as_ref() == Some(k))
            && self.class.is_none_or(|c| c == f.class)
            && self.client.as_ref().is_none_or(|c| {
                !f.observed.client_addresses.is_empty()
                    && f.observed.client_addresses.iter().all(|a| c.contains(a))
            })
    }
}

/// Move the findings a live suppression matches to `d.suppressed`; note the lapsed ones and
/// the ones that matched nothing. A client suppression needs every client of a finding in its
/// network: a failure seen from one silenced host and one other is still reported.
pub fn apply(d: &mut Diagnosis, s: &Suppressions, now_ms: i64) {
    let mut used = vec![false; s.list.len()];
    let mut kept = Vec::with_capacity(d.findings.len());
    for f in std::mem::take(&mut d.findings) {
        let hit = s.list.iter().enumerate().find(|(_, sup)| {
            sup.until.as_ref().is_none_or(|(end, _)| now_ms <= *end) && sup.matches(&f)
        });
        match hit {
            Some((i, sup)) => {
                used[i] = true;
                d.suppressed.push(Suppressed {
                    rule_id: f.rule_id.clone(),
                    class: f.class,
                    key_id: f.key_id.clone(),
                    count: f.count,
                    reason: sup.reason.clone(),
                    by: sup.at.clone(),
                });
            }
            None => kept.push(f),
        }
    }
    d.findings = kept;
    for (sup, used) in s.list.iter().zip(used) {
        if let Some((end, day)) = &sup.until {
            if now_ms > *end {
                d.notes.push(note(format!(
                    "suppression at {} lapsed on {day}; what it silenced is reported again ({})",
                    sup.at, sup.reason
                )));
                continue;
            }
        }
        if !used {
            d.notes.push(note(format!(
                "suppression at {} matched nothing in this run",
                sup.at
            )));
        }
    }
}

fn note(message: String) -> Note {
    Note {
        rule_id: None,
        message,
        source: None,
        line: None,
        count: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_the_line_and_field() {
        let text = "[[suppress]]\nkey = \"VuaCfGcBCdbkQm-e5aOx\"\n\n[[suppress]]\nclass = \"expird\"\nreason = \"x\"\nclient = \"10.0.0.300\"\nuntil = \"tomorrow\"\n";
        let problems = parse_config(text, ".keydoctor.toml").unwrap_err();
        let lines: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(lines[0].0, 1);
        assert!(lines[0].1.starts_with("`reason`"), "{lines:?}");
        assert_eq!(lines[1], (5, "`class`: unknown class `expird`"));
        assert_eq!(lines[2].0, 7);
        assert_eq!(lines[3].0, 8);
        let unknown = parse_config("[[suppress]]\nrul = \"x\"\n", "f").unwrap_err();
        assert_eq!(unknown[0].line, 2);
        assert!(
            unknown[0].message.contains("unknown field `rul`"),
            "{unknown:?}"
        );
    }

    #[test]
    fn clients_match_by_address_or_network() {
        let net = Client::parse("10.0.0.0/24").unwrap();
        assert!(net.contains("10.0.0.7"));
        assert!(net.contains("10.0.0.7:53422"));
        assert!(!net.contains("10.0.1.7"));
        assert!(!net.contains("not an address"));
        let one = Client::parse("10.0.0.7").unwrap();
        assert!(one.contains("10.0.0.7") && !one.contains("10.0.0.8"));
        let v6 = Client::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8::1") && !v6.contains("10.0.0.7"));
        assert!(Client::parse("10.0.0.0/33").is_none());
    }
}
