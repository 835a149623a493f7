//! One function per command: load, parse, select, then the command's own work.
//! Each returns the exit status; errors go through `Failure` to `main`.

use std::collections::BTreeSet;
use std::io::Write;

use rayon::prelude::*;

use crate::artifacts;
use crate::cli::{CompileArgs, DebugArgs, LsArgs, LsOutput, ResourceTypeArg};
use crate::options::{DateOptions, Selection};
use crate::compile::{self, Compiler};
use crate::core::dates::ExecutionDate;
use crate::core::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::select::select_nodes;
use crate::graph::{Graph, ResourceType};
use crate::parse::{self, Parsed};
use crate::project::{LoadOptions, Project, profile};
use crate::template::Templates;

/// Why a command stopped: everything here exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("could not write output: {0}")]
    Output(#[from] std::io::Error),
}

impl From<Diagnostics> for Failure {
    fn from(diagnostics: Diagnostics) -> Failure {
        Failure::Invalid(diagnostics)
    }
}

impl From<Diagnostic> for Failure {
    fn from(diagnostic: Diagnostic) -> Failure {
        Failure::Invalid(diagnostic.into())
    }
}

/// A loaded, parsed project ready for a command.
pub struct Session {
    pub project: Project,
    /// Every execution date of the command, in order (one unless backfilling).
    pub dates: Vec<ExecutionDate>,
    /// The date `templates` and `parsed` are for: the last of `dates`.
    pub date: ExecutionDate,
    pub run_started_at: chrono::DateTime<chrono::Utc>,
    pub templates: Templates,
    pub parsed: Parsed,
}

impl Session {
    pub fn open(options: &LoadOptions, date_args: &DateOptions) -> Result<Session, Failure> {
        let project = Project::load(options)?;
        let timezone = date_args
            .timezone
            .clone()
            .or_else(|| project.vars.get("timezone").and_then(|tz| tz.as_str()).map(str::to_string));
        let dates = crate::core::dates::resolve(
            date_args.date.as_deref(),
            date_args.start.as_deref(),
            date_args.end.as_deref(),
            timezone.as_deref(),
        )?;
        let date = dates.last().copied().unwrap_or_else(ExecutionDate::yesterday);
        let run_started_at = chrono::Utc::now();
        let (templates, parsed) = Session::prepare(&project, date, run_started_at)?;
        Ok(Session { project, dates, date, run_started_at, templates, parsed })
    }

    /// The template environment and DAG of `project` for one execution date.
    pub fn prepare(project: &Project, date: ExecutionDate, run_started_at: chrono::DateTime<chrono::Utc>) -> Result<(Templates, Parsed), Failure> {
        let templates = Templates::new(project, date, run_started_at)?;
        let parsed = parse::parse(project, &templates)?;
        Ok((templates, parsed))
    }

    /// Fails with the errors of the files that could not be parsed, if any.
    pub fn require_parsed(&self) -> Result<(), Failure> {
        if self.parsed.errors.is_empty() { Ok(()) } else { Err(Failure::Invalid(Diagnostics(self.parsed.errors.0.clone()))) }
    }

    pub fn graph(&self) -> &Graph {
        &self.parsed.graph
    }

    pub fn select(&self, args: &Selection) -> Result<BTreeSet<usize>, Failure> {
        Ok(select_nodes(self.graph(), &args.select, &args.exclude)?)
    }
}

pub fn compile(args: &CompileArgs) -> Result<i32, Failure> {
    if let Some(threads) = args.threads {
        // Only the first call takes effect; a second one in the same process is harmless.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build_global();
    }
    let session = Session::open(&args.project.options(), &args.date.options())?;
    let selected = session.select(&args.select.options())?;
    let compiler = Compiler::new(&session.project, &session.templates, session.graph());
    let graph = session.graph();
    let compiled_paths: std::collections::HashMap<usize, std::path::PathBuf> = selected
        .par_iter()
        .filter(|&&i| matches!(graph.nodes[i].resource_type, ResourceType::Model | ResourceType::Test))
        .map(|&i| (i, compiler.compiled_path(&graph.nodes[i])))
        .collect();
    // The manifest is written while the models compile: it needs the graph, not the SQL.
    let (compiled, manifest) = rayon::join(
        || -> Result<_, Failure> {
            let checked = compile::CheckedSql::load(session.project.target_path.join(".strata-checked-sql"));
            let files = compile::CompiledFiles::load(session.project.target_path.join(".strata-compiled"), &session.project.root);
            files.create_folders(compiled_paths.values().map(std::path::PathBuf::as_path))?;
            let (compiled, errors) = compiler.compile(&selected, Some(&checked), &|node| files.write(node));
            checked.save();
            files.save();
            Ok((compiled, errors))
        },
        || artifacts::write_manifest(&session.project, graph, &compiled_paths),
    );
    let (compiled, compile_errors) = compiled?;
    manifest?;

    let mut errors = Diagnostics(session.parsed.errors.0.clone());
    errors.0.extend(compile_errors.0);
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    if !args.quiet {
        let models = compiled.iter().filter(|c| session.graph().nodes[c.index].resource_type == ResourceType::Model).count();
        let tests = compiled.len() - models;
        let target = session.project.target_path.strip_prefix(&session.project.root).unwrap_or(&session.project.target_path);
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "Compiled {models} {} and {tests} {} for {} into `{}`",
            plural(models, "model", "models"),
            plural(tests, "test", "tests"),
            session.date.ds(),
            target.join("compiled").display()
        )?;
    }
    exit_without_freeing((session, compiled));
    Ok(0)
}

