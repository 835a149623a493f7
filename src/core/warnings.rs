//! `--warn-error` and `--warn-error-options`: which warnings fail the
//! invocation instead of being printed, named as dbt names its events, so a
//! CI job's flags carry over. One policy per process, set once before the
//! command runs; until then no warning is an error.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::Value as Json;

use crate::core::diagnostic::Diagnostic;

/// The warnings strata gives, by dbt's event names where dbt has the event.
pub const WARNINGS: [(&str, &str); 4] = [
    ("NoNodesForSelectionCriteria", "the selection matches no node to run"),
    ("LogTestResult", "a data test with `severity: warn` found rows"),
    ("JinjaLogWarning", "a template called `exceptions.warn()`"),
    ("ProjectWarning", "a project file or the profile sets something strata ignores (an unknown config key, a setting of another adapter)"),
];

/// Which warnings are errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Every warning is an error but those in `warn`.
    pub all: bool,
    pub error: BTreeSet<String>,
    pub warn: BTreeSet<String>,
}

impl Policy {
    /// `--warn-error` (every warning), then `--warn-error-options`, a YAML or
    /// JSON mapping `{error: all | [names], warn: [names]}` (dbt's older
    /// `include`/`exclude` are read too).
    pub fn parse(warn_error: bool, options: Option<&str>) -> Result<Policy, Diagnostic> {
        let mut policy = Policy { all: warn_error, ..Policy::default() };
        let Some(text) = options.filter(|text| !text.trim().is_empty()) else { return Ok(policy) };
        let names = WARNINGS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ");
        let help = format!("`--warn-error-options` takes `{{\"error\": \"all\" | [names], \"warn\": [names]}}`; the names are {names}");
        let value: Json =
            serde_norway::from_str(text).map_err(|err| Diagnostic::new(format!("`--warn-error-options` is not YAML or JSON: {err}")).help(&help))?;
        let Json::Object(map) = value else {
            return Err(Diagnostic::new(format!("`--warn-error-options` must be a mapping, not `{text}`")).help(&help));
        };
        for (key, value) in map {
            let names: Vec<String> = match &value {
                Json::String(name) => vec![name.clone()],
                Json::Array(items) => items.iter().map(|item| item.as_str().map(str::to_string).unwrap_or_else(|| item.to_string())).collect(),
                other => {
                    return Err(
                        Diagnostic::new(format!("`--warn-error-options`: `{key}` must be `all` or a list of names, not `{other}`")).help(&help)
                    );
                }
            };
            for name in &names {
                let all = matches!(name.as_str(), "all" | "*");
                if !all && !WARNINGS.iter().any(|(known, _)| known == name) {
                    return Err(Diagnostic::new(format!("`--warn-error-options` names `{name}`, which is not a warning strata gives")).help(&help));
                }
            }
            match key.as_str() {
                "error" | "include" => {
                    for name in names {
                        if matches!(name.as_str(), "all" | "*") {
                            policy.all = true;
                        } else {
                            policy.error.insert(name);
                        }
                    }
                }
                "warn" | "exclude" => policy.warn.extend(names),
                "silence" => {}
                other => return Err(Diagnostic::new(format!("`--warn-error-options` has the key `{other}`; use `error` and `warn`")).help(&help)),
            }
        }
        Ok(policy)
    }

    pub fn is_error(&self, name: &str) -> bool {
        !self.warn.contains(name) && (self.all || self.error.contains(name))
    }
}

static POLICY: OnceLock<Policy> = OnceLock::new();

/// Sets the process's policy; only the first call counts.
pub fn set(policy: Policy) {
    let _ = POLICY.set(policy);
}

/// Whether the warning `name` (one of [`WARNINGS`]) fails the invocation.
pub fn is_error(name: &str) -> bool {
    POLICY.get().is_some_and(|policy| policy.is_error(name))
}

/// How a warning that fails the invocation says why.
pub fn failed_by(name: &str) -> String {
    format!("a warning (`{name}`) that `--warn-error` makes an error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_pick_the_warnings_that_fail() {
        let policy = Policy::parse(false, Some(r#"{"error": ["LogTestResult"]}"#)).unwrap();
        assert!(policy.is_error("LogTestResult"));
        assert!(!policy.is_error("ProjectWarning"));
        let policy = Policy::parse(false, Some("{error: all, warn: [NoNodesForSelectionCriteria]}")).unwrap();
        assert!(policy.is_error("ProjectWarning"));
        assert!(!policy.is_error("NoNodesForSelectionCriteria"));
        assert!(Policy::parse(true, None).unwrap().is_error("JinjaLogWarning"));
        let err = Policy::parse(false, Some(r#"{"error": ["Nope"]}"#)).unwrap_err();
        assert_eq!(err.message, "`--warn-error-options` names `Nope`, which is not a warning strata gives");
    }
}
