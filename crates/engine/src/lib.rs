//! Conversation engine: turns, the tool loop, context building, policies and turn events.
//!
//! Knows nothing of Discord; the same engine drives `mcpcord chat`. Filled in by the engine issue.
