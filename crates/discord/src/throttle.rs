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
mod tests {
    proptest::proptest! {
        /// Whatever a server puts in the rate-limit headers, reading them never panics and
        /// never asks for a wait longer than [`MAX_WAIT`].
        #[test]
        fn any_rate_limit_header_is_read_without_panic(
            remaining in "\\PC{0,24}",
            reset in "\\PC{0,24}|-1|NaN|inf|1e300|[0-9]{1,30}(\\.[0-9]{1,5})?",
            retry in "\\PC{0,24}|-1|NaN|inf|1e300|[0-9]{1,30}(\\.[0-9]{1,5})?",
        ) {
            let headers = [
                ("x-ratelimit-remaining", remaining.as_bytes()),
                ("x-ratelimit-reset-after", reset.as_bytes()),
                ("retry-after", retry.as_bytes()),
            ];
            match RateLimitFeedback::from_headers(headers) {
                Some(RateLimitFeedback::Limited { retry_after, .. }) => {
                    proptest::prop_assert!(retry_after <= MAX_WAIT);
                }
                Some(RateLimitFeedback::Bucket { reset_after, .. }) => {
                    proptest::prop_assert!(reset_after <= MAX_WAIT);
                }
                None => {}
            }
        }
    }

    use super::*;

    type Log = Arc<Mutex<Vec<(Duration, String)>>>;

    /// A real edit function that records what it was asked to show and when, answering with
    /// the outcomes given (then `Applied(None)`), each after `latency`.
    fn recorder(
        start: Instant,
        latency: Duration,
        outcomes: Vec<EditOutcome>,
    ) -> (
        Log,
        impl FnMut(String) -> std::pin::Pin<Box<dyn Future<Output = EditOutcome> + Send>>
        + Send
        + 'static,
    ) {
        let log: Log = Arc::default();
        let mut outcomes = outcomes.into_iter();
        let edit_log = log.clone();
        let edit = move |content: String| {
            let log = edit_log.clone();
            let outcome = outcomes.next().unwrap_or(EditOutcome::Applied(None));
            Box::pin(async move {
                log.lock().unwrap().push((start.elapsed(), content));
                tokio::time::sleep(latency).await;
                outcome
            }) as std::pin::Pin<Box<dyn Future<Output = EditOutcome> + Send>>
        };
        (log, edit)
    }

    fn edits(log: &Log) -> Vec<(Duration, String)> {
        log.lock().unwrap().clone()
    }

    /// Streams `tokens` one every `every`, recording when each text became current.
    async fn stream(
        throttle: &EditThrottle<String>,
        tokens: usize,
        every: Duration,
    ) -> Vec<(Duration, String)> {
        let start = Instant::now();
        let mut text = String::new();
        let mut history = Vec::new();
        for i in 0..tokens {
            text.push_str(&format!("t{i} "));
            throttle.update(text.clone());
            history.push((start.elapsed(), text.clone()));
            tokio::time::sleep(every).await;
        }
        history
    }

