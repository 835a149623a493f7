//! Parsing: render every model and singular test once in parse mode to learn its
//! `ref()`, `source()` and `config()` calls, merge configs (project tree, then
//! properties files, then the model's own), name relations, and build the DAG
//! with seeds, sources, data tests and exposures. Every error found is reported.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use rayon::prelude::*;
use regex::Regex;
use serde_json::Value as Json;

use crate::{FastMap, FastSet};
use crate::core::diagnostic::{Diagnostic, Diagnostics, Location, did_you_mean};
use crate::graph::model_config::ModelConfig;
use crate::graph::{Column, Edge, Graph, Node, NodeDetails, ResourceType, TestDetails};
use crate::project::config::{self, ConfigExt, ConfigMap};
use crate::project::properties::{ColumnProperties, ModelProperties};
use crate::project::{ModelFile, Project};
use crate::core::relation::Relation;
use crate::template::scope::parse_ref_string;
use crate::template::{Mode, RefCall, Scope, Templates};

/// The DAG, and the errors of the files that could not be parsed (their nodes
/// are left out, so the rest of the project can still be compiled and checked).
pub struct Parsed {
    pub graph: Graph,
    pub errors: Diagnostics,
}

struct RenderedModel {
    /// The SQL with relation placeholders, when it needs no second render.
    sql: Option<String>,
    config: ConfigMap,
    refs: Vec<RefCall>,
    sources: Vec<(String, String)>,
}

