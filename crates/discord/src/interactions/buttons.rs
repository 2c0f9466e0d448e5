//! Button and menu presses: the answer's own controls (Stop, Regenerate, Continue, Reasoning),
//! its questions (tool approvals, forms) and the model menu.
//!
//! A control acts only on the turn it names, when pressed on that turn's answer in its channel,
//! and only for whom it belongs to ([`not_yours`]); the turn's questions change only through
//! the entry's own methods ([`TurnEntry`]).

use std::sync::Arc;

use mcpcord_engine::{Approval, Speaker, TurnAction};
use twilight_model::application::interaction::message_component::MessageComponentInteractionData;
use twilight_model::application::interaction::{Interaction, InteractionData};
use twilight_model::channel::message::MessageFlags;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};

use super::{Reply, acknowledge, message_response, pick_up, privacy, private, respond, resume};
use crate::bot::Context;
use crate::commands::{ScopeChoice, invoker_name, level, may_pick, scope_words};
use crate::components::{self, CustomId, Decision};
use crate::forms;
use crate::ids::ToEngine;
use crate::mentions::no_pings;
use crate::middleware::{CommandError, Invoker};
use crate::pacer::Route;
use crate::reply;
use crate::roles::{Refused, record_refusal};
use crate::turns::TurnEntry;

/// What a control from an earlier run of the bot (or one forgotten long ago) answers.
const EARLIER_RUN: &str = "This answer is from an earlier run of the bot (or too old); its \
    buttons do nothing now. Mention me to go on.";

/// What a control answers when the message it is on is not the answer of the turn it names.
const NOT_THIS_ANSWER: &str = "This button does not belong to this answer; it does nothing.";

/// Handles a press of a button or a choice in a menu.
pub(super) async fn on_component(ctx: &Arc<Context>, interaction: &Interaction) -> Reply {
    let Some(InteractionData::MessageComponent(data)) = &interaction.data else {
        return Ok(());
    };
    let id = CustomId::parse(&data.custom_id);
    match id {
        CustomId::ModelMenu { scope } => return model_menu(ctx, interaction, data, scope).await,
        CustomId::Resume { conversation } => {
            return resume::on_resume(ctx, interaction, conversation).await;
        }
        CustomId::PickUp { conversation } => {
            return pick_up::on_pick_up(ctx, interaction, conversation).await;
        }
        CustomId::BringIn { conversation } => {
            return pick_up::on_bring_in(ctx, interaction, conversation).await;
        }
        CustomId::Forget { user, confirm } => {
            return privacy::on_forget(ctx, interaction, user, confirm).await;
        }
        _ => {}
    }
    let entry = match pressed(ctx, interaction, &id) {
        Ok(entry) => entry,
        Err(why) => return private(ctx, interaction, why).await,
    };
    act(ctx, interaction, &entry, id).await
}

/// The turn whose control `id` was pressed, if the press may act on it: the control names a
/// turn of this run, is on its answer, and belongs to whoever pressed it.
fn pressed(
    ctx: &Context,
    interaction: &Interaction,
    id: &CustomId,
) -> Result<Arc<TurnEntry>, &'static str> {
    let turn = id
        .turn()
        .ok_or("This button is from an older version of the bot; it does nothing now.")?;
    let entry = turn_of(ctx, interaction, turn)?;
    match not_yours(ctx, interaction, &entry, id) {
        Some(why) => Err(why),
        None => Ok(entry),
    }
}

/// What control `id` does to its turn.
async fn act(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    entry: &Arc<TurnEntry>,
    id: CustomId,
) -> Reply {
    match id {
        CustomId::Stop { .. } => {
            acknowledge(ctx, interaction).await?;
            entry.stop.cancel();
            Ok(())
        }
        CustomId::Regenerate { .. } => again(ctx, interaction, entry, Again::Regenerate).await,
        CustomId::Continue { .. } => again(ctx, interaction, entry, Again::Continue).await,
        CustomId::Reasoning { .. } => reasoning(ctx, interaction, entry).await,
        CustomId::Approval { call, decision, .. } => {
            decide(ctx, interaction, entry, call, decision).await
        }
        CustomId::Elicit { call, turn } => open_form(ctx, interaction, entry, turn, call).await,
        _ => Ok(()),
    }
}

