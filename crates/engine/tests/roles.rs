//! A person's grants decide which tools the model is offered for their turn, and a call to a
//! tool outside them is refused before it reaches its server (the model may name a tool it was
//! not offered, from history or by guessing). On SQLite and PostgreSQL: both calls are in the
//! audit log, the refused one as `refused_by_role`.

mod common;

use common::db::Db;
use common::{config, harness_on, run, say, tool_model};
use mcpcord_engine::{Allowed, AuditFilter, AuditKind, Grants};
use mcpcord_mcp::ToolPolicy;
use mcpcord_testkit::fake_ollama::Script;
use serde_json::{Value, json};

on_both_databases!(a_role_allowed_one_tool_is_offered_it_alone_and_refused_another);

/// The tool names offered in a chat request.
fn offered(request: &Value) -> Vec<String> {
    request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// The contents of the tool results a chat request carries.
fn tool_results(request: &Value) -> Vec<String> {
    request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Grants allowing the test server's `echo` alone.
fn echo_only() -> Grants {
    Grants {
        tools: Allowed::Only(vec!["test.echo".into()]),
        ..Grants::everything()
    }
}

async fn a_role_allowed_one_tool_is_offered_it_alone_and_refused_another(mut db: Db) {
    let (store, dir) = (db.store().await, db.folder());
    let h = harness_on(
        store,
        dir,
        vec![tool_model()],
        Some(ToolPolicy::default()),
        config("llama3.2"),
    )
    .await;

    // Everything granted: the server's other tools are offered beside echo.
    h.fake.push_script(Script::reply("ok"));
    run(&h.engine, say("all", "hi")).await;
    let all = offered(&h.fake.last_chat_request().unwrap());
    assert!(
        all.contains(&"echo".to_owned()) && all.contains(&"add".to_owned()),
        "{all:?}"
    );

    // Echo only: the model is offered echo and nothing else.
    let mut request = say("limited", "hi");
    request.grants = echo_only();
    h.fake.push_script(Script::reply("ok"));
    run(&h.engine, request).await;
    assert_eq!(offered(&h.fake.last_chat_request().unwrap()), ["echo"]);

    // A scripted call to `add` anyway is refused, and the model is told why; echo still runs.
    let mut request = say("limited", "add and echo");
    request.grants = echo_only();
    h.fake.push_script(
        Script::new()
            .tool_call("add", json!({"a": 2, "b": 3}))
            .tool_call("echo", json!({"text": "pong"})),
    );
    h.fake.push_script(Script::reply("Only echo worked."));
    let (events, summary) = run(&h.engine, request).await;
    assert_eq!(summary.text, "Only echo worked.");
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("finished false") && e.contains("may not use the tool add")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e == "finished true pong"),
        "{events:?}"
    );
    let results = tool_results(&h.fake.last_chat_request().unwrap());
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(
        results[0].contains("may not use the tool add"),
        "{results:?}"
    );
    assert!(!results.iter().any(|r| r.trim() == "5"), "{results:?}");
    assert_eq!(results[1], "pong");
    // Both calls are in the audit log: the refused one says why.
    h.engine.audit_flush().await;
    let calls = h
        .engine
        .audit_log(&AuditFilter {
            kind: Some(AuditKind::ToolCall),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let outcomes: Vec<(&str, &Value)> = calls
        .iter()
        .map(|r| {
            (
                r.entry.detail["tool"].as_str().unwrap_or_default(),
                &r.entry.detail["outcome"],
            )
        })
        .collect();
    assert!(
        outcomes.contains(&("add", &Value::from("refused_by_role")))
            && outcomes.contains(&("echo", &Value::from("ok"))),
        "{calls:#?}"
    );

    // Nothing granted: no tools at all are offered.
    let mut request = say("none", "hi");
    request.grants = Grants::nothing();
    h.fake.push_script(Script::reply("ok"));
    run(&h.engine, request).await;
    assert!(offered(&h.fake.last_chat_request().unwrap()).is_empty());
}
