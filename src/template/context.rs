//! The names every template sees: `ref`, `source`, `config`, `this`, `var`,
//! `env_var`, `target`, the date variables, `adapter`, `exceptions`, `return`,
//! and every macro of the project. They are environment globals, so macros see
//! them too; what differs per model comes from the thread's [`scope`].

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, NaiveDate, Utc};
use minijinja::value::{Kwargs, Object, Rest, Value, from_args};
use minijinja::{Environment, Error, ErrorKind, State};
use serde_json::Value as Json;

use crate::FastMap;
use crate::core::dates::ExecutionDate;
use crate::core::relation::{QuoteStyle, Relation};
use crate::project::TargetKind;
use crate::project::config::merge_key;
use crate::template::relation::{EmptyInput, PendingRelation};
use crate::template::scope::{self, Mode, RefCall};

/// What the globals need to know about the project and the run.
#[derive(Debug)]
pub struct Globals {
    pub target_kind: TargetKind,
    /// How the target's SQL quotes names.
    pub quote: QuoteStyle,
    pub target_schema: String,
    pub target_database: Option<String>,
    pub vars: serde_json::Map<String, Json>,
    pub docs: BTreeMap<String, String>,
    /// Macro name → the template that defines it.
    pub macros: BTreeMap<String, String>,
    /// Built-in macro name → its template (reachable as `dbt.name`).
    pub builtin_macros: BTreeMap<String, String>,
    /// The environment these globals are registered in, once it is built.
    pub environment: OnceLock<&'static Environment<'static>>,
}

