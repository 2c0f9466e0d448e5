//! Group commit on SQLite: the writes of concurrent turns share transactions.
//!
//! SQLite has one writer at a time. Left to the pool, concurrent writers take turns through
//! SQLite's busy handler, which sleeps (1, 2, 5, 10 … ms) between tries, and each commit waits
//! for its own fsync: under a burst a turn's first write waited hundreds of milliseconds. Here
//! one task writes for everybody. It takes every write waiting, runs them in one transaction
//! (each in a savepoint, so a failing write is rolled back alone and the others still commit),
//! commits once and answers each writer. Writes that need not wait for the disk (on the way to
//! the model, see [`Durability::Process`]) go in a batch of their own ahead of the durable
//! ones, so they never wait for an fsync they do not need. PostgreSQL takes concurrent writers
//! as they come and does not use this.

use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use crate::conversations::{ConversationRow, insert_conversation};
use crate::messages::write_rows;
use crate::store::{Durability, write_connection_on};
use crate::{
    Conversation, ConversationId, ConversationKey, MemoryError, MessageId, NewMessage, Scope,
    UserId,
};

/// The most writes one transaction takes; more wait for the next.
const MAX_BATCH: usize = 256;

type Done<T> = oneshot::Sender<Result<T, MemoryError>>;

/// A write waiting for the group commit, with where its result goes.
enum Job {
    /// A turn's messages (and the answer they replace); their ids back, in order.
    Messages {
        conversation: ConversationId,
        messages: Vec<NewMessage>,
        replaces: Option<MessageId>,
        turn: String,
        done: Done<Vec<MessageId>>,
    },
    /// A new conversation; `None` back when another took the key first.
    Conversation {
        key: ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
        done: Done<Option<Conversation>>,
    },
}

/// A write done, its result held until the transaction's fate is known.
enum Reply {
    Messages(Done<Vec<MessageId>>, Result<Vec<MessageId>, MemoryError>),
    Conversation(
        Done<Option<Conversation>>,
        Result<Option<Conversation>, MemoryError>,
    ),
}

impl Reply {
    /// The write's own result: its transaction is committed.
    fn send(self) {
        // A writer that stopped waiting (a cancelled turn) no longer needs it.
        let _ = match self {
            Self::Messages(done, result) => done.send(result).is_ok(),
            Self::Conversation(done, result) => done.send(result).is_ok(),
        };
    }

    /// The transaction failed: nothing of the write is stored.
    fn fail(self, source: &Arc<MemoryError>) {
        let error = || MemoryError::GroupCommit {
            source: source.clone(),
        };
        let _ = match self {
            Self::Messages(done, _) => done.send(Err(error())).is_ok(),
            Self::Conversation(done, _) => done.send(Err(error())).is_ok(),
        };
    }
}

/// The handle writers send to; cheap to clone. The task ends when the last handle is dropped.
#[derive(Clone, Debug)]
pub(crate) struct GroupCommit {
    jobs: mpsc::UnboundedSender<(Job, Durability)>,
}

