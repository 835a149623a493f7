//! `strata retry`: the failed and skipped nodes of the last invocation, for its dates and flags.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::core::dates::ExecutionDate;
use crate::core::diagnostic::Diagnostic;
use crate::project::LoadOptions;
use crate::project::Project;
use crate::session::options::{DateOptions, Invocation, RetryOptions, RunOptions};
use crate::session::{Failure, Session};

use crate::session::phases::Phase;
use crate::session::run::{Which, run_phases};

/// `strata retry`: the failed and skipped nodes of the last invocation, read
/// from `target/run_results.json`, for the dates and flags it recorded.
pub fn retry(args: &RetryOptions) -> Result<i32, Failure> {
    let started = Instant::now();
    // The profile may be the one `--profile` named last time: read the
    // artifacts first, the project with its recorded flags after.
    let root = &args.project.project_dir;
    let path = Project::target_path(root)?.join("run_results.json");
    let shown = path.strip_prefix(root).unwrap_or(&path).display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|_| {
        Diagnostic::new(format!("there is nothing to retry: `{shown}` does not exist"))
            .help("`strata retry` re-runs what failed in the last `strata run`, `build`, `seed` or `test`")
    })?;
    let last: serde_json::Value = serde_json::from_str(&text).map_err(|err| Diagnostic::new(format!("`{shown}` is not valid JSON: {err}")))?;
    let recorded: Invocation = serde_json::from_value(last["args"].clone()).map_err(|err| {
        Diagnostic::new(format!("`{shown}` does not record how it was run: {err}")).help("run the command again instead of `strata retry`")
    })?;
    let which = match recorded.which.as_str() {
        "seed" => Which::Seed,
        "run" => Which::Run,
        "test" => Which::Test,
        "build" => Which::Build,
        "refresh" => Which::Refresh,
        "snapshot" => Which::Snapshot,
        _ => return Err(Diagnostic::new(format!("`{shown}` was not written by `strata run`, `build`, `seed` or `test`")).into()),
    };
    let mut failed: BTreeMap<ExecutionDate, BTreeSet<String>> = BTreeMap::new();
    for result in last["results"].as_array().into_iter().flatten() {
        let status = result["status"].as_str().unwrap_or_default();
        if !matches!(status, "error" | "fail" | "skipped") {
            continue;
        }
        let (Some(id), Some(date)) = (result["unique_id"].as_str(), result["execution_date"].as_str()) else { continue };
        let date = ExecutionDate::parse(date, "execution_date")?;
        failed.entry(date).or_default().insert(id.to_string());
    }
    if failed.is_empty() {
        println!("Nothing to retry: every node of the last `strata {}` passed", which.name());
        return Ok(0);
    }

    let Some(dates) = DateOptions::of_dates(&recorded.dates) else {
        return Err(Diagnostic::new(format!("`{shown}` records no execution dates")).into());
    };
    let given = args.project.clone();
    let run_options = RunOptions {
        project: LoadOptions {
            target: given.target.clone().or_else(|| Some(recorded.target.clone())),
            profile: given.profile.clone().or_else(|| recorded.profile.clone()),
            vars: given.vars.clone().or_else(|| recorded.vars.clone()),
            ..given
        },
        selection: recorded.selection.clone(),
        dates,
        threads: args.threads.or(recorded.threads),
        full_refresh: recorded.full_refresh,
        fail_fast: false,
        skip_checks: recorded.skip_checks,
        lock_timeout: crate::warehouse::DEFAULT_LOCK_TIMEOUT,
        no_progress: args.no_progress,
        quiet: args.quiet,
        dry_run: false,
        deferral: recorded.deferral,
        empty: recorded.empty,
        missing: false,
    };
    let session = Session::open(&run_options.project, &run_options.dates)?;
    let plan: Vec<Phase> = failed.into_iter().map(|(date, nodes)| Phase { date, nodes }).collect();
    // Only what the last run did not rebuild yet: a node that succeeded on an
    // earlier date of a `--full-refresh` backfill must not be rebuilt again,
    // which would drop those dates' partitions.
    let to_refresh: BTreeSet<String> = if run_options.full_refresh {
        match &recorded.full_refresh_pending {
            Some(pending) => pending.iter().cloned().collect(),
            None => {
                let succeeded: BTreeSet<&str> = last["results"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|result| matches!(result["status"].as_str(), Some("success" | "pass" | "warn")))
                    .filter_map(|result| result["unique_id"].as_str())
                    .collect();
                plan.iter().flat_map(|phase| &phase.nodes).filter(|id| !succeeded.contains(id.as_str())).cloned().collect()
            }
        }
    } else {
        BTreeSet::new()
    };
    let invocation = Invocation { retry: true, full_refresh_pending: None, ..recorded };
    let lock_timeout = run_options.lock_timeout;
    run_phases(which, &run_options, &session, plan, to_refresh, invocation, started, &|project| project.open_warehouse(lock_timeout))
}
