//! A snapshot's run: its first build takes every row of its query as the
//! first version; later runs read the table's and the query's columns, stage
//! the changes against the current versions, close the versions they
//! replace and insert the new ones, in one transaction (dbt's snapshot
//! materialization). `--full-refresh` never rebuilds a snapshot: its table
//! is the only record of the history it kept.

use crate::core::columns::OnSchemaChange;
use crate::core::job::Job;
use crate::core::outcome::Outcome;
use crate::core::relation::Relation;
use crate::graph::NodeDetails;
use crate::sql::plan::{Insert, TableOptions};
use crate::sql::snapshot::{Existing, SnapshotSql};
use crate::warehouse::{Connection, RelationKind, WarehouseError};

use super::Materializer;

impl Materializer<'_> {
    pub(super) fn snapshot(&self, connection: &mut dyn Connection, index: usize) -> Outcome {
        let node = &self.compiler.graph.nodes[index];
        let Some(relation) = node.relation.clone() else { return Outcome::error(node.label(), "has no relation") };
        let NodeDetails::Model { config, .. } = &node.details else { return Outcome::error(node.label(), "is not a snapshot") };
        let Some(snapshot) = &config.snapshot else { return Outcome::error(node.label(), "has no snapshot config") };
        let existing = self.existing(&relation);
        if existing == Some(RelationKind::View) {
            let message = format!(
                "`{}` is a view, and a snapshot keeps its versions in a table: drop the view, or give the snapshot another name",
                relation.display_name()
            );
            return Outcome::error(node.label(), message);
        }
        if existing.is_none()
            && let Some(outcome) = self.refuse_hidden_table(connection, node, &relation)
        {
            return outcome;
        }
        let compiled = match self.compile(index, false, None) {
            Ok(compiled) => compiled,
            Err(outcome) => return *outcome,
        };
        let snapshot_sql = SnapshotSql { snapshot, sql: self.sql, now: self.sql.timestamp_literal(chrono::Utc::now()) };
        let options = TableOptions { labels: config.labels.clone(), invocation: Some(self.invocation_id.to_string()), ..TableOptions::default() };
        let present = self.present(&relation);
        let name = relation.display_name();
        let (plan, description) = match existing {
            None => (self.sql.table_plan(&relation, present, &options, &snapshot_sql.first_build(&compiled.sql)), format!("created snapshot {name}")),
            Some(_) => {
                let columns = match query_and_table_columns(connection, &relation, &compiled.sql) {
                    Ok(columns) => columns,
                    Err(err) => return Outcome::error(node.label(), format!("could not read the columns of `{name}` and of its query: {err}")),
                };
                let staging = snapshot_sql.staging(&compiled.sql, &relation, &columns);
                let internal = snapshot_sql.internal_columns();
                let insert = |staged: &Relation| Insert {
                    rows: Some(snapshot_sql.inserted_rows()),
                    internal: internal.clone(),
                    // New columns of the query are added to the table, as dbt's `create_columns` does.
                    ..Insert::new(&relation, staged, OnSchemaChange::AppendNewColumns, vec![snapshot_sql.close_changed(&relation, staged)])
                };
                (self.sql.insert_plan(&relation, present, &options, &staging, &insert), format!("snapshotted {name}"))
            }
        };
        self.run_plan(connection, index, plan, description, &compiled)
    }
}

/// The columns of the snapshot's table, and those its query returns (read
/// from a query of no rows, which scans nothing).
fn query_and_table_columns(connection: &mut dyn Connection, relation: &Relation, query: &str) -> Result<Existing, WarehouseError> {
    let table_columns = connection.columns(relation)?.into_iter().map(|column| column.name).collect();
    let no_rows = Job::new(format!("select * from (\n{query}\n) as strata_snapshot_columns where false limit 0"));
    let query_columns = connection.query(&no_rows)?.columns;
    Ok(Existing { table_columns, query_columns })
}
