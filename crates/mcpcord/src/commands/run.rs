//! `mcpcord run`: the Discord bot in the foreground, until SIGINT or SIGTERM.
//!
//! The signal handlers are installed first, so a signal during start-up (database, MCP servers)
//! stops what had started and exits 0; a second SIGINT exits at once with 130.
//!
//! Shutdown order: the adapter stops taking turns, lets running ones finish for
//! `discord.shutdown_grace` (marking any it cuts as interrupted, in Discord and in the
//! database) and closes the shards; then the MCP servers stop and the database closes; exit 0.

use std::collections::HashSet;

use mcpcord_discord::bot::Intents;
use mcpcord_discord::middleware::{AdminPolicy, UserRateLimit};
use mcpcord_discord::triggers::Audience;
use mcpcord_discord::{BotConfig, RestProxy};
use tokio_util::sync::CancellationToken;
use twilight_model::id::Id;

use super::Failure;
use crate::admin::Operations;
use crate::app::App;
use crate::config::Config;

/// Checks what `run` needs, then runs the bot.
pub fn run(config: &Config) -> Result<(), Failure> {
    if config.discord.token.is_none() {
        return Err(Failure::Usage(
            "discord.token is not set: set the DISCORD_TOKEN environment variable, or better \
             `token_file` under [discord] in mcpcord.toml (DISCORD_TOKEN_FILE), a file only the \
             bot can read. The token is on the Bot page of your application in the Discord \
             Developer Portal."
                .into(),
        ));
    }
    super::block_on(serve(config))
}

async fn serve(config: &Config) -> Result<(), Failure> {
    // First of all, so a signal during start-up (database, MCP servers) still cleans up.
    let stop = CancellationToken::new();
    listen_for_signals(stop.clone()).map_err(|error| {
        Failure::Runtime(anyhow::Error::new(error).context("cannot listen for signals"))
    })?;
    let bot = bot_config(config)?;
    let Some(app) = App::start_until(config, &stop)
        .await
        .map_err(Failure::Runtime)?
    else {
        tracing::info!("stopped during start-up");
        return Ok(());
    };
    // Health, metrics and status (admin.listen), and the resource line.
    let operations = match Operations::start(config, &app.engine, bot.status.clone()).await {
        Ok(operations) => operations,
        Err(error) => {
            app.stop(config.discord.shutdown_grace).await;
            return Err(Failure::Runtime(error));
        }
    };
    let result = mcpcord_discord::run(bot, app.engine.clone(), stop.cancelled_owned()).await;
    operations.stop().await;
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
    bot.global_rate_limit = discord.global_rate_limit;
    Ok(bot)
}

fn ids(list: &[std::num::NonZeroU64]) -> HashSet<u64> {
    list.iter().map(|id| id.get()).collect()
}

/// Exit code after a second SIGINT: 128 + SIGINT, what shells report for Ctrl-C.
const FORCED_EXIT: i32 = 130;

/// Installs the SIGINT and SIGTERM handlers now and watches them: the first of either cancels
/// `stop` (a clean shutdown: answers finish, MCP servers stop, exit 0); a second SIGINT while
/// that runs exits at once with code 130 (MCP children die with the bot: PR_SET_PDEATHSIG).
fn listen_for_signals(stop: CancellationToken) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Created here, not in the task: the handlers are in place when this returns.
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("SIGINT: shutting down (again to exit at once)"),
                _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
            }
            stop.cancel();
            if interrupt.recv().await.is_some() {
                eprintln!("mcpcord: second SIGINT: exiting at once");
                std::process::exit(FORCED_EXIT);
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C: shutting down (again to exit at once)");
            stop.cancel();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(FORCED_EXIT);
        }
    });
    Ok(())
}
