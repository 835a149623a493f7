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

/// glibc's per-thread cache keeps 7 freed chunks of each small size; DuckDB's
/// parser, binder and executor free and allocate many more per statement, and
/// the rest go through the arena's lock. With 127 (glibc's maximum before
/// 2.30), alternating runs of 5,000 models took 16.9-18.0 s instead of
/// 19.9-20.9 s, and the next day 21.1-24.9 s instead of 24.4-27.9 s, at the
/// same peak memory. glibc reads
/// the size only when a program starts (`GLIBC_TUNABLES`), so a command that
/// builds starts itself once more with it, unless the variable is set already.
fn tune_malloc_cache(cli: &strata::cli::Cli) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        const TUNABLES: &str = "GLIBC_TUNABLES";
        if !cli.builds() || std::env::var_os(TUNABLES).is_some() {
            return;
        }
        let Ok(program) = std::env::current_exe() else { return };
        let mut args = std::env::args_os();
        let Some(arg0) = args.next() else { return };
        // exec returns only when it failed; strata then runs as it is.
        let _ = std::process::Command::new(program).arg0(arg0).args(args).env(TUNABLES, "glibc.malloc.tcache_count=127").exec();
    }
}

fn main() {
    let cli = strata::cli::Cli::parse();
    tune_malloc_cache(&cli);
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
