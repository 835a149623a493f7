//! Compiling: render the selected models and tests for the execution date with
//! real relation names, inline ephemeral models as CTEs, check every statement
//! with sqlparser in the target's dialect, and write `target/compiled/`.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use minijinja::Value;
use minijinja::value::Kwargs;
use rayon::prelude::*;
use regex::Regex;
use sqlparser::dialect::Dialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{TokenWithSpan, Tokenizer};

mod cache;

pub use cache::{CheckedSql, CompiledFiles, write_compiled};

use crate::core::dates::ExecutionDate;
use crate::core::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::core::relation::Relation;
use crate::graph::{Graph, Node, NodeDetails, ResourceType};
use crate::project::config::{ConfigExt, ConfigMap};
use crate::project::{Project, TargetKind};
use crate::template::scope::fill_placeholders;
use crate::template::{Mode, Resolve, Scope, Templates};

/// A node's SQL, ready to run.
#[derive(Debug, Clone)]
pub struct CompiledNode {
    pub index: usize,
    pub sql: String,
    /// `target/compiled/<project>/<path>`, relative to the project root.
    pub compiled_path: PathBuf,
    /// What the template set with `config()` while compiling for a run (a
    /// generic test's `fail_calc`); empty from `compile`.
    pub set_config: ConfigMap,
}

pub struct Compiler<'a> {
    pub project: &'a Project,
    pub templates: &'a Templates,
    pub graph: &'a Graph,
    pub resolver: Arc<crate::graph::resolve::GraphResolver>,
    /// `target/compiled/<project>`, relative to the project root.
    compiled_base: PathBuf,
}

impl<'a> Compiler<'a> {
    pub fn new(project: &'a Project, templates: &'a Templates, graph: &'a Graph) -> Compiler<'a> {
        let target = project.target_path.strip_prefix(&project.root).unwrap_or(&project.target_path);
        let compiled_base = target.join("compiled").join(&project.name);
        Compiler {
            project,
            templates,
            graph,
            resolver: Arc::new(crate::graph::resolve::GraphResolver::new(&graph.nodes, &project.name)),
            compiled_base,
        }
    }

    /// `--empty`: every `ref()` and `source()` renders as a zero-row subquery.
    pub fn with_empty_inputs(mut self, empty: bool) -> Compiler<'a> {
        if empty {
            self.resolver = Arc::new(crate::graph::resolve::GraphResolver::new(&self.graph.nodes, &self.project.name).with_empty_inputs(true));
        }
        self
    }

    /// Compiles the selected models and tests (and the ephemeral models they
    /// inline), in parallel, handing each to `done` (which writes it) as soon
    /// as it passed the check. Returns what compiled and every error.
    /// `checked` remembers SQL that passed the check in earlier compiles.
    pub fn compile(
        &self,
        selected: &BTreeSet<usize>,
        checked: Option<&CheckedSql>,
        done: &(dyn Fn(&CompiledNode) -> Result<(), Diagnostic> + Sync),
    ) -> (Vec<CompiledNode>, Diagnostics) {
        let ephemerals: Vec<usize> = self
            .graph
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.resource_type == ResourceType::Model && n.materialized() == "ephemeral")
            .map(|(i, _)| i)
            .collect();
        let rendered_ephemerals: HashMap<usize, Result<String, Diagnostic>> = ephemerals.par_iter().map(|&i| (i, self.parsed_or_render(i))).collect();

