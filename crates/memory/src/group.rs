//! Group commit on SQLite: the writes of concurrent turns share transactions.
//!
//! SQLite has one writer at a time. Left to the pool, concurrent writers take turns through
//! SQLite's busy handler, which sleeps (1, 2, 5, 10 … ms) between tries, and each commit waits
//! for its own fsync: under a burst a turn's first write waited hundreds of milliseconds. Here
//! one task writes for everybody. It takes every write waiting, runs them in one transaction
//! (again each in a savepoint when one of them fails, so that a failing write is rolled back
//! alone and the others still commit), commits once and answers each writer. PostgreSQL takes
//! concurrent writers as they come and does not use this.
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
//!
//! # Ids given before the write
//!
//! Even without fsync, writing costs the writer about 0.4 ms a turn, so in a burst of 200
//! turns the last one waited some 80 ms in this queue before its model request. A turn need
//! not wait: while this process is the database's only writer (see `hot.rs`), the ids of new
//! conversations and messages are given here, from counters read when the store opened
//! ([`Counters`]), and every insert into `conversations` and `messages` uses them. A person's
//! message is then queued ([`GroupCommit::queue_message`]) with its ids known, and the turn
//! goes on to the model at once with a [`Written`] handle it awaits before it commits its answer.
//! Ids are given as jobs are queued, under one lock, so the queue's order is the ids' order and
//! a message with a smaller id is never committed after one with a larger id (the embedding
//! indexer reads onwards from the largest id it saw). The answer is queued after the question
//! on the same queue, so it is never committed without it; when the question's write fails,
//! the turn fails with that error. [`GroupCommit::settle`] waits for everything queued, for
//! writes that do not go through this queue (`/new`, a title, retention, forgetting a person).
//!
//! A process that writes to the same file without saying so (`Store::set_shared`) takes ids
//! this one gives: a write whose ids nobody has seen yet (an answer, a conversation) is rolled
//! back to its savepoint and written again with SQLite's ids; a queued message cannot be (its
//! ids are in use) and fails with the cause. Either way this store stops giving ids and keeps
//! nothing in memory from then on, as a shared one. On a crash, what was queued and not yet
//! committed is lost whole (a message, with the conversation it started); ids given and never
//! written are simply not used.
//!
//! Why one file over 600 lines: the jobs, their replies, the writing task and the syncing task
//! are one mechanism read together (a job's reply is sent, failed or held for the fsync by the
//! same few functions); what stands apart is apart already (`ids.rs`, `bookkeeping.rs`, a job's
//! statements and the first pass of a batch in `job.rs`, the tests in `tests.rs`).
//!
//! [`Written`]: crate::Written

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use crate::conversations::{ConversationRow, FIND_LIVE, insert_conversation};
use crate::hot::Hot;
use crate::messages::{insert, write_rows};
use crate::store::Durability;
use crate::{
    Conversation, ConversationId, ConversationKey, MemoryError, MessageId, NewMessage, Scope,
    Started, StoredMessage, UserId, Written, db,
};

mod bookkeeping;
mod ids;
mod job;
mod writer;

pub(crate) use bookkeeping::Bookkeeping;
pub(crate) use ids::Counters;
use ids::Giver;
use job::plain;
use writer::Writer;

/// The most writes one transaction takes; more wait for the next.
const MAX_BATCH: usize = 256;

type Done<T> = oneshot::Sender<Result<T, MemoryError>>;

/// Where a queued message goes ([`GroupCommit::queue_message`]).
pub(crate) enum Target {
    /// A live conversation, known.
    Existing(Conversation),
    /// A new conversation under `key`, created with the message.
    New {
        key: ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
    },
}

impl Target {
    /// The conversation, with its id given when it is new; whether it is new.
    fn conversation(self, counters: &mut Counters) -> (Conversation, bool) {
        match self {
            Self::Existing(conversation) => (conversation, false),
            Self::New { key, scope, owner } => {
                let now = db::time(db::now());
                let conversation = Conversation {
                    id: counters.conversation(),
                    key,
                    scope,
                    owner,
                    title: None,
                    model: None,
                    created_at: now,
                    updated_at: now,
                };
                (conversation, true)
            }
        }
    }
}

/// A person's message queued with its id (and its conversation, when new, with its id).
struct Queued {
    conversation: Conversation,
    created: bool,
    message: NewMessage,
    id: MessageId,
    turn: String,
    done: Done<()>,
    forget: Forget,
}

/// What a failed queued write leaves kept in memory: its conversation, which may not exist.
struct Forget {
    hot: Arc<Hot>,
    key: ConversationKey,
}

impl Forget {
    fn now(&self) {
        self.hot.forget_key(self.key.as_str());
    }
}

