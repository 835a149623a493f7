//! Data tests: count the rows a test query returns, and judge the count by
//! the test's `severity`, `error_if` and `warn_if`, as dbt does.

use crate::core::job::Job;
use crate::core::outcome::{Outcome, Status};
use crate::core::table::{Cell, first_count};
use crate::graph::NodeDetails;
use crate::materialize::Materializer;
use crate::project::config::ConfigExt;
use crate::warehouse::Connection;

/// The failures of a test, unless its `fail_calc` says otherwise: its rows.
const COUNT_ROWS: &str = "count(*)";

impl Materializer<'_> {
    pub(super) fn test(&self, connection: &mut dyn Connection, index: usize) -> Outcome {
        let node = &self.compiler.graph.nodes[index];
        let compiled = match self.compile(index, false, None) {
            Ok(compiled) => compiled,
            Err(outcome) => return *outcome,
        };
        let NodeDetails::Test(details) = &node.details else { return Outcome::error(node.label(), "is not a test") };
        // dbt's `fail_calc`: the test's config, else what its macro set with `config()`.
        let fail_calc = node.config.str_value("fail_calc").or_else(|| compiled.set_config.str_value("fail_calc")).unwrap_or(COUNT_ROWS);
        let count = Job { sql: self.sql.count_failures(&compiled.sql, details.config.limit, fail_calc), ..self.job_options(node, &[]) };
        let judged = connection
            .query(&count)
            .map_err(|err| err.to_string())
            .and_then(|table| {
                // A `fail_calc` such as `sum(...)` is NULL over no rows: nothing
                // failed. `count(*)` is never NULL: a NULL there is unreadable.
                if fail_calc != COUNT_ROWS && table.rows.first().and_then(|row| row.first()) == Some(&Cell::Null) {
                    return Ok(0);
                }
                first_count(&table).map_err(|message| format!("{message}, so the test cannot tell whether it passed"))
            })
            .map(|failures| (failures, details.config.status(failures)));
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
