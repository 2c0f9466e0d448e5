//! The test MCP server driven by rmcp's real client: over stdio (the built binary as a child
//! process), over Streamable HTTP (the binary with `--transport http`, and the library's
//! `serve_http`), and in-process over a duplex pipe. Both lifecycles are exercised: the
//! `initialize` handshake and the stateless 2026-07-28 one reached by automatic discovery.

use std::{
    future::Future,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine as _;
use mcpcord_testkit::mcp_server::{
    self, DEFAULT_LARGE_OUTPUT_SIZE, DiscoverReply, EXTRA_TOOL, README_TEXT, README_URI, TEST_PNG,
    TestMcpServer,
    cli::{Command, Transport, parse_args},
};
use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, ErrorData, RoleClient, ServiceError,
    ServiceExt,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
        ClientRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ErrorCode,
        GetPromptRequestParams, Implementation, InputRequest, JsonObject,
        ProgressNotificationParam, ProtocolVersion, ReadResourceRequestParams, Request,
        ResourceContents, ServerNotification, SubscriptionFilter,
    },
    service::{
        NotificationContext, PeerRequestOptions, QuitReason, RequestContext, RunningService,
    },
    transport::{
        ConfigureCommandExt, IntoTransport, StreamableHttpClientTransport, TokioChildProcess,
    },
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const TIMEOUT: Duration = Duration::from_secs(30);
const BINARY: &str = env!("CARGO_BIN_EXE_mcpcord-test-mcp");
const ALL_TOOLS: &[&str] = &[
    "add",
    "ask",
    "crash",
    "delete",
    "echo",
    "env",
    "image",
    "large_output",
    "progress",
    "sleep",
    "toggle_extra",
];

/// Runs `future`, failing the test instead of hanging when it takes longer than [`TIMEOUT`].
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .expect("the test timed out")
}

/// Polls `condition` every 10 ms until it holds, failing after [`TIMEOUT`].
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(TIMEOUT, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting until {what}");
}

// ----------------------------------------------------------------------------------------------
// The test client
// ----------------------------------------------------------------------------------------------

/// How the test client answers elicitation; `None` means it does not declare the capability.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Accept,
    Decline,
}

/// An rmcp client handler that answers elicitation as told and records notifications.
#[derive(Clone)]
struct TestClient {
    answer: Option<Answer>,
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    tool_list_changes: Arc<Mutex<usize>>,
}

impl TestClient {
    fn accepting() -> Self {
        Self::answering(Some(Answer::Accept))
    }

    fn declining() -> Self {
        Self::answering(Some(Answer::Decline))
    }

    fn without_elicitation() -> Self {
        Self::answering(None)
    }

    fn answering(answer: Option<Answer>) -> Self {
        Self {
            answer,
            progress: Arc::default(),
            tool_list_changes: Arc::default(),
        }
    }

    fn progress(&self) -> Vec<ProgressNotificationParam> {
        self.progress.lock().unwrap().clone()
    }

    fn tool_list_changes(&self) -> usize {
        *self.tool_list_changes.lock().unwrap()
    }
}

impl ClientHandler for TestClient {
    fn get_info(&self) -> ClientConfig {
        let capabilities = match self.answer {
            Some(_) => ClientCapabilities::builder().enable_elicitation().build(),
            None => ClientCapabilities::default(),
        };
        ClientConfig::new(
            capabilities,
            Implementation::new("mcpcord-testkit-tests", "0.0.0"),
        )
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = request
        else {
            return Err(ErrorData::invalid_params("expected a form", None));
        };
        assert!(!message.is_empty(), "the question is shown to the user");
        assert!(
            requested_schema.properties.contains_key("name"),
            "the form asks for a name: {requested_schema:?}"
        );
        assert_eq!(requested_schema.required, Some(vec!["name".to_owned()]));
        match self.answer {
            Some(Answer::Accept) => Ok(ElicitResult::new(ElicitationAction::Accept)
                .with_content(json!({ "name": "Ferris" }))),
            Some(Answer::Decline) => Ok(ElicitResult::new(ElicitationAction::Decline)),
            None => Err(ErrorData::internal_error(
                "this client never declared elicitation",
                None,
            )),
        }
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        *self.tool_list_changes.lock().unwrap() += 1;
    }
}

