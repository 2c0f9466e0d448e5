//! The client credentials grant (SEP-1046, `io.modelcontextprotocol/oauth-client-credentials`)
//! for servers meant for machines: no person, no authorizer, no vault. The first `401` leads to
//! discovery (rmcp: protected resource metadata, authorization server metadata) and a token
//! request; the token is fetched again when it nears its expiry or the server refuses it.
//!
//! A client secret goes through rmcp (`client_secret_basic` when the authorization server lists
//! only that, else `client_secret_post`). A private key signs an RFC 7523 `private_key_jwt`
//! assertion here, with ring: rmcp's own needs its `auth-client-credentials-jwt` feature, which
//! pulls aws-lc (docs/oauth-plan.md 2.3.6). Secrets, keys, assertions and tokens are never
//! logged; tokens live in memory only (another can be fetched at any time).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use rmcp::transport::auth::{AuthorizationManager, ClientCredentialsConfig, WWWAuthenticateParams};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::http::{Reach, Recorder};
use super::server::{Budget, Refusal, union_if_more};
use super::{ClientCredential, ClientCredentialsSpec, SigningAlgorithm};

/// How long a `private_key_jwt` assertion is valid.
const ASSERTION_LIFETIME: u64 = 60;
/// A token is fetched again this long before it expires (at most half its lifetime).
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// The assertion type of RFC 7523 client authentication.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The client credentials authorization of one server.
pub(crate) struct MachineAuth {
    server: String,
    url: String,
    spec: ClientCredentialsSpec,
    state: Mutex<State>,
}

/// The authorization server found and the token held.
#[derive(Default)]
struct State {
    endpoint: Option<Endpoint>,
    token: Option<Token>,
    /// Scopes asked for beyond the configured ones (the server's `insufficient_scope`).
    extra_scopes: Vec<String>,
    /// Token requests a refusal started.
    requests: Budget,
}

/// The authorization server of the last discovery.
struct Endpoint {
    /// rmcp's manager, configured for the client secret.
    manager: AuthorizationManager,
    /// The protected resource metadata's `resource`, sent as the resource indicator.
    resource: String,
    /// Where tokens are asked for.
    token_endpoint: String,
    /// The assertion's audience: the issuer, else the token endpoint.
    audience: String,
}

/// An access token and when to fetch another.
struct Token {
    access: String,
    renew_at: Option<Instant>,
}

impl Token {
    fn fresh(&self) -> bool {
        self.renew_at.is_none_or(|at| Instant::now() < at)
    }
}

/// The token endpoint's answer (or rmcp's, serialized).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
}

impl MachineAuth {
    /// The client credentials authorization of `server` at `url`.
    pub(crate) fn new(server: &str, url: &str, spec: ClientCredentialsSpec) -> Self {
        Self {
            server: server.to_owned(),
            url: url.to_owned(),
            spec,
            state: Mutex::new(State::default()),
        }
    }

    /// The token to send now: the held one, or a new one when it nears its expiry; `None`
    /// before the first `401` (which tells where to ask).
    pub(crate) async fn token(&self) -> Option<String> {
        let mut state = self.state.lock().await;
        if let Some(token) = state.token.as_ref().filter(|t| t.fresh()) {
            return Some(token.access.clone());
        }
        state.endpoint.as_ref()?;
        tracing::debug!(server = %self.server, "the token nears its expiry: fetching another");
        self.fetch(&mut state).await
    }

    /// After the server refused a request sent with `sent`: a new token (discovery again on a
    /// `401`, more scopes on `insufficient_scope`), or `None`.
    pub(crate) async fn recover(&self, refusal: Refusal<'_>, sent: Option<&str>) -> Option<String> {
        let mut state = self.state.lock().await;
        if let Some(current) = state.token.as_ref().filter(|t| t.fresh())
            && Some(current.access.as_str()) != sent
        {
            return Some(current.access.clone());
        }
        if !state
            .requests
            .take(&self.server, "client credentials token requests")
        {
            return None;
        }
        match refusal {
            Refusal::Unauthorized(challenge) => {
                state.endpoint = Some(self.discover(challenge).await?);
            }
            Refusal::InsufficientScope(challenge) => {
                let base = url::Url::parse(&self.url).ok()?;
                let wanted = WWWAuthenticateParams::parse(challenge, &base).scope?;
                let current = self.scopes(&state);
                let Some(scopes) = union_if_more(&current, &wanted) else {
                    tracing::warn!(server = %self.server, scopes = %wanted, "the server refuses a token that has the scopes it asks for");
                    return None;
                };
                state.extra_scopes = scopes[self.spec.scopes.len()..].to_vec();
            }
        }
        self.fetch(&mut state).await
    }

