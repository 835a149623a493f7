//! Incremental models whose columns change between two runs, on DuckDB and
//! on the BigQuery emulator: the rows land in the columns of their names, and
//! `on_schema_change` decides what a new or a removed column does, the same
//! on both (their snapshots differ only in the type names).

use serde_json::Value as Json;

use crate::Fixture;
use crate::bigquery::{Emulator, shop_on};
use crate::run::{assert_status, query};

/// Each model: its name, its `on_schema_change`, its columns on the first
/// date and on the second (after `day`, which partitions it).
const MODELS: [(&str, &str, &str, &str); 9] = [
    ("reordered", "ignore", "1 as a, 2 as b", "20 as b, 10 as a"),
    ("widened_ignored", "ignore", "1 as a, 2 as b", "10 as a, 20 as b, 30 as c"),
    ("widened_appended", "append_new_columns", "1 as a, 2 as b", "10 as a, 30 as c, 20 as b"),
    ("widened_failing", "fail", "1 as a, 2 as b", "10 as a, 20 as b, 30 as c"),
    ("narrowed_ignored", "ignore", "1 as a, 2 as b", "10 as a"),
    ("narrowed_synced", "sync_all_columns", "1 as a, 2 as b", "10 as a"),
    ("narrowed_failing", "fail", "1 as a, 2 as b", "10 as a"),
    // A type BigQuery changes in place (to a wider one), and one it does not:
    // the table is rebuilt with the column cast, in one statement.
    ("retyped_wider", "sync_all_columns", "1 as a, 2 as b", "10 as a, 2.5 as b"),
    ("retyped_synced", "sync_all_columns", "1 as a, 2 as b", "10 as a, 'x' as b, 30 as c"),
];

/// The models as they are written for the first date (`second` false) or the second.
fn with_models(fixture: Fixture, second: bool) -> Fixture {
    MODELS.iter().fold(fixture, |fixture, (name, on_schema_change, first, then)| {
        let columns = if second { then } else { first };
        fixture.file(
            &format!("models/{name}.sql"),
            &format!(
                "{{{{ config(materialized='incremental', partition_by={{'field': 'day', 'data_type': 'date'}}, on_schema_change='{on_schema_change}') }}}}\n\
                 select date '{{{{ ds }}}}' as day, {columns}\n"
            ),
        )
    })
}

/// A model's rows as `column=value` pairs, read back from the warehouse.
type RowsOf<'a> = dyn Fn(&Fixture, &str) -> Vec<Vec<(String, String)>> + 'a;

/// Runs both dates; per model, its status on the second, its message, and
/// its rows as `column=value` pairs sorted by column, read with `rows_of`.
fn two_runs(fixture: Fixture, rows_of: &RowsOf<'_>) -> String {
    let fixture = with_models(fixture, false);
    assert_status(&fixture.strata(&["run", "--date", "2026-11-19"]), 0);
    let fixture = with_models(fixture, true);
    let run = fixture.strata(&["run", "--date", "2026-11-20"]);
    assert_status(&run, 1);
    let (_, messages) = fixture.results("message");
    let (_, statuses) = fixture.results("status");
    let mut report = String::new();
    for (name, on_schema_change, _, _) in MODELS {
        let id = format!("model.shop.{name}");
        let status = statuses.iter().find(|(i, _)| *i == id).map(|(_, s)| s.as_str()).unwrap_or_default();
        report.push_str(&format!("## {name} ({on_schema_change}): {status}\n"));
        if status != "success" {
            let message = messages.iter().find(|(i, _)| *i == id).map(|(_, m)| m.as_str()).unwrap_or_default();
            report.push_str(&format!("{message}\n"));
        }
        for mut row in rows_of(&fixture, name) {
            row.sort();
            let cells: Vec<String> = row.into_iter().map(|(column, value)| format!("{column}={value}")).collect();
            report.push_str(&format!("{}\n", cells.join(" ")));
        }
    }
    report
}

#[test]
fn on_schema_change_on_duckdb() {
    let report = two_runs(Fixture::new(), &|fixture, name| {
        let columns =
            query(fixture, &format!("select column_name from information_schema.columns where table_name = '{name}' order by ordinal_position"));
        let columns: Vec<String> = columns.into_iter().map(|row| row[0].clone()).collect();
        let cells = columns.iter().map(|c| format!("cast({c} as varchar)")).collect::<Vec<_>>().join(", ");
        let rows = query(fixture, &format!("select {cells} from main.{name} order by day"));
        rows.into_iter().map(|row| columns.iter().cloned().zip(row).collect()).collect()
    });
    insta::assert_snapshot!(report);
}

// The emulator's table metadata lags behind `alter table`, so the rows are
// read as JSON, whose keys are the columns the table has.
#[test]
fn on_schema_change_on_bigquery() {
    let emulator = Emulator::start("shop-test");
    let report = two_runs(shop_on(Fixture::new(), &emulator, ""), &|_, name| {
        let rows = emulator.query(&format!("select to_json_string(t) from `shop-test.analytics.{name}` as t order by day"));
        rows.into_iter()
            .map(|row| {
                let object: serde_json::Map<String, Json> = serde_json::from_str(&row[0]).unwrap_or_else(|err| panic!("{err}: {}", row[0]));
                object
                    .into_iter()
                    .map(|(column, value)| {
                        (column, value.as_str().map_or_else(|| if value.is_null() { "NULL".into() } else { value.to_string() }, str::to_string))
                    })
                    .collect()
            })
            .collect()
    });
    insta::assert_snapshot!(report);
}
