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
use regex::Regex;
use serde_json::{Value as Json, json};

use crate::core::diagnostic::Diagnostic;
use crate::core::relation::Relation;
use crate::graph::{Graph, Node, NodeDetails};
use crate::project::Project;

/// What a node is compared by: a checksum of its definition and the project
/// macros it calls directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint {
    /// sha256, hex: of the SQL file with trailing whitespace ignored (models,
    /// singular tests), of the CSV file's bytes (seeds, as dbt), or of the
    /// YAML definition (generic tests, sources, exposures).
    pub checksum: String,
    /// Unique ids (`macro.<project>.<name>`) of the project macros it calls.
    pub macros: Vec<String>,
}

/// One macro of the project, as the manifest records it.
#[derive(Debug, Clone)]
pub struct MacroEntry {
    pub name: String,
    pub path: PathBuf,
    pub sql: String,
    /// The unique ids of the project macros it calls.
    pub depends_on: Vec<String>,
}

/// The fingerprints of a whole project: one per node of its graph, in graph
/// order, and every macro of the project by unique id.
pub struct Fingerprints {
    pub nodes: Vec<Fingerprint>,
    pub macros: BTreeMap<String, MacroEntry>,
}

impl Fingerprints {
    pub fn of(project: &Project, graph: &Graph) -> Fingerprints {
        let definitions = crate::template::macro_definitions(project);
        let calls = MacroCalls::new(project, &definitions);
        let macros = definitions
            .iter()
            .map(|d| {
                let entry = MacroEntry {
                    name: d.name.clone(),
                    path: d.path.to_path_buf(),
                    sql: d.sql.clone(),
                    depends_on: calls.in_text(&d.sql, Some(&d.name)),
                };
                (macro_id(project, &d.name), entry)
            })
            .collect();
        let nodes = graph.nodes.par_iter().map(|node| fingerprint(project, node, &calls)).collect();
        Fingerprints { nodes, macros }
    }
}

fn macro_id(project: &Project, name: &str) -> String {
    format!("macro.{}.{name}", project.name)
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
    let mut macros = text.map(|text| calls.in_text(text, None)).unwrap_or_default();
    if let NodeDetails::Test(test) = &node.details
        && let Some(id) = test.test_name.as_ref().and_then(|name| calls.ids.get(format!("test_{name}").as_str()))
    {
        macros.push(id.clone());
    }
    Fingerprint { checksum, macros }
}

/// Finds the calls of the project's macros in a text: one search for all
/// their names (a name followed by `(`), not a look at every word.
struct MacroCalls<'a> {
    ids: HashMap<&'a str, String>,
    call: Option<Regex>,
}

impl<'a> MacroCalls<'a> {
    fn new(project: &Project, definitions: &'a [crate::template::MacroDefinition<'_>]) -> MacroCalls<'a> {
        let ids: HashMap<&str, String> = definitions.iter().map(|d| (d.name.as_str(), macro_id(project, &d.name))).collect();
        // Longest first, so `cents_total(` is not read as `cents`.
        let mut names: Vec<String> = ids.keys().map(|name| regex::escape(name)).collect();
        names.sort_by_key(|name| std::cmp::Reverse(name.len()));
        let call = (!names.is_empty()).then(|| Regex::new(&format!(r"\b({})\s*\(", names.join("|")))).and_then(Result::ok);
        MacroCalls { ids, call }
    }

    /// The project macros `text` calls, by unique id, sorted; `itself` (a
    /// macro's own name, in its definition) left out.
    fn in_text(&self, text: &str, itself: Option<&str>) -> Vec<String> {
        let Some(call) = &self.call else { return Vec::new() };
        let called: BTreeSet<&String> = call
            .captures_iter(text)
            .filter_map(|found| found.get(1))
            .map(|name| name.as_str())
            .filter(|name| Some(*name) != itself)
            .filter_map(|name| self.ids.get(name))
            .collect();
        called.into_iter().cloned().collect()
    }
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
        let fingerprints = Fingerprints::of(project, graph);
        let changed_macros = self.changed_macros(&fingerprints);
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
    fn changed_macros(&self, fingerprints: &Fingerprints) -> BTreeSet<String> {
        let mut changed: BTreeSet<String> =
            fingerprints.macros.iter().filter(|(id, entry)| self.macros.get(*id) != Some(&entry.sql)).map(|(id, _)| id.clone()).collect();
        loop {
            let callers: Vec<String> = fingerprints
                .macros
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
        let ids: HashMap<&str, String> =
            [("cents", "macro.p.cents".to_string()), ("other", "macro.p.other".to_string()), ("cents_total", "macro.p.cents_total".to_string())]
                .into_iter()
                .collect();
        let calls = MacroCalls { ids, call: Some(Regex::new(r"\b(cents_total|cents|other)\s*\(").unwrap()) };
        assert_eq!(calls.in_text("select {{ cents ('x') }}, other_col, xcents(1) from t", None), vec!["macro.p.cents".to_string()]);
        assert_eq!(calls.in_text("{{ cents_total(1) }}", None), vec!["macro.p.cents_total".to_string()]);
    }
}
