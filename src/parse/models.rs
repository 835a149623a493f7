//! A model's node: its typed config, its relation (dbt's schema and alias
//! naming, or the project's naming macros) and where each config was written.

#[allow(clippy::wildcard_imports)]
use super::*;

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
