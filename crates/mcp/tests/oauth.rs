//! OAuth against the testkit's authorization server double ([`FakeAuthServer`]) guarding the
//! test MCP server over Streamable HTTP. A login: the first request's `401` leads to discovery,
//! dynamic registration and an authorization through the headless authorizer; the login goes
//! into the vault with its refresh token and expiry, is refreshed before it expires and after a
//! refusal (no second authorization), and a host started later uses it without authorizing. A
//! refresh the authorization server rejects, with no one to authorize, leaves the server
//! needing a login (its tools leave the catalogue, calls say what to run, an event is sent)
//! until the vault holds a new login. A tool needing a scope the login lacks gets a second
//! authorization with the union; a new authorization server gets a new registration. Two hosts
//! sharing a vault (shards) refresh a refused or expiring login once: the second uses the login
//! the first saved instead of spending the rotated-away refresh token. A server
//! meant for machines gets client credentials instead (a client secret over HTTP Basic, or an
//! ES256 `private_key_jwt` assertion the double verifies).
//!
//! Every request the double receives is recorded, so the assertions are on what went over the
//! wire; every secret it hands out is checked against the TRACE logs.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use mcpcord_mcp::{
    AuthSpec, CallOptions, Callbacks, ClientCredential, ClientCredentialsSpec, ConnectError,
    CredentialVault, HeadlessAuthorizer, HostError, HostEvent, McpHost, MemoryVault, OAuthSpec,
    RestartPolicy, ServerSpec, ServerState, SigningAlgorithm,
};
use mcpcord_testkit::oauth::{AuthOptions, FakeAuthServer, MACHINE, MACHINE_SECRET};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;
use std::sync::{Arc, Mutex};

/// The name of the protected server in every test.
const SERVER: &str = "guarded";

fn oauth_spec(url: &str) -> ServerSpec {
    ServerSpec::http(SERVER, url).with_auth(AuthSpec::OAuth(OAuthSpec {
        redirect_uri: "http://127.0.0.1:1/callback".to_owned(),
        ..OAuthSpec::default()
    }))
}

/// Callbacks of an operator at a terminal: the headless authorizer, and `vault`.
fn with_person(vault: &MemoryVault) -> Callbacks {
    Callbacks::default()
        .with_authorizer(HeadlessAuthorizer)
        .with_vault(vault.clone())
}

/// Callbacks of the bot at run time: `vault`, no one to authorize.
fn bot(vault: &MemoryVault) -> Callbacks {
    Callbacks::default().with_vault(vault.clone())
}

/// How many requests of `kind` the double received.
fn count(double: &FakeAuthServer, kind: &str) -> usize {
    double.requests().iter().filter(|r| *r == kind).count()
}

/// The text of a call's error.
async fn call_error(host: &McpHost, tool: &str) -> HostError {
    let result = host
        .call_tool(tool, json!({"text": "x"}), CallOptions::default())
        .await;
    match result {
        Ok(output) => panic!("{tool} should fail, it answered {:?}", output.text),
        Err(error) => error,
    }
}

#[tokio::test]
async fn a_login_is_saved_and_refreshed_when_the_token_is_refused() {
    let double = FakeAuthServer::start(AuthOptions::default()).await;
    let vault = MemoryVault::default();
    let host = ready_host(vec![oauth_spec(&double.mcp_url())], with_person(&vault)).await;
    assert_eq!(
        call(&host, "echo", json!({"text": "signed in"})).await.text,
        "signed in"
    );
    assert_eq!(
        double.requests(),
        ["register", "authorize", "token:authorization_code"]
    );
    let saved = vault
        .load(SERVER)
        .await
        .unwrap()
        .expect("the login is saved");
    assert_eq!(saved.resource, double.mcp_url());
    assert_eq!(saved.issuer.as_deref(), Some(double.issuer().as_str()));
    assert_eq!(saved.client_id, "client-1");
    assert!(
        saved.client_secret.is_some(),
        "the registration's secret is kept"
    );
    assert!(saved.refresh_token.is_some() && saved.expires_at.is_some());
    assert_eq!(saved.scopes, ["mcp:read"]);

    double.refuse_access_tokens();
    assert_eq!(
        call(&host, "echo", json!({"text": "refreshed"})).await.text,
        "refreshed"
    );
    assert_eq!(
        double.requests(),
        [
            "register",
            "authorize",
            "token:authorization_code",
            "token:refresh_token"
        ],
        "the refused token is refreshed, with no second authorization"
    );
    let rotated = vault.load(SERVER).await.unwrap().unwrap();
    assert_ne!(rotated.access_token, saved.access_token);
    assert_ne!(
        rotated.refresh_token, saved.refresh_token,
        "the rotated refresh token is saved"
    );
    within(host.shutdown()).await;
}

