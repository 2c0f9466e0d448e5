//! Ollama's JSON, as it goes over the wire.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::numbers::{lenient_u32, lenient_u64, whole_u32};
use crate::types::{ChatRequest, Message, Role, Think, ToolCall};

/// `POST /api/chat` body.
#[derive(Debug, Serialize)]
pub struct ChatBody<'a> {
    pub model: &'a str,
    pub messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Value>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think: Option<&'a Think>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<&'static str, Value>,
}

/// A message in Ollama's shape: tool results carry `tool_name`.
#[derive(Debug, Serialize)]
pub struct WireMessage<'a> {
    pub role: Role,
    pub content: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub images: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<WireToolCall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<&'a str>,
}

/// A tool call: arguments are a JSON object.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireToolCall {
    pub function: WireFunction,
}

/// The function of a tool call.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireFunction {
    pub name: String,
    #[serde(default)]
    pub arguments: Value,
}

impl<'a> ChatBody<'a> {
    /// The body for `request`, with tools already sanitized.
    pub fn new(request: &'a ChatRequest, tools: Vec<Value>, stream: bool) -> Self {
        let mut options = BTreeMap::new();
        if let Some(t) = request.options.temperature {
            options.insert("temperature", Value::from(t));
        }
        if let Some(n) = request.options.num_ctx {
            options.insert("num_ctx", Value::from(n));
        }
        if let Some(n) = request.options.max_tokens {
            options.insert("num_predict", Value::from(n));
        }
        Self {
            model: &request.model,
            messages: request.messages.iter().map(WireMessage::from).collect(),
            tools,
            stream,
            think: request.options.think.as_ref(),
            keep_alive: request
                .options
                .keep_alive
                .map(|d| format!("{}s", d.as_secs())),
            options,
        }
    }
}

impl<'a> From<&'a Message> for WireMessage<'a> {
    fn from(m: &'a Message) -> Self {
        Self {
            role: m.role,
            content: &m.content,
            images: &m.images,
            tool_calls: m
                .tool_calls
                .iter()
                .map(|c| WireToolCall {
                    function: WireFunction {
                        name: c.name.clone(),
                        arguments: c.arguments.clone(),
                    },
                })
                .collect(),
            tool_name: m.tool_name.as_deref(),
        }
    }
}

/// One line of a `/api/chat` stream, or the whole non-streamed answer.
#[derive(Debug, Deserialize)]
pub struct ChatChunk {
    #[serde(default)]
    pub message: Option<ChunkMessage>,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub done_reason: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default, deserialize_with = "lenient_u32")]
    pub prompt_eval_count: Option<u32>,
    #[serde(default, deserialize_with = "lenient_u32")]
    pub eval_count: Option<u32>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total_duration: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub load_duration: Option<u64>,
}

/// The message part of a chunk.
#[derive(Debug, Default, Deserialize)]
pub struct ChunkMessage {
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub thinking: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tool_calls: Vec<WireToolCall>,
}

impl From<WireToolCall> for ToolCall {
    fn from(call: WireToolCall) -> Self {
        let arguments = match call.function.arguments {
            Value::Null => Value::Object(Default::default()),
            // Some models send arguments as a JSON string; read it as the object it holds.
            Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            other => other,
        };
        ToolCall {
            id: None,
            name: call.function.name,
            arguments,
        }
    }
}

/// `GET /api/tags`
#[derive(Debug, Deserialize)]
pub struct Tags {
    #[serde(default, deserialize_with = "null_as_default")]
    pub models: Vec<TagModel>,
}

/// A model in `/api/tags` or `/api/ps`.
#[derive(Debug, Deserialize)]
pub struct TagModel {
    pub name: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub size: Option<u64>,
    #[serde(default)]
    pub details: Option<Details>,
    #[serde(default, deserialize_with = "lenient_u32")]
    pub context_length: Option<u32>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub size_vram: Option<u64>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// `details` of a model.
#[derive(Debug, Default, Deserialize)]
pub struct Details {
    #[serde(default)]
    pub family: Option<String>,
    #[serde(default)]
    pub parameter_size: Option<String>,
    #[serde(default)]
    pub quantization_level: Option<String>,
}

impl Details {
    /// `llama 3.2B Q4_K_M`, whatever of it is known.
    pub fn summary(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.family, &self.parameter_size, &self.quantization_level]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// `POST /api/show`
#[derive(Debug, Deserialize)]
pub struct Show {
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    #[serde(default)]
    pub model_info: BTreeMap<String, Value>,
    #[serde(default)]
    pub details: Option<Details>,
}

impl Show {
    /// The context length from `model_info` (`<architecture>.context_length`).
    pub fn context_length(&self) -> Option<u32> {
        let arch = self
            .model_info
            .get("general.architecture")
            .and_then(Value::as_str);
        let key = arch.map(|a| format!("{a}.context_length"));
        key.and_then(|k| self.model_info.get(&k))
            .or_else(|| {
                self.model_info
                    .iter()
                    .find(|(k, _)| k.ends_with(".context_length"))
                    .map(|(_, v)| v)
            })
            .and_then(whole_u32)
    }
}

/// `GET /api/version`
#[derive(Debug, Deserialize)]
pub struct Version {
    pub version: String,
}

/// `POST /api/embed` answer.
#[derive(Debug, Deserialize)]
pub struct Embeddings {
    pub embeddings: Vec<Vec<f32>>,
}

/// Reads `null` as the empty value.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
