//! The commands: each in its own file, over plain option structs
//! (`session::options`) and the shared [`crate::session`] (a loaded, parsed project
//! for the command's dates, and [`Failure`], how a command ends with a
//! user-facing error). No command imports another.

pub mod clean;
pub mod compile;
pub mod debug;
pub mod deps;
pub mod diff;
pub mod docs;
pub mod dry_run;
pub mod export;
pub mod graph;
pub mod ls;
pub mod retry;
pub mod run;
pub mod show;
pub mod status;

pub use crate::session::Failure;
