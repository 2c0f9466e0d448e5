//! The host against MCP servers nobody here wrote: the reference servers published on npm
//! (`@modelcontextprotocol/server-everything` over stdio and Streamable HTTP, `server-memory`,
//! `server-filesystem`, `server-sequential-thinking`) and PyPI (`mcp-server-time`,
//! `mcp-server-fetch`). Each test lists the server's tools and calls some through the host.
//!
//! ./scripts/test (or ./scripts/install-tools) installs them into .tools/ from lockfiles; the
//! npm servers run on the machine's `node` (found on `PATH`). Everything talks to 127.0.0.1
//! only, and every step is bounded.

use std::future::Future;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcpcord_mcp::{
    Approval, ApprovalPolicy, CallOptions, Callbacks, InputAnswer, InputMode, InputRequest,
    McpHost, RestartPolicy, ServerSpec, ToolOutput,
};
use mcpcord_testkit::llama::tools_dir;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Node servers take a few seconds to start on a loaded 2-core machine.
const START: Duration = Duration::from_secs(60);
/// Longest any other step may take.
const STEP: Duration = Duration::from_secs(30);

async fn within<T>(what: &str, limit: Duration, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {limit:?}"))
}

fn missing(path: &std::path::Path) -> ! {
    panic!(
        "{} is missing: run ./scripts/test (or ./scripts/install-tools) once to install the \
         npm and PyPI MCP servers into {}",
        path.display(),
        tools_dir().display()
    )
}

/// An npm server's bin (`.tools/npm/node_modules/.bin/NAME`).
fn npm_bin(name: &str) -> String {
    let path = tools_dir().join("npm/node_modules/.bin").join(name);
    if !path.exists() {
        missing(&path);
    }
    path.to_string_lossy().into_owned()
}

/// A PyPI server's script (`.tools/mcp-venv/bin/NAME`).
fn python_bin(name: &str) -> String {
    let path = tools_dir().join("mcp-venv/bin").join(name);
    if !path.exists() {
        missing(&path);
    }
    path.to_string_lossy().into_owned()
}

/// Starts `spec` (one server, no restarts) and waits until it is ready.
async fn connect(spec: ServerSpec, callbacks: Callbacks) -> McpHost {
    let name = spec.name.clone();
    let spec = spec
        .with_start_timeout(START)
        .with_call_timeout(STEP)
        .with_restart(RestartPolicy::Never);
    within(
        &format!("starting {name}"),
        START + Duration::from_secs(5),
        McpHost::connect(spec, callbacks),
    )
    .await
    .unwrap_or_else(|error| panic!("{name} did not start: {error}"))
}

/// The server's own tool names, as the host lists them.
fn tool_names(host: &McpHost) -> Vec<String> {
    host.tools().into_iter().map(|t| t.tool).collect()
}

fn assert_offers(host: &McpHost, tools: &[&str]) {
    let names = tool_names(host);
    for tool in tools {
        assert!(
            names.iter().any(|n| n == tool),
            "{tool} is not listed: {names:?}"
        );
    }
}

/// Calls `tool` on `server`, failing on an error or an `isError` result.
async fn call(host: &McpHost, server: &str, tool: &str, arguments: Value) -> ToolOutput {
    let output = within(
        &format!("calling {tool}"),
        STEP,
        host.call_server_tool(server, tool, arguments, CallOptions::default()),
    )
    .await
    .unwrap_or_else(|error| panic!("calling {tool} failed: {error}"));
    assert!(
        !output.is_error,
        "{tool} returned an error: {}",
        output.text
    );
    output
}

/// Checks what every server-everything transport offers: plain text, numbers, images, the
/// child's environment, and an input request answered through the host's callback.
async fn exercise_everything(host: &McpHost, stdio: bool) {
    assert_offers(host, &["echo", "get-sum", "get-tiny-image", "get-env"]);

    let echo = call(host, "everything", "echo", json!({ "message": "hello" })).await;
    assert_eq!(echo.text.trim(), "Echo: hello");

    let sum = call(host, "everything", "get-sum", json!({ "a": 2, "b": 3 })).await;
    assert!(sum.text.contains('5'), "get-sum: {}", sum.text);

    let image = call(host, "everything", "get-tiny-image", json!({})).await;
    assert!(
        image
            .images
            .iter()
            .any(|i| i.mime_type == "image/png" && !i.data.is_empty()),
        "get-tiny-image gave no PNG: {image:?}"
    );

    if stdio {
        // The child sees what its configuration names, and nothing of the test's environment.
        let env = call(host, "everything", "get-env", json!({})).await;
        assert!(
            env.text.contains("MCPCORD_REAL_SERVER_TEST"),
            "{}",
            env.text
        );
        assert!(!env.text.contains("CARGO_MANIFEST_DIR"), "{}", env.text);
    }

    // Registered once the server knows the host can answer input requests (then announced
    // with tools/list_changed).
    let deadline = tokio::time::Instant::now() + STEP;
    while !tool_names(host)
        .iter()
        .any(|t| t == "trigger-elicitation-request")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "trigger-elicitation-request never listed: {:?}",
            tool_names(host)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answered = call(host, "everything", "trigger-elicitation-request", json!({})).await;
    assert!(
        answered.text.contains("Name: Ada") && answered.text.contains("Agreed to terms: true"),
        "{}",
        answered.text
    );
}

