//! The SQL of a snapshot, as dbt's snapshot materialization writes it
//! (dbt-adapters' `snapshots/helpers.sql` and `strategies.sql`, with
//! dbt-duckdb's update-then-insert merge): the first build's select, the
//! staging select of changes against the current versions, the update that
//! closes changed versions, and the insert of new ones. Pure text, per
//! warehouse through its [`SqlGenerator`].

use crate::core::relation::Relation;
use crate::core::snapshot::{CheckColumns, HardDeletes, Snapshot, Strategy};
use crate::sql::SqlGenerator;

/// The staging columns that are not the snapshot's own: never added to its table.
pub const CHANGE_TYPE: &str = "dbt_change_type";
const UNIQUE_KEY_PREFIX: &str = "dbt_unique_key";

/// A snapshot's SQL on one warehouse, at one snapshot time.
pub struct SnapshotSql<'a> {
    pub snapshot: &'a Snapshot,
    pub sql: &'a dyn SqlGenerator,
    /// The time of the snapshot, as a literal of the warehouse.
    pub now: String,
}

/// The columns of the table and of the query, which the check strategy and
/// `hard_deletes: new_record` compare (read when the table exists).
#[derive(Debug, Clone, Default)]
pub struct Existing {
    pub table_columns: Vec<String>,
    pub query_columns: Vec<String>,
}

