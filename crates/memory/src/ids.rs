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

/// Declares a front end's id type: a `u64` (a Discord snowflake) that only converts on purpose,
/// so that a user id passed where a guild id belongs is a compile error.
macro_rules! front_end_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u64);

        impl $name {
            /// The id with the front end's number (a Discord snowflake).
            pub const fn new(id: u64) -> Self {
                Self(id)
            }

            /// The front end's number.
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FrontEndId for $name {
            fn from_raw(id: u64) -> Self {
                Self(id)
            }

            fn raw(self) -> u64 {
                self.0
            }
        }
    };
}

/// What every front-end id type offers the one place (`db.rs`) that turns ids into columns.
pub(crate) trait FrontEndId: Copy {
    /// The id from its raw number.
    fn from_raw(id: u64) -> Self;
    /// The id's raw number.
    fn raw(self) -> u64;
}

front_end_id! {
    /// A person, as the front end knows them (a Discord user id).
    UserId
}

front_end_id! {
    /// A guild (a Discord server).
    GuildId
}

front_end_id! {
    /// A channel, thread or direct-message channel.
    ChannelId
}

front_end_id! {
    /// A message as the front end posted or received it (a Discord message id): a "post".
    ///
    /// Not [`MessageId`], the store's own row id: one stored answer may be shown as several
    /// posts.
    PostId
}

/// Where a conversation happens, in the front end's ids: which preferences apply to it and which
/// guild's retention removes it. A DM has no guild; the terminal front end may have none at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The guild (server), if any.
    pub guild_id: Option<GuildId>,
    /// The channel or thread, if any.
    pub channel_id: Option<ChannelId>,
    /// The user talking, if any.
    pub user_id: Option<UserId>,
}
