//! The SQL each materialization sends, per warehouse dialect. Pure functions of
//! relations and compiled SQL; executing them is `materialize.rs`'s job.

use crate::core::columns::{Column, ColumnChanges, OnSchemaChange};
use crate::core::config_rules::ConfigRules;
use crate::core::dates::ExecutionDate;
use crate::core::job::Job;
use crate::core::partition::{Granularity, Partition, PartitionType};
use crate::core::relation::{QuoteStyle, Relation};
use crate::warehouse::RelationKind;
use crate::warehouse::partitions::{PARTITION_LOG, PartitionedTable};
use crate::warehouse::plan::{FileLoad, Insert, Plan, Present, Refusal, TableOptions};

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

    /// The statements that change `target`'s columns to the model's, as
    /// `on_schema_change` says (dbt's `sync_column_schemas`): one per column,
    /// as the BigQuery emulator takes one change per `alter table`.
    fn alter_columns(&self, target: &Relation, changes: &ColumnChanges, on_schema_change: OnSchemaChange) -> Vec<String> {
        let (add, sync) = match on_schema_change {
            OnSchemaChange::Ignore | OnSchemaChange::Fail => return Vec::new(),
            OnSchemaChange::AppendNewColumns => (true, false),
            OnSchemaChange::SyncAllColumns => (true, true),
        };
        let added = changes.added.iter().filter(|_| add).map(|c| format!("alter table {target} add column {} {}", self.quote(&c.name), c.data_type));
        let dropped = changes.removed.iter().filter(|_| sync).map(|c| format!("alter table {target} drop column {}", self.quote(&c.name)));
        let retyped = changes
            .retyped
            .iter()
            .filter(|_| sync)
            .map(|c| format!("alter table {target} alter column {} set data type {}", self.quote(&c.name), c.data_type));
        added.chain(dropped).chain(retyped).collect()
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
        let checksum = checksum.map_or("null".to_string(), |checksum| self.string_literal(checksum));
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
        // The rows of each date, read through a filter on the partition column that prunes the others.
        let written = format!(
            "select cast({} as date) as day from {relation} where {}",
            self.quote(&partition.field),
            self.partition_range(partition, first, last)
        );
        statements.push(format!(
            "insert into {log} (schema_name, table_name, partition_date, written_at, row_count, checksum)\n\
             select {schema}, {name}, days.day, current_timestamp, count(written.day), {checksum}\n\
             from ({}) as days\nleft join ({written}) as written on written.day = days.day\ngroup by days.day",
            self.date_series(first, last)
        ));
        statements
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
        Insert::new(relation, staged, options.on_schema_change, before)
    }

    /// Loads a seed file into `relation`; `None` with the reason when the file cannot be read.
    fn seed_plan(&self, relation: &Relation, present: Present, seed: &SeedLoad) -> Result<Plan, SeedError> {
        let staged = staging_relation(relation, "new");
        let load = self.load_csv(&staged, &seed.path.to_string_lossy(), &seed.columns, seed.delimiter).ok_or(SeedError::Unsupported)?;
        Ok(self.swap_plan(relation, present, load))
    }
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

pub struct BigQuerySql;

/// dbt-bigquery's strategies; BigQuery clusters by at most four columns.
/// See: https://cloud.google.com/bigquery/docs/clustered-tables#limitations
static BIGQUERY_RULES: ConfigRules = ConfigRules {
    warehouse: "BigQuery",
    strategies: &["merge", "insert_overwrite", "microbatch"],
    strategies_help: "BigQuery's strategies are `merge` (with `unique_key`), `insert_overwrite` (with `partition_by`) and `microbatch` (with `event_time`); without either, leave `incremental_strategy` out",
    max_cluster_by: Some(4),
    check_label: crate::core::config_rules::bigquery_label,
};

static DUCKDB_RULES: ConfigRules = ConfigRules {
    warehouse: "DuckDB",
    strategies: &["append", "delete+insert", "merge", "insert_overwrite", "microbatch"],
    strategies_help: "",
    max_cluster_by: None,
    check_label: crate::core::config_rules::any_label,
};

impl SqlGenerator for BigQuerySql {
    // BigQuery casts neither arrays nor structs to STRING, and compares
    // neither; their JSON is both. See:
    // https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#comparable_data_types
    fn as_text(&self, expression: &str, data_type: &str) -> String {
        match self.comparable(data_type) {
            true => format!("cast({expression} as string)"),
            false => format!("to_json_string({expression})"),
        }
    }

