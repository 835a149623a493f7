//! `profiles.yml`: where it is looked up, `env_var()` inside it, and the target
//! that a run uses, validated per warehouse type.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::core::diagnostic::{Diagnostic, Location, did_you_mean};
use crate::project::yaml;

/// The connection a run uses: one `outputs:` entry of the profile.
#[derive(Debug, Clone)]
pub struct Target {
    pub profile_name: String,
    /// The output's name (`dev`, `prod`).
    pub name: String,
    pub kind: TargetKind,
    /// The schema (BigQuery: dataset) models go to by default.
    pub schema: String,
    /// DuckDB: the catalog name; BigQuery: the project.
    pub database: Option<String>,
    pub threads: Option<usize>,
    /// DuckDB: the `settings:` mapping (dbt-duckdb's key), each value as text,
    /// applied when the database is opened (`memory_limit: 2GB`, ...).
    pub settings: Vec<(String, String)>,
    /// DuckDB: the `attach:` list (dbt-duckdb's key), other database files
    /// attached when the target's is opened, so relations in them can be read.
    pub attach: Vec<Attachment>,
    /// What every job sent for this target carries: `labels`,
    /// `maximum_bytes_billed` and `job_timeout_seconds`.
    pub job_labels: Vec<(String, String)>,
    pub maximum_bytes_billed: Option<u64>,
    pub job_timeout: Option<std::time::Duration>,
    /// Every field as written, with `env_var()` resolved.
    pub fields: serde_json::Map<String, Json>,
    /// Keys strata does not use, each a warning at its line.
    pub warnings: Vec<Diagnostic>,
    /// The file it came from, and its text as written, for located errors.
    pub file: PathBuf,
    pub source: String,
}

/// One entry of a DuckDB target's `attach:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// As written: relative to the project, `:memory:`, or any path DuckDB takes.
    pub path: String,
    /// The catalog name relations use; DuckDB's own name for the file when absent.
    pub alias: Option<String>,
    pub read_only: bool,
    /// The storage type (`sqlite`, `postgres`, ...) where it is not a DuckDB file.
    pub kind: Option<String>,
}

impl Target {
    /// Where `needle` (a key such as `location:`) is written in the profile file.
    pub fn locate(&self, needle: &str) -> Location {
        locate_in_target(&self.file, &self.source, &self.profile_name, &self.name, needle)
    }
}

/// Where `needle` is written inside output `target` of profile `profile` in
/// `source`: a key repeated in every target (`threads:`) is found in the one
/// it is about. Falls back to the target's own line, then to the whole file.
fn locate_in_target(file: &Path, source: &str, profile: &str, target: &str, needle: &str) -> Location {
    /// The byte offset of the first line at or after `from` that starts (after
    /// its indentation) with `key:`, and that indentation.
    fn key_line(source: &str, from: usize, key: &str) -> Option<(usize, usize)> {
        let mut offset = from;
        for line in source[from..].split_inclusive('\n') {
            let trimmed = line.trim_start();
            let unquoted = trimmed.trim_start_matches(['"', '\'']);
            if unquoted.strip_prefix(key).is_some_and(|rest| rest.trim_start_matches(['"', '\'']).starts_with(':')) {
                return Some((offset, line.len() - trimmed.len()));
            }
            offset += line.len();
        }
        None
    }
    let header = key_line(source, 0, profile).and_then(|(at, _)| key_line(source, at, "outputs")).and_then(|(at, _)| key_line(source, at, target));
    let Some((start, indent)) = header else { return Location::of_text(file, source, needle) };
    // The target's block ends at the next line indented as far as its name, or less.
    let mut end = start + source[start..].find('\n').map_or(source.len() - start, |n| n + 1);
    for line in source[end..].split_inclusive('\n') {
        let content = line.trim_start();
        if !content.is_empty() && !content.starts_with('#') && line.len() - content.len() <= indent {
            break;
        }
        end += line.len();
    }
    match source[start..end].find(needle) {
        Some(offset) => Location::at_offset(file, source, start + offset, needle.chars().count()),
        None => Location::at_offset(file, source, start + indent, target.chars().count()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    DuckDb,
    BigQuery,
}

impl TargetKind {
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::DuckDb => "duckdb",
            TargetKind::BigQuery => "bigquery",
        }
    }
}

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

/// A DuckDB target's `settings:`, each value as text.
fn duckdb_settings(fields: &serde_json::Map<String, Json>, error: &dyn Fn(String, &str) -> Diagnostic) -> Result<Vec<(String, String)>, Diagnostic> {
    Ok(match fields.get("settings") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Object(settings)) => {
            let mut pairs = Vec::with_capacity(settings.len());
            for (key, value) in settings {
                let text = match value {
                    Json::String(text) => text.clone(),
                    Json::Number(_) | Json::Bool(_) => value.to_string(),
                    _ => {
                        return Err(error(format!("the value of `settings.{key}` must be a string, number or boolean, not `{value}`"), key)
                            .help("write DuckDB settings as `name: value`, e.g. `memory_limit: 2GB`"));
                    }
                };
                pairs.push((key.clone(), text));
            }
            pairs
        }
        Some(other) => {
            return Err(error(format!("`settings` must be a mapping of DuckDB settings, not `{other}`"), "settings")
                .help("write DuckDB settings as `name: value`, e.g. `memory_limit: 2GB`"));
        }
    })
}

