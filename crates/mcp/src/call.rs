//! One request on one connection, raced against a timeout that progress resets, the caller's
//! cancellation token and the end of the connection. Timeout and cancellation send
//! `notifications/cancelled` to the server. Tool calls on 2026-07-28 servers may come back as
//! `input_required`: the questions go to the call's input handler (or the host's) and the call
//! is sent again with the answers.

#![allow(deprecated)] // ListRootsResult (roots) is deprecated by SEP-2577; its empty answer is not.

use std::sync::Arc;
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::ServiceError;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientRequest, InputRequest,
    InputRequiredResult, InputResponses, JsonObject, ListRootsResult, ProgressNotificationParam,
    ServerResult,
};
use rmcp::service::{PeerRequestOptions, RequestHandle};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::callbacks::{Approver, InputHandler};
use crate::connection::Connection;
use crate::error::HostError;

/// Rounds of `input_required` answered before the call is given up.
const MAX_INPUT_ROUNDS: usize = 8;
/// Longest wait for `notifications/cancelled` to be handed to the transport.
const CANCEL_SEND_TIMEOUT: Duration = Duration::from_secs(2);

/// A progress notification of a running call (drives "running…" in Discord).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolProgress {
    /// Progress so far (increases with each notification).
    pub progress: f64,
    /// The total, when the server knows it.
    pub total: Option<f64>,
    /// The server's words, when given.
    pub message: Option<String>,
}

/// How one call is made; everything is optional.
#[derive(Clone, Default)]
pub struct CallOptions {
    /// Cancelled when the user stops the turn: the call ends and the server is told.
    pub cancel: CancellationToken,
    /// Where progress notifications go.
    pub progress: Option<mpsc::UnboundedSender<ToolProgress>>,
    /// Approves this call when its policy is `ask` (instead of the host's approver).
    pub approver: Option<Arc<dyn Approver>>,
    /// Answers input requests arising from this call (instead of the host's handler).
    pub input: Option<Arc<dyn InputHandler>>,
    /// Overrides the server's call timeout (time without answer or progress).
    pub timeout: Option<Duration>,
}

impl CallOptions {
    /// Builder: the cancellation token.
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Builder: the progress sink.
    pub fn with_progress(mut self, sink: mpsc::UnboundedSender<ToolProgress>) -> Self {
        self.progress = Some(sink);
        self
    }

    /// Builder: the approver for this call.
    pub fn with_approver(mut self, approver: impl Approver) -> Self {
        self.approver = Some(Arc::new(approver));
        self
    }

    /// Builder: the input handler for this call.
    pub fn with_input(mut self, input: impl InputHandler) -> Self {
        self.input = Some(Arc::new(input));
        self
    }

    /// Builder: the timeout for this call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field("cancelled", &self.cancel.is_cancelled())
            .field("progress", &self.progress.is_some())
            .field("approver", &self.approver.is_some())
            .field("input", &self.input.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Calls `tool` on `connection`, answering `input_required` rounds.
pub(crate) async fn call_tool(
    connection: &Connection,
    tool: &str,
    arguments: Option<JsonObject>,
    options: &CallOptions,
    timeout: Duration,
) -> Result<CallToolResult, HostError> {
    let _call = connection.client.routes.begin_call(options.input.clone());
    let mut params = CallToolRequestParams::new(tool.to_owned());
    params.arguments = arguments;
    for _ in 0..MAX_INPUT_ROUNDS {
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params.clone()));
        let input = match exchange(connection, request, options, timeout).await? {
            ServerResult::InputRequiredResult(input) => input,
            other => return call_result(connection, other),
        };
        let (responses, state) = tokio::select! {
            answers = answer_inputs(connection, input, options) => answers?,
            () = options.cancel.cancelled() => return Err(HostError::Cancelled),
        };
        params.input_responses = responses;
        params.request_state = state;
    }
    Err(protocol(
        connection,
        "the server kept asking for input without finishing the call",
    ))
}

/// The final answer to a tool call, read as a call result.
fn call_result(connection: &Connection, result: ServerResult) -> Result<CallToolResult, HostError> {
    match result {
        ServerResult::CallToolResult(result) => Ok(result),
        ServerResult::CreateTaskResult(_) => Err(protocol(
            connection,
            "the server answered with a task, which mcpcord does not follow",
        )),
        ServerResult::EmptyResult(_) => Ok(CallToolResult::success(Vec::new())),
        // An untagged result that matched another shape first: read it again as a call result.
        other => serde_json::to_value(&other)
            .ok()
            .and_then(|value| serde_json::from_value::<CallToolResult>(value).ok())
            .ok_or_else(|| protocol(connection, "the answer is not a tool result")),
    }
}

/// Sends one request and waits for its answer; see the module docs.
pub(crate) async fn exchange(
    connection: &Connection,
    request: ClientRequest,
    options: &CallOptions,
    timeout: Duration,
) -> Result<ServerResult, HostError> {
    if options.cancel.is_cancelled() {
        return Err(HostError::Cancelled);
    }
    let mut handle = connection
        .peer
        .send_request_with_option(request, PeerRequestOptions::no_options())
        .await
        .map_err(|error| service_error(connection, error))?;
    let routes = &connection.client.routes;
    let token = handle.progress_token.clone();
    let (progress_tx, progress_rx) = mpsc::unbounded_channel::<ProgressNotificationParam>();
    routes.route_progress(token.clone(), progress_tx);
    let outcome = wait_for_answer(connection, &mut handle, progress_rx, options, timeout).await;
    routes.unroute_progress(&token);
    conclude(connection, handle, outcome, timeout).await
}

