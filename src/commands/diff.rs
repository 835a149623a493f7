//! `strata diff`: what a change did to the data. Each selected model's
//! relation in this target is compared, inside the warehouse, with the one
//! `--state` recorded (production's) or another target's (`--against`):
//! columns added, removed or retyped; rows added, removed or changed, matched
//! on the model's `unique_key` or `--key`; for a partitioned model only the
//! execution date's partition. One query per model.

use std::fmt::Write as _;
use std::io::Write;

use serde_json::{Value as Json, json};

use crate::core::columns::{Column, ColumnChanges};
use crate::core::diagnostic::Diagnostic;
use crate::core::job::Job;
use crate::core::relation::Relation;
use crate::core::table::Cell;
use crate::graph::{Node, NodeDetails};
use crate::session::options::{DiffFormat, DiffOptions};
use crate::session::{Failure, Session};
use crate::sql::diff::{Compared, DiffSpec, RowDiff};
use crate::warehouse::Connection;

/// One model's diff.
#[derive(Debug, Clone)]
pub struct ModelDiff {
    pub name: String,
    pub current: String,
    pub previous: Option<String>,
    /// The execution date whose partition was compared, for a partitioned model.
    pub partition: Option<String>,
    /// What rows were matched on; empty: whole rows.
    pub key: Vec<String>,
    /// Compared columns, in the current side's order.
    pub columns: Vec<String>,
    pub added_columns: Vec<Column>,
    pub removed_columns: Vec<Column>,
    /// Name, type before, type now.
    pub retyped_columns: Vec<(String, String, String)>,
    pub rows: Option<RowDiff>,
    /// Why rows were not compared, or what the reader should know.
    pub note: Option<String>,
}

impl ModelDiff {
    pub fn has_changes(&self) -> bool {
        !self.added_columns.is_empty()
            || !self.removed_columns.is_empty()
            || !self.retyped_columns.is_empty()
            || self.rows.as_ref().is_some_and(RowDiff::has_changes)
            || self.previous.is_none()
    }
}

pub fn diff(args: &DiffOptions) -> Result<i32, Failure> {
    let session = Session::open(&args.project, &args.dates)?;
    session.require_parsed()?;
    let state = session.state(&args.selection)?;
    // The other side of each model: another target's relation, or the state's.
    let other = match &args.against {
        Some(target) => {
            let options = crate::project::LoadOptions { target: Some(target.clone()), ..args.project.clone() };
            Some(Session::open(&options, &args.dates)?)
        }
        None => None,
    };
    if other.is_none() && state.is_none() {
        return Err(Diagnostic::new("`strata diff` compares with another invocation or target, and neither was given")
            .help("add `--state DIR` (the `target/` of the production run) or `--against <target>` (a target of `profiles.yml`)")
            .into());
    }
    let graph = session.graph();
    let selected: Vec<usize> = session
        .select_with(&args.selection, state)?
        .into_iter()
        .filter(|&i| graph.nodes[i].resource_type.builds_relation() && graph.nodes[i].in_warehouse())
        .collect();
    let previous_of = |node: &Node| -> Option<Relation> {
        match &other {
            Some(other) => other.graph().by_id.get(&node.unique_id).and_then(|&i| other.graph().nodes[i].relation.clone()),
            None => state.and_then(|state| state.relation(node)),
        }
    };
    let warehouse = session.project.open_warehouse(crate::warehouse::DEFAULT_LOCK_TIMEOUT)?;
    let mut connection = warehouse.connect().map_err(|err| Diagnostic::new(err.to_string()))?;
    let mut diffs = Vec::new();
    for &index in &selected {
        let node = &graph.nodes[index];
        let Some(current) = &node.relation else { continue };
        let diff = diff_model(&session, warehouse.sql(), connection.as_mut(), node, current, previous_of(node).as_ref(), args)?;
        diffs.push(diff);
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        DiffFormat::Text => write!(out, "{}", text(&diffs))?,
        DiffFormat::Markdown => write!(out, "{}", markdown(&diffs))?,
        DiffFormat::Json => writeln!(out, "{}", json_of(&diffs))?,
    }
    crate::output::ci::append_step_summary(&markdown(&diffs));
    let changed = diffs.iter().any(ModelDiff::has_changes);
    Ok(if args.fail_on_change && changed { 1 } else { 0 })
}

