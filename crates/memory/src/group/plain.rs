//! The first pass of a batch (see `commit` in the parent module): every job run as it is, ids
//! as given, no savepoint, in one transaction that commits only if all of them succeed.

use sqlx::{AnyConnection, AnyPool, Connection};

use super::{Job, Reply, created, with_message, write_queued};
use crate::messages::write_rows;
use crate::store::{Durability, write_connection_on};
use crate::{Conversation, MemoryError, MessageId, Started};

/// Every job of `jobs` run as it is, ids as given, in one transaction committed if all of them
/// succeed; their outcomes, in order. Any failure rolls the whole transaction back.
pub(super) async fn plain(
    pool: &AnyPool,
    jobs: &[(Job, Durability)],
) -> Result<Vec<Outcome>, MemoryError> {
    let mut writer = write_connection_on(pool, Durability::Process).await?;
    let mut tx = writer.conn().begin().await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for (job, _) in jobs {
        outcomes.push(job.run(&mut tx).await?);
    }
    tx.commit().await?;
    writer.finish().await?;
    Ok(outcomes)
}

/// What a job's statements gave, run as they are ([`Job::run`]).
pub(super) enum Outcome {
    Messages(Vec<MessageId>),
    Started(Box<Started>),
    Conversation(Option<Conversation>),
    Done,
}

impl Job {
    /// The job's statements on `conn`, as they are: ids as given, no savepoint, no second try
    /// (the first pass of a batch, see [`commit`](super::commit)).
    async fn run(&self, conn: &mut AnyConnection) -> Result<Outcome, MemoryError> {
        Ok(match self {
            Self::Messages {
                conversation,
                messages,
                replaces,
                turn,
                ids,
                ..
            } => Outcome::Messages(
                write_rows(
                    conn,
                    *conversation,
                    messages,
                    *replaces,
                    turn,
                    ids.as_deref(),
                )
                .await?,
            ),
            Self::ConversationWithMessage {
                key,
                scope,
                owner,
                message,
                turn,
                ids,
                ..
            } => Outcome::Started(Box::new(
                with_message(conn, key, (*scope, *owner), message, turn, *ids).await?,
            )),
            Self::Conversation {
                key,
                scope,
                owner,
                id,
                ..
            } => Outcome::Conversation(created(conn, key, (*scope, *owner), *id).await?),
            Self::Queued(queued) => {
                write_queued(conn, queued).await?;
                Outcome::Done
            }
            Self::Bookkeeping { write, .. } => {
                write.write(conn).await?;
                Outcome::Done
            }
            Self::Settle { .. } => Outcome::Done,
        })
    }

    /// The reply of a job whose [`Job::run`] gave `outcome`.
    pub(super) fn answered(self, outcome: Outcome) -> Reply {
        match (self, outcome) {
            (Self::Messages { done, .. }, Outcome::Messages(ids)) => Reply::Messages(done, Ok(ids)),
            (Self::ConversationWithMessage { done, .. }, Outcome::Started(started)) => {
                Reply::ConversationWithMessage(done, Box::new(Ok(*started)))
            }
            (Self::Conversation { done, .. }, Outcome::Conversation(conversation)) => {
                Reply::Conversation(done, Ok(conversation))
            }
            (Self::Queued(queued), Outcome::Done) => {
                Reply::Queued(queued.done, Ok(()), queued.forget)
            }
            (Self::Bookkeeping { done, .. }, Outcome::Done) => Reply::Written(done, Ok(())),
            (Self::Settle { done }, _) => Reply::Settled(done),
            // `run` gives each kind of job its own kind of outcome.
            (job, _) => job.unanswered(),
        }
    }
}
