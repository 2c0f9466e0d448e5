//! The running application: database, model backends, MCP servers and the engine, built from
//! the configuration, and taken down in order.

use std::time::Duration;

use anyhow::Context as _;
use mcpcord_engine::{BudgetConfig, BudgetLimits, Engine, EngineConfig, MemoryConfig};
use mcpcord_mcp::Callbacks;
use mcpcord_memory::{GuildId, MemoryError, Store};
use tokio_util::sync::CancellationToken;

use crate::config::{BudgetLimitsConfig, BudgetsConfig, Config, StorageConfig};
use crate::lifecycle::Lifecycle;
use crate::wiring;

/// How long running turns get to finish when the application stops.
pub const TURN_GRACE: Duration = Duration::from_secs(30);

/// How often backends' health and model lists are refreshed.
const POOL_REFRESH_EVERY: Duration = Duration::from_secs(60);

/// How often expired conversations are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Every running part.
pub struct App {
    /// The conversation engine (owns the pool, the host and the store).
    pub engine: Engine,
    /// Stops the background tasks (retention sweeper).
    background: CancellationToken,
}

impl App {
    /// Opens the database, starts the MCP servers (waiting up to their start timeout) and
    /// builds the engine.
    pub async fn start(config: &Config) -> anyhow::Result<App> {
        Self::start_as(config, &Lifecycle::new(), || Ok(()))
            .await?
            .ok_or_else(|| anyhow::anyhow!("start-up was cancelled"))
    }

    /// [`App::start`] as a part of `life`: every part's token is a child of its root. Given up
    /// when [`Lifecycle::stopping`] is cancelled (a signal during start-up): whatever had
    /// started is stopped again (MCP servers, database) and the result is `None`. Calls
    /// `opened` once the database is open and before any MCP server starts (the service drops
    /// its privileges there, so servers run unprivileged). The MCP host always exists, with no
    /// servers when none are configured, so that a reload can add some.
    pub async fn start_as(
        config: &Config,
        life: &Lifecycle,
        opened: impl FnOnce() -> anyhow::Result<()>,
    ) -> anyhow::Result<Option<App>> {
        let stop = life.stopping();
        let key = wiring::secret_key(config).map_err(anyhow::Error::msg)?;
        let connect = Store::connect(config.storage.url.expose().as_str());
        let store = tokio::select! {
            store = connect => store
                .with_context(|| format!("cannot open the database at {}", config.storage.url))?,
            () = stop.cancelled() => return Ok(None),
        };
        if let Err(error) = opened() {
            store.close().await;
            return Err(error);
        }
        // A process running part of the shards shares the database with the others: on SQLite
        // it then keeps no preferences or conversations in memory (see `Store::set_shared`).
        store.set_shared(config.discord.shard_ids.is_some());
        apply_retention(&store, &config.storage).await?;
        let background = life.child();
        store.spawn_sweeper(SWEEP_EVERY, background.clone());
        let pool = wiring::backend_pool(config);
        // Model lists and health, refreshed in the background (and after any failure).
        pool.spawn_refresher(POOL_REFRESH_EVERY, background.clone());
        let host = {
            // No authorizer: the bot cannot open a browser, so a server without a usable
            // login needs `mcpcord mcp login NAME`.
            let vault = wiring::credential_vault(key, &store);
            let callbacks = wiring::with_vault(Callbacks::default(), vault);
            let host = wiring::mcp_host(config, callbacks, life.root());
            let wait = config
                .mcp
                .servers
                .iter()
                .map(|s| s.start_timeout)
                .max()
                .unwrap_or_default();
            let ready = tokio::select! {
                ready = host.wait_ready(wait) => ready,
                () = stop.cancelled() => {
                    tracing::info!("stopping during start-up: stopping the MCP servers");
                    background.cancel();
                    host.shutdown().await;
                    store.close().await;
                    return Ok(None);
                }
            };
            if !ready {
                tracing::warn!(
                    "not every MCP server is ready; they keep starting in the background"
                );
            }
            Some(host)
        };
        let engine = Engine::new_under(pool, host, store, engine_config(config), life.root());
        // Embeds new messages in the background (with `models.embedding` set); stopped by the
        // engine's shutdown.
        engine.start_indexer();
        // Writes summaries, titles, categories and entities in the background (`[memory]`
        // summaries = true); stopped by the engine's shutdown.
        engine.start_summariser();
        Ok(Some(App { engine, background }))
    }

