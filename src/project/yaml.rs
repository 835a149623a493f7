//! Reading YAML files with errors that point at the file, line and column.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::core::diagnostic::{Diagnostic, Location};

/// Parses `source` (the text of `file`) as `T`, or says where it is not valid.
pub fn parse<T: DeserializeOwned>(file: &Path, source: &str) -> Result<T, Diagnostic> {
    serde_norway::from_str(source).map_err(|err| yaml_error(file, source, &err))
}

pub fn yaml_error(file: &Path, source: &str, err: &serde_norway::Error) -> Diagnostic {
    let message = err.to_string();
    // serde_norway appends " at line N column M" to its message; the frame shows it instead.
    let message = match message.find(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    };
    let location = match err.location() {
        Some(location) => Location::in_source(file, source, location.line(), Some(location.column())),
        None => Location::file(file),
    };
    Diagnostic::new(format!("invalid YAML in `{}`: {message}", file.display()))
        .at(location)
        .help("fix the YAML syntax; strings holding `{{ }}` or `: ` need quotes")
}
