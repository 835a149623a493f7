//! Running a building command's phases (`seed`, `run`, `test`, `build`,
//! `snapshot`, `refresh`, and `retry`): the selected nodes, for each
//! execution date in order, on the worker pool, with a report, the partition
//! log, notifications and run_results.json.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use crate::artifacts::{self, RunResult};
use crate::compile::Compiler;
use crate::core::dates::ExecutionDate;
use crate::core::diagnostic::Diagnostic;
use crate::core::outcome::{Outcome, Status};
use crate::execute::{self, PoolOptions};
use crate::graph::{Graph, Node, ResourceType};
use crate::materialize::Materializer;
use crate::output::report::Reporter;
use crate::session::options::{Invocation, RunOptions};
use crate::session::phases::Phase;
use crate::session::{Failure, OpenWarehouse, Session};
use crate::warehouse::{Connection, Timed, Warehouse};

/// Which building command runs: what it runs of a selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Seed,
    Run,
    Test,
    Build,
    /// Refresh the selected exposures' Tableau datasources, building nothing.
    Refresh,
    Snapshot,
}

impl Which {
    pub fn name(self) -> &'static str {
        match self {
            Which::Seed => "seed",
            Which::Run => "run",
            Which::Test => "test",
            Which::Build => "build",
            Which::Refresh => "refresh",
            Which::Snapshot => "snapshot",
        }
    }

    /// Whether the command runs nodes of `resource_type`.
    pub fn runs(self, resource_type: ResourceType) -> bool {
        matches!(
            (self, resource_type),
            (Which::Seed, ResourceType::Seed)
                | (Which::Run, ResourceType::Model | ResourceType::Exposure)
                | (Which::Test, ResourceType::Test | ResourceType::UnitTest)
                | (Which::Snapshot, ResourceType::Snapshot)
                | (
                    Which::Build,
                    ResourceType::Seed
                        | ResourceType::Model
                        | ResourceType::Test
                        | ResourceType::UnitTest
                        | ResourceType::Exposure
                        | ResourceType::Snapshot
                )
                | (Which::Refresh, ResourceType::Exposure)
        )
    }
}

/// The Ctrl-C flag, set once per process; the handler also interrupts the
/// warehouse of the run in progress. It holds the warehouse weakly: the run
/// owns it, and closing it when the run ends is what lets DuckDB write its
/// log into the database file.
fn cancelled_flag(warehouse: &Arc<dyn Warehouse>) -> Arc<AtomicBool> {
    type Current = Arc<Mutex<Option<Weak<dyn Warehouse>>>>;
    static FLAG: OnceLock<(Arc<AtomicBool>, Current)> = OnceLock::new();
    let (flag, current) = FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let current: Current = Arc::new(Mutex::new(None));
        let (handler_flag, handler_current) = (flag.clone(), current.clone());
        // A second handler cannot be installed; a failure here only loses Ctrl-C handling.
        let _ = ctrlc::set_handler(move || {
            handler_flag.store(true, Ordering::SeqCst);
            let warehouse = handler_current.lock().ok().and_then(|current| current.as_ref().and_then(Weak::upgrade));
            if let Some(warehouse) = warehouse {
                warehouse.interrupt();
            }
        });
        (flag, current)
    });
    if let Ok(mut slot) = current.lock() {
        *slot = Some(Arc::downgrade(warehouse));
    }
    flag.clone()
}

