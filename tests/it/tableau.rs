//! Tableau refreshes, against a local HTTP server on 127.0.0.1 that answers
//! with Tableau's own recorded responses (`tests/fixtures/tableau/`, MIT, from
//! tableau/server-client-python), keeps state (the session token, each job's
//! progress) and records every request, so the tests assert the exact sequence.
//! The server speaks TLS too, with a certificate of a CA made for the test.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bigquery::{Request, read_request};
use crate::{Fixture, Run, repo_root};

fn recorded(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/tableau").join(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// The token and site id of `auth_sign_in.xml`.
const TOKEN: &str = "eIX6mvFsqyansa4KqEI1UwOpS8ggRs2l";
const SITE_ID: &str = "6b7179ba-b82b-4f0f-91ed-812074ac5da6";
/// The job id of `datasource_refresh.xml`.
const JOB_ID: &str = "7c3d599e-949f-44c3-94a1-f30ba85757e4";
const SECRET: &str = "tableau-secret-never-printed";

/// A datasource the fake server lists.
#[derive(Clone)]
pub struct Datasource {
    pub name: &'static str,
    pub id: &'static str,
    pub project: &'static str,
    pub has_extracts: bool,
}

impl Datasource {
    fn extract(name: &'static str, id: &'static str, project: &'static str) -> Datasource {
        Datasource { name, id, project, has_extracts: true }
    }
}

/// What the fake Tableau server holds and answers.
pub struct State {
    pub datasources: Vec<Datasource>,
    /// The largest page the server returns, whatever `pageSize` asks.
    pub page_cap: usize,
    /// Answers to refresh requests, in order; then `datasource_refresh.xml`.
    pub refreshes: VecDeque<(u16, String)>,
    /// Answers to job lookups, in order; the last one repeats.
    pub jobs: VecDeque<String>,
    /// Answer the next site request with 401002 (the session expired).
    pub expire_session: bool,
    /// Answer this many requests with Tableau Cloud's 429 page first.
    pub too_many_requests: usize,
    /// The `Retry-After` header of those 429s.
    pub retry_after: Option<&'static str>,
    /// Answer the first sign-in with a 307 to this address followed by the
    /// sign-in's path: `/moved` for a server behind a proxy, another
    /// server's URL for a load balancer sending the client to a node.
    pub redirect_sign_in: Option<String>,
    /// Start the job of this many refresh requests but answer none of them
    /// until the client has given up waiting, as a server that is slow to
    /// answer after queuing the job.
    pub unanswered_refreshes: usize,
    /// The jobs started for refreshes that got no answer: Query Jobs lists them.
    started_jobs: Vec<String>,
    /// The token the last sign-in handed out; requests must carry it.
    token: Option<String>,
    sign_ins: usize,
    pub requests: Vec<Request>,
    /// When each request came.
    pub times: Vec<Instant>,
}

impl Default for State {
    fn default() -> State {
        State {
            datasources: vec![Datasource::extract("utm_spend_full_joined", "9dbd2263-16b5-46e1-9c43-a76bb8ab65fb", "default")],
            page_cap: 100,
            refreshes: VecDeque::new(),
            jobs: VecDeque::from([recorded("job_get_by_id_inprogress.xml"), recorded("job_get_by_id.xml")]),
            expire_session: false,
            too_many_requests: 0,
            retry_after: None,
            redirect_sign_in: None,
            unanswered_refreshes: 0,
            started_jobs: Vec::new(),
            token: None,
            sign_ins: 0,
            requests: Vec::new(),
            times: Vec::new(),
        }
    }
}

pub struct TableauServer {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl TableauServer {
    /// A server over plain HTTP.
    pub fn start(state: State) -> TableauServer {
        TableauServer::listen(state, None)
    }

    /// A server over HTTPS with `tls`'s certificate.
    pub fn start_tls(state: State, tls: Arc<rustls::ServerConfig>) -> TableauServer {
        TableauServer::listen(state, Some(tls))
    }

    fn listen(state: State, tls: Option<Arc<rustls::ServerConfig>>) -> TableauServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the Tableau server");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                let tls = tls.clone();
                std::thread::spawn(move || match tls {
                    None => serve(stream, &shared),
                    Some(tls) => {
                        let Ok(connection) = rustls::ServerConnection::new(tls) else { return };
                        let mut stream = rustls::StreamOwned::new(connection, stream);
                        serve(&mut stream, &shared);
                        stream.conn.send_close_notify();
                        let _ = stream.flush();
                    }
                });
            }
        });
        TableauServer { url, state }
    }

    /// Each request as `METHOD path`, in order.
    pub fn sequence(&self) -> Vec<String> {
        self.state.lock().expect("state").requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().expect("state").requests.clone()
    }
}

/// What the server sends back to one request.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    /// Send nothing until the client gave up (its `timeout` is 1s), then close.
    unanswered: bool,
}

impl From<(u16, String)> for Reply {
    fn from((status, body): (u16, String)) -> Reply {
        Reply { status, headers: Vec::new(), body, unanswered: false }
    }
}

