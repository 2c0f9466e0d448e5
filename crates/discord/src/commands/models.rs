//! `/models`: list the models the backends offer.

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, Who};

/// `/models`: every model of every configured backend, with what it can do.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "models",
    desc = "List the models available, with their capabilities",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct ModelsCommand;

/// How `/help` presents `/models`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<ModelsCommand>(Category::Models, Who::Everyone, &["/models"])
}
