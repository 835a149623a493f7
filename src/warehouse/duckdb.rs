//! The embedded DuckDB warehouse (the `duckdb` crate, bundled): a database file
//! under `target/` by default, so a new user needs no server and no account.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate};
use duckdb::types::{TimeUnit, Value};

use crate::warehouse::sql::{DuckDbSql, SqlGenerator};
use crate::core::table::{Cell, Table};
use crate::core::job::{Job, JobStats};
use crate::warehouse::{Connection, ExistingRelation, RelationKey, RelationKind, Relations, Warehouse, WarehouseError};

pub struct DuckDb {
    /// The first connection; workers get clones of it.
    root: Mutex<duckdb::Connection>,
    interrupts: Mutex<Vec<Arc<duckdb::InterruptHandle>>>,
    /// Set by `interrupt`: DuckDB forgets an interrupt once its query ends, so
    /// every connection refuses statements after it, not only the running ones.
    interrupted: Arc<AtomicBool>,
    sql: DuckDbSql,
}

impl DuckDb {
    /// Opens (creating if needed) the database at `path`, or in memory for
    /// `:memory:`, with DuckDB `settings` (name, value) such as `memory_limit`.
    pub fn open(path: &str, project_root: &Path, settings: &[(String, String)]) -> Result<DuckDb, WarehouseError> {
        let mut config = duckdb::Config::default();
        for (name, value) in settings {
            config = config
                .with(name, value)
                .map_err(|err| WarehouseError::Setting { name: name.clone(), value: value.clone(), message: err.to_string() })?;
        }
        // Messages name the whole path, wherever strata was started.
        let full = if path == ":memory:" { PathBuf::from(path) } else { project_root.join(path) };
        let full = std::path::absolute(&full).unwrap_or(full);
        let connection = if path == ":memory:" {
            duckdb::Connection::open_in_memory_with_flags(config)
        } else {
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|err| WarehouseError::Connect(format!("could not create the folder `{}` for `{}`: {err}", parent.display(), full.display())))?;
            }
            duckdb::Connection::open_with_flags(&full, config)
        }
        .map_err(|err| {
            let message = err.to_string();
            // DuckDB names the process holding the lock: `Conflicting lock is held in <program> (PID n)`.
            if let Some(held) = message.split("Conflicting lock is held in ").nth(1) {
                let holder = held.split(". See also").next().unwrap_or(held).trim().to_string();
                return WarehouseError::Locked { path: full.display().to_string(), holder };
            }
            match settings.iter().find(|(name, _)| message.contains(name.as_str())) {
                // DuckDB checks the settings' names and values when it opens the database.
                Some((name, value)) => WarehouseError::Setting { name: name.clone(), value: value.clone(), message },
                None => WarehouseError::Connect(format!("`{}`: {message}", full.display())),
            }
        })?;
        Ok(DuckDb { root: Mutex::new(connection), interrupts: Mutex::new(Vec::new()), interrupted: Arc::new(AtomicBool::new(false)), sql: DuckDbSql })
    }

    /// The default database file of a profile: `target/<profile>.duckdb`.
    pub fn default_path(profile_name: &str) -> PathBuf {
        PathBuf::from("target").join(format!("{profile_name}.duckdb"))
    }
}

impl Warehouse for DuckDb {
    fn connect(&self) -> Result<Box<dyn Connection>, WarehouseError> {
        let root = self.root.lock().map_err(|_| WarehouseError::Connect("connection lock poisoned".into()))?;
        let connection = root.try_clone().map_err(|err| WarehouseError::Connect(err.to_string()))?;
        if let Ok(mut interrupts) = self.interrupts.lock() {
            interrupts.push(connection.interrupt_handle());
        }
        Ok(Box::new(DuckDbConnection { connection, interrupted: self.interrupted.clone() }))
    }

    fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        if let Ok(interrupts) = self.interrupts.lock() {
            for handle in interrupts.iter() {
                handle.interrupt();
            }
        }
    }

    fn sql(&self) -> &dyn SqlGenerator {
        &self.sql
    }
}

struct DuckDbConnection {
    connection: duckdb::Connection,
    interrupted: Arc<AtomicBool>,
}

