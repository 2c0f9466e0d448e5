//! The request pacer: every REST request the bot makes on its own (not interaction callbacks)
//! passes here before twilight-http sends it, so that Discord never has to refuse one.
//!
//! Two limits are kept, both across every shard of the process:
//!
//! - **The global limit** ([`GlobalWindow`]): at most `limit` requests in *any* rolling window
//!   of [`GLOBAL_WINDOW`]. A token bucket of `limit` per second with a burst of `limit` (GCRA,
//!   twilight's fixed windows) lets close to twice the limit through in one rolling second at a
//!   window boundary; counting each request in a log until a window after its answer came back
//!   does not, whatever the network delays. Waiters are served in order. Interaction endpoints
//!   are exempt, as on Discord.
//! - **Buckets by Discord's bucket id**: a response's `X-RateLimit-Bucket` tells which routes
//!   share a budget (creating and editing messages in a channel do); requests are grouped by
//!   bucket id and major parameter (the channel), one in flight per bucket, and none is sent into
//!   a bucket whose last answer said `remaining = 0` until it resets. Until a route's bucket is
//!   known, its requests go one at a time across the bot.
//!
//! twilight-http's own rate limiter stays behind this one (it retries a 429 should one still
//! come), with its global limit lifted: its fixed windows would only add waits.

use std::collections::{HashMap, VecDeque};
use std::future::IntoFuture;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;
use twilight_model::id::Id;
use twilight_model::id::marker::ChannelMarker;

/// Discord's global limit for most bots: requests per second.
pub const DEFAULT_GLOBAL_RATE_LIMIT: NonZeroU32 = NonZeroU32::new(50).expect("non-zero");

/// The window Discord's global limit counts in.
pub const GLOBAL_WINDOW: Duration = Duration::from_secs(1);

/// Added to [`GLOBAL_WINDOW`]: Discord's clock and ours may tick differently.
pub const GLOBAL_MARGIN: Duration = Duration::from_millis(5);

/// Added to a bucket's reset: Discord rounds `reset-after` to the millisecond.
pub const BUCKET_MARGIN: Duration = Duration::from_millis(20);

/// The most a wait chosen for granularity (the first post's window, the edit interval) is
/// widened under pressure on the global budget.
pub const MAX_STRETCH: f64 = 4.0;

/// How much to widen a wait chosen for granularity at `pressure` ([`Pacer::pressure`]): not at
/// all up to half the budget, twice at a full one, up to [`MAX_STRETCH`] with a queue.
pub fn stretch(pressure: f64) -> f64 {
    if !pressure.is_finite() {
        return MAX_STRETCH;
    }
    (1.0 + 2.0 * (pressure - 0.5)).clamp(1.0, MAX_STRETCH)
}

/// The response header naming a route's bucket.
pub const HEADER_BUCKET: &str = "x-ratelimit-bucket";

/// Buckets remembered before idle ones are forgotten.
const PRUNE_ABOVE: usize = 1024;

/// A request, as the pacer sorts it: its route and major parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    /// Method and path template, e.g. `"POST /channels/{}/messages"`.
    kind: &'static str,
    /// The major parameter (a channel id), or 0.
    major: u64,
    /// Interaction endpoints are not counted by the global limit.
    exempt: bool,
}

impl Route {
    /// A route of `kind` (method and path template) under major parameter `major`.
    pub const fn new(kind: &'static str, major: u64) -> Self {
        Self {
            kind,
            major,
            exempt: false,
        }
    }

    /// An interaction endpoint (callback or followup): bucketed, but not globally limited.
    pub const fn interaction(kind: &'static str, major: u64) -> Self {
        Self {
            kind,
            major,
            exempt: true,
        }
    }

    /// `POST /channels/{channel}/messages`.
    pub fn create_message(channel: Id<ChannelMarker>) -> Self {
        Self::new("POST /channels/{}/messages", channel.get())
    }

    /// `PATCH /channels/{channel}/messages/{message}`.
    pub fn update_message(channel: Id<ChannelMarker>) -> Self {
        Self::new("PATCH /channels/{}/messages/{}", channel.get())
    }

