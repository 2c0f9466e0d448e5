//! Supervision: one task per replica keeps its server running. Start (within the start
//! timeout), then watch for the end of the process or connection, a failed health check (hung:
//! killed) or memory over the limit (killed); restart after a doubling, jittered delay; after
//! repeated failures in a short window mark it failed (circuit open) and retry slowly. On host
//! shutdown: close stdin, SIGTERM, SIGKILL.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::auth::MemoryVault;
use crate::auth::server::ServerAuth;
use crate::backoff::{BackoffState, FailureWindow};
use crate::callbacks::Callbacks;
use crate::client::{HostClient, Routes};
use crate::connection::Connection;
use crate::error::{ConnectError, humanize};
use crate::host::Shared;
use crate::spec::{Lifecycle, RestartPolicy, ServerSpec, TransportSpec};
use crate::status::ServerState;

/// One configured server and its replicas.
pub(crate) struct Server {
    pub spec: Arc<ServerSpec>,
    pub replicas: Vec<Arc<Replica>>,
    /// Woken on every replica state change (callers waiting for a ready replica).
    pub changed: Notify,
    next: AtomicUsize,
    /// Stops this server's supervisors (a child of the host's shutdown; cancelled alone when a
    /// reload removes or replaces the server).
    pub stop: CancellationToken,
    /// The lifecycle the server's latest successful start used, under [`Lifecycle::Auto`]
    /// (shared by its replicas; see [`Server::lifecycle`]).
    learned: Mutex<Option<Lifecycle>>,
    /// The OAuth login of an HTTP server that has `auth`, made at its first start and shared
    /// by every connection after it (reconnects, replicas).
    auth: OnceLock<Option<Arc<ServerAuth>>>,
    /// Woken when the saved login changed ([`crate::McpHost::credentials_changed`]).
    login_changed: Notify,
    /// The engine was told this server needs a login (reset when it is ready again).
    announced: AtomicBool,
    /// The scope sets admins were told a call needed.
    refused_scopes: Mutex<HashSet<String>>,
}

/// How often a server that needs a login looks at the vault again (a login made by
/// `mcpcord mcp login` in another process lands there).
const LOGIN_RECHECK: Duration = Duration::from_secs(30);

/// One instance of a server.
pub(crate) struct Replica {
    pub index: usize,
    pub state: watch::Sender<ReplicaState>,
    /// Calls served.
    pub calls: AtomicU64,
    /// Asks the supervisor to restart this replica now.
    pub restart: Notify,
}

/// A replica's state as the supervisor publishes it.
#[derive(Clone)]
pub(crate) struct ReplicaState {
    pub phase: ServerState,
    pub connection: Option<Arc<Connection>>,
    pub restarts: u32,
    pub last_error: Option<String>,
    /// Why the latest start failed (kept for [`crate::McpHost::connect`]).
    pub start_error: Option<ConnectError>,
    /// The first start attempt has finished, well or not.
    pub settled: bool,
    pub next_attempt: Option<Instant>,
}

impl Server {
    pub(crate) fn new(spec: ServerSpec, stop: CancellationToken) -> Self {
        let replicas = (0..spec.replicas.max(1))
            .map(|index| {
                Arc::new(Replica {
                    index,
                    state: watch::Sender::new(ReplicaState {
                        phase: ServerState::Starting,
                        connection: None,
                        restarts: 0,
                        last_error: None,
                        start_error: None,
                        settled: false,
                        next_attempt: None,
                    }),
                    calls: AtomicU64::new(0),
                    restart: Notify::new(),
                })
            })
            .collect();
        Self {
            spec: Arc::new(spec),
            replicas,
            changed: Notify::new(),
            stop,
            next: AtomicUsize::new(0),
            learned: Mutex::new(None),
            auth: OnceLock::new(),
            login_changed: Notify::new(),
            announced: AtomicBool::new(false),
            refused_scopes: Mutex::new(HashSet::new()),
        }
    }

    /// The authorization of this server, once made.
    pub(crate) fn current_auth(&self) -> Option<Arc<ServerAuth>> {
        self.auth.get().cloned().flatten()
    }

    /// Whether `scopes` is a scope set not reported before (and remembers it).
    pub(crate) fn note_refused_scopes(&self, scopes: &str) -> bool {
        self.refused_scopes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(scopes.to_owned())
    }

