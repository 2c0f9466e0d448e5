//! The `mcpcord` binary. See `mcpcord --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // First: not dumpable, and remember the original environment block to scrub it later.
    mcpcord::protect::at_start();
    mcpcord::main_with(mcpcord::cli::Cli::parse())
}
