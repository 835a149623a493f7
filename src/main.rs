//! The `strata` binary: parse the command line, run, exit with the status the
//! library decided (0 ok, 1 a node failed, 2 bad input or configuration).

use clap::Parser;

fn main() {
    let cli = strata::cli::Cli::parse();
    std::process::exit(strata::run(cli));
}
