//! Hybrid recall: the messages of earlier conversations most related to a text, from several
//! ranked lists (vectors from the in-process index, keywords) fused by reciprocal rank, weighted
//! by age, and read back as snippets.
//!
//! Scope comes in as the conversations the query may see (the caller has left out the current
//! one): the vector scan compares nothing outside them, and the snippets are read only from
//! them, so nothing outside the scope can be returned or even displace a hit.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use crate::embeddings::placeholders;
use crate::vectors::{DEFAULT_CANDIDATES, VectorIndex, rerank};
use crate::{ConversationId, MemoryError, MessageId, Role, Store, db};

/// Reciprocal rank fusion's constant: how much the first ranks count more than the later ones.
pub const RECALL_RRF_K: f64 = 60.0;

/// What to recall.
#[derive(Clone, Debug)]
pub struct RecallQuery<'a> {
    /// The conversations that may be recalled from (scope, without the current conversation).
    pub conversations: &'a [ConversationId],
    /// The text's embedding, when the embedding model answered.
    pub vector: Option<&'a [f32]>,
    /// Other ranked lists to fuse with the vector hits (keyword hits), best first; ids outside
    /// `conversations` are ignored.
    pub lists: Vec<Vec<MessageId>>,
    /// Most snippets returned.
    pub limit: usize,
    /// Vector hits below this cosine similarity are not related enough to recall.
    pub min_similarity: f32,
    /// Age at which a hit's score is halved.
    pub half_life: Duration,
    /// The time ages are counted from.
    pub now: SystemTime,
}

/// A recalled message.
#[derive(Clone, Debug, PartialEq)]
pub struct Snippet {
    /// The message.
    pub id: MessageId,
    /// Its conversation.
    pub conversation: ConversationId,
    /// Who spoke.
    pub role: Role,
    /// The person's name, for user messages.
    pub author: Option<String>,
    /// The text.
    pub content: String,
    /// When it was written.
    pub created_at: SystemTime,
    /// Fused score (higher is better).
    pub score: f64,
}

#[derive(sqlx::FromRow)]
struct SnippetRow {
    id: i64,
    conversation_id: i64,
    role: String,
    author_name: Option<String>,
    content: String,
    created_at: i64,
}

impl Store {
    /// The snippets best matching `query`, best first.
    pub async fn recall(
        &self,
        index: Option<&VectorIndex>,
        query: &RecallQuery<'_>,
    ) -> Result<Vec<Snippet>, MemoryError> {
        if query.conversations.is_empty() || query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut lists = query.lists.clone();
        if let (Some(index), Some(vector)) = (index, query.vector) {
            lists.push(self.vector_hits(index, vector, query).await?);
        }
        let fused = ranked(&lists);
        let ids: Vec<MessageId> = fused.iter().map(|(id, _)| *id).take(64).collect();
        let mut snippets = self.snippets(&ids, query.conversations).await?;
        for snippet in &mut snippets {
            let rank = fused.iter().find(|(id, _)| *id == snippet.id);
            let age = query
                .now
                .duration_since(snippet.created_at)
                .unwrap_or_default();
            snippet.score = rank.map_or(0.0, |(_, s)| *s) * recency_weight(age, query.half_life);
        }
        snippets.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.id.cmp(&a.id)));
        snippets.truncate(query.limit);
        Ok(snippets)
    }

    /// Vector hits in scope, most similar first, at least `min_similarity` similar.
    async fn vector_hits(
        &self,
        index: &VectorIndex,
        vector: &[f32],
        query: &RecallQuery<'_>,
    ) -> Result<Vec<MessageId>, MemoryError> {
        let candidates = index.candidates(vector, Some(query.conversations), DEFAULT_CANDIDATES);
        let stored = self.embeddings_of(index.model(), &candidates).await?;
        let pairs: Vec<(MessageId, Vec<f32>)> =
            stored.into_iter().map(|e| (e.id, e.vector)).collect();
        Ok(rerank(vector, &pairs, query.limit.max(10) * 4)
            .into_iter()
            .filter(|(_, similarity)| *similarity >= query.min_similarity)
            .map(|(id, _)| id)
            .collect())
    }

    /// The live (not replaced) user and assistant messages among `ids` in `conversations`.
    async fn snippets(
        &self,
        ids: &[MessageId],
        conversations: &[ConversationId],
    ) -> Result<Vec<Snippet>, MemoryError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, conversation_id, role, author_name, content, created_at FROM messages \
             WHERE id IN ({}) AND replaced_at IS NULL AND role IN ('user', 'assistant')",
            placeholders(1, ids.len())
        );
        let mut select = sqlx::query_as::<_, SnippetRow>(&sql);
        for id in ids {
            select = select.bind(id.0);
        }
        let allowed: HashSet<i64> = conversations.iter().map(|c| c.0).collect();
        let rows = select.fetch_all(&self.pool).await?;
        rows.into_iter()
            .filter(|row| allowed.contains(&row.conversation_id))
            .map(Snippet::try_from)
            .collect()
    }
}

