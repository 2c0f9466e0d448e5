//! More of the adapter end to end (FakeDiscord + FakeOllama + the in-process test MCP server +
//! SQLite, driving `mcpcord_discord::run`): `/prompt` with its arguments modal, an elicitation
//! answered through a modal, attachments (an image to a vision model, a text file read in,
//! another kind named), Discord's rate limits under several streamed answers at once, and
//! `/tools`.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use mcpcord_engine::EngineConfig;
use mcpcord_mcp::ToolPolicy;
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::{InteractionCreate, ResponseKind};
use mcpcord_testkit::fake_ollama::Script;
use serde_json::{Value, json};

/// The text inputs of a modal callback (`type` 9), by custom id, wherever they sit (in a
/// Label or in an action row).
fn modal_inputs(callback: &Value) -> Vec<String> {
    fn walk(component: &Value, out: &mut Vec<String>) {
        if component["type"] == 4 {
            out.extend(component["custom_id"].as_str().map(str::to_owned));
        }
        if let Some(inner) = component.get("component") {
            walk(inner, out);
        }
        for inner in component["components"].as_array().into_iter().flatten() {
            walk(inner, out);
        }
    }
    let mut out = Vec::new();
    for component in callback["data"]["components"]
        .as_array()
        .into_iter()
        .flatten()
    {
        walk(component, &mut out);
    }
    out
}

