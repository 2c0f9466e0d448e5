//! Storage errors, named by what the caller (or the operator) does next.

use sqlx::migrate::MigrateError;

/// What went wrong in the store.
///
/// Messages never contain a password; the underlying database error is the
/// [`source`](std::error::Error::source), printed with the error's chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// The storage URL is neither SQLite nor PostgreSQL, or cannot be parsed. Fix the setting.
    #[error("the storage URL {url} is not usable: {reason}")]
    InvalidUrl {
        /// The URL, password hidden.
        url: String,
        /// What is wrong with it, and the forms that work.
        reason: String,
    },
    /// The database cannot be opened or reached. The hint says what to check.
    #[error("cannot open the database at {url}: {hint}")]
    Connect {
        /// The URL, password hidden.
        url: String,
        /// What to check, for this kind of database.
        hint: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date: a migration failed, or the database was
    /// written by a newer mcpcord. Run that version, or restore a backup.
    #[error(
        "cannot bring the database schema up to date (if a newer mcpcord used this database, \
         run that version or restore a backup)"
    )]
    Migrate {
        /// The migrator's error.
        #[source]
        source: MigrateError,
    },
    /// The conversation or message does not exist (any more: retention may have removed it).
    #[error("{what} {id} does not exist")]
    NotFound {
        /// `"conversation"` or `"message"`.
        what: &'static str,
        /// Its id.
        id: i64,
    },
    /// A stored value cannot be read back: the database was edited by hand or is damaged.
    #[error("the database holds a value this version cannot read: {detail}")]
    Corrupt {
        /// Which value, and why.
        detail: String,
    },
    /// The database refused or failed a statement (connection lost, disk full, timeout…).
    /// Retrying later may work.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A conversation started with a person's message could not be stored: its key got
    /// another live conversation at the same moment (a `/new`, or another process writing to
    /// this SQLite file). Sending the message again works; several processes on one SQLite
    /// file each need `discord.shard_ids` set.
    #[error(
        "the conversation {key} could not be started: it got another one at the same moment          (a /new, or another process writing to this SQLite file); send the message again"
    )]
    Conflict {
        /// The conversation's key.
        key: String,
    },
    /// The transaction this write shared with others (SQLite's group commit) failed.
    #[error("the database could not commit a batch of writes")]
    GroupCommit {
        /// Why the batch failed; every write in it gets the same.
        #[source]
        source: std::sync::Arc<MemoryError>,
    },
}
