//! What the host costs and how fast it recovers, against the testkit MCP server:
//!
//! - `call/*`: one `echo` call through the host compared with a raw rmcp client call, over
//!   stdio (the same binary, one child each) and over Streamable HTTP (the same server);
//! - `start/5 stdio servers`: from `McpHost::start` to every server ready;
//! - `restart/after crash`: from a `crash` call to the server ready again.
//!
//! Run with `cargo build --release -p mcpcord-testkit --bin mcpcord-test-mcp` first (the bench
//! profile looks for the binary in target/release), then `cargo bench -p mcpcord-mcp`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mcpcord_mcp::{
    Backoff, CallOptions, Callbacks, CircuitBreaker, HostOptions, McpHost, ServerSpec, ServerState,
};
use mcpcord_testkit::mcp_server::{self, TestMcpServer, test_mcp_binary};
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientLifecycleMode, ClientServiceExt};
use serde_json::json;

fn auto() -> ClientLifecycleMode {
    ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    }
}

fn options() -> HostOptions {
    HostOptions {
        backoff: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(1),
            jitter: 0.1,
        },
        ..HostOptions::default()
    }
}

fn stdio_spec(name: &str) -> ServerSpec {
    ServerSpec::stdio(
        name,
        test_mcp_binary().to_string_lossy(),
        Vec::<String>::new(),
    )
}

fn arguments() -> rmcp::model::JsonObject {
    json!({"text": "bench"}).as_object().cloned().unwrap()
}

fn calls(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut group = c.benchmark_group("call");

    let raw = runtime.block_on(async {
        let command = tokio::process::Command::new(test_mcp_binary());
        let (child, _) = TokioChildProcess::builder(command)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        ().serve_with_lifecycle(child, auto()).await.unwrap()
    });
    group.bench_function("stdio raw rmcp", |b| {
        b.to_async(&runtime).iter(|| async {
            let params = CallToolRequestParams::new("echo").with_arguments(arguments());
            let result = raw.call_tool(params).await.unwrap();
            assert_eq!(result.is_error, Some(false));
        });
    });
    let host = runtime.block_on(async {
        let host = McpHost::start(vec![stdio_spec("t")], options(), Callbacks::default());
        assert!(host.wait_ready(Duration::from_secs(30)).await);
        host
    });
    group.bench_function("stdio through the host", |b| {
        b.to_async(&runtime).iter(|| async {
            let output = host
                .call_tool("echo", json!({"text": "bench"}), CallOptions::default())
                .await
                .unwrap();
            assert_eq!(output.text, "bench");
        });
    });

    let server = runtime.block_on(mcp_server::serve_http(
        TestMcpServer::new(),
        ([127, 0, 0, 1], 0).into(),
    ));
    let server = server.unwrap();
    let raw_http = runtime.block_on(async {
        let transport = StreamableHttpClientTransport::from_uri(server.url());
        ().serve_with_lifecycle(transport, auto()).await.unwrap()
    });
    group.bench_function("http raw rmcp", |b| {
        b.to_async(&runtime).iter(|| async {
            let params = CallToolRequestParams::new("echo").with_arguments(arguments());
            raw_http.call_tool(params).await.unwrap();
        });
    });
    let http_host = runtime.block_on(async {
        let spec = ServerSpec::http("web", server.url());
        let host = McpHost::start(vec![spec], options(), Callbacks::default());
        assert!(host.wait_ready(Duration::from_secs(30)).await);
        host
    });
    group.bench_function("http through the host", |b| {
        b.to_async(&runtime).iter(|| async {
            http_host
                .call_tool("echo", json!({"text": "bench"}), CallOptions::default())
                .await
                .unwrap();
        });
    });
    group.finish();
    runtime.block_on(async {
        host.shutdown().await;
        http_host.shutdown().await;
        let _ = raw.cancel().await;
        let _ = raw_http.cancel().await;
    });
}

fn lifecycle(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("lifecycle");
    group.sample_size(10);
    group.bench_function("start 5 stdio servers until all ready", |b| {
        b.to_async(&runtime).iter_custom(|iterations| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let specs = (0..5).map(|i| stdio_spec(&format!("s{i}"))).collect();
                let started = Instant::now();
                let host = McpHost::start(specs, options(), Callbacks::default());
                assert!(host.wait_ready(Duration::from_secs(30)).await);
                total += started.elapsed();
                host.shutdown().await;
            }
            total
        });
    });
    // The default first restart delay (250 ms ± 20 %) every time, and no circuit breaker: each
    // sample is "a crash of a server that was running fine".
    let restarting = HostOptions {
        backoff: Backoff {
            max: Backoff::default().initial,
            ..Backoff::default()
        },
        circuit: CircuitBreaker {
            max_failures: usize::MAX,
            ..CircuitBreaker::default()
        },
        ..HostOptions::default()
    };
    let host = runtime.block_on(async {
        let host = McpHost::start(vec![stdio_spec("t")], restarting, Callbacks::default());
        assert!(host.wait_ready(Duration::from_secs(30)).await);
        host
    });
    group.bench_function(
        "restart after a crash until ready (default 250 ms backoff)",
        |b| {
            b.to_async(&runtime).iter_custom(|iterations| {
                let host = host.clone();
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let old = host.status()[0].replicas[0].pid;
                        let started = Instant::now();
                        let _ = host
                            .call_tool("crash", json!({}), CallOptions::default())
                            .await;
                        loop {
                            let status = &host.status()[0];
                            if status.state == ServerState::Ready && status.replicas[0].pid != old {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        total += started.elapsed();
                    }
                    total
                }
            });
        },
    );
    group.finish();
    runtime.block_on(host.shutdown());
}

criterion_group!(benches, calls, lifecycle);
criterion_main!(benches);
