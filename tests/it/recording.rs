//! A warehouse that accepts every job and records it: `build` of the
//! example project on the BigQuery generator, so a reviewer reads every job
//! BigQuery would receive. It answers every count with 0 and keeps track of
//! the relations the jobs create and drop, so the second date of a backfill
//! takes the incremental path; it says every table has the same two columns.
//!
//! It is a warehouse like the built-in ones, registered the same way: an
//! adapter per SQL it records (`type: recording_bigquery`,
//! `type: recording_duckdb`), whose targets read that warehouse's keys and
//! name the recording their jobs go to (`recording: <name>`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};

use clap::Parser;
use regex::Regex;
use serde_json::{Map, Value as Json};

use strata::cli::{Cli, Command};
use strata::commands::run::Which;
use strata::core::columns::Column;
use strata::core::diagnostic::{Diagnostic, Location};
use strata::core::job::{Job, JobStats};
use strata::core::table::{Cell, Table};
use strata::project::TargetKind;
use strata::sql::SqlGenerator;
use strata::warehouse::fields::FieldError;
use strata::warehouse::profiles::WarehouseKeys;
use strata::warehouse::target::Target;
use strata::warehouse::{Adapter, Connection, ExistingRelation, RelationKey, RelationKind, Relations, Warehouse, WarehouseError};

/// A recording adapter: the SQL, keys, macros and relations of the built-in
/// warehouse `of`, and connections that record.
struct RecordingAdapter {
    name: &'static str,
    of: &'static str,
}

/// The recordings a target may name, by name.
static RECORDINGS: LazyLock<Mutex<HashMap<String, Recording>>> = LazyLock::new(Mutex::default);

impl RecordingAdapter {
    fn recorded(&self) -> &'static dyn Adapter {
        TargetKind::named(self.of).expect("a built-in warehouse").adapter()
    }

    /// Registers the recording warehouses, once per test process.
    fn register() {
        static REGISTERED: std::sync::Once = std::sync::Once::new();
        REGISTERED.call_once(|| {
            strata::warehouse::register(&RecordingAdapter { name: "recording_bigquery", of: "bigquery" });
            strata::warehouse::register(&RecordingAdapter { name: "recording_duckdb", of: "duckdb" });
        });
    }
}

impl Adapter for RecordingAdapter {
    fn name(&self) -> &'static str {
        self.name
    }

    fn dialect(&self) -> &'static dyn SqlGenerator {
        self.recorded().dialect()
    }

    fn read_keys(
        &self,
        profile_name: &str,
        fields: &Map<String, Json>,
        job_labels: &[(String, String)],
        error: FieldError<'_>,
    ) -> Result<WarehouseKeys, Diagnostic> {
        if !fields.get("recording").is_some_and(Json::is_string) {
            return Err(error("names no `recording:`".into(), "type"));
        }
        self.recorded().read_keys(profile_name, fields, job_labels, error)
    }

    fn unused_keys(&self, fields: &Map<String, Json>, locate: &dyn Fn(&str) -> Location) -> Vec<Diagnostic> {
        let mut fields = fields.clone();
        fields.remove("recording");
        self.recorded().unused_keys(&fields, locate)
    }

    fn open(&self, target: &Target, _root: &Path, _profile_name: &str, _lock_timeout: std::time::Duration) -> Result<Arc<dyn Warehouse>, Diagnostic> {
        let name = target.fields.get("recording").and_then(Json::as_str).unwrap_or_default();
        let recordings = RECORDINGS.lock().map_err(|_| Diagnostic::new("recordings poisoned"))?;
        let recording = recordings.get(name).ok_or_else(|| Diagnostic::new(format!("no recording `{name}`")))?;
        Ok(Arc::new(recording.handle()))
    }

    fn target_aliases(&self, target: &Target) -> Vec<(&'static str, String)> {
        self.recorded().target_aliases(target)
    }

    fn macros(&self) -> Option<(&'static str, &'static str)> {
        self.recorded().macros()
    }

    fn dispatch_names(&self) -> Vec<&'static str> {
        vec![self.name, self.of]
    }

    fn relation_class(&self) -> &'static str {
        self.recorded().relation_class()
    }
}

