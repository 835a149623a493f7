//! The docs site: `docs generate` on the example project, served by `docs
//! serve` and driven in a real headless Chromium through the DevTools
//! protocol: it loads without console errors, draws the models and
//! exposures, a click on a model lists its upstream nodes, the search finds a
//! model, a selector narrows the graph exactly as `strata ls` selects. A
//! screenshot is kept in `target/tmp/docs-example.png`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Fixture;
use crate::example::example;

/// Debian's Chromium: `STRATA_CHROMIUM`, else `/usr/bin/chromium`, which the
/// first run installs with apt when it runs as root (as `.ci/run` does).
fn chromium() -> PathBuf {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    if let Some(path) = std::env::var_os("STRATA_CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = PathBuf::from("/usr/bin/chromium");
    INSTALL.call_once(|| {
        if !path.exists() && is_root() {
            let install = || Command::new("apt-get").args(["install", "-y", "--no-install-recommends", "chromium"]).stdout(Stdio::null()).status();
            if !install().is_ok_and(|s| s.success()) {
                let _ = Command::new("apt-get").arg("update").stdout(Stdio::null()).status();
                let _ = install();
            }
        }
    });
    assert!(path.exists(), "the docs site's browser test needs Chromium: `apt-get install chromium` (Debian), or set STRATA_CHROMIUM to its path");
    path
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `strata docs serve --port 0` in `fixture`, and the URL it serves.
fn serve(fixture: &Fixture) -> (Running, String) {
    let mut child =
        crate::strata_command(fixture.path()).args(["docs", "serve", "--port", "0"]).stdout(Stdio::piped()).spawn().expect("start docs serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read the address");
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("no URL in {line:?}")).to_string();
    (Running(child), url)
}

/// A page of headless Chromium, spoken to over the DevTools protocol.
struct Browser {
    _process: Running,
    _profile: tempfile::TempDir,
    socket: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Console errors, uncaught exceptions and failed loads, as they came.
    errors: Vec<String>,
}

impl Browser {
    fn start() -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "--window-size=1400,900",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start Chromium");
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut port = None;
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("DevTools listening on ws://127.0.0.1:") {
                port = rest.split('/').next().map(str::to_string);
                break;
            }
        }
        let process = Running(child);
        let port = port.expect("Chromium's DevTools address");
        // The page it opened: its own socket.
        let list: Value = {
            let mut list = Value::Null;
            for _ in 0..50 {
                if let Ok(text) = reqwest::blocking::get(format!("http://127.0.0.1:{port}/json/list")).and_then(|r| r.text())
                    && let Ok(parsed) = serde_json::from_str::<Value>(&text)
                    && parsed.as_array().is_some_and(|pages| pages.iter().any(|p| p["type"] == "page"))
                {
                    list = parsed;
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            list
        };
        let page = list.as_array().and_then(|pages| pages.iter().find(|p| p["type"] == "page")).expect("a page");
        let url = page["webSocketDebuggerUrl"].as_str().expect("the page's socket");
        let (socket, _) = tungstenite::connect(url).expect("connect to the page");
        let mut browser = Browser { _process: process, _profile: profile, socket, next_id: 0, errors: Vec::new() };
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            browser.call(domain, json!({}));
        }
        browser
    }

    /// Sends a command and returns its result, keeping the events that come before it.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.socket.send(tungstenite::Message::text(json!({"id": id, "method": method, "params": params}).to_string())).expect("send");
        loop {
            let message = self.socket.read().expect("read from Chromium");
            let Ok(text) = message.to_text() else { continue };
            let Ok(value) = serde_json::from_str::<Value>(text) else { continue };
            if value["id"] == id {
                assert!(value.get("error").is_none(), "{method} failed: {value}");
                return value["result"].clone();
            }
            self.event(&value);
        }
    }

    fn event(&mut self, value: &Value) {
        let params = &value["params"];
        match value["method"].as_str() {
            Some("Runtime.exceptionThrown") => self.errors.push(format!("exception: {}", params["exceptionDetails"])),
            Some("Runtime.consoleAPICalled") if matches!(params["type"].as_str(), Some("error" | "warning" | "assert")) => {
                self.errors.push(format!("console.{}: {}", params["type"], params["args"]))
            }
            Some("Log.entryAdded") if matches!(params["entry"]["level"].as_str(), Some("error" | "warning")) => {
                self.errors.push(format!("log: {}", params["entry"]))
            }
            _ => {}
        }
    }

    /// The value of a JavaScript expression (awaited when it is a promise).
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true, "awaitPromise": true}));
        assert!(result.get("exceptionDetails").is_none(), "`{expression}` threw: {result}");
        result["result"]["value"].clone()
    }

    fn wait_for(&mut self, expression: &str) {
        let started = Instant::now();
        while self.eval(expression) != Value::Bool(true) {
            assert!(started.elapsed() < Duration::from_secs(30), "waited 30s for `{expression}`");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for("document.readyState === 'complete' && document.body && document.body.dataset.ready === 'true'");
    }

    /// A real mouse click at the middle of the element `selector` finds.
    fn click(&mut self, selector: &str) {
        let centre = self.eval(&format!(
            "(() => {{ const r = document.querySelector({}).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            json!(selector)
        ));
        let (x, y) = (centre[0].as_f64().expect("x"), centre[1].as_f64().expect("y"));
        for kind in ["mousePressed", "mouseReleased"] {
            self.call("Input.dispatchMouseEvent", json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}));
        }
    }

    /// Types into the element `selector` finds, as a user would, then presses Enter.
    fn type_and_enter(&mut self, selector: &str, text: &str) {
        self.eval(&format!("document.querySelector({}).focus()", json!(selector)));
        self.call("Input.insertText", json!({"text": text}));
        for kind in ["keyDown", "keyUp"] {
            self.call("Input.dispatchKeyEvent", json!({"type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"}));
        }
    }

    fn screenshot(&mut self, path: &std::path::Path) {
        use base64::Engine;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().expect("data")).expect("base64");
        std::fs::write(path, png).expect("write the screenshot");
    }
}

