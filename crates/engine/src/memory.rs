//! Long-term memory, the engine's side: its configuration, the vector index it holds, the
//! background indexer's start and stop, and the recall switch for front ends.

use std::sync::Arc;
use std::time::Duration;

use mcpcord_memory::vectors::VectorIndex;
use mcpcord_memory::{ConversationId, PreferenceLevel, Preferences, Scope, Summary, Topics};

use crate::engine::{Engine, EngineConfig};
use crate::error::EngineError;
use crate::indexer::Indexer;
use crate::summariser::Summariser;

/// How memory behaves (`[memory]` in the configuration, and `models.embedding`).
#[derive(Debug, Clone)]
pub struct MemoryConfig {
    /// Whether the model is offered the built-in tools `remember` and `forget`, facts may be
    /// added and they reach the system prompt (see `facts.rs`); when it is off, facts already
    /// stored can still be shown and forgotten.
    pub facts: bool,
    /// The embedding model; without one nothing is embedded and nothing recalled.
    pub embedding_model: Option<String>,
    /// Whether recall is on where nobody switched it (on when an embedding model is set).
    pub recall: bool,
    /// Most snippets recalled into one turn's context.
    pub recall_snippets: usize,
    /// Most tokens the recalled block may take (and never more than an eighth of the model's
    /// context window).
    pub recall_tokens: u32,
    /// Longest recall may delay a turn; past it the turn goes on without.
    pub recall_timeout: Duration,
    /// Vector hits less similar than this (cosine) are not recalled.
    pub min_similarity: f32,
    /// Age at which a recalled message counts half as much.
    pub recency_half_life: Duration,
    /// Whether an answer points at a related earlier conversation where nobody switched it
    /// (with an embedding model and summaries).
    pub related: bool,
    /// An earlier conversation is related when its newest summary is at least this similar
    /// (cosine) to the current conversation's.
    pub related_min_similarity: f32,
    /// Messages embedded per request by the background indexer.
    pub index_batch: usize,
    /// How often the indexer looks for new messages when it has caught up.
    pub index_interval: Duration,
    /// Whether conversations get rolling summaries, titles, categories and entities.
    pub summaries: bool,
    /// The model that writes them (`models.summary`); the conversation's model when unset.
    pub summary_model: Option<String>,
    /// The categories a conversation may be put in (the model picks one).
    pub categories: Vec<String>,
    /// Background model calls (summaries, titles) running at once.
    pub background_concurrency: usize,
    /// Most tokens background work may spend per guild (and for all DMs together) per UTC
    /// day; unlimited when `None`. Work over the cap waits for the next day.
    pub background_tokens_per_guild_per_day: Option<u64>,
    /// How often the background pass looks for work when it has caught up (a turn that needs
    /// a summary wakes it at once).
    pub background_interval: Duration,
}

/// The categories conversations are put in unless `memory.categories` says otherwise.
pub const DEFAULT_CATEGORIES: [&str; 8] = [
    "programming",
    "work",
    "learning",
    "writing",
    "hobbies",
    "health",
    "planning",
    "other",
];

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            embedding_model: None,
            facts: false,
            recall: true,
            recall_snippets: 3,
            recall_tokens: 600,
            recall_timeout: Duration::from_millis(750),
            min_similarity: 0.5,
            recency_half_life: Duration::from_secs(30 * 86_400),
            related: true,
            related_min_similarity: 0.8,
            index_batch: 64,
            index_interval: Duration::from_secs(2),
            summaries: true,
            summary_model: None,
            categories: DEFAULT_CATEGORIES.iter().map(|c| (*c).to_owned()).collect(),
            background_concurrency: 1,
            background_tokens_per_guild_per_day: Some(200_000),
            background_interval: Duration::from_secs(30),
        }
    }
}

/// The in-memory index for the configured embedding model, if there is one.
pub(crate) fn index_for(config: &EngineConfig) -> Option<Arc<VectorIndex>> {
    config
        .memory
        .embedding_model
        .as_ref()
        .map(|model| Arc::new(VectorIndex::new(model.clone())))
}

/// Whether recall is on: the person's choice, else the guild's, else the configuration's.
pub(crate) fn recall_on(preferences: &Preferences, config: &MemoryConfig) -> bool {
    config.embedding_model.is_some()
        && preferences
            .user
            .recall
            .or(preferences.guild.recall)
            .unwrap_or(config.recall)
}

