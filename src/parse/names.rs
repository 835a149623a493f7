//! Names that must be unique: two resources with one name, a resource described twice.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Two models (or a model and a seed) of one project or package with one
/// name cannot both be `ref()`ed; in two packages, `ref('package', 'name')`
/// tells them apart.
pub(super) fn check_duplicate_names(project: &Project, errors: &mut Diagnostics) {
    let mut seen: FastMap<(&str, &str), &Path> = FastMap::with_capacity_and_hasher(project.models.len() + project.seeds.len(), Default::default());
    let paths = project
        .models
        .iter()
        .map(|m| (m.package.as_str(), m.name.as_str(), m.file.path.as_path()))
        .chain(project.seeds.iter().map(|s| (s.package.as_str(), s.name.as_str(), s.path.as_path())));
    for (package, name, path) in paths {
        if let Some(first) = seen.insert((package, name), path) {
            errors.push(
                Diagnostic::new(format!("two resources are named `{name}`: `{}` and `{}`", first.display(), path.display()))
                    .at(Location::file(path))
                    .help("`ref()` finds resources by name; rename one of the files"),
            );
        }
    }
    check_duplicate_properties(project, "models", &project.model_properties, errors);
    check_duplicate_properties(project, "seeds", &project.seed_properties, errors);
}

/// A resource described twice in properties files: dbt refuses it, since one
/// description would silently replace the other's config, columns and tests.
pub(super) fn check_duplicate_properties(project: &Project, section: &str, entries: &[ModelProperties], errors: &mut Diagnostics) {
    let mut seen: FastMap<(&str, &str), (&Path, usize)> = FastMap::default();
    // How many entries of each (file, name) came before, to find the n-th `name:` line.
    let mut occurrence: FastMap<(&Path, &str), usize> = FastMap::default();
    for entry in entries {
        let path = entry.file.as_path();
        let nth = occurrence.entry((path, entry.name.as_str())).or_default();
        let this = (path, *nth);
        *nth += 1;
        let first = *seen.entry((entry.package.as_str(), entry.name.as_str())).or_insert(this);
        if first == this {
            continue;
        }
        let text = std::fs::read_to_string(project.absolute(path)).unwrap_or_default();
        let first_text = if first.0 == path { text.clone() } else { std::fs::read_to_string(project.absolute(first.0)).unwrap_or_default() };
        let first_at = name_entry(first.0, &first_text, &entry.name, first.1);
        errors.push(
            Diagnostic::new(format!("`{}` is described twice under `{section}:`: at {first_at} and here", entry.name))
                .at(name_entry(path, &text, &entry.name, this.1))
                .help(format!("a resource's properties may be written once; merge the two entries into the one at {first_at}")),
        );
    }
}

/// The `n`-th (0-based) `name: <name>` line of a properties file, else the file.
pub(super) fn name_entry(path: &Path, text: &str, name: &str, n: usize) -> Location {
    let mut offset = 0;
    let mut found = 0;
    for line in text.split_inclusive('\n') {
        let key = line.trim_start().trim_start_matches("- ").trim_start();
        if let Some(value) = key.strip_prefix("name:") {
            let value = value.split(" #").next().unwrap_or_default().trim().trim_matches(|c| c == '"' || c == '\'');
            if value == name {
                if found == n {
                    let column = line.len() - line.trim_start().len() + (line.trim_start().len() - key.len());
                    return Location::at_offset(path, text, offset + column, key.trim_end().chars().count());
                }
                found += 1;
            }
        }
        offset += line.len();
    }
    Location::file(path)
}

/// Two models, seeds or snapshots (of different packages, or aliased alike)
/// built as one table would overwrite each other: dbt refuses them too.
pub(super) fn check_duplicate_relations(nodes: &[Node], errors: &mut Diagnostics) {
    let mut seen: HashMap<&Relation, &Node> = HashMap::with_capacity(nodes.len());
    for node in nodes.iter().filter(|node| node.resource_type.builds_relation() && node.in_warehouse()) {
        let Some(relation) = &node.relation else { continue };
        if let Some(first) = seen.insert(relation, node) {
            errors.push(
                Diagnostic::new(format!(
                    "`{}` ({}) and `{}` ({}) are both built as {relation}",
                    first.unique_id,
                    first.path.display(),
                    node.unique_id,
                    node.path.display()
                ))
                .at(Location::file(&node.path))
                .help("give one of them another `alias` or `schema` in its config"),
            );
        }
    }
}
