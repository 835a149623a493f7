//! Lists and dicts that change in place, as Python's do in dbt's Jinja:
//! `{% set columns = [] %}{% do columns.append(c) %}`, `{% do d.update({...}) %}`.
//! Nearly every dbt package builds its SQL this way; minijinja's own lists
//! and maps cannot change once made.
//!
//! Templates are rewritten before they are compiled: each list or dict
//! literal inside a tag becomes a call that makes a changeable one
//! (`[a, b]` → `__list([a, b])`). Line numbers stay the same.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, from_args};
use minijinja::{Error, ErrorKind, State};

/// The functions the rewritten literals call.
pub fn register(env: &mut minijinja::Environment<'static>) {
    env.add_function("__list", |items: Value| MutableList::from_value(&items));
    env.add_function("__dict", |entries: Value| MutableDict::from_value(&entries));
}

/// Python's keywords after which `[` opens a list, not a subscript.
const KEYWORDS: &[&str] = &["in", "and", "or", "not", "if", "else", "is", "return", "do", "set", "for", "elif", "with"];

/// `text` with every list and dict literal inside `{{ }}` and `{% %}` made
/// changeable. Text without literals is returned as it is, uncopied: models
/// pass through here on every render.
pub fn rewrite(text: &str) -> Cow<'_, str> {
    if !text.contains("{{") && !text.contains("{%") {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    // The rewritten text, and how far `text` has been copied into it.
    let mut out = String::new();
    let mut copied = 0;
    let mut at = 0;
    while let Some(open) = text[at..].find('{').map(|i| i + at) {
        let kind = bytes.get(open + 1).copied();
        let close = match kind {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            // A comment is skipped whole.
            Some(b'#') => {
                at = text[open..].find("#}").map_or(text.len(), |i| open + i + 2);
                continue;
            }
            _ => {
                at = open + 1;
                continue;
            }
        };
        let (body, end) = tag_body(text, open + 2, close);
        at = end;
        if kind == Some(b'%') && body.trim_start().trim_start_matches('-').trim_start().starts_with("raw") {
            // `{% raw %}...{% endraw %}` is text.
            at = text[end..].find("endraw").and_then(|i| text[end + i..].find("%}").map(|j| end + i + j + 2)).unwrap_or(text.len());
            continue;
        }
        if let Cow::Owned(rewritten) = rewrite_expression(body) {
            out.push_str(&text[copied..open + 2]);
            out.push_str(&rewritten);
            copied = open + 2 + body.len();
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The text of a tag from `start` to its closing delimiter (strings skipped),
/// and the offset just past that delimiter.
fn tag_body<'t>(text: &'t str, start: usize, close: &str) -> (&'t str, usize) {
    let bytes = text.as_bytes();
    let mut i = start;
    let mut quote = None;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(_) if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if bytes[i..].starts_with(close.as_bytes()) => return (&text[start..i], i + close.len()),
            None => {}
        }
        i += 1;
    }
    (&text[start..], text.len())
}

/// One tag's expression with its literals made changeable.
fn rewrite_expression(body: &str) -> Cow<'_, str> {
    if !body.contains('[') && !body.contains('{') {
        return Cow::Borrowed(body);
    }
    let mut out = String::with_capacity(body.len() + 32);
    // For each open bracket, the text its closing one becomes.
    let mut closers: Vec<&str> = Vec::new();
    let mut quote = None;
    let mut escaped = false;
    let mut changed = false;
    for (i, c) in body.char_indices() {
        if let Some(q) = quote {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '[' if opens_literal(&body[..i]) => {
                out.push_str("__list([");
                closers.push("])");
                changed = true;
            }
            '{' => {
                out.push_str("__dict({");
                closers.push("})");
                changed = true;
            }
            '[' | '(' => {
                out.push(c);
                closers.push(if c == '[' { "]" } else { ")" });
            }
            ']' | '}' | ')' => out.push_str(closers.pop().unwrap_or(match c {
                ']' => "]",
                '}' => "}",
                _ => ")",
            })),
            _ => out.push(c),
        }
    }
    if changed { Cow::Owned(out) } else { Cow::Borrowed(body) }
}

/// Whether a `[` after `before` opens a list literal rather than a subscript.
fn opens_literal(before: &str) -> bool {
    let trimmed = before.trim_end();
    let Some(last) = trimmed.chars().next_back() else { return true };
    if last == ')' || last == ']' || last == '}' || last == '\'' || last == '"' {
        return false;
    }
    if last.is_alphanumeric() || last == '_' {
        let word_start = trimmed.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
        return KEYWORDS.contains(&&trimmed[word_start..]);
    }
    true
}

/// A list that `append`, `extend`, `insert`, `pop` and `remove` change in place.
#[derive(Debug, Default)]
pub struct MutableList(Mutex<Vec<Value>>);

impl MutableList {
    fn from_value(items: &Value) -> Result<Value, Error> {
        let items: Vec<Value> = items.try_iter()?.collect();
        Ok(Value::from_object(MutableList(Mutex::new(items))))
    }