    fn comparable(&self, data_type: &str) -> bool {
        let data_type = data_type.trim_start().to_ascii_uppercase();
        !["ARRAY", "STRUCT", "RECORD", "JSON", "GEOGRAPHY"].iter().any(|prefix| data_type.starts_with(prefix))
    }

    fn row_text(&self, columns: &[&str]) -> String {
        let fields = columns.iter().map(|column| format!("{0} as {0}", self.quote(column))).collect::<Vec<_>>().join(", ");
        format!("to_json_string(struct({fields}))")
    }

    fn config_rules(&self) -> &'static ConfigRules {
        &BIGQUERY_RULES
    }

    fn quote_style(&self) -> QuoteStyle {
        QuoteStyle::Backtick
    }

    fn parser(&self) -> &dyn sqlparser::dialect::Dialect {
        &sqlparser::dialect::BigQueryDialect {}
    }

    fn string_literal(&self, text: &str) -> String {
        string_literal(text)
    }

    /// One job, or with statements before the insert one script transaction,
    /// so the rows they replace and the new rows change together. (A `merge
    /// ... insert row` would do it in one statement, but the BigQuery emulator
    /// the tests use cannot parse `insert row`.)
    fn write(&self, insert: &Insert, columns: &str) -> Vec<Job> {
        let insert_sql = self.insert_from(insert, columns);
        if insert.before.is_empty() {
            return vec![Job::new(insert_sql)];
        }
        vec![Job::script(format!("begin transaction;\n{};\n{insert_sql};\ncommit transaction", insert.before.join(";\n")))]
    }

    fn load_csv(&self, _relation: &Relation, _path: &str, _columns: &[SeedColumn], _delimiter: char) -> Option<String> {
        None
    }

    /// `INFORMATION_SCHEMA.PARTITIONS` of the dataset: metadata, no table
    /// scanned. A day partition's id is `YYYYMMDD`; `__NULL__` and
    /// `__UNPARTITIONED__` sort after every such id. See:
    /// https://cloud.google.com/bigquery/docs/information-schema-partitions
    fn partition_metadata(&self, dataset: &Relation, names: &[&str], (first, last): (ExecutionDate, ExecutionDate)) -> Option<String> {
        let mut prefix = String::new();
        if let Some(project) = &dataset.database {
            prefix = format!("{}.", self.quote(project));
        }
        prefix.push_str(&self.quote(dataset.schema.as_deref().unwrap_or_default()));
        let names = names.iter().map(|name| self.string_literal(name)).collect::<Vec<_>>().join(", ");
        Some(format!(
            "select table_name, partition_id, total_rows, unix_micros(last_modified_time) as written_at\nfrom {prefix}.INFORMATION_SCHEMA.PARTITIONS\nwhere table_name in ({}) and partition_id between '{}' and '{}'",
            if names.is_empty() { "''".to_string() } else { names },
            first.ds_nodash(),
            last.ds_nodash()
        ))
    }

    fn epoch_micros(&self, expression: &str) -> String {
        format!("unix_micros(timestamp({expression}))")
    }

    fn create_partition_log(&self, log: &Relation) -> String {
        format!(
            "create table if not exists {log} (schema_name STRING, table_name STRING, partition_date DATE, written_at TIMESTAMP, row_count INT64, checksum STRING)"
        )
    }

    fn date_series(&self, first: ExecutionDate, last: ExecutionDate) -> String {
        format!("select day from unnest(generate_date_array({}, {})) as day", self.date_literal(first), self.date_literal(last))
    }

    fn log_replaces(&self) -> bool {
        false
    }

    /// Expires by itself if the run dies before dropping it.
    fn create_scratch(&self, relation: &Relation, sql: &str) -> String {
        self.create_staging(relation, sql)
    }

    /// dbt-bigquery's `snapshot_hash_arguments`: `to_hex(md5(concat(...)))`.
    fn hash_arguments(&self, args: &[String]) -> String {
        let texts = args.iter().map(|arg| format!("coalesce(cast({arg} as string), '')")).collect::<Vec<_>>();
        format!("to_hex(md5(concat({})))", texts.join(", '|', "))
    }

    fn commit(&self) -> &'static str {
        "commit transaction"
    }

    fn rollback(&self) -> &'static str {
        "rollback transaction"
    }

    /// BigQuery has no tuple `in`: the rows of `target` with a match in `staged`.
    fn delete_matching(&self, target: &Relation, staged: &Relation, unique_key: &[String]) -> String {
        let matches =
            unique_key.iter().map(|k| format!("dbt_internal_source.{0} = dbt_internal_dest.{0}", self.quote(k))).collect::<Vec<_>>().join(" and ");
        format!("delete from {target} as dbt_internal_dest where exists (select 1 from {staged} as dbt_internal_source where {matches})")
    }

    // BigQuery replaces a table in one statement (`create or replace`) and a
    // partition in one `merge`; it has no rename inside a transaction, so its
    // plans need none.

    fn table_plan(&self, relation: &Relation, present: Present, options: &TableOptions, sql: &str) -> Plan {
        if present.relation == Some(RelationKind::Table) && present.partitioning_differs {
            // BigQuery refuses to replace a table with one partitioned otherwise:
            // the rows are built first, so the table is missing only between
            // its drop and a copy that cannot fail on the model's SQL.
            let staged = staging_for(relation, options.invocation.as_deref());
            return Plan::new(false)
                .run_counting_rows(self.create_staging(&staged, sql))
                .run(self.drop_table(relation))
                .run(format!("create or replace table {relation}{}\nas (\nselect * from {staged}\n)", self.table_clauses(options)))
                .run(self.drop_table(&staged));
        }
        let plan = if present.relation == Some(RelationKind::View) { Plan::new(false).run(self.drop_view(relation)) } else { Plan::new(false) };
        plan.run_counting_rows(format!("create or replace table {relation}{}\nas (\n{sql}\n)", self.table_clauses(options)))
    }

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
        let staged = staging_for(relation, options.invocation.as_deref());
        let plan = Plan::new(false)
            .run_counting_rows(self.create_staging(&staged, sql))
            .guard(self.count_outside_partitions(&staged, partition, first, last), Refusal::outside(partition, first, last));
        let plan = if incremental {
            // One script transaction drops the partitions' old rows and inserts the new ones (`write`).
            let before = vec![self.delete_partitions(relation, partition, first, last)];
            plan.insert(Insert::new(relation, &staged, options.on_schema_change, before))
        } else {
            let plan = match present.relation {
                Some(RelationKind::View) => plan.run(self.drop_view(relation)),
                Some(RelationKind::Table) if present.partitioning_differs => plan.run(self.drop_table(relation)),
                _ => plan,
            };
            plan.run(format!("create or replace table {relation}{}\nas (\nselect * from {staged}\n)", self.table_clauses(options)))
        };
        self.logging_partitions(plan.run(self.drop_table(&staged)), relation, partition, (first, last), !incremental, options)
    }

    fn insert_plan(&self, relation: &Relation, _present: Present, options: &TableOptions, sql: &str, insert: &dyn Fn(&Relation) -> Insert) -> Plan {
        let staged = staging_for(relation, options.invocation.as_deref());
        let plan = Plan::new(false).run_counting_rows(self.create_staging(&staged, sql));
        plan.insert(insert(&staged)).run(self.drop_table(&staged))
    }

    /// BigQuery cannot read a local file from SQL: a load job takes the file
    /// (uploaded, as dbt-bigquery's `load_table_from_file`) into a staging
    /// table, which then replaces the seed's table. Where the API takes no
    /// upload (an emulator without the upload endpoint), bounded multi-row
    /// `insert` statements fill the staging table instead.
    fn seed_plan(&self, relation: &Relation, _present: Present, seed: &SeedLoad) -> Result<Plan, SeedError> {
        let staged = staging_for(relation, seed.invocation.as_deref());
        let columns = seed.columns.iter().map(|c| format!("{} {}", self.quote(&c.name), bigquery_type(&c.data_type))).collect::<Vec<_>>().join(", ");
        let mut plan = Plan::new(false).run(format!("create or replace table {staged} ({columns})"));
        let file = FileLoad {
            path: seed.path.clone(),
            relation: staged.clone(),
            columns: seed.columns.iter().map(|c| SeedColumn { name: c.name.clone(), data_type: bigquery_type(&c.data_type) }).collect(),
            delimiter: seed.delimiter,
            job: crate::core::job::Job::default(),
        };
        let names = seed.columns.iter().map(|c| self.quote(&c.name)).collect::<Vec<_>>().join(", ");
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(u8::try_from(seed.delimiter).map_err(|_| SeedError::Delimiter(seed.delimiter))?)
            .from_path(&seed.path)
            .map_err(|source| SeedError::Read { path: seed.path.clone(), source })?;
        let mut batch: Vec<String> = Vec::new();
        let mut batch_bytes = 0;
        let insert = |batch: &[String]| format!("insert into {staged} ({names}) values\n{}", batch.join(",\n"));
        for record in reader.records() {
            let record = record.map_err(|source| SeedError::Read { path: seed.path.clone(), source })?;
            let values = seed
                .columns
                .iter()
                .zip(record.iter())
                .map(|(column, value)| bigquery_literal(&column.data_type, value))
                .collect::<Vec<_>>()
                .join(", ");
            batch_bytes += values.len() + 4;
            batch.push(format!("({values})"));
            if batch.len() >= SEED_BATCH_ROWS || batch_bytes >= SEED_BATCH_BYTES {
                plan = plan.run(insert(&batch));
                batch.clear();
                batch_bytes = 0;
            }
        }
        if !batch.is_empty() {
            plan = plan.run(insert(&batch));
        }
        Ok(Plan::new(false)
            .load(file, plan)
            .run_counting_rows(format!("create or replace table {relation} as (\nselect * from {staged}\n)"))
            .run(self.drop_table(&staged)))
    }
}

