//! A warehouse relation as templates see it: what `ref()`, `source()` and `this`
//! return. It renders as the quoted name the target's SQL dialect expects.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Kwargs, Object, Value};
use minijinja::{Error, State};

use crate::project::TargetKind;

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
    pub fn for_target(kind: TargetKind) -> QuoteStyle {
        match kind {
            TargetKind::DuckDb => QuoteStyle::Double,
            TargetKind::BigQuery => QuoteStyle::Backtick,
        }
    }

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

impl Object for Relation {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "database" | "project" => Some(Value::from(self.database.clone())),
            "schema" | "dataset" => Some(Value::from(self.schema.clone())),
            "identifier" | "name" | "table" => Some(Value::from(self.identifier.clone())),
            "is_cte" => Some(Value::from(self.quote == QuoteStyle::Bare)),
            _ => None,
        }
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            // `{{ this.include(database=false) }}` drops parts of the name, as in dbt.
            "include" => {
                let (kwargs,): (Kwargs,) = minijinja::value::from_args(args)?;
                let mut relation = (**self).clone();
                if kwargs.get::<Option<bool>>("database")? == Some(false) {
                    relation.database = None;
                }
                if kwargs.get::<Option<bool>>("schema")? == Some(false) {
                    relation.schema = None;
                }
                kwargs.assert_all_used()?;
                Ok(Value::from_object(relation))
            }
            "render" => Ok(Value::from(self.to_string())),
            _ => Err(Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// What `ref()` returns while parsing, before relation names are known: it
/// renders as a placeholder that compiling replaces, and a look inside it
/// means the model must be rendered again once names are known.
#[derive(Debug)]
pub struct PendingRelation {
    pub placeholder: String,
    /// The name if the model used dbt's default naming.
    pub guess: Relation,
}

impl Object for PendingRelation {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        crate::template::scope::mark_inexact();
        Arc::new(self.guess.clone()).get_value(key)
    }

    fn call_method(self: &Arc<Self>, state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        crate::template::scope::mark_inexact();
        Arc::new(self.guess.clone()).call_method(state, method, args)
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.placeholder)
    }
}
