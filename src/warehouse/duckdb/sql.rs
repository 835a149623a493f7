//! DuckDB's SQL: names quoted with double quotes, the standard statements of
//! [`SqlGenerator`] (a table built under a staging name and renamed in one
//! transaction), and seeds read with `read_csv`.

use crate::core::config_rules::ConfigRules;
use crate::core::relation::{QuoteStyle, Relation};
use crate::sql::types::DataType;
use crate::sql::{SeedColumn, SqlGenerator};

static DUCKDB_RULES: ConfigRules = ConfigRules {
    warehouse: "DuckDB",
    strategies: &["append", "delete+insert", "merge", "insert_overwrite", "microbatch"],
    strategies_help: "",
    max_cluster_by: None,
    check_label: crate::core::config_rules::any_label,
    microbatch_needs_partition_by: false,
};

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

    /// dbt-duckdb's columns are dbt's base column, whose string types read
    /// `character varying(256)` (the size unknown).
    fn column_data_type(&self, data_type: &str) -> String {
        match ["text", "character varying", "character", "varchar"].contains(&data_type.to_ascii_lowercase().as_str()) {
            true => "character varying(256)".to_string(),
            false => data_type.to_string(),
        }
    }

    fn parse_type(&self, name: &str) -> DataType {
        super::types::parse(name)
    }

    fn type_name(&self, data_type: &DataType) -> Result<String, String> {
        super::types::name(data_type)
    }

    fn bytes_as_text(&self) -> &'static str {
        "escaped (`\\xAB`)"
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Partitioned by the day of `event_at`, two days of lookback.
    fn event_at_days() -> Partition {
        Partition {
            field: "event_at".into(),
            data_type: PartitionType::Timestamp,
            lookback: 2,
            granularity: Granularity::Day,
            copy_partitions: false,
        }
    }
    use crate::core::columns::{Column, ColumnChanges, OnSchemaChange};
    use crate::core::dates::ExecutionDate;
    use crate::core::partition::{Granularity, Partition, PartitionType};
    use crate::core::snapshot::{HardDeletes, Strategy};
    use crate::sql::plan::Insert;
    use crate::sql::staging_relation;

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
        let partition = event_at_days();
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
                crate::sql::alter_statements(&sql, &target, &changes, OnSchemaChange::SyncAllColumns).join(";\n"),
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
        let partition = event_at_days();
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

    #[test]
    fn duckdb_plans() {
        let (_dir, seed) = crate::sql::testing::seed_file();
        let plans = crate::sql::testing::all_plans(&DuckDbSql, QuoteStyle::Double, None, &seed)
            .replace(&seed.to_string_lossy().into_owned(), "seeds/utm_sources.csv");
        insta::assert_snapshot!(plans);
    }

    #[test]
    fn timestamp_strategy_invalidating_deletes() {
        let snapshot = crate::sql::snapshot::testing::snapshot(Strategy::Timestamp { updated_at: "updated_at".into() }, HardDeletes::Invalidate);
        insta::assert_snapshot!(crate::sql::snapshot::testing::statements(&DuckDbSql, &snapshot, QuoteStyle::Double));
    }

    // A keyed diff and a diff of whole rows, as DuckDB receives them.
    #[test]
    fn diff_queries() {
        let current = Relation::new(None, "ci", "orders", QuoteStyle::Double);
        let previous = Relation::new(None, "main", "orders", QuoteStyle::Double);
        let spec = crate::sql::diff::testing::spec;
        insta::assert_snapshot!("duckdb_keyed", spec(&current, &previous, &["order_id"]).query(&DuckDbSql));
        insta::assert_snapshot!("duckdb_whole_rows", spec(&current, &previous, &[]).query(&DuckDbSql));
    }
}
