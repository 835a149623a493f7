//! Column types in terms every warehouse shares, so a value typed by one
//! warehouse is typed exactly in another (a delivery from DuckDB into
//! BigQuery, an export read back through DuckDB). Each dialect parses its own
//! type names into a [`DataType`] and names a `DataType` in its SQL, or says
//! why it cannot hold it ([`crate::sql::SqlGenerator::parse_type`] and
//! [`crate::sql::SqlGenerator::type_name`]).

use std::fmt;

/// A column's type, by what its values are rather than by any warehouse's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataType {
    Boolean,
    /// A whole number of `bits` bits (8 to 128), signed or not.
    Integer {
        bits: u16,
        signed: bool,
    },
    /// A binary floating-point number of `bits` bits (32 or 64).
    Float {
        bits: u16,
    },
    /// An exact decimal with `precision` digits, `scale` of them after the point.
    Decimal {
        precision: u16,
        scale: u16,
    },
    Text,
    Bytes,
    Date,
    /// A time of day, without a zone.
    Time,
    /// A date and time of day without a zone (DuckDB's `TIMESTAMP`, BigQuery's
    /// `DATETIME`), to `precision` digits of a second (6: microseconds).
    Datetime {
        precision: u16,
    },
    /// An instant (DuckDB's `TIMESTAMP WITH TIME ZONE`, BigQuery's `TIMESTAMP`).
    Timestamp,
    Interval,
    Json,
    Uuid,
    /// A geography, written as well-known text.
    Geography,
    Array(Box<DataType>),
    Struct(Vec<(String, DataType)>),
    /// A type this warehouse has and the others do not (DuckDB's `MAP`,
    /// `UNION`, `BIT`), by its name there.
    Other(String),
}

impl DataType {
    /// A 64-bit signed integer: BigQuery's `INT64`, DuckDB's `BIGINT`.
    pub const INT64: DataType = DataType::Integer { bits: 64, signed: true };
    pub const FLOAT64: DataType = DataType::Float { bits: 64 };

    /// Whether values of this type are one value each (neither an array nor a struct).
    pub fn is_scalar(&self) -> bool {
        !matches!(self, DataType::Array(_) | DataType::Struct(_))
    }
}

/// How the type is described in messages: by what it holds.
impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Boolean => f.write_str("boolean"),
            DataType::Integer { bits, signed: true } => write!(f, "{bits}-bit integer"),
            DataType::Integer { bits, signed: false } => write!(f, "unsigned {bits}-bit integer"),
            DataType::Float { bits } => write!(f, "{bits}-bit float"),
            DataType::Decimal { precision, scale } => write!(f, "decimal({precision}, {scale})"),
            DataType::Text => f.write_str("text"),
            DataType::Bytes => f.write_str("bytes"),
            DataType::Date => f.write_str("date"),
            DataType::Time => f.write_str("time"),
            DataType::Datetime { precision: 6 } => f.write_str("timestamp without time zone"),
            DataType::Datetime { precision } => write!(f, "timestamp without time zone, to {precision} digits of a second"),
            DataType::Timestamp => f.write_str("timestamp with time zone"),
            DataType::Interval => f.write_str("interval"),
            DataType::Json => f.write_str("JSON"),
            DataType::Uuid => f.write_str("UUID"),
            DataType::Geography => f.write_str("geography"),
            DataType::Array(element) => write!(f, "array of {element}"),
            DataType::Struct(_) => f.write_str("struct"),
            DataType::Other(name) => f.write_str(name),
        }
    }
}

/// `NAME(a, b)` as `NAME` and its numeric parameters; `None` where the
/// parentheses hold anything but numbers.
pub fn parameters(name: &str) -> Option<(&str, Vec<u16>)> {
    let name = name.trim();
    let Some((base, rest)) = name.split_once('(') else { return Some((name, Vec::new())) };
    let inside = rest.strip_suffix(')')?;
    let numbers = inside.split(',').map(|n| n.trim().parse().ok()).collect::<Option<Vec<u16>>>()?;
    Some((base.trim(), numbers))
}

/// A type's name split at its first top-level `<` or `(`, for the nested
/// types: `ARRAY<INT64>` as `("ARRAY", "INT64")`.
pub fn nested<'a>(name: &'a str, base: &str, open: char, close: char) -> Option<&'a str> {
    let rest = name.trim();
    let head = rest.get(..base.len())?;
    if !head.eq_ignore_ascii_case(base) {
        return None;
    }
    rest[base.len()..].trim_start().strip_prefix(open)?.strip_suffix(close).map(str::trim)
}

/// A struct's field written `name TYPE`, the name perhaps quoted with
/// `quote` (a quote inside it doubled): the name, and the type's text.
pub fn struct_field(field: &str, quote: char) -> (String, &str) {
    if let Some(rest) = field.strip_prefix(quote) {
        let mut name = String::new();
        let mut chars = rest.char_indices().peekable();
        while let Some((at, ch)) = chars.next() {
            match ch {
                _ if ch != quote => name.push(ch),
                _ if chars.peek().is_some_and(|&(_, next)| next == quote) => {
                    chars.next();
                    name.push(quote);
                }
                _ => return (name, rest[at + ch.len_utf8()..].trim()),
            }
        }
    }
    field.split_once(char::is_whitespace).map_or((field.to_string(), ""), |(name, rest)| (name.to_string(), rest))
}

/// Splits `a INT64, b STRUCT<c STRING, d INT64>` at its top-level commas.
pub fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (at, ch) in text.char_indices() {
        match ch {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(text[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    if !text[start..].trim().is_empty() {
        parts.push(text[start..].trim());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_parameters_and_nesting() {
        assert_eq!(parameters("DECIMAL(18, 3)"), Some(("DECIMAL", vec![18, 3])));
        assert_eq!(parameters("VARCHAR"), Some(("VARCHAR", vec![])));
        assert_eq!(parameters("STRUCT(a INTEGER)"), None);
        assert_eq!(nested("ARRAY<STRUCT<a INT64>>", "ARRAY", '<', '>'), Some("STRUCT<a INT64>"));
        assert_eq!(nested("array<int64>", "ARRAY", '<', '>'), Some("int64"));
        assert_eq!(split_top_level("a INT64, b STRUCT<c STRING, d INT64>"), ["a INT64", "b STRUCT<c STRING, d INT64>"]);
        assert_eq!(struct_field("\"say \"\"hi\"\"\" VARCHAR", '"'), ("say \"hi\"".to_string(), "VARCHAR"));
        assert_eq!(struct_field("`a b` INT64", '`'), ("a b".to_string(), "INT64"));
        assert_eq!(struct_field("a INT64", '`'), ("a".to_string(), "INT64"));
        assert_eq!(DataType::Decimal { precision: 38, scale: 9 }.to_string(), "decimal(38, 9)");
    }
}
