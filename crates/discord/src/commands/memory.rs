//! `/memory`: what the bot remembers. `recall on|off|default [scope]` switches whether earlier
//! conversations are recalled into new ones, and `related on|off|default [scope]` whether
//! answers get a "Related: <title>" button, for the person or (admins) the whole server;
//! `show | add | forget | clear` are the facts the bot remembers about the person in this
//! scope (this server, or their DMs), answered privately (`facts.rs` in the engine).

use twilight_interactions::command::{CommandModel, CommandOption, CreateCommand, CreateOption};

use super::{Category, CommandInfo, Who};
use crate::commands::Call;
use crate::ids::ToEngine;
use crate::middleware::{CommandError, CommandResponse, CommandResult, Invoker};
use mcpcord_engine::{Engine, Fact, PreferenceLevel};

/// The most characters of the `/memory show` listing (Discord's limit is 2000).
const SHOW_CHARS: usize = 1_800;

/// `/memory recall | related | show | add | forget | clear`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "memory",
    desc = "What the bot remembers of earlier conversations, and about you",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub enum MemoryCommand {
    /// Switch recall.
    #[command(name = "recall")]
    Recall(MemoryRecall),
    /// Switch the related-conversation button.
    #[command(name = "related")]
    Related(MemoryRelated),
    /// List the facts remembered about the person here.
    #[command(name = "show")]
    Show(MemoryShow),
    /// Remember a fact about the person here.
    #[command(name = "add")]
    Add(MemoryAdd),
    /// Forget one fact.
    #[command(name = "forget")]
    Forget(MemoryForget),
    /// Forget every fact here.
    #[command(name = "clear")]
    Clear(MemoryClear),
}

/// `/memory recall state: [scope]`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "recall",
    desc = "Switch recall of your earlier conversations into new ones"
)]
pub struct MemoryRecall {
    /// On, off, or back to the default
    pub state: RecallState,
    /// For whom (default: you; the whole server: admins)
    pub scope: Option<RecallScope>,
}

/// `/memory related state: [scope]`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "related",
    desc = "Switch the button pointing at an earlier conversation close to the current one"
)]
pub struct MemoryRelated {
    /// On, off, or back to the default
    pub state: RecallState,
    /// For whom (default: you; the whole server: admins)
    pub scope: Option<RecallScope>,
}

/// `/memory show`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "show",
    desc = "Show the facts the bot remembers about you here"
)]
pub struct MemoryShow;

/// `/memory add fact:`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(name = "add", desc = "Have the bot remember a fact about you here")]
pub struct MemoryAdd {
    /// The fact, such as "I prefer metric units"
    #[command(max_length = 300)]
    pub fact: String,
}

/// `/memory forget fact:`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(name = "forget", desc = "Have the bot forget one fact about you")]
pub struct MemoryForget {
    /// The fact (its words, or its #id from /memory show)
    #[command(autocomplete = true, max_length = 300)]
    pub fact: String,
}

/// `/memory clear`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(name = "clear", desc = "Have the bot forget every fact about you here")]
pub struct MemoryClear;

/// The switch's positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, CommandOption, CreateOption)]
pub enum RecallState {
    /// Recall on.
    #[option(name = "on", value = "on")]
    On,
    /// Recall off.
    #[option(name = "off", value = "off")]
    Off,
    /// The server's choice, or the bot's default.
    #[option(name = "default", value = "default")]
    Default,
}

/// Whose recall is switched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, CommandOption, CreateOption)]
pub enum RecallScope {
    /// Just the person.
    #[option(name = "me", value = "user")]
    User,
    /// The whole server.
    #[option(name = "this server", value = "server")]
    Server,
}

/// How `/help` presents `/memory`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<MemoryCommand>(
        Category::Settings,
        Who::Mixed("everyone; the `server` scope: admins"),
        &[
            "/memory recall state:off",
            "/memory recall state:on scope:this server",
            "/memory related state:off",
            "/memory add fact:I prefer metric units",
            "/memory show",
            "/memory forget fact:#3",
        ],
    )
}

impl MemoryCommand {
    /// Whether this invocation needs an admin (the server-wide switch).
    pub fn wide(&self) -> bool {
        match self {
            Self::Recall(recall) => recall.scope == Some(RecallScope::Server),
            Self::Related(related) => related.scope == Some(RecallScope::Server),
            _ => false,
        }
    }

