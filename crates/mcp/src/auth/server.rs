//! One server's authorization, shared by every connection to it: a login on behalf of a
//! person ([`OAuthLogin`]) or client credentials ([`MachineAuth`]), and the recovery when the
//! server refuses a request. A [`Budget`] caps the token requests and authorizations a refusal
//! may start, so a server that refuses every token cannot loop the host through its
//! authorization server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::client_credentials::MachineAuth;
use super::login::OAuthLogin;
use super::{AuthSpec, Authorizer, CredentialVault};

/// Most requests of one kind a [`Budget`] allows within [`BUDGET_WINDOW`].
const MAX_PER_WINDOW: usize = 3;
/// The window [`MAX_PER_WINDOW`] counts in.
const BUDGET_WINDOW: Duration = Duration::from_secs(600);

/// Requests of one kind (authorizations, token requests after a refusal) started recently: at
/// most [`MAX_PER_WINDOW`] per [`BUDGET_WINDOW`].
#[derive(Default)]
pub(crate) struct Budget {
    started: Vec<Instant>,
}

impl Budget {
    /// Counts one more request, unless the budget is spent (then false, logged with `what`).
    pub(crate) fn take(&mut self, server: &str, what: &str) -> bool {
        self.started
            .retain(|started| started.elapsed() < BUDGET_WINDOW);
        if self.started.len() >= MAX_PER_WINDOW {
            tracing::warn!(%server, "{MAX_PER_WINDOW} {what} in {} already: not trying again yet", crate::error::humanize(BUDGET_WINDOW));
            return false;
        }
        self.started.push(Instant::now());
        true
    }
}

/// What the server answered instead of a result.
pub(crate) enum Refusal<'a> {
    /// `401`: no token, or one it does not accept (its `WWW-Authenticate`).
    Unauthorized(&'a str),
    /// `403 insufficient_scope` (its `WWW-Authenticate`).
    InsufficientScope(&'a str),
}

/// The authorization of one server: a login on behalf of a person, or client credentials
/// (each boxed: both are large, rmcp's manager inside).
pub(crate) enum ServerAuth {
    /// Authorization code with PKCE through the authorizer.
    Login(Box<OAuthLogin>),
    /// The client credentials grant: the bot is the client.
    Machine(Box<MachineAuth>),
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
            AuthSpec::OAuth(oauth) => Self::Login(Box::new(OAuthLogin::new(
                server,
                url,
                oauth.clone(),
                authorizer,
                vault,
            ))),
            AuthSpec::ClientCredentials(machine) => {
                Self::Machine(Box::new(MachineAuth::new(server, url, machine.clone())))
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

    /// Why the server needs a login an admin must make (no authorizer could help), if it does.
    pub(crate) async fn needs_login(&self) -> Option<String> {
        match self {
            Self::Login(login) => login.needs_login().await,
            Self::Machine(_) => None,
        }
    }

    /// The scopes a step-up wanted and no one could authorize since the last call (taken).
    pub(crate) async fn take_refused_scopes(&self) -> Option<String> {
        match self {
            Self::Login(login) => login.take_refused_scopes().await,
            Self::Machine(_) => None,
        }
    }

    /// Notified when the server comes to need a login while connected (its refresh was
    /// refused at run time): the supervisor closes the connection.
    pub(crate) fn lost(&self) -> Option<&Notify> {
        match self {
            Self::Login(login) => Some(login.lost()),
            Self::Machine(_) => None,
        }
    }

    /// Forgets the login held in memory: the next request reads the vault again (a login or
    /// logout made by another process).
    pub(crate) async fn reload(&self) {
        if let Self::Login(login) = self {
            login.reload().await;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_allows_three_requests_per_window() {
        let mut budget = Budget::default();
        assert!((0..MAX_PER_WINDOW).all(|_| budget.take("s", "token requests")));
        assert!(!budget.take("s", "token requests"));
    }

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
}
