//! What a turn may act on and who decides: Regenerate and Continue act on the answer they name
//! and lose nothing when they fail; "Always" belongs to the person who said it; a turn waiting
//! for a person does not hold a turn slot.

mod common;

use std::time::Duration;

use common::*;
use mcpcord_engine::{Approval, EngineConfig, EngineError, TurnAction, TurnEvent};
use mcpcord_memory::{Role, UserId};
use mcpcord_testkit::fake_ollama::Script;
use serde_json::json;

/// Runs a turn that must fail; returns its error.
async fn failure(
    engine: &mcpcord_engine::Engine,
    request: mcpcord_engine::TurnRequest,
) -> EngineError {
    let mut turn = engine.start_turn(request);
    tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = turn.next().await {
            match event {
                TurnEvent::Failed(error) => return error,
                TurnEvent::Done(summary) => panic!("the turn should fail: {summary:?}"),
                _ => {}
            }
        }
        panic!("no Failed");
    })
    .await
    .expect("the turn ended in time")
}

async fn answers(h: &Harness, key: &str) -> Vec<String> {
    h.history(key)
        .await
        .into_iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| m.content)
        .collect()
}

#[tokio::test]
async fn a_failed_regenerate_keeps_the_old_answer() {
    let h = harness(vec![tool_model()], None, config("llama3.2")).await;
    h.fake.push_script(Script::reply("first answer"));
    run(&h.engine, say("c1", "tell me")).await;
    h.fake.push_script(
        Script::new()
            .text("half an ans")
            .stream_error("the GPU fell over"),
    );
    let error = failure(&h.engine, request("c1", TurnAction::REGENERATE_LATEST)).await;
    assert!(matches!(error, EngineError::Model(_)), "{error}");
    assert_eq!(answers(&h, "c1").await, ["first answer"]);
}

#[tokio::test]
async fn regenerate_and_continue_act_only_on_the_answer_they_name() {
    let h = harness(vec![tool_model()], None, config("llama3.2")).await;
    h.fake.push_script(Script::reply("one"));
    let (_, first) = run(&h.engine, say("c1", "a")).await;
    h.fake.push_script(Script::reply("two"));
    let (_, second) = run(&h.engine, say("c1", "b")).await;
    let (first, second) = (first.message_id.unwrap(), second.message_id.unwrap());

    // The first answer is no longer the latest: neither button under it does anything.
    for action in [
        TurnAction::Regenerate {
            answer: Some(first),
        },
        TurnAction::Continue {
            answer: Some(first),
        },
    ] {
        let error = failure(&h.engine, request("c1", action)).await;
        assert!(matches!(error, EngineError::NotLatest { .. }), "{error}");
    }
    assert_eq!(answers(&h, "c1").await, ["one", "two"]);
    assert_eq!(h.fake.chat_requests().len(), 2, "no model call was made");

    h.fake.push_script(Script::reply("two, better"));
    let (_, summary) = run(
        &h.engine,
        request(
            "c1",
            TurnAction::Regenerate {
                answer: Some(second),
            },
        ),
    )
    .await;
    assert_eq!(summary.text, "two, better");
    assert_eq!(answers(&h, "c1").await, ["one", "two, better"]);
    let old = h.engine.store().message(second).await.unwrap();
    assert!(old.replaced, "the old answer is kept, marked replaced");
}

#[tokio::test]
async fn always_belongs_to_the_person_who_said_it() {
    let h = harness(
        vec![tool_model()],
        Some(asking(&["echo"])),
        config("llama3.2"),
    )
    .await;
    h.fake
        .push_script(Script::new().tool_call("echo", json!({"text": "one"})));
    h.fake.push_script(Script::reply("done"));
    let (events, _) = run_with(&h.engine, say("c1", "echo"), Approval::AlwaysInConversation).await;
    assert!(events.contains(&"approval echo".to_string()), "{events:?}");

    // Bob, in the same conversation, is asked: alice's "Always" is not his.
    let mut bob = say("c1", "echo for me");
    bob.author.id = Some(UserId::new(43));
    bob.author.name = "bob".into();
    h.fake
        .push_script(Script::new().tool_call("echo", json!({"text": "two"})));
    h.fake.push_script(Script::reply("done"));
    let (events, _) = run_with(&h.engine, bob, Approval::Deny).await;
    assert!(events.contains(&"approval echo".to_string()), "{events:?}");
    assert!(
        events.iter().any(|e| e.starts_with("finished false")),
        "{events:?}"
    );

    // Alice is not asked again.
    h.fake
        .push_script(Script::new().tool_call("echo", json!({"text": "three"})));
    h.fake.push_script(Script::reply("done"));
    let (events, _) = run_with(&h.engine, say("c1", "again"), Approval::Deny).await;
    assert!(
        !events.iter().any(|e| e.starts_with("approval")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_turn_waiting_for_approval_gives_its_slot_to_others() {
    let config = EngineConfig {
        max_concurrent_turns: 1,
        ..config("llama3.2")
    };
    let h = harness(vec![tool_model()], Some(asking(&["echo"])), config).await;
    h.fake
        .push_script(Script::new().tool_call("echo", json!({"text": "wait"})));
    let mut waiting = h.engine.start_turn(say("c1", "echo"));
    let reply = tokio::time::timeout(TIMEOUT, async {
        loop {
            if let Some(TurnEvent::ApprovalNeeded(request)) = waiting.next().await {
                return request.reply;
            }
        }
    })
    .await
    .expect("the approval was asked");

    // The only slot is free while the person decides: another conversation is answered.
    h.fake.push_script(Script::reply("meanwhile"));
    let (_, other) = tokio::time::timeout(Duration::from_secs(10), run(&h.engine, say("c2", "hi")))
        .await
        .expect("another turn ran while the first waited for its person");
    assert_eq!(other.text, "meanwhile");

    h.fake.push_script(Script::reply("echoed"));
    reply.send(Approval::Approve).unwrap();
    let summary = tokio::time::timeout(TIMEOUT, async {
        loop {
            if let Some(TurnEvent::Done(summary)) = waiting.next().await {
                return summary;
            }
        }
    })
    .await
    .expect("the first turn finished after its approval");
    assert_eq!(summary.text, "echoed");
}
