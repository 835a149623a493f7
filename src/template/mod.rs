//! The minijinja environment, built once per run: project macros and strata's
//! built-in macros, callable from every template without an import; the
//! context globals of [`context`]; and turning template errors into located
//! diagnostics.

pub mod context;
mod datetime;
pub mod introspect;
mod modules;
mod mutable;
mod relation;
pub mod scope;

use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, OnceLock};

use chrono::{DateTime, Utc};
use minijinja::{Environment, Error, Template};
use regex::Regex;

use crate::core::dates::ExecutionDate;
use crate::core::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::core::hash::FastMap;
use crate::core::jinja::{BUILTINS_NAME, jinja_diagnostic, new_environment};
use crate::project::{MacroScan, MacroSpans, Project};
pub use context::Globals;
pub use scope::{Mode, RefCall, Resolve, Scope};

/// strata's own macros: cross-database helpers, schema naming and generic tests.
const BUILTINS: &str = include_str!("builtins.sql");
/// The namespace of the built-in macros, as dbt's: `dbt.date_trunc(...)`.
pub const BUILTIN_NAMESPACE: &str = "dbt";

/// A template error with `message`.
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(minijinja::ErrorKind::InvalidOperation, message.into())
}

pub struct Templates {
    /// Built once per process and kept for all of it, every date of a
    /// backfill included: macro calls keep the evaluated macro templates,
    /// which borrow it (see `context::MacroRef`).
    pub env: &'static Environment<'static>,
    /// The execution date these templates render for.
    pub date: ExecutionDate,
    /// The date variables (`ds`, `execution_date`, ...) of `date`, the context of every render.
    date_context: minijinja::Value,
    pub globals: Arc<Globals>,
    /// Whether the project defines its own `generate_schema_name` / `generate_alias_name`.
    pub custom_schema_name: bool,
    pub custom_alias_name: bool,
}

impl Templates {
    /// Builds the environment for rendering `project` for `date`; its
    /// introspective queries go to the warehouse `introspection` opens.
    pub fn new(
        project: &Project,
        date: ExecutionDate,
        run_started_at: DateTime<Utc>,
        introspection: introspect::Introspection,
    ) -> Result<Templates, Diagnostics> {
        let mut env = new_environment();
        mutable::register(&mut env);
        let date_context = context::date_context(date);

        let mut index = MacroIndex::default();
        for file in namespaced_macro_files(project) {
            index.add_file(&mut env, &project.name, &date_context, file);
        }
        let MacroIndex { macros, namespaces, defined_in, lazy, diagnostics } = index;
        env.set_loader(move |name| Ok(load_lazy(&lazy, name)));
        diagnostics.into_result()?;

        let root_defines = |name: &str| defined_in.contains_key(&(project.name.as_str(), name.to_string()));
        let custom_schema_name = root_defines("generate_schema_name");
        let custom_alias_name = root_defines("generate_alias_name");
        let globals = Arc::new(globals(project, macros, namespaces, introspection));
        context::register(&mut env, &globals, run_started_at);
        env.add_global("target", minijinja::Value::from_serialize(target_context(project)));
        let env: &'static Environment<'static> = Box::leak(Box::new(env));
        let _ = globals.environment.set(env);
        Ok(Templates { env, date, date_context, globals, custom_schema_name, custom_alias_name })
    }

    /// The same environment, rendering for `date`: a backfill builds it once,
    /// not once a date.
    pub fn for_date(&self, date: ExecutionDate) -> Templates {
        Templates {
            env: self.env,
            date,
            date_context: context::date_context(date),
            globals: Arc::clone(&self.globals),
            custom_schema_name: self.custom_schema_name,
            custom_alias_name: self.custom_alias_name,
        }
    }

    /// Compiles and renders a model's (or test's) template with `scope` as
    /// the node in progress; `name` is its project-relative path.
    pub fn render_template(&self, name: &str, text: &str, scope: &mut Scope) -> Result<String, Error> {
        let source = mutable::rewrite(text);
        let template = self.env.template_from_named_str(name, &source)?;
        self.render(&template, scope)
    }