    /// Lets running turns finish (up to `grace`), then stops the MCP servers and closes the
    /// database. The engine drains once: when the front end drained it already (the Discord
    /// adapter does, before closing its shards), this waits for that drain instead of starting
    /// another ([`Engine::shutdown`]).
    pub async fn stop(self, grace: Duration) {
        self.background.cancel();
        self.engine.shutdown(grace).await;
        if let Some(host) = self.engine.tools() {
            host.shutdown().await;
        }
        self.engine.store().close().await;
    }
}

/// Gives `store` the configuration's retention rules, as the whole truth: a guild whose rule was
/// removed from the configuration keeps its conversations forever again, and conversations
/// outside any guild, and those of guilds without a rule, are kept as `retention_default` says
/// (forever when unset: with it set, every conversation has a limit), audit-log entries as
/// `audit_retention` says.
pub async fn apply_retention(store: &Store, storage: &StorageConfig) -> Result<(), MemoryError> {
    let rules = storage
        .retention
        .iter()
        .map(|(guild, ttl)| (GuildId::new(guild.get()), *ttl))
        .collect();
    store.replace_retention(&rules).await?;
    store.set_retention_outside_guilds(storage.retention_default);
    store.set_retention_other_guilds(storage.retention_default);
    store.set_audit_retention(Some(storage.audit_retention));
    Ok(())
}

/// The engine's memory settings from `[memory]` and `models.embedding`.
fn memory_config(config: &Config) -> MemoryConfig {
    let memory = &config.memory;
    MemoryConfig {
        embedding_model: config.models.embedding.clone(),
        facts: memory.facts,
        recall: memory.recall,
        recall_snippets: memory.recall_snippets.get() as usize,
        recall_tokens: memory.recall_tokens.get(),
        recall_timeout: memory.recall_timeout,
        min_similarity: memory.min_similarity,
        recency_half_life: memory.recency_half_life,
        related: memory.related,
        related_min_similarity: memory.related_min_similarity,
        index_batch: memory.index_batch.get() as usize,
        index_interval: memory.index_interval,
        summaries: memory.summaries,
        summary_model: config.models.summary.clone(),
        categories: memory.categories.clone(),
        background_concurrency: memory.background_concurrency.get() as usize,
        background_tokens_per_guild_per_day: Some(memory.background_tokens_per_guild_per_day),
        background_interval: memory.background_interval,
    }
}

/// The engine's budgets from `[budgets]` (guilds' own limits are merged with the defaults at
/// validation).
fn budget_config(budgets: &BudgetsConfig) -> BudgetConfig {
    let limits = |l: &BudgetLimitsConfig| BudgetLimits {
        tokens_per_user_per_day: l.tokens_per_user_per_day,
        tokens_per_guild_per_day: l.tokens_per_guild_per_day,
        max_tokens: l.max_tokens,
    };
    BudgetConfig {
        default: limits(&budgets.default),
        guilds: budgets
            .guilds
            .iter()
            .map(|(guild, own)| (GuildId::new(guild.get()), limits(own)))
            .collect(),
    }
}

/// The engine's settings from the configuration.
pub fn engine_config(config: &Config) -> EngineConfig {
    EngineConfig {
        default_model: config.models.default.clone(),
        vision_model: config.models.vision.clone(),
        system_prompt: config.models.system_prompt.clone(),
        max_tool_rounds: config.limits.max_tool_rounds.get(),
        turn_timeout: config.limits.turn_timeout,
        max_concurrent_turns: config.limits.max_concurrent_turns.get() as usize,
        max_context: config.models.max_context.get(),
        temperature: config.models.temperature,
        keep_alive: config.models.keep_alive,
        memory: memory_config(config),
        policy: config.policy.compiled.clone(),
        budgets: budget_config(&config.budgets),
        ..EngineConfig::default()
    }
}