pub fn parse(project: &Project, templates: &Templates) -> Result<Parsed, Diagnostics> {
    let mut errors = Diagnostics::default();
    check_duplicate_names(project, &mut errors);
    errors.into_result()?;
    let mut errors = Diagnostics::default();

    let properties: FastMap<&str, &ModelProperties> =
        project.model_properties.iter().map(|p| (p.name.as_str(), p)).collect();
    let seed_properties: HashMap<&str, &ModelProperties> =
        project.seed_properties.iter().map(|p| (p.name.as_str(), p)).collect();

    let source_nodes = build_source_nodes(project, templates, &mut errors);
    // Sources are known before models are parsed, so `source()` resolves for real.
    let sources: Arc<dyn crate::template::Resolve> = Arc::new(crate::graph::resolve::GraphResolver::new(&source_nodes));

    // Models: render each once, in parallel.
    let tree_configs = config::TreeConfigs::new(&project.models_config, &project.name, project.models.iter().map(|m| m.folders.as_slice()));
    // Each yields its node, and the error of naming its relation, if any.
    let rendered: Vec<Result<Option<(Node, Option<Diagnostic>)>, Diagnostic>> = project
        .models
        .par_iter()
        .enumerate()
        .map(|(file, model)| {
            let props = properties.get(model.name.as_str());
            let mut base = tree_configs.get(&model.folders, &model.name);
            if let Some(props) = props {
                config::merge(&mut base, &props.config);
            }
            if !base.enabled() {
                return Ok(None);
            }
            let rendered = render_for_parse(templates, &sources, &model.file.path, &model.file.text, format!("model `{}`", model.name), base)?;
            if !rendered.config.enabled() {
                return Ok(None);
            }
            Ok(Some(model_node(project, templates, file, model, props.copied(), rendered)))
        })
        .collect();

    // Generic tests declared on models and seeds (source tables' are few).
    let declared: usize = project
        .model_properties
        .iter()
        .chain(&project.seed_properties)
        .map(|p| p.tests.len() + p.columns.iter().map(|c| c.tests.len()).sum::<usize>())
        .sum();
    let mut nodes = Vec::with_capacity(
        project.models.len() + project.seeds.len() + source_nodes.len() + declared + project.singular_tests.len() + project.exposures.len(),
    );
    let mut failed = FastSet::default();
    for (model, result) in project.models.iter().zip(rendered) {
        match result {
            Ok(Some((node, relation_error))) => {
                if let Some(diagnostic) = relation_error {
                    errors.push(diagnostic);
                }
                nodes.push(node);
            }
            Ok(None) => {}
            Err(diagnostic) => {
                errors.push(diagnostic);
                failed.insert(model.name.as_str());
            }
        }
    }

    for seed in &project.seeds {
        let mut fqn = vec![project.name.clone()];
        fqn.extend(seed.folders.iter().cloned());
        fqn.push(seed.name.clone());
        let mut config = config::from_tree(&project.seeds_config, &fqn);
        let props = seed_properties.get(seed.name.as_str());
        if let Some(props) = props {
            config::merge(&mut config, &props.config);
        }
        if !config.enabled() {
            continue;
        }
        let mut node = Node {
            unique_id: format!("seed.{}.{}", project.name, seed.name),
            resource_type: ResourceType::Seed,
            name: seed.name.clone(),
            package: project.name.clone(),
            path: seed.path.clone(),
            fqn,
            config,
            description: props.and_then(|p| p.description.clone()).unwrap_or_default(),
            relation: None,
            details: NodeDetails::Seed { columns: props.map(|p| columns(&p.columns)).unwrap_or_default() },
        };
        node.relation = Some(model_relation(project, templates, &node).map_err(|d| errors.push(d)).unwrap_or_else(|_| Relation::ephemeral(&node.name)));
        nodes.push(node);
    }

    nodes.extend(source_nodes);

    // Generic data tests declared in properties files.
    let mut tests = GenericTests { nodes: Vec::with_capacity(declared), ids: FastSet::with_capacity_and_hasher(declared, Default::default()) };
    for props in &project.model_properties {
        let target = format!("model.{}.{}", project.name, props.name);
        collect_tests(project, props, &target, &props.name, "", &mut tests, &mut errors);
    }
    for props in &project.seed_properties {
        let target = format!("seed.{}.{}", project.name, props.name);
        collect_tests(project, props, &target, &props.name, "", &mut tests, &mut errors);
    }
    for source in &project.sources {
        for table in &source.tables {
            let target = format!("source.{}.{}.{}", project.name, source.name, table.name);
            let as_model = ModelProperties {
                name: table.name.clone(),
                columns: table.columns.clone(),
                tests: table.tests.clone(),
                file: source.file.clone(),
                ..Default::default()
            };
            // dbt's name for a source's test: `source_not_null_<source>_<table>_<column>`.
            let target_name = format!("{}_{}", source.name, table.name);
            collect_tests(project, &as_model, &target, &target_name, "source_", &mut tests, &mut errors);
        }
    }
    let present: FastSet<&str> = nodes.iter().map(|n| n.unique_id.as_str()).collect();
    tests.nodes.retain(|test: &Node| match &test.details {
        NodeDetails::Test(details) => details.attached_to.as_deref().is_none_or(|id| present.contains(id)),
        _ => true,
    });
    nodes.extend(tests.nodes);

    // Singular tests: SQL files under the test paths.
    let rendered: Vec<_> = project
        .singular_tests
        .par_iter()
        .map(|test| {
            let mut fqn = vec![project.name.clone()];
            fqn.extend(test.folders.iter().cloned());
            fqn.push(test.name.clone());
            let base = config::from_tree(&project.tests_config, &fqn);
            render_for_parse(templates, &sources, &test.file.path, &test.file.text, format!("test `{}`", test.name), base).map(|r| (fqn, r))
        })
        .collect();
    for (index, (test, result)) in project.singular_tests.iter().zip(rendered).enumerate() {
        match result {
            Ok((fqn, rendered)) if rendered.config.enabled() => nodes.push(Node {
                unique_id: format!("test.{}.{}", project.name, test.name),
                resource_type: ResourceType::Test,
                name: test.name.clone(),
                package: project.name.clone(),
                path: test.file.path.clone(),
                fqn,
                config: rendered.config,
                description: String::new(),
                relation: None,
                details: NodeDetails::Test(TestDetails {
                    test_name: None,
                    attached_to: None,
                    column_name: None,
                    kwargs: Default::default(),
                    refs: rendered.refs,
                    sources: rendered.sources,
                    singular_file: Some(index),
                }),
            }),
            Ok(_) => {}
            Err(diagnostic) => errors.push(diagnostic),
        }
    }

    for exposure in &project.exposures {
        if !exposure.config.enabled() {
            continue;
        }
        nodes.push(Node {
            unique_id: format!("exposure.{}.{}", project.name, exposure.name),
            resource_type: ResourceType::Exposure,
            name: exposure.name.clone(),
            package: project.name.clone(),
            path: exposure.file.clone(),
            fqn: vec![project.name.clone(), exposure.name.clone()],
            config: exposure.config.clone(),
            description: exposure.description.clone().unwrap_or_default(),
            relation: None,
            details: NodeDetails::Exposure {
                exposure_type: exposure.exposure_type.clone(),
                owner: exposure.owner.clone(),
                depends_on: exposure.depends_on.clone(),
                extra: exposure.extra.clone(),
            },
        });
    }

    render_descriptions(project, templates, &mut nodes, &mut errors);
    let mut graph = Graph::new(nodes);
    let edges = resolve_edges(project, &graph, &failed, &mut errors);
    if let Err(cycles) = graph.connect(edges, |node, needle| locate(project, node, needle)) {
        for cycle in cycles {
            errors.push(cycle);
        }
        return Err(errors);
    }
    Ok(Parsed { graph, errors })
}

