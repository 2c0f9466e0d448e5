//! A [`SavedAuth`] to and from rmcp's token types: a saved login goes back into an rmcp
//! manager at start, and the manager's token (after a login or any refresh, rotated refresh
//! token included) comes out as the login to save.

use std::time::{SystemTime, UNIX_EPOCH};

use rmcp::transport::auth::{OAuthTokenResponse, StoredCredentials};
use serde_json::{Value, json};

use super::SavedAuth;

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The tokens of a token response: access, refresh and when the access token expires (unix
/// seconds, counted from `received_at`).
pub(crate) struct Tokens {
    /// The access token.
    pub access: String,
    /// The refresh token, if any.
    pub refresh: Option<String>,
    /// When the access token expires.
    pub expires_at: Option<u64>,
}

/// The tokens of `response`, received at `received_at` (read through serde: the token
/// response's accessors belong to the oauth2 crate, which this crate does not name).
pub(crate) fn tokens(response: &OAuthTokenResponse, received_at: u64) -> Option<Tokens> {
    let fields = serde_json::to_value(response).ok()?;
    let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_owned);
    Some(Tokens {
        access: text("access_token")?,
        refresh: text("refresh_token"),
        expires_at: fields
            .get("expires_in")
            .and_then(Value::as_u64)
            .map(|seconds| received_at + seconds),
    })
}

/// rmcp's stored credentials for a saved login, as of `now`: an expired access token gets
/// `expires_in: 0`, so rmcp refreshes it before use.
pub(crate) fn stored_credentials(saved: &SavedAuth, now: u64) -> Option<StoredCredentials> {
    let mut response = json!({ "access_token": saved.access_token, "token_type": "bearer" });
    if let Some(refresh) = &saved.refresh_token {
        response["refresh_token"] = json!(refresh);
    }
    if let Some(expires_at) = saved.expires_at {
        response["expires_in"] = json!(expires_at.saturating_sub(now));
    }
    let response: OAuthTokenResponse = serde_json::from_value(response).ok()?;
    let stored = StoredCredentials::new(
        saved.client_id.clone(),
        Some(response),
        saved.scopes.clone(),
        Some(now),
    );
    Some(stored.with_issuer(saved.issuer.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved() -> SavedAuth {
        SavedAuth {
            resource: "https://mcp.example.com/mcp".into(),
            issuer: Some("https://as.example.com".into()),
            client_id: "client-1".into(),
            client_secret: None,
            access_token: "at-1".into(),
            refresh_token: Some("rt-1".into()),
            expires_at: Some(1_000_100),
            scopes: vec!["mcp:read".into()],
            wanted_scopes: Vec::new(),
        }
    }

    #[test]
    fn a_saved_login_goes_into_rmcp_and_comes_back_the_same() {
        let stored = stored_credentials(&saved(), 1_000_000).unwrap();
        assert_eq!(stored.client_id, "client-1");
        assert_eq!(stored.issuer.as_deref(), Some("https://as.example.com"));
        assert_eq!(stored.granted_scopes, ["mcp:read"]);
        let tokens = tokens(stored.token_response.as_ref().unwrap(), 1_000_000).unwrap();
        assert_eq!(tokens.access, "at-1");
        assert_eq!(tokens.refresh.as_deref(), Some("rt-1"));
        assert_eq!(tokens.expires_at, Some(1_000_100));
    }

    #[test]
    fn an_expired_token_goes_in_with_no_time_left() {
        let stored = stored_credentials(&saved(), 2_000_000).unwrap();
        let tokens = tokens(stored.token_response.as_ref().unwrap(), 2_000_000).unwrap();
        assert_eq!(tokens.expires_at, Some(2_000_000));
    }
}
