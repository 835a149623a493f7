//! Loading a dbt-style project: `dbt_project.yml`, the profile, and every model,
//! macro, seed, singular test, properties and docs file under the configured
//! paths. Each file is read once; nothing here renders Jinja except the
//! profile's `env_var()` calls.

pub mod config;
pub mod notifications;
pub mod packages;
pub mod profile;
pub mod properties;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::core::diagnostic::{Diagnostic, Diagnostics, Location};
use config::{ConfigMap, ConfigSection};
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
    #[serde(default = "default_snapshot_paths", rename = "snapshot-paths")]
    snapshot_paths: Vec<String>,
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
    #[serde(default)]
    snapshots: Json,
    #[serde(default, rename = "on-run-start")]
    on_run_start: OneOrMany,
    #[serde(default, rename = "on-run-end")]
    on_run_end: OneOrMany,
    #[serde(default)]
    notifications: Json,
    /// Where `strata deps` installs packages, and where they load from.
    #[serde(default = "default_packages_install_path", rename = "packages-install-path")]
    packages_install_path: String,
    /// `dispatch: [{macro_namespace: dbt_utils, search_order: [...]}]`.
    #[serde(default)]
    dispatch: Vec<DispatchConfig>,
}

/// Where `adapter.dispatch('name', macro_namespace)` looks, in order.
#[derive(Debug, Clone, Deserialize)]
pub struct DispatchConfig {
    pub macro_namespace: String,
    pub search_order: Vec<String>,
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
fn default_snapshot_paths() -> Vec<String> {
    vec!["snapshots".into()]
}
fn default_docs_paths() -> Vec<String> {
    Vec::new()
}
fn default_target_path() -> String {
    "target".into()
}
fn default_packages_install_path() -> String {
    "dbt_packages".into()
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
    /// The project or package the file belongs to.
    pub package: String,
    /// A snapshot (`{% snapshot %}` block or YAML `snapshots:` entry), not a model.
    pub is_snapshot: bool,
}

#[derive(Debug, Clone)]
pub struct SeedFile {
    pub name: String,
    pub path: PathBuf,
    pub folders: Vec<String>,
    pub package: String,
}

/// An installed package: a dbt project under `packages-install-path`, whose
/// models, seeds, tests and sources join the root project's, and whose macros
/// are reachable as `<name>.<macro>`.
#[derive(Debug)]
pub struct Package {
    pub name: String,
    /// Its folder, relative to the root project.
    pub path: PathBuf,
    /// The configs of its own `dbt_project.yml`, under the root project's.
    pub models_config: Json,
    pub seeds_config: Json,
    pub tests_config: Json,
    pub snapshots_config: Json,
    pub macros: Vec<SourceFile>,
}

/// What `strata deps` needs of a project.
#[derive(Debug)]
pub struct Identity {
    pub name: String,
    pub packages_install_path: PathBuf,
}

/// A loaded project, ready to be rendered.
#[derive(Debug)]
pub struct Project {
    pub root: PathBuf,
    pub name: String,
    pub profile_name: String,
    pub target_path: PathBuf,
    /// `test-paths`, relative to the root (unit tests' fixture files are under them).
    pub test_paths: Vec<String>,
    /// The vars the root project's nodes see (`package_vars`: a package's).
    pub vars: serde_json::Map<String, Json>,
    pub package_vars: BTreeMap<String, serde_json::Map<String, Json>>,
    pub models_config: Json,
    pub seeds_config: Json,
    pub tests_config: Json,
    pub snapshots_config: Json,
    pub on_run_start: Vec<String>,
    pub on_run_end: Vec<String>,
    pub models: Vec<ModelFile>,
    pub macros: Vec<SourceFile>,
    pub seeds: Vec<SeedFile>,
    pub singular_tests: Vec<ModelFile>,
    pub model_properties: Vec<ModelProperties>,
    pub seed_properties: Vec<ModelProperties>,
    pub snapshot_properties: Vec<ModelProperties>,
    pub unit_tests: Vec<properties::UnitTestProperties>,
    pub sources: Vec<SourceProperties>,
    pub exposures: Vec<ExposureProperties>,
    /// `{% docs name %}` blocks, by name.
    pub docs: BTreeMap<String, String>,
    pub target: Target,
    /// The webhooks of `notifications:`, the project's then the target's.
    pub notifications: Vec<notifications::Webhook>,
    /// The installed packages, by folder name.
    pub packages: Vec<Package>,
    /// `packages-install-path`, relative to the root.
    pub packages_install_path: PathBuf,
    pub dispatch: Vec<DispatchConfig>,
    /// The macro files' definitions, found once per invocation by the first
    /// that asks (templates, fingerprints): see `template::scanned_macro_files`.
    pub macro_scan: std::sync::OnceLock<Vec<MacroScan>>,
}

/// One macro file as templates read it: its text with `{% test %}` blocks
/// written as macros, and each macro's byte span in that text, by name.
#[derive(Debug)]
pub struct MacroScan {
    pub text: std::sync::Arc<str>,
    pub spans: MacroSpans,
}

/// Each macro's byte span in its file's text, by name.
pub type MacroSpans = BTreeMap<String, (usize, usize)>;

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
    /// Opens the target's warehouse. A DuckDB file locked by another process
    /// is waited for, up to `lock_timeout`.
    pub fn open_warehouse(&self, lock_timeout: std::time::Duration) -> Result<std::sync::Arc<dyn crate::warehouse::Warehouse>, Diagnostic> {
        crate::warehouse::open_target(&self.target, &self.root, &self.profile_name, lock_timeout)
    }

