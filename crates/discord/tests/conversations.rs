//! `/conversations`, `/continue` and `/tag` end to end (FakeDiscord + FakeOllama + SQLite,
//! driving `mcpcord_discord::run`): a person's recent conversations listed privately with
//! Continue buttons; continuing a conversation put aside reopens it (in its DM, or in a new
//! thread where it lived in a channel) and the next message's model request holds its history;
//! autocomplete offers the person's own titles only; a tag is found through `/search tag:`, a
//! category the background pass chose through `/search category:` (offered by autocomplete), an
//! entity it found through `/search entity:`; Bring in puts a stored summary in.

mod common;

use common::*;
use mcpcord_engine::{ConversationId, EngineConfig, MemoryConfig, SearchScope};
use mcpcord_memory::NewSummary;
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::{InjectedInteraction, InteractionCreate, MessageCreate};
use mcpcord_testkit::fake_ollama::Script;
use serde_json::Value;
use std::time::{Duration, Instant};

const BOB: u64 = 1_200_000_000_000_000_401;

/// More commands than the default burst, one after another.
fn roomy(config: &mut mcpcord_discord::bot::BotConfig) {
    config.command_rate.burst = 20.try_into().unwrap();
    config.command_rate.per_minute = 600.try_into().unwrap();
}

/// What a private answer says in its content.
async fn says(bot: &Bot, interaction: &InjectedInteraction) -> String {
    let body = private_answer(bot, interaction).await;
    body["content"].as_str().unwrap_or_default().to_owned()
}

fn description(body: &Value) -> String {
    body["embeds"][0]["description"]
        .as_str()
        .unwrap_or_else(|| panic!("an embed: {body:#}"))
        .to_owned()
}

/// A DM from Alice answered with `answer`; the DM channel's id.
async fn dm(bot: &Bot, text: &str, answer: &str) -> u64 {
    bot.ollama.push_script(Script::reply(answer));
    let sent = bot
        .discord
        .inject_message_create(MessageCreate::new(text).dm());
    let channel: u64 = sent["channel_id"].as_str().unwrap().parse().unwrap();
    bot.finished_answer(channel, answer).await;
    channel
}

/// `/new` run in Alice's DM.
async fn new_in_dm(bot: &Bot) {
    let new = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("new").dm());
    assert!(says(bot, &new).await.contains("Fresh start"));
}

