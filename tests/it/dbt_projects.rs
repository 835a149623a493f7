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

/// A copy of the dbt project `tests/fixtures/dbt/<name>`, which
/// `bench/dbt_compare.py` also builds with dbt.
pub fn dbt_fixture(name: &str) -> Fixture {
    crate::example::copy(Fixture::new(), &crate::repo_root().join("tests/fixtures/dbt").join(name), std::path::Path::new(""))
}

/// Each table's columns and types, and its rows, as text.
fn table(fixture: &Fixture, relation: &str, order_by: &str) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let (schema, name) = relation.split_once('.').expect("schema.table");
    let columns = query(
        fixture,
        &format!(
            "select column_name, data_type from information_schema.columns where table_schema = '{schema}' and table_name = '{name}' order by ordinal_position"
        ),
    );
    let list: Vec<String> = columns.iter().map(|c| format!("cast(\"{}\" as varchar)", c[0])).collect();
    let rows = query(fixture, &format!("select {} from {relation} order by {order_by}", list.join(", ")));
    (columns, rows)
}

// A project with a local package of its own written as dbt packages are:
// dispatch with the project's `dispatch:` order, lists built with `append`,
// `return()`, introspective queries while compiling (`star`, column values),
// dbt's cross-database macros, a package model and generic test.
#[test]
fn a_project_with_a_package_builds_the_tables_dbt_builds() {
    let fixture = dbt_fixture("jaffle_utils");
    assert_status(&fixture.strata(&["deps"]), 0);
    let build = fixture.strata(&["build", "--date", "2026-11-20"]);
    assert_status(&build, 0);
    // A test named with 64 characters or more keeps its whole name, and its
    // compiled file is named as dbt names it: 30 characters and an MD5.
    assert!(build.stdout.contains("PASS  mini_utils_expression_is_true_customers_active_days_0_and_last_name_length_0 "), "{}", build.stdout);
    let compiled = fixture.read("target/compiled/jaffle_utils/models/schema.yml/mini_utils_expression_is_true__d8edb4119ce02e0e69a5562946db215f.sql");
    assert!(compiled.contains("active_days >= 0 and last_name_length >= 0"), "{compiled}");
    let report = tables_report(
        &fixture,
        &[
            ("main_raw.raw_orders", "id"),
            ("main_raw.raw_customers", "id"),
            ("main.stg_orders", "id"),
            ("main.customers", "customer_id"),
            ("main.order_status_pivot", "customer_id"),
            ("main.calendar", "1"),
            ("main.model_inventory", "1"),
            ("main_utils.utils_numbers", "n"),
            // The package's own `calendar`, told apart from the project's by `ref('mini_utils', 'calendar')`.
            ("main_utils.calendar", "day_number"),
            ("main_utils.utils_calendar_days", "1"),
            ("main.package_calendar", "1"),
        ],
    );
    insta::assert_snapshot!(report);
    // A package's own generic test.
    assert!(build.stdout.contains("PASS  not_null_utils_numbers_n "), "{}", build.stdout);
    // One row that counts as a failure only through the `fail_calc` its macro sets.
    assert!(build.stdout.contains("PASS  mini_utils_equal_rowcount_stg_orders_ref_raw_orders_ "), "{}", build.stdout);
}

// Two packages may each have a model of one name, but not two models of one
// package, and no two may be built as one table.
#[test]
fn models_named_alike_in_two_packages_must_be_built_as_two_tables() {
    let fixture = dbt_fixture("jaffle_utils");
    assert_status(&fixture.strata(&["deps"]), 0);
    let project = fixture.read("dbt_project.yml").replace("  mini_utils:\n    +schema: utils\n", "");
    let fixture = fixture.file("dbt_project.yml", &project);
    let clash = fixture.strata(&["ls"]);
    assert_status(&clash, 2);
    let fixture = fixture.file("models/more/calendar.sql", "select 1 as day_number\n");
    let twice = fixture.strata(&["ls"]);
    assert_status(&twice, 2);
    insta::assert_snapshot!(format!("{}\n{}", clash.stderr, twice.stderr));
}

