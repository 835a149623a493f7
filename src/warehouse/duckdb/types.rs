//! DuckDB's type names, read into [`DataType`] and written from it. See:
//! <https://duckdb.org/docs/stable/sql/data_types/overview>

use crate::sql::types::{DataType, nested, parameters, split_top_level, struct_field};

/// A type as DuckDB names it (or any alias DuckDB takes), as a `DataType`.
pub fn parse(name: &str) -> DataType {
    let name = name.trim();
    if let Some(element) = name.strip_suffix("[]") {
        return DataType::Array(Box::new(parse(element)));
    }
    if let Some(fields) = nested(name, "STRUCT", '(', ')') {
        return DataType::Struct(
            split_top_level(fields)
                .iter()
                .map(|field| {
                    let (name, data_type) = struct_field(field, '"');
                    (name, parse(data_type))
                })
                .collect(),
        );
    }
    let Some((base, numbers)) = parameters(name) else { return DataType::Other(name.to_string()) };
    let int = |bits, signed| DataType::Integer { bits, signed };
    match (base.to_ascii_uppercase().as_str(), numbers.as_slice()) {
        ("BOOLEAN" | "BOOL" | "LOGICAL", []) => DataType::Boolean,
        ("TINYINT" | "INT1", []) => int(8, true),
        ("SMALLINT" | "INT2" | "SHORT", []) => int(16, true),
        ("INTEGER" | "INT" | "INT4" | "SIGNED", []) => int(32, true),
        ("BIGINT" | "INT8" | "LONG", []) => int(64, true),
        ("HUGEINT" | "INT128", []) => int(128, true),
        ("UTINYINT", []) => int(8, false),
        ("USMALLINT", []) => int(16, false),
        ("UINTEGER", []) => int(32, false),
        ("UBIGINT", []) => int(64, false),
        ("UHUGEINT", []) => int(128, false),
        ("FLOAT" | "FLOAT4" | "REAL", []) => DataType::Float { bits: 32 },
        ("DOUBLE" | "FLOAT8", []) => DataType::Float { bits: 64 },
        // DuckDB's DECIMAL without parameters is DECIMAL(18, 3).
        ("DECIMAL" | "NUMERIC", []) => DataType::Decimal { precision: 18, scale: 3 },
        ("DECIMAL" | "NUMERIC", [precision]) => DataType::Decimal { precision: *precision, scale: 0 },
        ("DECIMAL" | "NUMERIC", [precision, scale]) => DataType::Decimal { precision: *precision, scale: *scale },
        ("VARCHAR" | "TEXT" | "STRING" | "CHAR" | "BPCHAR", _) => DataType::Text,
        ("BLOB" | "BYTEA" | "BINARY" | "VARBINARY", []) => DataType::Bytes,
        ("DATE", []) => DataType::Date,
        ("TIME", []) => DataType::Time,
        ("TIMESTAMP" | "DATETIME", []) => DataType::Datetime { precision: 6 },
        ("TIMESTAMP_US", []) => DataType::Datetime { precision: 6 },
        ("TIMESTAMP_MS", []) => DataType::Datetime { precision: 3 },
        ("TIMESTAMP_S", []) => DataType::Datetime { precision: 0 },
        ("TIMESTAMP_NS", []) => DataType::Datetime { precision: 9 },
        ("TIMESTAMP WITH TIME ZONE" | "TIMESTAMPTZ", []) => DataType::Timestamp,
        ("INTERVAL", []) => DataType::Interval,
        ("JSON", []) => DataType::Json,
        ("UUID", []) => DataType::Uuid,
        _ => DataType::Other(name.to_string()),
    }
}

/// DuckDB's name for `data_type`, or why DuckDB cannot hold its values exactly.
pub fn name(data_type: &DataType) -> Result<String, String> {
    Ok(match data_type {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Integer { bits, signed } => {
            let name = match bits {
                0..=8 => "TINYINT",
                9..=16 => "SMALLINT",
                17..=32 => "INTEGER",
                33..=64 => "BIGINT",
                _ => "HUGEINT",
            };
            if *signed { name.into() } else { format!("U{name}") }
        }
        DataType::Float { bits } => if *bits <= 32 { "FLOAT" } else { "DOUBLE" }.into(),
        DataType::Decimal { precision, scale } if *precision <= 38 => format!("DECIMAL({precision}, {scale})"),
        DataType::Decimal { precision, .. } => {
            return Err(format!("DuckDB's decimals hold at most 38 digits, not {precision}; cast it to a narrower decimal or a double"));
        }
        DataType::Text | DataType::Geography => "VARCHAR".into(),
        DataType::Bytes => "BLOB".into(),
        DataType::Date => "DATE".into(),
        DataType::Time => "TIME".into(),
        DataType::Datetime { precision: 0 } => "TIMESTAMP_S".into(),
        DataType::Datetime { precision: 1..=3 } => "TIMESTAMP_MS".into(),
        DataType::Datetime { precision: 4..=6 } => "TIMESTAMP".into(),
        DataType::Datetime { .. } => "TIMESTAMP_NS".into(),
        DataType::Timestamp => "TIMESTAMP WITH TIME ZONE".into(),
        DataType::Interval => "INTERVAL".into(),
        DataType::Json => "JSON".into(),
        DataType::Uuid => "UUID".into(),
        DataType::Array(element) => format!("{}[]", name(element)?),
        DataType::Struct(fields) => {
            let fields = fields.iter().map(|(field, data_type)| Ok(format!("\"{}\" {}", field.replace('"', "\"\""), name(data_type)?)));
            format!("STRUCT({})", fields.collect::<Result<Vec<_>, String>>()?.join(", "))
        }
        DataType::Other(other) => return Err(format!("DuckDB has no type `{other}`")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_duckdb_s_names() {
        for (written, read) in [
            ("INTEGER", DataType::Integer { bits: 32, signed: true }),
            ("HUGEINT", DataType::Integer { bits: 128, signed: true }),
            ("UBIGINT", DataType::Integer { bits: 64, signed: false }),
            ("DECIMAL(38, 9)", DataType::Decimal { precision: 38, scale: 9 }),
            ("TIMESTAMP", DataType::Datetime { precision: 6 }),
            ("TIMESTAMP_NS", DataType::Datetime { precision: 9 }),
            ("TIMESTAMP WITH TIME ZONE", DataType::Timestamp),
            ("BLOB", DataType::Bytes),
            ("JSON", DataType::Json),
            ("INTEGER[]", DataType::Array(Box::new(DataType::Integer { bits: 32, signed: true }))),
            ("STRUCT(\"a\" INTEGER, \"b c\" VARCHAR)", DataType::Struct(vec![("a".into(), parse("INTEGER")), ("b c".into(), DataType::Text)])),
        ] {
            assert_eq!(parse(written), read, "{written}");
            assert_eq!(name(&read).as_deref(), Ok(written), "{read:?}");
        }
        assert_eq!(parse("decimal(18,2)"), DataType::Decimal { precision: 18, scale: 2 });
        assert_eq!(parse("timestamptz"), DataType::Timestamp);
        assert_eq!(parse("MAP(VARCHAR, INTEGER)"), DataType::Other("MAP(VARCHAR, INTEGER)".into()));
        assert!(name(&DataType::Decimal { precision: 76, scale: 38 }).is_err());
    }
}
