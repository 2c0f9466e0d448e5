//! One configured model server, of either kind, behind one interface.

use std::time::Duration;

use url::Url;

use crate::ChatStream;
use crate::error::{LlmError, ServerKind};
use crate::ollama::OllamaClient;
use crate::openai::OpenAiClient;
use crate::types::{ChatRequest, ChatResponse, ModelInfo};

/// What the pool needs to know to talk to a server.
#[derive(Debug, Clone)]
pub struct BackendSpec {
    /// Unique name, for logs and errors.
    pub name: String,
    /// Which API it speaks.
    pub kind: ServerKind,
    /// Base URL (for OpenAI-compatible servers, the one ending in `/v1`).
    pub url: Url,
    /// Bearer API key, if the server wants one.
    pub api_key: Option<String>,
    /// Requests sent at once; more wait their turn.
    pub max_concurrency: usize,
    /// Time allowed from sending a request to its first chunk (covers a model's first load).
    pub request_timeout: Duration,
    /// Longest silence allowed between two chunks of a stream.
    pub stall_timeout: Duration,
}

impl BackendSpec {
    /// A spec with the defaults: one request at a time, 5 minutes to the first chunk, 60 s stall.
    pub fn new(name: impl Into<String>, kind: ServerKind, url: Url) -> Self {
        Self {
            name: name.into(),
            kind,
            url,
            api_key: None,
            max_concurrency: 1,
            request_timeout: Duration::from_secs(300),
            stall_timeout: Duration::from_secs(60),
        }
    }
}

/// A client for one server.
#[derive(Debug, Clone)]
pub enum Backend {
    /// Ollama's native API.
    Ollama(OllamaClient),
    /// An OpenAI-compatible API.
    OpenAi(OpenAiClient),
}

impl Backend {
    /// A client for `spec`, sharing `http`'s connection pool.
    pub fn new(spec: BackendSpec, http: reqwest::Client) -> Self {
        match spec.kind {
            ServerKind::Ollama => Backend::Ollama(OllamaClient::new(spec, http)),
            ServerKind::OpenAi => Backend::OpenAi(OpenAiClient::new(spec, http)),
        }
    }

    /// The spec it was made from.
    pub fn spec(&self) -> &BackendSpec {
        match self {
            Backend::Ollama(c) => c.spec(),
            Backend::OpenAi(c) => c.spec(),
        }
    }

    /// Streams the answer to `request`.
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        match self {
            Backend::Ollama(c) => c.chat(request).await,
            Backend::OpenAi(c) => c.chat(request).await,
        }
    }

    /// The whole answer to `request`, without streaming.
    pub async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        match self {
            Backend::Ollama(c) => c.complete(request).await,
            Backend::OpenAi(c) => c.complete(request).await,
        }
    }

    /// The models on the server (names, and whatever else the listing tells).
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        match self {
            Backend::Ollama(c) => c.list_models().await,
            Backend::OpenAi(c) => c.list_models().await,
        }
    }

    /// Everything the server says about `model` (capabilities, context length).
    pub async fn model_info(&self, model: &str) -> Result<ModelInfo, LlmError> {
        match self {
            Backend::Ollama(c) => c.show(model).await,
            Backend::OpenAi(c) => c.model_info(model).await,
        }
    }

    /// Embeddings of `inputs`, one vector each.
    pub async fn embed(&self, model: &str, inputs: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        match self {
            Backend::Ollama(c) => c.embed(model, inputs).await,
            Backend::OpenAi(c) => c.embed(model, inputs).await,
        }
    }

    /// A cheap liveness probe: the server's version, or its model count.
    pub async fn health(&self) -> Result<String, LlmError> {
        match self {
            Backend::Ollama(c) => c.version().await.map(|v| format!("Ollama {v}")),
            Backend::OpenAi(c) => c
                .list_models()
                .await
                .map(|m| format!("{} model(s)", m.len())),
        }
    }
}
