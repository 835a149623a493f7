//! BigQuery, tested against a real BigQuery REST emulator (PyPI `bqemulator`,
//! DuckDB underneath, SQLGlot for the dialect) that each test starts on
//! 127.0.0.1. The emulator is installed once into a virtual environment in
//! `~/.cache/strata/bq-venv` (`STRATA_BQ_VENV` overrides it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::example::example;
use crate::run::assert_status;
use crate::{Fixture, repo_root, table_delivery};

const EMULATOR_VERSION: &str = "bqemulator==1.4.0";

/// The virtual environment's Python, with the emulator installed (once per machine).
fn emulator_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = std::env::var_os("STRATA_BQ_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/strata/bq-venv"));
        let python = venv.join("bin/python");
        let installed =
            |python: &Path| Command::new(python).args(["-c", "import bqemulator, numpy"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
        if !installed(&python) {
            let succeeds = |command: &mut Command| command.stderr(Stdio::null()).status().is_ok_and(|s| s.success());
            // bqemulator uses numpy without declaring it.
            let packages = ["install", "--quiet", EMULATOR_VERSION, "numpy"];
            let with_pip =
                succeeds(Command::new("python3").args(["-m", "venv"]).arg(&venv)) && succeeds(Command::new(&python).args(["-m", "pip", "--version"]));
            let pip = if with_pip {
                Command::new(&python).args(["-m", "pip"]).args(packages).status()
            } else {
                // A Python without ensurepip (Debian's without python3-venv):
                // a venv without pip, filled by the system's pip.
                assert!(
                    succeeds(Command::new("python3").args(["-m", "venv", "--clear", "--without-pip"]).arg(&venv)),
                    "the BigQuery tests need Python 3 (with pip) to install the emulator into {}",
                    venv.display()
                );
                Command::new("python3").args(["-m", "pip", "--python"]).arg(&python).args(packages).status()
            };
            assert!(pip.is_ok_and(|s| s.success()), "could not install {EMULATOR_VERSION} into {} with pip", venv.display());
            assert!(installed(&python), "{EMULATOR_VERSION} installed but does not import");
        }
        python
    })
}

