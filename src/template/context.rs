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

use crate::core::dates::ExecutionDate;
use crate::core::hash::FastMap;
use crate::core::relation::{QuoteStyle, Relation};
use crate::project::TargetKind;
use crate::project::config::merge_key;
use crate::template::datetime::DateValue;
use crate::template::invalid;
use crate::template::relation::{FilteredInput, PendingRelation};
use crate::template::scope::{self, Mode, RefCall};

/// What the globals need to know about the project and the run.
#[derive(Debug)]
pub struct Globals {
    pub target_kind: TargetKind,
    /// How the target's SQL quotes names.
    pub quote: QuoteStyle,
    pub target_schema: String,
    pub target_database: Option<String>,
    /// The vars the root project's nodes see.
    pub vars: serde_json::Map<String, Json>,
    /// The vars each package's nodes see, by package.
    pub package_vars: BTreeMap<String, serde_json::Map<String, Json>>,
    pub docs: BTreeMap<String, String>,
    /// Macro name → the template that defines it: the root project's
    /// macros and the built-ins, callable without a namespace.
    pub macros: BTreeMap<String, String>,
    /// Namespace (`dbt`, the root project, each package) → its macros, by
    /// name → template: `dbt_utils.star(...)`.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub root_project: String,
    /// `dispatch:` of `dbt_project.yml`: macro namespace → search order.
    pub dispatch: BTreeMap<String, Vec<String>>,
    /// The target, for the introspective queries of templates.
    pub introspection: Arc<crate::template::introspect::Introspection>,
    /// `graph`: the parsed project, once parsed, when a template reads it.
    pub graph: OnceLock<Value>,
    /// The environment these globals are registered in, once it is built.
    pub environment: OnceLock<&'static Environment<'static>>,
}

impl Globals {
    pub fn quote(&self) -> QuoteStyle {
        self.quote
    }

    /// The macro `name` of `namespace`, or without one: the root project's,
    /// then the built-ins.
    pub fn find_macro(self: &Arc<Self>, namespace: Option<&str>, name: &str) -> Option<MacroRef> {
        let Some(namespace) = namespace else {
            return self.macros.get(name).map(|template| MacroRef::new(self, None, name, template));
        };
        let template = self.namespaces.get(namespace)?.get(name)?;
        Some(MacroRef::new(self, self.package_scope(namespace), name, template))
    }

    /// A generic test's macro (`test_<name>`): in `namespace` when the test
    /// names one (`dbt_utils.expression_is_true`); else the root project's,
    /// then any package's, then the built-ins, as dbt finds them.
    pub fn find_test(self: &Arc<Self>, namespace: Option<&str>, name: &str) -> Option<MacroRef> {
        let macro_name = format!("test_{name}");
        if namespace.is_some() {
            return self.find_macro(namespace, &macro_name);
        }
        let root = self.find_macro(Some(self.root_project.as_str()), &macro_name);
        let packages = || {
            self.namespaces
                .keys()
                .filter(|ns| **ns != self.root_project && *ns != crate::template::BUILTIN_NAMESPACE)
                .find_map(|ns| self.find_macro(Some(ns), &macro_name))
        };
        root.or_else(packages).or_else(|| self.find_macro(Some(crate::template::BUILTIN_NAMESPACE), &macro_name))
    }

    /// A relation from `(database, schema, identifier)` given by position or
    /// by name, as `api.Relation.create` and `adapter.get_relation` take them.
    fn relation_from_args(&self, args: &[Value]) -> Result<Relation, Error> {
        let (database, schema, identifier, kwargs): (Option<Value>, Option<Value>, Option<Value>, Kwargs) = from_args(args)?;
        let text = |positional: Option<Value>, key: &str| -> Result<Option<String>, Error> {
            let value = match positional {
                Some(value) => Some(value),
                None => kwargs.get::<Option<Value>>(key)?,
            };
            Ok(value.filter(|v| !v.is_none() && !v.is_undefined()).map(|v| v.to_string()))
        };
        let database = text(database, "database")?.or_else(|| self.target_database.clone());
        let schema = text(schema, "schema")?.unwrap_or_else(|| self.target_schema.clone());
        let identifier = text(identifier, "identifier")?.unwrap_or_default();
        for key in ["type", "quote_policy", "include_policy"] {
            let _: Option<Value> = kwargs.get(key)?;
        }
        Ok(Relation::new(database, schema, identifier, self.quote()))
    }

    /// The package whose own macros a macro of `namespace` sees unqualified;
    /// none for the root project and the built-ins, which are globals.
    fn package_scope(&self, namespace: &str) -> Option<Arc<str>> {
        (namespace != self.root_project && namespace != crate::template::BUILTIN_NAMESPACE).then(|| Arc::from(namespace))
    }
}

