//! The DAG's edges: every `ref()`, `source()` and `depends_on` resolved, or
//! reported at the line where it was written.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Turns every `ref()`, `source()` and `depends_on` into an edge, reporting the
/// ones that name nothing.
pub(super) fn resolve_edges(project: &Project, graph: &Graph, failed: &FastSet<&str>, errors: &mut Diagnostics) -> Vec<Edge> {
    let names = Names::new(project, graph, failed);
    let mut edges = Vec::with_capacity(2 * graph.nodes.len());
    seeds_before_sources(graph, &mut edges);
    for (index, node) in graph.nodes.iter().enumerate() {
        let Some((refs, node_sources, attached)) = calls(project, node, errors) else { continue };
        if let Some(parent) = attached.and_then(|id| graph.by_id.get(id)) {
            edges.push(Edge { parent: *parent, child: index, written: None });
        }
        for call in refs.iter() {
            if let Some(parent) = names.find_ref(node, call, errors) {
                edges.push(Edge { parent, child: index, written: Some(call.name.clone()) });
            }
        }
        for (source_name, table_name) in node_sources.iter() {
            if let Some(parent) = names.find_source(node, source_name, table_name, errors) {
                edges.push(Edge { parent, child: index, written: Some(source_name.clone()) });
            }
        }
    }
    edges
}

/// A source table that a seed loads (same relation) is read after the seed.
fn seeds_before_sources(graph: &Graph, edges: &mut Vec<Edge>) {
    let seeds: HashMap<&Relation, usize> = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.resource_type == ResourceType::Seed)
        .filter_map(|(i, n)| n.relation.as_ref().map(|r| (r, i)))
        .collect();
    for (index, node) in graph.nodes.iter().enumerate() {
        if let (ResourceType::Source, Some(relation)) = (node.resource_type, &node.relation)
            && let Some(&seed) = seeds.get(relation)
        {
            edges.push(Edge { parent: seed, child: index, written: None });
        }
    }
}

/// A node's `ref()` calls, its `source()` calls, and the node a test is attached to.
type Calls<'a> = (Cow<'a, [RefCall]>, Cow<'a, [(String, String)]>, Option<&'a str>);

/// The calls of a model, a test or an exposure (its `depends_on`, each
/// reported when it is not a `ref()` or a `source()`); `None` for the kinds
/// of node that read nothing.
fn calls<'a>(project: &Project, node: &'a Node, errors: &mut Diagnostics) -> Option<Calls<'a>> {
    Some(match &node.details {
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
                            .at(locate(project, node, text))
                            .help("write `depends_on: [\"ref('model_name')\"]`"),
                    ),
                }
            }
            (refs.into(), sources.into(), None)
        }
        _ => return None,
    })
}

/// What a `ref()` or a `source()` may name: the models and seeds, the source
/// tables, and what tells why a name is missing.
struct Names<'a> {
    project: &'a Project,
    refable: crate::graph::resolve::RefIndex<usize>,
    sources: FastMap<(&'a str, &'a str), usize>,
    /// The models that did not parse: their own error is reported.
    failed: &'a FastSet<&'a str>,
    /// The models and seeds that exist but are disabled.
    disabled: Vec<&'a str>,
}

