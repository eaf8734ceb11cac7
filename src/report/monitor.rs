//! The monitoring formats of `expiring` and `doctor`: the Nagios plugin contract
//! (`--format nagios`) and OpenMetrics text for the Prometheus textfile collector
//! (`--format openmetrics`).
//!
//! Nagios (monitoring-plugins' guidelines, which Icinga, Naemon and Sensu follow): the first
//! line is `STATE: text | perfdata`, long output follows one item a line, and the state is the
//! exit status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). Perfdata is
//! `label=value[unit];warn;crit;min;max`. Text taken from a cluster (key names, owners, a URL)
//! has its `|` replaced, since a `|` would start perfdata.
//!
//! OpenMetrics: `# TYPE`/`# HELP`/`# UNIT` per family, label values escaped (`\\`, `\"`, `\n`;
//! any other control character written as the text `\xNN`, so nothing else needs escaping on
//! the way out), `# EOF` last. The labels are low-cardinality by design: a key's id, name,
//! owner and type, and a state.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::checks::doctor::{DoctorReport, Status};
use crate::lifecycle::expiring::{ExpiringKey, ExpiringReport};
use crate::model::{format_ms, human_duration, MonitorState};

/// `expiring --format nagios`: WARNING and CRITICAL windows.
#[derive(Debug, Clone)]
pub struct Thresholds {
    pub warn_ms: i64,
    pub warn: String,
    pub crit_ms: i64,
    pub crit: String,
}

/// A key's expiry state for a plugin: expired or within `--crit` is CRITICAL, within `--warn`
/// WARNING.
fn key_state(k: &ExpiringKey, t: &Thresholds) -> MonitorState {
    match k.expires_in_ms {
        Some(left) if left <= t.crit_ms => MonitorState::Critical,
        Some(left) if left <= t.warn_ms => MonitorState::Warning,
        Some(_) => MonitorState::Ok,
        // Never expires: a risk, listed only with --include-no-expiry.
        None => MonitorState::Warning,
    }
}

/// `|` starts perfdata in a plugin's output: never let a name bring one.
fn plain(text: &str) -> String {
    text.replace('|', "¦")
}

/// Render `expiring` as a Nagios plugin; the state is returned for the exit status.
pub fn expiring_nagios(
    r: &ExpiringReport,
    include_no_expiry: bool,
    t: &Thresholds,
    out: &mut dyn Write,
) -> io::Result<MonitorState> {
    let expired = r.expired.len();
    let crit = r
        .keys
        .iter()
        .filter(|k| key_state(k, t) == MonitorState::Critical)
        .count();
    let warn = r.keys.len() - crit;
    let never = r.no_expiration.len();
    let mut state = MonitorState::Ok;
    if warn > 0 || (include_no_expiry && never > 0) {
        state = MonitorState::Warning;
    }
    if expired + crit > 0 {
        state = MonitorState::Critical;
    }
    // "1 API key expired, 2 expire within 3d, 1 within 14d (40 keys checked)": the first count
    // names what is counted.
    let mut parts: Vec<(usize, String)> = Vec::new();
    if expired > 0 {
        parts.push((expired, "expired".into()));
    }
    if crit > 0 {
        parts.push((crit, format!("{} within {}", expire_word(crit), t.crit)));
    }
    if warn > 0 {
        parts.push((warn, format!("{} within {}", expire_word(warn), t.warn)));
    }
    if include_no_expiry && never > 0 {
        parts.push((never, format!("never {}", expire_word(never))));
    }
    // Every key read but the invalidated ones (never listed: they cannot be used).
    let active = r.total.saturating_sub(r.invalidated);
    let text = if parts.is_empty() {
        format!(
            "no API key expires within {} ({active} {} checked)",
            t.warn,
            keys_word(active)
        )
    } else {
        let said: Vec<String> = parts
            .iter()
            .enumerate()
            .map(|(i, (n, what))| match i {
                0 => format!("{n} API {} {what}", keys_word(*n)),
                _ => format!("{n} {what}"),
            })
            .collect();
        format!(
            "{} ({active} {} checked)",
            said.join(", "),
            keys_word(active)
        )
    };
    let mut perf = format!(
        "expired={expired};;;0 critical={crit};;;0 warning={warn};;;0 never_expire={never};;;0 keys={active};;;0"
    );
    if let Some(soonest) = r.keys.first().and_then(|k| k.expires_in_ms) {
        let _ = write!(
            perf,
            " soonest_expiry={}s;{}:;{}:;0",
            soonest / 1000,
            t.warn_ms / 1000,
            t.crit_ms / 1000
        );
    }
    writeln!(out, "{}: {text} | {perf}", state.as_str())?;
    let line = |k: &ExpiringKey, what: String| {
        let name = k
            .name
            .as_deref()
            .map(|n| format!(" \"{}\"", plain(n)))
            .unwrap_or_default();
        let owner = k
            .owner
            .as_deref()
            .map(|o| format!(" of {}", plain(o)))
            .unwrap_or_default();
        format!("key {}{name}{owner} {what}", plain(&k.id))
    };
    for k in &r.expired {
        let ago = k
            .expires_in_ms
            .map(|ms| human_duration(-ms))
            .unwrap_or_default();
        let when = k.expiration_ms.map(format_ms).unwrap_or_default();
        writeln!(
            out,
            "CRITICAL {}",
            line(k, format!("expired {ago} ago ({when})"))
        )?;
    }
    for k in &r.keys {
        let left = k.expires_in_ms.map(human_duration).unwrap_or_default();
        let when = k.expiration_ms.map(format_ms).unwrap_or_default();
        writeln!(
            out,
            "{} {}",
            key_state(k, t).as_str(),
            line(k, format!("expires in {left} ({when})"))
        )?;
    }
    if include_no_expiry {
        for k in &r.no_expiration {
            writeln!(out, "WARNING {}", line(k, "never expires".into()))?;
        }
    }
    for note in &r.notes {
        writeln!(out, "note: {}", plain(note))?;
    }
    Ok(state)
}

