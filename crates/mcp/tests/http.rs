//! The host against the test server over Streamable HTTP: the library server in-process and the
//! binary with `--transport http`, on both lifecycles.

mod common;

use std::process::Stdio;

use common::*;
use std::time::Duration;

use mcpcord_mcp::{Callbacks, InputAnswer, Lifecycle, ServerSpec, ServerState};
use mcpcord_testkit::late_stream::{ASK_TOOL, LateStreamServer};
use mcpcord_testkit::mcp_server::{
    self, DiscoverReply, EXTRA_TOOL, TestMcpServer, test_mcp_binary,
};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn http_servers_are_called_asked_and_followed() {
    let server = mcp_server::serve_http(TestMcpServer::new(), ([127, 0, 0, 1], 0).into())
        .await
        .expect("bind");
    let callbacks = Callbacks::default()
        .with_input(|_| async { InputAnswer::Accept(Some(json!({"name": "Grace"}))) });
    let spec = ServerSpec::http("web", server.url()).with_header("X-Test", "1");
    let host = ready_host(vec![spec], callbacks).await;
    let status = &host.status()[0];
    assert_eq!(
        (status.transport, status.state),
        ("http", ServerState::Ready)
    );
    assert_eq!(status.replicas[0].pid, None);
    assert_eq!(
        call(&host, "echo", json!({"text": "over http"})).await.text,
        "over http"
    );
    assert_eq!(
        call(&host, "ask", json!({})).await.text,
        "the user answered: Grace"
    );
    call(&host, "toggle_extra", json!({})).await;
    eventually("the extra tool is listed", || {
        host.tools().iter().any(|t| t.name == EXTRA_TOOL)
    })
    .await;
    let resources = within(host.list_resources()).await;
    assert!(resources.items.iter().any(|r| r.uri == "test://readme"));
    within(host.shutdown()).await;
    server.shutdown().await.expect("stop the server");
}

#[tokio::test]
async fn the_http_binary_is_reached_on_both_lifecycles() {
    for extra in [&[][..], &["--legacy"]] {
        let mut process = tokio::process::Command::new(test_mcp_binary())
            .args(["--transport", "http", "--port", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the binary");
        let line = within(
            BufReader::new(process.stdout.take().unwrap())
                .lines()
                .next_line(),
        )
        .await
        .unwrap()
        .expect("the address line");
        let url = line
            .strip_prefix("listening on ")
            .expect("an address")
            .to_owned();
        let host = ready_host(vec![ServerSpec::http("bin", url)], Callbacks::default()).await;
        let expected = if extra.is_empty() {
            "2026-07-28"
        } else {
            "2025-11-25"
        };
        assert_eq!(host.status()[0].protocol.as_deref(), Some(expected));
        assert_eq!(call(&host, "add", json!({"a": 1, "b": 2})).await.text, "3");
        within(host.shutdown()).await;
    }
}

#[tokio::test]
async fn http_servers_answering_discover_with_an_empty_result_or_never_use_initialize() {
    for reply in [DiscoverReply::Empty, DiscoverReply::Never] {
        let server = mcp_server::serve_http(
            TestMcpServer::new().with_discover(reply),
            ([127, 0, 0, 1], 0).into(),
        )
        .await
        .expect("bind");
        // The discovery probe gets a third of the start timeout.
        let spec = ServerSpec::http("old", server.url()).with_start_timeout(Duration::from_secs(9));
        let host = ready_host(vec![spec], Callbacks::default()).await;
        let status = &host.status()[0];
        assert_eq!(status.protocol.as_deref(), Some("2025-11-25"), "{reply:?}");
        assert_eq!(status.learned_lifecycle, Some(Lifecycle::Initialize));
        assert_eq!(
            call(&host, "echo", json!({"text": "old"})).await.text,
            "old",
            "{reply:?}"
        );
        within(host.shutdown()).await;
        within(server.shutdown()).await.expect("stop the server");
    }
}

/// Regression (the conformance scenario `elicitation-sep1034-client-defaults`, flaky under
/// load): a server asking for input on the session's standalone stream (the GET) during a tool
/// call, while that stream was not answered yet, lost the request and the call hung until its
/// timeout. A new connection now waits for the stream before it is used, on both the
/// `initialize` lifecycle and the bot's automatic one.
#[tokio::test]
async fn input_requests_on_a_standalone_stream_answered_late_are_not_lost() {
    for lifecycle in [Lifecycle::Initialize, Lifecycle::Auto] {
        let server = LateStreamServer::start(Duration::from_millis(500))
            .await
            .expect("bind");
        let callbacks = Callbacks::default().with_input(|_| async { InputAnswer::Accept(None) });
        let spec = ServerSpec::http("late", server.url()).with_lifecycle(lifecycle);
        let host = ready_host(vec![spec], callbacks).await;
        let output = call(&host, ASK_TOOL, json!({})).await;
        let answer = output
            .text
            .strip_prefix("answered: ")
            .unwrap_or_else(|| panic!("{lifecycle:?}: {}", output.text));
        let answer: serde_json::Value = serde_json::from_str(answer).expect("the answer");
        assert_eq!(answer["action"], "accept", "{lifecycle:?}");
        assert_eq!(answer["content"], json!({"name": "Ada"}), "{lifecycle:?}");
        within(host.shutdown()).await;
    }
}
