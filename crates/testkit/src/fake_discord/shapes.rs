//! The JSON shapes Discord sends (users, members, guilds, channels, messages, the bot's
//! application), built so that twilight-model deserializes them. Ids are snowflake strings.

use super::ids::{now_iso, snowflake_iso};
use serde_json::{Value, json};

/// Permissions the bot and members get in fake guilds: everything except administrator.
pub const DEFAULT_PERMISSIONS: &str = "2251799813685239";
/// Discord's attachment size limit for bots without boosts (bytes).
pub const ATTACHMENT_SIZE_LIMIT: u64 = 10 * 1024 * 1024;

/// Channel type: guild text channel.
pub const CHANNEL_GUILD_TEXT: u8 = 0;
/// Channel type: direct message.
pub const CHANNEL_DM: u8 = 1;
/// Channel type: public thread.
pub const CHANNEL_PUBLIC_THREAD: u8 = 11;
/// Channel type: private thread.
pub const CHANNEL_PRIVATE_THREAD: u8 = 12;

/// A user the fake knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserRec {
    pub id: u64,
    pub name: String,
    pub bot: bool,
}

/// The `user` object.
pub(crate) fn user(u: &UserRec) -> Value {
    let mut v = json!({
        "id": u.id.to_string(),
        "username": u.name,
        "global_name": if u.bot { Value::Null } else { Value::String(u.name.clone()) },
        "discriminator": "0",
        "avatar": null,
        "avatar_decoration_data": null,
        "banner": null,
        "accent_color": null,
        "public_flags": 0,
        "flags": 0,
    });
    if u.bot {
        v["bot"] = Value::Bool(true);
    }
    v
}

/// The current user (`/users/@me`), with the fields only the owner sees.
pub(crate) fn current_user(u: &UserRec) -> Value {
    let mut v = user(u);
    v["mfa_enabled"] = Value::Bool(false);
    v["verified"] = Value::Bool(true);
    v["locale"] = Value::String("en-US".to_owned());
    v["email"] = Value::Null;
    v
}

/// A guild member without its `user` (as in messages), joined when the guild was created.
pub(crate) fn partial_member(guild_id: u64) -> Value {
    json!({
        "roles": [],
        "nick": null,
        "avatar": null,
        "banner": null,
        "premium_since": null,
        "joined_at": snowflake_iso(guild_id),
        "deaf": false,
        "mute": false,
        "pending": false,
        "flags": 0,
        "communication_disabled_until": null,
    })
}

/// A guild member with its `user`.
pub(crate) fn member(guild_id: u64, u: &UserRec) -> Value {
    let mut m = partial_member(guild_id);
    m["user"] = user(u);
    m
}

/// A channel object.
pub(crate) fn channel(
    id: u64,
    kind: u8,
    guild_id: Option<u64>,
    name: Option<&str>,
    parent_id: Option<u64>,
) -> Value {
    let mut v = json!({
        "id": id.to_string(),
        "type": kind,
        "flags": 0,
        "last_message_id": null,
    });
    if let Some(g) = guild_id {
        v["guild_id"] = Value::String(g.to_string());
        v["position"] = json!(0);
        v["permission_overwrites"] = json!([]);
        v["nsfw"] = json!(false);
        v["rate_limit_per_user"] = json!(0);
        v["topic"] = Value::Null;
    }
    if let Some(n) = name {
        v["name"] = Value::String(n.to_owned());
    }
    if let Some(p) = parent_id {
        v["parent_id"] = Value::String(p.to_string());
    }
    v
}

/// Turns a channel object into a thread of `kind` owned by `owner_id`.
pub(crate) fn make_thread(channel: &mut Value, owner_id: u64, kind: u8, auto_archive: u64) {
    channel["type"] = json!(kind);
    channel["owner_id"] = Value::String(owner_id.to_string());
    channel["message_count"] = json!(0);
    channel["member_count"] = json!(1);
    channel["total_message_sent"] = json!(0);
    channel["thread_metadata"] = json!({
        "archived": false,
        "auto_archive_duration": auto_archive,
        "archive_timestamp": now_iso(),
        "locked": false,
        "create_timestamp": now_iso(),
    });
    if kind == CHANNEL_PRIVATE_THREAD {
        channel["thread_metadata"]["invitable"] = json!(true);
    }
    if let Some(obj) = channel.as_object_mut() {
        obj.remove("permission_overwrites");
        obj.remove("position");
        obj.remove("topic");
    }
}

/// The `@everyone` role of a guild (its id is the guild id).
pub(crate) fn everyone_role(guild_id: u64) -> Value {
    json!({
        "id": guild_id.to_string(),
        "name": "@everyone",
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "position": 0,
        "permissions": DEFAULT_PERMISSIONS,
        "managed": false,
        "mentionable": false,
        "flags": 0,
    })
}

/// A full guild, as in GUILD_CREATE.
pub(crate) fn guild(
    id: u64,
    name: &str,
    owner_id: u64,
    channels: Vec<Value>,
    members: Vec<Value>,
) -> Value {
    let member_count = members.len();
    let mut g = json!({
        "id": id.to_string(),
        "name": name,
        "icon": null,
        "splash": null,
        "discovery_splash": null,
        "banner": null,
        "description": null,
        "owner_id": owner_id.to_string(),
        "afk_channel_id": null,
        "afk_timeout": 300,
        "widget_enabled": false,
        "widget_channel_id": null,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": [everyone_role(id)],
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "public_updates_channel_id": null,
        "safety_alerts_channel_id": null,
        "vanity_url_code": null,
    });
    let rest = json!({
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "max_members": 500000,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": false,
        "stickers": [],
        "joined_at": snowflake_iso(id),
        "large": false,
        "unavailable": false,
        "member_count": member_count,
        "voice_states": [],
        "members": members,
        "channels": channels,
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    });
    if let (Some(a), Value::Object(b)) = (g.as_object_mut(), rest) {
        a.extend(b);
    }
    g
}

/// A message with everything but content-derived fields filled with Discord's defaults.
pub(crate) fn message(
    id: u64,
    channel_id: u64,
    guild_id: Option<u64>,
    author: &UserRec,
    content: &str,
) -> Value {
    let mut v = json!({
        "id": id.to_string(),
        "channel_id": channel_id.to_string(),
        "author": user(author),
        "content": content,
        "timestamp": snowflake_iso(id),
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": false,
        "type": 0,
        "flags": 0,
    });
    if let Some(g) = guild_id {
        v["guild_id"] = Value::String(g.to_string());
        v["member"] = partial_member(g);
    }
    v
}

/// The bot's application, as `/applications/@me` answers.
pub(crate) fn application(id: u64, name: &str, bot: &UserRec) -> Value {
    json!({
        "id": id.to_string(),
        "name": name,
        "icon": null,
        "description": "",
        "summary": "",
        "type": null,
        "bot_public": true,
        "bot_require_code_grant": false,
        "verify_key": "0000000000000000000000000000000000000000000000000000000000000000",
        "flags": 0,
        "bot": user(bot),
        "owner": user(&UserRec { id: id + 1, name: "owner".to_owned(), bot: false }),
        "team": null,
        "rpc_origins": [],
        "tags": [],
        "redirect_uris": [],
        "interactions_endpoint_url": null,
        "approximate_guild_count": 1,
    })
}

/// A snowflake from a JSON string or number.
pub(crate) fn id_of(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}
