//! `seed`, `run`, `test`, `build` and `show` on embedded DuckDB, checked by
//! reading the tables back from the database file.

use crate::{Fixture, Run};

/// Rows of `sql` on the fixture's DuckDB file, as text.
pub fn query(fixture: &Fixture, sql: &str) -> Vec<Vec<String>> {
    query_file(&fixture.path().join("target/dev.duckdb"), sql)
}

/// Rows of `sql` on the DuckDB file at `path`, as text.
pub fn query_file(path: &std::path::Path, sql: &str) -> Vec<Vec<String>> {
    // A process that strata's test just killed may take a moment to release the file.
    let mut attempts = 0;
    let connection = loop {
        match duckdb::Connection::open(path) {
            Ok(connection) => break connection,
            Err(err) if attempts < 20 && err.to_string().contains("lock") => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(err) => panic!("open the database strata wrote, {}: {err}", path.display()),
        }
    };
    let mut statement = connection.prepare(sql).expect("prepare");
    let mut rows = statement.query([]).expect("query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("row") {
        let count = row.as_ref().column_count();
        out.push(
            (0..count)
                .map(|i| {
                    let value: duckdb::types::Value = row.get(i).expect("value");
                    match value {
                        duckdb::types::Value::Null => "NULL".to_string(),
                        duckdb::types::Value::Text(s) => s,
                        duckdb::types::Value::BigInt(i) => i.to_string(),
                        duckdb::types::Value::Int(i) => i.to_string(),
                        duckdb::types::Value::HugeInt(i) => i.to_string(),
                        duckdb::types::Value::Double(x) => x.to_string(),
                        duckdb::types::Value::Boolean(b) => b.to_string(),
                        other => format!("{other:?}"),
                    }
                })
                .collect(),
        );
    }
    out
}

pub fn scalar(fixture: &Fixture, sql: &str) -> String {
    query(fixture, sql).into_iter().next().and_then(|row| row.into_iter().next()).expect("one value")
}