/// The unique ids `strata ls` selects, tests left out (the page draws none).
fn ls(fixture: &Fixture, select: &str) -> BTreeSet<String> {
    let run = fixture.strata(&["ls", "--select", select, "--resource-type", "model", "seed", "source", "exposure", "--output", "json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    run.stdout.lines().map(|line| serde_json::from_str::<Value>(line).expect("JSON")["unique_id"].as_str().expect("id").to_string()).collect()
}

/// The unique ids `strata ls` selects, of every resource type.
fn ls_everything(fixture: &Fixture, select: &str) -> BTreeSet<String> {
    let run = fixture.strata(&["ls", "--select", select, "--output", "json"]);
    assert_eq!(run.status, 0, "`{select}`: {}", run.stderr);
    run.stdout.lines().map(|line| serde_json::from_str::<Value>(line).expect("JSON")["unique_id"].as_str().expect("id").to_string()).collect()
}

fn ids(value: &Value) -> BTreeSet<String> {
    value.as_array().expect("a list").iter().map(|id| id.as_str().expect("an id").to_string()).collect()
}

#[test]
fn the_example_s_docs_site_works_in_a_browser() {
    let fixture = example();
    let built = fixture.strata(&["build", "--date", "2026-11-20", "--quiet"]);
    assert_eq!(built.status, 0, "{}", built.stdout);
    let generated = fixture.strata(&["docs", "generate", "--catalog", "--date", "2026-11-20"]);
    assert_eq!(generated.status, 0, "{}", generated.stderr);
    assert_eq!(
        generated.stdout,
        "Wrote the docs of 29 nodes to target/docs/index.html with the warehouse's column types; open it, or run `strata docs serve`\n"
    );
    let (_server, url) = serve(&fixture);
    let mut browser = Browser::start();
    browser.navigate(&url);

    // Every model, seed, source and exposure is drawn.
    let drawn = ids(&browser.eval("[...document.querySelectorAll('#nodes .node')].map(g => g.dataset.id)"));
    assert_eq!(drawn, ls(&fixture, "* source:* exposure:*"), "drawn nodes");
    assert!(drawn.contains("exposure.analytics.dau_for_data_science"));
    assert!(drawn.contains("model.analytics.utm_spend_full_joined"));

    // A click on the full join lists what it is built from, and its last run.
    browser.click("#nodes .node[data-id='model.analytics.utm_spend_full_joined']");
    browser.wait_for("!document.getElementById('details').hidden");
    assert_eq!(browser.eval("document.getElementById('details-name').textContent"), "utm_spend_full_joined");
    let upstream = ids(&browser.eval("[...document.querySelectorAll('#details-upstream a')].map(a => a.dataset.id)"));
    let mut expected = ls(&fixture, "+utm_spend_full_joined");
    expected.remove("model.analytics.utm_spend_full_joined");
    assert_eq!(upstream, expected);
    let last = browser.eval("document.getElementById('details-last').textContent");
    assert!(last.as_str().is_some_and(|t| t.contains("success") && t.contains("2026-11-20")), "{last}");
    let columns = browser.eval("[...document.querySelectorAll('#details-columns td:nth-child(2)')].map(td => td.textContent)");
    assert!(columns.as_array().is_some_and(|types| !types.is_empty() && types.iter().all(|t| t != "")), "catalog types: {columns}");
    assert!(browser.eval("document.getElementById('details-compiled').textContent").as_str().is_some_and(|sql| sql.contains("\"main_marketing\"")));

    // The search finds a model; Enter opens it.
    browser.type_and_enter("#search", "dau");
    browser.wait_for("document.getElementById('details-name').textContent === 'dau'");

    // A selector narrows the graph to exactly what `--select` selects.
    browser.type_and_enter("#select", "+utm_spend_full_joined");
    browser.wait_for("document.getElementById('count').textContent.includes(' of ')");
    assert_eq!(ids(&browser.eval("strataDocs.visible()")), ls(&fixture, "+utm_spend_full_joined"));
    std::fs::create_dir_all(env!("CARGO_TARGET_TMPDIR")).expect("tmp");
    browser.screenshot(&std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("docs-example.png"));

    // The page's grammar is strata's: an example of every method and every
    // operator `graph/select.rs` lists selects what `strata ls --select`
    // selects, tests included; a method that needs `--state` is named as one
    // the page cannot evaluate. A new method fails here until it has an
    // example, and the page evaluates it.
    let methods: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("fqn", &["analytics.product", "fqn:analytics.marketing.*", "user* dau", "utm_s[a-p]end_*", "userid_mapped_[!l]*", "*_1?"][..]),
        ("tag", &["tag:daily", "tag:dai*"][..]),
        ("path", &["path:models/crm", "path:models/marketing/user*.sql", "path:data_tests"][..]),
        ("file", &["file:models/product/dau.sql"][..]),
        ("source", &["source:logs+1", "source:mkt.*", "source:analytics.logs.*"][..]),
        ("exposure", &["exposure:*", "+exposure:dau_*"][..]),
        ("resource_type", &["resource_type:seed", "resource_type:test", "resource_type:snapshot", "resource_type:unit_test"][..]),
        ("package", &["package:analytics", "package:other"][..]),
        ("test_name", &["test_name:not_null", "+test_name:unique", "test_name:accepted_*"][..]),
        ("test_type", &["test_type:generic", "test_type:singular", "test_type:data", "test_type:unit"][..]),
        ("state", &[][..]),
        ("result", &[][..]),
        ("config", &["config.materialized:incremental", "config.materialized:view+", "config.partition_by:*"][..]),
    ]);
    let operators: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("upstream", &["+utm_spend_full_joined", "+dau"][..]),
        ("downstream", &["utm_spend_full_joined+", "userid_mapped+"][..]),
        ("upstream, n levels", &["2+daily_utm_funnel"][..]),
        ("downstream, n levels", &["userid_mapped+1"][..]),
        ("at: downstream and their upstream", &["@userid_mapped_logs"][..]),
        ("intersection", &["analytics.marketing.*,config.materialized:incremental", "tag:daily,+dau"][..]),
        ("union", &["dau utm_spend_full_joined", "tag:daily source:logs"][..]),
    ]);
    for method in strata::graph::select::METHODS {
        let examples = methods.get(method).unwrap_or_else(|| panic!("`{method}:` has no example in the page's parity test: add one"));
        for selector in examples.iter() {
            let page = ids(&browser.eval(&format!("strataDocs.select({})", json!(selector))));
            assert_eq!(page, ls_everything(&fixture, selector), "`{selector}`");
        }
    }
    for (operator, example) in strata::graph::select::OPERATORS {
        let examples =
            operators.get(operator).unwrap_or_else(|| panic!("the operator `{example}` has no example in the page's parity test: add one"));
        for selector in examples.iter() {
            let page = ids(&browser.eval(&format!("strataDocs.select({})", json!(selector))));
            assert_eq!(page, ls_everything(&fixture, selector), "`{selector}`");
        }
    }
    for selector in ["state:modified", "result:error+"] {
        let error =
            browser.eval(&format!("(() => {{ try {{ strataDocs.select({}); return ''; }} catch (e) {{ return e.message; }} }})()", json!(selector)));
        let message = error.as_str().unwrap_or_default();
        assert!(message.contains("this page cannot evaluate") && message.contains("--state DIR"), "`{selector}`: {error}");
    }
    let unknown = browser.eval("(() => { try { strataDocs.select('owner:x'); return ''; } catch (e) { return e.message; } })()");
    assert_eq!(unknown, "invalid selector `owner:x`: unknown method `owner`");
    assert!(browser.errors.is_empty(), "the page logged errors: {:#?}", browser.errors);
}

