//! Rows read back from a warehouse, and reading a count from them.

use std::fmt;

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
    /// An exact decimal (DuckDB's DECIMAL, BigQuery's NUMERIC), as the
    /// warehouse writes it: a double would round 38 digits to 17.
    Decimal(String),
    Text(String),
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => f.write_str("NULL"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(x) => write!(f, "{x}"),
            Cell::Decimal(s) | Cell::Text(s) => f.write_str(s),
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
            Cell::Decimal(s) => s.parse().ok().and_then(serde_json::Number::from_f64).map_or_else(|| s.clone().into(), Into::into),
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
            // `3.000`: whole, whatever the scale.
            Cell::Decimal(s) => match s.split_once('.') {
                Some((whole, fraction)) if fraction.bytes().all(|b| b == b'0') => whole.parse().ok(),
                Some(_) => None,
                None => s.parse().ok(),
            },
            _ => None,
        }
    }
}

/// The count in the first cell of a query's result, or an error that says
/// what came back instead: a check that cannot read its count must fail, not pass.
pub fn first_count(table: &Table) -> Result<u64, CountError> {
    let cell = table.rows.first().and_then(|row| row.first());
    match cell {
        Some(cell) => cell.as_count().ok_or_else(|| CountError::NotWhole(cell.to_string())),
        None => Err(CountError::NoRow),
    }
}

/// Why a count could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountError {
    #[error("the count query returned `{0}`, not a whole number")]
    NotWhole(String),
    #[error("the count query returned no row")]
    NoRow,
}

#[cfg(test)]
mod tests {
    use super::{Cell, CountError, Table, first_count};

    fn one(cell: Cell) -> Table {
        Table { columns: vec!["count".into()], rows: vec![vec![cell]] }
    }

    // A check that cannot read its count must fail, never pass as 0.
    #[test]
    fn counts_are_read_whole_or_refused() {
        assert_eq!(first_count(&one(Cell::Int(3))), Ok(3));
        assert_eq!(first_count(&one(Cell::Text("3".into()))), Ok(3));
        assert_eq!(first_count(&one(Cell::Float(3.0))), Ok(3));
        assert_eq!(first_count(&one(Cell::Null)), Err(CountError::NotWhole("NULL".into())));
        assert_eq!(first_count(&one(Cell::Float(2.5))), Err(CountError::NotWhole("2.5".into())));
        assert_eq!(first_count(&one(Cell::Int(-1))), Err(CountError::NotWhole("-1".into())));
        assert_eq!(first_count(&one(Cell::Text("three".into()))), Err(CountError::NotWhole("three".into())));
        assert_eq!(first_count(&Table::default()), Err(CountError::NoRow));
    }
}
