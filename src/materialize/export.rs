//! Deliveries: a query's rows written to a file, as CSV (RFC 4180), Excel
//! (xlsx, with typed number, date and time cells) or Parquet (DuckDB's
//! writer), for `strata export` and delivery exposures. Rows come from the
//! warehouse a page at a time and go straight to the file, so a large export
//! is never held in memory; the file is written under a temporary name
//! beside the output and renamed over it once whole, so a reader never sees
//! half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::core::columns::Column;
use crate::core::dates::ExecutionDate;
use crate::core::delivery::FileFormat;
use crate::core::job::Job;
use crate::core::table::Cell;
use crate::sql::SqlGenerator;
use crate::sql::types::DataType;
use crate::warehouse::{Connection, WarehouseError};

/// An xlsx sheet holds 1,048,576 rows: the header and this many more.
pub const XLSX_MAX_ROWS: u64 = 1_048_575;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Warehouse(#[from] WarehouseError),
    #[error("could not write `{path}`: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("could not write the Excel file: {0}")]
    Xlsx(String),
    #[error("the result has more than {XLSX_MAX_ROWS} rows, more than an Excel sheet holds; export it as csv or parquet")]
    TooManyRows,
    #[error("could not write the Parquet file: {0}")]
    Parquet(String),
}

/// What an export wrote: how many rows, and the columns with the warehouse's types.
#[derive(Debug, Clone, Default)]
pub struct Exported {
    pub rows: u64,
    pub columns: Vec<Column>,
}

/// Runs `job` on `connection` and writes its rows to `path` as `format`.
/// `sheet` names the Excel sheet.
pub fn export(
    connection: &mut dyn Connection,
    sql: &dyn SqlGenerator,
    job: &Job,
    format: FileFormat,
    path: &Path,
    sheet: &str,
) -> Result<Exported, ExportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Io { path, source }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let temporary = sibling(path, "tmp");
    let written = (|| {
        let mut writer: Box<dyn RowWriter> = match format {
            FileFormat::Csv => Box::new(CsvWriter::create(&temporary, false)?),
            FileFormat::Xlsx => Box::new(XlsxWriter::new(&temporary, sheet)),
            FileFormat::Parquet => Box::new(ParquetWriter::create(&temporary)?),
        };
        let mut failed = None;
        let mut seen: Option<Vec<Column>> = None;
        let rows = connection.stream(job, &mut |columns, rows| {
            let step = (|| {
                if seen.is_none() {
                    seen = Some(columns.to_vec());
                    let types: Vec<DataType> = columns.iter().map(|c| sql.parse_type(&c.data_type)).collect();
                    writer.header(columns, &types)?;
                }
                writer.rows(rows)
            })();
            match step {
                Ok(()) => true,
                Err(err) => {
                    failed = Some(err);
                    false
                }
            }
        })?;
        if let Some(err) = failed {
            return Err(err);
        }
        writer.finish()?;
        Ok(Exported { rows, columns: seen.unwrap_or_default() })
    })();
    match written {
        Ok(exported) => {
            std::fs::rename(&temporary, path).map_err(io(path))?;
            Ok(exported)
        }
        Err(err) => {
            let _ = std::fs::remove_file(&temporary);
            Err(err)
        }
    }
}

/// `.name.strata-<pid>.<suffix>` beside `path`: hidden, and this process's own.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.strata-{}.{suffix}", std::process::id()))
}

trait RowWriter {
    /// The columns, with what their warehouse types hold.
    fn header(&mut self, columns: &[Column], types: &[DataType]) -> Result<(), ExportError>;
    fn rows(&mut self, rows: Vec<Vec<Cell>>) -> Result<(), ExportError>;
    fn finish(self: Box<Self>) -> Result<(), ExportError>;
}

/// CSV as RFC 4180 has it: a header row, CRLF line ends, a field quoted when
/// it holds a comma, a quote or a line break, quotes doubled. NULL is empty.
/// `exact` keeps NULL apart from the empty text (`""`) for a reader that
/// knows (the Parquet conversion): every text field is quoted.
struct CsvWriter {
    out: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
    exact: bool,
}

