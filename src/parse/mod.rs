//! Parsing: render every model and singular test once in parse mode to learn its
//! `ref()`, `source()` and `config()` calls, merge configs (project tree, then
//! properties files, then the model's own), name relations, and build the DAG
//! with seeds, sources, data tests and exposures. Every error found is reported.

mod data_tests;
mod edges;
mod models;
mod names;
mod sources;
mod unit_tests;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use rayon::prelude::*;
use regex::Regex;
use serde_json::Value as Json;

use crate::core::diagnostic::{Diagnostic, Diagnostics, Location, did_you_mean};
use crate::core::hash::{FastMap, FastSet};
use crate::core::relation::Relation;
use crate::graph::model_config::{ConfigError, ModelConfig};
use crate::graph::test_config::TestConfig;
use crate::graph::{Column, Edge, Graph, Node, NodeDetails, ResourceType, TestDetails};
use crate::project::config::{self, ConfigExt, ConfigMap, ConfigSection};
use crate::project::properties::{ColumnProperties, ModelProperties};
use crate::project::{ModelFile, Project};
use crate::template::scope::parse_ref_string;
use crate::template::{Mode, RefCall, Scope, Templates};
use data_tests::*;
use edges::*;
use models::*;
use names::*;
use sources::*;
use unit_tests::*;

/// The DAG, and the errors of the files that could not be parsed (their nodes
/// are left out, so the rest of the project can still be compiled and checked).
pub struct Parsed {
    pub graph: Graph,
    pub errors: Diagnostics,
    /// Printed, not fatal: a config key one edit away from a known one.
    pub warnings: Diagnostics,
}

struct RenderedModel {
    /// The SQL with relation placeholders, when it needs no second render.
    sql: Option<String>,
    config: ConfigMap,
    refs: Vec<RefCall>,
    sources: Vec<(String, String)>,
}

/// Properties entries by the package and name of the resource they describe.
type PropertiesByName<'a> = FastMap<(&'a str, &'a str), &'a ModelProperties>;

fn by_name(entries: &[ModelProperties]) -> PropertiesByName<'_> {
    entries.iter().map(|p| ((p.package.as_str(), p.name.as_str()), p)).collect()
}

/// Builds the DAG of `project`: its models and snapshots, seeds, sources,
/// generic and singular data tests, exposures, unit tests and Tableau
/// refreshes, with the edges between them.
pub fn parse(project: &Project, templates: &Templates) -> Result<Parsed, Diagnostics> {
    let mut errors = Diagnostics::default();
    check_duplicate_names(project, &mut errors);
    errors.into_result()?;
    let mut errors = Diagnostics::default();

    let source_nodes = build_source_nodes(project, templates, &mut errors);
    // Sources are known before models are parsed, so `source()` resolves for real.
    let sources: Arc<dyn crate::template::Resolve> = Arc::new(crate::graph::resolve::GraphResolver::new(&source_nodes, &project.name));
    let declared = declared_tests(project);
    let mut nodes = Vec::with_capacity(
        project.models.len() + project.seeds.len() + source_nodes.len() + declared + project.singular_tests.len() + project.exposures.len(),
    );
    let failed = model_nodes(project, templates, &sources, &mut nodes, &mut errors);
    seed_nodes(project, templates, &mut nodes, &mut errors);
    check_duplicate_relations(&nodes, &mut errors);
    nodes.extend(source_nodes);
    let generic_tests = generic_test_nodes(project, declared, &nodes, &mut errors);
    nodes.extend(generic_tests);
    singular_test_nodes(project, templates, &sources, &mut nodes, &mut errors);
    exposure_nodes(project, &mut nodes, &mut errors);
    let unit_tests = unit_test_nodes(project, &nodes, &mut errors);
    nodes.extend(unit_tests);
    nodes.extend(model_refreshes(project, &nodes, &mut errors));
    render_descriptions(project, templates, &mut nodes, &mut errors);

    let mut graph = Graph::new(nodes);
    let mut edges = resolve_edges(project, &graph, &failed, &mut errors);
    unit_test_edges(&graph, &mut edges);
    if let Err(cycles) = graph.connect(edges, |node, needle| locate(project, node, needle)) {
        for cycle in cycles {
            errors.push(cycle);
        }
        return Err(errors);
    }
    let warnings = misspelt_config_keys(project, &graph);
    check_source_checks(project, &graph, &mut errors);
    check_deliveries(project, &graph, &mut errors);
    check_notification_selectors(project, &mut errors);
    Ok(Parsed { graph, errors, warnings })
}

