//! `strata debug`: the project, the profile and the target as strata reads them, and whether the warehouse answers.

use std::io::Write;

use crate::project::LoadOptions;
use crate::project::{Project, profile};

use crate::session::Failure;

pub fn debug(options: &LoadOptions) -> Result<i32, Failure> {
    let options = options.clone();
    let project = Project::load(&options)?;
    crate::session::warn_of_profile_keys(&project)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "strata {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "project: `{}` at `{}`", project.name, project.root.join("dbt_project.yml").display())?;
    writeln!(
        out,
        "  {} models, {} seeds, {} macro files, {} sources, {} exposures, {} singular tests",
        project.models.len(),
        project.seeds.len(),
        project.macros.len(),
        project.sources.iter().map(|s| s.tables.len()).sum::<usize>(),
        project.exposures.len(),
        project.singular_tests.len()
    )?;
    if !project.vars.is_empty() {
        writeln!(out, "  vars: {}", serde_json::Value::Object(project.vars.clone()))?;
    }
    let target = &project.target;
    writeln!(out, "profile: `{}` from `{}`", target.profile_name, target.file.display())?;
    writeln!(out, "target: `{}` (type {})", target.name, target.kind.name())?;
    writeln!(out, "  schema: {}", target.schema)?;
    if let Some(database) = &target.database {
        writeln!(out, "  database: {database}")?;
    }
    let masked = profile::mask_secrets(&serde_json::Value::Object(target.fields.clone()));
    if let Some(fields) = masked.as_object() {
        for (key, value) in fields {
            if key == "type" || key == "schema" {
                continue;
            }
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            writeln!(out, "  {key}: {text}")?;
        }
    }
    // The connection: open the warehouse and run a trivial query.
    let warehouse = project.open_warehouse(crate::warehouse::DEFAULT_LOCK_TIMEOUT)?;
    if let Some(credentials) = warehouse.credentials() {
        writeln!(out, "  credentials: {credentials}")?;
    }
    let answered = warehouse.connect().and_then(|mut connection| connection.query_sql("select 1 as ok"));
    match answered {
        Ok(_) => writeln!(out, "connection: ok")?,
        Err(err) => {
            let diagnostic = crate::core::diagnostic::Diagnostic::new(format!("connection test failed: {err}"));
            return Err(match err.help() {
                Some(help) => diagnostic.help(help),
                None => diagnostic,
            }
            .into());
        }
    }
    writeln!(out, "All checks passed!")?;
    Ok(0)
}