/// A node per table of every source; `database`, `schema` and `identifier`
/// are rendered first, since they may use Jinja.
fn build_source_nodes(project: &Project, templates: &Templates, errors: &mut Diagnostics) -> Vec<Node> {
    let mut nodes = Vec::new();
    let dialect = crate::warehouse::dialect(project.target.kind);
    let quote = dialect.quote_style();
    for source in &project.sources {
        if !source.config.enabled() {
            continue;
        }
        for table in &source.tables {
            let mut source_config = source.config.clone();
            config::merge(&mut source_config, &table.config);
            // Like dbt, `database`, `schema` and `identifier` may use Jinja (`{{ target.schema }}`).
            let mut render = |text: &Option<String>| -> Option<String> {
                let text = text.as_deref()?;
                let mut scope = Scope::new(format!("source `{}`", source.name), Mode::Compile, ConfigMap::new());
                let name = source.file.to_string_lossy();
                match templates.render_str(&name, text, &mut scope) {
                    Ok(rendered) => Some(rendered.trim().to_string()),
                    Err(err) => {
                        let source_text = std::fs::read_to_string(project.absolute(&source.file)).unwrap_or_default();
                        errors.push(templates.diagnostic(&err, None).at(Location::of_text(&source.file, &source_text, text)));
                        None
                    }
                }
            };
            let database = render(&source.database).or_else(|| dialect.default_database(&project.target));
            let schema = render(&source.schema).unwrap_or_else(|| source.name.clone());
            let identifier = render(&table.identifier).unwrap_or_else(|| table.name.clone());
            nodes.push(Node {
                unique_id: format!("source.{}.{}.{}", project.name, source.name, table.name),
                resource_type: ResourceType::Source,
                name: table.name.clone(),
                package: project.name.clone(),
                path: source.file.clone(),
                fqn: vec![project.name.clone(), source.name.clone(), table.name.clone()],
                config: source_config.clone(),
                description: table.description.clone().or_else(|| source.description.clone()).unwrap_or_default(),
                relation: Some(Relation::new(database, schema, identifier, quote)),
                details: NodeDetails::Source {
                    source_name: source.name.clone(),
                    table_name: table.name.clone(),
                    loaded_at_field: table.loaded_at_field.clone().or_else(|| source.loaded_at_field.clone()),
                    freshness: table.freshness.clone().or_else(|| source.freshness.clone()),
                    wait_for: table.wait_for.clone(),
                    columns: columns(&table.columns),
                },
            });
        }
    }

    nodes
}

