//! The packages a project declares (`packages.yml`, or `dependencies.yml`'s
//! `packages:`), and the lock `strata deps` writes (`package-lock.yml`, in
//! dbt's format, so a repository can switch tools without re-locking).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::core::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::project::yaml;

/// One entry of `packages:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageSpec {
    /// `package: dbt-labs/dbt_utils` with `version:` ranges, from the package hub.
    Hub { package: String, versions: Vec<String>, install_prerelease: bool },
    /// `git:` a repository, at `revision`, from `subdirectory`.
    Git { git: String, revision: Option<String>, subdirectory: Option<String>, warn_unpinned: bool },
    /// `local:` a folder, relative to the project.
    Local { local: PathBuf },
    /// `tarball:` a URL, installed as `name`.
    Tarball { tarball: String, name: String },
}

/// The file packages are declared in, and its entries.
#[derive(Debug, Clone)]
pub struct Declared {
    /// `packages.yml` or `dependencies.yml`.
    pub file: PathBuf,
    pub text: String,
    pub packages: Vec<PackageSpec>,
    /// The entries as written, for the lock's hash.
    pub entries: Vec<Json>,
}

#[derive(Deserialize)]
struct PackagesFile {
    #[serde(default)]
    packages: Option<Vec<Json>>,
}

/// The packages `root` declares; `None` when it declares none.
pub fn declared(root: &Path) -> Result<Option<Declared>, Diagnostics> {
    let mut found = Vec::new();
    for name in ["packages.yml", "dependencies.yml"] {
        if let Ok(text) = std::fs::read_to_string(root.join(name)) {
            let file: Option<PackagesFile> = yaml::parse(Path::new(name), &text)?;
            if let Some(entries) = file.and_then(|f| f.packages) {
                found.push((PathBuf::from(name), text, entries));
            }
        }
    }
    if found.len() > 1 {
        return Err(Diagnostic::new("both `packages.yml` and `dependencies.yml` declare `packages:`")
            .at(Location::file(Path::new("dependencies.yml")))
            .help("keep the packages in one of them")
            .into());
    }
    let Some((file, text, entries)) = found.pop() else { return Ok(None) };
    let mut diagnostics = Diagnostics::default();
    let mut packages = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        match PackageSpec::parse(entry) {
            Ok(spec) => packages.push(spec),
            Err(message) => diagnostics.push(
                Diagnostic::new(format!("package {} of `{}`: {message}", index + 1, file.display()))
                    .at(entry_location(&file, &text, index))
                    .help("write `- package: dbt-labs/dbt_utils` with `version:`, `- git: <url>` with `revision:`, or `- local: <folder>`"),
            ),
        }
    }
    diagnostics.into_result()?;
    Ok(Some(Declared { file, text, packages, entries }))
}

/// Where the `index`-th `- ` entry of the packages list is written.
fn entry_location(file: &Path, text: &str, index: usize) -> Location {
    let mut offset = 0;
    let mut seen = 0;
    // The entries are the `- ` items at the first item's indentation (a
    // version list under an entry is deeper).
    let mut entry_indent = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.starts_with("- ") && *entry_indent.get_or_insert(indent) == indent {
            if seen == index {
                let at = offset + line.len() - trimmed.len();
                return Location::at_offset(file, text, at, trimmed.trim_end().len());
            }
            seen += 1;
        }
        offset += line.len();
    }
    Location::file(file)
}

