//! A person's own conversations, for front ends: their recent ones (`/conversations`, and
//! `/continue`'s autocomplete by title), picking one up again (`/continue`), and tags
//! (`/tag`). Every call takes the person and where they are (a guild, or `None` for a DM):
//! they reach only what their own search from there may find (their conversations of this
//! guild, or their DMs in a DM), as [`may_reopen`](Engine::may_reopen) checks.

use mcpcord_memory::{
    ChannelId, Conversation, ConversationId, ConversationKey, GuildId, ListedConversation, Named,
    SearchScope, Tagged, UserId, tag_name,
};

use crate::{Engine, EngineError};

impl Engine {
    /// `person`'s conversations from `guild` (`None`: their DMs), narrowed to `channel` when
    /// given, the most recently written first, at most `limit`; with `title`, only those whose
    /// title (or, untitled, first message) contains it.
    pub async fn recent_conversations(
        &self,
        person: UserId,
        guild: Option<GuildId>,
        channel: Option<ChannelId>,
        title: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ListedConversation>, EngineError> {
        let mut scope = SearchScope::person(person, guild);
        if let Some(channel) = channel {
            scope = scope.in_channel(channel);
        }
        Ok(self
            .store()
            .recent_conversations(&scope, title, limit)
            .await?)
    }

    /// The names of `kind` in `person`'s own conversations from `guild` (`None`: their DMs),
    /// alphabetically, at most `limit`: for a search's `tag` and `entity` filters.
    pub async fn person_names(
        &self,
        kind: Named,
        person: UserId,
        guild: Option<GuildId>,
        limit: usize,
    ) -> Result<Vec<String>, EngineError> {
        let scope = SearchScope::person(person, guild);
        Ok(self.store().names_in_scope(kind, &scope, limit).await?)
    }

    /// The categories conversations are put in (`memory.categories`), for a search's
    /// `category` filter.
    pub fn categories(&self) -> Vec<String> {
        self.config().memory.categories.clone()
    }

    /// Conversation `id` as a list shows it (archived or live, where it lives), if `person`
    /// may pick it up from `guild` (`None`: a DM); an error saying why not otherwise.
    pub async fn own_conversation(
        &self,
        id: ConversationId,
        person: UserId,
        guild: Option<GuildId>,
    ) -> Result<ListedConversation, EngineError> {
        self.may_reopen(id, person, guild).await?;
        Ok(self.store().listed_conversation(id).await?)
    }

    /// The live conversation under `key`, if there is one.
    pub async fn live_conversation(
        &self,
        key: &ConversationKey,
    ) -> Result<Option<Conversation>, EngineError> {
        Ok(self.store().find_conversation(key).await?)
    }

    /// Tags conversation `id` with `typed` (as a person wrote it) for `person` in `guild`;
    /// returns the tag as stored and what was done. An unusable tag, or a conversation not
    /// theirs here, is an error saying so.
    pub async fn tag_conversation(
        &self,
        id: ConversationId,
        typed: &str,
        person: UserId,
        guild: Option<GuildId>,
    ) -> Result<(String, Tagged), EngineError> {
        let tag = usable_tag(typed)?;
        self.may_reopen(id, person, guild).await?;
        let tagged = self
            .store()
            .tag_conversation(id, &tag, Some(person))
            .await?;
        Ok((tag, tagged))
    }

    /// Takes tag `typed` off conversation `id` for `person` in `guild`; the tag as stored, and
    /// whether the conversation carried it.
    pub async fn untag_conversation(
        &self,
        id: ConversationId,
        typed: &str,
        person: UserId,
        guild: Option<GuildId>,
    ) -> Result<(String, bool), EngineError> {
        let tag = usable_tag(typed)?;
        self.may_reopen(id, person, guild).await?;
        let removed = self.store().untag_conversation(id, &tag).await?;
        Ok((tag, removed))
    }
}

/// `typed` in a tag's stored spelling, or an error saying what a tag may be.
pub fn usable_tag(typed: &str) -> Result<String, EngineError> {
    tag_name(typed).ok_or_else(|| EngineError::Invalid {
        detail: format!(
            "`{}` cannot be a tag: use up to {} letters, digits, `-`, `_` or `.` \
             (spaces become `-`)",
            typed.trim(),
            mcpcord_memory::MAX_TAG_CHARS
        ),
    })
}