/// A model's node, and the error of naming its relation, if any (the node then
/// gets an ephemeral relation, so the rest of the project still compiles).
fn model_node(
    project: &Project,
    templates: &Templates,
    file: usize,
    model: &ModelFile,
    props: Option<&ModelProperties>,
    rendered: RenderedModel,
) -> (Node, Option<Diagnostic>) {
    let (typed, config_error) = match ModelConfig::parse(&rendered.config) {
        Ok(typed) => (typed, None),
        Err(error) => {
            let location = locate_config(project, model, props, error.key);
            let mut diagnostic = Diagnostic::new(format!("model `{}`: {}", model.name, error.message)).at(location);
            if let Some(help) = error.help {
                diagnostic = diagnostic.help(help);
            }
            (ModelConfig::default(), Some(diagnostic))
        }
    };
    let mut node = Node {
        unique_id: format!("model.{}.{}", project.name, model.name),
        resource_type: ResourceType::Model,
        name: model.name.clone(),
        package: project.name.clone(),
        path: model.file.path.clone(),
        fqn: fqn(project, model),
        description: props.and_then(|p| p.description.clone()).unwrap_or_default(),
        relation: None,
        details: NodeDetails::Model {
            file,
            parsed_sql: rendered.sql,
            refs: rendered.refs,
            sources: rendered.sources,
            columns: props.map(|p| columns(&p.columns)).unwrap_or_default(),
            config: typed,
        },
        config: rendered.config,
    };
    if config_error.is_some() {
        node.relation = Some(Relation::ephemeral(&node.name));
        return (node, config_error);
    }
    let (relation, error) = match node.materialized() {
        "ephemeral" => (Relation::ephemeral(&node.name), None),
        _ => match model_relation(project, templates, &node) {
            Ok(relation) => (relation, None),
            Err(diagnostic) => (Relation::ephemeral(&node.name), Some(diagnostic)),
        },
    };
    node.relation = Some(relation);
    (node, error)
}

/// Where `key` of a model's config was written: the model's `config()` call,
/// else its properties file, else `dbt_project.yml`.
fn locate_config(project: &Project, model: &ModelFile, props: Option<&ModelProperties>, key: &str) -> Location {
    if model.file.text.contains(key) {
        return Location::of_text(&model.file.path, &model.file.text, key);
    }
    let mut files: Vec<PathBuf> = props.map(|p| p.file.clone()).into_iter().collect();
    files.push(PathBuf::from("dbt_project.yml"));
    for file in files {
        if let Ok(text) = std::fs::read_to_string(project.absolute(&file)) {
            if text.contains(key) {
                return Location::of_text(&file, &text, key);
            }
        }
    }
    Location::file(&model.file.path)
}

fn fqn(project: &Project, model: &ModelFile) -> Vec<String> {
    let mut fqn = Vec::with_capacity(model.folders.len() + 2);
    fqn.push(project.name.clone());
    fqn.extend(model.folders.iter().cloned());
    fqn.push(model.name.clone());
    fqn
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
    path: &Path,
    text: &str,
    node: String,
    base: ConfigMap,
) -> Result<RenderedModel, Diagnostic> {
    let name = path.to_string_lossy();
    let template = templates.template(&name, text).map_err(|err| templates.diagnostic(&err, Some((&name, text))))?;
    let model_name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut scope = Scope::new(node, Mode::Parse, base);
    scope.this = Some(Relation::new(
        templates.globals.target_database.clone(),
        templates.globals.target_schema.clone(),
        model_name,
        templates.globals.quote(),
    ));
    scope.resolver = Some(sources.clone());
    let sql = templates.render(&template, &mut scope).map_err(|err| templates.diagnostic(&err, Some((&name, text))))?;
    let sql = scope.exact.then_some(sql);
    Ok(RenderedModel { config: scope.merged_config(), refs: scope.refs, sources: scope.sources, sql })
}

/// Two models (or a model and a seed) with one name cannot both be `ref()`ed.
fn check_duplicate_names(project: &Project, errors: &mut Diagnostics) {
    let mut seen: FastMap<&str, &Path> = FastMap::with_capacity_and_hasher(project.models.len() + project.seeds.len(), Default::default());
    let paths = project
        .models
        .iter()
        .map(|m| (m.name.as_str(), m.file.path.as_path()))
        .chain(project.seeds.iter().map(|s| (s.name.as_str(), s.path.as_path())));
    for (name, path) in paths {
        if let Some(first) = seen.insert(name, path) {
            errors.push(
                Diagnostic::new(format!(
                    "two resources are named `{name}`: `{}` and `{}`",
                    first.display(),
                    path.display()
                ))
                .at(Location::file(path))
                .help("`ref()` finds resources by name; rename one of the files"),
            );
        }
    }
    check_duplicate_properties(project, "models", &project.model_properties, errors);
    check_duplicate_properties(project, "seeds", &project.seed_properties, errors);
}

