//! `notifications:` as a project (or a target) writes it: the webhooks to
//! post to when a building command ends. Sending them is `output::notify`'s.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value as Json;

use crate::core::diagnostic::{Diagnostic, Location};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum When {
    Failure,
    Warn,
    Success,
}

impl When {
    pub fn name(self) -> &'static str {
        match self {
            When::Failure => "failure",
            When::Warn => "warn",
            When::Success => "success",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Slack,
    Json,
}

/// One entry of `notifications:`.
#[derive(Clone)]
pub struct Webhook {
    /// Where to post: a secret (a Slack webhook's path is its key), never printed whole.
    pub url: String,
    pub on: BTreeSet<When>,
    pub format: Format,
    /// Only about these nodes (dbt's selector syntax); every node when empty.
    /// It is checked when the project is parsed, at `select_at`.
    pub select: Vec<String>,
    pub select_at: Location,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("host", &host(&self.url))
            .field("on", &self.on)
            .field("format", &self.format)
            .field("select", &self.select)
            .finish()
    }
}

/// Reads a `notifications:` list written in `file`, where `at` finds a key's
/// line; `url` may call `env_var()`, and an empty one turns its webhook off
/// (for a machine without the variable: `env_var('SLACK_WEBHOOK_URL', '')`).
pub fn parse(value: &Json, file: &Path, at: &dyn Fn(&str) -> Location) -> Result<Vec<Webhook>, Diagnostic> {
    let error = |message: String, needle: &str| {
        Diagnostic::new(format!("`notifications`: {message}"))
            .at(at(needle))
            .help("write a list of webhooks: `notifications: [{url: \"{{ env_var('SLACK_WEBHOOK_URL') }}\", on: [failure], format: slack}]`")
    };
    let entries = match value {
        Json::Null => return Ok(Vec::new()),
        Json::Array(entries) => entries,
        _ => return Err(error("must be a list of webhooks".into(), "notifications:")),
    };
    let mut webhooks = Vec::new();
    for entry in entries {
        let Some(entry) = entry.as_object() else { return Err(error(format!("`{entry}` is not a mapping with `url`"), "notifications:")) };
        for key in entry.keys() {
            if !["url", "on", "format", "select"].contains(&key.as_str()) {
                return Err(error(format!("unknown key `{key}` (a webhook takes `url`, `on`, `format` and `select`)"), &format!("{key}:")));
            }
        }
        let url = match entry.get("url") {
            Some(Json::String(url)) => crate::core::jinja::render_env_vars(file, url)?,
            _ => return Err(error("a webhook needs `url`".into(), "notifications:")),
        };
        let url = url.trim().to_string();
        if url.is_empty() {
            continue;
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(error(format!("`url` must start with `https://` (it starts `{}`)", url.chars().take(8).collect::<String>()), "url:"));
        }
        let on = match entry.get("on") {
            None => BTreeSet::from([When::Failure]),
            Some(value) => {
                let names: Vec<&Json> = match value {
                    Json::Array(names) => names.iter().collect(),
                    other => vec![other],
                };
                names
                    .into_iter()
                    .map(|name| match name.as_str() {
                        Some("failure") => Ok(When::Failure),
                        Some("warn") => Ok(When::Warn),
                        Some("success") => Ok(When::Success),
                        _ => Err(error(format!("`on: {name}` is not one of `failure`, `warn`, `success`"), "on:")),
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let format = match entry.get("format").and_then(Json::as_str) {
            None | Some("json") => Format::Json,
            Some("slack") => Format::Slack,
            Some(other) => return Err(error(format!("`format: {other}` is not `slack` or `json`"), "format:")),
        };
        let select = match entry.get("select") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::String(one)) => one.split_whitespace().map(str::to_string).collect(),
            Some(Json::Array(many)) => many.iter().map(|s| s.as_str().map(str::to_string).unwrap_or_else(|| s.to_string())).collect(),
            Some(other) => return Err(error(format!("`select: {other}` is not a selector such as `tag:marketing`"), "select:")),
        };
        webhooks.push(Webhook { url, on, format, select, select_at: at("select:") });
    }
    Ok(webhooks)
}

/// `https://hooks.slack.com`: what messages say of a webhook's URL.
pub fn host(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => match parsed.port() {
            Some(port) => format!("{}://{}:{port}", parsed.scheme(), parsed.host_str().unwrap_or_default()),
            None => format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or_default()),
        },
        Err(_) => "the webhook".into(),
    }
}
