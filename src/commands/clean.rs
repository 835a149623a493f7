//! `strata clean`: removes the `clean-targets` of `dbt_project.yml` (by default
//! the target path), never anything outside the project.

use std::io::Write;
use std::path::{Component, Path};

use crate::core::diagnostic::Diagnostic;
use crate::project::{LoadOptions, Project};
use crate::session::Failure;

pub fn clean(options: &LoadOptions) -> Result<i32, Failure> {
    let root = &options.project_dir;
    let targets = Project::clean_targets(root)?;
    // Refuse the whole list before removing anything.
    for target in &targets {
        if !inside_project(Path::new(target)) {
            return Err(Diagnostic::new(format!(
                "`clean-targets` lists `{target}`, which is not a folder inside the project; strata clean removes nothing outside it"
            ))
            .help("list folders relative to the project, such as `target` or `dbt_packages`, in `clean-targets` of `dbt_project.yml`")
            .into());
        }
    }
    let mut out = std::io::stdout().lock();
    for target in &targets {
        let path = root.join(target);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => writeln!(out, "Removed `{target}`")?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => writeln!(out, "Nothing to remove at `{target}`")?,
            Err(err) => return Err(Diagnostic::new(format!("could not remove `{target}`: {err}")).into()),
        }
    }
    Ok(0)
}

/// Whether `path` names a folder below the project root: relative, not the root
/// itself, never climbing out with `..`.
fn inside_project(path: &Path) -> bool {
    let mut depth = 0usize;
    for component in path.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(up) => depth = up,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    depth > 0
}

#[cfg(test)]
mod tests {
    use super::inside_project;
    use std::path::Path;

    #[test]
    fn only_folders_below_the_project_are_cleaned() {
        assert!(inside_project(Path::new("target")));
        assert!(inside_project(Path::new("./dbt_packages/")));
        assert!(inside_project(Path::new("a/../b")));
        assert!(!inside_project(Path::new(".")));
        assert!(!inside_project(Path::new("a/..")));
        assert!(!inside_project(Path::new("../other")));
        assert!(!inside_project(Path::new("/tmp")));
    }
}
