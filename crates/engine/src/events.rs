//! What a turn reports to its front end, in order, as it runs.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::error::EngineError;

/// One thing that happened during a turn.
#[derive(Debug)]
pub enum TurnEvent {
    /// The turn began with this model.
    Started {
        /// The model answering.
        model: String,
    },
    /// More of the answer.
    Text(String),
    /// The answer's text since the last tool call (or since it began), whole, as it must now
    /// read: replaces what the `Text` deltas of this stretch showed. Sent when the content
    /// policy redacts a match completed across deltas that had already been shown, or withholds
    /// the answer (the text is then a notice).
    Rewritten(String),
    /// More of the model's reasoning (never part of the answer).
    Thinking(String),
    /// A tool call began.
    ToolStarted {
        /// Identifies the call within the turn.
        call: usize,
        /// The MCP server.
        server: String,
        /// The tool's name on that server.
        tool: String,
        /// The arguments.
        arguments: Value,
    },
    /// A running tool reported progress.
    ToolProgress {
        /// Identifies the call within the turn.
        call: usize,
        /// Progress so far.
        progress: f64,
        /// Total, if known.
        total: Option<f64>,
        /// A message, if any.
        message: Option<String>,
    },
    /// A tool whose policy is `ask` waits for a person to decide.
    ApprovalNeeded(ApprovalRequest),
    /// An MCP server asks the person for input (a form, or a URL to visit).
    InputRequested(InputPrompt),
    /// A tool call ended.
    ToolFinished {
        /// Identifies the call within the turn.
        call: usize,
        /// Whether it succeeded (an error result, a denial or a failure is `false`).
        ok: bool,
        /// How long it took.
        elapsed: Duration,
        /// A one-line summary for display.
        summary: String,
    },
    /// Something the person should know (messages left out, tools unavailable, …).
    Notice(String),
    /// The turn ended; its answer is in the database.
    Done(TurnSummary),
    /// The turn failed; what had been said is kept.
    Failed(EngineError),
}

/// Who answered an approval: set by the front end before it replies, when it knows (someone
/// other than the person whose turn it is may approve: an admin, a bot role that approves for
/// others). The audit log names them.
#[derive(Debug, Clone, Default)]
pub struct Approver(std::sync::Arc<std::sync::OnceLock<mcpcord_memory::UserId>>);

impl Approver {
    /// Records that `who` answered (the first answer counts).
    pub fn set(&self, who: mcpcord_memory::UserId) {
        let _ = self.0.set(who);
    }

    /// Who answered, if the front end said.
    pub(crate) fn get(&self) -> Option<mcpcord_memory::UserId> {
        self.0.get().copied()
    }
}

/// A question to the person whose turn it is: may this tool run?
#[derive(Debug)]
pub struct ApprovalRequest {
    /// Identifies the call within the turn.
    pub call: usize,
    /// The MCP server.
    pub server: String,
    /// The tool.
    pub tool: String,
    /// The arguments.
    pub arguments: Value,
    /// Where the answer goes; dropping it denies.
    pub reply: oneshot::Sender<Approval>,
    /// Who answered, set before replying.
    pub approver: Approver,
}

/// A server's question to the person whose turn it is.
#[derive(Debug)]
pub struct InputPrompt {
    /// The tool call during which it was asked.
    pub call: usize,
    /// The question.
    pub request: mcpcord_mcp::InputRequest,
    /// Where the answer goes; dropping it declines.
    pub reply: oneshot::Sender<mcpcord_mcp::InputAnswer>,
}

/// A person's answer to an [`ApprovalRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Run it this once.
    Approve,
    /// Run it, and this tool again without asking when the same person's turns in this
    /// conversation call it (until the bot restarts).
    AlwaysInConversation,
    /// Do not run it.
    Deny,
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnSummary {
    /// The model that answered.
    pub model: String,
    /// The whole answer.
    pub text: String,
    /// The whole reasoning, if any.
    pub thinking: String,
    /// Tokens in the last prompt, as the backend counted them.
    pub prompt_tokens: Option<u32>,
    /// Tokens generated over the turn.
    pub completion_tokens: u32,
    /// Tool calls made.
    pub tool_calls: usize,
    /// Model rounds taken.
    pub rounds: u32,
    /// Whether the turn was stopped before it finished (what was said is kept).
    pub interrupted: bool,
    /// The stored id of the answer, for later edits and regeneration.
    pub message_id: Option<mcpcord_memory::MessageId>,
}
