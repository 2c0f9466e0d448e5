//! The engine end to end over FakeOllama, the test MCP server (in process) and SQLite.

mod common;

use std::time::Duration;

use common::*;
use mcpcord_engine::{Approval, EngineConfig, TurnAction, TurnEvent, UserMessage};
use mcpcord_memory::{ChannelId, Role, UserId};
use mcpcord_testkit::fake_ollama::{FakeModel, Script};
use serde_json::json;

#[tokio::test]
async fn answers_and_keeps_the_conversation() {
    let h = harness(vec![tool_model()], None, config("llama3.2")).await;
    h.fake
        .push_script(Script::new().text("Hello ").text("alice!").usage(30, 3));
    let (events, summary) = run(&h.engine, say("c1", "hi <@42>")).await;
    assert_eq!(summary.text, "Hello alice!");
    assert_eq!(summary.prompt_tokens, Some(30));
    assert!(!summary.interrupted);
    assert_eq!(events[0], "started llama3.2");
    assert!(events.contains(&"text Hello ".to_string()));

    // The model saw the system prompt (templated) and the attributed message.
    let sent = h.fake.last_chat_request().unwrap();
    let system = sent["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("alice") && !system.contains("{date}"),
        "{system}"
    );
    assert_eq!(sent["messages"][1]["content"], "alice: hi <@42>");

    let history = h.history("c1").await;
    let roles: Vec<Role> = history.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant]);
    assert_eq!(history[1].content, "Hello alice!");
    assert_eq!(history[1].model.as_deref(), Some("llama3.2"));
}

#[tokio::test]
async fn runs_the_tool_loop_and_feeds_results_back() {
    let h = harness(
        vec![tool_model()],
        Some(Default::default()),
        config("llama3.2"),
    )
    .await;
    h.fake
        .push_script(Script::new().tool_call("echo", json!({"text": "pong"})));
    h.fake.push_script(Script::reply("The tool said pong."));
    let (events, summary) = run(&h.engine, say("c1", "ping the tool")).await;
    assert_eq!(summary.text, "The tool said pong.");
    assert_eq!((summary.tool_calls, summary.rounds), (1, 2));
    assert!(events.contains(&"tool test/echo".to_string()), "{events:?}");
    assert!(
        events.contains(&"finished true pong".to_string()),
        "{events:?}"
    );

    let requests = h.fake.chat_requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[0]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["function"]["name"] == "echo")
    );
    let messages = requests[1]["messages"].as_array().unwrap();
    let tool_message = messages
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("a tool message");
    assert_eq!(tool_message["tool_name"], "echo");
    assert_eq!(tool_message["content"], "pong");

    // The whole exchange is stored, and a later turn sees it.
    let roles: Vec<Role> = h.history("c1").await.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::User, Role::Assistant, Role::Tool, Role::Assistant]
    );
    h.fake.push_script(Script::reply("again"));
    run(&h.engine, say("c1", "and now?")).await;
    let replayed = h.fake.last_chat_request().unwrap();
    assert!(
        replayed["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["role"] == "tool")
    );
}

#[tokio::test]
async fn runs_several_calls_of_a_round_concurrently() {
    let h = harness(
        vec![tool_model()],
        Some(Default::default()),
        config("llama3.2"),
    )
    .await;
    h.fake.push_script(
        Script::new()
            .tool_call("sleep", json!({"ms": 400}))
            .tool_call("sleep", json!({"ms": 401}))
            .tool_call("add", json!({"a": 2, "b": 3})),
    );
    h.fake.push_script(Script::reply("done"));
    let started = std::time::Instant::now();
    let (events, summary) = run(&h.engine, say("c1", "three things")).await;
    assert_eq!(summary.tool_calls, 3);
    let first_finish = events
        .iter()
        .position(|e| e.starts_with("finished"))
        .unwrap();
    let starts_before = events[..first_finish]
        .iter()
        .filter(|e| e.starts_with("tool "))
        .count();
    assert_eq!(
        starts_before, 3,
        "all calls start before any ends: {events:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(790),
        "the sleeps overlapped"
    );
}

#[tokio::test]
async fn breaks_a_loop_of_identical_calls_and_says_why() {
    let h = harness(
        vec![tool_model()],
        Some(Default::default()),
        config("llama3.2"),
    )
    .await;
    h.fake
        .push_script(Script::new().tool_call("add", json!({"a": 1, "b": 2})));
    h.fake
        .push_script(Script::new().tool_call("add", json!({"b": 2, "a": 1})));
    h.fake.push_script(Script::reply("It is 3."));
    let (events, summary) = run(&h.engine, say("c1", "1+2?")).await;
    assert_eq!(summary.text, "It is 3.");
    assert!(
        events.iter().any(|e| e.contains("repeated a tool call")),
        "{events:?}"
    );
    let requests = h.fake.chat_requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests[2]
            .get("tools")
            .is_none_or(|t| t.as_array().is_none_or(Vec::is_empty)),
        "no tools after a loop"
    );
}

