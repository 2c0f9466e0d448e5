//! The OpenAI-compatible client.

use std::collections::BTreeMap;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::wire::{
    Completion, Embeddings, Models, StreamChunk, ToolCallDelta, WireUsage, chat_body,
    parse_arguments,
};
use crate::ChatStream;
use crate::backend::BackendSpec;
use crate::error::{LlmError, root_cause};
use crate::http::{HttpBackend, Next, Watchdog};
use crate::schema::function_tools;
use crate::types::{
    ChatEvent, ChatRequest, ChatResponse, FinishReason, ModelInfo, ToolCall, Usage,
};

/// A client for one OpenAI-compatible server; its URL is the one ending in `/v1`.
#[derive(Debug, Clone)]
pub struct OpenAiClient {
    http: HttpBackend,
}

impl OpenAiClient {
    /// A client for `spec`.
    pub fn new(spec: BackendSpec, client: reqwest::Client) -> Self {
        Self {
            http: HttpBackend::new(spec, client),
        }
    }

    /// The spec it was made from.
    pub fn spec(&self) -> &BackendSpec {
        &self.http.spec
    }

    /// Streams the answer over SSE; tool-call deltas are joined by index and given once.
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        let deadline = Instant::now() + self.spec().request_timeout;
        let body = chat_body(request, function_tools(request), true);
        let response = self
            .http
            .send_generation("chat/completions", &body, &request.model, deadline)
            .await?;
        let data = response
            .bytes_stream()
            .eventsource()
            .map(|event| event.map(|e| e.data).map_err(|e| root_cause(&e)));
        let watchdog = Watchdog::new(self.spec().clone(), deadline);
        Ok(Box::pin(events(
            Box::pin(data),
            watchdog,
            self.spec().name.clone(),
        )))
    }

    /// The whole answer, without streaming.
    pub async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let deadline = Instant::now() + self.spec().request_timeout;
        let body = chat_body(request, function_tools(request), false);
        let response = self
            .http
            .send_generation("chat/completions", &body, &request.model, deadline)
            .await?;
        let completion: Completion = self.http.read_json(response, deadline).await?;
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| self.http.protocol("a completion without choices"))?;
        let tool_calls: Vec<ToolCall> = choice
            .message
            .tool_calls
            .into_iter()
            .map(|c| ToolCall {
                id: c.id,
                name: c.function.name,
                arguments: parse_arguments(&c.function.arguments),
            })
            .collect();
        Ok(ChatResponse {
            text: choice.message.content.unwrap_or_default(),
            thinking: choice
                .message
                .reasoning_content
                .or(choice.message.reasoning)
                .unwrap_or_default(),
            usage: usage(
                completion.usage.as_ref(),
                choice.finish_reason.as_deref(),
                !tool_calls.is_empty(),
            ),
            tool_calls,
        })
    }

    /// The models the server lists (`/models`).
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        let models: Models = self.http.get_json("models").await?;
        Ok(models
            .data
            .into_iter()
            .map(|m| ModelInfo::named(m.id))
            .collect())
    }

    /// What is known of `model`: OpenAI-compatible servers do not report capabilities, so only
    /// whether it is listed.
    pub async fn model_info(&self, model: &str) -> Result<ModelInfo, LlmError> {
        let models = self.list_models().await?;
        models
            .into_iter()
            .find(|m| m.name == model)
            .ok_or_else(|| LlmError::ModelNotFound {
                model: model.to_string(),
                backend: self.spec().name.clone(),
                kind: self.spec().kind,
            })
    }

    /// Embeddings of `inputs` (`/embeddings`).
    pub async fn embed(&self, model: &str, inputs: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        let body = json!({ "model": model, "input": inputs });
        let mut answer: Embeddings = self
            .http
            .post_json("embeddings", &body, Some(model))
            .await?;
        answer.data.sort_by_key(|e| e.index);
        Ok(answer.data.into_iter().map(|e| e.embedding).collect())
    }
}

fn usage(usage: Option<&WireUsage>, finish_reason: Option<&str>, called_tools: bool) -> Usage {
    Usage {
        prompt_tokens: usage.and_then(|u| u.prompt_tokens),
        completion_tokens: usage.and_then(|u| u.completion_tokens),
        total_duration: None,
        load_duration: None,
        finish_reason: match finish_reason {
            Some("length") => FinishReason::Length,
            Some("tool_calls") => FinishReason::ToolCalls,
            _ if called_tools => FinishReason::ToolCalls,
            _ => FinishReason::Stop,
        },
    }
}

