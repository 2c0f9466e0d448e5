//! `/model`: show or choose the model that answers.

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, ScopeChoice, Who};

/// `/model set name [scope]` and `/model show`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "model",
    desc = "Show or choose the model that answers",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub enum ModelCommand {
    /// Choose the model.
    #[command(name = "set")]
    Set(ModelSet),
    /// Show the model in use, with a menu to change it.
    #[command(name = "show")]
    Show(ModelShow),
}

/// `/model set`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(name = "set", desc = "Choose the model that answers")]
pub struct ModelSet {
    /// The model (as the backend names it)
    #[command(autocomplete = true, max_length = 100)]
    pub name: String,
    /// Who the choice applies to (default: you)
    pub scope: Option<ScopeChoice>,
}

/// `/model show`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "show",
    desc = "Show the model in use, with a menu to change it"
)]
pub struct ModelShow;

/// How `/help` presents `/model`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<ModelCommand>(
        Category::Models,
        Who::Mixed("everyone; the `channel` and `server` scopes: admins"),
        &[
            "/model set name:llama3.2",
            "/model set name:qwen3:8b scope:channel",
            "/model show",
        ],
    )
}