    /// Where the project at `root` writes its artifacts (`target-path`), read
    /// from `dbt_project.yml` alone, without the profile.
    pub fn target_path(root: &Path) -> Result<PathBuf, Diagnostics> {
        Ok(root.join(read_project_file(root)?.0.target_path))
    }

    /// The project at `root`'s name and where its packages are installed,
    /// read from `dbt_project.yml` alone.
    pub fn identity(root: &Path) -> Result<Identity, Diagnostics> {
        let file = read_project_file(root)?.0;
        Ok(Identity { name: file.name, packages_install_path: PathBuf::from(file.packages_install_path) })
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

        let install_path = PathBuf::from(&file.packages_install_path);
        let mut diagnostics = Diagnostics::default();
        let installed = installed_packages(&root, &install_path, &mut diagnostics);
        packages::check_installed(&root, &install_path, installed.len())?;
        let cli_vars = options.vars.as_deref().map(parse_cli_vars).transpose()?.unwrap_or_default();
        let (vars, package_vars) = project_vars(&file, &installed, &cli_vars);

        let target = profile::load(&profile_name, options.profiles_dir.as_deref(), &root, options.target.as_deref())?;
        let mut notifications =
            notifications::parse(&file.notifications, &display_path, &|key| locate_key_after(&display_path, &source, "notifications:", key))?;
        if let Some(value) = target.fields.get("notifications") {
            notifications.extend(notifications::parse(value, &target.file, &|key| target.locate(key))?);
        }

        let (mut files, packages) = read_all_files(&root, &file, installed, &mut diagnostics);
        let properties = read_properties(&files.properties, &mut diagnostics);
        files.models.extend(properties.snapshots.iter().filter_map(yaml_snapshot));
        let mut docs = BTreeMap::new();
        for docs_file in &files.docs {
            parse_docs_blocks(docs_file, &mut docs, &mut diagnostics);
        }
        diagnostics.into_result()?;

        Ok(Project {
            target_path: root.join(&file.target_path),
            test_paths: file.test_paths.clone(),
            root,
            name: file.name,
            profile_name,
            vars,
            package_vars,
            models_config: file.models,
            seeds_config: file.seeds,
            tests_config: file.tests,
            snapshots_config: file.snapshots,
            on_run_start: file.on_run_start.into_vec(),
            on_run_end: file.on_run_end.into_vec(),
            models: files.models,
            macros: files.macros,
            seeds: files.seeds,
            singular_tests: files.singular_tests,
            model_properties: properties.models,
            seed_properties: properties.seeds,
            snapshot_properties: properties.snapshots,
            unit_tests: properties.unit_tests,
            sources: properties.sources,
            exposures: properties.exposures,
            docs,
            target,
            notifications,
            packages,
            packages_install_path: install_path,
            dispatch: file.dispatch,
            macro_scan: std::sync::OnceLock::new(),
        })
    }