/// A seed's rows per `insert`, and the statement's size: far below BigQuery's
/// limits on a statement (1 MB of SQL) and on its parameters.
const SEED_BATCH_ROWS: usize = 500;
const SEED_BATCH_BYTES: usize = 256 * 1024;

impl BigQuerySql {
    /// A staging table that expires by itself if a run dies before dropping it.
    fn create_staging(&self, staged: &Relation, sql: &str) -> String {
        format!(
            "create or replace table {staged}\noptions(expiration_timestamp = timestamp_add(current_timestamp(), interval 12 hour))\nas (\n{sql}\n)"
        )
    }

    /// `partition by ... cluster by ... options(labels = ...)` of a table.
    fn table_clauses(&self, options: &TableOptions) -> String {
        let mut clauses = String::new();
        if let Some(partition) = &options.partition {
            let field = self.quote(&partition.field);
            let granularity = partition.granularity.as_str();
            // Each type truncates with its own function: `timestamp_trunc` on a
            // DATETIME is an error. See: https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#partition_expression
            let expression = match (partition.data_type, partition.granularity) {
                (PartitionType::Date, Granularity::Day) => field,
                (PartitionType::Date, _) => format!("date_trunc({field}, {granularity})"),
                (PartitionType::Timestamp, _) => format!("timestamp_trunc({field}, {granularity})"),
                (PartitionType::Datetime, _) => format!("datetime_trunc({field}, {granularity})"),
            };
            clauses.push_str(&format!("\npartition by {expression}"));
        }
        if !options.cluster_by.is_empty() {
            let columns = options.cluster_by.iter().map(|c| self.quote(c)).collect::<Vec<_>>().join(", ");
            clauses.push_str(&format!("\ncluster by {columns}"));
        }
        let mut table_options = Vec::new();
        if !options.labels.is_empty() {
            let labels = options
                .labels
                .iter()
                .map(|(k, v)| format!("({}, {})", self.string_literal(k), self.string_literal(v)))
                .collect::<Vec<_>>()
                .join(", ");
            table_options.push(format!("labels = [{labels}]"));
        }
        if options.partition.is_some() {
            if options.require_partition_filter {
                table_options.push("require_partition_filter = true".into());
            }
            if let Some(days) = options.partition_expiration_days {
                table_options.push(format!("partition_expiration_days = {days}"));
            }
        }
        if !table_options.is_empty() {
            clauses.push_str(&format!("\noptions({})", table_options.join(", ")));
        }
        clauses
    }
}

