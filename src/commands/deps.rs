//! `strata deps`: resolves the packages of `packages.yml` (hub versions,
//! git revisions, local folders, tarballs, and what each of them requires in
//! turn), records them in `package-lock.yml`, and installs exactly the locked
//! packages into `packages-install-path`.
//!
//! The lock is dbt's: the same file, the same `sha1_hash` of the
//! declaration, so a repository locked by dbt installs the same packages here.
//! With the lock unchanged and every package in place, nothing is fetched.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

use crate::core::diagnostic::{Diagnostic, Diagnostics};
use crate::project::packages::{self, Declared, LOCK_FILE, Lock, LockedPackage, PackageSpec};
use crate::project::{LoadOptions, Project};
use crate::session::Failure;

/// The package hub strata asks for hub packages; `DBT_PACKAGE_HUB_URL` replaces it, as in dbt.
const DEFAULT_HUB: &str = "https://hub.getdbt.com/";

/// What `deps` is asked to do beyond installing the lock.
#[derive(Debug, Clone, Copy, Default)]
pub struct DepsOptions {
    /// `--upgrade`: resolve again even when the lock matches the declaration.
    pub upgrade: bool,
    /// `--lock`: write the lock, install nothing.
    pub lock_only: bool,
}

pub fn deps(options: &LoadOptions, deps: DepsOptions) -> Result<i32, Failure> {
    let root = &options.project_dir;
    let identity = Project::identity(root)?;
    let install_path = root.join(&identity.packages_install_path);
    let mut out = std::io::stdout().lock();
    let Some(declared) = packages::declared(root)? else {
        writeln!(out, "No packages are declared in `packages.yml` or `dependencies.yml`; nothing to install")?;
        return Ok(0);
    };
    let hash = packages::sha1_hash(&declared.entries);
    let mut fetcher = Fetcher::new(root, &install_path);
    let current = Lock::read(root)?;
    let (lock, lock_text) = match current {
        Some(lock) if lock.sha1_hash == hash && !deps.upgrade => {
            let text = lock.to_yaml();
            (lock, text)
        }
        _ => {
            let lock = Lock { packages: fetcher.resolve(&declared, &identity.name)?, sha1_hash: hash };
            let text = lock.to_yaml();
            std::fs::write(root.join(LOCK_FILE), &text).map_err(|err| Diagnostic::new(format!("could not write `{LOCK_FILE}`: {err}")))?;
            writeln!(out, "Locked {} package(s) in `{LOCK_FILE}`", lock.packages.len())?;
            (lock, text)
        }
    };
    if deps.lock_only {
        return Ok(0);
    }
    let record = install_path.join(INSTALLED_RECORD);
    let installed = std::fs::read_to_string(&record).is_ok_and(|text| text == lock_text);
    if installed && lock.packages.iter().all(|package| install_path.join(locked_name(package)).exists()) {
        writeln!(out, "All {} package(s) are installed and match `{LOCK_FILE}`", lock.packages.len())?;
        return Ok(0);
    }
    fetcher.install(&lock)?;
    std::fs::write(&record, lock_text).map_err(|err| Diagnostic::new(format!("could not write `{}`: {err}", record.display())))?;
    for package in &lock.packages {
        writeln!(out, "Installed {}", describe(package))?;
    }
    Ok(0)
}

/// A copy of the lock the packages were installed from, beside them.
const INSTALLED_RECORD: &str = ".strata-installed.yml";

fn locked_name(package: &LockedPackage) -> &str {
    match package {
        LockedPackage::Hub { name, package, .. } => name.as_deref().unwrap_or_else(|| package.rsplit('/').next().unwrap_or(package)),
        LockedPackage::Git { name, git, .. } => name.as_deref().unwrap_or(git),
        LockedPackage::Local { name, local } => name.as_deref().unwrap_or(local),
        LockedPackage::Tarball { name, .. } => name,
    }
}

fn describe(package: &LockedPackage) -> String {
    match package {
        LockedPackage::Hub { package, version, .. } => format!("{package} {version}"),
        LockedPackage::Git { git, revision, .. } => format!("{git} at {revision}"),
        LockedPackage::Local { local, .. } => format!("{local} (local)"),
        LockedPackage::Tarball { tarball, name } => format!("{name} from {tarball}"),
    }
}

/// A package being resolved: its spec and who asked for it.
struct Requirement {
    spec: PackageSpec,
    /// `packages.yml`, or the package that requires it.
    by: String,
}

