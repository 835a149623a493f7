//! The embedded DuckDB warehouse (the `duckdb` crate, bundled): a database file
//! under `target/` by default, so a new user needs no server and no account.

pub mod profile;
pub mod sql;
pub mod types;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate};
use duckdb::types::{TimeUnit, Value};
use serde_json::{Map, Value as Json};

use crate::core::columns::Column;
use crate::core::diagnostic::Diagnostic;
use crate::core::job::{Job, JobStats};
use crate::core::table::{Cell, Table};
use crate::core::wait::{Attempt, Backoff, Waited, wait_for};
use crate::sql::SqlGenerator;
use crate::warehouse::duckdb::profile::Attachment;
use crate::warehouse::fields::FieldError;
use crate::warehouse::profiles::WarehouseKeys;
use crate::warehouse::target::Target;
use crate::warehouse::{Adapter, Connection, ExistingRelation, RelationKey, RelationKind, Relations, Warehouse, WarehouseError};
use sql::DuckDbSql;

pub struct DuckDb {
    /// The first connection; workers get clones of it.
    root: Mutex<duckdb::Connection>,
    interrupts: Mutex<Vec<Arc<duckdb::InterruptHandle>>>,
    /// Set by `interrupt`: DuckDB forgets an interrupt once its query ends, so
    /// every connection refuses statements after it, not only the running ones.
    interrupted: Arc<AtomicBool>,
    sql: DuckDbSql,
    /// None in memory, which has no write-ahead log.
    checkpoints: Option<Arc<Checkpoints>>,
    /// Whether the profile sets DuckDB's own `threads` under `settings:`.
    threads_set: bool,
}

/// DuckDB checkpoints on commit once its write-ahead log passes
/// `checkpoint_threshold`, but not while another connection has a transaction
/// open if the committing one dropped or renamed a table, which every table
/// swap does. With `--threads` above 1 that is nearly always, so the log, and
/// the new tables' rows DuckDB keeps in memory until a checkpoint, would grow
/// for the whole run (a 5,000-model project's second day: a 36 MB log and
/// every replaced table in memory or spilled). After a statement outside a
/// transaction leaves the log past the threshold, strata checkpoints itself:
/// `force checkpoint` waits for the other connections' open transactions and
/// holds new ones back until it is done.
struct Checkpoints {
    wal: PathBuf,
    threshold: u64,
    /// One connection checkpoints at a time; the others go on.
    running: AtomicBool,
}

impl Checkpoints {
    fn due(&self) -> bool {
        std::fs::metadata(&self.wal).is_ok_and(|meta| meta.len() > self.threshold)
    }
}

impl DuckDb {
    /// Opens (creating if needed) the database at `path`, or in memory for
    /// `:memory:`, with DuckDB `settings` (name, value) such as `memory_limit`,
    /// and the databases of `attach` attached.
    pub fn open(path: &str, project_root: &Path, settings: &[(String, String)], attach: &[Attachment]) -> Result<DuckDb, WarehouseError> {
        let mut config = duckdb::Config::default();
        for (name, value) in settings {
            config = config.with(name, value).map_err(|err| WarehouseError::Setting {
                name: name.clone(),
                value: value.clone(),
                message: err.to_string(),
            })?;
        }
        // Messages name the whole path, wherever strata was started.
        let full = if path == ":memory:" { PathBuf::from(path) } else { project_root.join(path) };
        let full = std::path::absolute(&full).unwrap_or(full);
        let connection = if path == ":memory:" {
            duckdb::Connection::open_in_memory_with_flags(config)
        } else {
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent).map_err(|err| {
                    WarehouseError::Connect(format!("could not create the folder `{}` for `{}`: {err}", parent.display(), full.display()))
                })?;
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
        for attachment in attach {
            connection
                .execute_batch(&attach_sql(attachment, project_root))
                .map_err(|err| WarehouseError::Connect(format!("could not attach `{}`: {err}", attachment.path)))?;
        }
        let checkpoints = if path == ":memory:" {
            None
        } else {
            // DuckDB shows the setting as a size (`16.0 MiB`); a setting strata cannot read leaves checkpoints to DuckDB.
            let threshold: Option<String> = connection.query_row("select current_setting('checkpoint_threshold')", [], |row| row.get(0)).ok();
            threshold.as_deref().and_then(parse_size).map(|threshold| {
                let mut wal = full.clone().into_os_string();
                wal.push(".wal");
                Arc::new(Checkpoints { wal: wal.into(), threshold, running: AtomicBool::new(false) })
            })
        };
        Ok(DuckDb {
            root: Mutex::new(connection),
            interrupts: Mutex::new(Vec::new()),
            interrupted: Arc::new(AtomicBool::new(false)),
            sql: DuckDbSql,
            checkpoints,
            threads_set: settings.iter().any(|(name, _)| ["threads", "worker_threads"].contains(&name.to_ascii_lowercase().as_str())),
        })
    }

