//! Interaction callbacks (`/interactions/{id}/{token}/callback`, types 1, 4–9) with the 3 s
//! deadline and "already acknowledged", and the interaction webhook routes: followups and the
//! original response (`/webhooks/{app_id}/{token}[/messages/@original|{id}]`).

use super::Ctx;
use super::messages::edit_stored;
use crate::fake_discord::errors::{self, FormErrors, Reply};
use crate::fake_discord::limits::{FLAG_EPHEMERAL, FLAG_LOADING, INTERACTION_TOKEN_LIFETIME};
use crate::fake_discord::records::{InteractionResponse, LateInteraction, ResponseKind};
use crate::fake_discord::shapes;
use crate::fake_discord::state::{InteractionRec, Shared, World, is_empty_message};
use http::StatusCode;
use serde_json::{Value, json};

const CALLBACK_PONG: u64 = 1;
const CALLBACK_MESSAGE: u64 = 4;
const CALLBACK_DEFERRED_MESSAGE: u64 = 5;
const CALLBACK_DEFERRED_UPDATE: u64 = 6;
const CALLBACK_UPDATE: u64 = 7;
const CALLBACK_AUTOCOMPLETE: u64 = 8;
const CALLBACK_MODAL: u64 = 9;

fn unknown_interaction() -> Reply {
    Reply::unknown(errors::CODE_UNKNOWN_INTERACTION, "interaction")
}

fn unknown_webhook() -> Reply {
    Reply::unknown(errors::CODE_UNKNOWN_WEBHOOK, "Webhook")
}

fn record(shared: &Shared, rec: &InteractionRec, ctx: &Ctx<'_>, kind: ResponseKind, reply: &Reply) {
    shared.records().responses.push(InteractionResponse {
        interaction_id: rec.id,
        kind,
        body: ctx.body.cloned(),
        status: reply.status.as_u16(),
        since_injection: ctx.at.saturating_duration_since(rec.injected_at),
    });
}

/// Callback types valid for an interaction type.
fn allowed_callbacks(rec: &InteractionRec) -> &'static [u64] {
    match rec.kind {
        1 => &[CALLBACK_PONG],
        2 => &[CALLBACK_MESSAGE, CALLBACK_DEFERRED_MESSAGE, CALLBACK_MODAL],
        3 => &[
            CALLBACK_MESSAGE,
            CALLBACK_DEFERRED_MESSAGE,
            CALLBACK_DEFERRED_UPDATE,
            CALLBACK_UPDATE,
            CALLBACK_MODAL,
        ],
        4 => &[CALLBACK_AUTOCOMPLETE],
        5 if rec.message_id.is_some() => &[
            CALLBACK_MESSAGE,
            CALLBACK_DEFERRED_MESSAGE,
            CALLBACK_DEFERRED_UPDATE,
            CALLBACK_UPDATE,
        ],
        5 => &[CALLBACK_MESSAGE, CALLBACK_DEFERRED_MESSAGE],
        _ => &[],
    }
}

/// A message the bot sends for an interaction (response or followup).
fn interaction_message(
    shared: &Shared,
    world: &World,
    rec: &InteractionRec,
    data: &Value,
) -> Value {
    let id = shared.ids.next();
    let mut msg = world.build_message(id, rec.channel_id, &shared.bot(), data);
    let app = shared.config.application_id.to_string();
    msg["webhook_id"] = json!(app);
    msg["application_id"] = json!(app);
    if rec.kind == 2 {
        msg["type"] = json!(20);
    }
    msg
}

fn store_and_echo(shared: &Shared, channel_id: u64, msg: &Value) {
    shared.world().store_message(channel_id, msg.clone());
    let ephemeral = msg["flags"].as_u64().unwrap_or(0) & FLAG_EPHEMERAL != 0;
    if shared.config.echo_bot_messages && !ephemeral {
        shared.dispatch("MESSAGE_CREATE", msg);
    }
}

/// `POST /interactions/{interaction_id}/{interaction_token}/callback`.
pub(super) fn callback(ctx: &Ctx<'_>) -> Reply {
    let shared = ctx.shared;
    let id = ctx.route.id("interaction_id").unwrap_or(0);
    let token = ctx.route.param("interaction_token");
    let Some(rec) = shared
        .world()
        .interactions
        .get(&id)
        .filter(|r| r.token == token)
        .cloned()
    else {
        return unknown_interaction();
    };
    let ty = ctx.body()["type"].as_u64().unwrap_or(0);
    let reply = callback_inner(ctx, &rec, ty);
    record(shared, &rec, ctx, ResponseKind::Callback(ty as u8), &reply);
    reply
}

