//! Execution dates: partitions rewritten one date at a time, backfills, retry
//! and source checks, read back from the DuckDB file.

use crate::Fixture;
use crate::run::{assert_status, query, scalar};

/// Events for 1-10 November; `daily` counts each day's events into its
/// partition, filtered by a project macro that reads `ds`.
pub fn events() -> Fixture {
    let mut csv = String::from("id,event_at,event_date\n");
    for day in 1..=10 {
        for n in 0..day {
            csv.push_str(&format!("{},2026-11-{day:02}T{:02}:00:00,2026-11-{day:02}\n", day * 100 + n, 8 + n));
        }
    }
    Fixture::new()
        .file("seeds/events.csv", &csv)
        .file("macros/dates.sql", "{% macro on_the_date(column) %}{{ column }} = '{{ ds }}'{% endmacro %}\n")
        .file(
            "models/daily.sql",
            "{{ config(materialized='incremental', partition_by={'field': 'event_date', 'data_type': 'date'}) }}\nselect event_date, count(*) as events from {{ ref('events') }} where {{ on_the_date('event_date') }} group by 1\n",
        )
        .file("models/total.sql", "{{ config(materialized='table') }} select sum(events) as events, count(*) as days from {{ ref('daily') }}")
        .file("models/schema.yml", "version: 2\nmodels:\n  - name: daily\n    columns:\n      - name: event_date\n        tests: [unique, not_null]\n")
}

fn table(fixture: &Fixture) -> Vec<Vec<String>> {
    query(fixture, "select event_date::varchar, events from main.daily order by 1")
}

// Running the same date twice gives the same table (idempotent backfills).
#[test]
fn a_second_run_of_a_date_changes_nothing() {
    let fixture = events();
    assert_status(&fixture.strata(&["seed"]), 0);
    assert_status(&fixture.strata(&["run", "--date", "2026-11-03"]), 0);
    assert_status(&fixture.strata(&["run", "--date", "2026-11-04"]), 0);
    let first = table(&fixture);
    let run = fixture.strata(&["run", "--date", "2026-11-04", "--select", "daily"]);
    assert_status(&run, 0);
    assert!(run.stdout.contains("OK    created partition main.daily$20261104  1 row"), "{}", run.stdout);
    assert_eq!(table(&fixture), first);
    assert_eq!(first, [["2026-11-03", "3"], ["2026-11-04", "4"]].map(|r| r.map(str::to_string).to_vec()));
}

#[test]
fn a_backfill_writes_one_partition_per_date() {
    let fixture = events();
    assert_status(&fixture.strata(&["seed"]), 0);
    let run = fixture.strata(&["build", "--start", "2026-11-02", "--end", "2026-11-08", "--threads", "1"]);
    assert_status(&run, 0);
    let expected: Vec<Vec<String>> = (2..=8).map(|d| vec![format!("2026-11-{d:02}"), d.to_string()]).collect();
    assert_eq!(table(&fixture), expected);
    // `total` is not partitioned: built once, after the last date.
    assert_eq!(scalar(&fixture, "select events || '/' || days from main.total"), "35/7");
    assert_eq!(run.stdout.matches("main.total").count(), 1, "{}", run.stdout);
    for day in 2..=8 {
        assert!(run.stdout.contains(&format!("2026-11-{day:02} OK    created ")), "{}", run.stdout);
        assert!(run.stdout.contains(&format!("2026-11-{day:02}: PASS=3 WARN=0 ERROR=0 SKIP=0 TOTAL=3")), "{}", run.stdout);
    }
    let results: serde_json::Value = serde_json::from_str(&fixture.read("target/run_results.json")).expect("json");
    // The seed once, three nodes per date, `total` once.
    assert_eq!(results["results"].as_array().map(Vec::len), Some(1 + 7 * 3 + 1));
    assert_eq!(results["args"]["dates"].as_array().map(Vec::len), Some(7));
}

