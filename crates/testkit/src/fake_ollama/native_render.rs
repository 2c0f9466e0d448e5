//! The native `/api/chat` wire format: NDJSON chunks with `model`, `created_at`, `message`
//! (role `assistant`) and `done`, the final chunk with `done_reason` and the metrics, and the
//! single object of a non-streaming reply.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::clock;
use super::runner::{Event, IssuedToolCall, Render, Reply, Summary};

/// Encodes runner events as Ollama's NDJSON lines.
pub(crate) struct NativeRender {
    model: String,
}

impl NativeRender {
    /// `model` is echoed as the request named it.
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
        }
    }

    fn chunk(&self, message: Value) -> Bytes {
        line(&json!({
            "model": self.model,
            "created_at": clock::now(),
            "message": message,
            "done": false,
        }))
    }
}

fn line(value: &Value) -> Bytes {
    let mut text = value.to_string();
    text.push('\n');
    Bytes::from(text)
}

/// Ollama's tool calls: `{"id", "function": {"index", "name", "arguments": {...}}}`, the index
/// left out when 0 (Go's `omitempty`).
pub(crate) fn tool_calls_json(calls: &[IssuedToolCall]) -> Value {
    calls
        .iter()
        .map(|c| {
            let mut function = Map::new();
            if c.index > 0 {
                function.insert("index".into(), json!(c.index));
            }
            function.insert("name".into(), json!(c.name));
            function.insert("arguments".into(), c.arguments.clone());
            json!({ "id": c.id, "function": function })
        })
        .collect()
}

/// `done: true` and the fields that come with it.
fn done_fields(summary: &Summary, object: &mut Map<String, Value>) {
    object.insert("done".into(), json!(true));
    object.insert("done_reason".into(), json!(summary.done_reason.as_str()));
    object.insert("total_duration".into(), json!(summary.total_duration));
    object.insert("load_duration".into(), json!(summary.load_duration));
    object.insert("prompt_eval_count".into(), json!(summary.prompt_eval_count));
    object.insert(
        "prompt_eval_duration".into(),
        json!(summary.prompt_eval_duration),
    );
    object.insert("eval_count".into(), json!(summary.eval_count));
    object.insert("eval_duration".into(), json!(summary.eval_duration));
}

fn final_object(model: &str, message: Value, summary: &Summary) -> Value {
    let mut object = Map::new();
    object.insert("model".into(), json!(model));
    object.insert("created_at".into(), json!(clock::now()));
    object.insert("message".into(), message);
    done_fields(summary, &mut object);
    Value::Object(object)
}

/// The single object of a non-streaming reply.
pub(crate) fn reply_json(model: &str, reply: &Reply) -> Value {
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert("content".into(), json!(reply.content));
    if !reply.thinking.is_empty() {
        message.insert("thinking".into(), json!(reply.thinking));
    }
    if !reply.tool_calls.is_empty() {
        message.insert("tool_calls".into(), tool_calls_json(&reply.tool_calls));
    }
    final_object(model, Value::Object(message), &reply.summary)
}

impl Render for NativeRender {
    fn event(&mut self, event: Event<'_>) -> Vec<Bytes> {
        let chunk = match event {
            Event::Text(text) => self.chunk(json!({ "role": "assistant", "content": text })),
            Event::Thinking(text) => {
                self.chunk(json!({ "role": "assistant", "content": "", "thinking": text }))
            }
            Event::ToolCalls(calls) => self.chunk(json!({
                "role": "assistant",
                "content": "",
                "tool_calls": tool_calls_json(calls),
            })),
            Event::Error(message) => line(&json!({ "error": message })),
        };
        vec![chunk]
    }

    fn finish(&mut self, summary: &Summary) -> Vec<Bytes> {
        let message = json!({ "role": "assistant", "content": "" });
        vec![line(&final_object(&self.model, message, summary))]
    }
}
