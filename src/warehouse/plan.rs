//! Runs a plan ([`crate::sql::plan`]) on a connection: its steps in order,
//! its guards before anything is written, an insert's columns read and
//! reconciled when it runs, the whole inside one transaction where the plan
//! asks for one.

use crate::core::columns::{Column, ColumnChanges, OnSchemaChange};
use crate::core::job::{Job, JobStats};
use crate::core::relation::Relation;
use crate::core::table::{CountError, first_count};
use crate::sql::SqlGenerator;
use crate::sql::plan::{Insert, Plan, Step};
use crate::warehouse::{Connection, WarehouseError};

/// Why a plan stopped.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// A guard's count was above zero; nothing was written.
    #[error("{0}")]
    Refused(String),
    /// A guard's count could not be read; nothing was written.
    #[error("{source}: {sql}")]
    Unreadable { source: CountError, sql: String },
    /// `on_schema_change: fail`, and the model's columns are not its table's.
    #[error(
        "the model's columns are not those of its table `{table}` (`on_schema_change: fail`), so nothing was written: {}\n\
         = help: set `on_schema_change` to `append_new_columns` or `sync_all_columns` to change the table, or rebuild it with `--full-refresh`",
        changes.describe().join("; ")
    )]
    SchemaChanged { table: String, changes: ColumnChanges },
    /// The warehouse described a table without columns, or the model and its
    /// table share none: no insert can be written.
    #[error("{0}")]
    Columns(String),
}

/// Runs `plan` on `connection`; with a transaction, all of it is written or none.
pub fn execute(plan: &Plan, connection: &mut dyn Connection, sql: &dyn SqlGenerator) -> Result<JobStats, PlanError> {
    if plan.transaction {
        connection.execute(sql.begin())?;
    }
    let result = run_steps(plan, connection, sql);
    if plan.transaction {
        match &result {
            Ok(_) => {
                if let Err(err) = connection.execute(sql.commit()) {
                    let _ = connection.execute(sql.rollback());
                    return Err(err.into());
                }
            }
            Err(_) => {
                let _ = connection.execute(sql.rollback());
            }
        }
    }
    result
}

fn run_steps(plan: &Plan, connection: &mut dyn Connection, sql: &dyn SqlGenerator) -> Result<JobStats, PlanError> {
    run_step_list(&plan.steps, connection, sql)
}

fn run_step_list(steps: &[Step], connection: &mut dyn Connection, sql: &dyn SqlGenerator) -> Result<JobStats, PlanError> {
    let mut total = JobStats::default();
    for step in steps {
        match step {
            Step::Run { job, counts_rows } => {
                let stats = connection.run(job)?;
                if *counts_rows {
                    total.rows_affected = stats.rows_affected;
                }
                total.add(&stats);
            }
            Step::Guard { count, refusal } => {
                let table = connection.query(count)?;
                let found = first_count(&table).map_err(|source| PlanError::Unreadable { source, sql: count.sql.trim().to_string() })?;
                if found > 0 {
                    return Err(PlanError::Refused(refusal.message(found)));
                }
            }
            Step::Insert { insert, options } => total.add(&insert_by_name(insert, options, connection, sql)?),
            Step::Copy { copy, fallback } => match connection.copy_partitions(copy)? {
                Some(stats) => total.add(&stats),
                None => total.add(&run_step_list(fallback, connection, sql)?),
            },
            Step::Load { load, fallback } => match connection.load_file(load)? {
                Some(stats) => total.add(&stats),
                None => {
                    let stats = run_step_list(fallback, connection, sql)?;
                    if stats.rows_affected.is_some() {
                        total.rows_affected = stats.rows_affected;
                    }
                    total.add(&stats);
                }
            },
        }
    }
    Ok(total)
}

/// Reads the columns of the table and of the staged rows, changes the table
/// as `on_schema_change` says (dbt's `process_schema_changes`), then writes
/// the columns both have, by name.
fn insert_by_name(insert: &Insert, options: &Job, connection: &mut dyn Connection, sql: &dyn SqlGenerator) -> Result<JobStats, PlanError> {
    let mut columns_of = |relation: &Relation| -> Result<Vec<Column>, PlanError> {
        let columns = connection.columns(relation)?;
        if columns.is_empty() {
            return Err(PlanError::Columns(format!("the warehouse lists no columns for `{}`, so nothing was written", relation.display_name())));
        }
        Ok(columns)
    };
    let table = columns_of(&insert.target)?;
    let mut model = columns_of(&insert.staged)?;
    model.retain(|column| !insert.internal.iter().any(|internal| internal.eq_ignore_ascii_case(&column.name)));
    let changes = ColumnChanges::between(&table, &model);
    if insert.on_schema_change == OnSchemaChange::Fail && !changes.is_empty() {
        return Err(PlanError::SchemaChanged { table: insert.target.display_name(), changes });
    }
    let written = changes.written(&model, insert.on_schema_change);
    if written.is_empty() {
        return Err(PlanError::Columns(format!(
            "the model has none of the columns of its table `{}`, so nothing was written; rebuild it with `--full-refresh`",
            insert.target.display_name()
        )));
    }
    let jobs = sql.alter_columns(insert, &table, &changes).into_iter().map(Job::new);
    let jobs = jobs.chain(sql.write(insert, &sql.column_list(&written)));
    let mut total = JobStats::default();
    for job in jobs {
        total.add(&connection.run(&Job { sql: job.sql, script: job.script, ..options.clone() })?);
    }
    Ok(total)
}
