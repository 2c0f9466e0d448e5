//! The writing task's connection.
//!
//! On a database file it is one of its own, taken out of the pool once and relaxed for good
//! (`synchronous = NORMAL`: the syncing task makes durable what must be): each batch saves the
//! two statements, each a round trip to the connection's thread, of relaxing a pooled
//! connection and putting it back as it was. An in-memory database has one connection only,
//! the pool's, which readers need too: each batch borrows it.

use sqlx::{AnyConnection, AnyPool, Executor};

use crate::MemoryError;
use crate::store::{Durability, WriteConnection, write_connection_on};

/// Where the writing task's batches get their connection.
pub(super) struct Writer {
    pool: AnyPool,
    /// Whether the task keeps a connection of its own (a database file).
    own: bool,
    /// That connection, between two batches.
    kept: Option<AnyConnection>,
}

/// A connection for one batch; [`Writer::give_back`] once its transaction is committed.
/// Dropped instead (a failure), it is closed: the next batch starts on a new one.
pub(super) enum Held {
    Own(AnyConnection),
    Pooled(WriteConnection),
}

impl Held {
    /// The connection.
    pub(super) fn conn(&mut self) -> &mut AnyConnection {
        match self {
            Self::Own(conn) => conn,
            Self::Pooled(writer) => writer.conn(),
        }
    }
}

impl Writer {
    /// Batches on `pool`; with a connection of their own when `own` (a database file).
    pub(super) fn new(pool: AnyPool, own: bool) -> Self {
        Self {
            pool,
            own,
            kept: None,
        }
    }

    /// A relaxed connection for the next batch.
    pub(super) async fn take(&mut self) -> Result<Held, MemoryError> {
        if !self.own {
            return Ok(Held::Pooled(
                write_connection_on(&self.pool, Durability::Process).await?,
            ));
        }
        if let Some(conn) = self.kept.take() {
            return Ok(Held::Own(conn));
        }
        // Out of the pool for good: the pool may open another in its place.
        let mut conn = self.pool.acquire().await?.detach();
        conn.execute("PRAGMA synchronous = NORMAL").await?;
        Ok(Held::Own(conn))
    }

    /// Takes back the connection of a batch that committed.
    pub(super) async fn give_back(&mut self, held: Held) -> Result<(), MemoryError> {
        match held {
            Held::Own(conn) => {
                self.kept = Some(conn);
                Ok(())
            }
            Held::Pooled(writer) => writer.finish().await,
        }
    }
}
