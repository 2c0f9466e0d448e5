//! The command line, declared with clap's derive: every command and flag is a type.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// A self-hosted Discord bot for local language models (Ollama or OpenAI-compatible servers),
/// with tools from MCP servers and conversations kept in a real database.
///
/// Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
#[derive(Debug, Parser)]
#[command(
    name = "mcpcord",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Configuration file [default: $MCPCORD_CONFIG, else ./mcpcord.toml if present, else built-in defaults]
    #[arg(
        long,
        short = 'c',
        global = true,
        value_name = "PATH",
        env = "MCPCORD_CONFIG"
    )]
    pub config: Option<PathBuf>,

    /// More log lines: -v info, -vv debug, -vvv trace (RUST_LOG, when set, decides instead).
    /// Without it, `run` logs as `[logging]` says and other commands log warnings and errors.
    #[arg(long, short = 'v', global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Discord bot (in the foreground unless --daemon) until SIGINT / SIGTERM; SIGHUP
    /// reloads the configuration; SIGUSR1 has the MCP servers read the stored logins again.
    Run(RunArgs),
    /// Tell the running bot (found through its PID file) to reload its configuration.
    Reload(ReloadArgs),
    /// Talk to the bot's engine in the terminal (no Discord needed).
    Chat(ChatArgs),
    /// Validate the configuration and reach every configured part (backends, MCP servers,
    /// database); print a report and exit 1 if any part fails. An MCP server with
    /// `auth = "oauth"` and no stored login shows as LOGIN, with the command to run.
    Check,
    /// List the models of every backend with their capabilities.
    Models,
    /// Show the running bot's state (shards, backends, MCP servers, turns, memory) from its
    /// admin endpoint (`admin.listen`).
    Status(StatusArgs),
    /// Inspect and use the configured MCP servers.
    #[command(subcommand)]
    Mcp(McpCommand),
    /// Search the stored conversations, count them, rebuild their search index.
    #[command(subcommand)]
    Memory(MemoryCommand),
    /// A person's data rights: export everything stored about a Discord user, or forget them.
    #[command(subcommand)]
    Privacy(PrivacyCommand),
    /// Export the audit log (admin actions, tool calls, refusals, data-rights requests,
    /// reloads).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print an example configuration, show the effective one, or validate it.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the version, git revision and enabled features.
    Version,
}

/// `mcpcord run`
#[derive(Debug, Default, Args)]
pub struct RunArgs {
    /// Detach from the terminal (double fork, new session) and log to --log-file; for hosts
    /// without a service manager (under systemd, run in the foreground: Type=notify).
    #[arg(long)]
    pub daemon: bool,
    /// The PID file, locked while the bot runs: a second bot with the same file refuses to
    /// start [default: <storage.data_dir>/mcpcord.pid].
    #[arg(long, value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Where --daemon writes the log [default: <storage.data_dir>/mcpcord.log].
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Run as this user once the database and the PID file are open (started as root).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Run as this group once the database and the PID file are open [default: the user's].
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
}

/// `mcpcord reload`
#[derive(Debug, Default, Args)]
pub struct ReloadArgs {
    /// The running bot's PID file [default: <storage.data_dir>/mcpcord.pid].
    #[arg(long, value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
}

/// `mcpcord chat`
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Model to use instead of the configured default.
    #[arg(long, short = 'm', value_name = "MODEL")]
    pub model: Option<String>,
    /// Print one reply to TEXT on stdout and exit (0 on success, 1 with the error on stderr).
    #[arg(long, short = 'p', value_name = "TEXT")]
    pub prompt: Option<String>,
}

/// `mcpcord status`
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the JSON document of the bot's `/status` instead of tables.
    #[arg(long)]
    pub json: bool,
    /// The admin endpoint's base URL [default: from admin.listen].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

/// `mcpcord mcp servers`
#[derive(Debug, Args)]
pub struct ServersArgs {
    /// Start copies of the servers here instead of asking the running bot about its own.
    #[arg(long)]
    pub standalone: bool,
    /// The running bot's admin endpoint [default: from admin.listen].
    #[arg(long, value_name = "URL", conflicts_with = "standalone")]
    pub url: Option<String>,
}