    /// The installed package named `name`.
    pub fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }

    /// Whether `name` is this project's or an installed package's.
    pub fn knows_package(&self, name: &str) -> bool {
        name == self.name || self.package(name).is_some()
    }

    /// The config `section` of `dbt_project.yml` gives the node `fqn`
    /// (`[project, folders.., name]`): a package's own file first, then the
    /// root project's above it, as in dbt.
    pub fn tree_config(&self, section: ConfigSection, fqn: &[String]) -> ConfigMap {
        fn tree(section: ConfigSection, [models, seeds, tests, snapshots]: [&Json; 4]) -> &Json {
            match section {
                ConfigSection::Models => models,
                ConfigSection::Seeds => seeds,
                ConfigSection::Tests => tests,
                ConfigSection::Snapshots => snapshots,
            }
        }
        let root = tree(section, [&self.models_config, &self.seeds_config, &self.tests_config, &self.snapshots_config]);
        let package = fqn.first().filter(|name| **name != self.name).and_then(|name| self.package(name));
        let Some(package) = package else { return config::from_tree(root, fqn) };
        let mut merged =
            config::from_tree(tree(section, [&package.models_config, &package.seeds_config, &package.tests_config, &package.snapshots_config]), fqn);
        config::merge(&mut merged, &config::from_tree(root, fqn));
        merged
    }

    /// `path` (of a file of `package`) relative to that project's own folder.
    pub fn project_relative<'p>(&self, package: &str, path: &'p Path) -> &'p Path {
        match self.package(package).filter(|_| package != self.name) {
            Some(package) => path.strip_prefix(&package.path).unwrap_or(path),
            None => path,
        }
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

/// Merges what a `vars:` mapping gives the nodes of `project` into `vars`:
/// its global keys, then its `{project: {...}}` block. The blocks of other
/// projects (`scopes`) are theirs.
fn scoped_vars(declared: &serde_json::Map<String, Json>, project: &str, scopes: &[&str], vars: &mut serde_json::Map<String, Json>) {
    for (key, value) in declared {
        if !(value.is_object() && scopes.contains(&key.as_str())) {
            vars.insert(key.clone(), value.clone());
        }
    }
    if let Some(Json::Object(scoped)) = declared.get(project) {
        vars.extend(scoped.clone());
    }
}

/// The vars the root project's nodes see, and those each package's nodes
/// see, as dbt scopes them: a node of project P sees P's own file's vars (for
/// a package), then the root project's, each file's global keys first and
/// then its `P:` block; `--vars` last.
fn project_vars(
    file: &ProjectFile,
    installed: &[(PathBuf, ProjectFile)],
    cli_vars: &serde_json::Map<String, Json>,
) -> (serde_json::Map<String, Json>, BTreeMap<String, serde_json::Map<String, Json>>) {
    let scopes: Vec<&str> = std::iter::once(file.name.as_str()).chain(installed.iter().map(|(_, p)| p.name.as_str())).collect();
    let view = |layers: &[&serde_json::Map<String, Json>], project: &str| {
        let mut vars = serde_json::Map::new();
        for layer in layers {
            scoped_vars(layer, project, &scopes, &mut vars);
        }
        vars.extend(cli_vars.clone());
        vars
    };
    let vars = view(&[&file.vars], &file.name);
    let package_vars = installed.iter().map(|(_, p)| (p.name.clone(), view(&[&p.vars, &file.vars], &p.name))).collect();
    (vars, package_vars)
}

/// Every package installed under `install_path` (relative to `root`): each
/// folder holding a `dbt_project.yml`, by folder name, with that file read.
fn installed_packages(root: &Path, install_path: &Path, diagnostics: &mut Diagnostics) -> Vec<(PathBuf, ProjectFile)> {
    let Ok(entries) = std::fs::read_dir(root.join(install_path)) else { return Vec::new() };
    let mut folders: Vec<PathBuf> = entries.filter_map(Result::ok).map(|entry| install_path.join(entry.file_name())).collect();
    folders.sort();
    let mut packages = Vec::new();
    for folder in folders {
        let project_path = folder.join("dbt_project.yml");
        let Ok(text) = std::fs::read_to_string(root.join(&project_path)) else { continue };
        match yaml::parse::<ProjectFile>(&project_path, &text) {
            Ok(file) => packages.push((folder, file)),
            Err(diagnostic) => diagnostics.push(diagnostic),
        }
    }
    packages
}

/// The files of one project (the root, `base` empty, or a package under it).
#[derive(Default)]
struct ProjectFiles {
    models: Vec<ModelFile>,
    macros: Vec<SourceFile>,
    seeds: Vec<SeedFile>,
    singular_tests: Vec<ModelFile>,
    /// Properties files, with the project they belong to.
    properties: Vec<(String, SourceFile)>,
    docs: Vec<SourceFile>,
}

