//! The HTTP client of rmcp's OAuth code (discovery, registration, token requests): ours, on the
//! same rustls configuration as the MCP traffic, because rmcp's default client needs a
//! process-wide TLS provider (only the binary installs one) and panics without it.
//!
//! rmcp checks the host strings of discovered URLs (same origin, allowed metadata hosts); like
//! rmcp's own client, ours also checks the addresses it connects to ([`guard`], docs/oauth-plan.md
//! 2.3.2): the MCP server is not trusted, and the hosts its metadata names may resolve to the
//! cloud metadata service or the local network. Which addresses are reached depends on the MCP
//! server's URL ([`Reach`]), so there is one client per reach.

mod guard;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use rmcp::transport::auth::{
    OAuthHttpClient, OAuthHttpClientError, OAuthHttpClientFuture, OAuthHttpRedirectPolicy,
    OAuthHttpRequest,
};
use serde_json::Value;

pub(crate) use guard::Reach;
use guard::{Guard, Refused};

/// Longest an OAuth request may take when rmcp suggests none.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body read (metadata and token responses are small).
const MAX_BODY: usize = 1024 * 1024;
/// Most redirects the following client follows.
const MAX_REDIRECTS: usize = 5;

/// Two pooled clients: one following redirects (metadata), one not (rmcp asks for that on
/// token requests, and the headless authorizer reads the `Location` itself); both resolve host
/// names through the guard of their [`Reach`].
pub(crate) struct RustlsOAuthClient {
    follow: reqwest::Client,
    stop: reqwest::Client,
    guard: Guard,
}

/// The client of the OAuth requests for MCP servers of `reach` (one per reach in the process).
pub(crate) fn oauth_http_client(reach: Reach) -> Arc<RustlsOAuthClient> {
    static CLIENTS: [OnceLock<Arc<RustlsOAuthClient>>; Reach::ALL.len()] =
        [const { OnceLock::new() }; Reach::ALL.len()];
    CLIENTS[reach.index()]
        .get_or_init(|| Arc::new(RustlsOAuthClient::new(reach)))
        .clone()
}

impl RustlsOAuthClient {
    /// The two clients of `reach`.
    fn new(reach: Reach) -> Self {
        let guard = Guard::new(reach);
        let build = |redirects| {
            crate::tls::builder()
                .redirect(redirects)
                .dns_resolver(guard.clone())
                .build()
                .expect("a client with preconfigured TLS always builds")
        };
        Self {
            follow: build(guard.redirects(MAX_REDIRECTS)),
            stop: build(reqwest::redirect::Policy::none()),
            guard,
        }
    }

    /// The client for `policy`.
    fn client(&self, policy: OAuthHttpRedirectPolicy) -> &reqwest::Client {
        match policy {
            OAuthHttpRedirectPolicy::Stop => &self.stop,
            _ => &self.follow,
        }
    }

    /// Sends `request` with `client` (one of ours), unless it names an IP literal out of reach
    /// (reqwest would connect to it without asking the guard).
    async fn send(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, OAuthHttpClientError> {
        self.guard.check_url(request.url())?;
        client.execute(request).await.map_err(explain)
    }

    /// A GET without following redirects: the headless authorizer's "browser".
    pub(crate) async fn get_no_redirect(&self, url: &str) -> Result<reqwest::Response, String> {
        let request = self
            .stop
            .get(url)
            .timeout(TIMEOUT)
            .build()
            .map_err(|error| error.without_url().to_string())?;
        self.send(&self.stop, request)
            .await
            .map_err(|error| error.to_string())
    }

    /// A form POST without following redirects (a token request built here): the status and
    /// the body (at most [`MAX_BODY`] bytes).
    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: String,
    ) -> Result<(u16, Vec<u8>), String> {
        let request = self
            .stop
            .post(url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(form)
            .timeout(TIMEOUT)
            .build()
            .map_err(|error| format!("the token request failed: {}", error.without_url()))?;
        let response = self
            .send(&self.stop, request)
            .await
            .map_err(|error| format!("the token request failed: {error}"))?;
        let response = into_http_response(response)
            .await
            .map_err(|error| format!("the token response could not be read: {error}"))?;
        Ok((response.status().as_u16(), response.into_body()))
    }
}

/// A failed request's error without its URL, or the guard's refusal when that is the cause (the
/// reqwest error alone only says "error sending request").
fn explain(error: reqwest::Error) -> OAuthHttpClientError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(current) = cause {
        if let Some(refused) = current.downcast_ref::<Refused>() {
            return Box::new(refused.clone());
        }
        cause = current.source();
    }
    Box::new(error.without_url())
}

