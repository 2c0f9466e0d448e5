//! The HTTP side: routes, and the middleware that records every request, counts it in flight
//! and checks the API key when the test set one. Unknown paths get gin's `404 page not found`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::request::Parts;
use http::{StatusCode, header};

use super::errors::{native_body, openai_body};
use super::state::{InFlight, RecordedRequest, Shared};
use super::{catalog, embed, native_chat, openai_chat};

/// Largest request body read (images can be big).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// All routes of the fake, wrapped in the recording middleware.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(catalog::root).head(catalog::root))
        .route("/api/version", get(catalog::version))
        .route("/api/tags", get(catalog::tags))
        .route("/api/ps", get(catalog::ps))
        .route("/api/show", post(catalog::show))
        .route("/api/chat", post(native_chat::chat))
        .route("/api/embed", post(embed::api_embed))
        .route("/api/embeddings", post(embed::api_embeddings))
        .route("/v1/chat/completions", post(openai_chat::chat_completions))
        .route("/v1/models", get(catalog::openai_models))
        .route("/v1/models/{*model}", get(catalog::openai_model))
        .route("/v1/embeddings", post(embed::openai_embeddings))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), record))
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

/// gin's answer to an unknown route (Ollama does not answer 405).
async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        "404 page not found",
    )
        .into_response()
}

/// Records the request, counts it in flight, checks the key, then runs the handler.
async fn record(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let guard = InFlight::enter(&shared);
    let (mut parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(e) => {
            let message = format!("could not read the request body: {e}");
            return native_body(StatusCode::BAD_REQUEST, &message);
        }
    };
    let received_at = Instant::now();
    let index = shared.record(RecordedRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
        json: serde_json::from_slice(&body).ok(),
        body: body.clone(),
        received_at,
        status: None,
        finished_at: None,
    });
    guard.finishes(index, received_at);
    let response = match unauthorized(&shared, &parts) {
        Some(response) => response,
        None => {
            parts.extensions.insert(guard);
            next.run(Request::from_parts(parts, Body::from(body))).await
        }
    };
    shared.set_status(index, response.status());
    response
}

/// A 401 when the test required an API key and the request lacks `Authorization: Bearer KEY`.
fn unauthorized(shared: &Shared, parts: &Parts) -> Option<Response> {
    let key = shared.lock().api_key.clone()?;
    let given = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given == Some(format!("Bearer {key}").as_str()) {
        return None;
    }
    Some(if parts.uri.path().starts_with("/v1/") {
        openai_body(StatusCode::UNAUTHORIZED, "unauthorized")
    } else {
        native_body(StatusCode::UNAUTHORIZED, "unauthorized")
    })
}
