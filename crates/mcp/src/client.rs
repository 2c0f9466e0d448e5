//! The host's side of one connection (rmcp's `ClientHandler`): the capabilities it declares,
//! server requests it answers (elicitation → the engine's [`InputHandler`], sampling → the
//! engine's [`Sampler`] when allowed), and notifications it routes (progress → the call that
//! owns the token, tool list changes → a catalogue refresh).
//!
//! Input requests on the `initialize` lifecycle arrive outside any call; they go to the handler
//! of the call in flight when exactly one is, else to the host's. On 2026-07-28 they arrive
//! inside a call's result ([`crate::call`]) and go to that call's handler.

#![allow(deprecated)] // Sampling is deprecated by SEP-2577, yet older servers still ask for it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::model::{
    ClientCapabilities, ClientConfig, CreateMessageRequestParams, CreateMessageResult,
    ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationCapability, ErrorCode,
    FormElicitationCapability, Implementation, ProgressNotificationParam, ProgressToken,
    ProtocolVersion, Role, SamplingCapability, SamplingContent,
    SamplingMessage as RmcpSamplingMessage, SamplingMessageContentBlock, UrlElicitationCapability,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ClientHandler, ErrorData, Peer, RoleClient};
use tokio::sync::mpsc;

use crate::auth::server::ServerAuth;
use crate::callbacks::{
    Callbacks, InputAnswer, InputHandler, InputMode, InputRequest, SamplingMessage,
    SamplingRequest, SamplingRole,
};

/// Called with the connection's peer when its server says its tool list changed.
pub(crate) type ToolsChanged = Arc<dyn Fn(Peer<RoleClient>) + Send + Sync>;

/// Per-connection routing shared by the handler and the calls running on the connection.
#[derive(Default)]
pub(crate) struct Routes {
    progress: Mutex<HashMap<ProgressToken, mpsc::UnboundedSender<ProgressNotificationParam>>>,
    calls: Mutex<BTreeMap<u64, Option<Arc<dyn InputHandler>>>>,
    next_call: AtomicU64,
    awaiting_user: AtomicUsize,
}

impl Routes {
    /// Sends progress notifications carrying `token` to `sink` until [`Self::unroute_progress`].
    pub(crate) fn route_progress(
        &self,
        token: ProgressToken,
        sink: mpsc::UnboundedSender<ProgressNotificationParam>,
    ) {
        lock(&self.progress).insert(token, sink);
    }

    /// Stops routing `token`.
    pub(crate) fn unroute_progress(&self, token: &ProgressToken) {
        lock(&self.progress).remove(token);
    }

    /// Registers a call in flight (with its own input handler, if any) until the guard drops.
    pub(crate) fn begin_call(self: &Arc<Self>, input: Option<Arc<dyn InputHandler>>) -> CallGuard {
        let id = self.next_call.fetch_add(1, Ordering::Relaxed);
        lock(&self.calls).insert(id, input);
        CallGuard {
            routes: self.clone(),
            id,
        }
    }

    /// Whether a person is being asked something for this connection right now (call timeouts
    /// do not run out meanwhile).
    pub(crate) fn awaiting_user(&self) -> bool {
        self.awaiting_user.load(Ordering::SeqCst) > 0
    }

    /// Marks a question to a person as open until the guard drops.
    pub(crate) fn asking_user(self: &Arc<Self>) -> AskingGuard {
        self.awaiting_user.fetch_add(1, Ordering::SeqCst);
        AskingGuard {
            routes: self.clone(),
        }
    }

    /// The input handler of the only call in flight, when there is exactly one with one.
    fn sole_call_handler(&self) -> Option<Arc<dyn InputHandler>> {
        let calls = lock(&self.calls);
        match calls.values().collect::<Vec<_>>()[..] {
            [Some(handler)] => Some(handler.clone()),
            _ => None,
        }
    }
}

/// Unregisters a call when dropped.
pub(crate) struct CallGuard {
    routes: Arc<Routes>,
    id: u64,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        lock(&self.routes.calls).remove(&self.id);
    }
}

