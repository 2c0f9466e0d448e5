//! A reload of the MCP servers ([`McpHost::reconfigure`]) against the test server binary:
//! servers added and removed, a changed one restarted, an unchanged one left running, and a
//! call in flight on a removed server finishing before it stops.

mod common;

use std::time::Duration;

use common::*;
use mcpcord_mcp::{CallOptions, Callbacks, HostError, McpHost, Reconfigured, ServerSpec};
use serde_json::json;

fn pid_of(host: &McpHost, server: &str) -> Option<u32> {
    host.status()
        .into_iter()
        .find(|s| s.name == server)
        .and_then(|s| s.replicas.first().and_then(|r| r.pid))
}

fn with_tools(spec: ServerSpec, tools: &[&str]) -> ServerSpec {
    spec.with_tools(mcpcord_mcp::ToolPolicy {
        allowed: Some(tools.iter().map(|t| t.to_string()).collect()),
        ..Default::default()
    })
}

#[tokio::test]
async fn servers_are_added_removed_and_restarted_only_when_their_definition_changed() {
    let keep = with_tools(stdio("keep", &[]), &["echo"]);
    let change = with_tools(stdio("change", &[]), &["add"]);
    let drop_me = with_tools(stdio("drop", &[]), &["sleep"]);
    let host = ready_host(
        vec![keep.clone(), change.clone(), drop_me],
        Callbacks::default(),
    )
    .await;
    let (kept_pid, changed_pid, dropped_pid) = (
        pid_of(&host, "keep").unwrap(),
        pid_of(&host, "change").unwrap(),
        pid_of(&host, "drop").unwrap(),
    );
    // A long call on the server about to be removed.
    let slow = {
        let host = host.clone();
        tokio::spawn(async move {
            host.call_tool("sleep", json!({"ms": 1500}), CallOptions::default())
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let report = host.reconfigure(
        vec![
            keep,
            // A changed definition: another call timeout.
            with_tools(stdio("change", &[]), &["add"]).with_call_timeout(Duration::from_secs(7)),
            with_tools(stdio("new", &[]), &["env"]),
        ],
        fast_options(),
    );
    assert_eq!(
        report,
        Reconfigured {
            added: vec!["new".into()],
            removed: vec!["drop".into()],
            restarted: vec!["change".into()],
            unchanged: vec!["keep".into()],
        }
    );
    // The removed server's tools left the catalogue at once; its call in flight finishes.
    assert!(!host.tools().iter().any(|t| t.name == "sleep"));
    let finished = within(slow)
        .await
        .unwrap()
        .expect("the call in flight finished");
    assert!(
        finished.text.contains("slept 1500 ms"),
        "{:?}",
        finished.text
    );
    eventually("the removed server stopped", || !alive(dropped_pid)).await;
    eventually("the changed server restarted", || {
        pid_of(&host, "change").is_some_and(|pid| pid != changed_pid)
    })
    .await;
    assert!(
        !alive(changed_pid),
        "the old process of the changed server is gone"
    );
    assert_eq!(
        pid_of(&host, "keep"),
        Some(kept_pid),
        "the unchanged one runs on"
    );
    assert!(within(host.wait_ready(Duration::from_secs(20))).await);
    eventually("the new server's tools are offered", || {
        let mut names: Vec<String> = host.tools().into_iter().map(|t| t.name).collect();
        names.sort();
        names == ["add", "echo", "env"]
    })
    .await;
    assert_eq!(host.server_names(), ["change", "keep", "new"]);
    let refused = host
        .call_server_tool("drop", "sleep", json!({"ms": 1}), CallOptions::default())
        .await;
    assert!(
        matches!(refused, Err(HostError::UnknownServer { .. })),
        "{refused:?}"
    );
    call(&host, "echo", json!({"text": "still here"})).await;
    within(host.shutdown()).await;
    assert!(!alive(kept_pid));
}
