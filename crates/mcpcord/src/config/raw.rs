//! The configuration as written: TOML (plus environment overrides) deserialized without judgement.
//!
//! Every field is optional and loosely typed (URLs, durations and addresses are strings) so that
//! [`super::validate`] can check them all and report every problem at once with its path.
//! The JSON schema derived here also names the keys that exist, for "did you mean" hints.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The whole file.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawConfig {
    /// `[discord]`
    pub discord: RawDiscord,
    /// `[[backends]]`
    pub backends: Vec<RawBackend>,
    /// `[models]`
    pub models: RawModels,
    /// `[storage]`
    pub storage: RawStorage,
    /// `[mcp]`
    pub mcp: RawMcp,
    /// `[logging]`
    pub logging: RawLogging,
    /// `[admin]`
    pub admin: RawAdmin,
    /// `[limits]`
    pub limits: RawLimits,
    /// `[permissions]`
    pub permissions: RawPermissions,
    /// `[memory]`
    pub memory: RawMemory,
    /// `[policy]`
    pub policy: RawPolicy,
    /// `[budgets]`
    pub budgets: RawBudgets,
}

/// `[discord]`: how the bot reaches Discord.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawDiscord {
    /// The bot token (better: `token_file`, or the `DISCORD_TOKEN` environment variable).
    pub token: Option<String>,
    /// A file holding the bot token (`DISCORD_TOKEN_FILE`); systemd's
    /// `$CREDENTIALS_DIRECTORY/discord_token` is read when neither this nor `token` is set.
    pub token_file: Option<String>,
    /// The application id (a snowflake).
    pub application_id: Option<RawId>,
    /// Gateway intents by name.
    pub intents: Option<Vec<String>>,
    /// REST base URL (for proxies and tests).
    pub api_base_url: Option<String>,
    /// Gateway URL (for proxies and tests).
    pub gateway_url: Option<String>,
    /// Guild to register slash commands in (development); global when unset.
    pub command_guild_id: Option<RawId>,
    /// Channels (ids) where the bot answers every message, without a mention.
    pub always_answer_channels: Vec<RawId>,
    /// The channel (id) where admin notices are posted (an MCP server needing a login).
    pub admin_channel: Option<RawId>,
    /// Total gateway shards; Discord's recommendation when unset.
    pub shards: Option<u32>,
    /// The shards this process runs, e.g. "0-3" or "4" (needs `shards`); all when unset.
    pub shard_ids: Option<String>,
    /// How long running answers may finish at shutdown (e.g. "30s").
    pub shutdown_grace: Option<String>,
    /// Requests per second Discord allows the bot (50; larger bots may be granted more).
    pub global_rate_limit: Option<u32>,
}

/// One `[[backends]]` entry: a model server.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawBackend {
    /// A short unique name.
    pub name: Option<String>,
    /// `ollama` or `openai`.
    pub kind: Option<String>,
    /// Base URL of the server.
    pub url: Option<String>,
    /// Name of the environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// Requests sent to this backend at once.
    pub max_concurrency: Option<u32>,
    /// How long a request may take before the first token (first loads are slow).
    pub request_timeout: Option<String>,
    /// Longest silence allowed between two chunks of an answer.
    pub stall_timeout: Option<String>,
}

/// `[models]`: which model does what.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawModels {
    /// The model used when nobody chose another.
    pub default: Option<String>,
    /// The model for turns with images.
    pub vision: Option<String>,
    /// The model for embeddings (search, memory).
    pub embedding: Option<String>,
    /// The model for summaries.
    pub summary: Option<String>,
    /// Upper bound for the context window asked of a backend (`num_ctx`).
    pub max_context: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// How long Ollama keeps the model loaded after a request.
    pub keep_alive: Option<String>,
    /// The system prompt; `{date}`, `{time}`, `{user}`, `{server}`, `{channel}` are filled in.
    pub system_prompt: Option<String>,
    /// The models people may pick themselves (`/chat model:`, `/model set`, the model menu);
    /// unset: only the bot's admins pick models.
    pub allowed: Option<Vec<String>>,
}

/// `[storage]`: the database.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawStorage {
    /// `sqlite://PATH` or `postgres://…`.
    pub url: Option<String>,
    /// The bot's own data folder; stdio MCP servers without a `cwd` run in `mcp/<name>` inside
    /// it. Default: `$STATE_DIRECTORY` (systemd) or `./data`.
    pub data_dir: Option<String>,
    /// How long conversations are kept after their last message, per guild id.
    pub retention: BTreeMap<String, String>,
    /// How long conversations outside any guild (DMs, the terminal) are kept; forever if unset.
    pub retention_default: Option<String>,
    /// How long audit-log entries are kept, separately from conversations. Default: 365d.
    pub audit_retention: Option<String>,
}

