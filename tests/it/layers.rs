//! The layers of `ARCHITECTURE.md`, checked: every file of `src/` belongs to
//! one layer of its ```` ```layers ```` block, imports only its own layer and
//! those below it, and no files import each other in a circle. Imports are
//! read as the compiler reads paths: `use crate::...`, `use super::...`,
//! `use self::...` and inline `crate::a::b` paths, test modules included; a
//! `mod.rs` naming a file below it is containment, not an import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;
use regex::Regex;

/// A file of `src/`: its path below `src/` and the module it defines.
struct SourceFile {
    path: String,
    module: Vec<String>,
    text: String,
}

fn source_files(root: &Path) -> Vec<SourceFile> {
    let src = root.join("src");
    let mut files: Vec<SourceFile> = walkdir::WalkDir::new(&src)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "rs"))
        .map(|entry| {
            let path = entry.path().strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
            let mut module: Vec<String> = path.split('/').map(str::to_string).collect();
            let last = module.pop().unwrap();
            let stem = last.trim_end_matches(".rs");
            if !matches!(stem, "mod" | "lib" | "main") {
                module.push(stem.to_string());
            }
            let text = std::fs::read_to_string(entry.path()).unwrap();
            SourceFile { path, module, text }
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// `a::{b, c::{d, e}}` as the paths it names: `a::b`, `a::c::d`, `a::c::e`.
fn expand(prefix: &[String], body: &str) -> Vec<Vec<String>> {
    let mut items = Vec::new();
    let (mut depth, mut current) = (0, String::new());
    for ch in body.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(ch);
    }
    items.push(current);
    let segments = |text: &str| -> Vec<String> {
        let text = text.split(" as ").next().unwrap_or_default();
        text.split("::").map(str::trim).filter(|s| !s.is_empty() && *s != "self").map(str::to_string).collect()
    };
    let mut paths = Vec::new();
    for item in items.iter().map(|item| item.trim()).filter(|item| !item.is_empty()) {
        match item.find("::{").filter(|_| item.ends_with('}')) {
            Some(at) => {
                let mut base = prefix.to_vec();
                base.extend(segments(&item[..at]));
                paths.extend(expand(&base, &item[at + 3..item.len() - 1]));
            }
            None if item.starts_with('{') && item.ends_with('}') => paths.extend(expand(prefix, &item[1..item.len() - 1])),
            None => {
                let mut path = prefix.to_vec();
                path.extend(segments(item));
                paths.push(path);
            }
        }
    }
    paths
}

/// Each file's imports of other files, with the line of the first.
fn imports(files: &[SourceFile]) -> Vec<BTreeMap<usize, usize>> {
    let by_module: BTreeMap<&[String], usize> =
        files.iter().enumerate().filter(|(_, f)| f.path != "main.rs").map(|(i, f)| (f.module.as_slice(), i)).collect();
    let resolve = |path: &[String]| (0..=path.len()).rev().find_map(|n| by_module.get(&path[..n]).copied());
    let comment = Regex::new(r"//[^\n]*").unwrap();
    let use_item = Regex::new(r"(?s)\buse\s+((?:crate|super|self)(?:::\w+)*)(?:::\{(.*?)\})?\s*;").unwrap();
    let inline = Regex::new(r"(?:^|[^\w:])crate((?:::\w+)+)").unwrap();
    let line_of = |text: &str, at: usize| text[..at].matches('\n').count() + 1;
    let mut edges = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let text = comment.replace_all(&file.text, "");
        let mut found: BTreeMap<usize, usize> = BTreeMap::new();
        for capture in use_item.captures_iter(&text) {
            let head: Vec<&str> = capture[1].split("::").collect();
            let base: Vec<String> = match head[0] {
                "crate" => head[1..].iter().map(|s| s.to_string()).collect(),
                "self" => file.module.iter().cloned().chain(head[1..].iter().map(|s| s.to_string())).collect(),
                _ => {
                    let ups = head.iter().take_while(|s| **s == "super").count();
                    let kept = file.module.len().saturating_sub(ups);
                    file.module[..kept].iter().cloned().chain(head[ups..].iter().map(|s| s.to_string())).collect()
                }
            };
            let paths = match capture.get(2) {
                Some(body) => expand(&base, body.as_str()),
                None => vec![base],
            };
            let line = line_of(&text, capture.get(0).unwrap().start());
            for target in paths.iter().filter_map(|path| resolve(path)).filter(|&target| target != index) {
                found.entry(target).or_insert(line);
            }
        }
        for capture in inline.captures_iter(&text) {
            let path: Vec<String> = capture[1].split("::").filter(|s| !s.is_empty()).map(str::to_string).collect();
            if let Some(target) = resolve(&path).filter(|&target| target != index) {
                found.entry(target).or_insert(line_of(&text, capture.get(1).unwrap().start()));
            }
        }
        // A module naming its own parts is containment: `lib.rs`, or a `mod.rs` above the file.
        found.retain(|&target, _| {
            let (child, parent) = (&files[target], file);
            let contains = parent.path == "lib.rs"
                || (parent.path.ends_with("mod.rs") && child.module.len() > parent.module.len() && child.module.starts_with(&parent.module));
            !contains
        });
        edges.push(found);
    }
    edges
}

