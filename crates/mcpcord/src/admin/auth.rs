//! The admin endpoint's bearer token: checked in constant time, so its bytes cannot be guessed
//! one at a time from response times.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::config::Secret;

/// Lets the request through when no token is configured or when it carries
/// `Authorization: Bearer TOKEN`; 401 otherwise.
pub async fn require_token(
    State(token): State<Arc<Option<Secret>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = token.as_ref() else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if matches(given, token.expose()) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required (admin.token_env)\n",
        )
            .into_response()
    }
}

/// Whether `given` is `expected`, in time that depends only on their lengths.
fn matches(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn only_the_exact_token_matches() {
        assert!(matches("s3cret-token", "s3cret-token"));
        assert!(!matches("s3cret-tokeN", "s3cret-token"));
        assert!(!matches("s3cret", "s3cret-token"));
        assert!(!matches("", "s3cret-token"));
    }
}
