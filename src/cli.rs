//! The command line: clap derive types for every command and the flag groups they
//! share, turned into the plain option structs of `session::options`. Parsing only;
//! what each command does lives in `commands/`. The only module that knows clap.

use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::core::delivery::FileFormat;
use crate::graph::ResourceType;
use crate::output::log::LogFormat;
use crate::project::LoadOptions;
use crate::session::options::{
    CompileOptions, DateOptions, Deferral, DiffFormat, DiffOptions, DocsOptions, ExportOptions, GraphFormat, GraphOptions, LsFormat, LsOptions,
    RetryOptions, RunOptions, Selection, ShowOptions, StatusOptions, StatusOutput,
};

#[derive(Debug, Parser)]
#[command(name = "strata", version, about = "Build Jinja SQL models in dependency order, one execution date at a time", propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// `json`: one JSON event per line on stdout instead of the human lines
    /// (seed, run, test, build, refresh, retry); `github`: annotations and a step
    /// summary for GitHub Actions (the default there); every invocation also appends to `target/strata.log`
    #[arg(long, global = true, value_enum, env = "DBT_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Fail on every warning instead of printing it (a warning test fails the run)
    #[arg(long, global = true, env = "DBT_WARN_ERROR")]
    pub warn_error: bool,
    /// Which warnings fail: `{"error": "all" | [names], "warn": [names]}` (names: NoNodesForSelectionCriteria,
    /// LogTestResult, JinjaLogWarning, ProjectWarning)
    #[arg(long, global = true, env = "DBT_WARN_ERROR_OPTIONS")]
    pub warn_error_options: Option<String>,
    #[command(flatten)]
    pub ignored: IgnoredFlags,
}

/// dbt's flags that change nothing in strata (it keeps no partial-parse
/// file, checks no version, sends no usage statistics, has one parser and
/// always writes its artifacts): accepted anywhere on the command line, as
/// dbt accepts them, so a scheduler's or a CI job's dbt command runs
/// unchanged (hidden from `--help`; the README lists them). Their
/// environment variables are not read.
#[derive(Debug, Default, clap::Args)]
pub struct IgnoredFlags {
    #[arg(long, global = true, hide = true)]
    partial_parse: bool,
    #[arg(long, global = true, hide = true)]
    no_partial_parse: bool,
    #[arg(long, global = true, hide = true)]
    partial_parse_file_diff: bool,
    #[arg(long, global = true, hide = true)]
    no_partial_parse_file_diff: bool,
    #[arg(long, global = true, hide = true, value_name = "PATH")]
    partial_parse_file_path: Option<String>,
    #[arg(long, global = true, hide = true)]
    version_check: bool,
    #[arg(long, global = true, hide = true)]
    no_version_check: bool,
    #[arg(long, global = true, hide = true)]
    send_anonymous_usage_stats: bool,
    #[arg(long, global = true, hide = true)]
    no_send_anonymous_usage_stats: bool,
    #[arg(long, global = true, hide = true)]
    static_parser: bool,
    #[arg(long, global = true, hide = true)]
    no_static_parser: bool,
    #[arg(long, global = true, hide = true)]
    use_experimental_parser: bool,
    #[arg(long, global = true, hide = true)]
    no_use_experimental_parser: bool,
    #[arg(long, global = true, hide = true)]
    write_json: bool,
    #[arg(long, global = true, hide = true)]
    no_write_json: bool,
    #[arg(long, global = true, hide = true)]
    populate_cache: bool,
    #[arg(long, global = true, hide = true)]
    no_populate_cache: bool,
    #[arg(long, global = true, hide = true)]
    cache_selected_only: bool,
    #[arg(long, global = true, hide = true)]
    no_cache_selected_only: bool,
    #[arg(long, global = true, hide = true)]
    log_cache_events: bool,
    #[arg(long, global = true, hide = true)]
    no_log_cache_events: bool,
    #[arg(long, global = true, hide = true)]
    use_fast_test_edges: bool,
    #[arg(long, global = true, hide = true)]
    no_use_fast_test_edges: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render every selected model for the execution date, check its SQL and write `target/compiled/`
    Compile(CompileArgs),
    /// List the selected resources
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Load the CSV files under the seed paths into tables
    Seed(RunArgs),
    /// Build the selected models in dependency order
    Run(RunArgs),
    /// Run the selected data tests
    Test(RunArgs),
    /// Seed, snapshot, run and test in DAG order; a failing test skips what is built on its model
    Build(RunArgs),
    /// Refresh the Tableau datasources of the selected exposures, without building anything
    Refresh(RunArgs),
    /// Record the changes of the selected snapshots' sources as new versions in their tables
    Snapshot(RunArgs),
    /// Print the first rows of a model or of an inline query
    Show(ShowArgs),
    /// Re-run the failed and skipped nodes of the last invocation, for its dates and flags
    Retry(RetryArgs),
    /// Show which dates each date-partitioned model and waited-for source holds: built, missing, stale or failed
    Status(StatusArgs),
    /// Show the resolved project, profile and target (secrets masked)
    Debug(ProjectOnlyArgs),
    /// Print the selected DAG as Graphviz dot, a Mermaid flowchart or JSON
    Graph(GraphArgs),
    /// Generate the docs site (`target/docs/index.html`) or serve it
    #[command(subcommand)]
    Docs(DocsCommand),
    /// Write a model's rows (a partitioned model's partitions of the dates) to a CSV, Excel or Parquet file
    Export(ExportArgs),
    /// Compare the selected models' data with production's (`--state`) or another target's
    Diff(DiffArgs),
    /// Remove the `clean-targets` of `dbt_project.yml` (by default `target/`)
    Clean(ProjectOnlyArgs),
    /// Install the packages of `packages.yml` as `package-lock.yml` pins them (resolving and writing the lock first when it is missing or stale)
    Deps(DepsArgs),
}