impl OAuthHttpClient for RustlsOAuthClient {
    fn execute(&self, request: OAuthHttpRequest) -> OAuthHttpClientFuture<'_> {
        Box::pin(async move {
            let client = self.client(request.redirect_policy);
            let timeout = request.timeout.unwrap_or(TIMEOUT);
            let mut request = reqwest::Request::try_from(request.request)
                .map_err(|error| Box::new(error) as OAuthHttpClientError)?;
            *request.timeout_mut() = Some(timeout);
            let response = self.send(client, request).await?;
            into_http_response(response).await
        })
    }
}

/// rmcp's OAuth requests through our client, remembering what rmcp keeps private: the
/// `resource` of the protected resource metadata (a token request must name it) and the client
/// a dynamic registration created (its secret, so the registration can be used again).
pub(crate) struct Recorder {
    /// The reach of the MCP server's OAuth requests.
    reach: Reach,
    resource: Mutex<Option<String>>,
    registration: Mutex<Option<(String, Option<String>)>>,
}

impl Recorder {
    /// A recorder for the MCP server at `server_url` (its URL decides which addresses the
    /// requests may reach).
    pub(crate) fn for_server(server_url: &str) -> Self {
        Self {
            reach: Reach::of_server(server_url),
            resource: Mutex::default(),
            registration: Mutex::default(),
        }
    }

