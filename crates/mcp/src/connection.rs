//! One live connection to one server instance: opened over stdio, Streamable HTTP or a stream
//! on the lifecycle asked for — `Auto` tries 2026-07-28 discovery and falls back to the
//! `initialize` handshake whenever discovery gives no session — watched for its end (service
//! loop or child exit), probed for health, and closed gracefully or killed.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    ClientRequest, DiscoverRequest, DiscoverRequestParams, Implementation, PingRequest,
    ProtocolVersion, ServerCapabilities, ServerNotification, SubscriptionFilter, Tool,
};
use rmcp::service::{
    ClientInitializeError, RunningService, RunningServiceCancellationToken, Subscription,
};
use rmcp::transport::IntoTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt, Peer, RoleClient, ServiceError};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tracing::Instrument;

use crate::auth::transport::OAuthTransport;
use crate::client::{HostClient, ToolsChanged};
use crate::error::ConnectError;
use crate::process::{self, ChildHandle};
use crate::spec::{HttpSpec, Lifecycle, ServerSpec, StdioSpec, TransportSpec};
use crate::standalone::{StandaloneStream, Watched, standalone_wait};
use crate::stats::{self, ProcessStats};

/// What the server said about itself.
#[derive(Clone, Debug)]
pub(crate) struct ServerIdentity {
    pub protocol: ProtocolVersion,
    pub implementation: Option<Implementation>,
    pub capabilities: ServerCapabilities,
}

/// A live connection.
pub(crate) struct Connection {
    pub server: Arc<str>,
    pub peer: Peer<RoleClient>,
    pub client: HostClient,
    pub identity: ServerIdentity,
    pub started: Instant,
    /// Calls running on this connection (for balancing replicas).
    pub in_flight: AtomicUsize,
    child: Option<ChildHandle>,
    closed: CancellationToken,
    stop: Mutex<Option<RunningServiceCancellationToken>>,
    watcher: JoinHandle<()>,
    /// The tool-list subscription (2026-07-28): its stop signal and its task.
    listener: Mutex<Option<(CancellationToken, JoinHandle<()>)>>,
    /// The session's standalone stream (Streamable HTTP), waited for before first use.
    standalone: Option<StandaloneStream>,
}

impl Connection {
    /// Opens a connection to `spec` on `lifecycle` (the spec's, or the one the supervisor
    /// learned works for this server) with a fresh handler from `client`.
    pub(crate) async fn open(
        spec: &ServerSpec,
        lifecycle: Lifecycle,
        client: HostClient,
    ) -> Result<Self, ConnectError> {
        let connection = match lifecycle {
            Lifecycle::Auto => Self::open_auto(spec, client).await?,
            Lifecycle::Initialize => Self::open_with(spec, client, ClientLifecycleMode::Initialize)
                .await
                .map_err(Failed::into_connect_error)?,
            Lifecycle::Discover => Self::open_with(spec, client, discover_mode())
                .await
                .map_err(Failed::into_connect_error)?,
        };
        // Before any request: a server request sent on the standalone stream while it is not
        // open yet would be lost (see `standalone.rs`).
        if let Some(stream) = &connection.standalone {
            let bound = standalone_wait(spec.start_timeout);
            stream.answered(&connection.server, bound).await;
        }
        Ok(connection)
    }

    /// `server/discover` first (rmcp's automatic mode, which itself continues with
    /// `initialize` on the same connection when discovery is refused with an error), within
    /// [`discover_probe_timeout`]; when that does not give a session — an empty or malformed
    /// result, a version we do not share, no answer in time, a broken connection — a fresh
    /// connection with the `initialize` handshake.
    async fn open_auto(spec: &ServerSpec, client: HostClient) -> Result<Self, ConnectError> {
        let probe = discover_probe_timeout(spec.start_timeout);
        let attempt =
            tokio::time::timeout(probe, Self::open_with(spec, client.clone(), auto_mode())).await;
        let discover_failure = match attempt {
            Ok(Ok(connection)) => return Ok(connection),
            Ok(Err(Failed::Other(error))) => return Err(error),
            Ok(Err(Failed::Handshake(detail))) => detail,
            Err(_) => format!("no answer within {}", crate::error::humanize(probe)),
        };
        tracing::info!(
            server = %spec.name,
            discover = %discover_failure,
            "server/discover gave no session: connecting again with initialize"
        );
        Self::open_with(spec, client, ClientLifecycleMode::Initialize)
            .await
            .map_err(|failed| match failed {
                Failed::Handshake(detail) => ConnectError::Handshake(format!(
                    "{detail} (with initialize; server/discover before it: {discover_failure})"
                )),
                Failed::Other(error) => error,
            })
    }