impl Cli {
    /// The project directory the command works in.
    pub fn project_dir(&self) -> &std::path::Path {
        match &self.command {
            Command::Compile(args) => &args.project.project_dir,
            Command::Ls(args) => &args.project.project_dir,
            Command::Seed(args)
            | Command::Run(args)
            | Command::Test(args)
            | Command::Build(args)
            | Command::Refresh(args)
            | Command::Snapshot(args) => &args.project.project_dir,
            Command::Show(args) => &args.project.project_dir,
            Command::Retry(args) => &args.project.project_dir,
            Command::Status(args) => &args.project.project_dir,
            Command::Debug(args) | Command::Clean(args) => &args.project.project_dir,
            Command::Deps(args) => &args.project.project_dir,
            Command::Graph(args) => &args.project.project_dir,
            Command::Diff(args) => &args.project.project_dir,
            Command::Export(args) => &args.project.project_dir,
            Command::Docs(DocsCommand::Generate(args)) => &args.project.project_dir,
            Command::Docs(DocsCommand::Serve(args)) => &args.project.project_dir,
        }
    }

    /// How the log is written: JSON events on stdout only for the commands
    /// that report nodes; the others keep their own output.
    pub fn log_format(&self) -> LogFormat {
        let in_github_actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|value| value == "true");
        let format = self.log_format.unwrap_or(if in_github_actions { LogFormat::Github } else { LogFormat::Text });
        match (format, &self.command) {
            (LogFormat::Github, _) => LogFormat::Github,
            (
                _,
                Command::Seed(_)
                | Command::Run(_)
                | Command::Test(_)
                | Command::Build(_)
                | Command::Refresh(_)
                | Command::Snapshot(_)
                | Command::Retry(_),
            ) => format,
            _ => LogFormat::Text,
        }
    }

    /// Which warnings fail the invocation.
    pub fn warn_error_policy(&self) -> Result<crate::core::warnings::Policy, crate::core::diagnostic::Diagnostic> {
        crate::core::warnings::Policy::parse(self.warn_error, self.warn_error_options.as_deref())
    }

    /// Whether the command builds or tests in the warehouse, where DuckDB's
    /// allocations are most of the time spent.
    pub fn builds(&self) -> bool {
        matches!(self.command, Command::Seed(_) | Command::Run(_) | Command::Test(_) | Command::Build(_) | Command::Snapshot(_) | Command::Retry(_))
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub date: DateArgs,
    /// Workers building in parallel (default: the target's `threads`, else 4)
    #[arg(long, value_parser = threads)]
    pub threads: Option<usize>,
    /// Rebuild incremental models and seeds from scratch
    #[arg(long)]
    pub full_refresh: bool,
    /// Stop scheduling after the first failure
    #[arg(long, short = 'x')]
    pub fail_fast: bool,
    /// Do not wait for sources' `wait_for` and `freshness` checks
    #[arg(long)]
    pub skip_checks: bool,
    /// How long to wait for another process to release the DuckDB file (`0` fails at once)
    #[arg(long, default_value = "5m", value_parser = lock_timeout)]
    pub lock_timeout: std::time::Duration,
    /// `run` and `build`: send each model as a dry-run job (BigQuery: bytes and
    /// cost; DuckDB: `EXPLAIN`) and build nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub defer: DeferArgs,
    /// Build every model from zero-row inputs (each `ref()` and `source()`), so the
    /// warehouse checks names, types and SQL for almost nothing; data tests are skipped
    #[arg(long)]
    pub empty: bool,
    /// `run` and `build` over `--start`/`--end`: build only the (model, date) pairs
    /// `strata status` finds missing, stale or failed, and what depends on them on
    /// those dates; the plan is printed first (`--dry-run` stops there)
    #[arg(long)]
    pub missing: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// One date
    #[arg(long, conflicts_with_all = ["start", "end"])]
    pub date: Option<String>,
    /// The first date shown (inclusive); default: 30 days before `--end`
    #[arg(long)]
    pub start: Option<String>,
    /// The last date shown (inclusive); default: yesterday in the project's time zone
    #[arg(long)]
    pub end: Option<String>,
    /// The time zone that decides "yesterday" (IANA name; default: the `timezone` var, else UTC)
    #[arg(long)]
    pub timezone: Option<String>,
    /// `grid` for people, `json` for scripts
    #[arg(long, short = 'o', value_enum, default_value_t = StatusOutput::Grid)]
    pub output: StatusOutput,
    /// How long to wait for another process to release the DuckDB file (`0` fails at once)
    #[arg(long, default_value = "5m", value_parser = lock_timeout)]
    pub lock_timeout: std::time::Duration,
}

