//! dbt's node selection grammar: `name`, `+name`, `name+`, `2+name+1`, `@name`,
//! `tag:x`, `path:models/a`, `config.materialized:table`, `source:dw+`,
//! `exposure:x`, `resource_type:model`, wildcards; space is union, comma is
//! intersection, and `--exclude` takes the same grammar.

use std::collections::{BTreeSet, VecDeque};

use globset::{Glob, GlobMatcher};
use serde_json::Value as Json;

use crate::core::diagnostic::Diagnostic;
use crate::graph::state::{Change, Comparison};
use crate::graph::{Graph, Node, NodeDetails, ResourceType};

/// How far to walk up or down from the matched nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    None,
    All,
    Limited(usize),
}

/// One selector atom: `2+method:value+1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criterion {
    pub at: bool,
    pub parents: Depth,
    pub children: Depth,
    pub method: Method,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// No method: the name or the dotted fqn.
    Fqn,
    Tag,
    Path,
    Config(String),
    Source,
    Exposure,
    ResourceType,
    Package,
    TestName,
    /// `test_type:unit`, `test_type:data` (or `generic`, `singular`).
    TestType,
    /// `state:new`, `state:modified[.body|.configs|.relation|.macros]`,
    /// `state:unmodified`, `state:old`: compared with `--state`.
    State(StateMethod),
    /// `result:error` and the other statuses of the state's run_results.json.
    Result,
}

/// What a `state:` selector asks of a node's [`Change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateMethod {
    New,
    Old,
    Modified,
    Body,
    Configs,
    Relation,
    Macros,
    Unmodified,
}

impl StateMethod {
    fn parse(value: &str) -> Option<StateMethod> {
        Some(match value {
            "new" => StateMethod::New,
            "old" => StateMethod::Old,
            "modified" => StateMethod::Modified,
            "modified.body" => StateMethod::Body,
            "modified.configs" => StateMethod::Configs,
            "modified.relation" => StateMethod::Relation,
            "modified.macros" => StateMethod::Macros,
            "unmodified" => StateMethod::Unmodified,
            _ => return None,
        })
    }

    fn matches(self, change: &Change) -> bool {
        match self {
            StateMethod::New => change.new,
            StateMethod::Old => !change.new,
            StateMethod::Modified => change.modified(),
            // As dbt: a new node has a new body, configs and relation, but
            // calls a changed macro only if it calls one.
            StateMethod::Body => change.new || change.body,
            StateMethod::Configs => change.new || change.configs,
            StateMethod::Relation => change.new || change.relation,
            StateMethod::Macros => change.macros,
            StateMethod::Unmodified => !change.modified(),
        }
    }
}

/// The statuses `result:` selects, as run_results.json writes them.
const RESULT_STATUSES: [&str; 6] = ["success", "error", "fail", "warn", "skipped", "pass"];

/// Every method a selector may name before its colon, the parser's gate:
/// a name not here is an unknown method (`config` stands for `config.<key>`).
/// The docs page reads this list, and its parity test has an example of each.
pub const METHODS: [&str; 13] =
    ["fqn", "tag", "path", "file", "source", "exposure", "resource_type", "package", "test_name", "test_type", "state", "result", "config"];

/// The graph operators and set operators of a selector, each with an example
/// (the docs page's parity test covers each).
pub const OPERATORS: [(&str, &str); 7] = [
    ("upstream", "+name"),
    ("downstream", "name+"),
    ("upstream, n levels", "2+name"),
    ("downstream, n levels", "name+1"),
    ("at: downstream and their upstream", "@name"),
    ("intersection", "a,b"),
    ("union", "a b"),
];

/// A whole `--select` value: a union of intersections of criteria.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub union: Vec<Vec<Criterion>>,
}

impl Selector {
    /// Parses the values of `--select` (or `--exclude`); each may hold several
    /// space-separated selectors.
    pub fn parse(values: &[String]) -> Result<Selector, Diagnostic> {
        let mut union = Vec::new();
        for value in values {
            for token in value.split_whitespace() {
                let intersection = token.split(',').filter(|part| !part.is_empty()).map(Criterion::parse).collect::<Result<Vec<_>, _>>()?;
                if !intersection.is_empty() {
                    union.push(intersection);
                }
            }
        }
        Ok(Selector { union })
    }

    pub fn is_empty(&self) -> bool {
        self.union.is_empty()
    }

    /// The first criterion that compares with a state (`state:`, `result:`).
    fn compares_with_state(&self) -> Option<&Criterion> {
        self.union.iter().flatten().find(|criterion| matches!(criterion.method, Method::State(_) | Method::Result))
    }

