//! Execution dates: parsing `--date`, the default (yesterday, as a daily schedule
//! runs at midnight for the day before), and Airflow's date variables.

use chrono::{Days, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::core::diagnostic::Diagnostic;

/// The logical date a run processes (Airflow's `ds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExecutionDate(pub NaiveDate);

/// The dates a command runs for, from `--date`, `--start`/`--end` and the
/// time zone (`--timezone`, else the project's `timezone` var, else UTC).
pub fn resolve(date: Option<&str>, start: Option<&str>, end: Option<&str>, timezone: Option<&str>) -> Result<Vec<ExecutionDate>, Diagnostic> {
    let zone: Tz = match timezone {
        None => Tz::UTC,
        Some(name) => name.parse().map_err(|_| {
            Diagnostic::new(format!("`{name}` is not a time zone")).help("use an IANA name such as `UTC`, `Asia/Seoul` or `America/New_York`")
        })?,
    };
    match (date, start, end) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err(Diagnostic::new("`--date` cannot be combined with `--start`/`--end`").help("give one date, or a range"))
        }
        (Some(text), None, None) => Ok(vec![ExecutionDate::parse(text, "--date")?]),
        (None, None, None) => Ok(vec![ExecutionDate::yesterday_in(zone)]),
        (None, Some(_), None) | (None, None, Some(_)) => {
            Err(Diagnostic::new("a backfill needs both `--start` and `--end`").help("for example `--start 2026-11-01 --end 2026-11-07`"))
        }
        (None, Some(start_text), Some(end_text)) => {
            let first = ExecutionDate::parse(start_text, "--start")?;
            let last = ExecutionDate::parse(end_text, "--end")?;
            if first > last {
                return Err(Diagnostic::new(format!("`--start {start_text}` is after `--end {end_text}`"))
                    .help("both are inclusive; give the earlier date as `--start`"));
            }
            let mut dates = vec![first];
            while let Some(&latest) = dates.last().filter(|d| **d < last) {
                dates.push(latest.add_days(1));
            }
            Ok(dates)
        }
    }
}

impl ExecutionDate {
    /// 0001-01-01, the first day both warehouses' dates and timestamps hold.
    pub const EARLIEST: ExecutionDate = ExecutionDate(match NaiveDate::from_ymd_opt(1, 1, 1) {
        Some(date) => date,
        None => NaiveDate::MIN,
    });
    /// Yesterday in `zone`, as a daily schedule running at midnight processes the day before.
    pub fn yesterday_in(zone: Tz) -> ExecutionDate {
        ExecutionDate::yesterday_at(Utc::now(), zone)
    }

    /// The day before the date `now` falls on in `zone`.
    pub fn yesterday_at(now: chrono::DateTime<Utc>, zone: Tz) -> ExecutionDate {
        let today = now.with_timezone(&zone).date_naive();
        ExecutionDate(today.checked_sub_days(Days::new(1)).unwrap_or(today))
    }

    pub fn yesterday() -> ExecutionDate {
        ExecutionDate::yesterday_in(Tz::UTC)
    }