    fn items(&self) -> std::sync::MutexGuard<'_, Vec<Value>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Object for MutableList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = self.items();
        let index = key.as_i64()?;
        let index = if index < 0 { items.len().checked_sub(index.unsigned_abs() as usize)? } else { index as usize };
        items.get(index).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items().clone())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.items().len())
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let mut items = self.items();
        match method {
            "append" => {
                let (item,): (Value,) = from_args(args)?;
                items.push(item);
            }
            "extend" => {
                let (more,): (Value,) = from_args(args)?;
                items.extend(more.try_iter()?);
            }
            "insert" => {
                let (index, item): (usize, Value) = from_args(args)?;
                let index = index.min(items.len());
                items.insert(index, item);
            }
            "pop" => {
                let (index,): (Option<i64>,) = from_args(args)?;
                let len = items.len() as i64;
                let index = index.map_or(len - 1, |i| if i < 0 { len + i } else { i });
                if index < 0 || index >= len {
                    return Err(Error::new(ErrorKind::InvalidOperation, "pop index out of range"));
                }
                return Ok(items.remove(index as usize));
            }
            "remove" => {
                let (item,): (Value,) = from_args(args)?;
                let Some(position) = items.iter().position(|v| *v == item) else {
                    return Err(Error::new(ErrorKind::InvalidOperation, format!("list.remove({item}): not in list")));
                };
                items.remove(position);
            }
            "reverse" => items.reverse(),
            "sort" => items.sort(),
            "clear" => items.clear(),
            "copy" => return Ok(Value::from_object(MutableList(Mutex::new(items.clone())))),
            "index" => {
                let (item,): (Value,) = from_args(args)?;
                return items
                    .iter()
                    .position(|v| *v == item)
                    .map(Value::from)
                    .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("{item} is not in list")));
            }
            "count" => {
                let (item,): (Value,) = from_args(args)?;
                return Ok(Value::from(items.iter().filter(|v| **v == item).count()));
            }
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        }
        Ok(Value::from(()))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Value::from(self.items().clone()), f)
    }
}

/// A dict that `update`, `pop`, `setdefault` and `clear` change in place.
#[derive(Debug, Default)]
pub struct MutableDict(Mutex<Vec<(Value, Value)>>);

impl MutableDict {
    fn from_value(entries: &Value) -> Result<Value, Error> {
        let dict = MutableDict::default();
        dict.update(entries)?;
        Ok(Value::from_object(dict))
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<(Value, Value)>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set(&self, key: Value, value: Value) {
        let mut entries = self.entries();
        match entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => entries.push((key, value)),
        }
    }

    fn update(&self, other: &Value) -> Result<(), Error> {
        if other.is_undefined() || other.is_none() {
            return Ok(());
        }
        for key in other.try_iter()? {
            let value = other.get_item(&key)?;
            self.set(key, value);
        }
        Ok(())
    }
}

impl Object for MutableDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.entries().iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.entries().iter().map(|(k, _)| k.clone()).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.entries().len())
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "update" => {
                let (other, kwargs): (Option<Value>, minijinja::value::Kwargs) = from_args(args)?;
                if let Some(other) = other {
                    self.update(&other)?;
                }
                for key in kwargs.args() {
                    self.set(Value::from(key), kwargs.get::<Value>(key)?);
                }
                Ok(Value::from(()))
            }
            "pop" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                let mut entries = self.entries();
                match entries.iter().position(|(k, _)| *k == key) {
                    Some(position) => Ok(entries.remove(position).1),
                    None => default.ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("key {key} is not in the dict"))),
                }
            }
            "setdefault" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                if let Some(existing) = self.entries().iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()) {
                    return Ok(existing);
                }
                let value = default.unwrap_or(Value::from(()));
                self.set(key, value.clone());
                Ok(value)
            }
            "clear" => {
                self.entries().clear();
                Ok(Value::from(()))
            }
            "copy" => Ok(Value::from_object(MutableDict(Mutex::new(self.entries().clone())))),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let map: Vec<(Value, Value)> = self.entries().clone();
        fmt::Display::fmt(&Value::from_iter(map), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_inside_tags_become_changeable_and_subscripts_stay() {
        assert_eq!(rewrite("{% set xs = [] %}"), "{% set xs = __list([]) %}");
        assert_eq!(rewrite("{{ xs[0] }} [text] {{ d['k'] }}"), "{{ xs[0] }} [text] {{ d['k'] }}");
        assert_eq!(rewrite("{% if x in ['a', 'b'] %}"), "{% if x in __list(['a', 'b']) %}");
        assert_eq!(rewrite("{% do d.update({'a': [1]}) %}"), "{% do d.update(__dict({'a': __list([1])})) %}");
        assert_eq!(rewrite("{{ '[not a list]' }}{# [x] #}"), "{{ '[not a list]' }}{# [x] #}");
        assert_eq!(rewrite("{% raw %}{{ [x] }}{% endraw %}"), "{% raw %}{{ [x] }}{% endraw %}");
        assert_eq!(rewrite("select 1\n{{ f(a)[1] }}"), "select 1\n{{ f(a)[1] }}");
    }

    #[test]
    fn lists_and_dicts_change_in_place() {
        let mut env = crate::core::jinja::new_environment();
        register(&mut env);
        let template = "{% set xs = [] %}{% for i in range(3) %}{% do xs.append(i) %}{% endfor %}{% do xs.extend([7]) %}\
            {% set d = {} %}{% do d.update({'a': 1}) %}{% do d.update(b=2) %}{{ xs | join(',') }} {{ xs | length }} {{ d['a'] }}{{ d.b }} \
            {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{{ xs.pop() }}{{ xs | length }}{% if xs %} yes{% endif %}";
        let rendered = env.render_str(&rewrite(template), ()).expect("renders");
        assert_eq!(rendered, "0,1,2,7 4 12 a=1;b=2;73 yes");
        // What minijinja's own lists do, these do: concatenate, compare, test membership, slice.
        let template = "{{ ([1] + [2]) | join(',') }} {{ [1, 2] == [1, 2] }} {{ 2 in [1, 2] }} {{ [1, 2, 3][1:] | join(',') }} {{ {'a': 1} == {'a': 1} }} {{ [3, 1] | sort | join(',') }}";
        assert_eq!(env.render_str(&rewrite(template), ()).expect("renders"), "1,2 True True 2,3 True 1,3");
    }
}