/// Runs `plan`; `to_refresh` holds the unique ids `--full-refresh` still has to
/// rebuild: a node leaves it when it succeeds, and what is left is recorded in
/// run_results.json (`full_refresh_pending`) for `retry`.
///
/// Whatever ends the run (the last phase, Ctrl-C, an error on a later date),
/// it ends through [`finish`]: Tableau is signed out, the warehouse closed,
/// and run_results.json records every node that ran and, as skipped with the
/// reason, every node that did not, so `strata retry` resumes exactly there.
#[allow(clippy::too_many_arguments, reason = "what `run` and `retry` each build differently, passed once to the one place that runs them")]
pub fn run_phases(
    which: Which,
    args: &RunOptions,
    session: &Session,
    plan: Vec<Phase>,
    to_refresh: BTreeSet<String>,
    invocation: Invocation,
    started: Instant,
    open: OpenWarehouse<'_>,
) -> Result<i32, Failure> {
    if plan.is_empty() {
        let missing = match which {
            Which::Seed => "seeds",
            Which::Run => "models",
            Which::Test => "tests",
            Which::Build => "seeds, models, snapshots or tests",
            Which::Snapshot => "snapshots",
            Which::Refresh => "exposures with `tableau:` datasources",
        };
        crate::session::warn("NoNodesForSelectionCriteria", &format!("nothing to {}: the selection has no {missing}", which.name()))?;
        return Ok(0);
    }
    let total: usize = plan.iter().map(|p| p.nodes.len()).sum();
    let backfill = session.dates.len() > 1;
    let reporter = Reporter::new(total, args.no_progress, args.quiet, backfill);
    let run = Run {
        which,
        args,
        session,
        reporter: &reporter,
        warehouse_nanos: Arc::new(AtomicU64::new(0)),
        invocation_id: session.run_started_at.format("%Y%m%dt%H%M%S%6f").to_string(),
        backfill,
        partition_log_ready: AtomicBool::new(false),
    };
    let mut record = Record { results: Vec::new(), nodes: BTreeMap::new(), blocked: BTreeMap::new(), to_refresh };
    let ended = run.plan(&plan, &mut record, open);
    run.finish(&plan, record, invocation, started, ended)
}

/// What one invocation shares across its dates.
struct Run<'a> {
    which: Which,
    args: &'a RunOptions,
    session: &'a Session,
    reporter: &'a Reporter,
    /// Time spent inside the warehouse, summed over every connection.
    warehouse_nanos: Arc<AtomicU64>,
    invocation_id: String,
    backfill: bool,
    /// Whether the partition log exists (created once, before the first partition is written).
    partition_log_ready: AtomicBool,
}

/// How the phases of a run ended, when nothing stopped them with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Done,
    Interrupted,
}

/// What a run has done so far, kept whatever ends it.
struct Record {
    /// Each node as the graph of the first date it ran on had it, so every node
    /// that ran is reported even when a later date's graph no longer has it;
    /// one copy for all its dates, so a long backfill holds its memory flat.
    results: Vec<(Arc<Node>, ExecutionDate, Outcome, chrono::DateTime<chrono::Utc>)>,
    nodes: BTreeMap<String, Arc<Node>>,
    /// Unique ids whose ancestor failed, with the reason: skipped on later dates too.
    blocked: BTreeMap<String, String>,
    to_refresh: BTreeSet<String>,
}

impl Record {
    fn add(&mut self, graph: &Graph, index: usize, date: ExecutionDate, mut outcome: Outcome, started_at: chrono::DateTime<chrono::Utc>) {
        let node = &graph.nodes[index];
        // `--warn-error`: a test that warned fails, and what is built on its model is skipped.
        if outcome.status == Status::Warn && node.resource_type == ResourceType::Test && crate::core::warnings::is_error("LogTestResult") {
            outcome.status = Status::Fail;
            outcome.message = format!("{}\n{}", outcome.message.trim_end(), crate::core::warnings::failed_by("LogTestResult"));
        }
        if outcome.status.is_failure() {
            self.block_descendants(
                graph,
                index,
                &format!("skipped because {} `{}` failed on {}", node.resource_type.name(), node.display_name(), date.ds()),
            );
        }
        // A failed or skipped node kept its old table: it still owes its rebuild.
        if !outcome.status.is_failure() && outcome.status != Status::Skipped {
            self.to_refresh.remove(&node.unique_id);
        }
        let node = self.node(node);
        self.results.push((node, date, outcome, started_at));
    }

    fn node(&mut self, node: &Node) -> Arc<Node> {
        Arc::clone(self.nodes.entry(node.unique_id.clone()).or_insert_with(|| Arc::new(node.clone())))
    }

    fn block_descendants(&mut self, graph: &Graph, index: usize, reason: &str) {
        let mut stack: Vec<usize> = graph.children(index).collect();
        while let Some(descendant) = stack.pop() {
            if self.blocked.insert(graph.nodes[descendant].unique_id.clone(), reason.to_string()).is_none() {
                stack.extend(graph.children(descendant));
            }
        }
    }

