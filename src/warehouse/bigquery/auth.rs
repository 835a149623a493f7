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
use gcp_bigquery_client::yup_oauth2 as yup;
use serde_json::Value as Json;

use crate::core::diagnostic::Diagnostic;
use crate::warehouse::WarehouseError;
use crate::warehouse::bigquery::describe_error;
use crate::warehouse::target::Target;

/// The `bigquery` fields of a target, read once when the warehouse opens.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the tables are.
    pub project: String,
    /// Where jobs run and are billed, when not in `project` (dbt's `execution_project`).
    pub execution_project: Option<String>,
    pub location: Option<String>,
    pub credentials: Credentials,
    /// How often a job that failed for a reason worth retrying is sent again.
    pub job_retries: u32,
    /// How long a job and its tries may take in all (dbt-bigquery's
    /// `job_retry_deadline_seconds`): no try starts after it.
    pub retry_deadline: Option<Duration>,
    /// `INTERACTIVE` or `BATCH`.
    pub priority: Option<String>,
    /// Where the REST API is: Google's, or an emulator's (no authentication then).
    pub api_endpoint: Option<String>,
    /// On-demand price per TiB, for `--dry-run`'s estimate.
    pub cost_per_tib: f64,
    /// How long each API call may wait for an answer (dbt's
    /// `job_creation_timeout_seconds`, else [`DEFAULT_REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
    /// The OAuth scopes tokens are asked for (dbt's `scopes`).
    pub scopes: Vec<String>,
    /// The service account jobs run as, through IAM's `generateAccessToken`
    /// with the credential above (dbt's `impersonate_service_account`).
    pub impersonate_service_account: Option<String>,
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

/// What is escaped in a path segment (an account's e-mail, a project id).
pub(super) const PATH_SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'@');

/// dbt-bigquery's default scopes.
const DEFAULT_SCOPES: [&str; 3] =
    ["https://www.googleapis.com/auth/bigquery", "https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/drive"];

