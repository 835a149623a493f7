//! The docs site: one `index.html` (its script, styles and data inline,
//! nothing fetched from the network) that draws the whole DAG, laid out here
//! in layers, with each node's description, columns, config, tests, SQL and
//! last run; and `catalog.json` in dbt's shape, read from the warehouse. The
//! `docs` command (`commands/docs.rs`) decides when to read the catalog and
//! writes the files; `serve` answers the site's requests.

mod layout;
pub mod serve;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as Json, json};

use crate::core::dates::ExecutionDate;
use crate::core::diagnostic::Diagnostic;
use crate::core::hash::FastMap;
use crate::core::relation::RelationKind;
use crate::graph::{Graph, Node, NodeDetails, ResourceType};
use crate::project::Project;
use crate::warehouse::{Connection, RelationKey, Schema};

/// The page: styles and script inline; `__STRATA_DATA__` becomes the project's data.
const PAGE: &str = include_str!("page.html");

/// The warehouse's catalog of every relation of `graph`, in dbt's
/// `catalog.json` shape; a relation that does not exist yet is left out.
/// `invocation_id` names the invocation that read it.
pub fn catalog(graph: &Graph, connection: &mut dyn Connection, invocation_id: String) -> Result<Json, Diagnostic> {
    let relations: Vec<&Node> = graph.nodes.iter().filter(|n| n.in_warehouse() && n.relation.is_some()).collect();
    let schemas: Vec<Schema> = relations
        .iter()
        .filter_map(|n| n.relation.as_ref())
        .map(|r| (r.database.clone(), r.schema.clone().unwrap_or_default()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let existing = connection.list_relations(&schemas).map_err(|err| Diagnostic::new(format!("could not list the warehouse's tables: {err}")))?;
    let (mut nodes, mut sources) = (Map::new(), Map::new());
    for node in relations {
        let Some(relation) = &node.relation else { continue };
        let Some(found) = existing.get(&RelationKey::of(relation)) else { continue };
        let columns = connection
            .columns(relation)
            .map_err(|err| Diagnostic::new(format!("could not read the columns of `{}`: {err}", relation.display_name())))?;
        let columns: Map<String, Json> = columns
            .iter()
            .enumerate()
            .map(|(index, column)| (column.name.clone(), json!({"type": column.data_type, "index": index + 1, "name": column.name, "comment": null})))
            .collect();
        let kind = match found.kind {
            RelationKind::View => "VIEW",
            RelationKind::Table => "BASE TABLE",
        };
        let entry = json!({
            "metadata": {"type": kind, "schema": relation.schema, "name": relation.identifier, "database": relation.database, "comment": null, "owner": null},
            "columns": columns,
            "stats": {"has_stats": {"id": "has_stats", "label": "Has Stats?", "value": false, "include": false, "description": "Indicates whether there are statistics for this table"}},
            "unique_id": node.unique_id,
        });
        if node.resource_type == ResourceType::Source { &mut sources } else { &mut nodes }.insert(node.unique_id.clone(), entry);
    }
    Ok(json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/catalog/v1.json",
            "generator": format!("strata {}", env!("CARGO_PKG_VERSION")),
            "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "invocation_id": invocation_id,
        },
        "nodes": nodes,
        "sources": sources,
        "errors": null,
    }))
}

/// Each node's last result in `run_results.json` (the last date of a backfill).
pub fn last_runs(path: &std::path::Path) -> BTreeMap<String, Json> {
    let Some(results) = std::fs::read_to_string(path).ok().and_then(|text| serde_json::from_str::<Json>(&text).ok()) else { return BTreeMap::new() };
    let mut last = BTreeMap::new();
    for result in results["results"].as_array().into_iter().flatten() {
        let Some(id) = result["unique_id"].as_str() else { continue };
        let first_line = result["message"].as_str().and_then(|m| m.lines().next()).map(str::to_string);
        last.insert(
            id.to_string(),
            json!({
                "status": result["status"],
                "execution_date": result["execution_date"],
                "duration_s": result["execution_time"],
                "rows": result["adapter_response"]["rows_affected"],
                "bytes": result["adapter_response"]["bytes_processed"],
                "completed_at": result["timing"][0]["completed_at"],
                "message": first_line,
            }),
        );
    }
    last
}

/// What the site shows of a project, compiled for one date.
pub struct Site<'a> {
    pub project: &'a Project,
    pub graph: &'a Graph,
    pub date: ExecutionDate,
    /// Each node's compiled SQL, by index into `graph`.
    pub compiled: &'a BTreeMap<usize, String>,
    /// The warehouse's catalog, where it was read: the columns' types.
    pub catalog: Option<&'a Json>,
    /// Each node's last result (see [`last_runs`]).
    pub last_runs: &'a BTreeMap<String, Json>,
}

impl Site<'_> {
    /// The page, with the site's data inline.
    pub fn page(&self) -> String {
        // Inside a <script> element, `</` would end it early.
        let data = site_data(self).to_string().replace("</", "<\\/");
        PAGE.replacen("__STRATA_DATA__", &data, 1)
    }
}

