//! Which dates are built: for each date-partitioned model and each source a
//! check waits on (`wait_for: {partition: ...}`), the state of every date of
//! a range, read from the warehouse (`warehouse::partitions`: its metadata and
//! strata's partition log) and from the last run_results.json.
//!
//! A model's partition is **missing** when absent; **failed** when the last
//! run_results.json records an error for that model and date after the
//! partition was written; **stale** when the SQL it was built with (as the
//! partition log records it, else as the last manifest does) is not the
//! model's SQL now, or an input's partition of the same date (an upstream
//! model's, or a source's) was written after it; else **built**.
//! `build --missing` rebuilds the (model, date) pairs that are not built,
//! with what depends on them on the same dates.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use crate::core::dates::ExecutionDate;
use crate::graph::source_check::{SourceCheck, WaitFor};
use crate::graph::state::Fingerprints;
use crate::graph::{Graph, Node, NodeDetails, ResourceType};
use crate::project::Project;
use crate::sql::SqlGenerator;
use crate::sql::partitions::PartitionedTable;
use crate::warehouse::partitions::{self, PartitionInfo};
use crate::warehouse::{Connection, RelationKey, WarehouseError};

/// The state of one date of one model (or source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Built,
    Stale,
    Missing,
    Failed,
}

impl State {
    pub const ALL: [State; 4] = [State::Built, State::Stale, State::Missing, State::Failed];

    pub fn name(self) -> &'static str {
        match self {
            State::Built => "built",
            State::Stale => "stale",
            State::Missing => "missing",
            State::Failed => "failed",
        }
    }

    /// The grid's letter for the state.
    pub fn letter(self) -> char {
        match self {
            State::Built => 'b',
            State::Stale => 'S',
            State::Missing => 'M',
            State::Failed => 'F',
        }
    }

    /// Whether `build --missing` rebuilds it.
    pub fn needs_build(self) -> bool {
        self != State::Built
    }
}

/// One date of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateStatus {
    pub date: ExecutionDate,
    pub state: State,
    pub rows: Option<u64>,
    pub written_at: Option<DateTime<Utc>>,
    /// Why it is stale or failed.
    pub reasons: Vec<String>,
}

/// A model's or a source's dates.
#[derive(Debug, Clone)]
pub struct Row {
    /// The node's index in the graph.
    pub node: usize,
    pub dates: Vec<DateStatus>,
}

/// The status of a range of dates.
pub struct Status {
    pub dates: Vec<ExecutionDate>,
    /// Sources first, then models, each in the graph's order.
    pub rows: Vec<Row>,
    /// The metadata queries sent.
    pub queries: Vec<String>,
}

/// A model's name; a source's `source.table`.
pub fn display_name(node: &Node) -> String {
    match &node.details {
        NodeDetails::Source { source_name, .. } => format!("{source_name}.{}", node.name),
        _ => node.name.clone(),
    }
}

/// Where a node's partitions are read from.
fn partitioned_table(node: &Node) -> Option<PartitionedTable> {
    let relation = node.relation.clone()?;
    match &node.details {
        NodeDetails::Model { config, .. } => {
            let partition = config.partition.as_ref()?;
            Some(PartitionedTable { relation, field: partition.field.clone(), loaded_at: None })
        }
        NodeDetails::Source { loaded_at_field, .. } => {
            let check = SourceCheck::of(node)?.ok()?;
            let Some(WaitFor::Partition(field)) = check.wait_for else { return None };
            let loaded_at = check.freshness.map(|f| f.loaded_at_field).or_else(|| loaded_at_field.clone());
            Some(PartitionedTable { relation, field, loaded_at })
        }
        _ => None,
    }
}

/// A model whose date partitions status reads (an incremental, or a table, partitioned by date).
pub fn is_partitioned_model(node: &Node) -> bool {
    node.resource_type == ResourceType::Model && node.partition().is_some() && node.materialized() != "ephemeral"
}

/// The inputs whose partitions of the same date a model's partition is
/// compared with: the nearest partitioned models and waited-for sources
/// upstream, through views, ephemeral models and tables without partitions.
fn inputs(graph: &Graph, index: usize) -> BTreeSet<usize> {
    graph.nearest(index, false, |node| partitioned_table(&graph.nodes[node]).is_some())
}