/// Where IAM's credentials API is; `STRATA_IAM_CREDENTIALS_ENDPOINT` overrides
/// it (a private endpoint, or the tests' local server).
const IAM_CREDENTIALS_ENDPOINT: &str = "https://iamcredentials.googleapis.com";

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
        // `retries` is dbt-bigquery's older name.
        let job_retries = match fields.get("job_retries").or_else(|| fields.get("retries")) {
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
        let seconds = |key: &str| -> Result<Option<Duration>, Diagnostic> {
            match fields.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(value) => value
                    .as_f64()
                    .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                    .filter(|seconds| *seconds > 0.0 && seconds.is_finite())
                    .map(|seconds| Some(Duration::from_secs_f64(seconds)))
                    .ok_or_else(|| error(format!("`{key}` must be a positive number of seconds, not `{value}`"), key)),
            }
        };
        let request_timeout = seconds("job_creation_timeout_seconds")?.unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        let retry_deadline = seconds("job_retry_deadline_seconds")?;
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
        let scopes = match fields.get("scopes") {
            None | Some(Json::Null) => DEFAULT_SCOPES.iter().map(|scope| scope.to_string()).collect(),
            Some(Json::Array(items)) if !items.is_empty() && items.iter().all(|item| item.as_str().is_some_and(|s| !s.is_empty())) => {
                items.iter().filter_map(Json::as_str).map(str::to_string).collect()
            }
            Some(other) => return Err(error(format!("`scopes` must be a list of OAuth scopes, not `{other}`"), "scopes")),
        };
        let location = text("location");
        if let Some(location) = location.as_ref().filter(|location| !is_location(location)) {
            return Err(error(format!("`{location}` is not a BigQuery location"), "location")
                .help("use a multi-region (`US`, `EU`) or a region such as `us-central1` or `europe-west3`, where the datasets are"));
        }
        Ok(Settings {
            project: target.database.clone().unwrap_or_default(),
            execution_project: text("execution_project"),
            scopes,
            impersonate_service_account: text("impersonate_service_account"),
            location,
            credentials,
            job_retries,
            priority,
            api_endpoint,
            cost_per_tib,
            request_timeout,
            retry_deadline,
        })
    }

    /// The project jobs run in: `execution_project`, else `project`.
    pub fn job_project(&self) -> &str {
        self.execution_project.as_deref().unwrap_or(&self.project)
    }

    /// Where files are uploaded for load jobs: the API's upload path.
    pub fn upload_base(&self) -> String {
        match &self.api_endpoint {
            Some(endpoint) => match endpoint.strip_suffix("/bigquery/v2") {
                Some(root) => format!("{root}/upload/bigquery/v2"),
                None => format!("{endpoint}/upload"),
            },
            None => "https://bigquery.googleapis.com/upload/bigquery/v2".into(),
        }
    }

    /// How long a poll asks BigQuery to hold its answer: well inside the
    /// time strata waits for any answer.
    pub fn poll_wait(&self) -> Duration {
        POLL_WAIT.min(self.request_timeout / 2)
    }

    /// Which credential is used, without any of its secret parts.
    pub fn describe_credentials(&self) -> String {
        match &self.impersonate_service_account {
            Some(account) => format!("{}, impersonating `{account}`", self.describe_base_credentials()),
            None => self.describe_base_credentials(),
        }
    }

    fn describe_base_credentials(&self) -> String {
        match &self.credentials {
            Credentials::None => format!("none (`api_endpoint: {}`)", self.api_endpoint.as_deref().unwrap_or_default()),
            Credentials::KeyFile(path) => {
                format!("service-account key file `{}`{}", path.display(), client_email(std::fs::read_to_string(path).ok().as_deref()))
            }
            Credentials::KeyJson(key) => format!("service-account key from `keyfile_json`{}", client_email(Some(key))),
            Credentials::ApplicationDefault => match application_default_file() {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).ok();
                    let kind = text
                        .as_deref()
                        .and_then(|t| serde_json::from_str::<Json>(t).ok())
                        .and_then(|k| k.get("type").and_then(Json::as_str).map(str::to_string));
                    match kind.as_deref() {
                        Some("authorized_user") => format!("application default credentials: gcloud's authorized-user file `{}`", path.display()),
                        _ => {
                            format!("application default credentials: service-account key file `{}`{}", path.display(), client_email(text.as_deref()))
                        }
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

/// The API client, and what the calls it does not make (uploads) need: the
/// signer of requests and the HTTP client with its timeouts.
#[derive(Clone)]
pub(super) struct Api {
    pub client: Client,
    pub authenticator: Arc<dyn Authenticator>,
    pub http: reqwest::Client,
}

pub(super) async fn build_client(settings: &Settings) -> Result<Api, WarehouseError> {
    let http = http_client(settings)?;
    let base = base_authenticator(settings).await?;
    let authenticator: Arc<dyn Authenticator> = match &settings.impersonate_service_account {
        Some(account) => Arc::new(Impersonated {
            base,
            account: account.clone(),
            scopes: settings.scopes.clone(),
            endpoint: std::env::var("STRATA_IAM_CREDENTIALS_ENDPOINT")
                .ok()
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| IAM_CREDENTIALS_ENDPOINT.to_string()),
            http: http.clone(),
            cached: Arc::default(),
        }),
        None => base,
    };
    let mut builder = ClientBuilder::new();
    builder.with_client(http.clone());
    if let Some(endpoint) = &settings.api_endpoint {
        builder.with_v2_base_url(endpoint.clone());
    }
    let client = builder
        .build_from_authenticator(authenticator.clone())
        .await
        .map_err(|err| WarehouseError::Connect(format!("could not create the BigQuery client: {}", describe_error(&err))))?;
    Ok(Api { client, authenticator, http })
}

/// What signs requests in, as the target's `method` says, with its scopes.
async fn base_authenticator(settings: &Settings) -> Result<Arc<dyn Authenticator>, WarehouseError> {
    let io_error = |what: String, err: std::io::Error| WarehouseError::Connect(format!("{what}: {err}"));
    let scoped = |auth| -> Arc<dyn Authenticator> { Arc::new(Scoped { auth, scopes: settings.scopes.clone() }) };
    match &settings.credentials {
        Credentials::None => Ok(Arc::new(NoAuthentication)),
        Credentials::KeyFile(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|err| WarehouseError::Connect(format!("could not read the service-account key file `{}`: {err}", path.display())))?;
            from_key_file(path, &text, "service-account key file").await.map(scoped)
        }
        Credentials::KeyJson(text) => {
            let key = parse_key(text).map_err(|err| WarehouseError::Connect(format!("`keyfile_json` is not a service-account key: {err}")))?;
            yup::ServiceAccountAuthenticator::builder(key)
                .build()
                .await
                .map(scoped)
                .map_err(|err| io_error("could not use the service-account key of `keyfile_json`".into(), err))
        }
        Credentials::ApplicationDefault => {
            let Some(path) = application_default_file() else {
                // No file: the metadata server of a Google Cloud machine.
                let options = yup::ApplicationDefaultCredentialsFlowOpts::default();
                let built = match yup::ApplicationDefaultCredentialsAuthenticator::builder(options).await {
                    yup::authenticator::ApplicationDefaultCredentialsTypes::InstanceMetadata(auth) => auth.build().await,
                    yup::authenticator::ApplicationDefaultCredentialsTypes::ServiceAccount(auth) => auth.build().await,
                };
                return built.map(scoped).map_err(|err| io_error("could not find application default credentials".into(), err));
            };
            let text = std::fs::read_to_string(&path)
                .map_err(|err| WarehouseError::Connect(format!("could not read the application default credentials `{}`: {err}", path.display())))?;
            let kind = serde_json::from_str::<Json>(&text).ok().and_then(|key| key.get("type").and_then(Json::as_str).map(str::to_string));
            if kind.as_deref() == Some("authorized_user") {
                let what = || format!("could not use gcloud's authorized-user file `{}`", path.display());
                let secret = yup::read_authorized_user_secret(&path).await.map_err(|err| io_error(what(), err))?;
                yup::AuthorizedUserAuthenticator::builder(secret).build().await.map(scoped).map_err(|err| io_error(what(), err))
            } else {
                from_key_file(&path, &text, "application default credentials").await.map(scoped)
            }
        }
    }
}

/// yup-oauth2's authenticator for one credential, asking for `scopes`.
#[derive(Clone)]
struct Scoped {
    auth: yup::authenticator::DefaultAuthenticator,
    scopes: Vec<String>,
}

#[async_trait::async_trait]
impl Authenticator for Scoped {
    async fn access_token(&self) -> Result<String, BQError> {
        let token = self.auth.token(&self.scopes).await?;
        token.token().map(str::to_string).ok_or(BQError::NoToken)
    }
}

/// Signs in as another service account: IAM's `generateAccessToken`,
/// authorised by the base credential, gives a token for the account, kept
/// until a minute before it expires. See:
/// <https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken>
#[derive(Clone)]
struct Impersonated {
    base: Arc<dyn Authenticator>,
    account: String,
    scopes: Vec<String>,
    endpoint: String,
    http: reqwest::Client,
    cached: Arc<tokio::sync::Mutex<Option<(String, std::time::Instant)>>>,
}

/// IAM's answer to `generateAccessToken`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeneratedToken {
    access_token: String,
    expire_time: String,
}

