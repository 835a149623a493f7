//! `profiles.yml`: where it is looked up, `env_var()` inside it, and the target
//! that a run uses, validated per warehouse type.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::core::diagnostic::{Diagnostic, Location, did_you_mean};
use crate::project::yaml;
pub use crate::warehouse::profiles::TargetKind;
use crate::warehouse::profiles::WarehouseKeys;
pub use crate::warehouse::target::Target;
use crate::warehouse::target::locate_in_target;

/// Field names whose values are credentials: never printed, never in templates.
pub fn is_secret_field(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "password", "token", "keyfile_json", "private_key", "credentials"].iter().any(|word| key.contains(word))
}

/// `value` with every secret field replaced by `****`, for printing.
pub fn mask_secrets(value: &Json) -> Json {
    match value {
        Json::Object(entries) => Json::Object(
            entries
                .iter()
                .map(|(key, value)| {
                    let value = if is_secret_field(key) && !value.is_null() { Json::String("****".into()) } else { mask_secrets(value) };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.iter().map(mask_secrets).collect()),
        other => other.clone(),
    }
}

/// The directories searched for `profiles.yml`, in order.
pub fn search_dirs(profiles_dir: Option<&Path>, project_dir: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = profiles_dir {
        dirs.push(dir.to_path_buf());
        return dirs;
    }
    if let Some(dir) = std::env::var_os("DBT_PROFILES_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    dirs.push(project_dir.to_path_buf());
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".dbt"));
    }
    dirs
}

/// Finds and reads the profile `profile_name`, and picks the target.
pub fn load(profile_name: &str, profiles_dir: Option<&Path>, project_dir: &Path, target_name: Option<&str>) -> Result<Target, Diagnostic> {
    let dirs = search_dirs(profiles_dir, project_dir);
    let Some(file) = dirs.iter().map(|dir| dir.join("profiles.yml")).find(|path| path.is_file()) else {
        let searched = dirs.iter().map(|d| format!("`{}`", d.display())).collect::<Vec<_>>().join(", ");
        return Err(Diagnostic::new(format!("could not find `profiles.yml` (searched {searched})"))
            .help("pass `--profiles-dir`, set `DBT_PROFILES_DIR`, or add `profiles.yml` to the project"));
    };
    // Shown relative to the project when it is there, as users wrote it.
    let file = file.strip_prefix(project_dir).map(Path::to_path_buf).unwrap_or(file);
    let source =
        std::fs::read_to_string(project_dir.join(&file)).map_err(|err| Diagnostic::new(format!("could not read `{}`: {err}", file.display())))?;
    let rendered = crate::core::jinja::render_env_vars(&file, &source)?;
    let profiles: Json = yaml::parse(&file, &rendered)?;
    let Some(profile) = profiles.get(profile_name) else {
        let names = profile_names(&profiles);
        let mut diagnostic = Diagnostic::new(format!("profile `{profile_name}` named in `dbt_project.yml` is not in `{}`", file.display()));
        if let Some(close) = did_you_mean(profile_name, names.iter().map(String::as_str)) {
            diagnostic = diagnostic.help(format!("did you mean `{close}`?"));
        } else {
            diagnostic = diagnostic.help(format!("profiles found: {}", quoted_list(&names)));
        }
        return Err(diagnostic);
    };
    let outputs = profile.get("outputs").and_then(Json::as_object);
    let name = match target_name {
        Some(name) => name.to_string(),
        None => profile.get("target").and_then(Json::as_str).unwrap_or("dev").to_string(),
    };
    let Some(fields) = outputs.and_then(|outputs| outputs.get(&name)).and_then(Json::as_object) else {
        let names: Vec<String> = outputs.map(|o| o.keys().cloned().collect()).unwrap_or_default();
        let mut diagnostic = Diagnostic::new(format!("target `{name}` is not defined in profile `{profile_name}`")).at(Location::of_text(
            &file,
            &source,
            profile_name,
        ));
        diagnostic = match did_you_mean(&name, names.iter().map(String::as_str)) {
            Some(close) => diagnostic.help(format!("did you mean `{close}`?")),
            None => diagnostic.help(format!("targets in this profile: {}", quoted_list(&names))),
        };
        return Err(diagnostic);
    };
    validate(profile_name, &name, fields, &file, &source)
}

fn profile_names(profiles: &Json) -> Vec<String> {
    profiles.as_object().map(|p| p.keys().filter(|k| k.as_str() != "config").cloned().collect()).unwrap_or_default()
}

