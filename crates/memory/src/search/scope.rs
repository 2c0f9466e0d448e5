//! Who may find what: a person's search (and recall) covers the conversations they took part in,
//! in the guild they search from, or their own DMs when they search from a DM; the operator's
//! covers everything, or one guild. Expired (retention) conversations are out of every scope,
//! swept yet or not; deleted messages are gone from the tables and so from every index.
//!
//! The condition is SQL over the conversation (alias `c`), put into every query that reads
//! messages for a search: scope is never a filter applied to results afterwards.

use std::time::SystemTime;

use super::params::Params;
use crate::{ChannelId, ConversationId, GuildId, MemoryError, MessageId, Store, UserId, db};

/// Whose search it is, and where they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Viewer {
    /// A person in a guild: the conversations of that guild they took part in. Never a DM.
    Guild {
        /// The person searching.
        user_id: UserId,
        /// The guild they search from.
        guild_id: GuildId,
    },
    /// A person in a DM: their own conversations outside any guild (their DMs) only.
    Direct {
        /// The person searching.
        user_id: UserId,
    },
    /// The operator (the `mcpcord memory` CLI): every conversation, or one guild's.
    Operator {
        /// Only this guild's conversations; `None`: every guild and every DM.
        guild_id: Option<GuildId>,
    },
}

/// What a search may read: the [`Viewer`]'s conversations, narrowed by optional filters.
///
/// "Took part in" a conversation: wrote a message in it, started it, or owns it. Conversations
/// archived by `/new` still count; replaced (regenerated) answers do not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchScope {
    /// Whose search, from where.
    pub viewer: Viewer,
    /// Only conversations this user took part in (for a person: shared with them).
    pub user: Option<UserId>,
    /// Only this channel or thread.
    pub channel: Option<ChannelId>,
    /// Only messages written before this time.
    pub before: Option<SystemTime>,
    /// Only messages written at or after this time.
    pub after: Option<SystemTime>,
    /// Only conversations carrying this tag (its stored spelling, see
    /// [`tag_name`](crate::tag_name)).
    pub tag: Option<String>,
    /// Only conversations in this automatic category (case aside).
    pub category: Option<String>,
    /// Only conversations naming this entity (a person, project, place or product the
    /// background pass found in them; its whole name, case aside: SQLite's `LOWER` folds
    /// ASCII letters only).
    pub entity: Option<String>,
}

impl SearchScope {
    /// A person's scope from a guild: their conversations in that guild.
    pub fn guild(user_id: UserId, guild_id: GuildId) -> Self {
        Self::of(Viewer::Guild { user_id, guild_id })
    }

    /// A person's scope from a DM: their own DMs.
    pub fn direct(user_id: UserId) -> Self {
        Self::of(Viewer::Direct { user_id })
    }

    /// A person's scope from where they are: a guild's if `guild_id` is set, else their DMs.
    pub fn person(user_id: UserId, guild_id: Option<GuildId>) -> Self {
        match guild_id {
            Some(guild_id) => Self::guild(user_id, guild_id),
            None => Self::direct(user_id),
        }
    }

    /// The operator's scope: every conversation, or one guild's.
    pub fn operator(guild_id: Option<GuildId>) -> Self {
        Self::of(Viewer::Operator { guild_id })
    }

    fn of(viewer: Viewer) -> Self {
        Self {
            viewer,
            user: None,
            channel: None,
            before: None,
            after: None,
            tag: None,
            category: None,
            entity: None,
        }
    }

    /// Narrowed to conversations `user` took part in.
    pub fn with_user(mut self, user: UserId) -> Self {
        self.user = Some(user);
        self
    }

    /// Narrowed to one channel or thread.
    pub fn in_channel(mut self, channel: ChannelId) -> Self {
        self.channel = Some(channel);
        self
    }

    /// Narrowed to conversations tagged `tag` (in its stored spelling, see
    /// [`tag_name`](crate::tag_name)).
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Narrowed to conversations in category `category` (case aside).
    pub fn with_category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Narrowed to conversations naming entity `name` (its whole name, case aside).
    pub fn with_entity(mut self, name: impl Into<String>) -> Self {
        self.entity = Some(name.into());
        self
    }

