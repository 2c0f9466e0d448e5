//! Long-term memory through the real engine, on SQLite and PostgreSQL: the background indexer
//! (embedding through FakeOllama's `/api/embed`, resuming after being stopped mid-way,
//! surviving the embedding backend being down), and recall into a new conversation's context
//! (present, dated, never the current conversation's own messages nor another person's, absent
//! when switched off), search finding by meaning as well as by words, within scope, and a
//! person's export and forgetting (the in-process vector index keeps nothing of theirs).

mod common;

use std::time::Duration;

use common::db::Db;
use common::{engine_on, request, run, say, until};
use mcpcord_engine::{
    EngineConfig, MemoryConfig, PreferenceLevel, RECALL_FOOTER, RECALL_HEADER, SearchQuery,
    SearchScope, Speaker, TurnAction,
};
use mcpcord_memory::{ChannelId, ConversationKey, GuildId, NewMessage, Scope, UserId};
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::FakeModel;

const EMBED: &str = "minilm";

on_both_databases!(
    recall_brings_other_conversations_into_a_new_one_until_switched_off,
    recall_comes_back_on_regenerate_and_continue,
    the_indexer_resumes_where_it_was_stopped,
    the_indexer_waits_out_a_backend_that_is_down,
    search_finds_by_meaning_and_by_words_within_scope,
    a_persons_export_and_forgetting_through_the_engine,
);

fn fake_models() -> Vec<FakeModel> {
    vec![
        FakeModel::new("llama3.2")
            .capabilities(&["completion"])
            .context_length(8_192),
        FakeModel::embedding(EMBED),
    ]
}

fn memory_config(batch: usize) -> EngineConfig {
    EngineConfig {
        default_model: "llama3.2".into(),
        memory: MemoryConfig {
            embedding_model: Some(EMBED.into()),
            index_batch: batch,
            index_interval: Duration::from_millis(20),
            recall_timeout: Duration::from_secs(5),
            // Room for the fact beside the questions asked again and again below.
            recall_snippets: 10,
            ..MemoryConfig::default()
        },
        ..EngineConfig::default()
    }
}