/// Descriptions may hold `{{ doc('name') }}`; dbt renders them, and so does strata.
fn render_descriptions(project: &Project, templates: &Templates, nodes: &mut [Node], errors: &mut Diagnostics) {
    for node in nodes.iter_mut() {
        let path = node.path.clone();
        let mut render = |text: &mut String| {
            if !text.contains("{{") {
                return;
            }
            let mut scope = Scope::new(format!("{} `{}`", node.resource_type.name(), node.name), Mode::Compile, ConfigMap::new());
            match templates.render_str(&path.to_string_lossy(), text, &mut scope) {
                Ok(rendered) => *text = rendered,
                Err(err) => {
                    let source = std::fs::read_to_string(project.absolute(&path)).unwrap_or_default();
                    errors.push(templates.diagnostic(&err, None).at(Location::of_text(&path, &source, text)));
                }
            }
        };
        render(&mut node.description);
        if let NodeDetails::Model { columns, .. } | NodeDetails::Seed { columns } | NodeDetails::Source { columns, .. } = &mut node.details {
            for column in columns {
                render(&mut column.description);
            }
        }
    }
}

fn columns(columns: &[ColumnProperties]) -> Vec<Column> {
    columns
        .iter()
        .map(|c| Column { name: c.name.clone(), description: c.description.clone().unwrap_or_default(), data_type: c.data_type.clone() })
        .collect()
}

fn render_for_parse(
    templates: &Templates,
    sources: &Arc<dyn crate::template::Resolve>,
    file: &ModelFile,
    node: String,
    base: ConfigMap,
) -> Result<RenderedModel, Diagnostic> {
    let (path, text) = (&file.file.path, file.file.text.as_str());
    let name = path.to_string_lossy();
    let model_name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut scope = Scope::new(node, Mode::Parse, base);
    scope.package = Some(file.package.clone());
    scope.this = Some(Relation::new(
        templates.globals.target_database.clone(),
        templates.globals.target_schema.clone(),
        model_name,
        templates.globals.quote(),
    ));
    scope.resolver = Some(sources.clone());
    let sql = templates.render_template(&name, text, &mut scope).map_err(|err| templates.diagnostic(&err, Some((&name, text))))?;
    let sql = scope.exact.then_some(sql);
    Ok(RenderedModel { config: scope.merged_config(), refs: scope.refs, sources: scope.sources, sql })
}

/// Where `key` of a config was written: the file being parsed (`written`),
/// else the first of `files` that has it, else `dbt_project.yml`.
fn locate_key(project: &Project, written: Option<(&Path, &str)>, files: &[PathBuf], key: &str) -> Location {
    if let Some((path, text)) = written
        && text.contains(key)
    {
        return Location::of_text(path, text, key);
    }
    for file in files.iter().cloned().chain([PathBuf::from("dbt_project.yml")]) {
        if let Ok(text) = std::fs::read_to_string(project.absolute(&file))
            && text.contains(key)
        {
            return Location::of_text(&file, &text, key);
        }
    }
    match written {
        Some((path, _)) => Location::file(path),
        None => files.first().map_or_else(|| Location::file(Path::new("dbt_project.yml")), |file| Location::file(file)),
    }
}

/// A config value `what` cannot use, located where it was written.
fn config_diagnostic(project: &Project, what: &str, error: ConfigError, written: Option<(&Path, &str)>, files: &[PathBuf]) -> Diagnostic {
    let diagnostic = Diagnostic::new(format!("{what}: {}", error.message)).at(locate_key(project, written, files, error.key));
    match error.help {
        Some(help) => diagnostic.help(help),
        None => diagnostic,
    }
}

