//! "Continue this conversation" under a `/search` result: the stored conversation comes back
//! as the live conversation of the place where the button is pressed, through the engine
//! ([`Engine::reopen`](mcpcord_engine::Engine::reopen)), which lets a person reopen only what
//! their own search from there may find.
//!
//! Where it goes on: in a DM, the DM's rolling conversation; in a thread, the thread's; in a
//! channel where the bot answers everything, the channel's; in any other channel, a reply chain
//! rooted at a short message the bot posts there (replying to it goes on). The conversation
//! live there until now is put aside, as `/new` does; search still finds it.

use std::sync::Arc;

use mcpcord_engine::{ConversationId, ConversationKey};
use twilight_model::application::interaction::Interaction;
use twilight_model::channel::ChannelType;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker};

use super::{Reply, defer, deliver};
use crate::bot::Context;
use crate::commands::invoker_name;
use crate::conversation;
use crate::ids::ToEngine;
use crate::mentions::no_pings;
use crate::middleware::{CommandError, CommandResponse};
use crate::pacer::Route;

/// Where the conversation goes on, as far as its key cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A DM: its one rolling conversation.
    Dm,
    /// A thread: its conversation.
    Thread,
    /// A channel where the bot answers everything: its rolling conversation.
    Always,
    /// Any other channel: a reply chain rooted at a post of the bot's.
    Chain,
}

impl Place {
    /// What a person is told once it is reopened (`post`: the chain's first message).
    fn says(self, post: Option<&str>) -> String {
        match (self, post) {
            (Self::Chain, Some(link)) => {
                format!("↪️ Picked up: reply to {link} to go on with that conversation.")
            }
            (Self::Dm, _) => "↪️ Picked up: this DM goes on with that conversation; just write. \
                 (What was going on here is put aside; `/search` still finds it.)"
                .into(),
            _ => "↪️ Picked up: this channel goes on with that conversation; mention me to go on. \
                 (What was going on here is put aside; `/search` still finds it.)"
                .into(),
        }
    }
}

/// Handles a press of "Continue this conversation": privately deferred, then answered with
/// where to go on, or why not.
pub(super) async fn on_resume(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    conversation: u64,
) -> Reply {
    defer(ctx, interaction, true).await?;
    let says = match reopen(ctx, interaction, conversation).await {
        Ok(says) => says,
        Err(error) => {
            let id = crate::middleware::error_id();
            tracing::info!(error_id = %id, %error, conversation, "cannot reopen a conversation");
            crate::middleware::friendly_message(&error, &id)
        }
    };
    deliver(ctx, interaction, CommandResponse::private(says)).await
}

/// Reopens `conversation` where `interaction` happened, for its author; what they are told.
async fn reopen(
    ctx: &Context,
    interaction: &Interaction,
    conversation: u64,
) -> Result<String, CommandError> {
    let (Some(user), Some(channel)) = (interaction.author_id(), interaction.channel.as_ref())
    else {
        return Err(CommandError::Invalid("there is no channel here".into()));
    };
    let id = i64::try_from(conversation)
        .map(ConversationId)
        .map_err(|_| CommandError::Invalid("that is not a conversation".into()))?;
    let guild = interaction.guild_id.map(Id::get);
    // Allowed first: nothing is posted for a conversation the person may not reopen.
    ctx.engine
        .may_reopen(
            id,
            user.to_engine(),
            interaction.guild_id.map(ToEngine::to_engine),
        )
        .await?;
    let place = place_of(ctx, channel.kind, guild, channel.id);
    let (key, link) = key_at(ctx, interaction, place, channel.id).await?;
    ctx.engine
        .reopen(
            id,
            &key,
            user.to_engine(),
            interaction.guild_id.map(ToEngine::to_engine),
        )
        .await?;
    Ok(place.says(link.as_deref()))
}

/// The conversation key of `place` (channel `channel`), and for a new reply chain the link to
/// the message it starts from (posted here).
async fn key_at(
    ctx: &Context,
    interaction: &Interaction,
    place: Place,
    channel: Id<ChannelMarker>,
) -> Result<(ConversationKey, Option<String>), CommandError> {
    Ok(match place {
        Place::Dm => (conversation::dm_key(channel.get()), None),
        Place::Thread => (conversation::thread_key(channel.get()), None),
        Place::Always => (conversation::channel_key(channel.get()), None),
        Place::Chain => {
            let post = anchor(ctx, channel, &invoker_name(interaction)).await?;
            let guild = interaction
                .guild_id
                .map_or_else(|| "@me".to_owned(), |g| g.to_string());
            let link = format!("https://discord.com/channels/{guild}/{channel}/{post}");
            (conversation::chain_key(post.get()), Some(link))
        }
    })
}

/// Which kind of place `channel` is.
fn place_of(
    ctx: &Context,
    kind: ChannelType,
    guild: Option<u64>,
    channel: Id<ChannelMarker>,
) -> Place {
    if guild.is_none() {
        Place::Dm
    } else if kind.is_thread() {
        Place::Thread
    } else if ctx.config().always_answer_channels.contains(&channel.get()) {
        Place::Always
    } else {
        Place::Chain
    }
}

/// Posts the message a reply chain goes on from (it says who picks up, never what was said).
async fn anchor(
    ctx: &Context,
    channel: Id<ChannelMarker>,
    name: &str,
) -> Result<Id<MessageMarker>, CommandError> {
    let mentions = no_pings();
    let content = format!(
        "↪️ **{}** picks up an earlier conversation. Reply to this message to go on.",
        crate::render::escape(name)
    );
    let request = ctx
        .http
        .create_message(channel)
        .content(&content)
        .allowed_mentions(Some(&mentions));
    let posted = ctx
        .pacer
        .send(Route::create_message(channel), request)
        .await
        .map_err(|error| CommandError::Invalid(format!("the bot cannot post here ({error})")))?;
    let message = posted.model().await.map_err(|error| {
        CommandError::Invalid(format!("Discord's answer was unreadable ({error})"))
    })?;
    Ok(message.id)
}
