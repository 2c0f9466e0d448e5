//! The gateway: shards, their event loops, and the messages that start turns.
//!
//! Owns the shard tasks and what happens per event. Each event is handled in its own task
//! (bounded by a semaphore), so a shard is never blocked by a turn or a REST call; a receive
//! error is logged and skipped, and the end of a shard's stream ends its loop. MESSAGE_CREATE
//! goes through [`crate::triggers`] and [`crate::conversation`] to a turn;
//! INTERACTION_CREATE goes to [`crate::interactions`].
//!
//! Why one long file: the path of one MESSAGE_CREATE from the shard to a turn request (gate,
//! channel facts, ordering, the request) is read top to bottom; a split would cut that path.

use crate::pacer::Route;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use mcpcord_engine::{
    ConversationKey, Place, Scope, Speaker, TurnAction, TurnRequest, UserMessage,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use twilight_gateway::{
    CloseFrame, ConfigBuilder, Event, EventTypeFlags, MessageSender, Shard, ShardId, StreamExt as _,
};
use twilight_http::request::channel::reaction::RequestReactionType;
use twilight_model::channel::{ChannelType, Message};
use twilight_model::id::Id;
use twilight_model::id::marker::ChannelMarker;

use crate::bot::{BotError, Context};
use crate::conversation::{self, Whereabouts};
use crate::gate::{Door, Refusal};
use crate::ids::ToEngine;
use crate::mentions::{ResolvedNames, mention_names};
use crate::triggers::{Facts, trigger};

/// What the bot says, once, when it runs without the MESSAGE_CONTENT intent.
pub const MESSAGE_CONTENT_HINT: &str = "The MESSAGE_CONTENT intent is off: the bot answers \
    mentions, replies that mention it, DMs and slash commands. Enabling it (Developer Portal → \
    Bot → Message Content Intent, and \"message_content\" in discord.intents) adds answers in \
    always-answer channels, in threads the bot started without a mention, and to replies that \
    do not mention it.";

/// Close codes after which the shard does not reconnect, with what to do.
const FATAL_HINTS: &[(u16, &str)] = &[
    (
        4004,
        "Discord refused the token: copy it again from the Developer Portal",
    ),
    (4013, "invalid intents in discord.intents"),
    (
        4014,
        "a privileged intent is not enabled for this bot: enable it in the Developer Portal \
         (Bot → Privileged Gateway Intents) or remove it from discord.intents \
         (without message_content the bot still answers mentions, DMs and slash commands)",
    ),
];

/// How long closing shards may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the bot knows about a channel, looked up once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelInfo {
    /// A thread.
    pub thread: bool,
    /// A DM.
    pub dm: bool,
    /// Who started it (threads).
    pub owner: Option<u64>,
    /// The parent channel (threads).
    pub parent: Option<u64>,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// The guild, if any.
    pub guild: Option<u64>,
}

/// The running shards.
pub struct Shards {
    senders: Vec<MessageSender>,
    tasks: Vec<JoinHandle<()>>,
    closing: CancellationToken,
    fatal: mpsc::Receiver<BotError>,
}

impl Shards {
    /// Resolves when a shard's gateway closed for good (a refused token, intents not enabled):
    /// the bot cannot go on without Discord, so it stops with this error.
    pub async fn fatal(&mut self) -> BotError {
        match self.fatal.recv().await {
            Some(error) => error,
            // Every shard loop ended without a fatal close: nothing more will come.
            None => std::future::pending().await,
        }
    }

