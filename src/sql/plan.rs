//! The whole plan of one materialization: the jobs a warehouse receives to
//! build a view, swap in a table, replace partitions, merge by a unique key or
//! load a seed, in order, with the guards that must hold before anything is
//! written. A plan is data: each warehouse's generator writes its plans
//! ([`SqlGenerator`]), `warehouse::plan::execute` runs any plan on any
//! connection, and [`Plan::render`] shows it to a reviewer.

use crate::core::columns::OnSchemaChange;
use crate::core::dates::ExecutionDate;
use crate::core::format::thousands;
use crate::core::job::Job;
use crate::core::partition::Partition;
use crate::core::relation::{Relation, RelationKind};
use crate::sql::{SeedColumn, SqlGenerator};

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A job; `counts_rows` marks the one whose rows are the node's rows.
    Run { job: Job, counts_rows: bool },
    /// A count that must be zero, else the plan stops before anything is written.
    Guard { count: Job, refusal: Refusal },
    /// Rows written by column name: the columns of the table and of the
    /// staged rows are read when the plan runs, the table changed as
    /// `on_schema_change` says, then the generator's jobs for the columns both
    /// have are sent (`options` gives them their labels and limits).
    Insert { insert: Box<Insert>, options: Job },
    /// A file the warehouse loads with its own loader; where it has none,
    /// the `fallback` steps load it with statements instead.
    Load { load: FileLoad, fallback: Vec<Step> },
    /// Partitions copied from staged rows with the warehouse's copy jobs;
    /// where it has none, the `fallback` steps write them with statements.
    Copy { copy: PartitionCopy, fallback: Vec<Step> },
}

/// The partitions of a staged table copied over the same partitions of a
/// table (BigQuery's copy job between partition decorators, replacing the
/// partition): each partition the staged rows have is copied; each other
/// one is emptied with its statement, so a date without rows is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionCopy {
    pub from: Relation,
    pub to: Relation,
    /// Each partition's id (`20261120`) and the statement that empties it in `to`.
    pub partitions: Vec<(String, String)>,
    /// The partitions `from` has, from its metadata (`SqlGenerator::partition_metadata`:
    /// table, partition id, rows, time written).
    pub present: String,
    pub job: Job,
}

/// Staged rows to insert into a table, matching columns by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    pub target: Relation,
    pub staged: Relation,
    pub on_schema_change: OnSchemaChange,
    /// Statements that go with the insert, before it, once the columns are
    /// settled (the delete of the rows it replaces): the generator sends them
    /// in the same transaction.
    pub before: Vec<String>,
    /// Which staged rows are written (a snapshot's new versions); all when `None`.
    pub rows: Option<String>,
    /// Staged columns that are neither written nor added to the table (a
    /// snapshot's change type and key copies).
    pub internal: Vec<String>,
    /// The table's partitioning, clustering and options, for a warehouse
    /// that rebuilds the table to change a column's type (BigQuery).
    pub layout: Option<TableOptions>,
    /// Script variables the statements `before` read, declared ahead of
    /// them (BigQuery's `declare`, which must open a script).
    pub declarations: Vec<String>,
}

impl Insert {
    /// Every staged row into `target`, after the statements `before`.
    pub fn new(target: &Relation, staged: &Relation, on_schema_change: OnSchemaChange, before: Vec<String>) -> Insert {
        Insert {
            target: target.clone(),
            staged: staged.clone(),
            on_schema_change,
            before,
            rows: None,
            internal: Vec::new(),
            layout: None,
            declarations: Vec::new(),
        }
    }

    /// The same insert into a table laid out as `options` say.
    pub fn laid_out(self, options: &TableOptions) -> Insert {
        Insert { layout: Some(options.clone()), ..self }
    }
}

