//! `mcpcord mcp login SERVER` and `mcpcord mcp logout SERVER`: an operator's OAuth login to a
//! remote MCP server, stored in the database sealed with `MCPCORD_SECRET_KEY`, and its removal;
//! `mcpcord mcp client-metadata SERVER`, the document that identifies the bot as an OAuth client.
//! Also what `check` says about a server's stored login.

use std::time::{Duration, UNIX_EPOCH};

use anyhow::anyhow;
use futures::future::BoxFuture;
use mcpcord_mcp::{
    AuthSpec, Callbacks, CredentialVault, Lifecycle, McpHost, RestartPolicy, Revocation, SavedAuth,
    ServerState, TransportSpec,
};
use mcpcord_memory::Store;

use super::Failure;
use super::authorizer::{LOGIN_WAIT, TerminalAuthorizer};
use crate::cli::LoginArgs;
use crate::config::{Config, McpAuth, McpServerConfig, McpTransport, OAuthConfig};
use crate::vault::DbVault;
use crate::wiring::{mcp_host_options, mcp_server_spec, missing_key};

/// A vault whose stored login has no usable token, so `login` always asks for a fresh
/// authorization, yet keeps what a new login should reuse: the client registration (same
/// issuer) and the scopes the server asked for since. The old login stays until the new one is
/// saved.
#[derive(Clone, Debug)]
struct FreshLogin(DbVault);

impl CredentialVault for FreshLogin {
    fn load(&self, server: &str) -> BoxFuture<'static, Result<Option<SavedAuth>, String>> {
        let stored = self.0.load(server);
        Box::pin(async move { Ok(stored.await.ok().flatten().map(without_tokens)) })
    }

    fn save(&self, server: &str, auth: SavedAuth) -> BoxFuture<'static, Result<(), String>> {
        self.0.save(server, auth)
    }

    fn clear(&self, server: &str) -> BoxFuture<'static, Result<(), String>> {
        self.0.clear(server)
    }
}

/// `saved` with its tokens gone and expired: the host must authorize again. A stored login that
/// cannot be read (another key) counts as none.
fn without_tokens(saved: SavedAuth) -> SavedAuth {
    SavedAuth {
        access_token: String::new(),
        refresh_token: None,
        expires_at: Some(0),
        ..saved
    }
}

