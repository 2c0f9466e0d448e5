//! A database for one test on either backend: a SQLite file, or a schema of its own on the
//! local PostgreSQL (`TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`),
//! dropped at the end even when the test fails.

use mcpcord_memory::Store;
use sqlx::Connection;

/// Declares a `sqlite` and a `postgres` test running the async fn `$test(db: Db)`.
#[macro_export]
macro_rules! on_both_databases {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$test($crate::common::db::Db::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$test($crate::common::db::Db::postgres().await).await;
            }
        }
    )*};
}

/// One test's database.
pub struct Db {
    url: String,
    /// The SQLite file's folder (an empty one for PostgreSQL).
    pub dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl Db {
    /// A SQLite file in a temporary folder.
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        Db {
            url: format!("sqlite://{}/engine.sqlite", dir.path().display()),
            dir: Some(dir),
            schema: None,
        }
    }

    /// A fresh schema on the test PostgreSQL server.
    pub async fn postgres() -> Db {
        let server = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("mcpcord_engine_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&server)
            .await
            .expect("these tests need PostgreSQL on 127.0.0.1:5432 (or TEST_DATABASE_URL)");
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.ok();
        let separator = if server.contains('?') { '&' } else { '?' };
        Db {
            url: format!("{server}{separator}options[search_path]={name}"),
            dir: None,
            schema: Some((server, name)),
        }
    }

    /// The URL a store opens this database with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A store on this database.
    pub async fn store(&self) -> Store {
        Store::connect(&self.url).await.unwrap()
    }

    /// A folder that lives as long as the test (the SQLite file's, or a new empty one).
    pub fn folder(&mut self) -> tempfile::TempDir {
        self.dir
            .take()
            .unwrap_or_else(|| tempfile::tempdir().unwrap())
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let Some((server, name)) = self.schema.take() else {
            return;
        };
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&server).await?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
    }
}
