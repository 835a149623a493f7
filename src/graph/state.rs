//! Another invocation's artifacts (`--state DIR`, usually the last production
//! run's `target/`): its `manifest.json`, compared with the project node by
//! node for the `state:` selectors, its `run_results.json` for the `result:`
//! selectors, and the relations it built, which `--defer` reads from.
//!
//! What a node is compared by is its [`Fingerprint`], written into every
//! manifest under dbt's keys (`checksum`, `depends_on.macros`, `macros`), so
//! a manifest strata wrote is a state strata can compare with.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::{Value as Json, json};

use crate::core::diagnostic::Diagnostic;
use crate::core::hash::FastMap;
use crate::core::relation::Relation;
use crate::graph::{Graph, Node, NodeDetails};
use crate::project::Project;

/// What a node is compared by: a checksum of its definition and the macros
/// (of the project or its packages) it calls directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint {
    /// sha256, hex: of the SQL file with trailing whitespace ignored (models,
    /// singular tests), of the CSV file's bytes (seeds, as dbt), or of the
    /// YAML definition (generic tests, sources, exposures).
    pub checksum: String,
    /// Unique ids (`macro.<package>.<name>`) of the macros it calls.
    pub macros: Vec<String>,
}

/// One macro of the project or of a package, as the manifest records it.
#[derive(Debug, Clone)]
pub struct MacroEntry {
    pub package: String,
    pub name: String,
    pub path: PathBuf,
    pub sql: String,
    /// The unique ids of the macros it calls.
    pub depends_on: Vec<String>,
}

/// The fingerprints of a whole project: one per node of its graph, in graph order.
pub struct Fingerprints {
    pub nodes: Vec<Fingerprint>,
}

impl Fingerprints {
    pub fn of(project: &Project, graph: &Graph) -> Fingerprints {
        let definitions = crate::template::macro_definitions(project);
        Fingerprints::with_calls(project, graph, &MacroCalls::new(&project.name, &definitions))
    }

    fn with_calls(project: &Project, graph: &Graph, calls: &MacroCalls) -> Fingerprints {
        Fingerprints { nodes: graph.nodes.par_iter().map(|node| fingerprint(project, node, calls)).collect() }
    }
}

/// Every macro of the project and its packages, by unique id.
pub fn macro_entries(project: &Project) -> BTreeMap<String, MacroEntry> {
    let definitions = crate::template::macro_definitions(project);
    entries(project, &definitions, &MacroCalls::new(&project.name, &definitions))
}