    fn render(&self, template: &Template<'_, '_>, scope: &mut Scope) -> Result<String, Error> {
        context::with_date(self.date, &self.date_context, || scope::with_scope(scope, || template.render(&self.date_context)))
    }

    /// Calls the macro `name` (project macros first, then built-ins) from Rust.
    pub fn call_macro(&self, name: &str, args: &[minijinja::Value], scope: &mut Scope) -> Result<minijinja::Value, Error> {
        let macro_ref = match self.globals.find_macro(None, name) {
            Some(found) => found,
            None => context::MacroRef::new(&self.globals, None, name, BUILTINS_NAME),
        };
        self.call(&macro_ref, args, scope)
    }

    /// Calls a macro found with [`Globals::find_macro`] from Rust.
    pub fn call(&self, macro_ref: &context::MacroRef, args: &[minijinja::Value], scope: &mut Scope) -> Result<minijinja::Value, Error> {
        context::with_date(self.date, &self.date_context, || scope::with_scope(scope, || macro_ref.invoke(args)))
    }

    /// Renders a string that may hold `{{ ... }}` (a description, a hook) outside any model.
    pub fn render_str(&self, name: &str, source: &str, scope: &mut Scope) -> Result<String, Error> {
        if !source.contains("{{") && !source.contains("{%") {
            return Ok(source.to_string());
        }
        self.render_template(name, source, scope)
    }

    /// A located diagnostic for a template error; `source` is the text of the
    /// template being rendered when it is not one of the environment's own.
    pub fn diagnostic(&self, err: &Error, source: Option<(&str, &str)>) -> Diagnostic {
        jinja_diagnostic(err, self.env, source)
    }
}

/// A macro file: the namespace its macros belong to, its path and text, and
/// for a package's file, the file as scanned once for templates and
/// fingerprints alike.
type NamespacedFile<'a> = (&'a str, &'a Path, &'a str, Option<&'a MacroScan>);

/// The built-ins' files (strata's, then its target's warehouse's), the root
/// project's macro files and the packages'.
fn namespaced_macro_files(project: &Project) -> impl Iterator<Item = NamespacedFile<'_>> {
    let builtins = std::iter::once((BUILTINS_NAME, BUILTINS))
        .chain(project.target.kind.adapter().macros())
        .map(|(name, text)| (BUILTIN_NAMESPACE, Path::new(name), text, None));
    let root = project.macros.iter().map(|f| (project.name.as_str(), f.path.as_path(), f.text.as_str(), None));
    let package_scans = &scanned_macro_files(project)[project.macros.len()..];
    let packages = project
        .packages
        .iter()
        .flat_map(|p| p.macros.iter().map(|f| (p.name.as_str(), f.path.as_path(), f.text.as_str())))
        .zip(package_scans)
        .map(|((namespace, path, text), scan)| (namespace, path, text, Some(scan)));
    builtins.chain(root).chain(packages)
}

/// The macros of the files read so far, as templates name them.
#[derive(Default)]
struct MacroIndex<'a> {
    /// Macro name → template: the built-ins' and the root project's.
    macros: BTreeMap<String, String>,
    /// Namespace → macro name → template.
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// Where each macro of a namespace is defined (built-ins aside), to report one defined twice.
    defined_in: BTreeMap<(&'a str, String), &'a Path>,
    /// The macro templates compiled on first call, by name: their file's text and the macro's span.
    lazy: FastMap<String, LazyTemplate>,
    diagnostics: Diagnostics,
}