type Client = RunningService<RoleClient, TestClient>;

/// How the client starts its MCP lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lifecycle {
    /// The `initialize` handshake (rmcp's `serve`): negotiates 2025-11-25 with this server.
    Initialize,
    /// `server/discover` preferring 2026-07-28, falling back to `initialize` for old servers:
    /// what the mcpcord host is meant to use.
    Auto,
}

const BOTH: [Lifecycle; 2] = [Lifecycle::Initialize, Lifecycle::Auto];

async fn connect<T, E, A>(client: TestClient, transport: T, lifecycle: Lifecycle) -> Client
where
    T: IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let running = match lifecycle {
        Lifecycle::Initialize => client.serve(transport).await,
        Lifecycle::Auto => {
            client
                .serve_with_lifecycle(
                    transport,
                    ClientLifecycleMode::Auto {
                        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                        legacy_version: Some(ProtocolVersion::V_2025_11_25),
                    },
                )
                .await
        }
    };
    running.unwrap_or_else(|error| panic!("{lifecycle:?} client failed to start: {error}"))
}

fn negotiated(client: &Client) -> ProtocolVersion {
    client
        .peer_info()
        .expect("the client knows the server after start-up")
        .protocol_version
        .clone()
}

/// Spawns the binary with `args` as an rmcp stdio child process.
fn child(args: &[&str]) -> TokioChildProcess {
    child_with(args, |_| {})
}

fn child_with(
    args: &[&str],
    configure: impl FnOnce(&mut tokio::process::Command),
) -> TokioChildProcess {
    let command = tokio::process::Command::new(BINARY).configure(|command| {
        command.args(args);
        configure(command);
    });
    let (child, _stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the test MCP server binary");
    child
}

async fn stdio_client(client: TestClient, lifecycle: Lifecycle) -> Client {
    connect(client, child(&[]), lifecycle).await
}

fn arguments(value: Value) -> JsonObject {
    match value {
        Value::Object(object) => object,
        other => panic!("arguments must be an object, not {other}"),
    }
}

async fn call(client: &Client, tool: &'static str, args: Value) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments(args)))
        .await
        .unwrap_or_else(|error| panic!("calling {tool} failed: {error}"))
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text())
        .map(|text| text.text.as_str())
        .collect()
}

fn is_error(result: &CallToolResult) -> bool {
    result.is_error == Some(true)
}

async fn tool_names(client: &Client) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("list tools")
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect();
    names.sort();
    names
}

// ----------------------------------------------------------------------------------------------
// stdio: the binary as a child process
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn stdio_lists_tools_prompts_and_resources() {
    within(async {
        let client = stdio_client(TestClient::accepting(), Lifecycle::Initialize).await;
        let server = client.peer_info().expect("server info");
        assert_eq!(
            server.server_info.as_ref().map(|info| info.name.as_str()),
            Some(mcp_server::SERVER_NAME)
        );
        assert!(server.capabilities.tools.is_some());

        assert_eq!(tool_names(&client).await, ALL_TOOLS);
        let tools = client.list_all_tools().await.expect("list tools");
        let add = tools.iter().find(|tool| tool.name == "add").expect("add");
        let schema = serde_json::to_value(add.input_schema.as_ref()).expect("schema");
        assert_eq!(schema["properties"]["a"]["type"], "number", "{schema}");
        assert_eq!(schema["required"], json!(["a", "b"]), "{schema}");

        let prompts = client.list_all_prompts().await.expect("list prompts");
        let greet = prompts.iter().find(|prompt| prompt.name == "greet");
        let greet = greet.expect("the greet prompt is listed");
        let argument = &greet.arguments.as_ref().expect("greet has arguments")[0];
        assert_eq!(argument.name, "name");
        assert_eq!(argument.required, Some(true));

        let resources = client.list_all_resources().await.expect("list resources");
        assert!(resources.iter().any(|resource| resource.uri == README_URI));
        let templates = client
            .list_all_resource_templates()
            .await
            .expect("list templates");
        assert!(
            templates
                .iter()
                .any(|template| template.uri_template == "test://echo/{text}")
        );
        client.cancel().await.expect("close the client");
    })
    .await;
}