/// A write waiting for the group commit, with where its result goes. Ids given when it was
/// queued (`None`: SQLite gives them) are used for the rows it inserts.
enum Job {
    /// A turn's messages (and the answer they replace); their ids back, in order.
    Messages {
        conversation: ConversationId,
        messages: Vec<NewMessage>,
        replaces: Option<MessageId>,
        turn: String,
        ids: Option<Vec<MessageId>>,
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
        ids: Option<(ConversationId, MessageId)>,
        done: Done<Started>,
    },
    /// A new conversation; `None` back when another took the key first.
    Conversation {
        key: ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
        id: Option<ConversationId>,
        done: Done<Option<Conversation>>,
    },
    /// A person's message whose writer went on without waiting (see the module's
    /// documentation).
    Queued(Box<Queued>),
    /// A record of what a turn did (its tokens, its answer's Discord messages).
    Bookkeeping { write: Bookkeeping, done: Done<()> },
    /// Nothing: answered once everything queued before it is committed.
    Settle { done: Done<()> },
}

/// A write done, its result held until the transaction's fate is known.
enum Reply {
    Messages(Done<Vec<MessageId>>, Result<Vec<MessageId>, MemoryError>),
    ConversationWithMessage(Done<Started>, Box<Result<Started, MemoryError>>),
    Conversation(
        Done<Option<Conversation>>,
        Result<Option<Conversation>, MemoryError>,
    ),
    Queued(Done<()>, Result<(), MemoryError>, Forget),
    Written(Done<()>, Result<(), MemoryError>),
    Settled(Done<()>),
}

impl Reply {
    /// The write's own result: its transaction is committed.
    fn send(self) {
        // A writer that stopped waiting (a cancelled turn) no longer needs it.
        let _ = match self {
            Self::Messages(done, result) => done.send(result).is_ok(),
            Self::ConversationWithMessage(done, result) => done.send(*result).is_ok(),
            Self::Conversation(done, result) => done.send(result).is_ok(),
            Self::Queued(done, result, forget) => {
                if result.is_err() {
                    forget.now();
                }
                done.send(result).is_ok()
            }
            Self::Written(done, result) => done.send(result).is_ok(),
            Self::Settled(done) => done.send(Ok(())).is_ok(),
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
            Self::Queued(done, _, forget) => {
                forget.now();
                done.send(Err(error())).is_ok()
            }
            Self::Written(done, _) => done.send(Err(error())).is_ok(),
            Self::Settled(done) => done.send(Err(error())).is_ok(),
        };
    }
}

/// The handle writers send to; cheap to clone. The task ends when the last handle is dropped.
#[derive(Clone, Debug)]
pub(crate) struct GroupCommit {
    jobs: mpsc::UnboundedSender<(Job, Durability)>,
    giver: Giver,
}