const TESTED_PROPERTIES: &str = r#"version: 2
sources:
  - name: raw
    schema: main
    tables:
      - name: events
        columns:
          - name: id
            data_tests: [not_null, unique]
        data_tests:
          - expression:
              expression: "id > 0"
models:
  - name: orders
    description: the orders
    data_tests:
      - expression:
          arguments:
            expression: "status != 'x'"
      - expression:
          expression: "amount > 0 or status = 'y'"
          config:
            severity: warn
      - expression:
          expression: "status <>\t'a\\b'"
          name: custom_named
      - expression:
          expression: "id = 1"
          description: described
          fail_calc: count(*)
          meta: {owner: me}
    columns:
      - name: id
        data_tests:
          - not_null
          - unique:
              config:
                where: "id > 0"
          - in_range:
              low: 0
              high: 10.5
              inclusive: false
              opts: {b: [1, 2.0, null], a: "é", c: 1.5e+20}
          - in_range:
              low: -3
              high: 100000000000
              opts: [true, "it's", 'say "hi"', "both ' and \""]
          - accepted_values:
              values: [1, 2]
              quote: false
      - name: status
        tests:
          - accepted_values:
              values: ['placed', 'shipped']
"#;

const TEST_MACROS: &str = "{% test in_range(model, column_name, low, high, inclusive=true, opts=none) %}\nselect * from {{ model }} where {{ column_name }} < {{ low }}\n{% endtest %}\n{% test expression(model, expression, column_name=none) %}\nselect * from {{ model }} where not ({{ expression }})\n{% endtest %}\n";

// Generic tests get the unique ids dbt gives them (`test.shop.<name>.<hash>`,
// the hash an MD5 over Python's `repr()` of the test's arguments), so a
// manifest dbt wrote compares with strata's; the expected ids are dbt-core
// 1.11's for this very project. A test's `name:`, `description:` and configs
// beside its arguments (`fail_calc`, `meta`) are not arguments of its macro.
#[test]
fn generic_tests_have_the_unique_ids_dbt_gives_them() {
    let fixture = Fixture::new()
        .file("models/orders.sql", "select 1 as id, 'placed' as status, 2.5 as amount\n")
        .file("macros/tests.sql", TEST_MACROS)
        .file("models/schema.yml", TESTED_PROPERTIES);
    let ls = fixture.strata(&["ls", "--resource-type", "test", "--output", "json"]);
    assert_status(&ls, 0);
    let mut ids: Vec<String> = ls
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a JSON line")["unique_id"].as_str().expect("an id").to_string())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "test.shop.accepted_values_orders_id__False__1__2.c17fb4b639",
            "test.shop.accepted_values_orders_status__placed__shipped.7de09bf3cd",
            "test.shop.custom_named.f8ca5e8a05",
            "test.shop.expression_orders_amount_0_or_status_y_.117bdfbe35",
            "test.shop.expression_orders_id_1.cc5862c684",
            "test.shop.expression_orders_status_x_.24bf67fa90",
            "test.shop.in_range_orders_id__100000000000___3__True__it_s__say_hi___both_and_.2df2777461",
            "test.shop.in_range_orders_id__10_5__False__0___1_2_0_None______1_5e_20.2178012769",
            "test.shop.not_null_orders_id.84ef11d8fe",
            "test.shop.source_expression_raw_events_id_0.7ae6811c19",
            "test.shop.source_not_null_raw_events_id.e0dfd1a6a7",
            "test.shop.source_unique_raw_events_id.207e922098",
            "test.shop.unique_orders_id.1360ecc70e",
        ]
    );
    let build = fixture.strata(&["build", "--select", "orders", "--date", "2026-11-20"]);
    assert_status(&build, 0);
    assert!(build.stdout.contains("PASS  custom_named "), "{}", build.stdout);
    assert!(build.stdout.contains("PASS=11 WARN=0 ERROR=0 SKIP=0 TOTAL=11"), "{}", build.stdout);
    let manifest: serde_json::Value = serde_json::from_str(&fixture.read("target/manifest.json")).expect("manifest");
    let described = &manifest["nodes"]["test.shop.expression_orders_id_1.cc5862c684"];
    assert_eq!(described["description"], "described");
    assert_eq!(described["config"]["meta"], serde_json::json!({"owner": "me"}));
}

