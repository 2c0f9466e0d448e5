//! MCP host: server supervision, the tool catalogue, calls, prompts and resources.
//!
//! Filled in by the MCP-host issue.