impl GroupCommit {
    /// Starts the writing task on `pool`.
    pub(crate) fn start(pool: AnyPool) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, queue));
        Self { jobs }
    }

    /// Writes a turn's messages in the next transaction of `durability`; their ids once it is
    /// committed.
    pub(crate) async fn messages(
        &self,
        conversation: ConversationId,
        messages: Vec<NewMessage>,
        replaces: Option<MessageId>,
        turn: String,
        durability: Durability,
    ) -> Result<Vec<MessageId>, MemoryError> {
        let (done, answer) = oneshot::channel();
        let job = Job::Messages {
            conversation,
            messages,
            replaces,
            turn,
            done,
        };
        self.send(job, durability, answer).await
    }

    /// Creates a live conversation under `key` (relaxed durability, as on the model's path);
    /// `None` when one exists already.
    pub(crate) async fn conversation(
        &self,
        key: ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
    ) -> Result<Option<Conversation>, MemoryError> {
        let (done, answer) = oneshot::channel();
        let job = Job::Conversation {
            key,
            scope,
            owner,
            done,
        };
        self.send(job, Durability::Process, answer).await
    }

    async fn send<T>(
        &self,
        job: Job,
        durability: Durability,
        answer: oneshot::Receiver<Result<T, MemoryError>>,
    ) -> Result<T, MemoryError> {
        self.jobs.send((job, durability)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The writing task: batches of what is waiting, the relaxed ones first.
async fn run(pool: AnyPool, mut queue: mpsc::UnboundedReceiver<(Job, Durability)>) {
    let mut waiting = Vec::new();
    while queue.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        let (relaxed, durable): (Vec<_>, Vec<_>) = waiting
            .drain(..)
            .partition(|(_, durability)| *durability == Durability::Process);
        for (batch, durability) in [(relaxed, Durability::Process), (durable, Durability::Full)] {
            if !batch.is_empty() {
                commit(&pool, batch.into_iter().map(|(job, _)| job), durability).await;
            }
        }
    }
}

/// Writes `batch` in one transaction and answers each job: its own result once the
/// transaction is committed, or the commit's failure.
async fn commit(pool: &AnyPool, batch: impl Iterator<Item = Job>, durability: Durability) {
    let mut replies = Vec::new();
    let outcome: Result<(), MemoryError> = async {
        let mut writer = write_connection_on(pool, durability).await?;
        let mut tx = writer.conn().begin().await?;
        for job in batch {
            replies.push(one(&mut tx, job).await?);
        }
        tx.commit().await?;
        writer.finish().await
    }
    .await;
    match outcome {
        Ok(()) => replies.into_iter().for_each(Reply::send),
        Err(error) => {
            let source = Arc::new(error);
            replies.into_iter().for_each(|reply| reply.fail(&source));
        }
    }
}

/// One write in its own savepoint, rolled back alone when it fails. An error here (the
/// savepoint itself failing) fails the whole transaction.
async fn one(conn: &mut AnyConnection, job: Job) -> Result<Reply, MemoryError> {
    let mut savepoint = conn.begin().await?;
    let (reply, ok) = match job {
        Job::Messages {
            conversation,
            messages,
            replaces,
            turn,
            done,
        } => {
            let result = write_rows(&mut savepoint, conversation, &messages, replaces, &turn).await;
            let ok = result.is_ok();
            (Reply::Messages(done, result), ok)
        }
        Job::Conversation {
            key,
            scope,
            owner,
            done,
        } => {
            let result = insert_conversation(&key, scope, owner)
                .fetch_optional(&mut *savepoint)
                .await
                .map(|row| row.map(ConversationRow::into))
                .map_err(MemoryError::from);
            let ok = result.is_ok();
            (Reply::Conversation(done, result), ok)
        }
    };
    if ok {
        savepoint.commit().await?;
    } else {
        savepoint.rollback().await?;
    }
    Ok(reply)
}

fn stopped() -> MemoryError {
    MemoryError::Database(sqlx::Error::PoolClosed)
}

#[cfg(test)]
mod tests {
    use futures::future::join_all;

    use crate::{ConversationId, ConversationKey, MemoryError, NewMessage, Scope, Store, UserId};

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/bot.sqlite", dir.path().display());
        (dir, Store::connect(&url).await.unwrap())
    }

    #[tokio::test]
    async fn concurrent_turns_all_land_and_a_failing_write_fails_alone() {
        let (_dir, store) = store().await;
        // 100 conversations created at once: one transaction or a few, every one created once.
        let created = join_all((0..100).map(|n| {
            let store = store.clone();
            async move {
                let key = ConversationKey::new(format!("c{n}"));
                store
                    .conversation(&key, Scope::default(), Some(UserId::new(n)))
                    .await
            }
        }))
        .await;
        let ids: Vec<ConversationId> = created.into_iter().map(|c| c.unwrap().id).collect();
        assert_eq!(
            ids.iter().collect::<std::collections::BTreeSet<_>>().len(),
            100
        );

        // Their first messages at once, plus one for a conversation that does not exist.
        let missing = ConversationId(9_999);
        let writes = ids.iter().copied().chain([missing]).map(|id| {
            let store = store.clone();
            async move {
                let message = NewMessage::user(format!("hello from {id}"));
                (id, store.add_user_message(id, message).await)
            }
        });
        for (id, result) in join_all(writes).await {
            if id == missing {
                assert!(
                    matches!(result, Err(MemoryError::NotFound { .. })),
                    "the bad write fails alone, with its own error: {result:?}"
                );
            } else {
                result.unwrap();
            }
        }
        for id in ids {
            let history = store.history(id, 10).await.unwrap();
            assert_eq!(history.len(), 1, "conversation {id}");
            assert_eq!(history[0].content, format!("hello from {id}"));
        }
    }

    #[tokio::test]
    async fn one_conversation_keeps_its_order_across_batches() {
        let (_dir, store) = store().await;
        let key = ConversationKey::new("ordered");
        let conversation = store
            .conversation(&key, Scope::default(), None)
            .await
            .unwrap();
        // A turn's own writes come one after the other; others' writes crowd the batches.
        let noise = join_all((0..50).map(|n| {
            let store = store.clone();
            async move {
                let key = ConversationKey::new(format!("noise{n}"));
                let c = store.conversation(&key, Scope::default(), None).await?;
                store
                    .commit_turn(c.id, vec![NewMessage::assistant("noise")])
                    .await
            }
        }));
        let ordered = async {
            for n in 0..20 {
                store
                    .add_user_message(conversation.id, NewMessage::user(format!("q{n}")))
                    .await?;
                store
                    .commit_turn(
                        conversation.id,
                        vec![NewMessage::assistant(format!("a{n}"))],
                    )
                    .await?;
            }
            Ok::<_, MemoryError>(())
        };
        let (noise, ordered) = tokio::join!(noise, ordered);
        ordered.unwrap();
        assert!(noise.iter().all(Result::is_ok));
        let history = store.history(conversation.id, 100).await.unwrap();
        let texts: Vec<&str> = history.iter().map(|m| m.content.as_str()).collect();
        let expected: Vec<String> = (0..20)
            .flat_map(|n| [format!("q{n}"), format!("a{n}")])
            .collect();
        assert_eq!(texts, expected);
    }
}
