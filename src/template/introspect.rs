//! Introspective queries while compiling: `run_query()`, `{% call
//! statement(...) %}` with `load_result()`, `adapter.get_columns_in_relation()`
//! and `adapter.get_relation()`, which dbt packages use to build SQL from
//! what the warehouse holds (the values of a column, a table's columns).
//!
//! They run against the target only when a template compiles for real
//! (`execute` is true): parsing returns none, and marks the model to be
//! compiled again. The warehouse is the command's own when it has one,
//! opened on first use otherwise; each query text runs once per invocation.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use minijinja::value::{Kwargs, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use crate::core::columns::Column;
use crate::core::hash::FastMap;
use crate::core::relation::{QuoteStyle, Relation};
use crate::core::table::{Cell, Table};
use crate::sql::SqlGenerator;
use crate::template::invalid;
use crate::template::relation::FilteredInput;
use crate::template::scope::{self, Mode};
use crate::warehouse::{RelationKey, Warehouse};

type Open = Box<dyn Fn() -> Result<Arc<dyn Warehouse>, String> + Send + Sync>;

/// The target, as compiling templates ask it questions.
pub struct Introspection {
    open: Open,
    /// The command's warehouse, while it is open: held weakly, so the
    /// command still closes it when it is done.
    command: Mutex<Option<std::sync::Weak<dyn Warehouse>>>,
    /// The warehouse opened for introspection, when the command had none.
    warehouse: OnceLock<Result<Arc<dyn Warehouse>, String>>,
    queries: Mutex<FastMap<String, Arc<Table>>>,
    columns: Mutex<FastMap<String, Arc<Vec<Column>>>>,
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Introspection")
    }
}

impl Introspection {
    /// Opens the warehouse with `open` on the first question, unless the command hands its own first.
    pub fn new(open: impl Fn() -> Result<Arc<dyn Warehouse>, String> + Send + Sync + 'static) -> Introspection {
        Introspection {
            open: Box::new(open),
            command: Mutex::default(),
            warehouse: OnceLock::new(),
            queries: Mutex::default(),
            columns: Mutex::default(),
        }
    }

    /// The command's warehouse, for the questions templates ask from now on.
    pub fn use_warehouse(&self, warehouse: &Arc<dyn Warehouse>) {
        *lock(&self.command) = Some(Arc::downgrade(warehouse));
    }

    fn connect(&self) -> Result<Box<dyn crate::warehouse::Connection>, Error> {
        let command = lock(&self.command).as_ref().and_then(std::sync::Weak::upgrade);
        let warehouse = match command {
            Some(warehouse) => warehouse,
            None => self
                .warehouse
                .get_or_init(|| (self.open)())
                .clone()
                .map_err(|err| invalid(format!("could not reach the target to introspect: {err}")))?,
        };
        warehouse.connect().map_err(|err| invalid(err.to_string()))
    }

    /// The rows of `sql`, run once per invocation.
    fn query(&self, sql: &str) -> Result<Arc<Table>, Error> {
        if let Some(table) = lock(&self.queries).get(sql) {
            return Ok(Arc::clone(table));
        }
        let mut connection = self.connect()?;
        let table = Arc::new(connection.query_sql(sql).map_err(|err| invalid(format!("introspective query failed: {err}")))?);
        lock(&self.queries).insert(sql.to_string(), Arc::clone(&table));
        Ok(table)
    }

    /// The columns of `relation`, asked once per invocation.
    fn columns(&self, relation: &Relation) -> Result<Arc<Vec<Column>>, Error> {
        let key = relation.to_string();
        if let Some(columns) = lock(&self.columns).get(&key) {
            return Ok(Arc::clone(columns));
        }
        let mut connection = self.connect()?;
        let columns = Arc::new(connection.columns(relation).map_err(|err| invalid(format!("could not read the columns of {relation}: {err}")))?);
        lock(&self.columns).insert(key, Arc::clone(&columns));
        Ok(columns)
    }

