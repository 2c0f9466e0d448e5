//! Keyword search: SQLite FTS5 (bm25) or PostgreSQL `tsvector` (`ts_rank`), within a
//! [`SearchScope`], ranked by relevance weighed with recency.
//!
//! The query's words are AND-ed first (fast on both indexes, and what a person means by a few
//! words); when that finds nothing, any of them will do. The index ranks the newest `RANKED`
//! matches in scope by relevance and returns its best `CANDIDATES`; each scores
//! `1 / (k + rank)` (reciprocal rank, like [`fuse`]) times a recency factor between ½ and 1
//! (`½ + ½ · recency_weight`), so among equally relevant messages the newest comes first while
//! an old, far better match still beats a new, poor one.

use std::time::{Duration, SystemTime};

use super::fusion::{DEFAULT_HALF_LIFE, DEFAULT_RRF_K, recency_weight};
use super::params::Params;
use super::scope::{Cutoffs, SearchScope};
use super::snippet::{snippet, terms};
use crate::{
    Author, Backend, ChannelId, ConversationId, GuildId, MemoryError, MessageId, PostId, Role,
    Store, db,
};

#[allow(unused_imports)] // for the docs
use super::fusion::fuse;

/// How many hits a search returns unless told otherwise.
pub const DEFAULT_LIMIT: usize = 10;
/// The most hits a search returns.
pub const MAX_LIMIT: usize = 100;
/// How many of the index's best matches are re-ranked with recency, at least.
const CANDIDATES: usize = 50;
/// How long a snippet is, in characters.
const SNIPPET_CHARS: usize = 160;

/// A keyword search: words, within a scope.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchQuery {
    /// What the person typed: its words are looked for (operators and punctuation are not
    /// interpreted).
    pub text: String,
    /// What may be found.
    pub scope: SearchScope,
    /// How many hits to return (at most [`MAX_LIMIT`]).
    pub limit: usize,
    /// How fast a message's recency bonus fades.
    pub half_life: Duration,
}

impl SearchQuery {
    /// A search for `text` within `scope`, [`DEFAULT_LIMIT`] hits, default half-life.
    pub fn new(text: impl Into<String>, scope: SearchScope) -> Self {
        Self {
            text: text.into(),
            scope,
            limit: DEFAULT_LIMIT,
            half_life: DEFAULT_HALF_LIFE,
        }
    }

    /// With at most `limit` hits.
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// One message found.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchHit {
    /// The message.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// A person's message or the model's answer.
    pub role: Role,
    /// Who wrote it (for a person's message).
    pub author: Option<Author>,
    /// Its whole text.
    pub content: String,
    /// The part of its text around the first word found, on one line.
    pub snippet: String,
    /// When it was written.
    pub created_at: SystemTime,
    /// The guild of its conversation (`None`: a DM or the terminal).
    pub guild_id: Option<GuildId>,
    /// The channel or thread of its conversation.
    pub channel_id: Option<ChannelId>,
    /// The (first) Discord message that shows it, when recorded: for a jump link.
    pub discord_message_id: Option<PostId>,
    /// Relevance with recency; higher is better (only comparable within one search).
    pub score: f64,
}

#[derive(sqlx::FromRow)]
struct HitRow {
    id: i64,
    conversation_id: i64,
    role: String,
    author_id: Option<i64>,
    author_name: Option<String>,
    content: String,
    created_at: i64,
    guild_id: Option<i64>,
    channel_id: Option<i64>,
    discord_message_id: Option<i64>,
}

/// What a hit reads of a message `m` and its conversation `c`.
const HIT_COLUMNS: &str = "m.id, m.conversation_id, m.role, m.author_id, m.author_name, \
     m.content, m.created_at, c.guild_id, c.channel_id, \
     (SELECT d.discord_message_id FROM message_discord_ids d WHERE d.message_id = m.id \
      ORDER BY d.position LIMIT 1) AS discord_message_id";

/// How the words are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Combine {
    All,
    Any,
}

impl Store {
    /// The messages matching `query`'s words within its scope, best first (see the module's
    /// documentation for the ranking). Empty when the query has no words.
    pub async fn keyword_search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, MemoryError> {
        let terms = terms(&query.text);
        if terms.is_empty() || query.limit == 0 {
            return Ok(Vec::new());
        }
        let limit = query.limit.min(MAX_LIMIT);
        let candidates = (limit * 4).max(CANDIDATES);
        let mut rows = self
            .keyword_rows(query, &terms, Combine::All, candidates)
            .await?;
        if rows.is_empty() && terms.len() > 1 {
            rows = self
                .keyword_rows(query, &terms, Combine::Any, candidates)
                .await?;
        }
        let now = SystemTime::now();
        let mut hits = rows
            .into_iter()
            .enumerate()
            .map(|(index, row)| hit(row, index, &terms, now, query.half_life))
            .collect::<Result<Vec<_>, _>>()?;
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(limit);
        Ok(hits)
    }

