//! Child processes of stdio servers: launched with only the environment their configuration
//! names (plus `PATH`, `HOME`, `LANG`), in their working directory (created with mode 0700 when
//! missing), in a process group of their own, told to die with the
//! bot (`PR_SET_PDEATHSIG` on Linux, kill-on-drop otherwise); stderr goes to the log, one event
//! per line, in the server's span; shutdown is close stdin, SIGTERM to the group, then SIGKILL.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::watch;
use tracing::Instrument;

use crate::error::ConnectError;
use crate::spec::StdioSpec;

/// Variables a child inherits from the bot; everything else comes from its configuration.
pub const INHERITED_ENV: [&str; 3] = ["PATH", "HOME", "LANG"];
/// Longest stderr line logged as is; longer ones are cut.
const MAX_LOG_LINE: usize = 4096;

/// A launched child: its pipes (for the MCP transport) and a handle on its life.
pub(crate) struct Spawned {
    pub stdin: ChildStdin,
    pub stdout: ChildStdout,
    pub handle: ChildHandle,
}

/// The running child: its pid (= its process group id) and its exit status once it exits.
#[derive(Clone, Debug)]
pub(crate) struct ChildHandle {
    pub pid: u32,
    exit: watch::Receiver<Option<ExitStatus>>,
}

/// Launches `spec` for the server `name`.
pub(crate) fn spawn(spec: &StdioSpec, name: &str) -> Result<Spawned, ConnectError> {
    let spawn_error = |reason: String| ConnectError::Spawn {
        command: spec.command.clone(),
        reason,
    };
    let mut child = command(spec)?
        .spawn()
        .map_err(|error| spawn_error(error.to_string()))?;
    let pid = child.id().unwrap_or_default();
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(spawn_error("its pipes were not set up".into()));
    };
    // Inside the supervisor's span, which names the server and replica.
    let span = tracing::info_span!("mcp_stderr", pid);
    tokio::spawn(log_stderr(stderr).instrument(span));
    let exit = watch_exit(child, pid, name.to_owned());
    Ok(Spawned {
        stdin,
        stdout,
        handle: ChildHandle { pid, exit },
    })
}

/// The command for `spec`: its own environment only, its working directory (created), piped
/// stdio, its own process group, killed with the bot.
fn command(spec: &StdioSpec) -> Result<Command, ConnectError> {
    let spawn_error = |reason: String| ConnectError::Spawn {
        command: spec.command.clone(),
        reason,
    };
    // A relative program path (`./server.sh`) means the bot's directory, not the child's.
    let program = if spec.command.contains('/') {
        std::path::absolute(&spec.command).map_err(|e| spawn_error(e.to_string()))?
    } else {
        spec.command.clone().into()
    };
    let mut command = Command::new(program);
    command.args(&spec.args).env_clear();
    for var in INHERITED_ENV {
        if let Some(value) = std::env::var_os(var) {
            command.env(var, value);
        }
    }
    command.envs(&spec.env);
    if let Some(cwd) = &spec.cwd {
        command.current_dir(working_dir(cwd).map_err(spawn_error)?);
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    #[cfg(target_os = "linux")]
    die_with_parent(&mut command);
    Ok(command)
}

/// `cwd` made absolute and created (mode 0700) when missing.
fn working_dir(cwd: &std::path::Path) -> Result<std::path::PathBuf, String> {
    let cwd = std::path::absolute(cwd).map_err(|e| e.to_string())?;
    create_private_dir(&cwd).map_err(|error| {
        format!(
            "cannot create its working directory {}: {error}",
            cwd.display()
        )
    })?;
    Ok(cwd)
}

/// Waits for `child` in a task (owning it reaps it) and publishes its exit status.
fn watch_exit(mut child: Child, pid: u32, server: String) -> watch::Receiver<Option<ExitStatus>> {
    let (exit_tx, exit) = watch::channel(None);
    tokio::spawn(
        async move {
            // kill_on_drop covers a runtime shut down first.
            let status = child.wait().await;
            match &status {
                Ok(status) => tracing::debug!(server, pid, %status, "MCP server process exited"),
                Err(error) => {
                    tracing::warn!(server, pid, %error, "cannot wait for the MCP server process")
                }
            }
            let _ = exit_tx.send(Some(status.unwrap_or_else(|_| failed_status())));
        }
        .in_current_span(),
    );
    exit
}

/// Creates `dir` (and missing parents) readable by the bot's user only (mode 0700) when it
/// does not exist; an existing directory is left as it is.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Asks the kernel to SIGTERM the child when the bot dies, even by SIGKILL: no orphans.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and only calls the
    // async-signal-safe `prctl` and `getppid`.
    let parent = std::process::id() as libc::pid_t;
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("the parent exited during spawn"));
            }
            Ok(())
        });
    }
}

