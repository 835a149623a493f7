//! A warehouse for tests that accepts every job and records it: `build` of the
//! example project on the BigQuery generator, so a reviewer reads every job
//! BigQuery would receive. It answers every count with 0 and keeps track of
//! the relations the jobs create and drop, so the second date of a backfill
//! takes the incremental path.

use std::sync::{Arc, LazyLock, Mutex};

use regex::Regex;

use crate::core::job::{Job, JobStats};
use crate::core::table::{Cell, Table};
use crate::warehouse::sql::SqlGenerator;
use crate::warehouse::{Connection, ExistingRelation, RelationKey, RelationKind, Relations, Warehouse, WarehouseError};

#[derive(Default)]
struct Log {
    jobs: Vec<String>,
    relations: Relations,
}

pub struct Recording {
    sql: &'static dyn SqlGenerator,
    log: Arc<Mutex<Log>>,
}

impl Recording {
    pub fn new(sql: &'static dyn SqlGenerator) -> Recording {
        Recording { sql, log: Arc::default() }
    }

    /// Every job received, in order.
    pub fn jobs(&self) -> Vec<String> {
        self.log.lock().map(|log| log.jobs.clone()).unwrap_or_default()
    }

    /// A second handle on the same log, for the run to own.
    pub fn handle(&self) -> Recording {
        Recording { sql: self.sql, log: self.log.clone() }
    }
}

impl Warehouse for Recording {
    fn connect(&self) -> Result<Box<dyn Connection>, WarehouseError> {
        Ok(Box::new(Recording { sql: self.sql, log: self.log.clone() }))
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
                    log.relations.insert(key, ExistingRelation::of_kind(kind));
                }
            }
        }
        log.jobs.push(if job.script { format!("-- one script\n{}", job.sql) } else { job.sql.clone() });
        Ok(JobStats { rows_affected: Some(0), job_id: Some(format!("job_{}", log.jobs.len())), ..JobStats::default() })
    }

    fn query(&mut self, job: &Job) -> Result<Table, WarehouseError> {
        let mut log = self.log.lock().map_err(|_| WarehouseError::query("log poisoned"))?;
        log.jobs.push(format!("-- a query\n{}", job.sql));
        Ok(Table { columns: vec!["count".into()], rows: vec![vec![Cell::Int(0)]] })
    }

    fn list_relations(&mut self) -> Result<Relations, WarehouseError> {
        Ok(self.log.lock().map(|log| log.relations.clone()).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::run::{Which, execute_on};

    /// A copy of the example project at the repository root.
    fn example_copy() -> tempfile::TempDir {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let copy = tempfile::tempdir().unwrap();
        for entry in ["dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "data_tests"] {
            for file in walkdir::WalkDir::new(root.join(entry)).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()) {
                let relative = file.path().strip_prefix(root).unwrap();
                std::fs::create_dir_all(copy.path().join(relative).parent().unwrap()).unwrap();
                std::fs::copy(file.path(), copy.path().join(relative)).unwrap();
            }
        }
        copy
    }

    // Every job `strata build --target prod` sends BigQuery for two dates: the
    // first builds every table, the second replaces the date's partitions.
    #[test]
    fn example_build_on_bigquery_for_two_dates() {
        let project = example_copy();
        let dir = project.path().to_string_lossy().into_owned();
        let cli = Cli::try_parse_from([
            "strata", "build", "--project-dir", &dir, "--profiles-dir", &dir, "--target", "prod", "--start", "2026-11-19", "--end",
            "2026-11-20", "--threads", "1", "--skip-checks", "--quiet",
        ])
        .unwrap();
        let Command::Build(args) = &cli.command else { unreachable!() };
        let recording = Recording::new(&crate::warehouse::sql::BigQuerySql);
        let handle = recording.handle();
        let open = move |_: &crate::project::Project| -> Result<Arc<dyn Warehouse>, crate::core::diagnostic::Diagnostic> {
            Ok(Arc::new(handle.handle()))
        };
        let status = execute_on(Which::Build, args, &open).unwrap_or_else(|failure| panic!("{failure}"));
        assert_eq!(status, 0);
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
        let text = jobs.join(";\n\n");
        // The second date replaces partitions rather than rebuilding tables.
        assert!(text.contains("merge into `analytics-prod`.`analytics_marketing`.`utm_spend_full_joined`"), "{text}");
        insta::assert_snapshot!(text);
    }
}
