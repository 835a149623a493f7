//! `modules`: the Python modules dbt hands templates, as far as packages use
//! them: `modules.datetime` (dates and times, `strftime`, `strptime`),
//! `modules.re` (Rust's regular expressions, which read the common Python
//! patterns alike) and `modules.itertools` (`product`, `chain`).

use std::fmt;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, Utc};
use minijinja::value::{Kwargs, Object, ObjectRepr, Value, from_args};
use minijinja::{Error, ErrorKind, State};
use regex::Regex;

use crate::template::datetime::DateValue;
use crate::template::invalid;

pub fn register(env: &mut minijinja::Environment<'static>) {
    env.add_global("modules", Value::from_object(Modules));
}

#[derive(Debug)]
struct Modules;

impl Object for Modules {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "datetime" => Value::from_object(DatetimeModule),
            "re" => Value::from_object(ReModule),
            "itertools" => Value::from_object(Itertools),
            _ => return None,
        })
    }
}

/// `modules.datetime`: `datetime`, `date` and `timedelta`.
#[derive(Debug)]
struct DatetimeModule;

impl Object for DatetimeModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "datetime" => Value::from_object(DatetimeClass::Datetime),
            "date" => Value::from_object(DatetimeClass::Date),
            "timedelta" => Value::from_object(DatetimeClass::Timedelta),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum DatetimeClass {
    Datetime,
    Date,
    Timedelta,
}

impl Object for DatetimeClass {
    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        match **self {
            DatetimeClass::Date => {
                let (year, month, day): (i32, u32, u32) = from_args(args)?;
                let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| invalid(format!("date({year}, {month}, {day}) is not a date")))?;
                Ok(Value::from_object(DateValue::Date(date)))
            }
            DatetimeClass::Datetime => {
                let (year, month, day, time): (i32, u32, u32, minijinja::value::Rest<u32>) = from_args(args)?;
                let part = |i: usize| time.get(i).copied().unwrap_or(0);
                let time = NaiveDate::from_ymd_opt(year, month, day)
                    .and_then(|d| d.and_hms_opt(part(0), part(1), part(2)))
                    .ok_or_else(|| invalid(format!("datetime({year}, {month}, {day}, ...) is not a time")))?;
                Ok(Value::from_object(DateValue::Timestamp(time.and_utc())))
            }
            DatetimeClass::Timedelta => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let mut seconds = 0i64;
                for (key, factor) in [("weeks", 604_800), ("days", 86_400), ("hours", 3_600), ("minutes", 60), ("seconds", 1)] {
                    seconds += kwargs.get::<Option<i64>>(key)?.unwrap_or(0) * factor;
                }
                kwargs.assert_all_used()?;
                Ok(Value::from_object(Timedelta(seconds)))
            }
        }
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match (**self, method) {
            (DatetimeClass::Datetime, "now" | "utcnow") => Ok(Value::from_object(DateValue::Timestamp(Utc::now()))),
            (DatetimeClass::Date, "today") => Ok(Value::from_object(DateValue::Date(Utc::now().date_naive()))),
            (DatetimeClass::Datetime, "strptime") => {
                let (text, format): (String, String) = from_args(args)?;
                let parsed = NaiveDateTime::parse_from_str(&text, &format)
                    .or_else(|_| NaiveDate::parse_from_str(&text, &format).map(|d| d.and_time(chrono::NaiveTime::MIN)))
                    .map_err(|err| invalid(format!("strptime('{text}', '{format}'): {err}")))?;
                Ok(Value::from_object(DateValue::Timestamp(parsed.and_utc())))
            }
            (DatetimeClass::Date | DatetimeClass::Datetime, "fromisoformat") => {
                let (text,): (String,) = from_args(args)?;
                if let Ok(date) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
                    return Ok(Value::from_object(DateValue::Date(date)));
                }
                let parsed = NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S")
                    .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S"))
                    .map_err(|err| invalid(format!("fromisoformat('{text}'): {err}")))?;
                Ok(Value::from_object(DateValue::Timestamp(parsed.and_utc())))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A `timedelta`, in seconds.
#[derive(Debug)]
pub struct Timedelta(pub i64);

impl Object for Timedelta {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "days" => Value::from(self.0.div_euclid(86_400)),
            "seconds" => Value::from(self.0.rem_euclid(86_400)),
            _ => return None,
        })
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, _args: &[Value]) -> Result<Value, Error> {
        match method {
            "total_seconds" => Ok(Value::from(self.0 as f64)),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, rest) = (self.0.div_euclid(86_400), self.0.rem_euclid(86_400));
        let time = format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
        match days {
            0 => f.write_str(&time),
            1 | -1 => write!(f, "{days} day, {time}"),
            _ => write!(f, "{days} days, {time}"),
        }
    }
}

/// `modules.re`.
#[derive(Debug)]
struct ReModule;

fn compile(pattern: &str, flags: Option<i64>) -> Result<Regex, Error> {
    let mut builder = regex::RegexBuilder::new(pattern);
    let flags = flags.unwrap_or(0);
    builder.case_insensitive(flags & 2 != 0).multi_line(flags & 8 != 0).dot_matches_new_line(flags & 16 != 0);
    builder.build().map_err(|err| invalid(format!("`{pattern}` is not a regular expression strata reads: {err}")))
}

