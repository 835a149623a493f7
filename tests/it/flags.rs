//! The flags every running command shares: `--fail-fast`, `--project-dir` and
//! `DBT_PROJECT_DIR`, `--quiet`, `--threads`, `--no-progress` (on a terminal).

use crate::Fixture;
use crate::run::{assert_status, scalar};

/// `broken` fails; `one` and `two` do not depend on it.
fn one_broken() -> Fixture {
    Fixture::new()
        .file("models/a_broken.sql", "{{ config(materialized='table') }} select * from nowhere")
        .file("models/one.sql", "{{ config(materialized='table') }} select 1 as id")
        .file("models/two.sql", "{{ config(materialized='table') }} select 2 as id")
}

#[test]
fn fail_fast_stops_scheduling_after_the_first_failure() {
    let fixture = one_broken();
    // Without it, the independent models are built.
    let run = fixture.strata(&["run", "--threads", "1"]);
    assert_status(&run, 1);
    assert_eq!(scalar(&fixture, "select count(*) from information_schema.tables"), "2");

    let fixture = one_broken();
    for flag in ["--fail-fast", "-x"] {
        let run = fixture.strata(&["run", "--threads", "1", flag]);
        assert_status(&run, 1);
        let (_, statuses) = fixture.results("status");
        assert_eq!(
            statuses,
            [("model.shop.a_broken", "error"), ("model.shop.one", "skipped"), ("model.shop.two", "skipped")]
                .map(|(id, status)| (id.to_string(), status.to_string()))
        );
        assert!(run.stdout.contains("SKIP  model one  (not run: the run stopped at the first failure (`--fail-fast`))"), "{}", run.stdout);
        assert_eq!(scalar(&fixture, "select count(*) from information_schema.tables"), "0", "{flag}");
    }
}

#[test]
fn a_project_in_another_directory_runs_by_flag_or_environment() {
    let fixture = Fixture::new().file("models/one.sql", "select 1 as id");
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let project = fixture.path().to_str().expect("utf-8 path");
    let run = crate::run_in(elsewhere.path(), &["run", "--project-dir", project]);
    assert_status(&run, 0);
    assert_eq!(scalar(&fixture, "select id from one"), "1");
    assert!(!elsewhere.path().join("target").exists(), "target/ belongs to the project, not the working directory");

    let fixture = Fixture::new().file("models/two.sql", "select 2 as id");
    let output = crate::strata_command(elsewhere.path()).env("DBT_PROJECT_DIR", fixture.path()).arg("run").output().expect("run strata");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(scalar(&fixture, "select id from two"), "2");
}

#[test]
fn quiet_prints_failures_and_the_summary_only() {
    let fixture = one_broken();
    let run = fixture.strata(&["run", "--threads", "1", "--quiet"]);
    assert_status(&run, 1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("ERROR model a_broken  "), "{}", run.stdout);
    assert_eq!(lines[1], "PASS=2 WARN=0 ERROR=1 SKIP=0 TOTAL=3", "{}", run.stdout);
    assert!(!run.stdout.contains("OK "), "{}", run.stdout);
    assert!(!run.stdout.contains("Finished"), "{}", run.stdout);
    let loud = fixture.strata(&["run", "--threads", "1"]);
    assert!(loud.stdout.contains("OK    created table main.one"), "{}", loud.stdout);
}

/// Five independent table models, each long enough (tens of milliseconds) that
/// every worker takes one before the first finishes.
fn five_independent(profile_threads: Option<usize>) -> Fixture {
    let profiles = match profile_threads {
        Some(threads) => crate::PROFILES.replace("      schema: main\n", &format!("      schema: main\n      threads: {threads}\n")),
        None => crate::PROFILES.to_string(),
    };
    (1..=5).fold(Fixture::new().file("profiles.yml", &profiles), |fixture, i| {
        fixture.file(&format!("models/m{i}.sql"), "{{ config(materialized='table') }} select sum(hash(i)) % 7 as h from range(3000000) t(i)")
    })
}

/// The distinct workers that ran the nodes of the last invocation.
fn workers(fixture: &Fixture) -> std::collections::BTreeSet<String> {
    fixture.results("thread_id").1.into_iter().map(|(_, thread)| thread).collect()
}

/// The workers an embedded DuckDB runs `threads` on: at most one per core.
fn duckdb_workers(threads: usize) -> std::collections::BTreeSet<String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (1..=threads.min(cores)).map(|n| format!("Thread-{n} (worker)")).collect()
}