/// Everything the page shows: the drawn nodes (all but tests) with their
/// places, the edges between them, and each node's details.
fn site_data(site: &Site<'_>) -> Json {
    let Site { project, graph, date, compiled, catalog, last_runs } = *site;
    let drawn: Vec<usize> = (0..graph.nodes.len()).filter(|&i| !graph.nodes[i].resource_type.is_test()).collect();
    let position: FastMap<usize, usize> = drawn.iter().enumerate().map(|(at, &index)| (index, at)).collect();
    let places = layout::layers(graph, &drawn);
    let nodes: Vec<Json> = drawn
        .iter()
        .zip(&places)
        .map(|(&index, place)| {
            let node = &graph.nodes[index];
            // A model's data tests read it; its unit tests run before it.
            let data_tests = graph.children(index).filter(|&c| graph.nodes[c].resource_type == ResourceType::Test);
            let unit_tests = graph.parents(index).filter(|&p| graph.nodes[p].resource_type == ResourceType::UnitTest);
            let tests: Vec<Json> = data_tests
                .chain(unit_tests)
                .map(|c| {
                    let test = &graph.nodes[c];
                    json!({"name": test.name, "unique_id": test.unique_id, "last": last_runs.get(&test.unique_id)})
                })
                .collect();
            with_selectable(node, json!({
                "name": node.display_name(),
                "type": node.lineage_type(),
                "materialized": node.materialization(),
                "relation": node.relation.as_ref().map(ToString::to_string),
                "description": node.description,
                "partition_field": node.partition().map(|p| p.field.clone()),
                "columns": columns(node, catalog),
                "tests": tests,
                "raw_sql": raw_sql(project, node),
                "compiled_sql": compiled.get(&index),
                "source": match &node.details { NodeDetails::Source { source_name, table_name, .. } => json!([source_name, table_name]), _ => Json::Null },
                "last": last_runs.get(&node.unique_id),
                "x": place.0,
                "y": place.1,
            }))
        })
        .collect();
    let mut edges: Vec<[usize; 2]> = Vec::new();
    for (at, &child) in drawn.iter().enumerate() {
        edges.extend(graph.parents(child).filter_map(|p| position.get(&p).copied()).map(|parent| [parent, at]));
    }
    edges.sort_unstable();
    edges.dedup();
    let (tests, test_edges) = selectable_tests(graph, &position, drawn.len());
    json!({
        "project": project.name,
        "target": project.target.name,
        "execution_date": date.ds(),
        "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "strata_version": env!("CARGO_PKG_VERSION"),
        "nodes": nodes,
        "edges": edges,
        "tests": tests,
        "test_edges": test_edges,
        "methods": crate::graph::select::METHODS,
    })
}

/// The tests, which the page does not draw but its selector sees, as
/// `--select` does: what a selector matches of each, and the edges between
/// them and the drawn nodes, numbered after the `drawn` ones.
fn selectable_tests(graph: &Graph, position: &FastMap<usize, usize>, drawn: usize) -> (Vec<Json>, Vec<[usize; 2]>) {
    let tests: Vec<usize> = (0..graph.nodes.len()).filter(|&i| graph.nodes[i].resource_type.is_test()).collect();
    let at: FastMap<usize, usize> = tests.iter().enumerate().map(|(k, &index)| (index, drawn + k)).collect();
    let place = |index: usize| position.get(&index).or(at.get(&index)).copied();
    let mut edges = Vec::new();
    let entries = tests
        .iter()
        .map(|&index| {
            let node = &graph.nodes[index];
            edges.extend(graph.parents(index).filter_map(place).map(|parent| [parent, at[&index]]));
            edges.extend(graph.children(index).filter(|c| position.contains_key(c)).filter_map(place).map(|child| [at[&index], child]));
            let (test_name, test_type) = match &node.details {
                NodeDetails::Test(test) => (test.test_name.clone(), if test.singular_file.is_some() { "singular" } else { "generic" }),
                _ => (None, "unit"),
            };
            with_selectable(node, json!({"name": node.name, "test_name": test_name, "test_type": test_type}))
        })
        .collect();
    edges.sort_unstable();
    edges.dedup();
    (entries, edges)
}

/// `fields` with what a selector matches of `node`, as `graph/select.rs` reads it.
fn with_selectable(node: &Node, fields: Json) -> Json {
    let mut entry = json!({
        "id": node.unique_id,
        "resource_type": node.resource_type.name(),
        "package": node.package,
        "fqn": node.fqn,
        "path": node.path.to_string_lossy(),
        "tags": node.tags(),
        "config": node.config,
        "materialized_config": node.materialized(),
    });
    if let (Json::Object(entry), Json::Object(fields)) = (&mut entry, fields) {
        entry.extend(fields);
    }
    entry
}

/// The node's columns: the warehouse's (with their types) where the catalog
/// has the relation, in its order, each with the description its YAML gives;
/// else the ones its YAML declares.
fn columns(node: &Node, catalog: Option<&Json>) -> Vec<Json> {
    let declared = node.declared_columns();
    let description = |name: &str| declared.iter().find(|c| c.name.eq_ignore_ascii_case(name)).map(|c| c.description.clone()).unwrap_or_default();
    let section = if node.resource_type == ResourceType::Source { "sources" } else { "nodes" };
    let found = catalog.and_then(|c| c[section][&node.unique_id]["columns"].as_object());
    match found {
        Some(columns) => {
            let mut columns: Vec<&Json> = columns.values().collect();
            columns.sort_by_key(|c| c["index"].as_u64().unwrap_or(0));
            columns
                .iter()
                .map(|c| {
                    let name = c["name"].as_str().unwrap_or_default();
                    json!({"name": name, "type": c["type"], "description": description(name)})
                })
                .collect()
        }
        None => declared.iter().map(|c| json!({"name": c.name, "type": c.data_type, "description": c.description})).collect(),
    }
}

/// The SQL as written: a model's file, a singular test's.
fn raw_sql(project: &crate::project::Project, node: &Node) -> Option<String> {
    match &node.details {
        NodeDetails::Model { file, .. } => project.models.get(*file).map(|m| m.file.text.clone()),
        _ => None,
    }
}