/// Registers every global on `env`.
pub fn register(env: &mut Environment<'static>, globals: &Arc<Globals>, run_started_at: DateTime<Utc>) {
    register_inputs(env, globals);
    register_var(env, globals);
    register_node_functions(env, globals);
    register_data_functions(env);
    register_objects(env, globals, run_started_at);
    for (name, template) in globals.macros.iter() {
        env.add_global(name.clone(), Value::from_object(MacroRef::new(globals, None, name, template)));
    }
}

/// `ref()` and `source()`: each call is recorded in the scope of the node
/// being rendered, and resolved to a relation when the scope can.
fn register_inputs(env: &mut Environment<'static>, globals: &Arc<Globals>) {
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
                    let from = scope.package.as_deref();
                    let relation = resolver.resolve_ref(from, package.as_deref(), &name).map_err(invalid)?;
                    Ok(input_rows(resolver.as_ref(), scope.batch.as_ref(), relation, || resolver.ref_event_time(from, package.as_deref(), &name)))
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
            match &scope.resolver {
                Some(resolver) => {
                    let relation = resolver.resolve_source(&source_name, &table_name).map_err(invalid)?;
                    Ok(input_rows(resolver.as_ref(), scope.batch.as_ref(), relation, || resolver.source_event_time(&source_name, &table_name)))
                }
                None => {
                    scope.exact = false;
                    Ok(Value::from_object(Relation::new(None, source_name, table_name, g.quote())))
                }
            }
        })
    });
}

