//! `/prompt`: run a prompt an MCP server offers.

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, Who};

/// `/prompt name`: the prompt's arguments are asked for in a form.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "prompt",
    desc = "Run a prompt from an MCP server (its arguments open in a form)",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct PromptCommand {
    /// The prompt (server › prompt)
    #[command(autocomplete = true, max_length = 100)]
    pub name: String,
}

/// How `/help` presents `/prompt`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<PromptCommand>(
        Category::Tools,
        Who::Everyone,
        &["/prompt name:git › summarize_changes"],
    )
}
