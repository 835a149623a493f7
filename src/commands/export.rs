//! `strata export`: a model's rows (for a date-partitioned model, the
//! partitions of the command's dates) written to a CSV, Excel or Parquet file.

use crate::core::delivery::FileFormat;
use crate::core::diagnostic::Diagnostic;
use crate::core::format::{plural, thousands};
use crate::core::job::Job;
use crate::graph::ResourceType;
use crate::session::options::ExportOptions;
use crate::session::{Failure, Session};

pub fn export(args: &ExportOptions) -> Result<i32, Failure> {
    let format = match args.format.or_else(|| FileFormat::of_path(&args.output)) {
        Some(format) => format,
        None => {
            return Err(Diagnostic::new(format!("`{}` does not say which format to write", args.output.display()))
                .help("end `--output` with `.csv`, `.xlsx` or `.parquet`, or pass `--format csv|xlsx|parquet`")
                .into());
        }
    };
    let session = Session::open(&args.project, &args.dates)?;
    session.require_parsed()?;
    let graph = session.graph();
    let selected = crate::graph::select::select_nodes(graph, std::slice::from_ref(&args.select), &[], None)?;
    let readable: Vec<usize> = selected
        .into_iter()
        .filter(|&i| matches!(graph.nodes[i].resource_type, ResourceType::Model | ResourceType::Seed | ResourceType::Source | ResourceType::Snapshot))
        .collect();
    let index = match readable.as_slice() {
        [one] => *one,
        [] => {
            return Err(Diagnostic::new(format!("`--select {}` selects no model, seed or source", args.select))
                .help("pass the model to export, e.g. `--select dau`")
                .into());
        }
        many => {
            let names: Vec<String> = many.iter().take(5).map(|&i| format!("`{}`", graph.nodes[i].display_name())).collect();
            return Err(Diagnostic::new(format!(
                "`--select {}` selects {} nodes ({}{}); export one at a time",
                args.select,
                many.len(),
                names.join(", "),
                if many.len() > 5 { ", ..." } else { "" }
            ))
            .help("name a single model, e.g. `--select dau`")
            .into());
        }
    };
    let node = &graph.nodes[index];
    let warehouse = session.project.open_warehouse(crate::warehouse::DEFAULT_LOCK_TIMEOUT)?;
    let (first, last) = (session.dates.first().copied().unwrap_or(session.date), session.date);
    let Some(sql) = crate::materialize::export::rows_of(warehouse.sql(), node, first, last) else {
        return Err(Diagnostic::new(format!("{} `{}` is ephemeral: it has no table to export", node.resource_type.name(), node.name)).into());
    };
    let mut connection = warehouse.connect().map_err(|err| Diagnostic::new(err.to_string()))?;
    let exported = crate::materialize::export::export(connection.as_mut(), warehouse.sql(), &Job::new(sql), format, &args.output, &node.name).map_err(|err| {
        let diagnostic = Diagnostic::new(format!("could not export `{}`: {err}", node.display_name()));
        let missing = matches!(&err, crate::materialize::export::ExportError::Warehouse(w) if w.to_string().contains("does not exist") || w.to_string().contains("Not found"));
        if missing {
            diagnostic.help(format!("export reads the table in the warehouse: build it first, e.g. `strata run --select {}`", node.name))
        } else {
            diagnostic
        }
    })?;
    let rows = exported.rows;
    let dates = match node.partition() {
        Some(_) if first == last => format!(" for {}", last.ds()),
        Some(_) => format!(" for {} to {}", first.ds(), last.ds()),
        None => String::new(),
    };
    println!(
        "Exported {} {} of `{}`{dates} to {} ({})",
        thousands(rows),
        plural(rows as usize, "row", "rows"),
        node.display_name(),
        args.output.display(),
        format.name()
    );
    Ok(0)
}