/// `var()`: the scope's override, else the vars of the node's package (the
/// root project's for its own nodes), else the default; else an error.
fn register_var(env: &mut Environment<'static>, globals: &Arc<Globals>) {
    let g = globals.clone();
    env.add_function("var", move |name: String, default: Option<Value>| -> Result<Value, Error> {
        let overridden = scope::current(|scope| scope.and_then(|s| s.vars.as_ref().and_then(|vars| vars.get(&name).cloned())));
        if let Some(value) = overridden {
            return Ok(json_to_value(&value));
        }
        let package = scope::current(|scope| scope.and_then(|s| s.package.clone()));
        let vars = package.and_then(|p| g.package_vars.get(&p)).unwrap_or(&g.vars);
        if let Some(value) = vars.get(&name) {
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
}

/// What templates call besides inputs and vars: `env_var`, `__string_literal`,
/// `config`, `this`, `is_incremental`, `doc`, `log` and `return`.
fn register_node_functions(env: &mut Environment<'static>, globals: &Arc<Globals>) {
    env.add_function("env_var", crate::core::jinja::env_var);
    // A text as the target's SQL reads a string literal: BigQuery escapes a
    // quote with a backslash (`'it\'s'`; `''` is two adjacent literals there),
    // DuckDB doubles it (`'it''s'`).
    let target_kind = globals.target_kind;
    env.add_function("__string_literal", move |value: Value| crate::warehouse::dialect(target_kind).string_literal(&value.to_string()));

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
}

/// The objects templates read: `execute`, `graph`, `model`, `flags`, the
/// modules, `api`, `exceptions`, `adapter`, each macro namespace,
/// `run_started_at` and Airflow's `macros`.
fn register_objects(env: &mut Environment<'static>, globals: &Arc<Globals>, run_started_at: DateTime<Utc>) {
    env.add_global("execute", Value::from_object(Execute));
    env.add_global("graph", Value::from_object(GraphObject { globals: globals.clone() }));
    env.add_global("model", Value::from_object(ModelObject));
    env.add_global("flags", Value::from_object(Flags::of_command_line()));
    crate::template::modules::register(env);
    crate::template::introspect::register(env, &globals.introspection);
    env.add_global("api", Value::from_object(Api { globals: globals.clone() }));
    env.add_global("exceptions", Value::from_object(Exceptions));
    env.add_global("adapter", Value::from_object(Adapter { globals: globals.clone() }));
    for namespace in globals.namespaces.keys() {
        env.add_global(namespace.clone(), Value::from_object(Namespace { globals: globals.clone(), name: namespace.clone() }));
    }
    env.add_global("run_started_at", Value::from_object(DateValue::Timestamp(run_started_at)));

    env.add_global("macros", Value::from_object(AirflowMacros));
}

/// An input (`ref()`, `source()`) as the node reads it: none of its rows
/// under `--empty`; only the batch's rows when the node is a microbatch model
/// and the input has an `event_time`; else all of them.
fn input_rows(
    resolver: &dyn crate::template::Resolve,
    batch: Option<&(String, String)>,
    relation: Relation,
    event_time: impl FnOnce() -> Option<String>,
) -> Value {
    if resolver.empty_inputs() {
        return Value::from_object(FilteredInput::empty(relation));
    }
    match (batch, batch.and_then(|_| event_time())) {
        (Some((start, end)), Some(column)) => Value::from_object(FilteredInput::batch(relation, &column, (start, end))),
        _ => Value::from_object(relation),
    }
}

/// Python's and dbt's functions over data: `tojson`/`fromjson`,
/// `fromyaml`/`toyaml`, `local_md5`, `print`, `zip`, `set`.
fn register_data_functions(env: &mut Environment<'static>) {
    env.add_function("tojson", |value: Value| -> Result<String, Error> {
        serde_json::to_string(&value).map_err(|err| invalid(format!("`tojson()`: {err}")))
    });
    env.add_function("fromjson", |text: String| -> Result<Value, Error> {
        serde_json::from_str::<Json>(&text).map(|json| json_to_value(&json)).map_err(|err| invalid(format!("`fromjson()`: {err}")))
    });

    env.add_function("fromyaml", |text: String| -> Result<Value, Error> {
        serde_norway::from_str::<Json>(&text).map(|json| json_to_value(&json)).map_err(|err| invalid(format!("`fromyaml()`: {err}")))
    });
    env.add_function("toyaml", |value: Value| -> Result<String, Error> {
        serde_norway::to_string(&value).map_err(|err| invalid(format!("`toyaml()`: {err}")))
    });
    env.add_function("local_md5", |text: String| format!("{:x}", md5::compute(text.as_bytes())));
    env.add_function("print", |value: Value| {
        eprintln!("{value}");
        String::new()
    });
    // Python's `zip(a, b, ...)`: tuples of the items at each position, as long as the shortest.
    env.add_function("zip", |lists: Rest<Value>| -> Result<Value, Error> {
        let lists: Vec<Vec<Value>> = lists.iter().map(|list| list.try_iter().map(Iterator::collect)).collect::<Result<_, _>>()?;
        let shortest = lists.iter().map(Vec::len).min().unwrap_or(0);
        Ok(Value::from((0..shortest).map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>())).collect::<Vec<_>>()))
    });
    // dbt's `set(items)`: here a list without repeats, in first-seen order.
    env.add_function("set", |items: Value| -> Result<Value, Error> {
        let mut unique: Vec<Value> = Vec::new();
        for item in items.try_iter()? {
            if !unique.contains(&item) {
                unique.push(item);
            }
        }
        Ok(Value::from(unique))
    });
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

/// A project, package or built-in macro, callable from any template without an import.
#[derive(Debug)]
pub struct MacroRef {
    pub name: String,
    pub template: String,
    /// The package that defines it, whose other macros it calls unqualified.
    package: Option<Arc<str>>,
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
    pub fn new(globals: &Arc<Globals>, package: Option<Arc<str>>, name: &str, template: &str) -> MacroRef {
        MacroRef { name: name.to_string(), template: template.to_string(), package, globals: Arc::clone(globals) }
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
        // A package's macros see its other macros first, as dbt's do.
        let context = match &self.package {
            Some(package) => minijinja::value::merge_maps([
                Value::from_object(Namespace { globals: Arc::clone(&self.globals), name: package.to_string() }),
                context,
            ]),
            None => context,
        };
        let module = Rc::new(env.get_template(&self.template)?.render_captured(context)?);
        MODULES.with(|modules| {
            modules.borrow_mut().templates.insert(self.template.clone(), Rc::clone(&module));
        });
        Ok(module)
    }

    /// Calls the macro in its own template's state (so no caller state is needed).
    pub fn invoke(&self, args: &[Value]) -> Result<Value, Error> {
        let overridden = scope::current(|scope| scope.and_then(|s| s.macros.as_ref().and_then(|macros| macros.get(&self.name).cloned())));
        if let Some(value) = overridden {
            return Ok(json_to_value(&value));
        }
        let module = self.module()?;
        let Some(function) = module.state().lookup(&self.name) else {
            return Err(invalid(format!("macro `{}` is not defined in `{}`", self.name, self.template)));
        };
        let args = with_catch_all_kwargs(&function, args);
        scope::current(|scope| scope.map(|s| s.returns.push(None)));
        let result = function.call(module.state(), &args);
        let returned = scope::current(|scope| scope.and_then(|s| s.returns.pop()).flatten());
        match (result, returned) {
            (_, Some(value)) => Ok(value),
            (Ok(output), None) => Ok(output),
            (Err(err), None) => Err(err),
        }
    }
}

/// `args` with the keyword arguments `function` does not declare gathered
/// into its `kwargs` parameter, when it has one (see `catch_all_kwargs`).
fn with_catch_all_kwargs<'a>(function: &Value, args: &'a [Value]) -> std::borrow::Cow<'a, [Value]> {
    let Some(Ok(kwargs)) = args.last().filter(|a| a.is_kwargs()).map(|a| Kwargs::try_from(a.clone())) else {
        return args.into();
    };
    let Ok(declared) = function.get_attr("arguments") else { return args.into() };
    let declared: Vec<String> = declared.try_iter().map(|names| names.map(|n| n.to_string()).collect()).unwrap_or_default();
    if !declared.iter().any(|n| n == "kwargs") {
        return args.into();
    }
    let (mut known, mut extra) = (Vec::new(), Vec::new());
    for key in kwargs.args() {
        let value = kwargs.peek::<Value>(key).unwrap_or_default();
        if declared.iter().any(|n| n == key) && key != "kwargs" { known.push((key.to_string(), value)) } else { extra.push((key.to_string(), value)) }
    }
    if extra.is_empty() {
        return args.into();
    }
    known.push(("kwargs".to_string(), Value::from_iter(extra)));
    let mut rewritten = args[..args.len() - 1].to_vec();
    rewritten.push(Value::from(Kwargs::from_iter(known)));
    rewritten.into()
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

/// `graph`: the manifest's `nodes`, `sources` and `exposures`, empty until
/// the project is parsed (dbt's is too, while it parses).
#[derive(Debug)]
struct GraphObject {
    globals: Arc<Globals>,
}

impl Object for GraphObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match self.globals.graph.get() {
            Some(graph) => graph.get_item(key).ok().filter(|v| !v.is_undefined()),
            None => Some(Value::from_iter(Vec::<(String, Value)>::new())),
        }
    }
}