    /// Closes every shard normally and waits (briefly) for their loops to end.
    pub async fn close(self) {
        self.closing.cancel();
        for sender in &self.senders {
            let _ = sender.close(CloseFrame::NORMAL);
        }
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout(CLOSE_TIMEOUT, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

/// Starts the shards (the configured count, or Discord's recommendation) and their loops; their
/// token is a child of `parent`, which closes them when cancelled.
pub async fn start(ctx: Arc<Context>, parent: &CancellationToken) -> Result<Shards, BotError> {
    let total = match ctx.config().shard_count {
        Some(count) => count.get(),
        None => {
            let gateway = ctx
                .http
                .gateway()
                .authed()
                .await
                .map_err(|e| BotError::Connect(e.into()))?
                .model()
                .await
                .map_err(|e| BotError::Connect(e.into()))?;
            gateway.shards.max(1)
        }
    };
    let ids = shard_ids(ctx.config().shard_ids.clone(), total)?;
    let mut builder = ConfigBuilder::new(ctx.config().token.clone(), ctx.config().intents);
    if let Some(url) = &ctx.config().gateway_url {
        builder = builder.proxy_url(url.clone());
    }
    let config = builder.build();
    let closing = parent.child_token();
    let (fatal_sender, fatal) = mpsc::channel(1);
    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    for id in ids.clone() {
        let shard = Shard::with_config(ShardId::new(id, total), config.clone());
        ctx.config().status.started(id);
        senders.push(shard.sender());
        tasks.push(tokio::spawn(shard_loop(
            shard,
            ctx.clone(),
            closing.clone(),
            fatal_sender.clone(),
        )));
    }
    tracing::info!(
        shards = total,
        first = ids.start(),
        last = ids.end(),
        "gateway shards started"
    );
    Ok(Shards {
        senders,
        tasks,
        closing,
        fatal,
    })
}

/// The shards this process runs: `wanted` (checked against `total`), or all of them.
pub fn shard_ids(
    wanted: Option<RangeInclusive<u32>>,
    total: u32,
) -> Result<RangeInclusive<u32>, BotError> {
    let Some(ids) = wanted else {
        return Ok(0..=total.saturating_sub(1));
    };
    if ids.is_empty() || *ids.end() >= total {
        return Err(BotError::Shards {
            first: *ids.start(),
            last: *ids.end(),
            total,
        });
    }
    Ok(ids)
}

async fn shard_loop(
    mut shard: Shard,
    ctx: Arc<Context>,
    closing: CancellationToken,
    fatal: mpsc::Sender<BotError>,
) {
    let wanted = EventTypeFlags::MESSAGE_CREATE
        | EventTypeFlags::INTERACTION_CREATE
        | EventTypeFlags::THREAD_CREATE
        | EventTypeFlags::GUILD_CREATE
        | EventTypeFlags::READY
        | EventTypeFlags::RESUMED
        | EventTypeFlags::GATEWAY_HEARTBEAT_ACK;
    let shard_id = shard.id().number();
    while let Some(item) = shard.next_event(wanted).await {
        let event = match item {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(shard = shard_id, %error, "cannot receive a gateway event");
                continue;
            }
        };
        observe(&ctx.config().status, &shard, &event);
        match event {
            Event::GatewayClose(frame) => {
                let code = frame.as_ref().map(|f| f.code);
                if closing.is_cancelled() || closed_for_good(shard_id, code, &fatal) {
                    break;
                }
            }
            event => dispatch(&ctx, shard_id, event),
        }
    }
    tracing::info!(shard = shard_id, "shard stopped");
}

/// What the shard loop does with an event other than a close: Ready is logged (and said to the
/// ready hook), heartbeat acknowledgements and RESUMED were said to the status already, messages
/// from bots are dropped, the rest is handled in a task of its own.
fn dispatch(ctx: &Arc<Context>, shard_id: u32, event: Event) {
    match event {
        Event::Ready(ready) => {
            tracing::info!(shard = shard_id, user = %ready.user.name, "gateway ready");
            ctx.shard_ready();
        }
        Event::GatewayHeartbeatAck | Event::Resumed => {}
        // Bots are never answered, and the bot's own posts come back as MESSAGE_CREATE: a
        // burst of answers would otherwise spawn as many tasks that do nothing.
        Event::MessageCreate(message) if message.author.bot || message.author.id == ctx.bot_id => {}
        event => spawn_handler(ctx, event),
    }
}

/// Handles `event` in a task of its own. A message's place in its channel's line is taken here,
/// in the order events arrive (see `crate::order`), and waited for before an event permit is
/// taken, so messages in line never hold the permits the one ahead of them needs.
fn spawn_handler(ctx: &Arc<Context>, event: Event) {
    let mut ticket = match &event {
        Event::MessageCreate(message) => {
            mark("received", message.id.get());
            Some(ctx.order.ticket(message.channel_id.get()))
        }
        _ => None,
    };
    let ctx = ctx.clone();
    tokio::spawn(async move {
        if let Some(ticket) = ticket.as_mut() {
            ticket.wait().await;
        }
        let Ok(_permit) = ctx.events.clone().acquire_owned().await else {
            return;
        };
        if let Event::MessageCreate(message) = &event {
            mark("permit", message.id.get());
        }
        handle(ctx, event).await;
        drop(ticket);
    });
}

/// Notes what `event` says about the shard's connection in `status`.
fn observe(status: &crate::status::GatewayStatus, shard: &Shard, event: &Event) {
    let id = shard.id().number();
    match event {
        Event::Ready(_) | Event::Resumed => status.ready(id),
        Event::GatewayClose(_) => status.closed(id),
        Event::GatewayHeartbeatAck => {
            if let Some(latency) = shard.latency().recent().first() {
                status.heartbeat(id, *latency);
            }
        }
        _ => {}
    }
}

/// Whether a close with `code` is fatal (said on `fatal`, with what to fix); other closes are
/// reconnected by twilight.
fn closed_for_good(shard_id: u32, code: Option<u16>, fatal: &mpsc::Sender<BotError>) -> bool {
    match FATAL_HINTS.iter().find(|(c, _)| Some(*c) == code) {
        Some((code, hint)) => {
            tracing::error!(shard = shard_id, code, "gateway closed: {hint}");
            let _ = fatal.try_send(BotError::Gateway { code: *code, hint });
            true
        }
        None => {
            tracing::info!(shard = shard_id, ?code, "gateway closed; reconnecting");
            false
        }
    }
}

async fn handle(ctx: Arc<Context>, event: Event) {
    match event {
        Event::MessageCreate(message) => {
            let create = *message;
            on_message(ctx, create.message, create.channel_type).await;
        }
        Event::InteractionCreate(interaction) => {
            crate::interactions::handle(ctx, (*interaction).0).await;
        }
        Event::ThreadCreate(thread) if thread.owner_id == Some(ctx.bot_id.cast()) => {
            ctx.bot_threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(thread.id.get());
        }
        Event::GuildCreate(guild) => {
            if let twilight_model::gateway::payload::incoming::GuildCreate::Available(guild) =
                *guild
            {
                let mut channels = ctx.channels.lock().unwrap_or_else(|e| e.into_inner());
                for channel in guild.channels.iter().chain(&guild.threads) {
                    channels.insert(channel.id.get(), info_of(channel));
                }
                ctx.guild_names
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(guild.id.get(), guild.name.clone());
            }
        }
        _ => {}
    }
}

fn info_of(channel: &twilight_model::channel::Channel) -> ChannelInfo {
    use twilight_model::channel::ChannelType;
    ChannelInfo {
        thread: channel.kind.is_thread(),
        dm: matches!(channel.kind, ChannelType::Private | ChannelType::Group),
        owner: channel.owner_id.map(|o| o.get()),
        parent: channel.parent_id.map(|p| p.get()),
        name: channel.name.clone(),
        guild: channel.guild_id.map(|g| g.get()),
    }
}

/// What the bot knows of `channel`, asked of Discord the first time.
pub async fn channel_info(ctx: &Context, channel: Id<ChannelMarker>) -> ChannelInfo {
    if let Some(info) = ctx
        .channels
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&channel.get())
    {
        return info.clone();
    }
    let request = ctx.http.channel(channel);
    let info = match ctx.pacer.send(Route::get_channel(channel), request).await {
        Ok(response) => match response.model().await {
            Ok(channel) => info_of(&channel),
            Err(error) => {
                tracing::warn!(%error, "cannot read a channel");
                return ChannelInfo::default();
            }
        },
        Err(error) => {
            tracing::warn!(%error, channel = channel.get(), "cannot look up a channel");
            return ChannelInfo::default();
        }
    };
    ctx.channels
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(channel.get(), info.clone());
    info
}

/// The name people see for the author of `message`.
fn display_name(message: &Message) -> String {
    message
        .member
        .as_ref()
        .and_then(|m| m.nick.clone())
        .or_else(|| message.author.global_name.clone())
        .unwrap_or_else(|| message.author.name.clone())
}

/// `text` without the bot's own mention tokens.
pub fn strip_bot_mention(text: &str, bot: u64) -> String {
    text.replace(&format!("<@{bot}>"), "")
        .replace(&format!("<@!{bot}>"), "")
        .trim()
        .to_owned()
}

/// A message: answered when it is for the bot (see [`trigger`]), the gate lets it through and
/// its author has room for one more answer.
async fn on_message(ctx: Arc<Context>, message: Message, kind: Option<ChannelType>) {
    // Messages from bots (the bot's own too) never get here: `dispatch` drops them.
    if !ctx.accepting() {
        return;
    }
    let info = channel_of(&ctx, &message, kind).await;
    let facts = facts_of(&ctx, &message, &info);
    let Some(why) = trigger(&facts) else {
        return;
    };
    if !admitted(&ctx, &message, &facts).await {
        return;
    }
    let key = conversation::identify(
        &ctx.engine,
        &ctx.recent,
        &Whereabouts {
            message: message.id,
            channel: message.channel_id,
            dm: info.dm,
            thread: info.thread,
            always: facts.in_always_channel,
            reply_to: message.reference.as_ref().and_then(|r| r.message_id),
        },
    )
    .await;
    tracing::debug!(?why, conversation = key.as_str(), "answering a message");
    let request = request_for(&ctx, &message, &info, key).await;
    if let Err(refused) = ctx.engine.check_input(&request).await {
        let says = format!("🚫 {}", capitalized(&refused.to_string()));
        crate::reply::refuse(&ctx, message.channel_id, message.id, &says).await;
        return;
    }
    mark("gated", message.id.get());
    let started = crate::reply::start(
        &ctx,
        request,
        message.author.id,
        message.channel_id,
        Some(message.id),
    );
    if started.is_err() {
        slow_down(&ctx, &message).await;
    }
}

/// What is known of the message's channel: remembered, said by the event (only threads need a
/// look-up, for their owner), or a DM.
async fn channel_of(ctx: &Context, message: &Message, kind: Option<ChannelType>) -> ChannelInfo {
    let known = ctx
        .channels
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&message.channel_id.get())
        .cloned();
    match (known, kind) {
        (Some(info), _) => info,
        _ if message.guild_id.is_none() => ChannelInfo {
            dm: true,
            ..ChannelInfo::default()
        },
        (None, Some(kind)) if !kind.is_thread() => ChannelInfo::default(),
        (None, _) => channel_info(ctx, message.channel_id).await,
    }
}

