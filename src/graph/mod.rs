//! The DAG of a project (petgraph): seeds, models, tests, sources and exposures,
//! with an edge from each node to every node that reads it. Cycles are errors
//! that name every node on them, in order.

pub mod model_config;
pub mod resolve;
pub mod select;
pub mod source_check;
pub mod state;
pub mod test_config;
pub mod unit_test;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use serde_json::Value as Json;

use crate::core::diagnostic::{Diagnostic, Location};
use crate::core::hash::FastMap;
use crate::core::relation::Relation;
use crate::project::config::{ConfigExt, ConfigMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    Model,
    Seed,
    Test,
    Source,
    Exposure,
    Snapshot,
    UnitTest,
}

impl ResourceType {
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::Model => "model",
            ResourceType::Seed => "seed",
            ResourceType::Test => "test",
            ResourceType::Source => "source",
            ResourceType::Exposure => "exposure",
            ResourceType::Snapshot => "snapshot",
            ResourceType::UnitTest => "unit_test",
        }
    }

    /// A model, seed or snapshot: a node whose relation the project builds.
    pub fn builds_relation(self) -> bool {
        matches!(self, ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot)
    }

    /// A data test or a unit test: a check, drawn with what it checks.
    pub fn is_test(self) -> bool {
        matches!(self, ResourceType::Test | ResourceType::UnitTest)
    }

    pub fn parse(text: &str) -> Option<ResourceType> {
        Some(match text {
            "model" => ResourceType::Model,
            "seed" => ResourceType::Seed,
            "test" | "data_test" => ResourceType::Test,
            "source" => ResourceType::Source,
            "exposure" => ResourceType::Exposure,
            "snapshot" => ResourceType::Snapshot,
            "unit_test" => ResourceType::UnitTest,
            _ => return None,
        })
    }
}

/// A node of the DAG.
#[derive(Debug, Clone)]
pub struct Node {
    pub unique_id: String,
    pub resource_type: ResourceType,
    pub name: String,
    pub package: String,
    /// The file it is defined in, relative to the project root.
    pub path: PathBuf,
    /// `[project, folders.., name]`; sources: `[project, source, table]`.
    pub fqn: Vec<String>,
    pub config: ConfigMap,
    pub description: String,
    /// The relation it builds or reads (tests and exposures have none).
    pub relation: Option<Relation>,
    pub details: NodeDetails,
}

#[derive(Debug, Clone)]
pub enum NodeDetails {
    Model {
        /// Index into `Project::models`.
        file: usize,
        /// The parse-mode render, complete but for relation placeholders
        /// (`template::scope::fill_placeholders`); `None` when it must be rendered again.
        parsed_sql: Option<String>,
        refs: Vec<crate::template::RefCall>,
        sources: Vec<(String, String)>,
        columns: Vec<Column>,
        /// The config, read into types once.
        config: model_config::ModelConfig,
    },
    Seed {
        columns: Vec<Column>,
    },
    Test(TestDetails),
    UnitTest(Box<unit_test::UnitTest>),
    Source {
        source_name: String,
        table_name: String,
        loaded_at_field: Option<String>,
        freshness: Option<Json>,
        wait_for: Option<Json>,
        columns: Vec<Column>,
    },
    Exposure {
        exposure_type: Option<String>,
        owner: Option<Json>,
        depends_on: Vec<String>,
        extra: std::collections::BTreeMap<String, Json>,
        /// The Tableau datasources refreshed once its models are rebuilt.
        refresh: Option<crate::tableau::Refresh>,
        /// Where its model's rows are delivered (`export:`).
        delivery: Option<crate::core::delivery::Delivery>,
    },
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Column {
    pub name: String,
    pub description: String,
    pub data_type: Option<String>,
}

/// A data test: a generic test applied to a node's column, or a singular SQL file.
#[derive(Debug, Clone)]
pub struct TestDetails {
    /// The generic test's name (`not_null`), or `None` for a singular test.
    pub test_name: Option<String>,
    /// The package a generic test is named with (`dbt_utils` of `dbt_utils.expression_is_true`).
    pub namespace: Option<String>,
    /// The node the test is attached to (its unique id).
    pub attached_to: Option<String>,
    pub column_name: Option<String>,
    /// Arguments as written (`values`, `to`, `field`, ...).
    pub kwargs: serde_json::Map<String, Json>,
    pub refs: Vec<crate::template::RefCall>,
    pub sources: Vec<(String, String)>,
    /// Index into `Project::singular_tests`, for a singular test.
    pub singular_file: Option<usize>,
    /// The config, read into types once.
    pub config: test_config::TestConfig,
}

impl Node {
    /// A node of `package` named `name`, defined in `path`, with what the
    /// kinds of node share: the id `<resource type>.<package>.<name>`, the fqn
    /// `[package, name]`, no config, no description and no relation.
    pub fn new(resource_type: ResourceType, package: &str, name: &str, path: &Path, details: NodeDetails) -> Node {
        Node {
            unique_id: format!("{}.{package}.{name}", resource_type.name()),
            resource_type,
            name: name.to_string(),
            package: package.to_string(),
            path: path.to_path_buf(),
            fqn: vec![package.to_string(), name.to_string()],
            config: ConfigMap::new(),
            description: String::new(),
            relation: None,
            details,
        }
    }

