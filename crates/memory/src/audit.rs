//! The audit log: what admins changed, every tool call, every refusal, data-rights requests and
//! configuration reloads, with who did it, whom it was about and where.
//!
//! Append-only from the bot's side: [`Store::append_audit`] adds entries and
//! [`Store::prune_audit`] removes those older than the audit retention; nothing changes or
//! deletes a single entry. Entries are read newest first through [`Store::audit`].

use std::fmt;
use std::time::SystemTime;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::{GuildId, MemoryError, Store, UserId, db};

/// What kind of event an audit entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuditKind {
    /// An admin changed something (tools, system prompt, model settings, retention…).
    AdminAction,
    /// The engine called an MCP tool.
    ToolCall,
    /// The bot refused someone (permission, rate, budget, content policy, server not served).
    Refusal,
    /// A person asked for their data, or for it to be forgotten.
    DataRights,
    /// The configuration was reloaded.
    Reload,
}

impl AuditKind {
    /// Every kind, in a stable order (for choices and help texts).
    pub const ALL: [AuditKind; 5] = [
        AuditKind::AdminAction,
        AuditKind::ToolCall,
        AuditKind::Refusal,
        AuditKind::DataRights,
        AuditKind::Reload,
    ];

    /// The kind as stored and shown: `admin_action`, `tool_call`, `refusal`, `data_rights`,
    /// `reload`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::AdminAction => "admin_action",
            AuditKind::ToolCall => "tool_call",
            AuditKind::Refusal => "refusal",
            AuditKind::DataRights => "data_rights",
            AuditKind::Reload => "reload",
        }
    }

    /// The kind named `name` (as [`as_str`](Self::as_str) writes it), if there is one.
    pub fn parse(name: &str) -> Option<AuditKind> {
        AuditKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing to record. Build it with a constructor per kind, then add what else is known:
/// `AuditEntry::refusal(Some(user), guild, "rate_limited").with_detail("command", "ask")`.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// When it happened (the constructors take the time now; [`at`](Self::at) sets another).
    pub at: SystemTime,
    /// The guild it happened in, if any.
    pub guild_id: Option<GuildId>,
    /// Who did it (or was refused, or asked for the tool call); `None` for the operator or
    /// the bot itself.
    pub actor_id: Option<UserId>,
    /// Whom it is about, when that is someone else than the actor (a data-rights request made
    /// for another person, an approval given on someone's behalf).
    pub subject_id: Option<UserId>,
    /// The kind of event.
    pub kind: AuditKind,
    /// What happened, within the kind: `tool.disable`, `blocked`, `export`, the tool's name…
    pub action: String,
    /// Everything else worth keeping, as a JSON object (never a secret, never a tool call's
    /// arguments: their digest).
    pub detail: Map<String, Value>,
}

impl AuditEntry {
    /// An entry of `kind` for `action`, now, with no detail yet.
    pub fn new(kind: AuditKind, action: impl Into<String>) -> Self {
        Self {
            at: SystemTime::now(),
            guild_id: None,
            actor_id: None,
            subject_id: None,
            kind,
            action: action.into(),
            detail: Map::new(),
        }
    }

    /// An admin's change: `action` such as `tool.disable`, `system_prompt.set`,
    /// `preference.set`; `detail` what changed (a JSON object; anything else is kept under
    /// `value`).
    pub fn admin(
        actor: Option<UserId>,
        guild: Option<GuildId>,
        action: impl Into<String>,
        detail: Value,
    ) -> Self {
        Self::new(AuditKind::AdminAction, action)
            .by(actor)
            .in_guild(guild)
            .with_details(detail)
    }

    /// A tool call asked for by `actor`'s turn: `server`'s `tool`, with the SHA-256 digest of
    /// its `arguments` (never the arguments themselves). Add the approval and the outcome with
    /// [`with_detail`](Self::with_detail).
    pub fn tool_call(
        actor: Option<UserId>,
        guild: Option<GuildId>,
        server: &str,
        tool: &str,
        arguments: &Value,
    ) -> Self {
        Self::new(AuditKind::ToolCall, format!("{server}/{tool}"))
            .by(actor)
            .in_guild(guild)
            .with_detail("server", server)
            .with_detail("tool", tool)
            .with_detail("arguments_sha256", arguments_digest(arguments))
    }

