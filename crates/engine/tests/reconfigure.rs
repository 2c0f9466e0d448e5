//! [`Engine::reconfigure`]: the next turn uses the new settings; a running turn keeps those it
//! started with.

mod common;

use std::time::Duration;

use common::*;
use mcpcord_engine::{EngineConfig, TurnEvent};
use mcpcord_testkit::fake_ollama::Script;

fn prompt(text: &str) -> EngineConfig {
    EngineConfig {
        system_prompt: text.into(),
        ..config("llama3.2")
    }
}

fn system_of(request: &serde_json::Value) -> String {
    request["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_next_turn_uses_the_new_settings_and_a_running_one_keeps_its_own() {
    let h = harness(vec![tool_model()], None, prompt("You are Alpha.")).await;
    // The first turn streams slowly: the reload lands while it runs.
    h.fake.push_scripts([
        Script::new()
            .text("one ")
            .delay(Duration::from_millis(400))
            .text("two"),
        Script::reply("three"),
    ]);
    let mut running = h.engine.start_turn(say("c1", "hi"));
    // Wait until it streams.
    loop {
        match running.next().await.expect("events") {
            TurnEvent::Text(_) => break,
            _ => continue,
        }
    }
    h.engine.reconfigure(EngineConfig {
        max_concurrent_turns: 4,
        ..prompt("You are Beta.")
    });
    assert_eq!(h.engine.config().system_prompt, "You are Beta.");
    let summary = loop {
        match running.next().await.expect("events") {
            TurnEvent::Done(summary) => break summary,
            TurnEvent::Failed(error) => panic!("{error}"),
            _ => continue,
        }
    };
    assert_eq!(
        summary.text, "one two",
        "nothing of the running turn was dropped"
    );
    let (_, summary) = run(&h.engine, say("c2", "again")).await;
    assert_eq!(summary.text, "three");
    let requests = h.fake.chat_requests();
    assert!(
        system_of(&requests[0]).contains("Alpha"),
        "{:#}",
        requests[0]
    );
    assert!(
        system_of(&requests[1]).contains("Beta"),
        "{:#}",
        requests[1]
    );
    // The settings shown to front ends are the new ones too.
    let shown = h
        .engine
        .settings(&say("c3", "x").scope, None)
        .await
        .unwrap();
    assert_eq!(shown.system_prompt, "You are Beta.");
}
