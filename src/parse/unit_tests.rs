//! Unit tests: each `unit_tests:` entry becomes a node that runs before the
//! model it tests (the model waits for it, so a failing unit test skips the
//! build) and after the model's inputs (whose columns type the given rows).

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::graph::unit_test::{Given, Input, Rows, UnitTest};
use crate::project::properties::{UnitTestProperties, UnitTestRows};

/// The nodes of the project's unit tests; each names a model of `nodes`.
pub(super) fn unit_test_nodes(project: &Project, nodes: &[Node], errors: &mut Diagnostics) -> Vec<Node> {
    let models: FastMap<&str, &Node> = nodes.iter().filter(|n| n.resource_type == ResourceType::Model).map(|n| (n.name.as_str(), n)).collect();
    let mut tests = Vec::new();
    for props in &project.unit_tests {
        let text = std::fs::read_to_string(project.absolute(&props.file)).unwrap_or_default();
        let at = |needle: &str| Location::of_text(&props.file, &text, needle);
        let Some(model) = models.get(props.model.as_str()) else {
            errors.push(
                Diagnostic::new(format!("unit test `{}` tests `{}`, which is not a model of the project", props.name, props.model))
                    .at(at(&props.model))
                    .help("name the model under test with `model:`"),
            );
            continue;
        };
        let mut config = project.tree_config(ConfigSection::Tests, &[props.package.clone(), props.model.clone(), props.name.clone()]);
        config::merge(&mut config, &props.config);
        if !config.enabled() {
            continue;
        }
        match unit_test(project, props, &model.unique_id).and_then(|details| inputs_of(model, props, details)) {
            Ok(details) => tests.push(Node {
                unique_id: format!("unit_test.{}.{}.{}", props.package, props.model, props.name),
                fqn: vec![props.package.clone(), props.model.clone(), props.name.clone()],
                config,
                description: props.description.clone().unwrap_or_default(),
                ..Node::new(ResourceType::UnitTest, &props.package, &props.name, &props.file, NodeDetails::UnitTest(Box::new(details)))
            }),
            Err((needle, message, help)) => errors.push(Diagnostic::new(format!("unit test `{}`: {message}", props.name)).at(at(&needle)).help(help)),
        }
    }
    tests
}

/// A problem with a unit test: the text to point at, the message, the help.
type Problem = (String, String, String);

fn unit_test(project: &Project, props: &UnitTestProperties, model: &str) -> Result<UnitTest, Problem> {
    let mut given = Vec::with_capacity(props.given.len());
    for input in &props.given {
        let parsed = match parse_ref_string(&input.input) {
            _ if input.input.trim() == "this" => Input::This,
            Some(Ok(call)) => Input::Ref(call),
            Some(Err((source, table))) => Input::Source(source, table),
            None => {
                return Err((
                    input.input.clone(),
                    format!("`input: {}` is not a `ref()`, a `source()` or `this`", input.input),
                    "write `input: ref('model_name')` or `input: source('source_name', 'table_name')`".into(),
                ));
            }
        };
        given.push(Given { input: parsed, rows: rows(project, &input.rows, &input.input)? });
    }
    if props.expect.rows.is_none() && props.expect.fixture.is_none() {
        return Err(("expect".into(), "`expect:` gives no rows".into(), "list the rows the model must return under `expect: {rows: [...]}`".into()));
    }
    let expect = rows(project, &props.expect, "expect")?;
    let mut macros = props.overrides.macros.clone();
    let is_incremental = match macros.remove("is_incremental") {
        None | Some(Json::Null) => false,
        Some(Json::Bool(value)) => value,
        Some(other) => {
            return Err((
                "is_incremental".into(),
                format!("`is_incremental` must be true or false, not `{other}`"),
                "write `is_incremental: true`".into(),
            ));
        }
    };
    if let Some(name) = props.overrides.env_vars.keys().next() {
        return Err((
            name.clone(),
            "strata does not override environment variables in unit tests".into(),
            "set them in the environment of the run".into(),
        ));
    }
    Ok(UnitTest { model: model.to_string(), given, expect, vars: props.overrides.vars.clone(), is_incremental, macros })
}