/// Reads one request from `stream` and answers it.
fn serve(mut stream: impl Read + Write, shared: &Mutex<State>) {
    let Some((_, request)) = read_request(&mut stream) else { return };
    let reply = answer(&mut shared.lock().expect("state"), request);
    if reply.unanswered {
        std::thread::sleep(Duration::from_secs(3));
        return;
    }
    let kind = if reply.body.starts_with('<') && !reply.body.starts_with("<html") { "application/xml" } else { "text/html" };
    let headers: String = reply.headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let response = format!(
        "HTTP/1.1 {} X\r\n{headers}Content-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        reply.status,
        reply.body.len(),
        reply.body
    );
    let _ = stream.write_all(response.as_bytes());
}

fn error(code: &str, summary: &str, detail: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><tsResponse xmlns=\"http://tableau.com/api\"><error code=\"{code}\"><summary>{summary}</summary><detail>{detail}</detail></error></tsResponse>"
    )
}

/// A page of the listing, in the shape of `datasource_get.xml`.
fn listing(datasources: &[&Datasource], page: usize, size: usize, total: usize) -> String {
    let items: String = datasources
        .iter()
        .map(|d| {
            format!(
                "<datasource id=\"{}\" name=\"{}\" size=\"4096\" contentUrl=\"{}\" type=\"dataengine\" createdAt=\"2016-08-11T21:22:40Z\" updatedAt=\"2016-08-11T21:34:17Z\" encryptExtracts=\"false\" hasExtracts=\"{}\" useRemoteQueryAgent=\"false\"><project id=\"ee8c6e70-43b6-11e6-af4f-f7b0d8e20760\" name=\"{}\" /><owner id=\"5de011f8-5aa9-4d5b-b991-f462c8dd6bb7\" /><tags /></datasource>",
                d.id,
                d.name.replace('&', "&amp;"),
                d.name.replace(' ', ""),
                d.has_extracts,
                d.project
            )
        })
        .collect();
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><tsResponse xmlns=\"http://tableau.com/api\"><pagination pageNumber=\"{page}\" pageSize=\"{size}\" totalAvailable=\"{total}\" /><datasources>{items}</datasources></tsResponse>"
    )
}

fn query_value<'a>(path: &'a str, key: &str) -> Option<&'a str> {
    path.split_once('?')?.1.split('&').find_map(|pair| pair.strip_prefix(&format!("{key}=")))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn answer(state: &mut State, request: Request) -> Reply {
    state.requests.push(request.clone());
    state.times.push(Instant::now());
    let path = request.path.split('?').next().unwrap_or_default().to_string();
    if path.ends_with("/auth/signin")
        && let Some(to) = state.redirect_sign_in.take()
    {
        return Reply { status: 307, headers: vec![("Location", format!("{to}{path}"))], body: String::new(), unanswered: false };
    }
    if state.too_many_requests > 0 && !path.contains("/auth/") && !path.ends_with("/serverinfo") {
        state.too_many_requests -= 1;
        let body = "<html><head><title>429 Too Many Requests</title></head><body>Too many concurrent requests</body></html>".to_string();
        let headers = state.retry_after.map(|after| vec![("Retry-After", after.to_string())]).unwrap_or_default();
        return Reply { status: 429, headers, body, unanswered: false };
    }
    if path.ends_with("/refresh") && state.unanswered_refreshes > 0 {
        state.unanswered_refreshes -= 1;
        state.started_jobs.push(JOB_ID.to_string());
        return Reply { status: 202, headers: Vec::new(), body: String::new(), unanswered: true };
    }
    route(state, request).into()
}

/// Query Jobs' answer, in the shape of `job_get.xml`: the jobs started for
/// refreshes that got no answer, as extract refreshes created now.
fn job_list(started: &[String]) -> String {
    let recorded = recorded("job_get.xml");
    let Some(job) = started.first() else {
        let start = recorded.find("<backgroundJob ").expect("a job in job_get.xml");
        let end = recorded.find("</backgroundJobs>").expect("the end of the jobs");
        return format!("{}{}", recorded[..start].replace("totalAvailable=\"1\"", "totalAvailable=\"0\""), &recorded[end..]);
    };
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    recorded
        .replace("2eef4225-aa0c-41c4-8662-a76d89ed7336", job)
        .replace("single_subscription_notify", "refresh_extracts")
        .replace("status=\"Success\"", "status=\"InProgress\"")
        .replace("2018-05-22T13:00:29Z", &now)
}

