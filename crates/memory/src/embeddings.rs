//! Stored embeddings: the messages still waiting for a vector of a model, the vectors written
//! in batches, and read back (all of one model at start, or a few for re-ranking).
//!
//! Only what people and the model said is embedded: user and assistant messages with text.
//! Tool results and tool-call-only messages are not (they are rarely worth recalling and can be
//! huge).

use sqlx::Connection;

use crate::store::Durability;
use crate::vectors::code::{from_bytes, to_bytes};
use crate::{ConversationId, MemoryError, MessageId, Store, db};

/// A message waiting for its vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingMessage {
    /// The message.
    pub id: MessageId,
    /// Its conversation (for the in-process index).
    pub conversation: ConversationId,
    /// Its text, to embed.
    pub content: String,
}

/// A stored vector with the message and conversation it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEmbedding {
    /// The message.
    pub id: MessageId,
    /// Its conversation.
    pub conversation: ConversationId,
    /// The vector.
    pub vector: Vec<f32>,
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    id: i64,
    conversation_id: i64,
    content: String,
}

#[derive(sqlx::FromRow)]
struct EmbeddingRow {
    id: i64,
    conversation_id: i64,
    vector: Vec<u8>,
}

impl Store {
    /// Up to `limit` messages after `after` (in id order) that have no vector of `model` yet.
    /// Start from `MessageId(0)` after a restart: the anti-join finds where the last run stopped.
    pub async fn pending_embeddings(
        &self,
        model: &str,
        after: MessageId,
        limit: usize,
    ) -> Result<Vec<PendingMessage>, MemoryError> {
        let rows = sqlx::query_as::<_, PendingRow>(
            "SELECT m.id, m.conversation_id, m.content FROM messages m \
             WHERE m.id > $2 AND m.role IN ('user', 'assistant') AND m.content <> '' \
             AND NOT EXISTS (SELECT 1 FROM message_embeddings e \
                             WHERE e.message_id = m.id AND e.model = $1) \
             ORDER BY m.id LIMIT $3",
        )
        .bind(model)
        .bind(after.0)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| PendingMessage {
                id: MessageId(row.id),
                conversation: ConversationId(row.conversation_id),
                content: row.content,
            })
            .collect())
    }

    /// Stores the vectors of `model` for these messages, in one transaction; a message deleted
    /// in the meantime (or forgotten: replaced by a note, see `privacy/forget.rs`) is skipped,
    /// one embedded already keeps its vector. Returns the messages whose vectors were stored:
    /// only those belong in the in-process index.
    pub async fn save_embeddings(
        &self,
        model: &str,
        vectors: &[(MessageId, Vec<f32>)],
    ) -> Result<Vec<MessageId>, MemoryError> {
        if vectors.is_empty() {
            return Ok(Vec::new());
        }
        // Vectors can always be computed again: no need to wait for the disk.
        let mut writer = self.write_connection(Durability::Process).await?;
        let mut tx = writer.conn().begin().await?;
        let sql = save_sql(self.backend());
        let stored = insert_vectors(&mut tx, &sql, model, vectors).await?;
        tx.commit().await?;
        writer.finish().await?;
        Ok(stored)
    }

    /// Up to `limit` stored vectors of `model` after message `after`, in id order: page through
    /// them to load the in-process index.
    pub async fn embeddings_after(
        &self,
        model: &str,
        after: MessageId,
        limit: usize,
    ) -> Result<Vec<StoredEmbedding>, MemoryError> {
        let rows = sqlx::query_as::<_, EmbeddingRow>(
            "SELECT e.message_id AS id, m.conversation_id, e.vector \
             FROM message_embeddings e JOIN messages m ON m.id = e.message_id \
             WHERE e.model = $1 AND e.message_id > $2 ORDER BY e.message_id LIMIT $3",
        )
        .bind(model)
        .bind(after.0)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(StoredEmbedding::from).collect())
    }

    /// The stored vectors of `model` for `ids` (those that still exist), for exact re-ranking.
    pub async fn embeddings_of(
        &self,
        model: &str,
        ids: &[MessageId],
    ) -> Result<Vec<StoredEmbedding>, MemoryError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = embeddings_of_sql(self.backend(), ids.len());
        let mut query = sqlx::query_as::<_, EmbeddingRow>(&sql).bind(model);
        for id in ids {
            query = query.bind(id.0);
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(StoredEmbedding::from).collect())
    }

    /// The stored vectors of `model` for `ids` (those that still exist), without their
    /// conversations: what exact re-ranking reads, one lookup a vector (where
    /// [`Store::embeddings_of`] looks each message up too).
    pub async fn vectors_of(
        &self,
        model: &str,
        ids: &[MessageId],
    ) -> Result<Vec<(MessageId, Vec<f32>)>, MemoryError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = vectors_of_sql(self.backend(), ids.len());
        let mut query = sqlx::query_as::<_, (i64, Vec<u8>)>(&sql).bind(model);
        for id in ids {
            query = query.bind(id.0);
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(id, vector)| (MessageId(id), from_bytes(&vector)))
            .collect())
    }

    /// How many messages have a vector of `model`.
    pub async fn embedded_count(&self, model: &str) -> Result<u64, MemoryError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM message_embeddings WHERE model = $1")
                .bind(model)
                .fetch_one(&self.pool)
                .await?;
        db::stored_count(count, "COUNT(*)")
    }
}