/// `[mcp]`: MCP servers, in Claude Desktop's `mcpServers` shape.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawMcp {
    /// Path of an existing `mcp.json` (`{"mcpServers": {…}}`) to read servers from.
    pub config_file: Option<String>,
    /// Servers by name.
    pub servers: BTreeMap<String, RawMcpServer>,
}

/// One MCP server: `command` (+ `args`, `env`) for stdio, or `url` (+ `headers`) for HTTP.
#[derive(Debug, Default, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawMcpServer {
    /// Transport type as some `mcp.json` files spell it: `stdio`, `http`, `streamable-http`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Program to launch (stdio servers).
    pub command: Option<String>,
    /// Its arguments.
    pub args: Vec<String>,
    /// The only environment variables the child gets (beside PATH, HOME, LANG).
    pub env: BTreeMap<String, String>,
    /// Working directory of the child; default: `mcp/<name>` in `storage.data_dir`.
    pub cwd: Option<String>,
    /// URL of a remote Streamable HTTP server.
    pub url: Option<String>,
    /// HTTP headers sent to a remote server.
    pub headers: BTreeMap<String, String>,
    /// Configured but not started.
    pub disabled: bool,
    /// How long one tool call may take without progress.
    pub call_timeout: Option<String>,
    /// How long the server may take to start and answer.
    pub start_timeout: Option<String>,
    /// Only these tools are offered to the model (all when unset).
    pub allowed_tools: Option<Vec<String>>,
    /// Tools never offered to the model.
    pub denied_tools: Vec<String>,
    /// Approval of this server's tools: `auto`, `ask` (a person approves each call) or `deny`.
    pub approval: Option<String>,
    /// Approval per tool, overriding `approval`: `{ write_file = "ask" }`.
    pub tool_approval: BTreeMap<String, String>,
    /// Restart policy: `always` (default), `on-failure` or `never`.
    pub restart: Option<String>,
    /// Resident memory above which a stdio server is restarted, e.g. "512MiB".
    pub memory_limit: Option<String>,
    /// Instances to run; calls go to the least busy healthy one (default 1).
    pub replicas: Option<u32>,
    /// Whether the server may ask the bot's model for completions (MCP sampling).
    pub allow_sampling: bool,
    /// MCP protocol version: `auto` (default: `server/discover`, falling back to `initialize`),
    /// `2025-11-25` (only the `initialize` handshake) or `2026-07-28` (only `server/discover`).
    pub protocol_version: Option<String>,
    /// How the bot proves itself to a remote server beyond `headers`: `none` (default),
    /// `oauth` (a login by `mcpcord mcp login NAME`) or `client-credentials` (the bot is the
    /// client: no person).
    pub auth: Option<String>,
    /// The OAuth client (`[mcp.servers.NAME.oauth]`): all optional for `auth = "oauth"`.
    pub oauth: Option<RawOAuth>,
}

/// `[mcp.servers.NAME.oauth]`: the client the bot is at the server's authorization server.
#[derive(Debug, Default, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawOAuth {
    /// A client id registered at the authorization server beforehand (else the client ID
    /// metadata document or dynamic registration).
    pub client_id: Option<String>,
    /// Its secret (prefer `client_secret_file` or `MCPCORD_MCP_<NAME>_CLIENT_SECRET`).
    pub client_secret: Option<String>,
    /// A file holding the client secret.
    pub client_secret_file: Option<String>,
    /// An https URL of a client ID metadata document, used when the server supports it.
    pub client_metadata_url: Option<String>,
    /// The name shown on the authorization server's consent page (default `mcpcord`).
    pub client_name: Option<String>,
    /// Scopes to ask for instead of those the server names.
    pub scopes: Option<Vec<String>>,
    /// The loopback port `mcpcord mcp login` listens on for the redirect (default 8976).
    pub redirect_port: Option<u16>,
    /// `client-credentials` only: a PKCS#8 PEM private key signing `private_key_jwt`
    /// assertions instead of a client secret.
    pub private_key_file: Option<String>,
    /// `client-credentials` only: the key's signature algorithm (`ES256`, the default).
    pub signing_algorithm: Option<String>,
}

/// `[logging]`
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawLogging {
    /// `pretty`, `json` or `compact`.
    pub format: Option<String>,
    /// A level or a tracing filter such as `info,mcpcord=debug`.
    pub level: Option<String>,
    /// How often a resource line (memory, turns, database pool, backend queues) is logged,
    /// e.g. `60s`; `0` turns it off.
    pub resource_interval: Option<String>,
}

