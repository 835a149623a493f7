//! Properties files (`*.yml` under the model paths): `models:`, `seeds:`,
//! `snapshots:`, `sources:` and `exposures:`. Sections strata does not use (semantic models,
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
