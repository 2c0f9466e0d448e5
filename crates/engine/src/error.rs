//! Engine errors, named by what the person can do about them.

use std::sync::Arc;
use std::time::SystemTime;

use mcpcord_llm::LlmError;
use mcpcord_mcp::HostError;
use mcpcord_memory::MemoryError;

use crate::budget::BudgetScope;

/// Why a turn could not be answered.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The model backend failed; its message says what to do.
    #[error(transparent)]
    Model(#[from] LlmError),
    /// The database failed.
    #[error("the database failed: {0}")]
    Storage(#[source] Arc<MemoryError>),
    /// No MCP servers are configured, so there are no tools, prompts or resources.
    #[error("no MCP servers are configured")]
    NoTools,
    /// A name that names nothing (a model, a prompt, a tool, …).
    #[error("there is no {kind} called `{name}`")]
    NotFound {
        /// What was looked for.
        kind: &'static str,
        /// The name given.
        name: String,
    },
    /// An MCP server refused or failed a front end's request (a prompt, a resource).
    #[error("{what} failed: {source}")]
    Tools {
        /// What was asked.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: HostError,
    },
    /// Regenerate or Continue with nothing to work on.
    #[error("there is no answer to {action} in this conversation yet")]
    NothingTo {
        /// `regenerate` or `continue`.
        action: &'static str,
    },
    /// Regenerate or Continue on an answer that is no longer the conversation's latest.
    #[error(
        "this answer is no longer the latest in its conversation; only the latest can be {action}d"
    )]
    NotLatest {
        /// `regenerate` or `continue`.
        action: &'static str,
    },
    /// A request the engine cannot do as asked; the text says what works instead.
    #[error("{detail}")]
    Invalid {
        /// What was wrong, and what to do instead.
        detail: String,
    },
    /// The content policy refused the person's message: it was neither stored nor sent to the
    /// model. Names the rule (its category), never the text it matched.
    #[error(
        "your message was not sent to the model: it breaks the content policy ({rule}); rephrase it and try again"
    )]
    ContentRefused {
        /// The name of the block rule that matched.
        rule: String,
    },
    /// The place's moderation model gave no verdict on the message and the place fails closed:
    /// it was neither stored nor sent to the model.
    #[error(
        "your message was not sent to the model: the moderation model that checks messages here did not answer; try again in a few minutes, and tell an admin if it keeps happening"
    )]
    ModerationUnavailable,
    /// The person's or their guild's token budget for the day is spent: the turn was refused
    /// before it started. A front end shows `resets_at` in the person's own time.
    #[error("{}", over_budget(*scope, *limit, *resets_at))]
    OverBudget {
        /// Whose budget.
        scope: BudgetScope,
        /// Tokens used today.
        used: u64,
        /// Tokens allowed per day.
        limit: u64,
        /// When the budget starts again: the next midnight UTC.
        resets_at: SystemTime,
    },
    /// The engine is shutting down and takes no new turns.
    #[error("the bot is shutting down; try again in a moment")]
    ShuttingDown,
}

impl From<MemoryError> for EngineError {
    fn from(error: MemoryError) -> Self {
        EngineError::Storage(Arc::new(error))
    }
}

/// What an [`EngineError::OverBudget`] says, in words (the terminal shows it as it is).
fn over_budget(scope: BudgetScope, limit: u64, resets_at: SystemTime) -> String {
    let whose = match scope {
        BudgetScope::Person => "you have used your",
        BudgetScope::Guild => "this server has used its",
    };
    format!(
        "{whose} {limit} tokens for today; the budget resets at midnight UTC ({})",
        humantime::format_rfc3339_seconds(resets_at)
    )
}
