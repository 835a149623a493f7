//! `strata seed`, `run`, `test` and `build`: the selected nodes, for each
//! execution date in order, on the worker pool, with a report and run_results.json.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use crate::artifacts::{self, RunResult};
use crate::options::{Invocation, RunOptions};
use crate::commands::{Failure, Session};
use crate::compile::Compiler;
use crate::core::diagnostic::Diagnostic;
use crate::execute::{self, PoolOptions};
use crate::core::dates::ExecutionDate;
use crate::graph::{Graph, ResourceType};
use crate::core::outcome::Outcome;
use crate::materialize::Materializer;
use crate::project::Project;
use crate::report::Reporter;
use crate::warehouse::{Connection, Timed, Warehouse};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Seed,
    Run,
    Test,
    Build,
    /// Refresh the selected exposures' Tableau datasources, building nothing.
    Refresh,
}

impl Which {
    pub fn name(self) -> &'static str {
        match self {
            Which::Seed => "seed",
            Which::Run => "run",
            Which::Test => "test",
            Which::Build => "build",
            Which::Refresh => "refresh",
        }
    }

    fn runs(self, resource_type: ResourceType) -> bool {
        matches!(
            (self, resource_type),
            (Which::Seed, ResourceType::Seed)
                | (Which::Run, ResourceType::Model | ResourceType::Exposure)
                | (Which::Test, ResourceType::Test)
                | (Which::Build, ResourceType::Seed | ResourceType::Model | ResourceType::Test | ResourceType::Exposure)
                | (Which::Refresh, ResourceType::Exposure)
        )
    }
}

