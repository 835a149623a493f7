//! Loading a dbt-style project: `dbt_project.yml`, the profile, and every model,
//! macro, seed, singular test, properties and docs file under the configured
//! paths. Each file is read once; nothing here renders Jinja except the
//! profile's `env_var()` calls.

pub mod config;
pub mod notifications;
pub mod profile;
pub mod properties;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::core::diagnostic::{Diagnostic, Diagnostics, Location};
pub use profile::{Target, TargetKind};
use properties::{ExposureProperties, ModelProperties, PropertiesFile, SourceProperties};

/// `dbt_project.yml` as written.
#[derive(Debug, Deserialize)]
struct ProjectFile {
    name: String,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default = "default_model_paths", alias = "source-paths")]
    #[serde(rename = "model-paths")]
    model_paths: Vec<String>,
    #[serde(default = "default_macro_paths", rename = "macro-paths")]
    macro_paths: Vec<String>,
    #[serde(default = "default_seed_paths", rename = "seed-paths", alias = "data-paths")]
    seed_paths: Vec<String>,
    #[serde(default = "default_test_paths", rename = "test-paths")]
    test_paths: Vec<String>,
    #[serde(default = "default_docs_paths", rename = "docs-paths")]
    docs_paths: Vec<String>,
    #[serde(default = "default_target_path", rename = "target-path")]
    target_path: String,
    /// What `strata clean` removes; the target path when absent.
    #[serde(default, rename = "clean-targets")]
    clean_targets: Option<Vec<String>>,
    #[serde(default)]
    vars: serde_json::Map<String, Json>,
    #[serde(default)]
    models: Json,
    #[serde(default)]
    seeds: Json,
    #[serde(default, alias = "data_tests")]
    tests: Json,
    #[serde(default, rename = "on-run-start")]
    on_run_start: OneOrMany,
    #[serde(default, rename = "on-run-end")]
    on_run_end: OneOrMany,
    #[serde(default)]
    notifications: Json,
}

#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

fn default_model_paths() -> Vec<String> {
    vec!["models".into()]
}
fn default_macro_paths() -> Vec<String> {
    vec!["macros".into()]
}
fn default_seed_paths() -> Vec<String> {
    vec!["seeds".into()]
}
fn default_test_paths() -> Vec<String> {
    vec!["tests".into()]
}
fn default_docs_paths() -> Vec<String> {
    Vec::new()
}
fn default_target_path() -> String {
    "target".into()
}

/// A file of the project: its path relative to the project root and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// A model file, and where it sits under its model path.
#[derive(Debug, Clone)]
pub struct ModelFile {
    pub name: String,
    pub file: SourceFile,
    /// Folders between the model path and the file (`["marketing"]`).
    pub folders: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SeedFile {
    pub name: String,
    pub path: PathBuf,
    pub folders: Vec<String>,
}

/// A loaded project, ready to be rendered.
#[derive(Debug)]
pub struct Project {
    pub root: PathBuf,
    pub name: String,
    pub profile_name: String,
    pub target_path: PathBuf,
    pub vars: serde_json::Map<String, Json>,
    pub models_config: Json,
    pub seeds_config: Json,
    pub tests_config: Json,
    pub on_run_start: Vec<String>,
    pub on_run_end: Vec<String>,
    pub models: Vec<ModelFile>,
    pub macros: Vec<SourceFile>,
    pub seeds: Vec<SeedFile>,
    pub singular_tests: Vec<ModelFile>,
    pub model_properties: Vec<ModelProperties>,
    pub seed_properties: Vec<ModelProperties>,
    pub sources: Vec<SourceProperties>,
    pub exposures: Vec<ExposureProperties>,
    /// `{% docs name %}` blocks, by name.
    pub docs: BTreeMap<String, String>,
    pub target: Target,
    /// The webhooks of `notifications:`, the project's then the target's.
    pub notifications: Vec<notifications::Webhook>,
}

/// What the command line says about where the project is and how to run it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoadOptions {
    pub project_dir: PathBuf,
    pub profiles_dir: Option<PathBuf>,
    /// `--profile`: the profile to use instead of `dbt_project.yml`'s `profile:`.
    #[serde(default)]
    pub profile: Option<String>,
    pub target: Option<String>,
    /// `--vars`, as YAML or JSON text.
    pub vars: Option<String>,
}