impl CsvWriter {
    fn create(path: &Path, exact: bool) -> Result<CsvWriter, ExportError> {
        let file = std::fs::File::create(path).map_err(|source| ExportError::Io { path: path.to_path_buf(), source })?;
        Ok(CsvWriter { out: std::io::BufWriter::with_capacity(1 << 16, file), path: path.to_path_buf(), exact })
    }

    fn field(&mut self, text: &str, quote: bool) -> std::io::Result<()> {
        if quote || text.contains([',', '"', '\r', '\n']) {
            self.out.write_all(b"\"")?;
            self.out.write_all(text.replace('"', "\"\"").as_bytes())?;
            self.out.write_all(b"\"")
        } else {
            self.out.write_all(text.as_bytes())
        }
    }

    fn record<'a>(&mut self, fields: impl Iterator<Item = Option<std::borrow::Cow<'a, str>>>) -> std::io::Result<()> {
        for (position, field) in fields.enumerate() {
            if position > 0 {
                self.out.write_all(b",")?;
            }
            match field {
                None => {}
                Some(text) => {
                    let exact = self.exact;
                    self.field(&text, exact)?;
                }
            }
        }
        self.out.write_all(b"\r\n")
    }

    fn io(&self) -> impl Fn(std::io::Error) -> ExportError + '_ {
        |source| ExportError::Io { path: self.path.clone(), source }
    }
}

fn text(cell: &Cell) -> Option<std::borrow::Cow<'_, str>> {
    match cell {
        Cell::Null => None,
        Cell::Text(text) | Cell::Decimal(text) => Some(text.as_str().into()),
        other => Some(other.to_string().into()),
    }
}

impl RowWriter for CsvWriter {
    fn header(&mut self, columns: &[Column], _types: &[DataType]) -> Result<(), ExportError> {
        let result = self.record(columns.iter().map(|c| Some(c.name.as_str().into())));
        result.map_err(self.io())
    }

    fn rows(&mut self, rows: Vec<Vec<Cell>>) -> Result<(), ExportError> {
        for row in &rows {
            let result = self.record(row.iter().map(text));
            result.map_err(self.io())?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        let result = self.out.flush().and_then(|()| self.out.get_ref().sync_all());
        result.map_err(self.io())
    }
}

/// How a column's cells are written to Excel, from its type in the warehouse's SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Date,
    DateTime,
    Bool,
    Text,
}

/// The digits an Excel number keeps; a number with more is written as its
/// text, so no digit changes (a NUMERIC's 38).
const EXCEL_DIGITS: usize = 15;
/// The largest whole number Excel holds exactly (15 digits).
const EXCEL_EXACT_INTEGER: u64 = 999_999_999_999_999;

/// The significant digits of a number written in decimal (`-0012.3400` has 4).
fn significant_digits(text: &str) -> usize {
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_start_matches('0');
    let digits = if mantissa.contains('.') { digits.trim_end_matches('0') } else { digits };
    digits.len().max(1)
}

fn kind(data_type: &DataType) -> Kind {
    match data_type {
        DataType::Integer { .. } | DataType::Float { .. } | DataType::Decimal { .. } => Kind::Number,
        DataType::Date => Kind::Date,
        DataType::Datetime { .. } | DataType::Timestamp => Kind::DateTime,
        DataType::Boolean => Kind::Bool,
        _ => Kind::Text,
    }
}

/// An Excel workbook of one sheet, written in constant memory: each row goes
/// to a temporary file as it comes.
struct XlsxWriter {
    workbook: rust_xlsxwriter::Workbook,
    path: PathBuf,
    sheet: String,
    kinds: Vec<Kind>,
    row: u32,
    date: rust_xlsxwriter::Format,
    datetime: rust_xlsxwriter::Format,
}

impl XlsxWriter {
    fn new(path: &Path, sheet: &str) -> XlsxWriter {
        XlsxWriter {
            workbook: rust_xlsxwriter::Workbook::new(),
            path: path.to_path_buf(),
            sheet: sheet_name(sheet),
            kinds: Vec::new(),
            row: 0,
            date: rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd"),
            datetime: rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
        }
    }

