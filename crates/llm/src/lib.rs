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
    BackendHealth, BackendLoad, BackendModels, BackendPool, HEALTH_LOG_TARGET, PoolOptions,
    PooledStream,
};
pub use types::*;

/// An HTTP client for backends (and any other HTTPS the bot does), with TLS settings of its
/// own (see [`tls_config`]): it works whether or not a process-wide TLS provider is installed.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .tls_backend_preconfigured(tls_config())
        .build()
        .expect("a client with preconfigured TLS always builds")
}

/// TLS for HTTPS clients: rustls with the ring provider given explicitly (not the process
/// default, which only the binary installs), the operating system's CA certificates as reqwest
/// uses by default (Mozilla's, from `webpki-roots`, on a system that has none, such as a bare
/// container), and HTTP/2 offered before HTTP/1.1.
pub fn tls_config() -> rustls::ClientConfig {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions");
    let builder = match rustls_platform_verifier::Verifier::new(provider) {
        Ok(system) => builder
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(system)),
        Err(_) => builder.with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
    };
    let mut config = builder.with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
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
