//! The fake's shared state: the world (users, guilds, channels with their messages,
//! interactions, commands), the records, the gateway sessions and the rate limiter, plus the
//! message-building rules (embeds, replies, mentions under `allowed_mentions`).

use super::config::Config;
use super::gateway::GatewayState;
use super::ids::{SnowflakeGen, now_iso};
use super::ratelimit::RateLimiter;
use super::records::Records;
use super::shapes::{self, UserRec};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A guild of the world.
#[derive(Debug, Clone)]
pub(crate) struct GuildRec {
    pub id: u64,
    pub name: String,
    pub members: Vec<u64>,
    pub channels: Vec<u64>,
}

/// A channel (text, DM or thread) and its messages, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct ChannelRec {
    pub json: Value,
    pub guild_id: Option<u64>,
    pub messages: Vec<Value>,
}

/// An injected interaction and what the bot has done with it.
#[derive(Debug, Clone)]
pub(crate) struct InteractionRec {
    pub id: u64,
    pub token: String,
    pub kind: u8,
    pub channel_id: u64,
    /// The message a component / modal interaction came from.
    pub message_id: Option<u64>,
    pub injected_at: Instant,
    /// When and with which type the first callback came.
    pub callback: Option<(Instant, u8)>,
    /// The first callback came too late; the interaction is gone.
    pub expired: bool,
    pub original_message_id: Option<u64>,
    pub followups: Vec<u64>,
}

/// Users, guilds, channels, messages, interactions and commands.
#[derive(Debug, Default)]
pub(crate) struct World {
    pub users: HashMap<u64, UserRec>,
    pub guilds: Vec<GuildRec>,
    pub channels: HashMap<u64, ChannelRec>,
    pub interactions: HashMap<u64, InteractionRec>,
    pub global_commands: Vec<Value>,
    pub guild_commands: HashMap<u64, Vec<Value>>,
    pub dm_channels: HashMap<u64, u64>,
    /// Ids for attachments (worker 2, so they never equal message ids).
    pub attachment_ids: SnowflakeGen,
    /// Files attached to injected messages, by attachment id: content type and bytes.
    pub files: HashMap<u64, (String, bytes::Bytes)>,
}

/// Everything the REST and gateway tasks share with the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    pub addr: SocketAddr,
    pub ids: SnowflakeGen,
    pub world: Mutex<World>,
    pub records: Mutex<Records>,
    pub gateway: Mutex<GatewayState>,
    pub limiter: RateLimiter,
    pub changed: watch::Sender<u64>,
    pub cancel: CancellationToken,
}

impl Shared {
    /// Builds the world from the configuration.
    pub fn new(config: Config, addr: SocketAddr) -> Self {
        let mut world = World {
            attachment_ids: SnowflakeGen::with_worker(2),
            ..World::default()
        };
        let bot = UserRec {
            id: config.bot_user_id,
            name: config.bot_name.clone(),
            bot: true,
        };
        world.users.insert(bot.id, bot);
        for (id, name, is_bot) in &config.users {
            world.users.insert(
                *id,
                UserRec {
                    id: *id,
                    name: name.clone(),
                    bot: *is_bot,
                },
            );
        }
        for g in &config.guilds {
            let mut members = vec![config.bot_user_id];
            members.extend(
                g.members
                    .iter()
                    .copied()
                    .filter(|m| *m != config.bot_user_id),
            );
            for (cid, cname) in &g.channels {
                world.channels.insert(
                    *cid,
                    ChannelRec {
                        json: shapes::channel(
                            *cid,
                            shapes::CHANNEL_GUILD_TEXT,
                            Some(g.id),
                            Some(cname),
                            None,
                        ),
                        guild_id: Some(g.id),
                        messages: Vec::new(),
                    },
                );
            }
            world.guilds.push(GuildRec {
                id: g.id,
                name: g.name.clone(),
                members,
                channels: g.channels.iter().map(|(id, _)| *id).collect(),
            });
        }
        let limiter = RateLimiter::new(config.rate_limits.clone());
        Self {
            config,
            addr,
            ids: SnowflakeGen::with_worker(1),
            world: Mutex::new(world),
            records: Mutex::new(Records::default()),
            gateway: Mutex::new(GatewayState::default()),
            limiter,
            changed: watch::channel(0).0,
            cancel: CancellationToken::new(),
        }
    }