#[test]
fn threads_default_to_the_targets_then_four_and_the_flag_overrides_both() {
    let fixture = five_independent(None);
    let run = fixture.strata(&["run"]);
    assert_status(&run, 0);
    assert!(run.stdout.starts_with("Concurrency: 4 threads (target='dev')\n\n"), "{}", run.stdout);
    assert_eq!(workers(&fixture), duckdb_workers(4));

    let fixture = five_independent(Some(2));
    let run = fixture.strata(&["run"]);
    assert_status(&run, 0);
    assert!(run.stdout.starts_with("Concurrency: 2 threads (target='dev')\n\n"), "{}", run.stdout);
    assert_eq!(workers(&fixture), duckdb_workers(2));

    let run = fixture.strata(&["run", "--threads", "1"]);
    assert_status(&run, 0);
    assert!(run.stdout.starts_with("Concurrency: 1 thread (target='dev')\n\n"), "{}", run.stdout);
    assert_eq!(workers(&fixture), ["Thread-1 (worker)".to_string()].into());
}

// DuckDB runs inside strata: workers beyond the cores would only queue for
// them, and each query's own threads would compete with the other workers',
// so the cores are shared out between the workers as DuckDB's `threads`,
// unless the profile sets it.
#[test]
fn duckdb_shares_the_cores_between_the_workers() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = "{{ config(materialized='table') }} select current_setting('threads') as duckdb_threads";
    let fixture = Fixture::new().file("models/setting.sql", model);
    let threads = |fixture: &Fixture| crate::run::query(fixture, "select duckdb_threads from main.setting")[0][0].clone();
    assert_status(&fixture.strata(&["run", "--threads", "1"]), 0);
    assert_eq!(threads(&fixture), cores.to_string());
    assert_status(&fixture.strata(&["run", "--threads", "64"]), 0);
    assert_eq!(threads(&fixture), "1");

    let profiles = crate::PROFILES.replace("      schema: main\n", "      schema: main\n      settings:\n        threads: 3\n");
    let fixture = Fixture::new().file("profiles.yml", &profiles).file("models/setting.sql", model);
    assert_status(&fixture.strata(&["run", "--threads", "64"]), 0);
    assert_eq!(threads(&fixture), "3");
}

/// What a user sees running strata on a terminal: stdout and stderr on one
/// pseudo-terminal, and the exit status.
fn on_a_terminal(fixture: &Fixture, args: &[&str]) -> (i32, String) {
    let pty = nix::pty::openpty(None, None).expect("open a pseudo-terminal");
    let mut child = crate::strata_command(fixture.path())
        .args(args)
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .stdout(pty.slave.try_clone().expect("clone the terminal"))
        .stderr(pty.slave)
        .spawn()
        .expect("start strata");
    // The child holds the only copies of the terminal's slave side now, so
    // reading the master ends (EIO) when the child exits.
    let mut master = std::fs::File::from(pty.master);
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match std::io::Read::read(&mut master, &mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
        }
    }
    let status = child.wait().expect("wait for strata").code().unwrap_or(-1);
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[test]
fn a_terminal_shows_a_progress_bar_unless_no_progress_or_quiet() {
    let fixture = five_independent(None);
    // indicatif's bar: `{bar} {pos}/{len} {msg}`, redrawn in place.
    let bar = regex::Regex::new(r"\x1b\[2K.*[=> ]{30} [0-5]/5").expect("regex");

    let (status, shown) = on_a_terminal(&fixture, &["run"]);
    assert_eq!(status, 0, "{shown}");
    assert!(bar.is_match(&shown), "{shown:?}");
    assert!(shown.contains("created table main.m1"), "{shown:?}");

    let (status, shown) = on_a_terminal(&fixture, &["run", "--no-progress"]);
    assert_eq!(status, 0, "{shown}");
    assert!(!bar.is_match(&shown) && !shown.contains("\x1b[2K"), "{shown:?}");
    assert_eq!(shown.matches("created table main.m").count(), 5, "{shown:?}");

    let (status, shown) = on_a_terminal(&fixture, &["run", "--quiet"]);
    assert_eq!(status, 0, "{shown}");
    assert!(!shown.contains("\x1b[2K") && !shown.contains("created table"), "{shown:?}");
    assert!(shown.contains("PASS=5 WARN=0 ERROR=0 SKIP=0 TOTAL=5"), "{shown:?}");
}
