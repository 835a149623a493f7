//! The pure SQL layer: what a warehouse's SQL must say ([`SqlGenerator`], the
//! dialect interface, with the standard statements as its defaults), the plans
//! of each materialization ([`plan`]), and the SQL of snapshots, diffs and the
//! partition log. Pure functions of relations and compiled SQL: no connection,
//! no template. Each warehouse's own dialect lives in its folder under
//! `warehouse/`; running a plan is `warehouse::plan`'s job.

pub mod diff;
pub mod partitions;
pub mod plan;
pub mod review;
pub mod snapshot;
pub mod types;

use crate::core::columns::{Column, ColumnChanges, OnSchemaChange};
use crate::core::config_rules::ConfigRules;
use crate::core::dates::ExecutionDate;
use crate::core::job::Job;
use crate::core::partition::{Partition, WrittenPartitions};
use crate::core::relation::RelationKind;
use crate::core::relation::{QuoteStyle, Relation};
use crate::sql::partitions::{PARTITION_LOG, PartitionedTable};
use crate::sql::plan::{Insert, Plan, Present, Refusal, TableOptions};

/// A column of a seed, with the type it was given or inferred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedColumn {
    pub name: String,
    pub data_type: String,
}

/// A warehouse's SQL: how names are quoted and qualified, how SQL is parsed
/// for `compile`'s syntax check, and the statements of each materialization.
/// `compile` uses it without a connection.
pub trait SqlGenerator: Send + Sync {
    fn quote_style(&self) -> QuoteStyle;

    fn quote(&self, name: &str) -> String {
        self.quote_style().quote(name)
    }

    /// A column's type as this warehouse's dbt adapter shows it in
    /// `Column.data_type`, from the type the warehouse gives.
    fn column_data_type(&self, data_type: &str) -> String {
        data_type.to_string()
    }

    /// A column type as this warehouse names it, read into what its values are.
    fn parse_type(&self, name: &str) -> types::DataType;

    /// This warehouse's name for a type, or why it cannot hold its values exactly.
    fn type_name(&self, data_type: &types::DataType) -> Result<String, String>;

    /// This warehouse's name for a column of `data_type` loaded from a CSV
    /// file (a seed, a delivery), or why its loader cannot take one.
    fn load_type_name(&self, data_type: &types::DataType) -> Result<String, String> {
        self.type_name(data_type)
    }

