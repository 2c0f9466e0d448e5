//! FakeDiscord: a protocol-level fake of Discord for tests. It serves the REST API under
//! `/api/v10`, the gateway WebSocket and the files attached to injected messages (its "CDN",
//! under `/attachments`) on one 127.0.0.1 port, checks every request against
//! Discord's OpenAPI description and documented limits, answers with Discord's shapes,
//! rate-limit headers and errors, and records what the bot did. Tests inject what users do
//! (messages, slash commands, button presses, modal submits, autocomplete, threads).
//!
//! ```no_run
//! # async fn demo() {
//! use mcpcord_testkit::FakeDiscord;
//! let fake = FakeDiscord::start().await;
//! // twilight_http::Client::builder().token(FakeDiscord::TOKEN.into())
//! //     .proxy(fake.rest_addr_string(), true).build();
//! // ConfigBuilder::new(FakeDiscord::TOKEN.into(), intents).proxy_url(fake.gateway_url())
//! # }
//! ```

mod config;
pub mod errors;
pub mod files;
mod gateway;
pub mod ids;
mod inject;
pub mod limits;
pub mod multipart;
pub mod ratelimit;
mod records;
mod rest;
pub mod shapes;
pub mod spec;
mod state;

pub use config::{FakeDiscordBuilder, GuildConfig, PRIVILEGED_INTENTS};
pub use errors::FormErrors;
pub use gateway::{
    CLOSE_ALREADY_AUTHENTICATED, CLOSE_AUTHENTICATION_FAILED, CLOSE_DECODE_ERROR,
    CLOSE_DISALLOWED_INTENTS, CLOSE_INVALID_API_VERSION, CLOSE_INVALID_INTENTS, CLOSE_INVALID_SEQ,
    CLOSE_INVALID_SHARD, CLOSE_NOT_AUTHENTICATED, CLOSE_SESSION_TIMED_OUT, CLOSE_UNKNOWN_ERROR,
    CLOSE_UNKNOWN_OPCODE, INTENT_DIRECT_MESSAGES, INTENT_GUILD_MESSAGES, INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
};
pub use inject::{InjectedInteraction, InteractionCreate, MessageCreate, ThreadCreate};
pub use ratelimit::BucketLimit;
pub use records::{
    Identify, InteractionResponse, LateInteraction, RateLimitHit, RecordedRequest, ResponseKind,
    Resume, SpecViolation,
};
pub use spec::Problem;

