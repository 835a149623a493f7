//! `ref()` and `source()` resolved against the parsed graph.

use crate::core::hash::FastMap;
use crate::core::relation::{QuoteStyle, Relation};
use crate::graph::{Node, NodeDetails};
use crate::project::config::ConfigExt;
use crate::template::Resolve;

/// Models and seeds by name, looked up as dbt looks up a `ref()`: two
/// packages may each have a model of one name, told apart by
/// `ref('package', 'name')`.
pub struct RefIndex<T> {
    root: String,
    by_name: FastMap<String, Vec<(String, T)>>,
}

impl<T> RefIndex<T> {
    /// An empty index for the project named `root`.
    pub fn new(root: &str) -> RefIndex<T> {
        RefIndex { root: root.to_string(), by_name: FastMap::default() }
    }

    pub fn insert(&mut self, package: &str, name: &str, value: T) {
        self.by_name.entry(name.to_string()).or_default().push((package.to_string(), value));
    }

    /// `ref(package, name)` written in a node of package `from`: the named
    /// package's; without one, the root project's, then `from`'s own, then
    /// the first other package's.
    pub fn find(&self, from: Option<&str>, package: Option<&str>, name: &str) -> Option<&T> {
        let candidates = self.by_name.get(name)?;
        let of = |wanted: &str| candidates.iter().find(|(package, _)| package == wanted).map(|(_, value)| value);
        match package {
            Some(package) => of(package),
            None => of(&self.root).or_else(|| from.and_then(of)).or_else(|| candidates.first().map(|(_, value)| value)),
        }
    }

    /// Every name in the index, for suggestions.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

/// Resolves `ref()` and `source()` against the parsed graph. A name that is
/// not in the graph was already reported while parsing, so it resolves to a
/// placeholder and the rest of the model is still checked.
pub struct GraphResolver {
    /// Each model's and seed's relation, and the `event_time` it sets, if any.
    relations: RefIndex<(Relation, Option<String>)>,
    sources: FastMap<(String, String), Relation>,
    placeholder: Relation,
    empty_inputs: bool,
    source_event_times: FastMap<(String, String), String>,
}

impl GraphResolver {
    /// Resolves against `nodes` of the project named `root`: a whole graph,
    /// or only the sources while models are parsed.
    pub fn new(nodes: &[Node], root: &str) -> GraphResolver {
        let mut relations = RefIndex::new(root);
        let mut sources = FastMap::default();
        let mut source_event_times = FastMap::default();
        for node in nodes {
            let Some(relation) = &node.relation else { continue };
            let event_time = node.config.str_value("event_time").map(str::to_string);
            match &node.details {
                NodeDetails::Model { .. } | NodeDetails::Seed { .. } => {
                    relations.insert(&node.package, &node.name, (relation.clone(), event_time));
                }
                NodeDetails::Source { source_name, table_name, .. } => {
                    sources.insert((source_name.clone(), table_name.clone()), relation.clone());
                    if let Some(column) = event_time {
                        source_event_times.insert((source_name.clone(), table_name.clone()), column);
                    }
                }
                _ => {}
            }
        }
        let placeholder = Relation { database: None, schema: None, identifier: String::new(), quote: QuoteStyle::Bare };
        GraphResolver { relations, sources, placeholder, empty_inputs: false, source_event_times }
    }

    /// `--empty`: every `ref()` and `source()` reads none of its rows.
    pub fn with_empty_inputs(mut self, empty: bool) -> GraphResolver {
        self.empty_inputs = empty;
        self
    }
}

impl Resolve for GraphResolver {
    fn resolve_ref(&self, from: Option<&str>, package: Option<&str>, name: &str) -> Result<Relation, String> {
        Ok(self
            .relations
            .find(from, package, name)
            .map(|(relation, _)| relation.clone())
            .unwrap_or_else(|| Relation { identifier: name.to_string(), ..self.placeholder.clone() }))
    }

    fn empty_inputs(&self) -> bool {
        self.empty_inputs
    }

    fn ref_event_time(&self, from: Option<&str>, package: Option<&str>, name: &str) -> Option<String> {
        self.relations.find(from, package, name).and_then(|(_, event_time)| event_time.clone())
    }

    fn source_event_time(&self, source: &str, table: &str) -> Option<String> {
        self.source_event_times.get(&(source.to_string(), table.to_string())).cloned()
    }

    fn resolve_source(&self, source: &str, table: &str) -> Result<Relation, String> {
        let key = (source.to_string(), table.to_string());
        Ok(self.sources.get(&key).cloned().unwrap_or_else(|| Relation {
            schema: Some(source.to_string()),
            identifier: table.to_string(),
            ..self.placeholder.clone()
        }))
    }
}
