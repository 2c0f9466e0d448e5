//! Builds the running parts from the configuration: the one place config types become the
//! lower crates' types.

use mcpcord_llm::{BackendPool, BackendSpec, PoolOptions, ServerKind};

use mcpcord_mcp::{
    ApprovalPolicy, AuthSpec, Callbacks, ClientCredential, ClientCredentialsSpec, HostOptions,
    HttpSpec, Lifecycle, McpHost, OAuthSpec, RestartPolicy, ServerSpec, SigningAlgorithm,
    StdioSpec, ToolPolicy, TransportSpec,
};
use mcpcord_memory::Store;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::{
    BackendKind, ClientCredentialConfig, Config, McpAuth, McpProtocolVersion, McpRestart,
    McpServerConfig, McpTransport, OAuthConfig, ToolApproval,
};
use crate::secrets::{SecretKey, SecretKeyError};
use crate::vault::DbVault;

/// The backend pool for the configured backends.
pub fn backend_pool(config: &Config) -> BackendPool {
    BackendPool::new(backend_specs(config), pool_options(config))
}

/// The pool's options from the configuration.
pub fn pool_options(config: &Config) -> PoolOptions {
    PoolOptions {
        max_context: Some(config.models.max_context.get()),
        ..PoolOptions::default()
    }
}

/// The pool's spec of every configured backend.
pub fn backend_specs(config: &Config) -> Vec<BackendSpec> {
    config
        .backends
        .iter()
        .map(|b| BackendSpec {
            name: b.name.clone(),
            kind: match b.kind {
                BackendKind::Ollama => ServerKind::Ollama,
                BackendKind::Openai => ServerKind::OpenAi,
            },
            url: b.url.clone(),
            api_key: b.api_key.as_ref().map(|k| k.expose().to_string()),
            max_concurrency: b.max_concurrency.get() as usize,
            request_timeout: b.request_timeout,
            stall_timeout: b.stall_timeout,
        })
        .collect()
}

/// Installs the process-wide TLS provider (ring); HTTPS clients panic without one.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The host's spec for every enabled MCP server of the configuration.
pub fn mcp_server_specs(config: &Config) -> Vec<ServerSpec> {
    config
        .mcp
        .servers
        .iter()
        .filter(|server| !server.disabled)
        .map(mcp_server_spec)
        .collect()
}

/// The host's spec for one configured MCP server (disabled or not).
pub fn mcp_server_spec(server: &McpServerConfig) -> ServerSpec {
    let mut spec = ServerSpec::new(server.name.clone(), transport_spec(&server.transport))
        .with_call_timeout(server.call_timeout)
        .with_start_timeout(server.start_timeout)
        .with_tools(tool_policy(server))
        .with_restart(match server.restart {
            McpRestart::Always => RestartPolicy::Always,
            McpRestart::OnFailure => RestartPolicy::OnFailure,
            McpRestart::Never => RestartPolicy::Never,
        })
        .with_replicas(server.replicas.get() as usize)
        .with_sampling(server.allow_sampling)
        .with_lifecycle(match server.protocol_version {
            McpProtocolVersion::Auto => Lifecycle::Auto,
            McpProtocolVersion::V2025_11_25 => Lifecycle::Initialize,
            McpProtocolVersion::V2026_07_28 => Lifecycle::Discover,
        });
    spec.memory_limit = server.memory_limit;
    spec
}

/// The host's transport for a configured one (secrets exposed to the child or the request).
fn transport_spec(transport: &McpTransport) -> TransportSpec {
    match transport {
        McpTransport::Stdio {
            command,
            args,
            env,
            cwd,
        } => TransportSpec::Stdio(StdioSpec {
            command: command.clone(),
            args: args.clone(),
            env: env
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string()))
                .collect(),
            cwd: Some(cwd.clone()),
        }),
        McpTransport::Http { url, headers, auth } => TransportSpec::Http(HttpSpec {
            url: url.to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string()))
                .collect(),
            auth: auth_spec(auth),
        }),
    }
}

/// The host's authorization for a configured one (secrets exposed for the token requests).
fn auth_spec(auth: &McpAuth) -> Option<AuthSpec> {
    match auth {
        McpAuth::None => None,
        McpAuth::OAuth(oauth) => Some(AuthSpec::OAuth(OAuthSpec {
            client_name: oauth.client_name.clone(),
            client_id: oauth.client_id.clone(),
            client_secret: oauth.client_secret.as_ref().map(|s| s.expose().to_owned()),
            client_metadata_url: oauth.client_metadata_url.as_ref().map(Url::to_string),
            scopes: oauth.scopes.clone(),
            redirect_uri: OAuthConfig::redirect_uri(oauth.redirect_port),
        })),
        McpAuth::ClientCredentials(cc) => {
            Some(AuthSpec::ClientCredentials(ClientCredentialsSpec {
                client_id: cc.client_id.clone(),
                credential: match &cc.credential {
                    ClientCredentialConfig::Secret(secret) => {
                        ClientCredential::Secret(secret.expose().to_owned())
                    }
                    ClientCredentialConfig::PrivateKey { pem, algorithm } => {
                        ClientCredential::PrivateKey {
                            pem: pem.expose().to_owned(),
                            // Validation accepted only names the host knows.
                            algorithm: SigningAlgorithm::from_name(algorithm)
                                .unwrap_or(SigningAlgorithm::Es256),
                        }
                    }
                },
                scopes: cc.scopes.clone(),
            }))
        }
    }
}