/// The turn a control names, when the control really is on that turn's answer: the turn is
/// remembered (so from this run), the message pressed is one of its messages, and the channel
/// is its channel.
pub(super) fn turn_of(
    ctx: &Context,
    interaction: &Interaction,
    turn: u64,
) -> Result<Arc<TurnEntry>, &'static str> {
    let entry = ctx.turns.get(turn).ok_or(EARLIER_RUN)?;
    let on_answer = interaction
        .message
        .as_ref()
        .is_some_and(|m| entry.lock().messages.contains(&m.id));
    let in_channel = interaction
        .channel
        .as_ref()
        .is_some_and(|c| c.id == entry.channel);
    if on_answer && in_channel {
        Ok(entry)
    } else {
        Err(NOT_THIS_ANSWER)
    }
}

/// Whether the person pressing may use `entry`'s controls that belong to its asker: the asker,
/// and admins.
fn may_act(ctx: &Context, interaction: &Interaction, entry: &TurnEntry) -> bool {
    let Some(invoker) = Invoker::from_interaction(interaction) else {
        return false;
    };
    invoker.user == entry.owner || ctx.config().admins.allows(&invoker)
}

/// Who control `id` belongs to — the asker and admins (`true`), or the person whose turn it is
/// alone (`false`) — and what others are told; `None` for controls not tied to a turn.
fn owner_of(id: &CustomId) -> Option<(bool, &'static str)> {
    Some(match id {
        CustomId::Stop { .. } => (
            true,
            "Only the person who asked (or an admin) can stop this answer.",
        ),
        CustomId::Regenerate { .. } => (
            true,
            "Only the person who asked (or an admin) can regenerate this answer.",
        ),
        CustomId::Continue { .. } => (
            true,
            "Only the person who asked (or an admin) can continue this answer.",
        ),
        CustomId::Reasoning { .. } => (
            true,
            "Only the person who asked (or an admin) can see the reasoning.",
        ),
        CustomId::Approval { .. } => (
            false,
            "Only the person who asked, an admin or a bot role that approves for others can \
             decide.",
        ),
        CustomId::Elicit { .. } | CustomId::ElicitForm { .. } => {
            (false, "Only the person whose turn it is can answer.")
        }
        CustomId::ModelMenu { .. }
        | CustomId::PromptForm { .. }
        | CustomId::Resume { .. }
        | CustomId::PickUp { .. }
        | CustomId::BringIn { .. }
        | CustomId::Forget { .. }
        | CustomId::Unknown(_) => {
            return None;
        }
    })
}

/// Why the person pressing may not use control `id` of `entry`, if they may not: the answer's
/// own controls (Stop, Regenerate, Continue, Reasoning) belong to its asker and the admins; its
/// approvals to its asker, the admins and bot roles that approve for others; its forms to the
/// person whose turn it is, alone.
pub(super) fn not_yours(
    ctx: &Context,
    interaction: &Interaction,
    entry: &TurnEntry,
    id: &CustomId,
) -> Option<&'static str> {
    let (asker_or_admin, refusal) = owner_of(id)?;
    let allowed = if asker_or_admin {
        may_act(ctx, interaction, entry)
    } else if matches!(id, CustomId::Approval { .. }) {
        may_approve(ctx, interaction, entry)
    } else {
        interaction.author_id() == Some(entry.owner)
    };
    (!allowed).then_some(refusal)
}

/// Whether the person pressing may decide on a tool call of `entry`: its asker, an admin, or a
/// bot role that approves for others; a refusal is recorded.
fn may_approve(ctx: &Context, interaction: &Interaction, entry: &TurnEntry) -> bool {
    let Some(invoker) = Invoker::from_interaction(interaction) else {
        return false;
    };
    if invoker.user == entry.owner {
        return true;
    }
    let resolved = ctx.config().policy().resolve(&invoker);
    let allowed = resolved.may_approve_for_others();
    if !allowed {
        record_refusal(Some(ctx), &invoker, &resolved, &Refused::Approval);
    }
    allowed
}