    /// The world, even if a panicking test thread poisoned the lock.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The records, even if poisoned.
    pub fn records(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the `wait_for*` helpers.
    pub fn notify(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The bot user.
    pub fn bot(&self) -> UserRec {
        UserRec {
            id: self.config.bot_user_id,
            name: self.config.bot_name.clone(),
            bot: true,
        }
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn gateway_url(&self) -> String {
        format!("ws://{}", self.addr)
    }
}

impl World {
    /// A known user, or a placeholder named after its id.
    pub fn user(&self, id: u64) -> UserRec {
        self.users.get(&id).cloned().unwrap_or_else(|| UserRec {
            id,
            name: format!("user{id}"),
            bot: false,
        })
    }

    /// The guild a channel belongs to.
    pub fn guild_of(&self, channel_id: u64) -> Option<u64> {
        self.channels.get(&channel_id).and_then(|c| c.guild_id)
    }

    /// A stored message.
    pub fn message(&self, channel_id: u64, message_id: u64) -> Option<&Value> {
        self.channels
            .get(&channel_id)?
            .messages
            .iter()
            .find(|m| shapes::id_of(&m["id"]) == Some(message_id))
    }

    /// A stored message, mutably.
    pub fn message_mut(&mut self, channel_id: u64, message_id: u64) -> Option<&mut Value> {
        self.channels
            .get_mut(&channel_id)?
            .messages
            .iter_mut()
            .find(|m| shapes::id_of(&m["id"]) == Some(message_id))
    }

    /// Finds a message in any channel.
    pub fn find_message(&self, message_id: u64) -> Option<&Value> {
        self.channels.values().find_map(|c| {
            c.messages
                .iter()
                .find(|m| shapes::id_of(&m["id"]) == Some(message_id))
        })
    }

    /// Stores a message and bumps the channel's `last_message_id` (and a thread's counts).
    pub fn store_message(&mut self, channel_id: u64, message: Value) {
        if let Some(c) = self.channels.get_mut(&channel_id) {
            c.json["last_message_id"] = message["id"].clone();
            if c.json.get("thread_metadata").is_some() {
                for key in ["message_count", "total_message_sent"] {
                    let n = c.json[key].as_u64().unwrap_or(0);
                    c.json[key] = json!(n + 1);
                }
            }
            c.messages.push(message);
        }
    }

    /// Removes a message; returns it.
    pub fn remove_message(&mut self, channel_id: u64, message_id: u64) -> Option<Value> {
        let c = self.channels.get_mut(&channel_id)?;
        let i = c
            .messages
            .iter()
            .position(|m| shapes::id_of(&m["id"]) == Some(message_id))?;
        Some(c.messages.remove(i))
    }

    /// Registers a channel that the fake has not heard of (from an injected event).
    pub fn ensure_channel(&mut self, channel_id: u64, guild_id: Option<u64>) {
        if self.channels.contains_key(&channel_id) {
            return;
        }
        let kind = if guild_id.is_some() {
            shapes::CHANNEL_GUILD_TEXT
        } else {
            shapes::CHANNEL_DM
        };
        let name = format!("channel-{channel_id}");
        self.channels.insert(
            channel_id,
            ChannelRec {
                json: shapes::channel(
                    channel_id,
                    kind,
                    guild_id,
                    guild_id.map(|_| name.as_str()),
                    None,
                ),
                guild_id,
                messages: Vec::new(),
            },
        );
        if let Some(g) = guild_id
            && let Some(guild) = self.guilds.iter_mut().find(|x| x.id == g)
        {
            guild.channels.push(channel_id);
        }
    }

    /// The DM channel with a user, created on first use.
    pub fn dm_channel(&mut self, user_id: u64, new_id: impl FnOnce() -> u64) -> u64 {
        if let Some(id) = self.dm_channels.get(&user_id) {
            return *id;
        }
        let id = new_id();
        let mut channel = shapes::channel(id, shapes::CHANNEL_DM, None, None, None);
        channel["recipients"] = json!([shapes::user(&self.user(user_id))]);
        self.channels.insert(
            id,
            ChannelRec {
                json: channel,
                guild_id: None,
                messages: Vec::new(),
            },
        );
        self.dm_channels.insert(user_id, id);
        id
    }

    /// A message as Discord would create it from a message-shaped request `body`.
    pub fn build_message(&self, id: u64, channel_id: u64, author: &UserRec, body: &Value) -> Value {
        let guild_id = self.guild_of(channel_id);
        let mut msg = shapes::message(id, channel_id, guild_id, author, "");
        self.apply_body(&mut msg, body, true);
        msg
    }

    /// Applies the fields of a create or edit body to a message, recomputing mentions.
    pub fn apply_body(&self, msg: &mut Value, body: &Value, creating: bool) {
        let Some(fields) = body.as_object() else {
            return;
        };
        if let Some(content) = fields.get("content") {
            msg["content"] = Value::String(content.as_str().unwrap_or_default().to_owned());
        }
        if let Some(embeds) = fields.get("embeds") {
            let mut embeds = embeds.as_array().cloned().unwrap_or_default();
            for e in &mut embeds {
                if e.get("type").is_none_or(Value::is_null) {
                    e["type"] = json!("rich");
                }
            }
            msg["embeds"] = Value::Array(embeds);
        }
        if let Some(components) = fields.get("components") {
            msg["components"] = components
                .as_array()
                .cloned()
                .map_or(json!([]), Value::Array);
        }
        if let Some(flags) = fields.get("flags").and_then(Value::as_u64) {
            msg["flags"] = json!(flags);
        }
        if let Some(attachments) = fields.get("attachments").and_then(Value::as_array) {
            let channel = msg["channel_id"].as_str().unwrap_or("0").to_owned();
            let list: Vec<Value> = attachments
                .iter()
                .map(|a| {
                    let filename = a["filename"].as_str().unwrap_or("file").to_owned();
                    let id = self.attachment_ids.next();
                    json!({
                        "id": id.to_string(),
                        "filename": filename,
                        "description": a.get("description").cloned().unwrap_or(Value::Null),
                        "size": 0,
                        "url": format!("https://cdn.fake-discord.invalid/attachments/{channel}/{id}/{filename}"),
                        "proxy_url": format!("https://media.fake-discord.invalid/attachments/{channel}/{id}/{filename}"),
                    })
                })
                .collect();
            msg["attachments"] = Value::Array(list);
        }
        if creating {
            if fields.get("tts").and_then(Value::as_bool) == Some(true) {
                msg["tts"] = json!(true);
            }
            if let Some(nonce) = fields.get("nonce").filter(|n| !n.is_null()) {
                msg["nonce"] = nonce.clone();
            }
            if let Some(reference) = fields.get("message_reference").filter(|r| r.is_object())
                && let Some(ref_id) = shapes::id_of(&reference["message_id"])
            {
                let channel_id = shapes::id_of(&msg["channel_id"]).unwrap_or(0);
                let ref_channel = shapes::id_of(&reference["channel_id"]).unwrap_or(channel_id);
                msg["message_reference"] = json!({
                    "type": 0,
                    "message_id": ref_id.to_string(),
                    "channel_id": ref_channel.to_string(),
                });
                if let Some(g) = &msg.get("guild_id").cloned() {
                    msg["message_reference"]["guild_id"] = g.clone();
                }
                if let Some(referenced) = self.message(ref_channel, ref_id) {
                    let mut referenced = referenced.clone();
                    if let Some(o) = referenced.as_object_mut() {
                        o.remove("referenced_message");
                    }
                    msg["referenced_message"] = referenced;
                    msg["type"] = json!(19);
                }
            }
        }
        if fields.contains_key("content") || fields.contains_key("allowed_mentions") || creating {
            self.compute_mentions(msg, fields.get("allowed_mentions"));
        }
    }

    /// Fills `mentions`, `mention_roles` and `mention_everyone` from the content, honouring
    /// `allowed_mentions` the way Discord does (absent = everything pings).
    pub fn compute_mentions(&self, msg: &mut Value, allowed: Option<&Value>) {
        let allowed = allowed.filter(|a| a.is_object());
        let parse: Vec<&str> = allowed
            .and_then(|a| a["parse"].as_array())
            .map(|p| p.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let listed = |key: &str, id: u64| {
            allowed
                .and_then(|a| a[key].as_array())
                .is_some_and(|l| l.iter().any(|v| shapes::id_of(v) == Some(id)))
        };
        let content = msg["content"].as_str().unwrap_or_default().to_owned();
        let guild_id = shapes::id_of(&msg["guild_id"]);
        let (users, roles, everyone) = parse_mentions(&content);

        let mut mentions = Vec::new();
        let add_user = |id: u64, mentions: &mut Vec<Value>| {
            if mentions.iter().any(|m| shapes::id_of(&m["id"]) == Some(id)) {
                return;
            }
            if let Some(u) = self.users.get(&id) {
                let mut m = shapes::user(u);
                if let Some(g) = guild_id {
                    m["member"] = shapes::partial_member(g);
                }
                mentions.push(m);
            }
        };
        for id in users {
            if allowed.is_none() || parse.contains(&"users") || listed("users", id) {
                add_user(id, &mut mentions);
            }
        }
        if msg.get("referenced_message").is_some() {
            let replied_user = allowed.is_none_or(|a| a["replied_user"].as_bool() == Some(true));
            if replied_user
                && let Some(author) = shapes::id_of(&msg["referenced_message"]["author"]["id"])
            {
                add_user(author, &mut mentions);
            }
        }
        let mention_roles: Vec<Value> = roles
            .into_iter()
            .filter(|id| allowed.is_none() || parse.contains(&"roles") || listed("roles", *id))
            .map(|id| Value::String(id.to_string()))
            .collect();
        let mention_everyone = everyone && (allowed.is_none() || parse.contains(&"everyone"));
        msg["mentions"] = Value::Array(mentions);
        msg["mention_roles"] = Value::Array(mention_roles);
        msg["mention_everyone"] = Value::Bool(mention_everyone);
    }

    /// Marks a message edited now.
    pub fn touch_edited(msg: &mut Value) {
        msg["edited_timestamp"] = Value::String(now_iso());
    }
}

/// User ids (`<@id>`, `<@!id>`), role ids (`<@&id>`) and whether `@everyone` / `@here` appear.
pub(crate) fn parse_mentions(content: &str) -> (Vec<u64>, Vec<u64>, bool) {
    let mut users = Vec::new();
    let mut roles = Vec::new();
    let mut rest = content;
    while let Some(i) = rest.find("<@") {
        rest = &rest[i + 2..];
        let (is_role, body) = match rest.as_bytes().first() {
            Some(b'&') => (true, &rest[1..]),
            Some(b'!') => (false, &rest[1..]),
            _ => (false, rest),
        };
        if let Some(end) = body.find('>')
            && let Ok(id) = body[..end].parse::<u64>()
        {
            if is_role {
                roles.push(id);
            } else {
                users.push(id);
            }
        }
    }
    let everyone = content.contains("@everyone") || content.contains("@here");
    (users, roles, everyone)
}

/// Whether a message body would show nothing (Discord: 50006 Cannot send an empty message).
pub(crate) fn is_empty_message(msg: &Value) -> bool {
    let empty = |key: &str| msg[key].as_array().is_none_or(Vec::is_empty);
    msg["content"].as_str().unwrap_or_default().is_empty()
        && empty("embeds")
        && empty("components")
        && empty("attachments")
        && empty("sticker_items")
        && msg.get("poll").is_none_or(Value::is_null)
}
