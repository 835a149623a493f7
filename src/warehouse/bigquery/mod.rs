//! BigQuery over its REST API (`gcp-bigquery-client`). Every statement is a
//! query job with an id strata chooses, so a job can be cancelled (Ctrl-C,
//! `job_timeout_seconds`) from the moment it is sent. The warehouse owns one
//! tokio runtime; each worker's connection blocks on it, so the executor's
//! threads stay as they are for DuckDB.

mod auth;
mod load;
pub mod profile;
pub mod sql;
pub mod types;

pub use auth::{Credentials, KeyError, Settings};

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gcp_bigquery_client::Client;
use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::model::field_type::FieldType;
use gcp_bigquery_client::model::get_query_results_parameters::GetQueryResultsParameters;
use gcp_bigquery_client::model::job::Job as ApiJob;
use gcp_bigquery_client::model::job_configuration::JobConfiguration;
use gcp_bigquery_client::model::job_configuration_query::JobConfigurationQuery;
use gcp_bigquery_client::model::job_reference::JobReference;
use serde_json::{Map, Value as Json};

use crate::core::columns::Column;
use crate::core::diagnostic::{Diagnostic, Location};
use crate::core::job::{Job, JobStats};
use crate::core::relation::Relation;
use crate::core::table::{Cell, Table};
use crate::core::wait::Backoff;
use crate::sql::SqlGenerator;
use crate::warehouse::fields::FieldError;
use crate::warehouse::profiles::WarehouseKeys;
use crate::warehouse::target::Target;
use crate::warehouse::{Adapter, Connection, ErrorAt, ExistingRelation, RelationKey, RelationKind, Relations, Warehouse, WarehouseError};
use sql::BigQuerySql;

pub struct BigQuery {
    runtime: tokio::runtime::Runtime,
    client: Client,
    api: auth::Api,
    settings: Arc<Settings>,
    /// Jobs sent and not yet finished, cancelled by `interrupt`.
    running: Arc<Mutex<HashSet<String>>>,
    interrupted: tokio::sync::watch::Sender<bool>,
    sql: BigQuerySql,
}

impl BigQuery {
    pub fn open(settings: Settings) -> Result<BigQuery, WarehouseError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("strata-bigquery")
            .enable_all()
            .build()
            .map_err(|err| WarehouseError::Connect(format!("could not start the BigQuery client: {err}")))?;
        let api = runtime.block_on(auth::build_client(&settings))?;
        let (interrupted, _) = tokio::sync::watch::channel(false);
        Ok(BigQuery {
            runtime,
            client: api.client.clone(),
            api,
            settings: Arc::new(settings),
            running: Arc::new(Mutex::new(HashSet::new())),
            interrupted,
            sql: BigQuerySql,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// BigQuery's [`Adapter`]: a project's datasets through the REST API, signed
/// in as the target's `method:` says.
pub struct BigQueryAdapter;

impl Adapter for BigQueryAdapter {
    fn name(&self) -> &'static str {
        "bigquery"
    }

    fn dialect(&self) -> &'static dyn SqlGenerator {
        &BigQuerySql
    }

    fn read_keys(
        &self,
        _profile_name: &str,
        fields: &Map<String, Json>,
        job_labels: &[(String, String)],
        error: FieldError<'_>,
    ) -> Result<WarehouseKeys, Diagnostic> {
        let (dataset, project) = profile::read(fields, job_labels, error)?;
        Ok(WarehouseKeys { schema: dataset, database: Some(project) })
    }

    fn unused_keys(&self, fields: &Map<String, Json>, locate: &dyn Fn(&str) -> Location) -> Vec<Diagnostic> {
        profile::unused_keys(fields, locate)
    }

    fn macros(&self) -> Option<(&'static str, &'static str)> {
        Some(("strata/bigquery.sql", include_str!("macros.sql")))
    }

    fn relation_class(&self) -> &'static str {
        "BigQueryRelation"
    }

    fn open(&self, target: &Target, root: &Path, _profile_name: &str, _lock_timeout: Duration) -> Result<Arc<dyn Warehouse>, Diagnostic> {
        let settings = Settings::of(target, root)?;
        let warehouse = BigQuery::open(settings).map_err(|err| {
            Diagnostic::new(format!("target `{}`: {err}", target.name))
                .help("check `method:` and the key it names in `profiles.yml`; `strata debug` tests the connection")
        })?;
        Ok(Arc::new(warehouse))
    }

    /// BigQuery's names for them, where the database is part of every relation.
    fn target_aliases(&self, target: &Target) -> Vec<(&'static str, String)> {
        match &target.database {
            Some(project) => vec![("project", project.clone()), ("dataset", target.schema.clone())],
            None => Vec::new(),
        }
    }
}

impl Warehouse for BigQuery {
    fn connect(&self) -> Result<Box<dyn Connection>, WarehouseError> {
        Ok(Box::new(BigQueryConnection {
            runtime: self.runtime.handle().clone(),
            client: self.client.clone(),
            api: self.api.clone(),
            settings: self.settings.clone(),
            running: self.running.clone(),
            interrupted: self.interrupted.subscribe(),
            retried: std::cell::RefCell::default(),
        }))
    }

