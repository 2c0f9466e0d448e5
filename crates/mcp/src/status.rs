//! What `mcpcord mcp servers`, `mcpcord check` and the metrics show about each server.

use std::time::Duration;

use serde::Serialize;

use crate::spec::Lifecycle;
use crate::stats::ProcessStats;

/// Where a server (or one replica of it) is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    /// Launching or connecting, handshake and tool list pending.
    Starting,
    /// Answering calls.
    Ready,
    /// Stopped or failed to start; starting again after a backoff delay.
    Restarting,
    /// Crashed too often in a short time (circuit open): retried slowly.
    Failed,
    /// An OAuth server with no usable login and no one to authorize: not restarted; started
    /// again when its login changes (`mcpcord mcp login NAME`), checked every 30 s.
    NeedsLogin,
    /// Not running and not coming back (restart policy, or the host shut down).
    Stopped,
}

impl ServerState {
    /// Lower-case name for tables and logs.
    pub fn name(self) -> &'static str {
        match self {
            ServerState::Starting => "starting",
            ServerState::Ready => "ready",
            ServerState::Restarting => "restarting",
            ServerState::Failed => "failed",
            ServerState::NeedsLogin => "needs-login",
            ServerState::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One configured server.
#[derive(Clone, Debug, Serialize)]
pub struct ServerStatus {
    /// Its name.
    pub name: String,
    /// `stdio`, `http` or `stream`.
    pub transport: &'static str,
    /// The best state among its replicas (ready if any replica is).
    pub state: ServerState,
    /// Tools it offers to the model (after policy).
    pub tools: usize,
    /// Its own name and version, as it reported them.
    pub implementation: Option<String>,
    /// The negotiated protocol version, e.g. `2026-07-28`.
    pub protocol: Option<String>,
    /// How the lifecycle is established, as configured.
    pub lifecycle: Lifecycle,
    /// Under [`Lifecycle::Auto`], the lifecycle the latest successful start used
    /// ([`Lifecycle::Initialize`] ones skip the discovery probe on the next start).
    pub learned_lifecycle: Option<Lifecycle>,
    /// Each replica.
    pub replicas: Vec<ReplicaStatus>,
}

impl ServerStatus {
    /// Restarts of all replicas.
    pub fn restarts(&self) -> u32 {
        self.replicas.iter().map(|r| r.restarts).sum()
    }

    /// Resident memory of all replicas, when known.
    pub fn rss_bytes(&self) -> Option<u64> {
        self.replicas
            .iter()
            .filter_map(|r| r.stats.map(|s| s.rss_bytes))
            .reduce(|a, b| a + b)
    }

    /// What an admin does about the server's state, when there is something to do.
    pub fn hint(&self) -> Option<String> {
        (self.state == ServerState::NeedsLogin)
            .then(|| format!("run `mcpcord mcp login {}`", self.name))
    }

    /// The latest error of any replica.
    pub fn last_error(&self) -> Option<&str> {
        self.replicas.iter().find_map(|r| r.last_error.as_deref())
    }
}

/// One running instance of a server.
#[derive(Clone, Debug, Serialize)]
pub struct ReplicaStatus {
    /// 0-based.
    pub index: usize,
    /// Its state.
    pub state: ServerState,
    /// The child's pid (stdio).
    pub pid: Option<u32>,
    /// Time since it became ready.
    pub uptime: Option<Duration>,
    /// Times it was started again.
    pub restarts: u32,
    /// Why it last stopped or failed to start.
    pub last_error: Option<String>,
    /// CPU time and memory of its process group (stdio, Linux).
    pub stats: Option<ProcessStats>,
    /// Calls it has served.
    pub calls: u64,
    /// Calls it is serving now.
    pub in_flight: usize,
    /// Time until the next start attempt, while restarting or failed.
    pub next_attempt_in: Option<Duration>,
}
