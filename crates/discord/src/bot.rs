//! The runtime: [`run`] connects to Discord, registers the commands, answers messages and
//! interactions with the engine, and shuts down in order when its shutdown future resolves.
//!
//! Owns the adapter's configuration ([`BotConfig`], built by the binary from its own
//! configuration: this crate does not depend on it) and the state every event handler shares
//! ([`Context`]). Shutdown order: stop taking new turns → let running turns finish for up to
//! [`BotConfig::grace`] (the engine then stops the rest, saved as interrupted; their messages
//! get a final edit marking them so) → wait for the final edits → close the shards.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::num::NonZeroU32;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use mcpcord_engine::Engine;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
pub use twilight_gateway::Intents;
use twilight_model::id::Id;
use twilight_model::id::marker::{ApplicationMarker, ChannelMarker, GuildMarker, UserMarker};

use crate::commands::prompt::PendingPrompts;
use crate::gate::Gate;
use crate::gateway;
use crate::mentions::no_pings;
use crate::middleware::{AdminPolicy, UserRateLimit};
use crate::pacer::Pacer;
use crate::reply::Registry;
use crate::throttle::{EditBudget, ThrottleConfig};
use crate::triggers::Audience;

/// Extra time, after the grace period, for the last edits of interrupted answers.
pub const FINAL_EDIT_GRACE: Duration = Duration::from_secs(15);

/// Where the REST API is reached instead of discord.com (proxies, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestProxy {
    /// `host:port`.
    pub authority: String,
    /// Plain HTTP rather than HTTPS.
    pub http: bool,
}

impl RestProxy {
    /// Reads a base URL such as `http://127.0.0.1:3000` (any path is ignored: twilight adds
    /// `/api/v10`). `None` when it names no host.
    pub fn from_url(url: &url::Url) -> Option<Self> {
        let host = url.host_str()?;
        let authority = match url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Some(Self {
            authority,
            http: url.scheme() == "http",
        })
    }
}

/// How the adapter runs; the binary builds it from its configuration.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// The bot token.
    pub token: String,
    /// The application id; asked of Discord when unset.
    pub application_id: Option<Id<ApplicationMarker>>,
    /// Gateway intents.
    pub intents: Intents,
    /// REST override.
    pub rest_proxy: Option<RestProxy>,
    /// Gateway URL override (`ws://…`).
    pub gateway_url: Option<String>,
    /// Register commands in this guild only (development); globally when unset.
    pub command_guild: Option<Id<GuildMarker>>,
    /// Total shards; Discord's recommendation when unset.
    pub shard_count: Option<NonZeroU32>,
    /// The shards this process runs (ids from 0), when it runs part of them; all when unset.
    /// Needs `shard_count`: several processes split one total between them.
    pub shard_ids: Option<RangeInclusive<u32>>,
    /// Who the bot serves.
    pub audience: Audience,
    /// Channels where every message is answered.
    pub always_answer_channels: HashSet<u64>,
    /// Where admin notices (an MCP server needing a login) are posted; they are logged
    /// either way.
    pub admin_channel: Option<Id<ChannelMarker>>,
    /// Who counts as an admin.
    pub admins: AdminPolicy,
    /// The other bot roles, and what everyone else may do.
    pub roles: crate::roles::Roles,
    /// Commands, button presses and form submits per user, together.
    pub command_rate: UserRateLimit,
    /// Messages answered per user per minute.
    pub messages_per_minute: NonZeroU32,
    /// Unfinished answers one person may have at once (running or waiting in line).
    pub open_turns_per_user: usize,
    /// The models people may pick themselves (`/chat model:`, `/model set`, the model menu);
    /// `None`: only admins pick models, others get the preferences admins set.
    pub allowed_models: Option<HashSet<String>>,
    /// Streaming edits.
    pub throttle: ThrottleConfig,
    /// How long an answer's first message waits for the answer to be complete (then it goes
    /// out as one request); zero posts at once. See [`crate::first_post`].
    pub first_post_window: Duration,
    /// Edits per second across the bot (raised with [`global_rate_limit`](Self::global_rate_limit)
    /// to half of it, when that is more).
    pub edits_per_second: NonZeroU32,
    /// Requests per second Discord allows the bot (50; more for large bots on request): the
    /// [`Pacer`](crate::pacer::Pacer) never sends more in any rolling second.
    pub global_rate_limit: NonZeroU32,
    /// Largest text attachment read in, in bytes.
    pub max_attachment_bytes: u64,
    /// Gateway events handled at once.
    pub max_concurrent_events: usize,
    /// How long running turns may finish at shutdown.
    pub grace: Duration,
    /// How long a tool call waits for a person (an approval, a form) before it is denied or
    /// declined.
    pub approval_timeout: Duration,
    /// Where the shards report their state (connected, latency): the caller keeps a clone to
    /// read it (health checks, status pages).
    pub status: crate::status::GatewayStatus,
}

