//! The configuration after validation: every value typed, every default filled in.
//!
//! Built only by [`super::validate`], so holding a [`Config`] means it was checked. `Serialize`
//! produces what `mcpcord config show` prints, with every secret redacted.
//!
//! Why one long file: it is the configuration's shape, one type per section of the file, and
//! mostly their doc comments (what each setting means, its default); read together they are the
//! reference `config show` and the example config follow. No logic lives here.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Serialize, Serializer};
use url::Url;

use super::secret::Secret;

/// The whole, validated configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// How the bot reaches Discord.
    pub discord: DiscordConfig,
    /// Model servers, in the order given.
    pub backends: Vec<BackendConfig>,
    /// Which model does what.
    pub models: ModelsConfig,
    /// The database.
    pub storage: StorageConfig,
    /// MCP servers the bot launches or connects to.
    pub mcp: McpConfig,
    /// Log format and filter.
    pub logging: LoggingConfig,
    /// The operator's HTTP endpoint.
    pub admin: AdminConfig,
    /// Bounds on work.
    pub limits: LimitsConfig,
    /// Who may do what.
    pub permissions: PermissionsConfig,
    /// Background embedding and recall.
    pub memory: MemoryConfig,
    /// The content policy.
    pub policy: PolicyConfig,
    /// Token budgets per person and guild per day, and the longest answer.
    pub budgets: super::budgets::BudgetsConfig,
}

impl Config {
    /// Every secret value in the configuration, for the log redactor.
    pub fn secrets(&self) -> Vec<Secret> {
        let mut out: Vec<Secret> = self.discord.token.iter().cloned().collect();
        out.extend(self.backends.iter().filter_map(|b| b.api_key.clone()));
        out.extend(self.admin.token.clone());
        for server in &self.mcp.servers {
            match &server.transport {
                McpTransport::Stdio { env, .. } => out.extend(env.values().cloned()),
                McpTransport::Http { headers, auth, .. } => {
                    out.extend(headers.values().cloned());
                    out.extend(auth.secrets());
                }
            }
        }
        out.extend(url_credentials(&self.storage.url.0));
        for url in [&self.discord.api_base_url, &self.discord.gateway_url]
            .into_iter()
            .flatten()
        {
            out.extend(url_credentials(url));
        }
        for backend in &self.backends {
            out.extend(url_credentials(&backend.url));
        }
        for server in &self.mcp.servers {
            if let McpTransport::Http { url, .. } = &server.transport {
                out.extend(url_credentials(url));
            }
        }
        out
    }
}

/// `[discord]`
#[derive(Debug, Clone, Serialize)]
pub struct DiscordConfig {
    /// The bot token; `run` needs it, `chat` does not.
    pub token: Option<Secret>,
    /// The file the token was read from (`token_file`, `DISCORD_TOKEN_FILE`, or systemd's
    /// `$CREDENTIALS_DIRECTORY/discord_token`), when it came from one.
    pub token_file: Option<PathBuf>,
    /// The application id, needed to register slash commands.
    pub application_id: Option<NonZeroU64>,
    /// Gateway intents the bot asks for.
    pub intents: Vec<Intent>,
    /// REST base URL override (proxies, tests); printed with its credentials redacted.
    #[serde(serialize_with = "redacted_optional_url")]
    pub api_base_url: Option<Url>,
    /// Gateway URL override (proxies, tests); printed with its credentials redacted.
    #[serde(serialize_with = "redacted_optional_url")]
    pub gateway_url: Option<Url>,
    /// Register slash commands in this guild only (development).
    pub command_guild_id: Option<NonZeroU64>,
    /// Channels where the bot answers every message, without a mention.
    pub always_answer_channels: Vec<NonZeroU64>,
    /// Where admin notices are posted (an MCP server needing a login); logged either way.
    pub admin_channel: Option<NonZeroU64>,
    /// Total gateway shards; Discord's recommendation when unset.
    pub shards: Option<NonZeroU32>,
    /// The shards this process runs, when several processes share the total.
    pub shard_ids: Option<ShardRange>,
    /// How long running answers may finish at shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Requests per second Discord allows the bot: never more are sent in any rolling second
    /// (interaction responses aside). 50 unless Discord raised the bot's limit.
    pub global_rate_limit: NonZeroU32,
}

