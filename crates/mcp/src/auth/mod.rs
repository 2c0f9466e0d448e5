//! OAuth 2.1 for remote (Streamable HTTP) servers, as the MCP authorization specification
//! describes it, on rmcp's `auth` feature: discovery from the server's `401` challenge,
//! registration (pre-registered, client ID metadata document, or dynamic), authorization code
//! with PKCE through an [`Authorizer`] (the "browser"), token refresh, and scope step-up on
//! `403 insufficient_scope`; and the client credentials grant for servers meant for machines
//! ([`ClientCredentialsSpec`]: a client secret, or a private key signing an RFC 7523 assertion).
//!
//! The state of one server's authorization ([`server::ServerAuth`]) is shared by every
//! connection to it, so one login serves reconnects, replicas and the `Auto` lifecycle's second
//! connection. Tokens, codes, verifiers and client secrets are never logged.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub(crate) mod client_credentials;
pub(crate) mod http;
pub(crate) mod login;
pub(crate) mod revoke;
pub(crate) mod saved;
pub(crate) mod server;
pub(crate) mod transport;

pub use revoke::{Revocation, revoke as revoke_login};

/// How a remote server is authorized beyond its static headers.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AuthSpec {
    /// OAuth 2.1 authorization code with PKCE, on behalf of the bot's operator.
    OAuth(OAuthSpec),
    /// OAuth 2.1 client credentials: the bot is the client, no person and no authorizer.
    ClientCredentials(ClientCredentialsSpec),
}

/// The client of a client credentials grant (SEP-1046), registered with the authorization server
/// beforehand.
#[derive(Clone)]
pub struct ClientCredentialsSpec {
    /// The client id.
    pub client_id: String,
    /// How the client proves who it is.
    pub credential: ClientCredential,
    /// Scopes to ask for (none: the `scope` parameter is left out).
    pub scopes: Vec<String>,
}

/// How a client credentials client authenticates at the token endpoint.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientCredential {
    /// A client secret: `client_secret_basic` or `client_secret_post`, as the authorization
    /// server's metadata says.
    Secret(String),
    /// A private key signing an RFC 7523 `private_key_jwt` assertion.
    PrivateKey {
        /// The key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
        pem: String,
        /// The signature algorithm.
        algorithm: SigningAlgorithm,
    },
}

/// The signature algorithms of `private_key_jwt` assertions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// ECDSA with P-256 and SHA-256.
    Es256,
}

impl SigningAlgorithm {
    /// The algorithm by its JOSE name (`ES256`), if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
        }
    }
}

impl fmt::Debug for ClientCredentialsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentialsSpec")
            .field("client_id", &self.client_id)
            .field("credential", &self.credential)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither the secret nor the key ever appears in a log line.
        match self {
            Self::Secret(_) => f.write_str("Secret([redacted])"),
            Self::PrivateKey { algorithm, .. } => f
                .debug_struct("PrivateKey")
                .field("pem", &"[redacted]")
                .field("algorithm", algorithm)
                .finish(),
        }
    }
}

/// The client side of an OAuth authorization; every field but the redirect URI is optional.
#[derive(Clone)]
pub struct OAuthSpec {
    /// The name shown by the authorization server on its consent page (dynamic registration).
    pub client_name: String,
    /// A client id registered with the authorization server beforehand (else CIMD or DCR).
    pub client_id: Option<String>,
    /// The secret of the pre-registered client, when it has one.
    pub client_secret: Option<String>,
    /// An https URL of a client ID metadata document, used when the server supports it.
    pub client_metadata_url: Option<String>,
    /// Scopes to ask for instead of those the server's challenge or metadata name.
    pub scopes: Option<Vec<String>>,
    /// Where the authorization server sends the browser back to with the code.
    pub redirect_uri: String,
}

impl Default for OAuthSpec {
    fn default() -> Self {
        Self {
            client_name: "mcpcord".to_owned(),
            client_id: None,
            client_secret: None,
            client_metadata_url: None,
            scopes: None,
            redirect_uri: "http://127.0.0.1:8976/callback".to_owned(),
        }
    }
}

