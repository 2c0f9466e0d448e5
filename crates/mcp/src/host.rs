//! The host: starts every server's supervisors, keeps the tool catalogue current, routes calls
//! to a healthy replica (after approval when asked), and serves prompts, resources and status.
//!
//! Why one long file: it is the host's public API (the handle every caller holds), and each
//! method is a short routing step over the supervisors and the catalogue; the work itself lives
//! in `supervisor`, `connection`, `call`, `prompts` and `resources`.

use std::collections::{BTreeMap, BTreeSet};

use arc_swap::ArcSwap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use rmcp::model::{
    CallToolResult, GetPromptRequestParams, JsonObject, ReadResourceRequestParams, Tool,
};
use rmcp::{Peer, RoleClient};
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::call::{self, CallOptions};
use crate::callbacks::{Approval, ApprovalRequest, Callbacks};
use crate::catalogue::{Catalogue, ToolDescriptor};
use crate::connection::Connection;
use crate::error::{ConnectError, HostError};
use crate::events::HostEvent;
use crate::output::{self, ToolOutput};
use crate::prompts::{self, PromptContent, PromptDescriptor};
use crate::resources::{self, ResourceContent, ResourceDescriptor, ResourceTemplateDescriptor};
use crate::spec::{ApprovalPolicy, HostOptions, ServerSpec, ToolPolicy};
use crate::status::{ReplicaStatus, ServerState, ServerStatus};
use crate::supervisor::{self, Replica, ReplicaState, Server};

/// Items gathered from every server, with the servers that failed to answer.
#[derive(Clone, Debug, Default)]
pub struct Listing<T> {
    /// What the servers returned, by server name.
    pub items: Vec<T>,
    /// Servers that could not be asked, with why.
    pub errors: Vec<(String, HostError)>,
}

/// What a [`McpHost::reconfigure`] changed, by server name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconfigured {
    /// Servers started because the new configuration names them.
    pub added: Vec<String>,
    /// Servers stopped because it no longer does.
    pub removed: Vec<String>,
    /// Servers restarted because their definition changed.
    pub restarted: Vec<String>,
    /// Servers left running as they were.
    pub unchanged: Vec<String>,
}

/// State shared by the host's handle, its supervisors and its connections' handlers.
pub(crate) struct Shared {
    options: ArcSwap<HostOptions>,
    pub callbacks: Callbacks,
    /// The servers by name; a reload adds, removes and replaces entries.
    servers: RwLock<BTreeMap<String, Arc<Server>>>,
    pub shutdown: CancellationToken,
    tasks: TaskTracker,
    listings: Mutex<BTreeMap<String, (ToolPolicy, Vec<Tool>)>>,
    catalogue: RwLock<Arc<Catalogue>>,
    version: watch::Sender<u64>,
    /// Events for the engine ([`McpHost::events`]).
    events: broadcast::Sender<HostEvent>,
}

impl Shared {
    /// The host-wide settings in force.
    pub(crate) fn options(&self) -> Arc<HostOptions> {
        self.options.load_full()
    }

