//! Revoking a saved login at its authorization server (RFC 7009), for `mcpcord mcp logout
//! --revoke`: the refresh token (which, by the RFC, should end the access tokens of the same
//! grant too) and the access token, at the `revocation_endpoint` of the authorization server's
//! metadata. The metadata is found as a login finds it (rmcp's discovery from the MCP URL,
//! through our client and its address guard), and must name the issuer of the saved login.

use std::sync::Arc;

use rmcp::transport::auth::AuthorizationManager;
use serde_json::Value;

use super::SavedAuth;
use super::http::{Reach, Recorder, oauth_http_client};

/// How a revocation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// The authorization server took the tokens back.
    Revoked,
    /// Its metadata names no revocation endpoint: the tokens live until they expire.
    NotOffered,
}

/// Revokes `saved`'s tokens; `client_secret` is the configured secret of a pre-registered
/// client (a registration's own secret is in `saved`). An error says what failed.
pub async fn revoke(saved: &SavedAuth, client_secret: Option<&str>) -> Result<Revocation, String> {
    let issuer = saved
        .issuer
        .as_deref()
        .ok_or("the stored login names no authorization server, so there is none to ask")?;
    let Some(endpoint) = revocation_endpoint(&saved.resource, issuer).await? else {
        return Ok(Revocation::NotOffered);
    };
    let client = oauth_http_client(Reach::of_server(&saved.resource));
    let secret = client_secret.or(saved.client_secret.as_deref());
    let tokens = [
        saved.refresh_token.as_deref().map(|t| (t, "refresh_token")),
        Some((saved.access_token.as_str(), "access_token")),
    ];
    for (token, hint) in tokens.into_iter().flatten() {
        let form = form(token, hint, &saved.client_id, secret);
        let (status, body) = client.post_form(&endpoint, form).await?;
        if !(200..300).contains(&status) {
            return Err(refused(&endpoint, hint, status, &body));
        }
    }
    Ok(Revocation::Revoked)
}

/// The `revocation_endpoint` (`None`: it names none) of the authorization server the MCP server
/// at `resource` names, which must be `issuer`.
async fn revocation_endpoint(resource: &str, issuer: &str) -> Result<Option<String>, String> {
    let recorder = Arc::new(Recorder::for_server(resource));
    let manager = AuthorizationManager::new_with_oauth_http_client(resource, recorder)
        .await
        .map_err(|error| error.to_string())?;
    let metadata = manager
        .resolve_metadata()
        .await
        .map_err(|error| format!("finding the authorization server: {error}"))?
        .metadata;
    if metadata.issuer.as_deref() != Some(issuer) {
        return Err(format!(
            "the MCP server now names the authorization server {}, not `{issuer}`, which issued \
             the login",
            metadata
                .issuer
                .as_deref()
                .map_or("with no issuer".to_owned(), |other| format!("`{other}`"))
        ));
    }
    Ok(metadata
        .additional_fields
        .get("revocation_endpoint")
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// The revocation request's form: the token, its hint, and the client (`client_secret_post`
/// when it has a secret).
fn form(token: &str, hint: &str, client_id: &str, secret: Option<&str>) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token)
        .append_pair("token_type_hint", hint)
        .append_pair("client_id", client_id);
    if let Some(secret) = secret {
        form.append_pair("client_secret", secret);
    }
    form.finish()
}

/// Why the endpoint refused to revoke the `hint` (the OAuth error code, never the token).
fn refused(endpoint: &str, hint: &str, status: u16, body: &[u8]) -> String {
    let error = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "no OAuth error given".to_owned());
    format!("{endpoint} refused to revoke the {hint} (HTTP {status}, {error})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_names_the_client_and_its_secret_only_when_it_has_one() {
        assert_eq!(
            form("rt 1", "refresh_token", "client-1", None),
            "token=rt+1&token_type_hint=refresh_token&client_id=client-1"
        );
        assert!(form("t", "access_token", "c", Some("s")).ends_with("&client_secret=s"));
    }

    #[test]
    fn a_refusal_names_the_error_and_never_the_token() {
        let said = refused(
            "https://as/revoke",
            "refresh_token",
            400,
            br#"{"error":"unsupported_token_type"}"#,
        );
        assert_eq!(
            said,
            "https://as/revoke refused to revoke the refresh_token (HTTP 400, unsupported_token_type)"
        );
    }
}