impl BotConfig {
    /// Who may do what: admins, roles and the models people may pick.
    pub fn policy(&self) -> crate::roles::Policy {
        crate::roles::Policy {
            admins: self.admins.clone(),
            roles: self.roles.clone(),
            allowed_models: self.allowed_models.clone(),
        }
    }

    /// A configuration with the defaults, for `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            application_id: None,
            intents: Intents::GUILDS
                | Intents::GUILD_MESSAGES
                | Intents::DIRECT_MESSAGES
                | Intents::MESSAGE_CONTENT,
            rest_proxy: None,
            gateway_url: None,
            command_guild: None,
            shard_count: None,
            shard_ids: None,
            audience: Audience {
                allow_dms: true,
                ..Audience::default()
            },
            always_answer_channels: HashSet::new(),
            admin_channel: None,
            admins: AdminPolicy {
                server_managers: true,
                ..AdminPolicy::default()
            },
            roles: crate::roles::Roles::default(),
            command_rate: UserRateLimit::default(),
            messages_per_minute: NonZeroU32::new(10).expect("non-zero"),
            open_turns_per_user: 3,
            allowed_models: None,
            throttle: ThrottleConfig::default(),
            first_post_window: crate::first_post::FIRST_POST_WINDOW,
            edits_per_second: crate::throttle::DEFAULT_EDITS_PER_SECOND,
            global_rate_limit: crate::pacer::DEFAULT_GLOBAL_RATE_LIMIT,
            max_attachment_bytes: 512 * 1024,
            max_concurrent_events: 256,
            grace: Duration::from_secs(30),
            approval_timeout: Duration::from_secs(300),
            status: crate::status::GatewayStatus::default(),
        }
    }
}

/// Why the bot could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BotError {
    /// Discord refused the token or could not be reached at start-up.
    #[error("cannot reach Discord with this token: {0}")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The slash commands could not be registered.
    #[error("cannot register the slash commands: {0}")]
    Commands(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The shards to run are not among the total.
    #[error(
        "discord.shard_ids {first}-{last} is not within the {total} shards (ids 0 to {total} - 1)"
    )]
    Shards {
        /// The first shard asked for.
        first: u32,
        /// The last one.
        last: u32,
        /// The total.
        total: u32,
    },
    /// Discord closed the gateway for good; the hint says what to fix.
    #[error("Discord closed the gateway (code {code}): {hint}")]
    Gateway {
        /// The close code (4004 authentication failed, 4013 invalid intents, 4014 disallowed
        /// intents).
        code: u16,
        /// What to do about it.
        hint: &'static str,
    },
}

/// What every event handler shares.
pub struct Context {
    /// Discord's REST API (every message it sends pings nobody).
    pub http: Arc<twilight_http::Client>,
    /// The engine.
    pub engine: Engine,
    /// The configuration; a reload swaps it (see [`Hooks::updates`]).
    config: ArcSwap<BotConfig>,
    /// Said once, when the first shard is ready.
    ready: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// The bot's own user.
    pub bot_id: Id<UserMarker>,
    /// The application, for interactions.
    pub application_id: Id<ApplicationMarker>,
    /// Paces every REST request of the bot's own (all shards): global limit and buckets.
    pub pacer: Pacer,
    /// The edit budget all streamed messages share.
    pub budget: EditBudget,
    /// Turns in progress and answered, for their buttons.
    pub turns: Registry,
    /// Forms of `/prompt` waiting to be submitted.
    pub prompts: PendingPrompts,
    /// Answer renderers; waited for at shutdown.
    pub renders: TaskTracker,
    /// Channels looked up once: kind, owner, name.
    pub channels: Mutex<HashMap<u64, crate::gateway::ChannelInfo>>,
    /// Server names, from GUILD_CREATE.
    pub guild_names: Mutex<HashMap<u64, String>>,
    /// Threads the bot started.
    pub bot_threads: Mutex<HashSet<u64>>,
    /// Conversations of answers posted but not yet stored with their message ids.
    pub recent: crate::conversation::RecentAnswers,
    /// Who may come in, and how often: every message and interaction passes it first.
    pub gate: Gate,
    /// Downloads attachments.
    pub downloads: reqwest::Client,
    /// Gateway events handled at once.
    pub events: Arc<Semaphore>,
    /// Messages of one channel reach the engine in the order they were sent.
    pub(crate) order: crate::order::Order,
    content_warned: AtomicBool,
}

impl Context {
    /// The configuration in force now.
    pub fn config(&self) -> Arc<BotConfig> {
        self.config.load_full()
    }

