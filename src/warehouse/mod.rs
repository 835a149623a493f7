//! Warehouses: one trait, an implementation per profile `type`, each in its
//! own folder with its SQL dialect. A warehouse hands out connections, one per
//! worker thread; a connection runs the SQL its dialect generates (the pure
//! SQL layer, `crate::sql`). Generating SQL and executing it stay apart, so
//! the SQL each materialization sends is unit-tested without a warehouse.

pub mod bigquery;
pub mod duckdb;
pub mod fields;
pub mod partitions;
pub mod plan;
pub mod profiles;
pub mod target;

use std::path::Path;
use std::sync::Arc;

use crate::core::columns::Column;
use crate::core::diagnostic::{Diagnostic, Location};
use crate::core::job::{Job, JobStats};
use crate::core::relation::Relation;
pub use crate::core::relation::RelationKind;
use crate::core::table::{Cell, Table};
use crate::sql::SqlGenerator;
use crate::warehouse::profiles::TargetKind;
use crate::warehouse::target::Target;

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// The warehouse rejected or failed a job.
    #[error("{message}")]
    Query {
        message: String,
        /// Whether sending the same job again may succeed (a rate limit, a
        /// backend error), as opposed to a mistake in the SQL.
        retryable: bool,
        job_id: Option<String>,
        /// The line of the statement the warehouse's message points at.
        at: Option<ErrorAt>,
        /// The warehouse's code for the cause, where it gives one (BigQuery's
        /// `reason`: `notFound`, `accessDenied`, ...).
        reason: Option<String>,
    },
    #[error("could not open the warehouse: {0}")]
    Connect(String),
    /// Another process holds the database file's lock.
    #[error("could not open `{path}`: another process holds its lock ({holder})")]
    Locked { path: String, holder: String },
    /// A setting the warehouse refused when it was opened.
    #[error("DuckDB refused the setting `{name}: {value}`: {message}")]
    Setting { name: String, value: String, message: String },
    #[error("interrupted")]
    Interrupted,
}

impl WarehouseError {
    /// A rejected statement that sending again will not fix.
    pub fn query(message: impl Into<String>) -> WarehouseError {
        WarehouseError::Query { message: message.into(), retryable: false, job_id: None, at: None, reason: None }
    }

    /// What to do about an error whose cause is known from its message.
    pub fn help(&self) -> Option<&'static str> {
        let WarehouseError::Query { message, .. } = self else { return None };
        if message.contains("(accessDenied)") || message.contains("Access Denied") {
            Some(
                "the credential lacks a permission: grant its account BigQuery Job User on the project and BigQuery Data Editor on the datasets; `strata debug` shows which credential is used",
            )
        } else if message.contains("Out of Memory Error") {
            Some(
                "DuckDB used all the memory it may: raise `memory_limit` under the target's `settings:` in profiles.yml (e.g. `settings: {memory_limit: 4GB}`), or lower its `threads` there",
            )
        } else if message.contains("because schema \"") && message.contains("\" does not exist") {
            // DuckDB names the schema with its database: `"dev.main"`.
            Some(
                "DuckDB names relations with their database file's name: where that is another file (a `--defer` state's, say), attach it to the target in profiles.yml (`attach: [{path: target/prod.duckdb, read_only: true}]`)",
            )
        } else {
            None
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, WarehouseError::Query { retryable: true, .. })
    }
}

/// Where in a statement a warehouse error points: the line's text as sent,
/// and the column (from 1), so the line can be found in the model's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorAt {
    pub line: String,
    pub column: usize,
}

