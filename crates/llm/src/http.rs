//! HTTP plumbing shared by both clients: URLs, error classification, line and event streams.

use std::time::Duration;

use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::{Instant, timeout_at};
use tokio_util::codec::{FramedRead, LinesCodec};
use tokio_util::io::StreamReader;
use url::Url;

use crate::backend::BackendSpec;
use crate::error::{LlmError, from_send, root_cause};

/// Time allowed for the small metadata calls (model lists, `/api/show`, version).
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// A backend's HTTP side: its spec and a shared connection pool, with the API key applied.
#[derive(Debug, Clone)]
pub struct HttpBackend {
    /// The backend's spec.
    pub spec: BackendSpec,
    client: reqwest::Client,
}

impl HttpBackend {
    /// Wraps `client` for `spec`.
    pub fn new(spec: BackendSpec, client: reqwest::Client) -> Self {
        Self { spec, client }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let builder = self.client.request(method, endpoint(&self.spec.url, path));
        match &self.spec.api_key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    /// POSTs a generation request; the response's headers must arrive before `deadline`.
    pub async fn send_generation(
        &self,
        path: &str,
        body: &impl Serialize,
        model: &str,
        deadline: Instant,
    ) -> Result<Response, LlmError> {
        let send = self.request(reqwest::Method::POST, path).json(body).send();
        let response = timeout_at(deadline, send)
            .await
            .map_err(|_| self.first_token_timeout())?
            .map_err(|e| self.send_error(&e))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(error_for(response, &self.spec, Some(model)).await)
        }
    }

    /// GETs JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, LlmError> {
        self.metadata(self.request(reqwest::Method::GET, path), None)
            .await
    }

    /// POSTs JSON and reads JSON; `model` names the model for a 404.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
        model: Option<&str>,
    ) -> Result<T, LlmError> {
        self.metadata(self.request(reqwest::Method::POST, path).json(body), model)
            .await
    }

    async fn metadata<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        model: Option<&str>,
    ) -> Result<T, LlmError> {
        let response = request
            .timeout(METADATA_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.send_error(&e))?;
        if !response.status().is_success() {
            return Err(error_for(response, &self.spec, model).await);
        }
        let text = response
            .text()
            .await
            .map_err(|e| self.protocol(root_cause(&e)))?;
        serde_json::from_str(&text).map_err(|e| self.protocol(e))
    }

    /// Reads a whole (non-streamed) body before `deadline` and parses it.
    pub async fn read_json<T: DeserializeOwned>(
        &self,
        response: Response,
        deadline: Instant,
    ) -> Result<T, LlmError> {
        let text = timeout_at(deadline, response.text())
            .await
            .map_err(|_| self.first_token_timeout())?
            .map_err(|e| LlmError::StreamCut {
                backend: self.spec.name.clone(),
                partial: String::new(),
                reason: root_cause(&e),
            })?;
        serde_json::from_str(&text).map_err(|e| self.protocol(e))
    }

    fn send_error(&self, error: &reqwest::Error) -> LlmError {
        from_send(
            error,
            &self.spec.name,
            self.spec.url.as_str(),
            self.spec.kind,
        )
    }

    /// The error for no first chunk in time.
    pub fn first_token_timeout(&self) -> LlmError {
        LlmError::FirstTokenTimeout {
            backend: self.spec.name.clone(),
            after: self.spec.request_timeout,
        }
    }

    /// The error for a response that is not the protocol.
    pub fn protocol(&self, error: impl std::fmt::Display) -> LlmError {
        LlmError::Protocol {
            backend: self.spec.name.clone(),
            message: error.to_string(),
        }
    }
}

/// Reads items of a stream, allowing until `deadline` for the first and `stall` between the
/// others; converts silence and the end of the body into the errors that name them.
pub struct Watchdog {
    spec: BackendSpec,
    deadline: Instant,
    first: bool,
}

/// What [`Watchdog::next`] found.
pub enum Next<T> {
    /// An item.
    Item(T),
    /// The body ended cleanly.
    End,
}

impl Watchdog {
    /// A watchdog whose first item is due by `deadline`.
    pub fn new(spec: BackendSpec, deadline: Instant) -> Self {
        Self {
            spec,
            deadline,
            first: true,
        }
    }