    /// A refusal of `actor` for `reason`, a short code such as `blocked`, `rate_limited`,
    /// `server_not_served`, `admin_only`, `budget`, `content_policy`.
    pub fn refusal(
        actor: Option<UserId>,
        guild: Option<GuildId>,
        reason: impl Into<String>,
    ) -> Self {
        Self::new(AuditKind::Refusal, reason)
            .by(actor)
            .in_guild(guild)
    }

    /// A data-rights request (`action`: `export`, `forget`) made by `actor` about `subject`.
    pub fn data_rights(
        actor: Option<UserId>,
        guild: Option<GuildId>,
        subject: UserId,
        action: impl Into<String>,
    ) -> Self {
        Self::new(AuditKind::DataRights, action)
            .by(actor)
            .in_guild(guild)
            .about(Some(subject))
    }

    /// A configuration reload (`action`: `applied` or `rejected`); `actor` when a person asked
    /// for it, `None` for a signal or the file watcher.
    pub fn reload(actor: Option<UserId>, action: impl Into<String>, detail: Value) -> Self {
        Self::new(AuditKind::Reload, action)
            .by(actor)
            .with_details(detail)
    }

    /// The same entry, at `at`.
    #[must_use]
    pub fn at(mut self, at: SystemTime) -> Self {
        self.at = at;
        self
    }

    /// The same entry, done by `actor`.
    #[must_use]
    pub fn by(mut self, actor: Option<UserId>) -> Self {
        self.actor_id = actor;
        self
    }

    /// The same entry, in `guild`.
    #[must_use]
    pub fn in_guild(mut self, guild: Option<GuildId>) -> Self {
        self.guild_id = guild;
        self
    }

    /// The same entry, about `subject`.
    #[must_use]
    pub fn about(mut self, subject: Option<UserId>) -> Self {
        self.subject_id = subject;
        self
    }

    /// The same entry with `key` set to `value` in its detail.
    #[must_use]
    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }

    /// The same entry with every field of `detail` (a JSON object) in its detail; any other
    /// JSON value (not null) is kept under `value`.
    #[must_use]
    pub fn with_details(mut self, detail: Value) -> Self {
        match detail {
            Value::Object(fields) => self.detail.extend(fields),
            Value::Null => {}
            other => {
                self.detail.insert("value".into(), other);
            }
        }
        self
    }
}

/// The SHA-256 digest of a tool call's arguments, in lowercase hex, over their compact JSON
/// text (keys in the order the model wrote them).
pub fn arguments_digest(arguments: &Value) -> String {
    let digest = Sha256::digest(arguments.to_string().as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A recorded entry, as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    /// Its id; ids grow in the order entries were written.
    pub id: i64,
    /// What was recorded.
    pub entry: AuditEntry,
}

impl AuditRecord {
    /// The record as one JSON object (the form `mcpcord audit export` writes, one a line):
    /// ids as strings (JavaScript readers lose precision on snowflakes), `at` in RFC 3339.
    pub fn to_json(&self) -> Value {
        let entry = &self.entry;
        let id = |id: Option<u64>| id.map_or(Value::Null, |id| Value::String(id.to_string()));
        json!({
            "id": self.id,
            "at": humantime::format_rfc3339_millis(entry.at).to_string(),
            "kind": entry.kind.as_str(),
            "action": entry.action,
            "guild_id": id(entry.guild_id.map(GuildId::get)),
            "actor_id": id(entry.actor_id.map(UserId::get)),
            "subject_id": id(entry.subject_id.map(UserId::get)),
            "detail": Value::Object(entry.detail.clone()),
        })
    }
}

/// Which entries [`Store::audit`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only entries this person did or that are about them.
    pub user: Option<UserId>,
    /// Only entries in this guild.
    pub guild: Option<GuildId>,
    /// Only entries of this kind.
    pub kind: Option<AuditKind>,
    /// Only entries at or after this time.
    pub since: Option<SystemTime>,
    /// At most this many entries (`None`: all).
    pub limit: Option<usize>,
    /// Oldest first (an export) instead of newest first (a look at what just happened).
    pub oldest_first: bool,
}

type Row = (
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    String,
    String,
    String,
);

