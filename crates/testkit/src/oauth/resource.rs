//! The protected resource: the test MCP server at `/mcp` behind a bearer check, and its
//! RFC 9728 metadata naming the current authorization server.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};

use super::{AuthState, BASE_SCOPE};
use crate::mcp_server::TestMcpServer;

/// Largest request body the bearer check reads.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The protected resource metadata of `/mcp`.
pub(super) async fn metadata(State(state): State<Arc<AuthState>>) -> Json<Value> {
    let issuer = state.issuer(state.lock().generation);
    Json(json!({
        "resource": format!("{}/mcp", state.base),
        "authorization_servers": [issuer],
        "scopes_supported": [BASE_SCOPE],
    }))
}

/// `server` at `/mcp`, behind the bearer check.
pub(super) fn protected_mcp(state: Arc<AuthState>, server: TestMcpServer) -> Router {
    let service: StreamableHttpService<TestMcpServer, LocalSessionManager> =
        StreamableHttpService::new(
            move || Ok(server.clone()),
            Default::default(),
            StreamableHttpServerConfig::default(),
        );
    Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(state, bearer))
}

/// `401` for a missing or unknown token; `403 insufficient_scope` for a `tools/call` of a
/// tool whose scope the token lacks.
async fn bearer(State(state): State<Arc<AuthState>>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let scopes = token.and_then(|t| state.lock().access.get(&t).cloned());
    let Some(scopes) = scopes else {
        state.lock().refusals += 1;
        return challenge(
            &state,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            BASE_SCOPE,
        );
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    if let Some(needed) = needed_scope(&state, &bytes)
        && !scopes.contains(&needed)
    {
        let wanted = format!("{BASE_SCOPE} {needed}");
        return challenge(&state, StatusCode::FORBIDDEN, "insufficient_scope", &wanted);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The scope the called tool needs, when the body is a `tools/call` of a guarded tool.
fn needed_scope(state: &AuthState, body: &[u8]) -> Option<String> {
    let message: Value = serde_json::from_slice(body).ok()?;
    if message.get("method")?.as_str()? != "tools/call" {
        return None;
    }
    let tool = message.get("params")?.get("name")?.as_str()?;
    state.tool_scopes.get(tool).cloned()
}

/// A `WWW-Authenticate: Bearer` answer naming the resource metadata and `scope`.
fn challenge(state: &AuthState, status: StatusCode, error: &str, scope: &str) -> Response {
    let value = format!(
        "Bearer error=\"{error}\", scope=\"{scope}\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
        state.base
    );
    (status, [(header::WWW_AUTHENTICATE, value)]).into_response()
}
