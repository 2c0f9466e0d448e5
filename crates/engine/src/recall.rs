//! Recall into the context: on a person's new message, the few most related snippets of their
//! *other* conversations in scope, put before the history as a clearly marked block with dates.
//!
//! It runs while the turn stores the message and picks its model, and gives up after
//! `memory.recall_timeout`, so it never delays a turn by more than that. Failures (the
//! embedding model down, a slow database) leave the turn without recall, never fail it.

use std::sync::Arc;
use std::time::SystemTime;

use mcpcord_memory::{
    ConversationId, GuildId, MessageId, RecallQuery, Role, SearchQuery, SearchScope, Snippet,
    StoredMessage, UserId,
};

use crate::context::TokenEstimator;
use crate::engine::{EngineConfig, Inner};
use crate::request::{TurnAction, TurnRequest};

/// The first line of the recalled block.
pub const RECALL_HEADER: &str = "[Memory: excerpts from earlier conversations with this person; \
     use them only if they help, they may be out of date]";
/// The last line of the recalled block.
pub const RECALL_FOOTER: &str = "[End of memory]";
/// Characters of one snippet shown to the model.
const SNIPPET_CHARS: usize = 400;

/// Who recall searches for, where, and with which settings: the turn's own, taken when it
/// started, whatever a reload changes meanwhile.
pub(crate) struct Recaller {
    inner: Arc<Inner>,
    config: Arc<EngineConfig>,
    /// The person, or none when recall is off or nobody is known.
    user: Option<UserId>,
    guild: Option<GuildId>,
    /// The conversation the turn is in: its own messages are never recalled.
    conversation: ConversationId,
}

impl Recaller {
    /// Recall for `request` in `conversation`, with the turn's `config`; `on` as the person's
    /// and the guild's preferences resolve.
    pub(crate) fn new(
        inner: Arc<Inner>,
        config: Arc<EngineConfig>,
        request: &TurnRequest,
        conversation: ConversationId,
        on: bool,
    ) -> Self {
        Self {
            inner,
            config,
            user: request.author.id.filter(|_| on),
            guild: request.scope.guild_id,
            conversation,
        }
    }

    /// The snippets related to `text` (what the person said), or none: recall off, no person,
    /// no text, nothing related, or too slow.
    pub(crate) async fn gather(self, text: Option<String>) -> Vec<Snippet> {
        let (Some(user), Some(text)) = (self.user, text) else {
            return Vec::new();
        };
        let timeout = self.config.memory.recall_timeout;
        match tokio::time::timeout(timeout, self.search(user, &text)).await {
            Ok(Ok(snippets)) => snippets,
            Ok(Err(error)) => {
                tracing::debug!(%error, "recall failed; the turn goes on without it");
                Vec::new()
            }
            Err(_) => {
                tracing::debug!(
                    ?timeout,
                    "recall took too long; the turn goes on without it"
                );
                Vec::new()
            }
        }
    }

    /// Scope and the query's vector at once, then the hybrid search: the text's words re-rank
    /// the vector hits; keyword hits are searched for only without a vector (no embedding
    /// model, or it did not answer), to be recalled alone.
    async fn search(&self, user: UserId, text: &str) -> Result<Vec<Snippet>, crate::EngineError> {
        let (inner, config) = (&self.inner, &self.config.memory);
        let vector = async {
            let model = config.embedding_model.as_deref()?;
            match inner.pool.embed(model, &[text.to_owned()]).await {
                Ok(mut vectors) => vectors.pop(),
                Err(error) => {
                    tracing::debug!(%error, "could not embed the message for recall");
                    None
                }
            }
        };
        let scope = inner
            .store
            .recall_scope(user, self.guild, Some(self.conversation));
        let (conversations, vector) = tokio::join!(scope, vector);
        let conversations = conversations?;
        let vector = vector.filter(|_| inner.vectors.is_some());
        let keyword_hits = match vector {
            Some(_) => Vec::new(),
            None => self.keyword_hits(user, text).await?,
        };
        let query = RecallQuery {
            conversations: &conversations,
            text,
            vector: vector.as_deref(),
            lists: vec![keyword_hits],
            limit: config.recall_snippets,
            min_similarity: config.min_similarity,
            half_life: config.recency_half_life,
            now: SystemTime::now(),
        };
        Ok(inner.store.recall(inner.vectors.as_deref(), &query).await?)
    }

