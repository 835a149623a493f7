//! Warehouses: one trait, an implementation per profile `type`. A warehouse
//! hands out connections, one per worker thread; a connection runs SQL that
//! `sql.rs` generates. Generating SQL and executing it stay apart, so the SQL
//! each materialization sends is unit-tested without a warehouse.

pub mod duckdb;
pub mod sql;

use std::fmt;


#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// The warehouse rejected a statement.
    #[error("{message}")]
    Query { message: String },
    #[error("could not open the warehouse: {0}")]
    Connect(String),
    /// A setting the warehouse refused when it was opened.
    #[error("DuckDB refused the setting `{name}: {value}`: {message}")]
    Setting { name: String, value: String, message: String },
    #[error("interrupted")]
    Interrupted,
}

/// What a relation is in the warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    Table,
    View,
}

/// Rows read back from a query, as text for display and JSON for scripts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => f.write_str("NULL"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(x) => write!(f, "{x}"),
            Cell::Text(s) => f.write_str(s),
        }
    }
}

impl Cell {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Null => serde_json::Value::Null,
            Cell::Bool(b) => (*b).into(),
            Cell::Int(i) => (*i).into(),
            Cell::Float(x) => serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into),
            Cell::Text(s) => s.clone().into(),
        }
    }

    /// The value as a count: a whole, non-negative number, also when the
    /// warehouse sends it as text (BigQuery sends every number as text) or as
    /// a float without a fraction. Anything else is `None`, never 0.
    pub fn as_count(&self) -> Option<u64> {
        match self {
            Cell::Int(i) => u64::try_from(*i).ok(),
            Cell::Float(x) if x.fract() == 0.0 && *x >= 0.0 && *x < u64::MAX as f64 => Some(*x as u64),
            Cell::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// The count in the first cell of a query's result, or an error that says
/// what came back instead: a check that cannot read its count must fail, not pass.
pub fn first_count(table: &Table) -> Result<u64, String> {
    let cell = table.rows.first().and_then(|row| row.first());
    match cell {
        Some(cell) => cell.as_count().ok_or_else(|| format!("the count query returned `{cell}`, not a whole number")),
        None => Err("the count query returned no row".to_string()),
    }
}

/// A connection owned by one worker thread.
pub trait Connection: Send {
    /// Runs one statement; returns the rows it changed, when the warehouse says.
    fn execute(&mut self, sql: &str) -> Result<u64, WarehouseError>;
    /// Runs several statements separated by `;`.
    fn execute_script(&mut self, sql: &str) -> Result<(), WarehouseError>;
    fn query(&mut self, sql: &str) -> Result<Table, WarehouseError>;
    /// Every relation in the warehouse, so a run asks once, not once per node.
    fn list_relations(&mut self) -> Result<Relations, WarehouseError>;
}

/// What exists in the warehouse: `(schema, name)` → kind.
pub type Relations = std::collections::HashMap<(String, String), RelationKind>;

/// A warehouse a run builds into.
pub trait Warehouse: Send + Sync {
    fn connect(&self) -> Result<Box<dyn Connection>, WarehouseError>;
    /// Stops every running query (Ctrl-C).
    fn interrupt(&self);
    /// The SQL dialect for generated statements.
    fn sql(&self) -> &dyn sql::SqlGenerator;
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
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.spent_nanos.fetch_add(nanos, std::sync::atomic::Ordering::Relaxed);
        result
    }
}

impl Connection for Timed {
    fn execute(&mut self, sql: &str) -> Result<u64, WarehouseError> {
        self.timed(|c| c.execute(sql))
    }

    fn execute_script(&mut self, sql: &str) -> Result<(), WarehouseError> {
        self.timed(|c| c.execute_script(sql))
    }

    fn query(&mut self, sql: &str) -> Result<Table, WarehouseError> {
        self.timed(|c| c.query(sql))
    }

    fn list_relations(&mut self) -> Result<Relations, WarehouseError> {
        self.timed(|c| c.list_relations())
    }
}

#[cfg(test)]
mod tests {
    use super::{Cell, Table, first_count};

    fn one(cell: Cell) -> Table {
        Table { columns: vec!["count".into()], rows: vec![vec![cell]] }
    }

    // A check that cannot read its count must fail, never pass as 0.
    #[test]
    fn counts_are_read_whole_or_refused() {
        assert_eq!(first_count(&one(Cell::Int(3))), Ok(3));
        assert_eq!(first_count(&one(Cell::Text("3".into()))), Ok(3));
        assert_eq!(first_count(&one(Cell::Float(3.0))), Ok(3));
        assert_eq!(first_count(&one(Cell::Null)), Err("the count query returned `NULL`, not a whole number".into()));
        assert_eq!(first_count(&one(Cell::Float(2.5))), Err("the count query returned `2.5`, not a whole number".into()));
        assert_eq!(first_count(&one(Cell::Int(-1))), Err("the count query returned `-1`, not a whole number".into()));
        assert_eq!(first_count(&one(Cell::Text("three".into()))), Err("the count query returned `three`, not a whole number".into()));
        assert_eq!(first_count(&Table::default()), Err("the count query returned no row".into()));
    }
}
