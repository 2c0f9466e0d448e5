//! From [`RawConfig`] to [`Config`]: check every value, fill in defaults, collect every problem.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64};
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::env::{self, Env};
use super::raw::{
    RawAdmin, RawBackend, RawConfig, RawDiscord, RawId, RawLimits, RawLogging, RawMcpServer,
    RawModels, RawPermissions, RawStorage,
};
use super::report::Report;
use super::secret::Secret;
use super::types::*;

/// Defaults a fresh installation starts from.
pub mod defaults {
    /// Where Ollama listens unless told otherwise.
    pub const OLLAMA_URL: &str = "http://127.0.0.1:11434";
    /// The model used when none is configured.
    pub const MODEL: &str = "llama3.2";
    /// The database: a SQLite file in the working directory, created on first use.
    pub const STORAGE_URL: &str = "sqlite://mcpcord.sqlite?mode=rwc";
    /// The bot's data folder, relative to its working directory (unless systemd's
    /// `STATE_DIRECTORY` names one).
    pub const DATA_DIR: &str = "data";
    /// The system prompt.
    pub const SYSTEM_PROMPT: &str = "You are a helpful assistant in the Discord server {server}, channel #{channel}. \
Today is {date}. You are talking with {user}. Answer concisely; use Markdown.";
}

/// Validates `raw`; `env` supplies API keys named by `api_key_env` and `OLLAMA_HOST`.
pub fn validate(raw: RawConfig, env: &Env, report: &mut Report) -> Option<Config> {
    let discord = discord(raw.discord, env, report);
    let backends = backends(raw.backends, env, report);
    let models = models(raw.models, report);
    let storage = storage(raw.storage, env, report);
    let mcp = McpConfig {
        servers: raw
            .mcp
            .servers
            .into_iter()
            .filter_map(|(name, server)| mcp_server(name, server, &storage.data_dir, report))
            .collect(),
    };
    let logging = logging(raw.logging, report);
    let admin = admin(raw.admin, report);
    let limits = limits(raw.limits, report);
    let permissions = permissions(raw.permissions, report);
    report.is_empty().then_some(Config {
        discord,
        backends,
        models,
        storage,
        mcp,
        logging,
        admin,
        limits,
        permissions,
    })
}

/// Checks a token as pasted: no prefix, no white space inside.
fn token(text: &str, path: &str, report: &mut Report) -> Option<Secret> {
    let token = text.trim().to_string();
    if token.is_empty() {
        report.error(path, "is empty: set DISCORD_TOKEN or remove the key");
        None
    } else if token.starts_with("Bot ") {
        report.error(
            path,
            "starts with \"Bot \": give the token alone, without the prefix",
        );
        None
    } else if token.chars().any(char::is_whitespace) {
        report.error(
            path,
            "contains white space: copy the token again from the Developer Portal",
        );
        None
    } else {
        Some(Secret::new(token))
    }
}

/// The token and the file it came from: `token`, else `token_file` (`DISCORD_TOKEN_FILE`),
/// else systemd's `$CREDENTIALS_DIRECTORY/discord_token` when present.
fn token_and_file(
    raw: &RawDiscord,
    env: &Env,
    report: &mut Report,
) -> (Option<Secret>, Option<PathBuf>) {
    let credential = || {
        env.get(env::CREDENTIALS_DIRECTORY)
            .filter(|dir| !dir.is_empty())
            .map(|dir| PathBuf::from(dir).join(env::TOKEN_CREDENTIAL))
            .filter(|path| path.is_file())
    };
    let file = match (&raw.token, &raw.token_file) {
        (Some(_), Some(_)) => {
            report.error(
                "discord.token_file",
                "is set together with discord.token (or DISCORD_TOKEN): keep one",
            );
            return (None, None);
        }
        (Some(text), None) => return (token(text, "discord.token", report), None),
        (None, Some(path)) => PathBuf::from(path),
        (None, None) => match credential() {
            Some(path) => path,
            None => return (None, None),
        },
    };
    match std::fs::read_to_string(&file) {
        Ok(text) => (token(&text, "discord.token_file", report), Some(file)),
        Err(error) => {
            report.error(
                "discord.token_file",
                format!("cannot read {}: {error}", file.display()),
            );
            (None, Some(file))
        }
    }
}