    /// One connection attempt on `mode`, over the spec's transport.
    async fn open_with(
        spec: &ServerSpec,
        client: HostClient,
        mode: ClientLifecycleMode,
    ) -> Result<Self, Failed> {
        match &spec.transport {
            TransportSpec::Stdio(stdio) => Self::open_stdio(spec, stdio, client, mode).await,
            TransportSpec::Http(http) => Self::open_http(spec, http, client, mode).await,
            TransportSpec::Stream(connector) => {
                let stream = connector
                    .open()
                    .await
                    .map_err(|error| Failed::Other(ConnectError::Io(error.to_string())))?;
                let running = serve(client.clone(), stream, mode).await?;
                Ok(Self::running(spec, client, running, None))
            }
        }
    }

    /// The handshake over Streamable HTTP, with the server's OAuth login when it has one.
    async fn open_http(
        spec: &ServerSpec,
        http: &HttpSpec,
        client: HostClient,
        mode: ClientLifecycleMode,
    ) -> Result<Self, Failed> {
        let config = http_config(http).map_err(Failed::Other)?;
        let (running, standalone) = match client.auth.clone() {
            Some(auth) => {
                let oauth = OAuthTransport::new(crate::tls::http_client(), auth);
                let (watched, standalone) = Watched::new(oauth);
                let transport =
                    rmcp::transport::StreamableHttpClientTransport::with_client(watched, config);
                (serve(client.clone(), transport, mode).await?, standalone)
            }
            None => {
                let (watched, standalone) = Watched::new(crate::tls::http_client());
                let transport =
                    rmcp::transport::StreamableHttpClientTransport::with_client(watched, config);
                (serve(client.clone(), transport, mode).await?, standalone)
            }
        };
        let mut connection = Self::running(spec, client, running, None);
        connection.standalone = Some(standalone);
        Ok(connection)
    }

    /// Launches the child and runs the handshake on its stdio.
    async fn open_stdio(
        spec: &ServerSpec,
        stdio: &StdioSpec,
        client: HostClient,
        mode: ClientLifecycleMode,
    ) -> Result<Self, Failed> {
        let spawned = process::spawn(stdio, &spec.name).map_err(Failed::Other)?;
        // Killed if the handshake fails, or if this future is dropped (start timeout).
        let mut guard = KillOnDrop(Some(spawned.handle));
        let running = serve(client.clone(), (spawned.stdout, spawned.stdin), mode).await?;
        Ok(Self::running(spec, client, running, guard.0.take()))
    }

