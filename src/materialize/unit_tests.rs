//! Unit tests: the model's SQL with each input replaced by the rows the test
//! gives it (CTEs typed by the input's columns in the warehouse, as dbt types
//! them), run into a scratch table; then its rows, in the columns the test
//! expects, compared with the expected rows cast to the result's types. No
//! real table is read or written but the scratch table, dropped at the end.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::core::columns::Column;
use crate::core::outcome::{Outcome, Status};
use crate::core::relation::Relation;
use crate::core::table::{Cell, Table};
use crate::graph::NodeDetails;
use crate::graph::unit_test::{Input, Rows, UnitTest};
use crate::sql::{SqlGenerator, staging_relation};
use crate::template::Resolve;
use crate::warehouse::Connection;

use super::Materializer;

/// Resolves the model's inputs to the fixtures' CTE names.
struct Fixtures {
    refs: HashMap<String, Relation>,
    sources: HashMap<(String, String), Relation>,
}

impl Resolve for Fixtures {
    fn resolve_ref(&self, _from: Option<&str>, _package: Option<&str>, name: &str) -> Result<Relation, String> {
        self.refs.get(name).cloned().ok_or_else(|| format!("`ref('{name}')` is not an input of the model under test"))
    }

    fn resolve_source(&self, source: &str, table: &str) -> Result<Relation, String> {
        self.sources
            .get(&(source.to_string(), table.to_string()))
            .cloned()
            .ok_or_else(|| format!("`source('{source}', '{table}')` is not an input of the model under test"))
    }
}