fn discord(raw: RawDiscord, env: &Env, report: &mut Report) -> DiscordConfig {
    let (token, token_file) = token_and_file(&raw, env, report);
    let intents = match raw.intents {
        None => Intent::DEFAULT.to_vec(),
        Some(names) => names
            .iter()
            .enumerate()
            .filter_map(|(i, name)| {
                let intent = Intent::from_name(name);
                if intent.is_none() {
                    let allowed: Vec<&str> = Intent::ALL.iter().map(|(_, n, _)| *n).collect();
                    report.error(
                        format!("discord.intents[{i}]"),
                        format!("{name:?} is not an intent; allowed: {}", allowed.join(", ")),
                    );
                }
                intent
            })
            .collect(),
    };
    DiscordConfig {
        token,
        token_file,
        application_id: snowflake(raw.application_id, "discord.application_id", report),
        intents,
        api_base_url: raw
            .api_base_url
            .and_then(|u| url(&u, "discord.api_base_url", &["http", "https"], report)),
        gateway_url: raw
            .gateway_url
            .and_then(|u| url(&u, "discord.gateway_url", &["ws", "wss"], report)),
        command_guild_id: snowflake(raw.command_guild_id, "discord.command_guild_id", report),
        always_answer_channels: raw
            .always_answer_channels
            .into_iter()
            .enumerate()
            .filter_map(|(i, id)| {
                snowflake(
                    Some(id),
                    &format!("discord.always_answer_channels[{i}]"),
                    report,
                )
            })
            .collect(),
        shards: raw
            .shards
            .map(|n| nonzero(Some(n), 1, "discord.shards", report)),
        shutdown_grace: duration(raw.shutdown_grace, "30s", "discord.shutdown_grace", report),
        global_rate_limit: nonzero(
            raw.global_rate_limit,
            50,
            "discord.global_rate_limit",
            report,
        ),
    }
}

fn backends(raw: Vec<RawBackend>, env: &Env, report: &mut Report) -> Vec<BackendConfig> {
    if raw.is_empty() {
        let url_text = env
            .get(env::OLLAMA_HOST)
            .filter(|h| !h.is_empty())
            .map_or_else(
                || defaults::OLLAMA_URL.to_string(),
                |h| env::ollama_host_url(h),
            );
        return url(&url_text, env::OLLAMA_HOST, &["http", "https"], report)
            .map(|url| BackendConfig {
                name: "ollama".into(),
                kind: BackendKind::Ollama,
                url,
                api_key: None,
                api_key_env: None,
                max_concurrency: NonZeroU32::MIN,
                request_timeout: Duration::from_secs(300),
                stall_timeout: Duration::from_secs(60),
            })
            .into_iter()
            .collect();
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, b) in raw.into_iter().enumerate() {
        let at = |key: &str| format!("backends[{i}].{key}");
        let name = match b.name {
            Some(name) if valid_name(&name) => name,
            Some(name) => {
                report.error(
                    at("name"),
                    format!("{name:?} must be 1-64 letters, digits, '-' or '_'"),
                );
                continue;
            }
            None => {
                report.error(
                    at("name"),
                    "is missing: give each backend a short unique name",
                );
                continue;
            }
        };
        if !seen.insert(name.clone()) {
            report.error(at("name"), format!("{name:?} is used by another backend"));
        }
        let kind = match b.kind.as_deref() {
            None | Some("ollama") => Some(BackendKind::Ollama),
            Some("openai") => Some(BackendKind::Openai),
            Some(other) => {
                report.error(
                    at("kind"),
                    format!("{other:?} is not a backend kind; allowed: ollama, openai"),
                );
                None
            }
        };
        let url = match b.url {
            Some(u) => url(&u, &at("url"), &["http", "https"], report),
            None => {
                report.error(at("url"), "is missing: e.g. \"http://127.0.0.1:11434\"");
                None
            }
        };
        let api_key = b.api_key_env.as_ref().and_then(|var| match env.get(var) {
            Some(key) if !key.is_empty() => Some(Secret::new(key.clone())),
            _ => {
                report.error(
                    at("api_key_env"),
                    format!("the environment variable {var} is not set"),
                );
                None
            }
        });
        let max_concurrency = nonzero(b.max_concurrency, 1, &at("max_concurrency"), report);
        let request_timeout = duration(b.request_timeout, "5m", &at("request_timeout"), report);
        let stall_timeout = duration(b.stall_timeout, "60s", &at("stall_timeout"), report);
        if let (Some(kind), Some(url)) = (kind, url) {
            out.push(BackendConfig {
                name,
                kind,
                url,
                api_key,
                api_key_env: b.api_key_env,
                max_concurrency,
                request_timeout,
                stall_timeout,
            });
        }
    }
    out
}

