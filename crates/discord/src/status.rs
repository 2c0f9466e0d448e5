//! The gateway's state for operators: which shards are connected, since when, how often they
//! reconnected and their heartbeat latency. The shard loops write it; the binary's admin
//! endpoint reads it ([`GatewayStatus`] is a cheap, shared handle set in
//! [`BotConfig::status`](crate::BotConfig::status)).
//!
//! Also the adapter's metrics: `mcpcord_gateway_latency_seconds{shard}`,
//! `mcpcord_gateway_connected{shard}`, and the REST metrics recorded by the pacer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Heartbeat latency of each shard, by `shard`.
pub const GATEWAY_LATENCY: &str = "mcpcord_gateway_latency_seconds";
/// 1 while a shard is connected (READY or RESUMED seen, no close since), by `shard`.
pub const GATEWAY_CONNECTED: &str = "mcpcord_gateway_connected";
/// REST requests to Discord, by `route` and `status` (HTTP status, or `error`).
pub const DISCORD_REQUESTS: &str = "mcpcord_discord_requests_total";
/// Seconds REST requests waited for Discord's rate limits (global and per bucket).
pub const DISCORD_RATELIMIT_WAIT: &str = "mcpcord_discord_ratelimit_wait_seconds";

/// Describes the adapter's metrics to the installed recorder.
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(GATEWAY_LATENCY, Unit::Seconds, "Gateway heartbeat latency");
    describe_gauge!(GATEWAY_CONNECTED, "1 while the shard is connected");
    describe_counter!(
        DISCORD_REQUESTS,
        "REST requests to Discord, by route and status"
    );
    describe_histogram!(
        DISCORD_RATELIMIT_WAIT,
        Unit::Seconds,
        "Time REST requests waited for rate limits"
    );
}

/// One shard, as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardStatus {
    /// Its number.
    pub id: u32,
    /// Connected: READY or RESUMED received and not closed since.
    pub connected: bool,
    /// When it last became connected.
    pub since: Option<Instant>,
    /// Times it connected again after a close.
    pub reconnects: u32,
    /// The latest heartbeat's round trip.
    pub latency: Option<Duration>,
}

impl ShardStatus {
    /// Shard `id`, started and not connected yet.
    fn new(id: u32) -> Self {
        Self {
            id,
            connected: false,
            since: None,
            reconnects: 0,
            latency: None,
        }
    }
}

/// The shards' states, shared between the shard loops and whoever reports them.
#[derive(Clone, Default)]
pub struct GatewayStatus {
    shards: Arc<Mutex<BTreeMap<u32, ShardStatus>>>,
}

impl std::fmt::Debug for GatewayStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.shards()).finish()
    }
}

impl GatewayStatus {
    /// Every shard started, by number.
    pub fn shards(&self) -> Vec<ShardStatus> {
        self.lock().values().cloned().collect()
    }

    /// Whether shards were started and every one of them is connected.
    pub fn connected(&self) -> bool {
        let shards = self.lock();
        !shards.is_empty() && shards.values().all(|s| s.connected)
    }

    /// A shard started (not connected yet).
    pub fn started(&self, id: u32) {
        self.lock()
            .entry(id)
            .or_insert_with(|| ShardStatus::new(id));
        metrics::gauge!(GATEWAY_CONNECTED, "shard" => id.to_string()).set(0.0);
    }

    /// A shard received READY or RESUMED.
    pub fn ready(&self, id: u32) {
        let mut shards = self.lock();
        let shard = shards.entry(id).or_insert_with(|| ShardStatus::new(id));
        if shard.since.is_some() && !shard.connected {
            shard.reconnects += 1;
        }
        shard.connected = true;
        shard.since = Some(Instant::now());
        metrics::gauge!(GATEWAY_CONNECTED, "shard" => id.to_string()).set(1.0);
    }

    /// A shard's connection closed (twilight reconnects unless it was fatal).
    pub fn closed(&self, id: u32) {
        if let Some(shard) = self.lock().get_mut(&id) {
            shard.connected = false;
        }
        metrics::gauge!(GATEWAY_CONNECTED, "shard" => id.to_string()).set(0.0);
    }

    /// A heartbeat was acknowledged after `latency`.
    pub fn heartbeat(&self, id: u32, latency: Duration) {
        if let Some(shard) = self.lock().get_mut(&id) {
            shard.latency = Some(latency);
        }
        metrics::gauge!(GATEWAY_LATENCY, "shard" => id.to_string()).set(latency.as_secs_f64());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, ShardStatus>> {
        self.shards.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_only_once_every_started_shard_is_ready_and_reconnects_are_counted() {
        let status = GatewayStatus::default();
        assert!(!status.connected(), "no shard yet");
        status.started(0);
        status.started(1);
        status.ready(0);
        assert!(!status.connected(), "shard 1 is not ready");
        status.ready(1);
        assert!(status.connected());
        status.closed(1);
        assert!(!status.connected());
        status.ready(1);
        status.heartbeat(1, Duration::from_millis(42));
        let shards = status.shards();
        assert_eq!(shards[1].reconnects, 1);
        assert_eq!(shards[0].reconnects, 0);
        assert_eq!(shards[1].latency, Some(Duration::from_millis(42)));
        assert!(status.connected());
    }
}
