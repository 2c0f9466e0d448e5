//! Engine errors, named by what the person can do about them.

use mcpcord_llm::LlmError;
use mcpcord_memory::MemoryError;

/// Why a turn could not be answered.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The model backend failed; its message says what to do.
    #[error(transparent)]
    Model(#[from] LlmError),
    /// The database failed.
    #[error("the conversation could not be saved: {0}")]
    Storage(String),
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
    /// The message has images and no model that can see them is configured.
    #[error(
        "model {model:?} cannot see images, and no vision model is configured (set models.vision)"
    )]
    NoVisionModel {
        /// The model that was asked.
        model: String,
    },
    /// The whole turn took longer than `limits.turn_timeout`.
    #[error("the answer took longer than {0:?} and was stopped")]
    TimedOut(std::time::Duration),
    /// The engine is shutting down and takes no new turns.
    #[error("the bot is shutting down; try again in a moment")]
    ShuttingDown,
}

impl From<MemoryError> for EngineError {
    fn from(error: MemoryError) -> Self {
        EngineError::Storage(error.to_string())
    }
}
