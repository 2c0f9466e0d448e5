//! One login shared by several hosts (Discord shards: processes sharing one database, so one
//! vault). With rotating refresh tokens only the first refresh of a token succeeds, so a host
//! refreshes under the vault's refresh lock, and first reads the vault again: a login another
//! host saved since is used instead of refreshing. A refresh the authorization server rejects
//! is followed by one more read, in case another host (without the lock) refreshed meanwhile.

use rmcp::transport::auth::{AuthError, AuthorizationManager};

use super::{OAuthLogin, State, adopt};
use crate::auth::{SavedAuth, saved};

/// rmcp refreshes a token when less than this many seconds are left, at most (less for short
/// lifetimes): from then on the host takes the refresh lock before asking for the token.
const REFRESH_MARGIN: u64 = 30;

impl OAuthLogin {
    /// The token rmcp's manager hands out (refreshed near expiry, under the refresh lock); a
    /// rejected refresh gives way to another host's newer login, when the vault holds one.
    pub(super) async fn current_token(&self, state: &mut State) -> Result<String, AuthError> {
        let mut _lock = None;
        if refresh_due(state.expires_at) {
            _lock = self.refresh_lock().await;
            self.adopt_newer(state).await;
        }
        let manager = state
            .manager
            .as_ref()
            .ok_or(AuthError::AuthorizationRequired)?;
        let result = manager.get_access_token().await;
        if matches!(result, Err(AuthError::AuthorizationRequired))
            && let Some(token) = self.adopt_newer(state).await
        {
            return Ok(token);
        }
        result
    }

    /// Waits for the vault's refresh lock (none when the vault cannot give it: logged, the
    /// refresh goes on without it).
    pub(super) async fn refresh_lock(&self) -> Option<Box<dyn Send>> {
        self.vault
            .refresh_lock(&self.server)
            .await
            .map_err(|error| tracing::warn!(server = %self.server, %error, "the refresh lock could not be taken: refreshing without it"))
            .ok()
    }

    /// The vault's login, when it holds another access token than the current login (another
    /// host refreshed or logged in): it becomes the current one, and its token is returned.
    pub(super) async fn adopt_newer(&self, state: &mut State) -> Option<String> {
        let saved = self.saved_for(state).await?;
        let mut manager = state.manager.take()?;
        if held_access(&manager).await.as_ref() == Some(&saved.access_token) {
            state.manager = Some(manager);
            return None;
        }
        if let Err(error) = self.load_into(&mut manager, &saved).await {
            self.failed("loading the login another host saved", &error);
            state.manager = Some(manager);
            return None;
        }
        tracing::info!(server = %self.server, "the login another host saved is used");
        let issuer = state.issuer.clone();
        adopt(state, manager, &saved, issuer);
        state.token = Some(saved.access_token.clone());
        state.lapse = None;
        Some(saved.access_token)
    }

    /// The vault's login, when it is one for this URL and the current authorization server.
    async fn saved_for(&self, state: &State) -> Option<SavedAuth> {
        let saved = match self.vault.load(&self.server).await {
            Ok(saved) => saved?,
            Err(error) => {
                tracing::warn!(server = %self.server, %error, "the saved login could not be read");
                return None;
            }
        };
        let same_issuer = saved.issuer.is_none() || saved.issuer == state.issuer;
        (saved.resource == self.url && same_issuer).then_some(saved)
    }
}

/// Whether rmcp may refresh a token expiring at `expires_at` now.
fn refresh_due(expires_at: Option<u64>) -> bool {
    expires_at.is_some_and(|at| at.saturating_sub(saved::now()) < REFRESH_MARGIN)
}

/// The access token `manager` holds.
async fn held_access(manager: &AuthorizationManager) -> Option<String> {
    let (_, response) = manager.get_credentials().await.ok()?;
    Some(saved::tokens(&response?, 0)?.access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_is_due_near_expiry_only() {
        let now = saved::now();
        assert!(refresh_due(Some(now + 5)));
        assert!(refresh_due(Some(now.saturating_sub(5))));
        assert!(!refresh_due(Some(now + 3600)));
        assert!(!refresh_due(None));
    }
}
