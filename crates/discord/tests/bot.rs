//! The adapter end to end: FakeDiscord (REST + gateway) + FakeOllama + the in-process test MCP
//! server + SQLite, driving the real runtime (`mcpcord_discord::run`) over real protocols.

mod common;

use std::time::Duration;

use common::*;
use mcpcord_mcp::{ApprovalPolicy, ToolPolicy};
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::{InteractionCreate, MessageCreate};
use mcpcord_testkit::fake_ollama::Script;
use serde_json::json;

#[test]
fn the_bot_id_matches_the_fake() {
    assert_eq!(BOT_ID, FakeDiscord::BOT_USER_ID.to_string());
}

#[tokio::test]
async fn a_mention_gets_a_streamed_reply_edited_in_place() {
    let mut bot = start(None, |_| {}).await;
    // Slower than the first post's window (1 s): posted with its first sentence, then edited.
    bot.ollama.push_script(
        Script::new()
            .delay(Duration::from_millis(800))
            .text("Hello there.")
            .delay(Duration::from_millis(1000))
            .text(" How")
            .delay(Duration::from_millis(400))
            .text(" are you,")
            .delay(Duration::from_millis(400))
            .text(" alice?"),
    );
    let user = bot.discord.inject_message_create(mention("hi"));
    let channel = FakeDiscord::CHANNEL_ID;
    let full = "Hello there. How are you, alice?";
    let answers = bot.finished_answer(channel, full).await;
    assert_eq!(answers.len(), 1, "{answers:#?}");
    let answer = &answers[0];
    assert_eq!(answer["content"], full);
    let created = bot
        .discord
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .expect("the answer was posted");
    assert_eq!(
        created.body.as_ref().unwrap()["content"],
        "Hello there.",
        "the first post waited for the first sentence"
    );
    assert_eq!(answer["message_reference"]["message_id"], user["id"]);
    assert!(has_button(answer, "regen:") && has_button(answer, "cont:"));
    let edits = bot.message_edits();
    assert!(
        edits >= 2,
        "the answer was edited as it streamed ({edits} edits)"
    );
    assert!(
        bot.discord
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/typing")),
        "a typing indicator while waiting"
    );
    assert!(last_prompt(&bot.ollama).last().unwrap().ends_with("hi"));
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}

#[tokio::test]
async fn replies_and_threads_continue_their_conversation() {
    let mut bot = start(None, |_| {}).await;
    let channel = FakeDiscord::CHANNEL_ID;
    bot.ollama.push_script(Script::reply("Rust is a language."));
    bot.discord.inject_message_create(mention("what is rust?"));
    let first = bot.finished_answer(channel, "Rust is a language.").await;
    bot.ollama
        .push_script(Script::reply("It was made at Mozilla."));
    bot.discord
        .inject_message_create(MessageCreate::new("who made it?").reply_to(id_of(&first[0])));
    bot.finished_answer(channel, "It was made at Mozilla.")
        .await;
    let prompt = last_prompt(&bot.ollama);
    assert!(
        prompt.iter().any(|m| m.contains("what is rust?"))
            && prompt.iter().any(|m| m == "Rust is a language."),
        "the reply chain's history reached the model: {prompt:?}"
    );

    // /chat starts a thread; a message there (no mention) continues it.
    bot.ollama.push_script(Script::reply("Threads are neat."));
    bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("chat").option("prompt", "tell me about threads"),
    );
    let thread = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(thread) = bot.discord.threads_in(channel).into_iter().next() {
                return thread["id"].as_str().unwrap().parse::<u64>().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a thread was started");
    bot.finished_answer(thread, "Threads are neat.").await;
    bot.ollama
        .push_script(Script::reply("Still in the thread."));
    bot.discord
        .inject_message_create(MessageCreate::new("and more?").channel(thread));
    bot.finished_answer(thread, "Still in the thread.").await;
    let prompt = last_prompt(&bot.ollama);
    assert!(
        prompt.iter().any(|m| m.contains("tell me about threads")),
        "the thread's history reached the model: {prompt:?}"
    );
    assert!(
        !prompt.iter().any(|m| m.contains("what is rust?")),
        "the thread is its own conversation: {prompt:?}"
    );
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}

