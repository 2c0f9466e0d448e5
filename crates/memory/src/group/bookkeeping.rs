//! The small writes that record what a turn did after its answer (the tokens it used, the
//! Discord messages that show the answer), as jobs of the group commit.
//!
//! Written apart, each was a transaction of its own with its own fsync, taking SQLite's write
//! lock from the group commit's writer (which then waited in SQLite's busy handler): three
//! commits and fsyncs an answer. On the queue they share the batch's transaction and its fsync,
//! and come after the answer they describe (the queue is in order).

use sqlx::AnyConnection;

use crate::usage::{UtcDay, write_usage};
use crate::{MemoryError, MessageId, PostId};

/// A write recording what a turn did.
#[derive(Debug)]
pub(crate) enum Bookkeeping {
    /// Tokens added to each subject's count for a day (see [`crate::Store::add_usage`]).
    Usage {
        day: UtcDay,
        subjects: Vec<(&'static str, i64)>,
        tokens: u64,
    },
    /// The Discord messages showing a stored message (see
    /// [`crate::Store::set_discord_message_ids`]).
    Posts {
        message: MessageId,
        posts: Vec<PostId>,
    },
}

impl Bookkeeping {
    /// Its statements, on `conn`.
    pub(crate) async fn write(&self, conn: &mut AnyConnection) -> Result<(), MemoryError> {
        match self {
            Self::Usage {
                day,
                subjects,
                tokens,
            } => write_usage(conn, *day, subjects, *tokens).await,
            Self::Posts { message, posts } => {
                crate::messages::write_posts(conn, *message, posts).await
            }
        }
    }
}
