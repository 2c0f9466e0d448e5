//! Backend errors, named by what the caller does next.
//!
//! Classified from status codes, reqwest's error kinds and structured error fields, never by
//! matching message text.

use std::time::Duration;

/// What went wrong talking to a model server.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// Nothing answers at `url`. Start the server, or point the configuration at it.
    ///
    /// The message names the backend by its configured name only: it reaches Discord users,
    /// who must not learn the server's address. [`LlmError::detail`] adds the (redacted) URL
    /// for operators.
    #[error("cannot reach the model server {backend:?}: {reason}{}", hint(*.kind))]
    Unreachable {
        /// The backend's configured name.
        backend: String,
        /// The server's URL, credentials redacted.
        url: String,
        /// What kind of server, for the hint.
        kind: ServerKind,
        /// Connection error, briefly.
        reason: String,
    },
    /// The model is not on the server. Pull it, or choose another.
    #[error("model {model:?} is not available on {backend}{}", pull_hint(*.kind, .model))]
    ModelNotFound {
        /// The model asked for.
        model: String,
        /// The backend asked.
        backend: String,
        /// What kind of server, for the hint.
        kind: ServerKind,
    },
    /// No configured backend has the model. Pull it, or choose one that is there.
    #[error(
        "no backend has model {model:?} (backends: {backends}){}",
        no_backend_hint(*.ollama, .model, .closest)
    )]
    NoBackendForModel {
        /// The model asked for.
        model: String,
        /// The backends tried, comma separated.
        backends: String,
        /// Whether one of them is an Ollama server (the model can be pulled there).
        ollama: bool,
        /// The names of the models they have that come closest to `model`, best first.
        closest: Vec<String>,
    },
    /// The model cannot call tools: retry without tools.
    #[error("model {model:?} does not support tools")]
    ToolsUnsupported {
        /// The model.
        model: String,
    },
    /// The model cannot see images: use a vision model.
    #[error("model {model:?} cannot see images")]
    VisionUnsupported {
        /// The model.
        model: String,
    },
    /// The conversation does not fit the model's context: shorten or summarize it.
    #[error("the conversation is too long for the model's context: {message}")]
    ContextTooLong {
        /// The server's explanation.
        message: String,
    },
    /// The server asks us to slow down.
    #[error("rate limited by {backend}; retry after {retry_after:?}")]
    RateLimited {
        /// The backend.
        backend: String,
        /// When to try again, if the server said.
        retry_after: Option<Duration>,
    },
    /// The server refused the API key. Check `api_key_env`.
    #[error("{backend} refused the API key (HTTP {status}); check the backend's api_key_env")]
    Unauthorized {
        /// The backend.
        backend: String,
        /// 401 or 403.
        status: u16,
    },
    /// No first token within the request timeout (a first load can take minutes).
    #[error(
        "no answer from {backend} within {after:?}; a first load of a large model can take minutes: raise request_timeout"
    )]
    FirstTokenTimeout {
        /// The backend.
        backend: String,
        /// How long we waited.
        after: Duration,
    },
    /// The stream stopped sending for too long.
    #[error("the answer from {backend} stalled: nothing for {after:?}")]
    Stalled {
        /// The backend.
        backend: String,
        /// How long it was silent.
        after: Duration,
        /// What had arrived.
        partial: String,
    },
    /// The connection ended before the answer did; `partial` holds what arrived.
    #[error("the answer from {backend} was cut off: {reason}")]
    StreamCut {
        /// The backend.
        backend: String,
        /// What arrived before the cut.
        partial: String,
        /// Why, briefly.
        reason: String,
    },
    /// The server answered with an error we have no better name for.
    #[error("{backend} answered HTTP {status}: {message}")]
    Server {
        /// The backend.
        backend: String,
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server sent something that is not the protocol.
    #[error("{backend} sent an unexpected response: {message}")]
    Protocol {
        /// The backend.
        backend: String,
        /// What was wrong.
        message: String,
    },
}

/// Which API a server speaks; decides the hints in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// Ollama's native API.
    Ollama,
    /// An OpenAI-compatible API.
    OpenAi,
}

fn hint(kind: ServerKind) -> &'static str {
    match kind {
        ServerKind::Ollama => {
            " (is Ollama running? start it with `ollama serve`, or set OLLAMA_HOST / the backend's url)"
        }
        ServerKind::OpenAi => " (is the server running? check the backend's url)",
    }
}

fn pull_hint(kind: ServerKind, model: &str) -> String {
    match kind {
        ServerKind::Ollama => format!(": pull it with `ollama pull {model}`"),
        ServerKind::OpenAi => String::new(),
    }
}

fn no_backend_hint(ollama: bool, model: &str, closest: &[String]) -> String {
    let mut hint = String::new();
    if ollama {
        hint.push_str(&format!("; pull it with `ollama pull {model}`"));
    }
    if !closest.is_empty() {
        hint.push_str(&format!(
            "{} one of: {}",
            if ollama { ", or choose" } else { "; choose" },
            closest.join(", ")
        ));
    }
    hint
}

impl LlmError {
    /// The message for operators (`mcpcord check`, logs): [`Display`](std::fmt::Display) plus
    /// what users are not shown, such as the server's URL (credentials redacted).
    pub fn detail(&self) -> String {
        match self {
            LlmError::Unreachable {
                backend,
                url,
                kind,
                reason,
            } => format!(
                "cannot reach the model server {backend:?} at {url}: {reason}{}",
                hint(*kind)
            ),
            other => other.to_string(),
        }
    }

    /// Whether another backend might succeed where this one failed (before any token).
    pub fn is_failover(&self) -> bool {
        matches!(
            self,
            LlmError::Unreachable { .. }
                | LlmError::ModelNotFound { .. }
                | LlmError::FirstTokenTimeout { .. }
                | LlmError::RateLimited { .. }
                | LlmError::Server {
                    status: 500..=599,
                    ..
                }
        )
    }

    /// Text that had arrived when the error happened, if any.
    pub fn partial_text(&self) -> Option<&str> {
        match self {
            LlmError::StreamCut { partial, .. } | LlmError::Stalled { partial, .. } => {
                Some(partial)
            }
            _ => None,
        }
    }
}

/// Classifies a reqwest error from sending a request.
pub(crate) fn from_send(
    error: &reqwest::Error,
    backend: &str,
    url: &str,
    kind: ServerKind,
) -> LlmError {
    if error.is_connect() || error.is_timeout() && !error.is_body() {
        LlmError::Unreachable {
            backend: backend.to_string(),
            url: crate::redact::redact_url(url),
            kind,
            reason: crate::redact::without_urls(&root_cause(error)),
        }
    } else {
        LlmError::Protocol {
            backend: backend.to_string(),
            message: root_cause(error),
        }
    }
}

/// The innermost cause of an error, for a short message.
pub(crate) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    // Some errors quote the request's URL: never with its credentials.
    crate::redact::redact_urls_in(&current.to_string())
}
