//! Delivery exposures: once the model under an exposure with `export:` is
//! built, its rows for the execution date (a partitioned model's partition,
//! else the whole table) go to a file (csv, xlsx, parquet; the path may use
//! the date variables) or replace a table of the target.

use crate::core::delivery::{DeliverTo, FileFormat};
use crate::core::job::Job;
use crate::core::job::JobStats;
use crate::core::outcome::{Outcome, Status};
use crate::core::relation::Relation;
use crate::graph::Node;
use crate::materialize::Materializer;
use crate::sql::plan::{Plan, Present, TableOptions};
use crate::sql::{SeedColumn, SeedLoad};
use crate::warehouse::plan;
use crate::warehouse::{Connection, RelationKey, Warehouse};

impl Materializer<'_> {
    pub(super) fn deliver(&self, connection: &mut dyn Connection, index: usize) -> Outcome {
        let graph = self.compiler.graph;
        let exposure = &graph.nodes[index];
        let Some(delivery) = exposure.delivery() else { return Outcome::new(Status::Success, exposure.label()) };
        let model = match self.compiler.graph.delivered_model(index, delivery.model.as_deref()) {
            Ok(model) => model,
            Err(message) => return Outcome::error(exposure.label(), message),
        };
        let date = self.compiler.templates.date;
        let Some(rows) = crate::materialize::export::rows_of(self.sql, model, date, date) else {
            return Outcome::error(exposure.label(), format!("model `{}` is ephemeral: it has no table to deliver", model.name));
        };
        let render = |text: &str| self.compiler.render_text(&exposure.path.to_string_lossy(), text, None).map(|t| t.trim().to_string());
        match &delivery.to {
            DeliverTo::File { format, path } => {
                let path = match render(path) {
                    Ok(path) => path,
                    Err(diagnostic) => return Outcome::error(exposure.label(), format!("`export.path`: {}", diagnostic.message)),
                };
                let absolute = self.compiler.project.absolute(std::path::Path::new(&path));
                match crate::materialize::export::export(connection, self.sql, &Job::new(rows), *format, &absolute, &model.name) {
                    Ok(exported) => {
                        let mut outcome = Outcome::new(Status::Success, format!("delivered {} to {path}", model.name));
                        outcome.stats.rows_affected = Some(exported.rows);
                        outcome
                    }
                    Err(err) => Outcome::error(exposure.label(), format!("could not deliver `{}` to {path}: {err}", model.name)),
                }
            }
            DeliverTo::Table { relation, target } => {
                let name = match render(relation) {
                    Ok(name) => name,
                    Err(diagnostic) => return Outcome::error(exposure.label(), format!("`export.relation`: {}", diagnostic.message)),
                };
                match target.as_deref().filter(|t| *t != self.compiler.project.target.name) {
                    Some(target) => self.deliver_elsewhere(connection, exposure, model, target, &name, &rows),
                    None => match delivery_relation(self.sql, &self.compiler.project.target, &name) {
                        Ok(relation) => self.deliver_table(connection, exposure, model, &relation, &rows),
                        Err(message) => Outcome::error(exposure.label(), format!("`export.relation`: {message}")),
                    },
                }
            }
        }
    }

    /// Replaces `relation` with the rows, as a table is rebuilt: whole or not at all.
    fn deliver_table(&self, connection: &mut dyn Connection, exposure: &Node, model: &Node, relation: &Relation, rows: &str) -> Outcome {
        let options = TableOptions { invocation: Some(self.invocation_id.to_string()), ..TableOptions::default() };
        let steps =
            self.replace(connection, self.warehouse, exposure, relation, |present| Ok(self.sql.table_plan(relation, present, &options, rows)));
        match steps {
            Ok(stats) => {
                let mut outcome = Outcome::new(Status::Success, format!("delivered {} to table {}", model.name, relation.display_name()));
                outcome.stats = stats;
                outcome
            }
            Err(message) => {
                Outcome::error(exposure.label(), format!("could not deliver `{}` to `{}`: {message}", model.name, relation.display_name()))
            }
        }
    }

    /// Replaces `relation` in `warehouse` through `connection` with the plan
    /// `plan_for` writes for what exists of it now, its schema created first.
    fn replace(
        &self,
        connection: &mut dyn Connection,
        warehouse: &dyn Warehouse,
        exposure: &Node,
        relation: &Relation,
        plan_for: impl FnOnce(Present) -> Result<Plan, String>,
    ) -> Result<JobStats, String> {
        connection.execute(&warehouse.create_schema(relation)).map_err(|err| err.to_string())?;
        let existing = connection.describe(&RelationKey::of(relation)).map_err(|err| err.to_string())?;
        let plan = plan_for(Present { relation: existing, leftover_staging: false, partitioning_differs: false })?;
        plan::execute(&plan.with_options_of(&self.job_options(exposure, &[])), connection, warehouse.sql()).map_err(|err| err.to_string())
    }

    /// Delivers into `target`, another output of the profile: the rows go
    /// through a CSV file in `target/` into that warehouse, loaded as a seed
    /// is (a load job on BigQuery), replacing the table whole.
    fn deliver_elsewhere(&self, connection: &mut dyn Connection, exposure: &Node, model: &Node, target: &str, name: &str, rows: &str) -> Outcome {
        let project = self.compiler.project;
        let csv = project.target_path.join(format!(".{}.strata-{}.csv", exposure.name, std::process::id()));
        let steps = (|| -> Result<(JobStats, Relation), String> {
            let profiles_dir = project.target.file.parent();
            let other = crate::project::profile::load(&project.profile_name, profiles_dir, &project.root, Some(target)).map_err(|d| d.message)?;
            let warehouse = crate::warehouse::open_target(&other, &project.root, &project.profile_name, crate::warehouse::DEFAULT_LOCK_TIMEOUT)
                .map_err(|d| d.message)?;
            let sql = warehouse.sql();
            let relation = delivery_relation(sql, &other, name)?;
            let exported = crate::materialize::export::export(connection, self.sql, &Job::new(rows), FileFormat::Csv, &csv, &model.name)
                .map_err(|err| err.to_string())?;
            let columns = carried_columns(&exported.columns, self.sql, sql)?;
            let mut destination = warehouse.connect().map_err(|err| err.to_string())?;
            let load = SeedLoad { path: csv.clone(), columns, delimiter: ',', invocation: Some(self.invocation_id.to_string()) };
            let mut stats = self.replace(destination.as_mut(), warehouse.as_ref(), exposure, &relation, |present| {
                sql.seed_plan(&relation, present, &load).map_err(|err| err.to_string())
            })?;
            stats.rows_affected = Some(exported.rows);
            Ok((stats, relation))
        })();
        let _ = std::fs::remove_file(&csv);
        match steps {
            Ok((stats, relation)) => {
                let mut outcome =
                    Outcome::new(Status::Success, format!("delivered {} to table {} of target {target}", model.name, relation.display_name()));
                outcome.stats = stats;
                outcome
            }
            Err(message) => {
                Outcome::error(exposure.label(), format!("could not deliver `{}` to `{name}` of target `{target}`: {message}", model.name))
            }
        }
    }
}

