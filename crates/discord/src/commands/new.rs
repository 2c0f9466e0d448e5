//! `/new`: start a fresh conversation.

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, Who};

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