    /// The servers now (a snapshot).
    pub(crate) fn servers(&self) -> BTreeMap<String, Arc<Server>> {
        self.servers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The server named `name` now.
    pub(crate) fn server(&self, name: &str) -> Option<Arc<Server>> {
        self.servers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Starts the supervisors of every replica of `server`.
    fn supervise(self: &Arc<Self>, server: &Arc<Server>) {
        for replica in &server.replicas {
            self.tasks.spawn(supervisor::supervise(
                self.clone(),
                server.clone(),
                replica.clone(),
            ));
        }
    }

    /// Stops a server a reload removed or replaced: its tools leave the catalogue at once (no
    /// new calls), calls in flight get up to its call timeout to finish, then it stops.
    fn retire(self: &Arc<Self>, server: Arc<Server>) {
        {
            let mut listings = self.listings.lock().unwrap_or_else(PoisonError::into_inner);
            if listings.remove(&server.spec.name).is_some() {
                self.rebuild(&listings);
            }
        }
        self.tasks.spawn(async move {
            let deadline = tokio::time::Instant::now() + server.spec.call_timeout;
            while server.in_flight() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            server.stop.cancel();
        });
    }

    /// Stores a server's tool list and rebuilds the catalogue.
    pub(crate) fn set_tools(&self, server: &str, tools: Vec<Tool>) {
        let Some(entry) = self.server(server) else {
            return;
        };
        let mut listings = self.listings.lock().unwrap_or_else(PoisonError::into_inner);
        let unchanged = listings.get(server).is_some_and(|(_, old)| *old == tools);
        if unchanged {
            return;
        }
        listings.insert(server.to_owned(), (entry.spec.tools.clone(), tools));
        self.rebuild(&listings);
    }

    /// Takes a server's tools out of the catalogue when none of its replicas is coming back.
    pub(crate) fn forget_tools_if_down(&self, server: &Server) {
        if !server.hopeless() {
            return;
        }
        let mut listings = self.listings.lock().unwrap_or_else(PoisonError::into_inner);
        if listings.remove(&server.spec.name).is_some() {
            self.rebuild(&listings);
        }
    }

    fn rebuild(&self, listings: &BTreeMap<String, (ToolPolicy, Vec<Tool>)>) {
        let catalogue = Arc::new(Catalogue::build(listings));
        tracing::debug!(tools = catalogue.len(), "tool catalogue rebuilt");
        *self
            .catalogue
            .write()
            .unwrap_or_else(PoisonError::into_inner) = catalogue;
        self.version.send_modify(|version| *version += 1);
    }

    /// Tells the engine (once per lapse) that `server` needs a login.
    pub(crate) fn announce_needs_login(&self, server: &str, reason: &str) {
        self.announce(HostEvent::NeedsLogin {
            server: server.to_owned(),
            reason: reason.to_owned(),
        });
    }

    /// Logs `event` and sends it to the engine.
    pub(crate) fn announce(&self, event: HostEvent) {
        tracing::warn!("{}", event.message());
        // No receiver is fine: nobody listens (tools, tests).
        let _ = self.events.send(event);
    }

    /// Lists `server`'s tools again through `peer` (after `tools/list_changed`).
    pub(crate) fn refresh_tools(self: &Arc<Self>, server: &str, peer: Peer<RoleClient>) {
        let Some(entry) = self.server(server) else {
            return;
        };
        let shared = self.clone();
        let name = server.to_owned();
        let timeout = entry.spec.call_timeout;
        self.tasks.spawn(async move {
            match tokio::time::timeout(timeout, peer.list_all_tools()).await {
                Ok(Ok(tools)) => {
                    tracing::info!(server = %name, tools = tools.len(), "tool list refreshed");
                    shared.set_tools(&name, tools);
                }
                Ok(Err(error)) => {
                    tracing::warn!(server = %name, %error, "tool list refresh failed")
                }
                Err(_) => tracing::warn!(server = %name, "tool list refresh timed out"),
            }
        });
    }
}

/// Cancels the host's work when the last handle is dropped without [`McpHost::shutdown`].
struct DropGuard(CancellationToken);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// The MCP host. Cheap to clone; the servers stop when [`McpHost::shutdown`] is called (or,
/// without the graceful part, when the last clone is dropped).
#[derive(Clone)]
pub struct McpHost {
    shared: Arc<Shared>,
    _guard: Arc<DropGuard>,
}

impl std::fmt::Debug for McpHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpHost")
            .field("servers", &self.server_names())
            .finish()
    }
}

impl McpHost {
    /// Starts every server concurrently and returns at once; servers that fail to start are
    /// retried in the background. Must be called inside a Tokio runtime.
    ///
    /// Server names must be unique; a later duplicate replaces an earlier one.
    pub fn start(servers: Vec<ServerSpec>, options: HostOptions, callbacks: Callbacks) -> Self {
        Self::start_under(servers, options, callbacks, &CancellationToken::new())
    }

