//! The content policy in Discord, end to end over FakeDiscord + FakeOllama: a refused message
//! is answered (a short reply; `/chat`: an ephemeral followup), never silently, and the model
//! is never asked; a redacted word never appears in any message the bot posts or edits, even
//! when the model streams it across two deltas. A moderation model's `unsafe` verdict refuses
//! the same ways.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use mcpcord_engine::{
    ContentPolicy, EngineConfig, Moderation, PolicyAction, PolicyRule, PolicyRules,
};
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::{InteractionCreate, InteractionResponse, ResponseKind};
use mcpcord_testkit::fake_ollama::{FakeModel, Script};

const CHANNEL: u64 = FakeDiscord::CHANNEL_ID;

/// The text of the followup among `responses`, which must be ephemeral.
fn ephemeral_followup(responses: &[InteractionResponse]) -> String {
    let followup = responses
        .iter()
        .find(|r| r.kind == ResponseKind::Followup)
        .and_then(|r| r.body.clone())
        .expect("an ephemeral followup");
    assert_eq!(followup["flags"].as_u64().unwrap() & 64, 64, "ephemeral");
    followup["content"].as_str().unwrap().to_owned()
}

fn rule(name: &str, action: PolicyAction, words: &[&str]) -> PolicyRule {
    PolicyRule {
        name: name.into(),
        action,
        words: words.iter().map(|w| (*w).into()).collect(),
        regexes: Vec::new(),
    }
}

/// A bot whose default content policy is `rules`.
async fn bot_with(rules: PolicyRules) -> Bot {
    let options = Options {
        engine: EngineConfig {
            default_model: "llama3.2".into(),
            policy: ContentPolicy::compile(&rules, &BTreeMap::new()).expect("the rules compile"),
            ..EngineConfig::default()
        },
        ..Options::default()
    };
    start_with(options, |_| {}).await
}

/// Every content the bot posted or edited into a message.
fn everything_posted(bot: &Bot) -> Vec<String> {
    bot.discord
        .requests()
        .into_iter()
        .filter(|r| (r.method == "POST" || r.method == "PATCH") && r.path.contains("/messages"))
        .filter_map(|r| r.body?["content"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_blocked_message_gets_a_reply_saying_why_and_no_answer() {
    let mut bot = bot_with(PolicyRules {
        input: vec![rule("insults", PolicyAction::Block, &["nitwit"])],
        output: Vec::new(),
        moderation: None,
    })
    .await;
    let user = bot.discord.inject_message_create(mention("you nitwit"));
    let reply = bot
        .wait_answers(CHANNEL, "the refusal", |answers| answers.first().cloned())
        .await;
    let says = reply["content"].as_str().unwrap();
    assert!(says.contains("content policy (insults)"), "{says}");
    assert!(!says.to_lowercase().contains("nitwit"), "{says}");
    assert_eq!(reply["message_reference"]["message_id"], user["id"]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(bot.ollama.chat_requests().is_empty(), "the model was asked");
    assert_eq!(bot.answers(CHANNEL).len(), 1, "only the refusal was posted");
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}

#[tokio::test]
async fn a_blocked_chat_command_is_refused_ephemerally_before_a_thread_opens() {
    let mut bot = bot_with(PolicyRules {
        input: vec![rule("insults", PolicyAction::Block, &["nitwit"])],
        output: Vec::new(),
        moderation: None,
    })
    .await;
    let chat = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("chat").option("prompt", "write a nitwit poem"),
    );
    let responses = bot.responses(&chat, 3).await;
    let says = ephemeral_followup(&responses);
    assert!(says.contains("content policy (insults)"), "{says}");
    assert!(
        responses
            .iter()
            .any(|r| r.kind == ResponseKind::DeleteOriginal),
        "the public deferral went: {responses:#?}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        bot.discord.threads_in(CHANNEL).is_empty(),
        "no thread opened"
    );
    assert!(bot.ollama.chat_requests().is_empty(), "the model was asked");
    bot.shutdown().await;
}

#[tokio::test]
async fn a_word_redacted_on_output_never_reaches_discord_even_split_across_deltas() {
    let mut bot = bot_with(PolicyRules {
        input: Vec::new(),
        output: vec![rule("passwords", PolicyAction::Redact, &["hunter2"])],
        moderation: None,
    })
    .await;
    // Slow enough that the answer is posted and edited between the two halves.
    bot.ollama.push_script(
        Script::new()
            .text("Sure. The password is hun")
            .delay(Duration::from_millis(1500))
            .text("ter2, keep it safe.")
            .delay(Duration::from_millis(600))
            .text(" Done."),
    );
    bot.discord.inject_message_create(mention("the password?"));
    let answer = bot
        .finished_answer(CHANNEL, "The password is [redacted], keep it safe. Done.")
        .await;
    assert!(
        bot.message_edits() >= 1,
        "the answer was edited as it streamed"
    );
    for content in everything_posted(&bot) {
        assert!(!content.to_lowercase().contains("hunter2"), "{content:?}");
        assert!(
            !content.contains("hun\n") && !content.ends_with("hun"),
            "{content:?}"
        );
    }
    assert!(
        answer[0]["content"]
            .as_str()
            .unwrap()
            .contains("[redacted]")
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn an_unsafe_verdict_refuses_a_message_and_a_chat_command_like_a_block_rule() {
    let guard = "llama-guard3:1b";
    let mut bot = bot_with(PolicyRules {
        moderation: Some(Moderation::new(guard)),
        ..PolicyRules::default()
    })
    .await;
    bot.ollama
        .add_model(FakeModel::new(guard).capabilities(&["completion"]));
    bot.ollama
        .push_scripts([Script::reply("unsafe\nS1"), Script::reply("unsafe\nS1")]);

    // A mention: a short reply saying why.
    let user = bot.discord.inject_message_create(mention("something vile"));
    let reply = bot
        .wait_answers(CHANNEL, "the refusal", |answers| answers.first().cloned())
        .await;
    let says = reply["content"].as_str().unwrap();
    assert!(
        says.contains("content policy (moderation model: S1)"),
        "{says}"
    );
    assert_eq!(reply["message_reference"]["message_id"], user["id"]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(bot.answers(CHANNEL).len(), 1, "only the refusal was posted");

    // `/chat`: an ephemeral followup, no thread.
    let chat = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("chat").option("prompt", "something else vile"),
    );
    let responses = bot.responses(&chat, 3).await;
    let says = ephemeral_followup(&responses);
    assert!(
        says.contains("content policy (moderation model: S1)"),
        "{says}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        bot.discord.threads_in(CHANNEL).is_empty(),
        "no thread opened"
    );
    let models: Vec<String> = bot
        .ollama
        .chat_requests()
        .iter()
        .map(|r| r["model"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        models,
        [guard, guard],
        "only the moderation model was asked"
    );
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}
