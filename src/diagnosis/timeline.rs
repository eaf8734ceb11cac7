//! Time in logs: the timestamp shapes Elasticsearch, its audit log, Logstash, Beats and Kibana
//! write, and Elasticsearch time values (`10d`) as API-key expirations are given.

use chrono::NaiveDateTime;

/// Epoch milliseconds of a log timestamp: `2024-05-08T01:51:37,250+0000`,
/// `2023-06-28T13:24:38,744` (no zone: read as UTC, the zone Elasticsearch's Docker images and
/// most servers log in), `2024-03-07T14:00:20.001Z`, `2024-05-08 01:51:37.250+02:00`.
pub fn parse_ts(text: &str) -> Option<i64> {
    let text = text.trim().trim_start_matches('[');
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    // Digits by hand: this runs once per failure line, and chrono's format parser is slow.
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let date =
        chrono::NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
    let time = chrono::NaiveTime::from_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    let base = NaiveDateTime::new(date, time).and_utc().timestamp_millis();
    let mut rest = &text[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix(['.', ',']) {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let mut value = 0i64;
        for (i, b) in frac.bytes().take(digits).enumerate() {
            if i < 3 {
                value = value * 10 + i64::from(b - b'0');
            }
        }
        for _ in digits..3 {
            value *= 10;
        }
        millis = value;
        rest = &frac[digits..];
    }
    let offset_min = match rest.as_bytes().first() {
        Some(b'Z') | None => 0,
        Some(sign @ (b'+' | b'-')) => {
            let digits: String = rest[1..]
                .chars()
                .filter(|c| *c != ':')
                .take_while(char::is_ascii_digit)
                .take(4)
                .collect();
            let (h, m) = match digits.len() {
                2 => (digits.parse::<i64>().ok()?, 0),
                4 => (
                    digits[..2].parse::<i64>().ok()?,
                    digits[2..].parse::<i64>().ok()?,
                ),
                _ => return None,
            };
            let total = h * 60 + m;
            if *sign == b'+' {
                total
            } else {
                -total
            }
        }
        _ => 0,
    };
    Some(base + millis - offset_min * 60_000)
}

/// Milliseconds of an Elasticsearch time value (`10d`, `90d`, `1h`, `30m`, `500ms`).
pub fn parse_time_value(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let value: i64 = text[..digits].parse().ok()?;
    let unit = match &text[digits..] {
        "nanos" => return Some(0),
        "micros" => return Some(value / 1000),
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    value.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_log_timestamp_shape_parses() {
        let utc = parse_ts("2024-05-08T01:51:37.250Z").unwrap();
        for text in [
            "2024-05-08T01:51:37,250+0000",
            "2024-05-08T03:51:37,250+0200",
            "2024-05-08T03:51:37.250+02:00",
            "[2024-05-08T01:51:37,250]",
            "2024-05-08 01:51:37.250",
            "2024-05-07T21:51:37.25-04:00",
        ] {
            assert_eq!(parse_ts(text), Some(utc), "{text}");
        }
        assert_eq!(parse_ts("2024-05-08T01:51:37Z"), Some(utc - 250));
        assert_eq!(parse_ts("yesterday"), None);
    }

    #[test]
    fn time_values() {
        assert_eq!(parse_time_value("10d"), Some(864_000_000));
        assert_eq!(parse_time_value("30m"), Some(1_800_000));
        assert_eq!(parse_time_value("1y"), None);
    }
}