    /// [`McpHost::start`], as a part of a larger process: the host's own token is a child of
    /// `parent`, so cancelling `parent` stops the servers too (without waiting for them; call
    /// [`McpHost::shutdown`] for the graceful stop).
    pub fn start_under(
        servers: Vec<ServerSpec>,
        options: HostOptions,
        callbacks: Callbacks,
        parent: &CancellationToken,
    ) -> Self {
        let shutdown = parent.child_token();
        let servers: BTreeMap<String, Arc<Server>> = servers
            .into_iter()
            .map(|spec| {
                let stop = shutdown.child_token();
                (spec.name.clone(), Arc::new(Server::new(spec, stop)))
            })
            .collect();
        let shared = Arc::new(Shared {
            options: ArcSwap::from_pointee(options),
            callbacks,
            servers: RwLock::new(servers),
            shutdown: shutdown.clone(),
            tasks: TaskTracker::new(),
            listings: Mutex::new(BTreeMap::new()),
            catalogue: RwLock::new(Arc::new(Catalogue::default())),
            version: watch::Sender::new(0),
            events: broadcast::Sender::new(16),
        });
        for server in shared.servers().values() {
            shared.supervise(server);
        }
        Self {
            shared,
            _guard: Arc::new(DropGuard(shutdown)),
        }
    }

    /// Applies a new configuration (a reload): servers no longer named stop, new ones start,
    /// and those whose definition changed ([`ServerSpec::same_definition`]) restart; the others
    /// keep running untouched. A stopping server's calls in flight finish first (up to its
    /// call timeout); new calls see the new set at once. `options` replaces the host-wide
    /// settings (output limit, disabled servers) for calls made from now on.
    pub fn reconfigure(&self, specs: Vec<ServerSpec>, options: HostOptions) -> Reconfigured {
        self.shared.options.store(Arc::new(options));
        let mut report = Reconfigured::default();
        let mut retired = Vec::new();
        let mut started = Vec::new();
        {
            let mut servers = self
                .shared
                .servers
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let wanted: BTreeSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            let gone: Vec<String> = servers
                .keys()
                .filter(|name| !wanted.contains(name.as_str()))
                .cloned()
                .collect();
            for name in gone {
                retired.extend(servers.remove(&name));
                report.removed.push(name);
            }
            for spec in specs {
                let name = spec.name.clone();
                let list = match servers.get(&name) {
                    Some(old) if old.spec.same_definition(&spec) => {
                        report.unchanged.push(name);
                        continue;
                    }
                    Some(_) => &mut report.restarted,
                    None => &mut report.added,
                };
                list.push(name.clone());
                let server = Arc::new(Server::new(spec, self.shared.shutdown.child_token()));
                retired.extend(servers.insert(name, server.clone()));
                started.push(server);
            }
        }
        for server in retired {
            self.shared.retire(server);
        }
        for server in &started {
            self.shared.supervise(server);
        }
        tracing::info!(
            added = ?report.added,
            removed = ?report.removed,
            restarted = ?report.restarted,
            "MCP servers reconfigured"
        );
        report
    }

    /// Connects to one server and waits until it is ready: the simple way in for tools and
    /// tests (the conformance runner). Fails with the start error instead of retrying.
    pub async fn connect(spec: ServerSpec, callbacks: Callbacks) -> Result<Self, ConnectError> {
        let wait = spec.start_timeout + Duration::from_secs(1);
        let name = spec.name.clone();
        let host = Self::start(vec![spec], HostOptions::default(), callbacks);
        host.wait_ready(wait).await;
        let server = host.shared.server(&name).expect("the server just started");
        if server.state() == ServerState::Ready {
            return Ok(host);
        }
        let error = server.replicas[0]
            .state
            .borrow()
            .start_error
            .clone()
            .unwrap_or(ConnectError::Timeout { after: wait });
        host.shutdown().await;
        Err(error)
    }