/// The answers of a server that neither redirects, limits nor hangs.
fn route(state: &mut State, request: Request) -> (u16, String) {
    let path = request.path.split('?').next().unwrap_or_default().to_string();
    if path.ends_with("/serverinfo") {
        return (200, recorded("server_info_get.xml"));
    }
    if path.ends_with("/auth/signin") {
        state.sign_ins += 1;
        // Each sign-in hands out a new token; the old one stops working.
        let token = if state.sign_ins == 1 { TOKEN.to_string() } else { format!("{TOKEN}-{}", state.sign_ins) };
        state.token = Some(token.clone());
        return (200, recorded("auth_sign_in.xml").replace(TOKEN, &token));
    }
    if path.ends_with("/auth/signout") {
        state.token = None;
        return (204, String::new());
    }
    let token = request.head.lines().find_map(|l| l.to_ascii_lowercase().starts_with("x-tableau-auth:").then(|| l[15..].trim().to_string()));
    if state.expire_session || token.is_none() || token != state.token {
        state.expire_session = false;
        return (401, error("401002", "Unauthorized Access", "Invalid authentication credentials were provided."));
    }
    let site = format!("/sites/{SITE_ID}/");
    let Some((_, rest)) = path.split_once(&site) else { return (404, error("404000", "Not Found", "no such site")) };
    if rest == "datasources" {
        let page: usize = query_value(&request.path, "pageNumber").and_then(|p| p.parse().ok()).unwrap_or(1);
        let size: usize = query_value(&request.path, "pageSize").and_then(|p| p.parse().ok()).unwrap_or(100).min(state.page_cap);
        let name = query_value(&request.path, "filter").map(percent_decode).and_then(|f| f.strip_prefix("name:eq:").map(str::to_string));
        let matching: Vec<&Datasource> = state.datasources.iter().filter(|d| name.as_deref().is_none_or(|n| n == d.name)).collect();
        let on_page: Vec<&Datasource> = matching.iter().skip((page - 1) * size).take(size).copied().collect();
        return (200, listing(&on_page, page, size, matching.len()));
    }
    if rest.starts_with("datasources/") && rest.ends_with("/refresh") && request.method == "POST" {
        return state.refreshes.pop_front().unwrap_or_else(|| (202, recorded("datasource_refresh.xml")));
    }
    if rest == "jobs" {
        return (200, job_list(&state.started_jobs));
    }
    if rest.starts_with("jobs/") {
        let job = if state.jobs.len() > 1 { state.jobs.pop_front() } else { state.jobs.front().cloned() };
        return (200, job.unwrap_or_else(|| recorded("job_get_by_id.xml")));
    }
    (404, error("404000", "Not Found", &format!("no route for {}", request.path)))
}

const PROFILES: &str = "\
shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: target/dev.duckdb
      tableau:
        server_url: URL
        site: Samples
        token_name: strata-ci
        token_secret: \"{{ env_var('STRATA_TEST_TABLEAU_SECRET') }}\"
";

/// A project whose model `m` feeds an exposure refreshing `tableau`, with the
/// dev target's Tableau server at `server`.
fn project(server: &TableauServer, tableau: &str, extra_target: &str) -> Fixture {
    let profiles = PROFILES.replace("URL", &server.url) + extra_target;
    Fixture::new()
        .file("profiles.yml", &profiles)
        .file("models/m.sql", "{{ config(materialized='table') }}\nselect 1 as id\n")
        .file(
            "models/exposures.yml",
            &format!("version: 2\nexposures:\n  - name: dash\n    type: dashboard\n    owner: {{name: Marketing}}\n    depends_on: [\"ref('m')\"]\n    tableau: {tableau}\n"),
        )
}

fn run(fixture: &Fixture, args: &[&str]) -> Run {
    Run::from(crate::strata_command(fixture.path()).args(args).env("STRATA_TEST_TABLEAU_SECRET", SECRET).output().expect("run strata"))
}