#[tokio::test]
async fn a_token_is_refreshed_before_it_expires() {
    let double = FakeAuthServer::start(AuthOptions::default()).await;
    // Refreshed when less than half the lifetime is left (rmcp counts whole seconds): 3 s
    // after the login, 1 s is left.
    double.set_token_lifetime(4);
    let vault = MemoryVault::default();
    let host = ready_host(vec![oauth_spec(&double.mcp_url())], with_person(&vault)).await;
    call(&host, "echo", json!({"text": "one"})).await;
    let refused = double.refusals();
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        call(&host, "echo", json!({"text": "two"})).await.text,
        "two"
    );
    assert!(
        count(&double, "token:refresh_token") >= 1,
        "refreshed: {:?}",
        double.requests()
    );
    assert_eq!(count(&double, "authorize"), 1, "{:?}", double.requests());
    assert_eq!(
        double.refusals(),
        refused,
        "refreshed before the server could refuse the old token"
    );
    within(host.shutdown()).await;
}

#[tokio::test]
async fn a_saved_login_serves_a_restarted_host_until_its_refresh_is_rejected() {
    let double = FakeAuthServer::start(AuthOptions::default()).await;
    let vault = MemoryVault::default();
    let login = ready_host(vec![oauth_spec(&double.mcp_url())], with_person(&vault)).await;
    within(login.shutdown()).await;
    let before = double.requests();

    // The bot: the saved login, no authorization.
    let host = ready_host(vec![oauth_spec(&double.mcp_url())], bot(&vault)).await;
    let mut events = host.events();
    assert_eq!(
        call(&host, "echo", json!({"text": "restarted"})).await.text,
        "restarted"
    );
    assert_eq!(
        double.requests(),
        before,
        "the saved login is used as it is"
    );

    // The login is revoked: the refresh is rejected and no one can authorize.
    double.refuse_access_tokens();
    double.revoke_refresh_tokens();
    let _ = host
        .call_tool("echo", json!({"text": "x"}), CallOptions::default())
        .await;
    eventually("the server needs a login", || {
        host.status()[0].state == ServerState::NeedsLogin
    })
    .await;
    assert!(host.tools().is_empty(), "its tools left the catalogue");
    assert_eq!(
        host.status()[0].hint().as_deref(),
        Some("run `mcpcord mcp login guarded`")
    );
    let error = call_error(&host, "echo").await;
    assert!(
        matches!(
            &error,
            HostError::UnknownTool { .. } | HostError::NeedsLogin { .. }
        ),
        "{error}"
    );
    let error =
        within(host.call_server_tool(SERVER, "echo", json!({"text": "x"}), CallOptions::default()))
            .await
            .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the MCP server `guarded` needs a login: an admin runs `mcpcord mcp login guarded`"
    );
    let event = within(events.recv()).await.unwrap();
    let HostEvent::NeedsLogin { server, reason } = &event else {
        panic!("{event:?}");
    };
    assert_eq!(server, SERVER);
    assert!(reason.contains("refresh"), "{reason}");
    assert!(event.message().contains("mcpcord mcp login guarded"));
    assert_eq!(count(&double, "authorize"), 1, "the bot never authorizes");

    // An admin logs in again (another host, the same vault): the bot is told and comes back.
    let login = ready_host(vec![oauth_spec(&double.mcp_url())], with_person(&vault)).await;
    within(login.shutdown()).await;
    within(host.credentials_changed(SERVER)).await.unwrap();
    eventually("the server is ready again", || {
        host.status()[0].state == ServerState::Ready
    })
    .await;
    eventually("the tools are back", || !host.tools().is_empty()).await;
    assert_eq!(
        call(&host, "echo", json!({"text": "back"})).await.text,
        "back"
    );
    within(host.shutdown()).await;
}