fn entries(project: &Project, definitions: &[crate::template::MacroDefinition<'_>], calls: &MacroCalls) -> BTreeMap<String, MacroEntry> {
    definitions
        .par_iter()
        .map(|d| {
            let entry = MacroEntry {
                package: d.package.to_string(),
                name: d.name.clone(),
                path: project.project_relative(d.package, d.path).to_path_buf(),
                sql: d.sql.clone(),
                depends_on: calls.in_text(&d.sql, d.package, Some(&d.name)),
            };
            (macro_id(d.package, &d.name), entry)
        })
        .collect()
}

fn macro_id(package: &str, name: &str) -> String {
    format!("macro.{package}.{name}")
}

fn fingerprint(project: &Project, node: &Node, calls: &MacroCalls) -> Fingerprint {
    let (checksum, text) = match &node.details {
        NodeDetails::Model { file, .. } => {
            let text = &project.models[*file].file.text;
            (sql_checksum(text), Some(text.as_str()))
        }
        NodeDetails::Test(test) => match test.singular_file {
            Some(file) => {
                let text = &project.singular_tests[file].file.text;
                (sha256(normalized(text).as_bytes()), Some(text.as_str()))
            }
            None => {
                let definition = json!({"test": test.test_name, "column": test.column_name, "kwargs": test.kwargs, "attached_to": test.attached_to});
                (sha256(definition.to_string().as_bytes()), None)
            }
        },
        NodeDetails::UnitTest(test) => (sha256(format!("{test:?}").as_bytes()), None),
        // A seed that cannot be read has no checksum to compare: it is modified.
        NodeDetails::Seed { .. } => (std::fs::read(project.root.join(&node.path)).map(|bytes| sha256(&bytes)).unwrap_or_default(), None),
        NodeDetails::Source { source_name, table_name, loaded_at_field, freshness, wait_for, .. } => {
            // Where the YAML places it, as written: the relation it resolves to
            // takes the target's database, which differs between CI and production.
            let declared = project.sources.iter().find(|source| &source.name == source_name).map(|source| {
                let identifier = source.tables.iter().find(|table| &table.name == table_name).and_then(|table| table.identifier.as_ref());
                (&source.database, &source.schema, identifier)
            });
            let definition = json!({"source": source_name, "table": table_name, "declared": declared, "loaded_at_field": loaded_at_field, "freshness": freshness, "wait_for": wait_for});
            (sha256(definition.to_string().as_bytes()), None)
        }
        NodeDetails::Exposure { exposure_type, owner, depends_on, extra, .. } => {
            let definition = json!({"type": exposure_type, "owner": owner, "depends_on": depends_on, "extra": extra});
            (sha256(definition.to_string().as_bytes()), None)
        }
    };
    let mut macros = text.map(|text| calls.in_text(text, &node.package, None)).unwrap_or_default();
    if let NodeDetails::Test(test) = &node.details
        && let Some(name) = &test.test_name
        && let Some(id) = calls.resolve(test.namespace.as_deref(), &node.package, &format!("test_{name}"))
    {
        macros.push(id.clone());
    }
    Fingerprint { checksum, macros }
}

/// Finds the macro calls in a text: names followed by `(`, perhaps after
/// their namespace (`dbt_utils.star(`), looked up in a table, so the cost
/// does not grow with the number of macros (packages define hundreds); and
/// `adapter.dispatch('name', 'namespace')`, which calls the dispatched
/// variants (`default__name`, `duckdb__name`, ...).
struct MacroCalls<'a> {
    /// The root project's name: unqualified names not found in the caller's
    /// own package are looked for there.
    root: &'a str,
    /// Package (or project) → name → unique id.
    ids: FastMap<&'a str, FastMap<&'a str, String>>,
    /// Package → name → the unique ids of the variants `<prefix>__name`.
    variants: FastMap<&'a str, FastMap<&'a str, Vec<String>>>,
}

