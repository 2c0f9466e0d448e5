//! Channel messages: create, list, get, edit, delete; stored per channel with the bot as
//! author, echoed to the gateway as Discord does.

use super::Ctx;
use crate::fake_discord::errors::{self, FormErrors, Reply};
use crate::fake_discord::shapes;
use crate::fake_discord::state::{World, is_empty_message};
use http::StatusCode;
use serde_json::{Value, json};

fn unknown_channel() -> Reply {
    Reply::unknown(errors::CODE_UNKNOWN_CHANNEL, "Channel")
}

fn unknown_message() -> Reply {
    Reply::unknown(errors::CODE_UNKNOWN_MESSAGE, "Message")
}

fn empty_message() -> Reply {
    Reply::error(
        StatusCode::BAD_REQUEST,
        errors::CODE_EMPTY_MESSAGE,
        "Cannot send an empty message",
    )
}

/// `POST /channels/{channel_id}/messages`.
pub(super) fn create(ctx: &Ctx<'_>) -> Reply {
    let shared = ctx.shared;
    let Some(channel_id) = ctx.route.id("channel_id") else {
        return unknown_channel();
    };
    let body = ctx.body();
    let msg = {
        let mut world = shared.world();
        if !world.channels.contains_key(&channel_id) {
            return unknown_channel();
        }
        if let Some(reference) = body.get("message_reference").filter(|r| r.is_object())
            && let Some(ref_id) = shapes::id_of(&reference["message_id"])
        {
            let ref_channel = shapes::id_of(&reference["channel_id"]).unwrap_or(channel_id);
            let must_exist = reference["fail_if_not_exists"].as_bool() != Some(false);
            if must_exist && world.message(ref_channel, ref_id).is_none() {
                let mut e = FormErrors::new();
                e.add(
                    &["message_reference".to_owned()],
                    "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                    "Unknown message",
                );
                return Reply::invalid_form(e);
            }
        }
        let id = shared.ids.next();
        let msg = world.build_message(id, channel_id, &shared.bot(), body);
        if is_empty_message(&msg) {
            return empty_message();
        }
        world.store_message(channel_id, msg.clone());
        msg
    };
    if shared.config.echo_bot_messages {
        shared.dispatch("MESSAGE_CREATE", &msg);
    }
    Reply::ok(msg)
}

/// `GET /channels/{channel_id}/messages` (newest first, `limit`, `before`, `after`).
pub(super) fn list(ctx: &Ctx<'_>) -> Reply {
    let Some(channel_id) = ctx.route.id("channel_id") else {
        return unknown_channel();
    };
    let limit = ctx
        .query("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let before = ctx.query("before").and_then(|v| v.parse::<u64>().ok());
    let after = ctx.query("after").and_then(|v| v.parse::<u64>().ok());
    let world = ctx.shared.world();
    let Some(channel) = world.channels.get(&channel_id) else {
        return unknown_channel();
    };
    let list: Vec<Value> = channel
        .messages
        .iter()
        .rev()
        .filter(|m| {
            let id = shapes::id_of(&m["id"]).unwrap_or(0);
            before.is_none_or(|b| id < b) && after.is_none_or(|a| id > a)
        })
        .take(limit)
        .cloned()
        .collect();
    Reply::ok(Value::Array(list))
}

/// `GET /channels/{channel_id}/messages/{message_id}`.
pub(super) fn get(ctx: &Ctx<'_>) -> Reply {
    let (Some(channel_id), Some(message_id)) =
        (ctx.route.id("channel_id"), ctx.route.id("message_id"))
    else {
        return unknown_message();
    };
    let world = ctx.shared.world();
    if !world.channels.contains_key(&channel_id) {
        return unknown_channel();
    }
    match world.message(channel_id, message_id) {
        Some(m) => Reply::ok(m.clone()),
        None => unknown_message(),
    }
}

/// Applies an edit body to a stored message the bot wrote; the new message or an error.
pub(crate) fn edit_stored(
    world: &mut World,
    channel_id: u64,
    message_id: u64,
    bot_id: u64,
    body: &Value,
) -> Result<Value, Reply> {
    let Some(current) = world.message(channel_id, message_id).cloned() else {
        return Err(unknown_message());
    };
    if shapes::id_of(&current["author"]["id"]) != Some(bot_id) {
        return Err(Reply::error(
            StatusCode::FORBIDDEN,
            errors::CODE_NOT_AUTHOR,
            "Cannot edit a message authored by another user",
        ));
    }
    let mut updated = current;
    let mut body = body.clone();
    // Only SUPPRESS_EMBEDS (and flags Discord keeps) can change on edit.
    if let Some(flags) = body.get("flags").and_then(Value::as_u64) {
        let old = updated["flags"].as_u64().unwrap_or(0);
        body["flags"] = json!((old & !4) | (flags & 4));
    }
    world.apply_body(&mut updated, &body, false);
    if is_empty_message(&updated) {
        return Err(empty_message());
    }
    World::touch_edited(&mut updated);
    if let Some(slot) = world.message_mut(channel_id, message_id) {
        *slot = updated.clone();
    }
    Ok(updated)
}

/// `PATCH /channels/{channel_id}/messages/{message_id}`.
pub(super) fn edit(ctx: &Ctx<'_>) -> Reply {
    let shared = ctx.shared;
    let (Some(channel_id), Some(message_id)) =
        (ctx.route.id("channel_id"), ctx.route.id("message_id"))
    else {
        return unknown_message();
    };
    let result = {
        let mut world = shared.world();
        if !world.channels.contains_key(&channel_id) {
            return unknown_channel();
        }
        edit_stored(
            &mut world,
            channel_id,
            message_id,
            shared.config.bot_user_id,
            ctx.body(),
        )
    };
    match result {
        Ok(msg) => {
            if shared.config.echo_bot_messages {
                shared.dispatch("MESSAGE_UPDATE", &msg);
            }
            Reply::ok(msg)
        }
        Err(reply) => reply,
    }
}

/// `DELETE /channels/{channel_id}/messages/{message_id}`.
pub(super) fn delete(ctx: &Ctx<'_>) -> Reply {
    let shared = ctx.shared;
    let (Some(channel_id), Some(message_id)) =
        (ctx.route.id("channel_id"), ctx.route.id("message_id"))
    else {
        return unknown_message();
    };
    let removed = {
        let mut world = shared.world();
        if !world.channels.contains_key(&channel_id) {
            return unknown_channel();
        }
        world.remove_message(channel_id, message_id)
    };
    match removed {
        Some(msg) => {
            let mut event =
                json!({"id": message_id.to_string(), "channel_id": channel_id.to_string()});
            if let Some(g) = msg.get("guild_id") {
                event["guild_id"] = g.clone();
            }
            shared.dispatch("MESSAGE_DELETE", &event);
            Reply::no_content()
        }
        None => unknown_message(),
    }
}
