//! `strata compile`: every selected model and test rendered, SQL-checked and written under `target/compiled`.

use std::io::Write;

use rayon::prelude::*;

use crate::artifacts;
use crate::compile as compiling;
use crate::compile::Compiler;
use crate::core::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::ResourceType;
use crate::session::options::CompileOptions;
use crate::warehouse::Connection;

use crate::core::format::plural;
use crate::session::{Failure, Session, exit_without_freeing};

pub fn compile(args: &CompileOptions) -> Result<i32, Failure> {
    if let Some(threads) = args.threads {
        // Only the first call takes effect; a second one in the same process is harmless.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build_global();
    }
    let session = Session::open(&args.project, &args.dates)?;
    let state = session.state(&args.selection)?;
    let selected = session.select_with(&args.selection, state)?;
    // `--defer` without `--favor-state` asks the target which relations it has.
    let warehouse = match args.deferral.enabled() && !args.deferral.favor_state {
        true => Some(session.project.open_warehouse(crate::warehouse::DEFAULT_LOCK_TIMEOUT)?),
        false => None,
    };
    let mut connection = warehouse.as_ref().map(|w| w.connect()).transpose().map_err(|err| Diagnostic::new(err.to_string()))?;
    let deferred = crate::session::deferred_graph(
        session.graph(),
        args.deferral,
        state,
        &selected,
        connection.as_mut().map(|c| c.as_mut() as &mut dyn Connection),
    )?;
    drop((connection, warehouse));
    let graph = deferred.as_ref();
    let compiler = Compiler::new(&session.project, &session.templates, graph);
    let compiled_paths: std::collections::HashMap<usize, std::path::PathBuf> = selected
        .par_iter()
        .filter(|&&i| matches!(graph.nodes[i].resource_type, ResourceType::Model | ResourceType::Test | ResourceType::Snapshot))
        .map(|&i| (i, compiler.compiled_path(&graph.nodes[i])))
        .collect();
    // The manifest is written while the models compile: it needs the graph, not the SQL.
    let (compiled, manifest) = rayon::join(
        || -> Result<_, Failure> {
            let checked = compiling::CheckedSql::load(session.project.target_path.join(".strata-checked-sql"));
            let files = compiling::CompiledFiles::load(session.project.target_path.join(".strata-compiled"), &session.project.root);
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
        let models = compiled.iter().filter(|c| graph.nodes[c.index].resource_type == ResourceType::Model).count();
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
    exit_without_freeing((compiled, compiler));
    exit_without_freeing(deferred);
    exit_without_freeing(session);
    Ok(0)
}
