//! Helpers shared by the host's tests: bounded waits and specs for the testkit MCP server.

#![allow(dead_code)] // Each test file uses a different part.

use std::future::Future;
use std::time::Duration;

use mcpcord_mcp::{
    Backoff, CallOptions, HealthCheck, HostOptions, McpHost, ServerSpec, StreamConnector,
    ToolOutput,
};
use mcpcord_testkit::mcp_server::{self, TestMcpServer, test_mcp_binary};
use serde_json::Value;

/// Longest any test step may take before the test fails instead of hanging.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `future`, failing the test when it takes longer than [`TIMEOUT`].
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .expect("the test timed out")
}

/// Polls `condition` every 20 ms until it holds, failing after [`TIMEOUT`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(TIMEOUT, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting until {what}");
}

/// The test MCP server binary over stdio, with `args`.
pub fn stdio(name: &str, args: &[&str]) -> ServerSpec {
    let binary = test_mcp_binary();
    ServerSpec::stdio(name, binary.to_string_lossy(), args.iter().copied())
        .with_start_timeout(Duration::from_secs(20))
        .with_call_timeout(Duration::from_secs(20))
}

/// An in-process test server reached over a duplex pipe; every connection shares `server`.
pub fn in_process(name: &str, server: &TestMcpServer) -> ServerSpec {
    let server = server.clone();
    ServerSpec::stream(
        name,
        StreamConnector::new(move || {
            let pipe = mcp_server::serve_in_process(server.clone());
            async move { Ok(pipe) }
        }),
    )
}

/// Host options for tests: quick restarts, quick shutdown.
pub fn fast_options() -> HostOptions {
    HostOptions {
        backoff: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
            jitter: 0.1,
        },
        shutdown_grace: Duration::from_millis(500),
        stats_interval: Duration::from_millis(100),
        ..HostOptions::default()
    }
}

/// A quick health check.
pub fn quick_health() -> HealthCheck {
    HealthCheck {
        interval: Duration::from_millis(200),
        timeout: Duration::from_millis(500),
    }
}

/// Starts `specs` and waits until all are ready.
pub async fn ready_host(specs: Vec<ServerSpec>, callbacks: mcpcord_mcp::Callbacks) -> McpHost {
    let host = McpHost::start(specs, fast_options(), callbacks);
    assert!(
        within(host.wait_ready(TIMEOUT)).await,
        "servers not ready: {:?}",
        host.status()
    );
    host
}

/// Calls the exposed tool `name`, failing the test on an error.
pub async fn call(host: &McpHost, name: &str, arguments: Value) -> ToolOutput {
    within(host.call_tool(name, arguments, CallOptions::default()))
        .await
        .unwrap_or_else(|error| panic!("calling {name} failed: {error}"))
}

/// The pids of every replica of every server.
pub fn pids(host: &McpHost) -> Vec<u32> {
    host.status()
        .iter()
        .flat_map(|s| s.replicas.iter().filter_map(|r| r.pid))
        .collect()
}

/// Whether a process with this pid exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .unwrap_or("?");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}