impl PackageSpec {
    /// One entry of a `packages:` list (a package's own, or the hub's list of a version's dependencies).
    pub fn parse(entry: &Json) -> Result<PackageSpec, String> {
        let Json::Object(map) = entry else { return Err(format!("`{entry}` is not a mapping")) };
        let text = |key: &str| -> Result<Option<String>, String> {
            match map.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(Json::String(text)) => Ok(Some(text.clone())),
                Some(Json::Number(number)) => Ok(Some(number.to_string())),
                Some(other) => Err(format!("`{key}: {other}` is not text")),
            }
        };
        let flag = |key: &str, default: bool| map.get(key).and_then(Json::as_bool).unwrap_or(default);
        if let Some(package) = text("package")? {
            let versions = match map.get("version") {
                None | Some(Json::Null) => {
                    return Err(format!("hub package `{package}` has no `version:`; pin one, e.g. `version: [\">=1.0.0\", \"<2.0.0\"]`"));
                }
                Some(Json::Array(items)) => items.iter().map(version_text).collect::<Result<_, _>>()?,
                Some(other) => vec![version_text(other)?],
            };
            return Ok(PackageSpec::Hub { package, versions, install_prerelease: flag("install-prerelease", false) });
        }
        if let Some(git) = text("git")? {
            return Ok(PackageSpec::Git {
                git,
                revision: text("revision")?,
                subdirectory: text("subdirectory")?,
                warn_unpinned: flag("warn-unpinned", true),
            });
        }
        if let Some(local) = text("local")? {
            return Ok(PackageSpec::Local { local: PathBuf::from(local) });
        }
        if let Some(tarball) = text("tarball")? {
            let Some(name) = text("name")? else { return Err(format!("tarball `{tarball}` has no `name:`")) };
            return Ok(PackageSpec::Tarball { tarball, name });
        }
        Err("it names no `package:`, `git:`, `local:` or `tarball:`".into())
    }

    /// How the package is written, for messages: `dbt-labs/dbt_utils`, a URL, a folder.
    pub fn label(&self) -> String {
        match self {
            PackageSpec::Hub { package, .. } => package.clone(),
            PackageSpec::Git { git, .. } => git.clone(),
            PackageSpec::Local { local } => local.display().to_string(),
            PackageSpec::Tarball { tarball, .. } => tarball.clone(),
        }
    }
}

fn version_text(value: &Json) -> Result<String, String> {
    match value {
        Json::String(text) => Ok(text.clone()),
        Json::Number(number) => Ok(number.to_string()),
        other => Err(format!("version `{other}` is not text")),
    }
}

/// `package-lock.yml`: every package, direct and transitive, as resolved,
/// and the hash of the declaration it was resolved from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lock {
    #[serde(default)]
    pub packages: Vec<LockedPackage>,
    #[serde(default)]
    pub sha1_hash: String,
}

