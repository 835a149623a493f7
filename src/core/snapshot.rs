//! What a snapshot keeps and how (dbt's snapshot config, read into types): the
//! strategy that tells a changed row, the unique key, what a deleted row
//! becomes, and the names of the columns that carry each version's validity.
//! The SQL that applies it is `sql::snapshot`'s.

/// How a snapshot tells that a row changed since its current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// The row's `updated_at` column is later than the current version's.
    Timestamp { updated_at: String },
    /// One of the `columns` differs; versions are stamped with `updated_at`
    /// when given, else with the time of the snapshot.
    Check { columns: CheckColumns, updated_at: Option<String> },
}

/// `check_cols`: every column of the query, or the ones listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckColumns {
    All,
    Listed(Vec<String>),
}

/// What becomes of a row that left the source (dbt's `hard_deletes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HardDeletes {
    /// Its current version stays current.
    #[default]
    Ignore,
    /// Its current version is closed at the time of the snapshot.
    Invalidate,
    /// Its current version is closed, and a version marked deleted
    /// (`dbt_is_deleted = 'True'`) is added.
    NewRecord,
}

impl HardDeletes {
    pub const NAMES: [&'static str; 3] = ["ignore", "invalidate", "new_record"];

    pub fn parse(name: &str) -> Option<HardDeletes> {
        match name {
            "ignore" => Some(HardDeletes::Ignore),
            "invalidate" => Some(HardDeletes::Invalidate),
            "new_record" => Some(HardDeletes::NewRecord),
            _ => None,
        }
    }
}

/// The names of the columns a snapshot adds (`snapshot_meta_column_names`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaColumns {
    pub valid_from: String,
    pub valid_to: String,
    pub scd_id: String,
    pub updated_at: String,
    pub is_deleted: String,
}

impl Default for MetaColumns {
    fn default() -> MetaColumns {
        MetaColumns {
            valid_from: "dbt_valid_from".into(),
            valid_to: "dbt_valid_to".into(),
            scd_id: "dbt_scd_id".into(),
            updated_at: "dbt_updated_at".into(),
            is_deleted: "dbt_is_deleted".into(),
        }
    }
}

/// A snapshot's config, as strata applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub strategy: Strategy,
    /// The expressions that identify a row: one column, or several.
    pub unique_key: Vec<String>,
    pub hard_deletes: HardDeletes,
    pub columns: MetaColumns,
    /// The `dbt_valid_to` of current versions: SQL such as
    /// `'9999-12-31'::timestamp`, else NULL.
    pub valid_to_current: Option<String>,
}