#[derive(Default)]
struct Log {
    jobs: Vec<String>,
    /// Every job as received, options included.
    whole: Vec<Job>,
    relations: Relations,
}

pub struct Recording {
    sql: &'static dyn SqlGenerator,
    log: Arc<Mutex<Log>>,
    /// What every query answers: one row, one cell.
    answer: Cell,
}

impl Recording {
    /// A recording of the SQL of warehouse `of` (`bigquery`, `duckdb`) whose
    /// every query returns `answer`, that targets of type `recording_<of>`
    /// name by `name` (`recording: <name>`).
    pub fn answering(name: &str, of: &str, answer: Cell) -> Recording {
        RecordingAdapter::register();
        let sql = TargetKind::named(of).expect("a built-in warehouse").adapter().dialect();
        let recording = Recording { sql, log: Arc::default(), answer };
        RECORDINGS.lock().expect("recordings").insert(name.to_string(), recording.handle());
        recording
    }

    /// Every job received, in order.
    pub fn jobs(&self) -> Vec<String> {
        self.log.lock().map(|log| log.jobs.clone()).unwrap_or_default()
    }

    /// Every job received, with its options.
    pub fn whole_jobs(&self) -> Vec<Job> {
        self.log.lock().map(|log| log.whole.clone()).unwrap_or_default()
    }

    /// A second handle on the same log, for the run to own.
    pub fn handle(&self) -> Recording {
        Recording { sql: self.sql, log: self.log.clone(), answer: self.answer.clone() }
    }
}

impl Warehouse for Recording {
    fn connect(&self) -> Result<Box<dyn Connection>, WarehouseError> {
        Ok(Box::new(self.handle()))
    }

    fn interrupt(&self) {}

    fn sql(&self) -> &dyn SqlGenerator {
        self.sql
    }
}

/// `` `project`.`dataset`.`name` `` after the verbs that create or drop a relation.
static CHANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^(create or replace table|create or replace view|create table|drop table if exists|drop view if exists) `([^`]+)`\.`([^`]+)`\.`([^`]+)`")
        .unwrap_or_else(|_| unreachable!())
});

impl Connection for Recording {
    fn run(&mut self, job: &Job) -> Result<JobStats, WarehouseError> {
        let mut log = self.log.lock().map_err(|_| WarehouseError::query("log poisoned"))?;
        for change in CHANGE.captures_iter(&job.sql) {
            let key = RelationKey { database: Some(change[2].to_string()), schema: change[3].to_string(), name: change[4].to_string() };
            match &change[1] {
                verb if verb.starts_with("drop") => {
                    log.relations.remove(&key);
                }
                verb => {
                    let kind = if verb.ends_with("view") { RelationKind::View } else { RelationKind::Table };
                    let mut relation = ExistingRelation::of_kind(kind);
                    // A table created partitioned says so, as BigQuery's listing does.
                    if let Some(field) = job.sql.split("\npartition by ").nth(1).and_then(|rest| rest.split_whitespace().next()) {
                        relation.partition = Some((field.trim_matches('`').to_string(), "DATE".to_string()));
                    }
                    log.relations.insert(key, relation);
                }
            }
        }
        log.jobs.push(if job.script { format!("-- one script\n{}", job.sql) } else { job.sql.clone() });
        log.whole.push(job.clone());
        Ok(JobStats { rows_affected: Some(0), job_id: Some(format!("job_{}", log.jobs.len())), ..JobStats::default() })
    }

    fn estimate(&mut self, job: &Job) -> Result<JobStats, WarehouseError> {
        let mut log = self.log.lock().map_err(|_| WarehouseError::query("log poisoned"))?;
        log.jobs.push(format!("-- a dry run\n{}", job.sql));
        log.whole.push(job.clone());
        Ok(JobStats::default())
    }

    fn query(&mut self, job: &Job) -> Result<Table, WarehouseError> {
        let mut log = self.log.lock().map_err(|_| WarehouseError::query("log poisoned"))?;
        log.jobs.push(format!("-- a query\n{}", job.sql));
        log.whole.push(job.clone());
        Ok(Table { columns: vec!["count".into()], rows: vec![vec![self.answer.clone()]] })
    }

    fn stream(&mut self, job: &Job, page: &mut strata::warehouse::Page<'_>) -> Result<u64, WarehouseError> {
        let table = self.query(job)?;
        page(&[Column::new("count", "INT64")], table.rows);
        Ok(1)
    }

    fn list_relations(&mut self, _schemas: &[strata::warehouse::Schema]) -> Result<Relations, WarehouseError> {
        Ok(self.log.lock().map(|log| log.relations.clone()).unwrap_or_default())
    }

    /// Every table has the columns `id` and `day`, so an insert names them.
    fn columns(&mut self, _relation: &strata::core::relation::Relation) -> Result<Vec<Column>, WarehouseError> {
        Ok(vec![Column::new("id", "INT64"), Column::new("day", "DATE")])
    }
}