#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// Plain lines, no progress bar (the default when stdout is not a terminal)
    #[arg(long)]
    pub no_progress: bool,
    /// Print failures and the summary only
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Workers building in parallel (default: as the last invocation)
    #[arg(long, value_parser = threads)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The model to preview
    #[arg(long, short = 's', conflicts_with = "inline")]
    pub select: Option<String>,
    /// A templated query to run instead, e.g. "select * from {{ ref('dau') }}"
    #[arg(long)]
    pub inline: Option<String>,
    /// How many rows to print
    #[arg(long, default_value_t = 5)]
    pub limit: u64,
    /// `table` for people, `json` for scripts
    #[arg(long, short = 'o', value_enum, default_value_t = ShowOutput::Table)]
    pub output: ShowOutput,
    #[command(flatten)]
    pub date: DateArgs,
    /// Another invocation's `target/`, for `--defer`
    #[arg(long, env = "DBT_STATE")]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub defer: DeferArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowOutput {
    Table,
    Json,
}

/// Where the project and its profile are, and which target to use.
#[derive(Debug, Args, Clone)]
pub struct ProjectArgs {
    /// The directory holding `dbt_project.yml`
    #[arg(long, global = true, default_value = ".", env = "DBT_PROJECT_DIR")]
    pub project_dir: PathBuf,
    /// The directory holding `profiles.yml` (then `$DBT_PROFILES_DIR`, the project, `~/.dbt/`)
    #[arg(long, global = true)]
    pub profiles_dir: Option<PathBuf>,
    /// The profile to use instead of `dbt_project.yml`'s `profile:`
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// The profile target to use instead of the profile's `target:`
    #[arg(long, short = 't', global = true)]
    pub target: Option<String>,
    /// Variables as YAML or JSON, overriding `vars:` in `dbt_project.yml`
    #[arg(long, global = true)]
    pub vars: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Nodes to include, in dbt's selection syntax (`+name`, `tag:x`, `path:models/a`, `state:modified+`, ...)
    #[arg(long, short = 's', num_args = 1.., alias = "models", short_alias = 'm')]
    pub select: Vec<String>,
    /// Nodes to leave out, in the same syntax
    #[arg(long, num_args = 1..)]
    pub exclude: Vec<String>,
    /// Another invocation's `target/` (its manifest.json and run_results.json), for `state:`, `result:` and `--defer`
    #[arg(long, env = "DBT_STATE")]
    pub state: Option<PathBuf>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct DeferArgs {
    /// Read each model that is not selected and that this target lacks from the relation `--state` recorded
    #[arg(long, env = "DBT_DEFER")]
    pub defer: bool,
    /// With `--defer`: read the state's relation even where this target has its own
    #[arg(long, env = "DBT_FAVOR_STATE")]
    pub favor_state: bool,
}

impl DeferArgs {
    pub fn options(&self) -> Deferral {
        Deferral { defer: self.defer, favor_state: self.favor_state }
    }
}

#[derive(Debug, Args, Clone, Default)]
pub struct DateArgs {
    /// The execution date (Airflow's `ds`), `YYYY-MM-DD`; default: yesterday in the project's time zone
    #[arg(long)]
    pub date: Option<String>,
    /// The first date of a backfill (inclusive)
    #[arg(long)]
    pub start: Option<String>,
    /// The last date of a backfill (inclusive)
    #[arg(long)]
    pub end: Option<String>,
    /// dbt's microbatch range: its first batch (inclusive), as `--start`
    #[arg(long, conflicts_with_all = ["date", "start"], requires = "event_time_end")]
    pub event_time_start: Option<String>,
    /// dbt's microbatch range: where it ends (exclusive: `2026-11-04` ends with the batch of the 3rd)
    #[arg(long, conflicts_with_all = ["date", "end"], requires = "event_time_start")]
    pub event_time_end: Option<String>,
    /// The time zone that decides "yesterday" (IANA name; default: the `timezone` var, else UTC)
    #[arg(long)]
    pub timezone: Option<String>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub date: DateArgs,
    /// Compare with this target of the profile instead of the `--state` relations
    #[arg(long)]
    pub against: Option<String>,
    /// Match rows on these columns instead of the model's `unique_key` (default: whole rows)
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub key: Vec<String>,
    /// Sample rows to show of each kind of change
    #[arg(long, default_value_t = 5)]
    pub samples: u64,
    /// Exit with status 1 when a model's data or columns changed
    #[arg(long)]
    pub fail_on_change: bool,
    /// `text` for the terminal, `markdown` for a pull request, `json` for scripts
    #[arg(long, short = 'o', value_enum, default_value_t = DiffFormat::Text)]
    pub output: DiffFormat,
}

impl DiffArgs {
    pub fn options(&self) -> DiffOptions {
        DiffOptions {
            project: self.project.options(),
            selection: self.select.options(),
            dates: self.date.options(),
            against: self.against.clone(),
            key: self.key.clone(),
            samples: self.samples,
            fail_on_change: self.fail_on_change,
            format: self.output,
        }
    }
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub date: DateArgs,
    /// Render in parallel on this many threads (default: all cores)
    #[arg(long, value_parser = threads)]
    pub threads: Option<usize>,
    /// Print errors only
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub defer: DeferArgs,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Only these resource types
    #[arg(long, value_enum, num_args = 1..)]
    pub resource_type: Vec<ResourceTypeArg>,
    /// How to print each node
    #[arg(long, short = 'o', value_enum, default_value_t = LsOutput::Selector)]
    pub output: LsOutput,
    #[command(flatten)]
    pub date: DateArgs,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// `dot` (Graphviz), `mermaid` or `json`
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    #[command(flatten)]
    pub date: DateArgs,
}

#[derive(Debug, Subcommand)]
pub enum DocsCommand {
    /// Write `target/docs/index.html`: the DAG to explore, each node's columns, tests, SQL and last run
    Generate(DocsGenerateArgs),
    /// Serve `target/docs/` on 127.0.0.1
    Serve(DocsServeArgs),
}

#[derive(Debug, Args)]
pub struct DocsGenerateArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Read every relation's columns and types from the warehouse into `target/catalog.json`
    /// (without it: only when a run changed the tables since the last catalog)
    #[arg(long)]
    pub catalog: bool,
    #[command(flatten)]
    pub date: DateArgs,
}