    /// The indices of the nodes this selects, graph operators applied.
    pub fn select(&self, graph: &Graph, state: Option<&Comparison>) -> BTreeSet<usize> {
        let mut selected = BTreeSet::new();
        for intersection in &self.union {
            let mut sets = intersection.iter().map(|criterion| criterion.select(graph, state));
            let Some(mut result) = sets.next() else { continue };
            for set in sets {
                result = result.intersection(&set).copied().collect();
            }
            selected.extend(result);
        }
        selected
    }
}

fn parse_depth(digits: &str) -> Result<Depth, std::num::ParseIntError> {
    if digits.is_empty() { Ok(Depth::All) } else { digits.parse().map(Depth::Limited) }
}

impl Criterion {
    pub fn parse(text: &str) -> Result<Criterion, Diagnostic> {
        let invalid = |why: &str| {
            Diagnostic::new(format!("invalid selector `{text}`: {why}"))
                .help("selectors look like `name`, `+name`, `name+`, `2+name+1`, `@name`, `tag:nightly`, `path:models/marketing`, `config.materialized:table`, `source:dw+`")
        };
        let mut rest = text;
        let at = rest.starts_with('@');
        if at {
            rest = &rest[1..];
        }
        let mut parents = Depth::None;
        if let Some(plus) = rest.find('+') {
            let prefix = &rest[..plus];
            if prefix.chars().all(|c| c.is_ascii_digit()) {
                parents = parse_depth(prefix).map_err(|_| invalid("the depth is not a number"))?;
                rest = &rest[plus + 1..];
            }
        }
        let mut children = Depth::None;
        if let Some(plus) = rest.rfind('+') {
            let suffix = &rest[plus + 1..];
            if suffix.chars().all(|c| c.is_ascii_digit()) {
                children = parse_depth(suffix).map_err(|_| invalid("the depth is not a number"))?;
                rest = &rest[..plus];
            }
        }
        if at && (parents != Depth::None || children != Depth::None) {
            return Err(invalid("`@` cannot be combined with `+`"));
        }
        let (method, value) = match rest.split_once(':') {
            None => (Method::Fqn, rest),
            Some((method, value)) => {
                let name = if method.starts_with("config.") { "config" } else { method };
                if !METHODS.contains(&name) {
                    return Err(invalid(&format!("unknown method `{method}`")));
                }
                let method = match method {
                    "fqn" => Method::Fqn,
                    "tag" => Method::Tag,
                    "path" | "file" => Method::Path,
                    "source" => Method::Source,
                    "exposure" => Method::Exposure,
                    "resource_type" => Method::ResourceType,
                    "package" => Method::Package,
                    "test_name" => Method::TestName,
                    "test_type" => Method::TestType,
                    "state" => match StateMethod::parse(value) {
                        Some(state) => Method::State(state),
                        None => {
                            return Err(invalid(&format!(
                                "unknown state `{value}`; use new, modified, modified.body, modified.configs, modified.relation, modified.macros, unmodified or old"
                            )));
                        }
                    },
                    "result" if RESULT_STATUSES.contains(&value) => Method::Result,
                    "result" => return Err(invalid(&format!("unknown result `{value}`; use {}", RESULT_STATUSES.join(", ")))),
                    other => match other.strip_prefix("config.") {
                        Some(key) if !key.is_empty() => Method::Config(key.to_string()),
                        _ => return Err(invalid(&format!("unknown method `{other}`"))),
                    },
                };
                (method, value)
            }
        };
        if value.is_empty() {
            return Err(invalid("nothing to match"));
        }
        // A pattern that does not compile would match nothing and select
        // nothing without a word: refuse it here instead.
        let value_for_glob = if method == Method::Path { value.trim_end_matches('/') } else { value };
        for pattern in std::iter::once(value_for_glob).chain(value.split('.')).filter(|p| p.contains(['*', '?', '['])) {
            if let Err(err) = Glob::new(pattern) {
                return Err(invalid(&format!("the pattern `{pattern}` is not a valid glob: {}", glob_error(&err))));
            }
        }
        if method == Method::ResourceType && ResourceType::parse(value).is_none() {
            return Err(invalid(&format!("unknown resource type `{value}`; use model, seed, test, source or exposure")));
        }
        Ok(Criterion { at, parents, children, method, value: value.to_string() })
    }

