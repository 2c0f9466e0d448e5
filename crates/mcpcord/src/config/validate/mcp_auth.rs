//! `[mcp.servers.NAME] auth` and `[mcp.servers.NAME.oauth]`, and the secret key OAuth logins
//! are sealed with. Every problem is reported under its path.

use std::sync::Arc;

use url::Url;

use super::url as parse_url;
use crate::config::env::Env;
use crate::config::mcp_auth::{
    ClientCredentialConfig, ClientCredentialsConfig, DEFAULT_REDIRECT_PORT, McpAuth, OAuthConfig,
    client_secret_var,
};
use crate::config::raw::{RawMcpServer, RawOAuth};
use crate::config::report::Report;
use crate::config::secret::Secret;
use crate::secrets::{SECRET_KEY_FILE_VAR, SECRET_KEY_VAR, SecretKey};

/// The secret key from `env` (`MCPCORD_SECRET_KEY` or the file `MCPCORD_SECRET_KEY_FILE`
/// names), `None` when neither is set; a key that is set but unusable is reported.
pub(super) fn secret_key(env: &Env, report: &mut Report) -> Option<Arc<SecretKey>> {
    let file = env.get(SECRET_KEY_FILE_VAR).map(std::path::Path::new);
    match SecretKey::from_sources(env.get(SECRET_KEY_VAR).map(String::as_str), file) {
        Ok(key) => key.map(Arc::new),
        Err(error) => {
            report.error(SECRET_KEY_VAR, error.to_string());
            None
        }
    }
}

/// A stdio server has no `auth` (it is a child of the bot: nothing to log in to).
pub(super) fn no_auth_for_stdio(path: &str, raw: &RawMcpServer, report: &mut Report) {
    if raw.auth.as_deref().is_some_and(|auth| auth != "none") || raw.oauth.is_some() {
        report.error(
            path,
            "`auth` and `[oauth]` apply to remote servers (`url`) only: remove them",
        );
    }
}

/// `auth` of the remote server `name` at `url`.
pub(super) fn auth(
    name: &str,
    raw: &RawMcpServer,
    url: &Url,
    env: &Env,
    report: &mut Report,
) -> McpAuth {
    let at = |key: &str| format!("mcp.servers.{name}.{key}");
    let oauth = raw.oauth.clone().unwrap_or_default();
    let kind = raw.auth.as_deref().unwrap_or("none");
    if kind == "none" {
        if raw.oauth.is_some() {
            report.error(
                at("oauth"),
                "is set but `auth` is not: add auth = \"oauth\" or auth = \"client-credentials\"",
            );
        }
        return McpAuth::None;
    }
    if !matches!(kind, "oauth" | "client-credentials") {
        report.error(
            at("auth"),
            format!("{kind:?} is not supported; allowed: none, oauth, client-credentials"),
        );
        return McpAuth::None;
    }
    if url.scheme() != "https" && !is_loopback(url) {
        report.error(
            at("url"),
            format!(
                "must be https with auth = {kind:?} (tokens would cross the network in clear); \
                 plain http is allowed on loopback only"
            ),
        );
    }
    if let Some(header) = raw
        .headers
        .keys()
        .find(|h| h.eq_ignore_ascii_case("authorization"))
    {
        report.error(
            at(&format!("headers.{header}")),
            format!(
                "a static Authorization header cannot be combined with auth = {kind:?}: remove one"
            ),
        );
    }
    let secret = client_secret(name, &oauth, env, report);
    if kind == "oauth" {
        oauth_client(name, oauth, secret, report)
            .map_or(McpAuth::None, |oauth| McpAuth::OAuth(Box::new(oauth)))
    } else {
        client_credentials(name, oauth, secret, report)
            .map_or(McpAuth::None, |cc| McpAuth::ClientCredentials(Box::new(cc)))
    }
}

/// Whether `url`'s host is this machine.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The client secret from `client_secret`, `client_secret_file` or the server's variable: at
/// most one of them.
fn client_secret(name: &str, raw: &RawOAuth, env: &Env, report: &mut Report) -> Option<Secret> {
    let path = format!("mcp.servers.{name}.oauth.client_secret");
    let var = client_secret_var(name);
    let from_env = env.get(&var).filter(|value| !value.trim().is_empty());
    let given = [
        raw.client_secret.is_some(),
        raw.client_secret_file.is_some(),
        from_env.is_some(),
    ];
    if given.iter().filter(|&&given| given).count() > 1 {
        report.error(
            path,
            format!("is given more than once (client_secret, client_secret_file, {var}): keep one"),
        );
        return None;
    }
    if let Some(file) = &raw.client_secret_file {
        return match std::fs::read_to_string(file) {
            Ok(text) => non_empty(text.trim(), &format!("{path}_file"), report),
            Err(error) => {
                report.error(
                    format!("{path}_file"),
                    format!("cannot read {file}: {error}"),
                );
                None
            }
        };
    }
    let text = raw
        .client_secret
        .as_deref()
        .or(from_env.map(String::as_str))?;
    non_empty(text.trim(), &path, report)
}

