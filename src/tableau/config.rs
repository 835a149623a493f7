//! What a project says about Tableau: the server, in a target of
//! `profiles.yml`, and which datasources an exposure (or a model) refreshes.

use std::path::Path;
use std::time::Duration;

use serde_json::Value as Json;

use crate::core::diagnostic::Diagnostic;
use crate::core::format::{DurationError, duration_value};
use crate::warehouse::target::Target;

/// A target's `tableau:` section.
#[derive(Clone)]
pub struct Server {
    /// `https://tableau.example.com`, without a trailing slash.
    pub url: String,
    /// The site's content URL (`marketing`); empty for the default site.
    pub site: String,
    pub token_name: String,
    /// The personal access token's secret: never printed.
    pub token_secret: String,
    /// The REST API version to use; else the one the server reports.
    pub api_version: Option<String>,
    /// How long one HTTP request may take.
    pub timeout: Duration,
    pub on_already_queued: AlreadyQueued,
    /// The CAs of `ca_bundle`, trusted beside the platform's and the bundled roots.
    pub ca_certificates: Vec<reqwest::Certificate>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("url", &self.url).field("site", &self.site).field("token_name", &self.token_name).finish_non_exhaustive()
    }
}

/// What a refresh that Tableau already has queued (error 409093) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlreadyQueued {
    /// A warning: the queued job will refresh it.
    Warn,
    Error,
}

/// The oldest REST API version with personal access tokens.
pub const MINIMUM_API_VERSION: &str = "3.6";
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

impl Server {
    /// The target's `tableau:` section, if it has one; a wrong field is an
    /// error at its line. `ca_bundle` is read relative to `project_root`.
    pub fn of(target: &Target, project_root: &Path) -> Result<Option<Server>, Diagnostic> {
        let Some(section) = target.fields.get("tableau").filter(|v| !v.is_null()) else { return Ok(None) };
        let error =
            |message: String, key: &str| Diagnostic::new(format!("target `{}`: {message}", target.name)).at(target.locate(&format!("{key}:")));
        let Some(section) = section.as_object() else {
            return Err(error("`tableau` must be a mapping with `server_url`, `site`, `token_name` and `token_secret`".into(), "tableau"));
        };
        let text = |key: &str| match section.get(key) {
            Some(Json::String(s)) => Some(s.clone()),
            Some(Json::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let required = |key: &str| {
            text(key).filter(|value| !value.is_empty()).ok_or_else(|| {
                error(format!("`tableau.{key}` is missing or empty"), if section.contains_key(key) { key } else { "tableau" })
                    .help("set it in `profiles.yml` (secrets come from the environment, e.g. `token_secret: \"{{ env_var('TABLEAU_TOKEN_SECRET') }}\"`), or build without refreshing Tableau: `--exclude \"exposure:*\"`")
            })
        };
        let url = required("server_url")?.trim_end_matches('/').to_string();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(error(format!("`tableau.server_url` must start with `https://`, not `{url}`"), "server_url"));
        }
        let timeout = match section.get("timeout") {
            None | Some(Json::Null) => DEFAULT_REQUEST_TIMEOUT,
            Some(value) => duration(value).map_err(|err| error(format!("`tableau.timeout`: {err}"), "timeout"))?,
        };
        let on_already_queued = match text("on_already_queued").as_deref() {
            None | Some("warn") => AlreadyQueued::Warn,
            Some("error") => AlreadyQueued::Error,
            Some(other) => {
                return Err(error(format!("`tableau.on_already_queued` must be `warn` or `error`, not `{other}`"), "on_already_queued"));
            }
        };
        let ca_certificates = match text("ca_bundle") {
            None => Vec::new(),
            Some(path) => ca_bundle(&path, project_root).map_err(|message| {
                error(format!("`tableau.ca_bundle`: {message}"), "ca_bundle")
                    .help("point it at a PEM file with your CA's certificate (`-----BEGIN CERTIFICATE-----`), relative to the project directory")
            })?,
        };
        Ok(Some(Server {
            url,
            site: text("site").unwrap_or_default(),
            token_name: required("token_name")?,
            token_secret: required("token_secret")?,
            api_version: text("api_version"),
            timeout,
            on_already_queued,
            ca_certificates,
        }))
    }
}

/// The certificates of the PEM file at `path` (as written, relative to
/// `project_root`), or why there are none.
fn ca_bundle(path: &str, project_root: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let shown = path;
    let pem = std::fs::read(project_root.join(path)).map_err(|err| format!("cannot read `{shown}`: {err}"))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|err| format!("`{shown}` is not a PEM file: {err}"))?;
    if certificates.is_empty() {
        return Err(format!("`{shown}` holds no PEM certificate"));
    }
    Ok(certificates)
}