/// The facts about `message` that decide whether the bot answers it.
fn facts_of(ctx: &Context, message: &Message, info: &ChannelInfo) -> Facts {
    let bot = ctx.bot_id;
    let channel = message.channel_id.get();
    let in_bot_thread = info.thread
        && (info.owner == Some(bot.get())
            || ctx
                .bot_threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&channel));
    let facts = Facts {
        author: message.author.id.get(),
        author_is_bot: message.author.bot,
        guild: message.guild_id.map(Id::get),
        mentions_bot: message.mentions.iter().any(|m| m.id == bot),
        replies_to_bot: message
            .referenced_message
            .as_ref()
            .is_some_and(|r| r.author.id == bot),
        in_bot_thread,
        in_always_channel: ctx.config().always_answer_channels.contains(&channel) && !info.thread,
        has_content: !message.content.trim().is_empty() || !message.attachments.is_empty(),
    };
    if !facts.has_content && !info.dm && (facts.in_bot_thread || facts.in_always_channel) {
        // A message for the bot with no content: the MESSAGE_CONTENT intent is off.
        ctx.warn_no_content();
    }
    facts
}

/// Whether the gate lets the message's author through and they have room for one more answer;
/// one too fast or too busy gets a ⏳ reaction.
async fn admitted(ctx: &Context, message: &Message, facts: &Facts) -> bool {
    if let Err(refusal) = ctx.gate.check(Door::Message, facts.author, facts.guild) {
        tracing::info!(
            user = facts.author,
            refused = refusal.kind(),
            "a message is not answered"
        );
        if let Some(entry) =
            crate::audit::gate_refusal(&refusal, Door::Message, Some(facts.author), facts.guild)
        {
            ctx.engine.audit(entry);
        }
        if matches!(refusal, Refusal::TooFast { .. }) {
            slow_down(ctx, message).await;
        }
        return false;
    }
    if crate::reply::room_for(ctx, message.author.id).is_err() {
        tracing::info!(
            user = facts.author,
            "a user has too many answers in progress"
        );
        slow_down(ctx, message).await;
        return false;
    }
    true
}