/// `match`, `search`, `fullmatch`, `findall`, `sub`, `split` of `regex` on `args`.
fn regex_method(regex: &Regex, method: &str, args: &[Value]) -> Result<Value, Error> {
    match method {
        "match" | "search" | "fullmatch" => {
            let (text,): (String,) = from_args(args)?;
            let found = regex.captures(&text).filter(|c| {
                let whole = c.get(0).map(|m| (m.start(), m.end())).unwrap_or_default();
                match method {
                    "match" => whole.0 == 0,
                    "fullmatch" => whole == (0, text.len()),
                    _ => true,
                }
            });
            Ok(match found {
                Some(captures) => Value::from_object(Match(captures.iter().map(|m| m.map(|m| m.as_str().to_string())).collect())),
                None => Value::from(()),
            })
        }
        "findall" => {
            let (text,): (String,) = from_args(args)?;
            let groups = regex.captures_len() - 1;
            Ok(Value::from(
                regex
                    .captures_iter(&text)
                    .map(|c| match groups {
                        0 => Value::from(c.get(0).map_or("", |m| m.as_str())),
                        1 => Value::from(c.get(1).map_or("", |m| m.as_str())),
                        _ => Value::from((1..=groups).map(|i| Value::from(c.get(i).map_or("", |m| m.as_str()))).collect::<Vec<_>>()),
                    })
                    .collect::<Vec<_>>(),
            ))
        }
        "sub" => {
            let (replacement, text, count): (String, String, Option<usize>) = from_args(args)?;
            // Python writes groups as `\1`; Rust's regex as `${1}`.
            let replacement = Regex::new(r"\\(\d+)").map_err(|e| invalid(e.to_string()))?.replace_all(&replacement, "$${$1}").into_owned();
            Ok(Value::from(regex.replacen(&text, count.unwrap_or(0), replacement.as_str()).into_owned()))
        }
        "split" => {
            let (text,): (String,) = from_args(args)?;
            Ok(Value::from(regex.split(&text).map(Value::from).collect::<Vec<_>>()))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

impl Object for ReModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        // Python's flag values.
        Some(Value::from(match key.as_str()? {
            "I" | "IGNORECASE" => 2,
            "M" | "MULTILINE" => 8,
            "S" | "DOTALL" => 16,
            _ => return None,
        }))
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let Some((pattern, rest)) = args.split_first() else { return Err(invalid(format!("`re.{method}()` takes a pattern"))) };
        let pattern = pattern.to_string();
        // The optional flags come last (`re.match(p, s, re.I)`); `sub` has count first.
        let fixed = match method {
            "sub" => 3,
            "compile" => 0,
            _ => 1,
        };
        let flags = rest.get(fixed).and_then(Value::as_i64);
        let rest = &rest[..rest.len().min(fixed)];
        let regex = compile(&pattern, flags)?;
        if method == "compile" {
            return Ok(Value::from_object(Pattern(regex)));
        }
        regex_method(&regex, method, rest)
    }
}

/// A compiled pattern: `re.compile(p).match(s)`.
#[derive(Debug)]
struct Pattern(Regex);

impl Object for Pattern {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (key.as_str()? == "pattern").then(|| Value::from(self.0.as_str()))
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        regex_method(&self.0, method, args)
    }
}

/// A match: `group(n)`, `groups()`; true in `if`.
#[derive(Debug)]
struct Match(Vec<Option<String>>);

impl Object for Match {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let text = |i: usize| self.0.get(i).cloned().flatten().map_or(Value::from(()), Value::from);
        match method {
            "group" => {
                let (index,): (Option<usize>,) = from_args(args)?;
                Ok(text(index.unwrap_or(0)))
            }
            "groups" => Ok(Value::from((1..self.0.len()).map(text).collect::<Vec<_>>())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<re.Match object; match='{}'>", self.0.first().cloned().flatten().unwrap_or_default())
    }
}

/// `modules.itertools`: `product(a, b, ...)` and `chain(a, b, ...)`.
#[derive(Debug)]
struct Itertools;

impl Object for Itertools {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let lists: Vec<Vec<Value>> = args.iter().map(|a| a.try_iter().map(Iterator::collect)).collect::<Result<_, _>>()?;
        match method {
            "chain" => Ok(Value::from(lists.into_iter().flatten().collect::<Vec<_>>())),
            "product" => {
                let mut product: Vec<Vec<Value>> = vec![Vec::new()];
                for list in &lists {
                    product = product.iter().flat_map(|prefix| list.iter().map(move |item| [prefix.clone(), vec![item.clone()]].concat())).collect();
                }
                Ok(Value::from(product.into_iter().map(Value::from).collect::<Vec<_>>()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str) -> String {
        let mut env = crate::core::jinja::new_environment();
        register(&mut env);
        env.render_str(template, ()).expect("renders")
    }

    #[test]
    fn python_modules_answer_as_python_does() {
        assert_eq!(render("{{ modules.datetime.date(2026, 11, 20).strftime('%Y%m%d') }}"), "20261120");
        assert_eq!(render("{{ modules.datetime.datetime.strptime('2026-11-20', '%Y-%m-%d').isoformat() }}"), "2026-11-20T00:00:00+00:00");
        assert_eq!(render("{{ modules.datetime.timedelta(days=1, hours=2) }}"), "1 day, 2:00:00");
        assert_eq!(
            render("{% set m = modules.re.match('(\\\\w+)_(\\\\d+)', 'dau_20') %}{{ m.group(1) }} {{ m.groups() | join(',') }}"),
            "dau dau,20"
        );
        assert_eq!(render("{{ modules.re.match('x', 'ax') is none }} {{ modules.re.search('x', 'ax') is not none }}"), "True True");
        assert_eq!(render("{% if modules.re.match('d', 'dau') %}yes{% endif %}"), "yes");
        assert_eq!(render("{{ modules.re.sub('(a)', '<\\\\1>', 'banana') }}"), "b<a>n<a>n<a>");
        assert_eq!(render("{{ modules.re.compile('^m_', modules.re.I).match('M_x') is not none }}"), "True");
        assert_eq!(render("{{ modules.itertools.product([1, 2], ['a']) | map('join', '') | join(' ') }}"), "1a 2a");
    }
}