fn diff_model(
    session: &Session,
    sql: &dyn crate::sql::SqlGenerator,
    connection: &mut dyn Connection,
    node: &Node,
    current: &Relation,
    previous: Option<&Relation>,
    args: &DiffOptions,
) -> Result<ModelDiff, Failure> {
    let mut diff = ModelDiff {
        name: node.name.clone(),
        current: current.display_name(),
        previous: previous.map(Relation::display_name),
        partition: None,
        key: Vec::new(),
        columns: Vec::new(),
        added_columns: Vec::new(),
        removed_columns: Vec::new(),
        retyped_columns: Vec::new(),
        rows: None,
        note: None,
    };
    let Some(previous) = previous else {
        diff.note = Some("new: the state has no relation for it".into());
        return Ok(diff);
    };
    let columns_of = |connection: &mut dyn Connection, relation: &Relation| {
        connection.columns(relation).map_err(|err| Diagnostic::new(format!("could not read the columns of `{}`: {err}", relation.display_name())))
    };
    let now = columns_of(connection, current)?;
    let before = columns_of(connection, previous)?;
    if now.is_empty() || before.is_empty() {
        let missing = if now.is_empty() { diff.current.clone() } else { diff.previous.clone().unwrap_or_default() };
        diff.note = Some(format!("`{missing}` does not exist: build it first"));
        return Ok(diff);
    }
    let changes = ColumnChanges::between(&before, &now);
    let old_type = |name: &str| before.iter().find(|c| c.name.eq_ignore_ascii_case(name)).map(|c| c.data_type.clone()).unwrap_or_default();
    diff.retyped_columns = changes.retyped.iter().map(|c| (c.name.clone(), old_type(&c.name), c.data_type.clone())).collect();
    let is = |columns: &[Column], name: &str| columns.iter().any(|c| c.name.eq_ignore_ascii_case(name));
    let compared: Vec<Compared> = now
        .iter()
        .filter(|column| !is(&changes.added, &column.name))
        .map(|column| {
            let before = old_type(&column.name);
            let as_text = !before.eq_ignore_ascii_case(&column.data_type) || !sql.comparable(&column.data_type) || !sql.comparable(&before);
            Compared { name: column.name.clone(), types: (column.data_type.clone(), before), as_text }
        })
        .collect();
    diff.added_columns = changes.added;
    diff.removed_columns = changes.removed;
    diff.columns = compared.iter().map(|c| c.name.clone()).collect();
    let wanted_key: Vec<String> = if args.key.is_empty() { unique_key(node) } else { args.key.clone() };
    let missing_key: Vec<&String> = wanted_key.iter().filter(|k| !diff.columns.iter().any(|c| c.eq_ignore_ascii_case(k))).collect();
    diff.key = match missing_key.is_empty() {
        true => wanted_key.iter().map(|k| diff.columns.iter().find(|c| c.eq_ignore_ascii_case(k)).cloned().unwrap_or_default()).collect(),
        false => {
            let names = missing_key.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
            diff.note = Some(format!("the key column {names} is not on both sides: rows are matched whole"));
            Vec::new()
        }
    };
    let filter = node.partition().map(|partition| {
        diff.partition = Some(session.date.ds());
        sql.partition_range(partition, session.date, session.date)
    });
    let spec = DiffSpec { current, previous, columns: compared, key: diff.key.clone(), filter, samples: args.samples };
    let job = Job {
        sql: spec.query(sql),
        maximum_bytes_billed: session.project.target.maximum_bytes_billed,
        labels: vec![("strata_command".into(), "diff".into()), ("strata_model".into(), node.name.clone())],
        ..Job::default()
    };
    let table = connection.query(&job).map_err(|err| Diagnostic::new(format!("the diff of model `{}` failed: {err}", node.name)))?;
    diff.rows = Some(spec.read(&table).map_err(|err| Diagnostic::new(format!("the diff of model `{}`: {err}", node.name)))?);
    Ok(diff)
}

