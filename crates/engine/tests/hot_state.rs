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

/// On SQLite the person's message may still be queued for writing when the model is asked:
/// the history the model sees has it once, after what came before.
#[tokio::test]
async fn the_model_sees_the_new_message_once_whether_or_not_it_is_written_yet() {
    let h = harness(vec![tool_model()], None, config("llama3.2")).await;
    for n in 0..5 {
        h.fake.push_script(Script::reply(&format!("answer {n}")));
        run(&h.engine, say("c1", &format!("question {n}"))).await;
        let sent = h.fake.last_chat_request().unwrap();
        let said: Vec<&str> = sent["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] != "system")
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = (0..n)
            .flat_map(|k| [format!("alice: question {k}"), format!("answer {k}")])
            .chain([format!("alice: question {n}")])
            .collect();
        assert_eq!(said, expected, "turn {n}");
    }
    let history = h.history("c1").await;
    assert_eq!(history.len(), 10);
    assert!(history.windows(2).all(|w| w[0].id < w[1].id));
}

/// A turn whose message cannot be stored (here another process, not told it shares the SQLite
/// file, started the conversation a moment before) fails with that cause, and no answer is
/// committed without its question.
#[tokio::test]
async fn a_turn_whose_message_cannot_be_stored_fails_with_the_cause_and_commits_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/engine.sqlite", dir.path().display());
    let store = mcpcord_memory::Store::connect(&url).await.unwrap();
    let other = mcpcord_memory::Store::connect(&url).await.unwrap();
    let h = common::harness_on(store, dir, vec![tool_model()], None, config("llama3.2")).await;
    let turn = say("c9", "hello");
    let theirs = other
        .conversation_with_message(
            &turn.key,
            turn.scope,
            turn.author.id,
            mcpcord_memory::NewMessage::user("theirs"),
        )
        .await
        .unwrap();
    h.fake.push_script(Script::reply("an answer never stored"));
    let mut running = h.engine.start_turn(turn);
    let failed = tokio::time::timeout(common::TIMEOUT, async {
        while let Some(event) = running.next().await {
            match event {
                mcpcord_engine::TurnEvent::Failed(error) => return Some(error),
                mcpcord_engine::TurnEvent::Done(summary) => panic!("answered: {summary:?}"),
                _ => {}
            }
        }
        None
    })
    .await
    .expect("the turn ended in time")
    .expect("the turn failed");
    let text = failed.to_string();
    assert!(
        text.contains("could not be started") && text.contains("send the message again"),
        "{text}"
    );
    let history = other.history(theirs.conversation.id, 10).await.unwrap();
    assert_eq!(history, [theirs.message], "nothing of the failed turn");
}
