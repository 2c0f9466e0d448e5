//! The audit log's writer: [`Engine::audit`] queues an entry and returns at once (a turn never
//! waits for the database to record it); one background task writes what is queued, in
//! batches, and [`Engine::shutdown`] waits for it to finish, so an orderly stop loses nothing.
//! [`Engine::audit_log`] writes what is queued first, so a reader sees every entry recorded
//! before it asked.

use std::sync::Mutex;
use std::time::Duration;

use mcpcord_memory::{AuditEntry, AuditFilter, AuditRecord, Store};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::engine::Engine;
use crate::error::EngineError;

/// Most entries written in one transaction.
const BATCH: usize = 64;

/// Attempts at writing a batch before its entries are given up (and logged as lost).
const ATTEMPTS: u32 = 3;

/// What the writer is asked to do.
enum Job {
    /// Record this entry.
    Write(AuditEntry),
    /// Answer once everything queued before has been written (or given up).
    Flush(oneshot::Sender<()>),
}

/// The queue in front of the writer task, started on first use.
#[derive(Default)]
pub(crate) struct AuditQueue {
    state: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    /// The writer's queue; `None` before first use and after shutdown.
    sender: Option<mpsc::UnboundedSender<Job>>,
    /// The writer task.
    task: Option<JoinHandle<()>>,
    /// Set at shutdown: later entries are written one by one, directly.
    closed: bool,
}

impl AuditQueue {
    /// Queues `job`, starting the writer if needed; gives `job` back when the queue is closed
    /// (or there is no runtime to start the writer on).
    fn send(&self, store: &Store, job: Job) -> Result<(), Job> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.closed {
            return Err(job);
        }
        if state.sender.is_none() {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return Err(job);
            };
            let (sender, jobs) = mpsc::unbounded_channel();
            state.task = Some(runtime.spawn(write_all(store.clone(), jobs)));
            state.sender = Some(sender);
        }
        let sender = state.sender.as_ref().expect("started above");
        sender.send(job).map_err(|error| error.0)
    }

    /// Closes the queue and waits until the writer has written everything queued.
    pub(crate) async fn close(&self) {
        let task = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.closed = true;
            state.sender = None; // the writer ends when the queue is empty
            state.task.take()
        };
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::error!(%error, "the audit log's writer failed; entries may be lost");
        }
    }
}

impl Engine {
    /// Records `entry` in the audit log without waiting: it is queued and written by a
    /// background task (a turn never waits for it), and written before [`Engine::shutdown`]
    /// returns. A write that keeps failing is logged (with the entry's kind and action).
    pub fn audit(&self, entry: AuditEntry) {
        let inner = &self.inner;
        if let Err(Job::Write(entry)) = inner.audit.send(&inner.store, Job::Write(entry)) {
            // After shutdown (or outside a runtime): write it directly, as best we can.
            let store = inner.store.clone();
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move { write_batch(&store, vec![entry]).await });
                }
                Err(_) => tracing::error!(
                    kind = %entry.kind, action = %entry.action,
                    "audit entry lost: recorded outside a runtime"
                ),
            }
        }
    }

    /// Waits until every entry recorded so far with [`Engine::audit`] is in the database
    /// (or was given up after failed attempts).
    pub async fn audit_flush(&self) {
        let (done, written) = oneshot::channel();
        if self
            .inner
            .audit
            .send(&self.inner.store, Job::Flush(done))
            .is_ok()
        {
            let _ = written.await;
        }
    }

    /// The audit log's entries that `filter` selects (newest first unless it says otherwise),
    /// including every entry recorded before this call.
    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, EngineError> {
        self.audit_flush().await;
        Ok(self.inner.store.audit(filter).await?)
    }
}

/// The writer: takes what is queued, in batches, until the queue is closed and empty.
async fn write_all(store: Store, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut taken = Vec::with_capacity(BATCH);
    while jobs.recv_many(&mut taken, BATCH).await > 0 {
        let mut batch = Vec::with_capacity(taken.len());
        let mut flushes = Vec::new();
        for job in taken.drain(..) {
            match job {
                Job::Write(entry) => batch.push(entry),
                Job::Flush(done) => flushes.push(done),
            }
        }
        write_batch(&store, batch).await;
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// Writes `batch`, trying again a few times; logs what it gives up.
async fn write_batch(store: &Store, batch: Vec<AuditEntry>) {
    if batch.is_empty() {
        return;
    }
    let mut attempt = 1;
    loop {
        match store.append_audits(&batch).await {
            Ok(()) => return,
            Err(error) if attempt < ATTEMPTS => {
                tracing::warn!(%error, attempt, "cannot write to the audit log; trying again");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(error) => {
                tracing::error!(
                    %error, lost = batch.len(),
                    "cannot write to the audit log; these entries are lost (check the database)"
                );
                return;
            }
        }
    }
}
