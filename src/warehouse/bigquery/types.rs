//! BigQuery's type names, read into [`DataType`] and written from it, and
//! the fields of a load job's schema. See:
//! <https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types>
//! and, for load jobs,
//! <https://cloud.google.com/bigquery/docs/reference/rest/v2/tables#TableFieldSchema>

use serde_json::{Value as Json, json};

use crate::sql::types::{DataType, nested, parameters, split_top_level, struct_field};

/// BigQuery's `NUMERIC`: 38 digits, 9 after the point.
const NUMERIC: (u16, u16) = (38, 9);
/// BigQuery's `BIGNUMERIC`: 76 digits (and a part of a 77th), 38 after the point.
const BIGNUMERIC: (u16, u16) = (76, 38);

/// A type as BigQuery names it (or an alias BigQuery takes), as a `DataType`.
pub fn parse(name: &str) -> DataType {
    let name = name.trim();
    if let Some(element) = nested(name, "ARRAY", '<', '>') {
        return DataType::Array(Box::new(parse(element)));
    }
    if let Some(fields) = nested(name, "STRUCT", '<', '>') {
        return DataType::Struct(
            split_top_level(fields)
                .iter()
                .map(|field| {
                    let (name, data_type) = struct_field(field, '`');
                    (name, parse(data_type))
                })
                .collect(),
        );
    }
    let Some((base, numbers)) = parameters(name) else { return DataType::Other(name.to_string()) };
    match (base.to_ascii_uppercase().as_str(), numbers.as_slice()) {
        ("INT64" | "INT" | "INTEGER" | "SMALLINT" | "BIGINT" | "TINYINT" | "BYTEINT", []) => DataType::INT64,
        ("FLOAT64" | "FLOAT", []) => DataType::FLOAT64,
        ("NUMERIC" | "DECIMAL", []) => DataType::Decimal { precision: NUMERIC.0, scale: NUMERIC.1 },
        ("BIGNUMERIC" | "BIGDECIMAL", []) => DataType::Decimal { precision: BIGNUMERIC.0, scale: BIGNUMERIC.1 },
        ("NUMERIC" | "DECIMAL" | "BIGNUMERIC" | "BIGDECIMAL", [precision]) => DataType::Decimal { precision: *precision, scale: 0 },
        ("NUMERIC" | "DECIMAL" | "BIGNUMERIC" | "BIGDECIMAL", [precision, scale]) => DataType::Decimal { precision: *precision, scale: *scale },
        ("BOOL" | "BOOLEAN", []) => DataType::Boolean,
        ("STRING", [] | [_]) => DataType::Text,
        ("BYTES", [] | [_]) => DataType::Bytes,
        ("DATE", []) => DataType::Date,
        ("TIME", []) => DataType::Time,
        ("DATETIME", []) => DataType::Datetime { precision: 6 },
        ("TIMESTAMP", []) => DataType::Timestamp,
        ("INTERVAL", []) => DataType::Interval,
        ("JSON", []) => DataType::Json,
        ("GEOGRAPHY", []) => DataType::Geography,
        _ => DataType::Other(name.to_string()),
    }
}

/// A decimal type's name and, where they are not its own, its precision and scale.
type Decimal = (&'static str, Option<(u16, u16)>);

/// The decimal type of BigQuery that holds `precision` digits, `scale` of
/// them after the point: `NUMERIC` (up to 9 after the point and 29 before),
/// `BIGNUMERIC` (up to 38 and 38), with the parameters where they are not
/// the type's own. See "Parameterized decimal type" in BigQuery's data types.
fn decimal(precision: u16, scale: u16) -> Result<Decimal, String> {
    let fits = |(most_digits, most_scale): (u16, u16)| scale <= most_scale && precision.saturating_sub(scale) <= most_digits - most_scale;
    let parameters = |own: (u16, u16)| ((precision, scale) != own).then_some((precision.max(1), scale));
    if fits(NUMERIC) {
        Ok(("NUMERIC", parameters(NUMERIC)))
    } else if fits(BIGNUMERIC) {
        Ok(("BIGNUMERIC", parameters(BIGNUMERIC)))
    } else {
        Err(format!("BigQuery's decimals hold at most 38 digits before the point and 38 after, not decimal({precision}, {scale})"))
    }
}

/// BigQuery's type for whole numbers of `bits` bits: `INT64`, or where
/// they may not fit it, the decimal that holds them all (a 128-bit integer
/// reaches 3.4e38, `BIGNUMERIC` 5.7e38).
fn integer(bits: u16, signed: bool) -> &'static str {
    match bits {
        0..64 => "INT64",
        64 if signed => "INT64",
        64 => "NUMERIC",
        _ => "BIGNUMERIC",
    }
}

