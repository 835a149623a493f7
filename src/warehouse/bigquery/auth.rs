//! What a `bigquery` target says (project, location, retries, ...) and how
//! strata signs in with it: a service-account key (file or JSON),
//! application default credentials, or nothing for an emulator. No secret
//! leaves this module in a message.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gcp_bigquery_client::Client;
use gcp_bigquery_client::auth::Authenticator;
use gcp_bigquery_client::client_builder::ClientBuilder;
use gcp_bigquery_client::error::BQError;
use serde_json::Value as Json;

use crate::core::diagnostic::Diagnostic;
use crate::project::Target;
use crate::warehouse::WarehouseError;
use crate::warehouse::bigquery::describe_error;

/// The `bigquery` fields of a target, read once when the warehouse opens.
#[derive(Debug, Clone)]
pub struct Settings {
    pub project: String,
    pub location: Option<String>,
    pub credentials: Credentials,
    /// How often a job that failed for a reason worth retrying is sent again.
    pub job_retries: u32,
    /// `INTERACTIVE` or `BATCH`.
    pub priority: Option<String>,
    /// Where the REST API is: Google's, or an emulator's (no authentication then).
    pub api_endpoint: Option<String>,
    /// On-demand price per TiB, for `--dry-run`'s estimate.
    pub cost_per_tib: f64,
    /// How long each API call may wait for an answer (dbt's
    /// `job_creation_timeout_seconds`, else [`DEFAULT_REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
}

/// How strata signs its requests in.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// `api_endpoint` without a key: an emulator.
    None,
    /// `method: service-account`: a key file.
    KeyFile(std::path::PathBuf),
    /// `method: service-account-json`: the key itself, from the profile (an
    /// `env_var()`), never printed.
    KeyJson(String),
    /// `method: oauth`: application default credentials (gcloud's
    /// authorized-user file, or the metadata server).
    ApplicationDefault,
}

/// How long strata waits to connect to BigQuery.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long strata waits for the answer to an API call when the profile does
/// not say: above the 10 s a poll asks BigQuery to hold its answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a poll asks BigQuery to hold its answer while a job runs.
const POLL_WAIT: Duration = Duration::from_secs(10);

/// dbt-bigquery's default number of retries of a failed job.
const DEFAULT_JOB_RETRIES: u32 = 1;
/// On-demand price in USD per TiB scanned.
const DEFAULT_COST_PER_TIB: f64 = 6.25;

