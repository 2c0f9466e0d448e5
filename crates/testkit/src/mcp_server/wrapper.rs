//! How a [`TestMcpServer`] answers `server/discover` when it plays a server from before
//! 2026-07-28 ([`DiscoverReply`]): on byte-stream wires (stdio, in-process) a wrapping rmcp
//! service answers before the handler sees the request; over Streamable HTTP an axum layer
//! answers the POST (rmcp's HTTP service only takes handlers).

use std::borrow::Cow;

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Response},
};
use rmcp::{
    ErrorData, RoleServer, Service,
    model::{
        ClientNotification, ClientRequest, DiscoverRequestMethod, EmptyResult, ProtocolVersion,
        ServerConfig, ServerResult,
    },
    service::{NotificationContext, RequestContext},
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{DiscoverReply, TestMcpServer};

/// Largest request body the HTTP layer reads to look for `server/discover`.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The service put on a byte-stream wire: the handler, with `server/discover` answered as the
/// server's [`DiscoverReply`] says.
pub(super) struct Served(pub(super) TestMcpServer);

impl Service<RoleServer> for Served {
    async fn handle_request(
        &self,
        request: ClientRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<ServerResult, ErrorData> {
        let reply = self.0.discover_reply();
        if matches!(request, ClientRequest::DiscoverRequest(_)) {
            self.0.count_discover_request();
            if reply != DiscoverReply::Answer {
                return unanswered_discover(reply).await;
            }
        }
        Service::handle_request(&self.0, request, context).await
    }

    async fn handle_notification(
        &self,
        notification: ClientNotification,
        context: NotificationContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Service::handle_notification(&self.0, notification, context).await
    }

    fn get_info(&self) -> ServerConfig {
        Service::get_info(&self.0)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Service::supported_protocol_versions(&self.0)
    }
}

/// What a server from before 2026-07-28 sends back for `server/discover`.
async fn unanswered_discover(reply: DiscoverReply) -> Result<ServerResult, ErrorData> {
    match reply {
        DiscoverReply::Answer | DiscoverReply::MethodNotFound => {
            Err(ErrorData::method_not_found::<DiscoverRequestMethod>())
        }
        DiscoverReply::Empty => Ok(ServerResult::EmptyResult(EmptyResult {})),
        DiscoverReply::Never => std::future::pending().await,
    }
}

/// axum middleware for the HTTP wire: a POSTed `server/discover` request is answered as `reply`
/// says (JSON `{}` result, "method not found", or not until the server stops: `stop`, so that a
/// graceful shutdown does not wait for it forever); every other request goes on to rmcp.
pub(super) async fn http_discover(
    reply: DiscoverReply,
    stop: CancellationToken,
    request: Request,
    next: Next,
) -> Response {
    if reply == DiscoverReply::Answer {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return (http::StatusCode::BAD_REQUEST, "unreadable body").into_response();
    };
    let message: Option<Value> = serde_json::from_slice(&bytes).ok();
    let discover_id = message
        .as_ref()
        .filter(|m| m.get("method").and_then(Value::as_str) == Some("server/discover"))
        .and_then(|m| m.get("id").cloned());
    let Some(id) = discover_id else {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    };
    if reply == DiscoverReply::Never {
        stop.cancelled().await;
        return (http::StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let answer = match unanswered_discover(reply).await {
        Ok(_) => json!({ "jsonrpc": "2.0", "id": id, "result": {} }),
        Err(error) => json!({ "jsonrpc": "2.0", "id": id, "error": error }),
    };
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        answer.to_string(),
    )
        .into_response()
}
