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

    /// Whether descendants must be skipped.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Fail | Status::Error)
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
