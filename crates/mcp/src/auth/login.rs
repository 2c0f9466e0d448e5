//! The authorization code login of one server: the login saved in the vault (read at the first
//! request, written after every login and every refresh, rotated refresh token included), rmcp's
//! [`AuthorizationManager`] holding and refreshing the token, and the recovery when the server
//! refuses a request — refresh, else a new authorization through the [`Authorizer`]; on
//! `insufficient_scope` an authorization with the union of the scopes. A client the host
//! registered itself is used again while the authorization server (its issuer) stays the same.
//!
//! Without an authorizer (the bot at run time) a server with no usable login "needs a login":
//! [`OAuthLogin::needs_login`] says why, and an admin runs `mcpcord mcp login NAME`.
//!
//! Why one file of some 600 lines: restoring, refreshing and authorizing share one lock-held
//! `State` and move it between the same few steps; the shared-login bookkeeping is apart already
//! (`login/shared.rs`).

use std::sync::Arc;

use rmcp::transport::auth::CredentialStore as _;
use rmcp::transport::auth::{
    AuthError, AuthorizationManager, AuthorizationRequest, AuthorizationSession,
    InMemoryCredentialStore, OAuthClientConfig, WWWAuthenticateParams,
};
use tokio::sync::{Mutex, Notify};

use super::http::Recorder;
use super::saved::{self, stored_credentials};
use super::server::{Budget, Refusal, union_if_more};
use super::{
    AuthorizationPrompt, AuthorizationReason, Authorizer, CredentialVault, OAuthSpec, SavedAuth,
};

mod shared;

/// The authorization code login of one server.
pub(crate) struct OAuthLogin {
    server: String,
    url: String,
    spec: OAuthSpec,
    authorizer: Option<Arc<dyn Authorizer>>,
    vault: Arc<dyn CredentialVault>,
    state: Mutex<State>,
    /// Notified when the server comes to need a login.
    lost: Notify,
}

/// The current login.
#[derive(Default)]
struct State {
    /// The vault was read (since the start or the last reload).
    loaded: bool,
    /// rmcp's manager of the current login (holds and refreshes the token).
    manager: Option<AuthorizationManager>,
    /// The token last handed out (and saved).
    token: Option<String>,
    /// When the login's access token expires, unix seconds.
    expires_at: Option<u64>,
    /// The scopes the login asked for.
    scopes: Vec<String>,
    /// Scopes the server asked for when no one could authorize (the next login adds them).
    wanted: Vec<String>,
    /// The issuer of the authorization server of the login.
    issuer: Option<String>,
    /// A client the host registered (or the saved login's), used again with the same issuer.
    registration: Option<Registration>,
    /// Why there is no usable login (for [`OAuthLogin::needs_login`]).
    lapse: Option<String>,
    /// Set when no authorizer could help: why the server needs a login.
    needs_login: Option<String>,
    /// The scopes of the last step-up no one could authorize (taken by the failed call).
    refused_scopes: Option<String>,
    /// Authorizations started.
    authorizations: Budget,
    /// Refreshes a refusal started.
    refreshes: Budget,
}

/// A client registration, valid at one authorization server.
#[derive(Clone)]
struct Registration {
    issuer: Option<String>,
    client_id: String,
    client_secret: Option<String>,
}

impl OAuthLogin {
    /// The login of `server` at `url`; `authorizer` is the "browser" (none: every
    /// authorization fails, the server needs a login elsewhere).
    pub(crate) fn new(
        server: &str,
        url: &str,
        spec: OAuthSpec,
        authorizer: Option<Arc<dyn Authorizer>>,
        vault: Arc<dyn CredentialVault>,
    ) -> Self {
        Self {
            server: server.to_owned(),
            url: url.to_owned(),
            spec,
            authorizer,
            vault,
            state: Mutex::new(State::default()),
            lost: Notify::new(),
        }
    }

    /// Notified when the server comes to need a login.
    pub(crate) fn lost(&self) -> &Notify {
        &self.lost
    }

