//! `/status`: how the bot is doing (admins).

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, Who};

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
