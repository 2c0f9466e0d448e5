//! Rolling summaries through the real engine, on SQLite and PostgreSQL, with FakeOllama's
//! scripted answers: a long conversation answered with a summary in place of its oldest turns
//! (and the summary stored, announced once); a title, category and entities stored after the
//! first exchange (and a title still when the model answers with prose); the daily token cap
//! stopping background work until the next day; work resuming after a restart, with a turn
//! answered while the summary model is stuck (the turn never waits for it); and the real
//! SmolLM2 writing a summary once.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::db::Db;
use common::{engine_on, run, say, until};
use mcpcord_engine::{
    ConversationId, ConversationKey, Engine, EngineConfig, MemoryConfig, SUMMARY_HEADER,
};
use mcpcord_llm::{BackendPool, BackendSpec, PoolOptions, ServerKind};
use mcpcord_memory::{Entity, EntityKind, Store};
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::{FakeModel, Script};

on_both_databases!(
    a_long_conversation_is_answered_with_a_summary_in_place_of_its_oldest_turns,
    a_title_category_and_entities_are_stored_after_the_first_exchange,
    the_daily_cap_stops_background_work_until_the_next_day,
    background_work_resumes_after_a_restart_and_never_holds_a_turn,
    background_work_given_way_for_long_runs_while_turns_go_on,
);

/// The summary model (`models.summary`), with a context of its own.
const SUMMARY_MODEL: &str = "summer";

const DIGEST: &str = r#"Here you go: {"title": "Alice's garden", "category": "Hobbies",
 "entities": [{"kind": "people", "name": "Alice"}, {"kind": "place", "name": "Oslo"},
              {"kind": "feeling", "name": "joy"}],
 "summary": "Alice described her garden in Oslo, turn after turn."}"#;

fn models() -> Vec<FakeModel> {
    vec![
        // A small context: a few exchanges fill it.
        FakeModel::new("llama3.2")
            .capabilities(&["completion"])
            .context_length(600),
        FakeModel::new(SUMMARY_MODEL)
            .capabilities(&["completion"])
            .context_length(8_192),
    ]
}

fn config() -> EngineConfig {
    EngineConfig {
        default_model: "llama3.2".into(),
        reserved_answer_tokens: 100,
        memory: MemoryConfig {
            summary_model: Some(SUMMARY_MODEL.into()),
            background_interval: Duration::from_millis(20),
            ..MemoryConfig::default()
        },
        ..EngineConfig::default()
    }
}

/// Starts the summariser once the last turn's task is over (background calls wait for a
/// moment without turns), so that scripted answers go to the jobs in order.
async fn start_when_idle(engine: &Engine) {
    until("no turn", async || {
        let status = engine.status();
        status.turns_in_flight + status.turns_queued == 0
    })
    .await;
    assert!(engine.start_summariser());
}

/// The id of conversation `key`.
async fn conversation(engine: &Engine, key: &str) -> ConversationId {
    engine
        .store()
        .find_conversation(&ConversationKey::new(key))
        .await
        .unwrap()
        .expect("the conversation exists")
        .id
}

/// A message of about 50 tokens, numbered.
fn long_message(n: usize) -> String {
    format!("Turn {n}: {}", "my garden has tulips ".repeat(9))
}

/// The chat requests FakeOllama received for `model`.
fn chats_to(fake: &FakeOllama, model: &str) -> Vec<serde_json::Value> {
    fake.chat_requests()
        .into_iter()
        .filter(|r| r["model"] == model)
        .collect()
}

