//! The buttons under `/privacy forget`'s question: only the person who asked may press them
//! (the button names them); "Forget me" forgets them through the engine and says what was
//! removed, "Cancel" leaves everything as it was. Either way the question loses its buttons.

use mcpcord_engine::{ForgetReport, UserId};
use twilight_model::application::interaction::Interaction;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;

use super::{Reply, acknowledge, private, respond};
use crate::bot::Context;
use crate::mentions::no_pings;

/// What someone else pressing the buttons is told.
pub const NOT_YOURS: &str = "Only the person who asked can answer this. To be forgotten \
    yourself, use `/privacy forget`.";

/// What cancelling says.
pub const KEPT: &str = "✖️ Nothing was forgotten.";

/// Handles a press of "Forget me" (`confirm`) or "Cancel" under the question to `user`.
pub(super) async fn on_forget(
    ctx: &Context,
    interaction: &Interaction,
    user: u64,
    confirm: bool,
) -> Reply {
    if interaction.author_id().map(Id::get) != Some(user) {
        return private(ctx, interaction, NOT_YOURS).await;
    }
    if !confirm {
        return respond(ctx, interaction, &closing(KEPT)).await;
    }
    // Forgetting may take longer than Discord's 3 s on a large database: acknowledge first.
    acknowledge(ctx, interaction).await?;
    let says = match ctx.engine.privacy_forget(UserId::new(user)).await {
        Ok(report) => summary(&report),
        Err(error) => {
            tracing::warn!(%error, "cannot forget a person");
            "Forgetting failed and nothing was changed; please try again later.".to_owned()
        }
    };
    let mentions = no_pings();
    ctx.http
        .interaction(ctx.application_id)
        .update_response(&interaction.token)
        .content(Some(&says))
        .components(Some(&[]))
        .allowed_mentions(Some(&mentions))
        .await
        .map(|_| ())
}

/// The question replaced by `content`, without its buttons.
fn closing(content: &str) -> InteractionResponse {
    InteractionResponse {
        kind: InteractionResponseType::UpdateMessage,
        data: Some(InteractionResponseData {
            content: Some(content.to_owned()),
            components: Some(Vec::new()),
            allowed_mentions: Some(no_pings()),
            ..InteractionResponseData::default()
        }),
    }
}

/// What was forgotten, for the person.
pub fn summary(report: &ForgetReport) -> String {
    if report.is_empty() {
        return "🗑️ Done: nothing was stored about you.".to_owned();
    }
    format!(
        "🗑️ Done, you are forgotten: {} conversation(s) only you took part in deleted \
         ({} message(s)), {} of your message(s) in shared conversations replaced by a note, \
         {} stored vector(s), {} preference row(s), {} remembered fact(s), your name{}.",
        report.conversations_deleted,
        report.messages_deleted,
        report.messages_replaced_by_note,
        report.embeddings_deleted,
        report.preferences_deleted,
        report.facts_deleted,
        if report.tool_switches_cleared > 0 {
            " and your name on tool switches"
        } else {
            ""
        },
    )
}