pub fn assert_status(run: &Run, status: i32) {
    assert_eq!(run.status, status, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
}

/// Redacts durations, which differ from run to run.
pub fn redact(text: &str) -> String {
    let seconds = regex::Regex::new(r"\d+\.\d\ds").expect("regex");
    seconds.replace_all(text, "[t]s").into_owned()
}

/// a → b → c, a → d; `b` fails when `fail_b`.
fn dag(fail_b: bool) -> Fixture {
    Fixture::new()
        .file("models/a.sql", "{{ config(materialized='table') }} select 1 as id union all select 2 union all select 3")
        .file(
            "models/b.sql",
            if fail_b {
                "{{ config(materialized='table') }} select cast('not a number' as integer) as id from {{ ref('a') }}"
            } else {
                "{{ config(materialized='table') }} select id from {{ ref('a') }}"
            },
        )
        .file("models/c.sql", "select * from {{ ref('b') }}")
        .file("models/d.sql", "{{ config(materialized='table') }} select id * 10 as id from {{ ref('a') }}")
}

#[test]
fn a_failing_model_skips_its_descendants_only() {
    let fixture = dag(true);
    let run = fixture.strata(&["run", "--threads", "1"]);
    assert_status(&run, 1);
    insta::assert_snapshot!(redact(&run.stdout));
    // The independent branch was built.
    assert_eq!(scalar(&fixture, "select sum(id) from main.d"), "60");
    let (results, statuses) = fixture.results("status");
    assert_eq!(
        statuses,
        [("model.shop.a", "success"), ("model.shop.b", "error"), ("model.shop.c", "skipped"), ("model.shop.d", "success")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(results["results"][0]["adapter_response"]["rows_affected"], 3);
    assert!(results["results"][1]["message"].as_str().unwrap_or_default().contains("Conversion Error"), "{results}");
    assert_eq!(results["results"][2]["message"], "skipped because model `b` failed");
    assert_eq!(results["args"]["which"], "run");
}

#[test]
fn a_failing_rebuild_leaves_the_previous_table() {
    let fixture = dag(false);
    assert_status(&fixture.strata(&["run"]), 0);
    assert_eq!(scalar(&fixture, "select count(*) from main.b"), "3");
    let fixture = fixture.file("models/b.sql", "{{ config(materialized='table') }} select cast('x' || id as integer) as id from {{ ref('a') }}");
    assert_status(&fixture.strata(&["run", "--select", "b"]), 1);
    // The old rows are still there, and no staging table is left behind.
    assert_eq!(scalar(&fixture, "select count(*) from main.b"), "3");
    assert_eq!(scalar(&fixture, "select count(*) from information_schema.tables where table_name like '%strata%'"), "0");
}

/// A model whose materialization changes replaces the relation of the other
/// kind, in both directions.
#[test]
fn a_model_turns_from_view_to_table_and_back() {
    let model = |materialized: &str| format!("{{{{ config(materialized='{materialized}') }}}} select range as id from range(4)");
    let mut fixture = Fixture::new();
    for (materialized, kind) in [("view", "VIEW"), ("table", "BASE TABLE"), ("table", "BASE TABLE"), ("view", "VIEW")] {
        fixture = fixture.file("models/shifting.sql", &model(materialized));
        assert_status(&fixture.strata(&["run"]), 0);
        assert_eq!(
            query(&fixture, "select table_name, table_type from information_schema.tables"),
            [["shifting".to_string(), kind.to_string()]],
            "after building it as a {materialized}"
        );
        assert_eq!(scalar(&fixture, "select sum(id) from main.shifting"), "6");
    }
}

#[test]
fn views_tables_ephemerals_and_incrementals() {
    let fixture = Fixture::new()
        .file("models/base.sql", "{{ config(materialized='ephemeral') }} select range as id, range % 3 as bucket from range({{ var('n', 5) }})")
        .file("models/as_view.sql", "select * from {{ ref('base') }}")
        .file("models/as_table.sql", "{{ config(materialized='table') }} select bucket, count(*) as n from {{ ref('base') }} group by bucket")
        .file(
            "models/events.sql",
            "{{ config(materialized='incremental', unique_key='id') }}\nselect id, '{{ var(\"tag\", \"first\") }}' as tag from {{ ref('base') }}\n{% if is_incremental() %}where id >= (select max(id) from {{ this }}) - 1{% endif %}",
        )
        .file("models/log.sql", "{{ config(materialized='incremental') }} select count(*) as n from {{ ref('base') }}");
    assert_status(&fixture.strata(&["run"]), 0);
    assert_eq!(
        query(&fixture, "select table_name, table_type from information_schema.tables order by 1"),
        [["as_table", "BASE TABLE"], ["as_view", "VIEW"], ["events", "BASE TABLE"], ["log", "BASE TABLE"],].map(|r| r.map(str::to_string).to_vec())
    );
    assert_eq!(scalar(&fixture, "select count(*) from main.as_view"), "5");
    assert_eq!(scalar(&fixture, "select string_agg(n::varchar, ',' order by bucket) from main.as_table"), "2,2,1");

    // Second run: ids 3 and 4 are replaced (unique_key), 5..7 added; `log` appends.
    assert_status(&fixture.strata(&["run", "--vars", "{n: 8, tag: second}"]), 0);
    assert_eq!(
        scalar(&fixture, "select string_agg(id || ':' || tag, ',' order by id) from main.events"),
        "0:first,1:first,2:first,3:second,4:second,5:second,6:second,7:second"
    );
    assert_eq!(scalar(&fixture, "select string_agg(n::varchar, ',' order by n) from main.log"), "5,8");

    // --full-refresh rebuilds incrementals from scratch.
    assert_status(&fixture.strata(&["run", "--full-refresh", "--vars", "{n: 2}"]), 0);
    assert_eq!(scalar(&fixture, "select count(*) from main.events"), "2");
    assert_eq!(scalar(&fixture, "select string_agg(n::varchar, ',') from main.log"), "2");
}

/// A run closes its database as dbt-duckdb does, and DuckDB writes what its
/// log held into the file: no `.wal` is left for the next command or a
/// notebook to replay.
#[test]
fn a_run_leaves_its_tables_in_the_database_file_not_in_the_log() {
    let fixture = Fixture::new()
        .file("models/totals.sql", "{{ config(materialized='table') }} select range as id from range(3)")
        .file("models/listed.sql", "select id * 2 as doubled from {{ ref('totals') }}");
    let wal = fixture.path().join("target/dev.duckdb.wal");
    for command in ["run", "build"] {
        assert_status(&fixture.strata(&[command]), 0);
        assert!(!wal.exists(), "`strata {command}` left {} bytes of log", std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        assert_eq!(scalar(&fixture, "select string_agg(doubled::varchar, ',' order by doubled) from main.listed"), "0,2,4");
    }
}

#[test]
fn hooks_run_around_models_and_the_run() {
    let project = "name: shop\nprofile: shop\non-run-start: [\"create table if not exists main.audit (event varchar)\"]\non-run-end: \"insert into main.audit values ('end')\"\n";
    let fixture = Fixture::new()
        .file("dbt_project.yml", project)
        .file(
            "models/m.sql",
            "{{ config(materialized='table', pre_hook=\"insert into main.audit values ('before {{ this.identifier }}')\", post_hook=[\"insert into main.audit select 'after ' || count(*) from {{ this }}\"]) }} select 1 as x",
        );
    assert_status(&fixture.strata(&["run"]), 0);
    assert_eq!(scalar(&fixture, "select string_agg(event, ', ' order by rowid) from main.audit"), "before m, after 1, end");
}

#[test]
fn seeds_infer_types_and_reject_malformed_files() {
    let fixture = Fixture::new()
        .file(
            "dbt_project.yml",
            "name: shop\nprofile: shop\nseeds:\n  shop:\n    lookup:\n      countries:\n        +column_types: {code: varchar}\n",
        )
        .file(
            "seeds/people.csv",
            "id,score,active,born,seen_at,name\n1,1.5,True,2001-02-03,2026-11-20T10:00:00,Ann\n2,,False,,2026-11-21T11:30:00,\"Lee, Bo\"\n",
        )
        .file("seeds/lookup/countries.csv", "code,name\n01,Korea\n");
    let run = fixture.strata(&["seed"]);
    assert_status(&run, 0);
    assert_eq!(
        query(&fixture, "select column_name, data_type from information_schema.columns where table_name = 'people' order by ordinal_position"),
        [["id", "INTEGER"], ["score", "DOUBLE"], ["active", "BOOLEAN"], ["born", "DATE"], ["seen_at", "TIMESTAMP"], ["name", "VARCHAR"]]
            .map(|r| r.map(str::to_string).to_vec())
    );
    assert_eq!(scalar(&fixture, "select name from main.people where id = 2"), "Lee, Bo");
    assert_eq!(scalar(&fixture, "select count(*) from main.people where score is null and born is null"), "1");
    assert_eq!(scalar(&fixture, "select code from main.countries"), "01");

    let fixture = fixture.file("seeds/people.csv", "id,name\n1,Ann\n2,Bo,extra\n");
    let run = fixture.strata(&["seed", "--select", "people"]);
    assert_status(&run, 1);
    assert!(run.stdout.contains("malformed seed `seeds/people.csv`: row has 3 fields, but the header has 2"), "{}", run.stdout);
    assert!(run.stdout.contains("--> seeds/people.csv:3"), "{}", run.stdout);
    // The table loaded before is untouched.
    assert_eq!(scalar(&fixture, "select count(*) from main.people"), "2");
}

fn tested() -> Fixture {
    Fixture::new()
        .file("seeds/users.csv", "id,status\n1,active\n2,active\n3,gone\n")
        .file("models/orders.sql", "{{ config(materialized='table') }} select * from (values (10, 1), (11, 2), (12, 4), (12, 4)) as t(order_id, user_id)")
        .file("models/report.sql", "select count(*) as orders from {{ ref('orders') }}")
        .file(
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: order_id\n        tests: [not_null, unique]\n      - name: user_id\n        tests:\n          - relationships:\n              to: ref('users')\n              field: id\n              config: {severity: warn}\nseeds:\n  - name: users\n    columns:\n      - name: status\n        tests:\n          - accepted_values: {values: [active, gone]}\n",
        )
        .file("tests/no_negative_orders.sql", "select * from {{ ref('orders') }} where order_id < 0")
}

#[test]
fn tests_report_failures_and_warnings() {
    let fixture = tested();
    assert_status(&fixture.strata(&["seed"]), 0);
    assert_status(&fixture.strata(&["run"]), 0);
    let run = fixture.strata(&["test", "--threads", "1"]);
    assert_status(&run, 1);
    insta::assert_snapshot!(redact(&run.stdout));
}

#[test]
fn build_skips_what_a_failing_test_guards() {
    let fixture = tested();
    let run = fixture.strata(&["build", "--threads", "1"]);
    assert_status(&run, 1);
    insta::assert_snapshot!(redact(&run.stdout));
    // `report` was not built: its parent's unique test failed.
    assert_eq!(scalar(&fixture, "select count(*) from information_schema.tables where table_name = 'report'"), "0");
}

#[test]
fn show_previews_models_and_inline_queries() {
    let fixture = dag(false);
    assert_status(&fixture.strata(&["run"]), 0);
    let run = fixture.strata(&["show", "--select", "d", "--limit", "2"]);
    assert_status(&run, 0);
    insta::assert_snapshot!(run.stdout, @r"
    Previewing node `d`:
    | id |
    |----|
    | 10 |
    | 20 |
    ");
    let run = fixture.strata(&["show", "--inline", "select count(*) as n, max(id) as top from {{ ref('a') }}", "--output", "json"]);
    assert_status(&run, 0);
    assert_eq!(run.stdout.trim(), r#"{"show":[{"n":3,"top":3}]}"#);
    let run = fixture.strata(&["show", "--inline", "select * from nowhere"]);
    assert_status(&run, 2);
    assert!(
        run.stderr.starts_with("error: the query of inline query failed: Catalog Error: Table with name nowhere does not exist"),
        "{}",
        run.stderr
    );
}

// Ctrl-C stops scheduling, cancels the running query, writes run_results.json
// and exits with 130; the table being rebuilt keeps its previous rows.
#[test]
fn interrupt_cancels_the_running_query() {
    let marker = tempfile::tempdir().expect("marker dir");
    let started_marker = marker.path().join("started.csv");
    let fixture = Fixture::new()
        .file(
            "models/slow.sql",
            &format!(
                "{{{{ config(materialized='table', pre_hook=\"copy (select 1 as started) to '{}'\") }}}}\nselect count(*) as n from range({{{{ var('rows', 10) }}}}) as a",
                started_marker.display()
            ),
        )
        .file("models/after.sql", "select * from {{ ref('slow') }}");
    assert_status(&fixture.strata(&["run"]), 0);
    std::fs::remove_file(&started_marker).expect("remove the first run's marker");
    let child = crate::strata_command(fixture.path())
        .args(["run", "--threads", "1", "--vars", "{rows: 10000000000000}"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start strata");
    // The model's pre-hook has run: its query starts next, or already runs.
    // Either way the interrupt must stop it.
    let waiting = std::time::Instant::now();
    while !started_marker.exists() && waiting.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(started_marker.exists(), "the slow model never started");
    // The pre-hook has finished; give the model's own query (hours long) time
    // to start, so the interrupt lands inside it. Should the signal come
    // earlier, strata refuses the query instead and the test passes the same.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    // Not a speed check: a query that was not cancelled runs for hours, so
    // after 30 s the test stops it and fails instead of hanging.
    let output = crate::wait_within(child, std::time::Duration::from_secs(30), "the query was not cancelled");
    assert_eq!(output.status.code(), Some(130), "{}", String::from_utf8_lossy(&output.stderr));
    let results: serde_json::Value = serde_json::from_str(&fixture.read("target/run_results.json")).expect("run_results.json");
    assert_eq!(results["results"][0]["status"], "error");
    assert_eq!(results["results"][1]["status"], "skipped");
    // No half-built table: the previous one, and nothing staged beside it.
    assert_eq!(scalar(&fixture, "select n from slow"), "10");
    assert_eq!(scalar(&fixture, "select string_agg(table_name, ',' order by table_name) from information_schema.tables"), "after,slow");
}

// Each kind of data test catches the bad row seeded for it, with the count;
// thresholds, `where` and `limit` change what is counted and how it ends.
#[test]
fn every_kind_of_data_test_catches_its_bad_rows() {
    let fixture = Fixture::new()
        .file("seeds/users.csv", "id,status\n1,active\n2,active\n,active\n2,gone\n5,lost\n")
        .file("seeds/orders.csv", "order_id,user_id,amount,coupon\n10,1,5,A\n11,9,7,\n12,1,-3,\n13,1,-4,\n")
        .file(
            "models/schema.yml",
            "version: 2
seeds:
  - name: users
    columns:
      - name: id
        tests: [not_null, unique]
      - name: status
        tests:
          - accepted_values: {values: [active, gone]}
  - name: orders
    columns:
      - name: user_id
        tests:
          - relationships: {to: ref('users'), field: id}
          - unique:
              config: {where: 'order_id < 12'}
      - name: amount
        tests:
          - accepted_values:
              values: [5]
              config: {limit: 2}
      - name: coupon
        tests:
          - not_null:
              config: {warn_if: '>1', error_if: '>5'}
",
        )
        .file("tests/negative_amounts.sql", "select * from {{ ref('orders') }} where amount < 0");
    assert_status(&fixture.strata(&["seed"]), 0);
    let run = fixture.strata(&["test", "--threads", "1"]);
    assert_status(&run, 1);
    let lines: Vec<&str> = run.stdout.lines().skip(2).take_while(|line| !line.is_empty()).collect();
    insta::assert_snapshot!(redact(&lines.join("\n")));
    assert!(run.stdout.contains("PASS=1 WARN=1 ERROR=6 SKIP=0 TOTAL=8"), "{}", run.stdout);
}

// The template context the README lists, each call compiled, SQL-checked and
// run on DuckDB, its value read back.
#[test]
fn the_template_context_renders_sql_that_runs() {
    let model = r#"{{ config(materialized='table') }}
{% do log('building the context model') %}
select
    '{{ run_started_at.strftime("%Y") }}' as started_year,
    {{ current_timestamp() }} is not null as has_now,
    cast('2026-11-20 10:00:00' as {{ type_timestamp() }}) as ts,
    {{ hash("'abc'") }} = md5('abc') as hashed,
    {{ concat(["'a'", "'b'"]) }} as ab,
    {{ dateadd('day', 1, "date '2026-11-20'") }} as next_day,
    {{ dbt.datediff("date '2026-11-20'", "date '2026-11-25'", 'day') }} as days,
    {{ safe_cast("'12'", type_int()) }} as twelve,
    cast('x' as {{ type_string() }}) as x,
    {{ date_trunc('month', "date '2026-11-20'") }} as month_start
"#;
    let fixture = Fixture::new().file("models/context.sql", model);
    let year = || chrono::Utc::now().format("%Y").to_string();
    let year_before = year();
    let run = fixture.strata(&["run", "--date", "2026-11-20"]);
    assert_status(&run, 0);
    let started_year = scalar(&fixture, "select started_year from context");
    assert!([year_before, year()].contains(&started_year), "{started_year}");
    assert_eq!(
        query(
            &fixture,
            "select has_now::varchar, ts::varchar, hashed::varchar, ab, next_day::date::varchar, days, twelve, x, month_start::date::varchar from context"
        ),
        [["true", "2026-11-20 10:00:00", "true", "ab", "2026-11-21", "5", "12", "x", "2026-11-01"].map(str::to_string).to_vec()]
    );
}

// On DuckDB, `--dry-run` plans each model with `EXPLAIN`: a broken one is an
// error with DuckDB's message, and nothing is built.
#[test]
fn dry_run_on_duckdb_checks_each_model_with_explain() {
    let fixture = Fixture::new().file("models/good.sql", "select 1 as id").file("models/broken.sql", "select missing_column from {{ ref('good') }}");
    // What a model reads exists from an earlier run, as in production.
    assert_eq!(fixture.strata(&["run", "--select", "good"]).status, 0);
    let run = fixture.strata(&["run", "--dry-run", "--date", "2026-11-20"]);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("ERROR model broken\n  Binder Error: Referenced column \"missing_column\" not found"), "{}", run.stdout);
    assert!(run.stdout.contains("OK    model good  checked"), "{}", run.stdout);
    assert!(run.stdout.contains("Dry run of 2 models for 2026-11-20: each checked with EXPLAIN; nothing ran"), "{}", run.stdout);
    assert_eq!(scalar(&fixture, "select string_agg(table_name, ',') from information_schema.tables"), "good");
}

/// On glibc, a command that builds starts once more with a larger malloc
/// cache and mimalloc's lazy arena commit (README, "A DuckDB target"), and a
/// setting the user made is left as it is. The models read the variables
/// through `env_var`, in the process that built them.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn a_build_runs_with_the_allocator_settings_unless_the_user_made_them() {
    let fixture = Fixture::new().file(
        "models/settings.sql",
        "select '{{ env_var(\"GLIBC_TUNABLES\", \"unset\") }}' as tunables, '{{ env_var(\"MIMALLOC_ARENA_EAGER_COMMIT\", \"unset\") }}' as eager_commit",
    );
    let built = |user: &[(&str, &str)]| {
        let mut command = crate::strata_command(fixture.path());
        command.arg("run").env_remove("GLIBC_TUNABLES").env_remove("MIMALLOC_ARENA_EAGER_COMMIT").envs(user.iter().copied());
        let output = command.output().expect("run");
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        query(&fixture, "select tunables, eager_commit from settings").remove(0)
    };
    assert_eq!(built(&[]), ["glibc.malloc.tcache_count=127", "0"]);
    assert_eq!(built(&[("GLIBC_TUNABLES", "glibc.malloc.arena_max=1")]), ["glibc.malloc.arena_max=1", "0"]);
    assert_eq!(built(&[("MIMALLOC_ARENA_EAGER_COMMIT", "1")]), ["glibc.malloc.tcache_count=127", "1"]);
}

/// A seed of words, one with a quote, and an `accepted_values` test naming both.
pub fn quoted_words(fixture: crate::Fixture) -> crate::Fixture {
    fixture.file("seeds/words.csv", "word\nit's\nplain\n").file(
        "models/schema.yml",
        "version: 2\nseeds:\n  - name: words\n    columns:\n      - name: word\n        tests:\n          - accepted_values: {values: [\"it's\", plain]}\n",
    )
}

// A value with a quote is accepted: the test's literal keeps the quote.
#[test]
fn accepted_values_with_a_quote_pass() {
    let fixture = quoted_words(Fixture::new());
    let run = fixture.strata(&["build"]);
    assert_status(&run, 0);
    assert!(run.stdout.contains("PASS  accepted_values_words_word__it_s__plain"), "{}", run.stdout);
}