    fn running(
        spec: &ServerSpec,
        client: HostClient,
        running: RunningService<RoleClient, HostClient>,
        child: Option<ChildHandle>,
    ) -> Self {
        let peer = running.peer().clone();
        let info = peer.peer_info();
        let identity = ServerIdentity {
            protocol: info
                .as_ref()
                .map(|i| i.protocol_version.clone())
                .unwrap_or(ProtocolVersion::V_2025_11_25),
            implementation: info.as_ref().and_then(|i| i.server_info.clone()),
            capabilities: info.map(|i| i.capabilities.clone()).unwrap_or_default(),
        };
        let stop = running.cancellation_token();
        let closed = CancellationToken::new();
        let watcher = {
            let closed = closed.clone();
            let child = child.clone();
            let server = spec.name.clone();
            tokio::spawn(async move {
                let child_exit = async {
                    match &child {
                        Some(child) => Some(child.exited().await),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    quit = running.waiting() => tracing::debug!(server, ?quit, "MCP session ended"),
                    status = child_exit => {
                        if let Some(status) = status {
                            tracing::debug!(server, status = %process::describe_exit(status), "MCP server process ended");
                        }
                    }
                }
                closed.cancel();
            }.in_current_span())
        };
        Self {
            server: Arc::from(spec.name.as_str()),
            peer,
            client,
            identity,
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            child,
            closed,
            stop: Mutex::new(Some(stop)),
            watcher,
            listener: Mutex::new(None),
            standalone: None,
        }
    }

    /// The lifecycle the session was established with: [`Lifecycle::Initialize`] when the
    /// negotiated version has the handshake, else [`Lifecycle::Discover`].
    pub(crate) fn lifecycle(&self) -> Lifecycle {
        if self.identity.protocol.has_initialize() {
            Lifecycle::Initialize
        } else {
            Lifecycle::Discover
        }
    }

    /// Whether the server says its tool list may change (`tools.listChanged`).
    fn announces_tool_list_changes(&self) -> bool {
        self.identity
            .capabilities
            .tools
            .as_ref()
            .and_then(|tools| tools.list_changed)
            .unwrap_or(false)
    }

    /// The child's pid (stdio servers).
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|child| child.pid)
    }

    /// Resolves when the connection has ended (process exit, transport closed, shutdown).
    pub(crate) fn closed(&self) -> WaitForCancellationFuture<'_> {
        self.closed.cancelled()
    }

    /// Whether the connection has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// How the process ended (`exit status 3`, `killed by signal 9`), waiting up to `wait` for
    /// the exit status: the end of stdout is often seen before the exit.
    pub(crate) async fn exit_description(&self, wait: Duration) -> Option<String> {
        let child = self.child.as_ref()?;
        let status = tokio::time::timeout(wait, child.exited()).await.ok()?;
        Some(process::describe_exit(status))
    }

    /// Whether the process exited by itself with status 0.
    pub(crate) fn exited_cleanly(&self) -> bool {
        self.child
            .as_ref()
            .and_then(ChildHandle::exit_status)
            .is_some_and(|status| status.success())
    }

    /// CPU time and memory of the process group (stdio servers on Linux).
    pub(crate) fn stats(&self) -> Option<ProcessStats> {
        let child = self.child.as_ref()?;
        if child.exit_status().is_some() {
            return None;
        }
        stats::group_stats(child.pid)
    }

    /// Every tool, all pages.
    pub(crate) async fn list_tools(&self, timeout: Duration) -> Result<Vec<Tool>, String> {
        if self.identity.capabilities.tools.is_none() {
            return Ok(Vec::new());
        }
        match tokio::time::timeout(timeout, self.peer.list_all_tools()).await {
            Ok(Ok(tools)) => Ok(tools),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!(
                "no answer within {}",
                crate::error::humanize(timeout)
            )),
        }
    }

    /// Follows tool list changes on a 2026-07-28 session (`subscriptions/listen`, acknowledged
    /// before this returns, so no change after it is missed); sessions on the `initialize`
    /// lifecycle get them as plain notifications through the handler.
    pub(crate) async fn follow_tool_list(&self) {
        if !self.announces_tool_list_changes() || self.identity.protocol.has_initialize() {
            return;
        }
        let filter = SubscriptionFilter::builder().tools_list_changed().build();
        let subscription = match self.peer.listen(filter).await {
            Ok(subscription) => subscription,
            Err(error) => {
                tracing::debug!(server = %self.server, %error, "cannot follow tool list changes");
                return;
            }
        };
        let stop = CancellationToken::new();
        let relay = relay_tool_list_changes(
            subscription,
            stop.clone(),
            self.peer.clone(),
            self.client.tools_changed.clone(),
            self.server.clone(),
        );
        let task = tokio::spawn(relay.in_current_span());
        *self.listener.lock().unwrap_or_else(|e| e.into_inner()) = Some((stop, task));
    }

    /// Probes the server: `ping` on `initialize` sessions, `server/discover` on 2026-07-28 ones
    /// (which have no ping). Any answer, even an error, means it is alive.
    pub(crate) async fn health_check(&self, timeout: Duration) -> Result<(), String> {
        let request = if self.identity.protocol.has_initialize() {
            ClientRequest::PingRequest(PingRequest::default())
        } else {
            ClientRequest::DiscoverRequest(DiscoverRequest::new(DiscoverRequestParams {}))
        };
        match tokio::time::timeout(timeout, self.peer.send_request(request)).await {
            Ok(Ok(_)) | Ok(Err(ServiceError::McpError(_))) => Ok(()),
            Ok(Err(error)) => Err(format!("health check failed: {error}")),
            Err(_) => Err(format!(
                "no answer to the health check within {}",
                crate::error::humanize(timeout)
            )),
        }
    }

    /// Ends the session: close stdin (or the HTTP session), then for a child wait `grace`,
    /// SIGTERM its group, wait `grace`, SIGKILL.
    pub(crate) async fn shutdown(&self, grace: Duration) {
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((stop, task)) = listener {
            stop.cancel();
            let _ = tokio::time::timeout(grace, task).await;
        }
        if let Some(stop) = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
            stop.cancel();
        }
        match &self.child {
            Some(child) => child.terminate(grace).await,
            None => {
                let _ = tokio::time::timeout(grace, self.closed.cancelled()).await;
            }
        }
        self.closed.cancel();
    }

    /// Kills at once (a hung server): SIGKILL to the group, session dropped.
    pub(crate) async fn kill(&self) {
        self.stop_listening();
        if let Some(child) = &self.child {
            child.kill();
        }
        if let Some(stop) = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
            stop.cancel();
        }
        if let Some(child) = &self.child {
            let _ = tokio::time::timeout(Duration::from_secs(5), child.exited()).await;
            child.kill();
        }
        self.closed.cancel();
    }

    fn stop_listening(&self) {
        if let Some((_, task)) = self
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Normally the process has exited by now (shutdown or kill); if not, the connection
        // was dropped on an error path: leave nothing running.
        if let Some(child) = &self.child
            && child.exit_status().is_none()
        {
            child.kill();
        }
        self.stop_listening();
        self.watcher.abort();
        if let Some(stop) = self
            .stop
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            stop.cancel();
        }
    }
}