impl TryFrom<SnippetRow> for Snippet {
    type Error = MemoryError;

    fn try_from(row: SnippetRow) -> Result<Self, MemoryError> {
        let role = match row.role.as_str() {
            "user" => Role::User,
            _ => Role::Assistant,
        };
        Ok(Self {
            id: MessageId(row.id),
            conversation: ConversationId(row.conversation_id),
            role,
            author: row.author_name,
            content: row.content,
            created_at: db::time(row.created_at),
            score: 0.0,
        })
    }
}

/// Several ranked lists (best first) fused by reciprocal rank: each id scores the sum of
/// `1 / (k + rank)` over the lists it appears in. Best first.
pub fn ranked(lists: &[Vec<MessageId>]) -> Vec<(MessageId, f64)> {
    let mut scores: std::collections::HashMap<MessageId, f64> = std::collections::HashMap::new();
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            *scores.entry(*id).or_default() += 1.0 / (RECALL_RRF_K + rank as f64 + 1.0);
        }
    }
    let mut fused: Vec<(MessageId, f64)> = scores.into_iter().collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    fused
}

/// How much a hit of this age counts: 1 now, ½ at `half_life`, ¼ at twice that.
pub fn recency_weight(age: Duration, half_life: Duration) -> f64 {
    if half_life.is_zero() {
        return 1.0;
    }
    0.5_f64.powf(age.as_secs_f64() / half_life.as_secs_f64())
}

impl Store {
    /// The conversations a person's recall covers: where they took part in this guild, or, in
    /// a DM (`guild` `None`), their own DMs; never `exclude` (the current conversation).
    pub async fn recall_scope(
        &self,
        user: u64,
        guild: Option<u64>,
        exclude: Option<ConversationId>,
    ) -> Result<Vec<ConversationId>, MemoryError> {
        let place = if guild.is_some() {
            "c.guild_id = $2"
        } else {
            "c.guild_id IS NULL AND $2 IS NULL"
        };
        let sql = format!(
            "SELECT c.id FROM conversations c WHERE {place} AND c.id <> $3 \
             AND (c.owner_id = $1 OR c.user_id = $1 OR EXISTS \
                  (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.author_id = $1))"
        );
        let ids: Vec<i64> = sqlx::query_scalar(&sql)
            .bind(db::id(user))
            .bind(db::opt_id(guild))
            .bind(exclude.map_or(-1, |c| c.0))
            .fetch_all(&self.pool)
            .await?;
        Ok(ids.into_iter().map(ConversationId).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_favours_ids_in_several_lists() {
        let a = vec![MessageId(1), MessageId(2), MessageId(3)];
        let b = vec![MessageId(3), MessageId(4)];
        let fused = ranked(&[a, b]);
        assert_eq!(fused[0].0, MessageId(3));
        assert_eq!(fused.len(), 4);
        assert!(ranked(&[]).is_empty());
    }

    #[test]
    fn recency_halves_at_the_half_life() {
        let day = Duration::from_secs(86_400);
        assert!((recency_weight(Duration::ZERO, day) - 1.0).abs() < 1e-9);
        assert!((recency_weight(day, day) - 0.5).abs() < 1e-9);
        assert!((recency_weight(day * 2, day) - 0.25).abs() < 1e-9);
        assert_eq!(recency_weight(day, Duration::ZERO), 1.0);
    }
}