/// Config keys of models that are one edit away from a key strata or dbt
/// knows (`materialised`, `partiton_by`): kept, as dbt keeps unknown keys,
/// but worth a warning, since the value silently does nothing.
fn misspelt_config_keys(project: &Project, graph: &Graph) -> Diagnostics {
    const STRATA_CONFIGS: &[&str] = &["wait_for", "freshness", "tableau", "loaded_at_field"];
    let known = || config::KNOWN_CONFIGS.iter().chain(STRATA_CONFIGS).copied();
    let mut warnings = Diagnostics::default();
    for node in graph.nodes.iter().filter(|n| n.resource_type == ResourceType::Model) {
        for key in node.config.keys() {
            if known().any(|k| k == key) {
                continue;
            }
            let Some(close) = known().find(|k| strsim::damerau_levenshtein(k, key) == 1) else { continue };
            let NodeDetails::Model { file, .. } = &node.details else { continue };
            let model = &project.models[*file];
            let location = locate_key(project, Some((&model.file.path, &model.file.text)), &[], key);
            warnings.push(
                Diagnostic::warning(format!("model `{}` sets `{key}`, which strata does not know; did you mean `{close}`?", node.name))
                    .at(location)
                    .help(format!("rename it to `{close}`; as written, the value is kept for macros but changes nothing")),
            );
        }
    }
    warnings
}

/// A node for each enabled seed, with its relation.
fn seed_nodes(project: &Project, templates: &Templates, nodes: &mut Vec<Node>, errors: &mut Diagnostics) {
    let seed_properties = by_name(&project.seed_properties);
    for seed in &project.seeds {
        let mut fqn = vec![seed.package.clone()];
        fqn.extend(seed.folders.iter().cloned());
        fqn.push(seed.name.clone());
        let mut config = project.tree_config(ConfigSection::Seeds, &fqn);
        let props = seed_properties.get(&(seed.package.as_str(), seed.name.as_str()));
        if let Some(props) = props {
            config::merge(&mut config, &props.config);
        }
        if !config.enabled() {
            continue;
        }
        let details = NodeDetails::Seed { columns: props.map(|p| columns(&p.columns)).unwrap_or_default() };
        let mut node = Node {
            fqn,
            config,
            description: props.and_then(|p| p.description.clone()).unwrap_or_default(),
            ..Node::new(ResourceType::Seed, &seed.package, &seed.name, &seed.path, details)
        };
        node.relation =
            Some(model_relation(project, templates, &node).map_err(|d| errors.push(d)).unwrap_or_else(|_| Relation::ephemeral(&node.name)));
        nodes.push(node);
    }
}

/// A node for each enabled singular test (a SQL file under the test paths), rendered once in parse mode.
fn singular_test_nodes(
    project: &Project,
    templates: &Templates,
    sources: &Arc<dyn crate::template::Resolve>,
    nodes: &mut Vec<Node>,
    errors: &mut Diagnostics,
) {
    let rendered: Vec<_> = project
        .singular_tests
        .par_iter()
        .map(|test| {
            let mut fqn = vec![test.package.clone()];
            fqn.extend(test.folders.iter().cloned());
            fqn.push(test.name.clone());
            let base = project.tree_config(ConfigSection::Tests, &fqn);
            render_for_parse(templates, sources, test, format!("test `{}`", test.name), base).map(|r| (fqn, r))
        })
        .collect();
    for (index, (test, result)) in project.singular_tests.iter().zip(rendered).enumerate() {
        match result {
            Ok((fqn, rendered)) if rendered.config.enabled() => match TestConfig::parse(&rendered.config) {
                Err(error) => {
                    errors.push(config_diagnostic(project, &format!("test `{}`", test.name), error, Some((&test.file.path, &test.file.text)), &[]))
                }
                Ok(typed) => {
                    let details = NodeDetails::Test(TestDetails {
                        test_name: None,
                        namespace: None,
                        attached_to: None,
                        column_name: None,
                        kwargs: Default::default(),
                        refs: rendered.refs,
                        sources: rendered.sources,
                        singular_file: Some(index),
                        config: typed,
                    });
                    nodes.push(Node {
                        fqn,
                        config: rendered.config,
                        ..Node::new(ResourceType::Test, &test.package, &test.name, &test.file.path, details)
                    });
                }
            },
            Ok(_) => {}
            Err(diagnostic) => errors.push(diagnostic),
        }
    }
}

