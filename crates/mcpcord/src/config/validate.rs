//! From [`RawConfig`] to [`Config`]: check every value, fill in defaults, collect every problem.

mod backends;
mod budgets;
mod mcp;
mod mcp_auth;
mod policy;
mod roles;
mod storage;

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64};
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::env::{self, Env};
use super::raw::{
    RawAdmin, RawConfig, RawDiscord, RawId, RawLimits, RawLogging, RawMemory, RawModels,
    RawPermissions,
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
    /// How long audit-log entries are kept (`storage.audit_retention`): a year.
    pub const AUDIT_RETENTION: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);
    /// The system prompt.
    pub const SYSTEM_PROMPT: &str = "You are a helpful assistant in the Discord server {server}, channel #{channel}. \
Today is {date}. You are talking with {user}. Answer concisely; use Markdown.";
}

/// Validates `raw`; `env` supplies API keys named by `api_key_env` and `OLLAMA_HOST`.
pub fn validate(raw: RawConfig, env: &Env, report: &mut Report) -> Option<Config> {
    let discord = discord(raw.discord, env, report);
    let backends = backends::backends(raw.backends, env, report);
    let models = models(raw.models, report);
    let storage = storage::storage(raw.storage, env, report);
    let mcp = mcp::mcp_config(raw.mcp.servers, &storage.data_dir, env, report);
    let logging = logging(raw.logging, report);
    let admin = admin(raw.admin, env, report);
    let limits = limits(raw.limits, report);
    let permissions = permissions(raw.permissions, &mcp, report);
    let memory = memory(raw.memory, report);
    let policy = policy::policy(raw.policy, report);
    let budgets = budgets::budgets(raw.budgets, report);
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
        memory,
        policy,
        budgets,
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
        admin_channel: snowflake(raw.admin_channel, "discord.admin_channel", report),
        shards: raw
            .shards
            .map(|n| nonzero(Some(n), 1, "discord.shards", report)),
        shard_ids: shard_ids(raw.shard_ids.as_deref(), raw.shards, report),
        shutdown_grace: duration(raw.shutdown_grace, "30s", "discord.shutdown_grace", report),
        global_rate_limit: nonzero(
            raw.global_rate_limit,
            50,
            "discord.global_rate_limit",
            report,
        ),
    }
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
    let factor = unit_factor(&unit.trim().to_ascii_lowercase())?;
    let bytes = (number * factor as f64).round();
    (bytes >= 1.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// Bytes in one `unit` (lower case): `k`, `m`, `g` and `kib`… are binary, `kb`… decimal.
fn unit_factor(unit: &str) -> Option<u64> {
    Some(match unit {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    })
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
    let resource_interval = duration(
        raw.resource_interval,
        "60s",
        "logging.resource_interval",
        report,
    );
    LoggingConfig {
        format,
        level,
        resource_interval,
    }
}

fn admin(raw: RawAdmin, env: &Env, report: &mut Report) -> AdminConfig {
    let listen = raw.listen.and_then(|text| match listen_address(&text) {
        Some(addr) => Some(addr),
        None => {
            report.error(
                "admin.listen",
                format!("{text:?} is not an address; e.g. \"127.0.0.1:9464\" or \"9464\""),
            );
            None
        }
    });
    let token = raw.token_env.as_deref().and_then(|var| match env.get(var) {
        Some(token) if !token.is_empty() => Some(Secret::new(token.clone())),
        _ => {
            report.error(
                "admin.token_env",
                format!("the environment variable {var} is not set"),
            );
            None
        }
    });
    AdminConfig {
        listen,
        token,
        token_env: raw.token_env,
    }
}

/// `host:port`, or a bare port (`9464`, `:9464`), which listens on loopback only.
fn listen_address(text: &str) -> Option<SocketAddr> {
    let port = text.strip_prefix(':').unwrap_or(text);
    match port.parse::<u16>() {
        Ok(port) => Some(SocketAddr::from(([127, 0, 0, 1], port))),
        Err(_) => text.parse().ok(),
    }
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

/// A cosine similarity setting at `key` (`default` when unset); between -1 and 1.
fn cosine(value: Option<f64>, default: f64, key: &str, report: &mut Report) -> f32 {
    let value = value.unwrap_or(default);
    if !(-1.0..=1.0).contains(&value) {
        report.error(key, "must be between -1 and 1 (a cosine similarity)");
    }
    value as f32
}

fn memory(raw: RawMemory, report: &mut Report) -> MemoryConfig {
    let min_similarity = cosine(raw.min_similarity, 0.5, "memory.min_similarity", report);
    let related_min_similarity = cosine(
        raw.related_min_similarity,
        0.8,
        "memory.related_min_similarity",
        report,
    );
    MemoryConfig {
        facts: raw.facts.unwrap_or(false),
        recall: raw.recall.unwrap_or(true),
        recall_snippets: nonzero(raw.recall_snippets, 3, "memory.recall_snippets", report),
        recall_tokens: nonzero(raw.recall_tokens, 600, "memory.recall_tokens", report),
        recall_timeout: duration(raw.recall_timeout, "750ms", "memory.recall_timeout", report),
        min_similarity,
        recency_half_life: duration(
            raw.recency_half_life,
            "30d",
            "memory.recency_half_life",
            report,
        ),
        related: raw.related.unwrap_or(true),
        related_min_similarity,
        index_batch: nonzero(raw.index_batch, 64, "memory.index_batch", report),
        index_interval: duration(raw.index_interval, "2s", "memory.index_interval", report),
        summaries: raw.summaries.unwrap_or(true),
        categories: categories(raw.categories, report),
        background_concurrency: nonzero(
            raw.background_concurrency,
            1,
            "memory.background_concurrency",
            report,
        ),
        background_tokens_per_guild_per_day: raw
            .background_tokens_per_guild_per_day
            .unwrap_or(200_000),
        background_interval: duration(
            raw.background_interval,
            "30s",
            "memory.background_interval",
            report,
        ),
    }
}

/// `memory.categories`: a few short, distinct names (the defaults when unset).
fn categories(raw: Option<Vec<String>>, report: &mut Report) -> Vec<String> {
    const PATH: &str = "memory.categories";
    let Some(raw) = raw else {
        return mcpcord_engine::DEFAULT_CATEGORIES
            .iter()
            .map(|c| (*c).to_owned())
            .collect();
    };
    if raw.is_empty() {
        report.error(
            PATH,
            "needs at least one category, e.g. [\"work\", \"other\"]",
        );
    }
    let mut seen = std::collections::HashSet::new();
    for (i, category) in raw.iter().enumerate() {
        let name = category.trim();
        if name.is_empty() || name.chars().count() > 32 {
            report.error(
                format!("{PATH}[{i}]"),
                "must be a name of 1 to 32 characters",
            );
        } else if !seen.insert(name.to_lowercase()) {
            report.error(format!("{PATH}[{i}]"), format!("{name:?} is listed twice"));
        }
    }
    raw.into_iter().map(|c| c.trim().to_owned()).collect()
}

fn permissions(raw: RawPermissions, mcp: &McpConfig, report: &mut Report) -> PermissionsConfig {
    let (roles, default_role) = roles::roles(raw.roles, mcp, report);
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
        roles,
        default_role,
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

/// `discord.shard_ids`: a range within `discord.shards`, which must be set with it.
fn shard_ids(text: Option<&str>, total: Option<u32>, report: &mut Report) -> Option<ShardRange> {
    let path = "discord.shard_ids";
    let range = ShardRange::parse(text?)
        .map_err(|problem| report.error(path, problem))
        .ok()?;
    match total {
        None => report.error(
            path,
            "needs discord.shards (the total across every process), e.g. shards = 8 with shard_ids = \"0-3\"",
        ),
        Some(total) if range.last >= total => report.error(
            path,
            format!("{range} is not within discord.shards = {total} (ids 0 to {})", total.saturating_sub(1)),
        ),
        Some(_) => return Some(range),
    }
    None
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
mod tests;