/// What strata knows of one kind of warehouse, beyond its connections: the
/// `type:` that names it, the keys its targets read, its SQL and built-in
/// macros, and how a target of its type is opened. Each warehouse's folder
/// has one; [`BUILT_IN`] is the one place that lists them, so a third
/// warehouse is a folder and a line there (or a [`register`] call, for a
/// program that embeds strata).
pub trait Adapter: Sync {
    /// The profile `type:` that names it.
    fn name(&self) -> &'static str;
    /// The SQL dialect, for compiling without a connection.
    fn dialect(&self) -> &'static dyn SqlGenerator;
    /// The schema and database of a target of this type from its `fields`,
    /// its own keys checked, each error at its line; `job_labels` are checked
    /// against the warehouse's rules for labels.
    fn read_keys(
        &self,
        profile_name: &str,
        fields: &serde_json::Map<String, serde_json::Value>,
        job_labels: &[(String, String)],
        error: fields::FieldError<'_>,
    ) -> Result<profiles::WarehouseKeys, Diagnostic>;
    /// A warning for each key of a target that this warehouse does not use;
    /// `locate` finds a key in the profile.
    fn unused_keys(&self, _fields: &serde_json::Map<String, serde_json::Value>, _locate: &dyn Fn(&str) -> Location) -> Vec<Diagnostic> {
        Vec::new()
    }
    /// Opens the warehouse of `target`, an output of profile `profile_name`
    /// of the project at `root`.
    fn open(&self, target: &Target, root: &Path, profile_name: &str, lock_timeout: std::time::Duration) -> Result<Arc<dyn Warehouse>, Diagnostic>;
    /// The target's fields that templates also see under this warehouse's
    /// own names (`target.project` and `target.dataset` on BigQuery).
    fn target_aliases(&self, _target: &Target) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// The warehouse's own variants of the built-in macros (`duckdb__dateadd`),
    /// as a file's name and text: what its dbt adapter renders differently.
    fn macros(&self) -> Option<(&'static str, &'static str)> {
        None
    }
    /// The names `adapter.dispatch` tries, in order, before `default`
    /// (`<name>__macro`): its own, then those of the warehouses it builds
    /// on, as dbt's adapters that extend another do.
    fn dispatch_names(&self) -> Vec<&'static str> {
        vec![self.name()]
    }
    /// The class of a relation as its dbt adapter names it, which packages
    /// check (`dbt_utils._is_relation` reads `relation.metadata.type`).
    fn relation_class(&self) -> &'static str;
}

/// The warehouses strata has: where they are registered.
pub static BUILT_IN: [&dyn Adapter; 2] = [&duckdb::DuckDbAdapter, &bigquery::BigQueryAdapter];

/// Warehouses registered at run time, after the built-in ones.
static REGISTERED: std::sync::RwLock<Vec<&'static dyn Adapter>> = std::sync::RwLock::new(Vec::new());

/// Adds a warehouse for targets of its `type:`, for a program that embeds
/// strata (the tests' recording warehouse). A built-in type cannot be replaced.
pub fn register(adapter: &'static dyn Adapter) {
    let Ok(mut registered) = REGISTERED.write() else { return };
    if !BUILT_IN.iter().chain(registered.iter()).any(|known| known.name() == adapter.name()) {
        registered.push(adapter);
    }
}

/// Every warehouse: the built-in ones, then those registered.
pub fn adapters() -> Vec<&'static dyn Adapter> {
    let registered = REGISTERED.read().map(|registered| registered.clone()).unwrap_or_default();
    BUILT_IN.iter().copied().chain(registered).collect()
}

/// The SQL dialect of a target type, for compiling without a connection.
pub fn dialect(kind: TargetKind) -> &'static dyn SqlGenerator {
    kind.adapter().dialect()
}

/// The dbt class of a relation written in quote style `quote`: the first
/// warehouse's whose SQL quotes that way (a CTE's, unquoted: the first one's).
pub fn relation_class(quote: crate::core::relation::QuoteStyle) -> &'static str {
    let adapter = BUILT_IN.iter().find(|adapter| adapter.dialect().quote_style() == quote).unwrap_or(&BUILT_IN[0]);
    adapter.relation_class()
}

/// How long a command waits for another process to release a DuckDB file
/// when it is not told (`--lock-timeout`).
pub const DEFAULT_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Opens the warehouse of `target`, an output of profile `profile_name` of
/// the project at `root` (a delivery may write into another than the run's).
pub fn open_target(target: &Target, root: &Path, profile_name: &str, lock_timeout: std::time::Duration) -> Result<Arc<dyn Warehouse>, Diagnostic> {
    target.kind.adapter().open(target, root, profile_name, lock_timeout)
}

/// What `Connection::stream` hands each page of rows to, with the columns;
/// it returns false to stop reading.
pub type Page<'a> = dyn FnMut(&[Column], Vec<Vec<Cell>>) -> bool + 'a;

