//! The invocation's log: every invocation appends its lines to
//! `target/strata.log` (rotated by size), and with `--log-format json` prints
//! one JSON event per line on stdout instead of the human lines, for log
//! collectors. The events and their fields are listed in the README; both
//! come from [`Event`], so the file and the JSON lines tell the same story.
//!
//! One log per process, set up once by [`start`] before the command runs;
//! until then (in a library caller or a unit test) every call is a no-op.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value as Json, json};

use crate::core::dates::ExecutionDate;
use crate::core::outcome::{Outcome, Status, StatusCounts};
use crate::graph::Node;

/// `target/strata.log` is rotated when an invocation starts and it holds this
/// much (dbt rotates `dbt.log` at the same size), keeping this many old files
/// as `strata.log.1` (newest) to `strata.log.5`.
pub const ROTATE_AT_BYTES: u64 = 10 * 1024 * 1024;
pub const KEPT_FILES: usize = 5;

/// How an invocation reports (`--log-format`; `cli.rs` says each for `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Lines for people, with a progress bar on a terminal
    #[default]
    Text,
    /// One JSON event per line on stdout, for log collectors
    Json,
    /// The lines for people, with GitHub Actions' workflow annotations and step summary
    Github,
}

struct Log {
    format: LogFormat,
    invocation_id: String,
    started_at: DateTime<Utc>,
    started: Instant,
    file: Mutex<Option<File>>,
    /// Node outcomes so far, by status, for `invocation_finished`.
    counts: Mutex<StatusCounts>,
}

static LOG: OnceLock<Log> = OnceLock::new();

/// Opens the log of this invocation: `target/strata.log` under `project_dir`
/// when it holds a project (a mistyped directory gets no `target/`), and JSON
/// events on stdout with [`LogFormat::Json`]. Logs `invocation_started`.
pub fn start(project_dir: &Path, format: LogFormat, command: &str) {
    let started_at = Utc::now();
    let file = project_dir.join("dbt_project.yml").is_file().then(|| open_file(&project_dir.join("target").join("strata.log"))).flatten();
    let log = Log {
        format,
        invocation_id: started_at.format("%Y%m%dt%H%M%S%6f").to_string(),
        started_at,
        started: Instant::now(),
        file: Mutex::new(file),
        counts: Mutex::new(StatusCounts::default()),
    };
    if LOG.set(log).is_ok() {
        Event::new("invocation_started")
            .field("command", command)
            .field("strata_version", env!("CARGO_PKG_VERSION"))
            .field("project_dir", project_dir.to_string_lossy())
            .text(format!("strata {}: {command}", env!("CARGO_PKG_VERSION")))
            .emit();
    }
}

/// Logs `invocation_finished` with the exit status, the time since `start` and
/// the count of nodes per status.
pub fn finish(exit_status: i32) {
    let Some(log) = LOG.get() else { return };
    let seconds = log.started.elapsed().as_secs_f64();
    let by_status = log.counts.lock().map(|counts| counts.to_json()).unwrap_or_default();
    Event::new("invocation_finished")
        .level(if exit_status == 0 { "info" } else { "error" })
        .field("exit_status", exit_status)
        .field("duration_s", round(seconds))
        .field("nodes", by_status)
        .text(format!("finished with exit status {exit_status} in {seconds:.2}s"))
        .emit();
}

/// The id of this invocation, as run_results.json, the warehouse's job labels
/// and the log's events carry it; `None` before [`start`].
pub fn invocation_id() -> Option<&'static str> {
    LOG.get().map(|log| log.invocation_id.as_str())
}

/// When this invocation started; `None` before [`start`].
pub fn started_at() -> Option<DateTime<Utc>> {
    LOG.get().map(|log| log.started_at)
}

/// The invocation's log format; text before [`start`].
pub fn format() -> LogFormat {
    LOG.get().map_or(LogFormat::Text, |log| log.format)
}

/// Whether stdout carries JSON events, so human lines must stay off it.
pub fn json() -> bool {
    LOG.get().is_some_and(|log| log.format == LogFormat::Json)
}

/// A line for the log file only (what a command printed for people).
pub fn line(text: &str) {
    if let Some(log) = LOG.get() {
        log.write_file(text);
    }
}

/// `node_started`; JSON only: the log file has the human lines.
pub fn node_started(node: &Node, date: ExecutionDate) {
    if json() {
        print_json(node_event("node_started", node, date));
    }
}

/// `node_finished`, with the outcome's status, rows, bytes, duration and
/// message; the event is built only for `--log-format json`.
pub fn node_finished(node: &Node, date: ExecutionDate, outcome: &Outcome) {
    let Some(log) = LOG.get() else { return };
    if let Ok(mut counts) = log.counts.lock() {
        counts.add(outcome.status);
    }
    if log.format != LogFormat::Json {
        return;
    }
    let level = match outcome.status {
        Status::Error | Status::Fail => "error",
        Status::Warn => "warn",
        _ => "info",
    };
    let event = node_event("node_finished", node, date)
        .level(level)
        .field("status", outcome.status.as_str())
        .field("rows", outcome.stats.rows_affected)
        .field("bytes", outcome.stats.bytes_processed)
        .field("failures", outcome.failures)
        .field("duration_s", round(outcome.seconds))
        .field("message", (!outcome.message.is_empty()).then_some(outcome.message.as_str()));
    print_json(event);
}