#[tokio::test]
async fn stdio_lifecycles_negotiate_the_expected_protocol() {
    within(async {
        let initialize = stdio_client(TestClient::accepting(), Lifecycle::Initialize).await;
        assert_eq!(negotiated(&initialize), ProtocolVersion::V_2025_11_25);
        let auto = stdio_client(TestClient::accepting(), Lifecycle::Auto).await;
        assert_eq!(negotiated(&auto), ProtocolVersion::V_2026_07_28);

        // A server that refuses server/discover is reached through the initialize fallback.
        let legacy = connect(
            TestClient::accepting(),
            child(&["--legacy"]),
            Lifecycle::Auto,
        )
        .await;
        assert_eq!(negotiated(&legacy), ProtocolVersion::V_2025_11_25);
        for client in [&initialize, &auto, &legacy] {
            let result = call(client, "echo", json!({ "text": "still works" })).await;
            assert_eq!(text(&result), "still works");
        }
        for client in [initialize, auto, legacy] {
            client.cancel().await.expect("close the client");
        }
    })
    .await;
}

#[tokio::test]
async fn stdio_echo_and_add() {
    within(async {
        for lifecycle in BOTH {
            let client = stdio_client(TestClient::accepting(), lifecycle).await;
            let echo = call(&client, "echo", json!({ "text": "héllo, world" })).await;
            assert!(!is_error(&echo));
            assert_eq!(text(&echo), "héllo, world");
            let sum = call(&client, "add", json!({ "a": 2, "b": 3.5 })).await;
            assert!(!is_error(&sum));
            assert_eq!(text(&sum), "5.5");
            let sum = call(&client, "add", json!({ "a": -2, "b": 2 })).await;
            assert_eq!(text(&sum), "0");
            client.cancel().await.expect("close the client");
        }
    })
    .await;
}

#[tokio::test]
async fn stdio_bad_arguments_are_tool_errors_the_model_can_read() {
    within(async {
        for lifecycle in BOTH {
            let client = stdio_client(TestClient::accepting(), lifecycle).await;
            let not_a_number = call(&client, "add", json!({ "a": "two", "b": 3 })).await;
            assert!(is_error(&not_a_number), "{not_a_number:?}");
            assert!(
                text(&not_a_number).contains("invalid type: string \"two\""),
                "{}",
                text(&not_a_number)
            );
            let missing = call(&client, "add", json!({ "a": 1 })).await;
            assert!(is_error(&missing), "{missing:?}");
            assert!(
                text(&missing).contains("missing field `b`"),
                "{}",
                text(&missing)
            );
            client.cancel().await.expect("close the client");
        }
    })
    .await;
}

#[tokio::test]
async fn stdio_wrong_requests_are_protocol_errors() {
    within(async {
        for lifecycle in BOTH {
            let client = stdio_client(TestClient::accepting(), lifecycle).await;
            let unknown = client
                .call_tool(CallToolRequestParams::new("no_such_tool"))
                .await;
            match unknown {
                Err(ServiceError::McpError(error)) => {
                    assert_eq!(error.code, ErrorCode::INVALID_PARAMS, "{error:?}");
                    assert!(error.message.contains("tool not found"), "{error:?}");
                }
                other => panic!("an unknown tool must be a protocol error, got {other:?}"),
            }
            // The hidden extra tool is unknown until toggled on.
            let hidden = client
                .call_tool(CallToolRequestParams::new(EXTRA_TOOL))
                .await;
            assert!(
                matches!(hidden, Err(ServiceError::McpError(_))),
                "{hidden:?}"
            );

            let prompt = client
                .get_prompt(GetPromptRequestParams::new("no_such_prompt"))
                .await;
            assert!(
                matches!(prompt, Err(ServiceError::McpError(_))),
                "{prompt:?}"
            );
            let resource = client
                .read_resource(ReadResourceRequestParams::new("test://nothing"))
                .await;
            assert!(
                matches!(resource, Err(ServiceError::McpError(_))),
                "{resource:?}"
            );
            // The server is still fine afterwards.
            assert_eq!(
                text(&call(&client, "echo", json!({ "text": "ok" })).await),
                "ok"
            );
            client.cancel().await.expect("close the client");
        }
    })
    .await;
}

