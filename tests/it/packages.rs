//! Packages: `strata deps` resolves a local folder, a git repository (a bare
//! repository these tests create) and a hub package (served by a local HTTP
//! server in the hub's shape), locks them as dbt does, installs them, and the
//! project builds with their models, seeds, macros, namespaces, dispatch and
//! generic tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run::query_file as query;
use crate::{Run, strata_command};

/// A folder holding the root project (`project/`), a local package beside
/// it, a git repository of a package, and a package hub.
pub struct Workspace {
    dir: tempfile::TempDir,
    hub: Hub,
}

const ROOT_PROJECT: &str = "\
name: jaffle
profile: shop
config-version: 2
models:
  local_utils:
    +schema: utils
    utils_calendar:
      +materialized: table
vars:
  currency_divisor: 100
  local_utils:
    greeting: root
";

// Portable SQL: the workspace builds on DuckDB and on the BigQuery emulator.
const ORDERS: &str = "\
with o as (
  select 1 as id, 1250 as amount_cents, 'Ada Lovelace' as customer, date '2026-11-20' as ordered_at, 'fr' as country
  union all select 2, 399, 'Alan Turing', date '2026-10-02', 'de'
)
select
  o.id,
  {{ local_utils.cents_to_dollars('o.amount_cents') }} as amount,
  {{ hub_strings.slugify('o.customer') }} as customer_slug,
  {{ git_dates.first_of_month('o.ordered_at') }} as order_month,
  {{ hub_strings.version() }} as hub_version,
  c.name as country
from o
join {{ ref('local_utils', 'utils_countries') }} c on c.code = o.country
";

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("create dirs");
        std::fs::write(full, text).expect("write fixture file");
    }
}

fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=strata", "-c", "user.email=strata@example.com", "-c", "init.defaultBranch=main"])
        .args(args)
        .output()
        .expect("run git");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