#[tokio::test]
async fn without_a_login_the_bot_says_which_command_to_run() {
    let double = FakeAuthServer::start(AuthOptions::default()).await;
    let vault = MemoryVault::default();
    let login = ready_host(vec![oauth_spec(&double.mcp_url())], with_person(&vault)).await;
    within(login.shutdown()).await;
    // Logout: the vault forgets the login.
    vault.clear(SERVER).await.unwrap();
    let requests = double.requests().len();

    let spec = oauth_spec(&double.mcp_url())
        .with_restart(RestartPolicy::Never)
        .with_start_timeout(Duration::from_secs(10));
    let Err(error) = within(McpHost::connect(spec, bot(&vault))).await else {
        panic!("no login, no connection");
    };
    assert!(
        matches!(&error, ConnectError::NeedsLogin { server, .. } if server == SERVER),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("run `mcpcord mcp login guarded`"),
        "{error}"
    );
    assert_eq!(
        double.requests().len(),
        requests,
        "nothing is registered or authorized without an authorizer: {:?}",
        double.requests()
    );
}

#[tokio::test]
async fn a_tool_needing_more_scope_gets_a_second_authorization_with_the_union() {
    let options = AuthOptions {
        tool_scopes: vec![("add".to_owned(), "mcp:write".to_owned())],
    };
    let double = FakeAuthServer::start(options).await;
    let vault = MemoryVault::default();
    let host = ready_host(vec![oauth_spec(&double.mcp_url())], with_person(&vault)).await;
    call(&host, "echo", json!({"text": "read"})).await;
    assert_eq!(double.authorizations(), ["mcp:read"]);
    let sum = call(&host, "add", json!({"a": 2, "b": 3})).await;
    assert_eq!(sum.text, "5");
    assert_eq!(double.authorizations(), ["mcp:read", "mcp:read mcp:write"]);
    assert_eq!(count(&double, "register"), 1, "the same registration");
    let saved = vault.load(SERVER).await.unwrap().unwrap();
    assert_eq!(saved.scopes, ["mcp:read", "mcp:write"]);
    within(host.shutdown()).await;
}

#[tokio::test]
async fn a_scope_wanted_at_run_time_is_saved_and_the_server_stays() {
    let options = AuthOptions {
        tool_scopes: vec![("add".to_owned(), "mcp:write".to_owned())],
    };
    let double = FakeAuthServer::start(options).await;
    let vault = MemoryVault::default();
    let login = ready_host(vec![oauth_spec(&double.mcp_url())], with_person(&vault)).await;
    within(login.shutdown()).await;

    // The bot: no one to authorize the step-up.
    let host = ready_host(vec![oauth_spec(&double.mcp_url())], bot(&vault)).await;
    let mut events = host.events();
    let add = || host.call_tool("add", json!({"a": 1, "b": 2}), CallOptions::default());
    let Err(error) = within(add()).await else {
        panic!("the call cannot succeed without the scope");
    };
    assert_eq!(
        error.to_string(),
        "the MCP server `guarded` needs more permissions (`mcp:read mcp:write`): an admin runs \
         `mcpcord mcp login guarded`"
    );
    let event = within(events.recv()).await.unwrap();
    assert!(
        matches!(&event, HostEvent::NeedsScopes { server, .. } if server == SERVER),
        "{event:?}"
    );
    eventually("the server is ready", || {
        host.status()[0].state == ServerState::Ready
    })
    .await;
    assert!(within(add()).await.is_err());
    assert!(
        events.try_recv().is_err(),
        "admins hear of a scope set once"
    );
    let saved = vault.load(SERVER).await.unwrap().unwrap();
    assert!(
        saved.wanted_scopes.iter().any(|s| s == "mcp:write"),
        "the next login asks for it: {saved:?}"
    );
    assert_eq!(count(&double, "authorize"), 1, "the bot never authorizes");
    eventually("the server is ready", || {
        host.status()[0].state == ServerState::Ready
    })
    .await;
    assert_eq!(
        call(&host, "echo", json!({"text": "still here"}))
            .await
            .text,
        "still here"
    );
    within(host.shutdown()).await;
}