/// Reads the status of `selected` (its partitioned models and waited-for
/// sources, and the sources those models read) for `dates`.
pub fn read(
    project: &Project,
    graph: &Graph,
    selected: &BTreeSet<usize>,
    dates: &[ExecutionDate],
    connection: &mut dyn Connection,
    sql: &dyn SqlGenerator,
) -> Result<Status, WarehouseError> {
    let (Some(&first), Some(&last)) = (dates.first(), dates.last()) else {
        return Ok(Status { dates: Vec::new(), rows: Vec::new(), queries: Vec::new() });
    };
    let models: Vec<usize> = selected.iter().copied().filter(|&i| is_partitioned_model(&graph.nodes[i])).collect();
    let mut shown: BTreeSet<usize> = selected.iter().copied().filter(|&i| graph.nodes[i].resource_type == ResourceType::Source).collect();
    shown.retain(|&i| partitioned_table(&graph.nodes[i]).is_some());
    let inputs: HashMap<usize, BTreeSet<usize>> = models.iter().map(|&m| (m, inputs(graph, m))).collect();
    shown.extend(inputs.values().flatten().filter(|&&i| graph.nodes[i].resource_type == ResourceType::Source));
    shown.extend(&models);
    let mut read: BTreeSet<usize> = shown.clone();
    read.extend(inputs.values().flatten());
    let tables: Vec<PartitionedTable> = read.iter().filter_map(|&i| partitioned_table(&graph.nodes[i])).collect();
    let log = project.target.partition_log(sql);
    let found = partitions::read(connection, sql, &tables, (first, last), Some(&log))?;
    let partitions_of = |index: usize| graph.nodes[index].relation.as_ref().and_then(|r| found.partitions.get(&RelationKey::of(r)));

    let checksums = checksums(project, graph, &models);
    let failures = last_failures(&project.target_path, (first, last));
    let mut rows = Vec::new();
    let order = graph.topological_order();
    let ordered = order.iter().copied().filter(|i| shown.contains(i));
    let (sources, models_first): (Vec<usize>, Vec<usize>) = ordered.partition(|&i| graph.nodes[i].resource_type == ResourceType::Source);
    for index in sources.into_iter().chain(models_first) {
        let node = &graph.nodes[index];
        let partitions = partitions_of(index);
        let is_model = node.resource_type == ResourceType::Model;
        let dates = dates
            .iter()
            .map(|&date| {
                let info = partitions.and_then(|p| p.get(&date)).copied();
                let mut status = DateStatus {
                    date,
                    state: State::Built,
                    rows: info.map(|i| i.rows),
                    written_at: info.and_then(|i| i.written_at),
                    reasons: Vec::new(),
                };
                match (info, failures.get(&(node.unique_id.clone(), date))) {
                    (info, Some(failed)) if is_model && info.and_then(|i| i.written_at).is_none_or(|written| written < failed.at) => {
                        status.state = State::Failed;
                        status.reasons.push(format!("the last run failed: {}", failed.message));
                    }
                    (None, _) => status.state = State::Missing,
                    (Some(info), _) if is_model => {
                        // The SQL it was built with: as the partition log records it, else as the last manifest does.
                        let key = node.relation.as_ref().map(|r| (RelationKey::of(r), date));
                        let logged = key.and_then(|key| found.logged.get(&key)).and_then(|l| l.checksum.clone());
                        if let Some((now, manifest)) = checksums.get(&index)
                            && logged.or(manifest.clone()).is_some_and(|built| &built != now)
                        {
                            status.reasons.push("its SQL changed since it was built".to_string());
                        }
                        for &input in inputs.get(&index).into_iter().flatten() {
                            let written = partitions_of(input).and_then(|p| p.get(&date)).and_then(|i: &PartitionInfo| i.written_at);
                            if let (Some(written), Some(own)) = (written, info.written_at)
                                && written > own
                            {
                                let input = &graph.nodes[input];
                                status.reasons.push(format!("{} `{}` was written after it", input.resource_type.name(), display_name(input)));
                            }
                        }
                        if !status.reasons.is_empty() {
                            status.state = State::Stale;
                        }
                    }
                    (Some(_), _) => {}
                }
                status
            })
            .collect();
        rows.push(Row { node: index, dates });
    }
    Ok(Status { dates: dates.to_vec(), rows, queries: found.queries })
}

/// Each model's SQL checksum now, and as the last manifest (`target/manifest.json`) records it.
fn checksums(project: &Project, graph: &Graph, models: &[usize]) -> HashMap<usize, (String, Option<String>)> {
    let manifest = read_json(&project.target_path.join("manifest.json"));
    let fingerprints = Fingerprints::of(project, graph);
    models
        .iter()
        .map(|&index| {
            let recorded = manifest.as_ref().and_then(|m| m["nodes"][&graph.nodes[index].unique_id]["checksum"]["checksum"].as_str());
            (index, (fingerprints.nodes[index].checksum.clone(), recorded.map(str::to_string)))
        })
        .collect()
}

