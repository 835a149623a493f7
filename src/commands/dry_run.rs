//! `strata run --dry-run` and `build --dry-run`: every selected model compiled
//! and sent to the warehouse to be checked, not run. BigQuery answers each with
//! the bytes the query would scan, priced on demand; DuckDB checks it with
//! `EXPLAIN`. Nothing is built.

use std::io::Write;
use std::sync::atomic::AtomicBool;

use crate::compile::Compiler;
use crate::core::diagnostic::Diagnostic;
use crate::core::diagnostic::Diagnostics;
use crate::core::format::{TIB, bytes, plural};
use crate::core::job::Job;
use crate::core::outcome::{Outcome, Status};
use crate::execute::{self, PoolOptions, Task};
use crate::graph::ResourceType;
use crate::session::options::RunOptions;
use crate::session::run::Which;
use crate::session::{Failure, Session};

/// Estimates what `which` (`run` or `build`) would build.
pub fn dry_run(which: Which, args: &RunOptions) -> Result<i32, Failure> {
    if !matches!(which, Which::Run | Which::Build) {
        return Err(Diagnostic::new(format!(
            "`--dry-run` estimates models: use it with `strata run` or `strata build`, not `strata {}`",
            which.name()
        ))
        .into());
    }
    let session = Session::open(&args.project, &args.dates)?;
    session.require_parsed()?;
    let state = session.state(&args.selection)?;
    let selected = session.select_with(&args.selection, state)?;
    let graph = session.graph();
    let models: std::collections::BTreeSet<usize> = selected
        .into_iter()
        .filter(|&i| graph.nodes[i].resource_type == ResourceType::Model && graph.nodes[i].materialized() != "ephemeral")
        .collect();
    let warehouse = session.project.open_warehouse(args.lock_timeout)?;
    let mut setup = warehouse.connect().map_err(|err| Diagnostic::new(err.to_string()))?;
    let deferred = crate::session::deferred_graph(session.graph(), args.deferral, state, &models, Some(setup.as_mut()))?;
    drop(setup);
    let graph = deferred.as_ref();
    let compiler = Compiler::new(&session.project, &session.templates, graph).with_empty_inputs(args.empty);
    let (compiled, errors) = compiler.compile(&models, None, &|_| Ok(()));
    if !errors.is_empty() {
        return Err(Failure::Invalid(Diagnostics(errors.0)));
    }
    let target = &session.project.target;
    let threads = args.threads.or(target.threads).unwrap_or(4).clamp(1, compiled.len().max(1));
    // The run's worker pool: one connection per worker, no model waiting on another.
    let tasks: Vec<Task> =
        compiled.iter().map(|node| Task { node: node.index, parents: Vec::new(), label: graph.nodes[node.index].label() }).collect();
    let connections = (0..threads).map(|_| warehouse.connect()).collect::<Result<Vec<_>, _>>().map_err(|err| Diagnostic::new(err.to_string()))?;
    let never = AtomicBool::new(false);
    let estimates = execute::run(
        &tasks,
        connections,
        &PoolOptions { fail_fast: false, cancelled: &never },
        |connection, task| {
            let job = Job { sql: compiled[task].sql.clone(), maximum_bytes_billed: target.maximum_bytes_billed, ..Job::default() };
            match connection.estimate(&job) {
                Ok(stats) => Outcome { stats, ..Outcome::new(Status::Success, tasks[task].label.clone()) },
                Err(err) => Outcome::error(tasks[task].label.clone(), err.to_string()),
            }
        },
        |task, reason| Outcome::skipped(tasks[task].label.clone(), reason),
        |_, _| {},
    );

    let price = warehouse.price_per_tib();
    let limit = target.maximum_bytes_billed;
    let mut out = std::io::stdout().lock();
    let mut total = 0u64;
    let mut failed = 0;
    for estimate in &estimates {
        let label = &estimate.description;
        match (estimate.status.is_failure(), estimate.stats.bytes_processed) {
            (true, _) => {
                failed += 1;
                let indented: Vec<String> = estimate.message.trim_end().lines().map(|line| format!("  {line}").trim_end().to_string()).collect();
                writeln!(out, "ERROR {label}\n{}", indented.join("\n"))?;
            }
            (false, Some(scanned)) => {
                total = total.saturating_add(scanned);
                let cost = price.map(|price| format!("  ${:.2}", scanned as f64 / TIB * price)).unwrap_or_default();
                if limit.is_some_and(|limit| scanned > limit) {
                    failed += 1;
                    writeln!(out, "ERROR {label}  {}{cost}  above maximum_bytes_billed ({})", bytes(scanned), bytes(limit.unwrap_or_default()))?;
                } else {
                    writeln!(out, "OK    {label}  {}{cost}", bytes(scanned))?;
                }
            }
            (false, None) => writeln!(out, "OK    {label}  checked")?,
        }
    }
    let count = estimates.len();
    let models = plural(count, "model", "models");
    match price {
        Some(price) => writeln!(
            out,
            "\nDry run of {count} {models} for {}: {} would be processed, about ${:.2} on demand (${price} per TiB); nothing ran",
            session.date.ds(),
            bytes(total),
            total as f64 / TIB * price
        )?,
        None => writeln!(out, "\nDry run of {count} {models} for {}: each checked with EXPLAIN; nothing ran", session.date.ds())?,
    }
    Ok(if failed > 0 { 1 } else { 0 })
}