    /// The configured scopes and those the server asked for since.
    fn scopes(&self, state: &State) -> Vec<String> {
        let mut scopes = self.spec.scopes.clone();
        scopes.extend(state.extra_scopes.iter().cloned());
        scopes
    }

    /// Finds the authorization server from the server's challenge.
    async fn discover(&self, challenge: &str) -> Option<Endpoint> {
        let recorder = Arc::new(Recorder::for_server(&self.url));
        let found = discover(&self.url, challenge, recorder.clone(), &self.spec).await;
        let (manager, token_endpoint, audience) = found
            .map_err(|error| tracing::warn!(server = %self.server, %error, "the client credentials authorization server was not found"))
            .ok()?;
        let resource = recorder.resource().unwrap_or_else(|| self.url.clone());
        tracing::debug!(server = %self.server, %token_endpoint, %resource, "client credentials: authorization server found");
        Some(Endpoint {
            manager,
            resource,
            token_endpoint,
            audience,
        })
    }

    /// Asks the token endpoint for a token; the held one is dropped whatever the outcome.
    async fn fetch(&self, state: &mut State) -> Option<String> {
        state.token = None;
        let scopes = self.scopes(state);
        let endpoint = state.endpoint.as_ref()?;
        let answer = match &self.spec.credential {
            ClientCredential::Secret(secret) => {
                with_secret(endpoint, &self.spec.client_id, secret, scopes).await
            }
            ClientCredential::PrivateKey { pem, algorithm } => {
                let client = Client {
                    id: &self.spec.client_id,
                    pem,
                    algorithm: *algorithm,
                };
                let reach = Reach::of_server(&self.url);
                with_assertion(endpoint, reach, &client, &scopes).await
            }
        };
        let answer = answer
            .map_err(|error| tracing::warn!(server = %self.server, %error, "no client credentials token"))
            .ok()?;
        tracing::info!(server = %self.server, expires_in = ?answer.expires_in, "client credentials token fetched");
        let token = Token {
            access: answer.access_token,
            renew_at: answer.expires_in.map(renew_at),
        };
        let access = token.access.clone();
        state.token = Some(token);
        Some(access)
    }
}

/// When to fetch another token for one that expires in `seconds`.
fn renew_at(seconds: u64) -> Instant {
    let lifetime = Duration::from_secs(seconds);
    Instant::now() + lifetime - EXPIRY_MARGIN.min(lifetime / 2)
}

/// rmcp's manager with the authorization server's metadata (and the client secret configured),
/// the token endpoint and the assertion audience.
async fn discover(
    url: &str,
    challenge: &str,
    recorder: Arc<Recorder>,
    spec: &ClientCredentialsSpec,
) -> Result<(AuthorizationManager, String, String), String> {
    let mut manager = AuthorizationManager::new_with_oauth_http_client(url, recorder)
        .await
        .map_err(|e| e.to_string())?;
    let resolution = manager
        .resolve_metadata_from_challenge(Some(challenge))
        .await
        .map_err(|e| e.to_string())?;
    let metadata = resolution.metadata;
    check_endpoint(url, &metadata.token_endpoint)?;
    check_method(&metadata.additional_fields, &spec.credential)?;
    let token_endpoint = metadata.token_endpoint.clone();
    let audience = metadata
        .issuer
        .clone()
        .unwrap_or_else(|| token_endpoint.clone());
    manager.set_metadata(metadata);
    if let ClientCredential::Secret(secret) = &spec.credential {
        let config = secret_config(&spec.client_id, secret, Vec::new(), url.to_owned());
        manager
            .configure_client_credentials(&config)
            .map_err(|e| e.to_string())?;
    }
    Ok((manager, token_endpoint, audience))
}

/// The token endpoint must be https, or http on loopback for a loopback MCP server: a client
/// secret or an assertion never crosses a network in clear.
fn check_endpoint(mcp_url: &str, token_endpoint: &str) -> Result<(), String> {
    let parse = |url: &str| url::Url::parse(url).map_err(|e| format!("`{url}`: {e}"));
    let (mcp, endpoint) = (parse(mcp_url)?, parse(token_endpoint)?);
    if endpoint.scheme() == "https" || (is_loopback(&mcp) && is_loopback(&endpoint)) {
        return Ok(());
    }
    Err(format!(
        "the token endpoint `{token_endpoint}` is not https: the authorization server must use https \
         for client credentials"
    ))
}

