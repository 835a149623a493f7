//! Which date partitions tables hold, and when each was written: from the
//! warehouse's own metadata where it keeps it (BigQuery's
//! `INFORMATION_SCHEMA.PARTITIONS`, one query per dataset, no table scanned),
//! else from a grouped count over the partition column; and from strata's
//! partition log, a small table in the target schema where every partition
//! write records when it was written, its rows and the checksum of its SQL
//! (DuckDB: in the transaction that writes it; BigQuery: appended by an
//! `insert` job right after it). The log tells a date written empty from one
//! never written, and which SQL built each date.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::core::dates::ExecutionDate;
use crate::core::relation::Relation;
use crate::core::relation::RelationKind;
use crate::core::table::{Cell, Table};
use crate::sql::SqlGenerator;
use crate::sql::partitions::PartitionedTable;
use crate::warehouse::{Connection, RelationKey, Schema, WarehouseError};

/// One date partition of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionInfo {
    pub rows: u64,
    /// When it was last written, where the warehouse (or strata's log) says.
    pub written_at: Option<DateTime<Utc>>,
}

/// What strata's partition log records of a partition it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub written_at: Option<DateTime<Utc>>,
    /// The rows it held when written.
    pub rows: u64,
    /// The checksum of the SQL it was written with.
    pub checksum: Option<String>,
}

/// The partitions of each table, by date; a table that does not exist is absent.
pub type Partitions = HashMap<RelationKey, BTreeMap<ExecutionDate, PartitionInfo>>;

/// What the partitions were read with: the partitions, and the queries sent (for `--output json`).
pub struct PartitionRead {
    pub partitions: Partitions,
    /// The partition log's record of each partition, where there is a log.
    pub logged: HashMap<(RelationKey, ExecutionDate), Logged>,
    pub queries: Vec<String>,
}

