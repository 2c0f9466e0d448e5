//! The "Related: <title>" button end to end (FakeDiscord + FakeOllama with an embedding model +
//! SQLite or PostgreSQL, driving `mcpcord_discord::run`): once an answer is final, it gets a
//! `pickup:ID` button naming the person's earlier conversation whose summary is a
//! near-duplicate of it (the summary stored as the summariser would, with FakeOllama's
//! deterministic embedding), not for an unrelated conversation, and not once the person
//! switches it off with `/memory related`. Pressed, it points at that conversation.

mod common;

use common::db::Db;
use common::*;
use mcpcord_engine::{EngineConfig, GuildId, MemoryConfig, UserId};
use mcpcord_memory::NewSummary;
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::{InteractionCreate, ResponseKind};
use mcpcord_testkit::fake_ollama::{FakeModel, Script, embedding_vector};
use serde_json::Value;

on_both_databases!(the_related_button_appears_for_a_near_duplicate_only_until_switched_off);

const CHANNEL: u64 = FakeDiscord::CHANNEL_ID;
const EMBED: &str = "minilm";
/// FakeModel::embedding's vector length.
const DIMS: usize = 384;
const GARDEN: &str = "Planting tulip bulbs in the garden: how deep, and when in autumn.";

/// Asks `text` in a fresh conversation of the channel (`/new` first) and waits for the finished
/// answer `answer`; its last message.
async fn fresh(bot: &Bot, text: &str, answer: &str) -> Value {
    let new = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("new"));
    bot.responses(&new, 2).await;
    ask(bot, text, answer).await
}

/// Asks `text` in the channel and waits for the finished answer `answer`; its last message.
async fn ask(bot: &Bot, text: &str, answer: &str) -> Value {
    bot.ollama.push_script(Script::reply(answer));
    bot.discord.inject_message_create(mention(text));
    let messages = bot.finished_answer(CHANNEL, answer).await;
    messages.last().cloned().expect("an answer")
}

/// The bot's message `id` in the channel as it is now.
fn current(bot: &Bot, id: u64) -> Value {
    bot.answers(CHANNEL)
        .into_iter()
        .find(|m| id_of(m) == id)
        .expect("the message is still there")
}

async fn the_related_button_appears_for_a_near_duplicate_only_until_switched_off(db: Db) {
    let options = Options {
        database: Some(db),
        engine: EngineConfig {
            default_model: "llama3.2".into(),
            memory: MemoryConfig {
                embedding_model: Some(EMBED.into()),
                recall: false,
                recall_timeout: std::time::Duration::from_secs(5),
                ..MemoryConfig::default()
            },
            ..EngineConfig::default()
        },
        ..Options::default()
    };
    let mut bot = start_with(options, |c| c.command_rate.burst = 20.try_into().unwrap()).await;
    bot.ollama.add_model(FakeModel::embedding(EMBED));
    let alice = UserId::new(FakeDiscord::USER_ID);
    let guild = Some(GuildId::new(FakeDiscord::GUILD_ID));

    // Alice's earlier conversation about tulips, titled and summarised.
    let tulips = ask(&bot, "when do tulips go in?", "In autumn.").await;
    let listed = bot
        .engine
        .recent_conversations(alice, guild, None, None, 5)
        .await
        .unwrap();
    let garden = listed[0].id;
    let store = bot.engine.store();
    store.set_title(garden, "Tulip bulbs").await.unwrap();
    let through = store.history(garden, 1).await.unwrap()[0].id;
    let summary = NewSummary {
        through,
        text: GARDEN.into(),
        model: "llama3.2".into(),
        tokens: 10,
        vector: Some((EMBED.into(), embedding_vector(GARDEN, DIMS))),
    };
    store.save_summary(garden, summary).await.unwrap();

    // An unrelated conversation: its answer is compared (its exchange embedded), no button.
    let embeds_before = bot.ollama.count("/api/embed");
    let bread = fresh(&bot, "sourdough bread with rye?", "Bake it hot and long.").await;
    assert!(!has_button(&bread, "pickup:"), "{bread:#}");

    // A near-duplicate: the answer gets the quiet Related button continuing the garden one.
    let near = fresh(
        &bot,
        GARDEN,
        "Plant tulip bulbs deep in the garden in autumn.",
    )
    .await;
    let wanted = format!("pickup:{}", garden.0);
    let related = bot
        .wait_answers(CHANNEL, "the related button", |_| {
            let now = current(&bot, id_of(&near));
            has_button(&now, &wanted).then_some(now)
        })
        .await;
    let label = related["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .find(|c| c["custom_id"] == wanted.as_str())
        .and_then(|c| c["label"].as_str().map(str::to_owned))
        .expect("the button has a label");
    assert_eq!(label, "Related: Tulip bulbs");
    assert!(
        has_button(&related, "regen:"),
        "the answer keeps its controls"
    );
    assert!(
        bot.ollama.count("/api/embed") >= embeds_before + 2,
        "both answers were compared"
    );

    // Pressed, it answers as `/conversations`' Continue does: the tulip conversation is not
    // archived, so it points at its last message (a reply there goes on with it).
    let press = bot
        .discord
        .inject_interaction_create(InteractionCreate::button(wanted.clone(), 1));
    let said = private_answer(&bot, &press).await["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        said.contains("**Tulip bulbs** is still going on")
            && said.contains(&format!("/{CHANNEL}/{}", id_of(&tulips))),
        "{said}"
    );
    assert!(bot.discord.threads_in(CHANNEL).is_empty(), "{said}");

    // Switched off by the person: a near-duplicate again, and nothing is looked up.
    let off = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("memory")
            .subcommand("related")
            .option("state", "off"),
    );
    let responses = bot.responses(&off, 2).await;
    assert_eq!(responses[0].kind, ResponseKind::Callback(5));
    let said = responses
        .iter()
        .find(|r| r.kind == ResponseKind::EditOriginal)
        .and_then(|r| r.body.as_ref())
        .map(|b| b["content"].as_str().unwrap_or_default().to_owned())
        .expect("an answer to /memory related");
    assert!(said.contains("switched off"), "{said}");
    let embeds_off = bot.ollama.count("/api/embed");
    let again = fresh(
        &bot,
        GARDEN,
        "Plant tulip bulbs deep in the garden in autumn.",
    )
    .await;

    // Every answer's renderer is over once the bot has stopped: no late button anywhere.
    bot.shutdown().await;
    assert!(!has_button(&current(&bot, id_of(&bread)), "pickup:"));
    assert!(!has_button(&current(&bot, id_of(&again)), "pickup:"));
    assert_eq!(
        bot.ollama.count("/api/embed"),
        embeds_off,
        "switched off, nothing was embedded to compare"
    );
}