fn models(raw: RawModels, report: &mut Report) -> ModelsConfig {
    let named = |value: Option<String>, path: &str, report: &mut Report| {
        value.filter(|name| {
            let ok = !name.trim().is_empty();
            if !ok {
                report.error(path, "is empty: name a model, e.g. \"llama3.2\"");
            }
            ok
        })
    };
    let temperature = raw.temperature.filter(|t| {
        let ok = (0.0..=2.0).contains(t);
        if !ok {
            report.error(
                "models.temperature",
                format!("{t} is out of range; allowed: 0.0 to 2.0"),
            );
        }
        ok
    });
    ModelsConfig {
        default: named(raw.default, "models.default", report)
            .unwrap_or_else(|| defaults::MODEL.into()),
        vision: named(raw.vision, "models.vision", report),
        embedding: named(raw.embedding, "models.embedding", report),
        summary: named(raw.summary, "models.summary", report),
        max_context: nonzero(raw.max_context, 32_768, "models.max_context", report),
        temperature,
        keep_alive: raw
            .keep_alive
            .map(|k| duration(Some(k), "5m", "models.keep_alive", report)),
        system_prompt: raw
            .system_prompt
            .unwrap_or_else(|| defaults::SYSTEM_PROMPT.into()),
        allowed: raw.allowed.map(|names| {
            names
                .into_iter()
                .enumerate()
                .filter_map(|(i, name)| named(Some(name), &format!("models.allowed[{i}]"), report))
                .collect()
        }),
    }
}

fn storage(raw: RawStorage, env: &Env, report: &mut Report) -> StorageConfig {
    let data_dir = match raw.data_dir {
        Some(dir) if dir.trim().is_empty() => {
            report.error("storage.data_dir", "is empty: name a folder, e.g. \"data\"");
            PathBuf::from(defaults::DATA_DIR)
        }
        Some(dir) => PathBuf::from(dir),
        // systemd's StateDirectory= may list several, separated by ':'; the first is ours.
        None => env
            .get(env::STATE_DIRECTORY)
            .and_then(|dirs| dirs.split(':').next())
            .filter(|dir| !dir.is_empty())
            .map_or_else(|| PathBuf::from(defaults::DATA_DIR), PathBuf::from),
    };
    let text = raw.url.unwrap_or_else(|| defaults::STORAGE_URL.into());
    let fallback =
        || DatabaseUrl(Url::parse(defaults::STORAGE_URL).expect("the default storage URL parses"));
    let parsed = match Url::parse(&text) {
        Ok(u) if matches!(u.scheme(), "sqlite" | "postgres" | "postgresql") => DatabaseUrl(u),
        Ok(u) => {
            report.error(
                "storage.url",
                format!(
                    "scheme {:?} is not supported; use sqlite://FILE or postgres://…",
                    u.scheme()
                ),
            );
            fallback()
        }
        Err(error) => {
            report.error(
                "storage.url",
                format!("is not a URL ({error}); use sqlite://FILE or postgres://…"),
            );
            fallback()
        }
    };
    let retention = raw
        .retention
        .into_iter()
        .filter_map(|(guild, ttl)| {
            let at = format!("storage.retention.{guild}");
            let id = guild.parse::<u64>().ok().and_then(NonZeroU64::new);
            if id.is_none() {
                report.error(
                    &at,
                    "keys are guild ids, e.g. \"123456789012345678\" = \"30d\"",
                );
            }
            let ttl = duration(Some(ttl), "30d", &at, report);
            Some((id?, ttl))
        })
        .collect();
    let retention_default = raw.retention_default.and_then(|text| {
        parse_duration(&text)
            .map_err(|problem| report.error("storage.retention_default", problem))
            .ok()
    });
    StorageConfig {
        url: parsed,
        data_dir,
        retention,
        retention_default,
    }
}

