//! Tableau's REST API over reqwest: one sign-in with a personal access token
//! per invocation, shared by every refresh (a token allows one session at a
//! time), datasources found by exact name across every page, refresh jobs
//! started and waited for. Every request has a connect and a read timeout; a
//! request that may have started a job is never sent again blindly.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::core::wait::{Attempt, Backoff, Waited, sleep, wait_for};
use crate::tableau::config::{AlreadyQueued, MINIMUM_API_VERSION, Refresh, Server};
use crate::tableau::xml::{self, Element};

#[derive(Debug, thiserror::Error)]
pub enum TableauError {
    /// No answer (refused, timed out), after the retries.
    #[error("could not reach Tableau at {url}: {message}")]
    Unreachable { url: String, message: String },
    /// A certificate signed by a CA that neither the platform's trust store,
    /// the bundled roots nor `ca_bundle` holds.
    #[error(
        "Tableau at {url} sent a certificate that no CA strata trusts has signed ({message}); if your organisation signs its own servers' certificates, set `ca_bundle` in the target's `tableau:` section of `profiles.yml` to its CA's PEM file"
    )]
    UntrustedCertificate { url: String, message: String },
    /// An answer with Tableau's error code.
    #[error("Tableau answered {status} ({code}): {message}")]
    Api { status: u16, code: String, message: String },
    #[error("{0}")]
    Other(String),
    #[error("interrupted")]
    Interrupted,
}

impl TableauError {
    fn code(&self) -> Option<&str> {
        match self {
            TableauError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the request may have been carried out although no answer
    /// said so: no answer at all, or a server error other than 503 (which
    /// says the server did not take it).
    fn may_have_been_done(&self) -> bool {
        match self {
            TableauError::Unreachable { .. } => true,
            TableauError::Api { status, .. } => *status >= 500 && *status != 503,
            TableauError::UntrustedCertificate { .. } | TableauError::Other(_) | TableauError::Interrupted => false,
        }
    }
}

/// Which failures a request is sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// Any failure: sending it twice does no harm (a read, a sign-in).
    Always,
    /// Only a refusal (429, 503), which says the request was not carried
    /// out: a refresh that got no answer may have started a job.
    IfRefused,
}

/// An HTTP answer that is not a failure to retry.
struct Answer {
    status: u16,
    location: Option<String>,
    text: String,
}

/// A signed-in session.
#[derive(Clone)]
struct Session {
    /// Where every request of the session goes: the server the sign-in
    /// ended at, which a load balancer may have redirected to a node.
    base: String,
    version: String,
    token: String,
    site_id: String,
    /// Counts sign-ins, so that of several requests that found the token
    /// expired, only the first signs in again.
    generation: u64,
}

pub struct Client {
    http: reqwest::blocking::Client,
    server: Server,
    session: Mutex<Option<Session>>,
}

/// How one datasource's refresh went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshResult {
    /// The job finished successfully (`finishCode` 0, or 3 for Tableau Bridge).
    Succeeded,
    /// Started, not waited for (`wait: false`).
    Started,
    /// Tableau had a refresh of it queued already (409093).
    AlreadyQueued,
    /// A live datasource: no extract to refresh.
    NoExtracts,
    /// The job failed, with its notes.
    Failed(String),
    Cancelled,
    /// Still running when the exposure's `timeout` passed.
    TimedOut(Duration),
    /// Strata could not start or follow it.
    Error(String),
}

#[derive(Debug, Clone)]
pub struct DatasourceRefresh {
    pub datasource: String,
    pub job_id: Option<String>,
    pub result: RefreshResult,
    pub seconds: f64,
}

impl DatasourceRefresh {
    pub fn is_failure(&self, on_already_queued: AlreadyQueued) -> bool {
        match self.result {
            RefreshResult::Failed(_) | RefreshResult::Cancelled | RefreshResult::TimedOut(_) | RefreshResult::Error(_) => true,
            RefreshResult::AlreadyQueued => on_already_queued == AlreadyQueued::Error,
            RefreshResult::Succeeded | RefreshResult::Started | RefreshResult::NoExtracts => false,
        }
    }

