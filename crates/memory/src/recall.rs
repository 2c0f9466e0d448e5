//! Hybrid recall: the messages of earlier conversations most related to a text, from several
//! ranked lists (vectors from the in-process index, keyword hits) fused by reciprocal rank
//! ([`fuse`]), weighted by age ([`recency_weight`]), and read back as snippets.
//!
//! Scope comes in as the conversations the query may see ([`Store::recall_scope`]: a person's
//! [`SearchScope`] without the current conversation): the vector scan compares nothing outside
//! them, and the snippets are read only from them, so nothing outside the scope can be returned
//! or even displace a hit.
//!
//! The text's words re-rank the vector hits: those holding more of the words rank higher
//! ([`by_words`], counted in Rust on the texts read for the snippets anyway, so a recall with a
//! vector asks the keyword index nothing). Keyword hits ([`Store::keyword_search`]) are recalled
//! on their own only when there is no query vector (the embedding model did not answer): a
//! sentence's words AND-ed rarely match, and any-of-them matches are too loose to put into a
//! prompt beside meaning-based hits (and cost more than the rest of a recall: 8–10 ms over a
//! person's scope at a million messages).

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use crate::embeddings::placeholders;
use crate::search::{DEFAULT_RRF_K, SearchScope, fuse, recency_weight, terms};
use crate::vectors::{DEFAULT_CANDIDATES, VectorIndex, rerank};
use crate::{ConversationId, GuildId, MemoryError, MessageId, Role, Store, UserId, db};

/// What to recall.
#[derive(Clone, Debug)]
pub struct RecallQuery<'a> {
    /// The conversations that may be recalled from (scope, without the current conversation).
    pub conversations: &'a [ConversationId],
    /// The text recalled for (what the person said): its words re-rank the vector hits.
    pub text: &'a str,
    /// The text's embedding, when the embedding model answered.
    pub vector: Option<&'a [f32]>,
    /// Other ranked lists (keyword hits), best first: they re-rank the vector hits, and stand
    /// alone only without a `vector` (so search for them only then); ids outside
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
        let vector_hits = match (index, query.vector) {
            (Some(index), Some(vector)) => Some(self.vector_hits(index, vector, query).await?),
            _ => None,
        };
        let ids = to_read(vector_hits.as_deref(), &query.lists);
        let mut snippets = self.snippets(&ids, query.conversations).await?;
        let fused = fused(vector_hits.as_deref(), &snippets, query);
        score(&mut snippets, &fused, query);
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
        let count = query.limit.max(10) * 4;
        self.similar(
            index,
            vector,
            query.conversations,
            count,
            query.min_similarity,
        )
        .await
    }

    /// Up to `count` messages of `conversations` most similar to `vector`: the index's
    /// candidates re-ranked exactly against their stored vectors, those below
    /// `min_similarity` (cosine) left out; most similar first.
    pub(crate) async fn similar(
        &self,
        index: &VectorIndex,
        vector: &[f32],
        conversations: &[ConversationId],
        count: usize,
        min_similarity: f32,
    ) -> Result<Vec<MessageId>, MemoryError> {
        let candidates = index.candidates(vector, Some(conversations), DEFAULT_CANDIDATES);
        let pairs = self.vectors_of(index.model(), &candidates).await?;
        Ok(rerank(vector, &pairs, count)
            .into_iter()
            .filter(|(_, similarity)| *similarity >= min_similarity)
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

/// The messages whose snippets are read: the vector hits, or without them the best 64 of the
/// other lists.
fn to_read(vector: Option<&[MessageId]>, others: &[Vec<MessageId>]) -> Vec<MessageId> {
    match vector {
        Some(hits) => hits.to_vec(),
        None => ranked(None, others)
            .into_iter()
            .map(|(id, _)| id)
            .take(64)
            .collect(),
    }
}

/// The hits ranked as [`ranked`] does, the vector hits also by the words of `query`'s text
/// in their `snippets` ([`by_words`]).
fn fused(
    vector: Option<&[MessageId]>,
    snippets: &[Snippet],
    query: &RecallQuery<'_>,
) -> Vec<(MessageId, f64)> {
    let mut lists = query.lists.clone();
    if let Some(hits) = vector {
        lists.push(by_words(hits, snippets, query.text));
    }
    ranked(vector, &lists)
}

/// Scores `snippets` by their `fused` rank weighted by age, and sorts them best first.
fn score(snippets: &mut [Snippet], fused: &[(MessageId, f64)], query: &RecallQuery<'_>) {
    for snippet in snippets.iter_mut() {
        let rank = fused.iter().find(|(id, _)| *id == snippet.id);
        let age = query
            .now
            .duration_since(snippet.created_at)
            .unwrap_or_default();
        snippet.score = rank.map_or(0.0, |(_, s)| *s) * recency_weight(age, query.half_life);
    }
    snippets.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.id.cmp(&a.id)));
}