    fn exists(&self, relation: &Relation) -> Result<bool, Error> {
        let mut connection = self.connect()?;
        let found = connection.describe(&RelationKey::of(relation)).map_err(|err| invalid(err.to_string()))?;
        Ok(found.is_some())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether the render in progress only parses: introspection answers none then.
fn parsing() -> bool {
    let parsing = scope::current(|scope| scope.is_some_and(|s| s.mode == Mode::Parse));
    if parsing {
        scope::mark_inexact();
    }
    parsing
}

/// Registers `run_query`, `statement` and `load_result`.
pub fn register(env: &mut minijinja::Environment<'static>, introspection: &Arc<Introspection>) {
    let this = Arc::clone(introspection);
    env.add_function("run_query", move |sql: String| -> Result<Value, Error> {
        if parsing() {
            return Ok(Value::from(()));
        }
        Ok(Value::from_object(AgateTable(this.query(&sql)?)))
    });
    let this = Arc::clone(introspection);
    env.add_function("statement", move |state: &State<'_, '_>, name: Option<String>, kwargs: Kwargs| -> Result<Value, Error> {
        let caller: Value = kwargs.get("caller")?;
        let fetch: bool = kwargs.get::<Option<bool>>("fetch_result")?.unwrap_or(false);
        for key in ["auto_begin", "language"] {
            let _: Option<Value> = kwargs.get(key)?;
        }
        let sql = caller.call(state, &[])?.to_string();
        if parsing() {
            return Ok(Value::from(""));
        }
        let table = this.query(&sql)?;
        if let Some(name) = name {
            let result = if fetch { load_result_value(&table) } else { Value::from(()) };
            scope::current(|scope| scope.map(|s| s.results.insert(name, result)));
        }
        Ok(Value::from(""))
    });
    env.add_function("load_result", |name: String| -> Value {
        scope::current(|scope| scope.and_then(|s| s.results.get(&name).cloned())).unwrap_or(Value::from(()))
    });
}

/// What `load_result()` returns: `data` (rows as lists), `table` and `response`.
fn load_result_value(table: &Arc<Table>) -> Value {
    let data: Vec<Value> = table.rows.iter().map(|row| Value::from(row.iter().map(cell_value).collect::<Vec<_>>())).collect();
    Value::from_iter([
        ("data", Value::from(data)),
        ("table", Value::from_object(AgateTable(Arc::clone(table)))),
        ("response", Value::from_iter([("rows_affected", Value::from(table.rows.len()))])),
    ])
}

/// `adapter.get_columns_in_relation(relation)`: its columns, in `dialect`;
/// none while parsing.
pub fn columns_in_relation(introspection: &Introspection, relation: &Value, dialect: &'static dyn SqlGenerator) -> Result<Value, Error> {
    if parsing() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    let relation = as_relation(relation)?;
    let columns = introspection.columns(&relation)?;
    Ok(Value::from(columns.iter().map(|c| Value::from_object(ColumnValue { column: c.clone(), dialect })).collect::<Vec<_>>()))
}

/// `adapter.get_relation(database, schema, identifier)`: the relation if it exists, else none.
pub fn get_relation(introspection: &Introspection, relation: Relation) -> Result<Value, Error> {
    if parsing() {
        return Ok(Value::from(()));
    }
    Ok(if introspection.exists(&relation)? { Value::from_object(relation) } else { Value::from(()) })
}

/// A relation value (`ref()`, `source()`, `this`, `api.Relation.create()`).
pub fn as_relation(value: &Value) -> Result<Relation, Error> {
    if let Some(relation) = value.downcast_object_ref::<Relation>() {
        return Ok(relation.clone());
    }
    if let Some(input) = value.downcast_object_ref::<FilteredInput>() {
        return Ok(input.relation.clone());
    }
    // `this` renders as its relation.
    let text = value.to_string();
    let parts: Vec<&str> = text.split('.').map(|p| p.trim_matches(|c| c == '"' || c == '`')).collect();
    match parts.as_slice() {
        [schema, name] => Ok(Relation::new(None, schema.to_string(), name.to_string(), QuoteStyle::Bare)),
        [database, schema, name] => Ok(Relation::new(Some(database.to_string()), schema.to_string(), name.to_string(), QuoteStyle::Bare)),
        _ => Err(invalid(format!("`{text}` is not a relation"))),
    }
}

fn cell_value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::from(()),
        Cell::Bool(b) => Value::from(*b),
        Cell::Int(i) => Value::from(*i),
        Cell::Float(x) => Value::from(*x),
        // A number in templates, as agate's Decimal is in dbt's.
        Cell::Decimal(s) => s.parse::<f64>().map_or_else(|_| Value::from(s.as_str()), Value::from),
        Cell::Text(s) => Value::from(s.as_str()),
    }
}

/// An agate table, as dbt's `run_query()` returns it: a sequence of its rows
/// (so `{% if table %}`, `| length` and `{% for row in table %}` see the
/// rows), with `rows`, `columns` (a sequence also keyed by name) and
/// `column_names`.
#[derive(Debug)]
struct AgateTable(Arc<Table>);

impl AgateTable {
    fn row(&self, index: usize) -> Value {
        Value::from_object(AgateRow { table: Arc::clone(&self.0), index })
    }
}

