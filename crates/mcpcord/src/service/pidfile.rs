//! The PID file: created (or reused), locked with `flock` for as long as the bot runs, and
//! holding the bot's pid. The lock, not the file's presence, says whether a bot runs: a file
//! left behind by a crash is simply taken over, and a second bot given the same file refuses to
//! start. The lock belongs to the open file, so it survives the `--daemon` forks; the pid is
//! written after them ([`PidFile::write_pid`]).

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Why the PID file could not be taken, or its bot not signalled.
#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    /// Another process holds the lock: a bot already runs with this PID file.
    #[error(
        "another mcpcord (pid {pid}) is already running with the PID file {path}: stop it \
         first, or give this one another --pid-file (and its own data folder)"
    )]
    Running {
        /// The file.
        path: PathBuf,
        /// The pid it names (as written by the running bot), or `unknown`.
        pid: String,
    },
    /// The bot the file names could not be signalled (it runs as another user, say).
    #[error("cannot signal mcpcord (pid {pid}): {errno}")]
    Signal {
        /// The bot's pid.
        pid: i32,
        /// What `kill` said.
        errno: Errno,
    },
    /// The file cannot be created, read or written.
    #[error("cannot use the PID file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
}

/// A locked PID file; the lock is released (and the file removed) when it is dropped.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    file: Flock<File>,
}

impl PidFile {
    /// Creates (or opens) `path`, its folder too, and takes its lock without waiting.
    pub fn lock(path: &Path) -> Result<PidFile, PidFileError> {
        let io = |source| PidFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(file) => Ok(PidFile {
                path: path.to_path_buf(),
                file,
            }),
            Err((mut file, Errno::EWOULDBLOCK)) => Err(PidFileError::Running {
                path: path.to_path_buf(),
                pid: read_pid(&mut file).unwrap_or_else(|| "unknown".into()),
            }),
            Err((_, errno)) => Err(io(std::io::Error::from(errno))),
        }
    }

    /// Writes this process's pid into the file (after any fork: the pid that signals reach).
    pub fn write_pid(&mut self) -> Result<(), PidFileError> {
        let pid = std::process::id();
        let file: &mut File = &mut self.file;
        let written = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{pid}"))
            .and_then(|()| file.sync_all());
        written.map_err(|source| PidFileError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Removed while still locked, so no other bot can have taken it meanwhile. After a
        // privilege drop the folder may not allow it: the lock is what counts anyway.
        let _ = std::fs::remove_file(&self.path);
    }
}

fn read_pid(file: &mut File) -> Option<String> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    let pid = text.trim();
    (!pid.is_empty()).then(|| pid.to_owned())
}

/// The pid of the bot running with the PID file at `path`: `Ok(None)` when no bot holds its
/// lock (none runs, or the file was left behind by a crash).
pub fn running_pid(path: &Path) -> Result<Option<i32>, PidFileError> {
    let io = |source| PidFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        // Nobody holds it: no bot runs (the shared lock is released as it drops).
        Ok(_) => Ok(None),
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let text = read_pid(&mut file).unwrap_or_default();
            text.parse::<i32>().map(Some).map_err(|_| {
                io(std::io::Error::other(format!(
                    "it holds {text:?}, not a pid"
                )))
            })
        }
        Err((_, errno)) => Err(io(std::io::Error::from(errno))),
    }
}

/// The signals other commands send to the pid in the file: `mcpcord reload` (SIGHUP) and
/// `mcp login` / `logout` (SIGUSR1).
pub const SENT_SIGNALS: [Signal; 2] = [Signal::SIGHUP, Signal::SIGUSR1];

/// Ignores [`SENT_SIGNALS`] until the bot's handlers replace this (its start-up installs them
/// first of all): called before the pid is written, so one arriving in between is lost instead
/// of ending the bot, whose default action for both is to die. (Ignored dispositions outlive
/// `exec`; the handlers are in place before any child process starts.)
pub fn ignore_sent_signals() -> nix::Result<()> {
    for signal in SENT_SIGNALS {
        // SAFETY: SIG_IGN runs no code when the signal arrives.
        unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigIgn) }?;
    }
    Ok(())
}

/// Sends `signal` to the bot running with the PID file at `path`: its pid, or `Ok(None)` when
/// none runs (no such file, or nobody holds its lock).
pub fn signal_running(path: &Path, signal: Signal) -> Result<Option<i32>, PidFileError> {
    let pid = match running_pid(path) {
        Ok(Some(pid)) => pid,
        Ok(None) => return Ok(None),
        Err(PidFileError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(error) => return Err(error),
    };
    kill(Pid::from_raw(pid), signal).map_err(|errno| PidFileError::Signal { pid, errno })?;
    Ok(Some(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_signal_before_the_handlers_is_ignored_not_fatal() {
        use nix::sys::signal::SigHandler;
        ignore_sent_signals().unwrap();
        for signal in SENT_SIGNALS {
            // Without the ignore, either would end this test process here.
            nix::sys::signal::raise(signal).unwrap();
            // SAFETY: SIG_IGN again, to read the disposition in force.
            let before = unsafe { nix::sys::signal::signal(signal, SigHandler::SigIgn) }.unwrap();
            assert!(
                matches!(before, SigHandler::SigIgn),
                "{signal} is not ignored: {before:?}"
            );
        }
    }

    #[test]
    fn a_second_lock_on_the_same_file_is_refused_and_names_the_first_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/mcpcord.pid");
        let mut first = PidFile::lock(&path).expect("the first lock");
        first.write_pid().unwrap();
        let refused = PidFile::lock(&path).expect_err("a second lock is refused");
        let text = refused.to_string();
        assert!(text.contains("already running"), "{text}");
        assert!(text.contains(&std::process::id().to_string()), "{text}");
        assert_eq!(running_pid(&path).unwrap(), Some(std::process::id() as i32));
        drop(first);
        assert!(!path.exists(), "removed when released");
        // A file left behind (a crash) is taken over.
        std::fs::write(&path, "999999\n").unwrap();
        assert_eq!(running_pid(&path).unwrap(), None);
        let again = PidFile::lock(&path).expect("a stale file is taken over");
        drop(again);
    }
}
