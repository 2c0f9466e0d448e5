//! The thin Ollama client.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::wire::{ChatBody, ChatChunk, Embeddings, Show, Tags, Version};
use crate::ChatStream;
use crate::backend::BackendSpec;
use crate::error::LlmError;
use crate::http::{HttpBackend, Next, Watchdog, lines};
use crate::schema::function_tools;
use crate::types::{
    Capability, ChatEvent, ChatRequest, ChatResponse, FinishReason, ModelInfo, ToolCall, Usage,
};

/// A client for one Ollama server.
#[derive(Debug, Clone)]
pub struct OllamaClient {
    http: HttpBackend,
}

/// A model loaded in memory (`/api/ps`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunningModel {
    /// Its name.
    pub name: String,
    /// Bytes in memory.
    pub size: Option<u64>,
    /// Bytes in GPU memory.
    pub size_vram: Option<u64>,
    /// The context length it was loaded with.
    pub context_length: Option<u32>,
    /// When Ollama unloads it.
    pub expires_at: Option<String>,
}

impl OllamaClient {
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

    /// Streams the answer to `request`: text and thinking as they come, tool calls collected
    /// across chunks and given once before the final [`ChatEvent::Done`].
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        let deadline = Instant::now() + self.spec().request_timeout;
        let body = ChatBody::new(request, function_tools(request), true);
        let response = self
            .http
            .send_generation("api/chat", &body, &request.model, deadline)
            .await?;
        let watchdog = Watchdog::new(self.spec().clone(), deadline);
        Ok(Box::pin(events(
            lines(response),
            watchdog,
            self.spec().name.clone(),
        )))
    }

    /// The whole answer, with `stream: false`.
    pub async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let deadline = Instant::now() + self.spec().request_timeout;
        let body = ChatBody::new(request, function_tools(request), false);
        let response = self
            .http
            .send_generation("api/chat", &body, &request.model, deadline)
            .await?;
        let mut chunk: ChatChunk = self.http.read_json(response, deadline).await?;
        let message = chunk.message.take().unwrap_or_default();
        let tool_calls: Vec<ToolCall> =
            message.tool_calls.into_iter().map(ToolCall::from).collect();
        Ok(ChatResponse {
            usage: usage(&chunk, !tool_calls.is_empty()),
            text: message.content,
            thinking: message.thinking.unwrap_or_default(),
            tool_calls,
        })
    }

    /// The models on the server (`/api/tags`).
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        let tags: Tags = self.http.get_json("api/tags").await?;
        Ok(tags
            .models
            .into_iter()
            .map(|m| ModelInfo {
                details: m.details.as_ref().and_then(|d| d.summary()),
                size: m.size,
                ..ModelInfo::named(m.name)
            })
            .collect())
    }

    /// Capabilities and context length of `model` (`/api/show`).
    pub async fn show(&self, model: &str) -> Result<ModelInfo, LlmError> {
        let show: Show = self
            .http
            .post_json("api/show", &json!({ "model": model }), Some(model))
            .await?;
        Ok(ModelInfo {
            name: model.to_string(),
            capabilities: show.capabilities.as_ref().map(|caps| {
                caps.iter()
                    .filter_map(|c| Capability::from_name(c))
                    .collect()
            }),
            context_length: show.context_length(),
            size: None,
            details: show.details.as_ref().and_then(|d| d.summary()),
        })
    }

    /// The models loaded in memory (`/api/ps`).
    pub async fn running(&self) -> Result<Vec<RunningModel>, LlmError> {
        let tags: Tags = self.http.get_json("api/ps").await?;
        Ok(tags
            .models
            .into_iter()
            .map(|m| RunningModel {
                name: m.name,
                size: m.size,
                size_vram: m.size_vram,
                context_length: m.context_length,
                expires_at: m.expires_at,
            })
            .collect())
    }

    /// The server's version (`/api/version`).
    pub async fn version(&self) -> Result<String, LlmError> {
        let version: Version = self.http.get_json("api/version").await?;
        Ok(version.version)
    }

    /// Embeddings of `inputs` (`/api/embed`).
    pub async fn embed(&self, model: &str, inputs: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        let body = json!({ "model": model, "input": inputs });
        let answer: Embeddings = self.http.post_json("api/embed", &body, Some(model)).await?;
        Ok(answer.embeddings)
    }
}

fn usage(chunk: &ChatChunk, called_tools: bool) -> Usage {
    Usage {
        prompt_tokens: chunk.prompt_eval_count,
        completion_tokens: chunk.eval_count,
        total_duration: chunk.total_duration.map(Duration::from_nanos),
        load_duration: chunk.load_duration.map(Duration::from_nanos),
        finish_reason: match chunk.done_reason.as_deref() {
            Some("length") => FinishReason::Length,
            _ if called_tools => FinishReason::ToolCalls,
            _ => FinishReason::Stop,
        },
    }
}

/// Reads NDJSON chunks into events.
fn events(
    mut lines: impl futures::Stream<Item = Result<String, String>> + Send + Unpin + 'static,
    mut watchdog: Watchdog,
    backend: String,
) -> impl futures::Stream<Item = Result<ChatEvent, LlmError>> + Send {
    async_stream::stream! {
        let mut partial = String::new();
        let mut calls: Vec<ToolCall> = Vec::new();
        loop {
            let line = match watchdog.next(&mut lines, &partial).await {
                Ok(Next::Item(line)) => line,
                Ok(Next::End) => {
                    yield Err(watchdog.cut(&partial, "the connection closed before the final chunk"));
                    return;
                }
                Err(error) => {
                    yield Err(error);
                    return;
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            let mut chunk: ChatChunk = match serde_json::from_str(&line) {
                Ok(chunk) => chunk,
                Err(error) => {
                    yield Err(LlmError::Protocol { backend: backend.clone(), message: format!("bad chunk: {error}") });
                    return;
                }
            };
            if let Some(message) = chunk.error.take() {
                // Ollama reports failures mid-stream as a line {"error": "..."}.
                yield Err(LlmError::Server { backend: backend.clone(), status: 200, message });
                return;
            }
            if let Some(message) = chunk.message.take() {
                if let Some(thinking) = message.thinking.filter(|t| !t.is_empty()) {
                    yield Ok(ChatEvent::Thinking(thinking));
                }
                if !message.content.is_empty() {
                    partial.push_str(&message.content);
                    yield Ok(ChatEvent::Text(message.content));
                }
                calls.extend(message.tool_calls.into_iter().map(ToolCall::from));
            }
            if chunk.done {
                let usage = usage(&chunk, !calls.is_empty());
                if !calls.is_empty() {
                    yield Ok(ChatEvent::ToolCalls(std::mem::take(&mut calls)));
                }
                yield Ok(ChatEvent::Done(usage));
                return;
            }
        }
    }
}
