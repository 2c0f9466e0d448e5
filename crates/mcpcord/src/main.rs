//! The `mcpcord` binary. See `mcpcord --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    mcpcord::main_with(mcpcord::cli::Cli::parse())
}