/// A node for each enabled exposure, with its Tableau refresh if it names one.
fn exposure_nodes(project: &Project, nodes: &mut Vec<Node>, errors: &mut Diagnostics) {
    for exposure in &project.exposures {
        if !exposure.config.enabled() {
            continue;
        }
        let refresh = exposure_section(project, exposure, "tableau:", exposure.extra.get("tableau").map(crate::tableau::Refresh::parse), errors);
        let delivery =
            exposure_section(project, exposure, "export:", exposure.extra.get("export").map(crate::core::delivery::Delivery::parse), errors);
        if delivery.is_none() && exposure.exposure_type.as_deref() == Some("delivery") {
            let source = std::fs::read_to_string(project.absolute(&exposure.file)).unwrap_or_default();
            errors.push(
                Diagnostic::new(format!("exposure `{}` of `type: delivery` has no `export:`", exposure.name))
                    .at(exposure_location(&exposure.file, &source, &exposure.name, "type:"))
                    .help("say where its rows go: `export: {format: xlsx, path: deliveries/dau_{{ ds_nodash }}.xlsx}`"),
            );
        }
        let details = NodeDetails::Exposure {
            exposure_type: exposure.exposure_type.clone(),
            owner: exposure.owner.clone(),
            depends_on: exposure.depends_on.clone(),
            extra: exposure.extra.clone(),
            refresh,
            delivery,
        };
        nodes.push(Node {
            config: exposure.config.clone(),
            description: exposure.description.clone().unwrap_or_default(),
            ..Node::new(ResourceType::Exposure, &exposure.package, &exposure.name, &exposure.file, details)
        });
    }
}

/// A webhook's `select:` is checked with the rest of the project, so a
/// selector that cannot select is an error at its line before anything runs.
fn check_notification_selectors(project: &Project, errors: &mut Diagnostics) {
    for webhook in &project.notifications {
        if let Err(diagnostic) = crate::graph::select::Selector::parse(&webhook.select) {
            errors.push(diagnostic.at(webhook.select_at.clone()));
        }
    }
}

/// A delivery into another output of the profile carries each column of the
/// model into that warehouse's type: a column whose declared `data_type`
/// it cannot load (an array into BigQuery through a CSV load) is an error
/// at the exposure's `export:` when the project is parsed, not at night.
fn check_deliveries(project: &Project, graph: &Graph, errors: &mut Diagnostics) {
    let from = crate::warehouse::dialect(project.target.kind);
    for (index, exposure) in graph.nodes.iter().enumerate() {
        let Some(crate::core::delivery::Delivery { to: crate::core::delivery::DeliverTo::Table { target: Some(target), .. }, model }) =
            exposure.delivery()
        else {
            continue;
        };
        if *target == project.target.name {
            continue;
        }
        // Which model is delivered is the run's error to report.
        let Ok(delivered) = graph.delivered_model(index, model.as_deref()) else { continue };
        // The other output is read when the delivery runs too; its errors are reported there.
        let Ok(other) = crate::project::profile::load(&project.profile_name, project.target.file.parent(), &project.root, Some(target)) else {
            continue;
        };
        let into = crate::warehouse::dialect(other.kind);
        for column in delivered.declared_columns() {
            let Some(declared) = &column.data_type else { continue };
            if let Err(why) = into.load_type_name(&from.parse_type(declared)) {
                let source = std::fs::read_to_string(project.absolute(&exposure.path)).unwrap_or_default();
                errors.push(
                    Diagnostic::new(format!(
                        "exposure `{}`: column `{}` of `{}` (`{declared}`) cannot be delivered into target `{target}`: {why}",
                        exposure.name, column.name, delivered.name
                    ))
                    .at(exposure_location(&exposure.path, &source, &exposure.name, "export:")),
                );
            }
        }
    }
}

