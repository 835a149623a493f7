//! What the model being rendered contributes to its template: its name, its
//! config so far, the `ref()`/`source()` calls it makes, and how those resolve.
//!
//! A render runs on one thread from start to end, macros included, so the model
//! in progress is kept in a thread-local [`Scope`]: `ref()` called from a
//! project macro three calls deep still records on the model that called it.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};

use minijinja::Value;
use regex::Regex;

use crate::core::relation::Relation;
use crate::project::config::ConfigMap;

/// Why a template is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    /// To learn a model's `ref()`, `source()` and `config()` calls; relations are placeholders.
    Parse,
    /// To produce the SQL that runs, with real relation names.
    Compile,
}

/// A `ref()` call as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefCall {
    pub package: Option<String>,
    pub name: String,
}

/// Resolves `ref()` and `source()` to relations once the whole graph is known.
pub trait Resolve: Send + Sync {
    /// `ref(package, name)` written in a node of package `from`.
    fn resolve_ref(&self, from: Option<&str>, package: Option<&str>, name: &str) -> Result<Relation, String>;
    fn resolve_source(&self, source: &str, table: &str) -> Result<Relation, String>;
    /// `--empty`: `ref()` and `source()` render as zero-row subqueries of their relations.
    fn empty_inputs(&self) -> bool {
        false
    }
    /// The `event_time` column of the model or seed `name`, which a microbatch model filters to its batch.
    fn ref_event_time(&self, _from: Option<&str>, _package: Option<&str>, _name: &str) -> Option<String> {
        None
    }
    fn source_event_time(&self, _source: &str, _table: &str) -> Option<String> {
        None
    }
}

#[derive(Default)]
pub struct Scope {
    /// The node being rendered, as `model `name`` for messages.
    pub node: String,
    pub mode: Mode,
    /// Config from `dbt_project.yml` and properties files.
    pub base_config: ConfigMap,
    /// Config set by the template's own `config()` calls.
    pub config: ConfigMap,
    pub refs: Vec<RefCall>,
    pub sources: Vec<(String, String)>,
    /// `this`: the relation the node builds.
    pub this: Option<Relation>,
    pub is_incremental: bool,
    pub resolver: Option<Arc<dyn Resolve>>,
    /// One slot per macro call in progress, for `return()`.
    pub(crate) returns: Vec<Option<Value>>,
    /// The project or package of the node, whose `vars` it sees.
    pub package: Option<String>,
    /// Macros replaced by a value (a unit test's `overrides: {macros}`), by name.
    pub macros: Option<serde_json::Map<String, serde_json::Value>>,
    /// A microbatch model's batch, `[start, end)` as dates: the rows of
    /// inputs with an `event_time` it reads.
    pub batch: Option<(String, String)>,
    /// Vars seen before the project's (a unit test's `overrides: {vars}`).
    pub vars: Option<serde_json::Map<String, serde_json::Value>>,
    /// `model`: the node as the manifest shows it, when compiling.
    pub model: Option<Value>,
    /// The named `statement` results of this render, for `load_result()`.
    pub(crate) results: crate::core::hash::FastMap<String, Value>,
    /// Whether a parse-mode render is the final SQL once its relation
    /// placeholders are replaced: false when the template looked inside a
    /// relation that was not known yet (`ref('x').identifier`).
    pub exact: bool,
}

impl Scope {
    pub fn new(node: String, mode: Mode, base_config: ConfigMap) -> Scope {
        Scope {
            node,
            mode,
            base_config,
            config: ConfigMap::new(),
            refs: Vec::new(),
            sources: Vec::new(),
            this: None,
            is_incremental: false,
            resolver: None,
            returns: Vec::new(),
            package: None,
            vars: None,
            macros: None,
            batch: None,
            model: None,
            results: Default::default(),
            exact: true,
        }
    }

    /// The config as the template sees it now: base config, then its own calls.
    pub fn merged_config(&self) -> ConfigMap {
        let mut config = self.base_config.clone();
        crate::project::config::merge(&mut config, &self.config);
        config
    }
}