/// `text` as a secret, unless it is empty.
fn non_empty(text: &str, path: &str, report: &mut Report) -> Option<Secret> {
    if text.is_empty() {
        report.error(path, "is empty");
        return None;
    }
    Some(Secret::new(text))
}

/// The client of `auth = "oauth"`.
fn oauth_client(
    name: &str,
    raw: RawOAuth,
    client_secret: Option<Secret>,
    report: &mut Report,
) -> Option<OAuthConfig> {
    let at = |key: &str| format!("mcp.servers.{name}.oauth.{key}");
    for (key, set) in [
        ("private_key_file", raw.private_key_file.is_some()),
        ("signing_algorithm", raw.signing_algorithm.is_some()),
    ] {
        if set {
            report.error(at(key), "applies to auth = \"client-credentials\" only");
        }
    }
    if client_secret.is_some() && raw.client_id.is_none() {
        report.error(
            at("client_id"),
            "is needed with a client secret (the secret belongs to a registered client)",
        );
    }
    let client_metadata_url = raw
        .client_metadata_url
        .as_deref()
        .and_then(|text| parse_url(text, &at("client_metadata_url"), &["https"], report));
    if raw.redirect_port == Some(0) {
        report.error(at("redirect_port"), "must be a port number (1-65535)");
    }
    let scopes = raw
        .scopes
        .map(|scopes| checked_scopes(name, scopes, report));
    Some(OAuthConfig {
        client_id: raw.client_id,
        client_secret,
        client_metadata_url,
        client_name: raw.client_name.unwrap_or_else(|| "mcpcord".to_owned()),
        scopes,
        redirect_port: raw.redirect_port.unwrap_or(DEFAULT_REDIRECT_PORT),
    })
}

/// Scopes: words without spaces.
fn checked_scopes(name: &str, scopes: Vec<String>, report: &mut Report) -> Vec<String> {
    for (i, scope) in scopes.iter().enumerate() {
        if scope.is_empty() || scope.contains(char::is_whitespace) {
            report.error(
                format!("mcp.servers.{name}.oauth.scopes[{i}]"),
                format!("{scope:?} is not a scope (one word, no spaces)"),
            );
        }
    }
    scopes
}

/// The client of `auth = "client-credentials"`: an id and a secret or a private key.
fn client_credentials(
    name: &str,
    raw: RawOAuth,
    secret: Option<Secret>,
    report: &mut Report,
) -> Option<ClientCredentialsConfig> {
    let at = |key: &str| format!("mcp.servers.{name}.oauth.{key}");
    for (key, set) in [
        ("client_metadata_url", raw.client_metadata_url.is_some()),
        ("redirect_port", raw.redirect_port.is_some()),
    ] {
        if set {
            report.error(at(key), "applies to auth = \"oauth\" only");
        }
    }
    let Some(client_id) = raw.client_id else {
        report.error(
            at("client_id"),
            "is needed with auth = \"client-credentials\" (the client registered for the bot)",
        );
        return None;
    };
    let credential = match (secret, raw.private_key_file) {
        (Some(secret), None) => ClientCredentialConfig::Secret(secret),
        (None, Some(file)) => private_key(name, &file, raw.signing_algorithm, report)?,
        (Some(_), Some(_)) => {
            report.error(
                at("private_key_file"),
                "is set together with a client secret: keep one",
            );
            return None;
        }
        (None, None) => {
            report.error(
                at("client_secret"),
                format!(
                    "auth = \"client-credentials\" needs client_secret, client_secret_file, {} \
                     or private_key_file",
                    client_secret_var(name)
                ),
            );
            return None;
        }
    };
    let scopes = checked_scopes(name, raw.scopes.unwrap_or_default(), report);
    Some(ClientCredentialsConfig {
        client_id,
        credential,
        scopes,
    })
}

