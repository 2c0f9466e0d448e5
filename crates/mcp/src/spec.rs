//! What the host is told: how to reach each server and how to treat it ([`ServerSpec`]), and the
//! host-wide knobs ([`HostOptions`]). These are the crate's own types; the binary converts its
//! configuration into them, so this crate never depends on it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};

/// One MCP server the host runs (stdio) or connects to (HTTP), with its per-server policy.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    /// Unique name: prefixes its tools on collision and tags its log lines.
    pub name: String,
    /// How to reach it.
    pub transport: TransportSpec,
    /// Longest a tool call may go without an answer or a progress notification.
    pub call_timeout: Duration,
    /// Longest a start (spawn, handshake, first tool list) may take.
    pub start_timeout: Duration,
    /// Which tools are offered to the model and which need a human's approval.
    pub tools: ToolPolicy,
    /// Whether the server is started again after it stops.
    pub restart: RestartPolicy,
    /// Resident memory (bytes, whole process group) above which a stdio server is restarted.
    pub memory_limit: Option<u64>,
    /// How many instances run; calls go to the least busy healthy one. At least 1.
    pub replicas: usize,
    /// Whether the server may ask the bot's model for completions (`sampling/createMessage`).
    pub allow_sampling: bool,
    /// The periodic "are you there" probe that finds hung servers.
    pub health: HealthCheck,
    /// How the MCP lifecycle is established.
    pub lifecycle: Lifecycle,
}

impl ServerSpec {
    /// Defaults for every field but the name and the transport.
    pub fn new(name: impl Into<String>, transport: TransportSpec) -> Self {
        Self {
            name: name.into(),
            transport,
            call_timeout: Duration::from_secs(60),
            start_timeout: Duration::from_secs(30),
            tools: ToolPolicy::default(),
            restart: RestartPolicy::Always,
            memory_limit: None,
            replicas: 1,
            allow_sampling: false,
            health: HealthCheck::default(),
            lifecycle: Lifecycle::Auto,
        }
    }

    /// A stdio server: `command` with `args`, no extra environment.
    pub fn stdio<I, S>(name: impl Into<String>, command: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(
            name,
            TransportSpec::Stdio(StdioSpec {
                command: command.into(),
                args: args.into_iter().map(Into::into).collect(),
                env: BTreeMap::new(),
                cwd: None,
            }),
        )
    }

    /// A remote Streamable HTTP server at `url`.
    pub fn http(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(
            name,
            TransportSpec::Http(HttpSpec {
                url: url.into(),
                headers: BTreeMap::new(),
            }),
        )
    }

    /// A server reached through `connector` (an in-process pipe, a socket): each call of the
    /// connector opens a fresh connection.
    pub fn stream(name: impl Into<String>, connector: StreamConnector) -> Self {
        Self::new(name, TransportSpec::Stream(connector))
    }

    /// Builder: adds an environment variable (stdio servers; ignored otherwise).
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if let TransportSpec::Stdio(stdio) = &mut self.transport {
            stdio.env.insert(key.into(), value.into());
        }
        self
    }

    /// Builder: adds an HTTP header (HTTP servers; ignored otherwise).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let TransportSpec::Http(http) = &mut self.transport {
            http.headers.insert(name.into(), value.into());
        }
        self
    }

    /// Builder: sets the call timeout.
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Builder: sets the start timeout.
    pub fn with_start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Builder: sets the tool policy.
    pub fn with_tools(mut self, tools: ToolPolicy) -> Self {
        self.tools = tools;
        self
    }

    /// Builder: sets the restart policy.
    pub fn with_restart(mut self, restart: RestartPolicy) -> Self {
        self.restart = restart;
        self
    }

    /// Builder: sets the memory limit in bytes.
    pub fn with_memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Builder: sets the number of replicas (at least 1).
    pub fn with_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas.max(1);
        self
    }

    /// Builder: allows or forbids sampling requests.
    pub fn with_sampling(mut self, allowed: bool) -> Self {
        self.allow_sampling = allowed;
        self
    }

    /// Builder: sets the health check.
    pub fn with_health(mut self, health: HealthCheck) -> Self {
        self.health = health;
        self
    }

    /// Builder: sets the lifecycle.
    pub fn with_lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.lifecycle = lifecycle;
        self
    }

    /// `stdio`, `http` or `stream`, for status lines.
    pub fn transport_kind(&self) -> &'static str {
        match self.transport {
            TransportSpec::Stdio(_) => "stdio",
            TransportSpec::Http(_) => "http",
            TransportSpec::Stream(_) => "stream",
        }
    }
}

/// How a server is reached.
#[derive(Clone, Debug)]
pub enum TransportSpec {
    /// A child process speaking newline-delimited JSON-RPC on stdin/stdout.
    Stdio(StdioSpec),
    /// A remote Streamable HTTP endpoint.
    Http(HttpSpec),
    /// Any byte stream, opened by a connector (in-process servers in tests, sockets).
    Stream(StreamConnector),
}

/// A child process server.
#[derive(Clone)]
pub struct StdioSpec {
    /// The program (looked up on the child's `PATH`).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The only variables it gets beside `PATH`, `HOME` and `LANG` (which it inherits).
    pub env: BTreeMap<String, String>,
    /// Its working directory; the bot's when unset.
    pub cwd: Option<PathBuf>,
}

impl fmt::Debug for StdioSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets: names only.
        f.debug_struct("StdioSpec")
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .finish()
    }
}