    /// The command as typed, with its subcommand (`"memory forget"`).
    pub fn path(&self) -> &'static str {
        match self {
            Self::Recall(_) => "memory recall",
            Self::Related(_) => "memory related",
            Self::Show(_) => "memory show",
            Self::Add(_) => "memory add",
            Self::Forget(_) => "memory forget",
            Self::Clear(_) => "memory clear",
        }
    }

    /// Runs the subcommand.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        match self {
            Self::Recall(recall) => recall.run(call).await,
            Self::Related(related) => related.run(call).await,
            Self::Show(_) => show(call).await,
            Self::Add(add) => add.run(call).await,
            Self::Forget(forget) => forget.run(call).await,
            Self::Clear(_) => clear(call).await,
        }
    }
}

impl MemoryRecall {
    /// Runs `/memory recall`.
    async fn run(self, call: Call<'_>) -> CommandResult {
        let recall = self;
        let (level, whose) = recall_level(recall.scope, &call)?;
        let on = recall.state.switch();
        let engine = &call.ctx.engine;
        engine.set_recall(level, on).await?;
        crate::audit::admin_change(
            call.ctx,
            call.invoker,
            level,
            "recall.set",
            serde_json::json!({ "recall": on }),
        );
        let now = if engine.recall_enabled(&call.scope()).await? {
            "on"
        } else {
            "off"
        };
        Ok(CommandResponse::private(format!(
            "🧠 Recall of earlier conversations {} {whose}. For your messages here it is now \
             {now}.",
            recall.state.done()
        )))
    }
}

impl MemoryRelated {
    /// Runs `/memory related`.
    async fn run(self, call: Call<'_>) -> CommandResult {
        let (level, whose) = recall_level(self.scope, &call)?;
        let on = self.state.switch();
        let engine = &call.ctx.engine;
        engine.set_related(level, on).await?;
        crate::audit::admin_change(
            call.ctx,
            call.invoker,
            level,
            "related.set",
            serde_json::json!({ "related": on }),
        );
        let now = if engine.related_enabled(&call.scope()).await? {
            "on"
        } else {
            "off (it also needs an embedding model and summaries)"
        };
        Ok(CommandResponse::private(format!(
            "🔗 The related-conversation button {} {whose}. For your answers here it is now \
             {now}.",
            self.state.done()
        )))
    }
}

impl RecallState {
    /// The preference it stores: on, off, or none (the next level decides).
    fn switch(self) -> Option<bool> {
        match self {
            Self::On => Some(true),
            Self::Off => Some(false),
            Self::Default => None,
        }
    }

    /// What was done, in words.
    fn done(self) -> &'static str {
        match self {
            Self::On => "switched on",
            Self::Off => "switched off",
            Self::Default => "back to the default",
        }
    }
}

/// The preference level `scope` names for the invoker, and words for it.
fn recall_level(
    scope: Option<RecallScope>,
    call: &Call<'_>,
) -> Result<(PreferenceLevel, &'static str), CommandError> {
    match scope.unwrap_or(RecallScope::User) {
        RecallScope::User => Ok((
            PreferenceLevel::User(call.invoker.user.to_engine()),
            "for you",
        )),
        RecallScope::Server => match call.invoker.guild {
            Some(guild) => Ok((PreferenceLevel::Guild(guild.to_engine()), "in this server")),
            None => Err(CommandError::Invalid("this is not a server".into())),
        },
    }
}

/// Where the invoker's facts live: this server, or their DMs.
fn place_words(call: &Call<'_>) -> &'static str {
    if call.invoker.guild.is_some() {
        "in this server"
    } else {
        "in our DMs"
    }
}

/// The invoker and the guild of their facts here (none: DMs).
fn whose(call: &Call<'_>) -> (mcpcord_engine::UserId, Option<mcpcord_engine::GuildId>) {
    owner(call.invoker)
}

/// `invoker` and the guild of their facts where they are (none: DMs).
fn owner(invoker: &Invoker) -> (mcpcord_engine::UserId, Option<mcpcord_engine::GuildId>) {
    (
        invoker.user.to_engine(),
        invoker.guild.map(ToEngine::to_engine),
    )
}

/// `/memory show`: the facts remembered about the invoker here.
async fn show(call: Call<'_>) -> CommandResult {
    let (user, guild) = whose(&call);
    let facts = call.ctx.engine.facts(user, guild).await?;
    Ok(CommandResponse::private(listing(
        &facts,
        place_words(&call),
    )))
}

impl MemoryAdd {
    /// Runs `/memory add`.
    async fn run(self, call: Call<'_>) -> CommandResult {
        let (user, guild) = whose(&call);
        let fact = call
            .ctx
            .engine
            .remember(user, guild, &self.fact, None)
            .await?;
        Ok(CommandResponse::private(format!(
            "🧠 Remembered {} (#{}): {}. `/memory forget` removes it.",
            place_words(&call),
            fact.id,
            fact.text
        )))
    }
}

impl MemoryForget {
    /// Runs `/memory forget`.
    async fn run(self, call: Call<'_>) -> CommandResult {
        let (user, guild) = whose(&call);
        let gone = call
            .ctx
            .engine
            .forget_facts(user, guild, &self.fact)
            .await?;
        let texts: Vec<String> = gone.iter().map(|f| format!("\"{}\"", f.text)).collect();
        Ok(CommandResponse::private(format!(
            "🗑️ Forgotten: {}.{}",
            texts.join(", "),
            still_said(&gone)
        )))
    }
}

/// What forgetting `gone` leaves behind, said so nobody is misled: a fact remembered from a
/// message is forgotten, but the message stays in its conversation (where search and recall
/// may still find it) until the person has everything of theirs forgotten.
fn still_said(gone: &[Fact]) -> &'static str {
    if gone.iter().any(|fact| fact.message.is_some()) {
        " The message you said it in stays in its conversation, where the bot may still come \
         across it; `/privacy forget` removes everything of yours."
    } else {
        ""
    }
}

