//! Tableau: the datasources an exposure reads, refreshed through Tableau's
//! REST API once the models under it are rebuilt.

pub mod client;
pub mod config;
pub mod xml;

pub use client::{Client, DatasourceRefresh, RefreshResult, TableauError};
pub use config::{AlreadyQueued, Refresh, RefreshError, Server};