/// `dbt_project.yml` of `root`, its text, and the path errors show.
fn read_project_file(root: &Path) -> Result<(ProjectFile, String, PathBuf), Diagnostics> {
    let project_path = root.join("dbt_project.yml");
    let display_path = PathBuf::from("dbt_project.yml");
    let source = std::fs::read_to_string(&project_path).map_err(|err| {
        Diagnostic::new(format!("could not read `{}`: {err}", project_path.display()))
            .help("run strata in a dbt project directory, or pass `--project-dir`")
    })?;
    let file: ProjectFile = yaml::parse(&display_path, &source)?;
    Ok((file, source, display_path))
}

impl Project {
    /// Where the project at `root` writes its artifacts (`target-path`), read
    /// from `dbt_project.yml` alone, without the profile.
    pub fn target_path(root: &Path) -> Result<PathBuf, Diagnostics> {
        Ok(root.join(read_project_file(root)?.0.target_path))
    }

    /// What `strata clean` removes in the project at `root`: `clean-targets`
    /// of `dbt_project.yml`, else the target path, as written there.
    pub fn clean_targets(root: &Path) -> Result<Vec<String>, Diagnostics> {
        let file = read_project_file(root)?.0;
        Ok(file.clean_targets.unwrap_or_else(|| vec![file.target_path]))
    }

    /// Reads the project at `options.project_dir`, reporting every broken file at once.
    pub fn load(options: &LoadOptions) -> Result<Project, Diagnostics> {
        let root = options.project_dir.clone();
        let (file, source, display_path) = read_project_file(&root)?;
        let Some(profile_name) = options.profile.clone().or_else(|| file.profile.clone()) else {
            return Err(Diagnostic::new("`dbt_project.yml` names no `profile:`, so strata does not know which connection to use")
                .at(Location::in_source(&display_path, &source, 1, None))
                .help(format!("add `profile: {}` (a profile in `profiles.yml`) to `dbt_project.yml`, or pass `--profile <name>`", file.name))
                .into());
        };

        let mut vars = serde_json::Map::new();
        for (key, value) in &file.vars {
            // `vars: {my_project: {...}}` scopes vars to a project; ours are global.
            match value {
                Json::Object(scoped) if key == &file.name => vars.extend(scoped.clone()),
                _ => {
                    vars.insert(key.clone(), value.clone());
                }
            }
        }
        if let Some(text) = &options.vars {
            vars.extend(parse_cli_vars(text)?);
        }

        let target = profile::load(&profile_name, options.profiles_dir.as_deref(), &root, options.target.as_deref())?;
        let mut notifications =
            notifications::parse(&file.notifications, &display_path, &|key| locate_key_after(&display_path, &source, "notifications:", key))?;
        if let Some(value) = target.fields.get("notifications") {
            notifications.extend(notifications::parse(value, &target.file, &|key| target.locate(key))?);
        }

        let mut diagnostics = Diagnostics::default();
        let model_files = read_files(&root, &file.model_paths, &["sql", "yml", "yaml", "md"], &mut diagnostics);
        let mut models = Vec::with_capacity(model_files.len());
        let mut properties_files = Vec::new();
        let mut docs_files = Vec::new();
        for (folders, source_file) in model_files {
            match source_file.path.extension().and_then(|e| e.to_str()) {
                Some("sql") => models.push(ModelFile { name: file_stem(&source_file.path), file: source_file, folders }),
                Some("md") => docs_files.push(source_file),
                _ => properties_files.push(source_file),
            }
        }
        for (_, source_file) in read_files(&root, &file.docs_paths, &["md"], &mut diagnostics) {
            docs_files.push(source_file);
        }
        let mut macros: Vec<SourceFile> = read_files(&root, &file.macro_paths, &["sql"], &mut diagnostics).into_iter().map(|(_, f)| f).collect();
        let mut singular_tests = Vec::new();
        for (folders, source_file) in read_files(&root, &file.test_paths, &["sql", "yml", "yaml"], &mut diagnostics) {
            let is_yaml = source_file.path.extension().is_some_and(|e| e != "sql");
            if is_yaml {
                properties_files.push(source_file);
            } else if folders.first().is_some_and(|f| f == "generic") {
                // `tests/generic/*.sql` hold `{% test %}` blocks, as in dbt.
                macros.push(source_file);
            } else {
                singular_tests.push(ModelFile { name: file_stem(&source_file.path), file: source_file, folders });
            }
        }
        let seeds = list_files(&root, &file.seed_paths, &["csv"])
            .into_iter()
            .map(|(folders, path)| SeedFile { name: file_stem(&path), path, folders })
            .collect();
        for (_, source_file) in read_files(&root, &file.seed_paths, &["yml", "yaml"], &mut diagnostics) {
            properties_files.push(source_file);
        }

        let parsed: Vec<Result<PropertiesFile, Diagnostic>> =
            properties_files.par_iter().map(|f| yaml::parse::<Option<PropertiesFile>>(&f.path, &f.text).map(Option::unwrap_or_default)).collect();
        let (mut model_properties, mut seed_properties, mut sources, mut exposures) = (vec![], vec![], vec![], vec![]);
        for (source_file, result) in properties_files.iter().zip(parsed) {
            match result {
                Ok(mut properties) => {
                    for m in &mut properties.models {
                        m.file = source_file.path.clone()
                    }
                    for m in &mut properties.seeds {
                        m.file = source_file.path.clone()
                    }
                    for s in &mut properties.sources {
                        s.file = source_file.path.clone()
                    }
                    for e in &mut properties.exposures {
                        e.file = source_file.path.clone()
                    }
                    model_properties.extend(properties.models);
                    seed_properties.extend(properties.seeds);
                    sources.extend(properties.sources);
                    exposures.extend(properties.exposures);
                }
                Err(diagnostic) => diagnostics.push(diagnostic),
            }
        }
        let mut docs = BTreeMap::new();
        for docs_file in &docs_files {
            parse_docs_blocks(docs_file, &mut docs, &mut diagnostics);
        }
        diagnostics.into_result()?;

        Ok(Project {
            target_path: root.join(&file.target_path),
            root,
            name: file.name,
            profile_name,
            vars,
            models_config: file.models,
            seeds_config: file.seeds,
            tests_config: file.tests,
            on_run_start: file.on_run_start.into_vec(),
            on_run_end: file.on_run_end.into_vec(),
            models,
            macros,
            seeds,
            singular_tests,
            model_properties,
            seed_properties,
            sources,
            exposures,
            docs,
            target,
            notifications,
        })
    }

