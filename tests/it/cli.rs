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
