//! The phases of a building command: one pool run per execution date, in
//! order; for a backfill, what runs once before the first date, per date, and
//! once after the last; for `--missing`, the dates the partition status finds
//! missing, stale or failed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use crate::core::dates::ExecutionDate;
use crate::core::diagnostic::Diagnostic;
use crate::core::format::{TIB, plural};
use crate::graph::{Graph, ResourceType};
use crate::session::options::RunOptions;
use crate::session::partition_status::{self, State, Status};
use crate::session::{Failure, OpenWarehouse, Session};
use crate::warehouse::Connection;

/// One pool run: the nodes of one execution date.
pub struct Phase {
    pub date: ExecutionDate,
    /// Unique ids of the nodes to run.
    pub nodes: BTreeSet<String>,
}

/// Splits the nodes to run into phases. One date: one phase. A backfill: seeds,
/// unit tests and the other models that partitioned models read, once; then
/// the partitioned models (and their tests) once per date in date order; then
/// everything else once, for the last date.
pub fn phases(graph: &Graph, nodes: &BTreeSet<usize>, dates: &[ExecutionDate]) -> Vec<Phase> {
    let ids = |filter: &dyn Fn(usize) -> bool| -> BTreeSet<String> {
        nodes.iter().copied().filter(|&i| filter(i)).map(|i| graph.nodes[i].unique_id.clone()).collect()
    };
    let (Some(&first), Some(&last)) = (dates.first(), dates.last()) else { return Vec::new() };
    if dates.len() == 1 {
        let nodes = ids(&|_| true);
        return if nodes.is_empty() { Vec::new() } else { vec![Phase { date: first, nodes }] };
    }
    let partitioned = |i: usize| graph.nodes[i].partition().is_some();
    let per_date = |i: usize| runs_per_date(graph, nodes, i);
    // The models a partitioned model reads (a staging view) are built before its first date.
    let mut inputs = BTreeSet::new();
    let mut walk: Vec<usize> = nodes.iter().copied().filter(|&i| partitioned(i)).collect();
    let mut seen: BTreeSet<usize> = walk.iter().copied().collect();
    while let Some(node) = walk.pop() {
        for parent in graph.parents(node).filter(|&p| nodes.contains(&p) && seen.insert(p)) {
            walk.push(parent);
            if matches!(graph.nodes[parent].resource_type, ResourceType::Model | ResourceType::Snapshot) && !partitioned(parent) {
                inputs.insert(parent);
            }
        }
    }
    let first_phase = |i: usize| matches!(graph.nodes[i].resource_type, ResourceType::Seed | ResourceType::UnitTest) || inputs.contains(&i);
    let mut phases = vec![Phase { date: first, nodes: ids(&first_phase) }];
    for &date in dates {
        phases.push(Phase { date, nodes: ids(&per_date) });
    }
    phases.push(Phase {
        date: last,
        nodes: ids(&|i| {
            !first_phase(i)
                && (!per_date(i)
                    || graph.nodes[i].resource_type == ResourceType::Source && graph.children(i).any(|c| nodes.contains(&c) && !partitioned(c)))
        }),
    });
    phases.retain(|phase| !phase.nodes.is_empty());
    phases
}

/// Whether node `i` of a backfill of `nodes` runs once per date: a
/// partitioned model, a test of partitioned models only, a source check read
/// by a partitioned model.
pub fn runs_per_date(graph: &Graph, nodes: &BTreeSet<usize>, i: usize) -> bool {
    let partitioned = |i: usize| graph.nodes[i].partition().is_some();
    match graph.nodes[i].resource_type {
        ResourceType::Model => partitioned(i),
        ResourceType::Test => {
            let models: Vec<usize> = graph.parents(i).filter(|&p| graph.nodes[p].resource_type == ResourceType::Model).collect();
            !models.is_empty() && models.into_iter().all(partitioned)
        }
        ResourceType::Source => graph.children(i).any(|c| nodes.contains(&c) && partitioned(c)),
        _ => false,
    }
}

/// The phases of `run --missing` / `build --missing` among `nodes` (what the
/// command runs of the selection): on each date, the models `strata status`
/// finds missing, stale or failed and the partitioned models downstream of
/// them, with their tests and source checks; after the last such date, the
/// rest of what is downstream of them once. The plan is printed first;
/// `None` when there is nothing to build, or with `--dry-run`.
pub fn missing_phases(session: &Session, nodes: &BTreeSet<usize>, args: &RunOptions, open: OpenWarehouse<'_>) -> Result<Option<Vec<Phase>>, Failure> {
    let graph = session.graph();
    let warehouse = open(&session.project)?;
    let mut connection = warehouse.connect().map_err(|err| Diagnostic::new(err.to_string()))?;
    let status = partition_status::read(&session.project, graph, nodes, &session.dates, connection.as_mut(), warehouse.sql())
        .map_err(|err| Diagnostic::new(format!("could not read the partitions: {err}")))?;
    let to_build = status.to_build(graph, nodes);
    let mut out = std::io::stdout().lock();
    let (Some(first), Some(last)) = (session.dates.first(), session.dates.last()) else { return Ok(None) };
    let range = if first == last { first.ds() } else { format!("{}..{}", first.ds(), last.ds()) };
    if to_build.is_empty() {
        writeln!(out, "Nothing to build: every date of {range} of the selected partitioned models is built")?;
        return Ok(None);
    }
    print_missing(&mut out, graph, &status, &to_build, &range)?;
    // Where the warehouse bills by bytes, what the plan would scan.
    if let Some(price) = warehouse.price_per_tib() {
        let scanned = bytes_to_scan(session, &to_build, connection.as_mut())?;
        let cost = scanned as f64 / TIB * price;
        writeln!(out, "Dry run: {} would be processed, about ${cost:.2} on demand (${price} per TiB)", crate::core::format::bytes(scanned))?;
    }
    drop(connection);
    drop(warehouse);
    if args.dry_run {
        writeln!(out, "\n`--dry-run`: nothing was built")?;
        return Ok(None);
    }
    writeln!(out)?;
    drop(out);
    Ok(Some(rebuilding(graph, nodes, &to_build)))
}

