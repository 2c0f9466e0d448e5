//! Conversation tags: words people put on a conversation (`/tag`) to find it again
//! (`/search tag:`, which narrows a [`SearchScope`](crate::SearchScope) with
//! [`with_tag`](crate::SearchScope::with_tag)).
//!
//! A tag is stored in one spelling ([`tag_name`]): lower case, trimmed, without a leading `#`,
//! inner spaces as `-`; once per conversation, with who added it and when. Tags go with their
//! conversation (retention, forget); a forgotten person's tags stay on other people's
//! conversations without their name.

use std::time::SystemTime;

use crate::search::{Params, SearchScope};
use crate::{ConversationId, MemoryError, Store, UserId, db};

/// The longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 40;

/// The most tags one conversation may carry.
pub const MAX_TAGS_PER_CONVERSATION: usize = 20;

/// The stored spelling of a tag as a person typed it, or `None` when nothing usable is left
/// (empty, longer than [`MAX_TAG_CHARS`], or holding characters other than letters, digits,
/// `-`, `_`, `.` and spaces).
pub fn tag_name(typed: &str) -> Option<String> {
    let trimmed = typed.trim().trim_start_matches('#').trim();
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    let name = words.join("-").to_lowercase();
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.');
    let fits = !name.is_empty() && name.chars().count() <= MAX_TAG_CHARS;
    (fits && name.chars().all(allowed)).then_some(name)
}

/// What adding a tag did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tagged {
    /// The tag is new on the conversation.
    Added,
    /// The conversation carried it already.
    AlreadyThere,
    /// The conversation carries [`MAX_TAGS_PER_CONVERSATION`] tags already: nothing added.
    Full,
}

impl Store {
    /// Puts `tag` (already in its stored spelling, see [`tag_name`]) on conversation `id`,
    /// added by `by`.
    pub async fn tag_conversation(
        &self,
        id: ConversationId,
        tag: &str,
        by: Option<UserId>,
    ) -> Result<Tagged, MemoryError> {
        self.settle().await?;
        let tags = self.conversation_tags(id).await?;
        if tags.iter().any(|t| t == tag) {
            return Ok(Tagged::AlreadyThere);
        }
        if tags.len() >= MAX_TAGS_PER_CONVERSATION {
            return Ok(Tagged::Full);
        }
        let done = sqlx::query(
            "INSERT INTO conversation_tags (conversation_id, tag, tagged_by, tagged_at) \
             SELECT id, $2, $3, $4 FROM conversations WHERE id = $1 \
             ON CONFLICT (conversation_id, tag) DO NOTHING",
        )
        .bind(id.0)
        .bind(tag)
        .bind(db::opt_id(by))
        .bind(db::now())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            return Ok(Tagged::Added);
        }
        // Nothing inserted: another writer added it meanwhile, or there is no conversation.
        self.get_conversation(id).await?;
        Ok(Tagged::AlreadyThere)
    }

    /// Takes `tag` off conversation `id`; whether it carried it.
    pub async fn untag_conversation(
        &self,
        id: ConversationId,
        tag: &str,
    ) -> Result<bool, MemoryError> {
        let done =
            sqlx::query("DELETE FROM conversation_tags WHERE conversation_id = $1 AND tag = $2")
                .bind(id.0)
                .bind(tag)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The tags on conversation `id`, in alphabetical order.
    pub async fn conversation_tags(&self, id: ConversationId) -> Result<Vec<String>, MemoryError> {
        Ok(sqlx::query_scalar(
            "SELECT tag FROM conversation_tags WHERE conversation_id = $1 ORDER BY tag",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The distinct names in `named` over the conversations `scope` may read, alphabetically,
    /// at most `limit` (for autocomplete: a person sees only those of their own conversations
    /// from there).
    pub async fn names_in_scope(
        &self,
        named: Named,
        scope: &SearchScope,
        limit: usize,
    ) -> Result<Vec<String>, MemoryError> {
        let (now, cutoffs) = self.retention_bounds(SystemTime::now());
        let mut params = Params::default();
        let condition = scope.conversation_condition(&mut params, now, cutoffs);
        let limit = params.int(i64::try_from(limit).unwrap_or(i64::MAX));
        let (table, column) = named.source();
        let sql = format!(
            "SELECT DISTINCT n.{column} FROM {table} n JOIN conversations c \
             ON c.id = n.conversation_id WHERE {condition} ORDER BY n.{column} LIMIT {limit}"
        );
        Ok(params
            .bind_scalar(sqlx::query_scalar(&sql))
            .fetch_all(&self.pool)
            .await?)
    }
}

/// Names kept per conversation, listed by [`Store::names_in_scope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    /// The tags people put on conversations (`/tag`).
    Tags,
    /// The people, projects, places and products the background pass found in them.
    Entities,
}

impl Named {
    /// The table and its column holding the names.
    fn source(self) -> (&'static str, &'static str) {
        match self {
            Named::Tags => ("conversation_tags", "tag"),
            Named::Entities => ("conversation_entities", "name"),
        }
    }
}
