//! The trust boundary end to end (FakeDiscord + FakeOllama + SQLite, driving
//! `mcpcord_discord::run`): every entry point passes the same gate, a control acts only on the
//! answer it is under and only for its asker, an approval shows what it approves, and the bot
//! stays responsive under a flood of presses.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use mcpcord_discord::bot::BotConfig;
use mcpcord_mcp::{ApprovalPolicy, ToolPolicy};
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::{
    GuildConfig, InjectedInteraction, InteractionCreate, MessageCreate, ResponseKind,
};
use mcpcord_testkit::fake_ollama::Script;
use serde_json::json;

const CHANNEL: u64 = FakeDiscord::CHANNEL_ID;
const STRANGER: u64 = 1_200_000_000_000_000_777;

/// Server managers are not admins here: only the asker owns an answer's controls.
fn owners_only(config: &mut BotConfig) {
    config.admins.server_managers = false;
}

/// The private (ephemeral) message the bot answered `interaction` with at once.
async fn private_text(bot: &Bot, interaction: &InjectedInteraction) -> String {
    let body = bot.callback(interaction).await;
    assert_eq!(body["type"], 4, "a message, not a deferral: {body:#}");
    assert_eq!(body["data"]["flags"], 64, "private: {body:#}");
    body["data"]["content"].as_str().unwrap().to_owned()
}

