//! Service mode: what `mcpcord run` does to live well under a service manager, or without one.
//!
//! - [`notify`]: systemd `Type=notify` (READY, RELOADING, STOPPING, WATCHDOG) through
//!   `NOTIFY_SOCKET`; nothing happens when the variable is unset.
//! - [`pidfile`]: the PID file, locked (`flock`) for as long as the bot runs, so a second bot
//!   given the same file refuses to start; `mcpcord reload` finds the bot through it.
//! - [`daemon`]: `--daemon` (double fork, new session, output to a log file) and `--user` /
//!   `--group` (privileges dropped once the database and the PID file are open).

pub mod daemon;
pub mod notify;
pub mod pidfile;

use std::path::{Path, PathBuf};

/// The PID file's name in the data folder, when `--pid-file` names none.
pub const PID_FILE: &str = "mcpcord.pid";

/// The log file's name in the data folder, when `--daemon` runs without `--log-file`.
pub const LOG_FILE: &str = "mcpcord.log";

/// `explicit`, else `name` in `data_dir`.
pub fn path_or_default(explicit: Option<&Path>, data_dir: &Path, name: &str) -> PathBuf {
    explicit.map_or_else(|| data_dir.join(name), Path::to_path_buf)
}