impl Materializer<'_> {
    pub(super) fn unit_test(&self, connection: &mut dyn Connection, index: usize) -> Outcome {
        let node = &self.compiler.graph.nodes[index];
        let NodeDetails::UnitTest(test) = &node.details else { return Outcome::error(node.label(), "is not a unit test") };
        match self.run_unit_test(connection, index, test) {
            Ok(differences) if differences.rows.is_empty() => Outcome::new(Status::Pass, node.name.clone()),
            Ok(differences) => {
                let mut outcome = Outcome::new(Status::Fail, node.name.clone());
                outcome.message = "actual differs from expected (- expected, + actual)".to_string();
                // A changed row is one failure, as dbt counts it: a row missing and a row extra.
                let missing = differences.rows.iter().filter(|row| matches!(row.first(), Some(Cell::Text(sign)) if sign == "-")).count();
                outcome.failures = Some(missing.max(differences.rows.len() - missing) as u64);
                outcome.failing_rows = Some(differences);
                outcome
            }
            Err(message) => Outcome::error(node.label(), message),
        }
    }

    /// The rows that differ: those expected and not returned (`-`), and
    /// those returned and not expected (`+`).
    fn run_unit_test(&self, connection: &mut dyn Connection, index: usize, test: &UnitTest) -> Result<Table, String> {
        let graph = self.compiler.graph;
        let node = &graph.nodes[index];
        let model_index = *graph.by_id.get(&test.model).ok_or_else(|| format!("its model `{}` is not in the project", test.model))?;
        let model = &graph.nodes[model_index];
        let NodeDetails::Model { refs, sources, .. } = &model.details else { return Err(format!("`{}` is not a model", model.name)) };
        let model_relation = model.relation.clone().ok_or_else(|| format!("`{}` has no relation", model.name))?;

        // Each input becomes a CTE of the given rows, or of none.
        let mut fixtures = Fixtures { refs: HashMap::new(), sources: HashMap::new() };
        let mut ctes = Vec::new();
        let mut this = None;
        let inputs = refs.iter().map(|r| Input::Ref(r.clone())).chain(sources.iter().map(|(s, t)| Input::Source(s.clone(), t.clone())));
        let inputs: Vec<Input> = inputs.chain(test.given.iter().filter(|g| g.input == Input::This).map(|g| g.input.clone())).collect();
        for input in inputs {
            let (name, real) = match &input {
                Input::Ref(call) => {
                    (call.name.clone(), self.compiler.resolver.resolve_ref(Some(&model.package), call.package.as_deref(), &call.name))
                }
                Input::Source(source, table) => (format!("{source}_{table}"), self.compiler.resolver.resolve_source(source, table)),
                Input::This => ("this".to_string(), Ok(model_relation.clone())),
            };
            // A CTE named as dbt names an inlined relation: `__dbt__cte__<name>`.
            let cte = Relation::ephemeral(&name);
            if ctes.iter().any(|(done, _)| *done == cte.identifier) {
                continue;
            }
            let rows = test.given.iter().find(|g| g.input == input).map(|g| &g.rows);
            let columns = real.ok().and_then(|relation| connection.columns(&relation).ok()).unwrap_or_default();
            let sql = match (rows, columns.is_empty()) {
                (Some(rows), _) => fixture_sql(self.sql, rows, &columns),
                (None, false) => fixture_sql(self.sql, &Rows::Values(Vec::new()), &columns),
                (None, true) => return Err(format!("give rows for its input `{}`: its table does not exist to be read empty", input_text(&input))),
            };
            ctes.push((cte.identifier.clone(), sql));
            match input {
                Input::Ref(call) => {
                    fixtures.refs.insert(call.name, cte);
                }
                Input::Source(source, table) => {
                    fixtures.sources.insert((source, table), cte);
                }
                Input::This => this = Some(cte),
            }
        }

        let mut scope = self.compiler.node_scope(model_index, None);
        scope.resolver = Some(Arc::new(fixtures));
        scope.vars = Some(test.vars.clone());
        scope.is_incremental = test.is_incremental;
        scope.macros = Some(test.macros.clone());
        if let Some(this) = this {
            scope.this = Some(this);
        }
        let sql = self.compiler.render_in(model_index, &mut scope).map_err(|d| d.to_string().trim_end().to_string())?;
        let ctes: Vec<String> = ctes.iter().map(|(name, sql)| format!("{name} as (\n{sql}\n)")).collect();
        let sql = crate::compile::inject_ctes(&sql, &ctes.join(",\n"));

        // The model's rows, in a scratch table whose columns type the expected
        // rows; named for the invocation, so two runs at once do not meet.
        let scratch = staging_relation(&model_relation, &format!("unit_{}_{}", node.name, self.invocation_id.replace('-', "_")));
        connection.execute(&self.sql.create_schema(&scratch)).map_err(|err| err.to_string())?;
        connection.execute(&self.sql.create_scratch(&scratch, &sql)).map_err(|err| format!("the model failed on the given rows: {err}"))?;
        let expected = staging_relation(&scratch, "expected");
        let compared = self.compare(connection, &scratch, &expected, &test.expect);
        for table in [&scratch, &expected] {
            let _ = connection.execute(&self.sql.drop_table(table));
        }
        compared
    }

    /// The expected rows go into a table of the result's columns, so both
    /// sides read as text through the same types.
    fn compare(&self, connection: &mut dyn Connection, scratch: &Relation, expected: &Relation, expect: &Rows) -> Result<Table, String> {
        let actual_columns = connection.columns(scratch).map_err(|err| err.to_string())?;
        let wanted: Vec<String> = match expect {
            Rows::Values(_) => expect.columns(),
            Rows::Sql(_) => actual_columns.iter().map(|c| c.name.clone()).collect(),
        };
        let mut typed = Vec::with_capacity(wanted.len());
        for name in &wanted {
            match actual_columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
                Some(column) => typed.push(column.clone()),
                None => return Err(format!("the model returns no column `{name}`, which `expect` names")),
            }
        }
        let names = typed.iter().map(|c| self.sql.quote(&c.name)).collect::<Vec<_>>().join(", ");
        let texts = typed.iter().map(|c| format!("{} as {}", self.sql.as_text(&self.sql.quote(&c.name), &c.data_type), self.sql.quote(&c.name)));
        let texts = texts.collect::<Vec<_>>().join(", ");
        let expected_sql = fixture_sql(self.sql, expect, &typed);
        let fail = |err: crate::warehouse::WarehouseError| format!("the expected rows cannot be read as the model's columns: {err}");
        connection.execute(&self.sql.create_scratch(expected, &format!("select {names} from {scratch} where false"))).map_err(fail)?;
        connection.execute(&format!("insert into {expected} ({names})\nselect {names} from (\n{expected_sql}\n) as expected")).map_err(fail)?;
        let actual_rows = connection.query_sql(&format!("select {texts} from {scratch}")).map_err(|err| err.to_string())?;
        let expected_rows = connection.query_sql(&format!("select {texts} from {expected}")).map_err(|err| err.to_string())?;
        Ok(differences(&wanted, expected_rows.rows, actual_rows.rows))
    }
}

