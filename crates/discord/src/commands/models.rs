//! `/models`: list the models the backends offer.

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, Who};
use mcpcord_engine::BackendModels;

use crate::commands::Call;
use crate::middleware::{CommandResponse, CommandResult};

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

impl ModelsCommand {
    /// Runs `/models`: each backend with its models, or why they cannot be listed.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let backends = call.ctx.engine.backends().await;
        Ok(CommandResponse::private(listing(&backends)))
    }
}

/// One line per backend.
fn listing(backends: &[BackendModels]) -> String {
    let lines: Vec<String> = backends
        .iter()
        .map(|backend| match &backend.models {
            Ok(models) => {
                let names: Vec<String> = models.iter().map(|m| format!("`{}`", m.name)).collect();
                format!("**{}**: {}", backend.backend, names.join(", "))
            }
            Err(error) => format!("**{}**: ⚠️ {error}", backend.backend),
        })
        .collect();
    if lines.is_empty() {
        return "No model servers are configured.".into();
    }
    lines.join("\n")
}