/// `flags`: the invocation's command and switches, by dbt's names
/// (`flags.WHICH`, `flags.FULL_REFRESH`, `flags.EMPTY`, `flags.STORE_FAILURES`).
#[derive(Debug)]
struct Flags {
    which: String,
    switches: Vec<String>,
}

impl Flags {
    fn of_command_line() -> Flags {
        let args: Vec<String> = std::env::args().skip(1).collect();
        // The command is the first of strata's command names on the line.
        const COMMANDS: &[&str] = &[
            "build", "clean", "compile", "debug", "deps", "diff", "docs", "export", "graph", "ls", "refresh", "retry", "run", "seed", "show",
            "snapshot", "test",
        ];
        let which = args.iter().find(|a| COMMANDS.contains(&a.as_str())).cloned().unwrap_or_default();
        Flags { which, switches: args.into_iter().filter(|a| a.starts_with("--")).collect() }
    }
}

impl Object for Flags {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let switch = |name: &str| Value::from(self.switches.iter().any(|s| s == name));
        Some(match key.as_str()? {
            "WHICH" => Value::from(self.which.as_str()),
            "FULL_REFRESH" => switch("--full-refresh"),
            "EMPTY" => switch("--empty"),
            "STORE_FAILURES" => switch("--store-failures"),
            "WARN_ERROR" => switch("--warn-error"),
            "FAIL_FAST" => switch("--fail-fast"),
            _ => Value::from(()),
        })
    }
}

/// `model`: the node being compiled (empty while parsing).
#[derive(Debug)]
struct ModelObject;

impl Object for ModelObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        scope::current(|scope| {
            let scope = scope?;
            match &scope.model {
                Some(model) => model.get_item(key).ok().filter(|v| !v.is_undefined()),
                None => {
                    // While parsing: nothing yet, but `model.config.x` reads as undefined, not an error.
                    scope.exact = false;
                    Some(Value::from_iter(Vec::<(String, Value)>::new()))
                }
            }
        })
    }
}

/// `execute`: false while strata parses a model to learn its `ref()`s and
/// config (introspective queries are not run then), true when it compiles the
/// SQL that runs, as in dbt.
#[derive(Debug)]
struct Execute;

impl Object for Execute {
    fn is_true(self: &Arc<Self>) -> bool {
        let parsing = scope::current(|scope| scope.is_some_and(|s| s.mode == Mode::Parse));
        if parsing {
            // The parse render's SQL cannot stand for the compiled one.
            scope::mark_inexact();
        }
        !parsing
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_true() { "True" } else { "False" })
    }
}

#[derive(Debug)]
struct Exceptions;

