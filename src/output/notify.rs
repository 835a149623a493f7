//! Failure alerts: the webhooks of `notifications:` (in `dbt_project.yml` or
//! the target), each sent once at the end of a building command whose outcome
//! it asks for (`on: [failure, warn, success]`), as Slack's message or as
//! strata's own JSON: which nodes failed or were skipped on which dates, the
//! first lines of each error, the duration and the command that retries them.
//! A webhook that cannot be reached is reported and changes nothing else.
//! What a project writes (`project::notifications`) is read with the project.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::core::dates::ExecutionDate;
use crate::core::outcome::{Outcome, Status, StatusCounts};
use crate::core::wait::{Attempt, Backoff, Waited, retry};
use crate::graph::{Graph, Node};
use crate::project::notifications::{Format, Webhook, When, host};

/// How long one request may take, and how many times a 5xx or a lost
/// connection is tried in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const ATTEMPTS: u32 = 3;
/// The pauses between tries: half a second, then a second.
const PAUSES: Backoff = Backoff { first: Duration::from_millis(500), factor: 2.0, max: Duration::from_secs(1) };
/// At most this many nodes are listed; the rest are counted.
const LISTED_NODES: usize = 10;
/// Lines of each error message in a notification.
const ERROR_LINES: usize = 5;

/// What an invocation did, as the notifications tell it.
pub struct Report<'a> {
    pub command: &'a str,
    pub project: &'a str,
    pub target: &'a str,
    pub invocation_id: &'a str,
    pub dates: &'a [ExecutionDate],
    pub seconds: f64,
    pub results: Vec<(&'a Node, ExecutionDate, &'a Outcome)>,
    /// Why the run stopped before its end (an error, Ctrl-C), if it did.
    pub stopped: Option<String>,
    /// The command line that re-runs what failed and was skipped.
    pub retry: String,
}

/// Sends each webhook whose condition the run met, once; returns a warning
/// for each that could not be delivered.
pub fn send(webhooks: &[Webhook], graph: &Graph, report: &Report<'_>) -> Vec<String> {
    let mut warnings = Vec::new();
    let client = match reqwest::blocking::Client::builder().timeout(REQUEST_TIMEOUT).build() {
        Ok(client) => client,
        Err(err) => return vec![format!("could not send notifications: {err}")],
    };
    for webhook in webhooks {
        let results: Vec<(&Node, ExecutionDate, &Outcome)> = if webhook.select.is_empty() {
            report.results.clone()
        } else {
            let Ok(selected) = crate::graph::select::select_nodes(graph, &webhook.select, &[], None) else { continue };
            let ids: BTreeSet<&str> = selected.iter().map(|&i| graph.nodes[i].unique_id.as_str()).collect();
            report.results.iter().filter(|(node, ..)| ids.contains(node.unique_id.as_str())).copied().collect()
        };
        if results.is_empty() && report.stopped.is_none() {
            continue;
        }
        let when = outcome(&results, report.stopped.is_some());
        if !webhook.on.contains(&when) {
            continue;
        }
        let payload = match webhook.format {
            Format::Json => json_payload(report, &results, when),
            Format::Slack => slack_payload(report, &results, when),
        };
        if let Err(reason) = post(&client, &webhook.url, &payload) {
            warnings.push(format!("could not send the {} notification to {}: {reason}", when.name(), host(&webhook.url)));
        }
    }
    warnings
}

/// A failure when a node failed or the run stopped; a warning when a node warned.
fn outcome(results: &[(&Node, ExecutionDate, &Outcome)], stopped: bool) -> When {
    if stopped || results.iter().any(|(_, _, o)| o.status.is_failure()) {
        When::Failure
    } else if results.iter().any(|(_, _, o)| o.status == Status::Warn) {
        When::Warn
    } else {
        When::Success
    }
}

/// POSTs `payload`, again after a 5xx or a lost connection, up to [`ATTEMPTS`] times.
fn post(client: &reqwest::blocking::Client, url: &str, payload: &Json) -> Result<(), String> {
    let waited = retry(ATTEMPTS, PAUSES, || match client.post(url).json(payload).send() {
        Ok(response) if response.status().is_success() => Attempt::Done(Ok(())),
        Ok(response) if response.status().is_server_error() => Attempt::NotYet(format!("HTTP {}", response.status())),
        Ok(response) => Attempt::Done(Err(format!("HTTP {}", response.status()))),
        // The URL is a secret: reqwest's error would print it whole.
        Err(err) => Attempt::NotYet(if err.is_timeout() { "no answer in time".into() } else { "could not connect".into() }),
    });
    match waited {
        Waited::Done { value, .. } => value,
        Waited::TimedOut { reason, attempts } | Waited::Cancelled { reason, attempts } => Err(format!("{reason} after {attempts} attempts")),
    }
}

/// The first lines of a message, at most [`ERROR_LINES`] and 1,000 characters.
fn first_lines(message: &str) -> String {
    let lines: Vec<&str> = message.lines().filter(|line| !line.trim().is_empty()).collect();
    let mut text = lines.iter().take(ERROR_LINES).copied().collect::<Vec<_>>().join("\n");
    let long = text.chars().count() > 1000;
    if long {
        text = text.chars().take(1000).collect();
    }
    if long || lines.len() > ERROR_LINES {
        text.push_str("\n…");
    }
    text
}