    /// The token to send now (the saved login at first; refreshed when near expiry), or `None`
    /// when there is no usable login.
    pub(crate) async fn token(&self) -> Option<String> {
        let mut state = self.state.lock().await;
        if !state.loaded {
            self.restore(&mut state).await;
        }
        state.manager.as_ref()?;
        match self.current_token(&mut state).await {
            Ok(token) => {
                if state.token.as_ref() != Some(&token) {
                    state.token = Some(token.clone());
                    self.persist(&mut state).await;
                }
                Some(token)
            }
            Err(error) => {
                tracing::info!(server = %self.server, error = %error, "no usable token");
                if matches!(error, AuthError::AuthorizationRequired) {
                    state.token = None;
                    state.lapse = Some("the login expired and could not be refreshed".into());
                }
                None
            }
        }
    }

    /// After the server refused a request sent with `sent`: a token worth one more try, or
    /// `None` (the refusal stands).
    pub(crate) async fn recover(&self, refusal: Refusal<'_>, sent: Option<&str>) -> Option<String> {
        let mut state = self.state.lock().await;
        // Another connection recovered while this one waited for the lock.
        if let Some(current) = &state.token
            && Some(current.as_str()) != sent
        {
            return Some(current.clone());
        }
        match refusal {
            Refusal::Unauthorized(challenge) => {
                self.unauthorized(&mut state, challenge, sent.is_some())
                    .await
            }
            Refusal::InsufficientScope(challenge) => self.step_up(&mut state, challenge).await,
        }
    }

    /// After a `401`: a refresh when a token was sent (at most a few per window), else or when
    /// it fails a new login.
    async fn unauthorized(
        &self,
        state: &mut State,
        challenge: &str,
        sent_one: bool,
    ) -> Option<String> {
        let may_refresh = sent_one
            && state.manager.is_some()
            && state
                .refreshes
                .take(&self.server, "refreshes after a refusal");
        if may_refresh && let Some(token) = self.refresh(state).await {
            return Some(token);
        }
        if sent_one {
            state
                .lapse
                .get_or_insert_with(|| "the server refuses the login's token".into());
        }
        self.login(state, challenge).await
    }

    /// Why the server needs a login an admin must make, when no authorizer could help.
    pub(crate) async fn needs_login(&self) -> Option<String> {
        self.state.lock().await.needs_login.clone()
    }

    /// The scopes of the last step-up no one could authorize, once.
    pub(crate) async fn take_refused_scopes(&self) -> Option<String> {
        self.state.lock().await.refused_scopes.take()
    }

    /// Forgets the login held in memory: the next request reads the vault again.
    pub(crate) async fn reload(&self) {
        let mut state = self.state.lock().await;
        let authorizations = std::mem::take(&mut state.authorizations);
        let refreshes = std::mem::take(&mut state.refreshes);
        *state = State {
            authorizations,
            refreshes,
            ..State::default()
        };
    }

    /// Reads the saved login: used when it is for this URL and the same authorization server.
    async fn restore(&self, state: &mut State) {
        let Some(saved) = self.saved_for_this_url(state).await else {
            state.loaded = true;
            return;
        };
        let (manager, issuer) = match self
            .discover(None, &Arc::new(Recorder::for_server(&self.url)))
            .await
        {
            Ok(found) => found,
            Err(error) => {
                // Not marked loaded: the next request tries again.
                self.failed(
                    "discovering the authorization server of the saved login",
                    &error,
                );
                return;
            }
        };
        state.loaded = true;
        if saved.issuer.is_some() && saved.issuer != issuer {
            self.forget_other_issuer(state, &saved, &issuer).await;
            return;
        }
        match self.resume(manager, &saved).await {
            Ok(manager) => {
                tracing::info!(server = %self.server, scopes = ?saved.scopes, expires_at = ?saved.expires_at, "saved login loaded");
                adopt(state, manager, &saved, issuer);
            }
            Err(error) => self.failed("loading the saved login", &error),
        }
    }

    /// The saved login, when there is one for this URL (else why not, in `state.lapse`).
    async fn saved_for_this_url(&self, state: &mut State) -> Option<SavedAuth> {
        let saved = match self.vault.load(&self.server).await {
            Ok(saved) => saved,
            Err(error) => {
                tracing::warn!(server = %self.server, %error, "the saved login could not be read");
                state.lapse = Some(format!("the saved login could not be read: {error}"));
                return None;
            }
        };
        let Some(saved) = saved else {
            state.lapse = Some("no login yet".into());
            return None;
        };
        if saved.resource != self.url {
            tracing::warn!(server = %self.server, saved = %saved.resource, "the saved login is for another URL: a new login is needed");
            state.lapse = Some(format!("the saved login is for `{}`", saved.resource));
            return None;
        }
        Some(saved)
    }