        let targets: Vec<usize> = selected
            .iter()
            .copied()
            .filter(|&i| matches!(self.graph.nodes[i].resource_type, ResourceType::Model | ResourceType::Test | ResourceType::Snapshot))
            .collect();
        let results: Vec<Result<CompiledNode, Diagnostic>> = targets
            .par_iter()
            .map(|&index| {
                let sql = match rendered_ephemerals.get(&index) {
                    Some(rendered) => rendered.clone()?,
                    None => self.parsed_or_render(index)?,
                };
                let sql = self.inline_ephemerals(index, sql, &|parent| match rendered_ephemerals.get(&parent) {
                    Some(Ok(sql)) => Ok(sql.clone()),
                    _ => Err(self.ephemeral_failed(parent, index)),
                })?;
                let compiled_path = self.compiled_path(&self.graph.nodes[index]);
                let kind = self.project.target.kind;
                match checked {
                    Some(checked) if checked.passed_before(kind, &sql) => {}
                    _ => {
                        check_sql(kind, &self.graph.nodes[index], &sql, &compiled_path)?;
                        if let Some(checked) = checked {
                            checked.record(kind, &sql);
                        }
                    }
                }
                let node = CompiledNode { index, sql, compiled_path, set_config: ConfigMap::new() };
                done(&node)?;
                Ok(node)
            })
            .collect();
        let mut compiled = Vec::with_capacity(results.len());
        let mut errors = Diagnostics::default();
        for result in results {
            match result {
                Ok(node) => compiled.push(node),
                Err(diagnostic) => errors.push(diagnostic),
            }
        }
        (compiled, errors)
    }

    /// The SQL of a model from its parse-mode render with the relation names
    /// filled in, when that render was complete; else a fresh render.
    fn parsed_or_render(&self, index: usize) -> Result<String, Diagnostic> {
        let node = &self.graph.nodes[index];
        // The parse-mode render holds each source's name, not a subquery of it.
        // A microbatch model reads its inputs filtered to the batch, which the parse did not.
        if let (NodeDetails::Model { parsed_sql: Some(sql), refs, .. }, Some(this), false, false) =
            (&node.details, &node.relation, self.resolver.empty_inputs(), node.is_microbatch())
        {
            let filled = fill_placeholders(
                sql,
                |i| refs.get(i).and_then(|r| self.resolver.resolve_ref(Some(&node.package), r.package.as_deref(), &r.name).ok()),
                this,
            );
            if let Some(sql) = filled {
                return Ok(sql);
            }
        }
        self.render_node(index, false, None).map(|(sql, _)| sql)
    }

    /// Renders one model or test for the execution date (a microbatch model
    /// for `days`, when given).
    /// Node `index` rendered, and what it set with `config()`.
    fn render_node(
        &self,
        index: usize,
        is_incremental: bool,
        days: Option<(ExecutionDate, ExecutionDate)>,
    ) -> Result<(String, ConfigMap), Diagnostic> {
        let mut scope = self.node_scope(index, days);
        scope.is_incremental = is_incremental;
        let sql = self.render_in(index, &mut scope)?;
        Ok((sql, scope.config))
    }

    /// The scope node `index` renders in: its config, `this`, `model`, its
    /// package's vars, and the run's relations; a microbatch model's batch
    /// is `days`, else the partitions of the execution date.
    pub fn node_scope(&self, index: usize, days: Option<(ExecutionDate, ExecutionDate)>) -> Scope {
        let node = &self.graph.nodes[index];
        let mut scope = Scope::new(format!("{} `{}`", node.resource_type.name(), node.name), Mode::Compile, node.config.clone());
        scope.resolver = Some(self.resolver.clone());
        scope.this = node.relation.clone();
        scope.model = Some(model_value(node));
        scope.package = Some(node.package.clone());
        if let (true, Some(partition)) = (node.is_microbatch(), node.partition()) {
            let (first, last) = days.unwrap_or_else(|| partition.range(self.templates.date));
            scope.batch = Some((first.ds(), last.add_days(1).ds()));
        }
        scope
    }

    /// Renders node `index` in `scope` (a unit test's, whose inputs are its fixtures).
    pub fn render_in(&self, index: usize, scope: &mut Scope) -> Result<String, Diagnostic> {
        let node = &self.graph.nodes[index];
        match &node.details {
            NodeDetails::Model { file, .. } => self.render_file(&self.project.models[*file].file.path, &self.project.models[*file].file.text, scope),
            NodeDetails::Test(test) => match test.singular_file {
                Some(file) => self.render_file(&self.project.singular_tests[file].file.path, &self.project.singular_tests[file].file.text, scope),
                None => self.render_generic_test(node, scope),
            },
            _ => Ok(String::new()),
        }
    }

    /// Renders SQL that is not a node's file (a hook, `on-run-start`, an inline
    /// query) with real relation names; `node` gives `this` and `config`.
    pub fn render_text(&self, name: &str, text: &str, node: Option<usize>) -> Result<String, Diagnostic> {
        let mut scope = match node {
            Some(index) => {
                let node = &self.graph.nodes[index];
                let mut scope = Scope::new(format!("{} `{}`", node.resource_type.name(), node.name), Mode::Compile, node.config.clone());
                scope.this = node.relation.clone();
                scope
            }
            None => Scope::new(format!("`{name}`"), Mode::Compile, Default::default()),
        };
        scope.resolver = Some(self.resolver.clone());
        self.render_file(Path::new(name), text, &mut scope)
    }

    fn render_file(&self, path: &Path, text: &str, scope: &mut Scope) -> Result<String, Diagnostic> {
        let name = path.to_string_lossy();
        self.templates.render_template(&name, text, scope).map_err(|err| self.templates.diagnostic(&err, Some((&name, text))))
    }

    /// Calls the test's macro (`test_not_null`, ...) with the tested relation and
    /// its arguments; `where` narrows the relation first, as dbt does.
    fn render_generic_test(&self, node: &Node, scope: &mut Scope) -> Result<String, Diagnostic> {
        let NodeDetails::Test(test) = &node.details else { return Ok(String::new()) };
        let test_name = test.test_name.clone().unwrap_or_default();
        let tested = test.attached_to.as_ref().and_then(|id| self.graph.by_id.get(id)).map(|&i| &self.graph.nodes[i]);
        let Some(relation) = tested.and_then(|n| n.relation.clone()) else {
            return Err(Diagnostic::new(format!("test `{}` is attached to nothing that can be queried", node.name)).at(Location::file(&node.path)));
        };
        // A test of a partitioned model checks the execution date's partition
        // only (cheap on BigQuery), unless `test_scope: all`.
        let mut conditions: Vec<String> = test.config.where_clause.clone().into_iter().collect();
        let partition = tested.and_then(|t| t.partition());
        let whole_table = test.config.whole_table || tested.is_some_and(|t| t.config.str_value("test_scope") == Some("all"));
        let sql = crate::warehouse::dialect(self.project.target.kind);
        match (partition, whole_table) {
            (Some(partition), false) => {
                let (first, last) = partition.range(self.templates.date);
                conditions.push(sql.partition_range(partition, first, last));
            }
            // BigQuery refuses a query of the whole table without a filter on its partition column.
            (Some(partition), true) if tested.is_some_and(Node::requires_partition_filter) => conditions.push(sql.whole_table_filter(partition)),
            _ => {}
        }
        let model = if conditions.is_empty() {
            Value::from_object(relation)
        } else {
            Value::from_safe_string(format!("(select * from {relation} where {}) dbt_subquery", conditions.join(" and ")))
        };
        let mut kwargs: Vec<(String, Value)> = vec![("model".into(), model)];
        if let Some(column) = &test.column_name {
            kwargs.push(("column_name".into(), Value::from(column.clone())));
        }
        for (key, value) in &test.kwargs {
            let value = match value.as_str().and_then(crate::template::scope::parse_ref_string) {
                Some(Ok(call)) => {
                    let relation = self
                        .resolver
                        .resolve_ref(Some(&node.package), call.package.as_deref(), &call.name)
                        .map_err(|e| Diagnostic::new(e).at(Location::file(&node.path)))?;
                    // Another table read whole (`relationships`' `to`) gets the
                    // filter its `require_partition_filter` asks for.
                    let parent = self.graph.nodes.iter().find(|n| n.relation.as_ref() == Some(&relation) && n.requires_partition_filter());
                    match parent.and_then(Node::partition) {
                        Some(partition) => {
                            Value::from_safe_string(format!("(select * from {relation} where {}) dbt_subquery", sql.whole_table_filter(partition)))
                        }
                        None => Value::from_object(relation),
                    }
                }
                Some(Err((source, table))) => {
                    Value::from_object(self.resolver.resolve_source(&source, &table).map_err(|e| Diagnostic::new(e).at(Location::file(&node.path)))?)
                }
                None => Value::from_serialize(value),
            };
            kwargs.push((key.clone(), value));
        }
        let Some(test_macro) = self.templates.globals.find_test(test.namespace.as_deref(), &test_name) else {
            return Err(Diagnostic::new(format!("data test `{test_name}` on `{}` has no definition", tested.map(|n| n.name.as_str()).unwrap_or_default()))
                .at(Location::of_text(&node.path, &std::fs::read_to_string(self.project.absolute(&node.path)).unwrap_or_default(), &test_name))
                .help(format!("define it with `{{% test {test_name}(model, column_name) %}}` in a file under `macros/`, or use not_null, unique, accepted_values or relationships")));
        };
        let args = [Value::from(Kwargs::from_iter(kwargs))];
        self.templates
            .call(&test_macro, &args, scope)
            .map(|value| value.to_string().trim().to_string())
            .map_err(|err| self.templates.diagnostic(&err, None).note(format!("while compiling test `{}`", node.name)))
    }

    /// Compiles one node for running it: `is_incremental` is what the
    /// warehouse says about its table; `days`, the days a microbatch model
    /// builds when they are not the run's (its first build, from `begin`).
    pub fn compile_one(&self, index: usize, is_incremental: bool, days: Option<(ExecutionDate, ExecutionDate)>) -> Result<CompiledNode, Diagnostic> {
        let (sql, set_config) = self.render_node(index, is_incremental, days)?;
        let sql = self.inline_ephemerals(index, sql, &|parent| self.render_node(parent, false, None).map(|(sql, _)| sql))?;
        Ok(CompiledNode { index, sql, compiled_path: self.compiled_path(&self.graph.nodes[index]), set_config })
    }

    fn ephemeral_failed(&self, parent: usize, index: usize) -> Diagnostic {
        let node = &self.graph.nodes[parent];
        Diagnostic::new(format!("ephemeral model `{}` did not compile, so `{}` cannot be compiled", node.name, self.graph.nodes[index].name))
            .at(Location::file(&node.path))
    }

    /// Prepends the ephemeral models `index` reads (directly or through other
    /// ephemerals) as CTEs named `__dbt__cte__<model>`.
    fn inline_ephemerals(&self, index: usize, sql: String, render: &dyn Fn(usize) -> Result<String, Diagnostic>) -> Result<String, Diagnostic> {
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        self.collect_ephemeral_parents(index, &mut order, &mut seen);
        if order.is_empty() {
            return Ok(sql);
        }
        let mut ctes = Vec::new();
        for parent in order {
            let parent_sql = render(parent).map_err(|_| self.ephemeral_failed(parent, index))?;
            ctes.push(format!("{} as (\n{}\n)", Relation::ephemeral(&self.graph.nodes[parent].name).identifier, parent_sql.trim()));
        }
        Ok(inject_ctes(&sql, &ctes.join(",\n")))
    }

    fn collect_ephemeral_parents(&self, index: usize, order: &mut Vec<usize>, seen: &mut BTreeSet<usize>) {
        let mut parents: Vec<usize> = self.graph.parents(index).collect();
        parents.sort();
        for parent in parents {
            let node = &self.graph.nodes[parent];
            if node.resource_type == ResourceType::Model && node.materialized() == "ephemeral" && seen.insert(parent) {
                self.collect_ephemeral_parents(parent, order, seen);
                order.push(parent);
            }
        }
    }

    pub fn compiled_path(&self, node: &Node) -> PathBuf {
        // A package's node goes under the package's name, by its path in the package, as dbt lays it out.
        let base = match node.package == self.project.name {
            true => self.compiled_base.clone(),
            false => self.compiled_base.with_file_name(&node.package),
        };
        let path = self.project.project_relative(&node.package, &node.path);
        match &node.details {
            NodeDetails::Test(test) if test.singular_file.is_none() => {
                // dbt's layout: `<properties file>/<test name>.sql`, the
                // name shortened when long (its alias).
                let name = node.config.str_value("alias").unwrap_or(&node.name);
                base.join(path).join(format!("{name}.sql"))
            }
            _ => base.join(path),
        }
    }
}