/// The nodes worth telling of: failed first, then warned, then skipped.
fn notable<'a>(results: &[(&'a Node, ExecutionDate, &'a Outcome)]) -> Vec<(&'a Node, ExecutionDate, &'a Outcome)> {
    let rank = |status: Status| match status {
        Status::Error | Status::Fail => 0,
        Status::Warn => 1,
        Status::Skipped => 2,
        _ => 3,
    };
    let mut notable: Vec<_> = results.iter().filter(|(_, _, o)| rank(o.status) < 3).copied().collect();
    notable.sort_by_key(|(node, date, o)| (rank(o.status), *date, node.unique_id.clone()));
    notable
}

/// `failed: 1 error, 2 skipped of 14 nodes`
fn headline(report: &Report<'_>, results: &[(&Node, ExecutionDate, &Outcome)], when: When) -> String {
    let counts = StatusCounts::of(results.iter().map(|(_, _, o)| o.status));
    let count = |statuses: &[Status]| counts.of_any(statuses);
    let mut parts = Vec::new();
    for (statuses, one, many) in [
        (&[Status::Error][..], "error", "errors"),
        (&[Status::Fail][..], "test failed", "tests failed"),
        (&[Status::Warn][..], "warning", "warnings"),
        (&[Status::Skipped][..], "skipped", "skipped"),
    ] {
        let n = count(statuses);
        if n > 0 {
            parts.push(format!("{n} {}", crate::core::format::plural(n, one, many)));
        }
    }
    let verb = match when {
        When::Failure => "failed",
        When::Warn => "passed with warnings",
        When::Success => "succeeded",
    };
    let dates = match report.dates {
        [] => String::new(),
        [one] => format!(" for {}", one.ds()),
        [first, .., last] => format!(" for {} to {}", first.ds(), last.ds()),
    };
    let nodes = format!("{} {}", results.len(), crate::core::format::plural(results.len(), "node", "nodes"));
    let detail = if parts.is_empty() { nodes } else { format!("{} of {nodes}", parts.join(", ")) };
    format!("strata {} {verb}{dates} in {} (target {}): {detail}", report.command, report.project, report.target)
}

fn json_payload(report: &Report<'_>, results: &[(&Node, ExecutionDate, &Outcome)], when: When) -> Json {
    let nodes: Vec<Json> = notable(results)
        .iter()
        .map(|(node, date, outcome)| {
            json!({
                "unique_id": node.unique_id,
                "name": node.display_name(),
                "resource_type": node.resource_type.name(),
                "execution_date": date.ds(),
                "status": outcome.status.as_str(),
                "description": outcome.description,
                "message": (!outcome.message.is_empty()).then(|| first_lines(&outcome.message)),
            })
        })
        .collect();
    json!({
        "status": when.name(),
        "summary": headline(report, results, when),
        "command": report.command,
        "project": report.project,
        "target": report.target,
        "invocation_id": report.invocation_id,
        "dates": report.dates.iter().map(|d| d.ds()).collect::<Vec<_>>(),
        "duration_s": (report.seconds * 1000.0).round() / 1000.0,
        "counts": StatusCounts::of(results.iter().map(|(_, _, o)| o.status)).to_json(),
        "stopped": report.stopped,
        "nodes": nodes,
        "retry": (when == When::Failure).then_some(report.retry.as_str()),
    })
}

/// Slack's incoming-webhook message: `text` (what notifications show) and blocks.
fn slack_payload(report: &Report<'_>, results: &[(&Node, ExecutionDate, &Outcome)], when: When) -> Json {
    let icon = match when {
        When::Failure => ":red_circle:",
        When::Warn => ":large_yellow_circle:",
        When::Success => ":large_green_circle:",
    };
    let headline = headline(report, results, when);
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{icon} *{}*", escape(&headline))}})];
    if let Some(stopped) = &report.stopped {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("The run stopped: {}", escape(&first_lines(stopped)))}}));
    }
    let notable = notable(results);
    for (node, date, outcome) in notable.iter().take(LISTED_NODES) {
        let mut text = format!("*{}* `{}` on {}: {}", outcome.status.as_str(), escape(&node.display_name()), date.ds(), escape(&outcome.description));
        if outcome.status != Status::Skipped && !outcome.message.is_empty() {
            // A code block ends at ``` : break any inside the message.
            text.push_str(&format!("\n```{}```", escape(&first_lines(&outcome.message)).replace("```", "` ` `")));
        } else if outcome.status == Status::Skipped {
            text.push_str(&format!(" ({})", escape(&outcome.message)));
        }
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if notable.len() > LISTED_NODES {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("and {} more", notable.len() - LISTED_NODES)}}));
    }
    let mut context = format!("{:.1}s · invocation {}", report.seconds, report.invocation_id);
    if when == When::Failure {
        context = format!("Retry: `{}` · {context}", escape(&report.retry));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    json!({"text": format!("{icon} {headline}"), "blocks": blocks})
}

/// Slack's mrkdwn escapes: `&`, `<` and `>`.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
