//! A session: one invocation's loaded and parsed project for its execution
//! dates, what it selects, and how it ends badly ([`Failure`]); below it,
//! the phases a building command runs per date ([`phases`]), running them
//! on the worker pool over a warehouse ([`run`]), and the partition status
//! of the selected models ([`partition_status`]). What the commands share;
//! each command (`commands/`) is a file over it.

pub mod options;
pub mod partition_status;
pub mod phases;
pub mod run;

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::core::dates::ExecutionDate;
use crate::core::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::Graph;
use crate::graph::select::select_nodes;
use crate::graph::state::State;
use crate::parse::{self, Parsed};
use crate::project::{LoadOptions, Project};
use crate::session::options::{DateOptions, Deferral, Selection};
use crate::template::Templates;
use crate::template::introspect::Introspection;
use crate::warehouse::{Connection, RelationKey, Warehouse};

/// How a run gets its warehouse: `warehouse::open`, or a test's own.
pub type OpenWarehouse<'a> = &'a dyn Fn(&Project) -> Result<Arc<dyn Warehouse>, Diagnostic>;

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
    /// The artifacts of `--state`, read once when first asked for.
    state: std::sync::OnceLock<Option<State>>,
}

/// Questions templates ask of `project`'s target, which opens only when a
/// template asks one (a command that opens it anyway hands it over first:
/// `Introspection::use_warehouse`).
fn introspect_target(project: &Project) -> Introspection {
    let (target, root, profile) = (project.target.clone(), project.root.clone(), project.profile_name.clone());
    Introspection::new(move || crate::warehouse::open_target(&target, &root, &profile, crate::warehouse::DEFAULT_LOCK_TIMEOUT).map_err(|d| d.message))
}

impl Session {
    pub fn open(options: &LoadOptions, date_args: &DateOptions) -> Result<Session, Failure> {
        let project = Project::load(options)?;
        warn_of_profile_keys(&project)?;
        let timezone = date_args.timezone.clone().or_else(|| project.vars.get("timezone").and_then(|tz| tz.as_str()).map(str::to_string));
        let dates =
            crate::core::dates::resolve(date_args.date.as_deref(), date_args.start.as_deref(), date_args.end.as_deref(), timezone.as_deref())?;
        let date = dates.last().copied().unwrap_or_else(ExecutionDate::yesterday);
        // The invocation's start, so run_results.json and the log name it alike.
        let run_started_at = crate::output::log::started_at().unwrap_or_else(chrono::Utc::now);
        let templates = Templates::new(&project, date, run_started_at, introspect_target(&project))?;
        let parsed = parse::parse(&project, &templates)?;
        project_warnings(&parsed.warnings.0)?;
        // `graph` costs a serialization of the project, made only when a template reads it.
        let reads_graph = |text: &str| text.contains("graph.");
        if project.macros.iter().chain(project.packages.iter().flat_map(|p| &p.macros)).any(|f| reads_graph(&f.text))
            || project.models.iter().any(|m| reads_graph(&m.file.text))
        {
            let _ = templates.globals.graph.set(minijinja::Value::from_serialize(crate::artifacts::graph_context(&project, &parsed.graph)));
        }
        Ok(Session { project, dates, date, run_started_at, templates, parsed, state: std::sync::OnceLock::new() })
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

    /// The artifacts of `--state`, when it was given; read on the first call,
    /// which decides the directory.
    pub fn state(&self, args: &Selection) -> Result<Option<&State>, Failure> {
        if let Some(state) = self.state.get() {
            return Ok(state.as_ref());
        }
        let state = args.state.as_deref().map(State::load).transpose()?;
        Ok(self.state.get_or_init(|| state).as_ref())
    }

    pub fn select(&self, args: &Selection) -> Result<BTreeSet<usize>, Failure> {
        self.select_with(args, self.state(args)?)
    }

    /// What `args` select, compared with `state` for `state:` and `result:`.
    pub fn select_with(&self, args: &Selection, state: Option<&State>) -> Result<BTreeSet<usize>, Failure> {
        let comparison = state.map(|state| state.compare(&self.project, self.graph()));
        Ok(select_nodes(self.graph(), &args.select, &args.exclude, comparison.as_ref())?)
    }
}

impl Deferral {
    /// `graph` with each model and seed that is not among `running` reading
    /// the relation `state` recorded for it, when this target does not have
    /// it (with `--favor-state`, whether or not it has it). `connection` asks
    /// the target what it has; without one, nothing exists.
    pub fn apply(self, graph: &Graph, running: &BTreeSet<usize>, state: &State, connection: Option<&mut dyn Connection>) -> Result<Graph, Failure> {
        let candidates: BTreeSet<usize> = (0..graph.nodes.len())
            .filter(|index| !running.contains(index))
            .filter(|&index| graph.nodes[index].resource_type.builds_relation() && graph.nodes[index].in_warehouse())
            .collect();
        let mut existing = crate::warehouse::Relations::default();
        if let (false, Some(connection)) = (self.favor_state, connection) {
            let schemas: BTreeSet<crate::warehouse::Schema> = candidates
                .iter()
                .filter_map(|&index| graph.nodes[index].relation.as_ref())
                .map(|relation| (relation.database.clone(), relation.schema.clone().unwrap_or_default()))
                .collect();
            existing = connection
                .list_relations(&Vec::from_iter(schemas))
                .map_err(|err| Diagnostic::new(format!("`--defer`: could not list the target's tables: {err}")))?;
        }
        let exists = |index: usize| graph.nodes[index].relation.as_ref().is_some_and(|r| existing.contains_key(&RelationKey::of(r)));
        Ok(crate::graph::state::deferred(graph, state, |index| candidates.contains(&index) && (self.favor_state || !exists(index))))
    }
}

/// The graph to compile `running` with: `graph`, or with `--defer` the
/// deferred one; `connection` asks the target what it has.
pub fn deferred_graph<'g>(
    graph: &'g Graph,
    deferral: Deferral,
    state: Option<&State>,
    running: &BTreeSet<usize>,
    connection: Option<&mut dyn Connection>,
) -> Result<std::borrow::Cow<'g, Graph>, Failure> {
    match (deferral.enabled(), state) {
        (false, _) => Ok(std::borrow::Cow::Borrowed(graph)),
        (true, Some(state)) => Ok(std::borrow::Cow::Owned(deferral.apply(graph, running, state, connection)?)),
        (true, None) => Err(Diagnostic::new("`--defer` reads the relations of another invocation, but no `--state` was given")
            .help("add `--state DIR`, the `target/` directory of that invocation (for example the last production run's artifacts)")
            .into()),
    }
}

