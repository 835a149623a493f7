//! Source tables: a node each, with `database`, `schema` and `identifier` rendered.

#[allow(clippy::wildcard_imports)]
use super::*;

/// A node per table of every source; `database`, `schema` and `identifier`
/// are rendered first, since they may use Jinja.
pub(super) fn build_source_nodes(project: &Project, templates: &Templates, errors: &mut Diagnostics) -> Vec<Node> {
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
            let database = render(&source.database).or_else(|| project.target.database.clone());
            let schema = render(&source.schema).unwrap_or_else(|| source.name.clone());
            let identifier = render(&table.identifier).unwrap_or_else(|| table.name.clone());
            let details = NodeDetails::Source {
                source_name: source.name.clone(),
                table_name: table.name.clone(),
                loaded_at_field: table.loaded_at_field.clone().or_else(|| source.loaded_at_field.clone()),
                freshness: table.freshness.clone().or_else(|| source.freshness.clone()),
                wait_for: table.wait_for.clone(),
                columns: columns(&table.columns),
            };
            nodes.push(Node {
                unique_id: format!("source.{}.{}.{}", source.package, source.name, table.name),
                fqn: vec![source.package.clone(), source.name.clone(), table.name.clone()],
                config: source_config,
                description: table.description.clone().or_else(|| source.description.clone()).unwrap_or_default(),
                relation: Some(Relation::new(database, schema, identifier, quote)),
                ..Node::new(ResourceType::Source, &source.package, &table.name, &source.file, details)
            });
        }
    }

    nodes
}
