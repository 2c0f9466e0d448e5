//! `/tag name: [remove]`: a person tags the conversation here (or takes a tag off), to find it
//! again with `/search tag:` and see it in `/conversations`.
//!
//! "The conversation here": the live conversation of this DM, thread or always-answer channel;
//! in any other channel (where each reply chain is a conversation), the invoker's latest
//! conversation in this channel. Only a conversation the invoker took part in can be tagged.

use mcpcord_engine::{ConversationId, Tagged};
use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, Who};
use crate::commands::Call;
use crate::ids::ToEngine;
use crate::middleware::{CommandError, CommandResponse, CommandResult};

/// `/tag name: [remove]`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "tag",
    desc = "Tag the conversation here, to find it again with /search tag:",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct TagCommand {
    /// The tag (letters, digits, - _ .; spaces become -)
    #[command(autocomplete = true, min_length = 1, max_length = 40)]
    pub name: String,
    /// Take this tag off instead
    pub remove: Option<bool>,
}

/// How `/help` presents `/tag`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<TagCommand>(
        Category::Conversation,
        Who::Everyone,
        &["/tag name:recipes", "/tag name:recipes remove:True"],
    )
}

impl TagCommand {
    /// Runs `/tag`: the tag put on (or taken off) the conversation here.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let id = conversation_here(call).await?;
        let (person, guild) = (call.invoker.user.to_engine(), call.scope().guild_id);
        let engine = &call.ctx.engine;
        let says = if self.remove.unwrap_or(false) {
            let (tag, removed) = engine
                .untag_conversation(id, &self.name, person, guild)
                .await?;
            if removed {
                format!("🏷️ Took `#{tag}` off this conversation.")
            } else {
                format!("🏷️ This conversation has no `#{tag}` tag.")
            }
        } else {
            let (tag, tagged) = engine
                .tag_conversation(id, &self.name, person, guild)
                .await?;
            match tagged {
                Tagged::Added => {
                    format!("🏷️ Tagged `#{tag}`: find it again with `/search query:… tag:{tag}`.")
                }
                Tagged::AlreadyThere => format!("🏷️ This conversation is tagged `#{tag}` already."),
                Tagged::Full => format!(
                    "🏷️ This conversation has {} tags already: take one off with \
                     `/tag name:… remove:True` first.",
                    mcpcord_engine::MAX_TAGS_PER_CONVERSATION
                ),
            }
        };
        Ok(CommandResponse::private(says))
    }
}

/// The conversation `/tag` (and Bring in) applies to (see the module's notes), or why there
/// is none.
pub async fn conversation_here(call: Call<'_>) -> Result<ConversationId, CommandError> {
    let (key, channel) = call.here_or_refuse()?;
    let engine = &call.ctx.engine;
    let person = call.invoker.user.to_engine();
    if let Some(live) = engine.live_conversation(&key).await? {
        return Ok(live.id);
    }
    let guild = call.scope().guild_id;
    let latest = engine
        .recent_conversations(person, guild, Some(channel.to_engine()), None, 1)
        .await?;
    latest.first().map(|c| c.id).ok_or_else(|| {
        CommandError::Invalid(
            "there is no conversation of yours here yet: talk to me first (`/conversations` \
             lists the ones you have)"
                .into(),
        )
    })
}
