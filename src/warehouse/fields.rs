//! Reading a target's fields, for the warehouses' own keys
//! (`warehouse::profiles`): how an error names its field, and a field's text.

use serde_json::{Map, Value as Json};

use crate::core::diagnostic::Diagnostic;

/// An error about a target's field, at its line: the message and the field.
pub type FieldError<'a> = &'a dyn Fn(String, &str) -> Diagnostic;

/// A field's value as text: a string, or a number as written.
pub fn text_field(fields: &Map<String, Json>, key: &str) -> Option<String> {
    fields.get(key).and_then(|v| match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    })
}
