//! A data test's config, read once at parse: how its failing rows are counted
//! (`where`, `limit`, `test_scope`) and judged (`severity`, `error_if`,
//! `warn_if`), so a malformed value is a `compile` error at its line.

use serde_json::Value as Json;

use crate::core::outcome::Status;
use crate::graph::model_config::ConfigError;
use crate::project::config::ConfigMap;

/// A condition on the failure count: `>10`, `>=1`, `<5`, `<=5`, `=0`, `==0`, `!=0`, `<>0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    operator: Operator,
    number: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Above,
    AtLeast,
    Below,
    AtMost,
    Equal,
    NotEqual,
}

impl Threshold {
    pub fn parse(condition: &str) -> Option<Threshold> {
        let condition = condition.trim();
        let split = condition.find(|c: char| c.is_ascii_digit())?;
        let (operator, number) = condition.split_at(split);
        let number: u64 = number.trim().parse().ok()?;
        let operator = match operator.trim() {
            ">" => Operator::Above,
            ">=" => Operator::AtLeast,
            "<" => Operator::Below,
            "<=" => Operator::AtMost,
            "=" | "==" => Operator::Equal,
            "!=" | "<>" => Operator::NotEqual,
            _ => return None,
        };
        Some(Threshold { operator, number })
    }

    pub fn holds(self, count: u64) -> bool {
        let number = self.number;
        match self.operator {
            Operator::Above => count > number,
            Operator::AtLeast => count >= number,
            Operator::Below => count < number,
            Operator::AtMost => count <= number,
            Operator::Equal => count == number,
            Operator::NotEqual => count != number,
        }
    }
}

/// What strata reads of a data test's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestConfig {
    /// `severity: warn`: the test warns, never fails.
    pub warn_only: bool,
    pub error_if: Threshold,
    pub warn_if: Threshold,
    /// A condition on the tested rows (`where: "status != 'test'"`).
    pub where_clause: Option<String>,
    /// Counts at most this many failing rows.
    pub limit: Option<u64>,
    /// `test_scope: all`: the whole table, not the execution date's partitions.
    pub whole_table: bool,
}

impl Default for TestConfig {
    fn default() -> TestConfig {
        let any = Threshold { operator: Operator::NotEqual, number: 0 };
        TestConfig { warn_only: false, error_if: any, warn_if: any, where_clause: None, limit: None, whole_table: false }
    }
}

impl TestConfig {
    pub fn parse(config: &ConfigMap) -> Result<TestConfig, ConfigError> {
        let mut parsed = TestConfig::default();
        match config.get("severity") {
            None | Some(Json::Null) => {}
            Some(Json::String(severity)) if severity.eq_ignore_ascii_case("warn") => parsed.warn_only = true,
            Some(Json::String(severity)) if severity.eq_ignore_ascii_case("error") => {}
            Some(other) => return Err(error("severity", format!("`severity` is `error` or `warn`, not `{}`", plain(other)), None)),
        }
        for (key, slot) in [("error_if", &mut parsed.error_if), ("warn_if", &mut parsed.warn_if)] {
            match config.get(key) {
                None | Some(Json::Null) => {}
                Some(value) => {
                    let condition = plain(value);
                    *slot = Threshold::parse(&condition).ok_or_else(|| {
                        error(
                            key,
                            format!("`{key}: {condition}` is not a condition on the failure count"),
                            Some(format!("write an operator and a number, e.g. `{key}: \">10\"`")),
                        )
                    })?;
                }
            }
        }
        parsed.where_clause = match config.get("where") {
            None | Some(Json::Null) => None,
            Some(Json::String(condition)) => Some(condition.clone()),
            Some(other) => return Err(error("where", format!("`where` is a SQL condition in quotes, not `{other}`"), None)),
        };
        parsed.limit = match config.get("limit") {
            None | Some(Json::Null) => None,
            Some(value) => Some(value.as_u64().ok_or_else(|| error("limit", format!("`limit` is a number of rows, not `{value}`"), None))?),
        };
        parsed.whole_table = match config.get("test_scope") {
            None | Some(Json::Null) => false,
            Some(Json::String(scope)) if scope == "all" => true,
            Some(Json::String(scope)) if scope == "partition" => false,
            Some(other) => return Err(error("test_scope", format!("`test_scope` is `partition` or `all`, not `{}`", plain(other)), None)),
        };
        Ok(parsed)
    }

    /// How a test with `failures` failing rows ends, by dbt's rules: with
    /// `severity: error` (the default) it fails when `error_if` holds, else
    /// warns when `warn_if` holds; with `severity: warn` it only warns.
    pub fn status(&self, failures: u64) -> Status {
        if !self.warn_only && self.error_if.holds(failures) {
            Status::Fail
        } else if self.warn_if.holds(failures) {
            Status::Warn
        } else {
            Status::Pass
        }
    }
}

fn error(key: &'static str, message: String, help: Option<String>) -> ConfigError {
    ConfigError { key, message, help }
}

/// A YAML scalar as written: `>10`, not `">10"`.
fn plain(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn holds(condition: &str, count: u64) -> Option<bool> {
        Threshold::parse(condition).map(|t| t.holds(count))
    }

    #[test]
    fn thresholds_read_as_dbt_reads_them() {
        assert_eq!(holds("!=0", 0), Some(false));
        assert_eq!(holds("!=0", 3), Some(true));
        assert_eq!(holds(">10", 10), Some(false));
        assert_eq!(holds("> 10", 11), Some(true));
        assert_eq!(holds(">=10", 10), Some(true));
        assert_eq!(holds("<5", 4), Some(true));
        assert_eq!(holds("<=5", 6), Some(false));
        assert_eq!(holds("=2", 2), Some(true));
        assert_eq!(holds("==2", 3), Some(false));
        assert_eq!(holds("<>0", 1), Some(true));
        assert_eq!(holds("ten", 1), None);
        assert_eq!(holds(">", 1), None);
        assert_eq!(holds("~1", 1), None);
    }

    #[test]
    fn statuses_follow_severity_and_thresholds() {
        let status = |config: Json, failures| TestConfig::parse(config.as_object().unwrap()).unwrap().status(failures);
        assert_eq!(status(json!({}), 0), Status::Pass);
        assert_eq!(status(json!({}), 1), Status::Fail);
        let both = json!({"error_if": ">10", "warn_if": ">2"});
        assert_eq!(status(both.clone(), 2), Status::Pass);
        assert_eq!(status(both.clone(), 3), Status::Warn);
        assert_eq!(status(both, 11), Status::Fail);
        assert_eq!(status(json!({"severity": "warn", "error_if": ">0"}), 11), Status::Warn);
        assert_eq!(status(json!({"severity": "ERROR"}), 1), Status::Fail);
    }

    #[test]
    fn malformed_values_name_their_key() {
        let error = |config: Json| TestConfig::parse(config.as_object().unwrap()).unwrap_err();
        let lots = error(json!({"warn_if": "lots"}));
        assert_eq!((lots.key, lots.message.as_str()), ("warn_if", "`warn_if: lots` is not a condition on the failure count"));
        assert_eq!(error(json!({"severity": "fatal"})).message, "`severity` is `error` or `warn`, not `fatal`");
        assert_eq!(error(json!({"limit": "ten"})).key, "limit");
        assert_eq!(error(json!({"test_scope": "day"})).key, "test_scope");
        assert_eq!(error(json!({"where": 3})).key, "where");
    }
}
