//! Operating the pipeline: the lineage `graph` prints, and the log every
//! invocation leaves (`target/strata.log`, `--log-format json`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::Fixture;
use crate::example::example;

#[test]
fn graph_draws_what_the_full_join_is_built_from() {
    let fixture = example();
    let run = fixture.strata(&["graph", "--select", "+utm_spend_full_joined", "--exclude", "resource_type:test", "--format", "mermaid"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn graph_as_json_names_every_kind_of_node() {
    let fixture = example();
    let run = fixture.strata(&["graph", "--format", "json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let graph: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let node = |id: &str| graph["nodes"].as_array().expect("nodes").iter().find(|n| n["unique_id"] == id).cloned().unwrap_or_else(|| panic!("{id}"));
    let types: BTreeSet<&str> = graph["nodes"].as_array().expect("nodes").iter().filter_map(|n| n["type"].as_str()).collect();
    // Every source of the example is waited for.
    assert_eq!(types, BTreeSet::from(["exposure", "model", "seed", "source_check", "test"]));
    assert_eq!(node("source.analytics.logs.events")["type"], "source_check");
    assert_eq!(node("model.analytics.utm_spend_full_joined")["materialized"], "incremental");
    assert_eq!(node("model.analytics.utm_spend_full_joined")["partition_field"], "report_date");
    assert_eq!(node("exposure.analytics.tableau_utm_spend_full_joined_refresh")["materialized"], "dashboard");
    let edges = graph["edges"].as_array().expect("edges");
    assert!(edges.contains(&serde_json::json!(["model.analytics.mkt_spend", "model.analytics.utm_spend_full_joined"])));
    assert!(
        edges.contains(&serde_json::json!(["model.analytics.utm_spend_full_joined", "exposure.analytics.tableau_utm_spend_full_joined_refresh"]))
    );
}

/// A seed, a model on it with a test, and a model that fails in the warehouse.
pub fn shop() -> Fixture {
    Fixture::new()
        .file("seeds/customers.csv", "id,name\n1,Ada\n2,\"Grace \"\"Amazing\"\" Hopper\"\n")
        .file("models/orders.sql", "{{ config(materialized='table') }}\nselect id, name from {{ ref('customers') }}")
        .file("models/broken.sql", "select missing_column from {{ ref('orders') }}")
        .file("models/schema.yml", "models:\n  - name: orders\n    columns:\n      - name: id\n        data_tests: [not_null]\n")
}

#[test]
fn graph_as_dot_shows_types_and_materializations() {
    let run = shop().strata(&["graph"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn every_invocation_appends_to_the_log() {
    let fixture = shop();
    let build = fixture.strata(&["build", "--date", "2026-11-20"]);
    assert_eq!(build.status, 1, "{}", build.stdout);
    let (results, _) = fixture.results("status");
    let listed = fixture.strata(&["ls", "--select", "no_such_model+"]);
    assert_eq!(listed.status, 0, "{}", listed.stderr);
    let log = fixture.read("target/strata.log");
    let line = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(\d{8}t\d{12})\] (.*)$").expect("regex");
    let mut invocations: Vec<String> = Vec::new();
    let mut texts = Vec::new();
    for text in log.lines() {
        let captures = line.captures(text).unwrap_or_else(|| panic!("a log line without its time and invocation: {text:?}"));
        if invocations.last().is_none_or(|id| id != &captures[1]) {
            invocations.push(captures[1].to_string());
        }
        texts.push(captures[2].to_string());
    }
    assert_eq!(invocations.len(), 2, "{log}");
    assert_eq!(results["metadata"]["invocation_id"], invocations[0].as_str());
    let texts = texts.join("\n");
    assert!(texts.contains(&format!("strata {}: ", env!("CARGO_PKG_VERSION"))), "{texts}");
    assert!(texts.contains(" build --date 2026-11-20\n"), "{texts}");
    assert!(texts.contains("OK    created table main.orders  2 rows"), "{texts}");
    assert!(texts.contains("ERROR model broken"), "{texts}");
    assert!(texts.contains("PASS=3 WARN=0 ERROR=1 SKIP=0 TOTAL=4"), "{texts}");
    assert!(texts.contains("finished with exit status 1 in "), "{texts}");
    assert!(texts.contains(" ls --select no_such_model+\nfinished with exit status 0 in "), "{texts}");
    assert!(!log.contains('\x1b'), "colour codes in the log");
}

/// The events and fields the README's "Logs" section documents.
fn documented_events() -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let readme = std::fs::read_to_string(crate::repo_root().join("README.md")).expect("README");
    let section = readme.split("### Logs").nth(1).expect("a Logs section").split("\n### ").next().unwrap_or_default();
    let names = |text: &str| -> Vec<String> {
        text.split('`').skip(1).step_by(2).filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_')).map(str::to_string).collect()
    };
    let common = section.split("Every event has").nth(1).and_then(|rest| rest.split(", then:").next()).expect("the common fields");
    // What is in brackets describes a field (`level`'s values).
    let common = names(&regex::Regex::new(r"\([^)]*\)").expect("regex").replace_all(common, ""));
    let mut events = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').collect();
        let fields: Vec<String> = names(cells[2].split(" (a count").next().unwrap_or_default());
        events.insert(names(cells[1])[0].clone(), fields);
    }
    (common, events)
}

#[test]
fn json_log_events_carry_the_fields_the_readme_documents() {
    let (common, documented) = documented_events();
    assert_eq!(common, ["ts", "event", "level", "invocation_id"]);
    assert_eq!(documented.len(), 4, "{documented:?}");
    let fixture = shop();
    let run = fixture.strata(&["build", "--date", "2026-11-20", "--log-format", "json"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    let events: Vec<Value> =
        run.stdout.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line:?}"))).collect();
    let mut seen = BTreeSet::new();
    for event in &events {
        let name = event["event"].as_str().expect("event");
        let fields = documented.get(name).unwrap_or_else(|| panic!("`{name}` is not in the README"));
        let keys: Vec<&str> = event.as_object().expect("object").keys().map(String::as_str).collect();
        let expected: Vec<&str> = common.iter().chain(fields).map(String::as_str).collect();
        assert_eq!(keys, expected, "{event}");
        assert!(["info", "warn", "error"].contains(&event["level"].as_str().expect("level")), "{event}");
        chrono::DateTime::parse_from_rfc3339(event["ts"].as_str().expect("ts")).expect("an RFC 3339 time");
        seen.insert(name);
    }
    assert_eq!(seen.len(), documented.len(), "not every event was seen: {seen:?}");
    let finished =
        |id: &str| events.iter().find(|e| e["event"] == "node_finished" && e["unique_id"] == id).cloned().unwrap_or_else(|| panic!("{id} finished"));
    let orders = finished("model.shop.orders");
    assert_eq!(
        (orders["status"].as_str(), orders["rows"].as_u64(), orders["execution_date"].as_str()),
        (Some("success"), Some(2), Some("2026-11-20"))
    );
    assert_eq!(orders["relation_name"], "\"dev\".\"main\".\"orders\"");
    let broken = finished("model.shop.broken");
    assert_eq!((broken["status"].as_str(), broken["level"].as_str()), (Some("error"), Some("error")));
    assert!(broken["message"].as_str().expect("message").contains("missing_column"), "{broken}");
    let last = events.last().expect("events");
    assert_eq!(last["event"], "invocation_finished");
    assert_eq!(last["exit_status"], 1);
    assert_eq!(last["nodes"], serde_json::json!({"success": 2, "pass": 1, "warn": 0, "fail": 0, "error": 1, "skipped": 0}));
    let ids: BTreeSet<&str> = events.iter().filter_map(|e| e["invocation_id"].as_str()).collect();
    assert_eq!(ids.len(), 1);
    // The human lines went to the log file instead.
    assert!(fixture.read("target/strata.log").contains("ERROR model broken"));
}

/// A webhook receiver on 127.0.0.1 that records every request and answers
/// each with the next status of its script (200 once the script is used up).
struct Webhooks {
    url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<crate::bigquery::Request>>>,
}

impl Webhooks {
    fn start(script: &[u16]) -> Webhooks {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind the webhook receiver");
        let url = format!("http://127.0.0.1:{}", server.server_addr().to_ip().expect("an IP address").port());
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (recorded, mut script) = (received.clone(), Vec::from(script).into_iter());
        std::thread::spawn(move || {
            for mut incoming in server.incoming_requests() {
                recorded.lock().expect("requests").push(crate::bigquery::Request::of(&mut incoming));
                let status = script.next().unwrap_or(200);
                let _ = incoming.respond(tiny_http::Response::from_string("ok").with_status_code(status));
            }
        });
        Webhooks { url, received }
    }

    /// The JSON bodies posted to `path`, in order.
    fn posted(&self, path: &str) -> Vec<Value> {
        let received = self.received.lock().expect("requests");
        received.iter().filter(|r| r.method == "POST" && r.path == path).map(|r| serde_json::from_str(&r.body).expect("a JSON body")).collect()
    }

    fn count(&self) -> usize {
        self.received.lock().expect("requests").len()
    }
}

/// `shop()` with `notifications:` in dbt_project.yml.
fn notified(notifications: &str) -> Fixture {
    shop().file("dbt_project.yml", &format!("{}notifications:\n{notifications}", crate::PROJECT))
}

/// The parts of a payload that change from run to run.
fn steady(payload: &Value) -> String {
    let text = serde_json::to_string_pretty(payload).expect("JSON");
    let text = regex::Regex::new(r"\d{8}t\d{12}").expect("regex").replace_all(&text, "[invocation]");
    let text = regex::Regex::new(r#""duration_s": [0-9.]+"#).expect("regex").replace_all(&text, "\"duration_s\": [duration]");
    let text = regex::Regex::new(r"\d+\.\ds ·").expect("regex").replace_all(&text, "[duration] ·");
    text.into_owned()
}

fn strata_with_webhooks(fixture: &Fixture, webhooks: &Webhooks, args: &[&str]) -> crate::Run {
    crate::Run::from(crate::strata_command(fixture.path()).env("STRATA_TEST_WEBHOOKS", &webhooks.url).args(args).output().expect("run strata"))
}

#[test]
fn a_failed_build_posts_once_to_each_webhook_retrying_a_5xx() {
    let webhooks = Webhooks::start(&[503]);
    let fixture = notified(
        "  - {url: \"{{ env_var('STRATA_TEST_WEBHOOKS') }}/slack/T0/B0/secret\", on: [failure], format: slack}\n\
         \x20 - {url: \"{{ env_var('STRATA_TEST_WEBHOOKS') }}/json\", on: [failure, warn, success]}\n\
         \x20 - {url: \"{{ env_var('STRATA_TEST_WEBHOOKS') }}/only-seeds\", select: \"resource_type:seed\"}\n",
    );
    let run = strata_with_webhooks(&fixture, &webhooks, &["build", "--date", "2026-11-20"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert_eq!(run.stderr, "", "a delivered notification says nothing");
    // The Slack webhook answered 503 once and got the message again.
    let slack = webhooks.posted("/slack/T0/B0/secret");
    assert_eq!(slack.len(), 2);
    assert_eq!(slack[0], slack[1]);
    insta::assert_snapshot!("failure_slack", steady(&slack[0]));
    let json = webhooks.posted("/json");
    assert_eq!(json.len(), 1);
    insta::assert_snapshot!("failure_json", steady(&json[0]));
    // The seed loaded: a webhook about seeds only has nothing to say of a failure elsewhere.
    assert!(webhooks.posted("/only-seeds").is_empty());
    assert_eq!(webhooks.count(), 3);
}

#[test]
fn warned_and_successful_runs_notify_who_asked() {
    let webhooks = Webhooks::start(&[]);
    let fixture = notified(
        "  - {url: \"{{ env_var('STRATA_TEST_WEBHOOKS') }}/failures\"}\n\
         \x20 - {url: \"{{ env_var('STRATA_TEST_WEBHOOKS') }}/all\", on: [warn, success]}\n",
    )
    .file("models/broken.sql", "select 1 as id")
    .file(
        "models/schema.yml",
        "models:\n  - name: orders\n    columns:\n      - name: name\n        data_tests:\n          - accepted_values: {values: [Ada], config: {severity: warn}}\n",
    );
    let run = strata_with_webhooks(&fixture, &webhooks, &["build", "--date", "2026-11-20"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let run = strata_with_webhooks(&fixture, &webhooks, &["run", "--select", "orders", "--date", "2026-11-20"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(webhooks.posted("/failures").is_empty());
    let all = webhooks.posted("/all");
    assert_eq!(all.len(), 2);
    insta::assert_snapshot!("warn_json", steady(&all[0]));
    assert_eq!((all[1]["status"].as_str(), all[1]["command"].as_str()), (Some("success"), Some("run")));
    assert_eq!(all[1]["summary"], "strata run succeeded for 2026-11-20 in shop (target dev): 1 node");
    assert_eq!((all[1]["nodes"].as_array().map(Vec::len), &all[1]["retry"]), (Some(0), &Value::Null));
}

#[test]
fn an_undeliverable_notification_is_a_warning_and_the_exit_status_stands() {
    // A port nothing listens on: a privileged one, which no test's server
    // can be given (a port `bind(0)` released could be).
    let url = "http://127.0.0.1:1".to_string();
    let fixture =
        notified(&format!("  - {{url: \"{url}/hooks/secret-token\", on: [failure, success]}}\n")).file("models/broken.sql", "select 1 as id");
    let run = fixture.strata(&["run", "--date", "2026-11-20", "--select", "broken"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stderr, format!("warning: could not send the success notification to {url}: could not connect after 3 attempts\n"));
    assert!(!fixture.read("target/strata.log").contains("secret-token"));
}

#[test]
fn a_source_whose_data_did_not_arrive_alerts() {
    let webhooks = Webhooks::start(&[]);
    let fixture = notified("  - {url: \"{{ env_var('STRATA_TEST_WEBHOOKS') }}/alerts\", format: slack}\n")
        .file(
            "models/sources.yml",
            "sources:\n  - name: raw\n    schema: main\n    tables:\n      - name: events\n        wait_for: {partition: event_date, timeout: 0s}\n",
        )
        .file("models/daily.sql", "select event_date from {{ source('raw', 'events') }} where event_date = '{{ ds }}'")
        .file("models/broken.sql", "select 1 as id");
    let run = strata_with_webhooks(&fixture, &webhooks, &["run", "--select", "daily", "--date", "2026-11-20"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    let alerts = webhooks.posted("/alerts");
    assert_eq!(alerts.len(), 1);
    insta::assert_snapshot!("late_source_slack", steady(&alerts[0]));
}

#[test]
fn a_wrong_notification_is_an_error_at_its_line() {
    let fixture = notified("  - url: https://hooks.example.com/x\n    on: [sometimes]\n");
    let run = fixture.strata(&["compile"]);
    assert_eq!(run.status, 2);
    insta::assert_snapshot!(run.stderr);
    // A selector that cannot select is found before anything runs, at its line.
    let fixture = notified("  - url: https://hooks.example.com/x\n    select: \"path:models/[a\"\n");
    let run = fixture.strata(&["run"]);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert!(run.stderr.contains("invalid selector `path:models/[a`") && run.stderr.contains("--> dbt_project.yml:6:5"), "{}", run.stderr);
}

/// A table with a column of each kind a delivery must keep: whole and
/// decimal numbers, dates, times, booleans, NULL apart from empty text, and
/// text that needs quoting in CSV. `daily` is partitioned by date.
fn typed() -> Fixture {
    Fixture::new()
        .file(
            "models/typed.sql",
            "{{ config(materialized='table') }}\n\
             select * from (values\n\
             (1, 12.50::decimal(10,2), 0.25::double, date '2026-11-20', timestamp '2026-11-20 13:45:30', true, 'plain'),\n\
             (2, -3.00::decimal(10,2), 1e10::double, date '1999-12-31', timestamp '1999-12-31 23:59:59', false, 'comma, \"quote\"\nand line'),\n\
             (3, null, null, null, null, null, ''),\n\
             (4, 0.01::decimal(10,2), -0.5::double, date '2026-01-01', timestamp '2026-01-01 00:00:00', true, null)\n\
             ) as t(id, amount, ratio, day, seen_at, active, note)",
        )
        .file(
            "models/daily.sql",
            "{{ config(materialized='incremental', partition_by={'field': 'event_date', 'data_type': 'date'}) }}\n\
             select date '{{ ds }}' as event_date, {{ ds_nodash }} as users",
        )
}

#[test]
fn export_writes_csv_as_rfc_4180_has_it() {
    let fixture = typed();
    assert_eq!(fixture.strata(&["run", "--select", "typed", "--date", "2026-11-20"]).status, 0);
    let run = fixture.strata(&["export", "--select", "typed", "--output", "out/typed.csv"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "Exported 4 rows of `typed` to out/typed.csv (csv)\n");
    let csv = fixture.read("out/typed.csv");
    assert_eq!(
        csv,
        "id,amount,ratio,day,seen_at,active,note\r\n\
         1,12.50,0.25,2026-11-20,2026-11-20 13:45:30,true,plain\r\n\
         2,-3.00,10000000000,1999-12-31,1999-12-31 23:59:59,false,\"comma, \"\"quote\"\"\nand line\"\r\n\
         3,,,,,,\r\n\
         4,0.01,-0.5,2026-01-01,2026-01-01 00:00:00,true,\r\n"
    );
    // No temporary file is left beside it.
    let names: Vec<String> =
        std::fs::read_dir(fixture.path().join("out")).expect("out").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["typed.csv"]);
}

#[test]
fn export_writes_xlsx_with_typed_cells() {
    use calamine::{Data, Reader};
    let fixture = typed();
    assert_eq!(fixture.strata(&["run", "--select", "typed", "--date", "2026-11-20"]).status, 0);
    let run = fixture.strata(&["export", "--select", "typed", "--output", "typed.xlsx"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(fixture.path().join("typed.xlsx")).expect("an xlsx file");
    assert_eq!(workbook.sheet_names(), ["typed"]);
    let range = workbook.worksheet_range("typed").expect("the sheet");
    let rows: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(rows.len(), 5);
    let header: Vec<String> = rows[0].iter().map(ToString::to_string).collect();
    assert_eq!(header, ["id", "amount", "ratio", "day", "seen_at", "active", "note"]);
    assert_eq!(rows[1][0], Data::Float(1.0));
    assert_eq!(rows[1][1], Data::Float(12.5));
    assert_eq!(rows[2][2], Data::Float(1e10));
    let date = |cell: &Data| match cell {
        Data::DateTime(value) => value.as_datetime().map(|t| t.to_string()),
        other => panic!("not a date cell: {other:?}"),
    };
    assert_eq!(date(&rows[1][3]).as_deref(), Some("2026-11-20 00:00:00"));
    assert_eq!(date(&rows[1][4]).as_deref(), Some("2026-11-20 13:45:30"));
    assert_eq!(date(&rows[2][3]).as_deref(), Some("1999-12-31 00:00:00"));
    assert_eq!((&rows[1][5], &rows[2][5]), (&Data::Bool(true), &Data::Bool(false)));
    assert_eq!(rows[2][6], Data::String("comma, \"quote\"\nand line".into()));
    // NULLs are empty cells.
    assert!(rows[3][1..6].iter().all(|cell| *cell == Data::Empty), "{:?}", rows[3]);
}

#[test]
fn export_writes_parquet_with_the_table_s_types_and_rows() {
    let fixture = typed();
    assert_eq!(fixture.strata(&["run", "--select", "typed", "--date", "2026-11-20"]).status, 0);
    let run = fixture.strata(&["export", "--select", "typed", "--output", "typed.parquet"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let parquet = fixture.path().join("typed.parquet").to_string_lossy().into_owned();
    use crate::run::{query, scalar};
    let types = |from: &str| query(&fixture, &format!("select column_name, column_type from (describe select * from {from})"));
    assert_eq!(types(&format!("read_parquet('{parquet}')")), types("main.typed"));
    for (a, b) in [(format!("read_parquet('{parquet}')"), "main.typed".to_string()), ("main.typed".to_string(), format!("read_parquet('{parquet}')"))]
    {
        assert_eq!(scalar(&fixture, &format!("select count(*) from (select * from {a} except all select * from {b})")), "0");
    }
    // NULL stays apart from the empty text.
    assert_eq!(scalar(&fixture, &format!("select count(*) from read_parquet('{parquet}') where note = ''")), "1");
    assert_eq!(scalar(&fixture, &format!("select count(*) from read_parquet('{parquet}') where note is null")), "1");
}

#[test]
fn export_of_a_partitioned_model_takes_the_partitions_of_the_dates() {
    let fixture = typed();
    let run = fixture.strata(&["run", "--select", "daily", "--start", "2026-11-18", "--end", "2026-11-21", "--quiet"]);
    assert_eq!(run.status, 0, "{}", run.stdout);
    let run = fixture.strata(&["export", "--select", "daily", "--start", "2026-11-19", "--end", "2026-11-20", "--output", "daily.csv"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "Exported 2 rows of `daily` for 2026-11-19 to 2026-11-20 to daily.csv (csv)\n");
    assert_eq!(fixture.read("daily.csv"), "event_date,users\r\n2026-11-19,20261119\r\n2026-11-20,20261120\r\n");
    let run = fixture.strata(&["export", "--select", "daily", "--date", "2026-11-21", "--output", "daily.csv"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(fixture.read("daily.csv"), "event_date,users\r\n2026-11-21,20261121\r\n");
}

#[test]
fn export_errors_say_what_to_do() {
    let fixture = typed();
    let cases: [&[&str]; 3] = [
        &["export", "--select", "typed", "--output", "typed.txt"],
        &["export", "--select", "nothing_like_it", "--output", "x.csv"],
        &["export", "--select", "typed", "--output", "x.csv"],
    ];
    let mut text = String::new();
    for args in cases {
        let run = fixture.strata(args);
        assert_eq!(run.status, 2, "{args:?}: {}", run.stderr);
        text.push_str(&format!("$ strata {}\n{}\n", args.join(" "), run.stderr));
    }
    insta::assert_snapshot!(text);
    assert!(!fixture.path().join("x.csv").exists());
}

#[test]
fn a_delivery_exposure_writes_its_file_after_the_model_for_each_date() {
    let fixture = typed().file(
        "models/exposures.yml",
        "exposures:\n  - name: daily_to_science\n    type: delivery\n    owner: {name: Science}\n    depends_on: [\"ref('daily')\"]\n    \
             export: {format: csv, path: \"deliveries/daily_{{ ds_nodash }}.csv\"}\n  \
             - name: typed_to_a_table\n    type: application\n    owner: {name: Science}\n    depends_on: [\"ref('typed')\"]\n    \
             export: {format: table, relation: \"science.typed_{{ ds_nodash }}\"}\n",
    );
    let run = fixture.strata(&["build", "--date", "2026-11-20"]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("OK    delivered daily to deliveries/daily_20261120.csv  1 row"), "{}", run.stdout);
    assert!(run.stdout.contains("OK    delivered typed to table science.typed_20261120  4 rows"), "{}", run.stdout);
    assert_eq!(fixture.read("deliveries/daily_20261120.csv"), "event_date,users\r\n2026-11-20,20261120\r\n");
    use crate::run::scalar;
    assert_eq!(scalar(&fixture, "select count(*) from (select * from science.typed_20261120 except all select * from main.typed)"), "0");
    // A failed model delivers nothing.
    let fixture = fixture.file("models/daily.sql", "select 1 as event_date from no_such_table");
    let run = fixture.strata(&["build", "--date", "2026-11-21", "--select", "daily+"]);
    assert_eq!(run.status, 1);
    assert!(run.stdout.contains("SKIP  exposure daily_to_science  (skipped because model `daily` failed)"), "{}", run.stdout);
    assert!(!fixture.path().join("deliveries/daily_20261121.csv").exists());
}

#[test]
fn a_wrong_export_is_an_error_at_its_line() {
    let fixture = typed().file(
        "models/exposures.yml",
        "exposures:\n  - name: daily_to_science\n    type: delivery\n    owner: {name: Science}\n    depends_on: [\"ref('daily')\"]\n    export: {format: pdf, path: x.pdf}\n",
    );
    let run = fixture.strata(&["compile"]);
    assert_eq!(run.status, 2);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn a_delivery_into_another_target_loads_the_rows_there() {
    let fixture = typed()
        .file(
            "profiles.yml",
            &format!(
                "{}    share:\n      type: duckdb\n      path: target/share.duckdb\n      schema: main\n",
                crate::PROFILES.trim_end_matches('\n').to_string() + "\n"
            ),
        )
        .file("models/exposures.yml", &format!("exposures:\n{}", crate::table_delivery("typed_to_science", "typed", "share", "science.typed")));
    let run = fixture.strata(&["build", "--date", "2026-11-20"]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("OK    delivered typed to table science.typed of target share  4 rows"), "{}", run.stdout);
    let share = duckdb::Connection::open(fixture.path().join("target/share.duckdb")).expect("the other database");
    let text: String = share
        .query_row("select string_agg(coalesce(cast(id as varchar), '-') || ':' || coalesce(cast(amount as varchar), '-') || ':' || coalesce(cast(day as varchar), '-'), ',' order by id) from science.typed", [], |row| row.get(0))
        .expect("rows");
    assert_eq!(text, "1:12.50:2026-11-20,2:-3.00:1999-12-31,3:-:-,4:0.01:2026-01-01");
    let types: String = share.query_row("select string_agg(column_type, ',') from (describe science.typed)", [], |row| row.get(0)).expect("types");
    assert_eq!(types, "INTEGER,DECIMAL(10,2),DOUBLE,DATE,TIMESTAMP,BOOLEAN,VARCHAR");
}