impl Store {
    /// Records `entry`.
    pub async fn append_audit(&self, entry: &AuditEntry) -> Result<(), MemoryError> {
        self.append_audits(std::slice::from_ref(entry)).await
    }

    /// Records `entries` in one transaction (all or none).
    pub async fn append_audits(&self, entries: &[AuditEntry]) -> Result<(), MemoryError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for entry in entries {
            sqlx::query(
                "INSERT INTO audit_log (at, guild_id, actor_id, subject_id, kind, action, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(db::millis(entry.at))
            .bind(db::opt_id(entry.guild_id))
            .bind(db::opt_id(entry.actor_id))
            .bind(db::opt_id(entry.subject_id))
            .bind(entry.kind.as_str())
            .bind(&entry.action)
            .bind(Value::Object(entry.detail.clone()).to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The entries `filter` selects, newest first (oldest first if it says so).
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, MemoryError> {
        let (sql, values) = select(filter);
        let mut query = sqlx::query_as::<_, Row>(&sql);
        for value in values {
            query = match value {
                Param::Int(v) => query.bind(v),
                Param::Text(v) => query.bind(v),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.into_iter().map(record).collect()
    }

    /// Deletes the entries recorded before `before` (the audit retention); how many went.
    pub async fn prune_audit(&self, before: SystemTime) -> Result<u64, MemoryError> {
        let deleted = sqlx::query("DELETE FROM audit_log WHERE at < $1")
            .bind(db::millis(before))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted)
    }
}

/// A value bound to a filter's placeholder.
enum Param {
    Int(i64),
    Text(&'static str),
}

/// The statement reading what `filter` selects, with the values of its placeholders.
fn select(filter: &AuditFilter) -> (String, Vec<Param>) {
    let (conditions, mut values) = conditions(filter);
    let mut sql = String::from(
        "SELECT id, at, guild_id, actor_id, subject_id, kind, action, detail FROM audit_log",
    );
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    let order = if filter.oldest_first { "ASC" } else { "DESC" };
    sql.push_str(&format!(" ORDER BY at {order}, id {order}"));
    if let Some(limit) = filter.limit {
        values.push(Param::Int(db::count(limit as u64)));
        sql.push_str(&format!(" LIMIT ${}", values.len()));
    }
    (sql, values)
}

/// The `WHERE` conditions of `filter` (placeholders numbered from 1), with their values.
fn conditions(filter: &AuditFilter) -> (Vec<String>, Vec<Param>) {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    let mut add = |param: Param, condition: &dyn Fn(usize) -> String| {
        values.push(param);
        conditions.push(condition(values.len()));
    };
    if let Some(user) = filter.user {
        add(Param::Int(db::id(user)), &|n| {
            format!("(actor_id = ${n} OR subject_id = ${n})")
        });
    }
    if let Some(guild) = filter.guild {
        add(Param::Int(db::id(guild)), &|n| format!("guild_id = ${n}"));
    }
    if let Some(kind) = filter.kind {
        add(Param::Text(kind.as_str()), &|n| format!("kind = ${n}"));
    }
    if let Some(since) = filter.since {
        add(Param::Int(db::millis(since)), &|n| format!("at >= ${n}"));
    }
    (conditions, values)
}

/// A stored row, back as a record.
fn record(row: Row) -> Result<AuditRecord, MemoryError> {
    let (id, at, guild, actor, subject, kind, action, detail) = row;
    let kind = AuditKind::parse(&kind).ok_or_else(|| MemoryError::Corrupt {
        detail: format!("audit_log.kind {kind:?} is not a known kind"),
    })?;
    let detail = match db::stored_json(Some(detail), "audit_log.detail")? {
        Some(Value::Object(fields)) => fields,
        _ => {
            return Err(MemoryError::Corrupt {
                detail: format!("audit_log.detail of entry {id} is not a JSON object"),
            });
        }
    };
    Ok(AuditRecord {
        id,
        entry: AuditEntry {
            at: db::time(at),
            guild_id: db::opt_discord_id(guild),
            actor_id: db::opt_discord_id(actor),
            subject_id: db::opt_discord_id(subject),
            kind,
            action,
            detail,
        },
    })
}

#[cfg(test)]
mod tests;