    /// Waits until every replica of every server is ready or has failed its first start, at
    /// most `timeout`. True when all are ready.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let servers = self.shared.servers();
            let settled = servers.values().all(|server| {
                server.replicas.iter().all(|r| {
                    let state = r.state.borrow();
                    state.settled || state.phase == ServerState::Stopped
                })
            });
            if settled || tokio::time::Instant::now() >= deadline {
                return servers.values().all(|server| {
                    server
                        .replicas
                        .iter()
                        .all(|r| r.state.borrow().phase == ServerState::Ready)
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The current tool catalogue.
    pub fn catalogue(&self) -> Arc<Catalogue> {
        self.shared
            .catalogue
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The tools offered to the model now.
    pub fn tools(&self) -> Vec<ToolDescriptor> {
        self.catalogue().tools().to_vec()
    }

    /// Changes whenever the catalogue is rebuilt (a server started, a tool list changed).
    pub fn catalogue_changes(&self) -> watch::Receiver<u64> {
        self.shared.version.subscribe()
    }

    /// The configured server names.
    pub fn server_names(&self) -> Vec<String> {
        self.shared.servers().keys().cloned().collect()
    }

    /// Calls the tool the model knows as `name` with `arguments` (a JSON object, or null).
    ///
    /// `Ok` also covers results the server flagged as errors ([`ToolOutput::is_error`]); `Err`
    /// means there is no result (see [`HostError::model_message`] for what to tell the model).
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Value,
        options: CallOptions,
    ) -> Result<ToolOutput, HostError> {
        let descriptor =
            self.catalogue()
                .get(name)
                .cloned()
                .ok_or_else(|| HostError::UnknownTool {
                    name: name.to_owned(),
                })?;
        self.call_descriptor(&descriptor, arguments, options).await
    }

    /// Calls `tool` (the server's own name) on `server`, e.g. for `mcpcord mcp call`. Tools the
    /// configuration denies are refused; `ask` tools go through the approver.
    pub async fn call_server_tool(
        &self,
        server: &str,
        tool: &str,
        arguments: Value,
        options: CallOptions,
    ) -> Result<ToolOutput, HostError> {
        let entry = self.server(server)?;
        let listed = self.catalogue().find(server, tool).cloned();
        // A listed tool's approval accounts for its annotations; an unlisted one is unknown.
        let approval = listed
            .as_ref()
            .map_or_else(|| entry.spec.tools.policy_for(tool), |d| d.approval);
        if approval == ApprovalPolicy::Deny {
            return Err(HostError::NotOffered {
                server: server.to_owned(),
                tool: tool.to_owned(),
            });
        }
        let descriptor = match listed {
            Some(descriptor) => descriptor,
            // Not listed (yet): let the server say whether it exists.
            None => ToolDescriptor {
                name: tool.to_owned(),
                server: server.to_owned(),
                tool: tool.to_owned(),
                title: None,
                description: String::new(),
                input_schema: Value::Object(JsonObject::new()),
                output_schema: None,
                approval,
                read_only: None,
                destructive: None,
            },
        };
        self.call_descriptor(&descriptor, arguments, options).await
    }

    async fn call_descriptor(
        &self,
        descriptor: &ToolDescriptor,
        arguments: Value,
        options: CallOptions,
    ) -> Result<ToolOutput, HostError> {
        let arguments = arguments_object(arguments)?;
        if descriptor.approval == ApprovalPolicy::Ask {
            self.approve(descriptor, &arguments, &options).await?;
        }
        let server = self.server(&descriptor.server)?;
        let (replica, connection) = self.ready_connection(&server, &options).await?;
        replica.calls.fetch_add(1, Ordering::Relaxed);
        connection.in_flight.fetch_add(1, Ordering::Relaxed);
        let _in_flight = InFlight(&connection);
        let timeout = options.timeout.unwrap_or(server.spec.call_timeout);
        let started = std::time::Instant::now();
        let result =
            call::call_tool(&connection, &descriptor.tool, arguments, &options, timeout).await;
        log_call(descriptor, replica.index, started.elapsed(), &result);
        let result = match result {
            Ok(result) => result,
            Err(error) => return Err(self.scope_refusal(&server).await.unwrap_or(error)),
        };
        Ok(ToolOutput::from_result(
            result,
            self.shared.options().max_output_bytes,
        ))
    }

    /// [`HostError::NeedsScopes`] when the call failed because the server wants scopes the
    /// login lacks and no one could authorize them (admins hear of it once per scope set).
    async fn scope_refusal(&self, server: &Server) -> Option<HostError> {
        let scopes = server.current_auth()?.take_refused_scopes().await?;
        let name = server.spec.name.clone();
        if server.note_refused_scopes(&scopes) {
            self.shared.announce(HostEvent::NeedsScopes {
                server: name.clone(),
                scopes: scopes.clone(),
            });
        }
        Some(HostError::NeedsScopes {
            server: name,
            scopes,
        })
    }

    async fn approve(
        &self,
        descriptor: &ToolDescriptor,
        arguments: &Option<JsonObject>,
        options: &CallOptions,
    ) -> Result<(), HostError> {
        let Some(approver) = options
            .approver
            .clone()
            .or_else(|| self.shared.callbacks.approver.clone())
        else {
            return Err(HostError::Denied {
                reason: Some("it needs approval and no one is available to approve it".into()),
            });
        };
        let request = ApprovalRequest {
            server: descriptor.server.clone(),
            tool: descriptor.tool.clone(),
            exposed_name: descriptor.name.clone(),
            arguments: arguments.clone().map(Value::Object).unwrap_or(Value::Null),
            description: descriptor.description.clone(),
        };
        let approval = tokio::select! {
            approval = approver.approve(request) => approval,
            () = options.cancel.cancelled() => return Err(HostError::Cancelled),
        };
        match approval {
            Approval::Approved => Ok(()),
            Approval::Denied { reason } => Err(HostError::Denied { reason }),
        }
    }

    fn server(&self, name: &str) -> Result<Arc<Server>, HostError> {
        self.shared.server(name).ok_or_else(|| {
            if self.shared.options().disabled_servers.contains(name) {
                HostError::Disabled {
                    server: name.to_owned(),
                }
            } else {
                HostError::UnknownServer {
                    server: name.to_owned(),
                }
            }
        })
    }

    /// A ready replica's connection, waiting (bounded) for one while the server (re)starts.
    async fn ready_connection(
        &self,
        server: &Server,
        options: &CallOptions,
    ) -> Result<(Arc<Replica>, Arc<Connection>), HostError> {
        let wait = server.spec.start_timeout.min(server.spec.call_timeout);
        let deadline = tokio::time::Instant::now() + wait;
        let unavailable = |server: &Server| HostError::Unavailable {
            server: server.spec.name.clone(),
            state: server.state().name().to_owned(),
        };
        loop {
            let changed = server.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(pick) = server.pick() {
                return Ok(pick);
            }
            if server.state() == ServerState::NeedsLogin {
                return Err(HostError::NeedsLogin {
                    server: server.spec.name.clone(),
                });
            }
            if server.hopeless() || self.shared.shutdown.is_cancelled() {
                return Err(unavailable(server));
            }
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(deadline) => return Err(unavailable(server)),
                () = options.cancel.cancelled() => return Err(HostError::Cancelled),
            }
        }
    }

    /// Every server's prompts.
    pub async fn list_prompts(&self) -> Listing<PromptDescriptor> {
        self.gather(|connection, timeout| async move {
            if connection.identity.capabilities.prompts.is_none() {
                return Ok(Vec::new());
            }
            let prompts = within(timeout, &connection, connection.peer.list_all_prompts()).await?;
            Ok(prompts
                .into_iter()
                .map(|p| prompts::describe(&connection.server, p))
                .collect())
        })
        .await
    }

    /// Gets `prompt` from `server` with `arguments`. A server the configuration denies
    /// (`approval = "deny"`) or disables is refused; the text is cut to the tool output limit
    /// ([`HostOptions::max_output_bytes`]) with a note saying so.
    pub async fn get_prompt(
        &self,
        server: &str,
        prompt: &str,
        arguments: BTreeMap<String, String>,
    ) -> Result<PromptContent, HostError> {
        self.refuse_denied(server)?;
        let (connection, timeout) = self.connection_of(server).await?;
        let mut params = GetPromptRequestParams::new(prompt.to_owned());
        if !arguments.is_empty() {
            params.arguments = Some(
                arguments
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            );
        }
        let result = within(timeout, &connection, connection.peer.get_prompt(params)).await?;
        let mut content = prompts::content(result);
        cap_texts(
            &mut content.messages,
            |message| &mut message.text,
            self.shared.options().max_output_bytes,
        );
        Ok(content)
    }

    /// Refuses a server the configuration denies as a whole.
    fn refuse_denied(&self, server: &str) -> Result<(), HostError> {
        if self.server(server)?.spec.tools.denies_server() {
            return Err(HostError::ServerDenied {
                server: server.to_owned(),
            });
        }
        Ok(())
    }

    /// Every server's resources.
    pub async fn list_resources(&self) -> Listing<ResourceDescriptor> {
        self.gather(|connection, timeout| async move {
            if connection.identity.capabilities.resources.is_none() {
                return Ok(Vec::new());
            }
            let list = within(timeout, &connection, connection.peer.list_all_resources()).await?;
            Ok(list
                .into_iter()
                .map(|r| resources::describe(&connection.server, r))
                .collect())
        })
        .await
    }

    /// Every server's resource templates.
    pub async fn list_resource_templates(&self) -> Listing<ResourceTemplateDescriptor> {
        self.gather(|connection, timeout| async move {
            if connection.identity.capabilities.resources.is_none() {
                return Ok(Vec::new());
            }
            let list = within(
                timeout,
                &connection,
                connection.peer.list_all_resource_templates(),
            )
            .await?;
            Ok(list
                .into_iter()
                .map(|t| resources::describe_template(&connection.server, t))
                .collect())
        })
        .await
    }

    /// Reads `uri` from `server`. A server the configuration denies (`approval = "deny"`) or
    /// disables is refused; text is cut to the tool output limit ([`HostOptions::max_output_bytes`]) with a
    /// note saying so (binary parts are kept whole, as tool images are).
    pub async fn read_resource(
        &self,
        server: &str,
        uri: &str,
    ) -> Result<Vec<ResourceContent>, HostError> {
        self.refuse_denied(server)?;
        let (connection, timeout) = self.connection_of(server).await?;
        if connection.identity.capabilities.resources.is_none() {
            return Err(HostError::Unsupported {
                server: server.to_owned(),
                what: "resources",
            });
        }
        let params = ReadResourceRequestParams::new(uri.to_owned());
        let result = within(timeout, &connection, connection.peer.read_resource(params)).await?;
        let mut contents: Vec<ResourceContent> = result
            .contents
            .into_iter()
            .map(resources::content)
            .collect();
        let max = self.shared.options().max_output_bytes;
        let mut left = max;
        for part in &mut contents {
            if let Some(text) = &mut part.text {
                if text.len() > left {
                    let (cut, _) = output::truncate(std::mem::take(text), left);
                    *text = cut;
                    left = 0;
                } else {
                    left -= text.len();
                }
            }
        }
        Ok(contents)
    }

    async fn connection_of(&self, server: &str) -> Result<(Arc<Connection>, Duration), HostError> {
        let entry = self.server(server)?;
        let (_, connection) = self
            .ready_connection(&entry, &CallOptions::default())
            .await?;
        Ok((connection, entry.spec.call_timeout))
    }

    /// Runs `ask` on one ready connection of every server, concurrently.
    async fn gather<T, F, Fut>(&self, ask: F) -> Listing<T>
    where
        F: Fn(Arc<Connection>, Duration) -> Fut,
        Fut: Future<Output = Result<Vec<T>, HostError>>,
    {
        let servers = self.shared.servers();
        let asks = servers.values().map(|server| {
            let ask = &ask;
            async move {
                let name = server.spec.name.clone();
                let result = match self.ready_connection(server, &CallOptions::default()).await {
                    Ok((_, connection)) => ask(connection, server.spec.call_timeout).await,
                    Err(error) => Err(error),
                };
                (name, result)
            }
        });
        let mut listing = Listing {
            items: Vec::new(),
            errors: Vec::new(),
        };
        for (name, result) in futures::future::join_all(asks).await {
            match result {
                Ok(items) => listing.items.extend(items),
                Err(error) => listing.errors.push((name, error)),
            }
        }
        listing
    }

    /// Every server's state, replicas, pids, uptime, restarts, tool count and resource use.
    pub fn status(&self) -> Vec<ServerStatus> {
        let catalogue = self.catalogue();
        self.shared
            .servers()
            .values()
            .map(|server| server_status(server, &catalogue))
            .collect()
    }

    /// Events for admins ([`HostEvent`]), from now on.
    pub fn events(&self) -> broadcast::Receiver<HostEvent> {
        self.shared.events.subscribe()
    }

    /// The events that still hold now (servers waiting for a login), for a listener that
    /// subscribes after they were sent.
    pub fn standing_events(&self) -> Vec<HostEvent> {
        self.status()
            .into_iter()
            .filter(|status| status.state == ServerState::NeedsLogin)
            .map(|status| HostEvent::NeedsLogin {
                reason: status.last_error().unwrap_or("no login").to_owned(),
                server: status.name,
            })
            .collect()
    }

    /// The saved OAuth login of `server` changed (a login or logout by `mcpcord mcp`): the
    /// host reads the vault again, and a server waiting for a login starts at once.
    pub async fn credentials_changed(&self, server: &str) -> Result<(), HostError> {
        let server = self.server(server)?;
        server.credentials_changed().await;
        Ok(())
    }

    /// The saved OAuth logins may have changed, which ones unknown (`mcpcord mcp login` or
    /// `logout` told the running bot with a signal): every server reads the vault again, as
    /// [`McpHost::credentials_changed`] does for one.
    pub async fn logins_changed(&self) {
        for server in self.shared.servers().into_values() {
            server.credentials_changed().await;
        }
    }

    /// Restarts every replica of `server` now (gracefully).
    pub fn restart(&self, server: &str) -> Result<(), HostError> {
        for replica in &self.server(server)?.replicas {
            replica.restart.notify_one();
        }
        Ok(())
    }

    /// Stops every server gracefully (close stdin, SIGTERM, SIGKILL after the grace period)
    /// and waits until they are gone.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }
}

/// One server's status; its implementation and protocol as the last connected replica saw them.
fn server_status(server: &Server, catalogue: &Catalogue) -> ServerStatus {
    let mut identity = None;
    let replicas = server
        .replicas
        .iter()
        .map(|replica| {
            let state = replica.state.borrow();
            if let Some(connection) = &state.connection {
                identity = Some(connection.identity.clone());
            }
            replica_status(replica, &state)
        })
        .collect();
    ServerStatus {
        name: server.spec.name.clone(),
        transport: server.spec.transport_kind(),
        state: server.state(),
        tools: catalogue.of_server(&server.spec.name).count(),
        implementation: identity
            .as_ref()
            .and_then(|identity| identity.implementation.as_ref())
            .map(|i| format!("{} {}", i.name, i.version)),
        protocol: identity.map(|identity| identity.protocol.to_string()),
        lifecycle: server.spec.lifecycle,
        learned_lifecycle: server.learned_lifecycle(),
        replicas,
    }
}

/// One replica's status from its published state.
fn replica_status(replica: &Replica, state: &ReplicaState) -> ReplicaStatus {
    let connection = state.connection.as_ref();
    ReplicaStatus {
        index: replica.index,
        state: state.phase,
        pid: connection.and_then(|c| c.pid()),
        uptime: connection.map(|c| c.started.elapsed()),
        restarts: state.restarts,
        last_error: state.last_error.clone(),
        stats: connection.and_then(|c| c.stats()),
        calls: replica.calls.load(Ordering::Relaxed),
        in_flight: connection.map_or(0, |c| c.in_flight.load(Ordering::Relaxed)),
        next_attempt_in: state
            .next_attempt
            .map(|at| at.saturating_duration_since(std::time::Instant::now())),
    }
}

/// Decrements a connection's in-flight count when the call ends, however it ends.
struct InFlight<'a>(&'a Connection);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs a request with a timeout, naming failures as the host does.
async fn within<T>(
    timeout: Duration,
    connection: &Connection,
    request: impl Future<Output = Result<T, rmcp::ServiceError>>,
) -> Result<T, HostError> {
    tokio::select! {
        result = tokio::time::timeout(timeout, request) => match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(call::service_error(connection, error)),
            Err(_) => Err(HostError::Timeout { after: timeout }),
        },
        () = connection.closed() => Err(HostError::ConnectionLost { server: connection.server.to_string() }),
    }
}

