//! What the engine tells operators: metrics through the `metrics` facade (free when no recorder
//! is installed), one structured log line per finished turn (target [`TURN_LOG_TARGET`]), and a
//! snapshot of everything it runs ([`EngineStatus`]) for status pages and gauges.
//!
//! Facts are recorded where they are known: turns and tool calls as they finish; the state of
//! backends, MCP servers and the database pool by [`record_status`] from a snapshot, when metrics
//! are scraped or the resource line is written.

use std::time::{Duration, Instant};

use mcpcord_llm::BackendLoad;
use mcpcord_mcp::ServerStatus;
use mcpcord_memory::{GuildId, PoolStats, UserId};

/// The tracing target of the per-turn line.
pub const TURN_LOG_TARGET: &str = "mcpcord::turn";

/// Turns finished, by `outcome` (`answered`, `interrupted`, `timed_out`, `failed`).
pub const TURNS_TOTAL: &str = "mcpcord_turns_total";
/// Seconds from a turn's request to its end, by `model`.
pub const TURN_DURATION: &str = "mcpcord_turn_duration_seconds";
/// Seconds from a turn's request to the model's first token (text or thinking), by `model`.
pub const TIME_TO_FIRST_TOKEN: &str = "mcpcord_time_to_first_token_seconds";
/// Tokens, by `model` and `kind` (`prompt`, `completion`).
pub const TOKENS_TOTAL: &str = "mcpcord_tokens_total";
/// Tool calls, by `server`, `tool` and `outcome` (`ok`, `error`, `failed`, `refused`).
pub const TOOL_CALLS_TOTAL: &str = "mcpcord_tool_calls_total";
/// Seconds a tool call took, by `server` and `tool`.
pub const TOOL_CALL_DURATION: &str = "mcpcord_tool_call_duration_seconds";
/// Turns running now (holding a turn slot, or waiting for a person).
pub const TURNS_IN_FLIGHT: &str = "mcpcord_turns_in_flight";
/// Turns waiting for their conversation or a turn slot.
pub const TURNS_QUEUED: &str = "mcpcord_turns_queued";
/// 1 when an MCP server answers calls, else 0, by `server`.
pub const MCP_SERVER_UP: &str = "mcpcord_mcp_server_up";
/// Times an MCP server was started again, by `server`.
pub const MCP_SERVER_RESTARTS: &str = "mcpcord_mcp_server_restarts_total";
/// Resident memory of an MCP server's processes, by `server`.
pub const MCP_SERVER_MEMORY: &str = "mcpcord_mcp_server_memory_bytes";
/// Model requests streaming on a backend, by `backend`.
pub const BACKEND_IN_FLIGHT: &str = "mcpcord_backend_in_flight";
/// Model requests waiting for a backend's concurrency permit, by `backend`.
pub const BACKEND_QUEUE_DEPTH: &str = "mcpcord_backend_queue_depth";
/// 1 when a backend's latest request or health check succeeded, by `backend`.
pub const BACKEND_UP: &str = "mcpcord_backend_up";
/// Database connections, by `state` (`idle`, `in_use`, `max`).
pub const DB_POOL_CONNECTIONS: &str = "mcpcord_db_pool_connections";

/// Describes the engine's metrics to the installed recorder (units and help texts).
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(TURNS_TOTAL, "Turns finished, by outcome");
    describe_histogram!(TURN_DURATION, Unit::Seconds, "Turn duration, by model");
    describe_histogram!(
        TIME_TO_FIRST_TOKEN,
        Unit::Seconds,
        "Time from the request to the model's first token, by model"
    );
    describe_counter!(TOKENS_TOTAL, "Tokens, by model and kind");
    describe_counter!(TOOL_CALLS_TOTAL, "Tool calls, by server, tool and outcome");
    describe_histogram!(TOOL_CALL_DURATION, Unit::Seconds, "Tool call duration");
    describe_gauge!(TURNS_IN_FLIGHT, "Turns running now");
    describe_gauge!(TURNS_QUEUED, "Turns waiting for their turn");
    describe_gauge!(MCP_SERVER_UP, "1 when the MCP server answers calls");
    describe_counter!(MCP_SERVER_RESTARTS, "MCP server restarts");
    describe_gauge!(MCP_SERVER_MEMORY, Unit::Bytes, "MCP server resident memory");
    describe_gauge!(BACKEND_IN_FLIGHT, "Model requests streaming, by backend");
    describe_gauge!(BACKEND_QUEUE_DEPTH, "Model requests waiting, by backend");
    describe_gauge!(BACKEND_UP, "1 when the backend is healthy");
    describe_gauge!(DB_POOL_CONNECTIONS, "Database connections, by state");
}

