//! What the fake says about its models and itself: `/api/tags`, `/api/show`, `/api/ps`,
//! `/api/version`, `/v1/models`, `/v1/models/{*model}` and the `GET /` liveness answer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::checks::parse_json;
use super::errors::{Reject, json_response};
use super::state::Shared;

/// `GET /`: what Ollama answers to a liveness probe.
pub(crate) async fn root() -> &'static str {
    "Ollama is running"
}

/// `GET /api/version`.
pub(crate) async fn version(State(shared): State<Arc<Shared>>) -> Response {
    let version = shared.lock().version.clone();
    json_response(StatusCode::OK, &json!({ "version": version }))
}

/// `GET /api/tags`: every registered model.
pub(crate) async fn tags(State(shared): State<Arc<Shared>>) -> Response {
    let models: Vec<Value> = shared
        .lock()
        .models
        .values()
        .map(|m| m.tags_entry())
        .collect();
    json_response(StatusCode::OK, &json!({ "models": models }))
}

/// `GET /api/ps`: the models loaded by a request (or registered as loaded).
pub(crate) async fn ps(State(shared): State<Arc<Shared>>) -> Response {
    let inner = shared.lock();
    let models: Vec<Value> = inner
        .models
        .values()
        .filter(|m| inner.loaded.contains(&m.name))
        .map(|m| m.ps_entry())
        .collect();
    json_response(StatusCode::OK, &json!({ "models": models }))
}

/// `POST /api/show` with `{"model": ...}` (or the legacy `{"name": ...}`).
pub(crate) async fn show(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    const PATH: &str = "/api/show";
    let answer = parse_json(&body).and_then(|req| {
        let name = ["model", "name"]
            .iter()
            .find_map(|k| {
                req.get(*k)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            })
            .ok_or_else(|| Reject::bad_request("model is required"))?
            .to_owned();
        shared
            .lock()
            .find_model(&name)
            .map(|m| m.show())
            .ok_or_else(|| Reject::not_found(format!("model '{name}' not found")))
    });
    match answer {
        Ok(show) => json_response(StatusCode::OK, &show),
        Err(reject) => reject.native(&shared, PATH),
    }
}

/// `GET /v1/models`.
pub(crate) async fn openai_models(State(shared): State<Arc<Shared>>) -> Response {
    let data: Vec<Value> = shared
        .lock()
        .models
        .values()
        .map(|m| m.openai_entry())
        .collect();
    json_response(StatusCode::OK, &json!({ "object": "list", "data": data }))
}

/// `GET /v1/models/{*model}`.
pub(crate) async fn openai_model(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
) -> Response {
    let entry = shared.lock().find_model(&name).map(|m| m.openai_entry());
    match entry {
        Some(entry) => json_response(StatusCode::OK, &entry),
        None => {
            Reject::not_found(format!("model \"{name}\" not found")).openai(&shared, "/v1/models")
        }
    }
}
