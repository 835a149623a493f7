//! `strata status`: which dates each date-partitioned model and each
//! waited-for source holds, as a grid (dates as columns) or JSON. The plan of
//! `run --missing` / `build --missing` is built from the same status
//! (`session::phases`).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use crate::core::dates::ExecutionDate;
use crate::core::diagnostic::Diagnostic;
use crate::graph::{Graph, ResourceType};
use crate::session::options::{DateOptions, StatusOptions, StatusOutput};
use crate::session::partition_status::{State, Status};
use crate::session::{Failure, Session};

/// How many dates `status` shows when `--start` is not given.
const DEFAULT_DAYS: i64 = 30;

pub fn status(args: &StatusOptions) -> Result<i32, Failure> {
    let project = args.project.clone();
    // Open for the last date (`--date`, `--end`, else yesterday), then widen to the range.
    let last = DateOptions { date: args.date.clone().or(args.end.clone()), timezone: args.timezone.clone(), ..DateOptions::default() };
    let mut session = Session::open(&project, &last)?;
    let end = session.date;
    let start = match (&args.date, &args.start) {
        (Some(_), _) => end,
        (None, Some(text)) => ExecutionDate::parse(text, "--start")?,
        (None, None) => end.add_days(1 - DEFAULT_DAYS),
    };
    session.dates = crate::core::dates::resolve(None, Some(&start.ds()), Some(&end.ds()), None)?;
    session.require_parsed()?;
    let selected = session.select(&args.selection)?;
    let warehouse = session.project.open_warehouse(args.lock_timeout)?;
    let mut connection = warehouse.connect().map_err(|err| Diagnostic::new(err.to_string()))?;
    let status =
        crate::session::partition_status::read(&session.project, session.graph(), &selected, &session.dates, connection.as_mut(), warehouse.sql())
            .map_err(|err| Diagnostic::new(format!("could not read the partitions: {err}")))?;
    let graph = session.graph();
    let mut out = std::io::stdout().lock();
    match args.output {
        StatusOutput::Json => writeln!(out, "{}", serde_json::to_string_pretty(&status.to_json(graph)).unwrap_or_default())?,
        StatusOutput::Grid => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            write!(out, "{}", grid(&status, graph, &session.project.target.name, color))?;
        }
    }
    Ok(0)
}

/// The grid: a row per source and model, a column per date, a letter per cell;
/// then the legend, the counts, and why each cell that is not built is so.
pub fn grid(status: &Status, graph: &Graph, target: &str, color: bool) -> String {
    let (Some(first), Some(last)) = (status.dates.first(), status.dates.last()) else { return String::new() };
    let mut out = format!("Partitions of {}..{} on target `{target}`\n\n", first.ds(), last.ds());
    if status.rows.is_empty() {
        out.push_str("No date-partitioned model or waited-for source is selected.\n");
        return out;
    }
    let label = |node: usize| {
        let node = &graph.nodes[node];
        format!("{:<6} {}", node.resource_type.name(), crate::session::partition_status::display_name(node))
    };
    let width = status.rows.iter().map(|row| label(row.node).chars().count()).max().unwrap_or(0) + 2;
    // Three header lines: the month where it starts, the day's tens, its units.
    let mut months = vec![' '; status.dates.len()];
    for (column, date) in status.dates.iter().enumerate() {
        let starts_month = column == 0 || date.date().format("%m").to_string() != status.dates[column - 1].date().format("%m").to_string();
        let month = date.date().format("%Y-%m").to_string();
        if starts_month && months[column..].len() >= month.len() && months[column..column + month.len()].iter().all(|c| *c == ' ') {
            months[column..column + month.len()].iter_mut().zip(month.chars()).for_each(|(cell, c)| *cell = c);
        }
    }
    let day = |digit: fn(u32) -> u32| {
        status
            .dates
            .iter()
            .map(|d| char::from_digit(digit(d.date().format("%d").to_string().parse().unwrap_or(0)), 10).unwrap_or(' '))
            .collect::<String>()
    };
    for line in [months.iter().collect::<String>(), day(|d| d / 10), day(|d| d % 10)] {
        out.push_str(&format!("{:width$}{}\n", "", line.trim_end()));
    }
    for row in &status.rows {
        let cells: String = row.dates.iter().map(|d| paint(d.state, &d.state.letter().to_string(), color)).collect();
        out.push_str(&format!("{:width$}{cells}\n", label(row.node)));
    }
    let legend: Vec<String> = State::ALL.iter().map(|&s| format!("{} {}", paint(s, &s.letter().to_string(), color), s.name())).collect();
    out.push_str(&format!("\n{}   (a source's `b`: its partition has landed)\n", legend.join("   ")));
    for (resource_type, title) in [(ResourceType::Model, "models"), (ResourceType::Source, "sources")] {
        let counts = status.counts(graph, resource_type);
        if counts.values().sum::<usize>() > 0 {
            let parts: Vec<String> = counts.iter().filter(|(_, n)| **n > 0).map(|(s, n)| format!("{n} {}", s.name())).collect();
            out.push_str(&format!("{title}: {}\n", parts.join(", ")));
        }
    }
    // Why: one line per row and reason, its dates as ranges.
    let mut why: Vec<String> = Vec::new();
    for row in &status.rows {
        let mut groups: BTreeMap<(State, String), Vec<ExecutionDate>> = BTreeMap::new();
        for date in row.dates.iter().filter(|d| d.state != State::Built) {
            groups.entry((date.state, date.reasons.join("; "))).or_default().push(date.date);
        }
        for ((state, reasons), dates) in groups {
            let reasons = if reasons.is_empty() { String::new() } else { format!(": {reasons}") };
            why.push(format!(
                "{:<8} {} {}{reasons}",
                state.name(),
                crate::session::partition_status::display_name(&graph.nodes[row.node]),
                date_ranges(&dates)
            ));
        }
    }
    if !why.is_empty() {
        out.push('\n');
        for line in why {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn paint(state: State, text: &str, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match state {
        State::Built => "32",
        State::Stale => "33",
        State::Missing => "35",
        State::Failed => "31;1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// `2026-11-03, 2026-11-05..2026-11-07`
fn date_ranges(dates: &[ExecutionDate]) -> String {
    let mut ranges: Vec<(ExecutionDate, ExecutionDate)> = Vec::new();
    for &date in dates {
        match ranges.last_mut() {
            Some((_, end)) if end.add_days(1) == date => *end = date,
            _ => ranges.push((date, date)),
        }
    }
    let shown: Vec<String> = ranges.iter().map(|(a, b)| if a == b { a.ds() } else { format!("{}..{}", a.ds(), b.ds()) }).collect();
    shown.join(", ")
}