impl Workspace {
    pub fn create() -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        write(
            &root.join("local_utils"),
            &[
                (
                    "dbt_project.yml",
                    "name: local_utils\nversion: 1.0.0\nconfig-version: 2\nmodels:\n  local_utils:\n    +materialized: table\nvars:\n  local_utils:\n    currency_divisor: 1\n    greeting: package\n",
                ),
                ("packages.yml", "packages:\n  - package: acme/hub_strings\n    version: \">=1.0.0\"\n"),
                (
                    "macros/money.sql",
                    "{% macro cents_to_dollars(column) %}{{ return(adapter.dispatch('cents_to_dollars', 'local_utils')(column)) }}{% endmacro %}\n\
                     {% macro default__cents_to_dollars(column) %}({{ column }} / {{ var('currency_divisor') }}){% endmacro %}\n",
                ),
                (
                    "macros/tests.sql",
                    "{% test is_positive(model, column_name) %}select * from {{ model }} where {{ column_name }} <= 0{% endtest %}\n",
                ),
                (
                    "models/utils_calendar.sql",
                    "{{ config(materialized='view') }}\nselect date '2026-11-01' as day union all select date '2026-11-02'\n",
                ),
                (
                    "models/schema.yml",
                    "models:\n  - name: utils_calendar\n    columns:\n      - name: day\n        data_tests: [not_null]\n\
                     sources:\n  - name: utils_raw\n    schema: \"{{ target.schema }}\"\n    tables:\n      - name: utils_countries\n",
                ),
                (
                    "models/utils_country_count.sql",
                    "select count(*) as n, '{{ var(\"greeting\") }}' as greeting, {{ var('currency_divisor') }} as divisor from {{ source('utils_raw', 'utils_countries') }}\n",
                ),
                ("seeds/utils_countries.csv", "code,name\nfr,France\nde,Germany\n"),
            ],
        );
        let repo = root.join("git_dates");
        write(
            &repo,
            &[
                ("dbt_project.yml", "name: git_dates\nversion: 1.0.0\nconfig-version: 2\n"),
                (
                    "macros/dates.sql",
                    "{% macro first_of_month(column) %}{{ month_start(column) }}{% endmacro %}\n\
                     {% macro month_start(column) %}cast({{ dbt.date_trunc('month', column) }} as date){% endmacro %}\n",
                ),
            ],
        );
        git(&repo, &["init", "--quiet"]);
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "--quiet", "-m", "first release"]);
        git(&repo, &["tag", "v1.0.0"]);
        // A later commit the pin must not install.
        write(&repo, &[("macros/dates.sql", "{% macro first_of_month(column) %}unreleased{% endmacro %}\n")]);
        git(&repo, &["commit", "--quiet", "-am", "work in progress"]);
        git(root, &["clone", "--quiet", "--bare", "git_dates", "git_dates.git"]);

        let hub = Hub::start(&root.join("hub"), &["0.9.0", "1.0.0", "1.2.0", "2.0.0"]);
        let workspace = Workspace { dir, hub };
        workspace.root_project(&format!(
            "packages:\n  - local: ../local_utils\n  - git: \"{}\"\n    revision: v1.0.0\n  - package: acme/hub_strings\n    version: [\">=1.0.0\", \"<2.0.0\"]\n",
            workspace.git_url()
        ));
        workspace
    }

    fn git_url(&self) -> String {
        format!("file://{}", self.dir.path().join("git_dates.git").display())
    }

    /// Writes the root project with `packages` as its `packages.yml`.
    fn root_project(&self, packages: &str) {
        write(
            &self.project(),
            &[
                ("dbt_project.yml", ROOT_PROJECT),
                ("profiles.yml", crate::PROFILES),
                ("packages.yml", packages),
                ("models/orders.sql", ORDERS),
                (
                    "models/calendar_days.sql",
                    "select count(*) as days, '{{ var(\"greeting\", \"unset\") }}' as greeting from {{ ref('utils_calendar') }}\n",
                ),
                (
                    "models/schema.yml",
                    "models:\n  - name: orders\n    columns:\n      - name: amount\n        data_tests: [local_utils.is_positive, is_positive]\n",
                ),
                // The root project's adapter-specific version wins dispatch over the package's default.
                (
                    "macros/money.sql",
                    "{% macro duckdb__cents_to_dollars(column) %}round(cast({{ column }} as decimal(12, 2)) / {{ var('currency_divisor') }}, 2){% endmacro %}\n",
                ),
            ],
        );
    }

    pub fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    pub fn strata(&self, args: &[&str]) -> Run {
        Run::from(strata_command(&self.project()).env("DBT_PACKAGE_HUB_URL", &self.hub.url).args(args).output().expect("run strata"))
    }

    /// Text with this workspace's folder and the git commit written as placeholders.
    fn anonymize(&self, text: &str) -> String {
        let sha = Command::new("git").current_dir(self.dir.path().join("git_dates")).args(["rev-parse", "v1.0.0"]).output().expect("git");
        let sha = String::from_utf8_lossy(&sha.stdout).trim().to_string();
        let text =
            text.replace(&self.dir.path().display().to_string(), "<workspace>").replace(&sha, "<v1.0.0 commit>").replace(&self.hub.url, "<hub>");
        // The hash covers the git URL, which names this workspace's folder.
        regex::Regex::new("sha1_hash: [0-9a-f]{40}").expect("regex").replace(&text, "sha1_hash: <hash of packages.yml>").into_owned()
    }
}

