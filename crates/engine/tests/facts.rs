//! Facts about a person through the real engine, on SQLite and PostgreSQL, with FakeOllama
//! scripting the built-in tool calls: `mcpcord__remember` stores the fact with its provenance,
//! and a new conversation's system prompt (as FakeOllama receives it) carries it, in the same
//! scope only (not in another guild; a fact said in a DM not in a guild); `mcpcord__forget`
//! removes it and the next prompt no longer has it; with `memory.facts` off the built-ins are not
//! offered and nothing can be remembered.

mod common;

use common::db::Db;
use common::*;
use mcpcord_engine::{EngineConfig, FACTS_HEADER, GuildId, MemoryConfig, TurnRequest, UserId};
use mcpcord_testkit::fake_ollama::Script;
use serde_json::{Value, json};

on_both_databases!(
    remember_reaches_new_conversations_in_its_scope_only,
    forget_removes_the_fact_from_the_next_prompt,
);

const ALICE: UserId = UserId::new(42);
const GUILD: GuildId = GuildId::new(1);

fn facts_on() -> EngineConfig {
    EngineConfig {
        memory: MemoryConfig {
            facts: true,
            ..MemoryConfig::default()
        },
        ..config("llama3.2")
    }
}

/// `text` said by alice in conversation `key`, in `guild` (`None`: her DMs).
fn said_in(guild: Option<GuildId>, key: &str, text: &str) -> TurnRequest {
    let mut request = say(key, text);
    request.scope.guild_id = guild;
    if guild.is_none() {
        request.place.server = None;
    }
    request
}

/// The system prompt of the last chat request.
fn system_prompt(h: &Harness) -> String {
    let request = h.fake.last_chat_request().expect("a chat request");
    assert_eq!(request["messages"][0]["role"], "system", "{request:#}");
    request["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The tool names offered in chat request `request`.
fn offered(request: &Value) -> Vec<String> {
    request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Alice asks the bot in `guild` to remember `fact`; the model calls `mcpcord__remember`.
async fn remember(h: &Harness, guild: Option<GuildId>, key: &str, fact: &str) -> Vec<String> {
    h.fake
        .push_script(Script::new().tool_call("mcpcord__remember", json!({ "fact": fact })));
    h.fake.push_script(Script::reply("I will remember that."));
    let (events, summary) = run(
        &h.engine,
        said_in(guild, key, &format!("please remember: {fact}")),
    )
    .await;
    assert_eq!(summary.tool_calls, 1, "{events:?}");
    events
}

/// A new conversation in `guild`: its system prompt.
async fn new_conversation_prompt(h: &Harness, guild: Option<GuildId>, key: &str) -> String {
    h.fake.push_script(Script::reply("Hello."));
    run(&h.engine, said_in(guild, key, "what do you know about me?")).await;
    system_prompt(h)
}

async fn remember_reaches_new_conversations_in_its_scope_only(mut db: Db) {
    let (store, dir) = (db.store().await, db.folder());
    let h = harness_on(store, dir, vec![tool_model()], None, facts_on()).await;

    let events = remember(&h, Some(GUILD), "g1", "likes green tea").await;
    assert!(
        events.contains(&"tool mcpcord/remember".to_owned()),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("finished true Remembered (#")),
        "{events:?}"
    );
    let first = &h.fake.chat_requests()[0];
    let names = offered(first);
    assert!(names.contains(&"mcpcord__remember".to_owned()), "{names:?}");
    assert!(names.contains(&"mcpcord__forget".to_owned()), "{names:?}");

    // Stored with its provenance: alice, the guild, the message she said it in.
    let facts = h.engine.facts(ALICE, Some(GUILD)).await.unwrap();
    assert_eq!(facts.len(), 1, "{facts:?}");
    assert_eq!(facts[0].text, "likes green tea");
    let asked = h.history("g1").await[0].clone();
    assert_eq!(facts[0].message, Some(asked.id));

    // A new conversation in the same guild carries it, marked.
    let prompt = new_conversation_prompt(&h, Some(GUILD), "g2").await;
    assert!(prompt.contains(FACTS_HEADER), "{prompt}");
    assert!(prompt.contains("- likes green tea"), "{prompt}");

    // Not in another guild, not in her DMs.
    let prompt = new_conversation_prompt(&h, Some(GuildId::new(7)), "other").await;
    assert!(
        !prompt.contains("green tea") && !prompt.contains(FACTS_HEADER),
        "{prompt}"
    );
    let prompt = new_conversation_prompt(&h, None, "dm1").await;
    assert!(!prompt.contains("green tea"), "{prompt}");

    // Said in a DM: in her DMs, never in the guild.
    remember(&h, None, "dm2", "is learning Welsh").await;
    let prompt = new_conversation_prompt(&h, None, "dm3").await;
    assert!(prompt.contains("- is learning Welsh"), "{prompt}");
    let prompt = new_conversation_prompt(&h, Some(GUILD), "g3").await;
    assert!(!prompt.contains("Welsh"), "{prompt}");
    assert!(prompt.contains("- likes green tea"), "{prompt}");
}

async fn forget_removes_the_fact_from_the_next_prompt(mut db: Db) {
    let (store, dir) = (db.store().await, db.folder());
    let h = harness_on(store, dir, vec![tool_model()], None, facts_on()).await;
    remember(&h, Some(GUILD), "g1", "likes green tea").await;
    remember(&h, Some(GUILD), "g2", "has a cat called Miso").await;

    h.fake
        .push_script(Script::new().tool_call("mcpcord__forget", json!({ "fact": "green tea" })));
    h.fake.push_script(Script::reply("Forgotten."));
    let (events, _) = run(
        &h.engine,
        said_in(Some(GUILD), "g3", "forget the tea thing"),
    )
    .await;
    assert!(
        events.contains(&"finished true Forgotten: likes green tea".to_owned()),
        "{events:?}"
    );
    let left = h.engine.facts(ALICE, Some(GUILD)).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].text, "has a cat called Miso");

    let prompt = new_conversation_prompt(&h, Some(GUILD), "g4").await;
    assert!(!prompt.contains("green tea"), "{prompt}");
    assert!(prompt.contains("- has a cat called Miso"), "{prompt}");
}

#[tokio::test]
async fn with_facts_off_the_built_ins_are_not_offered_and_nothing_is_remembered() {
    let h = harness(vec![tool_model()], None, config("llama3.2")).await;
    h.fake.push_script(Script::reply("Hi."));
    run(&h.engine, say("c1", "hello")).await;
    let names = offered(&h.fake.last_chat_request().unwrap());
    assert!(
        !names.iter().any(|n| n.starts_with("mcpcord__")),
        "{names:?}"
    );

    // A model calling it anyway (from an old history, or a guess) is refused.
    h.fake
        .push_script(Script::new().tool_call("mcpcord__remember", json!({ "fact": "likes tea" })));
    h.fake.push_script(Script::reply("Sorry."));
    let (events, _) = run(&h.engine, say("c1", "remember I like tea")).await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("finished false Error: this bot does not remember facts")),
        "{events:?}"
    );
    let error = h
        .engine
        .remember(ALICE, Some(GUILD), "likes tea", None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("memory.facts"), "{error}");
    assert!(h.engine.facts(ALICE, Some(GUILD)).await.unwrap().is_empty());
}
