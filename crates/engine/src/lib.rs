//! The conversation engine: turns a person's message into a streamed answer, calling MCP tools
//! as needed, and keeps every conversation in the database.
//!
//! It knows nothing of Discord: front ends (the Discord adapter, `mcpcord chat`) send a
//! [`TurnRequest`] and render the [`TurnEvent`]s of the [`Turn`] they get back.

mod choice;
mod context;
mod engine;
mod error;
mod events;
mod loop_breaker;
mod request;
mod slot;
mod template;
mod tools;
mod turn;

pub use choice::{ModelPreferences, VisionRoute, preferred, vision_route};
pub use context::TokenEstimator;
pub use engine::{Engine, EngineConfig, MODEL_NAMES_TTL, Turn};
pub use error::EngineError;
pub use events::{Approval, ApprovalRequest, InputPrompt, TurnEvent, TurnSummary};
pub use request::{Speaker, TurnAction, TurnRequest, UserMessage};
pub use template::{Place, render, resolve_mentions};
