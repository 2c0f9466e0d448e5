//! The host against the test server in-process (over a duplex pipe), where the server's own
//! counters show what reached it: cancellation on timeout and on the user's stop, progress
//! that keeps a long call alive, and the `Auto` lifecycle's discovery probe (made once per
//! server, then remembered).

mod common;

use std::time::{Duration, Instant};

use common::*;
use mcpcord_mcp::{CallOptions, Callbacks, HostError, Lifecycle, McpHost, ServerState};
use mcpcord_testkit::mcp_server::{DiscoverReply, TestMcpServer};
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn timeouts_and_stops_cancel_the_call_on_the_server() {
    let server = TestMcpServer::new();
    let spec = in_process("mem", &server).with_call_timeout(Duration::from_millis(300));
    let host = ready_host(vec![spec], Callbacks::default()).await;

    let started = Instant::now();
    let timed_out =
        within(host.call_tool("sleep", json!({"ms": 600_000}), CallOptions::default())).await;
    assert!(
        matches!(timed_out, Err(HostError::Timeout { .. })),
        "{timed_out:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    eventually("the server saw the cancellation", || {
        server.cancelled_calls() == 1
    })
    .await;

    let stop = CancellationToken::new();
    let options = CallOptions::default()
        .with_cancel(stop.clone())
        .with_timeout(Duration::from_secs(60));
    let call = host.call_tool("sleep", json!({"ms": 600_000}), options);
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.cancel();
    };
    let (stopped, ()) = within(async { tokio::join!(call, stopper) }).await;
    assert!(matches!(stopped, Err(HostError::Cancelled)), "{stopped:?}");
    eventually("the server saw the second cancellation", || {
        server.cancelled_calls() == 2
    })
    .await;
    within(host.shutdown()).await;
}

#[tokio::test]
async fn progress_keeps_a_long_call_alive_and_reaches_the_caller() {
    let server = TestMcpServer::new();
    let spec = in_process("mem", &server).with_call_timeout(Duration::from_millis(400));
    let host = ready_host(vec![spec], Callbacks::default()).await;
    let (sink, mut progress) = tokio::sync::mpsc::unbounded_channel();
    let options = CallOptions::default().with_progress(sink);
    // 10 steps of 150 ms: far longer than the timeout, but never silent for that long.
    let output = within(host.call_tool("progress", json!({"steps": 10, "delay_ms": 150}), options))
        .await
        .unwrap();
    assert!(
        output.text.contains("sent 10 progress notifications"),
        "{}",
        output.text
    );
    let mut seen = Vec::new();
    while let Ok(event) = progress.try_recv() {
        seen.push(event);
    }
    assert!(seen.len() >= 9, "{seen:?}");
    assert!(seen.iter().all(|p| p.total == Some(10.0)));
    assert_eq!(server.cancelled_calls(), 0);
    within(host.shutdown()).await;
}

#[tokio::test]
async fn a_stream_server_is_connected_with_one_call() {
    let server = TestMcpServer::new();
    let host = within(mcpcord_mcp::McpHost::connect(
        in_process("mem", &server),
        Callbacks::default(),
    ))
    .await
    .expect("connect");
    assert_eq!(call(&host, "add", json!({"a": 2, "b": 3})).await.text, "5");
    within(host.shutdown()).await;
}

/// A server whose one tool asks the client's model for a completion (`sampling/createMessage`,
/// initialize lifecycle) and returns what it got.
#[derive(Clone)]
struct SamplingServer;

