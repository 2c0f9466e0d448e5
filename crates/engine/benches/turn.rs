//! Engine overhead per turn, and history load time, measured on the real code.
//!
//! - Turn overhead: the same one-chunk answer from FakeOllama, once through the engine (load
//!   preferences and history, build the context, stream, commit the turn to SQLite) and once
//!   straight through the backend pool; the difference is what the engine adds.
//! - History load: `Store::history` of a 10,000-message conversation on SQLite and PostgreSQL
//!   (`TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
//!
//! - Recall on against off: the time from a new conversation's turn starting to its request
//!   reaching FakeOllama (what recall adds before the model: embedding the question, the
//!   hybrid search, the recalled block), with the person's earlier conversations embedded,
//!   recall switched on and then off (SQLite).
//!
//! Run with `cargo bench -p mcpcord-engine --bench turn`. Prints p50 / p99.

use std::time::{Duration, Instant, SystemTime};

use mcpcord_engine::{
    Engine, EngineConfig, MemoryConfig, Place, Speaker, TurnAction, TurnEvent, TurnRequest,
    UserMessage,
};
use mcpcord_llm::{BackendPool, BackendSpec, ChatRequest, Message, PoolOptions, ServerKind};
use mcpcord_memory::{ChannelId, ConversationKey, GuildId, NewMessage, Scope, Store, UserId};
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::FakeModel;

const TURNS: usize = 300;
const HISTORY: usize = 10_000;
const LOADS: usize = 30;
/// Earlier conversations of the person, embedded before recall is measured.
const EARLIER: usize = 300;
/// New conversations measured, recall on and recall off.
const RECALLS: usize = 100;
/// The embedding model FakeOllama serves.
const EMBED: &str = "minilm";

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        turn_overhead().await;
        let on = recall_latency(true).await;
        let off = recall_latency(false).await;
        println!(
            "turn start -> model request, recall on:  p50 {:?}  p99 {:?}",
            on.0, on.1
        );
        println!(
            "turn start -> model request, recall off: p50 {:?}  p99 {:?}",
            off.0, off.1
        );
        history_load(
            "SQLite",
            &format!("sqlite://{}/bench.sqlite", tempdir().display()),
        )
        .await;
        let postgres = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        history_load("PostgreSQL", &postgres).await;
    });
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mcpcord-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

async fn turn_overhead() {
    let fake = FakeOllama::start_with_models([FakeModel::new("bench")]).await;
    let pool = || {
        BackendPool::new(
            vec![BackendSpec::new(
                "fake",
                ServerKind::Ollama,
                fake.url().parse().unwrap(),
            )],
            PoolOptions::default(),
        )
    };
    let store = Store::connect(&format!("sqlite://{}/turns.sqlite", tempdir().display()))
        .await
        .unwrap();
    let engine = Engine::new(
        pool(),
        None,
        store,
        EngineConfig {
            default_model: "bench".into(),
            ..EngineConfig::default()
        },
    );
    let direct = pool();
    let mut through_engine = Vec::new();
    let mut through_pool = Vec::new();
    for i in 0..TURNS {
        // FakeOllama answers an unscripted request by echoing the message: no model time.
        let started = Instant::now();
        let mut turn = engine.start_turn(TurnRequest {
            key: ConversationKey::new(format!("bench:{}", i % 10)),
            scope: Scope::default(),
            author: Speaker {
                id: Some(UserId::new(1)),
                name: "bench".into(),
            },
            place: Place::default(),
            action: TurnAction::Message(UserMessage::text("ok")),
            model: None,
        });
        while let Some(event) = turn.next().await {
            if matches!(event, TurnEvent::Done(_) | TurnEvent::Failed(_)) {
                break;
            }
        }
        through_engine.push(started.elapsed());
        let started = Instant::now();
        direct
            .complete(&ChatRequest::new("bench", vec![Message::user("ok")]))
            .await
            .unwrap();
        through_pool.push(started.elapsed());
    }
    let (e50, e99) = percentiles(through_engine);
    let (p50, p99) = percentiles(through_pool);
    println!("turn through the engine (SQLite): p50 {e50:?}  p99 {e99:?}");
    println!("same request, pool only:          p50 {p50:?}  p99 {p99:?}");
    println!(
        "engine overhead per turn:         p50 {:?}  p99 {:?}",
        e50.saturating_sub(p50),
        e99.saturating_sub(p99)
    );
}