/// Waits for the answer, the caller's cancellation, the connection's end or the timeout, which
/// progress resets (and which does not run out while a person is being asked something for
/// this server); forwards progress to the caller.
async fn wait_for_answer(
    connection: &Connection,
    handle: &mut RequestHandle<RoleClient>,
    mut progress_rx: mpsc::UnboundedReceiver<ProgressNotificationParam>,
    options: &CallOptions,
    timeout: Duration,
) -> Outcome {
    let routes = &connection.client.routes;
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            biased;
            response = &mut handle.rx => return Outcome::Answered(Box::new(response)),
            () = options.cancel.cancelled() => return Outcome::Cancelled,
            () = connection.closed() => return Outcome::Closed,
            Some(progress) = progress_rx.recv() => {
                deadline.as_mut().reset(Instant::now() + timeout);
                forward_progress(options, progress);
            }
            () = &mut deadline => {
                if !routes.awaiting_user() {
                    return Outcome::TimedOut;
                }
                // A person is being asked something for this server: not the server's fault.
                deadline.as_mut().reset(Instant::now() + timeout);
            }
        }
    }
}

/// Passes a progress notification to the caller's sink, if any.
fn forward_progress(options: &CallOptions, progress: ProgressNotificationParam) {
    if let Some(sink) = &options.progress {
        let _ = sink.send(ToolProgress {
            progress: progress.progress,
            total: progress.total,
            message: progress.message,
        });
    }
}

/// The result of a request by how the wait ended; a cancelled or timed-out request is
/// cancelled on the server too.
async fn conclude(
    connection: &Connection,
    handle: RequestHandle<RoleClient>,
    outcome: Outcome,
    timeout: Duration,
) -> Result<ServerResult, HostError> {
    match outcome {
        Outcome::Answered(answer) => answered(connection, *answer),
        Outcome::Closed => Err(HostError::ConnectionLost {
            server: connection.server.to_string(),
        }),
        Outcome::Cancelled => {
            let reason = Some("stopped by the user".to_owned());
            let _ = tokio::time::timeout(CANCEL_SEND_TIMEOUT, handle.cancel(reason)).await;
            Err(HostError::Cancelled)
        }
        Outcome::TimedOut => {
            let reason = Some(format!(
                "no answer within {}",
                crate::error::humanize(timeout)
            ));
            let _ = tokio::time::timeout(CANCEL_SEND_TIMEOUT, handle.cancel(reason)).await;
            Err(HostError::Timeout { after: timeout })
        }
    }
}

/// What an answer (or its dropped channel, when the session ended) means for the caller.
fn answered(connection: &Connection, answer: Answer) -> Result<ServerResult, HostError> {
    match answer {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(error)) => Err(service_error(connection, error)),
        Err(_) => Err(HostError::ConnectionLost {
            server: connection.server.to_string(),
        }),
    }
}

/// An answer as rmcp delivers it.
type Answer = Result<Result<ServerResult, ServiceError>, tokio::sync::oneshot::error::RecvError>;

enum Outcome {
    Answered(Box<Answer>),
    Cancelled,
    Closed,
    TimedOut,
}

/// Answers the questions of an `input_required` result.
async fn answer_inputs(
    connection: &Connection,
    input: InputRequiredResult,
    options: &CallOptions,
) -> Result<(Option<InputResponses>, Option<String>), HostError> {
    let requests = input.input_requests.unwrap_or_default();
    if requests.is_empty() {
        if input.request_state.is_none() {
            return Err(protocol(
                connection,
                "input_required without questions or state",
            ));
        }
        // State only: the server wants the same request again shortly.
        tokio::time::sleep(Duration::from_millis(100)).await;
        return Ok((None, input.request_state));
    }
    let mut responses = InputResponses::new();
    for (key, request) in requests {
        let value = answer_input(connection, request, options).await?;
        responses.insert(key, value);
    }
    Ok((Some(responses), input.request_state))
}

/// Answers one question: a form or URL (the caller's input handler), a completion (the
/// sampler) or the roots (none).
async fn answer_input(
    connection: &Connection,
    request: InputRequest,
    options: &CallOptions,
) -> Result<serde_json::Value, HostError> {
    let client = &connection.client;
    let value = match request {
        InputRequest::Elicitation(request) => {
            let answer = client
                .answer_elicitation(request.params, options.input.clone())
                .await;
            serde_json::to_value(answer)
        }
        InputRequest::CreateMessage(request) => {
            let answer = client
                .answer_sampling(request.params)
                .await
                .map_err(|error| protocol(connection, &error.message))?;
            serde_json::to_value(answer)
        }
        InputRequest::ListRoots(_) => serde_json::to_value(ListRootsResult::default()),
        _ => {
            return Err(protocol(
                connection,
                "the server asked for an unknown kind of input",
            ));
        }
    };
    value.map_err(|error| protocol(connection, &error.to_string()))
}

fn protocol(connection: &Connection, message: &str) -> HostError {
    HostError::Protocol {
        server: connection.server.to_string(),
        message: message.to_owned(),
    }
}

/// rmcp's request errors, as the host names them.
pub(crate) fn service_error(connection: &Connection, error: ServiceError) -> HostError {
    let server = connection.server.to_string();
    match error {
        ServiceError::McpError(error) => HostError::Protocol {
            server,
            message: error.message.to_string(),
        },
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
            HostError::ConnectionLost { server }
        }
        ServiceError::Timeout { timeout } => HostError::Timeout { after: timeout },
        ServiceError::Cancelled { .. } => HostError::Cancelled,
        other => HostError::Protocol {
            server,
            message: other.to_string(),
        },
    }
}
