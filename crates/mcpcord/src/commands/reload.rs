//! `mcpcord reload`: finds the running bot through its PID file and sends it SIGHUP. The
//! configuration was validated before (an invalid one stops here, exit 2, with every problem);
//! the bot validates it again and logs how the reload went.

use nix::sys::signal::Signal;

use super::Failure;
use crate::cli::ReloadArgs;
use crate::config::Config;
use crate::service::{self, pidfile};

/// Signals the running bot to reload.
pub fn run(config: &Config, args: &ReloadArgs) -> Result<(), Failure> {
    let path = service::path_or_default(
        args.pid_file.as_deref(),
        &config.storage.data_dir,
        service::PID_FILE,
    );
    let pid = pidfile::signal_running(&path, Signal::SIGHUP)
        .map_err(|error| Failure::Runtime(error.into()))?
        .ok_or_else(|| {
            Failure::Runtime(anyhow::anyhow!(
                "no mcpcord is running with the PID file {} (start it with `mcpcord run`, or \
                 name its file with --pid-file)",
                path.display()
            ))
        })?;
    println!("asked mcpcord (pid {pid}) to reload its configuration; its log says how it went");
    Ok(())
}