    /// The authorization server changed since `saved` was made: it is forgotten.
    async fn forget_other_issuer(
        &self,
        state: &mut State,
        saved: &SavedAuth,
        now: &Option<String>,
    ) {
        tracing::warn!(server = %self.server, saved = ?saved.issuer, now = ?now, "the authorization server changed since the login: a new login is needed");
        if let Err(error) = self.vault.clear(&self.server).await {
            tracing::warn!(server = %self.server, %error, "the old login could not be forgotten");
        }
        state.lapse = Some("the authorization server changed since the last login".into());
    }

    /// `manager` configured with the client and the tokens of `saved`.
    async fn resume(
        &self,
        mut manager: AuthorizationManager,
        saved: &SavedAuth,
    ) -> Result<AuthorizationManager, AuthError> {
        self.load_into(&mut manager, saved).await?;
        Ok(manager)
    }

    /// Configures `manager` with the client and the tokens of `saved`.
    async fn load_into(
        &self,
        manager: &mut AuthorizationManager,
        saved: &SavedAuth,
    ) -> Result<(), AuthError> {
        let mut config = OAuthClientConfig::new(&saved.client_id, &self.spec.redirect_uri);
        let secret = match &self.spec.client_id {
            Some(id) if *id == saved.client_id => self.spec.client_secret.clone(),
            _ => saved.client_secret.clone(),
        };
        if let Some(secret) = secret {
            config = config.with_client_secret(secret);
        }
        manager.configure_client(config)?;
        let stored = stored_credentials(saved, saved::now()).ok_or_else(|| {
            AuthError::InternalError("the saved token cannot be read back".into())
        })?;
        let store = InMemoryCredentialStore::new();
        store.save(stored).await?;
        manager.set_credential_store(store);
        Ok(())
    }

    /// A refreshed token, when the login has a refresh token the server still honours: under
    /// the vault's refresh lock, and another host's refresh is used instead when it saved one
    /// (before this one, or after the authorization server rejected this one).
    async fn refresh(&self, state: &mut State) -> Option<String> {
        let _lock = self.refresh_lock().await;
        if let Some(token) = self.adopt_newer(state).await {
            return Some(token);
        }
        let manager = state.manager.as_ref()?;
        if let Err(error) = manager.refresh_token().await {
            tracing::info!(server = %self.server, error = %error, "the token could not be refreshed");
            if let Some(token) = self.adopt_newer(state).await {
                return Some(token);
            }
            state.lapse = Some("the login could not be refreshed".into());
            return None;
        }
        let token = manager.get_access_token().await.ok()?;
        tracing::info!(server = %self.server, "token refreshed");
        state.token = Some(token.clone());
        self.persist(state).await;
        Some(token)
    }

    /// A new login: discovery from `challenge`, registration (or the kept one), authorization,
    /// code exchange.
    async fn login(&self, state: &mut State, challenge: &str) -> Option<String> {
        let authorizer = self.may_authorize(state)?;
        let recorder = Arc::new(Recorder::for_server(&self.url));
        let (manager, issuer) = self
            .discover(Some(challenge), &recorder)
            .await
            .map_err(|error| self.failed("discovering the authorization server", &error))
            .ok()?;
        if let Some(kept) = &state.registration
            && kept.issuer != issuer
        {
            tracing::info!(server = %self.server, from = ?kept.issuer, to = ?issuer, "the authorization server changed: the client registers again");
            state.registration = None;
        }
        let session = AuthorizationSession::new(manager, self.request(state))
            .await
            .map_err(|(_, error)| self.failed("registering the client", &error))
            .ok()?;
        if let Some((client_id, client_secret)) = recorder.registration() {
            state.registration = Some(Registration {
                issuer: issuer.clone(),
                client_id,
                client_secret,
            });
        }
        state.issuer = issuer;
        let scopes = requested_scopes(session.get_authorization_url());
        self.complete(
            state,
            authorizer,
            session,
            scopes,
            AuthorizationReason::Login,
        )
        .await
    }

