//! An OAuth 2.1 authorization server double and a bearer-protected MCP server, on one loopback
//! listener: RFC 9728 protected resource metadata for `/mcp`, RFC 8414 metadata per
//! authorization server (issuer `{base}/as1`, `{base}/as2` after [`FakeAuthServer::migrate`]),
//! dynamic registration, authorization code with PKCE (S256 checked), refresh with rotation,
//! RFC 7009 revocation,
//! client credentials (HTTP Basic secret or an ES256 `private_key_jwt` assertion checked with
//! the client's public key), and the test MCP server behind a bearer check that answers `401`
//! and, for tools given a scope, `403 insufficient_scope`.
//!
//! Every request is recorded ([`FakeAuthServer::requests`]) and every secret the double hands
//! out or receives (tokens, codes, PKCE verifiers, client secrets) is kept
//! ([`FakeAuthServer::secrets`]), so a test can check none reached its logs.

mod resource;
mod routes;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::mcp_server::TestMcpServer;

/// The client id of the client credentials client the double knows.
pub const MACHINE: &str = "machine";
/// Its secret.
pub const MACHINE_SECRET: &str = "cs-SECRET-machine";
/// The scope every token gets unless asked for more.
pub const BASE_SCOPE: &str = "mcp:read";

/// What a started double serves.
#[derive(Clone, Debug, Default)]
pub struct AuthOptions {
    /// Tools that need a scope beyond [`BASE_SCOPE`]: `(tool, scope)`.
    pub tool_scopes: Vec<(String, String)>,
}

/// The double: authorization servers and the protected MCP server.
pub struct FakeAuthServer {
    state: Arc<AuthState>,
}

/// A code waiting for its exchange.
struct Grant {
    scopes: Vec<String>,
    challenge: String,
}

/// Everything the double knows and saw.
#[derive(Default)]
pub(crate) struct AuthState {
    base: String,
    tool_scopes: HashMap<String, String>,
    inner: Mutex<Inner>,
}

/// The mutable part of [`AuthState`].
#[derive(Default)]
struct Inner {
    /// The current authorization server: `as{generation}`.
    generation: u32,
    requests: Vec<String>,
    /// The scope parameter of each authorization request.
    authorizations: Vec<String>,
    /// The authorization server of each registration.
    registrations: Vec<String>,
    /// Access tokens the resource accepts, with their scopes.
    access: HashMap<String, Vec<String>>,
    /// Refresh tokens honoured, with their scopes.
    refresh: HashMap<String, Vec<String>>,
    codes: HashMap<String, Grant>,
    issued: usize,
    /// `expires_in` of the tokens issued.
    lifetime: u64,
    /// The public key of the `private_key_jwt` client (uncompressed P-256 point).
    client_key: Option<Vec<u8>>,
    secrets: HashSet<String>,
    refusals: usize,
}

impl FakeAuthServer {
    /// Starts the double on 127.0.0.1 (port 0).
    pub async fn start(options: AuthOptions) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let state = Arc::new(AuthState {
            base,
            tool_scopes: options.tool_scopes.into_iter().collect(),
            inner: Mutex::new(Inner {
                generation: 1,
                lifetime: 3600,
                secrets: HashSet::from([MACHINE_SECRET.to_owned()]),
                ..Inner::default()
            }),
        });
        let app = Router::new()
            .route(
                "/.well-known/oauth-protected-resource/mcp",
                get(resource::metadata),
            )
            .route(
                "/.well-known/oauth-authorization-server/{server}",
                get(routes::metadata),
            )
            .route("/{server}/register", post(routes::register))
            .route("/{server}/authorize", get(routes::authorize))
            .route("/{server}/token", post(routes::token))
            .route("/{server}/revoke", post(routes::revoke))
            .with_state(state.clone())
            .merge(resource::protected_mcp(state.clone(), TestMcpServer::new()));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { state }
    }

    /// The protected MCP endpoint.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.state.base)
    }

    /// The issuer of the current authorization server.
    pub fn issuer(&self) -> String {
        self.state.issuer(self.state.lock().generation)
    }

    /// Every request, in order: `register`, `authorize`, `token:<grant_type>` (client
    /// credentials: `token:client_credentials:<basic|jwt|refused>`), `revoke:<token_type_hint>`.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().requests.clone()
    }

    /// The `scope` parameter of every authorization request.
    pub fn authorizations(&self) -> Vec<String> {
        self.state.lock().authorizations.clone()
    }

    /// The authorization server (`as1`, `as2`…) of every registration.
    pub fn registrations(&self) -> Vec<String> {
        self.state.lock().registrations.clone()
    }

    /// Every secret handed out or received: tokens, codes, verifiers, client secrets.
    pub fn secrets(&self) -> Vec<String> {
        self.state.lock().secrets.iter().cloned().collect()
    }

    /// How many refresh and access tokens are still honoured.
    pub fn live_tokens(&self) -> (usize, usize) {
        let inner = self.state.lock();
        (inner.refresh.len(), inner.access.len())
    }

    /// Requests the MCP server refused with `401`.
    pub fn refusals(&self) -> usize {
        self.state.lock().refusals
    }

    /// The MCP server stops accepting every access token issued so far.
    pub fn refuse_access_tokens(&self) {
        self.state.lock().access.clear();
    }

    /// The authorization server stops honouring every refresh token issued so far.
    pub fn revoke_refresh_tokens(&self) {
        self.state.lock().refresh.clear();
    }

    /// `expires_in` of the tokens issued from now on.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.state.lock().lifetime = seconds;
    }

    /// The `private_key_jwt` client's public key (an uncompressed P-256 point).
    pub fn set_client_key(&self, key: Vec<u8>) {
        self.state.lock().client_key = Some(key);
    }

    /// The resource moves to a new authorization server (a new issuer): every token issued
    /// so far is refused.
    pub fn migrate(&self) {
        let mut inner = self.state.lock();
        inner.generation += 1;
        inner.access.clear();
        inner.refresh.clear();
    }
}

impl AuthState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The issuer of authorization server `generation`.
    fn issuer(&self, generation: u32) -> String {
        format!("{}/as{generation}", self.base)
    }

    fn record(&self, what: impl Into<String>) {
        self.lock().requests.push(what.into());
    }

    /// A new token pair for `scopes`: access `at-SECRET-N`, refresh `rt-SECRET-N`.
    fn issue(&self, scopes: Vec<String>) -> Value {
        let mut inner = self.lock();
        inner.issued += 1;
        let access = format!("at-SECRET-{}", inner.issued);
        let refresh = format!("rt-SECRET-{}", inner.issued);
        inner.secrets.extend([access.clone(), refresh.clone()]);
        inner.access.insert(access.clone(), scopes.clone());
        inner.refresh.insert(refresh.clone(), scopes.clone());
        json!({
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": inner.lifetime,
            "scope": scopes.join(" "),
        })
    }
}
