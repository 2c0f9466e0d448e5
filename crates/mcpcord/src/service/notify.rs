//! systemd notifications (`sd_notify`): READY=1 once the gateway is ready, RELOADING=1 and
//! READY=1 around a reload, STOPPING=1 when shutdown begins, and WATCHDOG=1 every half of
//! `WATCHDOG_USEC` while the process runs. Without `NOTIFY_SOCKET` each call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

/// Says `states` to the service manager; a failure is logged, never fatal (the bot runs on).
fn say(states: &[NotifyState]) {
    if let Err(error) = send(states) {
        tracing::warn!(%error, "cannot notify the service manager");
    }
}

/// `sd_notify` without ever blocking: `sd_notify::notify` sends on a blocking socket, which
/// stalls a runtime thread when the manager's queue is full (a manager that stopped reading).
/// Here a full queue drops the message instead (the next watchdog ping comes soon).
fn send(states: &[NotifyState]) -> std::io::Result<()> {
    use std::os::unix::net::UnixDatagram;
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(());
    };
    let message: String = states.iter().map(|state| format!("{state}\n")).collect();
    let address = notify_address(&path)?;
    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    match socket.send_to_addr(message.as_bytes(), &address) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
            tracing::debug!("the service manager's queue is full: notification dropped");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// The bot is up: the first gateway session is ready.
pub fn ready() {
    say(&[
        NotifyState::Ready,
        NotifyState::Status("connected to Discord"),
    ]);
}

/// A reload begins (`Type=notify-reload` waits for the READY=1 that [`reloaded`] sends).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => say(&[NotifyState::Reloading, now]),
        Err(_) => say(&[NotifyState::Reloading]),
    }
}

/// A reload ended (applied or refused: the bot runs either way).
pub fn reloaded(status: &str) {
    say(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// The address `NOTIFY_SOCKET` names: a path, or `@name` for an abstract socket (Linux).
fn notify_address(path: &std::ffi::OsStr) -> std::io::Result<std::os::unix::net::SocketAddr> {
    use std::os::unix::net::SocketAddr;
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path);
    match bytes.strip_prefix(b"@") {
        #[cfg(target_os = "linux")]
        Some(name) => <SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(name),
        #[cfg(not(target_os = "linux"))]
        Some(_) => Err(std::io::Error::other("abstract sockets need Linux")),
        None => SocketAddr::from_pathname(path),
    }
}

/// Shutdown begins.
pub fn stopping() {
    say(&[NotifyState::Stopping, NotifyState::Status("shutting down")]);
}

/// The interval to ping the watchdog at: half of `WATCHDOG_USEC`, when the service manager
/// set one for this process.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|limit| limit / 2)
}

/// Pings the watchdog every half of its limit until `stop` is cancelled (nothing when there is
/// no watchdog). Pinged from the runtime: a runtime that stops answering stops pinging.
pub fn spawn_watchdog(stop: CancellationToken) {
    let Some(every) = watchdog_interval() else {
        return;
    };
    tracing::info!(?every, "pinging the systemd watchdog");
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every.max(Duration::from_millis(10)));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticker.tick() => say(&[NotifyState::Watchdog]),
            }
        }
    });
}