/// The key OAuth logins are sealed with, whenever one is set (so a reload may add an OAuth
/// server); an error saying how to make one when a server has `auth = "oauth"` and none is set.
pub fn secret_key(config: &Config) -> Result<Option<SecretKey>, String> {
    match &config.mcp.secret_key {
        Some(key) => Ok(Some(SecretKey::clone(key))),
        None => match config.mcp.oauth_servers().find(|server| !server.disabled) {
            Some(server) => Err(missing_key(&server.name)),
            None => Ok(None),
        },
    }
}

/// Where OAuth logins are kept: the database behind `store`, sealed with `key`.
pub fn credential_vault(key: Option<SecretKey>, store: &Store) -> Option<DbVault> {
    key.map(|key| DbVault::new(store.clone(), key))
}

/// What to say when `server` needs a login and no secret key is set.
pub fn missing_key(server: &str) -> String {
    format!(
        "the MCP server `{server}` has auth = \"oauth\", whose login is stored encrypted: \
         {}",
        SecretKeyError::Missing
    )
}

/// `callbacks` with `vault`, when there is one.
pub fn with_vault(callbacks: Callbacks, vault: Option<DbVault>) -> Callbacks {
    match vault {
        Some(vault) => callbacks.with_vault(vault),
        None => callbacks,
    }
}

/// The host's tool policy for a configured server.
fn tool_policy(server: &McpServerConfig) -> ToolPolicy {
    let approval = |policy: ToolApproval| match policy {
        ToolApproval::Auto => ApprovalPolicy::Auto,
        ToolApproval::Ask => ApprovalPolicy::Ask,
        ToolApproval::Deny => ApprovalPolicy::Deny,
    };
    ToolPolicy {
        allowed: server
            .allowed_tools
            .as_ref()
            .map(|tools| tools.iter().cloned().collect()),
        denied: server.denied_tools.iter().cloned().collect(),
        default_approval: server.approval.map(approval),
        approval: server
            .tool_approval
            .iter()
            .map(|(tool, policy)| (tool.clone(), approval(*policy)))
            .collect(),
    }
}

/// Host-wide MCP settings from `[limits]`.
pub fn mcp_host_options(config: &Config) -> HostOptions {
    HostOptions {
        max_output_bytes: usize::try_from(config.limits.max_tool_output_bytes)
            .unwrap_or(usize::MAX),
        disabled_servers: config
            .mcp
            .servers
            .iter()
            .filter(|server| server.disabled)
            .map(|server| server.name.clone())
            .collect(),
        ..HostOptions::default()
    }
}

/// Starts the MCP host with every enabled server (inside a Tokio runtime); the engine supplies
/// the callbacks (approval, input requests, sampling). Cancelling `parent` stops the servers
/// too (the host's own token is a child of it).
pub fn mcp_host(config: &Config, callbacks: Callbacks, parent: &CancellationToken) -> McpHost {
    McpHost::start_under(
        mcp_server_specs(config),
        mcp_host_options(config),
        callbacks,
        parent,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oauth_server_maps_to_the_hosts_auth_spec() {
        let config = Config::from_toml(
            "[mcp.servers.search]\nurl = \"https://mcp.example.com/mcp\"\nauth = \"oauth\"\n\
             [mcp.servers.search.oauth]\nclient_id = \"bot\"\nclient_secret = \"s\"\n\
             scopes = [\"mcp:read\"]\nredirect_port = 9000\n",
            &Default::default(),
        )
        .unwrap();
        let spec = mcp_server_spec(&config.mcp.servers[0]);
        let TransportSpec::Http(http) = spec.transport else {
            panic!("an http server");
        };
        let Some(AuthSpec::OAuth(oauth)) = http.auth else {
            panic!("oauth: {:?}", http.auth);
        };
        assert_eq!(oauth.client_id.as_deref(), Some("bot"));
        assert_eq!(oauth.client_secret.as_deref(), Some("s"));
        assert_eq!(oauth.scopes, Some(vec!["mcp:read".to_owned()]));
        assert_eq!(oauth.redirect_uri, "http://127.0.0.1:9000/callback");
        assert_eq!(oauth.client_name, "mcpcord");
        // No key: the run refuses, saying how to make one.
        let error = secret_key(&config).unwrap_err();
        assert!(error.contains("head -c32 /dev/urandom | base64"), "{error}");
    }
}
