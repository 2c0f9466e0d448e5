//! Per-route rate-limit buckets keyed by the route's major parameter (channel, guild, webhook
//! id + token, interaction), the `X-RateLimit-*` headers Discord sends, the 429 answer, and the
//! bot's global limit.
//!
//! As on Discord, routes may share one bucket: creating a message and editing one in the same
//! channel answer with the same `X-RateLimit-Bucket` and spend the same 5 per 5 s. The global
//! limit counts every request that is not an interaction endpoint (callbacks, followups) in any
//! rolling second, not in fixed windows: 50 at the end of one second and 50 at the start of the
//! next are 100 in one rolling second, and the 51st is refused.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Requests per window for routes without a specific limit.
pub const DEFAULT_BUCKET: BucketLimit = BucketLimit {
    limit: 50,
    window: Duration::from_secs(1),
};
/// Creating, editing or deleting messages in one channel: 5 per 5 s.
pub const MESSAGE_BUCKET: BucketLimit = BucketLimit {
    limit: 5,
    window: Duration::from_secs(5),
};
/// Typing indicators in one channel: 5 per 5 s.
pub const TYPING_BUCKET: BucketLimit = BucketLimit {
    limit: 5,
    window: Duration::from_secs(5),
};
/// Executing or editing through one webhook (interaction followups): 5 per 2 s.
pub const WEBHOOK_BUCKET: BucketLimit = BucketLimit {
    limit: 5,
    window: Duration::from_secs(2),
};

/// Requests per rolling second across a bot, interaction endpoints excepted (Discord: 50).
pub const GLOBAL_LIMIT: u32 = 50;
/// The window the global limit counts in.
pub const GLOBAL_WINDOW: Duration = Duration::from_secs(1);
/// The bucket group that creating and editing messages in a channel share.
pub const MESSAGE_GROUP: &str = "channel-messages";

/// How many requests a bucket allows per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketLimit {
    /// Requests per window.
    pub limit: u32,
    /// Window length, counted from the first request.
    pub window: Duration,
}

/// One route's limit, and the bucket group it spends (routes of one group share a bucket).
#[derive(Debug, Clone)]
struct Override {
    method: String,
    template: String,
    limit: BucketLimit,
    group: String,
}

/// Limits per route (method + spec template), with a default, and the global limit.
#[derive(Debug, Clone)]
pub(crate) struct RateLimitConfig {
    pub default: BucketLimit,
    /// Requests per rolling [`GLOBAL_WINDOW`], interaction endpoints excepted; `None`: no
    /// global limit.
    pub global: Option<u32>,
    overrides: Vec<Override>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        let mut config = Self {
            default: DEFAULT_BUCKET,
            global: Some(GLOBAL_LIMIT),
            overrides: Vec::new(),
        };
        config.set_messages(MESSAGE_BUCKET);
        config.set("POST", "/channels/{channel_id}/typing", TYPING_BUCKET);
        for (method, template) in [
            ("POST", "/webhooks/{webhook_id}/{webhook_token}"),
            (
                "PATCH",
                "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
            ),
            (
                "PATCH",
                "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            ),
        ] {
            config.set(method, template, WEBHOOK_BUCKET);
        }
        config
    }
}

impl RateLimitConfig {
    /// Sets the limit of one route, in a bucket of its own.
    pub fn set(&mut self, method: &str, template: &str, limit: BucketLimit) {
        let group = format!("{} {template}", method.to_ascii_uppercase());
        self.set_in(method, template, limit, &group);
    }

    /// Sets the limit of one route, spending the bucket shared by `group`.
    pub fn set_in(&mut self, method: &str, template: &str, limit: BucketLimit, group: &str) {
        let method = method.to_ascii_uppercase();
        self.overrides
            .retain(|o| !(o.method == method && o.template == template));
        self.overrides.push(Override {
            method,
            template: template.to_owned(),
            limit,
            group: group.to_owned(),
        });
    }

    /// The message routes of a channel: create and edit share one bucket ([`MESSAGE_GROUP`]),
    /// as on Discord; deleting has its own.
    pub fn set_messages(&mut self, limit: BucketLimit) {
        let one = "/channels/{channel_id}/messages/{message_id}";
        self.set_in(
            "POST",
            "/channels/{channel_id}/messages",
            limit,
            MESSAGE_GROUP,
        );
        self.set_in("PATCH", one, limit, MESSAGE_GROUP);
        self.set("DELETE", one, limit);
    }