/// `[admin]`: the operator's HTTP endpoint (health, metrics).
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawAdmin {
    /// Address to listen on, e.g. `127.0.0.1:9464` (a bare port listens on 127.0.0.1);
    /// unset means off.
    pub listen: Option<String>,
    /// The environment variable holding the bearer token every request (but `/healthz`) must
    /// carry; unset: no token asked.
    pub token_env: Option<String>,
}

/// `[limits]`: bounds on work.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawLimits {
    /// Model ↔ tool rounds in one turn.
    pub max_tool_rounds: Option<u32>,
    /// Turns running at once across the bot.
    pub max_concurrent_turns: Option<u32>,
    /// Messages one user may send per minute.
    pub user_messages_per_minute: Option<u32>,
    /// Longest a whole turn may take.
    pub turn_timeout: Option<String>,
    /// Largest tool output passed to the model, in bytes.
    pub max_tool_output_bytes: Option<u64>,
    /// Largest text attachment read in, in bytes.
    pub max_attachment_bytes: Option<u64>,
    /// Unfinished answers one person may have at once.
    pub open_turns_per_user: Option<u32>,
}

/// `[memory]`: embedding messages in the background and recalling earlier conversations.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawMemory {
    /// Whether the model may remember facts about a person at their request (and `/memory add`).
    pub facts: Option<bool>,
    /// Whether recall is on where nobody switched it (it needs `models.embedding`).
    pub recall: Option<bool>,
    /// Most snippets recalled into one turn.
    pub recall_snippets: Option<u32>,
    /// Most tokens the recalled block may take.
    pub recall_tokens: Option<u32>,
    /// Longest recall may delay a turn.
    pub recall_timeout: Option<String>,
    /// Least cosine similarity of a recalled message to the new one (-1 to 1).
    pub min_similarity: Option<f64>,
    /// Age at which a recalled message counts half as much.
    pub recency_half_life: Option<String>,
    /// Whether answers point at a related earlier conversation where nobody switched it.
    pub related: Option<bool>,
    /// Least cosine similarity of an earlier conversation's summary to the current one's for
    /// it to be related (-1 to 1).
    pub related_min_similarity: Option<f64>,
    /// Messages embedded per request by the background indexer.
    pub index_batch: Option<u32>,
    /// How often the indexer looks for new messages once it has caught up.
    pub index_interval: Option<String>,
    /// Whether conversations get rolling summaries, titles, categories and entities.
    pub summaries: Option<bool>,
    /// The categories the summary model puts conversations in.
    pub categories: Option<Vec<String>>,
    /// Background model calls (summaries, titles) running at once.
    pub background_concurrency: Option<u32>,
    /// Most tokens background work may spend per guild (and for all DMs together) per UTC day;
    /// 0 stops it.
    pub background_tokens_per_guild_per_day: Option<u64>,
    /// How often the background pass looks for work once it has caught up.
    pub background_interval: Option<String>,
}

/// `[budgets]`: tokens people and guilds may spend per UTC day, and the longest answer.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawBudgets {
    /// Tokens (prompt + answer) one person may spend per UTC day; unlimited when unset.
    pub tokens_per_user_per_day: Option<RawBudgetLimit>,
    /// Tokens everyone in a guild together may spend per UTC day; unlimited when unset.
    pub tokens_per_guild_per_day: Option<RawBudgetLimit>,
    /// Longest answer of one model request, in tokens; the model's own limit when unset.
    pub max_tokens: Option<RawBudgetLimit>,
    /// Guilds (by id) with limits of their own; a key not written there is the default's.
    pub guilds: BTreeMap<String, RawGuildBudget>,
}

/// `[budgets.guilds."ID"]`: one guild's own limits.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawGuildBudget {
    /// Tokens one person may spend per UTC day in this guild.
    pub tokens_per_user_per_day: Option<RawBudgetLimit>,
    /// Tokens this guild may spend per UTC day.
    pub tokens_per_guild_per_day: Option<RawBudgetLimit>,
    /// Longest answer of one model request here, in tokens.
    pub max_tokens: Option<RawBudgetLimit>,
}

/// A token limit as written: a number, or `"unlimited"`. Checked by [`super::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RawBudgetLimit {
    /// A number of tokens.
    Tokens(i64),
    /// A word (`"unlimited"`).
    Word(String),
}

/// `[permissions]`: who may do what.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawPermissions {
    /// Users (ids) with admin rights over the bot.
    pub admin_users: Vec<RawId>,
    /// Roles (ids) with admin rights over the bot.
    pub admin_roles: Vec<RawId>,
    /// Guilds the bot serves; empty means all.
    pub allowed_guilds: Vec<RawId>,
    /// Whether the bot answers direct messages.
    pub allow_dms: Option<bool>,
    /// Users (ids) the bot ignores.
    pub blocked_users: Vec<RawId>,
    /// Bot roles by name (`[permissions.roles.NAME]`): who holds each and what it allows;
    /// `default` is everyone holding none. `admin` is built in (the admin settings above).
    pub roles: BTreeMap<String, RawRole>,
}