#[tokio::test]
async fn stdio_image_is_a_small_png() {
    within(async {
        let client = stdio_client(TestClient::accepting(), Lifecycle::Initialize).await;
        let result = call(&client, "image", json!({})).await;
        assert!(!is_error(&result));
        let image = result
            .content
            .iter()
            .find_map(|block| block.as_image())
            .expect("image content");
        assert_eq!(image.mime_type, "image/png");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&image.data)
            .expect("base64 data");
        assert_eq!(bytes, TEST_PNG);
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&bytes[12..16], b"IHDR");
        assert_eq!(&bytes[16..24], &[0, 0, 0, 2, 0, 0, 0, 2], "2x2 pixels");
        client.cancel().await.expect("close the client");
    })
    .await;
}

#[tokio::test]
async fn stdio_large_output_has_the_requested_size() {
    within(async {
        let client = stdio_client(TestClient::accepting(), Lifecycle::Initialize).await;
        let default = call(&client, "large_output", json!({})).await;
        assert!(!is_error(&default));
        assert_eq!(text(&default).len(), DEFAULT_LARGE_OUTPUT_SIZE);
        let small = call(&client, "large_output", json!({ "size": 1000 })).await;
        assert_eq!(text(&small).len(), 1000);
        assert!(text(&small).is_ascii());
        let too_big = call(&client, "large_output", json!({ "size": 1u64 << 40 })).await;
        assert!(is_error(&too_big), "{too_big:?}");
        client.cancel().await.expect("close the client");
    })
    .await;
}

#[tokio::test]
async fn stdio_progress_notifications_reach_the_client() {
    within(async {
        for lifecycle in BOTH {
            let handler = TestClient::accepting();
            let client = stdio_client(handler.clone(), lifecycle).await;
            let result = call(&client, "progress", json!({ "steps": 4, "delay_ms": 5 })).await;
            assert!(!is_error(&result), "{result:?}");
            assert!(
                text(&result).contains("sent 4 progress notifications"),
                "{}",
                text(&result)
            );
            eventually("four progress notifications arrived", || {
                handler.progress().len() >= 4
            })
            .await;
            let progress = handler.progress();
            assert_eq!(progress.len(), 4, "{lifecycle:?}: {progress:?}");
            let steps: Vec<f64> = progress.iter().map(|p| p.progress).collect();
            assert_eq!(steps, [1.0, 2.0, 3.0, 4.0]);
            assert!(progress.iter().all(|p| p.total == Some(4.0)));
            assert!(
                progress
                    .iter()
                    .all(|p| p.progress_token == progress[0].progress_token),
                "one call, one token"
            );
            client.cancel().await.expect("close the client");
        }
    })
    .await;
}

#[tokio::test]
async fn stdio_ask_returns_the_users_answer() {
    within(async {
        for lifecycle in BOTH {
            let client = stdio_client(TestClient::accepting(), lifecycle).await;
            let result = call(&client, "ask", json!({ "question": "Who are you?" })).await;
            assert!(!is_error(&result), "{lifecycle:?}: {result:?}");
            assert_eq!(text(&result), "the user answered: Ferris", "{lifecycle:?}");
            client.cancel().await.expect("close the client");
        }
    })
    .await;
}

