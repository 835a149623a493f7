//! No input panics strata: random and mutated text fed to the selector parser,
//! `--vars`, the YAML loaders, date parsing, the CSV seed reader and the
//! template renderer. Each rejection must be a `Diagnostic` (the functions'
//! types make it one); a panic fails the test with the input that caused it.
//!
//! The inputs come from a seeded generator, so every run tries the same
//! cases and a failure reproduces; `STRATA_PROPERTY_CASES` multiplies the
//! number of cases for a longer search.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use strata::core::dates::ExecutionDate;
use strata::project::config::ConfigMap;
use strata::template::{Mode, Scope};

/// xorshift64*: small, seeded, good enough to pick characters.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A string of pieces: the syntax of the input's language, names, and any character.
    fn text(&mut self, pieces: &[&str], length: usize) -> String {
        let mut text = String::new();
        for _ in 0..self.below(length) {
            match self.below(10) {
                0 => text.push(char::from_u32(self.below(0x2000) as u32).unwrap_or('\u{fffd}')),
                1 => text.push(['\n', '\t', ' ', '\0', '\u{feff}', '"', '\'', '\\'][self.below(8)]),
                _ => text.push_str(self.pick(pieces)),
            }
        }
        text
    }

    /// `valid` with a few characters or pieces inserted, deleted or repeated.
    fn mutate(&mut self, valid: &str, pieces: &[&str]) -> String {
        let mut chars: Vec<char> = valid.chars().collect();
        for _ in 0..=self.below(4) {
            let at = self.below(chars.len() + 1);
            match self.below(4) {
                0 if !chars.is_empty() => {
                    let end = (at + 1 + self.below(6)).min(chars.len());
                    chars.drain(at.min(end)..end);
                }
                1 => {
                    let piece: Vec<char> = self.pick(pieces).chars().collect();
                    chars.splice(at..at, piece);
                }
                2 if !chars.is_empty() => {
                    let start = at.min(chars.len() - 1);
                    let end = (start + 1 + self.below(8)).min(chars.len());
                    let copy: Vec<char> = chars[start..end].to_vec();
                    chars.splice(start..start, copy);
                }
                _ => chars.insert(at, char::from_u32(self.below(0x80) as u32).unwrap_or('x')),
            }
        }
        chars.into_iter().collect()
    }
}

fn cases(base: usize) -> usize {
    let factor: usize = std::env::var("STRATA_PROPERTY_CASES").ok().and_then(|f| f.parse().ok()).unwrap_or(1);
    base * factor.max(1)
}

/// Runs `check` on every input; the inputs that panicked.
fn panics(inputs: impl IntoIterator<Item = String>, check: impl Fn(&str)) -> Vec<String> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let failed: Vec<String> = inputs.into_iter().filter(|input| catch_unwind(AssertUnwindSafe(|| check(input))).is_err()).collect();
    std::panic::set_hook(previous);
    failed
}

/// Random text and mutations of `valid`, `count` of them.
fn inputs(seed: u64, count: usize, valid: &[&str], pieces: &[&str], length: usize) -> Vec<String> {
    let mut random = Random(seed);
    (0..count).map(|i| if i % 2 == 0 { random.text(pieces, length) } else { random.mutate(valid[i / 2 % valid.len()], pieces) }).collect()
}

#[test]
fn selectors_never_panic() {
    let valid = [
        "+orders",
        "2+orders+1",
        "@orders",
        "tag:daily,config.materialized:table",
        "source:dw+ exposure:x",
        "path:models/m*",
        "resource_type:model",
        "*",
    ];
    let pieces = ["+", "@", ",", " ", ":", "*", "?", "[", "]", "tag", "source", "path", "config.", "orders", "1", "9999999999999999999", ".", "/"];
    let graph = strata::graph::Graph::new(Vec::new());
    let failed = panics(inputs(1, cases(4000), &valid, &pieces, 12), |text| {
        let _ = strata::graph::select::select_nodes(&graph, &[text.to_string()], &[], None);
    });
    assert!(failed.is_empty(), "{} selectors panicked, e.g. {:?}", failed.len(), &failed[..failed.len().min(5)]);
}

