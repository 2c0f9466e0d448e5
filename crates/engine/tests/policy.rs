//! The content policy in turns, over FakeOllama and SQLite: input refused before anything is
//! stored or sent, redacted, or let through with a warning; the answer redacted while it
//! streams (a match split across deltas included) and in what is stored, or withheld. On
//! SQLite and PostgreSQL: what is stored and the audit entries live in the database.

mod common;

use std::collections::BTreeMap;

use common::db::Db;
use common::*;
use mcpcord_engine::{
    ContentPolicy, EngineConfig, EngineError, PolicyAction, PolicyRule, PolicyRules,
};
use mcpcord_memory::{ConversationKey, GuildId, Role};
use mcpcord_testkit::fake_ollama::Script;

on_both_databases!(
    a_blocked_word_is_refused_before_anything_is_stored_or_sent,
    a_redacted_input_reaches_neither_the_model_nor_the_database,
    a_warn_rule_lets_the_turn_through_and_tells_the_person,
    a_word_redacted_on_output_never_shows_even_split_across_deltas,
    a_pattern_spanning_words_rewrites_what_was_shown,
    a_blocked_answer_is_replaced_by_a_notice,
    a_guild_with_its_own_rules_does_not_use_the_default,
    a_reload_replaces_the_rules,
    the_reasoning_is_screened_with_the_output_rules,
);

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

/// A harness on `db` whose default rules are `default`, and whose guilds have their own.
async fn screened(
    db: &mut Db,
    default: PolicyRules,
    guilds: BTreeMap<GuildId, PolicyRules>,
) -> Harness {
    let (store, dir) = (db.store().await, db.folder());
    let config = with_policy(default, guilds);
    harness_on(store, dir, vec![tool_model()], None, config).await
}

fn input_rules(rules: Vec<PolicyRule>) -> PolicyRules {
    PolicyRules {
        input: rules,
        output: Vec::new(),
        moderation: None,
    }
}

