//! The layer under every feature: the types and helpers all modules share
//! (execution dates, relations, partitions, node outcomes, diagnostics, the
//! Jinja ground). Nothing here imports a feature module.

pub mod columns;
pub mod config_rules;
pub mod dates;
pub mod delivery;
pub mod diagnostic;
pub mod format;
pub mod hash;
pub mod jinja;
pub mod job;
pub mod outcome;
pub mod partition;
pub mod python;
pub mod relation;
pub mod snapshot;
pub mod table;
pub mod wait;
pub mod warnings;