    /// The nodes this criterion matches, before graph operators. `state:` and
    /// `result:` match nothing without a state.
    pub fn matches(&self, graph: &Graph, state: Option<&Comparison>) -> BTreeSet<usize> {
        let value = self.value.as_str();
        match &self.method {
            Method::Fqn => {
                let (leaf, parts) = (Pattern::new(value), value.split('.').collect::<Vec<_>>());
                nodes_where(graph, |node| {
                    !matches!(node.resource_type, ResourceType::Source | ResourceType::Exposure)
                        && (leaf.matches(&node.name) || fqn_matches(&node.fqn, &parts))
                })
            }
            Method::Tag => {
                let pattern = Pattern::new(value);
                nodes_where(graph, |node| node.tags().iter().any(|tag| pattern.matches(tag)))
            }
            Method::Path => {
                let pattern = Pattern::new(value.trim_end_matches('/'));
                nodes_where(graph, |node| pattern.matches_path(&node.path) && node.resource_type != ResourceType::Exposure)
            }
            Method::Config(key) => {
                let pattern = Pattern::new(value);
                nodes_where(graph, |node| config_matches(node, key, &pattern))
            }
            Method::Source => {
                let parts: Vec<&str> = value.split('.').collect();
                nodes_where(graph, |node| source_matches(node, &parts))
            }
            Method::Exposure => {
                let pattern = Pattern::new(value);
                nodes_where(graph, |node| node.resource_type == ResourceType::Exposure && pattern.matches(&node.name))
            }
            Method::ResourceType => {
                let wanted = ResourceType::parse(value);
                nodes_where(graph, |node| Some(node.resource_type) == wanted)
            }
            Method::Package => nodes_where(graph, |node| glob_or_eq(value, &node.package)),
            Method::State(method) => {
                let changes = state.map_or(&[][..], |state| &state.changes[..]);
                changes.iter().enumerate().filter(|(_, change)| method.matches(change)).map(|(index, _)| index).collect()
            }
            Method::Result => {
                let results = state.map_or(&[][..], |state| &state.results[..]);
                results.iter().enumerate().filter(|(_, statuses)| statuses.contains(value)).map(|(index, _)| index).collect()
            }
            Method::TestName => nodes_where(
                graph,
                |node| matches!(&node.details, NodeDetails::Test(test) if test.test_name.as_deref().is_some_and(|name| glob_or_eq(value, name))),
            ),
            Method::TestType => nodes_where(graph, |node| test_type(node).is_some_and(|kind| value == kind || (value == "data" && kind != "unit"))),
        }
    }

    /// The matched nodes with `+` and `@` applied.
    pub fn select(&self, graph: &Graph, state: Option<&Comparison>) -> BTreeSet<usize> {
        let matched = self.matches(graph, state);
        let mut selected = matched.clone();
        if self.at {
            let descendants = walk(graph, &matched, Depth::All, true);
            let ancestors = walk(graph, &descendants, Depth::All, false);
            selected.extend(descendants);
            selected.extend(ancestors);
            return selected;
        }
        selected.extend(walk(graph, &matched, self.parents, false));
        selected.extend(walk(graph, &matched, self.children, true));
        selected
    }
}

/// The indices of the nodes of `graph` that `hit` holds for.
fn nodes_where(graph: &Graph, hit: impl Fn(&Node) -> bool) -> BTreeSet<usize> {
    graph.nodes.iter().enumerate().filter(|(_, node)| hit(node)).map(|(index, _)| index).collect()
}

/// A selector's value: a glob where it holds `*`, `?` or `[`, else a text to equal.
struct Pattern<'a> {
    text: &'a str,
    glob: Option<GlobMatcher>,
}