/// One resolution and installation: hub documents, checkouts and downloads
/// are fetched once and kept for its length (installing takes what resolving
/// fetched), in a folder removed at the end.
struct Fetcher<'a> {
    root: &'a Path,
    install_path: &'a Path,
    hub: String,
    client: Option<reqwest::blocking::Client>,
    hub_documents: BTreeMap<String, Json>,
    /// Checkouts by (URL, commit) and unpacked downloads by URL, not yet installed.
    fetched: BTreeMap<String, PathBuf>,
    scratch: PathBuf,
    checkouts: usize,
}

impl Drop for Fetcher<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

impl<'a> Fetcher<'a> {
    fn new(root: &'a Path, install_path: &'a Path) -> Fetcher<'a> {
        let mut hub = std::env::var("DBT_PACKAGE_HUB_URL").unwrap_or_else(|_| DEFAULT_HUB.to_string());
        if !hub.ends_with('/') {
            hub.push('/');
        }
        let scratch = std::env::temp_dir().join(format!("strata-deps-{}", std::process::id()));
        Fetcher { root, install_path, hub, client: None, hub_documents: BTreeMap::new(), fetched: BTreeMap::new(), scratch, checkouts: 0 }
    }

    /// Every package, the declared ones first, then what each requires, a level at a time.
    fn resolve(&mut self, declared: &Declared, root_name: &str) -> Result<Vec<LockedPackage>, Failure> {
        let by = declared.file.display().to_string();
        let mut pending: Vec<Requirement> = declared.packages.iter().map(|spec| Requirement { spec: spec.clone(), by: by.clone() }).collect();
        // Hub packages collect every requirement on them before a version is picked.
        let mut hub_requirements: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut resolved: BTreeMap<String, LockedPackage> = BTreeMap::new();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        while !pending.is_empty() {
            let mut next = Vec::new();
            for requirement in std::mem::take(&mut pending) {
                let key = package_key(&requirement.spec);
                if let PackageSpec::Hub { package, versions, install_prerelease } = &requirement.spec {
                    let entry = hub_requirements.entry(package.clone()).or_default();
                    entry.extend(versions.iter().map(|v| (v.clone(), requirement.by.clone())));
                    let (locked, requires) = self.resolve_hub(package, entry, *install_prerelease)?;
                    let first = !resolved.contains_key(&key);
                    if first {
                        claim_name(&mut names, root_name, locked_name(&locked), &requirement.spec.label())?;
                        order.push(key.clone());
                        next.extend(requires.into_iter().map(|spec| Requirement { spec, by: describe(&locked) }));
                    }
                    resolved.insert(key, locked);
                    continue;
                }
                if resolved.contains_key(&key) {
                    continue;
                }
                let (locked, folder) = self.fetch(&requirement.spec)?;
                claim_name(&mut names, root_name, locked_name(&locked), &requirement.spec.label())?;
                for spec in package_requirements(&folder)? {
                    next.push(Requirement { spec, by: describe(&locked) });
                }
                order.push(key.clone());
                resolved.insert(key, locked);
            }
            pending = next;
        }
        Ok(order.into_iter().filter_map(|key| resolved.remove(&key)).collect())
    }

    /// The hub's document of `package` (`namespace/name`), fetched once.
    fn hub_document(&mut self, package: &str) -> Result<Json, Diagnostic> {
        if let Some(document) = self.hub_documents.get(package) {
            return Ok(document.clone());
        }
        let url = format!("{}api/v1/{package}.json", self.hub);
        let response = self.http()?.get(&url).send().map_err(|err| Diagnostic::new(format!("could not reach the package hub at `{url}`: {err}")))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(Diagnostic::new(format!("package `{package}` was not found in the package hub ({})", self.hub))
                .help("check its name on hub.getdbt.com (`namespace/name`), or install it with `git:`"));
        }
        let document: Json = response
            .error_for_status()
            .and_then(|r| r.json())
            .map_err(|err| Diagnostic::new(format!("the package hub's answer for `{package}` ({url}) could not be read: {err}")))?;
        self.hub_documents.insert(package.to_string(), document.clone());
        Ok(document)
    }

    /// The highest hub version satisfying every requirement, and what it requires.
    fn resolve_hub(
        &mut self,
        package: &str,
        requirements: &[(String, String)],
        install_prerelease: bool,
    ) -> Result<(LockedPackage, Vec<PackageSpec>), Diagnostic> {
        let document = self.hub_document(package)?;
        let versions = document.get("versions").and_then(Json::as_object).cloned().unwrap_or_default();
        let prerelease = install_prerelease || requirements.iter().any(|(r, _)| r.contains('-'));
        let mut best: Option<(semver::Version, &Json)> = None;
        for (text, entry) in &versions {
            let Ok(version) = semver::Version::parse(text) else { continue };
            if !version.pre.is_empty() && !prerelease {
                continue;
            }
            let mut fits = true;
            for (requirement, by) in requirements {
                fits &= satisfies(&version, requirement)
                    .map_err(|message| Diagnostic::new(format!("package `{package}` (required by {by}): {message}")))?;
            }
            if fits && best.as_ref().is_none_or(|(b, _)| version > *b) {
                best = Some((version, entry));
            }
        }
        let Some((version, entry)) = best else {
            // Each requirer's versions together: `>=1.0.0, <2.0.0` (by packages.yml).
            let mut asked: Vec<(String, &str)> = Vec::new();
            for (requirement, by) in requirements {
                match asked.iter_mut().find(|(_, b)| *b == by.as_str()) {
                    Some((text, _)) => text.push_str(&format!(", {requirement}")),
                    None => asked.push((requirement.clone(), by)),
                }
            }
            let asked: Vec<String> = asked.iter().map(|(text, by)| format!("`{text}` (by {by})")).collect();
            let mut available: Vec<&String> = versions.keys().collect();
            available.sort_by_key(|v| semver::Version::parse(v).ok());
            return Err(Diagnostic::new(format!("no version of package `{package}` satisfies every requirement: {}", asked.join(" and ")))
                .note(format!("the hub has {}", available.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")))
                .help("change one of the version ranges so they overlap"));
        };
        let name = entry.get("name").and_then(Json::as_str).map(str::to_string);
        let mut requires = Vec::new();
        for dependency in entry.get("packages").and_then(Json::as_array).into_iter().flatten() {
            requires.push(
                PackageSpec::parse(dependency)
                    .map_err(|message| Diagnostic::new(format!("package `{package}` {version} requires `{dependency}`: {message}")))?,
            );
        }
        Ok((LockedPackage::Hub { package: package.to_string(), version: version.to_string(), name }, requires))
    }

    fn http(&mut self) -> Result<&reqwest::blocking::Client, Diagnostic> {
        if self.client.is_none() {
            let client = reqwest::blocking::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .user_agent(concat!("strata/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|err| Diagnostic::new(format!("could not start an HTTP client: {err}")))?;
            self.client = Some(client);
        }
        Ok(self.client.as_ref().unwrap_or_else(|| unreachable!()))
    }

    /// Fetches a git, local or tarball package: its lock entry and the folder holding its project.
    fn fetch(&mut self, spec: &PackageSpec) -> Result<(LockedPackage, PathBuf), Failure> {
        match spec {
            PackageSpec::Local { local } => {
                let folder = self.root.join(local);
                let name = project_name(&folder, &spec.label())?;
                Ok((LockedPackage::Local { local: local.display().to_string(), name: Some(name) }, folder))
            }
            PackageSpec::Git { git, revision, subdirectory, warn_unpinned } => {
                if *warn_unpinned && revision.as_deref().is_none_or(|r| matches!(r, "HEAD" | "main" | "master")) {
                    let how = match revision.as_deref() {
                        None | Some("HEAD") => "is not pinned, and installs the default branch's latest commit".to_string(),
                        Some(branch) => format!("is pinned to the `{branch}` branch"),
                    };
                    crate::session::warn(
                        "ProjectWarning",
                        &format!(
                            "the git package `{git}` {how}; its next commit can change this project without warning. Pin a tag or commit with `revision:`, or set `warn-unpinned: false`"
                        ),
                    )?;
                }
                let checkout = self.checkout(git, revision.as_deref().unwrap_or("HEAD"))?;
                let sha = git_output(&checkout, &["rev-parse", "HEAD"])?;
                self.fetched.insert(format!("{git}@{sha}"), checkout.clone());
                let folder = match subdirectory {
                    Some(sub) => checkout.join(sub),
                    None => checkout,
                };
                let name = project_name(&folder, git)?;
                Ok((LockedPackage::Git { git: git.clone(), revision: sha, subdirectory: subdirectory.clone(), name: Some(name) }, folder))
            }
            PackageSpec::Tarball { tarball, name } => {
                let folder = self.download(tarball)?;
                self.fetched.insert(tarball.clone(), folder.clone());
                Ok((LockedPackage::Tarball { tarball: tarball.clone(), name: name.clone() }, folder))
            }
            PackageSpec::Hub { .. } => unreachable!("hub packages are resolved by version"),
        }
    }

    /// A clone of `url` at `revision` (a commit, tag or branch), in the scratch
    /// folder: the one resolving made of that commit, else a fresh one.
    fn checkout(&mut self, url: &str, revision: &str) -> Result<PathBuf, Diagnostic> {
        if let Some(folder) = self.fetched.remove(&format!("{url}@{revision}")) {
            return Ok(folder);
        }
        self.checkouts += 1;
        let folder = self.scratch.join(format!("git-{}", self.checkouts));
        let rendered = crate::core::jinja::render_env_vars(Path::new("packages.yml"), url)?;
        git(None, &["clone", "--quiet", &rendered, &folder.to_string_lossy()]).map_err(|err| {
            Diagnostic::new(format!("could not clone the git package `{url}`: {}", scrub(&err, &rendered, url)))
                .help("check the URL and that this machine can reach it with `git clone`")
        })?;
        if revision != "HEAD" {
            let tag = format!("tags/{revision}");
            let branch = format!("origin/{revision}");
            let found = [tag.as_str(), branch.as_str(), revision].into_iter().find(|spec| git(Some(&folder), &["checkout", "--quiet", spec]).is_ok());
            if found.is_none() {
                return Err(Diagnostic::new(format!("the git package `{url}` has no revision `{revision}`"))
                    .help("`revision:` takes a tag, a branch or a full commit hash"));
            }
        }
        Ok(folder)
    }

    /// Downloads and unpacks a tarball (unless resolving did); the folder holding the package.
    fn download(&mut self, url: &str) -> Result<PathBuf, Diagnostic> {
        if let Some(folder) = self.fetched.remove(url) {
            return Ok(folder);
        }
        self.checkouts += 1;
        let folder = self.scratch.join(format!("tar-{}", self.checkouts));
        let response = self
            .http()?
            .get(url)
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.bytes())
            .map_err(|err| Diagnostic::new(format!("could not download `{url}`: {err}")))?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(response.as_ref()));
        archive.unpack(&folder).map_err(|err| Diagnostic::new(format!("`{url}` is not a gzipped tar archive: {err}")))?;
        // Archives (the hub's among them) hold the package in one top folder.
        let entries: Vec<PathBuf> = std::fs::read_dir(&folder).into_iter().flatten().filter_map(Result::ok).map(|e| e.path()).collect();
        match entries.as_slice() {
            [only] if only.is_dir() => Ok(only.clone()),
            _ => Ok(folder),
        }
    }

    /// Replaces the install folder with exactly the locked packages.
    fn install(&mut self, lock: &Lock) -> Result<(), Failure> {
        let mut staged = Vec::with_capacity(lock.packages.len());
        for package in &lock.packages {
            let source = match package {
                LockedPackage::Hub { package: hub_name, version, .. } => {
                    let document = self.hub_document(hub_name)?;
                    let Some(url) = document.pointer(&format!("/versions/{version}/downloads/tarball")).and_then(Json::as_str) else {
                        return Err(Diagnostic::new(format!("the package hub has no download of `{hub_name}` {version}, which `{LOCK_FILE}` pins"))
                            .help("run `strata deps --upgrade` to lock versions the hub has")
                            .into());
                    };
                    Staged::Move(self.download(url)?)
                }
                LockedPackage::Git { git, revision, subdirectory, .. } => {
                    let checkout = self.checkout(git, revision)?;
                    Staged::Move(match subdirectory {
                        Some(sub) => checkout.join(sub),
                        None => checkout,
                    })
                }
                LockedPackage::Local { local, .. } => {
                    Staged::Link(std::path::absolute(self.root.join(local)).unwrap_or_else(|_| self.root.join(local)))
                }
                LockedPackage::Tarball { tarball, .. } => Staged::Move(self.download(tarball)?),
            };
            staged.push((locked_name(package).to_string(), source));
        }
        // Everything is fetched: only now is the previous install replaced.
        let io = |err: std::io::Error| Diagnostic::new(format!("could not install packages into `{}`: {err}", self.install_path.display()));
        if self.install_path.exists() {
            std::fs::remove_dir_all(self.install_path).map_err(io)?;
        }
        std::fs::create_dir_all(self.install_path).map_err(io)?;
        for (name, source) in staged {
            let destination = self.install_path.join(&name);
            match source {
                Staged::Move(folder) => move_folder(&folder, &destination).map_err(io)?,
                Staged::Link(folder) => link_folder(&folder, &destination).map_err(io)?,
            }
        }
        Ok(())
    }
}

enum Staged {
    Move(PathBuf),
    Link(PathBuf),
}

fn move_folder(from: &Path, to: &Path) -> std::io::Result<()> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    copy_folder(from, to)
}

