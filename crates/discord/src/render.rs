//! The render state of one answer: what its Discord messages should show, given the turn's
//! events so far.
//!
//! Owns the look of an answer. [`Answer`] folds [`TurnEvent`]s (and the person's decisions on
//! its prompts) into blocks — the answer's text, a progress line per tool call
//! (`🔧 server › tool … 2.1 s`, later ✓ or ✗ with the time), notices, questions from MCP
//! servers — and [`Answer::view`] turns them, at a given instant, into the contents of the
//! messages (split by [`crate::split`]) and the [`Controls`] to attach to the last one. The
//! model's reasoning is kept apart: never in the answer, available for the private "Reasoning"
//! reply ([`Answer::reasoning_pieces`]). Nothing here does I/O or reads a clock.
//!
//! Why one long file: the render state is one state machine (events in, a view out) whose parts
//! — text blocks, tool lines, questions, reasoning, phases — change together. The tests that pin
//! what people see are in `render/tests.rs`.

use std::time::{Duration, Instant};

use mcpcord_engine::InputMode;
use mcpcord_engine::{TurnEvent, TurnSummary};

use crate::components::{ApprovalPrompt, Controls, ElicitationPrompt, shorten};
use crate::split::split_message;

/// The longest tool summary shown on a progress line.
pub const MAX_SUMMARY: usize = 120;
/// The longest progress message shown on a progress line.
pub const MAX_PROGRESS_MESSAGE: usize = 60;
/// The longest server question shown in the answer (the form holds the rest).
pub const MAX_QUESTION: usize = 400;
/// What a message shows while the model reasons and has written nothing yet.
pub const THINKING_PLACEHOLDER: &str = "-# 💭 thinking…";
/// What a finished answer without any text shows.
pub const EMPTY_ANSWER: &str = "*(the model gave no answer)*";
/// The line that marks an answer cut short.
pub const INTERRUPTED_MARK: &str = "-# ⏹️ interrupted";
/// The most characters of a tool call's arguments an approval prompt shows.
pub const APPROVAL_ARGUMENTS_CHARS: usize = 900;
/// Argument names (lower case, without `_` and `-`) whose values an approval prompt never
/// shows: a name ending in one of these (`api_key`, `github_token`, `db-password`).
const SECRET_NAMES: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "credential",
    "credentials",
    "privatekey",
    "cookie",
];

/// What a person is shown of a tool call's arguments before approving it: pretty JSON in a code
/// block, values of secret-looking names hidden, cut to [`APPROVAL_ARGUMENTS_CHARS`].
pub fn approval_arguments(arguments: &serde_json::Value) -> String {
    let shown = hide_secrets(arguments);
    let pretty = serde_json::to_string_pretty(&shown).unwrap_or_else(|_| shown.to_string());
    // A fence inside the arguments must not close the block: every backtick is followed by a
    // zero-width space, so no three ever stand together (replacing "```" alone leaves "````"
    // a fence). Escaped before cutting, so the cut still bounds the length.
    let pretty = shorten(&pretty.replace('`', "`\u{200b}"), APPROVAL_ARGUMENTS_CHARS);
    format!("```json\n{pretty}\n```")
}

fn hide_secrets(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| {
                    let plain: String = name
                        .chars()
                        .filter(|c| *c != '_' && *c != '-')
                        .flat_map(char::to_lowercase)
                        .collect();
                    let secret = SECRET_NAMES.iter().any(|s| plain.ends_with(s));
                    let shown = if secret {
                        Value::String("[hidden]".into())
                    } else {
                        hide_secrets(value)
                    };
                    (name.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(hide_secrets).collect()),
        other => other.clone(),
    }
}

/// Where the answer is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Being generated.
    Streaming,
    /// Finished; `interrupted` when stopped early (what was said is kept).
    Done {
        /// Stopped before the model finished.
        interrupted: bool,
    },
    /// Failed; the text says why, in words for the person.
    Failed(String),
}

