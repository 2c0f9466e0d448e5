//! The Discord messages that show each stored message (a long answer is split over several):
//! recorded after the answer is posted, read back for a button press or an edit.

use sqlx::AnyConnection;

use super::{MessageRow, StoredMessage, not_found};
use crate::{MemoryError, MessageId, PostId, Store, db};

impl Store {
    /// Records the Discord messages that show a stored message, in order (a long answer is
    /// split over several), replacing any recorded before, in one transaction (on SQLite, the
    /// group commit's next one, after the answer's own write).
    pub async fn set_discord_message_ids(
        &self,
        id: MessageId,
        discord_ids: &[PostId],
    ) -> Result<(), MemoryError> {
        if let Some(group) = &self.group {
            return group
                .bookkeeping(crate::group::Bookkeeping::Posts {
                    message: id,
                    posts: discord_ids.to_vec(),
                })
                .await;
        }
        let mut tx = self.pool.begin().await?;
        write_posts(&mut tx, id, discord_ids).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The Discord messages showing a stored message, in order.
    pub async fn discord_message_ids(&self, id: MessageId) -> Result<Vec<PostId>, MemoryError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT discord_message_id FROM message_discord_ids WHERE message_id = $1 \
             ORDER BY position",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(db::discord_id).collect())
    }

    /// The stored message a Discord message shows (for a button press or an edit), if any.
    pub async fn message_by_discord_id(
        &self,
        discord_id: PostId,
    ) -> Result<Option<StoredMessage>, MemoryError> {
        let row = sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE id = \
             (SELECT message_id FROM message_discord_ids WHERE discord_message_id = $1)"
        ))
        .bind(db::id(discord_id))
        .fetch_optional(&self.pool)
        .await?;
        row.map(StoredMessage::try_from).transpose()
    }
}

/// Records `discord_ids` as the Discord messages showing message `id`, replacing any recorded
/// before, on `conn` (in the caller's transaction); [`MemoryError::NotFound`] when the message is
/// not stored.
pub(crate) async fn write_posts(
    conn: &mut AnyConnection,
    id: MessageId,
    discord_ids: &[PostId],
) -> Result<(), MemoryError> {
    sqlx::query("DELETE FROM message_discord_ids WHERE message_id = $1")
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    let exists = sqlx::query("SELECT id FROM messages WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_none() {
        return Err(not_found(id));
    }
    for (position, discord_id) in discord_ids.iter().enumerate() {
        sqlx::query(
            "INSERT INTO message_discord_ids (discord_message_id, message_id, position) \
             VALUES ($1, $2, $3) ON CONFLICT (discord_message_id) \
             DO UPDATE SET message_id = excluded.message_id, position = excluded.position",
        )
        .bind(db::id(*discord_id))
        .bind(id.0)
        .bind(db::count(position as u64))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