    /// The keyword hits of `text` in `user`'s scope, best first.
    async fn keyword_hits(
        &self,
        user: UserId,
        text: &str,
    ) -> Result<Vec<MessageId>, crate::EngineError> {
        let snippets = self.config.memory.recall_snippets.max(1);
        let query =
            SearchQuery::new(text, SearchScope::person(user, self.guild)).with_limit(snippets * 4);
        let hits = self.inner.store.keyword_search(&query).await?;
        Ok(hits.into_iter().map(|hit| hit.message_id).collect())
    }
}

/// What a new message says, the text recall looks for; none for a Regenerate or Continue
/// (see [`answered_text`]).
pub(crate) fn message_text(request: &TurnRequest) -> Option<String> {
    match &request.action {
        TurnAction::Message(message) => Some(message.model_text()),
        TurnAction::Regenerate { .. } | TurnAction::Continue { .. } => None,
    }
}

/// For a Regenerate or Continue: the person's latest message in `history`, the one the answer
/// being redone or extended answers.
pub(crate) fn answered_text(history: &[StoredMessage]) -> Option<String> {
    history
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| m.content.clone())
}

/// The recalled block for `model`, within `budget` tokens (snippets that do not fit are left
/// out); `None` when nothing fits.
pub(crate) fn block(
    snippets: &[Snippet],
    estimator: &TokenEstimator,
    model: &str,
    budget: usize,
) -> Option<String> {
    let mut text = String::from(RECALL_HEADER);
    let frame = estimator.tokens(model, RECALL_HEADER) + estimator.tokens(model, RECALL_FOOTER);
    let mut used = frame;
    let mut any = false;
    for snippet in snippets {
        let line = line(snippet);
        let cost = estimator.tokens(model, &line) + 1;
        if used + cost > budget {
            continue;
        }
        used += cost;
        any = true;
        text.push('\n');
        text.push_str(&line);
    }
    any.then(|| format!("{text}\n{RECALL_FOOTER}"))
}

/// One snippet as a line: `- 2026-11-02, alice: text`.
fn line(snippet: &Snippet) -> String {
    let date = humantime::format_rfc3339_seconds(snippet.created_at).to_string();
    let day = date.get(..10).unwrap_or(&date);
    let who = match snippet.role {
        Role::User => snippet.author.as_deref().unwrap_or("them"),
        _ => "you (the assistant)",
    };
    let content: String = snippet.content.chars().take(SNIPPET_CHARS).collect();
    let more = if content.len() < snippet.content.len() {
        "…"
    } else {
        ""
    };
    format!(
        "- {day}, {who}: {}{more}",
        content.replace(['\n', '\r'], " ")
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn snippet(id: i64, role: Role, content: &str) -> Snippet {
        Snippet {
            id: MessageId(id),
            conversation: ConversationId(1),
            role,
            author: Some("alice".into()),
            content: content.into(),
            created_at: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
            score: 1.0,
        }
    }

    #[test]
    fn the_block_is_marked_dated_and_within_budget() {
        let estimator = TokenEstimator::default();
        let snippets = vec![
            snippet(1, Role::User, "my car is a crimson Volvo"),
            snippet(2, Role::Assistant, &"x".repeat(5_000)),
        ];
        let text = block(&snippets, &estimator, "m", 10_000).unwrap();
        assert!(text.starts_with(RECALL_HEADER) && text.ends_with(RECALL_FOOTER));
        assert!(
            text.contains("- 2026-09-21, alice: my car is a crimson Volvo"),
            "{text}"
        );
        assert!(text.contains("you (the assistant): xxx"));
        assert!(text.contains('…'));
        let small = block(&snippets, &estimator, "m", 60).unwrap();
        assert!(small.contains("Volvo") && !small.contains("xxx"), "{small}");
        assert_eq!(block(&snippets, &estimator, "m", 5), None);
        assert_eq!(block(&[], &estimator, "m", 10_000), None);
    }
}
