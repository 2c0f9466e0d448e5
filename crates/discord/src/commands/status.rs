//! `/status`: how the bot is doing (admins).

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, Who};
use crate::commands::Call;
use crate::middleware::{CommandResponse, CommandResult};

/// `/status`: backends, MCP servers, uptime.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "status",
    desc = "Show the model backends, MCP servers and uptime (admins)",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct StatusCommand;

/// How `/help` presents `/status`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<StatusCommand>(Category::Bot, Who::Admins, &["/status"])
}

impl StatusCommand {
    /// Runs `/status`: turns running, each backend, each MCP server.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let ctx = call.ctx;
        let mut lines = vec![format!("**Turns running:** {}", ctx.turns.running().len())];
        for health in ctx.engine.backends().await {
            let state = match health.models {
                Ok(models) => format!("✓ {} models", models.len()),
                Err(error) => format!("✗ {error}"),
            };
            lines.push(format!("**Backend {}:** {state}", health.backend));
        }
        for server in ctx.engine.servers() {
            lines.push(format!(
                "**MCP {}:** {:?}, {} tools",
                server.name, server.state, server.tools
            ));
        }
        Ok(CommandResponse::private(lines.join("\n")))
    }
}
