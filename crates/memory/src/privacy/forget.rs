//! Forgetting a person: their messages (and with them their vectors, keyword-index entries and
//! Discord post ids), the conversations only they took part in, their preferences, their name,
//! and their id wherever it remains (conversations they started that others joined, tool
//! switches they made), and the facts the bot remembered about them. One transaction: a failure forgets nothing.
//!
//! In a conversation somebody else took part in, each of their messages becomes a system note
//! ([`REMOVED_NOTE`]) with no author and none of their text, in its place: the answers that
//! followed stay, marked, and the model reading the history later knows why a question is
//! missing. System rows are in neither the keyword index nor the vector index. Such a
//! conversation's summaries, entities, title and category (written from their words too) go.
//!
//! SQLite keeps deleted text in free pages and the keyword index keeps deleted entries until
//! its segments merge: the transaction runs with `secure_delete` on (freed content is
//! overwritten) and ends by merging the index (`optimize`), so the file holds nothing of theirs.
//! PostgreSQL keeps old row versions until (auto)vacuum removes them; no query sees them.

use serde::Serialize;
use sqlx::{AnyConnection, Connection, Executor};

use crate::embeddings::placeholders;
use crate::{Backend, MemoryError, MessageId, Store, UserId, db};

/// What replaces a person's message in a conversation others took part in.
pub const REMOVED_NOTE: &str = "[A message was removed here at its author's request; \
     the answer that follows replied to it.]";

/// Ids bound per statement when deleting by a list.
const CHUNK: usize = 500;

/// What [`Store::forget_person`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ForgetReport {
    /// Conversations only they took part in, deleted whole with every message.
    pub conversations_deleted: u64,
    /// Messages deleted with those conversations.
    pub messages_deleted: u64,
    /// Their messages in conversations others took part in, replaced by a note.
    pub messages_replaced_by_note: u64,
    /// Stored vectors of those messages.
    pub embeddings_deleted: u64,
    /// Their preferences (0 or 1 row).
    pub preferences_deleted: u64,
    /// Tool switches they made (the switch stays, their id goes).
    pub tool_switches_cleared: u64,
    /// Days of their token usage (budgets) counted.
    pub usage_days_deleted: u64,
    /// Conversations others took part in that no longer name them as starter.
    pub conversations_unlinked: u64,
    /// Their name as the bot saw it was deleted.
    pub profile_deleted: bool,
    /// Facts the bot remembered about them, in every scope.
    pub facts_deleted: u64,
    /// Every message removed or replaced, for in-memory indexes to drop.
    #[serde(skip)]
    pub messages: Vec<MessageId>,
}

impl ForgetReport {
    /// Whether anything at all was stored about them.
    pub fn is_empty(&self) -> bool {
        self.conversations_deleted == 0
            && self.messages_replaced_by_note == 0
            && self.preferences_deleted == 0
            && self.tool_switches_cleared == 0
            && self.usage_days_deleted == 0
            && self.conversations_unlinked == 0
            && self.facts_deleted == 0
            && !self.profile_deleted
    }
}

impl Store {
    /// Forgets `user`: see the module's documentation for what goes. Returns what was removed.
    /// Nothing kept in memory (`hot.rs`) refers to them afterwards.
    pub async fn forget_person(&self, user: UserId) -> Result<ForgetReport, MemoryError> {
        // Their messages still queued (see `group.rs`) are written first, then forgotten too.
        self.settle().await?;
        let sqlite = self.backend() == Backend::Sqlite;
        let mut conn = self.pool.acquire().await?;
        if sqlite {
            conn.execute("PRAGMA secure_delete = ON").await?;
        }
        let forgotten = forget_on(&mut conn, user, sqlite).await;
        if sqlite {
            // Back to the default for the pool's other users, whatever the outcome.
            let reset = conn.execute("PRAGMA secure_delete = OFF").await;
            if reset.is_err() {
                conn.close_on_drop();
            }
        }
        drop(conn);
        if let Some(hot) = &self.hot {
            hot.preferences.changed();
            hot.disabled.changed();
            hot.forget_conversations();
        }
        forgotten
    }
}