/// A package hub on 127.0.0.1: `api/v1/acme/hub_strings.json` in the hub's
/// shape, and a tarball of each version, each reporting its version.
struct Hub {
    url: String,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Hub {
    fn start(dir: &Path, versions: &[&str]) -> Hub {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("start the hub");
        let url = format!("http://127.0.0.1:{}/", server.server_addr().to_ip().expect("ip address").port());
        let mut document = serde_json::json!({"name": "hub_strings", "namespace": "acme", "latest": versions.last(), "versions": {}});
        for version in versions {
            let tarball = dir.join(format!("hub_strings-{version}.tar.gz"));
            write_tarball(
                &tarball,
                &format!("acme-hub_strings-{version}"),
                &[
                    ("dbt_project.yml", "name: hub_strings\nversion: 1.0.0\nconfig-version: 2\n".to_string()),
                    (
                        "macros/strings.sql",
                        format!(
                            "{{% macro slugify(column) %}}lower(replace({{{{ column }}}}, ' ', '-')){{% endmacro %}}\n{{% macro version() %}}'{version}'{{% endmacro %}}\n"
                        ),
                    ),
                ],
            );
            document["versions"][*version] = serde_json::json!({
                "id": format!("acme/hub_strings/{version}"),
                "name": "hub_strings",
                "version": version,
                "packages": [],
                "downloads": {"tarball": format!("{url}tarballs/hub_strings-{version}.tar.gz")},
            });
        }
        let document = document.to_string();
        let dir = dir.to_path_buf();
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = requests.clone();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let path = request.url().trim_start_matches('/').to_string();
                let response = if path == "api/v1/acme/hub_strings.json" {
                    tiny_http::Response::from_data(document.clone().into_bytes())
                } else if let Some(file) = path.strip_prefix("tarballs/").and_then(|name| std::fs::read(dir.join(name)).ok()) {
                    tiny_http::Response::from_data(file)
                } else {
                    tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404)
                };
                let _ = request.respond(response);
            }
        });
        Hub { url, requests }
    }

    fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A gzipped tarball holding `files` under one top folder, as the hub's are.
fn write_tarball(path: &Path, top: &str, files: &[(&str, String)]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create dirs");
    let file = std::fs::File::create(path).expect("create tarball");
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()));
    for (name, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append_data(&mut header, format!("{top}/{name}"), text.as_bytes()).expect("append");
    }
    archive.into_inner().expect("finish tar").finish().expect("finish gzip").flush().expect("flush");
}

#[test]
fn deps_installs_local_git_and_hub_packages_and_the_project_builds_with_them() {
    let workspace = Workspace::create();
    let deps = workspace.strata(&["deps"]);
    assert_eq!(deps.status, 0, "{}", deps.stderr);
    insta::assert_snapshot!("deps_output", workspace.anonymize(&deps.stdout));
    let lock = std::fs::read_to_string(workspace.project().join("package-lock.yml")).expect("the lock");
    insta::assert_snapshot!("package_lock", workspace.anonymize(&lock));
    let installed = workspace.project().join("dbt_packages");
    assert!(std::fs::symlink_metadata(installed.join("local_utils")).expect("local_utils").file_type().is_symlink());
    for package in ["git_dates", "hub_strings"] {
        assert!(installed.join(package).join("dbt_project.yml").is_file(), "{package} is installed");
    }

    let build = workspace.strata(&["build", "--date", "2026-11-20"]);
    assert_eq!(build.status, 0, "{}\n{}", build.stdout, build.stderr);
    let db = workspace.project().join("target/dev.duckdb");
    assert_eq!(
        query(&db, "select id, amount::varchar, customer_slug, order_month::varchar, hub_version, country from main.orders order by id"),
        vec![vec!["1", "12.5", "ada-lovelace", "2026-11-01", "1.2.0", "France"], vec!["2", "3.99", "alan-turing", "2026-10-01", "1.2.0", "Germany"],]
    );
    // Vars as dbt scopes them: for the package's nodes, the root project's vars
    // (its global `currency_divisor`, its `local_utils:` block) win over the
    // package's own; root nodes see no package's block.
    assert_eq!(query(&db, "select days, greeting from main.calendar_days"), vec![vec!["2", "unset"]]);
    // A package's model reads the package's own source (its seed, loaded first).
    assert_eq!(query(&db, "select n, greeting, divisor from main_utils.utils_country_count"), vec![vec!["2", "root", "100"]]);
    // The package's models take the root project's `+schema: utils`, and the
    // root's `+materialized: table` wins over the package model's own `config()`.
    assert_eq!(
        query(&db, "select table_schema, table_name, table_type from information_schema.tables where table_schema = 'main_utils' order by 2"),
        vec![vec!["main_utils", "utils_calendar", "BASE TABLE"], vec!["main_utils", "utils_country_count", "BASE TABLE"]]
    );
    let compiled = std::fs::read_to_string(workspace.project().join("target/compiled/jaffle/models/orders.sql")).expect("compiled orders");
    assert!(compiled.contains("round(cast(o.amount_cents as decimal(12, 2)) / 100, 2) as amount"), "{compiled}");
    // A package's compiled SQL sits under its own name, as dbt writes it.
    assert!(workspace.project().join("target/compiled/local_utils/models/utils_calendar.sql").is_file());
    let results = std::fs::read_to_string(workspace.project().join("target/run_results.json")).expect("run results");
    for id in [
        "model.local_utils.utils_calendar",
        "seed.local_utils.utils_countries",
        "test.jaffle.is_positive_orders_amount",
        "test.local_utils.not_null_utils_calendar_day",
    ] {
        assert!(results.contains(&format!("\"{id}")), "{id} ran: {results}");
    }
    assert!(!results.contains("\"status\": \"fail\"") && !results.contains("\"status\": \"error\""), "{results}");
}

