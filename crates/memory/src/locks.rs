//! Conversation locks: the turns of one conversation run one at a time, in order, even when
//! several bot processes (Discord shards split across processes) share one PostgreSQL database.
//!
//! PostgreSQL: a session advisory lock (`pg_advisory_lock`) on a key derived from the
//! conversation key, held on a connection of a small pool of its own (so that turns waiting in
//! line never take the connections their queries need). PostgreSQL queues waiters in order, so
//! turns keep the order they asked in; a process that dies loses its session and with it the
//! lock. SQLite is one process's database: an in-process lock per conversation is enough.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool};

use crate::MemoryError;
use crate::ids::ConversationKey;
use crate::store::Store;

/// Held while a turn of a conversation runs: dropping it lets the next turn in.
#[must_use = "the lock is released when this is dropped"]
pub struct ConversationLock {
    held: Held,
}

impl std::fmt::Debug for ConversationLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationLock")
            .field("kind", &self.held.kind())
            .finish()
    }
}

/// A lock held: in this process (SQLite), or a session advisory lock on a connection of the
/// lock pool (PostgreSQL), released when dropped.
pub(crate) enum Held {
    Local(#[allow(dead_code)] tokio::sync::OwnedMutexGuard<()>),
    Postgres {
        conn: Option<PoolConnection<Any>>,
        id: i64,
    },
}

impl Drop for Held {
    fn drop(&mut self) {
        let Held::Postgres { conn, id } = self else {
            return;
        };
        let Some(mut conn) = conn.take() else {
            return;
        };
        let id = *id;
        let unlock = async move {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(id)
                .execute(&mut *conn)
                .await;
            if let Err(error) = unlocked {
                // Closing the session releases every lock it holds.
                tracing::warn!(%error, "cannot release an advisory lock; closing its connection");
                let _ = conn.close().await;
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(unlock);
            }
            // No runtime left: the connection is dropped, and its session ends with the process.
            Err(_) => drop(unlock),
        }
    }
}

impl Held {
    /// What kind of lock this is, for `Debug`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Held::Local(_) => "local",
            Held::Postgres { .. } => "postgres advisory",
        }
    }
}

/// In-process locks by conversation (SQLite); entries nobody holds are forgotten.
#[derive(Clone, Debug, Default)]
pub(crate) struct LocalLocks(Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>);

impl LocalLocks {
    fn get(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry(key.to_owned()).or_default().clone()
    }
}

/// The advisory lock id of a conversation: a stable 64-bit hash (FNV-1a) of its key, the same
/// in every process and version.
pub fn advisory_id(key: &ConversationKey) -> i64 {
    hashed_id(b"mcpcord/conversation/", key.as_str())
}

/// A stable 64-bit hash (FNV-1a) of `prefix` and `name`: an advisory lock id.
pub(crate) fn hashed_id(prefix: &[u8], name: &str) -> i64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = prefix
        .iter()
        .chain(name.as_bytes())
        .fold(OFFSET, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
        });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

impl Store {
    /// Waits until no other turn of conversation `key` runs, in this process or (PostgreSQL) in
    /// any process sharing the database, and holds that until the lock is dropped.
    pub async fn conversation_lock(
        &self,
        key: &ConversationKey,
    ) -> Result<ConversationLock, MemoryError> {
        let held = self.hold(key.as_str(), advisory_id(key)).await?;
        Ok(ConversationLock { held })
    }

    /// Waits for the lock named `local` in this process (SQLite) or the advisory lock `id` on
    /// the server (PostgreSQL), and holds it until the result is dropped.
    pub(crate) async fn hold(&self, local: &str, id: i64) -> Result<Held, MemoryError> {
        Ok(match &self.lock_pool {
            Some(pool) => postgres_lock(pool, id).await?,
            None => Held::Local(self.local_locks.get(local).lock_owned().await),
        })
    }
}

async fn postgres_lock(pool: &AnyPool, id: i64) -> Result<Held, MemoryError> {
    let mut conn = pool.acquire().await?;
    // `pg_advisory_lock` returns void, which the `Any` driver cannot decode: select a constant.
    sqlx::query("SELECT 1 AS locked FROM pg_advisory_lock($1)")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(Held::Postgres {
        conn: Some(conn),
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advisory_ids_are_stable_and_differ_by_conversation() {
        let a = ConversationKey::new("discord:channel:1");
        let b = ConversationKey::new("discord:channel:2");
        assert_eq!(advisory_id(&a), advisory_id(&a.clone()));
        assert_ne!(advisory_id(&a), advisory_id(&b));
    }
}