/// `ref('orders')` as the test writes its input.
fn input_text(input: &Input) -> String {
    match input {
        Input::Ref(call) => format!("ref('{}')", call.name),
        Input::Source(source, table) => format!("source('{source}', '{table}')"),
        Input::This => "this".to_string(),
    }
}

/// A select of `rows`, each value cast to its column's type in `columns`
/// (every column of the input, NULL where a row gives none); without
/// columns, the rows' own columns as literals.
fn fixture_sql(sql: &dyn SqlGenerator, rows: &Rows, columns: &[Column]) -> String {
    let values = match rows {
        Rows::Sql(select) => return select.clone(),
        Rows::Values(values) => values,
    };
    let columns: Vec<Column> = match columns.is_empty() {
        false => columns.to_vec(),
        true => rows.columns().into_iter().map(|name| Column::new(name, "")).collect(),
    };
    let select = |row: Option<&serde_json::Map<String, Json>>| {
        let fields: Vec<String> = columns
            .iter()
            .map(|column| {
                let value = row.and_then(|row| row.iter().find(|(key, _)| key.eq_ignore_ascii_case(&column.name)).map(|(_, v)| v));
                let value = value.unwrap_or(&Json::Null);
                let literal = match (value, column.data_type.is_empty()) {
                    // Without the input's types, a date or a time reads as one.
                    (Json::String(text), true) => temporal_literal(sql, text),
                    (value, true) => crate::sql::plain_literal(sql, value),
                    (value, false) => sql.typed_value(value, &column.data_type),
                };
                format!("{literal} as {}", sql.quote(&column.name))
            })
            .collect();
        format!("select {}", fields.join(", "))
    };
    if values.is_empty() {
        return format!("{} limit 0", select(None));
    }
    values.iter().map(|row| select(Some(row))).collect::<Vec<_>>().join("\nunion all\n")
}

/// `text` as a literal: `date '2026-11-01'`, `timestamp '2026-11-01 08:00:00'`, else a string.
fn temporal_literal(sql: &dyn SqlGenerator, text: &str) -> String {
    let quoted = sql.string_literal(text);
    if chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        format!("date {quoted}")
    } else if chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").is_ok() {
        format!("timestamp {quoted}")
    } else {
        quoted
    }
}

/// The rows of `expected` missing from `actual` (`-`) and the rows of
/// `actual` not expected (`+`), each row counted as often as it appears.
fn differences(columns: &[String], expected: Vec<Vec<Cell>>, actual: Vec<Vec<Cell>>) -> Table {
    let text = |row: &Vec<Cell>| row.iter().map(Cell::to_string).collect::<Vec<String>>();
    let mut unmatched: Vec<Vec<String>> = actual.iter().map(text).collect();
    let mut rows = Vec::new();
    for row in expected.iter().map(text) {
        match unmatched.iter().position(|other| *other == row) {
            Some(at) => {
                unmatched.remove(at);
            }
            None => rows.push(("-", row)),
        }
    }
    rows.extend(unmatched.into_iter().map(|row| ("+", row)));
    let mut header = vec![String::new()];
    header.extend(columns.iter().cloned());
    Table {
        columns: header,
        rows: rows
            .into_iter()
            .map(|(sign, row)| std::iter::once(Cell::Text(sign.to_string())).chain(row.into_iter().map(Cell::Text)).collect())
            .collect(),
    }
}