/// The (name, value) pairs of an autocomplete answer.
async fn choices(bot: &Bot, complete: &InjectedInteraction) -> Vec<(String, String)> {
    let body = bot.callback(complete).await;
    body["data"]["choices"]
        .as_array()
        .unwrap_or_else(|| panic!("choices: {body:#}"))
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn continue_reopens_a_dm_conversation_put_aside_with_its_history() {
    let mut bot = start(None, roomy).await;
    let channel = dm(
        &bot,
        "plan the lisbon trip",
        "Day one: Alfama and custard tarts.",
    )
    .await;
    new_in_dm(&bot).await;
    dm(&bot, "something else: pancakes", "Pancakes, then.").await;

    // Bob's conversation about Lisbon, in his own DM, is never offered to Alice.
    bot.ollama
        .push_script(Script::reply("Bob's Lisbon secret."));
    let sent = bot.discord.inject_message_create(
        MessageCreate::new("bob's lisbon secret")
            .dm()
            .author(BOB, "bob"),
    );
    let bob_dm: u64 = sent["channel_id"].as_str().unwrap().parse().unwrap();
    bot.finished_answer(bob_dm, "Bob's Lisbon secret.").await;

    // /conversations lists both of Alice's DM conversations, newest first, privately.
    let list = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("conversations").dm());
    let body = private_answer(&bot, &list).await;
    let text = description(&body);
    let pancakes = text.find("something else: pancakes").expect(&text);
    let lisbon = text.find("plan the lisbon trip").expect(&text);
    assert!(pancakes < lisbon, "newest first: {text}");
    assert!(
        text.contains("put aside") && text.contains("live"),
        "{text}"
    );
    assert!(!text.contains("bob"), "{text}");
    assert_eq!(
        custom_ids(&body)
            .iter()
            .filter(|id| id.starts_with("pickup:"))
            .count(),
        2,
        "{body:#}"
    );

    // Autocomplete by title: Alice's own conversation, carrying its id; never Bob's.
    let complete = bot.discord.inject_interaction_create(
        InteractionCreate::autocomplete("continue", "conversation", "lisb").dm(),
    );
    let offered = choices(&bot, &complete).await;
    assert_eq!(offered.len(), 1, "{offered:?}");
    assert_eq!(offered[0].0, "plan the lisbon trip");
    let bobs = bot.discord.inject_interaction_create(
        InteractionCreate::autocomplete("continue", "conversation", "")
            .dm()
            .user(BOB, "bob"),
    );
    let bob_offered = choices(&bot, &bobs).await;
    assert_eq!(bob_offered.len(), 1, "{bob_offered:?}");
    assert_eq!(bob_offered[0].0, "bob's lisbon secret (live)");

    // Bob cannot continue Alice's conversation with its id.
    let forged = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("continue")
            .option("conversation", offered[0].1.clone())
            .dm()
            .user(BOB, "bob"),
    );
    assert!(says(&bot, &forged).await.contains("not one of yours"));

    // Alice continues it: it is this DM's conversation again, pancakes put aside.
    let pick = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("continue")
            .option("conversation", offered[0].1.clone())
            .dm(),
    );
    let said = says(&bot, &pick).await;
    assert!(said.contains("Reopened **plan the lisbon trip**"), "{said}");
    assert!(said.contains("in our DM"), "{said}");
    bot.ollama.push_script(Script::reply("Day two: Belém."));
    bot.discord
        .inject_message_create(MessageCreate::new("and day two?").dm());
    bot.finished_answer(channel, "Day two: Belém.").await;
    let prompt = last_prompt(&bot.ollama);
    assert!(
        prompt
            .iter()
            .any(|m| m == "Day one: Alfama and custard tarts."),
        "the reopened history reached the model: {prompt:?}"
    );
    assert!(prompt.iter().any(|m| m.contains("plan the lisbon trip")));
    assert!(
        !prompt.iter().any(|m| m.contains("pancakes")),
        "put aside: {prompt:?}"
    );

    // Typed words instead of a choice pick the newest matching title; a live one is pointed at.
    let typed = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("continue")
            .option("conversation", "Lisbon")
            .dm(),
    );
    let said = says(&bot, &typed).await;
    assert!(said.contains("is still going on: in our DM"), "{said}");

    assert!(bot.discord.late_interactions().is_empty());
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}

#[tokio::test]
async fn a_channel_conversation_put_aside_goes_on_in_a_new_thread() {
    let channel = FakeDiscord::CHANNEL_ID;
    let mut bot = start(None, |config| {
        roomy(config);
        config.always_answer_channels.insert(channel);
    })
    .await;
    bot.ollama
        .push_script(Script::reply("The zeppelin keys are in hangar nine."));
    bot.discord
        .inject_message_create(MessageCreate::new("where are the zeppelin keys?"));
    bot.finished_answer(channel, "hangar nine").await;
    let new = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("new"));
    assert!(says(&bot, &new).await.contains("Fresh start"));

    // Its Continue button under /conversations (pressed by Bob: not his, nothing opened).
    let list = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("conversations"));
    let body = private_answer(&bot, &list).await;
    assert!(description(&body).contains("where are the zeppelin keys?"));
    let pick = button(&body, "pickup:");
    let press = bot
        .discord
        .inject_interaction_create(InteractionCreate::button(pick.clone(), 1).user(BOB, "bob"));
    assert!(says(&bot, &press).await.contains("not one of yours"));
    assert!(bot.discord.threads_in(channel).is_empty());

    let press = bot
        .discord
        .inject_interaction_create(InteractionCreate::button(pick, 1));
    let said = says(&bot, &press).await;
    let threads = bot.discord.threads_in(channel);
    assert_eq!(threads.len(), 1, "one thread opened");
    let thread: u64 = threads[0]["id"].as_str().unwrap().parse().unwrap();
    assert!(
        said.contains(&format!("in a new thread: <#{thread}>")),
        "{said}"
    );
    assert_eq!(threads[0]["name"], "where are the zeppelin keys?");

    // Writing in the thread (no mention) goes on with the old conversation.
    bot.ollama
        .push_script(Script::reply("Still in hangar nine."));
    bot.discord
        .inject_message_create(MessageCreate::new("and the spare ones?").channel(thread));
    bot.finished_answer(thread, "Still in hangar nine.").await;
    let prompt = last_prompt(&bot.ollama);
    assert!(
        prompt
            .iter()
            .any(|m| m == "The zeppelin keys are in hangar nine."),
        "the reopened history reached the model: {prompt:?}"
    );
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}