/// The vector hits (when there are any) re-ranked with the other lists by reciprocal rank
/// fusion, or the other lists alone without vector hits. Best first.
fn ranked(vector: Option<&[MessageId]>, others: &[Vec<MessageId>]) -> Vec<(MessageId, f64)> {
    let mut lists: Vec<&[MessageId]> = others.iter().map(Vec::as_slice).collect();
    lists.extend(vector);
    let fused = fuse(&lists, DEFAULT_RRF_K);
    match vector {
        Some(vector) => fused
            .into_iter()
            .filter(|(id, _)| vector.contains(id))
            .collect(),
        None => fused,
    }
}

/// The `hits` (best first) whose snippets hold any of `text`'s words (as the keyword indexes
/// split them: letters and digits, any case), those holding more of them first, ties in the
/// order of `hits`: all the words before most of them before one, as the keyword search's
/// all-words-then-any-word matching would rank them.
fn by_words(hits: &[MessageId], snippets: &[Snippet], text: &str) -> Vec<MessageId> {
    let wanted = terms(text);
    if wanted.is_empty() {
        return Vec::new();
    }
    let mut counted: Vec<(usize, usize, MessageId)> = snippets
        .iter()
        .filter_map(|snippet| {
            let rank = hits.iter().position(|id| *id == snippet.id)?;
            let found = words_found(&snippet.content, &wanted);
            (found > 0).then_some((found, rank, snippet.id))
        })
        .collect();
    counted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    counted.into_iter().map(|(_, _, id)| id).collect()
}

/// How many of `wanted` (lower-case terms) are words of `content`.
fn words_found(content: &str, wanted: &[String]) -> usize {
    let words: HashSet<String> = content
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect();
    wanted.iter().filter(|term| words.contains(*term)).count()
}

impl Store {
    /// The conversations a person's recall covers ([`SearchScope::person`]: where they took
    /// part in this guild, or in a DM (`guild` `None`) their own DMs; retention respected),
    /// never `exclude` (the current conversation).
    pub async fn recall_scope(
        &self,
        user: UserId,
        guild: Option<GuildId>,
        exclude: Option<ConversationId>,
    ) -> Result<Vec<ConversationId>, MemoryError> {
        let mut ids = self
            .conversations_in_scope(&SearchScope::person(user, guild))
            .await?;
        ids.retain(|id| Some(*id) != exclude);
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_hits_rerank_vector_hits_and_stand_alone_without_them() {
        let vector = [MessageId(1), MessageId(2), MessageId(3)];
        let keyword = vec![vec![MessageId(3), MessageId(9)]];
        let fused = ranked(Some(&vector), &keyword);
        assert_eq!(fused[0].0, MessageId(3), "in both lists");
        assert_eq!(fused.len(), 3, "no keyword-only hit beside vector hits");
        let alone = ranked(None, &keyword);
        assert_eq!(alone.len(), 2);
        assert!(ranked(None, &[]).is_empty());
    }

    fn snippet(id: i64, content: &str) -> Snippet {
        Snippet {
            id: MessageId(id),
            conversation: ConversationId(1),
            role: Role::User,
            author: None,
            content: content.into(),
            created_at: SystemTime::UNIX_EPOCH,
            score: 0.0,
        }
    }

    #[test]
    fn vector_hits_holding_more_of_the_words_rank_higher() {
        let hits = [MessageId(1), MessageId(2), MessageId(3), MessageId(4)];
        let snippets = [
            snippet(1, "nothing shared here"),
            snippet(2, "my Volvo, the crimson one"),
            snippet(3, "a volvo"),
            snippet(4, "VOLVO: crimson!"),
            snippet(9, "crimson volvo, but not a hit"),
        ];
        let ranked = by_words(&hits, &snippets, "Crimson volvo?");
        assert_eq!(ranked, vec![MessageId(2), MessageId(4), MessageId(3)]);
        assert!(by_words(&hits, &snippets, "?!").is_empty());
        assert!(
            by_words(&hits, &snippets, "volvos").is_empty(),
            "whole words only"
        );
        let fused = ranked_with(&hits, ranked);
        assert_eq!(
            fused[0].0,
            MessageId(2),
            "second by meaning, first by words"
        );
        assert_eq!(fused.len(), 4, "no hit dropped or added");
    }

    fn ranked_with(hits: &[MessageId], words: Vec<MessageId>) -> Vec<(MessageId, f64)> {
        ranked(Some(hits), &[words])
    }
}