    /// How this warehouse writes bytes as text, and reads them from a CSV
    /// file: rows carry bytes between warehouses only where both agree.
    fn bytes_as_text(&self) -> &'static str {
        "base64"
    }

    /// The sqlparser dialect `compile` checks compiled SQL with.
    fn parser(&self) -> &dyn sqlparser::dialect::Dialect;

    /// What this warehouse accepts of a model's config, checked at compile.
    fn config_rules(&self) -> &'static ConfigRules;

    fn create_schema(&self, relation: &Relation) -> String {
        let schema = relation.schema.as_deref().unwrap_or_default();
        match &relation.database {
            Some(database) => format!("create schema if not exists {}.{}", self.quote(database), self.quote(schema)),
            None => format!("create schema if not exists {}", self.quote(schema)),
        }
    }

    fn create_view(&self, relation: &Relation, sql: &str) -> String {
        format!("create or replace view {relation} as (\n{sql}\n)")
    }

    fn create_table_as(&self, relation: &Relation, sql: &str) -> String {
        format!("create table {relation} as (\n{sql}\n)")
    }

    /// A table of `sql`'s rows that a check reads and then drops (a unit test's result).
    fn create_scratch(&self, relation: &Relation, sql: &str) -> String {
        format!("create or replace table {relation} as (\n{sql}\n)")
    }

    fn drop_table(&self, relation: &Relation) -> String {
        format!("drop table if exists {relation}")
    }

    fn drop_view(&self, relation: &Relation) -> String {
        format!("drop view if exists {relation}")
    }

    fn rename_table(&self, from: &Relation, to: &Relation) -> String {
        format!("alter table {from} rename to {}", self.quote(&to.identifier))
    }

    /// `delete` the rows of `target` whose `unique_key` is in `staged`, for delete+insert.
    fn delete_matching(&self, target: &Relation, staged: &Relation, unique_key: &[String]) -> String {
        let key = unique_key.iter().map(|k| self.quote(k)).collect::<Vec<_>>().join(", ");
        format!("delete from {target} where ({key}) in (select {key} from {staged})")
    }

    /// `'text'` as the warehouse reads a string literal.
    fn string_literal(&self, text: &str) -> String {
        format!("'{}'", text.replace('\'', "''"))
    }

    /// Column names as an insert lists them: `"id", "name"`.
    fn column_list(&self, columns: &[&Column]) -> String {
        columns.iter().map(|column| self.quote(&column.name)).collect::<Vec<_>>().join(", ")
    }

    /// Inserts the `columns` (a [`column_list`](Self::column_list)) of the
    /// staged rows into the same columns of the target: by name, never by position.
    fn insert_from(&self, insert: &Insert, columns: &str) -> String {
        let (target, staged) = (&insert.target, &insert.staged);
        match &insert.rows {
            Some(rows) => format!("insert into {target} ({columns})\nselect {columns} from {staged}\nwhere {rows}"),
            None => format!("insert into {target} ({columns})\nselect {columns} from {staged}"),
        }
    }

    /// The jobs of an insert once its columns are known: the statements
    /// that go before it, then the insert (inside the plan's transaction).
    fn write(&self, insert: &Insert, columns: &str) -> Vec<Job> {
        let insert_sql = self.insert_from(insert, columns);
        insert.before.iter().map(Job::new).chain(std::iter::once(Job::new(insert_sql))).collect()
    }

    /// The statements that change the insert's table, whose columns are
    /// `table`, to the model's, as its `on_schema_change` says (dbt's
    /// `sync_column_schemas`).
    fn alter_columns(&self, insert: &Insert, _table: &[Column], changes: &ColumnChanges) -> Vec<String> {
        alter_statements(self, &insert.target, changes, insert.on_schema_change)
    }

    /// A test query's failures: `fail_calc` (`count(*)`, the rows it
    /// returns, unless the test says otherwise) over its rows, at most `limit`.
    fn count_failures(&self, sql: &str, limit: Option<u64>, fail_calc: &str) -> String {
        let limited = match limit {
            Some(limit) => format!("select * from (\n{sql}\n) as dbt_limited limit {limit}"),
            None => sql.to_string(),
        };
        format!("select {fail_calc} as failures from (\n{limited}\n) as dbt_internal_test")
    }

    /// A unit test's given or expected value (YAML's, as JSON) as a value of
    /// column type `data_type`: a literal cast to the type.
    fn typed_value(&self, value: &serde_json::Value, data_type: &str) -> String {
        format!("cast({} as {data_type})", plain_literal(self, value))
    }

    /// `expression`, of `data_type`, as text: for comparing values of two
    /// types, or of a type the warehouse cannot compare.
    fn as_text(&self, expression: &str, _data_type: &str) -> String {
        format!("cast({expression} as varchar)")
    }

    /// Whether values of `data_type` can be compared with `=` and `is distinct from`.
    fn comparable(&self, _data_type: &str) -> bool {
        true
    }

    /// One string that tells every row of `columns` from any other: the row
    /// as a struct's text (BigQuery: its JSON), which quotes and escapes what
    /// a separator could not.
    fn row_text(&self, columns: &[&str]) -> String;

    /// One text that changes when any of `args` does (dbt's
    /// `snapshot_hash_arguments`): the md5 of their texts joined by `|`.
    fn hash_arguments(&self, args: &[String]) -> String {
        let texts = args.iter().map(|arg| format!("coalesce(cast({arg} as varchar), '')")).collect::<Vec<_>>();
        format!("md5({})", texts.join(" || '|' || "))
    }

    /// `time` as a literal of the warehouse's `timestamp` type (a snapshot's time).
    fn timestamp_literal(&self, time: chrono::DateTime<chrono::Utc>) -> String {
        format!("timestamp {}", self.string_literal(&time.format("%Y-%m-%d %H:%M:%S%.6f").to_string()))
    }

    fn limit_rows(&self, sql: &str, limit: u64) -> String {
        format!("select * from (\n{sql}\n) as strata_preview limit {limit}")
    }

    fn date_literal(&self, date: ExecutionDate) -> String {
        format!("date {}", self.string_literal(&date.ds()))
    }

    /// A bound of a partition range: `timestamp '2026-11-20'`, of the column's own type.
    fn partition_bound(&self, partition: &Partition, date: ExecutionDate) -> String {
        format!("{} {}", partition.data_type.as_str(), self.string_literal(&date.ds()))
    }

    /// The rows of the partitions `first..=last`: a half-open range on the
    /// partition column itself, with constant bounds of its type, so BigQuery
    /// prunes the other partitions and `require_partition_filter` is
    /// satisfied (a `cast(ts as date)` would be neither). See:
    /// https://cloud.google.com/bigquery/docs/querying-partitioned-tables
    fn partition_range(&self, partition: &Partition, first: ExecutionDate, last: ExecutionDate) -> String {
        let column = self.quote(&partition.field);
        format!("{column} >= {} and {column} < {}", self.partition_bound(partition, first), self.partition_bound(partition, last.add_days(1)))
    }

    /// A filter on the partition column that keeps every row strata writes (a
    /// partition value is never NULL): what a query of the whole table sends
    /// when the table has `require_partition_filter`.
    fn whole_table_filter(&self, partition: &Partition) -> String {
        format!("{} >= {}", self.quote(&partition.field), self.partition_bound(partition, ExecutionDate::EARLIEST))
    }

    /// Counts the rows of `staged` outside the partitions `first..=last`, NULL included.
    fn count_outside_partitions(&self, staged: &Relation, partition: &Partition, first: ExecutionDate, last: ExecutionDate) -> String {
        let column = self.quote(&partition.field);
        format!(
            "select count(*) from {staged} where {column} is null or {column} < {} or {column} >= {}",
            self.partition_bound(partition, first),
            self.partition_bound(partition, last.add_days(1))
        )
    }

    fn delete_partitions(&self, target: &Relation, partition: &Partition, first: ExecutionDate, last: ExecutionDate) -> String {
        format!("delete from {target} where {}", self.partition_range(partition, first, last))
    }

    // Partition status (`strata status`): see `partitions.rs`.

    /// The query that reads the day partitions of the tables `names` in
    /// `dataset`'s dataset from the warehouse's metadata, without scanning
    /// them; `None` where the warehouse keeps no partition metadata (DuckDB).
    /// Columns: table name; partition id (`20261120`); rows; last written, in
    /// microseconds since 1970.
    fn partition_metadata(&self, _dataset: &Relation, _names: &[&str], _range: (ExecutionDate, ExecutionDate)) -> Option<String> {
        None
    }

    /// One query that counts the rows of each of `tables` per day of its
    /// partition column in `first..=last`, with its latest `loaded_at` value.
    /// Columns: the table's position in `tables`; the day as `YYYY-MM-DD`;
    /// rows; the latest load time in microseconds since 1970 (NULL without `loaded_at`).
    fn partition_counts(&self, tables: &[&PartitionedTable], (first, last): (ExecutionDate, ExecutionDate)) -> String {
        let selects: Vec<String> = tables
            .iter()
            .enumerate()
            .map(|(position, table)| {
                let day = format!("cast({} as date)", self.quote(&table.field));
                let loaded = match &table.loaded_at {
                    Some(column) => self.epoch_micros(&format!("max({})", self.quote(column))),
                    None => "null".to_string(),
                };
                format!(
                    "select {position} as strata_table, {} as partition_date, count(*) as row_count, {loaded} as loaded_at\nfrom {}\nwhere {day} between {} and {}\ngroup by 1, 2",
                    self.as_text(&day, "date"),
                    table.relation,
                    self.date_literal(first),
                    self.date_literal(last)
                )
            })
            .collect();
        selects.join("\nunion all\n")
    }

    /// `expression`, a date or time, as microseconds since 1970 (UTC).
    fn epoch_micros(&self, expression: &str) -> String {
        format!("epoch_us({expression})")
    }

    /// Where strata records each partition it writes (when, its rows, the
    /// checksum of the model's SQL): a table in the target schema.
    fn partition_log(&self, database: Option<String>, schema: &str) -> Relation {
        Relation::new(database, schema, PARTITION_LOG, self.quote_style())
    }

    /// `plan`, then the records of the partitions it wrote in `options.partition_log`, if any.
    fn logging_partitions(
        &self,
        plan: Plan,
        relation: &Relation,
        partition: &Partition,
        range: (ExecutionDate, ExecutionDate),
        whole: bool,
        options: &TableOptions,
    ) -> Plan {
        // A log only appended to is written once per phase (`log_written`).
        if !self.log_replaces() {
            return plan;
        }
        let log =
            options.partition_log.iter().flat_map(|log| self.log_partitions(log, relation, partition, range, whole, options.checksum.as_deref()));
        log.fold(plan, Plan::run)
    }

    fn create_partition_log(&self, log: &Relation) -> String {
        format!(
            "create table if not exists {log} (schema_name varchar, table_name varchar, partition_date date, written_at timestamp with time zone, row_count bigint, checksum varchar)"
        )
    }

    /// A query of one column, `day`: every date of `first..=last`.
    fn date_series(&self, first: ExecutionDate, last: ExecutionDate) -> String {
        format!(
            "select cast(day as date) as day from generate_series({}, {}, interval 1 day) as days(day)",
            self.date_literal(first),
            self.date_literal(last)
        )
    }

    /// Whether the log's records of a table's dates are replaced (in the
    /// transaction that writes them), or only appended to, the latest record
    /// of a date being the one that counts (BigQuery: no mutating DML, which
    /// would contend with the other models' records).
    fn log_replaces(&self) -> bool {
        true
    }

    /// The statements that record `first..=last` of `relation` as written now,
    /// with the rows each holds (so a date written empty is told from one
    /// whose rows were deleted since) and the checksum of its SQL; `whole`
    /// when the table was built anew, so no other date of it counts any more.
    fn log_partitions(
        &self,
        log: &Relation,
        relation: &Relation,
        partition: &Partition,
        (first, last): (ExecutionDate, ExecutionDate),
        whole: bool,
        checksum: Option<&str>,
    ) -> Vec<String> {
        let schema = self.string_literal(relation.schema.as_deref().unwrap_or_default());
        let name = self.string_literal(&relation.identifier);
        let mut statements = Vec::new();
        if self.log_replaces() {
            let dates = match whole {
                true => String::new(),
                false => format!(" and partition_date between {} and {}", self.date_literal(first), self.date_literal(last)),
            };
            statements.push(format!("delete from {log} where schema_name = {schema} and table_name = {name}{dates}"));
        }
        let written = WrittenPartitions {
            relation: relation.clone(),
            partition: partition.clone(),
            first,
            last,
            rows: None,
            checksum: checksum.map(str::to_string),
        };
        statements.push(format!("{}\n{}", log_insert(log), self.partition_log_rows(&written)));
        statements
    }

    /// The partition log's records of `written`: one row per date, with the
    /// rows it holds (the job's count where it gave one for its one date,
    /// else read through a filter on the partition column that prunes the others).
    fn partition_log_rows(&self, written: &WrittenPartitions) -> String {
        let checksum = written.checksum.as_deref().map_or("null".to_string(), |checksum| self.string_literal(checksum));
        let schema = self.string_literal(written.relation.schema.as_deref().unwrap_or_default());
        let name = self.string_literal(&written.relation.identifier);
        if let (Some(rows), true) = (written.rows, written.first == written.last) {
            return format!("select {schema}, {name}, {}, current_timestamp, {rows}, {checksum}", self.date_literal(written.first));
        }
        let relation = &written.relation;
        let rows = format!(
            "select cast({} as date) as day from {relation} where {}",
            self.quote(&written.partition.field),
            self.partition_range(&written.partition, written.first, written.last)
        );
        format!(
            "select {schema}, {name}, days.day, current_timestamp, count(written.day), {checksum}\n\
             from ({}) as days\nleft join ({rows}) as written on written.day = days.day\ngroup by days.day",
            self.date_series(written.first, written.last)
        )
    }

    /// One statement that records every partition of `written` in `log`:
    /// where the log is only appended to, once per phase, so a backfill
    /// sends one insert per date, not one per model and date (BigQuery
    /// queues DML beyond 1,500 statements per table and day).
    fn log_written(&self, log: &Relation, written: &[WrittenPartitions]) -> String {
        let rows = written.iter().map(|w| self.partition_log_rows(w)).collect::<Vec<_>>();
        format!("{}\n{}", log_insert(log), rows.join("\nunion all\n"))
    }

    fn read_partition_log(&self, log: &Relation, (first, last): (ExecutionDate, ExecutionDate)) -> String {
        format!(
            "select schema_name, table_name, {}, {}, row_count, checksum from {log} where partition_date between {} and {}",
            self.as_text("partition_date", "date"),
            self.epoch_micros("written_at"),
            self.date_literal(first),
            self.date_literal(last)
        )
    }

    /// Loads a CSV file into `relation` with the given column types, when the
    /// warehouse can read local files from SQL.
    fn load_csv(&self, relation: &Relation, path: &str, columns: &[SeedColumn], delimiter: char) -> Option<String>;

    fn begin(&self) -> &'static str {
        "begin transaction"
    }

    fn commit(&self) -> &'static str {
        "commit"
    }

    fn rollback(&self) -> &'static str {
        "rollback"
    }

    // Plans: the complete job sequence of each materialization. The defaults
    // build under a staging name and swap it in inside one transaction, which
    // suits a warehouse with transactional DDL.

    /// Drops a staging table an interrupted run left behind.
    fn clear_leftover(&self, plan: Plan, relation: &Relation, present: Present) -> Plan {
        if present.leftover_staging { plan.run(self.drop_table(&staging_relation(relation, "new"))) } else { plan }
    }

    fn view_plan(&self, relation: &Relation, present: Present, sql: &str) -> Plan {
        let plan = Plan::new(false);
        let plan = if present.relation == Some(RelationKind::Table) { plan.run(self.drop_table(relation)) } else { plan };
        plan.run(self.create_view(relation, sql))
    }

    /// Builds the staging table with `create_staged`, then swaps it in for `relation`.
    fn swap_plan(&self, relation: &Relation, present: Present, create_staged: String) -> Plan {
        let staged = staging_relation(relation, "new");
        let plan = self.clear_leftover(Plan::new(true), relation, present).run_counting_rows(create_staged);
        self.swap_in(plan, &staged, relation, present)
    }

    /// Drops `relation` as it exists, and renames `staged` to it.
    fn swap_in(&self, plan: Plan, staged: &Relation, relation: &Relation, present: Present) -> Plan {
        let plan = match present.relation {
            Some(RelationKind::Table) => plan.run(self.drop_table(relation)),
            Some(RelationKind::View) => plan.run(self.drop_view(relation)),
            None => plan,
        };
        plan.run(self.rename_table(staged, relation))
    }

    fn table_plan(&self, relation: &Relation, present: Present, _options: &TableOptions, sql: &str) -> Plan {
        self.swap_plan(relation, present, self.create_table_as(&staging_relation(relation, "new"), sql))
    }

    /// Replaces the partitions `first..=last` of `relation` with the model's
    /// rows, refusing rows outside them; on a first build (`incremental`
    /// false) the rows become the whole table.
    #[allow(clippy::too_many_arguments)]
    fn partition_plan(
        &self,
        relation: &Relation,
        present: Present,
        options: &TableOptions,
        partition: &Partition,
        (first, last): (ExecutionDate, ExecutionDate),
        incremental: bool,
        sql: &str,
    ) -> Plan {
        let staged = staging_relation(relation, "new");
        let plan = self
            .clear_leftover(Plan::new(true), relation, present)
            .run_counting_rows(self.create_table_as(&staged, sql))
            .guard(self.count_outside_partitions(&staged, partition, first, last), Refusal::outside(partition, first, last));
        let plan = if incremental {
            let before = vec![self.delete_partitions(relation, partition, first, last)];
            plan.insert(Insert::new(relation, &staged, options.on_schema_change, before)).run(self.drop_table(&staged))
        } else {
            self.swap_in(plan, &staged, relation, present)
        };
        self.logging_partitions(plan, relation, partition, (first, last), !incremental, options)
    }

    /// Stages `sql`'s rows, writes them into `relation` as the [`Insert`]
    /// that `insert` makes of the staging table says, and drops the staging table.
    fn insert_plan(&self, relation: &Relation, present: Present, _options: &TableOptions, sql: &str, insert: &dyn Fn(&Relation) -> Insert) -> Plan {
        let staged = staging_relation(relation, "new");
        let plan = self.clear_leftover(Plan::new(true), relation, present).run_counting_rows(self.create_table_as(&staged, sql));
        plan.insert(insert(&staged)).run(self.drop_table(&staged))
    }

    /// Appends the model's rows to `relation`, first deleting the rows they
    /// replace when there is a `unique_key` (delete+insert).
    fn merge_plan(&self, relation: &Relation, present: Present, options: &TableOptions, unique_key: &[String], sql: &str) -> Plan {
        self.insert_plan(relation, present, options, sql, &|staged| self.merge_insert(relation, staged, options, unique_key))
    }

    /// The insert of a merge: after the delete of the rows whose `unique_key` comes again.
    fn merge_insert(&self, relation: &Relation, staged: &Relation, options: &TableOptions, unique_key: &[String]) -> Insert {
        let before = if unique_key.is_empty() { Vec::new() } else { vec![self.delete_matching(relation, staged, unique_key)] };
        Insert::new(relation, staged, options.on_schema_change, before).laid_out(options)
    }

    /// Loads a seed file into `relation`; `None` with the reason when the file cannot be read.
    fn seed_plan(&self, relation: &Relation, present: Present, seed: &SeedLoad) -> Result<Plan, SeedError> {
        let staged = staging_relation(relation, "new");
        let load = self.load_csv(&staged, &seed.path.to_string_lossy(), &seed.columns, seed.delimiter).ok_or(SeedError::Unsupported)?;
        Ok(self.swap_plan(relation, present, load))
    }
}