// A wrong filter must never spill into other partitions.
#[test]
fn a_row_outside_the_date_fails_and_writes_nothing() {
    let fixture = events();
    assert_status(&fixture.strata(&["seed"]), 0);
    assert_status(&fixture.strata(&["run", "--date", "2026-11-05", "--select", "daily"]), 0);
    let fixture = fixture.file(
        "models/daily.sql",
        "{{ config(materialized='incremental', partition_by='event_date') }}\nselect event_date, count(*) as events from {{ ref('events') }} where event_date >= '{{ ds }}' group by 1\n",
    );
    let run = fixture.strata(&["run", "--date", "2026-11-05"]);
    assert_status(&run, 1);
    insta::assert_snapshot!(run.stdout.lines().filter(|l| l.starts_with("  ") || l.starts_with("SKIP")).collect::<Vec<_>>().join("\n"), @r"
    SKIP  model total  (skipped because model `daily` failed)
      5 rows have `event_date` outside 2026-11-05 (or NULL), so nothing was written; filter the model's input to the execution date, e.g. `where event_date = '{{ ds }}'`
      compiled SQL: target/compiled/shop/models/daily.sql
    ");
    assert_eq!(table(&fixture), [["2026-11-05", "5"]].map(|r| r.map(str::to_string).to_vec()));
}

// A row without a partition value belongs to no date: it fails the model too.
#[test]
fn a_row_with_a_null_partition_value_fails_and_writes_nothing() {
    let fixture = events();
    assert_status(&fixture.strata(&["seed"]), 0);
    assert_status(&fixture.strata(&["run", "--date", "2026-11-05", "--select", "daily"]), 0);
    let fixture = fixture.file(
        "models/daily.sql",
        "{{ config(materialized='incremental', partition_by='event_date') }}\nselect case when id % 2 = 0 then event_date end as event_date, count(*) as events from {{ ref('events') }} where event_date = '{{ ds }}' group by 1\n",
    );
    let run = fixture.strata(&["run", "--date", "2026-11-05", "--select", "daily"]);
    assert_status(&run, 1);
    assert!(run.stdout.contains("  1 row has `event_date` outside 2026-11-05 (or NULL), so nothing was written"), "{}", run.stdout);
    assert_eq!(table(&fixture), [["2026-11-05", "5"]].map(|r| r.map(str::to_string).to_vec()));
}

// The old partition is deleted and the new rows inserted in one transaction:
// an insert that fails after the delete leaves the old partition as it was.
#[test]
fn a_partition_replacement_that_fails_midway_keeps_the_old_partition() {
    let fixture = events();
    assert_status(&fixture.strata(&["seed"]), 0);
    assert_status(&fixture.strata(&["run", "--date", "2026-11-05", "--select", "daily"]), 0);
    assert_status(&fixture.strata(&["run", "--date", "2026-11-06", "--select", "daily"]), 0);
    // The table now rejects a count above 10, which the old rows satisfy; the
    // rerun of 2026-11-06 counts ten times over, passes the partition check,
    // deletes the old partition, then fails its insert.
    duckdb::Connection::open(fixture.path().join("target/dev.duckdb"))
        .expect("open")
        .execute_batch(
            "create table main.daily_checked (event_date date, events bigint check (events <= 10));
             insert into main.daily_checked select * from main.daily;
             drop table main.daily;
             alter table main.daily_checked rename to daily;",
        )
        .expect("rebuild the table with a constraint");
    let fixture = fixture.file(
        "models/daily.sql",
        "{{ config(materialized='incremental', partition_by='event_date') }}\nselect event_date, count(*) * 10 as events from {{ ref('events') }} where event_date = '{{ ds }}' group by 1\n",
    );
    let run = fixture.strata(&["run", "--date", "2026-11-06", "--select", "daily"]);
    assert_status(&run, 1);
    assert!(run.stdout.contains("Constraint Error"), "{}", run.stdout);
    assert_eq!(table(&fixture), [["2026-11-05", "5"], ["2026-11-06", "6"]].map(|r| r.map(str::to_string).to_vec()));
}

// Late-arriving events: `lookback: 2` rewrites D-2..D in the same run.
#[test]
fn lookback_rewrites_the_days_before() {
    let fixture = events().file(
        "models/daily.sql",
        "{{ config(materialized='incremental', partition_by={'field': 'event_at', 'data_type': 'timestamp'}, lookback=2) }}\nselect event_at, id from {{ ref('events') }} where event_date between '{{ macros.ds_add(ds, -2) }}' and '{{ ds }}'\n",
    )
    .file("models/schema.yml", "version: 2\n");
    assert_status(&fixture.strata(&["seed"]), 0);
    assert_status(&fixture.strata(&["run", "--date", "2026-11-06", "--select", "daily"]), 0);
    assert_eq!(scalar(&fixture, "select count(*) from main.daily"), "15");
    // A late event for 5 November arrives.
    let csv = fixture.read("seeds/events.csv") + "999,2026-11-05T23:59:00,2026-11-05\n";
    let fixture = fixture.file("seeds/events.csv", &csv);
    assert_status(&fixture.strata(&["seed"]), 0);
    let run = fixture.strata(&["run", "--date", "2026-11-07", "--select", "daily"]);
    assert_status(&run, 0);
    assert!(run.stdout.contains("created partition main.daily$20261105..20261107  19 rows"), "{}", run.stdout);
    assert_eq!(
        query(&fixture, "select cast(event_at as date)::varchar, count(*) from main.daily group by 1 order by 1"),
        [["2026-11-04", "4"], ["2026-11-05", "6"], ["2026-11-06", "6"], ["2026-11-07", "7"]].map(|r| r.map(str::to_string).to_vec())
    );
}

#[test]
fn retry_reruns_failed_and_skipped_nodes_for_the_original_date() {
    let fixture = events()
        .file("models/other.sql", "{{ config(materialized='table') }} select 1 as x")
        .file("models/total.sql", "{{ config(materialized='table') }} select sum(events) as events, count(*) as days from {{ ref('daily') }} where {{ var('broken', 'cast(1 as boolean)') }} and cast('x' as integer) = 1");
    assert_status(&fixture.strata(&["seed"]), 0);
    assert_status(&fixture.strata(&["run", "--date", "2026-11-03"]), 1);

    // Still broken: the retry fails again, for 3 November, re-running only `total`.
    let run = fixture.strata(&["retry"]);
    assert_status(&run, 1);
    let (_, retried) = fixture.results("execution_date");
    assert_eq!(retried, [("model.shop.total".to_string(), "2026-11-03".to_string())]);

    // Fixed: a retry after a retry builds it, and then there is nothing left.
    let fixture =
        fixture.file("models/total.sql", "{{ config(materialized='table') }} select sum(events) as events, count(*) as days from {{ ref('daily') }}");
    let run = fixture.strata(&["retry"]);
    assert_status(&run, 0);
    assert!(run.stdout.contains("OK    created table main.total  1 row"), "{}", run.stdout);
    assert_eq!(scalar(&fixture, "select events || '/' || days from main.total"), "3/1");
    let run = fixture.strata(&["retry"]);
    assert_status(&run, 0);
    assert_eq!(run.stdout, "Nothing to retry: every node of the last `strata run` passed\n");
}

#[test]
fn a_failure_on_one_date_stops_later_dates_for_its_descendants() {
    let fixture = events()
        .file("models/daily.sql", "{{ config(materialized='incremental', partition_by='event_date') }}\nselect event_date, count(*) as events from {{ ref('events') }} where event_date = '{{ ds }}' {% if ds == '2026-11-03' %} and cast('x' as integer) = 1 {% endif %} group by 1\n")
        .file("models/after.sql", "{{ config(materialized='incremental', partition_by='event_date') }}\nselect * from {{ ref('daily') }} where event_date = '{{ ds }}'\n")
        .file("models/schema.yml", "version: 2\n");
    assert_status(&fixture.strata(&["seed"]), 0);
    let run = fixture.strata(&["run", "--start", "2026-11-02", "--end", "2026-11-04", "--threads", "1"]);
    assert_status(&run, 1);
    assert_eq!(
        query(&fixture, "select event_date::varchar from main.daily order by 1"),
        [["2026-11-02"], ["2026-11-04"]].map(|r| r.map(str::to_string).to_vec())
    );
    assert_eq!(query(&fixture, "select event_date::varchar from main.after order by 1"), [["2026-11-02".to_string()]]);
    assert!(run.stdout.contains("2026-11-04 SKIP  model after  (skipped because model `daily` failed on 2026-11-03)"), "{}", run.stdout);
}

fn checked(wait_for: &str) -> Fixture {
    events().file(
        "models/sources.yml",
        &format!("version: 2\nsources:\n  - name: raw\n    schema: main\n    tables:\n      - name: events\n        wait_for: {wait_for}\n"),
    )
    .file("models/daily.sql", "{{ config(materialized='incremental', partition_by='event_date') }}\nselect event_date, count(*) as events from {{ source('raw', 'events') }} where event_date = '{{ ds }}' group by 1\n")
    .file("models/schema.yml", "version: 2\n")
}

#[test]
fn a_source_check_waits_until_the_data_is_there() {
    // The data "lands" when the test creates a file, after it saw the first check fail.
    let landing = tempfile::tempdir().expect("landing dir");
    let landed = landing.path().join("landed");
    let fixture = checked(&format!("{{sql: \"exists (select 1 from glob('{}'))\", timeout: 60s, poke_interval: 0.2s}}", landed.display()));
    assert_status(&fixture.strata(&["seed"]), 0);
    let mut child = crate::strata_command(fixture.path())
        .args(["run", "--date", "2026-11-05"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start strata");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    for _ in 0..3 {
        first.clear();
        std::io::BufRead::read_line(&mut stdout, &mut first).expect("read the first lines");
    }
    assert!(
        first.starts_with(&format!("WAIT  source raw.events not ready for 2026-11-05: no row satisfies `exists (select 1 from glob('{}'))`; checking every 0.2s for up to 1m", landed.display())),
        "{first}"
    );
    std::fs::write(&landed, "").expect("land the data");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("read the rest");
    assert_eq!(child.wait().expect("wait").code(), Some(0), "{rest}");
    let check_line = rest.lines().next().unwrap_or_default().to_string();
    assert!(check_line.starts_with("OK    source raw.events ready for 2026-11-05 after "), "{rest}");
    let pokes: u32 = check_line.split(" after ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(pokes >= 2, "{check_line}");
    assert_eq!(table(&fixture), [["2026-11-05", "5"]].map(|r| r.map(str::to_string).to_vec()));
}

// The example's own shape: every platform's report is in once enough distinct
// sources are, a `having` that gives no row at all until then.
#[test]
fn a_source_check_with_having_waits_while_it_gives_no_row() {
    let fixture = checked("{sql: \"event_date = '{{ ds }}' having count(distinct id) >= 1\", timeout: 1s, poke_interval: 0.3s}");
    assert_status(&fixture.strata(&["seed"]), 0);
    let run = fixture.strata(&["run", "--date", "2026-11-25"]);
    assert_status(&run, 1);
    assert!(
        run.stdout.contains(
            "  source `raw.events` is not ready for 2026-11-25 after waiting 1s: no row satisfies `event_date = '2026-11-25' having count(distinct id) >= 1`"
        ),
        "{}",
        run.stdout
    );
    assert_status(&fixture.strata(&["run", "--date", "2026-11-05"]), 0);
    assert_eq!(table(&fixture), [["2026-11-05", "5"]].map(|r| r.map(str::to_string).to_vec()));
}

#[test]
fn a_source_check_that_times_out_skips_its_readers() {
    let fixture = checked("{partition: event_date, timeout: 1s, poke_interval: 0.3s}");
    assert_status(&fixture.strata(&["seed"]), 0);
    let run = fixture.strata(&["run", "--date", "2026-11-25"]);
    assert_status(&run, 1);
    assert!(run.stdout.contains("SKIP  model daily  (skipped because source `raw.events` failed)"), "{}", run.stdout);
    assert!(
        run.stdout.contains("  source `raw.events` is not ready for 2026-11-25 after waiting 1s: no row has `event_date` on 2026-11-25"),
        "{}",
        run.stdout
    );
    // --skip-checks runs without waiting (and builds an empty partition).
    let run = fixture.strata(&["run", "--date", "2026-11-25", "--skip-checks"]);
    assert_status(&run, 0);
    assert!(!run.stdout.contains("source raw.events"), "{}", run.stdout);
}

#[test]
fn the_default_date_is_yesterday_in_the_project_time_zone() {
    use chrono_tz::Tz;
    for zone in ["Asia/Seoul", "America/Los_Angeles"] {
        let tz: Tz = zone.parse().expect("zone");
        let yesterday = (chrono::Utc::now().with_timezone(&tz).date_naive() - chrono::Days::new(1)).format("%Y-%m-%d").to_string();
        let fixture = Fixture::new()
            .file("dbt_project.yml", &format!("name: shop\nprofile: shop\nvars:\n  timezone: {zone}\n"))
            .file("models/a.sql", "select '{{ ds }}' as ds");
        let run = fixture.strata(&["compile"]);
        assert_status(&run, 0);
        assert_eq!(fixture.read("target/compiled/shop/models/a.sql"), format!("select '{yesterday}' as ds"), "{zone}");
        // --timezone wins over the project's.
        let utc = chrono::Utc::now().date_naive() - chrono::Days::new(1);
        assert_status(&fixture.strata(&["compile", "--timezone", "UTC"]), 0);
        assert_eq!(fixture.read("target/compiled/shop/models/a.sql"), format!("select '{}' as ds", utc.format("%Y-%m-%d")));
    }
}

#[test]
fn bad_date_ranges_are_usage_errors() {
    let fixture = Fixture::new().file("models/a.sql", "select 1 as x");
    let run = fixture.strata(&["run", "--start", "2026-11-05", "--end", "2026-11-01"]);
    assert_status(&run, 2);
    insta::assert_snapshot!(run.stderr, @r"
    error: `--start 2026-11-05` is after `--end 2026-11-01`
      = help: both are inclusive; give the earlier date as `--start`
    ");
    let run = fixture.strata(&["run", "--date", "yesterday"]);
    assert_status(&run, 2);
    let run = fixture.strata(&["run", "--timezone", "Mars/Olympus"]);
    assert_status(&run, 2);
    assert!(run.stderr.starts_with("error: `Mars/Olympus` is not a time zone"), "{}", run.stderr);
}

#[test]
fn freshness_warns_or_fails_by_the_age_of_the_newest_row() {
    let fresh = (chrono::Utc::now() - chrono::Duration::minutes(90)).format("%Y-%m-%dT%H:%M:%S").to_string();
    let fixture = Fixture::new()
        .file("seeds/loads.csv", &format!("id,loaded_at\n1,2026-11-01T00:00:00\n2,{fresh}\n"))
        .file(
            "models/sources.yml",
            "version: 2\nsources:\n  - name: raw\n    schema: main\n    tables:\n      - name: loads\n        loaded_at_field: loaded_at\n        freshness:\n          warn_after: {count: 1, period: hour}\n          error_after: {count: 1, period: day}\n",
        )
        .file("models/latest.sql", "select max(id) as id from {{ source('raw', 'loads') }}");
    assert_status(&fixture.strata(&["seed"]), 0);
    let run = fixture.strata(&["run", "--date", "2026-11-20"]);
    assert_status(&run, 0);
    assert!(run.stdout.lines().nth(2).is_some_and(|line| line.starts_with("WARN  source raw.loads ready for 2026-11-20")), "{}", run.stdout);
    // 90 minutes when the seed was written, a minute more if the run crossed one
    // (the rendering itself is unit-tested in materialize.rs).
    let warned = regex::Regex::new(r"source `raw\.loads` was last loaded 1h 3[01]m ago, more than `warn_after`").expect("regex");
    assert!(warned.is_match(&run.stdout), "{}", run.stdout);
    let fixture = fixture.file("seeds/loads.csv", "id,loaded_at\n1,2026-11-01T00:00:00\n");
    assert_status(&fixture.strata(&["seed"]), 0);
    let run = fixture.strata(&["run", "--date", "2026-11-20"]);
    assert_status(&run, 1);
    assert!(run.stdout.contains("SKIP  model latest  (skipped because source `raw.loads` failed)"), "{}", run.stdout);
}

#[test]
fn tests_of_a_partitioned_model_check_its_partition_unless_told_otherwise() {
    let fixture = events().file("models/total.sql", "select 1 as x");
    assert_status(&fixture.strata(&["seed"]), 0);
    assert_status(&fixture.strata(&["run", "--date", "2026-11-03", "--select", "daily"]), 0);
    // A duplicate date in another partition: invisible to a test of 3 November.
    assert_status(&fixture.strata(&["run", "--date", "2026-11-04", "--select", "daily"]), 0);
    duckdb::Connection::open(fixture.path().join("target/dev.duckdb"))
        .and_then(|c| c.execute_batch("insert into main.daily values (date '2026-11-04', 99)"))
        .expect("insert a duplicate");
    assert_status(&fixture.strata(&["test", "--date", "2026-11-03"]), 0);
    assert_status(&fixture.strata(&["test", "--date", "2026-11-04"]), 1);
    let fixture = fixture.file(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: daily\n    config: {test_scope: all}\n    columns:\n      - name: event_date\n        tests: [unique]\n",
    );
    assert_status(&fixture.strata(&["test", "--date", "2026-11-03"]), 1);
}

// `--full-refresh` in a backfill rebuilds each model once, on its first date,
// so every date's partition is kept.
#[test]
fn full_refresh_backfill_keeps_every_date() {
    let fixture = events();
    assert_status(&fixture.strata(&["seed"]), 0);
    assert_status(&fixture.strata(&["run", "--date", "2026-11-09", "--select", "daily"]), 0);
    assert_status(&fixture.strata(&["run", "--start", "2026-11-02", "--end", "2026-11-04", "--full-refresh", "--select", "daily"]), 0);
    let expected: Vec<Vec<String>> = (2..=4).map(|d| vec![format!("2026-11-{d:02}"), d.to_string()]).collect();
    assert_eq!(table(&fixture), expected);
}

// A backfill runs each partitioned model's dates in date order, one after the
// other, never two dates of one model side by side.
#[test]
fn a_backfill_runs_the_dates_in_order() {
    let fixture = events();
    assert_status(&fixture.strata(&["seed"]), 0);
    assert_status(&fixture.strata(&["run", "--start", "2026-11-02", "--end", "2026-11-06", "--threads", "4"]), 0);
    let (results, _) = fixture.results("execution_date");
    let daily: Vec<(String, String, String)> = results["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["unique_id"] == "model.shop.daily")
        .map(|r| {
            let timing = &r["timing"][0];
            let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_string();
            (text(&r["execution_date"]), text(&timing["started_at"]), text(&timing["completed_at"]))
        })
        .collect();
    let dates: Vec<&str> = daily.iter().map(|(date, ..)| date.as_str()).collect();
    assert_eq!(dates, ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06"]);
    for pair in daily.windows(2) {
        assert!(pair[0].2 <= pair[1].1, "{} finished at {}, after {} started at {}", pair[0].0, pair[0].2, pair[1].0, pair[1].1);
    }
}

// Without `--timezone` or a `timezone` var the date is UTC's, whatever the
// machine's zone: two zones 25 hours apart always disagree on the date, so a
// default taken from the machine could not match UTC under both.
#[test]
fn the_default_time_zone_is_utc_not_the_machines() {
    let fixture = Fixture::new().file("models/a.sql", "select '{{ ds }}' as ds");
    let ds_with = |machine_zone: Option<&str>, args: &[&str]| {
        let mut command = crate::strata_command(fixture.path());
        if let Some(zone) = machine_zone {
            command.env("TZ", zone);
        }
        let output = command.arg("compile").args(args).output().expect("run strata");
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        fixture.read("target/compiled/shop/models/a.sql")
    };
    let utc = ds_with(None, &["--timezone", "UTC"]);
    assert_eq!(ds_with(Some("Pacific/Kiritimati"), &[]), utc);
    assert_eq!(ds_with(Some("Pacific/Pago_Pago"), &[]), utc);
    // The zones themselves do disagree, when asked for by name.
    assert_ne!(ds_with(None, &["--timezone", "Pacific/Kiritimati"]), ds_with(None, &["--timezone", "Pacific/Pago_Pago"]));
}

/// `daily` → `after` (both partitioned) → `total`, with `daily` failing on
/// 3 November while the file `broken` exists; `multiplier` is a var.
fn chain(broken: &std::path::Path) -> Fixture {
    events()
        .file(
            "models/daily.sql",
            &format!(
                "{{{{ config(materialized='incremental', partition_by='event_date') }}}}\nselect event_date, count(*) * {{{{ var('multiplier', 1) }}}} as events from {{{{ ref('events') }}}}\nwhere event_date = '{{{{ ds }}}}' and case when '{{{{ ds }}}}' = '2026-11-03' and exists (select 1 from glob('{}')) then error('broken') else true end\ngroup by 1\n",
                broken.display()
            ),
        )
        .file("models/after.sql", "{{ config(materialized='incremental', partition_by='event_date') }}\nselect event_date, events + 1 as events from {{ ref('daily') }} where event_date = '{{ ds }}'\n")
        .file("models/schema.yml", "version: 2\n")
}

// A retry re-runs exactly the failed and skipped nodes, on exactly their
// dates, with the original flags, and ends with the tables a clean run builds.
#[test]
fn retry_of_a_backfill_reruns_what_failed_and_was_skipped_on_their_dates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = dir.path().join("broken");
    std::fs::write(&broken, "").expect("break");
    let fixture = chain(&broken);
    assert_status(&fixture.strata(&["seed"]), 0);
    let backfill = ["run", "--start", "2026-11-02", "--end", "2026-11-04", "--threads", "1", "--full-refresh", "--vars", "{multiplier: 10}"];
    assert_status(&fixture.strata(&backfill), 1);
    assert_eq!(
        outcomes(&fixture),
        [
            "model.shop.daily 2026-11-02 success",
            "model.shop.after 2026-11-02 success",
            "model.shop.daily 2026-11-03 error",
            "model.shop.after 2026-11-03 skipped",
            "model.shop.daily 2026-11-04 success",
            "model.shop.after 2026-11-04 skipped",
            "model.shop.total 2026-11-04 skipped",
        ]
    );

    std::fs::remove_file(&broken).expect("fix");
    let run = fixture.strata(&["retry"]);
    assert_status(&run, 0);
    let (_, retried) = fixture.results("execution_date");
    let retried: Vec<String> = retried.iter().map(|(id, date)| format!("{id} {date}")).collect();
    assert_eq!(retried, ["model.shop.daily 2026-11-03", "model.shop.after 2026-11-03", "model.shop.after 2026-11-04", "model.shop.total 2026-11-04"]);

    let clean = chain(&broken);
    assert_status(&clean.strata(&["seed"]), 0);
    assert_status(&clean.strata(&backfill), 0);
    for sql in [
        "select event_date::varchar, events from main.daily order by 1",
        "select event_date::varchar, events from main.after order by 1",
        "select events || '/' || days from main.total",
    ] {
        assert_eq!(query(&fixture, sql), query(&clean, sql), "{sql}");
    }
    assert_eq!(
        query(&fixture, "select events from main.after order by event_date"),
        [["21"], ["31"], ["41"]].map(|r| r.map(str::to_string).to_vec())
    );
}

/// Each result of `target/run_results.json` as `unique_id date status`.
fn outcomes(fixture: &Fixture) -> Vec<String> {
    let (_, dates) = fixture.results("execution_date");
    let (_, statuses) = fixture.results("status");
    dates.iter().zip(&statuses).map(|((id, date), (_, status))| format!("{id} {date} {status}")).collect()
}

const RAISES_ON_THE_3RD: &str = "{{ config(materialized='incremental', partition_by='event_date') }}\n{% if ds == '2026-11-03' %}{{ exceptions.raise_compiler_error('no events for ' ~ ds) }}{% endif %}\nselect event_date, count(*) as events from {{ ref('events') }} where event_date = '{{ ds }}' group by 1\n";

// A date on which a model's template cannot be rendered is an error on that
// date, recorded and retried: never a silent gap in the table.
#[test]
fn a_date_whose_template_fails_to_render_is_an_error_on_that_date() {
    let fixture = events()
        .file("models/daily.sql", RAISES_ON_THE_3RD)
        .file(
            "models/after.sql",
            "{{ config(materialized='incremental', partition_by='event_date') }}\nselect * from {{ ref('daily') }} where event_date = '{{ ds }}'\n",
        )
        .file("models/schema.yml", "version: 2\n");
    assert_status(&fixture.strata(&["seed"]), 0);
    let run = fixture.strata(&["build", "--start", "2026-11-02", "--end", "2026-11-04", "--threads", "1"]);
    assert_status(&run, 1);
    assert!(run.stdout.contains("2026-11-03 ERROR model daily"), "{}", run.stdout);
    assert!(run.stdout.contains("no events for 2026-11-03"), "{}", run.stdout);
    assert_eq!(
        outcomes(&fixture),
        [
            "seed.shop.events 2026-11-02 success",
            "model.shop.daily 2026-11-02 success",
            "model.shop.after 2026-11-02 success",
            "model.shop.daily 2026-11-03 error",
            "model.shop.after 2026-11-03 skipped",
            "model.shop.daily 2026-11-04 success",
            "model.shop.after 2026-11-04 skipped",
            "model.shop.total 2026-11-04 skipped",
        ]
    );
    assert_eq!(table(&fixture), [["2026-11-02", "2"], ["2026-11-04", "4"]].map(|r| r.map(str::to_string).to_vec()));

    // Fixed, `retry` fills exactly the gap.
    let fixture = fixture.file("models/daily.sql", &RAISES_ON_THE_3RD.replace("2026-11-03", "never"));
    assert_status(&fixture.strata(&["retry"]), 0);
    assert_eq!(
        outcomes(&fixture),
        [
            "model.shop.daily 2026-11-03 success",
            "model.shop.after 2026-11-03 success",
            "model.shop.after 2026-11-04 success",
            "model.shop.total 2026-11-04 success"
        ]
    );
    assert_eq!(table(&fixture), [["2026-11-02", "2"], ["2026-11-03", "3"], ["2026-11-04", "4"]].map(|r| r.map(str::to_string).to_vec()));
}

// A run stopped by an error still writes its record, with every node it did
// not run skipped for the reason, so `retry` resumes there and not from the
// invocation before.
#[test]
fn a_run_stopped_by_an_error_records_the_nodes_it_did_not_run() {
    let project = "name: shop\nprofile: shop\non-run-start: [\"{{ 'select * from no_such_table' if var('break', true) else 'select 1' }}\"]\n";
    let fixture = events().file("dbt_project.yml", project).file("models/schema.yml", "version: 2\n");
    assert_status(&fixture.strata(&["seed"]), 0);
    let run = fixture.strata(&["run", "--start", "2026-11-02", "--end", "2026-11-03", "--threads", "1"]);
    assert_status(&run, 2);
    assert!(run.stderr.contains("`on-run-start` hook failed"), "{}", run.stderr);
    assert_eq!(
        outcomes(&fixture),
        ["model.shop.daily 2026-11-02 skipped", "model.shop.daily 2026-11-03 skipped", "model.shop.total 2026-11-03 skipped"]
    );
    let (_, messages) = fixture.results("message");
    assert!(messages[0].1.starts_with("not run: the run stopped because `on-run-start` hook failed: "), "{messages:?}");

    let run = fixture.strata(&["retry", "--vars", "{break: false}"]);
    assert_status(&run, 0);
    assert_eq!(table(&fixture), [["2026-11-02", "2"], ["2026-11-03", "3"]].map(|r| r.map(str::to_string).to_vec()));
    assert_eq!(scalar(&fixture, "select events || '/' || days from main.total"), "5/2");
}

/// `strata args` in `fixture`, for checks whose `timeout` is an hour: one
/// that waits instead of failing fails the test after two minutes.
fn strata_within_two_minutes(fixture: &Fixture, args: &[&str]) -> crate::Run {
    let child = crate::strata_command(fixture.path())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start strata");
    crate::Run::from(crate::wait_within(child, std::time::Duration::from_secs(120), "the check waited instead of failing"))
}

/// What a run printed, durations redacted.
fn printed(run: &crate::Run) -> String {
    regex::Regex::new(r"\d+\.\d+s\b").expect("regex").replace_all(&run.stdout, "[t]s").into_owned()
}

// A condition the warehouse cannot run is a broken check, not a source that
// is late: it fails at once with the warehouse's error instead of waiting out
// its hour. A table that does not exist yet is still waited for.
#[test]
fn a_wait_for_condition_the_warehouse_refuses_fails_at_once() {
    let before_the_load = checked("{sql: \"no_such_column > 0\", timeout: 1s, poke_interval: 0.2s}");
    let waited = before_the_load.strata(&["run", "--date", "2026-11-05"]);
    assert_status(&waited, 1);
    assert!(
        waited.stdout.contains("  source `raw.events` is not ready for 2026-11-05 after waiting 1s: `main.events` does not exist yet"),
        "{}",
        waited.stdout
    );

    let fixture = checked("{sql: \"no_such_column > 0\", timeout: 1h, poke_interval: 0.2s}");
    assert_status(&fixture.strata(&["seed"]), 0);
    let run = strata_within_two_minutes(&fixture, &["run", "--date", "2026-11-05"]);
    assert_status(&run, 1);
    insta::assert_snapshot!(printed(&run), @r#"
    Concurrency: 4 threads (target='dev')

    ERROR source raw.events cannot be checked  [t]s
    SKIP  model daily  (skipped because source `raw.events` failed)
    SKIP  model total  (skipped because source `raw.events` failed)

    Finished 3 nodes in [t]s.
    PASS=0 WARN=0 ERROR=1 SKIP=2 TOTAL=3

    error in source `raw.events` (models/sources.yml)
      source `raw.events` cannot be checked: Binder Error: Referenced column "no_such_column" not found in FROM clause!
      Candidate bindings: "event_at"

      LINE 1: select count(*) from "dev"."main"."events" where no_such_column > 0
                                                               ^^^^^^^^^^^^^^
    "#);
    let (results, statuses) = fixture.results("status");
    assert!(statuses.contains(&("source.shop.raw.events".to_string(), "error".to_string())), "{statuses:?}");
    let message = results["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["unique_id"] == "source.shop.raw.events")
        .expect("the check's result")["message"]
        .clone();
    assert!(message.as_str().is_some_and(|m| m.contains("no_such_column")), "{message}");
}

// A load time in the future is wrong data (most often a local time stored
// without its zone), not fresh data: an error, at once. Within the clock skew
// strata allows (5 minutes) it counts as just loaded.
#[test]
fn a_loaded_at_in_the_future_is_an_error_beyond_the_clock_skew() {
    let loads = |ahead: chrono::Duration| {
        let loaded_at = (chrono::Utc::now() + ahead).format("%Y-%m-%dT%H:%M:%S").to_string();
        Fixture::new()
            .file("seeds/loads.csv", &format!("id,loaded_at\n1,2026-11-01T00:00:00\n2,{loaded_at}\n"))
            .file(
                "models/sources.yml",
                "version: 2\nsources:\n  - name: raw\n    schema: main\n    tables:\n      - name: loads\n        loaded_at_field: loaded_at\n        freshness:\n          error_after: {count: 1, period: day}\n          timeout: 1h\n",
            )
            .file("models/latest.sql", "select max(id) as id from {{ source('raw', 'loads') }}")
    };
    let skewed = loads(chrono::Duration::minutes(2));
    assert_status(&skewed.strata(&["seed"]), 0);
    let run = skewed.strata(&["run", "--date", "2026-11-20"]);
    assert_status(&run, 0);
    assert!(run.stdout.contains("OK    source raw.loads ready for 2026-11-20"), "{}", run.stdout);

    // Nine hours ahead: Asia/Seoul's wall clock written down as UTC.
    let seoul = loads(chrono::Duration::hours(9) + chrono::Duration::minutes(10));
    assert_status(&seoul.strata(&["seed"]), 0);
    let run = strata_within_two_minutes(&seoul, &["run", "--date", "2026-11-20"]);
    assert_status(&run, 1);
    let ahead = regex::Regex::new(r"is 9h (9|10)m in the future \(`[0-9: -]+`\)").expect("regex");
    insta::assert_snapshot!(ahead.replace_all(&printed(&run), "is [9h 10m] in the future ([loaded_at])"), @r"
    Concurrency: 4 threads (target='dev')

    ERROR source raw.loads cannot be checked  [t]s
    SKIP  model latest  (skipped because source `raw.loads` failed)

    Finished 2 nodes in [t]s.
    PASS=0 WARN=0 ERROR=1 SKIP=1 TOTAL=2

    error in source `raw.loads` (models/sources.yml)
      source `raw.loads` cannot be checked: `loaded_at` is [9h 10m] in the future ([loaded_at]); strata reads it as UTC, so a local time stored without its zone looks like this
    ");
    assert!(run.stdout.contains("SKIP  model latest  (skipped because source `raw.loads` failed)"), "{}", run.stdout);
}