    /// How messages name it: `model daily_utm_funnel`.
    pub fn label(&self) -> String {
        format!("{} {}", self.resource_type.name(), self.name)
    }

    pub fn materialized(&self) -> &str {
        match &self.details {
            NodeDetails::Model { config, .. } => config.materialized.as_str(),
            _ => self.config.materialized(),
        }
    }

    /// Whether it is a microbatch model (`incremental_strategy: microbatch`),
    /// whose inputs with an `event_time` are read one batch at a time.
    pub fn is_microbatch(&self) -> bool {
        self.materialized() == "incremental" && self.config.str_value("incremental_strategy") == Some("microbatch")
    }

    /// Whether it has a relation in the warehouse: a model that is not
    /// ephemeral, a seed, a source.
    pub fn in_warehouse(&self) -> bool {
        matches!(self.resource_type, ResourceType::Model | ResourceType::Seed | ResourceType::Source | ResourceType::Snapshot)
            && self.materialized() != "ephemeral"
    }

    /// Whether running it does something: it refreshes Tableau datasources or delivers rows.
    pub fn acts(&self) -> bool {
        matches!(&self.details, NodeDetails::Exposure { refresh, delivery, .. } if refresh.is_some() || delivery.is_some())
    }

    pub fn refreshes(&self) -> bool {
        matches!(&self.details, NodeDetails::Exposure { refresh: Some(_), .. })
    }

    /// The columns a node declares in its YAML.
    pub fn declared_columns(&self) -> &[Column] {
        match &self.details {
            NodeDetails::Model { columns, .. } | NodeDetails::Seed { columns } | NodeDetails::Source { columns, .. } => columns,
            _ => &[],
        }
    }

    pub fn delivery(&self) -> Option<&crate::core::delivery::Delivery> {
        match &self.details {
            NodeDetails::Exposure { delivery, .. } => delivery.as_ref(),
            _ => None,
        }
    }

    /// The partitioning of a partitioned model.
    pub fn partition(&self) -> Option<&crate::core::partition::Partition> {
        match &self.details {
            NodeDetails::Model { config, .. } => config.partition.as_ref(),
            _ => None,
        }
    }

    /// A partitioned model whose table refuses a query without a filter on its partition column.
    pub fn requires_partition_filter(&self) -> bool {
        match &self.details {
            NodeDetails::Model { config, .. } => config.partition.is_some() && config.require_partition_filter,
            _ => false,
        }
    }

    pub fn tags(&self) -> Vec<String> {
        self.config.tags()
    }

    /// What `ls` prints by default: `project.folder.name`, `source:project.source.table`.
    pub fn selector(&self) -> String {
        let fqn = self.fqn.join(".");
        match self.resource_type {
            ResourceType::Source => format!("source:{fqn}"),
            ResourceType::Exposure => format!("exposure:{fqn}"),
            _ => fqn,
        }
    }

