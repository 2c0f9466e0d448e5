//! `/conversations`: a person's recent conversations from where they are (their conversations
//! in this server, or their DMs in a DM: the engine's scope, as `/search`'s), privately, each
//! with its title (or first message), tags, when it was last written to, whether it is live,
//! a jump link, a Continue button, and a Bring in button that puts it, condensed, into the
//! conversation here (both handled in `interactions::pick_up`).
//!
//! [`view`] and [`buttons`] are pure functions of the listing, so every state is a unit test.

use std::time::UNIX_EPOCH;

use mcpcord_engine::ListedConversation;
use twilight_interactions::command::{CommandModel, CreateCommand};
use twilight_model::channel::message::component::{ButtonStyle, Component};
use twilight_model::channel::message::{Embed, MessageFlags};
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_util::builder::embed::EmbedBuilder;

use super::help::{DESCRIPTION_LIMIT, HELP_COLOR};
use super::{Category, CommandInfo, Who};
use crate::commands::Call;
use crate::components::{CustomId, MAX_BUTTONS_PER_ROW, button, button_rows, shorten};
use crate::ids::ToEngine;
use crate::mentions::no_pings;
use crate::middleware::{CommandResponse, CommandResult};
use crate::render::escape;

/// How many conversations `/conversations` shows (two rows of Continue buttons).
pub const LISTED: usize = 2 * MAX_BUTTONS_PER_ROW;

/// `/conversations`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "conversations",
    desc = "Your recent conversations with the bot, to pick one up again (only you see them)",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct ConversationsCommand;

/// How `/help` presents `/conversations`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<ConversationsCommand>(
        Category::Conversation,
        Who::Everyone,
        &["/conversations"],
    )
}

impl ConversationsCommand {
    /// Runs `/conversations`: the invoker's recent conversations from where they are.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let listed = call
            .ctx
            .engine
            .recent_conversations(
                call.invoker.user.to_engine(),
                call.scope().guild_id,
                None,
                None,
                LISTED,
            )
            .await?;
        let (embed, shown) = view(&listed);
        let data = InteractionResponseData {
            embeds: Some(vec![embed]),
            components: Some(buttons(&listed[..shown])),
            flags: Some(MessageFlags::EPHEMERAL),
            allowed_mentions: Some(no_pings()),
            ..InteractionResponseData::default()
        };
        Ok(CommandResponse::Raw(Box::new(InteractionResponse {
            kind: InteractionResponseType::ChannelMessageWithSource,
            data: Some(data),
        })))
    }
}

/// The list embed: one numbered entry per conversation, whole entries only, within Discord's
/// description limit; and how many it shows.
pub fn view(listed: &[ListedConversation]) -> (Embed, usize) {
    let (description, shown) = if listed.is_empty() {
        (
            "No conversations of yours here yet. Mention me, or DM me, to start one.".to_owned(),
            0,
        )
    } else {
        let mut out = String::new();
        let mut shown = 0;
        for (n, conversation) in listed.iter().enumerate() {
            let entry = format!("`{}.` {}", n + 1, entry(conversation));
            if out.chars().count() + entry.chars().count() + 2 > DESCRIPTION_LIMIT {
                break;
            }
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&entry);
            shown += 1;
        }
        (out, shown)
    };
    let embed = EmbedBuilder::new()
        .title("🗂️ Your recent conversations")
        .color(HELP_COLOR)
        .description(description)
        .build();
    (embed, shown)
}

/// One conversation: `**label** · live|put aside · <t:…:R> · [jump](…)` and its tags.
fn entry(conversation: &ListedConversation) -> String {
    let label = conversation
        .label()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let state = if conversation.archived {
        "put aside"
    } else {
        "live"
    };
    let seconds = conversation
        .last_message_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let link = jump_link(conversation)
        .map(|url| format!(" · [jump]({url})"))
        .unwrap_or_default();
    let tags = if conversation.tags.is_empty() {
        String::new()
    } else {
        let tags: Vec<String> = conversation
            .tags
            .iter()
            .map(|t| format!("`#{t}`"))
            .collect();
        format!("\n🏷️ {}", tags.join(" "))
    };
    format!(
        "**{}** · {state} · <t:{seconds}:R>{link}{tags}",
        escape(&shorten(&label, 100))
    )
}

/// The Discord link to a conversation's latest answer (or its channel); none outside Discord.
pub fn jump_link(conversation: &ListedConversation) -> Option<String> {
    let channel = conversation.channel_id?;
    let guild = conversation
        .guild_id
        .map_or_else(|| "@me".to_owned(), |g| g.get().to_string());
    Some(match conversation.last_post {
        Some(post) => format!(
            "https://discord.com/channels/{guild}/{}/{}",
            channel.get(),
            post.get()
        ),
        None => format!("https://discord.com/channels/{guild}/{}", channel.get()),
    })
}