/// A tool call as its progress line shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolLine {
    /// The call's index within the turn.
    pub call: usize,
    /// The MCP server (empty when unknown).
    pub server: String,
    /// The tool.
    pub tool: String,
    /// Where the call is.
    pub status: ToolStatus,
}

/// Where a tool call is.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolStatus {
    /// Running since the instant given; with the last progress reported, if any.
    Running {
        /// When it started.
        since: Instant,
        /// The last progress, formatted.
        progress: Option<String>,
    },
    /// Waiting for the person to approve it.
    AwaitingApproval {
        /// When it started.
        since: Instant,
        /// The arguments as the prompt shows them ([`approval_arguments`]).
        arguments: String,
    },
    /// Ended.
    Finished {
        /// Whether it succeeded.
        ok: bool,
        /// How long it took.
        elapsed: Duration,
        /// A one-line summary.
        summary: String,
    },
}

/// A question an MCP server asked the person.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The tool call it came with.
    pub call: usize,
    /// The server asking.
    pub server: String,
    /// The question.
    pub message: String,
    /// A form to fill in, or a page to visit.
    pub url: Option<String>,
    /// Whether the person has answered (or it was withdrawn).
    pub answered: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Block {
    Text(String),
    Tool(usize),
    Notice(String),
    Question(usize),
}

/// What the messages of an answer show at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The content of each message, in order (none yet while nothing is to be shown).
    pub pieces: Vec<String>,
    /// The controls, for the last message.
    pub controls: Controls,
}

/// The render state of one answer; see the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    model: Option<String>,
    blocks: Vec<Block>,
    tools: Vec<ToolLine>,
    questions: Vec<Question>,
    thinking: String,
    phase: Phase,
}

impl Default for Answer {
    fn default() -> Self {
        Self::new()
    }
}

impl Answer {
    /// An answer about to stream.
    pub fn new() -> Self {
        Self {
            model: None,
            blocks: Vec::new(),
            tools: Vec::new(),
            questions: Vec::new(),
            thinking: String::new(),
            phase: Phase::Streaming,
        }
    }

    /// Takes one event of the turn into account, `now` being when it arrived: a table from
    /// each kind of event to what it changes.
    pub fn apply(&mut self, event: &TurnEvent, now: Instant) {
        match event {
            TurnEvent::Started { model } => self.model = Some(model.clone()),
            TurnEvent::Text(delta) => self.text(delta),
            TurnEvent::Rewritten(text) => self.rewrite(text),
            TurnEvent::Thinking(delta) => self.thinking.push_str(delta),
            TurnEvent::ToolStarted {
                call, server, tool, ..
            } => self.tool_started(*call, server, tool, now),
            TurnEvent::ToolProgress {
                call,
                progress,
                total,
                message,
            } => self.tool_progress(
                *call,
                format_progress(*progress, *total, message.as_deref()),
            ),
            TurnEvent::ApprovalNeeded(request) => self.approval_needed(request, now),
            TurnEvent::InputRequested(prompt) => self.input_requested(prompt),
            TurnEvent::ToolFinished {
                call,
                ok,
                elapsed,
                summary,
            } => self.tool_finished(*call, *ok, *elapsed, summary),
            TurnEvent::Notice(notice) => self.blocks.push(Block::Notice(notice.clone())),
            TurnEvent::Done(summary) => self.done(summary),
            TurnEvent::Failed(error) => {
                let reason = crate::budget::refusal(error).unwrap_or_else(|| error.to_string());
                self.phase = Phase::Failed(reason);
            }
        }
    }

    /// More of the answer: the last text block grows, or a new one starts after a tool.
    fn text(&mut self, delta: &str) {
        match self.blocks.last_mut() {
            Some(Block::Text(text)) => text.push_str(delta),
            _ => self.blocks.push(Block::Text(delta.to_owned())),
        }
    }

    /// The text since the last tool, whole again (the content policy changed it).
    fn rewrite(&mut self, text: &str) {
        match self.blocks.last_mut() {
            Some(Block::Text(shown)) => text.clone_into(shown),
            _ => self.blocks.push(Block::Text(text.to_owned())),
        }
    }

