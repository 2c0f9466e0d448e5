//! The streaming edit throttle: one Discord message edited as an answer grows.
//!
//! Owns when a message is edited. Each streamed message gets an [`EditThrottle`] that holds only
//! the latest content (never a queue of stale edits): at most one edit goes out per
//! [`ThrottleConfig::interval`], each carrying whatever is newest when it leaves, at most one is
//! in flight, and [`EditThrottle::finish`] always delivers the final content (as soon as the rate
//! limits allow; it does not wait out the interval). All throttles share one [`EditBudget`]: a
//! bot-wide number of edits per second, plus back-offs that follow Discord's rate-limit feedback —
//! when a response says a channel's bucket is empty (`remaining = 0`) or a request was refused
//! with a 429, edits in that channel (or everywhere, for a global limit) wait until the reset.
//!
//! twilight-http 0.18 retries a 429 itself after its own rate limiter's wait, so through twilight
//! the useful feedback is the `x-ratelimit-*` headers of successful responses
//! ([`RateLimitFeedback::from_headers`]); holding an edit back here, instead of in twilight's
//! queue, is what keeps the content fresh.
//!
//! Why one long file: the edit throttle and the rate-limit feedback it reads change together;
//! about 350 of its lines are its tests (paused-clock timing of edits, 429s, bucket waits).

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use twilight_model::id::Id;

use crate::pacer::{Pacer, Route};

/// The longest wait a rate-limit header is believed for.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);
/// How often one message may be edited while an answer streams.
pub const DEFAULT_EDIT_INTERVAL: Duration = Duration::from_millis(1500);

/// Edits per second across the whole bot: below Discord's global limit of 50 requests per
/// second, leaving room for new messages and interaction responses.
pub const DEFAULT_EDITS_PER_SECOND: NonZeroU32 = NonZeroU32::new(25).expect("non-zero");

/// How many times the final edit is tried when Discord refuses it for rate limits.
pub const FINAL_EDIT_ATTEMPTS: u32 = 5;

/// The response header naming a rate limit's scope (`user`, `global` or `shared`).
pub const HEADER_SCOPE: &str = "x-ratelimit-scope";
/// The response header with the requests left in the bucket.
pub const HEADER_REMAINING: &str = "x-ratelimit-remaining";
/// The response header with the seconds until the bucket resets.
pub const HEADER_RESET_AFTER: &str = "x-ratelimit-reset-after";
/// The response header with the seconds to wait after a 429.
pub const HEADER_RETRY_AFTER: &str = "retry-after";

/// How a streamed message is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// The least time between two edits of the message (the final edit excepted).
    pub interval: Duration,
    /// How often the final edit is tried when refused for rate limits.
    pub final_attempts: u32,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            interval: DEFAULT_EDIT_INTERVAL,
            final_attempts: FINAL_EDIT_ATTEMPTS,
        }
    }
}

/// What Discord said about its rate limits in answer to an edit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateLimitFeedback {
    /// The route's bucket (shared by edits in one channel): `remaining` requests are left
    /// until it resets after `reset_after`.
    Bucket {
        /// Requests left in the bucket.
        remaining: u32,
        /// Time until the bucket refills.
        reset_after: Duration,
    },
    /// A 429: wait `retry_after`; `global` when the whole bot is limited, not one route.
    Limited {
        /// Time to wait before trying again.
        retry_after: Duration,
        /// Whether the limit covers every request of the bot.
        global: bool,
    },
}

impl RateLimitFeedback {
    /// Reads Discord's rate-limit headers, as `twilight_http::Response::headers()` yields them.
    /// Returns `None` when the response carries none.
    pub fn from_headers<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Option<Self> {
        let mut read = HeaderValues::default();
        for (name, value) in headers {
            read.take(name, value);
        }
        if let Some(retry_after) = read.retry_after {
            return Some(Self::Limited {
                retry_after,
                global: read.global,
            });
        }
        Some(Self::Bucket {
            remaining: read.remaining?,
            reset_after: read.reset_after?,
        })
    }

    /// Reads a 429 out of a twilight error (other errors give `None`).
    pub fn from_error(error: &twilight_http::Error) -> Option<Self> {
        match error.kind() {
            twilight_http::error::ErrorType::Response {
                error: twilight_http::api_error::ApiError::Ratelimited(limited),
                ..
            } => Some(Self::Limited {
                retry_after: Duration::try_from_secs_f64(limited.retry_after)
                    .unwrap_or(Duration::from_secs(1)),
                global: limited.global,
            }),
            _ => None,
        }
    }
}