/// Reads every file of the project whose `dbt_project.yml` is `file`, in the
/// folder `base` under `root`.
fn read_project_files(root: &Path, base: &Path, file: &ProjectFile, diagnostics: &mut Diagnostics) -> ProjectFiles {
    let package = &file.name;
    let under = |dirs: &[String]| -> Vec<String> { dirs.iter().map(|dir| base.join(dir).to_string_lossy().into_owned()).collect() };
    let mut files = ProjectFiles::default();
    for (folders, source_file) in read_files(root, &under(&file.model_paths), &["sql", "yml", "yaml", "md"], diagnostics) {
        match source_file.path.extension().and_then(|e| e.to_str()) {
            Some("sql") => files.models.push(ModelFile {
                name: file_stem(&source_file.path),
                file: source_file,
                folders,
                package: package.clone(),
                is_snapshot: false,
            }),
            Some("md") => files.docs.push(source_file),
            _ => files.properties.push((package.clone(), source_file)),
        }
    }
    for (_, source_file) in read_files(root, &under(&file.docs_paths), &["md"], diagnostics) {
        files.docs.push(source_file);
    }
    files.macros = read_files(root, &under(&file.macro_paths), &["sql"], diagnostics).into_iter().map(|(_, f)| f).collect();
    for (folders, source_file) in read_files(root, &under(&file.test_paths), &["sql", "yml", "yaml"], diagnostics) {
        let is_yaml = source_file.path.extension().is_some_and(|e| e != "sql");
        if is_yaml {
            files.properties.push((package.clone(), source_file));
        } else if folders.first().is_some_and(|f| f == "generic") {
            // `tests/generic/*.sql` hold `{% test %}` blocks, as in dbt.
            files.macros.push(source_file);
        } else if folders.first().is_some_and(|f| f == "fixtures") {
            // `tests/fixtures/` holds unit tests' rows, read when a test names them.
        } else {
            files.singular_tests.push(ModelFile {
                name: file_stem(&source_file.path),
                file: source_file,
                folders,
                package: package.clone(),
                is_snapshot: false,
            });
        }
    }
    for (folders, source_file) in read_files(root, &under(&file.snapshot_paths), &["sql", "yml", "yaml"], diagnostics) {
        if source_file.path.extension().is_some_and(|e| e == "sql") {
            files.models.extend(parse_snapshot_blocks(&source_file, &folders, package, diagnostics));
        } else {
            files.properties.push((package.clone(), source_file));
        }
    }
    let seed_paths = under(&file.seed_paths);
    files.seeds = list_files(root, &seed_paths, &["csv"])
        .into_iter()
        .map(|(folders, path)| SeedFile { name: file_stem(&path), path, folders, package: package.clone() })
        .collect();
    for (_, source_file) in read_files(root, &seed_paths, &["yml", "yaml"], diagnostics) {
        files.properties.push((package.clone(), source_file));
    }
    files
}

/// The files of the root project, whose `dbt_project.yml` is `file`, and of
/// the `installed` packages, together; and the packages, with their own configs and macros.
fn read_all_files(
    root: &Path,
    file: &ProjectFile,
    installed: Vec<(PathBuf, ProjectFile)>,
    diagnostics: &mut Diagnostics,
) -> (ProjectFiles, Vec<Package>) {
    let mut files = read_project_files(root, Path::new(""), file, diagnostics);
    let mut packages = Vec::with_capacity(installed.len());
    for (path, package_file) in installed {
        let package_files = read_project_files(root, &path, &package_file, diagnostics);
        files.models.extend(package_files.models);
        files.seeds.extend(package_files.seeds);
        files.singular_tests.extend(package_files.singular_tests);
        files.properties.extend(package_files.properties);
        files.docs.extend(package_files.docs);
        packages.push(Package {
            name: package_file.name,
            path,
            models_config: package_file.models,
            seeds_config: package_file.seeds,
            tests_config: package_file.tests,
            snapshots_config: package_file.snapshots,
            macros: package_files.macros,
        });
    }
    (files, packages)
}

/// The entries of every properties file, by kind, each with its file and package.
#[derive(Default)]
struct PropertiesByKind {
    models: Vec<ModelProperties>,
    seeds: Vec<ModelProperties>,
    snapshots: Vec<ModelProperties>,
    unit_tests: Vec<properties::UnitTestProperties>,
    sources: Vec<SourceProperties>,
    exposures: Vec<ExposureProperties>,
}

