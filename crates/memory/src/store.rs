//! The store: opening the database, migrations, and the pool every query goes through.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use crate::MemoryError;
use crate::group::{Counters, GroupCommit};
use crate::hot::Hot;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long to wait for a connection (a server that is still starting gets this long).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite connections: one writer at a time anyway; a few readers beside it.
const SQLITE_CONNECTIONS: u32 = 4;
/// PostgreSQL connections per process (several shard processes may share one server).
const POSTGRES_CONNECTIONS: u32 = 10;
/// PostgreSQL connections holding conversation locks (turns running, or waiting in line behind
/// another process's turn of the same conversation).
const LOCK_CONNECTIONS: u32 = 32;
/// How long a SQLite writer waits for another to finish before failing.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// A SQLite file (`sqlite://FILE`), in WAL mode.
    Sqlite,
    /// A PostgreSQL server (`postgres://…`).
    Postgres,
}

impl Backend {
    /// The backend a URL names, from its scheme.
    fn of(url: &str) -> Result<Self, MemoryError> {
        let scheme = url
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("sqlite") => Ok(Self::Sqlite),
            Some("postgres" | "postgresql") => Ok(Self::Postgres),
            _ => Err(MemoryError::InvalidUrl {
                url: redact(url),
                reason: "use sqlite://FILE (created if missing) or postgres://USER@HOST/DATABASE"
                    .into(),
            }),
        }
    }

    /// What to check when the database cannot be opened, given the driver's `error`.
    fn connect_hint(self, error: &sqlx::Error) -> &'static str {
        match self {
            Self::Sqlite => {
                "check that the file's folder exists and that this user may write there \
                 (a missing file is created unless the URL says ?mode=rw or ?mode=ro)"
            }
            Self::Postgres if needs_tls(error) => {
                "the server accepts only encrypted connections: add ?sslmode=require to the URL \
                 (or, to check its certificate too, \
                 ?sslmode=verify-full&sslrootcert=/path/to/ca.pem)"
            }
            Self::Postgres if is_tls_failure(error) => {
                "the TLS connection failed: with sslmode=verify-ca or verify-full, give the CA \
                 that signed the server's certificate as sslrootcert=/path/to/ca.pem (and, for \
                 verify-full, use the host name the certificate names); sslmode=require \
                 encrypts without checking the certificate; sslmode=disable never encrypts"
            }
            Self::Postgres => {
                "check that PostgreSQL is running and reachable at that address, and that the \
                 user, password and database in the URL exist (for TLS add ?sslmode=require, \
                 or verify-full with sslrootcert=CA.pem)"
            }
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATIONS,
            Self::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// The connection pool at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open (in use or idle).
    pub open: u32,
    /// Open connections nobody is using.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// The handle to mcpcord's database; cheap to clone (clones share one connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// How long conversations outside any guild are kept (see `retention.rs`).
    pub(crate) outside_guilds_retention: Arc<RwLock<Option<Duration>>>,
    /// How long conversations of guilds without a rule of their own are kept.
    pub(crate) other_guilds_retention: Arc<RwLock<Option<Duration>>>,
    /// How long audit-log entries are kept (see `retention.rs`; `None`: forever).
    pub(crate) audit_retention: Arc<RwLock<Option<Duration>>>,
    /// SQLite: the task concurrent writes share transactions through (see `group.rs`).
    pub(crate) group: Option<GroupCommit>,
    /// PostgreSQL: the connections conversation locks are held on (see `locks.rs`).
    pub(crate) lock_pool: Option<AnyPool>,
    /// SQLite: conversation locks within this process (see `locks.rs`).
    pub(crate) local_locks: crate::locks::LocalLocks,
    /// SQLite: preferences, disabled tools and live conversations kept in memory (see
    /// `hot.rs`); `None` on PostgreSQL.
    pub(crate) hot: Option<Arc<crate::hot::Hot>>,
}

