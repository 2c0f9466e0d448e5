//! What the host is told: how to reach each server and how to treat it ([`ServerSpec`]), and the
//! host-wide knobs ([`HostOptions`]). These are the crate's own types; the binary converts its
//! configuration into them, so this crate never depends on it.
//!
//! Why one long file: the types are declarations with their doc comments (what each knob means)
//! plus the approval policy's resolution and its tests, which read best beside the policy types.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::auth::AuthSpec;
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
                auth: None,
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

    /// Builder: authorizes with OAuth (HTTP servers; ignored otherwise).
    pub fn with_auth(mut self, auth: AuthSpec) -> Self {
        if let TransportSpec::Http(http) = &mut self.transport {
            http.auth = Some(auth);
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

impl ServerSpec {
    /// Whether `other` defines the same server: same transport (command, arguments,
    /// environment, working directory; URL and headers; the same connector) and the same
    /// settings. A reload restarts a server only when this is false.
    pub fn same_definition(&self, other: &ServerSpec) -> bool {
        self.name == other.name
            && self.transport.same_as(&other.transport)
            && self.same_timing(other)
            && self.same_behaviour(other)
    }

    fn same_timing(&self, other: &ServerSpec) -> bool {
        self.call_timeout == other.call_timeout
            && self.start_timeout == other.start_timeout
            && self.health == other.health
    }

    fn same_behaviour(&self, other: &ServerSpec) -> bool {
        self.tools == other.tools
            && self.restart == other.restart
            && self.memory_limit == other.memory_limit
            && self.replicas == other.replicas
            && self.allow_sampling == other.allow_sampling
            && self.lifecycle == other.lifecycle
    }
}

impl TransportSpec {
    /// Whether both reach the server the same way (secrets compared too).
    fn same_as(&self, other: &TransportSpec) -> bool {
        match (self, other) {
            (TransportSpec::Stdio(a), TransportSpec::Stdio(b)) => {
                a.command == b.command && a.args == b.args && a.env == b.env && a.cwd == b.cwd
            }
            (TransportSpec::Http(a), TransportSpec::Http(b)) => {
                a.url == b.url && a.headers == b.headers
            }
            (TransportSpec::Stream(a), TransportSpec::Stream(b)) => Arc::ptr_eq(&a.0, &b.0),
            _ => false,
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
    /// Its working directory, created (mode 0700, parents included) when missing; the bot's
    /// when unset. The binary always sets one (a folder per server in its data directory), so
    /// relative reads by the server do not reach the bot's files.
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
    /// OAuth, when the server wants a login (none: the static headers only).
    pub auth: Option<AuthSpec>,
}

impl fmt::Debug for HttpSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are usually secrets: names only.
        f.debug_struct("HttpSpec")
            .field("url", &self.url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("auth", &self.auth)
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
///
/// How a tool's approval is decided, first match wins:
/// 1. not in `allowed` (when set), or in `denied`: [`ApprovalPolicy::Deny`];
/// 2. its entry in `approval` (the configuration's `tool_approval`);
/// 3. `default_approval`, when the configuration wrote one for the server (`approval = …`);
/// 4. the tool's own annotations: a tool that says it may destroy data
///    (`destructiveHint: true`, or `readOnlyHint: false` without `destructiveHint: false`)
///    needs a person's approval ([`ApprovalPolicy::Ask`]);
/// 5. otherwise — read-only and unannotated tools — [`ApprovalPolicy::Auto`], as before
///    annotations were read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolPolicy {
    /// When set, only these tools are offered.
    pub allowed: Option<BTreeSet<String>>,
    /// Never offered.
    pub denied: BTreeSet<String>,
    /// The policy of tools not named in `approval`, when the configuration wrote one; `None`
    /// lets each tool's annotations decide (see the type's documentation).
    pub default_approval: Option<ApprovalPolicy>,
    /// Per-tool policies.
    pub approval: BTreeMap<String, ApprovalPolicy>,
}

/// What a server says about a tool's effects (MCP tool annotations), as far as approval cares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ToolHints {
    /// `readOnlyHint`: the tool does not modify its environment.
    pub read_only: Option<bool>,
    /// `destructiveHint`: the tool may destroy data.
    pub destructive: Option<bool>,
}

impl ToolHints {
    /// Whether the hints say the tool may destroy data: `destructiveHint: true`, or
    /// `readOnlyHint: false` without `destructiveHint: false` (MCP's default for a tool that
    /// writes is destructive). Unannotated tools are not.
    pub fn may_destroy(self) -> bool {
        self.destructive == Some(true)
            || (self.read_only == Some(false) && self.destructive != Some(false))
    }
}

impl ToolPolicy {
    /// The approval policy of `tool` when nothing is known of its effects (an unannotated or
    /// unlisted tool); [`ApprovalPolicy::Deny`] when it is not offered at all.
    pub fn policy_for(&self, tool: &str) -> ApprovalPolicy {
        self.policy_with_hints(tool, ToolHints::default())
    }

    /// The approval policy of `tool` given its annotations (see the type's documentation).
    pub fn policy_with_hints(&self, tool: &str, hints: ToolHints) -> ApprovalPolicy {
        let listed = self
            .allowed
            .as_ref()
            .is_none_or(|allowed| allowed.contains(tool));
        if !listed || self.denied.contains(tool) {
            return ApprovalPolicy::Deny;
        }
        if let Some(policy) = self.approval.get(tool).copied().or(self.default_approval) {
            return policy;
        }
        if hints.may_destroy() {
            ApprovalPolicy::Ask
        } else {
            ApprovalPolicy::Auto
        }
    }

    /// Whether `tool` is offered to the model.
    pub fn offers(&self, tool: &str) -> bool {
        self.policy_for(tool) != ApprovalPolicy::Deny
    }

    /// Whether the configuration denies the whole server (`approval = "deny"`): its prompts and
    /// resources are refused too.
    pub fn denies_server(&self) -> bool {
        self.default_approval == Some(ApprovalPolicy::Deny)
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;

    const DESTRUCTIVE: ToolHints = ToolHints {
        read_only: None,
        destructive: Some(true),
    };
    const WRITES: ToolHints = ToolHints {
        read_only: Some(false),
        destructive: None,
    };
    const WRITES_SAFELY: ToolHints = ToolHints {
        read_only: Some(false),
        destructive: Some(false),
    };
    const READS: ToolHints = ToolHints {
        read_only: Some(true),
        destructive: None,
    };

    #[test]
    fn destructive_tools_default_to_ask_and_others_keep_auto() {
        let policy = ToolPolicy::default();
        assert_eq!(
            policy.policy_with_hints("rm", DESTRUCTIVE),
            ApprovalPolicy::Ask
        );
        assert_eq!(
            policy.policy_with_hints("write", WRITES),
            ApprovalPolicy::Ask
        );
        assert_eq!(
            policy.policy_with_hints("append", WRITES_SAFELY),
            ApprovalPolicy::Auto
        );
        assert_eq!(
            policy.policy_with_hints("read", READS),
            ApprovalPolicy::Auto
        );
        assert_eq!(
            policy.policy_with_hints("plain", ToolHints::default()),
            ApprovalPolicy::Auto,
            "unannotated tools keep today's default"
        );
        assert_eq!(policy.policy_for("plain"), ApprovalPolicy::Auto);
    }

    #[test]
    fn a_written_policy_wins_over_the_annotations() {
        let server_auto = ToolPolicy {
            default_approval: Some(ApprovalPolicy::Auto),
            ..ToolPolicy::default()
        };
        assert_eq!(
            server_auto.policy_with_hints("rm", DESTRUCTIVE),
            ApprovalPolicy::Auto,
            "approval = \"auto\" written for the server"
        );
        let mut per_tool = ToolPolicy::default();
        per_tool.approval.insert("rm".into(), ApprovalPolicy::Auto);
        per_tool.approval.insert("cat".into(), ApprovalPolicy::Ask);
        assert_eq!(
            per_tool.policy_with_hints("rm", DESTRUCTIVE),
            ApprovalPolicy::Auto
        );
        assert_eq!(
            per_tool.policy_with_hints("cat", READS),
            ApprovalPolicy::Ask
        );
        assert_eq!(
            per_tool.policy_with_hints("mv", WRITES),
            ApprovalPolicy::Ask
        );
        let server_deny = ToolPolicy {
            default_approval: Some(ApprovalPolicy::Deny),
            ..ToolPolicy::default()
        };
        assert_eq!(
            server_deny.policy_with_hints("cat", READS),
            ApprovalPolicy::Deny
        );
        assert!(server_deny.denies_server());
        let mut denied = ToolPolicy::default();
        denied.denied.insert("rm".into());
        denied.approval.insert("rm".into(), ApprovalPolicy::Auto);
        assert_eq!(
            denied.policy_with_hints("rm", DESTRUCTIVE),
            ApprovalPolicy::Deny
        );
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// `server/discover` preferring 2026-07-28, falling back to `initialize` (2025-11-25)
    /// whenever discovery gives no session: an error of any code, an empty or malformed result,
    /// no version in common, no answer within a third of the start timeout (at most 10 s).
    /// Which one worked is remembered per server: a server that needed `initialize` gets it
    /// straight away on its next start (and is probed again after a failed start).
    #[default]
    Auto,
    /// Only the `initialize` handshake (offering 2025-11-25; older servers negotiate down).
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
    /// Servers the configuration names but keeps off (`disabled = true`): they are not
    /// started, and asking one for a tool, a prompt or a resource says it is disabled.
    pub disabled_servers: BTreeSet<String>,
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
            disabled_servers: BTreeSet::new(),
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
