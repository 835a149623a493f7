//! Every statement a dialect generates, over a fixture of tables whose
//! columns and types are known, for checking a dialect against its
//! warehouse's rules beyond what an emulator accepts: the plans of each
//! materialization and strategy over tables partitioned by a DATE, a
//! DATETIME and a TIMESTAMP column at each granularity, schema changes,
//! partition status and the partition log. The tests type BigQuery's with
//! SQLGlot (`tests/emulator/check_types.py`).

use crate::core::columns::{Column, ColumnChanges, OnSchemaChange};
use crate::core::dates::ExecutionDate;
use crate::core::partition::{Granularity, Partition, PartitionType, WrittenPartitions};
use crate::core::relation::{Relation, RelationKind};
use crate::sql::partitions::PartitionedTable;
use crate::sql::plan::{Plan, Present, Step, TableOptions};
use crate::sql::types::DataType;
use crate::sql::{SqlGenerator, staging_for, staging_relation};

/// One statement, named by what sends it.
#[derive(Debug, Clone)]
pub struct Statement {
    pub title: String,
    pub sql: String,
}

/// The tables the statements read and write, with their columns, and the statements.
#[derive(Debug, Default)]
pub struct Review {
    pub tables: Vec<(Relation, Vec<Column>)>,
    pub statements: Vec<Statement>,
}

/// Columns of these names and types, as the dialect names them (those it has).
fn typed(sql: &dyn SqlGenerator, columns: impl IntoIterator<Item = (String, DataType)>) -> Vec<Column> {
    columns.into_iter().filter_map(|(name, data_type)| sql.type_name(&data_type).ok().map(|type_name| Column::new(name, type_name))).collect()
}

/// The columns of every fixture table: one of each type a model may carry,
/// `event_at` of the partitioning's type (those the dialect has).
fn columns(sql: &dyn SqlGenerator, event_at: PartitionType) -> Vec<Column> {
    let event_type = match event_at {
        PartitionType::Date => DataType::Date,
        PartitionType::Datetime => DataType::Datetime { precision: 6 },
        PartitionType::Timestamp => DataType::Timestamp,
    };
    let columns = [
        ("id", DataType::INT64),
        ("event_at", event_type),
        ("amount", DataType::Decimal { precision: 38, scale: 9 }),
        ("big", DataType::Decimal { precision: 76, scale: 38 }),
        ("tags", DataType::Array(Box::new(DataType::Text))),
        ("info", DataType::Struct(vec![("a".into(), DataType::INT64)])),
        ("payload", DataType::Json),
        ("digest", DataType::Bytes),
        ("place", DataType::Geography),
    ];
    typed(sql, columns.map(|(name, data_type)| (name.to_string(), data_type)))
}

/// Every statement of `plan`, an insert's with the columns `columns`.
fn statements_of(sql: &dyn SqlGenerator, plan: &Plan, columns: &str) -> Vec<String> {
    plan.steps
        .iter()
        .flat_map(|step| match step {
            Step::Run { job, .. } => vec![job.sql.clone()],
            Step::Guard { count, .. } => vec![count.sql.clone()],
            Step::Insert { insert, .. } => sql.write(insert, columns).into_iter().map(|job| job.sql).collect(),
            Step::Load { .. } => Vec::new(),
            // Its metadata query reads INFORMATION_SCHEMA, which has no fixture table.
            Step::Copy { copy, fallback } => copy
                .partitions
                .iter()
                .map(|(_, empty)| empty.clone())
                .chain(statements_of(sql, &Plan { steps: fallback.clone(), ..Plan::default() }, columns))
                .collect(),
        })
        .collect()
}

