//! `target/manifest.json`, in the shape of dbt's manifest (v12), so tools that
//! read dbt artifacts read strata's.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;

use rayon::prelude::*;
use std::path::Path;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value as Json, json};

use crate::core::diagnostic::Diagnostic;
use crate::graph::state::{Fingerprint, Fingerprints};
use crate::graph::{Graph, Node, NodeDetails, ResourceType};
use crate::project::Project;

/// Writes `target/manifest.json`, one node at a time, so a large project's
/// manifest is never held in memory whole.
/// `compiled` maps the nodes compiled in this invocation to their compiled SQL files.
pub fn write_manifest(project: &Project, graph: &Graph, compiled: &HashMap<usize, PathBuf>) -> Result<(), Diagnostic> {
    let path = project.target_path.join("manifest.json");
    write_whole(&path, |out| write_manifest_to(out, project, graph, compiled))
}

/// A macro's entry in the manifest, as dbt writes it (those of the keys
/// strata has), serialized without building a JSON value: packages bring
/// thousands.
#[derive(serde::Serialize)]
struct MacroJson<'a> {
    unique_id: &'a str,
    name: &'a str,
    resource_type: &'static str,
    package_name: &'a str,
    original_file_path: std::borrow::Cow<'a, str>,
    macro_sql: &'a str,
    depends_on: MacroDependencies<'a>,
}

#[derive(serde::Serialize)]
struct MacroDependencies<'a> {
    macros: &'a [String],
}

fn write_manifest_to(out: &mut impl Write, project: &Project, graph: &Graph, compiled_paths: &HashMap<usize, PathBuf>) -> std::io::Result<()> {
    let mut order: Vec<usize> = (0..graph.nodes.len()).collect();
    order.sort_by(|a, b| graph.nodes[*a].unique_id.cmp(&graph.nodes[*b].unique_id));
    let metadata = json!({
        "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
        "generator": format!("strata {}", env!("CARGO_PKG_VERSION")),
        "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "project_name": project.name,
        "adapter_type": project.target.kind.name(),
    });
    let fingerprints = Fingerprints::of(project, graph);
    // Each node's JSON is serialized in parallel; only the writing is in order.
    let entries: Vec<Vec<u8>> = order
        .par_iter()
        .map(|&index| {
            let node = &graph.nodes[index];
            let fingerprint = &fingerprints.nodes[index];
            let entry = NodeEntry { project, node, fingerprint, parents: graph.parent_ids(index), compiled_path: compiled_paths.get(&index) };
            let mut buffer = Vec::with_capacity(1024);
            serde_json::to_writer(&mut buffer, &node.unique_id).map_err(std::io::Error::other)?;
            buffer.push(b':');
            serde_json::to_writer(&mut buffer, &entry).map_err(std::io::Error::other)?;
            Ok(buffer)
        })
        .collect::<std::io::Result<_>>()?;
    write!(out, "{{\"metadata\":{metadata}")?;
    for section in ["nodes", "sources", "exposures", "unit_tests"] {
        write!(out, ",\"{section}\":{{")?;
        let mut first = true;
        for (&index, entry) in order.iter().zip(&entries) {
            if manifest_section(graph.nodes[index].resource_type) != section {
                continue;
            }
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            out.write_all(entry)?;
        }
        out.write_all(b"}")?;
    }
    let docs: BTreeMap<String, Json> =
        project.docs.iter().map(|(name, text)| (format!("doc.{}.{name}", project.name), json!({"name": name, "block_contents": text}))).collect();
    out.write_all(b",\"macros\":{")?;
    out.write_all(&macros_section(project)?)?;
    out.write_all(b"}")?;
    out.write_all(b",\"docs\":")?;
    serde_json::to_writer(&mut *out, &docs)?;
    for (section, ids) in [("parent_map", true), ("child_map", false)] {
        write!(out, ",\"{section}\":{{")?;
        for (position, &index) in order.iter().enumerate() {
            if position > 0 {
                out.write_all(b",")?;
            }
            let related = if ids { graph.parent_ids(index) } else { graph.child_ids(index) };
            serde_json::to_writer(&mut *out, &graph.nodes[index].unique_id)?;
            out.write_all(b":")?;
            serde_json::to_writer(&mut *out, &related)?;
        }
        out.write_all(b"}")?;
    }
    out.write_all(b"}")
}

