//! `/resource`: attach an MCP resource to the conversation.

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, Who};
use mcpcord_engine::{TurnAction, split_item};

use crate::commands::Call;
use crate::middleware::{CommandResponse, CommandResult};

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

impl ResourceCommand {
    /// Runs `/resource`: the resource's text joins the conversation here, and the model answers.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        call.room()?;
        let message = call.ctx.engine.resource_message(&self.uri).await?;
        let (key, channel) = call.here_or_refuse()?;
        let request = call.request(key, TurnAction::Message(message), None);
        call.screen(&request).await?;
        call.start(request, channel, None)?;
        let (_, uri) = split_item(&self.uri);
        Ok(CommandResponse::Message {
            content: format!("📎 attached `{uri}`"),
            ephemeral: false,
        })
    }
}
