use std::path::Path;

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