/// Passes each `tools/list_changed` of `subscription` to `changed` until the subscription ends
/// or `stop` is cancelled (then cancels the subscription on the server).
async fn relay_tool_list_changes(
    mut subscription: Subscription,
    stop: CancellationToken,
    peer: Peer<RoleClient>,
    changed: ToolsChanged,
    server: Arc<str>,
) {
    loop {
        let next = tokio::select! {
            next = subscription.next() => next,
            () = stop.cancelled() => {
                // Ends the server's listen handler, which would otherwise hold up its exit
                // after stdin closes.
                let _ = subscription.cancel().await;
                return;
            }
        };
        match next {
            Ok(Some(ServerNotification::ToolListChangedNotification(_))) => {
                tracing::debug!(%server, "tools/list_changed");
                changed(peer.clone());
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
}

/// Kills a just-launched child unless it was taken out (the handshake succeeded).
struct KillOnDrop(Option<ChildHandle>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = self.0.take() {
            child.kill();
        }
    }
}

/// rmcp's Streamable HTTP client settings for `http`: its URL, and its headers sent with every
/// request.
fn http_config(http: &HttpSpec) -> Result<StreamableHttpClientTransportConfig, ConnectError> {
    let mut headers = std::collections::HashMap::new();
    for (name, value) in &http.headers {
        let invalid = || ConnectError::InvalidHeader { name: name.clone() };
        let name = http::HeaderName::try_from(name.as_str()).map_err(|_| invalid())?;
        let value = http::HeaderValue::try_from(value.as_str()).map_err(|_| invalid())?;
        headers.insert(name, value);
    }
    Ok(StreamableHttpClientTransportConfig::with_uri(http.url.as_str()).custom_headers(headers))
}

/// A failed open: the handshake (worth another try with `initialize` under `Auto`) or anything
/// before it (spawning, headers, opening the stream), which another handshake cannot fix.
enum Failed {
    Handshake(String),
    Other(ConnectError),
}

impl Failed {
    fn into_connect_error(self) -> ConnectError {
        match self {
            Failed::Handshake(detail) => ConnectError::Handshake(detail),
            Failed::Other(error) => error,
        }
    }
}

/// How long `Auto` waits for `server/discover` to give a session before it connects again with
/// `initialize`: a third of the start timeout, at most 10 s (rmcp's own discovery timeout,
/// after which it would continue on a connection that may still be busy with the request).
pub(crate) fn discover_probe_timeout(start_timeout: Duration) -> Duration {
    (start_timeout / 3).min(Duration::from_secs(10))
}

/// rmcp's discovery-only mode, preferring 2026-07-28.
fn discover_mode() -> ClientLifecycleMode {
    ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    }
}

/// rmcp's automatic mode: `server/discover` preferring 2026-07-28, `initialize` at 2025-11-25 on
/// the same connection when discovery is refused with a JSON-RPC error.
fn auto_mode() -> ClientLifecycleMode {
    ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    }
}

async fn serve<T, E, A>(
    client: HostClient,
    transport: T,
    mode: ClientLifecycleMode,
) -> Result<RunningService<RoleClient, HostClient>, Failed>
where
    T: IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    client
        .serve_with_lifecycle(transport, mode)
        .await
        .map_err(|error| Failed::Handshake(describe_init_error(&error)))
}

/// rmcp's handshake errors, with their sources (the useful part is often there), a cause
/// skipped when the text already quotes it (rmcp's messages often do). Not
/// `mcpcord_llm::redact::error_chain` (the binary's): llm and mcp are peers, neither may
/// depend on the other.
fn describe_init_error(error: &ClientInitializeError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