/// Where the manifest's `macros` section is kept between invocations, after
/// a hash of every macro file: packages bring thousands of macros, which an
/// unchanged project would otherwise list and serialize on every compile.
/// Losing it only costs the next invocation time.
const MACROS_CACHE: &str = ".strata-manifest-macros";

/// The entries of the manifest's `macros` section, as kept in `target/` when
/// no macro file changed since, else listed and kept anew.
fn macros_section(project: &Project) -> std::io::Result<Vec<u8>> {
    let path = project.target_path.join(MACROS_CACHE);
    let key = format!("{:016x}\n", macro_files_hash(project));
    if let Ok(mut kept) = std::fs::read(&path)
        && kept.starts_with(key.as_bytes())
    {
        kept.drain(..key.len());
        return Ok(kept);
    }
    let section = serialize_macros(&crate::graph::state::macro_entries(project))?;
    let _ = write_whole(&path, |out| {
        out.write_all(key.as_bytes())?;
        out.write_all(&section)
    });
    Ok(section)
}

/// A hash of what the manifest's macros are made of: strata's version, the
/// root project's name (unqualified calls resolve to its macros) and each
/// macro file's package, path and text.
fn macro_files_hash(project: &Project) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = crate::core::hash::stable_hasher();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    project.name.hash(&mut hasher);
    for (package, file) in crate::template::macro_files(project) {
        package.hash(&mut hasher);
        project.project_relative(package, &file.path).hash(&mut hasher);
        file.text.hash(&mut hasher);
    }
    hasher.finish()
}

/// The manifest's macro entries, `"<id>":{...}` separated by commas; each
/// serialized in parallel, as nodes are.
fn serialize_macros(macros: &BTreeMap<String, crate::graph::state::MacroEntry>) -> std::io::Result<Vec<u8>> {
    let macros: Vec<(&String, &crate::graph::state::MacroEntry)> = macros.iter().collect();
    let macro_entries: Vec<Vec<u8>> = macros
        .par_iter()
        .map(|&(id, entry)| {
            let macro_json = MacroJson {
                unique_id: id,
                name: &entry.name,
                resource_type: "macro",
                package_name: &entry.package,
                original_file_path: entry.path.to_string_lossy(),
                macro_sql: &entry.sql,
                depends_on: MacroDependencies { macros: &entry.depends_on },
            };
            let mut buffer = Vec::with_capacity(entry.sql.len() + 256);
            serde_json::to_writer(&mut buffer, id).map_err(std::io::Error::other)?;
            buffer.push(b':');
            serde_json::to_writer(&mut buffer, &macro_json).map_err(std::io::Error::other)?;
            Ok(buffer)
        })
        .collect::<std::io::Result<_>>()?;
    Ok(macro_entries.join(&b","[..]))
}

/// The section of manifest.json a node of `resource_type` is listed in, as dbt lists it.
fn manifest_section(resource_type: ResourceType) -> &'static str {
    match resource_type {
        ResourceType::Model | ResourceType::Seed | ResourceType::Test | ResourceType::Snapshot => "nodes",
        ResourceType::Source => "sources",
        ResourceType::Exposure => "exposures",
        ResourceType::UnitTest => "unit_tests",
    }
}

