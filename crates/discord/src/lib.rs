//! Discord adapter on twilight: gateway, commands, middleware and rendering.
//!
//! Filled in by the Discord adapter issue.