    #[tokio::test(start_paused = true)]
    async fn edits_are_spaced_and_carry_the_latest_text() {
        let start = Instant::now();
        let (log, edit) = recorder(start, Duration::from_millis(50), vec![]);
        let throttle = EditThrottle::spawn(
            1,
            String::new(),
            ThrottleConfig::default(),
            EditBudget::default(),
            edit,
        );
        let history = stream(&throttle, 100, Duration::from_millis(73)).await;
        let report = throttle.finish("the end".to_owned()).await;

        let edits = edits(&log);
        assert_eq!(edits.last().unwrap().1, "the end");
        assert!(report.final_delivered);
        assert_eq!(report.edits as usize, edits.len());
        // 7.3 s of streaming at one edit per 1.5 s (each edit taking 50 ms), plus the final.
        assert!((4..=6).contains(&edits.len()), "{} edits", edits.len());
        for pair in edits[..edits.len() - 1].windows(2) {
            assert!(pair[1].0 - pair[0].0 >= DEFAULT_EDIT_INTERVAL, "{pair:?}");
        }
        // Every streamed edit showed the newest text there was when it went out.
        for (at, text) in &edits[..edits.len() - 1] {
            let newest = history.iter().rev().find(|(t, _)| t <= at).unwrap();
            assert_eq!(&newest.1, text, "stale edit at {at:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_edit_does_not_queue_stale_ones() {
        let start = Instant::now();
        // Each edit takes 4 s, as if twilight held it in its queue.
        let (log, edit) = recorder(start, Duration::from_secs(4), vec![]);
        let throttle = EditThrottle::spawn(
            1,
            String::new(),
            ThrottleConfig::default(),
            EditBudget::default(),
            edit,
        );
        stream(&throttle, 100, Duration::from_millis(100)).await;
        throttle.finish("done".to_owned()).await;
        let edits = edits(&log);
        // At most one in flight: 10 s of streaming fits about three 4-second edits.
        assert!(edits.len() <= 4, "{edits:?}");
        for pair in edits.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= Duration::from_secs(4));
        }
        assert_eq!(edits.last().unwrap().1, "done");
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_bucket_holds_edits_until_it_resets() {
        let start = Instant::now();
        let empty = EditOutcome::Applied(Some(RateLimitFeedback::Bucket {
            remaining: 0,
            reset_after: Duration::from_secs(5),
        }));
        let (log, edit) = recorder(start, Duration::ZERO, vec![empty]);
        let budget = EditBudget::default();
        let throttle = EditThrottle::spawn(
            7,
            String::new(),
            ThrottleConfig::default(),
            budget.clone(),
            edit,
        );
        stream(&throttle, 30, Duration::from_millis(100)).await; // 3 s
        assert!(budget.ready_at(7) > Instant::now(), "channel 7 is held");
        assert_eq!(budget.ready_at(8), Instant::now(), "other channels are not");
        throttle.finish("end".to_owned()).await;
        let edits = edits(&log);
        assert_eq!(edits.len(), 2, "{edits:?}");
        assert!(
            edits[1].0 >= edits[0].0 + Duration::from_secs(5),
            "{edits:?}"
        );
        assert_eq!(edits[1].1, "end");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_edit_is_retried_with_newer_text_after_the_wait() {
        let start = Instant::now();
        let refused = EditOutcome::RateLimited(RateLimitFeedback::Limited {
            retry_after: Duration::from_secs(3),
            global: true,
        });
        let (log, edit) = recorder(start, Duration::ZERO, vec![refused]);
        let budget = EditBudget::default();
        let throttle = EditThrottle::spawn(
            1,
            String::new(),
            ThrottleConfig::default(),
            budget.clone(),
            edit,
        );
        throttle.update("first".to_owned());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            budget.ready_at(99) > Instant::now(),
            "a global limit holds every channel"
        );
        throttle.update("second".to_owned());
        tokio::time::sleep(Duration::from_secs(5)).await;
        let report = throttle.finish("second".to_owned()).await;
        let edits = edits(&log);
        assert_eq!(edits[0].1, "first");
        assert_eq!(edits[1].1, "second");
        assert!(edits[1].0 >= edits[0].0 + Duration::from_secs(3));
        assert_eq!(report.rate_limited, 1);
        assert_eq!(report.edits, 1);
        assert!(report.final_delivered);
    }

    #[tokio::test(start_paused = true)]
    async fn the_final_edit_is_not_held_by_the_interval_and_is_retried() {
        let start = Instant::now();
        let refused = EditOutcome::RateLimited(RateLimitFeedback::Limited {
            retry_after: Duration::from_secs(1),
            global: false,
        });
        let (log, edit) = recorder(
            start,
            Duration::ZERO,
            vec![EditOutcome::Applied(None), refused, refused],
        );
        let throttle = EditThrottle::spawn(
            1,
            String::new(),
            ThrottleConfig::default(),
            EditBudget::default(),
            edit,
        );
        throttle.update("a".to_owned());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let report = throttle.finish("final".to_owned()).await;
        let edits = edits(&log);
        let texts: Vec<&str> = edits.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["a", "final", "final", "final"]);
        assert_eq!(
            edits[1].0,
            Duration::from_secs(2),
            "the final edit went out at once"
        );
        assert!(
            edits[3].0 >= edits[1].0 + Duration::from_secs(2),
            "{edits:?}"
        );
        assert!(report.final_delivered);

        // A final edit that keeps failing gives up after the configured attempts.
        let refusals = vec![refused; 10];
        let (log, edit) = recorder(start, Duration::ZERO, refusals);
        let config = ThrottleConfig {
            final_attempts: 3,
            ..ThrottleConfig::default()
        };
        let throttle = EditThrottle::spawn(1, String::new(), config, EditBudget::default(), edit);
        let report = throttle.finish("never".to_owned()).await;
        assert_eq!(log.lock().unwrap().len(), 3);
        assert!(!report.final_delivered);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_new_means_no_edit_and_dropping_still_delivers() {
        let start = Instant::now();
        let (log, edit) = recorder(start, Duration::ZERO, vec![]);
        let throttle = EditThrottle::spawn(
            1,
            "shown".to_owned(),
            ThrottleConfig::default(),
            EditBudget::default(),
            edit,
        );
        throttle.update("shown".to_owned());
        let report = throttle.finish("shown".to_owned()).await;
        assert!(edits(&log).is_empty());
        assert!(report.final_delivered);

        let (log, edit) = recorder(start, Duration::ZERO, vec![]);
        let throttle = EditThrottle::spawn(
            1,
            String::new(),
            ThrottleConfig::default(),
            EditBudget::default(),
            edit,
        );
        throttle.update("partial".to_owned());
        drop(throttle);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(edits(&log).last().map(|(_, t)| t.as_str()), Some("partial"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_global_budget_spaces_edits_across_messages() {
        let start = Instant::now();
        let budget = EditBudget::new(NonZeroU32::new(2).unwrap());
        let mut logs = Vec::new();
        let mut throttles = Vec::new();
        for channel in 0..6 {
            let (log, edit) = recorder(start, Duration::ZERO, vec![]);
            logs.push(log);
            throttles.push(EditThrottle::spawn(
                channel,
                String::new(),
                ThrottleConfig::default(),
                budget.clone(),
                edit,
            ));
        }
        for throttle in &throttles {
            throttle.update("x".to_owned());
        }
        for throttle in throttles {
            throttle.finish("x".to_owned()).await;
        }
        let mut times: Vec<Duration> = logs.iter().flat_map(edits).map(|(t, _)| t).collect();
        times.sort();
        assert_eq!(times.len(), 6);
        // Two at once (the burst), then one every half second.
        assert!(times[1] < Duration::from_millis(10));
        assert!(times[5] >= Duration::from_secs(2), "{times:?}");
    }

    #[test]
    fn feedback_is_read_from_discord_headers() {
        let h = |pairs: &'static [(&'static str, &'static str)]| {
            RateLimitFeedback::from_headers(pairs.iter().map(|(k, v)| (*k, v.as_bytes())))
        };
        assert_eq!(
            h(&[
                ("x-ratelimit-limit", "5"),
                ("X-RateLimit-Remaining", "0"),
                ("x-ratelimit-reset-after", "1.250"),
                ("x-ratelimit-scope", "user")
            ]),
            Some(RateLimitFeedback::Bucket {
                remaining: 0,
                reset_after: Duration::from_millis(1250)
            })
        );
        assert_eq!(
            h(&[("retry-after", "2"), ("x-ratelimit-scope", "global")]),
            Some(RateLimitFeedback::Limited {
                retry_after: Duration::from_secs(2),
                global: true
            })
        );
        assert_eq!(h(&[("content-type", "application/json")]), None);
        assert_eq!(
            h(&[
                ("x-ratelimit-remaining", "x"),
                ("x-ratelimit-reset-after", "1")
            ]),
            None
        );
        assert_eq!(
            h(&[
                ("x-ratelimit-remaining", "1"),
                ("x-ratelimit-reset-after", "-1")
            ]),
            None
        );
    }
}