/// The whole forgetting, in one transaction on `conn`.
async fn forget_on(
    conn: &mut AnyConnection,
    user: UserId,
    sqlite: bool,
) -> Result<ForgetReport, MemoryError> {
    let id = db::id(user);
    let mut tx = conn.begin().await?;
    let mut report = ForgetReport {
        // A write first: on SQLite it takes the write lock before anything is read.
        profile_deleted: execute(&mut tx, "DELETE FROM users WHERE id = $1", id).await? > 0,
        ..ForgetReport::default()
    };
    forget_messages(&mut tx, id, &mut report).await?;
    forget_choices(&mut tx, id, &mut report).await?;
    if sqlite && !report.messages.is_empty() {
        // Merge the keyword index's segments: deleted entries leave the file.
        sqlx::query("INSERT INTO messages_fts (messages_fts) VALUES ('optimize')")
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// Their messages, the conversations only they took part in, their vectors and posts; their
/// id off the conversations others joined.
async fn forget_messages(
    conn: &mut AnyConnection,
    id: i64,
    report: &mut ForgetReport,
) -> Result<(), MemoryError> {
    let solo = solo_conversations(conn, id).await?;
    report.messages = removed_messages(conn, id, &solo).await?;
    let ids: Vec<i64> = report.messages.iter().map(|m| m.0).collect();
    report.embeddings_deleted =
        delete_listed(conn, "message_embeddings", "message_id", &ids).await?;
    delete_listed(conn, "message_discord_ids", "message_id", &ids).await?;
    report.conversations_deleted = delete_listed(conn, "conversations", "id", &solo).await?;
    crate::summaries::forget_derived(conn, id).await?;
    report.messages_replaced_by_note = replace_by_notes(conn, id).await?;
    report.messages_deleted = (ids.len() as u64).saturating_sub(report.messages_replaced_by_note);
    report.conversations_unlinked = unlink_conversations(conn, id).await?;
    Ok(())
}

/// Their preferences, token usage and facts, and their id off the tool switches they made.
async fn forget_choices(
    conn: &mut AnyConnection,
    id: i64,
    report: &mut ForgetReport,
) -> Result<(), MemoryError> {
    report.preferences_deleted = execute(
        conn,
        "DELETE FROM preferences WHERE level = 'user' AND target_id = $1",
        id,
    )
    .await?;
    report.tool_switches_cleared = execute(
        conn,
        "UPDATE disabled_tools SET disabled_by = NULL WHERE disabled_by = $1",
        id,
    )
    .await?;
    // Tags they put on conversations others took part in stay, without their name.
    execute(
        conn,
        "UPDATE conversation_tags SET tagged_by = NULL WHERE tagged_by = $1",
        id,
    )
    .await?;
    report.usage_days_deleted = execute(
        conn,
        "DELETE FROM token_usage WHERE subject = 'user' AND subject_id = $1",
        id,
    )
    .await?;
    report.facts_deleted = execute(conn, "DELETE FROM person_facts WHERE user_id = $1", id).await?;
    Ok(())
}

/// `sql` with the person's stored id bound to `$1`; returns the rows it touched.
async fn execute(conn: &mut AnyConnection, sql: &str, id: i64) -> Result<u64, MemoryError> {
    Ok(sqlx::query(sql)
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected())
}

/// The conversations the person took part in and nobody else did: no other person's message
/// (a person's message without an author counts as somebody else's), started by nobody else.
async fn solo_conversations(conn: &mut AnyConnection, id: i64) -> Result<Vec<i64>, MemoryError> {
    let sql = format!(
        "SELECT c.id FROM conversations c WHERE {} \
         AND (c.owner_id IS NULL OR c.owner_id = $1) AND (c.user_id IS NULL OR c.user_id = $1) \
         AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.conversation_id = c.id \
             AND o.role = 'user' AND (o.author_id IS NULL OR o.author_id <> $1)) \
         ORDER BY c.id",
        super::TAKEN_PART
    );
    Ok(sqlx::query_scalar(&sql).bind(id).fetch_all(conn).await?)
}

/// Every message that goes: all of the `solo` conversations', and the person's everywhere.
async fn removed_messages(
    conn: &mut AnyConnection,
    id: i64,
    solo: &[i64],
) -> Result<Vec<MessageId>, MemoryError> {
    let mut ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM messages WHERE author_id = $1")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    for chunk in solo.chunks(CHUNK) {
        let sql = format!(
            "SELECT id FROM messages WHERE conversation_id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, i64>(&sql);
        for conversation in chunk {
            query = query.bind(*conversation);
        }
        ids.extend(query.fetch_all(&mut *conn).await?);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids.into_iter().map(MessageId).collect())
}

/// Deletes the rows of `table` whose `column` is in `ids`; returns how many. `table` and
/// `column` are ours, never user input.
async fn delete_listed(
    conn: &mut AnyConnection,
    table: &'static str,
    column: &'static str,
    ids: &[i64],
) -> Result<u64, MemoryError> {
    let mut deleted = 0;
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM {table} WHERE {column} IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        deleted += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(deleted)
}

/// Replaces the person's remaining messages (all in conversations others took part in) by
/// [`REMOVED_NOTE`]: a system row without author, text, attachments or tool data. The keyword
/// index drops their text (SQLite's triggers, PostgreSQL's generated column).
async fn replace_by_notes(conn: &mut AnyConnection, id: i64) -> Result<u64, MemoryError> {
    Ok(sqlx::query(
        "UPDATE messages SET role = 'system', author_id = NULL, author_name = NULL, \
         content = $2, attachments = NULL, tool_calls = NULL, tool_name = NULL, \
         tool_call_id = NULL WHERE author_id = $1",
    )
    .bind(id)
    .bind(REMOVED_NOTE)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Conversations others took part in no longer name the person as starter or user; returns
/// how many.
async fn unlink_conversations(conn: &mut AnyConnection, id: i64) -> Result<u64, MemoryError> {
    execute(
        conn,
        "UPDATE conversations SET \
         owner_id = CASE WHEN owner_id = $1 THEN NULL ELSE owner_id END, \
         user_id = CASE WHEN user_id = $1 THEN NULL ELSE user_id END \
         WHERE owner_id = $1 OR user_id = $1",
        id,
    )
    .await
}