/// A resource described twice in properties files: dbt refuses it, since one
/// description would silently replace the other's config, columns and tests.
fn check_duplicate_properties(project: &Project, section: &str, entries: &[ModelProperties], errors: &mut Diagnostics) {
    let mut seen: FastMap<&str, (&Path, usize)> = FastMap::default();
    // How many entries of each (file, name) came before, to find the n-th `name:` line.
    let mut occurrence: FastMap<(&Path, &str), usize> = FastMap::default();
    for entry in entries {
        let path = entry.file.as_path();
        let nth = occurrence.entry((path, entry.name.as_str())).or_default();
        let this = (path, *nth);
        *nth += 1;
        let first = *seen.entry(entry.name.as_str()).or_insert(this);
        if first == this {
            continue;
        }
        let text = std::fs::read_to_string(project.absolute(path)).unwrap_or_default();
        let first_text = if first.0 == path { text.clone() } else { std::fs::read_to_string(project.absolute(first.0)).unwrap_or_default() };
        let first_at = name_entry(first.0, &first_text, &entry.name, first.1);
        errors.push(
            Diagnostic::new(format!("`{}` is described twice under `{section}:`: at {first_at} and here", entry.name))
                .at(name_entry(path, &text, &entry.name, this.1))
                .help(format!("a resource's properties may be written once; merge the two entries into the one at {first_at}")),
        );
    }
}

/// The `n`-th (0-based) `name: <name>` line of a properties file, else the file.
fn name_entry(path: &Path, text: &str, name: &str, n: usize) -> Location {
    let mut offset = 0;
    let mut found = 0;
    for line in text.split_inclusive('\n') {
        let key = line.trim_start().trim_start_matches("- ").trim_start();
        if let Some(value) = key.strip_prefix("name:") {
            let value = value.split(" #").next().unwrap_or_default().trim().trim_matches(|c| c == '"' || c == '\'');
            if value == name {
                if found == n {
                    let column = line.len() - line.trim_start().len() + (line.trim_start().len() - key.len());
                    return Location::at_offset(path, text, offset + column, key.trim_end().chars().count());
                }
                found += 1;
            }
        }
        offset += line.len();
    }
    Location::file(path)
}

/// The relation a model or seed builds: dbt's default schema and alias naming,
/// or the project's `generate_schema_name` / `generate_alias_name` macros.
fn model_relation(project: &Project, templates: &Templates, node: &Node) -> Result<Relation, Diagnostic> {
    let custom_schema = node.config.str_value("schema").filter(|s| !s.is_empty());
    let custom_alias = node.config.str_value("alias").filter(|s| !s.is_empty());
    let schema = if templates.custom_schema_name {
        call_naming_macro(templates, "generate_schema_name", custom_schema, node)?
    } else {
        match custom_schema {
            Some(custom) => format!("{}_{}", project.target.schema, custom.trim()),
            None => project.target.schema.clone(),
        }
    };
    let identifier = if templates.custom_alias_name {
        call_naming_macro(templates, "generate_alias_name", custom_alias, node)?
    } else {
        custom_alias.map(|a| a.trim().to_string()).unwrap_or_else(|| node.name.clone())
    };
    let dialect = crate::warehouse::dialect(project.target.kind);
    let database = node.config.str_value("database").map(str::to_string).or_else(|| dialect.default_database(&project.target));
    Ok(Relation::new(database, schema, identifier, dialect.quote_style()))
}

fn call_naming_macro(templates: &Templates, macro_name: &str, custom: Option<&str>, node: &Node) -> Result<String, Diagnostic> {
    let node_value = minijinja::Value::from_serialize(serde_json::json!({
        "name": node.name,
        "unique_id": node.unique_id,
        "resource_type": node.resource_type.name(),
        "fqn": node.fqn,
        "path": node.path.to_string_lossy(),
        "original_file_path": node.path.to_string_lossy(),
        "config": node.config,
    }));
    let args = [minijinja::Value::from(custom.map(str::to_string)), node_value];
    let mut scope = Scope::new(format!("{} `{}`", node.resource_type.name(), node.name), Mode::Compile, node.config.clone());
    templates
        .call_macro(macro_name, &args, &mut scope)
        .map(|value| value.to_string().trim().to_string())
        .map_err(|err| templates.diagnostic(&err, None).note(format!("while naming the relation of `{}`", node.name)))
}


