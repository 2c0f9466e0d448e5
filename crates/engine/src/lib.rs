//! The conversation engine: turns a person's message into a streamed answer, calling MCP tools
//! as needed, and keeps every conversation in the database.
//!
//! It knows nothing of Discord: front ends (the Discord adapter, `mcpcord chat`) send a
//! [`TurnRequest`] and render the [`TurnEvent`]s of the [`Turn`] they get back.
//!
//! Besides MCP tools the model may be offered the engine's own (`builtin.rs`): `remember` and
//! `forget`, facts about the person it talks with (`facts.rs`).

mod audit;
mod bring_in;
mod budget;
mod builtin;
mod catalogue;
mod choice;
mod context;
mod conversations;
mod digest;
mod engine;
mod error;
mod events;
mod facts;
mod grants;
mod indexer;
mod locks;
mod loop_breaker;
mod memory;
mod notices;
mod policy;
mod posts;
mod preferences;
mod privacy;
mod recall;
mod related;
mod request;
mod search;
mod settings;
mod slot;
mod summariser;
pub mod telemetry;
mod template;
mod tools;
mod turn;

pub use bring_in::{BRING_IN_FOOTER, BRING_IN_HEADER, condense};
pub use budget::{
    Allowance, BudgetConfig, BudgetLimits, BudgetScope, BudgetStatus, REFRESH_AFTER, next_reset,
};
pub use builtin::BUILTIN_SERVER;
pub use catalogue::{ITEM_SEPARATOR, ToolListing, ToolSwitch, split_item, tools_named};
pub use choice::{VisionRoute, vision_route};
pub use context::TokenEstimator;
pub use conversations::usable_tag;
pub use digest::{SUMMARY_FOOTER, SUMMARY_HEADER};
pub use engine::{Clock, Engine, EngineConfig, MODEL_NAMES_TTL, Turn};
pub use error::EngineError;
pub use events::{Approval, ApprovalRequest, Approver, InputPrompt, TurnEvent, TurnSummary};
pub use facts::{FACTS_FOOTER, FACTS_HEADER, FACTS_TOKENS, MAX_FACT_CHARS, MAX_FACTS};
pub use grants::{Allowed, Grants, glob_matches, tool_name};
pub use memory::{DEFAULT_CATEGORIES, MemoryConfig};
pub use notices::{AdminNotice, AdminNotices};
pub use policy::audit::{POLICY_ACTIONS_TOTAL, POLICY_LOG_TARGET};
pub use policy::{
    ContentPolicy, Direction, Hit, MODERATION_UNAVAILABLE, Moderation, PlacePolicy, PolicyAction,
    PolicyError, PolicyRule, PolicyRules, REDACTED, RuleSet, Screened, Verdict, parse_verdict,
};
pub use privacy::DataRightsRequest;
pub use recall::{RECALL_FOOTER, RECALL_HEADER};
pub use related::Related;
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
    AuditEntry, AuditFilter, AuditKind, AuditRecord, Author, ChannelId, Conversation,
    ConversationData, ConversationId, ConversationKey, Fact, FactData, FactId, ForgetReport,
    GuildId, ListedConversation, MAX_TAG_CHARS, MAX_TAGS_PER_CONVERSATION, MessageData, MessageId,
    Named, PersonalData, PoolStats, PostId, PreferenceData, PreferenceLevel, Profile, REMOVED_NOTE,
    Role, Scope, SearchHit, SearchQuery, SearchScope, SearchStats, Summary, Tagged, ToolSwitchData,
    Topics, UserId, UtcDay, Viewer,
};