    fn tool_started(&mut self, call: usize, server: &str, tool: &str, now: Instant) {
        let line = self.tool_mut(call, server, tool);
        line.status = ToolStatus::Running {
            since: now,
            progress: None,
        };
    }

    fn tool_progress(&mut self, call: usize, progress: String) {
        if let Some(ToolLine {
            status: ToolStatus::Running {
                progress: shown, ..
            },
            ..
        }) = self.tools.iter_mut().find(|t| t.call == call)
        {
            *shown = Some(progress);
        }
    }

    fn approval_needed(&mut self, request: &mcpcord_engine::ApprovalRequest, now: Instant) {
        let line = self.tool_mut(request.call, &request.server, &request.tool);
        let since = match line.status {
            ToolStatus::Running { since, .. } | ToolStatus::AwaitingApproval { since, .. } => since,
            ToolStatus::Finished { .. } => now,
        };
        line.status = ToolStatus::AwaitingApproval {
            since,
            arguments: approval_arguments(&request.arguments),
        };
    }

    fn input_requested(&mut self, prompt: &mcpcord_engine::InputPrompt) {
        let url = match &prompt.request.mode {
            InputMode::Form { .. } => None,
            InputMode::Url { url, .. } => Some(url.clone()),
        };
        self.questions.push(Question {
            call: prompt.call,
            server: prompt.request.server.clone(),
            message: prompt.request.message.clone(),
            url,
            answered: false,
        });
        self.blocks.push(Block::Question(self.questions.len() - 1));
    }

    fn tool_finished(&mut self, call: usize, ok: bool, elapsed: Duration, summary: &str) {
        let line = self.tool_mut(call, "", "");
        line.status = ToolStatus::Finished {
            ok,
            elapsed,
            summary: summary.to_owned(),
        };
        for question in self.questions.iter_mut().filter(|q| q.call == call) {
            question.answered = true;
        }
    }

    /// The turn ended: what the stream did not show (a model that only answered at the end,
    /// reasoning) is taken from the summary.
    fn done(&mut self, summary: &TurnSummary) {
        if self.model.is_none() {
            self.model = Some(summary.model.clone());
        }
        if !self.has_text() && !summary.text.trim().is_empty() {
            self.blocks.push(Block::Text(summary.text.clone()));
        }
        if self.thinking.is_empty() {
            self.thinking = summary.thinking.clone();
        }
        self.phase = Phase::Done {
            interrupted: summary.interrupted,
        };
    }

    /// Adds the error id of a failure's logged detail to what the person sees, so an operator
    /// can find it.
    pub fn tag_failure(&mut self, error_id: &str) {
        if let Phase::Failed(reason) = &mut self.phase {
            reason.push_str(&format!(" (error `{error_id}`)"));
        }
    }

    /// The person decided on tool call `call`: the line stops waiting.
    pub fn approval_decided(&mut self, call: usize) {
        if let Some(line) = self.tools.iter_mut().find(|t| t.call == call)
            && let ToolStatus::AwaitingApproval { since, .. } = line.status
        {
            line.status = ToolStatus::Running {
                since,
                progress: None,
            };
        }
    }

    /// The person answered (or dismissed) the question of tool call `call`.
    pub fn question_answered(&mut self, call: usize) {
        for question in self.questions.iter_mut().filter(|q| q.call == call) {
            question.answered = true;
        }
    }

    /// Marks the answer as cut short (the bot stopped it, e.g. at shutdown, before the engine
    /// said it was done).
    pub fn interrupt(&mut self) {
        if self.phase == Phase::Streaming {
            self.phase = Phase::Done { interrupted: true };
        }
    }

    /// Where the answer is.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Whether no more events will change it.
    pub fn is_finished(&self) -> bool {
        self.phase != Phase::Streaming
    }

    /// The model answering, once known.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The model's reasoning so far (never part of the answer).
    pub fn thinking(&self) -> &str {
        &self.thinking
    }

    /// The tool calls so far.
    pub fn tools(&self) -> &[ToolLine] {
        &self.tools
    }

    /// The questions servers asked so far.
    pub fn questions(&self) -> &[Question] {
        &self.questions
    }