/// BigQuery's name for a seed column's type (inferred ones are DuckDB's names).
/// Upper case, as a load job's schema takes it (`column_types: {at: timestamp}`).
fn bigquery_type(data_type: &str) -> String {
    let upper = data_type.to_ascii_uppercase();
    match upper.as_str() {
        "BIGINT" | "INTEGER" | "INT" => "INT64".into(),
        "DOUBLE" | "FLOAT" | "REAL" => "FLOAT64".into(),
        "BOOLEAN" => "BOOL".into(),
        "VARCHAR" | "TEXT" => "STRING".into(),
        _ => upper,
    }
}

/// A seed cell as a BigQuery literal of its column's type; empty is NULL.
fn bigquery_literal(data_type: &str, value: &str) -> String {
    if value.is_empty() {
        return "null".into();
    }
    match bigquery_type(data_type).as_str() {
        "INT64" | "FLOAT64" | "NUMERIC" | "BIGNUMERIC" => value.to_string(),
        "BOOL" => value.to_ascii_lowercase(),
        "DATE" => format!("date {}", string_literal(value)),
        "TIMESTAMP" | "DATETIME" => format!("{} {}", bigquery_type(data_type).to_ascii_lowercase(), string_literal(value)),
        _ => string_literal(value),
    }
}