impl<'a> MacroCalls<'a> {
    fn new(root: &'a str, definitions: &'a [crate::template::MacroDefinition<'_>]) -> MacroCalls<'a> {
        let mut ids: FastMap<&str, FastMap<&str, String>> = FastMap::default();
        let mut variants: FastMap<&str, FastMap<&str, Vec<String>>> = FastMap::default();
        for d in definitions {
            let id = macro_id(d.package, &d.name);
            if let Some((_, base)) = d.name.split_once("__") {
                variants.entry(d.package).or_default().entry(base).or_default().push(id.clone());
            }
            ids.entry(d.package).or_default().insert(d.name.as_str(), id);
        }
        MacroCalls { root, ids, variants }
    }

    /// The macro a call names: in `namespace` when it names one, else in the
    /// caller's own package, then in the root project.
    fn resolve(&self, namespace: Option<&str>, own: &str, name: &str) -> Option<&String> {
        let find = |package: &str| self.ids.get(package).and_then(|names| names.get(name));
        match namespace {
            Some(namespace) => find(namespace),
            None => find(own).or_else(|| find(self.root)),
        }
    }

    /// The macros `text` (of package `own`) calls, by unique id, sorted;
    /// `itself` (a macro's own name, in its definition) left out.
    fn in_text(&self, text: &str, own: &str, itself: Option<&str>) -> Vec<String> {
        if self.ids.is_empty() {
            return Vec::new();
        }
        let mut called: BTreeSet<&String> = BTreeSet::new();
        for (namespace, name) in calls_in(text) {
            if namespace.is_none() && Some(name) == itself {
                continue;
            }
            // `adapter.quote(`, `modules.re.sub(`: not a namespace of macros.
            if let Some(namespace) = namespace
                && !self.ids.contains_key(namespace)
            {
                continue;
            }
            called.extend(self.resolve(namespace, own, name));
        }
        for (dispatched, namespace) in dispatches_in(text) {
            for package in [namespace.unwrap_or(own), self.root] {
                called.extend(self.variants.get(package).and_then(|names| names.get(dispatched)).into_iter().flatten());
            }
        }
        called.into_iter().cloned().collect()
    }
}

/// The names called in a text, each with the namespace before it if any:
/// `dbt_utils.star (` is `(Some("dbt_utils"), "star")`. Read back from each
/// `(`, which is faster than a regex over every word: most of a text's calls
/// are SQL functions, looked up and dropped.
fn calls_in(text: &str) -> impl Iterator<Item = (Option<&str>, &str)> {
    // The word that ends `before`, and what precedes it.
    fn last_word(before: &str) -> (&str, &str) {
        let start = before.bytes().rposition(|b| !(b.is_ascii_alphanumeric() || b == b'_')).map_or(0, |p| p + 1);
        before.split_at(start)
    }
    text.match_indices('(').filter_map(|(at, _)| {
        let (rest, name) = last_word(text[..at].trim_end());
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let namespace = rest.trim_end().strip_suffix('.').map(|rest| last_word(rest.trim_end()).1).filter(|namespace| !namespace.is_empty());
        Some((namespace, name))
    })
}

/// The macros dispatched in a text, with their namespace if given:
/// `adapter.dispatch('star', 'dbt_utils')` or with `macro_name=` and
/// `macro_namespace=`.
fn dispatches_in(text: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    // A quoted word at the start of `text` (after `keyword =` if written), and what follows it.
    fn quoted<'t>(text: &'t str, keyword: &str) -> Option<(&'t str, &'t str)> {
        let text = text.trim_start();
        let text = text.strip_prefix(keyword).and_then(|rest| rest.trim_start().strip_prefix('=')).unwrap_or(text).trim_start();
        let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let (word, rest) = text[1..].split_once(quote)?;
        word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_').then_some((word, rest))
    }
    text.match_indices("dispatch").filter_map(|(at, found)| {
        let after = text[at + found.len()..].trim_start().strip_prefix('(')?;
        let (name, rest) = quoted(after, "macro_name")?;
        let namespace = rest.trim_start().strip_prefix(',').and_then(|rest| quoted(rest, "macro_namespace")).map(|(namespace, _)| namespace);
        Some((name, namespace))
    })
}

/// The text a body checksum covers: line endings and trailing whitespace
/// (of each line, and blank lines at either end) do not change a model.
/// The checksum of a model's SQL file, as its manifest entry records it.
pub fn sql_checksum(text: &str) -> String {
    sha256(normalized(text).as_bytes())
}

fn normalized(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let first = lines.iter().position(|line| !line.is_empty()).unwrap_or(lines.len());
    let last = lines.iter().rposition(|line| !line.is_empty()).map_or(first, |last| last + 1);
    lines[first..last].join("\n")
}

fn sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// How a node differs from its state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Change {
    /// It is not in the state manifest.
    pub new: bool,
    /// Its file (or YAML definition) changed.
    pub body: bool,
    /// Its config changed.
    pub configs: bool,
    /// The `database`, `schema` or `alias` it is configured with changed.
    pub relation: bool,
    /// A project macro it calls, directly or through other macros, changed.
    pub macros: bool,
}

impl Change {
    /// dbt's `state:modified`: new, or changed in any way.
    pub fn modified(&self) -> bool {
        self.new || self.body || self.configs || self.relation || self.macros
    }
}

/// One node of the state manifest.
#[derive(Debug, Clone)]
struct StateNode {
    checksum: Option<String>,
    config: Json,
    database: Option<String>,
    schema: Option<String>,
    alias: Option<String>,
}

/// The state directory's artifacts.
#[derive(Debug)]
pub struct State {
    pub dir: PathBuf,
    nodes: HashMap<String, StateNode>,
    /// Each macro's definition, by unique id.
    macros: HashMap<String, String>,
    /// Each node's statuses in the state's `run_results.json` (one per date it ran for).
    results: HashMap<String, BTreeSet<String>>,
}

/// The manifest schemas strata reads: dbt 1.6 (v10) to dbt 1.8 and later, and strata's own (v12).
const READABLE_SCHEMAS: std::ops::RangeInclusive<u32> = 10..=12;