    fn sheet(&mut self) -> Result<&mut rust_xlsxwriter::Worksheet, ExportError> {
        self.workbook.worksheet_from_index(0).map_err(xlsx)
    }

    fn cell(&mut self, column: u16, kind: Kind, cell: &Cell) -> Result<(), ExportError> {
        let row = self.row;
        let (date, datetime) = (self.date.clone(), self.datetime.clone());
        let sheet = self.sheet()?;
        let written = match (kind, cell) {
            (_, Cell::Null) => return Ok(()),
            (_, Cell::Int(i)) if i.unsigned_abs() <= EXCEL_EXACT_INTEGER => sheet.write_number(row, column, *i as f64),
            (_, Cell::Int(i)) => sheet.write_string(row, column, i.to_string()),
            (_, Cell::Float(x)) => sheet.write_number(row, column, *x),
            (_, Cell::Bool(b)) => sheet.write_boolean(row, column, *b),
            (_, Cell::Decimal(text)) | (Kind::Number, Cell::Text(text)) => match text.parse::<f64>() {
                Ok(number) if significant_digits(text) <= EXCEL_DIGITS => sheet.write_number(row, column, number),
                _ => sheet.write_string(row, column, text),
            },
            (Kind::Date, Cell::Text(text)) => match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(day) => sheet.write_datetime_with_format(row, column, day, &date),
                Err(_) => sheet.write_string(row, column, text),
            },
            (Kind::DateTime, Cell::Text(text)) => match parse_datetime(text) {
                Some(time) => sheet.write_datetime_with_format(row, column, time, &datetime),
                None => sheet.write_string(row, column, text),
            },
            (Kind::Bool, Cell::Text(text)) => sheet.write_boolean(row, column, text.eq_ignore_ascii_case("true")),
            (Kind::Text, Cell::Text(text)) => sheet.write_string(row, column, text),
        };
        written.map(|_| ()).map_err(xlsx)
    }
}