/// Prints what `--missing` builds: each date with its models, and why each is built.
fn print_missing(
    out: &mut impl Write,
    graph: &Graph,
    status: &Status,
    to_build: &BTreeMap<ExecutionDate, BTreeSet<usize>>,
    range: &str,
) -> Result<(), Failure> {
    let pairs: usize = to_build.values().map(BTreeSet::len).sum();
    writeln!(
        out,
        "Missing, stale or failed in {range}, with what depends on them: {pairs} (model, date) {} on {} {}",
        plural(pairs, "pair", "pairs"),
        to_build.len(),
        plural(to_build.len(), "date", "dates")
    )?;
    let why: BTreeMap<(usize, ExecutionDate), State> =
        status.rows.iter().flat_map(|row| row.dates.iter().filter(|d| d.state.needs_build()).map(move |d| ((row.node, d.date), d.state))).collect();
    for (date, models) in to_build {
        let names: Vec<String> = graph
            .topological_order()
            .into_iter()
            .filter(|i| models.contains(i))
            .map(|i| match why.get(&(i, *date)) {
                Some(state) => format!("{} ({})", graph.nodes[i].name, state.name()),
                None => graph.nodes[i].name.clone(),
            })
            .collect();
        writeln!(out, "  {}  {}", date.ds(), names.join(", "))?;
    }
    Ok(())
}

/// The bytes the models of `to_build` would scan, from the warehouse's dry run of each.
fn bytes_to_scan(session: &Session, to_build: &BTreeMap<ExecutionDate, BTreeSet<usize>>, connection: &mut dyn Connection) -> Result<u64, Failure> {
    let graph = session.graph();
    let mut scanned = 0u64;
    for (&date, models) in to_build {
        let (templates, parsed) = session.prepare(date)?;
        let dated: BTreeSet<usize> = models.iter().filter_map(|&i| parsed.graph.by_id.get(&graph.nodes[i].unique_id).copied()).collect();
        let compiler = crate::compile::Compiler::new(&session.project, &templates, &parsed.graph);
        let (compiled, _) = compiler.compile(&dated, None, &|_| Ok(()));
        for node in compiled {
            let job =
                crate::core::job::Job { maximum_bytes_billed: session.project.target.maximum_bytes_billed, ..crate::core::job::Job::new(node.sql) };
            let stats = connection.estimate(&job).map_err(|err| {
                Diagnostic::new(format!("the dry run of `{}` for {} failed: {err}", parsed.graph.nodes[node.index].name, date.ds()))
            })?;
            scanned = scanned.saturating_add(stats.bytes_processed.unwrap_or(0));
        }
    }
    Ok(scanned)
}

/// The phases that rebuild `to_build`: each date's models with their tests
/// and source checks, then once, after the last date, what else depends on them.
fn rebuilding(graph: &Graph, nodes: &BTreeSet<usize>, to_build: &BTreeMap<ExecutionDate, BTreeSet<usize>>) -> Vec<Phase> {
    let mut phases = Vec::new();
    let mut rebuilt: BTreeSet<usize> = BTreeSet::new();
    for (&date, models) in to_build {
        rebuilt.extend(models);
        let tests = nodes.iter().copied().filter(|&i| {
            graph.nodes[i].resource_type == ResourceType::Test && runs_per_date(graph, nodes, i) && graph.parents(i).any(|p| models.contains(&p))
        });
        let checks = nodes
            .iter()
            .copied()
            .filter(|&i| graph.nodes[i].resource_type == ResourceType::Source && !graph.nearest(i, true, |n| nodes.contains(&n)).is_disjoint(models));
        let ids = models.iter().copied().chain(tests).chain(checks).map(|i| graph.nodes[i].unique_id.clone()).collect();
        phases.push(Phase { date, nodes: ids });
    }
    // Once, after the last date: what else depends on what was rebuilt.
    let mut downstream: BTreeSet<usize> = BTreeSet::new();
    let mut walk: Vec<usize> = rebuilt.iter().copied().collect();
    while let Some(node) = walk.pop() {
        for child in graph.children(node) {
            if downstream.insert(child) {
                walk.push(child);
            }
        }
    }
    let rest: BTreeSet<String> = downstream
        .into_iter()
        .filter(|i| nodes.contains(i) && !runs_per_date(graph, nodes, *i) && graph.nodes[*i].resource_type != ResourceType::Source)
        .map(|i| graph.nodes[i].unique_id.clone())
        .collect();
    if let (false, Some(&last)) = (rest.is_empty(), to_build.keys().last()) {
        phases.push(Phase { date: last, nodes: rest });
    }
    phases
}
