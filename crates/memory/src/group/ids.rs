//! The ids of new conversations and messages, given before their rows are written while this
//! process is the database's only writer (see the parent module's "Ids given before the
//! write"), and what happens when another process turns out to take them first.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sqlx::AnyPool;

use crate::hot::Hot;
use crate::{ConversationId, MemoryError, MessageId};

/// The last conversation and message ids given (at first, the largest the database ever gave):
/// the next ones follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    conversation: i64,
    message: i64,
}

impl Counters {
    /// The counters of the database behind `pool`: the largest id each table ever gave
    /// (`sqlite_sequence`, so that the ids of deleted rows are not given again) or holds.
    pub(crate) async fn read(pool: &AnyPool) -> Result<Self, MemoryError> {
        let (conversation, message): (i64, i64) = sqlx::query_as(
            "SELECT \
             MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'conversations'), 0), \
                 COALESCE((SELECT MAX(id) FROM conversations), 0)), \
             MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0), \
                 COALESCE((SELECT MAX(id) FROM messages), 0))",
        )
        .fetch_one(pool)
        .await?;
        Ok(Self {
            conversation,
            message,
        })
    }

    /// The next conversation id.
    pub(super) fn conversation(&mut self) -> ConversationId {
        self.conversation += 1;
        ConversationId(self.conversation)
    }

    /// The next message id.
    pub(super) fn message(&mut self) -> MessageId {
        self.message += 1;
        MessageId(self.message)
    }

    /// The next `count` message ids, in order.
    pub(super) fn messages(&mut self, count: usize) -> Vec<MessageId> {
        (0..count).map(|_| self.message()).collect()
    }
}

/// Gives the ids of new rows, until another process turns out to insert rows too.
#[derive(Clone, Debug)]
pub(super) struct Giver {
    /// The ids to give; `None` once other processes write to the database too (SQLite gives
    /// them then).
    ids: Arc<Mutex<Option<Counters>>>,
    /// What the store keeps in memory: corrected when a queued write fails, and turned off
    /// with the ids.
    pub(super) hot: Arc<Hot>,
}

impl Giver {
    /// Gives ids from `counters` on; `hot` is what the store keeps in memory.
    pub(super) fn new(counters: Counters, hot: Arc<Hot>) -> Self {
        Self {
            ids: Arc::new(Mutex::new(Some(counters))),
            hot,
        }
    }

    /// The ids to give, locked: jobs are queued under this lock, so the queue's order is the
    /// ids' order.
    pub(super) fn lock(&self) -> MutexGuard<'_, Option<Counters>> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops giving ids for good: SQLite gives them from now on.
    pub(super) fn stop(&self) {
        *self.lock() = None;
    }

    /// Another process inserted rows with ids given here (`error` says so), not told to share
    /// the database (`Store::set_shared`): from now on SQLite gives the ids and nothing is
    /// kept in memory, as for a shared database.
    pub(super) fn collided(&self, error: &MemoryError) {
        if self.lock().take().is_some() {
            tracing::warn!(
                %error,
                "another process writes to this SQLite database: ids now come from SQLite and \
                 nothing is kept in memory (several bot processes on one SQLite file each need \
                 discord.shard_ids set)"
            );
            self.hot.set_off(true);
        }
    }
}

/// Whether `error` is an id given here that another process took first.
pub(super) fn taken(error: &MemoryError) -> bool {
    match error {
        MemoryError::Database(sqlx::Error::Database(error)) => error.is_unique_violation(),
        MemoryError::Conflict { .. } => true,
        _ => false,
    }
}

/// The end of a write that ran with ids given here, in `savepoint`: committed and its result;
/// or rolled back and `None` when another process took one of the ids first (it is run again
/// with SQLite giving them, which it does from then on: see [`Giver::collided`]); or its error.
pub(super) async fn given_ids_kept<T>(
    savepoint: sqlx::Transaction<'_, sqlx::Any>,
    result: Result<T, MemoryError>,
    giver: &Giver,
) -> Result<Option<T>, MemoryError> {
    match result {
        Ok(done) => {
            savepoint.commit().await?;
            Ok(Some(done))
        }
        Err(error) => {
            savepoint.rollback().await?;
            if !taken(&error) {
                return Err(error);
            }
            giver.collided(&error);
            Ok(None)
        }
    }
}