/// The lines strata printed about Tableau, times replaced.
fn tableau_lines(run: &Run) -> String {
    run.stdout
        .lines()
        .filter(|l| l.contains("Tableau") || l.contains("exposure"))
        .map(|l| match l.rsplit_once("  ") {
            Some((head, time)) if time.ends_with('s') && time[..time.len() - 1].parse::<f64>().is_ok() => format!("{head}  <time>"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// The whole flow: the server's API version, one sign-in with the token, the
// datasource found by exact name across three pages (narrowed by project),
// the refresh, its job polled until it finishes, and sign-out.
#[test]
fn a_refresh_signs_in_once_finds_the_datasource_on_page_3_and_waits_for_its_job() {
    let server = TableauServer::start(State {
        datasources: vec![
            Datasource::extract("utm_spend_full_joined", "aaaaaaaa-0000-0000-0000-000000000001", "Sandbox"),
            Datasource::extract("utm_spend_full_joined", "aaaaaaaa-0000-0000-0000-000000000002", "Finance"),
            Datasource::extract("utm_spend_full_joined", "aaaaaaaa-0000-0000-0000-000000000003", "Marketing"),
        ],
        page_cap: 1,
        ..State::default()
    });
    let fixture = project(&server, "{datasources: [utm_spend_full_joined], project: Marketing, wait: true, timeout: 1m}", "");
    let run = run(&fixture, &["run"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    insta::assert_snapshot!(tableau_lines(&run), @r"
    OK    Tableau datasource utm_spend_full_joined: refreshed (job 7c3d599e-949f-44c3-94a1-f30ba85757e4)  <time>
    OK    refreshed exposure dash (1 Tableau datasource)  <time>
    ");
    let site = format!("/api/3.10/sites/{SITE_ID}");
    assert_eq!(
        server.sequence(),
        [
            "GET /api/3.6/serverinfo".to_string(),
            "POST /api/3.10/auth/signin".into(),
            format!("GET {site}/datasources?pageSize=100&pageNumber=1&filter=name:eq:utm_spend_full_joined"),
            format!("GET {site}/datasources?pageSize=100&pageNumber=2&filter=name:eq:utm_spend_full_joined"),
            format!("GET {site}/datasources?pageSize=100&pageNumber=3&filter=name:eq:utm_spend_full_joined"),
            format!("POST {site}/datasources/aaaaaaaa-0000-0000-0000-000000000003/refresh"),
            format!("GET {site}/jobs/{JOB_ID}"),
            format!("GET {site}/jobs/{JOB_ID}"),
            "POST /api/3.10/auth/signout".into(),
        ]
    );
    let sign_in = &server.requests()[1];
    assert!(sign_in.body.contains("personalAccessTokenName=\"strata-ci\""), "{}", sign_in.body);
    assert!(sign_in.body.contains(&format!("personalAccessTokenSecret=\"{SECRET}\"")), "{}", sign_in.body);
    assert!(sign_in.body.contains("<site contentUrl=\"Samples\"/>"), "{}", sign_in.body);
    // run_results.json records the job, and the secret is nowhere strata writes.
    let (results, _) = fixture.results("status");
    let exposure = results["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["unique_id"] == "exposure.shop.dash")
        .expect("the exposure's result")
        .clone();
    assert_eq!(exposure["status"], "success");
    assert_eq!(exposure["adapter_response"]["tableau"][0]["job_id"], JOB_ID);
    assert_eq!(exposure["adapter_response"]["tableau"][0]["status"], "success");
    let mut written = run.stdout.clone() + &run.stderr;
    for file in ["target/run_results.json", "target/manifest.json"] {
        written.push_str(&fixture.read(file));
    }
    assert!(!written.contains(SECRET), "the token secret was written out");
}

// A failed job fails the exposure with the job's notes; a cancelled one too.
#[test]
fn a_failed_refresh_job_fails_the_exposure_with_its_notes() {
    let server = TableauServer::start(State { jobs: VecDeque::from([recorded("job_get_by_id_failed_workbook.xml")]), ..State::default() });
    let fixture = project(&server, "{datasources: [utm_spend_full_joined]}", "");
    let run = run(&fixture, &["run"]);
    assert_eq!(run.status, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Tableau datasource `utm_spend_full_joined`: refresh failed (job 7c3d599e-949f-44c3-94a1-f30ba85757e4): java.lang.RuntimeException: [Microsoft][ODBC Driver 17 for SQL Server][SQL Server]Login failed for user."),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("ERROR=1"), "{}", run.stdout);
}

// A refresh Tableau already has queued (409093) is a warning by default and
// an error with `on_already_queued: error`.
#[test]
fn an_already_queued_refresh_follows_on_already_queued() {
    let duplicate = || State { refreshes: VecDeque::from([(409, recorded("workbook_refresh_duplicate.xml"))]), ..State::default() };
    let server = TableauServer::start(duplicate());
    let warned = run(&project(&server, "{datasources: [utm_spend_full_joined]}", ""), &["run"]);
    assert_eq!(warned.status, 0, "stdout:\n{}\nstderr:\n{}", warned.stdout, warned.stderr);
    assert!(
        warned.stdout.contains("WARN  Tableau datasource utm_spend_full_joined: a refresh is already queued on Tableau; not queuing another"),
        "{}",
        warned.stdout
    );
    assert!(warned.stdout.contains("WARN=1"), "{}", warned.stdout);

    let server = TableauServer::start(duplicate());
    let failed = run(&project(&server, "{datasources: [utm_spend_full_joined]}", "        on_already_queued: error\n"), &["run"]);
    assert_eq!(failed.status, 1, "stdout:\n{}\nstderr:\n{}", failed.stdout, failed.stderr);
    assert!(failed.stdout.contains("ERROR Tableau datasource utm_spend_full_joined: a refresh is already queued"), "{}", failed.stdout);
    // No job to wait for.
    assert!(!server.sequence().iter().any(|r| r.contains("/jobs/")), "{:#?}", server.sequence());
}

// An expired session (401002) signs in again once, and the request is sent again.
#[test]
fn an_expired_session_signs_in_again_and_retries() {
    let server = TableauServer::start(State { expire_session: true, ..State::default() });
    // With `api_version`, the server is not asked for its own.
    let run = run(&project(&server, "{datasources: [utm_spend_full_joined]}", "        api_version: \"3.10\"\n"), &["run"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let sequence = server.sequence();
    assert_eq!(sequence.iter().filter(|r| r.ends_with("/auth/signin")).count(), 2, "{sequence:#?}");
    assert_eq!(sequence[0], "POST /api/3.10/auth/signin");
    assert!(sequence[1].contains("/datasources?"), "{sequence:#?}");
    assert_eq!(sequence[2], "POST /api/3.10/auth/signin");
    assert!(sequence[3].contains("/datasources?"), "the same request again: {sequence:#?}");
}

// Tableau Cloud's 429 (an HTML page) is retried with backoff.
#[test]
fn too_many_requests_is_retried() {
    let server = TableauServer::start(State { too_many_requests: 2, ..State::default() });
    let run = run(&project(&server, "{datasources: [utm_spend_full_joined]}", ""), &["run"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let listings = server.sequence().iter().filter(|r| r.contains("/datasources?")).count();
    assert_eq!(listings, 3, "two 429s, then the listing: {:#?}", server.sequence());
}

// No datasource of that name: an error naming the closest; two of that name
// in different projects: an error asking for `project`; a live datasource
// (no extract) is skipped with a warning.
#[test]
fn missing_ambiguous_and_live_datasources() {
    let server = TableauServer::start(State {
        datasources: vec![
            Datasource::extract("utm_spend_full_joined", "aaaaaaaa-0000-0000-0000-000000000001", "Marketing"),
            Datasource::extract("utm_orders", "aaaaaaaa-0000-0000-0000-000000000002", "Marketing"),
            Datasource::extract("utm_orders", "aaaaaaaa-0000-0000-0000-000000000003", "Finance"),
            Datasource { has_extracts: false, ..Datasource::extract("live_users", "aaaaaaaa-0000-0000-0000-000000000004", "CRM") },
        ],
        ..State::default()
    });
    let run = run(&project(&server, "{datasources: [utm_spend_ful_joined, utm_orders, live_users]}", ""), &["run"]);
    assert_eq!(run.status, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    insta::assert_snapshot!(tableau_lines(&run), @r"
    ERROR Tableau datasource utm_spend_ful_joined: no datasource named `utm_spend_ful_joined` on site `Samples`; the closest names are `utm_spend_full_joined`, `utm_orders`, `live_users`  <time>
    ERROR Tableau datasource utm_orders: 2 datasources are named `utm_orders` on site `Samples` (in projects `Marketing`, `Finance`); set `tableau.project` on the exposure to say which  <time>
    WARN  Tableau datasource live_users: has no extract (a live connection): nothing to refresh  <time>
    ERROR exposure dash  <time>
    error in exposure `dash` (models/exposures.yml)
      Tableau datasource `utm_spend_ful_joined`: no datasource named `utm_spend_ful_joined` on site `Samples`; the closest names are `utm_spend_full_joined`, `utm_orders`, `live_users`
      Tableau datasource `utm_orders`: 2 datasources are named `utm_orders` on site `Samples` (in projects `Marketing`, `Finance`); set `tableau.project` on the exposure to say which
    ");
    assert!(!server.sequence().iter().any(|r| r.ends_with("/refresh")), "nothing was refreshed: {:#?}", server.sequence());
}

// The example project: `run --select utm_spend_full_joined+` rebuilds the
// model, then refreshes the datasource reading it; when the model fails, the
// refresh does not run.
#[test]
fn the_example_refreshes_tableau_after_the_model_and_not_when_it_failed() {
    let datasources =
        ["utm_spend_full_joined", "utm_orders_status_final", "utm_orders_status_final_1d", "user_signed_up_utm", "user_segment_category"];
    let ids = [
        "d0000000-0000-0000-0000-000000000001",
        "d0000000-0000-0000-0000-000000000002",
        "d0000000-0000-0000-0000-000000000003",
        "d0000000-0000-0000-0000-000000000004",
        "d0000000-0000-0000-0000-000000000005",
    ];
    let server = TableauServer::start(State {
        datasources: datasources.iter().zip(ids).map(|(name, id)| Datasource::extract(name, id, "Marketing")).collect(),
        ..State::default()
    });
    let profiles = format!(
        "analytics:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/dev.duckdb\n      schema: main\n      tableau:\n        server_url: {}\n        site: Samples\n        token_name: strata-ci\n        token_secret: \"{{{{ env_var('STRATA_TEST_TABLEAU_SECRET') }}}}\"\n",
        server.url
    );
    let fixture = crate::example::example().file("profiles.yml", &profiles);
    assert_eq!(run(&fixture, &["build", "--date", "2026-11-20", "--exclude", "exposure:*", "--quiet"]).status, 0);
    let built = run(&fixture, &["run", "--select", "utm_spend_full_joined+", "--date", "2026-11-20"]);
    assert_eq!(built.status, 0, "stdout:\n{}\nstderr:\n{}", built.stdout, built.stderr);
    let lines: Vec<&str> = built.stdout.lines().collect();
    let model = lines.iter().position(|l| l.contains("main_marketing.utm_spend_full_joined$20261120")).expect("the model's line");
    let refresh = lines.iter().position(|l| l.contains("Tableau datasource utm_spend_full_joined: refreshed")).expect("the refresh's line");
    assert!(model < refresh, "{}", built.stdout);
    assert_eq!(server.sequence().iter().filter(|r| r.ends_with("/refresh")).count(), 1);

    // Every exposure of the example at once: one sign-in, one sign-out, each datasource refreshed once.
    let before = server.sequence().len();
    let all = run(&fixture, &["refresh", "--date", "2026-11-20"]);
    assert_eq!(all.status, 0, "stdout:\n{}\nstderr:\n{}", all.stdout, all.stderr);
    let sequence = server.sequence()[before..].to_vec();
    assert_eq!(sequence.iter().filter(|r| r.ends_with("/auth/signin")).count(), 1, "{sequence:#?}");
    assert_eq!(sequence.iter().filter(|r| r.ends_with("/auth/signout")).count(), 1, "{sequence:#?}");
    for id in ids {
        assert_eq!(sequence.iter().filter(|r| r.ends_with(&format!("/datasources/{id}/refresh"))).count(), 1, "{id}: {sequence:#?}");
    }
    assert!(all.stdout.contains("PASS=4 WARN=0 ERROR=0 SKIP=0 TOTAL=4"), "{}", all.stdout);
    let refreshes_so_far = server.sequence().iter().filter(|r| r.ends_with("/refresh")).count();

    let broken = fixture.file("models/marketing/utm_spend_full_joined.sql", "select no_such_column from {{ ref('mkt_spend') }}");
    let failed = run(&broken, &["run", "--select", "utm_spend_full_joined+", "--date", "2026-11-20"]);
    assert_eq!(failed.status, 1, "stdout:\n{}\nstderr:\n{}", failed.stdout, failed.stderr);
    assert!(
        failed.stdout.contains("SKIP  exposure tableau_utm_spend_full_joined_refresh  (skipped because model `utm_spend_full_joined` failed)"),
        "{}",
        failed.stdout
    );
    assert_eq!(server.sequence().iter().filter(|r| r.ends_with("/refresh")).count(), refreshes_so_far, "no refresh after a failed model");
}

// `strata refresh` refreshes without building; `retry` after a failed refresh
// runs the refresh again, not the models; a sign-in that is redirected is
// posted again to the new address.
#[test]
fn refresh_without_building_and_retry_of_a_failed_refresh() {
    let server = TableauServer::start(State {
        jobs: VecDeque::from([recorded("job_get_by_id_failed_workbook.xml")]),
        redirect_sign_in: Some("/moved".into()),
        ..State::default()
    });
    let fixture = project(&server, "{datasources: [utm_spend_full_joined]}", "");
    let refreshed = run(&fixture, &["refresh", "--select", "exposure:dash"]);
    assert_eq!(refreshed.status, 1, "stdout:\n{}\nstderr:\n{}", refreshed.stdout, refreshed.stderr);
    assert!(!refreshed.stdout.contains("main.m"), "nothing is built:\n{}", refreshed.stdout);
    assert!(refreshed.stdout.contains("refresh failed (job 7c3d599e-949f-44c3-94a1-f30ba85757e4)"), "{}", refreshed.stdout);
    let sequence = server.sequence();
    assert_eq!(sequence[1..3], ["POST /api/3.10/auth/signin", "POST /moved/api/3.10/auth/signin"], "{sequence:#?}");
    assert!(server.requests()[2].body.contains("personalAccessTokenName"), "the body is posted again");

    server.state.lock().expect("state").jobs = VecDeque::from([recorded("job_get_by_id_completed.xml")]);
    let retried = run(&fixture, &["retry"]);
    assert_eq!(retried.status, 0, "stdout:\n{}\nstderr:\n{}", retried.stdout, retried.stderr);
    assert!(retried.stdout.contains("OK    Tableau datasource utm_spend_full_joined: refreshed"), "{}", retried.stdout);
    assert!(retried.stdout.contains("PASS=1 WARN=0 ERROR=0 SKIP=0 TOTAL=1"), "{}", retried.stdout);
}

// A model's own `tableau:` config makes a refresh node after that model
// alone, listed like an exposure.
#[test]
fn a_model_s_tableau_config_refreshes_after_that_model() {
    let server = TableauServer::start(State::default());
    let fixture = project(&server, "{datasources: [utm_spend_full_joined]}", "")
        .file("models/exposures.yml", "version: 2\n")
        .file("models/m.sql", "{{ config(materialized='table', tableau={'datasources': ['utm_spend_full_joined']}) }}\nselect 1 as id\n");
    let listed = run(&fixture, &["ls", "--resource-type", "exposure"]);
    assert_eq!(listed.stdout.trim(), "exposure:shop.m_tableau_refresh", "{}{}", listed.stdout, listed.stderr);
    let built = run(&fixture, &["run"]);
    assert_eq!(built.status, 0, "stdout:\n{}\nstderr:\n{}", built.stdout, built.stderr);
    assert!(built.stdout.contains("OK    refreshed exposure m_tableau_refresh (1 Tableau datasource)"), "{}", built.stdout);
}

// A target without `tableau:` skips the exposures with one line; `strata
// refresh` on it is an error.
#[test]
fn a_target_without_tableau_skips_exposures_and_cannot_refresh() {
    let fixture = Fixture::new()
        .file("models/m.sql", "select 1 as id\n")
        .file("models/exposures.yml", "version: 2\nexposures:\n  - name: dash\n    type: dashboard\n    owner: {name: M}\n    depends_on: [\"ref('m')\"]\n    tableau: {datasources: [x]}\n");
    let built = fixture.strata(&["run"]);
    assert_eq!(built.status, 0, "{}{}", built.stdout, built.stderr);
    assert_eq!(built.stderr, "Tableau: target `dev` has no `tableau:` section in `profiles.yml`; not refreshing 1 exposure\n");
    let refreshed = fixture.strata(&["refresh"]);
    assert_eq!(refreshed.status, 2);
    insta::assert_snapshot!(refreshed.stderr, @r"
    error: target `dev` has no `tableau:` section, so there is no Tableau server to refresh
     --> profiles.yml:4:5
      |
    4 |     dev:
      |     ^^^^
      = help: add `tableau: {server_url, site, token_name, token_secret}` to the target in `profiles.yml`, or pick a target that has one with `--target`
    ");
}

// A target whose Tableau token secret is not set fails before building, at
// the line of the secret, and says how to build without the refreshes.
#[test]
fn an_empty_token_secret_is_an_error_before_anything_runs() {
    let fixture = crate::example::example();
    let run = fixture.strata(&["build", "--target", "prod", "--date", "2026-11-20"]);
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    insta::assert_snapshot!(run.stderr, @r#"
    error: target `prod`: `tableau.token_secret` is missing or empty
      --> profiles.yml:24:9
       |
    24 |         token_secret: "{{ env_var('TABLEAU_TOKEN_SECRET', '') }}"
       |         ^^^^^^^^^^^^^
       = help: set it in `profiles.yml` (secrets come from the environment, e.g. `token_secret: "{{ env_var('TABLEAU_TOKEN_SECRET') }}"`), or build without refreshing Tableau: `--exclude "exposure:*"`
    "#);
}

/// A CA made for one test, and a server configuration whose certificate for
/// 127.0.0.1 it signed: a corporate CA, as an on-premise server's.
fn corporate_ca() -> (String, Arc<rustls::ServerConfig>) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "strata test corporate CA");
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign, rcgen::KeyUsagePurpose::DigitalSignature];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().expect("CA key")).expect("CA certificate");
    let server_key = rcgen::KeyPair::generate().expect("server key");
    let server_certificate = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("server parameters")
        .signed_by(&server_key, &ca)
        .expect("server certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![server_certificate.der().clone()], rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()))
        .expect("server TLS configuration");
    (ca.pem(), Arc::new(config))
}

// An on-premise server whose certificate a corporate CA signed: with
// `ca_bundle:` naming that CA's PEM file (relative to the project), or with
// the CA in the platform's trust store, the refresh goes through; with
// neither, the exposure fails saying what to set.
#[test]
fn a_server_signed_by_a_corporate_ca_is_trusted_through_ca_bundle() {
    let (ca_pem, tls) = corporate_ca();
    let server = TableauServer::start_tls(State::default(), tls);
    let fixture = project(&server, "{datasources: [utm_spend_full_joined]}", "        ca_bundle: certs/corporate-ca.pem\n")
        .file("certs/corporate-ca.pem", &ca_pem);
    let trusted = run(&fixture, &["run"]);
    assert_eq!(trusted.status, 0, "stdout:\n{}\nstderr:\n{}", trusted.stdout, trusted.stderr);
    assert!(
        trusted.stdout.contains("OK    Tableau datasource utm_spend_full_joined: refreshed (job 7c3d599e-949f-44c3-94a1-f30ba85757e4)"),
        "{}",
        trusted.stdout
    );
    assert_eq!(server.sequence().iter().filter(|r| r.ends_with("/refresh")).count(), 1, "{:#?}", server.sequence());

    // The platform's trust store counts too: rustls-native-certs reads `SSL_CERT_FILE` as OpenSSL does.
    let without_bundle = project(&server, "{datasources: [utm_spend_full_joined]}", "").file("certs/corporate-ca.pem", &ca_pem);
    let in_the_system_store = crate::strata_command(without_bundle.path())
        .args(["run"])
        .env("STRATA_TEST_TABLEAU_SECRET", SECRET)
        .env("SSL_CERT_FILE", without_bundle.path().join("certs/corporate-ca.pem"))
        .output()
        .expect("run strata");
    let in_the_system_store = Run::from(in_the_system_store);
    assert_eq!(in_the_system_store.status, 0, "stdout:\n{}\nstderr:\n{}", in_the_system_store.stdout, in_the_system_store.stderr);

    let untrusted = run(&without_bundle, &["run"]);
    assert_eq!(untrusted.status, 1, "stdout:\n{}\nstderr:\n{}", untrusted.stdout, untrusted.stderr);
    insta::with_settings!({filters => vec![(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]")]}, {
        insta::assert_snapshot!(tableau_lines(&untrusted), @r"
        ERROR Tableau datasource utm_spend_full_joined: Tableau at https://127.0.0.1:[port] sent a certificate that no CA strata trusts has signed (invalid peer certificate: UnknownIssuer); if your organisation signs its own servers' certificates, set `ca_bundle` in the target's `tableau:` section of `profiles.yml` to its CA's PEM file  <time>
        ERROR exposure dash  <time>
        error in exposure `dash` (models/exposures.yml)
          Tableau datasource `utm_spend_full_joined`: Tableau at https://127.0.0.1:[port] sent a certificate that no CA strata trusts has signed (invalid peer certificate: UnknownIssuer); if your organisation signs its own servers' certificates, set `ca_bundle` in the target's `tableau:` section of `profiles.yml` to its CA's PEM file
        ");
    });
}

// A `ca_bundle` that cannot be read, or holds no certificate, is an error in
// `profiles.yml` at its line, before anything runs.
#[test]
fn a_bad_ca_bundle_is_an_error_at_its_line() {
    let server = TableauServer::start(State::default());
    let missing = run(&project(&server, "{datasources: [utm_spend_full_joined]}", "        ca_bundle: certs/missing.pem\n"), &["run"]);
    assert_eq!(missing.status, 2, "stdout:\n{}\nstderr:\n{}", missing.stdout, missing.stderr);
    insta::assert_snapshot!(missing.stderr, @r"
    error: target `dev`: `tableau.ca_bundle`: cannot read `certs/missing.pem`: No such file or directory (os error 2)
      --> profiles.yml:12:9
       |
    12 |         ca_bundle: certs/missing.pem
       |         ^^^^^^^^^^
       = help: point it at a PEM file with your CA's certificate (`-----BEGIN CERTIFICATE-----`), relative to the project directory
    ");
    let not_pem = project(&server, "{datasources: [utm_spend_full_joined]}", "        ca_bundle: ca.pem\n").file("ca.pem", "not a certificate\n");
    let not_pem = run(&not_pem, &["run"]);
    assert_eq!(not_pem.status, 2, "stdout:\n{}\nstderr:\n{}", not_pem.stdout, not_pem.stderr);
    insta::assert_snapshot!(not_pem.stderr, @r"
    error: target `dev`: `tableau.ca_bundle`: `ca.pem` holds no PEM certificate
      --> profiles.yml:12:9
       |
    12 |         ca_bundle: ca.pem
       |         ^^^^^^^^^^
       = help: point it at a PEM file with your CA's certificate (`-----BEGIN CERTIFICATE-----`), relative to the project directory
    ");
    assert!(server.sequence().is_empty(), "nothing was sent: {:#?}", server.sequence());
}

// A load balancer that redirects the sign-in to a node: every later request
// of the session (listing, refresh, job polling, sign-out) goes to that node.
#[test]
fn a_sign_in_redirected_to_another_host_keeps_using_that_host() {
    let node = TableauServer::start(State::default());
    let balancer = TableauServer::start(State { redirect_sign_in: Some(node.url.clone()), ..State::default() });
    let run = run(&project(&balancer, "{datasources: [utm_spend_full_joined]}", ""), &["run"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(balancer.sequence(), ["GET /api/3.6/serverinfo", "POST /api/3.10/auth/signin"]);
    let site = format!("/api/3.10/sites/{SITE_ID}");
    assert_eq!(
        node.sequence(),
        [
            "POST /api/3.10/auth/signin".to_string(),
            format!("GET {site}/datasources?pageSize=100&pageNumber=1&filter=name:eq:utm_spend_full_joined"),
            format!("POST {site}/datasources/9dbd2263-16b5-46e1-9c43-a76bb8ab65fb/refresh"),
            format!("GET {site}/jobs/{JOB_ID}"),
            format!("GET {site}/jobs/{JOB_ID}"),
            "POST /api/3.10/auth/signout".into(),
        ]
    );
}

// A refresh request that times out may have started the job: it is not sent
// again; the job is looked up (Query Jobs, then the job's datasource) and
// followed to its end.
#[test]
fn a_refresh_request_that_times_out_is_not_sent_twice_and_its_job_is_followed() {
    let server = TableauServer::start(State {
        unanswered_refreshes: 1,
        // The lookup reads the job's details (a queued refresh of the datasource), then the poll sees it finish.
        jobs: VecDeque::from([recorded("datasource_refresh.xml"), recorded("job_get_by_id.xml")]),
        ..State::default()
    });
    let run = run(&project(&server, "{datasources: [utm_spend_full_joined]}", "        timeout: 1s\n"), &["run"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("OK    Tableau datasource utm_spend_full_joined: refreshed (job 7c3d599e-949f-44c3-94a1-f30ba85757e4)"),
        "{}",
        run.stdout
    );
    let site = format!("/api/3.10/sites/{SITE_ID}");
    let since = regex::Regex::new(r"createdAt:gte:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").expect("regex");
    let sequence: Vec<String> = server.sequence().iter().map(|r| since.replace(r, "createdAt:gte:[time]").into_owned()).collect();
    assert_eq!(
        sequence[3..],
        [
            format!("POST {site}/datasources/9dbd2263-16b5-46e1-9c43-a76bb8ab65fb/refresh"),
            format!("GET {site}/jobs?pageSize=100&filter=jobType:eq:refresh_extracts,createdAt:gte:[time]"),
            format!("GET {site}/jobs/{JOB_ID}"),
            format!("GET {site}/jobs/{JOB_ID}"),
            "POST /api/3.10/auth/signout".into(),
        ]
    );
}

// A 429 with `Retry-After: 1` is sent again after that second, not after the
// half second of the first backoff step.
#[test]
fn a_429_waits_as_long_as_retry_after_says() {
    let server = TableauServer::start(State { too_many_requests: 1, retry_after: Some("1"), ..State::default() });
    let run = run(&project(&server, "{datasources: [utm_spend_full_joined]}", ""), &["run"]);
    assert_eq!(run.status, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let (sequence, times) = {
        let state = server.state.lock().expect("state");
        (state.requests.iter().map(|r| r.path.clone()).collect::<Vec<_>>(), state.times.clone())
    };
    let listings: Vec<usize> = sequence.iter().enumerate().filter(|(_, path)| path.contains("/datasources?")).map(|(index, _)| index).collect();
    assert_eq!(listings.len(), 2, "the 429, then the listing: {sequence:#?}");
    let waited = times[listings[1]] - times[listings[0]];
    assert!(waited >= Duration::from_secs(1), "sent again after {waited:?}");
}
