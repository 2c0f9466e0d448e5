//! The background indexer: embeds new messages in batches, off every turn's path.
//!
//! At start it loads the stored vectors of the configured model into the in-process index, then
//! asks the store for messages still without a vector (an anti-join on `message_embeddings`, so
//! after a restart it resumes exactly where the last run stopped, and a changed model embeds
//! everything again), embeds a batch through the backend pool, stores the vectors in one
//! transaction and adds them to the index. When a backend is down it waits, doubling the wait
//! up to [`MAX_BACKOFF`], and tries the same batch again.
//!
//! Between sweeps it remembers the last message id it reached, so a caught-up indexer asks only
//! for newer messages; every [`FULL_SWEEP_EVERY`] idle rounds it starts from the first message
//! again, to pick up messages that committed out of id order (PostgreSQL hands out ids before
//! commit).

use std::sync::Arc;
use std::time::Duration;

use mcpcord_llm::BackendPool;
use mcpcord_memory::vectors::VectorIndex;
use mcpcord_memory::{MemoryError, MessageId, PendingMessage, Store};
use tokio_util::sync::CancellationToken;

use crate::error::EngineError;
use crate::memory::MemoryConfig;

/// Longest wait between two attempts while the backend or the database fails.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Idle rounds between two sweeps from the first message.
pub(crate) const FULL_SWEEP_EVERY: u32 = 60;
/// Vectors read per page when loading the index.
const LOAD_PAGE: usize = 10_000;
/// Characters of a message sent to the embedding model (the start says what it is about).
const EMBED_CHARS: usize = 2_000;

/// The indexer's state; [`run`](Indexer::run) drives it.
pub(crate) struct Indexer {
    store: Store,
    pool: BackendPool,
    index: Arc<VectorIndex>,
    batch: usize,
    interval: Duration,
    /// The last message id reached in this sweep.
    watermark: MessageId,
    /// Idle rounds since the last sweep from the start.
    idle: u32,
}

impl Indexer {
    /// An indexer filling `index` (whose model it embeds with).
    pub(crate) fn new(
        store: Store,
        pool: BackendPool,
        index: Arc<VectorIndex>,
        config: &MemoryConfig,
    ) -> Self {
        Self {
            store,
            pool,
            index,
            batch: config.index_batch.max(1),
            interval: config.index_interval,
            watermark: MessageId(0),
            idle: 0,
        }
    }

    /// Loads the index, then embeds until `stop` is cancelled.
    pub(crate) async fn run(mut self, stop: CancellationToken) {
        let mut failures = 0_u32;
        while let Err(error) = self.load().await {
            failures += 1;
            tracing::warn!(%error, "could not load the stored vectors; trying again");
            if !pause(&stop, backoff(self.interval, failures)).await {
                return;
            }
        }
        tracing::info!(
            model = self.index.model(),
            vectors = self.index.len(),
            "vector index loaded"
        );
        failures = 0;
        loop {
            let wait = tokio::select! {
                () = stop.cancelled() => return,
                step = self.step() => match step {
                    Ok(0) => { failures = 0; self.interval }
                    Ok(_) => { failures = 0; Duration::ZERO }
                    Err(error) => {
                        failures += 1;
                        tracing::warn!(%error, failures, "embedding messages failed; waiting before trying again");
                        backoff(self.interval, failures)
                    }
                },
            };
            if !pause(&stop, wait).await {
                return;
            }
        }
    }

    /// Reads every stored vector of the model into the index; returns how many.
    pub(crate) async fn load(&mut self) -> Result<usize, MemoryError> {
        let model = self.index.model().to_owned();
        let mut after = MessageId(0);
        let mut loaded = 0;
        loop {
            let page = self
                .store
                .embeddings_after(&model, after, LOAD_PAGE)
                .await?;
            let Some(last) = page.last() else {
                self.index.shrink_to_fit();
                return Ok(loaded);
            };
            after = last.id;
            for stored in &page {
                self.index
                    .insert(stored.id, stored.conversation, &stored.vector);
            }
            loaded += page.len();
        }
    }

    /// Embeds one batch of waiting messages; returns how many (0 when none wait).
    pub(crate) async fn step(&mut self) -> Result<usize, EngineError> {
        let model = self.index.model().to_owned();
        let pending = self
            .store
            .pending_embeddings(&model, self.watermark, self.batch)
            .await?;
        let Some(last) = pending.last().map(|m| m.id) else {
            self.idle += 1;
            if self.idle >= FULL_SWEEP_EVERY {
                self.idle = 0;
                self.watermark = MessageId(0);
            }
            return Ok(0);
        };
        let inputs: Vec<String> = pending.iter().map(|m| clip(&m.content)).collect();
        let vectors = self.pool.embed(&model, &inputs).await?;
        if vectors.len() != pending.len() {
            return Err(EngineError::Invalid {
                detail: format!(
                    "{model} returned {} vectors for {} texts",
                    vectors.len(),
                    pending.len()
                ),
            });
        }
        self.save(&model, &pending, vectors).await?;
        self.watermark = last;
        Ok(pending.len())
    }

    /// Stores the vectors, then adds those stored to the index.
    async fn save(
        &self,
        model: &str,
        pending: &[PendingMessage],
        vectors: Vec<Vec<f32>>,
    ) -> Result<(), EngineError> {
        let pairs: Vec<(MessageId, Vec<f32>)> = pending.iter().map(|m| m.id).zip(vectors).collect();
        let stored = self.store.save_embeddings(model, &pairs).await?;
        // A message deleted or forgotten meanwhile was not stored: it stays out of the index.
        for (message, (_, vector)) in pending.iter().zip(&pairs) {
            if stored.contains(&message.id) {
                self.index.insert(message.id, message.conversation, vector);
            }
        }
        Ok(())
    }
}

/// The wait after `failures` failures in a row: the interval doubled each time, at most
/// [`MAX_BACKOFF`] (and at least a tenth of a second).
pub(crate) fn backoff(interval: Duration, failures: u32) -> Duration {
    let base = interval.max(Duration::from_millis(100));
    base.saturating_mul(1 << failures.min(16)).min(MAX_BACKOFF)
}

/// Sleeps for `wait`; false if `stop` was cancelled first.
async fn pause(stop: &CancellationToken, wait: Duration) -> bool {
    if wait.is_zero() {
        return !stop.is_cancelled();
    }
    tokio::select! {
        () = stop.cancelled() => false,
        () = tokio::time::sleep(wait) => true,
    }
}

/// The start of `text`, at most [`EMBED_CHARS`] characters.
fn clip(text: &str) -> String {
    match text.char_indices().nth(EMBED_CHARS) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_ceiling() {
        let second = Duration::from_secs(1);
        assert_eq!(backoff(second, 1), Duration::from_secs(2));
        assert_eq!(backoff(second, 2), Duration::from_secs(4));
        assert_eq!(backoff(second, 30), MAX_BACKOFF);
        assert_eq!(backoff(Duration::ZERO, 1), Duration::from_millis(200));
    }

    #[test]
    fn long_texts_are_clipped_on_a_character_boundary() {
        let long = "é".repeat(EMBED_CHARS + 10);
        assert_eq!(clip(&long).chars().count(), EMBED_CHARS);
        assert_eq!(clip("short"), "short");
    }
}
