//! A unit test of a model (dbt 1.8's `unit_tests:`), read into types: the
//! rows each input is given, the rows the model must return, and what the
//! test overrides (`vars`, `is_incremental`).

use serde_json::Value as Json;

use crate::template::RefCall;

#[derive(Debug, Clone)]
pub struct UnitTest {
    /// The unique id of the model under test.
    pub model: String,
    pub given: Vec<Given>,
    pub expect: Rows,
    /// `overrides: {vars: ...}`, seen before the project's.
    pub vars: serde_json::Map<String, Json>,
    /// `overrides: {macros: {is_incremental: true}}`.
    pub is_incremental: bool,
    /// The other macros of `overrides: {macros: ...}`, each replaced by its value.
    pub macros: serde_json::Map<String, Json>,
}

/// The rows one input of the model is given.
#[derive(Debug, Clone)]
pub struct Given {
    pub input: Input,
    pub rows: Rows,
}

/// What a unit test gives rows for: a `ref()`, a `source()`, or `this` (the
/// model's own table, for an incremental model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Ref(RefCall),
    Source(String, String),
    This,
}

/// Rows as written: mappings of column to value (`dict`, and `csv` read
/// into them), or a select (`sql`).
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    Values(Vec<serde_json::Map<String, Json>>),
    Sql(String),
}

impl Rows {
    /// The columns the rows name, in the order they first appear.
    pub fn columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = Vec::new();
        if let Rows::Values(rows) = self {
            for row in rows {
                for key in row.keys() {
                    if !columns.iter().any(|c| c.eq_ignore_ascii_case(key)) {
                        columns.push(key.clone());
                    }
                }
            }
        }
        columns
    }
}
