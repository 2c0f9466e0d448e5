//! Builds the running parts from the configuration: the one place config types become the
//! lower crates' types.

use mcpcord_llm::{BackendPool, BackendSpec, PoolOptions, ServerKind};

use crate::config::{BackendKind, Config};

/// The backend pool for the configured backends.
pub fn backend_pool(config: &Config) -> BackendPool {
    let specs = config
        .backends
        .iter()
        .map(|b| BackendSpec {
            name: b.name.clone(),
            kind: match b.kind {
                BackendKind::Ollama => ServerKind::Ollama,
                BackendKind::Openai => ServerKind::OpenAi,
            },
            url: b.url.clone(),
            api_key: b.api_key.as_ref().map(|k| k.expose().to_string()),
            max_concurrency: b.max_concurrency.get() as usize,
            request_timeout: b.request_timeout,
            stall_timeout: b.stall_timeout,
        })
        .collect();
    BackendPool::new(
        specs,
        PoolOptions {
            max_context: Some(config.models.max_context.get()),
            ..PoolOptions::default()
        },
    )
}

/// Installs the process-wide TLS provider (ring); HTTPS clients panic without one.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
