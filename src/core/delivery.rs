//! What a delivery is, as a project writes it: the file formats strata
//! writes (`export --format`, an exposure's `export: {format}`) and an
//! exposure's `export:` (a file, or a table of this or another target).
//! Writing the rows is `materialize::export`'s; running a delivery is `materialize`'s.

use std::path::Path;

/// A file format strata writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Xlsx,
    Parquet,
}

impl FileFormat {
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Xlsx => "xlsx",
            FileFormat::Parquet => "parquet",
        }
    }

    pub fn parse(text: &str) -> Option<FileFormat> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Some(FileFormat::Csv),
            "xlsx" | "excel" => Some(FileFormat::Xlsx),
            "parquet" => Some(FileFormat::Parquet),
            _ => None,
        }
    }

    /// The format a file name's extension says.
    pub fn of_path(path: &Path) -> Option<FileFormat> {
        path.extension().and_then(|e| e.to_str()).and_then(FileFormat::parse)
    }
}

/// An exposure's `export:`: where its model's rows go each time the
/// exposure runs, a file or a table of the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The model whose rows are delivered; else the one model the exposure depends on.
    pub model: Option<String>,
    pub to: DeliverTo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliverTo {
    /// A file: its path as written (it may use the date variables), relative
    /// to the project directory.
    File { format: FileFormat, path: String },
    /// A table, `schema.table` or `database.schema.table` (it may use the
    /// date variables), replaced whole each time: in the invocation's target,
    /// or in `target`, another output of the profile (another warehouse).
    Table { relation: String, target: Option<String> },
}

impl Delivery {
    /// `export: {format: xlsx, path: deliveries/dau_{{ ds_nodash }}.xlsx}`, or
    /// `export: {format: table, relation: data_science.dau}`; `model:` picks the model.
    pub fn parse(value: &serde_json::Value) -> Result<Delivery, String> {
        let Some(spec) = value.as_object() else {
            return Err("`export` must be a mapping such as `{format: xlsx, path: deliveries/dau_{{ ds_nodash }}.xlsx}`".into());
        };
        for key in spec.keys() {
            if !["format", "type", "path", "relation", "target", "model"].contains(&key.as_str()) {
                return Err(format!("`export` has an unknown key `{key}` (it takes `format`, `path`, `relation`, `target` and `model`)"));
            }
        }
        let text = |key: &str| spec.get(key).and_then(serde_json::Value::as_str).map(str::trim).filter(|t| !t.is_empty());
        let model = text("model").map(str::to_string);
        // `type: table` reads as well as `format: table`.
        let format = text("format").or_else(|| text("type")).ok_or("`export` needs `format`: `csv`, `xlsx`, `parquet` or `table`")?;
        let to = match (format, text("path"), text("relation")) {
            ("table", _, Some(relation)) => DeliverTo::Table { relation: relation.to_string(), target: text("target").map(str::to_string) },
            ("table", _, None) => return Err("`export: {format: table}` needs `relation`, the `schema.table` to write".into()),
            (format, Some(path), _) => match FileFormat::parse(format) {
                Some(format) => DeliverTo::File { format, path: path.to_string() },
                None => return Err(format!("`format: {format}` is not one of `csv`, `xlsx`, `parquet`, `table`")),
            },
            (_, None, _) => return Err(format!("`export: {{format: {format}}}` needs `path`, the file to write")),
        };
        Ok(Delivery { model, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_as_written() {
        let parse = |yaml: &str| Delivery::parse(&serde_norway::from_str(yaml).unwrap());
        assert_eq!(
            parse("{type: table, target: share, relation: science.dau}"),
            Ok(Delivery { model: None, to: DeliverTo::Table { relation: "science.dau".into(), target: Some("share".into()) } })
        );
        assert_eq!(
            parse("{format: xlsx, path: 'd/x_{{ ds }}.xlsx', model: dau}"),
            Ok(Delivery { model: Some("dau".into()), to: DeliverTo::File { format: FileFormat::Xlsx, path: "d/x_{{ ds }}.xlsx".into() } })
        );
        assert!(parse("{format: table}").unwrap_err().contains("needs `relation`"));
        assert!(parse("{format: csv}").unwrap_err().contains("needs `path`"));
        assert!(parse("{format: csv, path: x, color: red}").unwrap_err().contains("unknown key `color`"));
    }
}
