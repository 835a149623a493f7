//! A table's columns, and how an incremental model's columns are matched to
//! its table's (`on_schema_change`, as dbt reads it): by name, never by position.

/// A column as the warehouse describes it: its name and its type in the
/// warehouse's own SQL (`INT64`, `VARCHAR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub data_type: String,
}

impl Column {
    pub fn new(name: impl Into<String>, data_type: impl Into<String>) -> Column {
        Column { name: name.into(), data_type: data_type.into() }
    }
}

/// What an incremental run does when the model's columns are not its table's
/// (dbt's `on_schema_change`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnSchemaChange {
    /// The columns both have are written; a new column is left out, a removed one gets NULL.
    #[default]
    Ignore,
    /// Nothing is written, and the run says which columns differ.
    Fail,
    /// New columns are added to the table first; removed ones get NULL.
    AppendNewColumns,
    /// The table's columns become the model's: new ones added, removed ones
    /// dropped, changed types changed.
    SyncAllColumns,
}

impl OnSchemaChange {
    pub const NAMES: [&'static str; 4] = ["ignore", "fail", "append_new_columns", "sync_all_columns"];

    pub fn parse(name: &str) -> Option<OnSchemaChange> {
        match name {
            "ignore" => Some(OnSchemaChange::Ignore),
            "fail" => Some(OnSchemaChange::Fail),
            "append_new_columns" => Some(OnSchemaChange::AppendNewColumns),
            "sync_all_columns" => Some(OnSchemaChange::SyncAllColumns),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnSchemaChange::Ignore => "ignore",
            OnSchemaChange::Fail => "fail",
            OnSchemaChange::AppendNewColumns => "append_new_columns",
            OnSchemaChange::SyncAllColumns => "sync_all_columns",
        }
    }
}

/// How a model's columns differ from its table's, names compared without
/// case (as both warehouses compare them); dbt's `check_for_schema_changes`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnChanges {
    /// The model's columns the table lacks.
    pub added: Vec<Column>,
    /// The table's columns the model lacks.
    pub removed: Vec<Column>,
    /// The columns both have with another type, with the model's type.
    pub retyped: Vec<Column>,
}

fn find<'a>(columns: &'a [Column], name: &str) -> Option<&'a Column> {
    columns.iter().find(|column| column.name.eq_ignore_ascii_case(name))
}

impl ColumnChanges {
    pub fn between(table: &[Column], model: &[Column]) -> ColumnChanges {
        let added = model.iter().filter(|column| find(table, &column.name).is_none()).cloned().collect();
        let removed = table.iter().filter(|column| find(model, &column.name).is_none()).cloned().collect();
        let retyped = model
            .iter()
            .filter(|column| find(table, &column.name).is_some_and(|old| !old.data_type.eq_ignore_ascii_case(&column.data_type)))
            .cloned()
            .collect();
        ColumnChanges { added, removed, retyped }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.retyped.is_empty()
    }

    /// The columns an insert names once `on_schema_change` has changed the
    /// table: the model's columns the table then has, in the model's order.
    pub fn written<'a>(&self, model: &'a [Column], on_schema_change: OnSchemaChange) -> Vec<&'a Column> {
        let adds = matches!(on_schema_change, OnSchemaChange::AppendNewColumns | OnSchemaChange::SyncAllColumns);
        model.iter().filter(|column| adds || find(&self.added, &column.name).is_none()).collect()
    }

    /// The differences a user reads, one clause each: ``new `c` (STRING)``.
    pub fn describe(&self) -> Vec<String> {
        let list = |columns: &[Column], with_type: bool| {
            columns
                .iter()
                .map(|c| if with_type { format!("`{}` ({})", c.name, c.data_type) } else { format!("`{}`", c.name) })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut clauses = Vec::new();
        if !self.added.is_empty() {
            clauses.push(format!("the model adds {}", list(&self.added, true)));
        }
        if !self.removed.is_empty() {
            clauses.push(format!("the model no longer has {}", list(&self.removed, false)));
        }
        if !self.retyped.is_empty() {
            clauses.push(format!("the model changes the type of {}", list(&self.retyped, true)));
        }
        clauses
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(spec: &[(&str, &str)]) -> Vec<Column> {
        spec.iter().map(|(name, data_type)| Column::new(*name, *data_type)).collect()
    }

    #[test]
    fn changes_are_found_by_name_whatever_the_order() {
        let table = columns(&[("id", "INT64"), ("name", "STRING"), ("amount", "INT64")]);
        let reordered = columns(&[("amount", "INT64"), ("ID", "int64"), ("name", "STRING")]);
        assert!(ColumnChanges::between(&table, &reordered).is_empty());
        let changed = columns(&[("id", "INT64"), ("amount", "FLOAT64"), ("extra", "DATE")]);
        let changes = ColumnChanges::between(&table, &changed);
        assert_eq!(changes.added, columns(&[("extra", "DATE")]));
        assert_eq!(changes.removed, columns(&[("name", "STRING")]));
        assert_eq!(changes.retyped, columns(&[("amount", "FLOAT64")]));
        assert_eq!(
            changes.describe(),
            ["the model adds `extra` (DATE)", "the model no longer has `name`", "the model changes the type of `amount` (FLOAT64)"]
        );
        let names = |on: OnSchemaChange| changes.written(&changed, on).iter().map(|c| c.name.as_str()).collect::<Vec<_>>();
        assert_eq!(names(OnSchemaChange::Ignore), ["id", "amount"]);
        assert_eq!(names(OnSchemaChange::AppendNewColumns), ["id", "amount", "extra"]);
        assert_eq!(names(OnSchemaChange::SyncAllColumns), ["id", "amount", "extra"]);
    }
}