/// A range of shard ids, `first` to `last` included (`"0-3"`, or `"2"` for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardRange {
    /// The first shard this process runs.
    pub first: u32,
    /// The last one.
    pub last: u32,
}

impl fmt::Display for ShardRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl Serialize for ShardRange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl ShardRange {
    /// Reads `"0-3"` or `"2"`; the problem in words otherwise.
    pub fn parse(text: &str) -> Result<ShardRange, String> {
        let number = |part: &str| {
            part.trim()
                .parse::<u32>()
                .map_err(|_| format!("{text:?} is not a shard range: write \"0-3\" or \"2\""))
        };
        let (first, last) = match text.split_once('-') {
            Some((first, last)) => (number(first)?, number(last)?),
            None => (number(text)?, number(text)?),
        };
        if first > last {
            return Err(format!("{text:?} starts after it ends"));
        }
        Ok(ShardRange { first, last })
    }
}

/// A gateway intent the bot may ask Discord for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Guild create/update, channels, threads, roles.
    Guilds,
    /// Member joins and updates (privileged).
    GuildMembers,
    /// Messages in guild channels.
    GuildMessages,
    /// Reactions in guild channels.
    GuildMessageReactions,
    /// Messages in DMs.
    DirectMessages,
    /// Reactions in DMs.
    DirectMessageReactions,
    /// The text of messages that do not mention the bot (privileged).
    MessageContent,
}

impl Intent {
    /// Every intent with its configuration name and Discord's bit.
    pub const ALL: [(Intent, &'static str, u64); 7] = [
        (Intent::Guilds, "guilds", 1 << 0),
        (Intent::GuildMembers, "guild_members", 1 << 1),
        (Intent::GuildMessages, "guild_messages", 1 << 9),
        (
            Intent::GuildMessageReactions,
            "guild_message_reactions",
            1 << 10,
        ),
        (Intent::DirectMessages, "direct_messages", 1 << 12),
        (
            Intent::DirectMessageReactions,
            "direct_message_reactions",
            1 << 13,
        ),
        (Intent::MessageContent, "message_content", 1 << 15),
    ];

    /// The intents used when the configuration names none.
    pub const DEFAULT: [Intent; 4] = [
        Intent::Guilds,
        Intent::GuildMessages,
        Intent::DirectMessages,
        Intent::MessageContent,
    ];

    /// Parses a configuration name.
    pub fn from_name(name: &str) -> Option<Intent> {
        Self::ALL
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(i, _, _)| *i)
    }

    /// Discord's bit for this intent.
    pub fn bits(self) -> u64 {
        Self::ALL
            .iter()
            .find(|(i, _, _)| *i == self)
            .map_or(0, |(_, _, b)| *b)
    }
}

/// One model server.
#[derive(Debug, Clone, Serialize)]
pub struct BackendConfig {
    /// Unique name, used in logs and `mcpcord models`.
    pub name: String,
    /// Which API it speaks.
    pub kind: BackendKind,
    /// Base URL; printed with its credentials redacted.
    #[serde(serialize_with = "redacted_url")]
    pub url: Url,
    /// The API key, read from the environment variable `api_key_env`.
    pub api_key: Option<Secret>,
    /// The variable the key came from.
    pub api_key_env: Option<String>,
    /// Requests sent at once; more wait in line.
    pub max_concurrency: NonZeroU32,
    /// Time allowed before the first token (first loads of a model take minutes).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Longest silence allowed between two chunks of an answer.
    #[serde(with = "humantime_serde")]
    pub stall_timeout: Duration,
}

