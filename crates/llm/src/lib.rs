//! Model backends: Ollama's native API, OpenAI-compatible servers, and the backend pool.
//!
//! Everything streams: a request yields [`ChatEvent`]s (text, thinking, collected tool calls,
//! usage). Errors are named by what the caller does next ([`LlmError`]).

mod backend;
mod error;
mod http;
mod numbers;
pub mod ollama;
pub mod openai;
mod pool;
pub mod redact;
pub mod schema;
mod types;

use std::pin::Pin;

use futures::{Stream, StreamExt};

pub use backend::{Backend, BackendSpec};
pub use error::{LlmError, ServerKind};
pub use pool::{
    BackendHealth, BackendModels, BackendPool, HEALTH_LOG_TARGET, PoolOptions, PooledStream,
};
pub use types::*;

/// An HTTP client for backends. Installs the process's TLS provider (ring) first if none is
/// installed yet: reqwest is built without a default one.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("a TLS provider is installed, so the client builds")
}

/// A streamed answer.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, LlmError>> + Send>>;

/// Collects a streamed answer into one response.
pub async fn collect<S>(mut stream: S) -> Result<ChatResponse, LlmError>
where
    S: Stream<Item = Result<ChatEvent, LlmError>> + Unpin,
{
    let mut response = ChatResponse::default();
    while let Some(event) = stream.next().await {
        match event? {
            ChatEvent::Text(text) => response.text.push_str(&text),
            ChatEvent::Thinking(text) => response.thinking.push_str(&text),
            ChatEvent::ToolCalls(calls) => response.tool_calls.extend(calls),
            ChatEvent::Done(usage) => {
                response.usage = usage;
                return Ok(response);
            }
        }
    }
    Ok(response)
}