/// The columns of rows read from the run's warehouse (`from`), each typed
/// as the other warehouse (`into`) names what it holds, exactly; or the
/// first one that warehouse cannot load, before anything is written there.
fn carried_columns(
    columns: &[crate::core::columns::Column],
    from: &dyn crate::sql::SqlGenerator,
    into: &dyn crate::sql::SqlGenerator,
) -> Result<Vec<SeedColumn>, String> {
    let carried = |column: &crate::core::columns::Column| {
        let data_type = from.parse_type(&column.data_type);
        let named = match data_type {
            crate::sql::types::DataType::Bytes if from.bytes_as_text() != into.bytes_as_text() => Err(format!(
                "its bytes are written as {} text, and read there as {} text; deliver them as text (`to_base64(...)`)",
                from.bytes_as_text(),
                into.bytes_as_text()
            )),
            _ => into.load_type_name(&data_type),
        };
        named
            .map(|data_type| SeedColumn { name: column.name.clone(), data_type })
            .map_err(|why| format!("column `{}` ({}): {why}", column.name, column.data_type))
    };
    columns.iter().map(carried).collect()
}

/// `schema.table` or `database.schema.table` in `target`'s quoting.
fn delivery_relation(sql: &dyn crate::sql::SqlGenerator, target: &crate::project::Target, name: &str) -> Result<Relation, String> {
    let parts: Vec<&str> = name.split('.').map(str::trim).collect();
    let quote = sql.quote_style();
    match parts.as_slice() {
        [schema, table] if !schema.is_empty() && !table.is_empty() => Ok(Relation::new(target.database.clone(), *schema, *table, quote)),
        [database, schema, table] if !database.is_empty() && !schema.is_empty() && !table.is_empty() => {
            Ok(Relation::new(Some(database.to_string()), *schema, *table, quote))
        }
        _ => Err(format!("`{name}` is not `schema.table` or `database.schema.table`")),
    }
}