#[allow(deprecated)] // Sampling is deprecated by SEP-2577; older servers still use it.
impl rmcp::ServerHandler for SamplingServer {
    fn get_info(&self) -> rmcp::model::ServerConfig {
        rmcp::model::ServerConfig::new(
            rmcp::model::ServerCapabilities::builder()
                .enable_tools()
                .build(),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<rmcp::model::ListToolsResult, rmcp::ErrorData> {
        let schema = json!({"type": "object"}).as_object().cloned().unwrap();
        Ok(rmcp::model::ListToolsResult::with_all_items(vec![
            rmcp::model::Tool::new(
                "summarize",
                "Ask the client's model",
                std::sync::Arc::new(schema),
            ),
        ]))
    }

    async fn call_tool(
        &self,
        _request: rmcp::model::CallToolRequestParams,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, rmcp::ErrorData> {
        let params = rmcp::model::CreateMessageRequestParams::new(
            vec![rmcp::model::SamplingMessage::user_text("Say hi")],
            50,
        );
        let text = match context.peer.create_message(params).await {
            Ok(result) => match &result.message.content {
                rmcp::model::SamplingContent::Single(
                    rmcp::model::SamplingMessageContentBlock::Text(text),
                ) => format!("{} said: {}", result.model, text.text),
                other => format!("unexpected content {other:?}"),
            },
            Err(error) => format!("sampling failed: {error}"),
        };
        Ok(
            rmcp::model::CallToolResult::success(vec![rmcp::model::ContentBlock::text(text)])
                .into(),
        )
    }
}

fn sampling_server(name: &str) -> mcpcord_mcp::ServerSpec {
    mcpcord_mcp::ServerSpec::stream(
        name,
        mcpcord_mcp::StreamConnector::new(|| async {
            let (client, server) = tokio::io::duplex(64 * 1024);
            tokio::spawn(async move {
                if let Ok(running) = rmcp::ServiceExt::serve(SamplingServer, server).await {
                    let _ = running.waiting().await;
                }
            });
            Ok(client)
        }),
    )
    .with_lifecycle(mcpcord_mcp::Lifecycle::Initialize)
}

#[tokio::test]
async fn sampling_is_answered_when_allowed_and_declined_otherwise() {
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    let callbacks =
        Callbacks::default().with_sampler(move |request: mcpcord_mcp::SamplingRequest| {
            seen.lock().unwrap().push(request);
            async {
                Ok(mcpcord_mcp::SamplingReply {
                    model: "llama3.2".into(),
                    text: "hi!".into(),
                    stop_reason: Some("endTurn".into()),
                })
            }
        });
    let host = ready_host(
        vec![
            sampling_server("allowed").with_sampling(true),
            sampling_server("refused"),
        ],
        callbacks,
    )
    .await;
    let allowed = call(&host, "allowed__summarize", json!({})).await;
    assert_eq!(allowed.text, "llama3.2 said: hi!");
    let request = asked.lock().unwrap()[0].clone();
    assert_eq!(request.server, "allowed");
    assert_eq!(request.max_tokens, 50);
    assert_eq!(request.messages[0].text, "Say hi");
    let refused = call(&host, "refused__summarize", json!({})).await;
    assert!(
        refused.text.starts_with("sampling failed"),
        "{}",
        refused.text
    );
    assert!(refused.text.contains("not allowed"), "{}", refused.text);
    assert_eq!(asked.lock().unwrap().len(), 1);
    within(host.shutdown()).await;
}

/// Restarts the only server of `host` and waits until it is ready again.
async fn restart_and_wait(host: &McpHost, name: &str) {
    let before = host.status()[0].restarts();
    host.restart(name).expect("the server is known");
    eventually("the server is ready again after the restart", || {
        let status = &host.status()[0];
        status.restarts() > before && status.state == ServerState::Ready
    })
    .await;
}

#[tokio::test]
async fn auto_falls_back_to_initialize_for_every_kind_of_old_server_and_remembers_it() {
    for reply in [
        DiscoverReply::MethodNotFound,
        DiscoverReply::Empty,
        DiscoverReply::Never,
    ] {
        let server = TestMcpServer::new().with_discover(reply);
        // The discovery probe gets a third of the start timeout.
        let spec = in_process("old", &server).with_start_timeout(Duration::from_secs(9));
        assert_eq!(spec.lifecycle, Lifecycle::Auto);
        let host = ready_host(vec![spec], Callbacks::default()).await;
        let status = &host.status()[0];
        assert_eq!(status.protocol.as_deref(), Some("2025-11-25"), "{reply:?}");
        assert_eq!(
            status.learned_lifecycle,
            Some(Lifecycle::Initialize),
            "{reply:?}"
        );
        assert_eq!(server.discover_requests(), 1, "{reply:?}");
        assert_eq!(
            call(&host, "echo", json!({"text": "old"})).await.text,
            "old",
            "{reply:?}"
        );

        // The next start goes straight to `initialize`: no second probe.
        restart_and_wait(&host, "old").await;
        assert_eq!(
            host.status()[0].protocol.as_deref(),
            Some("2025-11-25"),
            "{reply:?}"
        );
        assert_eq!(server.discover_requests(), 1, "{reply:?}: probed again");
        assert_eq!(
            call(&host, "echo", json!({"text": "again"})).await.text,
            "again"
        );
        within(host.shutdown()).await;
    }
}

#[tokio::test]
async fn auto_keeps_discovering_a_current_server_and_pinned_lifecycles_are_kept() {
    let server = TestMcpServer::new();
    let host = ready_host(vec![in_process("new", &server)], Callbacks::default()).await;
    let status = &host.status()[0];
    assert_eq!(status.protocol.as_deref(), Some("2026-07-28"));
    assert_eq!(status.learned_lifecycle, Some(Lifecycle::Discover));
    restart_and_wait(&host, "new").await;
    assert_eq!(host.status()[0].protocol.as_deref(), Some("2026-07-28"));
    assert_eq!(server.discover_requests(), 2, "each start discovers");
    within(host.shutdown()).await;

    let server = TestMcpServer::new();
    let pinned = in_process("pinned", &server).with_lifecycle(Lifecycle::Initialize);
    let host = ready_host(vec![pinned], Callbacks::default()).await;
    let status = &host.status()[0];
    assert_eq!(status.protocol.as_deref(), Some("2025-11-25"));
    assert_eq!(status.lifecycle, Lifecycle::Initialize);
    assert_eq!(
        status.learned_lifecycle, None,
        "nothing to learn when pinned"
    );
    assert_eq!(server.discover_requests(), 0);
    within(host.shutdown()).await;
}