impl Object for Exceptions {
    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (message,): (String,) = from_args(args)?;
        match method {
            "raise_compiler_error" => Err(invalid(message)),
            "warn" if crate::core::warnings::is_error("JinjaLogWarning") => {
                Err(invalid(format!("{message} ({})", crate::core::warnings::failed_by("JinjaLogWarning"))))
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
    fn call_method(self: &Arc<Self>, state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "dispatch" => {
                let (name, namespace, _kwargs): (String, Option<String>, Kwargs) = from_args(args)?;
                self.dispatch(state, &name, namespace.as_deref())
            }
            "type" => Ok(Value::from(self.globals.target_kind.name())),
            "get_columns_in_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                crate::template::introspect::columns_in_relation(
                    &self.globals.introspection,
                    &relation,
                    crate::warehouse::dialect(self.globals.target_kind),
                )
            }
            "get_relation" => {
                let relation = self.globals.relation_from_args(args)?;
                crate::template::introspect::get_relation(&self.globals.introspection, relation)
            }
            "quote" => {
                let (name,): (String,) = from_args(args)?;
                Ok(Value::from(self.globals.quote().quote(&name)))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

impl Adapter {
    /// `adapter.dispatch(name, namespace)`, as dbt searches: the packages of
    /// `dispatch:` for that namespace, else the root project then the
    /// namespace; in each, `<adapter>__name` then `default__name`. Without a
    /// namespace, the names the caller sees.
    fn dispatch(&self, state: &State<'_, '_>, name: &str, namespace: Option<&str>) -> Result<Value, Error> {
        let globals = &self.globals;
        let prefixes: Vec<&str> = globals.target_kind.adapter().dispatch_names().into_iter().chain(["default"]).collect();
        let mut searched = Vec::new();
        let Some(namespace) = namespace else {
            for prefix in &prefixes {
                let candidate = format!("{prefix}__{name}");
                if let Some(found) = state.lookup(&candidate).filter(|v| !v.is_undefined()) {
                    return Ok(found);
                }
                searched.push(format!("`{candidate}`"));
            }
            return Err(invalid(format!("`adapter.dispatch('{name}')` found no macro: searched {}", searched.join(", "))));
        };
        let search_order = match globals.dispatch.get(namespace) {
            Some(order) => order.clone(),
            None if globals.namespaces.contains_key(namespace) => vec![globals.root_project.clone(), namespace.to_string()],
            None => vec![namespace.to_string()],
        };
        for package in &search_order {
            for prefix in &prefixes {
                let candidate = format!("{prefix}__{name}");
                if let Some(found) = globals.find_macro(Some(package), &candidate) {
                    return Ok(Value::from_object(found));
                }
                searched.push(format!("`{package}.{candidate}`"));
            }
        }
        Err(invalid(format!("`adapter.dispatch('{name}', '{namespace}')` found no macro: searched {}", searched.join(", "))))
    }
}

/// `api.Relation.create(...)` and `api.Column(name, type)`.
#[derive(Debug)]
struct Api {
    globals: Arc<Globals>,
}

impl Object for Api {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let kind = match key.as_str()? {
            "Relation" => ApiKind::Relation,
            "Column" => ApiKind::Column,
            _ => return None,
        };
        Some(Value::from_object(ApiClass { globals: self.globals.clone(), kind }))
    }
}

#[derive(Debug, Clone, Copy)]
enum ApiKind {
    Relation,
    Column,
}

#[derive(Debug)]
struct ApiClass {
    globals: Arc<Globals>,
    kind: ApiKind,
}

impl Object for ApiClass {
    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        match self.kind {
            ApiKind::Column => self.call_method(state, "create", args),
            ApiKind::Relation => Err(invalid("write `api.Relation.create(database=..., schema=..., identifier=...)`")),
        }
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match (self.kind, method) {
            (ApiKind::Relation, "create") => Ok(Value::from_object(self.globals.relation_from_args(args)?)),
            (ApiKind::Column, "create") => {
                let (name, data_type): (String, String) = from_args(args)?;
                let column = crate::core::columns::Column::new(name, data_type);
                Ok(Value::from_object(crate::template::introspect::ColumnValue {
                    column,
                    dialect: crate::warehouse::dialect(self.globals.target_kind),
                }))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A namespace of macros: `dbt_utils.star(...)`, `dbt.date_trunc(...)`; and
/// a package's own macros, which its macros call unqualified.
#[derive(Debug)]
struct Namespace {
    globals: Arc<Globals>,
    name: String,
}

impl Object for Namespace {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.globals.find_macro(Some(&self.name), key.as_str()?).map(Value::from_object)
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
