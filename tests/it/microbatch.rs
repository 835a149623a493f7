//! dbt's microbatch models as strata runs them: one batch per execution
//! date, each replacing its day's rows, reading only that day of the inputs
//! that declare an `event_time`.

use crate::Fixture;
use crate::run::{assert_status, query};

const RANGE: [&str; 4] = ["--event-time-start", "2026-11-01", "--event-time-end", "2026-11-05"];

fn build(fixture: &Fixture, extra: &[&str]) -> crate::Run {
    let mut args = vec!["build", "--no-progress", "--threads", "1"];
    args.extend(RANGE);
    args.extend(extra);
    fixture.strata(&args)
}

// dbt's range flags run the four days' batches (the end is exclusive), each
// reading its day of the inputs; rebuilding a day replaces only that day.
#[test]
fn microbatch_models_build_one_batch_per_day() {
    let fixture = crate::dbt_projects::dbt_fixture("jaffle_batches");
    let run = build(&fixture, &[]);
    assert_status(&run, 0);
    insta::assert_snapshot!(crate::run::redact(&run.stdout));
    // The event of the 5th is outside the range; `user_totals` reads every event.
    let report = crate::dbt_projects::tables_report(
        &fixture,
        &[("main.daily_event_counts", "event_day, event_type"), ("main.user_events", "occurred_at"), ("main.user_totals", "user_id")],
    );
    insta::assert_snapshot!(report);

    // A late event of the 2nd: rebuilding that day's batch counts it, and leaves the other days.
    let seeds = fixture.path().join("seeds/raw_events.csv");
    let mut events = std::fs::read_to_string(&seeds).expect("seed");
    events.push_str("8,4,visit,2026-11-02 12:00:00\n");
    std::fs::write(&seeds, events).expect("seed");
    assert_status(&fixture.strata(&["seed"]), 0);
    assert_status(&fixture.strata(&["run", "--select", "user_events", "--date", "2026-11-02"]), 0);
    let per_day = query(&fixture, "select cast(occurred_at as date)::varchar, count(*) from main.user_events group by 1 order by 1");
    assert_eq!(per_day, [["2026-11-01", "2"], ["2026-11-02", "3"], ["2026-11-03", "1"], ["2026-11-04", "1"]]);
}

// A batch size strata does not run is an error at its line.
#[test]
fn an_hourly_batch_is_an_error_at_its_line() {
    let fixture = Fixture::new().file(
        "models/events.sql",
        "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='at',\n    batch_size='hour', begin='2026-11-01') }}\nselect timestamp '2026-11-01 10:00' as at\n",
    );
    let compile = fixture.strata(&["compile"]);
    assert_status(&compile, 2);
    insta::assert_snapshot!(compile.stderr);
}

// A failed batch is one (model, date): `retry` runs that batch again, and
// none of the batches that were built.
#[test]
fn retry_reruns_only_the_failed_batch() {
    let flaky = "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='occurred_at', batch_size='day', begin='2026-11-01', lookback=0) }}\n\
                 select user_id, occurred_at{% if ds == '2026-11-03' and env_var('FAIL_BATCH', '') %}, cast('not a number' as integer) as broken{% endif %}\n\
                 from {{ source('app', 'raw_events') }}\n";
    let fixture = crate::dbt_projects::dbt_fixture("jaffle_batches").file("models/flaky_events.sql", flaky);
    assert_status(&fixture.strata(&["seed"]), 0);
    let mut args = vec!["build", "--no-progress", "--select", "flaky_events"];
    args.extend(RANGE);
    let failed = crate::Run::from(crate::strata_command(fixture.path()).args(&args).env("FAIL_BATCH", "1").output().expect("run strata"));
    assert_status(&failed, 1);
    let retry = fixture.strata(&["retry", "--no-progress"]);
    assert_status(&retry, 0);
    let (_, retried) = fixture.results("execution_date");
    assert_eq!(retried, [("model.jaffle_batches.flaky_events".to_string(), "2026-11-03".to_string())]);
    let per_day = query(&fixture, "select cast(occurred_at as date)::varchar, count(*) from main.flaky_events group by 1 order by 1");
    assert_eq!(per_day, [["2026-11-01", "2"], ["2026-11-02", "2"], ["2026-11-03", "1"], ["2026-11-04", "1"]]);
}

// Without a range, a microbatch model's first build covers the days from its
// `begin` to the execution date, as dbt's does; later runs add their day.
#[test]
fn a_first_build_starts_at_begin() {
    let fixture = crate::dbt_projects::dbt_fixture("jaffle_batches");
    let first = fixture.strata(&["build", "--no-progress", "--date", "2026-11-03"]);
    assert_status(&first, 0);
    assert!(first.stdout.contains("created table main.user_events$20261101..20261103"), "{}", first.stdout);
    let days = "select cast(occurred_at as date)::varchar, count(*) from main.user_events group by 1 order by 1";
    assert_eq!(query(&fixture, days), [["2026-11-01", "2"], ["2026-11-02", "2"], ["2026-11-03", "1"]]);
    assert_status(&fixture.strata(&["build", "--no-progress", "--date", "2026-11-04"]), 0);
    assert_eq!(query(&fixture, days), [["2026-11-01", "2"], ["2026-11-02", "2"], ["2026-11-03", "1"], ["2026-11-04", "1"]]);
}
