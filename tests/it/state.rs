//! Checks on a pull request: a project built once as production (its artifacts
//! kept), then changed; `state:` selectors, `--defer`, `--empty`, `strata diff`,
//! GitHub's annotations and summary, `--warn-error` and `strata clean`.

use crate::run::{assert_status, query, scalar};
use crate::{Fixture, Run};

/// The shared profile, with a `ci` target: the same DuckDB file, its own schema.
fn profiles() -> String {
    format!("{}    ci:\n      type: duckdb\n      path: target/dev.duckdb\n      schema: ci\n", crate::PROFILES)
}

const MACROS: &str = "\
{% macro cents(column) %}({{ column }} * 100){% endmacro %}
{% macro to_money(column) %}{{ cents(column) }} / 100.0{% endmacro %}
";

const PROJECT: &str = "name: shop\nprofile: shop\nconfig-version: 2\nmodels:\n  shop:\n    +materialized: table\n";

/// The project production built: orders reads `stg_orders` through a macro
/// that calls another (`to_money` → `cents`).
pub fn production() -> Fixture {
    Fixture::new()
        .file("dbt_project.yml", PROJECT)
        .file("profiles.yml", &profiles())
        .file("macros/money.sql", MACROS)
        .file("seeds/countries.csv", "code,name\nKR,Korea\nUS,United States\n")
        .file("models/stg_orders.sql", "select * from (values (1, 'KR', 10), (2, 'US', 20), (3, 'KR', 30)) as t(order_id, country, amount)\n")
        .file("models/orders.sql", "{{ config(unique_key='order_id') }}\nselect order_id, country, {{ to_money('amount') }} as amount\nfrom {{ ref('stg_orders') }}\n")
        .file(
            "models/by_country.sql",
            "select c.name, sum(o.amount) as total\nfrom {{ ref('orders') }} as o join {{ ref('countries') }} as c on o.country = c.code\ngroup by 1\n",
        )
        .file("models/customers.sql", "select 1 as id\n")
        .file("models/regions.sql", "select 'asia' as region\n")
        .file("models/schema.yml", "models:\n  - name: orders\n    columns:\n      - name: order_id\n        data_tests: [unique, not_null]\n")
}

/// Production's build, its artifacts kept in `prod-artifacts/`, then every
/// kind of change a pull request makes.
fn changed() -> Fixture {
    let fixture = production();
    assert_status(&fixture.strata(&["build", "--date", "2026-11-20"]), 0);
    let artifacts = fixture.path().join("prod-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    for file in ["manifest.json", "run_results.json"] {
        std::fs::copy(fixture.path().join("target").join(file), artifacts.join(file)).expect("copy artifact");
    }
    fixture
        // The body of a model.
        .file(
            "models/stg_orders.sql",
            "select * from (values (1, 'KR', 10), (2, 'US', 20), (3, 'KR', 35), (4, 'US', 40)) as t(order_id, country, amount)\n",
        )
        // A config (tags) and a relation (alias), in dbt_project.yml.
        .file("dbt_project.yml", &format!("{PROJECT}    by_country:\n      +tags: [finance]\n    customers:\n      +alias: customer_list\n"))
        // The macro `orders` reaches through `to_money`.
        .file("macros/money.sql", &MACROS.replace("* 100)", "* 200)"))
        // A seed's rows.
        .file("seeds/countries.csv", "code,name\nKR,South Korea\nUS,United States\n")
        // A new model.
        .file("models/new_model.sql", "select 2 as id\n")
        // Whitespace only.
        .file("models/regions.sql", "\nselect 'asia' as region   \n\n\n")
}

fn names(run: &Run) -> Vec<&str> {
    assert_status(run, 0);
    run.stdout.lines().collect()
}

