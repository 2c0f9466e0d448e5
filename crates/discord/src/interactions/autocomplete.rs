//! Autocomplete: candidates for the option being typed, from the engine's listings.

use twilight_model::application::interaction::application_command::CommandData;
use twilight_model::application::interaction::{Interaction, InteractionData};

use super::{Reply, respond};
use mcpcord_engine::{Engine, Named};

use crate::bot::Context;
use crate::commands::{self, help, memory};
use crate::ids::ToEngine;
use crate::middleware::Invoker;

/// Answers an autocomplete interaction with the candidates that match what was typed.
pub(super) async fn on_autocomplete(ctx: &Context, interaction: &Interaction) -> Reply {
    let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
        return Ok(());
    };
    let focused = commands::focused(data);
    let typed = focused
        .as_ref()
        .map(|f| f.typed.clone())
        .unwrap_or_default();
    let choices = match focused
        .as_ref()
        .map(|f| (f.path.as_str(), f.option.as_str()))
    {
        // Choices naming one thing and carrying another (a title, a conversation's id).
        Some(("continue", "conversation")) => {
            commands::r#continue::choices(ctx, interaction, &typed).await
        }
        // The person's own tags, from the store through the engine.
        Some(("search", "tag") | ("tag", "name")) => {
            commands::autocomplete_choices(own(ctx, interaction, Named::Tags).await, &typed)
        }
        // The people, projects, places and products of the person's own conversations.
        Some(("search", "entity")) => {
            commands::autocomplete_choices(own(ctx, interaction, Named::Entities).await, &typed)
        }
        // The configured categories.
        Some(("search", "category")) => {
            commands::autocomplete_choices(ctx.engine.categories(), &typed)
        }
        _ => {
            let candidates = candidates(ctx, interaction, data).await;
            commands::autocomplete_choices(candidates, &typed)
        }
    };
    let response = commands::autocomplete_response(choices);
    respond(ctx, interaction, &response).await
}

/// Everything the focused option may take (for `/help`, the commands the person may use; for
/// `/memory forget`, their facts here).
async fn candidates(ctx: &Context, interaction: &Interaction, data: &CommandData) -> Vec<String> {
    let Some(focused) = commands::focused(data) else {
        return Vec::new();
    };
    let invoker = || Invoker::from_interaction(interaction);
    match (focused.path.as_str(), focused.option.as_str()) {
        ("help", "command") => match invoker() {
            Some(invoker) => {
                let resolved = ctx.config().policy().resolve(&invoker);
                help::topics(&help::visible(commands::catalogue(), &resolved))
            }
            None => Vec::new(),
        },
        ("memory forget", "fact") => match invoker() {
            Some(invoker) => memory::forget_candidates(&ctx.engine, &invoker).await,
            None => Vec::new(),
        },
        _ => names(&ctx.engine, &focused).await,
    }
}

/// The engine's names the focused option may take (models, prompts, resources, servers, tools).
async fn names(engine: &Engine, focused: &commands::Focused) -> Vec<String> {
    match (focused.path.as_str(), focused.option.as_str()) {
        ("model set" | "model", "name") | ("chat", "model") => engine.model_names().await,
        ("prompt", "name") => engine.prompt_names().await,
        ("resource", "uri") => engine.resource_names().await,
        ("tools list", "server") => engine.server_names(),
        ("tools enable" | "tools disable", "tool") => {
            let mut names = engine.tool_names();
            names.extend(engine.server_names());
            names
        }
        (_, "tool") => engine.tool_names(),
        _ => Vec::new(),
    }
}

/// The invoker's own `what`, from the conversations they may read from where they are.
async fn own(ctx: &Context, interaction: &Interaction, what: Named) -> Vec<String> {
    let Some(user) = interaction.author_id() else {
        return Vec::new();
    };
    let (person, guild) = (
        user.to_engine(),
        interaction.guild_id.map(ToEngine::to_engine),
    );
    let listed = ctx.engine.person_names(what, person, guild, 100).await;
    listed.unwrap_or_else(|error| {
        tracing::info!(%error, ?what, "cannot list them for autocomplete");
        Vec::new()
    })
}