/// The generic tests collected so far, and their unique ids (two tests may
/// get the same name, and the second one a suffix).
#[derive(Default)]
struct GenericTests {
    nodes: Vec<Node>,
    ids: FastSet<String>,
}

fn collect_tests(
    project: &Project,
    props: &ModelProperties,
    target: &str,
    target_name: &str,
    name_prefix: &str,
    tests: &mut GenericTests,
    errors: &mut Diagnostics,
) {
    let column_tests = props.columns.iter().flat_map(|c| c.tests.iter().map(move |t| (Some(c.name.as_str()), t)));
    let model_tests = props.tests.iter().map(|t| (None, t));
    for (column, entry) in column_tests.chain(model_tests) {
        let (test_name, mut args) = match entry {
            Json::String(name) => (name.clone(), serde_json::Map::new()),
            Json::Object(map) if map.len() == 1 || map.contains_key("test_name") || map.contains_key("name") => {
                if let Some(Json::String(name)) = map.get("test_name") {
                    let mut args = map.clone();
                    args.remove("test_name");
                    (name.clone(), args)
                } else if let Some((name, value)) = map.iter().find(|(k, _)| k.as_str() != "name") {
                    let args = match value {
                        Json::Object(args) => args.clone(),
                        Json::Null => serde_json::Map::new(),
                        _ => serde_json::Map::new(),
                    };
                    (name.clone(), args)
                } else {
                    continue;
                }
            }
            other => {
                errors.push(
                    Diagnostic::new(format!("`{}`: a data test of `{}` is not a name or a mapping: `{other}`", props.file.display(), props.name))
                        .at(Location::file(&props.file)),
                );
                continue;
            }
        };
        // dbt 1.8 nests arguments under `arguments:`; older files put them beside `config:`.
        if let Some(Json::Object(nested)) = args.remove("arguments") {
            args.extend(nested);
        }
        let mut test_config = config::from_tree(&project.tests_config, &[project.name.clone(), test_name.clone()]);
        if let Some(Json::Object(entry_config)) = args.remove("config") {
            config::merge(&mut test_config, &entry_config);
        }
        for key in ["severity", "where", "limit", "warn_if", "error_if", "store_failures", "enabled", "tags"] {
            if let Some(value) = args.remove(key) {
                config::merge_key(&mut test_config, key, &value);
            }
        }
        if !test_config.enabled() {
            continue;
        }
        let short_name = test_name.rsplit('.').next().unwrap_or(&test_name).to_string();
        let mut refs = Vec::new();
        let mut sources = Vec::new();
        for value in args.values() {
            if let Some(parsed) = value.as_str().and_then(parse_ref_string) {
                match parsed {
                    Ok(call) => refs.push(call),
                    Err(source) => sources.push(source),
                }
            }
        }
        let name = generic_test_name(&format!("{name_prefix}{short_name}"), target_name, column, &args);
        let mut unique_id = format!("test.{}.{}", project.name, name);
        let mut suffix = 2;
        while tests.ids.contains(&unique_id) {
            unique_id = format!("test.{}.{}_{}", project.name, name, suffix);
            suffix += 1;
        }
        tests.ids.insert(unique_id.clone());
        tests.nodes.push(Node {
            name: unique_id.rsplit('.').next().unwrap_or(&name).to_string(),
            unique_id,
            resource_type: ResourceType::Test,
            package: project.name.clone(),
            path: props.file.clone(),
            fqn: {
                // `[project, folders of the properties file.., test name]`, as dbt.
                let mut fqn = vec![project.name.clone()];
                let folders = props.file.parent().map(|p| p.iter().skip(1).map(|f| f.to_string_lossy().into_owned()).collect::<Vec<_>>());
                fqn.extend(folders.unwrap_or_default());
                fqn.push(name.clone());
                fqn
            },
            config: test_config,
            description: String::new(),
            relation: None,
            details: NodeDetails::Test(TestDetails {
                test_name: Some(short_name),
                attached_to: Some(target.to_string()),
                column_name: column.map(str::to_string),
                kwargs: args,
                refs,
                sources,
                singular_file: None,
            }),
        });
    }
}