// Each selector picks exactly the nodes its kind of change touched.
#[test]
fn state_selectors_pick_what_changed() {
    let fixture = changed();
    let ls = |selector: &str| {
        fixture.strata(&["ls", "--select", selector, "--state", "prod-artifacts", "--output", "name", "--resource-type", "model", "seed"])
    };
    assert_eq!(names(&ls("state:new")), ["new_model"]);
    // Listed by unique id: models, then seeds, then tests.
    assert_eq!(names(&ls("state:modified")), ["by_country", "customers", "new_model", "orders", "stg_orders", "countries"]);
    // As in dbt, a new node counts as a changed body, config and relation.
    assert_eq!(names(&ls("state:modified.body")), ["new_model", "stg_orders", "countries"]);
    assert_eq!(names(&ls("state:modified.configs")), ["by_country", "customers", "new_model"]);
    assert_eq!(names(&ls("state:modified.relation")), ["customers", "new_model"]);
    assert_eq!(names(&ls("state:modified.macros")), ["orders"]);
    let unmodified = ls("state:unmodified");
    assert!(names(&unmodified).contains(&"regions"), "a whitespace-only change is no change: {}", unmodified.stdout);
    assert!(!names(&unmodified).contains(&"orders"));
    // Graph operators apply to state selectors as to names, and a selected model's tests come with it.
    let with_tests = fixture.strata(&["ls", "--select", "state:modified.macros+", "--state", "prod-artifacts", "--output", "name"]);
    assert_eq!(names(&with_tests), ["by_country", "orders", "not_null_orders_order_id", "unique_orders_order_id"]);
    assert_eq!(names(&ls("+state:modified.macros")), ["orders", "stg_orders"]);
    // `result:` reads the state's run_results.json.
    let passed = fixture.strata(&["ls", "--select", "result:pass", "--state", "prod-artifacts", "--output", "name"]);
    assert_eq!(names(&passed), ["not_null_orders_order_id", "unique_orders_order_id"]);
    assert_eq!(names(&ls("result:success")), ["by_country", "customers", "orders", "regions", "stg_orders", "countries"]);
}

// The selectors that compare need a state, and a state must be one strata can read.
#[test]
fn a_missing_or_unreadable_state_is_a_clear_error() {
    let fixture = production().file(
        "old/manifest.json",
        "{\"metadata\": {\"dbt_schema_version\": \"https://schemas.getdbt.com/dbt/manifest/v7.json\", \"dbt_version\": \"1.3.0\"}}",
    );
    let no_state = fixture.strata(&["ls", "--select", "state:modified"]);
    assert_status(&no_state, 2);
    let missing = fixture.strata(&["ls", "--select", "state:modified", "--state", "nowhere"]);
    assert_status(&missing, 2);
    let old = fixture.strata(&["ls", "--select", "state:modified", "--state", "old"]);
    assert_status(&old, 2);
    let fixture = fixture.file("broken/manifest.json", "{\"metadata\": ");
    let broken = fixture.strata(&["ls", "--select", "state:modified", "--state", "broken"]);
    assert_status(&broken, 2);
    let defer = fixture.strata(&["run", "--defer"]);
    assert_status(&defer, 2);
    let text = [no_state, missing, old, broken, defer].iter().map(|run| run.stderr.clone()).collect::<Vec<_>>().join("\n");
    let text = regex::Regex::new(r"\(os error \d+\)").expect("regex").replace_all(&text, "(os error)");
    insta::assert_snapshot!(text);
}

/// A CI build of `orders` alone, into the `ci` schema, reading the rest from production.
fn ci_run(fixture: &Fixture, extra: &[&str]) -> Run {
    let mut args = vec!["run", "--select", "orders", "--state", "prod-artifacts", "--target", "ci", "--date", "2026-11-20"];
    args.extend_from_slice(extra);
    fixture.strata(&args)
}

// A deferred build reads what it does not build, and the CI schema lacks,
// from production's relations; `--favor-state` reads them even when it has them.
#[test]
fn defer_reads_unbuilt_models_from_production() {
    let fixture = changed();
    assert_status(&ci_run(&fixture, &["--defer"]), 0);
    let compiled = fixture.read("target/compiled/shop/models/orders.sql");
    assert!(compiled.contains("from \"dev\".\"main\".\"stg_orders\""), "{compiled}");
    // Production's three orders, with the changed macro's doubling.
    assert_eq!(query(&fixture, "select order_id, amount from ci.orders order by 1"), [["1", "20"], ["2", "40"], ["3", "60"]]);
    // Once the CI schema has its own `stg_orders`, a deferred build reads it...
    assert_status(&fixture.strata(&["run", "--select", "stg_orders", "--target", "ci", "--date", "2026-11-20"]), 0);
    assert_status(&ci_run(&fixture, &["--defer"]), 0);
    assert!(fixture.read("target/compiled/shop/models/orders.sql").contains("from \"dev\".\"ci\".\"stg_orders\""));
    assert_eq!(scalar(&fixture, "select count(*) from ci.orders"), "4");
    // ...unless it favors the state.
    assert_status(&ci_run(&fixture, &["--defer", "--favor-state"]), 0);
    assert_eq!(scalar(&fixture, "select count(*) from ci.orders"), "3");
    // `show` and `compile` defer too.
    let shown = fixture.strata(&[
        "show",
        "--select",
        "orders",
        "--state",
        "prod-artifacts",
        "--target",
        "ci",
        "--defer",
        "--favor-state",
        "--output",
        "json",
    ]);
    assert_status(&shown, 0);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&shown.stdout).expect("json")["show"].as_array().map(Vec::len), Some(3));
    let compiled = fixture.strata(&["compile", "--select", "by_country", "--state", "prod-artifacts", "--target", "ci", "--defer", "--favor-state"]);
    assert_status(&compiled, 0);
    let sql = fixture.read("target/compiled/shop/models/by_country.sql");
    assert!(sql.contains("\"dev\".\"main\".\"orders\"") && sql.contains("\"dev\".\"main\".\"countries\""), "{sql}");
}