impl GroupCommit {
    /// Starts the writing task on `pool`, and the syncing task for the WAL file of the database
    /// at `file` (`None` for an in-memory database, which has nothing to sync); ids are given
    /// from `counters` on.
    pub(crate) fn start(
        pool: AnyPool,
        file: Option<PathBuf>,
        counters: Counters,
        hot: Arc<Hot>,
    ) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        let (synced, to_sync) = mpsc::unbounded_channel();
        let giver = Giver::new(counters, hot);
        let writer = Writer::new(pool, file.is_some());
        tokio::spawn(run(writer, queue, synced, giver.clone()));
        tokio::spawn(sync(file.map(wal_of), to_sync));
        Self { jobs, giver }
    }

    /// Stops giving ids (other processes insert rows too): SQLite gives them from now on, and
    /// nothing is queued without waiting.
    pub(crate) fn stop_giving_ids(&self) {
        self.giver.stop();
    }

    /// The id of a conversation inserted apart from the queue (`/new`), `None` when SQLite
    /// gives it.
    pub(crate) fn conversation_id(&self) -> Option<ConversationId> {
        self.giver.lock().as_mut().map(Counters::conversation)
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
        self.enqueue(durability, |ids| Job::Messages {
            ids: ids.map(|ids| ids.messages(messages.len())),
            conversation,
            messages,
            replaces,
            turn,
            done,
        })?;
        wait(answer).await
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
        self.enqueue(Durability::Process, |ids| Job::ConversationWithMessage {
            ids: ids.map(|ids| (ids.conversation(), ids.message())),
            key,
            scope,
            owner,
            message: Box::new(message),
            turn,
            done,
        })?;
        wait(answer).await
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
        self.enqueue(Durability::Process, |ids| Job::Conversation {
            id: ids.map(Counters::conversation),
            key,
            scope,
            owner,
            done,
        })?;
        wait(answer).await
    }

    /// Queues `message` for `target` (relaxed durability) with its ids given now, and returns
    /// at once: the conversation and the message as they will be stored, and the handle that
    /// tells when they are. `None` when ids are not given here (the database is shared).
    pub(crate) fn queue_message(
        &self,
        target: Target,
        message: NewMessage,
    ) -> Result<Option<(Started, Written)>, MemoryError> {
        let mut ids = self.giver.lock();
        let Some(counters) = ids.as_mut() else {
            return Ok(None);
        };
        let (conversation, created) = target.conversation(counters);
        let (id, turn) = (counters.message(), uuid::Uuid::new_v4().to_string());
        let (done, answer) = oneshot::channel();
        let started = Started {
            message: StoredMessage::written(id, conversation.id, turn.clone(), message.clone()),
            conversation: conversation.clone(),
            created,
        };
        let forget = Forget {
            hot: self.giver.hot.clone(),
            key: conversation.key.clone(),
        };
        let queued = Queued {
            conversation,
            created,
            message,
            id,
            turn,
            done,
            forget,
        };
        // Sent under the ids' lock: the queue's order is the ids' order.
        self.jobs
            .send((Job::Queued(Box::new(queued)), Durability::Process))
            .map_err(|_| stopped())?;
        Ok(Some((started, Written::queued(answer))))
    }

    /// Writes `write` in the next transaction (after everything queued before it), durably:
    /// answered once the WAL is synced.
    pub(crate) async fn bookkeeping(&self, write: Bookkeeping) -> Result<(), MemoryError> {
        let (done, answer) = oneshot::channel();
        self.enqueue(Durability::Full, |_| Job::Bookkeeping { write, done })?;
        wait(answer).await
    }

    /// Waits until everything queued so far is committed (or failed).
    pub(crate) async fn settle(&self) -> Result<(), MemoryError> {
        let (done, answer) = oneshot::channel();
        self.enqueue(Durability::Process, |_| Job::Settle { done })?;
        wait(answer).await
    }

    /// Queues the job `build` makes with the ids it gives (`None` when SQLite gives them),
    /// under the ids' lock so that the queue's order is the ids' order.
    fn enqueue(
        &self,
        durability: Durability,
        build: impl FnOnce(Option<&mut Counters>) -> Job,
    ) -> Result<(), MemoryError> {
        let mut ids = self.giver.lock();
        let job = build(ids.as_mut());
        self.jobs.send((job, durability)).map_err(|_| stopped())
    }
}

/// The result sent to `answer`.
async fn wait<T>(answer: oneshot::Receiver<Result<T, MemoryError>>) -> Result<T, MemoryError> {
    answer.await.map_err(|_| stopped())?
}

/// Writes of [`Durability::Full`] committed, waiting for the WAL to be synced.
type Unsynced = Vec<Reply>;

/// The writing task: a batch of what is waiting at a time; the durable writes of each batch
/// go to the syncing task once committed.
async fn run(
    mut writer: Writer,
    mut queue: mpsc::UnboundedReceiver<(Job, Durability)>,
    synced: mpsc::UnboundedSender<Unsynced>,
    giver: Giver,
) {
    let mut waiting = Vec::new();
    while queue.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        if let Some(durable) = commit(&mut writer, waiting.drain(..), &giver).await {
            // The syncing task ends only when this one does.
            let _ = synced.send(durable);
        }
    }
}

/// Writes `batch` in one transaction (not synced) and answers each job of
/// [`Durability::Process`]: its own result once the transaction is committed, or the commit's
/// failure. Gives the durable jobs' results to answer once the WAL is synced (`None` when
/// there are none, or the transaction failed and they were answered so).
///
/// The batch is first written as it is, without a savepoint per job: a savepoint costs two
/// statements, and releasing one makes the full-text index write out what it has gathered, so
/// a burst of messages would leave as many small index segments. Only when a job fails is that
/// transaction rolled back and the batch written again the careful way ([`careful`]), each job
/// in a savepoint of its own so that it fails alone.
async fn commit(
    writer: &mut Writer,
    batch: impl Iterator<Item = (Job, Durability)>,
    giver: &Giver,
) -> Option<Unsynced> {
    let jobs: Vec<(Job, Durability)> = batch.collect();
    let replies = match plain(writer, &jobs).await {
        Ok(outcomes) => jobs
            .into_iter()
            .zip(outcomes)
            .map(|((job, durability), outcome)| (job.answered(outcome), durability))
            .collect(),
        Err(error) => {
            tracing::debug!(%error, "a write of the batch failed; writing each in a savepoint");
            careful(writer, jobs, giver).await?
        }
    };
    let (relaxed, durable): (Vec<_>, Vec<_>) = replies
        .into_iter()
        .partition(|(_, durability)| *durability == Durability::Process);
    relaxed.into_iter().for_each(|(reply, _)| reply.send());
    let durable: Unsynced = durable.into_iter().map(|(reply, _)| reply).collect();
    (!durable.is_empty()).then_some(durable)
}

