//! A user-facing error located in a file: the message, `file:line:col`, the
//! offending line with a caret, and a hint. Every module that reads user input
//! turns its failures into these; `report` prints them.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in a user's file something went wrong. Lines and columns are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: Option<usize>,
    /// The text of the line, shown under the arrow.
    pub line_text: Option<String>,
    /// How many characters the caret underlines.
    pub width: usize,
}

impl Location {
    /// A location at a line and column of `source`, the text of `file`.
    pub fn in_source(file: &Path, source: &str, line: usize, column: Option<usize>) -> Location {
        let line = line.max(1);
        Location { file: file.to_path_buf(), line, column, line_text: source.lines().nth(line - 1).map(|text| text.to_string()), width: 1 }
    }

    /// The location of byte `offset` in `source`.
    pub fn at_offset(file: &Path, source: &str, offset: usize, width: usize) -> Location {
        // An offset inside a character (a caller's arithmetic on bytes) points at that character.
        let offset = source.floor_char_boundary(offset);
        let before = &source[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |at| at + 1);
        let column = source[line_start..offset].chars().count() + 1;
        Location { width: width.max(1), ..Location::in_source(file, source, line, Some(column)) }
    }

    /// The location of the first occurrence of `needle` in `source`, else line 1.
    pub fn of_text(file: &Path, source: &str, needle: &str) -> Location {
        match source.find(needle) {
            Some(offset) => Location::at_offset(file, source, offset, needle.chars().count()),
            None => Location::in_source(file, source, 1, None),
        }
    }

    /// A location naming only the file.
    pub fn file(file: &Path) -> Location {
        Location { file: file.to_path_buf(), line: 0, column: None, line_text: None, width: 1 }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// One error or warning as the user reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// A warning is printed and the command goes on; an error stops it.
    pub warning: bool,
    pub message: String,
    pub location: Option<Location>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Diagnostic {
        Diagnostic { warning: false, message: message.into(), location: None, notes: Vec::new(), help: None }
    }

    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic { warning: true, ..Diagnostic::new(message) }
    }

    pub fn at(mut self, location: Location) -> Diagnostic {
        self.location = Some(location);
        self
    }

    pub fn with_location(mut self, location: Option<Location>) -> Diagnostic {
        self.location = location;
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    /// Renders like rustc and ruff:
    ///
    /// ```text
    /// error: `ref('userid_maped')` names a model that does not exist
    ///   --> models/marketing/userid_mapped_logs.sql:12:8
    ///    |
    /// 12 | from {{ ref('userid_maped') }} as logs
    ///    |         ^^^^^^^^^^^^^^^^^^^
    ///    = help: did you mean `userid_mapped`?
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", if self.warning { "warning" } else { "error" }, self.message)?;
        let gutter = match &self.location {
            Some(location) if location.line_text.is_some() => location.line.to_string().len(),
            _ => 1,
        };
        let pad = " ".repeat(gutter);
        if let Some(location) = &self.location {
            writeln!(f, "{pad}--> {location}")?;
            if let Some(text) = &location.line_text {
                let text = text.replace('\t', "    ");
                writeln!(f, "{pad} |")?;
                writeln!(f, "{} | {}", location.line, text.trim_end())?;
                if let Some(column) = location.column {
                    let indent = " ".repeat(column.saturating_sub(1));
                    let max_width = text.chars().count().saturating_sub(column - 1).max(1);
                    let carets = "^".repeat(location.width.clamp(1, max_width));
                    writeln!(f, "{pad} | {indent}{carets}")?;
                }
            }
        }
        for note in &self.notes {
            writeln!(f, "{pad} = note: {note}")?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// All the errors found in one pass over a project, reported together.
#[derive(Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err(self)` when anything was reported.
    pub fn into_result(self) -> Result<(), Diagnostics> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Diagnostics {
        Diagnostics(vec![diagnostic])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

/// The closest of `candidates` to `name`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}
