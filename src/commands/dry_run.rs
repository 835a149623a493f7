//! `strata run --dry-run` and `build --dry-run`: every selected model compiled
//! and sent to the warehouse to be checked, not run. BigQuery answers each with
//! the bytes the query would scan, priced on demand; DuckDB checks it with
//! `EXPLAIN`. Nothing is built.

use std::io::Write;
use std::sync::Mutex;

use crate::commands::{Failure, Session, plural};
use crate::compile::{CompiledNode, Compiler};
use crate::core::diagnostic::Diagnostics;
use crate::core::format::bytes;
use crate::core::job::Job;
use crate::graph::ResourceType;
use crate::options::RunOptions;
use crate::warehouse::Warehouse;

const TIB: f64 = 1024.0 * 1024.0 * 1024.0 * 1024.0;

/// What the warehouse said of one model.
struct Estimate {
    name: String,
    result: Result<Option<u64>, crate::warehouse::WarehouseError>,
}

pub fn dry_run(args: &RunOptions) -> Result<i32, Failure> {
    let session = Session::open(&args.project, &args.dates)?;
    session.require_parsed()?;
    let graph = session.graph();
    let selected = session.select(&args.selection)?;
    let models: std::collections::BTreeSet<usize> = selected
        .into_iter()
        .filter(|&i| graph.nodes[i].resource_type == ResourceType::Model && graph.nodes[i].materialized() != "ephemeral")
        .collect();
    let compiler = Compiler::new(&session.project, &session.templates, graph);
    let (compiled, errors) = compiler.compile(&models, None, &|_| Ok(()));
    if !errors.is_empty() {
        return Err(Failure::Invalid(Diagnostics(errors.0)));
    }
    let warehouse = crate::warehouse::open(&session.project, args.lock_timeout)?;
    let target = &session.project.target;
    let threads = args.threads.or(target.threads).unwrap_or(4).clamp(1, compiled.len().max(1));
    let estimates = estimate_all(warehouse.as_ref(), &compiled, threads, |node| graph.nodes[node.index].name.clone(), target.maximum_bytes_billed);

    let price = warehouse.price_per_tib();
    let limit = target.maximum_bytes_billed;
    let mut out = std::io::stdout().lock();
    let mut total = 0u64;
    let mut failed = 0;
    for estimate in &estimates {
        match &estimate.result {
            Ok(Some(scanned)) => {
                total = total.saturating_add(*scanned);
                let cost = price.map(|price| format!("  ${:.2}", *scanned as f64 / TIB * price)).unwrap_or_default();
                if limit.is_some_and(|limit| *scanned > limit) {
                    failed += 1;
                    writeln!(
                        out,
                        "ERROR model {}  {}{cost}  above maximum_bytes_billed ({})",
                        estimate.name,
                        bytes(*scanned),
                        bytes(limit.unwrap_or_default())
                    )?;
                } else {
                    writeln!(out, "OK    model {}  {}{cost}", estimate.name, bytes(*scanned))?;
                }
            }
            Ok(None) => writeln!(out, "OK    model {}  checked", estimate.name)?,
            Err(message) => {
                failed += 1;
                let message = message.to_string();
                let indented: Vec<String> = message.trim_end().lines().map(|line| format!("  {line}").trim_end().to_string()).collect();
                writeln!(out, "ERROR model {}\n{}", estimate.name, indented.join("\n"))?;
            }
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

/// Each model's dry run, on up to `threads` connections at once, in the order given.
fn estimate_all(
    warehouse: &dyn Warehouse,
    compiled: &[CompiledNode],
    threads: usize,
    name: impl Fn(&CompiledNode) -> String + Sync,
    maximum_bytes_billed: Option<u64>,
) -> Vec<Estimate> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Estimate>>> = Mutex::new((0..compiled.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut connection = warehouse.connect().ok();
                loop {
                    let index = {
                        let Ok(mut next) = next.lock() else { return };
                        let index = *next;
                        *next += 1;
                        index
                    };
                    let Some(node) = compiled.get(index) else { return };
                    let job = Job { sql: node.sql.clone(), dry_run: true, maximum_bytes_billed, ..Job::default() };
                    let result = match connection.as_mut() {
                        Some(connection) => connection.run(&job).map(|stats| stats.bytes_processed),
                        None => Err(crate::warehouse::WarehouseError::Connect("could not connect to the warehouse".into())),
                    };
                    if let Ok(mut results) = results.lock() {
                        results[index] = Some(Estimate { name: name(node), result });
                    }
                }
            });
        }
    });
    results.into_inner().unwrap_or_default().into_iter().flatten().collect()
}
