//! `/model`: show or choose the model that answers.

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, ScopeChoice, Who};
use twilight_model::channel::message::MessageFlags;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};

use crate::commands::{Call, scope_words};
use crate::components::{self, ModelChoice};
use crate::mentions::no_pings;
use crate::middleware::{CommandResponse, CommandResult};

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

impl ModelCommand {
    /// Runs `/model set` or `/model show`.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        match self {
            Self::Set(set) => set.run(call).await,
            Self::Show(_) => show(call).await,
        }
    }
}

impl ModelSet {
    /// Makes the model answer at the chosen scope, if the invoker may pick it and it exists.
    async fn run(self, call: Call<'_>) -> CommandResult {
        call.may_pick(&self.name)?;
        let level = call.level(self.scope)?;
        call.ctx
            .engine
            .set_model_preference(level, &self.name)
            .await?;
        crate::audit::admin_change(
            call.ctx,
            call.invoker,
            level,
            "model.set",
            serde_json::json!({ "model": self.name }),
        );
        Ok(CommandResponse::private(format!(
            "✅ `{}` answers {} from now on.",
            self.name,
            scope_words(self.scope)
        )))
    }
}

/// `/model show`: the model the next turn here uses (the engine's settings, so what is shown is
/// what answers), with a menu to choose another.
async fn show(call: Call<'_>) -> CommandResult {
    let engine = &call.ctx.engine;
    let key = call.here().map(|(key, _)| key);
    let settings = engine.settings(&call.scope(), key.as_ref()).await?;
    let current = settings.model;
    let choices: Vec<ModelChoice> = engine
        .model_names()
        .await
        .into_iter()
        .map(|name| ModelChoice {
            name,
            description: None,
        })
        .collect();
    let (menu, left_out) =
        components::model_menu(&choices, Some(&current), components::Scope::User);
    let mut content = format!(
        "The model answering you here: `{current}` ({}).",
        settings.model_source.describe()
    );
    if left_out > 0 {
        content.push_str(&format!(" ({left_out} more: `/model set`.)"));
    }
    Ok(CommandResponse::Raw(Box::new(InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some(content),
            components: (!choices.is_empty()).then(|| vec![menu]),
            flags: Some(MessageFlags::EPHEMERAL),
            allowed_mentions: Some(no_pings()),
            ..InteractionResponseData::default()
        }),
    })))
}
