//! Running one node in the warehouse: a model's plan (here), a seed's load
//! (`seeds`), a data test's count (`data_tests`), a source check's wait
//! (`sensor`). The warehouse's generator writes every plan; this module picks
//! the plan, runs the hooks around it and reports the outcome. It decides
//! nothing about order, which is `execute.rs`'s job.

mod data_tests;
mod deliver;
pub mod export;
pub mod refresh;
pub mod seed_file;
mod seeds;
mod sensor;
mod snapshots;
mod unit_tests;

use std::time::Instant;

use crate::compile::Compiler;
use crate::core::dates::ExecutionDate;
use crate::core::job::Job;
use crate::core::outcome::{Outcome, Status};
use crate::core::partition::WrittenPartitions;
use crate::core::relation::Relation;
use crate::core::table::{CountError, first_count};
use crate::graph::model_config::Materialized;
use crate::graph::{Node, NodeDetails, ResourceType};
use crate::sql::plan::{Plan, Present, TableOptions};
use crate::sql::{SeedError, SqlGenerator, staging_relation};
use crate::warehouse::plan::{self, PlanError};
use crate::warehouse::{Connection, RelationKey, RelationKind, Relations, Warehouse, WarehouseError};

pub struct Materializer<'a> {
    pub compiler: &'a Compiler<'a>,
    /// Names this invocation in every job's labels.
    pub invocation_id: &'a str,
    /// Where source checks take a connection for each look.
    pub warehouse: &'a dyn Warehouse,
    pub sql: &'a dyn SqlGenerator,
    /// The unique ids `--full-refresh` still has to rebuild.
    pub full_refresh: &'a std::collections::BTreeSet<String>,
    /// Whether the run covers a range of dates (a microbatch model's first
    /// build then covers the range, not the days from its `begin`).
    pub backfill: bool,
    /// Set by Ctrl-C; a source check stops waiting.
    pub cancelled: &'a std::sync::atomic::AtomicBool,
    /// What existed in the warehouse when this date's run started.
    pub relations: &'a Relations,
    /// Told once when a source check starts waiting, with why: a sensor that
    /// waits in silence looks like a hung run.
    pub waiting: &'a (dyn Fn(&str) + Sync),
}

/// A statement failed: the message a user reads, with the statement's step.
#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A hook (`pre_hook`, `post_hook`) that could not be rendered.
    #[error("{key}: {message}")]
    HookTemplate { key: String, message: String },
    /// A hook the warehouse refused.
    #[error("{key} failed: {source}")]
    Hook { key: String, source: WarehouseError },
    #[error("{0}")]
    Template(String),
    /// A count that could not be read as a whole number.
    #[error("{source}: {sql}")]
    Count { source: CountError, sql: String },
    /// A seed file the generator could not read.
    #[error(transparent)]
    Seed(#[from] SeedError),
}

impl StepError {
    /// The warehouse's error, when the warehouse failed the step.
    fn warehouse(&self) -> Option<&WarehouseError> {
        match self {
            StepError::Warehouse(err) | StepError::Plan(PlanError::Warehouse(err)) | StepError::Hook { source: err, .. } => Some(err),
            _ => None,
        }
    }

    /// Where in the model's statement the warehouse said the step failed (a
    /// hook's statement is not the model's, so its line is not looked for).
    fn at(&self) -> Option<&crate::warehouse::ErrorAt> {
        match self {
            StepError::Warehouse(WarehouseError::Query { at, .. }) | StepError::Plan(PlanError::Warehouse(WarehouseError::Query { at, .. })) => {
                at.as_ref()
            }
            _ => None,
        }
    }
}