fn node_event(name: &str, node: &Node, date: ExecutionDate) -> Event {
    Event::new(name)
        .field("unique_id", &node.unique_id)
        .field("name", node.display_name())
        .field("resource_type", node.resource_type.name())
        .field("execution_date", date.ds())
        .field("relation_name", node.relation.as_ref().map(ToString::to_string))
}

/// One event: `ts`, `event`, `level` and `invocation_id`, then its own fields.
#[must_use]
pub struct Event {
    fields: Map<String, Json>,
    text: Option<String>,
}

impl Event {
    pub fn new(name: &str) -> Event {
        let mut fields = Map::new();
        fields.insert("ts".into(), json!(Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)));
        fields.insert("event".into(), json!(name));
        fields.insert("level".into(), json!("info"));
        fields.insert("invocation_id".into(), json!(invocation_id()));
        Event { fields, text: None }
    }

    pub fn level(mut self, level: &str) -> Event {
        self.fields.insert("level".into(), json!(level));
        self
    }

    pub fn field(mut self, name: &str, value: impl serde::Serialize) -> Event {
        self.fields.insert(name.into(), serde_json::to_value(value).unwrap_or(Json::Null));
        self
    }

    /// What the log file says of it (the JSON line when there is no text).
    pub fn text(mut self, text: String) -> Event {
        self.text = Some(text);
        self
    }

    /// To stdout as JSON (with `--log-format json`) and to the log file.
    pub fn emit(self) {
        let Some(log) = LOG.get() else { return };
        log.write_file(self.text.as_deref().unwrap_or(&Json::Object(self.fields.clone()).to_string()));
        if log.format == LogFormat::Json {
            print_json(self);
        }
    }
}

/// One event as a line of JSON on stdout.
fn print_json(event: Event) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", Json::Object(event.fields));
}

impl Log {
    fn write_file(&self, text: &str) {
        let Ok(mut file) = self.file.lock() else { return };
        let Some(out) = file.as_mut() else { return };
        let ts = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut block = String::with_capacity(text.len() + 64);
        for line in text.lines() {
            block.push_str(&format!("{ts} [{}] {}\n", self.invocation_id, console::strip_ansi_codes(line)));
        }
        // One write per block: lines of processes logging at once do not interleave.
        if out.write_all(block.as_bytes()).is_err() {
            *file = None;
        }
    }
}

/// Opens `path` for appending, first rotating it if it has reached
/// [`ROTATE_AT_BYTES`]. A log that cannot be written is no reason to fail the
/// command: `None`, and the command runs without it.
fn open_file(path: &Path) -> Option<File> {
    std::fs::create_dir_all(path.parent()?).ok()?;
    if std::fs::metadata(path).is_ok_and(|metadata| metadata.len() >= ROTATE_AT_BYTES) {
        rotate(path);
    }
    OpenOptions::new().create(true).append(true).open(path).ok()
}

/// `strata.log.4` → `.5`, ..., `strata.log` → `.1`; the oldest is overwritten.
fn rotate(path: &Path) {
    let numbered = |n: usize| -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    for n in (1..KEPT_FILES).rev() {
        let _ = std::fs::rename(numbered(n), numbered(n + 1));
    }
    let _ = std::fs::rename(path, numbered(1));
}

fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_the_full_log_and_keeps_five() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("strata.log");
        for n in 1..=7 {
            std::fs::write(&path, vec![b'x'; ROTATE_AT_BYTES as usize]).unwrap();
            std::fs::write(dir.path().join("marker"), n.to_string()).unwrap();
            let mut file = open_file(&path).unwrap();
            writeln!(file, "invocation {n}").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "invocation 7\n");
        let mut names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["marker", "strata.log", "strata.log.1", "strata.log.2", "strata.log.3", "strata.log.4", "strata.log.5"]);
    }

    // The file keeps the lines the terminal showed, without their colours.
    #[test]
    fn the_log_file_keeps_lines_without_colour() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("strata.log");
        let log = Log {
            format: LogFormat::Text,
            invocation_id: "20261207t160000".into(),
            started_at: Utc::now(),
            started: Instant::now(),
            file: Mutex::new(open_file(&path)),
            counts: Mutex::new(StatusCounts::default()),
        };
        log.write_file("\x1b[32mOK   \x1b[0m created\nsecond");
        let written = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = written.lines().map(|line| line.split_once(' ').map_or(line, |(_, rest)| rest)).collect();
        assert_eq!(lines, ["[20261207t160000] OK    created", "[20261207t160000] second"]);
    }
}