/// The API a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// Ollama's native `/api/*`.
    Ollama,
    /// OpenAI-compatible `/v1/*` (llama.cpp, vLLM, LM Studio, LocalAI, Ollama's `/v1`).
    Openai,
}

/// `[models]`
#[derive(Debug, Clone, Serialize)]
pub struct ModelsConfig {
    /// Used when nobody chose another.
    pub default: String,
    /// For turns with images.
    pub vision: Option<String>,
    /// For embeddings.
    pub embedding: Option<String>,
    /// For summaries.
    pub summary: Option<String>,
    /// Upper bound for the context window asked of a backend.
    pub max_context: NonZeroU32,
    /// Sampling temperature, when set.
    pub temperature: Option<f64>,
    /// How long Ollama keeps the model loaded.
    #[serde(with = "humantime_serde")]
    pub keep_alive: Option<Duration>,
    /// The system prompt template.
    pub system_prompt: String,
    /// The models people may pick themselves; `None`: only admins pick models.
    pub allowed: Option<Vec<String>>,
}

/// `[storage]`
#[derive(Debug, Clone, Serialize)]
pub struct StorageConfig {
    /// Where the database is.
    pub url: DatabaseUrl,
    /// The bot's data folder (holds each stdio MCP server's working directory, `mcp/<name>`).
    pub data_dir: PathBuf,
    /// How long each guild's conversations are kept after their last message.
    #[serde(serialize_with = "retention_map")]
    pub retention: BTreeMap<NonZeroU64, Duration>,
    /// How long conversations outside any guild (DMs, the terminal), and those of guilds
    /// without a rule in `retention`, are kept; forever if unset.
    #[serde(with = "humantime_serde")]
    pub retention_default: Option<Duration>,
    /// How long audit-log entries are kept, whatever the conversations' retention.
    #[serde(with = "humantime_serde")]
    pub audit_retention: Duration,
}

fn retention_map<S: Serializer>(
    map: &BTreeMap<NonZeroU64, Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut out = serializer.serialize_map(Some(map.len()))?;
    for (guild, ttl) in map {
        out.serialize_entry(
            &guild.to_string(),
            &humantime::format_duration(*ttl).to_string(),
        )?;
    }
    out.end()
}

/// A `sqlite://` or `postgres://` URL whose password never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub(crate) Url);

impl DatabaseUrl {
    /// The full URL, password included, for the one place that connects.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    /// Whether this is a PostgreSQL URL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.0.scheme(), "postgres" | "postgresql")
    }
}

impl fmt::Display for DatabaseUrl {
    /// The URL with its password, and any `password`/`token`/`secret`/`key` parameter, redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mcpcord_llm::redact::redact_url(self.0.as_str()))
    }
}

/// Serializes a URL with its credentials redacted (`config show`).
fn redacted_url<S: Serializer>(url: &Url, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&mcpcord_llm::redact::redact_url(url.as_str()))
}

/// [`redacted_url`] for an optional URL.
fn redacted_optional_url<S: Serializer>(
    url: &Option<Url>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => redacted_url(url, serializer),
        None => serializer.serialize_none(),
    }
}

/// The credentials written in `url` (its password, a user name given alone, and the values of
/// secret query parameters), decoded and as written, for the log redactor.
pub fn url_credentials(url: &Url) -> Vec<Secret> {
    let mut out = Vec::new();
    let mut push = |value: &str| {
        if value.is_empty() {
            return;
        }
        out.push(Secret::new(value));
        if let Ok(decoded) = percent_decode(value)
            && decoded != value
        {
            out.push(Secret::new(decoded));
        }
    };
    match url.password() {
        Some(password) => push(password),
        None => push(url.username()),
    }
    for (name, value) in url.query_pairs() {
        if mcpcord_llm::redact::is_secret_param(&name) {
            push(&value);
            // As written, percent-encoded.
            let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            push(&encoded);
        }
    }
    out
}

