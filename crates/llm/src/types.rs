//! The vocabulary shared by every backend: messages, tools, requests, stream events, models.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions from the bot's operator.
    System,
    /// A person.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call.
    Tool,
}

/// One message of a conversation, as sent to a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// The text.
    pub content: String,
    /// Base64-encoded images (vision models only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Tool calls the assistant made in this message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool result: the tool's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// For a tool result: the id of the call it answers (OpenAI-compatible servers need it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            images: Vec::new(),
            tool_calls: Vec::new(),
            tool_name: None,
            tool_call_id: None,
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// An assistant message that made tool calls.
    pub fn assistant_tool_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls: calls,
            ..Self::new(Role::Assistant, content)
        }
    }

    /// The result of `call`, to send back to the model.
    pub fn tool_result(call: &ToolCall, content: impl Into<String>) -> Self {
        Self {
            tool_name: Some(call.name.clone()),
            tool_call_id: call.id.clone(),
            ..Self::new(Role::Tool, content)
        }
    }

    /// This message with base64 images attached.
    pub fn with_images(mut self, images: Vec<String>) -> Self {
        self.images = images;
        self
    }
}

/// A call of a tool, as the model asked for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id, when the server gives one (OpenAI-compatible servers do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The tool's name.
    pub name: String,
    /// Arguments: a JSON object.
    pub arguments: Value,
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Its name (`[A-Za-z0-9_.-]`, at most 64 characters for OpenAI-compatible servers).
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its arguments; sanitized by [`crate::schema::sanitize`] before sending.
    pub parameters: Value,
}

/// Whether and how much the model should think before answering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Think {
    /// On or off.
    Enabled(bool),
    /// A level: `low`, `medium`, `high`.
    Level(String),
}

/// Sampling and loading options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatOptions {
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// The context window to ask for; the pool fills it from the model's length when unset.
    pub num_ctx: Option<u32>,
    /// Longest answer, in tokens.
    pub max_tokens: Option<u32>,
    /// How long Ollama keeps the model loaded afterwards.
    pub keep_alive: Option<Duration>,
    /// Thinking, for models that can.
    pub think: Option<Think>,
    /// Whether the model must call a tool (OpenAI-compatible servers; Ollama decides itself).
    pub tool_choice: Option<ToolChoice>,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool.
    None,
    /// Some tool.
    Required,
    /// This tool.
    Function(String),
}

/// One request for a model's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The model's name.
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Tools the model may call.
    pub tools: Vec<ToolSpec>,
    /// Options.
    pub options: ChatOptions,
}

impl ChatRequest {
    /// A request for `model` with `messages`, no tools, default options.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            model: model.into(),
            messages,
            tools: Vec::new(),
            options: ChatOptions::default(),
        }
    }

    /// Whether any message carries images.
    pub fn has_images(&self) -> bool {
        self.messages.iter().any(|m| !m.images.is_empty())
    }
}

/// What a streamed answer yields, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// More of the answer.
    Text(String),
    /// More of the model's reasoning, kept apart from the answer.
    Thinking(String),
    /// Tool calls, collected across the stream and given once, before [`ChatEvent::Done`].
    ToolCalls(Vec<ToolCall>),
    /// The end, with what it cost.
    Done(Usage),
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FinishReason {
    /// It was done.
    #[default]
    Stop,
    /// It hit the token limit.
    Length,
    /// It called tools.
    ToolCalls,
}

/// Token counts and timings of one answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Tokens in the prompt, as the server counted them.
    pub prompt_tokens: Option<u32>,
    /// Tokens generated.
    pub completion_tokens: Option<u32>,
    /// Time the server spent in all.
    pub total_duration: Option<Duration>,
    /// Time spent loading the model.
    pub load_duration: Option<Duration>,
    /// Why generation stopped.
    pub finish_reason: FinishReason,
}

/// A whole answer, collected from a stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatResponse {
    /// The answer.
    pub text: String,
    /// The reasoning, if the model thought aloud.
    pub thinking: String,
    /// Tools the model called.
    pub tool_calls: Vec<ToolCall>,
    /// Costs.
    pub usage: Usage,
}

/// Something a model can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// Chat / text completion.
    Completion,
    /// Tool calls.
    Tools,
    /// Images in messages.
    Vision,
    /// Separate reasoning.
    Thinking,
    /// Embeddings.
    Embedding,
}

impl Capability {
    /// Reads Ollama's capability names; unknown ones are skipped.
    pub fn from_name(name: &str) -> Option<Capability> {
        Some(match name {
            "completion" => Capability::Completion,
            "tools" => Capability::Tools,
            "vision" => Capability::Vision,
            "thinking" => Capability::Thinking,
            "embedding" => Capability::Embedding,
            _ => return None,
        })
    }

    /// The name, as Ollama spells it.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Completion => "completion",
            Capability::Tools => "tools",
            Capability::Vision => "vision",
            Capability::Thinking => "thinking",
            Capability::Embedding => "embedding",
        }
    }
}

/// What is known of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Its name, as requests use it.
    pub name: String,
    /// What it can do; `None` when the server does not say (OpenAI-compatible servers).
    pub capabilities: Option<Vec<Capability>>,
    /// Its context length in tokens, when known.
    pub context_length: Option<u32>,
    /// Size on disk in bytes, when known.
    pub size: Option<u64>,
    /// Family, parameter size and quantization, when known (`llama 3.2B Q4_K_M`).
    pub details: Option<String>,
}

impl ModelInfo {
    /// A model known only by name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            capabilities: None,
            context_length: None,
            size: None,
            details: None,
        }
    }

    /// Whether the model can do `capability`; unknown counts as yes (the server will say no).
    pub fn can(&self, capability: Capability) -> bool {
        self.capabilities
            .as_ref()
            .is_none_or(|caps| caps.contains(&capability))
    }
}
