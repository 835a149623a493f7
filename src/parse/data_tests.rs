//! Generic data tests declared in properties files: a node each, named as dbt names them.

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::core::python;

/// The generic tests collected so far, and their unique ids (a test declared
/// twice alike gets the same id, and the second one a suffix).
#[derive(Default)]
struct GenericTests {
    nodes: Vec<Node>,
    ids: FastSet<String>,
}

/// What generic tests are attached to, as their names and ids tell it.
struct TestTarget {
    /// The node's unique id: `model.shop.orders`, `source.shop.raw.events`.
    unique_id: String,
    /// Its part of the tests' names: `orders`, `raw_events`.
    name: String,
    /// Before the tests' names: `source_` for a source's tests.
    prefix: &'static str,
    /// The `model` argument dbt passes the test macro, and hashes into its
    /// id: `{{ get_where_subquery(ref('orders')) }}`.
    model_arg: String,
}

impl TestTarget {
    fn node(resource_type: &str, package: &str, name: &str) -> TestTarget {
        TestTarget {
            unique_id: format!("{resource_type}.{package}.{name}"),
            name: name.to_string(),
            prefix: "",
            model_arg: format!("{{{{ get_where_subquery(ref('{name}')) }}}}"),
        }
    }

    fn source(package: &str, source: &str, table: &str) -> TestTarget {
        TestTarget {
            unique_id: format!("source.{package}.{source}.{table}"),
            name: format!("{source}_{table}"),
            prefix: "source_",
            model_arg: format!("{{{{ get_where_subquery(source('{source}', '{table}')) }}}}"),
        }
    }
}

/// The configs a test may have beside its arguments (dbt's `CONFIG_ARGS`).
const TEST_CONFIG_ARGS: [&str; 14] = [
    "severity",
    "tags",
    "enabled",
    "where",
    "limit",
    "warn_if",
    "error_if",
    "fail_calc",
    "store_failures",
    "store_failures_as",
    "meta",
    "database",
    "schema",
    "alias",
];

/// How many generic tests the properties of models and seeds declare (source tables' are few).
pub(super) fn declared_tests(project: &Project) -> usize {
    project
        .model_properties
        .iter()
        .chain(&project.seed_properties)
        .map(|p| p.tests.len() + p.columns.iter().map(|c| c.tests.len()).sum::<usize>())
        .sum()
}

/// A node for each enabled generic data test declared in properties files,
/// on a model, seed, snapshot or source table; those attached to a node not
/// among `nodes` (disabled) are left out.
pub(super) fn generic_test_nodes(project: &Project, declared: usize, nodes: &[Node], errors: &mut Diagnostics) -> Vec<Node> {
    let mut tests = GenericTests { nodes: Vec::with_capacity(declared), ids: FastSet::with_capacity_and_hasher(declared, Default::default()) };
    let described = [("model", &project.model_properties), ("seed", &project.seed_properties), ("snapshot", &project.snapshot_properties)];
    for (resource_type, properties) in described {
        for props in properties {
            collect_tests(project, props, &TestTarget::node(resource_type, &props.package, &props.name), &mut tests, errors);
        }
    }
    for source in &project.sources {
        for table in &source.tables {
            let as_model = ModelProperties {
                name: table.name.clone(),
                columns: table.columns.clone(),
                tests: table.tests.clone(),
                file: source.file.clone(),
                package: source.package.clone(),
                ..Default::default()
            };
            // dbt's name for a source's test: `source_not_null_<source>_<table>_<column>`.
            collect_tests(project, &as_model, &TestTarget::source(&source.package, &source.name, &table.name), &mut tests, errors);
        }
    }
    let present: FastSet<&str> = nodes.iter().map(|n| n.unique_id.as_str()).collect();
    tests.nodes.retain(|test: &Node| match &test.details {
        NodeDetails::Test(details) => details.attached_to.as_deref().is_none_or(|id| present.contains(id)),
        _ => true,
    });
    tests.nodes
}