    /// The default database file of a profile: `target/<profile>.duckdb`.
    pub fn default_path(profile_name: &str) -> PathBuf {
        PathBuf::from("target").join(format!("{profile_name}.duckdb"))
    }
}

/// DuckDB's [`Adapter`]: a database file, `target/<profile>.duckdb` unless
/// the target names its `path`, waited for while another process holds it.
pub struct DuckDbAdapter;

impl Adapter for DuckDbAdapter {
    fn name(&self) -> &'static str {
        "duckdb"
    }

    fn dialect(&self) -> &'static dyn SqlGenerator {
        &DuckDbSql
    }

    fn read_keys(
        &self,
        profile_name: &str,
        fields: &Map<String, Json>,
        _job_labels: &[(String, String)],
        error: FieldError<'_>,
    ) -> Result<WarehouseKeys, Diagnostic> {
        let profile::Keys { schema, catalog, .. } = profile::read(profile_name, fields, error)?;
        Ok(WarehouseKeys { schema, database: Some(catalog) })
    }

    fn macros(&self) -> Option<(&'static str, &'static str)> {
        Some(("strata/duckdb.sql", include_str!("macros.sql")))
    }

    fn relation_class(&self) -> &'static str {
        "DuckDBRelation"
    }

    fn open(&self, target: &Target, root: &Path, profile_name: &str, lock_timeout: std::time::Duration) -> Result<Arc<dyn Warehouse>, Diagnostic> {
        let path = target
            .fields
            .get("path")
            .and_then(|p| p.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| DuckDb::default_path(profile_name).to_string_lossy().into_owned());
        // Another strata (or a notebook) holding the file: wait, saying so once.
        let waiting = |reason: &str| eprintln!("WAIT  {reason}; waiting up to {} (`--lock-timeout`)", crate::core::format::humantime(lock_timeout));
        let backoff = Backoff { first: std::time::Duration::from_millis(100), factor: 1.5, max: std::time::Duration::from_secs(2) };
        let never = std::sync::atomic::AtomicBool::new(false);
        let mut last_lock = None;
        // Checked when the profile was read: an error here is the same one.
        let error = |message: String, key: &str| Diagnostic::new(format!("target `{}`: {message}", target.name)).at(target.locate(key));
        let keys = profile::read(profile_name, &target.fields, &error)?;
        let waited = wait_for(lock_timeout, backoff, &never, waiting, || match DuckDb::open(&path, root, &keys.settings, &keys.attach) {
            Err(err @ WarehouseError::Locked { .. }) => {
                let reason = err.to_string();
                last_lock = Some(err);
                Attempt::NotYet(reason)
            }
            result => Attempt::Done(result),
        });
        let opened = match waited {
            Waited::Done { value, .. } => value,
            Waited::TimedOut { reason, .. } | Waited::Cancelled { reason, .. } => Err(last_lock.take().unwrap_or(WarehouseError::Connect(reason))),
        };
        let warehouse = opened.map_err(|err| match &err {
            WarehouseError::Setting { name, .. } => {
                Diagnostic::new(format!("target `{}`: {err}", target.name)).at(target.locate(&format!("{name}:")))
                    .help("`settings:` takes DuckDB's settings by their names, e.g. `memory_limit: 2GB`")
            }
            WarehouseError::Locked { .. } => Diagnostic::new(err.to_string())
                .help("wait for that process to finish (another strata run, or a client with the file open), or point `path:` in `profiles.yml` at another file"),
            _ => Diagnostic::new(err.to_string()),
        })?;
        Ok(Arc::new(warehouse))
    }
}

