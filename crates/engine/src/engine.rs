//! The engine: takes turn requests, runs each as its own task, one at a time per conversation,
//! and drains on shutdown.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use mcpcord_llm::BackendPool;
use mcpcord_mcp::McpHost;
use mcpcord_memory::vectors::VectorIndex;
use mcpcord_memory::{
    ChannelId, ConversationId, ConversationKey, GuildId, MessageId, Store, UserId,
};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::budget::{BudgetConfig, UsageBook};
use crate::context::TokenEstimator;
use crate::error::EngineError;
use crate::events::TurnEvent;
use crate::memory::{MemoryConfig, index_for};
use crate::policy::{ContentPolicy, Direction};
use crate::request::TurnRequest;
use crate::slot::Slot;
use crate::turn;

/// How long [`Engine::model_names`] answers from its cache.
pub const MODEL_NAMES_TTL: Duration = Duration::from_secs(30);

/// Events buffered per turn before the turn waits for its front end.
const EVENT_BUFFER: usize = 256;

/// How the engine behaves.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The model used when nobody chose another.
    pub default_model: String,
    /// The model turns with images go to when the chosen one cannot see.
    pub vision_model: Option<String>,
    /// The system prompt template.
    pub system_prompt: String,
    /// Model ↔ tool rounds in one turn.
    pub max_tool_rounds: u32,
    /// Longest a whole turn may take before it is stopped.
    pub turn_timeout: Duration,
    /// Turns running at once across all conversations.
    pub max_concurrent_turns: usize,
    /// Tokens kept free for the answer when fitting the history.
    pub reserved_answer_tokens: u32,
    /// The context length assumed when the backend does not report one.
    pub fallback_context_length: u32,
    /// The largest context asked for, whatever the model supports.
    pub max_context: u32,
    /// Most history messages read for one turn.
    pub history_limit: u32,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// How long Ollama keeps the model loaded.
    pub keep_alive: Option<Duration>,
    /// Long-term memory: the embedding model, the background indexer, recall.
    pub memory: MemoryConfig,
    /// The content policy, compiled (a reload compiles the new one before swapping it in).
    pub policy: ContentPolicy,
    /// Token budgets per person and guild per day, and the longest answer.
    pub budgets: BudgetConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            default_model: "llama3.2".into(),
            vision_model: None,
            system_prompt: "You are a helpful assistant talking with {user}. Today is {date}."
                .into(),
            max_tool_rounds: 8,
            turn_timeout: Duration::from_secs(600),
            max_concurrent_turns: 16,
            reserved_answer_tokens: 1024,
            fallback_context_length: 8192,
            max_context: 32_768,
            history_limit: 400,
            temperature: None,
            keep_alive: None,
            memory: MemoryConfig::default(),
            policy: ContentPolicy::default(),
            budgets: BudgetConfig::default(),
        }
    }
}

/// The conversation engine. Cheap to clone; every clone drives the same engine.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

/// Whose "Always" it is: a conversation and a person.
pub(crate) type AlwaysKey = (ConversationId, Option<UserId>);

/// What every turn shares.
pub(crate) struct Inner {
    pub(crate) pool: BackendPool,
    pub(crate) tools: Option<McpHost>,
    pub(crate) store: Store,
    /// The live settings: read when a turn starts (the turn keeps that copy to its end) and
    /// swapped whole by [`Engine::reconfigure`].
    pub(crate) config: ArcSwap<EngineConfig>,
    /// The turn slots `turns` was last sized for (`max_concurrent_turns`).
    turn_slots: Mutex<usize>,
    pub(crate) estimator: TokenEstimator,
    /// Tools a person allowed for the rest of a conversation ("Always in this conversation"):
    /// by conversation and person, `server/tool`. Another person's turn in the same
    /// conversation is asked again.
    pub(crate) always_allowed: Mutex<HashMap<AlwaysKey, HashSet<String>>>,
    conversations: crate::locks::ConversationLocks,
    /// [`Engine::model_names`]' last answer, and when it was asked.
    model_names: Mutex<Option<(Instant, Vec<String>)>>,
    turns: Arc<Semaphore>,
    tracker: TaskTracker,
    accepting: AtomicBool,
    /// Set when the drain begun by the first [`Engine::shutdown`] has ended.
    drained: tokio::sync::OnceCell<()>,
    /// Cancelled when the engine gives up on running turns at the end of a drain.
    stop_all: CancellationToken,
    /// The in-process vector index of the embedding model's vectors (none without one).
    pub(crate) vectors: Option<Arc<VectorIndex>>,
    /// The background indexer's task, while it runs.
    pub(crate) indexer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Cancelled to stop the background indexer (at shutdown).
    pub(crate) indexer_stop: CancellationToken,
    /// The background summariser's task, wake-up and spending (see `summariser.rs`).
    pub(crate) background: crate::summariser::Background,
    /// The audit log's queue and writer (see `audit.rs`).
    pub(crate) audit: crate::audit::AuditQueue,
    /// Today's token counts, per person and guild (see `budget.rs`).
    pub(crate) usage: Arc<UsageBook>,
    /// The time budgets are counted in ([`Engine::set_clock`]).
    clock: RwLock<Clock>,
    /// The moderation model's recent verdicts (a front end's check and its turn ask once).
    pub(crate) verdicts: crate::policy::moderation::VerdictMemo,
}