    /// An authorization asking for the login's scopes and those `challenge` names, on the same
    /// client registration; `None` when the login asked for them all already (asking again
    /// would not help). With no one to authorize, the scopes are saved for the next login.
    async fn step_up(&self, state: &mut State, challenge: &str) -> Option<String> {
        let base = url::Url::parse(&self.url).ok()?;
        let wanted = WWWAuthenticateParams::parse(challenge, &base).scope?;
        let Some(scopes) = union_if_more(&state.scopes, &wanted) else {
            tracing::warn!(server = %self.server, scopes = %wanted, "the server refuses a login that has the scopes it asks for");
            return None;
        };
        if self.authorizer.is_none() {
            tracing::warn!(server = %self.server, scopes = %wanted, "the MCP server needs more permissions: an admin runs `mcpcord mcp login {}`", self.server);
            if let Some(more) = union_if_more(&state.wanted, &wanted) {
                state.wanted = more;
                self.persist(state).await;
            }
            state.refused_scopes = Some(wanted);
            return None;
        }
        let authorizer = self.may_authorize(state)?;
        let manager = state.manager.take()?;
        let refs: Vec<&str> = scopes.iter().map(String::as_str).collect();
        let url = match manager.get_authorization_url(&refs).await {
            Ok(url) => url,
            Err(error) => {
                self.failed("starting the step-up authorization", &error);
                state.manager = Some(manager);
                return None;
            }
        };
        let session =
            AuthorizationSession::for_scope_upgrade(manager, url, &self.spec.redirect_uri);
        let reason = AuthorizationReason::StepUp {
            scopes: scopes.clone(),
        };
        self.complete(state, authorizer, session, scopes, reason)
            .await
    }

    /// The authorizer, when another authorization may start now (and counts it); without
    /// one, the server needs a login.
    fn may_authorize(&self, state: &mut State) -> Option<Arc<dyn Authorizer>> {
        let Some(authorizer) = self.authorizer.clone() else {
            let reason = state.lapse.clone().unwrap_or_else(|| "no login yet".into());
            tracing::warn!(server = %self.server, %reason, "the MCP server needs a login: an admin runs `mcpcord mcp login {}`", self.server);
            state.needs_login = Some(reason);
            self.lost.notify_waiters();
            return None;
        };
        state
            .authorizations
            .take(&self.server, "authorizations")
            .then_some(authorizer)
    }

    /// rmcp's manager with the authorization server's metadata, found from `challenge` (else
    /// from the server's well-known metadata), and the authorization server's issuer.
    async fn discover(
        &self,
        challenge: Option<&str>,
        recorder: &Arc<Recorder>,
    ) -> Result<(AuthorizationManager, Option<String>), AuthError> {
        let mut manager =
            AuthorizationManager::new_with_oauth_http_client(self.url.as_str(), recorder.clone())
                .await?;
        let resolution = manager.resolve_metadata_from_challenge(challenge).await?;
        let issuer = resolution.metadata.issuer.clone();
        tracing::debug!(server = %self.server, issuer = ?issuer, source = ?resolution.source, "authorization server found");
        manager.set_metadata(resolution.metadata);
        Ok((manager, issuer))
    }

    /// The authorization request of a login: the configured client (else the kept
    /// registration) and scopes (with those wanted since the last login).
    fn request(&self, state: &State) -> AuthorizationRequest {
        let spec = &self.spec;
        let mut request = AuthorizationRequest::new(spec.redirect_uri.as_str())
            .with_client_name(spec.client_name.as_str());
        request = match self.scopes_to_ask(state) {
            Some(scopes) => request.with_scopes(scopes),
            None => request.with_initial_scope_selection(),
        };
        if let Some((client_id, secret)) = self.known_client(state) {
            request = request.with_preregistered_client(client_id);
            if let Some(secret) = secret {
                request = request.with_client_secret(secret);
            }
        }
        if let Some(url) = &spec.client_metadata_url {
            request = request.with_client_metadata_url(url.as_str());
        }
        request
    }

    /// The configured scopes, else the login's with those wanted since; `None`: the server's
    /// (rmcp's initial selection).
    fn scopes_to_ask(&self, state: &State) -> Option<Vec<String>> {
        match &self.spec.scopes {
            Some(scopes) => Some(scopes.clone()),
            None => union_if_more(&state.scopes, &state.wanted.join(" ")),
        }
    }

    /// The configured client, else the kept registration: id and secret.
    fn known_client(&self, state: &State) -> Option<(String, Option<String>)> {
        if let Some(id) = &self.spec.client_id {
            return Some((id.clone(), self.spec.client_secret.clone()));
        }
        let kept = state.registration.as_ref()?;
        Some((kept.client_id.clone(), kept.client_secret.clone()))
    }