impl Settings {
    /// Reads the BigQuery fields of `target`; a wrong one is an error at its line.
    pub fn of(target: &Target, project_root: &Path) -> Result<Settings, Diagnostic> {
        let error = |message: String, field: &str| {
            Diagnostic::new(format!("target `{}` of profile `{}`: {message}", target.name, target.profile_name))
                .at(target.locate(&format!("{field}:")))
        };
        let fields = &target.fields;
        let text = |key: &str| match fields.get(key) {
            Some(Json::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Json::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let job_retries = match fields.get("job_retries") {
            None | Some(Json::Null) => DEFAULT_JOB_RETRIES,
            Some(value) => value
                .as_u64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| error(format!("`job_retries` must be a whole number, not `{value}`"), "job_retries"))?,
        };
        let priority = match text("priority").map(|p| p.to_ascii_lowercase()) {
            None => None,
            Some(p) if p == "interactive" || p == "batch" => Some(p.to_ascii_uppercase()),
            Some(other) => {
                return Err(error(format!("`priority` must be `interactive` or `batch`, not `{other}`"), "priority"));
            }
        };
        let cost_per_tib = match fields.get("cost_per_tib") {
            None | Some(Json::Null) => DEFAULT_COST_PER_TIB,
            Some(value) => value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|cost| *cost >= 0.0)
                .ok_or_else(|| error(format!("`cost_per_tib` must be a number of US dollars, not `{value}`"), "cost_per_tib"))?,
        };
        let request_timeout = match fields.get("job_creation_timeout_seconds") {
            None | Some(Json::Null) => DEFAULT_REQUEST_TIMEOUT,
            Some(value) => value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|seconds| *seconds > 0.0 && seconds.is_finite())
                .map(Duration::from_secs_f64)
                .ok_or_else(|| error(format!("`job_creation_timeout_seconds` must be a positive number of seconds, not `{value}`"), "job_creation_timeout_seconds"))?,
        };
        let api_endpoint = text("api_endpoint").map(|url| url.trim_end_matches('/').to_string());
        // An emulator takes requests without credentials: `api_endpoint`
        // without a `method`, or `method: emulator`. A method named beside an
        // endpoint is still used (a proxy in front of BigQuery).
        let method = text("method").unwrap_or_else(|| if api_endpoint.is_some() { "emulator".into() } else { "oauth".into() });
        let credentials = match method.as_str() {
            "service-account" => match text("keyfile") {
                Some(path) => {
                    let path = project_root.join(path);
                    Credentials::KeyFile(std::path::absolute(&path).unwrap_or(path))
                }
                None => return Err(error("`method: service-account` needs `keyfile:`".into(), "method")),
            },
            "service-account-json" => match fields.get("keyfile_json") {
                Some(Json::String(key)) => Credentials::KeyJson(key.clone()),
                Some(key @ Json::Object(_)) => Credentials::KeyJson(key.to_string()),
                _ => return Err(error("`method: service-account-json` needs `keyfile_json:` (the key's JSON)".into(), "method")),
            },
            "emulator" => Credentials::None,
            _ => Credentials::ApplicationDefault,
        };
        let location = text("location");
        if let Some(location) = location.as_ref().filter(|location| !is_location(location)) {
            return Err(error(format!("`{location}` is not a BigQuery location"), "location")
                .help("use a multi-region (`US`, `EU`) or a region such as `us-central1` or `europe-west3`, where the datasets are"));
        }
        Ok(Settings {
            project: target.database.clone().unwrap_or_default(),
            location,
            credentials,
            job_retries,
            priority,
            api_endpoint,
            cost_per_tib,
            request_timeout,
        })
    }

    /// The project jobs run in.
    pub fn job_project(&self) -> &str {
        &self.project
    }

    /// How long a poll asks BigQuery to hold its answer: well inside the
    /// time strata waits for any answer.
    pub fn poll_wait(&self) -> Duration {
        POLL_WAIT.min(self.request_timeout / 2)
    }

    /// Which credential is used, without any of its secret parts.
    pub fn describe_credentials(&self) -> String {
        match &self.credentials {
            Credentials::None => format!("none (`api_endpoint: {}`)", self.api_endpoint.as_deref().unwrap_or_default()),
            Credentials::KeyFile(path) => format!("service-account key file `{}`{}", path.display(), client_email(std::fs::read_to_string(path).ok().as_deref())),
            Credentials::KeyJson(key) => format!("service-account key from `keyfile_json`{}", client_email(Some(key))),
            Credentials::ApplicationDefault => match application_default_file() {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).ok();
                    let kind = text.as_deref().and_then(|t| serde_json::from_str::<Json>(t).ok()).and_then(|k| k.get("type").and_then(Json::as_str).map(str::to_string));
                    match kind.as_deref() {
                        Some("authorized_user") => format!("application default credentials: gcloud's authorized-user file `{}`", path.display()),
                        _ => format!("application default credentials: service-account key file `{}`{}", path.display(), client_email(text.as_deref())),
                    }
                }
                None => "application default credentials: the metadata server of the machine".into(),
            },
        }
    }
}

/// A multi-region (`US`, `EU`) or a region's name (`us-central1`,
/// `northamerica-northeast2`): BigQuery adds regions, so their shape is checked, not a list.
fn is_location(location: &str) -> bool {
    if location.eq_ignore_ascii_case("US") || location.eq_ignore_ascii_case("EU") {
        return true;
    }
    let mut parts = location.split('-');
    let (Some(area), Some(place), None) = (parts.next(), parts.next(), parts.next()) else { return false };
    let letters = place.trim_end_matches(|c: char| c.is_ascii_digit());
    !area.is_empty()
        && area.chars().all(|c| c.is_ascii_lowercase())
        && !letters.is_empty()
        && letters.len() < place.len()
        && letters.chars().all(|c| c.is_ascii_lowercase())
}

/// ` (client@project.iam.gserviceaccount.com)`: who a key signs in as.
fn client_email(key: Option<&str>) -> String {
    key.and_then(|key| serde_json::from_str::<Json>(key).ok())
        .and_then(|key| key.get("client_email").and_then(Json::as_str).map(|email| format!(" ({email})")))
        .unwrap_or_default()
}

/// Signs nothing: the emulator takes every request.
#[derive(Clone)]
struct NoAuthentication;

#[async_trait::async_trait]
impl Authenticator for NoAuthentication {
    async fn access_token(&self) -> Result<String, BQError> {
        Ok("strata-emulator".into())
    }
}

/// The HTTP client every BigQuery call goes through: none waits without end
/// for a connection or an answer (a dropped packet would hang the run).
fn http_client(settings: &Settings) -> Result<reqwest::Client, WarehouseError> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(settings.request_timeout)
        .build()
        .map_err(|err| WarehouseError::Connect(format!("could not create the HTTP client for BigQuery: {err}")))
}

