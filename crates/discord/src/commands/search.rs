//! `/search`: a person searches their own past conversations of the place they are in (the
//! engine's scope: their conversations in this server, or their DMs in a DM), optionally by
//! user, channel, time, tag, category and entity; the best hits come back privately with a snippet, who, when and a
//! jump link, and a "Continue this conversation" button for each conversation shown (handled
//! in `interactions::resume`).
//!
//! [`view`] and [`continue_buttons`] are pure functions of the hits (Discord renders the times in each reader's own time
//! zone with `<t:…>` markup), so every state is a unit test.

use std::time::{SystemTime, UNIX_EPOCH};

use mcpcord_engine::{Role, SearchHit, SearchQuery, SearchScope};
use twilight_interactions::command::{CommandModel, CreateCommand};
use twilight_model::channel::message::component::{ButtonStyle, Component};
use twilight_model::channel::message::{Embed, MessageFlags};
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, UserMarker};
use twilight_util::builder::embed::EmbedBuilder;

use super::help::{DESCRIPTION_LIMIT, HELP_COLOR, TITLE_LIMIT};
use super::{Category, CommandInfo, Who};
use crate::commands::Call;
use crate::components::{CustomId, MAX_BUTTONS_PER_ROW, MAX_ROWS, button, button_rows, shorten};
use crate::ids::ToEngine;
use crate::mentions::no_pings;
use crate::middleware::{CommandError, CommandResponse, CommandResult};
use crate::render::escape;

/// How many hits `/search` shows.
pub const SEARCH_HITS: usize = 8;

/// `/search query: [user] [channel] [before] [after] [tag] [category] [entity]`.
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
    /// Only messages before this day (YYYY-MM-DD, UTC) or this long ago (7d, 2w, 12h, 3 days)
    #[command(max_length = 25)]
    pub before: Option<String>,
    /// Only messages since this day (YYYY-MM-DD, UTC) or this long ago (7d, 2w, 12h, 3 days)
    #[command(max_length = 25)]
    pub after: Option<String>,
    /// Only conversations with this tag (see /tag)
    #[command(autocomplete = true, max_length = 40)]
    pub tag: Option<String>,
    /// Only conversations in this category (set automatically)
    #[command(autocomplete = true, max_length = 60)]
    pub category: Option<String>,
    /// Only conversations about this person, project, place or product (its whole name)
    #[command(autocomplete = true, max_length = 100)]
    pub entity: Option<String>,
}

/// How `/help` presents `/search`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<SearchCommand>(
        Category::Conversation,
        Who::Everyone,
        &[
            "/search query:carbonara recipe",
            "/search query:deploy user:@alex after:2w",
            "/search query:sauce tag:recipes",
            "/search query:dinner category:Cooking entity:Ada",
        ],
    )
}

impl SearchCommand {
    /// Runs `/search`: the invoker's scope from where they are, narrowed by the options.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let scope = self.scope(&call, SystemTime::now())?;
        let query = SearchQuery::new(self.query.clone(), scope).with_limit(SEARCH_HITS);
        let hits = call.ctx.engine.search(&query).await?;
        let (embed, shown) = view(&self.query, &hits);
        let data = InteractionResponseData {
            embeds: Some(vec![embed]),
            components: Some(continue_buttons(&hits[..shown])),
            flags: Some(MessageFlags::EPHEMERAL),
            allowed_mentions: Some(no_pings()),
            ..InteractionResponseData::default()
        };
        Ok(CommandResponse::Raw(Box::new(InteractionResponse {
            kind: InteractionResponseType::ChannelMessageWithSource,
            data: Some(data),
        })))
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
        self.topic_filters(scope)
    }

    /// `scope` narrowed by the tag, category and entity options.
    fn topic_filters(&self, mut scope: SearchScope) -> Result<SearchScope, CommandError> {
        if let Some(tag) = &self.tag {
            scope = scope.with_tag(mcpcord_engine::usable_tag(tag)?);
        }
        if let Some(category) = self.category.as_deref().map(str::trim) {
            scope = scope.with_category(category);
        }
        if let Some(entity) = self.entity.as_deref().map(str::trim) {
            scope = scope.with_entity(entity);
        }
        Ok(scope)
    }
}

/// The results embed: one numbered entry per hit (who, when, jump link, snippet), whole
/// entries only, within Discord's description limit; and how many hits it shows.
pub fn view(query: &str, hits: &[SearchHit]) -> (Embed, usize) {
    let title = shorten(&format!("🔎 {}", query.trim()), TITLE_LIMIT);
    let (description, shown) = if hits.is_empty() {
        (
            "Nothing found in your conversations here. Try other words, or fewer.".to_owned(),
            0,
        )
    } else {
        fit(hits
            .iter()
            .enumerate()
            .map(|(n, hit)| format!("`{}.` {}", n + 1, entry(hit))))
    };
    let embed = EmbedBuilder::new()
        .title(title)
        .color(HELP_COLOR)
        .description(description)
        .build();
    (embed, shown)
}

