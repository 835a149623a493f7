//! `strata ls`: the selected nodes, as names, paths, selectors or JSON.

use std::io::Write;

use crate::session::options::{LsFormat, LsOptions};

use crate::session::{Failure, Session, exit_without_freeing};

pub fn ls(args: &LsOptions) -> Result<i32, Failure> {
    let session = Session::open(&args.project, &args.dates)?;
    session.require_parsed()?;
    let selected = session.select(&args.selection)?;
    let all = args.resource_types.is_empty();
    let wanted = &args.resource_types;
    let graph = session.graph();
    let mut nodes: Vec<usize> = selected.into_iter().filter(|&i| all || wanted.contains(&graph.nodes[i].resource_type)).collect();
    nodes.sort_by(|a, b| graph.nodes[*a].unique_id.cmp(&graph.nodes[*b].unique_id));
    if nodes.is_empty() {
        crate::session::warn("NoNodesForSelectionCriteria", "no nodes selected")?;
        return Ok(0);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for index in nodes {
        let node = &graph.nodes[index];
        match args.format {
            LsFormat::Selector => writeln!(out, "{}", node.selector())?,
            LsFormat::Name => writeln!(out, "{}", node.display_name())?,
            LsFormat::Path => writeln!(out, "{}", node.path.display())?,
            LsFormat::Json => {
                let entry = serde_json::json!({
                    "name": node.name,
                    "resource_type": node.resource_type.name(),
                    "package_name": node.package,
                    "original_file_path": node.path.to_string_lossy(),
                    "unique_id": node.unique_id,
                    "alias": node.relation.as_ref().map(|r| r.identifier.clone()),
                    "config": node.config,
                    "tags": node.tags(),
                    "depends_on": {"nodes": graph.parent_ids(index)},
                });
                writeln!(out, "{entry}")?;
            }
        }
    }
    out.flush()?;
    drop(out);
    exit_without_freeing(session);
    Ok(0)
}
