//! Execution dates: parsing `--date`, the default (yesterday, as a daily schedule
//! runs at midnight for the day before), and Airflow's date variables.

use chrono::{Days, NaiveDate, Utc};

use crate::diagnostic::Diagnostic;

/// The logical date a run processes (Airflow's `ds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExecutionDate(pub NaiveDate);

impl ExecutionDate {
    /// `--date` if given, else yesterday in UTC.
    pub fn from_arg(arg: Option<&str>) -> Result<ExecutionDate, Diagnostic> {
        match arg {
            Some(text) => ExecutionDate::parse(text, "--date"),
            None => Ok(ExecutionDate::yesterday()),
        }
    }

    pub fn yesterday() -> ExecutionDate {
        let today = Utc::now().date_naive();
        ExecutionDate(today.checked_sub_days(Days::new(1)).unwrap_or(today))
    }

    /// Parses `YYYY-MM-DD`, naming `flag` in the error.
    pub fn parse(text: &str, flag: &str) -> Result<ExecutionDate, Diagnostic> {
        let well_formed = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) if well_formed => Ok(ExecutionDate(date)),
            Ok(_) | Err(_) if well_formed => Err(Diagnostic::new(format!("`{flag} {text}` is not a calendar date"))
                .help("give a day that exists, as `YYYY-MM-DD`")),
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
        let shifted = if days >= 0 {
            self.0.checked_add_days(Days::new(days as u64))
        } else {
            self.0.checked_sub_days(Days::new(days.unsigned_abs()))
        };
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
        assert!(ExecutionDate::parse("2026-1-2", "--date").is_err());
    }

    #[test]
    fn shifts_across_months() {
        let date = ExecutionDate::parse("2026-12-31", "--date").unwrap();
        assert_eq!(date.add_days(1).ds(), "2027-01-01");
        assert_eq!(date.add_days(-31).ds(), "2026-11-30");
    }
}
