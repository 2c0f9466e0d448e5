//! "Ask about this message": the message context-menu command.

use twilight_model::application::command::{Command, CommandType};
use twilight_model::application::interaction::InteractionContextType;
use twilight_model::oauth::ApplicationIntegrationType;
use twilight_util::builder::command::CommandBuilder;

use super::{Category, CommandInfo, Who};

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
