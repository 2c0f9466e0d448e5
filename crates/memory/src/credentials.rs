//! Logins to remote MCP servers (OAuth tokens), as sealed rows: the binary seals them with
//! `MCPCORD_SECRET_KEY` before they reach this crate and opens them after, so the store (and the
//! database) only ever hold what the caller sealed, never a token in clear.
//!
//! One row per configured server name; a save replaces the row in one statement (an upsert), so
//! a crash leaves the old login or the new one, never half of either. The refresh lock
//! ([`Store::lock_mcp_refresh`]) keeps two processes sharing a PostgreSQL database from both
//! spending one rotating refresh token. Logins belong to the operator, not to a person:
//! `mcpcord privacy` and forget do not touch them.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::locks::{Held, hashed_id};
use crate::{MemoryError, Store};

/// A server's login as stored: sealed by the caller, with what may be known without opening it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedCredentials {
    /// The configured server name (the row's key).
    pub server: String,
    /// The MCP URL the login is for (a changed URL means a new login).
    pub resource: String,
    /// Which secret key sealed it (the binary's key id), so a changed key is told apart from
    /// damage.
    pub key_id: String,
    /// The sealed login, as the caller gave it.
    pub sealed: Vec<u8>,
    /// When the access token expires, unix seconds (shown by `mcpcord check` without the key).
    pub expires_at: Option<u64>,
    /// When the row was last written, unix seconds (set by the store on save).
    pub updated_at: u64,
}

impl fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedCredentials")
            .field("server", &self.server)
            .field("resource", &self.resource)
            .field("key_id", &self.key_id)
            .field("sealed", &format_args!("[{} bytes]", self.sealed.len()))
            .field("expires_at", &self.expires_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// Held while one process refreshes a server's tokens: dropping it lets the next one in.
#[must_use = "the lock is released when this is dropped"]
pub struct RefreshLock {
    held: Held,
}

impl fmt::Debug for RefreshLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshLock")
            .field("kind", &self.held.kind())
            .finish()
    }
}

/// A row as read: server, resource, key id, sealed, expires_at, updated_at.
type Row = (String, String, String, Vec<u8>, Option<i64>, i64);

/// Unix seconds as stored (saturating).
fn stored_secs(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// Stored unix seconds back (negative values, never written, read as 0).
fn secs(stored: i64) -> u64 {
    u64::try_from(stored).unwrap_or(0)
}

/// The time now in unix seconds.
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

impl From<Row> for SealedCredentials {
    fn from(row: Row) -> Self {
        let (server, resource, key_id, sealed, expires_at, updated_at) = row;
        SealedCredentials {
            server,
            resource,
            key_id,
            sealed,
            expires_at: expires_at.map(secs),
            updated_at: secs(updated_at),
        }
    }
}

impl Store {
    /// The sealed login of `server`, if one is stored.
    pub async fn load_mcp_credentials(
        &self,
        server: &str,
    ) -> Result<Option<SealedCredentials>, MemoryError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT server, resource, key_id, sealed, expires_at, updated_at \
             FROM mcp_credentials WHERE server = $1",
        )
        .bind(server)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(SealedCredentials::from))
    }

    /// Stores `row` as the login of `row.server`, replacing any other in one statement;
    /// `updated_at` is set to now. Returns the row as stored.
    pub async fn save_mcp_credentials(
        &self,
        mut row: SealedCredentials,
    ) -> Result<SealedCredentials, MemoryError> {
        row.updated_at = now_secs();
        sqlx::query(
            "INSERT INTO mcp_credentials \
             (server, resource, key_id, sealed, expires_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (server) DO UPDATE SET resource = excluded.resource, \
             key_id = excluded.key_id, sealed = excluded.sealed, \
             expires_at = excluded.expires_at, updated_at = excluded.updated_at",
        )
        .bind(&row.server)
        .bind(&row.resource)
        .bind(&row.key_id)
        .bind(&row.sealed)
        .bind(row.expires_at.map(stored_secs))
        .bind(stored_secs(row.updated_at))
        .execute(&self.pool)
        .await?;
        Ok(row)
    }

    /// Forgets the login of `server`; says whether there was one.
    pub async fn delete_mcp_credentials(&self, server: &str) -> Result<bool, MemoryError> {
        let done = sqlx::query("DELETE FROM mcp_credentials WHERE server = $1")
            .bind(server)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Waits until no other refresh of `server`'s tokens runs, in this process or (PostgreSQL)
    /// in any process sharing the database, and holds that until the lock is dropped. After
    /// getting it, read the row again: another holder may have refreshed already.
    pub async fn lock_mcp_refresh(&self, server: &str) -> Result<RefreshLock, MemoryError> {
        // Conversation keys never start with a NUL: the two kinds of local lock stay apart.
        let local = format!("\0mcp-refresh\0{server}");
        let held = self
            .hold(&local, hashed_id(b"mcpcord/mcp-refresh/", server))
            .await?;
        Ok(RefreshLock { held })
    }
}
