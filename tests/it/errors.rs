//! Broken projects: each error names the file, line and column, says what to
//! do, and exits with status 2, never a panic.

use crate::{Fixture, Run};

fn assert_fails(run: &Run) {
    assert_eq!(run.status, 2, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn cycle_names_every_node_in_order() {
    let run = Fixture::new()
        .file("models/a.sql", "select * from {{ ref('c') }}")
        .file("models/b.sql", "select * from {{ ref('a') }}")
        .file("models/c.sql", "select * from {{ ref('b') }}")
        .file("models/d.sql", "select 1 as x")
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn missing_ref_suggests_the_closest_name() {
    let run = Fixture::new()
        .file("models/orders.sql", "select 1 as id")
        .file("models/report.sql", "select *\nfrom {{ ref('order') }}\n")
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn jinja_syntax_error_points_at_the_model_line() {
    let run = Fixture::new()
        .file("models/ok.sql", "select 1 as id")
        .file("models/broken.sql", "select id\nfrom {{ ref('ok') }\nwhere true\n")
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn every_error_is_reported_not_only_the_first() {
    let run = Fixture::new()
        .file("models/one.sql", "select {{ oops(")
        .file("models/two.sql", "select * from {{ ref('nowhere') }}")
        .file("models/three.sql", "select from where")
        .strata(&["compile"]);
    assert_fails(&run);
    assert!(run.stderr.contains("models/one.sql:1"), "{}", run.stderr);
    assert!(run.stderr.contains("models/two.sql:1:18"), "{}", run.stderr);
    assert!(run.stderr.contains("SQL syntax error in model `three`"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().filter(|line| line.starts_with("error: ")).count(), 3, "{}", run.stderr);
}

#[test]
fn sql_syntax_error_names_model_and_compiled_line() {
    let run = Fixture::new()
        .file("models/bad_sql.sql", "select\n  id,\n  count(* as n\nfrom {{ source('raw', 'orders') }}\n")
        .file("models/sources.yml", "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: orders\n")
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn yaml_syntax_error_points_at_the_line() {
    let run = Fixture::new()
        .file("models/a.sql", "select 1 as id")
        .file("models/schema.yml", "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n       tests: [unique]\n")
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn duplicate_model_names_list_both_paths() {
    let run = Fixture::new().file("models/a/orders.sql", "select 1 as id").file("models/b/orders.sql", "select 2 as id").strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn missing_env_var_in_profile() {
    let profiles = "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: \"{{ env_var('STRATA_TEST_UNSET_PATH') }}\"\n";
    let run = Fixture::new().file("profiles.yml", profiles).file("models/a.sql", "select 1 as id").strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn unknown_target_lists_the_targets() {
    let run = Fixture::new().file("models/a.sql", "select 1 as id").strata(&["compile", "--target", "staging"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn undefined_var_names_the_var_and_the_model() {
    let run = Fixture::new().file("models/events.sql", "select *\nfrom raw_events\nwhere day >= '{{ var(\"start_date\") }}'\n").strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn bad_vars_flag() {
    let fixture = Fixture::new().file("models/a.sql", "select 1 as id");
    let run = fixture.strata(&["compile", "--vars", "[1, 2]"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
    let run = fixture.strata(&["compile", "--vars", "{a: [1,"]);
    assert_fails(&run);
    assert!(run.stderr.starts_with("error: `--vars` is not valid YAML or JSON: "), "{}", run.stderr);
}

#[test]
fn bad_date_flag() {
    let fixture = Fixture::new().file("models/a.sql", "select 1 as id");
    let run = fixture.strata(&["compile", "--date", "2026-02-30"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
    let run = fixture.strata(&["compile", "--date", "yesterday"]);
    assert_fails(&run);
    assert!(run.stderr.starts_with("error: `--date yesterday` is not a date in the form `YYYY-MM-DD`"), "{}", run.stderr);
}

#[test]
fn undeclared_source() {
    let run = Fixture::new()
        .file("models/sources.yml", "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: orders\n")
        .file("models/a.sql", "select * from {{ source('raw', 'order') }}")
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn no_project_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = crate::run_in(dir.path(), &["ls"]);
    assert_fails(&run);
    assert!(run.stderr.contains("could not read `./dbt_project.yml`"), "{}", run.stderr);
    assert!(run.stderr.contains("help: run strata in a dbt project directory, or pass `--project-dir`"), "{}", run.stderr);
}

#[test]
fn compiler_error_raised_by_a_macro() {
    let run = Fixture::new()
        .file(
            "macros/guard.sql",
            "{% macro guard(x) %}{% if x < 0 %}{{ exceptions.raise_compiler_error('x must not be negative') }}{% endif %}{{ x }}{% endmacro %}",
        )
        .file("models/a.sql", "select {{ guard(-1 * 3) }} as x")
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

/// `settings:` of a DuckDB target reach DuckDB (dbt-duckdb's profile key); a
/// name DuckDB does not know is an error at its line in profiles.yml.
#[test]
fn duckdb_settings_apply_and_a_misspelt_one_is_located() {
    let profiles = "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/dev.duckdb\n      settings:\n        memory_limit: 300MB\n        threads: 1\n";
    let fixture = Fixture::new().file("profiles.yml", profiles).file("models/one.sql", "select 1 as id");
    let shown = fixture.strata(&[
        "show",
        "--inline",
        "select current_setting('memory_limit') as memory_limit, current_setting('threads') as threads",
        "--output",
        "json",
    ]);
    assert_eq!(shown.status, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains(r#""memory_limit":"286.1 MiB","threads":1"#), "{}", shown.stdout);

    let misspelt = profiles.replace("memory_limit", "memory_limt");
    let run = Fixture::new().file("profiles.yml", &misspelt).file("models/one.sql", "select 1 as id").strata(&["run"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

/// Relations are rendered in the database DuckDB names the file by, so a
/// `database:` that is not that name would point every model elsewhere; and
/// `this.database` is that name.
#[test]
fn a_duckdb_database_other_than_the_file_s_name_is_an_error_at_its_line() {
    let profiles =
        "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/warehouse.v2.duckdb\n      database: analytics\n";
    let fixture =
        Fixture::new().file("profiles.yml", profiles).file("models/one.sql", "select '{{ this.database }}' as db, '{{ target.database }}' as t");
    let run = fixture.strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
    let fixture = fixture.file("profiles.yml", &profiles.replace("analytics", "warehouse"));
    let shown = fixture.strata(&["show", "--select", "one", "--output", "json"]);
    assert_eq!(shown.status, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains(r#""db":"warehouse","t":"warehouse""#), "{}", shown.stdout);
}

/// A model DuckDB cannot fit in `memory_limit` (here with nowhere to spill)
/// fails with DuckDB's message and where strata's setting is.
#[test]
fn out_of_memory_says_where_the_limit_is_set() {
    let profiles = "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/dev.duckdb\n      settings: {memory_limit: 20MB, temp_directory: ''}\n";
    let run = Fixture::new()
        .file("profiles.yml", profiles)
        .file("models/wide.sql", "{{ config(materialized='table') }}\nselect range % 3000000 as k, count(*) as n from range(6000000) group by 1")
        .strata(&["run"]);
    crate::run::assert_status(&run, 1);
    assert!(run.stdout.contains("Out of Memory Error"), "{}", run.stdout);
    assert!(
        run.stdout.contains("= help: DuckDB used all the memory it may: raise `memory_limit` under the target's `settings:` in profiles.yml (e.g. `settings: {memory_limit: 4GB}`), or lower its `threads` there"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_model_described_twice_in_properties_names_both_lines() {
    let run = Fixture::new()
        .file("models/orders.sql", "select 1 as id")
        .file("models/a.yml", "version: 2\nmodels:\n  - name: orders\n    description: Orders.\n")
        .file(
            "models/b.yml",
            "version: 2\nmodels:\n  - name: customers\n  - name: \"orders\"\n    columns:\n      - name: id\n        tests: [unique]\n",
        )
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn a_model_described_twice_in_one_file_names_both_lines() {
    let run = Fixture::new()
        .file("models/orders.sql", "select 1 as id")
        .file("models/schema.yml", "version: 2\nmodels:\n  - name: orders\n    description: Orders.\n  - name: orders\n")
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn an_unknown_materialization_is_a_compile_error_at_its_line() {
    let run = Fixture::new().file("models/orders.sql", "-- orders by day\n{{ config(materialized='tabel') }}\nselect 1 as id\n").strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn a_bad_partition_by_is_a_compile_error_where_it_was_written() {
    // In the model's config() call.
    let run = Fixture::new()
        .file("models/events.sql", "{{ config(\n    materialized='incremental',\n    partition_by={'data_type': 'date'},\n) }}\nselect 1 as id\n")
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!("partition_by_in_config_call", run.stderr);
    // In dbt_project.yml, for a folder.
    let project = format!(
        "{}models:\n  shop:\n    events:\n      +materialized: incremental\n      +partition_by: {{field: day, data_type: week}}\n",
        crate::PROJECT
    );
    let run = Fixture::new().file("dbt_project.yml", &project).file("models/events/daily.sql", "select current_date as day\n").strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!("partition_by_in_project_file", run.stderr);
}

#[test]
fn a_malformed_test_threshold_is_a_compile_error_at_its_line() {
    let run = Fixture::new()
        .file("models/orders.sql", "select 1 as id")
        .file(
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        tests:\n          - not_null:\n              config:\n                warn_if: lots\n",
        )
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn a_project_without_a_profile_says_so_unless_the_flag_names_one() {
    let fixture = Fixture::new().file("dbt_project.yml", "name: shop\n").file("models/a.sql", "select 1 as id");
    let run = fixture.strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
    let run = fixture.strata(&["run", "--profile", "shop"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    // `retry` keeps the flag.
    let run = fixture.strata(&["retry"]);
    assert_eq!((run.status, run.stdout.as_str()), (0, "Nothing to retry: every node of the last `strata run` passed\n"), "{}", run.stderr);
}

#[test]
fn a_config_key_one_edit_from_a_known_one_is_a_warning() {
    let fixture = Fixture::new().file("models/orders.sql", "-- orders\n{{ config(materialised='table', owner_team='growth') }}\nselect 1 as id\n");
    let run = fixture.strata(&["compile"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    // `owner_team` is far from every known key: kept without a word, as dbt does.
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn a_database_locked_by_another_process_names_the_process() {
    let fixture = Fixture::new().file("models/a.sql", "select 1 as id");
    std::fs::create_dir_all(fixture.path().join("target")).expect("target dir");
    let path = fixture.path().join("target/dev.duckdb");
    // This test process holds the file, as another strata or a notebook would.
    let holder = duckdb::Connection::open(&path).expect("open the database");
    let run = fixture.strata(&["run", "--lock-timeout", "0"]);
    drop(holder);
    assert_fails(&run);
    let expected = format!("error: could not open `{}`: another process holds its lock (", path.display());
    assert!(run.stderr.starts_with(&expected), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("(PID {}))", std::process::id())), "{}", run.stderr);
    assert!(run.stderr.contains("help: wait for that process to finish"), "{}", run.stderr);
}

#[test]
fn a_database_path_whose_folder_cannot_be_made_says_why_without_lock_hints() {
    let profiles = crate::PROFILES.replace("path: target/dev.duckdb", "path: models/a.sql/dev.duckdb");
    let fixture = Fixture::new().file("profiles.yml", &profiles).file("models/a.sql", "select 1 as id");
    let run = fixture.strata(&["run"]);
    assert_fails(&run);
    let folder = fixture.path().join("models/a.sql");
    assert!(
        run.stderr.starts_with(&format!(
            "error: could not open the warehouse: could not create the folder `{}` for `{}/dev.duckdb`: ",
            folder.display(),
            folder.display()
        )),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("lock"), "{}", run.stderr);
}

// A second run against a file another process holds waits for it, saying so,
// and goes on once the lock is released.
#[test]
fn a_run_waits_for_a_locked_database_and_goes_on_when_it_is_released() {
    let fixture = Fixture::new().file("models/a.sql", "{{ config(materialized='table') }} select 1 as id");
    std::fs::create_dir_all(fixture.path().join("target")).expect("target dir");
    let holder = duckdb::Connection::open(fixture.path().join("target/dev.duckdb")).expect("open the database");
    let mut child = crate::strata_command(fixture.path())
        .args(["run", "--lock-timeout", "2m"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start strata");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).expect("read the first line");
    assert!(line.starts_with("WAIT  could not open `"), "{line}");
    assert!(line.trim_end().ends_with("; waiting up to 2m (`--lock-timeout`)"), "{line}");
    drop(holder);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).expect("read the rest");
    assert_eq!(child.wait().expect("wait").code(), Some(0), "{rest}");
    assert_eq!(crate::run::scalar(&fixture, "select id from a"), "1");
}

#[test]
fn a_source_check_that_does_not_parse_is_a_compile_error_at_its_line() {
    let sources = "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: events\n        wait_for:\n          partition: event_date\n          timeout: 5 fortnights\n";
    let run = Fixture::new()
        .file("models/sources.yml", sources)
        .file("models/daily.sql", "select * from {{ source('raw', 'events') }}")
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

// An artifact that cannot be written (here `run_results.json` is taken by a
// folder, as a full disk or a read-only `target/` would refuse it) is reported;
// the run's tables are built and its status is theirs.
#[test]
fn an_artifact_that_cannot_be_written_is_reported_without_failing_the_run() {
    let fixture = Fixture::new().file("models/a.sql", "{{ config(materialized='table') }} select 1 as id");
    std::fs::create_dir_all(fixture.path().join("target/run_results.json")).expect("block the file");
    let run = fixture.strata(&["run"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stderr.starts_with("warning: could not write `"), "{}", run.stderr);
    assert!(run.stderr.contains("run_results.json`: Is a directory"), "{}", run.stderr);
    assert_eq!(crate::run::scalar(&fixture, "select id from a"), "1");
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(fixture.path().join("target"))
        .expect("target")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bigquery_partition_options_are_checked_at_compile() {
    let run = Fixture::new()
        .file(
            "models/events.sql",
            "{{ config(\n    materialized='table',\n    partition_by={'field': 'day', 'granularity': 'week'},\n) }}\nselect current_date as day\n",
        )
        .file("models/expiring.sql", "{{ config(materialized='table', partition_by='day', partition_expiration_days=-3) }}\nselect current_date as day\n")
        .file("models/hourly.sql", "{{ config(materialized='table', partition_by={'field': 'day', 'data_type': 'date', 'granularity': 'hour'}) }}\nselect current_date as day\n")
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

// Should strata ever panic, the user sees one line asking for a report, the
// backtrace lands in `target/strata-crash.log`, and the exit status is 101.
#[test]
fn a_panic_prints_one_line_and_writes_the_crash_log() {
    let fixture = Fixture::new();
    let output = crate::strata_command(fixture.path()).args(["compile"]).env("STRATA_TEST_PANIC", "1").output().expect("run");
    assert_eq!(output.status.code(), Some(101));
    let stderr = String::from_utf8_lossy(&output.stderr);
    insta::assert_snapshot!(stderr.replace(env!("CARGO_PKG_VERSION"), "<version>"), @"error: strata <version> crashed, which is a bug: please report it with the command you ran and this version (the details are in `./target/strata-crash.log`)");
    let log = fixture.read("target/strata-crash.log");
    assert!(log.contains("STRATA_TEST_PANIC is set") && log.contains("backtrace:") && log.contains("command: "), "{log}");
}

#[test]
fn tags_and_tableau_configs_are_checked_at_compile() {
    let run = Fixture::new()
        .file("models/orders.sql", "{{ config(tags=['daily', 7]) }}\nselect 1 as id\n")
        .file("models/users.sql", "select 1 as id\n")
        .file(
            "models/exposures.yml",
            "version: 2\nexposures:\n  - name: dash\n    type: dashboard\n    owner: {name: M}\n    depends_on: [\"ref('users')\"]\n    tableau: {datasource: [users]}\n",
        )
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

// A name quoted first after a character of several bytes (`→`) is found,
// not cut inside that character.
#[test]
fn a_missing_ref_after_a_non_ascii_character_is_located() {
    let run = Fixture::new()
        .file("models/orders.sql", "select 1 as id")
        .file("models/report.sql", "-- reads→'order' of today\nselect * from {{ ref('order') }}\n")
        .file("models/named.sql", "-- reads→'order' of today\n{% set name = 'order' %}\nselect * from {{ ref(name) }}\n")
        .strata(&["compile"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

/// A project whose source `raw.events` declares `checks`, and a model reading it.
fn source_checked(checks: &str) -> Fixture {
    Fixture::new()
        .file("models/sources.yml", &format!("version: 2\nsources:\n  - name: raw\n    schema: main\n    tables:\n      - name: events\n{checks}"))
        .file("models/daily.sql", "select * from {{ source('raw', 'events') }}")
}

// Out-of-range values are errors at the line they are written on, from
// `compile` and `ls` as well as the commands that use them, never a crash.
#[test]
fn out_of_range_durations_and_numbers_are_located_errors() {
    let cases: [(&str, Fixture, &[&str]); 8] = [
        (
            "negative freshness",
            source_checked("        loaded_at_field: at\n        freshness:\n          warn_after: {count: -1, period: hour}\n"),
            &["ls"],
        ),
        ("huge timeout", source_checked("        wait_for: {partition: d, timeout: 1.0e+20}\n"), &["compile"]),
        ("zero poke interval", source_checked("        wait_for: {partition: d, poke_interval: 0}\n"), &["compile"]),
        ("negative lookback", Fixture::new().file("models/m.sql", "{{ config(materialized='incremental', partition_by='d', lookback=-3) }} select current_date as d"), &["compile"]),
        (
            "negative test limit",
            Fixture::new().file("models/m.sql", "select 1 as id").file("models/schema.yml", "version: 2\nmodels:\n  - name: m\n    columns:\n      - name: id\n        tests:\n          - unique:\n              config: {limit: -1}\n"),
            &["compile"],
        ),
        (
            "negative profile threads",
            Fixture::new().file("models/m.sql", "select 1 as id").file("profiles.yml", "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/dev.duckdb\n      threads: -1\n"),
            &["compile"],
        ),
        ("zero threads", Fixture::new().file("models/m.sql", "select 1 as id"), &["run", "--threads", "0"]),
        ("huge lock timeout", Fixture::new().file("models/m.sql", "select 1 as id"), &["run", "--lock-timeout", "99999999999999999999"]),
    ];
    let mut shown = String::new();
    for (case, fixture, args) in cases {
        let run = fixture.strata(args);
        assert_fails(&run);
        shown.push_str(&format!("── {case}: strata {}\n{}\n", args.join(" "), run.stderr));
    }
    insta::assert_snapshot!(shown);
}

// A pattern that does not compile would select nothing and exit 0.
#[test]
fn an_invalid_glob_in_a_selector_is_an_error() {
    let run = Fixture::new().file("models/a.sql", "select 1 as id").strata(&["ls", "--select", "path:models/[a"]);
    assert_fails(&run);
    insta::assert_snapshot!(run.stderr);
}

// What BigQuery would refuse when the job runs is refused at compile, at the
// line it was written: a fifth clustering column, labels outside BigQuery's
// characters, a strategy BigQuery does not run.
#[test]
fn bigquery_limits_on_clustering_and_labels_are_checked_at_compile() {
    let fixture = Fixture::new()
        .file(
            "models/clustered.sql",
            "{{ config(materialized='table', cluster_by=['a', 'b', 'c', 'd', 'e']) }}\nselect 1 as a, 2 as b, 3 as c, 4 as d, 5 as e\n",
        )
        .file("models/labelled.sql", "{{ config(materialized='table', labels={'Team': 'marketing'}) }}\nselect 1 as id\n")
        .file("models/appended.sql", "{{ config(materialized='incremental', incremental_strategy='append') }}\nselect 1 as id\n");
    let run = fixture.strata(&["compile", "--target", "prod"]);
    assert_fails(&run);
    // DuckDB has none of these limits.
    assert_eq!(fixture.strata(&["compile"]).status, 0);
    let profiles =
        crate::PROFILES.replace("      keyfile: /secrets/key.json\n", "      keyfile: /secrets/key.json\n      labels: {cost center: analytics}\n");
    let target = fixture.file("profiles.yml", &profiles).strata(&["compile", "--target", "prod"]);
    assert_fails(&target);
    insta::assert_snapshot!(format!("{}\n{}", run.stderr, target.stderr));
}
