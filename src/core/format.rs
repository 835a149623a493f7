//! Numbers and durations as users read them.

/// `one` for a count of 1, else `many`: `plural(n, "node", "nodes")`.
pub fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

/// `1204` → `1,204`.
pub fn thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Bytes in a tebibyte, the unit warehouses price scans by.
pub const TIB: f64 = 1024.0 * 1024.0 * 1024.0 * 1024.0;

/// A byte count as BigQuery's console shows it: `0 B`, `12.3 MiB`, `1.2 TiB`.
pub fn bytes(count: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = count as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{count} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// `90s` → `1m 30s`.
pub fn humantime(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0 if !duration.is_zero() => format!("{}s", (duration.as_secs_f64() * 10.0).ceil() / 10.0),
        0..60 => format!("{seconds}s"),
        60..3600 if seconds.is_multiple_of(60) => format!("{}m", seconds / 60),
        60..3600 => format!("{}m {}s", seconds / 60, seconds % 60),
        _ if seconds.is_multiple_of(3600) => format!("{}h", seconds / 3600),
        _ => format!("{}h {}m", seconds / 3600, (seconds % 3600) / 60),
    }
}

/// The longest duration strata reads: a year. Longer waits are mistakes (a
/// timeout in milliseconds read as seconds), and adding one to a clock overflows.
pub const LONGEST_DURATION: std::time::Duration = std::time::Duration::from_secs(366 * 86400);

/// Why a duration a user wrote is not one strata can wait.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("`{0}` is not a duration such as `30m`, `90s`, `2h` or `1d`")]
    Unreadable(String),
    #[error("`{0}` is negative: a duration is zero or more")]
    Negative(String),
    #[error("`{0}` is longer than a year, the longest duration strata waits")]
    TooLong(String),
}

/// `amount` seconds, refused when negative, not a number or past [`LONGEST_DURATION`];
/// `written` is how the user wrote it, for the error.
pub fn seconds(amount: f64, written: &str) -> Result<std::time::Duration, DurationError> {
    if amount.is_nan() {
        return Err(DurationError::Unreadable(written.to_string()));
    }
    if amount < 0.0 {
        return Err(DurationError::Negative(written.to_string()));
    }
    match std::time::Duration::try_from_secs_f64(amount) {
        Ok(duration) if duration <= LONGEST_DURATION => Ok(duration),
        _ => Err(DurationError::TooLong(written.to_string())),
    }
}

/// `30m`, `1.5h`, `90s`, `2d`, `1h 30m` (humantime's forms), or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, DurationError> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')).unwrap_or(text.len());
    let unit = match text[split..].trim() {
        "" | "s" | "sec" | "second" | "seconds" => Some(1.0),
        "m" | "min" | "minute" | "minutes" => Some(60.0),
        "h" | "hour" | "hours" => Some(3600.0),
        "d" | "day" | "days" => Some(86400.0),
        _ => None,
    };
    if let (Some(unit), Ok(amount)) = (unit, text[..split].parse::<f64>()) {
        return seconds(amount * unit, text);
    }
    match ::humantime::parse_duration(text) {
        Ok(duration) if duration <= LONGEST_DURATION => Ok(duration),
        Ok(_) | Err(::humantime::DurationError::NumberOverflow) => Err(DurationError::TooLong(text.to_string())),
        Err(_) if text.starts_with('-') => Err(DurationError::Negative(text.to_string())),
        Err(_) => Err(DurationError::Unreadable(text.to_string())),
    }
}

/// A duration in a YAML value: a number of seconds or a string [`parse_duration`] reads.
pub fn duration_value(value: &serde_json::Value) -> Result<std::time::Duration, DurationError> {
    match value {
        serde_json::Value::Number(number) => seconds(number.as_f64().unwrap_or(f64::NAN), &number.to_string()),
        serde_json::Value::String(text) => parse_duration(text),
        other => Err(DurationError::Unreadable(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::humantime;

    #[test]
    fn byte_counts_read_as_bigquery_shows_them() {
        use super::bytes;
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(12_900_000), "12.3 MiB");
        assert_eq!(bytes(1 << 40), "1.0 TiB");
    }

    #[test]
    fn durations_parse_as_people_write_them() {
        use super::DurationError::*;
        use super::parse_duration;
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("soon"), Err(Unreadable("soon".into())));
        assert_eq!(parse_duration("5 fortnights"), Err(Unreadable("5 fortnights".into())));
        assert_eq!(parse_duration("-1m"), Err(Negative("-1m".into())));
        assert_eq!(parse_duration("99999999999999999999"), Err(TooLong("99999999999999999999".into())));
        assert_eq!(parse_duration("1.0e+30"), Err(TooLong("1.0e+30".into())));
        assert_eq!(parse_duration("400d"), Err(TooLong("400d".into())));
        assert_eq!(parse_duration("NaN"), Err(Unreadable("NaN".into())));
        assert_eq!(parse_duration("→5m"), Err(Unreadable("→5m".into())));
    }

    #[test]
    fn durations_in_yaml_are_numbers_of_seconds_or_text() {
        use super::{DurationError::*, duration_value};
        use serde_json::json;
        assert_eq!(duration_value(&json!(1.5)), Ok(Duration::from_millis(1500)));
        assert_eq!(duration_value(&json!("2h")), Ok(Duration::from_secs(7200)));
        assert_eq!(duration_value(&json!(-1)), Err(Negative("-1".into())));
        assert_eq!(duration_value(&json!(1.0e20)), Err(TooLong("1e+20".into())));
        assert_eq!(duration_value(&json!(true)), Err(Unreadable("true".into())));
    }

    #[test]
    fn durations_read_as_people_write_them() {
        let cases = [
            (Duration::from_millis(300), "0.3s"),
            (Duration::from_millis(1), "0.1s"),
            (Duration::ZERO, "0s"),
            (Duration::from_secs(59), "59s"),
            (Duration::from_secs(60), "1m"),
            (Duration::from_secs(90), "1m 30s"),
            (Duration::from_secs(3600), "1h"),
            (Duration::from_secs(5400), "1h 30m"),
            (Duration::from_secs(5459), "1h 30m"),
            (Duration::from_secs(90000), "25h"),
        ];
        for (duration, text) in cases {
            assert_eq!(humantime(duration), text, "{duration:?}");
        }
    }
}