    /// The limit of a route and the bucket group it spends.
    fn limit_for(&self, method: &str, template: &str) -> (BucketLimit, String) {
        self.overrides
            .iter()
            .find(|o| o.method.eq_ignore_ascii_case(method) && o.template == template)
            .map_or_else(
                || {
                    (
                        self.default,
                        format!("{} {template}", method.to_ascii_uppercase()),
                    )
                },
                |o| (o.limit, o.group.clone()),
            )
    }
}

/// Whether a route is an interaction endpoint, which Discord's global limit does not count
/// (callbacks, and followups through the interaction's webhook).
pub(crate) fn is_interaction_endpoint(template: &str) -> bool {
    template.starts_with("/interactions/")
        || template.starts_with("/webhooks/{webhook_id}/{webhook_token}")
}

/// The `X-RateLimit-*` values of one answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BucketState {
    pub bucket: String,
    pub limit: u32,
    pub remaining: u32,
    pub reset_after: Duration,
}

impl BucketState {
    /// The headers Discord sends with every answer of a limited route.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let reset_at = SystemTime::now()
            .checked_add(self.reset_after)
            .unwrap_or_else(SystemTime::now)
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        vec![
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            (
                "x-ratelimit-reset",
                format!("{:.3}", reset_at.as_secs_f64()),
            ),
            (
                "x-ratelimit-reset-after",
                format!("{:.3}", self.reset_after.as_secs_f64()),
            ),
            ("x-ratelimit-bucket", self.bucket.clone()),
            ("x-ratelimit-scope", "user".to_owned()),
        ]
    }
}

/// What the limiter decided for one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    /// Go ahead; send these headers.
    Allowed(BucketState),
    /// 429; the bucket resets after `state.reset_after`.
    Limited(BucketState),
}

#[derive(Debug)]
struct Window {
    started: Instant,
    used: u32,
}

/// Counts requests per bucket, and across the bot.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    config: RateLimitConfig,
    windows: Mutex<HashMap<(String, String), Window>>,
    /// When the requests the global limit counts arrived, within the last window.
    global: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            windows: Mutex::new(HashMap::new()),
            global: Mutex::new(VecDeque::new()),
        }
    }

    /// Counts a request to `template` against the global limit (interaction endpoints are
    /// not counted); `Err(retry_after)` when the last rolling second is full.
    pub fn check_global(&self, template: &str, now: Instant) -> Result<(), Duration> {
        let Some(limit) = self.config.global else {
            return Ok(());
        };
        if is_interaction_endpoint(template) {
            return Ok(());
        }
        let mut sent = self.global.lock().unwrap_or_else(|e| e.into_inner());
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= GLOBAL_WINDOW)
        {
            sent.pop_front();
        }
        if sent.len() >= limit as usize {
            let oldest = sent.front().copied().unwrap_or(now);
            return Err(GLOBAL_WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        sent.push_back(now);
        Ok(())
    }

    /// Counts a request to `template` whose major parameter is `major`.
    pub fn check(&self, method: &str, template: &str, major: &str) -> Decision {
        let (limit, group) = self.config.limit_for(method, template);
        let bucket = bucket_hash(&group);
        let now = Instant::now();
        let Ok(mut windows) = self.windows.lock() else {
            return Decision::Allowed(BucketState {
                bucket,
                limit: limit.limit,
                remaining: limit.limit,
                reset_after: limit.window,
            });
        };
        let key = (group, major.to_owned());
        let window = windows.entry(key).or_insert(Window {
            started: now,
            used: 0,
        });
        if now.duration_since(window.started) >= limit.window {
            window.started = now;
            window.used = 0;
        }
        let reset_after = limit
            .window
            .saturating_sub(now.duration_since(window.started));
        if window.used >= limit.limit {
            return Decision::Limited(BucketState {
                bucket,
                limit: limit.limit,
                remaining: 0,
                reset_after,
            });
        }
        window.used += 1;
        Decision::Allowed(BucketState {
            bucket,
            limit: limit.limit,
            remaining: limit.limit - window.used,
            reset_after,
        })
    }
}