/// Everything the engine runs, at one moment.
#[derive(Debug, Clone)]
pub struct EngineStatus {
    /// Whether new turns are taken (false once shutdown began).
    pub accepting: bool,
    /// Turns running now.
    pub turns_in_flight: usize,
    /// Turns waiting for their conversation or a slot.
    pub turns_queued: usize,
    /// The most turns that run at once.
    pub max_concurrent_turns: usize,
    /// Each model backend's load and health.
    pub backends: Vec<BackendLoad>,
    /// Each MCP server (none without tools).
    pub mcp_servers: Vec<ServerStatus>,
    /// The database's connection pool.
    pub db_pool: PoolStats,
}

impl EngineStatus {
    /// Whether at least one backend is healthy.
    pub fn any_backend_healthy(&self) -> bool {
        self.backends.iter().any(|b| b.healthy)
    }
}

/// Sets the gauges (and restart counters) that describe `status`.
pub fn record_status(status: &EngineStatus) {
    metrics::gauge!(TURNS_QUEUED).set(status.turns_queued as f64);
    for backend in &status.backends {
        let name = backend.name.clone();
        metrics::gauge!(BACKEND_IN_FLIGHT, "backend" => name.clone()).set(backend.in_flight as f64);
        metrics::gauge!(BACKEND_QUEUE_DEPTH, "backend" => name.clone()).set(backend.queued as f64);
        metrics::gauge!(BACKEND_UP, "backend" => name).set(f64::from(u8::from(backend.healthy)));
    }
    for server in &status.mcp_servers {
        let name = server.name.clone();
        let up = server.state == mcpcord_mcp::ServerState::Ready;
        metrics::gauge!(MCP_SERVER_UP, "server" => name.clone()).set(f64::from(u8::from(up)));
        metrics::counter!(MCP_SERVER_RESTARTS, "server" => name.clone())
            .absolute(u64::from(server.restarts()));
        metrics::gauge!(MCP_SERVER_MEMORY, "server" => name)
            .set(server.rss_bytes().unwrap_or(0) as f64);
    }
    let pool = status.db_pool;
    let in_use = pool.open.saturating_sub(pool.idle);
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "max").set(f64::from(pool.max));
}

/// Counts a turn as running for as long as it lives.
pub(crate) struct InFlight;

impl InFlight {
    /// Counts one more turn running.
    pub(crate) fn start() -> Self {
        metrics::gauge!(TURNS_IN_FLIGHT).increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!(TURNS_IN_FLIGHT).decrement(1.0);
    }
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The model answered.
    Answered,
    /// Stopped (the Stop button, shutdown).
    Interrupted,
    /// Stopped by the turn timeout.
    TimedOut,
    /// An error ended it.
    Failed,
}

impl Outcome {
    /// How a turn that ended with `result` ended; `timed_out` when the turn timeout stopped it.
    pub(crate) fn of(
        result: &Result<crate::events::TurnSummary, crate::error::EngineError>,
        timed_out: bool,
    ) -> Self {
        match result {
            Ok(_) if timed_out => Outcome::TimedOut,
            Ok(summary) if summary.interrupted => Outcome::Interrupted,
            Ok(_) => Outcome::Answered,
            Err(_) => Outcome::Failed,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Interrupted => "interrupted",
            Outcome::TimedOut => "timed_out",
            Outcome::Failed => "failed",
        }
    }
}

