//! Hybrid search for people and the operator: keyword hits and meaning hits (the in-process
//! vector index, re-ranked exactly against the stored vectors) fused by reciprocal rank
//! ([`fuse`]), weighed with recency like keyword hits are.
//!
//! Unlike recall, which keeps only meaning hits (re-ranked by keywords) because everything it
//! finds goes into a prompt, a search shows both: a person who remembers a word finds it, one
//! who remembers only what it was about finds it too. Scope holds for both lists in the
//! database: the vector scan compares only conversations in scope, and its hits then pass the
//! same conditions as the keyword query ([`Store::messages_in_scope`]).

use std::collections::HashMap;
use std::time::SystemTime;

use super::fusion::{DEFAULT_RRF_K, fuse, recency_weight};
use super::keyword::{MAX_LIMIT, SearchHit, SearchQuery};
use crate::vectors::VectorIndex;
use crate::{MemoryError, MessageId, Store};

/// The meaning side of a hybrid search.
#[derive(Clone, Copy, Debug)]
pub struct Meaning<'a> {
    /// The in-process index of the embedding model's vectors.
    pub index: &'a VectorIndex,
    /// The query's embedding by that model.
    pub vector: &'a [f32],
    /// Hits less similar than this (cosine) are not about the same thing.
    pub min_similarity: f32,
}

impl Store {
    /// The messages matching `query` by its words or (with `meaning`) by what it means,
    /// within its scope, best first. Without `meaning` (no embedding model, or it did not
    /// answer) this is [`Store::keyword_search`].
    pub async fn hybrid_search(
        &self,
        query: &SearchQuery,
        meaning: Option<Meaning<'_>>,
    ) -> Result<Vec<SearchHit>, MemoryError> {
        let Some(meaning) = meaning else {
            return self.keyword_search(query).await;
        };
        let limit = query.limit.min(MAX_LIMIT);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let wider = query.clone().with_limit((limit * 4).min(MAX_LIMIT));
        let (keyword, similar) = tokio::join!(
            self.keyword_search(&wider),
            self.similar_in_scope(query, meaning, limit * 4)
        );
        let (keyword, similar) = (keyword?, similar?);
        let words: Vec<MessageId> = keyword.iter().map(|hit| hit.message_id).collect();
        let fused = fuse(&[&words, &similar], DEFAULT_RRF_K);
        let mut by_id: HashMap<MessageId, SearchHit> = keyword
            .into_iter()
            .map(|hit| (hit.message_id, hit))
            .collect();
        let only_meaning: Vec<MessageId> = similar
            .iter()
            .filter(|id| !by_id.contains_key(id))
            .copied()
            .collect();
        for hit in self.hits_by_id(&only_meaning, &query.text).await? {
            by_id.insert(hit.message_id, hit);
        }
        let now = SystemTime::now();
        let mut hits: Vec<SearchHit> = fused
            .into_iter()
            .filter_map(|(id, relevance)| {
                let mut hit = by_id.remove(&id)?;
                let age = now.duration_since(hit.created_at).unwrap_or_default();
                hit.score = relevance * (0.5 + 0.5 * recency_weight(age, query.half_life));
                Some(hit)
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(limit);
        Ok(hits)
    }

    /// Up to `count` messages in `query`'s scope most similar to the query's vector, at least
    /// `min_similarity` similar, most similar first.
    async fn similar_in_scope(
        &self,
        query: &SearchQuery,
        meaning: Meaning<'_>,
        count: usize,
    ) -> Result<Vec<MessageId>, MemoryError> {
        let conversations = self.conversations_in_scope(&query.scope).await?;
        if conversations.is_empty() {
            return Ok(Vec::new());
        }
        let ranked = self
            .similar(
                meaning.index,
                meaning.vector,
                &conversations,
                count,
                meaning.min_similarity,
            )
            .await?;
        self.messages_in_scope(&query.scope, &ranked).await
    }
}