impl SnapshotSql<'_> {
    /// The staging columns that carry the unique key, never written to the table.
    pub fn internal_columns(&self) -> Vec<String> {
        let mut columns = vec![CHANGE_TYPE.to_string()];
        columns.extend((1..=self.snapshot.unique_key.len()).map(|i| format!("{UNIQUE_KEY_PREFIX}_{i}")));
        columns
    }

    /// The time each version is stamped with: the row's `updated_at`, or the snapshot's.
    fn updated_at(&self) -> &str {
        match &self.snapshot.strategy {
            Strategy::Timestamp { updated_at } | Strategy::Check { updated_at: Some(updated_at), .. } => updated_at,
            Strategy::Check { updated_at: None, .. } => &self.now,
        }
    }

    /// `dbt_scd_id`: the hash of the unique key and the version's time.
    fn scd_id(&self) -> String {
        let mut args = self.snapshot.unique_key.clone();
        args.push(self.updated_at().to_string());
        self.sql.hash_arguments(&args)
    }

    /// `dbt_valid_to` of a current version, typed as the version's time.
    fn valid_to_current(&self) -> String {
        let updated_at = self.updated_at();
        let current = self.snapshot.valid_to_current.as_deref().unwrap_or("null");
        format!("coalesce(nullif({updated_at}, {updated_at}), {current})\n  as {}", self.snapshot.columns.valid_to)
    }

    /// The select of a snapshot's first build: every row of the query as its first version.
    pub fn first_build(&self, query: &str) -> String {
        let columns = &self.snapshot.columns;
        let updated_at = self.updated_at();
        let deleted = match self.snapshot.hard_deletes {
            HardDeletes::NewRecord => format!(", 'False' as {}", columns.is_deleted),
            _ => String::new(),
        };
        format!(
            "select *,\n    {} as {},\n    {updated_at} as {},\n    {updated_at} as {},\n    {}{deleted}\nfrom (\n{query}\n) sbq",
            self.scd_id(),
            columns.scd_id,
            columns.updated_at,
            columns.valid_from,
            self.valid_to_current(),
        )
    }

    fn unique_key_fields(&self) -> String {
        let keys = self.snapshot.unique_key.iter().enumerate();
        keys.map(|(i, key)| format!("{key} as {UNIQUE_KEY_PREFIX}_{}", i + 1)).collect::<Vec<_>>().join(", ")
    }

    fn unique_key_join(&self, left: &str, right: &str) -> String {
        let keys = 1..=self.snapshot.unique_key.len();
        keys.map(|i| format!("{left}.{UNIQUE_KEY_PREFIX}_{i} = {right}.{UNIQUE_KEY_PREFIX}_{i}")).collect::<Vec<_>>().join(" and ")
    }

    /// Whether `relation`'s version is current: `dbt_valid_to` is null (or `dbt_valid_to_current`).
    fn is_current(&self, relation: &str) -> String {
        let valid_to = format!("{relation}{}", self.snapshot.columns.valid_to);
        match &self.snapshot.valid_to_current {
            Some(current) => format!("({valid_to} = {current} or {valid_to} is null)"),
            None => format!("{valid_to} is null"),
        }
    }

    /// Whether a source row differs from its current version.
    fn row_changed(&self, existing: &Existing) -> String {
        let (snapshotted, current) = ("snapshotted_data", "source_data");
        let changed = match &self.snapshot.strategy {
            Strategy::Timestamp { updated_at } => {
                return format!("({snapshotted}.{} < {current}.{updated_at})", self.snapshot.columns.valid_from);
            }
            Strategy::Check { columns, .. } => {
                let wanted: &[String] = match columns {
                    CheckColumns::All => &existing.query_columns,
                    CheckColumns::Listed(listed) => listed,
                };
                let known = |column: &String| existing.table_columns.iter().any(|c| c.eq_ignore_ascii_case(column));
                // A column the table does not have yet changes every row (dbt's `column_added`).
                if !wanted.iter().all(known) {
                    return "(TRUE)".to_string();
                }
                wanted
                    .iter()
                    .map(|column| {
                        let column = self.sql.quote(column);
                        format!(
                            "{snapshotted}.{column} != {current}.{column}\n        or\n        (\n            (({snapshotted}.{column} is null) and not ({current}.{column} is null))\n            or\n            ((not {snapshotted}.{column} is null) and ({current}.{column} is null))\n        )"
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" or ")
            }
        };
        format!("({changed})")
    }

    /// The changes of the query against `target`'s current versions, each
    /// row marked `insert`, `update` or `delete` in `dbt_change_type`
    /// (dbt's `snapshot_staging_table`).
    pub fn staging(&self, query: &str, target: &Relation, existing: &Existing) -> String {
        let columns = &self.snapshot.columns;
        let hard_deletes = self.snapshot.hard_deletes;
        let new_record = hard_deletes == HardDeletes::NewRecord;
        let keys = self.unique_key_fields();
        let updated_at = self.updated_at();
        let row_changed = match new_record {
            true => format!("{} or snapshotted_data.{} = 'True'", self.row_changed(existing), columns.is_deleted),
            false => self.row_changed(existing),
        };
        let mut ctes = vec![
            format!("snapshot_query as (\n\n{query}\n\n)"),
            format!("snapshotted_data as (\n\n    select *, {keys}\n    from {target}\n    where {}\n\n)", self.is_current("")),
            format!(
                "insertions_source_data as (\n\n    select *, {keys},\n        {updated_at} as {},\n        {updated_at} as {},\n        {},\n        {} as {}\n\n    from snapshot_query\n)",
                columns.updated_at,
                columns.valid_from,
                self.valid_to_current(),
                self.scd_id(),
                columns.scd_id,
            ),
            format!(
                "updates_source_data as (\n\n    select *, {keys},\n        {updated_at} as {},\n        {updated_at} as {},\n        {updated_at} as {}\n\n    from snapshot_query\n)",
                columns.updated_at, columns.valid_from, columns.valid_to,
            ),
        ];
        if hard_deletes != HardDeletes::Ignore {
            ctes.push(format!("deletes_source_data as (\n\n    select *, {keys}\n    from snapshot_query\n)"));
        }
        let source_join = self.unique_key_join("snapshotted_data", "source_data");
        let (deleted_flag, deleted_column) = match new_record {
            true => (format!(",'False' as {}", columns.is_deleted), format!(", snapshotted_data.{}", columns.is_deleted)),
            false => (String::new(), String::new()),
        };
        ctes.push(format!(
            "insertions as (\n\n    select\n        'insert' as {CHANGE_TYPE},\n        source_data.*{deleted_flag}\n\n    from insertions_source_data as source_data\n    left outer join snapshotted_data\n        on {source_join}\n        where snapshotted_data.{UNIQUE_KEY_PREFIX}_1 is null\n        or (snapshotted_data.{UNIQUE_KEY_PREFIX}_1 is not null and (\n           {row_changed}\n        )\n    )\n\n)"
        ));
        ctes.push(format!(
            "updates as (\n\n    select\n        'update' as {CHANGE_TYPE},\n        source_data.*,\n        snapshotted_data.{}{deleted_column}\n\n    from updates_source_data as source_data\n    join snapshotted_data\n        on {source_join}\n    where (\n        {row_changed}\n    )\n)",
            columns.scd_id,
        ));
        // A deleted row that is already marked deleted is left as it is.
        let not_already_deleted = format!(
            "not (\n            snapshotted_data.{} = 'True'\n            and\n            {}\n        )",
            columns.is_deleted,
            self.is_current("snapshotted_data.")
        );
        if hard_deletes != HardDeletes::Ignore {
            let already = if new_record { format!("\n        and {not_already_deleted}") } else { String::new() };
            ctes.push(format!(
                "deletes as (\n\n    select\n        'delete' as {CHANGE_TYPE},\n        source_data.*,\n        {now} as {},\n        {now} as {},\n        {now} as {},\n        snapshotted_data.{}{deleted_column}\n    from snapshotted_data\n    left join deletes_source_data as source_data\n        on {source_join}\n        where source_data.{UNIQUE_KEY_PREFIX}_1 is null{already}\n)",
                columns.valid_from,
                columns.updated_at,
                columns.valid_to,
                columns.scd_id,
                now = self.now,
            ));
        }
        if new_record {
            ctes.push(self.deletion_records(existing, &source_join, &not_already_deleted));
        }
        let mut selects = vec!["select * from insertions", "select * from updates"];
        if hard_deletes != HardDeletes::Ignore {
            selects.push("select * from deletes");
        }
        if new_record {
            selects.push("select * from deletion_records");
        }
        format!("with {}\n\n{}", ctes.join(",\n\n"), selects.join("\nunion all\n"))
    }

    /// `hard_deletes: new_record`: a version marked deleted for each row that
    /// left the source, carrying its last values.
    fn deletion_records(&self, existing: &Existing, source_join: &str, not_already_deleted: &str) -> String {
        let columns = &self.snapshot.columns;
        let values = existing.query_columns.iter().map(|column| {
            let from = if existing.table_columns.iter().any(|c| c.eq_ignore_ascii_case(column)) { "snapshotted_data" } else { "source_data" };
            format!("{from}.{}", self.sql.quote(column))
        });
        let keys = (1..=self.snapshot.unique_key.len()).map(|i| format!("snapshotted_data.{UNIQUE_KEY_PREFIX}_{i} as {UNIQUE_KEY_PREFIX}_{i}"));
        let new_scd_id = self.sql.hash_arguments(&[columns.scd_id.clone(), self.now.clone()]);
        let fields: Vec<String> = values
            .chain(keys)
            .chain([
                format!("{} as {}", self.now, columns.valid_from),
                format!("{} as {}", self.now, columns.updated_at),
                format!("snapshotted_data.{0} as {0}", columns.valid_to),
                format!("{new_scd_id} as {}", columns.scd_id),
                format!("'True' as {}", columns.is_deleted),
            ])
            .collect();
        format!(
            "deletion_records as (\n\n    select\n        'insert' as {CHANGE_TYPE},\n        {}\n    from snapshotted_data\n    left join deletes_source_data as source_data\n        on {source_join}\n    where source_data.{UNIQUE_KEY_PREFIX}_1 is null\n    and {not_already_deleted}\n\n)",
            fields.join(",\n        ")
        )
    }

    /// Closes the versions the staged changes replace (dbt-duckdb's update,
    /// valid BigQuery DML too).
    pub fn close_changed(&self, target: &Relation, staged: &Relation) -> String {
        let columns = &self.snapshot.columns;
        format!(
            "update {target} as dbt_internal_target\nset {valid_to} = dbt_internal_source.{valid_to}\nfrom {staged} as dbt_internal_source\nwhere dbt_internal_source.{scd_id} = dbt_internal_target.{scd_id}\n  and dbt_internal_source.{CHANGE_TYPE} in ('update', 'delete')\n  and {}",
            self.is_current("dbt_internal_target."),
            valid_to = columns.valid_to,
            scd_id = columns.scd_id,
        )
    }

    /// Which staged rows are new versions.
    pub fn inserted_rows(&self) -> String {
        format!("{CHANGE_TYPE} = 'insert'")
    }
}

/// What the warehouses' snapshot SQL tests share: one snapshot's statements.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::core::relation::QuoteStyle;
    use crate::core::snapshot::MetaColumns;

    pub(crate) fn statements(sql: &dyn SqlGenerator, snapshot: &Snapshot, quote: QuoteStyle) -> String {
        let target = Relation::new(None, "snapshots", "customers", quote);
        let staged = Relation::new(None, "snapshots", "customers__strata_new", quote);
        let now = sql.timestamp_literal(chrono::DateTime::from_timestamp(1_764_000_000, 123_456_000).expect("a time"));
        let snapshot_sql = SnapshotSql { snapshot, sql, now };
        let existing = Existing { table_columns: vec!["id".into(), "name".into()], query_columns: vec!["id".into(), "name".into(), "tier".into()] };
        let query = "select * from raw.customers";
        [
            snapshot_sql.first_build(query),
            snapshot_sql.staging(query, &target, &existing),
            snapshot_sql.close_changed(&target, &staged),
            snapshot_sql.inserted_rows(),
        ]
        .join(";\n\n")
    }

    pub(crate) fn snapshot(strategy: Strategy, hard_deletes: HardDeletes) -> Snapshot {
        Snapshot { strategy, unique_key: vec!["id".into()], hard_deletes, columns: MetaColumns::default(), valid_to_current: None }
    }
}
