//! Node configuration: the `models:`/`seeds:` trees of `dbt_project.yml`, `config:`
//! blocks in properties files and `config()` calls in models, merged as dbt does
//! (the most specific wins; `tags` and hooks accumulate).

use serde_json::Value as Json;

use crate::core::hash::FastMap;

pub type ConfigMap = serde_json::Map<String, Json>;

/// Config names recognised without a `+` prefix in `dbt_project.yml`. Any other
/// key without `+` is a folder or model name.
pub const KNOWN_CONFIGS: &[&str] = &[
    "alias",
    "cluster_by",
    "column_types",
    "contract",
    "database",
    "delimiter",
    "docs",
    "enabled",
    "event_time",
    "batch_size",
    "begin",
    "concurrent_batches",
    "full_refresh",
    "grants",
    "incremental_strategy",
    "labels",
    "limit",
    "lookback",
    "materialized",
    "meta",
    "on_schema_change",
    "partition_by",
    "partition_expiration_days",
    "persist_docs",
    "post-hook",
    "post_hook",
    "pre-hook",
    "pre_hook",
    "quote_columns",
    "quoting",
    "require_partition_filter",
    "schema",
    "severity",
    "sql_header",
    "store_failures",
    "tableau",
    "tags",
    "test_scope",
    "unique_key",
    "warn_if",
    "error_if",
    "fail_calc",
    "where",
];

/// Configs whose value is itself a mapping, so a mapping value does not mean a folder.
const MAPPING_CONFIGS: &[&str] =
    &["column_types", "contract", "docs", "grants", "labels", "meta", "partition_by", "persist_docs", "quoting", "tableau"];

/// dbt spells hooks with a dash in YAML and an underscore in `config()`.
pub fn normalize_key(key: &str) -> String {
    key.replace('-', "_")
}

/// Merges `value` for `key` into `config`: lists of tags and hooks accumulate,
/// `meta` merges, everything else is replaced.
pub fn merge_key(config: &mut ConfigMap, key: &str, value: &Json) {
    let key = normalize_key(key);
    match key.as_str() {
        "tags" | "pre_hook" | "post_hook" => {
            let mut items = match config.remove(&key) {
                Some(existing) => as_list(&existing),
                None => Vec::new(),
            };
            for item in as_list(value) {
                if !(key == "tags" && items.contains(&item)) {
                    items.push(item);
                }
            }
            config.insert(key, Json::Array(items));
        }
        "meta" => match (config.get_mut("meta"), value) {
            (Some(Json::Object(existing)), Json::Object(new)) => {
                for (k, v) in new {
                    existing.insert(k.clone(), v.clone());
                }
            }
            _ => {
                config.insert(key, value.clone());
            }
        },
        _ => {
            config.insert(key, value.clone());
        }
    }
}

pub fn merge(config: &mut ConfigMap, other: &ConfigMap) {
    for (key, value) in other {
        merge_key(config, key, value);
    }
}

fn as_list(value: &Json) -> Vec<Json> {
    match value {
        Json::Array(items) => items.clone(),
        Json::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// Which tree of `dbt_project.yml` configures a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSection {
    Models,
    Seeds,
    Tests,
    Snapshots,
}

/// The config that the `models:` (or `seeds:`) tree gives a node whose fqn is
/// `[project, folder.., name]`.
pub fn from_tree(tree: &Json, fqn: &[String]) -> ConfigMap {
    let mut config = ConfigMap::new();
    merge_level(&mut config, tree);
    descend(&mut config, tree, fqn);
    config
}

/// `from_tree` for the many nodes of one project: each folder's levels are
/// merged once, and a node adds only the level named after it, if any.
pub struct TreeConfigs<'t> {
    folders: FastMap<&'t [String], (ConfigMap, Option<&'t Json>)>,
}

impl<'t> TreeConfigs<'t> {
    pub fn new(tree: &'t Json, project: &str, folders: impl IntoIterator<Item = &'t [String]>) -> TreeConfigs<'t> {
        let mut levels = FastMap::default();
        for path in folders {
            levels.entry(path).or_insert_with(|| {
                let mut config = ConfigMap::new();
                merge_level(&mut config, tree);
                let project_level = descend(&mut config, tree, &[project]);
                let level = project_level.and_then(|node| descend(&mut config, node, path));
                (config, level)
            });
        }
        TreeConfigs { folders: levels }
    }

    /// What `from_tree` gives `[project, folders.., name]`; `folders` must be
    /// one of those given to `new`.
    pub fn get(&self, folders: &[String], name: &str) -> ConfigMap {
        let Some((config, level)) = self.folders.get(folders) else { return ConfigMap::new() };
        let mut config = config.clone();
        if let Some(level) = level {
            descend(&mut config, level, &[name]);
        }
        config
    }
}