/// A Continue button for each conversation shown, numbered as its entry, then a Bring in
/// button for each (at most four rows in all).
pub fn buttons(shown: &[ListedConversation]) -> Vec<Component> {
    let shown = &shown[..shown.len().min(LISTED)];
    let mut rows = button_rows(numbered(shown, "Continue", "↪️", |conversation| {
        CustomId::PickUp { conversation }
    }));
    rows.extend(button_rows(numbered(
        shown,
        "Bring in",
        "📥",
        |conversation| CustomId::BringIn { conversation },
    )));
    rows
}

/// One button per conversation, labelled `{label} {n}`, its id made by `id`.
fn numbered(
    shown: &[ListedConversation],
    label: &str,
    emoji: &str,
    id: impl Fn(u64) -> CustomId,
) -> Vec<twilight_model::channel::message::component::Button> {
    shown
        .iter()
        .enumerate()
        .filter_map(|(n, conversation)| {
            let custom = id(u64::try_from(conversation.id.0).ok()?);
            Some(button(
                custom,
                &format!("{label} {}", n + 1),
                ButtonStyle::Secondary,
                emoji,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use mcpcord_engine::{ChannelId, ConversationId, ConversationKey, GuildId, PostId};

    fn listed(id: i64, title: Option<&str>, first: Option<&str>) -> ListedConversation {
        ListedConversation {
            id: ConversationId(id),
            key: ConversationKey::new(format!("discord:reply:{id}")),
            title: title.map(str::to_owned),
            first_message: first.map(str::to_owned),
            last_message_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            archived: id % 2 == 0,
            guild_id: Some(GuildId::new(10)),
            channel_id: Some(ChannelId::new(20)),
            last_post: Some(PostId::new(30)),
            tags: vec![],
        }
    }

    #[test]
    fn an_entry_says_what_when_whether_live_and_where() {
        let mut titled = listed(1, Some("Trip *to* Lisbon"), Some("hello"));
        titled.tags = vec!["travel".into(), "2026".into()];
        let untitled = ListedConversation {
            last_post: None,
            ..listed(2, None, Some("  plan\n a  walk "))
        };
        let (embed, shown) = view(&[titled, untitled, listed(3, None, None)]);
        let text = embed.description.unwrap();
        assert_eq!(shown, 3);
        assert!(
            text.starts_with(
                "`1.` **Trip \\*to\\* Lisbon** · live · <t:1700000000:R> · \
                 [jump](https://discord.com/channels/10/20/30)\n🏷️ `#travel` `#2026`"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "`2.` **plan a walk** · put aside · <t:1700000000:R> · \
                 [jump](https://discord.com/channels/10/20)"
            ),
            "{text}"
        );
        assert!(text.contains("`3.` **(untitled)**"), "{text}");
    }

    #[test]
    fn nothing_listed_says_how_to_start_and_many_fit_the_limit() {
        let (empty, none) = view(&[]);
        assert_eq!(none, 0);
        assert!(empty.description.unwrap().contains("No conversations"));
        let long = "w".repeat(4000);
        let tags: Vec<String> = (0..20).map(|n| format!("{n}{}", "t".repeat(38))).collect();
        let many: Vec<_> = (0..10)
            .map(|n| ListedConversation {
                tags: tags.clone(),
                ..listed(n, Some(&long), None)
            })
            .collect();
        let (embed, shown) = view(&many);
        assert!(shown > 0 && shown < many.len());
        assert!(embed.description.unwrap().chars().count() <= DESCRIPTION_LIMIT);
    }

    #[test]
    fn each_conversation_shown_gets_continue_and_bring_in_buttons() {
        let many: Vec<_> = (1..=12).map(|n| listed(n, Some("x"), None)).collect();
        let rows = buttons(&many);
        assert_eq!(rows.len(), 4);
        let ids: Vec<String> = rows
            .iter()
            .flat_map(|row| match row {
                Component::ActionRow(row) => row.components.clone(),
                other => panic!("an action row: {other:?}"),
            })
            .map(|c| match c {
                Component::Button(b) => format!("{}={}", b.custom_id.unwrap(), b.label.unwrap()),
                other => panic!("a button: {other:?}"),
            })
            .collect();
        assert_eq!(ids.len(), 2 * LISTED);
        assert_eq!(ids[0], "pickup:1=Continue 1");
        assert_eq!(ids[9], "pickup:10=Continue 10");
        assert_eq!(ids[10], "bringin:1=Bring in 1");
        assert_eq!(ids[19], "bringin:10=Bring in 10");
        assert!(buttons(&[]).is_empty());
    }
}