/// `30m`, `90s`, or a number of seconds, more than zero.
fn duration(value: &Json) -> Result<Duration, DurationError> {
    duration_value(value).and_then(|duration| if duration.is_zero() { Err(DurationError::Unreadable(value.to_string())) } else { Ok(duration) })
}

/// The datasources one exposure refreshes once its models are rebuilt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refresh {
    pub datasources: Vec<String>,
    /// The Tableau project the datasources are in, when names repeat across projects.
    pub project: Option<String>,
    /// Wait for each refresh job to finish (and fail if it fails).
    pub wait: bool,
    /// How long to wait for it.
    pub timeout: Duration,
}

const DEFAULT_WAIT: Duration = Duration::from_secs(30 * 60);

impl Refresh {
    /// An exposure's (or a model config's) `tableau:` value.
    pub fn parse(value: &Json) -> Result<Refresh, RefreshError> {
        let Some(map) = value.as_object() else { return Err(RefreshError::Shape(value.to_string())) };
        const KEYS: [&str; 4] = ["datasources", "project", "wait", "timeout"];
        if let Some(key) = map.keys().find(|key| !KEYS.contains(&key.as_str())) {
            let close = crate::core::diagnostic::did_you_mean(key, KEYS).map(str::to_string);
            return Err(RefreshError::UnknownKey { key: key.clone(), close });
        }
        let wrong = |key: &'static str, expected: &'static str, value: &Json| RefreshError::Value { key, expected, value: value.to_string() };
        let datasources = match map.get("datasources") {
            Some(Json::String(name)) => vec![name.clone()],
            Some(Json::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|item| item.as_str().map(str::to_string).ok_or_else(|| wrong("datasources", "names", item)))
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(wrong("datasources", "a list of datasource names", other)),
            None => return Err(RefreshError::NoDatasources),
        };
        let project = match map.get("project") {
            None | Some(Json::Null) => None,
            Some(Json::String(project)) => Some(project.clone()),
            Some(other) => return Err(wrong("project", "a project name", other)),
        };
        let wait = match map.get("wait") {
            None | Some(Json::Null) => true,
            Some(Json::Bool(wait)) => *wait,
            Some(other) => return Err(wrong("wait", "true or false", other)),
        };
        let timeout = match map.get("timeout") {
            None | Some(Json::Null) => DEFAULT_WAIT,
            Some(value) => duration(value).map_err(|_| wrong("timeout", "a duration such as `30m`, more than zero and at most a year", value))?,
        };
        Ok(Refresh { datasources, project, wait, timeout })
    }
}

/// Why a `tableau:` config cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error("`tableau` must be a mapping such as `{{datasources: [name], wait: true}}`, not `{0}`")]
    Shape(String),
    #[error("unknown key `tableau.{key}`{}", close.as_ref().map(|close| format!("; did you mean `{close}`?")).unwrap_or_default())]
    UnknownKey { key: String, close: Option<String> },
    #[error("`tableau` needs `datasources`, the names of the datasources to refresh")]
    NoDatasources,
    #[error("`tableau.{key}` must be {expected}, not `{value}`")]
    Value { key: &'static str, expected: &'static str, value: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_exposure_s_refresh_reads_as_dbt_users_write_it() {
        let refresh = Refresh::parse(&json!({"datasources": ["a", "b"], "project": "Marketing", "wait": false, "timeout": "10m"})).unwrap();
        assert_eq!(
            refresh,
            Refresh { datasources: vec!["a".into(), "b".into()], project: Some("Marketing".into()), wait: false, timeout: Duration::from_secs(600) }
        );
        assert_eq!(Refresh::parse(&json!({"datasources": "a"})).unwrap().timeout, DEFAULT_WAIT);
        let message = |value: Json| Refresh::parse(&value).unwrap_err().to_string();
        assert_eq!(message(json!({"datasource": ["a"]})), "unknown key `tableau.datasource`; did you mean `datasources`?");
        assert_eq!(message(json!({"datasources": []})), "`tableau.datasources` must be a list of datasource names, not `[]`");
        assert_eq!(message(json!({"datasources": ["a"], "wait": "yes"})), "`tableau.wait` must be true or false, not `\"yes\"`");
        assert!(message(json!({"datasources": ["a"], "timeout": "soon"})).contains("a duration"));
    }
}