/// The system message of the latest chat request.
fn last_system(fake: &FakeOllama) -> String {
    let request = fake.last_chat_request().expect("a chat request");
    request["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// How many texts the embedding requests carried in all.
fn embedded_inputs(fake: &FakeOllama) -> usize {
    fake.requests_to("/api/embed")
        .iter()
        .filter(|r| r.status.map(|s| s.as_u16()) == Some(200))
        .filter_map(|r| r.json.as_ref())
        .map(|body| body["input"].as_array().map_or(1, Vec::len))
        .sum()
}

async fn recall_brings_other_conversations_into_a_new_one_until_switched_off(db: Db) {
    let fake = FakeOllama::start_with_models(fake_models()).await;
    let store = db.store().await;
    let engine = engine_on(&fake, store.clone(), memory_config(8));
    assert!(engine.start_indexer());
    // Alice told the bot something in one conversation; Bob said the same of his, beside her.
    run(
        &engine,
        say("chat:earlier", "My favourite automobile is a crimson Volvo"),
    )
    .await;
    let mut bob = say("chat:bob", "My favourite automobile is a crimson Ferrari");
    bob.author = Speaker {
        id: Some(UserId::new(43)),
        name: "bob".into(),
    };
    bob.scope.user_id = Some(UserId::new(43));
    run(&engine, bob).await;
    // Each turn stores the message and the echoed answer: four messages to embed.
    until("the indexer", async || engine.indexed_vectors() == 4).await;

    // A new conversation, sharing no word with the fact: the fact comes back, marked and dated.
    run(&engine, say("chat:new", "Which car do I like? Red?")).await;
    let system = last_system(&fake);
    assert!(system.contains(RECALL_HEADER), "{system}");
    assert!(system.contains(RECALL_FOOTER));
    assert!(
        system.contains("alice: My favourite automobile is a crimson Volvo"),
        "{system}"
    );
    let today = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    assert!(
        system.contains(&format!("- {}, ", &today[..10])),
        "dated: {system}"
    );
    assert!(
        !system.contains("Ferrari"),
        "never another person's conversation"
    );
    // The query embedding was asked of the embedding model.
    assert!(fake.count("/api/embed") >= 2);

    // Back in the first conversation: its own messages never come back as memory.
    until("the indexer", async || engine.indexed_vectors() == 6).await;
    run(&engine, say("chat:earlier", "Which car do I like? Red?")).await;
    let system = last_system(&fake);
    let block = system.split(RECALL_HEADER).nth(1).unwrap_or_default();
    assert!(!block.contains("Volvo"), "{system}");

    // Switched off for Alice: a new conversation starts knowing nothing.
    engine
        .set_recall(PreferenceLevel::User(UserId::new(42)), Some(false))
        .await
        .unwrap();
    let scope = Scope {
        guild_id: Some(GuildId::new(1)),
        channel_id: Some(ChannelId::new(2)),
        user_id: Some(UserId::new(42)),
    };
    assert!(!engine.recall_enabled(&scope).await.unwrap());
    run(&engine, say("chat:newer", "Which car do I like? Red?")).await;
    assert!(!last_system(&fake).contains(RECALL_HEADER));
    // Off for the guild, on for her: hers wins.
    engine
        .set_recall(PreferenceLevel::Guild(GuildId::new(1)), Some(false))
        .await
        .unwrap();
    engine
        .set_recall(PreferenceLevel::User(UserId::new(42)), Some(true))
        .await
        .unwrap();
    assert!(engine.recall_enabled(&scope).await.unwrap());
    run(&engine, say("chat:newest", "Which car do I like? Red?")).await;
    assert!(last_system(&fake).contains("crimson Volvo"));
    // A channel is not a level recall is switched at.
    assert!(
        engine
            .set_recall(PreferenceLevel::Channel(ChannelId::new(2)), Some(false))
            .await
            .is_err()
    );
    engine.shutdown(Duration::from_secs(5)).await;
}

async fn recall_comes_back_on_regenerate_and_continue(db: Db) {
    let fake = FakeOllama::start_with_models(fake_models()).await;
    let store = db.store().await;
    let engine = engine_on(&fake, store.clone(), memory_config(8));
    assert!(engine.start_indexer());
    run(
        &engine,
        say("chat:earlier", "My favourite automobile is a crimson Volvo"),
    )
    .await;
    until("the indexer", async || engine.indexed_vectors() == 2).await;
    run(&engine, say("chat:new", "Which car do I like? Red?")).await;
    assert!(last_system(&fake).contains("crimson Volvo"));

    // The answer written again, then extended: the same memory, found from the message the
    // answer answers (the conversation's own messages still never recalled).
    for action in [TurnAction::REGENERATE_LATEST, TurnAction::CONTINUE_LATEST] {
        fake.clear_requests();
        run(&engine, request("chat:new", action.clone())).await;
        let system = last_system(&fake);
        assert!(system.contains(RECALL_HEADER), "{action:?}: {system}");
        assert!(
            system.contains("alice: My favourite automobile is a crimson Volvo"),
            "{action:?}: {system}"
        );
        let block = system.split(RECALL_HEADER).nth(1).unwrap_or_default();
        assert!(!block.contains("Which car"), "{action:?}: {system}");
    }

    // Switched off for her: neither brings it back.
    engine
        .set_recall(PreferenceLevel::User(UserId::new(42)), Some(false))
        .await
        .unwrap();
    for action in [TurnAction::REGENERATE_LATEST, TurnAction::CONTINUE_LATEST] {
        run(&engine, request("chat:new", action.clone())).await;
        assert!(!last_system(&fake).contains(RECALL_HEADER), "{action:?}");
    }
    engine.shutdown(Duration::from_secs(5)).await;
}

async fn the_indexer_resumes_where_it_was_stopped(db: Db) {
    const MESSAGES: usize = 300;
    const BATCH: usize = 2;
    let store = db.store().await;
    let conversation = store
        .conversation(
            &ConversationKey::new("bulk"),
            Scope::default(),
            Some(UserId::new(42)),
        )
        .await
        .unwrap();
    let messages = (0..MESSAGES)
        .map(|i| NewMessage::user(format!("note {i} about topic {}", i * 7)))
        .collect();
    store.commit_turn(conversation.id, messages).await.unwrap();

    let fake = FakeOllama::start_with_models(fake_models()).await;
    let first = engine_on(&fake, store.clone(), memory_config(BATCH));
    first.start_indexer();
    until("a few batches", async || {
        store.embedded_count(EMBED).await.unwrap() >= 4
    })
    .await;
    first.stop_indexer().await;
    let stopped_at = store.embedded_count(EMBED).await.unwrap() as usize;
    assert!(
        stopped_at < MESSAGES,
        "stopped mid-way ({stopped_at} of {MESSAGES})"
    );
    let sent_before = embedded_inputs(&fake);
    assert!(sent_before <= stopped_at + BATCH, "{sent_before} sent");

    // A new process: it loads what was stored, and embeds only the rest. It talks to a new
    // backend, so a request the first one abandoned on stop cannot land in its count.
    let fake = FakeOllama::start_with_models(fake_models()).await;
    let second = engine_on(&fake, store.clone(), memory_config(BATCH));
    second.start_indexer();
    until("the rest", async || second.indexed_vectors() == MESSAGES).await;
    assert_eq!(
        store.embedded_count(EMBED).await.unwrap() as usize,
        MESSAGES
    );
    let sent_after = embedded_inputs(&fake);
    assert!(
        sent_after <= MESSAGES - stopped_at,
        "only what was missing was embedded again: {sent_after} for {} missing",
        MESSAGES - stopped_at
    );
    // A third start embeds nothing at all.
    second.shutdown(Duration::from_secs(5)).await;
    let fake = FakeOllama::start_with_models(fake_models()).await;
    let third = engine_on(&fake, store.clone(), memory_config(BATCH));
    third.start_indexer();
    until("the load", async || third.indexed_vectors() == MESSAGES).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(embedded_inputs(&fake), 0);
    third.shutdown(Duration::from_secs(5)).await;
}

async fn the_indexer_waits_out_a_backend_that_is_down(db: Db) {
    let store = db.store().await;
    let fake = FakeOllama::start_with_models(fake_models()).await;
    fake.set_embeddings_down(true);
    let engine = engine_on(&fake, store.clone(), memory_config(16));
    engine.start_indexer();
    run(&engine, say("chat:a", "remember the blue door")).await;
    until("two failed attempts", async || {
        fake.requests_to("/api/embed")
            .iter()
            .filter(|r| r.status.map(|s| s.as_u16()) == Some(503))
            .count()
            >= 2
    })
    .await;
    assert_eq!(store.embedded_count(EMBED).await.unwrap(), 0);
    assert_eq!(engine.indexed_vectors(), 0);
    // While it is down, turns still run, and recall falls back on keyword hits alone.
    run(&engine, say("chat:b", "and the red window")).await;
    run(&engine, say("chat:c", "The blue door?")).await;
    let system = last_system(&fake);
    assert!(system.contains("alice: remember the blue door"), "{system}");

    fake.set_embeddings_down(false);
    until("the backend's return", async || {
        engine.indexed_vectors() == 6
    })
    .await;
    assert_eq!(store.embedded_count(EMBED).await.unwrap(), 6);
    engine.shutdown(Duration::from_secs(5)).await;
}

async fn search_finds_by_meaning_and_by_words_within_scope(db: Db) {
    let fake = FakeOllama::start_with_models(fake_models()).await;
    let engine = engine_on(&fake, db.store().await, memory_config(8));
    assert!(engine.start_indexer());
    run(
        &engine,
        say("chat:car", "My favourite automobile is a crimson Volvo"),
    )
    .await;
    run(
        &engine,
        say("chat:trip", "The weather in Oslo was grey all week"),
    )
    .await;
    let mut bob = say("chat:bob", "My favourite automobile is a crimson Ferrari");
    bob.author = Speaker {
        id: Some(UserId::new(43)),
        name: "bob".into(),
    };
    bob.scope.user_id = Some(UserId::new(43));
    run(&engine, bob).await;
    // Three messages and their three echoed answers.
    until("the indexer", async || engine.indexed_vectors() == 6).await;
    let alice = SearchScope::person(UserId::new(42), Some(GuildId::new(1)));

    // No word in common with the fact: found by meaning, never Bob's.
    let hits = engine
        .search(&SearchQuery::new(
            "Which car do I like? Red?",
            alice.clone(),
        ))
        .await
        .unwrap();
    assert!(
        hits.iter().any(|hit| hit.content.contains("crimson Volvo")),
        "{hits:#?}"
    );
    assert!(
        hits.iter().all(|hit| !hit.content.contains("Ferrari")),
        "another person's conversation: {hits:#?}"
    );
    assert!(
        hits.iter().all(|hit| !hit.content.contains("Oslo")),
        "unrelated: {hits:#?}"
    );

    // By a word, still.
    let hits = engine
        .search(&SearchQuery::new("Oslo", alice.clone()))
        .await
        .unwrap();
    assert!(
        hits.iter().any(|hit| hit.content.contains("Oslo")),
        "{hits:#?}"
    );

    // The embedding model down: words only, and the search still answers.
    fake.set_embeddings_down(true);
    let hits = engine
        .search(&SearchQuery::new("Which car do I like? Red?", alice))
        .await
        .unwrap();
    assert!(
        hits.iter().all(|hit| !hit.content.contains("Volvo")),
        "no meaning without the model: {hits:#?}"
    );
}

/// Bob's turn in conversation `key`.
fn bob_says(key: &str, text: &str) -> mcpcord_engine::TurnRequest {
    let mut bob = say(key, text);
    bob.author = Speaker {
        id: Some(UserId::new(43)),
        name: "bob".into(),
    };
    bob.scope.user_id = Some(UserId::new(43));
    bob
}

async fn a_persons_export_and_forgetting_through_the_engine(db: Db) {
    let fake = FakeOllama::start_with_models(fake_models()).await;
    let store = db.store().await;
    let engine = engine_on(&fake, store.clone(), memory_config(8));
    assert!(engine.start_indexer());
    let alice = UserId::new(42);
    run(&engine, say("chat:alice", "alice alone with a wombatcello")).await;
    run(&engine, bob_says("chat:bob", "bob alone with a yakharp")).await;
    run(&engine, say("chat:shared", "alice asks about the emuoboe")).await;
    run(
        &engine,
        bob_says("chat:shared", "bob asks about the gnukazoo"),
    )
    .await;
    until("the indexer", async || engine.indexed_vectors() == 8).await;

    let data = engine.privacy_export(alice).await.unwrap();
    let json = serde_json::to_string(&data).unwrap();
    assert!(
        json.contains("wombatcello") && json.contains("emuoboe"),
        "{json}"
    );
    assert!(
        !json.contains("yakharp") && !json.contains("gnukazoo"),
        "{json}"
    );
    assert_eq!(data.conversations.len(), 2);

    let report = engine.privacy_forget(alice).await.unwrap();
    assert_eq!(report.conversations_deleted, 1);
    assert_eq!(report.messages_replaced_by_note, 1);
    // Her three messages' codes left the in-process index; the stored vectors agree with it.
    assert_eq!(engine.indexed_vectors(), 5);
    assert_eq!(store.embedded_count(EMBED).await.unwrap(), 5);
    let hits = engine
        .search(&mcpcord_engine::SearchQuery::new(
            "emuoboe",
            mcpcord_engine::SearchScope::operator(None),
        ))
        .await
        .unwrap();
    // Her message is gone from the index; the answer she got stays (FakeOllama's answer quotes
    // her: answers are kept by design).
    assert!(!hits.is_empty());
    assert!(
        hits.iter()
            .all(|hit| hit.role == mcpcord_engine::Role::Assistant && hit.author.is_none()),
        "{hits:?}"
    );
    let bob = engine.privacy_export(UserId::new(43)).await.unwrap();
    let json = serde_json::to_string(&bob).unwrap();
    assert!(
        json.contains("yakharp") && json.contains("gnukazoo"),
        "{json}"
    );
    // The indexer runs on and finds nothing of hers to embed again.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(engine.indexed_vectors(), 5);
    engine.shutdown(Duration::from_secs(5)).await;
}