/// On 2026-07-28 `ask` is a multi round-trip request: the first answer is an
/// `InputRequiredResult` holding the elicitation, and the retry carries the user's answer.
#[tokio::test]
async fn stdio_ask_on_2026_07_28_uses_input_required_rounds() {
    within(async {
        let client = stdio_client(TestClient::accepting(), Lifecycle::Auto).await;
        let first = client
            .call_tool_once(CallToolRequestParams::new("ask"))
            .await
            .expect("first round");
        let CallToolResponse::InputRequired(input) = first else {
            panic!("expected input_required, got {first:?}");
        };
        let requests = input.input_requests.expect("input requests");
        let (key, request) = requests.iter().next().expect("one input request");
        let InputRequest::Elicitation(elicitation) = request else {
            panic!("expected an elicitation, got {request:?}");
        };
        let ElicitRequestParams::FormElicitationParams {
            requested_schema, ..
        } = &elicitation.params
        else {
            panic!("expected a form");
        };
        assert!(requested_schema.properties.contains_key("name"));

        let mut responses = std::collections::BTreeMap::new();
        responses.insert(
            key.clone(),
            json!({ "action": "accept", "content": { "name": "Grace" } }),
        );
        let mut retry = CallToolRequestParams::new("ask").with_input_responses(responses);
        if let Some(state) = input.request_state {
            retry = retry.with_request_state(state);
        }
        let second = client.call_tool_once(retry).await.expect("second round");
        let CallToolResponse::Complete(result) = second else {
            panic!("expected a final result, got {second:?}");
        };
        assert_eq!(text(&result), "the user answered: Grace");
        client.cancel().await.expect("close the client");

        // On the initialize lifecycle the same call completes in one round (the server asked
        // the client with an elicitation/create request instead).
        let client = stdio_client(TestClient::accepting(), Lifecycle::Initialize).await;
        let once = client
            .call_tool_once(CallToolRequestParams::new("ask"))
            .await
            .expect("one round");
        assert!(matches!(once, CallToolResponse::Complete(_)), "{once:?}");
        client.cancel().await.expect("close the client");
    })
    .await;
}

#[tokio::test]
async fn stdio_ask_reports_a_decline() {
    within(async {
        for lifecycle in BOTH {
            let client = stdio_client(TestClient::declining(), lifecycle).await;
            let result = call(&client, "ask", json!({})).await;
            assert!(!is_error(&result), "{lifecycle:?}: {result:?}");
            assert_eq!(
                text(&result),
                "the user declined to answer",
                "{lifecycle:?}"
            );
            client.cancel().await.expect("close the client");
        }
    })
    .await;
}

#[tokio::test]
async fn stdio_ask_without_the_elicitation_capability_is_a_tool_error() {
    within(async {
        for lifecycle in BOTH {
            let client = stdio_client(TestClient::without_elicitation(), lifecycle).await;
            let result = call(&client, "ask", json!({})).await;
            assert!(is_error(&result), "{lifecycle:?}: {result:?}");
            assert!(
                text(&result).contains("elicitation capability"),
                "{}",
                text(&result)
            );
            client.cancel().await.expect("close the client");
        }
    })
    .await;
}

#[tokio::test]
async fn stdio_prompt_and_resources() {
    within(async {
        for lifecycle in BOTH {
            let client = stdio_client(TestClient::accepting(), lifecycle).await;
            let prompt = client
                .get_prompt(
                    GetPromptRequestParams::new("greet")
                        .with_arguments(arguments(json!({ "name": "Ada" }))),
                )
                .await
                .expect("get the greet prompt");
            let message = serde_json::to_value(&prompt.messages).expect("messages");
            assert_eq!(message[0]["role"], "user", "{message}");
            assert!(
                message[0]["content"]["text"]
                    .as_str()
                    .is_some_and(|text| text.contains("Ada")),
                "{message}"
            );

            for (uri, expected) in [(README_URI, README_TEXT), ("test://echo/hello", "hello")] {
                let read = client
                    .read_resource(ReadResourceRequestParams::new(uri))
                    .await
                    .unwrap_or_else(|error| panic!("read {uri}: {error}"));
                match &read.contents[..] {
                    [ResourceContents::TextResourceContents { text, uri: got, .. }] => {
                        assert_eq!(text, expected);
                        assert_eq!(got, uri);
                    }
                    other => panic!("expected one text content, got {other:?}"),
                }
            }
            client.cancel().await.expect("close the client");
        }
    })
    .await;
}

#[tokio::test]
async fn stdio_crash_ends_the_connection() {
    within(async {
        let client = stdio_client(TestClient::accepting(), Lifecycle::Initialize).await;
        let crashed = client.call_tool(CallToolRequestParams::new("crash")).await;
        assert!(crashed.is_err(), "a crash gives no answer: {crashed:?}");
        let reason = client.waiting().await.expect("the client task ends");
        assert!(matches!(reason, QuitReason::Closed), "{reason:?}");
    })
    .await;
}

