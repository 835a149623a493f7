//! strata: a dbt-compatible SQL-model transformation tool. Load a project,
//! render its Jinja SQL models, build the DAG, select, and compile, in the
//! order of DESIGN.md's pipeline.

// `Diagnostic`, the error users read, carries its location and the source
// line, so results that can fail with one are large. Errors are the cold path:
// boxing every `Err` would cost each call site an allocation for no measured gain.
#![allow(clippy::result_large_err)]

pub mod artifacts;
pub mod cli;
pub mod commands;
pub mod compile;
pub mod core;
pub mod docs;
pub mod execute;
pub mod graph;
pub mod materialize;
pub mod output;
pub mod parse;
pub mod project;
pub mod session;
pub mod sql;
pub mod tableau;
pub mod template;
pub mod warehouse;

use cli::{Cli, Command};
use session::run::Which;

/// Runs a parsed command line and returns the process exit status.
pub fn run(cli: Cli) -> i32 {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    // `clean` removes the folder the log is in.
    if !matches!(cli.command, Command::Clean(_)) {
        output::log::start(cli.project_dir(), cli.log_format(), &command);
        output::ci::set_project_dir(cli.project_dir());
    }
    let status = run_command(&cli);
    output::log::finish(status);
    status
}

fn run_command(cli: &Cli) -> i32 {
    let result = cli.warn_error_policy().map_err(commands::Failure::from).and_then(|policy| {
        core::warnings::set(policy);
        command(cli)
    });
    exit_status(result)
}

/// Runs the command `cli` names.
fn command(cli: &Cli) -> Result<i32, commands::Failure> {
    match &cli.command {
        Command::Compile(args) => commands::compile::compile(&args.options()),
        Command::Ls(args) => commands::ls::ls(&args.options()),
        Command::Seed(args) => build(Which::Seed, &args.options()),
        Command::Run(args) => build(Which::Run, &args.options()),
        Command::Test(args) => build(Which::Test, &args.options()),
        Command::Build(args) => build(Which::Build, &args.options()),
        Command::Refresh(args) => build(Which::Refresh, &args.options()),
        Command::Snapshot(args) => build(Which::Snapshot, &args.options()),
        Command::Show(args) => commands::show::show(&args.options()),
        Command::Retry(args) => commands::retry::retry(&args.options()),
        Command::Status(args) => commands::status::status(&args.options()),
        Command::Debug(args) => commands::debug::debug(&args.project.options()),
        Command::Diff(args) => commands::diff::diff(&args.options()),
        Command::Clean(args) => commands::clean::clean(&args.project.options()),
        Command::Deps(args) => {
            commands::deps::deps(&args.project.options(), commands::deps::DepsOptions { upgrade: args.upgrade, lock_only: args.lock })
        }
        Command::Graph(args) => commands::graph::graph(&args.options()),
        Command::Export(args) => commands::export::export(&args.options()),
        Command::Docs(cli::DocsCommand::Generate(args)) => commands::docs::generate(&args.options()),
        Command::Docs(cli::DocsCommand::Serve(args)) => commands::docs::serve(&args.project.options(), args.port),
    }
}

/// A building command: `--dry-run` (without `--missing`, whose plan `run` prints)
/// only estimates.
fn build(which: Which, options: &session::options::RunOptions) -> Result<i32, commands::Failure> {
    match options.dry_run && !options.missing {
        true => commands::dry_run::dry_run(which, options),
        false => commands::run::execute(which, options),
    }
}

/// Reports how a command ended and decides the exit status.
fn exit_status(result: Result<i32, commands::Failure>) -> i32 {
    match result {
        Ok(status) => status,
        Err(commands::Failure::Output(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(failure) => {
            output::log::line(&failure.to_string());
            if let commands::Failure::Invalid(diagnostics) = &failure {
                output::ci::annotate_diagnostics(&diagnostics.0);
            }
            eprint!("{failure}");
            if let commands::Failure::Output(_) = failure {
                eprintln!();
            }
            2
        }
    }
}