fn callback_inner(ctx: &Ctx<'_>, rec: &InteractionRec, ty: u64) -> Reply {
    let shared = ctx.shared;
    if rec.expired {
        return unknown_interaction();
    }
    if rec.callback.is_some() {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            errors::CODE_ALREADY_ACKNOWLEDGED,
            "Interaction has already been acknowledged.",
        );
    }
    let elapsed = ctx.at.saturating_duration_since(rec.injected_at);
    let deadline = shared.config.interaction_deadline;
    if elapsed > deadline {
        if let Some(r) = shared.world().interactions.get_mut(&rec.id) {
            r.expired = true;
        }
        shared.records().late.push(LateInteraction {
            interaction_id: rec.id,
            answered_after: Some(elapsed),
            deadline,
        });
        return unknown_interaction();
    }
    if !allowed_callbacks(rec).contains(&ty) {
        let mut e = FormErrors::new();
        e.add(
            &["type".to_owned()],
            "INTERACTION_RESPONSE_TYPE_INVALID",
            "Interaction response type is not valid for this interaction",
        );
        return Reply::invalid_form(e);
    }
    let data = ctx.body()["data"].clone();
    let data = if data.is_object() { data } else { json!({}) };
    let mut original = rec.original_message_id;
    let mut resource_message = None;
    match ty {
        CALLBACK_MESSAGE | CALLBACK_DEFERRED_MESSAGE => {
            let msg = {
                let world = shared.world();
                if ty == CALLBACK_MESSAGE {
                    interaction_message(shared, &world, rec, &data)
                } else {
                    let flags = data["flags"].as_u64().unwrap_or(0) & FLAG_EPHEMERAL;
                    interaction_message(
                        shared,
                        &world,
                        rec,
                        &json!({"content": "", "flags": flags | FLAG_LOADING}),
                    )
                }
            };
            if ty == CALLBACK_MESSAGE && is_empty_message(&msg) {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    errors::CODE_EMPTY_MESSAGE,
                    "Cannot send an empty message",
                );
            }
            original = shapes::id_of(&msg["id"]);
            store_and_echo(shared, rec.channel_id, &msg);
            resource_message = Some(msg);
        }
        CALLBACK_DEFERRED_UPDATE => original = rec.message_id,
        CALLBACK_UPDATE => {
            original = rec.message_id;
            if let Some(mid) = rec.message_id {
                let edited = {
                    let mut world = shared.world();
                    world.message(rec.channel_id, mid).is_some().then(|| {
                        edit_stored(
                            &mut world,
                            rec.channel_id,
                            mid,
                            shared.config.bot_user_id,
                            &data,
                        )
                    })
                };
                match edited {
                    Some(Ok(msg)) => {
                        if shared.config.echo_bot_messages {
                            shared.dispatch("MESSAGE_UPDATE", &msg);
                        }
                        resource_message = Some(msg);
                    }
                    Some(Err(reply)) => return reply,
                    None => {}
                }
            }
        }
        _ => {}
    }
    if let Some(r) = shared.world().interactions.get_mut(&rec.id) {
        r.callback = Some((ctx.at, ty as u8));
        r.original_message_id = original;
    }
    if ctx.query("with_response") == Some("true") {
        let flags = resource_message
            .as_ref()
            .and_then(|m| m["flags"].as_u64())
            .unwrap_or(0);
        let mut body = json!({
            "interaction": {
                "id": rec.id.to_string(),
                "type": rec.kind,
                "response_message_id": original.map(|o| o.to_string()),
                "response_message_loading": flags & FLAG_LOADING != 0,
                "response_message_ephemeral": flags & FLAG_EPHEMERAL != 0,
            },
            "resource": {"type": ty},
        });
        if let Some(m) = resource_message {
            body["resource"]["message"] = m;
        }
        return Reply::ok(body);
    }
    Reply::no_content()
}

