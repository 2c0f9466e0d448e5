//! The Prometheus recorder behind the `metrics` facade, installed once when the admin endpoint
//! is on (without it every metric is a no-op), and what `/metrics` adds at scrape time: the
//! engine's gauges from a fresh snapshot, and the process's memory and CPU.

use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::resources::ProcessUsage;

/// Resident memory of the bot's process.
pub const PROCESS_RSS: &str = "process_resident_memory_bytes";
/// CPU time of the bot's process (a gauge: the facade's counters count whole numbers).
pub const PROCESS_CPU: &str = "process_cpu_seconds_total";
/// Seconds since the bot's process started serving.
pub const PROCESS_UPTIME: &str = "mcpcord_uptime_seconds";

/// Histogram buckets for turn durations and time to first token (seconds).
const TURN_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Histogram buckets for tool calls and rate-limit waits (seconds).
const SHORT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often histograms are folded (the recorder's upkeep).
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder as the process's `metrics` recorder and describes every
/// metric; the handle renders them. A process that runs part of the shards
/// (`discord.shard_ids`) labels every metric with its range, `shards="0-3"`, so the processes of
/// one bot can be told apart and summed.
pub fn install(shards: Option<String>) -> anyhow::Result<PrometheusHandle> {
    let handle = labelled(builder()?, shards).install_recorder()?;
    mcpcord_engine::telemetry::describe_metrics();
    mcpcord_discord::status::describe_metrics();
    metrics::describe_gauge!(PROCESS_RSS, metrics::Unit::Bytes, "Resident memory");
    metrics::describe_gauge!(PROCESS_CPU, metrics::Unit::Seconds, "CPU time used");
    metrics::describe_gauge!(PROCESS_UPTIME, metrics::Unit::Seconds, "Time serving");
    Ok(handle)
}

/// The recorder's settings: histograms (not summaries) for every `_seconds` metric.
pub fn builder() -> anyhow::Result<PrometheusBuilder> {
    use mcpcord_engine::telemetry::{TIME_TO_FIRST_TOKEN, TURN_DURATION};
    Ok(PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(TURN_DURATION.into()), TURN_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(TIME_TO_FIRST_TOKEN.into()), TURN_BUCKETS)?
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SHORT_BUCKETS)?)
}

/// `builder` with the `shards` label on every metric, when the process runs a range of shards.
pub fn labelled(builder: PrometheusBuilder, shards: Option<String>) -> PrometheusBuilder {
    match shards {
        Some(range) => builder.add_global_label("shards", range),
        None => builder,
    }
}

/// Sets the process gauges from `usage`.
pub fn record_process(usage: Option<ProcessUsage>, uptime: Duration) {
    metrics::gauge!(PROCESS_UPTIME).set(uptime.as_secs_f64());
    if let Some(usage) = usage {
        metrics::gauge!(PROCESS_RSS).set(usage.rss_bytes as f64);
        metrics::gauge!(PROCESS_CPU).set(usage.cpu_time.as_secs_f64());
    }
}

#[cfg(test)]
mod shard_label_tests {
    use super::*;

    #[test]
    fn a_shard_range_labels_every_metric_and_a_whole_bot_adds_no_label() {
        let ranged = labelled(builder().unwrap(), Some("0-3".into())).build_recorder();
        let handle = ranged.handle();
        metrics::with_local_recorder(&ranged, || {
            metrics::counter!("mcpcord_turns_total", "outcome" => "answered").increment(2);
        });
        let text = handle.render();
        assert!(
            text.contains(r#"mcpcord_turns_total{outcome="answered",shards="0-3"} 2"#)
                || text.contains(r#"mcpcord_turns_total{shards="0-3",outcome="answered"} 2"#),
            "{text}"
        );

        let whole = labelled(builder().unwrap(), None).build_recorder();
        let handle = whole.handle();
        metrics::with_local_recorder(&whole, || {
            metrics::counter!("mcpcord_turns_total", "outcome" => "answered").increment(1);
        });
        let text = handle.render();
        assert!(
            text.contains(r#"mcpcord_turns_total{outcome="answered"} 1"#),
            "{text}"
        );
    }
}