/// The rate-limit headers of one response, as far as they could be read.
#[derive(Default)]
struct HeaderValues {
    remaining: Option<u32>,
    reset_after: Option<Duration>,
    retry_after: Option<Duration>,
    global: bool,
}

impl HeaderValues {
    /// Takes in one header (any other header is ignored; an unreadable value counts as absent).
    fn take(&mut self, name: &str, value: &[u8]) {
        let value = std::str::from_utf8(value).ok().map(str::trim);
        match name.to_ascii_lowercase().as_str() {
            HEADER_REMAINING => self.remaining = value.and_then(|v| v.parse::<u32>().ok()),
            HEADER_RESET_AFTER => self.reset_after = value.and_then(header_seconds),
            HEADER_RETRY_AFTER => self.retry_after = value.and_then(header_seconds),
            HEADER_SCOPE => self.global = value == Some("global"),
            _ => {}
        }
    }
}

/// What became of one edit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EditOutcome {
    /// Discord took it; the feedback, if any, says how much of the bucket is left.
    Applied(Option<RateLimitFeedback>),
    /// Discord refused it for rate limits; the newest content is tried again after the wait.
    RateLimited(RateLimitFeedback),
    /// It failed for another reason (the caller logs why); this content is not tried again.
    Failed,
}

impl EditOutcome {
    /// Classifies the result of a twilight-http request.
    pub fn from_twilight<T>(
        result: &Result<twilight_http::Response<T>, twilight_http::Error>,
    ) -> Self {
        match result {
            Ok(response) => Self::Applied(RateLimitFeedback::from_headers(response.headers())),
            Err(error) => {
                RateLimitFeedback::from_error(error).map_or(Self::Failed, Self::RateLimited)
            }
        }
    }
}

/// The bot-wide budget of edits, shared (cheaply cloned) by every [`EditThrottle`].
///
/// With a [`Pacer`] ([`with_pacer`](Self::with_pacer)) it also holds an edit until the channel's
/// bucket has room (so the edit carries the newest text when it leaves, instead of waiting in
/// the pacer), and widens the edit interval while the global budget is under pressure.
#[derive(Debug, Clone)]
pub struct EditBudget {
    inner: Arc<Mutex<BudgetState>>,
    per_second: f64,
    pacer: Option<Pacer>,
}

#[derive(Debug)]
struct BudgetState {
    /// Edits that may go out right now (at most `per_second`).
    tokens: f64,
    /// When `tokens` was last brought up to date.
    refilled: Instant,
    /// No edit anywhere before this (a global limit).
    global_until: Option<Instant>,
    /// No edit in these channels before the instant (their bucket is empty).
    channels: HashMap<u64, Instant>,
}

impl Default for EditBudget {
    fn default() -> Self {
        Self::new(DEFAULT_EDITS_PER_SECOND)
    }
}

impl EditBudget {
    /// A budget of `per_second` edits across the bot (and as many at once).
    pub fn new(per_second: NonZeroU32) -> Self {
        let per_second = f64::from(per_second.get());
        Self {
            inner: Arc::new(Mutex::new(BudgetState {
                tokens: per_second,
                refilled: Instant::now(),
                global_until: None,
                channels: HashMap::new(),
            })),
            per_second,
            pacer: None,
        }
    }

    /// The same budget, also following `pacer`: its buckets and the pressure on its global
    /// budget.
    #[must_use]
    pub fn with_pacer(mut self, pacer: Pacer) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// How much longer than configured the interval between two edits is now: 1 while the
    /// global budget has room, up to [`MAX_STRETCH`](crate::pacer::MAX_STRETCH) when it is
    /// full and requests wait (fewer, larger edits leave room for answers to be posted).
    pub fn stretch(&self) -> f64 {
        self.pacer
            .as_ref()
            .map_or(1.0, |pacer| crate::pacer::stretch(pacer.pressure()))
    }

    /// Takes Discord's feedback on an edit in `channel` into account.
    pub fn observe(&self, channel: u64, feedback: RateLimitFeedback) {
        let now = Instant::now();
        let mut state = self.lock();
        state.channels.retain(|_, until| *until > now);
        match feedback {
            RateLimitFeedback::Bucket {
                remaining: 0,
                reset_after,
            } => block(
                state.channels.entry(channel).or_insert(now),
                now + reset_after,
            ),
            RateLimitFeedback::Bucket { .. } => {}
            RateLimitFeedback::Limited {
                retry_after,
                global: true,
            } => block(state.global_until.get_or_insert(now), now + retry_after),
            RateLimitFeedback::Limited {
                retry_after,
                global: false,
            } => block(
                state.channels.entry(channel).or_insert(now),
                now + retry_after,
            ),
        }
    }

