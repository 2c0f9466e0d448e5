//! rmcp's Streamable HTTP client with the server's OAuth login: every request carries the
//! current token; a `401` or `403 insufficient_scope` goes to the server's [`ServerAuth`]
//! (refresh, authorization, step-up) and the request is sent once more with the token it gives.
//!
//! The `auth_header` rmcp passes in is ignored: the transport config has none, and the token is
//! looked up per request, so the SSE stream's reconnects get a fresh one too.

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::{Error as SseError, Sse};

use super::server::{Refusal, ServerAuth};

/// The result of one request of the inner client.
type Outcome<T> = Result<T, StreamableHttpError<reqwest::Error>>;
/// Headers rmcp adds to a request.
type Headers = HashMap<HeaderName, HeaderValue>;
/// An SSE stream.
type Events = BoxStream<'static, Result<Sse, SseError>>;

/// The HTTP client of one connection to an OAuth-protected server.
#[derive(Clone)]
pub(crate) struct OAuthTransport {
    inner: reqwest::Client,
    auth: Arc<ServerAuth>,
}

impl OAuthTransport {
    /// Requests go out through `inner` with the login of `auth`.
    pub(crate) fn new(inner: reqwest::Client, auth: Arc<ServerAuth>) -> Self {
        Self { inner, auth }
    }

    /// Runs `call` with the current token; on a refusal, once more with the token the
    /// recovery gives (or the refusal stands).
    async fn with_auth<T, F, Fut>(&self, call: F) -> Outcome<T>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = Outcome<T>>,
    {
        let token = self.auth.token().await;
        let error = match call(token.clone()).await {
            Err(error) => error,
            done => return done,
        };
        let refusal = match &error {
            StreamableHttpError::AuthRequired(e) => {
                Refusal::Unauthorized(&e.www_authenticate_header)
            }
            StreamableHttpError::InsufficientScope(e) => {
                Refusal::InsufficientScope(&e.www_authenticate_header)
            }
            _ => return Err(error),
        };
        match self.auth.recover(refusal, token.as_deref()).await {
            Some(fresh) => call(Some(fresh)).await,
            None => Err(error),
        }
    }
}

impl StreamableHttpClient for OAuthTransport {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: Headers,
    ) -> Outcome<StreamableHttpPostResponse> {
        self.with_auth(|token| {
            self.inner.post_message(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: Headers,
        max_sse_event_size: usize,
    ) -> Outcome<StreamableHttpPostResponse> {
        self.with_auth(|token| {
            self.inner.post_message_with_max_sse_event_size(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: Headers,
        limits: StreamableHttpResponseLimits,
    ) -> Outcome<StreamableHttpPostResponse> {
        self.with_auth(|token| {
            self.inner.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: Headers,
    ) -> Outcome<()> {
        self.with_auth(|token| {
            self.inner.delete_session(
                uri.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: Headers,
    ) -> Outcome<Events> {
        self.with_auth(|token| {
            self.inner.get_stream(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: Headers,
        max_sse_event_size: usize,
    ) -> Outcome<Events> {
        self.with_auth(|token| {
            self.inner.get_stream_with_max_sse_event_size(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }
}