    /// The saved login changed: the authorization reads the vault again, and the replicas
    /// waiting for a login start at once.
    pub(crate) async fn credentials_changed(&self) {
        if let Some(Some(auth)) = self.auth.get() {
            auth.reload().await;
        }
        self.login_changed.notify_waiters();
    }

    /// The OAuth authorization of this server (made on first use), when its spec asks for one.
    pub(crate) fn auth(&self, callbacks: &Callbacks) -> Option<Arc<ServerAuth>> {
        self.auth
            .get_or_init(|| {
                let TransportSpec::Http(http) = &self.spec.transport else {
                    return None;
                };
                let auth = http.auth.as_ref()?;
                let vault = callbacks
                    .vault
                    .clone()
                    .unwrap_or_else(|| Arc::new(MemoryVault::default()));
                Some(Arc::new(ServerAuth::new(
                    &self.spec.name,
                    &http.url,
                    auth,
                    callbacks.authorizer.clone(),
                    vault,
                )))
            })
            .clone()
    }

    /// The lifecycle to start with: the configured one, except that an `Auto` server found to
    /// need the `initialize` handshake gets it straight away (no discovery probe each start).
    pub(crate) fn lifecycle(&self) -> Lifecycle {
        let learned = *self.learned.lock().unwrap_or_else(|e| e.into_inner());
        match (self.spec.lifecycle, learned) {
            (Lifecycle::Auto, Some(Lifecycle::Initialize)) => Lifecycle::Initialize,
            (configured, _) => configured,
        }
    }

    /// Remembers which lifecycle `connection` was established with (`Auto` servers only).
    fn learn_lifecycle(&self, connection: &Connection) {
        if self.spec.lifecycle != Lifecycle::Auto {
            return;
        }
        let used = connection.lifecycle();
        let mut learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        if *learned != Some(used) {
            tracing::info!(lifecycle = ?used, "lifecycle of the MCP server learned");
        }
        *learned = Some(used);
    }

