//! "Ask about this message": the message context-menu command.

use twilight_model::application::command::{Command, CommandType};
use twilight_model::application::interaction::InteractionContextType;
use twilight_model::oauth::ApplicationIntegrationType;
use twilight_util::builder::command::CommandBuilder;

use super::{Category, CommandInfo, Who};
use mcpcord_engine::{TurnAction, UserMessage};
use twilight_model::application::interaction::InteractionData;
use twilight_model::id::Id;
use twilight_model::id::marker::MessageMarker;

use crate::commands::Call;
use crate::conversation;
use crate::middleware::{CommandError, CommandResponse, CommandResult};

/// The command's name, as shown in the message menu (Apps › …).
pub const NAME: &str = "Ask about this message";

/// The registration: a message command (context-menu commands have an empty description).
pub fn command() -> Command {
    CommandBuilder::new(NAME, "", CommandType::Message)
        .contexts([
            InteractionContextType::Guild,
            InteractionContextType::BotDm,
            InteractionContextType::PrivateChannel,
        ])
        .integration_types([ApplicationIntegrationType::GuildInstall])
        .build()
}

/// How `/help` presents it.
pub fn info() -> CommandInfo {
    CommandInfo {
        command: command(),
        category: Category::Conversation,
        who: Who::Everyone,
        about: Some(
            "Ask the model about a message: open its menu (right-click, or long-press on mobile) › Apps",
        ),
        examples: &["Apps › Ask about this message"],
    }
}

/// Runs "Ask about this message" on `message`: the model answers about it, in a chain of its
/// own replying to it.
pub async fn run(message: Id<MessageMarker>, call: Call<'_>) -> CommandResult {
    let resolved = match &call.interaction.data {
        Some(InteractionData::ApplicationCommand(data)) => data
            .resolved
            .as_ref()
            .and_then(|r| r.messages.get(&message).cloned()),
        _ => None,
    };
    let Some(target) = resolved else {
        return Err(CommandError::Invalid("I cannot see that message".into()));
    };
    let Some(channel) = call.invoker.channel else {
        return Err(CommandError::Invalid("there is no channel here".into()));
    };
    let text = format!(
        "About this message by {}:\n> {}",
        target.author.name,
        target.content.replace('\n', "\n> ")
    );
    let request = call.request(
        conversation::chain_key(call.interaction.id.get()),
        TurnAction::Message(UserMessage::text(text)),
        None,
    );
    call.screen(&request).await?;
    call.start(request, channel, Some(target.id))?;
    Ok(CommandResponse::Message {
        content: format!("🔎 Looking at {}'s message…", target.author.name),
        ephemeral: false,
    })
}