fn percent_decode(text: &str) -> Result<String, std::str::Utf8Error> {
    let bytes: Vec<u8> = url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())
        .unwrap_or_default();
    String::from_utf8(bytes).map_err(|e| e.utf8_error())
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `[mcp]`
#[derive(Debug, Clone, Serialize)]
pub struct McpConfig {
    /// Servers from `mcp.servers` and `mcp.config_file`, sorted by name.
    pub servers: Vec<McpServerConfig>,
    /// The key OAuth logins are sealed with (`MCPCORD_SECRET_KEY` or `_FILE`), read with the
    /// configuration (before the environment is scrubbed); never printed.
    #[serde(skip)]
    pub secret_key: Option<std::sync::Arc<crate::secrets::SecretKey>>,
}

impl McpConfig {
    /// The servers with `auth = "oauth"`, disabled or not.
    pub fn oauth_servers(&self) -> impl Iterator<Item = &McpServerConfig> {
        self.servers
            .iter()
            .filter(|server| server.oauth().is_some())
    }
}

impl McpServerConfig {
    /// Its OAuth client, when it has `auth = "oauth"`.
    pub fn oauth(&self) -> Option<&super::mcp_auth::OAuthConfig> {
        match &self.transport {
            McpTransport::Http {
                auth: super::mcp_auth::McpAuth::OAuth(oauth),
                ..
            } => Some(oauth.as_ref()),
            _ => None,
        }
    }
}

/// One MCP server.
#[derive(Debug, Clone, Serialize)]
pub struct McpServerConfig {
    /// Unique name; prefixes its tools on collision.
    pub name: String,
    /// How to reach it.
    pub transport: McpTransport,
    /// Configured but not started.
    pub disabled: bool,
    /// One tool call's time without progress.
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
    /// Time to start and answer.
    #[serde(with = "humantime_serde")]
    pub start_timeout: Duration,
    /// Only these tools are offered (all when unset).
    pub allowed_tools: Option<Vec<String>>,
    /// Tools never offered.
    pub denied_tools: Vec<String>,
    /// Approval of tools not named in `tool_approval`, when written. Unset: tools that say
    /// they may destroy data (`destructiveHint`, or `readOnlyHint: false`) ask, others are auto.
    pub approval: Option<ToolApproval>,
    /// Approval per tool.
    pub tool_approval: BTreeMap<String, ToolApproval>,
    /// Whether a stopped server is started again.
    pub restart: McpRestart,
    /// Resident memory (bytes) above which the server is restarted (stdio only).
    pub memory_limit: Option<u64>,
    /// Instances to run.
    pub replicas: NonZeroU32,
    /// Whether the server may ask the bot's model for completions.
    pub allow_sampling: bool,
    /// The MCP protocol version: automatic, or pinned.
    pub protocol_version: McpProtocolVersion,
}

/// Which MCP protocol version (and so which lifecycle) the bot uses with a server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum McpProtocolVersion {
    /// `server/discover` (2026-07-28), falling back to `initialize` when discovery gives no
    /// session; which one worked is remembered per server.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    /// Only the `initialize` handshake, offering 2025-11-25 (older servers negotiate down).
    #[serde(rename = "2025-11-25")]
    V2025_11_25,
    /// Only `server/discover`, the stateless 2026-07-28 lifecycle.
    #[serde(rename = "2026-07-28")]
    V2026_07_28,
}

impl McpProtocolVersion {
    /// Every value, in the configuration's spelling.
    pub const ALL: [McpProtocolVersion; 3] = [Self::Auto, Self::V2025_11_25, Self::V2026_07_28];

    /// The configuration's spelling: `auto`, `2025-11-25` or `2026-07-28`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }
}

/// Whether a tool call needs a person's approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolApproval {
    /// Called without asking.
    Auto,
    /// A person approves each call.
    Ask,
    /// Never offered to the model.
    Deny,
}

/// Whether a stopped MCP server is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum McpRestart {
    /// Always, with backoff.
    Always,
    /// Unless it exited with status 0.
    OnFailure,
    /// Never.
    Never,
}