impl Warehouse for DuckDb {
    fn connect(&self) -> Result<Box<dyn Connection>, WarehouseError> {
        let root = self.root.lock().map_err(|_| WarehouseError::Connect("connection lock poisoned".into()))?;
        let connection = root.try_clone().map_err(|err| WarehouseError::Connect(err.to_string()))?;
        if let Ok(mut interrupts) = self.interrupts.lock() {
            interrupts.push(connection.interrupt_handle());
        }
        Ok(Box::new(DuckDbConnection {
            connection,
            interrupted: self.interrupted.clone(),
            checkpoints: self.checkpoints.clone(),
            in_transaction: false,
        }))
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

    /// DuckDB runs in this process: workers beyond the cores only queue for
    /// them, and each query's own threads compete with the other workers'. So
    /// at most one worker per core, the cores shared out between them as
    /// DuckDB's `threads`, unless the profile sets it under `settings:`. On 2
    /// cores, 1,000 models with 4 workers and DuckDB's default took 5.6-6.3 s,
    /// with 2 workers and 1 thread each 2.84 s (release builds).
    fn workers(&self, requested: usize) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = requested.clamp(1, cores);
        if !self.threads_set
            && let Ok(root) = self.root.lock()
        {
            // Only speed is at stake: DuckDB keeps its default if it refuses.
            let _ = root.execute_batch(&format!("set threads = {}", (cores / workers).max(1)));
        }
        workers
    }
}

struct DuckDbConnection {
    connection: duckdb::Connection,
    interrupted: Arc<AtomicBool>,
    checkpoints: Option<Arc<Checkpoints>>,
    /// Between the plan's `begin` and its `commit` or `rollback`.
    in_transaction: bool,
}

impl DuckDbConnection {
    /// Fails once the warehouse was interrupted, before a statement starts.
    fn check_interrupted(&self) -> Result<(), WarehouseError> {
        if self.interrupted.load(Ordering::SeqCst) { Err(WarehouseError::Interrupted) } else { Ok(()) }
    }

    /// After a statement that succeeded: follows the plan's transaction, and
    /// outside one checkpoints when the log is past the threshold (see [`Checkpoints`]).
    fn after(&mut self, sql: &str) -> Result<(), WarehouseError> {
        if sql.eq_ignore_ascii_case(DuckDbSql.begin()) {
            self.in_transaction = true;
        } else if sql.eq_ignore_ascii_case(DuckDbSql.commit()) || sql.eq_ignore_ascii_case(DuckDbSql.rollback()) {
            self.in_transaction = false;
        }
        let Some(checkpoints) = self.checkpoints.as_deref() else { return Ok(()) };
        if self.in_transaction || !checkpoints.due() || checkpoints.running.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let result = self.connection.execute_batch("force checkpoint");
        checkpoints.running.store(false, Ordering::SeqCst);
        match result.map_err(query_error) {
            // The statement itself succeeded; a checkpoint that did not happen
            // leaves it to DuckDB, as before. Only Ctrl-C stops the node.
            Err(WarehouseError::Interrupted) => Err(WarehouseError::Interrupted),
            _ => Ok(()),
        }
    }
}

/// A size as DuckDB shows a setting: `1000 bytes`, `16.0 MiB`.
fn parse_size(text: &str) -> Option<u64> {
    let (number, unit) = text.trim().split_once(' ')?;
    let number: f64 = number.parse().ok()?;
    let scale: u64 = match unit {
        "bytes" | "byte" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "PiB" => 1 << 50,
        _ => return None,
    };
    Some((number * scale as f64) as u64)
}

/// `attach if not exists ...` for one `attach:` entry; a relative path is the
/// project's, as the target's own `path:` is.
fn attach_sql(attachment: &Attachment, project_root: &Path) -> String {
    let path = &attachment.path;
    // `:memory:`, `md:...` and URLs are DuckDB's to read.
    let path = if path.contains(':') { path.clone() } else { project_root.join(path).to_string_lossy().into_owned() };
    let mut sql = format!("attach if not exists {}", DuckDbSql.string_literal(&path));
    if let Some(alias) = &attachment.alias {
        sql.push_str(&format!(" as {}", DuckDbSql.quote(alias)));
    }
    let options: Vec<String> =
        [attachment.kind.as_ref().map(|kind| format!("type {}", DuckDbSql.quote(kind))), attachment.read_only.then(|| "read_only".to_string())]
            .into_iter()
            .flatten()
            .collect();
    if !options.is_empty() {
        sql.push_str(&format!(" ({})", options.join(", ")));
    }
    sql
}

