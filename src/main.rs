//! The `strata` binary: parse the command line, run, exit with the status the
//! library decided (0 ok, 1 a node failed, 2 bad input or configuration).

use clap::Parser;

// Rendering and checking thousands of models allocates from both cores at
// once; mimalloc's per-thread heaps keep that from contending.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// DuckDB's C++ allocates through the C library's malloc, whose default of
/// eight arenas per core keeps freed memory of each thread apart: the second
/// day of a 5,000-model run with `memory_limit: 128MB` peaked at 453 MB, and at
/// 394-418 MB with one arena per core, in the same time.
fn bound_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX).max(2);
        // SAFETY: mallopt only changes a malloc parameter; called before any thread starts.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

/// The allocators' settings a building command starts with, each unless the
/// user set it: both allocators read them only when the program starts.
///
/// glibc's per-thread cache keeps 7 freed chunks of each small size; DuckDB's
/// parser, binder and executor free and allocate many more per statement, and
/// the rest go through the arena's lock. With 127 (glibc's maximum before
/// 2.30), alternating runs of 5,000 models took 16.9-18.0 s instead of
/// 19.9-20.9 s, and the next day 21.1-24.9 s instead of 24.4-27.9 s, at the
/// same peak memory.
///
/// mimalloc (strata's own allocations) commits its arena up front on Linux;
/// committing as it goes, a 5,000-model run with `memory_limit: 128MB` peaked
/// at 382-397 MB instead of 409-417 MB, in the same time, and `compile` at
/// 54 MB instead of 81 MB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ALLOCATOR_SETTINGS: [(&str, &str); 2] = [("GLIBC_TUNABLES", "glibc.malloc.tcache_count=127"), ("MIMALLOC_ARENA_EAGER_COMMIT", "0")];

/// A command that builds starts itself once more with `ALLOCATOR_SETTINGS`.
fn tune_allocators(cli: &strata::cli::Cli) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        let missing: Vec<(&str, &str)> = ALLOCATOR_SETTINGS.into_iter().filter(|(name, _)| std::env::var_os(name).is_none()).collect();
        if !cli.builds() || missing.is_empty() {
            return;
        }
        let Ok(program) = std::env::current_exe() else { return };
        let mut args = std::env::args_os();
        let Some(arg0) = args.next() else { return };
        // exec returns only when it failed; strata then runs as it is.
        let _ = std::process::Command::new(program).arg0(arg0).args(args).envs(missing).exec();
    }
}

fn main() {
    let cli = strata::cli::Cli::parse();
    tune_allocators(&cli);
    bound_malloc_arenas();
    report_panics(cli.project_dir().join("target").join("strata-crash.log"));
    // Lets the tests check the panic report; no user sets it.
    if std::env::var_os("STRATA_TEST_PANIC").is_some() {
        panic!("STRATA_TEST_PANIC is set");
    }
    std::process::exit(strata::run(cli));
}

/// A panic is a bug in strata: the user sees one line asking for a report, the
/// backtrace goes to `log`, and the process exits 101, on whichever thread it happened.
fn report_panics(log: std::path::PathBuf) {
    std::panic::set_hook(Box::new(move |info| {
        let version = env!("CARGO_PKG_VERSION");
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        let backtrace = std::backtrace::Backtrace::force_capture();
        let report = format!("strata {version}\ncommand: {command}\n{info}\n\nbacktrace:\n{backtrace}\n");
        let written = log.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&log, report));
        let details = match written {
            Ok(()) => format!("the details are in `{}`", log.display()),
            Err(_) => format!("{info}"),
        };
        eprintln!("error: strata {version} crashed, which is a bug: please report it with the command you ran and this version ({details})");
        std::process::exit(101);
    }));
}