impl DuckDbConnection {
    /// Fails once the warehouse was interrupted, before a statement starts.
    fn check_interrupted(&self) -> Result<(), WarehouseError> {
        if self.interrupted.load(Ordering::SeqCst) { Err(WarehouseError::Interrupted) } else { Ok(()) }
    }
}

fn query_error(err: duckdb::Error) -> WarehouseError {
    let message = err.to_string();
    if message.contains("INTERRUPT") || message.contains("Interrupted") {
        WarehouseError::Interrupted
    } else {
        WarehouseError::query(message)
    }
}

impl Connection for DuckDbConnection {
    /// DuckDB runs in the process: no job ids, no bytes billed; the options
    /// that only a billing warehouse has are ignored.
    fn run(&mut self, job: &Job) -> Result<JobStats, WarehouseError> {
        let sql = job.sql.as_str();
        // DuckDB cannot estimate a scan; `EXPLAIN` plans the query, which checks it.
        if job.dry_run {
            self.read(&format!("explain {sql}"))?;
            return Ok(JobStats::default());
        }
        if job.script {
            self.check_interrupted()?;
            return self.connection.execute_batch(sql).map(|()| JobStats::default()).map_err(query_error);
        }
        // A rollback still runs: it is what undoes the interrupted work.
        if !sql.eq_ignore_ascii_case("rollback") {
            self.check_interrupted()?;
        }
        let rows = self.connection.execute(sql, []).map_err(query_error)?;
        Ok(JobStats { rows_affected: Some(rows as u64), ..JobStats::default() })
    }

    fn query(&mut self, job: &Job) -> Result<Table, WarehouseError> {
        self.read(&job.sql)
    }

    fn list_relations(&mut self, _schemas: &[crate::warehouse::Schema]) -> Result<Relations, WarehouseError> {
        // The default catalog's relations are named without a database, as strata names them.
        let table = self.read(
            "select case when table_catalog = current_database() then null else table_catalog end, table_schema, table_name, table_type \
             from information_schema.tables",
        )?;
        Ok(table
            .rows
            .iter()
            .filter_map(|row| match row.as_slice() {
                [catalog, Cell::Text(schema), Cell::Text(name), kind] => Some((
                    RelationKey {
                        database: match catalog { Cell::Text(catalog) => Some(catalog.clone()), _ => None },
                        schema: schema.clone(),
                        name: name.clone(),
                    },
                    ExistingRelation::of_kind(relation_kind(kind)),
                )),
                _ => None,
            })
            .collect())
    }
}

impl DuckDbConnection {
    fn read(&mut self, sql: &str) -> Result<Table, WarehouseError> {
        self.check_interrupted()?;
        let mut statement = self.connection.prepare(sql).map_err(query_error)?;
        let mut rows = statement.query([]).map_err(query_error)?;
        // The duckdb crate cannot read every column type (a bare NULL, for
        // one); such columns are read again as text.
        if let Some(executed) = rows.as_ref() {
            let names = executed.column_names();
            let as_text: Vec<String> = (0..executed.column_count())
                .filter(|&index| !readable(&executed.column_type(index)))
                .filter_map(|index| names.get(index).map(|name| format!("cast(\"{0}\" as varchar) as \"{0}\"", name.replace('"', "\"\""))))
                .collect();
            if !as_text.is_empty() {
                drop(rows);
                drop(statement);
                return self.read(&format!("select * replace ({}) from (\n{sql}\n) as strata_readable", as_text.join(", ")));
            }
        }
        let mut table = Table::default();
        while let Some(row) = rows.next().map_err(query_error)? {
            let count = row.as_ref().column_count();
            let mut cells = Vec::with_capacity(count);
            for index in 0..count {
                let value: Value = row.get(index).map_err(query_error)?;
                cells.push(to_cell(value));
            }
            table.rows.push(cells);
        }
        table.columns = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
        Ok(table)
    }
}

fn relation_kind(table_type: &Cell) -> RelationKind {
    match table_type {
        Cell::Text(text) if text.eq_ignore_ascii_case("VIEW") => RelationKind::View,
        _ => RelationKind::Table,
    }
}