    /// The `resource` of the last protected resource metadata read.
    pub(crate) fn resource(&self) -> Option<String> {
        self.resource
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The client id and secret of the last dynamic registration.
    pub(crate) fn registration(&self) -> Option<(String, Option<String>)> {
        self.registration
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Keeps the `resource` of a protected resource metadata document, or the client of a
    /// registration response (the only answer with a `client_id` and no token).
    fn look_at(&self, body: &[u8]) {
        let Ok(document) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        let text = |name: &str| {
            document
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let is_metadata = document.get("authorization_servers").is_some()
            || document.get("authorization_server").is_some();
        if is_metadata && let Some(resource) = text("resource") {
            *self.resource.lock().unwrap_or_else(|e| e.into_inner()) = Some(resource);
        }
        if document.get("access_token").is_none()
            && let Some(client_id) = text("client_id")
        {
            *self.registration.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((client_id, text("client_secret")));
        }
    }
}

impl OAuthHttpClient for Recorder {
    fn execute(&self, request: OAuthHttpRequest) -> OAuthHttpClientFuture<'_> {
        Box::pin(async move {
            let response = oauth_http_client(self.reach).execute(request).await?;
            if response.status().is_success() {
                self.look_at(response.body());
            }
            Ok(response)
        })
    }
}

/// The response with its whole body (at most [`MAX_BODY`] bytes).
async fn into_http_response(
    response: reqwest::Response,
) -> Result<http::Response<Vec<u8>>, OAuthHttpClientError> {
    let mut builder = http::Response::builder()
        .status(response.status())
        .version(response.version());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|error| Box::new(error) as OAuthHttpClientError)?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("the OAuth response is larger than {MAX_BODY} bytes").into());
        }
        body.extend_from_slice(&chunk);
    }
    builder
        .body(body)
        .map_err(|error| Box::new(error) as OAuthHttpClientError)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A listener on 127.0.0.1 answering its first connection with `answer`.
    async fn answering(answer: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 1024];
            let _ = socket.read(&mut buffer).await;
            socket.write_all(answer.as_bytes()).await.unwrap();
        });
        address
    }

    /// Whether `listener` gets a connection within a moment.
    async fn connected(listener: &TcpListener) -> bool {
        tokio::time::timeout(Duration::from_millis(300), listener.accept())
            .await
            .is_ok()
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";

    #[tokio::test]
    async fn a_request_goes_out_without_a_process_wide_tls_provider() {
        // A local listener answering one redirect: the Stop client must return it as is.
        let address = answering("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/callback?code=c&state=s\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        let response = oauth_http_client(Reach::Loopback)
            .get_no_redirect(&format!("http://{address}/authorize"))
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        assert_eq!(
            response.headers()["location"],
            "http://127.0.0.1:1/callback?code=c&state=s"
        );
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    }

    #[tokio::test]
    async fn a_loopback_literal_is_refused_before_connecting_for_a_public_server() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let client = oauth_http_client(Reach::of_server("https://mcp.example.com/mcp"));

        let error = client.get_no_redirect(&url).await.unwrap_err();
        assert!(
            error.contains("does not send OAuth requests to loopback addresses such as 127.0.0.1"),
            "{error}"
        );
        let error = client.post_form(&url, "a=b".into()).await.unwrap_err();
        assert!(
            error.starts_with("the token request failed: the bot does not"),
            "{error}"
        );
        let request = client.follow.get(&url).build().unwrap();
        assert!(client.send(&client.follow, request).await.is_err());
        assert!(
            !connected(&listener).await,
            "the guard let a connection through"
        );
    }

    #[tokio::test]
    async fn a_loopback_literal_goes_through_for_a_loopback_server() {
        let address = answering(OK).await;
        let client = oauth_http_client(Reach::of_server("http://127.0.0.1:9/mcp"));
        let (status, body) = client
            .post_form(&format!("http://{address}/token"), "a=b".into())
            .await
            .unwrap();
        assert_eq!((status, body.as_slice()), (200, b"{}".as_slice()));
    }

    #[tokio::test]
    async fn a_redirect_to_the_metadata_service_is_refused() {
        let address = answering("HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        let client = oauth_http_client(Reach::Loopback);
        let url = format!("http://{address}/.well-known/oauth-authorization-server");
        let request = client.follow.get(url).build().unwrap();
        let error = client
            .send(&client.follow, request)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("a redirect was refused: the bot does not send OAuth requests to link-local addresses such as 169.254.169.254"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_following_client_still_follows_allowed_redirects() {
        let target = answering(OK).await;
        let answer = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{target}/metadata\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        let address = answering(Box::leak(answer.into_boxed_str())).await;
        let client = oauth_http_client(Reach::Loopback);
        let request = client
            .follow
            .get(format!("http://{address}/"))
            .build()
            .unwrap();
        let response = client.send(&client.follow, request).await.unwrap();
        assert_eq!(response.status(), 200);
    }

    #[tokio::test]
    async fn localhost_is_refused_through_the_resolver_for_a_public_server() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://localhost:{port}/.well-known/oauth-protected-resource");
        let client = oauth_http_client(Reach::Public);
        let error = client.get_no_redirect(&url).await.unwrap_err();
        assert!(
            error.starts_with(
                "`localhost` resolves only to addresses the bot does not reach for OAuth (loopback "
            ),
            "{error}"
        );
        assert!(
            error.contains("name the MCP server in its URL by its loopback or private IP address"),
            "{error}"
        );
        assert!(
            !connected(&listener).await,
            "the guard let a connection through"
        );
    }

    #[tokio::test]
    async fn the_recorder_uses_the_reach_of_its_server() {
        assert_eq!(
            Recorder::for_server("http://localhost:1/mcp").reach,
            Reach::Loopback
        );
        assert_eq!(
            Recorder::for_server("https://mcp.example.com/mcp").reach,
            Reach::Public
        );
        assert!(Arc::ptr_eq(
            &oauth_http_client(Reach::Private),
            &oauth_http_client(Reach::Private)
        ));
    }
}