/// Fills in the everything server's form: a name and consent (the rest keeps its defaults).
fn form_filler() -> Callbacks {
    Callbacks::default().with_input(|request: InputRequest| async move {
        match request.mode {
            InputMode::Form { .. } => {
                InputAnswer::Accept(Some(json!({ "name": "Ada", "check": true })))
            }
            InputMode::Url { .. } => InputAnswer::Decline,
        }
    })
}

#[tokio::test]
async fn server_everything_over_stdio() {
    let spec = ServerSpec::stdio("everything", npm_bin("mcp-server-everything"), ["stdio"])
        .with_env("MCPCORD_REAL_SERVER_TEST", "1");
    let host = connect(spec, form_filler()).await;
    exercise_everything(&host, true).await;

    let prompts = within("listing prompts", STEP, host.list_prompts()).await;
    assert!(prompts.errors.is_empty(), "{:?}", prompts.errors);
    assert!(!prompts.items.is_empty(), "no prompts");
    let resources = within("listing resources", STEP, host.list_resources()).await;
    assert!(resources.errors.is_empty(), "{:?}", resources.errors);
    let first = resources.items.first().expect("some resources");
    let contents = within(
        "reading a resource",
        STEP,
        host.read_resource("everything", &first.uri),
    )
    .await
    .expect("the resource reads");
    assert!(!contents.is_empty());
    within("shutting down", STEP, host.shutdown()).await;
}