/// The turn request for `message` in conversation `key`: its text without the bot's mention,
/// the names its mentions stand for, its attachments read in, and the names of the place.
async fn request_for(
    ctx: &Context,
    message: &Message,
    info: &ChannelInfo,
    key: ConversationKey,
) -> TurnRequest {
    let text = strip_bot_mention(&message.content, ctx.bot_id.get());
    let mut user_message = UserMessage {
        mentions: mention_names(&text, &ResolvedNames::from_message(message)),
        text,
        ..UserMessage::default()
    };
    crate::attachments::read_into(
        &ctx.downloads,
        &message.attachments,
        ctx.config().max_attachment_bytes,
        &mut user_message,
    )
    .await;
    let name = display_name(message);
    let server = message.guild_id.and_then(|g| {
        ctx.guild_names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&g.get())
            .cloned()
    });
    TurnRequest {
        key,
        scope: Scope {
            guild_id: message.guild_id.map(ToEngine::to_engine),
            channel_id: Some(message.channel_id.to_engine()),
            user_id: Some(message.author.id.to_engine()),
        },
        author: Speaker {
            id: Some(message.author.id.to_engine()),
            name: name.clone(),
        },
        place: Place {
            user: name,
            server,
            channel: info.name.clone(),
        },
        action: TurnAction::Message(user_message),
        model: None,
        grants: ctx
            .config()
            .policy()
            .resolve(&crate::middleware::Invoker::from_message(message))
            .grants,
    }
}