/// The tool results the model was sent in the last chat request.
fn tool_results(bot: &Bot) -> Vec<String> {
    bot.ollama.last_chat_request().unwrap()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn prompt_with_arguments_opens_a_modal_and_runs_as_a_turn() {
    let mut bot = start(Some(ToolPolicy::default()), |_| {}).await;
    let channel = FakeDiscord::CHANNEL_ID;

    // Autocomplete offers the server's prompt.
    let complete = bot
        .discord
        .inject_interaction_create(InteractionCreate::autocomplete("prompt", "name", "gre"));
    let body = bot.callback(&complete).await;
    assert_eq!(body["type"], 8, "{body:#}");
    let choices = body["data"]["choices"].as_array().unwrap();
    let greet = choices
        .iter()
        .find_map(|c| c["value"].as_str().filter(|v| v.ends_with("greet")))
        .unwrap_or_else(|| panic!("greet offered: {body:#}"))
        .to_owned();
    assert_eq!(greet, "test › greet");

    // The command answers with the arguments modal at once.
    let command = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("prompt").option("name", &*greet),
    );
    let modal = bot.callback(&command).await;
    assert_eq!(modal["type"], 9, "a modal: {modal:#}");
    let custom_id = modal["data"]["custom_id"].as_str().unwrap().to_owned();
    assert_eq!(modal_inputs(&modal), vec!["name".to_owned()], "{modal:#}");

    // Someone else cannot submit it.
    bot.ollama
        .push_script(Script::reply("Hello, Bob! So glad you are here."));
    let stranger = bot.discord.inject_interaction_create(
        InteractionCreate::modal_submit(custom_id.clone())
            .field("name", "Mallory")
            .user(4242, "mallory"),
    );
    let refused = bot.callback(&stranger).await;
    assert_eq!(
        refused["data"]["flags"], 64,
        "a private refusal: {refused:#}"
    );

    // The owner's submit runs the prompt's messages as a turn.
    let submit = bot
        .discord
        .inject_interaction_create(InteractionCreate::modal_submit(custom_id).field("name", "Bob"));
    bot.finished_answer(channel, "Hello, Bob! So glad you are here.")
        .await;
    let prompt = last_prompt(&bot.ollama);
    assert!(
        prompt.last().unwrap().contains("Please greet Bob warmly"),
        "the prompt's message reached the model: {prompt:?}"
    );
    assert!(
        !prompt.iter().any(|m| m.contains("Mallory")),
        "the refused submit ran nothing: {prompt:?}"
    );
    let responses = bot.responses(&submit, 2).await;
    assert_eq!(
        responses[0].kind,
        ResponseKind::Callback(5),
        "{responses:#?}"
    );
    assert!(
        responses
            .iter()
            .any(|r| r.kind == ResponseKind::EditOriginal
                && r.body.as_ref().unwrap()["content"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("greet")),
        "the deferred response says which prompt ran: {responses:#?}"
    );
    assert!(bot.discord.late_interactions().is_empty());
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}

#[tokio::test]
async fn an_elicitation_is_answered_through_a_modal() {
    let mut bot = start(Some(ToolPolicy::default()), |_| {}).await;
    let channel = FakeDiscord::CHANNEL_ID;
    bot.ollama.push_script(
        Script::new().tool_call("ask", json!({"question": "What should I call you?"})),
    );
    bot.ollama
        .push_script(Script::reply("Nice to meet you, Bob."));
    bot.discord.inject_message_create(mention("ask me my name"));

    // The answer shows the question with a button that opens the form.
    let asking = bot
        .wait_answers(channel, "an elicitation button", |answers| {
            answers.iter().find(|m| has_button(m, "elicit:")).cloned()
        })
        .await;
    let content = asking["content"].as_str().unwrap();
    assert!(content.contains("What should I call you?"), "{content}");
    let press = bot
        .discord
        .inject_interaction_create(InteractionCreate::button(
            button(&asking, "elicit:"),
            id_of(&asking),
        ));
    let modal = bot.callback(&press).await;
    assert_eq!(modal["type"], 9, "the button opens a modal: {modal:#}");
    assert_eq!(modal_inputs(&modal), vec!["name".to_owned()], "{modal:#}");
    let form = modal["data"]["custom_id"].as_str().unwrap().to_owned();

    // An empty required field is refused privately and the question stays open.
    let empty = bot.discord.inject_interaction_create(
        InteractionCreate::modal_submit(form.clone())
            .field("name", "")
            .from_message(id_of(&asking)),
    );
    let refused = bot.callback(&empty).await;
    assert_eq!(refused["data"]["flags"], 64, "{refused:#}");

    // The answer goes back to the server; the model's next round sees the tool's result.
    let submit = bot.discord.inject_interaction_create(
        InteractionCreate::modal_submit(form)
            .field("name", "Bob")
            .from_message(id_of(&asking)),
    );
    let done = bot.finished_answer(channel, "Nice to meet you, Bob.").await;
    assert_eq!(
        bot.responses(&submit, 1).await[0].kind,
        ResponseKind::Callback(6),
        "the submit is acknowledged"
    );
    let results = tool_results(&bot);
    assert!(
        results.iter().any(|r| r.contains("the user answered: Bob")),
        "the model saw the answer: {results:?}"
    );
    let last = done.last().unwrap();
    assert!(
        !has_button(last, "elicit:"),
        "the form button is gone once answered: {last:#}"
    );
    assert!(bot.discord.late_interactions().is_empty());
    bot.shutdown().await;
}

/// The smallest PNG: one transparent pixel.
const PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

#[tokio::test]
async fn attachments_reach_the_model_images_through_the_vision_model() {
    let mut bot = start_with(
        Options {
            engine: EngineConfig {
                default_model: "llama3.2".into(),
                vision_model: Some("llava".into()),
                ..EngineConfig::default()
            },
            ..Options::default()
        },
        |_| {},
    )
    .await;
    let channel = FakeDiscord::CHANNEL_ID;

    // An image, to a model without vision: the vision model answers, seeing the image.
    bot.ollama.push_script(Script::reply("A single pixel."));
    bot.discord
        .inject_message_create(mention("what is in this picture?").attachment(
            "pixel.png",
            "image/png",
            PIXEL_PNG,
        ));
    bot.finished_answer(channel, "A single pixel.").await;
    let request = bot.ollama.last_chat_request().unwrap();
    assert_eq!(request["model"], "llava", "routed to models.vision");
    let user = request["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(
        user["images"],
        json!([base64::engine::general_purpose::STANDARD.encode(PIXEL_PNG)]),
        "{user:#}"
    );
    assert!(
        user["content"]
            .as_str()
            .unwrap()
            .contains("what is in this picture?")
    );

    // A text file is read in; another kind is named, not dropped.
    bot.ollama.push_script(Script::reply("Read both."));
    bot.discord.inject_message_create(
        mention("look at these")
            .attachment(
                "notes.txt",
                "text/plain; charset=utf-8",
                "line one\nline two\n",
            )
            .attachment(
                "archive.zip",
                "application/zip",
                vec![0x50, 0x4b, 0x03, 0x04],
            ),
    );
    bot.finished_answer(channel, "Read both.").await;
    let request = bot.ollama.last_chat_request().unwrap();
    assert_eq!(request["model"], "llama3.2", "no image: the usual model");
    let user = request["messages"].as_array().unwrap().last().unwrap();
    let content = user["content"].as_str().unwrap();
    assert!(
        content.contains("notes.txt") && content.contains("line one\nline two"),
        "the text file was read in: {content}"
    );
    assert!(
        content.contains("archive.zip") && content.contains("not read"),
        "the zip is named: {content}"
    );
    assert!(
        user.get("images")
            .is_none_or(|i| i.as_array().is_none_or(Vec::is_empty))
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn streamed_answers_at_once_stay_within_the_rate_limits() {
    const CONVERSATIONS: usize = 4;
    let mut bot = start_with(
        Options {
            discord: FakeDiscord::builder().message_rate_limit(3, Duration::from_secs(1)),
            ..Options::default()
        },
        |_| {},
    )
    .await;
    let channel = FakeDiscord::CHANNEL_ID;
    let mut expected = HashMap::new();
    for n in 0..CONVERSATIONS {
        let mut script = Script::new();
        let mut text = String::new();
        for chunk in 0..8 {
            let piece = format!("conversation {n} chunk {chunk}. ");
            text.push_str(&piece);
            script = script.text(&piece).delay(Duration::from_millis(150));
        }
        bot.ollama.push_script(script.text("The end."));
        text.push_str("The end.");
        let user = 1_300_000_000_000_000_000 + n as u64;
        let sent = bot
            .discord
            .inject_message_create(mention(&format!("talk {n}")).author(user, format!("user{n}")));
        expected.insert(sent["id"].as_str().unwrap().to_owned(), text);
        // One at a time into the model, so each conversation gets its own script; then they
        // all stream at once.
        tokio::time::timeout(WAIT, async {
            while bot.ollama.chat_requests().len() <= n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the model was asked");
    }
    let answers = bot
        .wait_answers(channel, "every answer complete", |answers| {
            let complete = expected.iter().all(|(question, text)| {
                answers.iter().any(|m| {
                    m["message_reference"]["message_id"].as_str() == Some(question.as_str())
                        && m["content"] == text.as_str()
                        && !has_button(m, "stop:")
                })
            });
            complete.then(|| answers.to_vec())
        })
        .await;
    assert_eq!(answers.len(), CONVERSATIONS, "{answers:#?}");
    let hits = bot.discord.rate_limited();
    assert!(hits.is_empty(), "no request went over the limit: {hits:#?}");
    let edits = bot.message_edits();
    assert!(
        edits >= CONVERSATIONS * 2,
        "the answers were streamed ({edits} edits)"
    );
    assert_no_pings(&bot.discord);
    bot.shutdown().await;
}

#[tokio::test]
async fn a_429_is_waited_out_before_the_request_is_sent_again() {
    let window = Duration::from_secs(2);
    let mut bot = start_with(
        Options {
            discord: FakeDiscord::builder().message_rate_limit(3, window),
            ..Options::default()
        },
        |_| {},
    )
    .await;
    let channel = FakeDiscord::CHANNEL_ID;
    bot.ollama.push_script(
        Script::new()
            .delay(Duration::from_millis(300))
            .text("Answered after the wait."),
    );
    bot.discord.inject_message_create(mention("hello"));
    // Someone else with the bot's token (another process, a script) empties the channel's
    // message bucket before the bot posts its answer: the bot cannot know, and gets a 429.
    let http = reqwest::Client::new();
    let url = format!("{}/channels/{channel}/messages", bot.discord.api_base());
    for n in 0..3 {
        let response = http
            .post(&url)
            .header("authorization", format!("Bot {}", FakeDiscord::TOKEN))
            .json(&json!({"content": format!("from elsewhere {n}"), "allowed_mentions": {"parse": []}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
    }
    bot.finished_answer(channel, "Answered after the wait.")
        .await;
    let hits = bot.discord.rate_limited();
    assert!(!hits.is_empty(), "the bot ran into the emptied bucket");
    let requests = bot.discord.requests();
    for hit in &hits {
        let next = requests
            .iter()
            .filter(|r| r.at > hit.at)
            .find(|r| r.method.as_str() == hit.method && r.path == hit.path)
            .unwrap_or_else(|| panic!("the refused request was sent again: {hit:#?}"));
        let waited = next.at.duration_since(hit.at);
        assert!(
            waited + Duration::from_millis(5) >= hit.retry_after,
            "waited {waited:?} of the {:?} asked: {hit:#?}",
            hit.retry_after
        );
    }
    bot.shutdown().await;
}

#[tokio::test]
async fn tools_lists_the_tools_and_admins_switch_them_per_channel() {
    // More commands than the default burst, one after another.
    let mut bot = start(Some(ToolPolicy::default()), |c| {
        c.command_rate.burst = 20.try_into().unwrap();
        c.command_rate.per_minute = 600.try_into().unwrap();
    })
    .await;
    let channel = FakeDiscord::CHANNEL_ID;
    let list = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("tools").subcommand("list"));
    let listed = private_text(&bot, &list).await;
    for tool in ["echo", "ask", "add"] {
        assert!(
            listed.contains(&format!("`test › {tool}`")),
            "/tools list names {tool}: {listed}"
        );
    }
    assert!(!listed.contains("off in this channel"), "{listed}");
    let filtered = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("tools")
            .subcommand("list")
            .option("server", "elsewhere"),
    );
    assert_eq!(private_text(&bot, &filtered).await, "No tools.");

    // Autocomplete offers the tools as `server › tool`.
    let complete = bot
        .discord
        .inject_interaction_create(InteractionCreate::autocomplete("tools", "tool", "ech"));
    let body = bot.callback(&complete).await;
    assert_eq!(body["type"], 8, "{body:#}");
    assert!(
        body["data"]["choices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["value"] == "test › echo"),
        "{body:#}"
    );

    // An admin (the default user manages the server) switches echo off here; privately.
    let disable = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("tools")
            .subcommand("disable")
            .option("tool", "test › echo"),
    );
    let answer = private_text(&bot, &disable).await;
    assert!(
        answer.contains("Off in") && answer.contains("`test › echo`"),
        "{answer}"
    );
    assert_eq!(
        bot.engine
            .store()
            .disabled_tools(mcpcord_engine::ChannelId::new(channel))
            .await
            .unwrap(),
        [mcpcord_memory::DisabledTool {
            server: "test".into(),
            tool: "echo".into()
        }]
    );
    let again = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("tools")
            .subcommand("disable")
            .option("tool", "echo"),
    );
    let answer = private_text(&bot, &again).await;
    assert!(answer.contains("Already off"), "{answer}");

    // The list marks it; the model is no longer offered it in this channel.
    let list = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("tools").subcommand("list"));
    let listed = private_text(&bot, &list).await;
    let marked: Vec<&str> = listed
        .lines()
        .filter(|l| l.contains("off in this channel"))
        .collect();
    assert!(
        marked.len() == 1 && marked[0].starts_with("`test › echo`"),
        "{listed}"
    );
    bot.ollama.push_script(Script::reply("No echo for me."));
    bot.discord
        .inject_message_create(mention("what tools do you have?"));
    bot.finished_answer(channel, "No echo for me.").await;
    let offered: Vec<String> = bot.ollama.last_chat_request().unwrap()["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !offered.contains(&"echo".to_owned()) && offered.contains(&"add".to_owned()),
        "{offered:?}"
    );

    // A name that is neither a tool nor a server is refused; enable puts echo back.
    let unknown = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("tools")
            .subcommand("disable")
            .option("tool", "nope"),
    );
    let answer = private_text(&bot, &unknown).await;
    assert!(
        answer.contains("no tool or MCP server called `nope`"),
        "{answer}"
    );
    let enable = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("tools")
            .subcommand("enable")
            .option("tool", "test › echo"),
    );
    let answer = private_text(&bot, &enable).await;
    assert!(answer.contains("Back on"), "{answer}");
    assert!(
        bot.engine
            .store()
            .disabled_tools(mcpcord_engine::ChannelId::new(channel))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(bot.discord.late_interactions().is_empty());
    bot.shutdown().await;
}

#[tokio::test]
async fn tools_switches_are_for_admins_only() {
    let mut bot = start(Some(ToolPolicy::default()), |c| {
        c.admins.server_managers = false;
    })
    .await;
    let enable = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("tools")
            .subcommand("enable")
            .option("tool", "test › echo"),
    );
    let answer = private_text(&bot, &enable).await;
    assert!(
        answer.contains("🔒") || answer.contains("admin"),
        "{answer}"
    );
    // Listing stays open to everyone.
    let list = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("tools").subcommand("list"));
    assert!(private_text(&bot, &list).await.contains("`test › echo`"));
    bot.shutdown().await;
}

#[tokio::test]
async fn a_user_over_the_message_rate_gets_a_reaction_not_an_answer() {
    let mut bot = start(None, |c| c.messages_per_minute = 1.try_into().unwrap()).await;
    let channel = FakeDiscord::CHANNEL_ID;
    bot.ollama.push_script(Script::reply("first answer"));
    bot.discord.inject_message_create(mention("one"));
    bot.finished_answer(channel, "first answer").await;
    let second = bot.discord.inject_message_create(mention("two"));
    let second_id = second["id"].as_str().unwrap().to_string();
    let reaction = bot
        .discord
        .wait_for_request(|r| {
            r.method == "PUT"
                && r.path
                    .contains(&format!("/messages/{second_id}/reactions/"))
        })
        .await
        .expect("the second message gets a reaction");
    assert!(reaction.path.ends_with("/@me"), "{}", reaction.path);
    assert_eq!(
        bot.ollama.chat_requests().len(),
        1,
        "the second message was not answered"
    );
    bot.shutdown().await;
}

/// Two messages sent one after the other in a channel where the bot always answers are answered
/// in the order they were sent, even when the first takes longer to take in (its attachment
/// comes from a slow CDN): the second does not overtake it into the conversation.
#[tokio::test]
async fn messages_of_one_channel_reach_the_model_in_the_order_sent() {
    let channel = FakeDiscord::CHANNEL_ID;
    let mut bot = start_with(
        Options {
            discord: FakeDiscord::builder().attachment_latency(Duration::from_millis(400)),
            ..Options::default()
        },
        |config| {
            config.always_answer_channels.insert(channel);
        },
    )
    .await;
    bot.ollama
        .push_scripts([Script::reply("Answer one."), Script::reply("Answer two.")]);
    bot.discord
        .inject_message_create(mention("first message").attachment(
            "notes.txt",
            "text/plain",
            "slow to fetch\n",
        ));
    bot.discord.inject_message_create(mention("second message"));
    bot.finished_answer(channel, "Answer two.").await;

    let requests = bot.ollama.chat_requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let last_user = |request: &Value| {
        request["messages"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    assert!(
        last_user(&requests[0]).contains("first message"),
        "the first message is answered first: {:#?}",
        requests[0]["messages"]
    );
    let second: Vec<String> = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    let at = |needle: &str| {
        second
            .iter()
            .position(|c| c.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} is in the second turn's context: {second:#?}"))
    };
    assert!(
        at("first message") < at("Answer one.") && at("Answer one.") < at("second message"),
        "the second turn sees the first one before it: {second:#?}"
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn memory_recall_is_switched_by_people_and_by_admins_for_the_server() {
    let mut bot = start(None, |c| {
        c.admins.server_managers = false;
        c.admins.users = [twilight_model::id::Id::new(FakeDiscord::USER_ID)].into();
    })
    .await;
    let scope = mcpcord_engine::Scope {
        guild_id: Some(mcpcord_engine::GuildId::new(FakeDiscord::GUILD_ID)),
        channel_id: Some(mcpcord_engine::ChannelId::new(FakeDiscord::CHANNEL_ID)),
        user_id: Some(mcpcord_engine::UserId::new(FakeDiscord::USER_ID)),
    };
    let off = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("memory")
            .subcommand("recall")
            .option("state", "off"),
    );
    let answer = private_text(&bot, &off).await;
    assert!(answer.contains("switched off for you"), "{answer}");
    let preferences = bot.engine.store().get_preferences(&scope).await.unwrap();
    assert_eq!(preferences.user.recall, Some(false));

    // The server-wide switch: an admin may, someone else is refused by the gate.
    let server_on = || {
        InteractionCreate::slash_command("memory")
            .subcommand("recall")
            .option("state", "on")
            .option("scope", "server")
    };
    let by_admin = bot.discord.inject_interaction_create(server_on());
    let answer = private_text(&bot, &by_admin).await;
    assert!(answer.contains("in this server"), "{answer}");
    let by_other = bot
        .discord
        .inject_interaction_create(server_on().user(1_200_000_000_000_000_999, "someone"));
    let answer = private_text(&bot, &by_other).await;
    assert!(answer.contains("🔒"), "{answer}");
    let preferences = bot.engine.store().get_preferences(&scope).await.unwrap();
    assert_eq!(preferences.guild.recall, Some(true));
    assert_eq!(preferences.user.recall, Some(false));

    let default = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("memory")
            .subcommand("recall")
            .option("state", "default"),
    );
    assert!(
        private_text(&bot, &default)
            .await
            .contains("back to the default")
    );
    let preferences = bot.engine.store().get_preferences(&scope).await.unwrap();
    assert_eq!(preferences.user.recall, None);
    bot.shutdown().await;
}
