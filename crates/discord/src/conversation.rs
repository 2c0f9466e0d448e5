//! Conversation identity: which stored conversation a Discord message belongs to.
//!
//! Owns the mapping from Discord places to the engine's [`ConversationKey`]s. A thread is one
//! conversation; a reply chain is one conversation rooted at its first message (a reply to one
//! of the bot's answers continues the conversation that answer belongs to, found through the
//! database, never by refetching Discord); a DM channel is one rolling conversation; a channel
//! where the bot always answers is one rolling conversation too; `/chat` answered inline starts a
//! chain of its own.

use mcpcord_engine::{ConversationKey, Engine};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker};

use crate::ids::ToEngine;

/// Where a message was written, as far as conversation identity cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Whereabouts {
    /// The message's id.
    pub message: Id<MessageMarker>,
    /// Its channel (or thread).
    pub channel: Id<ChannelMarker>,
    /// Whether the channel is a DM.
    pub dm: bool,
    /// Whether the channel is a thread.
    pub thread: bool,
    /// Whether the bot answers everything in this channel.
    pub always: bool,
    /// The message it replies to, if any.
    pub reply_to: Option<Id<MessageMarker>>,
}

/// The conversation of a DM channel.
pub fn dm_key(channel: u64) -> ConversationKey {
    ConversationKey::new(format!("discord:dm:{channel}"))
}

/// The conversation of a thread.
pub fn thread_key(thread: u64) -> ConversationKey {
    ConversationKey::new(format!("discord:thread:{thread}"))
}

/// The conversation of a reply chain rooted at `root` (a message or an interaction id).
pub fn chain_key(root: u64) -> ConversationKey {
    ConversationKey::new(format!("discord:reply:{root}"))
}

/// The rolling conversation of a channel where the bot always answers.
pub fn channel_key(channel: u64) -> ConversationKey {
    ConversationKey::new(format!("discord:channel:{channel}"))
}

/// The conversation a message belongs to.
///
/// A reply to a message the database knows (one of the bot's answers) continues that answer's
/// conversation; a reply to another message roots the chain there.
pub async fn identify(
    engine: &Engine,
    recent: &RecentAnswers,
    at: &Whereabouts,
) -> ConversationKey {
    if at.dm {
        return dm_key(at.channel.get());
    }
    if at.thread {
        return thread_key(at.channel.get());
    }
    if let Some(parent) = at.reply_to {
        if let Some(key) = answered_in(engine, recent, parent).await {
            return key;
        }
        if !at.always {
            return chain_key(parent.get());
        }
    }
    if at.always {
        return channel_key(at.channel.get());
    }
    chain_key(at.message.get())
}

/// The conversation of the answer posted as message `post`, if it is one: remembered from a
/// recent post, or found in the database.
async fn answered_in(
    engine: &Engine,
    recent: &RecentAnswers,
    post: Id<MessageMarker>,
) -> Option<ConversationKey> {
    if let Some(key) = recent.get(post) {
        return Some(key);
    }
    engine
        .conversation_of_post(post.to_engine())
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot look up the replied-to message");
            None
        })
}

/// The conversations of answers posted recently, by Discord message id. An answer's message ids
/// reach the database only when the answer is complete; a reply to it may come sooner.
#[derive(Debug, Default)]
pub struct RecentAnswers {
    inner: std::sync::Mutex<Remembered>,
}

/// The conversation of each remembered message, and the messages oldest first.
type Remembered = (
    std::collections::HashMap<Id<MessageMarker>, ConversationKey>,
    std::collections::VecDeque<Id<MessageMarker>>,
);

impl RecentAnswers {
    /// Messages remembered at most; the oldest are forgotten first (the database has them).
    pub const CAPACITY: usize = 10_000;

    /// Remembers that Discord message `message` belongs to conversation `key`.
    pub fn remember(&self, message: Id<MessageMarker>, key: ConversationKey) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (map, order) = &mut *inner;
        if map.insert(message, key).is_none() {
            order.push_back(message);
        }
        while order.len() > Self::CAPACITY {
            if let Some(oldest) = order.pop_front() {
                map.remove(&oldest);
            }
        }
    }

    /// The conversation of a recently posted message.
    pub fn get(&self, message: Id<MessageMarker>) -> Option<ConversationKey> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.0.get(&message).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_answers_forget_the_oldest_past_capacity() {
        let recent = RecentAnswers::default();
        for message in 1..=(RecentAnswers::CAPACITY as u64 + 5) {
            recent.remember(Id::new(message), chain_key(message));
        }
        assert_eq!(recent.get(Id::new(1)), None);
        assert_eq!(recent.get(Id::new(5)), None);
        assert_eq!(recent.get(Id::new(6)), Some(chain_key(6)));
    }
}