    /// Runs the ready hook, the first time a shard is ready.
    pub(crate) fn shard_ready(&self) {
        let hook = self.ready.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(hook) = hook {
            hook();
        }
    }

    /// Applies a reloaded configuration: who is served, admins, roles, rates, models people may
    /// pick, always-answer channels, attachment size and open answers per person change at once.
    /// What the connection was made with (token, intents, URLs, shards, command guild) stays.
    pub fn reconfigure(&self, new: BotConfig) {
        let old = self.config();
        let kept = BotConfig {
            token: old.token.clone(),
            application_id: old.application_id,
            intents: old.intents,
            rest_proxy: old.rest_proxy.clone(),
            gateway_url: old.gateway_url.clone(),
            command_guild: old.command_guild,
            shard_count: old.shard_count,
            shard_ids: old.shard_ids.clone(),
            global_rate_limit: old.global_rate_limit,
            edits_per_second: old.edits_per_second,
            max_concurrent_events: old.max_concurrent_events,
            // The shards' states, which the admin endpoint reads, live on.
            status: old.status.clone(),
            ..new
        };
        self.gate
            .reconfigure(kept.audience.clone(), kept.messages_per_minute);
        self.config.store(Arc::new(kept));
        tracing::info!("Discord settings reloaded");
    }

    /// Whether new turns are taken (false once shutdown began): the engine decides.
    pub fn accepting(&self) -> bool {
        self.engine.accepting()
    }

    /// Logs once that messages arrive without content (MESSAGE_CONTENT is off).
    pub fn warn_no_content(&self) {
        if !self.content_warned.swap(true, Ordering::SeqCst) {
            tracing::warn!("{}", gateway::MESSAGE_CONTENT_HINT);
        }
    }
}

/// The REST client for `config`: the proxy if any, and no pings by default. Its own rate
/// limiter keeps buckets and retries a 429, with the global limit lifted: the
/// [`Pacer`](crate::pacer::Pacer) in front keeps that, over rolling seconds rather than
/// twilight's fixed windows (which let twice the limit through at a window boundary).
pub fn http_client(config: &BotConfig) -> twilight_http::Client {
    let mut builder = twilight_http::Client::builder()
        .token(config.token.clone())
        .ratelimiter(Some(twilight_http_ratelimiting::RateLimiter::new(u16::MAX)))
        .default_allowed_mentions(no_pings())
        .timeout(Duration::from_secs(30));
    if let Some(proxy) = &config.rest_proxy {
        builder = builder.proxy(proxy.authority.clone(), proxy.http);
    }
    builder.build()
}

