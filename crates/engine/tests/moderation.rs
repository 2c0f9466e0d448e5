//! The content policy's moderation model through the real engine, its verdicts scripted on
//! FakeOllama as Llama Guard gives them (`safe`, `unsafe\nS1,S10`), on SQLite and PostgreSQL:
//! an unsafe message refused (by a front end's check and by the turn, the model asked once)
//! and a safe one answered; a warn verdict telling the person; answers judged whole before
//! they are shown and withheld when unsafe; a model that is missing or too slow letting
//! messages through (logged and audited) or, failing closed, refusing them. Every action is in
//! the audit log.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::db::Db;
use common::*;
use mcpcord_engine::{
    AuditFilter, AuditRecord, ContentPolicy, EngineConfig, EngineError, MODERATION_UNAVAILABLE,
    Moderation, PolicyAction, PolicyRules,
};
use mcpcord_testkit::fake_ollama::{FakeModel, Script};
use serde_json::Value;

on_both_databases!(
    an_unsafe_message_is_refused_and_a_safe_one_answered,
    a_warn_verdict_lets_the_message_through_and_tells_the_person,
    an_answer_is_judged_whole_before_it_is_shown,
    a_missing_or_slow_model_fails_open_by_default_and_closed_when_asked,
);

const GUARD: &str = "llama-guard3:1b";

fn guard_model() -> FakeModel {
    FakeModel::new(GUARD)
        .capabilities(&["completion"])
        .context_length(8_192)
}

/// A config whose only policy is `moderation`.
fn moderated(moderation: Moderation) -> EngineConfig {
    let rules = PolicyRules {
        moderation: Some(moderation),
        ..PolicyRules::default()
    };
    EngineConfig {
        policy: ContentPolicy::compile(&rules, &BTreeMap::new()).expect("it compiles"),
        ..config("llama3.2")
    }
}

/// A harness on `db` whose backend serves the chat model and, when `guard`, the moderation
/// model.
async fn harness(db: &mut Db, guard: bool, config: EngineConfig) -> Harness {
    let (store, dir) = (db.store().await, db.folder());
    let mut models = vec![tool_model()];
    if guard {
        models.push(guard_model());
    }
    harness_on(store, dir, models, None, config).await
}

/// The models of the chat requests so far, in order.
fn asked(h: &Harness) -> Vec<String> {
    h.fake
        .chat_requests()
        .iter()
        .map(|r| r["model"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The content-policy entries of the audit log, oldest first.
async fn policy_log(h: &Harness) -> Vec<AuditRecord> {
    let mut log: Vec<AuditRecord> = audit_log(&h.engine, &AuditFilter::default())
        .await
        .into_iter()
        .filter(|r| r.entry.action == "content_policy")
        .collect();
    log.reverse();
    log
}

fn detail<'a>(record: &'a AuditRecord, key: &str) -> &'a str {
    record.entry.detail[key].as_str().unwrap_or_default()
}

async fn an_unsafe_message_is_refused_and_a_safe_one_answered(mut db: Db) {
    let h = harness(&mut db, true, moderated(Moderation::new(GUARD))).await;
    h.fake.push_script(Script::reply("unsafe\nS1,S10"));
    let request = say("c1", "something vile");

    // The front end's check asks the moderation model; the turn it starts does not again.
    let checked = h.engine.check_input(&request).await.unwrap_err();
    assert!(
        matches!(&checked, EngineError::ContentRefused { rule } if rule == "moderation model: S1, S10"),
        "{checked:?}"
    );
    let (events, ended) = outcome(&h.engine, request).await;
    let says = ended.unwrap_err().to_string();
    assert!(
        says.contains("content policy (moderation model: S1, S10)"),
        "{says}"
    );
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(asked(&h), [GUARD], "the moderation model alone, once");
    let judged = &h.fake.chat_requests()[0];
    assert_eq!(judged["messages"][0]["role"], "user");
    assert_eq!(judged["messages"][0]["content"], "something vile");
    let stored = h
        .engine
        .store()
        .find_conversation(&mcpcord_memory::ConversationKey::new("c1"))
        .await
        .unwrap();
    assert!(stored.is_none(), "nothing was stored");

    // A safe message: judged, then answered.
    h.fake
        .push_scripts([Script::reply("safe"), Script::reply("Hello.")]);
    let (_, summary) = run(&h.engine, say("c1", "hello there")).await;
    assert_eq!(summary.text, "Hello.");
    assert_eq!(asked(&h), [GUARD, GUARD, "llama3.2"]);

    let log = policy_log(&h).await;
    assert_eq!(log.len(), 2, "the check's refusal and the turn's: {log:#?}");
    for record in &log {
        assert_eq!(detail(record, "rule"), "moderation model: S1, S10");
        assert_eq!(detail(record, "action"), "block");
        assert_eq!(detail(record, "direction"), "input");
    }
    assert!(!format!("{log:?}").contains("vile"), "never the text");
}

async fn a_warn_verdict_lets_the_message_through_and_tells_the_person(mut db: Db) {
    let moderation = Moderation {
        action: PolicyAction::Warn,
        ..Moderation::new(GUARD)
    };
    let h = harness(&mut db, true, moderated(moderation)).await;
    h.fake
        .push_scripts([Script::reply("unsafe\nS6"), Script::reply("See a doctor.")]);
    let request = say("c1", "what dose?");
    h.engine
        .check_input(&request)
        .await
        .expect("a warning refuses nothing");
    let (events, summary) = run(&h.engine, request).await;
    assert_eq!(summary.text, "See a doctor.");
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("notice") && e.contains("(moderation model: S6)")),
        "{events:?}"
    );
    let log = policy_log(&h).await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(detail(&log[0], "action"), "warn");
}

