//! The example project at the repository root: the marketing pipeline.

use std::path::Path;

use crate::{Fixture, repo_root};

/// A copy of the example project, so its `target/` stays out of the checkout.
pub fn example() -> Fixture {
    let mut fixture = Fixture::new();
    for entry in ["dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "data_tests"] {
        fixture = copy(fixture, &repo_root(), Path::new(entry));
    }
    fixture
}

pub fn copy(fixture: Fixture, root: &Path, relative: &Path) -> Fixture {
    let source = root.join(relative);
    if source.is_dir() {
        let mut fixture = fixture;
        let mut entries: Vec<_> = std::fs::read_dir(&source).expect("read dir").map(|e| e.expect("entry").file_name()).collect();
        entries.sort();
        for name in entries {
            fixture = copy(fixture, root, &relative.join(name));
        }
        fixture
    } else if source.is_file() {
        let text = std::fs::read_to_string(&source).expect("read example file");
        fixture.file(&relative.to_string_lossy(), &text)
    } else {
        fixture
    }
}

#[test]
fn downstream_of_the_full_join() {
    let run = example().strata(&["ls", "--select", "utm_spend_full_joined+"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn upstream_of_the_full_join() {
    let run = example().strata(&["ls", "--select", "+utm_spend_full_joined", "--resource-type", "model", "source", "exposure"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn every_model_compiles_for_both_targets() {
    let fixture = example();
    for target in ["dev", "prod"] {
        let run = fixture.strata(&["compile", "--date", "2026-11-20", "--target", target]);
        assert_eq!(run.status, 0, "target {target}: {}", run.stderr);
        assert_eq!(run.stdout, "Compiled 16 models and 40 tests for 2026-11-20 into `target/compiled`\n");
        let sql = fixture.read("target/compiled/analytics/models/marketing/utm_spend_full_joined.sql");
        insta::assert_snapshot!(format!("utm_spend_full_joined_{target}"), sql);
        let sql = fixture.read("target/compiled/analytics/models/crm/daily_dormant_user_order.sql");
        insta::assert_snapshot!(format!("daily_dormant_user_order_{target}"), sql);
    }
}

#[test]
fn the_dependencies_are_the_pipeline_s() {
    let fixture = example();
    let run = fixture.strata(&["compile", "--date", "2026-11-20"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let manifest: serde_json::Value = serde_json::from_str(&fixture.read("target/manifest.json")).expect("manifest");
    let parents = |model: &str| -> Vec<String> {
        manifest["parent_map"][format!("model.analytics.{model}")]
            .as_array()
            .expect("parents")
            .iter()
            .map(|p| p.as_str().expect("id").to_string())
            .filter(|p| !p.starts_with("test."))
            .collect()
    };
    assert_eq!(parents("userid_mapped_logs"), ["model.analytics.userid_mapped", "source.analytics.logs.events"]);
    assert_eq!(parents("userid_mapped_utm"), ["model.analytics.userid_mapped_logs"]);
    assert_eq!(parents("userid_mapped_session_logs"), ["model.analytics.userid_mapped_logs", "model.analytics.userid_mapped_utm"]);
    assert_eq!(
        parents("daily_utm_funnel"),
        ["model.analytics.userid_mapped_logs", "model.analytics.userid_mapped_session_logs", "source.analytics.dw.users"]
    );
    assert_eq!(
        parents("utm_spend_full_joined"),
        [
            "model.analytics.daily_utm_funnel",
            "model.analytics.mkt_spend",
            "model.analytics.user_signed_up_utm",
            "model.analytics.utm_orders_status_final"
        ]
    );
    assert_eq!(parents("user_segment_category"), ["model.analytics.users_history"]);
    assert_eq!(parents("dau"), ["model.analytics.daily_active_users_list"]);
    assert_eq!(
        manifest["parent_map"]["exposure.analytics.tableau_utm_orders_status_final_refresh"],
        serde_json::json!(["model.analytics.utm_orders_status_final", "model.analytics.utm_orders_status_final_1d"])
    );
    let exposure = &manifest["exposures"]["exposure.analytics.tableau_utm_spend_full_joined_refresh"];
    assert_eq!(exposure["tableau"]["datasources"], serde_json::json!(["utm_spend_full_joined"]));
}

/// The README's first command: the whole pipeline on DuckDB for one date, then
/// the numbers checked against the seed data.
#[test]
fn the_pipeline_builds_and_its_tests_pass() {
    let fixture = example();
    let run = fixture.strata(&["build", "--date", "2026-11-20"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(" ERROR=0 SKIP=0 "), "{}", run.stdout);
    use crate::run::scalar;
    assert_eq!(scalar(&fixture, "select count(*) from main.raw_events"), "2937");
    assert_eq!(scalar(&fixture, "select count(*) from main_marketing.userid_mapped_logs"), "164");
    assert_eq!(scalar(&fixture, "select daily_active_users from main_product.dau"), "20");
    assert_eq!(scalar(&fixture, "select count(*) from main_marketing.mkt_spend"), "5");
    assert_eq!(scalar(&fixture, "select round(sum(cost), 2) from main_marketing.utm_spend_full_joined"), "698.32");
    assert_eq!(scalar(&fixture, "select count(*) from main_marketing.user_signed_up_utm"), "9");
    assert_eq!(scalar(&fixture, "select count(*) from main_marketing.utm_orders_status_final"), "243");
    assert_eq!(scalar(&fixture, "select sum(orders) from main_marketing.utm_orders_status_final_1d"), "7");
    // UTM tags arrive as `Google`/`CPC` and leave normalised.
    assert_eq!(scalar(&fixture, "select count(*) from main_marketing.mkt_spend where utm_source <> lower(utm_source)"), "0");
    // The data scientists' delivery: the day's DAU as a spreadsheet.
    assert!(run.stdout.contains("OK    delivered dau to deliveries/dau_20261120.xlsx  1 row"), "{}", run.stdout);
    use calamine::{Data, Reader};
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(fixture.path().join("deliveries/dau_20261120.xlsx")).expect("the delivery");
    let rows: Vec<Vec<Data>> = workbook.worksheet_range("dau").expect("its sheet").rows().map(<[Data]>::to_vec).collect();
    assert_eq!(rows[0], [Data::String("event_date".into()), Data::String("daily_active_users".into())]);
    assert_eq!(rows[1][1], Data::Float(20.0));
    assert!(matches!(&rows[1][0], Data::DateTime(day) if day.as_datetime().is_some_and(|d| d.date().to_string() == "2026-11-20")), "{:?}", rows[1]);
}

/// The pipeline backfilled from an empty database, as a first deploy would.
#[test]
fn the_pipeline_backfills_a_week() {
    let fixture = example();
    let run = fixture.strata(&["build", "--start", "2026-11-14", "--end", "2026-11-20", "--quiet"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    use crate::run::{query, scalar};
    assert_eq!(scalar(&fixture, "select count(distinct report_date) from main_marketing.utm_spend_full_joined"), "7");
    assert_eq!(scalar(&fixture, "select count(*) from main_product.dau"), "7");
    assert_eq!(scalar(&fixture, "select daily_active_users from main_product.dau where event_date = date '2026-11-20'"), "20");
    // Each snapshot model holds one snapshot per date.
    assert_eq!(query(&fixture, "select count(distinct snapshot_date), count(*) from main_marketing.userid_mapped")[0][0], "7");
    let spend: f64 = scalar(&fixture, "select sum(cost) from main_marketing.utm_spend_full_joined").parse().expect("number");
    let raw: f64 =
        scalar(&fixture, "select sum(cost) from main.mkt_ad_spend where spend_date between '2026-11-14' and '2026-11-20'").parse().expect("number");
    assert!((spend - raw).abs() < 0.01, "{spend} vs {raw}");
}

/// Every table and view of the example's database, with its rows as text, in
/// order. The partition log, written in each partition's transaction, counts
/// as one table per table it records, without the times it records.
fn contents(fixture: &Fixture) -> std::collections::BTreeMap<String, String> {
    let relations = crate::run::query(fixture, "select table_schema, table_name from information_schema.tables order by 1, 2");
    let rows = |from: &str| {
        crate::run::scalar(
            fixture,
            &format!("select coalesce(string_agg(cast(t as varchar), chr(10) order by cast(t as varchar)), '') from {from} as t"),
        )
    };
    let mut contents = std::collections::BTreeMap::new();
    for relation in relations {
        let name = format!("\"{}\".\"{}\"", relation[0], relation[1]);
        if relation[1] != "_strata_partitions" {
            contents.insert(name.clone(), rows(&name));
            continue;
        }
        for logged in crate::run::query(fixture, &format!("select distinct schema_name, table_name from {name}")) {
            let slice = format!(
                "(select partition_date, row_count, checksum from {name} where schema_name = '{}' and table_name = '{}')",
                logged[0], logged[1]
            );
            contents.insert(format!("{name} of {}.{}", logged[0], logged[1]), rows(&slice));
        }
    }
    contents
}

// `kill -9` at any moment of a backfill leaves no half-written table: nothing
// staged stays visible, and every table is as it was before the run or as a
// clean build of the dates that finished makes it. The next `build` finishes
// the work without any cleanup: every table then equals a clean build's. The kill points are spread
// over the whole run, from the seeds to the last tests.
#[test]
fn kill_9_at_any_moment_leaves_whole_tables_and_the_next_build_completes() {
    let args = ["build", "--start", "2026-11-19", "--end", "2026-11-20", "--threads", "4"];
    let reference = example();
    crate::run::assert_status(&reference.strata(&args), 0);
    let expected = contents(&reference);
    assert!(expected.len() > 15, "{:?}", expected.keys());

    // Each table as a clean build of the first date alone leaves it.
    let first_date = example();
    crate::run::assert_status(&first_date.strata(&["build", "--date", "2026-11-19", "--threads", "4"]), 0);
    let after_first_date = contents(&first_date);

    let fixture = example();
    for delay_ms in [20, 60, 110, 170, 240, 320, 450] {
        let before = if fixture.path().join("target/dev.duckdb").exists() { contents(&fixture) } else { Default::default() };
        let mut child = crate::strata_command(fixture.path())
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start strata");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        if fixture.path().join("target/dev.duckdb").exists() {
            let staged =
                crate::run::scalar(&fixture, "select count(*) from information_schema.tables where table_name like '%\\_\\_strata\\_%' escape '\\'");
            assert_eq!(staged, "0", "a staging table is visible after kill -9 at {delay_ms} ms");
            // Every table is whole: as it was before this run, or as a clean
            // build of the dates that finished (the first, or both) makes it.
            for (table, rows) in contents(&fixture) {
                let whole = [before.get(&table), after_first_date.get(&table), expected.get(&table)].contains(&Some(&rows));
                assert!(whole, "after kill -9 at {delay_ms} ms, {table} is neither as before nor as a clean build of finished dates:\n{rows}");
            }
        }
    }
    crate::run::assert_status(&fixture.strata(&args), 0);
    assert_eq!(contents(&fixture), expected);
}
