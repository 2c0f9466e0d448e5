//! OAuth against a small authorization server double (axum on loopback) guarding the test MCP
//! server over Streamable HTTP: the first request's `401` leads to discovery, dynamic
//! registration and an authorization through the headless authorizer; when the server stops
//! accepting the access token, the host refreshes it and repeats the request without a second
//! authorization; without an authorizer a protected server does not start. A server meant for
//! machines gets client credentials instead (no authorizer at all): a token for a client secret
//! (HTTP Basic) or an ES256 `private_key_jwt` assertion the double verifies with the public key,
//! fetched again after a `401` and when it nears its expiry.
//!
//! Every request the double receives is recorded, so the assertions are on what went over the
//! wire. The fuller double (client authentication methods, rotation, step-up per tool,
//! private_key_jwt) is step 5 of docs/oauth-plan.md.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use mcpcord_mcp::{
    AuthSpec, Callbacks, ClientCredential, ClientCredentialsSpec, HeadlessAuthorizer, McpHost,
    OAuthSpec, RestartPolicy, ServerSpec, SigningAlgorithm,
};
use mcpcord_testkit::mcp_server::TestMcpServer;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};

/// The authorization server and the resource server's bearer check.
#[derive(Default)]
struct Double {
    base: String,
    /// `authorize`, `register`, `token:<grant_type>`, in order.
    requests: Mutex<Vec<String>>,
    /// Access tokens the resource server accepts.
    valid: Mutex<HashSet<String>>,
    /// Refresh tokens the authorization server honours.
    refresh: Mutex<HashSet<String>>,
    issued: Mutex<usize>,
    /// `expires_in` of the tokens issued (3600 when unset).
    lifetime: Mutex<Option<u64>>,
    /// The public key of the `private_key_jwt` client (uncompressed P-256 point).
    client_key: Mutex<Option<Vec<u8>>>,
    /// Requests the resource server refused with `401`.
    refusals: Mutex<usize>,
}

impl Double {
    fn record(&self, what: impl Into<String>) {
        self.requests.lock().unwrap().push(what.into());
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// The resource server stops accepting every access token issued so far.
    fn refuse_access_tokens(&self) {
        self.valid.lock().unwrap().clear();
    }

    /// A new token pair: access `at-SECRET-N`, refresh `rt-SECRET-N`.
    fn issue(&self) -> Value {
        let mut issued = self.issued.lock().unwrap();
        *issued += 1;
        let access = format!("at-SECRET-{issued}");
        let refresh = format!("rt-SECRET-{issued}");
        self.valid.lock().unwrap().insert(access.clone());
        self.refresh.lock().unwrap().insert(refresh.clone());
        let lifetime = self.lifetime.lock().unwrap().unwrap_or(3600);
        json!({ "access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": lifetime })
    }

    /// How a client credentials request authenticated: `basic` (the machine client's secret),
    /// `jwt` (an assertion signed with the client's key, naming it, for this issuer), or `None`.
    fn client_authentication(
        &self,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
    ) -> Option<&'static str> {
        let basic = format!(
            "Basic {}",
            STANDARD.encode(format!("{MACHINE}:{MACHINE_SECRET}"))
        );
        if headers
            .get(header::AUTHORIZATION)
            .is_some_and(|v| *v == basic)
        {
            return Some("basic");
        }
        let assertion = form.get("client_assertion")?;
        let key = self.client_key.lock().unwrap().clone()?;
        let claims = verified_claims(assertion, &key)?;
        let names_us = claims["iss"] == MACHINE
            && claims["sub"] == MACHINE
            && claims["aud"] == self.base.as_str();
        names_us.then_some("jwt")
    }
}

/// The client id of the client credentials tests.
const MACHINE: &str = "machine";
/// Its secret.
const MACHINE_SECRET: &str = "cs-SECRET";

/// The claims of an ES256 JWT whose signature `key` verifies.
fn verified_claims(jwt: &str, key: &[u8]) -> Option<Value> {
    let (signed, signature) = jwt.rsplit_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key)
        .verify(signed.as_bytes(), &signature)
        .ok()?;
    let claims = signed.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()
}

async fn protected_resource(State(double): State<Arc<Double>>) -> Json<Value> {
    Json(json!({
        "resource": format!("{}/mcp", double.base),
        "authorization_servers": [double.base],
        "scopes_supported": ["mcp:read"],
    }))
}

async fn authorization_server(State(double): State<Arc<Double>>) -> Json<Value> {
    let base = &double.base;
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
    }))
}