    /// `POST /channels/{channel}/typing`.
    pub fn typing(channel: Id<ChannelMarker>) -> Self {
        Self::new("POST /channels/{}/typing", channel.get())
    }

    /// `GET /channels/{channel}`.
    pub fn get_channel(channel: Id<ChannelMarker>) -> Self {
        Self::new("GET /channels/{}", channel.get())
    }

    /// `PUT /channels/{channel}/messages/{message}/reactions/{emoji}/@me`.
    pub fn create_reaction(channel: Id<ChannelMarker>) -> Self {
        Self::new(
            "PUT /channels/{}/messages/{}/reactions/{}/@me",
            channel.get(),
        )
    }

    /// `POST /channels/{channel}/threads`.
    pub fn create_thread(channel: Id<ChannelMarker>) -> Self {
        Self::new("POST /channels/{}/threads", channel.get())
    }
}

/// Which budget a request spends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum BucketKey {
    /// The route's bucket is not known yet: one request of the route at a time, bot-wide.
    Unlearned(&'static str),
    /// Discord's bucket id and the major parameter.
    Bucket(Arc<str>, u64),
    /// The route answers without a bucket: one at a time per route and major parameter.
    Route(&'static str, u64),
}

/// What is known of one bucket.
#[derive(Debug, Default)]
struct BucketState {
    /// Requests left, as of the last answer (minus those sent since).
    remaining: Option<u32>,
    /// When the bucket refills.
    reset_at: Option<Instant>,
}

impl BucketState {
    /// Until when nothing may be sent into the bucket, if it is known to be empty.
    fn blocked_until(&self, now: Instant) -> Option<Instant> {
        match (self.remaining, self.reset_at) {
            (Some(0), Some(reset)) if reset > now => Some(reset),
            _ => None,
        }
    }
}

/// One bucket: a turn (one request in flight) and its state.
#[derive(Debug, Default)]
struct Bucket {
    turn: Arc<tokio::sync::Mutex<()>>,
    state: Mutex<BucketState>,
}

#[derive(Debug, Default)]
struct Buckets {
    /// Each route's bucket id, once an answer named it (`None`: the route has no bucket).
    learned: HashMap<&'static str, Option<Arc<str>>>,
    buckets: HashMap<BucketKey, Arc<Bucket>>,
}

impl Buckets {
    fn key(&self, route: &Route) -> BucketKey {
        match self.learned.get(route.kind) {
            None => BucketKey::Unlearned(route.kind),
            Some(Some(bucket)) => BucketKey::Bucket(bucket.clone(), route.major),
            Some(None) => BucketKey::Route(route.kind, route.major),
        }
    }

    fn bucket(&mut self, key: &BucketKey) -> Arc<Bucket> {
        if !self.buckets.contains_key(key) && self.buckets.len() >= PRUNE_ABOVE {
            let now = Instant::now();
            // Nobody holds it and it is not known to be empty: it can be forgotten.
            self.buckets.retain(|_, b| {
                Arc::strong_count(b) > 1 || lock(&b.state).blocked_until(now).is_some()
            });
        }
        self.buckets.entry(key.clone()).or_default().clone()
    }
}

/// The global limit: a slot per request, held while it is in flight and for a window after its
/// answer came back; requests are served in order.
///
/// Counting a request from when its answer arrived (not from when it was sent) makes the limit
/// hold at Discord whatever the network does: Discord counted it at some instant before its
/// answer, so a request sent a window after the answer cannot share a rolling window with it.
#[derive(Debug)]
struct GlobalWindow {
    limit: usize,
    window: Duration,
    /// Held by the request whose turn it is to wait for a slot (FIFO).
    turn: tokio::sync::Mutex<()>,
    slots: Mutex<Slots>,
    /// A request finished (a slot may free up a window later, or at once when none is timed).
    finished: tokio::sync::Notify,
    /// Requests waiting for a slot.
    waiting: AtomicUsize,
}

#[derive(Debug, Default)]
struct Slots {
    /// Requests sent whose answer has not come back.
    in_flight: usize,
    /// When the answers of the requests of the last window came back, oldest first.
    done: VecDeque<Instant>,
}

impl Slots {
    fn prune(&mut self, now: Instant, window: Duration) {
        while self
            .done
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.done.pop_front();
        }
    }

    fn used(&self) -> usize {
        self.in_flight + self.done.len()
    }
}