/// The Reasoning button: the model's reasoning, privately (to the asker or an admin).
async fn reasoning(ctx: &Context, interaction: &Interaction, entry: &TurnEntry) -> Reply {
    let pieces = entry.lock().answer.reasoning_pieces();
    let mut pieces = pieces.into_iter();
    let first = pieces.next().unwrap_or_else(|| "*(no reasoning)*".into());
    respond(ctx, interaction, &message_response(&first, true)).await?;
    let mentions = no_pings();
    for piece in pieces {
        ctx.http
            .interaction(ctx.application_id)
            .create_followup(&interaction.token)
            .content(&piece)
            .flags(MessageFlags::EPHEMERAL)
            .allowed_mentions(Some(&mentions))
            .await?;
    }
    Ok(())
}

/// An approval button (pressed by the person whose turn it is).
async fn decide(
    ctx: &Context,
    interaction: &Interaction,
    entry: &TurnEntry,
    call: u32,
    decision: Decision,
) -> Reply {
    let approval = match decision {
        Decision::Approve => Approval::Approve,
        Decision::Always => Approval::AlwaysInConversation,
        Decision::Deny => Approval::Deny,
    };
    let Some(by) = interaction.author_id() else {
        return private(ctx, interaction, "This was already decided (or timed out).").await;
    };
    if !entry.decide(call, approval, by.to_engine()) {
        return private(ctx, interaction, "This was already decided (or timed out).").await;
    }
    acknowledge(ctx, interaction).await
}

/// A form button: opens the MCP server's form as a modal (for the person whose turn it is); a
/// form Discord cannot show is declined.
async fn open_form(
    ctx: &Context,
    interaction: &Interaction,
    entry: &TurnEntry,
    turn: u64,
    call: u32,
) -> Reply {
    let Some((message, schema)) = entry.form(call) else {
        return private(ctx, interaction, "This question was already answered.").await;
    };
    let modal = forms::form_fields(&schema)
        .map_err(|e| e.to_string())
        .and_then(|fields| {
            components::modal(CustomId::ElicitForm { turn, call }, &message, &fields)
                .map_err(|e| e.to_string())
        });
    match modal {
        Ok(modal) => respond(ctx, interaction, &modal).await,
        Err(why) => {
            entry.decline(call);
            let says = format!("This form cannot be shown in Discord ({why}); it was declined.");
            private(ctx, interaction, &says).await
        }
    }
}

/// The model menu of `/model show`: the choice is stored at its scope.
async fn model_menu(
    ctx: &Context,
    interaction: &Interaction,
    data: &MessageComponentInteractionData,
    scope: components::Scope,
) -> Reply {
    let Some(invoker) = Invoker::from_interaction(interaction) else {
        return Ok(());
    };
    let Some(model) = data.values.first() else {
        return acknowledge(ctx, interaction).await;
    };
    let choice = match scope {
        components::Scope::User => ScopeChoice::User,
        components::Scope::Channel => ScopeChoice::Channel,
        components::Scope::Server => ScopeChoice::Server,
    };
    if let Err(why) = choose_model(ctx, &invoker, choice, model).await {
        return private(ctx, interaction, &why).await;
    }
    let response = InteractionResponse {
        kind: InteractionResponseType::UpdateMessage,
        data: Some(InteractionResponseData {
            content: Some(format!(
                "✅ `{model}` answers {} from now on.",
                scope_words(Some(choice))
            )),
            components: Some(Vec::new()),
            allowed_mentions: Some(no_pings()),
            ..InteractionResponseData::default()
        }),
    };
    respond(ctx, interaction, &response).await
}