#[tokio::test]
async fn a_tag_is_found_through_search() {
    let mut bot = start(None, roomy).await;
    let channel = FakeDiscord::CHANNEL_ID;
    bot.ollama
        .push_script(Script::reply("Carbonara: eggs, guanciale, pecorino."));
    bot.discord
        .inject_message_create(mention("a carbonara recipe please"));
    bot.finished_answer(channel, "guanciale").await;

    // /tag in the channel tags Alice's latest conversation there.
    let tag = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("tag").option("name", "#Recipes"),
    );
    let said = says(&bot, &tag).await;
    assert!(said.contains("Tagged `#recipes`"), "{said}");
    let again = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("tag").option("name", "recipes"),
    );
    assert!(says(&bot, &again).await.contains("already"));
    let bad = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("tag").option("name", "a/b"));
    assert!(says(&bot, &bad).await.contains("cannot be a tag"));
    let off = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("tag")
            .option("name", "recipes")
            .option("remove", true),
    );
    assert!(says(&bot, &off).await.contains("Took `#recipes` off"));
    let off = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("tag")
            .option("name", "recipes")
            .option("remove", true),
    );
    assert!(says(&bot, &off).await.contains("has no `#recipes` tag"));
    let tag = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("tag").option("name", "recipes"),
    );
    assert!(says(&bot, &tag).await.contains("Tagged `#recipes`"));

    // Another conversation about carbonara, untagged.
    bot.ollama
        .push_script(Script::reply("Carbonara dates from 1944."));
    bot.discord
        .inject_message_create(mention("carbonara history"));
    bot.finished_answer(channel, "1944").await;

    let search = |tag: &str| {
        InteractionCreate::slash_command("search")
            .option("query", "carbonara")
            .option("tag", tag.to_owned())
    };
    let found = bot.discord.inject_interaction_create(search("recipes"));
    let text = description(&private_answer(&bot, &found).await);
    assert!(text.contains("a carbonara recipe please"), "{text}");
    assert!(
        !text.contains("history") && !text.contains("1944"),
        "{text}"
    );
    let none = bot.discord.inject_interaction_create(search("travel"));
    let text = description(&private_answer(&bot, &none).await);
    assert!(text.contains("Nothing found"), "{text}");

    // Autocomplete offers the person's own tags; Bob, who tagged nothing here, gets none.
    let complete = bot
        .discord
        .inject_interaction_create(InteractionCreate::autocomplete("search", "tag", "rec"));
    let offered = choices(&bot, &complete).await;
    assert_eq!(offered, vec![("recipes".to_owned(), "recipes".to_owned())]);
    let bobs = bot.discord.inject_interaction_create(
        InteractionCreate::autocomplete("tag", "name", "").user(BOB, "bob"),
    );
    assert!(choices(&bot, &bobs).await.is_empty());

    // The tag shows in /conversations.
    let list = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("conversations"));
    let text = description(&private_answer(&bot, &list).await);
    assert!(text.contains("`#recipes`"), "{text}");

    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}