impl Materializer<'_> {
    /// Builds, loads or tests node `index` on `connection`.
    pub fn run(&self, connection: &mut dyn Connection, index: usize) -> Outcome {
        let started = Instant::now();
        let node = &self.compiler.graph.nodes[index];
        let mut outcome = match node.resource_type {
            ResourceType::Model => self.model(connection, index),
            ResourceType::Snapshot => self.snapshot(connection, index),
            ResourceType::Seed => self.seed(connection, node),
            ResourceType::Test => self.test(connection, index),
            ResourceType::UnitTest => self.unit_test(connection, index),
            ResourceType::Source => self.check_source(node),
            ResourceType::Exposure if node.delivery().is_some() => self.deliver(connection, index),
            _ => Outcome::new(Status::Success, format!("{} {}", node.resource_type.name(), node.name)),
        };
        outcome.seconds = started.elapsed().as_secs_f64();
        outcome
    }

    fn model(&self, connection: &mut dyn Connection, index: usize) -> Outcome {
        let node = &self.compiler.graph.nodes[index];
        let Some(relation) = node.relation.clone() else { return Outcome::error(node.label(), "has no relation") };
        let NodeDetails::Model { config, .. } = &node.details else { return Outcome::error(node.label(), "is not a model") };
        let existing = self.existing(&relation);
        let is_incremental =
            config.materialized == Materialized::Incremental && existing == Some(RelationKind::Table) && !self.full_refresh.contains(&node.unique_id);
        if config.materialized == Materialized::Incremental
            && existing.is_none()
            && !self.full_refresh.contains(&node.unique_id)
            && let Some(outcome) = self.refuse_hidden_table(connection, node, &relation)
        {
            return outcome;
        }
        // A microbatch model built anew on one date covers the days from its `begin`, as dbt's does.
        let days = match (config.begin, &config.partition, self.backfill || is_incremental) {
            (Some(begin), Some(partition), false) => {
                let (first, last) = partition.range(self.compiler.templates.date);
                (begin < first).then_some((begin, last))
            }
            _ => None,
        };
        let compiled = match self.compile(index, is_incremental, days) {
            Ok(compiled) => compiled,
            Err(outcome) => return *outcome,
        };
        let mut present = self.present(&relation);
        if let Some(existing) = self.relations.get(&RelationKey::of(&relation)) {
            // Only a warehouse that partitions reports it (DuckDB reports none, and ignores this).
            let existing_field = existing.partition.as_ref().map(|(field, _)| field.to_ascii_lowercase());
            let wanted_field = config.partition.as_ref().map(|p| p.field.to_ascii_lowercase());
            present.partitioning_differs = existing.kind == RelationKind::Table && existing_field != wanted_field;
            // A table about to be replaced: BigQuery refuses `create or replace`
            // with another partitioning spec, granularity and clustering included,
            // so its metadata is compared whole (dbt-bigquery's `is_replaceable`).
            let replaces = existing.kind == RelationKind::Table && !is_incremental && config.materialized != Materialized::View;
            if replaces && !present.partitioning_differs {
                match connection.layout(&relation) {
                    Ok(Some(layout)) => present.partitioning_differs = layout != wanted_layout(config),
                    Ok(None) => {}
                    Err(err) => {
                        return Outcome::error(node.label(), format!("could not read how `{}` is partitioned: {err}", relation.display_name()));
                    }
                }
            }
        }
        let options = TableOptions {
            partition: config.partition.clone(),
            cluster_by: config.cluster_by.clone(),
            labels: config.labels.clone(),
            require_partition_filter: config.require_partition_filter,
            partition_expiration_days: config.partition_expiration_days,
            on_schema_change: config.on_schema_change,
            invocation: Some(self.invocation_id.to_string()),
            partition_log: Some(self.compiler.project.target.partition_log(self.sql)),
            checksum: match &node.details {
                NodeDetails::Model { file, .. } => Some(crate::graph::state::sql_checksum(&self.compiler.project.models[*file].file.text)),
                _ => None,
            },
        };
        let name = relation.display_name();
        let written = self.written_partitions(config, &options, &relation, days);
        let (plan, description) = match (config.materialized, &config.partition) {
            (Materialized::View, _) => (self.sql.view_plan(&relation, present, &compiled.sql), format!("created view {name}")),
            (Materialized::Table, _) => (self.sql.table_plan(&relation, present, &options, &compiled.sql), format!("created table {name}")),
            (Materialized::Incremental, Some(partition)) => {
                let (first, last) = days.unwrap_or_else(|| partition.range(self.compiler.templates.date));
                let partitions = if first == last { last.ds_nodash() } else { format!("{}..{}", first.ds_nodash(), last.ds_nodash()) };
                let verb = if is_incremental { "created partition" } else { "created table" };
                (
                    self.sql.partition_plan(&relation, present, &options, partition, (first, last), is_incremental, &compiled.sql),
                    format!("{verb} {name}${partitions}"),
                )
            }
            (Materialized::Incremental, None) if is_incremental => {
                (self.sql.merge_plan(&relation, present, &options, &config.unique_key, &compiled.sql), format!("inserted into {name}"))
            }
            (Materialized::Incremental, None) => {
                (self.sql.table_plan(&relation, present, &options, &compiled.sql), format!("created incremental {name}"))
            }
            // Ephemeral models are inlined and never scheduled.
            (Materialized::Ephemeral, _) => (Plan::default(), format!("inlined {}", node.name)),
            // A snapshot's plan depends on its table's columns: `snapshot` writes it.
            (Materialized::Snapshot, _) => return self.snapshot(connection, index),
        };
        let mut outcome = self.run_plan(connection, index, plan, description, &compiled);
        if outcome.status == Status::Success {
            // A write of one date counted its rows: the log need not read them again.
            outcome.written = written.map(|written| WrittenPartitions { rows: outcome.stats.rows_affected, ..written });
        }
        outcome
    }

    /// The partitions a model's plan writes, where the warehouse's log is
    /// only appended to and the run records them once per phase.
    fn written_partitions(
        &self,
        config: &crate::graph::model_config::ModelConfig,
        options: &TableOptions,
        relation: &Relation,
        days: Option<(ExecutionDate, ExecutionDate)>,
    ) -> Option<WrittenPartitions> {
        let (Materialized::Incremental, Some(partition), Some(_)) = (config.materialized, &config.partition, &options.partition_log) else {
            return None;
        };
        if self.sql.log_replaces() {
            return None;
        }
        let (first, last) = days.unwrap_or_else(|| partition.range(self.compiler.templates.date));
        Some(WrittenPartitions {
            relation: relation.clone(),
            partition: partition.clone(),
            first,
            last,
            rows: None,
            checksum: options.checksum.clone(),
        })
    }

    /// Runs a model's (or snapshot's) `plan` between its hooks, and reports
    /// it as `description` with its statistics, or with the error and where
    /// in the model's file it points.
    fn run_plan(
        &self,
        connection: &mut dyn Connection,
        index: usize,
        plan: Plan,
        description: String,
        compiled: &crate::compile::CompiledNode,
    ) -> Outcome {
        let node = &self.compiler.graph.nodes[index];
        let NodeDetails::Model { config, .. } = &node.details else { return Outcome::error(node.label(), "is not a model") };
        let plan = plan.with_options_of(&self.job_options(node, &config.labels));
        let counts_rows = config.materialized != Materialized::View;
        let result = self
            .hooks(connection, index, "pre_hook", &config.pre_hook)
            .and_then(|()| plan::execute(&plan, connection, self.sql).map_err(StepError::from))
            .and_then(|stats| self.hooks(connection, index, "post_hook", &config.post_hook).map(|()| stats));
        match result {
            Ok(mut stats) => {
                if !counts_rows {
                    stats.rows_affected = None;
                }
                let mut outcome = Outcome::new(Status::Success, description);
                outcome.stats = stats;
                outcome.compiled_path = Some(compiled.compiled_path.clone());
                outcome
            }
            Err(err) => {
                let mut message = err.to_string();
                if let Some(place) = err.at().and_then(|at| self.locate_in_model(node, &compiled.sql, at)) {
                    message.push_str(&format!("\n--> {place}"));
                }
                if let Some(help) = err.warehouse().and_then(WarehouseError::help) {
                    message.push_str(&format!("\n= help: {help}"));
                }
                let mut outcome = Outcome::error(node.label(), message);
                outcome.compiled_path = Some(compiled.compiled_path.clone());
                outcome
            }
        }
    }

    /// A first build of an incremental model replaces whatever is there, so
    /// before it the warehouse is asked directly whether the table exists: a
    /// listing that missed it must not cost the table its history. An error
    /// outcome when it exists (or the question fails).
    fn refuse_hidden_table(&self, connection: &mut dyn Connection, node: &Node, relation: &Relation) -> Option<Outcome> {
        let message = match connection.describe(&RelationKey::of(relation)) {
            Ok(None) => return None,
            Ok(Some(_)) => format!(
                "`{}` exists, although listing its dataset did not show it; strata stops rather than build it anew and lose its rows: run again, or pass `--full-refresh` to rebuild it on purpose",
                relation.display_name()
            ),
            Err(err) => format!("could not check that `{}` does not exist before building it anew: {err}", relation.display_name()),
        };
        Some(Outcome::error(node.label(), message))
    }

    /// Where in the model's file the line a warehouse error points at is:
    /// `models/x.sql:4:8` when Jinja left that line of the compiled SQL as
    /// written; else its line in the compiled SQL.
    fn locate_in_model(&self, node: &Node, compiled_sql: &str, at: &crate::warehouse::ErrorAt) -> Option<String> {
        if at.line.trim().is_empty() {
            return None;
        }
        let compiled_line = compiled_sql.lines().position(|line| line == at.line)? + 1;
        let NodeDetails::Model { file, .. } = &node.details else { return None };
        let source = &self.compiler.project.models[*file].file.text;
        match source.lines().position(|line| line == at.line) {
            Some(line) => Some(format!("{}:{}:{}", node.path.display(), line + 1, at.column)),
            None => Some(format!("line {compiled_line} of the compiled SQL")),
        }
    }

    /// The options every job of `node` carries: the target's labels, the
    /// model's, and strata's own (`strata_model`, `strata_execution_date`,
    /// `strata_invocation_id`) for cost attribution; the target's byte limit
    /// and job timeout.
    fn job_options(&self, node: &Node, model_labels: &[(String, String)]) -> Job {
        let target = &self.compiler.project.target;
        let mut labels: Vec<(String, String)> = Vec::new();
        let own = [
            ("strata_model".to_string(), node.name.clone()),
            ("strata_execution_date".to_string(), self.compiler.templates.date.ds()),
            ("strata_invocation_id".to_string(), self.invocation_id.to_string()),
        ];
        for (key, value) in target.job_labels.iter().chain(model_labels).chain(own.iter()) {
            let (key, value) = (label_text(key), label_text(value));
            labels.retain(|(k, _)| *k != key);
            labels.push((key, value));
        }
        target.job_options(labels)
    }

    fn connect(&self) -> Result<Box<dyn Connection>, WarehouseError> {
        self.warehouse.connect()
    }

    /// Whether `relation` is a table or a view, as the run found the warehouse.
    fn existing(&self, relation: &Relation) -> Option<RelationKind> {
        self.relations.get(&RelationKey::of(relation)).map(|existing| existing.kind)
    }

    /// What of `relation` exists: itself, and a staging table an interrupted run left behind.
    fn present(&self, relation: &Relation) -> Present {
        Present {
            relation: self.existing(relation),
            leftover_staging: self.existing(&staging_relation(relation, "new")).is_some(),
            partitioning_differs: false,
        }
    }

    /// Compiles node `index` and writes its SQL under `target/compiled/`, where
    /// the summary points a user at it.
    fn compile(
        &self,
        index: usize,
        is_incremental: bool,
        days: Option<(ExecutionDate, ExecutionDate)>,
    ) -> Result<crate::compile::CompiledNode, Box<Outcome>> {
        let node = &self.compiler.graph.nodes[index];
        let compiled = self
            .compiler
            .compile_one(index, is_incremental, days)
            .map_err(|diagnostic| Box::new(Outcome::error(node.label(), diagnostic.to_string().trim_end())))?;
        // The SQL is still run when the file cannot be written; only the pointer to it is lost.
        let _ = crate::compile::write_compiled(&self.compiler.project.root, std::slice::from_ref(&compiled));
        Ok(compiled)
    }

    fn hooks(&self, connection: &mut dyn Connection, index: usize, key: &str, hooks: &[String]) -> Result<(), StepError> {
        let node = &self.compiler.graph.nodes[index];
        for hook in hooks {
            let sql = self
                .compiler
                .render_text(&node.path.to_string_lossy(), hook, Some(index))
                .map_err(|d| StepError::HookTemplate { key: key.to_string(), message: d.message })?;
            if !sql.trim().is_empty() {
                connection.execute_script(&sql).map_err(|source| StepError::Hook { key: key.to_string(), source })?;
            }
        }
        Ok(())
    }

    /// The count in the first cell of `sql`'s result; an error when it is not
    /// a whole number, so a guard that cannot read its count refuses.
    fn count_query(&self, connection: &mut dyn Connection, sql: &str) -> Result<u64, StepError> {
        let table = connection.query_sql(sql)?;
        first_count(&table).map_err(|source| StepError::Count { source, sql: sql.trim().to_string() })
    }
}

/// A label key or value as BigQuery accepts it: lowercase letters, digits,
/// `_` and `-`, at most 63 characters.
fn label_text(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c.to_ascii_lowercase() } else { '_' }).take(63).collect()
}

/// How a model's table should be partitioned and clustered, as a warehouse's metadata says it.
fn wanted_layout(config: &crate::graph::model_config::ModelConfig) -> crate::warehouse::TableLayout {
    crate::warehouse::TableLayout {
        partition_field: config.partition.as_ref().map(|p| p.field.to_ascii_lowercase()),
        granularity: config.partition.as_ref().map(|p| p.granularity.as_str().to_string()),
        clustering: config.cluster_by.iter().map(|c| c.to_ascii_lowercase()).collect(),
    }
}
