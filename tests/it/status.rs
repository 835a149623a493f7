//! `strata status` and `build --missing` on the example project: a 10-date
//! backfill, then one date's partition deleted, one source partition written
//! again with a new row, one model's SQL edited and one date failing. Status
//! names exactly those cells; `build --missing` rebuilds exactly them and
//! what depends on them on those dates, after which the tables equal a clean
//! backfill's and there is nothing left to do.

use std::collections::BTreeSet;

use crate::Fixture;
use crate::example::example;
use crate::run::{assert_status, query};

const RANGE: [&str; 4] = ["--start", "2026-11-01", "--end", "2026-11-10"];

pub fn execute(fixture: &Fixture, sql: &str) {
    let connection = duckdb::Connection::open(fixture.path().join("target/dev.duckdb")).expect("open the database");
    connection.execute_batch(sql).expect("execute");
}

/// A late event of the 5th, landed now (UTC), into the events table `events`.
fn late_event(events: &str) -> String {
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.6f");
    format!(
        "insert into {events} (event_id, event_at, event_date, anonymous_id, user_id, event_name, page_path, utm_source, utm_medium, utm_campaign, loaded_at) \
         values (99999, timestamp '2026-11-05 23:59:00', date '2026-11-05', 'anon_late', null, 'page_view', '/', 'Google', 'cpc', 'brand_search', timestamp '{now}')"
    )
}

/// `dau` counts the same users in another way: its SQL changed, its rows did not.
fn edit_dau(fixture: &Fixture) {
    let path = fixture.path().join("models/product/dau.sql");
    let text = std::fs::read_to_string(&path).expect("dau.sql");
    let edited = text.replace("count(distinct user_id) as daily_active_users", "count(distinct user_id) + 0 as daily_active_users");
    assert_ne!(text, edited);
    std::fs::write(&path, edited).expect("dau.sql");
}

/// Builds `mkt_spend` for `date` with SQL that fails there, and puts its SQL back.
fn fail_mkt_spend(fixture: &Fixture, date: &str) {
    let path = fixture.path().join("models/marketing/mkt_spend.sql");
    let text = std::fs::read_to_string(&path).expect("mkt_spend.sql");
    let broken = text.replace("    sum(cost) as cost", "    sum(cost) as cost, cast(error('spend report unreadable') as int) as broken");
    assert_ne!(text, broken);
    std::fs::write(&path, broken).expect("mkt_spend.sql");
    assert_status(&fixture.strata(&["run", "--select", "mkt_spend", "--date", date, "--quiet"]), 1);
    std::fs::write(&path, text).expect("mkt_spend.sql");
}

/// `written_at` times differ from run to run.
fn redact_times(text: &str) -> String {
    let time = regex::Regex::new(r#""written_at": "[^"]+""#).expect("regex");
    time.replace_all(text, r#""written_at": "<time>""#).into_owned()
}

/// Every model table's rows, as text, sorted.
fn model_tables(fixture: &Fixture) -> Vec<(String, Vec<Vec<String>>)> {
    let tables =
        query(fixture, "select table_schema, table_name from information_schema.tables where table_schema like 'main\\_%' escape '\\' order by 1, 2");
    tables
        .into_iter()
        .map(|t| {
            let name = format!("\"{}\".\"{}\"", t[0], t[1]);
            (name.clone(), query(fixture, &format!("select cast(t as varchar) as row from {name} as t order by 1")))
        })
        .collect()
}

/// Each model the last run built, by (day of the month, name); every node of it passed.
fn rebuilt(fixture: &Fixture) -> BTreeSet<(String, String)> {
    let (run_results, results) = fixture.results("status");
    assert!(results.iter().all(|(_, status)| status == "success" || status == "pass"), "{results:?}");
    run_results["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| {
            Some((r["execution_date"].as_str()?.get(8..)?.to_string(), r["unique_id"].as_str()?.strip_prefix("model.analytics.")?.to_string()))
        })
        .collect()
}

/// What `--missing` rebuilds after the changes: the cells status names, and
/// the partitioned models downstream of them on the same dates.
fn expected_rebuilds() -> BTreeSet<(String, String)> {
    let on = |day: &str, models: &[&str]| models.iter().map(|m| (day.to_string(), m.to_string())).collect::<Vec<_>>();
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    // `dau`'s SQL changed: every date; nothing reads it.
    for day in ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"] {
        expected.extend(on(day, &["dau"]));
    }
    // The 3rd's funnel was deleted: it, and the full join that reads it.
    expected.extend(on("03", &["daily_utm_funnel", "utm_spend_full_joined"]));
    // The 5th's events landed after the mapping was built: everything built on them that day.
    expected.extend(on(
        "05",
        &[
            "userid_mapped",
            "userid_mapped_logs",
            "daily_active_users_list",
            "userid_mapped_utm",
            "user_signed_up_utm",
            "userid_mapped_session_logs",
            "daily_utm_funnel",
            "users_first_visit",
            "utm_orders_status_final",
            "utm_orders_status_final_1d",
            "utm_spend_full_joined",
        ],
    ));
    // The 7th's spend failed: it, and the full join.
    expected.extend(on("07", &["mkt_spend", "utm_spend_full_joined"]));
    expected
}

