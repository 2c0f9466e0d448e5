//! One server's authorization, shared by every connection to it: the current login (rmcp's
//! [`AuthorizationManager`], which holds the token and refreshes it), the scopes it asked for,
//! and the recovery when the server refuses a request — refresh, else a new authorization
//! through the [`Authorizer`]; on `insufficient_scope` an authorization with the union of the
//! scopes. At most [`MAX_AUTHORIZATIONS`] authorizations per [`AUTHORIZATION_WINDOW`], so a
//! server that refuses every token cannot loop the host through its authorization server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::transport::auth::{
    AuthError, AuthorizationManager, AuthorizationRequest, AuthorizationSession,
    WWWAuthenticateParams,
};
use tokio::sync::Mutex;

use super::client_credentials::MachineAuth;
use super::{
    AuthSpec, AuthorizationPrompt, AuthorizationReason, Authorizer, CredentialVault, OAuthSpec,
    SavedAuth,
};

/// Most authorizations started for one server within [`AUTHORIZATION_WINDOW`].
const MAX_AUTHORIZATIONS: usize = 3;
/// The window [`MAX_AUTHORIZATIONS`] counts in.
const AUTHORIZATION_WINDOW: Duration = Duration::from_secs(600);

/// What the server answered instead of a result.
pub(crate) enum Refusal<'a> {
    /// `401`: no token, or one it does not accept (its `WWW-Authenticate`).
    Unauthorized(&'a str),
    /// `403 insufficient_scope` (its `WWW-Authenticate`).
    InsufficientScope(&'a str),
}

/// The authorization of one server: a login on behalf of a person, or client credentials.
pub(crate) enum ServerAuth {
    /// Authorization code with PKCE through the authorizer.
    Login(OAuthLogin),
    /// The client credentials grant: the bot is the client.
    Machine(MachineAuth),
}

impl ServerAuth {
    /// The authorization `spec` asks for, of `server` at `url`; `authorizer` is the "browser"
    /// of a login (none: every authorization fails, the server needs a login elsewhere).
    pub(crate) fn new(
        server: &str,
        url: &str,
        spec: &AuthSpec,
        authorizer: Option<Arc<dyn Authorizer>>,
        vault: Arc<dyn CredentialVault>,
    ) -> Self {
        match spec {
            AuthSpec::OAuth(oauth) => Self::Login(OAuthLogin::new(
                server,
                url,
                oauth.clone(),
                authorizer,
                vault,
            )),
            AuthSpec::ClientCredentials(machine) => {
                Self::Machine(MachineAuth::new(server, url, machine.clone()))
            }
        }
    }

    /// The token to send now, or `None` before any was obtained.
    pub(crate) async fn token(&self) -> Option<String> {
        match self {
            Self::Login(login) => login.token().await,
            Self::Machine(machine) => machine.token().await,
        }
    }

    /// After the server refused a request sent with `sent`: a token worth one more try, or
    /// `None` (the refusal stands).
    pub(crate) async fn recover(&self, refusal: Refusal<'_>, sent: Option<&str>) -> Option<String> {
        match self {
            Self::Login(login) => login.recover(refusal, sent).await,
            Self::Machine(machine) => machine.recover(refusal, sent).await,
        }
    }
}

/// The authorization code login of one server.
pub(crate) struct OAuthLogin {
    server: String,
    url: String,
    spec: OAuthSpec,
    authorizer: Option<Arc<dyn Authorizer>>,
    vault: Arc<dyn CredentialVault>,
    state: Mutex<State>,
}

/// The current login.
#[derive(Default)]
struct State {
    /// rmcp's manager of the last completed authorization (holds and refreshes the token).
    manager: Option<AuthorizationManager>,
    /// The token last handed out.
    token: Option<String>,
    /// The scopes the login asked for.
    scopes: Vec<String>,
    /// When the recent authorizations started.
    started: Vec<Instant>,
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
        }
    }

    /// The token to send now (refreshed when near expiry), or `None` before any login.
    pub(crate) async fn token(&self) -> Option<String> {
        let mut state = self.state.lock().await;
        let token = match state.manager.as_ref()?.get_access_token().await {
            Ok(token) => token,
            Err(error) => {
                tracing::debug!(server = %self.server, error = %describe(&error), "no usable token");
                return None;
            }
        };
        state.token = Some(token.clone());
        Some(token)
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
                if sent.is_some()
                    && let Some(token) = self.refresh(&mut state).await
                {
                    return Some(token);
                }
                self.login(&mut state, challenge).await
            }
            Refusal::InsufficientScope(challenge) => self.step_up(&mut state, challenge).await,
        }
    }

    /// A refreshed token, when the login has a refresh token the server still honours.
    async fn refresh(&self, state: &mut State) -> Option<String> {
        let manager = state.manager.as_ref()?;
        if let Err(error) = manager.refresh_token().await {
            tracing::info!(server = %self.server, error = %describe(&error), "the token could not be refreshed");
            return None;
        }
        let token = manager.get_access_token().await.ok()?;
        tracing::info!(server = %self.server, "token refreshed");
        state.token = Some(token.clone());
        Some(token)
    }

    /// A new login: discovery from `challenge`, registration, authorization, code exchange.
    async fn login(&self, state: &mut State, challenge: &str) -> Option<String> {
        let authorizer = self.may_authorize(state)?;
        let manager = self
            .discover(challenge)
            .await
            .map_err(|error| self.failed("discovering the authorization server", &error))
            .ok()?;
        let session = AuthorizationSession::new(manager, self.request())
            .await
            .map_err(|(_, error)| self.failed("registering the client", &error))
            .ok()?;
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
    /// would not help).
    async fn step_up(&self, state: &mut State, challenge: &str) -> Option<String> {
        let base = url::Url::parse(&self.url).ok()?;
        let wanted = WWWAuthenticateParams::parse(challenge, &base).scope?;
        let Some(scopes) = union_if_more(&state.scopes, &wanted) else {
            tracing::warn!(server = %self.server, scopes = %wanted, "the server refuses a login that has the scopes it asks for");
            return None;
        };
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

    /// The authorizer, when another authorization may start now (and counts it).
    fn may_authorize(&self, state: &mut State) -> Option<Arc<dyn Authorizer>> {
        let Some(authorizer) = self.authorizer.clone() else {
            tracing::warn!(server = %self.server, "the MCP server needs a login, and no one can authorize here");
            return None;
        };
        state
            .started
            .retain(|started| started.elapsed() < AUTHORIZATION_WINDOW);
        if state.started.len() >= MAX_AUTHORIZATIONS {
            tracing::warn!(server = %self.server, "{MAX_AUTHORIZATIONS} authorizations in {} already: not trying again yet", crate::error::humanize(AUTHORIZATION_WINDOW));
            return None;
        }
        state.started.push(Instant::now());
        Some(authorizer)
    }

    /// rmcp's manager with the authorization server's metadata, found from `challenge`.
    async fn discover(&self, challenge: &str) -> Result<AuthorizationManager, AuthError> {
        let client = super::http::oauth_http_client();
        let mut manager =
            AuthorizationManager::new_with_oauth_http_client(self.url.as_str(), client).await?;
        let resolution = manager
            .resolve_metadata_from_challenge(Some(challenge))
            .await?;
        tracing::debug!(server = %self.server, issuer = ?resolution.metadata.issuer, source = ?resolution.source, "authorization server found");
        manager.set_metadata(resolution.metadata);
        Ok(manager)
    }

    /// The authorization request of a login: the configured client and scopes.
    fn request(&self) -> AuthorizationRequest {
        let spec = &self.spec;
        let mut request = AuthorizationRequest::new(spec.redirect_uri.as_str())
            .with_client_name(spec.client_name.as_str());
        request = match &spec.scopes {
            Some(scopes) => request.with_scopes(scopes.iter().cloned()),
            None => request.with_initial_scope_selection(),
        };
        if let Some(client_id) = &spec.client_id {
            request = request.with_preregistered_client(client_id.as_str());
        }
        if let Some(secret) = &spec.client_secret {
            request = request.with_client_secret(secret.as_str());
        }
        if let Some(url) = &spec.client_metadata_url {
            request = request.with_client_metadata_url(url.as_str());
        }
        request
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
        self.save(&manager, &token, &scopes).await;
        state.manager = Some(manager);
        state.token = Some(token.clone());
        state.scopes = scopes;
        Some(token)
    }

    /// Keeps the login in the vault.
    async fn save(&self, manager: &AuthorizationManager, token: &str, scopes: &[String]) {
        let Ok(credentials) = manager.get_credentials().await else {
            return;
        };
        let (client_id, _) = credentials;
        let saved = SavedAuth {
            resource: self.url.clone(),
            issuer: None,
            client_id,
            access_token: token.to_owned(),
            refresh_token: None,
            expires_at: None,
            scopes: scopes.to_vec(),
        };
        if let Err(error) = self.vault.save(&self.server, saved).await {
            tracing::warn!(server = %self.server, %error, "the login could not be saved");
        }
    }

    /// Logs a failed step of an authorization.
    fn failed(&self, step: &str, error: &AuthError) {
        tracing::warn!(server = %self.server, error = %describe(error), "authorization failed while {step}");
    }
}

/// An rmcp authorization error in words (rmcp's messages carry no token or code).
fn describe(error: &AuthError) -> String {
    error.to_string()
}

/// `current` with the space-separated `wanted` scopes added, or `None` when it has them all.
pub(crate) fn union_if_more(current: &[String], wanted: &str) -> Option<Vec<String>> {
    let mut scopes = current.to_vec();
    for scope in wanted.split_whitespace() {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    (scopes.len() > current.len()).then_some(scopes)
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
    fn a_step_up_asks_for_the_union_only_when_it_adds_a_scope() {
        let current = vec!["mcp:basic".to_owned()];
        assert_eq!(
            union_if_more(&current, "mcp:write mcp:basic"),
            Some(vec!["mcp:basic".to_owned(), "mcp:write".to_owned()])
        );
        assert_eq!(union_if_more(&current, "mcp:basic"), None);
        assert_eq!(
            union_if_more(&[], "mcp:admin"),
            Some(vec!["mcp:admin".to_owned()])
        );
    }

    #[test]
    fn the_scopes_of_an_authorization_url() {
        let url =
            "http://as.example/authorize?response_type=code&scope=mcp%3Abasic+mcp%3Awrite&state=x";
        assert_eq!(requested_scopes(url), ["mcp:basic", "mcp:write"]);
        assert!(requested_scopes("http://as.example/authorize?state=x").is_empty());
    }
}