/// [`plain`](job::plain) again, each job in a savepoint: a failing one is rolled back alone
/// and told why, the others commit. The replies to send; `None` when the transaction itself
/// failed, and every job (those not yet run too) was told so.
async fn careful(
    writer: &mut Writer,
    jobs: Vec<(Job, Durability)>,
    giver: &Giver,
) -> Option<Vec<(Reply, Durability)>> {
    let mut batch = jobs.into_iter();
    let mut replies = Vec::new();
    let outcome: Result<(), MemoryError> = async {
        let mut held = writer.take().await?;
        let mut tx = held.conn().begin().await?;
        for (job, durability) in batch.by_ref() {
            let (reply, usable) = one(&mut tx, job, giver).await;
            replies.push((reply, durability));
            usable?;
        }
        tx.commit().await?;
        writer.give_back(held).await
    }
    .await;
    if let Err(error) = outcome {
        let source = Arc::new(error);
        let not_run = batch.map(|(job, _)| job.unanswered());
        replies
            .into_iter()
            .map(|(reply, _)| reply)
            .chain(not_run)
            .for_each(|reply| reply.fail(&source));
        return None;
    }
    Some(replies)
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
async fn one(
    conn: &mut AnyConnection,
    job: Job,
    giver: &Giver,
) -> (Reply, Result<(), MemoryError>) {
    let mut savepoint = match conn.begin().await {
        Ok(savepoint) => savepoint,
        Err(error) => return (job.unanswered(), Err(error.into())),
    };
    let (reply, ok) = job.write(&mut savepoint, giver).await;
    let closed = if ok {
        savepoint.commit().await
    } else {
        savepoint.rollback().await
    };
    (reply, closed.map_err(MemoryError::from))
}

/// A queued message (and its conversation, when new) written with the ids it was given.
async fn write_queued(conn: &mut AnyConnection, queued: &Queued) -> Result<(), MemoryError> {
    let conversation = &queued.conversation;
    let message = std::slice::from_ref(&queued.message);
    let ids = [queued.id];
    if !queued.created {
        write_rows(
            conn,
            conversation.id,
            message,
            None,
            &queued.turn,
            Some(&ids),
        )
        .await?;
        return Ok(());
    }
    let at = db::millis(conversation.created_at);
    let key = &conversation.key;
    let created = insert_conversation(
        key,
        conversation.scope,
        conversation.owner,
        Some(conversation.id),
        at,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if created.is_none() {
        return Err(MemoryError::Conflict {
            key: key.to_string(),
        });
    }
    insert(
        conn,
        conversation.id,
        &queued.turn,
        &queued.message,
        Some(queued.id),
    )
    .await?;
    Ok(())
}

/// The live conversation under `key`, created if there is none (tried first: on the model's
/// path a conversation not kept in memory is usually new), and `message` written to it, with
/// the ids given when the job was queued (`None`: SQLite gives them).
async fn with_message(
    conn: &mut AnyConnection,
    key: &ConversationKey,
    (scope, owner): (Scope, Option<UserId>),
    message: &NewMessage,
    turn: &str,
    ids: Option<(ConversationId, MessageId)>,
) -> Result<Started, MemoryError> {
    let (conversation_id, message_id) = (ids.map(|ids| ids.0), ids.map(|ids| ids.1));
    let created = insert_conversation(key, scope, owner, conversation_id, db::now())
        .fetch_optional(&mut *conn)
        .await?;
    let (conversation, id, created) = match created {
        // Just created, so it exists and its update time is now: the message alone.
        Some(row) => {
            let conversation = Conversation::from(row);
            let id = insert(conn, conversation.id, turn, message, message_id).await?;
            (conversation, id, true)
        }
        None => {
            let row = sqlx::query_as::<_, ConversationRow>(FIND_LIVE)
                .bind(key.as_str())
                .fetch_one(&mut *conn)
                .await?;
            let conversation = Conversation::from(row);
            let message_ids = message_id.map(|id| [id]);
            let ids = write_rows(
                conn,
                conversation.id,
                std::slice::from_ref(message),
                None,
                turn,
                message_ids.as_ref().map(|ids| ids.as_slice()),
            )
            .await?;
            (conversation, ids[0], false)
        }
    };
    Ok(Started {
        message: StoredMessage::written(id, conversation.id, turn.to_owned(), message.clone()),
        conversation,
        created,
    })
}

/// A new live conversation under `key`, with `id` when given; `None` when the key has one.
async fn created(
    conn: &mut AnyConnection,
    key: &ConversationKey,
    (scope, owner): (Scope, Option<UserId>),
    id: Option<ConversationId>,
) -> Result<Option<Conversation>, MemoryError> {
    let row = insert_conversation(key, scope, owner, id, db::now())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(ConversationRow::into))
}

fn stopped() -> MemoryError {
    MemoryError::Database(sqlx::Error::PoolClosed)
}

#[cfg(test)]
mod tests;