async fn register(State(double): State<Arc<Double>>, Json(body): Json<Value>) -> Response {
    double.record("register");
    let answer = json!({ "client_id": "client-1", "redirect_uris": body["redirect_uris"] });
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn authorize(
    State(double): State<Arc<Double>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    double.record("authorize");
    if query.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    }
    let mut redirect = url::Url::parse(&query["redirect_uri"]).unwrap();
    redirect
        .query_pairs_mut()
        .append_pair("code", "code-SECRET")
        .append_pair("state", &query["state"]);
    (
        StatusCode::FOUND,
        [(header::LOCATION, redirect.to_string())],
    )
        .into_response()
}

async fn token(
    State(double): State<Arc<Double>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    if grant == "client_credentials" {
        let how = double.client_authentication(&headers, &form);
        double.record(format!("token:{grant}:{}", how.unwrap_or("refused")));
        if how.is_none() {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": "invalid_client" })),
            )
                .into_response();
        }
        return Json(double.issue()).into_response();
    }
    double.record(format!("token:{grant}"));
    let honoured = match grant.as_str() {
        "authorization_code" => form.get("code").map(String::as_str) == Some("code-SECRET"),
        "refresh_token" => form
            .get("refresh_token")
            .is_some_and(|t| double.refresh.lock().unwrap().remove(t)),
        _ => false,
    };
    if !honoured {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_grant" })),
        )
            .into_response();
    }
    Json(double.issue()).into_response()
}

/// The resource server's bearer check: `401` with the protected resource metadata's URL.
async fn bearer(
    State(double): State<Arc<Double>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if token.is_some_and(|t| double.valid.lock().unwrap().contains(t)) {
        return next.run(request).await;
    }
    *double.refusals.lock().unwrap() += 1;
    let challenge = format!(
        "Bearer error=\"invalid_token\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
        double.base
    );
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, challenge)],
    )
        .into_response()
}

/// Starts the double with the test MCP server behind it; returns it and the MCP URL.
async fn start_double() -> (Arc<Double>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let double = Arc::new(Double {
        base: base.clone(),
        ..Double::default()
    });
    let server = TestMcpServer::new();
    let service: StreamableHttpService<TestMcpServer, LocalSessionManager> =
        StreamableHttpService::new(
            move || Ok(server.clone()),
            Default::default(),
            StreamableHttpServerConfig::default(),
        );
    let mcp = Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(double.clone(), bearer));
    let app = Router::new()
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(protected_resource),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(authorization_server),
        )
        .route("/register", post(register))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(double.clone())
        .merge(mcp);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (double, format!("{base}/mcp"))
}

fn oauth_spec(url: &str) -> ServerSpec {
    ServerSpec::http("guarded", url).with_auth(AuthSpec::OAuth(OAuthSpec {
        redirect_uri: "http://127.0.0.1:1/callback".to_owned(),
        ..OAuthSpec::default()
    }))
}

#[tokio::test]
async fn a_login_and_a_refresh_when_the_token_is_refused() {
    let (double, url) = start_double().await;
    let callbacks = Callbacks::default().with_authorizer(HeadlessAuthorizer);
    let host = ready_host(vec![oauth_spec(&url)], callbacks).await;
    assert_eq!(
        call(&host, "echo", json!({"text": "signed in"})).await.text,
        "signed in"
    );
    assert_eq!(
        double.requests(),
        ["register", "authorize", "token:authorization_code"]
    );

    double.refuse_access_tokens();
    assert_eq!(
        call(&host, "echo", json!({"text": "refreshed"})).await.text,
        "refreshed"
    );
    assert_eq!(
        double.requests(),
        [
            "register",
            "authorize",
            "token:authorization_code",
            "token:refresh_token"
        ],
        "the refused token is refreshed, with no second authorization"
    );
    within(host.shutdown()).await;
}

#[tokio::test]
async fn without_an_authorizer_a_protected_server_does_not_start() {
    let (double, url) = start_double().await;
    let spec = oauth_spec(&url)
        .with_restart(RestartPolicy::Never)
        .with_start_timeout(Duration::from_secs(10));
    let Err(error) = within(McpHost::connect(spec, Callbacks::default())).await else {
        panic!("no login, no connection");
    };
    assert!(
        error.to_string().contains("Auth required"),
        "the refusal is reported: {error}"
    );
    assert!(
        double.requests().is_empty(),
        "nothing is registered or authorized without an authorizer: {:?}",
        double.requests()
    );
}

