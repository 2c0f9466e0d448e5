//! The "browser" of `mcpcord mcp login`: prints the authorization URL (and opens a browser
//! unless told not to), then waits for the redirect two ways at once, whichever comes first:
//! a listener on `127.0.0.1:PORT/callback`, where the browser lands on this machine, and a line
//! on stdin, where an operator on a headless machine pastes the address the browser on another
//! computer ended on (it shows a connection error there, but the address is complete).

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::Html;
use axum::routing::get;
use futures::future::BoxFuture;
use mcpcord_mcp::{AuthorizationPrompt, AuthorizationReason, Authorizer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long a login waits for the redirect.
pub const LOGIN_WAIT: Duration = Duration::from_secs(10 * 60);

/// What the browser shows once the listener has the redirect.
const DONE_PAGE: &str = "<!doctype html><title>mcpcord</title><p>mcpcord has the authorization: \
                         you can close this tab and go back to the terminal.</p>";

/// Completes authorizations with the person at the terminal.
#[derive(Debug, Clone, Copy)]
pub struct TerminalAuthorizer {
    /// The loopback port of the redirect listener.
    pub port: u16,
    /// Whether to try to open the URL in a browser on this machine.
    pub open_browser: bool,
}

impl Authorizer for TerminalAuthorizer {
    fn authorize(&self, prompt: AuthorizationPrompt) -> BoxFuture<'static, Option<String>> {
        let this = *self;
        Box::pin(async move { this.run(prompt).await })
    }
}

impl TerminalAuthorizer {
    async fn run(self, prompt: AuthorizationPrompt) -> Option<String> {
        if let AuthorizationReason::StepUp { scopes } = &prompt.reason {
            println!(
                "`{}` asks for more scopes: {}",
                prompt.server,
                scopes.join(" ")
            );
        }
        println!(
            "Open this URL to authorize mcpcord for `{}`:\n\n  {}\n",
            prompt.server, prompt.url
        );
        let (sender, mut receiver) = mpsc::channel::<String>(1);
        let stop = CancellationToken::new();
        match self
            .listen(&prompt.redirect_uri, sender.clone(), stop.clone())
            .await
        {
            Ok(()) => println!(
                "Waiting for the browser to come back to {} (10 minutes). On a machine without a \
                 browser, open the URL elsewhere and paste here the address the browser ended on \
                 (it starts with {}?code=):",
                prompt.redirect_uri, prompt.redirect_uri
            ),
            Err(error) => println!(
                "cannot listen on 127.0.0.1:{} ({error}; `--port N` picks another port registered \
                 with the server): paste here the address the browser ended on (it starts with \
                 {}?code=):",
                self.port, prompt.redirect_uri
            ),
        }
        if self.open_browser {
            open_browser(&prompt.url);
        }
        drop(sender);
        let redirect = tokio::time::timeout(LOGIN_WAIT, async {
            let mut pasted = pasted().lock().await;
            tokio::select! {
                Some(redirect) = receiver.recv() => Some(redirect),
                Some(redirect) = pasted.recv() => Some(redirect),
                else => None,
            }
        })
        .await;
        stop.cancel();
        match redirect {
            Ok(redirect) => redirect,
            Err(_) => {
                eprintln!("mcpcord: no redirect within 10 minutes");
                None
            }
        }
    }

    /// Serves `/callback` on the loopback port until `stop`: each request's full address goes
    /// to `sender`.
    async fn listen(
        self,
        redirect_uri: &str,
        sender: mpsc::Sender<String>,
        stop: CancellationToken,
    ) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await?;
        let base = redirect_uri
            .split('?')
            .next()
            .unwrap_or(redirect_uri)
            .to_owned();
        let app = axum::Router::new()
            .route("/callback", get(callback))
            .with_state((base, sender));
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(error) = serve.await {
                tracing::warn!(%error, "the login's redirect listener stopped");
            }
        });
        Ok(())
    }
}

/// The browser's redirect: its address is the authorization's answer.
async fn callback(
    State((base, sender)): State<(String, mpsc::Sender<String>)>,
    RawQuery(query): RawQuery,
) -> Html<&'static str> {
    let _ = sender.try_send(format!("{base}?{}", query.unwrap_or_default()));
    Html(DONE_PAGE)
}

/// Whether `line` is a redirect address: a URL with a `code` or an `error` parameter.
pub fn is_redirect(line: &str) -> bool {
    url::Url::parse(line).is_ok_and(|url| {
        url.query_pairs()
            .any(|(name, _)| name == "code" || name == "error")
    })
}

/// The redirect addresses pasted on stdin, read by one thread for the whole process (a
/// blocking read must not hold up the runtime's shutdown, and a second authorization — a
/// step-up — must get the lines the first one did not need); other lines get a hint.
fn pasted() -> &'static tokio::sync::Mutex<mpsc::Receiver<String>> {
    static PASTED: OnceLock<tokio::sync::Mutex<mpsc::Receiver<String>>> = OnceLock::new();
    PASTED.get_or_init(|| {
        let (sender, receiver) = mpsc::channel(4);
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { return };
                let line = line.trim();
                if is_redirect(line) {
                    if sender.blocking_send(line.to_owned()).is_err() {
                        return;
                    }
                } else if !line.is_empty() {
                    eprintln!(
                        "mcpcord: that is not the address the browser ended on (it has `code=` \
                         in it): paste the whole address"
                    );
                }
            }
        });
        tokio::sync::Mutex::new(receiver)
    })
}

/// Tries to open `url` in this machine's browser; a failure only means pasting.
fn open_browser(url: &str) {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let opened = std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if opened.is_err() {
        tracing::debug!(program, "no browser could be opened here");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_is_a_url_with_a_code_or_an_error() {
        assert!(is_redirect(
            "http://127.0.0.1:8976/callback?code=abc&state=xyz"
        ));
        assert!(is_redirect(
            "http://127.0.0.1:8976/callback?error=access_denied&state=xyz"
        ));
        assert!(!is_redirect("http://127.0.0.1:8976/callback"));
        assert!(!is_redirect("code=abc"));
        assert!(!is_redirect("yes"));
    }
}