/// Parses the properties files (in parallel), each with the project it belongs to.
fn read_properties(files: &[(String, SourceFile)], diagnostics: &mut Diagnostics) -> PropertiesByKind {
    let parsed: Vec<Result<PropertiesFile, Diagnostic>> =
        files.par_iter().map(|(_, f)| yaml::parse::<Option<PropertiesFile>>(&f.path, &f.text).map(Option::unwrap_or_default)).collect();
    let mut all = PropertiesByKind::default();
    for ((package, source_file), result) in files.iter().zip(parsed) {
        match result {
            Ok(mut properties) => {
                for m in properties.models.iter_mut().chain(&mut properties.seeds).chain(&mut properties.snapshots) {
                    m.file = source_file.path.clone();
                    m.package = package.clone();
                }
                for s in &mut properties.sources {
                    s.file = source_file.path.clone();
                    s.package = package.clone();
                }
                for e in &mut properties.exposures {
                    e.file = source_file.path.clone();
                    e.package = package.clone();
                }
                for test in &mut properties.unit_tests {
                    test.file = source_file.path.clone();
                    test.package = package.clone();
                }
                all.models.extend(properties.models);
                all.seeds.extend(properties.seeds);
                all.sources.extend(properties.sources);
                all.exposures.extend(properties.exposures);
                all.snapshots.extend(properties.snapshots);
                all.unit_tests.extend(properties.unit_tests);
            }
            Err(diagnostic) => diagnostics.push(diagnostic),
        }
    }
    all
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

/// A snapshot defined in YAML (`snapshots:` with `relation: ref('orders')`,
/// dbt 1.9): a snapshot of every row of that relation.
fn yaml_snapshot(properties: &ModelProperties) -> Option<ModelFile> {
    let relation = properties.relation.as_deref()?;
    Some(ModelFile {
        name: properties.name.clone(),
        file: SourceFile { path: properties.file.clone(), text: format!("select * from {{{{ {} }}}}", relation.trim()) },
        folders: Vec::new(),
        package: properties.package.clone(),
        is_snapshot: true,
    })
}

/// Collects `{% docs name %}...{% enddocs %}` blocks of a markdown file.
fn parse_docs_blocks(file: &SourceFile, docs: &mut BTreeMap<String, String>, diagnostics: &mut Diagnostics) {
    for (name, body) in named_blocks(file, "docs", diagnostics) {
        docs.insert(name, file.text[body].trim().to_string());
    }
}

/// The `{% snapshot name %}` blocks of a snapshot file, each a model file of
/// its own whose text is the block's body, at the lines it has in the file
/// (the lines before it left blank), so errors point into the file.
fn parse_snapshot_blocks(file: &SourceFile, folders: &[String], package: &str, diagnostics: &mut Diagnostics) -> Vec<ModelFile> {
    let blocks = named_blocks(file, "snapshot", diagnostics);
    blocks
        .into_iter()
        .map(|(name, body)| {
            let lines_before = file.text[..body.start].matches('\n').count();
            let column = body.start - file.text[..body.start].rfind('\n').map_or(0, |at| at + 1);
            let text = format!("{}{}{}", "\n".repeat(lines_before), " ".repeat(column), &file.text[body]);
            ModelFile {
                name,
                file: SourceFile { path: file.path.clone(), text },
                folders: folders.to_vec(),
                package: package.to_string(),
                is_snapshot: true,
            }
        })
        .collect()
}

/// Every `{% word name %} ... {% endword %}` block of `file`: its name and
/// the byte range of its body. A block without its end is an error.
fn named_blocks(file: &SourceFile, word: &str, diagnostics: &mut Diagnostics) -> Vec<(String, std::ops::Range<usize>)> {
    let text = &file.text;
    let mut blocks = Vec::new();
    let mut rest = 0;
    while let Some(start) = text[rest..].find("{%").map(|at| at + rest) {
        // The closing `%}` comes after the opening `{%`: in `{%}` they overlap.
        let Some(tag_end) = text[start + 2..].find("%}").map(|at| at + start + 4) else { break };
        let tag = text[start + 2..tag_end - 2].trim().trim_matches('-').trim();
        let mut words = tag.split_whitespace();
        if words.next() != Some(word) {
            rest = tag_end;
            continue;
        }
        let name = words.next().unwrap_or_default().to_string();
        let Some(end) = find_tag(text, tag_end, &format!("end{word}")) else {
            diagnostics.push(Diagnostic::new(format!("`{{% {word} {name} %}}` has no `{{% end{word} %}}`")).at(Location::at_offset(
                &file.path,
                text,
                start,
                tag_end - start,
            )));
            break;
        };
        blocks.push((name, tag_end..end.0));
        rest = end.1;
    }
    blocks
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