    /// Cancels the jobs in flight, then marks every connection interrupted.
    /// In that order: a connection told first would stop waiting, forget its
    /// job and let the process exit before the cancel is sent.
    fn interrupt(&self) {
        let ids: Vec<String> = self.running.lock().map(|running| running.iter().cloned().collect()).unwrap_or_default();
        let cancels: Vec<_> = ids
            .into_iter()
            .map(|id| {
                let client = self.client.clone();
                let settings = self.settings.clone();
                self.runtime.spawn(async move { client.job().cancel_job(settings.job_project(), &id, settings.location.as_deref()).await })
            })
            .collect();
        // Each cancel was sent concurrently; wait a little for them to reach BigQuery.
        self.runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            for cancel in cancels {
                let _ = tokio::time::timeout_at(deadline, cancel).await;
            }
        });
        self.interrupted.send_replace(true);
    }

    fn sql(&self) -> &dyn SqlGenerator {
        &self.sql
    }

    fn price_per_tib(&self) -> Option<f64> {
        Some(self.settings.cost_per_tib)
    }

    fn credentials(&self) -> Option<String> {
        Some(self.settings.describe_credentials())
    }

    /// A dataset is created in the profile's `location`.
    fn create_schema(&self, relation: &crate::core::relation::Relation) -> String {
        let create = self.sql.create_schema(relation);
        match &self.settings.location {
            Some(location) => format!("{create} options(location = {})", self.sql.string_literal(location)),
            None => create,
        }
    }
}

struct BigQueryConnection {
    runtime: tokio::runtime::Handle,
    client: Client,
    api: auth::Api,
    settings: Arc<Settings>,
    running: Arc<Mutex<HashSet<String>>>,
    interrupted: tokio::sync::watch::Receiver<bool>,
    /// Why the job in progress was sent again, for its statistics.
    retried: std::cell::RefCell<Vec<String>>,
}

/// Error reasons BigQuery gives for a job or a request worth sending again.
const RETRYABLE_REASONS: [&str; 5] = ["rateLimitExceeded", "backendError", "jobRateLimitExceeded", "internalError", "jobInternalError"];

/// What a call to the API failed with, and whether to send it again.
fn classify(err: &BQError) -> (String, bool) {
    let retryable = match err {
        BQError::ResponseError { error } => {
            let code = error.error.code;
            code == 429 || code >= 500 || error.error.errors.iter().any(|e| e.get("reason").is_some_and(|r| RETRYABLE_REASONS.contains(&r.as_str())))
        }
        // No answer (refused, dropped, timed out), or an answer that is not
        // the API's JSON (a proxy's 502 or 429 page). Only a request that
        // could not be built is not worth sending again.
        BQError::RequestError(err) => !err.is_builder(),
        _ => false,
    };
    (describe_error(err), retryable)
}

/// BigQuery's own message where there is one, not the client's debug text.
pub(crate) fn describe_error(err: &BQError) -> String {
    match err {
        BQError::ResponseError { error } => {
            let reason = error.error.errors.first().and_then(|e| e.get("reason")).map(|r| format!(" ({r})")).unwrap_or_default();
            format!("{}{reason}", error.error.message)
        }
        BQError::RequestError(err) => {
            let mut message = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(inner) = source {
                message = format!("{message}: {inner}");
                source = inner.source();
            }
            // A proxy's or load balancer's page, not the API's answer.
            if err.is_decode() { format!("the answer was not BigQuery's JSON ({message})") } else { message }
        }
        other => other.to_string(),
    }
}

/// BigQuery's reason code for an error (`notFound`, `accessDenied`).
fn reason_of(err: &BQError) -> Option<String> {
    match err {
        BQError::ResponseError { error } => error.error.errors.first().and_then(|e| e.get("reason")).cloned(),
        _ => None,
    }
}

/// `err` with BigQuery's reason code for it.
fn with_reason(err: WarehouseError, code: Option<String>) -> WarehouseError {
    match err {
        WarehouseError::Query { message, retryable, job_id, at, .. } => WarehouseError::Query { message, retryable, job_id, at, reason: code },
        other => other,
    }
}

fn is_status(err: &BQError, code: i64) -> bool {
    matches!(err, BQError::ResponseError { error } if error.error.code == code)
}

/// The waits between tries: 0.25 s doubling to 30 s (`core::wait::Backoff`),
/// less up to half of each as jitter, so retrying workers do not send together.
fn backoff(attempt: u32) -> Duration {
    const GROWTH: Backoff = Backoff { first: Duration::from_millis(250), factor: 2.0, max: Duration::from_secs(30) };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let jitter = f64::from(nanos % 1000) / 1000.0;
    GROWTH.pause(attempt + 1).mul_f64(0.5 + jitter / 2.0)
}

/// A job id no other job has: strata's prefix, the process and a counter.
fn new_job_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("strata_{nanos:x}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// How long strata goes on asking about a job BigQuery does not answer for
/// (lost connections, 5xx) before it gives up waiting for it.
const LOST_CONTACT: Duration = Duration::from_secs(600);

/// How a running job is waited on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Poll {
    /// `getQueryResults`, which BigQuery holds until the query ends (or 10 s pass).
    QueryResults,
    /// `jobs.get` after a pause: for jobs without results (loads).
    Job,
}

/// A finished job, or the error it ended with.
fn ended_well(finished: ApiJob, id: &str, sql: &str) -> Result<ApiJob, JobFailure> {
    let Some(error) = finished.status.as_ref().and_then(|s| s.error_result.as_ref()) else { return Ok(finished) };
    let reason = error.reason.clone().unwrap_or_default();
    let message = error.message.clone().unwrap_or_else(|| reason.clone());
    // A transaction BigQuery aborted because another one changed the same
    // table (a backfill beside the nightly run) wrote nothing: it runs again.
    // See: https://cloud.google.com/bigquery/docs/transactions#transaction_concurrency
    let retryable = RETRYABLE_REASONS.contains(&reason.as_str()) || is_concurrent_update(&message);
    let err = with_reason(job_error(message, retryable, id, sql), Some(reason).filter(|r| !r.is_empty()));
    Err(if retryable { JobFailure::Retryable(err) } else { JobFailure::Final(err) })
}

/// BigQuery's messages for a transaction or DML statement aborted by another
/// that changed the same table.
fn is_concurrent_update(message: &str) -> bool {
    message.contains("due to concurrent update")
}

