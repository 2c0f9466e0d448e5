use std::path::Path;
use std::time::Duration;

use mcpcord_mcp::{
    AuthSpec, CallOptions, Callbacks, HeadlessAuthorizer, HostOptions, McpHost, OAuthSpec,
    ServerSpec, ServerState,
};
use mcpcord_testkit::oauth::{AuthOptions, FakeAuthServer};

use super::*;

const RESOURCE: &str = "https://search.example/mcp";
const ACCESS: &str = "at-9f2c41d7e3b84a6c";
const REFRESH: &str = "rt-5e07b1aa93c24d18";

fn login() -> SavedAuth {
    SavedAuth {
        resource: RESOURCE.to_owned(),
        issuer: Some("https://auth.example".to_owned()),
        client_id: "mcpcord-client".to_owned(),
        client_secret: None,
        access_token: ACCESS.to_owned(),
        refresh_token: Some(REFRESH.to_owned()),
        expires_at: Some(1_796_320_680),
        scopes: vec!["mcp:read".to_owned()],
        wanted_scopes: Vec::new(),
    }
}

fn key() -> SecretKey {
    SecretKey::parse(&"5a".repeat(32)).unwrap()
}

/// Every byte of every file of the database (the file, its WAL and shared memory).
fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    bytes
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_login_reads_back_and_the_database_holds_no_token_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("mcpcord.sqlite").display());
    let store = Store::connect(&url).await.unwrap();
    let vault = DbVault::new(store.clone(), key());
    assert_eq!(vault.load("search").await.unwrap(), None);

    vault.save("search", login()).await.unwrap();
    assert_eq!(vault.load("search").await.unwrap(), Some(login()));
    let row = store.load_mcp_credentials("search").await.unwrap().unwrap();
    assert_eq!(row.key_id, key().id());
    assert_eq!(row.resource, RESOURCE);
    assert_eq!(row.expires_at, Some(1_796_320_680));
    assert!(
        !format!("{vault:?}").contains("5a5a"),
        "Debug shows the key id only"
    );

    // On disk, after the store is closed (WAL checkpointed) and before: no token anywhere,
    // though the row is there.
    let open_bytes = database_bytes(dir.path());
    store.close().await;
    let closed_bytes = database_bytes(dir.path());
    for bytes in [&open_bytes, &closed_bytes] {
        assert!(holds(bytes, RESOURCE), "the row is in the files read");
        for secret in [ACCESS, REFRESH, "mcpcord-client", "access_token"] {
            assert!(
                !holds(bytes, secret),
                "{secret} is in the database in clear"
            );
        }
    }

    // Opened again with the same key, the login reads back; with another key, the error says
    // which command logs in again; cleared, it is gone.
    let store = Store::connect(&url).await.unwrap();
    let vault = DbVault::new(store.clone(), key());
    assert_eq!(vault.load("search").await.unwrap(), Some(login()));
    let other = DbVault::new(store.clone(), SecretKey::parse(&"00".repeat(32)).unwrap());
    let error = other.load("search").await.unwrap_err();
    assert!(error.contains("run `mcpcord mcp login search`"), "{error}");
    assert!(!error.contains(ACCESS), "{error}");
    vault.clear("search").await.unwrap();
    assert_eq!(vault.load("search").await.unwrap(), None);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_copied_to_another_server_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("mcpcord.sqlite").display());
    let store = Store::connect(&url).await.unwrap();
    let vault = DbVault::new(store.clone(), key());
    vault.save("search", login()).await.unwrap();
    let mut row = store.load_mcp_credentials("search").await.unwrap().unwrap();
    row.server = "files".to_owned();
    store.save_mcp_credentials(row).await.unwrap();
    let error = vault.load("files").await.unwrap_err();
    assert!(error.contains("run `mcpcord mcp login files`"), "{error}");
    assert_eq!(vault.load("search").await.unwrap(), Some(login()));
    store.close().await;
}

/// Runs `sql` on the PostgreSQL test database (`test`, trust auth on 127.0.0.1:5432, or
/// `TEST_DATABASE_URL`).
async fn postgres(sql: &str) {
    use sqlx::Connection as _;
    let url = postgres_url();
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {url}: {e}\nThis test needs a real PostgreSQL server \
             (trust authentication, user postgres, database test) on 127.0.0.1:5432, or \
             TEST_DATABASE_URL"
        )
    });
    sqlx::query(sql).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
}

fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_a_login_saved_by_one_process_opens_in_another_and_is_sealed() {
    let schema = format!("mcpcord_vault_{}", uuid_like());
    postgres(&format!("CREATE SCHEMA {schema}")).await;
    let url = format!("{}?options[search_path]={schema}", postgres_url());
    let one = Store::connect(&url).await.unwrap();
    let two = Store::connect(&url).await.unwrap();
    DbVault::new(one.clone(), key())
        .save("search", login())
        .await
        .unwrap();
    let other_process = DbVault::new(two.clone(), key());
    assert_eq!(other_process.load("search").await.unwrap(), Some(login()));

    let row = two.load_mcp_credentials("search").await.unwrap().unwrap();
    for secret in [ACCESS, REFRESH, "mcpcord-client"] {
        assert!(!holds(&row.sealed, secret), "{secret} in the sealed column");
    }
    other_process.clear("search").await.unwrap();
    assert_eq!(
        DbVault::new(one.clone(), key())
            .load("search")
            .await
            .unwrap(),
        None
    );
    one.close().await;
    two.close().await;
    postgres(&format!("DROP SCHEMA {schema} CASCADE")).await;
}

/// A name part no other run uses at the same time.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{nanos}", std::process::id())
}

/// A host of the double's guarded server over `vault`: an operator's (`person`, the headless
/// authorizer) or a bot's (no one to authorize).
async fn shard(double: &FakeAuthServer, vault: DbVault, person: bool) -> McpHost {
    let spec =
        ServerSpec::http("guarded", double.mcp_url()).with_auth(AuthSpec::OAuth(OAuthSpec {
            redirect_uri: "http://127.0.0.1:1/callback".to_owned(),
            ..OAuthSpec::default()
        }));
    let mut callbacks = Callbacks::default().with_vault(vault);
    if person {
        callbacks = callbacks.with_authorizer(HeadlessAuthorizer);
    }
    let host = McpHost::start(vec![spec], HostOptions::default(), callbacks);
    assert!(
        host.wait_ready(Duration::from_secs(30)).await,
        "{:?}",
        host.status()
    );
    host
}

/// Calls the guarded server's echo tool.
async fn echo(host: &McpHost, text: &str) -> String {
    let output = host
        .call_tool(
            "echo",
            serde_json::json!({ "text": text }),
            CallOptions::default(),
        )
        .await
        .unwrap_or_else(|error| panic!("echo failed: {error}"));
    output.text
}

/// Two shards, each with its vault over `one` and `two` (one database), share a login whose
/// tokens are both refused: one refreshes (rotating the refresh token), the other uses the
/// login it stored, and neither needs a login.
async fn two_shards_refresh_once(one: &Store, two: &Store) {
    let double = FakeAuthServer::start(AuthOptions::default()).await;
    let login = shard(&double, DbVault::new(one.clone(), key()), true).await;
    login.shutdown().await;
    let first = shard(&double, DbVault::new(one.clone(), key()), false).await;
    let second = shard(&double, DbVault::new(two.clone(), key()), false).await;
    assert_eq!(echo(&first, "up").await, "up");
    assert_eq!(echo(&second, "up").await, "up");

    double.refuse_access_tokens();
    let (a, b) = tokio::join!(echo(&first, "one"), echo(&second, "two"));
    assert_eq!((a.as_str(), b.as_str()), ("one", "two"));
    let requests = double.requests();
    let refreshes = requests.iter().filter(|r| *r == "token:refresh_token");
    assert_eq!(refreshes.count(), 1, "{requests:?}");
    for host in [&first, &second] {
        assert_eq!(host.status()[0].state, ServerState::Ready);
        host.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_two_shards_sharing_a_login_refresh_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("mcpcord.sqlite").display());
    let store = Store::connect(&url).await.unwrap();
    two_shards_refresh_once(&store, &store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_two_processes_sharing_a_login_refresh_it_once() {
    let schema = format!("mcpcord_vault_{}", uuid_like());
    postgres(&format!("CREATE SCHEMA {schema}")).await;
    let url = format!("{}?options[search_path]={schema}", postgres_url());
    let one = Store::connect(&url).await.unwrap();
    let two = Store::connect(&url).await.unwrap();
    two_shards_refresh_once(&one, &two).await;
    one.close().await;
    two.close().await;
    postgres(&format!("DROP SCHEMA {schema} CASCADE")).await;
}
