//! `strata docs generate` and `strata docs serve`: a static site in
//! `target/docs/` (built by `crate::docs`), and `catalog.json` in dbt's shape,
//! read from the warehouse with `--catalog` or when a run changed the tables
//! since the last one.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use crate::compile::Compiler;
use crate::core::diagnostic::{Diagnostic, Diagnostics};
use crate::core::format::plural;
use crate::docs;
use crate::session::options::DocsOptions;
use crate::session::{Failure, Session, exit_without_freeing};

/// `strata docs generate`: compiles every node, reads the catalog where asked
/// or where a run changed the tables since it was last read, and writes the site.
pub fn generate(args: &DocsOptions) -> Result<i32, Failure> {
    let session = Session::open(&args.project, &args.dates)?;
    session.require_parsed()?;
    let graph = session.graph();
    let project = &session.project;
    let compiler = Compiler::new(project, &session.templates, graph);
    // Tests are compiled too, as `compile` does: the docs of a project that does not compile are not written.
    let everything: BTreeSet<usize> = (0..graph.nodes.len()).collect();
    let (compiled, errors) = compiler.compile(&everything, None, &|_| Ok(()));
    if !errors.is_empty() {
        return Err(Failure::Invalid(Diagnostics(errors.0)));
    }
    let compiled_sql: BTreeMap<usize, String> = compiled.into_iter().map(|c| (c.index, c.sql)).collect();
    let catalog_path = project.target_path.join("catalog.json");
    let run_results = project.target_path.join("run_results.json");
    // A run since the last catalog (or none yet) changed the tables: read them again.
    let modified = |path: &std::path::Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let ran_since = modified(&run_results).is_some_and(|ran| modified(&catalog_path).is_none_or(|read| ran > read));
    let catalog = if args.catalog || ran_since {
        match read_catalog(&session) {
            Ok(catalog) => {
                crate::artifacts::write(project, "catalog.json", &catalog)?;
                Some(catalog)
            }
            Err(failure) if args.catalog => return Err(failure),
            // Not asked for: the docs are still written, with the types the YAML declares.
            Err(failure) => {
                eprintln!(
                    "warning: could not read the warehouse's catalog, so the columns show the types their YAML declares: {}",
                    failure.to_string().trim_start_matches("error: ").trim_end()
                );
                None
            }
        }
    } else {
        std::fs::read_to_string(&catalog_path).ok().and_then(|text| serde_json::from_str(&text).ok())
    };
    let last_runs = docs::last_runs(&project.target_path.join("run_results.json"));
    let site = docs::Site { project, graph, date: session.date, compiled: &compiled_sql, catalog: catalog.as_ref(), last_runs: &last_runs };
    let page = site.page();
    let index = project.target_path.join("docs").join("index.html");
    crate::artifacts::write_whole(&index, |out| out.write_all(page.as_bytes()))?;
    crate::artifacts::write_manifest(project, graph, &Default::default())?;
    let drawn = graph.nodes.iter().filter(|n| !n.resource_type.is_test()).count();
    let shown = index.strip_prefix(&project.root).unwrap_or(&index).display().to_string();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Wrote the docs of {drawn} {} to {shown}{}; open it, or run `strata docs serve`",
        plural(drawn, "node", "nodes"),
        if catalog.is_some() { " with the warehouse's column types" } else { "" }
    )?;
    exit_without_freeing(session);
    Ok(0)
}

/// The warehouse's catalog of every relation of the project (see [`docs::catalog`]).
fn read_catalog(session: &Session) -> Result<serde_json::Value, Failure> {
    let warehouse = session.project.open_warehouse(crate::warehouse::DEFAULT_LOCK_TIMEOUT)?;
    let mut connection = warehouse.connect().map_err(|err| Diagnostic::new(err.to_string()))?;
    let invocation_id = session.run_started_at.format("%Y%m%dt%H%M%S%6f").to_string();
    Ok(docs::catalog(session.graph(), connection.as_mut(), invocation_id)?)
}

/// `strata docs serve`: the files of `target/docs/` over HTTP on 127.0.0.1, until Ctrl-C.
pub fn serve(project: &crate::project::LoadOptions, port: u16) -> Result<i32, Failure> {
    let loaded = crate::project::Project::load(project)?;
    let root = loaded.target_path.join("docs");
    if !root.join("index.html").is_file() {
        return Err(Diagnostic::new(format!("there is no docs site in `{}` yet", root.display())).help("run `strata docs generate` first").into());
    }
    let server = tiny_http::Server::http(("127.0.0.1", port))
        .map_err(|err| Diagnostic::new(format!("could not listen on 127.0.0.1:{port}: {err}")).help("pick another port with `--port`"))?;
    let address = server.server_addr().to_ip().map_or_else(|| format!("127.0.0.1:{port}"), |a| a.to_string());
    println!("Serving the docs of `{}` at http://{address}/ (Ctrl-C to stop)", loaded.name);
    for request in server.incoming_requests() {
        let response = docs::serve::respond(&root, request.url());
        let _ = request.respond(response);
    }
    Ok(0)
}