impl Globals {
    pub fn quote(&self) -> QuoteStyle {
        self.quote
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// Registers every global on `env`.
pub fn register(env: &mut Environment<'static>, globals: &Arc<Globals>, run_started_at: DateTime<Utc>) {
    let g = globals.clone();
    env.add_function("ref", move |args: Rest<Value>| -> Result<Value, Error> {
        let strings: Vec<String> = args.iter().filter(|a| !a.is_kwargs()).map(|a| a.to_string()).collect();
        let (package, name) = match strings.as_slice() {
            [name] => (None, name.clone()),
            [package, name] => (Some(package.clone()), name.clone()),
            _ => return Err(invalid("`ref()` takes a model name, or a package and a model name")),
        };
        scope::current(|scope| {
            let Some(scope) = scope else { return Err(invalid("`ref()` can only be used while rendering a model")) };
            scope.refs.push(RefCall { package: package.clone(), name: name.clone() });
            match (&scope.resolver, scope.mode) {
                (Some(resolver), Mode::Compile) => {
                    let relation = resolver.resolve_ref(package.as_deref(), &name).map_err(invalid)?;
                    Ok(if resolver.empty_inputs() { Value::from_object(EmptyInput(relation)) } else { Value::from_object(relation) })
                }
                _ => Ok(Value::from_object(PendingRelation {
                    placeholder: scope::placeholder(Some(scope.refs.len() - 1)),
                    guess: Relation::new(g.target_database.clone(), g.target_schema.clone(), name, g.quote()),
                })),
            }
        })
    });

    let g = globals.clone();
    env.add_function("source", move |source_name: String, table_name: String| -> Result<Value, Error> {
        scope::current(|scope| {
            let Some(scope) = scope else { return Err(invalid("`source()` can only be used while rendering a model")) };
            scope.sources.push((source_name.clone(), table_name.clone()));
            // Sources are known before models are parsed, so both modes resolve them.
            let relation = match &scope.resolver {
                Some(resolver) if resolver.empty_inputs() => {
                    return Ok(Value::from_object(EmptyInput(resolver.resolve_source(&source_name, &table_name).map_err(invalid)?)));
                }
                Some(resolver) => resolver.resolve_source(&source_name, &table_name).map_err(invalid)?,
                None => {
                    scope.exact = false;
                    Relation::new(None, source_name, table_name, g.quote())
                }
            };
            Ok(Value::from_object(relation))
        })
    });

    let g = globals.clone();
    env.add_function("var", move |name: String, default: Option<Value>| -> Result<Value, Error> {
        if let Some(value) = g.vars.get(&name) {
            return Ok(json_to_value(value));
        }
        if let Some(default) = default {
            return Ok(default);
        }
        let node = scope::current(|scope| scope.map(|s| s.node.clone())).unwrap_or_else(|| "a macro".into());
        Err(invalid(format!(
            "required var `{name}` (used by {node}) is not set; set it under `vars:` in `dbt_project.yml` or pass `--vars '{{{name}: ...}}'`"
        )))
    });

    env.add_function("env_var", crate::core::jinja::env_var);
    // A text as the target's SQL reads a string literal: BigQuery escapes a
    // quote with a backslash (`'it\'s'`; `''` is two adjacent literals there),
    // DuckDB doubles it (`'it''s'`).
    let target_kind = globals.target_kind;
    env.add_function("string_literal", move |value: Value| crate::warehouse::dialect(target_kind).string_literal(&value.to_string()));

    env.add_global("config", Value::from_object(ConfigObject));
    env.add_global("this", Value::from_object(ThisObject { globals: globals.clone() }));
    env.add_function("is_incremental", || scope::current(|scope| scope.is_some_and(|s| s.is_incremental)));

    let g = globals.clone();
    env.add_function("doc", move |name: String| -> Result<Value, Error> {
        g.docs
            .get(&name)
            .map(|text| Value::from(text.as_str()))
            .ok_or_else(|| invalid(format!("`doc('{name}')` names no `{{% docs {name} %}}` block")))
    });

    env.add_function("log", |message: Value, kwargs: Kwargs| -> Result<String, Error> {
        let info: bool = kwargs.get::<Option<bool>>("info")?.unwrap_or(false);
        let compiling = scope::current(|scope| scope.is_none_or(|s| s.mode == Mode::Compile));
        if info && compiling {
            eprintln!("{} {message}", Utc::now().format("%H:%M:%S"));
        }
        Ok(String::new())
    });

    env.add_function("return", |value: Option<Value>| -> Result<String, Error> {
        let stored = scope::current(|scope| match scope.and_then(|s| s.returns.last_mut()) {
            Some(slot) => {
                *slot = Some(value.unwrap_or(Value::from(())));
                true
            }
            None => false,
        });
        if stored {
            // Unwinds the macro; `MacroRef::call` hands the stored value to the caller.
            Err(Error::new(ErrorKind::InvalidOperation, RETURN_MARKER))
        } else {
            Err(invalid("`return()` can only be used inside a macro"))
        }
    });

    env.add_function("tojson", |value: Value| -> Result<String, Error> {
        serde_json::to_string(&value).map_err(|err| invalid(format!("`tojson()`: {err}")))
    });
    env.add_function("fromjson", |text: String| -> Result<Value, Error> {
        serde_json::from_str::<Json>(&text).map(|json| json_to_value(&json)).map_err(|err| invalid(format!("`fromjson()`: {err}")))
    });

    env.add_global("exceptions", Value::from_object(Exceptions));
    env.add_global("adapter", Value::from_object(Adapter { globals: globals.clone() }));
    env.add_global("dbt", Value::from_object(BuiltinNamespace { globals: globals.clone() }));
    env.add_global("run_started_at", Value::from_object(DateValue::Timestamp(run_started_at)));

    env.add_global("macros", Value::from_object(AirflowMacros));

    for (name, template) in globals.macros.iter() {
        env.add_global(name.clone(), Value::from_object(MacroRef::new(globals, name, template)));
    }
}

/// Airflow's names for the execution date: the context every template and
/// macro of one date renders with. They are not globals, so one environment
/// serves every date of a backfill.
pub fn date_context(date: ExecutionDate) -> Value {
    Value::from_iter([
        ("execution_date", Value::from_object(DateValue::Date(date.date()))),
        ("ds", Value::from(date.ds())),
        ("ds_nodash", Value::from(date.ds_nodash())),
        ("prev_ds", Value::from(date.add_days(-1).ds())),
        ("next_ds", Value::from(date.add_days(1).ds())),
        ("yesterday_ds", Value::from(date.add_days(-1).ds())),
        ("tomorrow_ds", Value::from(date.add_days(1).ds())),
        ("data_interval_start", Value::from_object(DateValue::midnight(date.date()))),
        ("data_interval_end", Value::from_object(DateValue::midnight(date.add_days(1).date()))),
    ])
}

/// A JSON value as a template value; whole numbers become signed integers, so
/// `-var('days')` works as in Python.
pub fn json_to_value(value: &Json) -> Value {
    match value {
        Json::Number(number) => match number.as_i64() {
            Some(int) => Value::from(int),
            None => Value::from(number.as_f64().unwrap_or(f64::NAN)),
        },
        Json::Array(items) => Value::from(items.iter().map(json_to_value).collect::<Vec<_>>()),
        Json::Object(entries) => Value::from_iter(entries.iter().map(|(k, v)| (k.clone(), json_to_value(v)))),
        other => Value::from_serialize(other),
    }
}

/// What `return()` unwinds a macro with.
pub const RETURN_MARKER: &str = "strata:return";

/// A project or built-in macro, callable from any template without an import.
#[derive(Debug)]
pub struct MacroRef {
    pub name: String,
    pub template: String,
    globals: Arc<Globals>,
}

thread_local! {
    /// The macro templates this thread has evaluated (the state a macro is
    /// called in) for one environment (the address of its globals, which live
    /// as long as the environment: for the whole process) and one execution
    /// date, by template. Evaluating a macro's template on every call cost
    /// more than the call. A backfill's dates come one after another, so the
    /// modules of the date before are dropped when the next one begins.
    static MODULES: RefCell<Modules> = RefCell::default();
    /// The date context of the render in progress on this thread.
    static DATE: RefCell<Option<(ExecutionDate, Value)>> = const { RefCell::new(None) };
}

#[derive(Default)]
struct Modules {
    key: Option<(usize, ExecutionDate)>,
    templates: FastMap<String, Rc<minijinja::Captured<'static>>>,
}

/// Runs `render` with `date` as the date its templates and macros see.
pub fn with_date<T>(date: ExecutionDate, context: &Value, render: impl FnOnce() -> T) -> T {
    let previous = DATE.with(|slot| slot.borrow_mut().replace((date, context.clone())));
    let result = render();
    DATE.with(|slot| *slot.borrow_mut() = previous);
    result
}

impl MacroRef {
    pub fn new(globals: &Arc<Globals>, name: &str, template: &str) -> MacroRef {
        MacroRef { name: name.to_string(), template: template.to_string(), globals: Arc::clone(globals) }
    }

    /// This macro's template, evaluated for the current date, from this
    /// thread's cache. A template may define several macros (a file with
    /// top-level `set`s is one template).
    fn module(&self) -> Result<Rc<minijinja::Captured<'static>>, Error> {
        let Some((date, context)) = DATE.with(|slot| slot.borrow().clone()) else {
            return Err(invalid("macros are called while a template renders for an execution date"));
        };
        let key = (Arc::as_ptr(&self.globals) as usize, date);
        let cached = MODULES.with(|modules| {
            let mut modules = modules.borrow_mut();
            if modules.key != Some(key) {
                modules.key = Some(key);
                modules.templates.clear();
            }
            modules.templates.get(&self.template).cloned()
        });
        if let Some(module) = cached {
            return Ok(module);
        }
        let Some(env) = self.globals.environment.get() else {
            return Err(invalid("macros are called once the template environment is built"));
        };
        let module = Rc::new(env.get_template(&self.template)?.render_captured(context)?);
        MODULES.with(|modules| {
            modules.borrow_mut().templates.insert(self.template.clone(), Rc::clone(&module));
        });
        Ok(module)
    }

    /// Calls the macro in its own template's state (so no caller state is needed).
    pub fn invoke(&self, args: &[Value]) -> Result<Value, Error> {
        let module = self.module()?;
        let Some(function) = module.state().lookup(&self.name) else {
            return Err(invalid(format!("macro `{}` is not defined in `{}`", self.name, self.template)));
        };
        scope::current(|scope| scope.map(|s| s.returns.push(None)));
        let result = function.call(module.state(), args);
        let returned = scope::current(|scope| scope.and_then(|s| s.returns.pop()).flatten());
        match (result, returned) {
            (_, Some(value)) => Ok(value),
            (Ok(output), None) => Ok(output),
            (Err(err), None) => Err(err),
        }
    }
}

impl Object for MacroRef {
    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        self.invoke(args)
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<macro {}>", self.name)
    }
}