#[test]
fn catalog_json_has_dbt_s_shape_and_the_warehouse_s_types() {
    let fixture = crate::operate::shop();
    assert_eq!(fixture.strata(&["seed"]).status, 0);
    assert_eq!(fixture.strata(&["run", "--select", "orders"]).status, 0);
    // After a run, the catalog is read without being asked for.
    let run = fixture.strata(&["docs", "generate"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains("with the warehouse's column types"), "{}", run.stdout);
    let catalog: Value = serde_json::from_str(&fixture.read("target/catalog.json")).expect("catalog.json");
    let orders = &catalog["nodes"]["model.shop.orders"];
    assert_eq!(orders["metadata"]["type"], "BASE TABLE");
    assert_eq!(orders["columns"]["id"], json!({"type": "INTEGER", "index": 1, "name": "id", "comment": null}));
    assert_eq!(orders["columns"]["name"]["type"], "VARCHAR");
    // Not built: not in the catalog.
    assert!(catalog["nodes"].get("model.shop.broken").is_none());
    assert_eq!(catalog["metadata"]["dbt_schema_version"], "https://schemas.getdbt.com/dbt/catalog/v1.json");
    // Nothing ran since: the catalog is not read again, and its types still show.
    std::fs::write(fixture.path().join("target/catalog.json"), catalog.to_string().replace("INTEGER", "RECORDED")).expect("write");
    let run = fixture.strata(&["docs", "generate"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(fixture.read("target/docs/index.html").contains("\"RECORDED\""));
    let page = fixture.read("target/docs/index.html");
    assert!(!page.contains("<script src") && !page.contains("<link rel=\"stylesheet\""), "the page loads nothing");
}
