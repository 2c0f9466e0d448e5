//! Live reload (SIGHUP, `mcpcord reload`): the configuration is read and validated again from
//! the same source and the environment the bot started with; on any problem every one is
//! logged and the running configuration stays. Otherwise it changes in place:
//!
//! - the engine's settings (models, system prompt, limits), read by each turn as it starts
//!   (a running turn keeps what it started with);
//! - the backends (the pool keeps unchanged ones with their state);
//! - the MCP servers: added, removed, or restarted only when their definition changed;
//! - retention rules (the audit log's too);
//! - the Discord adapter's permissions and limits (who is served, admins, rates, the models
//!   people may pick, always-answer channels).
//!
//! What a running process cannot change (the token, intents, gateway and REST URLs, shards,
//! the database, the data folder, logging, the admin address) is logged as needing a restart.
//! Every reload, applied or rejected, is recorded in the audit log.
//! The environment is the start-up snapshot: a process's environment cannot be changed from
//! outside anyway, and the secrets in it were wiped from the live block after start-up.

use mcpcord_discord::BotConfig;
use mcpcord_engine::{AuditEntry, Engine};
use serde_json::json;
use tokio::sync::watch;

use crate::app;
use crate::config::{Config, Env, Source};
use crate::wiring;

/// Applies reloaded configurations to the running parts.
pub struct Reloader {
    source: Source,
    env: Env,
    current: Config,
    engine: Engine,
    bot: watch::Sender<BotConfig>,
}

/// How a reload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The new configuration is in force.
    Applied,
    /// It was invalid (each problem logged): the running one stays.
    Refused(usize),
}

impl Reloader {
    /// A reloader for a bot started with `current`, read from `source` with `env`; Discord
    /// settings go out on `bot`.
    pub fn new(
        source: Source,
        env: Env,
        current: Config,
        engine: Engine,
        bot: watch::Sender<BotConfig>,
    ) -> Self {
        Self {
            source,
            env,
            current,
            engine,
            bot,
        }
    }

    /// Reads, validates and applies the configuration (see the module docs).
    pub async fn reload(&mut self) -> Outcome {
        tracing::info!(source = %self.source.describe(), "reloading the configuration");
        let new = match Config::load(&self.source, &self.env) {
            Ok(new) => new,
            Err(invalid) => {
                for error in &invalid.errors {
                    tracing::error!(problem = %error, "invalid configuration");
                }
                tracing::error!(
                    problems = invalid.errors.len(),
                    "the configuration was not reloaded: the running one stays"
                );
                self.audit("rejected", json!({ "problems": invalid.errors.len() }));
                return Outcome::Refused(invalid.errors.len());
            }
        };
        // Before anything is applied: a log line about the new configuration keeps its
        // secrets out too.
        crate::logging::learn_secrets(&new.secrets());
        let bot = match crate::commands::bot_config(&new) {
            Ok(bot) => bot,
            Err(problem) => {
                tracing::error!(%problem, "the configuration was not reloaded: the running one stays");
                self.audit("rejected", json!({ "problems": 1 }));
                return Outcome::Refused(1);
            }
        };
        self.warn_fixed(&new);
        self.apply(&new, bot).await;
        let fixed = needs_restart(&self.current, &new);
        self.audit("applied", json!({ "needs_restart": fixed }));
        self.current = new;
        tracing::info!("configuration reloaded");
        Outcome::Applied
    }

    async fn apply(&self, new: &Config, bot: BotConfig) {
        self.engine.reconfigure(app::engine_config(new));
        self.engine
            .pool()
            .reconfigure(wiring::backend_specs(new), wiring::pool_options(new));
        if let Some(host) = self.engine.tools() {
            host.reconfigure(wiring::mcp_server_specs(new), wiring::mcp_host_options(new));
        }
        if let Err(error) = app::apply_retention(self.engine.store(), &new.storage).await {
            tracing::warn!(%error, "cannot apply the new retention rules");
        }
        self.bot.send_replace(bot);
    }

    /// Records the reload in the audit log (by the operator: a signal or `mcpcord reload`).
    fn audit(&self, action: &str, detail: serde_json::Value) {
        let detail = match detail {
            serde_json::Value::Object(mut fields) => {
                fields.insert("source".into(), self.source.describe().into());
                serde_json::Value::Object(fields)
            }
            other => other,
        };
        self.engine.audit(AuditEntry::reload(None, action, detail));
    }

    /// Logs each setting that changed but needs a restart.
    fn warn_fixed(&self, new: &Config) {
        for setting in needs_restart(&self.current, new) {
            tracing::warn!(
                setting,
                "changed, but takes effect only when the bot restarts"
            );
        }
    }
}

/// The settings that differ between `old` and `new` and that a running bot cannot change.
pub fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let (a, b) = (&old.discord, &new.discord);
    let same = |x: String, y: String| x == y;
    let checks = [
        (
            "discord.token",
            a.token.as_ref().map(|t| t.expose().to_owned())
                == b.token.as_ref().map(|t| t.expose().to_owned()),
        ),
        ("discord.intents", a.intents == b.intents),
        ("discord.api_base_url", a.api_base_url == b.api_base_url),
        ("discord.gateway_url", a.gateway_url == b.gateway_url),
        (
            "discord.command_guild_id",
            a.command_guild_id == b.command_guild_id,
        ),
        (
            "discord.shards",
            a.shards == b.shards && a.shard_ids == b.shard_ids,
        ),
        (
            "discord.global_rate_limit",
            a.global_rate_limit == b.global_rate_limit,
        ),
        (
            "storage.url",
            old.storage.url.expose() == new.storage.url.expose(),
        ),
        (
            "storage.data_dir",
            old.storage.data_dir == new.storage.data_dir,
        ),
        (
            "logging",
            same(format!("{:?}", old.logging), format!("{:?}", new.logging)),
        ),
        (
            "admin",
            same(format!("{:?}", old.admin), format!("{:?}", new.admin)),
        ),
    ];
    checks
        .into_iter()
        .filter(|(_, unchanged)| !unchanged)
        .map(|(name, _)| name)
        .collect()
}
