//! What a command was asked to do, as plain serializable values: `cli.rs`
//! turns clap's argument structs into these, the commands take only these,
//! and `retry` reads an [`Invocation`] back from `run_results.json`.

use serde::{Deserialize, Serialize};

use crate::graph::ResourceType;
use crate::project::LoadOptions;

/// `--date`, or `--start`/`--end`, and `--timezone`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateOptions {
    pub date: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub timezone: Option<String>,
}

impl DateOptions {
    /// The dates a backfill recorded, as `--date` or `--start`/`--end`.
    pub fn of_dates(dates: &[String]) -> Option<DateOptions> {
        match (dates.first(), dates.last()) {
            (Some(first), Some(last)) if first != last => {
                Some(DateOptions { start: Some(first.clone()), end: Some(last.clone()), ..DateOptions::default() })
            }
            (_, Some(last)) => Some(DateOptions { date: Some(last.clone()), ..DateOptions::default() }),
            _ => None,
        }
    }
}

/// `--select`, `--exclude` and `--state`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub select: Vec<String>,
    pub exclude: Vec<String>,
    /// Another invocation's `target/`, which `state:` and `result:` compare with
    /// and `--defer` reads relations from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<std::path::PathBuf>,
}

/// `--defer` and `--favor-state`: read the nodes that are not built from the
/// relations `--state` recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferral {
    pub defer: bool,
    /// Read the state's relation even where this target has its own.
    pub favor_state: bool,
}

impl Deferral {
    pub fn enabled(self) -> bool {
        self.defer || self.favor_state
    }
}

/// `seed`, `run`, `test` and `build`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub project: LoadOptions,
    pub selection: Selection,
    pub dates: DateOptions,
    pub threads: Option<usize>,
    pub full_refresh: bool,
    pub fail_fast: bool,
    pub skip_checks: bool,
    /// How long to wait for another process to release the warehouse's lock.
    pub lock_timeout: std::time::Duration,
    pub no_progress: bool,
    pub quiet: bool,
    /// Check and estimate every selected model instead of building it.
    pub dry_run: bool,
    pub deferral: Deferral,
    /// Build every model from zero-row inputs, and skip data tests.
    pub empty: bool,
    /// Build only the (model, date) pairs that are missing, stale or failed.
    pub missing: bool,
}

/// `compile`.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    pub project: LoadOptions,
    pub selection: Selection,
    pub dates: DateOptions,
    /// Render on this many threads (default: all cores).
    pub threads: Option<usize>,
    pub quiet: bool,
    pub deferral: Deferral,
}

/// How `ls` prints each node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LsFormat {
    /// `project.folder.name`, as dbt prints by default.
    #[default]
    Selector,
    Name,
    Path,
    Json,
}

/// `ls`.
#[derive(Debug, Clone, Default)]
pub struct LsOptions {
    pub project: LoadOptions,
    pub selection: Selection,
    pub dates: DateOptions,
    /// Only nodes of these types; every type when empty.
    pub resource_types: Vec<ResourceType>,
    pub format: LsFormat,
}

/// How `graph` prints the DAG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphFormat {
    /// Graphviz: `strata graph | dot -Tsvg > dag.svg`
    #[default]
    Dot,
    /// A Mermaid flowchart, for Markdown that renders it
    Mermaid,
    /// `{"nodes": [...], "edges": [...]}` for scripts
    Json,
}

/// `graph`.
#[derive(Debug, Clone, Default)]
pub struct GraphOptions {
    pub project: LoadOptions,
    pub selection: Selection,
    pub dates: DateOptions,
    pub format: GraphFormat,
}

/// `export`.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub project: LoadOptions,
    /// The model (or seed, or source) to export.
    pub select: String,
    pub dates: DateOptions,
    /// The format; else the output's extension says.
    pub format: Option<crate::core::delivery::FileFormat>,
    pub output: std::path::PathBuf,
}

/// How `diff` prints what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiffFormat {
    /// Lines for the terminal
    #[default]
    Text,
    /// The Markdown summary a reviewer reads
    Markdown,
    /// `{"diff": [...]}` for scripts
    Json,
}

/// `diff`.
#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    pub project: LoadOptions,
    /// The models to compare, and `--state`, the other side unless `against` names one.
    pub selection: Selection,
    pub dates: DateOptions,
    /// Another target of the profile to compare with, instead of the state.
    pub against: Option<String>,
    /// The columns rows are matched on, instead of the model's `unique_key`.
    pub key: Vec<String>,
    /// Sample rows shown per kind of change.
    pub samples: u64,
    /// Exit 1 when anything changed.
    pub fail_on_change: bool,
    pub format: DiffFormat,
}

/// `docs generate`.
#[derive(Debug, Clone, Default)]
pub struct DocsOptions {
    pub project: LoadOptions,
    pub dates: DateOptions,
    /// Read the columns and their types from the warehouse into `catalog.json`.
    pub catalog: bool,
}

/// `show`: a model (`select`) or a templated query (`inline`).
#[derive(Debug, Clone, Default)]
pub struct ShowOptions {
    pub project: LoadOptions,
    pub dates: DateOptions,
    pub select: Option<String>,
    pub inline: Option<String>,
    pub limit: u64,
    pub json: bool,
    /// Another invocation's `target/`, for `--defer`.
    pub state: Option<std::path::PathBuf>,
    pub deferral: Deferral,
}

/// The `args` of `run_results.json`: what an invocation ran, which `retry`
/// repeats for the nodes that failed or were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    pub which: String,
    #[serde(flatten)]
    pub selection: Selection,
    /// Every execution date, in order.
    pub dates: Vec<String>,
    pub target: String,
    /// `--profile`, when it was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub vars: Option<String>,
    pub full_refresh: bool,
    pub skip_checks: bool,
    pub threads: Option<usize>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub deferral: Deferral,
    #[serde(default, skip_serializing_if = "is_default")]
    pub empty: bool,
    pub retry: bool,
    /// The nodes `--full-refresh` had not rebuilt yet when the invocation ended;
    /// absent from files written before strata recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_refresh_pending: Option<Vec<String>>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// `status`.
#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    pub project: LoadOptions,
    pub selection: Selection,
    /// One date (`--date`).
    pub date: Option<String>,
    /// The first date shown; default: 30 days before `end`.
    pub start: Option<String>,
    /// The last date shown; default: yesterday in the project's time zone.
    pub end: Option<String>,
    pub timezone: Option<String>,
    pub output: StatusOutput,
    pub lock_timeout: std::time::Duration,
}

/// How `status` prints the partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusOutput {
    /// A grid for people.
    #[default]
    Grid,
    /// JSON for scripts.
    Json,
}

/// `retry`.
#[derive(Debug, Clone, Default)]
pub struct RetryOptions {
    pub project: LoadOptions,
    /// Workers building in parallel; default: as the last invocation.
    pub threads: Option<usize>,
    pub no_progress: bool,
    pub quiet: bool,
}
