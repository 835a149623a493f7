//! A model's node: its typed config, its relation (dbt's schema and alias
//! naming, or the project's naming macros) and where each config was written.

#[allow(clippy::wildcard_imports)]
use super::*;

/// A node for each enabled model and snapshot, each rendered once in parse
/// mode, in parallel. Returns the names of those that did not render: their
/// error is reported, so a `ref()` to them is not reported again.
pub(super) fn model_nodes<'p>(
    project: &'p Project,
    templates: &Templates,
    sources: &Arc<dyn crate::template::Resolve>,
    nodes: &mut Vec<Node>,
    errors: &mut Diagnostics,
) -> FastSet<&'p str> {
    let (properties, snapshot_properties) = (by_name(&project.model_properties), by_name(&project.snapshot_properties));
    let root_models = project.models.iter().filter(|m| m.package == project.name && !m.is_snapshot);
    let tree_configs = config::TreeConfigs::new(&project.models_config, &project.name, root_models.map(|m| m.folders.as_slice()));
    // Each yields its node, and the error of naming its relation, if any.
    type Rendered = Result<Option<(Node, Option<Diagnostic>)>, Diagnostic>;
    let rendered: Vec<Rendered> = project
        .models
        .par_iter()
        .enumerate()
        .map(|(file, model)| {
            let props = if model.is_snapshot { &snapshot_properties } else { &properties }.get(&(model.package.as_str(), model.name.as_str()));
            let base = base_config(project, &tree_configs, model, props.copied());
            if !base.enabled() {
                return Ok(None);
            }
            let Some(rendered) = render_model(project, templates, sources, model, base)? else { return Ok(None) };
            Ok(Some(model_node(project, templates, file, model, props.copied(), rendered)))
        })
        .collect();
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
    failed
}

/// A model's config before its own `config()` calls: what `dbt_project.yml`
/// gives it (`snapshots:` for a snapshot), then its properties file's.
fn base_config(project: &Project, tree_configs: &config::TreeConfigs<'_>, model: &ModelFile, props: Option<&ModelProperties>) -> ConfigMap {
    let mut base = if model.is_snapshot {
        project.tree_config(ConfigSection::Snapshots, &fqn(model))
    } else if model.package == project.name {
        tree_configs.get(&model.folders, &model.name)
    } else {
        project.tree_config(ConfigSection::Models, &fqn(model))
    };
    if let Some(props) = props {
        config::merge(&mut base, &props.config);
    }
    base
}

/// A model rendered in parse mode over its `base` config, with the config it
/// ends with; `None` when that config disables it.
fn render_model(
    project: &Project,
    templates: &Templates,
    sources: &Arc<dyn crate::template::Resolve>,
    model: &ModelFile,
    base: ConfigMap,
) -> Result<Option<RenderedModel>, Diagnostic> {
    let kind = if model.is_snapshot { "snapshot" } else { "model" };
    let mut rendered = render_for_parse(templates, sources, model, format!("{kind} `{}`", model.name), base)?;
    if model.is_snapshot {
        rendered.config.insert("materialized".into(), Json::from("snapshot"));
    } else if model.package != project.name {
        // As in dbt, the root project's `models:` config of a package's
        // model wins over the package's own `config()` calls.
        for (key, value) in config::from_tree(&project.models_config, &fqn(model)) {
            if !matches!(key.as_str(), "tags" | "pre_hook" | "post_hook") {
                rendered.config.insert(key, value);
            }
        }
    }
    Ok(rendered.config.enabled().then_some(rendered))
}

/// A model's node, and the error of naming its relation, if any (the node then
/// gets an ephemeral relation, so the rest of the project still compiles).
pub(super) fn model_node(
    project: &Project,
    templates: &Templates,
    file: usize,
    model: &ModelFile,
    props: Option<&ModelProperties>,
    rendered: RenderedModel,
) -> (Node, Option<Diagnostic>) {
    let rules = crate::warehouse::dialect(project.target.kind).config_rules();
    let resource_type = if model.is_snapshot { ResourceType::Snapshot } else { ResourceType::Model };
    let (typed, config_error) = match ModelConfig::parse(&rendered.config, rules) {
        Ok(typed) => (typed, None),
        Err(error) => {
            let files: Vec<PathBuf> = props.map(|p| p.file.clone()).into_iter().collect();
            let written = Some((model.file.path.as_path(), model.file.text.as_str()));
            let label = format!("{} `{}`", resource_type.name(), model.name);
            (ModelConfig::default(), Some(config_diagnostic(project, &label, error, written, &files)))
        }
    };
    let details = NodeDetails::Model {
        file,
        parsed_sql: rendered.sql,
        refs: rendered.refs,
        sources: rendered.sources,
        columns: props.map(|p| columns(&p.columns)).unwrap_or_default(),
        config: typed,
    };
    let mut node = Node {
        fqn: fqn(model),
        config: rendered.config,
        description: props.and_then(|p| p.description.clone()).unwrap_or_default(),
        ..Node::new(resource_type, &model.package, &model.name, &model.file.path, details)
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

pub(super) fn fqn(model: &ModelFile) -> Vec<String> {
    let mut fqn = Vec::with_capacity(model.folders.len() + 2);
    fqn.push(model.package.clone());
    fqn.extend(model.folders.iter().cloned());
    fqn.push(model.name.clone());
    fqn
}

/// The relation a model or seed builds: dbt's default schema and alias naming,
/// or the project's `generate_schema_name` / `generate_alias_name` macros.
pub(super) fn model_relation(project: &Project, templates: &Templates, node: &Node) -> Result<Relation, Diagnostic> {
    let custom_schema = node.config.str_value("schema").filter(|s| !s.is_empty());
    let custom_alias = node.config.str_value("alias").filter(|s| !s.is_empty());
    // A snapshot's legacy `target_schema` and `target_database` are used as written.
    let target_schema = node.config.str_value("target_schema").filter(|_| node.resource_type == ResourceType::Snapshot);
    let schema = if let Some(target_schema) = target_schema {
        target_schema.to_string()
    } else if templates.custom_schema_name {
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
    let database = node
        .config
        .str_value("database")
        .or_else(|| node.config.str_value("target_database").filter(|_| node.resource_type == ResourceType::Snapshot))
        .map(str::to_string)
        .or_else(|| project.target.database.clone());
    Ok(Relation::new(database, schema, identifier, dialect.quote_style()))
}

pub(super) fn call_naming_macro(templates: &Templates, macro_name: &str, custom: Option<&str>, node: &Node) -> Result<String, Diagnostic> {
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