/// A stable bucket id for a bucket group, shaped like Discord's (32 hex digits).
fn bucket_hash(group: &str) -> String {
    let mut a = DefaultHasher::new();
    group.hash(&mut a);
    let mut b = DefaultHasher::new();
    (group, "bucket").hash(&mut b);
    format!("{:016x}{:016x}", a.finish(), b.finish())
}

/// The major parameter of a request: what Discord separates buckets by.
pub(crate) fn major_parameter(params: &HashMap<String, String>) -> String {
    for key in ["channel_id", "guild_id"] {
        if let Some(v) = params.get(key) {
            return format!("{key}:{v}");
        }
    }
    if let (Some(id), Some(token)) = (params.get("webhook_id"), params.get("webhook_token")) {
        return format!("webhook:{id}:{token}");
    }
    if let Some(id) = params.get("webhook_id") {
        return format!("webhook:{id}");
    }
    if let Some(id) = params.get("interaction_id") {
        return format!("interaction:{id}");
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[tokio::test]
    async fn spends_and_limits() {
        let mut config = RateLimitConfig::default();
        config.set(
            "POST",
            "/x",
            BucketLimit {
                limit: 2,
                window: Duration::from_secs(60),
            },
        );
        let limiter = RateLimiter::new(config);
        assert!(
            matches!(limiter.check("POST", "/x", "a"), Decision::Allowed(s) if s.remaining == 1)
        );
        assert!(
            matches!(limiter.check("POST", "/x", "a"), Decision::Allowed(s) if s.remaining == 0)
        );
        assert!(matches!(
            limiter.check("POST", "/x", "a"),
            Decision::Limited(_)
        ));
        assert!(matches!(
            limiter.check("POST", "/x", "b"),
            Decision::Allowed(_)
        ));
    }

    #[tokio::test]
    async fn creating_and_editing_messages_share_one_bucket_per_channel() {
        let limiter = RateLimiter::new(RateLimitConfig::default());
        let create = "/channels/{channel_id}/messages";
        let edit = "/channels/{channel_id}/messages/{message_id}";
        let mut buckets = HashSet::new();
        for i in 0..MESSAGE_BUCKET.limit {
            let template = if i % 2 == 0 { create } else { edit };
            let method = if i % 2 == 0 { "POST" } else { "PATCH" };
            match limiter.check(method, template, "channel_id:1") {
                Decision::Allowed(state) => {
                    assert_eq!(state.remaining, MESSAGE_BUCKET.limit - i - 1);
                    buckets.insert(state.bucket);
                }
                Decision::Limited(_) => panic!("request {i} refused"),
            }
        }
        assert_eq!(
            buckets.len(),
            1,
            "one X-RateLimit-Bucket for create and edit"
        );
        assert!(matches!(
            limiter.check("PATCH", edit, "channel_id:1"),
            Decision::Limited(_)
        ));
        assert!(matches!(
            limiter.check("POST", create, "channel_id:1"),
            Decision::Limited(_)
        ));
        assert!(matches!(
            limiter.check("POST", create, "channel_id:2"),
            Decision::Allowed(_)
        ));
    }

    #[test]
    fn the_global_limit_counts_a_rolling_second_and_spares_interactions() {
        let limiter = RateLimiter::new(RateLimitConfig::default());
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let route = "/channels/{channel_id}/typing";
        // 50 at the end of one second…
        for _ in 0..GLOBAL_LIMIT {
            assert!(limiter.check_global(route, at(900)).is_ok());
        }
        // …and one more just after a fixed window would have reset is still refused.
        let retry = limiter
            .check_global(route, at(1100))
            .expect_err("51 in one rolling second");
        assert_eq!(retry, Duration::from_millis(800));
        // Interaction endpoints are not counted.
        for template in [
            "/interactions/{interaction_id}/{interaction_token}/callback",
            "/webhooks/{webhook_id}/{webhook_token}",
        ] {
            assert!(limiter.check_global(template, at(1100)).is_ok());
        }
        assert!(limiter.check_global(route, at(1900)).is_ok());
        // Lifted, nothing is counted.
        let lifted = RateLimiter::new(RateLimitConfig {
            global: None,
            ..RateLimitConfig::default()
        });
        for _ in 0..500 {
            assert!(lifted.check_global(route, at(0)).is_ok());
        }
    }
}