/// `mcpcord mcp …`
#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// List the running bot's MCP servers (through its admin endpoint) with state, pid, uptime,
    /// restarts, tool count and memory; `--standalone` starts copies here instead.
    Servers(ServersArgs),
    /// List the tools of every server, or of one.
    Tools {
        /// Only this server's tools.
        server: Option<String>,
    },
    /// Call a tool and print its result (exit 1 when the result is an error).
    Call {
        /// The server's name.
        server: String,
        /// The tool's name.
        tool: String,
        /// Arguments as a JSON object, e.g. '{"text": "hi"}'.
        #[arg(default_value = "{}")]
        json: String,
    },
    /// List the prompts of every server.
    Prompts,
    /// List the resources of every server.
    Resources,
    /// Log in to a server with `auth = "oauth"`: prints the authorization URL, then waits up
    /// to 10 minutes for the browser's redirect to http://127.0.0.1:PORT/callback, or for the
    /// address the browser ended on pasted here (a machine without a browser: open the URL
    /// elsewhere, copy the address of the page that fails to load). Then connects, lists the
    /// tools and stores the login in the database, encrypted with MCPCORD_SECRET_KEY. A bot
    /// running with the data folder's PID file is told (SIGUSR1) and uses it at once.
    Login(LoginArgs),
    /// Delete the stored login of a server with `auth = "oauth"`; a running bot is told, as
    /// after a login.
    Logout {
        /// The server's name.
        server: String,
        /// First ask the authorization server to revoke the login's tokens (RFC 7009; needs
        /// MCPCORD_SECRET_KEY). If it cannot, the stored login is kept and the command fails.
        #[arg(long)]
        revoke: bool,
    },
    /// Print the client ID metadata document (JSON) of a server with `auth = "oauth"` and
    /// `oauth.client_metadata_url`: host it at that https URL, and authorization servers that
    /// support client ID metadata documents accept the bot with no registration.
    ClientMetadata {
        /// The server's name.
        server: String,
        /// The loopback port of `mcp login`'s redirect [default: oauth.redirect_port, else
        /// 8976]: the document lists http://127.0.0.1:PORT/callback.
        #[arg(long, value_name = "N")]
        port: Option<u16>,
    },
}

/// `mcpcord mcp login`
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server's name.
    pub server: String,
    /// Do not try to open a browser on this machine; only print the URL.
    #[arg(long)]
    pub no_browser: bool,
    /// The loopback port of the redirect [default: mcp.servers.NAME.oauth.redirect_port, else
    /// 8976]; the redirect URI http://127.0.0.1:PORT/callback must be one the authorization
    /// server accepts.
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
}

/// `mcpcord memory …`
#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Search every stored conversation (or one guild's, or one user's) for words; best first.
    Search(MemorySearchArgs),
    /// Rebuild the keyword index from the stored messages.
    Reindex,
    /// Count the stored, indexed and embedded messages; show the index's size.
    Stats,
    /// List the facts the bot remembers about a Discord user (asked with `remember` or
    /// `/memory add`), in every guild and their DMs, oldest first, with where each was said.
    Facts(MemoryFactsArgs),
}

/// `mcpcord memory facts`
#[derive(Debug, Args)]
pub struct MemoryFactsArgs {
    /// The person's Discord user id.
    #[arg(long, value_name = "ID")]
    pub user: u64,
    /// Print the facts as a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `mcpcord memory search`
#[derive(Debug, Args)]
pub struct MemorySearchArgs {
    /// The words to look for (several arguments are joined).
    #[arg(required = true, value_name = "QUERY")]
    pub query: Vec<String>,
    /// Only conversations this Discord user took part in.
    #[arg(long, value_name = "ID")]
    pub user: Option<u64>,
    /// Only this Discord guild's conversations.
    #[arg(long, value_name = "ID")]
    pub guild: Option<u64>,
    /// Only conversations carrying this tag.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Only conversations in this automatic category (one of `memory.categories`).
    #[arg(long, value_name = "CATEGORY")]
    pub category: Option<String>,
    /// Only conversations naming this entity (a person, project, place or product; its whole
    /// name, any case).
    #[arg(long, value_name = "NAME")]
    pub entity: Option<String>,
    /// How many hits to show (at most 100).
    #[arg(long, short = 'n', value_name = "N", default_value_t = 10)]
    pub limit: usize,
    /// Print the hits as a JSON array instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// `mcpcord privacy …`
#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// Print everything stored about a Discord user as JSON: their messages and the answers to
    /// them, the tags, summaries, categories and entities of their conversations, their
    /// profile, preferences and tool switches (nobody else's messages).
    Export(PrivacyExportArgs),
    /// Forget a Discord user: delete their messages (in shared conversations each becomes a
    /// note and the answers stay), the conversations only they took part in, their vectors,
    /// index entries, preferences and name. Asks first unless --yes.
    Forget(PrivacyForgetArgs),
}

/// `mcpcord privacy export`
#[derive(Debug, Args)]
pub struct PrivacyExportArgs {
    /// The person's Discord user id.
    #[arg(long, value_name = "ID")]
    pub user: u64,
}

/// `mcpcord privacy forget`
#[derive(Debug, Args)]
pub struct PrivacyForgetArgs {
    /// The person's Discord user id.
    #[arg(long, value_name = "ID")]
    pub user: u64,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
}

/// `mcpcord audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the audit log as JSON Lines on stdout, oldest first: one object per entry with
    /// id, at (RFC 3339), kind, action, guild_id, actor_id, subject_id (ids as strings) and
    /// detail.
    Export(AuditExportArgs),
}

/// `mcpcord audit export`
#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// Only entries since this time: an age (`2h`, `7d`, `4w`) or an RFC 3339 time
    /// (`2026-01-31T00:00:00Z`, or `2026-01-31` for the start of that day, UTC).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Only entries of this Discord guild.
    #[arg(long, value_name = "ID")]
    pub guild: Option<u64>,
}

/// `mcpcord config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented example configuration (a valid file).
    Example,
    /// Print the effective configuration (file + environment + defaults), secrets redacted.
    Show,
    /// Validate the configuration; print every problem with its path (exit 2 if any).
    Validate,
}
