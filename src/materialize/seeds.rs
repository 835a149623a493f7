//! Seeds: a CSV file checked and typed by `crate::materialize::seed_file`, loaded by the
//! warehouse generator's seed plan.

use crate::core::outcome::{Outcome, Status};
use crate::graph::Node;
use crate::materialize::seed_file;
use crate::materialize::{Materializer, StepError};
use crate::sql::SeedLoad;
use crate::warehouse::Connection;
use crate::warehouse::plan;

impl Materializer<'_> {
    pub(super) fn seed(&self, connection: &mut dyn Connection, node: &Node) -> Outcome {
        let Some(relation) = node.relation.clone() else { return Outcome::error(node.label(), "has no relation") };
        let project = self.compiler.project;
        let file = match seed_file::inspect(&project.root, &node.path, &node.config) {
            Ok(file) => file,
            Err(diagnostic) => return Outcome::error(node.label(), diagnostic.to_string().trim_end()),
        };
        let path = project.root.join(&node.path);
        let absolute = std::fs::canonicalize(&path).unwrap_or(path);
        let load = SeedLoad { path: absolute, columns: file.columns, delimiter: file.delimiter, invocation: Some(self.invocation_id.to_string()) };
        let result = self
            .sql
            .seed_plan(&relation, self.present(&relation), &load)
            .map_err(StepError::Seed)
            .map(|plan| plan.with_options_of(&self.job_options(node, &[])))
            .and_then(|plan| plan::execute(&plan, connection, self.sql).map_err(StepError::from));
        match result {
            Ok(stats) => {
                let mut outcome = Outcome::new(Status::Success, format!("loaded seed {}", relation.display_name()));
                outcome.stats = stats;
                outcome
            }
            Err(err) => Outcome::error(node.label(), err.to_string()),
        }
    }
}
