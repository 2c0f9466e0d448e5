//! The conversation engine: turns a person's message into a streamed answer, calling MCP tools
//! as needed, and keeps every conversation in the database.
//!
//! It knows nothing of Discord: front ends (the Discord adapter, `mcpcord chat`) send a
//! [`TurnRequest`] and render the [`TurnEvent`]s of the [`Turn`] they get back.

mod audit;
mod budget;
mod catalogue;
mod choice;
mod context;
mod digest;
mod engine;
mod error;
mod events;
mod grants;
mod indexer;
mod locks;
mod loop_breaker;
mod memory;
mod policy;
mod posts;
mod preferences;
mod privacy;
mod recall;
mod request;
mod search;
mod settings;
mod slot;
mod summariser;
pub mod telemetry;
mod template;
mod tools;
mod turn;

pub use budget::{
    Allowance, BudgetConfig, BudgetLimits, BudgetScope, BudgetStatus, REFRESH_AFTER, next_reset,
};
pub use catalogue::{ITEM_SEPARATOR, ToolListing, ToolSwitch, split_item, tools_named};
pub use choice::{VisionRoute, vision_route};
pub use context::TokenEstimator;
pub use digest::{SUMMARY_FOOTER, SUMMARY_HEADER};
pub use engine::{Clock, Engine, EngineConfig, MODEL_NAMES_TTL, Turn};
pub use error::EngineError;
pub use events::{Approval, ApprovalRequest, Approver, InputPrompt, TurnEvent, TurnSummary};
pub use grants::{Allowed, Grants, glob_matches, tool_name};
pub use memory::{DEFAULT_CATEGORIES, MemoryConfig};
pub use policy::audit::{POLICY_ACTIONS_TOTAL, POLICY_LOG_TARGET};
pub use policy::{
    ContentPolicy, Direction, Hit, MODERATION_UNAVAILABLE, Moderation, PlacePolicy, PolicyAction,
    PolicyError, PolicyRule, PolicyRules, REDACTED, RuleSet, Screened, Verdict, parse_verdict,
};
pub use privacy::DataRightsRequest;
pub use recall::{RECALL_FOOTER, RECALL_HEADER};
pub use request::{Speaker, TurnAction, TurnRequest, UserMessage};
pub use settings::{Settings, Source};
pub use telemetry::{EngineStatus, TURN_LOG_TARGET};
pub use template::{Place, render, resolve_mentions};

// The types the engine's API and events carry, so a front end depends on the engine alone.
pub use mcpcord_llm::{BackendLoad, BackendModels};
pub use mcpcord_mcp::{
    Catalogue, InputAnswer, InputMode, InputRequest, PromptDescriptor, ServerState, ServerStatus,
    ToolDescriptor,
};
pub use mcpcord_memory::{
    AuditEntry, AuditFilter, AuditKind, AuditRecord, Author, ChannelId, ConversationData,
    ConversationId, ConversationKey, ForgetReport, GuildId, MessageData, MessageId, PersonalData,
    PoolStats, PostId, PreferenceData, PreferenceLevel, Profile, REMOVED_NOTE, Role, Scope,
    SearchHit, SearchQuery, SearchScope, SearchStats, Summary, ToolSwitchData, Topics, UserId,
    UtcDay, Viewer,
};
