//! `/search` end to end (FakeDiscord + FakeOllama + SQLite, driving `mcpcord_discord::run`):
//! a person finds their own conversations of the place they search from, privately, with who,
//! when and a jump link; another person's DM and a DM from a guild never show.

mod common;

use common::*;
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::{
    InjectedInteraction, InteractionCreate, MessageCreate, ResponseKind,
};
use mcpcord_testkit::fake_ollama::Script;
use serde_json::Value;

const BOB: u64 = 1_200_000_000_000_000_301;

/// The deferred, private answer to a command: its final body (the edit of the deferral).
async fn private_answer(bot: &Bot, interaction: &InjectedInteraction) -> Value {
    let responses = bot.responses(interaction, 2).await;
    assert_eq!(
        responses[0].kind,
        ResponseKind::Callback(5),
        "{responses:#?}"
    );
    let deferral = responses[0].body.as_ref().unwrap();
    assert_eq!(
        deferral["data"]["flags"], 64,
        "deferred privately: {deferral:#}"
    );
    let edit = responses
        .iter()
        .find(|r| r.kind == ResponseKind::EditOriginal)
        .unwrap_or_else(|| panic!("no edit of the deferred answer: {responses:#?}"));
    edit.body.clone().unwrap()
}

fn description(body: &Value) -> String {
    body["embeds"][0]["description"]
        .as_str()
        .unwrap_or_else(|| panic!("an embed: {body:#}"))
        .to_owned()
}

#[tokio::test]
async fn search_finds_the_persons_own_conversations_of_the_place() {
    let mut bot = start(None, |_| {}).await;
    let channel = FakeDiscord::CHANNEL_ID;

    // Alice in the guild channel, then in her DM; Bob in his DM.
    bot.ollama
        .push_script(Script::reply("The zeppelin keys are in hangar nine."));
    bot.discord
        .inject_message_create(mention("where did I leave the zeppelin keys?"));
    let answer = bot
        .finished_answer(channel, "The zeppelin keys are in hangar nine.")
        .await;
    let answer_id = id_of(answer.last().unwrap());

    bot.ollama.push_script(Script::reply("Noted, privately."));
    let sent = bot
        .discord
        .inject_message_create(MessageCreate::new("my zeppelin diary, alice").dm());
    let alice_dm: u64 = sent["channel_id"].as_str().unwrap().parse().unwrap();
    bot.finished_answer(alice_dm, "Noted, privately.").await;

    bot.ollama
        .push_script(Script::reply("Bob's secret is safe."));
    let sent = bot.discord.inject_message_create(
        MessageCreate::new("bob's zeppelin secret")
            .dm()
            .author(BOB, "bob"),
    );
    let bob_dm: u64 = sent["channel_id"].as_str().unwrap().parse().unwrap();
    bot.finished_answer(bob_dm, "Bob's secret is safe.").await;

    // Alice searches from the guild: her channel conversation, both sides, with a jump link
    // to the answer; never a DM.
    let search = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("search").option("query", "zeppelin"),
    );
    let body = private_answer(&bot, &search).await;
    let text = description(&body);
    assert!(
        text.contains("where did I leave the zeppelin keys?"),
        "{text}"
    );
    assert!(text.contains("hangar nine"), "{text}");
    assert!(text.contains(FakeDiscord::USER_NAME), "{text}");
    assert!(
        text.contains(&format!(
            "https://discord.com/channels/{}/{channel}/{answer_id}",
            FakeDiscord::GUILD_ID
        )),
        "{text}"
    );
    assert!(
        !text.contains("diary") && !text.contains("secret"),
        "{text}"
    );

    // Alice from her DM: her DM only.
    let search = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("search")
            .option("query", "zeppelin")
            .dm(),
    );
    let text = description(&private_answer(&bot, &search).await);
    assert!(text.contains("my zeppelin diary, alice"), "{text}");
    assert!(
        !text.contains("hangar") && !text.contains("secret"),
        "{text}"
    );

    // Bob in the guild took part in nothing there.
    let search = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("search")
            .option("query", "zeppelin")
            .user(BOB, "bob"),
    );
    let text = description(&private_answer(&bot, &search).await);
    assert!(text.contains("Nothing found"), "{text}");

    // Filters: nothing before 1971; a time that is not one is refused privately.
    let search = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("search")
            .option("query", "zeppelin")
            .option("before", "1971-01-01"),
    );
    let text = description(&private_answer(&bot, &search).await);
    assert!(text.contains("Nothing found"), "{text}");
    let search = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("search")
            .option("query", "zeppelin")
            .option("after", "last tuesday"),
    );
    let body = private_answer(&bot, &search).await;
    let content = body["content"].as_str().unwrap_or_default();
    assert!(content.contains("is not a time"), "{body:#}");

    assert!(bot.discord.late_interactions().is_empty());
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}