impl<'a> MacroIndex<'a> {
    /// Reads one macro file's macros into the index, and a root project's
    /// file into `env`.
    fn add_file(
        &mut self,
        env: &mut Environment<'static>,
        root_project: &str,
        date_context: &minijinja::Value,
        (namespace, path, text, scan): NamespacedFile<'a>,
    ) {
        let name = path.to_string_lossy().into_owned();
        // The root project's files are compiled now, so their errors are
        // reported before anything runs. Built-ins and packages (hundreds of
        // macros, most never called) are rewritten and compiled when first called.
        let eager = namespace == root_project;
        let (text, spans): (Arc<str>, Cow<'_, MacroSpans>) = match scan {
            Some(scan) if !eager => (Arc::clone(&scan.text), Cow::Borrowed(&scan.spans)),
            _ => {
                let text = rewrite_test_blocks(text);
                let text: Arc<str> = match eager {
                    true => Arc::from(mutable::rewrite(&catch_all_kwargs(&text)).as_ref()),
                    false => Arc::from(text),
                };
                let spans = macro_spans(&text);
                (text, Cow::Owned(spans))
            }
        };
        let exports: Vec<String> = if eager {
            match compile_macro_file(env, &name, &text, date_context) {
                Ok(exports) => exports,
                Err(err) => {
                    self.diagnostics.push(jinja_diagnostic(&err, env, None));
                    return;
                }
            }
        } else {
            self.lazy.insert(name.clone(), (Arc::clone(&text), None, true));
            spans.keys().cloned().collect()
        };
        // One template per macro, so a call evaluates that macro's definition
        // only, not every definition in its file; unless the file shares
        // top-level `set`s between its macros.
        let split = exports.iter().all(|export| spans.contains_key(export)) && only_macros(&text, &spans);
        for macro_name in exports {
            let template_name = match spans.get(&macro_name) {
                Some(&span) if split => {
                    let template_name = format!("{name}#{macro_name}");
                    self.lazy.insert(template_name.clone(), (Arc::clone(&text), Some(span), !eager));
                    template_name
                }
                _ => name.clone(),
            };
            self.add_macro(root_project, namespace, path, &text, macro_name, template_name);
        }
    }

    /// Names the macro `macro_name` of `namespace`, defined in `path`, by its
    /// template; one the namespace already has is reported.
    fn add_macro(&mut self, root_project: &str, namespace: &'a str, path: &'a Path, text: &str, macro_name: String, template_name: String) {
        if namespace != BUILTIN_NAMESPACE
            && let Some(first) = self.defined_in.insert((namespace, macro_name.clone()), path)
        {
            self.diagnostics.push(
                Diagnostic::new(format!("macro `{macro_name}` is defined twice: in `{}` and in `{}`", first.display(), path.display()))
                    .at(Location::of_text(path, text, &macro_name))
                    .help("rename or remove one of them"),
            );
        }
        // Built-ins and the root project's macros are called without a
        // namespace; a package's, with its name (or from its own macros).
        if namespace == BUILTIN_NAMESPACE || namespace == root_project {
            self.macros.insert(macro_name.clone(), template_name.clone());
        }
        self.namespaces.entry(namespace.to_string()).or_default().insert(macro_name, template_name);
    }
}

/// Compiles a macro file as the template `name`, and names the macros it exports.
fn compile_macro_file(env: &mut Environment<'static>, name: &str, text: &str, date_context: &minijinja::Value) -> Result<Vec<String>, Error> {
    env.add_template_owned(name.to_string(), text.to_string())?;
    env.get_template(name).and_then(|t| t.render_captured(date_context).map(|c| exported(c.state())))
}

/// The source of the lazy template `name`, when it is first called: its
/// macro alone (the rest of its file blanked), rewritten if it is still to be.
fn load_lazy(lazy: &FastMap<String, LazyTemplate>, name: &str) -> Option<String> {
    lazy.get(name).map(|(text, span, rewrite)| {
        let text = match span {
            Some((start, end)) => blank_outside(text, *start, *end),
            None => text.to_string(),
        };
        match rewrite {
            true => mutable::rewrite(&catch_all_kwargs(&text)).into_owned(),
            false => text,
        }
    })
}

/// The context globals of `project`, with its macros by name and by namespace.
fn globals(
    project: &Project,
    macros: BTreeMap<String, String>,
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    introspection: introspect::Introspection,
) -> Globals {
    let dialect = crate::warehouse::dialect(project.target.kind);
    Globals {
        target_kind: project.target.kind,
        quote: dialect.quote_style(),
        target_schema: project.target.schema.clone(),
        target_database: project.target.database.clone(),
        vars: project.vars.clone(),
        package_vars: project.package_vars.clone(),
        docs: project.docs.clone(),
        macros,
        namespaces,
        root_project: project.name.clone(),
        dispatch: project.dispatch.iter().map(|d| (d.macro_namespace.clone(), d.search_order.clone())).collect(),
        introspection: Arc::new(introspection),
        graph: OnceLock::new(),
        environment: OnceLock::new(),
    }
}