    /// Forgets the learned lifecycle after a failed start: the next start probes again (the
    /// server may have been upgraded or replaced).
    fn forget_lifecycle(&self) {
        *self.learned.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The lifecycle learned for an `Auto` server, if it has started yet.
    pub(crate) fn learned_lifecycle(&self) -> Option<Lifecycle> {
        *self.learned.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ready replica with the fewest calls in flight (ties taken in turn).
    pub(crate) fn pick(&self) -> Option<(Arc<Replica>, Arc<Connection>)> {
        let count = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;
        let mut best: Option<(usize, Arc<Replica>, Arc<Connection>)> = None;
        for offset in 0..count {
            let replica = &self.replicas[(start + offset) % count];
            let state = replica.state.borrow();
            let Some(connection) = state.connection.as_ref() else {
                continue;
            };
            if state.phase != ServerState::Ready || connection.is_closed() {
                continue;
            }
            let load = connection.in_flight.load(Ordering::Relaxed);
            if best
                .as_ref()
                .is_none_or(|(best_load, ..)| load < *best_load)
            {
                best = Some((load, replica.clone(), connection.clone()));
            }
        }
        best.map(|(_, replica, connection)| (replica, connection))
    }

    /// Calls in flight on every replica's connection.
    pub(crate) fn in_flight(&self) -> usize {
        self.replicas
            .iter()
            .filter_map(|r| r.state.borrow().connection.clone())
            .map(|c| c.in_flight.load(Ordering::Relaxed))
            .sum()
    }

    /// The best state among the replicas.
    pub(crate) fn state(&self) -> ServerState {
        let phases: Vec<ServerState> = self
            .replicas
            .iter()
            .map(|r| r.state.borrow().phase)
            .collect();
        [
            ServerState::Ready,
            ServerState::Starting,
            ServerState::Restarting,
            ServerState::NeedsLogin,
            ServerState::Failed,
        ]
        .into_iter()
        .find(|wanted| phases.contains(wanted))
        .unwrap_or(ServerState::Stopped)
    }

    /// Whether no replica is coming back soon (all failed, stopped or waiting for a login).
    pub(crate) fn hopeless(&self) -> bool {
        matches!(
            self.state(),
            ServerState::Failed | ServerState::Stopped | ServerState::NeedsLogin
        )
    }

    fn set(&self, replica: &Replica, change: impl FnOnce(&mut ReplicaState)) {
        replica.state.send_modify(change);
        self.changed.notify_waiters();
    }
}

/// How a running connection came to an end.
enum End {
    Shutdown,
    Requested,
    LoginLost,
    Exited(String),
    Hung(String),
    OverMemory(String),
}

/// What one start (and, if it started, one run) of the server leads to.
enum Step {
    /// The host is shutting down: stop supervising.
    Shutdown,
    /// Restarted on request: start again at once.
    Again,
    /// It stopped or failed to start: why, and whether a stdio server exited with status 0.
    Down { reason: String, clean_exit: bool },
    /// It needs a login an admin makes: why.
    NeedsLogin(String),
}

/// Keeps one replica running until the host shuts down.
pub(crate) async fn supervise(shared: Arc<Shared>, server: Arc<Server>, replica: Arc<Replica>) {
    let span =
        tracing::info_span!("mcp_server", server = %server.spec.name, replica = replica.index);
    run(shared, server, replica).instrument(span).await;
}

async fn run(shared: Arc<Shared>, server: Arc<Server>, replica: Arc<Replica>) {
    let mut supervisor = Supervisor::new(shared, server, replica);
    supervisor.keep_running().await;
    supervisor.server.set(&supervisor.replica, |s| {
        s.phase = ServerState::Stopped;
        s.connection = None;
        s.next_attempt = None;
    });
}

/// The supervisor of one replica: the restart delay and the failure window are its own.
struct Supervisor {
    shared: Arc<Shared>,
    server: Arc<Server>,
    replica: Arc<Replica>,
    spec: Arc<ServerSpec>,
    backoff: BackoffState,
    failures: FailureWindow,
}

impl Supervisor {
    fn new(shared: Arc<Shared>, server: Arc<Server>, replica: Arc<Replica>) -> Self {
        let options = shared.options();
        Self {
            backoff: BackoffState::new(options.backoff),
            failures: FailureWindow::new(options.circuit),
            spec: server.spec.clone(),
            shared,
            server,
            replica,
        }
    }

    fn set(&self, change: impl FnOnce(&mut ReplicaState)) {
        self.server.set(&self.replica, change);
    }

    /// Start, run, and restart after a delay, until shutdown or the restart policy says stop.
    async fn keep_running(&mut self) {
        while !self.server.stop.is_cancelled() {
            let (reason, clean_exit) = match self.start_and_run().await {
                Step::Shutdown => return,
                Step::Again => continue,
                Step::NeedsLogin(reason) => {
                    if !self.wait_for_login(reason).await {
                        return;
                    }
                    continue;
                }
                Step::Down { reason, clean_exit } => (reason, clean_exit),
            };
            if self.stays_down(clean_exit) {
                self.set(|s| {
                    s.phase = ServerState::Stopped;
                    s.last_error = Some(reason);
                });
                self.shared.forget_tools_if_down(&self.server);
                return;
            }
            if !self.wait_to_restart(reason).await {
                return;
            }
        }
    }

    /// One start within the start timeout and, when it works, one run until it ends.
    async fn start_and_run(&mut self) -> Step {
        self.set(|s| {
            s.phase = ServerState::Starting;
            s.next_attempt = None;
        });
        let timeout = self.spec.start_timeout;
        let attempt = tokio::select! {
            result = tokio::time::timeout(timeout, start(&self.shared, &self.server)) => {
                result.unwrap_or(Err(ConnectError::Timeout { after: timeout }))
            }
            () = self.server.stop.cancelled() => return Step::Shutdown,
        };
        match attempt {
            Ok(connection) => self.run_until_end(Arc::new(connection)).await,
            Err(ConnectError::NeedsLogin { server, reason }) => {
                let error = ConnectError::NeedsLogin {
                    server,
                    reason: reason.clone(),
                };
                self.set(|s| {
                    s.start_error = Some(error);
                    s.settled = true;
                });
                Step::NeedsLogin(reason)
            }
            Err(error) => {
                tracing::warn!(%error, "MCP server failed to start");
                self.server.forget_lifecycle();
                let reason = error.to_string();
                self.set(|s| {
                    s.start_error = Some(error);
                    s.settled = true;
                });
                Step::Down {
                    reason,
                    clean_exit: false,
                }
            }
        }
    }

    /// Publishes a ready connection, watches it until it ends, and closes or kills it.
    async fn run_until_end(&mut self, connection: Arc<Connection>) -> Step {
        tracing::info!(
            pid = connection.pid(),
            protocol = %connection.identity.protocol,
            "MCP server ready"
        );
        self.set(|s| {
            s.phase = ServerState::Ready;
            s.connection = Some(connection.clone());
            s.settled = true;
            s.start_error = None;
        });
        self.server.announced.store(false, Ordering::Relaxed);
        let end = monitor(&self.shared, &self.server, &self.replica, &connection).await;
        self.set(|s| {
            s.connection = None;
            s.phase = ServerState::Restarting;
        });
        if connection.started.elapsed() >= self.shared.options().stable_after {
            self.backoff.reset();
            self.failures.clear();
        }
        self.close(&connection, end).await
    }

    /// Ends a connection the way its end calls for.
    async fn close(&self, connection: &Connection, end: End) -> Step {
        let grace = self.shared.options().shutdown_grace;
        match end {
            End::Shutdown => {
                connection.shutdown(grace).await;
                Step::Shutdown
            }
            End::Requested => {
                tracing::info!("restarting on request");
                connection.shutdown(grace).await;
                self.set(|s| s.restarts += 1);
                Step::Again
            }
            End::LoginLost => {
                tracing::info!("the login was lost: connecting again to find out why");
                connection.shutdown(grace).await;
                Step::Again
            }
            End::Exited(how) => {
                let clean_exit = connection.exited_cleanly();
                connection.shutdown(grace).await;
                tracing::warn!(%how, "MCP server stopped");
                Step::Down {
                    reason: format!("stopped: {how}"),
                    clean_exit,
                }
            }
            End::Hung(why) | End::OverMemory(why) => {
                tracing::warn!(%why, "killing the MCP server");
                connection.kill().await;
                Step::Down {
                    reason: why,
                    clean_exit: false,
                }
            }
        }
    }

    /// Whether the restart policy keeps the server down after it stopped.
    fn stays_down(&self, clean_exit: bool) -> bool {
        match self.spec.restart {
            RestartPolicy::Always => false,
            RestartPolicy::OnFailure => clean_exit,
            RestartPolicy::Never => true,
        }
    }

    /// Waits, with the tools out of the catalogue, until the login may have changed: told so,
    /// [`LOGIN_RECHECK`] passed, or a restart asked for. False when the host shuts down.
    async fn wait_for_login(&mut self, reason: String) -> bool {
        let changed = self.server.login_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        self.set(|s| {
            s.phase = ServerState::NeedsLogin;
            s.last_error = Some(reason.clone());
            s.next_attempt = Some(Instant::now() + LOGIN_RECHECK);
        });
        self.shared.forget_tools_if_down(&self.server);
        if !self.server.announced.swap(true, Ordering::Relaxed) {
            self.shared.announce_needs_login(&self.spec.name, &reason);
        }
        tokio::select! {
            () = tokio::time::sleep(LOGIN_RECHECK) => {}
            () = changed => {}
            () = self.replica.restart.notified() => {}
            () = self.server.stop.cancelled() => return false,
        }
        if let Some(auth) = self.server.auth.get().cloned().flatten() {
            auth.reload().await;
        }
        true
    }

    /// Records the failure, publishes the delay (failed when the circuit opened) and waits it
    /// out or until a restart is asked for. False when the host shuts down meanwhile.
    async fn wait_to_restart(&mut self, reason: String) -> bool {
        let circuit_open = self.failures.record(Instant::now());
        let delay = if circuit_open {
            tracing::error!(
                retry_in = %humanize(self.failures.retry_after()),
                "MCP server keeps failing: marked failed, retrying slowly"
            );
            self.failures.retry_after()
        } else {
            let delay = self.backoff.next_delay();
            tracing::info!(retry_in = %humanize(delay), "restarting the MCP server");
            delay
        };
        self.set(|s| {
            s.phase = if circuit_open {
                ServerState::Failed
            } else {
                ServerState::Restarting
            };
            s.last_error = Some(reason);
            s.next_attempt = Some(Instant::now() + delay);
        });
        if circuit_open {
            self.shared.forget_tools_if_down(&self.server);
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = self.replica.restart.notified() => {}
            () = self.server.stop.cancelled() => return false,
        }
        self.set(|s| s.restarts += 1);
        true
    }
}

/// Opens the connection (on the lifecycle learned for the server, if any), follows tool list
/// changes and lists the tools (all within the caller's start timeout).
async fn start(shared: &Arc<Shared>, server: &Server) -> Result<Connection, ConnectError> {
    let spec = &server.spec;
    let mut client = host_client(shared, spec);
    let auth = server.auth(&shared.callbacks);
    client.auth = auth.clone();
    let opened = Connection::open(spec, server.lifecycle(), client).await;
    let connection = match opened {
        Ok(connection) => connection,
        Err(error) => return Err(login_or(auth.as_deref(), &spec.name, error).await),
    };
    server.learn_lifecycle(&connection);
    connection.follow_tool_list().await;
    let tools = match connection.list_tools(spec.start_timeout).await {
        Ok(tools) => tools,
        Err(error) => {
            let error = ConnectError::ListTools(error);
            return Err(login_or(auth.as_deref(), &spec.name, error).await);
        }
    };
    shared.set_tools(&spec.name, tools);
    Ok(connection)
}

/// [`ConnectError::NeedsLogin`] when the server's authorization says it needs a login an
/// admin must make, else `error`.
async fn login_or(auth: Option<&ServerAuth>, server: &str, error: ConnectError) -> ConnectError {
    let Some(auth) = auth else {
        return error;
    };
    match auth.needs_login().await {
        Some(reason) => ConnectError::NeedsLogin {
            server: server.to_owned(),
            reason,
        },
        None => error,
    }
}

/// A fresh handler for one connection of `spec`.
fn host_client(shared: &Arc<Shared>, spec: &ServerSpec) -> HostClient {
    let weak = Arc::downgrade(shared);
    let name = spec.name.clone();
    HostClient {
        server: Arc::from(spec.name.as_str()),
        allow_sampling: spec.allow_sampling,
        callbacks: shared.callbacks.clone(),
        routes: Arc::new(Routes::default()),
        auth: None,
        tools_changed: Arc::new(move |peer| {
            if let Some(shared) = weak.upgrade() {
                shared.refresh_tools(&name, peer);
            }
        }),
    }
}

/// Watches a ready connection until it ends or must end.
async fn monitor(
    shared: &Shared,
    server: &Server,
    replica: &Replica,
    connection: &Connection,
) -> End {
    let spec = &server.spec;
    let options = shared.options();
    let now = tokio::time::Instant::now();
    let mut health = tokio::time::interval_at(now + spec.health.interval, spec.health.interval);
    health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let every = options.stats_interval.max(Duration::from_millis(10));
    let mut sampling = tokio::time::interval_at(now + every, every);
    sampling.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let auth = server.auth.get().cloned().flatten();
    let lost = auth.as_deref().and_then(ServerAuth::lost);
    loop {
        let login_lost = async {
            match lost {
                Some(lost) => lost.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = server.stop.cancelled() => return End::Shutdown,
            () = login_lost => return End::LoginLost,
            () = connection.closed() => {
                let how = connection
                    .exit_description(options.shutdown_grace)
                    .await
                    .unwrap_or_else(|| "the connection closed".to_owned());
                return End::Exited(how);
            }
            () = replica.restart.notified() => return End::Requested,
            _ = health.tick() => {
                if let Err(why) = connection.health_check(spec.health.timeout).await
                    && !connection.is_closed()
                {
                    return End::Hung(why);
                }
            }
            _ = sampling.tick() => {
                if let (Some(limit), Some(stats)) = (spec.memory_limit, connection.stats())
                    && stats.rss_bytes > limit
                {
                    return End::OverMemory(format!(
                        "resident memory {} is over the limit of {}",
                        format_bytes(stats.rss_bytes),
                        format_bytes(limit)
                    ));
                }
            }
        }
    }
}

/// Byte counts the way people read them: `512 B`, `12.3 MiB`.
pub fn format_bytes(count: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = count as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{count} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
