//! What a warehouse accepts of a model's config, so `compile` checks a model
//! for the warehouse it will be built in without naming that warehouse: each
//! SQL generator hands out its rules, and the config parser asks them.

/// One warehouse's rules for model configs.
#[derive(Debug)]
pub struct ConfigRules {
    /// The warehouse's name, as messages say it (`BigQuery`).
    pub warehouse: &'static str,
    /// The `incremental_strategy` values it runs.
    pub strategies: &'static [&'static str],
    /// What to write instead of a strategy it does not run.
    pub strategies_help: &'static str,
    /// The most `cluster_by` columns a table may have.
    pub max_cluster_by: Option<usize>,
    /// Why a label (key and value) is refused, if it is.
    pub check_label: fn(&str, &str) -> Result<(), String>,
}

/// A warehouse without rules for labels.
pub fn any_label(_key: &str, _value: &str) -> Result<(), String> {
    Ok(())
}

/// BigQuery's rules: keys and values hold lowercase letters, international
/// characters, digits, `_` and `-`, at most 63 characters; a key starts with
/// a lowercase letter or an international character and is not empty.
/// See: https://cloud.google.com/bigquery/docs/labels-intro#requirements
pub fn bigquery_label(key: &str, value: &str) -> Result<(), String> {
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
    use super::bigquery_label;

    #[test]
    fn labels_follow_bigquery_rules() {
        assert_eq!(bigquery_label("team", "marketing-eu_1"), Ok(()));
        assert_eq!(bigquery_label("équipe", "ü"), Ok(()));
        assert_eq!(bigquery_label("team", ""), Ok(()));
        assert_eq!(
            bigquery_label("Team", "x"),
            Err("the label key `Team` holds `T`: BigQuery takes lowercase letters, digits, `_` and `-`, at most 63 characters".into())
        );
        assert_eq!(
            bigquery_label("team", "a b"),
            Err("the label value `a b` holds ` `: BigQuery takes lowercase letters, digits, `_` and `-`, at most 63 characters".into())
        );
        assert_eq!(bigquery_label("1team", "x"), Err("the label key `1team` must start with a lowercase letter".into()));
        assert!(bigquery_label(&"k".repeat(64), "x").is_err());
        assert!(bigquery_label("k", &"v".repeat(63)).is_ok());
        assert_eq!(bigquery_label("", "x"), Err("a label key cannot be empty".into()));
    }
}
