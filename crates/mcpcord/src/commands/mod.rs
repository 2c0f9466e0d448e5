//! One file per command: each takes what it needs and returns `Result<(), Failure>`.

mod audit;
mod authorizer;
mod chat;
mod check;
mod config;
mod login;
mod mcp;
mod memory;
mod models;
mod privacy;
mod reload;
mod run;
mod status;
mod version;

use std::process::ExitCode;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::config::{Config, Env, InvalidConfig, Source, process_env};

use crate::logging::Audience;
pub use run::bot_config;

/// Why a command did not succeed, and so which exit code it ends with.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The configuration is invalid (exit 2).
    #[error(transparent)]
    Config(#[from] InvalidConfig),
    /// A setting the command needs is missing or wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The command is declared but not built yet (exit 2): it says so instead of pretending.
    #[error("`mcpcord {command}` is not built yet: it arrives with the {arrives_with} work")]
    NotBuilt {
        /// The command as typed.
        command: &'static str,
        /// What will bring it.
        arrives_with: &'static str,
    },
    /// The command ran and failed (exit 1).
    #[error(transparent)]
    Runtime(#[from] anyhow::Error),
}

impl Failure {
    /// The documented exit code: 1 runtime failure, 2 bad usage or configuration.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Runtime(_) => ExitCode::from(1),
            Failure::Config(_) | Failure::Usage(_) | Failure::NotBuilt { .. } => ExitCode::from(2),
        }
    }
}

/// Runs the parsed command line.
pub fn dispatch(cli: Cli) -> Result<(), Failure> {
    let source = Source::discover(cli.config);
    match cli.command {
        // These two need no configuration: they work whatever the file says.
        Command::Version => version::run(),
        Command::Config(ConfigCommand::Example) => config::example(),
        command => {
            let audience = match command {
                Command::Run(_) => Audience::Service,
                _ => Audience::Terminal,
            };
            let (config, env) = load(&source, audience, cli.verbose)?;
            with_config(command, &config, &source, env)
        }
    }
}

/// Reads and validates the configuration, takes its secrets out of the environment block and
/// starts logging. The environment it was read with is returned too (a reload reads the file
/// again with it: the live block has its secrets wiped by then).
fn load(source: &Source, audience: Audience, verbose: u8) -> Result<(Config, Env), Failure> {
    let env = process_env();
    let config = Config::load(source, &env)?;
    // Still one thread (the runtime starts later): the secrets leave the environment
    // block, where MCP children could read them through /proc.
    crate::protect::scrub_env(&crate::protect::secret_variables(&config));
    crate::logging::init(&config.logging, &config.secrets(), audience, verbose);
    Ok((config, env))
}

/// Runs a command that needs the configuration.
fn with_config(
    command: Command,
    config: &Config,
    source: &Source,
    env: Env,
) -> Result<(), Failure> {
    match command {
        Command::Version => version::run(),
        Command::Config(ConfigCommand::Example) => config::example(),
        Command::Config(ConfigCommand::Show) => config::show(config),
        Command::Config(ConfigCommand::Validate) => config::validate(config, source),
        Command::Run(args) => run::run(config, source, env, &args),
        Command::Reload(args) => reload::run(config, &args),
        Command::Check => block_on(check::run(config, source)),
        Command::Chat(args) => block_on(chat::run(config, args)),
        Command::Models => block_on(models::run(config)),
        Command::Mcp(command) => block_on(mcp::run(config, command)),
        Command::Status(args) => block_on(status::run(config, args)),
        Command::Memory(command) => block_on(memory::run(config, command)),
        Command::Privacy(command) => block_on(privacy::run(config, command)),
        Command::Audit(command) => block_on(audit::run(config, command)),
    }
}

/// Runs an async command on a fresh multi-threaded runtime.
fn block_on(future: impl Future<Output = Result<(), Failure>>) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::Runtime(anyhow::Error::new(e).context("cannot start the async runtime"))
        })?;
    runtime.block_on(future)
}