/// The layers of the ```` ```layers ```` block, from the bottom up: each a name and its paths.
fn layers(architecture: &str) -> Vec<(String, Vec<String>)> {
    let block = architecture.split("```layers\n").nth(1).and_then(|rest| rest.split("```").next()).expect("ARCHITECTURE.md has a ```layers block");
    block
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, paths) = line.split_once(':').expect("a layer line is `name: path path ...`");
            (name.trim().to_string(), paths.split_whitespace().map(str::to_string).collect())
        })
        .collect()
}

/// The layer of the longest path that names `file`.
fn layer_of(layers: &[(String, Vec<String>)], file: &str) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (index, (_, paths)) in layers.iter().enumerate() {
        for path in paths {
            let folder = format!("{}/", path.trim_end_matches('/'));
            if (file == path || file.starts_with(&folder)) && best.is_none_or(|(length, _)| path.len() > length) {
                best = Some((path.len(), index));
            }
        }
    }
    best.map(|(_, index)| index)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ARCHITECTURE.md's layers are the truth about the code: an import that runs
// up a layer, or files importing each other in a circle, fail here with the line.
#[test]
fn every_import_runs_down_the_layers_of_architecture_md() {
    let files = source_files(&root());
    let edges = imports(&files);
    let layers = layers(&std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap());
    let mut problems = Vec::new();
    for file in files.iter().filter(|f| f.path != "main.rs") {
        if layer_of(&layers, &file.path).is_none() {
            problems.push(format!("src/{} is in no layer of ARCHITECTURE.md", file.path));
        }
    }
    for (index, found) in edges.iter().enumerate() {
        let Some(from) = layer_of(&layers, &files[index].path) else { continue };
        for (&target, line) in found {
            let Some(to) = layer_of(&layers, &files[target].path) else { continue };
            if to > from {
                problems.push(format!(
                    "src/{}:{line} ({}) imports src/{} ({}), a layer above it",
                    files[index].path, layers[from].0, files[target].path, layers[to].0
                ));
            }
        }
    }
    let mut graph = DiGraph::<usize, ()>::new();
    let nodes: Vec<_> = (0..files.len()).map(|i| graph.add_node(i)).collect();
    for (index, found) in edges.iter().enumerate() {
        for &target in found.keys() {
            graph.add_edge(nodes[index], nodes[target], ());
        }
    }
    for circle in tarjan_scc(&graph).into_iter().filter(|component| component.len() > 1) {
        let members: BTreeSet<usize> = circle.iter().map(|&node| graph[node]).collect();
        let mut lines = vec![format!("a circle: {}", members.iter().map(|&i| format!("src/{}", files[i].path)).collect::<Vec<_>>().join(" <-> "))];
        for &from in &members {
            for (target, line) in edges[from].iter().filter(|(target, _)| members.contains(target)) {
                lines.push(format!("    src/{}:{line} -> src/{}", files[from].path, files[*target].path));
            }
        }
        problems.push(lines.join("\n"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// The checker itself: a use group, a path with `super`, an inline path and a
// commented-out import, resolved to the files they name.
#[test]
fn imports_are_read_as_the_compiler_reads_paths() {
    let file = |path: &str, text: &str| {
        let mut module: Vec<String> = path.trim_end_matches(".rs").split('/').map(str::to_string).collect();
        if module.last().is_some_and(|m| m == "mod") {
            module.pop();
        }
        SourceFile { path: path.to_string(), module, text: text.to_string() }
    };
    let files = vec![
        file("core/mod.rs", ""),
        file("core/dates.rs", ""),
        file("graph/mod.rs", "use crate::{core::dates::ExecutionDate, sql::{plan::Plan, Dialect}};\n"),
        file("graph/select.rs", "use super::Graph;\n// use crate::warehouse::open;\nfn f() { crate::core::dates::today(); }\n"),
        file("sql/mod.rs", ""),
        file("sql/plan.rs", ""),
        file("warehouse/mod.rs", ""),
    ];
    let edges = imports(&files);
    let named = |index: usize| edges[index].keys().map(|&i| files[i].path.as_str()).collect::<Vec<_>>();
    assert_eq!(named(2), ["core/dates.rs", "sql/mod.rs", "sql/plan.rs"]);
    assert_eq!(named(3), ["core/dates.rs", "graph/mod.rs"]);
    assert_eq!(edges[3][&1], 3);
}

// A warehouse's rules live in its folder under `src/warehouse/`: elsewhere
// nothing matches on the target type, nor on a quote style standing for it,
// in Rust or in the built-in macros.
#[test]
fn no_target_type_is_matched_outside_the_warehouse_folders() {
    // A comparison with a warehouse's `type:` (`adapter.type() == 'bigquery'`,
    // `"duckdb" =>`), with the quote style that gives one away, or a type
    // table named for a warehouse.
    let matching = Regex::new(
        r#"(==|!=) ?["'](duckdb|bigquery)["']|["'](duckdb|bigquery)["'] ?(=>|==)|[=!]= QuoteStyle::(Backtick|Double)|\b(duckdb|bigquery)_type\("#,
    )
    .unwrap();
    let src = root().join("src");
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(&src).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()) {
        let path = entry.path().strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        if path.starts_with("warehouse/") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        found.extend(text.lines().filter(|line| matching.is_match(line)).map(|line| format!("src/{path}: {}", line.trim())));
    }
    assert!(found.is_empty(), "the target type is matched outside src/warehouse/; give the warehouses' adapter or dialect the rule:\n{found:#?}");
}
