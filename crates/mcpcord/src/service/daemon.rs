//! `--daemon` and `--user` / `--group`.
//!
//! [`detach`] runs before the async runtime starts (a fork copies only the calling thread):
//! fork, the parent waits for word from the grandchild and exits; the child starts a new
//! session (no controlling terminal) and forks again, so the daemon can never reacquire one;
//! the grandchild's standard input is `/dev/null` and its output and log go to the log file.
//! The working directory stays (relative paths in the configuration keep their meaning).
//!
//! [`drop_privileges`] runs once the database and the PID file are open (they may need root):
//! supplementary groups, then the group, then the user; a process still able to become root
//! again is an error.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{Context as _, bail};
use nix::unistd::{ForkResult, Gid, Group, Uid, User, fork, setgid, setgroups, setsid, setuid};

/// The grandchild's end of the start-up pipe: [`Detached::started`] tells the waiting parent
/// the daemon is on its own (its pid written), so the parent can exit 0.
#[derive(Debug)]
pub struct Detached(UnixStream);

impl Detached {
    /// Tells the parent the daemon started, with its pid.
    pub fn started(mut self) {
        let _ = writeln!(self.0, "{}", std::process::id());
    }
}

/// Detaches into the background (see the module docs). Returns in the daemon only; the
/// original process exits 0 once the daemon says it started (its pid on stdout), 1 if it
/// died first. Must be called while the process has one thread.
pub fn detach(log_file: &Path) -> anyhow::Result<Detached> {
    let log = open_log(log_file)?;
    let null = File::open("/dev/null").context("cannot open /dev/null")?;
    let (mut waiting, daemon) = UnixStream::pair().context("cannot create a pipe")?;
    // SAFETY: one thread (the runtime starts later): the child may run any code.
    match unsafe { fork() }.context("cannot fork")? {
        ForkResult::Parent { .. } => {
            drop(daemon);
            wait_for_start(&mut waiting, log_file)
        }
        ForkResult::Child => {
            drop(waiting);
            leave_the_session()?;
            redirect(&null, &log)?;
            Ok(Detached(daemon))
        }
    }
}

/// Opens (creates, appends to) the log file, its folder too.
fn open_log(log_file: &Path) -> anyhow::Result<File> {
    if let Some(parent) = log_file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the log folder {}", parent.display()))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file)
        .with_context(|| format!("cannot open the log file {}", log_file.display()))
}

/// A new session, then a second fork: the session leader exits, so the daemon (not a leader)
/// can never get a controlling terminal back.
fn leave_the_session() -> anyhow::Result<()> {
    setsid().context("cannot start a new session")?;
    // SAFETY: still one thread.
    if let ForkResult::Parent { .. } = unsafe { fork() }.context("cannot fork")? {
        std::process::exit(0);
    }
    Ok(())
}

/// Standard input from `null`, standard output and error to `log`.
fn redirect(null: &File, log: &File) -> anyhow::Result<()> {
    nix::unistd::dup2_stdin(null).context("cannot redirect standard input")?;
    nix::unistd::dup2_stdout(log).context("cannot redirect standard output")?;
    nix::unistd::dup2_stderr(log).context("cannot redirect standard error")?;
    Ok(())
}

/// The parent's side: prints the daemon's pid and exits 0, or exits 1 if it died first.
fn wait_for_start(waiting: &mut UnixStream, log_file: &Path) -> ! {
    let mut text = String::new();
    let _ = waiting.read_to_string(&mut text);
    match text.trim() {
        "" => {
            eprintln!(
                "mcpcord: error: the daemon stopped during start-up; see {}",
                log_file.display()
            );
            std::process::exit(1);
        }
        pid => {
            println!("{pid}");
            std::process::exit(0);
        }
    }
}

/// Becomes `user` (and `group`, else the user's own group), for good. Nothing to do when
/// neither is given.
pub fn drop_privileges(user: Option<&str>, group: Option<&str>) -> anyhow::Result<()> {
    let user = user.map(lookup_user).transpose()?;
    let gid = the_group(group, user.as_ref())?;
    if let Some(gid) = gid {
        become_group(gid)?;
    }
    if let Some(user) = &user {
        become_user(user.uid)?;
        tracing::info!(user = %user.name, uid = user.uid.as_raw(), gid = gid.map(Gid::as_raw), "privileges dropped");
    }
    Ok(())
}

/// `group`'s id, else `user`'s own group, else none.
fn the_group(group: Option<&str>, user: Option<&User>) -> anyhow::Result<Option<Gid>> {
    match (group, user) {
        (Some(name), _) => lookup_group(name).map(Some),
        (None, Some(user)) => Ok(Some(user.gid)),
        (None, None) => Ok(None),
    }
}

fn lookup_user(name: &str) -> anyhow::Result<User> {
    User::from_name(name)
        .with_context(|| format!("cannot look up the user {name}"))?
        .with_context(|| format!("--user {name}: no such user"))
}

fn lookup_group(name: &str) -> anyhow::Result<Gid> {
    let group = Group::from_name(name)
        .with_context(|| format!("cannot look up the group {name}"))?
        .with_context(|| format!("--group {name}: no such group"))?;
    Ok(group.gid)
}

fn become_group(gid: Gid) -> anyhow::Result<()> {
    if Uid::effective().is_root() {
        setgroups(&[gid])
            .context("cannot set the supplementary groups (--user/--group need root)")?;
    }
    setgid(gid).context("cannot change group (--group needs root)")?;
    Ok(())
}

fn become_user(uid: Uid) -> anyhow::Result<()> {
    setuid(uid).context("cannot change user (--user needs root)")?;
    if !uid.is_root() && setuid(Uid::from_raw(0)).is_ok() {
        bail!("the process could become root again after dropping privileges");
    }
    Ok(())
}