/// A slot of the global limit, held while a request is in flight; dropping it counts the request
/// as answered now.
struct Slot<'a>(&'a GlobalWindow);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        {
            let mut slots = lock(&self.0.slots);
            slots.in_flight = slots.in_flight.saturating_sub(1);
            slots.done.push_back(Instant::now());
        }
        self.0.finished.notify_waiters();
    }
}

impl GlobalWindow {
    fn new(limit: NonZeroU32, window: Duration) -> Self {
        let limit = limit.get() as usize;
        Self {
            limit,
            window,
            turn: tokio::sync::Mutex::new(()),
            slots: Mutex::new(Slots::default()),
            finished: tokio::sync::Notify::new(),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Waits for a slot and takes it.
    async fn acquire(&self) -> Slot<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = scopeguard(|| {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        });
        let _turn = self.turn.lock().await;
        loop {
            // Registered before looking, so that a request finishing in between wakes us.
            let finished = self.finished.notified();
            let free_at = {
                let mut slots = lock(&self.slots);
                let now = Instant::now();
                slots.prune(now, self.window);
                if slots.used() < self.limit {
                    slots.in_flight += 1;
                    return Slot(self);
                }
                // Full: the oldest answered request leaves the window, or one in flight ends.
                slots.done.front().map(|t| *t + self.window)
            };
            match free_at {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = finished => {}
                    }
                }
                None => finished.await,
            }
        }
    }

    /// Slots used in the last window plus requests waiting, per slot: 1.0 is a full budget.
    fn pressure(&self) -> f64 {
        let used = {
            let mut slots = lock(&self.slots);
            slots.prune(Instant::now(), self.window);
            slots.used()
        };
        (used + self.waiting.load(Ordering::SeqCst)) as f64 / self.limit as f64
    }
}

/// Runs `f` when dropped (also when the future holding it is cancelled).
fn scopeguard<F: FnOnce()>(f: F) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every write is a whole assignment: the state is consistent even after a panic.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Paces the bot's REST requests; see the [module docs](self). Cheap to clone: clones share
/// the budgets.
#[derive(Debug, Clone)]
pub struct Pacer {
    global: Arc<GlobalWindow>,
    buckets: Arc<Mutex<Buckets>>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new(DEFAULT_GLOBAL_RATE_LIMIT)
    }
}

impl Pacer {
    /// A pacer for a global limit of `per_second` requests.
    pub fn new(per_second: NonZeroU32) -> Self {
        Self::with_window(per_second, GLOBAL_WINDOW + GLOBAL_MARGIN)
    }

    /// A pacer allowing `limit` requests in any rolling `window`.
    pub fn with_window(limit: NonZeroU32, window: Duration) -> Self {
        Self {
            global: Arc::new(GlobalWindow::new(limit, window)),
            buckets: Arc::default(),
        }
    }

    /// How full the global budget is: slots used in the last second plus requests waiting for
    /// one, per slot (0 idle, 1 full, above 1 a queue).
    pub fn pressure(&self) -> f64 {
        self.global.pressure()
    }

    /// Until when a request on `route` would wait for its bucket, if it is known to be empty.
    pub fn blocked_until(&self, route: &Route) -> Option<Instant> {
        let buckets = lock(&self.buckets);
        let bucket = buckets.buckets.get(&buckets.key(route)).cloned();
        drop(buckets);
        bucket.and_then(|b| lock(&b.state).blocked_until(Instant::now()))
    }