/// Cuts the texts of `items` to `max_bytes` in all: the item that crosses the limit is cut with
/// a note (see [`output::truncate`]), later ones are dropped and counted in a note.
fn cap_texts<T>(items: &mut Vec<T>, text_of: impl Fn(&mut T) -> &mut String, max_bytes: usize) {
    let mut left = max_bytes;
    let Some(crossing) = items.iter_mut().position(|item| {
        let text = text_of(item);
        if text.len() > left {
            return true;
        }
        left -= text.len();
        false
    }) else {
        return;
    };
    let text = text_of(&mut items[crossing]);
    let (cut, _) = output::truncate(std::mem::take(text), left);
    *text = cut;
    let dropped = items.len() - crossing - 1;
    if dropped > 0 {
        items.truncate(crossing + 1);
        text_of(&mut items[crossing]).push_str(&format!(
            "\n[{dropped} more message(s) left out: over the limit of {max_bytes} bytes]"
        ));
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A tool call's arguments: an object, or nothing for `null`.
fn arguments_object(arguments: Value) -> Result<Option<JsonObject>, HostError> {
    match arguments {
        Value::Object(object) => Ok(Some(object)),
        Value::Null => Ok(None),
        other => Err(HostError::InvalidArguments {
            found: json_kind(&other).to_owned(),
        }),
    }
}

/// One log line per tool call: where it ran, how long it took, how it ended.
fn log_call(
    descriptor: &ToolDescriptor,
    replica: usize,
    elapsed: std::time::Duration,
    result: &Result<CallToolResult, HostError>,
) {
    let elapsed_ms = elapsed.as_millis() as u64;
    match result {
        Ok(result) => tracing::info!(
            server = %descriptor.server,
            tool = %descriptor.tool,
            replica,
            elapsed_ms,
            is_error = result.is_error == Some(true),
            "tool call"
        ),
        Err(error) => tracing::warn!(
            server = %descriptor.server,
            tool = %descriptor.tool,
            replica,
            elapsed_ms,
            %error,
            "tool call failed"
        ),
    }
}
