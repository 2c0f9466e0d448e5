//! `/chat`: start a conversation with the model in a new thread.

use twilight_interactions::command::{CommandModel, CreateCommand};
use twilight_model::channel::Attachment;

use super::{Category, CommandInfo, Who};

/// `/chat prompt [model] [file]`: the bot opens a thread (or answers inline where threads are
/// not allowed) and the thread continues the conversation.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "chat",
    desc = "Start a conversation with the model (in a new thread where possible)",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct ChatCommand {
    /// What to say to the model
    #[command(min_length = 1, max_length = 4000)]
    pub prompt: String,
    /// The model to answer (default: yours, the channel's or the server's)
    #[command(autocomplete = true, max_length = 100)]
    pub model: Option<String>,
    /// An image or a text file to include
    pub file: Option<Attachment>,
}

/// How `/help` presents `/chat`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<ChatCommand>(
        Category::Conversation,
        Who::Everyone,
        &[
            "/chat prompt:Explain Rust lifetimes with an example",
            "/chat prompt:What is in this picture? file:photo.png",
        ],
    )
}
