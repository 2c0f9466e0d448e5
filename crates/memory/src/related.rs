//! Related conversations: a person's earlier conversations whose newest summary is very close
//! in meaning to the current one's, for the quiet "Related: <title>" button after an answer.
//!
//! The scope is recall's ([`Store::recall_scope`]): the person's conversations of this guild,
//! or their own DMs in a DM, never the current one and never another person's. Only summaries
//! embedded by the same model compare; similarity is the cosine of the two vectors.

use crate::embeddings::placeholders;
use crate::vectors::code::from_bytes;
use crate::vectors::cosine;
use crate::{ConversationId, GuildId, MemoryError, Store, UserId};

/// An earlier conversation close in meaning to the current one.
#[derive(Clone, Debug, PartialEq)]
pub struct RelatedConversation {
    /// The conversation.
    pub conversation: ConversationId,
    /// The cosine similarity of its newest summary's vector to the query vector.
    pub similarity: f32,
}

/// What [`Store::related_conversations`] looks for.
#[derive(Clone, Debug)]
pub struct RelatedQuery<'a> {
    /// The person whose conversations are compared.
    pub user: UserId,
    /// Their guild, or `None` in a DM (only their DMs then).
    pub guild: Option<GuildId>,
    /// The current conversation, never suggested.
    pub current: ConversationId,
    /// The embedding model the vector is from; summaries under another are not compared.
    pub model: &'a str,
    /// The current conversation's vector (its newest summary's, or its exchange's).
    pub vector: &'a [f32],
    /// Conversations less similar than this (cosine) are left out.
    pub min_similarity: f32,
    /// Most conversations returned.
    pub limit: usize,
}

#[derive(sqlx::FromRow)]
struct VectorRow {
    conversation_id: i64,
    vector: Vec<u8>,
}

impl Store {
    /// The person's other conversations in scope whose newest summary (embedded by
    /// `query.model`) is at least `query.min_similarity` similar to `query.vector`, most
    /// similar first, at most `query.limit`.
    pub async fn related_conversations(
        &self,
        query: &RelatedQuery<'_>,
    ) -> Result<Vec<RelatedConversation>, MemoryError> {
        if query.vector.is_empty() || query.limit == 0 {
            return Ok(Vec::new());
        }
        let scope = self
            .recall_scope(query.user, query.guild, Some(query.current))
            .await?;
        if scope.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT s.conversation_id, s.vector FROM conversation_summaries s \
             WHERE s.embedding_model = $1 AND s.vector IS NOT NULL \
             AND s.conversation_id IN ({}) \
             AND s.version = (SELECT MAX(n.version) FROM conversation_summaries n \
                              WHERE n.conversation_id = s.conversation_id)",
            placeholders(2, scope.len())
        );
        let mut select = sqlx::query_as::<_, VectorRow>(&sql).bind(query.model);
        for id in &scope {
            select = select.bind(id.0);
        }
        let rows = select.fetch_all(&self.pool).await?;
        let mut related: Vec<RelatedConversation> = rows
            .into_iter()
            .filter_map(|row| {
                let vector = from_bytes(&row.vector);
                (vector.len() == query.vector.len()).then(|| RelatedConversation {
                    conversation: ConversationId(row.conversation_id),
                    similarity: cosine(query.vector, &vector),
                })
            })
            .filter(|hit| hit.similarity >= query.min_similarity)
            .collect();
        related.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
        related.truncate(query.limit);
        Ok(related)
    }
}