/// A connection owned by one worker thread. Jobs in, rows and statistics out.
pub trait Connection: Send {
    /// Runs a job that returns no rows.
    fn run(&mut self, job: &Job) -> Result<JobStats, WarehouseError>;
    /// Runs a query and reads its rows.
    fn query(&mut self, job: &Job) -> Result<Table, WarehouseError>;
    /// Runs a query and hands its rows to `page` a page at a time, with the
    /// columns and their types in the warehouse's SQL, until `page` returns
    /// false: a large result is never held whole. Returns the rows read.
    fn stream(&mut self, job: &Job, page: &mut Page<'_>) -> Result<u64, WarehouseError>;
    /// Checks `job` without running it (BigQuery's dry run, with the bytes it
    /// would process; DuckDB's `EXPLAIN`). Every warehouse says how, so
    /// `--dry-run` can never send a job that builds.
    fn estimate(&mut self, job: &Job) -> Result<JobStats, WarehouseError>;
    /// The relations in `schemas` (database, schema), so a run asks once per
    /// schema, not once per node. A warehouse that lists everything at once
    /// (DuckDB) may return more.
    fn list_relations(&mut self, schemas: &[Schema]) -> Result<Relations, WarehouseError>;
    /// The columns of a table, in order, with their types in the warehouse's SQL.
    fn columns(&mut self, relation: &Relation) -> Result<Vec<Column>, WarehouseError>;
    /// How `relation` is partitioned and clustered, from its metadata; `None`
    /// where the warehouse neither partitions nor clusters (DuckDB).
    fn layout(&mut self, _relation: &Relation) -> Result<Option<TableLayout>, WarehouseError> {
        Ok(None)
    }
    /// Loads a file with the warehouse's own loader; `None` when it has
    /// none, and the plan's statements load it instead.
    fn load_file(&mut self, _load: &crate::sql::plan::FileLoad) -> Result<Option<JobStats>, WarehouseError> {
        Ok(None)
    }
    /// Copies `copy`'s partitions with the warehouse's copy jobs; `None`
    /// when it has none, and the plan's statements write them instead.
    fn copy_partitions(&mut self, _copy: &crate::sql::plan::PartitionCopy) -> Result<Option<JobStats>, WarehouseError> {
        Ok(None)
    }
    /// What `relation` is in the warehouse now, asked of it alone (not read
    /// from an earlier listing); `None` when it does not exist.
    fn describe(&mut self, relation: &RelationKey) -> Result<Option<RelationKind>, WarehouseError> {
        let schema = (relation.database.clone(), relation.schema.clone());
        Ok(self.list_relations(&[schema])?.get(relation).map(|existing| existing.kind))
    }
}

/// Plain statements, for callers without job options.
impl<'a> dyn Connection + 'a {
    /// Runs one statement; the rows it changed, when the warehouse says (else 0).
    pub fn execute(&mut self, sql: &str) -> Result<u64, WarehouseError> {
        self.run(&Job::new(sql)).map(|stats| stats.rows_affected.unwrap_or(0))
    }

    /// Runs several statements separated by `;`.
    pub fn execute_script(&mut self, sql: &str) -> Result<(), WarehouseError> {
        self.run(&Job::script(sql)).map(|_| ())
    }

    pub fn query_sql(&mut self, sql: &str) -> Result<Table, WarehouseError> {
        self.query(&Job::new(sql))
    }
}

/// A relation as the warehouse names it: database (BigQuery: project; none
/// for DuckDB's default catalog), schema (dataset) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelationKey {
    pub database: Option<String>,
    pub schema: String,
    pub name: String,
}

impl RelationKey {
    pub fn of(relation: &Relation) -> RelationKey {
        RelationKey { database: relation.database.clone(), schema: relation.schema.clone().unwrap_or_default(), name: relation.identifier.clone() }
    }
}

/// How a table is partitioned and clustered, as the warehouse's metadata says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableLayout {
    /// The partitioning column, lowercased; none for ingestion-time or no partitioning.
    pub partition_field: Option<String>,
    /// `hour`, `day`, `month` or `year`, where the table is time-partitioned.
    pub granularity: Option<String>,
    /// The clustering columns in order, lowercased.
    pub clustering: Vec<String>,
}

