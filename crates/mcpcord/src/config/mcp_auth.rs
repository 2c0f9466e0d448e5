//! How the bot proves itself to a remote MCP server beyond static headers
//! (`[mcp.servers.NAME] auth` and `[mcp.servers.NAME.oauth]`): an OAuth login an operator
//! makes with `mcpcord mcp login NAME`, or the client credentials grant.

use serde::Serialize;
use url::Url;

use super::secret::Secret;

/// The loopback port `mcpcord mcp login` listens on when `redirect_port` is not set.
pub const DEFAULT_REDIRECT_PORT: u16 = 8976;

/// The variable a server's client secret may come from: `MCPCORD_MCP_<NAME>_CLIENT_SECRET`,
/// the name in upper case with `-` as `_`.
pub fn client_secret_var(server: &str) -> String {
    format!(
        "MCPCORD_MCP_{}_CLIENT_SECRET",
        server.to_ascii_uppercase().replace('-', "_")
    )
}

/// `auth` of one remote server.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum McpAuth {
    /// Only the static `headers`.
    #[default]
    None,
    /// OAuth authorization code with PKCE: a login by `mcpcord mcp login NAME`, stored sealed
    /// in the database.
    #[serde(rename = "oauth")]
    OAuth(Box<OAuthConfig>),
    /// OAuth client credentials: the bot is the client, no person logs in.
    ClientCredentials(Box<ClientCredentialsConfig>),
}

impl McpAuth {
    /// Its secrets, for the log redactor.
    pub fn secrets(&self) -> Vec<Secret> {
        match self {
            McpAuth::None => Vec::new(),
            McpAuth::OAuth(oauth) => oauth.client_secret.iter().cloned().collect(),
            McpAuth::ClientCredentials(cc) => match &cc.credential {
                ClientCredentialConfig::Secret(secret) => vec![secret.clone()],
                ClientCredentialConfig::PrivateKey { pem, .. } => vec![pem.clone()],
            },
        }
    }
}

/// `[mcp.servers.NAME.oauth]` for `auth = "oauth"`.
#[derive(Debug, Clone, Serialize)]
pub struct OAuthConfig {
    /// A client id registered beforehand (else CIMD or dynamic registration).
    pub client_id: Option<String>,
    /// Its secret, from the file, the variable or the configuration.
    pub client_secret: Option<Secret>,
    /// An https URL of a client ID metadata document.
    pub client_metadata_url: Option<Url>,
    /// The name on the consent page.
    pub client_name: String,
    /// Scopes to ask for instead of the server's.
    pub scopes: Option<Vec<String>>,
    /// The loopback port of `mcpcord mcp login`'s redirect listener.
    pub redirect_port: u16,
}

impl OAuthConfig {
    /// The redirect URI registered with the authorization server for `port`.
    pub fn redirect_uri(port: u16) -> String {
        format!("http://127.0.0.1:{port}/callback")
    }
}

/// `[mcp.servers.NAME.oauth]` for `auth = "client-credentials"`.
#[derive(Debug, Clone, Serialize)]
pub struct ClientCredentialsConfig {
    /// The client id.
    pub client_id: String,
    /// How the client proves who it is.
    pub credential: ClientCredentialConfig,
    /// Scopes to ask for (none: left out).
    pub scopes: Vec<String>,
}

/// A client credentials client's proof.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientCredentialConfig {
    /// A client secret.
    Secret(Secret),
    /// A private key signing `private_key_jwt` assertions.
    PrivateKey {
        /// The PKCS#8 PEM key (read from `private_key_file`).
        pem: Secret,
        /// The JOSE algorithm name (`ES256`).
        algorithm: String,
    },
}
