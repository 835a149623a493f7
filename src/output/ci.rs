//! Output for CI (`--log-format github`, the default inside GitHub Actions):
//! each located error, failed node and failed test as a workflow annotation
//! (`::error file=models/x.sql,line=12,col=3::message`), which GitHub shows
//! on the changed line of the pull request, and a Markdown summary of the
//! invocation appended to `$GITHUB_STEP_SUMMARY`. See:
//! https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::core::diagnostic::Diagnostic;
use crate::core::format::bytes;
use crate::core::outcome::{Outcome, Status, StatusCounts};
use crate::graph::Node;

/// The project directory as the command was given it: an annotation names a
/// file from where the job runs, as GitHub reads it.
static PROJECT_DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Sets the project directory annotations' files are under; only the first call counts.
pub fn set_project_dir(dir: &Path) {
    let _ = PROJECT_DIR.set(dir.to_path_buf());
}

/// Whether this invocation writes GitHub's workflow commands.
pub fn github() -> bool {
    crate::output::log::format() == crate::output::log::LogFormat::Github
}

/// One workflow command: `::error file=..,line=..,col=..,title=..::message`.
pub fn annotation(level: &str, file: Option<&Path>, line: Option<usize>, column: Option<usize>, title: &str, message: &str) -> String {
    let mut properties = Vec::new();
    if let Some(file) = file {
        let file = match PROJECT_DIR.get() {
            Some(dir) if file.is_relative() && dir != Path::new(".") => dir.join(file),
            _ => file.to_path_buf(),
        };
        properties.push(format!("file={}", escape_property(&file.to_string_lossy().replace('\\', "/"))));
        if let Some(line) = line {
            properties.push(format!("line={line}"));
            if let Some(column) = column {
                properties.push(format!("col={column}"));
            }
        }
    }
    if !title.is_empty() {
        properties.push(format!("title={}", escape_property(title)));
    }
    let properties = if properties.is_empty() { String::new() } else { format!(" {}", properties.join(",")) };
    format!("::{level}{properties}::{}", escape_data(message.trim_end()))
}

/// GitHub's escaping of a command's message.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// GitHub's escaping of a command's property value.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The annotation of a diagnostic, at its location.
pub fn diagnostic_annotation(diagnostic: &Diagnostic) -> String {
    let level = if diagnostic.warning { "warning" } else { "error" };
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        let _ = write!(message, "\nhelp: {help}");
    }
    let location = diagnostic.location.as_ref();
    annotation(
        level,
        location.map(|l| l.file.as_path()),
        location.map(|l| l.line),
        location.and_then(|l| l.column),
        if diagnostic.warning { "strata warning" } else { "strata error" },
        &message,
    )
}

/// Prints the annotations of `diagnostics`, when writing GitHub's commands.
pub fn annotate_diagnostics(diagnostics: &[Diagnostic]) {
    if !github() {
        return;
    }
    let mut out = std::io::stdout().lock();
    for diagnostic in diagnostics {
        let _ = writeln!(out, "{}", diagnostic_annotation(diagnostic));
    }
}

/// The annotation of a node that failed, failed a test or warned: at the
/// location its message names (a template error's `--> file:line:col`),
/// else at its file.
pub fn node_annotation(node: &Node, outcome: &Outcome, date: Option<&str>) -> Option<String> {
    static ARROW: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"-->\s+(\S+?):(\d+)(?::(\d+))?\s*$").unwrap_or_else(|_| unreachable!()));
    let kind = outcome.status.heading()?;
    let level = if outcome.status == Status::Warn { "warning" } else { "error" };
    let located = outcome.message.lines().find_map(|line| ARROW.captures(line));
    let (file, line, column) = match &located {
        Some(found) => (
            Path::new(found.get(1).map_or("", |m| m.as_str())).to_path_buf(),
            found.get(2).and_then(|m| m.as_str().parse().ok()),
            found.get(3).and_then(|m| m.as_str().parse().ok()),
        ),
        None => {
            let (line, column) = test_in_yaml(node).unzip();
            (node.path.clone(), line, column)
        }
    };
    let on = date.map(|d| format!(" on {d}")).unwrap_or_default();
    // The words of the run's summary: `failure in test x on 2026-11-20`.
    let title = format!("{kind} {} {}{on}", node.resource_type.name(), node.display_name());
    let message = if outcome.message.trim().is_empty() { title.clone() } else { outcome.message.clone() };
    Some(annotation(level, Some(&file), line, column, &title, &message))
}