/// The target's Tableau server, if it names one.
pub fn tableau_server(project: &Project) -> Result<Option<crate::tableau::Server>, Failure> {
    Ok(crate::tableau::Server::of(&project.target, &project.root)?)
}

/// Warns of the keys of the target that strata does not use.
pub fn warn_of_profile_keys(project: &Project) -> Result<(), Failure> {
    project_warnings(&project.target.warnings)
}

/// Prints the warnings of the project's files and profile, or fails with
/// them when `--warn-error` makes `ProjectWarning` an error.
fn project_warnings(warnings: &[Diagnostic]) -> Result<(), Failure> {
    if warnings.is_empty() {
        return Ok(());
    }
    if crate::core::warnings::is_error("ProjectWarning") {
        let errors =
            warnings.iter().map(|w| Diagnostic { warning: false, ..w.clone() }.note(crate::core::warnings::failed_by("ProjectWarning"))).collect();
        return Err(Failure::Invalid(Diagnostics(errors)));
    }
    eprint!("{}", Diagnostics(warnings.to_vec()));
    crate::output::ci::annotate_diagnostics(warnings);
    Ok(())
}

/// Prints the warning `text`, the event `name` of [`crate::core::warnings::WARNINGS`],
/// or fails with it when `--warn-error` makes that event an error.
pub fn warn(name: &str, text: &str) -> Result<(), Failure> {
    if crate::core::warnings::is_error(name) {
        return Err(Diagnostic::new(text).note(crate::core::warnings::failed_by(name)).into());
    }
    eprintln!("warning: {text}");
    Ok(())
}

/// The process exits next: leave the graph, the templates and the SQL of a
/// large project to the OS, which frees them at once, instead of one by one.
pub fn exit_without_freeing<T>(value: T) {
    std::mem::forget(value);
}