    /// The next item, or the error for silence or a broken body; `partial` is the text so far.
    pub async fn next<T, S>(&mut self, stream: &mut S, partial: &str) -> Result<Next<T>, LlmError>
    where
        S: Stream<Item = Result<T, String>> + Unpin,
    {
        let wait = if self.first {
            self.deadline
        } else {
            Instant::now() + self.spec.stall_timeout
        };
        match timeout_at(wait, stream.next()).await {
            Err(_) if self.first => Err(LlmError::FirstTokenTimeout {
                backend: self.spec.name.clone(),
                after: self.spec.request_timeout,
            }),
            Err(_) => Err(LlmError::Stalled {
                backend: self.spec.name.clone(),
                after: self.spec.stall_timeout,
                partial: partial.to_string(),
            }),
            Ok(None) => Ok(Next::End),
            Ok(Some(Err(reason))) => Err(self.cut(partial, reason)),
            Ok(Some(Ok(item))) => {
                self.first = false;
                Ok(Next::Item(item))
            }
        }
    }

    /// The error for a stream that ended before its last chunk.
    pub fn cut(&self, partial: &str, reason: impl Into<String>) -> LlmError {
        LlmError::StreamCut {
            backend: self.spec.name.clone(),
            partial: partial.to_string(),
            reason: reason.into(),
        }
    }
}

/// Longest line accepted from an NDJSON stream (a huge tool call still fits).
const MAX_LINE: usize = 16 * 1024 * 1024;

/// `base` joined with `path`, keeping any path `base` has (`http://h/v1` + `models`).
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url
}

/// The lines of a streamed body; a body cut mid-way ends with an error item.
pub fn lines(response: Response) -> impl Stream<Item = Result<String, String>> + Send + Unpin {
    let bytes = response
        .bytes_stream()
        .map_err(|e| std::io::Error::other(root_cause(&e)));
    FramedRead::new(
        StreamReader::new(bytes),
        LinesCodec::new_with_max_length(MAX_LINE),
    )
    .map(|item| item.map_err(|e| root_cause(&e)))
}

/// Turns a non-success response into the error that names the remedy.
pub async fn error_for(response: Response, spec: &BackendSpec, model: Option<&str>) -> LlmError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::numbers::retry_after(v, std::time::SystemTime::now()));
    let body = response.text().await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_str(&body).ok();
    let message =
        error_message(parsed.as_ref()).unwrap_or_else(|| body.chars().take(300).collect());
    let backend = spec.name.clone();
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => LlmError::Unauthorized {
            backend,
            status: status.as_u16(),
        },
        StatusCode::NOT_FOUND if model.is_some() => LlmError::ModelNotFound {
            model: model.unwrap_or_default().to_string(),
            backend,
            kind: spec.kind,
        },
        StatusCode::TOO_MANY_REQUESTS => LlmError::RateLimited {
            backend,
            retry_after,
        },
        _ if is_context_too_long(parsed.as_ref()) => LlmError::ContextTooLong { message },
        _ => LlmError::Server {
            backend,
            status: status.as_u16(),
            message,
        },
    }
}

/// Whether an error body says the prompt is longer than the model's context (OpenAI's
/// `context_length_exceeded` code, llama.cpp's `exceed_context_size_error` type).
fn is_context_too_long(body: Option<&Value>) -> bool {
    let field = |key: &str| body.and_then(|v| v.get("error")?.get(key)?.as_str());
    field("code") == Some("context_length_exceeded")
        || field("type") == Some("exceed_context_size_error")
}

/// The message of an error body: Ollama's `{"error": "…"}` or OpenAI's
/// `{"error": {"message": "…"}}`.
fn error_message(body: Option<&Value>) -> Option<String> {
    let error = body?.get("error")?;
    error
        .as_str()
        .or_else(|| error.get("message")?.as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_base_path() {
        let base = Url::parse("http://h:8080/v1").unwrap();
        assert_eq!(
            endpoint(&base, "chat/completions").as_str(),
            "http://h:8080/v1/chat/completions"
        );
        let base = Url::parse("http://h:11434/").unwrap();
        assert_eq!(
            endpoint(&base, "/api/chat").as_str(),
            "http://h:11434/api/chat"
        );
    }
}