/// A child process killed when dropped.
struct Child(tokio::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

/// A port free on 127.0.0.1 right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test]
async fn server_everything_over_streamable_http() {
    let port = free_port();
    // It listens on every interface (it has no host setting); the test talks to 127.0.0.1.
    let mut child = Child(
        tokio::process::Command::new(npm_bin("mcp-server-everything"))
            .arg("streamableHttp")
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts server-everything (is `node` on PATH?)"),
    );
    within("server-everything listening", START, async {
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = child.0.try_wait() {
                panic!("server-everything exited: {status}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let spec = ServerSpec::http("everything", format!("http://127.0.0.1:{port}/mcp"));
    let host = connect(spec, form_filler()).await;
    exercise_everything(&host, false).await;
    within("shutting down", STEP, host.shutdown()).await;
}

#[tokio::test]
async fn server_memory() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("memory.jsonl");
    let spec = ServerSpec::stdio("memory", npm_bin("mcp-server-memory"), Vec::<String>::new())
        .with_env("MEMORY_FILE_PATH", file.to_string_lossy());
    let host = connect(spec, Callbacks::default()).await;
    assert_offers(&host, &["create_entities", "read_graph", "search_nodes"]);
    call(
        &host,
        "memory",
        "create_entities",
        json!({ "entities": [{
            "name": "mcpcord",
            "entityType": "project",
            "observations": ["a Discord bot for local models"],
        }] }),
    )
    .await;
    let graph = call(&host, "memory", "read_graph", json!({})).await;
    assert!(
        graph.text.contains("a Discord bot for local models"),
        "{}",
        graph.text
    );
    within("shutting down", STEP, host.shutdown()).await;
    let stored = std::fs::read_to_string(&file).expect("the memory file");
    assert!(stored.contains("mcpcord"), "{stored}");
}

#[tokio::test]
async fn server_filesystem() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path().canonicalize().expect("the temp dir's path");
    std::fs::write(root.join("given.txt"), "written by the test\n").expect("a file");
    let spec = ServerSpec::stdio(
        "filesystem",
        npm_bin("mcp-server-filesystem"),
        [root.to_string_lossy().into_owned()],
    );
    let host = connect(spec, Callbacks::default()).await;
    assert_offers(&host, &["read_text_file", "write_file", "list_directory"]);

    let read = call(
        &host,
        "filesystem",
        "read_text_file",
        json!({ "path": root.join("given.txt") }),
    )
    .await;
    assert!(read.text.contains("written by the test"), "{}", read.text);

    // write_file is annotated as destructive (`readOnlyHint: false`): with no approval written
    // in the configuration, a person must approve it.
    let write = host
        .catalogue()
        .find("filesystem", "write_file")
        .cloned()
        .expect("write_file is listed");
    assert_eq!(write.approval, ApprovalPolicy::Ask, "{write:?}");
    assert_eq!(
        host.catalogue()
            .find("filesystem", "read_text_file")
            .map(|t| t.approval),
        Some(ApprovalPolicy::Auto),
        "read-only tools run at once"
    );
    let asked = Arc::new(Mutex::new(0));
    let counter = asked.clone();
    let approving = CallOptions::default().with_approver(move |_| {
        *counter.lock().unwrap() += 1;
        async { Approval::Approved }
    });
    let written = within(
        "calling write_file",
        STEP,
        host.call_server_tool(
            "filesystem",
            "write_file",
            json!({ "path": root.join("made.txt"), "content": "written through the host" }),
            approving,
        ),
    )
    .await
    .expect("write_file, approved");
    assert!(!written.is_error, "{}", written.text);
    assert_eq!(*asked.lock().unwrap(), 1, "a person was asked once");
    assert_eq!(
        std::fs::read_to_string(root.join("made.txt")).expect("the written file"),
        "written through the host"
    );

    let listing = call(
        &host,
        "filesystem",
        "list_directory",
        json!({ "path": root }),
    )
    .await;
    assert!(
        listing.text.contains("given.txt") && listing.text.contains("made.txt"),
        "{}",
        listing.text
    );

    // Outside the allowed directory: an error result the model can read, not a host error.
    let outside = within(
        "reading outside the root",
        STEP,
        host.call_server_tool(
            "filesystem",
            "read_text_file",
            json!({ "path": "/etc/hostname" }),
            CallOptions::default(),
        ),
    )
    .await
    .expect("a result");
    assert!(outside.is_error, "read outside the root: {}", outside.text);
    within("shutting down", STEP, host.shutdown()).await;
}

#[tokio::test]
async fn server_sequential_thinking() {
    let spec = ServerSpec::stdio(
        "thinking",
        npm_bin("mcp-server-sequential-thinking"),
        Vec::<String>::new(),
    );
    let host = connect(spec, Callbacks::default()).await;
    assert_offers(&host, &["sequentialthinking"]);
    let thought = call(
        &host,
        "thinking",
        "sequentialthinking",
        json!({
            "thought": "The answer is 42.",
            "thoughtNumber": 1,
            "totalThoughts": 1,
            "nextThoughtNeeded": false,
        }),
    )
    .await;
    assert!(thought.text.contains("thoughtNumber"), "{}", thought.text);
    within("shutting down", STEP, host.shutdown()).await;
}

#[tokio::test]
async fn mcp_server_time() {
    let spec = ServerSpec::stdio(
        "time",
        python_bin("mcp-server-time"),
        ["--local-timezone", "UTC"],
    );
    let host = connect(spec, Callbacks::default()).await;
    assert_offers(&host, &["get_current_time", "convert_time"]);
    let now = call(
        &host,
        "time",
        "get_current_time",
        json!({ "timezone": "Europe/Paris" }),
    )
    .await;
    assert!(now.text.contains("Europe/Paris"), "{}", now.text);
    let converted = call(
        &host,
        "time",
        "convert_time",
        json!({ "source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo" }),
    )
    .await;
    assert!(converted.text.contains("21:00"), "{}", converted.text);
    within("shutting down", STEP, host.shutdown()).await;
}

/// A one-page website on 127.0.0.1 that records the paths asked for.
async fn local_site() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match tokio::time::timeout(STEP, stream.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                seen.lock().unwrap().push(path.clone());
                let (status, kind, body) = match path.as_str() {
                    "/robots.txt" => ("200 OK", "text/plain", "User-agent: *\nAllow: /\n"),
                    "/page" => (
                        "200 OK",
                        "text/html; charset=utf-8",
                        "<html><head><title>Local page</title></head><body>\
                         <h1>Hello from mcpcord</h1><p>The fetch server read this.</p>\
                         </body></html>",
                    ),
                    _ => ("404 Not Found", "text/plain", "not found"),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (format!("http://127.0.0.1:{}", addr.port()), requests)
}

#[tokio::test]
async fn mcp_server_fetch_reads_a_local_page() {
    let (site, requests) = local_site().await;
    let spec = ServerSpec::stdio(
        "fetch",
        python_bin("mcp-server-fetch"),
        ["--allow-private-ips"],
    );
    let host = connect(spec, Callbacks::default()).await;
    assert_offers(&host, &["fetch"]);
    let page = call(
        &host,
        "fetch",
        "fetch",
        json!({ "url": format!("{site}/page") }),
    )
    .await;
    assert!(page.text.contains("Hello from mcpcord"), "{}", page.text);
    assert!(
        requests.lock().unwrap().iter().any(|p| p == "/page"),
        "the page was not requested: {:?}",
        requests.lock().unwrap()
    );
    within("shutting down", STEP, host.shutdown()).await;
}

#[tokio::test]
async fn mcp_server_fetch_refuses_loopback_by_default() {
    let (site, requests) = local_site().await;
    let spec = ServerSpec::stdio(
        "fetch",
        python_bin("mcp-server-fetch"),
        Vec::<String>::new(),
    );
    let host = connect(spec, Callbacks::default()).await;
    let refused = within(
        "fetching a loopback page",
        STEP,
        host.call_server_tool(
            "fetch",
            "fetch",
            json!({ "url": format!("{site}/page") }),
            CallOptions::default(),
        ),
    )
    .await;
    // Either an error result or an error answer: the page must not be read.
    if let Ok(output) = &refused {
        assert!(output.is_error, "loopback fetched: {}", output.text);
    }
    assert!(
        !requests.lock().unwrap().iter().any(|p| p == "/page"),
        "the page was requested: {:?}",
        requests.lock().unwrap()
    );
    within("shutting down", STEP, host.shutdown()).await;
}
