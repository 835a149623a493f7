//! Seeds: reading a CSV once to check it and infer its column types as
//! dbt-duckdb does (32-bit integers, doubles, `True`/`False` booleans, dates, ISO
//! timestamps, strings), with `column_types` config taking precedence.

use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::Value as Json;

use crate::core::diagnostic::{Diagnostic, Location};
use crate::project::config::ConfigMap;
use crate::sql::SeedColumn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Inferred {
    /// Only empty cells so far.
    Empty,
    /// Whole numbers that fit 32 bits: `INTEGER`, as dbt-duckdb makes them.
    Integer,
    /// Whole numbers beyond 32 bits, which dbt-duckdb refuses to load
    /// (`Could not convert string "3000000000" to 'INTEGER'`): `BIGINT`.
    BigInteger,
    Double,
    Boolean,
    Date,
    Timestamp,
    Text,
}

impl Inferred {
    fn sql_type(self) -> &'static str {
        match self {
            Inferred::Integer => "INTEGER",
            Inferred::BigInteger => "BIGINT",
            Inferred::Double => "DOUBLE",
            Inferred::Boolean => "BOOLEAN",
            Inferred::Date => "DATE",
            Inferred::Timestamp => "TIMESTAMP",
            Inferred::Empty | Inferred::Text => "VARCHAR",
        }
    }

    fn of(cell: &str) -> Inferred {
        if cell.is_empty() {
            Inferred::Empty
        } else if let Ok(number) = cell.parse::<i64>() {
            if i32::try_from(number).is_ok() { Inferred::Integer } else { Inferred::BigInteger }
        } else if cell.parse::<f64>().is_ok_and(f64::is_finite) {
            Inferred::Double
        } else if matches!(cell, "True" | "False" | "true" | "false" | "TRUE" | "FALSE") {
            Inferred::Boolean
        } else if cell.len() == 10 && NaiveDate::parse_from_str(cell, "%Y-%m-%d").is_ok() {
            Inferred::Date
        } else if ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.fZ"]
            .iter()
            .any(|format| NaiveDateTime::parse_from_str(cell, format).is_ok())
        {
            Inferred::Timestamp
        } else {
            Inferred::Text
        }
    }

    /// The type that holds both: integers widen to doubles, anything else mixed is text.
    fn merge(self, other: Inferred) -> Inferred {
        match (self, other) {
            (a, b) if a == b => a,
            (Inferred::Empty, b) | (b, Inferred::Empty) => b,
            (Inferred::Integer, Inferred::BigInteger) | (Inferred::BigInteger, Inferred::Integer) => Inferred::BigInteger,
            (Inferred::Integer | Inferred::BigInteger, Inferred::Double) | (Inferred::Double, Inferred::Integer | Inferred::BigInteger) => {
                Inferred::Double
            }
            (Inferred::Date, Inferred::Timestamp) | (Inferred::Timestamp, Inferred::Date) => Inferred::Timestamp,
            _ => Inferred::Text,
        }
    }
}

/// A checked seed file: its columns, their types and how many rows it has.
#[derive(Debug, Clone)]
pub struct SeedFile {
    pub columns: Vec<SeedColumn>,
    pub rows: u64,
    pub delimiter: char,
}

/// Reads `path` (relative to `root`), checking every row, and decides the column types.
pub fn inspect(root: &Path, path: &Path, config: &ConfigMap) -> Result<SeedFile, Diagnostic> {
    let delimiter = config.get("delimiter").and_then(Json::as_str).and_then(|d| d.chars().next()).unwrap_or(',');
    let text = std::fs::read_to_string(root.join(path)).map_err(|err| Diagnostic::new(format!("could not read seed `{}`: {err}", path.display())))?;
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter as u8).from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().map_err(|err| csv_error(path, &text, &err))?.iter().map(|h| h.trim().to_string()).collect();
    if headers.is_empty() || headers.iter().any(String::is_empty) {
        return Err(Diagnostic::new(format!("seed `{}` has an empty column name in its header", path.display()))
            .at(Location::in_source(path, &text, 1, None))
            .help("the first line of a seed names every column"));
    }
    let mut inferred = vec![Inferred::Empty; headers.len()];
    let mut rows = 0;
    for record in reader.records() {
        let record = record.map_err(|err| csv_error(path, &text, &err))?;
        for (column, cell) in record.iter().enumerate() {
            if let Some(slot) = inferred.get_mut(column) {
                *slot = slot.merge(Inferred::of(cell));
            }
        }
        rows += 1;
    }
    let column_types = config.get("column_types").and_then(Json::as_object);
    let columns = headers
        .into_iter()
        .zip(inferred)
        .map(|(name, inferred)| {
            let data_type = column_types
                .and_then(|types| types.get(&name))
                .and_then(Json::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| inferred.sql_type().to_string());
            SeedColumn { name, data_type }
        })
        .collect();
    Ok(SeedFile { columns, rows, delimiter })
}

fn csv_error(path: &Path, text: &str, err: &csv::Error) -> Diagnostic {
    let line = err.position().map_or(0, |p| p.line() as usize);
    let message = match err.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("row has {len} fields, but the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "the file is not UTF-8".to_string(),
        _ => err.to_string(),
    };
    let location = if line > 0 { Location::in_source(path, text, line, None) } else { Location::file(path) };
    Diagnostic::new(format!("malformed seed `{}`: {message}", path.display()))
        .at(location)
        .help("every row needs as many fields as the header; quote fields holding the delimiter")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_types_like_dbt_duckdb() {
        let infer = |cells: &[&str]| cells.iter().fold(Inferred::Empty, |acc, c| acc.merge(Inferred::of(c))).sql_type();
        assert_eq!(infer(&["1", "", "42", "-2147483648"]), "INTEGER");
        assert_eq!(infer(&["1", "3000000000"]), "BIGINT");
        assert_eq!(infer(&["3000000000", "1.5"]), "DOUBLE");
        assert_eq!(infer(&["1", "2.5"]), "DOUBLE");
        assert_eq!(infer(&["True", "False", ""]), "BOOLEAN");
        assert_eq!(infer(&["2026-11-01", "2026-11-20"]), "DATE");
        assert_eq!(infer(&["2026-11-01T10:00:00", "2026-11-02 11:30:00.5"]), "TIMESTAMP");
        assert_eq!(infer(&["2026-11-01", "2026-11-01T10:00:00"]), "TIMESTAMP");
        assert_eq!(infer(&["1", "x"]), "VARCHAR");
        assert_eq!(infer(&["", ""]), "VARCHAR");
    }
}
