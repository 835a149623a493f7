//! How a node ended: its status in run_results.json's words, and what a run
//! reports of it.

use crate::core::job::JobStats;
use crate::core::table::Table;

/// How a node ended, in run_results.json's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Pass,
    Warn,
    Fail,
    Error,
    Skipped,
}

impl Status {
    /// Every status, in run_results.json's order of severity.
    pub const ALL: [Status; 6] = [Status::Success, Status::Pass, Status::Warn, Status::Fail, Status::Error, Status::Skipped];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Skipped => "skipped",
        }
    }

    /// How the run's summary heads a node that ended so: `failure in` test x;
    /// `None` for a node it does not list.
    pub fn heading(self) -> Option<&'static str> {
        match self {
            Status::Warn => Some("warning in"),
            Status::Fail => Some("failure in"),
            Status::Error => Some("error in"),
            Status::Success | Status::Pass | Status::Skipped => None,
        }
    }

    /// Whether descendants must be skipped.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Fail | Status::Error)
    }
}

/// How many nodes ended with each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts([usize; 6]);

impl StatusCounts {
    pub fn of(statuses: impl IntoIterator<Item = Status>) -> StatusCounts {
        let mut counts = StatusCounts::default();
        for status in statuses {
            counts.add(status);
        }
        counts
    }

    pub fn add(&mut self, status: Status) {
        self.0[status as usize] += 1;
    }

    /// The nodes that ended with any of `statuses`.
    pub fn of_any(&self, statuses: &[Status]) -> usize {
        statuses.iter().map(|&status| self.0[status as usize]).sum()
    }

    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }

    /// `{"success": 2, "pass": 1, ...}`, every status named.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        Status::ALL.iter().map(|&status| (status.as_str().to_string(), self.0[status as usize].into())).collect()
    }
}

/// What happened to one node.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    /// `created table main_marketing.x`, `not_null_x_id`, ...
    pub description: String,
    pub message: String,
    /// What the warehouse reported of the node's jobs.
    pub stats: JobStats,
    pub failures: Option<u64>,
    /// A few failing rows of a test.
    pub failing_rows: Option<Table>,
    pub compiled_path: Option<std::path::PathBuf>,
    pub seconds: f64,
    /// The worker (0-based) that ran it; none for a node that did not run.
    pub worker: Option<usize>,
    /// More of run_results.json's `adapter_response` (an exposure's Tableau jobs).
    pub response: serde_json::Map<String, serde_json::Value>,
    /// The partitions it wrote, where the warehouse records them once per
    /// phase (`SqlGenerator::log_replaces` false) rather than with each write.
    pub written: Option<crate::core::partition::WrittenPartitions>,
}

impl Outcome {
    pub fn new(status: Status, description: impl Into<String>) -> Outcome {
        Outcome {
            status,
            description: description.into(),
            message: String::new(),
            stats: JobStats::default(),
            failures: None,
            failing_rows: None,
            compiled_path: None,
            seconds: 0.0,
            worker: None,
            response: serde_json::Map::new(),
            written: None,
        }
    }

    /// `label` names the node as messages do (`model daily_utm_funnel`).
    pub fn skipped(label: impl Into<String>, reason: impl Into<String>) -> Outcome {
        let mut outcome = Outcome::new(Status::Skipped, label);
        outcome.message = reason.into();
        outcome
    }

    pub fn error(label: impl Into<String>, message: impl Into<String>) -> Outcome {
        let mut outcome = Outcome::new(Status::Error, label);
        outcome.message = message.into();
        outcome
    }
}