    /// Narrowed to messages written before `time`.
    pub fn before(mut self, time: SystemTime) -> Self {
        self.before = Some(time);
        self
    }

    /// Narrowed to messages written at or after `time`.
    pub fn after(mut self, time: SystemTime) -> Self {
        self.after = Some(time);
        self
    }

    /// Whether this scope is a small part of the store (a person's, or narrowed to one user
    /// or channel): worth computing before looking at an index's matches.
    pub(crate) fn is_narrow(&self) -> bool {
        !matches!(self.viewer, Viewer::Operator { .. })
            || self.user.is_some()
            || self.channel.is_some()
            || self.tag.is_some()
            || self.category.is_some()
            || self.entity.is_some()
    }

    /// The SQL condition on a conversation `c` that this scope allows, its values pushed to
    /// `params`. `cutoffs` are the oldest `updated_at` a conversation outside any guild, or in a
    /// guild without a rule of its own, may have (retention), `now` the time retention is
    /// counted at.
    pub(crate) fn conversation_condition(
        &self,
        params: &mut Params,
        now: i64,
        cutoffs: Cutoffs,
    ) -> String {
        let mut parts = vec![viewer_condition(self.viewer, params)];
        if let Some(user) = self.user {
            parts.push(took_part(user, params));
        }
        if let Some(channel) = self.channel {
            parts.push(format!("c.channel_id = {}", params.int(db::id(channel))));
        }
        if let Some(tag) = &self.tag {
            parts.push(format!(
                "EXISTS (SELECT 1 FROM conversation_tags t WHERE t.conversation_id = c.id \
                 AND t.tag = {})",
                params.text(tag.clone())
            ));
        }
        if let Some(category) = &self.category {
            parts.push(format!(
                "LOWER(c.category) = LOWER({})",
                params.text(category.trim().to_owned())
            ));
        }
        if let Some(entity) = &self.entity {
            parts.push(format!(
                "EXISTS (SELECT 1 FROM conversation_entities e WHERE e.conversation_id = c.id \
                 AND LOWER(e.name) = LOWER({}))",
                params.text(entity.trim().to_owned())
            ));
        }
        parts.push(format!(
            "NOT EXISTS (SELECT 1 FROM guilds g WHERE g.id = c.guild_id \
             AND g.retention_ms IS NOT NULL AND c.updated_at < {} - g.retention_ms)",
            params.int(now)
        ));
        parts.push(format!(
            "(c.guild_id IS NOT NULL OR c.updated_at >= {})",
            params.int(cutoffs.outside)
        ));
        parts.push(format!(
            "(c.guild_id IS NULL OR c.updated_at >= {} OR EXISTS (SELECT 1 FROM guilds r \
             WHERE r.id = c.guild_id AND r.retention_ms IS NOT NULL))",
            params.int(cutoffs.other_guilds)
        ));
        parts.join(" AND ")
    }

    /// The SQL condition on a message `m` that a search may return: indexed roles, not
    /// replaced, within the time filters.
    pub(crate) fn message_condition(&self, params: &mut Params) -> String {
        let mut parts = vec![
            "m.role IN ('user', 'assistant')".to_owned(),
            "m.replaced_at IS NULL".to_owned(),
        ];
        if let Some(before) = self.before {
            parts.push(format!("m.created_at < {}", params.int(db::millis(before))));
        }
        if let Some(after) = self.after {
            parts.push(format!("m.created_at >= {}", params.int(db::millis(after))));
        }
        parts.join(" AND ")
    }

    /// The conversation condition for the conversation-level query: the time filters keep
    /// conversations that may hold a message in the window.
    fn window_condition(&self, params: &mut Params) -> String {
        let mut parts = Vec::new();
        if let Some(before) = self.before {
            parts.push(format!("c.created_at < {}", params.int(db::millis(before))));
        }
        if let Some(after) = self.after {
            parts.push(format!("c.updated_at >= {}", params.int(db::millis(after))));
        }
        if parts.is_empty() {
            "1 = 1".to_owned()
        } else {
            parts.join(" AND ")
        }
    }
}