    pub fn is_warning(&self) -> bool {
        matches!(self.result, RefreshResult::AlreadyQueued | RefreshResult::NoExtracts)
    }

    /// `refreshed (job 7c3d…)`, `failed: <notes>`, ...: what a user reads.
    pub fn summary(&self) -> String {
        let job = self.job_id.as_deref().map(|id| format!(" (job {id})")).unwrap_or_default();
        match &self.result {
            RefreshResult::Succeeded => format!("refreshed{job}"),
            RefreshResult::Started => format!("refresh started{job}, not waited for"),
            RefreshResult::AlreadyQueued => "a refresh is already queued on Tableau; not queuing another".into(),
            RefreshResult::NoExtracts => "has no extract (a live connection): nothing to refresh".into(),
            RefreshResult::Failed(notes) if notes.is_empty() => format!("refresh failed{job}"),
            RefreshResult::Failed(notes) => format!("refresh failed{job}: {notes}"),
            RefreshResult::Cancelled => format!("refresh cancelled on Tableau{job}"),
            RefreshResult::TimedOut(limit) => {
                format!("refresh still running after {}{job}; raise `tableau.timeout` or set `wait: false`", crate::core::format::humantime(*limit))
            }
            RefreshResult::Error(message) => message.clone(),
        }
    }

    pub fn status(&self) -> &'static str {
        match self.result {
            RefreshResult::Succeeded => "success",
            RefreshResult::Started => "started",
            RefreshResult::AlreadyQueued => "already_queued",
            RefreshResult::NoExtracts => "skipped",
            RefreshResult::Failed(_) => "failed",
            RefreshResult::Cancelled => "cancelled",
            RefreshResult::TimedOut(_) => "timed_out",
            RefreshResult::Error(_) => "error",
        }
    }
}

/// Why a datasource name does not lead to one datasource.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(
        "no datasource named `{name}`{} on {site}{}",
        project.as_ref().map(|p| format!(" in project `{p}`")).unwrap_or_default(),
        if closest.is_empty() { String::new() } else { format!("; the closest names are {closest}") }
    )]
    NotFound { name: String, project: Option<String>, site: String, closest: String },
    #[error("{count} datasources are named `{name}` on {site} (in projects {projects}); set `tableau.project` on the exposure to say which")]
    Ambiguous { count: usize, name: String, site: String, projects: String },
    #[error(transparent)]
    Tableau(#[from] TableauError),
}

/// A datasource as a listing shows it.
#[derive(Debug, Clone)]
struct Datasource {
    id: String,
    name: String,
    project: String,
    has_extracts: bool,
}

/// Requests sent again after a 429, a 5xx or no answer, before giving up.
const REQUEST_RETRIES: u32 = 5;
const PAGE_SIZE: usize = 100;
/// How long a connection may take to open, within the request's `timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest `Retry-After` waited; a server asking for more is asked again then.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5 * 60);
/// How far Tableau's clock may be behind ours when looking for the job a
/// refresh request started: a job created so long before it is not taken.
const JOB_CLOCK_SKEW: Duration = Duration::from_secs(60);

