//! A warehouse relation as templates see it: what `ref()`, `source()` and `this`
//! return, with dbt's attributes and methods.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Kwargs, Object, Value};
use minijinja::{Error, State};

use crate::core::relation::{QuoteStyle, Relation};

/// The keys a relation enumerates as a mapping: two relations are equal, and
/// key a dict apart, by their names.
const RELATION_KEYS: &[&str] = &["database", "schema", "identifier"];

impl Object for Relation {
    /// A relation is true in `{% if relation %}`, as dbt's is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(RELATION_KEYS)
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            // dbt's relations answer `get('metadata')` with their class, which
            // packages check (`dbt_utils._is_relation`).
            "metadata" => Some(Value::from_iter([("type", crate::warehouse::relation_class(self.quote))])),
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

/// What `ref()` and `source()` return when the model reads only some of an
/// input's rows, rendered as a subquery of them: none under `--empty` (dbt's
/// spelling, so a model built from it has its columns and types and no rows,
/// and the warehouse reads nothing); a microbatch model's batch of an input
/// with an `event_time`.
#[derive(Debug)]
pub struct FilteredInput {
    pub relation: Relation,
    pub condition: String,
}

impl FilteredInput {
    /// None of the rows of `relation`.
    pub fn empty(relation: Relation) -> FilteredInput {
        FilteredInput { relation, condition: "false limit 0".to_string() }
    }

    /// The rows of `relation` whose `column` is within `[start, end)`,
    /// bounds as text literals, which both warehouses read as the column's
    /// type (a date, a timestamp or a datetime).
    pub fn batch(relation: Relation, column: &str, (start, end): (&str, &str)) -> FilteredInput {
        FilteredInput { relation, condition: format!("{column} >= '{start}' and {column} < '{end}'") }
    }
}

impl Object for FilteredInput {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(RELATION_KEYS)
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Arc::new(self.relation.clone()).get_value(key)
    }

    fn call_method(self: &Arc<Self>, state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        Arc::new(self.relation.clone()).call_method(state, method, args)
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(select * from {} where {})", self.relation, self.condition)
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
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(RELATION_KEYS)
    }

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
