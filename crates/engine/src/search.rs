//! Search of the stored conversations, for front ends: a person's `/search` (their own
//! conversations of the place they search from) and the operator's `mcpcord memory` commands.
//! The scope rules live with the queries in the memory crate; the engine passes them through,
//! so that no front end reaches the store.

use crate::{Engine, EngineError};
use mcpcord_memory::{SearchHit, SearchQuery, SearchStats};

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
}
