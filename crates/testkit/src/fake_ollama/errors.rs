//! Error answers in both dialects: Ollama's `{"error": "..."}` and the OpenAI-compatible
//! `{"error": {"message", "type", "param", "code"}}`, plus the cut connection.

use std::io;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{StatusCode, header};
use serde_json::json;

use super::state::Shared;

/// A request the fake refuses, with the status and message Ollama would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reject {
    pub status: StatusCode,
    pub message: String,
}

impl Reject {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// A 400 is a client mistake: record it as a violation.
    fn record(&self, shared: &Shared, path: &str) {
        if self.status == StatusCode::BAD_REQUEST {
            shared.violation(path, &self.message);
        }
    }

    /// The native answer; 400s are recorded as violations.
    pub fn native(self, shared: &Shared, path: &str) -> Response {
        self.record(shared, path);
        native_body(self.status, &self.message)
    }

    /// The OpenAI-compatible answer; 400s are recorded as violations.
    pub fn openai(self, shared: &Shared, path: &str) -> Response {
        self.record(shared, path);
        openai_body(self.status, &self.message)
    }
}

/// A status from a script; an invalid code becomes 500.
pub(crate) fn scripted_status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `{"error": message}` with `status`, as Ollama's handlers write it.
pub(crate) fn native_body(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

/// Ollama's OpenAI-compatible error envelope.
pub(crate) fn openai_body(status: StatusCode, message: &str) -> Response {
    json_response(status, &openai_error(status, message))
}

/// The OpenAI-compatible error object; the `type` follows Ollama's mapping of statuses.
pub(crate) fn openai_error(status: StatusCode, message: &str) -> serde_json::Value {
    let kind = match status {
        StatusCode::BAD_REQUEST => "invalid_request_error",
        StatusCode::NOT_FOUND => "not_found_error",
        _ => "api_error",
    };
    json!({ "error": { "message": message, "type": kind, "param": null, "code": null } })
}

/// A JSON body with `Content-Type: application/json; charset=utf-8` (gin's `c.JSON`).
pub(crate) fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        value.to_string(),
    )
        .into_response()
}

/// The error a body stream yields to make hyper abort the connection mid-body.
pub(crate) fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "FakeOllama: connection dropped by script",
    )
}

/// A response whose body fails at once: the client sees the connection drop.
pub(crate) fn cut_response(content_type: &'static str) -> Response {
    let body = futures::stream::once(async { Err::<Bytes, io::Error>(cut_error()) });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(body),
    )
        .into_response()
}