/// dbt's generated test name: `accepted_values_orders_status__placed__shipped`.
fn generic_test_name(test: &str, target: &str, column: Option<&str>, args: &serde_json::Map<String, Json>) -> String {
    static UNSAFE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[^0-9a-zA-Z_]+").unwrap_or_else(|_| unreachable!()));
    let mut name = format!("{test}_{target}");
    if let Some(column) = column {
        name.push('_');
        name.push_str(column);
    }
    let mut keys: Vec<&String> = args.keys().filter(|k| k.as_str() != "column_name" && k.as_str() != "model").collect();
    keys.sort();
    for key in keys {
        let mut flat = Vec::new();
        flatten(&args[key], &mut flat);
        for part in flat {
            name.push_str("__");
            name.push_str(&part);
        }
    }
    UNSAFE.replace_all(&name, "_").into_owned()
}

fn flatten(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::Array(items) => items.iter().for_each(|item| flatten(item, out)),
        Json::Object(map) => map.values().for_each(|item| flatten(item, out)),
        Json::String(text) => out.push(text.clone()),
        Json::Null => {}
        other => out.push(other.to_string()),
    }
}

/// Turns every `ref()`, `source()` and `depends_on` into an edge, reporting the
/// ones that name nothing.
fn resolve_edges(project: &Project, graph: &Graph, failed: &FastSet<&str>, errors: &mut Diagnostics) -> Vec<Edge> {
    let mut refable: FastMap<&str, usize> = FastMap::with_capacity_and_hasher(graph.nodes.len(), Default::default());
    let mut sources: FastMap<(&str, &str), usize> = FastMap::default();
    for (index, node) in graph.nodes.iter().enumerate() {
        match &node.details {
            NodeDetails::Model { .. } | NodeDetails::Seed { .. } => {
                refable.insert(node.name.as_str(), index);
            }
            NodeDetails::Source { source_name, table_name, .. } => {
                sources.insert((source_name.as_str(), table_name.as_str()), index);
            }
            _ => {}
        }
    }
    let model_names: Vec<&str> = project.models.iter().map(|m| m.name.as_str()).chain(project.seeds.iter().map(|s| s.name.as_str())).collect();
    let disabled: Vec<&str> = model_names.iter().copied().filter(|name| !refable.contains_key(name) && !failed.contains(name)).collect();

    let locate = |node: &Node, needle: &str| locate(project, node, needle);

    let mut edges = Vec::with_capacity(2 * graph.nodes.len());
    // A source table that a seed loads (same relation) is read after the seed.
    let seeds: HashMap<&Relation, usize> = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.resource_type == ResourceType::Seed)
        .filter_map(|(i, n)| n.relation.as_ref().map(|r| (r, i)))
        .collect();
    for (index, node) in graph.nodes.iter().enumerate() {
        if let (ResourceType::Source, Some(relation)) = (node.resource_type, &node.relation) {
            if let Some(&seed) = seeds.get(relation) {
                edges.push(Edge { parent: seed, child: index, written: None });
            }
        }
    }
    for (index, node) in graph.nodes.iter().enumerate() {
        let (refs, node_sources, attached): (Cow<[RefCall]>, Cow<[(String, String)]>, Option<&str>) = match &node.details {
            NodeDetails::Model { refs, sources, .. } => (refs.into(), sources.into(), None),
            NodeDetails::Test(test) => (test.refs.as_slice().into(), test.sources.as_slice().into(), test.attached_to.as_deref()),
            NodeDetails::Exposure { depends_on, .. } => {
                let mut refs = Vec::new();
                let mut sources = Vec::new();
                for text in depends_on {
                    match parse_ref_string(text) {
                        Some(Ok(call)) => refs.push(call),
                        Some(Err(source)) => sources.push(source),
                        None => errors.push(
                            Diagnostic::new(format!("exposure `{}` depends on `{text}`, which is not a `ref()` or `source()`", node.name))
                                .at(locate(node, text))
                                .help("write `depends_on: [\"ref('model_name')\"]`"),
                        ),
                    }
                }
                (refs.into(), sources.into(), None)
            }
            _ => continue,
        };
        if let Some(parent) = attached.and_then(|id| graph.by_id.get(id)) {
            edges.push(Edge { parent: *parent, child: index, written: None });
        }
        for call in refs.iter() {
            let needle = || format!("'{}'", call.name);
            if let Some(package) = &call.package {
                if package != &project.name {
                    errors.push(
                        Diagnostic::new(format!("{} `{}` refers to `ref('{package}', '{}')`, but package `{package}` is not installed", node.resource_type.name(), node.name, call.name))
                            .at(locate(node, &needle()))
                            .help(format!("this project is `{}`; packages are not supported yet", project.name)),
                    );
                    continue;
                }
            }
            match refable.get(call.name.as_str()) {
                Some(&parent) => edges.push(Edge { parent, child: index, written: Some(call.name.clone()) }),
                // Its own error is reported already.
                None if failed.contains(call.name.as_str()) => {}
                None => {
                    let mut diagnostic = Diagnostic::new(format!(
                        "{} `{}` refers to `ref('{}')`, which is not a model or seed",
                        node.resource_type.name(),
                        node.name,
                        call.name
                    ))
                    .at(locate(node, &needle()));
                    if disabled.contains(&call.name.as_str()) {
                        diagnostic = diagnostic.note(format!("`{}` is disabled (`enabled: false`)", call.name));
                    } else if let Some(close) = did_you_mean(&call.name, refable.keys().copied()) {
                        diagnostic = diagnostic.help(format!("did you mean `{close}`?"));
                    }
                    errors.push(diagnostic);
                }
            }
        }
        for (source_name, table_name) in node_sources.iter() {
            match sources.get(&(source_name.as_str(), table_name.as_str())) {
                Some(&parent) => edges.push(Edge { parent, child: index, written: Some(source_name.clone()) }),
                None => {
                    let known: Vec<String> = sources.keys().map(|(s, t)| format!("{s}.{t}")).collect();
                    let wanted = format!("{source_name}.{table_name}");
                    let mut diagnostic = Diagnostic::new(format!(
                        "{} `{}` reads `source('{source_name}', '{table_name}')`, which is not declared",
                        node.resource_type.name(),
                        node.name
                    ))
                    .at(locate(node, &format!("'{source_name}'")));
                    diagnostic = match did_you_mean(&wanted, known.iter().map(String::as_str)) {
                        Some(close) => diagnostic.help(format!("did you mean `{close}`? Sources are declared under `sources:` in a `.yml` file")),
                        None => diagnostic.help(format!("declare table `{table_name}` of source `{source_name}` under `sources:` in a `.yml` file under the model paths")),
                    };
                    errors.push(diagnostic);
                }
            }
        }
    }
    edges
}

