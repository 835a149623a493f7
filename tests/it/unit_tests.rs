//! dbt's unit tests: the `jaffle_units` fixture's models checked on the rows
//! each test gives them, before they are built; a failing test prints the
//! rows that differ and skips its model.

use crate::Fixture;
use crate::run::{assert_status, query, redact};

/// Each unit test's status in `target/run_results.json`, by unique id.
pub fn verdicts(fixture: &Fixture) -> Vec<(String, String)> {
    let (_, mut results) = fixture.results("status");
    results.retain(|(id, _)| id.starts_with("unit_test."));
    results.sort();
    results
}

// `build` runs each model's unit tests before it: the passing ones let it
// build, the failing one skips it and shows expected and actual rows.
#[test]
fn unit_tests_check_each_model_before_it_is_built() {
    let fixture = crate::dbt_projects::dbt_fixture("jaffle_units");
    let build = fixture.strata(&["build", "--no-progress", "--threads", "1"]);
    assert_status(&build, 1);
    insta::assert_snapshot!(redact(&build.stdout));
    insta::assert_snapshot!(format!("{:#?}", verdicts(&fixture)));
    // The models whose tests passed were built from the real rows, with the
    // project's own macro where a test overrode it.
    let report = crate::dbt_projects::tables_report(
        &fixture,
        &[
            ("main.stg_orders", "order_id"),
            ("main.customer_orders", "customer_id"),
            ("main.big_orders", "order_id"),
            ("main.order_taxes", "order_id"),
        ],
    );
    insta::assert_snapshot!(report);
    let sizes =
        query(&fixture, "select count(*) from information_schema.tables where table_name = 'order_sizes' or table_name like '%__strata_unit_%'");
    assert_eq!(sizes, [["0"]], "neither the model nor the test's scratch table is left");
}

// `test --select test_type:unit` runs the unit tests alone; the inputs that
// exist type the given rows.
#[test]
fn unit_tests_run_alone_with_test_type_unit() {
    let fixture = crate::dbt_projects::dbt_fixture("jaffle_units");
    assert_status(&fixture.strata(&["seed"]), 0);
    let test = fixture.strata(&["test", "--select", "test_type:unit", "--no-progress"]);
    assert_status(&test, 1);
    assert!(test.stdout.contains("PASS=5 WARN=0 ERROR=1 SKIP=0 TOTAL=6"), "{}", test.stdout);
    let listed = fixture.strata(&["ls", "--select", "test_type:unit", "--output", "name"]);
    insta::assert_snapshot!(listed.stdout);
    let by_type = fixture.strata(&["ls", "--resource-type", "unit_test", "--output", "name"]);
    assert_eq!(by_type.stdout, listed.stdout);
}

// A unit test of a model that does not exist is an error at its line.
#[test]
fn a_unit_test_of_a_missing_model_is_an_error_at_its_line() {
    let fixture = Fixture::new()
        .file("models/a.sql", "select 1 as id\n")
        .file("models/tests.yml", "unit_tests:\n  - name: t\n    model: b\n    given: []\n    expect:\n      rows: [{id: 1}]\n");
    let compile = fixture.strata(&["compile"]);
    assert_status(&compile, 2);
    insta::assert_snapshot!(compile.stderr);
}

// Rows given for an input the model does not read (a misspelt name) are an
// error at that input, not rows silently left out.
#[test]
fn rows_for_an_input_the_model_does_not_read_are_an_error() {
    let fixture = Fixture::new().file("models/a.sql", "select 1 as id\n").file("models/b.sql", "select id from {{ ref('a') }}\n").file(
        "models/tests.yml",
        "unit_tests:\n  - name: t\n    model: b\n    given:\n      - input: ref('aa')\n        rows: [{id: 1}]\n    expect:\n      rows: [{id: 1}]\n",
    );
    let compile = fixture.strata(&["compile"]);
    assert_status(&compile, 2);
    insta::assert_snapshot!(compile.stderr);
}
