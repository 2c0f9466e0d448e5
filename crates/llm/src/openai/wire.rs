//! The OpenAI chat-completions JSON, as it goes over the wire.

use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::numbers::lenient_u32;
use crate::types::{ChatRequest, Message, Role, ToolCall, ToolChoice};

/// The request body for `request`, streaming or not.
pub fn chat_body(request: &ChatRequest, tools: Vec<Value>, stream: bool) -> Value {
    let mut body = json!({
        "model": request.model,
        "messages": request.messages.iter().enumerate().map(|(i, m)| message(i, m)).collect::<Vec<_>>(),
        "stream": stream,
    });
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    if !tools.is_empty() {
        body["tools"] = Value::Array(tools);
    }
    if let Some(choice) = &request.options.tool_choice {
        body["tool_choice"] = tool_choice(choice);
    }
    if let Some(t) = request.options.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(n) = request.options.max_tokens {
        body["max_tokens"] = json!(n);
    }
    body
}

/// `tool_choice` as OpenAI writes it.
fn tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Function(name) => json!({"type": "function", "function": {"name": name}}),
    }
}

/// A tool call's id; calls that came without one (from Ollama) get one from their position.
fn call_id(message_index: usize, call_index: usize, call: &ToolCall) -> String {
    call.id
        .clone()
        .unwrap_or_else(|| format!("call_{message_index}_{call_index}"))
}

fn message(index: usize, m: &Message) -> Value {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let content = if m.images.is_empty() {
        json!(m.content)
    } else {
        let mut parts = vec![json!({"type": "text", "text": m.content})];
        parts.extend(m.images.iter().map(|image| {
            json!({"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{image}")}})
        }));
        Value::Array(parts)
    };
    let mut out = json!({"role": role, "content": content});
    if !m.tool_calls.is_empty() {
        out["tool_calls"] = m
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                json!({
                    "id": call_id(index, i, call),
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments.to_string()},
                })
            })
            .collect();
    }
    if m.role == Role::Tool {
        out["tool_call_id"] = json!(m.tool_call_id.clone().unwrap_or_else(|| "call_0".into()));
        if let Some(name) = &m.tool_name {
            out["name"] = json!(name);
        }
    }
    out
}

/// One SSE `data:` chunk of a streamed completion.
#[derive(Debug, Deserialize)]
pub struct StreamChunk {
    #[serde(default, deserialize_with = "null_as_default")]
    pub choices: Vec<StreamChoice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

/// A choice in a stream chunk.
#[derive(Debug, Deserialize)]
pub struct StreamChoice {
    #[serde(default)]
    pub delta: Delta,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// What a chunk adds.
#[derive(Debug, Default, Deserialize)]
pub struct Delta {
    #[serde(default)]
    pub content: Option<String>,
    /// vLLM, llama.cpp and DeepSeek spell reasoning this way…
    #[serde(default)]
    pub reasoning_content: Option<String>,
    /// …and Ollama's `/v1` and OpenRouter this way.
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tool_calls: Vec<ToolCallDelta>,
}

/// A piece of a tool call; pieces with the same `index` belong together.
#[derive(Debug, Deserialize)]
pub struct ToolCallDelta {
    #[serde(default)]
    pub index: usize,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<FunctionDelta>,
}

/// A piece of a tool call's function.
#[derive(Debug, Deserialize)]
pub struct FunctionDelta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

/// Token counts.
#[derive(Debug, Deserialize)]
pub struct WireUsage {
    #[serde(default, deserialize_with = "lenient_u32")]
    pub prompt_tokens: Option<u32>,
    #[serde(default, deserialize_with = "lenient_u32")]
    pub completion_tokens: Option<u32>,
}

/// A non-streamed completion.
#[derive(Debug, Deserialize)]
pub struct Completion {
    #[serde(default, deserialize_with = "null_as_default")]
    pub choices: Vec<CompletionChoice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

/// A choice of a non-streamed completion.
#[derive(Debug, Deserialize)]
pub struct CompletionChoice {
    pub message: CompletionMessage,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The message of a non-streamed completion.
#[derive(Debug, Deserialize)]
pub struct CompletionMessage {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tool_calls: Vec<FullToolCall>,
}

/// A whole tool call.
#[derive(Debug, Deserialize)]
pub struct FullToolCall {
    #[serde(default)]
    pub id: Option<String>,
    pub function: FullFunction,
}

/// A whole tool call's function; arguments are a JSON string.
#[derive(Debug, Deserialize)]
pub struct FullFunction {
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

/// `/models`
#[derive(Debug, Deserialize)]
pub struct Models {
    #[serde(default, deserialize_with = "null_as_default")]
    pub data: Vec<ModelEntry>,
}

/// A model in `/models`.
#[derive(Debug, Deserialize)]
pub struct ModelEntry {
    pub id: String,
}

/// `/embeddings`
#[derive(Debug, Deserialize)]
pub struct Embeddings {
    pub data: Vec<EmbeddingEntry>,
}

/// One embedding.
#[derive(Debug, Deserialize)]
pub struct EmbeddingEntry {
    #[serde(default)]
    pub index: usize,
    pub embedding: Vec<f32>,
}

/// Arguments as the object they encode; an empty string is an empty object.
pub fn parse_arguments(text: &str) -> Value {
    if text.trim().is_empty() {
        return json!({});
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Reads `null` as the empty value: servers send `"tool_calls": null` and the like.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