/// A "Continue this conversation" button for each conversation among the hits shown, in
/// order, numbered after its first entry (one conversation: no number).
pub fn continue_buttons(shown: &[SearchHit]) -> Vec<Component> {
    let mut seen = Vec::new();
    let mut firsts = Vec::new();
    for (n, hit) in shown.iter().enumerate() {
        if !seen.contains(&hit.conversation_id) {
            seen.push(hit.conversation_id);
            firsts.push((n + 1, hit.conversation_id));
        }
    }
    let single = firsts.len() == 1;
    let buttons = firsts
        .into_iter()
        .take(MAX_ROWS * MAX_BUTTONS_PER_ROW)
        .filter_map(|(n, conversation)| {
            let id = CustomId::Resume {
                conversation: u64::try_from(conversation.0).ok()?,
            };
            let label = if single {
                "Continue this conversation".to_owned()
            } else {
                format!("Continue {n}")
            };
            Some(button(id, &label, ButtonStyle::Secondary, "↪️"))
        })
        .collect();
    button_rows(buttons)
}

/// Entries joined by blank lines, as many whole ones as fit, and how many.
fn fit(entries: impl Iterator<Item = String>) -> (String, usize) {
    let mut out = String::new();
    let mut count = 0;
    for entry in entries {
        let needed = out.chars().count() + entry.chars().count() + 2;
        if needed > DESCRIPTION_LIMIT {
            break;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&entry);
        count += 1;
    }
    (out, count)
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

/// A time a person typed: a day `YYYY-MM-DD` (its start, UTC), a moment `YYYY-MM-DD HH:MM[:SS]`
/// (UTC), or an age counted back from `now` in humantime's units, alone or combined (`7d`,
/// `2w`, `12h`, `3 days`, `1y`, `6months`, `1w 2d`).
pub fn parse_when(text: &str, now: SystemTime) -> Result<SystemTime, String> {
    let text = text.trim();
    let unclear = || {
        format!(
            "`{text}` is not a time: write a day as YYYY-MM-DD, or an age such as 7d, 2w or 12h"
        )
    };
    if text.starts_with(|c: char| c.is_ascii_digit())
        && let Ok(age) = humantime::parse_duration(text)
    {
        return now.checked_sub(age).ok_or_else(unclear);
    }
    // A day alone is its first second, a minute its first second; humantime reads the rest.
    let moment = match text.len() {
        DAY_LEN => format!("{text} 00:00:00"),
        MINUTE_LEN => format!("{text}:00"),
        _ => text.to_owned(),
    };
    humantime::parse_rfc3339_weak(&moment).map_err(|_| unclear())
}

/// The length of `YYYY-MM-DD`.
const DAY_LEN: usize = 10;
/// The length of `YYYY-MM-DD HH:MM`.
const MINUTE_LEN: usize = 16;

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
        let (embed, shown) = view(
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
        assert_eq!(shown, 2);
        assert!(text.starts_with("`1.` **ada"), "{text}");
        assert!(text.contains("\n\n`2.` **🤖"), "{text}");
    }

    /// The buttons' (custom id, label) pairs, row by row.
    fn buttons(rows: &[Component]) -> Vec<Vec<(String, String)>> {
        rows.iter()
            .map(|row| match row {
                Component::ActionRow(row) => row
                    .components
                    .iter()
                    .map(|c| match c {
                        Component::Button(b) => (
                            b.custom_id.clone().unwrap_or_default(),
                            b.label.clone().unwrap_or_default(),
                        ),
                        other => panic!("a button: {other:?}"),
                    })
                    .collect(),
                other => panic!("an action row: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn each_conversation_shown_gets_one_continue_button() {
        let in_conversation = |id: i64| SearchHit {
            conversation_id: ConversationId(id),
            ..hit(Role::User, "x", None, Some(1))
        };
        let hits: Vec<SearchHit> = [5, 5, 9, 5, 11, 12, 13, 14]
            .into_iter()
            .map(in_conversation)
            .collect();
        let rows = buttons(&continue_buttons(&hits));
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].len(), MAX_BUTTONS_PER_ROW);
        assert_eq!(rows[0][0], ("resume:5".to_owned(), "Continue 1".to_owned()));
        assert_eq!(rows[0][1], ("resume:9".to_owned(), "Continue 3".to_owned()));
        assert_eq!(
            rows[1][0],
            ("resume:14".to_owned(), "Continue 8".to_owned())
        );
        let one = buttons(&continue_buttons(&hits[..2]));
        assert_eq!(
            one,
            vec![vec![(
                "resume:5".to_owned(),
                "Continue this conversation".to_owned()
            )]]
        );
        assert!(continue_buttons(&[]).is_empty());
    }

    #[test]
    fn nothing_found_says_so_and_many_hits_fit_the_limit() {
        let (empty, none) = view("x", &[]);
        assert_eq!(none, 0);
        assert!(empty.description.unwrap().contains("Nothing found"));
        let long = "w".repeat(400);
        let hits: Vec<SearchHit> = (0..40)
            .map(|_| hit(Role::User, &long, Some(1), Some(2)))
            .collect();
        let (embed, shown) = view("x", &hits);
        let text = embed.description.unwrap();
        assert!(shown < hits.len() && shown > 0);
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
        assert_eq!(
            parse_when("2024-02-29 13:00", now).unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_709_164_800 + 13 * 3_600)
        );
        assert_eq!(
            parse_when("1w 2d", now).unwrap(),
            now - Duration::from_secs(9 * 86_400)
        );
        for bad in [
            "yesterday",
            "2024-13-01",
            "2023-02-29",
            "7 parsecs",
            "",
            "-3d",
        ] {
            assert!(parse_when(bad, now).is_err(), "{bad}");
        }
    }
}