    /// The browser part and the code exchange; the new login replaces the old one. When it
    /// fails, a step-up's manager (taken out of the state) goes back: the login it holds still
    /// serves the calls that need no more scopes.
    async fn complete(
        &self,
        state: &mut State,
        authorizer: Arc<dyn Authorizer>,
        session: AuthorizationSession,
        scopes: Vec<String>,
        reason: AuthorizationReason,
    ) -> Option<String> {
        tracing::info!(server = %self.server, ?reason, scopes = ?scopes, "authorizing");
        let prompt = AuthorizationPrompt {
            server: self.server.clone(),
            resource: self.url.clone(),
            url: session.get_authorization_url().to_owned(),
            redirect_uri: session.redirect_uri.clone(),
            reason,
        };
        let Some(redirect) = authorizer.authorize(prompt).await else {
            tracing::warn!(server = %self.server, "the authorization was not completed");
            state.manager.get_or_insert(session.auth_manager);
            return None;
        };
        if let Err(error) = session.handle_callback_url(&redirect).await {
            self.failed("exchanging the authorization code", &error);
            state.manager.get_or_insert(session.auth_manager);
            return None;
        }
        let manager = session.auth_manager;
        let token = manager
            .get_access_token()
            .await
            .map_err(|error| self.failed("reading the new token", &error))
            .ok()?;
        tracing::info!(server = %self.server, "authorized");
        state.manager = Some(manager);
        state.token = Some(token.clone());
        state.wanted.retain(|scope| !scopes.contains(scope));
        state.scopes = scopes;
        state.lapse = None;
        state.needs_login = None;
        self.persist(state).await;
        Some(token)
    }

    /// Saves the current login (tokens, expiry, scopes, the client) in the vault.
    async fn persist(&self, state: &mut State) {
        let Some(manager) = &state.manager else {
            return;
        };
        let Ok((client_id, Some(response))) = manager.get_credentials().await else {
            return;
        };
        let Some(tokens) = saved::tokens(&response, saved::now()) else {
            return;
        };
        state.expires_at = tokens.expires_at;
        let client_secret = state
            .registration
            .as_ref()
            .filter(|kept| kept.client_id == client_id)
            .and_then(|kept| kept.client_secret.clone());
        let login = SavedAuth {
            resource: self.url.clone(),
            issuer: state.issuer.clone(),
            client_id,
            client_secret,
            access_token: tokens.access,
            refresh_token: tokens.refresh,
            expires_at: tokens.expires_at,
            scopes: state.scopes.clone(),
            wanted_scopes: state.wanted.clone(),
        };
        if let Err(error) = self.vault.save(&self.server, login).await {
            tracing::warn!(server = %self.server, %error, "the login could not be saved");
        }
    }

    /// Logs a failed step of an authorization (rmcp's messages carry no token or code).
    fn failed(&self, step: &str, error: &AuthError) {
        tracing::warn!(server = %self.server, error = %error, "authorization failed while {step}");
    }
}

/// A saved login, resumed in `manager`, becomes the current one.
fn adopt(
    state: &mut State,
    manager: AuthorizationManager,
    saved: &SavedAuth,
    issuer: Option<String>,
) {
    state.manager = Some(manager);
    state.scopes = saved.scopes.clone();
    state.expires_at = saved.expires_at;
    state.wanted = saved.wanted_scopes.clone();
    state.registration = Some(Registration {
        issuer: issuer.clone(),
        client_id: saved.client_id.clone(),
        client_secret: saved.client_secret.clone(),
    });
    state.issuer = issuer;
}

/// The `scope` parameter of an authorization URL, split.
fn requested_scopes(authorization_url: &str) -> Vec<String> {
    let Ok(url) = url::Url::parse(authorization_url) else {
        return Vec::new();
    };
    url.query_pairs()
        .find(|(name, _)| name == "scope")
        .map(|(_, scope)| scope.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scopes_of_an_authorization_url() {
        let url =
            "http://as.example/authorize?response_type=code&scope=mcp%3Abasic+mcp%3Awrite&state=x";
        assert_eq!(requested_scopes(url), ["mcp:basic", "mcp:write"]);
        assert!(requested_scopes("http://as.example/authorize?state=x").is_empty());
    }
}
