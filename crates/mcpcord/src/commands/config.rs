//! `mcpcord config example | show | validate`.

use std::io::Write;

use super::Failure;
use crate::config::{Config, EXAMPLE, McpTransport, Source};

/// Prints the commented example configuration.
pub fn example() -> Result<(), Failure> {
    print(EXAMPLE)
}

/// Prints the effective configuration with secrets redacted.
pub fn show(config: &Config) -> Result<(), Failure> {
    print(&config.to_redacted_toml())
}

/// Says the configuration is valid, and what it configures.
pub fn validate(config: &Config, source: &Source) -> Result<(), Failure> {
    let stdio = config
        .mcp
        .servers
        .iter()
        .filter(|s| matches!(s.transport, McpTransport::Stdio { .. }))
        .count();
    let line = format!(
        "ok: {} is valid: {} backend(s), default model {:?}, {} MCP server(s) ({} stdio, {} http), storage {}, Discord token {}\n",
        source.describe(),
        config.backends.len(),
        config.models.default,
        config.mcp.servers.len(),
        stdio,
        config.mcp.servers.len() - stdio,
        config.storage.url,
        if config.discord.token.is_some() {
            "set"
        } else {
            "not set (needed by `run`)"
        },
    );
    print(&line)
}

fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::Runtime(anyhow::Error::new(e).context("cannot write to stdout")))
}
