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
use crate::core::partition::Partition;
use crate::core::table::first_count;
use crate::warehouse::sql::{SqlGenerator, staging_relation};
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
        let result = self
            .hooks(connection, index, "pre_hook", &config.pre_hook)
            .and_then(|()| match (config.materialized, &config.partition) {
                (Materialized::View, _) => self.view(connection, &relation, existing, &compiled.sql),
                (Materialized::Table, _) => self.table(connection, &relation, existing, &self.sql.create_table_as(&staging_relation(&relation, "new"), &compiled.sql)).map(|rows| (format!("created table {}", relation.display_name()), Some(rows))),
                (Materialized::Incremental, Some(partition)) => self.insert_overwrite(connection, &relation, existing, partition, is_incremental, &compiled.sql),
                (Materialized::Incremental, None) if is_incremental => self
                    .incremental(connection, &relation, &config.unique_key, &compiled.sql)
                    .map(|rows| (format!("inserted into {}", relation.display_name()), Some(rows))),
                (Materialized::Incremental, None) => self
                    .table(connection, &relation, existing, &self.sql.create_table_as(&staging_relation(&relation, "new"), &compiled.sql))
                    .map(|rows| (format!("created incremental {}", relation.display_name()), Some(rows))),
                // Ephemeral models are inlined and never scheduled.
                (Materialized::Ephemeral, _) => Ok((format!("inlined {}", node.name), None)),
            })
            .and_then(|done| self.hooks(connection, index, "post_hook", &config.post_hook).map(|()| done));
        match result {
            Ok((description, rows)) => {
                let mut outcome = Outcome::new(Status::Success, description);
                outcome.stats.rows_affected = rows;
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

    /// Drops a staging table an interrupted run left behind; a statement saved per node otherwise.
    fn drop_leftover(&self, connection: &mut dyn Connection, staged: &Relation) -> Result<(), StepError> {
        if self.existing(staged).is_some() {
            connection.execute(&self.sql.drop_table(staged))?;
        }
        Ok(())
    }

    /// Whether `relation` is a table or a view, as the run found the warehouse.
    fn existing(&self, relation: &Relation) -> Option<RelationKind> {
        self.relations.get(&RelationKey::of(relation)).map(|existing| existing.kind)
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

    fn view(&self, connection: &mut dyn Connection, relation: &Relation, existing: Option<RelationKind>, sql: &str) -> Result<(String, Option<u64>), StepError> {
        if existing == Some(RelationKind::Table) {
            connection.execute(&self.sql.drop_table(relation))?;
        }
        connection.execute(&self.sql.create_view(relation, sql))?;
        Ok((format!("created view {}", relation.display_name()), None))
    }

    /// Builds the staging table with `create` (a statement that creates
    /// `staging_relation(relation, "new")`), then swaps it in, all in one
    /// transaction: until it commits, the old table and its rows stay as they were.
    fn table(&self, connection: &mut dyn Connection, relation: &Relation, existing: Option<RelationKind>, create: &str) -> Result<u64, StepError> {
        let staged = staging_relation(relation, "new");
        self.drop_leftover(connection, &staged)?;
        self.in_transaction(connection, |connection| {
            // DuckDB reports the rows a `create table as` wrote.
            let rows = connection.execute(create)?;
            self.replace_with(connection, &staged, relation, existing)?;
            Ok(rows)
        })
    }

    /// Runs `steps` in one transaction: all of it is written, or nothing.
    fn in_transaction<T>(
        &self,
        connection: &mut dyn Connection,
        steps: impl FnOnce(&mut dyn Connection) -> Result<T, StepError>,
    ) -> Result<T, StepError> {
        connection.execute("begin transaction")?;
        let result = match steps(connection) {
            Ok(value) => connection.execute("commit").map(|_| value).map_err(StepError::from),
            Err(err) => Err(err),
        };
        if result.is_err() {
            let _ = connection.execute("rollback");
        }
        result
    }

    /// Drops `relation` (of kind `existing`) and renames `staged` to it.
    fn replace_with(&self, connection: &mut dyn Connection, staged: &Relation, relation: &Relation, existing: Option<RelationKind>) -> Result<(), StepError> {
        match existing {
            Some(RelationKind::Table) => connection.execute(&self.sql.drop_table(relation))?,
            Some(RelationKind::View) => connection.execute(&self.sql.drop_view(relation))?,
            None => 0,
        };
        connection.execute(&self.sql.rename_table(staged, relation))?;
        Ok(())
    }

    /// Replaces the execution date's partition (and `lookback` days before it)
    /// with the model's rows, atomically, and nothing else. Every row must fall
    /// in those partitions: a wrong filter fails the node and writes nothing.
    fn insert_overwrite(
        &self,
        connection: &mut dyn Connection,
        relation: &Relation,
        existing: Option<RelationKind>,
        partition: &Partition,
        is_incremental: bool,
        sql: &str,
    ) -> Result<(String, Option<u64>), StepError> {
        let date = self.compiler.templates.date;
        let (first, last) = partition.range(date);
        let staged = staging_relation(relation, "new");
        let partitions = if first == last { last.ds_nodash() } else { format!("{}..{}", first.ds_nodash(), last.ds_nodash()) };
        self.drop_leftover(connection, &staged)?;
        let rows = self.in_transaction(connection, |connection| {
            let rows = connection.execute(&self.sql.create_table_as(&staged, sql))?;
            let outside = self.count_query(connection, &self.sql.count_outside_partitions(&staged, partition, first, last))?;
            if outside > 0 {
                let days = if first == last { first.ds() } else { format!("{}..{}", first.ds(), last.ds()) };
                return Err(StepError(format!(
                    "{} {} `{}` outside {days} (or NULL), so nothing was written; filter the model's input to the execution date, e.g. `where {} = '{{{{ ds }}}}'`",
                    crate::core::format::thousands(outside),
                    if outside == 1 { "row has" } else { "rows have" },
                    partition.field,
                    partition.field
                )));
            }
            if is_incremental {
                connection.execute(&self.sql.delete_partitions(relation, partition, first, last))?;
                connection.execute(&self.sql.insert_from(relation, &staged))?;
                connection.execute(&self.sql.drop_table(&staged))?;
            } else {
                self.replace_with(connection, &staged, relation, existing)?;
            }
            Ok(rows)
        })?;
        let verb = if is_incremental { "created partition" } else { "created table" };
        Ok((format!("{verb} {}${partitions}", relation.display_name()), Some(rows)))
    }

    /// Appends the new rows, first deleting the rows they replace when the
    /// model has a `unique_key` (dbt-duckdb's delete+insert), in one transaction.
    fn incremental(&self, connection: &mut dyn Connection, relation: &Relation, unique_key: &[String], sql: &str) -> Result<u64, StepError> {
        let staged = staging_relation(relation, "new");
        self.drop_leftover(connection, &staged)?;
        self.in_transaction(connection, |connection| {
            let rows = connection.execute(&self.sql.create_table_as(&staged, sql))?;
            if !unique_key.is_empty() {
                connection.execute(&self.sql.delete_matching(relation, &staged, unique_key))?;
            }
            connection.execute(&self.sql.insert_from(relation, &staged))?;
            connection.execute(&self.sql.drop_table(&staged))?;
            Ok(rows)
        })
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
        let staged = staging_relation(&relation, "new");
        let result = match self.sql.load_csv(&staged, &absolute.to_string_lossy(), &file.columns, file.delimiter) {
            Some(load) => self.table(connection, &relation, self.existing(&relation), &load),
            None => Err(StepError("this warehouse cannot load seeds from SQL".into())),
        };
        match result {
            Ok(rows) => {
                let mut outcome = Outcome::new(Status::Success, format!("loaded seed {}", relation.display_name()));
                outcome.stats.rows_affected = Some(rows);
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
