//! The audit log through the real engine, on SQLite and PostgreSQL: a tool call approved by the
//! person whose turn it is is recorded with who asked, where, the digest of its arguments (not
//! the arguments), the decision and who made it, and the outcome; a denied call and a call to a
//! tool switched off are recorded too; entries queued with `Engine::audit` are all written by
//! the time `shutdown` returns.

mod common;

use std::time::Duration;

use common::db::Db;
use common::*;
use mcpcord_engine::{
    Approval, AuditEntry, AuditFilter, AuditKind, AuditRecord, ChannelId, GuildId, UserId,
};
use mcpcord_memory::arguments_digest;
use mcpcord_testkit::fake_ollama::Script;
use serde_json::json;

on_both_databases!(
    a_tool_call_approved_by_its_asker_is_audited,
    a_denied_call_and_a_switched_off_tool_are_audited,
    queued_entries_are_written_before_shutdown_returns,
);

async fn tool_calls(h: &Harness) -> Vec<AuditRecord> {
    h.engine
        .audit_log(&AuditFilter {
            kind: Some(AuditKind::ToolCall),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}

async fn a_tool_call_approved_by_its_asker_is_audited(mut db: Db) {
    let (store, dir) = (db.store().await, db.folder());
    let h = harness_on(
        store,
        dir,
        vec![tool_model()],
        Some(asking(&["echo"])),
        config("llama3.2"),
    )
    .await;
    let arguments = json!({"text": "the secret plan"});
    h.fake
        .push_script(Script::new().tool_call("echo", arguments.clone()));
    h.fake.push_script(Script::reply("done"));
    let (events, _) = run_with(&h.engine, say("c1", "echo it"), Approval::Approve).await;
    assert!(events.contains(&"approval echo".to_string()), "{events:?}");

    let calls = tool_calls(&h).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let entry = &calls[0].entry;
    assert_eq!(entry.action, "test/echo");
    assert_eq!(entry.actor_id, Some(UserId::new(42)), "who asked");
    assert_eq!(entry.guild_id, Some(GuildId::new(1)));
    assert_eq!(entry.detail["server"], "test");
    assert_eq!(entry.detail["tool"], "echo");
    assert_eq!(entry.detail["approval"], "approved");
    assert_eq!(entry.detail["approved_by"], "42");
    assert_eq!(entry.detail["outcome"], "ok");
    assert_eq!(
        entry.detail["arguments_sha256"],
        arguments_digest(&arguments)
    );
    let stored = serde_json::Value::Object(entry.detail.clone()).to_string();
    assert!(
        !stored.contains("secret plan"),
        "never the arguments: {stored}"
    );
    // The same entry, found by the person and the guild.
    let by_alice = h
        .engine
        .audit_log(&AuditFilter {
            user: Some(UserId::new(42)),
            guild: Some(GuildId::new(1)),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_alice, calls);
}

async fn a_denied_call_and_a_switched_off_tool_are_audited(mut db: Db) {
    let (store, dir) = (db.store().await, db.folder());
    let h = harness_on(
        store,
        dir,
        vec![tool_model()],
        Some(asking(&["echo"])),
        config("llama3.2"),
    )
    .await;
    h.fake
        .push_script(Script::new().tool_call("echo", json!({"text": "no"})));
    h.fake.push_script(Script::reply("ok, I won't"));
    run_with(&h.engine, say("c1", "echo it"), Approval::Deny).await;
    let calls = tool_calls(&h).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].entry.detail["approval"], "denied");
    assert_eq!(calls[0].entry.detail["approved_by"], "42");
    assert_ne!(calls[0].entry.detail["outcome"], "ok");

    // A tool switched off in the channel: refused without asking anyone.
    h.engine
        .switch_tools(ChannelId::new(2), "echo", false, Some(UserId::new(7)))
        .await
        .unwrap();
    h.fake
        .push_script(Script::new().tool_call("echo", json!({"text": "again"})));
    h.fake.push_script(Script::reply("it is off"));
    run(&h.engine, say("c1", "echo it again")).await;
    let calls = tool_calls(&h).await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].entry.detail["outcome"], "refused");
    assert!(calls[0].entry.detail.get("approval").is_none());
}

async fn queued_entries_are_written_before_shutdown_returns(mut db: Db) {
    let (store, dir) = (db.store().await, db.folder());
    let h = harness_on(
        store.clone(),
        dir,
        vec![tool_model()],
        None,
        config("llama3.2"),
    )
    .await;
    for i in 0..150_u64 {
        h.engine.audit(
            AuditEntry::refusal(Some(UserId::new(i)), Some(GuildId::new(1)), "rate_limited")
                .with_detail("n", i),
        );
    }
    h.engine.shutdown(Duration::from_secs(5)).await;
    // Read through the store itself: nothing flushes on the way.
    let written = store.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(written.len(), 150);
    assert!(written.iter().all(|r| r.entry.kind == AuditKind::Refusal));
    // After shutdown an entry is still written (directly).
    h.engine
        .audit(AuditEntry::reload(None, "applied", serde_json::Value::Null));
    let mut waited = Duration::ZERO;
    while store.audit(&AuditFilter::default()).await.unwrap().len() < 151 {
        assert!(waited < TIMEOUT, "the late entry was written");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += Duration::from_millis(10);
    }
}
