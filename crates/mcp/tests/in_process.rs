//! The host against the test server in-process (over a duplex pipe), where the server's own
//! counters show what reached it: cancellation on timeout and on the user's stop, and progress
//! that keeps a long call alive.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mcpcord_mcp::{CallOptions, Callbacks, HostError};
use mcpcord_testkit::mcp_server::TestMcpServer;
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn timeouts_and_stops_cancel_the_call_on_the_server() {
    let server = TestMcpServer::new();
    let spec = in_process("mem", &server).with_call_timeout(Duration::from_millis(300));
    let host = ready_host(vec![spec], Callbacks::default()).await;

    let started = Instant::now();
    let timed_out = within(host.call_tool("sleep", json!({"ms": 600_000}), CallOptions::default())).await;
    assert!(matches!(timed_out, Err(HostError::Timeout { .. })), "{timed_out:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    eventually("the server saw the cancellation", || server.cancelled_calls() == 1).await;

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
    eventually("the server saw the second cancellation", || server.cancelled_calls() == 2).await;
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
    assert!(output.text.contains("sent 10 progress notifications"), "{}", output.text);
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
    let host = within(mcpcord_mcp::McpHost::connect(in_process("mem", &server), Callbacks::default()))
        .await
        .expect("connect");
    assert_eq!(call(&host, "add", json!({"a": 2, "b": 3})).await.text, "5");
    within(host.shutdown()).await;
}