/// The `unique_key` the model is built with, as its config was read when parsing.
fn unique_key(node: &Node) -> Vec<String> {
    match &node.details {
        NodeDetails::Model { config, .. } => config.unique_key.clone(),
        _ => Vec::new(),
    }
}

/// What the diff compared, in one line.
fn compared_line(diff: &ModelDiff) -> String {
    let mut line = format!("`{}` against `{}`", diff.current, diff.previous.as_deref().unwrap_or("-"));
    if let Some(date) = &diff.partition {
        let _ = write!(line, ", partition {date}");
    }
    match diff.key.is_empty() {
        true => line.push_str(", whole rows"),
        false => {
            let _ = write!(line, ", rows matched on {}", diff.key.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "));
        }
    }
    line
}

fn column_changes(diff: &ModelDiff) -> Vec<String> {
    let mut changes: Vec<String> = diff.added_columns.iter().map(|c| format!("added `{}` ({})", c.name, c.data_type)).collect();
    changes.extend(diff.removed_columns.iter().map(|c| format!("removed `{}` ({})", c.name, c.data_type)));
    changes.extend(diff.retyped_columns.iter().map(|(name, old, new)| format!("retyped `{name}` {old} → {new}")));
    changes
}

fn row_counts(rows: &RowDiff) -> String {
    format!("{} added, {} removed, {} changed, {} unchanged", rows.added, rows.removed, rows.changed, rows.same)
}

/// A sample's cells as `column=value` (added, removed) or `column: old → new` (changed columns only).
fn sample_cells(diff: &ModelDiff, sample: &crate::sql::diff::Sample) -> Vec<(String, String)> {
    let mut cells: Vec<(String, String)> = diff.key.iter().zip(&sample.key).map(|(name, value)| (name.clone(), value.to_string())).collect();
    match (&sample.current, &sample.previous) {
        (Some(now), Some(before)) => {
            for ((name, new), old) in diff.columns.iter().zip(now).zip(before) {
                if new != old && !diff.key.contains(name) {
                    cells.push((name.clone(), format!("{old} → {new}")));
                }
            }
        }
        (Some(values), None) | (None, Some(values)) => {
            cells.extend(
                diff.columns.iter().zip(values).filter(|(name, _)| !diff.key.contains(name)).map(|(name, value)| (name.clone(), value.to_string())),
            );
        }
        (None, None) => {}
    }
    cells
}

/// The terminal's report.
pub fn text(diffs: &[ModelDiff]) -> String {
    let mut out = String::new();
    for diff in diffs {
        let _ = writeln!(out, "model {}: {}", diff.name, compared_line(diff));
        if let Some(note) = &diff.note {
            let _ = writeln!(out, "  {note}");
        }
        let columns = column_changes(diff);
        if !columns.is_empty() {
            let _ = writeln!(out, "  columns: {}", columns.join("; "));
        }
        let Some(rows) = &diff.rows else { continue };
        let _ = writeln!(out, "  rows: {}", row_counts(rows));
        let changed: Vec<String> = rows.changed_columns.iter().filter(|(_, n)| *n > 0).map(|(name, n)| format!("`{name}` in {n}")).collect();
        if !changed.is_empty() {
            let _ = writeln!(out, "  changed values: {}", changed.join(", "));
        }
        for sample in &rows.samples {
            let cells = sample_cells(diff, sample).into_iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("  ");
            let _ = writeln!(out, "  {:<8} {cells}", sample.category.as_str());
        }
    }
    let changed = diffs.iter().filter(|d| d.has_changes()).count();
    let compared = diffs.iter().filter(|d| d.rows.is_some()).count();
    let unchanged = diffs.iter().filter(|d| d.rows.is_some() && !d.has_changes()).count();
    let _ = write!(out, "Compared {compared} {}: {changed} changed, {unchanged} unchanged", crate::core::format::plural(compared, "model", "models"));
    let missing = diffs.len() - changed - unchanged;
    if missing > 0 {
        let _ = write!(out, ", {missing} without a relation on both sides");
    }
    out.push('\n');
    out
}

/// The Markdown a reviewer reads: one table of every model, then each changed model's samples.
pub fn markdown(diffs: &[ModelDiff]) -> String {
    let mut out = String::from("### Data diff\n\n");
    if diffs.is_empty() {
        out.push_str("No model selected.\n");
        return out;
    }
    out.push_str("| Model | Columns | Added | Removed | Changed | Unchanged |\n| --- | --- | ---: | ---: | ---: | ---: |\n");
    for diff in diffs {
        let columns = column_changes(diff);
        let columns = if columns.is_empty() { "-".to_string() } else { columns.join("<br>") };
        let counts = match &diff.rows {
            Some(rows) => format!("{} | {} | {} | {}", rows.added, rows.removed, rows.changed, rows.same),
            None => format!("{} | | | ", diff.note.as_deref().map(escape).unwrap_or_default()),
        };
        let _ = writeln!(out, "| `{}` | {} | {counts} |", diff.name, escape(&columns));
    }
    for diff in diffs.iter().filter(|d| d.rows.as_ref().is_some_and(RowDiff::has_changes)) {
        let Some(rows) = &diff.rows else { continue };
        let _ = write!(out, "\n<details><summary><code>{}</code>: {}</summary>\n\n{}.", diff.name, row_counts(rows), escape(&compared_line(diff)));
        if let Some(note) = &diff.note {
            let _ = write!(out, " {}.", escape(note));
        }
        out.push_str("\n\n| | row |\n| --- | --- |\n");
        for sample in &rows.samples {
            let cells = sample_cells(diff, sample).into_iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join(", ");
            let _ = writeln!(out, "| {} | {} |", sample.category.as_str(), escape(&cells));
        }
        out.push_str("\n</details>\n");
    }
    out
}

/// Text inside a Markdown table cell.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn json_of(diffs: &[ModelDiff]) -> Json {
    let cell = |c: &Cell| c.to_json();
    let models: Vec<Json> = diffs
        .iter()
        .map(|diff| {
            let rows = diff.rows.as_ref().map(|rows| {
                json!({
                    "added": rows.added, "removed": rows.removed, "changed": rows.changed, "unchanged": rows.same,
                    "changed_columns": rows.changed_columns.iter().map(|(name, n)| json!({"column": name, "rows": n})).collect::<Vec<_>>(),
                    "samples": rows.samples.iter().map(|s| json!({
                        "category": s.category.as_str(),
                        "key": s.key.iter().map(cell).collect::<Vec<_>>(),
                        "current": s.current.as_ref().map(|v| v.iter().map(cell).collect::<Vec<_>>()),
                        "previous": s.previous.as_ref().map(|v| v.iter().map(cell).collect::<Vec<_>>()),
                    })).collect::<Vec<_>>(),
                })
            });
            json!({
                "model": diff.name, "current": diff.current, "previous": diff.previous, "partition": diff.partition,
                "key": diff.key, "columns": diff.columns,
                "added_columns": diff.added_columns.iter().map(|c| json!({"name": c.name, "type": c.data_type})).collect::<Vec<_>>(),
                "removed_columns": diff.removed_columns.iter().map(|c| json!({"name": c.name, "type": c.data_type})).collect::<Vec<_>>(),
                "retyped_columns": diff.retyped_columns.iter().map(|(n, o, t)| json!({"name": n, "before": o, "now": t})).collect::<Vec<_>>(),
                "rows": rows, "note": diff.note, "changed": diff.has_changes(),
            })
        })
        .collect();
    json!({ "diff": models })
}
