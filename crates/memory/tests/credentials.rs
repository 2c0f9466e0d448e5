//! Remote MCP servers' logins, sealed by the caller, on both databases: saved, read back,
//! replaced in one statement, deleted; the row holds exactly what the caller sealed; and the
//! refresh lock lets one holder at a time in (across stores on PostgreSQL).

use std::time::Duration;

use mcpcord_memory::SealedCredentials;

#[macro_use]
mod common;
use common::{Kind, TestDb};

fn row(server: &str, sealed: &[u8], expires_at: Option<u64>) -> SealedCredentials {
    SealedCredentials {
        server: server.to_owned(),
        resource: format!("https://{server}.example/mcp"),
        key_id: "0a1b2c3d".to_owned(),
        sealed: sealed.to_vec(),
        expires_at,
        updated_at: 0,
    }
}

/// A server name no other test (or earlier run) uses: advisory locks are server-wide.
fn fresh_server() -> String {
    format!("search-{}", uuid::Uuid::new_v4().simple())
}

on_both!(
    logins_are_saved_read_replaced_and_deleted,
    the_row_holds_only_what_the_caller_sealed,
    one_refresh_of_a_server_at_a_time,
);

async fn logins_are_saved_read_replaced_and_deleted(db: TestDb) {
    let store = db.connect().await;
    assert_eq!(store.load_mcp_credentials("search").await.unwrap(), None);

    // Every byte value, and a NUL, survive the round trip.
    let first: Vec<u8> = (0..=255u8).chain([0, 0]).collect();
    let saved = store
        .save_mcp_credentials(row("search", &first, Some(1_796_320_680)))
        .await
        .unwrap();
    assert!(saved.updated_at > 1_700_000_000, "updated_at is set to now");
    let loaded = store.load_mcp_credentials("search").await.unwrap();
    assert_eq!(loaded.as_ref(), Some(&saved));
    store
        .save_mcp_credentials(row("other", b"other's", None))
        .await
        .unwrap();

    // Replaced whole: every column is the new row's.
    let mut second = row("search", b"a newer login", None);
    second.resource = "https://moved.example/mcp".to_owned();
    second.key_id = "ffffffff".to_owned();
    let replaced = store.save_mcp_credentials(second).await.unwrap();
    let loaded = store.load_mcp_credentials("search").await.unwrap().unwrap();
    assert_eq!(loaded, replaced);
    assert_eq!(loaded.sealed, b"a newer login");
    assert_eq!(loaded.expires_at, None);
    assert_eq!(loaded.resource, "https://moved.example/mcp");
    assert_eq!(loaded.key_id, "ffffffff");
    assert_eq!(count(&db).await, 2, "one row per server");

    assert!(store.delete_mcp_credentials("search").await.unwrap());
    assert!(!store.delete_mcp_credentials("search").await.unwrap());
    assert_eq!(store.load_mcp_credentials("search").await.unwrap(), None);
    let other = store.load_mcp_credentials("other").await.unwrap().unwrap();
    assert_eq!(other.sealed, b"other's", "another server's login stays");

    // Still there after the store is closed and opened again.
    store.close().await;
    let reopened = db.connect().await;
    let other_again = reopened.load_mcp_credentials("other").await.unwrap();
    assert_eq!(other_again, Some(other));
}

async fn count(db: &TestDb) -> i64 {
    let pool = raw_pool_of(db).await;
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM mcp_credentials")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

/// A row as the database holds it: server, resource, key id, sealed, expires_at, updated_at.
type RawRow = (String, String, String, Vec<u8>, Option<i64>, i64);

async fn the_row_holds_only_what_the_caller_sealed(db: TestDb) {
    let store = db.connect().await;
    let sealed = b"\x01sealed-by-the-caller\xff".to_vec();
    store
        .save_mcp_credentials(row("search", &sealed, Some(42)))
        .await
        .unwrap();
    let pool = raw_pool_of(&db).await;
    let rows: Vec<RawRow> = sqlx::query_as(
        "SELECT server, resource, key_id, sealed, expires_at, updated_at FROM mcp_credentials",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(rows.len(), 1);
    let (server, resource, key_id, stored, expires_at, updated_at) = rows[0].clone();
    assert_eq!(server, "search");
    assert_eq!(resource, "https://search.example/mcp");
    assert_eq!(key_id, "0a1b2c3d");
    assert_eq!(
        stored, sealed,
        "the sealed bytes, unchanged and nothing else"
    );
    assert_eq!(expires_at, Some(42));
    assert!(updated_at > 1_700_000_000);
}

/// A connection of our own to the test's database, to look at the table as it is.
async fn raw_pool_of(db: &TestDb) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(db.url())
        .await
        .expect("a raw connection to the test database")
}

/// The first holder keeps a second out (another store: another process on PostgreSQL; the
/// same store on SQLite, a one-process database) until it lets go; another server's lock is
/// free meanwhile.
async fn one_refresh_of_a_server_at_a_time(db: TestDb) {
    let one = db.connect().await;
    let two = match db.kind {
        Kind::Postgres => db.connect().await,
        Kind::Sqlite => one.clone(),
    };
    let server = fresh_server();
    let held = one.lock_mcp_refresh(&server).await.unwrap();

    let (waiter_store, waiter_server) = (two.clone(), server.clone());
    let mut second = tokio::spawn(async move {
        waiter_store
            .lock_mcp_refresh(&waiter_server)
            .await
            .expect("the second lock")
    });
    let early = tokio::time::timeout(Duration::from_millis(500), &mut second).await;
    assert!(
        early.is_err(),
        "a second holder waits while the first holds the lock"
    );

    let other = tokio::time::timeout(
        Duration::from_secs(5),
        two.lock_mcp_refresh(&fresh_server()),
    )
    .await
    .expect("another server's refresh lock is free")
    .unwrap();
    drop(other);

    drop(held);
    let second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the second holder gets in once the first lets go")
        .unwrap();
    assert!(format!("{second:?}").contains("RefreshLock"));
    drop(second);
    // A conversation lock of the same name is a different lock.
    let name = fresh_server();
    let _refresh = one.lock_mcp_refresh(&name).await.unwrap();
    let conversation = tokio::time::timeout(
        Duration::from_secs(5),
        two.conversation_lock(&mcpcord_memory::ConversationKey::new(name)),
    )
    .await
    .expect("a conversation lock is apart from refresh locks");
    drop(conversation);
}