impl Client {
    pub fn new(server: Server) -> Result<Client, TableauError> {
        let mut builder = reqwest::blocking::Client::builder()
            // The whole request, reading the answer included.
            .timeout(server.timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(server.timeout))
            // Sign-in redirects are followed by hand: the body must be posted again.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("strata/", env!("CARGO_PKG_VERSION")));
        // Beside the platform's trust store and the bundled roots.
        for certificate in &server.ca_certificates {
            builder = builder.add_root_certificate(certificate.clone());
        }
        let http = builder.build().map_err(|err| TableauError::Other(format!("could not create the HTTP client: {}", chain(&err))))?;
        Ok(Client { http, server, session: Mutex::new(None) })
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    /// One HTTP exchange, sent again with backoff on 429, 5xx or no answer
    /// as `resend` allows; a 429 or 503 waits as long as its `Retry-After` says.
    fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&str>,
        token: Option<&str>,
        resend: Resend,
        cancelled: &AtomicBool,
    ) -> Result<Answer, TableauError> {
        let backoff = Backoff { first: Duration::from_millis(500), factor: 2.0, max: Duration::from_secs(30) };
        let mut attempt = 0;
        loop {
            if cancelled.load(Ordering::SeqCst) {
                return Err(TableauError::Interrupted);
            }
            let mut request = self.http.request(method.clone(), url).header("Accept", "application/xml");
            if let Some(token) = token {
                request = request.header("X-Tableau-Auth", token);
            }
            if let Some(body) = body {
                request = request.header("Content-Type", "application/xml").body(body.to_string());
            }
            let (failure, asked_pause) = match request.send() {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let header = |name: &str| response.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_string);
                    let location = header("location");
                    let asked_pause =
                        matches!(status, 429 | 503).then(|| header("retry-after")).flatten().and_then(|value| retry_after(&value, SystemTime::now()));
                    let text = response.text().unwrap_or_default();
                    if status != 429 && status < 500 {
                        return Ok(Answer { status, location, text });
                    }
                    // A 429 from Tableau Cloud is an HTML page, not XML.
                    (TableauError::Api { status, code: status.to_string(), message: first_line(&text) }, asked_pause)
                }
                // A request that could not be built will not be built the next time either.
                Err(err) if err.is_builder() => return Err(TableauError::Other(format!("could not send a request to `{url}`: {err}"))),
                Err(err) => {
                    // Sending again will meet the same certificate.
                    if let Some(refusal) = unknown_issuer(&err) {
                        return Err(TableauError::UntrustedCertificate { url: origin(url), message: refusal.to_string() });
                    }
                    (TableauError::Unreachable { url: origin(url), message: chain(&err.without_url()) }, None)
                }
            };
            let refused = matches!(failure, TableauError::Api { status: 429 | 503, .. });
            if attempt >= REQUEST_RETRIES || (resend == Resend::IfRefused && !refused) {
                return Err(failure);
            }
            attempt += 1;
            if !sleep(asked_pause.unwrap_or_else(|| backoff.pause(attempt)).min(MAX_RETRY_AFTER), cancelled) {
                return Err(TableauError::Interrupted);
            }
        }
    }

    /// The API version to use: the profile's, else the server's own.
    fn version(&self, cancelled: &AtomicBool) -> Result<String, TableauError> {
        if let Some(version) = &self.server.api_version {
            return Ok(version.clone());
        }
        let url = format!("{}/api/{MINIMUM_API_VERSION}/serverinfo", self.server.url);
        let answer = self.send(reqwest::Method::GET, &url, None, None, Resend::Always, cancelled)?;
        let elements = parse_answer(answer.status, &answer.text)?;
        let version = xml::first(&elements, "restApiVersion")
            .map(|e| e.text.clone())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| TableauError::Other(format!("{url} did not say the server's REST API version")))?;
        if version_number(&version) < version_number(MINIMUM_API_VERSION) {
            return Err(TableauError::Other(format!(
                "the Tableau server's REST API is version {version}; personal access tokens need {MINIMUM_API_VERSION} or later"
            )));
        }
        Ok(version)
    }

    /// Signs in (once per invocation), or again when `expired` is the session a request found expired.
    fn session(&self, expired: Option<u64>, cancelled: &AtomicBool) -> Result<Session, TableauError> {
        let mut slot = self.session.lock().map_err(|_| TableauError::Other("the Tableau session lock was poisoned".into()))?;
        match (&*slot, expired) {
            (Some(session), None) => return Ok(session.clone()),
            (Some(session), Some(generation)) if session.generation != generation => return Ok(session.clone()),
            _ => {}
        }
        let generation = slot.as_ref().map_or(0, |s| s.generation + 1);
        let version = match &*slot {
            Some(session) => session.version.clone(),
            None => self.version(cancelled)?,
        };
        let server = &self.server;
        let body = format!(
            "<tsRequest><credentials personalAccessTokenName=\"{}\" personalAccessTokenSecret=\"{}\"><site contentUrl=\"{}\"/></credentials></tsRequest>",
            quick_xml::escape::escape(server.token_name.as_str()),
            quick_xml::escape::escape(server.token_secret.as_str()),
            quick_xml::escape::escape(server.site.as_str())
        );
        let sign_in = format!("/api/{version}/auth/signin");
        let mut url = format!("{}{sign_in}", server.url);
        let mut hops = 0;
        let (status, text) = loop {
            let Answer { status, location, text } = self.send(reqwest::Method::POST, &url, Some(&body), None, Resend::Always, cancelled)?;
            match (status, location) {
                (301 | 302 | 307 | 308, Some(location)) if hops < 3 => {
                    // Relative to the address that answered.
                    url = reqwest::Url::parse(&url)
                        .and_then(|base| base.join(&location))
                        .map_err(|err| {
                            TableauError::Other(format!("Tableau redirected the sign-in to `{location}`, which is not an address: {err}"))
                        })?
                        .to_string();
                    hops += 1;
                }
                _ => break (status, text),
            }
        };
        let elements = parse_answer(status, &text).map_err(|err| match err {
            TableauError::Api { status: 401, code, message } => TableauError::Other(format!(
                "Tableau refused the sign-in of token `{}` on site `{}` ({code}: {message}); check `token_name`, `token_secret` and `site` in `profiles.yml`",
                server.token_name, server.site
            )),
            other => other,
        })?;
        let token = xml::first(&elements, "credentials").and_then(|c| c.get("token")).unwrap_or_default().to_string();
        let site_id = xml::first(&elements, "site").and_then(|s| s.get("id")).unwrap_or_default().to_string();
        if token.is_empty() || site_id.is_empty() {
            return Err(TableauError::Other("Tableau's sign-in answer had no token or site".into()));
        }
        let base = session_base(&url, &sign_in);
        let session = Session { base, version, token, site_id, generation };
        *slot = Some(session.clone());
        Ok(session)
    }

    /// A request under the session's site (`datasources/...`), signing in
    /// again once if Tableau says the session expired (401002).
    fn site_request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
        resend: Resend,
        cancelled: &AtomicBool,
    ) -> Result<Vec<Element>, TableauError> {
        let mut session = self.session(None, cancelled)?;
        let mut signed_in_again = false;
        loop {
            let url = format!("{}/api/{}/sites/{}/{path}", session.base, session.version, session.site_id);
            let answer = self.send(method.clone(), &url, body, Some(&session.token), resend, cancelled)?;
            match parse_answer(answer.status, &answer.text) {
                Err(err) if err.code() == Some("401002") && !signed_in_again => {
                    session = self.session(Some(session.generation), cancelled)?;
                    signed_in_again = true;
                }
                result => return result,
            }
        }
    }

    /// Signs out, if signed in; a 401 (the session already over) is fine.
    pub fn sign_out(&self) {
        let Ok(mut slot) = self.session.lock() else { return };
        if let Some(session) = slot.take() {
            let url = format!("{}/api/{}/auth/signout", session.base, session.version);
            let _ = self.http.post(url).header("X-Tableau-Auth", session.token).send();
        }
    }

    /// Every datasource named `name` (all of them when `name` is none), across every page.
    fn datasources(&self, name: Option<&str>, cancelled: &AtomicBool) -> Result<Vec<Datasource>, TableauError> {
        let mut found = Vec::new();
        // The filter cannot carry `,` or `&`; such names are matched here, in every datasource.
        let filter = name.filter(|n| !n.contains([',', '&', ':'])).map(|n| format!("&filter=name:eq:{}", urlencode(n))).unwrap_or_default();
        let mut seen = 0;
        for page in 1.. {
            let path = format!("datasources?pageSize={PAGE_SIZE}&pageNumber={page}{filter}");
            let elements = self.site_request(reqwest::Method::GET, &path, None, Resend::Always, cancelled)?;
            let listed = elements.iter().enumerate().filter(|(_, e)| e.name == "datasource");
            let mut count = 0;
            for (index, element) in listed {
                count += 1;
                let project =
                    elements.iter().find(|e| e.parent == Some(index) && e.name == "project").and_then(|p| p.get("name")).unwrap_or_default();
                found.push(Datasource {
                    id: element.get("id").unwrap_or_default().to_string(),
                    name: element.get("name").unwrap_or_default().to_string(),
                    project: project.to_string(),
                    has_extracts: element.get("hasExtracts") != Some("false"),
                });
            }
            // The server may return fewer than asked for per page: count what came.
            seen += count;
            let total: usize = xml::first(&elements, "pagination").and_then(|p| p.get("totalAvailable")).and_then(|t| t.parse().ok()).unwrap_or(0);
            if count == 0 || seen >= total {
                break;
            }
        }
        Ok(found)
    }

    /// The one datasource named exactly `name` (in `project`, if given).
    fn find(&self, name: &str, project: Option<&str>, cancelled: &AtomicBool) -> Result<Datasource, LookupError> {
        let mut matches: Vec<Datasource> =
            self.datasources(Some(name), cancelled)?.into_iter().filter(|d| d.name == name && project.is_none_or(|p| d.project == p)).collect();
        let site = if self.server.site.is_empty() { "the default site".to_string() } else { format!("site `{}`", self.server.site) };
        match matches.len() {
            1 => Ok(matches.remove(0)),
            0 => {
                let all = self.datasources(None, cancelled)?;
                let mut names: Vec<(usize, &str)> =
                    all.iter().map(|d| (strsim::levenshtein(&d.name.to_lowercase(), &name.to_lowercase()), d.name.as_str())).collect();
                names.sort();
                names.dedup_by(|a, b| a.1 == b.1);
                let closest = names.iter().take(3).map(|(_, n)| format!("`{n}`")).collect::<Vec<_>>().join(", ");
                Err(LookupError::NotFound { name: name.to_string(), project: project.map(str::to_string), site, closest })
            }
            count => Err(LookupError::Ambiguous {
                count,
                name: name.to_string(),
                site,
                projects: matches.iter().map(|d| format!("`{}`", d.project)).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// Refreshes one datasource of `refresh` and, if asked, waits for the job.
    pub fn refresh(&self, name: &str, refresh: &Refresh, cancelled: &AtomicBool) -> DatasourceRefresh {
        let started = Instant::now();
        let done = |job_id: Option<String>, result: RefreshResult| DatasourceRefresh {
            datasource: name.to_string(),
            job_id,
            result,
            seconds: started.elapsed().as_secs_f64(),
        };
        let datasource = match self.find(name, refresh.project.as_deref(), cancelled) {
            Ok(datasource) => datasource,
            Err(err) => return done(None, RefreshResult::Error(err.to_string())),
        };
        if !datasource.has_extracts {
            return done(None, RefreshResult::NoExtracts);
        }
        let job_id = match self.start(&datasource, cancelled) {
            Ok(job_id) => job_id,
            Err(result) => return done(None, result),
        };
        if !refresh.wait {
            return done(Some(job_id), RefreshResult::Started);
        }
        let result = self.follow(&job_id, refresh.timeout.saturating_sub(started.elapsed()), cancelled);
        let result = match result {
            RefreshResult::TimedOut(_) => RefreshResult::TimedOut(refresh.timeout),
            result => result,
        };
        done(Some(job_id), result)
    }

    /// Starts a refresh of `datasource`: its job's id, or how it ended. A
    /// request that got no answer may have started a job, so it is not sent
    /// again blindly: the job is looked for, and the request sent once more
    /// only when Tableau lists none.
    fn start(&self, datasource: &Datasource, cancelled: &AtomicBool) -> Result<String, RefreshResult> {
        let path = format!("datasources/{}/refresh", datasource.id);
        let mut sent_again = false;
        loop {
            let sent_at = SystemTime::now();
            let failure = match self.site_request(reqwest::Method::POST, &path, Some("<tsRequest/>"), Resend::IfRefused, cancelled) {
                Ok(elements) => {
                    return xml::first(&elements, "job")
                        .and_then(|job| job.get("id"))
                        .map(str::to_string)
                        .ok_or_else(|| RefreshResult::Error("Tableau started the refresh but named no job".into()));
                }
                Err(err) if err.code() == Some("409093") => return Err(RefreshResult::AlreadyQueued),
                Err(err) if err.may_have_been_done() => err,
                Err(err) => return Err(RefreshResult::Error(format!("could not start the refresh: {err}"))),
            };
            match self.started_job(datasource, sent_at.checked_sub(JOB_CLOCK_SKEW).unwrap_or(sent_at), cancelled) {
                Ok(Some(job_id)) => return Ok(job_id),
                Ok(None) if !sent_again => sent_again = true,
                Ok(None) => return Err(RefreshResult::Error(format!("could not start the refresh: {failure}"))),
                Err(lookup) => {
                    return Err(RefreshResult::Error(format!(
                        "the refresh request got no answer ({failure}), and Tableau's job list could not say whether it started a job ({lookup}); not sending it again, so as not to refresh twice"
                    )));
                }
            }
        }
    }

    /// The refresh job of `datasource` created since `since`, if Tableau
    /// lists one: Query Jobs narrows the extract refreshes down to that time,
    /// and each one's details say which datasource it refreshes.
    fn started_job(&self, datasource: &Datasource, since: SystemTime, cancelled: &AtomicBool) -> Result<Option<String>, TableauError> {
        let since = chrono::DateTime::<chrono::Utc>::from(since).format("%Y-%m-%dT%H:%M:%SZ");
        let path = format!("jobs?pageSize={PAGE_SIZE}&filter=jobType:eq:refresh_extracts,createdAt:gte:{since}");
        let listed = self.site_request(reqwest::Method::GET, &path, None, Resend::Always, cancelled)?;
        for job_id in listed.iter().filter(|e| e.name == "backgroundJob").filter_map(|e| e.get("id")) {
            let details = self.site_request(reqwest::Method::GET, &format!("jobs/{job_id}"), None, Resend::Always, cancelled)?;
            if details.iter().any(|e| e.name == "datasource" && e.get("id") == Some(datasource.id.as_str())) {
                return Ok(Some(job_id.to_string()));
            }
        }
        Ok(None)
    }

    /// Polls job `job_id` with backoff until it finishes or `timeout` passes.
    fn follow(&self, job_id: &str, timeout: Duration, cancelled: &AtomicBool) -> RefreshResult {
        let backoff = Backoff { first: Duration::from_secs(1), factor: 1.5, max: Duration::from_secs(30) };
        let poll = || match self.site_request(reqwest::Method::GET, &format!("jobs/{job_id}"), None, Resend::Always, cancelled) {
            Ok(elements) => finished(&elements).map_or_else(|| Attempt::NotYet("running".into()), Attempt::Done),
            Err(TableauError::Interrupted) => Attempt::Done(RefreshResult::Error("interrupted".into())),
            Err(err) => Attempt::Done(RefreshResult::Error(format!("could not follow the refresh: {err}"))),
        };
        match wait_for(timeout, backoff, cancelled, |_| {}, poll) {
            Waited::Done { value, .. } => value,
            Waited::TimedOut { .. } => RefreshResult::TimedOut(timeout),
            Waited::Cancelled { .. } => RefreshResult::Error("interrupted".into()),
        }
    }
}

/// How a job ended, if it did: its `finishCode`, with its notes.
fn finished(elements: &[Element]) -> Option<RefreshResult> {
    let code = xml::first(elements, "job")?.get("finishCode")?;
    let notes = elements.iter().filter(|e| e.name == "notes" && !e.text.is_empty()).map(|e| e.text.clone()).collect::<Vec<_>>().join("; ");
    Some(match code {
        "0" | "3" => RefreshResult::Succeeded,
        "2" => RefreshResult::Cancelled,
        _ => RefreshResult::Failed(notes),
    })
}

/// Where a session's requests go: the address the sign-in ended at, without
/// its `/api/<version>/auth/signin` (a path before it, as a proxy adds, is kept).
fn session_base(sign_in_url: &str, sign_in_path: &str) -> String {
    match sign_in_url.strip_suffix(sign_in_path) {
        Some(base) => base.to_string(),
        None => origin(sign_in_url),
    }
}

/// `https://host:port` of a URL: the server a request went to.
fn origin(url: &str) -> String {
    reqwest::Url::parse(url).map(|parsed| parsed.origin().ascii_serialization()).unwrap_or_else(|_| url.to_string())
}

/// How long a `Retry-After` header asks to wait: seconds, or an HTTP date
/// (RFC 9110, section 10.2.3). See: https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    match value.parse::<u64>() {
        Ok(seconds) => Some(Duration::from_secs(seconds)),
        Err(_) => httpdate::parse_http_date(value).ok().map(|at| at.duration_since(now).unwrap_or_default()),
    }
}

/// rustls's refusal of the server's certificate for its issuer, if that is what `err` is.
fn unknown_issuer<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    rustls_error(err).filter(|refusal| matches!(refusal, rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)))
}