fn mcp_server(
    name: String,
    raw: RawMcpServer,
    data_dir: &std::path::Path,
    report: &mut Report,
) -> Option<McpServerConfig> {
    let at = |key: &str| format!("mcp.servers.{name}.{key}");
    if !valid_name(&name) {
        report.error(
            format!("mcp.servers.{name}"),
            "server names are 1-64 letters, digits, '-' or '_'",
        );
        return None;
    }
    let call_timeout = duration(raw.call_timeout, "60s", &at("call_timeout"), report);
    let start_timeout = duration(raw.start_timeout, "30s", &at("start_timeout"), report);
    let secrets =
        |map: BTreeMap<String, String>| map.into_iter().map(|(k, v)| (k, Secret::new(v))).collect();
    let transport = match (raw.command, raw.url, raw.kind.as_deref()) {
        (_, _, Some(kind))
            if !matches!(
                kind,
                "stdio" | "http" | "streamable-http" | "streamableHttp"
            ) =>
        {
            report.error(
                at("type"),
                format!("{kind:?} is not supported; allowed: stdio, http, streamable-http"),
            );
            return None;
        }
        (Some(_), Some(_), _) => {
            report.error(
                format!("mcp.servers.{name}"),
                "has both `command` and `url`: keep one",
            );
            return None;
        }
        (Some(command), None, _) => McpTransport::Stdio {
            command,
            args: raw.args,
            env: secrets(raw.env),
            // Its own folder unless configured: relative reads (`.env`, `mcpcord.toml`, the
            // SQLite file) must not reach the bot's files.
            cwd: raw
                .cwd
                .map_or_else(|| data_dir.join("mcp").join(&name), PathBuf::from),
        },
        (None, Some(u), _) => McpTransport::Http {
            url: url(&u, &at("url"), &["http", "https"], report)?,
            headers: secrets(raw.headers),
        },
        (None, None, _) => {
            report.error(
                format!("mcp.servers.{name}"),
                "needs `command` (a program to launch) or `url` (a Streamable HTTP endpoint)",
            );
            return None;
        }
    };
    let tool_names = |names: &[String], key: &str, report: &mut Report| {
        for (i, tool) in names.iter().enumerate() {
            if !valid_tool_name(tool) {
                report.error(
                    at(&format!("{key}[{i}]")),
                    format!("{tool:?} is not a tool name (1-128 letters, digits, '_', '-', '.')"),
                );
            }
        }
    };
    if let Some(allowed) = &raw.allowed_tools {
        tool_names(allowed, "allowed_tools", report);
    }
    tool_names(&raw.denied_tools, "denied_tools", report);
    for (i, tool) in raw.denied_tools.iter().enumerate() {
        if raw.allowed_tools.as_ref().is_some_and(|a| a.contains(tool)) {
            report.error(
                at(&format!("denied_tools[{i}]")),
                format!("{tool:?} is also in allowed_tools: keep it in one list"),
            );
        }
    }
    // Unwritten stays unset: each tool's annotations then decide (destructive tools ask).
    let approval = raw
        .approval
        .as_deref()
        .and_then(|text| tool_approval(text, &at("approval"), report));
    let mut approvals = BTreeMap::new();
    for (tool, text) in &raw.tool_approval {
        let path = at(&format!("tool_approval.{tool}"));
        if !valid_tool_name(tool) {
            report.error(
                &path,
                "is not a tool name (1-128 letters, digits, '_', '-', '.')",
            );
        } else if let Some(policy) = tool_approval(text, &path, report) {
            approvals.insert(tool.clone(), policy);
        }
    }
    let restart = match raw.restart.as_deref() {
        None | Some("always") => McpRestart::Always,
        Some("on-failure") => McpRestart::OnFailure,
        Some("never") => McpRestart::Never,
        Some(other) => {
            report.error(
                at("restart"),
                format!("{other:?} is not a restart policy; allowed: always, on-failure, never"),
            );
            McpRestart::Always
        }
    };
    let memory_limit = raw.memory_limit.as_deref().and_then(|text| {
        let bytes = byte_size(text);
        if bytes.is_none() {
            report.error(
                at("memory_limit"),
                format!("{text:?} is not a size; e.g. \"512MiB\", \"1GiB\", \"300M\""),
            );
        } else if !matches!(transport, McpTransport::Stdio { .. }) {
            report.error(
                at("memory_limit"),
                "applies to stdio servers only (the bot cannot see a remote server's memory)",
            );
        }
        bytes
    });
    let replicas = nonzero(raw.replicas, 1, &at("replicas"), report);
    if replicas.get() > MAX_REPLICAS {
        report.error(
            at("replicas"),
            format!("{replicas} is more than the limit of {MAX_REPLICAS}"),
        );
    }
    Some(McpServerConfig {
        name,
        transport,
        disabled: raw.disabled,
        call_timeout,
        start_timeout,
        allowed_tools: raw.allowed_tools,
        denied_tools: raw.denied_tools,
        approval,
        tool_approval: approvals,
        restart,
        memory_limit,
        replicas,
        allow_sampling: raw.allow_sampling,
    })
}

