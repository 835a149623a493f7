//! The Jinja ground every template stands on: the environment's settings,
//! `env_var()` (which `profiles.yml` uses before any project is loaded), and
//! turning a minijinja error into a located diagnostic.

use std::path::Path;

use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};

use crate::core::diagnostic::{Diagnostic, Location};

/// The name strata's built-in macros are registered under.
pub const BUILTINS_NAME: &str = "strata/builtins.sql";
/// Where every built-in macro file is named: strata's and each warehouse's.
pub const BUILTINS_FOLDER: &str = "strata/";

pub fn new_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env
}

/// `env_var('NAME', 'default')`, for templates and `profiles.yml` alike.
pub fn env_var(name: String, default: Option<Value>) -> Result<Value, Error> {
    match std::env::var(&name) {
        Ok(value) => Ok(Value::from(value)),
        Err(_) => match default {
            Some(default) => Ok(default),
            None => Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("environment variable `{name}` is not set and `env_var('{name}')` has no default"),
            )),
        },
    }
}

/// Renders the `env_var()` calls of a YAML file such as `profiles.yml`.
pub fn render_env_vars(file: &Path, source: &str) -> Result<String, Diagnostic> {
    if !source.contains("{{") && !source.contains("{%") {
        return Ok(source.to_string());
    }
    let mut env = new_environment();
    env.add_function("env_var", env_var);
    let name = file.to_string_lossy();
    env.template_from_named_str(&name, source)
        .and_then(|template| template.render(()))
        .map_err(|err| jinja_diagnostic(&err, &env, Some((&name, source))))
}

pub fn jinja_diagnostic(err: &Error, env: &Environment<'_>, source: Option<(&str, &str)>) -> Diagnostic {
    let message = match (err.kind(), err.detail()) {
        // strata's own template functions word their errors fully.
        (minijinja::ErrorKind::InvalidOperation, Some(detail)) => detail.to_string(),
        (kind, Some(detail)) => format!("{kind}: {detail}"),
        (kind, None) => kind.to_string(),
    };
    let Some(template_name) = err.name() else {
        return Diagnostic::new(message);
    };
    // A macro's own template is named `<file>#<macro>`.
    let name = template_name.split('#').next().unwrap_or(template_name);
    let text = match source {
        Some((source_name, text)) if source_name == name => Some(text.to_string()),
        _ => env.get_template(name).or_else(|_| env.get_template(template_name)).ok().map(|t| t.source().to_string()),
    };
    let path = Path::new(name);
    let location = match (text, err.line()) {
        (Some(text), Some(line)) => match err.range() {
            Some(range) if range.start < text.len() => {
                let location = Location::at_offset(path, &text, range.start, range.end.saturating_sub(range.start));
                // A range that starts on another line than the error's is a block's span; point at the line.
                if location.line == line { location } else { Location::in_source(path, &text, line, None) }
            }
            _ => Location::in_source(path, &text, line, None),
        },
        (_, Some(line)) => Location { line, ..Location::file(path) },
        _ => Location::file(path),
    };
    let mut diagnostic = Diagnostic::new(message).at(location);
    if let Some((source_name, _)) = source
        && source_name != name
    {
        diagnostic = diagnostic.note(format!("while rendering `{source_name}`"));
    }
    if name.starts_with(BUILTINS_FOLDER) {
        diagnostic = diagnostic.note("raised inside one of strata's built-in macros");
    }
    diagnostic
}
