//! Building one node in the warehouse: `view`, `table` (built under a staging
//! name and swapped in inside one transaction, so a failed build leaves the old
//! table as it was), `incremental` (append or delete+insert by `unique_key`),
//! seeds, and data tests. Uses the SQL of `warehouse::sql`; decides nothing
//! about order, which is `execute.rs`'s job.

use std::time::Instant;

use serde_json::Value as Json;

use crate::checks::{SourceCheck, WaitFor};
use crate::compile::Compiler;
use crate::graph::model_config::Materialized;
use crate::graph::{Node, NodeDetails, ResourceType};
use crate::project::config::ConfigExt;
use crate::seed;
use crate::core::relation::Relation;
use crate::core::format::humantime;
use crate::core::outcome::{Outcome, Status};
use crate::core::table::first_count;
use crate::warehouse::plan::{self, Plan, PlanError, Present, TableOptions};
use crate::warehouse::sql::{SeedLoad, SqlGenerator, staging_relation};
use crate::warehouse::{Connection, RelationKey, RelationKind, Relations, WarehouseError};





pub struct Materializer<'a> {
    pub compiler: &'a Compiler<'a>,
    pub sql: &'a dyn SqlGenerator,
    /// The unique ids `--full-refresh` still has to rebuild.
    pub full_refresh: &'a std::collections::BTreeSet<String>,
    /// Set by Ctrl-C; a source check stops waiting.
    pub cancelled: &'a std::sync::atomic::AtomicBool,
    /// What existed in the warehouse when this date's run started.
    pub relations: &'a Relations,
    /// Told once when a source check starts waiting, with why: a sensor that
    /// waits in silence looks like a hung run.
    pub waiting: &'a (dyn Fn(&str) + Sync),
}

/// What one look at a source found.
enum Poke {
    Ready,
    /// Ready, but older than `warn_after`.
    Stale(String),
    NotReady(String),
}


/// A statement failed: the message a user reads, with the statement's step.
struct StepError(String);

impl From<WarehouseError> for StepError {
    fn from(err: WarehouseError) -> StepError {
        StepError(err.to_string())
    }
}

impl From<PlanError> for StepError {
    fn from(err: PlanError) -> StepError {
        StepError(err.to_string())
    }
}

