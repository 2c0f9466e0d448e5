//! Mentions, both ways: outgoing messages never ping; incoming mention tokens become names.
//!
//! Owns the bot's mention policy. Every message the bot sends carries [`no_pings`], so nothing a
//! model writes (`@everyone`, `<@&role>`, `<@user>`) can notify anyone. Incoming text keeps its
//! raw tokens (`<@id>`, `<@!id>`, `<#id>`, `<@&id>`); [`mention_names`] pairs each with a readable
//! name from the message's resolved mentions, for the engine to substitute
//! (`mcpcord_engine::resolve_mentions`).

use std::collections::HashMap;

use twilight_model::application::interaction::InteractionDataResolved;
use twilight_model::channel::Message;
use twilight_model::channel::message::AllowedMentions;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, RoleMarker, UserMarker};

/// What a user mention reads as when the message did not resolve it.
pub const UNKNOWN_USER: &str = "@unknown-user";
/// What a role mention reads as when its name is not known.
pub const UNKNOWN_ROLE: &str = "@unknown-role";
/// What a channel mention reads as when its name is not known.
pub const UNKNOWN_CHANNEL: &str = "#unknown-channel";

/// Allowed mentions that allow nothing: set on every outgoing message (and as the twilight
/// client's default, `ClientBuilder::default_allowed_mentions`). Serializes as `{"parse":[]}`.
pub fn no_pings() -> AllowedMentions {
    AllowedMentions::default()
}

/// Names for the ids a message mentions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedNames {
    /// Display names of mentioned users (server nickname first).
    pub users: HashMap<Id<UserMarker>, String>,
    /// Names of mentioned roles.
    pub roles: HashMap<Id<RoleMarker>, String>,
    /// Names of mentioned channels.
    pub channels: HashMap<Id<ChannelMarker>, String>,
}

impl ResolvedNames {
    /// The names a gateway message resolves itself: its user mentions (with server nicknames)
    /// and cross-posted channel mentions. Role names and most channel names are not in a
    /// message; add them from the cache with [`with_role`](Self::with_role) and
    /// [`with_channel`](Self::with_channel).
    pub fn from_message(message: &Message) -> Self {
        let mut names = Self::default();
        for user in &message.mentions {
            let nick = user.member.as_ref().and_then(|m| m.nick.clone());
            names
                .users
                .insert(user.id, nick.unwrap_or_else(|| user.name.clone()));
        }
        for channel in &message.mention_channels {
            names.channels.insert(channel.id, channel.name.clone());
        }
        names
    }

    /// The names an interaction resolves (slash command options, context-menu targets).
    pub fn from_interaction(resolved: &InteractionDataResolved) -> Self {
        let mut names = Self::default();
        for (id, user) in &resolved.users {
            let display = resolved
                .members
                .get(id)
                .and_then(|m| m.nick.clone())
                .or_else(|| user.global_name.clone())
                .unwrap_or_else(|| user.name.clone());
            names.users.insert(*id, display);
        }
        for (id, role) in &resolved.roles {
            names.roles.insert(*id, role.name.clone());
        }
        for (id, channel) in &resolved.channels {
            names.channels.insert(*id, channel.name.clone());
        }
        names
    }

    /// Adds a role's name.
    pub fn with_role(mut self, id: Id<RoleMarker>, name: impl Into<String>) -> Self {
        self.roles.insert(id, name.into());
        self
    }

    /// Adds a channel's name.
    pub fn with_channel(mut self, id: Id<ChannelMarker>, name: impl Into<String>) -> Self {
        self.channels.insert(id, name.into());
        self
    }

    /// Adds a user's display name.
    pub fn with_user(mut self, id: Id<UserMarker>, name: impl Into<String>) -> Self {
        self.users.insert(id, name.into());
        self
    }
}

/// A mention token found in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MentionToken {
    /// `<@id>` or `<@!id>`.
    User(Id<UserMarker>),
    /// `<@&id>`.
    Role(Id<RoleMarker>),
    /// `<#id>`.
    Channel(Id<ChannelMarker>),
}

/// The mention tokens in `text`, each once, in order of first appearance, with where they are.
pub fn mention_tokens(text: &str) -> Vec<(&str, MentionToken)> {
    let mut found: Vec<(&str, MentionToken)> = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find('<') {
        let candidate = &rest[start..];
        let parsed = candidate.find('>').and_then(|end| {
            let token = &candidate[..=end];
            parse_token(token).map(|mention| (token, mention))
        });
        match parsed {
            Some((token, mention)) => {
                let token = &text[offset + start..offset + start + token.len()];
                if !found.iter().any(|(t, _)| *t == token) {
                    found.push((token, mention));
                }
                let advance = start + token.len();
                offset += advance;
                rest = &rest[advance..];
            }
            None => {
                offset += start + 1;
                rest = &rest[start + 1..];
            }
        }
    }
    found
}

/// The non-zero snowflake `digits` spell (digits only).
fn snowflake(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok().filter(|&n| n != 0)
}

