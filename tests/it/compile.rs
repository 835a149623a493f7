//! What `strata compile` writes: SQL with real relation names for the execution
//! date, config merged as dbt merges it, macros without imports, ephemeral
//! models inlined, and `target/manifest.json`.

use crate::Fixture;

const PROJECT: &str = "\
name: shop
profile: shop
vars:
  'shop:lookback_days': 3
  region: eu
models:
  shop:
    +materialized: view
    marts:
      +schema: marts
      materialized: table
      +tags: [nightly]
";

fn shop() -> Fixture {
    Fixture::new()
        .file("dbt_project.yml", PROJECT)
        .file("models/sources.yml", "version: 2\nsources:\n  - name: raw\n    schema: raw_data\n    tables:\n      - name: orders\n        identifier: orders_v2\n")
        .file("models/staging/stg_orders.sql", "{{ config(materialized='ephemeral') }}\nselect id, amount, ordered_at from {{ source('raw', 'orders') }}\n")
        .file(
            "models/marts/daily_revenue.sql",
            "\
{{ config(alias='revenue_by_day', tags=['finance']) }}
-- {{ this }} for {{ ds }} ({{ ds_nodash }}, prev {{ prev_ds }}, next {{ next_ds }}), {{ execution_date.strftime('%d/%m/%Y') }}
-- interval {{ data_interval_start }} .. {{ data_interval_end }}; incremental: {{ is_incremental() }}; region {{ var('region') }}
select
    {{ dbt.date_trunc('day', 'ordered_at') }} as order_day,
    {{ safe_cast('amount', type_int()) }} as amount,
    {{ cents('amount') }} as amount_cents
from {{ ref('stg_orders') }}
where ordered_at >= {{ dateadd('day', -1 * var('shop:lookback_days'), \"date '\" ~ ds ~ \"'\") }}
",
        )
        .file(
            "macros/money.sql",
            "\
{% macro cents(column) %}{{ return(adapter.dispatch('cents')(column)) }}{% endmacro %}
{% macro default__cents(column) %}cast({{ column }} * 100 as integer){% endmacro %}
{% macro bigquery__cents(column) %}cast({{ column }} * 100 as int64){% endmacro %}
",
        )
        .file("models/marts/schema.yml", "version: 2\nmodels:\n  - name: daily_revenue\n    description: \"{{ doc('revenue') }}\"\n    config:\n      tags: [yml_tag]\n    columns:\n      - name: order_day\n        tests: [not_null, positive_day]\n")
        .file("models/marts/docs.md", "{% docs revenue %}\nRevenue per day.\n{% enddocs %}\n")
        .file("macros/positive.sql", "{% test positive_day(model, column_name) %}\nselect * from {{ model }} where {{ column_name }} is null\n{% endtest %}\n")
}

#[test]
fn compiles_for_the_execution_date_on_duckdb() {
    let fixture = shop();
    let run = fixture.strata(&["compile", "--date", "2026-11-20"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout, @"Compiled 2 models and 2 tests for 2026-11-20 into `target/compiled`");
    insta::assert_snapshot!("duckdb_daily_revenue", fixture.read("target/compiled/shop/models/marts/daily_revenue.sql"));
    insta::assert_snapshot!(
        "custom_generic_test",
        fixture.read("target/compiled/shop/models/marts/schema.yml/positive_day_daily_revenue_order_day.sql")
    );
}

#[test]
fn compiles_bigquery_sql_without_a_warehouse() {
    let fixture = shop();
    let run = fixture.strata(&["compile", "--date", "2026-11-20", "--target", "prod"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    insta::assert_snapshot!("bigquery_daily_revenue", fixture.read("target/compiled/shop/models/marts/daily_revenue.sql"));
}

#[test]
fn manifest_records_config_refs_and_maps() {
    let fixture = shop();
    let run = fixture.strata(&["compile", "--date", "2026-11-20"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let manifest: serde_json::Value = serde_json::from_str(&fixture.read("target/manifest.json")).expect("manifest is JSON");
    let node = &manifest["nodes"]["model.shop.daily_revenue"];
    // Project tree, then properties file, then the model's own config() call.
    assert_eq!(node["config"]["materialized"], "table");
    assert_eq!(node["config"]["alias"], "revenue_by_day");
    assert_eq!(node["tags"], serde_json::json!(["nightly", "yml_tag", "finance"]));
    assert_eq!(node["relation_name"], "\"dev\".\"main_marts\".\"revenue_by_day\"");
    assert_eq!(node["description"], "Revenue per day.");
    assert_eq!(node["compiled_path"], "target/compiled/shop/models/marts/daily_revenue.sql");
    assert_eq!(manifest["parent_map"]["model.shop.daily_revenue"], serde_json::json!(["model.shop.stg_orders"]));
    assert_eq!(manifest["parent_map"]["model.shop.stg_orders"], serde_json::json!(["source.shop.raw.orders"]));
    assert_eq!(
        manifest["child_map"]["model.shop.daily_revenue"],
        serde_json::json!(["test.shop.not_null_daily_revenue_order_day.a284000fbe", "test.shop.positive_day_daily_revenue_order_day.219e8e36b2"])
    );
    assert_eq!(manifest["sources"]["source.shop.raw.orders"]["relation_name"], "\"dev\".\"raw_data\".\"orders_v2\"");
}

#[test]
fn project_macros_override_schema_naming() {
    let fixture = shop().file(
        "macros/naming.sql",
        "{% macro generate_schema_name(custom_schema_name, node) %}{{ custom_schema_name or target.schema }}{% endmacro %}",
    );
    let run = fixture.strata(&["compile", "--date", "2026-11-20", "--select", "daily_revenue"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let sql = fixture.read("target/compiled/shop/models/marts/daily_revenue.sql");
    assert!(sql.contains("-- \"dev\".\"marts\".\"revenue_by_day\" for 2026-11-20"), "{sql}");
}

#[test]
fn vars_flag_overrides_project_vars() {
    let fixture = shop();
    let run = fixture.strata(&["compile", "--date", "2026-11-20", "--vars", "{region: us, 'shop:lookback_days': 7}"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let sql = fixture.read("target/compiled/shop/models/marts/daily_revenue.sql");
    assert!(sql.contains("region us"), "{sql}");
    assert!(sql.contains("cast(-7 as bigint) * interval 1 day"), "{sql}");
    let run = fixture.strata(&["compile", "--date", "2026-11-20", "--vars", r#"{"region": "apac"}"#]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(fixture.read("target/compiled/shop/models/marts/daily_revenue.sql").contains("region apac"));
}

#[test]
fn disabled_models_are_left_out() {
    let fixture = Fixture::new().file("models/a.sql", "{{ config(enabled=false) }}\nselect 1 as id").file("models/b.sql", "select 2 as id");
    let run = fixture.strata(&["ls", "--output", "name"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "b\n");
    let fixture = fixture.file("models/c.sql", "select * from {{ ref('a') }}");
    let run = fixture.strata(&["compile"]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("= note: `a` is disabled (`enabled: false`)"), "{}", run.stderr);
}

#[test]
fn env_var_and_target_in_models() {
    let fixture = Fixture::new().file(
        "models/a.sql",
        "select '{{ env_var(\"STRATA_TEST_REGION\", \"none\") }}' as region, '{{ target.name }}/{{ target.type }}/{{ target.schema }}' as t",
    );
    let output =
        crate::strata_command(fixture.path()).args(["compile", "--date", "2026-11-20"]).env("STRATA_TEST_REGION", "eu-west").output().expect("run");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(fixture.read("target/compiled/shop/models/a.sql"), "select 'eu-west' as region, 'dev/duckdb/main' as t");
}

#[test]
fn debug_masks_secrets() {
    let profiles = "shop:\n  target: prod\n  outputs:\n    prod:\n      type: bigquery\n      method: service-account-json\n      project: p\n      dataset: d\n      keyfile_json: \"{{ env_var('STRATA_TEST_KEY') }}\"\n      tableau:\n        token_secret: \"{{ env_var('STRATA_TEST_KEY') }}\"\n";
    let fixture = Fixture::new().file("profiles.yml", profiles);
    let output = crate::strata_command(fixture.path()).args(["debug"]).env("STRATA_TEST_KEY", "very-secret-value").output().expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The settings are printed, then the connection test fails on the key, without quoting it.
    assert_eq!(output.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("`keyfile_json` is not a service-account key: not valid JSON"), "{stderr}");
    assert!(!stdout.contains("very-secret-value") && !stderr.contains("very-secret-value"), "{stdout}{stderr}");
    assert!(stdout.contains("keyfile_json: ****"), "{stdout}");
    assert!(stdout.contains("\"token_secret\":\"****\""), "{stdout}");
}

#[test]
fn profiles_dir_flag_and_env() {
    let fixture = Fixture::new().file("models/a.sql", "select 1 as id");
    std::fs::rename(fixture.path().join("profiles.yml"), fixture.path().join("elsewhere.yml")).expect("move");
    let run = fixture.strata(&["ls"]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.starts_with("error: could not find `profiles.yml`"), "{}", run.stderr);
    let dir = fixture.path().join("conf");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::rename(fixture.path().join("elsewhere.yml"), dir.join("profiles.yml")).expect("move");
    let run = fixture.strata(&["ls", "--profiles-dir", "conf"]);
    assert_eq!((run.status, run.stdout.as_str()), (0, "shop.a\n"), "{}", run.stderr);
    let output = crate::strata_command(fixture.path()).args(["ls"]).env("DBT_PROFILES_DIR", dir).output().expect("run");
    assert_eq!(output.status.code(), Some(0));
}

// Parsing renders a model once with placeholders for relation names; a model
// that looks inside a relation must still get the real names.
#[test]
fn relation_attributes_see_the_final_names() {
    let fixture = Fixture::new()
        .file("models/orders.sql", "{{ config(alias='orders_v2', schema='sales') }} select 1 as id")
        .file(
            "models/report.sql",
            "-- {{ ref('orders').identifier }} in {{ ref('orders').schema }}; {{ this.identifier }}\nselect * from {{ ref('orders') }} as o join {{ this }} as t on true",
        );
    let run = fixture.strata(&["compile"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        fixture.read("target/compiled/shop/models/report.sql"),
        "-- orders_v2 in main_sales; report\nselect * from \"dev\".\"main_sales\".\"orders_v2\" as o join \"dev\".\"main\".\"report\" as t on true"
    );
}

/// Returns once a file written now gets a modification time after `than`, so a
/// rewrite from here on shows in the time whatever the file system's resolution.
fn wait_for_a_later_mtime(dir: &std::path::Path, than: std::time::SystemTime) {
    let probe = dir.join("mtime-probe");
    loop {
        std::fs::write(&probe, "").expect("write the probe");
        if std::fs::metadata(&probe).and_then(|m| m.modified()).expect("probe mtime") > than {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::fs::remove_file(&probe).expect("remove the probe");
}

// Unchanged compiled files are not rewritten; changed or hand-edited ones are.
#[test]
fn compile_rewrites_only_what_changed() {
    let fixture = Fixture::new().file("models/a.sql", "select 1 as id").file("models/b.sql", "select 2 as id");
    assert_eq!(fixture.strata(&["compile"]).status, 0);
    let path = fixture.path().join("target/compiled/shop/models/b.sql");
    let modified = || std::fs::metadata(&path).and_then(|m| m.modified()).expect("mtime");
    let first = modified();
    wait_for_a_later_mtime(fixture.path(), first);
    assert_eq!(fixture.strata(&["compile"]).status, 0);
    assert_eq!(modified(), first);
    std::fs::write(&path, "edited by hand").expect("edit");
    assert_eq!(fixture.strata(&["compile"]).status, 0);
    assert_eq!(fixture.read("target/compiled/shop/models/b.sql"), "select 2 as id");
    // Compiling another selection keeps what strata knows of `b`.
    let restored = modified();
    wait_for_a_later_mtime(fixture.path(), restored);
    assert_eq!(fixture.strata(&["compile", "--select", "a"]).status, 0);
    assert_eq!(fixture.strata(&["compile"]).status, 0);
    assert_eq!(modified(), restored);
    std::fs::remove_file(&path).expect("delete");
    assert_eq!(fixture.strata(&["compile"]).status, 0);
    assert_eq!(fixture.read("target/compiled/shop/models/b.sql"), "select 2 as id");
    let fixture = fixture.file("models/b.sql", "select 3 as id");
    assert_eq!(fixture.strata(&["compile"]).status, 0);
    assert_eq!(fixture.read("target/compiled/shop/models/b.sql"), "select 3 as id");
}

// The SQL check remembers what passed, never what failed: a model broken
// after a clean compile is still caught.
#[test]
fn the_sql_check_catches_a_model_broken_after_a_clean_compile() {
    let fixture = Fixture::new().file("models/a.sql", "select 1 as id").file("models/b.sql", "select 2 as id");
    assert_eq!(fixture.strata(&["compile"]).status, 0);
    assert_eq!(fixture.strata(&["compile"]).status, 0);
    let fixture = fixture.file("models/b.sql", "select 2 as id from");
    for _ in 0..2 {
        let run = fixture.strata(&["compile"]);
        assert_eq!(run.status, 2);
        assert!(run.stderr.contains("SQL syntax error in model `b`"), "{}", run.stderr);
    }
    let fixture = fixture.file("models/b.sql", "select 2 as id");
    assert_eq!(fixture.strata(&["compile"]).status, 0);
}

// On a table partitioned by a timestamp that requires a partition filter,
// every test's query filters the partition column itself with constant
// bounds, which BigQuery prunes by and accepts: the date's partition by
// default, every row with `test_scope: all`, and the whole parent table that
// a `relationships` test reads.
#[test]
fn tests_of_a_table_requiring_a_partition_filter_filter_its_column() {
    let fixture = Fixture::new()
        .file(
            "models/events.sql",
            "{{ config(materialized='incremental', partition_by={'field': 'at', 'data_type': 'timestamp'}, require_partition_filter=true) }}\nselect 1 as id, current_timestamp() as at\n",
        )
        .file("models/clicks.sql", "select 1 as event_id\n")
        .file(
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: events\n    columns:\n      - name: id\n        tests:\n          - not_null\n          - unique: {config: {test_scope: all}}\n  - name: clicks\n    columns:\n      - name: event_id\n        tests:\n          - relationships: {to: ref('events'), field: id}\n",
        );
    let run = fixture.strata(&["compile", "--target", "prod", "--date", "2026-11-20"]);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    let compiled = ["not_null_events_id", "unique_events_id", "relationships_clicks_event_id__id__ref_events_"]
        .map(|name| format!("-- {name}\n{}", fixture.read(&format!("target/compiled/shop/models/schema.yml/{name}.sql"))));
    insta::assert_snapshot!(compiled.join("\n"));
}
