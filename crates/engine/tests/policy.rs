//! The content policy in turns, over FakeOllama and SQLite: input refused before anything is
//! stored or sent, redacted, or let through with a warning; the answer redacted while it
//! streams (a match split across deltas included) and in what is stored, or withheld.

mod common;

use std::collections::BTreeMap;

use common::*;
use mcpcord_engine::{
    ContentPolicy, EngineConfig, EngineError, PolicyAction, PolicyRule, PolicyRules, TurnEvent,
    TurnRequest,
};
use mcpcord_memory::{ConversationKey, GuildId, Role};
use mcpcord_testkit::fake_ollama::Script;

fn rule(name: &str, action: PolicyAction, words: &[&str], regexes: &[&str]) -> PolicyRule {
    PolicyRule {
        name: name.into(),
        action,
        words: words.iter().map(|w| (*w).into()).collect(),
        regexes: regexes.iter().map(|r| (*r).into()).collect(),
    }
}

/// A config whose default rules are `default`, and whose guilds have their own.
fn with_policy(default: PolicyRules, guilds: BTreeMap<GuildId, PolicyRules>) -> EngineConfig {
    EngineConfig {
        policy: ContentPolicy::compile(&default, &guilds).expect("the rules compile"),
        ..config("llama3.2")
    }
}

fn input_rules(rules: Vec<PolicyRule>) -> PolicyRules {
    PolicyRules {
        input: rules,
        output: Vec::new(),
    }
}

fn output_rules(rules: Vec<PolicyRule>) -> PolicyRules {
    PolicyRules {
        input: Vec::new(),
        output: rules,
    }
}

/// Runs a turn to its end; its events (described) and how it ended.
async fn outcome(
    h: &Harness,
    request: TurnRequest,
) -> (
    Vec<String>,
    Result<mcpcord_engine::TurnSummary, EngineError>,
) {
    let mut turn = h.engine.start_turn(request);
    let mut seen = Vec::new();
    tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = turn.next().await {
            match event {
                TurnEvent::Done(summary) => return (seen, Ok(summary)),
                TurnEvent::Failed(error) => return (seen, Err(error)),
                other => seen.push(describe(&other)),
            }
        }
        panic!("the turn ended without Done or Failed: {seen:?}");
    })
    .await
    .expect("the turn finished in time")
}

/// What a front end shows after `events`: `Text` deltas appended, `Rewritten` replacing the
/// text (no tools here, so one stretch); and every state it showed on the way.
fn shown(events: &[String]) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut states = Vec::new();
    for event in events {
        if let Some(delta) = event.strip_prefix("text ") {
            text.push_str(delta);
        } else if let Some(whole) = event.strip_prefix("rewritten ") {
            whole.clone_into(&mut text);
        } else {
            continue;
        }
        states.push(text.clone());
    }
    (text, states)
}

#[tokio::test]
async fn a_blocked_word_is_refused_before_anything_is_stored_or_sent() {
    let policy = input_rules(vec![rule("insults", PolicyAction::Block, &["nitwit"], &[])]);
    let h = harness(
        vec![tool_model()],
        None,
        with_policy(policy, BTreeMap::new()),
    )
    .await;
    let request = say("c1", "you absolute NITWIT");

    // A front end can ask first, to refuse in its own way.
    let checked = h.engine.check_input(&request).await.unwrap_err();
    assert!(matches!(&checked, EngineError::ContentRefused { rule } if rule == "insults"));

    let (events, ended) = outcome(&h, request).await;
    let error = ended.unwrap_err();
    let says = error.to_string();
    assert!(says.contains("content policy (insults)"), "{says}");
    assert!(!says.to_lowercase().contains("nitwit"), "{says}");
    assert!(
        events.is_empty(),
        "nothing happened before the refusal: {events:?}"
    );
    assert!(
        h.fake.chat_requests().is_empty(),
        "the model was never asked"
    );
    let stored = h
        .engine
        .store()
        .find_conversation(&ConversationKey::new("c1"))
        .await
        .unwrap();
    assert!(stored.is_none(), "nothing was stored");

    // Both refusals (the front end's check, the turn's) are in the audit log, by rule.
    h.engine.audit_flush().await;
    let log = h
        .engine
        .audit_log(&mcpcord_engine::AuditFilter::default())
        .await
        .unwrap();
    let refusals: Vec<_> = log
        .iter()
        .filter(|r| r.entry.action == "content_policy")
        .collect();
    assert_eq!(refusals.len(), 2, "{log:#?}");
    assert_eq!(refusals[0].entry.detail["rule"], "insults");
    assert_eq!(refusals[0].entry.detail["action"], "block");
    assert!(!format!("{log:?}").to_lowercase().contains("nitwit"));

    // A message without the word goes through.
    h.fake.push_script(Script::reply("Hello."));
    let (_, summary) = run(&h.engine, say("c1", "you absolute star")).await;
    assert_eq!(summary.text, "Hello.");
}

#[tokio::test]
async fn a_redacted_input_reaches_neither_the_model_nor_the_database() {
    let policy = input_rules(vec![rule(
        "secrets",
        PolicyAction::Redact,
        &[],
        &[r"sk-[A-Za-z0-9]{8,}"],
    )]);
    let h = harness(
        vec![tool_model()],
        None,
        with_policy(policy, BTreeMap::new()),
    )
    .await;
    h.fake.push_script(Script::reply("Noted."));
    let (events, _) = run(&h.engine, say("c1", "my key is sk-abcdef123456, keep it")).await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("notice") && e.contains("redacted")),
        "{events:?}"
    );
    let sent = h.fake.last_chat_request().unwrap().to_string();
    assert!(!sent.contains("sk-abcdef123456"), "{sent}");
    assert!(sent.contains("my key is [redacted], keep it"), "{sent}");
    let history = h.history("c1").await;
    assert_eq!(history[0].content, "my key is [redacted], keep it");
}

