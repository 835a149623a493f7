//! BigQuery's SQL: names quoted with backticks, tables created with their
//! partitioning, clustering and options in one `create or replace`, partition
//! writes as one script transaction, seeds loaded by a load job, and the
//! partitions read from `INFORMATION_SCHEMA.PARTITIONS`.

use serde_json::Value as Json;

use crate::core::columns::{Column, ColumnChanges, OnSchemaChange};
use crate::core::config_rules::ConfigRules;
use crate::core::dates::ExecutionDate;
use crate::core::job::Job;
use crate::core::partition::{Granularity, Partition, PartitionType};
use crate::core::relation::{QuoteStyle, Relation, RelationKind};
use crate::sql::plan::{FileLoad, Insert, Plan, Present, Refusal, TableOptions};
use crate::sql::types::DataType;
use crate::sql::{SeedColumn, SeedError, SeedLoad, SqlGenerator, staging_for};

pub struct BigQuerySql;

/// dbt-bigquery's strategies; BigQuery clusters by at most four columns.
/// See: https://cloud.google.com/bigquery/docs/clustered-tables#limitations
static BIGQUERY_RULES: ConfigRules = ConfigRules {
    warehouse: "BigQuery",
    strategies: &["merge", "insert_overwrite", "microbatch"],
    strategies_help: "BigQuery's strategies are `merge` (with `unique_key`), `insert_overwrite` (with `partition_by`) and `microbatch` (with `event_time`); without either, leave `incremental_strategy` out",
    max_cluster_by: Some(4),
    check_label: super::profile::check_label,
    // dbt-bigquery's rule (`bq_validate_microbatch_config`).
    microbatch_needs_partition_by: true,
};

impl SqlGenerator for BigQuerySql {
    // BigQuery casts neither arrays nor structs to STRING, and compares
    // neither; their JSON is both. See:
    // https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#comparable_data_types
    // Bytes are compared as base64: a digest is no UTF-8 text, which
    // `cast(... as string)` refuses.
    fn as_text(&self, expression: &str, data_type: &str) -> String {
        match (super::types::parse(data_type), self.comparable(data_type)) {
            (DataType::Bytes, _) => format!("to_base64({expression})"),
            (_, true) => format!("cast({expression} as string)"),
            (_, false) => format!("to_json_string({expression})"),
        }
    }