/// The text a deferred private command answer was filled in with.
async fn deferred_text(bot: &Bot, interaction: &InjectedInteraction) -> String {
    let responses = bot.responses(interaction, 2).await;
    let edit = responses
        .iter()
        .find(|r| r.kind == ResponseKind::EditOriginal)
        .unwrap_or_else(|| panic!("the deferred answer was filled in: {responses:#?}"));
    edit.body.as_ref().unwrap()["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Gives the bot time to do something it should not, then checks it made no model call.
async fn no_model_call(bot: &Bot, before: usize, what: &str) {
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        bot.ollama.chat_requests().len(),
        before,
        "{what} started a model turn"
    );
}

#[tokio::test]
async fn controls_from_an_earlier_run_or_another_message_do_nothing() {
    let mut first = start(None, owners_only).await;
    first.ollama.push_script(Script::reply("First run."));
    first.discord.inject_message_create(mention("hi"));
    let old = first.finished_answer(CHANNEL, "First run.").await;
    let old_regenerate = button(&old[0], "regen:");
    first.shutdown().await;

    // The bot restarts: same channel, a new answer, whose turn the old button must not reach.
    let mut second = start(None, owners_only).await;
    second.ollama.push_script(Script::reply("Second run."));
    let asked = second.discord.inject_message_create(mention("hello"));
    let new = second.finished_answer(CHANNEL, "Second run.").await;
    let new_regenerate = button(&new[0], "regen:");
    assert_ne!(
        old_regenerate, new_regenerate,
        "turn ids differ across runs"
    );
    let before = second.ollama.chat_requests().len();

    let stale = second
        .discord
        .inject_interaction_create(InteractionCreate::button(
            old_regenerate.clone(),
            id_of(&new[0]),
        ));
    let said = private_text(&second, &stale).await;
    assert!(said.contains("earlier run"), "{said}");

    // This run's button, but pressed on another message (the person's own): nothing either.
    let elsewhere = second
        .discord
        .inject_interaction_create(InteractionCreate::button(
            new_regenerate.clone(),
            id_of(&asked),
        ));
    let said = private_text(&second, &elsewhere).await;
    assert!(said.contains("does not belong"), "{said}");
    no_model_call(&second, before, "a stale or misplaced button").await;

    // The button where it belongs still works.
    second
        .ollama
        .push_script(Script::reply("Second run, again."));
    second
        .discord
        .inject_interaction_create(InteractionCreate::button(new_regenerate, id_of(&new[0])));
    second.finished_answer(CHANNEL, "Second run, again.").await;
    second.shutdown().await;
}

/// Every kind of interaction, as a person would send them where the bot must not serve them;
/// returns them with what each is.
fn every_entry_point(
    place: impl Fn(InteractionCreate) -> InteractionCreate,
) -> Vec<(String, InteractionCreate)> {
    vec![
        (
            "/chat".into(),
            place(InteractionCreate::slash_command("chat").option("prompt", "hi")),
        ),
        (
            "/help".into(),
            place(InteractionCreate::slash_command("help")),
        ),
        (
            "a button".into(),
            place(InteractionCreate::button("regen:12345", 1)),
        ),
        (
            "a select".into(),
            place(InteractionCreate::select("model:u", &["llava"], 1)),
        ),
        (
            "a modal".into(),
            place(InteractionCreate::modal_submit("prompt:1").field("text", "hello")),
        ),
    ]
}

/// Injects every entry point; each gets a private refusal containing `why`, none a model turn;
/// autocomplete gets no choices.
async fn refused_everywhere(
    bot: &Bot,
    place: impl Fn(InteractionCreate) -> InteractionCreate,
    why: &str,
) {
    for (what, interaction) in every_entry_point(&place) {
        let injected = bot.discord.inject_interaction_create(interaction);
        let said = private_text(bot, &injected).await;
        assert!(said.contains(why), "{what}: {said}");
    }
    let complete = bot
        .discord
        .inject_interaction_create(place(InteractionCreate::autocomplete(
            "chat", "model", "ll",
        )));
    let body = bot.callback(&complete).await;
    assert_eq!(body["type"], 8, "{body:#}");
    assert_eq!(body["data"]["choices"], json!([]), "{body:#}");
    no_model_call(bot, 0, "a refused interaction").await;
}

#[tokio::test]
async fn a_server_the_bot_does_not_serve_gets_nothing_from_any_entry_point() {
    let mut bot = start(None, |c| {
        c.audience.allowed_guilds = HashSet::from([42]);
    })
    .await;
    bot.ollama.push_script(Script::reply("should not be said"));
    bot.discord.inject_message_create(mention("hi"));
    refused_everywhere(&bot, |i| i, "isn't enabled in this server").await;
    let public: Vec<_> = bot
        .answers(CHANNEL)
        .into_iter()
        .filter(|m| m["flags"].as_u64().unwrap_or(0) & 64 == 0)
        .collect();
    assert!(public.is_empty(), "a mention is ignored too: {public:#?}");
    bot.shutdown().await;
}

#[tokio::test]
async fn a_blocked_user_gets_nothing_from_any_entry_point() {
    let mut bot = start(None, |c| {
        c.audience.blocked_users = HashSet::from([STRANGER]);
    })
    .await;
    refused_everywhere(&bot, |i| i.user(STRANGER, "mallory"), "can't use this bot").await;
    bot.discord
        .inject_message_create(mention("hi").author(STRANGER, "mallory"));
    no_model_call(&bot, 0, "a blocked user's mention").await;
    bot.shutdown().await;
}

#[tokio::test]
async fn direct_messages_get_nothing_when_dms_are_off() {
    let mut bot = start(None, |c| {
        c.audience.allow_dms = false;
    })
    .await;
    refused_everywhere(&bot, InteractionCreate::dm, "direct messages").await;
    bot.discord
        .inject_message_create(MessageCreate::new("hi").dm());
    no_model_call(&bot, 0, "a DM").await;
    bot.shutdown().await;
}

#[tokio::test]
async fn only_the_asker_regenerates_and_only_the_latest_answer() {
    let mut bot = start(None, owners_only).await;
    bot.ollama.push_script(Script::reply("Answer one."));
    bot.discord.inject_message_create(mention("first"));
    let first = bot.finished_answer(CHANNEL, "Answer one.").await;
    let before = bot.ollama.chat_requests().len();

    for control in ["regen:", "cont:"] {
        let stranger = bot.discord.inject_interaction_create(
            InteractionCreate::button(button(&first[0], control), id_of(&first[0]))
                .user(STRANGER, "mallory"),
        );
        let said = private_text(&bot, &stranger).await;
        assert!(said.contains("Only the person who asked"), "{said}");
    }
    no_model_call(&bot, before, "a stranger's Regenerate or Continue").await;

    // The conversation moves on (a reply to the answer): the first answer is no longer the
    // latest, and its buttons say so instead of rewriting another answer.
    bot.ollama.push_script(Script::reply("Answer two."));
    bot.discord
        .inject_message_create(mention("and then?").reply_to(id_of(&first[0])));
    bot.finished_answer(CHANNEL, "Answer two.").await;
    let before = bot.ollama.chat_requests().len();
    let old = bot
        .discord
        .inject_interaction_create(InteractionCreate::button(
            button(&first[0], "regen:"),
            id_of(&first[0]),
        ));
    let said = private_text(&bot, &old).await;
    assert!(said.contains("no longer the latest"), "{said}");
    no_model_call(&bot, before, "Regenerate under an older answer").await;
    bot.shutdown().await;
}

#[tokio::test]
async fn an_approval_prompt_shows_the_arguments_but_no_secret() {
    let mut policy = ToolPolicy::default();
    policy
        .approval
        .insert("echo".to_owned(), ApprovalPolicy::Ask);
    let mut bot = start(Some(policy), |_| {}).await;
    bot.ollama.push_script(Script::new().tool_call(
        "echo",
        json!({"text": "launch the rockets", "api_key": "sk-live-123"}),
    ));
    bot.ollama.push_script(Script::reply("Denied, fine."));
    bot.discord.inject_message_create(mention("do it"));
    let asking = bot
        .wait_answers(CHANNEL, "an approval row", |answers| {
            answers.iter().find(|m| has_button(m, "tool:")).cloned()
        })
        .await;
    let content = asking["content"].as_str().unwrap();
    assert!(content.contains("test › echo"), "{content}");
    assert!(content.contains("```json"), "{content}");
    assert!(
        content.contains("\"text\": \"launch the rockets\""),
        "{content}"
    );
    assert!(!content.contains("sk-live-123"), "{content}");
    let deny = custom_ids(&asking)
        .into_iter()
        .find(|id| id.starts_with("tool:") && id.ends_with(":n"))
        .unwrap();
    bot.discord
        .inject_interaction_create(InteractionCreate::button(deny, id_of(&asking)));
    bot.finished_answer(CHANNEL, "Denied, fine.").await;
    bot.shutdown().await;
}

#[tokio::test]
async fn a_person_with_too_many_answers_in_progress_waits() {
    let mut bot = start(None, |c| c.open_turns_per_user = 1).await;
    // Its first sentence is posted after the first post's window (1 s), well before it ends.
    bot.ollama.push_script(
        Script::new()
            .text("Slowly.")
            .delay(Duration::from_secs(3))
            .text(" Done."),
    );
    bot.discord.inject_message_create(mention("one"));
    bot.wait_answers(CHANNEL, "the first answer", |answers| {
        (!answers.is_empty()).then_some(())
    })
    .await;
    let second = bot.discord.inject_message_create(mention("two"));
    let second_id = id_of(&second);
    let reaction = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(r) = bot.discord.requests().into_iter().find(|r| {
                r.method == "PUT"
                    && r.path
                        .contains(&format!("/messages/{second_id}/reactions/"))
            }) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the second message gets a ⏳ reaction");
    assert!(reaction.path.ends_with("/@me"), "{}", reaction.path);
    bot.finished_answer(CHANNEL, "Slowly. Done.").await;
    assert_eq!(bot.ollama.chat_requests().len(), 1, "one answer only");
    bot.shutdown().await;
}

#[tokio::test]
async fn tools_cannot_be_switched_in_another_servers_channel() {
    const OTHER_GUILD: u64 = 1_200_000_000_000_000_900;
    const OTHER_CHANNEL: u64 = 1_200_000_000_000_000_901;
    let options = Options {
        tools: Some(ToolPolicy::default()),
        discord: FakeDiscord::builder()
            .guild(GuildConfig::new(OTHER_GUILD, "Elsewhere").text_channel(OTHER_CHANNEL, "far")),
        ..Options::default()
    };
    let mut bot = start_with(options, |_| {}).await;
    let disable = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("tools")
            .subcommand("disable")
            .option("tool", "test › echo")
            .typed_option("channel", 7, OTHER_CHANNEL.to_string()),
    );
    let said = deferred_text(&bot, &disable).await;
    assert!(said.contains("not a channel of this server"), "{said}");
    assert!(
        bot.engine
            .store()
            .disabled_tools(mcpcord_engine::ChannelId::new(OTHER_CHANNEL))
            .await
            .unwrap()
            .is_empty()
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn only_allowed_models_are_picked_by_people_who_are_not_admins() {
    let mut bot = start(None, |c| {
        owners_only(c);
        c.allowed_models = Some(HashSet::from(["llama3.2".to_owned()]));
    })
    .await;
    let chat = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("chat")
            .option("prompt", "hi")
            .option("model", "llava"),
    );
    let responses = bot.responses(&chat, 3).await;
    let said = responses
        .iter()
        .find(|r| r.kind == ResponseKind::Followup)
        .and_then(|r| r.body.as_ref())
        .and_then(|b| b["content"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(said.contains("not among the models you may pick"), "{said}");
    no_model_call(&bot, 0, "/chat with a model not allowed").await;
    bot.shutdown().await;
}

#[tokio::test]
async fn ten_thousand_presses_leave_the_bot_responsive() {
    let mut bot = start(None, owners_only).await;
    bot.ollama.push_script(Script::reply("Pressed a lot."));
    bot.discord.inject_message_create(mention("press me"));
    let answer = bot.finished_answer(CHANNEL, "Pressed a lot.").await;
    let controls = custom_ids(&answer[0]);
    let message = id_of(&answer[0]);
    let before = bot.ollama.chat_requests().len();

    // 10,000 presses from 500 strangers on the answer's buttons and on buttons of turns that
    // do not exist, all at once.
    let started = Instant::now();
    let mut presses = Vec::with_capacity(10_000);
    for i in 0..10_000u64 {
        let custom_id = if i % 2 == 0 {
            controls[(i as usize / 2) % controls.len()].clone()
        } else {
            format!("regen:{}", 1_000_000 + i)
        };
        let user = STRANGER + i % 500;
        presses.push(bot.discord.inject_interaction_create(
            InteractionCreate::button(custom_id, message).user(user, "someone"),
        ));
    }
    // Every press is answered (a refusal, privately) ...
    let deadline = Instant::now() + Duration::from_secs(180);
    for press in &presses {
        while bot.discord.interaction_responses(press.id).is_empty() {
            assert!(
                Instant::now() < deadline,
                "press {} was never answered",
                press.id
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    eprintln!(
        "10,000 presses answered in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // ... none started a turn, and the bot still answers at once.
    no_model_call(&bot, before, "a stranger's press").await;
    bot.ollama.push_script(Script::reply("Still here."));
    bot.discord.inject_message_create(mention("still there?"));
    bot.finished_answer(CHANNEL, "Still here.").await;
    bot.shutdown().await;
}

#[tokio::test]
async fn an_unanswered_form_times_out_and_the_answer_goes_on() {
    let mut bot = start(Some(ToolPolicy::default()), |c| {
        c.approval_timeout = Duration::from_millis(500);
    })
    .await;
    bot.ollama
        .push_script(Script::new().tool_call("ask", json!({"question": "Your name?"})));
    bot.ollama.push_script(Script::reply("Nobody answered."));
    bot.discord.inject_message_create(mention("ask me"));
    bot.wait_answers(CHANNEL, "an elicitation button", |answers| {
        answers.iter().find(|m| has_button(m, "elicit:")).cloned()
    })
    .await;
    let done = bot.finished_answer(CHANNEL, "Nobody answered.").await;
    assert!(
        !done.iter().any(|m| has_button(m, "elicit:")),
        "the form's button is gone: {done:#?}"
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn a_failed_answer_names_the_error_id_and_not_the_server_address() {
    let mut bot = start(None, |_| {}).await;
    bot.ollama
        .push_script(Script::error(500, "the GPU caught fire"));
    bot.discord.inject_message_create(mention("hi"));
    let failed = bot
        .wait_answers(CHANNEL, "a failed answer", |answers| {
            answers
                .iter()
                .find(|m| {
                    m["content"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("error `")
                })
                .cloned()
        })
        .await;
    let content = failed["content"].as_str().unwrap();
    assert!(content.starts_with("⚠️"), "{content}");
    assert!(!content.contains("127.0.0.1"), "{content}");
    bot.shutdown().await;
}

#[tokio::test]
async fn model_show_names_the_model_the_next_turn_uses() {
    let mut bot = start(None, |c| {
        c.command_rate.burst = 10.try_into().unwrap();
    })
    .await;
    // /chat with a model starts a thread whose conversation keeps that model ...
    bot.ollama.push_script(Script::reply("Seen."));
    bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("chat")
            .option("prompt", "look")
            .option("model", "llava"),
    );
    let thread = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(thread) = bot.discord.threads_in(CHANNEL).into_iter().next() {
                return thread["id"].as_str().unwrap().parse::<u64>().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a thread was started");
    bot.finished_answer(thread, "Seen.").await;
    // ... even though the person prefers another model.
    let set = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("model")
            .subcommand("set")
            .option("name", "llama3.2")
            .channel(thread),
    );
    assert!(deferred_text(&bot, &set).await.contains("llama3.2"));
    let show = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("model")
            .subcommand("show")
            .channel(thread),
    );
    let shown = deferred_text(&bot, &show).await;
    assert!(shown.contains("`llava`"), "{shown}");
    assert!(shown.contains("for this conversation"), "{shown}");

    bot.ollama.push_script(Script::reply("Still llava."));
    bot.discord
        .inject_message_create(MessageCreate::new("and now?").channel(thread));
    bot.finished_answer(thread, "Still llava.").await;
    let used = bot.ollama.last_chat_request().unwrap()["model"].clone();
    assert_eq!(used, "llava", "the next turn uses what /model show named");
    bot.shutdown().await;
}