#[test]
fn deps_with_an_unchanged_lock_and_every_package_installed_fetches_nothing() {
    let workspace = Workspace::create();
    assert_eq!(workspace.strata(&["deps"]).status, 0);
    let requests = workspace.hub.requests();
    let again = workspace.strata(&["deps"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert_eq!(again.stdout, "All 3 package(s) are installed and match `package-lock.yml`\n");
    assert_eq!(workspace.hub.requests(), requests, "the hub was asked again");
}

#[test]
fn the_lock_pins_versions_until_deps_upgrade() {
    let workspace = Workspace::create();
    let locked = workspace.strata(&["deps", "--lock"]);
    assert_eq!(locked.status, 0, "{}", locked.stderr);
    assert!(!workspace.project().join("dbt_packages").exists(), "--lock installs nothing");
    // Pinned back to 1.0.0 by hand (or by another tool): the same declaration, so the lock is honoured.
    let lock_path = workspace.project().join("package-lock.yml");
    let lock = std::fs::read_to_string(&lock_path).expect("lock");
    std::fs::write(&lock_path, lock.replace("version: 1.2.0", "version: 1.0.0")).expect("pin");
    assert_eq!(workspace.strata(&["deps"]).status, 0);
    assert_eq!(workspace.strata(&["build", "--date", "2026-11-20"]).status, 0);
    let db = workspace.project().join("target/dev.duckdb");
    assert_eq!(query(&db, "select distinct hub_version from main.orders"), vec![vec!["1.0.0"]]);

    let upgrade = workspace.strata(&["deps", "--upgrade"]);
    assert_eq!(upgrade.status, 0, "{}", upgrade.stderr);
    assert!(std::fs::read_to_string(&lock_path).expect("lock").contains("version: 1.2.0"));
    assert_eq!(workspace.strata(&["build", "--date", "2026-11-20"]).status, 0);
    assert_eq!(query(&db, "select distinct hub_version from main.orders"), vec![vec!["1.2.0"]]);
}

#[test]
fn requirements_no_version_satisfies_are_an_error_naming_both() {
    let workspace = Workspace::create();
    write(
        &workspace.dir.path().join("local_utils"),
        &[("packages.yml", "packages:\n  - package: acme/hub_strings\n    version: [\">=1.0.0\", \"<2.0.0\"]\n")],
    );
    workspace.root_project("packages:\n  - local: ../local_utils\n  - package: acme/hub_strings\n    version: \"2.0.0\"\n");
    let deps = workspace.strata(&["deps"]);
    assert_eq!(deps.status, 2);
    insta::assert_snapshot!("deps_version_conflict", workspace.anonymize(&deps.stderr));
    assert!(!workspace.project().join("package-lock.yml").exists());
}

#[test]
fn a_project_whose_packages_are_not_installed_says_to_run_deps() {
    let workspace = Workspace::create();
    let build = workspace.strata(&["compile"]);
    assert_eq!(build.status, 2);
    insta::assert_snapshot!("packages_not_installed", build.stderr);
}

#[test]
fn a_ref_to_a_package_that_is_not_installed_names_it() {
    let workspace = Workspace::create();
    assert_eq!(workspace.strata(&["deps"]).status, 0);
    write(&workspace.project(), &[("models/bad.sql", "select * from {{ ref('dbt_utils', 'utils_calendar') }}\n")]);
    let compile = workspace.strata(&["compile"]);
    assert_eq!(compile.status, 2);
    insta::assert_snapshot!("ref_to_missing_package", compile.stderr);
}

#[test]
fn an_unpinned_git_package_warns_and_subdirectories_and_tarballs_install() {
    let workspace = Workspace::create();
    // A repository whose package sits in a folder of it.
    let repo = workspace.dir.path().join("mono");
    write(&repo, &[("README.md", "not a package\n"), ("dbt/dbt_project.yml", "name: mono_pkg\nversion: 1.0.0\nconfig-version: 2\n")]);
    git(&repo, &["init", "--quiet"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "--quiet", "-m", "first"]);
    std::fs::remove_file(workspace.project().join("packages.yml")).expect("remove packages.yml");
    write(
        &workspace.project(),
        &[(
            "dependencies.yml",
            &format!(
                "packages:\n  - git: \"file://{}\"\n    subdirectory: dbt\n  - tarball: \"{}tarballs/hub_strings-1.0.0.tar.gz\"\n    name: strings_from_tarball\n",
                repo.display(),
                workspace.hub.url
            ),
        )],
    );
    let deps = workspace.strata(&["deps"]);
    assert_eq!(deps.status, 0, "{}", deps.stderr);
    insta::assert_snapshot!("unpinned_git_warning", workspace.anonymize(&deps.stderr));
    let installed = workspace.project().join("dbt_packages");
    assert!(installed.join("mono_pkg/dbt_project.yml").is_file());
    assert!(!installed.join("mono_pkg/README.md").exists(), "only the subdirectory is installed");
    assert!(installed.join("strings_from_tarball/macros/strings.sql").is_file());
    // Installing takes the tarball resolving downloaded: one request in all.
    assert_eq!(workspace.hub.requests(), 1);
    let lock = std::fs::read_to_string(workspace.project().join("package-lock.yml")).expect("lock");
    assert!(lock.contains("    subdirectory: dbt\n") && lock.contains("  - name: strings_from_tarball\n    tarball: "), "{lock}");
}

#[test]
fn a_package_entry_strata_cannot_read_is_an_error_at_its_line() {
    let workspace = Workspace::create();
    workspace.root_project("packages:\n  - local: ../local_utils\n  - package: acme/hub_strings\n  - gitt: https://example.com/x.git\n");
    let deps = workspace.strata(&["deps"]);
    assert_eq!(deps.status, 2);
    insta::assert_snapshot!("unreadable_package_entries", deps.stderr);
}

#[test]
fn two_packages_installing_into_one_folder_are_an_error() {
    let workspace = Workspace::create();
    // A local copy of the hub's package: both would install as `hub_strings`.
    write(&workspace.dir.path().join("strings_copy"), &[("dbt_project.yml", "name: hub_strings\nversion: 1.0.0\nconfig-version: 2\n")]);
    workspace.root_project("packages:\n  - package: acme/hub_strings\n    version: \">=1.0.0\"\n  - local: ../strings_copy\n");
    let deps = workspace.strata(&["deps"]);
    assert_eq!(deps.status, 2);
    assert_eq!(
        deps.stderr,
        "error: two packages are named `hub_strings`: acme/hub_strings and ../strings_copy\n  = help: remove one of them from `packages.yml`\n"
    );
}