/// The column types `to_cell` reads.
fn readable(data_type: &duckdb::arrow::datatypes::DataType) -> bool {
    use duckdb::arrow::datatypes::DataType;
    matches!(
        data_type,
        DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Date32
            | DataType::Timestamp(..)
            | DataType::Decimal128(..)
    )
}

fn to_cell(value: Value) -> Cell {
    match value {
        Value::Null => Cell::Null,
        Value::Boolean(b) => Cell::Bool(b),
        Value::TinyInt(i) => Cell::Int(i.into()),
        Value::SmallInt(i) => Cell::Int(i.into()),
        Value::Int(i) => Cell::Int(i.into()),
        Value::BigInt(i) => Cell::Int(i),
        Value::UTinyInt(i) => Cell::Int(i.into()),
        Value::USmallInt(i) => Cell::Int(i.into()),
        Value::UInt(i) => Cell::Int(i.into()),
        Value::UBigInt(i) => i64::try_from(i).map_or(Cell::Text(i.to_string()), Cell::Int),
        Value::HugeInt(i) => i64::try_from(i).map_or(Cell::Text(i.to_string()), Cell::Int),
        Value::Float(x) => Cell::Float(x.into()),
        Value::Double(x) => Cell::Float(x),
        Value::Decimal(d) => d.to_string().parse().map_or(Cell::Text(d.to_string()), Cell::Float),
        Value::Text(s) | Value::Enum(s) => Cell::Text(s),
        Value::Date32(days) => Cell::Text(
            NaiveDate::from_num_days_from_ce_opt(days + 719_163).map_or(days.to_string(), |d| d.format("%Y-%m-%d").to_string()),
        ),
        Value::Timestamp(unit, amount) => {
            let micros = match unit {
                TimeUnit::Second => amount.saturating_mul(1_000_000),
                TimeUnit::Millisecond => amount.saturating_mul(1_000),
                TimeUnit::Microsecond => amount,
                TimeUnit::Nanosecond => amount / 1_000,
            };
            Cell::Text(
                DateTime::from_timestamp_micros(micros)
                    .map_or(amount.to_string(), |t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string()),
            )
        }
        other => Cell::Text(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_rows_and_relation_kinds() {
        let warehouse = DuckDb::open(":memory:", Path::new("."), &[]).unwrap();
        let mut connection = warehouse.connect().unwrap();
        assert_eq!(connection.execute("create table t as select range as id from range(5)").unwrap(), 5);
        connection.execute("create view v as select * from t").unwrap();
        let all = connection.list_relations(&[]).unwrap();
        let key = |name: &str| RelationKey { database: None, schema: "main".into(), name: name.into() };
        assert_eq!(all.get(&key("t")).map(|r| r.kind), Some(RelationKind::Table));
        assert_eq!(all.get(&key("v")).map(|r| r.kind), Some(RelationKind::View));
        assert_eq!(all.len(), 2);
        let table = connection
            .query_sql("select id, id * 1.5 as x, 'a' as s, date '2026-11-20' as d, null as n, [1, 2] as l, interval 1 day as i from t where id = 2")
            .unwrap();
        assert_eq!(table.columns, ["id", "x", "s", "d", "n", "l", "i"]);
        assert_eq!(
            table.rows[0],
            [Cell::Int(2), Cell::Float(3.0), Cell::Text("a".into()), Cell::Text("2026-11-20".into()), Cell::Null, Cell::Text("[1, 2]".into()), Cell::Text("1 day".into())]
        );
    }

    // Ctrl-C between two statements of a plan: DuckDB's interrupt only stops a
    // running query, so the next statement must be refused, the rollback not.
    #[test]
    fn after_an_interrupt_statements_are_refused_but_rollback_runs() {
        let warehouse = DuckDb::open(":memory:", Path::new("."), &[]).unwrap();
        let mut connection = warehouse.connect().unwrap();
        connection.execute("begin transaction").unwrap();
        connection.execute("create table t as select 1 as id").unwrap();
        warehouse.interrupt();
        assert!(matches!(connection.execute("create table u as select 2 as id"), Err(WarehouseError::Interrupted)));
        assert!(matches!(connection.query_sql("select 1"), Err(WarehouseError::Interrupted)));
        connection.execute("rollback").unwrap();
    }
}
