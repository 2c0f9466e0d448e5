//! Plays one script for one chat request. The runner owns timing (delays, stalls, cuts, shutdown)
//! and the usage numbers; a [`Render`] turns its events into the wire format of one dialect
//! (native NDJSON or OpenAI SSE). Non-streaming requests collect the events into one [`Reply`].

use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;
use http::StatusCode;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::errors::{cut_error, scripted_status};
use super::script::{DoneReason, FakeToolCall, Script, Step, estimate_tokens};
use super::state::InFlight;

/// A tool call as sent: with its id and its index within the reply.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToolCall {
    pub id: String,
    pub index: usize,
    pub name: String,
    pub arguments: Value,
}

/// Something the model produced, for a renderer to encode.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    Text(&'a str),
    Thinking(&'a str),
    ToolCalls(&'a [IssuedToolCall]),
    /// A mid-stream error; the stream ends after it.
    Error(&'a str),
}

/// The numbers of the final chunk (durations in nanoseconds).
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    pub done_reason: DoneReason,
    pub had_tool_calls: bool,
    pub prompt_eval_count: u64,
    pub eval_count: u64,
    pub total_duration: u64,
    pub load_duration: u64,
    pub prompt_eval_duration: u64,
    pub eval_duration: u64,
}

/// Encodes events in one dialect.
pub(crate) trait Render: Send + 'static {
    fn event(&mut self, event: Event<'_>) -> Vec<Bytes>;
    fn finish(&mut self, summary: &Summary) -> Vec<Bytes>;
}

/// Everything needed to play a script.
pub(crate) struct Run {
    pub script: Script,
    pub emit_thinking: bool,
    pub prompt_tokens: u64,
    pub started: Instant,
    pub cancel: CancellationToken,
    pub guard: InFlight,
}

/// After the leading steps: stream the rest, answer with an error, or cut.
pub(crate) enum Start {
    Go(Run),
    Error(StatusCode, String),
    Cut,
}

/// A whole reply, for non-streaming requests.
pub(crate) struct Reply {
    pub content: String,
    pub thinking: String,
    pub tool_calls: Vec<IssuedToolCall>,
    pub summary: Summary,
}

/// The outcome of a non-streaming request.
pub(crate) enum Collected {
    Reply(Reply),
    Error(StatusCode, String),
    Cut,
}

/// Waits `duration`; false when the fake shut down first.
async fn pause(duration: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => true,
        () = cancel.cancelled() => false,
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Counts what was generated, to fill the final chunk.
struct Meter {
    generation_started: Instant,
    eval_tokens: u64,
    next_index: usize,
    had_tool_calls: bool,
}

impl Meter {
    fn new() -> Self {
        Self {
            generation_started: Instant::now(),
            eval_tokens: 0,
            next_index: 0,
            had_tool_calls: false,
        }
    }

    fn text(&mut self, text: &str) {
        self.eval_tokens += estimate_tokens(text);
    }

    fn issue(&mut self, calls: &[FakeToolCall]) -> Vec<IssuedToolCall> {
        self.had_tool_calls |= !calls.is_empty();
        calls
            .iter()
            .map(|call| {
                let index = self.next_index;
                self.next_index += 1;
                self.eval_tokens += estimate_tokens(&call.arguments.to_string()) + 2;
                let id = uuid::Uuid::new_v4().simple().to_string();
                IssuedToolCall {
                    id: format!("call_{}", id.get(..8).unwrap_or(&id)),
                    index,
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                }
            })
            .collect()
    }

    fn summary(&self, run: &RunInfo) -> Summary {
        let load = nanos(self.generation_started - run.started).max(1_000);
        let prompt = run.prompt_tokens.saturating_mul(10_000).max(1_000);
        let eval = nanos(self.generation_started.elapsed()).max(1_000);
        let total = nanos(run.started.elapsed()).max(load + prompt + eval);
        Summary {
            done_reason: run.done_reason,
            had_tool_calls: self.had_tool_calls,
            prompt_eval_count: run.prompt_eval_count.unwrap_or(run.prompt_tokens).max(1),
            eval_count: run.eval_count.unwrap_or(self.eval_tokens).max(1),
            total_duration: total,
            load_duration: load,
            prompt_eval_duration: prompt,
            eval_duration: eval,
        }
    }
}

/// The parts of a run the summary needs, kept once the steps are consumed.
struct RunInfo {
    started: Instant,
    prompt_tokens: u64,
    done_reason: DoneReason,
    prompt_eval_count: Option<u64>,
    eval_count: Option<u64>,
}

impl Run {
    fn split(self) -> (Vec<Step>, RunInfo, bool, CancellationToken, InFlight) {
        let info = RunInfo {
            started: self.started,
            prompt_tokens: self.prompt_tokens,
            done_reason: self.script.done_reason,
            prompt_eval_count: self.script.prompt_eval_count,
            eval_count: self.script.eval_count,
        };
        (
            self.script.steps,
            info,
            self.emit_thinking,
            self.cancel,
            self.guard,
        )
    }

    /// Plays the leading delays, stall or HTTP error, which come before the response head.
    pub async fn start(mut self) -> Start {
        let mut done = 0;
        for step in &self.script.steps {
            match step {
                Step::Delay(d) if !pause(*d, &self.cancel).await => return Start::Cut,
                Step::Delay(_) => {}
                Step::Stall => {
                    self.cancel.cancelled().await;
                    return Start::Cut;
                }
                Step::HttpError { status, message } => {
                    return Start::Error(scripted_status(*status), message.clone());
                }
                _ => break,
            }
            done += 1;
        }
        self.script.steps.drain(..done);
        Start::Go(self)
    }

    /// The rest of the script as body chunks; a cut ends the body with an error.
    pub fn into_stream<R: Render>(
        self,
        mut render: R,
    ) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
        let (steps, info, emit_thinking, cancel, guard) = self.split();
        async_stream::stream! {
            let _guard = guard;
            let mut meter = Meter::new();
            for step in steps {
                let chunks = match step {
                    Step::Text(text) => {
                        meter.text(&text);
                        render.event(Event::Text(&text))
                    }
                    Step::Thinking(text) if emit_thinking => {
                        meter.text(&text);
                        render.event(Event::Thinking(&text))
                    }
                    Step::Thinking(_) => Vec::new(),
                    Step::ToolCalls(calls) => {
                        let issued = meter.issue(&calls);
                        render.event(Event::ToolCalls(&issued))
                    }
                    Step::Delay(d) => {
                        if !pause(d, &cancel).await {
                            yield Err(cut_error());
                            return;
                        }
                        Vec::new()
                    }
                    Step::Stall => {
                        cancel.cancelled().await;
                        yield Err(cut_error());
                        return;
                    }
                    Step::DropConnection => {
                        yield Err(cut_error());
                        return;
                    }
                    Step::StreamError(message) | Step::HttpError { message, .. } => {
                        for chunk in render.event(Event::Error(&message)) {
                            yield Ok(chunk);
                        }
                        return;
                    }
                };
                for chunk in chunks {
                    yield Ok(chunk);
                }
                // Give hyper a pending poll so it flushes this chunk now, as Ollama flushes
                // every chunk; a cut that follows then reaches the client after the data.
                tokio::task::yield_now().await;
            }
            for chunk in render.finish(&meter.summary(&info)) {
                yield Ok(chunk);
            }
        }
    }

    /// Plays the whole script and gathers the reply.
    pub async fn collect(self) -> Collected {
        let (steps, info, emit_thinking, cancel, _guard) = self.split();
        let mut meter = Meter::new();
        let (mut content, mut thinking, mut tool_calls) =
            (String::new(), String::new(), Vec::new());
        for step in steps {
            match step {
                Step::Text(text) => {
                    meter.text(&text);
                    content.push_str(&text);
                }
                Step::Thinking(text) if emit_thinking => {
                    meter.text(&text);
                    thinking.push_str(&text);
                }
                Step::Thinking(_) => {}
                Step::ToolCalls(calls) => tool_calls.extend(meter.issue(&calls)),
                Step::Delay(d) if !pause(d, &cancel).await => return Collected::Cut,
                Step::Delay(_) => {}
                Step::Stall => {
                    cancel.cancelled().await;
                    return Collected::Cut;
                }
                Step::DropConnection => return Collected::Cut,
                Step::StreamError(message) => {
                    return Collected::Error(StatusCode::INTERNAL_SERVER_ERROR, message);
                }
                Step::HttpError { status, message } => {
                    return Collected::Error(scripted_status(status), message);
                }
            }
        }
        Collected::Reply(Reply {
            content,
            thinking,
            tool_calls,
            summary: meter.summary(&info),
        })
    }
}