thread_local! {
    static SCOPE: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// Runs `render` with `scope` as the current scope; what the render recorded
/// is in `scope` afterwards.
pub fn with_scope<T>(scope: &mut Scope, render: impl FnOnce() -> T) -> T {
    let previous = SCOPE.with(|slot| slot.borrow_mut().replace(std::mem::take(scope)));
    let result = render();
    if let Some(recorded) = SCOPE.with(|slot| std::mem::replace(&mut *slot.borrow_mut(), previous)) {
        *scope = recorded;
    }
    result
}

/// Calls `f` with the current scope, if a node is being rendered.
pub fn current<T>(f: impl FnOnce(Option<&mut Scope>) -> T) -> T {
    SCOPE.with(|slot| f(slot.borrow_mut().as_mut()))
}

/// Notes that the render looked inside a placeholder relation.
pub fn mark_inexact() {
    current(|scope| {
        if let Some(scope) = scope {
            scope.exact = false;
        }
    });
}

/// The placeholder a parse-mode render writes for `ref()` number `index`
/// (`None`: `this`); private-use characters, so no SQL contains them.
pub fn placeholder(index: Option<usize>) -> String {
    match index {
        Some(index) => format!("\u{E000}{index}\u{E001}"),
        None => "\u{E000}this\u{E001}".to_string(),
    }
}

/// Replaces the placeholders of a parse-mode render: `refs(i)` for `ref()`
/// number `i`, `this` for `this`.
pub fn fill_placeholders<R: std::fmt::Display>(sql: &str, refs: impl Fn(usize) -> Option<R>, this: &dyn std::fmt::Display) -> Option<String> {
    if !sql.contains('\u{E000}') {
        return Some(sql.to_string());
    }
    let mut out = String::with_capacity(sql.len() + 64);
    let mut rest = sql;
    while let Some(start) = rest.find('\u{E000}') {
        out.push_str(&rest[..start]);
        let after = &rest[start + '\u{E000}'.len_utf8()..];
        let end = after.find('\u{E001}')?;
        let key = &after[..end];
        if key == "this" {
            write!(out, "{this}").ok()?;
        } else {
            write!(out, "{}", refs(key.parse().ok()?)?).ok()?;
        }
        rest = &after[end + '\u{E001}'.len_utf8()..];
    }
    out.push_str(rest);
    Some(out)
}

static REF_OR_SOURCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*(ref|source)\s*\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]+)['"]\s*)?\)\s*$"#).unwrap_or_else(|_| unreachable!())
});

/// `ref('x')` / `source('a', 'b')` written as a string in YAML (exposures' `depends_on`, `relationships.to`).
pub fn parse_ref_string(text: &str) -> Option<Result<RefCall, (String, String)>> {
    let captures = REF_OR_SOURCE.captures(text)?;
    let first = captures.get(2)?.as_str().to_string();
    let second = captures.get(3).map(|m| m.as_str().to_string());
    Some(match (&captures[1], second) {
        ("ref", None) => Ok(RefCall { package: None, name: first }),
        ("ref", Some(name)) => Ok(RefCall { package: Some(first), name }),
        (_, Some(table)) => Err((first, table)),
        (_, None) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_ref_and_this_placeholders() {
        let sql = format!("select * from {} join {} on {}.id = 1", placeholder(Some(0)), placeholder(Some(1)), placeholder(None));
        let refs = ["\"a\"", "\"b\""];
        let filled = fill_placeholders(&sql, |i| refs.get(i), &"\"me\"");
        assert_eq!(filled.as_deref(), Some("select * from \"a\" join \"b\" on \"me\".id = 1"));
        assert_eq!(fill_placeholders("select 1", |_| None::<&str>, &"x").as_deref(), Some("select 1"));
        // An unknown ref index means the render must be redone, not guessed.
        assert_eq!(fill_placeholders(&placeholder(Some(5)), |_| None::<&str>, &"x"), None);
    }
}