    /// The index's best `candidates` matches in scope, best first.
    async fn keyword_rows(
        &self,
        query: &SearchQuery,
        terms: &[String],
        combine: Combine,
        candidates: usize,
    ) -> Result<Vec<HitRow>, MemoryError> {
        let mut params = Params::default();
        let ranked = self.ranked_matches(query, terms, combine, candidates, &mut params);
        // The hits' columns (and the jump link's subquery) are read for the candidates only,
        // after the limit.
        let sql = format!(
            "SELECT {HIT_COLUMNS} \
             FROM ({ranked}) k JOIN messages m ON m.id = k.id \
             JOIN conversations c ON c.id = m.conversation_id \
             ORDER BY k.rank, k.created_at DESC, k.id DESC"
        );
        // PostgreSQL plans each search for its own words and scope: a statement kept
        // prepared gets a generic plan after five runs, one for no word and no person in
        // particular (a frequent word's search then took 10 times longer).
        let prepared = self.backend() == Backend::Sqlite;
        Ok(params
            .bind_as(sqlx::query_as::<_, HitRow>(&sql).persistent(prepared))
            .fetch_all(&self.pool)
            .await?)
    }

    /// The query giving the `candidates` best matches in scope as (`id`, `rank`: lower is
    /// better, `created_at`), best first: the newest [`RANKED`] matches in scope, ranked by the
    /// index's relevance (bm25, `ts_rank`), ties newest first.
    fn ranked_matches(
        &self,
        query: &SearchQuery,
        terms: &[String],
        combine: Combine,
        candidates: usize,
        params: &mut Params,
    ) -> String {
        let (now, cutoffs) = self.retention_bounds(SystemTime::now());
        let newest = match self.backend() {
            Backend::Postgres => postgres_newest(query, terms, combine, params, (now, cutoffs)),
            Backend::Sqlite => sqlite_newest(query, terms, combine, params, (now, cutoffs)),
        };
        let limit = params.int(db::count(candidates as u64));
        format!(
            "SELECT b.id, b.rank, b.created_at FROM ({newest}) b \
             ORDER BY b.rank, b.created_at DESC, b.id DESC LIMIT {limit}"
        )
    }
}

/// How many of the newest matches in scope are ranked by relevance. Ranking every match of a
/// frequent word costs a rank per message (seconds at a million); the newest thousand are what
/// a person looks for, and the recency weighting favours them anyway.
const RANKED: u64 = 1_000;

/// PostgreSQL: the newest [`RANKED`] matches in scope, each with `-ts_rank`. A narrow scope's
/// messages are read first and each matched (`ts_match_vq`, the function behind `@@`, which no
/// index serves: otherwise the planner probed the GIN index once per conversation); a wide
/// one's matches come from the GIN index, or a walk down `messages_created` for a frequent
/// word.
fn postgres_newest(
    query: &SearchQuery,
    terms: &[String],
    combine: Combine,
    params: &mut Params,
    (now, cutoffs): (i64, Cutoffs),
) -> String {
    let q = params.text(tsquery(terms, combine));
    let messages = query.scope.message_condition(params);
    let scope = query.scope.conversation_condition(params, now, cutoffs);
    let bound = params.int(db::count(RANKED));
    // Narrow: `+ 0` keeps the planner from walking `messages_created` down the whole table
    // in search of the newest matches (it guesses a third of the rows match `ts_match_vq`;
    // 7 s at a million).
    let (matches, newest) = if query.scope.is_narrow() {
        (
            format!("ts_match_vq(m.search, to_tsquery('simple', {q}))"),
            "m.created_at + 0",
        )
    } else {
        (
            format!("m.search @@ to_tsquery('simple', {q})"),
            "m.created_at",
        )
    };
    format!(
        "SELECT n.id, -ts_rank(n.search, to_tsquery('simple', {q})) AS rank, n.created_at \
         FROM (SELECT m.id, m.search, m.created_at \
               FROM messages m JOIN conversations c ON c.id = m.conversation_id \
               WHERE {matches} AND {messages} AND {scope} \
               ORDER BY {newest} DESC, m.id DESC LIMIT {bound}) n"
    )
}

