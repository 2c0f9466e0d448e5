//! Interactions: slash and context-menu commands (through the tower middleware), autocomplete,
//! button and menu presses, and modal submits — each kind in its own module, all behind the
//! same [gate](crate::gate), checked here before any handler runs.
//!
//! Owns answering every interaction within Discord's 3 s: commands that may take time are
//! deferred first and answered by editing the deferred response; commands that open a modal
//! (`/prompt` with arguments) and autocomplete answer at once; presses are acknowledged with a
//! deferred update and act on the turn they name ([`crate::turns::Registry`]).

mod autocomplete;
mod buttons;
mod commands;
mod modals;
mod pick_up;
mod privacy;
mod resume;

use std::sync::Arc;

use twilight_model::application::interaction::{Interaction, InteractionType};
use twilight_model::channel::message::MessageFlags;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;

use crate::bot::Context;
use crate::components::shorten;
use crate::gate::{Door, Refusal};
use crate::mentions::no_pings;
use crate::middleware::CommandResponse;

/// Handles one interaction: through the [gate](crate::gate) first, then its handler.
pub async fn handle(ctx: Arc<Context>, interaction: Interaction) {
    if !admitted(&ctx, &interaction).await {
        return;
    }
    let result = match interaction.kind {
        InteractionType::ApplicationCommand => commands::on_command(&ctx, interaction).await,
        InteractionType::ApplicationCommandAutocomplete => {
            autocomplete::on_autocomplete(&ctx, &interaction).await
        }
        InteractionType::MessageComponent => buttons::on_component(&ctx, &interaction).await,
        InteractionType::ModalSubmit => modals::on_modal(&ctx, &interaction).await,
        _ => Ok(()),
    };
    if let Err(error) = result {
        tracing::warn!(%error, "cannot answer an interaction");
    }
}

/// Whether the gate lets `interaction` through; a refused one is answered here (privately, or
/// with no choices for autocomplete).
async fn admitted(ctx: &Context, interaction: &Interaction) -> bool {
    let Some(door) = door(interaction.kind) else {
        return true;
    };
    let Some(refusal) = refused(ctx, interaction, door) else {
        return true;
    };
    tracing::info!(
        user = interaction.author_id().map(Id::get),
        guild = interaction.guild_id.map(Id::get),
        door = door.as_str(),
        refused = refusal.kind(),
        "an interaction is refused at the gate"
    );
    let (user, guild) = (
        interaction.author_id().map(Id::get),
        interaction.guild_id.map(Id::get),
    );
    if let Some(entry) = crate::audit::gate_refusal(&refusal, door, user, guild) {
        ctx.engine.audit(entry);
    }
    let result = if door == Door::Autocomplete {
        let none = crate::commands::autocomplete_response(Vec::new());
        respond(ctx, interaction, &none).await
    } else {
        private(ctx, interaction, &refusal.says()).await
    };
    if let Err(error) = result {
        tracing::warn!(%error, "cannot answer a refused interaction");
    }
    false
}

/// Why the gate refuses `interaction` at `door`, if it does (no user: refused).
fn refused(ctx: &Context, interaction: &Interaction, door: Door) -> Option<Refusal> {
    match interaction.author_id() {
        Some(user) => ctx
            .gate
            .check(door, user.get(), interaction.guild_id.map(Id::get))
            .err(),
        None => Some(Refusal::Blocked),
    }
}

/// The gate's door for an interaction of `kind`; `None` for those nobody sends (pings).
fn door(kind: InteractionType) -> Option<Door> {
    match kind {
        InteractionType::ApplicationCommand => Some(Door::Command),
        InteractionType::ApplicationCommandAutocomplete => Some(Door::Autocomplete),
        InteractionType::MessageComponent => Some(Door::Press),
        InteractionType::ModalSubmit => Some(Door::Form),
        _ => None,
    }
}

/// What answering an interaction gives.
type Reply = Result<(), twilight_http::Error>;

/// Answers `interaction` with `response`.
async fn respond(
    ctx: &Context,
    interaction: &Interaction,
    response: &InteractionResponse,
) -> Reply {
    ctx.http
        .interaction(ctx.application_id)
        .create_response(interaction.id, &interaction.token, response)
        .await
        .map(|_| ())
}

/// A message response that never pings.
fn message_response(content: &str, ephemeral: bool) -> InteractionResponse {
    InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some(shorten(content, crate::split::MESSAGE_LIMIT)),
            flags: ephemeral.then_some(MessageFlags::EPHEMERAL),
            allowed_mentions: Some(no_pings()),
            ..InteractionResponseData::default()
        }),
    }
}

/// Answers `interaction` with a message only its author sees.
async fn private(ctx: &Context, interaction: &Interaction, content: &str) -> Reply {
    respond(ctx, interaction, &message_response(content, true)).await
}

/// Defers the answer to `interaction` (Discord shows "thinking…").
async fn defer(ctx: &Context, interaction: &Interaction, ephemeral: bool) -> Reply {
    let response = InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: ephemeral.then(|| InteractionResponseData {
            flags: Some(MessageFlags::EPHEMERAL),
            ..InteractionResponseData::default()
        }),
    };
    respond(ctx, interaction, &response).await
}

/// Acknowledges a press without changing its message.
async fn acknowledge(ctx: &Context, interaction: &Interaction) -> Reply {
    let response = InteractionResponse {
        kind: InteractionResponseType::DeferredUpdateMessage,
        data: None,
    };
    respond(ctx, interaction, &response).await
}

/// Replaces the deferred response of `interaction` with `response`.
async fn deliver(ctx: &Context, interaction: &Interaction, response: CommandResponse) -> Reply {
    let Some(full) = response.into_interaction_response() else {
        return Ok(());
    };
    let data = full.data.unwrap_or_default();
    let mentions = no_pings();
    let content = data
        .content
        .map(|c| shorten(&c, crate::split::MESSAGE_LIMIT));
    let client = ctx.http.interaction(ctx.application_id);
    let mut update = client
        .update_response(&interaction.token)
        .allowed_mentions(Some(&mentions));
    if let Some(content) = &content {
        update = update.content(Some(content));
    }
    if let Some(embeds) = &data.embeds {
        update = update.embeds(Some(embeds));
    }
    if let Some(components) = &data.components {
        update = update.components(Some(components));
    }
    update.await.map(|_| ())
}