    /// `source_name.table_name` for sources, the name otherwise.
    pub fn display_name(&self) -> String {
        match &self.details {
            NodeDetails::Source { source_name, table_name, .. } => format!("{source_name}.{table_name}"),
            _ => self.name.clone(),
        }
    }

    /// What a node is in the lineage: its resource type, except that a source
    /// strata waits for or checks before reading it is a source check.
    pub fn lineage_type(&self) -> &'static str {
        match self.resource_type {
            ResourceType::Source if source_check::SourceCheck::of(self).is_some() => "source_check",
            other => other.name(),
        }
    }

    /// The materialization of a seed or model (`table`, `incremental`, `seed`, ...),
    /// the exposure's type for an exposure, nothing for the rest.
    pub fn materialization(&self) -> Option<String> {
        match (&self.details, self.resource_type) {
            (_, ResourceType::Seed) => Some("seed".into()),
            (NodeDetails::Model { .. }, _) => Some(self.materialized().to_string()),
            (NodeDetails::Exposure { exposure_type, .. }, _) => exposure_type.clone(),
            _ => None,
        }
    }
}

/// The project's DAG. Node `i` of `nodes` is `NodeIndex::new(i)` of `graph`.
#[derive(Debug, Default, Clone)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub graph: DiGraph<(), ()>,
    pub by_id: FastMap<String, usize>,
}

/// An edge to add: `parent` is read by `child`, whose file names it in quotes
/// as `written` (`parent` in `ref('parent')`), if anywhere.
pub struct Edge {
    pub parent: usize,
    pub child: usize,
    pub written: Option<String>,
}

impl Graph {
    pub fn new(nodes: Vec<Node>) -> Graph {
        let mut graph = DiGraph::with_capacity(nodes.len(), nodes.len() * 2);
        let mut by_id = FastMap::with_capacity_and_hasher(nodes.len(), Default::default());
        for (index, node) in nodes.iter().enumerate() {
            graph.add_node(());
            by_id.insert(node.unique_id.clone(), index);
        }
        Graph { nodes, graph, by_id }
    }

