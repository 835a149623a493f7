//! The SQL each materialization sends, per warehouse dialect. Pure functions of
//! relations and compiled SQL; executing them is `materialize.rs`'s job.

use crate::template::Relation;

/// A column of a seed, with the type it was given or inferred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedColumn {
    pub name: String,
    pub data_type: String,
}

pub trait SqlGenerator: Send + Sync {
    fn quote(&self, name: &str) -> String;

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

    /// Loads a CSV file into `relation` with the given column types.
    fn load_csv(&self, relation: &Relation, path: &str, columns: &[SeedColumn], delimiter: char) -> String;
}

pub struct DuckDbSql;

impl SqlGenerator for DuckDbSql {
    fn quote(&self, name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    fn load_csv(&self, relation: &Relation, path: &str, columns: &[SeedColumn], delimiter: char) -> String {
        let types = columns
            .iter()
            .map(|c| format!("'{}': '{}'", c.name.replace('\'', "''"), c.data_type.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "create table {relation} as select * from read_csv('{}', header = true, auto_detect = false, delim = '{}', quote = '\"', escape = '\"', nullstr = '', columns = {{{types}}})",
            path.replace('\'', "''"),
            delimiter
        )
    }
}

/// The relation a table is built under before it replaces the old one.
pub fn staging_relation(relation: &Relation, suffix: &str) -> Relation {
    Relation { identifier: format!("{}__strata_{suffix}", relation.identifier), ..relation.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::QuoteStyle;

    fn rel(name: &str) -> Relation {
        Relation::new(None, "main_marketing", name, QuoteStyle::Double)
    }

    #[test]
    fn duckdb_statements() {
        let sql = DuckDbSql;
        let target = rel("orders");
        let staged = staging_relation(&target, "new");
        insta::assert_snapshot!(
            [
                sql.create_schema(&target),
                sql.create_view(&target, "select 1 as id"),
                sql.create_table_as(&staged, "select 1 as id"),
                sql.rename_table(&staged, &target),
                sql.delete_matching(&target, &staged, &["id".into(), "day".into()]),
                sql.insert_from(&target, &staged),
                sql.count_failures("select * from x where id is null", Some(100)),
                sql.load_csv(&target, "/p/seeds/o'rders.csv", &[SeedColumn { name: "id".into(), data_type: "BIGINT".into() }], ','),
            ]
            .join(";\n\n")
        );
    }
}
