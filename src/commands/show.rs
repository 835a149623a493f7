//! `strata show`: a few rows of a model or an inline query, as a table or JSON.

use std::io::Write;

use serde_json::json;

use crate::compile::Compiler;
use crate::core::diagnostic::Diagnostic;
use crate::graph::ResourceType;
use crate::output::report::render_table;
use crate::session::options::{Selection, ShowOptions};
use crate::session::{Failure, Session};

pub fn show(args: &ShowOptions) -> Result<i32, Failure> {
    let session = Session::open(&args.project, &args.dates)?;
    session.require_parsed()?;
    let selection = Selection { select: args.select.iter().cloned().collect(), exclude: Vec::new(), state: args.state.clone() };
    let state = session.state(&selection)?;
    let shown = match &args.select {
        Some(_) => session.select_with(&selection, state)?,
        None => Default::default(),
    };
    let warehouse = session.project.open_warehouse(crate::warehouse::DEFAULT_LOCK_TIMEOUT)?;
    let mut connection = warehouse.connect().map_err(|err| Diagnostic::new(err.to_string()))?;
    // The shown model itself is compiled as this target builds it; what it reads may be deferred.
    let running = shown.iter().copied().find(|&i| session.graph().nodes[i].resource_type.builds_relation());
    let deferred = crate::session::deferred_graph(session.graph(), args.deferral, state, &running.into_iter().collect(), Some(connection.as_mut()))?;
    let graph = deferred.as_ref();
    let compiler = Compiler::new(&session.project, &session.templates, graph);
    let (title, sql) = match (&args.select, &args.inline) {
        (_, Some(inline)) => ("inline query".to_string(), compiler.render_text("<inline>", inline, None)?),
        (Some(selector), None) => {
            let selected = shown;
            let Some(&index) = selected.iter().find(|&&i| graph.nodes[i].resource_type.builds_relation()) else {
                return Err(Diagnostic::new(format!("`--select {selector}` selects no model or seed"))
                    .help("pass a model name, e.g. `--select dau`")
                    .into());
            };
            let node = &graph.nodes[index];
            let sql = match node.resource_type {
                ResourceType::Seed => format!("select * from {}", node.relation.as_ref().map(|r| r.to_string()).unwrap_or_default()),
                _ => compiler.compile_one(index, false, None)?.sql,
            };
            (format!("node `{}`", node.name), sql)
        }
        (None, None) => return Err(Diagnostic::new("`strata show` needs `--select <model>` or `--inline \"<query>\"`").into()),
    };
    let table = connection
        .query_sql(&warehouse.sql().limit_rows(&sql, args.limit))
        .map_err(|err| Diagnostic::new(format!("the query of {title} failed: {err}")))?;
    let mut out = std::io::stdout().lock();
    match args.json {
        false => {
            writeln!(out, "Previewing {title}:")?;
            writeln!(out, "{}", render_table(&table))?;
        }
        true => {
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
