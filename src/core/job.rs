//! A statement sent to a warehouse, with the options a warehouse that bills by
//! the job needs (labels, a byte limit, a timeout), and what comes
//! back from it: rows, and where the warehouse reports them, the job's id,
//! bytes processed and billed, and slot time.

use std::time::Duration;

use serde_json::{Value as Json, json};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Job {
    pub sql: String,
    /// Several statements separated by `;` (a hook), sent as one script.
    pub script: bool,
    pub labels: Vec<(String, String)>,
    /// Fail instead of billing more than this many bytes.
    pub maximum_bytes_billed: Option<u64>,
    pub timeout: Option<Duration>,
}

impl Job {
    pub fn new(sql: impl Into<String>) -> Job {
        Job { sql: sql.into(), ..Job::default() }
    }

    pub fn script(sql: impl Into<String>) -> Job {
        Job { sql: sql.into(), script: true, ..Job::default() }
    }
}

/// What a warehouse reports of finished jobs; summed over a node's jobs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobStats {
    pub rows_affected: Option<u64>,
    /// The last job's id, where the warehouse has ids.
    pub job_id: Option<String>,
    pub bytes_processed: Option<u64>,
    pub bytes_billed: Option<u64>,
    pub slot_ms: Option<u64>,
    /// Where the job ran, and in which project (BigQuery).
    pub location: Option<String>,
    pub project_id: Option<String>,
    /// Why a job was sent again, once per time (`a concurrent update`).
    pub retried: Vec<String>,
}

impl JobStats {
    /// `other` after `self`: byte and slot counts add up, the job id is the latest.
    pub fn add(&mut self, other: &JobStats) {
        fn sum(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
            }
        }
        self.bytes_processed = sum(self.bytes_processed, other.bytes_processed);
        self.bytes_billed = sum(self.bytes_billed, other.bytes_billed);
        self.slot_ms = sum(self.slot_ms, other.slot_ms);
        self.retried.extend(other.retried.iter().cloned());
        for (mine, theirs) in [(&mut self.job_id, &other.job_id), (&mut self.location, &other.location), (&mut self.project_id, &other.project_id)] {
            if theirs.is_some() {
                mine.clone_from(theirs);
            }
        }
    }

    /// run_results.json's `adapter_response`, in dbt-bigquery's keys where it has them.
    pub fn adapter_response(&self) -> Json {
        let mut response = serde_json::Map::new();
        let fields = [
            ("rows_affected", self.rows_affected.map(Json::from)),
            ("job_id", self.job_id.clone().map(Json::from)),
            ("bytes_processed", self.bytes_processed.map(Json::from)),
            ("bytes_billed", self.bytes_billed.map(Json::from)),
            ("slot_ms", self.slot_ms.map(Json::from)),
            ("location", self.location.clone().map(Json::from)),
            ("project_id", self.project_id.clone().map(Json::from)),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                response.insert(key.to_string(), value);
            }
        }
        if response.is_empty() { json!({}) } else { Json::Object(response) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_add_up_and_render_as_dbt_does() {
        let mut stats = JobStats { rows_affected: Some(3), ..JobStats::default() };
        assert_eq!(stats.adapter_response(), json!({"rows_affected": 3}));
        stats.add(&JobStats { job_id: Some("job_1".into()), bytes_processed: Some(10), bytes_billed: Some(0), ..JobStats::default() });
        stats.add(&JobStats { job_id: Some("job_2".into()), bytes_processed: Some(5), slot_ms: Some(7), ..JobStats::default() });
        assert_eq!(stats.adapter_response(), json!({"rows_affected": 3, "job_id": "job_2", "bytes_processed": 15, "bytes_billed": 0, "slot_ms": 7}));
        assert_eq!(JobStats::default().adapter_response(), json!({}));
    }
}