/// The head of an insert into the partition log `log`.
fn log_insert(log: &Relation) -> String {
    format!("insert into {log} (schema_name, table_name, partition_date, written_at, row_count, checksum)")
}

/// A YAML value as a literal: text, a number, a boolean or null; a list or a
/// mapping as its JSON text.
pub fn plain_literal(sql: &(impl SqlGenerator + ?Sized), value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "null".to_string(),
        serde_json::Value::String(text) => sql.string_literal(text),
        serde_json::Value::Bool(flag) => flag.to_string(),
        serde_json::Value::Number(number) => number.to_string(),
        other => sql.string_literal(&other.to_string()),
    }
}

/// `alter table` statements that change `target`'s columns as `on_schema_change`
/// says: one per column, as the BigQuery emulator takes one change per
/// `alter table`. Each is a change of its own: a warehouse that cannot make
/// one of them must rebuild the table instead (see BigQuery's `alter_columns`).
pub fn alter_statements(
    sql: &(impl SqlGenerator + ?Sized),
    target: &Relation,
    changes: &ColumnChanges,
    on_schema_change: OnSchemaChange,
) -> Vec<String> {
    let (add, sync) = match on_schema_change {
        OnSchemaChange::Ignore | OnSchemaChange::Fail => return Vec::new(),
        OnSchemaChange::AppendNewColumns => (true, false),
        OnSchemaChange::SyncAllColumns => (true, true),
    };
    let added = changes.added.iter().filter(|_| add).map(|c| format!("alter table {target} add column {} {}", sql.quote(&c.name), c.data_type));
    let dropped = changes.removed.iter().filter(|_| sync).map(|c| format!("alter table {target} drop column {}", sql.quote(&c.name)));
    let retyped = changes
        .retyped
        .iter()
        .filter(|_| sync)
        .map(|c| format!("alter table {target} alter column {} set data type {}", sql.quote(&c.name), c.data_type));
    added.chain(dropped).chain(retyped).collect()
}

