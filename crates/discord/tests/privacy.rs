//! `/privacy` end to end (FakeDiscord + FakeOllama + SQLite or PostgreSQL, driving
//! `mcpcord_discord::run`):
//! `export` answers privately with a JSON file holding the person's messages and answers and
//! nobody else's (FakeDiscord checks the multipart upload as Discord does); `forget` asks
//! privately with buttons that only that person may press; pressing "Forget me" forgets them
//! and says what went, and their next export is empty.

mod common;

use common::db::Db;
use common::*;
use mcpcord_engine::UserId;
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::{InjectedInteraction, InteractionCreate, ResponseKind};
use mcpcord_testkit::fake_ollama::Script;
use serde_json::Value;

on_both_databases!(privacy_export_and_forget_with_a_confirm_button);

const ALICE: u64 = FakeDiscord::USER_ID;
const BOB: u64 = 1_200_000_000_000_000_301;

/// The file attached to the edit of `interaction`'s deferred private answer, as JSON, with
/// the edit's body.
async fn exported(bot: &Bot, interaction: &InjectedInteraction) -> (Value, Value) {
    let responses = bot.responses(interaction, 2).await;
    assert_eq!(
        responses[0].kind,
        ResponseKind::Callback(5),
        "{responses:#?}"
    );
    assert_eq!(responses[0].body.as_ref().unwrap()["data"]["flags"], 64);
    let edit = responses
        .iter()
        .find(|r| r.kind == ResponseKind::EditOriginal)
        .unwrap_or_else(|| panic!("no edit of the deferred answer: {responses:#?}"));
    assert_eq!(edit.status, 200, "{edit:#?}");
    let request = bot
        .discord
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "PATCH" && r.path.contains(&interaction.token))
        .expect("the edit's request");
    let files = request.files();
    assert_eq!(files.len(), 1, "one file: {files:?}");
    assert_eq!(
        files[0].filename.as_deref(),
        Some(format!("mcpcord-data-{ALICE}.json").as_str())
    );
    let data = serde_json::from_slice(&files[0].data).expect("the file is JSON");
    (data, edit.body.clone().unwrap())
}

/// The private question `/privacy forget` posted (found by its buttons).
async fn question(bot: &Bot) -> Value {
    bot.wait_answers(FakeDiscord::CHANNEL_ID, "the forget question", |answers| {
        answers
            .iter()
            .rev()
            .find(|m| has_button(m, "forget:"))
            .cloned()
    })
    .await
}

async fn privacy_export_and_forget_with_a_confirm_button(db: Db) {
    // Six commands and presses of Alice's in a row: more than the default burst.
    let options = Options {
        database: Some(db),
        ..Options::default()
    };
    let mut bot = start_with(options, |c| c.command_rate.burst = 10.try_into().unwrap()).await;
    let channel = FakeDiscord::CHANNEL_ID;
    bot.ollama
        .push_script(Script::reply("Okapis play the violin."));
    bot.discord
        .inject_message_create(mention("tell me about the okapiviolin"));
    bot.finished_answer(channel, "Okapis play the violin.")
        .await;
    bot.ollama
        .push_script(Script::reply("Narwhals prefer brass."));
    bot.discord
        .inject_message_create(mention("and the narwhaltrumpet?").author(BOB, "bob"));
    bot.finished_answer(channel, "Narwhals prefer brass.").await;

    // Alice's export: her question and its answer, nothing of Bob's.
    let export = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("privacy").subcommand("export"),
    );
    let (data, body) = exported(&bot, &export).await;
    assert!(
        body["content"].as_str().unwrap().contains("attached file"),
        "{body:#}"
    );
    let text = data.to_string();
    assert_eq!(data["user"], ALICE.to_string());
    assert!(
        text.contains("okapiviolin") && text.contains("Okapis play the violin."),
        "{text}"
    );
    assert!(
        !text.contains("narwhal") && !text.contains("Narwhals"),
        "{text}"
    );
    assert!(!text.contains(&BOB.to_string()), "{text}");

    // Alice asks to be forgotten: a private question with two buttons naming her.
    let forget = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("privacy").subcommand("forget"),
    );
    let responses = bot.responses(&forget, 2).await;
    assert_eq!(responses[0].body.as_ref().unwrap()["data"]["flags"], 64);
    let asked = question(&bot).await;
    assert_eq!(
        asked["flags"].as_u64().unwrap() & 64,
        64,
        "private: {asked:#}"
    );
    let confirm = button(&asked, "forget:");
    assert_eq!(confirm, format!("forget:{ALICE}"));
    assert_eq!(button(&asked, "keep:"), format!("keep:{ALICE}"));
    let asked_id = id_of(&asked);

    // Bob presses it (a forged press): refused privately, nothing forgotten.
    let press = bot.discord.inject_interaction_create(
        InteractionCreate::button(confirm.clone(), asked_id).user(BOB, "bob"),
    );
    let refusal = bot.callback(&press).await;
    assert_eq!(refusal["type"], 4);
    assert_eq!(refusal["data"]["flags"], 64);
    assert!(
        refusal["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Only the person who asked"),
        "{refusal:#}"
    );
    let still = bot.engine.privacy_export(UserId::new(ALICE)).await.unwrap();
    assert_eq!(still.conversations.len(), 1);

    // Alice presses it: acknowledged, forgotten, told what went, the buttons gone.
    let press = bot
        .discord
        .inject_interaction_create(InteractionCreate::button(confirm, asked_id));
    let responses = bot.responses(&press, 2).await;
    assert_eq!(
        responses[0].kind,
        ResponseKind::Callback(6),
        "{responses:#?}"
    );
    let done = responses[1].body.clone().unwrap();
    assert_eq!(responses[1].status, 200, "{responses:#?}");
    let says = done["content"].as_str().unwrap();
    assert!(
        says.contains("you are forgotten") && says.contains("1 conversation"),
        "{says}"
    );
    assert_eq!(done["components"], Value::Array(Vec::new()));

    // Her next export holds nothing; Bob's data is whole.
    let export = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("privacy").subcommand("export"),
    );
    let (data, _) = exported(&bot, &export).await;
    assert_eq!(data["conversations"], Value::Array(Vec::new()), "{data:#}");
    assert!(!data.to_string().contains("okapiviolin"));
    let bob = bot.engine.privacy_export(UserId::new(BOB)).await.unwrap();
    assert!(
        serde_json::to_string(&bob)
            .unwrap()
            .contains("narwhaltrumpet")
    );

    // Asked again and cancelled: the question closes and nothing changes.
    bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("privacy").subcommand("forget"),
    );
    let asked = question(&bot).await;
    let keep = bot
        .discord
        .inject_interaction_create(InteractionCreate::button(
            button(&asked, "keep:"),
            id_of(&asked),
        ));
    let closed = bot.callback(&keep).await;
    assert_eq!(closed["type"], 7, "{closed:#}");
    assert!(
        closed["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Nothing was forgotten")
    );

    assert!(
        bot.discord.spec_violations().is_empty(),
        "{:#?}",
        bot.discord.spec_violations()
    );
    assert!(bot.discord.late_interactions().is_empty());
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}