/// Stores `invoker`'s choice of `model` at `choice`, if they may make it; or what to tell them.
async fn choose_model(
    ctx: &Context,
    invoker: &Invoker,
    choice: ScopeChoice,
    model: &str,
) -> Result<(), String> {
    if choice != ScopeChoice::User && !ctx.config().admins.allows(invoker) {
        ctx.engine.audit(crate::audit::admin_only(
            invoker,
            "model menu (channel or server)",
        ));
        return Err("🔒 Only the bot's admins choose for a channel or server.".into());
    }
    may_pick(ctx, invoker, model).map_err(|error| format!("🔒 {error}"))?;
    let level = level(Some(choice), invoker).map_err(|error| error.to_string())?;
    ctx.engine
        .set_model_preference(level, model)
        .await
        .map_err(|error| {
            let error = CommandError::from(error);
            let id = crate::middleware::error_id();
            tracing::warn!(error_id = %id, %error, "cannot store a model preference");
            crate::middleware::friendly_message(&error, &id)
        })?;
    crate::audit::admin_change(
        ctx,
        invoker,
        level,
        "model.set",
        serde_json::json!({ "model": model }),
    );
    Ok(())
}

/// What a Regenerate or Continue press asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Again {
    Regenerate,
    Continue,
}

impl Again {
    fn verb(self) -> &'static str {
        match self {
            Self::Regenerate => "regenerate",
            Self::Continue => "continue",
        }
    }
}

/// Regenerate or Continue: a new turn in the same conversation, on the answer the button is
/// under, by its asker (or an admin, who then decides on its tools).
async fn again(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    entry: &Arc<TurnEntry>,
    what: Again,
) -> Reply {
    let (finished, last, stored) = {
        let state = entry.lock();
        (state.finished, state.messages.last().copied(), state.stored)
    };
    if let Err(why) = may_go_again(ctx, entry, finished, stored, what).await {
        return private(ctx, interaction, &why).await;
    }
    let Some(invoker) = Invoker::from_interaction(interaction) else {
        return Ok(());
    };
    let action = match what {
        Again::Regenerate => TurnAction::Regenerate { answer: stored },
        Again::Continue => TurnAction::Continue { answer: stored },
    };
    let author = Speaker {
        id: Some(invoker.user.to_engine()),
        name: invoker_name(interaction),
    };
    let grants = ctx.config().policy().resolve(&invoker).grants;
    let request = entry.origin.request(author, action, grants);
    if let Err(busy) = reply::start(ctx, request, invoker.user, entry.channel, last) {
        return private(ctx, interaction, &format!("⏳ {busy}.")).await;
    }
    acknowledge(ctx, interaction).await?;
    // The old answer's buttons go: the new answer carries them.
    if let Some(last) = last {
        let request = ctx
            .http
            .update_message(entry.channel, last)
            .components(Some(&[]));
        let _ = ctx
            .pacer
            .send(Route::update_message(entry.channel), request)
            .await;
    }
    Ok(())
}

/// Why Regenerate or Continue cannot start now, if it cannot: the answer is not finished, the
/// bot is shutting down, or the answer is no longer its conversation's latest.
async fn may_go_again(
    ctx: &Context,
    entry: &TurnEntry,
    finished: bool,
    stored: Option<mcpcord_engine::MessageId>,
    what: Again,
) -> Result<(), String> {
    if !finished {
        return Err("Wait until the answer is finished.".into());
    }
    if !ctx.accepting() {
        return Err("The bot is shutting down.".into());
    }
    let Some(stored) = stored else {
        return Ok(());
    };
    match ctx.engine.latest_answer(&entry.origin.key).await {
        Ok(Some(latest)) if latest == stored => Ok(()),
        Ok(_) => Err(format!(
            "This answer is no longer the latest in its conversation; only the latest can be \
             {}d.",
            what.verb()
        )),
        Err(error) => {
            let id = crate::middleware::error_id();
            tracing::error!(error_id = %id, %error, "cannot read the conversation");
            Err(crate::middleware::friendly_message(
                &CommandError::internal(error),
                &id,
            ))
        }
    }
}