impl<'a> Pattern<'a> {
    fn new(text: &'a str) -> Pattern<'a> {
        let glob = if text.contains(['*', '?', '[']) { Glob::new(text).ok().map(|g| g.compile_matcher()) } else { None };
        Pattern { text, glob }
    }

    fn matches(&self, text: &str) -> bool {
        match &self.glob {
            Some(glob) => glob.is_match(text),
            None => self.text == text,
        }
    }

    /// A glob matches the whole path; a path without one matches itself and
    /// everything under it.
    fn matches_path(&self, path: &std::path::Path) -> bool {
        let path = path.to_string_lossy().replace('\\', "/");
        match &self.glob {
            Some(glob) => glob.is_match(&path),
            None => path == self.text || path.starts_with(&format!("{}/", self.text)),
        }
    }
}

/// `config.<key>:<value>`: the node's config `key` is the value, or a list
/// holding it; a model's `materialized` is its default when it is not set.
fn config_matches(node: &Node, key: &str, pattern: &Pattern<'_>) -> bool {
    match node.config.get(key) {
        Some(Json::Array(items)) => items.iter().any(|item| pattern.matches(&json_text(item))),
        Some(item) => pattern.matches(&json_text(item)),
        None => {
            key == "materialized"
                && matches!(node.resource_type, ResourceType::Model | ResourceType::Snapshot)
                && pattern.matches(node.materialized())
        }
    }
}

/// `source:<source>`, `source:<source>.<table>` or `source:<package>.<source>.<table>`.
fn source_matches(node: &Node, parts: &[&str]) -> bool {
    let NodeDetails::Source { source_name, table_name, .. } = &node.details else { return false };
    match parts {
        [source] => glob_or_eq(source, source_name),
        [source, table] => glob_or_eq(source, source_name) && glob_or_eq(table, table_name),
        [package, source, table] => *package == node.package && glob_or_eq(source, source_name) && glob_or_eq(table, table_name),
        _ => false,
    }
}

/// What `test_type:` calls a test: `unit`, `singular` or `generic`; `None` for other nodes.
fn test_type(node: &Node) -> Option<&'static str> {
    match &node.details {
        NodeDetails::UnitTest(_) => Some("unit"),
        NodeDetails::Test(test) if test.singular_file.is_some() => Some("singular"),
        NodeDetails::Test(_) => Some("generic"),
        _ => None,
    }
}

/// globset's reason, without the pattern it repeats.
fn glob_error(err: &globset::Error) -> String {
    err.kind().to_string()
}

fn glob_or_eq(pattern: &str, text: &str) -> bool {
    if pattern.contains(['*', '?', '[']) { Glob::new(pattern).map(|g| g.compile_matcher().is_match(text)).unwrap_or(false) } else { pattern == text }
}

