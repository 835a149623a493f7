//! What each warehouse reads of its target in `profiles.yml`: the `type:`
//! that names it, the keys it takes and their checks, and the keys it warns
//! of. Each warehouse reads its own keys in its folder (`duckdb/profile.rs`,
//! `bigquery/profile.rs`) through its [`Adapter`]. This part of the
//! warehouses sits below the project layer, which reads the profile and
//! hands each target's fields here; it uses nothing but `core`.

use serde_json::{Map, Value as Json};

use crate::core::diagnostic::Diagnostic;
use crate::warehouse::fields::FieldError;
use crate::warehouse::{Adapter, BUILT_IN, adapters};

/// The warehouse a target's `type:` names: its adapter, compared by name.
#[derive(Clone, Copy)]
pub struct TargetKind(&'static dyn Adapter);

impl TargetKind {
    /// The profile `type:` (`duckdb`, `bigquery`).
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    pub fn adapter(self) -> &'static dyn Adapter {
        self.0
    }

    /// The registered warehouse whose `type:` is `name`.
    pub fn named(name: &str) -> Option<TargetKind> {
        adapters().into_iter().find(|adapter| adapter.name() == name).map(TargetKind)
    }

    /// The `type:` of target `name`; an error at its line when it is missing
    /// or names no warehouse strata has.
    pub fn of(name: &str, fields: &Map<String, Json>, error: FieldError<'_>) -> Result<TargetKind, Diagnostic> {
        let types = || BUILT_IN.iter().map(|adapter| format!("`type: {}`", adapter.name())).collect::<Vec<_>>();
        match fields.get("type").and_then(Json::as_str) {
            Some(kind) => TargetKind::named(kind)
                .ok_or_else(|| error(format!("unsupported type `{kind}`"), "type").help(format!("strata supports {}", types().join(" and ")))),
            None => Err(error("has no `type:`".into(), name).help(format!("add {}", types().join(" or ")))),
        }
    }
}

impl PartialEq for TargetKind {
    fn eq(&self, other: &TargetKind) -> bool {
        self.name() == other.name()
    }
}

impl Eq for TargetKind {}

impl std::fmt::Debug for TargetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a warehouse reads of its target beyond the keys every target has.
/// The rest of its own keys (DuckDB's `settings:`, BigQuery's `method:`) it
/// checks here and reads again from the target's fields when it opens.
#[derive(Debug, Clone, Default)]
pub struct WarehouseKeys {
    /// The schema (BigQuery: dataset) models go to by default.
    pub schema: String,
    /// DuckDB: the catalog name; BigQuery: the project.
    pub database: Option<String>,
}
