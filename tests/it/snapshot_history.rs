//! Snapshots keep the history of a changing source as dbt's do: the
//! `jaffle_history` fixture's source goes through four steps (insert, update,
//! delete, reinsert, a new column), and after each one the snapshot tables
//! hold the versions dbt would write.

use crate::Fixture;
use crate::run::{assert_status, query};

/// The tables the fixture's snapshots write, each with the columns shown
/// (times as text) and the order of its versions.
pub const SNAPSHOTS: [(&str, &str, &str); 3] = [
    ("main_snapshots.customers_ts", "id, name, tier, updated_at, dbt_updated_at, dbt_valid_from, dbt_valid_to", "id, dbt_valid_from"),
    ("main_snapshots.customers_check", "id, name, tier, dbt_is_deleted, dbt_updated_at, dbt_valid_from, dbt_valid_to", "id, dbt_valid_from"),
    ("main_snapshots.order_lines_history", "order_id, line, amount, updated_at, dbt_updated_at, valid_from, valid_to", "order_id, line, valid_from"),
];

/// Puts the source rows of `step` (`steps/<n>/*.csv`) in the fixture's seeds.
pub fn step(fixture: &Fixture, step: usize) {
    let from = fixture.path().join("steps").join(step.to_string());
    for entry in std::fs::read_dir(&from).expect("steps folder") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, fixture.path().join("seeds").join(path.file_name().expect("name"))).expect("copy step");
    }
}

/// Each table's rows, its times of day replaced by `run N` (the N-th
/// distinct time a snapshot ran at, in order): the times the source wrote
/// stay as they are.
pub fn versions(tables: &[(String, Vec<Vec<String>>)]) -> String {
    // `dbt_valid_to_current` (9999-12-31) is not a run's time.
    let is_run_time = |cell: &str| cell.len() >= 10 && cell.as_bytes()[4] == b'-' && cell > "2026-11-30" && !cell.starts_with("9999");
    let mut report = String::new();
    for (table, rows) in tables {
        let mut times: Vec<&str> = rows.iter().flatten().map(String::as_str).filter(|cell| is_run_time(cell)).collect();
        times.sort_unstable();
        times.dedup();
        report.push_str(&format!("{table}\n"));
        for row in rows {
            let cells: Vec<String> = row
                .iter()
                .map(|cell| match times.iter().position(|time| time == cell) {
                    Some(n) => format!("run {}", n + 1),
                    None => cell.clone(),
                })
                .collect();
            report.push_str(&format!("  | {}\n", cells.join(" | ")));
        }
    }
    report
}

fn duckdb_versions(fixture: &Fixture) -> String {
    let tables: Vec<(String, Vec<Vec<String>>)> = SNAPSHOTS
        .iter()
        .map(|(table, columns, order)| {
            let cast: Vec<String> = columns.split(", ").map(|c| format!("cast({c} as varchar)")).collect();
            (table.to_string(), query(fixture, &format!("select {} from {table} order by {order}", cast.join(", "))))
        })
        .collect();
    versions(&tables)
}

// The source changes step by step; after each, every snapshot holds dbt's
// versions: closed ones with their `dbt_valid_to`, current ones open.
#[test]
fn snapshots_keep_every_version_of_a_changing_source() {
    let fixture = crate::dbt_projects::dbt_fixture("jaffle_history");
    let mut report = String::new();
    for n in 1..=4 {
        step(&fixture, n);
        if n < 4 {
            // `build` runs seeds, then snapshots, then the models on them.
            assert_status(&fixture.strata(&["build", "--date", "2026-11-20"]), 0);
        } else {
            assert_status(&fixture.strata(&["seed"]), 0);
            let snapshot = fixture.strata(&["snapshot"]);
            assert_status(&snapshot, 0);
            assert!(snapshot.stdout.contains("snapshotted main_snapshots.customers_ts"), "{}", snapshot.stdout);
        }
        report.push_str(&format!("after step {n}\n{}", duckdb_versions(&fixture)));
        report.push_str(&format!("  current_customers: {:?}\n", query(&fixture, "select id, tier from main.current_customers order by id")));
    }
    insta::assert_snapshot!(report);
    // The new column of step 4 was added to the table that selects it.
    let columns =
        query(&fixture, "select column_name, data_type from information_schema.columns where table_name = 'customers_ts' order by ordinal_position");
    insta::assert_snapshot!(format!("{columns:?}"));
    // Each version has its own id.
    for (table, _, _) in SNAPSHOTS {
        let counts = query(&fixture, &format!("select count(*), count(distinct dbt_scd_id) from {table}"));
        assert_eq!(counts[0][0], counts[0][1], "{table}");
    }
}

// A snapshot's table is its history: `--full-refresh` does not rebuild it,
// and `run` leaves snapshots to `snapshot` and `build`.
#[test]
fn full_refresh_and_run_leave_snapshots_alone() {
    let fixture = crate::dbt_projects::dbt_fixture("jaffle_history");
    assert_status(&fixture.strata(&["build", "--date", "2026-11-20"]), 0);
    step(&fixture, 2);
    assert_status(&fixture.strata(&["seed"]), 0);
    let run = fixture.strata(&["run", "--date", "2026-11-20"]);
    assert_status(&run, 0);
    assert!(!run.stdout.contains("customers_ts"), "{}", run.stdout);
    assert_status(&fixture.strata(&["snapshot", "--full-refresh", "--select", "customers_ts"]), 0);
    let versions = query(&fixture, "select id, tier, dbt_valid_to is null from main_snapshots.customers_ts order by id, dbt_valid_from");
    assert_eq!(
        versions,
        [["1", "gold", "false"], ["1", "platinum", "true"], ["2", "silver", "true"], ["3", "bronze", "false"], ["4", "gold", "true"]]
    );
    let listed = fixture.strata(&["ls", "--resource-type", "snapshot"]);
    insta::assert_snapshot!(listed.stdout);
}

// A snapshot's config is checked where it is written, before anything runs.
#[test]
fn a_snapshot_without_its_strategy_is_an_error_at_its_line() {
    let fixture = Fixture::new().file(
        "snapshots/orders.sql",
        "{% snapshot orders_snapshot %}\n{{ config(unique_key='id', strategy='timestamp') }}\nselect 1 as id\n{% endsnapshot %}\n",
    );
    let compile = fixture.strata(&["compile"]);
    assert_status(&compile, 2);
    insta::assert_snapshot!(compile.stderr);
}

// `flags.WHICH` names the command, `snapshot` included, as dbt's does.
#[test]
fn flags_which_is_snapshot_under_strata_snapshot() {
    let fixture = Fixture::new().file(
        "snapshots/which.sql",
        "{% snapshot which_ran %}\n{{ config(unique_key='id', strategy='check', check_cols='all') }}\nselect 1 as id, '{{ flags.WHICH }}' as which\n{% endsnapshot %}\n",
    );
    assert_status(&fixture.strata(&["snapshot"]), 0);
    assert_eq!(query(&fixture, "select which from main.which_ran"), [["snapshot"]]);
}
