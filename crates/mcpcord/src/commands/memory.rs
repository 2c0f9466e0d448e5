//! `mcpcord memory …`: the operator's view of the stored conversations: search them (every
//! guild and DM, or one guild's, or one user's), count what is indexed, rebuild the index, and
//! list the facts remembered about a person.
//!
//! The database is opened with the configuration's retention rules, so expired conversations
//! are out of every search even before the bot's sweeper deletes them. No MCP server is started
//! and no model backend is asked: the engine is built over the store alone.

use std::time::SystemTime;

use anyhow::Context as _;
use mcpcord_engine::{
    Engine, Fact, GuildId, Role, SearchHit, SearchQuery, SearchScope, SearchStats, UserId,
};
use mcpcord_memory::Store;
use serde_json::{Value, json};

use super::Failure;
use super::models::table;
use crate::app::{apply_retention, engine_config};
use crate::cli::{MemoryCommand, MemoryFactsArgs, MemorySearchArgs};
use crate::config::Config;
use crate::wiring::backend_pool;

/// Runs one `memory` subcommand.
pub async fn run(config: &Config, command: MemoryCommand) -> Result<(), Failure> {
    let engine = open(config).await?;
    let result = match command {
        MemoryCommand::Search(args) => search(&engine, &args).await,
        MemoryCommand::Reindex => reindex(&engine).await,
        MemoryCommand::Stats => stats(&engine).await,
        MemoryCommand::Facts(args) => facts(&engine, &args).await,
    };
    engine.store().close().await;
    result
}

/// The engine over the configured database, retention applied.
pub(super) async fn open(config: &Config) -> Result<Engine, Failure> {
    let store = Store::connect(config.storage.url.expose().as_str())
        .await
        .with_context(|| format!("cannot open the database at {}", config.storage.url))?;
    apply_retention(&store, &config.storage)
        .await
        .context("cannot apply the retention rules")?;
    Ok(Engine::new(
        backend_pool(config),
        None,
        store,
        engine_config(config),
    ))
}

async fn search(engine: &Engine, args: &MemorySearchArgs) -> Result<(), Failure> {
    let mut scope = SearchScope::operator(args.guild.map(GuildId::new));
    if let Some(user) = args.user {
        scope = scope.with_user(UserId::new(user));
    }
    if let Some(tag) = &args.tag {
        let tag = mcpcord_engine::usable_tag(tag).map_err(|e| Failure::Usage(e.to_string()))?;
        scope = scope.with_tag(tag);
    }
    if let Some(category) = &args.category {
        scope = scope.with_category(category.trim());
    }
    if let Some(entity) = &args.entity {
        scope = scope.with_entity(entity.trim());
    }
    let query = SearchQuery::new(args.query.join(" "), scope).with_limit(args.limit);
    let hits = engine.search(&query).await.context("the search failed")?;
    if args.json {
        let array: Vec<Value> = hits.iter().map(hit_json).collect();
        println!("{}", Value::Array(array));
        return Ok(());
    }
    if hits.is_empty() {
        eprintln!("mcpcord: nothing found");
        return Ok(());
    }
    let mut rows = vec![["WHEN", "WHERE", "WHO", "CONVERSATION", "SNIPPET"].map(String::from)];
    rows.extend(hits.iter().map(|hit| {
        [
            when(hit.created_at),
            place(hit),
            who(hit),
            hit.conversation_id.to_string(),
            hit.snippet.clone(),
        ]
    }));
    print!("{}", table(&rows));
    Ok(())
}

async fn reindex(engine: &Engine) -> Result<(), Failure> {
    let indexed = engine
        .reindex_memory()
        .await
        .context("cannot rebuild the index")?;
    println!("reindexed: {indexed} messages in the keyword index");
    Ok(())
}

async fn stats(engine: &Engine) -> Result<(), Failure> {
    let SearchStats {
        messages,
        indexed,
        embedded,
        index_bytes,
    } = engine
        .memory_stats()
        .await
        .context("cannot count the messages")?;
    let (summaries, summarised) = engine
        .summary_counts()
        .await
        .context("cannot count the summaries")?;
    let rows = [
        ["messages".to_owned(), messages.to_string()],
        ["indexed".to_owned(), indexed.to_string()],
        ["embedded".to_owned(), embedded.to_string()],
        [
            "index size".to_owned(),
            mcpcord_mcp::format_bytes(index_bytes),
        ],
        [
            "summaries".to_owned(),
            format!("{summaries} (of {summarised} conversations)"),
        ],
    ];
    print!("{}", table(&rows));
    Ok(())
}

async fn facts(engine: &Engine, args: &MemoryFactsArgs) -> Result<(), Failure> {
    let facts = engine
        .all_facts(UserId::new(args.user))
        .await
        .context("cannot read the facts")?;
    if args.json {
        let array: Vec<Value> = facts.iter().map(fact_json).collect();
        println!("{}", Value::Array(array));
        return Ok(());
    }
    if facts.is_empty() {
        eprintln!("mcpcord: nothing is remembered about user {}", args.user);
        return Ok(());
    }
    let mut rows = vec![["ID", "WHEN", "WHERE", "MESSAGE", "FACT"].map(String::from)];
    rows.extend(facts.iter().map(|fact| {
        [
            fact.id.to_string(),
            when(fact.created_at),
            fact.guild
                .map_or_else(|| "DM".to_owned(), |guild| format!("guild {guild}")),
            fact.message
                .map_or_else(|| "-".to_owned(), |message| message.to_string()),
            fact.text.clone(),
        ]
    }));
    print!("{}", table(&rows));
    Ok(())
}

/// A fact as JSON; Discord ids as strings.
fn fact_json(fact: &Fact) -> Value {
    json!({
        "id": fact.id.0,
        "user_id": fact.user.to_string(),
        "guild_id": fact.guild.map(|id| id.to_string()),
        "message_id": fact.message.map(|id| id.0),
        "created_at": when(fact.created_at),
        "fact": fact.text,
    })
}

/// A hit as JSON; Discord ids as strings, as Discord writes them (they exceed what a
/// JavaScript number holds exactly).
fn hit_json(hit: &SearchHit) -> Value {
    json!({
        "message_id": hit.message_id.0,
        "conversation_id": hit.conversation_id.0,
        "role": hit.role.as_str(),
        "author_id": hit.author.as_ref().map(|a| a.id.to_string()),
        "author_name": hit.author.as_ref().map(|a| a.name.clone()),
        "created_at": when(hit.created_at),
        "guild_id": hit.guild_id.map(|id| id.to_string()),
        "channel_id": hit.channel_id.map(|id| id.to_string()),
        "discord_message_id": hit.discord_message_id.map(|id| id.to_string()),
        "score": hit.score,
        "snippet": hit.snippet,
        "content": hit.content,
    })
}

/// A time as RFC 3339, to the second, UTC.
fn when(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// `guild G` or `DM`, with the channel.
fn place(hit: &SearchHit) -> String {
    let guild = hit
        .guild_id
        .map_or_else(|| "DM".to_owned(), |guild| format!("guild {guild}"));
    match hit.channel_id {
        Some(channel) => format!("{guild} #{channel}"),
        None => guild,
    }
}

/// The author's name and id, or the bot.
fn who(hit: &SearchHit) -> String {
    match (&hit.role, &hit.author) {
        (Role::User, Some(author)) => format!("{} ({})", author.name, author.id),
        (Role::User, None) => "someone".to_owned(),
        _ => "bot".to_owned(),
    }
}
