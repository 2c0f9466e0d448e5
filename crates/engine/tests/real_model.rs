//! Recall with a real model: SmolLM2-135M served by llama.cpp answers, in a new conversation,
//! from a fact the same person told the bot in an earlier one, which it can only know from the
//! recalled block (without recall it does not know it). Embeddings come from FakeOllama's
//! deterministic `/api/embed`, so what is recalled is under the test's control; the model's
//! answer is the real thing (temperature 0).

use std::time::{Duration, Instant, SystemTime};

use mcpcord_engine::{
    Engine, EngineConfig, MemoryConfig, Place, PreferenceLevel, Speaker, TurnAction, TurnEvent,
    TurnRequest, UserMessage,
};
use mcpcord_llm::{BackendPool, BackendSpec, PoolOptions, ServerKind};
use mcpcord_memory::{ChannelId, ConversationKey, NewMessage, Scope, Store, UserId};
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::FakeModel;
use mcpcord_testkit::llama::{LlamaServer, MODEL};

const EMBED: &str = "minilm";
/// Alice, in a DM with the bot.
const ALICE: UserId = UserId::new(42);
/// Longest one answer of the real model may take on a busy machine.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(180);

fn config() -> EngineConfig {
    EngineConfig {
        default_model: MODEL.into(),
        system_prompt: "You are a helpful assistant. Answer in one short sentence.".into(),
        temperature: Some(0.0),
        // The server's context (see testkit's llama.rs), and room for a short answer.
        fallback_context_length: 2048,
        max_context: 2048,
        reserved_answer_tokens: 256,
        turn_timeout: Duration::from_secs(120),
        memory: MemoryConfig {
            embedding_model: Some(EMBED.into()),
            index_interval: Duration::from_millis(20),
            recall_timeout: Duration::from_secs(10),
            ..MemoryConfig::default()
        },
        ..EngineConfig::default()
    }
}

fn dm(key: &str, text: &str) -> TurnRequest {
    TurnRequest {
        key: ConversationKey::new(key),
        scope: Scope {
            guild_id: None,
            channel_id: Some(ChannelId::new(7)),
            user_id: Some(ALICE),
        },
        author: Speaker {
            id: Some(ALICE),
            name: "alice".into(),
        },
        place: Place {
            user: "alice".into(),
            server: None,
            channel: None,
        },
        action: TurnAction::Message(UserMessage::text(text)),
        model: None,
        grants: mcpcord_engine::Grants::everything(),
    }
}

/// The answer's text (the model may be cut short by the turn timeout: what it said counts).
async fn answer(engine: &Engine, request: TurnRequest) -> String {
    let mut turn = engine.start_turn(request);
    let run = async {
        while let Some(event) = turn.next().await {
            match event {
                TurnEvent::Done(summary) => return summary.text,
                TurnEvent::Failed(error) => panic!("the turn failed: {error}"),
                _ => {}
            }
        }
        panic!("the turn ended without Done or Failed");
    };
    tokio::time::timeout(ANSWER_TIMEOUT, run)
        .await
        .expect("the real model answered in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smollm2_answers_from_a_recalled_fact() {
    let llama = LlamaServer::start().await;
    let fake = FakeOllama::start_with_models(vec![FakeModel::embedding(EMBED)]).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/memory.sqlite", dir.path().display()))
        .await
        .unwrap();

    // Three days ago, in another DM conversation, Alice named her cat.
    let earlier = store
        .conversation(
            &ConversationKey::new("dm:earlier"),
            dm("dm:earlier", "").scope,
            Some(ALICE),
        )
        .await
        .unwrap();
    let then = SystemTime::now() - Duration::from_secs(3 * 86_400);
    store
        .commit_turn(
            earlier.id,
            vec![
                NewMessage::user("My cat is called Pimpernel.")
                    .with_author(ALICE, "alice")
                    .at(then),
                NewMessage::assistant("What a lovely name!").at(then),
            ],
        )
        .await
        .unwrap();

    let pool = BackendPool::new(
        vec![
            BackendSpec::new("llamacpp", ServerKind::OpenAi, llama.url().parse().unwrap()),
            BackendSpec::new("fake", ServerKind::Ollama, fake.url().parse().unwrap()),
        ],
        PoolOptions::default(),
    );
    let engine = Engine::new(pool, None, store, config());
    assert!(engine.start_indexer());
    let started = Instant::now();
    while engine.indexed_vectors() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the indexer embedded the earlier conversation"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // A new conversation: recall is on by default, and the model answers from what was recalled.
    let with = answer(&engine, dm("dm:new", "What is my cat called?")).await;
    assert!(
        with.contains("Pimpernel"),
        "SmolLM2 answered from the recalled fact: {with:?}\n(llama.cpp log: {})",
        llama.log_tail()
    );
    // Switched off (the control), the model cannot know the name: it came from the recall.
    engine
        .set_recall(PreferenceLevel::User(ALICE), Some(false))
        .await
        .unwrap();
    let without = answer(&engine, dm("dm:control", "What is my cat called?")).await;
    assert!(
        !without.contains("Pimpernel"),
        "without recall the name is unknown: {without:?}"
    );

    println!("SmolLM2 with recall: {with:?}; without: {without:?}");
    engine.shutdown(Duration::from_secs(5)).await;
}