#[cfg(unix)]
fn failed_status() -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    ExitStatus::from_raw(1 << 8)
}

#[cfg(not(unix))]
fn failed_status() -> ExitStatus {
    use std::os::windows::process::ExitStatusExt;
    ExitStatus::from_raw(1)
}

async fn log_stderr(stderr: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => {
                let line = cut(&line, MAX_LOG_LINE);
                tracing::info!(target: "mcpcord_mcp::stderr", "{line}");
            }
            Ok(None) => return,
            Err(error) => {
                tracing::debug!(%error, "stderr of the MCP server is unreadable");
                return;
            }
        }
    }
}

fn cut(line: &str, max: usize) -> &str {
    if line.len() <= max {
        return line;
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

impl ChildHandle {
    /// The exit status, once the process has exited (and been reaped).
    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// Waits until the process has exited.
    pub(crate) async fn exited(&self) -> ExitStatus {
        let mut exit = self.exit.clone();
        match exit.wait_for(Option::is_some).await {
            Ok(status) => status.unwrap_or_else(failed_status),
            // The waiting task is gone: the runtime is shutting down and kill_on_drop fired.
            Err(_) => failed_status(),
        }
    }

    /// Sends `signal` to the whole process group (the server and anything it launched).
    #[cfg(unix)]
    pub(crate) fn signal_group(&self, signal: libc::c_int) {
        if self.pid == 0 {
            return;
        }
        // SAFETY: killpg has no memory-safety preconditions. The group id is the child's pid,
        // which the kernel does not reuse while the child is unreaped or its group has members.
        let result = unsafe { libc::killpg(self.pid as libc::pid_t, signal) };
        if result != 0 {
            tracing::trace!(
                pid = self.pid,
                signal,
                "killpg: {}",
                std::io::Error::last_os_error()
            );
        }
    }

    /// Kills the group at once (a hung server, or the last step of a shutdown).
    pub(crate) fn kill(&self) {
        #[cfg(unix)]
        self.signal_group(libc::SIGKILL);
    }

    /// After stdin was closed: waits `grace` for an exit, then SIGTERMs the group, waits
    /// `grace` again, then SIGKILLs it. Leftover group members are killed in any case.
    pub(crate) async fn terminate(&self, grace: Duration) {
        if tokio::time::timeout(grace, self.exited()).await.is_err() {
            tracing::debug!(pid = self.pid, "no exit after stdin closed: SIGTERM");
            #[cfg(unix)]
            self.signal_group(libc::SIGTERM);
            if tokio::time::timeout(grace, self.exited()).await.is_err() {
                tracing::warn!(pid = self.pid, "no exit after SIGTERM: SIGKILL");
                self.kill();
                let _ = tokio::time::timeout(grace, self.exited()).await;
            }
        }
        // Anything the server launched into its group and left behind.
        self.kill();
    }
}

/// Describes an exit status for logs and status lines: `exit status 3`, `killed by signal 9`.
pub(crate) fn describe_exit(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => status.to_string(),
    }
}
