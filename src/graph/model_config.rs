//! A model's merged config, read once at parse into types: a wrong value is an
//! error at `compile`, at the line where it was written, not a failure when the
//! node runs. Keys strata does not read stay in the raw map for `config.get`.

use serde_json::Value as Json;

use crate::core::columns::OnSchemaChange;
use crate::core::config_rules::ConfigRules;
use crate::core::partition::{Granularity, Partition, PartitionError, PartitionType};
use crate::core::snapshot::{CheckColumns, HardDeletes, MetaColumns, Snapshot, Strategy};
use crate::project::config::{self, ConfigMap, LabelsError};

/// How a model is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Materialized {
    #[default]
    View,
    Table,
    Incremental,
    Ephemeral,
    /// A snapshot's table of versions (snapshots only).
    Snapshot,
}

impl Materialized {
    pub const NAMES: [&'static str; 4] = ["view", "table", "incremental", "ephemeral"];

    pub fn parse(name: &str) -> Option<Materialized> {
        match name {
            "view" => Some(Materialized::View),
            "table" => Some(Materialized::Table),
            "incremental" => Some(Materialized::Incremental),
            "ephemeral" => Some(Materialized::Ephemeral),
            "snapshot" => Some(Materialized::Snapshot),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Materialized::View => "view",
            Materialized::Table => "table",
            Materialized::Incremental => "incremental",
            Materialized::Ephemeral => "ephemeral",
            Materialized::Snapshot => "snapshot",
        }
    }
}

/// What strata reads of a model's config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelConfig {
    pub materialized: Materialized,
    /// `partition_by` with `lookback`: the model replaces the execution date's partitions.
    pub partition: Option<Partition>,
    /// `unique_key`, one column or several: delete+insert of the matching rows.
    pub unique_key: Vec<String>,
    pub pre_hook: Vec<String>,
    pub post_hook: Vec<String>,
    /// BigQuery's clustering columns.
    pub cluster_by: Vec<String>,
    /// BigQuery's table labels.
    pub labels: Vec<(String, String)>,
    /// BigQuery: `require_partition_filter` and `partition_expiration_days`.
    pub require_partition_filter: bool,
    pub partition_expiration_days: Option<u32>,
    /// How an incremental run matches the model's columns to its table's.
    pub on_schema_change: OnSchemaChange,
    /// A snapshot's strategy, key and columns.
    pub snapshot: Option<Snapshot>,
    /// A microbatch model's `begin`: its first build covers the days from it.
    pub begin: Option<crate::core::dates::ExecutionDate>,
}

/// A config value strata cannot use: which key, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: &'static str,
    pub message: String,
    pub help: Option<String>,
}

impl ConfigError {
    fn new(key: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError { key, message: message.into(), help: None }
    }

    fn help(self, help: impl Into<String>) -> ConfigError {
        ConfigError { help: Some(help.into()), ..self }
    }
}

impl ModelConfig {
    /// `rules` are those of the warehouse the model is built in: which
    /// strategies it runs, how many clustering columns and which labels it takes.
    pub fn parse(config: &ConfigMap, rules: &ConfigRules) -> Result<ModelConfig, ConfigError> {
        let materialized = materialized(config)?;
        let partition = partition(config)?;
        let unique_key = columns(config, "unique_key")?;
        let cluster_by = columns(config, "cluster_by")?;
        let labels = labels(config)?;
        if let Some(max) = rules.max_cluster_by.filter(|&max| cluster_by.len() > max) {
            return Err(ConfigError::new(
                "cluster_by",
                format!("`cluster_by` names {} columns; {} clusters a table by at most {max}", cluster_by.len(), rules.warehouse),
            ));
        }
        if let Some(message) = labels.iter().find_map(|(key, value)| (rules.check_label)(key, value).err()) {
            return Err(ConfigError::new("labels", message));
        }
        check_strategy(config, partition.is_some(), !unique_key.is_empty(), rules)?;
        let (partition, begin) = match config.get("incremental_strategy").and_then(Json::as_str) {
            Some("microbatch") => {
                let (partition, begin) = microbatch(config, partition, rules)?;
                (Some(partition), begin)
            }
            _ => (partition, None),
        };
        check_tags(config)?;
        let require_partition_filter = require_partition_filter(config)?;
        let partition_expiration_days = partition_expiration_days(config)?;
        let on_schema_change = on_schema_change(config)?;
        let snapshot = match materialized {
            Materialized::Snapshot => Some(snapshot(config, unique_key.clone())?),
            _ => None,
        };
        Ok(ModelConfig {
            begin,
            snapshot,
            on_schema_change,
            require_partition_filter,
            partition_expiration_days,
            materialized,
            partition,
            unique_key,
            pre_hook: hooks(config, "pre_hook"),
            post_hook: hooks(config, "post_hook"),
            cluster_by,
            labels,
        })
    }
}