#[test]
fn dates_never_panic() {
    let valid = ["2026-11-20", "2026-02-28", "20261120", "2026-11-20T00:00:00"];
    let pieces = ["2026", "-", "11", "20", "0", "99", "+", "T", ":", "9999999", "-1"];
    let failed = panics(inputs(2, cases(4000), &valid, &pieces, 8), |text| {
        if let Ok(date) = ExecutionDate::parse(text, "--date") {
            let _ = (date.ds(), date.add_days(365 * 10_000), date.add_days(-365 * 10_000));
        }
    });
    assert!(failed.is_empty(), "{} dates panicked, e.g. {:?}", failed.len(), &failed[..failed.len().min(5)]);
}

const YAML_PIECES: [&str; 24] = [
    "version: 2\n",
    "models:\n",
    "  - name: m\n",
    "    config:\n",
    "      materialized: table\n",
    "sources:\n",
    "tables:",
    "{",
    "}",
    "[",
    "]",
    ": ",
    "- ",
    "\n  ",
    "&a ",
    "*a",
    "!!str ",
    "<<: *a",
    "'",
    "\"",
    "#",
    "~",
    "null",
    "1e999",
];

#[test]
fn properties_files_never_panic() {
    let valid = [
        "version: 2\nmodels:\n  - name: m\n    config: {materialized: table}\n    columns:\n      - name: id\n        tests: [unique, not_null]\n",
        "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: events\n        loaded_at_field: at\n",
        "version: 2\nexposures:\n  - name: d\n    type: dashboard\n    depends_on: [\"ref('m')\"]\n    tableau: {datasources: [x]}\n",
    ];
    let failed = panics(inputs(3, cases(2000), &valid, &YAML_PIECES, 30), |text| {
        let _ = strata::project::yaml::parse::<strata::project::properties::PropertiesFile>(Path::new("models/schema.yml"), text);
        let _ = strata::project::yaml::parse::<serde_json::Value>(Path::new("dbt_project.yml"), text);
    });
    assert!(failed.is_empty(), "{} YAML files panicked, e.g. {:?}", failed.len(), &failed[..failed.len().min(5)]);
}

/// A project loaded whole with `--vars` and a properties file from the
/// generator: every loader a user's text reaches.
#[test]
fn vars_and_project_files_never_panic() {
    let dir = crate::Fixture::new().file("models/schema.yml", "version: 2\n");
    let valid = ["{run_date: '2026-11-20', n: 3}", "run_date: 2026-11-20", "{\"a\": [1, 2, {\"b\": null}]}", "key: {nested: [x, y]}"];
    let pieces = ["{", "}", "[", "]", ":", ",", " ", "a", "'", "\"", "1", "null", "&x", "*x", "\n"];
    let texts = inputs(5, cases(300), &valid, &pieces, 16);
    let failed = panics(texts, |vars| {
        let properties = random_properties(&mut Random(vars.len() as u64 + 1));
        std::fs::write(dir.path().join("models/schema.yml"), properties).expect("write");
        let options = strata::project::LoadOptions { project_dir: dir.path().to_path_buf(), vars: Some(vars.to_string()), ..Default::default() };
        if let Ok(project) = strata::project::Project::load(&options) {
            let date = ExecutionDate::parse("2026-11-20", "--date").expect("date");
            let _ = strata::template::Templates::new(&project, date, chrono::Utc::now(), no_warehouse());
        }
    });
    assert!(failed.is_empty(), "{} --vars panicked, e.g. {:?}", failed.len(), &failed[..failed.len().min(5)]);
}

fn random_properties(random: &mut Random) -> String {
    random.mutate(
        "version: 2\nmodels:\n  - name: m\n    config:\n      materialized: table\n      partition_by: {field: d, granularity: day}\n",
        &YAML_PIECES,
    )
}