/// The statements of `sql` over tables of `database`.`schema`.
pub fn statements(sql: &dyn SqlGenerator, database: Option<&str>, schema: &str) -> Review {
    let mut review = Review::default();
    let relation = |name: &str| Relation::new(database.map(str::to_string), schema, name, sql.quote_style());
    let day = ExecutionDate(chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default());
    let log = sql.partition_log(database.map(str::to_string), schema);
    let table = Present { relation: Some(RelationKind::Table), ..Present::default() };
    let cases = [
        (PartitionType::Date, &[Granularity::Day, Granularity::Month, Granularity::Year][..]),
        (PartitionType::Datetime, &[Granularity::Hour, Granularity::Day, Granularity::Month, Granularity::Year][..]),
        (PartitionType::Timestamp, &[Granularity::Hour, Granularity::Day, Granularity::Month, Granularity::Year][..]),
    ];
    for (data_type, granularities) in cases {
        let columns = columns(sql, data_type);
        let column_list = sql.column_list(&columns.iter().collect::<Vec<_>>());
        for &granularity in granularities {
            let name = format!("events_{}_{}", data_type.as_str(), granularity.as_str());
            let (source, target) = (relation(&format!("src_{name}")), relation(&name));
            for table in [&source, &target, &staging_for(&target, Some("inv")), &staging_relation(&target, "new")] {
                review.tables.push((table.clone(), columns.clone()));
            }
            let partition = Partition { field: "event_at".into(), data_type, lookback: 1, granularity, copy_partitions: false };
            let options = TableOptions {
                partition: Some(partition.clone()),
                cluster_by: vec!["id".into()],
                require_partition_filter: true,
                invocation: Some("inv".into()),
                partition_log: Some(log.clone()),
                checksum: Some("checksum".into()),
                on_schema_change: OnSchemaChange::SyncAllColumns,
                ..TableOptions::default()
            };
            let model = format!("select * from {source}");
            let range = partition.range(day);
            let plans = [
                ("view", sql.view_plan(&relation(&format!("{name}_view")), table, &model)),
                ("table", sql.table_plan(&target, table, &options, &model)),
                ("partitioned incremental, first build", sql.partition_plan(&target, Present::default(), &options, &partition, range, false, &model)),
                ("partitioned incremental", sql.partition_plan(&target, table, &options, &partition, range, true, &model)),
                ("merge by unique_key", sql.merge_plan(&target, table, &options, &["id".into()], &model)),
            ];
            let copied = Partition { copy_partitions: true, ..partition.clone() };
            let copying = (granularity == Granularity::Day).then(|| {
                ("partitioned incremental with copy_partitions", sql.partition_plan(&target, table, &options, &copied, range, true, &model))
            });
            for (title, plan) in plans.into_iter().chain(copying) {
                for statement in statements_of(sql, &plan, &column_list) {
                    review.statements.push(Statement { title: format!("{name}: {title}"), sql: statement });
                }
            }
            let mut retyped = columns.clone();
            retyped[0] = Column::new("id", sql.type_name(&DataType::Text).unwrap_or_default());
            let insert = crate::sql::plan::Insert::new(&target, &staging_for(&target, Some("inv")), OnSchemaChange::SyncAllColumns, Vec::new())
                .laid_out(&options);
            let changes = ColumnChanges::between(&columns, &retyped);
            let written = |first: ExecutionDate, rows: Option<u64>| WrittenPartitions {
                relation: target.clone(),
                partition: partition.clone(),
                first,
                last: day,
                rows,
                checksum: Some("checksum".into()),
            };
            let partitioned = PartitionedTable { relation: target.clone(), field: "event_at".into(), loaded_at: None };
            let more = [
                ("a column's type changed", sql.alter_columns(&insert, &columns, &changes)),
                ("the partition log", vec![sql.log_written(&log, &[written(day, Some(3)), written(range.0, None)])]),
                ("partition counts", vec![sql.partition_counts(&[&partitioned], range)]),
            ];
            for (title, sqls) in more {
                review.statements.extend(sqls.into_iter().map(|sql| Statement { title: format!("{name}: {title}"), sql }));
            }
        }
    }
    snapshots(sql, &relation, &mut review);
    diffs_and_tests(sql, &relation, &mut review);
    let log_columns = [
        ("schema_name", DataType::Text),
        ("table_name", DataType::Text),
        ("partition_date", DataType::Date),
        ("written_at", DataType::Timestamp),
        ("row_count", DataType::INT64),
        ("checksum", DataType::Text),
    ];
    let log_columns = typed(sql, log_columns.map(|(name, data_type)| (name.to_string(), data_type)));
    review.tables.push((log.clone(), log_columns));
    review.statements.push(Statement { title: "reading the partition log".into(), sql: sql.read_partition_log(&log, (day.add_days(-9), day)) });
    review
}