/// A port for an emulator, below the kernel's ephemeral range: a port
/// `bind(0)` gave and released could be handed by the kernel to another
/// test's server (a proxy, a token endpoint) before the emulator binds it,
/// and that server would then answer this emulator's requests. Ports are
/// taken in turn, each checked free.
fn emulator_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const FIRST: u16 = 20_000;
    const LAST: u16 = 32_000;
    static NEXT: OnceLock<AtomicU16> = OnceLock::new();
    let next = NEXT.get_or_init(|| AtomicU16::new(FIRST + (std::process::id() % 6_000) as u16));
    loop {
        let port = next.fetch_add(1, Ordering::Relaxed);
        if !(FIRST..LAST).contains(&port) {
            next.store(FIRST, Ordering::Relaxed);
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A running emulator; stopped when dropped.
pub struct Emulator {
    child: Child,
    pub port: u16,
    pub project: String,
}

impl Emulator {
    pub fn start(project: &str) -> Emulator {
        let python = emulator_python();
        // An emulator that exits (its port taken meanwhile) is started again on another.
        for _ in 0..3 {
            let port = emulator_port();
            let child = Command::new(python)
                .arg(repo_root().join("tests/emulator/launch.py"))
                .args([
                    "start",
                    "--ephemeral",
                    "--rest-host",
                    "127.0.0.1",
                    "--rest-port",
                    &port.to_string(),
                    "--grpc-port",
                    "0",
                    "--project",
                    project,
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start the BigQuery emulator");
            let mut emulator = Emulator { child, port, project: project.to_string() };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(90) {
                if http(port, "GET", "/healthz", None).is_some_and(|(status, _)| status == 200) {
                    return emulator;
                }
                if emulator.child.try_wait().is_ok_and(|status| status.is_some()) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            if started.elapsed() >= Duration::from_secs(90) {
                panic!("the BigQuery emulator did not answer /healthz on port {port} within 90 s");
            }
        }
        panic!("the BigQuery emulator exited at start three times");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/bigquery/v2", self.port)
    }

    /// A query's rows, each cell as text (NULL as `NULL`), through the REST API.
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        let body = json!({"query": sql, "useLegacySql": false, "timeoutMs": 60000});
        let (status, response) =
            http(self.port, "POST", &format!("/bigquery/v2/projects/{}/queries", self.project), Some(&body)).expect("query the emulator");
        assert_eq!(status, 200, "{sql}\n{response}");
        assert!(response.get("errors").is_none_or(|e| e.as_array().is_none_or(Vec::is_empty)), "{sql}\n{response}");
        response["rows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| row["f"].as_array().expect("cells").iter().map(|cell| cell["v"].as_str().unwrap_or("NULL").to_string()).collect())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A REST resource of the emulator's project (`datasets/d/tables/t`).
    pub fn get(&self, path: &str) -> Json {
        let (status, response) = http(self.port, "GET", &format!("/bigquery/v2/projects/{}/{path}", self.project), None).expect("GET");
        assert_eq!(status, 200, "{path}: {response}");
        response
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request to the emulator (reqwest, as strata itself speaks HTTP); the
/// status and the JSON answer, or none when nothing answered.
fn http(port: u16, method: &str, path: &str, body: Option<&Json>) -> Option<(u16, Json)> {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build().ok()?;
    let method = reqwest::Method::from_bytes(method.as_bytes()).ok()?;
    let mut request = client.request(method, format!("http://127.0.0.1:{port}{path}"));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().ok()?;
    let status = response.status().as_u16();
    let text = response.text().ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Json::String(text))))
}

/// A `profiles.yml` whose `prod` target is the emulator, with extra target fields.
fn emulator_profiles(profile: &str, endpoint: &str, project: &str, extra: &str) -> String {
    format!(
        "{profile}:\n  target: prod\n  outputs:\n    prod:\n      type: bigquery\n      \
         api_endpoint: {endpoint}\n      project: {project}\n      dataset: analytics\n      location: US\n      threads: 4\n{extra}"
    )
}

/// The example project pointed at `endpoint`.
pub(crate) fn example_on(endpoint: &str, project: &str) -> Fixture {
    example().file("profiles.yml", &emulator_profiles("analytics", endpoint, project, ""))
}

/// Every table the example builds, with its rows as sorted text.
const EXAMPLE_TABLES: [&str; 9] = [
    "analytics_marketing.userid_mapped_logs",
    "analytics_marketing.mkt_spend",
    "analytics_marketing.utm_spend_full_joined",
    "analytics_marketing.user_signed_up_utm",
    "analytics_marketing.utm_orders_status_final",
    "analytics_marketing.utm_orders_status_final_1d",
    "analytics_marketing.users_first_visit",
    "analytics_marketing.userid_mapped",
    "analytics_product.dau",
];

#[test]
fn the_example_builds_on_bigquery_for_two_dates_with_the_rows_duckdb_builds() {
    let emulator = Emulator::start("analytics-test");
    let fixture = example_on(&emulator.endpoint(), &emulator.project);
    // A backfill of two dates, as a first deploy would run it.
    let run = fixture.strata(&["build", "--start", "2026-11-19", "--end", "2026-11-20"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    for date in ["2026-11-19", "2026-11-20"] {
        assert!(run.stdout.contains(&format!("{date}: PASS=")), "{}", run.stdout);
    }
    assert!(run.stdout.contains(" ERROR=0 SKIP=0 "), "{}", run.stdout);
    // Rows of created tables, as their tables say (BigQuery counts rows only for DML).
    assert!(run.stdout.contains("OK    loaded seed analytics.raw_events  2,937 rows  "), "{}", run.stdout);
    assert!(run.stdout.contains("2026-11-20 OK    created partition analytics_marketing.userid_mapped_logs$20261120  164 rows  "), "{}", run.stdout);
    let duckdb = example();
    let run = duckdb.strata(&["build", "--start", "2026-11-19", "--end", "2026-11-20", "--quiet"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    // Custom schemas became datasets in the profile's location.
    assert_eq!(emulator.get("datasets/analytics_marketing")["location"], "US");
    // `show` reads the same rows back from either warehouse.
    let show = |fixture: &Fixture| {
        let run = fixture.strata(&["show", "--select", "dau", "--date", "2026-11-20", "--output", "json"]);
        assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
        let rows: Json = serde_json::from_str(&run.stdout).unwrap_or_else(|err| panic!("{err}: {}", run.stdout));
        rows
    };
    assert_eq!(show(&fixture), show(&duckdb));
    assert_types_bigquery_accepts(&emulator, &fixture);
    for table in EXAMPLE_TABLES {
        let (schema, name) = table.split_once('.').expect("schema.table");
        let duck_schema = schema.replacen("analytics", "main", 1);
        let columns = crate::run::query(
            &duckdb,
            &format!(
                "select column_name from information_schema.columns where table_schema = '{duck_schema}' and table_name = '{name}' order by ordinal_position"
            ),
        );
        let columns: Vec<String> = columns.into_iter().map(|row| row[0].clone()).collect();
        let as_text = |quote: char, cast: &str| {
            columns.iter().map(|c| format!("coalesce(cast({quote}{c}{quote} as {cast}), 'NULL')")).collect::<Vec<_>>().join(", ")
        };
        let mut on_bigquery = emulator.query(&format!("select {} from `{}.{schema}.{name}`", as_text('`', "string"), emulator.project));
        let mut on_duckdb = crate::run::query(&duckdb, &format!("select {} from \"{duck_schema}\".\"{name}\"", as_text('"', "varchar")));
        for rows in [&mut on_bigquery, &mut on_duckdb] {
            for row in rows.iter_mut() {
                for cell in row.iter_mut() {
                    *cell = normalise(cell);
                }
            }
            rows.sort();
        }
        assert!(!on_duckdb.is_empty(), "{table} is empty on DuckDB");
        assert_eq!(on_bigquery, on_duckdb, "{table}: rows differ between BigQuery and DuckDB");
    }
}

/// Every table of the emulator's project: project → dataset → table → column → type.
fn emulator_schemas(emulator: &Emulator) -> Json {
    let mut datasets = serde_json::Map::new();
    for dataset in emulator.get("datasets")["datasets"].as_array().into_iter().flatten() {
        let dataset = dataset["datasetReference"]["datasetId"].as_str().expect("dataset id");
        let mut tables = serde_json::Map::new();
        for table in emulator.get(&format!("datasets/{dataset}/tables"))["tables"].as_array().into_iter().flatten() {
            let table = table["tableReference"]["tableId"].as_str().expect("table id");
            let fields = emulator.get(&format!("datasets/{dataset}/tables/{table}"))["schema"]["fields"].clone();
            let columns: serde_json::Map<String, Json> = fields
                .as_array()
                .into_iter()
                .flatten()
                .map(|field| (field["name"].as_str().unwrap_or_default().to_string(), field["type"].clone()))
                .collect();
            tables.insert(table.to_string(), Json::Object(columns));
        }
        datasets.insert(dataset.to_string(), Json::Object(tables));
    }
    json!({ emulator.project.clone(): datasets })
}

/// The emulator runs on DuckDB and compares a TIMESTAMP with a DATETIME that
/// BigQuery refuses: every statement compiled in `fixture` is typed with
/// SQLGlot against the tables' schemas, and no comparison, join or set
/// operation may mix types BigQuery does not coerce.
fn assert_types_bigquery_accepts(emulator: &Emulator, fixture: &Fixture) {
    let schema = fixture.path().join("target/schemas.json");
    std::fs::write(&schema, emulator_schemas(emulator).to_string()).expect("write the schemas");
    let compiled = walkdir_files(&fixture.path().join("target/compiled"));
    assert!(compiled.len() > 10, "{} compiled files", compiled.len());
    let output = Command::new(emulator_python())
        .arg(repo_root().join("tests/emulator/check_types.py"))
        .arg(&schema)
        .args(&compiled)
        .output()
        .expect("run check_types.py");
    let shown = String::from_utf8_lossy(&output.stdout).replace(&format!("{}/", fixture.path().display()), "");
    assert!(output.status.success(), "SQL that BigQuery refuses:\n{shown}{}", String::from_utf8_lossy(&output.stderr));
}

/// Every statement strata generates for BigQuery (the plans of each
/// strategy over tables partitioned by a DATE, a DATETIME and a TIMESTAMP
/// column at each granularity, with columns of every type; schema changes,
/// partition status, the partition log) typed with SQLGlot against the
/// tables' schemas: no comparison, join or set operation may mix types
/// BigQuery does not coerce. A statement SQLGlot cannot type is listed here
/// with the reason, never skipped silently.
#[test]
fn every_statement_strata_generates_for_bigquery_types() {
    // What SQLGlot cannot type, by the title of what sends it, and why.
    const UNTYPED: &[(&str, &str)] =
        &[(": merge by unique_key", "SQLGlot resolves no column of a DELETE's alias (`dbt_internal_dest`) inside its correlated `exists` subquery")];
    let review = strata::sql::review::statements(&strata::warehouse::bigquery::sql::BigQuerySql, Some("p"), "d");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tables = serde_json::Map::new();
    for (relation, columns) in &review.tables {
        let columns: serde_json::Map<String, Json> = columns.iter().map(|c| (c.name.clone(), Json::String(c.data_type.clone()))).collect();
        tables.insert(relation.identifier.clone(), Json::Object(columns));
    }
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, json!({"p": {"d": tables}}).to_string()).expect("schema");
    let mut files = Vec::new();
    for (index, statement) in review.statements.iter().enumerate() {
        let path = dir.path().join(format!("{index:04}.sql"));
        std::fs::write(&path, &statement.sql).expect("statement");
        files.push(path);
    }
    let output = Command::new(emulator_python())
        .arg(repo_root().join("tests/emulator/check_types.py"))
        .arg(&schema)
        .args(&files)
        .output()
        .expect("run check_types.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut refused = Vec::new();
    let mut untyped = Vec::new();
    for line in stdout.lines() {
        let (path, problem) = line.split_once(": ").unwrap_or((line, ""));
        let index: usize = Path::new(path).file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse().ok()).unwrap_or(usize::MAX);
        let title = review.statements.get(index).map_or("", |s| s.title.as_str());
        let statement = review.statements.get(index).map_or_else(|| path.to_string(), |s| format!("{}\n{}", s.title, s.sql));
        match problem.starts_with("could not") {
            true if UNTYPED.iter().any(|(listed, _)| title.ends_with(listed)) => {}
            true => untyped.push(format!("{problem}\n{statement}")),
            false => refused.push(format!("{problem}\n{statement}")),
        }
    }
    assert!(refused.is_empty(), "SQL that BigQuery refuses:\n{}", refused.join("\n\n"));
    assert!(untyped.is_empty(), "statements SQLGlot cannot type, not listed in UNTYPED:\n{}", untyped.join("\n\n"));
    assert!(review.statements.len() > 100, "{} statements", review.statements.len());
}

/// A number as both warehouses print it: `1.0` and `1`, `0.30000000000000004` and `0.3`.
fn normalise(cell: &str) -> String {
    match cell.parse::<f64>() {
        Ok(number) if cell.contains('.') || cell.contains('e') => format!("{:.6}", number).trim_end_matches('0').trim_end_matches('.').to_string(),
        _ => cell.replace('T', " ").trim_end_matches("+00").to_string(),
    }
}

/// `fixture` (a `shop` project) built into the emulator, with extra target fields.
pub(crate) fn shop_on(fixture: Fixture, emulator: &Emulator, extra: &str) -> Fixture {
    fixture.file("profiles.yml", &emulator_profiles("shop", &emulator.endpoint(), &emulator.project, extra))
}

fn daily(emulator: &Emulator) -> Vec<Vec<String>> {
    emulator.query(&format!("select cast(event_date as string), events from `{}.analytics.daily` order by 1", emulator.project))
}

fn rows(rows: &[[&str; 2]]) -> Vec<Vec<String>> {
    rows.iter().map(|row| row.iter().map(|cell| cell.to_string()).collect()).collect()
}

// The partition of the date is replaced, and only it: running a date again
// changes nothing, and a model whose rows fall outside the date writes nothing.
#[test]
fn partitions_on_bigquery_are_replaced_idempotently_and_rows_outside_the_date_are_refused() {
    let emulator = Emulator::start("shop-test");
    let fixture = shop_on(crate::dates::events(), &emulator, "");
    for args in [&["seed"][..], &["run", "--date", "2026-11-03"], &["run", "--date", "2026-11-04"]] {
        let run = fixture.strata(args);
        assert_eq!(run.status, 0, "{args:?}\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    }
    let first = daily(&emulator);
    assert_eq!(first, rows(&[["2026-11-03", "3"], ["2026-11-04", "4"]]));
    let again = fixture.strata(&["run", "--date", "2026-11-04", "--select", "daily"]);
    assert_eq!(again.status, 0, "{}", again.stdout);
    assert!(again.stdout.contains("OK    created partition analytics.daily$20261104"), "{}", again.stdout);
    assert!(again.stdout.contains(" processed  "), "the line shows the bytes the job processed:\n{}", again.stdout);
    assert_eq!(daily(&emulator), first);

    // The table is partitioned by its date column, as BigQuery's tables API says.
    let table = emulator.get("datasets/analytics/tables/daily");
    assert_eq!(table["timePartitioning"]["field"], "event_date", "{table}");
    assert_eq!(table["timePartitioning"]["type"], "DAY", "{table}");

    let fixture = fixture.file(
        "models/daily.sql",
        "{{ config(materialized='incremental', partition_by='event_date') }}\nselect event_date, count(*) as events from {{ ref('events') }} where event_date >= '{{ ds }}' group by 1\n",
    );
    let run = fixture.strata(&["run", "--date", "2026-11-04", "--select", "daily"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(run.stdout.contains("  6 rows have `event_date` outside 2026-11-04 (or NULL), so nothing was written"), "{}", run.stdout);
    assert_eq!(daily(&emulator), first, "the old partition is intact");
}

/// An HTTP request as the fault-injecting proxy saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request line and headers.
    pub head: String,
    pub method: String,
    pub path: String,
    pub body: String,
}

impl Request {
    /// A request a tiny_http server received, read whole.
    pub fn of(incoming: &mut tiny_http::Request) -> Request {
        let (method, path) = (incoming.method().to_string(), incoming.url().to_string());
        let mut head = format!("{method} {path} HTTP/{}\r\n", incoming.http_version());
        for header in incoming.headers() {
            head.push_str(&format!("{}: {}\r\n", header.field, header.value));
        }
        let mut body = String::new();
        let _ = incoming.as_reader().read_to_string(&mut body);
        Request { head, method, path, body }
    }
}

/// What the proxy does with a request.
pub enum Action {
    Forward,
    /// Answers with this status and body instead of BigQuery.
    Answer(u16, String),
    /// Holds the request until a `jobs.cancel` arrives (or 60 s pass), then forwards it.
    HoldUntilCancelled,
    /// Closes the connection without answering: a connection lost mid-call.
    Drop,
    /// Never answers (holds the connection for 5 minutes, then closes it).
    Hang,
    /// Forwards the request with this body instead.
    ForwardBody(String),
    /// Forwards the request, and answers with BigQuery's answer rewritten.
    ForwardRewritten(Box<dyn Fn(&str) -> String + Send>),
}

/// A proxy in front of the emulator that records every request and answers
/// some of them itself (faults), as a rule decides.
pub struct Proxy {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

type Rule = dyn Fn(&Request, &[Request]) -> Action + Send + Sync;

impl Proxy {
    pub fn start(upstream: u16, rule: impl Fn(&Request, &[Request]) -> Action + Send + Sync + 'static) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("addr").port();
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let rule: Arc<Rule> = Arc::new(rule);
        let recorded = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (recorded, rule) = (recorded.clone(), rule.clone());
                std::thread::spawn(move || serve(stream, upstream, &recorded, rule.as_ref()));
            }
        });
        Proxy { port, requests }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/bigquery/v2", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("requests").clone()
    }
}

pub fn read_request(stream: &mut impl Read) -> Option<(String, Request)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length: usize =
        head.lines().find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))).unwrap_or(0);
    while buffer.len() < head_end + length {
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = String::from_utf8_lossy(&buffer[head_end..]).into_owned();
    let mut first = head.lines().next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    Some((head.clone(), Request { head, method, path, body }))
}

fn serve(mut client: TcpStream, upstream: u16, recorded: &Mutex<Vec<Request>>, rule: &Rule) {
    let Some((head, request)) = read_request(&mut client) else { return };
    let action = {
        let mut all = recorded.lock().expect("requests");
        all.push(request.clone());
        rule(&request, &all)
    };
    let bad_gateway = || b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n".to_vec();
    let response = match action {
        Action::Answer(status, body) => {
            let kind = if body.starts_with('{') { "application/json" } else { "text/html" };
            format!("HTTP/1.1 {status} Fault\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
                .into_bytes()
        }
        Action::Drop => return,
        Action::Hang => {
            std::thread::sleep(Duration::from_secs(300));
            return;
        }
        Action::ForwardBody(body) => forward(&head, &Request { body, ..request }, upstream).unwrap_or_else(bad_gateway),
        Action::ForwardRewritten(rewrite) => match forward(&head, &request, upstream) {
            Some(response) => rewrite_body(&response, rewrite.as_ref()),
            None => bad_gateway(),
        },
        Action::Forward | Action::HoldUntilCancelled => {
            if matches!(action, Action::HoldUntilCancelled) {
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(60) && !recorded.lock().expect("requests").iter().any(|r| r.path.contains("/cancel")) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            forward(&head, &request, upstream).unwrap_or_else(bad_gateway)
        }
    };
    let _ = client.write_all(&response);
}

/// An HTTP response (with `Content-Length`) whose body `rewrite` changed.
fn rewrite_body(response: &[u8], rewrite: &dyn Fn(&str) -> String) -> Vec<u8> {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "a chunked answer: {head}");
    let body = rewrite(body);
    let head: String =
        head.lines().filter(|line| !line.to_ascii_lowercase().starts_with("content-length:")).map(|line| format!("{line}\r\n")).collect();
    format!("{head}Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

fn forward(head: &str, request: &Request, upstream: u16) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(("127.0.0.1", upstream)).ok()?;
    let headers: String = head
        .lines()
        .skip(1)
        .filter(|line| {
            let line = line.to_ascii_lowercase();
            !line.is_empty() && !line.starts_with("connection:") && !line.starts_with("content-length:")
        })
        .map(|line| format!("{line}\r\n"))
        .collect();
    let request = format!(
        "{} {} HTTP/1.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        request.method,
        request.path,
        request.body.len(),
        request.body
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    Some(response)
}

/// BigQuery's error body for a status and reason.
fn google_error(code: u16, reason: &str, message: &str) -> String {
    json!({"error": {"code": code, "message": message, "errors": [{"domain": "global", "reason": reason, "message": message}], "status": reason}})
        .to_string()
}

/// A project with one table model, `one`.
fn one_model(emulator: &Emulator, endpoint: &str, extra: &str) -> Fixture {
    Fixture::new()
        .file("models/one.sql", "{{ config(materialized='table') }}\nselect 1 as id\n")
        .file("profiles.yml", &emulator_profiles("shop", endpoint, &emulator.project, extra))
}

/// The statement that builds model `one` of `one_model`.
const BUILDS_ONE: &str = "create or replace table `shop-test`.`analytics`.`one`";

/// A proxy that answers each try (from 1) of the job building model `one`
/// with `action`, and forwards every other request.
fn on_building_one(emulator: &Emulator, action: impl Fn(&Request, usize) -> Action + Send + Sync + 'static) -> Proxy {
    Proxy::start(emulator.port, move |request, seen| match request.method == "POST" && request.body.contains(BUILDS_ONE) {
        true => action(request, inserts_of(seen, BUILDS_ONE).len()),
        false => Action::Forward,
    })
}

fn inserts_of(requests: &[Request], marker: &str) -> Vec<Request> {
    requests.iter().filter(|r| r.method == "POST" && r.path.ends_with("/jobs") && r.body.contains(marker)).cloned().collect()
}

// 500, 429 (with the HTML page a load balancer sends) and rateLimitExceeded
// are sent again with backoff, up to `job_retries`; the job then runs.
#[test]
fn server_errors_and_rate_limits_are_retried_until_the_job_runs() {
    let emulator = Emulator::start("shop-test");
    let proxy = on_building_one(&emulator, |_, tries| match tries {
        1 => Action::Answer(500, google_error(500, "backendError", "Backend error")),
        2 => Action::Answer(429, "<html><body>Too Many Requests</body></html>".into()),
        3 => Action::Answer(403, google_error(403, "rateLimitExceeded", "Exceeded rate limits")),
        _ => Action::Forward,
    });
    let fixture = one_model(&emulator, &proxy.endpoint(), "      job_retries: 3\n      priority: batch\n      maximum_bytes_billed: 1000000\n");
    let run = fixture.strata(&["run"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(emulator.query("select id from `shop-test.analytics.one`"), [["1"]]);
    let inserts = inserts_of(&proxy.requests(), "`analytics`.`one`");
    assert_eq!(inserts.len(), 4, "three faults, then the job: {inserts:#?}");
    // Each try is the same job, labelled for cost attribution.
    let jobs: Vec<Json> = inserts.iter().map(|r| serde_json::from_str(&r.body).expect("job")).collect();
    assert!(jobs.iter().all(|job| job["jobReference"]["jobId"] == jobs[0]["jobReference"]["jobId"]), "{jobs:#?}");
    let labels = &jobs[0]["configuration"]["labels"];
    assert_eq!(labels["strata_model"], "one", "{labels}");
    assert!(labels["strata_execution_date"].as_str().is_some_and(|d| d.len() == 10), "{labels}");
    assert!(labels["strata_invocation_id"].is_string(), "{labels}");
    assert_eq!(jobs[0]["configuration"]["query"]["priority"], "BATCH");
    assert_eq!(jobs[0]["configuration"]["query"]["maximumBytesBilled"], "1000000");
    assert_eq!(jobs[0]["configuration"]["query"]["useLegacySql"], false);
}

// A bare 503 (no body, as a front end sends it) and a 502 page are sent again
// like BigQuery's own errors; the job then runs once.
#[test]
fn a_bare_503_and_a_502_page_are_retried() {
    let emulator = Emulator::start("shop-test");
    let proxy = on_building_one(&emulator, |_, tries| match tries {
        1 => Action::Answer(503, String::new()),
        2 => Action::Answer(502, "<html><body>502 Bad Gateway</body></html>".into()),
        _ => Action::Forward,
    });
    let run = one_model(&emulator, &proxy.endpoint(), "      job_retries: 2\n").strata(&["run"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(inserts_of(&proxy.requests(), BUILDS_ONE).len(), 3);
    assert_eq!(emulator.query("select id from `shop-test.analytics.one`"), [["1"]]);
}

/// A job resource that ended failed with `message`.
fn failed_job(request: &Request, reason: &str, message: &str) -> Action {
    let body: Json = serde_json::from_str(&request.body).unwrap_or_default();
    let error = json!({"reason": reason, "location": "query", "message": message});
    let job =
        json!({"kind": "bigquery#job", "jobReference": body["jobReference"], "status": {"state": "DONE", "errorResult": error, "errors": [error]}});
    Action::Answer(200, job.to_string())
}

// A job failed for the project's rate of jobs, or a transaction BigQuery
// aborts because another run changed the same table, wrote nothing: each is
// sent again, as a new job, and the run's line says so.
#[test]
fn a_transaction_aborted_by_a_concurrent_update_runs_again() {
    let emulator = Emulator::start("shop-test");
    let proxy = on_building_one(&emulator, |request, tries| match tries {
        1 => failed_job(request, "jobRateLimitExceeded", "Exceeded rate limits: too many concurrent queries for this project"),
        2 => failed_job(request, "invalidQuery", "Transaction is aborted due to concurrent update against table shop-test:analytics.one"),
        _ => Action::Forward,
    });
    let run = one_model(&emulator, &proxy.endpoint(), "      job_retries: 2\n").strata(&["run"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("(sent again 2 times after `jobRateLimitExceeded`, a concurrent update)"), "{}", run.stdout);
    let inserts = inserts_of(&proxy.requests(), BUILDS_ONE);
    let ids: Vec<String> = inserts.iter().map(|r| serde_json::from_str::<Json>(&r.body).expect("job")["jobReference"]["jobId"].to_string()).collect();
    assert!(ids.len() == 3 && ids[0] != ids[1] && ids[1] != ids[2], "a new job each time: {ids:?}");
    assert_eq!(emulator.query("select id from `shop-test.analytics.one`"), [["1"]]);
}

// `job_retry_deadline_seconds` bounds the tries in all: a job that keeps
// failing stops at the deadline, well before `job_retries` is spent.
#[test]
fn the_retry_deadline_bounds_the_tries() {
    let emulator = Emulator::start("shop-test");
    let proxy = on_building_one(&emulator, |request, _| failed_job(request, "backendError", "Backend error"));
    let started = Instant::now();
    let run = one_model(&emulator, &proxy.endpoint(), "      job_retries: 50\n      job_retry_deadline_seconds: 2\n").strata(&["run"]);
    assert_eq!(run.status, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Backend error"), "{}", run.stdout);
    let tries = inserts_of(&proxy.requests(), BUILDS_ONE).len();
    assert!((2..10).contains(&tries), "{tries} tries in {:?}", started.elapsed());
}

// `copy_partitions: true`: a partition the staged rows have replaces the
// table's with a copy job (`staged$20261120` over `daily$20261120`, which
// bills no bytes), one they lack is emptied with a delete of whole
// partitions, and no insert is sent. The emulator keeps no partitions to
// copy between, so the proxy answers the copy job as BigQuery would.
#[test]
fn copy_partitions_replaces_a_partition_with_a_copy_job() {
    let emulator = Emulator::start("shop-test");
    let proxy = Proxy::start(emulator.port, |request, _| {
        let body: Json = serde_json::from_str(&request.body).unwrap_or_default();
        if request.method == "POST" && body["configuration"]["copy"].is_object() {
            let job = json!({"kind": "bigquery#job", "jobReference": body["jobReference"], "configuration": body["configuration"], "status": {"state": "DONE"}});
            return Action::Answer(200, job.to_string());
        }
        Action::Forward
    });
    let fixture = Fixture::new()
        .file(
            "models/daily.sql",
            "{{ config(materialized='incremental', partition_by={'field': 'day', 'data_type': 'date', 'copy_partitions': true}, lookback=1) }}\n\
             select date '{{ ds }}' as day, 1 as n\n",
        )
        .file("profiles.yml", &emulator_profiles("shop", &proxy.endpoint(), &emulator.project, ""));
    for date in ["2026-11-19", "2026-11-20"] {
        let run = fixture.strata(&["run", "--date", date]);
        assert_eq!(run.status, 0, "{date}\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    }
    let requests = proxy.requests();
    let copies: Vec<Json> = requests
        .iter()
        .filter_map(|r| serde_json::from_str::<Json>(&r.body).ok())
        .filter(|job| job["configuration"]["copy"].is_object())
        .map(|job| job["configuration"]["copy"].clone())
        .collect();
    assert_eq!(copies.len(), 1, "one partition of the second run has rows: {copies:#?}");
    let copy = &copies[0];
    assert!(copy["sourceTable"]["tableId"].as_str().is_some_and(|t| t.starts_with("daily__strata_") && t.ends_with("$20261120")), "{copy}");
    assert_eq!(copy["destinationTable"]["tableId"], "daily$20261120");
    assert_eq!((copy["writeDisposition"].as_str(), copy["createDisposition"].as_str()), (Some("WRITE_TRUNCATE"), Some("CREATE_NEVER")));
    // 2026-11-19, which the second run's rows lack, is emptied; nothing is inserted.
    assert_eq!(
        inserts_of(&requests, "delete from `shop-test`.`analytics`.`daily` where `day` >= date '2026-11-19' and `day` < date '2026-11-20'").len(),
        1
    );
    assert!(inserts_of(&requests, "insert into `shop-test`.`analytics`.`daily`").is_empty(), "no insert of rows");
}

// A mistake in the SQL (400) fails at once, with BigQuery's message.
#[test]
fn a_bad_request_is_not_retried() {
    let emulator = Emulator::start("shop-test");
    let proxy =
        on_building_one(&emulator, |_, _| Action::Answer(400, google_error(400, "invalidQuery", "Syntax error: Unexpected keyword SELECT at [2:1]")));
    let fixture = one_model(&emulator, &proxy.endpoint(), "      job_retries: 3\n");
    let run = fixture.strata(&["run"]);
    assert_eq!(run.status, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Syntax error: Unexpected keyword SELECT at [2:1]"), "{}", run.stdout);
    assert_eq!(inserts_of(&proxy.requests(), "`analytics`.`one`").len(), 1);
}

// Ctrl-C while a job runs: strata cancels it with `jobs.cancel` and exits 130.
#[test]
fn ctrl_c_cancels_the_running_job() {
    let emulator = Emulator::start("shop-test");
    let proxy = on_building_one(&emulator, |_, _| Action::HoldUntilCancelled);
    let fixture = one_model(&emulator, &proxy.endpoint(), "");
    let child = crate::strata_command(fixture.path()).args(["run"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let started = Instant::now();
    while inserts_of(&proxy.requests(), "`analytics`.`one`").is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "the model's job was never sent");
        std::thread::sleep(Duration::from_millis(50));
    }
    let job_id = {
        let insert = &inserts_of(&proxy.requests(), "`analytics`.`one`")[0];
        let body: Json = serde_json::from_str(&insert.body).expect("job JSON");
        body["jobReference"]["jobId"].as_str().expect("job id").to_string()
    };
    nix_kill(child.id());
    let (status, stdout) = exit_of(child, started, "strata did not exit after Ctrl-C");
    assert_eq!(status.code(), Some(130), "{stdout}");
    let cancels: Vec<Request> = proxy.requests().into_iter().filter(|r| r.path.contains("/cancel")).collect();
    assert_eq!(cancels.len(), 1, "{cancels:#?}");
    assert!(cancels[0].path.contains(&format!("/jobs/{job_id}/cancel")), "{cancels:#?}");
}

/// How `child` exited, and its stdout; killed, and `hung` the failure, when
/// it is still running 90 s after `started`.
fn exit_of(mut child: Child, started: Instant, hung: &str) -> (std::process::ExitStatus, String) {
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("{hung}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut stdout).expect("read");
    (status, stdout)
}

fn nix_kill(pid: u32) {
    let status = Command::new("kill").args(["-INT", &pid.to_string()]).status().expect("kill");
    assert!(status.success());
}

/// The tests' service-account key, its token endpoint the one on `token_port`.
fn fake_key(token_port: u16) -> String {
    std::fs::read_to_string(crate::repo_root().join("tests/fixtures/bigquery/fake-service-account.json"))
        .expect("key fixture")
        .replace("TOKEN_URI", &format!("http://127.0.0.1:{token_port}/token"))
}

/// A server on 127.0.0.1 that answers every request with the JSON `answer`
/// makes, and records the requests.
fn json_server(answer: impl Fn() -> Json + Send + 'static) -> (u16, Arc<Mutex<Vec<Request>>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind a local server");
    let port = server.server_addr().to_ip().expect("an IP address").port();
    let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
    let recorded = requests.clone();
    std::thread::spawn(move || {
        for mut incoming in server.incoming_requests() {
            recorded.lock().expect("requests").push(Request::of(&mut incoming));
            let json = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).expect("a header");
            let _ = incoming.respond(tiny_http::Response::from_string(answer().to_string()).with_header(json));
        }
    });
    (port, requests)
}

/// A token endpoint on 127.0.0.1 that accepts any signed JWT; records the requests it got.
fn token_endpoint(token: &'static str) -> (u16, Arc<Mutex<Vec<Request>>>) {
    json_server(move || json!({"access_token": token, "expires_in": 3600, "token_type": "Bearer"}))
}

/// The JSON inside a JWT's payload (base64url, unpadded).
fn jwt_payload(jwt: &str) -> Json {
    // Padding, if any, arrives form-encoded.
    let payload = jwt.split('.').nth(1).expect("a JWT has three parts").trim_end_matches("%3D").trim_end_matches('=');
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in payload.bytes() {
        let value = alphabet.iter().position(|&a| a == c).expect("base64url") as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    serde_json::from_slice(&bytes).expect("JWT payload JSON")
}

// The production path: the key file's private key signs a JWT, the token
// endpoint named in the key exchanges it for an access token, and every
// BigQuery request carries that token. Neither appears in output or `target/`.
#[test]
fn a_service_account_key_signs_in_through_its_token_endpoint() {
    let emulator = Emulator::start("shop-test");
    let proxy = Proxy::start(emulator.port, |_, _| Action::Forward);
    let (token_port, forms) = token_endpoint("strata-test-access-token");
    let key = fake_key(token_port);
    let fixture =
        one_model(&emulator, &proxy.endpoint(), "      method: service-account\n      keyfile: secrets/key.json\n").file("secrets/key.json", &key);
    let run = fixture.strata(&["run"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(emulator.query("select id from `shop-test.analytics.one`"), [["1"]]);

    // `strata debug` says which credential it used and that BigQuery answered.
    let debug = fixture.strata(&["debug"]);
    assert_eq!(debug.status, 0, "{}{}", debug.stdout, debug.stderr);
    assert!(debug.stdout.contains("key.json` (strata-tests@shop-test.iam.gserviceaccount.com)"), "{}", debug.stdout);
    assert!(debug.stdout.contains("connection: ok"), "{}", debug.stdout);

    let forms = forms.lock().expect("forms").clone();
    assert!(!forms.is_empty(), "the token endpoint was never asked");
    let form = &forms[0].body;
    assert!(form.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"), "{form}");
    let assertion = form.split('&').find_map(|pair| pair.strip_prefix("assertion=")).expect("a signed assertion");
    let claims = jwt_payload(assertion);
    assert_eq!(claims["iss"], "strata-tests@shop-test.iam.gserviceaccount.com", "{claims}");
    assert_eq!(claims["aud"], format!("http://127.0.0.1:{token_port}/token"), "{claims}");
    assert!(claims["scope"].as_str().is_some_and(|s| s.contains("https://www.googleapis.com/auth/bigquery")), "{claims}");

    let requests = proxy.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert!(
            request.head.contains("authorization: Bearer strata-test-access-token")
                || request.head.contains("Authorization: Bearer strata-test-access-token"),
            "{}",
            request.head
        );
    }
    let mut written = run.stdout.clone() + &run.stderr;
    for entry in walkdir_files(&fixture.path().join("target")) {
        written.push_str(&String::from_utf8_lossy(&std::fs::read(entry).expect("read target file")));
    }
    assert!(!written.contains("strata-test-access-token"), "the access token was written out");
    assert!(!written.contains("PRIVATE KEY"), "the private key was written out");
}

fn walkdir_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() { stack.push(path) } else { files.push(path) }
        }
    }
    files
}

// What a user gets wrong about credentials, locations and permissions is an
// error that says what and where, with exit status 2.
#[test]
fn credential_location_and_permission_mistakes_are_clear_errors() {
    let emulator = Emulator::start("shop-test");
    let denied = Proxy::start(emulator.port, |request, _| {
        if request.method == "POST" {
            Action::Answer(
                403,
                google_error(
                    403,
                    "accessDenied",
                    "Access Denied: Project shop-test: User does not have bigquery.jobs.create permission in project shop-test.",
                ),
            )
        } else {
            Action::Forward
        }
    });
    let cases = [
        ("a missing key file", emulator.endpoint(), "      method: service-account\n      keyfile: secrets/missing.json\n"),
        ("a key file that is not a key", emulator.endpoint(), "      method: service-account\n      keyfile: secrets/key.json\n"),
        ("an unknown location", emulator.endpoint(), "      location: mars\n"),
        ("a missing permission", denied.endpoint(), ""),
    ];
    let mut report = String::new();
    for (what, endpoint, extra) in cases {
        let fixture =
            one_model(&emulator, &endpoint, extra).file("secrets/key.json", "{\"type\": \"service_account\", \"private_key\": \"not a key\"}\n");
        let profiles = fixture.read("profiles.yml");
        // The extra `location:` replaces the default one.
        let fixture =
            if extra.contains("location") { fixture.file("profiles.yml", &profiles.replacen("      location: US\n", "", 1)) } else { fixture };
        let run = fixture.strata(&["run"]);
        assert_eq!(run.status, 2, "{what}: stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
        let root = fixture.path().to_string_lossy().into_owned();
        let canonical = fixture.path().canonicalize().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let stderr = run.stderr.replace(&canonical, "<project>").replace(&root, "<project>").replace(&endpoint, "<endpoint>");
        report.push_str(&format!("## {what}\n{stderr}\n"));
    }
    insta::assert_snapshot!(report);
}

// `--dry-run` sends every selected model as a dry-run job and prints what each
// would scan and cost; a model above `maximum_bytes_billed` fails the command.
// (The emulator estimates every query at 0 bytes; the proxy answers the dry
// run of `big` as BigQuery would for a 2 TiB scan.)
#[test]
fn dry_run_prints_bytes_and_cost_per_model_and_fails_above_the_byte_limit() {
    let emulator = Emulator::start("shop-test");
    let proxy = Proxy::start(emulator.port, |request, _| {
        let body: Json = serde_json::from_str(&request.body).unwrap_or_default();
        let dry = body["configuration"]["dryRun"] == true;
        if request.method == "POST" && dry && request.body.contains("as big") {
            let id = body["jobReference"]["jobId"].clone();
            let job = json!({
                "kind": "bigquery#job",
                "jobReference": {"projectId": "shop-test", "jobId": id, "location": "US"},
                "status": {"state": "DONE"},
                "statistics": {"query": {"totalBytesProcessed": "2199023255552", "statementType": "SELECT"}}
            });
            Action::Answer(200, job.to_string())
        } else {
            Action::Forward
        }
    });
    let fixture = one_model(&emulator, &proxy.endpoint(), "      maximum_bytes_billed: 1099511627776\n").file("models/big.sql", "select 2 as big\n");
    let run = fixture.strata(&["run", "--dry-run", "--date", "2026-11-20"]);
    assert_eq!(run.status, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    insta::assert_snapshot!(run.stdout, @r"
    ERROR model big  2.0 TiB  $12.50  above maximum_bytes_billed (1.0 TiB)
    OK    model one  0 B  $0.00

    Dry run of 2 models for 2026-11-20: 2.0 TiB would be processed, about $12.50 on demand ($6.25 per TiB); nothing ran
    ");
    // Every model was sent as a dry run, and nothing was built.
    let jobs: Vec<Json> = proxy
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/jobs"))
        .map(|r| serde_json::from_str(&r.body).expect("job"))
        .collect();
    assert_eq!(jobs.len(), 2, "{jobs:#?}");
    assert!(jobs.iter().all(|job| job["configuration"]["dryRun"] == true), "{jobs:#?}");
    assert_eq!(emulator.query("select count(*) from `shop-test.analytics.INFORMATION_SCHEMA.TABLES`"), [["0"]]);
}

// Partition options reach the table; a model partitioned on another column
// than its existing table replaces it (BigQuery refuses `create or replace`
// across partitionings, so strata drops the old table after building the rows).
#[test]
fn partition_options_reach_the_table_and_a_changed_partitioning_replaces_it() {
    let emulator = Emulator::start("shop-test");
    let model = |field: &str| {
        format!(
            "{{{{ config(materialized='table', partition_by={{'field': '{field}', 'data_type': 'date'}}, require_partition_filter=true, partition_expiration_days=400, cluster_by=['id']) }}}}\n\
             select 1 as id, date '2026-11-20' as d, date '2026-11-21' as e\n"
        )
    };
    let fixture = shop_on(Fixture::new().file("models/t.sql", &model("d")), &emulator, "");
    let run = fixture.strata(&["run"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let table = emulator.get("datasets/analytics/tables/t");
    assert_eq!(table["timePartitioning"]["field"], "d", "{table}");
    assert_eq!(table["timePartitioning"]["expirationMs"], "34560000000", "{table}");
    assert_eq!(table["timePartitioning"]["requirePartitionFilter"], true, "{table}");

    let fixture = fixture.file("models/t.sql", &model("e"));
    let run = fixture.strata(&["run"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let table = emulator.get("datasets/analytics/tables/t");
    assert_eq!(table["timePartitioning"]["field"], "e", "{table}");
    assert_eq!(emulator.query("select id, cast(e as string) from `shop-test.analytics.t` where e = '2026-11-21'"), [["1", "2026-11-21"]]);
    // No staging table is left behind: the table and the partition log only.
    let tables = emulator.query("select table_name from `shop-test.analytics.INFORMATION_SCHEMA.TABLES` order by 1");
    assert_eq!(tables, [["_strata_partitions"], ["t"]]);
}

// A job that runs longer than `job_timeout_seconds` is cancelled and fails the model.
#[test]
fn a_job_longer_than_job_timeout_seconds_is_cancelled() {
    let emulator = Emulator::start("shop-test");
    let proxy = on_building_one(&emulator, |_, _| Action::HoldUntilCancelled);
    let fixture = one_model(&emulator, &proxy.endpoint(), "      job_timeout_seconds: 1\n");
    let run = fixture.strata(&["run"]);
    assert_eq!(run.status, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("the job ran longer than `job_timeout_seconds` (1s) and was cancelled"), "{}", run.stdout);
    let insert = &inserts_of(&proxy.requests(), "`analytics`.`one`")[0];
    let body: Json = serde_json::from_str(&insert.body).expect("job");
    assert_eq!(body["configuration"]["jobTimeoutMs"], "1000", "BigQuery enforces it too: {body}");
    let id = body["jobReference"]["jobId"].as_str().expect("id");
    assert!(proxy.requests().iter().any(|r| r.path.contains(&format!("/jobs/{id}/cancel"))), "{:#?}", proxy.requests());
}

// A failed job shows BigQuery's message, the line it points at, and where that
// line is in the model's file.
#[test]
fn a_failed_job_points_at_the_line_of_the_model() {
    let emulator = Emulator::start("shop-test");
    let proxy = on_building_one(&emulator, |request, _| {
        let body: Json = serde_json::from_str(&request.body).unwrap_or_default();
        let error = json!({"reason": "invalidQuery", "location": "query", "message": "Unrecognized name: nope at [5:3]"});
        let job = json!({
            "kind": "bigquery#job",
            "jobReference": body["jobReference"],
            "status": {"state": "DONE", "errorResult": error, "errors": [error]},
        });
        Action::Answer(200, job.to_string())
    });
    let fixture =
        one_model(&emulator, &proxy.endpoint(), "").file("models/one.sql", "{{ config(materialized='table') }}\nselect 1 as id,\n  nope as other\n");
    let run = fixture.strata(&["run"]);
    assert_eq!(run.status, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.stdout.split_once("error in").map(|(_, report)| report).unwrap_or_default();
    insta::assert_snapshot!(report, @r"
     model `one` (models/one.sql)
      Unrecognized name: nope at [5:3]
          nope as other
          ^
      --> models/one.sql:3:3
      compiled SQL: target/compiled/shop/models/one.sql
    ");
}

// `retry` on BigQuery re-runs what failed, for the date and flags it failed with.
#[test]
fn retry_on_bigquery_reruns_the_failed_model() {
    let emulator = Emulator::start("shop-test");
    let fixture = shop_on(crate::dates::events(), &emulator, "");
    assert_eq!(fixture.strata(&["seed"]).status, 0);
    let fixture = fixture.file("models/total.sql", "{{ config(materialized='table') }} select sum(missing) as events from {{ ref('daily') }}");
    let run = fixture.strata(&["run", "--date", "2026-11-05"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    let fixture =
        fixture.file("models/total.sql", "{{ config(materialized='table') }} select sum(events) as events, count(*) as days from {{ ref('daily') }}");
    let retry = fixture.strata(&["retry"]);
    assert_eq!(retry.status, 0, "stdout:\n{}\nstderr:\n{}", retry.stdout, retry.stderr);
    assert!(retry.stdout.contains("OK    created table analytics.total"), "{}", retry.stdout);
    assert!(!retry.stdout.contains("analytics.daily"), "`daily` succeeded and is not run again:\n{}", retry.stdout);
    assert_eq!(emulator.query("select events, days from `shop-test.analytics.total`"), [["5", "1"]]);
}

// An incremental model with `unique_key` replaces the rows whose key it
// produces again and keeps the others.
#[test]
fn unique_key_incrementals_on_bigquery_replace_matching_rows() {
    let emulator = Emulator::start("shop-test");
    let fixture = shop_on(crate::dates::events(), &emulator, "").file(
        "models/recent.sql",
        "{{ config(materialized='incremental', unique_key='event_date') }}\n\
         select event_date, count(*) as events, '{{ ds }}' as seen_on from {{ ref('events') }}\n\
         where event_date between date_sub(date '{{ ds }}', interval 1 day) and '{{ ds }}' group by 1\n",
    );
    assert_eq!(fixture.strata(&["seed"]).status, 0);
    for date in ["2026-11-03", "2026-11-04"] {
        let run = fixture.strata(&["run", "--select", "recent", "--date", date]);
        assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    }
    let rows = emulator.query("select cast(event_date as string), events, seen_on from `shop-test.analytics.recent` order by 1");
    let expected = [["2026-11-02", "2", "2026-11-03"], ["2026-11-03", "3", "2026-11-04"], ["2026-11-04", "4", "2026-11-04"]];
    assert_eq!(rows, expected.map(|row| row.map(str::to_string).to_vec()));
}

// `method: oauth` finds application default credentials where Google's
// libraries do: `GOOGLE_APPLICATION_CREDENTIALS` first.
#[test]
fn oauth_uses_the_application_default_credentials_file() {
    let emulator = Emulator::start("shop-test");
    let proxy = Proxy::start(emulator.port, |_, _| Action::Forward);
    let (token_port, forms) = token_endpoint("strata-adc-token");
    let key = fake_key(token_port);
    let fixture = one_model(&emulator, &proxy.endpoint(), "      method: oauth\n").file("adc.json", &key);
    let adc = fixture.path().join("adc.json");
    for command in ["debug", "run"] {
        let output = crate::strata_command(fixture.path()).arg(command).env("GOOGLE_APPLICATION_CREDENTIALS", &adc).output().expect("run");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
        if command == "debug" {
            assert!(
                stdout.contains("credentials: application default credentials: service-account key file `")
                    && stdout.contains("(strata-tests@shop-test.iam.gserviceaccount.com)"),
                "{stdout}"
            );
        }
    }
    assert!(!forms.lock().expect("forms").is_empty(), "the key's token endpoint was asked");
    assert!(proxy.requests().iter().all(|r| r.head.to_ascii_lowercase().contains("authorization: bearer strata-adc-token")));
    assert_eq!(emulator.query("select id from `shop-test.analytics.one`"), [["1"]]);
}

// A value with a quote is accepted on BigQuery too: the literal escapes it
// with a backslash, which the emulator reads as BigQuery does.
#[test]
fn accepted_values_with_a_quote_pass_on_bigquery() {
    let emulator = Emulator::start("shop-test");
    let fixture = shop_on(crate::run::quoted_words(Fixture::new()), &emulator, "");
    let run = fixture.strata(&["build"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("PASS  accepted_values_words_word__it_s__plain"), "{}", run.stdout);
    assert_eq!(emulator.query("select word from `shop-test.analytics.words` order by 1"), [["it's"], ["plain"]]);
}

/// The ids of the jobs inserted with `marker` in their statement.
fn job_ids_of(requests: &[Request], marker: &str) -> Vec<String> {
    inserts_of(requests, marker)
        .iter()
        .filter_map(|r| serde_json::from_str::<Json>(&r.body).ok()?["jobReference"]["jobId"].as_str().map(str::to_string))
        .collect()
}

/// The requests that ask about one of the jobs `ids` (polls, `jobs.get`).
fn asking_about<'a>(requests: &'a [Request], ids: &[String]) -> Vec<&'a Request> {
    requests.iter().filter(|r| r.method == "GET" && ids.iter().any(|id| r.path.contains(&format!("/{id}")))).collect()
}

/// A job answered as accepted and still running, as BigQuery answers a long
/// job's insert (the emulator runs every job before it answers).
fn still_running() -> Action {
    Action::ForwardRewritten(Box::new(|body| body.replace("\"state\":\"DONE\"", "\"state\":\"RUNNING\"")))
}

/// A proxy that answers the insert of the job whose statement holds
/// `marker` as accepted and still running, and the n-th question about that
/// job (a poll, `jobs.get`) with `fault(n)`, counted from 1.
fn on_questions_about(emulator: &Emulator, marker: &'static str, fault: impl Fn(usize) -> Action + Send + Sync + 'static) -> Proxy {
    Proxy::start(emulator.port, move |request, seen| {
        if request.method == "POST" && request.body.contains(marker) {
            return still_running();
        }
        let ids = job_ids_of(seen, marker);
        if request.method == "GET" && !asking_about(std::slice::from_ref(request), &ids).is_empty() {
            return fault(asking_about(seen, &ids).len());
        }
        Action::Forward
    })
}

/// An incremental model without `unique_key`: each run appends its date's row.
const APPENDED: &str = "{{ config(materialized='incremental') }}\nselect date '{{ ds }}' as day, 1 as n\n";
/// The statement that appends to `appended`.
const APPENDS: &str = "insert into `shop-test`.`analytics`.`appended`";

// Polls of an accepted job that get no answer (503s, then a dropped
// connection) are sent again for the same job: the statement is submitted
// once, so an append writes its rows once.
#[test]
fn a_lost_poll_keeps_polling_the_same_job_instead_of_submitting_it_again() {
    let emulator = Emulator::start("shop-test");
    let proxy = on_questions_about(&emulator, APPENDS, |asked| match asked {
        1..=4 => Action::Answer(503, google_error(503, "backendError", "The service is currently unavailable")),
        5 => Action::Drop,
        _ => Action::Forward,
    });
    let fixture = Fixture::new()
        .file("models/appended.sql", APPENDED)
        .file("profiles.yml", &emulator_profiles("shop", &proxy.endpoint(), &emulator.project, ""));
    for date in ["2026-11-19", "2026-11-20"] {
        let run = fixture.strata(&["run", "--date", date]);
        assert_eq!(run.status, 0, "{date}\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    }
    let requests = proxy.requests();
    assert_eq!(inserts_of(&requests, APPENDS).len(), 1, "the append was submitted once: {:#?}", inserts_of(&requests, APPENDS));
    assert!(asking_about(&requests, &job_ids_of(&requests, APPENDS)).len() > 5, "the faults were met");
    let rows = emulator.query("select cast(day as string), n from `shop-test.analytics.appended` order by 1");
    assert_eq!(rows, [["2026-11-19", "1"], ["2026-11-20", "1"]]);
}

// A call BigQuery never answers times out (`job_creation_timeout_seconds`,
// 60 s unless set) and is asked again, instead of hanging the run.
#[test]
fn a_call_that_never_gets_an_answer_times_out_and_is_asked_again() {
    let emulator = Emulator::start("shop-test");
    let proxy = on_questions_about(&emulator, BUILDS_ONE, |asked| if asked == 1 { Action::Hang } else { Action::Forward });
    let fixture = one_model(&emulator, &proxy.endpoint(), "      job_creation_timeout_seconds: 2\n");
    let child = crate::strata_command(fixture.path()).arg("run").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let (status, stdout) = exit_of(child, Instant::now(), "strata still waits for an answer that never comes");
    assert_eq!(status.code(), Some(0), "{stdout}");
    let requests = proxy.requests();
    assert_eq!(inserts_of(&requests, BUILDS_ONE).len(), 1);
    assert!(asking_about(&requests, &job_ids_of(&requests, BUILDS_ONE)).len() >= 2, "the poll was asked again");
    assert_eq!(emulator.query("select id from `shop-test.analytics.one`"), [["1"]]);
}

/// The statement that lists a dataset's tables.
const LISTS: &str = "INFORMATION_SCHEMA.TABLES";

/// The events project with `daily` built for 2026-11-03 and 2026-11-04 on the emulator.
fn daily_with_history(emulator: &Emulator) -> Fixture {
    let fixture = shop_on(crate::dates::events(), emulator, "");
    for args in [&["seed"][..], &["run", "--date", "2026-11-03"], &["run", "--date", "2026-11-04"]] {
        let run = fixture.strata(args);
        assert_eq!(run.status, 0, "{args:?}\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    }
    assert_eq!(daily(emulator), rows(&[["2026-11-03", "3"], ["2026-11-04", "4"]]));
    fixture
}

// A listing that fails, or answers what strata cannot read, fails the run
// (exit 2) instead of being read as an empty dataset, which would rebuild
// incremental tables from scratch. Only BigQuery's 404 for the dataset itself
// means "no tables yet".
#[test]
fn a_listing_that_fails_or_cannot_be_read_fails_the_run_instead_of_rebuilding() {
    let emulator = Emulator::start("shop-test");
    let fixture = daily_with_history(&emulator);
    let unreadable_rows = json!({
        "kind": "bigquery#getQueryResultsResponse",
        "jobComplete": true,
        "schema": {"fields": [{"name": "table_name", "type": "STRING"}]},
        "rows": [{"f": [{"v": "daily"}]}],
        "totalRows": "1"
    })
    .to_string();
    type Rule = Box<dyn Fn(&Request, &[Request]) -> Action + Send + Sync>;
    let cases: [(&str, Rule); 3] = [
        (
            "a job that says not found, for a dataset that exists (another location)",
            Box::new(|request, _| {
                if request.method == "POST" && request.body.contains(LISTS) {
                    Action::Answer(404, google_error(404, "notFound", "Not found: Dataset shop-test:analytics was not found in location EU"))
                } else {
                    Action::Forward
                }
            }),
        ),
        (
            "a server error with a page instead of JSON",
            Box::new(|request, _| {
                if request.method == "POST" && request.body.contains(LISTS) {
                    Action::Answer(500, "<html><body>Internal Server Error</body></html>".into())
                } else {
                    Action::Forward
                }
            }),
        ),
        (
            "rows of another shape",
            Box::new(move |request, seen| {
                let ids = job_ids_of(seen, LISTS);
                if request.method == "GET" && request.path.contains("/queries/") && !asking_about(std::slice::from_ref(request), &ids).is_empty() {
                    Action::Answer(200, unreadable_rows.clone())
                } else {
                    Action::Forward
                }
            }),
        ),
    ];
    let mut report = String::new();
    let job_id = regex::Regex::new(r"strata_[0-9a-f]+_\d+_\d+").expect("regex");
    for (what, rule) in cases {
        let proxy = Proxy::start(emulator.port, rule);
        let profiles = emulator_profiles("shop", &proxy.endpoint(), &emulator.project, "      job_retries: 0\n");
        std::fs::write(fixture.path().join("profiles.yml"), profiles).expect("write profiles.yml");
        let run = fixture.strata(&["run", "--date", "2026-11-05"]);
        assert_eq!(run.status, 2, "{what}\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
        assert_eq!(daily(&emulator), rows(&[["2026-11-03", "3"], ["2026-11-04", "4"]]), "{what}: the history is intact");
        let stderr = job_id.replace_all(&run.stderr, "<job>");
        report.push_str(&format!("## {what}\n{}\n", stderr.replace(&proxy.endpoint(), "<endpoint>")));
        assert!(
            proxy.requests().iter().all(|r| !r.body.contains("create or replace table `shop-test`.`analytics`.`daily`")),
            "{what}: nothing was rebuilt"
        );
    }
    insta::assert_snapshot!(report);
}

// A listing that (wrongly) leaves out an existing incremental table does not
// cost it its history: before building it anew, strata asks BigQuery for the
// table itself, finds it, and stops.
#[test]
fn a_listing_that_misses_an_incremental_table_does_not_wipe_it() {
    let emulator = Emulator::start("shop-test");
    let fixture = daily_with_history(&emulator);
    let proxy = Proxy::start(emulator.port, |request, _| {
        if request.method == "POST" && request.body.contains(LISTS) {
            // The same query, answering no rows.
            Action::ForwardBody(request.body.replace(" as t left join ", " as t inner join ").replace("on c.table_name = t.table_name", "on false"))
        } else {
            Action::Forward
        }
    });
    let fixture = fixture.file("profiles.yml", &emulator_profiles("shop", &proxy.endpoint(), &emulator.project, ""));
    let run = fixture.strata(&["run", "--date", "2026-11-05", "--select", "daily"]);
    assert_eq!(run.status, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "`analytics.daily` exists, although listing its dataset did not show it; strata stops rather than build it anew and lose its rows"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(daily(&emulator), rows(&[["2026-11-03", "3"], ["2026-11-04", "4"]]), "the earlier partitions survive");
    assert!(
        proxy.requests().iter().any(|r| r.method == "GET" && r.path.ends_with("/datasets/analytics/tables/daily")),
        "BigQuery was asked for the table"
    );
}

/// IAM's credentials API on 127.0.0.1: `generateAccessToken` answers `token`
/// for any account; records each request.
fn iam_endpoint(token: &'static str) -> (u16, Arc<Mutex<Vec<Request>>>) {
    json_server(move || {
        let expires = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        json!({"accessToken": token, "expireTime": expires})
    })
}

/// The tests' service-account key as a YAML mapping under `keyfile_json:`,
/// indented for a target's fields.
fn key_as_yaml(key: &str) -> String {
    let key: Json = serde_json::from_str(key).expect("key JSON");
    let mut yaml = String::from("      keyfile_json:\n");
    for (field, value) in key.as_object().expect("key object") {
        // A JSON string is a YAML double-quoted string.
        yaml.push_str(&format!("        {field}: {value}\n"));
    }
    yaml
}

// A dbt-bigquery profile works unchanged: the key as a YAML mapping, another
// service account impersonated through IAM with the profile's scopes, jobs
// run and billed in `execution_project` while the tables stay in `project`,
// and dbt's `job_execution_timeout_seconds`. No token reaches the output.
#[test]
fn a_dbt_bigquery_profile_with_impersonation_and_an_execution_project_works_unchanged() {
    let emulator = Emulator::start("shop-test");
    let proxy = Proxy::start(emulator.port, |_, _| Action::Forward);
    let (token_port, forms) = token_endpoint("strata-base-token");
    let (iam_port, iam) = iam_endpoint("strata-impersonated-token");
    let extra = format!(
        "      method: service-account-json\n{}      impersonate_service_account: runner@shop-test.iam.gserviceaccount.com\n      \
         scopes: [https://www.googleapis.com/auth/bigquery, https://www.googleapis.com/auth/cloud-platform]\n      \
         execution_project: shop-billing\n      job_execution_timeout_seconds: 300\n",
        key_as_yaml(&fake_key(token_port))
    );
    let fixture = one_model(&emulator, &proxy.endpoint(), &extra);
    let output = crate::strata_command(fixture.path())
        .arg("run")
        .env("STRATA_IAM_CREDENTIALS_ENDPOINT", format!("http://127.0.0.1:{iam_port}"))
        .output()
        .expect("run");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stderr.contains("warning"), "every key is known: {stderr}");
    assert_eq!(emulator.query("select id from `shop-test.analytics.one`"), [["1"]]);

    // The key signed in through its token endpoint, then IAM gave the
    // impersonated account's token, asked with the base token and the scopes.
    assert!(!forms.lock().expect("forms").is_empty(), "the key's token endpoint was asked");
    let iam = iam.lock().expect("iam").clone();
    assert!(!iam.is_empty(), "IAM was asked");
    assert!(iam[0].path.ends_with("/v1/projects/-/serviceAccounts/runner@shop-test.iam.gserviceaccount.com:generateAccessToken"), "{}", iam[0].path);
    assert!(iam[0].head.to_ascii_lowercase().contains("authorization: bearer strata-base-token"), "{}", iam[0].head);
    let asked: Json = serde_json::from_str(&iam[0].body).expect("IAM request");
    assert_eq!(asked["scope"], json!(["https://www.googleapis.com/auth/bigquery", "https://www.googleapis.com/auth/cloud-platform"]));

    let requests = proxy.requests();
    assert!(requests.iter().all(|r| r.head.to_ascii_lowercase().contains("authorization: bearer strata-impersonated-token")), "{requests:#?}");
    let inserts = inserts_of(&requests, BUILDS_ONE);
    assert_eq!(inserts.len(), 1);
    assert!(inserts[0].path.ends_with("/projects/shop-billing/jobs"), "jobs run in the execution project: {}", inserts[0].path);
    let job: Json = serde_json::from_str(&inserts[0].body).expect("job");
    assert_eq!(job["jobReference"]["projectId"], "shop-billing");
    assert_eq!(job["configuration"]["jobTimeoutMs"], "300000");
    let mut written = format!("{stdout}{stderr}");
    for entry in walkdir_files(&fixture.path().join("target")) {
        written.push_str(&String::from_utf8_lossy(&std::fs::read(entry).expect("read target file")));
    }
    for secret in ["strata-base-token", "strata-impersonated-token", "PRIVATE KEY"] {
        assert!(!written.contains(secret), "`{secret}` was written out");
    }
}

// A key strata does not use is a warning at its line, not silence: one that
// dbt-bigquery knows says strata ignores it, any other suggests a name.
#[test]
fn profile_keys_strata_does_not_use_are_warnings_at_their_line() {
    let profiles = "shop:\n  target: prod\n  outputs:\n    prod:\n      type: bigquery\n      method: oauth\n      project: shop-prod\n      \
                    dataset: analytics\n      retries: 2\n      timeout_seconds: 300\n      gcs_bucket: shop-python-models\n      \
                    job_retry_deadline_seconds: 600\n      locaton: EU\n      job_retires: 3\n      flavour: strawberry\n";
    let fixture = Fixture::new().file("models/one.sql", "select 1 as id\n").file("profiles.yml", profiles);
    let run = fixture.strata(&["ls"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    insta::assert_snapshot!(run.stderr);
}

/// A seed with what CSV makes hard: a quoted delimiter, quotes, empty cells.
const SOURCES_CSV: &str = "id,name,day,active,score\n1,\"Smith, Jo\",2026-11-01,True,1.5\n2,,2026-11-02,False,\n3,\"say \"\"hi\"\"\",,true,2\n";

fn sources(emulator: &Emulator) -> Vec<Vec<String>> {
    emulator.query(
        "select id, coalesce(name, 'NULL'), coalesce(cast(day as string), 'NULL'), cast(active as string), coalesce(cast(score as string), 'NULL') \
         from `shop-test.analytics.sources` order by id",
    )
}

// A seed is one load job, its file uploaded with it (as dbt-bigquery loads
// seeds), not a series of inserts; where the API has no upload endpoint
// (404), the inserts load it instead, with the same rows.
#[test]
fn seeds_load_with_a_load_job_and_with_inserts_where_uploads_are_missing() {
    let emulator = Emulator::start("shop-test");
    let expected =
        [["1", "Smith, Jo", "2026-11-01", "true", "1.5"], ["2", "NULL", "2026-11-02", "false", "NULL"], ["3", "say \"hi\"", "NULL", "true", "2.0"]]
            .map(|row| row.map(str::to_string).to_vec());
    for uploads in [true, false] {
        let proxy = Proxy::start(emulator.port, move |request, _| {
            if !uploads && request.path.starts_with("/upload/") {
                Action::Answer(404, "<html><body>Not Found</body></html>".into())
            } else {
                Action::Forward
            }
        });
        let fixture = Fixture::new()
            .file("seeds/sources.csv", SOURCES_CSV)
            .file("profiles.yml", &emulator_profiles("shop", &proxy.endpoint(), &emulator.project, ""));
        let run = fixture.strata(&["seed"]);
        assert_eq!(run.status, 0, "uploads: {uploads}\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("OK    loaded seed analytics.sources  3 rows"), "{}", run.stdout);
        assert_eq!(sources(&emulator), expected, "uploads: {uploads}");
        let requests = proxy.requests();
        let uploaded: Vec<&Request> = requests.iter().filter(|r| r.method == "POST" && r.path.starts_with("/upload/")).collect();
        assert_eq!(uploaded.len(), 1, "{uploaded:#?}");
        assert!(uploaded[0].path.ends_with("/upload/bigquery/v2/projects/shop-test/jobs?uploadType=multipart"), "{}", uploaded[0].path);
        let inserts = inserts_of(&requests, "insert into `shop-test`.`analytics`.`sources__strata_");
        if uploads {
            assert!(uploaded[0].head.to_ascii_lowercase().contains("content-type: multipart/related; boundary="), "{}", uploaded[0].head);
            assert!(uploaded[0].body.contains("\"writeDisposition\":\"WRITE_TRUNCATE\""), "{}", uploaded[0].body);
            assert!(uploaded[0].body.contains(SOURCES_CSV), "the file is uploaded as it is: {}", uploaded[0].body);
            assert!(inserts.is_empty(), "{inserts:#?}");
        } else {
            assert_eq!(inserts.len(), 1, "the fallback inserts: {inserts:#?}");
        }
    }
}

// BigQuery refuses to replace a table with another partitioning spec
// ("Cannot replace a table with a different partitioning spec"): a change of
// granularity or of clustering on the same column drops the table first,
// and an unchanged table is replaced without a drop.
#[test]
fn a_change_of_granularity_or_clustering_drops_the_table_before_replacing_it() {
    let emulator = Emulator::start("shop-test");
    let proxy = Proxy::start(emulator.port, |_, _| Action::Forward);
    let model = |config: &str| {
        format!(
            "{{{{ config(materialized='table', partition_by={{'field': 'd', 'data_type': 'date'{config}) }}}}\nselect date '2026-11-20' as d, 'a' as k\n"
        )
    };
    let mut fixture = Fixture::new().file("profiles.yml", &emulator_profiles("shop", &proxy.endpoint(), &emulator.project, ""));
    let drops = |proxy: &Proxy| inserts_of(&proxy.requests(), "drop table if exists `shop-test`.`analytics`.`t`").len();
    for (config, dropped) in [("}", 0), ("}", 0), (", 'granularity': 'month'}", 1), (", 'granularity': 'month'}, cluster_by=['k']", 2)] {
        fixture = fixture.file("models/t.sql", &model(config));
        let run = fixture.strata(&["run"]);
        assert_eq!(run.status, 0, "{config}\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
        assert_eq!(drops(&proxy), dropped, "{config}");
    }
    assert_eq!(emulator.query("select k from `shop-test.analytics.t`"), [["a"]]);
}

/// `export` on BigQuery: the rows come page by page (`getQueryResults` with
/// a page token), and every format keeps the values and their types.
#[test]
fn export_on_bigquery_reads_page_by_page_and_keeps_the_types() {
    let emulator = Emulator::start("shop-test");
    let proxy = Proxy::start(emulator.port, |_, _| Action::Forward);
    let fixture = Fixture::new()
        .file(
            "models/typed.sql",
            "{{ config(materialized='table') }}\n\
             select 1 as id, cast('12.50' as numeric) as amount, 0.25 as ratio, date '2026-11-20' as day, timestamp '2026-11-20 13:45:30' as seen_at, true as active, 'comma, \"quote\"' as note\n\
             union all select 2, cast('-3' as numeric), 1e10, date '1999-12-31', timestamp '1999-12-31 23:59:59', false, ''\n\
             union all select 3, null, null, null, null, null, null\n",
        )
        .file("models/many.sql", "{{ config(materialized='table') }}\nselect x as id from unnest(generate_array(1, 25000)) as x\n")
        .file("profiles.yml", &emulator_profiles("shop", &proxy.endpoint(), &emulator.project, ""));
    let run = fixture.strata(&["run"]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);

    let run = fixture.strata(&["export", "--select", "many", "--output", "many.csv"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "Exported 25,000 rows of `many` to many.csv (csv)\n");
    let csv = fixture.read("many.csv");
    let ids: Vec<u64> = csv.lines().skip(1).map(|line| line.parse().expect("an id")).collect();
    assert_eq!((ids.len(), ids.iter().sum::<u64>()), (25_000, 25_000 * 25_001 / 2));
    let pages = proxy.requests().iter().filter(|r| r.method == "GET" && r.path.contains("/queries/") && r.path.contains("pageToken=")).count();
    assert!(pages >= 2, "the rows came in {} pages", pages + 1);

    let run = fixture.strata(&["export", "--select", "typed", "--output", "typed.csv"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let mut lines: Vec<&str> = fixture.read("typed.csv").leak().split("\r\n").collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "",
            // A NUMERIC as the warehouse writes it (the emulator, with its scale).
            "1,12.500,0.25,2026-11-20,2026-11-20 13:45:30,true,\"comma, \"\"quote\"\"\"",
            "2,-3.000,10000000000,1999-12-31,1999-12-31 23:59:59,false,",
            "3,,,,,,",
            "id,amount,ratio,day,seen_at,active,note",
        ]
    );
    use calamine::{Data, Reader};
    let run = fixture.strata(&["export", "--select", "typed", "--output", "typed.xlsx"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(fixture.path().join("typed.xlsx")).expect("xlsx");
    let range = workbook.worksheet_range("typed").expect("sheet");
    let first = range.rows().find(|row| row[0] == Data::Float(1.0)).expect("row 1").to_vec();
    assert_eq!((&first[1], &first[2], &first[5]), (&Data::Float(12.5), &Data::Float(0.25), &Data::Bool(true)));
    assert!(matches!(first[3], Data::DateTime(_)) && matches!(first[4], Data::DateTime(_)), "{first:?}");

    let run = fixture.strata(&["export", "--select", "typed", "--output", "typed.parquet"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let parquet = duckdb::Connection::open_in_memory().expect("duckdb");
    let path = fixture.path().join("typed.parquet");
    let types: Vec<String> = parquet
        .prepare(&format!("select column_type from (describe select * from read_parquet('{}'))", path.display()))
        .expect("describe")
        .query_map([], |row| row.get(0))
        .expect("types")
        .collect::<Result<_, _>>()
        .expect("types");
    // BigQuery's TIMESTAMP is an instant: Parquet's timestamp adjusted to UTC.
    assert_eq!(types, ["BIGINT", "DECIMAL(38,9)", "DOUBLE", "DATE", "TIMESTAMP WITH TIME ZONE", "BOOLEAN", "VARCHAR"]);
    let sum: String = parquet
        .query_row(&format!("select cast(sum(amount) as varchar) || '/' || count(note) from read_parquet('{}')", path.display()), [], |row| {
            row.get(0)
        })
        .expect("sum");
    assert_eq!(sum, "9.500000000/2");
}

/// A NUMERIC's 38 digits reach every format unchanged (written `numeric(38,
/// 9)`, BigQuery's NUMERIC, which the emulator reads as DuckDB's DECIMAL(18, 3)): CSV and a delivered
/// table as written, xlsx as text (an Excel number keeps 15 digits), Parquet
/// as a decimal.
#[test]
fn numeric_values_keep_every_digit_in_every_format() {
    let emulator = Emulator::start("shop-test");
    let profiles = emulator_profiles("shop", &emulator.endpoint(), &emulator.project, "")
        + "    local:\n      type: duckdb\n      path: target/local.duckdb\n      schema: main\n";
    let fixture = Fixture::new()
        .file("profiles.yml", &profiles)
        .file("models/amounts.sql", "{{ config(materialized='table') }}\nselect cast('12345678901234567890.123456789' as numeric(38, 9)) as amount\n")
        .file("models/exposures.yml", &format!("exposures:\n{}", table_delivery("amounts_to_duckdb", "amounts", "local", "main.amounts")));
    assert_status(&fixture.strata(&["build", "--date", "2026-11-20"]), 0);
    let exact = "12345678901234567890.123456789";

    assert_status(&fixture.strata(&["export", "--select", "amounts", "--output", "amounts.csv"]), 0);
    assert_eq!(fixture.read("amounts.csv"), format!("amount\r\n{exact}\r\n"));

    use calamine::{Data, Reader};
    assert_status(&fixture.strata(&["export", "--select", "amounts", "--output", "amounts.xlsx"]), 0);
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(fixture.path().join("amounts.xlsx")).expect("xlsx");
    let range = workbook.worksheet_range("amounts").expect("sheet");
    assert_eq!(range.get((1, 0)), Some(&Data::String(exact.into())));

    assert_status(&fixture.strata(&["export", "--select", "amounts", "--output", "amounts.parquet"]), 0);
    let duckdb = duckdb::Connection::open_in_memory().expect("duckdb");
    let read = |sql: &str| -> String { duckdb.query_row(sql, [], |row| row.get(0)).expect(sql) };
    let parquet = fixture.path().join("amounts.parquet");
    assert_eq!(read(&format!("select cast(amount as varchar) from read_parquet('{}')", parquet.display())), exact);
    assert_eq!(read(&format!("select column_type from (describe select * from read_parquet('{}'))", parquet.display())), "DECIMAL(38,9)");

    let local = duckdb::Connection::open(fixture.path().join("target/local.duckdb")).expect("local");
    let delivered: String = local.query_row("select cast(amount as varchar) from main.amounts", [], |row| row.get(0)).expect("delivered");
    assert_eq!(delivered, exact);
}

/// A profile whose `dev` target is DuckDB's and whose `share` is the emulator's.
fn duckdb_sharing_into(emulator: &Emulator) -> String {
    format!(
        "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/dev.duckdb\n      schema: main\n    \
         share:\n      type: bigquery\n      api_endpoint: {}\n      project: {}\n      dataset: analytics\n      location: US\n",
        emulator.endpoint(),
        emulator.project
    )
}

/// A delivery exposure of a DuckDB build into BigQuery: another output of the
/// profile, loaded with a load job, with BigQuery's types.
#[test]
fn a_delivery_from_duckdb_into_bigquery_loads_the_rows_there() {
    let emulator = Emulator::start("shop-test");
    let fixture = Fixture::new()
        .file("profiles.yml", &duckdb_sharing_into(&emulator))
        .file(
            "models/daily.sql",
            "{{ config(materialized='table') }}\nselect * from (values (1, 'Ada', date '2026-11-20', 12.5::double), (2, null, date '2026-11-21', null)) as t(id, name, day, amount)",
        )
        // Each type exactly: a decimal with its precision and scale, a
        // timestamp without zone a DATETIME, an unsigned BIGINT a NUMERIC.
        // (HUGEINT, a sum of integers on DuckDB, and wide decimals load as
        // BIGNUMERIC, which the emulator, on DuckDB, cannot hold: the load
        // job's schema for them is in `warehouse::bigquery::types`' tests.)
        .file(
            "models/totals.sql",
            "{{ config(materialized='table') }}\nselect 1234.56::decimal(18, 2) as price, max(seen_at) as seen_at, max(happened_at) as happened_at, \
             3000000000::ubigint as counted, sum(n)::decimal(38, 9) as total\n\
             from (values (timestamp '2026-11-20 13:45:30.5', timestamptz '2026-11-20 13:45:30+00', 12345678901234567890.123456789::decimal(38, 9))) as t(seen_at, happened_at, n)",
        )
        .file(
            "models/exposures.yml",
            &format!(
                "exposures:\n{}{}",
                table_delivery("daily_to_bigquery", "daily", "share", "science.daily_{{ ds_nodash }}"),
                table_delivery("totals_to_bigquery", "totals", "share", "science.totals")
            ),
        );
    let run = fixture.strata(&["build", "--date", "2026-11-20"]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("OK    delivered daily to table science.daily_20261120 of target share  2 rows"), "{}", run.stdout);
    let rows = emulator.query(&format!(
        "select id, coalesce(name, '-'), cast(day as string), coalesce(cast(amount as string), '-') from `{}.science.daily_20261120` order by id",
        emulator.project
    ));
    assert_eq!(
        rows.iter().map(|r| r.iter().map(|c| normalise(c)).collect::<Vec<_>>().join("|")).collect::<Vec<_>>(),
        ["1|Ada|2026-11-20|12.5", "2|-|2026-11-21|-"]
    );
    let table = emulator.get("datasets/science/tables/daily_20261120");
    let types: Vec<&str> = table["schema"]["fields"].as_array().expect("fields").iter().filter_map(|f| f["type"].as_str()).collect();
    assert_eq!(types, ["INTEGER", "STRING", "DATE", "FLOAT"]);
    let table = emulator.get("datasets/science/tables/totals");
    let fields: Vec<String> = table["schema"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| [&f["name"], &f["type"]].iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(" "))
        .collect();
    // The emulator keeps no precision and scale (the load job sends them).
    assert_eq!(fields, ["price NUMERIC", "seen_at DATETIME", "happened_at TIMESTAMP", "counted NUMERIC", "total NUMERIC"]);
    // Compared in SQL, exactly: each value as its type's literal.
    let rows = emulator.query(&format!(
        "select price = numeric '1234.56', seen_at = datetime '2026-11-20 13:45:30.5', happened_at = timestamp '2026-11-20 13:45:30+00', \
         counted = 3000000000, total = numeric '12345678901234567890.123456789' from `{}.science.totals`",
        emulator.project
    ));
    assert_eq!(rows, [["true", "true", "true", "true", "true"]]);
}

/// A column BigQuery's load cannot take stops the delivery before anything
/// is written there, naming the column and what to do.
#[test]
fn a_delivery_of_a_column_bigquery_cannot_load_is_refused_before_writing() {
    let emulator = Emulator::start("shop-test");
    let fixture = Fixture::new()
        .file("profiles.yml", &duckdb_sharing_into(&emulator))
        .file("models/tags.sql", "{{ config(materialized='table') }}\nselect 1 as id, [1, 2] as tags")
        .file("models/exposures.yml", &format!("exposures:\n{}", table_delivery("tags_to_bigquery", "tags", "share", "science.tags")));
    let run = fixture.strata(&["build", "--date", "2026-11-20"]);
    assert_eq!(run.status, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "could not deliver `tags` to `science.tags` of target `share`: column `tags` (INTEGER[]): a CSV load takes no nested values (array of 32-bit integer); turn them into JSON text (`to_json`) first"
        ),
        "{}",
        run.stdout
    );
    let (status, _) =
        http(emulator.port, "GET", &format!("/bigquery/v2/projects/{}/datasets/science/tables/tags", emulator.project), None).expect("GET");
    assert_eq!(status, 404, "the table was created");
    // Where the model declares the column's type, `compile` refuses it at the exposure.
    let fixture = fixture.file("models/tags.yml", "models:\n  - name: tags\n    columns:\n      - name: tags\n        data_type: INTEGER[]\n");
    let compile = fixture.strata(&["compile"]);
    assert_eq!(compile.status, 2, "{}\n{}", compile.stdout, compile.stderr);
    insta::assert_snapshot!(compile.stderr, @r#"
        error: exposure `tags_to_bigquery`: column `tags` of `tags` (`INTEGER[]`) cannot be delivered into target `share`: a CSV load takes no nested values (array of 32-bit integer); turn them into JSON text (`to_json`) first
         --> models/exposures.yml:6:5
          |
        6 |     export: {format: table, target: share, relation: "science.tags"}
          |     ^^^^^^
    "#);
}

// A pull request's checks on BigQuery: a deferred build of one changed model
// into the CI dataset reads the unchanged upstream from production's dataset,
// `--empty` builds it without rows, and `diff` counts the change in one query.
#[test]
fn a_deferred_ci_build_reads_production_and_diff_counts_the_change() {
    let emulator = Emulator::start("shop-test");
    let profiles = emulator_profiles("shop", &emulator.endpoint(), &emulator.project, "")
        + &format!(
            "    ci:\n      type: bigquery\n      api_endpoint: {}\n      project: shop-test\n      dataset: ci\n      location: US\n",
            emulator.endpoint()
        );
    let stg = |rows: &[(i64, &str, i64)]| {
        rows.iter()
            .map(|(id, country, amount)| format!("select {id} as order_id, '{country}' as country, {amount} as amount"))
            .collect::<Vec<_>>()
            .join("\nunion all\n")
    };
    let fixture = Fixture::new()
        .file("dbt_project.yml", "name: shop\nprofile: shop\nmodels:\n  shop:\n    +materialized: table\n")
        .file("profiles.yml", &profiles)
        .file("models/stg_orders.sql", &stg(&[(1, "KR", 10), (2, "US", 20), (3, "KR", 30)]))
        .file("models/orders.sql", "{{ config(unique_key='order_id') }}\nselect order_id, country, amount from {{ ref('stg_orders') }}\n")
        .file("models/countries.sql", "select country, count(*) as orders from {{ ref('stg_orders') }} group by country\n");
    assert_status(&fixture.strata(&["run", "--date", "2026-11-20"]), 0);
    std::fs::create_dir_all(fixture.path().join("prod-artifacts")).expect("dir");
    std::fs::copy(fixture.path().join("target/manifest.json"), fixture.path().join("prod-artifacts/manifest.json")).expect("copy");
    let fixture = fixture
        .file("models/stg_orders.sql", &stg(&[(1, "KR", 10), (2, "US", 20), (3, "KR", 35), (4, "US", 40)]))
        .file("models/orders.sql", "{{ config(unique_key='order_id') }}\nselect order_id, country, amount * 2 as amount, 'new' as status\nfrom {{ ref('stg_orders') }}\nwhere order_id <> 2\n");
    let ci = |extra: &[&str]| {
        let mut args = vec!["run", "--select", "orders", "--state", "prod-artifacts", "--target", "ci", "--date", "2026-11-20"];
        args.extend_from_slice(extra);
        fixture.strata(&args)
    };
    let empty = ci(&["--defer", "--empty"]);
    assert_status(&empty, 0);
    assert_eq!(emulator.query("select count(*) from `shop-test`.ci.orders"), [["0"]]);
    let deferred = ci(&["--defer"]);
    assert_status(&deferred, 0);
    let compiled = fixture.read("target/compiled/shop/models/orders.sql");
    assert!(compiled.contains("from `shop-test`.`analytics`.`stg_orders`"), "{compiled}");
    // Production's orders 1 and 3, doubled.
    assert_eq!(emulator.query("select order_id, amount, status from `shop-test`.ci.orders order by 1"), [["1", "20", "new"], ["3", "60", "new"]]);

    assert_status(&fixture.strata(&["run", "--select", "stg_orders", "orders", "countries", "--target", "ci", "--date", "2026-11-20"]), 0);
    // The cost of the changed models alone, each read from zero rows.
    let estimate =
        fixture.strata(&["run", "--select", "state:modified", "--state", "prod-artifacts", "--target", "ci", "--defer", "--empty", "--dry-run"]);
    assert_status(&estimate, 0);
    assert!(estimate.stdout.contains("orders") && !estimate.stdout.contains("countries"), "{}", estimate.stdout);
    let diff = fixture.strata(&["diff", "--select", "orders", "countries", "--state", "prod-artifacts", "--target", "ci", "--output", "json"]);
    assert_status(&diff, 0);
    let json: Json = serde_json::from_str(&diff.stdout).expect("diff JSON");
    let counts = |model: usize| {
        let rows = &json["diff"][model]["rows"];
        ["added", "removed", "changed", "unchanged"].map(|key| rows[key].as_u64().unwrap_or(u64::MAX))
    };
    assert_eq!(json["diff"][0]["model"], "countries");
    // Whole rows: KR's and US's counts are unchanged, 2 each now against 2 and 1.
    assert_eq!(counts(0), [1, 1, 0, 1], "{}", diff.stdout);
    assert_eq!(json["diff"][1]["added_columns"][0]["name"], "status");
    assert_eq!(counts(1), [1, 1, 2, 0], "{}", diff.stdout);
}

/// `tests/fixtures/dbt/<name>` with its `prod` target on the emulator.
fn dbt_fixture_on(name: &str, emulator: &Emulator) -> Fixture {
    crate::dbt_projects::dbt_fixture(name).file("profiles.yml", &emulator_profiles(name, &emulator.endpoint(), &emulator.project, ""))
}

/// Each table's columns with their types, then its rows, as text.
fn bigquery_report(emulator: &Emulator, tables: &[(&str, &str)]) -> String {
    let mut report = String::new();
    for (table, order_by) in tables {
        let (dataset, name) = table.split_once('.').expect("dataset.table");
        report.push_str(&format!("{table}\n"));
        let fields = emulator.get(&format!("datasets/{dataset}/tables/{name}"))["schema"]["fields"].clone();
        for field in fields.as_array().into_iter().flatten() {
            report.push_str(&format!("  {}: {}\n", field["name"].as_str().unwrap_or_default(), field["type"].as_str().unwrap_or_default()));
        }
        for row in emulator.query(&format!("select * from `{}`.{dataset}.{name} order by {order_by}", emulator.project)) {
            report.push_str(&format!("  | {}\n", row.join(" | ")));
        }
    }
    report
}

// The package fixture on BigQuery: dbt's BigQuery SQL for the cross-database
// macros, introspection through the REST API, the package's dataset.
#[test]
fn a_project_with_a_package_builds_on_bigquery() {
    let emulator = Emulator::start("jaffle-test");
    let fixture = dbt_fixture_on("jaffle_utils", &emulator);
    crate::run::assert_status(&fixture.strata(&["deps"]), 0);
    crate::run::assert_status(&fixture.strata(&["build", "--date", "2026-11-20"]), 0);
    let report = bigquery_report(
        &emulator,
        &[
            ("analytics_raw.raw_orders", "id"),
            ("analytics.stg_orders", "id"),
            ("analytics.customers", "customer_id"),
            ("analytics.order_status_pivot", "customer_id"),
            ("analytics.calendar", "1"),
            ("analytics.model_inventory", "1"),
            ("analytics_utils.utils_numbers", "n"),
            ("analytics_utils.calendar", "day_number"),
            ("analytics_utils.utils_calendar_days", "1"),
            ("analytics.package_calendar", "1"),
        ],
    );
    insta::assert_snapshot!(report);
}

// The packages workspace (a local, a git and a hub package) on BigQuery: the
// package's dispatch falls to its `default__` there (the project overrides
// only DuckDB's), its model and seed land in their datasets.
#[test]
fn packages_from_a_folder_git_and_the_hub_build_on_bigquery() {
    let emulator = Emulator::start("packages-test");
    let workspace = crate::packages::Workspace::create();
    std::fs::write(workspace.project().join("profiles.yml"), emulator_profiles("shop", &emulator.endpoint(), &emulator.project, ""))
        .expect("profiles.yml");
    crate::run::assert_status(&workspace.strata(&["deps"]), 0);
    crate::run::assert_status(&workspace.strata(&["build", "--date", "2026-11-20"]), 0);
    let report = bigquery_report(
        &emulator,
        &[
            ("analytics.orders", "id"),
            ("analytics.calendar_days", "1"),
            ("analytics.utils_countries", "code"),
            ("analytics_utils.utils_calendar", "day"),
            ("analytics_utils.utils_country_count", "1"),
        ],
    );
    insta::assert_snapshot!(report);
}

// The snapshots fixture on BigQuery, step by step: the same versions as on
// DuckDB (dbt-bigquery's hash, the update and insert in one script transaction).
#[test]
fn snapshots_keep_every_version_on_bigquery() {
    use crate::snapshot_history::{SNAPSHOTS, step, versions};
    let emulator = Emulator::start("history-test");
    let fixture = dbt_fixture_on("jaffle_history", &emulator);
    let mut report = String::new();
    for n in 1..=4 {
        step(&fixture, n);
        crate::run::assert_status(&fixture.strata(&["build", "--date", "2026-11-20"]), 0);
        let tables: Vec<(String, Vec<Vec<String>>)> = SNAPSHOTS
            .iter()
            .map(|(table, columns, order)| {
                let table = table.replace("main_", "analytics_");
                let cast: Vec<String> = columns.split(", ").map(|c| format!("cast({c} as string)")).collect();
                let sql = format!("select {} from `{}`.{table} order by {order}", cast.join(", "), emulator.project);
                (table, emulator.query(&sql))
            })
            .collect();
        report.push_str(&format!("after step {n}\n{}", versions(&tables)));
    }
    insta::assert_snapshot!(report);
    // The columns of each snapshot's table as the emulator describes them (it
    // leaves out a column added by `alter table`, which the query below reads).
    let types: Vec<String> = ["customers_ts", "customers_check", "order_lines_history"]
        .iter()
        .map(|table| {
            let fields = emulator.get(&format!("datasets/analytics_snapshots/tables/{table}"))["schema"]["fields"].clone();
            let fields: Vec<String> = fields
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| format!("{}: {}", f["name"].as_str().unwrap_or_default(), f["type"].as_str().unwrap_or_default()))
                .collect();
            format!("{table}: {}", fields.join(", "))
        })
        .collect();
    insta::assert_snapshot!(types.join("\n"));
    // Step 4's new column was added to the table; the versions before it have none.
    let emails =
        emulator.query(&format!("select id, email from `{}`.analytics_snapshots.customers_ts order by id, dbt_valid_from", emulator.project));
    assert_eq!(emails.len(), 6);
    assert!(emails.iter().all(|row| row[1] == "NULL"), "{emails:?}");
}

// The unit tests fixture on BigQuery: fixtures cast to BigQuery's types,
// the same verdicts as on DuckDB, and the models built from the real rows.
#[test]
fn unit_tests_check_each_model_on_bigquery() {
    let emulator = Emulator::start("units-test");
    let fixture = dbt_fixture_on("jaffle_units", &emulator);
    let build = fixture.strata(&["build", "--no-progress", "--threads", "1"]);
    crate::run::assert_status(&build, 1);
    assert!(build.stdout.contains("| - | 2        | small |"), "{}", build.stdout);
    insta::assert_snapshot!(format!("{:#?}", crate::unit_tests::verdicts(&fixture)));
    let report = bigquery_report(&emulator, &[("analytics.customer_orders", "customer_id"), ("analytics.big_orders", "order_id")]);
    insta::assert_snapshot!(report);
}

// Given rows of ARRAY, STRUCT, JSON and BYTES columns are BigQuery literals
// of their types (BigQuery casts no text to an array, a struct or JSON),
// and bytes are written and compared in base64, so a digest that is no UTF-8
// text compares.
#[test]
fn unit_tests_on_bigquery_give_arrays_structs_json_and_bytes() {
    let emulator = Emulator::start("units-test");
    let unit_tests = "unit_tests:\n  - name: counts_tags\n    model: tag_counts\n    given:\n      - input: ref('tagged')\n        rows:\n          \
                      - {id: 1, tags: [1, 2, 3], info: {a: 2, b: y}, payload: {k: 5}}\n          - {id: 2, tags: [], info: null, payload: null}\n    \
                      expect:\n      rows:\n        - {id: 1, n: 3, b: y, k: '5', digest: \"dxlEebKnwmmKVKEKv+7ahQ==\"}\n        \
                      - {id: 2, n: 0, b: null, k: null, digest: \"dxlEebKnwmmKVKEKv+7ahQ==\"}\n";
    let fixture = shop_on(Fixture::new(), &emulator, "")
        .file(
            "models/tagged.sql",
            "{{ config(materialized='table') }}\nselect 1 as id, [1, 2] as tags, struct(1 as a, 'x' as b) as info, json '{\"k\": 1}' as payload",
        )
        .file(
            "models/tag_counts.sql",
            "select id, array_length(tags) as n, info.b as b, json_value(payload, '$.k') as k, md5('strata') as digest from {{ ref('tagged') }}",
        )
        .file("models/unit_tests.yml", unit_tests);
    let build = fixture.strata(&["build", "--no-progress", "--threads", "1"]);
    crate::run::assert_status(&build, 0);
    assert_eq!(crate::unit_tests::verdicts(&fixture), [("unit_test.shop.tag_counts.counts_tags".to_string(), "pass".to_string())]);
}

// The microbatch fixture on BigQuery: each day's batch replaces its
// partition, reading its day of the view and of the source.
#[test]
fn microbatch_models_build_one_batch_per_day_on_bigquery() {
    let emulator = Emulator::start("batches-test");
    let fixture = dbt_fixture_on("jaffle_batches", &emulator);
    let range = ["build", "--event-time-start", "2026-11-01", "--event-time-end", "2026-11-05"];
    crate::run::assert_status(&fixture.strata(&range), 0);
    let report = bigquery_report(
        &emulator,
        &[("analytics.daily_event_counts", "event_day, event_type"), ("analytics.user_events", "occurred_at"), ("analytics.user_totals", "user_id")],
    );
    insta::assert_snapshot!(report);
}

// A source partitioned by another column than the one `wait_for` names is
// counted by the column it names, not read from the metadata of the other
// (`other`: partitioned by `day`, waited for by `loaded`). Hour and month
// partitions each count for their days; the emulator keeps no metadata of
// them (its ids are `__NULL__`), so here they are counted too, and the ids
// are read in `warehouse::partitions`' unit tests.
#[test]
fn status_reads_hour_month_and_other_partitionings_of_sources() {
    let emulator = Emulator::start("shop-test");
    let project = &emulator.project;
    emulator.query(&format!("create schema if not exists `{project}.raw`"));
    for (table, partitioning) in [("hourly", "timestamp_trunc(at, hour)"), ("monthly", "date_trunc(day, month)"), ("other", "day")] {
        emulator.query(&format!(
            "create table `{project}.raw.{table}` partition by {partitioning} as \
             select timestamp '2026-11-02 01:00:00' as at, date '2026-11-02' as day, date '2026-11-03' as loaded \
             union all select timestamp '2026-11-02 23:00:00', date '2026-11-02', date '2026-11-03' \
             union all select timestamp '2026-11-03 05:00:00', date '2026-11-03', date '2026-11-03'"
        ));
    }
    let fixture = shop_on(Fixture::new(), &emulator, "").file(
        "models/sources.yml",
        "sources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: hourly\n        wait_for: {partition: at}\n      \
         - name: monthly\n        wait_for: {partition: day}\n      - name: other\n        wait_for: {partition: loaded}\n",
    );
    let status = fixture.strata(&["status", "--start", "2026-11-01", "--end", "2026-11-04", "--output", "json"]);
    crate::run::assert_status(&status, 0);
    let json: Json = serde_json::from_str(&status.stdout).unwrap_or_else(|err| panic!("{err}: {}", status.stdout));
    let dates = |node: &Json| -> Vec<String> {
        node["dates"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| format!("{} {} {}", d["date"].as_str().unwrap_or(""), d["state"].as_str().unwrap_or(""), d["rows"]))
            .collect()
    };
    let report: Vec<String> = json["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|node| format!("{}: {}", node["name"].as_str().unwrap_or(""), dates(node).join(", ")))
        .collect();
    insta::assert_snapshot!(report.join("\n"));
}
