//! What a run tells people and machines: the progress bar, per-node lines and
//! summary ([`report`]), the JSON log and `target/strata.log` ([`log`]),
//! GitHub Actions' annotations and step summary ([`ci`]), and the webhooks of
//! `notifications:` ([`notify`]; what a project writes there is read with the
//! project, `project::notifications`).

pub mod ci;
pub mod log;
pub mod notify;
pub mod report;