impl<'a> Names<'a> {
    /// The models, seeds and source tables of `graph`, by name.
    fn new(project: &'a Project, graph: &'a Graph, failed: &'a FastSet<&'a str>) -> Names<'a> {
        let mut refable = crate::graph::resolve::RefIndex::new(&project.name);
        let mut sources: FastMap<(&str, &str), usize> = FastMap::default();
        for (index, node) in graph.nodes.iter().enumerate() {
            match &node.details {
                NodeDetails::Model { .. } | NodeDetails::Seed { .. } => {
                    refable.insert(&node.package, &node.name, index);
                }
                NodeDetails::Source { source_name, table_name, .. } => {
                    sources.insert((source_name.as_str(), table_name.as_str()), index);
                }
                _ => {}
            }
        }
        let model_names: Vec<&str> = project.models.iter().map(|m| m.name.as_str()).chain(project.seeds.iter().map(|s| s.name.as_str())).collect();
        let disabled: Vec<&str> =
            model_names.iter().copied().filter(|name| refable.find(None, None, name).is_none() && !failed.contains(name)).collect();
        Names { project, refable, sources, failed, disabled }
    }

    /// The model or seed `call` names in `node`, or `None`, reported unless
    /// it failed to parse (its own error is reported already).
    fn find_ref(&self, node: &Node, call: &RefCall, errors: &mut Diagnostics) -> Option<usize> {
        let (project, refable) = (self.project, &self.refable);
        let needle = || format!("'{}'", call.name);
        if let Some(package) = &call.package {
            let installed = project.knows_package(package);
            let wrong_package = refable.find(None, Some(package), &call.name).is_none() && refable.find(None, None, &call.name).is_some();
            if !installed || wrong_package {
                let (problem, help) = if installed {
                    (format!("`{}` is not a model or seed of `{package}`", call.name), format!("write `ref('{}')`", call.name))
                } else {
                    (
                        format!("package `{package}` is not installed"),
                        format!("add it to `packages.yml` and run `strata deps`; this project is `{}`", project.name),
                    )
                };
                errors.push(
                    Diagnostic::new(format!(
                        "{} `{}` refers to `ref('{package}', '{}')`, but {problem}",
                        node.resource_type.name(),
                        node.name,
                        call.name
                    ))
                    .at(locate(project, node, &needle()))
                    .help(help),
                );
                return None;
            }
        }
        match refable.find(Some(&node.package), call.package.as_deref(), &call.name) {
            Some(&parent) => Some(parent),
            // Its own error is reported already.
            None if self.failed.contains(call.name.as_str()) => None,
            None => {
                let mut diagnostic = Diagnostic::new(format!(
                    "{} `{}` refers to `ref('{}')`, which is not a model or seed",
                    node.resource_type.name(),
                    node.name,
                    call.name
                ))
                .at(locate(project, node, &needle()));
                if self.disabled.contains(&call.name.as_str()) {
                    diagnostic = diagnostic.note(format!("`{}` is disabled (`enabled: false`)", call.name));
                } else if let Some(close) = did_you_mean(&call.name, refable.names()) {
                    diagnostic = diagnostic.help(format!("did you mean `{close}`?"));
                }
                errors.push(diagnostic);
                None
            }
        }
    }

    /// The source table `source(source_name, table_name)` names in `node`, or
    /// `None`, reported with the closest declared one.
    fn find_source(&self, node: &Node, source_name: &str, table_name: &str, errors: &mut Diagnostics) -> Option<usize> {
        if let Some(&parent) = self.sources.get(&(source_name, table_name)) {
            return Some(parent);
        }
        let known: Vec<String> = self.sources.keys().map(|(s, t)| format!("{s}.{t}")).collect();
        let wanted = format!("{source_name}.{table_name}");
        let mut diagnostic = Diagnostic::new(format!(
            "{} `{}` reads `source('{source_name}', '{table_name}')`, which is not declared",
            node.resource_type.name(),
            node.name
        ))
        .at(locate(self.project, node, &format!("'{source_name}'")));
        diagnostic = match did_you_mean(&wanted, known.iter().map(String::as_str)) {
            Some(close) => diagnostic.help(format!("did you mean `{close}`? Sources are declared under `sources:` in a `.yml` file")),
            None => diagnostic
                .help(format!("declare table `{table_name}` of source `{source_name}` under `sources:` in a `.yml` file under the model paths")),
        };
        errors.push(diagnostic);
        None
    }
}

/// Where `needle` (a quoted name in a `ref()`/`source()` call) is written in `node`'s file.
pub(super) fn locate(project: &Project, node: &Node, needle: &str) -> Location {
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
/// occurrence inside a `ref(`/`source(` call over one in a comment.
pub(super) fn locate_call(path: &Path, text: &str, quoted: &str) -> Location {
    let double = quoted.replace('\'', "\"");
    let occurrences = || [quoted, double.as_str()].into_iter().flat_map(|needle| text.match_indices(needle));
    let in_call = |at: usize| {
        let before = text[..at].trim_end();
        before.ends_with("ref(") || before.ends_with("source(") || before.ends_with(',')
    };
    let found = occurrences().filter(|&(at, _)| in_call(at)).min_by_key(|&(at, _)| at).or_else(|| occurrences().min_by_key(|&(at, _)| at));
    let Some((at, needle)) = found else { return Location::in_source(path, text, 1, None) };
    // Back to the call's name: the characters a call can hold before the quoted
    // name; the one before them may take several bytes (`-- reads→'x'`).
    let start = text[..at]
        .char_indices()
        .rfind(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '(' || c == ' ' || c == '\'' || c == '"' || c == ','))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let start = text[start..at].find(|c: char| c.is_alphabetic()).map_or(at, |i| start + i);
    let end = text[at + needle.len()..].find(')').map_or(at + needle.len(), |i| at + needle.len() + i + 1);
    Location::at_offset(path, text, start, text[start..end].chars().count())
}
