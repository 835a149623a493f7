//! Numbers and durations as users read them.

/// `1204` → `1,204`.
pub fn thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `90s` → `1m 30s`.
pub fn humantime(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0 if !duration.is_zero() => format!("{}s", (duration.as_secs_f64() * 10.0).ceil() / 10.0),
        0..60 => format!("{seconds}s"),
        60..3600 if seconds % 60 == 0 => format!("{}m", seconds / 60),
        60..3600 => format!("{}m {}s", seconds / 60, seconds % 60),
        _ if seconds % 3600 == 0 => format!("{}h", seconds / 3600),
        _ => format!("{}h {}m", seconds / 3600, (seconds % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::humantime;

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