/// A CSV file to load into a table, replacing its rows: BigQuery's load job,
/// the file uploaded with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLoad {
    pub path: std::path::PathBuf,
    pub relation: Relation,
    /// Each column with the warehouse's name of its type.
    pub columns: Vec<SeedColumn>,
    pub delimiter: char,
    /// The options of the load job (labels, timeout).
    pub job: Job,
}

/// Why a guard refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Rows of a partitioned model outside the partitions the run replaces.
    OutsidePartitions { field: String, first: ExecutionDate, last: ExecutionDate },
}

impl Refusal {
    pub fn outside(partition: &Partition, first: ExecutionDate, last: ExecutionDate) -> Refusal {
        Refusal::OutsidePartitions { field: partition.field.clone(), first, last }
    }

    /// What the user reads when the guard counted `count` rows.
    pub fn message(&self, count: u64) -> String {
        match self {
            Refusal::OutsidePartitions { field, first, last } => {
                let days = if first == last { first.ds() } else { format!("{}..{}", first.ds(), last.ds()) };
                format!(
                    "{} {} `{field}` outside {days} (or NULL), so nothing was written; filter the model's input to the execution date, e.g. `where {field} = '{{{{ ds }}}}'`",
                    thousands(count),
                    if count == 1 { "row has" } else { "rows have" },
                )
            }
        }
    }
}

/// The jobs of one materialization.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Runs inside the generator's `begin`/`commit`, rolled back on any error:
    /// for a warehouse whose statements are not atomic on their own.
    pub transaction: bool,
}

impl Plan {
    pub fn new(transaction: bool) -> Plan {
        Plan { steps: Vec::new(), transaction }
    }

    pub fn run(mut self, sql: impl Into<String>) -> Plan {
        self.steps.push(Step::Run { job: Job::new(sql), counts_rows: false });
        self
    }

    /// Several statements in one job, which the warehouse runs as a script.
    pub fn run_script(mut self, sql: impl Into<String>) -> Plan {
        self.steps.push(Step::Run { job: Job::script(sql), counts_rows: false });
        self
    }

    /// A job whose rows are the node's rows (`create table as`, a seed load).
    pub fn run_counting_rows(mut self, sql: impl Into<String>) -> Plan {
        self.steps.push(Step::Run { job: Job::new(sql), counts_rows: true });
        self
    }

    pub fn guard(mut self, count: impl Into<String>, refusal: Refusal) -> Plan {
        self.steps.push(Step::Guard { count: Job::new(count), refusal });
        self
    }

    pub fn insert(mut self, insert: Insert) -> Plan {
        self.steps.push(Step::Insert { insert: Box::new(insert), options: Job::default() });
        self
    }

    /// Loads `load` with the warehouse's loader, else with `fallback`'s statements.
    pub fn load(mut self, load: FileLoad, fallback: Plan) -> Plan {
        self.steps.push(Step::Load { load, fallback: fallback.steps });
        self
    }

    /// Copies `copy`'s partitions with the warehouse's copy jobs, else with `fallback`'s statements.
    pub fn copy(mut self, copy: PartitionCopy, fallback: Plan) -> Plan {
        self.steps.push(Step::Copy { copy, fallback: fallback.steps });
        self
    }

    /// Gives every job of the plan the options of `template` (the labels,
    /// byte limit and timeout of the node it builds).
    pub fn with_options_of(mut self, template: &Job) -> Plan {
        set_options(&mut self.steps, template);
        self
    }

    /// Every job's SQL in order, as a reviewer reads it (`begin`/`commit` included).
    pub fn render(&self, sql: &dyn SqlGenerator) -> String {
        let mut statements = Vec::new();
        if self.transaction {
            statements.push(sql.begin().to_string());
        }
        render_steps(&self.steps, sql, &mut statements);
        if self.transaction {
            statements.push(sql.commit().to_string());
        }
        statements.join(";\n\n")
    }
}

