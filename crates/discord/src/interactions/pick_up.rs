//! The buttons of a `/conversations` entry, each privately deferred and then answered with
//! what was done, or why not: Continue picks the conversation up where it lived
//! (`commands::continue`); Bring in puts it, condensed, into the conversation where the button
//! is pressed (the one `/tag` would tag there), through the engine
//! ([`Engine::bring_in`](mcpcord_engine::Engine::bring_in)).

use std::sync::Arc;

use mcpcord_engine::ConversationId;
use twilight_model::application::interaction::Interaction;

use super::{Reply, defer, deliver};
use crate::bot::Context;
use crate::commands::r#continue::pick_up;
use crate::commands::tag::conversation_here;
use crate::commands::{Call, invoker_name};
use crate::ids::ToEngine;
use crate::middleware::{CommandError, CommandResponse, Invoker};
use crate::render::escape;

/// Handles a press of Continue under `/conversations`.
pub(super) async fn on_pick_up(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    conversation: u64,
) -> Reply {
    defer(ctx, interaction, true).await?;
    let picked = match stored_id(conversation) {
        Ok(id) => pick_up(ctx, interaction, id).await,
        Err(error) => Err(error),
    };
    answer(ctx, interaction, picked, conversation).await
}

/// Handles a press of Bring in under `/conversations`.
pub(super) async fn on_bring_in(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    conversation: u64,
) -> Reply {
    defer(ctx, interaction, true).await?;
    let brought = bring_in(ctx, interaction, conversation).await;
    answer(ctx, interaction, brought, conversation).await
}

/// Brings conversation `conversation` into the one here; what the person is told.
async fn bring_in(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    conversation: u64,
) -> Result<String, CommandError> {
    let from = stored_id(conversation)?;
    let Some(invoker) = Invoker::from_interaction(interaction) else {
        return Err(CommandError::Invalid("there is no person here".into()));
    };
    let call = Call {
        ctx,
        interaction,
        invoker: &invoker,
    };
    let into = conversation_here(call).await?;
    let name = invoker_name(interaction);
    let label = ctx
        .engine
        .bring_in(
            from,
            into,
            (invoker.user.to_engine(), &name),
            call.scope().guild_id,
        )
        .await?;
    Ok(format!(
        "📥 Brought **{}** into the conversation here: the model now knows what was said \
         there.",
        escape(&crate::components::shorten(&label, 80))
    ))
}

/// A conversation id from a button.
fn stored_id(conversation: u64) -> Result<ConversationId, CommandError> {
    i64::try_from(conversation)
        .map(ConversationId)
        .map_err(|_| CommandError::Invalid("that is not a conversation".into()))
}

/// Replaces the deferred answer with what was done, or why not (logged with an error id).
async fn answer(
    ctx: &Context,
    interaction: &Interaction,
    done: Result<String, CommandError>,
    conversation: u64,
) -> Reply {
    let says = match done {
        Ok(says) => says,
        Err(error) => {
            let id = crate::middleware::error_id();
            tracing::info!(error_id = %id, %error, conversation, "a /conversations button failed");
            crate::middleware::friendly_message(&error, &id)
        }
    };
    deliver(ctx, interaction, CommandResponse::private(says)).await
}