/// The webhook routes of an interaction token.
pub(super) fn webhook(ctx: &Ctx<'_>) -> Reply {
    let shared = ctx.shared;
    let token = ctx.route.param("webhook_token");
    let webhook_id = ctx.route.id("webhook_id");
    let rec = shared
        .world()
        .interactions
        .values()
        .find(|r| r.token == token)
        .cloned();
    let Some(rec) = rec.filter(|_| webhook_id == Some(shared.config.application_id)) else {
        return unknown_webhook();
    };
    let template = ctx.route.template;
    let method = ctx.route.method.as_str();
    let target = ctx.route.id("message_id");
    let kind = match (method, template.ends_with("@original"), target) {
        ("post", false, None) if template == "/webhooks/{webhook_id}/{webhook_token}" => {
            ResponseKind::Followup
        }
        ("get", true, _) => ResponseKind::GetOriginal,
        ("patch", true, _) => ResponseKind::EditOriginal,
        ("delete", true, _) => ResponseKind::DeleteOriginal,
        ("get", false, Some(m)) => ResponseKind::GetFollowup(m),
        ("patch", false, Some(m)) => ResponseKind::EditFollowup(m),
        ("delete", false, Some(m)) => ResponseKind::DeleteFollowup(m),
        _ => {
            return Reply::error(
                StatusCode::NOT_IMPLEMENTED,
                0,
                &format!(
                    "FakeDiscord does not model {} {template}",
                    method.to_ascii_uppercase()
                ),
            );
        }
    };
    let reply = webhook_inner(ctx, &rec, &kind);
    record(shared, &rec, ctx, kind, &reply);
    reply
}

fn webhook_inner(ctx: &Ctx<'_>, rec: &InteractionRec, kind: &ResponseKind) -> Reply {
    let shared = ctx.shared;
    if rec.expired || rec.callback.is_none() {
        return unknown_webhook();
    }
    if ctx.at.saturating_duration_since(rec.injected_at) > INTERACTION_TOKEN_LIFETIME {
        return Reply::error(
            StatusCode::UNAUTHORIZED,
            errors::CODE_INVALID_WEBHOOK_TOKEN,
            "Invalid Webhook Token",
        );
    }
    let unknown_message = || Reply::unknown(errors::CODE_UNKNOWN_MESSAGE, "Message");
    let target = match kind {
        ResponseKind::Followup => {
            let msg = interaction_message(shared, &shared.world(), rec, ctx.body());
            if is_empty_message(&msg) {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    errors::CODE_EMPTY_MESSAGE,
                    "Cannot send an empty message",
                );
            }
            if let Some(r) = shared.world().interactions.get_mut(&rec.id) {
                r.followups.extend(shapes::id_of(&msg["id"]));
            }
            store_and_echo(shared, rec.channel_id, &msg);
            return Reply::ok(msg);
        }
        ResponseKind::GetOriginal | ResponseKind::EditOriginal | ResponseKind::DeleteOriginal => {
            rec.original_message_id
        }
        ResponseKind::GetFollowup(m)
        | ResponseKind::EditFollowup(m)
        | ResponseKind::DeleteFollowup(m) => {
            Some(*m).filter(|m| rec.followups.contains(m) || rec.original_message_id == Some(*m))
        }
        ResponseKind::Callback(_) => None,
    };
    let Some(message_id) = target else {
        return unknown_message();
    };
    match kind {
        ResponseKind::GetOriginal | ResponseKind::GetFollowup(_) => {
            match shared.world().message(rec.channel_id, message_id) {
                Some(m) => Reply::ok(m.clone()),
                None => unknown_message(),
            }
        }
        ResponseKind::DeleteOriginal | ResponseKind::DeleteFollowup(_) => {
            let removed = shared.world().remove_message(rec.channel_id, message_id);
            match removed {
                Some(msg) => {
                    let mut event = json!({"id": message_id.to_string(), "channel_id": rec.channel_id.to_string()});
                    if let Some(g) = msg.get("guild_id") {
                        event["guild_id"] = g.clone();
                    }
                    shared.dispatch("MESSAGE_DELETE", &event);
                    Reply::no_content()
                }
                None => unknown_message(),
            }
        }
        _ => {
            let result = {
                let mut world = shared.world();
                let edited = edit_stored(
                    &mut world,
                    rec.channel_id,
                    message_id,
                    shared.config.bot_user_id,
                    ctx.body(),
                );
                edited.map(|mut msg| {
                    let flags = msg["flags"].as_u64().unwrap_or(0);
                    if flags & FLAG_LOADING != 0 {
                        msg["flags"] = json!(flags & !FLAG_LOADING);
                        if let Some(slot) = world.message_mut(rec.channel_id, message_id) {
                            *slot = msg.clone();
                        }
                    }
                    msg
                })
            };
            match result {
                Ok(msg) => {
                    let ephemeral = msg["flags"].as_u64().unwrap_or(0) & FLAG_EPHEMERAL != 0;
                    if shared.config.echo_bot_messages && !ephemeral {
                        shared.dispatch("MESSAGE_UPDATE", &msg);
                    }
                    Reply::ok(msg)
                }
                Err(reply) => reply,
            }
        }
    }
}