#[tokio::test]
async fn bring_in_puts_an_earlier_conversation_into_the_one_here() {
    let mut bot = start(None, roomy).await;
    let channel = dm(
        &bot,
        "plan the lisbon trip",
        "Day one: Alfama and custard tarts.",
    )
    .await;
    new_in_dm(&bot).await;
    dm(&bot, "what should I pack?", "Comfortable shoes.").await;

    let list = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("conversations").dm());
    let body = private_answer(&bot, &list).await;
    // Entry 2 is the Lisbon plan (entry 1, the conversation here, cannot be brought into itself).
    let bring = |n: usize| {
        custom_ids(&body)
            .into_iter()
            .filter(|id| id.starts_with("bringin:"))
            .nth(n)
            .unwrap_or_else(|| panic!("no Bring in {n}: {body:#}"))
    };
    let itself = bot
        .discord
        .inject_interaction_create(InteractionCreate::button(bring(0), 1).dm());
    assert!(
        says(&bot, &itself)
            .await
            .contains("the conversation here already")
    );
    let press = bot
        .discord
        .inject_interaction_create(InteractionCreate::button(bring(1), 1).dm());
    let said = says(&bot, &press).await;
    assert!(said.contains("Brought **plan the lisbon trip**"), "{said}");

    bot.ollama
        .push_script(Script::reply("Shoes for the hills of Alfama."));
    bot.discord
        .inject_message_create(MessageCreate::new("anything for day one?").dm());
    bot.finished_answer(channel, "Shoes for the hills").await;
    let request = bot.ollama.last_chat_request().unwrap();
    let block = request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.starts_with(mcpcord_engine::BRING_IN_HEADER))
        })
        .unwrap_or_else(|| panic!("no brought-in block: {request:#}"));
    assert_eq!(block["role"], "system");
    let text = block["content"].as_str().unwrap();
    assert!(text.contains("User: plan the lisbon trip"), "{text}");
    assert!(
        text.contains("Assistant: Day one: Alfama and custard tarts."),
        "{text}"
    );
    let prompt = last_prompt(&bot.ollama);
    assert!(
        prompt.iter().any(|m| m == "Comfortable shoes."),
        "{prompt:?}"
    );
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}

/// The background pass's answer for a conversation: title, category and entities.
const DIGEST: &str = r#"{"title": "Carbonara at home", "category": "Hobbies",
 "entities": [{"kind": "people", "name": "Ada Lovelace"}, {"kind": "place", "name": "Rome"}]}"#;

/// A bot whose background pass looks for work every few milliseconds once started.
async fn with_background() -> Bot {
    start_with(
        Options {
            engine: EngineConfig {
                default_model: "llama3.2".into(),
                memory: MemoryConfig {
                    background_interval: Duration::from_millis(20),
                    ..MemoryConfig::default()
                },
                ..EngineConfig::default()
            },
            ..Options::default()
        },
        roomy,
    )
    .await
}

/// Waits until `done` holds, polling.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts the background pass once no turn runs (its calls then get the scripts in order).
async fn start_background(bot: &Bot) {
    until("no turn", async || {
        let status = bot.engine.status();
        status.turns_in_flight + status.turns_queued == 0
    })
    .await;
    assert!(bot.engine.start_summariser());
}