/// BigQuery's name for `data_type`, or why BigQuery cannot hold its values exactly.
pub fn name(data_type: &DataType) -> Result<String, String> {
    Ok(match data_type {
        DataType::Boolean => "BOOL".into(),
        DataType::Integer { bits, signed } => integer(*bits, *signed).into(),
        DataType::Float { .. } => "FLOAT64".into(),
        DataType::Decimal { precision, scale } => match decimal(*precision, *scale)? {
            (name, None) => name.to_string(),
            (name, Some((precision, scale))) => format!("{name}({precision}, {scale})"),
        },
        DataType::Text | DataType::Uuid => "STRING".into(),
        DataType::Bytes => "BYTES".into(),
        DataType::Date => "DATE".into(),
        DataType::Time => "TIME".into(),
        DataType::Datetime { precision } if *precision <= 6 => "DATETIME".into(),
        DataType::Datetime { .. } => {
            return Err("BigQuery keeps microseconds, and these timestamps hold nanoseconds; cast them to `timestamp` (microseconds) first".into());
        }
        DataType::Timestamp => "TIMESTAMP".into(),
        DataType::Interval => "INTERVAL".into(),
        DataType::Json => "JSON".into(),
        DataType::Geography => "GEOGRAPHY".into(),
        DataType::Array(element) if matches!(**element, DataType::Array(_)) => {
            return Err("BigQuery has no array of arrays; wrap the inner arrays in structs".into());
        }
        DataType::Array(element) => format!("ARRAY<{}>", name(element)?),
        DataType::Struct(fields) => {
            let fields = fields.iter().map(|(field, data_type)| Ok(format!("`{field}` {}", name(data_type)?)));
            format!("STRUCT<{}>", fields.collect::<Result<Vec<_>, String>>()?.join(", "))
        }
        DataType::Other(other) => return Err(format!("BigQuery has no type `{other}`")),
    })
}

/// Whether BigQuery changes a column of type `from` to `to` in place
/// (`alter column ... set data type`): only to a type that holds every value
/// (INT64 to NUMERIC, BIGNUMERIC or FLOAT64; a decimal to a wider one or
/// FLOAT64; a longer STRING or BYTES). See:
/// https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_rules#coercion
pub fn widens(from: &DataType, to: &DataType) -> bool {
    match (from, to) {
        (DataType::Integer { .. }, DataType::Decimal { .. } | DataType::Float { .. }) => true,
        (DataType::Decimal { .. }, DataType::Float { .. }) => true,
        (DataType::Decimal { precision: p1, scale: s1 }, DataType::Decimal { precision: p2, scale: s2 }) => {
            s2 >= s1 && p2.saturating_sub(*s2) >= p1.saturating_sub(*s1)
        }
        (DataType::Text, DataType::Text) | (DataType::Bytes, DataType::Bytes) => true,
        _ => false,
    }
}