/// A failure the last run_results.json records.
struct Failed {
    /// When it completed.
    at: DateTime<Utc>,
    /// The error's first line.
    message: String,
}

/// The failures the last run_results.json records in `first..=last`, by (unique id, date).
fn last_failures(target: &Path, (first, last): (ExecutionDate, ExecutionDate)) -> HashMap<(String, ExecutionDate), Failed> {
    let Some(results) = read_json(&target.join("run_results.json")) else { return HashMap::new() };
    let mut failures = HashMap::new();
    for result in results["results"].as_array().into_iter().flatten() {
        if !matches!(result["status"].as_str(), Some("error" | "fail")) {
            continue;
        }
        let (Some(id), Some(date)) = (result["unique_id"].as_str(), result["execution_date"].as_str()) else { continue };
        let Ok(date) = ExecutionDate::parse(date, "execution_date") else { continue };
        let at = result["timing"][0]["completed_at"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
        if (first..=last).contains(&date)
            && let Some(at) = at
        {
            let message = result["message"].as_str().and_then(|m| m.lines().next()).unwrap_or("failed").trim().to_string();
            failures.insert((id.to_string(), date), Failed { at, message });
        }
    }
    failures
}

fn read_json(path: &Path) -> Option<Json> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

impl Status {
    /// How many dates of models are in each state.
    pub fn counts(&self, graph: &Graph, resource_type: ResourceType) -> BTreeMap<State, usize> {
        let mut counts: BTreeMap<State, usize> = State::ALL.iter().map(|&s| (s, 0)).collect();
        for row in self.rows.iter().filter(|row| graph.nodes[row.node].resource_type == resource_type) {
            for date in &row.dates {
                *counts.entry(date.state).or_default() += 1;
            }
        }
        counts
    }

    /// The models to build on each date for `--missing`: those not built,
    /// and (among `runnable`) the partitioned models downstream of them.
    pub fn to_build(&self, graph: &Graph, runnable: &BTreeSet<usize>) -> BTreeMap<ExecutionDate, BTreeSet<usize>> {
        let mut plan: BTreeMap<ExecutionDate, BTreeSet<usize>> = BTreeMap::new();
        for row in self.rows.iter().filter(|row| graph.nodes[row.node].resource_type == ResourceType::Model && runnable.contains(&row.node)) {
            for date in row.dates.iter().filter(|d| d.state.needs_build()) {
                plan.entry(date.date).or_default().insert(row.node);
            }
        }
        for models in plan.values_mut() {
            let mut walk: Vec<usize> = models.iter().copied().collect();
            while let Some(node) = walk.pop() {
                for child in graph.children(node) {
                    if runnable.contains(&child) && is_partitioned_model(&graph.nodes[child]) && models.insert(child) {
                        walk.push(child);
                    } else if !is_partitioned_model(&graph.nodes[child]) && graph.nodes[child].resource_type == ResourceType::Model {
                        // Through a view or an ephemeral model to the partitioned models it feeds.
                        walk.push(child);
                    }
                }
            }
        }
        plan
    }

    /// The status as JSON, for scripts (`--output json`).
    pub fn to_json(&self, graph: &Graph) -> Json {
        let rows: Vec<Json> = self
            .rows
            .iter()
            .map(|row| {
                let node = &graph.nodes[row.node];
                let dates: Vec<Json> = row
                    .dates
                    .iter()
                    .map(|d| {
                        json!({
                            "date": d.date.ds(),
                            "state": d.state.name(),
                            "rows": d.rows,
                            "written_at": d.written_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
                            "reasons": d.reasons,
                        })
                    })
                    .collect();
                json!({
                    "unique_id": node.unique_id,
                    "name": node.name,
                    "resource_type": node.resource_type.name(),
                    "relation": node.relation.as_ref().map(|r| r.display_name()),
                    "dates": dates,
                })
            })
            .collect();
        let summary = |resource_type| {
            self.counts(graph, resource_type).into_iter().map(|(s, n)| (s.name().to_string(), json!(n))).collect::<serde_json::Map<_, _>>()
        };
        json!({
            "dates": self.dates.iter().map(|d| d.ds()).collect::<Vec<_>>(),
            "nodes": rows,
            "summary": {"models": summary(ResourceType::Model), "sources": summary(ResourceType::Source)},
        })
    }
}