impl Materializer<'_> {
    /// Builds, loads or tests node `index` on `connection`.
    pub fn run(&self, connection: &mut dyn Connection, index: usize) -> Outcome {
        let started = Instant::now();
        let node = &self.compiler.graph.nodes[index];
        let mut outcome = match node.resource_type {
            ResourceType::Model => self.model(connection, index),
            ResourceType::Seed => self.seed(connection, node),
            ResourceType::Test => self.test(connection, index),
            ResourceType::Source => self.check_source(connection, node),
            _ => Outcome::new(Status::Success, format!("{} {}", node.resource_type.name(), node.name)),
        };
        outcome.seconds = started.elapsed().as_secs_f64();
        outcome
    }

    fn model(&self, connection: &mut dyn Connection, index: usize) -> Outcome {
        let node = &self.compiler.graph.nodes[index];
        let Some(relation) = node.relation.clone() else { return Outcome::error(node.label(), "has no relation") };
        let NodeDetails::Model { config, .. } = &node.details else { return Outcome::error(node.label(), "is not a model") };
        let existing = self.existing(&relation);
        let is_incremental =
            config.materialized == Materialized::Incremental && existing == Some(RelationKind::Table) && !self.full_refresh.contains(&node.unique_id);
        let compiled = match self.compile(index, is_incremental) {
            Ok(compiled) => compiled,
            Err(outcome) => return *outcome,
        };
        let present = self.present(&relation);
        let options = TableOptions { partition: config.partition.clone(), cluster_by: config.cluster_by.clone(), labels: config.labels.clone() };
        let name = relation.display_name();
        let (plan, description) = match (config.materialized, &config.partition) {
            (Materialized::View, _) => (self.sql.view_plan(&relation, present, &compiled.sql), format!("created view {name}")),
            (Materialized::Table, _) => (self.sql.table_plan(&relation, present, &options, &compiled.sql), format!("created table {name}")),
            (Materialized::Incremental, Some(partition)) => {
                let (first, last) = partition.range(self.compiler.templates.date);
                let partitions = if first == last { last.ds_nodash() } else { format!("{}..{}", first.ds_nodash(), last.ds_nodash()) };
                let verb = if is_incremental { "created partition" } else { "created table" };
                (
                    self.sql.partition_plan(&relation, present, &options, partition, (first, last), is_incremental, &compiled.sql),
                    format!("{verb} {name}${partitions}"),
                )
            }
            (Materialized::Incremental, None) if is_incremental => {
                (self.sql.merge_plan(&relation, present, &config.unique_key, &compiled.sql), format!("inserted into {name}"))
            }
            (Materialized::Incremental, None) => (self.sql.table_plan(&relation, present, &options, &compiled.sql), format!("created incremental {name}")),
            // Ephemeral models are inlined and never scheduled.
            (Materialized::Ephemeral, _) => (Plan::default(), format!("inlined {}", node.name)),
        };
        let counts_rows = config.materialized != Materialized::View;
        let result = self
            .hooks(connection, index, "pre_hook", &config.pre_hook)
            .and_then(|()| plan::execute(&plan, connection, self.sql).map_err(StepError::from))
            .and_then(|stats| self.hooks(connection, index, "post_hook", &config.post_hook).map(|()| stats));
        match result {
            Ok(mut stats) => {
                if !counts_rows {
                    stats.rows_affected = None;
                }
                let mut outcome = Outcome::new(Status::Success, description);
                outcome.stats = stats;
                outcome.compiled_path = Some(compiled.compiled_path);
                outcome
            }
            Err(StepError(message)) => {
                let mut outcome = Outcome::error(node.label(), message);
                outcome.compiled_path = Some(compiled.compiled_path);
                outcome
            }
        }
    }

    /// Whether `relation` is a table or a view, as the run found the warehouse.
    fn existing(&self, relation: &Relation) -> Option<RelationKind> {
        self.relations.get(&RelationKey::of(relation)).map(|existing| existing.kind)
    }

    /// What of `relation` exists: itself, and a staging table an interrupted run left behind.
    fn present(&self, relation: &Relation) -> Present {
        Present { relation: self.existing(relation), leftover_staging: self.existing(&staging_relation(relation, "new")).is_some() }
    }

    /// Compiles node `index` and writes its SQL under `target/compiled/`, where
    /// the summary points a user at it.
    fn compile(&self, index: usize, is_incremental: bool) -> Result<crate::compile::CompiledNode, Box<Outcome>> {
        let node = &self.compiler.graph.nodes[index];
        let compiled = self
            .compiler
            .compile_one(index, is_incremental)
            .map_err(|diagnostic| Box::new(Outcome::error(node.label(), diagnostic.to_string().trim_end())))?;
        // The SQL is still run when the file cannot be written; only the pointer to it is lost.
        let _ = crate::compile::write_compiled(&self.compiler.project.root, std::slice::from_ref(&compiled));
        Ok(compiled)
    }

    fn hooks(&self, connection: &mut dyn Connection, index: usize, key: &str, hooks: &[String]) -> Result<(), StepError> {
        let node = &self.compiler.graph.nodes[index];
        for hook in hooks {
            let sql = self
                .compiler
                .render_text(&node.path.to_string_lossy(), hook, Some(index))
                .map_err(|d| StepError(format!("{key}: {}", d.message)))?;
            if !sql.trim().is_empty() {
                connection.execute_script(&sql).map_err(|err| StepError(format!("{key} failed: {err}")))?;
            }
        }
        Ok(())
    }

    /// The count in the first cell of `sql`'s result; an error when it is not
    /// a whole number, so a guard that cannot read its count refuses.
    fn count_query(&self, connection: &mut dyn Connection, sql: &str) -> Result<u64, StepError> {
        let table = connection.query_sql(sql)?;
        first_count(&table).map_err(|message| StepError(format!("{message}: {}", sql.trim())))
    }

    fn seed(&self, connection: &mut dyn Connection, node: &Node) -> Outcome {
        let Some(relation) = node.relation.clone() else { return Outcome::error(node.label(), "has no relation") };
        let project = self.compiler.project;
        let file = match seed::inspect(&project.root, &node.path, &node.config) {
            Ok(file) => file,
            Err(diagnostic) => return Outcome::error(node.label(), diagnostic.to_string().trim_end()),
        };
        let path = project.root.join(&node.path);
        let absolute = std::fs::canonicalize(&path).unwrap_or(path);
        let load = SeedLoad { path: absolute, columns: file.columns, delimiter: file.delimiter };
        let result = self
            .sql
            .seed_plan(&relation, self.present(&relation), &load)
            .map_err(StepError)
            .and_then(|plan| plan::execute(&plan, connection, self.sql).map_err(StepError::from));
        match result {
            Ok(stats) => {
                let mut outcome = Outcome::new(Status::Success, format!("loaded seed {}", relation.display_name()));
                outcome.stats = stats;
                outcome
            }
            Err(StepError(message)) => Outcome::error(node.label(), message),
        }
    }

    /// Waits until the source is ready for the execution date, poking every
    /// `poke_interval` until `timeout`.
    fn check_source(&self, connection: &mut dyn Connection, node: &Node) -> Outcome {
        let name = node.display_name();
        let date = self.compiler.templates.date;
        let check = match SourceCheck::of(node) {
            Some(Ok(check)) => check,
            Some(Err(message)) => return Outcome::error(node.label(), format!("source `{name}`: {message}")),
            None => return Outcome::new(Status::Success, format!("source {name} has no checks")),
        };
        let Some(relation) = node.relation.clone() else { return Outcome::error(node.label(), "has no relation") };
        let deadline = Instant::now() + check.timeout;
        let mut pokes = 0;
        loop {
            pokes += 1;
            let poke = self.poke(connection, node, &check, &relation, date);
            let (ready, warning, reason) = match poke {
                Ok(Poke::Ready) => (true, None, String::new()),
                Ok(Poke::Stale(warning)) => (true, Some(warning), String::new()),
                Ok(Poke::NotReady(reason)) => (false, None, reason),
                // A missing table is a source not loaded yet: keep waiting.
                Err(StepError(message)) => (false, None, message),
            };
            let after = if pokes == 1 { String::new() } else { format!(" after {pokes} checks") };
            if ready {
                let mut outcome = Outcome::new(
                    if warning.is_some() { Status::Warn } else { Status::Success },
                    format!("source {name} ready for {}{after}", date.ds()),
                );
                outcome.message = warning.unwrap_or_default();
                return outcome;
            }
            let now = Instant::now();
            let cancelled = self.cancelled.load(std::sync::atomic::Ordering::SeqCst);
            if pokes == 1 && now < deadline && !cancelled {
                (self.waiting)(&format!(
                    "WAIT  source {name} not ready for {}: {reason}; checking every {} for up to {}",
                    date.ds(),
                    humantime(check.poke_interval),
                    humantime(check.timeout)
                ));
            }
            if now >= deadline || cancelled {
                let mut outcome = Outcome::error(node.label(), format!(
                    "source `{name}` is not ready for {}{}: {reason}",
                    date.ds(),
                    if check.timeout.is_zero() { String::new() } else { format!(" after waiting {}", humantime(check.timeout)) }
                ));
                outcome.description = format!("source {name} not ready for {}{after}", date.ds());
                return outcome;
            }
            // Sleep in short steps so Ctrl-C is noticed.
            let wake = (now + check.poke_interval).min(deadline);
            while Instant::now() < wake && !self.cancelled.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep((wake - Instant::now()).min(std::time::Duration::from_millis(100)));
            }
        }
    }

    fn poke(&self, connection: &mut dyn Connection, node: &Node, check: &SourceCheck, relation: &Relation, date: crate::core::dates::ExecutionDate) -> Result<Poke, StepError> {
        match &check.wait_for {
            Some(WaitFor::Partition(column)) => {
                let sql = format!("select count(*) from {relation} where cast({} as date) = {}", self.sql.quote(column), self.sql.date_literal(date));
                if self.count_query(connection, &sql)? == 0 {
                    return Ok(Poke::NotReady(format!("no row has `{column}` on {}", date.ds())));
                }
            }
            Some(WaitFor::Sql(condition)) => {
                let condition = self
                    .compiler
                    .render_text(&node.path.to_string_lossy(), condition, None)
                    .map_err(|d| StepError(format!("`wait_for.sql`: {}", d.message)))?;
                if self.count_query(connection, &format!("select count(*) from {relation} where {condition}"))? == 0 {
                    return Ok(Poke::NotReady(format!("no row satisfies `{}`", condition.trim())));
                }
            }
            None => {}
        }
        if let Some(freshness) = &check.freshness {
            let table = connection.query_sql(&format!("select max({}) from {relation}", self.sql.quote(&freshness.loaded_at_field)))?;
            let latest = table.rows.first().and_then(|r| r.first()).map(|c| c.to_string()).unwrap_or_default();
            let loaded = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d"]
                .iter()
                .find_map(|format| {
                    chrono::NaiveDateTime::parse_from_str(&latest, format)
                        .ok()
                        .or_else(|| chrono::NaiveDate::parse_from_str(&latest, format).ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
                });
            let Some(loaded) = loaded else {
                return Ok(Poke::NotReady(format!("`{}` has no value yet", freshness.loaded_at_field)));
            };
            let age = (chrono::Utc::now().naive_utc() - loaded).to_std().unwrap_or_default();
            if freshness.error_after.is_some_and(|limit| age > limit) {
                return Ok(Poke::NotReady(format!("last loaded {} ago, more than `error_after`", humantime(age))));
            }
            if freshness.warn_after.is_some_and(|limit| age > limit) {
                return Ok(Poke::Stale(format!("source `{}` was last loaded {} ago, more than `warn_after`", node.display_name(), humantime(age))));
            }
        }
        Ok(Poke::Ready)
    }

    fn test(&self, connection: &mut dyn Connection, index: usize) -> Outcome {
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
    use super::{Status, humantime, test_status, threshold};
    use std::time::Duration;

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