#[tokio::test]
async fn caps_the_number_of_tool_rounds() {
    let config = EngineConfig {
        max_tool_rounds: 2,
        ..config("llama3.2")
    };
    let h = harness(vec![tool_model()], Some(Default::default()), config).await;
    for i in 0..2 {
        h.fake
            .push_script(Script::new().tool_call("add", json!({"a": i, "b": 1})));
    }
    h.fake.push_script(Script::reply("enough"));
    let (events, summary) = run(&h.engine, say("c1", "keep adding")).await;
    assert_eq!(summary.text, "enough");
    assert!(
        events.iter().any(|e| e.contains("after 2 rounds")),
        "{events:?}"
    );
}

#[tokio::test]
async fn an_ask_tool_waits_for_approval_and_a_denial_reaches_the_model() {
    let h = harness(
        vec![tool_model()],
        Some(asking(&["echo"])),
        config("llama3.2"),
    )
    .await;
    h.fake
        .push_script(Script::new().tool_call("echo", json!({"text": "secret"})));
    h.fake.push_script(Script::reply("ok, I won't"));
    let (events, _) = run_with(&h.engine, say("c1", "echo it"), Approval::Deny).await;
    assert!(events.contains(&"approval echo".to_string()), "{events:?}");
    assert!(
        events.iter().any(|e| e.starts_with("finished false")),
        "{events:?}"
    );
    let sent = h.fake.last_chat_request().unwrap();
    let tool = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap()
        .clone();
    assert!(
        tool["content"].as_str().unwrap().contains("denied"),
        "{tool}"
    );

    h.fake
        .push_script(Script::new().tool_call("echo", json!({"text": "fine"})));
    h.fake.push_script(Script::reply("echoed"));
    let (events, _) = run_with(
        &h.engine,
        say("c1", "now yes"),
        Approval::AlwaysInConversation,
    )
    .await;
    assert!(
        events.contains(&"finished true fine".to_string()),
        "{events:?}"
    );
    // "Always" holds for the rest of the conversation: no second question.
    h.fake
        .push_script(Script::new().tool_call("echo", json!({"text": "again"})));
    h.fake.push_script(Script::reply("echoed again"));
    let (events, _) = run_with(&h.engine, say("c1", "once more"), Approval::Deny).await;
    assert!(
        !events.iter().any(|e| e.starts_with("approval")),
        "{events:?}"
    );
    assert!(
        events.contains(&"finished true again".to_string()),
        "{events:?}"
    );
}

#[tokio::test]
async fn stop_during_a_tool_call_cancels_it_and_keeps_what_was_said() {
    let h = harness(
        vec![tool_model()],
        Some(Default::default()),
        config("llama3.2"),
    )
    .await;
    h.fake.push_script(
        Script::new()
            .text("Let me wait. ")
            .tool_call("sleep", json!({"ms": 20_000})),
    );
    let mut turn = h.engine.start_turn(say("c1", "wait a long time"));
    let started = std::time::Instant::now();
    let summary = tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = turn.next().await {
            match event {
                TurnEvent::ToolStarted { .. } => turn.stop(),
                TurnEvent::Done(summary) => return summary,
                TurnEvent::Failed(error) => panic!("{error}"),
                _ => {}
            }
        }
        panic!("no Done");
    })
    .await
    .unwrap();
    assert!(summary.interrupted);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped promptly"
    );
    assert!(summary.text.starts_with("Let me wait."));
    for _ in 0..100 {
        if h.server.cancelled_calls() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        h.server.cancelled_calls(),
        1,
        "the server was told to cancel"
    );
    let history = h.history("c1").await;
    assert!(history.last().unwrap().interrupted, "stored as interrupted");
}

#[tokio::test]
async fn stop_during_streaming_keeps_the_partial_answer() {
    let h = harness(vec![tool_model()], None, config("llama3.2")).await;
    h.fake.push_script(
        Script::new()
            .text("Partial")
            .delay(Duration::from_secs(20))
            .text(" never"),
    );
    let mut turn = h.engine.start_turn(say("c1", "talk"));
    let summary = tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = turn.next().await {
            match event {
                TurnEvent::Text(_) => turn.stop(),
                TurnEvent::Done(summary) => return summary,
                _ => {}
            }
        }
        panic!("no Done");
    })
    .await
    .unwrap();
    assert_eq!(summary.text, "Partial");
    assert!(summary.interrupted);
}

