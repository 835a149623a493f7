//! Dates and timestamps in templates, as Python's `date` and `datetime`:
//! the execution date's variables, `run_started_at`, and what
//! `modules.datetime` makes, with `strftime`, `isoformat` and `replace`.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use minijinja::value::{Kwargs, Object, Value, from_args};
use minijinja::{Error, ErrorKind, State};

use crate::template::invalid;

/// A date or a timestamp, with Python's `strftime` and `isoformat`.
#[derive(Debug, Clone)]
pub enum DateValue {
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
}

impl DateValue {
    pub(super) fn midnight(date: NaiveDate) -> DateValue {
        DateValue::Timestamp(date.and_time(chrono::NaiveTime::MIN).and_utc())
    }

    fn iso(&self) -> String {
        match self {
            DateValue::Date(date) => date.format("%Y-%m-%d").to_string(),
            DateValue::Timestamp(ts) => ts.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        }
    }

    fn strftime(&self, format: &str) -> Result<String, Error> {
        use std::fmt::Write;
        let mut out = String::new();
        let written = match self {
            DateValue::Date(date) => write!(out, "{}", date.format(format)),
            DateValue::Timestamp(ts) => write!(out, "{}", ts.format(format)),
        };
        written.map_err(|_| invalid(format!("`strftime('{format}')`: unsupported format")))?;
        Ok(out)
    }

    /// The parts of a date or time, for `replace(...)`.
    fn replace(&self, kwargs: &Kwargs) -> Result<DateValue, Error> {
        let (date, time) = match self {
            DateValue::Date(date) => (*date, None),
            DateValue::Timestamp(ts) => (ts.date_naive(), Some(ts.time())),
        };
        let year = kwargs.get::<Option<i32>>("year")?.unwrap_or(date.year());
        let month = kwargs.get::<Option<u32>>("month")?.unwrap_or(date.month());
        let day = kwargs.get::<Option<u32>>("day")?.unwrap_or(date.day());
        let new_date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| invalid("replace(...) gives no date"))?;
        Ok(match time {
            None => DateValue::Date(new_date),
            Some(time) => {
                let hour = kwargs.get::<Option<u32>>("hour")?.unwrap_or(time.hour());
                let minute = kwargs.get::<Option<u32>>("minute")?.unwrap_or(time.minute());
                let second = kwargs.get::<Option<u32>>("second")?.unwrap_or(time.second());
                let _: Option<u32> = kwargs.get("microsecond")?;
                let time = chrono::NaiveTime::from_hms_opt(hour, minute, second).ok_or_else(|| invalid("replace(...) gives no time"))?;
                DateValue::Timestamp(new_date.and_time(time).and_utc())
            }
        })
    }
}

impl Object for DateValue {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let (date, time) = match &**self {
            DateValue::Date(date) => (*date, None),
            DateValue::Timestamp(ts) => (ts.date_naive(), Some(ts.time())),
        };
        Some(match key.as_str()? {
            "year" => Value::from(date.year()),
            "month" => Value::from(date.month()),
            "day" => Value::from(date.day()),
            "hour" => Value::from(time.map_or(0, |t| t.hour())),
            "minute" => Value::from(time.map_or(0, |t| t.minute())),
            "second" => Value::from(time.map_or(0, |t| t.second())),
            _ => return None,
        })
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (format,): (String,) = from_args(args)?;
                Ok(Value::from(self.strftime(&format)?))
            }
            "isoformat" => Ok(Value::from(self.iso())),
            "replace" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                Ok(Value::from_object(self.replace(&kwargs)?))
            }
            "weekday" | "isoweekday" => {
                let date = match &**self {
                    DateValue::Date(date) => *date,
                    DateValue::Timestamp(ts) => ts.date_naive(),
                };
                let monday_zero = date.weekday().num_days_from_monday();
                Ok(Value::from(if method == "weekday" { monday_zero } else { monday_zero + 1 }))
            }
            "date" => Ok(Value::from_object(match &**self {
                DateValue::Date(date) => DateValue::Date(*date),
                DateValue::Timestamp(ts) => DateValue::Date(ts.date_naive()),
            })),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso())
    }
}