/// A local package is linked, as dbt links it, so edits to it show at once; copied where links are refused.
fn link_folder(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if std::os::unix::fs::symlink(from, to).is_ok() {
        return Ok(());
    }
    copy_folder(from, to)
}

fn copy_folder(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(from).into_iter().filter_map(Result::ok) {
        let Ok(relative) = entry.path().strip_prefix(from) else { continue };
        let destination = to.join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&destination)?;
        } else {
            std::fs::copy(entry.path(), &destination)?;
        }
    }
    Ok(())
}

/// Records that the package `label` installs as `name`: two packages
/// installing into one folder, or one named as the root project, is an error.
fn claim_name(names: &mut BTreeMap<String, String>, root_name: &str, name: &str, label: &str) -> Result<(), Diagnostic> {
    if name == root_name {
        return Err(Diagnostic::new(format!(
            "package {label} is named `{name}`, as this project is; package names must differ from the root project's"
        )));
    }
    if let Some(other) = names.insert(name.to_string(), label.to_string()) {
        return Err(Diagnostic::new(format!("two packages are named `{name}`: {other} and {label}")).help("remove one of them from `packages.yml`"));
    }
    Ok(())
}

/// The key two requirements of one package share.
fn package_key(spec: &PackageSpec) -> String {
    match spec {
        PackageSpec::Hub { package, .. } => format!("hub:{package}"),
        PackageSpec::Git { git, subdirectory, .. } => format!("git:{}/{}", git.trim_end_matches(".git"), subdirectory.as_deref().unwrap_or("")),
        PackageSpec::Local { local } => format!("local:{}", local.display()),
        PackageSpec::Tarball { tarball, .. } => format!("tarball:{tarball}"),
    }
}