/// Closes an open question to a person when dropped.
pub(crate) struct AskingGuard {
    routes: Arc<Routes>,
}

impl Drop for AskingGuard {
    fn drop(&mut self) {
        self.routes.awaiting_user.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The rmcp client handler of one connection.
#[derive(Clone)]
pub(crate) struct HostClient {
    pub server: Arc<str>,
    pub allow_sampling: bool,
    pub callbacks: Callbacks,
    pub routes: Arc<Routes>,
    pub tools_changed: ToolsChanged,
    /// The server's OAuth login, for HTTP servers that have one.
    pub auth: Option<Arc<ServerAuth>>,
}

impl HostClient {
    /// Answers an elicitation with `handler` (or the host's, or declines).
    pub(crate) async fn answer_elicitation(
        &self,
        params: ElicitRequestParams,
        handler: Option<Arc<dyn InputHandler>>,
    ) -> ElicitResult {
        let Some(handler) = handler.or_else(|| self.callbacks.input.clone()) else {
            tracing::info!(server = %self.server, "input request declined: no one can answer");
            return ElicitResult::new(ElicitationAction::Decline);
        };
        let Some(request) = input_request(&self.server, params) else {
            return ElicitResult::new(ElicitationAction::Decline);
        };
        let schema = match &request.mode {
            InputMode::Form { schema } => Some(schema.clone()),
            InputMode::Url { .. } => None,
        };
        let _asking = self.routes.asking_user();
        elicit_result(handler.request_input(request).await, schema.as_ref())
    }

    /// Answers a sampling request through the engine's sampler, when this server may sample.
    pub(crate) async fn answer_sampling(
        &self,
        params: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, ErrorData> {
        let sampler = match (&self.callbacks.sampler, self.allow_sampling) {
            (Some(sampler), true) => sampler.clone(),
            _ => {
                return Err(ErrorData::new(
                    ErrorCode(-1),
                    format!(
                        "sampling is not allowed for the MCP server `{}` (set allow_sampling)",
                        self.server
                    ),
                    None,
                ));
            }
        };
        let request = SamplingRequest {
            server: self.server.to_string(),
            system_prompt: params.system_prompt,
            messages: params.messages.iter().map(sampling_message).collect(),
            max_tokens: params.max_tokens,
            temperature: params.temperature,
            model_hints: params
                .model_preferences
                .and_then(|p| p.hints)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|hint| hint.name)
                .collect(),
            stop_sequences: params.stop_sequences.unwrap_or_default(),
        };
        let _asking = self.routes.asking_user();
        match sampler.sample(request).await {
            Ok(reply) => {
                let message = RmcpSamplingMessage::assistant_text(reply.text);
                let mut result = CreateMessageResult::new(message, reply.model);
                result.stop_reason = reply.stop_reason;
                Ok(result)
            }
            Err(reason) => Err(ErrorData::new(ErrorCode(-1), reason, None)),
        }
    }
}

/// The host's input request for an elicitation (form or URL); `None` for kinds it does not
/// know.
fn input_request(server: &str, params: ElicitRequestParams) -> Option<InputRequest> {
    let (message, mode) = match params {
        ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } => (
            message,
            InputMode::Form {
                schema: serde_json::to_value(&requested_schema).unwrap_or_default(),
            },
        ),
        ElicitRequestParams::UrlElicitationParams {
            message,
            url,
            elicitation_id,
            ..
        } => (
            message,
            InputMode::Url {
                url,
                elicitation_id,
            },
        ),
        _ => return None,
    };
    Some(InputRequest {
        server: server.to_owned(),
        message,
        mode,
    })
}

/// The elicitation result for a person's answer; an accepted form gets its schema's defaults
/// for the fields left out.
fn elicit_result(answer: InputAnswer, schema: Option<&serde_json::Value>) -> ElicitResult {
    match answer {
        InputAnswer::Accept(content) => {
            let result = ElicitResult::new(ElicitationAction::Accept);
            let content = match schema {
                Some(schema) => Some(apply_defaults(schema, content)),
                None => content,
            };
            match content {
                Some(content) => result.with_content(content),
                None => result,
            }
        }
        InputAnswer::Decline => ElicitResult::new(ElicitationAction::Decline),
        InputAnswer::Cancel => ElicitResult::new(ElicitationAction::Cancel),
    }
}

/// Fills the fields a form answer leaves out with the defaults its schema gives (SEP-1034):
/// the server then sees what the person saw pre-filled and accepted.
fn apply_defaults(
    schema: &serde_json::Value,
    content: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut content = content.unwrap_or_else(|| serde_json::Value::Object(Default::default()));
    let (Some(answer), Some(properties)) = (
        content.as_object_mut(),
        schema.get("properties").and_then(|p| p.as_object()),
    ) else {
        return content;
    };
    for (field, property) in properties {
        if let Some(default) = property.get("default")
            && !answer.contains_key(field)
        {
            answer.insert(field.clone(), default.clone());
        }
    }
    content
}

fn sampling_message(message: &RmcpSamplingMessage) -> SamplingMessage {
    let blocks: Vec<&SamplingMessageContentBlock> = match &message.content {
        SamplingContent::Single(block) => vec![block],
        SamplingContent::Multiple(blocks) => blocks.iter().collect(),
    };
    let text = blocks
        .into_iter()
        .map(block_text)
        .collect::<Vec<_>>()
        .join("\n");
    SamplingMessage {
        role: match message.role {
            Role::Assistant => SamplingRole::Assistant,
            _ => SamplingRole::User,
        },
        text,
    }
}

/// A sampling message block as text: images and audio as a note of their type.
fn block_text(block: &SamplingMessageContentBlock) -> String {
    match block {
        SamplingMessageContentBlock::Text(text) => text.text.clone(),
        SamplingMessageContentBlock::Image(image) => format!("[image: {}]", image.mime_type),
        SamplingMessageContentBlock::Audio(audio) => format!("[audio: {}]", audio.mime_type),
        _ => "[tool content]".to_owned(),
    }
}

impl ClientHandler for HostClient {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.elicitation = Some(
            ElicitationCapability::new()
                .with_form(FormElicitationCapability::default())
                .with_url(UrlElicitationCapability::new()),
        );
        if self.allow_sampling && self.callbacks.sampler.is_some() {
            capabilities.sampling = Some(SamplingCapability::default());
        }
        let mut config = ClientConfig::new(
            capabilities,
            Implementation::new("mcpcord", env!("CARGO_PKG_VERSION")),
        );
        // Used only by the `initialize` handshake (discovery negotiates on its own): offer the
        // newest version that has one, not rmcp's latest (2026-07-28, which has no
        // `initialize`), so servers that check the offered version see one they know.
        config.protocol_version = ProtocolVersion::V_2025_11_25;
        config
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let handler = self.routes.sole_call_handler();
        Ok(self.answer_elicitation(request, handler).await)
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        self.answer_sampling(params).await
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let sink = lock(&self.routes.progress)
            .get(&params.progress_token)
            .cloned();
        if let Some(sink) = sink {
            let _ = sink.send(params);
        }
    }

    async fn on_tool_list_changed(&self, context: NotificationContext<RoleClient>) {
        tracing::debug!(server = %self.server, "tools/list_changed");
        (self.tools_changed)(context.peer);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::apply_defaults;

    #[test]
    fn defaults_fill_only_the_fields_left_out() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": { "type": "string", "default": "John Doe" },
                "age": { "type": "integer", "default": 30 },
                "note": { "type": "string" },
            },
        });
        assert_eq!(
            apply_defaults(&schema, Some(json!({ "name": "Ada" }))),
            json!({ "name": "Ada", "age": 30 })
        );
        assert_eq!(
            apply_defaults(&schema, None),
            json!({ "name": "John Doe", "age": 30 })
        );
        assert_eq!(apply_defaults(&json!({}), None), json!({}));
    }
}
