//! The background pass: rolling summaries, titles, categories and entities, off every turn's
//! path.
//!
//! It walks the conversations with work ([`Store::background_jobs`]: a summary a turn asked
//! for that none covers yet, or an answer without a title) in id order, a page at a time, and
//! runs up to `memory.background_concurrency` of them at once. Each job is one request to the
//! summary model for a small JSON object ([`crate::digest`]) through the backend pool; its
//! tokens count against the guild's daily cap (`memory.background_tokens_per_guild_per_day`),
//! and a guild over the cap is skipped until the next UTC day. The work is found again from
//! stored rows, so after a restart it resumes where it stopped. A turn that needs a summary
//! wakes the pass; otherwise it looks again every `memory.background_interval`.
//!
//! Turns come first: a background call starts only while no turn runs or waits, and a turn
//! that starts meanwhile cancels it (the job is found again by a later sweep), so a backend
//! slot a turn needs is never held by background work. A bot that is never idle would then
//! never summarise: once the pass has given way for [`MAX_GIVING_WAY`], its next call runs
//! anyway, queued for the backend like a turn (one call at a time per
//! `background_concurrency`), and is not cancelled.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use mcpcord_llm::ChatRequest;
use mcpcord_memory::{
    BackgroundJob, ConversationId, MessageId, NewSummary, Role, Summary, SummarySource, UtcDay,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::digest;
use crate::engine::{EngineConfig, Inner};
use crate::error::EngineError;
use crate::indexer::backoff;

/// Conversations read per page of work.
const JOB_PAGE: usize = 32;
/// Messages a title is written from (the first exchange or so).
const TITLE_SOURCES: usize = 6;
/// Messages read for one summary (those that fit the summary model's context are used).
const SUMMARY_SOURCES: usize = 400;
/// Longest answer asked of the summary model, in tokens.
const ANSWER_TOKENS: u32 = 512;
/// Tokens kept for the instructions around the messages.
const PROMPT_TOKENS: usize = 200;
/// The title given when neither the model nor the first message yields one.
const UNTITLED: &str = "Untitled conversation";
/// The longest the pass gives way to turns before a call runs while they do.
pub(crate) const MAX_GIVING_WAY: Duration = Duration::from_secs(300);

/// The background pass's handle inside the engine: its task, its stop and wake signals, and
/// what it has spent since the engine started.
pub(crate) struct Background {
    /// The running pass, if started.
    pub(crate) task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Cancelled to stop the pass (at shutdown).
    pub(crate) stop: CancellationToken,
    /// Wakes the pass when a turn asked for a summary.
    wake: Notify,
    /// Tells background calls under way that a turn started: they give the backend way.
    turn_started: Notify,
    /// Model calls made.
    calls: AtomicU64,
    /// Tokens those calls cost.
    tokens: AtomicU64,
    /// Since when the pass has been giving way to turns without a call done (engine clock).
    giving_way_since: Mutex<Option<SystemTime>>,
}

impl Background {
    /// A pass not started yet, stopped by `stop`.
    pub(crate) fn new(stop: CancellationToken) -> Self {
        Self {
            task: Mutex::new(None),
            stop,
            wake: Notify::new(),
            turn_started: Notify::new(),
            calls: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            giving_way_since: Mutex::new(None),
        }
    }

    /// Notes that a call gave way to a turn at `now` (the first time since the last call).
    fn gave_way(&self, now: SystemTime) {
        self.giving_way_since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(now);
    }

    /// Whether the pass has given way long enough that its next call must run.
    fn waited_enough(&self, now: SystemTime) -> bool {
        let since = *self
            .giving_way_since
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        since.is_some_and(|since| now.duration_since(since).unwrap_or_default() >= MAX_GIVING_WAY)
    }

    /// Tells the pass there is new work.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Tells background calls under way that a turn started (they give way to it).
    pub(crate) fn turn_started(&self) {
        self.turn_started.notify_waiters();
    }

    /// Background model calls and their tokens since the engine started.
    pub(crate) fn spent(&self) -> (u64, u64) {
        (
            self.calls.load(Ordering::Relaxed),
            self.tokens.load(Ordering::Relaxed),
        )
    }

    fn count(&self, tokens: u64) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.tokens.fetch_add(tokens, Ordering::Relaxed);
        *self
            .giving_way_since
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// How a job ended.
enum Ran {
    /// Done.
    Done,
    /// Skipped: its guild spent the day's background tokens.
    Capped,
    /// Given up for a turn (one was running, or started): found again by a later sweep.
    Yielded,
}

/// The model that writes a job's digest: `models.summary`, else the conversation's, else the
/// default.
fn summary_model(config: &EngineConfig, job: &BackgroundJob) -> String {
    config
        .memory
        .summary_model
        .clone()
        .or_else(|| job.model.clone())
        .unwrap_or_else(|| config.default_model.clone())
}

/// What the summary model wrote for a job, and what it cost.
struct Written<'a> {
    model: &'a str,
    answer: &'a str,
    tokens: u64,
}

/// The pass's state; [`run`](Summariser::run) drives it.
pub(crate) struct Summariser {
    inner: Arc<Inner>,
    /// The last conversation reached in this sweep.
    watermark: ConversationId,
}

impl Summariser {
    /// A pass over the engine's store and pool.
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        Self {
            inner,
            watermark: ConversationId(0),
        }
    }

    /// Works until `stop` is cancelled.
    pub(crate) async fn run(mut self, stop: CancellationToken) {
        let mut failures = 0_u32;
        loop {
            let interval = self.inner.config.load().memory.background_interval;
            let wait = tokio::select! {
                () = stop.cancelled() => return,
                step = self.step() => match step {
                    Ok(0) => { failures = 0; interval }
                    Ok(_) => { failures = 0; Duration::ZERO }
                    Err(error) => {
                        failures += 1;
                        tracing::warn!(%error, failures, "background summaries failed; waiting before trying again");
                        backoff(interval, failures)
                    }
                },
            };
            if !self.pause(&stop, wait).await {
                return;
            }
        }
    }

    /// Sleeps for `wait`, or until a turn wakes the pass; false if `stop` was cancelled.
    async fn pause(&self, stop: &CancellationToken, wait: Duration) -> bool {
        if wait.is_zero() {
            return !stop.is_cancelled();
        }
        tokio::select! {
            () = stop.cancelled() => false,
            () = tokio::time::sleep(wait) => true,
            () = self.inner.background.wake.notified() => true,
        }
    }

    /// Runs one page of jobs; returns how many were looked at (0 when the sweep is over).
    pub(crate) async fn step(&mut self) -> Result<usize, EngineError> {
        let jobs = self
            .inner
            .store
            .background_jobs(self.watermark, JOB_PAGE)
            .await?;
        let Some(last) = jobs.last().map(|j| j.conversation) else {
            self.watermark = ConversationId(0);
            return Ok(0);
        };
        let config = self.inner.config.load_full();
        let count = jobs.len();
        let ran: Vec<Result<Ran, EngineError>> = futures::stream::iter(jobs)
            .map(|job| self.job(&config, job))
            .buffer_unordered(config.memory.background_concurrency.max(1))
            .collect()
            .await;
        let waiting =
            |kind: fn(&Ran) -> bool| ran.iter().filter(|r| r.as_ref().is_ok_and(kind)).count();
        let (capped, yielded) = (
            waiting(|r| matches!(r, Ran::Capped)),
            waiting(|r| matches!(r, Ran::Yielded)),
        );
        if capped + yielded > 0 {
            tracing::debug!(
                capped,
                yielded,
                "background work waits (daily token cap, or turns running)"
            );
        }
        if let Some(error) = ran.into_iter().find_map(Result::err) {
            return Err(error); // The page is read again after the wait.
        }
        self.watermark = last;
        Ok(count)
    }

    /// One conversation's summary and topics.
    async fn job(&self, config: &EngineConfig, job: BackgroundJob) -> Result<Ran, EngineError> {
        let day = UtcDay::of(self.inner.now());
        if self.over_cap(config, &job, day).await? {
            return Ok(Ran::Capped);
        }
        let model = summary_model(config, &job);
        let (previous, sources) = self.gather(config, &model, &job).await?;
        if sources.is_empty() {
            return self.nothing_said(&job, previous).await;
        }
        let messages = digest::prompt(
            previous.map(|s| s.text).as_deref(),
            &sources,
            job.summarise_through.is_some(),
            &config.memory.categories,
        );
        let Some((answer, tokens)) = self.ask(config, &model, messages).await? else {
            return Ok(Ran::Yielded);
        };
        self.inner
            .store
            .add_background_tokens(day, job.guild, tokens)
            .await?;
        self.inner.background.count(tokens);
        let written = Written {
            model: &model,
            answer: &answer,
            tokens,
        };
        self.file(config, &job, &sources, written).await?;
        Ok(Ran::Done)
    }

    /// The summary so far (for a summary job) and the messages the job reads.
    async fn gather(
        &self,
        config: &EngineConfig,
        model: &str,
        job: &BackgroundJob,
    ) -> Result<(Option<Summary>, Vec<SummarySource>), EngineError> {
        let previous = match job.summarise_through {
            Some(_) => self.inner.store.latest_summary(job.conversation).await?,
            None => None,
        };
        let sources = self.sources(config, model, job, previous.as_ref()).await?;
        Ok((previous, sources))
    }

    /// Stores what the model wrote: the summary (when one was asked for), the title (when
    /// the conversation has none), the category and the entities.
    async fn file(
        &self,
        config: &EngineConfig,
        job: &BackgroundJob,
        sources: &[SummarySource],
        written: Written<'_>,
    ) -> Result<(), EngineError> {
        let summarise = job.summarise_through.is_some();
        let first_question = sources
            .iter()
            .find(|s| s.role == Role::User && !job.titled)
            .map(|s| s.content.as_str());
        let found = digest::parse(
            written.answer,
            summarise,
            &config.memory.categories,
            first_question,
        );
        if let Some(last) = sources.last().filter(|_| summarise) {
            let text = found.summary.clone().ok_or_else(|| EngineError::Invalid {
                detail: format!(
                    "{} wrote no summary; it is asked again later",
                    written.model
                ),
            })?;
            self.save_summary(config, job.conversation, &written, last.id, text)
                .await?;
        }
        let title = (!job.titled).then(|| found.title.unwrap_or_else(|| UNTITLED.into()));
        self.inner
            .store
            .save_topics(
                job.conversation,
                title.as_deref(),
                found.category.as_deref(),
                &found.entities,
            )
            .await?;
        Ok(())
    }

    /// Whether the job's guild spent its background tokens for `day`.
    async fn over_cap(
        &self,
        config: &EngineConfig,
        job: &BackgroundJob,
        day: UtcDay,
    ) -> Result<bool, EngineError> {
        let Some(cap) = config.memory.background_tokens_per_guild_per_day else {
            return Ok(false);
        };
        Ok(self.inner.store.background_tokens(day, job.guild).await? >= cap)
    }

    /// The summary model's answer to `messages` and its tokens; `None` when it gave way to a
    /// turn. Turns come first: none may be running when the call starts, and one that starts
    /// meanwhile ends it (the backend's slot is theirs; the job is found again later), unless
    /// the pass has given way for [`MAX_GIVING_WAY`] already.
    async fn ask(
        &self,
        config: &EngineConfig,
        model: &str,
        messages: Vec<mcpcord_llm::Message>,
    ) -> Result<Option<(String, u64)>, EngineError> {
        let mut request = ChatRequest::new(model, messages);
        request.options.temperature = Some(0.2);
        request.options.max_tokens = Some(ANSWER_TOKENS);
        request.options.keep_alive = config.keep_alive;
        let chars: usize = request.messages.iter().map(|m| m.content.len()).sum();
        let background = &self.inner.background;
        let turn_started = background.turn_started.notified();
        let insist = background.waited_enough(self.inner.now());
        if !insist && self.inner.turns_active() {
            background.gave_way(self.inner.now());
            return Ok(None);
        }
        let response = if insist {
            self.inner.pool.complete(&request).await?
        } else {
            tokio::select! {
                response = self.inner.pool.complete(&request) => response?,
                () = turn_started => {
                    background.gave_way(self.inner.now());
                    return Ok(None);
                }
            }
        };
        let usage = &response.usage;
        let tokens = match (usage.prompt_tokens, usage.completion_tokens) {
            (Some(prompt), Some(answer)) => u64::from(prompt) + u64::from(answer),
            _ => {
                let estimator = &self.inner.estimator;
                (estimator.chars_tokens(model, chars) + estimator.tokens(model, &response.text))
                    as u64
            }
        };
        Ok(Some((response.text, tokens)))
    }

    /// The messages the job reads: after the previous summary, as many as fit the summary
    /// model's context (the rest are summarised by the next pass).
    async fn sources(
        &self,
        config: &EngineConfig,
        model: &str,
        job: &BackgroundJob,
        previous: Option<&Summary>,
    ) -> Result<Vec<SummarySource>, EngineError> {
        let (after, limit) = match job.summarise_through {
            Some(_) => (
                previous.map_or(MessageId(0), |s| s.through),
                SUMMARY_SOURCES,
            ),
            None => (MessageId(0), TITLE_SOURCES),
        };
        let mut sources = self
            .inner
            .store
            .summary_sources(job.conversation, after, job.summarise_through, limit)
            .await?;
        let length = self
            .inner
            .pool
            .model_info(model)
            .await
            .ok()
            .and_then(|info| info.context_length)
            .unwrap_or(config.fallback_context_length)
            .min(config.max_context) as usize;
        let estimator = &self.inner.estimator;
        let mut room = length
            .saturating_sub(ANSWER_TOKENS as usize + PROMPT_TOKENS)
            .saturating_sub(previous.map_or(0, |s| estimator.tokens(model, &s.text)));
        let mut fits = 0;
        for source in &sources {
            let cost = estimator.tokens(model, &digest::source_line(source)) + 4;
            if cost > room && fits > 0 {
                break;
            }
            room = room.saturating_sub(cost);
            fits += 1;
        }
        sources.truncate(fits);
        Ok(sources)
    }

    /// Stores a new summary version, with its vector when an embedding model is configured.
    async fn save_summary(
        &self,
        config: &EngineConfig,
        conversation: ConversationId,
        written: &Written<'_>,
        through: MessageId,
        text: String,
    ) -> Result<(), EngineError> {
        let vector = match &config.memory.embedding_model {
            Some(embedding) => match self
                .inner
                .pool
                .embed(embedding, std::slice::from_ref(&text))
                .await
            {
                Ok(mut vectors) if !vectors.is_empty() => {
                    Some((embedding.clone(), vectors.swap_remove(0)))
                }
                Ok(_) => None,
                Err(error) => {
                    tracing::warn!(error = %error.detail(), "could not embed a summary; stored without its vector");
                    None
                }
            },
            None => None,
        };
        let summary = NewSummary {
            through,
            text,
            model: written.model.to_owned(),
            tokens: written.tokens,
            vector,
        };
        self.inner.store.save_summary(conversation, summary).await?;
        Ok(())
    }

    /// A job with no message to read (only tool results since the last summary): the marker is
    /// answered with the summary as it was, and a conversation without a title gets one.
    async fn nothing_said(
        &self,
        job: &BackgroundJob,
        previous: Option<Summary>,
    ) -> Result<Ran, EngineError> {
        let store = &self.inner.store;
        if let Some(through) = job.summarise_through {
            // An empty summary answers the marker; the context leaves it out.
            let summary = match previous {
                Some(previous) => NewSummary {
                    through,
                    text: previous.text,
                    model: previous.model,
                    tokens: 0,
                    vector: previous.vector,
                },
                None => NewSummary {
                    through,
                    text: String::new(),
                    model: String::new(),
                    tokens: 0,
                    vector: None,
                },
            };
            store.save_summary(job.conversation, summary).await?;
        }
        if !job.titled {
            store
                .save_topics(job.conversation, Some(UNTITLED), None, &[])
                .await?;
        }
        Ok(Ran::Done)
    }
}