    /// Sends `request` on `route` once its bucket and the global limit allow, and learns from
    /// the answer's rate-limit headers. `request` is a twilight request builder: twilight only
    /// starts it (and queues it in its own limiter) once the pacer lets it go.
    pub async fn send<R, T>(
        &self,
        route: Route,
        request: R,
    ) -> Result<twilight_http::Response<T>, twilight_http::Error>
    where
        R: IntoFuture<Output = Result<twilight_http::Response<T>, twilight_http::Error>>,
    {
        let asked = Instant::now();
        let (bucket, _turn) = self.turn(&route).await;
        loop {
            let until = lock(&bucket.state).blocked_until(Instant::now());
            match until {
                Some(until) => tokio::time::sleep_until(until).await,
                None => break,
            }
        }
        let _slot = if route.exempt {
            None
        } else {
            Some(self.global.acquire().await)
        };
        {
            let mut state = lock(&bucket.state);
            state.remaining = state.remaining.map(|r| r.saturating_sub(1));
        }
        metrics::histogram!(crate::status::DISCORD_RATELIMIT_WAIT).record(asked.elapsed());
        let result = request.into_future().await;
        metrics::counter!(crate::status::DISCORD_REQUESTS, "route" => route.kind, "status" => status_label(&result))
            .increment(1);
        if let Ok(response) = &result {
            self.learn(&route, &bucket, response.headers());
        }
        result
    }

    /// Waits for the turn of `route`'s bucket (one request in flight per bucket).
    async fn turn(&self, route: &Route) -> (Arc<Bucket>, tokio::sync::OwnedMutexGuard<()>) {
        loop {
            let (key, bucket) = {
                let mut buckets = lock(&self.buckets);
                let key = buckets.key(route);
                let bucket = buckets.bucket(&key);
                (key, bucket)
            };
            let turn = bucket.turn.clone().lock_owned().await;
            // The route's bucket may have been learned while waiting: then wait for that one.
            if lock(&self.buckets).key(route) == key {
                return (bucket, turn);
            }
        }
    }

    /// Takes an answer's rate-limit headers into account.
    fn learn<'a>(
        &self,
        route: &Route,
        sent_in: &Bucket,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) {
        let Headers {
            bucket_id,
            remaining,
            reset_after,
        } = Headers::read(headers);
        let now = Instant::now();
        let target = {
            let mut buckets = lock(&self.buckets);
            let known = buckets.learned.get(route.kind).cloned();
            if known.as_ref() != Some(&bucket_id) {
                if let Some(old) = known.flatten()
                    && bucket_id.is_some()
                {
                    tracing::debug!(route = route.kind, %old, "a route changed buckets");
                }
                buckets.learned.insert(route.kind, bucket_id.clone());
            }
            let key = buckets.key(route);
            buckets.bucket(&key)
        };
        let update = |state: &mut BucketState| {
            state.remaining = remaining;
            state.reset_at = reset_after.map(|after| now + after + BUCKET_MARGIN);
        };
        // The bucket it was sent in (the route's, before it was learned) and the one it turns
        // out to spend; often the same.
        update(&mut lock(&sent_in.state));
        update(&mut lock(&target.state));
    }
}

/// The HTTP status of a REST answer as a metric label; `error` when none came back.
fn status_label<T>(result: &Result<twilight_http::Response<T>, twilight_http::Error>) -> String {
    match result {
        Ok(response) => response.status().get().to_string(),
        Err(error) => match error.kind() {
            twilight_http::error::ErrorType::Response { status, .. } => status.get().to_string(),
            _ => "error".to_string(),
        },
    }
}

/// What an answer's rate-limit headers say.
#[derive(Debug, Default)]
struct Headers {
    /// `X-RateLimit-Bucket`.
    bucket_id: Option<Arc<str>>,
    /// `X-RateLimit-Remaining`.
    remaining: Option<u32>,
    /// `X-RateLimit-Reset-After`, capped at [`crate::throttle::MAX_WAIT`].
    reset_after: Option<Duration>,
}