use axum::serve::ListenerExt;
use serde_json::{Value, json};
use state::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A running fake Discord; dropping it stops it (and panics if requests broke the spec and the
/// test did not take the violations with [`FakeDiscord::take_spec_violations`]).
#[derive(Debug)]
pub struct FakeDiscord {
    shared: Arc<Shared>,
}

/// A `wait_for*` helper ran out of time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("FakeDiscord: timed out after {0:?} waiting for {1}")]
pub struct WaitTimeout(pub Duration, pub &'static str);

impl FakeDiscord {
    /// The default bot token (send it as `Bot fake-discord-token`).
    pub const TOKEN: &'static str = "fake-discord-token";
    /// The default application id.
    pub const APPLICATION_ID: u64 = 1_200_000_000_000_000_001;
    /// The default bot user id (the same as the application id, as for modern bots).
    pub const BOT_USER_ID: u64 = Self::APPLICATION_ID;
    /// The default bot user name.
    pub const BOT_NAME: &'static str = "mcpcord-test";
    /// The default guild.
    pub const GUILD_ID: u64 = 1_200_000_000_000_000_100;
    /// The default guild's text channel.
    pub const CHANNEL_ID: u64 = 1_200_000_000_000_000_200;
    /// The default human user, a member of the default guild.
    pub const USER_ID: u64 = 1_200_000_000_000_000_300;
    /// The default human user's name.
    pub const USER_NAME: &'static str = "alice";

    /// Starts a fake with the default world: one guild, one channel, one user.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// A builder to set the identity, world, timing and limits before starting.
    pub fn builder() -> FakeDiscordBuilder {
        FakeDiscordBuilder::default()
    }

    pub(crate) async fn start_with(config: config::Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("FakeDiscord: cannot bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("FakeDiscord: bound socket has an address");
        let shared = Arc::new(Shared::new(config, addr));
        let app = axum::Router::new()
            .route("/", axum::routing::get(gateway::upgrade))
            .route(
                "/attachments/{id}/{filename}",
                axum::routing::get(download_attachment),
            )
            .fallback(rest::handle)
            .with_state(shared.clone());
        let cancel = shared.cancel.clone();
        tokio::spawn(async move {
            // Small streamed writes would otherwise wait on delayed ACKs: 40 ms a request.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { cancel.cancelled().await })
                .await;
        });
        Self { shared }
    }

    /// The address REST and the gateway listen on.
    pub fn rest_addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `127.0.0.1:PORT`, for `twilight_http::Client::builder().proxy(_, true)`.
    pub fn rest_addr_string(&self) -> String {
        self.shared.addr.to_string()
    }

    /// `http://127.0.0.1:PORT/api/v10`.
    pub fn api_base(&self) -> String {
        format!("http://{}/api/v10", self.shared.addr)
    }

    /// `ws://127.0.0.1:PORT`, for twilight-gateway's `ConfigBuilder::proxy_url`.
    pub fn gateway_url(&self) -> String {
        self.shared.gateway_url()
    }

    /// The token the fake accepts.
    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    /// The application id.
    pub fn application_id(&self) -> u64 {
        self.shared.config.application_id
    }

    /// The bot user's id.
    pub fn bot_user_id(&self) -> u64 {
        self.shared.config.bot_user_id
    }

    /// `<@BOT_ID>`, to mention the bot in injected content.
    pub fn bot_mention(&self) -> String {
        format!("<@{}>", self.shared.config.bot_user_id)
    }

    // ----- injection -------------------------------------------------------------------

    /// Injects a user message (stored, then dispatched as MESSAGE_CREATE); returns its JSON.
    pub fn inject_message_create(&self, message: MessageCreate) -> Value {
        self.shared.inject_message(message)
    }

    /// Stores user messages as [`FakeDiscord::inject_message_create`] does, without
    /// dispatching them yet: [`FakeDiscord::dispatch_message_creates`] sends them. A burst then
    /// leaves "Discord" at once, not at the pace the fake builds messages, which on one machine
    /// takes processor time from the bot under test. Returns their JSON, in order.
    pub fn store_message_creates(
        &self,
        messages: impl IntoIterator<Item = MessageCreate>,
    ) -> Vec<Value> {
        messages
            .into_iter()
            .map(|message| self.shared.store_message_create(message))
            .collect()
    }

    /// Dispatches messages stored by [`FakeDiscord::store_message_creates`] as MESSAGE_CREATE,
    /// in order.
    pub fn dispatch_message_creates(&self, messages: &[Value]) {
        self.shared.dispatch_all("MESSAGE_CREATE", messages);
    }

    /// Injects an interaction (slash command, component, modal submit, autocomplete).
    pub fn inject_interaction_create(&self, interaction: InteractionCreate) -> InjectedInteraction {
        self.shared.inject_interaction(interaction)
    }

    /// Injects a thread a user created (THREAD_CREATE); returns the channel JSON.
    pub fn inject_thread_create(&self, thread: ThreadCreate) -> Value {
        self.shared.inject_thread(thread)
    }

    /// Dispatches any event to the sessions that should get it (by intents and shard);
    /// returns how many sessions got it (connected or waiting to resume).
    pub fn dispatch(&self, event_name: &str, data: Value) -> usize {
        self.shared.dispatch(event_name, &data)
    }

    // ----- gateway control -------------------------------------------------------------

    /// Closes every gateway connection with `close_code`; sessions stay resumable unless the
    /// code ends them (4004, 4007, 4009, 4010–4014).
    pub fn disconnect_all(&self, close_code: u16) {
        self.shared.disconnect_all(close_code);
    }

    /// Asks every connected session for a heartbeat (op 1).
    pub fn request_heartbeat(&self) {
        self.shared
            .send_raw(&json!({"op": gateway::OP_HEARTBEAT, "d": null, "s": null, "t": null}));
    }

    /// Tells every connected session to reconnect and resume (op 7).
    pub fn request_reconnect(&self) {
        self.shared
            .send_raw(&json!({"op": gateway::OP_RECONNECT, "d": null, "s": null, "t": null}));
    }

    /// Sends Invalid Session (op 9) to every connected session.
    pub fn invalidate_sessions(&self, resumable: bool) {
        self.shared.send_raw(
            &json!({"op": gateway::OP_INVALID_SESSION, "d": resumable, "s": null, "t": null}),
        );
    }

    /// Sessions currently attached to a connection.
    pub fn connected_sessions(&self) -> usize {
        self.shared.connected_sessions()
    }

    /// The last sequence number of each session (by session id).
    pub fn session_sequences(&self) -> std::collections::HashMap<String, u64> {
        self.shared.session_sequences()
    }

    /// Every Identify received, oldest first.
    pub fn identifies(&self) -> Vec<Identify> {
        self.shared.records().identifies.clone()
    }

    /// Every Resume received, oldest first.
    pub fn resumes(&self) -> Vec<Resume> {
        self.shared.records().resumes.clone()
    }

    /// Heartbeats received.
    pub fn heartbeats(&self) -> u64 {
        self.shared.records().heartbeats
    }

    /// Gateway connections accepted so far.
    pub fn gateway_connections(&self) -> u64 {
        self.shared.records().connections
    }

    /// Every payload clients sent on the gateway (identify, heartbeats, presence, ...).
    pub fn gateway_commands(&self) -> Vec<Value> {
        self.shared.records().gateway_commands.clone()
    }

    // ----- waiting ---------------------------------------------------------------------

    /// Waits until `check` returns something (re-checked whenever the fake records anything),
    /// up to the builder's wait timeout (10 s by default).
    pub async fn wait_for<T>(
        &self,
        what: &'static str,
        mut check: impl FnMut(&Self) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        let timeout = self.shared.config.wait_timeout;
        let deadline = Instant::now() + timeout;
        let mut changes = self.shared.changed.subscribe();
        loop {
            changes.mark_unchanged();
            if let Some(found) = check(self) {
                return Ok(found);
            }
            // Also wake periodically so time-based checks (late interactions) progress.
            let tick = Instant::now() + Duration::from_millis(50);
            let until = tick.min(deadline);
            let _ = tokio::time::timeout_at(until, changes.changed()).await;
            if Instant::now() >= deadline {
                return check(self).ok_or(WaitTimeout(timeout, what));
            }
        }
    }

    /// Waits until a session has identified; returns the latest Identify.
    pub async fn wait_for_identify(&self) -> Result<Identify, WaitTimeout> {
        self.wait_for("an Identify", |f| f.identifies().last().cloned())
            .await
    }

    /// Waits until `n` Identifies have come in total; returns the `n`th.
    pub async fn wait_for_identifies(&self, n: usize) -> Result<Identify, WaitTimeout> {
        self.wait_for("more Identifies", |f| {
            f.identifies().get(n.saturating_sub(1)).cloned()
        })
        .await
    }

    /// Waits until a session has resumed; returns the latest accepted Resume.
    pub async fn wait_for_resume(&self) -> Result<Resume, WaitTimeout> {
        self.wait_for("a Resume", |f| {
            f.resumes().into_iter().rev().find(|r| r.accepted)
        })
        .await
    }

    /// Waits until a channel holds at least `n` messages; returns them.
    pub async fn wait_for_messages(
        &self,
        channel_id: u64,
        n: usize,
    ) -> Result<Vec<Value>, WaitTimeout> {
        self.wait_for("messages", |f| {
            let m = f.messages_in(channel_id);
            (m.len() >= n).then_some(m)
        })
        .await
    }

    /// Waits until a REST request matching `filter` has been answered; returns it.
    pub async fn wait_for_request(
        &self,
        mut filter: impl FnMut(&RecordedRequest) -> bool,
    ) -> Result<RecordedRequest, WaitTimeout> {
        self.wait_for("a request", |f| {
            f.shared
                .records()
                .requests
                .iter()
                .find(|r| filter(r))
                .cloned()
        })
        .await
    }

    // ----- what the bot did ------------------------------------------------------------

    /// Every REST request, in the order answered.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.records().requests.clone()
    }

    /// The messages stored in a channel, oldest first (bot messages and injected ones).
    pub fn messages_in(&self, channel_id: u64) -> Vec<Value> {
        self.shared
            .world()
            .channels
            .get(&channel_id)
            .map(|c| c.messages.clone())
            .unwrap_or_default()
    }

    /// One stored message, from any channel.
    pub fn message(&self, message_id: u64) -> Option<Value> {
        self.shared.world().find_message(message_id).cloned()
    }

    /// A channel (text, DM or thread) the fake knows.
    pub fn channel(&self, channel_id: u64) -> Option<Value> {
        self.shared
            .world()
            .channels
            .get(&channel_id)
            .map(|c| c.json.clone())
    }

    /// Threads in a parent channel.
    pub fn threads_in(&self, parent_id: u64) -> Vec<Value> {
        let world = self.shared.world();
        let mut threads: Vec<Value> = world
            .channels
            .values()
            .filter(|c| shapes::id_of(&c.json["parent_id"]) == Some(parent_id))
            .map(|c| c.json.clone())
            .collect();
        threads.sort_by_key(|t| shapes::id_of(&t["id"]));
        threads
    }

    /// What the bot did with an interaction: callbacks, followups, original edits.
    pub fn interaction_responses(&self, interaction_id: u64) -> Vec<InteractionResponse> {
        self.shared
            .records()
            .responses
            .iter()
            .filter(|r| r.interaction_id == interaction_id)
            .cloned()
            .collect()
    }

    /// Interactions answered after the deadline, and those still unanswered past it.
    pub fn late_interactions(&self) -> Vec<LateInteraction> {
        let mut late = self.shared.records().late.clone();
        let deadline = self.shared.config.interaction_deadline;
        let now = Instant::now();
        let world = self.shared.world();
        let mut pending: Vec<LateInteraction> = world
            .interactions
            .values()
            .filter(|i| {
                i.callback.is_none()
                    && !i.expired
                    && now.saturating_duration_since(i.injected_at) > deadline
            })
            .map(|i| LateInteraction {
                interaction_id: i.id,
                answered_after: None,
                deadline,
            })
            .collect();
        pending.sort_by_key(|l| l.interaction_id);
        late.extend(pending);
        late
    }

    /// Requests answered with 429.
    pub fn rate_limited(&self) -> Vec<RateLimitHit> {
        self.shared.records().rate_limited.clone()
    }

    /// Registered global commands.
    pub fn global_commands(&self) -> Vec<Value> {
        self.shared.world().global_commands.clone()
    }

    /// Registered commands of a guild.
    pub fn guild_commands(&self, guild_id: u64) -> Vec<Value> {
        self.shared
            .world()
            .guild_commands
            .get(&guild_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Requests that did not fit the spec, without taking them.
    pub fn spec_violations(&self) -> Vec<SpecViolation> {
        self.shared.records().violations.clone()
    }

    /// Takes the spec violations so far; what is not taken fails the test when the fake drops.
    pub fn take_spec_violations(&self) -> Vec<SpecViolation> {
        std::mem::take(&mut self.shared.records().violations)
    }
}

/// `GET /attachments/{id}/{filename}`: the bytes of a file attached to an injected message
/// (Discord's CDN, for the fake); 404 for an unknown id or a filename that does not match.
async fn download_attachment(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    axum::extract::Path((id, filename)): axum::extract::Path<(u64, String)>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let latency = shared.config.attachment_latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let file = {
        let world = shared.world();
        let named = world.channels.values().flat_map(|c| &c.messages).any(|m| {
            m["attachments"].as_array().into_iter().flatten().any(|a| {
                shapes::id_of(&a["id"]) == Some(id) && a["filename"].as_str() == Some(&filename)
            })
        });
        world.files.get(&id).filter(|_| named).cloned()
    };
    match file {
        Some((content_type, bytes)) => {
            ([(http::header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        None => http::StatusCode::NOT_FOUND.into_response(),
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
        if std::thread::panicking() {
            return;
        }
        let violations = self.take_spec_violations();
        if !violations.is_empty() {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!(
                "FakeDiscord: {} request(s) did not fit Discord's OpenAPI spec \
                 (take them with take_spec_violations() if that was the point):\n  {}",
                violations.len(),
                list.join("\n  ")
            );
        }
    }
}