/// The `name:` of the project in `folder`.
fn project_name(folder: &Path, label: &str) -> Result<String, Diagnostic> {
    Project::identity(folder).map(|identity| identity.name).map_err(|_| {
        Diagnostic::new(format!("package {label} has no readable `dbt_project.yml` at `{}`", folder.display()))
            .help("a package is a dbt project: check the path, or the git `subdirectory:`")
    })
}

/// The packages the project in `folder` requires in turn.
fn package_requirements(folder: &Path) -> Result<Vec<PackageSpec>, Diagnostics> {
    Ok(packages::declared(folder)?.map(|declared| declared.packages).unwrap_or_default())
}

/// Whether `version` satisfies one of dbt's requirements: `1.2.3`, `=1.2.3`,
/// `>=1.2.3`, `>1.2.3`, `<=1.2.3` or `<1.2.3`.
fn satisfies(version: &semver::Version, requirement: &str) -> Result<bool, String> {
    let requirement = requirement.trim();
    let (operator, rest) =
        ["<=", ">=", "<", ">", "="].iter().find_map(|op| requirement.strip_prefix(op).map(|rest| (*op, rest))).unwrap_or(("=", requirement));
    let wanted = semver::Version::parse(rest.trim()).map_err(|_| {
        format!("`{requirement}` is not a version requirement; write `1.2.3`, `>=1.0.0` or a list such as `[\">=1.0.0\", \"<2.0.0\"]`")
    })?;
    Ok(match operator {
        "<=" => *version <= wanted,
        ">=" => *version >= wanted,
        "<" => *version < wanted,
        ">" => *version > wanted,
        _ => *version == wanted,
    })
}

