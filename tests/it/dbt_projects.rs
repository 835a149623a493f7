//! dbt projects as teams write them load and build unchanged: the
//! dbt_project.yml keys strata does not use, Jinja in configs, seeds' configs
//! by folder, and YAML for dbt's semantic layer, which strata leaves alone.

use crate::Fixture;
use crate::run::{assert_status, query};

const PROJECT: &str = r#"name: jaffle
version: '1.0.0'
require-dbt-version: [">=1.5.0", "<2.0.0"]
profile: shop
model-paths: ["models"]
analysis-paths: ["analyses"]
snapshot-paths: ["snapshots"]
clean-targets: [target, dbt_packages]
dbt-cloud:
  project-id: 123
flags:
  send_anonymous_usage_stats: false
vars:
  load_source_data: true
seeds:
  jaffle:
    +schema: raw
    +quote_columns: true
    raw:
      customers:
        +alias: raw_customers
        +column_types: {id: varchar}
models:
  jaffle:
    +materialized: table
    +docs: {node_color: green}
    disabled_one:
      +enabled: false
    staging:
      +enabled: "{{ var('load_source_data', false) }}"
"#;

const PROPERTIES: &str = r#"version: 2
models:
  - name: counts
    description: "{{ doc('counts_doc') }}"
    columns:
      - name: n
        data_tests:
          - not_null
          - accepted_values:
              arguments:
                values: [2]
semantic_models:
  - name: orders
    model: ref('counts')
    dimensions:
      - name: n
        type: categorical
        expr: "{{ Dimension('x') }}"
metrics:
  - name: m
    label: M
    type: simple
    type_params: {measure: n}
saved_queries:
  - name: q
    query_params: {metrics: [m], where: ["{{ Dimension('orders__n') }} > 1"]}
"#;

// A project written for dbt 1.8-1.10 builds as it is, with dbt-duckdb's names and types.
#[test]
fn a_dbt_project_as_teams_write_it_builds_unchanged() {
    let fixture = Fixture::new()
        .file("dbt_project.yml", PROJECT)
        .file("seeds/raw/customers.csv", "id,name,score\n1,a,10\n2,b,20\n")
        .file("models/staging/stg_customers.sql", "select * from {{ ref('customers') }}\n")
        .file("models/disabled_one.sql", "select * from nowhere\n")
        .file("models/counts.sql", "select count(*) as n, sum(score) as total from {{ ref('stg_customers') }}\n")
        .file("models/schema.yml", PROPERTIES)
        .file("models/docs.md", "{% docs counts_doc %}\nHow many customers.\n{% enddocs %}\n");
    let build = fixture.strata(&["build", "--date", "2026-11-20"]);
    assert_status(&build, 0);
    assert!(build.stdout.contains("PASS=5 WARN=0 ERROR=0 SKIP=0 TOTAL=5"), "{}", build.stdout);
    // dbt's schema naming (`main_raw`), the alias, the column types set by folder, INTEGER as dbt-duckdb infers it.
    let columns = query(
        &fixture,
        "select table_schema, table_name, column_name, data_type from information_schema.columns where table_name = 'raw_customers' order by ordinal_position",
    );
    assert_eq!(
        columns,
        [
            ["main_raw", "raw_customers", "id", "VARCHAR"],
            ["main_raw", "raw_customers", "name", "VARCHAR"],
            ["main_raw", "raw_customers", "score", "INTEGER"]
        ]
    );
    assert_eq!(query(&fixture, "select n, total from main.counts"), [["2", "30"]]);
    // `+enabled: false` removes the model: nothing reads `nowhere`.
    assert_eq!(query(&fixture, "select count(*) from information_schema.tables where table_name = 'disabled_one'"), [["0"]]);
    let manifest: serde_json::Value = serde_json::from_str(&fixture.read("target/manifest.json")).expect("manifest");
    assert_eq!(manifest["nodes"]["model.jaffle.counts"]["description"], "How many customers.");
}
