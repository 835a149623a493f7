//! The SQL each materialization sends, per warehouse dialect. Pure functions of
//! relations and compiled SQL; executing them is `materialize.rs`'s job.

use crate::core::dates::ExecutionDate;
use crate::core::partition::{Partition, PartitionType};
use crate::core::relation::{QuoteStyle, Relation};
use crate::project::Target;

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

    /// The database a relation is qualified with when its config names none:
    /// BigQuery's project; DuckDB leaves it out.
    fn default_database(&self, target: &Target) -> Option<String>;

    /// The sqlparser dialect `compile` checks compiled SQL with.
    fn parser(&self) -> &dyn sqlparser::dialect::Dialect;

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

    fn insert_from(&self, target: &Relation, staged: &Relation) -> String {
        format!("insert into {target} by name select * from {staged}")
    }

    /// The rows of a test query that fail, counted (`limit` caps what is counted).
    fn count_failures(&self, sql: &str, limit: Option<u64>) -> String {
        let limited = match limit {
            Some(limit) => format!("select * from (\n{sql}\n) as dbt_limited limit {limit}"),
            None => sql.to_string(),
        };
        format!("select count(*) as failures from (\n{limited}\n) as dbt_internal_test")
    }

    fn limit_rows(&self, sql: &str, limit: u64) -> String {
        format!("select * from (\n{sql}\n) as strata_preview limit {limit}")
    }

    fn date_literal(&self, date: ExecutionDate) -> String {
        format!("date '{}'", date.ds())
    }

    /// The partition (a date) a row of a partitioned model belongs to.
    fn partition_expression(&self, partition: &Partition) -> String {
        match partition.data_type {
            PartitionType::Date => self.quote(&partition.field),
            PartitionType::Timestamp => format!("cast({} as date)", self.quote(&partition.field)),
        }
    }

    /// Counts the rows of `staged` outside the partitions `first..=last`, NULL included.
    fn count_outside_partitions(&self, staged: &Relation, partition: &Partition, first: ExecutionDate, last: ExecutionDate) -> String {
        let expression = self.partition_expression(partition);
        format!(
            "select count(*) from {staged} where {expression} is null or {expression} < {} or {expression} > {}",
            self.date_literal(first),
            self.date_literal(last)
        )
    }

    fn delete_partitions(&self, target: &Relation, partition: &Partition, first: ExecutionDate, last: ExecutionDate) -> String {
        format!(
            "delete from {target} where {} between {} and {}",
            self.partition_expression(partition),
            self.date_literal(first),
            self.date_literal(last)
        )
    }

    /// Loads a CSV file into `relation` with the given column types, when the
    /// warehouse can read local files from SQL (BigQuery loads seeds through its API).
    fn load_csv(&self, relation: &Relation, path: &str, columns: &[SeedColumn], delimiter: char) -> Option<String>;
}

pub struct BigQuerySql;

impl SqlGenerator for BigQuerySql {
    fn quote_style(&self) -> QuoteStyle {
        QuoteStyle::Backtick
    }

    fn default_database(&self, target: &Target) -> Option<String> {
        target.database.clone()
    }

    fn parser(&self) -> &dyn sqlparser::dialect::Dialect {
        &sqlparser::dialect::BigQueryDialect {}
    }

    fn insert_from(&self, target: &Relation, staged: &Relation) -> String {
        format!("insert into {target} select * from {staged}")
    }

    fn load_csv(&self, _relation: &Relation, _path: &str, _columns: &[SeedColumn], _delimiter: char) -> Option<String> {
        None
    }
}

pub struct DuckDbSql;

impl SqlGenerator for DuckDbSql {
    fn quote_style(&self) -> QuoteStyle {
        QuoteStyle::Double
    }

    fn default_database(&self, _target: &Target) -> Option<String> {
        None
    }

    fn parser(&self) -> &dyn sqlparser::dialect::Dialect {
        &sqlparser::dialect::DuckDbDialect {}
    }

    fn load_csv(&self, relation: &Relation, path: &str, columns: &[SeedColumn], delimiter: char) -> Option<String> {
        let types = columns
            .iter()
            .map(|c| format!("'{}': '{}'", c.name.replace('\'', "''"), c.data_type.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(", ");
        Some(format!(
            "create table {relation} as select * from read_csv('{}', header = true, auto_detect = false, delim = '{}', quote = '\"', escape = '\"', nullstr = '', columns = {{{types}}})",
            path.replace('\'', "''"),
            delimiter
        ))
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
        let partition = Partition { field: "event_at".into(), data_type: PartitionType::Timestamp, lookback: 2 };
        let day = ExecutionDate::parse("2026-11-20", "--date").unwrap();
        insta::assert_snapshot!(
            [
                sql.create_schema(&target),
                sql.create_view(&target, "select 1 as id"),
                sql.create_table_as(&staged, "select 1 as id"),
                sql.rename_table(&staged, &target),
                sql.delete_matching(&target, &staged, &["id".into(), "day".into()]),
                sql.insert_from(&target, &staged),
                sql.count_failures("select * from x where id is null", Some(100)),
                sql.load_csv(&target, "/p/seeds/o'rders.csv", &[SeedColumn { name: "id".into(), data_type: "BIGINT".into() }], ',').unwrap_or_default(),
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
        let warehouse = DuckDb::open(":memory:", std::path::Path::new("."), &[]).unwrap();
        let mut connection = warehouse.connect().unwrap();
        let mut run = |statement: String| connection.execute(&statement).unwrap_or_else(|err| panic!("{statement}\n{err}"));
        let target = rel("orders");
        let staged = staging_relation(&target, "new");
        let partition = Partition { field: "event_at".into(), data_type: PartitionType::Timestamp, lookback: 2 };
        let day = ExecutionDate::parse("2026-11-20", "--date").unwrap();
        let rows = "select * from (values (1, 2, timestamp '2026-11-19 10:00'), (3, 4, timestamp '2026-11-20 09:00')) as t(id, day, event_at)";

        run(sql.create_schema(&target));
        assert_eq!(run(sql.create_table_as(&staged, rows)), 2);
        run(sql.rename_table(&staged, &target));
        assert_eq!(run(sql.create_table_as(&staged, "select 3 as id, 4 as day, timestamp '2026-11-20 11:00' as event_at")), 1);
        assert_eq!(run(sql.delete_matching(&target, &staged, &["id".into(), "day".into()])), 1);
        assert_eq!(run(sql.insert_from(&target, &staged)), 1);
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
        assert_eq!(count(sql.count_failures(&format!("select * from {seed} where id is null"), Some(100))), Some(Cell::Int(1)));
        assert_eq!(count(sql.count_failures(&format!("select * from {seed}"), Some(2))), Some(Cell::Int(2)));
        // Rows on D-2..D pass the partition guard; one on D+1 and one NULL do not.
        assert_eq!(count(sql.count_outside_partitions(&rel("guard"), &partition, day.add_days(-2), day)), Some(Cell::Int(2)));
    }
}