#[tokio::test]
async fn stdio_sleep_finishes() {
    within(async {
        let client = stdio_client(TestClient::accepting(), Lifecycle::Auto).await;
        let result = call(&client, "sleep", json!({ "ms": 20 })).await;
        assert_eq!(text(&result), "slept 20 ms");
        client.cancel().await.expect("close the client");
    })
    .await;
}

/// Speaks raw newline-delimited JSON-RPC to the binary: every stdout line must be a JSON-RPC
/// message (logs go to stderr), and `crash` exits with status 3.
#[tokio::test]
async fn stdio_stdout_carries_only_json_rpc_and_crash_exits_with_status_3() {
    within(async {
        let mut process = tokio::process::Command::new(BINARY)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the binary");
        let mut stdin = process.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(process.stdout.take().expect("stdout")).lines();
        let stderr = process.stderr.take().expect("stderr");
        let stderr = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut all = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                all.push(line);
            }
            all
        });

        let messages = [
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"}}}),
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "raw"}}}),
        ];
        for message in &messages {
            stdin
                .write_all(format!("{message}\n").as_bytes())
                .await
                .expect("write");
        }
        let mut lines = Vec::new();
        while lines.len() < 2 {
            let line = stdout.next_line().await.expect("read").expect("a line");
            lines.push(line);
        }
        let crash = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "crash"}});
        stdin
            .write_all(format!("{crash}\n").as_bytes())
            .await
            .expect("write");
        while let Some(line) = stdout.next_line().await.expect("read") {
            lines.push(line);
        }
        let status = process.wait().await.expect("exit status");
        assert_eq!(status.code(), Some(3), "crash exits with status 3");

        let parsed: Vec<Value> = lines
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("stdout line {line:?} is not JSON: {error}"))
            })
            .collect();
        assert!(parsed.iter().all(|message| message["jsonrpc"] == "2.0"));
        assert_eq!(parsed[0]["id"], 1);
        assert_eq!(parsed[0]["result"]["protocolVersion"], "2025-11-25");
        assert_eq!(parsed[1]["id"], 2);
        assert_eq!(parsed[1]["result"]["content"][0]["text"], "raw");
        assert!(
            parsed.iter().all(|message| message["id"] != 3),
            "no answer to crash"
        );
        let stderr = stderr.await.expect("stderr reader");
        assert!(
            stderr
                .iter()
                .any(|line| line.contains("crashing on purpose")),
            "logs go to stderr: {stderr:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn env_dump_and_env_tool_show_only_the_environment_given() {
    within(async {
        let output = tokio::process::Command::new(BINARY)
            .arg("--env-dump")
            .env_clear()
            .env("MCPCORD_PROBE", "1")
            .output()
            .await
            .expect("run --env-dump");
        assert!(output.status.success());
        let names: Vec<String> = serde_json::from_slice(&output.stdout).expect("a JSON array");
        assert_eq!(names, ["MCPCORD_PROBE"]);

        let transport = child_with(&[], |command| {
            command
                .env_clear()
                .env("MCPCORD_PROBE", "1")
                .env("OTHER", "2");
        });
        let client = connect(TestClient::accepting(), transport, Lifecycle::Auto).await;
        let result = call(&client, "env", json!({})).await;
        let names: Vec<String> = serde_json::from_str(&text(&result)).expect("a JSON array");
        assert_eq!(names, ["MCPCORD_PROBE", "OTHER"]);
        client.cancel().await.expect("close the client");
    })
    .await;
}

// ----------------------------------------------------------------------------------------------
// Streamable HTTP
// ----------------------------------------------------------------------------------------------

/// The binary serving Streamable HTTP; killed when dropped.
struct HttpChild {
    _process: tokio::process::Child,
    url: String,
}

async fn http_child(extra: &[&str]) -> HttpChild {
    let mut process = tokio::process::Command::new(BINARY)
        .args(["--transport", "http", "--port", "0"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the binary");
    let stdout = process.stdout.take().expect("stdout");
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .expect("read stdout")
        .expect("the binary prints its address");
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
        "{url}"
    );
    HttpChild {
        _process: process,
        url,
    }
}

fn http_transport(url: &str) -> StreamableHttpClientTransport<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    StreamableHttpClientTransport::from_uri(url.to_owned())
}

