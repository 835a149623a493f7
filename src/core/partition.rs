//! How a model is partitioned by date, and which partitions a run rewrites.

use crate::core::dates::ExecutionDate;

/// How a model is partitioned: `partition_by={'field': 'event_date', 'data_type': 'date'}`
/// (or just `partition_by='event_date'`), with `lookback` days rewritten too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub field: String,
    pub data_type: PartitionType,
    pub lookback: u32,
    /// How finely BigQuery partitions the table's storage (`granularity`); strata
    /// still replaces the rows of whole days.
    pub granularity: Granularity,
    /// dbt-bigquery's `copy_partitions`: a partition is replaced by a copy
    /// job from the staged rows, which bills no bytes, instead of DML.
    pub copy_partitions: bool,
}

/// `partition_by`'s `granularity`, as dbt-bigquery takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Granularity {
    Hour,
    #[default]
    Day,
    Month,
    Year,
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Month => "month",
            Granularity::Year => "year",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionType {
    Date,
    /// Partitioned by the day of a timestamp (UTC on BigQuery).
    Timestamp,
    /// Partitioned by the day of a civil date and time (BigQuery's DATETIME).
    Datetime,
}

impl PartitionType {
    /// The type's name in SQL, as a literal's prefix: `date '2026-11-20'`.
    pub fn as_str(self) -> &'static str {
        match self {
            PartitionType::Date => "date",
            PartitionType::Timestamp => "timestamp",
            PartitionType::Datetime => "datetime",
        }
    }
}

/// The date partitions a node wrote, for strata's partition log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenPartitions {
    pub relation: crate::core::relation::Relation,
    pub partition: Partition,
    pub first: ExecutionDate,
    pub last: ExecutionDate,
    /// The rows written, where the job's statistics say them for one date.
    pub rows: Option<u64>,
    /// The checksum of the SQL it was written with.
    pub checksum: Option<String>,
}

/// Why a `partition_by` or `lookback` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    #[error("`lookback` must be a number of days, not `{0}`")]
    Lookback(String),
    #[error("`partition_by` needs a `field`")]
    NoField,
    #[error("`partition_by` must be a column name or `{{field: ..., data_type: ...}}`, not `{0}`")]
    Shape(String),
    #[error("`partition_by` data_type `{0}` is not supported; use `date`, `timestamp` or `datetime`")]
    DataType(String),
    #[error("`partition_by` granularity `{0}` is not supported; use `day`, `month` or `year` (or `hour` for a timestamp or datetime)")]
    Granularity(String),
    #[error("`partition_by` granularity `hour` needs a `timestamp` or `datetime` column; a `date` is partitioned by `day`, `month` or `year`")]
    HourOfDate,
}

impl Partition {
    /// The partition a node's config declares, if any, or why it is not valid.
    pub fn of(config: &serde_json::Map<String, serde_json::Value>) -> Option<Result<Partition, PartitionError>> {
        use serde_json::Value as Json;
        let lookback = match config.get("lookback") {
            None | Some(Json::Null) => 0,
            Some(value) => match value.as_u64().and_then(|days| u32::try_from(days).ok()) {
                Some(days) => days,
                None => return Some(Err(PartitionError::Lookback(value.to_string()))),
            },
        };
        let (field, data_type, granularity, copy_partitions) = match config.get("partition_by")? {
            Json::Null => return None,
            Json::String(field) => (field.clone(), "date".to_string(), "day".to_string(), false),
            Json::Object(spec) => {
                let Some(field) = spec.get("field").and_then(Json::as_str) else {
                    return Some(Err(PartitionError::NoField));
                };
                let text = |key: &str, default: &str| spec.get(key).and_then(Json::as_str).unwrap_or(default).to_ascii_lowercase();
                let copy = spec.get("copy_partitions").and_then(Json::as_bool).unwrap_or(false);
                (field.to_string(), text("data_type", "date"), text("granularity", "day"), copy)
            }
            other => return Some(Err(PartitionError::Shape(other.to_string()))),
        };
        let data_type = match data_type.as_str() {
            "date" => PartitionType::Date,
            "timestamp" => PartitionType::Timestamp,
            "datetime" => PartitionType::Datetime,
            other => return Some(Err(PartitionError::DataType(other.to_string()))),
        };
        let granularity = match (granularity.as_str(), data_type) {
            ("hour", PartitionType::Date) => return Some(Err(PartitionError::HourOfDate)),
            ("hour", _) => Granularity::Hour,
            ("day", _) => Granularity::Day,
            ("month", _) => Granularity::Month,
            ("year", _) => Granularity::Year,
            (other, _) => return Some(Err(PartitionError::Granularity(other.to_string()))),
        };
        Some(Ok(Partition { field, data_type, lookback, granularity, copy_partitions }))
    }

    /// The partitions a run for `date` rewrites.
    pub fn range(&self, date: ExecutionDate) -> (ExecutionDate, ExecutionDate) {
        (date.add_days(-i64::from(self.lookback)), date)
    }
}