impl Store {
    /// Opens the database at `url` and brings its schema up to date.
    ///
    /// `sqlite://FILE` opens (or creates) a SQLite file, relative to the working directory
    /// unless absolute (`sqlite:///var/lib/mcpcord/db.sqlite`); add `?mode=rw` to refuse to
    /// create it. `sqlite::memory:` is a private in-memory database (for trying things out).
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` connects to PostgreSQL, with TLS as
    /// libpq's `sslmode` says: `disable`, `prefer` (the default: TLS if the server offers it),
    /// `require` (TLS, certificate not checked), `verify-ca` (TLS, certificate signed by the CA in
    /// `sslrootcert=FILE`, or by a well-known public CA), `verify-full` (and naming the host).
    pub async fn connect(url: &str) -> Result<Store, MemoryError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let in_memory = backend == Backend::Sqlite && is_sqlite_memory(url);
        let url = match backend {
            Backend::Sqlite if !in_memory => create_if_missing(url),
            _ => url.to_owned(),
        };
        let options = connect_options(&url)?;

        let lock_pool = lock_pool(backend, &options);
        let pool = pool_options(backend, in_memory)
            .connect_with(options)
            .await
            .map_err(|source| MemoryError::Connect {
                url: redact(&url),
                hint: backend.connect_hint(&source),
                source,
            })?;

        backend
            .migrator()
            .run(&pool)
            .await
            .map_err(|source| MemoryError::Migrate { source })?;
        tracing::info!(backend = ?backend, url = %redact(&url), "storage ready");
        Self::assemble(pool, backend, lock_pool).await
    }

    /// The store over an open, migrated `pool`, with what `backend` needs beside it.
    async fn assemble(
        pool: AnyPool,
        backend: Backend,
        lock_pool: Option<AnyPool>,
    ) -> Result<Store, MemoryError> {
        let (group, hot) = match backend {
            Backend::Sqlite => {
                let (group, hot) = sqlite_writer(&pool).await?;
                (Some(group), Some(hot))
            }
            Backend::Postgres => (None, None),
        };
        Ok(Store {
            pool,
            backend,
            outside_guilds_retention: Arc::default(),
            other_guilds_retention: Arc::default(),
            audit_retention: Arc::default(),
            group,
            lock_pool,
            local_locks: Default::default(),
            hot,
        })
    }

    /// Waits until every write queued on SQLite's group commit is committed (or failed), for
    /// a write apart from the queue that must come after them (see `group.rs`).
    pub(crate) async fn settle(&self) -> Result<(), MemoryError> {
        match &self.group {
            Some(group) => group.settle().await,
            None => Ok(()),
        }
    }

    /// Says whether other processes write to this database too (several processes on one
    /// SQLite file, each running part of the shards). A SQLite store keeps preferences,
    /// disabled tools and live conversations in memory, which is right only while this process
    /// is the only writer; shared, it reads them from the database every time, as on
    /// PostgreSQL (which keeps nothing in memory anyway).
    ///
    /// Shared, the ids of new rows come from SQLite and a person's message is written before
    /// the model is asked (see `group.rs`); that stays so if the store is told afterwards that
    /// it no longer is.
    pub fn set_shared(&self, shared: bool) {
        if let Some(hot) = &self.hot {
            hot.set_off(shared);
        }
        if let (true, Some(group)) = (shared, &self.group) {
            group.stop_giving_ids();
        }
    }

    /// What is kept in memory: SQLite's, unless the database is shared (see
    /// [`set_shared`](Self::set_shared)).
    pub(crate) fn hot(&self) -> Option<&crate::hot::Hot> {
        self.hot.as_deref().filter(|hot| !hot.is_off())
    }

    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool's size and idle connections now, for metrics and status pages.
    pub fn pool_stats(&self) -> PoolStats {
        PoolStats {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    /// Whether the database answers a trivial query within `timeout` (readiness checks): the
    /// error says why not.
    pub async fn ping(&self, timeout: Duration) -> Result<(), MemoryError> {
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(timeout, query).await {
            Ok(result) => result.map(|_| ()).map_err(MemoryError::from),
            Err(_) => Err(MemoryError::Database(sqlx::Error::PoolTimedOut)),
        }
    }

    /// Closes every connection, waiting for statements in flight (SQLite checkpoints its WAL)
    /// and, first, for the writes queued on SQLite's group commit.
    pub async fn close(&self) {
        if let Err(error) = self.settle().await {
            tracing::warn!(%error, "writes queued at shutdown could not be committed");
        }
        if let Some(locks) = &self.lock_pool {
            locks.close().await;
        }
        self.pool.close().await;
    }
}

/// On PostgreSQL, the pool whose connections hold conversations' advisory locks (apart from the
/// query pool, so turns waiting in line take no query connection); opened lazily.
fn lock_pool(backend: Backend, options: &AnyConnectOptions) -> Option<AnyPool> {
    (backend == Backend::Postgres).then(|| {
        AnyPoolOptions::new()
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .max_connections(LOCK_CONNECTIONS)
            .min_connections(0)
            .idle_timeout(Some(Duration::from_secs(60)))
            .connect_lazy_with(options.clone())
    })
}

/// The pool's settings for `backend`. SQLite: WAL, a busy timeout, foreign keys and full
/// `synchronous` on every connection, no ping before a connection is used, and one connection
/// for an in-memory database (which lives as long as that connection).
fn pool_options(backend: Backend, in_memory: bool) -> AnyPoolOptions {
    let pool = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
    let sqlite = match backend {
        Backend::Postgres => return pool.max_connections(POSTGRES_CONNECTIONS),
        Backend::Sqlite if in_memory => pool
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None),
        Backend::Sqlite => pool.max_connections(SQLITE_CONNECTIONS),
    };
    // A connection to a file of this machine does not go stale the way a network one can: no
    // ping before each use (it cost a round trip to the connection's thread per query).
    sqlite.test_before_acquire(false).after_connect(|conn, _| {
        Box::pin(async move {
            // WAL is a property of the file: set once, it stays. The others are per connection
            // (sqlx sets them too; saying so keeps them certain).
            conn.execute("PRAGMA journal_mode = WAL").await?;
            conn.execute(format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}").as_str())
                .await?;
            conn.execute("PRAGMA foreign_keys = ON").await?;
            // Every commit reaches the disk: a turn shown as final survives a power cut too
            // (whatever default the bundled SQLite was built with).
            conn.execute("PRAGMA synchronous = FULL").await?;
            Ok(())
        })
    })
}

/// The driver's options for `url`, or why it cannot be used.
fn connect_options(url: &str) -> Result<AnyConnectOptions, MemoryError> {
    AnyConnectOptions::from_str(url).map_err(|error| MemoryError::InvalidUrl {
        url: redact(url),
        reason: error.to_string(),
    })
}

/// SQLite's group commit (giving ids from the largest the database gave) and what is kept in
/// memory (the live keys read).
async fn sqlite_writer(pool: &AnyPool) -> Result<(GroupCommit, Arc<Hot>), MemoryError> {
    let hot = Arc::new(Hot::default());
    hot.set_live_keys(live_keys(pool).await?);
    let counters = Counters::read(pool).await?;
    let group = GroupCommit::start(
        pool.clone(),
        sqlite_file(pool).await?,
        counters,
        hot.clone(),
    );
    Ok((group, hot))
}

/// The hashes of the keys with a live conversation (see `hot.rs`), read a page at a time.
async fn live_keys(pool: &AnyPool) -> Result<HashSet<u64>, MemoryError> {
    const PAGE: i64 = 10_000;
    let mut keys = HashSet::new();
    let mut after = 0_i64;
    loop {
        let page: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, key FROM conversations WHERE archived_at IS NULL AND id > $1 \
             ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        let Some((last, _)) = page.last() else {
            return Ok(keys);
        };
        after = *last;
        keys.extend(page.iter().map(|(_, key)| crate::hot::key_hash(key)));
    }
}

/// The file of a SQLite database (`None` in memory), as SQLite names it.
async fn sqlite_file(pool: &AnyPool) -> Result<Option<std::path::PathBuf>, MemoryError> {
    let file: Option<String> =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_optional(pool)
            .await?;
    Ok(file
        .filter(|file| !file.is_empty())
        .map(std::path::PathBuf::from))
}

/// How far a write must have reached when it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Durability {
    /// On the disk: survives a crash of the process and of the machine (SQLite
    /// `synchronous = FULL`: the WAL is synced at every commit).
    Full,
    /// With the operating system: survives a crash of the process, not a power cut (SQLite WAL
    /// with `synchronous = NORMAL`: no sync at commit). The next [`Full`](Self::Full) commit
    /// syncs the WAL, and with it every earlier commit. PostgreSQL writes are always full.
    Process,
}

/// A pooled connection for writes of a given [`Durability`]; [`finish`](Self::finish) puts
/// the connection back as it found it (full). One dropped without `finish` (an error, a
/// cancelled future) is closed instead of going back to the pool relaxed.
pub(crate) struct WriteConnection {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
    relaxed: bool,
}

impl WriteConnection {
    /// The connection.
    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        self.conn.as_mut().expect("present until finished")
    }

    /// Restores full durability on the connection and gives it back to the pool.
    pub(crate) async fn finish(mut self) -> Result<(), MemoryError> {
        if self.relaxed {
            self.conn().execute("PRAGMA synchronous = FULL").await?;
            self.relaxed = false;
        }
        drop(self.conn.take());
        Ok(())
    }
}

impl Drop for WriteConnection {
    fn drop(&mut self) {
        if self.relaxed
            && let Some(conn) = &mut self.conn
        {
            conn.close_on_drop();
        }
    }
}

impl Store {
    /// A connection whose commits have `durability`.
    pub(crate) async fn write_connection(
        &self,
        durability: Durability,
    ) -> Result<WriteConnection, MemoryError> {
        write_connection_on(&self.pool, durability).await
    }
}

/// A connection of `pool` whose commits have `durability` (relaxed only on SQLite).
pub(crate) async fn write_connection_on(
    pool: &AnyPool,
    durability: Durability,
) -> Result<WriteConnection, MemoryError> {
    let mut conn = pool.acquire().await?;
    let relaxed = durability == Durability::Process && conn.backend_name() == "SQLite";
    if relaxed {
        conn.execute("PRAGMA synchronous = NORMAL").await?;
    }
    Ok(WriteConnection {
        conn: Some(conn),
        relaxed,
    })
}

/// Whether PostgreSQL refused the connection because it was not encrypted (pg_hba.conf has only
/// `hostssl` lines for this client: "… no encryption"). A server that offers no TLS while the
/// URL requires it fails the handshake instead (see [`is_tls_failure`]).
fn needs_tls(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            let message = db.message();
            message.contains("no encryption")
        }
        _ => false,
    }
}

/// Whether the TLS handshake or the certificate check failed.
fn is_tls_failure(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Tls(_))
        || error
            .to_string()
            .to_ascii_lowercase()
            .contains("certificate")
}

fn is_sqlite_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// A SQLite URL with `mode=rwc` (create the file) unless it already says a mode.
fn create_if_missing(url: &str) -> String {
    match url.split_once('?') {
        Some((_, query)) if query.split('&').any(|pair| pair.starts_with("mode=")) => url.into(),
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    }
}

/// `url` with any password hidden, fit for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        // Not a URL we can take apart: hide it whole if it might carry a password.
        return if url.contains('@') || url.contains("password") {
            "(a URL that could not be parsed)".into()
        } else {
            url.into()
        };
    };
    if parsed.password().is_some() {
        // Cannot fail: the URL has a host, since it has a password.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(key, _)| key == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if key == "password" {
                    "***".into()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn level(conn: &mut sqlx::AnyConnection) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar::<_, i64>("PRAGMA synchronous")
            .fetch_one(conn)
            .await
    }

    #[tokio::test]
    async fn relaxed_writes_give_every_connection_back_full() {
        use crate::{ConversationKey, NewMessage, Scope};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/bot.sqlite", dir.path().display());
        let store = Store::connect(&url).await.unwrap();
        let mut writer = store.write_connection(Durability::Process).await.unwrap();
        assert_eq!(
            level(writer.conn()).await.unwrap(),
            1,
            "NORMAL while relaxed"
        );
        writer.finish().await.unwrap();
        let conversation = store
            .conversation(&ConversationKey::new("t"), Scope::default(), None)
            .await
            .unwrap();
        store
            .add_user_message(conversation.id, NewMessage::user("hi"))
            .await
            .unwrap();
        // One dropped half-way (an error, a cancelled turn) is closed, not given back relaxed.
        drop(store.write_connection(Durability::Process).await.unwrap());
        let mut all = Vec::new();
        for _ in 0..SQLITE_CONNECTIONS {
            all.push(store.pool.acquire().await.unwrap());
        }
        for conn in &mut all {
            assert_eq!(level(conn).await.unwrap(), 2, "FULL");
        }
        drop(all);
        let history = store.history(conversation.id, 10).await.unwrap();
        assert_eq!(history.len(), 1);
    }

    #[test]
    fn redaction_hides_passwords_only() {
        assert_eq!(
            redact("postgres://bot:hunter2@db:5432/mcpcord"),
            "postgres://bot:***@db:5432/mcpcord"
        );
        assert_eq!(
            redact("postgres://db/mcpcord?user=bot&password=hunter2"),
            "postgres://db/mcpcord?user=bot&password=***"
        );
        assert_eq!(
            redact("sqlite://mcpcord.sqlite?mode=rwc"),
            "sqlite://mcpcord.sqlite?mode=rwc"
        );
    }

    #[test]
    fn sqlite_urls_create_their_file_unless_told_otherwise() {
        assert_eq!(create_if_missing("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(
            create_if_missing("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            create_if_missing("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
    }

    #[test]
    fn unknown_schemes_are_refused_with_the_forms_that_work() {
        let error = Backend::of("mysql://root:pw@localhost/x").unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("sqlite://FILE") && !text.contains("pw@"),
            "{text}"
        );
    }
}