/// The mention a whole `<…>` token is, if it is one.
fn parse_token(token: &str) -> Option<MentionToken> {
    let inner = token.strip_prefix('<')?.strip_suffix('>')?;
    let id = snowflake;
    if let Some(role) = inner.strip_prefix("@&") {
        return Some(MentionToken::Role(Id::new(id(role)?)));
    }
    if let Some(user) = inner.strip_prefix("@!").or_else(|| inner.strip_prefix('@')) {
        return Some(MentionToken::User(Id::new(id(user)?)));
    }
    if let Some(channel) = inner.strip_prefix('#') {
        return Some(MentionToken::Channel(Id::new(id(channel)?)));
    }
    None
}

/// Pairs each mention token in `text` with a readable name: `@name` for users and roles,
/// `#name` for channels, or a placeholder when the name is not known.
pub fn mention_names(text: &str, names: &ResolvedNames) -> Vec<(String, String)> {
    mention_tokens(text)
        .into_iter()
        .map(|(token, mention)| {
            let readable = match mention {
                MentionToken::User(id) => names
                    .users
                    .get(&id)
                    .map_or_else(|| UNKNOWN_USER.to_owned(), |n| format!("@{n}")),
                MentionToken::Role(id) => names
                    .roles
                    .get(&id)
                    .map_or_else(|| UNKNOWN_ROLE.to_owned(), |n| format!("@{n}")),
                MentionToken::Channel(id) => names
                    .channels
                    .get(&id)
                    .map_or_else(|| UNKNOWN_CHANNEL.to_owned(), |n| format!("#{n}")),
            };
            (token.to_owned(), readable)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Message text is anyone's: finding mention tokens in it never panics, and every
        /// token found is a piece of the text.
        #[test]
        fn any_text_is_scanned_without_panic(text in "(\\PC|<@!?[0-9]{0,22}>|<#[0-9]{0,22}>|<@&[0-9]{0,22}>){0,40}") {
            for (token, _) in mention_tokens(&text) {
                proptest::prop_assert!(text.contains(token));
            }
            let _ = mention_names(&text, &ResolvedNames::default());
        }
    }
    use serde_json::json;

    #[test]
    fn outgoing_messages_allow_no_pings() {
        assert_eq!(
            serde_json::to_value(no_pings()).unwrap(),
            json!({"parse": []})
        );
    }

    #[test]
    fn tokens_of_every_kind_are_found_once() {
        let text = "hi <@42> and <@!42>, <@&7> see <#9> <#9> <@x> <@> <@0> <a:emoji:5> <@&> <#12";
        let tokens = mention_tokens(text);
        assert_eq!(
            tokens,
            [
                ("<@42>", MentionToken::User(Id::new(42))),
                ("<@!42>", MentionToken::User(Id::new(42))),
                ("<@&7>", MentionToken::Role(Id::new(7))),
                ("<#9>", MentionToken::Channel(Id::new(9))),
            ]
        );
    }

    #[test]
    fn names_come_from_the_gateway_message() {
        let message: Message = serde_json::from_value(json!({
            "id": "1", "channel_id": "2", "guild_id": "3", "type": 0,
            "content": "<@10> <@!11> ask <@&20> in <#30> and <#31> and <@12>",
            "author": {"id": "10", "username": "alice", "discriminator": "0", "avatar": null},
            "timestamp": "2026-01-01T00:00:00.000000+00:00", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "pinned": false,
            "mentions": [
                {"id": "10", "username": "alice", "discriminator": "0", "avatar": null, "public_flags": 0,
                 "member": {"nick": "Ally", "roles": [], "joined_at": null, "deaf": false, "mute": false, "flags": 0}},
                {"id": "11", "username": "bob", "discriminator": "0", "avatar": null, "public_flags": 0}
            ],
            "mention_roles": ["20"],
            "mention_channels": [{"id": "30", "guild_id": "3", "type": 0, "name": "general"}],
            "attachments": [], "embeds": [], "flags": 0
        }))
        .unwrap();
        let names = ResolvedNames::from_message(&message).with_role(Id::new(20), "mods");
        let pairs = mention_names(&message.content, &names);
        let expected = [
            ("<@10>", "@Ally"),
            ("<@!11>", "@bob"),
            ("<@&20>", "@mods"),
            ("<#30>", "#general"),
            ("<#31>", UNKNOWN_CHANNEL),
            ("<@12>", UNKNOWN_USER),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert_eq!(pairs, expected);
    }

    #[test]
    fn names_come_from_interaction_data() {
        let resolved: InteractionDataResolved = serde_json::from_value(json!({
            "users": {"5": {"id": "5", "username": "carol", "global_name": "Carol C", "discriminator": "0", "avatar": null}},
            "members": {},
            "roles": {"6": {"id": "6", "name": "helpers", "color": 0,
                            "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null}, "hoist": false, "managed": false,
                            "mentionable": true, "permissions": "0", "position": 1, "flags": 0}},
            "channels": {"7": {"id": "7", "name": "random", "type": 0, "permissions": "0"}}
        }))
        .unwrap();
        let names = ResolvedNames::from_interaction(&resolved);
        let pairs = mention_names("<@5> <@&6> <#7>", &names);
        assert_eq!(
            pairs.into_iter().map(|(_, n)| n).collect::<Vec<_>>(),
            ["@Carol C", "@helpers", "#random"]
        );
    }
}