/// What the warehouse says of an existing relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingRelation {
    pub kind: RelationKind,
    /// A table's partitioning column and its type, where the warehouse partitions.
    pub partition: Option<(String, String)>,
    /// A table's clustering columns.
    pub clustering: Vec<String>,
}

impl ExistingRelation {
    pub fn of_kind(kind: RelationKind) -> ExistingRelation {
        ExistingRelation { kind, partition: None, clustering: Vec::new() }
    }
}

/// A schema (BigQuery: dataset) and the database (project) it is in, if named.
pub type Schema = (Option<String>, String);

/// What exists in the warehouse.
pub type Relations = std::collections::HashMap<RelationKey, ExistingRelation>;

/// A warehouse a run builds into.
pub trait Warehouse: Send + Sync {
    fn connect(&self) -> Result<Box<dyn Connection>, WarehouseError>;
    /// Stops every running query (Ctrl-C).
    fn interrupt(&self);
    /// The SQL dialect for generated statements.
    fn sql(&self) -> &dyn SqlGenerator;
    /// How many of `requested` workers build at once, the warehouse set up
    /// for them. A remote warehouse runs each worker's jobs on its own
    /// machines: all of them.
    fn workers(&self, requested: usize) -> usize {
        requested
    }
    /// The on-demand price of a TiB scanned, where the warehouse bills by bytes.
    fn price_per_tib(&self) -> Option<f64> {
        None
    }
    /// Which credential the warehouse signs in with, for `strata debug`; never a secret.
    fn credentials(&self) -> Option<String> {
        None
    }
    /// The statement that creates `relation`'s schema if it is missing.
    fn create_schema(&self, relation: &Relation) -> String {
        self.sql().create_schema(relation)
    }
}

/// A connection that adds the time spent inside the warehouse to a shared
/// counter, so a run can report its own overhead apart from the warehouse's.
pub struct Timed {
    inner: Box<dyn Connection>,
    spent_nanos: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Timed {
    pub fn new(inner: Box<dyn Connection>, spent_nanos: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Timed {
        Timed { inner, spent_nanos }
    }

    fn timed<T>(&mut self, call: impl FnOnce(&mut dyn Connection) -> T) -> T {
        let started = std::time::Instant::now();
        let result = call(self.inner.as_mut());
        Timed::add_since(&self.spent_nanos, started);
        result
    }

    /// Adds the time since `started` to `spent_nanos`: for warehouse work
    /// outside a connection's calls, such as closing the warehouse.
    pub fn add_since(spent_nanos: &std::sync::atomic::AtomicU64, started: std::time::Instant) {
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        spent_nanos.fetch_add(nanos, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Connection for Timed {
    fn run(&mut self, job: &Job) -> Result<JobStats, WarehouseError> {
        self.timed(|c| c.run(job))
    }

    fn query(&mut self, job: &Job) -> Result<Table, WarehouseError> {
        self.timed(|c| c.query(job))
    }

    fn stream(&mut self, job: &Job, page: &mut Page<'_>) -> Result<u64, WarehouseError> {
        self.timed(|c| c.stream(job, page))
    }

    fn estimate(&mut self, job: &Job) -> Result<JobStats, WarehouseError> {
        self.timed(|c| c.estimate(job))
    }

    fn list_relations(&mut self, schemas: &[Schema]) -> Result<Relations, WarehouseError> {
        self.timed(|c| c.list_relations(schemas))
    }

    fn columns(&mut self, relation: &Relation) -> Result<Vec<Column>, WarehouseError> {
        self.timed(|c| c.columns(relation))
    }

    fn layout(&mut self, relation: &Relation) -> Result<Option<TableLayout>, WarehouseError> {
        self.timed(|c| c.layout(relation))
    }

    fn describe(&mut self, relation: &RelationKey) -> Result<Option<RelationKind>, WarehouseError> {
        self.timed(|c| c.describe(relation))
    }

    fn load_file(&mut self, load: &crate::sql::plan::FileLoad) -> Result<Option<JobStats>, WarehouseError> {
        self.timed(|c| c.load_file(load))
    }

    fn copy_partitions(&mut self, copy: &crate::sql::plan::PartitionCopy) -> Result<Option<JobStats>, WarehouseError> {
        self.timed(|c| c.copy_partitions(copy))
    }
}