#[test]
fn status_names_the_dates_to_rebuild_and_build_missing_rebuilds_exactly_them() {
    let fixture = example();
    assert_status(&fixture.strata(&["seed", "--quiet"]), 0);
    let mut build = vec!["build", "--quiet"];
    build.extend(RANGE);
    assert_status(&fixture.strata(&build), 0);

    let mut status = vec!["status"];
    status.extend(RANGE);
    let clean = fixture.strata(&status);
    assert_status(&clean, 0);
    assert!(clean.stdout.contains("models: 160 built\nsources: 30 built\n"), "{}", clean.stdout);

    execute(&fixture, "delete from main_marketing.daily_utm_funnel where event_date = date '2026-11-03'");
    execute(&fixture, &late_event("main.raw_events"));
    edit_dau(&fixture);
    fail_mkt_spend(&fixture, "2026-11-07");

    let grid = fixture.strata(&status);
    assert_status(&grid, 0);
    insta::assert_snapshot!("status_grid", grid.stdout);
    let mut json = status.clone();
    json.extend(["--output", "json", "--select", "dau", "daily_utm_funnel", "mkt_spend", "source:logs"]);
    let json = fixture.strata(&json);
    assert_status(&json, 0);
    insta::assert_snapshot!("status_json", redact_times(&json.stdout));

    let mut missing = build.clone();
    missing.push("--missing");
    let mut dry_run = missing.clone();
    dry_run.push("--dry-run");
    let plan = fixture.strata(&dry_run);
    assert_status(&plan, 0);
    insta::assert_snapshot!("missing_plan", plan.stdout);

    assert_status(&fixture.strata(&missing), 0);
    assert_eq!(rebuilt(&fixture), expected_rebuilds());

    // Idempotent: the range is complete, and there is nothing left to do.
    let after = fixture.strata(&status);
    assert!(after.stdout.contains("models: 160 built\nsources: 30 built\n"), "{}", after.stdout);
    let again = fixture.strata(&missing);
    assert_status(&again, 0);
    assert_eq!(again.stdout, "Nothing to build: every date of 2026-11-01..2026-11-10 of the selected partitioned models is built\n");

    // The same tables as a clean backfill of the same sources and SQL.
    let reference = example();
    edit_dau(&reference);
    assert_status(&reference.strata(&["seed", "--quiet"]), 0);
    execute(&reference, &late_event("main.raw_events"));
    // `run`, not `build`, which would load the seeds again over the late event.
    let mut run = vec!["run", "--quiet"];
    run.extend(RANGE);
    assert_status(&reference.strata(&run), 0);
    let (after_missing, clean) = (model_tables(&fixture), model_tables(&reference));
    assert_eq!(after_missing.iter().map(|t| &t.0).collect::<Vec<_>>(), clean.iter().map(|t| &t.0).collect::<Vec<_>>());
    for ((table, rows), (_, clean_rows)) in after_missing.iter().zip(&clean) {
        let only_rebuilt: Vec<&Vec<String>> = rows.iter().filter(|r| !clean_rows.contains(r)).take(3).collect();
        let only_clean: Vec<&Vec<String>> = clean_rows.iter().filter(|r| !rows.contains(r)).take(3).collect();
        assert!(only_rebuilt.is_empty() && only_clean.is_empty(), "{table} differs:\nrebuilt only: {only_rebuilt:?}\nclean only: {only_clean:?}");
    }
}

/// The same on the BigQuery emulator, with `run`: the partitions come from
/// `INFORMATION_SCHEMA.PARTITIONS`, when each was written from the partition
/// log (the emulator keeps one modification time per table).
#[test]
fn status_and_run_missing_on_bigquery() {
    let emulator = crate::bigquery::Emulator::start("analytics-status");
    let fixture = crate::bigquery::example_on(&emulator.endpoint(), &emulator.project);
    assert_status(&fixture.strata(&["seed", "--quiet"]), 0);
    let mut run = vec!["run", "--quiet", "--skip-checks", "--exclude", "exposure:*"];
    run.extend(RANGE);
    assert_status(&fixture.strata(&run), 0);
    let mut status = vec!["status"];
    status.extend(RANGE);
    let clean = fixture.strata(&status);
    assert!(clean.stdout.contains("models: 160 built\nsources: 30 built\n"), "{}", clean.stdout);

    let project = &emulator.project;
    emulator.query(&format!("delete from `{project}.analytics_marketing.daily_utm_funnel` where event_date = date '2026-11-03'"));
    emulator.query(&late_event(&format!("`{project}.analytics.raw_events`")));
    edit_dau(&fixture);
    fail_mkt_spend(&fixture, "2026-11-07");
    let grid = fixture.strata(&status);
    assert_status(&grid, 0);
    insta::assert_snapshot!("status_grid_bigquery", grid.stdout);

    let mut missing = run.clone();
    missing.push("--missing");
    let mut dry_run = missing.clone();
    dry_run.push("--dry-run");
    let plan = fixture.strata(&dry_run);
    assert_status(&plan, 0);
    assert!(plan.stdout.contains("  2026-11-07  dau (stale), mkt_spend (failed), utm_spend_full_joined\n"), "{}", plan.stdout);
    let cost = regex::Regex::new(r"\nDry run: [0-9.]+ [KMGT]?i?B would be processed, about \$[0-9.]+ on demand").expect("regex");
    assert!(cost.is_match(&plan.stdout), "{}", plan.stdout);
    assert_status(&fixture.strata(&missing), 0);
    assert_eq!(rebuilt(&fixture), expected_rebuilds());
    let after = fixture.strata(&status);
    assert!(after.stdout.contains("models: 160 built\nsources: 30 built\n"), "{}", after.stdout);
    let again = fixture.strata(&missing);
    assert_eq!(again.stdout, "Nothing to build: every date of 2026-11-01..2026-11-10 of the selected partitioned models is built\n");
}