async fn a_long_conversation_is_answered_with_a_summary_in_place_of_its_oldest_turns(db: Db) {
    let fake = FakeOllama::start_with_models(models()).await;
    let engine = engine_on(&fake, db.store().await, config());
    // Seven exchanges of ~100 tokens in a 500-token budget: the oldest no longer fit.
    let mut left_out_notices = 0;
    for n in 0..7 {
        let (events, _) = run(&engine, say("chat:garden", &long_message(n))).await;
        left_out_notices += events
            .iter()
            .filter(|e| e.contains("a summary of them is being written"))
            .count();
    }
    assert!(left_out_notices > 0, "the history stopped fitting");
    let id = conversation(&engine, "chat:garden").await;
    // The last turn asked for a summary of the left-out messages and the older half of those
    // kept (so the next turns fit without asking again); nothing was summarised on its way.
    let kept = fake.last_chat_request().unwrap()["messages"]
        .as_array()
        .unwrap()
        .len()
        - 1;
    let history = engine.store().history(id, 100).await.unwrap();
    let asked = &history[..history.len() - 1]; // What the last turn saw: not its answer.
    let left_out = asked.len() - kept;
    let wanted = asked[left_out + kept / 2 - 1].id;
    until("the marker", async || {
        let jobs = engine
            .store()
            .background_jobs(ConversationId(0), 10)
            .await
            .unwrap();
        jobs.iter()
            .any(|j| j.conversation == id && j.summarise_through == Some(wanted))
    })
    .await;
    assert!(chats_to(&fake, SUMMARY_MODEL).is_empty());

    fake.push_script(Script::reply(DIGEST));
    start_when_idle(&engine).await;
    until("the summary", async || {
        engine.summary(id).await.unwrap().is_some()
    })
    .await;
    let summary = engine.summary(id).await.unwrap().unwrap();
    assert_eq!(summary.version, 1);
    assert_eq!(
        summary.text,
        "Alice described her garden in Oslo, turn after turn."
    );
    assert_eq!(summary.model, SUMMARY_MODEL);
    assert_eq!(summary.through, wanted);
    assert!(summary.tokens > 0);
    // The summary model read the oldest turns, up to the message the summary covers.
    let asked = chats_to(&fake, SUMMARY_MODEL);
    assert_eq!(asked.len(), 1, "one background call");
    assert_eq!(engine.background_spent().0, 1);
    let prompt = asked[0]["messages"][1]["content"].as_str().unwrap();
    assert!(prompt.contains("Turn 0:"), "{prompt}");
    assert!(
        !prompt.contains("Turn 6:"),
        "the newest turns stay as they are"
    );

    // The next turn: [system + summary][the newest messages that fit], told the first time.
    let (events, _) = run(&engine, say("chat:garden", &long_message(7))).await;
    assert!(
        events
            .iter()
            .any(|e| e.contains("a summary of them stands in")),
        "{events:?}"
    );
    let request = fake.last_chat_request().unwrap();
    assert_eq!(request["model"], "llama3.2");
    let messages = request["messages"].as_array().unwrap();
    let system = messages[0]["content"].as_str().unwrap();
    assert!(system.contains(SUMMARY_HEADER), "{system}");
    assert!(system.contains("Alice described her garden in Oslo"));
    let rest: Vec<&str> = messages[1..]
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(rest.iter().all(|m| !m.contains("Turn 0:")), "{rest:?}");
    assert!(rest.last().unwrap().contains("Turn 7:"));
    // Told once: after the announcement is recorded, the next turn says nothing of it.
    until("the announcement", async || {
        engine.summary(id).await.unwrap().unwrap().announced
    })
    .await;
    let (events, _) = run(&engine, say("chat:garden", &long_message(8))).await;
    assert!(!events.iter().any(|e| e.contains("summary")), "{events:?}");
    let topics = engine.topics(id).await.unwrap();
    assert_eq!(topics.title.as_deref(), Some("Alice's garden"));

    // Later turns may extend the summary (a newer version covering more): counted here too.
    let (calls, tokens) = engine.background_spent();
    println!(
        "background cost: {calls} model call(s), {tokens} tokens for 9 turns ({:.1} tokens a turn)",
        tokens as f64 / 9.0
    );
    engine.shutdown(Duration::from_secs(5)).await;
}

