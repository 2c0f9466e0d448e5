//! What `/status` answers, as types both sides share: the bot builds it from the engine and
//! the gateway, `mcpcord status` and `mcpcord mcp servers` read it back.

use std::time::Instant;

use mcpcord_discord::status::ShardStatus;
use mcpcord_engine::{BackendLoad, EngineStatus, ServerStatus};
use serde::{Deserialize, Serialize};

use crate::resources::ProcessUsage;

/// The whole `/status` document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusView {
    /// mcpcord's version.
    pub version: String,
    /// The bot's process id.
    pub pid: u32,
    /// Seconds since the process started serving.
    pub uptime_seconds: u64,
    /// Resident memory, in bytes (Linux).
    pub rss_bytes: Option<u64>,
    /// CPU time used so far, in seconds (Linux).
    pub cpu_seconds: Option<f64>,
    /// Whether new turns are taken.
    pub accepting: bool,
    /// Turns running and waiting.
    pub turns: TurnsView,
    /// The gateway shards of this process.
    pub shards: Vec<ShardView>,
    /// The model backends.
    pub backends: Vec<BackendView>,
    /// The MCP servers.
    pub mcp_servers: Vec<ServerView>,
    /// The database's connection pool.
    pub database: DatabaseView,
}

/// Turns running and waiting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TurnsView {
    /// Running now.
    pub in_flight: usize,
    /// Waiting for their conversation or a slot.
    pub queued: usize,
    /// The most that run at once.
    pub max: usize,
}

/// One gateway shard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardView {
    /// Its number.
    pub id: u32,
    /// Connected now.
    pub connected: bool,
    /// Seconds since it last connected.
    pub connected_seconds: Option<u64>,
    /// Times it reconnected.
    pub reconnects: u32,
    /// Latest heartbeat round trip, in milliseconds.
    pub latency_ms: Option<u64>,
}

/// One model backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackendView {
    /// Its name.
    pub name: String,
    /// Its URL, credentials redacted.
    pub url: String,
    /// Whether its latest request or health check succeeded.
    pub healthy: bool,
    /// Requests streaming.
    pub in_flight: usize,
    /// Requests waiting for a permit.
    pub queued: usize,
    /// Its `max_concurrency`.
    pub max_concurrency: usize,
}

/// One MCP server (its replicas summed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerView {
    /// Its name.
    pub name: String,
    /// `starting`, `ready`, `restarting`, `failed`, `stopped` (or `disabled`, from the CLI).
    pub state: String,
    /// `stdio`, `http` or `stream`.
    pub transport: String,
    /// The children's process ids (stdio).
    pub pids: Vec<u32>,
    /// Seconds since the longest-running replica became ready.
    pub uptime_seconds: Option<u64>,
    /// Restarts of all replicas.
    pub restarts: u32,
    /// Tools offered to the model.
    pub tools: usize,
    /// Resident memory of its processes, in bytes.
    pub rss_bytes: Option<u64>,
    /// CPU time of its processes, in seconds.
    pub cpu_seconds: Option<f64>,
    /// Calls served.
    pub calls: u64,
    /// Calls in progress.
    pub in_flight: usize,
    /// The negotiated protocol version.
    pub protocol: Option<String>,
    /// Why it last stopped or failed to start.
    pub last_error: Option<String>,
}

/// The database's connection pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseView {
    /// Connections open.
    pub open: u32,
    /// Open and unused.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

impl StatusView {
    /// The document for `engine`'s `status`, the gateway's `shards`, and this process.
    pub fn new(
        status: &EngineStatus,
        shards: &[ShardStatus],
        started: Instant,
        usage: Option<ProcessUsage>,
    ) -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            uptime_seconds: started.elapsed().as_secs(),
            rss_bytes: usage.map(|u| u.rss_bytes),
            cpu_seconds: usage.map(|u| u.cpu_time.as_secs_f64()),
            accepting: status.accepting,
            turns: TurnsView {
                in_flight: status.turns_in_flight,
                queued: status.turns_queued,
                max: status.max_concurrent_turns,
            },
            shards: shards.iter().map(ShardView::from).collect(),
            backends: status.backends.iter().map(BackendView::from).collect(),
            mcp_servers: status.mcp_servers.iter().map(ServerView::from).collect(),
            database: DatabaseView {
                open: status.db_pool.open,
                idle: status.db_pool.idle,
                max: status.db_pool.max,
            },
        }
    }
}

impl From<&ShardStatus> for ShardView {
    fn from(shard: &ShardStatus) -> Self {
        Self {
            id: shard.id,
            connected: shard.connected,
            connected_seconds: shard
                .since
                .filter(|_| shard.connected)
                .map(|since| since.elapsed().as_secs()),
            reconnects: shard.reconnects,
            latency_ms: shard
                .latency
                .map(|l| u64::try_from(l.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

impl From<&BackendLoad> for BackendView {
    fn from(backend: &BackendLoad) -> Self {
        Self {
            name: backend.name.clone(),
            url: backend.url.clone(),
            healthy: backend.healthy,
            in_flight: backend.in_flight,
            queued: backend.queued,
            max_concurrency: backend.max_concurrency,
        }
    }
}

impl From<&ServerStatus> for ServerView {
    fn from(status: &ServerStatus) -> Self {
        let replicas = &status.replicas;
        Self {
            name: status.name.clone(),
            state: status.state.to_string(),
            transport: status.transport.to_string(),
            pids: replicas.iter().filter_map(|r| r.pid).collect(),
            uptime_seconds: replicas
                .iter()
                .filter_map(|r| r.uptime)
                .max()
                .map(|u| u.as_secs()),
            restarts: status.restarts(),
            tools: status.tools,
            rss_bytes: status.rss_bytes(),
            cpu_seconds: replicas
                .iter()
                .filter_map(|r| r.stats.map(|s| s.cpu_time))
                .reduce(|a, b| a + b)
                .map(|c| c.as_secs_f64()),
            calls: replicas.iter().map(|r| r.calls).sum(),
            in_flight: replicas.iter().map(|r| r.in_flight).sum(),
            protocol: status.protocol.clone(),
            last_error: status.last_error().map(str::to_string),
        }
    }
}
