//! `strata graph`: the selected DAG as Graphviz dot, Mermaid or JSON, with each
//! node's type (seed, model, source, source check, test, exposure) and
//! materialization, and the edges between the selected nodes.

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::json;

use crate::graph::{Graph, Node};
use crate::session::options::{GraphFormat, GraphOptions};
use crate::session::{Failure, Session, exit_without_freeing};

pub fn graph(args: &GraphOptions) -> Result<i32, Failure> {
    let session = Session::open(&args.project, &args.dates)?;
    session.require_parsed()?;
    let selected = session.select(&args.selection)?;
    if selected.is_empty() {
        crate::session::warn("NoNodesForSelectionCriteria", "no nodes selected")?;
    }
    let graph = session.graph();
    let text = match args.format {
        GraphFormat::Dot => dot(graph, &selected),
        GraphFormat::Mermaid => mermaid(graph, &selected),
        GraphFormat::Json => format!("{:#}\n", lineage(graph, &selected)),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    exit_without_freeing(session);
    Ok(0)
}

/// The selected nodes, in unique-id order, and the edges between them.
fn edges(graph: &Graph, selected: &BTreeSet<usize>) -> (Vec<usize>, Vec<(usize, usize)>) {
    let mut nodes: Vec<usize> = selected.iter().copied().collect();
    nodes.sort_by(|a, b| graph.nodes[*a].unique_id.cmp(&graph.nodes[*b].unique_id));
    let mut edges: Vec<(usize, usize)> =
        nodes.iter().flat_map(|&child| graph.parents(child).filter(|p| selected.contains(p)).map(move |parent| (parent, child))).collect();
    edges.sort_by(|a, b| (&graph.nodes[a.0].unique_id, &graph.nodes[a.1].unique_id).cmp(&(&graph.nodes[b.0].unique_id, &graph.nodes[b.1].unique_id)));
    edges.dedup();
    (nodes, edges)
}

/// The selected DAG as JSON: nodes with their type, materialization, file and
/// partition field; edges as `[parent, child]` unique ids.
pub fn lineage(graph: &Graph, selected: &BTreeSet<usize>) -> serde_json::Value {
    let (nodes, edges) = edges(graph, selected);
    let nodes: Vec<serde_json::Value> = nodes
        .iter()
        .map(|&index| {
            let node = &graph.nodes[index];
            json!({
                "unique_id": node.unique_id,
                "name": node.display_name(),
                "type": node.lineage_type(),
                "resource_type": node.resource_type.name(),
                "materialized": node.materialization(),
                "package_name": node.package,
                "original_file_path": node.path.to_string_lossy(),
                "relation_name": node.relation.as_ref().map(ToString::to_string),
                "partition_field": node.partition().map(|p| p.field.clone()),
                "tags": node.tags(),
            })
        })
        .collect();
    let edges: Vec<[&str; 2]> =
        edges.iter().map(|&(parent, child)| [graph.nodes[parent].unique_id.as_str(), &graph.nodes[child].unique_id]).collect();
    json!({"nodes": nodes, "edges": edges})
}

/// The label drawn in a node: its name, then its type and materialization.
fn label(node: &Node) -> (String, String) {
    let kind = node.lineage_type().replace('_', " ");
    let detail = match node.materialization() {
        Some(materialized) if materialized != kind => format!("{kind} · {materialized}"),
        _ => kind,
    };
    (node.display_name(), detail)
}

fn dot(graph: &Graph, selected: &BTreeSet<usize>) -> String {
    let (nodes, edges) = edges(graph, selected);
    let quote = |text: &str| format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::from("digraph strata {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n");
    for &index in &nodes {
        let node = &graph.nodes[index];
        let (name, detail) = label(node);
        let (shape, colour) = match node.lineage_type() {
            "seed" => ("box", "#e8f5e9"),
            "model" => ("box", "#e3f2fd"),
            "source" => ("cylinder", "#fff8e1"),
            "source_check" => ("cylinder", "#ffe0b2"),
            "test" => ("note", "#f5f5f5"),
            _ => ("hexagon", "#f3e5f5"),
        };
        out.push_str(&format!(
            "  {} [label={}, shape={shape}, fillcolor=\"{colour}\"];\n",
            quote(&node.unique_id),
            quote(&format!("{name}\n{detail}"))
        ));
    }
    for (parent, child) in edges {
        out.push_str(&format!("  {} -> {};\n", quote(&graph.nodes[parent].unique_id), quote(&graph.nodes[child].unique_id)));
    }
    out.push_str("}\n");
    out
}

fn mermaid(graph: &Graph, selected: &BTreeSet<usize>) -> String {
    let (nodes, edges) = edges(graph, selected);
    // Mermaid ids are plain words: the position in the list, as `n0`, `n1`, ...
    let ids: crate::core::hash::FastMap<usize, String> = nodes.iter().enumerate().map(|(position, &index)| (index, format!("n{position}"))).collect();
    // Inside `"..."`, Mermaid reads `#quot;` for a double quote.
    let text = |text: &str| text.replace('"', "#quot;");
    let mut out = String::from("flowchart LR\n");
    for &index in &nodes {
        let node = &graph.nodes[index];
        let (name, detail) = label(node);
        let label = format!("\"{}<br/><small>{}</small>\"", text(&name), text(&detail));
        let shape = match node.lineage_type() {
            "source" | "source_check" => format!("[({label})]"),
            "exposure" => format!("{{{{{label}}}}}"),
            "test" => format!(">{label}]"),
            _ => format!("[{label}]"),
        };
        out.push_str(&format!("  {}{shape}\n", ids[&index]));
    }
    for (parent, child) in edges {
        out.push_str(&format!("  {} --> {}\n", ids[&parent], ids[&child]));
    }
    for (class, colour) in
        [("seed", "#e8f5e9"), ("model", "#e3f2fd"), ("source", "#fff8e1"), ("source_check", "#ffe0b2"), ("test", "#f5f5f5"), ("exposure", "#f3e5f5")]
    {
        let members: Vec<&str> = nodes.iter().filter(|&&i| graph.nodes[i].lineage_type() == class).map(|i| ids[i].as_str()).collect();
        if !members.is_empty() {
            out.push_str(&format!("  classDef {class} fill:{colour}\n  class {} {class}\n", members.join(",")));
        }
    }
    out
}