/// Whether `url`'s host is this machine.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The authorization server must offer the client's authentication method when it lists any.
fn check_method(
    fields: &std::collections::HashMap<String, Value>,
    credential: &ClientCredential,
) -> Result<(), String> {
    let Some(methods) = fields
        .get("token_endpoint_auth_methods_supported")
        .and_then(Value::as_array)
    else {
        return Ok(());
    };
    let ours: &[&str] = match credential {
        ClientCredential::Secret(_) => &["client_secret_basic", "client_secret_post"],
        ClientCredential::PrivateKey { .. } => &["private_key_jwt"],
    };
    if methods
        .iter()
        .any(|m| m.as_str().is_some_and(|m| ours.contains(&m)))
    {
        return Ok(());
    }
    Err(format!(
        "the authorization server offers the token endpoint authentication methods {methods:?}, \
         none of them {ours:?}: configure the credential it supports"
    ))
}

/// rmcp's configuration of a client secret.
fn secret_config(
    client_id: &str,
    secret: &str,
    scopes: Vec<String>,
    resource: String,
) -> ClientCredentialsConfig {
    ClientCredentialsConfig::ClientSecret {
        client_id: client_id.to_owned(),
        client_secret: secret.to_owned(),
        scopes,
        resource: Some(resource),
    }
}

/// A token for the client secret, through rmcp.
async fn with_secret(
    endpoint: &Endpoint,
    client_id: &str,
    secret: &str,
    scopes: Vec<String>,
) -> Result<TokenAnswer, String> {
    let config = secret_config(client_id, secret, scopes, endpoint.resource.clone());
    let response = endpoint
        .manager
        .exchange_client_credentials(&config)
        .await
        .map_err(|e| e.to_string())?;
    let value = serde_json::to_value(&response).map_err(|e| e.to_string())?;
    serde_json::from_value(value).map_err(|e| format!("an unreadable token response: {e}"))
}

/// The client of a `private_key_jwt` request.
struct Client<'a> {
    id: &'a str,
    pem: &'a str,
    algorithm: SigningAlgorithm,
}

/// A token for a signed assertion: the form RFC 7523 section 2.2 describes, posted by our
/// client for the MCP server's `reach` (no `client_id` in the body: the assertion's `sub` names
/// the client).
async fn with_assertion(
    endpoint: &Endpoint,
    reach: Reach,
    client: &Client<'_>,
    scopes: &[String],
) -> Result<TokenAnswer, String> {
    let assertion = assertion(client, &endpoint.audience)?;
    let form = assertion_form(&assertion, &endpoint.resource, scopes);
    let (status, body) = super::http::oauth_http_client(reach)
        .post_form(&endpoint.token_endpoint, form)
        .await?;
    if !(200..300).contains(&status) {
        return Err(token_error(status, &body));
    }
    serde_json::from_slice(&body).map_err(|e| format!("an unreadable token response: {e}"))
}

/// The body of a `private_key_jwt` token request.
fn assertion_form(assertion: &str, resource: &str, scopes: &[String]) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials")
        .append_pair("client_assertion_type", JWT_BEARER)
        .append_pair("client_assertion", assertion)
        .append_pair("resource", resource);
    if !scopes.is_empty() {
        form.append_pair("scope", &scopes.join(" "));
    }
    form.finish()
}

/// The token endpoint's refusal in words (its `error` and `error_description`).
fn token_error(status: u16, body: &[u8]) -> String {
    let answer: Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |name: &str| answer.get(name).and_then(Value::as_str).unwrap_or("");
    format!(
        "the token endpoint answered {status} {} {}: check the client id and key the \
         authorization server has registered",
        field("error"),
        field("error_description")
    )
}

