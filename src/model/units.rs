//! Units and times as people read them.

/// `1048576` → `1.0 MiB`.
pub fn human_bytes(n: usize) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Epoch milliseconds → RFC 3339 (UTC).
pub fn format_ms(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// `1209600000` → `14d`, `5400000` → `1h 30m`, `-90000` → `-1m 30s`.
pub fn human_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let mut s = ms.unsigned_abs() / 1000;
    let d = s / 86_400;
    s %= 86_400;
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (sec, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .take(2)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        "0s".to_string()
    } else {
        format!("{sign}{}", parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(14 * 86_400_000), "14d");
        assert_eq!(human_duration(5_400_000), "1h 30m");
        assert_eq!(human_duration(-90_000), "-1m 30s");
        assert_eq!(human_duration(86_400_000 + 3_600_000 + 60_000), "1d 1h");
    }
}