/// How an MCP server is reached.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum McpTransport {
    /// A child process speaking JSON-RPC on stdin/stdout.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// The only variables it gets beside PATH, HOME and LANG.
        env: BTreeMap<String, Secret>,
        /// Its working directory: as configured, else `mcp/<name>` in `storage.data_dir`,
        /// created with mode 0700 at start, so relative reads never reach the bot's own files.
        cwd: PathBuf,
    },
    /// A remote Streamable HTTP server.
    Http {
        /// The endpoint; printed with its credentials redacted.
        #[serde(serialize_with = "redacted_url")]
        url: Url,
        /// Headers sent with every request.
        headers: BTreeMap<String, Secret>,
        /// Authorization beyond the headers.
        auth: super::mcp_auth::McpAuth,
    },
}

/// `[logging]`
#[derive(Debug, Clone, Serialize)]
pub struct LoggingConfig {
    /// Output format.
    pub format: LogFormat,
    /// A tracing filter (`info`, `info,mcpcord=debug`).
    pub level: String,
    /// How often `run` logs a resource line; zero: never.
    #[serde(with = "humantime_serde")]
    pub resource_interval: Duration,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Coloured, multi-line, for a terminal.
    Pretty,
    /// One JSON object a line, for log collectors.
    Json,
    /// One short line an event, for tests.
    Compact,
}

/// `[admin]`
#[derive(Debug, Clone, Serialize)]
pub struct AdminConfig {
    /// Where health and metrics are served; off when unset.
    pub listen: Option<SocketAddr>,
    /// The bearer token requests must carry (read from `token_env`).
    pub token: Option<Secret>,
    /// The variable the token came from.
    pub token_env: Option<String>,
}

/// `[limits]`
#[derive(Debug, Clone, Serialize)]
pub struct LimitsConfig {
    /// Model ↔ tool rounds in one turn.
    pub max_tool_rounds: NonZeroU32,
    /// Turns running at once across the bot.
    pub max_concurrent_turns: NonZeroU32,
    /// Messages one user may send per minute.
    pub user_messages_per_minute: NonZeroU32,
    /// Longest a whole turn may take.
    #[serde(with = "humantime_serde")]
    pub turn_timeout: Duration,
    /// Largest tool output passed to the model, in bytes.
    pub max_tool_output_bytes: u64,
    /// Largest text attachment read in, in bytes.
    pub max_attachment_bytes: u64,
    /// Unfinished answers one person may have at once.
    pub open_turns_per_user: NonZeroU32,
}

/// `[memory]`
#[derive(Debug, Clone, Serialize)]
pub struct MemoryConfig {
    /// Whether the model may remember facts about a person at their request (and `/memory add`).
    pub facts: bool,
    /// Whether recall is on where nobody switched it (with `models.embedding` set).
    pub recall: bool,
    /// Most snippets recalled into one turn.
    pub recall_snippets: NonZeroU32,
    /// Most tokens the recalled block may take.
    pub recall_tokens: NonZeroU32,
    /// Longest recall may delay a turn.
    #[serde(with = "humantime_serde")]
    pub recall_timeout: Duration,
    /// Least cosine similarity of a recalled message to the new one.
    pub min_similarity: f32,
    /// Age at which a recalled message counts half as much.
    #[serde(with = "humantime_serde")]
    pub recency_half_life: Duration,
    /// Whether answers point at a related earlier conversation where nobody switched it.
    pub related: bool,
    /// Least cosine similarity of an earlier conversation's summary for it to be related.
    pub related_min_similarity: f32,
    /// Messages embedded per request.
    pub index_batch: NonZeroU32,
    /// How often the indexer looks for new messages once caught up.
    #[serde(with = "humantime_serde")]
    pub index_interval: Duration,
    /// Whether conversations get rolling summaries, titles, categories and entities.
    pub summaries: bool,
    /// The categories the summary model puts conversations in.
    pub categories: Vec<String>,
    /// Background model calls running at once.
    pub background_concurrency: NonZeroU32,
    /// Most tokens background work may spend per guild per UTC day (0: none).
    pub background_tokens_per_guild_per_day: u64,
    /// How often the background pass looks for work once caught up.
    #[serde(with = "humantime_serde")]
    pub background_interval: Duration,
}

