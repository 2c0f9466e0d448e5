//! Typed ids and the place a conversation belongs to.

use std::fmt;

/// A stored conversation's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConversationId(pub i64);

/// A stored message's id; ids grow in the order messages were written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub i64);

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The name a front end gives a conversation, such as `discord:thread:123` or `cli:default`.
///
/// Opaque to the store; at most one live conversation has a given key at a time (starting a new
/// one archives the old).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConversationKey(String);

impl ConversationKey {
    /// A key from the front end's chosen text.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConversationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ConversationKey {
    fn from(key: &str) -> Self {
        Self::new(key)
    }
}

impl From<String> for ConversationKey {
    fn from(key: String) -> Self {
        Self(key)
    }
}

/// Where a conversation happens, in Discord's ids: which preferences apply to it and which
/// guild's retention removes it. A DM has no guild; the terminal front end may have none at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The guild (server), if any.
    pub guild_id: Option<u64>,
    /// The channel or thread, if any.
    pub channel_id: Option<u64>,
    /// The user talking, if any.
    pub user_id: Option<u64>,
}
