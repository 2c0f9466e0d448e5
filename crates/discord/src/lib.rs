//! Discord adapter on twilight: gateway, commands, middleware and rendering.
//!
//! This round holds the self-contained parts; the gateway loop and REST rendering wire them to
//! the engine.

pub mod split;
pub mod throttle;
pub mod components;
pub mod mentions;