// A CI target in a file of its own reads production's file through `attach:`,
// as dbt-duckdb does: relations are rendered with their database (the file's
// name), so a deferred relation names production's.
#[test]
fn defer_reads_another_database_file_through_attach() {
    let fixture = changed();
    let ci_file = |attach: &str| {
        let profiles = format!("{}    ci_file:\n      type: duckdb\n      path: target/ci.duckdb\n{attach}", profiles());
        std::fs::write(fixture.path().join("profiles.yml"), profiles).expect("write profiles.yml");
        fixture.strata(&["run", "--select", "orders", "--state", "prod-artifacts", "--target", "ci_file", "--defer", "--date", "2026-11-20"])
    };
    let unattached = ci_file("");
    assert_status(&unattached, 1);
    assert!(unattached.stdout.contains("schema \"dev.main\" does not exist"), "{}", unattached.stdout);
    assert!(unattached.stdout.contains("attach it to the target in profiles.yml"), "{}", unattached.stdout);
    let run = ci_file("      attach:\n        - path: target/dev.duckdb\n          read_only: true\n");
    assert_status(&run, 0);
    assert!(fixture.read("target/compiled/shop/models/orders.sql").contains("from \"dev\".\"main\".\"stg_orders\""));
    assert_eq!(
        crate::run::query_file(&fixture.path().join("target/ci.duckdb"), "select order_id, amount from main.orders order by 1"),
        [["1", "20"], ["2", "40"], ["3", "60"]]
    );
    let bad = ci_file("      attach:\n        - path: target/dev.duckdb\n          readonly: true\n");
    assert_status(&bad, 2);
    insta::assert_snapshot!("attach_entry_error", bad.stderr);
}

// `--empty` builds each model from zero-row inputs: its columns and types,
// and no rows; data tests are skipped with one line.
#[test]
fn empty_builds_columns_without_rows() {
    let fixture = changed();
    let run = fixture.strata(&[
        "build",
        "--select",
        "state:modified+",
        "--exclude",
        "resource_type:seed",
        "--state",
        "prod-artifacts",
        "--target",
        "ci",
        "--defer",
        "--empty",
        "--date",
        "2026-11-20",
    ]);
    assert_status(&run, 0);
    assert!(run.stderr.contains("`--empty`: skipping 2 data tests and 0 exposures: their models are built without rows"), "{}", run.stderr);
    let compiled = fixture.read("target/compiled/shop/models/by_country.sql");
    assert!(compiled.contains("(select * from \"dev\".\"ci\".\"orders\" where false limit 0)"), "{compiled}");
    assert!(compiled.contains("(select * from \"dev\".\"main\".\"countries\" where false limit 0)"), "{compiled}");
    for table in ["orders", "by_country"] {
        assert_eq!(scalar(&fixture, &format!("select count(*) from ci.{table}")), "0", "{table}");
    }
    let columns = query(
        &fixture,
        "select column_name, data_type from information_schema.columns where table_schema = 'ci' and table_name = 'by_country' order by ordinal_position",
    );
    assert_eq!(columns, [["name", "VARCHAR"], ["total", "DOUBLE"]]);
}