/// Runs the bot until `shutdown` resolves, or until Discord closes the gateway for good
/// ([`BotError::Gateway`], returned after the same orderly shutdown), then shuts down in order
/// (see the module docs).
/// The engine is not shut down beyond its turns: the caller stops MCP servers and the store.
///
/// twilight's HTTPS and WebSocket clients use the process's TLS provider: the caller installs
/// one first (the binary installs ring in `main`, once).
pub async fn run(
    config: BotConfig,
    engine: Engine,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BotError> {
    run_with(config, engine, shutdown, Hooks::default()).await
}

/// What the process around the adapter wants to hear of it, and to tell it while it runs.
#[derive(Default)]
pub struct Hooks {
    /// Called once, when the first shard's session is ready (service managers are told the
    /// bot is up then).
    pub ready: Option<Box<dyn FnOnce() + Send>>,
    /// Reloaded configurations, applied as they come ([`Context::reconfigure`]).
    pub updates: Option<tokio::sync::watch::Receiver<BotConfig>>,
    /// The process's token: the shards' own token is a child of it, so cancelling it closes
    /// them at once (the orderly stop is the `shutdown` future). A fresh token by default.
    pub parent: CancellationToken,
}

/// [`run`], with [`Hooks`].
pub async fn run_with(
    config: BotConfig,
    engine: Engine,
    shutdown: impl Future<Output = ()> + Send,
    hooks: Hooks,
) -> Result<(), BotError> {
    let http = Arc::new(http_client(&config));
    let (me, application_id) = who_we_are(&http, config.application_id).await?;
    register_commands(&http, application_id, config.command_guild).await?;
    if !config.intents.contains(Intents::MESSAGE_CONTENT) {
        tracing::warn!("{}", gateway::MESSAGE_CONTENT_HINT);
    }
    let pacer = Pacer::new(config.global_rate_limit);
    let half = NonZeroU32::new(config.global_rate_limit.get() / 2).unwrap_or(NonZeroU32::MIN);
    let edits_per_second = config.edits_per_second.max(half);
    let ctx = Arc::new(Context {
        budget: EditBudget::new(edits_per_second).with_pacer(pacer.clone()),
        pacer,
        gate: Gate::new(
            config.audience.clone(),
            config.messages_per_minute,
            config.command_rate,
        ),
        events: Arc::new(Semaphore::new(config.max_concurrent_events.max(1))),
        order: crate::order::Order::default(),
        downloads: reqwest::Client::new(),
        http: http.clone(),
        engine,
        bot_id: me.id,
        application_id,
        turns: Registry::default(),
        prompts: PendingPrompts::default(),
        renders: TaskTracker::new(),
        channels: Mutex::new(HashMap::new()),
        bot_threads: Mutex::new(HashSet::new()),
        recent: crate::conversation::RecentAnswers::default(),
        guild_names: Mutex::new(HashMap::new()),
        content_warned: AtomicBool::new(!config.intents.contains(Intents::MESSAGE_CONTENT)),
        config: ArcSwap::from_pointee(config),
        ready: Mutex::new(hooks.ready),
    });
    let reloads = hooks
        .updates
        .map(|updates| tokio::spawn(apply_updates(ctx.clone(), updates)));
    tracing::info!(bot = %me.name, id = me.id.get(), "connected to Discord's REST API");
    let mut shards = gateway::start(ctx.clone(), &hooks.parent).await?;
    let forget = tokio::spawn(forget_quotas(ctx.clone()));
    let notices = tokio::spawn(crate::notices::post_admin_notices(ctx.clone()));
    let fatal = tokio::select! {
        () = shutdown => None,
        error = shards.fatal() => Some(error),
    };
    forget.abort();
    notices.abort();
    if let Some(reloads) = reloads {
        reloads.abort();
    }
    if let Some(error) = &fatal {
        tracing::error!(%error, "stopping: the bot cannot run without Discord's gateway");
    }
    stop(&ctx, shards).await;
    fatal.map_or(Ok(()), Err)
}

/// Applies each configuration that arrives on `updates` until the sender goes away.
async fn apply_updates(ctx: Arc<Context>, mut updates: tokio::sync::watch::Receiver<BotConfig>) {
    while updates.changed().await.is_ok() {
        let new = updates.borrow_and_update().clone();
        ctx.reconfigure(new);
    }
}

/// The bot's user, and its application id (from the configuration, or asked of Discord).
async fn who_we_are(
    http: &twilight_http::Client,
    configured: Option<Id<ApplicationMarker>>,
) -> Result<(twilight_model::user::CurrentUser, Id<ApplicationMarker>), BotError> {
    let me = fetch(http.current_user()).await?;
    if let Some(id) = configured {
        return Ok((me, id));
    }
    let application = fetch(http.current_user_application()).await?;
    Ok((me, application.id))
}

/// The body of a start-up request to Discord; any failure is [`BotError::Connect`].
async fn fetch<T, R>(request: R) -> Result<T, BotError>
where
    T: serde::de::DeserializeOwned + Unpin,
    R: IntoFuture<Output = Result<twilight_http::Response<T>, twilight_http::Error>>,
{
    let response = request.await.map_err(|e| BotError::Connect(e.into()))?;
    response
        .model()
        .await
        .map_err(|e| BotError::Connect(e.into()))
}

/// Forgets, every minute, the people whose quotas are full again (bounds the gate's memory).
async fn forget_quotas(ctx: Arc<Context>) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        every.tick().await;
        ctx.gate.retain_recent();
    }
}

/// Shuts down in order: no new turns, running ones finish (or are cut after the grace), their
/// answers get their final edit, then the shards close.
async fn stop(ctx: &Context, shards: gateway::Shards) {
    tracing::info!(
        "shutting down: no new turns; running ones get {:?}",
        ctx.config().grace
    );
    ctx.engine.shutdown(ctx.config().grace).await;
    ctx.renders.close();
    if tokio::time::timeout(FINAL_EDIT_GRACE, ctx.renders.wait())
        .await
        .is_err()
    {
        tracing::warn!("some answers did not get their final edit in time");
    }
    shards.close().await;
    tracing::info!("Discord adapter stopped");
}

async fn register_commands(
    http: &twilight_http::Client,
    application_id: Id<ApplicationMarker>,
    guild: Option<Id<GuildMarker>>,
) -> Result<(), BotError> {
    let commands = crate::commands::all_commands();
    let client = http.interaction(application_id);
    let result = match guild {
        Some(guild) => client
            .set_guild_commands(guild, &commands)
            .await
            .map(|_| ()),
        None => client.set_global_commands(&commands).await.map(|_| ()),
    };
    result.map_err(|e| BotError::Commands(e.into()))?;
    tracing::info!(
        commands = commands.len(),
        guild = guild.map(Id::get),
        "slash commands registered"
    );
    Ok(())
}
