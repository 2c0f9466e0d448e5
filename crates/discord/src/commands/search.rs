//! `/search`: a person searches their own past conversations of the place they are in (the
//! engine's scope: their conversations in this server, or their DMs in a DM), optionally by
//! user, channel and time; the best hits come back privately with a snippet, who, when and a
//! jump link.
//!
//! [`view`] is a pure function of the hits (Discord renders the times in each reader's own time
//! zone with `<t:…>` markup), so every state is a unit test.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcpcord_engine::{Role, SearchHit, SearchQuery, SearchScope};
use twilight_interactions::command::{CommandModel, CreateCommand};
use twilight_model::channel::message::Embed;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, UserMarker};
use twilight_util::builder::embed::EmbedBuilder;

use super::help::{DESCRIPTION_LIMIT, HELP_COLOR, TITLE_LIMIT};
use super::{Category, CommandInfo, Who};
use crate::commands::Call;
use crate::components::shorten;
use crate::ids::ToEngine;
use crate::middleware::{CommandError, CommandResponse, CommandResult};
use crate::render::escape;

/// How many hits `/search` shows.
pub const SEARCH_HITS: usize = 8;

/// `/search query: [user] [channel] [before] [after]`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "search",
    desc = "Search your past conversations with the bot (only you see the results)",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct SearchCommand {
    /// Words to look for
    #[command(min_length = 1, max_length = 200)]
    pub query: String,
    /// Only conversations shared with this person
    pub user: Option<Id<UserMarker>>,
    /// Only this channel or thread
    pub channel: Option<Id<ChannelMarker>>,
    /// Only messages before this day (YYYY-MM-DD) or this long ago (7d, 2w, 12h)
    #[command(max_length = 20)]
    pub before: Option<String>,
    /// Only messages since this day (YYYY-MM-DD) or this long ago (7d, 2w, 12h)
    #[command(max_length = 20)]
    pub after: Option<String>,
}

/// How `/help` presents `/search`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<SearchCommand>(
        Category::Conversation,
        Who::Everyone,
        &[
            "/search query:carbonara recipe",
            "/search query:deploy user:@alex after:2w",
        ],
    )
}

impl SearchCommand {
    /// Runs `/search`: the invoker's scope from where they are, narrowed by the options.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let scope = self.scope(&call, SystemTime::now())?;
        let query = SearchQuery::new(self.query.clone(), scope).with_limit(SEARCH_HITS);
        let hits = call.ctx.engine.search(&query).await?;
        Ok(CommandResponse::Embed {
            embed: Box::new(view(&self.query, &hits)),
            ephemeral: true,
        })
    }

    /// The scope of this search for the invoker of `call`, times read at `now`.
    fn scope(&self, call: &Call<'_>, now: SystemTime) -> Result<SearchScope, CommandError> {
        let place = call.scope();
        let mut scope = SearchScope::person(call.invoker.user.to_engine(), place.guild_id);
        if let Some(user) = self.user {
            scope = scope.with_user(user.to_engine());
        }
        if let Some(channel) = self.channel {
            scope = scope.in_channel(channel.to_engine());
        }
        if let Some(before) = &self.before {
            scope = scope.before(parse_when(before, now).map_err(CommandError::Invalid)?);
        }
        if let Some(after) = &self.after {
            scope = scope.after(parse_when(after, now).map_err(CommandError::Invalid)?);
        }
        Ok(scope)
    }
}

/// The results embed: one entry per hit (who, when, jump link, snippet), whole entries only,
/// within Discord's description limit.
pub fn view(query: &str, hits: &[SearchHit]) -> Embed {
    let title = shorten(&format!("🔎 {}", query.trim()), TITLE_LIMIT);
    let description = if hits.is_empty() {
        "Nothing found in your conversations here. Try other words, or fewer.".to_owned()
    } else {
        fit(hits.iter().map(entry))
    };
    EmbedBuilder::new()
        .title(title)
        .color(HELP_COLOR)
        .description(description)
        .build()
}

/// Entries joined by blank lines, as many whole ones as fit.
fn fit(entries: impl Iterator<Item = String>) -> String {
    let mut out = String::new();
    for entry in entries {
        let needed = out.chars().count() + entry.chars().count() + 2;
        if needed > DESCRIPTION_LIMIT {
            break;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&entry);
    }
    out
}

/// One hit: `**who** · <t:…:f> · [jump](link)` and the snippet quoted.
fn entry(hit: &SearchHit) -> String {
    let who = match (&hit.role, &hit.author) {
        (Role::User, Some(author)) => escape(&shorten(&author.name, 64)),
        (Role::User, None) => "someone".to_owned(),
        _ => "🤖 the bot".to_owned(),
    };
    let seconds = hit
        .created_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let link = jump_link(hit)
        .map(|url| format!(" · [jump]({url})"))
        .unwrap_or_default();
    format!(
        "**{who}** · <t:{seconds}:f>{link}\n> {}",
        escape(&shorten(&hit.snippet, 300))
    )
}