/// Why a seed's plan could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("this warehouse cannot load seeds from SQL")]
    Unsupported,
    #[error("the delimiter `{0}` is not one byte")]
    Delimiter(char),
    #[error("could not read `{}`: {source}", path.display())]
    Read { path: std::path::PathBuf, source: csv::Error },
    /// A column of a type the warehouse's loader cannot take.
    #[error("column `{column}` ({data_type}) cannot be loaded: {message}")]
    Column { column: String, data_type: String, message: String },
}

/// A seed file to load: where it is, its columns with their types, its delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedLoad {
    pub path: std::path::PathBuf,
    pub columns: Vec<SeedColumn>,
    pub delimiter: char,
    /// The invocation loading it (see `staging_for`).
    pub invocation: Option<String>,
}

/// BigQuery's staging table for `relation` in one invocation: its own name,
/// so two runs of a model at once (a colleague's backfill, a CI job on the
/// same dataset) never write each other's staged rows. It expires after 12
/// hours, so a run that dies leaves nothing for long; none is dropped but
/// the invocation's own.
pub fn staging_for(relation: &Relation, invocation: Option<&str>) -> Relation {
    match invocation {
        Some(invocation) => staging_relation(relation, invocation),
        None => staging_relation(relation, "new"),
    }
}

/// The relation a table is built under before it replaces the old one.
pub fn staging_relation(relation: &Relation, suffix: &str) -> Relation {
    Relation { identifier: format!("{}__strata_{suffix}", relation.identifier), ..relation.clone() }
}

