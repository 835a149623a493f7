//! What a compile remembers under `target/` for the next one: the SQL texts
//! that passed the check, and the compiled files it wrote. Losing either only
//! costs the next compile time, never a wrong result.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::UNIX_EPOCH;

use rayon::prelude::*;

use super::CompiledNode;
use crate::core::diagnostic::Diagnostic;
use crate::core::hash::{FastMap, FastSet};
use crate::project::TargetKind;

/// A fast hash of `parts` with a fixed seed, the same in every process, so it
/// can be kept in a file.
fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut hasher = crate::core::hash::stable_hasher();
    parts.hash(&mut hasher);
    hasher.finish()
}

/// The SQL texts that passed the check, by hash of strata's version, the
/// dialect and the text, so an unchanged model is not parsed again.
pub struct CheckedSql {
    path: PathBuf,
    before: HashSet<u64>,
    now: Mutex<Vec<u64>>,
}

impl CheckedSql {
    pub fn load(path: PathBuf) -> CheckedSql {
        let before = std::fs::read_to_string(&path)
            .map(|text| text.lines().filter_map(|line| u64::from_str_radix(line, 16).ok()).collect())
            .unwrap_or_default();
        CheckedSql { path, before, now: Mutex::new(Vec::new()) }
    }

    fn key(kind: TargetKind, sql: &str) -> u64 {
        stable_hash(&[env!("CARGO_PKG_VERSION").as_bytes(), kind.name().as_bytes(), sql.as_bytes()])
    }

    pub(super) fn passed_before(&self, kind: TargetKind, sql: &str) -> bool {
        let key = CheckedSql::key(kind, sql);
        let known = self.before.contains(&key);
        if known {
            self.remember(key);
        }
        known
    }

    pub(super) fn record(&self, kind: TargetKind, sql: &str) {
        self.remember(CheckedSql::key(kind, sql));
    }

    fn remember(&self, key: u64) {
        if let Ok(mut now) = self.now.lock() {
            now.push(key);
        }
    }

    /// Keeps what passed in this compile.
    pub fn save(&self) {
        let Ok(mut now) = self.now.lock() else { return };
        now.sort_unstable();
        let mut text = String::with_capacity(now.len() * 17);
        for key in now.iter() {
            let _ = writeln!(text, "{key:016x}");
        }
        save(&self.path, &text);
    }
}

/// A compiled file as strata last wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Written {
    hash: u64,
    len: u64,
    /// Modification time, in nanoseconds since the Unix epoch.
    modified: u128,
}

/// The compiled files strata wrote, with the hash of their SQL, their length
/// and modification time: a file whose SQL is unchanged is recognised by one
/// `stat` instead of being read back, and is left untouched (which keeps its
/// modification time for editors and make). A file changed by anything else
/// no longer matches its length and time, so it is read and rewritten.
pub struct CompiledFiles {
    path: PathBuf,
    root: PathBuf,
    /// By path; keyed by its bytes, which hash faster than a `Path`'s components.
    before: FastMap<OsString, Written>,
    now: Mutex<Vec<(PathBuf, Written)>>,
    changed: AtomicBool,
}

impl CompiledFiles {
    /// What `path` remembers of the files under `root`.
    pub fn load(path: PathBuf, root: &Path) -> CompiledFiles {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let before = text
            .lines()
            .filter_map(|line| {
                let mut fields = line.splitn(4, ' ');
                let hash = u64::from_str_radix(fields.next()?, 16).ok()?;
                let len = fields.next()?.parse().ok()?;
                let modified = fields.next()?.parse().ok()?;
                Some((OsString::from(fields.next()?), Written { hash, len, modified }))
            })
            .collect();
        CompiledFiles { path, root: root.to_path_buf(), before, now: Mutex::new(Vec::new()), changed: AtomicBool::new(false) }
    }

    /// Creates the folders of `paths` (relative to the root), once each.
    pub fn create_folders<'a>(&self, paths: impl Iterator<Item = &'a Path>) -> Result<(), Diagnostic> {
        create_folders(&self.root, paths)
    }

    /// Writes a node's SQL to its file, unless the file holds it already.
    pub fn write(&self, node: &CompiledNode) -> Result<(), Diagnostic> {
        let path = self.root.join(&node.compiled_path);
        let hash = stable_hash(&[node.sql.as_bytes()]);
        let known = self.before.get(node.compiled_path.as_os_str()).filter(|known| known.hash == hash);
        let written = match known {
            Some(known) if stamp(&path) == Some((known.len, known.modified)) => Some(*known),
            _ => {
                write_if_changed(&path, &node.sql)?;
                self.changed.store(true, Ordering::Relaxed);
                stamp(&path).map(|(len, modified)| Written { hash, len, modified })
            }
        };
        if let (Some(written), Ok(mut now)) = (written, self.now.lock()) {
            now.push((node.compiled_path.clone(), written));
        }
        Ok(())
    }

    /// Keeps what is known of the files written so far, and of those
    /// compiled by earlier invocations (other selections).
    pub fn save(&self) {
        if !self.changed.load(Ordering::Relaxed) {
            return;
        }
        let Ok(now) = self.now.lock() else { return };
        let mut files: HashMap<&Path, Written> = self.before.iter().map(|(path, w)| (Path::new(path), *w)).collect();
        files.extend(now.iter().map(|(path, w)| (path.as_path(), *w)));
        let text: String = files.iter().map(|(path, w)| format!("{:016x} {} {} {}\n", w.hash, w.len, w.modified, path.display())).collect();
        save(&self.path, &text);
    }
}

/// Writes each compiled node to its file, leaving a file that holds its SQL already as it is.
pub fn write_compiled(root: &Path, compiled: &[CompiledNode]) -> Result<(), Diagnostic> {
    create_folders(root, compiled.iter().map(|c| c.compiled_path.as_path()))?;
    compiled.par_iter().try_for_each(|node| write_if_changed(&root.join(&node.compiled_path), &node.sql))
}

fn create_folders<'a>(root: &Path, paths: impl Iterator<Item = &'a Path>) -> Result<(), Diagnostic> {
    // By their bytes: ordering or hashing 11,000 `Path`s goes component by component.
    let folders: FastSet<&OsStr> = paths.filter_map(Path::parent).map(Path::as_os_str).collect();
    for folder in folders {
        let folder = root.join(folder);
        std::fs::create_dir_all(&folder).map_err(|err| Diagnostic::new(format!("could not create `{}`: {err}", folder.display())))?;
    }
    Ok(())
}

fn write_if_changed(path: &Path, sql: &str) -> Result<(), Diagnostic> {
    // Rewriting a file costs more than reading it.
    if std::fs::read(path).is_ok_and(|existing| existing == sql.as_bytes()) {
        return Ok(());
    }
    std::fs::write(path, sql).map_err(|err| Diagnostic::new(format!("could not write `{}`: {err}", path.display())))
}

/// A file's length and modification time.
fn stamp(path: &Path) -> Option<(u64, u128)> {
    let metadata = std::fs::metadata(path).ok()?;
    let modified = metadata.modified().ok()?.duration_since(UNIX_EPOCH).ok()?.as_nanos();
    Some((metadata.len(), modified))
}

fn save(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::write(path, text);
}