/// `[permissions]`
#[derive(Debug, Clone, Serialize)]
pub struct PermissionsConfig {
    /// Users with admin rights over the bot.
    pub admin_users: Vec<NonZeroU64>,
    /// Roles with admin rights over the bot.
    pub admin_roles: Vec<NonZeroU64>,
    /// Guilds served; empty means all.
    pub allowed_guilds: Vec<NonZeroU64>,
    /// Whether DMs are answered.
    pub allow_dms: bool,
    /// Users ignored.
    pub blocked_users: Vec<NonZeroU64>,
    /// Configured bot roles (never `admin` or `default`), by name.
    pub roles: Vec<RoleConfig>,
    /// What everyone holding none of them may do (`[permissions.roles.default]`).
    pub default_role: RoleConfig,
}

/// One bot role, `[permissions.roles.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleConfig {
    /// Its name.
    pub name: String,
    /// Discord roles whose members hold it.
    pub discord_roles: Vec<NonZeroU64>,
    /// Users who hold it anywhere.
    pub users: Vec<NonZeroU64>,
    /// Commands allowed (names or globs); `None`: every command that is not admins-only.
    pub commands: Option<Vec<String>>,
    /// Tools allowed (`server.tool` globs); `None`: every tool.
    pub tools: Option<Vec<String>>,
    /// Models its holders may choose (globs); `None`: those of `models.allowed`.
    pub models: Option<Vec<String>>,
    /// Whether its holders may approve tool calls of other people's turns.
    pub approve_for_others: bool,
}

/// `[policy]`: the content policy as configured, and compiled (by validation, once per load).
#[derive(Debug, Clone, Serialize)]
pub struct PolicyConfig {
    /// The rules wherever a guild has none of its own (DMs and the terminal included); shown
    /// as `input` and `output`, as written.
    #[serde(flatten)]
    pub default: PolicyRulesConfig,
    /// Each guild's rules (its lists replace the default's; a list it left out is the
    /// default's, already filled in).
    #[serde(serialize_with = "guild_policies")]
    pub guilds: BTreeMap<NonZeroU64, PolicyRulesConfig>,
    /// The same rules compiled, handed to the engine.
    #[serde(skip)]
    pub compiled: mcpcord_engine::ContentPolicy,
}

/// One place's rules.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PolicyRulesConfig {
    /// Rules on what people send.
    pub input: Vec<PolicyRuleConfig>,
    /// Rules on what the model answers.
    pub output: Vec<PolicyRuleConfig>,
    /// The moderation model, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moderation: Option<ModerationConfig>,
}

/// A moderation model's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModerationConfig {
    /// The model's name on a backend.
    pub model: String,
    /// `block` or `warn`.
    pub action: &'static str,
    /// Whether answers and reasoning are judged too.
    pub output: bool,
    /// The longest wait for a verdict.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Whether a text is refused when no verdict comes.
    pub fail_closed: bool,
}

/// One rule.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRuleConfig {
    /// The category people are told.
    pub name: String,
    /// `block`, `redact` or `warn`.
    pub action: &'static str,
    /// Words or phrases, whole and in any case.
    pub words: Vec<String>,
    /// Regular expressions, as written.
    pub regexes: Vec<String>,
}

fn guild_policies<S: Serializer>(
    map: &BTreeMap<NonZeroU64, PolicyRulesConfig>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut out = serializer.serialize_map(Some(map.len()))?;
    for (guild, rules) in map {
        out.serialize_entry(&guild.to_string(), rules)?;
    }
    out.end()
}
