//! Exposure nodes: the Tableau datasources they read, refreshed once the
//! models under them were rebuilt, over one sign-in for the invocation.

use std::sync::atomic::AtomicBool;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use serde_json::{Value as Json, json};

use crate::core::outcome::{Outcome, Status};
use crate::graph::{Node, NodeDetails};
use crate::tableau::{Client, DatasourceRefresh, Server};

pub struct Refresher {
    client: Client,
}

impl Refresher {
    pub fn new(server: Server) -> Result<Refresher, crate::tableau::TableauError> {
        Client::new(server).map(|client| Refresher { client })
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

    /// Ends the invocation's Tableau session.
    pub fn sign_out(&self) {
        self.client.sign_out();
    }
}

/// At most so many refreshes at once (`--threads`).
pub struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

/// A taken slot, given back when dropped.
pub struct Slot<'a>(&'a Slots);

impl Slots {
    pub fn new(count: usize) -> Slots {
        Slots { free: Mutex::new(count.max(1)), freed: Condvar::new() }
    }

    /// Waits for a free slot.
    pub fn take(&self) -> Slot<'_> {
        if let Ok(mut free) = self.free.lock() {
            while *free == 0 {
                free = match self.freed.wait(free) {
                    Ok(free) => free,
                    Err(_) => return Slot(self),
                };
            }
            *free -= 1;
        }
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut free) = self.0.free.lock() {
            *free += 1;
        }
        self.0.freed.notify_one();
    }
}
