//! How a model is partitioned by date, and which partitions a run rewrites.

use crate::core::dates::ExecutionDate;

/// How a model is partitioned: `partition_by={'field': 'event_date', 'data_type': 'date'}`
/// (or just `partition_by='event_date'`), with `lookback` days rewritten too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub field: String,
    pub data_type: PartitionType,
    pub lookback: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionType {
    Date,
    /// Partitioned by the day of a timestamp.
    Timestamp,
}

impl Partition {
    /// The partition a node's config declares, if any, or why it is not valid.
    pub fn of(config: &serde_json::Map<String, serde_json::Value>) -> Option<Result<Partition, String>> {
        use serde_json::Value as Json;
        let lookback = match config.get("lookback") {
            None | Some(Json::Null) => 0,
            Some(value) => match value.as_u64() {
                Some(days) => days as u32,
                None => return Some(Err(format!("`lookback` must be a number of days, not `{value}`"))),
            },
        };
        let (field, data_type) = match config.get("partition_by")? {
            Json::Null => return None,
            Json::String(field) => (field.clone(), "date".to_string()),
            Json::Object(spec) => {
                let Some(field) = spec.get("field").and_then(Json::as_str) else {
                    return Some(Err("`partition_by` needs a `field`".into()));
                };
                let data_type = spec.get("data_type").and_then(Json::as_str).unwrap_or("date").to_ascii_lowercase();
                (field.to_string(), data_type)
            }
            other => return Some(Err(format!("`partition_by` must be a column name or `{{field: ..., data_type: ...}}`, not `{other}`"))),
        };
        let data_type = match data_type.as_str() {
            "date" => PartitionType::Date,
            "timestamp" | "datetime" => PartitionType::Timestamp,
            other => return Some(Err(format!("`partition_by` data_type `{other}` is not supported; use `date` or `timestamp`"))),
        };
        Some(Ok(Partition { field, data_type, lookback }))
    }

    /// The partitions a run for `date` rewrites.
    pub fn range(&self, date: ExecutionDate) -> (ExecutionDate, ExecutionDate) {
        (date.add_days(-i64::from(self.lookback)), date)
    }
}