impl fmt::Debug for OAuthSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret never appears in a log line.
        f.debug_struct("OAuthSpec")
            .field("client_name", &self.client_name)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("client_metadata_url", &self.client_metadata_url)
            .field("scopes", &self.scopes)
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

/// Why the host asks for an authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizationReason {
    /// No usable login: the first one, or the last one expired and could not be refreshed.
    Login,
    /// The server wants more scopes than the login has.
    StepUp {
        /// Every scope asked for now (what the login had and what the server wants).
        scopes: Vec<String>,
    },
}

/// One authorization a person (or a headless stand-in) completes in a browser.
#[derive(Clone, Debug)]
pub struct AuthorizationPrompt {
    /// The server's name in the host.
    pub server: String,
    /// The server's MCP URL: it decides which addresses the [`HeadlessAuthorizer`] may reach.
    pub resource: String,
    /// The authorization URL to open.
    pub url: String,
    /// Where the authorization server redirects to with the code.
    pub redirect_uri: String,
    /// Why it is asked.
    pub reason: AuthorizationReason,
}

/// The "browser": opens an authorization URL and returns the full redirect URL the
/// authorization server sent back (with `code`, `state` and maybe `iss`), or `None` when no one
/// can authorize now (the bot at run time): the server then needs a login.
pub trait Authorizer: Send + Sync + 'static {
    /// Completes one authorization.
    fn authorize(&self, prompt: AuthorizationPrompt) -> BoxFuture<'static, Option<String>>;
}

impl<F, Fut> Authorizer for F
where
    F: Fn(AuthorizationPrompt) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<String>> + Send + 'static,
{
    fn authorize(&self, prompt: AuthorizationPrompt) -> BoxFuture<'static, Option<String>> {
        Box::pin(self(prompt))
    }
}

/// An [`Authorizer`] without a person: it fetches the authorization URL itself, without
/// following the redirect, and returns the `Location` the authorization server answered with.
/// It completes an authorization only where the authorization server approves at once (no
/// login page): test doubles, the conformance suite's servers.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeadlessAuthorizer;

impl Authorizer for HeadlessAuthorizer {
    fn authorize(&self, prompt: AuthorizationPrompt) -> BoxFuture<'static, Option<String>> {
        Box::pin(async move {
            let response = http::oauth_http_client(http::Reach::of_server(&prompt.resource))
                .get_no_redirect(&prompt.url)
                .await
                .map_err(|error| tracing::warn!(server = %prompt.server, %error, "the authorization URL could not be fetched"))
                .ok()?;
            let location = response
                .headers()
                .get(::http::header::LOCATION)?
                .to_str()
                .ok()?;
            let base = url::Url::parse(&prompt.url).ok()?;
            Some(base.join(location).ok()?.to_string())
        })
    }
}

/// A login to one server, as a [`CredentialVault`] keeps it.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SavedAuth {
    /// The MCP URL the login is for (a changed URL means a new login).
    pub resource: String,
    /// The authorization server's issuer the client is registered with.
    pub issuer: Option<String>,
    /// The client id used (pre-registered, CIMD URL or from dynamic registration).
    pub client_id: String,
    /// The secret of a client the host registered itself (dynamic registration), so the
    /// registration is used again with the same issuer; never a configured secret.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The access token.
    pub access_token: String,
    /// The refresh token, when the authorization server gave one.
    pub refresh_token: Option<String>,
    /// When the access token expires, unix seconds.
    pub expires_at: Option<u64>,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// Scopes the server asked for at run time beyond [`SavedAuth::scopes`]
    /// (`insufficient_scope` with no one to authorize): the next login asks for them too.
    #[serde(default)]
    pub wanted_scopes: Vec<String>,
}

impl fmt::Debug for SavedAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens never appear in a log line.
        f.debug_struct("SavedAuth")
            .field("resource", &self.resource)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .field("wanted_scopes", &self.wanted_scopes)
            .finish()
    }
}

