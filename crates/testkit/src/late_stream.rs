//! A Streamable HTTP MCP server (2025-11-25, one session) whose only tool asks for input on
//! the session's standalone stream (the GET), not on the tool call's own response, and whose
//! GET is answered only after a delay: what the TypeScript SDK's `server.request(…)` does,
//! and what a loaded machine looks like to it. Like that SDK, a request with no standalone
//! stream open is dropped; unlike it, the tool then says so at once (an `isError` result)
//! instead of leaving the call to time out, so a test sees why.
//!
//! Written by hand on axum (rmcp's server sends a request made inside a tool call on that
//! call's own response stream, so it cannot show this).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::{CancellationToken, DropGuard};

/// The session id the server gives.
const SESSION: &str = "late-stream-session";
/// The tool that asks.
pub const ASK_TOOL: &str = "ask_on_stream";
/// The id of the server's input request.
const ASK_ID: &str = "ask-1";

/// What the server holds between requests.
#[derive(Default)]
struct Session {
    /// The standalone stream, once its GET was answered.
    stream: Option<mpsc::UnboundedSender<Bytes>>,
    /// Where the client's answer to the input request goes.
    answer: Option<oneshot::Sender<Value>>,
}

#[derive(Clone)]
struct Shared {
    session: Arc<Mutex<Session>>,
    get_delay: Duration,
}

impl Shared {
    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running server; dropping it stops it.
pub struct LateStreamServer {
    addr: SocketAddr,
    _stop: DropGuard,
}

impl LateStreamServer {
    /// Starts the server on a free loopback port; its GET is answered after `get_delay`.
    pub async fn start(get_delay: Duration) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Shared {
            session: Arc::default(),
            get_delay,
        };
        let router = axum::Router::new()
            .route("/mcp", post(posted).get(standalone).delete(ended))
            .with_state(shared);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await
        });
        Ok(Self {
            addr,
            _stop: stop.drop_guard(),
        })
    }

    /// The URL of the MCP endpoint.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }
}

/// A JSON-RPC message from the client.
async fn posted(State(shared): State<Shared>, Json(message): Json<Value>) -> Response {
    let id = message.get("id").cloned();
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        // The client's answer to the input request.
        if let Some(answer) = shared.session().answer.take() {
            let _ = answer.send(message.get("result").cloned().unwrap_or_default());
        }
        return StatusCode::ACCEPTED.into_response();
    };
    let Some(id) = id else {
        return StatusCode::ACCEPTED.into_response();
    };
    let result = match method {
        "initialize" => json!({
            "protocolVersion": "2025-11-25",
            "capabilities": { "tools": {} },
            "serverInfo": { "name": "late-stream", "version": "1.0.0" },
        }),
        "tools/list" => json!({ "tools": [{
            "name": ASK_TOOL,
            "description": "asks for input on the standalone stream",
            "inputSchema": { "type": "object", "properties": {} },
        }]}),
        "tools/call" => ask(&shared).await,
        "ping" => json!({}),
        _ => {
            let error = json!({ "code": -32601, "message": format!("no method {method}") });
            return Json(json!({ "jsonrpc": "2.0", "id": id, "error": error })).into_response();
        }
    };
    reply(json!({ "jsonrpc": "2.0", "id": id, "result": result }))
}

/// Sends the input request on the standalone stream and waits for its answer; an `isError`
/// result when the stream is not open (the request would be dropped).
async fn ask(shared: &Shared) -> Value {
    let request = json!({
        "jsonrpc": "2.0",
        "id": ASK_ID,
        "method": "elicitation/create",
        "params": {
            "message": "your name?",
            "requestedSchema": {
                "type": "object",
                "properties": { "name": { "type": "string", "default": "Ada" } },
            },
        },
    });
    let (answer, answered) = oneshot::channel();
    let sent = {
        let mut session = shared.session();
        session.answer = Some(answer);
        let event = Bytes::from(format!("event: message\ndata: {request}\n\n"));
        session
            .stream
            .as_ref()
            .is_some_and(|stream| stream.send(event).is_ok())
    };
    if !sent {
        return tool_result("dropped: the standalone stream was not open", true);
    }
    match tokio::time::timeout(Duration::from_secs(20), answered).await {
        Ok(Ok(result)) => tool_result(&format!("answered: {result}"), false),
        _ => tool_result("no answer to the input request", true),
    }
}

fn tool_result(text: &str, is_error: bool) -> Value {
    json!({ "content": [{ "type": "text", "text": text }], "isError": is_error })
}

/// A JSON answer in the session.
fn reply(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert("mcp-session-id", SESSION.parse().expect("a header value"));
    response
}

/// The standalone stream: opened (and answered) only after the delay.
async fn standalone(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) != Some(SESSION) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    tokio::time::sleep(shared.get_delay).await;
    let (sender, events) = mpsc::unbounded_channel::<Bytes>();
    shared.session().stream = Some(sender);
    let body = futures::stream::unfold(events, |mut events| async move {
        let event = events.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(event), events))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header("mcp-session-id", SESSION)
        .body(Body::from_stream(body))
        .expect("a response")
}

/// The client ends the session.
async fn ended() -> StatusCode {
    StatusCode::OK
}
