//! `/search` end to end (FakeDiscord + FakeOllama + SQLite, driving `mcpcord_discord::run`):
//! a person finds their own conversations of the place they search from, privately, with who,
//! when and a jump link; another person's DM and a DM from a guild never show.

mod common;

use common::*;
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::{InjectedInteraction, InteractionCreate, MessageCreate};
use mcpcord_testkit::fake_ollama::Script;
use serde_json::Value;

const BOB: u64 = 1_200_000_000_000_000_301;

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

/// The `resume:` button of a search answer, for the conversation whose first entry is `n`.
fn continue_button(body: &Value) -> String {
    custom_ids(body)
        .into_iter()
        .find(|id| id.starts_with("resume:"))
        .unwrap_or_else(|| panic!("no Continue button: {body:#}"))
}

/// What the private answer to a press says (deferred privately, then edited).
async fn pressed(bot: &Bot, press: &InjectedInteraction) -> String {
    let body = private_answer(bot, press).await;
    body["content"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn continue_this_conversation_brings_it_back_where_it_is_pressed() {
    let mut bot = start(None, |_| {}).await;
    let channel = FakeDiscord::CHANNEL_ID;

    // In the guild channel, a reply chain about the zeppelin keys.
    bot.ollama
        .push_script(Script::reply("The zeppelin keys are in hangar nine."));
    bot.discord
        .inject_message_create(mention("where did I leave the zeppelin keys?"));
    bot.finished_answer(channel, "hangar nine").await;

    // Found again by /search, with a button that continues it.
    let search = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("search").option("query", "zeppelin"),
    );
    let body = private_answer(&bot, &search).await;
    let resume = continue_button(&body);
    assert!(description(&body).starts_with("`1.` "), "{body:#}");

    // Bob presses it (a forwarded screenshot, a forged id): not his, and nothing is posted.
    let anchors = |bot: &Bot| {
        bot.answers(channel)
            .iter()
            .filter(|m| {
                m["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("picks up an earlier conversation"))
            })
            .count()
    };
    let press = bot
        .discord
        .inject_interaction_create(InteractionCreate::button(resume.clone(), 1).user(BOB, "bob"));
    let says = pressed(&bot, &press).await;
    assert!(says.contains("not one of yours"), "{says}");
    assert_eq!(anchors(&bot), 0);

    // Alice presses it: a message to reply to appears in the channel, and she is told so.
    let press = bot
        .discord
        .inject_interaction_create(InteractionCreate::button(resume, 1));
    let says = pressed(&bot, &press).await;
    assert_eq!(anchors(&bot), 1);
    let anchor = bot
        .wait_answers(channel, "the message to reply to", |answers| {
            answers
                .iter()
                .find(|m| {
                    m["content"]
                        .as_str()
                        .is_some_and(|c| c.contains("picks up an earlier conversation"))
                })
                .cloned()
        })
        .await;
    let anchor_id = id_of(&anchor);
    assert!(
        says.contains(&format!(
            "https://discord.com/channels/{}/{channel}/{anchor_id}",
            FakeDiscord::GUILD_ID
        )),
        "{says}"
    );

    // Replying to it goes on with the old conversation: the model sees its history.
    bot.ollama
        .push_script(Script::reply("Still in hangar nine."));
    bot.discord
        .inject_message_create(mention("and the spare ones?").reply_to(anchor_id));
    bot.finished_answer(channel, "Still in hangar nine.").await;
    let prompt = last_prompt(&bot.ollama).join("\n");
    assert!(
        prompt.contains("where did I leave the zeppelin keys?"),
        "{prompt}"
    );
    assert!(prompt.contains("The zeppelin keys are in hangar nine."));
    assert!(prompt.contains("and the spare ones?"));

    // In her DM: a conversation put aside by /new comes back there.
    bot.ollama.push_script(Script::reply("Noted in the diary."));
    let sent = bot
        .discord
        .inject_message_create(MessageCreate::new("my zeppelin diary begins").dm());
    let dm: u64 = sent["channel_id"].as_str().unwrap().parse().unwrap();
    bot.finished_answer(dm, "Noted in the diary.").await;
    let new = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("new").dm());
    let body = private_answer(&bot, &new).await;
    assert!(
        body["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Fresh start"),
        "{body:#}"
    );
    bot.ollama.push_script(Script::reply("Pancakes, then."));
    bot.discord
        .inject_message_create(MessageCreate::new("something else: pancakes").dm());
    bot.finished_answer(dm, "Pancakes, then.").await;

    let search = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("search")
            .option("query", "diary")
            .dm(),
    );
    let body = private_answer(&bot, &search).await;
    let press = bot
        .discord
        .inject_interaction_create(InteractionCreate::button(continue_button(&body), 1).dm());
    let says = pressed(&bot, &press).await;
    assert!(says.contains("this DM goes on"), "{says}");
    bot.ollama.push_script(Script::reply("Diary, page two."));
    bot.discord
        .inject_message_create(MessageCreate::new("next entry").dm());
    bot.finished_answer(dm, "Diary, page two.").await;
    let prompt = last_prompt(&bot.ollama).join("\n");
    assert!(prompt.contains("my zeppelin diary begins"), "{prompt}");
    assert!(!prompt.contains("pancakes"), "put aside: {prompt}");

    assert!(bot.discord.late_interactions().is_empty());
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}