#[derive(Debug, Args)]
pub struct DocsServeArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The port on 127.0.0.1 (`0`: any free one)
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The model to export (a seed or a source also works)
    #[arg(long, short = 's')]
    pub select: String,
    /// `csv`, `xlsx` or `parquet` (default: the output's extension)
    #[arg(long, value_enum)]
    pub format: Option<crate::core::delivery::FileFormat>,
    /// The file to write (replaced whole once it is complete)
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    #[command(flatten)]
    pub date: DateArgs,
}

#[derive(Debug, Args)]
pub struct DepsArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Resolve every package again (the newest versions the ranges allow) and rewrite the lock
    #[arg(long)]
    pub upgrade: bool,
    /// Write `package-lock.yml` without installing anything
    #[arg(long)]
    pub lock: bool,
}

#[derive(Debug, Args)]
pub struct ProjectOnlyArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResourceTypeArg {
    Model,
    Seed,
    Test,
    Source,
    Exposure,
    Snapshot,
    #[value(name = "unit_test")]
    UnitTest,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LsOutput {
    /// `project.folder.name`, as dbt prints by default
    Selector,
    Name,
    Path,
    Json,
}

// What each command is given: its arguments as plain options.

impl ProjectArgs {
    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            project_dir: self.project_dir.clone(),
            profiles_dir: self.profiles_dir.clone(),
            profile: self.profile.clone(),
            target: self.target.clone(),
            vars: self.vars.clone(),
        }
    }
}