/// `/memory clear`: forgets every fact about the invoker here.
async fn clear(call: Call<'_>) -> CommandResult {
    let (user, guild) = whose(&call);
    let gone = call.ctx.engine.clear_facts(user, guild).await?;
    Ok(CommandResponse::private(if gone.is_empty() {
        format!("Nothing was remembered about you {}.", place_words(&call))
    } else {
        format!(
            "🗑️ Forgotten: all {} fact(s) remembered about you {}.{}",
            gone.len(),
            place_words(&call),
            still_said(&gone)
        )
    }))
}

/// `/memory forget`'s autocomplete candidates: the invoker's facts here, as `#id text`
/// (shortened to fit a choice).
pub async fn forget_candidates(engine: &Engine, invoker: &Invoker) -> Vec<String> {
    let (user, guild) = owner(invoker);
    let facts = engine.facts(user, guild).await.unwrap_or_default();
    facts.iter().map(choice).collect()
}

/// A fact as an autocomplete choice: `#id text`, cut to fit.
pub fn choice(fact: &Fact) -> String {
    let full = format!("#{} {}", fact.id, fact.text);
    if full.chars().count() <= super::MAX_CHOICE_TEXT {
        return full;
    }
    let mut cut: String = full.chars().take(super::MAX_CHOICE_TEXT - 1).collect();
    cut.push('…');
    cut
}

/// The `/memory show` text: the facts, oldest first, each with its id, within [`SHOW_CHARS`].
pub fn listing(facts: &[Fact], place: &str) -> String {
    if facts.is_empty() {
        return format!(
            "Nothing is remembered about you {place}. Ask the bot to remember something, or \
             use `/memory add`."
        );
    }
    let mut text = format!("🧠 What I remember about you {place}:");
    for (shown, fact) in facts.iter().enumerate() {
        let line = format!("\n`#{}` {}", fact.id, fact.text);
        if text.len() + line.len() > SHOW_CHARS {
            text.push_str(&format!("\n… and {} more", facts.len() - shown));
            break;
        }
        text.push_str(&line);
    }
    text.push_str("\n`/memory forget` removes one, `/memory clear` all of them.");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpcord_engine::{FactId, MAX_FACT_CHARS, UserId};

    fn fact(id: i64, text: &str) -> Fact {
        Fact {
            id: FactId(id),
            user: UserId::new(1),
            guild: None,
            text: text.to_owned(),
            message: None,
            created_at: std::time::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_listing_names_each_fact_by_id_and_stays_short() {
        let text = listing(&[fact(3, "likes tea")], "in this server");
        assert!(text.contains("`#3` likes tea"), "{text}");
        assert!(listing(&[], "in our DMs").contains("Nothing is remembered about you in our DMs"));
        let long: Vec<Fact> = (0..50)
            .map(|i| fact(i, &"x".repeat(MAX_FACT_CHARS)))
            .collect();
        let text = listing(&long, "here");
        assert!(
            text.chars().count() < 2_000 && text.contains("more"),
            "{}",
            text.len()
        );
    }

    #[test]
    fn a_choice_fits_discord() {
        assert_eq!(choice(&fact(3, "likes tea")), "#3 likes tea");
        let long = choice(&fact(3, &"y".repeat(MAX_FACT_CHARS)));
        assert_eq!(long.chars().count(), super::super::MAX_CHOICE_TEXT);
        assert!(long.starts_with("#3 yy") && long.ends_with('…'));
    }
}
