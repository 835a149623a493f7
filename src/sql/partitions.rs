//! The partition log's name, and the tables whose date partitions
//! are asked for: what the SQL of partition status needs. Reading the
//! partitions is `warehouse::partitions`' job.

use crate::core::relation::Relation;

/// The name of the partition log, in the target schema.
pub const PARTITION_LOG: &str = "_strata_partitions";

/// A table partitioned by the day of a column, whose partitions are asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionedTable {
    pub relation: Relation,
    /// The column whose day is the partition (`partition_by`'s field, a source's `wait_for.partition`).
    pub field: String,
    /// A column that says when each row was loaded (a source's `loaded_at_field`):
    /// where the metadata does not say when a partition changed, its latest value does.
    pub loaded_at: Option<String>,
}