impl DateArgs {
    pub fn options(&self) -> DateOptions {
        let start = self.event_time_start.as_deref().map(|start| start.chars().take(10).collect()).or_else(|| self.start.clone());
        let end = self.event_time_end.as_deref().map(last_batch_of).or_else(|| self.end.clone());
        DateOptions { date: self.date.clone(), start, end, timezone: self.timezone.clone() }
    }
}

/// The day of the last batch before `--event-time-end`, which is exclusive:
/// `2026-11-04` (midnight) ends with the 3rd, `2026-11-04T06:00:00` with the 4th.
/// Text that is not a date is passed on for `--end` to refuse.
fn last_batch_of(end: &str) -> String {
    let day: String = end.chars().take(10).collect();
    let Ok(date) = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d") else { return end.to_string() };
    let time = end[day.len()..].trim_start_matches(['T', ' ']);
    let midnight = time.chars().take_while(|c| !matches!(c, 'Z' | '+')).all(|c| matches!(c, '0' | ':' | '.'));
    match (midnight, date.pred_opt()) {
        (true, Some(previous)) => previous.format("%Y-%m-%d").to_string(),
        _ => day,
    }
}

impl SelectArgs {
    pub fn options(&self) -> Selection {
        Selection { select: self.select.clone(), exclude: self.exclude.clone(), state: self.state.clone() }
    }
}

impl RunArgs {
    pub fn options(&self) -> RunOptions {
        RunOptions {
            project: self.project.options(),
            selection: self.select.options(),
            dates: self.date.options(),
            threads: self.threads,
            full_refresh: self.full_refresh,
            fail_fast: self.fail_fast,
            skip_checks: self.skip_checks,
            lock_timeout: self.lock_timeout,
            no_progress: self.output.no_progress,
            quiet: self.output.quiet,
            dry_run: self.dry_run,
            deferral: self.defer.options(),
            empty: self.empty,
            missing: self.missing,
        }
    }
}

impl CompileArgs {
    pub fn options(&self) -> CompileOptions {
        CompileOptions {
            project: self.project.options(),
            selection: self.select.options(),
            dates: self.date.options(),
            threads: self.threads,
            quiet: self.quiet,
            deferral: self.defer.options(),
        }
    }
}

