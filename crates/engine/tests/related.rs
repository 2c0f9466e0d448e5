//! Related conversations through the real engine, on SQLite and PostgreSQL, with FakeOllama's
//! deterministic embeddings: after an answer, the person's earlier conversation whose newest
//! summary is a near-duplicate of the current one is found (by the current conversation's own
//! summary, or lacking one by its latest exchange), an unrelated one is not, nor another
//! person's; and nothing is found once the person or their server switches it off.

mod common;

use common::db::Db;
use common::{run, say};
use mcpcord_engine::{
    ConversationId, ConversationKey, Engine, EngineConfig, MemoryConfig, PreferenceLevel, Speaker,
};
use mcpcord_memory::{GuildId, NewSummary, Scope, Store, UserId};
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::{FakeModel, embedding_vector};

const EMBED: &str = "minilm";
/// FakeModel::embedding's vector length.
const DIMS: usize = 384;
const ALICE: UserId = UserId::new(42);
const BOB: UserId = UserId::new(43);

on_both_databases!(
    a_near_duplicate_conversation_is_related_and_an_unrelated_one_is_not,
    switching_it_off_finds_nothing,
);

fn engine(fake: &FakeOllama, store: Store) -> Engine {
    let pool = common::fake_pool(fake);
    let config = EngineConfig {
        default_model: "llama3.2".into(),
        memory: MemoryConfig {
            embedding_model: Some(EMBED.into()),
            recall: false,
            recall_timeout: std::time::Duration::from_secs(5),
            ..MemoryConfig::default()
        },
        ..EngineConfig::default()
    };
    Engine::new(pool, None, store, config)
}

async fn start() -> FakeOllama {
    FakeOllama::start_with_models(vec![
        FakeModel::new("llama3.2")
            .capabilities(&["completion"])
            .context_length(8_192),
        FakeModel::embedding(EMBED),
    ])
    .await
}

/// Runs one exchange of `who` in conversation `key` and stores `summary` for it, with the
/// vector the summariser would store (FakeOllama's embedding of the summary); its id.
async fn summarised(
    engine: &Engine,
    key: &str,
    who: UserId,
    said: &str,
    summary: Option<&str>,
) -> ConversationId {
    let mut request = say(key, said);
    request.author = Speaker {
        id: Some(who),
        name: "someone".into(),
    };
    request.scope.user_id = Some(who);
    run(engine, request).await;
    let store = engine.store();
    let conversation = store
        .find_conversation(&ConversationKey::new(key))
        .await
        .unwrap()
        .expect("the conversation exists");
    if let Some(text) = summary {
        let last = store.history(conversation.id, 1).await.unwrap()[0].id;
        let summary = NewSummary {
            through: last,
            text: text.into(),
            model: "llama3.2".into(),
            tokens: 10,
            vector: Some((EMBED.into(), embedding_vector(text, DIMS))),
        };
        store.save_summary(conversation.id, summary).await.unwrap();
    }
    conversation.id
}

fn alice_here() -> Scope {
    Scope {
        user_id: Some(ALICE),
        ..say("x", "x").scope
    }
}

const GARDEN: &str = "Planting tulip bulbs in the garden: how deep, and when in autumn.";

async fn a_near_duplicate_conversation_is_related_and_an_unrelated_one_is_not(db: Db) {
    let fake = start().await;
    let engine = engine(&fake, db.store().await);
    let garden = summarised(&engine, "chat:garden", ALICE, "tulips?", Some(GARDEN)).await;
    let car = "Repairing the automobile engine: a noisy timing belt and the brakes.";
    let _car = summarised(&engine, "chat:car", ALICE, "my car?", Some(car)).await;
    let bobs = summarised(&engine, "chat:bob", BOB, "tulips?", Some(GARDEN)).await;

    // The current conversation has no summary yet: its latest exchange is compared.
    let said = "Planting tulip bulbs in the garden: how deep, and when in autumn?";
    let now = summarised(&engine, "chat:now", ALICE, said, None).await;
    let related = engine
        .related_conversation(now, ALICE, &alice_here())
        .await
        .expect("the garden conversation is related");
    assert_eq!(related.conversation.id, garden);
    assert!(related.similarity >= 0.8, "{}", related.similarity);
    assert_ne!(related.conversation.id, bobs, "never another person's");

    // An unrelated conversation (by its own summary) finds nothing: the car one is far.
    let other = "Baking sourdough bread with a rye starter and a hot oven.";
    let bread = summarised(&engine, "chat:bread", ALICE, "bread?", Some(other)).await;
    assert_eq!(
        engine
            .related_conversation(bread, ALICE, &alice_here())
            .await,
        None
    );

    // Bob, from the same guild, sees his own near-duplicate conversation only... and no
    // other: Alice's garden is not his.
    let bob_here = Scope {
        user_id: Some(BOB),
        ..alice_here()
    };
    let bob_now = summarised(&engine, "chat:bob-now", BOB, said, Some(GARDEN)).await;
    let for_bob = engine
        .related_conversation(bob_now, BOB, &bob_here)
        .await
        .expect("Bob's own garden conversation");
    assert_eq!(for_bob.conversation.id, bobs);

    // From another guild, Alice's garden conversation is out of scope.
    let elsewhere = Scope {
        guild_id: Some(GuildId::new(999)),
        ..alice_here()
    };
    assert_eq!(
        engine.related_conversation(now, ALICE, &elsewhere).await,
        None
    );
}

async fn switching_it_off_finds_nothing(db: Db) {
    let fake = start().await;
    let engine = engine(&fake, db.store().await);
    let scope = alice_here();
    let garden = summarised(&engine, "chat:garden", ALICE, "tulips?", Some(GARDEN)).await;
    let now = summarised(&engine, "chat:now", ALICE, "bulbs?", Some(GARDEN)).await;
    assert!(engine.related_enabled(&scope).await.unwrap());
    let found = engine.related_conversation(now, ALICE, &scope).await;
    assert_eq!(found.map(|r| r.conversation.id), Some(garden));

    let guild = PreferenceLevel::Guild(scope.guild_id.unwrap());
    engine.set_related(guild, Some(false)).await.unwrap();
    assert!(!engine.related_enabled(&scope).await.unwrap());
    assert_eq!(engine.related_conversation(now, ALICE, &scope).await, None);

    // The person's own choice wins over the server's.
    let alice = PreferenceLevel::User(ALICE);
    engine.set_related(alice, Some(true)).await.unwrap();
    assert!(
        engine
            .related_conversation(now, ALICE, &scope)
            .await
            .is_some()
    );
    engine.set_related(alice, Some(false)).await.unwrap();
    engine.set_related(guild, None).await.unwrap();
    assert_eq!(engine.related_conversation(now, ALICE, &scope).await, None);

    // Not for a channel.
    let channel = PreferenceLevel::Channel(scope.channel_id.unwrap());
    let refused = engine.set_related(channel, Some(false)).await.unwrap_err();
    assert!(
        refused.to_string().contains("person or a server"),
        "{refused}"
    );
}