/// Runs git; its trimmed standard output, or its error output.
fn git(dir: Option<&Path>, args: &[&str]) -> Result<String, String> {
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.args(args).env("LC_ALL", "C").env("GIT_TERMINAL_PROMPT", "0").output().map_err(|err| format!("could not run git: {err}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

fn git_output(dir: &Path, args: &[&str]) -> Result<String, Diagnostic> {
    git(Some(dir), args).map_err(|err| Diagnostic::new(format!("git {} failed: {err}", args.join(" "))))
}

/// `message` with the rendered URL (which may hold a secret) replaced by the URL as written.
fn scrub(message: &str, rendered: &str, written: &str) -> String {
    if rendered == written { message.to_string() } else { message.replace(rendered, written) }
}

#[cfg(test)]
mod tests {
    use super::satisfies;

    #[test]
    fn versions_are_matched_as_dbt_matches_them() {
        let version = semver::Version::parse("1.3.0").expect("version");
        for (requirement, expected) in [("1.3.0", true), ("=1.3.0", true), (">=1.0.0", true), ("<1.3.0", false), (">1.2.9", true), ("<=1.2.0", false)]
        {
            assert_eq!(satisfies(&version, requirement), Ok(expected), "{requirement}");
        }
        assert!(satisfies(&version, ">=1,<2").expect_err("refused").contains("not a version requirement"));
    }
}
