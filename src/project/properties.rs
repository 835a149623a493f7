//! Properties files (`*.yml` under the model paths): `models:`, `seeds:`,
//! `snapshots:`, `sources:`, `exposures:` and `unit_tests:`. Sections strata does not use (semantic models,
//! metrics, saved queries, ...) are skipped without being read further.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::project::config::ConfigMap;

/// One properties file, as written.
#[derive(Debug, Default, Deserialize)]
pub struct PropertiesFile {
    #[serde(default)]
    pub models: Vec<ModelProperties>,
    #[serde(default)]
    pub seeds: Vec<ModelProperties>,
    #[serde(default)]
    pub sources: Vec<SourceProperties>,
    #[serde(default)]
    pub exposures: Vec<ExposureProperties>,
    #[serde(default)]
    pub snapshots: Vec<ModelProperties>,
    #[serde(default)]
    pub unit_tests: Vec<UnitTestProperties>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ModelProperties {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub config: ConfigMap,
    #[serde(default)]
    pub columns: Vec<ColumnProperties>,
    #[serde(default, alias = "data_tests")]
    pub tests: Vec<Json>,
    /// A snapshot defined in YAML: what it snapshots (`ref('orders')`).
    #[serde(default)]
    pub relation: Option<String>,
    /// The file this came from, filled in after parsing.
    #[serde(skip)]
    pub file: PathBuf,
    /// The project or package whose file this is, filled in after parsing.
    #[serde(skip)]
    pub package: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ColumnProperties {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub data_type: Option<String>,
    #[serde(default, alias = "data_tests")]
    pub tests: Vec<Json>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SourceProperties {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, alias = "project")]
    pub database: Option<String>,
    #[serde(default, alias = "dataset")]
    pub schema: Option<String>,
    #[serde(default)]
    pub loaded_at_field: Option<String>,
    #[serde(default)]
    pub freshness: Option<Json>,
    #[serde(default)]
    pub config: ConfigMap,
    #[serde(default)]
    pub tables: Vec<SourceTableProperties>,
    #[serde(skip)]
    pub file: PathBuf,
    #[serde(skip)]
    pub package: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SourceTableProperties {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(default)]
    pub loaded_at_field: Option<String>,
    #[serde(default)]
    pub freshness: Option<Json>,
    #[serde(default)]
    pub wait_for: Option<Json>,
    #[serde(default)]
    pub config: ConfigMap,
    #[serde(default)]
    pub columns: Vec<ColumnProperties>,
    #[serde(default, alias = "data_tests")]
    pub tests: Vec<Json>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExposureProperties {
    pub name: String,
    #[serde(default, rename = "type")]
    pub exposure_type: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owner: Option<Json>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub config: ConfigMap,
    /// Every other key (`url`, `maturity`, `tableau:`, ...), kept for later use.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Json>,
    #[serde(skip)]
    pub file: PathBuf,
    #[serde(skip)]
    pub package: String,
}

/// A unit test (dbt 1.8): the model, the rows it is given in place of its
/// inputs, and the rows it must return.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnitTestProperties {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub model: String,
    #[serde(default)]
    pub given: Vec<UnitTestInput>,
    #[serde(default)]
    pub expect: UnitTestRows,
    #[serde(default)]
    pub overrides: UnitTestOverrides,
    #[serde(default)]
    pub config: ConfigMap,
    #[serde(skip)]
    pub file: PathBuf,
    #[serde(skip)]
    pub package: String,
}

/// One input of a unit test: `ref('orders')`, `source('shop', 'orders')` or `this`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnitTestInput {
    pub input: String,
    #[serde(flatten)]
    pub rows: UnitTestRows,
}

/// Rows as a unit test writes them: `dict` (a list of mappings, the
/// default), `csv` (text with a header), or `sql` (a select).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnitTestRows {
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub rows: Option<Json>,
    /// A file under `tests/fixtures/` holding the rows, by name.
    #[serde(default)]
    pub fixture: Option<String>,
}

/// What a unit test changes for its model: `vars`, `env_vars`, and macros
/// (`is_incremental`) replaced by values.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnitTestOverrides {
    #[serde(default)]
    pub vars: serde_json::Map<String, Json>,
    #[serde(default)]
    pub env_vars: serde_json::Map<String, Json>,
    #[serde(default)]
    pub macros: serde_json::Map<String, Json>,
}