// The data diff of a change that adds a column, drops a row and edits values,
// counted inside the warehouse and matched on the model's `unique_key`.
#[test]
fn diff_counts_what_a_change_did_to_the_data() {
    let fixture = changed().file(
        "models/orders.sql",
        "{{ config(unique_key='order_id') }}\nselect order_id, country, {{ to_money('amount') }} as amount, 'new' as status\nfrom {{ ref('stg_orders') }}\nwhere order_id <> 2\n",
    );
    assert_status(&fixture.strata(&["run", "--select", "stg_orders", "orders", "--target", "ci", "--date", "2026-11-20"]), 0);
    let diff = fixture.strata(&["diff", "--select", "orders", "regions", "--state", "prod-artifacts", "--target", "ci", "--date", "2026-11-20"]);
    assert_status(&diff, 0);
    insta::assert_snapshot!("diff_text", diff.stdout);
    let markdown = fixture.strata(&["diff", "--select", "orders", "--state", "prod-artifacts", "--target", "ci", "--output", "markdown"]);
    assert_status(&markdown, 0);
    insta::assert_snapshot!("diff_markdown", markdown.stdout);
    let json = fixture.strata(&["diff", "--select", "orders", "--state", "prod-artifacts", "--target", "ci", "--output", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).expect("diff JSON");
    let rows = &json["diff"][0]["rows"];
    assert_eq!(
        (rows["added"].as_u64(), rows["removed"].as_u64(), rows["changed"].as_u64(), rows["unchanged"].as_u64()),
        (Some(1), Some(1), Some(2), Some(0))
    );
    assert_eq!(json["diff"][0]["added_columns"][0]["name"], "status");
    // `--against` compares with another target instead of the state; `--fail-on-change` makes a change fail.
    let gate = fixture.strata(&["diff", "--select", "orders", "--against", "dev", "--target", "ci", "--fail-on-change", "--key", "order_id"]);
    assert_status(&gate, 1);
    assert!(gate.stdout.contains("rows: 1 added, 1 removed, 2 changed, 0 unchanged"), "{}", gate.stdout);
    let same = fixture.strata(&["diff", "--select", "regions", "--against", "dev", "--fail-on-change"]);
    assert_status(&same, 0);
    assert!(same.stdout.contains("rows: 0 added, 0 removed, 0 changed, 1 unchanged"), "{}", same.stdout);
}

// A partitioned model's diff reads the execution date's partition only.
#[test]
fn diff_of_a_partitioned_model_compares_one_partition() {
    let model = "{{ config(materialized='incremental', partition_by={'field': 'day', 'data_type': 'date'}) }}\nselect date '{{ ds }}' as day, {{ var('n', 1) }} as n\n";
    let fixture = Fixture::new().file("profiles.yml", &profiles()).file("models/daily.sql", model);
    assert_status(&fixture.strata(&["run", "--start", "2026-11-19", "--end", "2026-11-20"]), 0);
    std::fs::create_dir_all(fixture.path().join("prod")).expect("dir");
    std::fs::copy(fixture.path().join("target/manifest.json"), fixture.path().join("prod/manifest.json")).expect("copy");
    assert_status(&fixture.strata(&["run", "--target", "ci", "--date", "2026-11-20", "--vars", "{n: 2}"]), 0);
    let diff = fixture.strata(&["diff", "--state", "prod", "--target", "ci", "--date", "2026-11-20"]);
    assert_status(&diff, 0);
    // Production's 2026-11-19 is not in the CI table, and is not compared.
    assert!(diff.stdout.contains("partition 2026-11-20, whole rows\n  rows: 1 added, 1 removed, 0 changed, 0 unchanged"), "{}", diff.stdout);
}

fn github(fixture: &Fixture, args: &[&str]) -> (Run, String) {
    let summary = fixture.path().join("step-summary.md");
    let _ = std::fs::remove_file(&summary);
    let output =
        crate::strata_command(fixture.path()).args(args).env("GITHUB_ACTIONS", "true").env("GITHUB_STEP_SUMMARY", &summary).output().expect("run");
    (Run::from(output), std::fs::read_to_string(&summary).unwrap_or_default())
}

// Inside GitHub Actions, errors and failures become annotations on their
// file and line, and the run's summary goes to the job's summary page.
#[test]
fn github_annotations_and_step_summary() {
    let fixture = production().file("models/broken.sql", "select id from {{ ref('customers') }}\nwhere {{ undefined_macro() }}\n").file(
        "models/schema.yml",
        "models:\n  - name: orders\n    columns:\n      - name: country\n        data_tests:\n          - accepted_values: {values: [KR]}\n",
    );
    let (compile, _) = github(&fixture, &["compile"]);
    assert_status(&compile, 2);
    let fixture = fixture.file("models/broken.sql", "select missing_column from {{ ref('customers') }}\n");
    let (build, summary) = github(&fixture, &["build", "--date", "2026-11-20"]);
    assert_status(&build, 1);
    let annotations: Vec<&str> = compile.stdout.lines().chain(build.stdout.lines()).filter(|line| line.starts_with("::")).collect();
    let annotations = regex::Regex::new(r"(Binder Error|Catalog Error)[^:]*:.*?(%0A|$)")
        .expect("regex")
        .replace_all(&annotations.join("\n"), "$1: [duckdb's message]$2")
        .into_owned();
    insta::assert_snapshot!("github_annotations", annotations);
    let summary = regex::Regex::new(r"\d+\.\ds").expect("regex").replace_all(&summary, "[t]s");
    insta::assert_snapshot!("github_step_summary", summary);
    // `diff` appends its Markdown to the same summary.
}

// `--warn-error` fails on warnings; `--warn-error-options` picks which.
#[test]
fn warn_error_turns_chosen_warnings_into_failures() {
    let fixture = production().file(
        "models/schema.yml",
        "models:\n  - name: orders\n    columns:\n      - name: country\n        data_tests:\n          - accepted_values: {values: [KR], config: {severity: warn}}\n",
    );
    assert_status(&fixture.strata(&["build", "--date", "2026-11-20"]), 0);
    let failed = fixture.strata(&["build", "--date", "2026-11-20", "--warn-error"]);
    assert_status(&failed, 1);
    assert!(failed.stdout.contains("a warning (`LogTestResult`) that `--warn-error` makes an error"), "{}", failed.stdout);
    let only_selection = ["build", "--date", "2026-11-20", "--warn-error-options", "{\"error\": [\"NoNodesForSelectionCriteria\"]}"];
    assert_status(&fixture.strata(&only_selection), 0);
    let nothing = fixture.strata(&["run", "--select", "no_such_model", "--warn-error-options", "{\"error\": [\"NoNodesForSelectionCriteria\"]}"]);
    assert_status(&nothing, 2);
    assert!(nothing.stderr.contains("nothing to run: the selection has no models"), "{}", nothing.stderr);
    let unknown = fixture.strata(&["ls", "--warn-error-options", "{\"error\": [\"Nope\"]}"]);
    assert_status(&unknown, 2);
    assert!(unknown.stderr.contains("`--warn-error-options` names `Nope`, which is not a warning strata gives"), "{}", unknown.stderr);
}

// `clean` removes the clean-targets (by default the target path), never a folder outside the project.
#[test]
fn clean_removes_the_clean_targets() {
    let fixture = production();
    assert_status(&fixture.strata(&["compile"]), 0);
    let clean = fixture.strata(&["clean"]);
    assert_status(&clean, 0);
    assert_eq!(clean.stdout, "Removed `target`\n");
    assert!(!fixture.path().join("target").exists());
    let fixture = fixture.file("dbt_project.yml", &format!("{PROJECT}clean-targets: [target, dbt_packages]\n")).file("dbt_packages/x/a.sql", "");
    let clean = fixture.strata(&["clean"]);
    assert_status(&clean, 0);
    assert_eq!(clean.stdout, "Nothing to remove at `target`\nRemoved `dbt_packages`\n");
    let fixture = fixture.file("dbt_project.yml", &format!("{PROJECT}clean-targets: [target, ../elsewhere]\n"));
    let refused = fixture.strata(&["clean"]);
    assert_status(&refused, 2);
    assert!(refused.stderr.contains("`clean-targets` lists `../elsewhere`, which is not a folder inside the project"), "{}", refused.stderr);
}

// Production's manifest, compared from another target, finds nothing changed:
// a source's relation takes each target's database, and is compared as declared.
#[test]
fn the_example_is_unmodified_against_its_own_production_manifest() {
    let fixture = crate::example::example();
    assert_status(&fixture.strata(&["compile", "--quiet", "--target", "prod", "--date", "2026-11-20"]), 0);
    std::fs::create_dir_all(fixture.path().join("prod-artifacts")).expect("dir");
    std::fs::copy(fixture.path().join("target/manifest.json"), fixture.path().join("prod-artifacts/manifest.json")).expect("copy");
    let modified = fixture.strata(&["ls", "--select", "state:modified", "--state", "prod-artifacts"]);
    assert_status(&modified, 0);
    assert_eq!(modified.stdout, "", "{}", modified.stderr);
    assert!(modified.stderr.contains("no nodes selected"), "{}", modified.stderr);
}