/// `materialized`: a view unless set.
fn materialized(config: &ConfigMap) -> Result<Materialized, ConfigError> {
    Ok(match config.get("materialized") {
        None | Some(Json::Null) => Materialized::View,
        Some(Json::String(name)) => Materialized::parse(name).ok_or_else(|| {
            ConfigError::new("materialized", format!("unknown materialization `{name}`")).help(
                match crate::core::diagnostic::did_you_mean(name, Materialized::NAMES.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`? strata builds `view`, `table`, `incremental` and `ephemeral` models"),
                    None => "strata builds `view`, `table`, `incremental` and `ephemeral` models".to_string(),
                },
            )
        })?,
        Some(other) => return Err(ConfigError::new("materialized", format!("`materialized` must be a name such as `table`, not `{other}`"))),
    })
}

/// `partition_by` with its `lookback`, if set.
fn partition(config: &ConfigMap) -> Result<Option<Partition>, ConfigError> {
    match Partition::of(config) {
        None => Ok(None),
        // A copy replaces whole partitions: a run for one date must own its partition.
        Some(Ok(partition)) if partition.copy_partitions && partition.granularity != Granularity::Day => Err(ConfigError::new(
            "partition_by",
            format!(
                "`copy_partitions` replaces whole partitions: with `granularity: {}` a run for one date would replace the other dates of its partition",
                partition.granularity.as_str()
            ),
        )
        .help("use `granularity: day` with `copy_partitions`, or leave `copy_partitions` out")),
        Some(Ok(partition)) => Ok(Some(partition)),
        Some(Err(error @ PartitionError::Lookback(_))) => Err(ConfigError::new("lookback", error.to_string())),
        Some(Err(error)) => Err(ConfigError::new("partition_by", error.to_string())
            .help("write it as `partition_by={'field': 'event_date', 'data_type': 'date'}` (or `timestamp`, and `granularity`)")),
    }
}

/// BigQuery's table `labels`, names and values as text.
fn labels(config: &ConfigMap) -> Result<Vec<(String, String)>, ConfigError> {
    match config.get("labels").map(config::labels) {
        None => Ok(Vec::new()),
        Some(Ok(labels)) => Ok(labels),
        Some(Err(LabelsError::NotText { .. })) => Err(ConfigError::new("labels", "`labels` values must be text")),
        Some(Err(LabelsError::NotMapping(other))) => {
            Err(ConfigError::new("labels", format!("`labels` must be a mapping of names to text, not `{other}`")))
        }
    }
}

/// `tags`, where set, are a name or a list of names.
fn check_tags(config: &ConfigMap) -> Result<(), ConfigError> {
    match config.get("tags") {
        None | Some(Json::Null | Json::String(_)) => Ok(()),
        Some(Json::Array(tags)) if tags.iter().all(Json::is_string) => Ok(()),
        Some(other) => Err(ConfigError::new("tags", format!("`tags` must be a name or a list of names, not `{other}`"))),
    }
}

/// `require_partition_filter`: false unless set.
fn require_partition_filter(config: &ConfigMap) -> Result<bool, ConfigError> {
    match config.get("require_partition_filter") {
        None | Some(Json::Null) => Ok(false),
        Some(Json::Bool(required)) => Ok(*required),
        Some(other) => Err(ConfigError::new("require_partition_filter", format!("`require_partition_filter` must be true or false, not `{other}`"))),
    }
}

/// `partition_expiration_days`, a positive number, if set.
fn partition_expiration_days(config: &ConfigMap) -> Result<Option<u32>, ConfigError> {
    match config.get("partition_expiration_days") {
        None | Some(Json::Null) => Ok(None),
        Some(value) => match value.as_u64().and_then(|days| u32::try_from(days).ok()).filter(|days| *days > 0) {
            Some(days) => Ok(Some(days)),
            None => Err(ConfigError::new(
                "partition_expiration_days",
                format!("`partition_expiration_days` must be a positive number of days, not `{value}`"),
            )),
        },
    }
}

/// `on_schema_change`: `ignore` unless set.
fn on_schema_change(config: &ConfigMap) -> Result<OnSchemaChange, ConfigError> {
    match config.get("on_schema_change") {
        None | Some(Json::Null) => Ok(OnSchemaChange::default()),
        Some(Json::String(name)) => OnSchemaChange::parse(name).ok_or_else(|| {
            ConfigError::new("on_schema_change", format!("unknown `on_schema_change` value `{name}`")).help(
                match crate::core::diagnostic::did_you_mean(name, OnSchemaChange::NAMES) {
                    Some(close) => {
                        format!("did you mean `{close}`? the values are `ignore`, `fail`, `append_new_columns` and `sync_all_columns`")
                    }
                    None => "the values are `ignore`, `fail`, `append_new_columns` and `sync_all_columns`".to_string(),
                },
            )
        }),
        Some(other) => {
            Err(ConfigError::new("on_schema_change", format!("`on_schema_change` must be a name such as `append_new_columns`, not `{other}`")))
        }
    }
}

/// An `incremental_strategy`, where one is written, must be the one strata
/// runs for the model's config: `insert_overwrite` with `partition_by`,
/// `delete+insert` or `merge` with `unique_key`, `append` otherwise.
fn check_strategy(config: &ConfigMap, partitioned: bool, keyed: bool, rules: &ConfigRules) -> Result<(), ConfigError> {
    const STRATEGIES: [&str; 5] = ["append", "delete+insert", "merge", "insert_overwrite", "microbatch"];
    let strategy = match config.get("incremental_strategy") {
        None | Some(Json::Null) => return Ok(()),
        Some(Json::String(strategy)) => strategy.as_str(),
        Some(other) => {
            return Err(ConfigError::new("incremental_strategy", format!("`incremental_strategy` must be a name such as `append`, not `{other}`")));
        }
    };
    if STRATEGIES.contains(&strategy) && !rules.strategies.contains(&strategy) {
        return Err(ConfigError::new("incremental_strategy", format!("`incremental_strategy: {strategy}` is not available on {}", rules.warehouse))
            .help(rules.strategies_help));
    }
    let needs = match strategy {
        "insert_overwrite" if !partitioned => "`partition_by`",
        "delete+insert" | "merge" if !keyed => "a `unique_key`",
        "append" if partitioned || keyed => "neither `partition_by` nor `unique_key` (strata replaces partitions or merges by key when they are set)",
        // Its own keys are checked by `microbatch`.
        "insert_overwrite" | "delete+insert" | "merge" | "append" | "microbatch" => return Ok(()),
        unknown => {
            return Err(ConfigError::new("incremental_strategy", format!("unknown incremental strategy `{unknown}`")).help(
                match crate::core::diagnostic::did_you_mean(unknown, STRATEGIES) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => "use `append`, `delete+insert`, `merge`, `insert_overwrite` or `microbatch`".to_string(),
                },
            ));
        }
    };
    Err(ConfigError::new("incremental_strategy", format!("`incremental_strategy: {strategy}` needs {needs}")))
}

/// A config that names one column or a list of them (`unique_key`, `cluster_by`).
fn columns(config: &ConfigMap, key: &'static str) -> Result<Vec<String>, ConfigError> {
    let refused = |value: &Json| ConfigError::new(key, format!("`{key}` must be a column name or a list of them, not `{value}`"));
    match config.get(key) {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::String(column)) => Ok(vec![column.clone()]),
        Some(value @ Json::Array(items)) => {
            items.iter().map(|item| item.as_str().map(str::to_string)).collect::<Option<Vec<String>>>().ok_or_else(|| refused(value))
        }
        Some(other) => Err(refused(other)),
    }
}

/// dbt's microbatch model as strata runs it: one batch per execution date,
/// the rows of its `event_time` day replaced (the partition, with
/// `partition_by` when it is given), its inputs' rows filtered to the batch.
/// `lookback` is in batches (days), 1 unless set, as in dbt.
/// On BigQuery, as dbt-bigquery, `partition_by` is required (its table is
/// partitioned and filtered by the column's own type), with the batch's
/// granularity.
fn microbatch(
    config: &ConfigMap,
    declared: Option<Partition>,
    rules: &ConfigRules,
) -> Result<(Partition, Option<crate::core::dates::ExecutionDate>), ConfigError> {
    let Some(event_time) = config.get("event_time").and_then(Json::as_str) else {
        return Err(ConfigError::new("incremental_strategy", "`incremental_strategy: microbatch` needs `event_time`")
            .help("name the column that says when each row happened, e.g. `event_time: ordered_at`"));
    };
    match config.get("batch_size").and_then(Json::as_str) {
        Some("day") => {}
        Some(other) => {
            return Err(ConfigError::new("batch_size", format!("`batch_size: {other}` is not supported"))
                .help("strata runs a microbatch model once per execution date: use `batch_size: day`"));
        }
        None => {
            return Err(
                ConfigError::new("incremental_strategy", "`incremental_strategy: microbatch` needs `batch_size`").help("add `batch_size: day`")
            );
        }
    }
    let begin = match config.get("begin").filter(|v| !v.is_null()) {
        None => None,
        Some(begin) => {
            let day: String = begin.as_str().unwrap_or_default().chars().take(10).collect();
            let parsed = crate::core::dates::ExecutionDate::parse(&day, "begin").ok();
            Some(parsed.ok_or_else(|| ConfigError::new("begin", format!("`begin` must be a date such as `2026-11-01`, not `{begin}`")))?)
        }
    };
    let lookback = match config.get("lookback") {
        None | Some(Json::Null) => 1,
        Some(value) => value
            .as_u64()
            .and_then(|batches| u32::try_from(batches).ok())
            .ok_or_else(|| ConfigError::new("lookback", format!("`lookback` must be a number of batches, not `{value}`")))?,
    };
    let partition = match declared {
        Some(partition) if partition.granularity != Granularity::Day => {
            return Err(ConfigError::new(
                "partition_by",
                format!(
                    "the `microbatch` strategy needs `partition_by` with the granularity of its `batch_size` (`day`), not `{}`",
                    partition.granularity.as_str()
                ),
            )
            .help("set `granularity: day` in `partition_by`"));
        }
        Some(partition) => Partition { lookback, ..partition },
        None if rules.microbatch_needs_partition_by => {
            return Err(ConfigError::new("incremental_strategy", format!("the `microbatch` strategy needs `partition_by` on {}", rules.warehouse))
                .help(format!(
                    "add `partition_by={{'field': '{event_time}', 'data_type': 'timestamp', 'granularity': 'day'}}`, with the column's own type (`date`, `datetime` or `timestamp`)"
                )));
        }
        None => Partition {
            field: event_time.to_string(),
            data_type: PartitionType::Timestamp,
            lookback,
            granularity: Granularity::Day,
            copy_partitions: false,
        },
    };
    Ok((partition, begin))
}

/// A snapshot's config: `strategy` with `updated_at` or `check_cols`,
/// `unique_key`, `hard_deletes` (or the older `invalidate_hard_deletes`),
/// `snapshot_meta_column_names` and `dbt_valid_to_current`, as dbt reads them.
fn snapshot(config: &ConfigMap, unique_key: Vec<String>) -> Result<Snapshot, ConfigError> {
    let text = |key: &'static str| -> Result<Option<String>, ConfigError> {
        match config.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(ConfigError::new(key, format!("`{key}` must be text, not `{other}`"))),
        }
    };
    if unique_key.is_empty() {
        return Err(ConfigError::new("config", "a snapshot needs a `unique_key`")
            .help("name the column (or columns) that identify a row, e.g. `unique_key: id`"));
    }
    let strategy = match text("strategy")?.as_deref() {
        Some("timestamp") => match text("updated_at")? {
            Some(updated_at) => Strategy::Timestamp { updated_at },
            None => {
                return Err(ConfigError::new("strategy", "the `timestamp` strategy needs `updated_at`")
                    .help("name the column that says when a row last changed, e.g. `updated_at: updated_at`"));
            }
        },
        Some("check") => {
            let columns = match config.get("check_cols") {
                Some(Json::String(all)) if all == "all" => CheckColumns::All,
                Some(Json::Array(_)) => match columns(config, "check_cols")? {
                    listed if !listed.is_empty() => CheckColumns::Listed(listed),
                    _ => return Err(ConfigError::new("check_cols", "`check_cols` lists no column")),
                },
                None | Some(Json::Null) => {
                    return Err(ConfigError::new("strategy", "the `check` strategy needs `check_cols`")
                        .help("write `check_cols: all`, or list the columns to compare"));
                }
                Some(other) => return Err(ConfigError::new("check_cols", format!("`check_cols` must be `all` or a list of columns, not `{other}`"))),
            };
            Strategy::Check { columns, updated_at: text("updated_at")? }
        }
        Some(other) => {
            return Err(ConfigError::new("strategy", format!("unknown snapshot strategy `{other}`"))
                .help("strata runs the `timestamp` and `check` strategies"));
        }
        None => {
            return Err(ConfigError::new("config", "a snapshot needs a `strategy`")
                .help("add `strategy: timestamp` with `updated_at`, or `strategy: check` with `check_cols`"));
        }
    };
    let invalidate = match config.get("invalidate_hard_deletes") {
        None | Some(Json::Null) => None,
        Some(Json::Bool(invalidate)) => Some(*invalidate),
        Some(other) => {
            return Err(ConfigError::new("invalidate_hard_deletes", format!("`invalidate_hard_deletes` must be true or false, not `{other}`")));
        }
    };
    let hard_deletes = match (text("hard_deletes")?, invalidate) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new("hard_deletes", "set `hard_deletes` or the older `invalidate_hard_deletes`, not both"));
        }
        (None, Some(true)) => HardDeletes::Invalidate,
        (None, _) => HardDeletes::Ignore,
        (Some(name), None) => HardDeletes::parse(&name).ok_or_else(|| {
            ConfigError::new("hard_deletes", format!("unknown `hard_deletes` value `{name}`"))
                .help("the values are `ignore`, `invalidate` and `new_record`")
        })?,
    };
    let mut meta = MetaColumns::default();
    match config.get("snapshot_meta_column_names") {
        None | Some(Json::Null) => {}
        Some(Json::Object(names)) => {
            for (key, value) in names {
                let slot = match key.as_str() {
                    "dbt_valid_from" => &mut meta.valid_from,
                    "dbt_valid_to" => &mut meta.valid_to,
                    "dbt_scd_id" => &mut meta.scd_id,
                    "dbt_updated_at" => &mut meta.updated_at,
                    "dbt_is_deleted" => &mut meta.is_deleted,
                    other => {
                        return Err(ConfigError::new("snapshot_meta_column_names", format!("unknown snapshot column `{other}`"))
                            .help("the keys are `dbt_valid_from`, `dbt_valid_to`, `dbt_scd_id`, `dbt_updated_at` and `dbt_is_deleted`"));
                    }
                };
                match value.as_str() {
                    Some(name) => *slot = name.to_string(),
                    None => return Err(ConfigError::new("snapshot_meta_column_names", format!("`{key}` must be a column name, not `{value}`"))),
                }
            }
        }
        Some(other) => {
            return Err(ConfigError::new("snapshot_meta_column_names", format!("`snapshot_meta_column_names` must be a mapping, not `{other}`")));
        }
    }
    Ok(Snapshot { strategy, unique_key, hard_deletes, columns: meta, valid_to_current: text("dbt_valid_to_current")? })
}

fn hooks(config: &ConfigMap, key: &str) -> Vec<String> {
    match config.get(key) {
        Some(Json::Array(items)) => items.iter().filter_map(|h| h.as_str().map(str::to_string)).collect(),
        Some(Json::String(hook)) => vec![hook.clone()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::partition::{Granularity, PartitionType};

    /// The config rules of the warehouse whose `type:` is `name`.
    fn rules(name: &str) -> &'static ConfigRules {
        crate::project::TargetKind::named(name).expect("a built-in warehouse").adapter().dialect().config_rules()
    }

    fn parse(value: Json) -> Result<ModelConfig, ConfigError> {
        ModelConfig::parse(value.as_object().expect("an object"), rules("duckdb"))
    }

    #[test]
    fn reads_every_value_once() {
        let config = parse(json!({
            "materialized": "incremental",
            "partition_by": {"field": "event_at", "data_type": "timestamp"},
            "lookback": 2,
            "unique_key": ["id", "day"],
            "pre_hook": "select 1",
            "post_hook": ["select 2", "select 3"],
        }))
        .unwrap();
        assert_eq!(config.materialized, Materialized::Incremental);
        assert_eq!(
            config.partition,
            Some(Partition {
                field: "event_at".into(),
                data_type: PartitionType::Timestamp,
                lookback: 2,
                granularity: Granularity::Day,
                copy_partitions: false
            })
        );
        assert_eq!(config.unique_key, ["id", "day"]);
        assert_eq!((config.pre_hook.len(), config.post_hook.len()), (1, 2));
        assert_eq!(parse(json!({})).unwrap().materialized, Materialized::View);
    }

    #[test]
    fn wrong_values_name_their_key() {
        let error = parse(json!({"materialized": "tabel"})).unwrap_err();
        assert_eq!((error.key, error.message.as_str()), ("materialized", "unknown materialization `tabel`"));
        assert_eq!(error.help.as_deref(), Some("did you mean `table`? strata builds `view`, `table`, `incremental` and `ephemeral` models"));
        assert_eq!(parse(json!({"materialized": "incremental", "partition_by": {"data_type": "date"}})).unwrap_err().key, "partition_by");
        assert_eq!(parse(json!({"materialized": "incremental", "partition_by": "day", "lookback": -1})).unwrap_err().key, "lookback");
        assert_eq!(parse(json!({"unique_key": [1]})).unwrap_err().key, "unique_key");
        let strategy = |config: Json| parse(config).map(|_| ()).map_err(|e| e.message);
        assert_eq!(strategy(json!({"incremental_strategy": "insert_overwrite", "partition_by": "day"})), Ok(()));
        assert_eq!(strategy(json!({"incremental_strategy": "merge", "unique_key": "id"})), Ok(()));
        assert_eq!(strategy(json!({"incremental_strategy": "append"})), Ok(()));
        assert_eq!(
            strategy(json!({"incremental_strategy": "insert_overwrite"})),
            Err("`incremental_strategy: insert_overwrite` needs `partition_by`".into())
        );
        assert_eq!(
            strategy(json!({"incremental_strategy": "delete+insert"})),
            Err("`incremental_strategy: delete+insert` needs a `unique_key`".into())
        );
        let typo = parse(json!({"incremental_strategy": "insert_overwirte"})).unwrap_err();
        assert_eq!(
            (typo.message.as_str(), typo.help.as_deref()),
            ("unknown incremental strategy `insert_overwirte`", Some("did you mean `insert_overwrite`?"))
        );
        // BigQuery's strategies are dbt-bigquery's.
        let on_bigquery =
            |config: Json| ModelConfig::parse(config.as_object().expect("an object"), rules("bigquery")).map(|_| ()).map_err(|e| e.message);
        assert_eq!(
            on_bigquery(json!({"incremental_strategy": "delete+insert", "unique_key": "id"})),
            Err("`incremental_strategy: delete+insert` is not available on BigQuery".into())
        );
        assert_eq!(on_bigquery(json!({"incremental_strategy": "append"})), Err("`incremental_strategy: append` is not available on BigQuery".into()));
        assert_eq!(on_bigquery(json!({"incremental_strategy": "merge", "unique_key": "id"})), Ok(()));
        // A microbatch table on BigQuery is partitioned by the event time's own type, which it must name.
        let batch = |partition_by: Json| json!({"incremental_strategy": "microbatch", "event_time": "day", "batch_size": "day", "partition_by": partition_by});
        assert_eq!(on_bigquery(batch(Json::Null)), Err("the `microbatch` strategy needs `partition_by` on BigQuery".into()));
        assert_eq!(on_bigquery(batch(json!({"field": "day", "data_type": "date"}))), Ok(()));
        assert_eq!(
            on_bigquery(batch(json!({"field": "day", "data_type": "date", "granularity": "month"}))),
            Err("the `microbatch` strategy needs `partition_by` with the granularity of its `batch_size` (`day`), not `month`".into())
        );
        assert_eq!(strategy(batch(Json::Null)), Ok(()));
        let copied = |granularity: &str| {
            parse(json!({"partition_by": {"field": "day", "granularity": granularity, "copy_partitions": true}})).map(|c| c.partition)
        };
        assert!(copied("day").is_ok_and(|p| p.is_some_and(|p| p.copy_partitions)));
        assert_eq!(
            copied("month").unwrap_err().message,
            "`copy_partitions` replaces whole partitions: with `granularity: month` a run for one date would replace the other dates of its partition"
        );
        assert_eq!(strategy(json!({"incremental_strategy": "delete+insert", "unique_key": "id"})), Ok(()));
        assert_eq!(parse(json!({"on_schema_change": "sync_all_columns"})).unwrap().on_schema_change, OnSchemaChange::SyncAllColumns);
        let unknown = parse(json!({"on_schema_change": "append_new_column"})).unwrap_err();
        assert_eq!((unknown.key, unknown.message.as_str()), ("on_schema_change", "unknown `on_schema_change` value `append_new_column`"));
        assert_eq!(
            unknown.help.as_deref(),
            Some("did you mean `append_new_columns`? the values are `ignore`, `fail`, `append_new_columns` and `sync_all_columns`")
        );
    }
}