/// A DuckDB target's `attach:` entries, each checked at its line.
fn attachments(fields: &serde_json::Map<String, Json>, error: &dyn Fn(String, &str) -> Diagnostic) -> Result<Vec<Attachment>, Diagnostic> {
    Ok(match fields.get("attach") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(entries)) => {
            let help = "write each entry as `- path: other.duckdb` with `alias:`, `read_only:` and `type:` where needed";
            let mut attach = Vec::with_capacity(entries.len());
            for entry in entries {
                let Some(entry) = entry.as_object() else {
                    return Err(error(format!("each `attach:` entry must be a mapping, not `{entry}`"), "attach").help(help));
                };
                let text = |key: &str| match entry.get(key) {
                    None | Some(Json::Null) => Ok(None),
                    Some(Json::String(text)) if !text.is_empty() => Ok(Some(text.clone())),
                    Some(other) => Err(error(format!("`attach:` `{key}` must be a name, not `{other}`"), "attach").help(help)),
                };
                if let Some(key) = entry.keys().find(|key| !["path", "alias", "read_only", "type"].contains(&key.as_str())) {
                    return Err(error(format!("`attach:` entries take `path`, `alias`, `read_only` and `type`, not `{key}`"), key).help(help));
                }
                let Some(path) = text("path")? else {
                    return Err(error("an `attach:` entry needs `path:`".into(), "attach").help(help));
                };
                let read_only = match entry.get("read_only") {
                    None | Some(Json::Null) => false,
                    Some(Json::Bool(read_only)) => *read_only,
                    Some(other) => return Err(error(format!("`attach:` `read_only` must be true or false, not `{other}`"), "read_only")),
                };
                attach.push(Attachment { path, alias: text("alias")?, read_only, kind: text("type")? });
            }
            attach
        }
        Some(other) => {
            return Err(error(format!("`attach` must be a list of database files, not `{other}`"), "attach")
                .help("write `attach:` as a list: `- path: target/prod.duckdb`"));
        }
    })
}

/// The catalog name DuckDB gives the database at `path`: `memory` in memory,
/// else the file's name up to its first dot (`dev` for `target/dev.duckdb`).
pub fn duckdb_catalog(path: &str) -> String {
    if path == ":memory:" || path.is_empty() {
        return "memory".into();
    }
    let name = Path::new(path).file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    name.split('.').next().unwrap_or_default().to_string()
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
    let settings = duckdb_settings(fields, &error)?;
    let attach = attachments(fields, &error)?;
    let maximum_bytes_billed = whole_number(fields, "maximum_bytes_billed", &error)?;
    let job_timeout = job_timeout(fields, &error)?;
    let job_labels = job_labels(fields, &error)?;
    let kind = match fields.get("type").and_then(Json::as_str) {
        Some("duckdb") => TargetKind::DuckDb,
        Some("bigquery") => TargetKind::BigQuery,
        Some(other) => {
            return Err(error(format!("unsupported type `{other}`"), "type").help("strata supports `type: duckdb` and `type: bigquery`"));
        }
        None => {
            return Err(error("has no `type:`".into(), name).help("add `type: duckdb` or `type: bigquery`"));
        }
    };
    if kind == TargetKind::BigQuery {
        for (key, value) in &job_labels {
            crate::core::config_rules::bigquery_label(key, value).map_err(|message| error(message, &format!("{key}:")))?;
        }
    }
    let (schema, database) = match kind {
        TargetKind::DuckDb => duckdb_schema_and_catalog(profile_name, fields, &error)?,
        TargetKind::BigQuery => bigquery_dataset_and_project(fields, &error)?,
    };
    Ok(Target {
        profile_name: profile_name.to_string(),
        name: name.to_string(),
        kind,
        schema,
        database,
        threads,
        settings,
        attach,
        job_labels,
        maximum_bytes_billed,
        job_timeout,
        fields: fields.clone(),
        warnings: unused_keys(kind, fields, file, source),
        file: file.to_path_buf(),
        source: source.to_string(),
    })
}

