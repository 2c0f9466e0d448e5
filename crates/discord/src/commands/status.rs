//! `/status`: what is left of the person's token budgets today (everyone); how the bot is
//! doing (admins).

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, Who};
use crate::commands::Call;
use crate::middleware::{CommandResponse, CommandResult};

/// `/status`: budgets; for admins also turns, backends, MCP servers.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "status",
    desc = "Show what is left of your token budget today (admins: also backends and MCP servers)",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct StatusCommand;

/// How `/help` presents `/status`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<StatusCommand>(
        Category::Bot,
        Who::Mixed("everyone; turns, backends and MCP servers: admins"),
        &["/status"],
    )
}

impl StatusCommand {
    /// Runs `/status`: the invoker's and their server's budgets today; for admins also turns
    /// running, each backend, each MCP server.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let ctx = call.ctx;
        let scope = call.scope();
        let budgets = ctx
            .engine
            .budget_left(scope.user_id, scope.guild_id, ctx.engine.now())
            .await?;
        let mut lines = crate::budget::status_lines(&budgets);
        if !ctx.config().admins.allows(call.invoker) {
            return Ok(CommandResponse::private(lines.join("\n")));
        }
        lines.push(format!("**Turns running:** {}", ctx.turns.running().len()));
        for health in ctx.engine.backends().await {
            let state = match health.models {
                Ok(models) => format!("✓ {} models", models.len()),
                Err(error) => format!("✗ {error}"),
            };
            lines.push(format!("**Backend {}:** {state}", health.backend));
        }
        for server in ctx.engine.servers() {
            let hint = server.hint().map(|h| format!(" ({h})")).unwrap_or_default();
            lines.push(format!(
                "**MCP {}:** {}, {} tools{hint}",
                server.name, server.state, server.tools
            ));
        }
        Ok(CommandResponse::private(lines.join("\n")))
    }
}
