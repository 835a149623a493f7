//! What a warehouse accepts of a model's config, so `compile` checks a model
//! for the warehouse it will be built in without naming that warehouse: each
//! SQL generator hands out its rules, and the config parser asks them.

/// One warehouse's rules for model configs.
#[derive(Debug)]
pub struct ConfigRules {
    /// The warehouse's name, as messages say it (`BigQuery`).
    pub warehouse: &'static str,
    /// The `incremental_strategy` values it runs.
    pub strategies: &'static [&'static str],
    /// What to write instead of a strategy it does not run.
    pub strategies_help: &'static str,
    /// The most `cluster_by` columns a table may have.
    pub max_cluster_by: Option<usize>,
    /// Why a label (key and value) is refused, if it is.
    pub check_label: fn(&str, &str) -> Result<(), String>,
    /// Whether a microbatch model must name its `partition_by`: where a
    /// table's partitioning and its filters must be of the event time's own
    /// type (BigQuery: a DATE or DATETIME column is not a TIMESTAMP).
    pub microbatch_needs_partition_by: bool,
}

/// A warehouse without rules for labels.
pub fn any_label(_key: &str, _value: &str) -> Result<(), String> {
    Ok(())
}