    /// The reasoning as messages for the private "Reasoning" reply.
    pub fn reasoning_pieces(&self) -> Vec<String> {
        split_message(&self.thinking)
    }

    /// The whole answer as one markdown document, at `now` (running tools show their time).
    pub fn document(&self, now: Instant) -> String {
        let mut out = String::new();
        let mut previous_was_text = false;
        for block in &self.blocks {
            let Some((part, is_text)) = self.block_text(block, now) else {
                continue;
            };
            if !out.is_empty() {
                out.push_str(if is_text || previous_was_text {
                    "\n\n"
                } else {
                    "\n"
                });
            }
            out.push_str(&part);
            previous_was_text = is_text;
        }
        if let Some(ending) = self.ending() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&ending);
        }
        out
    }

    /// What `block` shows, and whether it is the answer's text; `None` for empty text.
    fn block_text(&self, block: &Block, now: Instant) -> Option<(String, bool)> {
        Some(match block {
            Block::Text(text) => {
                let text = text.trim_start_matches(['\n', '\r']).trim_end();
                if text.is_empty() {
                    return None;
                }
                (text.to_owned(), true)
            }
            Block::Tool(i) => (tool_line(&self.tools[*i], now), false),
            Block::Notice(notice) => (format!("-# ℹ️ {}", one_line(notice)), false),
            Block::Question(i) => (question_line(&self.questions[*i]), false),
        })
    }

    /// What closes the answer: the thinking placeholder, the empty-answer and interrupted
    /// marks, or why it failed.
    fn ending(&self) -> Option<String> {
        match &self.phase {
            Phase::Streaming if !self.has_text() && !self.thinking.is_empty() => {
                Some(THINKING_PLACEHOLDER.to_owned())
            }
            Phase::Streaming => None,
            Phase::Done { interrupted } => {
                let marks: Vec<&str> = [
                    (!self.has_text()).then_some(EMPTY_ANSWER),
                    interrupted.then_some(INTERRUPTED_MARK),
                ]
                .into_iter()
                .flatten()
                .collect();
                (!marks.is_empty()).then(|| marks.join("\n"))
            }
            Phase::Failed(reason) => Some(format!("⚠️ {}", one_line(reason))),
        }
    }

    /// The messages and controls to show at `now`.
    pub fn view(&self, now: Instant) -> View {
        View {
            pieces: split_message(&self.document(now)),
            controls: self.controls(),
        }
    }

    /// The controls the last message carries.
    pub fn controls(&self) -> Controls {
        let reasoning = !self.thinking.trim().is_empty();
        match &self.phase {
            Phase::Streaming => Controls {
                stop: true,
                approvals: self
                    .tools
                    .iter()
                    .filter(|t| matches!(t.status, ToolStatus::AwaitingApproval { .. }))
                    .map(|t| ApprovalPrompt {
                        call: u32::try_from(t.call).unwrap_or(u32::MAX),
                    })
                    .collect(),
                elicitations: self
                    .questions
                    .iter()
                    .filter(|q| !q.answered)
                    .map(|q| match &q.url {
                        Some(url) => ElicitationPrompt::Url {
                            url: url.clone(),
                            label: "Open the page".to_owned(),
                        },
                        None => ElicitationPrompt::Form {
                            call: u32::try_from(q.call).unwrap_or(u32::MAX),
                            label: if q.server.is_empty() {
                                "Answer".to_owned()
                            } else {
                                format!("Answer {}", q.server)
                            },
                        },
                    })
                    .collect(),
                ..Controls::default()
            },
            Phase::Done { .. } => Controls {
                regenerate: true,
                continue_: true,
                reasoning,
                ..Controls::default()
            },
            Phase::Failed(_) => Controls {
                regenerate: true,
                reasoning,
                ..Controls::default()
            },
        }
    }

    fn has_text(&self) -> bool {
        self.blocks
            .iter()
            .any(|b| matches!(b, Block::Text(t) if !t.trim().is_empty()))
    }

    /// The line of tool call `call`, created (with a block) if new; names fill in when known.
    fn tool_mut(&mut self, call: usize, server: &str, tool: &str) -> &mut ToolLine {
        let index = match self.tools.iter().position(|t| t.call == call) {
            Some(index) => index,
            None => {
                self.tools.push(ToolLine {
                    call,
                    server: String::new(),
                    tool: String::new(),
                    status: ToolStatus::Finished {
                        ok: true,
                        elapsed: Duration::ZERO,
                        summary: String::new(),
                    },
                });
                self.blocks.push(Block::Tool(self.tools.len() - 1));
                self.tools.len() - 1
            }
        };
        let line = &mut self.tools[index];
        if !server.is_empty() {
            line.server = server.to_owned();
        }
        if !tool.is_empty() {
            line.tool = tool.to_owned();
        }
        line
    }
}