fn json_text(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// dbt's fqn match: the selector's dotted parts are a prefix of the node's fqn,
/// and a `*` part matches the rest.
fn fqn_matches(fqn: &[String], parts: &[&str]) -> bool {
    if parts.len() > fqn.len() {
        return false;
    }
    for (part, segment) in parts.iter().zip(fqn) {
        if *part == "*" {
            return true;
        }
        if !glob_or_eq(part, segment) {
            return false;
        }
    }
    true
}

/// Nodes reachable from `start` within `depth` steps, downstream or upstream,
/// not counting `start` itself unless reached again.
fn walk(graph: &Graph, start: &BTreeSet<usize>, depth: Depth, downstream: bool) -> BTreeSet<usize> {
    let limit = match depth {
        Depth::None => return BTreeSet::new(),
        Depth::All => usize::MAX,
        Depth::Limited(n) => n,
    };
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<(usize, usize)> = start.iter().map(|&n| (n, 0)).collect();
    let mut visited: std::collections::HashSet<usize> = start.iter().copied().collect();
    while let Some((node, distance)) = queue.pop_front() {
        if distance >= limit {
            continue;
        }
        let next: Vec<usize> = if downstream { graph.children(node).collect() } else { graph.parents(node).collect() };
        for neighbour in next {
            seen.insert(neighbour);
            if visited.insert(neighbour) {
                queue.push_back((neighbour, distance + 1));
            }
        }
    }
    seen
}

/// What `--select`/`--exclude` select, with dbt's eager indirect selection: a
/// test is selected when any node it tests is. `state` is the project compared
/// with `--state`, which `state:` and `result:` need.
pub fn select_nodes(graph: &Graph, select: &[String], exclude: &[String], state: Option<&Comparison>) -> Result<BTreeSet<usize>, Diagnostic> {
    let select = Selector::parse(select)?;
    let exclude = Selector::parse(exclude)?;
    if state.is_none()
        && let Some(criterion) = select.compares_with_state().or(exclude.compares_with_state())
    {
        let method = if criterion.method == Method::Result { "result" } else { "state" };
        return Err(Diagnostic::new(format!(
            "the selector `{method}:{}` compares with another invocation, but no `--state` was given",
            criterion.value
        ))
        .help("add `--state DIR`, the `target/` directory of the invocation to compare with (for example the last production run's artifacts)"));
    }
    let mut selected = if select.is_empty() { (0..graph.nodes.len()).collect() } else { select.select(graph, state) };
    // A model's data tests and unit tests come with it (the unit tests are its parents).
    let data_tests = selected.iter().flat_map(|&node| graph.children(node)).filter(|&child| graph.nodes[child].resource_type == ResourceType::Test);
    let unit_tests =
        selected.iter().flat_map(|&node| graph.parents(node)).filter(|&parent| graph.nodes[parent].resource_type == ResourceType::UnitTest);
    let tests: Vec<usize> = data_tests.chain(unit_tests).collect();
    selected.extend(tests);
    if !exclude.is_empty() {
        let excluded = exclude.select(graph, state);
        selected.retain(|node| !excluded.contains(node));
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Criterion {
        Criterion::parse(text).unwrap()
    }

    #[test]
    fn parses_graph_operators() {
        let c = parse("2+stg_orders+1");
        assert_eq!((c.parents, c.children, c.at), (Depth::Limited(2), Depth::Limited(1), false));
        assert_eq!((c.method.clone(), c.value.as_str()), (Method::Fqn, "stg_orders"));
        let c = parse("+orders");
        assert_eq!((c.parents, c.children), (Depth::All, Depth::None));
        let c = parse("orders+");
        assert_eq!((c.parents, c.children), (Depth::None, Depth::All));
        let c = parse("@orders");
        assert!(c.at);
        assert_eq!((c.parents, c.children), (Depth::None, Depth::None));
    }

    // The list the docs page and its parity test read is the parser's: each
    // method in it parses, and a name outside it is an unknown method.
    #[test]
    fn every_listed_method_parses_and_no_other() {
        let value = |method: &str| match method {
            "state" => "modified",
            "result" => "error",
            "resource_type" => "model",
            "test_type" => "unit",
            _ => "x",
        };
        for method in METHODS {
            let written = if method == "config" { "config.materialized".to_string() } else { method.to_string() };
            assert!(Criterion::parse(&format!("{written}:{}", value(method))).is_ok(), "`{method}:` does not parse");
        }
        let err = Criterion::parse("owner:x").unwrap_err();
        assert_eq!(err.message, "invalid selector `owner:x`: unknown method `owner`");
        let (_, examples): (Vec<&str>, Vec<&str>) = OPERATORS.iter().copied().unzip();
        assert!(Selector::parse(&examples.iter().map(|e| e.to_string()).collect::<Vec<_>>()).is_ok());
    }

    #[test]
    fn parses_methods() {
        assert_eq!(parse("tag:nightly").method, Method::Tag);
        assert_eq!(parse("path:models/marketing").value, "models/marketing");
        assert_eq!(parse("config.materialized:table").method, Method::Config("materialized".into()));
        let c = parse("source:dw+");
        assert_eq!((c.method, c.value.as_str(), c.children), (Method::Source, "dw", Depth::All));
        assert_eq!(parse("exposure:dash").method, Method::Exposure);
        assert_eq!(parse("resource_type:seed").method, Method::ResourceType);
        assert_eq!(parse("stg_*").value, "stg_*");
    }

    #[test]
    fn union_and_intersection() {
        let selector = Selector::parse(&["a+ tag:x,config.materialized:table".into(), "b".into()]).unwrap();
        assert_eq!(selector.union.len(), 3);
        assert_eq!(selector.union[1].len(), 2);
    }

    #[test]
    fn rejects_bad_selectors() {
        let err = Criterion::parse("colour:red").unwrap_err();
        assert_eq!(err.message, "invalid selector `colour:red`: unknown method `colour`");
        let err = Criterion::parse("@a+").unwrap_err();
        assert_eq!(err.message, "invalid selector `@a+`: `@` cannot be combined with `+`");
        let err = Criterion::parse("resource_type:table").unwrap_err();
        assert!(err.message.contains("unknown resource type `table`"));
        assert!(Criterion::parse("tag:").is_err());
        // `config.` names no key.
        let err = Criterion::parse("config.:table").unwrap_err();
        assert_eq!(err.message, "invalid selector `config.:table`: unknown method `config.`");
        // A glob that does not compile would otherwise select nothing and exit 0.
        let err = Criterion::parse("path:models/[a").unwrap_err();
        assert_eq!(
            err.message,
            "invalid selector `path:models/[a`: the pattern `models/[a` is not a valid glob: unclosed character class; missing ']'"
        );
        assert!(Criterion::parse("stg_[ab]*").is_ok());
    }

    #[test]
    fn fqn_prefixes_and_globs() {
        let fqn: Vec<String> = ["shop", "marketing", "daily"].iter().map(|s| s.to_string()).collect();
        assert!(fqn_matches(&fqn, &["shop", "marketing"]));
        assert!(fqn_matches(&fqn, &["shop", "*"]));
        assert!(!fqn_matches(&fqn, &["marketing"]));
        assert!(fqn_matches(&fqn, &["shop", "marketing", "dai*"]));
    }
}