fn query_error(err: duckdb::Error) -> WarehouseError {
    let message = err.to_string();
    if message.contains("INTERRUPT") || message.contains("Interrupted") { WarehouseError::Interrupted } else { WarehouseError::query(message) }
}

impl Connection for DuckDbConnection {
    /// DuckDB runs in the process: no job ids, no bytes billed; the options
    /// that only a billing warehouse has are ignored.
    fn run(&mut self, job: &Job) -> Result<JobStats, WarehouseError> {
        let sql = job.sql.as_str();
        if job.script {
            self.check_interrupted()?;
            self.connection.execute_batch(sql).map_err(query_error)?;
            self.after(sql)?;
            return Ok(JobStats::default());
        }
        // A rollback still runs: it is what undoes the interrupted work.
        if !sql.eq_ignore_ascii_case(DuckDbSql.rollback()) {
            self.check_interrupted()?;
        }
        let rows = self.connection.execute(sql, []).map_err(query_error)?;
        self.after(sql)?;
        Ok(JobStats { rows_affected: Some(rows as u64), ..JobStats::default() })
    }

    /// DuckDB cannot estimate a scan; `EXPLAIN` plans the query, which checks it.
    fn estimate(&mut self, job: &Job) -> Result<JobStats, WarehouseError> {
        self.read(&format!("explain {}", job.sql))?;
        Ok(JobStats::default())
    }

    fn query(&mut self, job: &Job) -> Result<Table, WarehouseError> {
        self.read(&job.sql)
    }

    fn stream(&mut self, job: &Job, page: &mut crate::warehouse::Page<'_>) -> Result<u64, WarehouseError> {
        let described = self.read(&format!("describe select * from (\n{}\n) as strata_stream", job.sql))?;
        let columns: Vec<Column> = described
            .rows
            .iter()
            .filter_map(|row| match row.as_slice() {
                [Cell::Text(name), Cell::Text(data_type), ..] => Some(Column::new(name.clone(), data_type.clone())),
                _ => None,
            })
            .collect();
        self.read_pages(&job.sql, STREAM_PAGE_ROWS, &mut |_, rows| page(&columns, rows))
    }

    fn list_relations(&mut self, _schemas: &[crate::warehouse::Schema]) -> Result<Relations, WarehouseError> {
        let table = self.read("select table_catalog, table_schema, table_name, table_type from information_schema.tables")?;
        Ok(table
            .rows
            .iter()
            .filter_map(|row| match row.as_slice() {
                [catalog, Cell::Text(schema), Cell::Text(name), kind] => Some((
                    RelationKey {
                        database: match catalog {
                            Cell::Text(catalog) => Some(catalog.clone()),
                            _ => None,
                        },
                        schema: schema.clone(),
                        name: name.clone(),
                    },
                    ExistingRelation::of_kind(relation_kind(kind)),
                )),
                _ => None,
            })
            .collect())
    }

    /// One catalog lookup (`pragma_table_info`), not a scan of
    /// `information_schema`, which lists every column of every table: an
    /// incremental run asks this twice per model.
    fn columns(&mut self, relation: &crate::core::relation::Relation) -> Result<Vec<Column>, WarehouseError> {
        let read = self.read(&format!("select name, type from pragma_table_info({}) order by cid", DuckDbSql.string_literal(&relation.to_string())));
        let table = match read {
            Ok(table) => table,
            // A relation that is not there has no columns.
            Err(err) if err.to_string().contains("does not exist") => return Ok(Vec::new()),
            Err(err) => return Err(err),
        };
        Ok(table
            .rows
            .iter()
            .filter_map(|row| match row.as_slice() {
                [Cell::Text(name), Cell::Text(data_type)] => Some(Column::new(name.clone(), data_type.clone())),
                _ => None,
            })
            .collect())
    }

    /// One relation looked up by name, instead of listing them all.
    fn describe(&mut self, relation: &RelationKey) -> Result<Option<RelationKind>, WarehouseError> {
        let literal = |text: &str| DuckDbSql.string_literal(text);
        let catalog = relation.database.as_deref().map_or_else(|| "current_database()".to_string(), literal);
        let (schema, name) = (literal(&relation.schema), literal(&relation.name));
        let table = self.read(&format!(
            "select 'VIEW' from duckdb_views() where database_name = {catalog} and schema_name = {schema} and view_name = {name} \
             union all select 'BASE TABLE' from duckdb_tables() where database_name = {catalog} and schema_name = {schema} and table_name = {name}"
        ))?;
        Ok(table.rows.first().and_then(|row| row.first()).map(relation_kind))
    }
}