/// `config(...)` records config; `config.get('key', default)` reads it.
#[derive(Debug)]
struct ConfigObject;

impl Object for ConfigObject {
    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let mut entries = Vec::new();
        for arg in args {
            if let Ok(kwargs) = Kwargs::try_from(arg.clone()) {
                for key in kwargs.args() {
                    entries.push((key.to_string(), kwargs.get::<Value>(key)?));
                }
            } else if arg.kind() == minijinja::value::ValueKind::Map {
                for key in arg.try_iter()? {
                    let value = arg.get_item(&key)?;
                    entries.push((key.to_string(), value));
                }
            } else {
                return Err(invalid("`config()` takes keyword arguments, e.g. `config(materialized='table')`"));
            }
        }
        scope::current(|scope| {
            if let Some(scope) = scope {
                for (key, value) in entries {
                    let json = serde_json::to_value(&value).map_err(|err| invalid(format!("`config({key}=...)`: {err}")))?;
                    merge_key(&mut scope.config, &key, &json);
                }
            }
            Ok(Value::from(""))
        })
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (key, default): (String, Option<Value>) = from_args(args)?;
        let value = scope::current(|scope| {
            let scope = scope?;
            // While parsing, config set later in the template is not known yet.
            if scope.mode == Mode::Parse {
                scope.exact = false;
            }
            scope.merged_config().get(&crate::project::config::normalize_key(&key)).cloned()
        });
        match (method, value) {
            ("get", Some(value)) | ("require", Some(value)) => Ok(json_to_value(&value)),
            ("get", None) => Ok(default.unwrap_or(Value::from(()))),
            ("require", None) => Err(invalid(format!("config `{key}` is required here and is not set"))),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `this`: the relation of the node being rendered.
#[derive(Debug)]
struct ThisObject {
    globals: Arc<Globals>,
}

impl ThisObject {
    fn relation(&self) -> Relation {
        scope::current(|scope| scope.and_then(|s| s.this.clone()))
            .unwrap_or_else(|| Relation::new(None, self.globals.target_schema.clone(), "", self.globals.quote()))
    }

    fn parsing() -> bool {
        scope::current(|scope| scope.is_some_and(|s| s.mode == Mode::Parse))
    }
}

impl Object for ThisObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if ThisObject::parsing() {
            scope::mark_inexact();
        }
        Arc::new(self.relation()).get_value(key)
    }