/// Reads the partitions `first..=last` of `tables`: one listing per schema,
/// one metadata query per dataset where the warehouse has partition
/// metadata, one grouped count for every other table together, and one read
/// of the partition log `log` where there is one.
pub fn read(
    connection: &mut dyn Connection,
    sql: &dyn SqlGenerator,
    tables: &[PartitionedTable],
    (first, last): (ExecutionDate, ExecutionDate),
    log: Option<&Relation>,
) -> Result<PartitionRead, WarehouseError> {
    let mut schemas: BTreeSet<Schema> = tables.iter().map(|t| (t.relation.database.clone(), t.relation.schema.clone().unwrap_or_default())).collect();
    if let Some(log) = log {
        schemas.insert((log.database.clone(), log.schema.clone().unwrap_or_default()));
    }
    let existing = connection.list_relations(&schemas.into_iter().collect::<Vec<_>>())?;
    let kind = |relation: &Relation| existing.get(&RelationKey::of(relation)).map(|e| e.kind);
    let present: Vec<&PartitionedTable> = tables.iter().filter(|t| kind(&t.relation).is_some()).collect();
    let mut partitions: Partitions = present.iter().map(|t| (RelationKey::of(&t.relation), BTreeMap::new())).collect();
    let mut queries = Vec::new();
    let mut logged: HashMap<(RelationKey, ExecutionDate), Logged> = HashMap::new();

    // Tables partitioned in the warehouse are read from its metadata, where it
    // keeps any; the others (DuckDB's, a source table without partitions) are counted.
    let mut counted: Vec<&PartitionedTable> = Vec::new();
    let mut by_dataset: BTreeMap<Schema, Vec<&PartitionedTable>> = BTreeMap::new();
    for table in &present {
        // The metadata's partitions are the days of the table's own partition
        // column: only where that is the column asked about (a source may be
        // partitioned by ingestion time, or by another column than its `wait_for`'s).
        let partitioned = existing.get(&RelationKey::of(&table.relation)).is_some_and(|e| {
            e.kind == RelationKind::Table && e.partition.as_ref().is_some_and(|(column, _)| same_partition_column(column, &table.field))
        });
        if partitioned && sql.partition_metadata(&table.relation, &[], (first, last)).is_some() {
            by_dataset.entry((table.relation.database.clone(), table.relation.schema.clone().unwrap_or_default())).or_default().push(table);
        } else {
            counted.push(table);
        }
    }
    for dataset in by_dataset.values() {
        read_metadata(connection, sql, dataset, (first, last), &mut partitions, &mut queries)?;
    }
    if !counted.is_empty() {
        let query = sql.partition_counts(&counted, (first, last));
        let table = connection.query_sql(&query)?;
        queries.push(query);
        for row in text_rows(&table) {
            let [Some(position), Some(date), rows, changed] = row.as_slice() else { continue };
            let (Some(table), Some(date)) = (position.parse::<usize>().ok().and_then(|p| counted.get(p)), parse_date(date)) else { continue };
            let info = PartitionInfo { rows: count(rows), written_at: micros(changed) };
            partitions.entry(RelationKey::of(&table.relation)).or_default().insert(date, info);
        }
    }
    if let Some(log) = log.filter(|log| kind(log).is_some()) {
        let query = sql.read_partition_log(log, (first, last));
        let table = connection.query_sql(&query)?;
        queries.push(query);
        // The latest record of each date counts (BigQuery's log is only appended to).
        for row in text_rows(&table) {
            let [Some(schema), Some(name), Some(date), written, rows, checksum] = row.as_slice() else { continue };
            let (key, Some(date)) = (RelationKey { database: log.database.clone(), schema: schema.clone(), name: name.clone() }, parse_date(date))
            else {
                continue;
            };
            let record = Logged { written_at: micros(written), rows: count(rows), checksum: checksum.clone() };
            match logged.get(&(key.clone(), date)) {
                Some(Logged { written_at: latest, .. }) if *latest >= record.written_at => {}
                _ => {
                    logged.insert((key, date), record);
                }
            }
        }
        for ((key, date), record) in &logged {
            let Some(dates) = partitions.get_mut(key) else { continue };
            match dates.get_mut(date) {
                // The later of the two: the metadata's time, where a write after strata's changed it.
                Some(info) => info.written_at = info.written_at.max(record.written_at),
                // Written without rows, as opposed to written with rows deleted since.
                None if record.rows == 0 => {
                    dates.insert(*date, PartitionInfo { rows: 0, written_at: record.written_at });
                }
                None => {}
            }
        }
    }
    Ok(PartitionRead { partitions, logged, queries })
}

/// The partitions of one dataset's `tables` in `first..=last`, from the
/// warehouse's metadata: a day holds its hours' rows, and each day of a
/// month (or year) is in its partition.
fn read_metadata(
    connection: &mut dyn Connection,
    sql: &dyn SqlGenerator,
    tables: &[&PartitionedTable],
    (first, last): (ExecutionDate, ExecutionDate),
    partitions: &mut Partitions,
    queries: &mut Vec<String>,
) -> Result<(), WarehouseError> {
    // BigQuery reads at most 1000 tables' partitions in one query.
    for chunk in tables.chunks(1000) {
        let names: Vec<&str> = chunk.iter().map(|t| t.relation.identifier.as_str()).collect();
        let Some(query) = sql.partition_metadata(&chunk[0].relation, &names, (first, last)) else { continue };
        let table = connection.query_sql(&query)?;
        queries.push(query);
        for row in text_rows(&table) {
            let [Some(name), Some(id), rows, written] = row.as_slice() else { continue };
            let (Some(table), Some((from, to))) = (chunk.iter().find(|t| &t.relation.identifier == name), partition_days(id)) else { continue };
            // A day holds its hours' rows; each day of a month (or year) is in its partition.
            let dates = partitions.entry(RelationKey::of(&table.relation)).or_default();
            let mut date = from.max(first);
            while date <= to.min(last) {
                let info = dates.entry(date).or_insert(PartitionInfo { rows: 0, written_at: None });
                info.rows += count(rows);
                info.written_at = info.written_at.max(micros(written));
                date = date.add_days(1);
            }
        }
    }
    Ok(())
}

