//! `/resource`: attach an MCP resource to the conversation.

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, Who};

/// `/resource uri`: the resource's content joins this channel's conversation.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "resource",
    desc = "Attach a resource from an MCP server to the conversation",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct ResourceCommand {
    /// The resource (its URI, or pick one)
    #[command(autocomplete = true, max_length = 100)]
    pub uri: String,
}

/// How `/help` presents `/resource`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<ResourceCommand>(
        Category::Tools,
        Who::Everyone,
        &["/resource uri:file:///docs/handbook.md"],
    )
}
