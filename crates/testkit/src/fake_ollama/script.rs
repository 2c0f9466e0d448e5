//! Scripts: what the fake model answers to one chat request, step by step. Tests queue scripts;
//! each `/api/chat` or `/v1/chat/completions` request that passes the checks takes the next one.

use std::time::Duration;

use serde_json::Value;

/// Why generation stopped: `done_reason` in the native API, `finish_reason` in the OpenAI one
/// (where a reply with tool calls finishes with `tool_calls` instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DoneReason {
    /// The model finished its answer.
    #[default]
    Stop,
    /// The answer hit the token limit.
    Length,
}

impl DoneReason {
    /// The wire value: `stop` or `length`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
        }
    }
}

/// One tool call the fake model makes: a function name and its arguments (a JSON object).
#[derive(Debug, Clone, PartialEq)]
pub struct FakeToolCall {
    /// Function name.
    pub name: String,
    /// Arguments, sent as an object (native API) or as a JSON string (OpenAI API).
    pub arguments: Value,
}

impl FakeToolCall {
    /// A call of `name` with `arguments`.
    pub fn new(name: &str, arguments: Value) -> Self {
        Self {
            name: name.to_owned(),
            arguments,
        }
    }
}

/// One step of a [`Script`].
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A chunk of answer text (`message.content`).
    Text(String),
    /// A chunk of reasoning (`message.thinking`, OpenAI `delta.reasoning`). Sent only when the
    /// model has the `thinking` capability and the request did not say `"think": false`.
    Thinking(String),
    /// One chunk with these tool calls (`message.tool_calls`, `done: false`, as Ollama sends them).
    ToolCalls(Vec<FakeToolCall>),
    /// Wait before the next step. Leading delays hold back the response head, like a model load.
    Delay(Duration),
    /// Fail with this HTTP status and body `{"error": message}`. Before any chunk this is the
    /// response status; after a chunk it becomes an error object in the stream, as with Ollama.
    HttpError {
        /// HTTP status code (an invalid one becomes 500).
        status: u16,
        /// The error message.
        message: String,
    },
    /// An `{"error": message}` object in the stream, which then ends: Ollama's mid-stream failure.
    /// In a non-streaming request it is a 500 with that body.
    StreamError(String),
    /// Cut the connection: the chunked body ends without its terminating chunk, so the client
    /// sees an error (unexpected EOF), never the final `done: true` chunk. As the first step, the
    /// connection may close before the response head: the client's send fails.
    DropConnection,
    /// Send nothing more until the client gives up or the fake shuts down (then cut).
    /// A leading stall holds back the response head.
    Stall,
}

/// A scripted reply. Build it with chained calls:
/// `Script::new().thinking("Let me see.").text("Hello").tool_call("get_time", json!({}))`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    pub(crate) steps: Vec<Step>,
    pub(crate) done_reason: DoneReason,
    pub(crate) prompt_eval_count: Option<u64>,
    pub(crate) eval_count: Option<u64>,
}

impl Script {
    /// An empty script: the reply is just the final chunk.
    pub fn new() -> Self {
        Self::default()
    }

    /// A reply of one text chunk.
    pub fn reply(text: &str) -> Self {
        Self::new().text(text)
    }

    /// A reply that fails at once with HTTP `status` and `{"error": message}`.
    pub fn error(status: u16, message: &str) -> Self {
        Self::new().http_error(status, message)
    }

    /// Adds any step.
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Adds a text chunk.
    pub fn text(self, chunk: &str) -> Self {
        self.step(Step::Text(chunk.to_owned()))
    }

    /// Adds a thinking chunk.
    pub fn thinking(self, chunk: &str) -> Self {
        self.step(Step::Thinking(chunk.to_owned()))
    }

    /// Adds a chunk with one tool call.
    pub fn tool_call(self, name: &str, arguments: Value) -> Self {
        self.step(Step::ToolCalls(vec![FakeToolCall::new(name, arguments)]))
    }

    /// Adds a chunk with several tool calls.
    pub fn tool_calls(self, calls: Vec<FakeToolCall>) -> Self {
        self.step(Step::ToolCalls(calls))
    }

    /// Adds a pause.
    pub fn delay(self, duration: Duration) -> Self {
        self.step(Step::Delay(duration))
    }

    /// Adds an HTTP error (see [`Step::HttpError`]).
    pub fn http_error(self, status: u16, message: &str) -> Self {
        self.step(Step::HttpError {
            status,
            message: message.to_owned(),
        })
    }

    /// Adds an error object in the stream (see [`Step::StreamError`]).
    pub fn stream_error(self, message: &str) -> Self {
        self.step(Step::StreamError(message.to_owned()))
    }

    /// Cuts the connection here (see [`Step::DropConnection`]).
    pub fn drop_connection(self) -> Self {
        self.step(Step::DropConnection)
    }

    /// Stops sending here (see [`Step::Stall`]).
    pub fn stall(self) -> Self {
        self.step(Step::Stall)
    }

    /// Sets the final `done_reason` (default `stop`).
    pub fn done_reason(mut self, reason: DoneReason) -> Self {
        self.done_reason = reason;
        self
    }

    /// Sets `prompt_eval_count` and `eval_count` instead of estimating them from the text.
    pub fn usage(mut self, prompt_eval_count: u64, eval_count: u64) -> Self {
        self.prompt_eval_count = Some(prompt_eval_count);
        self.eval_count = Some(eval_count);
        self
    }

    /// The default reply when no script is queued: `text` echoed back, one chunk per word, the
    /// first after `delay`.
    pub(crate) fn echo(text: &str, delay: Duration) -> Self {
        let start = if delay.is_zero() {
            Self::new()
        } else {
            Self::new().delay(delay)
        };
        text.split_inclusive(char::is_whitespace)
            .fold(start, |script, word| script.text(word))
    }
}

/// Rough token count of `text` (four characters a token), as the fake reports it.
pub(crate) fn estimate_tokens(text: &str) -> u64 {
    let chars = u64::try_from(text.chars().count()).unwrap_or(u64::MAX);
    chars.div_ceil(4)
}