/// Puts `ctes` in front of `sql`, merging with the query's own `with` if it has one.
pub fn inject_ctes(sql: &str, ctes: &str) -> String {
    static LEADING_WITH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?is)^(\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*)with\s").unwrap_or_else(|_| unreachable!()));
    match LEADING_WITH.find(sql) {
        Some(found) => format!("{}{},\n{}", &sql[..found.end()], ctes, &sql[found.end()..]),
        None => format!("with {ctes}\n{sql}"),
    }
}

/// `Parser::parse_sql`, tokenizing into a buffer this thread keeps from one
/// statement to the next: growing a fresh token vector for every statement
/// cost as much as a tenth of tokenizing.
fn parse_sql(dialect: &dyn Dialect, sql: &str) -> Result<(), ParserError> {
    thread_local! {
        static TOKENS: RefCell<Vec<TokenWithSpan>> = const { RefCell::new(Vec::new()) };
    }
    let mut tokens = TOKENS.take();
    tokens.clear();
    let tokenized = Tokenizer::new(dialect, sql).tokenize_with_location_into_buf(&mut tokens);
    let (parsed, tokens) = match tokenized {
        Ok(()) => {
            let mut parser = Parser::new(dialect).with_tokens_with_locations(tokens);
            let parsed = parser.parse_statements().map(drop);
            (parsed, parser.into_tokens())
        }
        Err(err) => (Err(ParserError::from(err)), tokens),
    };
    TOKENS.set(tokens);
    parsed
}

