//! A tool disabled in a channel is named by its server and its own name, so it stays disabled
//! when another MCP server adds a tool of the same name and the name the model sees changes
//! (`echo` becomes `test__echo`).

mod common;

use std::time::Duration;

use common::{TIMEOUT, config, run, say, tool_model};
use mcpcord_engine::Engine;
use mcpcord_mcp::{Callbacks, HostOptions, McpHost, ServerSpec, StreamConnector, ToolPolicy};
use mcpcord_memory::{ChannelId, Store, UserId};
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::Script;
use mcpcord_testkit::mcp_server::{self, TestMcpServer};
use serde_json::json;

/// An engine on `store` whose MCP host runs one in-process test server per name in `servers`
/// (each offers the same tools: `echo`, `add`, …).
async fn engine(fake: &FakeOllama, store: Store, servers: &[&str]) -> Engine {
    let pool = common::fake_pool(fake);
    let specs = servers
        .iter()
        .map(|name| {
            let server = TestMcpServer::new();
            ServerSpec::stream(
                *name,
                StreamConnector::new(move || {
                    let pipe = mcp_server::serve_in_process(server.clone());
                    async move { Ok(pipe) }
                }),
            )
            .with_tools(ToolPolicy::default())
        })
        .collect();
    let host = McpHost::start(specs, HostOptions::default(), Callbacks::default());
    assert!(
        host.wait_ready(TIMEOUT).await,
        "the test MCP servers started"
    );
    Engine::new(pool, Some(host), store, config("llama3.2"))
}

async fn stop(engine: Engine) {
    engine.shutdown(Duration::from_secs(5)).await;
    if let Some(host) = engine.tools() {
        host.shutdown().await;
    }
}

/// The tool names offered in a chat request.
fn offered(request: &serde_json::Value) -> Vec<String> {
    request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_disabled_tool_stays_disabled_when_another_server_adds_one_of_the_same_name() {
    let fake = FakeOllama::start_with_models(vec![tool_model()]).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/engine.sqlite", dir.path().display()))
        .await
        .unwrap();

    // One server: its `echo` is offered as `echo`, until an admin disables it in channel 2
    // (where `say` speaks).
    let one = engine(&fake, store.clone(), &["test"]).await;
    store
        .disable_tool(ChannelId::new(2), "test", "echo", Some(UserId::new(42)))
        .await
        .unwrap();
    fake.push_script(Script::reply("ok"));
    run(&one, say("c1", "hi")).await;
    let names = offered(&fake.last_chat_request().unwrap());
    assert!(
        !names.contains(&"echo".to_owned()) && names.contains(&"add".to_owned()),
        "{names:?}"
    );
    stop(one).await;

    // A second server with an `echo` of its own joins (the operator added it and restarted):
    // the names become `test__echo` and `other__echo`. Test's echo stays off; other's is offered.
    let two = engine(&fake, store.clone(), &["test", "other"]).await;
    fake.push_script(Script::new().tool_call("test__echo", json!({"text": "pong"})));
    fake.push_script(Script::reply("I may not use that here."));
    let (events, summary) = run(&two, say("c1", "ping the tool")).await;
    assert_eq!(summary.text, "I may not use that here.");
    let requests = fake.chat_requests();
    let first = &requests[requests.len() - 2];
    let names = offered(first);
    assert!(
        !names.contains(&"test__echo".to_owned())
            && !names.contains(&"echo".to_owned())
            && names.contains(&"other__echo".to_owned()),
        "{names:?}"
    );
    // A call to it anyway (from history, or a guess) is refused.
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("finished false") && e.contains("disabled")),
        "{events:?}"
    );

    // Enabling it by server and tool brings it back under its new name.
    assert!(
        store
            .enable_tool(ChannelId::new(2), "test", "echo")
            .await
            .unwrap()
    );
    fake.push_script(Script::reply("back"));
    run(&two, say("c1", "again")).await;
    let names = offered(&fake.last_chat_request().unwrap());
    assert!(
        names.contains(&"test__echo".to_owned()) && names.contains(&"other__echo".to_owned()),
        "{names:?}"
    );
    stop(two).await;
    store.close().await;
}