/// A log sink the test reads back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once) the process-wide subscriber writing into the returned sink: everything at
/// TRACE but rmcp's OAuth module, which logs the code exchange at debug (the filter every
/// mcpcord binary sets keeps it at info: docs/oauth-plan.md 3.2). Process-wide rather than
/// per test: tracing caches per call site whether anyone listens, and a test on another thread
/// without a subscriber could otherwise hide this one's lines. The other tests of this file
/// log into it too, which only widens the check.
fn capture_logs() -> Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("trace,rmcp::transport::auth=info")
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        captured
    })
    .clone()
}

#[tokio::test]
async fn no_token_or_code_reaches_the_logs() {
    let captured = capture_logs();
    let (double, url) = start_double().await;
    let callbacks = Callbacks::default().with_authorizer(HeadlessAuthorizer);
    let host = ready_host(vec![oauth_spec(&url)], callbacks).await;
    call(&host, "echo", json!({"text": "one"})).await;
    double.refuse_access_tokens();
    call(&host, "echo", json!({"text": "two"})).await;
    within(host.shutdown()).await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("authorized") && logs.contains("token refreshed"),
        "the login and the refresh are logged: {logs}"
    );
    assert!(
        !logs.contains("SECRET"),
        "a token or the code is in the logs:\n{logs}"
    );
}

fn machine_spec(url: &str, credential: ClientCredential) -> ServerSpec {
    ServerSpec::http("machine", url).with_auth(AuthSpec::ClientCredentials(ClientCredentialsSpec {
        client_id: MACHINE.to_owned(),
        credential,
        scopes: Vec::new(),
    }))
}

/// The client credentials requests the double received.
fn client_credentials_requests(double: &Double) -> Vec<String> {
    double
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("token:client_credentials"))
        .collect()
}

#[tokio::test]
async fn client_credentials_fetch_a_token_with_the_secret_and_again_after_a_401() {
    let captured = capture_logs();
    let (double, url) = start_double().await;
    let spec = machine_spec(&url, ClientCredential::Secret(MACHINE_SECRET.to_owned()));
    // No authorizer: nobody is asked anything.
    let host = ready_host(vec![spec], Callbacks::default()).await;
    assert_eq!(
        call(&host, "echo", json!({"text": "machine"})).await.text,
        "machine"
    );
    assert_eq!(double.requests(), ["token:client_credentials:basic"]);

    double.refuse_access_tokens();
    assert_eq!(
        call(&host, "echo", json!({"text": "again"})).await.text,
        "again"
    );
    assert_eq!(
        double.requests(),
        [
            "token:client_credentials:basic",
            "token:client_credentials:basic"
        ],
        "the refused token is replaced by a new one, with no registration or authorization"
    );
    within(host.shutdown()).await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("client credentials token fetched"),
        "the token requests are logged: {logs}"
    );
    assert!(
        !logs.contains("SECRET")
            && !logs.contains(&STANDARD.encode(format!("{MACHINE}:{MACHINE_SECRET}"))),
        "the client secret or a token is in the logs:\n{logs}"
    );
}

#[tokio::test]
async fn a_private_key_assertion_gets_a_token_and_another_before_it_expires() {
    let captured = capture_logs();
    let (double, url) = start_double().await;
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    *double.client_key.lock().unwrap() = Some(key.public_key().as_ref().to_vec());
    // Renewed at half the lifetime: after 2 s.
    *double.lifetime.lock().unwrap() = Some(4);
    let body = STANDARD.encode(pkcs8.as_ref());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
    let spec = machine_spec(
        &url,
        ClientCredential::PrivateKey {
            pem,
            algorithm: SigningAlgorithm::Es256,
        },
    );
    let host = ready_host(vec![spec], Callbacks::default()).await;
    assert_eq!(
        call(&host, "echo", json!({"text": "signed"})).await.text,
        "signed"
    );
    let first = client_credentials_requests(&double);
    assert!(
        !first.is_empty() && first.iter().all(|r| r == "token:client_credentials:jwt"),
        "the assertion is accepted: {first:?}"
    );
    let refused = *double.refusals.lock().unwrap();

    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(
        call(&host, "echo", json!({"text": "renewed"})).await.text,
        "renewed"
    );
    let second = client_credentials_requests(&double);
    assert!(
        second.len() > first.len() && second.iter().all(|r| r == "token:client_credentials:jwt"),
        "a token near its expiry is replaced before use: {first:?} then {second:?}"
    );
    assert_eq!(
        *double.refusals.lock().unwrap(),
        refused,
        "the new token was fetched before the server could refuse the old one"
    );
    within(host.shutdown()).await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        !logs.contains(&body[..40]),
        "the private key is in the logs"
    );
    assert!(
        !logs.contains("eyJ"),
        "an assertion is in the logs:\n{logs}"
    );
}