/// The configured server `name` (disabled or not), or a usage error naming those there are.
fn configured<'a>(config: &'a Config, name: &str) -> Result<&'a McpServerConfig, Failure> {
    config
        .mcp
        .servers
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = config.mcp.servers.iter().map(|s| s.name.as_str()).collect();
            Failure::Usage(format!(
                "there is no MCP server `{name}` in the configuration; configured: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })
}

/// The OAuth client of `server`, or a usage error saying why it has no login.
fn oauth_of(server: &McpServerConfig) -> Result<&OAuthConfig, Failure> {
    let name = &server.name;
    match &server.transport {
        McpTransport::Http {
            auth: McpAuth::OAuth(oauth),
            ..
        } => Ok(oauth),
        McpTransport::Http {
            auth: McpAuth::ClientCredentials(_),
            ..
        } => Err(Failure::Usage(format!(
            "`{name}` has auth = \"client-credentials\": the bot is the client and needs no login"
        ))),
        _ => Err(Failure::Usage(format!(
            "`{name}` has no OAuth login: set auth = \"oauth\" in [mcp.servers.{name}] first"
        ))),
    }
}

/// Opens the database, with what to do when it cannot be.
async fn open_store(config: &Config) -> Result<Store, Failure> {
    Store::connect(config.storage.url.expose().as_str())
        .await
        .map_err(|error| {
            Failure::Runtime(anyhow::Error::new(error).context(format!(
                "cannot open the database at {} (where logins are stored)",
                config.storage.url
            )))
        })
}

/// `mcp login`: authorize in a browser, connect, list the tools, keep the login.
pub async fn login(config: &Config, args: LoginArgs) -> Result<(), Failure> {
    let server = configured(config, &args.server)?;
    let oauth = oauth_of(server)?;
    let key = config
        .mcp
        .secret_key
        .as_deref()
        .cloned()
        .ok_or_else(|| Failure::Usage(missing_key(&server.name)))?;
    let port = args.port.unwrap_or(oauth.redirect_port);
    let store = open_store(config).await?;
    let vault = DbVault::new(store.clone(), key);
    let authorizer = TerminalAuthorizer {
        port,
        open_browser: !args.no_browser,
    };
    let callbacks = Callbacks::default()
        .with_authorizer(authorizer)
        .with_vault(FreshLogin(vault.clone()));
    let host = McpHost::start(
        vec![login_spec(server, port)],
        mcp_host_options(config),
        callbacks,
    );
    host.wait_ready(LOGIN_WAIT + server.start_timeout + Duration::from_secs(1))
        .await;
    let status = host.status().into_iter().find(|s| s.name == server.name);
    let tools = host.tools().len();
    host.shutdown().await;
    let result = finish(&vault, &server.name, status, tools).await;
    store.close().await;
    if result.is_ok() {
        tell_running_bot(config);
    }
    result
}

/// Tells a bot running with the data folder's PID file that the stored logins changed
/// (SIGUSR1): its MCP servers read them again now, instead of at their next check (every 30 s
/// for one waiting for a login). No bot running is fine: the next one reads them at start.
fn tell_running_bot(config: &Config) {
    let path =
        crate::service::path_or_default(None, &config.storage.data_dir, crate::service::PID_FILE);
    match crate::service::pidfile::signal_running(&path, nix::sys::signal::Signal::SIGUSR1) {
        Ok(Some(pid)) => {
            println!("told the running bot (pid {pid}) to read the stored logins again")
        }
        Ok(None) => {}
        Err(error) => eprintln!(
            "mcpcord: the running bot was not told ({error}): it reads the stored logins again \
             when it next needs them (within 30 s for a server waiting for a login)"
        ),
    }
}

/// The host's spec of `server` for a login: one connection, waiting as long as a person may
/// take, with the redirect on `port`; the `initialize` handshake (the discovery probe's short
/// timeout would cut a login short).
fn login_spec(server: &McpServerConfig, port: u16) -> mcpcord_mcp::ServerSpec {
    let mut spec = mcp_server_spec(server)
        .with_start_timeout(LOGIN_WAIT + server.start_timeout)
        .with_restart(RestartPolicy::Never)
        .with_replicas(1);
    if spec.lifecycle == Lifecycle::Auto {
        spec = spec.with_lifecycle(Lifecycle::Initialize);
    }
    if let TransportSpec::Http(http) = &mut spec.transport
        && let Some(AuthSpec::OAuth(oauth)) = &mut http.auth
    {
        oauth.redirect_uri = OAuthConfig::redirect_uri(port);
    }
    spec
}

/// Reports the login: the server answered and the login is stored.
async fn finish(
    vault: &DbVault,
    name: &str,
    status: Option<mcpcord_mcp::ServerStatus>,
    tools: usize,
) -> Result<(), Failure> {
    let Some(status) = status.as_ref().filter(|s| s.state == ServerState::Ready) else {
        let detail = status
            .as_ref()
            .and_then(|s| s.last_error().map(mcpcord_llm::redact::redact_urls_in))
            .unwrap_or_else(|| "the authorization was not completed".to_owned());
        return Err(Failure::Runtime(anyhow!(
            "the login to `{name}` did not complete: {detail}"
        )));
    };
    match vault.load(name).await {
        Ok(Some(saved)) => {
            println!(
                "logged in: {tools} tools ({}, {})",
                status.implementation.as_deref().unwrap_or("unnamed server"),
                expiry(saved.expires_at)
            );
            Ok(())
        }
        Ok(None) => Err(Failure::Runtime(anyhow!(
            "`{name}` accepted the login, but it was not stored (see the warnings above)"
        ))),
        Err(error) => Err(Failure::Runtime(anyhow!(error))),
    }
}

/// `mcp logout`: deletes the stored login; with `revoke`, once its authorization server has
/// revoked its tokens.
pub async fn logout(config: &Config, name: &str, revoke: bool) -> Result<(), Failure> {
    let server = configured(config, name)?;
    let oauth = oauth_of(server)?;
    let store = open_store(config).await?;
    if revoke && let Err(failure) = revoke_stored(config, &store, name, oauth).await {
        store.close().await;
        return Err(failure);
    }
    let deleted = store.delete_mcp_credentials(name).await;
    store.close().await;
    let deleted = deleted.map_err(|error| {
        Failure::Runtime(anyhow::Error::new(error).context("cannot delete the login"))
    })?;
    if deleted {
        println!("logged out of `{name}`: its stored login is deleted");
        tell_running_bot(config);
    } else {
        println!("`{name}` had no stored login");
    }
    Ok(())
}

/// `mcp client-metadata`: prints the client ID metadata document to host at the server's
/// `oauth.client_metadata_url` (its `client_id` is that URL).
pub fn client_metadata(config: &Config, name: &str, port: Option<u16>) -> Result<(), Failure> {
    let oauth = oauth_of(configured(config, name)?)?;
    let url = oauth.client_metadata_url.as_ref().ok_or_else(|| {
        Failure::Usage(format!(
            "`{name}` has no oauth.client_metadata_url: set it in [mcp.servers.{name}.oauth] to \
             the https URL where you will host the document (its client_id is that URL), then \
             run this again"
        ))
    })?;
    let port = port.unwrap_or(oauth.redirect_port);
    let document = serde_json::json!({
        "client_id": url.as_str(),
        "client_name": oauth.client_name,
        "redirect_uris": [OAuthConfig::redirect_uri(port)],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    });
    let text = serde_json::to_string_pretty(&document)
        .map_err(|error| Failure::Runtime(anyhow::Error::new(error)))?;
    println!("{text}");
    Ok(())
}

/// Asks the authorization server of `name`'s stored login to revoke its tokens, and says how
/// it went; a failure keeps the login (the caller deletes it only on success).
async fn revoke_stored(
    config: &Config,
    store: &Store,
    name: &str,
    oauth: &OAuthConfig,
) -> Result<(), Failure> {
    let key = config
        .mcp
        .secret_key
        .as_deref()
        .cloned()
        .ok_or_else(|| Failure::Usage(missing_key(name)))?;
    let keep = |why: String| {
        Failure::Runtime(anyhow!(
            "cannot revoke the login of `{name}`: {why}. The stored login is kept: run this \
             again later, or `mcpcord mcp logout {name}` to delete it here only (its tokens then \
             live until they expire)"
        ))
    };
    let Some(saved) = DbVault::new(store.clone(), key)
        .load(name)
        .await
        .map_err(keep)?
    else {
        return Ok(());
    };
    let secret = oauth.client_secret.as_ref().map(|s| s.expose());
    match mcpcord_mcp::revoke_login(&saved, secret)
        .await
        .map_err(keep)?
    {
        Revocation::Revoked => println!("the authorization server revoked the login's tokens"),
        Revocation::NotOffered => println!(
            "the authorization server offers no revocation: the login's tokens live until they \
             expire (revoke the access on its side to end them now)"
        ),
    }
    Ok(())
}

/// When a token expires, in words.
pub fn expiry(expires_at: Option<u64>) -> String {
    match expires_at {
        Some(seconds) => format!(
            "token expires {}",
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(seconds))
        ),
        None => "token expiry not given".to_owned(),
    }
}

/// What `check` says about `server`'s stored login: `Ok(detail)` when there is one, else the
/// row's status (`LOGIN` with the command to run, or `FAIL`) and detail.
pub async fn stored_login(
    config: &Config,
    server: &McpServerConfig,
    store: Option<&Store>,
) -> Result<String, (&'static str, String)> {
    let name = &server.name;
    let Some(key) = config.mcp.secret_key.as_deref() else {
        return Err(("FAIL", missing_key(name)));
    };
    let Some(store) = store else {
        return Err((
            "FAIL",
            "cannot read its login: the database cannot be opened (see `storage`)".into(),
        ));
    };
    match DbVault::new(store.clone(), key.clone()).load(name).await {
        Ok(Some(saved)) => Ok(format!("logged in, {}", expiry(saved.expires_at))),
        Ok(None) => Err((
            "LOGIN",
            format!("needs a login: run `mcpcord mcp login {name}`"),
        )),
        // A login sealed with another key, or one this version cannot read: log in again.
        Err(error) if error.contains("mcpcord mcp login") => Err(("LOGIN", error)),
        Err(error) => Err(("FAIL", error)),
    }
}
