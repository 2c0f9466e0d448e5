//! The smaller routes a bot uses: gateway discovery, the current user and application, users,
//! channels, DMs, typing and threads.

use super::Ctx;
use crate::fake_discord::errors::{self, Reply};
use crate::fake_discord::shapes;
use http::StatusCode;
use serde_json::{Value, json};

fn unknown_channel() -> Reply {
    Reply::unknown(errors::CODE_UNKNOWN_CHANNEL, "Channel")
}

/// `GET /gateway`.
pub(super) fn gateway(ctx: &Ctx<'_>) -> Reply {
    Reply::ok(json!({"url": ctx.shared.gateway_url()}))
}

/// `GET /gateway/bot`.
pub(super) fn gateway_bot(ctx: &Ctx<'_>) -> Reply {
    Reply::ok(json!({
        "url": ctx.shared.gateway_url(),
        "shards": ctx.shared.config.shards,
        "session_start_limit": {
            "total": 1000,
            "remaining": 999,
            "reset_after": 14_400_000,
            "max_concurrency": 1,
        },
    }))
}

/// `GET /users/@me`.
pub(super) fn current_user(ctx: &Ctx<'_>) -> Reply {
    Reply::ok(shapes::current_user(&ctx.shared.bot()))
}

/// `GET /users/{user_id}`.
pub(super) fn user(ctx: &Ctx<'_>) -> Reply {
    let id = ctx.route.id("user_id").unwrap_or(0);
    match ctx.shared.world().users.get(&id) {
        Some(u) => Reply::ok(shapes::user(u)),
        None => Reply::unknown(errors::CODE_UNKNOWN_USER, "User"),
    }
}

/// `POST /users/@me/channels` (open a DM).
pub(super) fn create_dm(ctx: &Ctx<'_>) -> Reply {
    let shared = ctx.shared;
    let Some(recipient) = shapes::id_of(&ctx.body()["recipient_id"]) else {
        return Reply::unknown(errors::CODE_UNKNOWN_USER, "User");
    };
    let mut world = shared.world();
    if !world.users.contains_key(&recipient) {
        return Reply::unknown(errors::CODE_UNKNOWN_USER, "User");
    }
    let id = world.dm_channel(recipient, || shared.ids.next());
    match world.channels.get(&id) {
        Some(c) => Reply::ok(c.json.clone()),
        None => unknown_channel(),
    }
}

/// `GET /applications/@me`.
pub(super) fn application(ctx: &Ctx<'_>) -> Reply {
    let c = &ctx.shared.config;
    Reply::ok(shapes::application(
        c.application_id,
        &c.application_name,
        &ctx.shared.bot(),
    ))
}

/// `GET /channels/{channel_id}`.
pub(super) fn channel(ctx: &Ctx<'_>) -> Reply {
    let id = ctx.route.id("channel_id").unwrap_or(0);
    match ctx.shared.world().channels.get(&id) {
        Some(c) => Reply::ok(c.json.clone()),
        None => unknown_channel(),
    }
}

/// `POST /channels/{channel_id}/typing`.
pub(super) fn typing(ctx: &Ctx<'_>) -> Reply {
    let id = ctx.route.id("channel_id").unwrap_or(0);
    if ctx.shared.world().channels.contains_key(&id) {
        Reply::no_content()
    } else {
        unknown_channel()
    }
}

fn wrong_channel_type() -> Reply {
    Reply::error(
        StatusCode::BAD_REQUEST,
        50024,
        "Cannot execute action on this channel type",
    )
}

/// `POST /channels/{channel_id}/threads` (a thread without a starter message).
pub(super) fn create_thread(ctx: &Ctx<'_>) -> Reply {
    let shared = ctx.shared;
    let parent = ctx.route.id("channel_id").unwrap_or(0);
    let guild = {
        let world = shared.world();
        let Some(c) = world.channels.get(&parent) else {
            return unknown_channel();
        };
        if c.json.get("thread_metadata").is_some() {
            return wrong_channel_type();
        }
        c.guild_id
    };
    let Some(guild) = guild else {
        return wrong_channel_type();
    };
    let body = ctx.body();
    let kind = body["type"]
        .as_u64()
        .map_or(shapes::CHANNEL_PRIVATE_THREAD, |t| t as u8);
    let name = body["name"].as_str().unwrap_or("thread");
    let archive = body["auto_archive_duration"].as_u64().unwrap_or(1440);
    let id = shared.ids.next();
    let thread = shared.create_thread(
        id,
        parent,
        Some(guild),
        name,
        shared.config.bot_user_id,
        kind,
        archive,
    );
    let mut event = thread.clone();
    event["newly_created"] = json!(true);
    shared.dispatch("THREAD_CREATE", &event);
    Reply::created(thread)
}

/// `POST /channels/{channel_id}/messages/{message_id}/threads`: the thread's id is the
/// message's id.
pub(super) fn create_thread_from_message(ctx: &Ctx<'_>) -> Reply {
    let shared = ctx.shared;
    let parent = ctx.route.id("channel_id").unwrap_or(0);
    let message_id = ctx.route.id("message_id").unwrap_or(0);
    let guild = {
        let world = shared.world();
        let Some(c) = world.channels.get(&parent) else {
            return unknown_channel();
        };
        if world.message(parent, message_id).is_none() {
            return Reply::unknown(errors::CODE_UNKNOWN_MESSAGE, "Message");
        }
        if world.channels.contains_key(&message_id) {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                160004,
                "A thread has already been created for this message",
            );
        }
        c.guild_id
    };
    let Some(guild) = guild else {
        return wrong_channel_type();
    };
    let body = ctx.body();
    let name = body["name"].as_str().unwrap_or("thread");
    let archive = body["auto_archive_duration"].as_u64().unwrap_or(1440);
    let thread = shared.create_thread(
        message_id,
        parent,
        Some(guild),
        name,
        shared.config.bot_user_id,
        shapes::CHANNEL_PUBLIC_THREAD,
        archive,
    );
    let updated: Option<Value> = {
        let mut world = shared.world();
        world.message_mut(parent, message_id).map(|m| {
            m["thread"] = thread.clone();
            let flags = m["flags"].as_u64().unwrap_or(0);
            m["flags"] = json!(flags | 32);
            m.clone()
        })
    };
    let mut event = thread.clone();
    event["newly_created"] = json!(true);
    shared.dispatch("THREAD_CREATE", &event);
    if let Some(m) = updated {
        shared.dispatch("MESSAGE_UPDATE", &m);
    }
    Reply::created(thread)
}