/// The conversations in category `category`, as the operator finds them.
async fn in_category(bot: &Bot, category: &str) -> Vec<ConversationId> {
    let scope = SearchScope::operator(None).with_category(category);
    bot.engine
        .store()
        .conversations_in_scope(&scope)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_category_and_an_entity_are_found_through_search_and_offered() {
    let mut bot = with_background().await;
    let channel = FakeDiscord::CHANNEL_ID;
    bot.ollama
        .push_script(Script::reply("Carbonara: eggs, guanciale, pecorino."));
    bot.discord
        .inject_message_create(mention("a carbonara recipe like Ada makes"));
    bot.finished_answer(channel, "guanciale").await;

    // The background pass (FakeOllama scripted with its JSON) puts it in a category.
    bot.ollama.push_script(Script::reply(DIGEST));
    start_background(&bot).await;
    until("the category", async || {
        !in_category(&bot, "hobbies").await.is_empty()
    })
    .await;

    let search = |option: &str, value: &str| {
        InteractionCreate::slash_command("search")
            .option("query", "carbonara")
            .option(option, value.to_owned())
    };
    for (option, value) in [
        ("category", "hobbies"),
        ("category", "Hobbies"),
        ("entity", "ada lovelace"),
        ("entity", "Rome"),
    ] {
        let found = bot.discord.inject_interaction_create(search(option, value));
        let text = description(&private_answer(&bot, &found).await);
        assert!(
            text.contains("a carbonara recipe like Ada makes"),
            "{option}:{value}: {text}"
        );
    }
    for (option, value) in [("category", "work"), ("entity", "Oslo")] {
        let none = bot.discord.inject_interaction_create(search(option, value));
        let text = description(&private_answer(&bot, &none).await);
        assert!(text.contains("Nothing found"), "{option}:{value}: {text}");
    }

    // Autocomplete offers the configured categories.
    let complete = bot
        .discord
        .inject_interaction_create(InteractionCreate::autocomplete("search", "category", "hob"));
    let offered = choices(&bot, &complete).await;
    assert_eq!(offered, vec![("hobbies".to_owned(), "hobbies".to_owned())]);
    // And the entities of Alice's own conversations from here; none of Bob's.
    let complete = bot
        .discord
        .inject_interaction_create(InteractionCreate::autocomplete("search", "entity", "a"));
    let offered = choices(&bot, &complete).await;
    assert_eq!(
        offered,
        vec![("Ada Lovelace".to_owned(), "Ada Lovelace".to_owned())]
    );
    let by_bob = bot.discord.inject_interaction_create(
        InteractionCreate::autocomplete("search", "entity", "").user(BOB, "bob"),
    );
    assert!(choices(&bot, &by_bob).await.is_empty());

    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}

#[tokio::test]
async fn bring_in_puts_the_stored_summary_in() {
    let mut bot = start(None, roomy).await;
    let channel = dm(
        &bot,
        "plan the lisbon trip",
        "Day one: Alfama and custard tarts.",
    )
    .await;
    let store = bot.engine.store().clone();
    let lisbon = store
        .conversations_in_scope(&SearchScope::operator(None))
        .await
        .unwrap()[0];
    let through = store.history(lisbon, 10).await.unwrap().last().unwrap().id;
    store
        .save_summary(
            lisbon,
            NewSummary {
                through,
                text: "Alice planned three days in Lisbon, starting in Alfama.".into(),
                model: "llama3.2".into(),
                tokens: 40,
                vector: None,
            },
        )
        .await
        .unwrap();
    new_in_dm(&bot).await;
    dm(&bot, "what should I pack?", "Comfortable shoes.").await;

    let list = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("conversations").dm());
    let body = private_answer(&bot, &list).await;
    let bring = custom_ids(&body)
        .into_iter()
        .filter(|id| id.starts_with("bringin:"))
        .nth(1)
        .unwrap_or_else(|| panic!("no Bring in: {body:#}"));
    let press = bot
        .discord
        .inject_interaction_create(InteractionCreate::button(bring, 1).dm());
    assert!(says(&bot, &press).await.contains("Brought"));

    bot.ollama.push_script(Script::reply("Shoes for Alfama."));
    bot.discord
        .inject_message_create(MessageCreate::new("anything for day one?").dm());
    bot.finished_answer(channel, "Shoes for Alfama").await;
    let request = bot.ollama.last_chat_request().unwrap();
    let text = request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_str())
        .find(|c| c.starts_with(mcpcord_engine::BRING_IN_HEADER))
        .unwrap_or_else(|| panic!("no brought-in block: {request:#}"))
        .to_owned();
    assert!(
        text.contains("Summary: Alice planned three days in Lisbon, starting in Alfama."),
        "{text}"
    );
    assert!(
        !text.contains("User: plan the lisbon trip"),
        "the summary stands in for what it covers: {text}"
    );
    bot.shutdown().await;
}