    /// Adds the edges, then fails with one diagnostic per cycle; `locate`
    /// finds where an edge is written, only for the edges a cycle names.
    pub fn connect(&mut self, edges: Vec<Edge>, locate: impl Fn(&Node, &str) -> Location) -> Result<(), Vec<Diagnostic>> {
        let mut written: FastMap<(usize, usize), Option<String>> = FastMap::with_capacity_and_hasher(edges.len(), Default::default());
        for edge in edges {
            if written.contains_key(&(edge.parent, edge.child)) {
                continue;
            }
            self.graph.add_edge(NodeIndex::new(edge.parent), NodeIndex::new(edge.child), ());
            written.insert((edge.parent, edge.child), edge.written);
        }
        let mut errors = Vec::new();
        for component in petgraph::algo::tarjan_scc(&self.graph) {
            let is_cycle = component.len() > 1 || self.graph.contains_edge(component[0], component[0]);
            if !is_cycle {
                continue;
            }
            let cycle = self.cycle_path(&component);
            let names: Vec<String> = cycle.iter().chain(cycle.first()).map(|&i| format!("`{}`", self.nodes[i].name)).collect();
            let (parent, child) = (cycle[0], cycle[1 % cycle.len()]);
            let location = match written.get(&(parent, child)) {
                Some(Some(name)) => locate(&self.nodes[child], &format!("'{name}'")),
                _ => Location::file(&self.nodes[child].path),
            };
            errors.push(
                Diagnostic::new(format!("found a dependency cycle: {}", names.join(" → ")))
                    .at(location)
                    .help("a model cannot read, directly or through others, a model that reads it; remove one of these `ref()` calls"),
            );
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// One cycle through the nodes of a strongly connected component, in edge
    /// order, starting at the node whose unique id sorts first.
    fn cycle_path(&self, component: &[NodeIndex]) -> Vec<usize> {
        let members: std::collections::HashSet<NodeIndex> = component.iter().copied().collect();
        let start =
            component.iter().copied().min_by(|a, b| self.nodes[a.index()].unique_id.cmp(&self.nodes[b.index()].unique_id)).unwrap_or(component[0]);
        // Breadth-first from start's children back to start gives the shortest cycle.
        let mut previous: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            let mut children: Vec<NodeIndex> = self.graph.neighbors_directed(node, Direction::Outgoing).filter(|c| members.contains(c)).collect();
            children.sort_by(|a, b| self.nodes[a.index()].unique_id.cmp(&self.nodes[b.index()].unique_id));
            for child in children {
                if child == start {
                    let mut path = vec![node];
                    let mut at = node;
                    while at != start {
                        at = previous[&at];
                        path.push(at);
                    }
                    path.reverse();
                    return path.into_iter().map(NodeIndex::index).collect();
                }
                if let std::collections::hash_map::Entry::Vacant(entry) = previous.entry(child) {
                    entry.insert(node);
                    queue.push_back(child);
                }
            }
        }
        component.iter().map(|n| n.index()).collect()
    }

    /// The model exposure `index` delivers: the one it names, else the one
    /// model (or seed) it depends on.
    pub fn delivered_model(&self, index: usize, named: Option<&str>) -> Result<&Node, String> {
        let models: Vec<&Node> =
            self.parents(index).map(|p| &self.nodes[p]).filter(|n| matches!(n.resource_type, ResourceType::Model | ResourceType::Seed)).collect();
        match (named, models.as_slice()) {
            (Some(name), _) => models
                .iter()
                .find(|m| m.name == name)
                .copied()
                .ok_or_else(|| format!("`export.model: {name}` is not one of the models it depends on (add `ref('{name}')` to its `depends_on`)")),
            (None, [one]) => Ok(one),
            (None, []) => Err("it depends on no model to deliver: add one to `depends_on`".into()),
            (None, _) => Err("it depends on several models: name the one to deliver with `export.model`".into()),
        }
    }

    pub fn parents(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph.neighbors_directed(NodeIndex::new(index), Direction::Incoming).map(NodeIndex::index)
    }

    pub fn children(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph.neighbors_directed(NodeIndex::new(index), Direction::Outgoing).map(NodeIndex::index)
    }

    /// Every node in an order where parents come before children; among the
    /// nodes ready at a time, data tests first (so a model's tests follow it),
    /// then by unique id, so the order is the same on every run.
    pub fn topological_order(&self) -> Vec<usize> {
        use std::cmp::Reverse;
        let key = |index: usize| {
            let node = &self.nodes[index];
            Reverse((node.resource_type != ResourceType::Test, node.unique_id.as_str(), index))
        };
        let mut waiting: Vec<usize> = (0..self.nodes.len()).map(|i| self.parents(i).count()).collect();
        let mut ready: std::collections::BinaryHeap<_> = (0..self.nodes.len()).filter(|&i| waiting[i] == 0).map(key).collect();
        let mut order = Vec::with_capacity(self.nodes.len());
        while let Some(Reverse((_, _, index))) = ready.pop() {
            order.push(index);
            for child in self.children(index) {
                waiting[child] -= 1;
                if waiting[child] == 0 {
                    ready.push(key(child));
                }
            }
        }
        order
    }

    /// The nearest nodes up- (or down-) stream of `index` for which `stop`
    /// holds, walking through the nodes for which it does not.
    pub fn nearest(&self, index: usize, downstream: bool, stop: impl Fn(usize) -> bool) -> std::collections::BTreeSet<usize> {
        let next = |node: usize| -> Vec<usize> { if downstream { self.children(node).collect() } else { self.parents(node).collect() } };
        let mut found = std::collections::BTreeSet::new();
        let mut seen = std::collections::HashSet::new();
        let mut stack = next(index);
        while let Some(node) = stack.pop() {
            if !seen.insert(node) {
                continue;
            }
            if stop(node) {
                found.insert(node);
            } else {
                stack.extend(next(node));
            }
        }
        found
    }

    /// The unique ids of a node's parents, sorted.
    pub fn parent_ids(&self, index: usize) -> Vec<String> {
        let mut ids: Vec<String> = self.parents(index).map(|p| self.nodes[p].unique_id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    pub fn child_ids(&self, index: usize) -> Vec<String> {
        let mut ids: Vec<String> = self.children(index).map(|c| self.nodes[c].unique_id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }
}