    /// Records the nodes of `plan` that have no result yet as skipped, with `reason`.
    fn skip_rest(&mut self, plan: &[Phase], graph: &Graph, reason: &str) {
        let done: BTreeSet<(String, ExecutionDate)> = self.results.iter().map(|(node, date, ..)| (node.unique_id.clone(), *date)).collect();
        let now = chrono::Utc::now();
        for phase in plan {
            for id in &phase.nodes {
                let Some(&index) = graph.by_id.get(id) else { continue };
                if !done.contains(&(id.clone(), phase.date)) {
                    let node = self.node(&graph.nodes[index]);
                    let outcome = Outcome::skipped(node.label(), reason);
                    self.results.push((node, phase.date, outcome, now));
                }
            }
        }
    }
}

/// A phase's date's templates and graph: the session's own, or prepared for it.
enum DateGraph<'a> {
    Session(&'a Session),
    Prepared(Box<(crate::template::Templates, crate::parse::Parsed)>),
}

impl DateGraph<'_> {
    fn templates(&self) -> &crate::template::Templates {
        match self {
            DateGraph::Session(session) => &session.templates,
            DateGraph::Prepared(prepared) => &prepared.0,
        }
    }

    fn parsed(&self) -> &crate::parse::Parsed {
        match self {
            DateGraph::Session(session) => &session.parsed,
            DateGraph::Prepared(prepared) => &prepared.1,
        }
    }
}

