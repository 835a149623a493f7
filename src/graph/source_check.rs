//! Source checks, the sensors of a daily pipeline: before the first selected
//! node that reads a source runs for date D, wait until the source has D's data
//! (`wait_for: {partition: <column>}`), until a condition holds
//! (`wait_for: {sql: <condition>}`), or check dbt's `freshness`; poking every
//! `poke_interval` until `timeout`.

use std::time::Duration;

use serde_json::Value as Json;

use crate::core::format::{duration_value, seconds};

use crate::graph::{Node, NodeDetails};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitFor {
    /// A row whose column falls on the execution date must exist.
    Partition(String),
    /// At least one row of the source must satisfy this (templated) condition.
    Sql(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    pub loaded_at_field: String,
    pub warn_after: Option<Duration>,
    pub error_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCheck {
    pub wait_for: Option<WaitFor>,
    pub freshness: Option<Freshness>,
    /// How long to keep poking; zero checks once.
    pub timeout: Duration,
    pub poke_interval: Duration,
}

impl SourceCheck {
    /// The checks a source table declares, if any, or why they are not valid.
    pub fn of(node: &Node) -> Option<Result<SourceCheck, String>> {
        let NodeDetails::Source { wait_for, freshness, loaded_at_field, .. } = &node.details else { return None };
        let freshness = freshness.as_ref().filter(|f| !f.is_null());
        if wait_for.is_none() && freshness.is_none() {
            return None;
        }
        Some(SourceCheck::parse(wait_for.as_ref(), freshness, loaded_at_field.as_deref()))
    }

    fn parse(wait_for: Option<&Json>, freshness: Option<&Json>, loaded_at_field: Option<&str>) -> Result<SourceCheck, String> {
        let mut timeout = Duration::ZERO;
        let mut poke_interval = Duration::from_secs(60);
        let mut timing = |spec: &serde_json::Map<String, Json>| -> Result<(), String> {
            if let Some(value) = spec.get("timeout") {
                timeout = duration_value(value).map_err(|err| format!("`timeout`: {err}"))?;
            }
            if let Some(value) = spec.get("poke_interval") {
                poke_interval = duration_value(value).map_err(|err| format!("`poke_interval`: {err}"))?;
                if poke_interval.is_zero() {
                    return Err(format!("`poke_interval: {value}` must be more than zero, or the check would poke without pause"));
                }
            }
            Ok(())
        };
        let wait_for = match wait_for {
            None | Some(Json::Null) => None,
            Some(Json::Object(spec)) => {
                timing(spec)?;
                match (spec.get("partition").and_then(Json::as_str), spec.get("sql").and_then(Json::as_str)) {
                    (Some(column), None) => Some(WaitFor::Partition(column.to_string())),
                    (None, Some(condition)) => Some(WaitFor::Sql(condition.to_string())),
                    _ => return Err("`wait_for` needs either `partition: <column>` or `sql: <condition>`".into()),
                }
            }
            Some(other) => return Err(format!("`wait_for` must be a mapping, not `{other}`")),
        };
        let freshness = match freshness {
            None => None,
            Some(Json::Object(spec)) => {
                timing(spec)?;
                let Some(field) = spec.get("loaded_at_field").and_then(Json::as_str).or(loaded_at_field) else {
                    return Err("`freshness` needs a `loaded_at_field`".into());
                };
                let after = |key: &str| -> Result<Option<Duration>, String> {
                    match spec.get(key) {
                        None | Some(Json::Null) => Ok(None),
                        Some(value) => freshness_after(key, value).map(Some),
                    }
                };
                Some(Freshness { loaded_at_field: field.to_string(), warn_after: after("warn_after")?, error_after: after("error_after")? })
            }
            Some(other) => return Err(format!("`freshness` must be a mapping, not `{other}`")),
        };
        Ok(SourceCheck { wait_for, freshness, timeout, poke_interval })
    }
}

/// dbt's `{count: 12, period: hour}`.
fn freshness_after(key: &str, value: &Json) -> Result<Duration, String> {
    let shape = || format!("`{key}: {value}` needs `count` and `period` (minute, hour or day)");
    let count = value.get("count").and_then(Json::as_f64).ok_or_else(shape)?;
    let unit = match value.get("period").and_then(Json::as_str) {
        Some("minute") => 60.0,
        Some("hour") => 3600.0,
        Some("day") => 86400.0,
        _ => return Err(shape()),
    };
    seconds(count * unit, &format!("count: {count}")).map_err(|err| format!("`{key}`: {err}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_checks_and_durations() {
        let check = SourceCheck::parse(Some(&json!({"partition": "event_date", "timeout": "30m", "poke_interval": "10s"})), None, None).unwrap();
        assert_eq!(check.wait_for, Some(WaitFor::Partition("event_date".into())));
        assert_eq!((check.timeout, check.poke_interval), (Duration::from_secs(1800), Duration::from_secs(10)));
        let check = SourceCheck::parse(None, Some(&json!({"warn_after": {"count": 12, "period": "hour"}})), Some("loaded_at")).unwrap();
        assert_eq!(check.freshness.unwrap().warn_after, Some(Duration::from_secs(12 * 3600)));
        assert!(SourceCheck::parse(Some(&json!({"timeout": "5m"})), None, None).is_err());
        assert!(SourceCheck::parse(None, Some(&json!({"warn_after": {"count": 1, "period": "hour"}})), None).is_err());
        let negative = SourceCheck::parse(None, Some(&json!({"warn_after": {"count": -1, "period": "hour"}})), Some("loaded_at"));
        assert_eq!(negative.unwrap_err(), "`warn_after`: `count: -1` is negative: a duration is zero or more");
        let huge = SourceCheck::parse(Some(&json!({"partition": "d", "timeout": 1.0e20})), None, None);
        assert_eq!(huge.unwrap_err(), "`timeout`: `1e+20` is longer than a year, the longest duration strata waits");
        assert!(SourceCheck::parse(Some(&json!({"partition": "d", "poke_interval": 0})), None, None).is_err());
    }
}
