//! Group commit on SQLite: the writes of concurrent turns share transactions.
//!
//! SQLite has one writer at a time. Left to the pool, concurrent writers take turns through
//! SQLite's busy handler, which sleeps (1, 2, 5, 10 … ms) between tries, and each commit waits
//! for its own fsync: under a burst a turn's first write waited hundreds of milliseconds. Here
//! one task writes for everybody. It takes every write waiting, runs them in one transaction
//! (each in a savepoint, so a failing write is rolled back alone and the others still commit),
//! commits once and answers each writer. PostgreSQL takes concurrent writers as they come and
//! does not use this.
//!
//! The disk is waited for apart from the writing, so that writes which need not wait for it
//! (on the way to the model, see [`Durability::Process`]) never queue behind an fsync: every
//! batch commits with `synchronous = NORMAL` (the WAL is written to the operating system, not
//! synced) and its writers of [`Durability::Process`] are answered at once; those of
//! [`Durability::Full`] are handed to a second task that syncs the WAL file (one fsync for
//! every batch committed by then) and answers them after it. That is what `synchronous =
//! FULL` does at each commit, without holding SQLite's write lock during the fsync: a commit
//! is in the WAL file once it returns, and if a checkpoint has since moved it into the
//! database file and the WAL started over, that checkpoint synced the database file first
//! (WAL mode with `synchronous = NORMAL` syncs before and after each checkpoint).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use crate::conversations::{ConversationRow, FIND_LIVE, insert_conversation};
use crate::messages::{insert, write_rows};
use crate::store::{Durability, write_connection_on};
use crate::{
    Conversation, ConversationId, ConversationKey, MemoryError, MessageId, NewMessage, Scope,
    Started, StoredMessage, UserId,
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
    /// The live conversation under a key (created if there is none) and a person's message
    /// written to it; both back.
    ConversationWithMessage {
        key: ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
        message: Box<NewMessage>,
        turn: String,
        done: Done<Started>,
    },
    /// A new conversation; `None` back when another took the key first.
    Conversation {
        key: ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
        done: Done<Option<Conversation>>,
    },
}

impl Job {
    /// The reply of a job that never ran, for telling its writer why (its result is never
    /// sent as is: [`Reply::fail`] replaces it).
    fn unanswered(self) -> Reply {
        match self {
            Self::Messages { done, .. } => Reply::Messages(done, Err(stopped())),
            Self::ConversationWithMessage { done, .. } => {
                Reply::ConversationWithMessage(done, Box::new(Err(stopped())))
            }
            Self::Conversation { done, .. } => Reply::Conversation(done, Err(stopped())),
        }
    }
}

/// A write done, its result held until the transaction's fate is known.
enum Reply {
    Messages(Done<Vec<MessageId>>, Result<Vec<MessageId>, MemoryError>),
    ConversationWithMessage(Done<Started>, Box<Result<Started, MemoryError>>),
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
            Self::ConversationWithMessage(done, result) => done.send(*result).is_ok(),
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
            Self::ConversationWithMessage(done, _) => done.send(Err(error())).is_ok(),
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
    /// Starts the writing task on `pool`, and the syncing task for the WAL file of the database
    /// at `file` (`None` for an in-memory database, which has nothing to sync).
    pub(crate) fn start(pool: AnyPool, file: Option<PathBuf>) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        let (synced, to_sync) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, queue, synced));
        tokio::spawn(sync(file.map(wal_of), to_sync));
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

    /// The live conversation under `key`, created if there is none, and `message` written to it
    /// (relaxed durability, as on the model's path); both once committed.
    pub(crate) async fn conversation_with_message(
        &self,
        key: ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
        message: NewMessage,
        turn: String,
    ) -> Result<Started, MemoryError> {
        let (done, answer) = oneshot::channel();
        let job = Job::ConversationWithMessage {
            key,
            scope,
            owner,
            message: Box::new(message),
            turn,
            done,
        };
        self.send(job, Durability::Process, answer).await
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

/// Writes of [`Durability::Full`] committed, waiting for the WAL to be synced.
type Unsynced = Vec<Reply>;

/// The writing task: a batch of what is waiting at a time; the durable writes of each batch
/// go to the syncing task once committed.
async fn run(
    pool: AnyPool,
    mut queue: mpsc::UnboundedReceiver<(Job, Durability)>,
    synced: mpsc::UnboundedSender<Unsynced>,
) {
    let mut waiting = Vec::new();
    while queue.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        if let Some(durable) = commit(&pool, waiting.drain(..)).await {
            // The syncing task ends only when this one does.
            let _ = synced.send(durable);
        }
    }
}