/// The Discord link to a hit's message (or its channel, when the message's own id was not
/// recorded); none outside Discord.
pub fn jump_link(hit: &SearchHit) -> Option<String> {
    let channel = hit.channel_id?;
    let guild = hit
        .guild_id
        .map_or_else(|| "@me".to_owned(), |guild| guild.to_string());
    Some(match hit.discord_message_id {
        Some(message) => format!("https://discord.com/channels/{guild}/{channel}/{message}"),
        None => format!("https://discord.com/channels/{guild}/{channel}"),
    })
}

/// A time a person typed: a day `YYYY-MM-DD` (its start, UTC) or an age (`7d`, `2w`, `12h`,
/// `1y`, `3 days`) counted back from `now`.
pub fn parse_when(text: &str, now: SystemTime) -> Result<SystemTime, String> {
    let text = text.trim();
    let unclear = || {
        format!(
            "`{text}` is not a time: write a day as YYYY-MM-DD, or an age such as 7d, 2w or 12h"
        )
    };
    if let Some(day) = parse_day(text) {
        return Ok(day);
    }
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let count: u64 = digits.parse().map_err(|_| unclear())?;
    let unit = text[digits.len()..].trim().to_ascii_lowercase();
    let seconds = match unit.as_str() {
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        "y" | "year" | "years" => 365 * 86_400,
        _ => return Err(unclear()),
    };
    let age = Duration::from_secs(count.saturating_mul(seconds));
    now.checked_sub(age).ok_or_else(unclear)
}

/// `YYYY-MM-DD` as the start of that day, UTC.
fn parse_day(text: &str) -> Option<SystemTime> {
    let (year, month, day) = date_parts(text)?;
    let valid =
        (1970..=9999).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day);
    if !valid {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(days * 86_400))
}

/// The three numbers of `YYYY-MM-DD`.
fn date_parts(text: &str) -> Option<(i64, i64, i64)> {
    let parts: Vec<i64> = text
        .splitn(3, '-')
        .map(|part| part.parse().ok())
        .collect::<Option<_>>()?;
    match parts[..] {
        [year, month, day] => Some((year, month, day)),
        _ => None,
    }
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpcord_engine::{Author, ChannelId, ConversationId, GuildId, MessageId, PostId, UserId};

    fn hit(role: Role, snippet: &str, message: Option<u64>, guild: Option<u64>) -> SearchHit {
        SearchHit {
            message_id: MessageId(1),
            conversation_id: ConversationId(1),
            role,
            author: (role == Role::User).then(|| Author {
                id: UserId::new(7),
                name: "ada_l".into(),
            }),
            content: snippet.into(),
            snippet: snippet.into(),
            created_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            guild_id: guild.map(GuildId::new),
            channel_id: Some(ChannelId::new(20)),
            discord_message_id: message.map(PostId::new),
            score: 1.0,
        }
    }

    #[test]
    fn an_entry_says_who_when_where_and_what() {
        let embed = view(
            "pasta",
            &[
                hit(Role::User, "*pasta* please", None, Some(10)),
                hit(Role::Assistant, "boil the pasta", Some(30), None),
            ],
        );
        let text = embed.description.unwrap();
        assert!(
            text.contains(
                "**ada\\_l** · <t:1700000000:f> · [jump](https://discord.com/channels/10/20)"
            ),
            "{text}"
        );
        assert!(text.contains("> \\*pasta\\* please"), "{text}");
        assert!(text.contains("🤖 the bot"), "{text}");
        assert!(
            text.contains("https://discord.com/channels/@me/20/30"),
            "{text}"
        );
        assert_eq!(embed.title.as_deref(), Some("🔎 pasta"));
    }

    #[test]
    fn nothing_found_says_so_and_many_hits_fit_the_limit() {
        let empty = view("x", &[]);
        assert!(empty.description.unwrap().contains("Nothing found"));
        let long = "w".repeat(400);
        let hits: Vec<SearchHit> = (0..40)
            .map(|_| hit(Role::User, &long, Some(1), Some(2)))
            .collect();
        let text = view("x", &hits).description.unwrap();
        assert!(text.chars().count() <= DESCRIPTION_LIMIT);
        assert!(text.ends_with('…'), "whole entries only");
    }

    #[test]
    fn times_are_days_or_ages() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_when("2024-02-29", now).unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_709_164_800)
        );
        assert_eq!(parse_when("1970-01-01", now).unwrap(), UNIX_EPOCH);
        assert_eq!(
            parse_when("7d", now).unwrap(),
            now - Duration::from_secs(7 * 86_400)
        );
        assert_eq!(
            parse_when("2 weeks", now).unwrap(),
            now - Duration::from_secs(14 * 86_400)
        );
        assert_eq!(
            parse_when(" 12h ", now).unwrap(),
            now - Duration::from_secs(12 * 3_600)
        );
        for bad in ["yesterday", "2024-13-01", "7 parsecs", "", "-3d"] {
            assert!(parse_when(bad, now).is_err(), "{bad}");
        }
    }
}
