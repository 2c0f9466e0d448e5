//! `mcpcord reload`: finds the running bot through its PID file and sends it SIGHUP. The
//! configuration was validated before (an invalid one stops here, exit 2, with every problem);
//! the bot validates it again and logs how the reload went.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

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
    let not_running = || {
        Failure::Runtime(anyhow::anyhow!(
            "no mcpcord is running with the PID file {} (start it with `mcpcord run`, or name \
             its file with --pid-file)",
            path.display()
        ))
    };
    let pid = match pidfile::running_pid(&path) {
        Ok(Some(pid)) => pid,
        Ok(None) => return Err(not_running()),
        Err(pidfile::PidFileError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Err(not_running());
        }
        Err(error) => return Err(Failure::Runtime(error.into())),
    };
    kill(Pid::from_raw(pid), Signal::SIGHUP).map_err(|errno| {
        Failure::Runtime(anyhow::Error::new(errno).context(format!("cannot signal pid {pid}")))
    })?;
    println!("asked mcpcord (pid {pid}) to reload its configuration; its log says how it went");
    Ok(())
}