impl Run<'_> {
    /// Opens the warehouse, runs every phase, and closes it again, whatever the phases did.
    fn plan(&self, plan: &[Phase], record: &mut Record, open: OpenWarehouse<'_>) -> Result<Ended, Failure> {
        let warehouse = open(&self.session.project)?;
        self.session.templates.globals.introspection.use_warehouse(&warehouse);
        let cancelled = cancelled_flag(&warehouse);
        let mut refresher = None;
        let ended = self.phases(plan, record, &warehouse, &cancelled, &mut refresher);
        if let Some(refresher) = &refresher {
            refresher.sign_out();
        }
        // Closing the warehouse belongs to the run's time, and is time inside the
        // warehouse: DuckDB writes the tables its log holds into the database
        // file (a checkpoint), as it does when dbt-duckdb closes, so the next
        // command or a notebook opens a complete file instead of replaying the log.
        let closing = Instant::now();
        drop(warehouse);
        Timed::add_since(&self.warehouse_nanos, closing);
        ended
    }

    fn phases(
        &self,
        plan: &[Phase],
        record: &mut Record,
        warehouse: &Arc<dyn Warehouse>,
        cancelled: &Arc<AtomicBool>,
        refresher: &mut Option<crate::materialize::refresh::Refresher>,
    ) -> Result<Ended, Failure> {
        let mut setup = warehouse.connect().map_err(|err| Diagnostic::new(err.to_string()))?;
        let target = &self.session.project.target;
        let threads = self.args.threads.or(target.threads).unwrap_or(4).max(1);
        if !self.args.quiet {
            let plural = if threads == 1 { "" } else { "s" };
            self.reporter.line(&format!("Concurrency: {threads} thread{plural} (target='{}')\n", target.name));
        }
        let workers = warehouse.workers(threads);
        let mut schemas = BTreeSet::new();
        let mut ran_start_hooks = false;
        for (phase_index, phase) in plan.iter().enumerate() {
            if cancelled.load(Ordering::SeqCst) {
                return Ok(Ended::Interrupted);
            }
            let Some(date_graph) = self.prepare_date(phase, record)? else { continue };
            let templates = date_graph.templates();
            let graph = &date_graph.parsed().graph;
            // `--defer`: what the invocation does not build, and this target lacks, is read from the state's relations.
            let deferred = match self.args.deferral.enabled() {
                true => {
                    let running: BTreeSet<usize> = plan.iter().flat_map(|phase| &phase.nodes).filter_map(|id| graph.by_id.get(id).copied()).collect();
                    let state = self.session.state(&self.args.selection)?;
                    Some(crate::session::deferred_graph(graph, self.args.deferral, state, &running, Some(setup.as_mut()))?)
                }
                false => None,
            };
            let graph = deferred.as_deref().unwrap_or(graph);
            let nodes: BTreeSet<usize> = phase.nodes.iter().filter_map(|id| graph.by_id.get(id).copied()).collect();
            let tasks = execute::plan(graph, &nodes, self.which == Which::Build);
            let compiler = Compiler::new(&self.session.project, templates, graph).with_empty_inputs(self.args.empty);
            let relations = self.set_up_phase(warehouse.as_ref(), setup.as_mut(), graph, &tasks, &mut schemas)?;
            let runs_models = matches!(self.which, Which::Run | Which::Build);
            if runs_models && !ran_start_hooks {
                run_hooks(&compiler, setup.as_mut(), &self.session.project.on_run_start, "on-run-start")?;
                ran_start_hooks = true;
            }
            if refresher.is_none()
                && tasks.iter().any(|t| graph.nodes[t.node].refreshes())
                && let Some(server) = crate::session::tableau_server(&self.session.project)?
            {
                *refresher = Some(crate::materialize::refresh::Refresher::new(server).map_err(|err| Diagnostic::new(err.to_string()))?);
            }
            let connections = (0..workers.min(tasks.len().max(1)))
                .map(|_| warehouse.connect().map(|c| Timed::new(c, self.warehouse_nanos.clone())))
                .collect::<Result<Vec<Timed>, _>>()
                .map_err(|err| Diagnostic::new(err.to_string()))?;
            let waiting = |line: &str| self.reporter.progress(phase.date, line);
            let materializer = Materializer {
                compiler: &compiler,
                invocation_id: &self.invocation_id,
                warehouse: warehouse.as_ref(),
                sql: warehouse.sql(),
                full_refresh: &record.to_refresh,
                backfill: self.backfill,
                cancelled,
                relations: &relations,
                waiting: &waiting,
            };
            let (outcomes, times) = self.execute_phase(&materializer, &tasks, connections, threads, &record.blocked, refresher.as_ref(), phase.date);
            self.log_written(warehouse.sql(), setup.as_mut(), &outcomes);
            for ((task, outcome), started_at) in tasks.iter().zip(&outcomes).zip(times) {
                record.add(graph, task.node, phase.date, outcome.clone(), started_at);
            }
            if self.backfill && !self.args.quiet {
                self.reporter.phase_summary(&phase.date.ds(), &outcomes);
            }
            if runs_models && phase_index + 1 == plan.len() && !cancelled.load(Ordering::SeqCst) {
                run_hooks(&compiler, setup.as_mut(), &self.session.project.on_run_end, "on-run-end")?;
            }
        }
        Ok(if cancelled.load(Ordering::SeqCst) { Ended::Interrupted } else { Ended::Done })
    }

    /// Records the partitions the phase wrote in the partition log, in one
    /// statement, where the warehouse's log is only appended to (BigQuery).
    /// The partitions are written whatever becomes of it: a failure is a
    /// warning, and `status` then reads them from the warehouse's metadata.
    fn log_written(&self, sql: &dyn crate::sql::SqlGenerator, connection: &mut dyn Connection, outcomes: &[Outcome]) {
        let written: Vec<crate::core::partition::WrittenPartitions> = outcomes.iter().filter_map(|o| o.written.clone()).collect();
        if written.is_empty() {
            return;
        }
        let log = self.session.project.target.partition_log(sql);
        let target = &self.session.project.target;
        let job = crate::core::job::Job { sql: sql.log_written(&log, &written), ..target.job_options(target.job_labels.clone()) };
        if let Err(err) = connection.run(&job) {
            self.reporter.line(&format!("WARN  could not record the partitions written in {}: {err}", log.display_name()));
        }
    }

    /// The templates and graph of `phase`'s date. A node of the phase that
    /// cannot be rendered for that date is an error on that date, and what is
    /// built on it is skipped: a backfill never leaves a silent gap. `None`
    /// when nothing of the date can be rendered (each node is then recorded so).
    fn prepare_date(&self, phase: &Phase, record: &mut Record) -> Result<Option<DateGraph<'_>>, Failure> {
        let session = self.session;
        let date_graph = if phase.date == session.date {
            DateGraph::Session(session)
        } else {
            match session.prepare(phase.date) {
                Ok(prepared) => DateGraph::Prepared(Box::new(prepared)),
                Err(failure) => {
                    let message = failure.to_string();
                    for id in &phase.nodes {
                        self.record_unrendered(session.graph(), id, phase.date, Some(message.trim_end()), record);
                    }
                    return Ok(None);
                }
            }
        };
        let parsed = date_graph.parsed();
        for id in phase.nodes.iter().filter(|id| !parsed.graph.by_id.contains_key(*id)) {
            let Some(&index) = session.graph().by_id.get(id) else { continue };
            let path = &session.graph().nodes[index].path;
            let errors: Vec<String> = parsed
                .errors
                .0
                .iter()
                .filter(|diagnostic| diagnostic.location.as_ref().is_some_and(|location| &location.file == path))
                .map(|diagnostic| diagnostic.to_string().trim_end().to_string())
                .collect();
            let message = (!errors.is_empty()).then(|| errors.join("\n"));
            self.record_unrendered(session.graph(), id, phase.date, message.as_deref(), record);
        }
        Ok(Some(date_graph))
    }

    /// Records node `id` of `graph`, absent from its date's graph: an error
    /// when rendering it failed, skipped when an ancestor failed or it is
    /// disabled on that date.
    fn record_unrendered(&self, graph: &Graph, id: &str, date: ExecutionDate, error: Option<&str>, record: &mut Record) {
        let Some(&index) = graph.by_id.get(id) else { return };
        let node = &graph.nodes[index];
        let outcome = match (error, record.blocked.get(id)) {
            (_, Some(reason)) => Outcome::skipped(node.label(), reason.clone()),
            (Some(error), None) => Outcome::error(node.label(), error),
            (None, None) => Outcome::skipped(node.label(), format!("not part of the project on {}: disabled for that date", date.ds())),
        };
        self.reporter.finished(node, date, &outcome);
        record.add(graph, index, date, outcome, chrono::Utc::now());
    }

    /// Lists the relations the phase builds next to and creates their schemas, once each.
    fn set_up_phase(
        &self,
        warehouse: &dyn Warehouse,
        setup: &mut dyn Connection,
        graph: &Graph,
        tasks: &[execute::Task],
        schemas: &mut BTreeSet<(Option<String>, Option<String>)>,
    ) -> Result<crate::warehouse::Relations, Failure> {
        let built: Vec<&crate::core::relation::Relation> = tasks
            .iter()
            .map(|task| &graph.nodes[task.node])
            .filter(|node| node.resource_type.builds_relation())
            .filter_map(|node| node.relation.as_ref())
            .collect();
        let phase_schemas: Vec<crate::warehouse::Schema> = built
            .iter()
            .map(|relation| (relation.database.clone(), relation.schema.clone().unwrap_or_default()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let relations = setup.list_relations(&phase_schemas).map_err(|err| {
            let diagnostic = Diagnostic::new(format!("could not list the warehouse's tables: {err}"));
            match err.help() {
                Some(help) => diagnostic.help(help),
                None => diagnostic,
            }
        })?;
        // Schemas first, once each, before workers race to create them.
        for relation in built {
            if schemas.insert((relation.database.clone(), relation.schema.clone())) {
                setup
                    .execute(&warehouse.create_schema(relation))
                    .map_err(|err| Diagnostic::new(format!("could not create schema `{}`: {err}", relation.schema.as_deref().unwrap_or_default())))?;
            }
        }
        // Each partition written is recorded in the partition log (`strata status`).
        let builds_partitions = tasks.iter().any(|task| graph.nodes[task.node].partition().is_some());
        if builds_partitions && !self.partition_log_ready.swap(true, Ordering::SeqCst) {
            let log = self.session.project.target.partition_log(warehouse.sql());
            setup
                .execute_script(&format!("{};\n{}", warehouse.create_schema(&log), warehouse.sql().create_partition_log(&log)))
                .map_err(|err| Diagnostic::new(format!("could not create the partition log `{}`: {err}", log.display_name())))?;
        }
        Ok(relations)
    }

    /// Runs `tasks` on the worker pool; exposures refresh on threads of their
    /// own as soon as every node under them succeeded, at most `threads` at
    /// once, so a slow refresh never holds a worker that models could use.
    /// Returns each task's outcome and start time.
    #[allow(clippy::too_many_arguments)] // the pool's inputs, each used once
    fn execute_phase(
        &self,
        materializer: &Materializer<'_>,
        tasks: &[execute::Task],
        connections: Vec<Timed>,
        threads: usize,
        blocked: &BTreeMap<String, String>,
        refresher: Option<&crate::materialize::refresh::Refresher>,
        date: ExecutionDate,
    ) -> (Vec<Outcome>, Vec<chrono::DateTime<chrono::Utc>>) {
        let graph = materializer.compiler.graph;
        let reporter = self.reporter;
        let cancelled = materializer.cancelled;
        let start_times = Mutex::new(vec![chrono::Utc::now(); tasks.len()]);
        let refreshed: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
        let slots = crate::materialize::refresh::Slots::new(threads);
        let prefix = reporter.prefix(date);
        let line = |shown: &Outcome| {
            if !self.args.quiet || shown.status.is_failure() {
                reporter.line(&format!("{prefix}{}", reporter.node_line(shown)));
            }
        };
        let mut outcomes = std::thread::scope(|scope| {
            execute::run(
                tasks,
                connections,
                &PoolOptions { fail_fast: self.args.fail_fast, cancelled },
                |connection, task| {
                    let node = &graph.nodes[tasks[task].node];
                    if let Ok(mut times) = start_times.lock() {
                        times[task] = chrono::Utc::now();
                    }
                    reporter.started(node, date);
                    if let Some(reason) = blocked.get(&node.unique_id) {
                        return Outcome::skipped(node.label(), reason.clone());
                    }
                    // An exposure delivers here; its refresh starts when the pool reports it done (below).
                    if node.resource_type == ResourceType::Exposure && node.delivery().is_none() {
                        return Outcome::new(Status::Success, node.label());
                    }
                    materializer.run(connection, tasks[task].node)
                },
                |task, reason| Outcome::skipped(graph.nodes[tasks[task].node].label(), reason),
                |task, outcome| match refresher {
                    Some(refresher) if graph.nodes[tasks[task].node].refreshes() && outcome.status == Status::Success => {
                        let node = &graph.nodes[tasks[task].node];
                        let (refreshed, slots, line) = (&refreshed, &slots, &line);
                        scope.spawn(move || {
                            let _slot = slots.take();
                            let outcome = refresher.refresh(node, cancelled, line);
                            reporter.finished(node, date, &outcome);
                            if let Ok(mut refreshed) = refreshed.lock() {
                                refreshed.push((task, outcome));
                            }
                        });
                    }
                    _ => reporter.finished(&graph.nodes[tasks[task].node], date, outcome),
                },
            )
        });
        // The scope ended when every refresh it started did.
        for (task, outcome) in refreshed.into_inner().unwrap_or_default() {
            outcomes[task] = outcome;
        }
        (outcomes, start_times.into_inner().unwrap_or_default())
    }

    /// Ends every run: nodes that never ran are recorded as skipped with the
    /// reason, then the summary, run_results.json and the manifest; an error
    /// that stopped the run is returned after its record is written.
    fn finish(
        &self,
        plan: &[Phase],
        mut record: Record,
        mut invocation: Invocation,
        started: Instant,
        ended: Result<Ended, Failure>,
    ) -> Result<i32, Failure> {
        let session = self.session;
        let graph = session.graph();
        match &ended {
            Ok(Ended::Done) => {}
            Ok(Ended::Interrupted) => record.skip_rest(plan, graph, "interrupted before it ran (Ctrl-C)"),
            Err(failure) => {
                let first_line = failure.to_string();
                let first_line = first_line.lines().next().unwrap_or_default().trim_start_matches("error: ");
                record.skip_rest(plan, graph, &format!("not run: the run stopped because {first_line}"));
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let nodes: Vec<&Node> = record.results.iter().map(|(node, ..)| node.as_ref()).collect();
        let outcomes: Vec<Outcome> = record.results.iter().map(|(_, _, outcome, ..)| outcome.clone()).collect();
        let dates: Vec<Option<String>> = record.results.iter().map(|(_, date, ..)| self.backfill.then(|| date.ds())).collect();
        self.reporter.summary(&nodes, &outcomes, &dates, elapsed);
        let command = if invocation.retry { "retry" } else { self.which.name() };
        let every_date: Vec<Option<String>> = record.results.iter().map(|(_, date, ..)| Some(date.ds())).collect();
        crate::output::ci::report_run(command, &session.project.target.name, &nodes, &outcomes, &every_date, elapsed);
        let results: Vec<RunResult<'_>> = record
            .results
            .iter()
            .map(|(node, date, outcome, started_at)| RunResult { node, outcome, started_at: *started_at, date: *date })
            .collect();
        invocation.full_refresh_pending = Some(record.to_refresh.iter().cloned().collect());
        let invocation = serde_json::to_value(&invocation).map_err(|err| Diagnostic::new(format!("could not record the invocation: {err}")))?;
        let warehouse_seconds = self.warehouse_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        // The warehouse work is done whatever happens to the artifacts: a failed
        // write is reported, and the run's status stays what the nodes made it.
        let written = artifacts::write(
            &session.project,
            "run_results.json",
            &artifacts::run_results(&results, &self.invocation_id, elapsed, invocation, warehouse_seconds),
        )
        .and_then(|()| artifacts::write_manifest(&session.project, graph, &Default::default()));
        if let Err(diagnostic) = written {
            eprint!(
                "{}",
                Diagnostic {
                    warning: true,
                    ..diagnostic.help(
                        "the tables are built; `strata retry` needs `run_results.json`, so free the disk or fix the permissions before the next run"
                    )
                }
            );
        }
        self.notify(command, &record, elapsed, &ended);
        match ended? {
            Ended::Interrupted => {
                eprintln!("interrupted: stopped scheduling and cancelled running queries");
                Ok(130)
            }
            Ended::Done => Ok(if outcomes.iter().any(|o| o.status.is_failure()) { 1 } else { 0 }),
        }
    }
}

impl Run<'_> {
    /// Sends the project's notifications of how the run ended; one that cannot
    /// be delivered is a warning and leaves the exit status alone.
    fn notify(&self, command: &str, record: &Record, seconds: f64, ended: &Result<Ended, Failure>) {
        let project = &self.session.project;
        if project.notifications.is_empty() {
            return;
        }
        let stopped = match ended {
            Ok(Ended::Done) => None,
            Ok(Ended::Interrupted) => Some("interrupted (Ctrl-C)".to_string()),
            Err(failure) => Some(failure.to_string().trim_start_matches("error: ").to_string()),
        };
        let report = crate::output::notify::Report {
            command,
            project: &project.name,
            target: &project.target.name,
            invocation_id: &self.invocation_id,
            dates: &self.session.dates,
            seconds,
            results: record.results.iter().map(|(node, date, outcome, _)| (node.as_ref(), *date, outcome)).collect(),
            stopped,
            retry: retry_command(&self.args.project),
        };
        for warning in crate::output::notify::send(&project.notifications, self.session.graph(), &report) {
            crate::output::log::line(&format!("warning: {warning}"));
            eprintln!("warning: {warning}");
        }
    }
}

/// `strata retry`, with the flags that say where the project and profile are.
fn retry_command(project: &crate::project::LoadOptions) -> String {
    let quote = |path: &std::path::Path| {
        let text = path.to_string_lossy();
        if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-~".contains(c)) {
            text.into_owned()
        } else {
            format!("'{}'", text.replace('\'', "'\\''"))
        }
    };
    let mut command = String::from("strata retry");
    if project.project_dir != std::path::Path::new(".") {
        command.push_str(&format!(" --project-dir {}", quote(&project.project_dir)));
    }
    if let Some(dir) = &project.profiles_dir {
        command.push_str(&format!(" --profiles-dir {}", quote(dir)));
    }
    command
}

pub fn run_hooks(compiler: &Compiler<'_>, connection: &mut dyn Connection, hooks: &[String], name: &str) -> Result<(), Failure> {
    for hook in hooks {
        let sql = compiler.render_text("dbt_project.yml", hook, None)?;
        if !sql.trim().is_empty() {
            connection
                .execute_script(&sql)
                .map_err(|err| Diagnostic::new(format!("`{name}` hook failed: {err}")).note(format!("the hook: {}", sql.trim())))?;
        }
    }
    Ok(())
}
