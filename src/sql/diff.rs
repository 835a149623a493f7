//! The data diff of one model: its relation in this target against another
//! (production's, from `--state`, or another target's), compared inside the
//! warehouse in one query that returns the counts and a few sample rows of
//! each kind of change, so a diff costs one scan of each side and no rows
//! leave the warehouse but the samples.

use crate::core::relation::Relation;
use crate::core::table::{Cell, Table};
use crate::sql::SqlGenerator;

/// A column compared on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compared {
    pub name: String,
    /// Its type on each side: this target's, the other's.
    pub types: (String, String),
    /// Its type differs between the sides, or cannot be compared: compared as text.
    pub as_text: bool,
}

/// What to compare.
#[derive(Debug, Clone)]
pub struct DiffSpec<'a> {
    pub current: &'a Relation,
    pub previous: &'a Relation,
    /// The columns both sides have, keys included, in the current side's order.
    pub columns: Vec<Compared>,
    /// The columns rows are matched on; none: whole rows are, so a row is
    /// only added or removed, never changed.
    pub key: Vec<String>,
    /// A filter both sides are read with: the execution date's partition.
    pub filter: Option<String>,
    /// Sample rows per kind of change.
    pub samples: u64,
}

/// How a row differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Added,
    Removed,
    Changed,
    Same,
}

impl Category {
    fn parse(text: &str) -> Option<Category> {
        Some(match text {
            "added" => Category::Added,
            "removed" => Category::Removed,
            "changed" => Category::Changed,
            "same" => Category::Same,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Added => "added",
            Category::Removed => "removed",
            Category::Changed => "changed",
            Category::Same => "same",
        }
    }
}

/// A sample row: its key, and each column's value on both sides (`None`
/// where the row is not on that side).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub category: Category,
    pub key: Vec<Cell>,
    pub current: Option<Vec<Cell>>,
    pub previous: Option<Vec<Cell>>,
}

/// What the diff query found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowDiff {
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub same: u64,
    /// Per compared column that is not a key, the rows whose value changed.
    pub changed_columns: Vec<(String, u64)>,
    pub samples: Vec<Sample>,
}

impl RowDiff {
    pub fn has_changes(&self) -> bool {
        self.added + self.removed + self.changed > 0
    }
}

