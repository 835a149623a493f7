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

/// The columns of every fixture table: one of each type a model may carry,
/// `event_at` of the partitioning's type (those the dialect has).
fn columns(sql: &dyn SqlGenerator, event_at: PartitionType) -> Vec<Column> {
    let event_type = match event_at {
        PartitionType::Date => DataType::Date,
        PartitionType::Datetime => DataType::Datetime { precision: 6 },
        PartitionType::Timestamp => DataType::Timestamp,
    };
    [
        ("id", DataType::INT64),
        ("event_at", event_type),
        ("amount", DataType::Decimal { precision: 38, scale: 9 }),
        ("big", DataType::Decimal { precision: 76, scale: 38 }),
        ("tags", DataType::Array(Box::new(DataType::Text))),
        ("info", DataType::Struct(vec![("a".into(), DataType::INT64)])),
        ("payload", DataType::Json),
        ("digest", DataType::Bytes),
        ("place", DataType::Geography),
    ]
    .into_iter()
    .filter_map(|(name, data_type)| sql.type_name(&data_type).ok().map(|type_name| Column::new(name, type_name)))
    .collect()
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
            let partition = Partition { field: "event_at".into(), data_type, lookback: 1, granularity };
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
                ("table", sql.table_plan(&target, table, &options, &model)),
                ("partitioned incremental, first build", sql.partition_plan(&target, Present::default(), &options, &partition, range, false, &model)),
                ("partitioned incremental", sql.partition_plan(&target, table, &options, &partition, range, true, &model)),
                ("merge by unique_key", sql.merge_plan(&target, table, &options, &["id".into()], &model)),
            ];
            for (title, plan) in plans {
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
    let log_columns = [("schema_name", DataType::Text), ("table_name", DataType::Text), ("partition_date", DataType::Date)]
        .into_iter()
        .chain([("written_at", DataType::Timestamp), ("row_count", DataType::INT64), ("checksum", DataType::Text)])
        .filter_map(|(name, data_type)| sql.type_name(&data_type).ok().map(|type_name| Column::new(name, type_name)))
        .collect();
    review.tables.push((log.clone(), log_columns));
    review.statements.push(Statement { title: "reading the partition log".into(), sql: sql.read_partition_log(&log, (day.add_days(-9), day)) });
    review
}
