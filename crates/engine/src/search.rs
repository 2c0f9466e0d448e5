//! Search of the stored conversations, for front ends: a person's `/search` (their own
//! conversations of the place they search from) and the operator's `mcpcord memory` commands.
//! The scope rules live with the queries in the memory crate; the engine passes them through,
//! so that no front end reaches the store.

use crate::{Engine, EngineError};
use mcpcord_memory::{
    Conversation, ConversationId, ConversationKey, GuildId, SearchHit, SearchQuery, SearchStats,
    UserId,
};

impl Engine {
    /// The stored messages matching `query`'s words within its scope, best first.
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, EngineError> {
        Ok(self.store().keyword_search(query).await?)
    }

    /// How many messages are stored, indexed and embedded, and the keyword index's size.
    pub async fn memory_stats(&self) -> Result<SearchStats, EngineError> {
        Ok(self.store().search_stats().await?)
    }

    /// Rebuilds the keyword index from the stored messages; returns how many are indexed.
    pub async fn reindex_memory(&self) -> Result<u64, EngineError> {
        Ok(self.store().reindex().await?)
    }

    /// "Continue this conversation" from a search: brings conversation `id` back as the live
    /// conversation under `key` (where `person` goes on with it, from `guild` or, `None`, a DM),
    /// when their own search from there may find it: a conversation they took part in, in this
    /// guild, or one of their DMs in a DM. The conversation live under `key` until now is put
    /// aside, like `/new` does (search still finds it). Returns the conversation.
    pub async fn reopen(
        &self,
        id: ConversationId,
        key: &ConversationKey,
        person: UserId,
        guild: Option<GuildId>,
    ) -> Result<Conversation, EngineError> {
        self.may_reopen(id, person, guild).await?;
        Ok(self.store().reopen_conversation(id, key).await?)
    }

    /// Whether `person` may [`reopen`](Self::reopen) conversation `id` from `guild` (`None`: a
    /// DM): an error saying why not, if they may not.
    pub async fn may_reopen(
        &self,
        id: ConversationId,
        person: UserId,
        guild: Option<GuildId>,
    ) -> Result<(), EngineError> {
        if self
            .store()
            .recall_scope(person, guild, None)
            .await?
            .contains(&id)
        {
            return Ok(());
        }
        Err(EngineError::Invalid {
            detail: "that conversation is not one of yours here (or it expired); search again \
                     from where it took place"
                .into(),
        })
    }
}
