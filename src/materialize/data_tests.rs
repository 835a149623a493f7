//! Data tests: count the rows a test query returns, and judge the count by
//! the test's `severity`, `error_if` and `warn_if`, as dbt does.

use serde_json::Value as Json;

use crate::core::outcome::{Outcome, Status};
use crate::core::table::first_count;
use crate::materialize::Materializer;
use crate::project::config::ConfigExt;
use crate::warehouse::Connection;

impl Materializer<'_> {
    pub(super) fn test(&self, connection: &mut dyn Connection, index: usize) -> Outcome {
        let node = &self.compiler.graph.nodes[index];
        let compiled = match self.compile(index, false) {
            Ok(compiled) => compiled,
            Err(outcome) => return *outcome,
        };
        let limit = node.config.get("limit").and_then(Json::as_u64);
        let judged = connection
            .query_sql(&self.sql.count_failures(&compiled.sql, limit))
            .map_err(|err| err.to_string())
            .and_then(|table| first_count(&table).map_err(|message| format!("{message}, so the test cannot tell whether it passed")))
            .and_then(|failures| Ok((failures, test_status(&node.config, failures)?)));
        let (failures, status) = match judged {
            Ok(judged) => judged,
            Err(message) => {
                let mut outcome = Outcome::error(node.label(), message);
                outcome.compiled_path = Some(compiled.compiled_path);
                return outcome;
            }
        };
        let mut outcome = Outcome::new(status, node.name.clone());
        outcome.failures = Some(failures);
        outcome.compiled_path = Some(compiled.compiled_path);
        if status != Status::Pass {
            outcome.message = format!("got {failures} {}, expected 0", if failures == 1 { "result" } else { "results" });
            outcome.failing_rows = connection.query_sql(&self.sql.limit_rows(&compiled.sql, 5)).ok();
        }
        outcome
    }
}

/// How a test with `failures` failing rows ends, by dbt's rules: with
/// `severity: error` (the default) it fails when `error_if` holds, else warns
/// when `warn_if` holds; with `severity: warn` it only warns. Both conditions
/// default to `!=0`.
fn test_status(config: &crate::project::config::ConfigMap, failures: u64) -> Result<Status, String> {
    let holds = |key: &str| -> Result<bool, String> {
        let condition = config.str_value(key).unwrap_or("!=0");
        threshold(condition, failures).ok_or_else(|| {
            format!("`{key}: {condition}` is not a condition on the failure count; write an operator and a number, e.g. `{key}: \">10\"`")
        })
    };
    let warn_only = config.str_value("severity").is_some_and(|s| s.eq_ignore_ascii_case("warn"));
    // Both are read, so a malformed one is an error whichever would decide.
    let (error_if, warn_if) = (holds("error_if")?, holds("warn_if")?);
    Ok(if !warn_only && error_if {
        Status::Fail
    } else if warn_if {
        Status::Warn
    } else {
        Status::Pass
    })
}

/// Whether `count` meets `condition`: `>10`, `>=1`, `<5`, `<=5`, `=0`, `==0`, `!=0`, `<>0`.
fn threshold(condition: &str, count: u64) -> Option<bool> {
    let condition = condition.trim();
    let split = condition.find(|c: char| c.is_ascii_digit())?;
    let (operator, number) = condition.split_at(split);
    let number: u64 = number.trim().parse().ok()?;
    Some(match operator.trim() {
        ">" => count > number,
        ">=" => count >= number,
        "<" => count < number,
        "<=" => count <= number,
        "=" | "==" => count == number,
        "!=" | "<>" => count != number,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::{Status, test_status, threshold};

    #[test]
    fn thresholds_read_as_dbt_reads_them() {
        assert_eq!(threshold("!=0", 0), Some(false));
        assert_eq!(threshold("!=0", 3), Some(true));
        assert_eq!(threshold(">10", 10), Some(false));
        assert_eq!(threshold("> 10", 11), Some(true));
        assert_eq!(threshold(">=10", 10), Some(true));
        assert_eq!(threshold("<5", 4), Some(true));
        assert_eq!(threshold("<=5", 6), Some(false));
        assert_eq!(threshold("=2", 2), Some(true));
        assert_eq!(threshold("==2", 3), Some(false));
        assert_eq!(threshold("<>0", 1), Some(true));
        assert_eq!(threshold("ten", 1), None);
        assert_eq!(threshold(">", 1), None);
        assert_eq!(threshold("~1", 1), None);
        let config = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect();
        assert_eq!(test_status(&config(&[]), 0), Ok(Status::Pass));
        assert_eq!(test_status(&config(&[]), 1), Ok(Status::Fail));
        assert_eq!(test_status(&config(&[("error_if", ">10"), ("warn_if", ">2")]), 2), Ok(Status::Pass));
        assert_eq!(test_status(&config(&[("error_if", ">10"), ("warn_if", ">2")]), 3), Ok(Status::Warn));
        assert_eq!(test_status(&config(&[("error_if", ">10"), ("warn_if", ">2")]), 11), Ok(Status::Fail));
        assert_eq!(test_status(&config(&[("severity", "warn"), ("error_if", ">0")]), 11), Ok(Status::Warn));
        assert!(test_status(&config(&[("warn_if", "lots")]), 1).unwrap_err().contains("`warn_if: lots` is not a condition"));
    }
}
