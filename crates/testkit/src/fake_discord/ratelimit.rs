//! Per-route rate-limit buckets keyed by the route's major parameter (channel, guild, webhook
//! id + token, interaction), the `X-RateLimit-*` headers Discord sends, and the 429 answer.

use std::collections::HashMap;
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

/// How many requests a bucket allows per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketLimit {
    /// Requests per window.
    pub limit: u32,
    /// Window length, counted from the first request.
    pub window: Duration,
}

/// Limits per route (method + spec template), with a default.
#[derive(Debug, Clone)]
pub(crate) struct RateLimitConfig {
    pub default: BucketLimit,
    overrides: Vec<(String, String, BucketLimit)>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        let mut config = Self {
            default: DEFAULT_BUCKET,
            overrides: Vec::new(),
        };
        for method in ["POST", "PATCH", "DELETE"] {
            config.set(method, "/channels/{channel_id}/messages", MESSAGE_BUCKET);
            config.set(
                method,
                "/channels/{channel_id}/messages/{message_id}",
                MESSAGE_BUCKET,
            );
        }
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
    /// Sets the limit of one route.
    pub fn set(&mut self, method: &str, template: &str, limit: BucketLimit) {
        let method = method.to_ascii_uppercase();
        self.overrides
            .retain(|(m, t, _)| !(m == &method && t == template));
        self.overrides.push((method, template.to_owned(), limit));
    }

    fn limit_for(&self, method: &str, template: &str) -> BucketLimit {
        self.overrides
            .iter()
            .find(|(m, t, _)| m.eq_ignore_ascii_case(method) && t == template)
            .map_or(self.default, |(_, _, l)| *l)
    }
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

/// Counts requests per bucket.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    config: RateLimitConfig,
    windows: Mutex<HashMap<(String, String, String), Window>>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request to `template` whose major parameter is `major`.
    pub fn check(&self, method: &str, template: &str, major: &str) -> Decision {
        let limit = self.config.limit_for(method, template);
        let bucket = bucket_hash(method, template);
        let now = Instant::now();
        let Ok(mut windows) = self.windows.lock() else {
            return Decision::Allowed(BucketState {
                bucket,
                limit: limit.limit,
                remaining: limit.limit,
                reset_after: limit.window,
            });
        };
        let key = (
            method.to_ascii_uppercase(),
            template.to_owned(),
            major.to_owned(),
        );
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

/// A stable bucket id for a route, shaped like Discord's (32 hex digits).
fn bucket_hash(method: &str, template: &str) -> String {
    let mut a = DefaultHasher::new();
    (method.to_ascii_uppercase(), template).hash(&mut a);
    let mut b = DefaultHasher::new();
    (template, "bucket", method.to_ascii_uppercase()).hash(&mut b);
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
}
