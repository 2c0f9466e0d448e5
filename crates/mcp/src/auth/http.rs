//! The HTTP client of rmcp's OAuth code (discovery, registration, token requests): ours, on the
//! same rustls configuration as the MCP traffic, because rmcp's default client needs a
//! process-wide TLS provider (only the binary installs one) and panics without it.
//!
//! rmcp checks the host strings of discovered URLs (same origin, allowed metadata hosts); its
//! own client also filters resolved addresses, which this one does not do yet (see
//! docs/oauth-plan.md 2.3.2).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use rmcp::transport::auth::{
    OAuthHttpClient, OAuthHttpClientError, OAuthHttpClientFuture, OAuthHttpRedirectPolicy,
    OAuthHttpRequest,
};
use serde_json::Value;

/// Longest an OAuth request may take when rmcp suggests none.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body read (metadata and token responses are small).
const MAX_BODY: usize = 1024 * 1024;

/// Two pooled clients: one following redirects (metadata), one not (rmcp asks for that on
/// token requests, and the headless authorizer reads the `Location` itself).
pub(crate) struct RustlsOAuthClient {
    follow: reqwest::Client,
    stop: reqwest::Client,
}

/// The one client of the process.
pub(crate) fn oauth_http_client() -> Arc<RustlsOAuthClient> {
    static CLIENT: OnceLock<Arc<RustlsOAuthClient>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            Arc::new(RustlsOAuthClient {
                follow: crate::tls::client_with_redirects(reqwest::redirect::Policy::limited(5)),
                stop: crate::tls::client_with_redirects(reqwest::redirect::Policy::none()),
            })
        })
        .clone()
}

impl RustlsOAuthClient {
    /// The client for `policy`.
    fn client(&self, policy: OAuthHttpRedirectPolicy) -> &reqwest::Client {
        match policy {
            OAuthHttpRedirectPolicy::Stop => &self.stop,
            _ => &self.follow,
        }
    }

    /// A GET without following redirects: the headless authorizer's "browser".
    pub(crate) async fn get_no_redirect(&self, url: &str) -> Result<reqwest::Response, String> {
        self.stop
            .get(url)
            .timeout(TIMEOUT)
            .send()
            .await
            .map_err(|error| error.without_url().to_string())
    }

    /// A form POST without following redirects (a token request built here): the status and
    /// the body (at most [`MAX_BODY`] bytes).
    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: String,
    ) -> Result<(u16, Vec<u8>), String> {
        let response = self
            .stop
            .post(url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(form)
            .timeout(TIMEOUT)
            .send()
            .await
            .map_err(|error| format!("the token request failed: {}", error.without_url()))?;
        let response = into_http_response(response)
            .await
            .map_err(|error| format!("the token response could not be read: {error}"))?;
        Ok((response.status().as_u16(), response.into_body()))
    }
}

impl OAuthHttpClient for RustlsOAuthClient {
    fn execute(&self, request: OAuthHttpRequest) -> OAuthHttpClientFuture<'_> {
        Box::pin(async move {
            let client = self.client(request.redirect_policy);
            let timeout = request.timeout.unwrap_or(TIMEOUT);
            let mut request = reqwest::Request::try_from(request.request)
                .map_err(|error| Box::new(error) as OAuthHttpClientError)?;
            *request.timeout_mut() = Some(timeout);
            let response = client
                .execute(request)
                .await
                .map_err(|error| Box::new(error.without_url()) as OAuthHttpClientError)?;
            into_http_response(response).await
        })
    }
}

/// rmcp's OAuth requests through our client, remembering what rmcp keeps private: the
/// `resource` of the protected resource metadata (a token request must name it) and the client
/// a dynamic registration created (its secret, so the registration can be used again).
#[derive(Default)]
pub(crate) struct Recorder {
    resource: Mutex<Option<String>>,
    registration: Mutex<Option<(String, Option<String>)>>,
}

impl Recorder {
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
            let response = oauth_http_client().execute(request).await?;
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
    use super::*;

    #[tokio::test]
    async fn a_request_goes_out_without_a_process_wide_tls_provider() {
        // A local listener answering one redirect: the Stop client must return it as is.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 1024];
            let _ = socket.read(&mut buffer).await;
            let answer = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/callback?code=c&state=s\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            socket.write_all(answer.as_bytes()).await.unwrap();
        });
        let response = oauth_http_client()
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
}
