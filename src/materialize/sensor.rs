//! Source checks, Airflow's sensors: wait until a source has the execution
//! date's data (`wait_for`) and is fresh enough (`freshness`), looking again
//! every `poke_interval` until `timeout`. Each look takes a connection of its
//! own, so a waiting check holds none between looks. A source not there yet is
//! waited for; a check that cannot work (SQL the warehouse refuses, a load time
//! in the future) fails at once, since waiting would not mend it.

use std::time::Duration;

use crate::core::dates::ExecutionDate;
use crate::core::format::humantime;
use crate::core::outcome::{Outcome, Status};
use crate::core::relation::Relation;
use crate::core::wait::{Attempt, Backoff, Waited, wait_for};
use crate::graph::Node;
use crate::graph::source_check::{SourceCheck, WaitFor};
use crate::materialize::{Materializer, StepError};
use crate::warehouse::{Connection, RelationKey, WarehouseError};

/// What one look at a source found.
enum Poke {
    Ready,
    /// Ready, but older than `warn_after`.
    Stale(String),
    NotReady(String),
    /// The check itself is wrong: waiting longer would not change its answer.
    Broken(String),
}

/// How far in the future a `loaded_at` may be before it is an error: the
/// loader's clock and this machine's may disagree by this much. More is a
/// time zone mistake (local time stored as if it were UTC), not skew.
const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

