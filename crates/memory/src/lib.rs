//! Storage and retrieval on SQLite or PostgreSQL: conversations, messages, preferences, audit.
//!
//! Filled in by the engine and memory issue.