fn keys_word(n: usize) -> &'static str {
    if n == 1 {
        "key"
    } else {
        "keys"
    }
}

fn expire_word(n: usize) -> &'static str {
    if n == 1 {
        "expires"
    } else {
        "expire"
    }
}

/// Render `doctor` as a Nagios plugin: an error check is CRITICAL, a warning WARNING, a check
/// that could not be made UNKNOWN (when nothing is worse).
pub fn doctor_nagios(report: &DoctorReport, out: &mut dyn Write) -> io::Result<MonitorState> {
    let count = |s: Status| report.checks.iter().filter(|c| c.status == s).count();
    let (errors, warnings, unknown, ok) = (
        count(Status::Error),
        count(Status::Warning),
        count(Status::Unknown),
        count(Status::Ok),
    );
    let state = report
        .checks
        .iter()
        .map(|c| match c.status {
            Status::Error => MonitorState::Critical,
            Status::Warning => MonitorState::Warning,
            Status::Unknown => MonitorState::Unknown,
            Status::Ok => MonitorState::Ok,
        })
        .fold(MonitorState::Ok, MonitorState::worst);
    let mut parts = Vec::new();
    for (n, one, many) in [
        (errors, "error", "errors"),
        (warnings, "warning", "warnings"),
        (unknown, "not checked", "not checked"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    }
    let what = if parts.is_empty() {
        "all checks pass".to_string()
    } else {
        parts.join(", ")
    };
    writeln!(
        out,
        "{}: {what} in {} checks of {} | errors={errors};;;0 warnings={warnings};;;0 unknown={unknown};;;0 ok={ok};;;0",
        state.as_str(),
        report.checks.len(),
        plain(&report.cluster),
    )?;
    for c in report.checks.iter().filter(|c| c.status != Status::Ok) {
        writeln!(
            out,
            "{} {}: {}",
            c.status.as_str().to_uppercase(),
            plain(&c.title),
            plain(&c.text)
        )?;
    }
    Ok(state)
}

/// What a plugin prints when keydoctor itself failed: UNKNOWN, never CRITICAL.
pub fn nagios_unknown(message: &str, out: &mut dyn Write) -> io::Result<()> {
    let mut lines = message.lines();
    writeln!(
        out,
        "UNKNOWN: {}",
        plain(lines.next().unwrap_or("keydoctor failed"))
    )?;
    for line in lines {
        writeln!(out, "{}", plain(line))?;
    }
    Ok(())
}

/// An OpenMetrics label value: `\\`, `\"` and `\n` escaped, any other control character as the
/// text `\xNN` (its backslash escaped), so the line stays one valid line.
fn label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Seconds as OpenMetrics writes a number (milliseconds kept).
fn seconds(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}", ms / 1000)
    } else {
        format!("{:.3}", ms as f64 / 1000.0)
    }
}

