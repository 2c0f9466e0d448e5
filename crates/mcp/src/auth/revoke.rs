//! Revoking a saved login at its authorization server (RFC 7009), for `mcpcord mcp logout
//! --revoke`: the refresh token (which, by the RFC, should end the access tokens of the same
//! grant too) and the access token, at the `revocation_endpoint` of the issuer's metadata
//! (RFC 8414, else OpenID Connect discovery). The requests go through the OAuth client of the
//! login's MCP URL, with its address guard.

use serde_json::Value;

use super::SavedAuth;
use super::http::{Reach, oauth_http_client};

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
    let client = oauth_http_client(Reach::of_server(&saved.resource));
    let Some(endpoint) = revocation_endpoint(issuer, &client).await? else {
        return Ok(Revocation::NotOffered);
    };
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

/// The `revocation_endpoint` of `issuer`'s metadata (`None`: it names none), from the first of
/// the RFC 8414 and OpenID Connect discovery addresses that answers.
async fn revocation_endpoint(
    issuer: &str,
    client: &super::http::RustlsOAuthClient,
) -> Result<Option<String>, String> {
    let mut tried = Vec::new();
    for url in metadata_urls(issuer)? {
        match client.get_json(&url).await {
            Ok(Some(metadata)) => {
                return Ok(metadata
                    .get("revocation_endpoint")
                    .and_then(Value::as_str)
                    .map(str::to_owned));
            }
            Ok(None) => tried.push(url),
            Err(error) => return Err(format!("reading {url}: {error}")),
        }
    }
    Err(format!(
        "the authorization server `{issuer}` publishes no metadata (tried {})",
        tried.join(", ")
    ))
}

/// Where `issuer`'s metadata may be: RFC 8414's well-known path inserted before the issuer's
/// path, then OpenID Connect's inserted, then appended.
fn metadata_urls(issuer: &str) -> Result<Vec<String>, String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("the issuer `{issuer}`: {e}"))?;
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    Ok(vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{origin}/.well-known/openid-configuration{path}"),
        format!("{origin}{path}/.well-known/openid-configuration"),
    ])
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
    fn metadata_is_looked_for_where_the_rfcs_put_it() {
        assert_eq!(
            metadata_urls("https://as.example.com/tenant1/").unwrap(),
            [
                "https://as.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://as.example.com/.well-known/openid-configuration/tenant1",
                "https://as.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            metadata_urls("https://as.example.com").unwrap()[0],
            "https://as.example.com/.well-known/oauth-authorization-server"
        );
        assert!(metadata_urls("not a url").is_err());
    }

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