/// Where `needle` (a quoted name in a `ref()`/`source()` call) is written in `node`'s file.
fn locate(project: &Project, node: &Node, needle: &str) -> Location {
    let text = match &node.details {
        NodeDetails::Model { file, .. } => Some(project.models[*file].file.text.as_str()),
        NodeDetails::Test(TestDetails { singular_file: Some(file), .. }) => Some(project.singular_tests[*file].file.text.as_str()),
        _ => None,
    };
    match text {
        Some(text) => locate_call(&node.path, text, needle),
        None => match std::fs::read_to_string(project.absolute(&node.path)) {
            Ok(text) => Location::of_text(&node.path, &text, needle),
            Err(_) => Location::file(&node.path),
        },
    }
}

/// Where a `ref('x')`-style call is written: the quoted name, preferring an
/// occurrence inside a `ref(`/`source(` call.
fn locate_call(path: &PathBuf, text: &str, quoted: &str) -> Location {
    let double = quoted.replace('\'', "\"");
    for needle in [quoted, double.as_str()] {
        if let Some(at) = text.find(needle) {
            let start = text[..at].rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '(' || c == ' ' || c == '\'' || c == '"' || c == ','))
                .map_or(0, |i| i + 1);
            let start = text[start..at].find(|c: char| c.is_alphabetic()).map_or(at, |i| start + i);
            let end = text[at + needle.len()..].find(')').map_or(at + needle.len(), |i| at + needle.len() + i + 1);
            return Location::at_offset(path, text, start, end - start);
        }
    }
    Location::in_source(path, text, 1, None)
}

/// Model name → node index of every model and seed, for resolving `ref()` at compile time.
pub fn refable_nodes(graph: &Graph) -> BTreeMap<String, usize> {
    graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n.resource_type, ResourceType::Model | ResourceType::Seed))
        .map(|(i, n)| (n.name.clone(), i))
        .collect()
}
