//! The quiet "Related: <title>" button: once an answer is final and shown, the engine is
//! asked (within `memory.recall_timeout`) for the person's earlier conversation very close in
//! meaning, and the answer's last message gets a button that continues it, the same
//! `pickup:ID` as `/conversations`' Continue (so the press passes the gate and
//! `interactions::pick_up` checks the conversation is still theirs from where it is pressed).

use mcpcord_engine::{MessageId, Related};
use twilight_model::channel::message::Component;
use twilight_model::channel::message::component::ButtonStyle;
use twilight_model::id::Id;
use twilight_model::id::marker::MessageMarker;

use crate::bot::Context;
use crate::components::{CustomId, MAX_ROWS, button, button_rows};
use crate::ids::ToEngine;
use crate::pacer::Route;
use crate::turns::TurnEntry;

/// What a related conversation without a title is called on its button.
const UNTITLED: &str = "an earlier conversation";

/// Adds the related-conversation button to the answer's last message `last`, which shows
/// `rows`, when the engine finds one for stored answer `answer`. Never fails the answer: a
/// failed edit is logged.
pub(crate) async fn offer(
    ctx: &Context,
    entry: &TurnEntry,
    answer: MessageId,
    last: Id<MessageMarker>,
    mut rows: Vec<Component>,
) {
    if rows.len() >= MAX_ROWS {
        return;
    }
    let person = entry.owner.to_engine();
    let Some(related) = ctx
        .engine
        .related_to_answer(answer, person, &entry.origin.scope)
        .await
    else {
        return;
    };
    let Some(row) = row(&related) else {
        return;
    };
    rows.extend(row);
    let request = ctx
        .http
        .update_message(entry.channel, last)
        .components(Some(&rows));
    if let Err(error) = ctx
        .pacer
        .send(Route::update_message(entry.channel), request)
        .await
    {
        tracing::warn!(%error, "cannot add the related conversation's button");
    }
}

/// The row with the button continuing `related` (none for an id Discord cannot carry).
pub fn row(related: &Related) -> Option<Vec<Component>> {
    let conversation = &related.conversation;
    let title = conversation
        .title
        .as_deref()
        .or(conversation.first_message.as_deref())
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| UNTITLED.to_owned());
    let pick_up = CustomId::PickUp {
        conversation: u64::try_from(conversation.id.0).ok()?,
    };
    let label = format!("Related: {title}");
    Some(button_rows(vec![button(
        pick_up,
        &label,
        ButtonStyle::Secondary,
        "🔗",
    )]))
}
