//! Exposure nodes: the Tableau datasources they read, refreshed once the
//! models under them were rebuilt, over one sign-in for the invocation.

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde_json::{Value as Json, json};

use crate::core::outcome::{Outcome, Status};
use crate::graph::{Node, NodeDetails};
use crate::tableau::{Client, DatasourceRefresh, Server};

pub struct Refresher {
    client: Client,
}

impl Refresher {
    pub fn new(server: Server) -> Result<Refresher, String> {
        Client::new(server).map(|client| Refresher { client }).map_err(|err| err.to_string())
    }

    /// Refreshes each datasource of `node` in turn; `line` is told of each as it ends.
    pub fn refresh(&self, node: &Node, cancelled: &AtomicBool, line: &(dyn Fn(&Outcome) + Sync)) -> Outcome {
        let started = Instant::now();
        let NodeDetails::Exposure { refresh: Some(refresh), .. } = &node.details else {
            return Outcome::skipped(node.label(), "has no `tableau:` datasources");
        };
        let on_already_queued = self.client.server().on_already_queued;
        let mut done: Vec<DatasourceRefresh> = Vec::new();
        for name in &refresh.datasources {
            let result = self.client.refresh(name, refresh, cancelled);
            let status = if result.is_failure(on_already_queued) {
                Status::Error
            } else if result.is_warning() {
                Status::Warn
            } else {
                Status::Success
            };
            let mut shown = Outcome::new(status, format!("Tableau datasource {}: {}", result.datasource, result.summary()));
            shown.seconds = result.seconds;
            line(&shown);
            done.push(result);
        }
        let failed: Vec<&DatasourceRefresh> = done.iter().filter(|r| r.is_failure(on_already_queued)).collect();
        let warned = done.iter().any(DatasourceRefresh::is_warning);
        let count = done.len();
        let plural = if count == 1 { "datasource" } else { "datasources" };
        let mut outcome = if failed.is_empty() {
            let status = if warned { Status::Warn } else { Status::Success };
            Outcome::new(status, format!("refreshed exposure {} ({count} Tableau {plural})", node.name))
        } else {
            let message = failed.iter().map(|r| format!("Tableau datasource `{}`: {}", r.datasource, r.summary())).collect::<Vec<_>>().join("\n");
            Outcome::error(node.label(), message)
        };
        outcome.seconds = started.elapsed().as_secs_f64();
        let records: Vec<Json> = done
            .iter()
            .map(|r| json!({"datasource": r.datasource, "job_id": r.job_id, "status": r.status(), "seconds": r.seconds, "message": r.summary()}))
            .collect();
        outcome.response.insert("tableau".into(), Json::Array(records));
        outcome
    }

    /// Refreshes `nodes` on up to `threads` threads at once, each polling on its own.
    pub fn refresh_all(&self, nodes: &[&Node], threads: usize, cancelled: &AtomicBool, line: &(dyn Fn(&Outcome) + Sync)) -> Vec<Outcome> {
        let next = Mutex::new(0usize);
        let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; nodes.len()]);
        std::thread::scope(|scope| {
            for _ in 0..threads.clamp(1, nodes.len().max(1)) {
                scope.spawn(|| loop {
                    let index = {
                        let Ok(mut next) = next.lock() else { return };
                        *next += 1;
                        *next - 1
                    };
                    let Some(node) = nodes.get(index) else { return };
                    let outcome = self.refresh(node, cancelled, line);
                    if let Ok(mut outcomes) = outcomes.lock() {
                        outcomes[index] = Some(outcome);
                    }
                });
            }
        });
        outcomes.into_inner().unwrap_or_default().into_iter().map(|o| o.unwrap_or_else(|| Outcome::error("exposure", "did not run"))).collect()
    }

    /// Ends the invocation's Tableau session.
    pub fn sign_out(&self) {
        self.client.sign_out();
    }
}