#[async_trait::async_trait]
impl Authenticator for Impersonated {
    async fn access_token(&self) -> Result<String, BQError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && *expires > std::time::Instant::now() + Duration::from_secs(60)
        {
            return Ok(token.clone());
        }
        let url = format!(
            "{}/v1/projects/-/serviceAccounts/{}:generateAccessToken",
            self.endpoint.trim_end_matches('/'),
            percent_encoding::utf8_percent_encode(&self.account, PATH_SEGMENT)
        );
        let base_token = self.base.access_token().await?;
        let body = serde_json::json!({"scope": self.scopes, "lifetime": "3600s"});
        let response = self.http.post(url).bearer_auth(base_token).json(&body).send().await?;
        if !response.status().is_success() {
            let status = response.error_for_status_ref().err();
            let text = response.text().await?;
            return Err(match (serde_json::from_str(&text), status) {
                (Ok(error), _) => BQError::ResponseError { error },
                (Err(_), Some(status)) => BQError::RequestError(status),
                (Err(_), None) => BQError::NoToken,
            });
        }
        let generated: GeneratedToken = response.json().await?;
        let lifetime = chrono::DateTime::parse_from_rfc3339(&generated.expire_time)
            .ok()
            .and_then(|expires| (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok())
            .unwrap_or_default();
        *cached = Some((generated.access_token.clone(), std::time::Instant::now() + lifetime));
        Ok(generated.access_token)
    }
}

/// yup-oauth2's authenticator for the service-account key `text`, read from
/// `path` (`what` names the file in messages).
async fn from_key_file(path: &Path, text: &str, what: &str) -> Result<yup::authenticator::DefaultAuthenticator, WarehouseError> {
    let key =
        parse_key(text).map_err(|err| WarehouseError::Connect(format!("the {what} `{}` is not a service-account key: {err}", path.display())))?;
    yup::ServiceAccountAuthenticator::builder(key)
        .build()
        .await
        .map_err(|err| WarehouseError::Connect(format!("could not use the {what} `{}`: {err}", path.display())))
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