/// A source's `wait_for` and `freshness` are checked when the project is
/// parsed, so `compile` catches a duration that does not parse, not the run.
fn check_source_checks(project: &Project, graph: &Graph, errors: &mut Diagnostics) {
    for node in graph.nodes.iter().filter(|n| n.resource_type == ResourceType::Source) {
        let Some(Err(message)) = crate::graph::source_check::SourceCheck::of(node) else { continue };
        // Messages start with the key they are about: "`timeout: 5x` is not ...".
        let key = message.trim_start_matches('`').split([':', '`']).next().unwrap_or("wait_for").to_string();
        let text = std::fs::read_to_string(project.absolute(&node.path)).unwrap_or_default();
        errors.push(Diagnostic::new(format!("source `{}`: {message}", node.display_name())).at(locate_key(
            project,
            Some((&node.path, &text)),
            &[],
            &format!("{key}:"),
        )));
    }
}

/// A section of an exposure (`tableau:`, `export:`), parsed; one that does not
/// parse is an error at its key.
fn exposure_section<T, E: std::fmt::Display>(
    project: &Project,
    exposure: &crate::project::properties::ExposureProperties,
    key: &str,
    parsed: Option<Result<T, E>>,
    errors: &mut Diagnostics,
) -> Option<T> {
    match parsed? {
        Ok(section) => Some(section),
        Err(message) => {
            let source = std::fs::read_to_string(project.absolute(&exposure.file)).unwrap_or_default();
            errors.push(Diagnostic::new(format!("exposure `{}`: {message}", exposure.name)).at(exposure_location(
                &exposure.file,
                &source,
                &exposure.name,
                key,
            )));
            None
        }
    }
}

/// Where `key` is written in the exposure `name` of a properties file: after its `name:` line.
fn exposure_location(file: &std::path::Path, source: &str, name: &str, key: &str) -> Location {
    let start = source.find(&format!("name: {name}")).unwrap_or(0);
    match source[start..].find(key) {
        Some(offset) => Location::at_offset(file, source, start + offset, key.len() - 1),
        None => Location::of_text(file, source, name),
    }
}

/// A model's `tableau: {datasources: [...]}` config: the same refresh as an
/// exposure's, after that model alone, as an exposure node named
/// `<model>_tableau_refresh`, so `ls` and the DAG show it.
fn model_refreshes(project: &Project, nodes: &[Node], errors: &mut Diagnostics) -> Vec<Node> {
    let mut refreshes = Vec::new();
    for node in nodes.iter().filter(|n| n.resource_type == ResourceType::Model) {
        let Some(value) = node.config.get("tableau").filter(|v| !v.is_null()) else { continue };
        let refresh = match crate::tableau::Refresh::parse(value) {
            Ok(refresh) => refresh,
            Err(message) => {
                let source = std::fs::read_to_string(project.absolute(&node.path)).unwrap_or_default();
                errors.push(Diagnostic::new(format!("model `{}`: {message}", node.name)).at(Location::of_text(&node.path, &source, "tableau")));
                continue;
            }
        };
        let details = NodeDetails::Exposure {
            exposure_type: Some("dashboard".into()),
            owner: None,
            depends_on: vec![format!("ref('{}')", node.name)],
            extra: Default::default(),
            refresh: Some(refresh),
            delivery: None,
        };
        let name = format!("{}_tableau_refresh", node.name);
        refreshes.push(Node {
            description: format!("Refreshes the Tableau datasources of model `{}`.", node.name),
            ..Node::new(ResourceType::Exposure, &project.name, &name, &node.path, details)
        });
    }
    refreshes
}