impl State {
    /// Reads `dir/manifest.json` and, if it is there, `dir/run_results.json`.
    pub fn load(dir: &Path) -> Result<State, Diagnostic> {
        let path = dir.join("manifest.json");
        let help = "`--state` takes the `target/` directory of another invocation (for example the last production run's artifacts), holding its `manifest.json`";
        let text = std::fs::read_to_string(&path)
            .map_err(|err| Diagnostic::new(format!("could not read the state manifest `{}`: {err}", path.display())).help(help))?;
        let manifest: Json = serde_json::from_str(&text)
            .map_err(|err| Diagnostic::new(format!("the state manifest `{}` is not valid JSON: {err}", path.display())).help(help))?;
        let schema = manifest.pointer("/metadata/dbt_schema_version").and_then(Json::as_str).unwrap_or_default();
        let version = schema.rsplit_once("/manifest/v").and_then(|(_, rest)| rest.trim_end_matches(".json").parse::<u32>().ok());
        let generator =
            manifest.pointer("/metadata/generator").or(manifest.pointer("/metadata/dbt_version")).and_then(Json::as_str).unwrap_or("an unknown tool");
        match version {
            Some(version) if READABLE_SCHEMAS.contains(&version) => {}
            Some(version) => {
                return Err(Diagnostic::new(format!(
                    "the state manifest `{}` has schema v{version} (written by {generator}), which strata cannot read",
                    path.display()
                ))
                .help(
                    "strata reads manifests of schema v10 to v12 (dbt 1.6 and later, and strata's own); produce the state again with this version",
                ));
            }
            None => {
                return Err(Diagnostic::new(format!("`{}` is not a manifest: it has no `metadata.dbt_schema_version`", path.display())).help(help));
            }
        }
        let mut nodes = HashMap::new();
        for section in ["nodes", "sources", "exposures", "seeds", "snapshots"] {
            let Some(entries) = manifest.get(section).and_then(Json::as_object) else { continue };
            for (id, entry) in entries {
                nodes.insert(id.clone(), state_node(entry));
            }
        }
        let macros = manifest
            .get("macros")
            .and_then(Json::as_object)
            .map(|macros| macros.iter().filter_map(|(id, entry)| Some((id.clone(), entry.get("macro_sql")?.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        let results = read_results(&dir.join("run_results.json"))?;
        Ok(State { dir: dir.to_path_buf(), nodes, macros, results })
    }

    /// How every node of `graph` differs from the state, in graph order.
    pub fn compare(&self, project: &Project, graph: &Graph) -> Comparison {
        // Node fingerprints and macro entries find macro calls with one index.
        let definitions = crate::template::macro_definitions(project);
        let calls = MacroCalls::new(&project.name, &definitions);
        let fingerprints = Fingerprints::with_calls(project, graph, &calls);
        let changed_macros = self.changed_macros(&entries(project, &definitions, &calls));
        let changes = graph
            .nodes
            .iter()
            .zip(&fingerprints.nodes)
            .map(|(node, fingerprint)| {
                let Some(old) = self.nodes.get(&node.unique_id) else { return Change { new: true, ..Change::default() } };
                let config_text = |config: &Json, key: &str| config.get(key).filter(|v| !v.is_null()).map(|v| v.to_string());
                let config = Json::Object(node.config.clone());
                Change {
                    new: false,
                    body: old.checksum.as_deref() != Some(fingerprint.checksum.as_str()),
                    configs: old.config != config,
                    relation: ["database", "schema", "alias"].iter().any(|key| config_text(&old.config, key) != config_text(&config, key)),
                    macros: fingerprint.macros.iter().any(|id| changed_macros.contains(id)),
                }
            })
            .collect();
        let results = graph.nodes.iter().map(|node| self.results.get(&node.unique_id).cloned().unwrap_or_default()).collect();
        Comparison { changes, results }
    }

    /// The project macros whose definition differs from the state's, or that
    /// call one that does, directly or through others.
    fn changed_macros(&self, macros: &BTreeMap<String, MacroEntry>) -> BTreeSet<String> {
        let mut changed: BTreeSet<String> =
            macros.iter().filter(|(id, entry)| self.macros.get(*id) != Some(&entry.sql)).map(|(id, _)| id.clone()).collect();
        loop {
            let callers: Vec<String> = macros
                .iter()
                .filter(|(id, entry)| !changed.contains(*id) && entry.depends_on.iter().any(|callee| changed.contains(callee)))
                .map(|(id, _)| id.clone())
                .collect();
            if callers.is_empty() {
                return changed;
            }
            changed.extend(callers);
        }
    }

    /// The relation the state recorded for `node`, quoted as `node`'s own;
    /// `None` when the state has no relation for it.
    pub fn relation(&self, node: &Node) -> Option<Relation> {
        let old = self.nodes.get(&node.unique_id)?;
        let current = node.relation.as_ref()?;
        Some(Relation { database: old.database.clone(), schema: old.schema.clone(), identifier: old.alias.clone()?, quote: current.quote })
    }
}

/// `graph` with each node `defer` picks reading the relation `state` recorded
/// for it instead of its own: `--defer`.
pub fn deferred(graph: &Graph, state: &State, defer: impl Fn(usize) -> bool) -> Graph {
    let mut graph = graph.clone();
    for (index, node) in graph.nodes.iter_mut().enumerate() {
        if let Some(relation) = state.relation(node)
            && Some(&relation) != node.relation.as_ref()
            && defer(index)
        {
            node.relation = Some(relation);
        }
    }
    graph
}

fn state_node(entry: &Json) -> StateNode {
    let text = |key: &str| entry.get(key).and_then(Json::as_str).map(str::to_string);
    StateNode {
        checksum: entry.pointer("/checksum/checksum").and_then(Json::as_str).map(str::to_string),
        config: entry.get("config").cloned().unwrap_or(Json::Null),
        database: text("database"),
        schema: text("schema"),
        alias: text("alias").or_else(|| text("identifier")),
    }
}

/// Each node's statuses in a `run_results.json`; none when the file is absent.
fn read_results(path: &Path) -> Result<HashMap<String, BTreeSet<String>>, Diagnostic> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(err) => return Err(Diagnostic::new(format!("could not read `{}`: {err}", path.display()))),
    };
    let results: Json =
        serde_json::from_str(&text).map_err(|err| Diagnostic::new(format!("the state's `{}` is not valid JSON: {err}", path.display())))?;
    let mut statuses: HashMap<String, BTreeSet<String>> = HashMap::new();
    for result in results.get("results").and_then(Json::as_array).into_iter().flatten() {
        if let (Some(id), Some(status)) = (result.get("unique_id").and_then(Json::as_str), result.get("status").and_then(Json::as_str)) {
            statuses.entry(id.to_string()).or_default().insert(status.to_string());
        }
    }
    Ok(statuses)
}

/// The project compared with a state: per node of the graph, in graph order.
pub struct Comparison {
    pub changes: Vec<Change>,
    /// The statuses the state's run_results.json gave each node.
    pub results: Vec<BTreeSet<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reformatting that only moves trailing whitespace is not a change.
    #[test]
    fn trailing_whitespace_does_not_change_a_checksum() {
        let a = "select 1 as id\nfrom t\n";
        let b = "\nselect 1 as id   \r\nfrom t\n\n\n";
        assert_eq!(normalized(a), normalized(b));
        assert_ne!(normalized(a), normalized("select 1  as id\nfrom t\n"));
    }

    #[test]
    fn macro_calls_are_found_by_name() {
        let definition = |package, name: &str| crate::template::MacroDefinition {
            package,
            name: name.to_string(),
            path: Path::new("macros/m.sql"),
            sql: String::new(),
        };
        let definitions = [
            definition("p", "cents"),
            definition("p", "other"),
            definition("p", "cents_total"),
            definition("utils", "star"),
            definition("utils", "default__star"),
            definition("utils", "duckdb__star"),
            definition("utils", "helper"),
        ];
        let calls = MacroCalls::new("p", &definitions);
        let found = |text, own| calls.in_text(text, own, None);
        assert_eq!(found("select {{ cents ('x') }}, other_col, xcents(1) from t", "p"), ["macro.p.cents"]);
        assert_eq!(found("{{ cents_total(1) }}", "p"), ["macro.p.cents_total"]);
        // A package's macro by its namespace; `adapter.` is not one.
        assert_eq!(found("{{ utils.star(ref('a')) }} {{ adapter.other(1) }}", "p"), ["macro.utils.star"]);
        // Unqualified in a package: its own macros, then the project's.
        assert_eq!(found("{{ helper() }} {{ cents(1) }}", "utils"), ["macro.p.cents", "macro.utils.helper"]);
        assert_eq!(found("{{ helper() }}", "p"), Vec::<String>::new());
        // A dispatch calls every variant of the name in its namespace.
        assert_eq!(found("{{ return(adapter.dispatch('star', 'utils')(from)) }}", "p"), ["macro.utils.default__star", "macro.utils.duckdb__star"]);
    }
}
