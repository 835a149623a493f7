//! `seed`, `run`, `test`, `build` and `show`: choose the nodes, open the
//! warehouse, run the DAG through the worker pool, report, and write
//! `run_results.json`. Exit status: 0 when every node passed (warnings
//! allowed), 1 when a node or test failed, 130 when interrupted.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use serde_json::json;

use crate::artifacts::{self, RunResult};
use crate::cli::{RunArgs, ShowArgs, ShowOutput};
use crate::commands::{Failure, Session};
use crate::compile::Compiler;
use crate::diagnostic::Diagnostic;
use crate::execute::{self, PoolOptions};
use crate::graph::ResourceType;
use crate::materialize::{Materializer, Outcome};
use crate::project::{Project, TargetKind};
use crate::report::{Reporter, render_table};
use crate::warehouse::duckdb::DuckDb;
use crate::warehouse::{Connection, Timed, Warehouse};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Seed,
    Run,
    Test,
    Build,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::Seed => "seed",
            Which::Run => "run",
            Which::Test => "test",
            Which::Build => "build",
        }
    }

    fn runs(self, resource_type: ResourceType) -> bool {
        matches!(
            (self, resource_type),
            (Which::Seed, ResourceType::Seed)
                | (Which::Run, ResourceType::Model)
                | (Which::Test, ResourceType::Test)
                | (Which::Build, ResourceType::Seed | ResourceType::Model | ResourceType::Test)
        )
    }
}

/// Opens the target's warehouse.
pub fn open_warehouse(project: &Project) -> Result<Arc<dyn Warehouse>, Failure> {
    match project.target.kind {
        TargetKind::DuckDb => {
            let path = project
                .target
                .fields
                .get("path")
                .and_then(|p| p.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| DuckDb::default_path(&project.profile_name).to_string_lossy().into_owned());
            let warehouse = DuckDb::open(&path, &project.root).map_err(|err| {
                Diagnostic::new(err.to_string()).help("another strata may be using this database file; wait for it, or set `path:` in `profiles.yml`")
            })?;
            Ok(Arc::new(warehouse))
        }
        TargetKind::BigQuery => Err(Diagnostic::new(format!(
            "target `{}` is BigQuery, which strata cannot execute against yet",
            project.target.name
        ))
        .help("use a DuckDB target to run models, or `strata compile` to check BigQuery SQL")
        .into()),
    }
}

/// The Ctrl-C flag, set once per process; the handler also interrupts the warehouse.
fn cancelled_flag(warehouse: &Arc<dyn Warehouse>) -> Arc<AtomicBool> {
    static FLAG: OnceLock<(Arc<AtomicBool>, Arc<Mutex<Option<Arc<dyn Warehouse>>>>)> = OnceLock::new();
    let (flag, current) = FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let current: Arc<Mutex<Option<Arc<dyn Warehouse>>>> = Arc::new(Mutex::new(None));
        let (handler_flag, handler_current) = (flag.clone(), current.clone());
        // A second handler cannot be installed; a failure here only loses Ctrl-C handling.
        let _ = ctrlc::set_handler(move || {
            handler_flag.store(true, Ordering::SeqCst);
            if let Ok(current) = handler_current.lock() {
                if let Some(warehouse) = current.as_ref() {
                    warehouse.interrupt();
                }
            }
        });
        (flag, current)
    });
    if let Ok(mut slot) = current.lock() {
        *slot = Some(warehouse.clone());
    }
    flag.clone()
}