impl LsArgs {
    pub fn options(&self) -> LsOptions {
        let all = self.resource_type.contains(&ResourceTypeArg::All);
        let resource_types = self
            .resource_type
            .iter()
            .filter(|_| !all)
            .filter_map(|r| match r {
                ResourceTypeArg::Model => Some(ResourceType::Model),
                ResourceTypeArg::Seed => Some(ResourceType::Seed),
                ResourceTypeArg::Test => Some(ResourceType::Test),
                ResourceTypeArg::Source => Some(ResourceType::Source),
                ResourceTypeArg::Exposure => Some(ResourceType::Exposure),
                ResourceTypeArg::Snapshot => Some(ResourceType::Snapshot),
                ResourceTypeArg::UnitTest => Some(ResourceType::UnitTest),
                ResourceTypeArg::All => None,
            })
            .collect();
        let format = match self.output {
            LsOutput::Selector => LsFormat::Selector,
            LsOutput::Name => LsFormat::Name,
            LsOutput::Path => LsFormat::Path,
            LsOutput::Json => LsFormat::Json,
        };
        LsOptions { project: self.project.options(), selection: self.select.options(), dates: self.date.options(), resource_types, format }
    }
}

impl GraphArgs {
    pub fn options(&self) -> GraphOptions {
        GraphOptions { project: self.project.options(), selection: self.select.options(), dates: self.date.options(), format: self.format }
    }
}

impl DocsGenerateArgs {
    pub fn options(&self) -> DocsOptions {
        DocsOptions { project: self.project.options(), dates: self.date.options(), catalog: self.catalog }
    }
}

impl ExportArgs {
    pub fn options(&self) -> ExportOptions {
        ExportOptions {
            project: self.project.options(),
            select: self.select.clone(),
            dates: self.date.options(),
            format: self.format,
            output: self.output.clone(),
        }
    }
}

impl ShowArgs {
    pub fn options(&self) -> ShowOptions {
        ShowOptions {
            project: self.project.options(),
            dates: self.date.options(),
            select: self.select.clone(),
            inline: self.inline.clone(),
            limit: self.limit,
            json: self.output == ShowOutput::Json,
            state: self.state.clone(),
            deferral: self.defer.options(),
        }
    }
}

fn threads(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("`--threads` is at least 1".into()),
        Ok(threads) => Ok(threads),
        Err(_) => Err(format!("`{text}` is not a number of threads such as `4`")),
    }
}

fn lock_timeout(text: &str) -> Result<std::time::Duration, String> {
    crate::core::format::parse_duration(text).map_err(|err| err.to_string())
}

/// Makes a plain enum of `session::options` (or below) a clap value: each variant
/// with its name on the command line and its line in `--help`.
macro_rules! value_enum {
    ($type:ident { $($variant:ident => $name:literal $(: $help:literal)?),+ $(,)? }) => {
        impl ValueEnum for $type {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($type::$variant),+]
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $($type::$variant => PossibleValue::new($name)$(.help($help))?),+
                })
            }
        }
    };
}

value_enum!(LogFormat {
    Text => "text": "Lines for people, with a progress bar on a terminal",
    Json => "json": "One JSON event per line on stdout, for log collectors",
    Github => "github": "The lines for people, with GitHub Actions' workflow annotations for errors and failures and a summary in `$GITHUB_STEP_SUMMARY` (the default when `GITHUB_ACTIONS=true`)",
});

value_enum!(GraphFormat {
    Dot => "dot": "Graphviz: `strata graph | dot -Tsvg > dag.svg`",
    Mermaid => "mermaid": "A Mermaid flowchart, for Markdown that renders it",
    Json => "json": "`{\"nodes\": [...], \"edges\": [...]}` for scripts",
});

value_enum!(DiffFormat {
    Text => "text": "Lines for the terminal",
    Markdown => "markdown": "The Markdown summary a reviewer reads",
    Json => "json": "`{\"diff\": [...]}` for scripts",
});

value_enum!(FileFormat { Csv => "csv", Xlsx => "xlsx", Parquet => "parquet" });

value_enum!(StatusOutput { Grid => "grid", Json => "json" });

impl StatusArgs {
    pub fn options(&self) -> StatusOptions {
        StatusOptions {
            project: self.project.options(),
            selection: self.select.options(),
            date: self.date.clone(),
            start: self.start.clone(),
            end: self.end.clone(),
            timezone: self.timezone.clone(),
            output: self.output,
            lock_timeout: self.lock_timeout,
        }
    }
}

impl RetryArgs {
    pub fn options(&self) -> RetryOptions {
        RetryOptions { project: self.project.options(), threads: self.threads, no_progress: self.output.no_progress, quiet: self.output.quiet }
    }
}
