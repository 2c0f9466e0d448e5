//! The OpenAI-compatible wire format of `/v1/chat/completions`: SSE `data: {...}` chunks with
//! content, `reasoning` and tool call deltas (name first, then the arguments split across chunks,
//! as OpenAI streams them), a finish chunk, an optional usage chunk and `data: [DONE]`; and the
//! single `chat.completion` object of a non-streaming reply.

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::errors::openai_error;
use super::runner::{Event, IssuedToolCall, Render, Reply, Summary};

/// Encodes runner events as OpenAI `chat.completion.chunk` events.
pub(crate) struct OpenAiRender {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub include_usage: bool,
}

fn sse(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// `tool_calls` when the reply made any, else the done reason.
fn finish_reason(summary: &Summary) -> &'static str {
    if summary.had_tool_calls {
        "tool_calls"
    } else {
        summary.done_reason.as_str()
    }
}

fn usage(summary: &Summary) -> Value {
    json!({
        "prompt_tokens": summary.prompt_eval_count,
        "completion_tokens": summary.eval_count,
        "total_tokens": summary.prompt_eval_count + summary.eval_count,
    })
}

/// Splits `text` into up to three pieces at character boundaries.
fn fragments(text: &str) -> Vec<&str> {
    let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let n = starts.len();
    match (starts.get(n / 3), starts.get(2 * n / 3)) {
        (Some(&a), Some(&b)) if n >= 6 => vec![&text[..a], &text[a..b], &text[b..]],
        _ => vec![text],
    }
}

impl OpenAiRender {
    fn envelope(&self, object: &str) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("id".into(), json!(self.id));
        map.insert("object".into(), json!(object));
        map.insert("created".into(), json!(self.created));
        map.insert("model".into(), json!(self.model));
        map.insert("system_fingerprint".into(), json!("fp_ollama"));
        map
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Bytes {
        let mut map = self.envelope("chat.completion.chunk");
        map.insert(
            "choices".into(),
            json!([{ "index": 0, "delta": delta, "finish_reason": finish_reason }]),
        );
        sse(&Value::Object(map))
    }

    fn tool_call_chunks(&self, calls: &[IssuedToolCall]) -> Vec<Bytes> {
        let mut out = Vec::new();
        for call in calls {
            out.push(self.chunk(
                json!({ "role": "assistant", "content": "", "tool_calls": [{
                    "index": call.index, "id": call.id, "type": "function",
                    "function": { "name": call.name, "arguments": "" },
                }]}),
                None,
            ));
            let arguments = call.arguments.to_string();
            for piece in fragments(&arguments) {
                out.push(self.chunk(
                    json!({ "tool_calls": [{ "index": call.index, "function": { "arguments": piece } }] }),
                    None,
                ));
            }
        }
        out
    }

    /// The single object of a non-streaming reply.
    pub fn reply_json(&self, reply: &Reply) -> Value {
        let mut message = Map::new();
        message.insert("role".into(), json!("assistant"));
        message.insert("content".into(), json!(reply.content));
        if !reply.thinking.is_empty() {
            message.insert("reasoning".into(), json!(reply.thinking));
        }
        if !reply.tool_calls.is_empty() {
            let calls: Vec<Value> = reply
                .tool_calls
                .iter()
                .map(|c| {
                    json!({ "id": c.id, "index": c.index, "type": "function", "function": {
                        "name": c.name, "arguments": c.arguments.to_string(),
                    }})
                })
                .collect();
            message.insert("tool_calls".into(), json!(calls));
        }
        let mut map = self.envelope("chat.completion");
        map.insert(
            "choices".into(),
            json!([{ "index": 0, "message": message, "finish_reason": finish_reason(&reply.summary) }]),
        );
        map.insert("usage".into(), usage(&reply.summary));
        Value::Object(map)
    }
}

impl Render for OpenAiRender {
    fn event(&mut self, event: Event<'_>) -> Vec<Bytes> {
        match event {
            Event::Text(text) => {
                vec![self.chunk(json!({ "role": "assistant", "content": text }), None)]
            }
            Event::Thinking(text) => vec![self.chunk(
                json!({ "role": "assistant", "content": "", "reasoning": text }),
                None,
            )],
            Event::ToolCalls(calls) => self.tool_call_chunks(calls),
            Event::Error(message) => {
                vec![sse(&openai_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    message,
                ))]
            }
        }
    }

    fn finish(&mut self, summary: &Summary) -> Vec<Bytes> {
        let mut out = vec![self.chunk(
            json!({ "role": "assistant", "content": "" }),
            Some(finish_reason(summary)),
        )];
        if self.include_usage {
            let mut map = self.envelope("chat.completion.chunk");
            map.insert("choices".into(), json!([]));
            map.insert("usage".into(), usage(summary));
            out.push(sse(&Value::Object(map)));
        }
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::fragments;

    #[test]
    fn fragments_rejoin() {
        let text = r#"{"city":"Zürich","days":3}"#;
        let parts = fragments(text);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), text);
        assert_eq!(fragments("{}"), vec!["{}"]);
    }
}
