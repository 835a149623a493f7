//! Integration tests: drive the real `strata` binary on small projects written
//! into temporary directories, and on the example project at the repository root.

// As in the library: `Diagnostic` is large, and errors are the cold path.
#![allow(clippy::result_large_err)]

mod bigquery;
mod build;
mod cli;
mod compile;
pub mod dates;
pub mod dbt_projects;
mod docs;
mod errors;
mod example;
mod flags;
mod layers;
mod microbatch;
pub mod operate;
pub mod packages;
mod properties;
mod recording;
mod run;
mod schema_change;
mod select;
pub mod snapshot_history;
pub mod state;
mod status;
mod tableau;
pub mod unit_tests;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A throwaway dbt project in a temporary directory.
pub struct Fixture {
    dir: tempfile::TempDir,
}

pub const PROJECT: &str = "name: shop\nprofile: shop\nconfig-version: 2\n";

pub const PROFILES: &str = "\
shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: target/dev.duckdb
      schema: main
    prod:
      type: bigquery
      method: service-account
      project: shop-prod
      dataset: analytics
      keyfile: /secrets/key.json
";

impl Default for Fixture {
    fn default() -> Fixture {
        Fixture::new()
    }
}

impl Fixture {
    /// A project named `shop` with a DuckDB `dev` and a BigQuery `prod` target.
    pub fn new() -> Fixture {
        let fixture = Fixture { dir: tempfile::tempdir().expect("temp dir") };
        fixture.file("dbt_project.yml", PROJECT).file("profiles.yml", PROFILES)
    }

    /// Writes `text` to `path` inside the project.
    pub fn file(self, path: &str, text: &str) -> Fixture {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("create dirs");
        std::fs::write(full, text).expect("write fixture file");
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(path)).unwrap_or_else(|err| panic!("read {path}: {err}"))
    }

    /// `target/run_results.json`, and each result's unique id with its `field`.
    pub fn results(&self, field: &str) -> (serde_json::Value, Vec<(String, String)>) {
        let results: serde_json::Value = serde_json::from_str(&self.read("target/run_results.json")).expect("run_results.json");
        let pairs = results["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| (r["unique_id"].as_str().unwrap_or_default().to_string(), r[field].as_str().unwrap_or_default().to_string()))
            .collect();
        (results, pairs)
    }

    pub fn strata(&self, args: &[&str]) -> Run {
        run_in(self.dir.path(), args)
    }
}

/// What a user sees from one command.
#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// An exposure (YAML list item) delivering `model` into table `relation` of
/// output `target` of the profile.
pub fn table_delivery(name: &str, model: &str, target: &str, relation: &str) -> String {
    format!(
        "  - name: {name}\n    type: delivery\n    owner: {{name: Science}}\n    depends_on: [\"ref('{model}')\"]\n    \
         export: {{format: table, target: {target}, relation: \"{relation}\"}}\n"
    )
}

/// The real binary, run in `dir` with an environment of its own: an empty
/// `HOME` (so no developer's `~/.dbt/profiles.yml` is read), no dbt variables,
/// no colour, UTC.
pub fn strata_command(dir: &Path) -> Command {
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("empty-home");
    std::fs::create_dir_all(&home).expect("create the tests' HOME");
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("strata"));
    command
        .current_dir(dir)
        .env("HOME", &home)
        .env_remove("DBT_PROFILES_DIR")
        .env_remove("DBT_PROJECT_DIR")
        .env_remove("TZ")
        .env_remove("DBT_LOG_FORMAT")
        .env_remove("DBT_STATE")
        .env_remove("DBT_DEFER")
        .env_remove("DBT_FAVOR_STATE")
        .env_remove("DBT_WARN_ERROR")
        .env_remove("DBT_WARN_ERROR_OPTIONS")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    command
}

pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    Run::from(strata_command(dir).args(args).output().expect("run strata"))
}

impl From<std::process::Output> for Run {
    fn from(output: std::process::Output) -> Run {
        Run {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Waits for `child` to end; if it still runs after `limit`, ends it and
/// fails the test with `stuck`. Not a speed check: for a command that, when
/// the behaviour under test breaks, would run for hours instead of failing.
pub fn wait_within(mut child: std::process::Child, limit: std::time::Duration, stuck: &str) -> std::process::Output {
    let started = std::time::Instant::now();
    while child.try_wait().expect("poll strata").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().expect("read strata's output");
            panic!("{stuck}\n{}", String::from_utf8_lossy(&output.stdout));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("read strata's output")
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