/// `graph` in templates: the manifest's `nodes`, `sources` and `exposures`,
/// for macros that walk the project (`graph.nodes.values()`).
pub fn graph_context(project: &Project, graph: &Graph) -> Json {
    let unfingerprinted = Fingerprint::default();
    let mut sections: BTreeMap<&str, serde_json::Map<String, Json>> = BTreeMap::new();
    for section in ["nodes", "sources", "exposures", "metrics", "semantic_models", "macros"] {
        sections.insert(section, serde_json::Map::new());
    }
    for (index, node) in graph.nodes.iter().enumerate() {
        let section = manifest_section(node.resource_type);
        let entry = NodeEntry { project, node, fingerprint: &unfingerprinted, parents: graph.parent_ids(index), compiled_path: None };
        if let (Some(entries), Ok(value)) = (sections.get_mut(section), serde_json::to_value(&entry)) {
            entries.insert(node.unique_id.clone(), value);
        }
    }
    json!(sections)
}

/// One node of the manifest, serialized straight from the graph.
struct NodeEntry<'a> {
    project: &'a Project,
    node: &'a Node,
    fingerprint: &'a Fingerprint,
    parents: Vec<String>,
    compiled_path: Option<&'a PathBuf>,
}

impl Serialize for NodeEntry<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let node = self.node;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("unique_id", &node.unique_id)?;
        map.serialize_entry("resource_type", node.resource_type.name())?;
        map.serialize_entry("name", &node.name)?;
        map.serialize_entry("package_name", &node.package)?;
        map.serialize_entry("original_file_path", &node.path.to_string_lossy())?;
        map.serialize_entry("fqn", &node.fqn)?;
        map.serialize_entry("description", &node.description)?;
        map.serialize_entry("config", &node.config)?;
        map.serialize_entry("tags", &node.tags())?;
        map.serialize_entry("checksum", &json!({"name": "sha256", "checksum": self.fingerprint.checksum}))?;
        map.serialize_entry("depends_on", &json!({"nodes": self.parents, "macros": self.fingerprint.macros}))?;
        if let Some(relation) = &node.relation {
            map.serialize_entry("database", &relation.database)?;
            map.serialize_entry("schema", &relation.schema)?;
            map.serialize_entry("alias", &relation.identifier)?;
            map.serialize_entry("relation_name", &relation.to_string())?;
        }
        if let Some(path) = self.compiled_path {
            map.serialize_entry("compiled", &true)?;
            map.serialize_entry("compiled_path", &path.to_string_lossy())?;
        }
        match &node.details {
            NodeDetails::Model { refs, sources, columns, .. } => {
                let refs: Vec<Json> = refs.iter().map(|r| json!({"name": r.name, "package": r.package, "version": null})).collect();
                map.serialize_entry("refs", &refs)?;
                map.serialize_entry("sources", &sources.iter().map(|(s, t)| [s, t]).collect::<Vec<_>>())?;
                map.serialize_entry("columns", &Columns(columns))?;
                map.serialize_entry("path", &model_relative_path(self.project, &node.path))?;
            }
            NodeDetails::Seed { columns } => {
                map.serialize_entry("columns", &Columns(columns))?;
            }
            NodeDetails::Test(test) => {
                if let Some(name) = &test.test_name {
                    map.serialize_entry("test_metadata", &json!({"name": name, "kwargs": test.kwargs}))?;
                }
                map.serialize_entry("column_name", &test.column_name)?;
                map.serialize_entry("attached_node", &test.attached_to)?;
            }
            NodeDetails::UnitTest(test) => {
                map.serialize_entry("model", &test.model)?;
            }
            NodeDetails::Source { source_name, table_name, loaded_at_field, freshness, wait_for, columns } => {
                map.serialize_entry("source_name", source_name)?;
                map.serialize_entry("identifier", node.relation.as_ref().map_or(table_name, |r| &r.identifier))?;
                map.serialize_entry("loaded_at_field", loaded_at_field)?;
                map.serialize_entry("freshness", freshness)?;
                map.serialize_entry("wait_for", wait_for)?;
                map.serialize_entry("columns", &Columns(columns))?;
            }
            NodeDetails::Exposure { exposure_type, owner, depends_on, extra, .. } => {
                map.serialize_entry("type", exposure_type)?;
                map.serialize_entry("owner", owner)?;
                map.serialize_entry("depends_on_refs", depends_on)?;
                for (key, value) in extra {
                    map.serialize_entry(key, value)?;
                }
            }
        }
        map.end()
    }
}

