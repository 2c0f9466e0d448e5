//! Discord adapter on twilight: gateway, commands, middleware and rendering.
//!
//! The self-contained parts, each in its own module, wired to the engine by the gateway loop:
//! - [`split`]: an answer over 2000 characters continues in new messages;
//! - [`throttle`]: one message edited as tokens arrive, within Discord's rate limits;
//! - [`render`]: what an answer's messages show, folded from the turn's events;
//! - [`components`]: buttons, menus, modals and the typed custom ids that come back;
//! - [`forms`]: MCP form requests as modals, and the typed answers back;
//! - [`mentions`]: outgoing messages never ping; incoming mention tokens become names;
//! - [`commands`]: the slash and context-menu commands, parsing, autocomplete and `/help`;
//! - [`middleware`]: the tower layers every command runs through.

pub mod commands;
pub mod components;
pub mod forms;
pub mod mentions;
pub mod middleware;
pub mod render;
pub mod split;
pub mod throttle;
