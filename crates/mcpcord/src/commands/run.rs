//! `mcpcord run`: the Discord bot, until SIGINT or SIGTERM; SIGHUP reloads the configuration
//! ([`crate::reload`]); SIGUSR1 has the MCP servers read the stored logins again.
//!
//! Before anything else the PID file is locked (a second bot with the same file refuses to
//! start); `--daemon` then detaches ([`crate::service::daemon`]) and the pid is written. The
//! signal handlers are installed next, so a signal during start-up (database, MCP servers)
//! stops what had started and exits 0; a second SIGINT exits at once with 130. `--user` /
//! `--group` take effect once the database is open, before any MCP server starts. Under
//! systemd the service manager hears READY once the gateway is ready, STOPPING when shutdown
//! begins, and WATCHDOG pings ([`crate::service::notify`]).
//!
//! Shutdown order: the adapter stops taking turns, lets running ones finish for
//! `discord.shutdown_grace` (marking any it cuts as interrupted, in Discord and in the
//! database) and closes the shards; then the MCP servers stop and the database closes; exit 0.

use std::collections::HashSet;

use mcpcord_discord::bot::Intents;
use mcpcord_discord::middleware::{AdminPolicy, UserRateLimit};
use mcpcord_discord::roles::{BotRole, Roles};
use mcpcord_discord::triggers::Audience;
use mcpcord_discord::{BotConfig, Hooks, RestProxy};
use mcpcord_engine::Allowed;
use tokio::sync::watch;
use twilight_model::id::Id;

use super::Failure;
use crate::admin::Operations;
use crate::app::App;
use crate::cli::RunArgs;
use crate::config::{Config, Env, RoleConfig, Source};
use crate::lifecycle::Lifecycle;
use crate::reload::Reloader;
use crate::service::pidfile::{self, PidFile};
use crate::service::{self, daemon, notify};

/// Checks what `run` needs, takes the PID file (detaching first with `--daemon`), then runs the
/// bot.
pub fn run(config: &Config, source: &Source, env: Env, args: &RunArgs) -> Result<(), Failure> {
    if config.discord.token.is_none() {
        return Err(Failure::Usage(
            "discord.token is not set: set the DISCORD_TOKEN environment variable, or better \
             `token_file` under [discord] in mcpcord.toml (DISCORD_TOKEN_FILE), a file only the \
             bot can read. The token is on the Bot page of your application in the Discord \
             Developer Portal."
                .into(),
        ));
    }
    let bot = bot_config(config)?;
    let data_dir = &config.storage.data_dir;
    let pid_path = service::path_or_default(args.pid_file.as_deref(), data_dir, service::PID_FILE);
    let mut pid_file = PidFile::lock(&pid_path).map_err(|e| Failure::Runtime(e.into()))?;
    let detached = if args.daemon {
        let log = service::path_or_default(args.log_file.as_deref(), data_dir, service::LOG_FILE);
        Some(daemon::detach(&log).map_err(Failure::Runtime)?)
    } else {
        None
    };
    // From now on `reload` and `mcp login` may signal the pid: harmless until handled.
    pidfile::ignore_sent_signals().map_err(|e| Failure::Runtime(e.into()))?;
    pid_file
        .write_pid()
        .map_err(|e| Failure::Runtime(e.into()))?;
    if let Some(detached) = detached {
        detached.started();
    }
    let reloads = Reloads {
        source: source.clone(),
        env,
    };
    let result = super::block_on(serve(config, bot, reloads, args));
    drop(pid_file);
    result
}

/// Where a reload reads the configuration from.
struct Reloads {
    source: Source,
    env: Env,
}

async fn serve(
    config: &Config,
    bot: BotConfig,
    reloads: Reloads,
    args: &RunArgs,
) -> Result<(), Failure> {
    // The one cancellation tree; every part below gets a child of its root.
    let life = Lifecycle::new();
    let result = serve_in(&life, config, bot, reloads, args).await;
    // Whatever still runs (the watchdog, a part that failed half-way) stops with the root.
    life.end();
    result
}

