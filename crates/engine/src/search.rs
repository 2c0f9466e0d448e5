//! Search of the stored conversations, for front ends: a person's `/search` (their own
//! conversations of the place they search from) and the operator's `mcpcord memory` commands.
//! With an embedding model, a search finds by meaning as well as by words (the query is
//! embedded, waiting at most `memory.recall_timeout`; without an answer it finds by words).
//! The scope rules live with the queries in the memory crate; the engine passes them through,
//! so that no front end reaches the store.

use crate::engine::EngineConfig;
use crate::{Engine, EngineError};
use mcpcord_memory::{
    Conversation, ConversationId, ConversationKey, GuildId, Meaning, SearchHit, SearchQuery,
    SearchStats, UserId,
};

impl Engine {
    /// The stored messages matching `query`'s words or meaning within its scope, best first.
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, EngineError> {
        let config = self.config();
        // Nothing to find by meaning before the indexer loaded or embedded anything (the
        // operator's CLI does not run it): no embedding asked for.
        let vector = match (&self.inner.vectors, &config.memory.embedding_model) {
            (Some(index), Some(model)) if !index.is_empty() => {
                self.embed_query(model, &query.text, &config).await
            }
            _ => None,
        };
        let meaning =
            self.inner
                .vectors
                .as_deref()
                .zip(vector.as_deref())
                .map(|(index, vector)| Meaning {
                    index,
                    vector,
                    min_similarity: config.memory.min_similarity,
                });
        Ok(self.store().hybrid_search(query, meaning).await?)
    }

    /// `text` embedded by `model` for a search, or `None` (logged) when the model does not
    /// answer within `memory.recall_timeout`.
    async fn embed_query(
        &self,
        model: &str,
        text: &str,
        config: &EngineConfig,
    ) -> Option<Vec<f32>> {
        let texts = [text.to_owned()];
        let embed = self.pool().embed(model, &texts);
        match tokio::time::timeout(config.memory.recall_timeout, embed).await {
            Ok(Ok(mut vectors)) => vectors.pop(),
            Ok(Err(error)) => {
                tracing::debug!(%error, "could not embed the search; searching by words only");
                None
            }
            Err(_) => {
                tracing::debug!("embedding the search took too long; searching by words only");
                None
            }
        }
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