    fn call_method(self: &Arc<Self>, state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        if ThisObject::parsing() {
            scope::mark_inexact();
        }
        Arc::new(self.relation()).call_method(state, method, args)
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if ThisObject::parsing() {
            return f.write_str(&scope::placeholder(None));
        }
        fmt::Display::fmt(&self.relation(), f)
    }
}

#[derive(Debug)]
struct Exceptions;

impl Object for Exceptions {
    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (message,): (String,) = from_args(args)?;
        match method {
            "raise_compiler_error" => Err(invalid(message)),
            "warn" if crate::warnings::is_error("JinjaLogWarning") => {
                Err(invalid(format!("{message} ({})", crate::warnings::failed_by("JinjaLogWarning"))))
            }
            "warn" => {
                eprintln!("warning: {message}");
                Ok(Value::from(""))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `adapter.dispatch('name', 'namespace')` and a few helpers.
#[derive(Debug)]
struct Adapter {
    globals: Arc<Globals>,
}

impl Object for Adapter {
    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "dispatch" => {
                let (name, _namespace, _kwargs): (String, Option<String>, Kwargs) = from_args(args)?;
                let adapter = self.globals.target_kind.name();
                for candidate in [format!("{adapter}__{name}"), format!("default__{name}")] {
                    if let Some(template) = self.globals.macros.get(&candidate) {
                        return Ok(Value::from_object(MacroRef::new(&self.globals, &candidate, template)));
                    }
                }
                Err(invalid(format!("`adapter.dispatch('{name}')` found neither `{adapter}__{name}` nor `default__{name}`")))
            }
            "type" => Ok(Value::from(self.globals.target_kind.name())),
            "quote" => {
                let (name,): (String,) = from_args(args)?;
                Ok(Value::from(self.globals.quote().quote(&name)))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `dbt.dateadd(...)` and the other built-in macros by their namespaced name.
#[derive(Debug)]
struct BuiltinNamespace {
    globals: Arc<Globals>,
}

impl Object for BuiltinNamespace {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        let template = self.globals.builtin_macros.get(name)?;
        Some(Value::from_object(MacroRef::new(&self.globals, name, template)))
    }
}

/// Airflow's `macros.ds_add(ds, days)` and `macros.ds_format(ds, in, out)`.
#[derive(Debug)]
struct AirflowMacros;

impl Object for AirflowMacros {
    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "ds_add" => {
                let (ds, days): (String, i64) = from_args(args)?;
                let date = ExecutionDate::parse(&ds, "macros.ds_add").map_err(|d| invalid(d.message))?;
                Ok(Value::from(date.add_days(days).ds()))
            }
            "ds_format" => {
                let (ds, input, output): (String, String, String) = from_args(args)?;
                let date = NaiveDate::parse_from_str(&ds, &input).map_err(|err| invalid(format!("`macros.ds_format('{ds}', '{input}')`: {err}")))?;
                Ok(Value::from(date.format(&output).to_string()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A date or a timestamp, with Python's `strftime` and `isoformat`.
#[derive(Debug, Clone)]
pub enum DateValue {
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
}

impl DateValue {
    fn midnight(date: NaiveDate) -> DateValue {
        DateValue::Timestamp(date.and_time(chrono::NaiveTime::MIN).and_utc())
    }

    fn iso(&self) -> String {
        match self {
            DateValue::Date(date) => date.format("%Y-%m-%d").to_string(),
            DateValue::Timestamp(ts) => ts.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        }
    }

    fn strftime(&self, format: &str) -> Result<String, Error> {
        use std::fmt::Write;
        let mut out = String::new();
        let written = match self {
            DateValue::Date(date) => write!(out, "{}", date.format(format)),
            DateValue::Timestamp(ts) => write!(out, "{}", ts.format(format)),
        };
        written.map_err(|_| invalid(format!("`strftime('{format}')`: unsupported format")))?;
        Ok(out)
    }
}

impl Object for DateValue {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        use chrono::{Datelike, Timelike};
        let (date, time) = match &**self {
            DateValue::Date(date) => (*date, None),
            DateValue::Timestamp(ts) => (ts.date_naive(), Some(ts.time())),
        };
        Some(match key.as_str()? {
            "year" => Value::from(date.year()),
            "month" => Value::from(date.month()),
            "day" => Value::from(date.day()),
            "hour" => Value::from(time.map_or(0, |t| t.hour())),
            "minute" => Value::from(time.map_or(0, |t| t.minute())),
            "second" => Value::from(time.map_or(0, |t| t.second())),
            _ => return None,
        })
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (format,): (String,) = from_args(args)?;
                Ok(Value::from(self.strftime(&format)?))
            }
            "isoformat" => Ok(Value::from(self.iso())),
            "date" => Ok(Value::from_object(match &**self {
                DateValue::Date(date) => DateValue::Date(*date),
                DateValue::Timestamp(ts) => DateValue::Date(ts.date_naive()),
            })),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso())
    }
}