/// A field's value as text: a string, or a number as written.
fn text_field(fields: &serde_json::Map<String, Json>, key: &str) -> Option<String> {
    fields.get(key).and_then(|v| match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
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

/// A DuckDB target's schema (`main` unless set) and catalog: the name DuckDB
/// gives its file, which a `database:` must repeat.
fn duckdb_schema_and_catalog(
    profile_name: &str,
    fields: &serde_json::Map<String, Json>,
    error: &dyn Fn(String, &str) -> Diagnostic,
) -> Result<(String, Option<String>), Diagnostic> {
    let schema = text_field(fields, "schema").unwrap_or_else(|| "main".into());
    // The catalog DuckDB names the file by, which every relation is rendered in, as dbt-duckdb does.
    let catalog = match text_field(fields, "path") {
        Some(path) => duckdb_catalog(&path),
        None => profile_name.to_string(),
    };
    if let Some(database) = text_field(fields, "database").filter(|database| *database != catalog) {
        return Err(error(format!("`database: {database}` is not the name DuckDB gives this target's file, `{catalog}`"), "database")
            .help(format!("remove `database:`, or set it to `{catalog}` (the file's name up to its first dot; `memory` for `:memory:`)")));
    }
    Ok((schema, Some(catalog)))
}

/// A BigQuery target's dataset and project, under dbt-bigquery's names or
/// their aliases; its sign-in `method:` checked along.
fn bigquery_dataset_and_project(
    fields: &serde_json::Map<String, Json>,
    error: &dyn Fn(String, &str) -> Diagnostic,
) -> Result<(String, Option<String>), Diagnostic> {
    let string = |key: &str| text_field(fields, key);
    let Some(project) = string("project").or_else(|| string("database")).or_else(|| string("target_project")) else {
        return Err(error("BigQuery targets need `project:`".into(), "type").help("set `project:` to the Google Cloud project id"));
    };
    let Some(dataset) = string("dataset").or_else(|| string("schema")).or_else(|| string("target_dataset")) else {
        return Err(error("BigQuery targets need `dataset:`".into(), "type").help("set `dataset:` to the dataset models are built in"));
    };
    let method = string("method").unwrap_or_else(|| "oauth".into());
    match method.as_str() {
        "service-account" if string("keyfile").is_none() => {
            return Err(error("`method: service-account` needs `keyfile:`".into(), "method")
                .help("point `keyfile:` at the service-account key, e.g. `{{ env_var('GOOGLE_APPLICATION_CREDENTIALS') }}`"));
        }
        "service-account-json" if fields.get("keyfile_json").is_none() => {
            return Err(error("`method: service-account-json` needs `keyfile_json:`".into(), "method"));
        }
        "service-account" | "service-account-json" | "oauth" | "emulator" => {}
        other => {
            return Err(error(format!("unknown BigQuery `method: {other}`"), "method")
                .help("use `service-account`, `service-account-json`, `oauth` or `emulator`"));
        }
    }
    Ok((dataset, Some(project)))
}

/// The keys of a `bigquery` target strata reads (dbt-bigquery's names, their
/// older aliases, and strata's own `api_endpoint`, `labels`, `cost_per_tib`,
/// `tableau`, `notifications`).
const BIGQUERY_KEYS: &[&str] = &[
    "type",
    "threads",
    "method",
    "project",
    "database",
    "target_project",
    "dataset",
    "schema",
    "target_dataset",
    "location",
    "keyfile",
    "keyfile_json",
    "priority",
    "job_retries",
    "retries",
    "job_timeout_seconds",
    "job_execution_timeout_seconds",
    "timeout_seconds",
    "job_creation_timeout_seconds",
    "maximum_bytes_billed",
    "impersonate_service_account",
    "execution_project",
    "scopes",
    "api_endpoint",
    "labels",
    "cost_per_tib",
    "tableau",
    "notifications",
];

/// Keys dbt-bigquery reads that strata does not (other sign-in methods,
/// Python models, retry deadlines): legitimate, but they change nothing here.
const BIGQUERY_KEYS_IGNORED: &[&str] = &[
    "refresh_token",
    "client_id",
    "client_secret",
    "token_uri",
    "token",
    "job_retry_deadline_seconds",
    "gcs_bucket",
    "dataproc_region",
    "dataproc_cluster_name",
    "dataproc_batch",
    "submission_method",
    "compute_region",
    "quota_project",
];

/// A warning for each key of a target that strata does not use: one dbt
/// knows says strata ignores it; any other is likely a typo.
fn unused_keys(kind: TargetKind, fields: &serde_json::Map<String, Json>, file: &Path, source: &str) -> Vec<Diagnostic> {
    if kind != TargetKind::BigQuery {
        return Vec::new();
    }
    let mut warnings = Vec::new();
    for key in fields.keys() {
        if BIGQUERY_KEYS.contains(&key.as_str()) {
            continue;
        }
        let location = locate_key(file, source, key);
        let warning = if BIGQUERY_KEYS_IGNORED.contains(&key.as_str()) {
            Diagnostic::warning(format!("`{key}` is a dbt-bigquery setting strata ignores"))
                .at(location)
                .help("strata does not use it; the target works without it")
        } else {
            let known = BIGQUERY_KEYS.iter().chain(BIGQUERY_KEYS_IGNORED).copied();
            let warning = Diagnostic::warning(format!("`{key}` is not a setting of BigQuery targets, so it changes nothing")).at(location);
            match did_you_mean(key, known) {
                Some(close) => warning.help(format!("did you mean `{close}`?")),
                None => warning.help("remove it, or see dbt-bigquery's profile settings for the right name"),
            }
        };
        warnings.push(warning);
    }
    warnings
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