/// Why a failed job is sent again, as the run's line says it.
fn retry_cause(err: &WarehouseError) -> String {
    match err {
        WarehouseError::Query { message, .. } if is_concurrent_update(message) => "a concurrent update".into(),
        WarehouseError::Query { reason: Some(reason), .. } => format!("`{reason}`"),
        other => other.to_string(),
    }
}

/// Why a job did not finish well.
enum JobFailure {
    /// The job ran and BigQuery failed it for a reason worth a new try
    /// (`backendError`, `rateLimitExceeded`): it wrote nothing, so a new job
    /// may run the statement again.
    Retryable(WarehouseError),
    /// Anything else, a job that may still run included.
    Final(WarehouseError),
}

/// What an API error on job `id` that sending again will not mend fails with.
fn failed_for(id: &str) -> impl Fn(BQError) -> JobFailure + '_ {
    move |err| {
        JobFailure::Final(WarehouseError::Query {
            message: describe_error(&err),
            retryable: false,
            job_id: Some(id.to_string()),
            at: None,
            reason: reason_of(&err),
        })
    }
}

impl BigQueryConnection {
    fn is_interrupted(&self) -> bool {
        *self.interrupted.borrow()
    }

    /// Calls the API, sending again on a 429, a 5xx or no answer, up to `job_retries` times.
    async fn call<T, F, Fut>(&self, mut request: F) -> Result<T, BQError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, BQError>>,
    {
        let (started, mut attempt) = (std::time::Instant::now(), 0);
        loop {
            match request().await {
                Err(err) if self.may_retry(attempt, started) && classify(&err).1 => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Whether try `attempt` (from 0) may be followed by another: fewer than
    /// `job_retries` so far, and its pause ends before `job_retry_deadline_seconds`.
    fn may_retry(&self, attempt: u32, started: std::time::Instant) -> bool {
        let settings = &self.settings;
        attempt < settings.job_retries && settings.retry_deadline.is_none_or(|deadline| started.elapsed() + backoff(attempt) < deadline)
    }

    /// Sends `job` and waits for it. A job BigQuery accepted is only ever
    /// waited for, never sent again, unless it ended failed for a reason
    /// worth retrying (then it wrote nothing): only then does a new job, under
    /// a new id, run the statement again. The finished job's resource.
    fn execute(&self, job: &Job, mode: Mode) -> Result<ApiJob, WarehouseError> {
        self.attempts(job.timeout, |id| async move { self.send_and_wait(&id, job, mode).await })
    }

    /// Runs `submit` (send a job under the id it is given, and wait for it),
    /// again under a new id while the job fails for a reason worth retrying,
    /// up to `job_retries` times; cancels it on Ctrl-C or after `timeout`.
    fn attempts<T, F, Fut>(&self, timeout: Option<Duration>, mut submit: F) -> Result<T, WarehouseError>
    where
        F: FnMut(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, JobFailure>>,
    {
        if self.is_interrupted() {
            return Err(WarehouseError::Interrupted);
        }
        let (started, mut attempt) = (std::time::Instant::now(), 0);
        self.retried.borrow_mut().clear();
        loop {
            let id = new_job_id();
            if let Ok(mut running) = self.running.lock() {
                running.insert(id.clone());
            }
            let mut interrupted = self.interrupted.clone();
            let result = self.runtime.block_on(async {
                let limit = async {
                    match timeout {
                        Some(limit) => tokio::time::sleep(limit).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    result = submit(id.clone()) => result,
                    _ = interrupted.wait_for(|interrupted| *interrupted) => Err(JobFailure::Final(WarehouseError::Interrupted)),
                    () = limit => {
                        let _ = self.client.job().cancel_job(self.settings.job_project(), &id, self.settings.location.as_deref()).await;
                        Err(JobFailure::Final(WarehouseError::Query {
                            message: format!(
                                "the job ran longer than `job_timeout_seconds` ({}) and was cancelled",
                                crate::core::format::humantime(timeout.unwrap_or_default())
                            ),
                            retryable: false,
                            job_id: Some(id.clone()),
                            at: None,
                            reason: None,
                        }))
                    }
                }
            });
            if let Ok(mut running) = self.running.lock() {
                running.remove(&id);
            }
            match result {
                Err(JobFailure::Retryable(err)) if self.may_retry(attempt, started) => {
                    self.retried.borrow_mut().push(retry_cause(&err));
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                Ok(finished) => return Ok(finished),
                Err(JobFailure::Retryable(err) | JobFailure::Final(err)) => return Err(err),
            }
        }
    }

    async fn send_and_wait(&self, id: &str, job: &Job, mode: Mode) -> Result<ApiJob, JobFailure> {
        let configuration = JobConfiguration {
            dry_run: Some(mode == Mode::DryRun),
            query: Some(JobConfigurationQuery {
                query: job.sql.clone(),
                use_legacy_sql: Some(false),
                maximum_bytes_billed: job.maximum_bytes_billed.map(|b| b.to_string()),
                priority: self.settings.priority.clone(),
                ..JobConfigurationQuery::default()
            }),
            ..JobConfiguration::default()
        };
        self.submit_and_wait(id, self.job_resource(id, job, configuration), &job.sql, Poll::QueryResults).await
    }

    /// The resource of job `id` with `configuration`, in the target's job
    /// project and location, with `job`'s labels and timeout.
    fn job_resource(&self, id: &str, job: &Job, configuration: JobConfiguration) -> ApiJob {
        let settings = &self.settings;
        ApiJob {
            job_reference: Some(JobReference {
                project_id: Some(settings.job_project().to_string()),
                job_id: Some(id.to_string()),
                location: settings.location.clone(),
            }),
            configuration: Some(JobConfiguration {
                job_timeout_ms: job.timeout.map(|t| t.as_millis().to_string()),
                labels: (!job.labels.is_empty()).then(|| job.labels.iter().cloned().collect()),
                ..configuration
            }),
            ..ApiJob::default()
        }
    }

    /// Inserts the job resource `request` under `id` and waits for it;
    /// `what` is the statement (or the job's description) errors show.
    async fn submit_and_wait(&self, id: &str, request: ApiJob, what: &str, poll: Poll) -> Result<ApiJob, JobFailure> {
        let settings = &self.settings;
        let jobs = self.client.job();
        let failed = |err: BQError| {
            let (message, _) = classify(&err);
            JobFailure::Final(with_reason(job_error(message, false, id, what), reason_of(&err)))
        };
        // The insert is sent again with the same id, so a job a lost answer
        // hid is found (409), not run twice.
        let inserted = match self.call(|| jobs.insert(settings.job_project(), request.clone())).await {
            Ok(job) => job,
            Err(err) if is_status(&err, 409) => {
                self.keep_asking(id, || jobs.get_job(settings.job_project(), id, settings.location.as_deref())).await?.map_err(failed)?
            }
            Err(err) => return Err(failed(err)),
        };
        let finished = self.wait_until_done(id, inserted, poll).await?;
        ended_well(finished, id, what)
    }

    /// Copies partition `id` of `from` over the same partition of `to` with
    /// a copy job (`from$id` to `to$id`, replacing it), which bills no bytes.
    /// See: https://cloud.google.com/bigquery/docs/managing-partitioned-tables#copy_an_individual_partition
    fn copy_partition(&self, from: &Relation, to: &Relation, partition: &str, job: &Job) -> Result<JobStats, WarehouseError> {
        let settings = &self.settings;
        let table = |relation: &Relation| gcp_bigquery_client::model::table_reference::TableReference {
            project_id: relation.database.clone().unwrap_or_else(|| settings.project.clone()),
            dataset_id: relation.schema.clone().unwrap_or_default(),
            table_id: format!("{}${partition}", relation.identifier),
        };
        let what = format!("copy of partition {partition} of {} to {}", from.display_name(), to.display_name());
        let copy = JobConfiguration {
            copy: Some(gcp_bigquery_client::model::job_configuration_table_copy::JobConfigurationTableCopy {
                source_table: Some(table(from)),
                destination_table: Some(table(to)),
                write_disposition: Some("WRITE_TRUNCATE".into()),
                create_disposition: Some("CREATE_NEVER".into()),
                ..Default::default()
            }),
            ..JobConfiguration::default()
        };
        let finished = self.attempts(job.timeout, |id| {
            let request = self.job_resource(&id, job, copy.clone());
            let what = what.clone();
            async move { self.submit_and_wait(&id, request, &what, Poll::Job).await }
        })?;
        Ok(self.stats(&finished))
    }

    /// Polls the accepted job `id` until it is done. A poll that gets no
    /// answer, or a 5xx or 429, is sent again: the job runs on whatever
    /// happened to the connection. (`job_timeout_seconds` is enforced
    /// around this wait, in `attempts`.)
    async fn wait_until_done(&self, id: &str, mut current: ApiJob, poll: Poll) -> Result<ApiJob, JobFailure> {
        let settings = &self.settings;
        let jobs = self.client.job();
        let get_job = failed_for(id);
        let mut polls = 0;
        while !is_done(&current) && poll == Poll::Job {
            // Only query jobs have results to wait on; a load job is asked after a pause.
            tokio::time::sleep(backoff(polls).max(Duration::from_millis(200)).min(Duration::from_secs(5))).await;
            polls += 1;
            current = self.keep_asking(id, || jobs.get_job(settings.job_project(), id, settings.location.as_deref())).await?.map_err(&get_job)?;
        }
        while !is_done(&current) {
            let parameters = GetQueryResultsParameters {
                location: settings.location.clone(),
                max_results: Some(0),
                timeout_ms: Some(i32::try_from(settings.poll_wait().as_millis()).unwrap_or(i32::MAX)),
                ..GetQueryResultsParameters::default()
            };
            let complete = match self.keep_asking(id, || jobs.get_query_results(settings.job_project(), id, parameters.clone())).await? {
                Ok(response) => response.job_complete.unwrap_or(false),
                // A failed job answers getQueryResults with its error; the job resource says it whole.
                Err(_) => true,
            };
            if complete {
                current = self.keep_asking(id, || jobs.get_job(settings.job_project(), id, settings.location.as_deref())).await?.map_err(&get_job)?;
            }
        }
        Ok(current)
    }

    /// Asks BigQuery about job `id` (a read, safe to send again) until it
    /// answers: through lost connections, 5xx and 429, for up to
    /// [`LOST_CONTACT`]; then the job is given up on (the outer error), and
    /// not sent again. The answer, or the error BigQuery answered with.
    async fn keep_asking<T, F, Fut>(&self, id: &str, mut request: F) -> Result<Result<T, BQError>, JobFailure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, BQError>>,
    {
        let started = tokio::time::Instant::now();
        let mut attempt = 0;
        loop {
            match request().await {
                Ok(answer) => return Ok(Ok(answer)),
                Err(err) => {
                    let (message, transient) = classify(&err);
                    if !transient {
                        return Ok(Err(err));
                    }
                    if started.elapsed() >= LOST_CONTACT {
                        return Err(JobFailure::Final(WarehouseError::Query {
                            message: format!(
                                "BigQuery did not answer about job `{id}` for {} ({message}); it was not sent again, as it may still run: see `bq show -j {id}`",
                                crate::core::format::humantime(LOST_CONTACT)
                            ),
                            retryable: false,
                            job_id: Some(id.to_string()),
                            at: None,
                            reason: None,
                        }));
                    }
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt = attempt.saturating_add(1);
                }
            }
        }
    }

    fn stats(&self, job: &ApiJob) -> JobStats {
        let number = |text: &Option<String>| text.as_deref().and_then(|t| t.parse::<u64>().ok());
        let statistics = job.statistics.as_ref();
        let query = statistics.and_then(|s| s.query.as_ref());
        JobStats {
            rows_affected: query.and_then(|q| number(&q.num_dml_affected_rows)),
            job_id: job.job_reference.as_ref().and_then(|r| r.job_id.clone()),
            bytes_processed: query
                .and_then(|q| number(&q.total_bytes_processed))
                .or_else(|| statistics.and_then(|s| number(&s.total_bytes_processed))),
            bytes_billed: query.and_then(|q| number(&q.total_bytes_billed)),
            slot_ms: query.and_then(|q| number(&q.total_slot_ms)).or_else(|| statistics.and_then(|s| number(&s.total_slot_ms))),
            location: job.job_reference.as_ref().and_then(|r| r.location.clone()).or_else(|| self.settings.location.clone()),
            project_id: Some(self.settings.job_project().to_string()),
            retried: std::mem::take(&mut *self.retried.borrow_mut()),
        }
    }

    /// The rows of the table a `create table ... as` job made, as its table
    /// says (BigQuery counts rows only for DML): one metadata call, as dbt-bigquery makes.
    fn rows_created(&self, job: &ApiJob) -> Option<u64> {
        let query = job.statistics.as_ref()?.query.as_ref()?;
        if query.statement_type.as_deref() != Some("CREATE_TABLE_AS_SELECT") {
            return None;
        }
        let configured = job.configuration.as_ref().and_then(|c| c.query.as_ref()).and_then(|q| q.destination_table.as_ref());
        let table = query.ddl_target_table.as_ref().or(configured)?;
        let (project, dataset, name) = (table.project_id.as_str(), table.dataset_id.as_str(), table.table_id.as_str());
        let got = self.runtime.block_on(self.call(|| self.client.table().get(project, dataset, name, Some(vec!["numRows"])))).ok()?;
        got.num_rows?.parse().ok()
    }

    /// Every row of a finished query job.
    fn read_rows(&self, id: &str) -> Result<Table, WarehouseError> {
        let mut table = Table::default();
        self.read_pages(id, None, &mut |columns, rows| {
            if table.columns.is_empty() {
                table.columns = columns.iter().map(|c| c.name.clone()).collect();
            }
            table.rows.extend(rows);
            true
        })?;
        Ok(table)
    }

    /// The rows of a finished query job, page by page as BigQuery sends
    /// them, each handed to `page` with the columns until it returns false.
    /// `per_page` caps the rows of a page (BigQuery caps its bytes at 10 MB).
    fn read_pages(&self, id: &str, per_page: Option<u32>, page: &mut crate::warehouse::Page<'_>) -> Result<u64, WarehouseError> {
        let settings = self.settings.clone();
        let jobs = self.client.job();
        let failed = |err: BQError| {
            let (message, retryable) = classify(&err);
            WarehouseError::Query { message, retryable, job_id: Some(id.to_string()), at: None, reason: reason_of(&err) }
        };
        self.runtime.block_on(async {
            let mut columns: Vec<Column> = Vec::new();
            let mut types: Vec<FieldType> = Vec::new();
            let mut page_token = None;
            let mut read = 0u64;
            loop {
                let parameters = GetQueryResultsParameters {
                    location: settings.location.clone(),
                    page_token: page_token.clone(),
                    max_results: per_page.map(|rows| i32::try_from(rows).unwrap_or(i32::MAX)),
                    timeout_ms: Some(i32::try_from(settings.poll_wait().as_millis()).unwrap_or(i32::MAX)),
                    ..GetQueryResultsParameters::default()
                };
                let result = self.call(|| jobs.get_query_results(settings.job_project(), id, parameters.clone())).await.map_err(failed)?;
                if columns.is_empty() {
                    for field in result.schema.as_ref().and_then(|s| s.fields.as_ref()).into_iter().flatten() {
                        let data_type = if field.mode.as_deref() == Some("REPEATED") { "ARRAY".to_string() } else { type_name(&field.r#type) };
                        columns.push(Column::new(field.name.clone(), data_type));
                        types.push(field.r#type.clone());
                    }
                }
                let rows: Vec<Vec<Cell>> = result
                    .rows
                    .unwrap_or_default()
                    .into_iter()
                    .map(|row| row.columns.unwrap_or_default().into_iter().enumerate().map(|(i, cell)| to_cell(types.get(i), cell.value)).collect())
                    .collect();
                read += rows.len() as u64;
                let more = match result.page_token {
                    Some(token) if !token.is_empty() => Some(token),
                    _ => None,
                };
                if !page(&columns, rows) || more.is_none() {
                    return Ok(read);
                }
                page_token = more;
            }
        })
    }
}

/// Rows per page of `stream`: an export holds one page at a time.
const STREAM_PAGE_ROWS: u32 = 10_000;

/// BigQuery's Standard SQL name of a column type (`INT64`, not `INTEGER`).
fn type_name(field_type: &FieldType) -> String {
    match field_type {
        FieldType::Integer | FieldType::Int64 => "INT64".into(),
        FieldType::Float | FieldType::Float64 => "FLOAT64".into(),
        FieldType::Boolean | FieldType::Bool => "BOOL".into(),
        FieldType::Record | FieldType::Struct => "STRUCT".into(),
        other => serde_json::to_value(other).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| "STRING".into()),
    }
}

/// A failed job's error: BigQuery's message, then the line of the statement
/// it points at (`at [4:8]`) with a caret under the column; `at` keeps that
/// line, so the model's file can be searched for it.
fn job_error(message: String, retryable: bool, id: &str, sql: &str) -> WarehouseError {
    let at = error_position(&message).and_then(|(line, column)| Some(ErrorAt { line: sql.lines().nth(line.saturating_sub(1))?.to_string(), column }));
    let message = match &at {
        Some(at) => format!("{message}\n  {}\n  {}^", at.line, " ".repeat(at.column.saturating_sub(1))),
        None => message,
    };
    WarehouseError::Query { message, retryable, job_id: Some(id.to_string()), at, reason: None }
}

/// The `[line:column]` BigQuery gives in an error message, counted from 1.
fn error_position(message: &str) -> Option<(usize, usize)> {
    let start = message.rfind("at [")? + 4;
    let (line, rest) = message[start..].split_once(':')?;
    let column = rest.split(']').next()?;
    Some((line.trim().parse().ok()?, column.trim().parse().ok()?))
}

fn is_done(job: &ApiJob) -> bool {
    job.status.as_ref().and_then(|s| s.state.as_deref()) == Some("DONE")
}

/// A cell of BigQuery's JSON rows as strata's value of its column's type.
fn to_cell(field_type: Option<&FieldType>, value: Option<Json>) -> Cell {
    let text = match value {
        None | Some(Json::Null) => return Cell::Null,
        Some(Json::String(text)) => text,
        Some(other) => return Cell::Text(other.to_string()),
    };
    match field_type {
        Some(FieldType::Integer | FieldType::Int64) => text.parse().map_or(Cell::Text(text), Cell::Int),
        Some(FieldType::Float | FieldType::Float64) => text.parse().map_or(Cell::Text(text), Cell::Float),
        // Exactly, as BigQuery writes them: a double would round 38 digits to 17.
        Some(FieldType::Numeric | FieldType::Bignumeric) => Cell::Decimal(text),
        Some(FieldType::Boolean | FieldType::Bool) => Cell::Bool(text.eq_ignore_ascii_case("true")),
        // Seconds since the epoch as a float in text (`1.7951823E9`, the
        // JSON API's default), or microseconds as a whole number (its
        // `useInt64Timestamp` form, which the emulator always sends).
        Some(FieldType::Timestamp) => {
            let micros = match text.parse::<i64>() {
                Ok(micros) => Some(micros),
                Err(_) => text.parse::<f64>().ok().map(|seconds| (seconds * 1e6).round() as i64),
            };
            match micros.and_then(chrono::DateTime::from_timestamp_micros) {
                Some(time) => Cell::Text(time.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string()),
                None => Cell::Text(text),
            }
        }
        Some(FieldType::Datetime) => Cell::Text(text.replace('T', " ")),
        _ => Cell::Text(text),
    }
}

impl BigQueryConnection {
    /// Whether `project.dataset` exists. Only BigQuery's 404 (`notFound`)
    /// says it does not; any other failure is an error, so a listing that
    /// failed is never read as an empty dataset.
    fn dataset_exists(&self, project: &str, dataset: &str) -> Result<bool, WarehouseError> {
        match self.runtime.block_on(self.call(|| self.client.dataset().get(project, dataset))) {
            Ok(_) => Ok(true),
            Err(err) if is_status(&err, 404) => Ok(false),
            Err(err) => Err(WarehouseError::query(format!("could not look up the dataset `{project}.{dataset}`: {}", describe_error(&err)))),
        }
    }
}

/// Whether a job runs, or is only validated and estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Run,
    DryRun,
}

impl Connection for BigQueryConnection {
    fn run(&mut self, job: &Job) -> Result<JobStats, WarehouseError> {
        let finished = self.execute(job, Mode::Run)?;
        let mut stats = self.stats(&finished);
        if stats.rows_affected.is_none() {
            stats.rows_affected = self.rows_created(&finished);
        }
        Ok(stats)
    }

    /// A dry-run job: BigQuery validates the statement and says how many
    /// bytes it would process; nothing runs.
    fn estimate(&mut self, job: &Job) -> Result<JobStats, WarehouseError> {
        let finished = self.execute(job, Mode::DryRun)?;
        Ok(self.stats(&finished))
    }

    fn query(&mut self, job: &Job) -> Result<Table, WarehouseError> {
        let finished = self.execute(job, Mode::Run)?;
        let id = finished.job_reference.as_ref().and_then(|r| r.job_id.clone()).unwrap_or_default();
        self.read_rows(&id)
    }

    fn stream(&mut self, job: &Job, page: &mut crate::warehouse::Page<'_>) -> Result<u64, WarehouseError> {
        let finished = self.execute(job, Mode::Run)?;
        let id = finished.job_reference.as_ref().and_then(|r| r.job_id.clone()).unwrap_or_default();
        self.read_pages(&id, Some(STREAM_PAGE_ROWS), page)
    }

    /// A load job with the file uploaded; `None` where the API has no upload endpoint.
    fn load_file(&mut self, load: &crate::sql::plan::FileLoad) -> Result<Option<JobStats>, WarehouseError> {
        let file = std::fs::read(&load.path).map_err(|err| WarehouseError::query(format!("could not read `{}`: {err}", load.path.display())))?;
        let this = &*self;
        let uploaded = this.attempts(load.job.timeout, |id| {
            let file = &file;
            async move { this.upload_and_wait(&id, load, file).await }
        })?;
        match uploaded {
            load::Uploaded::Done(finished) => Ok(Some(self.stats(&finished))),
            load::Uploaded::Unsupported => Ok(None),
        }
    }

    /// Each partition of `copy` the staged rows have (the staging table's
    /// metadata says which: no table scanned) is copied with a copy job; each
    /// other one is emptied with its statement, a delete of whole partitions.
    fn copy_partitions(&mut self, copy: &crate::sql::plan::PartitionCopy) -> Result<Option<JobStats>, WarehouseError> {
        let from = &copy.from;
        let present = self.query(&Job { sql: copy.present.clone(), ..copy.job.clone() })?;
        let present: HashSet<String> = present
            .rows
            .iter()
            .filter(|row| row.get(2).and_then(Cell::as_count).is_some_and(|rows| rows > 0))
            .filter_map(|row| row.get(1).map(ToString::to_string))
            .collect();
        let mut total = JobStats::default();
        for (partition, empty) in &copy.partitions {
            let stats = match present.contains(partition) {
                true => self.copy_partition(from, &copy.to, partition, &copy.job)?,
                false => self.run(&Job { sql: empty.clone(), ..copy.job.clone() })?,
            };
            total.add(&stats);
        }
        Ok(Some(total))
    }

    /// One `tables.get`: BigQuery's own word on whether the table exists.
    fn describe(&mut self, relation: &RelationKey) -> Result<Option<RelationKind>, WarehouseError> {
        let project = relation.database.clone().unwrap_or_else(|| self.settings.project.clone());
        let tables = self.client.table();
        let got = self.runtime.block_on(self.call(|| tables.get(&project, &relation.schema, &relation.name, None)));
        match got {
            Ok(table) => Ok(Some(if table.r#type.as_deref() == Some("VIEW") { RelationKind::View } else { RelationKind::Table })),
            Err(err) if is_status(&err, 404) => Ok(None),
            Err(err) => {
                Err(WarehouseError::query(format!("could not look up `{project}.{}.{}`: {}", relation.schema, relation.name, describe_error(&err))))
            }
        }
    }

    /// One `INFORMATION_SCHEMA` query per dataset: its tables and views, with
    /// each table's partitioning and clustering columns.
    fn list_relations(&mut self, schemas: &[crate::warehouse::Schema]) -> Result<Relations, WarehouseError> {
        let mut relations = Relations::new();
        let quote = |name: &str| crate::core::relation::QuoteStyle::Backtick.quote(name);
        for (project, dataset) in schemas {
            let project = project.clone().unwrap_or_else(|| self.settings.project.clone());
            let prefix = format!("{}.{}", quote(&project), quote(dataset));
            let sql = format!(
                "select t.table_name, t.table_type, c.column_name, c.data_type, c.is_partitioning_column, c.clustering_ordinal_position \
                 from {prefix}.INFORMATION_SCHEMA.TABLES as t \
                 left join {prefix}.INFORMATION_SCHEMA.COLUMNS as c \
                 on c.table_name = t.table_name and (c.is_partitioning_column = 'YES' or c.clustering_ordinal_position is not null)"
            );
            let table = match self.query(&Job::new(sql)) {
                Ok(table) => table,
                // A dataset that does not exist yet has nothing in it. Only
                // `notFound` may mean that, and only BigQuery's own 404 for the
                // dataset confirms it (a job also says `notFound` of a dataset
                // in another location).
                Err(WarehouseError::Query { reason: Some(reason), .. }) if reason == "notFound" && !self.dataset_exists(&project, dataset)? => {
                    continue;
                }
                Err(err) => return Err(err),
            };
            let mut clustering: Vec<(RelationKey, i64, String)> = Vec::new();
            for row in &table.rows {
                let [Cell::Text(name), Cell::Text(kind), column, data_type, partitioning, cluster] = row.as_slice() else {
                    return Err(WarehouseError::query(format!(
                        "listing the tables of `{project}.{dataset}` returned a row of {} columns, not the 6 strata asked for, so nothing was built",
                        row.len()
                    )));
                };
                let key = RelationKey { database: Some(project.clone()), schema: dataset.clone(), name: name.clone() };
                let kind = if kind.eq_ignore_ascii_case("VIEW") { RelationKind::View } else { RelationKind::Table };
                let entry = relations.entry(key.clone()).or_insert_with(|| ExistingRelation::of_kind(kind));
                if let (Cell::Text(column), Cell::Text(yes)) = (column, partitioning)
                    && yes.eq_ignore_ascii_case("YES")
                {
                    let data_type = match data_type {
                        Cell::Text(t) => t.clone(),
                        _ => String::new(),
                    };
                    entry.partition = Some((column.clone(), data_type));
                }
                let position = match cluster {
                    Cell::Int(n) => Some(*n),
                    Cell::Text(n) => n.parse().ok(),
                    _ => None,
                };
                if let (Cell::Text(column), Some(position)) = (column, position) {
                    clustering.push((key, position, column.clone()));
                }
            }
            clustering.sort();
            for (key, _, column) in clustering {
                if let Some(entry) = relations.get_mut(&key) {
                    entry.clustering.push(column);
                }
            }
        }
        Ok(relations)
    }

    /// The table's schema from BigQuery's tables API (no job, nothing billed),
    /// as dbt-bigquery reads it; types in standard SQL (`INT64`, `STRUCT<...>`).
    fn columns(&mut self, relation: &crate::core::relation::Relation) -> Result<Vec<Column>, WarehouseError> {
        let table = self.table(relation)?;
        let fields = table.schema.fields.unwrap_or_default();
        Ok(fields.iter().map(|field| Column::new(field.name.clone(), standard_type(field))).collect())
    }

    /// The table resource's `timePartitioning` and `clustering`, as dbt-bigquery's
    /// `is_replaceable` reads them.
    fn layout(&mut self, relation: &crate::core::relation::Relation) -> Result<Option<crate::warehouse::TableLayout>, WarehouseError> {
        let table = self.table(relation)?;
        let partitioning = table.time_partitioning.as_ref();
        Ok(Some(crate::warehouse::TableLayout {
            partition_field: partitioning.and_then(|p| p.field.as_ref()).map(|field| field.to_ascii_lowercase()),
            granularity: partitioning.map(|p| p.r#type.to_ascii_lowercase()),
            clustering: table.clustering.and_then(|c| c.fields).unwrap_or_default().iter().map(|f| f.to_ascii_lowercase()).collect(),
        }))
    }
}

impl BigQueryConnection {
    /// A table's resource from the tables API.
    fn table(&self, relation: &crate::core::relation::Relation) -> Result<gcp_bigquery_client::model::table::Table, WarehouseError> {
        let project = relation.database.clone().unwrap_or_else(|| self.settings.project.clone());
        let dataset = relation.schema.clone().unwrap_or_default();
        let tables = self.client.table();
        self.runtime.block_on(self.call(|| tables.get(&project, &dataset, &relation.identifier, None))).map_err(|err| {
            let (message, retryable) = classify(&err);
            WarehouseError::Query {
                message: format!("could not read the table `{}`: {message}", relation.display_name()),
                retryable,
                job_id: None,
                at: None,
                reason: None,
            }
        })
    }
}

/// A field's type as standard SQL writes it: the tables API says `INTEGER`
/// and `RECORD` where `alter table ... add column` takes `INT64` and `STRUCT<...>`.
fn standard_type(field: &gcp_bigquery_client::model::table_field_schema::TableFieldSchema) -> String {
    let scalar = match &field.r#type {
        FieldType::String => "STRING".to_string(),
        FieldType::Bytes => "BYTES".to_string(),
        FieldType::Integer | FieldType::Int64 => "INT64".to_string(),
        FieldType::Float | FieldType::Float64 => "FLOAT64".to_string(),
        // The client's field schema has no precision or scale: a
        // parameterized NUMERIC(P, S) reads as the type's own.
        FieldType::Numeric => "NUMERIC".to_string(),
        FieldType::Bignumeric => "BIGNUMERIC".to_string(),
        FieldType::Boolean | FieldType::Bool => "BOOL".to_string(),
        FieldType::Timestamp => "TIMESTAMP".to_string(),
        FieldType::Date => "DATE".to_string(),
        FieldType::Time => "TIME".to_string(),
        FieldType::Datetime => "DATETIME".to_string(),
        FieldType::Geography => "GEOGRAPHY".to_string(),
        FieldType::Json => "JSON".to_string(),
        FieldType::Interval => "INTERVAL".to_string(),
        FieldType::Record | FieldType::Struct => {
            let inner = field.fields.iter().flatten().map(|f| format!("{} {}", quote(&f.name), standard_type(f))).collect::<Vec<_>>();
            format!("STRUCT<{}>", inner.join(", "))
        }
    };
    if field.mode.as_deref().is_some_and(|mode| mode.eq_ignore_ascii_case("REPEATED")) { format!("ARRAY<{scalar}>") } else { scalar }
}

fn quote(name: &str) -> String {
    crate::core::relation::QuoteStyle::Backtick.quote(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_in_both_of_bigquery_s_forms() {
        let read = |text: &str| to_cell(Some(&FieldType::Timestamp), Some(Json::String(text.into())));
        assert_eq!(read("1.7951823305E9"), Cell::Text("2026-11-20 13:45:30.500".into()));
        assert_eq!(read("1795182330500000"), Cell::Text("2026-11-20 13:45:30.500".into()));
        assert_eq!(read("not a time"), Cell::Text("not a time".into()));
    }

    #[test]
    fn an_error_position_shows_its_line_of_the_statement() {
        let sql = "create or replace table t\nas (\nselect nope from x\n)";
        let error = |message: &str| job_error(message.to_string(), false, "job_1", sql);
        let pointed = error("Unrecognized name: nope at [3:8]");
        assert_eq!(pointed.to_string(), "Unrecognized name: nope at [3:8]\n  select nope from x\n         ^");
        assert!(matches!(&pointed, WarehouseError::Query { at: Some(at), .. } if at == &ErrorAt { line: "select nope from x".into(), column: 8 }));
        assert_eq!(error("Not found: Table x").to_string(), "Not found: Table x");
        assert_eq!(error("at [9:1]").to_string(), "at [9:1]");
    }

    #[test]
    fn cells_are_read_by_their_column_type() {
        let text = |t: &str| Some(Json::String(t.into()));
        assert_eq!(to_cell(Some(&FieldType::Int64), text("42")), Cell::Int(42));
        assert_eq!(to_cell(Some(&FieldType::Float64), text("1.5")), Cell::Float(1.5));
        assert_eq!(to_cell(Some(&FieldType::Bool), text("true")), Cell::Bool(true));
        assert_eq!(to_cell(Some(&FieldType::Timestamp), text("1.7955e9")), Cell::Text("2026-11-24 06:00:00".into()));
        assert_eq!(to_cell(Some(&FieldType::Date), text("2026-11-20")), Cell::Text("2026-11-20".into()));
        assert_eq!(to_cell(Some(&FieldType::String), None), Cell::Null);
    }

    #[test]
    fn errors_worth_retrying_are_told_apart() {
        let response = |code: i64, reason: &str| BQError::ResponseError {
            error: gcp_bigquery_client::error::ResponseError {
                error: gcp_bigquery_client::error::NestedResponseError {
                    code,
                    errors: vec![std::collections::HashMap::from([("reason".to_string(), reason.to_string())])],
                    message: "m".into(),
                    status: String::new(),
                },
            },
        };
        assert!(classify(&response(500, "backendError")).1);
        assert!(classify(&response(429, "")).1);
        assert!(classify(&response(403, "rateLimitExceeded")).1);
        assert!(classify(&response(403, "jobRateLimitExceeded")).1);
        assert!(!classify(&response(400, "invalidQuery")).1);
        assert!(!classify(&response(403, "accessDenied")).1);
        assert_eq!(classify(&response(403, "accessDenied")).0, "m (accessDenied)");
    }
}