/// Most instances of one MCP server.
const MAX_REPLICAS: u32 = 16;

fn tool_approval(text: &str, path: &str, report: &mut Report) -> Option<ToolApproval> {
    match text {
        "auto" => Some(ToolApproval::Auto),
        "ask" => Some(ToolApproval::Ask),
        "deny" => Some(ToolApproval::Deny),
        other => {
            report.error(
                path,
                format!("{other:?} is not an approval policy; allowed: auto, ask, deny"),
            );
            None
        }
    }
}

/// MCP's tool names: `[A-Za-z0-9_.-]{1,128}`.
fn valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `1048576`, `512KiB`, `512MiB`, `1GiB`, `300M` (binary), `500MB` (decimal); at least 1.
pub(crate) fn byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    let bytes = (number * factor as f64).round();
    (bytes >= 1.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

fn logging(raw: RawLogging, report: &mut Report) -> LoggingConfig {
    let format = match raw.format.as_deref() {
        None | Some("pretty") => LogFormat::Pretty,
        Some("json") => LogFormat::Json,
        Some("compact") => LogFormat::Compact,
        Some(other) => {
            report.error(
                "logging.format",
                format!("{other:?} is not a format; allowed: pretty, json, compact"),
            );
            LogFormat::Pretty
        }
    };
    let level = raw.level.unwrap_or_else(|| "info".into());
    if let Err(error) = tracing_subscriber::EnvFilter::builder().parse(&level) {
        report.error(
            "logging.level",
            format!("{level:?} is not a level or filter ({error}); e.g. \"info\" or \"info,mcpcord=debug\""),
        );
    }
    LoggingConfig { format, level }
}

fn admin(raw: RawAdmin, report: &mut Report) -> AdminConfig {
    let listen = raw
        .listen
        .and_then(|text| match text.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                report.error(
                    "admin.listen",
                    format!("{text:?} is not an address; e.g. \"127.0.0.1:9464\""),
                );
                None
            }
        });
    AdminConfig { listen }
}