/// Tells the author of `message` to slow down without a message of our own (which would add to
/// the noise): a ⏳ reaction.
async fn slow_down(ctx: &Context, message: &Message) {
    let slow_down = RequestReactionType::Unicode { name: "⏳" };
    let request = ctx
        .http
        .create_reaction(message.channel_id, message.id, &slow_down);
    let route = Route::create_reaction(message.channel_id);
    if let Err(error) = ctx.pacer.send(route, request).await {
        tracing::debug!(%error, "cannot react to a message over the rate");
    }
}

/// `text` with its first letter in upper case.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A pre-model latency mark for message `id` (see `mcpcord_engine::telemetry::LATENCY_TARGET`).
fn mark(stage: &'static str, id: u64) {
    mcpcord_engine::telemetry::latency_mark(stage, id);
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Stripping the bot's mention from any message text never panics and never adds text
        /// (a token that only forms once another is removed, `<@<@1>1>`, stays: harmless).
        #[test]
        fn any_text_has_the_bots_mention_stripped(text in "(\\PC|<@!?1>){0,60}") {
            let stripped = strip_bot_mention(&text, 1);
            proptest::prop_assert!(stripped.chars().count() <= text.chars().count());
        }
    }

    #[test]
    fn the_bots_mention_is_stripped() {
        assert_eq!(strip_bot_mention("<@7> hi <@!7>", 7), "hi");
        assert_eq!(strip_bot_mention("<@8> hi", 7), "<@8> hi");
    }
}