/// The rustls error in reqwest's chain: inside an `io::Error`, perhaps
/// inside another, whose `source` skips it.
fn rustls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(found) = err.downcast_ref::<rustls::Error>() {
        return Some(found);
    }
    let inside = err.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref).and_then(|inner| rustls_error(inner));
    inside.or_else(|| err.source().and_then(rustls_error))
}

/// An error with its causes, as `error sending request: ...: invalid peer certificate: UnknownIssuer`.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The elements of a successful answer, or Tableau's error as `TableauError::Api`.
fn parse_answer(status: u16, text: &str) -> Result<Vec<Element>, TableauError> {
    let elements = if text.trim().is_empty() { Ok(Vec::new()) } else { xml::parse(text) };
    if status >= 400 {
        let (code, message) = elements.ok().and_then(|elements| xml::error(&elements)).unwrap_or_else(|| (status.to_string(), first_line(text)));
        return Err(TableauError::Api { status, code, message });
    }
    elements.map_err(|err| TableauError::Other(format!("Tableau's answer is {err}")))
}

/// The first line of a body with text (an HTML page is not worth printing whole).
fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    line.chars().take(200).collect()
}

fn version_number(version: &str) -> (u32, u32) {
    let mut parts = version.split('.').map(|p| p.trim().parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

fn urlencode(text: &str) -> String {
    const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(text, QUERY).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_numbers() {
        assert!(version_number("3.10") > version_number("3.6"));
        assert!(version_number("2.8") < version_number(MINIMUM_API_VERSION));
        assert_eq!(urlencode("utm_spend full/1"), "utm_spend%20full%2F1");
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn a_session_keeps_the_address_its_sign_in_ended_at() {
        let path = "/api/3.10/auth/signin";
        assert_eq!(session_base("https://node2.example.com:8443/api/3.10/auth/signin", path), "https://node2.example.com:8443");
        assert_eq!(session_base("https://proxy.example.com/tableau/api/3.10/auth/signin", path), "https://proxy.example.com/tableau");
        assert_eq!(session_base("https://node2.example.com/signin?x=1", path), "https://node2.example.com");
    }
}
