//! What each warehouse reads of its target in `profiles.yml`: the `type:`
//! that names it, the keys it takes and their checks, and the keys it warns
//! of. Each warehouse's keys live in its folder (`duckdb/profile.rs`,
//! `bigquery/profile.rs`) and are registered here. This part of the
//! warehouses sits below the project layer, which reads the profile and
//! hands each target's fields here; it uses nothing but `core`.

use serde_json::{Map, Value as Json};

use crate::core::diagnostic::{Diagnostic, Location};
use crate::warehouse::bigquery::profile as bigquery;
use crate::warehouse::duckdb::profile::{self as duckdb, Attachment};
use crate::warehouse::fields::FieldError;

/// The warehouse a target's `type:` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    DuckDb,
    BigQuery,
}

impl TargetKind {
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::DuckDb => "duckdb",
            TargetKind::BigQuery => "bigquery",
        }
    }

    /// The `type:` of target `name`; an error at its line when it is missing
    /// or names no warehouse strata has.
    pub fn of(name: &str, fields: &Map<String, Json>, error: FieldError<'_>) -> Result<TargetKind, Diagnostic> {
        match fields.get("type").and_then(Json::as_str) {
            Some("duckdb") => Ok(TargetKind::DuckDb),
            Some("bigquery") => Ok(TargetKind::BigQuery),
            Some(other) => Err(error(format!("unsupported type `{other}`"), "type").help("strata supports `type: duckdb` and `type: bigquery`")),
            None => Err(error("has no `type:`".into(), name).help("add `type: duckdb` or `type: bigquery`")),
        }
    }
}

/// What a warehouse reads of its target beyond the keys every target has.
#[derive(Debug, Clone, Default)]
pub struct WarehouseKeys {
    /// The schema (BigQuery: dataset) models go to by default.
    pub schema: String,
    /// DuckDB: the catalog name; BigQuery: the project.
    pub database: Option<String>,
    /// DuckDB's `settings:`, each value as text.
    pub settings: Vec<(String, String)>,
    /// DuckDB's `attach:`.
    pub attach: Vec<Attachment>,
}

/// The keys warehouse `kind` reads of its target, each checked at its line;
/// `job_labels` are checked against the warehouse's rules for labels.
pub fn read(
    kind: TargetKind,
    profile_name: &str,
    fields: &Map<String, Json>,
    job_labels: &[(String, String)],
    error: FieldError<'_>,
) -> Result<WarehouseKeys, Diagnostic> {
    match kind {
        TargetKind::DuckDb => {
            let duckdb::Keys { schema, catalog, settings, attach } = duckdb::read(profile_name, fields, error)?;
            Ok(WarehouseKeys { schema, database: Some(catalog), settings, attach })
        }
        TargetKind::BigQuery => {
            let (dataset, project) = bigquery::read(fields, job_labels, error)?;
            Ok(WarehouseKeys { schema: dataset, database: Some(project), ..WarehouseKeys::default() })
        }
    }
}

/// A warning for each key of a target that its warehouse does not use;
/// `locate` finds a key in the profile.
pub fn unused_keys(kind: TargetKind, fields: &Map<String, Json>, locate: &dyn Fn(&str) -> Location) -> Vec<Diagnostic> {
    match kind {
        TargetKind::DuckDb => Vec::new(),
        TargetKind::BigQuery => bigquery::unused_keys(fields, locate),
    }
}