async fn an_answer_is_judged_whole_before_it_is_shown(mut db: Db) {
    let moderation = Moderation {
        output: true,
        ..Moderation::new(GUARD)
    };
    let h = harness(&mut db, true, moderated(moderation)).await;
    // Input safe; an answer in pieces; judged unsafe as a whole.
    h.fake.push_scripts([
        Script::reply("safe"),
        Script::new().text("Here is how ").text("to do it."),
        Script::reply("unsafe\nS2"),
    ]);
    let (events, summary) = run(&h.engine, say("c1", "how?")).await;
    assert!(
        !events.iter().any(|e| e.contains("Here is how")),
        "nothing shown before the verdict: {events:?}"
    );
    assert!(
        summary.text.contains("withheld") && summary.text.contains("(moderation model: S2)"),
        "{}",
        summary.text
    );
    assert_eq!(h.history("c1").await[1].content, summary.text);
    // The moderation model saw the question and the whole answer.
    let judged = h.fake.last_chat_request().unwrap();
    assert_eq!(judged["model"], GUARD);
    assert_eq!(judged["messages"][0]["content"], "how?");
    assert_eq!(judged["messages"][1]["role"], "assistant");
    assert_eq!(judged["messages"][1]["content"], "Here is how to do it.");

    // A safe answer is shown once judged, whole.
    h.fake.push_scripts([
        Script::reply("safe"),
        Script::new().text("Fine, ").text("thanks."),
        Script::reply("safe"),
    ]);
    let (events, summary) = run(&h.engine, say("c2", "how are you?")).await;
    assert_eq!(summary.text, "Fine, thanks.");
    let shown: Vec<&String> = events.iter().filter(|e| e.starts_with("text")).collect();
    assert_eq!(shown, ["text Fine, thanks."], "{events:?}");

    let log = policy_log(&h).await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(detail(&log[0], "direction"), "output");
    assert_eq!(detail(&log[0], "action"), "block");
}

async fn a_missing_or_slow_model_fails_open_by_default_and_closed_when_asked(mut db: Db) {
    // The moderation model is not on the backend.
    let h = harness(&mut db, false, moderated(Moderation::new(GUARD))).await;
    h.fake.push_script(Script::reply("Answered anyway."));
    let request = say("c1", "hello");
    h.engine
        .check_input(&request)
        .await
        .expect("fails open: let through");
    let (_, summary) = run(&h.engine, request).await;
    assert_eq!(summary.text, "Answered anyway.");
    let log = policy_log(&h).await;
    assert_eq!(log.len(), 1, "the turn's, not the check's too: {log:#?}");
    assert_eq!(detail(&log[0], "action"), "let_through");
    assert_eq!(detail(&log[0], "rule"), MODERATION_UNAVAILABLE);
    assert_eq!(detail(&log[0], "model"), GUARD);
    assert!(!detail(&log[0], "problem").is_empty(), "{log:#?}");

    // Present but slower than its timeout: let through as well.
    h.fake.add_model(guard_model());
    let slow = Moderation {
        timeout: Duration::from_millis(300),
        ..Moderation::new(GUARD)
    };
    h.engine.reconfigure(moderated(slow.clone()));
    h.fake.push_scripts([
        Script::new().delay(Duration::from_secs(3)).text("safe"),
        Script::reply("Still answered."),
    ]);
    let (_, summary) = run(&h.engine, say("c2", "hello again")).await;
    assert_eq!(summary.text, "Still answered.");
    let log = policy_log(&h).await;
    assert_eq!(log.len(), 2, "{log:#?}");
    assert!(
        detail(&log[1], "problem").contains("no verdict within"),
        "{log:#?}"
    );

    // Failing closed: refused, by the check and by the turn, and the chat model never asked.
    h.engine.reconfigure(moderated(Moderation {
        fail_closed: true,
        ..slow
    }));
    h.fake.push_scripts([
        Script::new().delay(Duration::from_secs(3)).text("safe"),
        Script::new().delay(Duration::from_secs(3)).text("safe"),
    ]);
    let chats = asked(&h).len();
    let request = say("c3", "hello once more");
    let checked = h.engine.check_input(&request).await.unwrap_err();
    assert!(
        matches!(checked, EngineError::ModerationUnavailable),
        "{checked:?}"
    );
    let (_, ended) = outcome(&h.engine, request).await;
    let says = ended.unwrap_err().to_string();
    assert!(
        says.contains("moderation model") && says.contains("try again"),
        "{says}"
    );
    assert_eq!(asked(&h)[chats..], [GUARD, GUARD], "no chat model request");
    let log = policy_log(&h).await;
    let refusals: Vec<&AuditRecord> = log[2..].iter().collect();
    assert_eq!(refusals.len(), 2, "{log:#?}");
    for record in refusals {
        assert_eq!(detail(record, "action"), "block");
        assert_eq!(detail(record, "rule"), MODERATION_UNAVAILABLE);
        assert_eq!(record.entry.detail["direction"], Value::from("input"));
    }
}