/// `[permissions.roles.NAME]`: one bot role.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawRole {
    /// Discord roles (ids) whose members hold this bot role.
    pub discord_roles: Vec<RawId>,
    /// Users (ids) who hold it anywhere, DMs included.
    pub users: Vec<RawId>,
    /// Commands it allows (`chat`, `tools`, `tools list`, `*`); unset: every command that is
    /// not admins-only. Admins-only commands (`status`, `tools enable`) must be named.
    pub commands: Option<Vec<String>>,
    /// Tools it allows, as `server.tool` (`server.*`, `*`); unset: every tool.
    pub tools: Option<Vec<String>>,
    /// Models its holders may choose (`llama*`); unset: those of `models.allowed`.
    pub models: Option<Vec<String>>,
    /// Whether its holders may approve tool calls of other people's turns (default false).
    pub approve_for_others: Option<bool>,
}

/// `[policy]`: the content policy, rules on what people send to the model (`input`) and what
/// it answers (`output`); the default for every place, and per guild.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawPolicy {
    /// `[[policy.input]]`: rules on what people send, checked before it is stored or sent.
    pub input: Vec<RawPolicyRule>,
    /// `[[policy.output]]`: rules on the model's answers, checked as they stream.
    pub output: Vec<RawPolicyRule>,
    /// `[policy.moderation]`: a moderation model judging texts after the rules (off by default).
    pub moderation: Option<RawModeration>,
    /// Rules of a guild, by guild id: its `input` and `output` lists replace the default ones
    /// (a list it leaves out is the default's).
    pub guilds: BTreeMap<String, RawGuildPolicy>,
}

/// `[policy.moderation]`: a moderation model (e.g. Llama Guard on Ollama), asked through the
/// backends, that answers `safe` or `unsafe` with categories.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawModeration {
    /// The model's name on a backend, e.g. `llama-guard3:1b`.
    pub model: Option<String>,
    /// What an `unsafe` verdict does: `block` (default) or `warn`.
    pub action: Option<String>,
    /// Whether the model's answers and reasoning are judged too (default false; when true an
    /// answer is shown once its round is judged instead of as it streams).
    pub output: Option<bool>,
    /// The longest wait for a verdict (default `10s`).
    pub timeout: Option<String>,
    /// Whether a text is refused when no verdict comes (default false: it goes through, with a
    /// warning in the log and an audit entry).
    pub fail_closed: Option<bool>,
    /// `false` switches the default's model off in a guild (default true).
    pub enabled: Option<bool>,
}

/// `[policy.guilds."ID"]`: one guild's rules.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawGuildPolicy {
    /// Replaces `policy.input` in this guild (`[]`: no input rules here).
    pub input: Option<Vec<RawPolicyRule>>,
    /// Replaces `policy.output` in this guild (`[]`: no output rules here).
    pub output: Option<Vec<RawPolicyRule>>,
    /// Replaces `policy.moderation` in this guild (`enabled = false`: none here).
    pub moderation: Option<RawModeration>,
}

/// One content-policy rule.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RawPolicyRule {
    /// The rule's name: the category people are told when it acts (never the matched text).
    pub name: Option<String>,
    /// `block`, `redact` or `warn`.
    pub action: Option<String>,
    /// Words or phrases, matched whole and in any case.
    pub words: Vec<String>,
    /// Regular expressions (Rust `regex` syntax), matched as written; `(?i)` for any case.
    pub regexes: Vec<String>,
}

/// A Discord id as written: a number (`123456789012345678`) or a string of digits
/// (`"123456789012345678"`, the form Discord's API and "Copy ID" give, and the only one that
/// survives JSON tools that read numbers as doubles). Checked by [`super::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawId {
    /// Written as a number (TOML integers are signed, so a negative one can arrive).
    Number(i64),
    /// Written as a string.
    Text(String),
}

impl From<u64> for RawId {
    fn from(id: u64) -> Self {
        i64::try_from(id).map_or_else(|_| RawId::Text(id.to_string()), RawId::Number)
    }
}

impl<'de> Deserialize<'de> for RawId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Discord id (digits, as a number or a string)")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawId, E> {
                Ok(RawId::Number(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawId, E> {
                Ok(RawId::from(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawId, E> {
                Ok(RawId::Text(v.to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Serialize for RawId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RawId::Number(n) => serializer.serialize_i64(*n),
            RawId::Text(text) => serializer.serialize_str(text),
        }
    }
}

impl JsonSchema for RawId {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "DiscordId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["integer", "string"],
            "description": "A Discord id: a number or a string of digits."
        })
    }
}