/// Parses `sql` in the target's dialect; a syntax error names the node, the
/// compiled file and the line in it.
pub fn check_sql(kind: TargetKind, node: &Node, sql: &str, compiled_path: &Path) -> Result<(), Diagnostic> {
    static POSITION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s*at Line: (\d+), Column: (\d+)").unwrap_or_else(|_| unreachable!()));
    let dialect = crate::warehouse::dialect(kind).parser();
    if sql.trim().is_empty() {
        return Err(Diagnostic::new(format!("{} `{}` compiled to no SQL", node.resource_type.name(), node.name))
            .at(Location::file(&node.path))
            .help("a model is one `select` statement"));
    }
    let Err(err) = parse_sql(dialect, sql) else { return Ok(()) };
    let message = err.to_string();
    let message = message.strip_prefix("sql parser error: ").unwrap_or(&message);
    let (message, location) = match POSITION.captures(message) {
        Some(captures) => {
            let line = captures[1].parse().unwrap_or(1);
            let column = captures[2].parse().ok();
            let text = POSITION.replace(message, "").into_owned();
            (text, Location::in_source(compiled_path, sql, line, column))
        }
        None => (message.to_string(), Location::file(compiled_path)),
    };
    Err(Diagnostic::new(format!("SQL syntax error in {} `{}` ({}): {message}", node.resource_type.name(), node.name, kind.name()))
        .at(location)
        .note(format!("the line is from the compiled SQL of `{}`", node.path.display())))
}

