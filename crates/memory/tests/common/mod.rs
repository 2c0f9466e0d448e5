//! Test databases: a SQLite file in a temporary folder, or a private schema on the PostgreSQL
//! server of the machine (`TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`),
//! dropped when the test ends, even when it fails.

#![allow(dead_code, unused_macros)] // each test file uses part of this module

use std::future::Future;

use mcpcord_memory::Store;
use sqlx::Connection;

/// The PostgreSQL server tests use unless `TEST_DATABASE_URL` says otherwise.
pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which database a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// An empty database for one test.
pub struct TestDb {
    pub kind: Kind,
    url: String,
    _dir: Option<tempfile::TempDir>,
    schema: Option<Schema>,
}

impl TestDb {
    pub async fn new(kind: Kind) -> TestDb {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let url = format!("sqlite://{}", dir.path().join("mcpcord.sqlite").display());
                TestDb {
                    kind,
                    url,
                    _dir: Some(dir),
                    schema: None,
                }
            }
            Kind::Postgres => {
                let server = postgres_url();
                let name = format!("mcpcord_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = admin(&server).await;
                sqlx::query(&format!("CREATE SCHEMA {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("create a test schema");
                admin.close().await.ok();
                let separator = if server.contains('?') { '&' } else { '?' };
                let url = format!("{server}{separator}options[search_path]={name}");
                TestDb {
                    kind,
                    url,
                    _dir: None,
                    schema: Some(Schema { server, name }),
                }
            }
        }
    }

    /// The URL `Store::connect` opens this database with.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn connect(&self) -> Store {
        Store::connect(&self.url)
            .await
            .unwrap_or_else(|error| panic!("connect to {}: {}", self.url, chain(&error)))
    }
}

/// Runs `test` against a fresh database of `kind`.
pub async fn run<F, Fut>(kind: Kind, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    test(TestDb::new(kind).await).await;
}

/// An error with its causes, on one line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

pub fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

async fn admin(server: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(server)
        .await
        .unwrap_or_else(|error| {
            panic!(
                "cannot reach PostgreSQL at {server}: {error}\n\
             These tests need a real PostgreSQL server: start one on 127.0.0.1:5432 with trust \
             authentication and a database named `test` (user postgres), or set \
             TEST_DATABASE_URL=postgres://USER[:PASSWORD]@HOST:PORT/DATABASE to a server you \
             may create schemas in."
            )
        })
}

/// A test's schema, dropped with everything in it when the test ends.
struct Schema {
    server: String,
    name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime (and maybe while panicking): do the async work
        // on a thread of its own.
        let server = self.server.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&server).await?;
                sqlx::query(&sql).execute(&mut admin).await?;
                admin.close().await
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop test schema {}: {error}", self.name);
        }
    }
}

/// Declares `sqlite` and `postgres` tests in a module named after `$test`, each running the
/// async fn `$test(db: TestDb)` against its own fresh database.
macro_rules! on_both {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::run($crate::common::Kind::Sqlite, super::$test).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::common::run($crate::common::Kind::Postgres, super::$test).await;
            }
        }
    )*};
}

/// Seeds a conversation: under `key` (created with `scope` and `user` as owner if new), `user`
/// says `text`, then the model's `answers` follow as one turn. Returns the conversation.
pub async fn talk(
    store: &Store,
    key: &str,
    scope: mcpcord_memory::Scope,
    user: mcpcord_memory::UserId,
    text: &str,
    answers: &[&str],
) -> mcpcord_memory::ConversationId {
    use mcpcord_memory::{ConversationKey, NewMessage};
    let conversation = store
        .conversation(&ConversationKey::new(key), scope, Some(user))
        .await
        .unwrap();
    store
        .add_user_message(
            conversation.id,
            NewMessage::user(text).with_author(user, "someone"),
        )
        .await
        .unwrap();
    if !answers.is_empty() {
        let turn = answers.iter().map(|a| NewMessage::assistant(*a)).collect();
        store.commit_turn(conversation.id, turn).await.unwrap();
    }
    conversation.id
}

/// The scope of a message `user` sends in `channel` of `guild`.
pub fn in_guild(
    guild: mcpcord_memory::GuildId,
    channel: mcpcord_memory::ChannelId,
    user: mcpcord_memory::UserId,
) -> mcpcord_memory::Scope {
    mcpcord_memory::Scope {
        guild_id: Some(guild),
        channel_id: Some(channel),
        user_id: Some(user),
    }
}

/// The scope of `user`'s DM with the bot (a channel id derived from theirs).
pub fn dm(user: mcpcord_memory::UserId) -> mcpcord_memory::Scope {
    mcpcord_memory::Scope {
        guild_id: None,
        channel_id: Some(mcpcord_memory::ChannelId::new(user.get() ^ 0xff)),
        user_id: Some(user),
    }
}
