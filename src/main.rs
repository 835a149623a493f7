//! The `strata` binary: parse the command line, run, exit with the status the
//! library decided (0 ok, 1 a node failed, 2 bad input or configuration).

use clap::Parser;

// Rendering and checking thousands of models allocates from both cores at
// once; mimalloc's per-thread heaps keep that from contending.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = strata::cli::Cli::parse();
    std::process::exit(strata::run(cli));
}