impl DuckDbConnection {
    fn read(&mut self, sql: &str) -> Result<Table, WarehouseError> {
        let mut table = Table::default();
        self.read_pages(sql, usize::MAX, &mut |columns, rows| {
            if table.columns.is_empty() {
                table.columns = columns.to_vec();
            }
            table.rows.extend(rows);
            true
        })?;
        Ok(table)
    }

    /// Reads the rows of `sql`, `per_page` rows at a time, handing each page
    /// to `page` with the column names until it returns false; the rows read.
    fn read_pages(&mut self, sql: &str, per_page: usize, page: &mut NamedPage<'_>) -> Result<u64, WarehouseError> {
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
                return self.read_pages(&format!("select * replace ({}) from (\n{sql}\n) as strata_readable", as_text.join(", ")), per_page, page);
            }
        }
        let names: Vec<String> = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
        let mut buffer = Vec::new();
        let mut read = 0u64;
        while let Some(row) = rows.next().map_err(query_error)? {
            let count = row.as_ref().column_count();
            let mut cells = Vec::with_capacity(count);
            for index in 0..count {
                let value: Value = row.get(index).map_err(query_error)?;
                cells.push(to_cell(value));
            }
            buffer.push(cells);
            read += 1;
            if buffer.len() >= per_page && !page(&names, std::mem::take(&mut buffer)) {
                return Ok(read);
            }
        }
        if !buffer.is_empty() || read == 0 {
            page(&names, buffer);
        }
        Ok(read)
    }
}

/// What `read_pages` hands each page of rows to, with the column names.
type NamedPage<'a> = dyn FnMut(&[String], Vec<Vec<Cell>>) -> bool + 'a;

/// Rows per page of `stream`.
const STREAM_PAGE_ROWS: usize = 10_000;

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
        // Exactly, as written: a double would round 38 digits to 17.
        Value::Decimal(d) => Cell::Decimal(d.to_string()),
        Value::Text(s) | Value::Enum(s) => Cell::Text(s),
        Value::Date32(days) => {
            Cell::Text(NaiveDate::from_num_days_from_ce_opt(days + 719_163).map_or(days.to_string(), |d| d.format("%Y-%m-%d").to_string()))
        }
        Value::Timestamp(unit, amount) => {
            let micros = match unit {
                TimeUnit::Second => amount.saturating_mul(1_000_000),
                TimeUnit::Millisecond => amount.saturating_mul(1_000),
                TimeUnit::Microsecond => amount,
                TimeUnit::Nanosecond => amount / 1_000,
            };
            Cell::Text(
                DateTime::from_timestamp_micros(micros).map_or(amount.to_string(), |t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string()),
            )
        }
        other => Cell::Text(format!("{other:?}")),
    }
}

