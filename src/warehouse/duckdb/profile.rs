//! What a DuckDB target reads in `profiles.yml` (dbt-duckdb's keys): `path`,
//! `schema`, `database` (which must be the file's own name), `settings:` and
//! `attach:`.

use std::path::Path;

use serde_json::{Map, Value as Json};

use crate::core::diagnostic::Diagnostic;
use crate::warehouse::fields::{FieldError, text_field};

/// One entry of a DuckDB target's `attach:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// As written: relative to the project, `:memory:`, or any path DuckDB takes.
    pub path: String,
    /// The catalog name relations use; DuckDB's own name for the file when absent.
    pub alias: Option<String>,
    pub read_only: bool,
    /// The storage type (`sqlite`, `postgres`, ...) where it is not a DuckDB file.
    pub kind: Option<String>,
}

/// What a DuckDB target reads.
pub struct Keys {
    pub schema: String,
    /// The name DuckDB gives the database file, which relations are rendered in.
    pub catalog: String,
    pub settings: Vec<(String, String)>,
    pub attach: Vec<Attachment>,
}

/// The keys a DuckDB target reads, in the order they are checked.
pub fn read(profile_name: &str, fields: &Map<String, Json>, error: FieldError<'_>) -> Result<Keys, Diagnostic> {
    let settings = settings(fields, error)?;
    let attach = attachments(fields, error)?;
    let (schema, catalog) = schema_and_catalog(profile_name, fields, error)?;
    Ok(Keys { schema, catalog, settings, attach })
}

/// A DuckDB target's `settings:`, each value as text.
fn settings(fields: &Map<String, Json>, error: FieldError<'_>) -> Result<Vec<(String, String)>, Diagnostic> {
    Ok(match fields.get("settings") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Object(settings)) => {
            let mut pairs = Vec::with_capacity(settings.len());
            for (key, value) in settings {
                let text = match value {
                    Json::String(text) => text.clone(),
                    Json::Number(_) | Json::Bool(_) => value.to_string(),
                    _ => {
                        return Err(error(format!("the value of `settings.{key}` must be a string, number or boolean, not `{value}`"), key)
                            .help("write DuckDB settings as `name: value`, e.g. `memory_limit: 2GB`"));
                    }
                };
                pairs.push((key.clone(), text));
            }
            pairs
        }
        Some(other) => {
            return Err(error(format!("`settings` must be a mapping of DuckDB settings, not `{other}`"), "settings")
                .help("write DuckDB settings as `name: value`, e.g. `memory_limit: 2GB`"));
        }
    })
}

/// A DuckDB target's `attach:` entries, each checked at its line.
fn attachments(fields: &Map<String, Json>, error: FieldError<'_>) -> Result<Vec<Attachment>, Diagnostic> {
    Ok(match fields.get("attach") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(entries)) => {
            let help = "write each entry as `- path: other.duckdb` with `alias:`, `read_only:` and `type:` where needed";
            let mut attach = Vec::with_capacity(entries.len());
            for entry in entries {
                let Some(entry) = entry.as_object() else {
                    return Err(error(format!("each `attach:` entry must be a mapping, not `{entry}`"), "attach").help(help));
                };
                let text = |key: &str| match entry.get(key) {
                    None | Some(Json::Null) => Ok(None),
                    Some(Json::String(text)) if !text.is_empty() => Ok(Some(text.clone())),
                    Some(other) => Err(error(format!("`attach:` `{key}` must be a name, not `{other}`"), "attach").help(help)),
                };
                if let Some(key) = entry.keys().find(|key| !["path", "alias", "read_only", "type"].contains(&key.as_str())) {
                    return Err(error(format!("`attach:` entries take `path`, `alias`, `read_only` and `type`, not `{key}`"), key).help(help));
                }
                let Some(path) = text("path")? else {
                    return Err(error("an `attach:` entry needs `path:`".into(), "attach").help(help));
                };
                let read_only = match entry.get("read_only") {
                    None | Some(Json::Null) => false,
                    Some(Json::Bool(read_only)) => *read_only,
                    Some(other) => return Err(error(format!("`attach:` `read_only` must be true or false, not `{other}`"), "read_only")),
                };
                attach.push(Attachment { path, alias: text("alias")?, read_only, kind: text("type")? });
            }
            attach
        }
        Some(other) => {
            return Err(error(format!("`attach` must be a list of database files, not `{other}`"), "attach")
                .help("write `attach:` as a list: `- path: target/prod.duckdb`"));
        }
    })
}

/// The catalog name DuckDB gives the database at `path`: `memory` in memory,
/// else the file's name up to its first dot (`dev` for `target/dev.duckdb`).
pub fn duckdb_catalog(path: &str) -> String {
    if path == ":memory:" || path.is_empty() {
        return "memory".into();
    }
    let name = Path::new(path).file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    name.split('.').next().unwrap_or_default().to_string()
}

/// A DuckDB target's schema (`main` unless set) and catalog: the name DuckDB
/// gives its file, which a `database:` must repeat.
fn schema_and_catalog(profile_name: &str, fields: &Map<String, Json>, error: FieldError<'_>) -> Result<(String, String), Diagnostic> {
    let schema = text_field(fields, "schema").unwrap_or_else(|| "main".into());
    // The catalog DuckDB names the file by, which every relation is rendered in, as dbt-duckdb does.
    let catalog = match text_field(fields, "path") {
        Some(path) => duckdb_catalog(&path),
        None => profile_name.to_string(),
    };
    if let Some(database) = text_field(fields, "database").filter(|database| *database != catalog) {
        return Err(error(format!("`database: {database}` is not the name DuckDB gives this target's file, `{catalog}`"), "database")
            .help(format!("remove `database:`, or set it to `{catalog}` (the file's name up to its first dot; `memory` for `:memory:`)")));
    }
    Ok((schema, catalog))
}