impl Object for AgateTable {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let table = &self.0;
        if let Some(index) = key.as_usize() {
            return (index < table.rows.len()).then(|| self.row(index));
        }
        match key.as_str()? {
            "rows" => Some(Value::from((0..table.rows.len()).map(|index| self.row(index)).collect::<Vec<_>>())),
            "columns" => Some(Value::from_object(AgateColumns(Arc::clone(table)))),
            "column_names" => Some(Value::from(table.columns.clone())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.0.rows.len())
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, _args: &[Value]) -> Result<Value, Error> {
        match method {
            "print_table" => Ok(Value::from("")),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A table's columns, as agate's mapped sequence: iterated in order, indexed
/// by position or name, with `keys()`, `values()` and `items()`.
#[derive(Debug)]
struct AgateColumns(Arc<Table>);

impl AgateColumns {
    fn column(&self, index: usize) -> Value {
        Value::from_object(AgateColumn { table: Arc::clone(&self.0), index })
    }
}

impl Object for AgateColumns {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let position = match key.as_str() {
            Some(name) => self.0.columns.iter().position(|c| c == name)?,
            None => key.as_usize().filter(|&index| index < self.0.columns.len())?,
        };
        Some(self.column(position))
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.0.columns.len())
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, _args: &[Value]) -> Result<Value, Error> {
        let columns = 0..self.0.columns.len();
        match method {
            "keys" => Ok(Value::from(self.0.columns.clone())),
            "values" => Ok(Value::from(columns.map(|index| self.column(index)).collect::<Vec<_>>())),
            "items" => Ok(Value::from(
                columns.map(|index| Value::from(vec![Value::from(self.0.columns[index].as_str()), self.column(index)])).collect::<Vec<_>>(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// One row: a sequence of its values, indexed by position or by column
/// name, with `keys()`, `values()`, `items()` and `dict()`.
#[derive(Debug)]
struct AgateRow {
    table: Arc<Table>,
    index: usize,
}

impl Object for AgateRow {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let row = self.table.rows.get(self.index)?;
        let position = match key.as_str() {
            Some(name) => self.table.columns.iter().position(|c| c.eq_ignore_ascii_case(name))?,
            None => key.as_usize()?,
        };
        row.get(position).map(cell_value)
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.table.columns.len())
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, _args: &[Value]) -> Result<Value, Error> {
        let Some(row) = self.table.rows.get(self.index) else { return Err(Error::from(ErrorKind::UnknownMethod)) };
        let pairs = || self.table.columns.iter().zip(row).map(|(name, cell)| (name.as_str(), cell_value(cell)));
        match method {
            "keys" => Ok(Value::from(self.table.columns.clone())),
            "values" => Ok(Value::from(row.iter().map(cell_value).collect::<Vec<_>>())),
            "items" => Ok(Value::from(pairs().map(|(name, value)| Value::from(vec![Value::from(name), value])).collect::<Vec<_>>())),
            "dict" => Ok(Value::from_iter(pairs())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// One column: its `name` and `values()`.
#[derive(Debug)]
struct AgateColumn {
    table: Arc<Table>,
    index: usize,
}

impl Object for AgateColumn {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => self.table.columns.get(self.index).map(|n| Value::from(n.as_str())),
            _ => None,
        }
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, _args: &[Value]) -> Result<Value, Error> {
        match method {
            "values" | "values_distinct" => {
                let mut values: Vec<Value> = self.table.rows.iter().filter_map(|row| row.get(self.index)).map(cell_value).collect();
                if method == "values_distinct" {
                    let mut seen = Vec::new();
                    values.retain(|v| {
                        let new = !seen.contains(v);
                        seen.push(v.clone());
                        new
                    });
                }
                Ok(Value::from(values))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A column as dbt's `api.Column` shows it, in its target's dialect.
pub struct ColumnValue {
    pub column: Column,
    pub dialect: &'static dyn SqlGenerator,
}

impl fmt::Debug for ColumnValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ColumnValue").field("column", &self.column).finish_non_exhaustive()
    }
}

impl Object for ColumnValue {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let column = &self.column;
        match key.as_str()? {
            "name" | "column" => Some(Value::from(column.name.as_str())),
            "data_type" => Some(Value::from(self.dialect.column_data_type(&column.data_type))),
            "dtype" => Some(Value::from(column.data_type.as_str())),
            "quoted" => Some(Value::from(self.dialect.quote(&column.name))),
            _ => None,
        }
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, _args: &[Value]) -> Result<Value, Error> {
        let data_type = self.column.data_type.to_ascii_lowercase();
        let any = |names: &[&str]| names.iter().any(|n| data_type.starts_with(n));
        let integer = || any(&["int", "bigint", "smallint", "tinyint", "hugeint", "int64", "integer"]);
        let float = || any(&["float", "double", "real", "float64"]);
        let numeric = || any(&["numeric", "decimal", "bignumeric"]);
        let answer = match method {
            "is_string" => any(&["varchar", "text", "string", "char"]),
            "is_integer" => integer(),
            "is_float" => float(),
            "is_numeric" => numeric(),
            "is_number" => integer() || float() || numeric(),
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        };
        Ok(Value::from(answer))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Column {} ({})>", self.column.name, self.column.data_type)
    }
}