/// A copy of the example project at the repository root, whose `prod`
/// target records into `recording` with BigQuery's SQL.
fn example_copy(recording: &str) -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = tempfile::tempdir().unwrap();
    for entry in ["dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "data_tests"] {
        for file in walkdir::WalkDir::new(root.join(entry)).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()) {
            let relative = file.path().strip_prefix(root).unwrap();
            std::fs::create_dir_all(copy.path().join(relative).parent().unwrap()).unwrap();
            std::fs::copy(file.path(), copy.path().join(relative)).unwrap();
        }
    }
    let profiles = copy.path().join("profiles.yml");
    let text = std::fs::read_to_string(&profiles).unwrap();
    let recorded = format!("type: recording_bigquery\n      recording: '{recording}'");
    assert!(text.contains("type: bigquery\n"), "{text}");
    std::fs::write(&profiles, text.replacen("type: bigquery", &recorded, 1)).unwrap();
    copy
}

/// Runs `build` with `args`, as `strata build` does; the exit status.
fn build(args: &strata::cli::RunArgs) -> i32 {
    strata::commands::run::execute(Which::Build, &args.options()).unwrap_or_else(|failure| panic!("{failure}"))
}

/// `build` of a project with `files` on a recorder answering `answer`:
/// the exit status, run_results.json and the jobs received.
fn build_answering(files: &[(&str, &str)], answer: Cell) -> (i32, serde_json::Value, Vec<String>) {
    build_recorded(files, answer, "duckdb", "path: target/dev.duckdb\n      schema: main")
}

/// `build` of a project with `files` on a recorder of warehouse `of`'s SQL,
/// for a target with the `fields` of that warehouse.
fn build_recorded(files: &[(&str, &str)], answer: Cell, of: &str, fields: &str) -> (i32, serde_json::Value, Vec<String>) {
    let project = tempfile::tempdir().unwrap();
    let name = project.path().to_string_lossy().into_owned();
    let recording = Recording::answering(&name, of, answer);
    let profiles = format!("shop:\n  target: dev\n  outputs:\n    dev:\n      type: recording_{of}\n      recording: '{name}'\n      {fields}\n");
    let base = [("dbt_project.yml", "name: shop\nprofile: shop\n"), ("profiles.yml", profiles.as_str())];
    for (path, text) in base.iter().chain(files) {
        let full = project.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    let dir = project.path().to_string_lossy().into_owned();
    let cli =
        Cli::try_parse_from(["strata", "build", "--project-dir", &dir, "--profiles-dir", &dir, "--date", "2026-11-20", "--threads", "1", "--quiet"])
            .unwrap();
    let Command::Build(args) = &cli.command else { unreachable!() };
    let status = build(args);
    let results = std::fs::read_to_string(project.path().join("target/run_results.json")).unwrap();
    (status, serde_json::from_str(&results).unwrap(), recording.jobs())
}

const TESTED: [(&str, &str); 2] = [
    ("models/orders.sql", "{{ config(materialized='table') }} select 1 as id"),
    ("models/schema.yml", "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        tests: [not_null]\n"),
];

fn result<'a>(results: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    results["results"].as_array().unwrap().iter().find(|r| r["unique_id"] == id).unwrap()
}

