//! A warehouse relation: `database.schema.identifier`, rendered as the quoted
//! name the target's SQL dialect expects.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relation {
    pub database: Option<String>,
    pub schema: Option<String>,
    pub identifier: String,
    pub quote: QuoteStyle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuoteStyle {
    /// DuckDB and standard SQL: `"schema"."table"`.
    Double,
    /// BigQuery: `` `project`.`dataset`.`table` ``.
    Backtick,
    /// An ephemeral model's CTE name, never quoted.
    Bare,
}

impl QuoteStyle {
    pub fn quote(self, name: &str) -> String {
        let mut quoted = String::with_capacity(name.len() + 2);
        let _ = self.write_quoted(&mut quoted, name);
        quoted
    }

    /// Writes `name` quoted, with the quote character escaped inside it.
    pub fn write_quoted(self, out: &mut impl fmt::Write, name: &str) -> fmt::Result {
        let (quote, escaped) = match self {
            QuoteStyle::Double => ('"', "\"\""),
            QuoteStyle::Backtick => ('`', "\\`"),
            QuoteStyle::Bare => return out.write_str(name),
        };
        out.write_char(quote)?;
        for (i, piece) in name.split(quote).enumerate() {
            if i > 0 {
                out.write_str(escaped)?;
            }
            out.write_str(piece)?;
        }
        out.write_char(quote)
    }
}

impl Relation {
    pub fn new(database: Option<String>, schema: impl Into<String>, identifier: impl Into<String>, quote: QuoteStyle) -> Relation {
        Relation { database, schema: Some(schema.into()), identifier: identifier.into(), quote }
    }

    /// The name of the CTE an ephemeral model is inlined as (dbt's spelling).
    pub fn ephemeral(model: &str) -> Relation {
        Relation { database: None, schema: None, identifier: format!("__dbt__cte__{model}"), quote: QuoteStyle::Bare }
    }

    /// `schema.identifier`, unquoted, for messages.
    pub fn display_name(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.identifier),
            None => self.identifier.clone(),
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [self.database.as_deref(), self.schema.as_deref(), Some(self.identifier.as_str())];
        let mut first = true;
        for part in parts.into_iter().flatten() {
            if !first {
                f.write_str(".")?;
            }
            first = false;
            self.quote.write_quoted(f, part)?;
        }
        Ok(())
    }
}

/// What a relation is in the warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    Table,
    View,
}
