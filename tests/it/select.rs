//! dbt's selection grammar on a small fixture graph, as `strata ls` prints it.

use crate::Fixture;

/// raw.events → stg_events → sessions → (daily, weekly); seed countries → daily;
/// a singular test and an exposure on daily.
fn graph() -> Fixture {
    Fixture::new()
        .file("dbt_project.yml", "name: shop\nprofile: shop\nmodels:\n  shop:\n    marts:\n      +materialized: table\n      +tags: [nightly]\n")
        .file("models/sources.yml", "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: events\n      - name: users\n")
        .file("models/staging/stg_events.sql", "select * from {{ source('raw', 'events') }}")
        .file("models/staging/stg_users.sql", "{{ config(tags=['pii']) }} select * from {{ source('raw', 'users') }}")
        .file("models/marts/sessions.sql", "{{ config(materialized='incremental') }} select * from {{ ref('stg_events') }}")
        .file("models/marts/daily.sql", "select * from {{ ref('sessions') }} join {{ ref('countries') }} using (country)")
        .file("models/marts/weekly.sql", "{{ config(materialized='view') }} select * from {{ ref('sessions') }}")
        .file("models/marts/schema.yml", "version: 2\nmodels:\n  - name: daily\n    columns:\n      - name: day\n        data_tests: [not_null]\n")
        .file(
            "models/exposures.yml",
            "version: 2\nexposures:\n  - name: dashboard\n    type: dashboard\n    owner: {name: BI}\n    depends_on: [\"ref('daily')\"]\n",
        )
        .file("seeds/countries.csv", "country,name\nkr,Korea\n")
        .file("tests/assert_daily.sql", "select * from {{ ref('daily') }} where false")
}

fn ls(fixture: &Fixture, args: &[&str]) -> Vec<String> {
    let mut full = vec!["ls", "--output", "name"];
    full.extend_from_slice(args);
    let run = fixture.strata(&full);
    assert_eq!(run.status, 0, "{}", run.stderr);
    run.stdout.lines().map(str::to_string).collect()
}

#[test]
fn names_and_graph_operators() {
    let g = graph();
    assert_eq!(ls(&g, &["-s", "sessions"]), ["sessions"]);
    assert_eq!(ls(&g, &["-s", "sessions+"]), ["dashboard", "daily", "sessions", "weekly", "assert_daily", "not_null_daily_day"]);
    assert_eq!(ls(&g, &["-s", "+sessions"]), ["sessions", "stg_events", "raw.events"]);
    assert_eq!(ls(&g, &["-s", "1+daily"]), ["daily", "sessions", "countries", "assert_daily", "not_null_daily_day"]);
    assert_eq!(ls(&g, &["-s", "stg_events+1"]), ["sessions", "stg_events"]);
    assert_eq!(ls(&g, &["-s", "2+daily+1", "--resource-type", "model"]), ["daily", "sessions", "stg_events"]);
    assert_eq!(ls(&g, &["-s", "@sessions", "--resource-type", "model", "seed"]), ["daily", "sessions", "stg_events", "weekly", "countries"]);
}

#[test]
fn methods() {
    let g = graph();
    assert_eq!(ls(&g, &["-s", "tag:nightly", "--resource-type", "model"]), ["daily", "sessions", "weekly"]);
    assert_eq!(ls(&g, &["-s", "tag:pii"]), ["stg_users"]);
    assert_eq!(ls(&g, &["-s", "path:models/staging"]), ["stg_events", "stg_users"]);
    assert_eq!(ls(&g, &["-s", "path:models/marts/daily.sql", "--resource-type", "model"]), ["daily"]);
    assert_eq!(ls(&g, &["-s", "config.materialized:incremental"]), ["sessions"]);
    assert_eq!(ls(&g, &["-s", "config.materialized:view"]), ["stg_events", "stg_users", "weekly"]);
    assert_eq!(ls(&g, &["-s", "source:raw"]), ["raw.events", "raw.users"]);
    assert_eq!(ls(&g, &["-s", "source:raw.users+"]), ["stg_users", "raw.users"]);
    assert_eq!(ls(&g, &["-s", "exposure:dashboard"]), ["dashboard"]);
    assert_eq!(ls(&g, &["-s", "exposure:*"]), ["dashboard"]);
    // `package.source.table`
    assert_eq!(ls(&g, &["-s", "source:shop.raw.users"]), ["raw.users"]);
    assert!(ls(&g, &["-s", "source:other.raw.users"]).is_empty());
    assert_eq!(ls(&g, &["-s", "+exposure:dashboard", "--resource-type", "model"]), ["daily", "sessions", "stg_events"]);
    assert_eq!(ls(&g, &["-s", "resource_type:seed"]), ["countries"]);
    assert_eq!(ls(&g, &["-s", "stg_*"]), ["stg_events", "stg_users"]);
    assert_eq!(ls(&g, &["-s", "shop.marts.*", "--resource-type", "model"]), ["daily", "sessions", "weekly"]);
}

#[test]
fn union_intersection_and_exclude() {
    let g = graph();
    assert_eq!(ls(&g, &["-s", "stg_events weekly"]), ["stg_events", "weekly"]);
    assert_eq!(ls(&g, &["-s", "stg_events", "weekly"]), ["stg_events", "weekly"]);
    assert_eq!(ls(&g, &["-s", "tag:nightly,config.materialized:table"]), ["daily", "assert_daily", "not_null_daily_day"]);
    assert_eq!(ls(&g, &["-s", "sessions+", "--exclude", "weekly", "resource_type:test"]), ["dashboard", "daily", "sessions"]);
    assert_eq!(ls(&g, &["--resource-type", "source"]), ["raw.events", "raw.users"]);
}

#[test]
fn output_formats() {
    let g = graph();
    let run = g.strata(&["ls", "-s", "+daily"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
    let run = g.strata(&["ls", "-s", "daily", "--resource-type", "model", "-o", "path"]);
    assert_eq!(run.stdout, "models/marts/daily.sql\n");
    let run = g.strata(&["ls", "-s", "daily", "--resource-type", "model", "-o", "json"]);
    let entry: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("one JSON line");
    assert_eq!(entry["unique_id"], "model.shop.daily");
    assert_eq!(entry["depends_on"]["nodes"], serde_json::json!(["model.shop.sessions", "seed.shop.countries"]));
    assert_eq!(entry["config"]["materialized"], "table");
}

#[test]
fn bad_selector_is_a_usage_error() {
    let run = graph().strata(&["ls", "-s", "colour:red"]);
    assert_eq!(run.status, 2);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn a_generic_test_declared_twice_gets_a_numbered_name() {
    let fixture = Fixture::new()
        .file("dbt_project.yml", "name: shop\nprofile: shop\n")
        .file("models/daily.sql", "select 1 as day")
        .file("models/schema.yml", "version: 2\nmodels:\n  - name: daily\n    columns:\n      - name: day\n        data_tests: [not_null, unique, not_null]\n")
        .file("models/more.yml", "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: events\n        columns:\n          - name: id\n            data_tests: [not_null, not_null]\n");
    assert_eq!(
        ls(&fixture, &["--resource-type", "test"]),
        ["not_null_daily_day", "not_null_daily_day_2", "source_not_null_raw_events_id", "source_not_null_raw_events_id_2", "unique_daily_day"]
    );
}
