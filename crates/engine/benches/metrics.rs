//! What metrics cost per turn: the same turn (one tool call to the test MCP server, then an
//! answer, from FakeOllama, committed to SQLite) with the Prometheus recorder on and off,
//! alternating turn by turn so both see the same machine. The recorder sits behind a switch,
//! since a process installs its global recorder once.
//!
//! Run with `cargo bench -p mcpcord-engine --bench metrics`. Prints p50 / p99 and the mean
//! difference per turn.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mcpcord_engine::{
    Engine, EngineConfig, Place, Speaker, TurnAction, TurnEvent, TurnRequest, UserId, UserMessage,
};
use mcpcord_llm::{BackendPool, BackendSpec, PoolOptions, ServerKind};
use mcpcord_mcp::{ApprovalPolicy, Callbacks, HostOptions, McpHost, ServerSpec, ToolPolicy};
use mcpcord_memory::{ConversationKey, Scope, Store};
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::{FakeModel, Script};
use mcpcord_testkit::mcp_server::test_mcp_binary;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

const TURNS: usize = 400;

/// The Prometheus recorder, or nothing, as the switch says.
struct Switch {
    on: AtomicBool,
    inner: PrometheusRecorder,
}

impl Recorder for Switch {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, text: SharedString) {
        self.inner.describe_counter(key, unit, text);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, text: SharedString) {
        self.inner.describe_gauge(key, unit, text);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, text: SharedString) {
        self.inner.describe_histogram(key, unit, text);
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        if self.on.load(Ordering::Relaxed) {
            self.inner.register_counter(key, metadata)
        } else {
            Counter::noop()
        }
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        if self.on.load(Ordering::Relaxed) {
            self.inner.register_gauge(key, metadata)
        } else {
            Gauge::noop()
        }
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        if self.on.load(Ordering::Relaxed) {
            self.inner.register_histogram(key, metadata)
        } else {
            Histogram::noop()
        }
    }
}

fn main() {
    let switch: &'static Switch = Box::leak(Box::new(Switch {
        on: AtomicBool::new(false),
        inner: PrometheusBuilder::new()
            .set_buckets(&[0.01, 0.1, 1.0, 10.0])
            .unwrap()
            .build_recorder(),
    }));
    metrics::set_global_recorder(switch).expect("the first recorder");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run(switch));
}

async fn run(switch: &'static Switch) {
    let fake = FakeOllama::start_with_models([
        FakeModel::new("bench").capabilities(&["completion", "tools"])
    ])
    .await;
    let pool = BackendPool::new(
        vec![BackendSpec::new(
            "fake",
            ServerKind::Ollama,
            fake.url().parse().unwrap(),
        )],
        PoolOptions::default(),
    );
    let dir = std::env::temp_dir().join(format!("mcpcord-metrics-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::connect(&format!("sqlite://{}/turns.sqlite", dir.display()))
        .await
        .unwrap();
    let server = ServerSpec::stdio(
        "t",
        test_mcp_binary().display().to_string(),
        [] as [&str; 0],
    )
    .with_tools(ToolPolicy {
        default_approval: Some(ApprovalPolicy::Auto),
        ..ToolPolicy::default()
    });
    let host = McpHost::start(vec![server], HostOptions::default(), Callbacks::default());
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "the test MCP server started"
    );
    let engine = Engine::new(
        pool,
        Some(host.clone()),
        store,
        EngineConfig {
            default_model: "bench".into(),
            ..EngineConfig::default()
        },
    );
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for i in 0..TURNS * 2 {
        let recording = i % 2 == 1;
        switch.on.store(recording, Ordering::Relaxed);
        let took = turn(&engine, &fake, i).await;
        if recording { &mut on } else { &mut off }.push(took);
    }
    let mean = |samples: &[Duration]| samples.iter().sum::<Duration>() / samples.len() as u32;
    let (mean_off, mean_on) = (mean(&off), mean(&on));
    let (off50, off99) = percentiles(off);
    let (on50, on99) = percentiles(on);
    println!(
        "turn with a tool call, no recorder:  p50 {off50:?}  p99 {off99:?}  mean {mean_off:?}"
    );
    println!("same, Prometheus recorder:           p50 {on50:?}  p99 {on99:?}  mean {mean_on:?}");
    println!(
        "metrics cost per turn:               p50 {:?}  mean {:?} (negative: {:?}, noise)",
        on50.saturating_sub(off50),
        mean_on.saturating_sub(mean_off),
        mean_off.saturating_sub(mean_on),
    );
    host.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
    recording_alone(switch);
}

/// The recording a turn with one tool call does (the same metrics and labels as the engine),
/// without the turn: what the whole-turn figures above lose in noise.
fn recording_alone(switch: &Switch) {
    use mcpcord_engine::telemetry::*;
    const ROUNDS: u32 = 100_000;
    let record = || {
        metrics::gauge!(TURNS_IN_FLIGHT).increment(1.0);
        metrics::counter!(TOOL_CALLS_TOTAL, "server" => "t".to_string(), "tool" => "echo".to_string(), "outcome" => "ok")
            .increment(1);
        metrics::histogram!(TOOL_CALL_DURATION, "server" => "t".to_string(), "tool" => "echo".to_string())
            .record(Duration::from_millis(3));
        let model = "bench".to_string();
        metrics::counter!(TURNS_TOTAL, "outcome" => "answered").increment(1);
        metrics::histogram!(TURN_DURATION, "model" => model.clone())
            .record(Duration::from_millis(20));
        metrics::histogram!(TIME_TO_FIRST_TOKEN, "model" => model.clone())
            .record(Duration::from_millis(5));
        metrics::counter!(TOKENS_TOTAL, "model" => model.clone(), "kind" => "prompt").increment(95);
        metrics::counter!(TOKENS_TOTAL, "model" => model, "kind" => "completion").increment(9);
        metrics::gauge!(TURNS_IN_FLIGHT).decrement(1.0);
    };
    let mut per_turn = [Duration::ZERO; 2];
    for (slot, on) in [(0, false), (1, true), (0, false), (1, true)] {
        switch.on.store(on, Ordering::Relaxed);
        let started = Instant::now();
        for _ in 0..ROUNDS {
            record();
        }
        per_turn[slot] += started.elapsed() / ROUNDS / 2;
    }
    println!(
        "one turn's recording alone:          no recorder {:?}  Prometheus {:?}",
        per_turn[0], per_turn[1]
    );
}

/// One turn: the model calls `echo`, then answers; how long until Done.
async fn turn(engine: &Engine, fake: &FakeOllama, i: usize) -> Duration {
    fake.push_scripts([
        Script::new().tool_call("echo", serde_json::json!({"text": "ping"})),
        Script::reply("pong"),
    ]);
    let started = Instant::now();
    let mut turn = engine.start_turn(TurnRequest {
        key: ConversationKey::new(format!("bench:{}", i % 10)),
        scope: Scope::default(),
        author: Speaker {
            id: Some(UserId::new(1)),
            name: "bench".into(),
        },
        place: Place::default(),
        action: TurnAction::Message(UserMessage::text("use the tool")),
        model: None,
        grants: mcpcord_engine::Grants::everything(),
    });
    while let Some(event) = turn.next().await {
        match event {
            TurnEvent::Done(_) => break,
            TurnEvent::Failed(error) => panic!("turn failed: {error}"),
            _ => {}
        }
    }
    started.elapsed()
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}