impl Materializer<'_> {
    /// Waits until the source is ready for the execution date.
    pub(super) fn check_source(&self, node: &Node) -> Outcome {
        let name = node.display_name();
        let date = self.compiler.templates.date;
        let check = match SourceCheck::of(node) {
            Some(Ok(check)) => check,
            Some(Err(message)) => return Outcome::error(node.label(), format!("source `{name}`: {message}")),
            None => return Outcome::new(Status::Success, format!("source {name} has no checks")),
        };
        let Some(relation) = node.relation.clone() else { return Outcome::error(node.label(), "has no relation") };
        let waiting = |reason: &str| {
            (self.waiting)(&format!(
                "WAIT  source {name} not ready for {}: {reason}; checking every {} for up to {}",
                date.ds(),
                humantime(check.poke_interval),
                humantime(check.timeout)
            ))
        };
        let look = || {
            let poke =
                self.connect().map_err(StepError::from).and_then(|mut connection| self.poke(connection.as_mut(), node, &check, &relation, date));
            match poke {
                Ok(Poke::Ready) => Attempt::Done(Ok(None)),
                Ok(Poke::Stale(warning)) => Attempt::Done(Ok(Some(warning))),
                Ok(Poke::NotReady(reason)) => Attempt::NotYet(reason),
                Ok(Poke::Broken(message)) => Attempt::Done(Err(message)),
                // A rate limit or a backend error may pass; anything else the warehouse says is final.
                Err(err) if err.warehouse().is_some_and(WarehouseError::is_retryable) => Attempt::NotYet(err.to_string()),
                Err(err) => Attempt::Done(Err(err.to_string())),
            }
        };
        let after = |attempts: u32| if attempts == 1 { String::new() } else { format!(" after {attempts} checks") };
        match wait_for(check.timeout, Backoff::every(check.poke_interval), self.cancelled, waiting, look) {
            Waited::Done { value: Err(message), .. } => {
                let mut outcome = Outcome::error(node.label(), format!("source `{name}` cannot be checked: {message}"));
                outcome.description = format!("source {name} cannot be checked");
                outcome
            }
            Waited::Done { value: Ok(warning), attempts } => {
                let mut outcome = Outcome::new(
                    if warning.is_some() { Status::Warn } else { Status::Success },
                    format!("source {name} ready for {}{}", date.ds(), after(attempts)),
                );
                outcome.message = warning.unwrap_or_default();
                outcome
            }
            Waited::TimedOut { reason, attempts } | Waited::Cancelled { reason, attempts } => {
                let mut outcome = Outcome::error(
                    node.label(),
                    format!(
                        "source `{name}` is not ready for {}{}: {reason}",
                        date.ds(),
                        if check.timeout.is_zero() { String::new() } else { format!(" after waiting {}", humantime(check.timeout)) }
                    ),
                );
                outcome.description = format!("source {name} not ready for {}{}", date.ds(), after(attempts));
                outcome
            }
        }
    }

    fn poke(
        &self,
        connection: &mut dyn Connection,
        node: &Node,
        check: &SourceCheck,
        relation: &Relation,
        date: ExecutionDate,
    ) -> Result<Poke, StepError> {
        // A table not there yet is a source not loaded yet; once it is there,
        // an error in a check's query is the check's, not the loader's.
        let key = RelationKey::of(relation);
        if !exists(connection, &key)? {
            return Ok(Poke::NotReady(format!("`{}.{}` does not exist yet", key.schema, key.name)));
        }
        match &check.wait_for {
            Some(WaitFor::Partition(column)) => {
                let sql = format!("select count(*) from {relation} where cast({} as date) = {}", self.sql.quote(column), self.sql.date_literal(date));
                if self.count_query(connection, &sql)? == 0 {
                    return Ok(Poke::NotReady(format!("no row has `{column}` on {}", date.ds())));
                }
            }
            Some(WaitFor::Sql(condition)) => {
                let condition = self
                    .compiler
                    .render_text(&node.path.to_string_lossy(), condition, None)
                    .map_err(|d| StepError::Template(format!("`wait_for.sql`: {}", d.message)))?;
                // A condition ending in `having ...` that does not hold yet gives no row at all.
                let sql = format!("select count(*) from {relation} where {condition}");
                let table = connection.query_sql(&sql)?;
                let count = match table.rows.is_empty() {
                    true => 0,
                    false => crate::core::table::first_count(&table).map_err(|source| StepError::Count { source, sql })?,
                };
                if count == 0 {
                    return Ok(Poke::NotReady(format!("no row satisfies `{}`", condition.trim())));
                }
            }
            None => {}
        }
        if let Some(freshness) = &check.freshness {
            let table = connection.query_sql(&format!("select max({}) from {relation}", self.sql.quote(&freshness.loaded_at_field)))?;
            let latest = table.rows.first().and_then(|r| r.first()).map(|c| c.to_string()).unwrap_or_default();
            let loaded = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d"].iter().find_map(|format| {
                chrono::NaiveDateTime::parse_from_str(&latest, format)
                    .ok()
                    .or_else(|| chrono::NaiveDate::parse_from_str(&latest, format).ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
            });
            let Some(loaded) = loaded else {
                return Ok(Poke::NotReady(format!("`{}` has no value yet", freshness.loaded_at_field)));
            };
            let now = chrono::Utc::now().naive_utc();
            if let Ok(ahead) = (loaded - now).to_std()
                && ahead > CLOCK_SKEW
            {
                return Ok(Poke::Broken(format!(
                    "`{}` is {} in the future (`{latest}`); strata reads it as UTC, so a local time stored without its zone looks like this",
                    freshness.loaded_at_field,
                    humantime(ahead)
                )));
            }
            let age = (now - loaded).to_std().unwrap_or_default();
            if freshness.error_after.is_some_and(|limit| age > limit) {
                return Ok(Poke::NotReady(format!("last loaded {} ago, more than `error_after`", humantime(age))));
            }
            if freshness.warn_after.is_some_and(|limit| age > limit) {
                return Ok(Poke::Stale(format!("source `{}` was last loaded {} ago, more than `warn_after`", node.display_name(), humantime(age))));
            }
        }
        Ok(Poke::Ready)
    }
}

/// Whether `wanted` is in the warehouse. A relation named without a database
/// is looked for in the target's own (DuckDB: the default catalog, which it
/// lists without a name; BigQuery: the target's project, which it names).
fn exists(connection: &mut dyn Connection, wanted: &RelationKey) -> Result<bool, WarehouseError> {
    let relations = connection.list_relations(&[(wanted.database.clone(), wanted.schema.clone())])?;
    Ok(relations.keys().any(|key| {
        key.schema == wanted.schema
            && key.name == wanted.name
            && (key.database == wanted.database || key.database.is_none() || wanted.database.is_none())
    }))
}