fn limits(raw: RawLimits, report: &mut Report) -> LimitsConfig {
    LimitsConfig {
        max_tool_rounds: nonzero(raw.max_tool_rounds, 8, "limits.max_tool_rounds", report),
        max_concurrent_turns: nonzero(
            raw.max_concurrent_turns,
            16,
            "limits.max_concurrent_turns",
            report,
        ),
        user_messages_per_minute: nonzero(
            raw.user_messages_per_minute,
            10,
            "limits.user_messages_per_minute",
            report,
        ),
        turn_timeout: duration(raw.turn_timeout, "10m", "limits.turn_timeout", report),
        max_tool_output_bytes: raw.max_tool_output_bytes.unwrap_or(32 * 1024),
        max_attachment_bytes: raw.max_attachment_bytes.unwrap_or(256 * 1024),
        open_turns_per_user: nonzero(
            raw.open_turns_per_user,
            3,
            "limits.open_turns_per_user",
            report,
        ),
    }
}

fn permissions(raw: RawPermissions, report: &mut Report) -> PermissionsConfig {
    let ids = |values: Vec<RawId>, key: &str, report: &mut Report| -> Vec<NonZeroU64> {
        values
            .into_iter()
            .enumerate()
            .filter_map(|(i, id)| snowflake(Some(id), &format!("permissions.{key}[{i}]"), report))
            .collect()
    };
    PermissionsConfig {
        admin_users: ids(raw.admin_users, "admin_users", report),
        admin_roles: ids(raw.admin_roles, "admin_roles", report),
        allowed_guilds: ids(raw.allowed_guilds, "allowed_guilds", report),
        allow_dms: raw.allow_dms.unwrap_or(true),
        blocked_users: ids(raw.blocked_users, "blocked_users", report),
    }
}

fn url(text: &str, path: &str, schemes: &[&str], report: &mut Report) -> Option<Url> {
    // Schemes come in plain/secure pairs: ["http", "https"] reads "http(s)".
    let described = format!("{}(s)", schemes[0]);
    match Url::parse(text) {
        Ok(u) if schemes.contains(&u.scheme()) && u.has_host() => Some(u),
        _ => {
            report.error(path, format!("{text:?} is not an {described} URL"));
            None
        }
    }
}

fn duration(text: Option<String>, default: &str, path: &str, report: &mut Report) -> Duration {
    let text = text.unwrap_or_else(|| default.into());
    parse_duration(&text).unwrap_or_else(|problem| {
        report.error(path, problem);
        humantime::parse_duration(default).unwrap_or_default()
    })
}

/// The longest duration accepted anywhere (longer ones would overflow clocks downstream).
/// A hundred years as humantime counts them (365.25 days each), so `"100y"` is accepted.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(3_155_760_000);

/// `"30s"`, `"5m"`, `"1h 30m"`, `"30d"`, up to [`MAX_DURATION`]; the problem, in words, otherwise.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration <= MAX_DURATION => Ok(duration),
        Ok(_) | Err(humantime::DurationError::NumberOverflow) => {
            Err(format!("{text:?} is too long; at most 100 years"))
        }
        Err(_) => Err(format!(
            "{text:?} is not a duration; e.g. \"30s\", \"5m\", \"1h 30m\""
        )),
    }
}

fn nonzero(value: Option<u32>, default: u32, path: &str, report: &mut Report) -> NonZeroU32 {
    let value = value.unwrap_or(default);
    NonZeroU32::new(value).unwrap_or_else(|| {
        report.error(path, "must be at least 1");
        NonZeroU32::MIN
    })
}

fn snowflake(value: Option<RawId>, path: &str, report: &mut Report) -> Option<NonZeroU64> {
    discord_id(&value?)
        .map_err(|problem| report.error(path, problem))
        .ok()
}