impl Engine {
    /// Starts the background indexer, which loads the stored vectors into the in-process index
    /// and then embeds new messages in batches, until [`shutdown`](Engine::shutdown). Does
    /// nothing without an embedding model, or when it runs already. Returns whether it started.
    pub fn start_indexer(&self) -> bool {
        let Some(index) = self.inner.vectors.clone() else {
            return false;
        };
        let mut running = self.inner.indexer.lock().unwrap_or_else(|e| e.into_inner());
        if running.as_ref().is_some_and(|task| !task.is_finished()) {
            return false;
        }
        let indexer = Indexer::new(
            self.inner.store.clone(),
            self.inner.pool.clone(),
            index,
            &self.inner.config.load().memory,
        );
        let stop = self.inner.indexer_stop.clone();
        *running = Some(tokio::spawn(indexer.run(stop)));
        true
    }

    /// Stops the background indexer and waits for it (a batch being embedded is abandoned; it
    /// is embedded again at the next start).
    pub async fn stop_indexer(&self) {
        self.inner.indexer_stop.cancel();
        let task = self
            .inner
            .indexer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Starts the background summariser, which writes rolling summaries, titles, categories
    /// and entities until [`shutdown`](Engine::shutdown). Does nothing with `memory.summaries`
    /// off, or when it runs already. Returns whether it started.
    pub fn start_summariser(&self) -> bool {
        if !self.inner.config.load().memory.summaries {
            return false;
        }
        let mut running = self
            .inner
            .background
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if running.as_ref().is_some_and(|task| !task.is_finished()) {
            return false;
        }
        let summariser = Summariser::new(self.inner.clone());
        let stop = self.inner.background.stop.clone();
        *running = Some(tokio::spawn(summariser.run(stop)));
        true
    }

    /// Stops the background summariser and waits for it (a job under way is abandoned; it is
    /// found again at the next start).
    pub async fn stop_summariser(&self) {
        self.inner.background.stop.cancel();
        let task = self
            .inner
            .background
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Background model calls (summaries, titles) made since the engine started, and the
    /// tokens they cost: the background cost of memory, for status pages and measurements.
    pub fn background_spent(&self) -> (u64, u64) {
        self.inner.background.spent()
    }

    /// The conversation's newest summary, if it has one.
    pub async fn summary(
        &self,
        conversation: ConversationId,
    ) -> Result<Option<Summary>, EngineError> {
        Ok(self.inner.store.latest_summary(conversation).await?)
    }

    /// How many summaries are stored, and of how many conversations (`mcpcord memory stats`).
    pub async fn summary_counts(&self) -> Result<(u64, u64), EngineError> {
        Ok(self.inner.store.summary_counts().await?)
    }

    /// The conversation's title, category and entities.
    pub async fn topics(&self, conversation: ConversationId) -> Result<Topics, EngineError> {
        Ok(self.inner.store.topics(conversation).await?)
    }

    /// How many messages the in-process vector index holds (0 without an embedding model).
    pub fn indexed_vectors(&self) -> usize {
        self.inner.vectors.as_ref().map_or(0, |index| index.len())
    }

    /// Switches recall of earlier conversations at `level` (a person's or a guild's): `Some`
    /// on or off, `None` back to the next level's choice or the configuration's.
    pub async fn set_recall(
        &self,
        level: PreferenceLevel,
        on: Option<bool>,
    ) -> Result<(), EngineError> {
        person_or_server(&level, "recall is")?;
        self.inner
            .store
            .set_recall(level, on)
            .await
            .map_err(EngineError::from)
    }

    /// Whether recall is on for turns in `scope`.
    pub async fn recall_enabled(&self, scope: &Scope) -> Result<bool, EngineError> {
        let preferences = self.inner.store.get_preferences(scope).await?;
        Ok(recall_on(&preferences, &self.inner.config.load().memory))
    }
}

/// Refuses a channel's `level` for a setting switched per person or per server only;
/// `switched` names it with its verb ("recall is").
pub(crate) fn person_or_server(level: &PreferenceLevel, switched: &str) -> Result<(), EngineError> {
    if let PreferenceLevel::Channel(_) = level {
        return Err(EngineError::Invalid {
            detail: format!("{switched} switched for a person or a server, not a channel"),
        });
    }
    Ok(())
}