/// The private key in `file`, with its algorithm (ES256 unless told).
fn private_key(
    name: &str,
    file: &str,
    algorithm: Option<String>,
    report: &mut Report,
) -> Option<ClientCredentialConfig> {
    let at = |key: &str| format!("mcp.servers.{name}.oauth.{key}");
    let algorithm = algorithm.unwrap_or_else(|| "ES256".to_owned());
    if mcpcord_mcp::SigningAlgorithm::from_name(&algorithm).is_none() {
        report.error(
            at("signing_algorithm"),
            format!("{algorithm:?} is not supported; allowed: ES256"),
        );
        return None;
    }
    match std::fs::read_to_string(file) {
        Ok(pem) if pem.contains("-----BEGIN PRIVATE KEY-----") => {
            Some(ClientCredentialConfig::PrivateKey {
                pem: Secret::new(pem),
                algorithm,
            })
        }
        Ok(_) => {
            report.error(
                at("private_key_file"),
                format!("{file} is not a PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----)"),
            );
            None
        }
        Err(error) => {
            report.error(
                at("private_key_file"),
                format!("cannot read {file}: {error}"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, McpAuth, McpTransport};

    /// Every `path: message` the TOML `text` gets, with `env`.
    fn errors(text: &str, env: &[(&str, &str)]) -> Vec<String> {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match Config::from_toml(text, &env) {
            Ok(_) => Vec::new(),
            Err(invalid) => invalid
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect(),
        }
    }

    fn has(errors: &[String], path: &str, words: &str) {
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(&format!("{path}: ")) && e.contains(words)),
            "no {path:?} error with {words:?} in {errors:#?}"
        );
    }

    #[test]
    fn auth_problems_are_named_with_their_path() {
        let found = errors(
            "[mcp.servers.a]\ncommand = \"x\"\nauth = \"oauth\"\n\
             [mcp.servers.b]\nurl = \"http://mcp.example.com/mcp\"\nauth = \"oauth\"\n\
             [mcp.servers.c]\nurl = \"https://h/mcp\"\nauth = \"oauth\"\n\
             headers = { Authorization = \"Bearer x\" }\n\
             [mcp.servers.d]\nurl = \"https://h/mcp\"\nauth = \"client-credentials\"\n\
             [mcp.servers.e]\nurl = \"https://h/mcp\"\nauth = \"magic\"\n\
             [mcp.servers.f]\nurl = \"https://h/mcp\"\n[mcp.servers.f.oauth]\nclient_id = \"x\"\n\
             [mcp.servers.g]\nurl = \"https://h/mcp\"\nauth = \"oauth\"\n\
             [mcp.servers.g.oauth]\nclient_id = \"x\"\nclient_secret = \"s\"\n\
             client_metadata_url = \"http://h/c.json\"\n",
            &[("MCPCORD_MCP_G_CLIENT_SECRET", "s2")],
        );
        has(&found, "mcp.servers.a", "remote servers (`url`) only");
        has(&found, "mcp.servers.b.url", "must be https");
        has(
            &found,
            "mcp.servers.c.headers.Authorization",
            "cannot be combined",
        );
        has(&found, "mcp.servers.d.oauth.client_id", "is needed");
        has(
            &found,
            "mcp.servers.e.auth",
            "allowed: none, oauth, client-credentials",
        );
        has(&found, "mcp.servers.f.oauth", "`auth` is not");
        has(
            &found,
            "mcp.servers.g.oauth.client_secret",
            "more than once",
        );
        has(&found, "mcp.servers.g.oauth.client_metadata_url", "https");
        assert_eq!(found.len(), 8, "{found:#?}");
    }

    #[test]
    fn loopback_http_is_allowed_and_secrets_come_from_the_variable() {
        let env = [(
            "MCPCORD_MCP_LOCAL_ONE_CLIENT_SECRET".to_string(),
            "s-1".to_string(),
        )];
        let config = Config::from_toml(
            "[mcp.servers.local-one]\nurl = \"http://127.0.0.1:9/mcp\"\n\
             auth = \"client-credentials\"\n[mcp.servers.local-one.oauth]\nclient_id = \"m\"\n",
            &env.into(),
        )
        .unwrap();
        let McpTransport::Http { auth, .. } = &config.mcp.servers[0].transport else {
            panic!("an http server");
        };
        let McpAuth::ClientCredentials(cc) = auth else {
            panic!("client credentials: {auth:?}");
        };
        assert_eq!(cc.client_id, "m");
        assert_eq!(auth.secrets()[0].expose(), "s-1");
        assert!(config.secrets().iter().any(|s| s.expose() == "s-1"));
    }

    #[test]
    fn an_unusable_secret_key_is_reported_without_its_value() {
        let found = errors("", &[("MCPCORD_SECRET_KEY", "hunter2")]);
        has(&found, "MCPCORD_SECRET_KEY", "not a usable key");
        assert!(!found.concat().contains("hunter2"), "{found:?}");
    }
}