/// SQLite: the newest [`RANKED`] matches in scope by message id (FTS5 walks its rowids
/// backwards), each with its bm25. A narrow scope (a person's, or one user's or channel's)
/// is computed first and each match checked against it (`+` keeps FTS5 from looking every
/// scope message up in the index one by one, slow for a frequent word); a wide one is checked
/// per match through the conversation.
fn sqlite_newest(
    query: &SearchQuery,
    terms: &[String],
    combine: Combine,
    params: &mut Params,
    (now, cutoffs): (i64, Cutoffs),
) -> String {
    let q = params.text(fts5_query(terms, combine));
    let messages = query.scope.message_condition(params);
    let scope = query.scope.conversation_condition(params, now, cutoffs);
    let (join, restrict) = if query.scope.is_narrow() {
        (
            "",
            format!(
                "+messages_fts.rowid IN (SELECT m.id FROM messages m \
                 JOIN conversations c ON c.id = m.conversation_id WHERE {messages} AND {scope})"
            ),
        )
    } else {
        (
            "JOIN conversations c ON c.id = m.conversation_id",
            format!("{messages} AND {scope}"),
        )
    };
    let bound = params.int(db::count(RANKED));
    format!(
        "SELECT messages_fts.rowid AS id, bm25(messages_fts) AS rank, m.created_at \
         FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid {join} \
         WHERE messages_fts MATCH {q} AND {restrict} \
         ORDER BY messages_fts.rowid DESC LIMIT {bound}"
    )
}

impl Store {
    /// The hits of messages `ids` (already checked against a scope, e.g. by
    /// [`Store::messages_in_scope`]), unscored, with snippets around `text`'s words where they
    /// occur; in no particular order.
    pub(crate) async fn hits_by_id(
        &self,
        ids: &[MessageId],
        text: &str,
    ) -> Result<Vec<SearchHit>, MemoryError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut params = Params::default();
        let list: Vec<String> = ids.iter().map(|id| params.int(id.0)).collect();
        let sql = format!(
            "SELECT {HIT_COLUMNS} FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.id IN ({})",
            list.join(", ")
        );
        let terms = terms(text);
        let now = SystemTime::now();
        params
            .bind_as(sqlx::query_as::<_, HitRow>(&sql))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|row| hit(row, 0, &terms, now, DEFAULT_HALF_LIFE))
            .collect()
    }
}

/// A row at `index` in the index's order, scored and with its snippet.
fn hit(
    row: HitRow,
    index: usize,
    terms: &[String],
    now: SystemTime,
    half_life: Duration,
) -> Result<SearchHit, MemoryError> {
    let created_at = db::time(row.created_at);
    let age = now.duration_since(created_at).unwrap_or_default();
    let relevance = 1.0 / (DEFAULT_RRF_K + index as f64 + 1.0);
    let score = relevance * (0.5 + 0.5 * recency_weight(age, half_life));
    Ok(SearchHit {
        message_id: MessageId(row.id),
        conversation_id: ConversationId(row.conversation_id),
        role: Role::parse(&row.role)?,
        author: row.author_id.map(|id| Author {
            id: db::discord_id(id),
            name: row.author_name.unwrap_or_default(),
        }),
        snippet: snippet(&row.content, terms, SNIPPET_CHARS),
        content: row.content,
        created_at,
        guild_id: db::opt_discord_id(row.guild_id),
        channel_id: db::opt_discord_id(row.channel_id),
        discord_message_id: db::opt_discord_id(row.discord_message_id),
        score,
    })
}

/// An FTS5 query: each term quoted (a literal word, never an operator), all or any.
fn fts5_query(terms: &[String], combine: Combine) -> String {
    let quoted: Vec<String> = terms.iter().map(|term| format!("\"{term}\"")).collect();
    match combine {
        Combine::All => quoted.join(" "),
        Combine::Any => quoted.join(" OR "),
    }
}

/// A `to_tsquery` text: each term quoted as a lexeme, all (`&`) or any (`|`).
fn tsquery(terms: &[String], combine: Combine) -> String {
    let quoted: Vec<String> = terms.iter().map(|term| format!("'{term}'")).collect();
    match combine {
        Combine::All => quoted.join(" & "),
        Combine::Any => quoted.join(" | "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_quote_every_term() {
        let terms = vec!["pasta".to_owned(), "or".to_owned()];
        assert_eq!(fts5_query(&terms, Combine::All), "\"pasta\" \"or\"");
        assert_eq!(fts5_query(&terms, Combine::Any), "\"pasta\" OR \"or\"");
        assert_eq!(tsquery(&terms, Combine::All), "'pasta' & 'or'");
        assert_eq!(tsquery(&terms, Combine::Any), "'pasta' | 'or'");
    }

    #[test]
    fn a_persons_scope_and_a_filtered_one_are_narrow_the_operators_is_not() {
        use crate::{ChannelId, UserId};
        let person = UserId::new(7);
        assert!(SearchScope::guild(person, GuildId::new(1)).is_narrow());
        assert!(SearchScope::direct(person).is_narrow());
        assert!(!SearchScope::operator(None).is_narrow());
        assert!(!SearchScope::operator(Some(GuildId::new(1))).is_narrow());
        assert!(SearchScope::operator(None).with_user(person).is_narrow());
        assert!(
            SearchScope::operator(None)
                .in_channel(ChannelId::new(3))
                .is_narrow()
        );
    }
}
