//! The authorization server's endpoints: metadata, registration, authorization, token,
//! revocation.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::digest::{SHA256, digest};
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde_json::{Value, json};

use super::{AuthState, BASE_SCOPE, Grant, MACHINE, MACHINE_SECRET};

/// RFC 8414 metadata of authorization server `server` (`as1`, `as2`…).
pub(super) async fn metadata(
    State(state): State<Arc<AuthState>>,
    Path(server): Path<String>,
) -> Json<Value> {
    let issuer = format!("{}/{server}", state.base);
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "scopes_supported": [BASE_SCOPE],
    }))
}

/// Dynamic client registration: `client-N` with the secret `cs-SECRET-client-N`.
pub(super) async fn register(
    State(state): State<Arc<AuthState>>,
    Path(server): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    state.record("register");
    let mut inner = state.lock();
    inner.registrations.push(server);
    let client_id = format!("client-{}", inner.registrations.len());
    let secret = format!("cs-SECRET-{client_id}");
    inner.secrets.insert(secret.clone());
    let answer = json!({
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uris": body["redirect_uris"],
    });
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// The authorization endpoint: approves at once, redirecting with a code (PKCE S256 required).
pub(super) async fn authorize(
    State(state): State<Arc<AuthState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    state.record("authorize");
    let scope = query.get("scope").cloned().unwrap_or_default();
    let (Some("S256"), Some(challenge), Some(redirect)) = (
        query.get("code_challenge_method").map(String::as_str),
        query.get("code_challenge"),
        query.get("redirect_uri"),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            "PKCE S256 and a redirect_uri required",
        )
            .into_response();
    };
    let Ok(mut redirect) = url::Url::parse(redirect) else {
        return (StatusCode::BAD_REQUEST, "a bad redirect_uri").into_response();
    };
    let code = {
        let mut inner = state.lock();
        inner.authorizations.push(scope.clone());
        inner.issued += 1;
        let code = format!("code-SECRET-{}", inner.issued);
        inner.secrets.insert(code.clone());
        let grant = Grant {
            scopes: scope.split_whitespace().map(str::to_owned).collect(),
            challenge: challenge.clone(),
        };
        inner.codes.insert(code.clone(), grant);
        code
    };
    redirect
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", query.get("state").map_or("", String::as_str));
    (
        StatusCode::FOUND,
        [(header::LOCATION, redirect.to_string())],
    )
        .into_response()
}

/// The token endpoint: authorization code (PKCE checked), refresh token (rotated), client
/// credentials.
pub(super) async fn token(
    State(state): State<Arc<AuthState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    let scopes = match grant.as_str() {
        "client_credentials" => return client_credentials(&state, &headers, &form),
        "authorization_code" => {
            state.record("token:authorization_code");
            exchange_code(&state, &form)
        }
        "refresh_token" => {
            state.record("token:refresh_token");
            let token = form.get("refresh_token");
            token.and_then(|t| state.lock().refresh.remove(t))
        }
        _ => None,
    };
    match scopes {
        Some(scopes) => Json(state.issue(scopes)).into_response(),
        None => refusal(StatusCode::BAD_REQUEST, "invalid_grant"),
    }
}

/// RFC 7009 revocation: the token (refresh or access, whatever the hint says) is no longer
/// honoured; an unknown token is answered `200` too, as the RFC says. A request without a
/// `client_id` is refused (`401 invalid_client`).
pub(super) async fn revoke(
    State(state): State<Arc<AuthState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let hint = form.get("token_type_hint").map_or("none", String::as_str);
    state.record(format!("revoke:{hint}"));
    if !form.contains_key("client_id") {
        return refusal(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if let Some(token) = form.get("token") {
        let mut inner = state.lock();
        inner.refresh.remove(token);
        inner.access.remove(token);
    }
    StatusCode::OK.into_response()
}

/// The scopes of the code's grant, when the code and its verifier are right.
fn exchange_code(state: &AuthState, form: &HashMap<String, String>) -> Option<Vec<String>> {
    let verifier = form.get("code_verifier")?;
    let mut inner = state.lock();
    inner.secrets.insert(verifier.clone());
    let grant = inner.codes.remove(form.get("code")?)?;
    let computed = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
    (computed == grant.challenge).then_some(grant.scopes)
}

/// A client credentials token, for the machine client's secret (HTTP Basic) or assertion.
fn client_credentials(
    state: &AuthState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Response {
    let how = client_authentication(state, headers, form);
    state.record(format!(
        "token:client_credentials:{}",
        how.unwrap_or("refused")
    ));
    if let Some(assertion) = form.get("client_assertion") {
        state.lock().secrets.insert(assertion.clone());
    }
    if how.is_none() {
        return refusal(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let scopes = form.get("scope").map_or_else(Vec::new, |s| {
        s.split_whitespace().map(str::to_owned).collect()
    });
    Json(state.issue(scopes)).into_response()
}

/// How a client credentials request authenticated: `basic` (the machine client's secret),
/// `jwt` (an assertion signed with the client's key, naming it, for this issuer), or `None`.
fn client_authentication(
    state: &AuthState,
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
    let (key, generation) = {
        let inner = state.lock();
        (inner.client_key.clone()?, inner.generation)
    };
    let claims = verified_claims(assertion, &key)?;
    let names_us = claims["iss"] == MACHINE
        && claims["sub"] == MACHINE
        && claims["aud"] == state.issuer(generation).as_str();
    names_us.then_some("jwt")
}

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

/// An OAuth error answer.
fn refusal(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}
