//! Continue on a `/conversations` entry: privately deferred, then the conversation is picked
//! up where it lived (`commands::continue`), and the person told where to go on, or why not.

use std::sync::Arc;

use mcpcord_engine::ConversationId;
use twilight_model::application::interaction::Interaction;

use super::{Reply, defer, deliver};
use crate::bot::Context;
use crate::commands::r#continue::pick_up;
use crate::middleware::{CommandError, CommandResponse};

/// Handles a press of Continue under `/conversations`.
pub(super) async fn on_pick_up(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    conversation: u64,
) -> Reply {
    defer(ctx, interaction, true).await?;
    let picked = match i64::try_from(conversation) {
        Ok(id) => pick_up(ctx, interaction, ConversationId(id)).await,
        Err(_) => Err(CommandError::Invalid("that is not a conversation".into())),
    };
    let says = match picked {
        Ok(says) => says,
        Err(error) => {
            let id = crate::middleware::error_id();
            tracing::info!(error_id = %id, %error, conversation, "cannot pick up a conversation");
            crate::middleware::friendly_message(&error, &id)
        }
    };
    deliver(ctx, interaction, CommandResponse::private(says)).await
}
