//! How DuckDB is compiled into strata. libduckdb-sys builds DuckDB with
//! `-DDEBUG` (assertions, plan verification, plans rendered to text: table
//! builds up to 16x slower) whenever cargo runs its build script with
//! `DEBUG=true`, which cargo does when the profile's `debug` setting is on for
//! the package; otherwise with `-DNDEBUG`, as DuckDB's own releases are.

use std::collections::BTreeMap;

/// `DebugClientContextState` is a class DuckDB defines only under `#ifdef DEBUG`
/// (src/main/client_context.cpp) and registers on every connection, so its
/// type name is in a binary exactly when DuckDB was compiled with verification.
#[test]
fn duckdb_in_the_binary_is_compiled_without_debug_verification() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_strata")).expect("read the strata binary");
    let contains = |needle: &[u8]| binary.windows(needle.len()).any(|window| window == needle);
    // The search itself works on this binary: a class of every build is found.
    assert!(contains(b"N6duckdb18ClientContextStateE"), "no DuckDB type names in the binary: the check below would prove nothing");
    assert!(
        !contains(b"DebugClientContextState"),
        "DuckDB was compiled with -DDEBUG: set `debug = false` for libduckdb-sys in this profile of Cargo.toml"
    );
}

/// Every profile of Cargo.toml, built-in or custom, resolves `debug` to off for
/// libduckdb-sys, as cargo resolves it: a profile is merged over the one it
/// inherits, then the package's own override wins over `*`, which wins over the
/// profile's setting, which wins over cargo's default (on for dev, off for release).
#[test]
fn every_profile_builds_duckdb_without_debug_info() {
    let manifest: toml::Table =
        std::fs::read_to_string(crate::repo_root().join("Cargo.toml")).expect("Cargo.toml").parse().expect("Cargo.toml parses");
    let profiles = manifest.get("profile").and_then(toml::Value::as_table).cloned().unwrap_or_default();
    let mut names: Vec<String> = ["dev", "release", "test", "bench"].map(String::from).to_vec();
    names.extend(profiles.keys().filter(|name| !names.contains(name)).cloned().collect::<Vec<_>>());
    let turned_on: BTreeMap<String, String> = names
        .iter()
        .filter_map(|name| {
            let debug = duckdb_debug_setting(&profiles, name);
            debug_is_on(&debug).then(|| (name.clone(), debug.to_string()))
        })
        .collect();
    assert!(
        turned_on.is_empty(),
        "profiles that compile DuckDB with -DDEBUG (set `[profile.NAME.package.libduckdb-sys] debug = false`): {turned_on:?}"
    );
}

fn duckdb_debug_setting(profiles: &toml::Table, name: &str) -> toml::Value {
    // The profile, then each profile it inherits, down to dev or release.
    let mut chain = vec![name.to_string()];
    while !matches!(chain.last().map(String::as_str), Some("dev" | "release")) {
        let last = chain.last().cloned().unwrap_or_default();
        let inherits = profiles.get(&last).and_then(|p| p.get("inherits")).and_then(toml::Value::as_str);
        let parent = match (last.as_str(), inherits) {
            (_, Some(parent)) => parent.to_string(),
            ("test", None) => "dev".to_string(),
            ("bench", None) => "release".to_string(),
            _ => panic!("profile `{last}` inherits no profile"),
        };
        assert!(!chain.contains(&parent) && chain.len() < 16, "profile `{name}` inherits in a circle");
        chain.push(parent);
    }
    let first_set = |lookup: &dyn Fn(&toml::Value) -> Option<toml::Value>| chain.iter().find_map(|profile| profiles.get(profile).and_then(lookup));
    let package = |package: &'static str| move |profile: &toml::Value| profile.get("package")?.get(package)?.get("debug").cloned();
    first_set(&package("libduckdb-sys"))
        .or_else(|| first_set(&package("*")))
        .or_else(|| first_set(&|profile: &toml::Value| profile.get("debug").cloned()))
        .unwrap_or(toml::Value::Boolean(chain.last().map(String::as_str) == Some("dev")))
}

/// Cargo's reading of a `debug` value: `false`, `0` and `"none"` are off.
fn debug_is_on(debug: &toml::Value) -> bool {
    match debug {
        toml::Value::Boolean(on) => *on,
        toml::Value::Integer(level) => *level != 0,
        toml::Value::String(level) => level != "none",
        _ => true,
    }
}

#[test]
fn debug_settings_read_as_cargo_reads_them() {
    let profiles: toml::Table = r#"
        [dev]
        [release]
        debug = "line-tables-only"
        [release.package.libduckdb-sys]
        debug = 0
        [bench]
        debug = "line-tables-only"
        [dist]
        inherits = "release"
        [profiling]
        inherits = "bench"
    "#
    .parse()
    .expect("profiles parse");
    let on = |name: &str| debug_is_on(&duckdb_debug_setting(&profiles, name));
    // dev has debug info by default, and so does test, which inherits it.
    assert!(on("dev") && on("test"));
    // The package's own setting wins over the profile's, in every profile that inherits it.
    assert!(!on("release") && !on("dist") && !on("bench") && !on("profiling"));
    let profiles: toml::Table =
        "[dev.package.\"*\"]\ndebug = false\n[custom]\ninherits = \"dev\"\ndebug = 2\n[release]\ndebug = true\n".parse().expect("profiles parse");
    let on = |name: &str| debug_is_on(&duckdb_debug_setting(&profiles, name));
    // `*` covers every dependency, and wins over a profile-level setting of a child profile.
    assert!(!on("dev") && !on("test") && !on("custom"));
    assert!(on("release") && on("bench"));
}