/// A source of the current time.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

impl Inner {
    /// Whether any turn is running or waiting for its turn.
    pub(crate) fn turns_active(&self) -> bool {
        !self.tracker.is_empty()
    }

    /// The time now, by the engine's clock.
    pub(crate) fn now(&self) -> SystemTime {
        let clock = self.clock.read().unwrap_or_else(|e| e.into_inner()).clone();
        clock()
    }
}

/// A running turn: its events, and a way to stop it.
pub struct Turn {
    /// Identifies the turn in logs.
    pub id: String,
    events: mpsc::Receiver<TurnEvent>,
    cancel: CancellationToken,
}

impl Turn {
    /// The next event; `None` after `Done` or `Failed`.
    pub async fn next(&mut self) -> Option<TurnEvent> {
        self.events.recv().await
    }

    /// The next event if one is already waiting, without waiting for one: a front end drains
    /// what has arrived before redrawing, so an answer that streamed in at once is drawn once.
    pub fn next_ready(&mut self) -> Option<TurnEvent> {
        self.events.try_recv().ok()
    }

    /// Stops the turn: the stream and tool calls end, what was said is kept.
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// A token that stops this turn when cancelled (for a Stop button).
    pub fn stopper(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

impl Engine {
    /// An engine over a backend pool, optional MCP tools, and a store.
    pub fn new(
        pool: BackendPool,
        tools: Option<McpHost>,
        store: Store,
        config: EngineConfig,
    ) -> Self {
        Self::new_under(pool, tools, store, config, &CancellationToken::new())
    }

    /// [`Engine::new`], as a part of a larger process: the engine's tokens (the one every turn
    /// is a child of, the indexer's) are children of `parent`, so cancelling `parent` stops
    /// every turn and the indexer at once. The orderly stop is [`Engine::shutdown`].
    pub fn new_under(
        pool: BackendPool,
        tools: Option<McpHost>,
        store: Store,
        config: EngineConfig,
        parent: &CancellationToken,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                turns: Arc::new(Semaphore::new(config.max_concurrent_turns.max(1))),
                turn_slots: Mutex::new(config.max_concurrent_turns.max(1)),
                pool,
                tools,
                store,
                estimator: TokenEstimator::default(),
                always_allowed: Mutex::new(HashMap::new()),
                conversations: crate::locks::ConversationLocks::new(),
                model_names: Mutex::new(None),
                tracker: TaskTracker::new(),
                accepting: AtomicBool::new(true),
                drained: tokio::sync::OnceCell::new(),
                stop_all: parent.child_token(),
                vectors: index_for(&config),
                indexer: Mutex::new(None),
                indexer_stop: parent.child_token(),
                background: crate::summariser::Background::new(parent.child_token()),
                usage: Arc::default(),
                clock: RwLock::new(Arc::new(SystemTime::now)),
                audit: crate::audit::AuditQueue::default(),
                verdicts: crate::policy::moderation::VerdictMemo::default(),
                config: ArcSwap::from_pointee(config),
            }),
        }
    }

    /// Replaces the clock token budgets are counted by (the system clock by default): for
    /// tests and simulations that need tomorrow without waiting for it.
    pub fn set_clock(&self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) {
        *self.inner.clock.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(clock);
    }

    /// The time now, by the engine's clock ([`Engine::set_clock`]).
    pub fn now(&self) -> SystemTime {
        self.inner.now()
    }

    /// The engine a turn's shared state belongs to.
    pub(crate) fn from_inner(inner: Arc<Inner>) -> Self {
        Self { inner }
    }

    /// The store, for front ends (preferences, `/new`).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The backend pool, for front ends (model lists).
    pub fn pool(&self) -> &BackendPool {
        &self.inner.pool
    }

    /// The MCP host, if tools are configured.
    pub fn tools(&self) -> Option<&McpHost> {
        self.inner.tools.as_ref()
    }

    /// The names of the models the backends offer, sorted, without repeats; asked of the
    /// backends at most every [`MODEL_NAMES_TTL`] (autocomplete asks on every keystroke).
    pub async fn model_names(&self) -> Vec<String> {
        let cached = self
            .inner
            .model_names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(at, _)| at.elapsed() < MODEL_NAMES_TTL)
            .map(|(_, names)| names.clone());
        if let Some(names) = cached {
            return names;
        }
        let mut names: Vec<String> = self
            .inner
            .pool
            .list_models()
            .await
            .into_iter()
            .filter_map(|b| b.models.ok())
            .flatten()
            .map(|m| m.name)
            .collect();
        names.sort();
        names.dedup();
        *self
            .inner
            .model_names
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), names.clone()));
        names
    }

    /// The latest answer of the conversation `key`, if it has one: what a Regenerate or
    /// Continue may act on (a front end checks before it starts one, to say why not).
    pub async fn latest_answer(
        &self,
        key: &ConversationKey,
    ) -> Result<Option<MessageId>, EngineError> {
        let store = &self.inner.store;
        let Some(conversation) = store.find_conversation(key).await? else {
            return Ok(None);
        };
        let history = store
            .history(
                conversation.id,
                self.inner.config.load().history_limit as usize,
            )
            .await?;
        Ok(crate::turn::last_answer(&history).map(|m| m.id))
    }

    /// The settings in force now (a reload may replace them; a running turn keeps its own).
    pub fn config(&self) -> Arc<EngineConfig> {
        self.inner.config.load_full()
    }

    /// Replaces the settings (a configuration reload): the next turn uses `config`; running
    /// turns finish with the settings they started with. A change of `max_concurrent_turns`
    /// resizes the turn slots (a smaller number takes effect as running turns end).
    pub fn reconfigure(&self, config: EngineConfig) {
        self.resize_turn_slots(config.max_concurrent_turns.max(1));
        self.inner.config.store(Arc::new(config));
        self.inner
            .model_names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    fn resize_turn_slots(&self, wanted: usize) {
        let mut slots = self
            .inner
            .turn_slots
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if wanted > *slots {
            self.inner.turns.add_permits(wanted - *slots);
        } else if wanted < *slots {
            let surplus = *slots - wanted;
            let forgotten = self.inner.turns.forget_permits(surplus);
            if forgotten < surplus {
                // The rest are held by running turns: take them as those turns end.
                let turns = self.inner.turns.clone();
                let rest = u32::try_from(surplus - forgotten).unwrap_or(u32::MAX);
                tokio::spawn(async move {
                    if let Ok(permits) = turns.acquire_many_owned(rest).await {
                        permits.forget();
                    }
                });
            }
        }
        *slots = wanted;
    }

    /// Starts a turn. Turns of one conversation run one at a time, in the order started; turns
    /// of different conversations run concurrently, up to `max_concurrent_turns`.
    pub fn start_turn(&self, request: TurnRequest) -> Turn {
        let (sender, events) = mpsc::channel(EVENT_BUFFER);
        let cancel = self.inner.stop_all.child_token();
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let turn = Turn {
            id: id.clone(),
            events,
            cancel: cancel.clone(),
        };
        if !self.inner.accepting.load(Ordering::SeqCst) {
            let _ = sender.try_send(TurnEvent::Failed(EngineError::ShuttingDown));
            return turn;
        }
        let requested = Instant::now();
        crate::telemetry::latency_mark("start_turn", request.key.as_str());
        let lock = self.conversation_lock(request.key.as_str());
        let inner = self.inner.clone();
        let span = tracing::info_span!(
            "turn",
            turn = %id,
            conversation = %request.key.as_str(),
            user = request.author.id.map(UserId::get),
            guild = request.scope.guild_id.map(GuildId::get),
            channel = request.scope.channel_id.map(ChannelId::get),
            model = tracing::field::Empty,
        );
        self.inner.tracker.spawn(tracing::Instrument::instrument(
            async move {
                // Wait in line: first for this conversation (here, then in every process
                // sharing the database), then for a turn slot.
                let _order = lock.lock_owned().await;
                let _across = inner.store.conversation_lock(&request.key).await.map_err(
                    |error| tracing::warn!(%error, "cannot take the conversation's lock; running the turn without it"),
                );
                crate::telemetry::latency_mark("locked", request.key.as_str());
                let slot = Slot::acquire(inner.turns.clone()).await;
                let facts = crate::telemetry::TurnFacts::new(requested, &request);
                turn::run(inner, request, sender, cancel, slot, facts).await;
            },
            span,
        ));
        // After the spawn: a background call that checked for turns before it still hears.
        self.inner.background.turn_started();
        turn
    }

    /// Checks a new message against the input rules and moderation model of its place, for a
    /// front end that wants to refuse it in its own way before starting a turn (an ephemeral
    /// reply, no thread opened): [`EngineError::ContentRefused`] (recorded) when a block rule or
    /// an `unsafe` verdict refuses it, [`EngineError::ModerationUnavailable`] when the model
    /// gave no verdict and the place fails closed. The turn remembers the verdict. Redact and warn
    /// rules act in the turn, which also checks again whoever started it.
    pub async fn check_input(&self, request: &TurnRequest) -> Result<(), EngineError> {
        let place = self
            .inner
            .config
            .load()
            .policy
            .place(request.scope.guild_id);
        let Some(hit) = crate::turn::refusal(&self.inner, &place, request).await else {
            return Ok(());
        };
        let subject = crate::policy::audit::Subject::of(request);
        crate::policy::audit::record(&self.inner, &subject, Direction::Input, &hit).await;
        Err(crate::turn::refused(&hit))
    }

    /// Everything the engine runs, now: turns, backends, MCP servers, the database pool. No
    /// request is made; for status pages, metrics and resource log lines.
    pub fn status(&self) -> crate::telemetry::EngineStatus {
        let inner = &self.inner;
        let max = inner.config.load().max_concurrent_turns.max(1);
        let running = max.saturating_sub(inner.turns.available_permits());
        crate::telemetry::EngineStatus {
            accepting: self.accepting(),
            turns_in_flight: running,
            turns_queued: inner.tracker.len().saturating_sub(running),
            max_concurrent_turns: max,
            backends: inner.pool.loads(),
            mcp_servers: inner
                .tools
                .as_ref()
                .map(McpHost::status)
                .unwrap_or_default(),
            db_pool: inner.store.pool_stats(),
        }
    }

    /// Whether the database answers within `timeout` (readiness checks); the error says why
    /// not.
    pub async fn database_reachable(&self, timeout: Duration) -> Result<(), EngineError> {
        Ok(self.inner.store.ping(timeout).await?)
    }

    /// Whether the engine takes new turns: the one answer to "are we shutting down?" for every
    /// front end.
    pub fn accepting(&self) -> bool {
        self.inner.accepting.load(Ordering::SeqCst)
    }

    /// Stops taking turns, lets running ones finish for up to `grace`, then stops the rest
    /// (they are saved as interrupted) and waits for them, then writes the queued audit
    /// entries. The engine stops once: a later call
    /// (from the front end, then the application) waits for the first one's drain to end.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.drained.get_or_init(|| self.drain(grace)).await;
    }

    async fn drain(&self, grace: Duration) {
        self.inner.accepting.store(false, Ordering::SeqCst);
        self.stop_indexer().await;
        self.stop_summariser().await;
        self.inner.tracker.close();
        if tokio::time::timeout(grace, self.inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                ?grace,
                "turns still running after the grace period; stopping them"
            );
            self.inner.stop_all.cancel();
            self.inner.tracker.wait().await;
        }
        // Turns are over: what they (and the front ends) recorded is written before we return.
        self.inner.audit.close().await;
    }

    /// The in-process lock of the conversation under `key`, which its turns run under.
    pub(crate) fn conversation_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.inner.conversations.of(key)
    }
}
