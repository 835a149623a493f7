//! Values as Python prints them, `str()`, `repr()` and `json.dumps()`: dbt
//! builds generic tests' names and unique ids from the first two and hashes
//! package specs with the third, so a project's ids and lock match dbt's.

use serde_json::Value as Json;

/// Python's `str()` of a YAML value: a string as it is, `True`, `None`,
/// `2.0`, `1e+20`, and lists and mappings as their `repr()`.
pub fn str(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => repr(other),
    }
}

/// Python's `repr()` of a YAML value: `'it'`, `"it's"`, `[1, None]`,
/// `{'a': True}` (mappings in their order).
pub fn repr(value: &Json) -> String {
    match value {
        Json::String(text) => repr_str(text),
        Json::Bool(true) => "True".to_string(),
        Json::Bool(false) => "False".to_string(),
        Json::Null => "None".to_string(),
        Json::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() => repr_float(float),
            _ => number.to_string(),
        },
        Json::Array(items) => format!("[{}]", items.iter().map(repr).collect::<Vec<_>>().join(", ")),
        Json::Object(map) => {
            format!("{{{}}}", map.iter().map(|(key, value)| format!("{}: {}", repr_str(key), repr(value))).collect::<Vec<_>>().join(", "))
        }
    }
}

/// Python's `repr()` of a string: single quotes unless the text has one and
/// no double quote; backslashes, the quote and unprintable characters escaped.
pub fn repr_str(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            ch if ch == quote => {
                out.push('\\');
                out.push(ch);
            }
            ch if printable(ch) => out.push(ch),
            ch if (ch as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", ch as u32)),
            ch if (ch as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", ch as u32)),
            ch => out.push_str(&format!("\\U{:08x}", ch as u32)),
        }
    }
    out.push(quote);
    out
}

/// Whether Python prints a character as itself in a `repr()`: not a control,
/// format or separator character other than the space.
fn printable(ch: char) -> bool {
    !matches!(ch as u32,
        0..=0x1f | 0x7f..=0xa0 | 0xad | 0x1680 | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x3000 | 0xfeff)
}

/// Python's shortest `repr()` of a float: `2.0`, `0.0001`, `1e-05`, `1e+16`.
fn repr_float(float: f64) -> String {
    if float.is_nan() {
        return "nan".to_string();
    }
    if float.is_infinite() {
        return if float > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // Rust's `{:e}` gives the shortest digits that read back as the same float.
    let scientific = format!("{float:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..16).contains(&exponent) {
        let fixed = format!("{float}");
        return if fixed.contains('.') { fixed } else { format!("{fixed}.0") };
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

/// dbt's `get_hashable_md`, then `repr()`: mappings with their keys sorted,
/// lists in order, every other value as the `repr()` of its `str()`.
pub fn hashable_repr(value: &Json) -> String {
    match value {
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let entries: Vec<String> = entries.into_iter().map(|(key, value)| format!("{}: {}", repr_str(key), hashable_repr(value))).collect();
            format!("{{{}}}", entries.join(", "))
        }
        Json::Array(items) => format!("[{}]", items.iter().map(hashable_repr).collect::<Vec<_>>().join(", ")),
        other => repr_str(&str(other)),
    }
}

/// `value` as Python's `json.dumps(value, sort_keys=True)` writes it (dbt
/// hashes package specs so).
pub fn json_dumps_sorted(value: &Json) -> String {
    match value {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let entries: Vec<String> = keys.iter().map(|key| format!("{}: {}", json_string(key), json_dumps_sorted(&map[*key]))).collect();
            format!("{{{}}}", entries.join(", "))
        }
        Json::Array(items) => format!("[{}]", items.iter().map(json_dumps_sorted).collect::<Vec<_>>().join(", ")),
        Json::String(text) => json_string(text),
        Json::Bool(flag) => flag.to_string(),
        Json::Null => "null".into(),
        Json::Number(number) => number.to_string(),
    }
}

/// A string as `json.dumps` writes it, with `ensure_ascii`.
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_quoted_as_python_quotes_them() {
        assert_eq!(repr_str("placed"), "'placed'");
        assert_eq!(repr_str("it's"), "\"it's\"");
        assert_eq!(repr_str("both ' and \""), "'both \\' and \"'");
        assert_eq!(repr_str("a\\b\ttab\n"), "'a\\\\b\\ttab\\n'");
        assert_eq!(repr_str("é\u{7}\u{a0}"), "'é\\x07\\xa0'");
    }

    #[test]
    fn floats_print_as_python_prints_them() {
        let cases = [
            (2.0, "2.0"),
            (10.5, "10.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e20, "1.5e+20"),
            (-0.5, "-0.5"),
        ];
        for (float, python) in cases {
            assert_eq!(repr(&json!(float)), python, "{float}");
        }
        assert_eq!(repr(&json!(100000000000_i64)), "100000000000");
    }

    #[test]
    fn containers_print_their_items_repr() {
        assert_eq!(str(&json!([1, 2.0, null, "x"])), "[1, 2.0, None, 'x']");
        assert_eq!(str(&json!({"b": true, "a": "it's"})), "{'b': True, 'a': \"it's\"}");
        assert_eq!(str(&json!("plain")), "plain");
    }

    #[test]
    fn hashable_repr_sorts_keys_and_strings_every_leaf() {
        let metadata = json!({"namespace": null, "name": "unique", "kwargs": {"column_name": "id", "n": [1, false]}});
        assert_eq!(hashable_repr(&metadata), "{'kwargs': {'column_name': 'id', 'n': ['1', 'False']}, 'name': 'unique', 'namespace': 'None'}");
    }
}