/// Where logins are kept between runs (the binary seals them into its database); the host only
/// reads and writes through it.
pub trait CredentialVault: Send + Sync + 'static {
    /// The login saved for `server`, if any.
    fn load(&self, server: &str) -> BoxFuture<'static, Result<Option<SavedAuth>, String>>;
    /// Replaces the login of `server`.
    fn save(&self, server: &str, auth: SavedAuth) -> BoxFuture<'static, Result<(), String>>;
    /// Forgets the login of `server`.
    fn clear(&self, server: &str) -> BoxFuture<'static, Result<(), String>>;
    /// Waits until no other refresh of `server`'s login runs (among the hosts sharing the
    /// vault: other processes too, when the vault's storage is shared) and holds that until the
    /// returned guard is dropped; the host reads the login again once it holds it. The default
    /// coordinates nothing.
    fn refresh_lock(&self, _server: &str) -> BoxFuture<'static, Result<Box<dyn Send>, String>> {
        Box::pin(async { Ok(Box::new(()) as Box<dyn Send>) })
    }
}

/// A vault in memory: logins last as long as the process (the default; tests, the conformance
/// client). Hosts sharing one (clones) refresh a login one at a time.
#[derive(Clone, Default)]
pub struct MemoryVault {
    logins: Arc<Mutex<HashMap<String, SavedAuth>>>,
    refreshes: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl MemoryVault {
    fn logins(&self) -> std::sync::MutexGuard<'_, HashMap<String, SavedAuth>> {
        self.logins.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CredentialVault for MemoryVault {
    fn load(&self, server: &str) -> BoxFuture<'static, Result<Option<SavedAuth>, String>> {
        let found = self.logins().get(server).cloned();
        Box::pin(async move { Ok(found) })
    }

    fn save(&self, server: &str, auth: SavedAuth) -> BoxFuture<'static, Result<(), String>> {
        self.logins().insert(server.to_owned(), auth);
        Box::pin(async { Ok(()) })
    }

    fn clear(&self, server: &str) -> BoxFuture<'static, Result<(), String>> {
        self.logins().remove(server);
        Box::pin(async { Ok(()) })
    }

    fn refresh_lock(&self, server: &str) -> BoxFuture<'static, Result<Box<dyn Send>, String>> {
        let lock = self
            .refreshes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(server.to_owned())
            .or_default()
            .clone();
        Box::pin(async move { Ok(Box::new(lock.lock_owned().await) as Box<dyn Send>) })
    }
}

impl fmt::Debug for MemoryVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryVault")
            .field(
                "servers",
                &self.logins().keys().cloned().collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved() -> SavedAuth {
        SavedAuth {
            resource: "https://mcp.example.com/mcp".into(),
            issuer: Some("https://as.example.com".into()),
            client_id: "client-1".into(),
            client_secret: Some("cs-SECRET-0".into()),
            access_token: "at-SECRET-1".into(),
            refresh_token: Some("rt-SECRET-2".into()),
            expires_at: Some(1),
            scopes: vec!["mcp:read".into()],
            wanted_scopes: vec!["mcp:write".into()],
        }
    }

    #[tokio::test]
    async fn the_memory_vault_saves_loads_and_forgets() {
        let vault = MemoryVault::default();
        assert_eq!(vault.load("search").await.unwrap(), None);
        vault.save("search", saved()).await.unwrap();
        assert_eq!(vault.load("search").await.unwrap(), Some(saved()));
        assert_eq!(vault.load("other").await.unwrap(), None);
        vault.clear("search").await.unwrap();
        assert_eq!(vault.load("search").await.unwrap(), None);
    }

    #[test]
    fn debug_output_has_no_secret() {
        let text = format!("{:?}", saved());
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("client-1"), "{text}");
        let spec = OAuthSpec {
            client_secret: Some("cs-SECRET-3".into()),
            ..OAuthSpec::default()
        };
        let text = format!("{spec:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
        for credential in [
            ClientCredential::Secret("cs-SECRET-4".into()),
            ClientCredential::PrivateKey {
                pem: "-----BEGIN PRIVATE KEY-----\nSECRET\n".into(),
                algorithm: SigningAlgorithm::Es256,
            },
        ] {
            let spec = ClientCredentialsSpec {
                client_id: "machine".into(),
                credential,
                scopes: Vec::new(),
            };
            let text = format!("{spec:?}");
            assert!(!text.contains("SECRET"), "{text}");
            assert!(
                text.contains("machine") && text.contains("[redacted]"),
                "{text}"
            );
        }
    }
}
