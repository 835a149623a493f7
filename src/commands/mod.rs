//! The commands: each in its own file, over the shared `Session` (a loaded,
//! parsed project for the command's dates) and `Failure` (how a command ends
//! with a user-facing error).

pub mod compile;
pub mod debug;
pub mod dry_run;
pub mod export;
pub mod graph;
pub mod ls;
pub mod retry;
pub mod run;
pub mod show;

use std::collections::BTreeSet;

use crate::core::dates::ExecutionDate;
use crate::core::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::Graph;
use crate::graph::select::select_nodes;
use crate::options::{DateOptions, Selection};
use crate::parse::{self, Parsed};
use crate::project::{LoadOptions, Project};
use crate::template::Templates;

/// Why a command stopped: everything here exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("could not write output: {0}")]
    Output(#[from] std::io::Error),
}

impl From<Diagnostics> for Failure {
    fn from(diagnostics: Diagnostics) -> Failure {
        Failure::Invalid(diagnostics)
    }
}

impl From<Diagnostic> for Failure {
    fn from(diagnostic: Diagnostic) -> Failure {
        Failure::Invalid(diagnostic.into())
    }
}

/// A loaded, parsed project ready for a command.
pub struct Session {
    pub project: Project,
    /// Every execution date of the command, in order (one unless backfilling).
    pub dates: Vec<ExecutionDate>,
    /// The date `templates` and `parsed` are for: the last of `dates`.
    pub date: ExecutionDate,
    pub run_started_at: chrono::DateTime<chrono::Utc>,
    pub templates: Templates,
    pub parsed: Parsed,
}

impl Session {
    pub fn open(options: &LoadOptions, date_args: &DateOptions) -> Result<Session, Failure> {
        let project = Project::load(options)?;
        warn_of_profile_keys(&project);
        let timezone = date_args.timezone.clone().or_else(|| project.vars.get("timezone").and_then(|tz| tz.as_str()).map(str::to_string));
        let dates =
            crate::core::dates::resolve(date_args.date.as_deref(), date_args.start.as_deref(), date_args.end.as_deref(), timezone.as_deref())?;
        let date = dates.last().copied().unwrap_or_else(ExecutionDate::yesterday);
        // The invocation's start, so run_results.json and the log name it alike.
        let run_started_at = crate::log::started_at().unwrap_or_else(chrono::Utc::now);
        let templates = Templates::new(&project, date, run_started_at)?;
        let parsed = parse::parse(&project, &templates)?;
        if !parsed.warnings.is_empty() {
            eprint!("{}", parsed.warnings);
        }
        Ok(Session { project, dates, date, run_started_at, templates, parsed })
    }

    /// The templates and DAG of the project for another execution date of the command.
    pub fn prepare(&self, date: ExecutionDate) -> Result<(Templates, Parsed), Failure> {
        let templates = self.templates.for_date(date);
        let parsed = parse::parse(&self.project, &templates)?;
        Ok((templates, parsed))
    }

    /// Fails with the errors of the files that could not be parsed, if any.
    pub fn require_parsed(&self) -> Result<(), Failure> {
        if self.parsed.errors.is_empty() { Ok(()) } else { Err(Failure::Invalid(Diagnostics(self.parsed.errors.0.clone()))) }
    }

    pub fn graph(&self) -> &Graph {
        &self.parsed.graph
    }

    pub fn select(&self, args: &Selection) -> Result<BTreeSet<usize>, Failure> {
        Ok(select_nodes(self.graph(), &args.select, &args.exclude)?)
    }
}

/// Warns of the keys of the target that strata does not use.
pub(crate) fn warn_of_profile_keys(project: &Project) {
    if !project.target.warnings.is_empty() {
        eprint!("{}", Diagnostics(project.target.warnings.clone()));
    }
}

/// The process exits next: leave the graph, the templates and the SQL of a
/// large project to the OS, which frees them at once, instead of one by one.
pub(crate) fn exit_without_freeing<T>(value: T) {
    std::mem::forget(value);
}