impl From<EmbeddingRow> for StoredEmbedding {
    fn from(row: EmbeddingRow) -> Self {
        Self {
            id: MessageId(row.id),
            conversation: ConversationId(row.conversation_id),
            vector: from_bytes(&row.vector),
        }
    }
}

/// The statement reading the vectors of model `$1` for `count` ids (`$2`…). PostgreSQL: the
/// ids as a VALUES list driving primary-key lookups; with `IN (…)`, a PostgreSQL without fresh
/// statistics (a table that just grew, before autovacuum analysed it) chose the model index
/// and read every vector of the model (150–300 ms at 100 k). SQLite: `IN (…)` (it joined a
/// VALUES list the other way round, seconds at 100 k).
fn embeddings_of_sql(backend: crate::Backend, count: usize) -> String {
    let columns = "SELECT e.message_id AS id, m.conversation_id, e.vector";
    match backend {
        crate::Backend::Postgres => {
            let values = row_placeholders(2, count);
            format!(
                "{columns} FROM (VALUES {values}) AS wanted \
                 JOIN message_embeddings e ON e.message_id = wanted.column1 AND e.model = $1 \
                 JOIN messages m ON m.id = e.message_id"
            )
        }
        crate::Backend::Sqlite => format!(
            "{columns} FROM message_embeddings e JOIN messages m ON m.id = e.message_id \
             WHERE e.model = $1 AND e.message_id IN ({})",
            placeholders(2, count)
        ),
    }
}

/// The statement reading the vectors alone of model `$1` for `count` ids (`$2`…), by primary
/// key as in [`embeddings_of_sql`].
fn vectors_of_sql(backend: crate::Backend, count: usize) -> String {
    match backend {
        crate::Backend::Postgres => {
            let values = row_placeholders(2, count);
            format!(
                "SELECT e.message_id, e.vector FROM (VALUES {values}) AS wanted \
                 JOIN message_embeddings e ON e.message_id = wanted.column1 AND e.model = $1"
            )
        }
        crate::Backend::Sqlite => format!(
            "SELECT message_id, vector FROM message_embeddings \
             WHERE model = $1 AND message_id IN ({})",
            placeholders(2, count)
        ),
    }
}

/// `($first), ($first+1), …` for `count` values: the rows of a VALUES list.
fn row_placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("(${n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$first, $first+1, …` for `count` values.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The insert of one vector, kept only while its message is a person's or the model's.
/// PostgreSQL: the message row is locked for share, so a concurrent forget (which rewrites it)
/// is waited for and then seen; SQLite has one writer at a time anyway.
fn save_sql(backend: crate::Backend) -> String {
    let lock = match backend {
        crate::Backend::Postgres => " FOR SHARE",
        crate::Backend::Sqlite => "",
    };
    format!(
        "INSERT INTO message_embeddings (message_id, model, dims, vector, created_at) \
         SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM messages \
         WHERE id = $1 AND role IN ('user', 'assistant'){lock}) \
         ON CONFLICT DO NOTHING"
    )
}

/// Runs `sql` for each vector on `conn`; returns the messages whose vectors were stored.
async fn insert_vectors(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    model: &str,
    vectors: &[(MessageId, Vec<f32>)],
) -> Result<Vec<MessageId>, MemoryError> {
    let now = db::now();
    let mut stored = Vec::with_capacity(vectors.len());
    for (id, vector) in vectors {
        let done = sqlx::query(sql)
            .bind(id.0)
            .bind(model)
            .bind(db::count(vector.len() as u64))
            .bind(to_bytes(vector))
            .bind(now)
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() > 0 {
            stored.push(*id);
        }
    }
    Ok(stored)
}