    /// BigQuery casts text to no array, struct or JSON: a list is an array
    /// literal of its type, each element typed; a mapping a struct literal
    /// (its fields by name) or a JSON literal; a struct or geography given as
    /// text is a SQL expression, as dbt-bigquery's `safe_cast` takes it;
    /// bytes are given in base64.
    fn typed_value(&self, value: &Json, data_type: &str) -> String {
        let parsed = super::types::parse(data_type);
        let typed = |value: &Json, data_type: &DataType| match super::types::name(data_type) {
            Ok(name) => self.typed_value(value, &name),
            Err(_) => crate::sql::plain_literal(self, value),
        };
        match (&parsed, value) {
            (_, Json::Null) => format!("cast(null as {data_type})"),
            (DataType::Array(element), Json::Array(items)) => {
                format!("{data_type}[{}]", items.iter().map(|item| typed(item, element)).collect::<Vec<_>>().join(", "))
            }
            (DataType::Struct(fields), Json::Object(values)) => {
                let value_of = |name: &str| values.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map_or(&Json::Null, |(_, v)| v);
                format!("{data_type}({})", fields.iter().map(|(name, field)| typed(value_of(name), field)).collect::<Vec<_>>().join(", "))
            }
            (DataType::Struct(_) | DataType::Geography, Json::String(expression)) => format!("cast({expression} as {data_type})"),
            // Bytes in base64, as strata shows them (`as_text`): a digest is no text.
            (DataType::Bytes, Json::String(base64)) => format!("from_base64({})", string_literal(base64)),
            (DataType::Json, Json::String(text)) if serde_json::from_str::<Json>(text).is_ok() => format!("json {}", string_literal(text)),
            (DataType::Json, other) => format!("json {}", string_literal(&other.to_string())),
            _ => format!("cast({} as {data_type})", crate::sql::plain_literal(self, value)),
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

    fn parse_type(&self, name: &str) -> DataType {
        super::types::parse(name)
    }

    fn type_name(&self, data_type: &DataType) -> Result<String, String> {
        super::types::name(data_type)
    }

    /// What a load job's schema takes (`types::load_field`).
    fn load_type_name(&self, data_type: &DataType) -> Result<String, String> {
        super::types::load_field("", data_type)?;
        super::types::name(data_type)
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
        let declarations: String = insert.declarations.iter().map(|declaration| format!("{declaration};\n")).collect();
        vec![Job::script(format!("{declarations}begin transaction;\n{};\n{insert_sql};\ncommit transaction", insert.before.join(";\n")))]
    }

    /// On a partitioned table, the delete of the rows whose `unique_key`
    /// comes again looks only in the partitions of the new rows: a script
    /// variable holds them (dbt-bigquery's dynamic partition pruning), so
    /// BigQuery prunes the others, and a table with `require_partition_filter`
    /// takes the delete. A key whose row moved to another partition keeps its
    /// old row there, as with dbt's `incremental_predicates`. See:
    /// https://cloud.google.com/bigquery/docs/querying-partitioned-tables#use_a_constant_filter_expression
    fn merge_insert(&self, relation: &Relation, staged: &Relation, options: &TableOptions, unique_key: &[String]) -> Insert {
        let (Some(partition), false) = (&options.partition, unique_key.is_empty()) else {
            let before = if unique_key.is_empty() { Vec::new() } else { vec![self.delete_matching(relation, staged, unique_key)] };
            return Insert::new(relation, staged, options.on_schema_change, before).laid_out(options);
        };
        let declaration = format!(
            "declare strata_partitions array<{}> default (\n  select array_agg(distinct {} ignore nulls) from {staged}\n)",
            partition.data_type.as_str(),
            self.partition_expression(partition, None)
        );
        let pruned = format!("{} in unnest(strata_partitions)", self.partition_expression(partition, Some("dbt_internal_dest")));
        let delete = self.delete_matching(relation, staged, unique_key).replacen(" where exists (", &format!(" where {pruned}\n  and exists ("), 1);
        Insert { declarations: vec![declaration], ..Insert::new(relation, staged, options.on_schema_change, vec![delete]).laid_out(options) }
    }

    fn load_csv(&self, _relation: &Relation, _path: &str, _columns: &[SeedColumn], _delimiter: char) -> Option<String> {
        None
    }

    /// `INFORMATION_SCHEMA.PARTITIONS` of the dataset: metadata, no table
    /// scanned. A partition's id is its hour (`YYYYMMDDHH`), day
    /// (`YYYYMMDD`), month (`YYYYMM`) or year (`YYYY`); `__NULL__` and
    /// `__UNPARTITIONED__` are none of these. See:
    /// https://cloud.google.com/bigquery/docs/information-schema-partitions
    fn partition_metadata(&self, dataset: &Relation, names: &[&str], (first, last): (ExecutionDate, ExecutionDate)) -> Option<String> {
        let mut prefix = String::new();
        if let Some(project) = &dataset.database {
            prefix = format!("{}.", self.quote(project));
        }
        prefix.push_str(&self.quote(dataset.schema.as_deref().unwrap_or_default()));
        let names = names.iter().map(|name| self.string_literal(name)).collect::<Vec<_>>().join(", ");
        // An id is the partition's hour (`YYYYMMDDHH`), day, month (`YYYYMM`)
        // or year (`YYYY`): each compared with the dates' own prefix.
        let (first, last) = (first.ds_nodash(), last.ds_nodash());
        let within = |digits: usize| {
            format!("length(partition_id) = {digits} and partition_id between '{}' and '{}'", &first[..digits.min(8)], &last[..digits.min(8)])
        };
        Some(format!(
            "select table_name, partition_id, total_rows, unix_micros(last_modified_time) as written_at\nfrom {prefix}.INFORMATION_SCHEMA.PARTITIONS\n\
             where table_name in ({})\n  and (substr(partition_id, 1, 8) between '{first}' and '{last}' and length(partition_id) in (8, 10)\n    or {}\n    or {})",
            if names.is_empty() { "''".to_string() } else { names },
            within(6),
            within(4)
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

    /// BigQuery changes a column's type in place only to a wider one (INT64
    /// to NUMERIC, BIGNUMERIC or FLOAT64; NUMERIC to BIGNUMERIC or FLOAT64),
    /// so, as dbt-bigquery's `alter_column_type`, any other type change
    /// rebuilds the table: one `create or replace table ... as select`, with
    /// every change of the run (columns cast, added as NULL, dropped) and the
    /// model's layout, which BigQuery makes whole or not at all, so a refusal
    /// leaves the table as it was. See:
    /// https://cloud.google.com/bigquery/docs/managing-table-schemas#change_a_columns_data_type
    fn alter_columns(&self, insert: &Insert, table: &[Column], changes: &ColumnChanges) -> Vec<String> {
        let in_place = |column: &Column| {
            let old = table.iter().find(|old| old.name.eq_ignore_ascii_case(&column.name));
            old.is_some_and(|old| super::types::widens(&super::types::parse(&old.data_type), &super::types::parse(&column.data_type)))
        };
        let sync = insert.on_schema_change == OnSchemaChange::SyncAllColumns;
        match &insert.layout {
            Some(layout) if sync && !changes.retyped.iter().all(in_place) => vec![self.rebuild_with_columns(insert, layout, table, changes)],
            _ => crate::sql::alter_statements(self, &insert.target, changes, insert.on_schema_change),
        }
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
        let copying = incremental && partition.copy_partitions;
        // Copy jobs copy between partitions: the staged rows are partitioned
        // and clustered as the table.
        let create = match copying {
            true => {
                let layout = TableOptions { partition: Some(partition.clone()), cluster_by: options.cluster_by.clone(), ..TableOptions::default() };
                self.create_staging(&staged, sql).replacen("\noptions(", &format!("{}\noptions(", self.table_clauses(&layout)), 1)
            }
            false => self.create_staging(&staged, sql),
        };
        let plan = Plan::new(false)
            .run_counting_rows(create)
            .guard(self.count_outside_partitions(&staged, partition, first, last), Refusal::outside(partition, first, last));
        // One script transaction drops the partitions' old rows and inserts the new ones (`write`).
        let rewrite = |plan: Plan| {
            let before = vec![self.delete_partitions(relation, partition, first, last)];
            plan.insert(Insert::new(relation, &staged, options.on_schema_change, before).laid_out(options))
        };
        let plan = if copying {
            let days = std::iter::successors(Some(first), |day| Some(day.add_days(1)).filter(|next| *next <= last));
            let partitions = days.map(|day| (day.ds_nodash(), self.delete_partitions(relation, partition, day, day))).collect();
            let present = self.partition_metadata(&staged, &[staged.identifier.as_str()], (first, last)).unwrap_or_default();
            let copy = crate::sql::plan::PartitionCopy { from: staged.clone(), to: relation.clone(), partitions, present, job: Job::default() };
            plan.copy(copy, rewrite(Plan::new(false)))
        } else if incremental {
            rewrite(plan)
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
        // A load job takes each column as one of its own types: refuse here,
        // before anything runs, what it cannot take.
        for column in &seed.columns {
            super::types::load_field(&column.name, &super::types::parse(&bigquery_type(&column.data_type))).map_err(|message| SeedError::Column {
                column: column.name.clone(),
                data_type: column.data_type.clone(),
                message,
            })?;
        }
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

    /// `target` rebuilt with the columns of `changes`: its own in order (a
    /// retyped one cast to its new type, a removed one left out), then the
    /// added ones as NULL. Read whole, with a filter on the partition column
    /// that prunes nothing, so `require_partition_filter` is satisfied (as
    /// dbt-bigquery's merge does).
    fn rebuild_with_columns(&self, insert: &Insert, layout: &TableOptions, table: &[Column], changes: &ColumnChanges) -> String {
        let named = |columns: &[Column], name: &str| columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)).cloned();
        let kept = table.iter().filter(|c| named(&changes.removed, &c.name).is_none()).map(|c| match named(&changes.retyped, &c.name) {
            Some(retyped) => format!("cast({0} as {1}) as {0}", self.quote(&c.name), retyped.data_type),
            None => self.quote(&c.name),
        });
        let added = changes.added.iter().map(|c| format!("cast(null as {}) as {}", c.data_type, self.quote(&c.name)));
        let columns = kept.chain(added).collect::<Vec<_>>().join(",\n    ");
        let target = &insert.target;
        let every_partition = match &layout.partition {
            Some(partition) => format!("\nwhere {0} is null or {0} is not null", self.quote(&partition.field)),
            None => String::new(),
        };
        format!("create or replace table {target}{}\nas (\nselect\n    {columns}\nfrom {target}{every_partition}\n)", self.table_clauses(layout))
    }

    /// The partition a row is in, as `partition by` writes it (of the column
    /// of table `alias` where given). Each type truncates with its own
    /// function: `timestamp_trunc` on a DATETIME is an error. See:
    /// https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#partition_expression
    fn partition_expression(&self, partition: &Partition, alias: Option<&str>) -> String {
        let field = match alias {
            Some(alias) => format!("{alias}.{}", self.quote(&partition.field)),
            None => self.quote(&partition.field),
        };
        let granularity = partition.granularity.as_str();
        match (partition.data_type, partition.granularity) {
            (PartitionType::Date, Granularity::Day) => field,
            (PartitionType::Date, _) => format!("date_trunc({field}, {granularity})"),
            (PartitionType::Timestamp, _) => format!("timestamp_trunc({field}, {granularity})"),
            (PartitionType::Datetime, _) => format!("datetime_trunc({field}, {granularity})"),
        }
    }

    /// `partition by ... cluster by ... options(labels = ...)` of a table.
    fn table_clauses(&self, options: &TableOptions) -> String {
        let mut clauses = String::new();
        if let Some(partition) = &options.partition {
            clauses.push_str(&format!("\npartition by {}", self.partition_expression(partition, None)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::snapshot::{CheckColumns, HardDeletes, Strategy};
    use crate::sql::plan::Step;

    fn rel(name: &str) -> Relation {
        Relation::new(None, "main_marketing", name, QuoteStyle::Double)
    }

    #[test]
    fn bigquery_plans() {
        let (_dir, seed) = crate::sql::testing::seed_file();
        let plans = crate::sql::testing::all_plans(&BigQuerySql, QuoteStyle::Backtick, Some("analytics-prod"), &seed)
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
                let partition = Partition { field: "at".into(), data_type, lookback: 0, granularity, copy_partitions: false };
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
    // A type BigQuery widens in place is altered; any other rebuilds the
    // table in one statement, with every change and the model's layout, so a
    // refusal leaves the table as it was (no `alter column ... set data type
    // STRING`, which BigQuery refuses after the other alters ran).
    #[test]
    fn sync_all_columns_rebuilds_the_table_to_change_a_type_bigquery_cannot_widen() {
        let target = Relation::new(Some("p".into()), "d", "orders", QuoteStyle::Backtick);
        let staged = Relation::new(Some("p".into()), "d", "orders__new", QuoteStyle::Backtick);
        let partition =
            Partition { field: "day".into(), data_type: PartitionType::Date, lookback: 0, granularity: Granularity::Day, copy_partitions: false };
        let layout = TableOptions { partition: Some(partition), require_partition_filter: true, ..TableOptions::default() };
        let insert = Insert::new(&target, &staged, OnSchemaChange::SyncAllColumns, Vec::new()).laid_out(&layout);
        let table = [Column::new("day", "DATE"), Column::new("id", "INT64"), Column::new("amount", "INT64"), Column::new("old", "STRING")];
        let widened = [Column::new("day", "DATE"), Column::new("id", "INT64"), Column::new("amount", "NUMERIC"), Column::new("new", "BOOL")];
        let widening = BigQuerySql.alter_columns(&insert, &table, &ColumnChanges::between(&table, &widened));
        let retyped = [Column::new("day", "DATE"), Column::new("id", "STRING"), Column::new("amount", "NUMERIC"), Column::new("new", "BOOL")];
        let rebuilding = BigQuerySql.alter_columns(&insert, &table, &ColumnChanges::between(&table, &retyped));
        insta::assert_snapshot!(format!("{};\n\n-- and with a type BigQuery cannot widen:\n{}", widening.join(";\n"), rebuilding.join(";\n")), @r"
            alter table `p`.`d`.`orders` add column `new` BOOL;
            alter table `p`.`d`.`orders` drop column `old`;
            alter table `p`.`d`.`orders` alter column `amount` set data type NUMERIC;

            -- and with a type BigQuery cannot widen:
            create or replace table `p`.`d`.`orders`
            partition by `day`
            options(require_partition_filter = true)
            as (
            select
                `day`,
                cast(`id` as STRING) as `id`,
                cast(`amount` as NUMERIC) as `amount`,
                cast(null as BOOL) as `new`
            from `p`.`d`.`orders`
            where `day` is null or `day` is not null
            )
        ");
    }

    // BigQuery casts text to no array, struct or JSON (`cast('[1,2]' as
    // ARRAY<INT64>)` is refused): a unit test's values are literals of their types.
    #[test]
    fn unit_test_values_are_literals_of_bigquery_s_types() {
        let cases = [
            ("ARRAY<INT64>", serde_json::json!([1, 2])),
            ("ARRAY<DATE>", serde_json::json!([])),
            ("STRUCT<`a` INT64, `b` STRING>", serde_json::json!({"b": "it's", "a": 2})),
            ("STRUCT<`a` INT64, `b` STRING>", serde_json::json!("struct(1 as a, \"x\" as b)")),
            ("ARRAY<STRUCT<`a` INT64>>", serde_json::json!([{"a": 1}])),
            ("JSON", serde_json::json!({"k": [1, "x"]})),
            ("JSON", serde_json::json!("{\"k\": 1}")),
            ("BYTES", serde_json::json!("dxlEebKnwmmKVKEKv+7ahQ==")),
            ("DATE", serde_json::json!("2026-11-20")),
            ("ARRAY<INT64>", Json::Null),
        ];
        let lines: Vec<String> =
            cases.iter().map(|(data_type, value)| format!("{value} as {data_type}: {}", BigQuerySql.typed_value(value, data_type))).collect();
        insta::assert_snapshot!(lines.join("\n"), @r#"
            [1,2] as ARRAY<INT64>: ARRAY<INT64>[cast(1 as INT64), cast(2 as INT64)]
            [] as ARRAY<DATE>: ARRAY<DATE>[]
            {"b":"it's","a":2} as STRUCT<`a` INT64, `b` STRING>: STRUCT<`a` INT64, `b` STRING>(cast(2 as INT64), cast('it\'s' as STRING))
            "struct(1 as a, \"x\" as b)" as STRUCT<`a` INT64, `b` STRING>: cast(struct(1 as a, "x" as b) as STRUCT<`a` INT64, `b` STRING>)
            [{"a":1}] as ARRAY<STRUCT<`a` INT64>>: ARRAY<STRUCT<`a` INT64>>[STRUCT<`a` INT64>(cast(1 as INT64))]
            {"k":[1,"x"]} as JSON: json '{"k":[1,"x"]}'
            "{\"k\": 1}" as JSON: json '{"k": 1}'
            "dxlEebKnwmmKVKEKv+7ahQ==" as BYTES: from_base64('dxlEebKnwmmKVKEKv+7ahQ==')
            "2026-11-20" as DATE: cast('2026-11-20' as DATE)
            null as ARRAY<INT64>: cast(null as ARRAY<INT64>)
        "#);
        assert_eq!(BigQuerySql.as_text("`digest`", "BYTES"), "to_base64(`digest`)");
    }

    // A phase's partitions go into the log in one insert: a date whose rows the
    // write counted as a literal, a range read back through its partition filter.
    #[test]
    fn the_partitions_of_a_phase_are_logged_in_one_insert() {
        let day = ExecutionDate::parse("2026-11-20", "--date").unwrap();
        let table = |name: &str| Relation::new(Some("p".into()), "marketing", name, QuoteStyle::Backtick);
        let partition = Partition {
            field: "event_date".into(),
            data_type: PartitionType::Date,
            lookback: 0,
            granularity: Granularity::Day,
            copy_partitions: false,
        };
        let written = |name: &str, first: ExecutionDate, rows: Option<u64>| crate::core::partition::WrittenPartitions {
            relation: table(name),
            partition: partition.clone(),
            first,
            last: day,
            rows,
            checksum: Some("abc".into()),
        };
        let log = BigQuerySql.partition_log(Some("p".into()), "analytics");
        let sql = BigQuerySql.log_written(&log, &[written("dau", day, Some(42)), written("funnel", day.add_days(-1), Some(7))]);
        insta::assert_snapshot!(sql, @r"
            insert into `p`.`analytics`.`_strata_partitions` (schema_name, table_name, partition_date, written_at, row_count, checksum)
            select 'marketing', 'dau', date '2026-11-20', current_timestamp, 42, 'abc'
            union all
            select 'marketing', 'funnel', days.day, current_timestamp, count(written.day), 'abc'
            from (select day from unnest(generate_date_array(date '2026-11-19', date '2026-11-20')) as day) as days
            left join (select cast(`event_date` as date) as day from `p`.`marketing`.`funnel` where `event_date` >= date '2026-11-19' and `event_date` < date '2026-11-21') as written on written.day = days.day
            group by days.day
        ");
    }

    #[test]
    fn bigquery_seed_inserts_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        let rows: String = (0..1200).map(|i| format!("{i}\n")).collect();
        std::fs::write(&path, format!("id\n{rows}")).unwrap();
        let load = SeedLoad { path, columns: vec![SeedColumn { name: "id".into(), data_type: "BIGINT".into() }], delimiter: ',', invocation: None };
        let plan = BigQuerySql.seed_plan(&rel("big"), Present::default(), &load).unwrap();
        let [Step::Load { fallback, .. }, ..] = plan.steps.as_slice() else { panic!("a load first: {plan:?}") };
        let inserts: Vec<usize> = fallback
            .iter()
            .filter_map(|step| match step {
                Step::Run { job, .. } if job.sql.starts_with("insert") => Some(job.sql.matches('(').count() - 1),
                _ => None,
            })
            .collect();
        assert_eq!(inserts, [500, 500, 200]);
    }

    // A column the table lacks changes every row; deleted rows get a version of their own.
    #[test]
    fn check_strategy_with_new_record_deletes_on_bigquery() {
        let mut snapshot =
            crate::sql::snapshot::testing::snapshot(Strategy::Check { columns: CheckColumns::All, updated_at: None }, HardDeletes::NewRecord);
        snapshot.unique_key = vec!["id".into(), "region".into()];
        snapshot.valid_to_current = Some("timestamp '9999-12-31'".into());
        insta::assert_snapshot!(crate::sql::snapshot::testing::statements(&BigQuerySql, &snapshot, QuoteStyle::Backtick));
    }

    #[test]
    fn diff_queries() {
        let current = Relation::new(Some("p".into()), "ci", "orders", QuoteStyle::Backtick);
        let previous = Relation::new(Some("p".into()), "main", "orders", QuoteStyle::Backtick);
        let mut bigquery = crate::sql::diff::testing::spec(&current, &previous, &[]);
        bigquery.filter = Some("`day` >= date '2026-11-20' and `day` < date '2026-11-21'".into());
        insta::assert_snapshot!("bigquery_whole_rows", bigquery.query(&BigQuerySql));
    }
}