async fn history_load(name: &str, url: &str) {
    let store = match Store::connect(url).await {
        Ok(store) => store,
        Err(error) => {
            println!("{name}: not measured: {error}");
            return;
        }
    };
    let guild = GuildId::new(900_000_000_000_000_000 + u64::from(std::process::id()));
    let key = ConversationKey::new(format!("bench:history:{}", std::process::id()));
    let conversation = store
        .conversation(
            &key,
            Scope {
                guild_id: Some(guild),
                channel_id: None,
                user_id: None,
            },
            None,
        )
        .await
        .unwrap();
    let started = Instant::now();
    for batch in 0..HISTORY / 100 {
        let messages = (0..100)
            .map(|i| {
                let text = format!("message {} {}", batch * 100 + i, "lorem ipsum ".repeat(8));
                if i % 2 == 0 {
                    NewMessage::user(text).with_author(UserId::new(1), "bench")
                } else {
                    NewMessage::assistant(text)
                }
            })
            .collect();
        store.commit_turn(conversation.id, messages).await.unwrap();
    }
    let written = started.elapsed();
    let mut samples = Vec::new();
    for _ in 0..LOADS {
        let started = Instant::now();
        let history = store.history(conversation.id, HISTORY).await.unwrap();
        samples.push(started.elapsed());
        assert_eq!(history.len(), HISTORY);
    }
    let (p50, p99) = percentiles(samples);
    println!(
        "{name}: wrote {HISTORY} messages in {written:?}; history load p50 {p50:?}  p99 {p99:?}"
    );
    // Leave nothing behind: a zero retention for the bench's own guild, then a sweep.
    store
        .set_retention(guild, Some(Duration::ZERO))
        .await
        .unwrap();
    store
        .sweep_expired(SystemTime::now() + Duration::from_secs(1))
        .await
        .unwrap();
    store.close().await;
}

/// A turn of the person (user 42 in guild 1) in the conversation under `key`.
fn turn_of(key: &str, text: &str) -> TurnRequest {
    TurnRequest {
        key: ConversationKey::new(key),
        scope: Scope {
            guild_id: Some(GuildId::new(1)),
            channel_id: Some(ChannelId::new(2)),
            user_id: Some(UserId::new(42)),
        },
        author: Speaker {
            id: Some(UserId::new(42)),
            name: "alice".into(),
        },
        place: Place::default(),
        action: TurnAction::Message(UserMessage::text(text)),
        model: None,
    }
}

/// Runs a turn to its end.
async fn finish(engine: &Engine, request: TurnRequest) {
    let mut turn = engine.start_turn(request);
    while let Some(event) = turn.next().await {
        if matches!(event, TurnEvent::Done(_) | TurnEvent::Failed(_)) {
            break;
        }
    }
}

/// p50 / p99 of turn start -> model request in new conversations, with [`EARLIER`] earlier
/// conversations embedded and recall `on` or off.
async fn recall_latency(on: bool) -> (Duration, Duration) {
    let fake = FakeOllama::start_with_models([
        FakeModel::new("bench").context_length(8_192),
        FakeModel::embedding(EMBED),
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
    let dir = tempdir().join(if on { "recall-on" } else { "recall-off" });
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::connect(&format!("sqlite://{}/recall.sqlite", dir.display()))
        .await
        .unwrap();
    let config = EngineConfig {
        default_model: "bench".into(),
        memory: MemoryConfig {
            embedding_model: Some(EMBED.into()),
            recall: on,
            index_interval: Duration::from_millis(20),
            ..MemoryConfig::default()
        },
        ..EngineConfig::default()
    };
    let engine = Engine::new(pool, None, store, config);
    assert!(engine.start_indexer(), "the indexer starts");
    for i in 0..EARLIER {
        let text = format!(
            "earlier conversation {i} about topic {} and plan {}",
            i % 17,
            i % 5
        );
        finish(&engine, turn_of(&format!("earlier:{i}"), &text)).await;
    }
    // Each turn stored the question and its echoed answer: all embedded before measuring.
    let deadline = Instant::now() + Duration::from_secs(300);
    while engine.indexed_vectors() < 2 * EARLIER {
        assert!(Instant::now() < deadline, "the indexer did not catch up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut samples = Vec::with_capacity(RECALLS);
    for i in 0..RECALLS {
        fake.clear_requests();
        let started = Instant::now();
        let text = format!("what did we say about topic {} and plan {}?", i % 17, i % 5);
        finish(&engine, turn_of(&format!("new:{i}"), &text)).await;
        let arrived = fake
            .requests_to("/api/chat")
            .first()
            .expect("the turn asked the model")
            .received_at;
        samples.push(arrived.saturating_duration_since(started));
    }
    engine.shutdown(Duration::from_secs(5)).await;
    percentiles(samples)
}
