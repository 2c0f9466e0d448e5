//! Discord adapter on twilight: gateway, commands, middleware and rendering.
//!
//! The self-contained parts, each in its own module, wired to the engine by the gateway loop:
//! - [`split`]: an answer over 2000 characters continues in new messages;
//! - [`throttle`]: one message edited as tokens arrive, within Discord's rate limits;
//! - [`pacer`]: every request within Discord's global limit and its buckets;
//! - [`first_post`]: when an answer's first message goes out (one request for a quick answer);
//! - [`render`]: what an answer's messages show, folded from the turn's events;
//! - [`components`]: buttons, menus, modals and the typed custom ids that come back;
//! - [`forms`]: MCP form requests as modals, and the typed answers back;
//! - [`mentions`]: outgoing messages never ping; incoming mention tokens become names;
//! - [`ids`]: twilight's typed ids as the engine's, the one place they convert;
//! - [`commands`]: the slash and context-menu commands, parsing, autocomplete and `/help`;
//! - [`middleware`]: the tower layers every command runs through;
//! - [`roles`]: bot roles, and what one person may do (commands, tools, models, approvals).
//!
//! And the runtime that wires them to the engine:
//! - [`bot`]: [`bot::run`], the configuration, and the shared context;
//! - [`gate`]: who may come in, and how often, checked before any handler runs;
//! - [`gateway`]: shards, their event loops, and messages that start turns;
//! - [`triggers`]: when the bot answers a message;
//! - [`conversation`]: which conversation a message belongs to;
//! - [`attachments`]: images, text files and other files for the model;
//! - [`reply`]: one turn rendered as streamed, edited messages;
//! - [`related`]: the "Related: <title>" button added to a final answer;
//! - [`interactions`]: commands, autocomplete, buttons, menus and modals;
//! - [`status`]: the shards' state and the adapter's metrics, for operators;
//! - `notices`: admin notices from the engine, logged and posted to the admin channel.

pub mod attachments;
pub mod audit;
pub mod bot;
pub mod budget;
pub mod commands;
pub mod components;
pub mod conversation;
pub mod first_post;
pub mod forms;
pub mod gate;
pub mod gateway;
pub mod ids;
pub mod interactions;
pub mod mentions;
pub mod middleware;
mod notices;
mod order;
pub mod pacer;
pub mod related;
pub mod render;
pub mod reply;
pub mod roles;
pub mod split;
pub mod status;
pub mod throttle;
pub mod triggers;
pub mod turns;

pub use bot::{BotConfig, BotError, Hooks, RestProxy, run, run_with};
