//! `strata seed`, `run`, `test`, `build`, `snapshot` and `refresh`: what each
//! selects, the phases it runs (one per date, or the missing dates of
//! `--missing`), run by [`crate::session::run`].

use std::collections::BTreeSet;
use std::time::Instant;

use crate::core::diagnostic::Diagnostic;
use crate::core::format::plural;
use crate::graph::state::State;
use crate::graph::{Graph, ResourceType};
use crate::session::options::{Invocation, RunOptions};
use crate::session::phases::{missing_phases, phases};
pub use crate::session::run::Which;
use crate::session::run::run_phases;
use crate::session::{Failure, OpenWarehouse, Session};

/// Runs `which` over what `args` select (`--dry-run` without `--missing` is
/// `commands::dry_run`'s).
pub fn execute(which: Which, args: &RunOptions) -> Result<i32, Failure> {
    if args.missing && !matches!(which, Which::Run | Which::Build) {
        return Err(Diagnostic::new(format!(
            "`--missing` builds the dates `strata status` finds missing, stale or failed: use it with `strata run` or `strata build`, not `strata {}`",
            which.name()
        ))
        .into());
    }
    execute_on(which, args, &|project| project.open_warehouse(args.lock_timeout))
}

/// `execute` on the warehouse `open` returns.
fn execute_on(which: Which, args: &RunOptions, open: OpenWarehouse<'_>) -> Result<i32, Failure> {
    let started = Instant::now();
    let session = Session::open(&args.project, &args.dates)?;
    let state = session.state(&args.selection)?;
    let nodes = select_for(which, &session, args, state)?;
    let plan = match args.missing {
        false => phases(session.graph(), &nodes, &session.dates),
        true => match missing_phases(&session, &nodes, args, open)? {
            Some(plan) if !args.dry_run => plan,
            _ => return Ok(0),
        },
    };
    let invocation = Invocation {
        which: which.name().to_string(),
        selection: args.selection.clone(),
        dates: session.dates.iter().map(|d| d.ds()).collect(),
        target: session.project.target.name.clone(),
        profile: args.project.profile.clone(),
        vars: args.project.vars.clone(),
        full_refresh: args.full_refresh,
        skip_checks: args.skip_checks,
        threads: args.threads,
        deferral: args.deferral,
        empty: args.empty,
        retry: false,
        full_refresh_pending: None,
    };
    // `--full-refresh` rebuilds each node the first time it runs, not on every
    // date of a backfill (which would leave only the last date's partition).
    let to_refresh = if args.full_refresh { plan.iter().flat_map(|phase| phase.nodes.iter().cloned()).collect() } else { BTreeSet::new() };
    run_phases(which, args, &session, plan, to_refresh, invocation, started, open)
}

/// The nodes `which` runs among those selected: never ephemeral models; source
/// checks (sources declaring `wait_for` or `freshness`) unless `--skip-checks`;
/// with `--empty`, neither data tests nor exposures nor source checks.
fn select_for(which: Which, session: &Session, args: &RunOptions, state: Option<&State>) -> Result<BTreeSet<usize>, Failure> {
    session.require_parsed()?;
    let graph = session.graph();
    let selected = session.select_with(&args.selection, state)?;
    let skip_checks = args.skip_checks || args.empty;
    let mut nodes: BTreeSet<usize> = selected
        .iter()
        .copied()
        .filter(|&i| which.runs(graph.nodes[i].resource_type))
        .filter(|&i| !(graph.nodes[i].resource_type == ResourceType::Model && graph.nodes[i].materialized() == "ephemeral"))
        // Exposures run when they refresh something or deliver rows; `refresh` only refreshes.
        .filter(|&i| graph.nodes[i].resource_type != ResourceType::Exposure || graph.nodes[i].acts())
        .filter(|&i| which != Which::Refresh || graph.nodes[i].refreshes())
        .collect();
    if args.empty {
        let skipped = |resource_type: ResourceType| nodes.iter().filter(|&&i| graph.nodes[i].resource_type == resource_type).count();
        let (tests, exposures) = (skipped(ResourceType::Test), skipped(ResourceType::Exposure));
        if tests + exposures > 0 {
            eprintln!(
                "`--empty`: skipping {tests} data {} and {exposures} {}: their models are built without rows",
                plural(tests, "test", "tests"),
                plural(exposures, "exposure", "exposures")
            );
        }
        nodes.retain(|&i| !matches!(graph.nodes[i].resource_type, ResourceType::Test | ResourceType::Exposure));
    }
    let exposures = nodes.iter().filter(|&&i| graph.nodes[i].refreshes()).count();
    let has_server = (which == Which::Refresh || exposures > 0) && crate::session::tableau_server(&session.project)?.is_some();
    if which == Which::Refresh && !has_server {
        let target = &session.project.target;
        return Err(Diagnostic::new(format!("target `{}` has no `tableau:` section, so there is no Tableau server to refresh", target.name))
            .at(target.locate(&format!("{}:", target.name)))
            .help("add `tableau: {server_url, site, token_name, token_secret}` to the target in `profiles.yml`, or pick a target that has one with `--target`")
            .into());
    }
    if exposures > 0 && !has_server {
        // An exposure that also delivers still does that.
        nodes.retain(|&i| !graph.nodes[i].refreshes() || graph.nodes[i].delivery().is_some());
        let target = &session.project.target;
        let plural = if exposures == 1 { "exposure" } else { "exposures" };
        eprintln!("Tableau: target `{}` has no `tableau:` section in `profiles.yml`; not refreshing {exposures} {plural}", target.name);
    }
    if !skip_checks && matches!(which, Which::Run | Which::Build) {
        let checks: Vec<usize> = (0..graph.nodes.len())
            .filter(|&i| crate::graph::source_check::SourceCheck::of(&graph.nodes[i]).is_some())
            .filter(|&i| reads_before_running(graph, i, &nodes))
            .collect();
        nodes.extend(checks);
    }
    Ok(nodes)
}

/// Whether a node of `nodes` reads `source`, directly or through nodes that do not run.
fn reads_before_running(graph: &Graph, source: usize, nodes: &BTreeSet<usize>) -> bool {
    !graph.nearest(source, true, |node| nodes.contains(&node)).is_empty()
}
