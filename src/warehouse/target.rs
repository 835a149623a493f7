//! The target a run uses: one `outputs:` entry of `profiles.yml`, read into
//! types (`project::profile` finds and reads the file), and where each of its
//! keys is written, for located errors.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::core::diagnostic::{Diagnostic, Location};
use crate::core::relation::Relation;
use crate::sql::SqlGenerator;
use crate::warehouse::profiles::TargetKind;

/// The connection a run uses: one `outputs:` entry of the profile.
#[derive(Debug, Clone)]
pub struct Target {
    pub profile_name: String,
    /// The output's name (`dev`, `prod`).
    pub name: String,
    pub kind: TargetKind,
    /// The schema (BigQuery: dataset) models go to by default.
    pub schema: String,
    /// DuckDB: the catalog name; BigQuery: the project.
    pub database: Option<String>,
    pub threads: Option<usize>,
    /// What every job sent for this target carries: `labels`,
    /// `maximum_bytes_billed` and `job_timeout_seconds`.
    pub job_labels: Vec<(String, String)>,
    pub maximum_bytes_billed: Option<u64>,
    pub job_timeout: Option<std::time::Duration>,
    /// Every field as written, with `env_var()` resolved.
    pub fields: serde_json::Map<String, Json>,
    /// Keys strata does not use, each a warning at its line.
    pub warnings: Vec<Diagnostic>,
    /// The file it came from, and its text as written, for located errors.
    pub file: PathBuf,
    pub source: String,
}

impl Target {
    /// Where `needle` (a key such as `location:`) is written in the profile file.
    pub fn locate(&self, needle: &str) -> Location {
        locate_in_target(&self.file, &self.source, &self.profile_name, &self.name, needle)
    }

    /// The options of a job sent for this target: `labels`, and the
    /// target's byte limit and timeout.
    pub fn job_options(&self, labels: Vec<(String, String)>) -> crate::core::job::Job {
        crate::core::job::Job { labels, maximum_bytes_billed: self.maximum_bytes_billed, timeout: self.job_timeout, ..Default::default() }
    }

    /// Where the target records the partitions strata writes (see `SqlGenerator::partition_log`).
    pub fn partition_log(&self, sql: &dyn SqlGenerator) -> Relation {
        sql.partition_log(self.database.clone(), &self.schema)
    }
}

/// Where `needle` is written inside output `target` of profile `profile` in
/// `source`: a key repeated in every target (`threads:`) is found in the one
/// it is about. Falls back to the target's own line, then to the whole file.
pub fn locate_in_target(file: &Path, source: &str, profile: &str, target: &str, needle: &str) -> Location {
    /// The byte offset of the first line at or after `from` that starts (after
    /// its indentation) with `key:`, and that indentation.
    fn key_line(source: &str, from: usize, key: &str) -> Option<(usize, usize)> {
        let mut offset = from;
        for line in source[from..].split_inclusive('\n') {
            let trimmed = line.trim_start();
            let unquoted = trimmed.trim_start_matches(['"', '\'']);
            if unquoted.strip_prefix(key).is_some_and(|rest| rest.trim_start_matches(['"', '\'']).starts_with(':')) {
                return Some((offset, line.len() - trimmed.len()));
            }
            offset += line.len();
        }
        None
    }
    let header = key_line(source, 0, profile).and_then(|(at, _)| key_line(source, at, "outputs")).and_then(|(at, _)| key_line(source, at, target));
    let Some((start, indent)) = header else { return Location::of_text(file, source, needle) };
    // The target's block ends at the next line indented as far as its name, or less.
    let mut end = start + source[start..].find('\n').map_or(source.len() - start, |n| n + 1);
    for line in source[end..].split_inclusive('\n') {
        let content = line.trim_start();
        if !content.is_empty() && !content.starts_with('#') && line.len() - content.len() <= indent {
            break;
        }
        end += line.len();
    }
    match source[start..end].find(needle) {
        Some(offset) => Location::at_offset(file, source, start + offset, needle.chars().count()),
        None => Location::at_offset(file, source, start + indent, target.chars().count()),
    }
}