/// [`serve`] within `life`.
async fn serve_in(
    life: &Lifecycle,
    config: &Config,
    bot: BotConfig,
    reloads: Reloads,
    args: &RunArgs,
) -> Result<(), Failure> {
    // First of all, so a signal during start-up (database, MCP servers) still cleans up.
    let Signals { hangups, logins } = listen_for_signals(life.clone()).map_err(|error| {
        Failure::Runtime(anyhow::Error::new(error).context("cannot listen for signals"))
    })?;
    // Pinged until the process ends, shutdown included.
    notify::spawn_watchdog(life.child());
    let (user, group) = (args.user.clone(), args.group.clone());
    let drop_privileges = move || daemon::drop_privileges(user.as_deref(), group.as_deref());
    let Some(app) = App::start_as(config, life, drop_privileges)
        .await
        .map_err(Failure::Runtime)?
    else {
        tracing::info!("stopped during start-up");
        return Ok(());
    };
    // Health, metrics and status (admin.listen), and the resource line.
    let started = Operations::start(config, &app.engine, bot.status.clone(), life.root()).await;
    let operations = match started {
        Ok(operations) => operations,
        Err(error) => {
            app.stop(config.discord.shutdown_grace).await;
            return Err(Failure::Runtime(error));
        }
    };
    let (updates, receiver) = watch::channel(bot.clone());
    let reloader = Reloader::new(
        reloads.source,
        reloads.env,
        config.clone(),
        app.engine.clone(),
        updates,
    );
    let reloading = spawn_reloads(hangups, reloader);
    let rereading = spawn_login_rereads(logins, app.engine.clone());
    let hooks = Hooks {
        ready: Some(Box::new(notify::ready)),
        updates: Some(receiver),
        parent: life.root().clone(),
    };
    let stopping = life.stopping().clone();
    let shutdown = async move {
        stopping.cancelled().await;
        notify::stopping();
    };
    let result = mcpcord_discord::run_with(bot, app.engine.clone(), shutdown, hooks).await;
    notify::stopping();
    reloading.abort();
    rereading.abort();
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
    bot.shard_ids = discord.shard_ids.map(|range| range.first..=range.last);
    bot.always_answer_channels = discord
        .always_answer_channels
        .iter()
        .map(|c| c.get())
        .collect();
    bot.admin_channel = discord.admin_channel.map(|id| Id::new(id.get()));
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
    bot.roles = Roles {
        roles: permissions.roles.iter().map(bot_role).collect(),
        default: bot_role(&permissions.default_role),
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

/// The adapter's form of a configured bot role.
fn bot_role(role: &RoleConfig) -> BotRole {
    let allowed = |list: &Option<Vec<String>>| match list {
        Some(globs) => Allowed::Only(globs.clone()),
        None => Allowed::All,
    };
    BotRole {
        name: role.name.clone(),
        discord_roles: role
            .discord_roles
            .iter()
            .map(|r| Id::new(r.get()))
            .collect(),
        users: role.users.iter().map(|u| Id::new(u.get())).collect(),
        commands: allowed(&role.commands),
        tools: allowed(&role.tools),
        models: role.models.clone().map(Allowed::Only),
        approve_for_others: role.approve_for_others,
    }
}

fn ids(list: &[std::num::NonZeroU64]) -> HashSet<u64> {
    list.iter().map(|id| id.get()).collect()
}

/// Exit code after a second SIGINT: 128 + SIGINT, what shells report for Ctrl-C.
const FORCED_EXIT: i32 = 130;

/// The signals caught from start-up on and handled once the bot runs (the default action of
/// either would end the process).
struct Signals {
    /// SIGHUP: reload the configuration.
    hangups: tokio::signal::unix::Signal,
    /// SIGUSR1: the stored MCP logins changed (`mcpcord mcp login` / `logout` send it).
    logins: tokio::signal::unix::Signal,
}

/// Reloads the configuration on every SIGHUP (one at a time; several arriving during one
/// reload make one more).
fn spawn_reloads(
    mut hangups: tokio::signal::unix::Signal,
    mut reloader: Reloader,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the configuration");
            notify::reloading();
            let status = match reloader.reload().await {
                crate::reload::Outcome::Applied => "configuration reloaded".to_owned(),
                crate::reload::Outcome::Refused(problems) => {
                    format!("reload refused ({problems} problems): the previous configuration runs")
                }
            };
            notify::reloaded(&status);
        }
    })
}

/// On every SIGUSR1 the MCP servers read the stored logins again: one waiting for a login
/// starts at once instead of at its next check (`mcpcord mcp login` sends it after storing a
/// login, `logout` after deleting one). Unlike SIGHUP it applies nothing else, so a login never
/// brings in other edits made to the configuration file meanwhile.
fn spawn_login_rereads(
    mut logins: tokio::signal::unix::Signal,
    engine: mcpcord_engine::Engine,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while logins.recv().await.is_some() {
            tracing::info!("SIGUSR1: the MCP servers read the stored logins again");
            if let Some(host) = engine.tools() {
                host.logins_changed().await;
            }
        }
    })
}

/// Installs the SIGINT, SIGTERM, SIGHUP and SIGUSR1 handlers now and watches the first two: the
/// first of either asks `life` to stop (a clean shutdown: answers finish, MCP servers stop, exit
/// 0); a second SIGINT while that runs exits at once with code 130 (MCP children die with the
/// bot: PR_SET_PDEATHSIG). SIGHUPs and SIGUSR1s are returned, for once the bot runs.
fn listen_for_signals(life: Lifecycle) -> std::io::Result<Signals> {
    use tokio::signal::unix::{SignalKind, signal};
    let hangups = signal(SignalKind::hangup())?;
    let logins = signal(SignalKind::user_defined1())?;
    {
        // Created here, not in the task: the handlers are in place when this returns.
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("SIGINT: shutting down (again to exit at once)"),
                _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
            }
            life.request_stop();
            if interrupt.recv().await.is_some() {
                eprintln!("mcpcord: second SIGINT: exiting at once");
                std::process::exit(FORCED_EXIT);
            }
        });
    }
    Ok(Signals { hangups, logins })
}
