//! `ref()` and `source()` resolved against the parsed graph.

use crate::FastMap;
use crate::core::relation::{QuoteStyle, Relation};
use crate::graph::{Node, NodeDetails};
use crate::project::config::ConfigExt;
use crate::template::Resolve;

/// Resolves `ref()` and `source()` against the parsed graph. A name that is
/// not in the graph was already reported while parsing, so it resolves to a
/// placeholder and the rest of the model is still checked.
pub struct GraphResolver {
    relations: FastMap<String, Relation>,
    sources: FastMap<(String, String), Relation>,
    placeholder: Relation,
    empty_inputs: bool,
    /// The `event_time` of models, seeds and sources that set one.
    event_times: FastMap<String, String>,
    source_event_times: FastMap<(String, String), String>,
}

impl GraphResolver {
    /// Resolves against `nodes`: a whole graph, or only the sources while models are parsed.
    pub fn new(nodes: &[Node]) -> GraphResolver {
        let mut relations = FastMap::with_capacity_and_hasher(nodes.len(), Default::default());
        let mut sources = FastMap::default();
        let (mut event_times, mut source_event_times) = (FastMap::default(), FastMap::default());
        for node in nodes {
            let Some(relation) = &node.relation else { continue };
            let event_time = node.config.str_value("event_time").map(str::to_string);
            match &node.details {
                NodeDetails::Model { .. } | NodeDetails::Seed { .. } => {
                    relations.insert(node.name.clone(), relation.clone());
                    if let Some(column) = event_time {
                        event_times.insert(node.name.clone(), column);
                    }
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
        GraphResolver { relations, sources, placeholder, empty_inputs: false, event_times, source_event_times }
    }

    /// `--empty`: every `ref()` and `source()` reads none of its rows.
    pub fn with_empty_inputs(mut self, empty: bool) -> GraphResolver {
        self.empty_inputs = empty;
        self
    }
}

impl Resolve for GraphResolver {
    fn resolve_ref(&self, _package: Option<&str>, name: &str) -> Result<Relation, String> {
        Ok(self.relations.get(name).cloned().unwrap_or_else(|| Relation { identifier: name.to_string(), ..self.placeholder.clone() }))
    }

    fn empty_inputs(&self) -> bool {
        self.empty_inputs
    }

    fn ref_event_time(&self, name: &str) -> Option<String> {
        self.event_times.get(name).cloned()
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