#[test]
fn seed_files_never_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let valid = ["id,name,day\n1,a,2026-11-20\n2,b,2026-11-21\n", "a;b\n1.5;true\n", "x\n\n\"quoted, with comma\"\n"];
    let pieces = [",", ";", "\n", "\r\n", "\"", "1", "-2.5e10", "true", "2026-11-20", "2026-11-20 10:00:00", "", "a", " ", "99999999999999999999"];
    let failed = panics(inputs(6, cases(600), &valid, &pieces, 40), |text| {
        std::fs::write(dir.path().join("seed.csv"), text).expect("write");
        for delimiter in [",", ";"] {
            let mut config = ConfigMap::new();
            config.insert("delimiter".into(), serde_json::Value::String(delimiter.into()));
            let _ = strata::materialize::seed_file::inspect(dir.path(), Path::new("seed.csv"), &config);
        }
    });
    assert!(failed.is_empty(), "{} seed files panicked, e.g. {:?}", failed.len(), &failed[..failed.len().min(5)]);
}

#[test]
fn templates_never_panic() {
    let dir = crate::Fixture::new().file("macros/m.sql", "{% macro twice(x) %}{{ x }}{{ x }}{% endmacro %}\n");
    let project = strata::project::Project::load(&strata::project::LoadOptions { project_dir: dir.path().to_path_buf(), ..Default::default() })
        .unwrap_or_else(|err| panic!("{err:?}"));
    let date = ExecutionDate::parse("2026-11-20", "--date").expect("date");
    let templates = strata::template::Templates::new(&project, date, chrono::Utc::now(), no_warehouse()).unwrap_or_else(|err| panic!("{err:?}"));
    let valid = [
        "select {{ ds }} as d, '{{ var(\"x\", 1) }}' from {{ ref('a') }}",
        "{% for c in ['a', 'b'] %}{{ c }}{% if not loop.last %},{% endif %}{% endfor %}",
        "{{ config(materialized='table') }}select {{ dbt.dateadd('day', -1, 'd') }}",
        "{{ twice(source('raw', 'events')) }} {{ env_var('NOPE', 'x') }} {{ this }}",
    ];
    let pieces = [
        "{{",
        "}}",
        "{%",
        "%}",
        "{#",
        "#}",
        "(",
        ")",
        "'",
        "\"",
        ",",
        "|",
        ".",
        "ref('a')",
        "source('s', 't')",
        "var('x')",
        "config(",
        "ds",
        "loop",
        "for ",
        " in ",
        "endfor",
        "if ",
        "endif",
        "macro ",
        "endmacro",
        "set ",
        "=",
        "~",
        "*",
        "**",
        "range(",
        "99999",
        "-1",
        "[",
        "]",
        "twice(",
        "is_incremental()",
        "adapter.dispatch(",
        "exceptions.raise_compiler_error(",
        "return(",
        "this",
        "target.",
        "none",
        "select ",
    ];
    let failed = panics(inputs(7, cases(1500), &valid, &pieces, 24), |text| {
        let mut scope = Scope::new("model `m`".into(), Mode::Compile, ConfigMap::new());
        let _ = templates.render_str("models/m.sql", text, &mut scope);
        let mut scope = Scope::new("model `m`".into(), Mode::Parse, ConfigMap::new());
        let _ = templates.render_str("models/m.sql", text, &mut scope);
    });
    assert!(failed.is_empty(), "{} templates panicked, e.g. {:?}", failed.len(), &failed[..failed.len().min(5)]);
}

#[test]
fn durations_never_panic() {
    let valid = ["30m", "1.5h", "90", "0", "1h 30m", "2d", "10s"];
    let pieces = ["1", "0", "9", ".", "e", "E", "+", "-", "99999999999999999999", "1.0e+30", "m", "h", "d", "s", " ", "→", "NaN", "inf", "min", "ms"];
    let failed = panics(inputs(8, cases(4000), &valid, &pieces, 8), |text| {
        let _ = strata::core::format::parse_duration(text);
        let number = text.parse::<f64>().ok().and_then(serde_json::Number::from_f64);
        let _ = strata::core::format::duration_value(&number.map_or_else(|| serde_json::json!(text), serde_json::Value::Number));
    });
    assert!(failed.is_empty(), "{} durations panicked, e.g. {:?}", failed.len(), &failed[..failed.len().min(5)]);
}