/// Each row's cells as text, NULL as `None`.
fn text_rows(table: &Table) -> Vec<Vec<Option<String>>> {
    table.rows.iter().map(|row| row.iter().map(|cell| if matches!(cell, Cell::Null) { None } else { Some(cell.to_string()) }).collect()).collect()
}

fn count(cell: &Option<String>) -> u64 {
    cell.as_deref().and_then(|text| text.trim().parse::<f64>().ok()).map_or(0, |n| n.max(0.0) as u64)
}

/// A time given as microseconds since 1970 (text of an integer).
fn micros(cell: &Option<String>) -> Option<DateTime<Utc>> {
    let micros = cell.as_deref()?.trim().parse::<f64>().ok()? as i64;
    DateTime::from_timestamp_micros(micros)
}

fn parse_date(text: &str) -> Option<ExecutionDate> {
    chrono::NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok().map(ExecutionDate)
}

/// The first and last day of the partition whose id is `id`: an hour's
/// (`2026112013`), a day's (`20261120`), a month's (`202611`) or a year's
/// (`2026`); `None` for `__NULL__`, `__UNPARTITIONED__` and integer ranges.
fn partition_days(id: &str) -> Option<(ExecutionDate, ExecutionDate)> {
    let day = |text: &str| chrono::NaiveDate::parse_from_str(text, "%Y%m%d").ok().map(ExecutionDate);
    let digits = id.bytes().all(|b| b.is_ascii_digit());
    let (first, next) = match id.len() {
        8 | 10 if digits => {
            let date = day(&id[..8])?;
            (date, date.add_days(1))
        }
        6 if digits => {
            let first = day(&format!("{id}01"))?;
            (first, ExecutionDate(first.0.checked_add_months(chrono::Months::new(1))?))
        }
        4 if digits => {
            let first = day(&format!("{id}0101"))?;
            (first, ExecutionDate(first.0.checked_add_months(chrono::Months::new(12))?))
        }
        _ => return None,
    };
    Some((first, next.add_days(-1)))
}

/// Whether a table partitioned by `column` is partitioned by `field`:
/// the same column, or both ingestion time (`_PARTITIONTIME`, `_PARTITIONDATE`).
fn same_partition_column(column: &str, field: &str) -> bool {
    let ingestion = |name: &str| name.eq_ignore_ascii_case("_PARTITIONTIME") || name.eq_ignore_ascii_case("_PARTITIONDATE");
    column.eq_ignore_ascii_case(field.trim_matches('`')) || (ingestion(column) && ingestion(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_days_of_each_partition_id() {
        let days = |id: &str| partition_days(id).map(|(first, last)| format!("{}..{}", first.ds(), last.ds()));
        assert_eq!(days("20261120").as_deref(), Some("2026-11-20..2026-11-20"));
        assert_eq!(days("2026112023").as_deref(), Some("2026-11-20..2026-11-20"));
        assert_eq!(days("202602").as_deref(), Some("2026-02-01..2026-02-28"));
        assert_eq!(days("2026").as_deref(), Some("2026-01-01..2026-12-31"));
        assert_eq!(days("__NULL__"), None);
        assert_eq!(days("__UNPARTITIONED__"), None);
        assert_eq!(days("12345"), None);
        assert!(same_partition_column("_PARTITIONTIME", "_PARTITIONDATE") && same_partition_column("Event_Day", "event_day"));
        assert!(!same_partition_column("_PARTITIONTIME", "event_day") && !same_partition_column("loaded_at", "event_day"));
        assert_eq!(micros(&Some("1764547200000000".into())).map(|t| t.to_rfc3339()), Some("2025-12-01T00:00:00+00:00".to_string()));
    }
}