/// A remote Streamable HTTP server.
#[derive(Clone)]
pub struct HttpSpec {
    /// The MCP endpoint, e.g. `https://mcp.example.com/mcp`.
    pub url: String,
    /// Headers sent with every request (`Authorization`, API keys).
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for HttpSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are usually secrets: names only.
        f.debug_struct("HttpSpec")
            .field("url", &self.url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A bidirectional byte stream a [`StreamConnector`] opens.
pub trait McpStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> McpStream for T {}

/// The function behind a [`StreamConnector`].
type Connect =
    dyn Fn() -> BoxFuture<'static, std::io::Result<Pin<Box<dyn McpStream>>>> + Send + Sync;

/// Opens a fresh connection to a server each time it is called.
#[derive(Clone)]
pub struct StreamConnector(Arc<Connect>);

impl StreamConnector {
    /// Wraps a function that opens a connection.
    pub fn new<F, Fut, S>(connect: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::io::Result<S>> + Send + 'static,
        S: McpStream,
    {
        Self(Arc::new(move || {
            let opening = connect();
            Box::pin(async move {
                let stream = opening.await?;
                Ok(Box::pin(stream) as Pin<Box<dyn McpStream>>)
            })
        }))
    }

    /// Opens one connection.
    pub(crate) async fn open(&self) -> std::io::Result<Pin<Box<dyn McpStream>>> {
        (self.0)().await
    }
}

impl fmt::Debug for StreamConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamConnector")
    }
}

/// Whether a tool needs a human's approval before each call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalPolicy {
    /// Called without asking.
    #[default]
    Auto,
    /// The engine asks a person first (the host's [`crate::Approver`]).
    Ask,
    /// Never offered to the model, never called.
    Deny,
}

impl ApprovalPolicy {
    /// The configuration name: `auto`, `ask` or `deny`.
    pub fn name(self) -> &'static str {
        match self {
            ApprovalPolicy::Auto => "auto",
            ApprovalPolicy::Ask => "ask",
            ApprovalPolicy::Deny => "deny",
        }
    }
}

/// Which of a server's tools are offered, and how each is approved. Names are the server's own.
#[derive(Clone, Debug, Default)]
pub struct ToolPolicy {
    /// When set, only these tools are offered.
    pub allowed: Option<BTreeSet<String>>,
    /// Never offered.
    pub denied: BTreeSet<String>,
    /// The policy of tools not named in `approval`.
    pub default_approval: ApprovalPolicy,
    /// Per-tool policies.
    pub approval: BTreeMap<String, ApprovalPolicy>,
}

impl ToolPolicy {
    /// The approval policy of `tool`; [`ApprovalPolicy::Deny`] when it is not offered at all.
    pub fn policy_for(&self, tool: &str) -> ApprovalPolicy {
        let listed = self
            .allowed
            .as_ref()
            .is_none_or(|allowed| allowed.contains(tool));
        if !listed || self.denied.contains(tool) {
            return ApprovalPolicy::Deny;
        }
        self.approval
            .get(tool)
            .copied()
            .unwrap_or(self.default_approval)
    }

    /// Whether `tool` is offered to the model.
    pub fn offers(&self, tool: &str) -> bool {
        self.policy_for(tool) != ApprovalPolicy::Deny
    }
}

/// Whether a server that stopped is started again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Always (with backoff, and a circuit breaker for crash loops).
    #[default]
    Always,
    /// Unless a stdio server exited with status 0.
    OnFailure,
    /// Never: a stopped server stays stopped.
    Never,
}

/// The health probe: `ping` on `initialize` sessions, `server/discover` on 2026-07-28 ones.
#[derive(Clone, Copy, Debug)]
pub struct HealthCheck {
    /// Time between probes.
    pub interval: Duration,
    /// Time a probe may take before the server counts as hung (killed and restarted).
    pub timeout: Duration,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

/// How the MCP lifecycle is established with a server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lifecycle {
    /// `server/discover` preferring 2026-07-28, falling back to `initialize` (2025-11-25) for
    /// servers that refuse discovery or do not support 2026-07-28.
    #[default]
    Auto,
    /// Only the `initialize` handshake.
    Initialize,
    /// Only `server/discover` (2026-07-28, stateless).
    Discover,
}

/// Host-wide settings.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// Longest tool output (text, in bytes) passed to the model; longer output is truncated
    /// with a note saying so.
    pub max_output_bytes: usize,
    /// Delay before restarting a stopped server.
    pub backoff: Backoff,
    /// When a crash loop stops fast restarts.
    pub circuit: CircuitBreaker,
    /// Time a stdio server gets to exit after its stdin closes, and again after SIGTERM.
    pub shutdown_grace: Duration,
    /// How often process CPU time and memory are sampled (and the memory limit checked).
    pub stats_interval: Duration,
    /// A server that ran this long before stopping restarts with the initial delay again.
    pub stable_after: Duration,
}

impl Default for HostOptions {
    fn default() -> Self {
        Self {
            max_output_bytes: 32 * 1024,
            backoff: Backoff::default(),
            circuit: CircuitBreaker::default(),
            shutdown_grace: Duration::from_secs(3),
            stats_interval: Duration::from_secs(5),
            stable_after: Duration::from_secs(60),
        }
    }
}

/// Exponential restart delay: `initial`, doubling up to `max`, each varied by ±`jitter`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The ceiling.
    pub max: Duration,
    /// Relative random variation, 0.0 to 1.0 (0.2 = ±20 %).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
            jitter: 0.2,
        }
    }
}

/// After `max_failures` stops within `window`, the server is marked failed (circuit open) and
/// retried only every `retry_after`.
#[derive(Clone, Copy, Debug)]
pub struct CircuitBreaker {
    /// Stops tolerated within the window.
    pub max_failures: usize,
    /// The window.
    pub window: Duration,
    /// The slow retry period while the circuit is open.
    pub retry_after: Duration,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(60),
            retry_after: Duration::from_secs(300),
        }
    }
}