/// `'text'`, with quotes and backslashes escaped as BigQuery reads them.
fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'").replace('\n', "\\n"))
}

pub struct DuckDbSql;

impl SqlGenerator for DuckDbSql {
    fn row_text(&self, columns: &[&str]) -> String {
        let fields = columns.iter().map(|column| format!("{}: {}", self.string_literal(column), self.quote(column))).collect::<Vec<_>>().join(", ");
        // DuckDB quotes and escapes a struct's strings where they would be
        // ambiguous (`'NULL'` apart from NULL), so the text reads back as the row.
        format!("cast({{{fields}}} as varchar)")
    }

    fn config_rules(&self) -> &'static ConfigRules {
        &DUCKDB_RULES
    }

    fn quote_style(&self) -> QuoteStyle {
        QuoteStyle::Double
    }

    fn parser(&self) -> &dyn sqlparser::dialect::Dialect {
        &sqlparser::dialect::DuckDbDialect {}
    }

    fn load_csv(&self, relation: &Relation, path: &str, columns: &[SeedColumn], delimiter: char) -> Option<String> {
        let types =
            columns.iter().map(|c| format!("{}: {}", self.string_literal(&c.name), self.string_literal(&c.data_type))).collect::<Vec<_>>().join(", ");
        Some(format!(
            "create table {relation} as select * from read_csv({}, header = true, auto_detect = false, delim = {}, quote = '\"', escape = '\"', nullstr = '', columns = {{{types}}})",
            self.string_literal(path),
            self.string_literal(&delimiter.to_string())
        ))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(name: &str) -> Relation {
        Relation::new(None, "main_marketing", name, QuoteStyle::Double)
    }

    #[test]
    fn duckdb_statements() {
        let sql = DuckDbSql;
        let target = rel("orders");
        let staged = staging_relation(&target, "new");
        let changes = ColumnChanges::between(
            &[Column::new("id", "INTEGER"), Column::new("gone", "VARCHAR"), Column::new("amount", "INTEGER")],
            &[Column::new("id", "INTEGER"), Column::new("amount", "DOUBLE"), Column::new("new", "DATE")],
        );
        let partition = Partition { field: "event_at".into(), data_type: PartitionType::Timestamp, lookback: 2, granularity: Granularity::Day };
        let day = ExecutionDate::parse("2026-11-20", "--date").unwrap();
        insta::assert_snapshot!(
            [
                sql.create_schema(&target),
                sql.create_view(&target, "select 1 as id"),
                sql.create_table_as(&staged, "select 1 as id"),
                sql.rename_table(&staged, &target),
                sql.delete_matching(&target, &staged, &["id".into(), "day".into()]),
                sql.insert_from(
                    &Insert::new(&target, &staged, OnSchemaChange::Ignore, Vec::new()),
                    &sql.column_list(&[&Column::new("id", "INTEGER"), &Column::new("day", "INTEGER")])
                ),
                sql.alter_columns(&target, &changes, OnSchemaChange::SyncAllColumns).join(";\n"),
                sql.count_failures("select * from x where id is null", Some(100), "count(*)"),
                sql.load_csv(&target, "/p/seeds/o'rders.csv", &[SeedColumn { name: "id".into(), data_type: "BIGINT".into() }], ',')
                    .unwrap_or_default(),
                sql.count_outside_partitions(&staged, &partition, day.add_days(-2), day),
                sql.delete_partitions(&target, &partition, day.add_days(-2), day),
            ]
            .join(";\n\n")
        );
    }

    // The statements of the snapshot above, run on DuckDB in the order a
    // partitioned model, a merge, a test, a view and a seed send them.
    #[test]
    fn duckdb_statements_run_on_duckdb() {
        use crate::core::table::Cell;
        use crate::warehouse::{Warehouse, duckdb::DuckDb};
        let sql = DuckDbSql;
        let warehouse = DuckDb::open(":memory:", std::path::Path::new("."), &[], &[]).unwrap();
        let mut connection = warehouse.connect().unwrap();
        let mut run = |statement: String| connection.execute(&statement).unwrap_or_else(|err| panic!("{statement}\n{err}"));
        let target = rel("orders");
        let staged = staging_relation(&target, "new");
        let partition = Partition { field: "event_at".into(), data_type: PartitionType::Timestamp, lookback: 2, granularity: Granularity::Day };
        let day = ExecutionDate::parse("2026-11-20", "--date").unwrap();
        let rows = "select * from (values (1, 2, timestamp '2026-11-19 10:00'), (3, 4, timestamp '2026-11-20 09:00')) as t(id, day, event_at)";

        run(sql.create_schema(&target));
        assert_eq!(run(sql.create_table_as(&staged, rows)), 2);
        run(sql.rename_table(&staged, &target));
        assert_eq!(run(sql.create_table_as(&staged, "select 3 as id, 4 as day, timestamp '2026-11-20 11:00' as event_at")), 1);
        assert_eq!(run(sql.delete_matching(&target, &staged, &["id".into(), "day".into()])), 1);
        // Columns listed in another order than the table's land in their own columns.
        assert_eq!(
            run(sql.insert_from(
                &Insert::new(&target, &staged, OnSchemaChange::Ignore, Vec::new()),
                &sql.column_list(&[&Column::new("day", "INTEGER"), &Column::new("event_at", "TIMESTAMP"), &Column::new("id", "INTEGER")])
            )),
            1
        );
        assert_eq!(run(sql.delete_partitions(&target, &partition, day.add_days(-2), day)), 2);
        run(sql.drop_table(&staged));
        run(sql.create_view(&rel("orders_view"), &format!("select * from {target}")));
        run(sql.drop_view(&rel("orders_view")));

        run(sql.create_table_as(
            &rel("guard"),
            "select * from (values (timestamp '2026-11-18 00:00'), (timestamp '2026-11-20 23:59'), (timestamp '2026-11-21 00:00'), (null)) as t(event_at)",
        ));

        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("o'rders.csv");
        std::fs::write(&csv, "id\n1\n\n3\n").unwrap();
        let seed = rel("seed");
        let load = sql.load_csv(&seed, &csv.to_string_lossy(), &[SeedColumn { name: "id".into(), data_type: "BIGINT".into() }], ',').unwrap();
        // An empty field is NULL.
        assert_eq!(run(load), 3);

        let mut count = |statement: String| {
            let table = connection.query_sql(&statement).unwrap_or_else(|err| panic!("{statement}\n{err}"));
            table.rows.first().and_then(|row| row.first()).cloned()
        };
        assert_eq!(count(sql.count_failures(&format!("select * from {seed} where id is null"), Some(100), "count(*)")), Some(Cell::Int(1)));
        assert_eq!(count(sql.count_failures(&format!("select * from {seed}"), Some(2), "count(*)")), Some(Cell::Int(2)));
        // Rows on D-2..D pass the partition guard; one on D+1 and one NULL do not.
        assert_eq!(count(sql.count_outside_partitions(&rel("guard"), &partition, day.add_days(-2), day)), Some(Cell::Int(2)));
    }

    /// Every plan of a generator, as the warehouse receives it, for a reviewer.
    fn all_plans(sql: &dyn SqlGenerator, quote: QuoteStyle, database: Option<&str>, seed: &std::path::Path) -> String {
        let rel = |name: &str| Relation::new(database.map(str::to_string), "marketing", name, quote);
        let day = ExecutionDate::parse("2026-11-20", "--date").unwrap();
        let partition = Partition { field: "event_date".into(), data_type: PartitionType::Date, lookback: 1, granularity: Granularity::Day };
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
            ("incremental by unique_key", sql.merge_plan(&rel("m"), table, &TableOptions::default(), &["id".into(), "day".into()], select)),
            ("incremental append, syncing its columns", sql.merge_plan(&rel("m"), table, &synced, &[], select)),
            ("seed", sql.seed_plan(&rel("s"), table, &load).unwrap()),
        ]
        .iter()
        .map(|(name, plan)| format!("-- {name}{}\n{}", if plan.transaction { " (one transaction)" } else { "" }, plan.render(sql)))
        .collect::<Vec<_>>()
        .join(";\n\n")
    }

    fn seed_file() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("utm_sources.csv");
        std::fs::write(&path, "id,name,day\n1,O'Brien,2026-11-20\n2,,\n3,\"a, b\",2026-11-21\n").unwrap();
        (dir, path)
    }

    #[test]
    fn duckdb_plans() {
        let (_dir, seed) = seed_file();
        let plans = all_plans(&DuckDbSql, QuoteStyle::Double, None, &seed).replace(&seed.to_string_lossy().into_owned(), "seeds/utm_sources.csv");
        insta::assert_snapshot!(plans);
    }

    #[test]
    fn bigquery_plans() {
        let (_dir, seed) = seed_file();
        let plans = all_plans(&BigQuerySql, QuoteStyle::Backtick, Some("analytics-prod"), &seed)
            .replace(&seed.to_string_lossy().into_owned(), "seeds/utm_sources.csv");
        insta::assert_snapshot!(plans);
    }

    // Each partition column type at each granularity, as BigQuery partitions
    // it; a `date` at `hour` is refused at compile (`core::partition`).
    #[test]
    fn bigquery_partition_clauses() {
        let mut lines = Vec::new();
        for data_type in [PartitionType::Date, PartitionType::Timestamp, PartitionType::Datetime] {
            for granularity in [Granularity::Hour, Granularity::Day, Granularity::Month, Granularity::Year] {
                if (data_type, granularity) == (PartitionType::Date, Granularity::Hour) {
                    continue;
                }
                let partition = Partition { field: "at".into(), data_type, lookback: 0, granularity };
                let options = TableOptions { partition: Some(partition), ..TableOptions::default() };
                lines.push(format!("{} by {}:{}", data_type.as_str(), granularity.as_str(), BigQuerySql.table_clauses(&options).replace('\n', " ")));
            }
        }
        insta::assert_snapshot!(lines.join("\n"), @r"
        date by day: partition by `at`
        date by month: partition by date_trunc(`at`, month)
        date by year: partition by date_trunc(`at`, year)
        timestamp by hour: partition by timestamp_trunc(`at`, hour)
        timestamp by day: partition by timestamp_trunc(`at`, day)
        timestamp by month: partition by timestamp_trunc(`at`, month)
        timestamp by year: partition by timestamp_trunc(`at`, year)
        datetime by hour: partition by datetime_trunc(`at`, hour)
        datetime by day: partition by datetime_trunc(`at`, day)
        datetime by month: partition by datetime_trunc(`at`, month)
        datetime by year: partition by datetime_trunc(`at`, year)
        ");
    }

    // A seed larger than one statement's bound goes in as several inserts.
    #[test]
    fn bigquery_seed_inserts_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        let rows: String = (0..1200).map(|i| format!("{i}\n")).collect();
        std::fs::write(&path, format!("id\n{rows}")).unwrap();
        let load = SeedLoad { path, columns: vec![SeedColumn { name: "id".into(), data_type: "BIGINT".into() }], delimiter: ',', invocation: None };
        let plan = BigQuerySql.seed_plan(&rel("big"), Present::default(), &load).unwrap();
        let [crate::warehouse::plan::Step::Load { fallback, .. }, ..] = plan.steps.as_slice() else { panic!("a load first: {plan:?}") };
        let inserts: Vec<usize> = fallback
            .iter()
            .filter_map(|step| match step {
                crate::warehouse::plan::Step::Run { job, .. } if job.sql.starts_with("insert") => Some(job.sql.matches('(').count() - 1),
                _ => None,
            })
            .collect();
        assert_eq!(inserts, [500, 500, 200]);
    }
}