/// Writes the CSV file at `csv` (a header, every text quoted so NULL stays
/// apart from empty text) as Parquet at `parquet`, through an in-memory
/// DuckDB reading each column as its type; nested values and types DuckDB
/// has not (or JSON, an extension's) are read as the text they were written as.
pub fn csv_to_parquet(csv: &Path, columns: &[(String, crate::sql::types::DataType)], parquet: &Path) -> Result<(), String> {
    let literal = |text: &str| format!("'{}'", text.replace('\'', "''"));
    let typed = columns.iter().map(|(name, data_type)| {
        // JSON is an extension's type, which this build has not.
        let readable = data_type.is_scalar() && *data_type != crate::sql::types::DataType::Json;
        let duckdb_type = types::name(data_type).ok().filter(|_| readable).unwrap_or_else(|| "VARCHAR".into());
        format!("{}: {}", literal(name), literal(&duckdb_type))
    });
    let sql = format!(
        "copy (select * from read_csv({}, header = true, auto_detect = false, quote = '\"', escape = '\"', \
         allow_quoted_nulls = false, columns = {{{}}})) to {} (format parquet)",
        literal(&csv.to_string_lossy()),
        typed.collect::<Vec<_>>().join(", "),
        literal(&parquet.to_string_lossy())
    );
    let converter = duckdb::Connection::open_in_memory().map_err(|err| err.to_string())?;
    converter.execute_batch(&sql).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_rows_and_relation_kinds() {
        let warehouse = DuckDb::open(":memory:", Path::new("."), &[], &[]).unwrap();
        let mut connection = warehouse.connect().unwrap();
        assert_eq!(connection.execute("create table t as select range as id from range(5)").unwrap(), 5);
        connection.execute("create view v as select * from t").unwrap();
        let all = connection.list_relations(&[]).unwrap();
        let key = |name: &str| RelationKey { database: Some("memory".into()), schema: "main".into(), name: name.into() };
        assert_eq!(all.get(&key("t")).map(|r| r.kind), Some(RelationKind::Table));
        assert_eq!(all.get(&key("v")).map(|r| r.kind), Some(RelationKind::View));
        assert_eq!(all.len(), 2);
        let table = connection
            .query_sql("select id, id * 1.5 as x, 'a' as s, date '2026-11-20' as d, null as n, [1, 2] as l, interval 1 day as i from t where id = 2")
            .unwrap();
        assert_eq!(table.columns, ["id", "x", "s", "d", "n", "l", "i"]);
        assert_eq!(
            table.rows[0],
            [
                Cell::Int(2),
                Cell::Decimal("3.0".into()),
                Cell::Text("a".into()),
                Cell::Text("2026-11-20".into()),
                Cell::Null,
                Cell::Text("[1, 2]".into()),
                Cell::Text("1 day".into())
            ]
        );
    }

    // A table swap that commits while another connection has a transaction
    // open on a table: DuckDB does not checkpoint then (its log would grow by
    // 20, 60, 120 KB here), so strata does, once that transaction ends.
    #[test]
    fn checkpoints_a_swap_that_commits_beside_an_open_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let wal_size = || std::fs::metadata(dir.path().join("w.duckdb.wal")).map_or(0, |meta| meta.len());
        let settings = [("checkpoint_threshold".to_string(), "4KB".to_string())];
        let warehouse = DuckDb::open("w.duckdb", dir.path(), &settings, &[]).unwrap();
        let mut reader = warehouse.connect().unwrap();
        let mut writer = warehouse.connect().unwrap();
        writer.execute("create table t as select range as id from range(10)").unwrap();
        writer.execute("create table other as select 1 as x").unwrap();
        let (began, begun) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let reading = scope.spawn(move || {
                reader.execute("begin transaction").unwrap();
                reader.query_sql("select count(*) from other").unwrap();
                began.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(300));
                // The open transaction still reads the table as it began.
                let rows = reader.query_sql("select count(*) from t").unwrap().rows;
                reader.execute("rollback").unwrap();
                rows
            });
            begun.recv().unwrap();
            for round in 1..=3 {
                writer.execute("begin transaction").unwrap();
                writer.execute(&format!("create table t_new as select range as id, 'row ' || range as label from range({round} * 1000)")).unwrap();
                writer.execute("drop table t").unwrap();
                writer.execute("alter table t_new rename to t").unwrap();
                writer.execute("commit").unwrap();
                assert!(wal_size() <= 4000, "round {round}: the log holds {} bytes", wal_size());
            }
            assert_eq!(reading.join().unwrap(), [[Cell::Int(10)]]);
        });
        assert_eq!(writer.query_sql("select count(*) from t").unwrap().rows, [[Cell::Int(3000)]]);
    }

    #[test]
    fn reads_sizes_as_duckdb_shows_them() {
        assert_eq!(parse_size("1000 bytes"), Some(1000));
        assert_eq!(parse_size("16.0 MiB"), Some(16 << 20));
        assert_eq!(parse_size("1.5 GiB"), Some(3 << 29));
        assert_eq!(parse_size("16MB"), None);
    }

    // Ctrl-C between two statements of a plan: DuckDB's interrupt only stops a
    // running query, so the next statement must be refused, the rollback not.
    #[test]
    fn after_an_interrupt_statements_are_refused_but_rollback_runs() {
        let warehouse = DuckDb::open(":memory:", Path::new("."), &[], &[]).unwrap();
        let mut connection = warehouse.connect().unwrap();
        connection.execute("begin transaction").unwrap();
        connection.execute("create table t as select 1 as id").unwrap();
        warehouse.interrupt();
        assert!(matches!(connection.execute("create table u as select 2 as id"), Err(WarehouseError::Interrupted)));
        assert!(matches!(connection.query_sql("select 1"), Err(WarehouseError::Interrupted)));
        connection.execute("rollback").unwrap();
    }
}