#[tokio::test]
async fn http_binary_serves_both_lifecycles() {
    within(async {
        let server = http_child(&[]).await;
        for (lifecycle, version) in [
            (Lifecycle::Initialize, ProtocolVersion::V_2025_11_25),
            (Lifecycle::Auto, ProtocolVersion::V_2026_07_28),
        ] {
            let handler = TestClient::accepting();
            let client = connect(handler.clone(), http_transport(&server.url), lifecycle).await;
            assert_eq!(negotiated(&client), version, "{lifecycle:?}");
            assert_eq!(tool_names(&client).await, ALL_TOOLS, "{lifecycle:?}");
            let echo = call(&client, "echo", json!({ "text": "over http" })).await;
            assert_eq!(text(&echo), "over http");
            let ask = call(&client, "ask", json!({})).await;
            assert_eq!(text(&ask), "the user answered: Ferris", "{lifecycle:?}");
            let progress = call(&client, "progress", json!({ "steps": 3, "delay_ms": 5 })).await;
            assert!(!is_error(&progress), "{progress:?}");
            eventually("three progress notifications arrived over http", || {
                handler.progress().len() >= 3
            })
            .await;
            client.cancel().await.expect("close the client");
        }
    })
    .await;
}

#[tokio::test]
async fn http_binary_in_legacy_mode_is_reached_by_fallback() {
    within(async {
        let server = http_child(&["--legacy"]).await;
        let client = connect(
            TestClient::accepting(),
            http_transport(&server.url),
            Lifecycle::Auto,
        )
        .await;
        assert_eq!(negotiated(&client), ProtocolVersion::V_2025_11_25);
        let sum = call(&client, "add", json!({ "a": 1, "b": 2 })).await;
        assert_eq!(text(&sum), "3");
        client.cancel().await.expect("close the client");
    })
    .await;
}

#[tokio::test]
async fn http_library_server_serves_in_process() {
    within(async {
        let handle = mcp_server::serve_http(TestMcpServer::new(), ([127, 0, 0, 1], 0).into())
            .await
            .expect("bind");
        assert!(handle.url().starts_with("http://127.0.0.1:"));
        let client = connect(
            TestClient::accepting(),
            http_transport(&handle.url()),
            Lifecycle::Auto,
        )
        .await;
        let echo = call(&client, "echo", json!({ "text": "library" })).await;
        assert_eq!(text(&echo), "library");
        client.cancel().await.expect("close the client");
        handle.shutdown().await.expect("shut the server down");
    })
    .await;
}

// ----------------------------------------------------------------------------------------------
// In-process, over a duplex pipe
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn in_process_cancellation_reaches_the_tool() {
    within(async {
        for lifecycle in BOTH {
            let server = TestMcpServer::new();
            let pipe = mcp_server::serve_in_process(server.clone());
            let client = connect(TestClient::accepting(), pipe, lifecycle).await;
            let request = ClientRequest::CallToolRequest(Request::new(
                CallToolRequestParams::new("sleep")
                    .with_arguments(arguments(json!({ "ms": 60_000 }))),
            ));
            let handle = client
                .send_cancellable_request(request, PeerRequestOptions::no_options())
                .await
                .expect("send the call");
            tokio::time::sleep(Duration::from_millis(50)).await;
            handle
                .cancel(Some("the user pressed stop".to_owned()))
                .await
                .expect("cancel the call");
            eventually("the server saw the cancellation", || {
                server.cancelled_calls() == 1
            })
            .await;
            client.cancel().await.expect("close the client");
        }
    })
    .await;
}

#[tokio::test]
async fn in_process_crash_is_refused() {
    within(async {
        let client = connect(
            TestClient::accepting(),
            mcp_server::serve_in_process(TestMcpServer::new()),
            Lifecycle::Initialize,
        )
        .await;
        let result = call(&client, "crash", json!({})).await;
        assert!(is_error(&result), "{result:?}");
        assert_eq!(
            text(&call(&client, "echo", json!({ "text": "alive" })).await),
            "alive"
        );
        client.cancel().await.expect("close the client");
    })
    .await;
}