/// Where a generic test is written in its YAML file: its name after its
/// column's after its model's, as near as the text says.
fn test_in_yaml(node: &Node) -> Option<(usize, usize)> {
    let crate::graph::NodeDetails::Test(test) = &node.details else { return None };
    let test_name = test.test_name.as_deref()?;
    let root = PROJECT_DIR.get().map_or(Path::new("."), |dir| dir.as_path());
    let text = std::fs::read_to_string(root.join(&node.path)).ok()?;
    let model = test.attached_to.as_deref().and_then(|id| id.rsplit('.').next());
    let mut at = 0;
    for needle in [model, test.column_name.as_deref(), Some(test_name)].into_iter().flatten() {
        at += text.get(at..)?.find(needle)?;
    }
    let line = text[..at].matches('\n').count() + 1;
    let column = at - text[..at].rfind('\n').map_or(0, |newline| newline + 1) + 1;
    Some((line, column))
}

/// The Markdown summary of a run: nodes by status, then each node with its
/// status, date, duration, rows and bytes billed (failures first).
pub fn run_summary(command: &str, target: &str, nodes: &[&Node], outcomes: &[Outcome], dates: &[Option<String>], seconds: f64) -> String {
    const LISTED: usize = 200;
    let counts = StatusCounts::of(outcomes.iter().map(|o| o.status));
    let mut out = format!("### strata {command} (target `{target}`)\n\n");
    let _ = writeln!(out, "| Status | Nodes |\n| --- | ---: |");
    for status in Status::ALL {
        let count = counts.of_any(&[status]);
        if count > 0 {
            let _ = writeln!(out, "| {} | {count} |", status.as_str());
        }
    }
    let billed: u64 = outcomes.iter().filter_map(|o| o.stats.bytes_billed).sum();
    let _ = write!(out, "\n{} {} in {seconds:.1}s", outcomes.len(), crate::core::format::plural(outcomes.len(), "node", "nodes"));
    if outcomes.iter().any(|o| o.stats.bytes_billed.is_some()) {
        let _ = write!(out, ", {} billed", bytes(billed));
    }
    out.push_str(".\n\n| Node | Status | Date | Duration | Rows | Bytes billed |\n| --- | --- | --- | ---: | ---: | ---: |\n");
    let mut order: Vec<usize> = (0..outcomes.len()).collect();
    order.sort_by_key(|&i| (!outcomes[i].status.is_failure(), outcomes[i].status != Status::Warn));
    for &i in order.iter().take(LISTED) {
        let (node, outcome) = (nodes[i], &outcomes[i]);
        let date = dates.get(i).cloned().flatten().unwrap_or_default();
        let rows = outcome.stats.rows_affected.map(|r| r.to_string()).unwrap_or_default();
        let billed = outcome.stats.bytes_billed.map(bytes).unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} `{}` | {} | {date} | {:.1}s | {rows} | {billed} |",
            node.resource_type.name(),
            node.display_name(),
            outcome.status.as_str(),
            outcome.seconds
        );
    }
    if outcomes.len() > LISTED {
        let _ = writeln!(out, "\n…and {} more.", outcomes.len() - LISTED);
    }
    out
}

/// With GitHub's commands: an annotation for each node that failed or warned,
/// and the run's summary appended to `$GITHUB_STEP_SUMMARY`.
pub fn report_run(command: &str, target: &str, nodes: &[&Node], outcomes: &[Outcome], dates: &[Option<String>], seconds: f64) {
    if !github() {
        return;
    }
    let mut out = std::io::stdout().lock();
    for (i, (node, outcome)) in nodes.iter().zip(outcomes).enumerate() {
        if let Some(line) = node_annotation(node, outcome, dates.get(i).and_then(|d| d.as_deref())) {
            let _ = writeln!(out, "{line}");
        }
    }
    drop(out);
    append_step_summary(&run_summary(command, target, nodes, outcomes, dates, seconds));
}

/// Appends `markdown` to `$GITHUB_STEP_SUMMARY`, when writing GitHub's
/// commands and the variable names a file; a file that cannot be written is a warning.
pub fn append_step_summary(markdown: &str) {
    if !github() {
        return;
    }
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|path| !path.is_empty()) else { return };
    let written = std::fs::OpenOptions::new().create(true).append(true).open(&path).and_then(|mut file| writeln!(file, "{markdown}"));
    if let Err(err) = written {
        eprintln!("warning: could not append the summary to `$GITHUB_STEP_SUMMARY` ({}): {err}", Path::new(&path).display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_what_github_reads_as_syntax() {
        assert_eq!(
            annotation("error", Some(Path::new("models/a,b.sql")), Some(12), Some(3), "model a: x", "50% off\nsecond line\n"),
            "::error file=models/a%2Cb.sql,line=12,col=3,title=model a%3A x::50%25 off%0Asecond line"
        );
        assert_eq!(annotation("warning", None, Some(1), None, "", "plain"), "::warning::plain");
    }
}
