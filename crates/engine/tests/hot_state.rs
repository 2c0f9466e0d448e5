//! A change made through the engine is seen by the next turn, although on SQLite the turn reads
//! preferences, disabled tools and its conversation from memory.

mod common;

use common::{config, harness, request, run, say, tool_model};
use mcpcord_engine::{ChannelId, PreferenceLevel, TurnAction, UserId, UserMessage};
use mcpcord_testkit::fake_ollama::{FakeModel, Script};

/// The tool names offered in a chat request.
fn offered(request: &serde_json::Value) -> Vec<String> {
    request["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn changes_through_the_engine_reach_the_next_turn() {
    let other = FakeModel::new("qwen3")
        .capabilities(&["completion", "tools"])
        .context_length(32_768);
    let h = harness(
        vec![tool_model(), other],
        Some(Default::default()),
        config("llama3.2"),
    )
    .await;
    // The scope of `common::request`: guild 1, channel 2, user 42.
    let turn = |text: &str| {
        h.fake.push_script(Script::reply("ok"));
        run(&h.engine, say("c1", text))
    };
    turn("first").await;
    let sent = h.fake.last_chat_request().unwrap();
    assert_eq!(sent["model"], "llama3.2");
    assert!(offered(&sent).contains(&"echo".to_owned()), "{sent}");

    // A channel's model and system prompt.
    h.engine
        .set_model_preference(PreferenceLevel::Channel(ChannelId::new(2)), "qwen3")
        .await
        .unwrap();
    h.engine
        .set_system_prompt(
            PreferenceLevel::Channel(ChannelId::new(2)),
            "You are Zed, in {channel}.",
        )
        .await
        .unwrap();
    turn("second").await;
    let sent = h.fake.last_chat_request().unwrap();
    assert_eq!(sent["model"], "qwen3");
    let system = sent["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("You are Zed, in general."), "{system}");

    // A tool switched off in the channel.
    h.engine
        .switch_tools(ChannelId::new(2), "echo", false, Some(UserId::new(42)))
        .await
        .unwrap();
    turn("third").await;
    let sent = h.fake.last_chat_request().unwrap();
    assert!(!offered(&sent).contains(&"echo".to_owned()), "{sent}");

    // A model chosen for one turn becomes the conversation's, over the channel's.
    h.fake.push_script(Script::reply("ok"));
    let mut chosen = request("c1", TurnAction::Message(UserMessage::text("fourth")));
    chosen.model = Some("llama3.2".into());
    run(&h.engine, chosen).await;
    turn("fifth").await;
    assert_eq!(h.fake.last_chat_request().unwrap()["model"], "llama3.2");

    // Starting over: the next turn sees none of the earlier messages.
    let key = mcpcord_engine::ConversationKey::new("c1");
    let scope = request("c1", TurnAction::Message(UserMessage::text(""))).scope;
    h.engine
        .start_over(&key, scope, Some(UserId::new(42)))
        .await
        .unwrap();
    turn("sixth").await;
    let sent = h.fake.last_chat_request().unwrap();
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "system and the new message: {sent}");
    assert!(messages[1]["content"].as_str().unwrap().ends_with("sixth"));
    // The new conversation has no chosen model: the channel's applies again.
    assert_eq!(sent["model"], "qwen3");
    assert_eq!(h.history("c1").await.len(), 2);
}
