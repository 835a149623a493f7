//! What a run prints: an indicatif progress bar over the nodes while it runs
//! (on a terminal, unless `--no-progress`), one line per finished node, and at
//! the end a summary with the error of every failed node and its compiled SQL.
//! Colour only on a terminal and never with `NO_COLOR`. Every line also goes
//! to the log file; with `--log-format json`, stdout has the log's JSON events
//! instead of these lines.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::core::dates::ExecutionDate;
use crate::core::format::thousands;
use crate::core::outcome::{Outcome, Status, StatusCounts};
use crate::core::table::Table;
use crate::graph::Node;

pub struct Reporter {
    bar: Option<ProgressBar>,
    quiet: bool,
    color: bool,
    /// Lines start with their execution date (a backfill).
    dated: bool,
    /// stdout carries the log's JSON events: lines go to the log file only.
    json: bool,
    /// Keeps lines from interleaving.
    out: Mutex<()>,
}

impl Reporter {
    pub fn new(total: usize, no_progress: bool, quiet: bool, dated: bool) -> Reporter {
        let terminal = std::io::stdout().is_terminal();
        let json = crate::output::log::json();
        let bar = (terminal && !no_progress && !quiet && !json && total > 0).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stdout());
            if let Ok(style) = ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} {msg}") {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Reporter { bar, quiet, color: terminal && !json && std::env::var_os("NO_COLOR").is_none(), dated, json, out: Mutex::new(()) }
    }

    /// Prints a line above the progress bar (or plainly).
    pub fn line(&self, text: &str) {
        let _guard = self.out.lock();
        crate::output::log::line(text);
        if self.json {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{text}");
            }
        }
    }

    /// A node starts on `date`: the progress bar names it.
    pub fn started(&self, node: &Node, date: ExecutionDate) {
        crate::output::log::node_started(node, date);
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}{}", self.prefix(date), node.name));
        }
    }

    /// `2026-11-19 ` before each line of a backfill.
    pub fn prefix(&self, date: ExecutionDate) -> String {
        if self.dated { format!("{} ", date.ds()) } else { String::new() }
    }

    /// A line about a node still running (a Tableau job's progress, a source
    /// check's wait), unless `--quiet`.
    pub fn progress(&self, date: ExecutionDate, text: &str) {
        if !self.quiet {
            self.line(&format!("{}{text}", self.prefix(date)));
        }
    }

    /// One line for a finished node:
    /// `OK    created table main_marketing.utm_spend_full_joined  1,204 rows  0.03s`,
    /// after its date during a backfill.
    pub fn finished(&self, node: &Node, date: ExecutionDate, outcome: &Outcome) {
        crate::output::log::node_finished(node, date, outcome);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if self.quiet && !outcome.status.is_failure() {
            return;
        }
        self.line(&format!("{}{}", self.prefix(date), self.node_line(outcome)));
    }

    /// The counts of one date of a backfill.
    pub fn phase_summary(&self, date: &str, outcomes: &[Outcome]) {
        self.line(&format!("{date}: {}", counts(outcomes)));
    }

    pub fn node_line(&self, outcome: &Outcome) -> String {
        let (word, colour) = match outcome.status {
            Status::Success => ("OK", 32),
            Status::Pass => ("PASS", 32),
            Status::Warn => ("WARN", 33),
            Status::Fail => ("FAIL", 31),
            Status::Error => ("ERROR", 31),
            Status::Skipped => ("SKIP", 33),
        };
        let word = if self.color { format!("\x1b[{colour}m{word:<5}\x1b[0m") } else { format!("{word:<5}") };
        let mut line = format!("{word} {}", outcome.description);
        if let Some(rows) = outcome.stats.rows_affected {
            line.push_str(&format!("  {} {}", thousands(rows), if rows == 1 { "row" } else { "rows" }));
        }
        if let Some(bytes) = outcome.stats.bytes_processed {
            line.push_str(&format!("  {} processed", crate::core::format::bytes(bytes)));
        }
        if !outcome.stats.retried.is_empty() {
            let mut causes = outcome.stats.retried.clone();
            causes.dedup();
            let times = outcome.stats.retried.len();
            line.push_str(&format!(
                "  (sent again {} after {})",
                if times == 1 { "once".into() } else { format!("{times} times") },
                causes.join(", ")
            ));
        }
        if let Some(failures) = outcome.failures.filter(|f| *f > 0) {
            line.push_str(&format!("  {} {}", thousands(failures), if failures == 1 { "failure" } else { "failures" }));
        }
        if outcome.status == Status::Skipped {
            line.push_str(&format!("  ({})", outcome.message));
        } else {
            line.push_str(&format!("  {:.2}s", outcome.seconds));
        }
        line
    }

    /// `PASS=.. WARN=.. ERROR=.. SKIP=.. TOTAL=..`, then each failure in full.
    /// `dates` names each outcome's date during a backfill.
    pub fn summary(&self, nodes: &[&Node], outcomes: &[Outcome], dates: &[Option<String>], seconds: f64) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let mut text = String::new();
        if !self.quiet {
            text.push_str(&format!("\nFinished {} {} in {seconds:.2}s.\n", outcomes.len(), if outcomes.len() == 1 { "node" } else { "nodes" }));
        }
        text.push_str(&counts(outcomes));
        text.push('\n');
        for ((node, outcome), date) in nodes.iter().zip(outcomes).zip(dates.iter().chain(std::iter::repeat(&None))) {
            let Some(kind) = outcome.status.heading() else { continue };
            let on = date.as_ref().map(|d| format!(" on {d}")).unwrap_or_default();
            text.push_str(&format!("\n{kind} {} `{}`{on} ({})\n", node.resource_type.name(), node.display_name(), node.path.display()));
            for line in outcome.message.lines() {
                if line.trim().is_empty() {
                    text.push('\n');
                } else {
                    text.push_str(&format!("  {line}\n"));
                }
            }
            if let Some(rows) = &outcome.failing_rows {
                for line in render_table(rows).lines() {
                    text.push_str(&format!("  {line}\n"));
                }
            }
            if let Some(path) = &outcome.compiled_path {
                text.push_str(&format!("  compiled SQL: {}\n", path.display()));
            }
        }
        let _guard = self.out.lock();
        crate::output::log::line(text.trim_start_matches('\n'));
        if !self.json {
            let mut stdout = std::io::stdout().lock();
            let _ = write!(stdout, "{text}");
        }
    }
}

/// `PASS=.. WARN=.. ERROR=.. SKIP=.. TOTAL=..`
fn counts(outcomes: &[Outcome]) -> String {
    let counts = StatusCounts::of(outcomes.iter().map(|o| o.status));
    format!(
        "PASS={} WARN={} ERROR={} SKIP={} TOTAL={}",
        counts.of_any(&[Status::Success, Status::Pass]),
        counts.of_any(&[Status::Warn]),
        counts.of_any(&[Status::Error, Status::Fail]),
        counts.of_any(&[Status::Skipped]),
        counts.total()
    )
}

/// Rows as a text table, as `strata show` prints them.
pub fn render_table(table: &Table) -> String {
    let mut rendered = comfy_table::Table::new();
    rendered.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    rendered.set_header(table.columns.iter());
    for row in &table.rows {
        rendered.add_row(row.iter().map(|cell| cell.to_string()));
    }
    rendered.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }
}