/// A snapshot of a table with an `updated_at` and a checked column, by each
/// strategy and each `hard_deletes`: its first build, the staging select of
/// changes, the update that closes changed versions and the insert of new ones.
fn snapshots(sql: &dyn SqlGenerator, relation: &dyn Fn(&str) -> Relation, review: &mut Review) {
    use crate::core::snapshot::{CheckColumns, HardDeletes, MetaColumns, Snapshot, Strategy};
    use crate::sql::snapshot::{Existing, SnapshotSql};
    let source_columns = typed(sql, [("id".into(), DataType::INT64), ("tier".into(), DataType::Text), ("updated_at".into(), DataType::Timestamp)]);
    let meta = MetaColumns::default();
    let mut snapshot_columns = source_columns.clone();
    snapshot_columns.extend(typed(
        sql,
        [
            (meta.scd_id.clone(), DataType::Text),
            (meta.updated_at.clone(), DataType::Timestamp),
            (meta.valid_from.clone(), DataType::Timestamp),
            (meta.valid_to.clone(), DataType::Timestamp),
            (meta.is_deleted.clone(), DataType::Text),
        ],
    ));
    let source = relation("snapshot_source");
    review.tables.push((source.clone(), source_columns));
    let now = sql.timestamp_literal(chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default());
    let strategies = [
        ("timestamp", Strategy::Timestamp { updated_at: "updated_at".into() }),
        ("check", Strategy::Check { columns: CheckColumns::Listed(vec!["tier".into()]), updated_at: None }),
    ];
    for (strategy_name, strategy) in strategies {
        for (deletes_name, hard_deletes) in
            [("ignore", HardDeletes::Ignore), ("invalidate", HardDeletes::Invalidate), ("new_record", HardDeletes::NewRecord)]
        {
            let name = format!("snapshot_{strategy_name}_{deletes_name}");
            let (target, staged) = (relation(&name), relation(&format!("{name}__strata_new")));
            let snapshot =
                Snapshot { strategy: strategy.clone(), unique_key: vec!["id".into()], hard_deletes, columns: meta.clone(), valid_to_current: None };
            let snapshot_sql = SnapshotSql { snapshot: &snapshot, sql, now: now.clone() };
            let names = |columns: &[Column]| columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
            let existing = Existing { table_columns: names(&snapshot_columns), query_columns: vec!["id".into(), "tier".into(), "updated_at".into()] };
            let query = format!("select * from {source}");
            let staging = snapshot_sql.staging(&query, &target, &existing);
            let mut staged_columns = snapshot_columns.clone();
            staged_columns.extend(typed(sql, snapshot_sql.internal_columns().into_iter().map(|c| (c, DataType::Text))));
            review.tables.push((target.clone(), snapshot_columns.clone()));
            review.tables.push((staged.clone(), staged_columns));
            for statement in [snapshot_sql.first_build(&query), staging, snapshot_sql.close_changed(&target, &staged)] {
                review.statements.push(Statement { title: format!("{name}: snapshot"), sql: statement });
            }
        }
    }
}

/// A diff of two builds of a table by key, and a unit test's rows of each
/// type as the dialect writes them.
fn diffs_and_tests(sql: &dyn SqlGenerator, relation: &dyn Fn(&str) -> Relation, review: &mut Review) {
    use crate::sql::diff::{Compared, DiffSpec};
    let columns = columns(sql, PartitionType::Date);
    let (current, previous) = (relation("diffed"), relation("diffed_previous"));
    review.tables.push((current.clone(), columns.clone()));
    review.tables.push((previous.clone(), columns.clone()));
    let compared = columns
        .iter()
        .map(|c| Compared { name: c.name.clone(), types: (c.data_type.clone(), c.data_type.clone()), as_text: !sql.comparable(&c.data_type) })
        .collect();
    let partition =
        Partition { field: "event_at".into(), data_type: PartitionType::Date, lookback: 0, granularity: Granularity::Day, copy_partitions: false };
    let day = ExecutionDate(chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default());
    let spec = DiffSpec {
        current: &current,
        previous: &previous,
        columns: compared,
        key: vec!["id".into()],
        filter: Some(sql.partition_range(&partition, day, day)),
        samples: 3,
    };
    review.statements.push(Statement { title: "diff by key".into(), sql: spec.query(sql) });
    let values = [
        ("id", serde_json::json!(1)),
        ("event_at", serde_json::json!("2026-11-20")),
        ("amount", serde_json::json!("12.50")),
        ("big", serde_json::json!("1.5")),
        ("tags", serde_json::json!(["a", "b"])),
        ("info", serde_json::json!({"a": 2})),
        ("payload", serde_json::json!({"k": [1]})),
        ("digest", serde_json::json!("AAE=")),
        ("place", serde_json::json!("st_geogpoint(1, 2)")),
    ];
    let fields: Vec<String> = columns
        .iter()
        .filter_map(|c| {
            values
                .iter()
                .find(|(name, _)| *name == c.name)
                .map(|(_, value)| format!("{} as {}", sql.typed_value(value, &c.data_type), sql.quote(&c.name)))
        })
        .collect();
    review.statements.push(Statement { title: "a unit test's given rows".into(), sql: format!("select {}", fields.join(", ")) });
}