/// Columns keyed by name, as dbt writes them.
struct Columns<'a>(&'a [crate::graph::Column]);

impl Serialize for Columns<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|c| (&c.name, c)))
    }
}

/// A model's path under its model path (`marketing/x.sql`), as dbt's `path`.
fn model_relative_path(project: &Project, path: &Path) -> String {
    let _ = project;
    let mut parts = path.iter();
    parts.next();
    parts.as_path().to_string_lossy().into_owned()
}

/// Writes `value` as `file` under the target path.
pub fn write(project: &Project, file: &str, value: &Json) -> Result<(), Diagnostic> {
    let path = project.target_path.join(file);
    let text = serde_json::to_string(value).map_err(|err| Diagnostic::new(format!("could not serialize `{file}`: {err}")))?;
    write_whole(&path, |out| out.write_all(text.as_bytes()))
}

/// Writes `path` through a temporary file renamed over it, so a reader (or a
/// crash) never sees half a file: the old one stays until the new one is whole.
pub(crate) fn write_whole(path: &Path, fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>) -> Result<(), Diagnostic> {
    let failed = |err: std::io::Error| Diagnostic::new(format!("could not write `{}`: {err}", path.display()));
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(failed)?;
    }
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let written = std::fs::File::create(&temporary).and_then(|file| {
        let mut out = std::io::BufWriter::new(file);
        fill(&mut out)?;
        out.flush()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temporary, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    renamed.map_err(failed)
}

/// One node's entry in `run_results.json`.
pub struct RunResult<'a> {
    pub node: &'a Node,
    pub outcome: &'a crate::core::outcome::Outcome,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// The execution date it ran for.
    pub date: crate::core::dates::ExecutionDate,
}

/// `target/run_results.json` in dbt's shape (v6), with the invocation's
/// arguments, which `strata retry` reads back.
/// What the warehouse reported of a node's jobs, with what else the node did
/// (an exposure's Tableau jobs).
fn adapter_response(outcome: &crate::core::outcome::Outcome) -> Json {
    let mut response = outcome.stats.adapter_response();
    if let Some(map) = response.as_object_mut() {
        map.extend(outcome.response.clone());
    }
    response
}

/// `warehouse_seconds` is the time spent inside the warehouse, summed over workers.
pub fn run_results(results: &[RunResult<'_>], invocation_id: &str, elapsed: f64, args: Json, warehouse_seconds: f64) -> Json {
    let entries: Vec<Json> = results
        .iter()
        .map(|r| {
            let completed = r.started_at + chrono::Duration::milliseconds((r.outcome.seconds * 1000.0) as i64);
            let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            json!({
                "unique_id": r.node.unique_id,
                "status": r.outcome.status.as_str(),
                "execution_date": r.date.ds(),
                "timing": [{"name": "execute", "started_at": time(r.started_at), "completed_at": time(completed)}],
                // dbt's names: `Thread-1 (worker)`; `main` for a node no worker ran.
                "thread_id": match r.outcome.worker {
                    Some(worker) => format!("Thread-{} (worker)", worker + 1),
                    None => "main".to_string(),
                },
                "execution_time": r.outcome.seconds,
                "message": if r.outcome.message.is_empty() { Json::Null } else { json!(r.outcome.message) },
                "failures": r.outcome.failures,
                "adapter_response": adapter_response(r.outcome),
                "compiled_path": r.outcome.compiled_path.as_ref().map(|p| p.to_string_lossy().into_owned()),
                "relation_name": r.node.relation.as_ref().map(|rel| rel.to_string()),
            })
        })
        .collect();
    json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
            "generator": format!("strata {}", env!("CARGO_PKG_VERSION")),
            "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "invocation_id": invocation_id,
        },
        "results": entries,
        "elapsed_time": elapsed,
        "args": args,
        "strata": {"warehouse_seconds": warehouse_seconds},
    })
}