pub fn execute(which: Which, args: &RunArgs) -> Result<i32, Failure> {
    let started = Instant::now();
    let session = Session::open(&args.project, &args.date)?;
    if !session.parsed.errors.is_empty() {
        return Err(Failure::Invalid(crate::diagnostic::Diagnostics(session.parsed.errors.0.clone())));
    }
    let graph = session.graph();
    let selected = session.select(&args.select)?;
    let nodes: BTreeSet<usize> = selected
        .into_iter()
        .filter(|&i| which.runs(graph.nodes[i].resource_type))
        .filter(|&i| !(graph.nodes[i].resource_type == ResourceType::Model && graph.nodes[i].materialized() == "ephemeral"))
        .collect();
    let tasks = execute::plan(graph, &nodes, which == Which::Build);
    if tasks.is_empty() {
        eprintln!("warning: nothing to {}: the selection has no {}", which.name(), match which {
            Which::Seed => "seeds",
            Which::Run => "models",
            Which::Test => "tests",
            Which::Build => "seeds, models or tests",
        });
        return Ok(0);
    }

    let warehouse = open_warehouse(&session.project)?;
    let cancelled = cancelled_flag(&warehouse);
    let threads = args.threads.or(session.project.target.threads).unwrap_or(4).max(1).min(tasks.len());
    let warehouse_nanos = Arc::new(AtomicU64::new(0));
    let connections = (0..threads)
        .map(|_| warehouse.connect().map(|c| Timed::new(c, warehouse_nanos.clone())))
        .collect::<Result<Vec<Timed>, _>>()
        .map_err(|err| Diagnostic::new(err.to_string()))?;

    let compiler = Compiler::new(&session.project, &session.templates, graph);
    let materializer = Materializer { compiler: &compiler, sql: warehouse.sql(), full_refresh: args.full_refresh };
    let reporter = Reporter::new(tasks.len(), args.output.no_progress, args.output.quiet);
    let mut setup = warehouse.connect().map_err(|err| Diagnostic::new(err.to_string()))?;

    // Schemas first, once each, before workers race to create them.
    let mut schemas = BTreeSet::new();
    for task in &tasks {
        if let Some(relation) = &graph.nodes[task.node].relation {
            if matches!(graph.nodes[task.node].resource_type, ResourceType::Model | ResourceType::Seed) && schemas.insert((relation.database.clone(), relation.schema.clone())) {
                setup
                    .execute(&warehouse.sql().create_schema(relation))
                    .map_err(|err| Diagnostic::new(format!("could not create schema `{}`: {err}", relation.schema.as_deref().unwrap_or_default())))?;
            }
        }
    }
    let runs_models = matches!(which, Which::Run | Which::Build);
    if runs_models {
        run_hooks(&compiler, setup.as_mut(), &session.project.on_run_start, "on-run-start")?;
    }

    let start_times = Mutex::new(vec![chrono::Utc::now(); tasks.len()]);
    let outcomes = execute::run(
        &tasks,
        connections,
        &PoolOptions { fail_fast: args.fail_fast, cancelled: &cancelled },
        |connection, task| {
            if let Ok(mut times) = start_times.lock() {
                times[task] = chrono::Utc::now();
            }
            reporter.set_message(&graph.nodes[tasks[task].node].name);
            materializer.run(connection, tasks[task].node)
        },
        |task, reason| Outcome::skipped(&graph.nodes[tasks[task].node], reason),
        |_, outcome| reporter.finished(outcome),
    );
    if runs_models && !cancelled.load(Ordering::SeqCst) {
        run_hooks(&compiler, setup.as_mut(), &session.project.on_run_end, "on-run-end")?;
    }

    let elapsed = started.elapsed().as_secs_f64();
    let run_nodes: Vec<_> = tasks.iter().map(|t| &graph.nodes[t.node]).collect();
    reporter.summary(&run_nodes, &outcomes, elapsed);
    let times = start_times.into_inner().unwrap_or_default();
    let results: Vec<RunResult<'_>> = tasks
        .iter()
        .zip(&outcomes)
        .zip(times)
        .map(|((task, outcome), started_at)| RunResult { node: &graph.nodes[task.node], outcome, started_at })
        .collect();
    let invocation = json!({
        "which": which.name(),
        "select": args.select.select,
        "exclude": args.select.exclude,
        "date": session.date.ds(),
        "target": session.project.target.name,
        "vars": args.project.vars,
        "full_refresh": args.full_refresh,
        "threads": threads,
    });
    artifacts::write(&session.project, "run_results.json", &artifacts::run_results(&results, elapsed, invocation, warehouse_nanos.load(Ordering::Relaxed) as f64 / 1e9))?;
    artifacts::write(&session.project, "manifest.json", &artifacts::manifest(&session.project, graph, &[]))?;

    if cancelled.load(Ordering::SeqCst) {
        eprintln!("interrupted: stopped scheduling and cancelled running queries");
        return Ok(130);
    }
    Ok(if outcomes.iter().any(|o| o.status.is_failure()) { 1 } else { 0 })
}

fn run_hooks(compiler: &Compiler<'_>, connection: &mut dyn Connection, hooks: &[String], name: &str) -> Result<(), Failure> {
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

pub fn show(args: &ShowArgs) -> Result<i32, Failure> {
    let session = Session::open(&args.project, &args.date)?;
    if !session.parsed.errors.is_empty() {
        return Err(Failure::Invalid(crate::diagnostic::Diagnostics(session.parsed.errors.0.clone())));
    }
    let graph = session.graph();
    let compiler = Compiler::new(&session.project, &session.templates, graph);
    let (title, sql) = match (&args.select, &args.inline) {
        (_, Some(inline)) => ("inline query".to_string(), compiler.render_text("<inline>", inline, None)?),
        (Some(selector), None) => {
            let selected = crate::graph::select::select_nodes(graph, std::slice::from_ref(selector), &[])?;
            let Some(&index) = selected.iter().find(|&&i| matches!(graph.nodes[i].resource_type, ResourceType::Model | ResourceType::Seed)) else {
                return Err(Diagnostic::new(format!("`--select {selector}` selects no model or seed")).help("pass a model name, e.g. `--select dau`").into());
            };
            let node = &graph.nodes[index];
            let sql = match node.resource_type {
                ResourceType::Seed => format!("select * from {}", node.relation.as_ref().map(|r| r.to_string()).unwrap_or_default()),
                _ => compiler.compile_one(index, false)?.sql,
            };
            (format!("node `{}`", node.name), sql)
        }
        (None, None) => return Err(Diagnostic::new("`strata show` needs `--select <model>` or `--inline \"<query>\"`").into()),
    };
    let warehouse = open_warehouse(&session.project)?;
    let mut connection = warehouse.connect().map_err(|err| Diagnostic::new(err.to_string()))?;
    let table = connection
        .query(&warehouse.sql().limit_rows(&sql, args.limit))
        .map_err(|err| Diagnostic::new(format!("the query of {title} failed: {err}")))?;
    let mut out = std::io::stdout().lock();
    match args.output {
        ShowOutput::Table => {
            writeln!(out, "Previewing {title}:")?;
            writeln!(out, "{}", render_table(&table))?;
        }
        ShowOutput::Json => {
            let rows: Vec<serde_json::Value> = table
                .rows
                .iter()
                .map(|row| serde_json::Value::Object(table.columns.iter().cloned().zip(row.iter().map(|c| c.to_json())).collect()))
                .collect();
            writeln!(out, "{}", json!({"show": rows}))?;
        }
    }
    Ok(0)
}