    /// The absolute path of a project-relative path.
    pub fn absolute(&self, path: &Path) -> PathBuf {
        self.root.join(path)
    }
}

/// Where `key` (such as `on:`) is first written as a key after `section` in
/// `source`: at the start of a line, after `- `, `{` or `,`; else at `section`.
fn locate_key_after(file: &Path, source: &str, section: &str, key: &str) -> Location {
    let start = source.find(section).unwrap_or(0);
    let mut from = start;
    while let Some(found) = source[from..].find(key) {
        let at = from + found;
        let before = source[..at].chars().next_back();
        if before.is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '-')) {
            return Location::at_offset(file, source, at, key.trim_end_matches(':').len());
        }
        from = at + key.len();
    }
    Location::at_offset(file, source, start, section.trim_end_matches(':').len())
}

/// `--vars '{key: value}'`: a YAML or JSON mapping.
pub fn parse_cli_vars(text: &str) -> Result<serde_json::Map<String, Json>, Diagnostic> {
    let help = "pass a mapping, e.g. `--vars '{start_date: 2026-11-01}'` or `--vars '{\"key\": \"value\"}'`";
    match serde_norway::from_str::<Json>(text) {
        Ok(Json::Object(vars)) => Ok(vars),
        Ok(Json::Null) => Ok(serde_json::Map::new()),
        Ok(_) => Err(Diagnostic::new(format!("`--vars` must be a YAML or JSON mapping, got `{text}`")).help(help)),
        Err(err) => Err(Diagnostic::new(format!("`--vars` is not valid YAML or JSON: {err}")).help(help)),
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Every file with one of `extensions` under `dirs`, relative to `root`, with the
/// folders between its search dir and itself; sorted for a stable order.
fn list_files(root: &Path, dirs: &[String], extensions: &[&str]) -> Vec<(Vec<String>, PathBuf)> {
    let mut files = Vec::new();
    for dir in dirs {
        let base = root.join(dir);
        let first = files.len();
        for entry in walkdir::WalkDir::new(&base).into_iter().filter_map(Result::ok) {
            if !entry.file_type().is_file() {
                continue;
            }
            let path = entry.path();
            let Some(extension) = path.extension().and_then(|e| e.to_str()) else { continue };
            if !extensions.contains(&extension) {
                continue;
            }
            let Ok(relative) = path.strip_prefix(root) else { continue };
            let folders: Vec<String> = path
                .strip_prefix(&base)
                .ok()
                .and_then(Path::parent)
                .map(|parent| parent.iter().map(|p| p.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            files.push((folders, relative.to_path_buf()));
        }
        // The order of a walk sorted by name: by folders, then file name, as
        // one sort here (walkdir's sort takes each name apart again per comparison).
        files[first..].sort_by_cached_key(|(folders, path)| {
            let mut parts = folders.clone();
            parts.push(path.file_name().unwrap_or_default().to_string_lossy().into_owned());
            parts
        });
    }
    files
}

/// Like `list_files`, and reads each file (in parallel).
fn read_files(root: &Path, dirs: &[String], extensions: &[&str], diagnostics: &mut Diagnostics) -> Vec<(Vec<String>, SourceFile)> {
    let read: Vec<_> = list_files(root, dirs, extensions)
        .into_par_iter()
        .map(|(folders, path)| match std::fs::read_to_string(root.join(&path)) {
            Ok(text) => Ok((folders, SourceFile { path, text })),
            Err(err) => Err(Diagnostic::new(format!("could not read `{}`: {err}", path.display()))),
        })
        .collect();
    read.into_iter().filter_map(|result| result.map_err(|d| diagnostics.push(d)).ok()).collect()
}

/// Collects `{% docs name %}...{% enddocs %}` blocks of a markdown file.
fn parse_docs_blocks(file: &SourceFile, docs: &mut BTreeMap<String, String>, diagnostics: &mut Diagnostics) {
    let text = &file.text;
    let mut rest = 0;
    while let Some(start) = text[rest..].find("{%").map(|at| at + rest) {
        // The closing `%}` comes after the opening `{%`: in `{%}` they overlap.
        let Some(tag_end) = text[start + 2..].find("%}").map(|at| at + start + 4) else { break };
        let tag = text[start + 2..tag_end - 2].trim().trim_matches('-').trim();
        let mut words = tag.split_whitespace();
        if words.next() != Some("docs") {
            rest = tag_end;
            continue;
        }
        let name = words.next().unwrap_or_default().to_string();
        let Some(end) = find_tag(text, tag_end, "enddocs") else {
            diagnostics.push(Diagnostic::new(format!("`{{% docs {name} %}}` has no `{{% enddocs %}}`")).at(Location::at_offset(
                &file.path,
                text,
                start,
                tag_end - start,
            )));
            return;
        };
        docs.insert(name, text[tag_end..end.0].trim().to_string());
        rest = end.1;
    }
}

/// The start and end offsets of the first `{% word %}` tag at or after `from`.
fn find_tag(text: &str, from: usize, word: &str) -> Option<(usize, usize)> {
    let mut at = from;
    while let Some(start) = text[at..].find("{%").map(|i| i + at) {
        let end = text[start + 2..].find("%}").map(|i| i + start + 4)?;
        if text[start + 2..end - 2].trim().trim_matches('-').trim() == word {
            return Some((start, end));
        }
        at = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_listed_in_the_order_of_a_walk_sorted_by_name() {
        let root = tempfile::tempdir().unwrap();
        for file in ["models/b.sql", "models/a.sql", "models/a/x.sql", "models/a/b/y.sql", "models/a-b.sql", "models/c.yml", "more/z.sql"] {
            let path = root.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "select 1").unwrap();
        }
        let listed = list_files(root.path(), &["models".to_string(), "more".to_string()], &["sql"]);
        let paths: Vec<String> = listed.iter().map(|(_, path)| path.display().to_string()).collect();
        assert_eq!(paths, ["models/a/b/y.sql", "models/a/x.sql", "models/a-b.sql", "models/a.sql", "models/b.sql", "more/z.sql"]);
        assert_eq!(listed[0].0, ["a", "b"]);
    }

    #[test]
    fn docs_blocks_with_overlapping_tags_are_read_not_sliced_backwards() {
        let mut docs = BTreeMap::new();
        let mut diagnostics = Diagnostics::default();
        let file = SourceFile { path: "models/docs.md".into(), text: "{% docs dau %}Daily → users{% enddocs %} {%}".into() };
        parse_docs_blocks(&file, &mut docs, &mut diagnostics);
        assert_eq!(docs.get("dau").map(String::as_str), Some("Daily → users"));
        assert_eq!(find_tag("{%}", 0, "x"), None);
        let file = SourceFile { path: "models/docs.md".into(), text: "{%}".into() };
        parse_docs_blocks(&file, &mut docs, &mut diagnostics);
    }
}