#[tokio::test]
async fn regenerate_replaces_the_last_answer_and_continue_extends_it() {
    let h = harness(vec![tool_model()], None, config("llama3.2")).await;
    h.fake.push_script(Script::reply("first answer"));
    run(&h.engine, say("c1", "tell me")).await;
    h.fake.push_script(Script::reply("second answer"));
    let (_, summary) = run(&h.engine, request("c1", TurnAction::REGENERATE_LATEST)).await;
    assert_eq!(summary.text, "second answer");
    let sent = h.fake.last_chat_request().unwrap();
    let contents: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert!(
        !contents.contains(&"first answer"),
        "the replaced answer is not shown: {contents:?}"
    );
    assert_eq!(*contents.last().unwrap(), "alice: tell me");

    h.fake.push_script(Script::reply(" and more"));
    let (_, summary) = run(&h.engine, request("c1", TurnAction::CONTINUE_LATEST)).await;
    assert_eq!(summary.text, " and more");
    let sent = h.fake.last_chat_request().unwrap();
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages[messages.len() - 2]["content"], "second answer");
    assert!(
        messages[messages.len() - 1]["content"]
            .as_str()
            .unwrap()
            .starts_with("Continue")
    );

    let answers: Vec<String> = h
        .history("c1")
        .await
        .into_iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| m.content)
        .collect();
    assert_eq!(answers, ["second answer", " and more"]);

    let error = {
        let mut turn = h
            .engine
            .start_turn(request("fresh", TurnAction::REGENERATE_LATEST));
        loop {
            match turn.next().await.unwrap() {
                TurnEvent::Failed(error) => break error,
                TurnEvent::Done(_) => panic!("nothing to regenerate"),
                _ => {}
            }
        }
    };
    assert!(
        error.to_string().contains("no answer to regenerate"),
        "{error}"
    );
}

#[tokio::test]
async fn a_long_history_is_trimmed_to_the_models_context_with_a_notice() {
    let small = FakeModel::new("small")
        .capabilities(&["completion"])
        .context_length(600);
    let config = EngineConfig {
        reserved_answer_tokens: 100,
        ..config("small")
    };
    let h = harness(vec![small], None, config).await;
    for i in 0..12 {
        h.fake.push_script(Script::reply(&format!(
            "answer {i} {}",
            "words ".repeat(20)
        )));
        run(
            &h.engine,
            say("c1", &format!("question {i} {}", "padding ".repeat(20))),
        )
        .await;
    }
    h.fake.push_script(Script::reply("fits"));
    let (events, _) = run(&h.engine, say("c1", "the newest question")).await;
    assert!(
        events.iter().any(|e| e.contains("did not fit")),
        "{events:?}"
    );
    let sent = h.fake.last_chat_request().unwrap();
    let messages = sent["messages"].as_array().unwrap();
    assert!(messages.len() < 25, "trimmed: {} messages", messages.len());
    assert_eq!(
        messages.last().unwrap()["content"],
        "alice: the newest question"
    );
    assert_eq!(messages[0]["role"], "system");
}

