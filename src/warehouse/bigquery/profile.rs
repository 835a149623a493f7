//! What a BigQuery target reads in `profiles.yml` (dbt-bigquery's keys and
//! their older aliases): the project and dataset, the sign-in `method:`, the
//! labels' rules, and the keys strata warns of.

use serde_json::{Map, Value as Json};

use crate::core::diagnostic::{Diagnostic, Location, did_you_mean};
use crate::warehouse::fields::{FieldError, text_field};

/// The keys a BigQuery target reads, in the order they are checked: its
/// dataset and project.
pub fn read(fields: &Map<String, Json>, job_labels: &[(String, String)], error: FieldError<'_>) -> Result<(String, String), Diagnostic> {
    for (key, value) in job_labels {
        check_label(key, value).map_err(|message| error(message, &format!("{key}:")))?;
    }
    dataset_and_project(fields, error)
}

/// A BigQuery target's dataset and project, under dbt-bigquery's names or
/// their aliases; its sign-in `method:` checked along.
fn dataset_and_project(fields: &Map<String, Json>, error: FieldError<'_>) -> Result<(String, String), Diagnostic> {
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
    Ok((dataset, project))
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
    "job_retry_deadline_seconds",
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
/// Python models): legitimate, but they change nothing here.
const BIGQUERY_KEYS_IGNORED: &[&str] = &[
    "refresh_token",
    "client_id",
    "client_secret",
    "token_uri",
    "token",
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
pub fn unused_keys(fields: &Map<String, Json>, locate: &dyn Fn(&str) -> Location) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    for key in fields.keys() {
        if BIGQUERY_KEYS.contains(&key.as_str()) {
            continue;
        }
        let location = locate(key);
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

/// BigQuery's rules: keys and values hold lowercase letters, international
/// characters, digits, `_` and `-`, at most 63 characters; a key starts with
/// a lowercase letter or an international character and is not empty.
/// See: https://cloud.google.com/bigquery/docs/labels-intro#requirements
pub fn check_label(key: &str, value: &str) -> Result<(), String> {
    const LONGEST: usize = 63;
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' || (!c.is_ascii() && !c.is_uppercase());
    let rule = "BigQuery takes lowercase letters, digits, `_` and `-`, at most 63 characters";
    if key.is_empty() {
        return Err("a label key cannot be empty".into());
    }
    for (what, text) in [("key", key), ("value", value)] {
        if let Some(bad) = text.chars().find(|&c| !allowed(c)) {
            return Err(format!("the label {what} `{text}` holds `{bad}`: {rule}"));
        }
        if text.chars().count() > LONGEST {
            return Err(format!("the label {what} `{text}` is {} characters long: {rule}", text.chars().count()));
        }
    }
    if key.starts_with(|c: char| c.is_ascii_digit() || c == '_' || c == '-') {
        return Err(format!("the label key `{key}` must start with a lowercase letter"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_label;

    #[test]
    fn labels_follow_bigquery_rules() {
        assert_eq!(check_label("team", "marketing-eu_1"), Ok(()));
        assert_eq!(check_label("équipe", "ü"), Ok(()));
        assert_eq!(check_label("team", ""), Ok(()));
        assert_eq!(
            check_label("Team", "x"),
            Err("the label key `Team` holds `T`: BigQuery takes lowercase letters, digits, `_` and `-`, at most 63 characters".into())
        );
        assert_eq!(
            check_label("team", "a b"),
            Err("the label value `a b` holds ` `: BigQuery takes lowercase letters, digits, `_` and `-`, at most 63 characters".into())
        );
        assert_eq!(check_label("1team", "x"), Err("the label key `1team` must start with a lowercase letter".into()));
        assert!(check_label(&"k".repeat(64), "x").is_err());
        assert!(check_label("k", &"v".repeat(63)).is_ok());
        assert_eq!(check_label("", "x"), Err("a label key cannot be empty".into()));
    }
}