/// Merges the levels of `tree` along `path` into `config`, as far as the tree
/// has them; returns the last level, or `None` when the path left the tree.
fn descend<'t>(config: &mut ConfigMap, tree: &'t Json, path: &[impl AsRef<str>]) -> Option<&'t Json> {
    let mut node = tree;
    for part in path {
        match node.get(part.as_ref()) {
            Some(child @ Json::Object(_)) => {
                node = child;
                merge_level(config, node);
            }
            _ => return None,
        }
    }
    Some(node)
}

fn merge_level(config: &mut ConfigMap, node: &Json) {
    let Some(entries) = node.as_object() else { return };
    for (key, value) in entries {
        if let Some(key) = key.strip_prefix('+') {
            merge_key(config, key, value);
        } else if KNOWN_CONFIGS.contains(&key.as_str()) && (!value.is_object() || MAPPING_CONFIGS.contains(&key.as_str())) {
            merge_key(config, key, value);
        }
    }
}

/// Typed reads of the configs strata acts on.
/// Why a `labels:` mapping cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelsError {
    NotMapping(Json),
    /// A value that is not text (numbers and booleans read as text).
    NotText {
        key: String,
        value: Json,
    },
}

/// `labels:` (a model's or a target's) as name/text pairs; `null` is none.
pub fn labels(value: &Json) -> Result<Vec<(String, String)>, LabelsError> {
    match value {
        Json::Null => Ok(Vec::new()),
        Json::Object(labels) => labels
            .iter()
            .map(|(key, value)| match value {
                Json::String(text) => Ok((key.clone(), text.clone())),
                Json::Number(_) | Json::Bool(_) => Ok((key.clone(), value.to_string())),
                _ => Err(LabelsError::NotText { key: key.clone(), value: value.clone() }),
            })
            .collect(),
        other => Err(LabelsError::NotMapping(other.clone())),
    }
}

pub trait ConfigExt {
    fn str_value(&self, key: &str) -> Option<&str>;
    fn enabled(&self) -> bool;
    fn materialized(&self) -> &str;
    fn tags(&self) -> Vec<String>;
}

impl ConfigExt for ConfigMap {
    fn str_value(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Json::as_str)
    }

    fn enabled(&self) -> bool {
        !matches!(self.get("enabled"), Some(Json::Bool(false)))
    }

    fn materialized(&self) -> &str {
        self.str_value("materialized").unwrap_or("view")
    }

    fn tags(&self) -> Vec<String> {
        as_list(self.get("tags").unwrap_or(&Json::Null)).into_iter().filter_map(|tag| tag.as_str().map(str::to_string)).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tree_applies_plus_and_plain_keys_by_folder() {
        let tree = json!({
            "shop": {
                "+materialized": "view",
                "tags": "nightly",
                "marketing": {
                    "materialized": "table",
                    "+schema": "marketing",
                    "+tags": ["mkt"],
                    "partition_by": {"field": "event_date"},
                    "daily": {"+materialized": "incremental"}
                }
            }
        });
        let fqn = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        let config = from_tree(&tree, &fqn(&["shop", "marketing", "daily", "x"]));
        assert_eq!(config.materialized(), "incremental");
        assert_eq!(config.str_value("schema"), Some("marketing"));
        assert_eq!(config.tags(), ["nightly", "mkt"]);
        assert_eq!(config["partition_by"], json!({"field": "event_date"}));
        let config = from_tree(&tree, &fqn(&["shop", "other", "y"]));
        assert_eq!(config.materialized(), "view");
        assert_eq!(config.get("schema"), None);
    }

    #[test]
    fn tree_configs_give_what_from_tree_gives() {
        let tree = json!({
            "+tags": ["all"],
            "shop": {
                "+materialized": "view",
                "marketing": {"+schema": "marketing", "daily": {"+materialized": "incremental"}, "weekly": "not a level"},
                "daily": {"+tags": ["top"]}
            }
        });
        let folder_sets = [vec![], vec!["marketing".to_string()], vec!["other".to_string()], vec!["marketing".to_string(), "deep".to_string()]];
        let configs = TreeConfigs::new(&tree, "shop", folder_sets.iter().map(Vec::as_slice));
        for folders in &folder_sets {
            for name in ["daily", "weekly", "x"] {
                let mut fqn = vec!["shop".to_string()];
                fqn.extend(folders.iter().cloned());
                fqn.push(name.to_string());
                assert_eq!(configs.get(folders, name), from_tree(&tree, &fqn), "{fqn:?}");
            }
        }
        assert_eq!(configs.get(&["marketing".to_string()], "daily").materialized(), "incremental");
        assert_eq!(configs.get(&[], "daily").tags(), ["all", "top"]);
    }
}