/// One `{% macro %}` (or `{% test %}`, as `test_<name>`) of the project's macro files.
pub struct MacroDefinition<'a> {
    /// The project or package it belongs to.
    pub package: &'a str,
    pub name: String,
    pub path: &'a Path,
    /// The definition's text, from `{% macro` to `{% endmacro %}`.
    pub sql: String,
}

/// Every macro the project's own macro files and its packages' define, the
/// project's first, in file order.
pub fn macro_definitions(project: &Project) -> Vec<MacroDefinition<'_>> {
    let files: Vec<_> = macro_files(project).zip(scanned_macro_files(project)).collect();
    files
        .par_iter()
        .flat_map_iter(|&((package, file), scan)| {
            scan.spans.iter().map(move |(name, &(start, end))| MacroDefinition {
                package,
                name: name.clone(),
                path: &file.path,
                sql: scan.text[start..end].to_string(),
            })
        })
        .collect()
}

/// Each file of [`macro_files`], in that order, as templates read it: found
/// once per invocation, the files in parallel (packages bring hundreds).
pub fn scanned_macro_files(project: &Project) -> &[MacroScan] {
    project.macro_scan.get_or_init(|| {
        let files: Vec<_> = macro_files(project).collect();
        files
            .par_iter()
            .map(|(_, file)| {
                let text = rewrite_test_blocks(&file.text);
                let spans = macro_spans(&text);
                MacroScan { text: Arc::from(text), spans }
            })
            .collect()
    })
}

/// The project's macro files, then each package's, with the name of the
/// project or package each belongs to.
pub fn macro_files(project: &Project) -> impl Iterator<Item = (&str, &crate::project::SourceFile)> {
    let root = project.macros.iter().map(|file| (project.name.as_str(), file));
    let packages = project.packages.iter().flat_map(|package| package.macros.iter().map(|file| (package.name.as_str(), file)));
    root.chain(packages)
}

/// The names a macro file defines.
fn exported(state: &minijinja::State<'_, '_>) -> Vec<String> {
    state.exports().into_iter().map(str::to_string).collect()
}

/// The byte span of each `{% macro name(...) %}...{% endmacro %}` of a file.
/// Read by hand from each `{%`: packages bring thousands of macros, and this
/// runs on every invocation.
fn macro_spans(text: &str) -> MacroSpans {
    // What follows `{%`, `{%-` and the keyword at `at`, if the tag there is `keyword`.
    fn tag<'t>(text: &'t str, at: usize, keyword: &str) -> Option<&'t str> {
        let rest = text[at + 2..].strip_prefix('-').unwrap_or(&text[at + 2..]).trim_start().strip_prefix(keyword)?;
        (!rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')).then_some(rest)
    }
    let mut spans = BTreeMap::new();
    let tags: Vec<usize> = text.match_indices("{%").map(|(at, _)| at).collect();
    let mut next = 0;
    while let Some(&start) = tags.get(next) {
        next += 1;
        let Some(rest) = tag(text, start, "macro").filter(|rest| rest.starts_with(char::is_whitespace)) else { continue };
        let rest = rest.trim_start();
        let length = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
        let name = &rest[..length];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) || !rest[length..].trim_start().starts_with('(') {
            continue;
        }
        // The first `{% endmacro %}` after it.
        let end = tags[next..].iter().enumerate().find_map(|(skip, &at)| {
            let rest = tag(text, at, "endmacro")?;
            let close = rest.find('%').filter(|&close| rest[close + 1..].starts_with('}'))?;
            Some((next + skip, text.len() - rest.len() + close + 2))
        });
        if let Some((end_tag, end)) = end {
            spans.insert(name.to_string(), (start, end));
            next = end_tag + 1;
        }
    }
    spans
}

/// A macro template compiled on first call: its file's text, the span of
/// the macro (none: the whole file), and whether the text is still to be
/// rewritten (mutable literals, catch-all `kwargs`) before it compiles.
type LazyTemplate = (Arc<str>, Option<(usize, usize)>, bool);