/// The process exits next: leave the graph, the templates and the SQL of a
/// large project to the OS, which frees them at once, instead of one by one.
fn exit_without_freeing<T>(value: T) {
    std::mem::forget(value);
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

pub fn ls(args: &LsArgs) -> Result<i32, Failure> {
    let session = Session::open(&args.project.options(), &args.date.options())?;
    session.require_parsed()?;
    let selected = session.select(&args.select.options())?;
    let wanted: Vec<ResourceType> = args
        .resource_type
        .iter()
        .filter_map(|r| match r {
            ResourceTypeArg::Model => Some(ResourceType::Model),
            ResourceTypeArg::Seed => Some(ResourceType::Seed),
            ResourceTypeArg::Test => Some(ResourceType::Test),
            ResourceTypeArg::Source => Some(ResourceType::Source),
            ResourceTypeArg::Exposure => Some(ResourceType::Exposure),
            ResourceTypeArg::All => None,
        })
        .collect();
    let all = args.resource_type.is_empty() || args.resource_type.contains(&ResourceTypeArg::All);
    let graph = session.graph();
    let mut nodes: Vec<usize> = selected.into_iter().filter(|&i| all || wanted.contains(&graph.nodes[i].resource_type)).collect();
    nodes.sort_by(|a, b| graph.nodes[*a].unique_id.cmp(&graph.nodes[*b].unique_id));
    if nodes.is_empty() {
        eprintln!("warning: no nodes selected");
        return Ok(0);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for index in nodes {
        let node = &graph.nodes[index];
        match args.output {
            LsOutput::Selector => writeln!(out, "{}", node.selector())?,
            LsOutput::Name => writeln!(out, "{}", node.display_name())?,
            LsOutput::Path => writeln!(out, "{}", node.path.display())?,
            LsOutput::Json => {
                let entry = serde_json::json!({
                    "name": node.name,
                    "resource_type": node.resource_type.name(),
                    "package_name": node.package,
                    "original_file_path": node.path.to_string_lossy(),
                    "unique_id": node.unique_id,
                    "alias": node.relation.as_ref().map(|r| r.identifier.clone()),
                    "config": node.config,
                    "tags": node.tags(),
                    "depends_on": {"nodes": graph.parent_ids(index)},
                });
                writeln!(out, "{entry}")?;
            }
        }
    }
    out.flush()?;
    drop(out);
    exit_without_freeing(session);
    Ok(0)
}

pub fn debug(args: &DebugArgs) -> Result<i32, Failure> {
    let options = args.project.options();
    let project = Project::load(&options)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "strata {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "project: `{}` at `{}`", project.name, project.root.join("dbt_project.yml").display())?;
    writeln!(
        out,
        "  {} models, {} seeds, {} macro files, {} sources, {} exposures, {} singular tests",
        project.models.len(),
        project.seeds.len(),
        project.macros.len(),
        project.sources.iter().map(|s| s.tables.len()).sum::<usize>(),
        project.exposures.len(),
        project.singular_tests.len()
    )?;
    if !project.vars.is_empty() {
        writeln!(out, "  vars: {}", serde_json::Value::Object(project.vars.clone()))?;
    }
    let target = &project.target;
    writeln!(out, "profile: `{}` from `{}`", target.profile_name, target.file.display())?;
    writeln!(out, "target: `{}` (type {})", target.name, target.kind.name())?;
    writeln!(out, "  schema: {}", target.schema)?;
    if let Some(database) = &target.database {
        writeln!(out, "  database: {database}")?;
    }
    let masked = profile::mask_secrets(&serde_json::Value::Object(target.fields.clone()));
    if let Some(fields) = masked.as_object() {
        for (key, value) in fields {
            if key == "type" || key == "schema" {
                continue;
            }
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            writeln!(out, "  {key}: {text}")?;
        }
    }
    writeln!(out, "All checks passed!")?;
    Ok(0)
}