/// The Ctrl-C flag, set once per process; the handler also interrupts the
/// warehouse of the run in progress. It holds the warehouse weakly: the run
/// owns it, and closing it when the run ends is what lets DuckDB write its
/// log into the database file.
pub(super) fn cancelled_flag(warehouse: &Arc<dyn Warehouse>) -> Arc<AtomicBool> {
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

/// One pool run: the nodes of one execution date.
pub(super) struct Phase {
    pub(super) date: ExecutionDate,
    /// Unique ids of the nodes to run.
    pub(super) nodes: BTreeSet<String>,
}

/// Splits the nodes to run into phases. One date: one phase. A backfill: seeds
/// once, then the partitioned models (and their tests) once per date in date
/// order, then everything else once, for the last date.
fn phases(graph: &Graph, nodes: &BTreeSet<usize>, dates: &[ExecutionDate]) -> Vec<Phase> {
    let ids = |filter: &dyn Fn(usize) -> bool| -> BTreeSet<String> {
        nodes.iter().copied().filter(|&i| filter(i)).map(|i| graph.nodes[i].unique_id.clone()).collect()
    };
    let (Some(&first), Some(&last)) = (dates.first(), dates.last()) else { return Vec::new() };
    if dates.len() == 1 {
        return vec![Phase { date: first, nodes: ids(&|_| true) }];
    }
    let partitioned = |i: usize| graph.nodes[i].partition().is_some();
    let per_date = |i: usize| match graph.nodes[i].resource_type {
        ResourceType::Model => partitioned(i),
        ResourceType::Test => {
            let models: Vec<usize> = graph.parents(i).filter(|&p| graph.nodes[p].resource_type == ResourceType::Model).collect();
            !models.is_empty() && models.into_iter().all(partitioned)
        }
        ResourceType::Source => graph.children(i).any(|c| nodes.contains(&c) && partitioned(c)),
        _ => false,
    };
    let mut phases = vec![Phase { date: first, nodes: ids(&|i| graph.nodes[i].resource_type == ResourceType::Seed) }];
    for &date in dates {
        phases.push(Phase { date, nodes: ids(&per_date) });
    }
    phases.push(Phase {
        date: last,
        nodes: ids(&|i| {
            graph.nodes[i].resource_type != ResourceType::Seed && (!per_date(i) || graph.nodes[i].resource_type == ResourceType::Source && graph.children(i).any(|c| nodes.contains(&c) && !partitioned(c)))
        }),
    });
    phases.retain(|phase| !phase.nodes.is_empty());
    phases
}

/// How a run gets its warehouse: `warehouse::open`, or a test's own.
pub type OpenWarehouse<'a> = &'a dyn Fn(&Project) -> Result<Arc<dyn Warehouse>, Diagnostic>;

pub fn execute(which: Which, args: &RunOptions) -> Result<i32, Failure> {
    if args.dry_run {
        if !matches!(which, Which::Run | Which::Build) {
            return Err(Diagnostic::new(format!("`--dry-run` estimates models: use it with `strata run` or `strata build`, not `strata {}`", which.name())).into());
        }
        return crate::commands::dry_run::dry_run(args);
    }
    execute_on(which, args, &|project| crate::warehouse::open(project, args.lock_timeout))
}

/// `execute` on the warehouse `open` returns.
pub fn execute_on(which: Which, args: &RunOptions, open: OpenWarehouse<'_>) -> Result<i32, Failure> {
    let started = Instant::now();
    let session = Session::open(&args.project, &args.dates)?;
    let nodes = select_for(which, &session, &args.selection.select, &args.selection.exclude, args.skip_checks)?;
    let plan = phases(session.graph(), &nodes, &session.dates);
    let invocation = Invocation {
        which: which.name().to_string(),
        selection: args.selection.clone(),
        dates: session.dates.iter().map(|d| d.ds()).collect(),
        target: session.project.target.name.clone(),
        profile: args.project.profile.clone(),
        vars: args.project.vars.clone(),
        full_refresh: args.full_refresh,
        skip_checks: args.skip_checks,
        threads: args.threads,
        retry: false,
        full_refresh_pending: None,
    };
    // `--full-refresh` rebuilds each node the first time it runs, not on every
    // date of a backfill (which would leave only the last date's partition).
    let to_refresh = if args.full_refresh { plan.iter().flat_map(|phase| phase.nodes.iter().cloned()).collect() } else { BTreeSet::new() };
    run_phases(which, args, &session, plan, to_refresh, invocation, started, open)
}

/// The nodes `which` runs among those selected: never ephemeral models; source
/// checks (sources declaring `wait_for` or `freshness`) unless `--skip-checks`.
fn select_for(which: Which, session: &Session, select: &[String], exclude: &[String], skip_checks: bool) -> Result<BTreeSet<usize>, Failure> {
    session.require_parsed()?;
    let graph = session.graph();
    let selected = crate::graph::select::select_nodes(graph, select, exclude)?;
    let mut nodes: BTreeSet<usize> = selected
        .iter()
        .copied()
        .filter(|&i| which.runs(graph.nodes[i].resource_type))
        .filter(|&i| !(graph.nodes[i].resource_type == ResourceType::Model && graph.nodes[i].materialized() == "ephemeral"))
        // Exposures run when they refresh something.
        .filter(|&i| graph.nodes[i].resource_type != ResourceType::Exposure || refreshes(&graph.nodes[i]))
        .collect();
    let exposures = nodes.iter().filter(|&&i| graph.nodes[i].resource_type == ResourceType::Exposure).count();
    let has_server = (which == Which::Refresh || exposures > 0) && tableau_server(&session.project)?.is_some();
    if which == Which::Refresh && !has_server {
        let target = &session.project.target;
        return Err(Diagnostic::new(format!("target `{}` has no `tableau:` section, so there is no Tableau server to refresh", target.name))
            .at(target.locate(&format!("{}:", target.name)))
            .help("add `tableau: {server_url, site, token_name, token_secret}` to the target in `profiles.yml`, or pick a target that has one with `--target`")
            .into());
    }
    if exposures > 0 && !has_server {
        nodes.retain(|&i| graph.nodes[i].resource_type != ResourceType::Exposure);
        let target = &session.project.target;
        let plural = if exposures == 1 { "exposure" } else { "exposures" };
        eprintln!("Tableau: target `{}` has no `tableau:` section in `profiles.yml`; not refreshing {exposures} {plural}", target.name);
    }
    if !skip_checks && matches!(which, Which::Run | Which::Build) {
        let checks: Vec<usize> = (0..graph.nodes.len())
            .filter(|&i| crate::checks::SourceCheck::of(&graph.nodes[i]).is_some())
            .filter(|&i| reads_before_running(graph, i, &nodes))
            .collect();
        nodes.extend(checks);
    }
    Ok(nodes)
}

fn refreshes(node: &crate::graph::Node) -> bool {
    matches!(&node.details, crate::graph::NodeDetails::Exposure { refresh: Some(_), .. })
}

/// The target's Tableau server, if it names one.
fn tableau_server(project: &Project) -> Result<Option<crate::tableau::Server>, Failure> {
    Ok(crate::tableau::Server::of(&project.target, &project.root)?)
}

/// Whether a node of `nodes` reads `source`, directly or through nodes that do not run.
fn reads_before_running(graph: &Graph, source: usize, nodes: &BTreeSet<usize>) -> bool {
    !graph.nearest(source, true, |node| nodes.contains(&node)).is_empty()
}

/// Runs `plan`; `to_refresh` holds the unique ids `--full-refresh` still has to
/// rebuild: a node leaves it when it succeeds, and what is left is recorded in
/// run_results.json (`full_refresh_pending`) for `retry`.
pub(super) fn run_phases(
    which: Which,
    args: &RunOptions,
    session: &Session,
    plan: Vec<Phase>,
    mut to_refresh: BTreeSet<String>,
    mut invocation: Invocation,
    started: Instant,
    open: OpenWarehouse<'_>,
) -> Result<i32, Failure> {
    if plan.is_empty() {
        eprintln!("warning: nothing to {}: the selection has no {}", which.name(), match which {
            Which::Seed => "seeds",
            Which::Run => "models",
            Which::Test => "tests",
            Which::Build => "seeds, models or tests",
            Which::Refresh => "exposures with `tableau:` datasources",
        });
        return Ok(0);
    }
    let warehouse = open(&session.project)?;
    let cancelled = cancelled_flag(&warehouse);
    let warehouse_nanos = Arc::new(AtomicU64::new(0));
    let backfill = session.dates.len() > 1;
    let total: usize = plan.iter().map(|p| p.nodes.len()).sum();
    let reporter = Reporter::new(total, args.no_progress, args.quiet);
    let mut setup = warehouse.connect().map_err(|err| Diagnostic::new(err.to_string()))?;
    let runs_models = matches!(which, Which::Run | Which::Build);
    let mut schemas = BTreeSet::new();
    // Failed nodes block their descendants on later dates.
    let mut blocked: BTreeMap<String, String> = BTreeMap::new();
    // Each node as the graph of its own date had it, so every node that ran is
    // reported even when a later date's graph no longer has it.
    let mut all_results: Vec<(crate::graph::Node, ExecutionDate, Outcome, chrono::DateTime<chrono::Utc>)> = Vec::new();
    let mut ran_start_hooks = false;
    let mut refresher: Option<crate::materialize::refresh::Refresher> = None;
    let invocation_id = session.run_started_at.format("%Y%m%dt%H%M%S%6f").to_string();
    let target = &session.project.target;
    let threads = args.threads.or(target.threads).unwrap_or(4).max(1);
    if !args.quiet {
        let plural = if threads == 1 { "" } else { "s" };
        reporter.line(&format!("Concurrency: {threads} thread{plural} (target='{}')\n", target.name));
    }

    for (phase_index, phase) in plan.iter().enumerate() {
        if cancelled.load(Ordering::SeqCst) {
            break;
        }
        let prepared;
        let (templates, parsed) = if phase.date == session.date {
            (&session.templates, &session.parsed)
        } else {
            prepared = Session::prepare(&session.project, phase.date, session.run_started_at)?;
            (&prepared.0, &prepared.1)
        };
        let graph = &parsed.graph;
        let nodes: BTreeSet<usize> = phase.nodes.iter().filter_map(|id| graph.by_id.get(id).copied()).collect();
        let tasks = execute::plan(graph, &nodes, which == Which::Build);
        let connections = (0..threads.min(tasks.len().max(1)))
            .map(|_| warehouse.connect().map(|c| Timed::new(c, warehouse_nanos.clone())))
            .collect::<Result<Vec<Timed>, _>>()
            .map_err(|err| Diagnostic::new(err.to_string()))?;
        let compiler = Compiler::new(&session.project, templates, graph);
        // The schemas this phase builds into, each listed once.
        let built: Vec<&crate::core::relation::Relation> = tasks
            .iter()
            .map(|task| &graph.nodes[task.node])
            .filter(|node| matches!(node.resource_type, ResourceType::Model | ResourceType::Seed))
            .filter_map(|node| node.relation.as_ref())
            .collect();
        let phase_schemas: Vec<crate::warehouse::Schema> = built
            .iter()
            .map(|relation| (relation.database.clone(), relation.schema.clone().unwrap_or_default()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let relations = setup
            .list_relations(&phase_schemas)
            .map_err(|err| {
                let diagnostic = Diagnostic::new(format!("could not list the warehouse's tables: {err}"));
                match err.help() {
                    Some(help) => diagnostic.help(help),
                    None => diagnostic,
                }
            })?;
        let prefix = if backfill { format!("{} ", phase.date.ds()) } else { String::new() };
        let waiting = |line: &str| {
            if !args.quiet {
                reporter.line(&format!("{prefix}{line}"));
            }
        };
        let materializer = Materializer {
            compiler: &compiler,
            invocation_id: &invocation_id,
            warehouse: warehouse.as_ref(),
            sql: warehouse.sql(),
            full_refresh: &to_refresh,
            cancelled: &cancelled,
            relations: &relations,
            waiting: &waiting,
        };

        // Schemas first, once each, before workers race to create them.
        for relation in built {
            if schemas.insert((relation.database.clone(), relation.schema.clone())) {
                setup.execute(&warehouse.create_schema(relation)).map_err(|err| {
                    Diagnostic::new(format!("could not create schema `{}`: {err}", relation.schema.as_deref().unwrap_or_default()))
                })?;
            }
        }
        if runs_models && !ran_start_hooks {
            run_hooks(&compiler, setup.as_mut(), &session.project.on_run_start, "on-run-start")?;
            ran_start_hooks = true;
        }

        let start_times = Mutex::new(vec![chrono::Utc::now(); tasks.len()]);
        // Exposures refresh on threads of their own as soon as every node under
        // them succeeded, at most `threads` at once: a slow refresh never holds
        // a worker that models could use.
        if refresher.is_none() && tasks.iter().any(|t| graph.nodes[t.node].resource_type == ResourceType::Exposure) {
            let server = tableau_server(&session.project)?.ok_or_else(|| Diagnostic::new("the target has no Tableau server"))?;
            refresher = Some(crate::materialize::refresh::Refresher::new(server).map_err(|err| Diagnostic::new(err.to_string()))?);
        }
        let refreshed: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
        let slots = crate::materialize::refresh::Slots::new(threads);
        let line = |shown: &Outcome| {
            if !args.quiet || shown.status.is_failure() {
                reporter.line(&format!("{prefix}{}", reporter.node_line(shown)));
            }
        };
        let outcomes = std::thread::scope(|scope| {
            execute::run(
                &tasks,
                connections,
                &PoolOptions { fail_fast: args.fail_fast, cancelled: &cancelled },
                |connection, task| {
                    let node = &graph.nodes[tasks[task].node];
                    if let Ok(mut times) = start_times.lock() {
                        times[task] = chrono::Utc::now();
                    }
                    reporter.set_message(&format!("{prefix}{}", node.name));
                    if let Some(reason) = blocked.get(&node.unique_id) {
                        return Outcome::skipped(node.label(), reason.clone());
                    }
                    // An exposure's refresh starts when the pool reports it done (below).
                    if node.resource_type == ResourceType::Exposure {
                        return Outcome::new(crate::core::outcome::Status::Success, node.label());
                    }
                    materializer.run(connection, tasks[task].node)
                },
                |task, reason| Outcome::skipped(graph.nodes[tasks[task].node].label(), reason),
                |task, outcome| match &refresher {
                    Some(refresher)
                        if graph.nodes[tasks[task].node].resource_type == ResourceType::Exposure
                            && outcome.status == crate::core::outcome::Status::Success =>
                    {
                        let node = &graph.nodes[tasks[task].node];
                        let (refreshed, slots, line, prefix, cancelled, reporter) = (&refreshed, &slots, &line, &prefix, &cancelled, &reporter);
                        scope.spawn(move || {
                            let _slot = slots.take();
                            let outcome = refresher.refresh(node, cancelled, line);
                            reporter.finished(prefix, &outcome);
                            if let Ok(mut refreshed) = refreshed.lock() {
                                refreshed.push((task, outcome));
                            }
                        });
                    }
                    _ => reporter.finished(&prefix, outcome),
                },
            )
        });
        // The scope ended when every refresh it started did.
        let mut outcomes = outcomes;
        for (task, outcome) in refreshed.into_inner().unwrap_or_default() {
            outcomes[task] = outcome;
        }
        let times = start_times.into_inner().unwrap_or_default();
        for ((task, outcome), started_at) in tasks.iter().zip(&outcomes).zip(times) {
            let node = &graph.nodes[task.node];
            if outcome.status.is_failure() {
                let reason = format!("skipped because {} failed on {}", task.label, phase.date.ds());
                let mut stack: Vec<usize> = graph.children(task.node).collect();
                while let Some(descendant) = stack.pop() {
                    if blocked.insert(graph.nodes[descendant].unique_id.clone(), reason.clone()).is_none() {
                        stack.extend(graph.children(descendant));
                    }
                }
            }
            // A failed or skipped node kept its old table: it still owes its rebuild.
            if !outcome.status.is_failure() && outcome.status != crate::core::outcome::Status::Skipped {
                to_refresh.remove(&node.unique_id);
            }
            all_results.push((node.clone(), phase.date, outcome.clone(), started_at));
        }
        if backfill && !args.quiet {
            reporter.phase_summary(&phase.date.ds(), &outcomes);
        }
        if runs_models && phase_index + 1 == plan.len() && !cancelled.load(Ordering::SeqCst) {
            run_hooks(&compiler, setup.as_mut(), &session.project.on_run_end, "on-run-end")?;
        }
    }

    if let Some(refresher) = &refresher {
        refresher.sign_out();
    }
    // Closing the warehouse belongs to the run's time, and is time inside the
    // warehouse: DuckDB writes the tables its log holds into the database
    // file (a checkpoint), as it does when dbt-duckdb closes, so the next
    // command or a notebook opens a complete file instead of replaying the log.
    let closing = Instant::now();
    drop(setup);
    drop(warehouse);
    Timed::add_since(&warehouse_nanos, closing);
    let elapsed = started.elapsed().as_secs_f64();
    let graph = session.graph();
    let summary_nodes: Vec<&crate::graph::Node> = all_results.iter().map(|(node, ..)| node).collect();
    let outcomes: Vec<Outcome> = all_results.iter().map(|(_, _, outcome, ..)| outcome.clone()).collect();
    let dates: Vec<Option<String>> = all_results.iter().map(|(_, date, ..)| backfill.then(|| date.ds())).collect();
    reporter.summary(&summary_nodes, &outcomes, &dates, elapsed);
    let results: Vec<RunResult<'_>> = summary_nodes
        .iter()
        .zip(&all_results)
        .map(|(node, (_, date, outcome, started_at))| RunResult { node, outcome, started_at: *started_at, date: *date })
        .collect();
    invocation.full_refresh_pending = Some(to_refresh.into_iter().collect());
    let invocation = serde_json::to_value(&invocation).map_err(|err| Diagnostic::new(format!("could not record the invocation: {err}")))?;
    // The warehouse work is done whatever happens to the artifacts: a failed
    // write is reported, and the run's status stays what the nodes made it.
    let written = artifacts::write(
        &session.project,
        "run_results.json",
        &artifacts::run_results(&results, elapsed, invocation, warehouse_nanos.load(Ordering::Relaxed) as f64 / 1e9),
    )
    .and_then(|()| artifacts::write_manifest(&session.project, graph, &Default::default()));
    if let Err(diagnostic) = written {
        eprint!("{}", Diagnostic { warning: true, ..diagnostic.help("the tables are built; `strata retry` needs `run_results.json`, so free the disk or fix the permissions before the next run") });
    }

    if cancelled.load(Ordering::SeqCst) {
        eprintln!("interrupted: stopped scheduling and cancelled running queries");
        return Ok(130);
    }
    Ok(if outcomes.iter().any(|o| o.status.is_failure()) { 1 } else { 0 })
}

pub(super) fn run_hooks(compiler: &Compiler<'_>, connection: &mut dyn Connection, hooks: &[String], name: &str) -> Result<(), Failure> {
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
