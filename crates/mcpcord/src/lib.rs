//! mcpcord: the binary's library half — command line, configuration, logging and wiring.
//!
//! `main` parses the command line and calls [`main_with`]; everything it does is reachable
//! from tests through this crate.

pub mod admin;
pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod lifecycle;
pub mod logging;
pub mod protect;
pub mod reload;
pub mod resources;
pub mod secrets;
pub mod service;
pub mod vault;
pub mod wiring;

use std::process::ExitCode;

/// Runs mcpcord with `cli`; errors print once, with their chain, on stderr.
pub fn main_with(cli: cli::Cli) -> ExitCode {
    // Before anything touches the environment (idempotent: `main` did it already).
    protect::at_start();
    // Load .env before anything reads the environment; variables already set win.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("mcpcord: warning: .env was not read: {error}");
    }
    wiring::install_tls_provider();
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // Errors may quote a URL (a database driver's message): never its credentials.
            let clean = |text: String| mcpcord_llm::redact::redact_urls_in(&text);
            eprintln!("mcpcord: error: {}", clean(failure.to_string()));
            if let commands::Failure::Runtime(error) = &failure {
                for cause in error.chain().skip(1) {
                    eprintln!("  caused by: {}", clean(cause.to_string()));
                }
            }
            failure.exit_code()
        }
    }
}