fn set_options(steps: &mut [Step], template: &Job) {
    for step in steps {
        let job = match step {
            Step::Run { job, .. } | Step::Guard { count: job, .. } | Step::Insert { options: job, .. } => job,
            Step::Load { load, fallback } => {
                set_options(fallback, template);
                &mut load.job
            }
            Step::Copy { copy, fallback } => {
                set_options(fallback, template);
                &mut copy.job
            }
        };
        job.labels.clone_from(&template.labels);
        job.maximum_bytes_billed = template.maximum_bytes_billed;
        job.timeout = template.timeout;
    }
}

/// What exists before a node is built: the relation itself, and a staging
/// table an interrupted run left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Present {
    pub relation: Option<RelationKind>,
    pub leftover_staging: bool,
    /// The existing table is partitioned on another column than the model
    /// (or only one of them is), where the warehouse reports partitioning.
    pub partitioning_differs: bool,
}

/// What a table is created with, beyond its rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableOptions {
    pub partition: Option<Partition>,
    pub cluster_by: Vec<String>,
    pub labels: Vec<(String, String)>,
    /// BigQuery: queries of the table must filter on its partition column.
    pub require_partition_filter: bool,
    /// BigQuery: partitions older than this many days are deleted.
    pub partition_expiration_days: Option<u32>,
    /// How an incremental run matches the model's columns to the table's.
    pub on_schema_change: OnSchemaChange,
    /// The invocation building it, whose own staging table it writes on
    /// BigQuery (see `sql::staging_for`); none in plans built outside a run.
    pub invocation: Option<String>,
    /// Where the partitions written are recorded, on a warehouse whose
    /// metadata does not say when each was written (`SqlGenerator::partition_log`).
    pub partition_log: Option<Relation>,
    /// The checksum of the model's SQL, recorded with its partitions in the log.
    pub checksum: Option<String>,
}

fn render_steps(steps: &[Step], sql: &dyn SqlGenerator, statements: &mut Vec<String>) {
    for step in steps {
        match step {
            Step::Run { job, .. } => statements.push(job.sql.clone()),
            Step::Guard { count, .. } => statements.push(format!("-- must count 0, else nothing is written\n{}", count.sql)),
            Step::Load { load, fallback } => {
                let columns = load.columns.iter().map(|c| format!("{} {}", c.name, c.data_type)).collect::<Vec<_>>().join(", ");
                statements.push(format!(
                    "-- a load job: `{}` (CSV, delimiter `{}`) replaces the rows of {} ({columns})\n-- (where the warehouse takes no upload, the statements below load it instead)",
                    load.path.display(),
                    load.delimiter,
                    load.relation
                ));
                render_steps(fallback, sql, statements);
            }
            Step::Copy { copy, fallback } => {
                let ids: Vec<&str> = copy.partitions.iter().map(|(id, _)| id.as_str()).collect();
                statements.push(format!(
                    "-- a copy job per partition the staged rows have, as their metadata says:\n{}\n\
                     -- {}${{id}} replaces {}${{id}} (WRITE_TRUNCATE), for {}; a partition they lack is emptied:\n{}\n\
                     -- (where the warehouse has no copy jobs, the statements below write them instead)",
                    copy.present,
                    copy.from,
                    copy.to,
                    ids.join(", "),
                    copy.partitions.iter().map(|(_, empty)| empty.as_str()).collect::<Vec<_>>().join(";\n")
                ));
                render_steps(fallback, sql, statements);
            }
            Step::Insert { insert, .. } => {
                let jobs = sql.write(insert, "<the columns they share>");
                let note = format!(
                    "-- reads the columns of {} and {}; on_schema_change: {}",
                    insert.target.display_name(),
                    insert.staged.display_name(),
                    insert.on_schema_change.as_str()
                );
                statements.extend(std::iter::once(note).zip(jobs.iter()).map(|(note, job)| format!("{note}\n{}", job.sql)));
                statements.extend(jobs.iter().skip(1).map(|job| job.sql.clone()));
            }
        }
    }
}