/// A node for each enabled generic test that `props` declares on its columns
/// and on itself, attached to `target`.
fn collect_tests(project: &Project, props: &ModelProperties, target: &TestTarget, tests: &mut GenericTests, errors: &mut Diagnostics) {
    let column_tests = props.columns.iter().flat_map(|c| c.tests.iter().map(move |t| (Some(c.name.as_str()), t)));
    let model_tests = props.tests.iter().map(|t| (None, t));
    for (column, entry) in column_tests.chain(model_tests) {
        let Some((test_name, args)) = test_name_and_args(props, entry, errors) else { continue };
        let TestEntry { args, config: mut test_config, description, custom_name } = TestEntry::read(project, props, &test_name, args);
        if !test_config.enabled() {
            continue;
        }
        let typed = match TestConfig::parse(&test_config) {
            Ok(typed) => typed,
            Err(error) => {
                errors.push(config_diagnostic(
                    project,
                    &format!("data test `{test_name}` of `{}`", props.name),
                    error,
                    None,
                    std::slice::from_ref(&props.file),
                ));
                continue;
            }
        };
        // `dbt_utils.expression_is_true`: its namespace and its own name.
        let (namespace, short_name) = match test_name.rsplit_once('.') {
            Some((namespace, short_name)) => (Some(namespace.to_string()), short_name.to_string()),
            None => (None, test_name.clone()),
        };
        let (refs, sources) = calls_in_args(&args);
        let (name, compiled_name) = match custom_name {
            Some(name) => (name.clone(), name),
            None => generic_test_name(&format!("{}{test_name}", target.prefix), &target.name, column, &args),
        };
        // A name too long for a file or a table is shortened for both, as dbt
        // does, unless the test has an alias of its own.
        if compiled_name != name && test_config.str_value("alias").is_none() {
            config::merge_key(&mut test_config, "alias", &Json::String(compiled_name));
        }
        let hash = test_hash(&name, namespace.as_deref(), &short_name, column, &args, &target.model_arg);
        let (node_name, unique_id) = tests.new_id(&props.package, &name, &hash);
        let details = NodeDetails::Test(TestDetails {
            test_name: Some(short_name),
            namespace,
            attached_to: Some(target.unique_id.clone()),
            column_name: column.map(str::to_string),
            kwargs: args,
            refs,
            sources,
            singular_file: None,
            config: typed,
        });
        tests.nodes.push(Node {
            unique_id,
            fqn: test_fqn(project, props, &name),
            config: test_config,
            description,
            ..Node::new(ResourceType::Test, &props.package, &node_name, &props.file, details)
        });
    }
}

impl GenericTests {
    /// The node name and unique id of a test named `name`: `test.<package>.<name>.<hash>`,
    /// or for a second test alike, its name with a suffix (`_2`, `_3`, ...). The id is taken.
    fn new_id(&mut self, package: &str, name: &str, hash: &str) -> (String, String) {
        let mut unique_id = format!("test.{package}.{name}.{hash}");
        let mut node_name = name.to_string();
        let mut suffix = 2;
        while self.ids.contains(&unique_id) {
            node_name = format!("{name}_{suffix}");
            unique_id = format!("test.{package}.{node_name}.{hash}");
            suffix += 1;
        }
        self.ids.insert(unique_id.clone());
        (node_name, unique_id)
    }
}

/// The test an entry of a `data_tests:` list names, and its arguments as
/// written: `not_null`, `{unique: {...}}`, or `{test_name: ..., ...}`.
/// `None` for an entry that names no test, reported when it is neither a name nor a mapping.
fn test_name_and_args(props: &ModelProperties, entry: &Json, errors: &mut Diagnostics) -> Option<(String, serde_json::Map<String, Json>)> {
    match entry {
        Json::String(name) => Some((name.clone(), serde_json::Map::new())),
        Json::Object(map) if map.len() == 1 || map.contains_key("test_name") || map.contains_key("name") => {
            if let Some(Json::String(name)) = map.get("test_name") {
                let mut args = map.clone();
                args.remove("test_name");
                Some((name.clone(), args))
            } else if let Some((name, value)) = map.iter().find(|(k, _)| k.as_str() != "name") {
                let args = match value {
                    Json::Object(args) => args.clone(),
                    Json::Null => serde_json::Map::new(),
                    _ => serde_json::Map::new(),
                };
                Some((name.clone(), args))
            } else {
                None
            }
        }
        other => {
            errors.push(
                Diagnostic::new(format!("`{}`: a data test of `{}` is not a name or a mapping: `{other}`", props.file.display(), props.name))
                    .at(Location::file(&props.file)),
            );
            None
        }
    }
}

/// A generic test's entry taken apart: its arguments, and what is written
/// beside them, its config, its description and a name of its own.
struct TestEntry {
    args: serde_json::Map<String, Json>,
    config: ConfigMap,
    description: String,
    custom_name: Option<String>,
}

