//! Ollama's native API: `/api/chat` (NDJSON stream), `/api/tags`, `/api/show`, `/api/ps`,
//! `/api/version`, `/api/embed`.

mod client;
mod wire;

pub use client::{OllamaClient, RunningModel};