/// Values for numeric and duration settings: out of range, of the wrong
/// type, and wrapped in text of several bytes a character.
const VALUES: [&str; 22] = [
    "-1",
    "0",
    "1",
    "-3",
    "1.0e+20",
    "99999999999999999999",
    "1e999",
    "-0.5",
    "'→'",
    "null",
    "[]",
    "{}",
    "true",
    "'5m'",
    "'-1h'",
    "2147483648",
    "18446744073709551616",
    "4",
    "'→5m'",
    "\"é\"",
    "-9223372036854775809",
    "0.0",
];

/// A project with every numeric setting strata reads set to values from the
/// generator (each `$V`): model and test configs, source checks, a DuckDB and
/// a BigQuery target with a Tableau server; non-ASCII text stands around each
/// of them and around a `ref()` to a model that does not exist.
fn numeric_project(random: &mut Random) -> Vec<(&'static str, String)> {
    const FILES: [(&str, &str); 3] = [
        (
            "models/m.sql",
            "-- reads→'nowhere' ✓\n{{ config(materialized='incremental', partition_by={'field': 'd', 'data_type': 'date'}, lookback=$V, partition_expiration_days=$V, cluster_by=['d'], labels={'→': 'é'}) }}\nselect d from {{ ref('nowhere') }} -- ü\n",
        ),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: m # →\n    columns:\n      - name: d\n        tests:\n          - unique:\n              config: {limit: $V, warn_if: '> $V'}\nsources:\n  - name: raw\n    tables:\n      - name: events # é\n        loaded_at_field: at\n        freshness:\n          warn_after: {count: $V, period: hour}\n          error_after: {count: $V, period: day}\n        wait_for: {partition: d, timeout: $V, poke_interval: $V}\n",
        ),
        (
            "profiles.yml",
            "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb # →\n      path: target/dev.duckdb\n      threads: 4\n      tableau: {server_url: 'https://t.example', token_name: n, token_secret: s, timeout: $V}\n    prod:\n      type: bigquery\n      method: service-account\n      project: p\n      dataset: d\n      keyfile: /k.json\n      threads: $V\n      job_retries: $V\n      job_timeout_seconds: $V\n      maximum_bytes_billed: $V\n      cost_per_tib: $V\n",
        ),
    ];
    FILES
        .iter()
        .map(|(path, template)| {
            let filled = template
                .split("$V")
                .enumerate()
                .map(|(i, part)| if i == 0 { part.to_string() } else { format!("{}{part}", VALUES[random.below(VALUES.len())]) });
            (*path, filled.collect())
        })
        .collect()
}

#[test]
fn numeric_settings_and_profiles_never_panic() {
    let dir = crate::Fixture::new().file("models/m.sql", "");
    let mut random = Random(9);
    let projects: Vec<String> = (0..cases(150)).map(|_| serde_json::to_string(&numeric_project(&mut random)).expect("json")).collect();
    let check = |project: &str| {
        let files: Vec<(String, String)> = serde_json::from_str(project).expect("json");
        for (path, text) in &files {
            std::fs::write(dir.path().join(path), text).expect("write");
        }
        for target in ["dev", "prod"] {
            let options = strata::project::LoadOptions { project_dir: dir.path().to_path_buf(), target: Some(target.into()), ..Default::default() };
            let Ok(project) = strata::project::Project::load(&options) else { continue };
            let _ = strata::tableau::Server::of(&project.target, &project.root);
            let _ = strata::warehouse::bigquery::Settings::of(&project.target, &project.root);
            let date = ExecutionDate::parse("2026-11-20", "--date").expect("date");
            let Ok(templates) = strata::template::Templates::new(&project, date, chrono::Utc::now(), no_warehouse()) else { continue };
            if let Ok(parsed) = strata::parse::parse(&project, &templates) {
                for node in &parsed.graph.nodes {
                    let _ = strata::graph::source_check::SourceCheck::of(node);
                }
                let _ = parsed.errors.to_string();
            }
        }
    };
    check(&projects[0]);
    let failed = panics(projects, check);
    assert!(failed.is_empty(), "{} projects panicked, e.g. {:?}", failed.len(), &failed[..failed.len().min(2)]);
}

/// Introspection that no property test asks of: it opens no warehouse.
fn no_warehouse() -> strata::template::introspect::Introspection {
    strata::template::introspect::Introspection::new(|| Err("these tests open no warehouse".into()))
}