/// What the warehouses' SQL tests share: every plan of a generator, for a
/// reviewer to read as one snapshot per warehouse.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::core::partition::{Granularity, PartitionType};

    /// Every plan of a generator, as the warehouse receives it, for a reviewer.
    pub(crate) fn all_plans(sql: &dyn SqlGenerator, quote: QuoteStyle, database: Option<&str>, seed: &std::path::Path) -> String {
        let rel = |name: &str| Relation::new(database.map(str::to_string), "marketing", name, quote);
        let day = ExecutionDate::parse("2026-11-20", "--date").unwrap();
        let partition = Partition {
            field: "event_date".into(),
            data_type: PartitionType::Date,
            lookback: 1,
            granularity: Granularity::Day,
            copy_partitions: false,
        };
        let options = TableOptions {
            partition: Some(partition.clone()),
            cluster_by: vec!["utm_source".into()],
            labels: vec![("team".into(), "marketing".into())],
            ..TableOptions::default()
        };
        let monthly = TableOptions {
            partition: Some(Partition { granularity: Granularity::Month, ..partition.clone() }),
            require_partition_filter: true,
            partition_expiration_days: Some(400),
            ..TableOptions::default()
        };
        let synced = TableOptions { on_schema_change: OnSchemaChange::SyncAllColumns, ..TableOptions::default() };
        let fresh = Present::default();
        let table = Present { relation: Some(RelationKind::Table), ..Present::default() };
        let leftover = Present { relation: Some(RelationKind::Table), leftover_staging: true, ..Present::default() };
        let view = Present { relation: Some(RelationKind::View), ..Present::default() };
        let repartitioned = Present { relation: Some(RelationKind::Table), partitioning_differs: true, ..Present::default() };
        let select = "select * from source_events";
        let load = SeedLoad {
            path: seed.to_path_buf(),
            columns: vec![
                SeedColumn { name: "id".into(), data_type: "BIGINT".into() },
                SeedColumn { name: "name".into(), data_type: "VARCHAR".into() },
                SeedColumn { name: "day".into(), data_type: "DATE".into() },
            ],
            delimiter: ',',
            invocation: None,
        };
        [
            ("view, over an old table", sql.view_plan(&rel("v"), table, select)),
            ("table, first build", sql.table_plan(&rel("t"), fresh, &TableOptions::default(), select)),
            ("table with partition, clustering and labels, replacing one", sql.table_plan(&rel("t"), table, &options, select)),
            ("table partitioned by month, replacing one partitioned otherwise", sql.table_plan(&rel("t"), repartitioned, &monthly, select)),
            ("table, replacing a view", sql.table_plan(&rel("t"), view, &TableOptions::default(), select)),
            ("table, after an interrupted build left its staging table", sql.table_plan(&rel("t"), leftover, &TableOptions::default(), select)),
            ("partitioned incremental, first build", sql.partition_plan(&rel("p"), fresh, &options, &partition, partition.range(day), false, select)),
            (
                "partitioned incremental, the partitions of 2026-11-19..20",
                sql.partition_plan(&rel("p"), leftover, &options, &partition, partition.range(day), true, select),
            ),
            (
                "partitioned incremental with copy_partitions, the partitions of 2026-11-19..20",
                sql.partition_plan(
                    &rel("p"),
                    table,
                    &options,
                    &Partition { copy_partitions: true, ..partition.clone() },
                    partition.range(day),
                    true,
                    select,
                ),
            ),
            ("incremental by unique_key", sql.merge_plan(&rel("m"), table, &TableOptions::default(), &["id".into(), "day".into()], select)),
            (
                "incremental by unique_key into a table partitioned by month that requires a partition filter",
                sql.merge_plan(&rel("m"), table, &monthly, &["id".into()], select),
            ),
            ("incremental append, syncing its columns", sql.merge_plan(&rel("m"), table, &synced, &[], select)),
            ("seed", sql.seed_plan(&rel("s"), table, &load).unwrap()),
        ]
        .iter()
        .map(|(name, plan)| format!("-- {name}{}\n{}", if plan.transaction { " (one transaction)" } else { "" }, plan.render(sql)))
        .collect::<Vec<_>>()
        .join(";\n\n")
    }

    pub(crate) fn seed_file() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("utm_sources.csv");
        std::fs::write(&path, "id,name,day\n1,O'Brien,2026-11-20\n2,,\n3,\"a, b\",2026-11-21\n").unwrap();
        (dir, path)
    }
}