#[tokio::test]
async fn images_go_to_a_vision_model_or_are_left_out_with_a_notice() {
    let image = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let with_image = |key: &str| {
        request(
            key,
            TurnAction::Message(UserMessage {
                text: "what is this?".into(),
                images: vec![image.into()],
                ..UserMessage::default()
            }),
        )
    };
    let models = vec![
        FakeModel::new("llama3.2").capabilities(&["completion"]),
        FakeModel::new("llava").capabilities(&["completion", "vision"]),
    ];
    let with_vision = EngineConfig {
        vision_model: Some("llava".into()),
        ..config("llama3.2")
    };
    let h = harness(models.clone(), None, with_vision).await;
    h.fake.push_script(Script::reply("a pixel"));
    let (events, summary) = run(&h.engine, with_image("c1")).await;
    assert_eq!(summary.model, "llava");
    assert!(
        events.iter().any(|e| e.contains("llava answers")),
        "{events:?}"
    );
    let sent = h.fake.last_chat_request().unwrap();
    assert_eq!(sent["model"], "llava");
    assert_eq!(
        sent["messages"].as_array().unwrap().last().unwrap()["images"][0],
        image
    );

    let h = harness(models, None, config("llama3.2")).await;
    h.fake.push_script(Script::reply("I cannot see it"));
    let (events, summary) = run(&h.engine, with_image("c2")).await;
    assert_eq!(summary.model, "llama3.2");
    assert!(
        events.iter().any(|e| e.contains("cannot see images")),
        "{events:?}"
    );
    assert!(
        h.fake.last_chat_request().unwrap()["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m.get("images").is_none())
    );
}

#[tokio::test]
async fn a_model_without_tools_still_answers_with_a_notice() {
    let plain = FakeModel::new("gemma").capabilities(&["completion"]);
    let h = harness(vec![plain], Some(Default::default()), config("gemma")).await;
    h.fake.push_script(Script::reply("no tools here"));
    let (_, summary) = run(&h.engine, say("c1", "use a tool")).await;
    assert_eq!(summary.text, "no tools here");
    assert!(h.fake.last_chat_request().unwrap().get("tools").is_none());
}

#[tokio::test]
async fn turns_of_one_conversation_run_in_order_and_others_run_alongside() {
    let h = harness(vec![tool_model()], None, config("llama3.2")).await;
    h.fake.push_script(
        Script::new()
            .delay(Duration::from_millis(300))
            .text("first"),
    );
    h.fake.push_script(Script::reply("second"));
    let first = h.engine.start_turn(say("same", "one"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = h.engine.start_turn(say("same", "two"));
    let finish = |mut turn: mcpcord_engine::Turn| async move {
        while let Some(event) = turn.next().await {
            if let TurnEvent::Done(summary) = event {
                return summary.text;
            }
        }
        panic!("no Done");
    };
    let (a, b) = tokio::time::timeout(
        TIMEOUT,
        futures::future::join(finish(first), finish(second)),
    )
    .await
    .unwrap();
    assert_eq!((a.as_str(), b.as_str()), ("first", "second"));
    // The second request saw the first answer: the turns did not interleave.
    let sent = h.fake.last_chat_request().unwrap();
    let contents: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(&contents[1..], ["alice: one", "first", "alice: two"]);
}

#[tokio::test]
async fn shutdown_stops_taking_turns() {
    let h = harness(vec![tool_model()], None, config("llama3.2")).await;
    h.engine.shutdown(Duration::from_secs(1)).await;
    let mut turn = h.engine.start_turn(say("c1", "hello?"));
    match turn.next().await {
        Some(TurnEvent::Failed(error)) => assert!(error.to_string().contains("shutting down")),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn names_speakers_only_in_shared_channels() {
    let h = harness(vec![tool_model()], None, config("llama3.2")).await;
    h.fake.push_script(Script::reply("hi"));
    let mut dm = say("dm", "hello");
    dm.scope.guild_id = None;
    run(&h.engine, dm).await;
    let sent = h.fake.last_chat_request().unwrap();
    assert_eq!(sent["messages"][1]["content"], "hello");
}

#[tokio::test]
async fn a_tool_disabled_in_the_channel_is_not_offered_and_a_call_to_it_is_refused() {
    let h = harness(
        vec![tool_model()],
        Some(Default::default()),
        config("llama3.2"),
    )
    .await;
    // Channel 2 is where `say` speaks.
    h.engine
        .store()
        .disable_tool(ChannelId::new(2), "test", "echo", Some(UserId::new(42)))
        .await
        .unwrap();

    // The model calls it anyway (from an older history, say): the call is refused.
    h.fake
        .push_script(Script::new().tool_call("echo", json!({"text": "pong"})));
    h.fake
        .push_script(Script::reply("I may not use that here."));
    let (events, summary) = run(&h.engine, say("c1", "ping the tool")).await;
    assert_eq!(summary.text, "I may not use that here.");
    let requests = h.fake.chat_requests();
    let offered: Vec<&str> = requests[0]["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["function"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(!offered.contains(&"echo"), "{offered:?}");
    assert!(!offered.is_empty(), "the other tools are still offered");
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("finished false") && e.contains("disabled")),
        "{events:?}"
    );
    let tool_message = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("a tool message")
        .clone();
    let content = tool_message["content"].as_str().unwrap();
    assert!(
        content.starts_with("Error:") && content.contains("disabled"),
        "{content}"
    );

    // Another channel still has it; enabling it again offers it here too.
    let mut elsewhere = say("c2", "hi");
    elsewhere.scope.channel_id = Some(ChannelId::new(3));
    h.fake.push_script(Script::reply("hello"));
    run(&h.engine, elsewhere).await;
    let offers_echo = |request: &serde_json::Value| {
        request["tools"]
            .as_array()
            .is_some_and(|tools| tools.iter().any(|t| t["function"]["name"] == "echo"))
    };
    assert!(offers_echo(&h.fake.last_chat_request().unwrap()));
    assert!(
        h.engine
            .store()
            .enable_tool(ChannelId::new(2), "test", "echo")
            .await
            .unwrap()
    );
    h.fake.push_script(Script::reply("back"));
    run(&h.engine, say("c1", "again")).await;
    assert!(offers_echo(&h.fake.last_chat_request().unwrap()));
}
