//! `mcpcord run`: the Discord bot in the foreground, until SIGINT or SIGTERM.
//!
//! Shutdown order: the adapter stops taking turns, lets running ones finish for
//! `discord.shutdown_grace` (marking any it cuts as interrupted, in Discord and in the
//! database) and closes the shards; then the MCP servers stop and the database closes; exit 0.

use std::collections::HashSet;

use mcpcord_discord::bot::Intents;
use mcpcord_discord::middleware::{AdminPolicy, UserRateLimit};
use mcpcord_discord::triggers::Audience;
use mcpcord_discord::{BotConfig, RestProxy};
use twilight_model::id::Id;

use super::Failure;
use crate::app::App;
use crate::config::Config;

/// Checks what `run` needs, then runs the bot.
pub fn run(config: &Config) -> Result<(), Failure> {
    if config.discord.token.is_none() {
        return Err(Failure::Usage(
            "discord.token is not set: set the DISCORD_TOKEN environment variable (or `token` under \
             [discord] in mcpcord.toml). The token is on the Bot page of your application in the \
             Discord Developer Portal."
                .into(),
        ));
    }
    super::block_on(serve(config))
}

async fn serve(config: &Config) -> Result<(), Failure> {
    let bot = bot_config(config)?;
    if let Some(listen) = config.admin.listen {
        // Accepted so configurations stay valid, but nothing serves it yet: say so plainly.
        tracing::warn!(%listen, "admin.listen is set, but the health and metrics endpoint is not built yet; nothing listens there");
    }
    let app = App::start(config).await.map_err(Failure::Runtime)?;
    let result = mcpcord_discord::run(bot, app.engine.clone(), shutdown_signal()).await;
    // The adapter drained the turns already; this stops the MCP servers and the database.
    app.stop(config.discord.shutdown_grace).await;
    result.map_err(|e| Failure::Runtime(anyhow::Error::new(e)))?;
    tracing::info!("stopped");
    Ok(())
}

/// The adapter's configuration from ours.
pub fn bot_config(config: &Config) -> Result<BotConfig, Failure> {
    let discord = &config.discord;
    let token = discord
        .token
        .as_ref()
        .map(|t| t.expose().to_string())
        .unwrap_or_default();
    let mut bot = BotConfig::new(token);
    bot.application_id = discord.application_id.map(|id| Id::new(id.get()));
    bot.intents = Intents::from_bits_truncate(discord.intents.iter().map(|i| i.bits()).sum());
    bot.rest_proxy =
        match &discord.api_base_url {
            Some(url) => Some(RestProxy::from_url(url).ok_or_else(|| {
                Failure::Usage(format!("discord.api_base_url {url} names no host"))
            })?),
            None => None,
        };
    // twilight appends `/?v=10…`: the URL goes without its trailing slash.
    bot.gateway_url = discord
        .gateway_url
        .as_ref()
        .map(|u| u.as_str().trim_end_matches('/').to_owned());
    bot.command_guild = discord.command_guild_id.map(|id| Id::new(id.get()));
    bot.shard_count = discord.shards;
    bot.always_answer_channels = discord
        .always_answer_channels
        .iter()
        .map(|c| c.get())
        .collect();
    let permissions = &config.permissions;
    bot.audience = Audience {
        allowed_guilds: ids(&permissions.allowed_guilds),
        allow_dms: permissions.allow_dms,
        blocked_users: ids(&permissions.blocked_users),
    };
    bot.admins = AdminPolicy {
        users: permissions
            .admin_users
            .iter()
            .map(|u| Id::new(u.get()))
            .collect(),
        roles: permissions
            .admin_roles
            .iter()
            .map(|r| Id::new(r.get()))
            .collect(),
        server_managers: true,
    };
    bot.command_rate = UserRateLimit::default();
    bot.messages_per_minute = config.limits.user_messages_per_minute;
    bot.max_attachment_bytes = config.limits.max_attachment_bytes;
    bot.open_turns_per_user = config.limits.open_turns_per_user.get() as usize;
    bot.allowed_models = config
        .models
        .allowed
        .as_ref()
        .map(|names| names.iter().cloned().collect());
    bot.grace = discord.shutdown_grace;
    Ok(bot)
}

fn ids(list: &[std::num::NonZeroU64]) -> HashSet<u64> {
    list.iter().map(|id| id.get()).collect()
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