/// `🔧 server › tool … 2.1 s`, `🔧 server › tool ✓ 2.1 s — summary`, `… ✗ …`.
fn tool_line(line: &ToolLine, now: Instant) -> String {
    let name = match (line.server.as_str(), line.tool.as_str()) {
        ("", "") => format!("call {}", line.call + 1),
        ("", tool) => escape(tool),
        (server, tool) => format!("{} › {}", escape(server), escape(tool)),
    };
    match &line.status {
        ToolStatus::Running { since, progress } => {
            let elapsed = now.saturating_duration_since(*since);
            let progress = progress
                .as_deref()
                .map(|p| format!(" · {p}"))
                .unwrap_or_default();
            format!("-# 🔧 {name} … {}{progress}", format_duration(elapsed))
        }
        ToolStatus::AwaitingApproval { arguments, .. } => {
            format!("-# 🔧 {name} ⏸️ waiting for approval\n{arguments}")
        }
        ToolStatus::Finished {
            ok,
            elapsed,
            summary,
        } => {
            let mark = if *ok { "✓" } else { "✗" };
            let summary = one_line(summary);
            let summary = if summary.is_empty() {
                String::new()
            } else {
                format!(" — {}", escape(&shorten(&summary, MAX_SUMMARY)))
            };
            format!("-# 🔧 {name} {mark} {}{summary}", format_duration(*elapsed))
        }
    }
}

fn question_line(question: &Question) -> String {
    let asker = if question.server.is_empty() {
        "A tool".to_owned()
    } else {
        format!("**{}**", escape(&question.server))
    };
    let message = escape(&shorten(&one_line(&question.message), MAX_QUESTION));
    if question.answered {
        format!("-# ❓ {asker} asked: {message} ✓")
    } else {
        format!("❓ {asker} asks: {message}")
    }
}

/// `2.1 s` under a minute, `1 min 5 s` above.
pub fn format_duration(elapsed: Duration) -> String {
    let tenths = elapsed.as_millis() / 100;
    if tenths < 600 {
        format!("{}.{} s", tenths / 10, tenths % 10)
    } else {
        let seconds = elapsed.as_secs();
        format!("{} min {} s", seconds / 60, seconds % 60)
    }
}

/// `3/10`, `40%` or `12.5`, and the message.
fn format_progress(progress: f64, total: Option<f64>, message: Option<&str>) -> String {
    let amount = progress_amount(progress, total);
    match message.map(one_line).filter(|m| !m.is_empty()) {
        Some(message) => format!(
            "{amount} {}",
            escape(&shorten(&message, MAX_PROGRESS_MESSAGE))
        ),
        None => amount,
    }
}

/// How far a tool is: `3/10` in whole steps, a percentage of a fractional total, or the bare
/// progress without a total.
fn progress_amount(progress: f64, total: Option<f64>) -> String {
    match total.filter(|&total| total > 0.0) {
        Some(total) if progress.fract() == 0.0 && total.fract() == 0.0 => {
            format!("{progress}/{total}")
        }
        Some(total) => format!("{:.0}%", (progress / total * 100.0).clamp(0.0, 100.0)),
        None => format!("{progress}"),
    }
}

/// The text on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escapes Discord markdown, so names and summaries show as written (and a backtick can never
/// open a code block across the answer).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