/// What is known of a turn as it runs, for its metrics and its log line.
#[derive(Debug)]
pub(crate) struct TurnFacts {
    /// When it was asked for (before waiting in line).
    pub(crate) requested: Instant,
    /// From the request to the first token.
    pub(crate) first_token: Option<Duration>,
    /// The model that answered.
    pub(crate) model: Option<String>,
    /// The backend that streamed the latest round.
    pub(crate) backend: Option<String>,
    /// Tools called, by the name the model used, in order.
    pub(crate) tools: Vec<String>,
    /// Prompt tokens over every round.
    pub(crate) prompt_tokens: u64,
    /// Answer tokens over every round.
    pub(crate) completion_tokens: u64,
    /// The conversation key.
    pub(crate) conversation: String,
    /// Who asked.
    pub(crate) user: Option<UserId>,
    /// Where.
    pub(crate) guild: Option<GuildId>,
}

impl TurnFacts {
    /// Facts of a turn asked for at `requested`.
    pub(crate) fn new(requested: Instant, request: &crate::request::TurnRequest) -> Self {
        Self {
            requested,
            first_token: None,
            model: None,
            backend: None,
            tools: Vec::new(),
            prompt_tokens: 0,
            completion_tokens: 0,
            conversation: request.key.as_str().to_string(),
            user: request.author.id,
            guild: request.scope.guild_id,
        }
    }

    /// Notes a token arriving (only the first one counts).
    pub(crate) fn token(&mut self) {
        if self.first_token.is_none() {
            self.first_token = Some(self.requested.elapsed());
        }
    }

    /// Records the finished turn: metrics and the one log line.
    pub(crate) fn finish(&self, outcome: Outcome) {
        let duration = self.requested.elapsed();
        let model = self.model.clone().unwrap_or_default();
        metrics::counter!(TURNS_TOTAL, "outcome" => outcome.label()).increment(1);
        metrics::histogram!(TURN_DURATION, "model" => model.clone()).record(duration);
        if let Some(ttft) = self.first_token {
            metrics::histogram!(TIME_TO_FIRST_TOKEN, "model" => model.clone()).record(ttft);
        }
        metrics::counter!(TOKENS_TOTAL, "model" => model.clone(), "kind" => "prompt")
            .increment(self.prompt_tokens);
        metrics::counter!(TOKENS_TOTAL, "model" => model, "kind" => "completion")
            .increment(self.completion_tokens);
        self.log(outcome, duration);
    }

    fn log(&self, outcome: Outcome, duration: Duration) {
        tracing::info!(
            target: TURN_LOG_TARGET,
            outcome = outcome.label(),
            duration_ms = millis(duration),
            ttft_ms = self.first_token.map(millis),
            prompt_tokens = self.prompt_tokens,
            answer_tokens = self.completion_tokens,
            model = self.model.as_deref().unwrap_or(""),
            backend = self.backend.as_deref().unwrap_or(""),
            tools = self.tools.join(","),
            tool_calls = self.tools.len(),
            conversation = %self.conversation,
            user = self.user.map(UserId::get),
            guild = self.guild.map(GuildId::get),
            "turn finished"
        );
    }
}

/// Whole milliseconds of `duration`, for log lines.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The outcome label of a tool call that ended with `result`: `ok`, `error` (the tool said so)
/// or `failed` (no answer: timeout, crash, cancel).
pub(crate) fn tool_outcome<E>(result: &Result<mcpcord_mcp::ToolOutput, E>) -> &'static str {
    match result {
        Ok(output) if output.is_error => "error",
        Ok(_) => "ok",
        Err(_) => "failed",
    }
}

/// Records one finished tool call.
pub(crate) fn tool_call(server: &str, tool: &str, outcome: &'static str, took: Duration) {
    let (server, tool) = (server.to_string(), tool.to_string());
    metrics::counter!(TOOL_CALLS_TOTAL, "server" => server.clone(), "tool" => tool.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!(TOOL_CALL_DURATION, "server" => server, "tool" => tool).record(took);
}

/// The target of the pre-model latency marks (`RUST_LOG`-style `mcpcord_latency=trace` shows
/// them): one event per stage of a turn on its way to the model, with the wall clock in
/// microseconds, so stages can be lined up with the front end's own marks.
pub const LATENCY_TARGET: &str = "mcpcord_latency";

/// Marks that the turn of conversation `key` reached `stage` (see [`LATENCY_TARGET`]).
pub fn latency_mark(stage: &'static str, key: impl std::fmt::Display) {
    tracing::trace!(target: LATENCY_TARGET, stage, key = %key, at_us = wall_us());
}

/// The wall clock in microseconds since 1970 (comparable between processes).
pub fn wall_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