/// A field of a CSV load job's schema for a column of `data_type`: its
/// `type` one of the load API's names, precision and scale fields of their
/// own; or why a CSV load cannot carry the column.
pub fn load_field(column: &str, data_type: &DataType) -> Result<Json, String> {
    let mut field = json!({"name": column, "mode": "NULLABLE"});
    let load_type = match data_type {
        DataType::Boolean => "BOOLEAN",
        DataType::Integer { bits, signed } => match integer(*bits, *signed) {
            "INT64" => "INTEGER",
            decimal => decimal,
        },
        DataType::Decimal { precision, scale } => {
            let (decimal_type, parameters) = decimal(*precision, *scale)?;
            if let Some((precision, scale)) = parameters {
                field["precision"] = Json::String(precision.to_string());
                field["scale"] = Json::String(scale.to_string());
            }
            decimal_type
        }
        DataType::Float { .. } => "FLOAT",
        DataType::Text | DataType::Uuid => "STRING",
        DataType::Bytes => "BYTES",
        DataType::Date => "DATE",
        DataType::Time => "TIME",
        DataType::Datetime { .. } => {
            name(data_type)?;
            "DATETIME"
        }
        DataType::Timestamp => "TIMESTAMP",
        DataType::Json => "JSON",
        DataType::Geography => "GEOGRAPHY",
        DataType::Interval => return Err("a load job takes no INTERVAL column; cast it to text, or to a number of the unit it counts".into()),
        DataType::Array(_) | DataType::Struct(_) => {
            return Err(format!("a CSV load takes no nested values ({data_type}); turn them into JSON text (`to_json`) first"));
        }
        DataType::Other(other) => return Err(format!("BigQuery has no type `{other}`")),
    };
    field["type"] = Json::String(load_type.into());
    Ok(field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::duckdb::types as duckdb;

    #[test]
    fn reads_and_writes_bigquery_s_names() {
        for (written, read) in [
            ("INT64", DataType::INT64),
            ("NUMERIC", DataType::Decimal { precision: 38, scale: 9 }),
            ("NUMERIC(10, 2)", DataType::Decimal { precision: 10, scale: 2 }),
            ("BIGNUMERIC", DataType::Decimal { precision: 76, scale: 38 }),
            ("DATETIME", DataType::Datetime { precision: 6 }),
            ("TIMESTAMP", DataType::Timestamp),
            ("ARRAY<STRING>", DataType::Array(Box::new(DataType::Text))),
            ("STRUCT<`a` INT64, `b` BYTES>", DataType::Struct(vec![("a".into(), DataType::INT64), ("b".into(), DataType::Bytes)])),
        ] {
            assert_eq!(parse(written), read, "{written}");
            assert_eq!(name(&read).as_deref(), Ok(written), "{read:?}");
        }
        assert_eq!(parse("integer"), DataType::INT64);
        assert_eq!(parse("STRING(10)"), DataType::Text);
    }

    // Every DuckDB type a delivery carries, as BigQuery names it and as a load
    // job's schema sends it.
    #[test]
    fn duckdb_s_types_map_exactly() {
        let mapped: Vec<String> = [
            "BOOLEAN",
            "TINYINT",
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "HUGEINT",
            "UTINYINT",
            "UINTEGER",
            "UBIGINT",
            "UHUGEINT",
            "FLOAT",
            "DOUBLE",
            "DECIMAL(18, 3)",
            "DECIMAL(38, 9)",
            "DECIMAL(38, 10)",
            "DECIMAL(38, 0)",
            "VARCHAR",
            "BLOB",
            "UUID",
            "DATE",
            "TIME",
            "TIMESTAMP",
            "TIMESTAMP_MS",
            "TIMESTAMP_NS",
            "TIMESTAMP WITH TIME ZONE",
            "INTERVAL",
            "JSON",
            "INTEGER[]",
            "MAP(VARCHAR, INTEGER)",
        ]
        .iter()
        .map(|duckdb_name| {
            let data_type = duckdb::parse(duckdb_name);
            let load = load_field("c", &data_type).map(|mut field| {
                if let Some(field) = field.as_object_mut() {
                    field.retain(|key, _| key != "name" && key != "mode");
                }
                field.to_string()
            });
            format!("{duckdb_name:<26} {:<30} {}", name(&data_type).unwrap_or_else(|e| e), load.unwrap_or_else(|e| e))
        })
        .collect();
        insta::assert_snapshot!(mapped.join("\n"));
    }

    // A load job's field types are the load API's, whatever the column's
    // type; precision and scale are fields of their own.
    #[test]
    fn load_fields_name_only_the_load_api_s_types() {
        // See: https://cloud.google.com/bigquery/docs/reference/rest/v2/tables#TableFieldSchema.FIELDS.type
        const LOAD_TYPES: [&str; 17] = [
            "STRING",
            "BYTES",
            "INTEGER",
            "INT64",
            "FLOAT",
            "FLOAT64",
            "NUMERIC",
            "BIGNUMERIC",
            "BOOLEAN",
            "BOOL",
            "TIMESTAMP",
            "DATE",
            "TIME",
            "DATETIME",
            "GEOGRAPHY",
            "JSON",
            "RECORD",
        ];
        let names = ["HUGEINT", "DECIMAL(38, 10)", "SMALLINT", "TIMESTAMP WITH TIME ZONE", "UUID", "BLOB", "JSON", "TIMESTAMP_S", "UTINYINT", "REAL"];
        for name in names {
            let field = load_field("c", &duckdb::parse(name)).unwrap_or_else(|err| panic!("{name}: {err}"));
            let load_type = field["type"].as_str().unwrap_or_default();
            assert!(LOAD_TYPES.contains(&load_type), "{name} loads as {load_type}");
            assert!(!load_type.contains('('), "{name}: {load_type}");
        }
        for name in ["NUMERIC(10, 2)", "BIGNUMERIC(50, 20)", "INT64", "STRING(10)", "BYTES(4)", "DATETIME", "GEOGRAPHY", "JSON"] {
            let field = load_field("c", &parse(name)).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert!(field["type"].as_str().is_some_and(|t| LOAD_TYPES.contains(&t)), "{name}: {field}");
        }
    }
}
