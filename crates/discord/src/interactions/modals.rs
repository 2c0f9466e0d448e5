//! Modal submits: an MCP server's form (answered through the turn's entry) and `/prompt`'s
//! arguments.

use std::collections::BTreeMap;
use std::sync::Arc;

use twilight_model::application::interaction::modal::{
    ModalInteractionComponent, ModalInteractionData,
};
use twilight_model::application::interaction::{Interaction, InteractionData};

use super::buttons::{not_yours, turn_of};
use super::{Reply, acknowledge, defer, deliver, private};
use crate::bot::Context;
use crate::commands::Call;
use crate::commands::prompt::{FormClaim, run_prompt};
use crate::components::CustomId;
use crate::middleware::{CommandResponse, Invoker};
use crate::turns::FormAnswer;

/// Handles a modal submit.
pub(super) async fn on_modal(ctx: &Arc<Context>, interaction: &Interaction) -> Reply {
    let Some(InteractionData::ModalSubmit(data)) = &interaction.data else {
        return Ok(());
    };
    let values = modal_values(data);
    let id = CustomId::parse(&data.custom_id);
    match id {
        CustomId::ElicitForm { turn, call } => {
            elicit_form(ctx, interaction, &id, turn, call, &values).await
        }
        CustomId::PromptForm { request } => prompt_form(ctx, interaction, request, values).await,
        _ => {
            private(
                ctx,
                interaction,
                "This form is from an older version of the bot.",
            )
            .await
        }
    }
}

/// An MCP server's form, submitted by the person whose turn it is.
async fn elicit_form(
    ctx: &Context,
    interaction: &Interaction,
    id: &CustomId,
    turn: u64,
    call: u32,
    values: &[(String, String)],
) -> Reply {
    let entry = match turn_of(ctx, interaction, turn) {
        Ok(entry) => entry,
        Err(why) => return private(ctx, interaction, why).await,
    };
    if let Some(why) = not_yours(ctx, interaction, &entry, id) {
        return private(ctx, interaction, why).await;
    }
    match entry.answer_form(call, values) {
        FormAnswer::Answered => acknowledge(ctx, interaction).await,
        FormAnswer::Gone => private(ctx, interaction, "This question was already answered.").await,
        FormAnswer::Invalid(why) => {
            let says = format!("⚠️ {why} — press the button to try again.");
            private(ctx, interaction, &says).await
        }
    }
}

/// `/prompt`'s arguments, submitted by the person who ran it: the prompt runs.
async fn prompt_form(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    request: u64,
    values: Vec<(String, String)>,
) -> Reply {
    let Some(invoker) = Invoker::from_interaction(interaction) else {
        return Ok(());
    };
    let prompt = match ctx.prompts.take_for(request, invoker.user) {
        FormClaim::Mine(prompt) => prompt,
        FormClaim::NotYours => {
            return private(ctx, interaction, "This form is someone else's.").await;
        }
        FormClaim::Gone => {
            return private(ctx, interaction, "This form expired; run `/prompt` again.").await;
        }
    };
    defer(ctx, interaction, false).await?;
    let arguments: BTreeMap<String, String> =
        values.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let call = Call {
        ctx,
        interaction,
        invoker: &invoker,
    };
    let response = run_prompt(call, &prompt.server, &prompt.name, arguments)
        .await
        .unwrap_or_else(|error| CommandResponse::private(format!("⚠️ {error}")));
    deliver(ctx, interaction, response).await
}

/// The values typed into a modal, by field.
fn modal_values(data: &ModalInteractionData) -> Vec<(String, String)> {
    fn walk(component: &ModalInteractionComponent, out: &mut Vec<(String, String)>) {
        match component {
            ModalInteractionComponent::Label(label) => walk(&label.component, out),
            ModalInteractionComponent::ActionRow(row) => {
                for inner in &row.components {
                    walk(inner, out);
                }
            }
            ModalInteractionComponent::TextInput(input) => {
                out.push((input.custom_id.clone(), input.value.clone()));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for component in &data.components {
        walk(component, &mut out);
    }
    out
}