async fn a_title_category_and_entities_are_stored_after_the_first_exchange(db: Db) {
    let fake = FakeOllama::start_with_models(models()).await;
    let engine = engine_on(&fake, db.store().await, config());
    run(&engine, say("chat:garden", "Tell me about tulips in Oslo")).await;
    run(&engine, say("chat:prose", "Which bike should I buy?")).await;
    let (garden, prose) = (
        conversation(&engine, "chat:garden").await,
        conversation(&engine, "chat:prose").await,
    );
    assert_eq!(engine.topics(garden).await.unwrap().title, None);
    // One call each, in conversation order: a good object, then prose from a small model.
    fake.push_scripts([
        Script::reply(DIGEST),
        Script::reply("Buying a bike\nThe person wants a bike."),
    ]);
    start_when_idle(&engine).await;
    until("both titles", async || {
        engine.topics(prose).await.unwrap().title.is_some()
    })
    .await;

    let topics = engine.topics(garden).await.unwrap();
    assert_eq!(topics.title.as_deref(), Some("Alice's garden"));
    assert_eq!(topics.category.as_deref(), Some("hobbies"));
    assert_eq!(
        topics.entities,
        [
            Entity {
                kind: EntityKind::People,
                name: "Alice".into()
            },
            Entity {
                kind: EntityKind::Place,
                name: "Oslo".into()
            },
        ]
    );
    let fallback = engine.topics(prose).await.unwrap();
    assert_eq!(fallback.title.as_deref(), Some("Buying a bike"));
    assert_eq!(fallback.category, None);
    // No summary was asked for: the conversations fit.
    assert!(engine.summary(garden).await.unwrap().is_none());
    let asked = chats_to(&fake, SUMMARY_MODEL);
    assert_eq!(asked.len(), 2);
    let system = asked[0]["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("programming, work"), "{system}");
    assert!(!system.contains("\"summary\""), "{system}");
    engine.shutdown(Duration::from_secs(5)).await;
}

async fn the_daily_cap_stops_background_work_until_the_next_day(db: Db) {
    let fake = FakeOllama::start_with_models(models()).await;
    let mut config = config();
    config.memory.background_tokens_per_guild_per_day = Some(50);
    let engine = engine_on(&fake, db.store().await, config);
    run(&engine, say("chat:one", "First question")).await;
    run(&engine, say("chat:two", "Second question")).await;
    let (one, two) = (
        conversation(&engine, "chat:one").await,
        conversation(&engine, "chat:two").await,
    );
    // The first job costs 120 tokens: the guild's 50 for today are spent after it.
    fake.push_scripts([
        Script::reply(r#"{"title": "One"}"#).usage(100, 20),
        Script::reply(r#"{"title": "Two"}"#).usage(100, 20),
    ]);
    start_when_idle(&engine).await;
    until("the first title", async || {
        engine.topics(one).await.unwrap().title.is_some()
    })
    .await;
    // Several sweeps later, the second conversation still waits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(engine.topics(two).await.unwrap().title, None);
    assert_eq!(engine.background_spent(), (1, 120));
    assert_eq!(fake.pending_scripts(), 1);

    // Tomorrow the cap starts again.
    engine.set_clock(|| SystemTime::now() + Duration::from_secs(86_400));
    until("the second title", async || {
        engine.topics(two).await.unwrap().title.is_some()
    })
    .await;
    assert_eq!(
        engine.topics(two).await.unwrap().title.as_deref(),
        Some("Two")
    );
    assert_eq!(engine.background_spent(), (2, 240));
    engine.shutdown(Duration::from_secs(5)).await;
}

async fn background_work_resumes_after_a_restart_and_never_holds_a_turn(db: Db) {
    let fake = FakeOllama::start_with_models(models()).await;
    // Once given up, the job is not tried again before the restart.
    let mut slow = config();
    slow.memory.background_interval = Duration::from_secs(3_600);
    let engine1 = engine_on(&fake, db.store().await, slow);
    run(&engine1, say("chat:garden", "Tell me about tulips")).await;
    let id = conversation(&engine1, "chat:garden").await;
    // The summary model hangs.
    fake.push_script(Script::new().stall());
    start_when_idle(&engine1).await;
    until("the stuck background call", async || fake.in_flight() == 1).await;
    // A turn meanwhile is answered at once: the background call gives way to it.
    let (_, summary) = run(&engine1, say("chat:garden", "And roses?")).await;
    until("the background call given up", async || {
        fake.in_flight() == 0
    })
    .await;
    assert_eq!(summary.text, "alice: And roses?");
    assert_eq!(engine1.topics(id).await.unwrap().title, None);
    // Stopped with the work undone (a restart).
    engine1.shutdown(Duration::from_secs(5)).await;
    engine1.store().close().await;
    drop(engine1);

    let engine2 = engine_on(&fake, db.store().await, config());
    fake.push_script(Script::reply(DIGEST));
    start_when_idle(&engine2).await;
    until("the title after the restart", async || {
        engine2.topics(id).await.unwrap().title.is_some()
    })
    .await;
    assert_eq!(
        engine2.topics(id).await.unwrap().title.as_deref(),
        Some("Alice's garden")
    );
    engine2.shutdown(Duration::from_secs(5)).await;
}

async fn background_work_given_way_for_long_runs_while_turns_go_on(db: Db) {
    let fake = FakeOllama::start_with_models(models()).await;
    let pool = BackendPool::new(
        vec![BackendSpec {
            max_concurrency: 2,
            ..BackendSpec::new("fake", ServerKind::Ollama, fake.url().parse().unwrap())
        }],
        PoolOptions::default(),
    );
    let engine = Engine::new(pool, None, db.store().await, config());
    run(&engine, say("chat:garden", "Tell me about tulips")).await;
    let id = conversation(&engine, "chat:garden").await;
    // A turn that never ends: the bot is never idle.
    fake.push_script(Script::new().stall());
    let busy = engine.start_turn(say("chat:busy", "Are you there?"));
    until("the busy turn's model call", async || fake.in_flight() == 1).await;
    fake.push_script(Script::reply(DIGEST));
    assert!(engine.start_summariser());
    // The pass gives way to the turn for a while...
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(engine.topics(id).await.unwrap().title, None);
    assert_eq!(engine.background_spent().0, 0);
    // ...but not for ever: once it has waited long enough, its call runs beside the turn.
    engine.set_clock(|| SystemTime::now() + Duration::from_secs(600));
    until("the title while the turn goes on", async || {
        engine.topics(id).await.unwrap().title.is_some()
    })
    .await;
    assert_eq!(
        engine.topics(id).await.unwrap().title.as_deref(),
        Some("Alice's garden")
    );
    assert_eq!(
        fake.in_flight(),
        1,
        "the busy turn still waits for its answer"
    );
    busy.stop();
    drop(busy);
    engine.shutdown(Duration::from_secs(5)).await;
}

/// The real SmolLM2-135M (llama.cpp from `.tools`) writes a summary once, whatever shape its
/// answer takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smollm2_writes_a_summary_once() {
    use mcpcord_memory::{ChannelId, GuildId, NewMessage, Scope, UserId};
    use mcpcord_testkit::llama::{LlamaServer, MODEL};

    let llama = LlamaServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/summary.sqlite", dir.path().display()))
        .await
        .unwrap();
    let alice = UserId::new(42);
    let scope = Scope {
        guild_id: Some(GuildId::new(1)),
        channel_id: Some(ChannelId::new(2)),
        user_id: Some(alice),
    };
    let talk = store
        .conversation(&ConversationKey::new("chat:trip"), scope, Some(alice))
        .await
        .unwrap();
    let ids = store
        .commit_turn(
            talk.id,
            vec![
                NewMessage::user("I am planning a trip to Paris in May.")
                    .with_author(alice, "alice"),
                NewMessage::assistant("Paris in May is lovely. What do you want to see?"),
                NewMessage::user("The Louvre and the Eiffel Tower.").with_author(alice, "alice"),
                NewMessage::assistant("Book the Louvre tickets early."),
            ],
        )
        .await
        .unwrap();
    store.request_summary(talk.id, ids[3]).await.unwrap();

    let pool = BackendPool::new(
        vec![BackendSpec::new(
            "llamacpp",
            ServerKind::OpenAi,
            llama.url().parse().unwrap(),
        )],
        PoolOptions::default(),
    );
    let config = EngineConfig {
        default_model: MODEL.into(),
        fallback_context_length: 2048,
        max_context: 2048,
        temperature: Some(0.0),
        memory: MemoryConfig {
            background_interval: Duration::from_millis(50),
            ..MemoryConfig::default()
        },
        ..EngineConfig::default()
    };
    let engine = Engine::new(pool, None, store, config);
    start_when_idle(&engine).await;
    let started = Instant::now();
    // The summary is stored first, then the title: both are there once the title is.
    let summary = loop {
        let titled = engine.topics(talk.id).await.unwrap().title.is_some();
        if let (true, Some(summary)) = (titled, engine.summary(talk.id).await.unwrap()) {
            break summary;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "SmolLM2 wrote a summary in time (llama.cpp log: {})",
            llama.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(summary.version, 1);
    assert_eq!(summary.through, ids[3]);
    assert_eq!(summary.model, MODEL);
    assert!(!summary.text.trim().is_empty());
    let topics = engine.topics(talk.id).await.unwrap();
    assert!(
        topics.title.is_some(),
        "a title, from the model or the first message"
    );
    let (calls, tokens) = engine.background_spent();
    assert_eq!(calls, 1, "written once");
    println!(
        "SmolLM2 summary ({tokens} tokens): {:?}; title {:?}",
        summary.text, topics.title
    );
    engine.shutdown(Duration::from_secs(5)).await;
}