/// `details`, when every input it gives rows for is one the model reads (a
/// typo would otherwise give rows no query reads); as dbt checks it.
fn inputs_of(model: &Node, props: &UnitTestProperties, details: UnitTest) -> Result<UnitTest, Problem> {
    let NodeDetails::Model { refs, sources, .. } = &model.details else { return Ok(details) };
    for (given, written) in details.given.iter().zip(&props.given) {
        let read = match &given.input {
            Input::Ref(call) => refs.iter().any(|r| r.name == call.name),
            Input::Source(source, table) => sources.iter().any(|(s, t)| s == source && t == table),
            Input::This => true,
        };
        if !read {
            return Err((
                written.input.clone(),
                format!("rows are given for `{}`, which model `{}` does not read", written.input, model.name),
                format!("give rows for the `ref()`s and `source()`s of `{}` only", model.name),
            ));
        }
    }
    Ok(details)
}

/// Rows as the test writes them: inline (`dict`, `csv`, `sql`) or in a
/// fixture file under a test path's `fixtures/` folder.
fn rows(project: &Project, written: &UnitTestRows, near: &str) -> Result<Rows, Problem> {
    let format = written.format.as_deref().unwrap_or("dict");
    let inline = match (&written.rows, &written.fixture) {
        (Some(rows), _) => rows.clone(),
        (None, Some(fixture)) => Json::String(fixture_file(project, fixture, format).ok_or_else(|| {
            (
                fixture.clone(),
                format!("the fixture `{fixture}` is not a file under `tests/fixtures/`"),
                format!("put the rows in `tests/fixtures/{fixture}.{}`", if format == "sql" { "sql" } else { "csv" }),
            )
        })?),
        (None, None) => Json::Array(Vec::new()),
    };
    match (format, inline) {
        ("dict", Json::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Json::Object(row) => Ok(row),
                other => Err((
                    near.to_string(),
                    format!("a row must be a mapping of column to value, not `{other}`"),
                    "write rows as `- {id: 1, name: a}`".into(),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Rows::Values),
        ("csv", Json::String(text)) => csv_rows(&text)
            .map(Rows::Values)
            .map_err(|err| (near.to_string(), format!("the csv rows cannot be read: {err}"), "write a header line, then one line per row".into())),
        ("sql", Json::String(sql)) => Ok(Rows::Sql(sql)),
        (format @ ("dict" | "csv" | "sql"), _) => Err((
            near.to_string(),
            format!("`format: {format}` rows must be {}", if format == "dict" { "a list of mappings" } else { "text" }),
            "see dbt's unit test formats: dict (the default), csv and sql".into(),
        )),
        (other, _) => Err((other.to_string(), format!("unknown rows format `{other}`"), "use `dict`, `csv` or `sql`".into())),
    }
}

/// CSV text as rows of text values; an empty field is NULL, as dbt reads it.
fn csv_rows(text: &str) -> Result<Vec<serde_json::Map<String, Json>>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.trim().as_bytes());
    let headers = reader.headers()?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        let row = headers
            .iter()
            .zip(record.iter())
            .map(|(column, value)| (column.to_string(), if value.is_empty() || value == "null" { Json::Null } else { Json::from(value) }))
            .collect();
        rows.push(row);
    }
    Ok(rows)
}

/// The text of the fixture file `name` (`tests/fixtures/<name>.csv` or `.sql`).
fn fixture_file(project: &Project, name: &str, format: &str) -> Option<String> {
    let extension = if format == "sql" { "sql" } else { "csv" };
    project
        .test_paths
        .iter()
        .find_map(|dir| std::fs::read_to_string(project.root.join(dir).join("fixtures").join(format!("{name}.{extension}"))).ok())
}

/// The edges of each unit test: from every input of its model to it, and
/// from it to its model, which waits for it.
pub(super) fn unit_test_edges(graph: &Graph, edges: &mut Vec<Edge>) {
    let mut parents_of: FastMap<usize, Vec<usize>> = FastMap::default();
    for edge in edges.iter() {
        parents_of.entry(edge.child).or_default().push(edge.parent);
    }
    for (index, node) in graph.nodes.iter().enumerate() {
        let NodeDetails::UnitTest(test) = &node.details else { continue };
        let Some(&model) = graph.by_id.get(&test.model) else { continue };
        for &parent in parents_of.get(&model).into_iter().flatten() {
            if !matches!(graph.nodes[parent].resource_type, ResourceType::Test | ResourceType::UnitTest) {
                edges.push(Edge { parent, child: index, written: None });
            }
        }
        edges.push(Edge { parent: index, child: model, written: None });
    }
}
