//! `strata ls`: the selected nodes, as names, paths, selectors or JSON.


use std::io::Write;


use crate::cli::{LsArgs, LsOutput, ResourceTypeArg};
use crate::graph::ResourceType;

use crate::commands::{Failure, Session, exit_without_freeing};

pub fn ls(args: &LsArgs) -> Result<i32, Failure> {
    let session = Session::open(&args.project.options(), &args.date.options())?;
    session.require_parsed()?;
    let selected = session.select(&args.select.options())?;
    let wanted: Vec<ResourceType> = args
        .resource_type
        .iter()
        .filter_map(|r| match r {
            ResourceTypeArg::Model => Some(ResourceType::Model),
            ResourceTypeArg::Seed => Some(ResourceType::Seed),
            ResourceTypeArg::Test => Some(ResourceType::Test),
            ResourceTypeArg::Source => Some(ResourceType::Source),
            ResourceTypeArg::Exposure => Some(ResourceType::Exposure),
            ResourceTypeArg::All => None,
        })
        .collect();
    let all = args.resource_type.is_empty() || args.resource_type.contains(&ResourceTypeArg::All);
    let graph = session.graph();
    let mut nodes: Vec<usize> = selected.into_iter().filter(|&i| all || wanted.contains(&graph.nodes[i].resource_type)).collect();
    nodes.sort_by(|a, b| graph.nodes[*a].unique_id.cmp(&graph.nodes[*b].unique_id));
    if nodes.is_empty() {
        eprintln!("warning: no nodes selected");
        return Ok(0);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for index in nodes {
        let node = &graph.nodes[index];
        match args.output {
            LsOutput::Selector => writeln!(out, "{}", node.selector())?,
            LsOutput::Name => writeln!(out, "{}", node.display_name())?,
            LsOutput::Path => writeln!(out, "{}", node.path.display())?,
            LsOutput::Json => {
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