/// Whether a macro file holds nothing but its macros (and comments and
/// whitespace): then each macro can be a template of its own.
fn only_macros(text: &str, spans: &MacroSpans) -> bool {
    let mut ordered: Vec<(usize, usize)> = spans.values().copied().collect();
    ordered.sort_unstable();
    let mut at = 0;
    for (start, end) in ordered.into_iter().chain(std::iter::once((text.len(), text.len()))) {
        let between = text.get(at..start).unwrap_or_default();
        if between.contains("{%") || between.contains("{{") {
            return false;
        }
        at = at.max(end);
    }
    true
}

/// `text` with everything outside `start..end` blanked to spaces (newlines
/// kept), so lines and columns in errors stay those of the file.
fn blank_outside(text: &str, start: usize, end: usize) -> String {
    let blank = |part: &str| part.chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect::<String>();
    format!("{}{}", blank(&text[..start]), &text[start..end])
}

/// A macro whose body reads `kwargs` takes any keyword argument, as in
/// Jinja2: it gets a `kwargs={}` parameter, which [`context::MacroRef`]
/// fills with the keyword arguments the macro does not declare.
fn catch_all_kwargs(text: &str) -> Cow<'_, str> {
    static KWARGS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bkwargs\b").unwrap_or_else(|_| unreachable!()));
    if !KWARGS.is_match(text) {
        return Cow::Borrowed(text);
    }
    let spans = macro_spans(text);
    let mut inserts: Vec<usize> = Vec::new();
    for &(start, end) in spans.values() {
        let Some(open) = text[start..end].find('(').map(|i| start + i) else { continue };
        let Some(close) = matching_paren(text, open) else { continue };
        if !KWARGS.is_match(&text[open..close]) && KWARGS.is_match(&text[close..end]) {
            inserts.push(close);
        }
    }
    if inserts.is_empty() {
        return Cow::Borrowed(text);
    }
    inserts.sort_unstable();
    let mut out = String::with_capacity(text.len() + 16 * inserts.len());
    let mut at = 0;
    for close in inserts {
        out.push_str(&text[at..close]);
        let empty = text[..close].trim_end().ends_with('(');
        out.push_str(if empty { "kwargs={}" } else { ", kwargs={}" });
        at = close;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// The offset of the `)` closing the `(` at `open`, strings skipped.
fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote = None;
    for (i, c) in text[open..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `{% test name(args) %}...{% endtest %}` defines the generic test `name`; dbt
/// stores it as the macro `test_name`, and so does strata. Offsets of lines stay
/// the same, so errors still point at the right line.
fn rewrite_test_blocks(text: &str) -> String {
    static TEST_START: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\{%(-?)\s*test\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(").unwrap_or_else(|_| unreachable!()));
    static TEST_END: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{%(-?)\s*endtest\s*(-?)%\}").unwrap_or_else(|_| unreachable!()));
    if !text.contains("test") {
        return text.to_string();
    }
    let text = TEST_START.replace_all(text, "{%$1 macro test_$2(");
    TEST_END.replace_all(&text, "{%$1 endmacro $2%}").into_owned()
}

/// `target` in templates: every field of the output but its secrets.
fn target_context(project: &Project) -> serde_json::Value {
    let target = &project.target;
    let mut fields = serde_json::Map::new();
    for (key, value) in &target.fields {
        if !crate::project::profile::is_secret_field(key) {
            fields.insert(key.clone(), value.clone());
        }
    }
    fields.insert("name".into(), target.name.clone().into());
    fields.insert("target_name".into(), target.name.clone().into());
    fields.insert("type".into(), target.kind.name().into());
    fields.insert("schema".into(), target.schema.clone().into());
    fields.insert("profile_name".into(), target.profile_name.clone().into());
    fields.insert("threads".into(), target.threads.unwrap_or(4).into());
    if let Some(database) = &target.database {
        fields.insert("database".into(), database.clone().into());
    }
    for (alias, value) in target.kind.adapter().target_aliases(target) {
        fields.insert(alias.into(), value.into());
    }
    serde_json::Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::LoadOptions;

    /// A target no test here asks anything of.
    pub(super) fn unreachable_target() -> introspect::Introspection {
        introspect::Introspection::new(|| Err("these tests open no warehouse".into()))
    }

    pub(super) fn project_with_macros(dir: &Path, macros: &str) -> Project {
        let files = [
            ("dbt_project.yml", "name: shop\nprofile: shop\n"),
            ("profiles.yml", "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: dev.duckdb\n      schema: main\n"),
            ("macros/m.sql", macros),
        ];
        for (path, text) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        let options = LoadOptions { project_dir: dir.to_path_buf(), ..LoadOptions::default() };
        Project::load(&options).expect("project loads")
    }

    pub(super) fn render(templates: &Templates, text: &str) -> String {
        let mut scope = Scope::new("model `m`".into(), Mode::Compile, Default::default());
        templates.render_str("m", text, &mut scope).expect("renders")
    }

    // A file whose macros share a top-level `set` is one template for all of
    // them; each call still reaches its own macro.
    #[test]
    fn macros_sharing_a_template_are_told_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let macros = "{% set sep = '-' %}{% macro a() %}a{{ sep }}{% endmacro %}{% macro b() %}b{{ sep }}{% endmacro %}\n";
        let project = project_with_macros(dir.path(), macros);
        let date = ExecutionDate::parse("2026-11-01", "--date").expect("date");
        let templates = Templates::new(&project, date, Utc::now(), unreachable_target()).expect("templates");
        assert_eq!(render(&templates, "{{ a() }}{{ b() }}{{ a() }}"), "a-b-a-");
    }

    #[test]
    fn macro_spans_run_from_macro_to_endmacro() {
        let text = "{% set x = 1 %}\n{%- macro a(x) -%}{% if x %}1{% endif %}{%- endmacro -%}\n{% macro  b2 (y=')') %}b{% endmacro b2 %}\n{% macros c() %}{% endmacro %}{% macro d() %}never closed";
        let spans: Vec<(String, &str)> = macro_spans(text).into_iter().map(|(name, (start, end))| (name, &text[start..end])).collect();
        assert_eq!(
            spans,
            [
                ("a".to_string(), "{%- macro a(x) -%}{% if x %}1{% endif %}{%- endmacro -%}"),
                ("b2".to_string(), "{% macro  b2 (y=')') %}b{% endmacro b2 %}")
            ]
        );
    }

    // Macro templates are evaluated once per thread, environment and date;
    // one environment renders every date of a backfill on the same worker
    // threads, and each date must see its own.
    #[test]
    fn each_date_calls_its_own_macros() {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = project_with_macros(dir.path(), "{% set prefix = 'day ' ~ ds_nodash %}{% macro day() %}{{ prefix }} {{ ds }}{% endmacro %}\n");
        let first = ExecutionDate::parse("2026-11-01", "--date").expect("date");
        let templates = Templates::new(&project, first, Utc::now(), unreachable_target()).expect("templates");
        for day in ["2026-11-01", "2026-11-02", "2026-11-01"] {
            let date = ExecutionDate::parse(day, "--date").expect("date");
            let for_date = templates.for_date(date);
            assert_eq!(render(&for_date, "{{ day() }} {{ ds }}"), format!("day {} {day} {day}", date.ds_nodash()));
        }
        let other = Templates::new(&project, first, Utc::now(), unreachable_target()).expect("templates");
        assert_eq!(render(&other, "{{ day() }}"), "day 20261101 2026-11-01");
    }
}

#[cfg(test)]
mod kwargs_tests {
    use super::*;

    // dbt_utils' `test_not_null_proportion` passes `**kwargs` on to a macro that reads them.
    #[test]
    fn macros_that_read_kwargs_take_any_keyword_argument() {
        let dir = tempfile::tempdir().expect("tempdir");
        let macros = "{% macro outer(model) %}{{ return(inner(model, **kwargs)) }}{% endmacro %}\
                      {% macro inner(model) %}{{ model }}:{{ kwargs.get('at_least', 'none') }}{% endmacro %}\n";
        let project = tests::project_with_macros(dir.path(), macros);
        let date = ExecutionDate::parse("2026-11-01", "--date").expect("date");
        let templates = Templates::new(&project, date, Utc::now(), tests::unreachable_target()).expect("templates");
        assert_eq!(tests::render(&templates, "{{ outer('m', at_least=0.5) }} {{ inner('n') }}"), "m:0.5 n:none");
    }
}
