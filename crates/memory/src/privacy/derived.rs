//! What the background pass and people derived from a conversation the person took part in,
//! for their export: its category, entities and summaries, and the tags on it (saying which
//! they put there).

use std::time::SystemTime;

use serde::Serialize;

use crate::{ConversationId, MemoryError, MessageId, UserId, db};

/// A summary of one of the person's conversations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SummaryData {
    /// 1 for the first, one more for each that covers more.
    pub version: u32,
    /// The last message it covers.
    #[serde(serialize_with = "super::message_id")]
    pub through: MessageId,
    /// The summary.
    pub text: String,
    /// The model that wrote it.
    pub model: String,
    /// When it was written.
    #[serde(serialize_with = "super::rfc3339")]
    pub created_at: SystemTime,
}

/// Something the conversation is about, as the background pass found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EntityData {
    /// `people`, `project`, `place` or `product`.
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// A tag on one of the person's conversations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TagData {
    /// The tag.
    pub tag: String,
    /// They put it there.
    pub by_you: bool,
    /// When it was put there.
    #[serde(serialize_with = "super::rfc3339")]
    pub tagged_at: SystemTime,
}

/// The category, entities, summaries and tags of conversation `id`.
pub(super) struct Derived {
    pub(super) category: Option<String>,
    pub(super) entities: Vec<EntityData>,
    pub(super) summaries: Vec<SummaryData>,
    pub(super) tags: Vec<TagData>,
}

/// What was derived from conversation `id`, as `user` exports it.
pub(super) async fn derived_of(
    conn: &mut sqlx::AnyConnection,
    id: ConversationId,
    user: UserId,
) -> Result<Derived, MemoryError> {
    let category: Option<String> =
        sqlx::query_scalar("SELECT category FROM conversations WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await?
            .flatten();
    let entities = sqlx::query_as::<_, (String, String)>(
        "SELECT kind, name FROM conversation_entities WHERE conversation_id = $1 \
         ORDER BY kind, name",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(kind, name)| EntityData { kind, name })
    .collect();
    let summaries = sqlx::query_as::<_, (i64, i64, String, String, i64)>(
        "SELECT version, through_message_id, text, model, created_at \
         FROM conversation_summaries WHERE conversation_id = $1 ORDER BY version",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(version, through, text, model, created_at)| SummaryData {
        version: u32::try_from(version).unwrap_or(u32::MAX),
        through: MessageId(through),
        text,
        model,
        created_at: db::time(created_at),
    })
    .collect();
    let tags = sqlx::query_as::<_, (String, Option<i64>, i64)>(
        "SELECT tag, tagged_by, tagged_at FROM conversation_tags WHERE conversation_id = $1 \
         ORDER BY tag",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(tag, by, at)| TagData {
        tag,
        by_you: by == Some(db::id(user)),
        tagged_at: db::time(at),
    })
    .collect();
    Ok(Derived {
        category,
        entities,
        summaries,
        tags,
    })
}