/// Writes `batch` in one transaction (not synced) and answers each job of
/// [`Durability::Process`]: its own result once the transaction is committed, or the commit's
/// failure. Gives the durable jobs' results to answer once the WAL is synced (`None` when
/// there are none, or the transaction failed and they were answered so). When the
/// transaction fails part-way, every job of the batch is told why, those not yet run too.
async fn commit(
    pool: &AnyPool,
    mut batch: impl Iterator<Item = (Job, Durability)>,
) -> Option<Unsynced> {
    let mut replies = Vec::new();
    let outcome: Result<(), MemoryError> = async {
        let mut writer = write_connection_on(pool, Durability::Process).await?;
        let mut tx = writer.conn().begin().await?;
        for (job, durability) in batch.by_ref() {
            let (reply, usable) = one(&mut tx, job).await;
            replies.push((reply, durability));
            usable?;
        }
        tx.commit().await?;
        writer.finish().await
    }
    .await;
    match outcome {
        Ok(()) => {
            let (relaxed, durable): (Vec<_>, Vec<_>) = replies
                .into_iter()
                .partition(|(_, durability)| *durability == Durability::Process);
            relaxed.into_iter().for_each(|(reply, _)| reply.send());
            let durable: Unsynced = durable.into_iter().map(|(reply, _)| reply).collect();
            (!durable.is_empty()).then_some(durable)
        }
        Err(error) => {
            let source = Arc::new(error);
            let not_run = batch.map(|(job, _)| job.unanswered());
            replies
                .into_iter()
                .map(|(reply, _)| reply)
                .chain(not_run)
                .for_each(|reply| reply.fail(&source));
            None
        }
    }
}

/// The syncing task: one fsync of the WAL file for every committed batch waiting, then their
/// durable writers are answered (or told the sync failed).
async fn sync(wal: Option<PathBuf>, mut queue: mpsc::UnboundedReceiver<Unsynced>) {
    let mut waiting = Vec::new();
    while queue.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        let outcome = match wal.clone() {
            Some(wal) => tokio::task::spawn_blocking(move || sync_file(&wal))
                .await
                .unwrap_or_else(|join| Err(std::io::Error::other(join.to_string()))),
            None => Ok(()),
        };
        let replies = waiting.drain(..).flatten();
        match outcome {
            Ok(()) => replies.for_each(Reply::send),
            Err(error) => {
                tracing::error!(%error, "cannot sync the database's WAL file to the disk");
                let source = Arc::new(MemoryError::Database(sqlx::Error::Io(error)));
                replies.for_each(|reply| reply.fail(&source));
            }
        }
    }
}

/// Syncs the WAL file at `wal` (opened anew each time: SQLite may have removed and created it
/// again). A WAL that is not there has nothing unsynced: SQLite removes it only after a
/// checkpoint, which synced the database file.
fn sync_file(wal: &Path) -> std::io::Result<()> {
    match std::fs::OpenOptions::new().write(true).open(wal) {
        Ok(file) => file.sync_data(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// The WAL file of the database file `file`.
fn wal_of(file: PathBuf) -> PathBuf {
    let mut name = file.into_os_string();
    name.push("-wal");
    PathBuf::from(name)
}

/// One write in its own savepoint, rolled back alone when it fails. Its reply comes back
/// always; the error beside it (the savepoint itself failing) fails the whole transaction.
async fn one(conn: &mut AnyConnection, job: Job) -> (Reply, Result<(), MemoryError>) {
    let mut savepoint = match conn.begin().await {
        Ok(savepoint) => savepoint,
        Err(error) => return (job.unanswered(), Err(error.into())),
    };
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
        Job::ConversationWithMessage {
            key,
            scope,
            owner,
            message,
            turn,
            done,
        } => {
            let result = with_message(&mut savepoint, &key, scope, owner, *message, turn).await;
            let ok = result.is_ok();
            (Reply::ConversationWithMessage(done, Box::new(result)), ok)
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
    let closed = if ok {
        savepoint.commit().await
    } else {
        savepoint.rollback().await
    };
    (reply, closed.map_err(MemoryError::from))
}

/// The live conversation under `key`, created if there is none (tried first: on the model's
/// path a conversation not kept in memory is usually new), and `message` written to it.
async fn with_message(
    conn: &mut AnyConnection,
    key: &ConversationKey,
    scope: Scope,
    owner: Option<UserId>,
    message: NewMessage,
    turn: String,
) -> Result<Started, MemoryError> {
    let created = insert_conversation(key, scope, owner)
        .fetch_optional(&mut *conn)
        .await?;
    let (conversation, id, created) = match created {
        // Just created, so it exists and its update time is now: the message alone.
        Some(row) => {
            let conversation = Conversation::from(row);
            let id = insert(conn, conversation.id, &turn, &message).await?;
            (conversation, id, true)
        }
        None => {
            let row = sqlx::query_as::<_, ConversationRow>(FIND_LIVE)
                .bind(key.as_str())
                .fetch_one(&mut *conn)
                .await?;
            let conversation = Conversation::from(row);
            let ids = write_rows(
                conn,
                conversation.id,
                std::slice::from_ref(&message),
                None,
                &turn,
            )
            .await?;
            (conversation, ids[0], false)
        }
    };
    Ok(Started {
        message: StoredMessage::written(id, conversation.id, turn, message),
        conversation,
        created,
    })
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