/// Each table's columns with their types, then its rows, as text.
pub fn tables_report(fixture: &Fixture, tables: &[(&str, &str)]) -> String {
    let mut report = String::new();
    for (relation, order) in tables {
        let (columns, rows) = table(fixture, relation, order);
        report.push_str(&format!("{relation}\n"));
        for column in columns {
            report.push_str(&format!("  {}: {}\n", column[0], column[1]));
        }
        for row in rows {
            report.push_str(&format!("  | {}\n", row.join(" | ")));
        }
    }
    report
}

// The rest of the Jinja surface dbt packages use, in one model.
#[test]
fn the_jinja_dbt_packages_use_renders() {
    let model = r#"
{%- macro wrap(tag) -%}<{{ tag }}>{{ caller() }}</{{ tag }}>{%- endmacro -%}
{%- set ns = namespace(total=0) -%}
{%- for a, b in zip([1, 2, 3], [10, 20, 30]) -%}{%- set ns.total = ns.total + a * b -%}{%- endfor -%}
{%- set parsed = fromyaml("a: 1\nb: [x, y]") -%}
{%- set existing = adapter.get_relation(database=this.database, schema='main', identifier='numbers') -%}
{%- set missing = adapter.get_relation(database=this.database, schema='main', identifier='nothing_here') -%}
{%- set relation = api.Relation.create(schema='main', identifier='numbers') -%}
{%- set column = api.Column('amount', 'integer') -%}
{%- set result = run_query('select sum(n) as total from ' ~ relation) -%}
{#- An agate table is a sequence of its rows; its columns are keyed by name too (dbt_utils' get_query_results_as_dict, get_relations_by_pattern). -#}
{%- set listed = run_query('select n, n * 10 as tens from ' ~ relation ~ ' order by n') -%}
{%- set none_listed = run_query('select n from ' ~ relation ~ ' where n > 10') -%}
{%- set walked = [] -%}
{%- if execute -%}
    {%- for row in listed -%}{%- do walked.append(row['tens'] ~ '/' ~ row.dict()['n']) -%}{%- endfor -%}
    {%- for name, column in listed.columns.items() -%}{%- do walked.append(name ~ '=' ~ column.values() | sum) -%}{%- endfor -%}
    {%- do walked.append(listed | length ~ (listed.columns.keys() | join('+')) ~ listed.columns['tens'].values()[0]) -%}
    {%- do walked.append('rows' if listed else 'no rows') -%}
    {%- do walked.append('rows' if none_listed else 'no rows') -%}
{%- endif -%}
select
    {{ ns.total }} as zipped_total,
    '{{ parsed.b | join("") }}{{ parsed.a }}' as from_yaml,
    '{{ toyaml({"k": "v"}) | trim }}' as to_yaml,
    {{ existing is not none }} as numbers_exist,
    {{ missing is none }} as nothing_here_missing,
    '{{ relation.identifier }}' as relation_name,
    '{{ column.name }}:{{ column.is_integer() }}' as column_info,
    {{ result.rows[0][0] if execute else 0 }} as queried_total,
    {{ result.columns[0].values() | first if execute else 0 }} as first_value,
    '{% call wrap("b") %}bold{% endcall %}' as called,
    '{{ model.unique_id }} {{ model.config.materialized }}' as model_id,
    '{{ walked | join(" ") }}' as agate,
    '{{ api.Column("label", "VARCHAR").data_type }}' as string_type
"#;
    let fixture = Fixture::new().file("models/numbers.sql", "select * from (values (1), (2), (3)) as t(n)").file("models/surface.sql", model);
    assert_status(&fixture.strata(&["run", "--select", "numbers"]), 0);
    assert_status(&fixture.strata(&["run", "--select", "surface"]), 0);
    assert_eq!(
        query(&fixture, "select * from main.surface").into_iter().map(|row| row.join(" | ")).collect::<Vec<_>>(),
        [
            "140 | xy1 | k: v | true | true | numbers | amount:True | 6 | 6 | <b>bold</b> | model.shop.surface view | 10/1 20/2 30/3 n=6 tens=60 3n+tens10 rows no rows | character varying(256)"
        ]
    );
}

// A package's macros count for `state:modified.macros` as the project's do:
// a changed package macro modifies the models that call it by its
// namespace; a dispatching macro depends on every variant it may reach.
#[test]
fn a_changed_package_macro_modifies_the_models_that_call_it() {
    let fixture = dbt_fixture("jaffle_utils");
    assert_status(&fixture.strata(&["deps"]), 0);
    assert_status(&fixture.strata(&["build", "--date", "2026-11-20"]), 0);
    let state = fixture.path().join("prod-artifacts");
    std::fs::create_dir_all(&state).expect("state folder");
    std::fs::copy(fixture.path().join("target/manifest.json"), state.join("manifest.json")).expect("copy the manifest");
    let before: serde_json::Value = serde_json::from_str(&fixture.read("target/manifest.json")).expect("manifest JSON");
    let format_name = &before["macros"]["macro.mini_utils.format_name"];
    assert_eq!(format_name["package_name"], "mini_utils", "{format_name}");
    assert_eq!(format_name["original_file_path"], "macros/format_name.sql", "{format_name}");
    assert_eq!(
        format_name["depends_on"]["macros"],
        serde_json::json!(["macro.jaffle_utils.default__format_name", "macro.mini_utils.default__format_name"])
    );

    let ls = || fixture.strata(&["ls", "--select", "state:modified", "--state", "prod-artifacts", "--resource-type", "model", "--output", "name"]);
    assert_eq!(ls().stdout, "", "nothing changed yet");
    let path = fixture.path().join("local_packages/mini_utils/macros/format_name.sql");
    let text = std::fs::read_to_string(&path).expect("macro file");
    std::fs::write(&path, text.replace("{{ return(adapter.dispatch", "{#- Dispatched. -#}\n    {{ return(adapter.dispatch")).expect("edit the macro");
    let modified = fixture.strata(&["ls", "--select", "state:modified.macros", "--state", "prod-artifacts", "--output", "name"]);
    assert_status(&modified, 0);
    // With its tests, as dbt selects them.
    assert_eq!(
        modified.stdout,
        "customers\nexpression_is_true_customers_orders_0\nmini_utils_expression_is_true_customers_active_days_0_and_last_name_length_0\n"
    );
    assert_eq!(ls().stdout, "customers\n");
    // The manifest's macros are kept in `target/` between invocations, and
    // listed anew when a macro file changes.
    assert!(fixture.path().join("target/.strata-manifest-macros").is_file());
    assert_status(&fixture.strata(&["compile", "--date", "2026-11-20"]), 0);
    let manifest: serde_json::Value = serde_json::from_str(&fixture.read("target/manifest.json")).expect("manifest JSON");
    let format_name = &manifest["macros"]["macro.mini_utils.format_name"];
    assert!(format_name["macro_sql"].as_str().is_some_and(|sql| sql.contains("{#- Dispatched. -#}")), "{format_name}");
    assert_eq!(manifest["macros"].as_object().map(serde_json::Map::len), before["macros"].as_object().map(serde_json::Map::len));
}