/// A tool call being assembled from deltas.
#[derive(Default)]
struct PendingCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

impl PendingCall {
    /// Adds one delta's pieces.
    fn add(&mut self, delta: ToolCallDelta) {
        if delta.id.is_some() {
            self.id = delta.id;
        }
        let Some(function) = delta.function else {
            return;
        };
        // OpenAI sends the name once; llama.cpp repeats it in every delta.
        if let Some(name) = function.name.filter(|n| *n != self.name) {
            self.name.push_str(&name);
        }
        if let Some(arguments) = function.arguments {
            self.arguments.push_str(&arguments);
        }
    }
}

/// Everything a streamed answer has said so far, chunk by chunk.
#[derive(Default)]
struct Answer {
    /// The text so far (reported with a cut stream).
    partial: String,
    calls: BTreeMap<usize, PendingCall>,
    finish: Option<String>,
    usage: Option<WireUsage>,
}

impl Answer {
    /// Takes in one chunk; the events it carries, in order.
    fn absorb(&mut self, chunk: StreamChunk) -> Vec<ChatEvent> {
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        let mut events = Vec::new();
        for choice in chunk.choices {
            let delta = choice.delta;
            if let Some(reasoning) = delta
                .reasoning_content
                .or(delta.reasoning)
                .filter(|r| !r.is_empty())
            {
                events.push(ChatEvent::Thinking(reasoning));
            }
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                self.partial.push_str(&text);
                events.push(ChatEvent::Text(text));
            }
            for call in delta.tool_calls {
                self.calls.entry(call.index).or_default().add(call);
            }
            if choice.finish_reason.is_some() {
                self.finish = choice.finish_reason;
            }
        }
        events
    }

    /// The closing events: the tool calls (if any), then `Done` with the usage.
    fn finish(self) -> Vec<ChatEvent> {
        let calls: Vec<ToolCall> = self
            .calls
            .into_values()
            .filter(|c| !c.name.is_empty())
            .map(|c| ToolCall {
                id: c.id,
                name: c.name,
                arguments: parse_arguments(&c.arguments),
            })
            .collect();
        let usage = usage(
            self.usage.as_ref(),
            self.finish.as_deref(),
            !calls.is_empty(),
        );
        let mut events = Vec::new();
        if !calls.is_empty() {
            events.push(ChatEvent::ToolCalls(calls));
        }
        events.push(ChatEvent::Done(usage));
        events
    }
}

/// A `data:` payload as a chunk; a server's error object, or the parse error, otherwise.
fn parse_chunk(payload: &str, backend: &str) -> Result<StreamChunk, LlmError> {
    serde_json::from_str(payload).map_err(|error| {
        let message = serde_json::from_str::<Value>(payload)
            .ok()
            .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("bad chunk: {error}"));
        LlmError::Protocol {
            backend: backend.to_string(),
            message,
        }
    })
}

/// Reads SSE `data:` payloads into events.
fn events(
    mut data: std::pin::Pin<Box<dyn futures::Stream<Item = Result<String, String>> + Send>>,
    mut watchdog: Watchdog,
    backend: String,
) -> impl futures::Stream<Item = Result<ChatEvent, LlmError>> + Send {
    async_stream::stream! {
        let mut answer = Answer::default();
        loop {
            let payload = match watchdog.next(&mut data, &answer.partial).await {
                Ok(Next::Item(payload)) => payload,
                // Some servers end the body after the finish reason without `[DONE]`.
                Ok(Next::End) if answer.finish.is_some() => break,
                Ok(Next::End) => {
                    yield Err(watchdog.cut(&answer.partial, "the connection closed before the answer finished"));
                    return;
                }
                Err(error) => {
                    yield Err(error);
                    return;
                }
            };
            if payload.trim() == "[DONE]" {
                break;
            }
            match parse_chunk(&payload, &backend) {
                Ok(chunk) => {
                    for event in answer.absorb(chunk) {
                        yield Ok(event);
                    }
                }
                Err(error) => {
                    yield Err(error);
                    return;
                }
            }
        }
        for event in answer.finish() {
            yield Ok(event);
        }
    }
}