impl TestEntry {
    /// Takes `args` (all that an entry gives the test `test_name`) apart; its config
    /// is over the `tests:` config `dbt_project.yml` gives the test.
    fn read(project: &Project, props: &ModelProperties, test_name: &str, mut args: serde_json::Map<String, Json>) -> TestEntry {
        // dbt 1.8 nests arguments under `arguments:`; older files put them beside `config:`.
        if let Some(Json::Object(nested)) = args.remove("arguments") {
            args.extend(nested);
        }
        let mut test_config = project.tree_config(ConfigSection::Tests, &[props.package.clone(), test_name.to_string()]);
        if let Some(Json::Object(entry_config)) = args.remove("config") {
            config::merge(&mut test_config, &entry_config);
        }
        // Beside the arguments, dbt's older form puts configs (its `CONFIG_ARGS`),
        // a description and a name of the test's own.
        for key in TEST_CONFIG_ARGS {
            if let Some(value) = args.remove(key) {
                config::merge_key(&mut test_config, key, &value);
            }
        }
        let description = match args.remove("description") {
            Some(Json::String(text)) => text,
            _ => String::new(),
        };
        let custom_name = match args.remove("name") {
            Some(Json::String(name)) => Some(name),
            _ => None,
        };
        TestEntry { args, config: test_config, description, custom_name }
    }
}

/// The `ref()` and `source()` calls written as a test's arguments (`to: ref('customers')`).
fn calls_in_args(args: &serde_json::Map<String, Json>) -> (Vec<RefCall>, Vec<(String, String)>) {
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
    (refs, sources)
}

/// A generic test's fqn, as dbt's: `[project, folders of the properties file.., test name]`.
fn test_fqn(project: &Project, props: &ModelProperties, name: &str) -> Vec<String> {
    let mut fqn = vec![props.package.clone()];
    let folders = project
        .project_relative(&props.package, &props.file)
        .parent()
        .map(|p| p.iter().skip(1).map(|f| f.to_string_lossy().into_owned()).collect::<Vec<_>>());
    fqn.extend(folders.unwrap_or_default());
    fqn.push(name.to_string());
    fqn
}

/// dbt's generated test name, `accepted_values_orders_status__placed__shipped`,
/// and the name of its compiled file: the same, or when the name is 64
/// characters or more, its first 30 characters before the arguments and the
/// MD5 of the whole name.
pub(super) fn generic_test_name(test: &str, target: &str, column: Option<&str>, args: &serde_json::Map<String, Json>) -> (String, String) {
    static UNSAFE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[^0-9a-zA-Z_]+").unwrap_or_else(|_| unreachable!()));
    // As dbt: `<namespace>_<test>_<target>_` and the arguments' values in the
    // order of their names, the column's (`column_name`) among them.
    let mut keys: Vec<&str> = args.keys().map(String::as_str).filter(|k| *k != "column_name" && *k != "model").collect();
    if column.is_some() {
        keys.push("column_name");
    }
    keys.sort_unstable();
    let mut flat = Vec::new();
    for key in keys {
        match (key, column) {
            ("column_name", Some(column)) => flat.push(column.to_string()),
            _ => flatten(&args[key], &mut flat),
        }
    }
    let identifier = UNSAFE.replace_all(&format!("{}_{target}", test.replace('.', "_")), "_").into_owned();
    let mut name = identifier.clone();
    if !flat.is_empty() {
        name.push('_');
        name.push_str(&UNSAFE.replace_all(&flat.join("__"), "_"));
    }
    let compiled = match name.len() >= 64 {
        true => format!("{}_{:x}", identifier.chars().take(30).collect::<String>(), md5::compute(name.as_bytes())),
        false => name.clone(),
    };
    (name, compiled)
}

/// The last 10 hex digits of the MD5 dbt ends a generic test's unique id
/// with: of its name and the `repr()` of its metadata (namespace, test name,
/// arguments with `column_name` and `model`), so ids match dbt's.
fn test_hash(
    name: &str,
    namespace: Option<&str>,
    short_name: &str,
    column: Option<&str>,
    args: &serde_json::Map<String, Json>,
    model_arg: &str,
) -> String {
    let mut kwargs = args.clone();
    if let Some(column) = column {
        kwargs.insert("column_name".to_string(), Json::String(column.to_string()));
    }
    kwargs.insert("model".to_string(), Json::String(model_arg.to_string()));
    let metadata = serde_json::json!({"namespace": namespace, "name": short_name, "kwargs": kwargs});
    let digest = format!("{:x}", md5::compute(format!("{name}{}", python::hashable_repr(&metadata))));
    digest[digest.len() - 10..].to_string()
}

/// An argument's parts in a test's name, as dbt writes them: a mapping's
/// values or a list's items, else the value; each as Python's `str()`
/// prints it (`True`, `None`), one level deep.
pub(super) fn flatten(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::Array(items) => out.extend(items.iter().map(python::str)),
        Json::Object(map) => out.extend(map.values().map(python::str)),
        other => out.push(python::str(other)),
    }
}
