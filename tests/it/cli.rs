//! The command line itself: what `--help` offers and how usage errors exit.

#[test]
fn help_lists_the_commands_that_work() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = crate::run_in(dir.path(), &["--help"]);
    assert_eq!(run.status, 0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn usage_errors_exit_with_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = crate::run_in(dir.path(), &["frobnicate"]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("unrecognized subcommand 'frobnicate'"), "{}", run.stderr);
    let run = crate::run_in(dir.path(), &["run", "--threads", "many"]);
    assert_eq!(run.status, 2);
}

// dbt's flags that change nothing in strata are accepted before or after the
// subcommand, as a scheduler's dbt command line writes them: the command runs
// as without them.
#[test]
fn dbt_flags_strata_ignores_are_accepted_anywhere() {
    let fixture = crate::Fixture::new().file("models/one.sql", "select 1 as id\n");
    let plain = fixture.strata(&["ls"]);
    let flagged = fixture.strata(&[
        "--no-version-check",
        "--no-partial-parse",
        "--no-send-anonymous-usage-stats",
        "ls",
        "--static-parser",
        "--no-write-json",
        "--partial-parse-file-path",
        "target/partial_parse.msgpack",
        "--no-populate-cache",
    ]);
    assert_eq!((plain.status, flagged.status), (0, 0), "{}", flagged.stderr);
    assert_eq!(flagged.stdout, plain.stdout);
    assert!(flagged.stderr.is_empty(), "{}", flagged.stderr);
}