impl Headers {
    fn read<'a>(headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        let mut read = Self::default();
        for (name, value) in headers {
            let value = std::str::from_utf8(value).ok().map(str::trim);
            match name.to_ascii_lowercase().as_str() {
                HEADER_BUCKET => read.bucket_id = value.map(Arc::<str>::from),
                crate::throttle::HEADER_REMAINING => {
                    read.remaining = value.and_then(|v| v.parse::<u32>().ok());
                }
                crate::throttle::HEADER_RESET_AFTER => {
                    read.reset_after = value.and_then(crate::throttle::header_seconds);
                }
                _ => {}
            }
        }
        read
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When each of `n` requests got a global slot, all asking at once.
    async fn slots(window: &Arc<GlobalWindow>, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let window = window.clone();
                tokio::spawn(async move {
                    window.acquire().await;
                    start.elapsed()
                })
            })
            .collect();
        let mut times = Vec::new();
        for task in tasks {
            times.push(task.await.unwrap());
        }
        times.sort();
        times
    }

    #[tokio::test(start_paused = true)]
    async fn no_rolling_window_holds_more_than_the_limit() {
        let limit = DEFAULT_GLOBAL_RATE_LIMIT;
        let window = Arc::new(GlobalWindow::new(limit, GLOBAL_WINDOW));
        let times = slots(&window, 170).await;
        let limit = limit.get() as usize;
        // A whole budget at once, then each slot as the oldest leaves the window.
        assert!(times[..limit].iter().all(|t| t.is_zero()), "{times:?}");
        for pair in times.windows(limit + 1) {
            assert!(pair[limit] - pair[0] >= GLOBAL_WINDOW, "{pair:?}");
        }
        // …and no slower than that: 170 requests in four windows.
        assert!(times[169] < GLOBAL_WINDOW * 4, "{:?}", times[169]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_raised_limit_is_used_and_pressure_follows_the_load() {
        let window = Arc::new(GlobalWindow::new(200.try_into().unwrap(), GLOBAL_WINDOW));
        let times = slots(&window, 150).await;
        assert!(times.iter().all(|t| t.is_zero()), "all 150 at once");
        assert!((window.pressure() - 0.75).abs() < 1e-9);
        tokio::time::advance(GLOBAL_WINDOW).await;
        assert!(window.pressure().abs() < 1e-9, "an idle second later");
    }

    #[test]
    fn waits_widen_only_under_pressure() {
        assert_eq!(stretch(0.0), 1.0);
        assert_eq!(stretch(0.5), 1.0);
        assert_eq!(stretch(1.0), 2.0);
        assert_eq!(stretch(10.0), MAX_STRETCH);
        assert_eq!(stretch(f64::NAN), MAX_STRETCH);
    }

    #[test]
    fn routes_learn_their_bucket_and_share_it() {
        let pacer = Pacer::default();
        let channel = Id::new(7);
        let (create, edit) = (
            Route::create_message(channel),
            Route::update_message(channel),
        );
        let sent = Bucket::default();
        let empty: [(&str, &[u8]); 3] = [
            (HEADER_BUCKET, b"abcd"),
            ("x-ratelimit-remaining", b"0"),
            ("x-ratelimit-reset-after", b"4.5"),
        ];
        pacer.learn(&create, &sent, empty);
        // Edits have not named their bucket yet: not held.
        assert_eq!(pacer.blocked_until(&edit), None);
        let also_empty: [(&str, &[u8]); 3] = [
            (HEADER_BUCKET, b"abcd"),
            ("x-ratelimit-remaining", b"0"),
            ("x-ratelimit-reset-after", b"4.0"),
        ];
        pacer.learn(&edit, &sent, also_empty);
        // Now both routes are one bucket in this channel, known empty; other channels are not.
        let soon = Instant::now() + Duration::from_secs(3);
        assert!(pacer.blocked_until(&create).is_some_and(|t| t > soon));
        assert!(pacer.blocked_until(&edit).is_some_and(|t| t > soon));
        assert_eq!(
            pacer.blocked_until(&Route::update_message(Id::new(8))),
            None
        );
    }
}