/// Render `expiring` as OpenMetrics: every active key's expiry (listed or not, expired
/// included), counts by state, the window, and when it was made.
pub fn expiring_openmetrics(
    r: &ExpiringReport,
    now_ms: i64,
    out: &mut dyn Write,
) -> io::Result<()> {
    let name = "keydoctor_api_key_expiry_timestamp_seconds";
    writeln!(out, "# TYPE {name} gauge")?;
    writeln!(out, "# UNIT {name} seconds")?;
    writeln!(
        out,
        "# HELP {name} When the API key expires (Unix time). Active keys with an expiration; invalidated keys and keys that never expire are counted in keydoctor_api_keys."
    )?;
    let mut keys: Vec<&ExpiringKey> = r.expired.iter().chain(&r.keys).chain(&r.later).collect();
    keys.sort_by(|a, b| a.id.cmp(&b.id));
    for k in keys {
        let Some(at) = k.expiration_ms else { continue };
        writeln!(
            out,
            "{name}{{id=\"{}\",name=\"{}\",owner=\"{}\",type=\"{}\"}} {}",
            label(&k.id),
            label(k.name.as_deref().unwrap_or("")),
            label(k.owner.as_deref().unwrap_or("")),
            k.key_type.map_or("", |t| t.as_str()),
            seconds(at)
        )?;
    }
    writeln!(out, "# TYPE keydoctor_api_keys gauge")?;
    writeln!(
        out,
        "# HELP keydoctor_api_keys API keys by state: expired, expiring (within the window), later, no_expiration, invalidated."
    )?;
    for (state, n) in [
        ("expired", r.expired.len()),
        ("expiring", r.keys.len()),
        ("later", r.later.len()),
        ("no_expiration", r.no_expiration.len()),
        ("invalidated", r.invalidated),
    ] {
        writeln!(out, "keydoctor_api_keys{{state=\"{state}\"}} {n}")?;
    }
    writeln!(out, "# TYPE keydoctor_expiring_window_seconds gauge")?;
    writeln!(out, "# UNIT keydoctor_expiring_window_seconds seconds")?;
    writeln!(
        out,
        "# HELP keydoctor_expiring_window_seconds The --within window: a key expiring sooner counts as expiring."
    )?;
    writeln!(
        out,
        "keydoctor_expiring_window_seconds {}",
        seconds(r.within_ms)
    )?;
    generated(now_ms, out)?;
    writeln!(out, "# EOF")
}

/// Render `doctor` as OpenMetrics: one gauge per check (1, with its status as a label) and the
/// checks counted by status.
pub fn doctor_openmetrics(
    report: &DoctorReport,
    now_ms: i64,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "# TYPE keydoctor_doctor_check gauge")?;
    writeln!(
        out,
        "# HELP keydoctor_doctor_check A check doctor made, by id and status (ok, warning, error, unknown); always 1."
    )?;
    for c in &report.checks {
        writeln!(
            out,
            "keydoctor_doctor_check{{id=\"{}\",status=\"{}\"}} 1",
            label(&c.id),
            c.status.as_str()
        )?;
    }
    writeln!(out, "# TYPE keydoctor_doctor_checks gauge")?;
    writeln!(
        out,
        "# HELP keydoctor_doctor_checks doctor's checks counted by status."
    )?;
    for s in [Status::Ok, Status::Warning, Status::Error, Status::Unknown] {
        let n = report.checks.iter().filter(|c| c.status == s).count();
        writeln!(
            out,
            "keydoctor_doctor_checks{{status=\"{}\"}} {n}",
            s.as_str()
        )?;
    }
    generated(now_ms, out)?;
    writeln!(out, "# EOF")
}

/// When the figures were made (a stale textfile is then visible: time() minus this).
fn generated(now_ms: i64, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# TYPE keydoctor_generated_timestamp_seconds gauge")?;
    writeln!(out, "# UNIT keydoctor_generated_timestamp_seconds seconds")?;
    writeln!(
        out,
        "# HELP keydoctor_generated_timestamp_seconds When keydoctor made these figures (Unix time; --now when given)."
    )?;
    writeln!(
        out,
        "keydoctor_generated_timestamp_seconds {}",
        seconds(now_ms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_value_stays_one_valid_line() {
        assert_eq!(
            label("a\"b\\c\nd\x1be\x07"),
            "a\\\"b\\\\c\\nd\\\\x1be\\\\x07"
        );
    }

    #[test]
    fn the_worst_state_wins_and_unknown_is_below_warning() {
        use MonitorState::*;
        assert_eq!(Ok.worst(Unknown), Unknown);
        assert_eq!(Unknown.worst(Warning), Warning);
        assert_eq!(Critical.worst(Unknown), Critical);
    }
}