    /// Parses `YYYY-MM-DD`, naming `flag` in the error.
    pub fn parse(text: &str, flag: &str) -> Result<ExecutionDate, Diagnostic> {
        let well_formed = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) if well_formed => Ok(ExecutionDate(date)),
            Ok(_) | Err(_) if well_formed => {
                Err(Diagnostic::new(format!("`{flag} {text}` is not a calendar date")).help("give a day that exists, as `YYYY-MM-DD`"))
            }
            _ => Err(Diagnostic::new(format!("`{flag} {text}` is not a date in the form `YYYY-MM-DD`"))
                .help(format!("for example `{flag} {}`", ExecutionDate::yesterday().ds()))),
        }
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// `2026-11-20`
    pub fn ds(self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }

    /// `20261120`
    pub fn ds_nodash(self) -> String {
        self.0.format("%Y%m%d").to_string()
    }

    pub fn add_days(self, days: i64) -> ExecutionDate {
        let shifted =
            if days >= 0 { self.0.checked_add_days(Days::new(days as u64)) } else { self.0.checked_sub_days(Days::new(days.unsigned_abs())) };
        ExecutionDate(shifted.unwrap_or(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_dates() {
        assert_eq!(ExecutionDate::parse("2026-11-20", "--date").unwrap().ds_nodash(), "20261120");
        let err = ExecutionDate::parse("2026-02-30", "--date").unwrap_err();
        assert_eq!(err.message, "`--date 2026-02-30` is not a calendar date");
        let err = ExecutionDate::parse("yesterday", "--date").unwrap_err();
        assert_eq!(err.message, "`--date yesterday` is not a date in the form `YYYY-MM-DD`");
        // Not in the form: each is named so, not called a wrong calendar date.
        for text in ["2026-1-2", "2026/11/20", "2026_11-20"] {
            let err = ExecutionDate::parse(text, "--date").unwrap_err();
            assert_eq!(err.message, format!("`--date {text}` is not a date in the form `YYYY-MM-DD`"));
        }
    }

    #[test]
    fn a_backfill_of_one_day_is_that_day() {
        let dates = resolve(None, Some("2026-11-20"), Some("2026-11-20"), None).unwrap();
        assert_eq!(dates.iter().map(|d| d.ds()).collect::<Vec<_>>(), ["2026-11-20"]);
        let dates = resolve(None, Some("2026-11-19"), Some("2026-11-20"), None).unwrap();
        assert_eq!(dates.iter().map(|d| d.ds()).collect::<Vec<_>>(), ["2026-11-19", "2026-11-20"]);
    }

    #[test]
    fn ranges_are_inclusive_and_ordered() {
        let dates = resolve(None, Some("2026-10-30"), Some("2026-11-02"), None).unwrap();
        let shown: Vec<String> = dates.iter().map(|d| d.ds()).collect();
        assert_eq!(shown, ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"]);
        let err = resolve(None, Some("2026-11-02"), Some("2026-11-01"), None).unwrap_err();
        assert_eq!(err.message, "`--start 2026-11-02` is after `--end 2026-11-01`");
        assert!(resolve(None, Some("2026-11-02"), None, None).is_err());
        assert!(resolve(Some("2026-11-02"), Some("2026-11-02"), Some("2026-11-03"), None).is_err());
        let err = resolve(None, None, None, Some("Mars/Olympus")).unwrap_err();
        assert_eq!(err.message, "`Mars/Olympus` is not a time zone");
    }

    #[test]
    fn default_is_yesterday_in_the_time_zone() {
        for zone in ["UTC", "Asia/Seoul", "America/Los_Angeles"] {
            let tz: Tz = zone.parse().unwrap();
            assert_eq!(resolve(None, None, None, Some(zone)).unwrap(), [ExecutionDate::yesterday_in(tz)]);
        }
        assert_eq!(resolve(None, None, None, None).unwrap(), [ExecutionDate::yesterday_in(Tz::UTC)]);
    }

    // Fixed instants where the zones' calendars disagree with UTC's.
    #[test]
    fn yesterday_follows_the_zone_calendar_not_utc() {
        let at = |instant: &str| instant.parse::<chrono::DateTime<Utc>>().unwrap();
        let day = |text: &str| ExecutionDate::parse(text, "--date").unwrap();
        let (seoul, los_angeles): (Tz, Tz) = ("Asia/Seoul".parse().unwrap(), "America/Los_Angeles".parse().unwrap());
        // 16:30 UTC on the 25th is 01:30 on the 26th in Seoul, 08:30 on the 25th in Los Angeles.
        let evening = at("2026-11-25T16:30:00Z");
        assert_eq!(ExecutionDate::yesterday_at(evening, Tz::UTC), day("2026-11-24"));
        assert_eq!(ExecutionDate::yesterday_at(evening, seoul), day("2026-11-25"));
        assert_eq!(ExecutionDate::yesterday_at(evening, los_angeles), day("2026-11-24"));
        // 03:00 UTC on 1 December is 19:00 on 30 November in Los Angeles, noon in Seoul.
        let early = at("2026-12-01T03:00:00Z");
        assert_eq!(ExecutionDate::yesterday_at(early, Tz::UTC), day("2026-11-30"));
        assert_eq!(ExecutionDate::yesterday_at(early, los_angeles), day("2026-11-29"));
        assert_eq!(ExecutionDate::yesterday_at(early, seoul), day("2026-11-30"));
    }

    #[test]
    fn shifts_across_months() {
        let date = ExecutionDate::parse("2026-12-31", "--date").unwrap();
        assert_eq!(date.add_days(1).ds(), "2027-01-01");
        assert_eq!(date.add_days(-31).ds(), "2026-11-30");
    }
}