fn quoted_list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".into();
    }
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// The target `name` of profile `profile_name`, its `fields` read into types
/// and checked for its warehouse type, each error at its line of `file`.
fn validate(profile_name: &str, name: &str, fields: &serde_json::Map<String, Json>, file: &Path, source: &str) -> Result<Target, Diagnostic> {
    let error = |message: String, field: &str| {
        Diagnostic::new(format!("target `{name}` of profile `{profile_name}`: {message}")).at(locate_in_target(
            file,
            source,
            profile_name,
            name,
            field,
        ))
    };
    let threads = threads(fields, &error)?;
    let maximum_bytes_billed = whole_number(fields, "maximum_bytes_billed", &error)?;
    let job_timeout = job_timeout(fields, &error)?;
    let job_labels = job_labels(fields, &error)?;
    let kind = TargetKind::of(name, fields, &error)?;
    let WarehouseKeys { schema, database } = kind.adapter().read_keys(profile_name, fields, &job_labels, &error)?;
    Ok(Target {
        profile_name: profile_name.to_string(),
        name: name.to_string(),
        kind,
        schema,
        database,
        threads,
        job_labels,
        maximum_bytes_billed,
        job_timeout,
        fields: fields.clone(),
        warnings: kind.adapter().unused_keys(fields, &|key| locate_key(file, source, key)),
        file: file.to_path_buf(),
        source: source.to_string(),
    })
}

/// `threads:`, a positive number (or its text), if set.
fn threads(fields: &serde_json::Map<String, Json>, error: &dyn Fn(String, &str) -> Diagnostic) -> Result<Option<usize>, Diagnostic> {
    Ok(match fields.get("threads") {
        None | Some(Json::Null) => None,
        Some(value) => match value.as_u64().or_else(|| value.as_str().and_then(|s| s.parse().ok())) {
            Some(threads) if threads > 0 => Some(threads as usize),
            _ => return Err(error(format!("`threads` must be a positive number, not `{value}`"), "threads")),
        },
    })
}

/// The field `key`, a whole number (or its text), if set.
fn whole_number(fields: &serde_json::Map<String, Json>, key: &str, error: &dyn Fn(String, &str) -> Diagnostic) -> Result<Option<u64>, Diagnostic> {
    match fields.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
            .map(Some)
            .ok_or_else(|| error(format!("`{key}` must be a whole number, not `{value}`"), key)),
    }
}

/// How long a job may run, in seconds, under any of the names dbt-bigquery
/// reads it by, if set.
fn job_timeout(
    fields: &serde_json::Map<String, Json>,
    error: &dyn Fn(String, &str) -> Diagnostic,
) -> Result<Option<std::time::Duration>, Diagnostic> {
    // dbt-bigquery's name for it, and the alias it keeps from older versions.
    let job_timeout_key =
        ["job_timeout_seconds", "job_execution_timeout_seconds", "timeout_seconds"].into_iter().find(|key| fields.contains_key(*key));
    Ok(match job_timeout_key {
        None => None,
        Some(key) => match whole_number(fields, key, error)? {
            None => None,
            Some(seconds) => {
                Some(crate::core::format::seconds(seconds as f64, &seconds.to_string()).map_err(|err| error(format!("`{key}`: {err}"), key))?)
            }
        },
    })
}

/// The `labels:` every job carries, names and values as text.
fn job_labels(fields: &serde_json::Map<String, Json>, error: &dyn Fn(String, &str) -> Diagnostic) -> Result<Vec<(String, String)>, Diagnostic> {
    Ok(match fields.get("labels").map(crate::project::config::labels) {
        None => Vec::new(),
        Some(Ok(labels)) => labels,
        Some(Err(crate::project::config::LabelsError::NotText { key, value })) => {
            return Err(error(format!("the label `{key}` must be text, not `{value}`"), &key));
        }
        Some(Err(crate::project::config::LabelsError::NotMapping(other))) => {
            return Err(error(format!("`labels` must be a mapping of names to text, not `{other}`"), "labels"));
        }
    })
}

/// Where `key:` begins a line of `source` (so `token` is not found inside
/// `refresh_token:`), else the file's first line.
fn locate_key(file: &Path, source: &str, key: &str) -> Location {
    let written = format!("{key}:");
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        if line.trim_start().starts_with(&written) {
            return Location::at_offset(file, source, offset + indent, key.chars().count());
        }
        offset += line.len();
    }
    Location::of_text(file, source, &written)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A key every target has is found in the target the error is about.
    #[test]
    fn keys_are_located_in_their_own_target() {
        let source = "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      threads: 4\n    # prod below\n    prod:\n      type: bigquery\n      threads: x\n\nother:\n  outputs:\n    prod:\n      threads: 1\n";
        let at = |target: &str, needle: &str| {
            let location = locate_in_target(Path::new("profiles.yml"), source, "shop", target, needle);
            (location.line, location.column)
        };
        assert_eq!(at("prod", "threads:"), (10, Some(7)));
        assert_eq!(at("dev", "threads:"), (6, Some(7)));
        assert_eq!(at("prod", "location:"), (8, Some(5)));
        assert_eq!(locate_in_target(Path::new("p.yml"), source, "nowhere", "prod", "threads:").line, 6);
    }
}