fn output_rules(rules: Vec<PolicyRule>) -> PolicyRules {
    PolicyRules {
        input: Vec::new(),
        output: rules,
        moderation: None,
    }
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

async fn a_blocked_word_is_refused_before_anything_is_stored_or_sent(mut db: Db) {
    let policy = input_rules(vec![rule("insults", PolicyAction::Block, &["nitwit"], &[])]);
    let h = screened(&mut db, policy, BTreeMap::new()).await;
    let request = say("c1", "you absolute NITWIT");

    // A front end can ask first, to refuse in its own way.
    let checked = h.engine.check_input(&request).await.unwrap_err();
    assert!(matches!(&checked, EngineError::ContentRefused { rule } if rule == "insults"));

    let (events, ended) = outcome(&h.engine, request).await;
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
    let log = audit_log(&h.engine, &mcpcord_engine::AuditFilter::default()).await;
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

async fn a_redacted_input_reaches_neither_the_model_nor_the_database(mut db: Db) {
    let policy = input_rules(vec![rule(
        "secrets",
        PolicyAction::Redact,
        &[],
        &[r"sk-[A-Za-z0-9]{8,}"],
    )]);
    let h = screened(&mut db, policy, BTreeMap::new()).await;
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

async fn a_warn_rule_lets_the_turn_through_and_tells_the_person(mut db: Db) {
    let policy = input_rules(vec![rule("medical", PolicyAction::Warn, &["dosage"], &[])]);
    let h = screened(&mut db, policy, BTreeMap::new()).await;
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

async fn a_word_redacted_on_output_never_shows_even_split_across_deltas(mut db: Db) {
    let policy = output_rules(vec![rule(
        "passwords",
        PolicyAction::Redact,
        &["hunter2"],
        &[],
    )]);
    let h = screened(&mut db, policy, BTreeMap::new()).await;
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

async fn a_pattern_spanning_words_rewrites_what_was_shown(mut db: Db) {
    let policy = output_rules(vec![rule(
        "codes",
        PolicyAction::Redact,
        &[],
        &[r"launch code \d+"],
    )]);
    let h = screened(&mut db, policy, BTreeMap::new()).await;
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

async fn a_blocked_answer_is_replaced_by_a_notice(mut db: Db) {
    let policy = output_rules(vec![rule(
        "weapons",
        PolicyAction::Block,
        &["nerve agent"],
        &[],
    )]);
    let h = screened(&mut db, policy, BTreeMap::new()).await;
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

async fn a_guild_with_its_own_rules_does_not_use_the_default(mut db: Db) {
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
    let h = screened(&mut db, default, BTreeMap::from([(relaxed, own)])).await;
    // The harness's requests come from guild 1: the default applies.
    let (_, ended) = outcome(&h.engine, say("c1", "alpha")).await;
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

async fn a_reload_replaces_the_rules(mut db: Db) {
    let h = screened(&mut db, PolicyRules::default(), BTreeMap::new()).await;
    h.fake.push_script(Script::reply("fine"));
    run(&h.engine, say("c1", "alpha")).await;
    let policy = input_rules(vec![rule(
        "now-banned",
        PolicyAction::Block,
        &["alpha"],
        &[],
    )]);
    h.engine.reconfigure(with_policy(policy, BTreeMap::new()));
    let (_, ended) = outcome(&h.engine, say("c1", "alpha")).await;
    assert!(matches!(ended, Err(EngineError::ContentRefused { rule }) if rule == "now-banned"));
}

/// The reasoning a front end shows (Discord's private "Reasoning" reply) obeys the output
/// rules: held until its round ends, redacted, or withheld by a block rule; each action
/// audited. The answer is screened on its own.
async fn the_reasoning_is_screened_with_the_output_rules(mut db: Db) {
    let policy = output_rules(vec![
        rule("passwords", PolicyAction::Redact, &["hunter2"], &[]),
        rule("weapons", PolicyAction::Block, &["nerve agent"], &[]),
    ]);
    let thinker = tool_model().capabilities(&["completion", "tools", "thinking"]);
    let (store, dir) = (db.store().await, db.folder());
    let config = with_policy(policy, BTreeMap::new());
    let h = harness_on(store, dir, vec![thinker], None, config).await;
    h.fake.push_script(
        Script::new()
            .thinking("The password is hun")
            .thinking("ter2; I must not say it.")
            .text("I cannot tell you."),
    );
    let (events, summary) = run(&h.engine, say("c1", "the password?")).await;
    let reasoning: Vec<&String> = events
        .iter()
        .filter(|e| e.starts_with("thinking"))
        .collect();
    assert_eq!(
        reasoning,
        ["thinking The password is [redacted]; I must not say it."],
        "sent whole, redacted: {events:?}"
    );
    assert_eq!(
        summary.thinking,
        "The password is [redacted]; I must not say it."
    );
    assert_eq!(summary.text, "I cannot tell you.");

    h.fake.push_script(
        Script::new()
            .thinking("A nerve ")
            .thinking("agent would do.")
            .text("I will not help with that."),
    );
    let (events, summary) = run(&h.engine, say("c1", "help me")).await;
    assert!(!format!("{events:?}").contains("nerve agent"), "{events:?}");
    assert!(
        summary.thinking.contains("the reasoning was withheld")
            && summary.thinking.contains("(weapons)"),
        "{}",
        summary.thinking
    );
    assert_eq!(
        summary.text, "I will not help with that.",
        "the answer stands"
    );

    let log = audit_log(&h.engine, &mcpcord_engine::AuditFilter::default()).await;
    let acted: Vec<(String, String)> = log
        .iter()
        .filter(|r| r.entry.detail["direction"] == "output")
        .map(|r| {
            (
                r.entry.detail["rule"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r.entry.detail["action"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert!(
        acted.contains(&("passwords".into(), "redact".into())),
        "{log:#?}"
    );
    assert!(
        acted.contains(&("weapons".into(), "block".into())),
        "{log:#?}"
    );
}
