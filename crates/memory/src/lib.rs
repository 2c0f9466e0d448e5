//! Storage for mcpcord on SQLite or PostgreSQL: conversations, messages, preferences, the users
//! and guilds the bot has seen, tools turned off per channel, retention, token usage per day,
//! the audit log ([`AuditEntry`]), remote MCP servers' logins as the binary sealed them
//! ([`SealedCredentials`]), search (a keyword index, scope, rank fusion), message embeddings
//! with an in-process vector index ([`vectors`]), hybrid recall of earlier conversations, and
//! conversation tags with a person's list of recent conversations ([`ListedConversation`]),
//! the facts the bot remembers about a person ([`Fact`]), and rolling summaries with titles,
//! categories and entities ([`Summary`]).
//!
//! This crate owns the schema (embedded migrations, run by [`Store::connect`]), every SQL
//! statement, and the conversion of Rust values into column values (`src/db.rs` is the one
//! place where the front end's typed ids ([`UserId`], [`GuildId`], [`ChannelId`], [`PostId`])
//! become `i64`, times become unix milliseconds and JSON becomes text). The engine talks to a
//! [`Store`]; nothing above this crate writes SQL.
//!
//! # One code path over two databases
//!
//! The store holds a [`sqlx::AnyPool`]: one pool type over both drivers, so every query is
//! written once, with `$1` placeholders (SQLite reads them too) and only types both databases
//! share: `i64`, `TEXT`, unix-millisecond `i64` times, JSON as `TEXT`, flags as 0 / 1. The
//! alternative, an enum over `SqlitePool` and `PgPool`, would need every call site written twice
//! (or generic over `sqlx::Database` with pages of trait bounds) for no gain here. The one place
//! the databases differ is the DDL (`AUTOINCREMENT` against identity columns), so there are two
//! migration folders, `migrations/sqlite` and `migrations/postgres`, with the same numbered files.
//! Queries are checked at run time by the tests, against both databases; building needs no
//! database.
//!
//! # Durability
//!
//! A user's message is written as soon as it arrives ([`Store::add_user_message`]); the model's
//! answer, with its tool calls and results, is written by [`Store::commit_turn`] in one
//! transaction before the answer is shown as final. A crash therefore leaves the history complete
//! up to the last finished turn plus the user's message, never half a turn. SQLite runs in WAL
//! mode with a busy timeout and foreign keys on, with full `synchronous`, so a committed turn
//! survives a crash of the process and of the machine. The two writes on the way to the model
//! (a new conversation, the user's message) are the exception: they commit with `synchronous =
//! NORMAL`, durable against a crash of the process without waiting for the disk, so that
//! concurrent turns do not queue on fsync; the turn's commit syncs the WAL, and with it them.
//! The group commit (`group.rs`) syncs the WAL apart from SQLite's write lock, so a turn on
//! its way to the model never waits behind another turn's fsync either. Nor, on SQLite while
//! this process is the only writer, behind other turns' writes: ids are given in memory and
//! the person's message is queued ([`Store::conversation_with_message_queued`]); the turn
//! awaits its [`Written`] handle before it commits the answer, which the same queue writes
//! after it. A crash before the queued write is committed loses the message (and a
//! conversation it started) whole; nothing half-written is left.
//!
//! # Hot state
//!
//! On SQLite, preferences, tools turned off and recently used conversations are kept in memory
//! and changed with every write through the store (`hot.rs`), so a turn reads nothing from the
//! disk before the model; PostgreSQL (shared by several processes) keeps nothing.

mod audit;
mod conversations;
mod credentials;
mod db;
mod directory;
mod embeddings;
mod error;
mod facts;
mod group;
mod hot;
mod ids;
mod listing;
mod locks;
mod messages;
mod preferences;
mod privacy;
mod recall;
mod related;
mod retention;
mod search;
mod store;
mod summaries;
mod tags;
mod tools;
mod usage;
pub mod vectors;

pub use audit::{AuditEntry, AuditFilter, AuditKind, AuditRecord, arguments_digest};
pub use conversations::{Conversation, Started, Written};
pub use credentials::{RefreshLock, SealedCredentials};
pub use directory::{Guild, User};
pub use embeddings::{PendingMessage, StoredEmbedding};
pub use error::MemoryError;
pub use facts::{Fact, FactId};
pub use ids::{
    ChannelId, ConversationId, ConversationKey, GuildId, MessageId, PostId, Scope, UserId,
};
pub use listing::ListedConversation;
pub use locks::{ConversationLock, advisory_id};
pub use messages::{Author, NewMessage, Role, StoredMessage};
pub use preferences::{Preference, PreferenceLevel, Preferences};
pub use privacy::{
    ConversationData, EntityData, FactData, ForgetReport, MessageData, PersonalData,
    PreferenceData, Profile, REMOVED_NOTE, SummaryData, TagData, ToolSwitchData, UsageData,
};
pub use recall::{RecallQuery, Snippet};
pub use related::{RelatedConversation, RelatedQuery};
pub use search::{
    DEFAULT_HALF_LIFE, DEFAULT_RRF_K, EMBEDDINGS_TABLE, Meaning, SearchHit, SearchQuery,
    SearchScope, SearchStats, Viewer, fuse, fuse_weighted, recency_weight,
};
pub use store::{Backend, PoolStats, Store};
pub use summaries::{
    BackgroundJob, Entity, EntityKind, NewSummary, Summary, SummarySource, Topics,
};
pub use tags::{MAX_TAG_CHARS, MAX_TAGS_PER_CONVERSATION, Named, Tagged, tag_name};
pub use tools::DisabledTool;
pub use usage::{DayUsage, USAGE_KEEP_DAYS, UtcDay};