#[tokio::test]
async fn direct_messages_are_answered_and_roll_on() {
    let mut bot = start(None, |_| {}).await;
    bot.ollama.push_script(Script::reply("Hi in private."));
    let sent = bot
        .discord
        .inject_message_create(MessageCreate::new("hello").dm());
    let dm: u64 = sent["channel_id"].as_str().unwrap().parse().unwrap();
    bot.finished_answer(dm, "Hi in private.").await;
    bot.ollama.push_script(Script::reply("Second DM answer."));
    bot.discord
        .inject_message_create(MessageCreate::new("again").dm());
    bot.finished_answer(dm, "Second DM answer.").await;
    assert!(
        last_prompt(&bot.ollama)
            .iter()
            .any(|m| m.ends_with("hello"))
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn messages_without_a_trigger_are_ignored() {
    let mut bot = start(None, |_| {}).await;
    bot.discord
        .inject_message_create(MessageCreate::new("just chatting"));
    bot.discord.inject_message_create(
        mention("a bot talks")
            .author(77, "otherbot")
            .bot_author(77, "otherbot"),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(bot.answers(FakeDiscord::CHANNEL_ID).is_empty());
    assert_eq!(bot.ollama.chat_requests().len(), 0);
    bot.shutdown().await;
}

#[tokio::test]
async fn a_long_answer_with_code_is_split_with_fences_reopened() {
    let mut bot = start(None, |_| {}).await;
    let mut long = String::from("Here is the code:\n\n```rust\n");
    let mut i = 0;
    while long.chars().count() < 4_900 {
        long.push_str(&format!("let value_{i} = compute({i}); // step {i}\n"));
        i += 1;
    }
    long.push_str("```\nThat is all.");
    bot.ollama.push_script(Script::reply(&long));
    bot.discord.inject_message_create(mention("show code"));
    let answers = bot
        .finished_answer(FakeDiscord::CHANNEL_ID, "That is all.")
        .await;
    assert!(answers.len() >= 3, "{} messages", answers.len());
    for answer in &answers {
        let content = answer["content"].as_str().unwrap();
        assert!(content.chars().count() <= 2000);
        assert_eq!(
            content.matches("```").count() % 2,
            0,
            "balanced fences: {content}"
        );
    }
    for answer in &answers[1..answers.len() - 1] {
        assert!(answer["content"].as_str().unwrap().starts_with("```rust"));
    }
    assert!(has_button(answers.last().unwrap(), "regen:"));
    assert!(
        custom_ids(&answers[0]).is_empty(),
        "controls only on the last message"
    );
    let hits = bot.discord.rate_limited();
    assert!(hits.is_empty(), "{hits:#?}");
    bot.shutdown().await;
}

/// 5,000 characters with a code block, streamed over a few seconds: three messages posted and
/// edited in one channel, whose creates and edits share one bucket of 5 per 5 s (as on
/// Discord), without a single 429.
#[tokio::test]
async fn a_long_streamed_answer_stays_within_the_channel_bucket() {
    let mut bot = start(None, |_| {}).await;
    let mut script = Script::new().text("Here is the code:\n\n```rust\n");
    let mut long = String::from("Here is the code:\n\n```rust\n");
    let mut i = 0;
    while long.chars().count() < 4_900 {
        let line = format!("let value_{i} = compute({i}); // step {i}\n");
        long.push_str(&line);
        script = script.delay(Duration::from_millis(25)).text(&line);
        i += 1;
    }
    long.push_str("```\nThat is all.");
    bot.ollama.push_script(script.text("```\nThat is all."));
    bot.discord
        .inject_message_create(mention("show code, slowly"));
    let answers = bot
        .finished_answer(FakeDiscord::CHANNEL_ID, "That is all.")
        .await;
    assert!(answers.len() >= 3, "{} messages", answers.len());
    let hits = bot.discord.rate_limited();
    assert!(hits.is_empty(), "no 429: {hits:#?}");
    let edits = bot.message_edits();
    assert!(edits >= 1, "the answer was streamed ({edits} edits)");
    bot.shutdown().await;
}

/// An answer complete within the first post's window costs one request: a create with its
/// final text and buttons; no edit, no typing indicator.
#[tokio::test]
async fn a_quick_answer_is_one_request() {
    let mut bot = start(None, |_| {}).await;
    bot.ollama.push_script(Script::reply("Quick and done."));
    bot.discord.inject_message_create(mention("quick?"));
    let answers = bot
        .finished_answer(FakeDiscord::CHANNEL_ID, "Quick and done.")
        .await;
    assert_eq!(answers.len(), 1, "{answers:#?}");
    assert!(has_button(&answers[0], "regen:") && has_button(&answers[0], "cont:"));
    let channel = format!("/channels/{}/", FakeDiscord::CHANNEL_ID);
    let sent: Vec<String> = bot
        .discord
        .requests()
        .iter()
        .filter(|r| r.path.contains(&channel) || r.path.ends_with(&channel[..channel.len() - 1]))
        .map(|r| format!("{} {}", r.method, r.route.clone().unwrap_or_default()))
        .collect();
    assert_eq!(sent, ["POST /channels/{channel_id}/messages"]);
    bot.shutdown().await;
}

#[tokio::test]
async fn everyone_in_model_output_pings_nobody() {
    let mut bot = start(None, |_| {}).await;
    bot.ollama
        .push_script(Script::reply("@everyone look! <@&5> and <@1>"));
    bot.discord.inject_message_create(mention("ping them"));
    let answers = bot
        .finished_answer(FakeDiscord::CHANNEL_ID, "@everyone look!")
        .await;
    assert_eq!(answers[0]["mention_everyone"], false);
    assert_eq!(answers[0]["mentions"], json!([]));
    assert_eq!(answers[0]["mention_roles"], json!([]));
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}

#[tokio::test]
async fn stop_regenerate_and_continue_buttons() {
    let mut bot = start(None, |_| {}).await;
    let channel = FakeDiscord::CHANNEL_ID;
    bot.ollama.push_script(
        Script::new()
            .text("Counting: one")
            .delay(Duration::from_secs(10))
            .text(" two"),
    );
    bot.discord.inject_message_create(mention("count"));
    let streaming = bot
        .wait_answers(channel, "a Stop button", |answers| {
            answers.iter().find(|m| has_button(m, "stop:")).cloned()
        })
        .await;
    bot.discord
        .inject_interaction_create(InteractionCreate::button(
            button(&streaming, "stop:"),
            id_of(&streaming),
        ));
    let stopped = bot.finished_answer(channel, "interrupted").await;
    assert!(
        stopped[0]["content"]
            .as_str()
            .unwrap()
            .starts_with("Counting: one")
    );
    assert!(!stopped[0]["content"].as_str().unwrap().contains("two"));

    bot.ollama
        .push_script(Script::reply("Counting again: one two."));
    bot.discord
        .inject_interaction_create(InteractionCreate::button(
            button(&stopped[0], "regen:"),
            id_of(&stopped[0]),
        ));
    let regenerated = bot
        .finished_answer(channel, "Counting again: one two.")
        .await;
    let newest = regenerated.last().unwrap().clone();
    bot.ollama.push_script(Script::reply(" three four."));
    bot.discord
        .inject_interaction_create(InteractionCreate::button(
            button(&newest, "cont:"),
            id_of(&newest),
        ));
    bot.finished_answer(channel, "three four.").await;
    let prompt = last_prompt(&bot.ollama);
    assert!(
        prompt
            .iter()
            .any(|m| m.contains("Counting again: one two.")),
        "Continue sends the answer so far: {prompt:?}"
    );
    assert!(bot.discord.late_interactions().is_empty());
    bot.shutdown().await;
}

fn asking(tool: &str) -> ToolPolicy {
    let mut policy = ToolPolicy::default();
    policy.approval.insert(tool.to_owned(), ApprovalPolicy::Ask);
    policy
}

#[tokio::test]
async fn tool_calls_show_progress_and_ask_for_approval() {
    // Server managers are not admins here (admins may approve anyone's call).
    let mut bot = start(Some(asking("echo")), |c| c.admins.server_managers = false).await;
    let channel = FakeDiscord::CHANNEL_ID;
    // Approved.
    bot.ollama
        .push_script(Script::new().tool_call("echo", json!({"text": "pong"})));
    bot.ollama.push_script(Script::reply("The tool said pong."));
    bot.discord.inject_message_create(mention("ping the tool"));
    let asking = bot
        .wait_answers(channel, "an approval row", |answers| {
            answers.iter().find(|m| has_button(m, "tool:")).cloned()
        })
        .await;
    assert!(asking["content"].as_str().unwrap().contains("echo"));
    let approve = custom_ids(&asking)
        .into_iter()
        .find(|id| id.starts_with("tool:") && id.ends_with(":y"))
        .unwrap();
    // Someone else's press is refused.
    let stranger = bot.discord.inject_interaction_create(
        InteractionCreate::button(approve.clone(), id_of(&asking)).user(4242, "mallory"),
    );
    bot.discord
        .inject_interaction_create(InteractionCreate::button(approve, id_of(&asking)));
    let done = bot.finished_answer(channel, "The tool said pong.").await;
    let content = done[0]["content"].as_str().unwrap();
    assert!(content.contains('✓') || content.contains("✅"), "{content}");
    let refused = bot.discord.interaction_responses(stranger.id);
    assert_eq!(
        refused[0].body.as_ref().unwrap()["data"]["flags"],
        64,
        "the stranger got a private refusal"
    );

    // Denied.
    bot.ollama
        .push_script(Script::new().tool_call("echo", json!({"text": "nope"})));
    bot.ollama.push_script(Script::reply("It was denied."));
    bot.discord.inject_message_create(mention("again"));
    let asking = bot
        .wait_answers(channel, "a second approval row", |answers| {
            answers[1..]
                .iter()
                .find(|m| has_button(m, "tool:"))
                .cloned()
        })
        .await;
    let deny = custom_ids(&asking)
        .into_iter()
        .find(|id| id.starts_with("tool:") && id.ends_with(":n"))
        .unwrap();
    bot.discord
        .inject_interaction_create(InteractionCreate::button(deny, id_of(&asking)));
    let done = bot.finished_answer(channel, "It was denied.").await;
    let content = done.last().unwrap()["content"].as_str().unwrap();
    assert!(content.contains('✗'), "{content}");
    bot.shutdown().await;
}

#[tokio::test]
async fn help_lists_every_command_and_autocomplete_offers_models() {
    let mut bot = start(None, |_| {}).await;
    let help = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("help"));
    let complete = bot
        .discord
        .inject_interaction_create(InteractionCreate::autocomplete("model", "name", "lla"));
    let (help_body, complete_body) = tokio::time::timeout(WAIT, async {
        loop {
            let h = bot.discord.interaction_responses(help.id);
            let c = bot.discord.interaction_responses(complete.id);
            if let (Some(h), Some(c)) = (h.first(), c.first()) {
                return (h.body.clone().unwrap(), c.body.clone().unwrap());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let embed = help_body["data"]["embeds"][0].to_string();
    for command in mcpcord_discord::commands::all_commands() {
        assert!(
            embed.contains(&command.name),
            "/help names {}",
            command.name
        );
    }
    let choices = &complete_body["data"]["choices"];
    assert!(
        choices[0]["value"]
            .as_str()
            .unwrap()
            .starts_with("llama3.2"),
        "{complete_body:#}"
    );
    // "lla" matches llama3.2 and llava, and nothing else.
    assert_eq!(choices.as_array().unwrap().len(), 2, "{complete_body:#}");

    // The model menu stores the choice.
    let anchor = bot
        .discord
        .inject_message_create(MessageCreate::new("menu here"));
    let select = bot
        .discord
        .inject_interaction_create(InteractionCreate::select(
            "model:u",
            &["llava"],
            id_of(&anchor),
        ));
    tokio::time::timeout(WAIT, async {
        while bot.discord.interaction_responses(select.id).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let preferences = bot
        .engine
        .store()
        .get_preferences(&mcpcord_memory::Scope {
            user_id: Some(mcpcord_memory::UserId::new(FakeDiscord::USER_ID)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(preferences.user.model.as_deref(), Some("llava"));
    assert!(bot.discord.late_interactions().is_empty());
    bot.shutdown().await;
}

#[tokio::test]
async fn shutdown_during_a_stream_ends_with_a_final_edit() {
    let mut bot = start(None, |c| c.grace = Duration::from_millis(300)).await;
    let channel = FakeDiscord::CHANNEL_ID;
    bot.ollama.push_script(
        Script::new()
            .text("Partial answer")
            .delay(Duration::from_secs(30))
            .text(" never"),
    );
    bot.discord.inject_message_create(mention("long one"));
    bot.wait_answers(channel, "the first piece", |answers| {
        (!answers.is_empty()).then_some(())
    })
    .await;
    bot.shutdown().await;
    let answers = bot.answers(channel);
    let content = answers[0]["content"].as_str().unwrap();
    assert!(content.starts_with("Partial answer"), "{content}");
    assert!(content.contains("interrupted"), "{content}");
    assert!(
        custom_ids(&answers[0])
            .iter()
            .all(|id| !id.starts_with("stop:"))
    );
}

#[tokio::test]
async fn a_refused_token_on_the_gateway_stops_the_bot_with_the_remedy() {
    let mut bot = start(None, |_| {}).await;
    // Discord closes the gateway with 4004 (authentication failed): the bot cannot go on, so
    // `run` ends by itself with an error that says what to fix, instead of idling without Discord.
    bot.discord.disconnect_all(4004);
    let error = bot
        .exited()
        .await
        .expect_err("the bot stopped with an error");
    match &error {
        mcpcord_discord::BotError::Gateway { code, .. } => assert_eq!(*code, 4004),
        other => panic!("expected a gateway error, got {other}"),
    }
    assert!(error.to_string().contains("Developer Portal"), "{error}");
}
