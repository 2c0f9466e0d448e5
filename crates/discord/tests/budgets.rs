//! Token budgets end to end (FakeDiscord + FakeOllama + SQLite or PostgreSQL, driving
//! `mcpcord_discord::run`):
//! a spent budget refuses the next message with the reset time as a Discord timestamp, and
//! `/status` shows each person what is left (admins also the bot's parts).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::db::Db;
use common::*;
use mcpcord_engine::{BudgetConfig, BudgetLimits, EngineConfig};
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::{InjectedInteraction, InteractionCreate};
use mcpcord_testkit::fake_ollama::Script;
use twilight_model::id::Id;

on_both_databases!(a_spent_budget_is_refused_with_its_reset_time_and_status_shows_what_is_left);

/// 2026-12-03T17:58:00Z; the budget resets at 2026-12-04T00:00:00Z = 1796342400.
fn afternoon() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_320_680)
}

/// Waits until the bot's answer to `interaction` (its callback or the edit that fills in a
/// deferred one) has content; returns it and whether it was private.
async fn command_answer(bot: &Bot, interaction: &InjectedInteraction) -> (String, bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let responses = bot.discord.interaction_responses(interaction.id);
        let private = responses.iter().any(|r| {
            r.body
                .as_ref()
                .is_some_and(|b| b["data"]["flags"].as_u64().unwrap_or(0) & 64 != 0)
        });
        let content = responses.iter().rev().find_map(|r| {
            let body = r.body.as_ref()?;
            let content = body["content"]
                .as_str()
                .or_else(|| body["data"]["content"].as_str())?;
            (!content.is_empty()).then(|| content.to_owned())
        });
        if let Some(content) = content {
            return (content, private);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer to the command: {responses:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_spent_budget_is_refused_with_its_reset_time_and_status_shows_what_is_left(db: Db) {
    let options = Options {
        engine: EngineConfig {
            default_model: "llama3.2".into(),
            budgets: BudgetConfig {
                default: BudgetLimits {
                    tokens_per_user_per_day: Some(100),
                    ..BudgetLimits::default()
                },
                ..BudgetConfig::default()
            },
            ..EngineConfig::default()
        },
        database: Some(db),
        ..Options::default()
    };
    let bot = start_with(options, |c| {
        c.command_rate.burst = 20.try_into().unwrap();
        c.command_rate.per_minute = 600.try_into().unwrap();
        // Only the default user is an admin (everyone manages the fake's server).
        c.admins.server_managers = false;
        c.admins.users.insert(Id::new(FakeDiscord::USER_ID));
    })
    .await;
    bot.engine.set_clock(afternoon);
    let channel = FakeDiscord::CHANNEL_ID;

    let status = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("status"));
    let (before, private) = command_answer(&bot, &status).await;
    assert!(private, "/status is private");
    assert!(
        before.contains("**Your tokens today:** 100 left of 100 (0 used)"),
        "{before}"
    );
    assert!(before.contains("<t:1796342400:R>"), "{before}");

    bot.ollama
        .push_script(Script::reply("Rust is a language.").usage(60, 50));
    bot.discord.inject_message_create(mention("what is rust?"));
    bot.finished_answer(channel, "Rust is a language.").await;

    bot.discord.inject_message_create(mention("tell me more"));
    let refusal = "You have used your 100 tokens for today; the budget resets <t:1796342400:R>";
    bot.wait_answers(channel, "the budget refusal", |answers| {
        answers
            .iter()
            .any(|m| m["content"].as_str().unwrap_or_default().contains(refusal))
            .then_some(())
    })
    .await;
    let requests = bot.ollama.chat_requests().len();
    assert_eq!(requests, 1, "the refused message never reached the model");

    // An admin sees the bot's parts too.
    let status = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("status"));
    let (after, _) = command_answer(&bot, &status).await;
    assert!(
        after.contains("**Your tokens today:** 0 left of 100 (110 used)"),
        "{after}"
    );
    assert!(
        after.contains("**This server's tokens today:** no limit (110 used)"),
        "{after}"
    );
    assert!(after.contains("**Backend fake:**"), "{after}");

    // Someone else, no admin: their own budget, nothing about the bot's parts.
    let status = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("status").user(1_200_000_000_000_000_999, "someone"),
    );
    let (theirs, private) = command_answer(&bot, &status).await;
    assert!(private);
    assert!(
        theirs.contains("**Your tokens today:** 100 left of 100 (0 used)"),
        "{theirs}"
    );
    assert!(
        theirs.contains("(110 used)"),
        "the server's count: {theirs}"
    );
    assert!(!theirs.contains("Backend"), "{theirs}");
    let violations = bot.discord.take_spec_violations();
    assert!(violations.is_empty(), "{violations:#?}");
}
