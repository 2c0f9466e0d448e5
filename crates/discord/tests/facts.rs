//! Facts about a person end to end (FakeDiscord + FakeOllama + SQLite or PostgreSQL, driving
//! `mcpcord_discord::run`, `memory.facts` on): the model's `mcpcord__remember` stores what a
//! person asked, and a new conversation's system prompt carries it; `/memory show` lists it
//! privately, `/memory forget` removes it everywhere the bot keeps it and the next prompt no
//! longer has it; `/memory add`, `/memory forget`'s completion of the person's facts, and
//! `/memory clear`; facts said in the server are not shown in DMs.

mod common;

use common::db::Db;
use common::*;
use mcpcord_engine::{EngineConfig, FACTS_HEADER, GuildId, MemoryConfig, UserId};
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::InteractionCreate;
use mcpcord_testkit::fake_ollama::Script;
use serde_json::json;

on_both_databases!(remember_show_forget_add_and_clear);

const CHANNEL: u64 = FakeDiscord::CHANNEL_ID;

/// Runs `/memory <sub>` (with `fact:` when given) in the channel; its private answer.
async fn memory(bot: &Bot, sub: &str, fact: Option<&str>) -> String {
    let mut command = InteractionCreate::slash_command("memory").subcommand(sub);
    if let Some(fact) = fact {
        command = command.option("fact", fact);
    }
    let interaction = bot.discord.inject_interaction_create(command);
    private_text(bot, &interaction).await
}

/// Starts a new conversation in the channel (`/new`), says hello; the system prompt the model
/// got, and the whole prompt.
async fn fresh_prompt(bot: &Bot, answer: &str) -> (String, String) {
    let new = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("new"));
    bot.responses(&new, 2).await;
    bot.ollama.push_script(Script::reply(answer));
    bot.discord
        .inject_message_create(mention("what do you know about me?"));
    bot.finished_answer(CHANNEL, answer).await;
    let prompt = last_prompt(&bot.ollama);
    (prompt[0].clone(), prompt.join("\n"))
}

async fn remember_show_forget_add_and_clear(db: Db) {
    let options = Options {
        database: Some(db),
        engine: EngineConfig {
            default_model: "llama3.2".into(),
            memory: MemoryConfig {
                facts: true,
                ..MemoryConfig::default()
            },
            ..EngineConfig::default()
        },
        ..Options::default()
    };
    let bot = start_with(options, |c| c.command_rate.burst = 20.try_into().unwrap()).await;

    // Alice asks; the model remembers.
    bot.ollama.push_script(
        Script::new().tool_call("mcpcord__remember", json!({"fact": "likes green tea"})),
    );
    bot.ollama.push_script(Script::reply("Noted: green tea."));
    bot.discord
        .inject_message_create(mention("please remember that I like green tea"));
    bot.finished_answer(CHANNEL, "Noted: green tea.").await;
    let alice = UserId::new(FakeDiscord::USER_ID);
    let guild = Some(GuildId::new(FakeDiscord::GUILD_ID));
    assert_eq!(bot.engine.facts(alice, guild).await.unwrap().len(), 1);

    // A new conversation's system prompt carries it.
    let (system, _) = fresh_prompt(&bot, "You like green tea.").await;
    assert!(
        system.contains(FACTS_HEADER) && system.contains("- likes green tea"),
        "{system}"
    );

    // Shown privately, with its id; not in DMs.
    let shown = memory(&bot, "show", None).await;
    assert!(
        shown.contains("likes green tea") && shown.contains("`#"),
        "{shown}"
    );
    let dm = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("memory")
            .subcommand("show")
            .dm(),
    );
    let in_dm = private_text(&bot, &dm).await;
    assert!(
        in_dm.contains("Nothing is remembered about you in our DMs"),
        "{in_dm}"
    );

    // Forgotten: gone from the store, and the next conversation's prompt has none of it.
    let forgot = memory(&bot, "forget", Some("green tea")).await;
    assert!(
        forgot.contains("Forgotten: \"likes green tea\"")
            && forgot.contains("The message you said it in stays"),
        "{forgot}"
    );
    assert!(bot.engine.facts(alice, guild).await.unwrap().is_empty());
    assert!(bot.engine.all_facts(alice).await.unwrap().is_empty());
    let (system, whole) = fresh_prompt(&bot, "I know nothing yet.").await;
    assert!(!system.contains(FACTS_HEADER), "{system}");
    assert!(!whole.contains("green tea"), "{whole}");
    let again = memory(&bot, "forget", Some("green tea")).await;
    assert!(
        again.contains("nothing is remembered about you here"),
        "{again}"
    );

    // Added by hand, then all cleared.
    let added = memory(&bot, "add", Some("has a cat called Miso")).await;
    assert!(added.contains("Remembered in this server"), "{added}");
    memory(&bot, "add", Some("prefers metric units")).await;
    let shown = memory(&bot, "show", None).await;
    assert!(
        shown.contains("Miso") && shown.contains("metric"),
        "{shown}"
    );

    // `/memory forget` completes her facts here, as `#id text`; the choice names the fact.
    let typing = bot
        .discord
        .inject_interaction_create(InteractionCreate::autocomplete_in(
            "memory", "forget", "fact", "mis",
        ));
    let choices = bot.callback(&typing).await;
    assert_eq!(choices["type"], 8, "{choices:#}");
    let choices = choices["data"]["choices"].as_array().unwrap().clone();
    assert_eq!(choices.len(), 1, "{choices:#?}");
    let choice = choices[0]["value"].as_str().unwrap().to_owned();
    assert!(
        choice.starts_with('#') && choice.ends_with("has a cat called Miso"),
        "{choice}"
    );
    let forgot = memory(&bot, "forget", Some(&choice)).await;
    assert!(
        forgot.contains("Forgotten: \"has a cat called Miso\"") && !forgot.contains("stays"),
        "added by hand, said in no message: {forgot}"
    );
    memory(&bot, "add", Some("has a cat called Miso")).await;
    let cleared = memory(&bot, "clear", None).await;
    assert!(cleared.contains("all 2 fact(s)"), "{cleared}");
    let shown = memory(&bot, "show", None).await;
    assert!(
        shown.contains("Nothing is remembered about you in this server"),
        "{shown}"
    );
}