// BigQuery sends every number as text: a test counting "3" failures fails with 3.
#[test]
fn a_failure_count_sent_as_text_is_read() {
    let (status, results, _) = build_answering(&TESTED, Cell::Text("3".into()));
    assert_eq!(status, 1);
    let test = result(&results, "test.shop.not_null_orders_id.84ef11d8fe");
    assert_eq!((test["status"].as_str(), test["failures"].as_u64()), (Some("fail"), Some(3)));
}

// A quote in an accepted value is escaped as BigQuery reads it (`''` would be
// two adjacent literals there, and the test would count `it's` as not accepted).
#[test]
fn accepted_values_are_quoted_as_bigquery_reads_them() {
    let files = [
        ("seeds/words.csv", "word\nit's\nplain\n"),
        (
            "models/schema.yml",
            "version: 2\nseeds:\n  - name: words\n    columns:\n      - name: word\n        tests:\n          - accepted_values: {values: [\"it's\", plain]}\n",
        ),
    ];
    let (status, _, jobs) = build_recorded(&files, Cell::Int(0), "bigquery", "project: shop-prod\n      dataset: analytics");
    assert_eq!(status, 0, "{jobs:#?}");
    let test = jobs.iter().find(|job| job.contains("dbt_internal_test")).unwrap();
    insta::assert_snapshot!(test, @r"
    -- a query
    select count(*) as failures from (
    select word as value_field, count(*) as n_records
    from `shop-prod`.`analytics`.`words`
    where word not in ('it\'s', 'plain')
    group by word
    ) as dbt_internal_test
    ");
    let seed = jobs.iter().find(|job| job.starts_with("insert into")).unwrap();
    assert!(seed.contains("('it\\'s')"), "{seed}");
}

// A count that cannot be read is an error, never a pass.
#[test]
fn a_null_failure_count_is_an_error() {
    let (status, results, _) = build_answering(&TESTED, Cell::Null);
    assert_eq!(status, 1);
    let test = result(&results, "test.shop.not_null_orders_id.84ef11d8fe");
    assert_eq!(test["status"], "error");
    assert_eq!(test["message"], "the count query returned `NULL`, not a whole number, so the test cannot tell whether it passed");
}

// The partition guard that cannot read its count refuses: no job after it writes.
#[test]
fn an_unreadable_guard_count_refuses_the_write() {
    let model = "{{ config(materialized='incremental', partition_by='day') }} select date '2026-11-20' as day";
    let (status, results, jobs) = build_answering(&[("models/daily.sql", model)], Cell::Float(0.5));
    assert_eq!(status, 1);
    let daily = result(&results, "model.shop.daily");
    assert_eq!(daily["status"], "error");
    assert!(daily["message"].as_str().unwrap().starts_with("the count query returned `0.5`, not a whole number: select count(*)"), "{daily}");
    let guard = jobs.iter().position(|job| job.starts_with("-- a query")).unwrap();
    assert_eq!(jobs[guard + 1..], ["rollback"], "{jobs:#?}");
}

// Every job `strata build --target prod` sends BigQuery for two dates: the
// first builds every table, the second replaces the date's partitions.
/// `build` of a copy of the example on its BigQuery target, for `dates`
/// (`--date ...` or `--start ... --end ...`), recorded; it must succeed.
fn build_example_on_prod(dates: &[&str]) -> (Recording, String) {
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!("example-{}", BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let recording = Recording::answering(&name, "bigquery", Cell::Int(0));
    let project = example_copy(&name);
    let dir = project.path().to_string_lossy().into_owned();
    let mut args = vec!["strata", "build", "--project-dir", &dir, "--profiles-dir", &dir, "--target", "prod"];
    args.extend_from_slice(dates);
    args.extend(["--threads", "1", "--skip-checks", "--quiet", "--exclude", "exposure:*"]);
    let cli = Cli::try_parse_from(args).unwrap();
    let Command::Build(args) = &cli.command else { unreachable!() };
    assert_eq!(build(args), 0);
    (recording, name)
}

#[test]
fn example_build_on_bigquery_for_two_dates() {
    let (recording, _) = build_example_on_prod(&["--start", "2026-11-19", "--end", "2026-11-20"]);
    // A seed's rows are many: the snapshot keeps the first two of each insert.
    let jobs: Vec<String> = recording
        .jobs()
        .into_iter()
        .map(|job| match job.split_once(" values\n") {
            Some((head, rows)) if job.starts_with("insert into") => {
                let rows: Vec<&str> = rows.split(",\n").collect();
                format!("{head} values\n{},\n-- and {} more rows", rows[..2.min(rows.len())].join(",\n"), rows.len().saturating_sub(2))
            }
            _ => job,
        })
        .collect();
    // Each invocation stages its rows under a name of its own.
    let invocation = regex::Regex::new(r"__strata_\d{8}t\d{12}\b").expect("regex");
    let text = invocation.replace_all(&jobs.join(";\n\n"), "__strata_<invocation>").into_owned();
    // The second date replaces partitions rather than rebuilding tables.
    assert!(
        text.contains("-- one script\nbegin transaction;\ndelete from `analytics-prod`.`analytics_marketing`.`utm_spend_full_joined` where"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

// `build --missing --dry-run` reads the partitions of BigQuery tables from
// `INFORMATION_SCHEMA.PARTITIONS`, one query per dataset that scans no table;
// only the sources, whose tables are not partitioned, are counted. Nothing is built.
#[test]
fn status_reads_bigquery_partitions_from_metadata_one_query_per_dataset() {
    let (recording, name) = build_example_on_prod(&["--date", "2026-11-10"]);
    let before = recording.jobs().len();
    let project = example_copy(&name);
    let dir = project.path().to_string_lossy().into_owned();
    let args = ["strata", "build", "--project-dir", &dir, "--profiles-dir", &dir, "--target", "prod", "--start", "2026-11-01", "--end", "2026-11-10"];
    let cli = Cli::try_parse_from(args.iter().chain(&["--missing", "--dry-run", "--skip-checks", "--exclude", "exposure:*"])).unwrap();
    let Command::Build(args) = &cli.command else { unreachable!() };
    assert_eq!(build(args), 0);
    let jobs = recording.jobs()[before..].to_vec();
    assert_eq!(jobs.iter().filter(|job| job.contains("INFORMATION_SCHEMA.PARTITIONS")).count(), 3, "{jobs:#?}");
    insta::assert_snapshot!(jobs.join(";\n\n"));
}

// Every job carries labels for cost attribution (the target's, the model's and
// strata's own) and the target's byte limit.
#[test]
fn jobs_carry_labels_and_the_byte_limit() {
    let (recording, _) = build_example_on_prod(&["--date", "2026-11-20"]);
    let jobs = recording.whole_jobs();
    let built = jobs
        .iter()
        .find(|job| job.sql.starts_with("create or replace table `analytics-prod`.`analytics_marketing`.`utm_spend_full_joined`\n"))
        .unwrap();
    let label = |job: &Job, key: &str| job.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(label(built, "strata_model").as_deref(), Some("utm_spend_full_joined"));
    assert_eq!(label(built, "strata_execution_date").as_deref(), Some("2026-11-20"));
    assert!(label(built, "strata_invocation_id").is_some_and(|id| !id.is_empty()), "{:?}", built.labels);
    assert_eq!(built.maximum_bytes_billed, Some(100_000_000_000));
    // A data test's count and a seed's load carry them too.
    let test = jobs.iter().find(|job| label(job, "strata_model").as_deref() == Some("not_null_utm_spend_full_joined_report_date")).unwrap();
    assert!(test.sql.contains("dbt_internal_test") && test.sql.contains("report_date is null"), "{}", test.sql);
    let seed = jobs.iter().find(|job| job.sql.starts_with("insert into")).unwrap();
    assert!(label(seed, "strata_model").is_some(), "{:?}", seed.labels);
    // Two runs of a model at once never share staged rows: each invocation's
    // staging table carries its id.
    let staged = jobs
        .iter()
        .find(|job| job.sql.starts_with("create or replace table `analytics-prod`.`analytics_marketing`.`userid_mapped_logs__strata_"))
        .unwrap();
    let invocation = label(staged, "strata_invocation_id").unwrap_or_default();
    assert!(staged.sql.contains(&format!("userid_mapped_logs__strata_{invocation}`")), "{}", staged.sql);
}