#[tokio::test]
async fn a_warn_rule_lets_the_turn_through_and_tells_the_person() {
    let policy = input_rules(vec![rule("medical", PolicyAction::Warn, &["dosage"], &[])]);
    let h = harness(
        vec![tool_model()],
        None,
        with_policy(policy, BTreeMap::new()),
    )
    .await;
    h.fake.push_script(Script::reply("Ask a doctor."));
    let (events, summary) = run(&h.engine, say("c1", "what dosage of aspirin?")).await;
    assert_eq!(summary.text, "Ask a doctor.");
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("notice") && e.contains("(medical)")),
        "{events:?}"
    );
    let sent = h.fake.last_chat_request().unwrap().to_string();
    assert!(sent.contains("what dosage of aspirin?"), "{sent}");
}

#[tokio::test]
async fn a_word_redacted_on_output_never_shows_even_split_across_deltas() {
    let policy = output_rules(vec![rule(
        "passwords",
        PolicyAction::Redact,
        &["hunter2"],
        &[],
    )]);
    let h = harness(
        vec![tool_model()],
        None,
        with_policy(policy, BTreeMap::new()),
    )
    .await;
    h.fake.push_script(
        Script::new()
            .text("The password is hun")
            .text("ter2, and Hunter2")
            .text(" again.")
            .usage(10, 5),
    );
    let (events, summary) = run(&h.engine, say("c1", "what is the password?")).await;
    let (text, states) = shown(&events);
    for state in &states {
        assert!(
            !state.to_lowercase().contains("hunter2"),
            "shown: {state:?}"
        );
        assert!(
            !state.ends_with("hun"),
            "a partial match was shown: {state:?}"
        );
    }
    let expected = "The password is [redacted], and [redacted] again.";
    assert_eq!(text, expected);
    assert_eq!(summary.text, expected);
    let history = h.history("c1").await;
    assert_eq!(history[1].role, Role::Assistant);
    assert_eq!(history[1].content, expected);
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("notice") && e.contains("passwords")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_pattern_spanning_words_rewrites_what_was_shown() {
    let policy = output_rules(vec![rule(
        "codes",
        PolicyAction::Redact,
        &[],
        &[r"launch code \d+"],
    )]);
    let h = harness(
        vec![tool_model()],
        None,
        with_policy(policy, BTreeMap::new()),
    )
    .await;
    h.fake
        .push_script(Script::new().text("The launch ").text("code 1234 is set."));
    let (events, summary) = run(&h.engine, say("c1", "the code?")).await;
    let (text, states) = shown(&events);
    assert!(
        events.iter().any(|e| e.starts_with("rewritten")),
        "{events:?}"
    );
    for state in &states {
        assert!(!state.contains("1234"), "shown: {state:?}");
    }
    assert_eq!(text, "The [redacted] is set.");
    assert_eq!(summary.text, "The [redacted] is set.");
}

#[tokio::test]
async fn a_blocked_answer_is_replaced_by_a_notice() {
    let policy = output_rules(vec![rule(
        "weapons",
        PolicyAction::Block,
        &["nerve agent"],
        &[],
    )]);
    let h = harness(
        vec![tool_model()],
        None,
        with_policy(policy, BTreeMap::new()),
    )
    .await;
    h.fake.push_script(
        Script::new()
            .text("Sure. A nerve ")
            .text("agent is made by")
            .text(" mixing …"),
    );
    let (events, summary) = run(&h.engine, say("c1", "tell me")).await;
    let (text, states) = shown(&events);
    for state in &states {
        assert!(!state.contains("nerve agent"), "shown: {state:?}");
    }
    assert!(
        text.contains("withheld") && text.contains("(weapons)"),
        "{text}"
    );
    assert_eq!(summary.text, text);
    assert_eq!(h.history("c1").await[1].content, text);
}

#[tokio::test]
async fn a_guild_with_its_own_rules_does_not_use_the_default() {
    let default = input_rules(vec![rule(
        "default-block",
        PolicyAction::Block,
        &["alpha"],
        &[],
    )]);
    let relaxed = GuildId::new(9);
    let own = input_rules(vec![rule(
        "guild-warn",
        PolicyAction::Warn,
        &["alpha"],
        &[],
    )]);
    let h = harness(
        vec![tool_model()],
        None,
        with_policy(default, BTreeMap::from([(relaxed, own)])),
    )
    .await;
    // The harness's requests come from guild 1: the default applies.
    let (_, ended) = outcome(&h, say("c1", "alpha")).await;
    assert!(matches!(ended, Err(EngineError::ContentRefused { .. })));

    h.fake.push_script(Script::reply("ok"));
    let mut request = say("c2", "alpha");
    request.scope.guild_id = Some(relaxed);
    let (events, summary) = run(&h.engine, request).await;
    assert_eq!(summary.text, "ok");
    assert!(
        events.iter().any(|e| e.contains("(guild-warn)")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_reload_replaces_the_rules() {
    let h = harness(vec![tool_model()], None, config("llama3.2")).await;
    h.fake.push_script(Script::reply("fine"));
    run(&h.engine, say("c1", "alpha")).await;
    let policy = input_rules(vec![rule(
        "now-banned",
        PolicyAction::Block,
        &["alpha"],
        &[],
    )]);
    h.engine.reconfigure(with_policy(policy, BTreeMap::new()));
    let (_, ended) = outcome(&h, say("c1", "alpha")).await;
    assert!(matches!(ended, Err(EngineError::ContentRefused { rule }) if rule == "now-banned"));
}