    /// When an edit in `channel` may go out at the earliest, by Discord's feedback alone.
    pub fn ready_at(&self, channel: u64) -> Instant {
        let state = self.lock();
        let now = Instant::now();
        [
            state.global_until,
            state.channels.get(&channel).copied(),
            self.bucket_ready_at(channel),
        ]
        .into_iter()
        .flatten()
        .fold(now, Instant::max)
    }

    /// When the pacer's bucket for edits in `channel` has room, if it is known to be empty.
    fn bucket_ready_at(&self, channel: u64) -> Option<Instant> {
        let channel = Id::new_checked(channel)?;
        self.pacer
            .as_ref()?
            .blocked_until(&Route::update_message(channel))
    }

    /// Waits until an edit in `channel` may go out, and counts it against the budget.
    pub async fn acquire(&self, channel: u64) {
        loop {
            let wait_until = {
                let mut state = self.lock();
                let now = Instant::now();
                let blocked = [
                    state.global_until,
                    state.channels.get(&channel).copied(),
                    self.bucket_ready_at(channel),
                ]
                .into_iter()
                .flatten()
                .filter(|until| *until > now)
                .max();
                if let Some(until) = blocked {
                    until
                } else {
                    let elapsed = now.duration_since(state.refilled).as_secs_f64();
                    state.tokens = (state.tokens + elapsed * self.per_second).min(self.per_second);
                    state.refilled = now;
                    if state.tokens >= 1.0 {
                        state.tokens -= 1.0;
                        return;
                    }
                    now + Duration::from_secs_f64((1.0 - state.tokens) / self.per_second)
                }
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        // The state stays consistent even if a holder panicked: every write is one assignment.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Moves a "not before" instant later (never earlier).
fn block(until: &mut Instant, new: Instant) {
    *until = (*until).max(new);
}

/// What a finished throttle did, for logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThrottleReport {
    /// Edits Discord took.
    pub edits: u32,
    /// Edits refused for rate limits (and tried again with newer content).
    pub rate_limited: u32,
    /// Edits that failed otherwise.
    pub failed: u32,
    /// Whether the message ends up showing the final content.
    pub final_delivered: bool,
}

/// The latest content, and whether it is the last.
#[derive(Debug, Clone)]
struct Latest<T> {
    content: Option<T>,
    last: bool,
}

/// Edits one message as its content changes; see the [module docs](self).
///
/// Dropping it without [`finish`](Self::finish) still delivers the latest content as the final
/// edit, in the background.
#[derive(Debug)]
pub struct EditThrottle<T> {
    latest: watch::Sender<Latest<T>>,
    task: JoinHandle<ThrottleReport>,
}

impl<T> EditThrottle<T>
where
    T: Clone + PartialEq + Send + Sync + 'static,
{
    /// Starts editing a message in `channel` that already shows `shown` (what it was created
    /// with), by calling `edit` with each content to show.
    pub fn spawn<F, Fut>(
        channel: u64,
        shown: T,
        config: ThrottleConfig,
        budget: EditBudget,
        edit: F,
    ) -> Self
    where
        F: FnMut(T) -> Fut + Send + 'static,
        Fut: Future<Output = EditOutcome> + Send + 'static,
    {
        let (latest, updates) = watch::channel(Latest {
            content: None,
            last: false,
        });
        let editor = Editor {
            channel,
            config,
            budget,
            shown,
            last_edit: Instant::now(),
            report: ThrottleReport::default(),
        };
        let task = tokio::spawn(editor.run(updates, edit));
        Self { latest, task }
    }

    /// Replaces the content to show; the next edit carries it (or anything newer).
    pub fn update(&self, content: T) {
        self.latest.send_replace(Latest {
            content: Some(content),
            last: false,
        });
    }

    /// Sets the final content and waits until it is shown (or the final edit gave up).
    pub async fn finish(self, content: T) -> ThrottleReport {
        self.latest.send_replace(Latest {
            content: Some(content),
            last: true,
        });
        drop(self.latest);
        self.task.await.unwrap_or_else(|error| {
            tracing::error!(%error, "the edit throttle task failed");
            ThrottleReport::default()
        })
    }
}

/// The task behind an [`EditThrottle`].
struct Editor<T> {
    channel: u64,
    config: ThrottleConfig,
    budget: EditBudget,
    /// What the message shows now.
    shown: T,
    /// When the last edit went out (or the message was created).
    last_edit: Instant,
    report: ThrottleReport,
}

/// What the editor does next.
enum Next<T> {
    /// Stop: the final content is shown, or the final edit gave up.
    Finished,
    /// Look at the content again (it changed, or a wait ended).
    Again,
    /// Send this content; `last` when it is the final one.
    Edit { content: T, last: bool },
}

impl<T: Clone + PartialEq> Editor<T> {
    async fn run<F, Fut>(
        mut self,
        mut updates: watch::Receiver<Latest<T>>,
        mut edit: F,
    ) -> ThrottleReport
    where
        F: FnMut(T) -> Fut,
        Fut: Future<Output = EditOutcome>,
    {
        let mut closed = false;
        let mut final_attempts = 0;
        loop {
            let (content, last) = match self.next(&mut updates, &mut closed, final_attempts).await {
                Next::Finished => return self.report,
                Next::Again => continue,
                Next::Edit { content, last } => (content, last),
            };
            final_attempts += u32::from(last);
            let outcome = edit(content.clone()).await;
            self.last_edit = Instant::now();
            if !self.record(content, outcome, last) {
                return self.report;
            }
        }
    }

    /// Waits for what to do next: nothing new to show, the edit interval not yet over, the
    /// channel's or the bot's budget empty.
    async fn next(
        &mut self,
        updates: &mut watch::Receiver<Latest<T>>,
        closed: &mut bool,
        final_attempts: u32,
    ) -> Next<T> {
        let (pending, last) = self.newest(updates, *closed);
        if pending.is_none() {
            if last {
                self.report.final_delivered = true;
                return Next::Finished;
            }
            *closed |= updates.changed().await.is_err();
            return Next::Again;
        }
        if !last {
            if self.waited_for_interval(updates, closed).await {
                return Next::Again;
            }
        } else if final_attempts == self.config.final_attempts.max(1) {
            return Next::Finished;
        }
        self.budget.acquire(self.channel).await;
        // Whatever is newest now is what goes out.
        let (pending, last) = self.newest(updates, *closed);
        pending.map_or(Next::Again, |content| Next::Edit { content, last })
    }

    /// The newest content if the message does not show it yet, and whether it is the last.
    fn newest(&self, updates: &mut watch::Receiver<Latest<T>>, closed: bool) -> (Option<T>, bool) {
        let latest = updates.borrow_and_update().clone();
        let pending = latest.content.filter(|content| *content != self.shown);
        (pending, latest.last || closed)
    }

    /// Waits until the edit interval (stretched under global pressure) is over, or the content
    /// changes; `false` when it was already over.
    async fn waited_for_interval(
        &self,
        updates: &mut watch::Receiver<Latest<T>>,
        closed: &mut bool,
    ) -> bool {
        let due = self.last_edit + self.config.interval.mul_f64(self.budget.stretch());
        if due <= Instant::now() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            changed = updates.changed() => *closed |= changed.is_err(),
        }
        true
    }

    /// Counts an edit's outcome and follows Discord's feedback; `false` when the editor stops
    /// (a final edit failed for good).
    fn record(&mut self, content: T, outcome: EditOutcome, last: bool) -> bool {
        match outcome {
            EditOutcome::Applied(feedback) => {
                self.report.edits += 1;
                self.shown = content;
                if let Some(feedback) = feedback {
                    self.budget.observe(self.channel, feedback);
                }
            }
            EditOutcome::RateLimited(feedback) => {
                self.report.rate_limited += 1;
                self.budget.observe(self.channel, feedback);
            }
            EditOutcome::Failed if last => {
                self.report.failed += 1;
                return false;
            }
            EditOutcome::Failed => {
                self.report.failed += 1;
                self.shown = content;
            }
        }
        true
    }
}

/// A rate-limit header's seconds: finite and not negative, and capped at [`MAX_WAIT`] (a wait
/// longer than an hour is a broken header, not a rate limit).
pub(crate) fn header_seconds(text: &str) -> Option<Duration> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::try_from_secs_f64(s).map_or(MAX_WAIT, |d| d.min(MAX_WAIT)))
}

#[cfg(test)]
mod tests;
