//! The standalone stream of a Streamable HTTP session — the GET on which the server sends what
//! belongs to no request of ours — waited for before the connection is used.
//!
//! rmcp opens that stream in the background once a session exists (after the `initialize`
//! handshake) and lets the first requests go at once. A server may send its own requests there
//! even while it handles one of ours: the TypeScript SDK does for `server.request(…)` without a
//! related request, and it drops the message when the stream is not open yet (the spec lets it).
//! Under load the GET then arrives after a tool call whose elicitation was thrown away, and the
//! call hangs until its timeout (seen in the conformance scenario
//! `elicitation-sep1034-client-defaults`). [`Watched`] wraps the HTTP client and tells when the
//! first GET of the session was answered — opened, or refused (a server without it: nothing to
//! wait for) — so that [`crate::connection::Connection`] can wait for it, bounded.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::{Error as SseError, Sse};
use tokio_util::sync::CancellationToken;

/// Headers rmcp adds to a request.
type Headers = HashMap<HeaderName, HeaderValue>;
/// An SSE stream.
type Events = BoxStream<'static, Result<Sse, SseError>>;
/// The result of one request of the inner client `C`.
type Outcome<T, C> = Result<T, StreamableHttpError<<C as StreamableHttpClient>::Error>>;

/// What the client saw of the session, shared with the [`StandaloneStream`] handle.
#[derive(Debug, Default)]
struct Seen {
    /// A request went out with a session id: rmcp opens the standalone stream for it.
    session: AtomicBool,
    /// The first GET of the session was answered (either way).
    answered: CancellationToken,
}

/// rmcp's Streamable HTTP client `C`, watching for the session's standalone stream.
#[derive(Clone, Debug)]
pub(crate) struct Watched<C> {
    inner: C,
    seen: Arc<Seen>,
}

impl<C> Watched<C> {
    /// Wraps `inner`; the handle tells when its standalone stream is answered.
    pub(crate) fn new(inner: C) -> (Self, StandaloneStream) {
        let seen = Arc::new(Seen::default());
        let handle = StandaloneStream { seen: seen.clone() };
        (Self { inner, seen }, handle)
    }

    fn posted(&self, session_id: Option<&Arc<str>>) {
        if session_id.is_some() {
            self.seen.session.store(true, Ordering::SeqCst);
        }
    }

    /// Runs a GET; the session's first fresh one (a session id, no `Last-Event-ID`: the
    /// standalone stream, not a resumed response) marks the stream answered once it is.
    async fn get<T>(
        &self,
        session_id: Option<&Arc<str>>,
        last_event_id: Option<&String>,
        get: impl Future<Output = T>,
    ) -> T {
        let outcome = get.await;
        if session_id.is_some() && last_event_id.is_none() {
            self.seen.answered.cancel();
        }
        outcome
    }
}

/// Tells when the standalone stream of a connection's session is answered.
#[derive(Clone, Debug)]
pub(crate) struct StandaloneStream {
    seen: Arc<Seen>,
}

impl StandaloneStream {
    /// Waits until the server answered the standalone GET, at most `bound` (a server slow to
    /// answer it is used anyway, as before). Returns at once when there is no session (a
    /// 2026-07-28 or stateless server), which has no such stream.
    pub(crate) async fn answered(&self, server: &str, bound: Duration) {
        if !self.seen.session.load(Ordering::SeqCst) {
            return;
        }
        if tokio::time::timeout(bound, self.seen.answered.cancelled())
            .await
            .is_err()
        {
            tracing::debug!(
                server,
                waited = %crate::error::humanize(bound),
                "the server has not answered the standalone stream (GET) yet: going on without it"
            );
        }
    }
}

/// How long a new connection waits for its standalone stream: a third of the start timeout,
/// at most 5 s (the GET is normally answered in milliseconds).
pub(crate) fn standalone_wait(start_timeout: Duration) -> Duration {
    (start_timeout / 3).min(Duration::from_secs(5))
}

impl<C: StreamableHttpClient + Sync> StreamableHttpClient for Watched<C> {
    type Error = C::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: Headers,
    ) -> Outcome<StreamableHttpPostResponse, C> {
        self.posted(session_id.as_ref());
        self.inner
            .post_message(uri, message, session_id, auth_header, custom_headers)
            .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: Headers,
        max_sse_event_size: usize,
    ) -> Outcome<StreamableHttpPostResponse, C> {
        self.posted(session_id.as_ref());
        self.inner
            .post_message_with_max_sse_event_size(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: Headers,
        limits: StreamableHttpResponseLimits,
    ) -> Outcome<StreamableHttpPostResponse, C> {
        self.posted(session_id.as_ref());
        self.inner
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                limits,
            )
            .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: Headers,
    ) -> Outcome<(), C> {
        self.inner
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: Headers,
    ) -> Outcome<Events, C> {
        let (session, last) = (session_id.clone(), last_event_id.clone());
        let get =
            self.inner
                .get_stream(uri, session_id, last_event_id, auth_header, custom_headers);
        self.get(session.as_ref(), last.as_ref(), get).await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: Headers,
        max_sse_event_size: usize,
    ) -> Outcome<Events, C> {
        let (session, last) = (session_id.clone(), last_event_id.clone());
        let get = self.inner.get_stream_with_max_sse_event_size(
            uri,
            session_id,
            last_event_id,
            auth_header,
            custom_headers,
            max_sse_event_size,
        );
        self.get(session.as_ref(), last.as_ref(), get).await
    }
}