pub(super) async fn build_client(settings: &Settings) -> Result<Client, WarehouseError> {
    let mut builder = ClientBuilder::new();
    builder.with_client(http_client(settings)?);
    if let Some(endpoint) = &settings.api_endpoint {
        builder.with_v2_base_url(endpoint.clone());
    }
    let credential_error = |what: String, err: BQError| {
        WarehouseError::Connect(format!("{what}: {}", describe_error(&err)))
    };
    match &settings.credentials {
        Credentials::None => builder
            .build_from_authenticator(Arc::new(NoAuthentication))
            .await
            .map_err(|err| credential_error("could not create the BigQuery client".into(), err)),
        Credentials::KeyFile(path) => {
            let text = std::fs::read_to_string(path).map_err(|err| {
                WarehouseError::Connect(format!("could not read the service-account key file `{}`: {err}", path.display()))
            })?;
            from_key_file(&builder, path, &text, "service-account key file").await
        }
        Credentials::KeyJson(text) => {
            let key = parse_key(text)
                .map_err(|err| WarehouseError::Connect(format!("`keyfile_json` is not a service-account key: {err}")))?;
            builder
                .build_from_service_account_key(key, false)
                .await
                .map_err(|err| credential_error("could not use the service-account key of `keyfile_json`".into(), err))
        }
        Credentials::ApplicationDefault => {
            let Some(path) = application_default_file() else {
                // No file: the metadata server of a Google Cloud machine.
                return builder
                    .build_from_application_default_credentials()
                    .await
                    .map_err(|err| credential_error("could not find application default credentials".into(), err));
            };
            let text = std::fs::read_to_string(&path).map_err(|err| {
                WarehouseError::Connect(format!("could not read the application default credentials `{}`: {err}", path.display()))
            })?;
            let kind = serde_json::from_str::<Json>(&text).ok().and_then(|key| key.get("type").and_then(Json::as_str).map(str::to_string));
            if kind.as_deref() == Some("authorized_user") {
                builder
                    .build_from_authorized_user_authenticator(&path)
                    .await
                    .map_err(|err| credential_error(format!("could not use gcloud's authorized-user file `{}`", path.display()), err))
            } else {
                from_key_file(&builder, &path, &text, "application default credentials").await
            }
        }
    }
}

/// A client signing in with the service-account key `text`, read from `path`
/// (`what` names the file in messages).
async fn from_key_file(builder: &ClientBuilder, path: &Path, text: &str, what: &str) -> Result<Client, WarehouseError> {
    let key = parse_key(text)
        .map_err(|err| WarehouseError::Connect(format!("the {what} `{}` is not a service-account key: {err}", path.display())))?;
    builder
        .build_from_service_account_key(key, false)
        .await
        .map_err(|err| WarehouseError::Connect(format!("could not use the {what} `{}`: {}", path.display(), describe_error(&err))))
}

/// Where application default credentials are, as Google's libraries look:
/// `GOOGLE_APPLICATION_CREDENTIALS`, else gcloud's file
/// (`gcloud auth application-default login`); none means the metadata server.
fn application_default_file() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS").filter(|p| !p.is_empty()) {
        return Some(std::path::PathBuf::from(path));
    }
    let config = match std::env::var_os("CLOUDSDK_CONFIG") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::PathBuf::from(std::env::var_os("HOME")?).join(".config/gcloud"),
    };
    Some(config.join("application_default_credentials.json")).filter(|path| path.is_file())
}

/// Why a service-account key cannot be read; never quotes the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{field} (line {line}, column {column})")]
    MissingField { field: String, line: usize, column: usize },
    #[error("not valid JSON (line {line}, column {column})")]
    Syntax { line: usize, column: usize },
    #[error("a field has the wrong type (line {line}, column {column})")]
    WrongType { line: usize, column: usize },
}

/// A service-account key.
fn parse_key(text: &str) -> Result<gcp_bigquery_client::yup_oauth2::ServiceAccountKey, KeyError> {
    serde_json::from_str(text).map_err(|err| {
        // serde's message can quote a value of the key; only a missing field's name is kept.
        let (line, column) = (err.line(), err.column());
        let message = err.to_string();
        match message.split(" at line").next() {
            Some(missing) if missing.starts_with("missing field") => KeyError::MissingField { field: missing.to_string(), line, column },
            _ if err.is_syntax() || err.is_eof() => KeyError::Syntax { line, column },
            _ => KeyError::WrongType { line, column },
        }
    })
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_multi_regions_or_regions() {
        for good in ["US", "eu", "us-central1", "europe-west3", "northamerica-northeast2", "me-central2"] {
            assert!(is_location(good), "{good}");
        }
        for bad in ["mars", "us-central", "US-CENTRAL1", "europe_west3", "-1", "us-central1-a", ""] {
            assert!(!is_location(bad), "{bad}");
        }
    }
}