#[tokio::test]
async fn in_process_toggle_extra_notifies_initialize_clients() {
    within(async {
        let server = TestMcpServer::new();
        let handler = TestClient::accepting();
        let client = connect(
            handler.clone(),
            mcp_server::serve_in_process(server.clone()),
            Lifecycle::Initialize,
        )
        .await;
        assert!(!tool_names(&client).await.contains(&EXTRA_TOOL.to_owned()));

        let added = call(&client, "toggle_extra", json!({})).await;
        assert_eq!(text(&added), "tool `extra` added");
        assert!(server.extra_tool_enabled());
        eventually("tools/list_changed arrived", || {
            handler.tool_list_changes() == 1
        })
        .await;
        assert!(tool_names(&client).await.contains(&EXTRA_TOOL.to_owned()));
        assert_eq!(
            text(&call(&client, EXTRA_TOOL, json!({})).await),
            "tool `extra` answered"
        );

        call(&client, "toggle_extra", json!({})).await;
        eventually("the second tools/list_changed arrived", || {
            handler.tool_list_changes() == 2
        })
        .await;
        assert_eq!(tool_names(&client).await, ALL_TOOLS);
        client.cancel().await.expect("close the client");
    })
    .await;
}

#[tokio::test]
async fn in_process_toggle_extra_notifies_2026_subscribers() {
    within(async {
        let client = connect(
            TestClient::accepting(),
            mcp_server::serve_in_process(TestMcpServer::new()),
            Lifecycle::Auto,
        )
        .await;
        assert_eq!(negotiated(&client), ProtocolVersion::V_2026_07_28);
        let mut subscription = client
            .listen(SubscriptionFilter::builder().tools_list_changed().build())
            .await
            .expect("open a subscription");
        assert_eq!(subscription.acknowledged().tools_list_changed, Some(true));

        call(&client, "toggle_extra", json!({})).await;
        let notification = subscription
            .next()
            .await
            .expect("the subscription stays open")
            .expect("a notification");
        assert!(
            matches!(
                notification,
                ServerNotification::ToolListChangedNotification(_)
            ),
            "{notification:?}"
        );
        assert!(tool_names(&client).await.contains(&EXTRA_TOOL.to_owned()));
        subscription.cancel().await.expect("close the subscription");
        client.cancel().await.expect("close the client");
    })
    .await;
}

// ----------------------------------------------------------------------------------------------
// Library helpers
// ----------------------------------------------------------------------------------------------

#[test]
fn test_mcp_binary_finds_the_built_binary() {
    let found = mcp_server::test_mcp_binary();
    assert_eq!(
        found.canonicalize().expect("found path exists"),
        std::path::Path::new(BINARY)
            .canonicalize()
            .expect("cargo's path exists")
    );
}

#[test]
fn command_line_flags() {
    let parse = |args: &[&str]| parse_args(args.iter().map(|arg| (*arg).to_owned()));
    assert_eq!(
        parse(&[]),
        Ok(Command::Serve {
            transport: Transport::Stdio,
            discover: DiscoverReply::Answer
        })
    );
    assert_eq!(
        parse(&["--transport", "http", "--port", "8123", "--legacy"]),
        Ok(Command::Serve {
            transport: Transport::Http { port: 8123 },
            discover: DiscoverReply::MethodNotFound
        })
    );
    assert_eq!(
        parse(&["--transport=http"]),
        Ok(Command::Serve {
            transport: Transport::Http { port: 0 },
            discover: DiscoverReply::Answer
        })
    );
    assert_eq!(
        parse(&["--discover", "empty"]),
        Ok(Command::Serve {
            transport: Transport::Stdio,
            discover: DiscoverReply::Empty
        })
    );
    assert_eq!(
        parse(&["--discover=never"]),
        Ok(Command::Serve {
            transport: Transport::Stdio,
            discover: DiscoverReply::Never
        })
    );
    assert!(parse(&["--discover", "sometimes"]).is_err());
    assert_eq!(parse(&["--env-dump"]), Ok(Command::EnvDump));
    assert_eq!(parse(&["--help"]), Ok(Command::Help));
    assert!(parse(&["--transport", "carrier-pigeon"]).is_err());
    assert!(parse(&["--port", "80"]).is_err(), "--port needs http");
    assert!(parse(&["--port"]).is_err());
    assert!(parse(&["--verbose"]).is_err());
}
