//! `/new`: start a fresh conversation.

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, Who};
use crate::commands::Call;
use crate::ids::ToEngine;
use crate::middleware::{CommandError, CommandResponse, CommandResult};

/// `/new`: the next message here starts a new conversation (the old one stays stored).
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "new",
    desc = "Start a fresh conversation here (the model forgets this one)",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct NewCommand;

/// How `/help` presents `/new`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<NewCommand>(Category::Conversation, Who::Everyone, &["/new"])
}

impl NewCommand {
    /// Runs `/new`: the conversation here starts over.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let Some((key, _)) = call.here() else {
            return Err(CommandError::Invalid(
                "there is no conversation here".into(),
            ));
        };
        call.ctx
            .engine
            .start_over(&key, call.scope(), Some(call.invoker.user.to_engine()))
            .await?;
        Ok(CommandResponse::private(
            "🆕 Fresh start: the model forgets the conversation here. (Reply chains keep theirs.)",
        ))
    }
}
