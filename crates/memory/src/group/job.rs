//! A job's statements and the reply they give, and the first pass of a batch (see `commit` in
//! the parent module): every job run as it is, ids as given, no savepoint, in one transaction
//! that commits only if all of them succeed.

use sqlx::{AnyConnection, Connection};

use super::ids::{Giver, given_ids_kept, taken};
use super::writer::Writer;
use super::{Job, Reply, created, stopped, with_message, write_queued};
use crate::messages::write_rows;
use crate::store::Durability;
use crate::{Conversation, MemoryError, MessageId, Started};

/// Every job of `jobs` run as it is, ids as given, in one transaction committed if all of them
/// succeed; their outcomes, in order. Any failure rolls the whole transaction back.
pub(super) async fn plain(
    writer: &mut Writer,
    jobs: &[(Job, Durability)],
) -> Result<Vec<Outcome>, MemoryError> {
    let mut held = writer.take().await?;
    let mut tx = held.conn().begin().await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for (job, _) in jobs {
        outcomes.push(job.run(&mut tx, Ids::Given).await?);
    }
    tx.commit().await?;
    writer.give_back(held).await?;
    Ok(outcomes)
}

/// Whether a job's rows take the ids given when it was queued, or SQLite's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ids {
    Given,
    Sqlites,
}

/// What a job's statements gave ([`Job::run`]).
pub(super) enum Outcome {
    Messages(Vec<MessageId>),
    Started(Box<Started>),
    Conversation(Option<Conversation>),
    Done,
}

impl Job {
    /// The job's statements on `conn`, no savepoint, no second try; the rows it inserts take
    /// `ids` (a queued message always its given ones).
    async fn run(&self, conn: &mut AnyConnection, ids: Ids) -> Result<Outcome, MemoryError> {
        let given = ids == Ids::Given;
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
                    ids.as_deref().filter(|_| given),
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
                with_message(
                    conn,
                    key,
                    (*scope, *owner),
                    message,
                    turn,
                    ids.filter(|_| given),
                )
                .await?,
            )),
            Self::Conversation {
                key,
                scope,
                owner,
                id,
                ..
            } => Outcome::Conversation(
                created(conn, key, (*scope, *owner), id.filter(|_| given)).await?,
            ),
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

    /// Whether the job's rows were given ids that SQLite may give instead (a queued message's
    /// are in use already: they may not).
    fn may_take_sqlites_ids(&self) -> bool {
        match self {
            Self::Messages { ids, .. } => ids.is_some(),
            Self::ConversationWithMessage { ids, .. } => ids.is_some(),
            Self::Conversation { id, .. } => id.is_some(),
            Self::Queued(_) | Self::Bookkeeping { .. } | Self::Settle { .. } => false,
        }
    }

    /// The job on `conn` the careful way (its caller holds it in a savepoint): with the ids
    /// given here in a savepoint of its own, and again with SQLite's when another process took
    /// one first (see [`given_ids_kept`]); a queued message cannot go again (its ids are in
    /// use): it fails. Its reply, and whether it succeeded.
    pub(super) async fn write(self, conn: &mut AnyConnection, giver: &Giver) -> (Reply, bool) {
        let result = if self.may_take_sqlites_ids() {
            self.with_given_ids(conn, giver).await
        } else {
            self.run(conn, Ids::Given).await
        };
        if let Err(error) = &result
            && matches!(self, Self::Queued(_))
            && taken(error)
        {
            giver.collided(error);
        }
        let ok = result.is_ok();
        (self.replied(result), ok)
    }

    /// [`run`](Self::run) with the given ids in a savepoint, then with SQLite's when they were
    /// taken.
    async fn with_given_ids(
        &self,
        conn: &mut AnyConnection,
        giver: &Giver,
    ) -> Result<Outcome, MemoryError> {
        let mut savepoint = conn.begin().await?;
        let first = self.run(&mut savepoint, Ids::Given).await;
        match given_ids_kept(savepoint, first, giver).await? {
            Some(done) => Ok(done),
            None => self.run(conn, Ids::Sqlites).await,
        }
    }

    /// The reply of a job whose run gave `result`.
    fn replied(self, result: Result<Outcome, MemoryError>) -> Reply {
        match result {
            Ok(outcome) => self.answered(outcome),
            Err(error) => self.failed(error),
        }
    }

    /// The reply of a job that failed with `error`.
    pub(super) fn failed(self, error: MemoryError) -> Reply {
        match self {
            Self::Messages { done, .. } => Reply::Messages(done, Err(error)),
            Self::ConversationWithMessage { done, .. } => {
                Reply::ConversationWithMessage(done, Box::new(Err(error)))
            }
            Self::Conversation { done, .. } => Reply::Conversation(done, Err(error)),
            Self::Queued(queued) => Reply::Queued(queued.done, Err(error), queued.forget),
            Self::Bookkeeping { done, .. } => Reply::Written(done, Err(error)),
            Self::Settle { done } => Reply::Settled(done),
        }
    }

    /// The reply of a job that never ran, for telling its writer why (its result is never
    /// sent as is: [`Reply::fail`] replaces it).
    pub(super) fn unanswered(self) -> Reply {
        self.failed(stopped())
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