/// One resolved package, as dbt writes it in `package-lock.yml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LockedPackage {
    Hub {
        package: String,
        version: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Git {
        git: String,
        revision: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subdirectory: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Local {
        local: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Tarball {
        tarball: String,
        name: String,
    },
}

pub const LOCK_FILE: &str = "package-lock.yml";

impl Lock {
    /// `package-lock.yml` of `root`, if there is one.
    pub fn read(root: &Path) -> Result<Option<Lock>, Diagnostics> {
        match std::fs::read_to_string(root.join(LOCK_FILE)) {
            Ok(text) => Ok(Some(yaml::parse(Path::new(LOCK_FILE), &text)?)),
            Err(_) => Ok(None),
        }
    }

    /// The lock as dbt writes it: keys in alphabetical order, list items
    /// indented, text quoted where YAML would read it as something else.
    pub fn to_yaml(&self) -> String {
        let mut out = String::from("packages:\n");
        for package in &self.packages {
            let fields = match serde_json::to_value(package) {
                Ok(Json::Object(fields)) => fields,
                _ => continue,
            };
            let mut fields: Vec<(String, Json)> = fields.into_iter().collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            for (index, (key, value)) in fields.iter().enumerate() {
                let lead = if index == 0 { "  - " } else { "    " };
                out.push_str(&format!("{lead}{key}: {}\n", yaml_scalar(value.as_str().unwrap_or_default())));
            }
        }
        out.push_str(&format!("sha1_hash: {}\n", self.sha1_hash));
        out
    }
}

/// `text` as a YAML scalar that reads back as that text: plain when it does, else single-quoted.
fn yaml_scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.starts_with(|c: char| c.is_whitespace() || "-?:,[]{}#&*!|>'\"%@`".contains(c))
        && !text.ends_with(char::is_whitespace)
        && !text.contains(": ")
        && !text.contains(" #")
        && !looks_like_yaml_1_1_scalar(text)
        && matches!(serde_norway::from_str::<Json>(text), Ok(Json::String(ref read)) if read == text);
    if plain { text.to_string() } else { format!("'{}'", text.replace('\'', "''")) }
}

/// Whether a YAML 1.1 reader (dbt's) would take `text` for a number or a
/// boolean: `0123` is an octal number there, `yes` a boolean.
fn looks_like_yaml_1_1_scalar(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    text.parse::<f64>().is_ok()
        || text.chars().all(|c| c.is_ascii_digit() || c == '_')
        || ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"].contains(&lower.as_str())
}

/// The hash dbt records as `sha1_hash`: of each declared entry as dbt's
/// package spec serializes it (`json.dumps(..., sort_keys=True)`), sorted,
/// joined by newlines. Equal hashes mean the lock was resolved from this declaration.
pub fn sha1_hash(entries: &[Json]) -> String {
    let mut lines: Vec<String> = entries.iter().map(|entry| crate::core::python::json_dumps_sorted(&spec_dict(entry))).collect();
    lines.sort();
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, lines.join("\n").as_bytes());
    digest.as_ref().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// dbt's `to_dict()` of a package entry: its fields, unset ones as `null`
/// (but `name`, dropped when unset), and the entry as written under `unrendered`.
fn spec_dict(entry: &Json) -> Json {
    let Json::Object(map) = entry else { return entry.clone() };
    let fields: &[&str] = if map.contains_key("package") {
        &["package", "version", "install_prerelease", "name"]
    } else if map.contains_key("git") {
        &["git", "revision", "warn-unpinned", "subdirectory", "name"]
    } else if map.contains_key("local") {
        &["local", "name"]
    } else {
        &["tarball", "name"]
    };
    let mut dict = serde_json::Map::new();
    for field in fields {
        let written = if *field == "install_prerelease" { map.get("install-prerelease").or(map.get(*field)) } else { map.get(*field) };
        match (written, *field) {
            (None, "name") => {}
            (None, "install_prerelease") => {
                dict.insert(field.to_string(), Json::Bool(false));
            }
            (value, _) => {
                dict.insert(field.to_string(), value.cloned().unwrap_or(Json::Null));
            }
        }
    }
    dict.insert("unrendered".into(), entry.clone());
    Json::Object(dict)
}

/// Refuses to load a project whose declared packages are not all installed.
pub fn check_installed(root: &Path, install_path: &Path, installed: usize) -> Result<(), Diagnostics> {
    let Some(declared) = declared(root)? else { return Ok(()) };
    if declared.packages.len() <= installed {
        return Ok(());
    }
    Err(Diagnostic::new(format!(
        "`{}` declares {} package(s), but only {installed} are installed in `{}`",
        declared.file.display(),
        declared.packages.len(),
        install_path.display()
    ))
    .at(Location::file(&declared.file))
    .help("run `strata deps` to install them")
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The hashes dbt-core's own tests expect for these declarations.
    #[test]
    fn the_lock_hash_is_dbt_s() {
        let hub: Json = serde_json::json!({"package": "fivetran/fivetran_utils", "version": "0.4.7"});
        assert_eq!(sha1_hash(&[hub]), "71304bca2138cf8004070b3573a1e17183c0c1a8");
    }

    #[test]
    fn an_entry_is_located_past_the_version_lists_of_those_before_it() {
        let text = "packages:\n  - package: a/b\n    version:\n      - \">=1.0.0\"\n  - gitt: x\n";
        let location = entry_location(Path::new("packages.yml"), text, 1);
        assert_eq!(location.to_string(), Location::in_source(Path::new("packages.yml"), text, 5, Some(3)).to_string());
    }

    #[test]
    fn the_lock_is_written_as_dbt_writes_it() {
        let lock = Lock {
            packages: vec![
                LockedPackage::Hub { package: "dbt-labs/dbt_utils".into(), version: "1.3.0".into(), name: Some("dbt_utils".into()) },
                LockedPackage::Git {
                    git: "https://example.com/r.git".into(),
                    revision: "0123".into(),
                    subdirectory: Some("sub".into()),
                    name: Some("p".into()),
                },
                LockedPackage::Local { local: "../local_pkg".into(), name: Some("local_pkg".into()) },
                LockedPackage::Hub { package: "a/b".into(), version: "1.0".into(), name: None },
            ],
            sha1_hash: "abc".into(),
        };
        let text = lock.to_yaml();
        assert_eq!(
            text,
            "packages:\n  - name: dbt_utils\n    package: dbt-labs/dbt_utils\n    version: 1.3.0\n  - git: https://example.com/r.git\n    name: p\n    revision: '0123'\n    subdirectory: sub\n  - local: ../local_pkg\n    name: local_pkg\n  - package: a/b\n    version: '1.0'\nsha1_hash: abc\n"
        );
        assert_eq!(serde_norway::from_str::<Lock>(&text).expect("reads back"), lock);
    }
}