#[tokio::test]
async fn a_new_authorization_server_gets_a_new_registration() {
    let double = FakeAuthServer::start(AuthOptions::default()).await;
    let vault = MemoryVault::default();
    let host = ready_host(vec![oauth_spec(&double.mcp_url())], with_person(&vault)).await;
    call(&host, "echo", json!({"text": "first"})).await;
    let first = double.issuer();

    double.migrate();
    assert_eq!(
        call(&host, "echo", json!({"text": "moved"})).await.text,
        "moved"
    );
    assert_eq!(double.registrations(), ["as1", "as2"]);
    assert_eq!(count(&double, "authorize"), 2);
    let saved = vault.load(SERVER).await.unwrap().unwrap();
    assert_ne!(saved.issuer.as_deref(), Some(first.as_str()));
    assert_eq!(saved.issuer.as_deref(), Some(double.issuer().as_str()));
    assert_eq!(saved.client_id, "client-2");
    within(host.shutdown()).await;
}

/// A log sink the test reads back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once) the process-wide subscriber writing into the returned sink: everything at
/// TRACE but rmcp's OAuth module, which logs the code exchange at debug (the filter every
/// mcpcord binary sets keeps it at info: docs/oauth-plan.md 3.2). Process-wide rather than
/// per test: tracing caches per call site whether anyone listens, and a test on another thread
/// without a subscriber could otherwise hide this one's lines. The other tests of this file
/// log into it too, which only widens the check.
fn capture_logs() -> Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("trace,rmcp::transport::auth=info")
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        captured
    })
    .clone()
}

#[tokio::test]
async fn no_token_code_verifier_or_secret_reaches_the_logs() {
    let captured = capture_logs();
    let options = AuthOptions {
        tool_scopes: vec![("add".to_owned(), "mcp:write".to_owned())],
    };
    let double = FakeAuthServer::start(options).await;
    let vault = MemoryVault::default();
    let host = ready_host(vec![oauth_spec(&double.mcp_url())], with_person(&vault)).await;
    call(&host, "echo", json!({"text": "one"})).await;
    double.refuse_access_tokens();
    call(&host, "echo", json!({"text": "two"})).await;
    call(&host, "add", json!({"a": 1, "b": 1})).await;
    within(host.shutdown()).await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("authorized") && logs.contains("token refreshed"),
        "the login and the refresh are logged: {logs}"
    );
    let secrets = double.secrets();
    assert!(secrets.len() > 6, "{secrets:?}");
    for secret in secrets {
        assert!(!logs.contains(&secret), "`{secret}` is in the logs");
    }
    assert!(!logs.contains("SECRET"), "a secret is in the logs:\n{logs}");
}

fn machine_spec(url: &str, credential: ClientCredential) -> ServerSpec {
    ServerSpec::http("machine", url).with_auth(AuthSpec::ClientCredentials(ClientCredentialsSpec {
        client_id: MACHINE.to_owned(),
        credential,
        scopes: Vec::new(),
    }))
}

/// The client credentials requests the double received.
fn client_credentials_requests(double: &FakeAuthServer) -> Vec<String> {
    double
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("token:client_credentials"))
        .collect()
}

#[tokio::test]
async fn client_credentials_fetch_a_token_with_the_secret_and_again_after_a_401() {
    let captured = capture_logs();
    let double = FakeAuthServer::start(AuthOptions::default()).await;
    let url = double.mcp_url();
    let spec = machine_spec(&url, ClientCredential::Secret(MACHINE_SECRET.to_owned()));
    // No authorizer: nobody is asked anything.
    let host = ready_host(vec![spec], Callbacks::default()).await;
    assert_eq!(
        call(&host, "echo", json!({"text": "machine"})).await.text,
        "machine"
    );
    assert_eq!(double.requests(), ["token:client_credentials:basic"]);

    double.refuse_access_tokens();
    assert_eq!(
        call(&host, "echo", json!({"text": "again"})).await.text,
        "again"
    );
    assert_eq!(
        double.requests(),
        [
            "token:client_credentials:basic",
            "token:client_credentials:basic"
        ],
        "the refused token is replaced by a new one, with no registration or authorization"
    );
    within(host.shutdown()).await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("client credentials token fetched"),
        "the token requests are logged: {logs}"
    );
    assert!(
        !logs.contains("SECRET")
            && !logs.contains(&STANDARD.encode(format!("{MACHINE}:{MACHINE_SECRET}"))),
        "the client secret or a token is in the logs:\n{logs}"
    );
}