/// `2026-11-20 13:45:00.123456`, `2026-11-20T13:45:00`, with an offset or not.
fn parse_datetime(text: &str) -> Option<chrono::NaiveDateTime> {
    let text = text.trim().replace('T', " ");
    let text = text.trim_end_matches(" UTC").trim_end_matches('Z').trim_end_matches("+00").trim_end_matches("+00:00");
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok()
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(name: &str) -> String {
    let clean: String = name.chars().map(|c| if "[]:*?/\\".contains(c) { '_' } else { c }).take(31).collect();
    if clean.trim().is_empty() { "Sheet1".into() } else { clean }
}

fn xlsx(err: rust_xlsxwriter::XlsxError) -> ExportError {
    ExportError::Xlsx(err.to_string())
}

impl RowWriter for XlsxWriter {
    fn header(&mut self, columns: &[Column], types: &[DataType]) -> Result<(), ExportError> {
        self.kinds = types.iter().map(kind).collect();
        let name = self.sheet.clone();
        let bold = rust_xlsxwriter::Format::new().set_bold();
        let sheet = self.workbook.add_worksheet_with_constant_memory().map_err(xlsx)?;
        sheet.set_name(&name).map_err(xlsx)?;
        for (index, (column, kind)) in columns.iter().zip(&self.kinds).enumerate() {
            let index = u16::try_from(index).map_err(|_| ExportError::Xlsx("more than 16,384 columns".into()))?;
            sheet.write_string_with_format(0, index, &column.name, &bold).map_err(xlsx)?;
            let width = match kind {
                Kind::Date => 12.0,
                Kind::DateTime => 20.0,
                _ => (column.name.chars().count() as f64 + 2.0).clamp(8.0, 40.0),
            };
            sheet.set_column_width(index, width).map_err(xlsx)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(xlsx)?;
        Ok(())
    }

    fn rows(&mut self, rows: Vec<Vec<Cell>>) -> Result<(), ExportError> {
        for row in &rows {
            if u64::from(self.row) >= XLSX_MAX_ROWS {
                return Err(ExportError::TooManyRows);
            }
            self.row += 1;
            for (index, cell) in row.iter().enumerate() {
                let kind = self.kinds.get(index).copied().unwrap_or(Kind::Text);
                self.cell(index as u16, kind, cell)?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        if self.workbook.worksheets().is_empty() {
            self.workbook.add_worksheet().set_name(&self.sheet).map_err(xlsx)?;
        }
        let path = self.path.clone();
        self.workbook.save(&path).map_err(xlsx)
    }
}

/// Parquet through DuckDB's writer: the rows go to a CSV file beside the
/// output as they come (every text quoted, so NULL stays apart from empty
/// text), which an in-memory DuckDB then reads with the columns' types and
/// writes as Parquet.
struct ParquetWriter {
    csv: Option<CsvWriter>,
    csv_path: PathBuf,
    path: PathBuf,
    columns: Vec<(String, DataType)>,
}

impl ParquetWriter {
    fn create(path: &Path) -> Result<ParquetWriter, ExportError> {
        let csv_path = sibling(path, "csv");
        let csv = CsvWriter::create(&csv_path, true)?;
        Ok(ParquetWriter { csv: Some(csv), csv_path, path: path.to_path_buf(), columns: Vec::new() })
    }
}

impl Drop for ParquetWriter {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.csv_path);
    }
}

impl RowWriter for ParquetWriter {
    fn header(&mut self, columns: &[Column], types: &[DataType]) -> Result<(), ExportError> {
        self.columns = columns.iter().map(|c| c.name.clone()).zip(types.iter().cloned()).collect();
        self.csv.as_mut().map_or(Ok(()), |csv| csv.header(columns, types))
    }

    fn rows(&mut self, rows: Vec<Vec<Cell>>) -> Result<(), ExportError> {
        self.csv.as_mut().map_or(Ok(()), |csv| csv.rows(rows))
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        if let Some(csv) = self.csv.take() {
            Box::new(csv).finish()?;
        }
        if self.columns.is_empty() {
            return Err(ExportError::Parquet("the query returned no columns".into()));
        }
        crate::warehouse::duckdb::csv_to_parquet(&self.csv_path, &self.columns, &self.path).map_err(ExportError::Parquet)
    }
}

/// The query of what a node holds for the dates `first..=last`: the
/// partitions of those dates of a date-partitioned model, else all its rows.
/// `None` for a node with nothing to read (an ephemeral model, a test).
pub fn rows_of(sql: &dyn crate::sql::SqlGenerator, node: &crate::graph::Node, first: ExecutionDate, last: ExecutionDate) -> Option<String> {
    if !node.in_warehouse() {
        return None;
    }
    let relation = node.relation.as_ref()?;
    Some(match node.partition() {
        Some(partition) => format!("select * from {relation} where {}", sql.partition_range(partition, first, last)),
        None => format!("select * from {relation}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_types() {
        assert_eq!(kind(&DataType::Decimal { precision: 18, scale: 2 }), Kind::Number);
        assert_eq!(kind(&DataType::INT64), Kind::Number);
        assert_eq!(kind(&DataType::Timestamp), Kind::DateTime);
        assert_eq!(kind(&DataType::Date), Kind::Date);
        assert_eq!(kind(&DataType::Struct(Vec::new())), Kind::Text);
    }

    #[test]
    fn counts_significant_digits() {
        assert_eq!(significant_digits("-0012.3400"), 4);
        assert_eq!(significant_digits("12345678901234567890.123456789"), 29);
        assert_eq!(significant_digits("1200"), 4);
        assert_eq!(significant_digits("0.000"), 1);
        assert_eq!(significant_digits("1.5E9"), 2);
    }

    #[test]
    fn sheet_names_excel_accepts() {
        assert_eq!(sheet_name("a/b:c"), "a_b_c");
        assert_eq!(sheet_name(&"x".repeat(40)).len(), 31);
    }
}