/// The condition for the viewer alone.
fn viewer_condition(viewer: Viewer, params: &mut Params) -> String {
    match viewer {
        Viewer::Guild { user_id, guild_id } => format!(
            "c.guild_id = {} AND {}",
            params.int(db::id(guild_id)),
            took_part(user_id, params)
        ),
        Viewer::Direct { user_id } => {
            format!("c.guild_id IS NULL AND {}", took_part(user_id, params))
        }
        Viewer::Operator {
            guild_id: Some(guild_id),
        } => format!("c.guild_id = {}", params.int(db::id(guild_id))),
        Viewer::Operator { guild_id: None } => "1 = 1".to_owned(),
    }
}

/// `user` took part in conversation `c`: started it, owns it, or wrote in it.
fn took_part(user: UserId, params: &mut Params) -> String {
    let user = params.int(db::id(user));
    format!(
        "(c.owner_id = {user} OR c.user_id = {user} OR EXISTS (SELECT 1 FROM messages p \
         WHERE p.conversation_id = c.id AND p.author_id = {user}))"
    )
}

/// The oldest `updated_at` a conversation may have, where no guild rule applies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cutoffs {
    /// Outside any guild (DMs, the terminal).
    pub(crate) outside: i64,
    /// In a guild without a rule of its own.
    pub(crate) other_guilds: i64,
}

impl Store {
    /// Retention as a search sees it at `now`: (`now` as stored, the oldest `updated_at` a
    /// conversation outside any guild, or in a guild without a rule, may have).
    pub(crate) fn retention_bounds(&self, now: SystemTime) -> (i64, Cutoffs) {
        let now = db::millis(now);
        let cutoff = |retention: Option<std::time::Duration>| match retention {
            Some(retention) => now.saturating_sub(db::duration_ms(retention)),
            None => i64::MIN,
        };
        let cutoffs = Cutoffs {
            outside: cutoff(self.retention_outside_guilds()),
            other_guilds: cutoff(self.retention_other_guilds()),
        };
        (now, cutoffs)
    }

    /// The conversations `scope` may read, oldest first: the viewer's, narrowed by the
    /// filters (the time filters keep conversations that overlap the window), retention
    /// respected.
    pub async fn conversations_in_scope(
        &self,
        scope: &SearchScope,
    ) -> Result<Vec<ConversationId>, MemoryError> {
        let (now, cutoff) = self.retention_bounds(SystemTime::now());
        let mut params = Params::default();
        let condition = scope.conversation_condition(&mut params, now, cutoff);
        let window = scope.window_condition(&mut params);
        let sql = format!(
            "SELECT c.id FROM conversations c WHERE {condition} AND {window} ORDER BY c.id"
        );
        let ids: Vec<i64> = params
            .bind_scalar(sqlx::query_scalar(&sql))
            .fetch_all(&self.pool)
            .await?;
        Ok(ids.into_iter().map(ConversationId).collect())
    }

    /// Those of `candidates` that `scope` may read (from another ranking, such as a vector
    /// index), in the order given; the check runs in the database, with the same condition
    /// as every search.
    pub async fn messages_in_scope(
        &self,
        scope: &SearchScope,
        candidates: &[MessageId],
    ) -> Result<Vec<MessageId>, MemoryError> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let (now, cutoff) = self.retention_bounds(SystemTime::now());
        let mut params = Params::default();
        let list: Vec<String> = candidates.iter().map(|id| params.int(id.0)).collect();
        let condition = scope.conversation_condition(&mut params, now, cutoff);
        let messages = scope.message_condition(&mut params);
        let sql = format!(
            "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.id IN ({}) AND {messages} AND {condition}",
            list.join(", ")
        );
        let allowed: std::collections::HashSet<i64> = params
            .bind_scalar(sqlx::query_scalar(&sql))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .collect();
        Ok(candidates
            .iter()
            .copied()
            .filter(|id| allowed.contains(&id.0))
            .collect())
    }
}