/// `model` in templates: the node being compiled, by dbt's names.
fn model_value(node: &Node) -> Value {
    let relation = node.relation.as_ref();
    let mut config = node.config.clone();
    if matches!(node.resource_type, ResourceType::Model | ResourceType::Snapshot) {
        config.entry("materialized").or_insert_with(|| node.materialized().into());
    }
    Value::from_iter([
        ("unique_id", Value::from(node.unique_id.as_str())),
        ("name", Value::from(node.name.as_str())),
        ("resource_type", Value::from(node.resource_type.name())),
        ("package_name", Value::from(node.package.as_str())),
        ("original_file_path", Value::from(node.path.to_string_lossy().as_ref())),
        ("fqn", Value::from(node.fqn.clone())),
        ("config", Value::from_serialize(&config)),
        ("tags", Value::from_serialize(node.tags())),
        ("database", Value::from(relation.and_then(|r| r.database.clone()))),
        ("schema", Value::from(relation.and_then(|r| r.schema.clone()))),
        ("alias", Value::from(relation.map(|r| r.identifier.clone()))),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctes_merge_with_an_existing_with() {
        let sql = inject_ctes("-- lead\nWITH a as (select 1) select * from a", "__dbt__cte__e as (\nselect 2\n)");
        assert_eq!(sql, "-- lead\nWITH __dbt__cte__e as (\nselect 2\n),\na as (select 1) select * from a");
        let sql = inject_ctes("select * from __dbt__cte__e", "__dbt__cte__e as (\nselect 2\n)");
        assert_eq!(sql, "with __dbt__cte__e as (\nselect 2\n)\nselect * from __dbt__cte__e");
    }
}