/// A Discord id written as a number or a string of digits; the problem, in words, otherwise.
pub(crate) fn discord_id(raw: &RawId) -> Result<NonZeroU64, String> {
    const HOW: &str = "copy it in Discord with Developer Mode on (Copy ID)";
    let value = match raw {
        RawId::Number(n) => {
            u64::try_from(*n).map_err(|_| format!("{n} is not a Discord id; {HOW}"))?
        }
        RawId::Text(text) => {
            let digits = text.trim();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "{text:?} is not a Discord id (digits only, e.g. \"123456789012345678\"); {HOW}"
                ));
            }
            digits
                .parse::<u64>()
                .map_err(|_| format!("{text:?} is too large for a Discord id; {HOW}"))?
        }
    };
    NonZeroU64::new(value).ok_or_else(|| format!("0 is not a Discord id; {HOW}"))
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn durations_sizes_and_ids_read_the_usual_forms() {
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(
            parse_duration("100y"),
            Ok(Duration::from_secs(3_155_760_000))
        );
        assert!(parse_duration("101y").unwrap_err().contains("too long"));
        assert!(
            parse_duration("99999999999999999999999s")
                .unwrap_err()
                .contains("too long")
        );
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert_eq!(byte_size("512MiB"), Some(512 << 20));
        assert_eq!(byte_size("1e9"), None);
        assert_eq!(byte_size("0"), None);
        assert_eq!(byte_size(&"9".repeat(400)), None);
        let id = |raw: RawId| discord_id(&raw).map(NonZeroU64::get);
        assert_eq!(id(RawId::Text("123".into())), Ok(123));
        assert_eq!(id(RawId::Text(" 0123 ".into())), Ok(123));
        assert_eq!(id(RawId::Number(123)), Ok(123));
        assert_eq!(id(RawId::from(u64::MAX)), Ok(u64::MAX));
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "1.0",
            "<@123>",
            "18446744073709551616",
            "١٢٣",
        ] {
            assert!(id(RawId::Text(bad.into())).is_err(), "{bad:?}");
        }
        assert!(id(RawId::Number(0)).is_err() && id(RawId::Number(-1)).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_text_is_a_duration_or_an_error(text in any::<String>()) {
            if let Ok(duration) = parse_duration(&text) {
                prop_assert!(duration <= MAX_DURATION);
            }
        }

        #[test]
        fn numeric_looking_text_is_a_duration_or_an_error(
            text in "[0-9]{0,30}(\\.[0-9]{0,30})?(ns|us|ms|s|m|h|d|w|M|y| )*[0-9]{0,30}[a-z]{0,3}"
        ) {
            if let Ok(duration) = parse_duration(&text) {
                prop_assert!(duration <= MAX_DURATION);
            }
        }

        #[test]
        fn any_text_is_a_size_or_none(
            text in prop_oneof![any::<String>(), "[0-9.]{0,400}[ ]?(|b|k|kib|m|mib|g|gib|kb|mb|gb|K|MiB)"]
        ) {
            if let Some(bytes) = byte_size(&text) {
                prop_assert!(bytes >= 1);
            }
        }

        #[test]
        fn any_text_or_number_is_an_id_or_an_error(
            text in prop_oneof![any::<String>(), "[0-9 ]{0,25}"],
            number in any::<i64>(),
        ) {
            if let Ok(id) = discord_id(&RawId::Text(text.clone())) {
                prop_assert_eq!(Ok(id.get()), text.trim().parse::<u64>());
            }
            let parsed = discord_id(&RawId::Number(number));
            prop_assert_eq!(parsed.is_ok(), number > 0);
        }

        #[test]
        fn any_toml_value_for_an_id_duration_or_size_is_reported_never_a_panic(
            value in prop_oneof![
                any::<String>().prop_map(|s| toml::Value::String(s).to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                any::<f64>().prop_map(|f| toml::Value::Float(f).to_string()),
                Just("true".to_owned()),
                Just("[1, \"2\"]".to_owned()),
                Just("{ a = 1 }".to_owned()),
            ]
        ) {
            let text = format!(
                "[discord]\napplication_id = {value}\nshutdown_grace = {value}\n\
                 always_answer_channels = [{value}]\n\
                 [storage]\nretention_default = {value}\nretention = {{ \"1\" = {value} }}\n\
                 [mcp.servers.x]\ncommand = \"x\"\nmemory_limit = {value}\n\
                 [permissions]\nadmin_users = [{value}]\n"
            );
            let _ = crate::config::Config::from_toml(&text, &Env::new());
        }
    }
}