/// A signed RFC 7523 client assertion: `iss` = `sub` = the client id, `aud` = `audience`, a
/// random `jti`, valid for [`ASSERTION_LIFETIME`] seconds.
fn assertion(client: &Client<'_>, audience: &str) -> Result<String, String> {
    let rng = SystemRandom::new();
    let der = pem_body(client.pem)?;
    let key = match client.algorithm {
        SigningAlgorithm::Es256 => {
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng).map_err(
                |e| format!("the private key is not a PKCS#8 P-256 key ({e}): give an EC P-256 key in PKCS#8 PEM"),
            )?
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut jti = [0u8; 16];
    rng.fill(&mut jti)
        .map_err(|_| "no random bytes".to_owned())?;
    let header = json!({ "alg": client.algorithm.name(), "typ": "client-authentication+jwt" });
    let claims = json!({
        "iss": client.id, "sub": client.id, "aud": audience,
        "iat": now, "exp": now + ASSERTION_LIFETIME, "jti": URL_SAFE_NO_PAD.encode(jti),
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key
        .sign(&rng, signing_input.as_bytes())
        .map_err(|_| "the assertion could not be signed".to_owned())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    ))
}

/// The DER bytes of a PKCS#8 PEM document.
fn pem_body(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|line| *line != "-----BEGIN PRIVATE KEY-----")
        .skip(1)
        .take_while(|line| !line.starts_with("-----END"))
        .collect();
    if body.is_empty() {
        return Err(
            "the private key is not PKCS#8 PEM: give a file starting with -----BEGIN PRIVATE KEY-----"
                .to_owned(),
        );
    }
    STANDARD
        .decode(body)
        .map_err(|e| format!("the private key's PEM is not base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_FIXED, KeyPair, UnparsedPublicKey};

    fn pem_of(der: &[u8]) -> String {
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(der)
        )
    }

    #[test]
    fn an_assertion_is_signed_with_the_key_and_names_the_client() {
        let rng = SystemRandom::new();
        let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref(), &rng).unwrap();
        let pem = pem_of(der.as_ref());
        let client = Client {
            id: "machine",
            pem: &pem,
            algorithm: SigningAlgorithm::Es256,
        };
        let jwt = assertion(&client, "https://as.example").unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key().as_ref())
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("the signature verifies with the public key");
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "machine");
        assert_eq!(claims["sub"], "machine");
        assert_eq!(claims["aud"], "https://as.example");
        let (iat, exp) = (
            claims["iat"].as_u64().unwrap(),
            claims["exp"].as_u64().unwrap(),
        );
        assert_eq!(exp - iat, ASSERTION_LIFETIME);
        assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
        let again = assertion(&client, "https://as.example").unwrap();
        assert_ne!(again, jwt, "every assertion has its own jti");
    }

    #[test]
    fn a_bad_key_says_what_to_give() {
        let client = Client {
            id: "machine",
            pem: "not a key",
            algorithm: SigningAlgorithm::Es256,
        };
        let error = assertion(&client, "https://as.example").unwrap_err();
        assert!(error.contains("BEGIN PRIVATE KEY"), "{error}");
        let garbage = pem_of(b"garbage");
        let client = Client {
            pem: &garbage,
            ..client
        };
        let error = assertion(&client, "https://as.example").unwrap_err();
        assert!(error.contains("PKCS#8 P-256"), "{error}");
    }

    #[test]
    fn secrets_go_to_https_or_between_loopback_hosts_only() {
        assert!(check_endpoint("https://mcp.example/mcp", "https://as.example/token").is_ok());
        assert!(check_endpoint("http://localhost:1/mcp", "http://127.0.0.1:2/token").is_ok());
        let error =
            check_endpoint("https://mcp.example/mcp", "http://as.example/token").unwrap_err();
        assert!(error.contains("https"), "{error}");
        assert!(check_endpoint("http://mcp.example/mcp", "http://localhost/token").is_err());
    }

    #[test]
    fn the_method_must_be_offered_when_methods_are_listed() {
        let fields = |methods: Value| {
            [("token_endpoint_auth_methods_supported".to_owned(), methods)]
                .into_iter()
                .collect()
        };
        let secret = ClientCredential::Secret("s".into());
        let key = ClientCredential::PrivateKey {
            pem: String::new(),
            algorithm: SigningAlgorithm::Es256,
        };
        assert!(check_method(&fields(json!(["client_secret_basic"])), &secret).is_ok());
        assert!(check_method(&fields(json!(["private_key_jwt"])), &key).is_ok());
        assert!(check_method(&fields(json!(["private_key_jwt"])), &secret).is_err());
        assert!(check_method(&Default::default(), &key).is_ok());
    }

    #[test]
    fn a_token_is_renewed_before_it_expires() {
        let soon = renew_at(2);
        assert!(soon <= Instant::now() + Duration::from_secs(1));
        let later = renew_at(3600);
        assert!(later > Instant::now() + Duration::from_secs(3500));
    }
}
