//! When the bot answers a message: mentioned, replied to, in a DM, in a thread it started, in an
//! "always answer" channel; never a bot's message or an empty one.
//!
//! Owns the decision only; the facts come from the gateway event and the adapter's caches. Who
//! the bot serves at all ([`Audience`]: blocked users, servers, DMs) is the
//! [`gate`](crate::gate)'s question, asked of every entry point alike.

use std::collections::HashSet;

/// Why the bot answers a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The message mentions the bot.
    Mention,
    /// The message replies to one of the bot's messages.
    ReplyToBot,
    /// A direct message.
    Dm,
    /// A message in a thread the bot started.
    BotThread,
    /// A message in a channel where the bot answers everything.
    AlwaysChannel,
}

/// What is known about a message, for [`trigger`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// The author.
    pub author: u64,
    /// The author is a bot (the bot itself included).
    pub author_is_bot: bool,
    /// The server, `None` in DMs.
    pub guild: Option<u64>,
    /// The bot is among the message's user mentions.
    pub mentions_bot: bool,
    /// The message replies to a message the bot wrote.
    pub replies_to_bot: bool,
    /// The channel is a thread the bot started.
    pub in_bot_thread: bool,
    /// The channel (or a thread's parent) is an "always answer" channel.
    pub in_always_channel: bool,
    /// The message has something to answer (text or attachments).
    pub has_content: bool,
}

/// Who the bot serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience {
    /// Servers served; empty means all.
    pub allowed_guilds: HashSet<u64>,
    /// Whether DMs are answered.
    pub allow_dms: bool,
    /// Users ignored everywhere.
    pub blocked_users: HashSet<u64>,
}

/// Whether (and why) the bot answers a message with these facts.
pub fn trigger(facts: &Facts) -> Option<Trigger> {
    if facts.author_is_bot || !facts.has_content {
        return None;
    }
    if facts.guild.is_none() {
        return Some(Trigger::Dm);
    }
    if facts.mentions_bot {
        Some(Trigger::Mention)
    } else if facts.replies_to_bot {
        Some(Trigger::ReplyToBot)
    } else if facts.in_bot_thread {
        Some(Trigger::BotThread)
    } else if facts.in_always_channel {
        Some(Trigger::AlwaysChannel)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guild_message() -> Facts {
        Facts {
            author: 1,
            guild: Some(9),
            has_content: true,
            ..Facts::default()
        }
    }

    #[test]
    fn answers_mentions_replies_threads_and_always_channels_only() {
        assert_eq!(trigger(&guild_message()), None);
        let cases = [
            (
                Facts {
                    mentions_bot: true,
                    ..guild_message()
                },
                Trigger::Mention,
            ),
            (
                Facts {
                    replies_to_bot: true,
                    ..guild_message()
                },
                Trigger::ReplyToBot,
            ),
            (
                Facts {
                    in_bot_thread: true,
                    ..guild_message()
                },
                Trigger::BotThread,
            ),
            (
                Facts {
                    in_always_channel: true,
                    ..guild_message()
                },
                Trigger::AlwaysChannel,
            ),
            (
                Facts {
                    guild: None,
                    ..guild_message()
                },
                Trigger::Dm,
            ),
        ];
        for (facts, expected) in cases {
            assert_eq!(trigger(&facts), Some(expected), "{facts:?}");
        }
    }

    #[test]
    fn never_answers_bots_or_empty_messages() {
        let mention = Facts {
            mentions_bot: true,
            ..guild_message()
        };
        let bot = Facts {
            author_is_bot: true,
            ..mention
        };
        assert_eq!(trigger(&bot), None);
        let empty = Facts {
            has_content: false,
            ..mention
        };
        assert_eq!(trigger(&empty), None);
    }
}