impl DiffSpec<'_> {
    /// The compared columns that are not keys; none when whole rows are
    /// matched, which are the same or not there.
    fn values(&self) -> impl Iterator<Item = &Compared> {
        self.columns.iter().filter(|column| !self.key.is_empty() && !self.key.contains(&column.name))
    }

    /// The one query: each side's rows, joined on the key (or on the whole
    /// row and its occurrence), each joined row given its category, then
    /// counted per category and per changed column, with the first
    /// `samples` rows of each category by key.
    pub fn query(&self, sql: &dyn SqlGenerator) -> String {
        let quote = |name: &str| sql.quote(name);
        // Each side casts a column compared as text from its own type.
        let projection = |current: bool| {
            self.columns
                .iter()
                .map(|column| {
                    let data_type = if current { &column.types.0 } else { &column.types.1 };
                    match column.as_text {
                        true => format!("{} as {}", sql.as_text(&quote(&column.name), data_type), quote(&column.name)),
                        false => quote(&column.name),
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let filter = self.filter.as_ref().map(|filter| format!(" where {filter}")).unwrap_or_default();
        let whole_rows = self.key.is_empty();
        let side = |relation: &Relation, current: bool| {
            let projection = projection(current);
            let extra = match whole_rows {
                true => {
                    let names: Vec<&str> = self.columns.iter().map(|column| column.name.as_str()).collect();
                    let text = sql.row_text(&names);
                    format!(", {text} as strata_row, row_number() over (partition by {text}) as strata_occurrence")
                }
                false => String::new(),
            };
            format!("select true as strata_present, rows_of_side.*{extra} from (select {projection} from {relation}{filter}) as rows_of_side")
        };
        let keys: Vec<String> = match whole_rows {
            true => vec!["strata_row".to_string(), "strata_occurrence".to_string()],
            false => self.key.iter().map(|key| quote(key)).collect(),
        };
        let join = keys.iter().map(|key| format!("c.{key} = p.{key}")).collect::<Vec<_>>().join(" and ");
        let values: Vec<String> = self.values().map(|column| quote(&column.name)).collect();
        let differs = |value: &String| format!("c.{value} is distinct from p.{value}");
        let changed = match values.is_empty() {
            true => "false".to_string(),
            false => values.iter().map(differs).collect::<Vec<_>>().join(" or "),
        };
        let mut compared = vec![format!(
            "case when p.strata_present is null then 'added' when c.strata_present is null then 'removed' when {changed} then 'changed' else 'same' end as strata_category"
        )];
        compared.extend(keys.iter().enumerate().map(|(i, key)| format!("coalesce(c.{key}, p.{key}) as strata_k{i}")));
        let shown: Vec<String> = self.columns.iter().map(|column| quote(&column.name)).collect();
        compared.extend(shown.iter().enumerate().map(|(i, column)| format!("c.{column} as strata_c{i}")));
        compared.extend(shown.iter().enumerate().map(|(i, column)| format!("p.{column} as strata_p{i}")));
        compared.extend(
            values
                .iter()
                .enumerate()
                .map(|(i, value)| format!("case when c.strata_present and p.strata_present and {} then 1 else 0 end as strata_d{i}", differs(value))),
        );
        let order = (0..keys.len()).map(|i| format!("strata_k{i}")).collect::<Vec<_>>().join(", ");
        let totals = (0..values.len()).map(|i| format!(", sum(strata_d{i}) over () as strata_t{i}")).collect::<String>();
        let output: Vec<String> = std::iter::once("strata_category".to_string())
            .chain(std::iter::once("strata_rows".to_string()))
            .chain((0..values.len()).map(|i| format!("strata_t{i}")))
            .chain((0..self.key.len()).map(|i| format!("strata_k{i}")))
            .chain((0..shown.len()).map(|i| format!("strata_c{i}")))
            .chain((0..shown.len()).map(|i| format!("strata_p{i}")))
            .collect();
        format!(
            "with current_rows as (\n  {current}\n), previous_rows as (\n  {previous}\n), compared as (\n  select {compared}\n  from current_rows as c full outer join previous_rows as p on {join}\n), ranked as (\n  select *, count(*) over (partition by strata_category) as strata_rows, row_number() over (partition by strata_category order by {order}) as strata_rank{totals}\n  from compared\n)\nselect {output}\nfrom ranked\nwhere strata_rank <= case when strata_category = 'same' then 1 else {samples} end\norder by strata_category, strata_rank",
            current = side(self.current, true),
            previous = side(self.previous, false),
            compared = compared.join(",\n    "),
            output = output.join(", "),
            samples = self.samples.max(1),
        )
    }

    /// Reads the rows of [`query`](Self::query) back.
    pub fn read(&self, table: &Table) -> Result<RowDiff, String> {
        let values: Vec<&Compared> = self.values().collect();
        let (keys, columns) = (self.key.len(), self.columns.len());
        let width = 2 + values.len() + keys + 2 * columns;
        let mut diff = RowDiff { changed_columns: values.iter().map(|column| (column.name.clone(), 0)).collect(), ..RowDiff::default() };
        for row in &table.rows {
            if row.len() != width {
                return Err(format!("the diff query returned {} columns, not {width}", row.len()));
            }
            let category = Category::parse(&row[0].to_string()).ok_or_else(|| format!("the diff query returned the category `{}`", row[0]))?;
            let count = count_of(&row[1])?;
            match category {
                Category::Added => diff.added = count,
                Category::Removed => diff.removed = count,
                Category::Changed => diff.changed = count,
                Category::Same => diff.same = count,
            }
            for (slot, total) in diff.changed_columns.iter_mut().zip(&row[2..2 + values.len()]) {
                slot.1 = count_of(total)?;
            }
            if category == Category::Same {
                continue;
            }
            let at = 2 + values.len();
            let current = row[at + keys..at + keys + columns].to_vec();
            let previous = row[at + keys + columns..].to_vec();
            diff.samples.push(Sample {
                category,
                key: row[at..at + keys].to_vec(),
                current: (category != Category::Removed).then_some(current),
                previous: (category != Category::Added).then_some(previous),
            });
        }
        Ok(diff)
    }
}

fn count_of(cell: &Cell) -> Result<u64, String> {
    match cell {
        Cell::Int(n) => u64::try_from(*n).map_err(|_| format!("the diff query counted {n} rows")),
        Cell::Null => Ok(0),
        other => other.as_count().ok_or_else(|| format!("the diff query returned `{other}` for a count")),
    }
}

/// What the warehouses' diff SQL tests share: a diff of three columns.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub(crate) fn spec<'a>(current: &'a Relation, previous: &'a Relation, key: &[&str]) -> DiffSpec<'a> {
        DiffSpec {
            current,
            previous,
            columns: vec![
                Compared { name: "order_id".into(), types: ("INT64".into(), "INT64".into()), as_text: false },
                Compared { name: "amount".into(), types: ("FLOAT64".into(), "ARRAY<INT64>".into()), as_text: true },
                Compared { name: "day".into(), types: ("DATE".into(), "DATE".into()), as_text: false },
            ],
            key: key.iter().map(|k| k.to_string()).collect(),
            filter: Some("\"day\" >= date '2026-11-20' and \"day\" < date '2026-11-21'".into()),
            samples: 3,
        }
    }
}