#[tokio::test]
async fn a_private_key_assertion_gets_a_token_and_another_before_it_expires() {
    let captured = capture_logs();
    let double = FakeAuthServer::start(AuthOptions::default()).await;
    let url = double.mcp_url();
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    double.set_client_key(key.public_key().as_ref().to_vec());
    // Renewed at half the lifetime: after 2 s.
    double.set_token_lifetime(4);
    let body = STANDARD.encode(pkcs8.as_ref());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
    let spec = machine_spec(
        &url,
        ClientCredential::PrivateKey {
            pem,
            algorithm: SigningAlgorithm::Es256,
        },
    );
    let host = ready_host(vec![spec], Callbacks::default()).await;
    assert_eq!(
        call(&host, "echo", json!({"text": "signed"})).await.text,
        "signed"
    );
    let first = client_credentials_requests(&double);
    assert!(
        !first.is_empty() && first.iter().all(|r| r == "token:client_credentials:jwt"),
        "the assertion is accepted: {first:?}"
    );
    let refused = double.refusals();

    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(
        call(&host, "echo", json!({"text": "renewed"})).await.text,
        "renewed"
    );
    let second = client_credentials_requests(&double);
    assert!(
        second.len() > first.len() && second.iter().all(|r| r == "token:client_credentials:jwt"),
        "a token near its expiry is replaced before use: {first:?} then {second:?}"
    );
    assert_eq!(
        double.refusals(),
        refused,
        "the new token was fetched before the server could refuse the old one"
    );
    within(host.shutdown()).await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        !logs.contains(&body[..40]),
        "the private key is in the logs"
    );
    assert!(
        !logs.contains("eyJ"),
        "an assertion is in the logs:\n{logs}"
    );
}

/// Two bots (shards) with one vault, each holding the saved login, after it was made.
async fn two_shards(double: &FakeAuthServer, vault: &MemoryVault) -> (McpHost, McpHost) {
    let login = ready_host(vec![oauth_spec(&double.mcp_url())], with_person(vault)).await;
    within(login.shutdown()).await;
    let one = ready_host(vec![oauth_spec(&double.mcp_url())], bot(vault)).await;
    let two = ready_host(vec![oauth_spec(&double.mcp_url())], bot(vault)).await;
    for host in [&one, &two] {
        assert_eq!(call(host, "echo", json!({"text": "up"})).await.text, "up");
    }
    (one, two)
}

/// Both shards call at once; both answer, and both stay ready.
async fn both_answer(one: &McpHost, two: &McpHost) {
    let (a, b) = tokio::join!(
        call(one, "echo", json!({"text": "one"})),
        call(two, "echo", json!({"text": "two"}))
    );
    assert_eq!((a.text.as_str(), b.text.as_str()), ("one", "two"));
    for host in [one, two] {
        assert_eq!(host.status()[0].state, ServerState::Ready);
    }
}

#[tokio::test]
async fn shards_sharing_a_login_refresh_a_refused_token_once() {
    let double = FakeAuthServer::start(AuthOptions::default()).await;
    let vault = MemoryVault::default();
    let (one, two) = two_shards(&double, &vault).await;
    let saved = vault.load(SERVER).await.unwrap().unwrap();

    // Both tokens are refused; the first shard to refresh rotates the refresh token, the
    // other uses the login it saved instead of spending the rotated-away one.
    double.refuse_access_tokens();
    both_answer(&one, &two).await;
    assert_eq!(
        count(&double, "token:refresh_token"),
        1,
        "one refresh for both shards: {:?}",
        double.requests()
    );
    assert_eq!(count(&double, "authorize"), 1, "no second authorization");
    let rotated = vault.load(SERVER).await.unwrap().unwrap();
    assert_ne!(rotated.refresh_token, saved.refresh_token);
    within(one.shutdown()).await;
    within(two.shutdown()).await;
}

#[tokio::test]
async fn shards_sharing_a_login_refresh_an_expiring_token_once() {
    let double = FakeAuthServer::start(AuthOptions::default()).await;
    // As in `a_token_is_refreshed_before_it_expires`: 3 s after the login, 1 s is left.
    double.set_token_lifetime(4);
    let vault = MemoryVault::default();
    let (one, two) = two_shards(&double, &vault).await;
    let before = count(&double, "token:refresh_token");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    both_answer(&one, &two).await;
    assert_eq!(
        count(&double, "token:refresh_token"),
        before + 1,
        "one refresh for both shards: {:?}",
        double.requests()
    );
    assert_eq!(count(&double, "authorize"), 1, "no second authorization");
    within(one.shutdown()).await;
    within(two.shutdown()).await;
}
